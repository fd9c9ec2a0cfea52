/* uplink cloud console: pages/admins.js */
import { api, get } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { timeCell } from '../lib/format.js';
import { loadInto, route } from '../lib/router.js';
import { canWrite, syncSession } from '../lib/session.js';
import { state } from '../lib/state.js';
import { act, alertBox, badge, button, card, confirmDialog, field, pageHeader, select, table, toast } from '../lib/widgets.js';

/* What the cloud checks (admin_password_check(), docs/api.md). */
export const PASSWORD_RULES = 'At least 12 characters, not one character repeated, not containing the ' +
    'e-mail address, and not easy to guess (common passwords, names, keyboard patterns, dates).';

/*
 * Any administrator, read-only ones too, changes their own password here
 * (POST /session/password): the current one is asked for again, and the
 * other sessions of the account end.
 */
function ownPasswordForm() {
	const cur = el('input', { type: 'password', testid: 'own-current', autocomplete: 'current-password' });
	const pw = el('input', { type: 'password', testid: 'own-new', autocomplete: 'new-password' });
	const again = el('input', { type: 'password', testid: 'own-again', autocomplete: 'new-password' });
	const msg = el('div', { class: 'form-error', 'aria-live': 'assertive', testid: 'own-message' });
	const submit = button('Change password', null, { submit: true, testid: 'own-change' });
	const form = el('form', { class: 'form form-inline', novalidate: true },
	    field('Current password', cur), field('New password', pw, PASSWORD_RULES),
	    field('New password again', again), submit);
	form.addEventListener('submit', async ev => {
		ev.preventDefault();
		msg.replaceChildren();
		const bad = !cur.value ? 'Enter your current password.' : pw.value.length < 12 ?
		    'The new password needs at least 12 characters.' : pw.value !== again.value ?
		    'The two new passwords differ.' : null;
		if (bad) {
			msg.append(alertBox(bad, 'error', 'own-error'));
			return;
		}
		const ok = await act(submit, async () => {
			await api('POST', '/session/password', { current_password: cur.value, new_password: pw.value });
			return true;
		}, msg);
		if (ok) {
			cur.value = pw.value = again.value = '';
			msg.append(alertBox('Your password is changed. Your other sessions have ended; this one goes on.',
			    'ok', 'own-saved'));
		}
	});
	return card('Your password', [form, msg], { testid: 'own-password' });
}

export async function pageAdmins(ctx) {
	const list = el('div');
	ctx.main.append(pageHeader('Administrators', 'Who may sign in to this console. Full administrators change things; read-only ones only look.'),
	    ownPasswordForm());
	if (canWrite()) {
		const email = el('input', { type: 'email', testid: 'admin-email', autocomplete: 'off' });
		const pass = el('input', { type: 'password', testid: 'admin-password', autocomplete: 'new-password', minlength: '12' });
		const role = select([['read', 'Read-only'], ['full', 'Full access']], 'read', { testid: 'admin-role' });
		const err = el('div', { class: 'form-error', 'aria-live': 'assertive', testid: 'admin-error' });
		const submit = button('Add administrator', null, { submit: true, testid: 'admin-add' });
		const form = el('form', { class: 'form form-inline', novalidate: true },
		    field('E-mail', email), field('Initial password', pass, PASSWORD_RULES), field('Role', role), submit);
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
				const to = sel.value === 'full' ? 'full access' : 'read-only';
				const sure = await confirmDialog({ title: 'Make ' + a.email + ' ' + to + '?',
				    message: sel.value === 'full' ? 'They can then change everything: connectors, tokens, ' +
					'services, administrators and settings.' : (a.id === me ?
					'This is you: you can no longer change anything until a full administrator ' +
					'gives you full access again. ' : '') + 'They can then only look.',
				    confirm: 'Change role', danger: sel.value === 'read' && a.id === me });
				if (!sure) {
					sel.value = a.role;
					return;
				}
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
