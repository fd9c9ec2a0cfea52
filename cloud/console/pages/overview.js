/* uplink cloud console: pages/overview.js */
import { bg, get } from '../lib/api.js';
import { siteCard, summaryStrip } from '../lib/connectors.js';
import { el, patch } from '../lib/dom.js';
import { historyCard } from '../lib/history.js';
import { liveNote, loadInto } from '../lib/router.js';
import { LIVE_MS, state } from '../lib/state.js';
import { emptyState, field, linkTo, pageHeader, select } from '../lib/widgets.js';

/*
 * Search and a state filter over the connectors of every site, in the
 * browser (GET /connectors returns them all). The choices stay across the
 * live refreshes, which patch the page in place.
 */
const find = { q: '', state: '' };

function matches(text) {
	const words = find.q.toLowerCase().split(/\s+/).filter(Boolean);
	const t = String(text).toLowerCase();
	return words.length > 0 && words.every(w => t.includes(w));
}

function pick(c) {
	return (!find.q.trim() || matches([c.name, c.id, c.site, c.version, c.peer].join(' '))) &&
	    (!find.state || c.state === find.state);
}

function connectorTools(redraw) {
	const q = el('input', { type: 'search', testid: 'connectors-search', value: find.q, autocomplete: 'off',
	    spellcheck: 'false' });
	const st = select([['', 'All'], ['online', 'Online'], ['degraded', 'Degraded'], ['draining', 'Draining'],
	    ['offline', 'Offline'], ['revoked', 'Revoked']], find.state, { testid: 'connectors-filter' });
	q.addEventListener('input', () => { find.q = q.value; redraw(); });
	st.addEventListener('change', () => { find.state = st.value; redraw(); });
	return el('div', { class: 'list-tools card', role: 'search', 'aria-label': 'Search connectors' },
	    field('Search connectors', q), field('State', st));
}

export async function pageOverview(ctx) {
	const body = el('div', { class: 'stack', testid: 'overview' });
	ctx.main.append(pageHeader('Overview', 'Sites, their connectors and their health.',
	    [liveNote(ctx), linkTo('/add-connector', 'Add a connector', 'overview-add')]),
	    historyCard(ctx, '', 'All connectors'), connectorTools(() => last && patch(body, render(last))), body);
	let last = null;
	const fetchAll = async background => {
		const o = background ? bg : undefined;
		const [s, c] = await Promise.all([get('/sites', o), get('/connectors', o)]);
		return { sites: s.sites, conns: c.connectors };
	};
	const render = d => {
		last = d;
		state.sites = d.sites.map(s => s.name);
		if (!d.conns.length && !d.sites.length)
			return emptyState('No connectors yet.',
			    linkTo('/add-connector', 'Add a connector', 'empty-create-token'));
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
			frag.append(emptyState('No connectors yet.',
			    linkTo('/add-connector', 'Add a connector', 'empty-create-token')));
		const picked = d.conns.filter(pick);
		const narrowed = picked.length !== d.conns.length;
		for (const s of sites) {
			const mine = bySite.get(s.name).filter(pick);
			if (!narrowed || mine.length || matches(s.name))
				frag.append(siteCard(s, mine));
		}
		if (narrowed && !picked.length)
			frag.append(emptyState('No connector matches: change the search or the filter.'));
		return frag;
	};
	if (!await loadInto(ctx, body, 'sites and connectors', fetchAll, render))
		return;
	ctx.setLive(null);
	ctx.every(LIVE_MS, async () => {
		const d = await fetchAll(true);
		if (!ctx.stale())
			patch(body, render(d));
	});
}
