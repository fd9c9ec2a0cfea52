/* uplink cloud console: pages/admins.js */
import { api, get } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { timeCell } from '../lib/format.js';
import { loadInto, route } from '../lib/router.js';
import { canWrite, syncSession } from '../lib/session.js';
import { state } from '../lib/state.js';
import { act, alertBox, badge, button, card, confirmDialog, field, pageHeader, select, table, toast } from '../lib/widgets.js';

export async function pageAdmins(ctx) {
	const list = el('div');
	ctx.main.append(pageHeader('Administrators', 'Who may sign in to this console. Full administrators change things; read-only ones only look.'));
	if (canWrite()) {
		const email = el('input', { type: 'email', testid: 'admin-email', autocomplete: 'off' });
		const pass = el('input', { type: 'password', testid: 'admin-password', autocomplete: 'new-password', minlength: '12' });
		const role = select([['read', 'Read-only'], ['full', 'Full access']], 'read', { testid: 'admin-role' });
		const err = el('div', { class: 'form-error', 'aria-live': 'assertive', testid: 'admin-error' });
		const submit = button('Add administrator', null, { submit: true, testid: 'admin-add' });
		const form = el('form', { class: 'form form-inline', novalidate: true },
		    field('E-mail', email), field('Initial password', pass, 'At least 12 characters.'), field('Role', role), submit);
		form.addEventListener('submit', async ev => {
			ev.preventDefault();
			err.replaceChildren();
			if (!email.value.trim() || pass.value.length < 12) {
				err.append(alertBox(!email.value.trim() ? 'Enter the e-mail address.' :
				    'The password needs at least 12 characters.', 'error'));
				return;
			}
			const a = await act(submit, () => api('POST', '/admins', { email: email.value.trim(), password: pass.value, role: role.value }), err);
			if (a) {
				toast(a.email + ' can now sign in.', 'ok');
				email.value = '';
				pass.value = '';
				load();
			}
		});
		ctx.main.append(card('Add an administrator', [form, err]));
	}
	ctx.main.append(card('Administrators', list, { class: 'card-flush' }));
	const me = state.session.admin.id;
	const load = () => loadInto(ctx, list, 'administrators', () => get('/admins'), r => table([
		{ title: 'E-mail', cell: a => el('span', null, a.email, a.id === me ? el('span', { class: 'muted', text: ' (you)' }) : null) },
		{ title: 'Role', cell: a => canWrite() ? select([['full', 'Full access'], ['read', 'Read-only']], a.role, {
			testid: 'admin-role-select', 'aria-label': 'Role of ' + a.email,
			on: { change: async ev => {
				const sel = ev.currentTarget;
				const ok = await act(sel, () => api('PATCH', '/admins/' + encodeURIComponent(a.id), { role: sel.value }));
				if (ok) {
					toast(a.email + ' is now ' + (sel.value === 'full' ? 'a full' : 'a read-only') + ' administrator.', 'ok');
					if (a.id === me)
						syncSession().then(route);
				} else {
					sel.value = a.role;
				}
			} } }) : badge(a.role, a.role === 'full' ? 'full access' : 'read-only') },
		{ title: 'Added', cell: a => timeCell(a.created_at) },
		{ title: 'Last sign-in', cell: a => timeCell(a.last_sign_in, true) },
		{ title: '', class: 'actions', cell: a => canWrite() ? button('Remove', async ev => {
			const ok = await confirmDialog({ title: 'Remove ' + a.email + '?',
			    message: (a.id === me ? 'This is you: your session ends at once. ' : 'Their sessions end at once. ') +
				'They cannot sign in any more.', confirm: 'Remove administrator', danger: true });
			if (ok && await act(ev.currentTarget, async () => {
				await api('DELETE', '/admins/' + encodeURIComponent(a.id));
				return true;
			}))
				load();
		}, { small: true, kind: 'danger-quiet', testid: 'admin-remove', label: 'Remove ' + a.email }) : null },
	], r.admins, a => ({ testid: 'admin-row', dataset: { admin: a.email } }), { caption: 'Administrators' }));
	await load();
}
