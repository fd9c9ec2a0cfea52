/* uplink cloud console: pages/overview.js */
import { bg, get } from '../lib/api.js';
import { siteCard, summaryStrip } from '../lib/connectors.js';
import { el } from '../lib/dom.js';
import { liveNote, loadInto } from '../lib/router.js';
import { canWrite } from '../lib/session.js';
import { LIVE_MS, state } from '../lib/state.js';
import { emptyState, linkTo, pageHeader } from '../lib/widgets.js';

export async function pageOverview(ctx) {
	const body = el('div', { class: 'stack', testid: 'overview' });
	ctx.main.append(pageHeader('Overview', 'Sites, their connectors and their health.',
	    [liveNote(ctx), canWrite() ? linkTo('/tokens', 'Add a connector', 'overview-add') : null]), body);
	const fetchAll = async background => {
		const o = background ? bg : undefined;
		const [s, c] = await Promise.all([get('/sites', o), get('/connectors', o)]);
		return { sites: s.sites, conns: c.connectors };
	};
	const render = d => {
		state.sites = d.sites.map(s => s.name);
		if (!d.conns.length && !d.sites.length)
			return emptyState('No connectors yet. Create an enrollment token to add one.',
			    canWrite() ? linkTo('/tokens', 'Create an enrollment token', 'empty-create-token') : null);
		const bySite = new Map(d.sites.map(s => [s.name, []]));
		const sites = d.sites.slice();
		for (const c of d.conns) {
			if (!bySite.has(c.site)) {
				bySite.set(c.site, []);
				sites.push({ name: c.site, state: 'offline', connectors_total: 0, connectors_online: 0 });
			}
			bySite.get(c.site).push(c);
		}
		sites.sort((a, b) => a.name.localeCompare(b.name));
		const frag = document.createDocumentFragment();
		frag.append(summaryStrip(sites, d.conns));
		if (!d.conns.length)
			frag.append(emptyState('No connectors yet. Create an enrollment token to add one.',
			    canWrite() ? linkTo('/tokens', 'Create an enrollment token', 'empty-create-token') : null));
		for (const s of sites)
			frag.append(siteCard(s, bySite.get(s.name)));
		return frag;
	};
	if (!await loadInto(ctx, body, 'sites and connectors', fetchAll, render))
		return;
	ctx.setLive(null);
	ctx.every(LIVE_MS, async () => {
		const d = await fetchAll(true);
		if (!ctx.stale())
			body.replaceChildren(render(d));
	});
}
