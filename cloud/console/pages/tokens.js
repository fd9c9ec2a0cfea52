/* uplink cloud console: pages/tokens.js */
import { api, get } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { fmtTime, timeCell } from '../lib/format.js';
import { loadInto } from '../lib/router.js';
import { canWrite } from '../lib/session.js';
import { state } from '../lib/state.js';
import { act, alertBox, badge, button, card, confirmDialog, copyBox, emptyState, field, linkTo, pageHeader, select, table } from '../lib/widgets.js';

export const TTLS = [['30m', '30 minutes'], ['1h', '1 hour'], ['24h', '24 hours'], ['7d', '7 days'], ['30d', '30 days']];

export async function pageTokens(ctx) {
	const list = el('div');
	const secret = el('div', { 'aria-live': 'polite' });
	ctx.main.append(pageHeader('Enrollment tokens', 'A token lets one connector enroll into a site, once, before it expires.'));
	if (canWrite()) {
		const site = el('input', { type: 'text', name: 'site', required: true, testid: 'token-site',
		    list: 'site-names', autocomplete: 'off', value: ctx.query.get('site') || '', spellcheck: 'false' });
		const datalist = el('datalist', { id: 'site-names' });
		const ttl = select(TTLS, '24h', { name: 'ttl', testid: 'token-ttl' });
		const err = el('div', { class: 'form-error', testid: 'token-error', 'aria-live': 'assertive' });
		const submit = button('Create token', null, { submit: true, testid: 'token-create' });
		const form = el('form', { class: 'form form-inline', novalidate: true },
		    field('Site', site, 'A new name creates the site.'), field('Valid for', ttl), submit);
		form.addEventListener('submit', async ev => {
			ev.preventDefault();
			err.replaceChildren();
			if (!site.value.trim()) {
				err.append(alertBox('Enter the site the connector belongs to.', 'error'));
				site.focus();
				return;
			}
			const t = await act(submit, () => api('POST', '/tokens', { site: site.value.trim(), ttl: ttl.value }), err);
			if (!t)
				return;
			secret.replaceChildren(tokenSecret(t));
			loadList();
		});
		ctx.main.append(card('Create a token', [form, err, datalist]), secret);
		get('/sites').then(r => {
			for (const s of r.sites)
				datalist.append(el('option', { value: s.name }));
		}).catch(() => {});
	}
	ctx.main.append(card('Tokens', list, { class: 'card-flush' }));
	const loadList = () => loadInto(ctx, list, 'tokens', () => get('/tokens'), r => {
		if (!r.tokens.length)
			return emptyState('No enrollment tokens yet.');
		return table([
			{ title: 'ID', cell: t => el('span', { class: 'mono', text: t.id }) },
			{ title: 'Site', cell: t => t.site },
			{ title: 'State', cell: t => badge(t.state, t.state, 'token-state') },
			{ title: 'Created', cell: t => timeCell(t.created_at) },
			{ title: 'Expires', cell: t => timeCell(t.expires_at) },
			{ title: 'Used by', cell: t => t.used_by ? linkTo('/connectors/' + encodeURIComponent(t.used_by), t.used_by) : '—' },
			{ title: '', class: 'actions', cell: t => canWrite() && t.state === 'valid' ?
			    button('Revoke', ev => revokeToken(ev, t), { small: true, kind: 'danger-quiet', testid: 'token-revoke',
				label: 'Revoke token ' + t.id }) : null },
		], r.tokens, t => ({ testid: 'token-row', dataset: { token: t.id, state: t.state } }), { caption: 'Enrollment tokens' });
	});
	async function revokeToken(ev, t) {
		const btn = ev.currentTarget;
		const ok = await confirmDialog({ title: 'Revoke token ' + t.id + '?',
		    message: 'No connector can enroll with it afterwards.', confirm: 'Revoke token', danger: true });
		if (ok && await act(btn, () => api('POST', '/tokens/' + encodeURIComponent(t.id) + '/revoke')))
			loadList();
	}
	await loadList();
}

export function tokenSecret(t) {
	return card('Token created for site ' + t.site, [
		alertBox('Copy the token now: it is shown only this once. The cloud keeps only a hash of it.', 'info'),
		el('p', { class: 'label-text', text: 'Token (valid until ' + fmtTime(t.expires_at) + ')' }),
		copyBox(t.token, 'token-secret', 'the token'),
		el('p', { class: 'label-text', text: 'On the connector\'s host, as root:' }),
		copyBox(t.command || ('uplink-connector enroll --token ' + t.token), 'token-command', 'the command'),
	], { testid: 'token-secret-panel', class: 'secret-card',
	    actions: button('Done', ev => ev.currentTarget.closest('.card').remove(), { small: true, kind: 'secondary', testid: 'token-done' }) });
}
