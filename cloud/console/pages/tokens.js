/* uplink cloud console: pages/tokens.js */
import { api, get } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { fmtTime, timeCell } from '../lib/format.js';
import { loadInto } from '../lib/router.js';
import { canWrite } from '../lib/session.js';
import { state } from '../lib/state.js';
import { act, alertBox, badge, button, card, confirmDialog, copyBox, field, linkTo, listView, pageHeader, select, siteDatalist, table } from '../lib/widgets.js';

export const TTLS = [['30m', '30 minutes'], ['1h', '1 hour'], ['24h', '24 hours'], ['7d', '7 days'], ['30d', '30 days']];

/*
 * The form that creates an enrollment token for a site (a new name creates
 * the site), shared by this page and "Add a connector". ids names the
 * testids of its site, ttl, error and create elements; created(t) runs with
 * the API's answer. Returns the form, its error box and the site list.
 */
export function tokenForm(ctx, ids, created) {
	const site = el('input', { type: 'text', name: 'site', required: true, testid: ids.site,
	    autocomplete: 'off', value: ctx.query.get('site') || '', spellcheck: 'false' });
	const datalist = siteDatalist(site);
	const ttl = select(TTLS, '24h', { name: 'ttl', testid: ids.ttl });
	const err = el('div', { class: 'form-error', testid: ids.error, 'aria-live': 'assertive' });
	const submit = button('Create token', null, { submit: true, testid: ids.create });
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
		if (t)
			created(t);
	});
	return { form, err, datalist };
}

export async function pageTokens(ctx) {
	const list = el('div');
	const keep = {};
	const secret = el('div', { 'aria-live': 'polite' });
	ctx.main.append(pageHeader('Enrollment tokens', 'A token lets one connector enroll into a site, once, before it expires.'));
	if (canWrite()) {
		const { form, err, datalist } = tokenForm(ctx, { site: 'token-site', ttl: 'token-ttl',
		    error: 'token-error', create: 'token-create' }, t => {
			secret.replaceChildren(tokenSecret(t));
			loadList();
		});
		ctx.main.append(card('Create a token', [form, err, datalist]), secret);
	}
	ctx.main.append(card('Tokens', list, { class: 'card-flush' }));
	const view = listView({ name: 'tokens', what: 'tokens', one: 'token', empty: 'No enrollment tokens yet.',
		text: t => [t.id, t.site, t.state, t.used_by || ''].join(' '),
		filter: { label: 'State', options: [['', 'All'], ['valid', 'Valid'], ['used', 'Used'],
		    ['expired', 'Expired'], ['revoked', 'Revoked']], test: (t, v) => !v || t.state === v },
		sorts: [['new', 'Newest first', (a, b) => b.created_at - a.created_at],
		    ['expires', 'Expiring first', (a, b) => a.expires_at - b.expires_at],
		    ['site', 'Site', (a, b) => a.site.localeCompare(b.site) || b.created_at - a.created_at]],
		render: rows => tokenTable(rows) }, keep);
	const loadList = () => loadInto(ctx, list, 'tokens', () => get('/tokens'), r => {
		view.set(r.tokens);
		return view.node;
	});
	const tokenTable = rows => {
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
		], rows, t => ({ testid: 'token-row', dataset: { token: t.id, state: t.state } }), { caption: 'Enrollment tokens' });
	};
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
