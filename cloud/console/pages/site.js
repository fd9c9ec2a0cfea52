/* uplink cloud console: pages/site.js */
import { api, bg, get } from '../lib/api.js';
import { connectorTable, dl, redundancyWarning, stateBadge } from '../lib/connectors.js';
import { el, patch } from '../lib/dom.js';
import { fmtInt, timeCell } from '../lib/format.js';
import { historyCard } from '../lib/history.js';
import { liveNote, loadInto } from '../lib/router.js';
import { canWrite } from '../lib/session.js';
import { LIVE_MS } from '../lib/state.js';
import { loadEvents } from './logs.js';
import { act, button, card, confirmDialog, emptyState, formDialog, linkTo, pageHeader, toast } from '../lib/widgets.js';

export async function pageSite(ctx) {
	const name = ctx.arg;
	const body = el('div', { class: 'stack', testid: 'site-detail' });
	const actErr = el('div', { 'aria-live': 'assertive' });
	const path = '/sites/' + encodeURIComponent(name);
	async function rename() {
		const input = el('input', { type: 'text', value: name, spellcheck: 'false', testid: 'rename-name',
		    maxlength: 63, autocomplete: 'off' });
		const r = await formDialog({ title: 'Rename site ' + name, confirm: 'Rename', testid: 'rename-dialog',
		    note: 'Its connectors and the API keys bound to it follow. A site named in cloud.conf, or with ' +
			'published services, cannot be renamed here.',
		    fields: [{ name: 'name', label: 'New name', input }],
		    submit: v => api('PATCH', path, { name: v.name }) });
		if (r) {
			toast('Site renamed to ' + r.name + '.', 'ok');
			location.hash = '#/sites/' + encodeURIComponent(r.name);
		}
	}
	async function remove(ev) {
		const btn = ev.currentTarget;
		const ok = await confirmDialog({ title: 'Delete site ' + name + '?',
		    message: 'Only a site without connectors (revoked ones aside), published services or ' +
			'usable enrollment tokens can be deleted; its revoked connectors go with it. ' +
			'This cannot be undone.', confirm: 'Delete site', danger: true });
		if (!ok)
			return;
		await act(btn, async () => {
			await api('DELETE', path);
			toast('Site ' + name + ' was deleted.', 'ok');
			location.hash = '#/overview';
		}, actErr);
	}
	ctx.main.append(el('p', { class: 'crumbs' }, linkTo('/overview', 'Overview'), ' / site'),
	    pageHeader('Site ' + name, 'Connectors of this site and their health.',
		[liveNote(ctx), canWrite() ? linkTo('/add-connector?site=' + encodeURIComponent(name),
		    'Add a connector', 'site-add') : null,
		linkTo('/rollout/' + encodeURIComponent(name), 'Updates', 'site-rollout'),
		canWrite() ? button('Rename', rename, { kind: 'secondary', testid: 'site-rename' }) : null,
		canWrite() ? button('Delete', remove, { kind: 'danger', testid: 'site-delete' }) : null]),
	    actErr, body, historyCard(ctx, path, 'Site ' + name));
	const fetchSite = background => get('/sites/' + encodeURIComponent(name), background ? bg : undefined);
	const render = s => {
		const facts = dl([
			['State', stateBadge(s.state, 'site-state')],
			['Connectors online', fmtInt(s.connectors_online) + ' of ' + fmtInt(s.connectors_total)],
			['Redundancy', s.redundancy ? 'yes: two or more connectors online' : 'no'],
			['Created', timeCell(s.created_at)],
		]);
		const conns = s.connectors || [];
		return el('div', { class: 'stack' }, redundancyWarning(s), card('Site', facts),
		    card('Connectors', conns.length ? connectorTable(conns) :
			emptyState('No connectors yet. Create an enrollment token to add one.',
			    canWrite() ? linkTo('/add-connector?site=' + encodeURIComponent(name), 'Create an enrollment token') : null)));
	};
	if (!await loadInto(ctx, body, 'the site', fetchSite, render))
		return;
	const events = el('div', { testid: 'site-events' }, emptyState('Loading events…'));
	ctx.main.append(card('Events', events, { class: 'card-flush', testid: 'events-card' }));
	await loadEvents(events, path + '/events', true, false);
	ctx.setLive(null);
	ctx.every(LIVE_MS, async () => {
		const s = await fetchSite(true);
		if (!ctx.stale())
			patch(body, render(s));
		if (!ctx.stale())
			await loadEvents(events, path + '/events', true, true);
	});
}
