/* uplink cloud console: pages/instances.js */
import { bg, get } from '../lib/api.js';
import { el, patch } from '../lib/dom.js';
import { fmtInt, timeCell } from '../lib/format.js';
import { liveNote, loadInto } from '../lib/router.js';
import { LIVE_MS } from '../lib/state.js';
import { badge, card, emptyState, pageHeader, table } from '../lib/widgets.js';

/*
 * The cluster's instances (GET /instances, docs/cluster.md): each with its
 * state, addresses, lease and tunnels, refreshed live. A cloud without
 * [cluster] is one instance and says so.
 */
const STATE_BADGE = { up: 'online', draining: 'draining', gone: 'offline' };

function instancesTable(list) {
	return table([
		{ title: 'Instance', cell: x => el('div', { class: 'name-cell' }, el('strong', { class: 'mono', text: x.id }),
		    x.self ? el('span', { class: 'muted small', text: 'this one' }) : null) },
		{ title: 'State', cell: x => badge(STATE_BADGE[x.state] || 'offline', x.state, 'instance-state') },
		{ title: 'Tunnels', num: true, cell: x => fmtInt(x.tunnels) },
		{ title: 'Peer address', cell: x => el('span', { class: 'mono', text: x.peer_address || '—' }) },
		{ title: 'Tunnel name', cell: x => el('span', { class: 'mono', text: x.tunnel_name || '—' }) },
		{ title: 'Tunnel address', cell: x => el('span', { class: 'mono', text: x.tunnel_address || '—' }) },
		{ title: 'Started', cell: x => timeCell(x.started_at) },
		{ title: 'Lease until', cell: x => timeCell(x.lease_until) },
	], list, x => ({ testid: 'instance-row', dataset: { instance: x.id } }), { caption: 'Instances' });
}

export async function pageInstances(ctx) {
	const body = el('div', { testid: 'instances' });
	ctx.main.append(pageHeader('Instances', 'The uplink-cloud processes sharing this cloud\'s database.',
	    [liveNote(ctx)]), card(null, body, { class: 'card-flush' }));
	const fetchAll = background => get('/instances', background ? bg : undefined);
	const render = r => {
		if (!r.cluster)
			return emptyState('This cloud runs as a single instance: no [cluster] section in cloud.conf.');
		if (!r.instances.length)
			return emptyState('No instances known yet.');
		return instancesTable(r.instances);
	};
	if (!await loadInto(ctx, body, 'instances', () => fetchAll(false), render))
		return;
	ctx.setLive(null);
	ctx.every(LIVE_MS, async () => {
		const r = await fetchAll(true);
		if (!ctx.stale())
			patch(body, render(r));
	});
}
