/* uplink cloud console: pages/site.js */
import { bg, get } from '../lib/api.js';
import { connectorTable, dl, redundancyWarning, stateBadge } from '../lib/connectors.js';
import { el, patch } from '../lib/dom.js';
import { fmtInt, timeCell } from '../lib/format.js';
import { liveNote, loadInto } from '../lib/router.js';
import { canWrite } from '../lib/session.js';
import { LIVE_MS } from '../lib/state.js';
import { card, emptyState, linkTo, pageHeader } from '../lib/widgets.js';

export async function pageSite(ctx) {
	const name = ctx.arg;
	const body = el('div', { class: 'stack', testid: 'site-detail' });
	ctx.main.append(el('p', { class: 'crumbs' }, linkTo('/overview', 'Overview'), ' / site'),
	    pageHeader('Site ' + name, 'Connectors of this site and their health.',
		[liveNote(ctx), canWrite() ? linkTo('/add-connector?site=' + encodeURIComponent(name),
		    'Add a connector', 'site-add') : null]), body);
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
	ctx.setLive(null);
	ctx.every(LIVE_MS, async () => {
		const s = await fetchSite(true);
		if (!ctx.stale())
			patch(body, render(s));
	});
}
