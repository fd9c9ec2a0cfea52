/* uplink cloud console: pages/keys.js */
import { api, get } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { timeCell } from '../lib/format.js';
import { loadInto } from '../lib/router.js';
import { canWrite } from '../lib/session.js';
import { act, alertBox, badge, button, card, confirmDialog, copyBox, emptyState, field, pageHeader, select, table, siteDatalist } from '../lib/widgets.js';

export async function pageKeys(ctx) {
	const list = el('div');
	const secret = el('div', { 'aria-live': 'polite' });
	ctx.main.append(pageHeader('API keys', 'Keys let programs use the REST API (Authorization: Bearer) and the ingress proxy.'));
	if (canWrite()) {
		const name = el('input', { type: 'text', testid: 'key-name', autocomplete: 'off', spellcheck: 'false' });
		const scope = select([['read', 'Read: the API, GET only'], ['full', 'Full: the whole API'],
		    ['ingress', 'Ingress: the ingress proxy, for some sites']], 'read', { testid: 'key-scope' });
		/* Scope ingress opens only the ingress proxy, to the sites named here (docs/api.md). */
		const sites = el('input', { type: 'text', testid: 'key-sites', autocomplete: 'off', spellcheck: 'false' });
		const sitesField = field('Sites', sites, 'Comma-separated site names (at most 16): the key reaches ' +
		    'only these through the ingress proxy.');
		const syncScope = () => { sitesField.hidden = scope.value !== 'ingress'; };
		scope.addEventListener('change', syncScope);
		syncScope();
		const err = el('div', { class: 'form-error', 'aria-live': 'assertive' });
		const submit = button('Create key', null, { submit: true, testid: 'key-create' });
		const form = el('form', { class: 'form form-inline', novalidate: true },
		    field('Name', name, 'What uses it, e.g. "backup-scripts": letters, digits, ".", "_" and "-".'), field('Scope', scope), sitesField, siteDatalist(sites), submit);
		form.addEventListener('submit', async ev => {
			ev.preventDefault();
			err.replaceChildren();
			if (!name.value.trim()) {
				err.append(alertBox('Enter a name for the key.', 'error'));
				return;
			}
			const body = { name: name.value.trim(), scope: scope.value };
			if (scope.value === 'ingress') {
				body.sites = sites.value.split(',').map(x => x.trim()).filter(Boolean);
				if (!body.sites.length) {
					err.append(alertBox('Name the sites this ingress key may reach.', 'error'));
					return;
				}
			}
			const k = await act(submit, () => api('POST', '/keys', body), err);
			if (!k)
				return;
			name.value = '';
			secret.replaceChildren(card('Key ' + k.name + ' created', [
				alertBox('Copy the key now: it is shown only this once. The cloud keeps only a hash of it.', 'info'),
				copyBox(k.key, 'key-secret', 'the key'),
			], { testid: 'key-secret-panel', class: 'secret-card',
			    actions: button('Done', ev2 => ev2.currentTarget.closest('.card').remove(), { small: true, kind: 'secondary' }) }));
			load();
		});
		ctx.main.append(card('Create a key', [form, err]), secret);
	}
	ctx.main.append(card('Keys', list, { class: 'card-flush' }));
	const load = () => loadInto(ctx, list, 'API keys', () => get('/keys'), r => {
		if (!r.keys.length)
			return emptyState('No API keys yet.');
		return table([
			{ title: 'Name', cell: k => el('strong', { text: k.name }) },
			{ title: 'ID', cell: k => el('span', { class: 'mono', text: k.id }) },
			{ title: 'Scope', cell: k => el('div', { class: 'name-cell' }, badge(k.scope, k.scope),
			    k.sites && k.sites.length ? el('span', { class: 'muted small', text: k.sites.join(', ') }) : null) },
			{ title: 'Created', cell: k => timeCell(k.created_at) },
			{ title: 'Last used', cell: k => timeCell(k.last_used, true) },
			{ title: 'State', cell: k => k.revoked_at ? badge('revoked', 'revoked') : badge('online', 'active') },
			{ title: '', class: 'actions', cell: k => canWrite() && !k.revoked_at ? button('Revoke', async ev => {
				const ok = await confirmDialog({ title: 'Revoke key ' + k.name + '?',
				    message: 'Programs using it are refused at once.', confirm: 'Revoke key', danger: true });
				if (ok && await act(ev.currentTarget, () => api('POST', '/keys/' + encodeURIComponent(k.id) + '/revoke')))
					load();
			}, { small: true, kind: 'danger-quiet', testid: 'key-revoke', label: 'Revoke key ' + k.name }) : null },
		], r.keys, k => ({ testid: 'key-row', dataset: { key: k.id } }), { caption: 'API keys' });
	});
	await load();
}
