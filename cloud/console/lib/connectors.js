/* uplink cloud console: lib/connectors.js. What the overview, site and connector pages share: state badges, the connector table, the redundancy warning. */
import { el, icon } from './dom.js';
import { fmtBytes, fmtInt, fmtMs, plural, timeCell } from './format.js';
import { canWrite } from './session.js';
import { state } from './state.js';
import { badge, card, emptyState, linkTo, table } from './widgets.js';

export const STATE_LABEL = {
	online: 'online', degraded: 'degraded', draining: 'draining', offline: 'offline',
	revoked: 'revoked', empty: 'no connectors',
};

export function stateBadge(st, testid) {
	return badge(st, STATE_LABEL[st] || st, testid || 'state');
}

export function connectorTable(conns) {
	const order = { online: 0, degraded: 1, draining: 2, offline: 3, revoked: 4 };
	conns = conns.slice().sort((a, b) => (order[a.state] ?? 5) - (order[b.state] ?? 5) ||
	    String(a.name).localeCompare(String(b.name)));
	return table([
		{ title: 'Connector', key: 'name', cell: c => el('div', { class: 'name-cell' },
		    linkTo('/connectors/' + encodeURIComponent(c.id), c.name || c.id, 'connector-link'),
		    el('span', { class: 'mono muted small', text: c.id })) },
		{ title: 'State', key: 'state', cell: c => stateBadge(c.state, 'connector-state') },
		{ title: 'Version', key: 'version', cell: c => el('span', { class: 'name-cell' },
		    el('span', { class: 'mono', text: c.version || '—' }),
		    c.outdated ? badge('degraded', 'outdated', 'outdated') : null) },
		{ title: 'Tunnels', num: true, key: 'tunnels', cell: c => c.state === 'revoked' ? '—' :
		    fmtInt(c.tunnels) + ' / ' + fmtInt(c.tunnels_expected) },
		{ title: 'RTT', num: true, key: 'rtt', cell: c => c.state === 'revoked' || c.state === 'offline' ? '—' : fmtMs(c.rtt_ms) },
		{ title: 'Active streams', num: true, key: 'streams', cell: c => fmtInt(c.streams) },
		{ title: 'In', num: true, key: 'bytes_in', cell: c => fmtBytes(c.bytes_in) },
		{ title: 'Out', num: true, key: 'bytes_out', cell: c => fmtBytes(c.bytes_out) },
		{ title: 'Last seen', num: true, key: 'last_seen', cell: c => timeCell(c.last_seen, true) },
	], conns, c => ({ testid: 'connector-row', dataset: { connector: c.id, state: c.state },
	    class: 'row-' + c.state }), { class: 'connectors', caption: 'Connectors' });
}

export function redundancyWarning(site) {
	if (site.redundancy || site.state === 'empty' || !site.connectors_total)
		return null;
	const online = site.connectors_online || 0;
	return el('div', { class: 'alert alert-warn compact', testid: 'no-redundancy', role: 'status' },
	    icon('warn'), el('span', null, el('strong', { text: 'No redundancy. ' }),
		online === 0 ? 'No connector of this site is online: its services are unreachable.' :
		    'Only one connector of this site is online: if it stops, the site is unreachable. ' +
		    'Run at least two connectors per site.'));
}

export function siteCard(site, conns) {
	const head = el('div', { class: 'site-head' },
	    el('h2', null, linkTo('/sites/' + encodeURIComponent(site.name), site.name, 'site-link')),
	    stateBadge(site.state, 'site-state'),
	    el('span', { class: 'muted', testid: 'site-count',
		text: site.connectors_total ? fmtInt(site.connectors_online) + ' of ' +
		    plural(site.connectors_total, 'connector', 'connectors') + ' online' : '' }));
	const body = conns.length ? connectorTable(conns) :
	    emptyState('No connectors in this site yet. Create an enrollment token to add one.',
		canWrite() ? linkTo('/tokens?site=' + encodeURIComponent(site.name), 'Create an enrollment token') : null);
	return card(head, [redundancyWarning(site), body],
	    { testid: 'site-card', dataset: { site: site.name }, class: 'site-card' });
}

export function summaryStrip(sites, conns) {
	const live = conns.filter(c => c.state !== 'revoked');
	const online = live.filter(c => c.state === 'online' || c.state === 'degraded' || c.state === 'draining');
	const sum = k => live.reduce((a, c) => a + (Number(c[k]) || 0), 0);
	const item = (label, value, testid) => el('div', { class: 'stat', testid },
	    el('span', { class: 'stat-value', text: value }), el('span', { class: 'stat-label', text: label }));
	return el('div', { class: 'stats' },
	    item('sites', fmtInt(sites.length), 'stat-sites'),
	    item('connectors online', fmtInt(online.length) + ' / ' + fmtInt(live.length), 'stat-online'),
	    item('active streams', fmtInt(sum('streams')), 'stat-streams'),
	    item('received from sites', fmtBytes(sum('bytes_in')), 'stat-in'),
	    item('sent to sites', fmtBytes(sum('bytes_out')), 'stat-out'));
}

export function dl(pairs) {
	return el('dl', { class: 'facts' }, pairs.filter(p => p).map(([k, v]) =>
	    el('div', { class: 'fact' }, el('dt', { text: k }), el('dd', null, v))));
}
