/* uplink cloud console: lib/history.js */
import { bg, get } from './api.js';
import { lineChart } from './chart.js';
import { el, patch } from './dom.js';
import { fmtBytes, fmtInt, fmtMs, fmtTime, pad2, serverNow } from './format.js';
import { state } from './state.js';
import { errorBox, loading, table } from './widgets.js';

/*
 * The History card of the overview, site and connector pages: traffic,
 * tunnels, streams and round trips over the last hour, day or week
 * (GET .../history, docs/api.md), as charts (lib/chart.js) with a
 * description each and the figures as a table. Refreshed every minute
 * (a new row is written once a minute), patched in place like the live
 * figures; the range chosen stays for the session.
 */

const HISTORY_MS = 60000;
const RANGES = [['1h', 'Last hour', 3600], ['24h', 'Last 24 hours', 86400], ['7d', 'Last 7 days', 7 * 86400]];
const TABLE_ROWS = 60;
let range = '24h';

function clock(t) {
	const d = new Date(t * 1000);
	const h = state.utc ? d.getUTCHours() : d.getHours();
	const m = state.utc ? d.getUTCMinutes() : d.getMinutes();
	if (range !== '7d')
		return pad2(h) + ':' + pad2(m);
	const mo = (state.utc ? d.getUTCMonth() : d.getMonth()) + 1;
	const day = state.utc ? d.getUTCDate() : d.getDate();
	return pad2(mo) + '-' + pad2(day) + ' ' + pad2(h) + ':' + pad2(m);
}

function stepName(step) {
	return step % 3600 === 0 ? (step / 3600) + ' h' : (step / 60) + ' min';
}

/* "peak X at T" for one series, or "none". */
function peakText(xs, values, fmt) {
	let best = -1;
	values.forEach((v, i) => {
		if (v !== null && v !== undefined && (best < 0 || v > values[best]))
			best = i;
	});
	return best < 0 || !(values[best] > 0) ? 'none' : fmt(values[best]) + ' at ' + fmtTime(xs[best]);
}

function charts(h, what) {
	const p = h.points;
	const xs = p.map(x => x.at);
	const per = ' per ' + stepName(h.step);
	const span = fmtTime(h.from) + ' to ' + fmtTime(h.to);
	const col = k => p.map(x => x[k]);
	const tunnels = col('tunnels'), opened = col('opened'), streams = col('streams');
	const bin = col('bytes_in'), bout = col('bytes_out'), rtt = col('rtt_ms'), rttMax = col('rtt_max_ms');
	const common = { xs, xfmt: clock };
	return el('div', { class: 'chart-grid-wrap' },
	    lineChart({ ...common, testid: 'chart-traffic', title: 'Traffic' + per, fmt: fmtBytes,
		desc: `${what}, ${span}: ${fmtBytes(h.totals.bytes_in)} in (from connectors), ` +
		    `${fmtBytes(h.totals.bytes_out)} out (to connectors); peak in ${peakText(xs, bin, fmtBytes)}, ` +
		    `peak out ${peakText(xs, bout, fmtBytes)}.`,
		series: [{ name: 'In', values: bin }, { name: 'Out', values: bout }] }),
	    lineChart({ ...common, testid: 'chart-tunnels', title: 'Tunnels up', fmt: fmtInt, floor: 2,
		desc: `${what}, ${span}: most tunnels up at once ${peakText(xs, tunnels, fmtInt)}; ` +
		    `now ${fmtInt(tunnels.length ? tunnels[tunnels.length - 1] : 0)}.`,
		series: [{ name: 'Tunnels', values: tunnels }] }),
	    lineChart({ ...common, testid: 'chart-streams', title: 'Streams' + per, fmt: fmtInt, floor: 2,
		desc: `${what}, ${span}: ${fmtInt(h.totals.opened)} streams opened, most opened ` +
		    `${peakText(xs, opened, fmtInt)}; most open at once ${peakText(xs, streams, fmtInt)}.`,
		series: [{ name: 'Opened', values: opened }, { name: 'At once', values: streams }] }),
	    lineChart({ ...common, testid: 'chart-rtt', title: 'Round-trip time', fmt: fmtMs, floor: 5,
		desc: `${what}, ${span}: tunnel ping round trips, highest average ` +
		    `${peakText(xs, rtt, fmtMs)}, highest ${peakText(xs, rttMax, fmtMs)}.`,
		series: [{ name: 'Average', values: rtt }, { name: 'Highest', values: rttMax }] }));
}

/* The steps with anything in them, newest first, as a table. */
function dataTable(h) {
	const rows = h.points.filter(x => x.tunnels || x.opened || x.bytes_in || x.bytes_out).reverse()
	    .slice(0, TABLE_ROWS);
	const cols = [
		{ title: 'From', cell: x => fmtTime(x.at) },
		{ title: 'Tunnels', num: true, cell: x => fmtInt(x.tunnels) },
		{ title: 'Opened', num: true, cell: x => fmtInt(x.opened) },
		{ title: 'Open at once', num: true, cell: x => fmtInt(x.streams) },
		{ title: 'In', num: true, cell: x => fmtBytes(x.bytes_in) },
		{ title: 'Out', num: true, cell: x => fmtBytes(x.bytes_out) },
		{ title: 'RTT avg', num: true, cell: x => fmtMs(x.rtt_ms) },
		{ title: 'RTT max', num: true, cell: x => fmtMs(x.rtt_max_ms) },
	];
	return el('details', { class: 'chart-data', testid: 'history-table' },
	    el('summary', { text: 'The figures as a table (' + stepName(h.step) + ' steps with activity, newest ' +
		TABLE_ROWS + ')' }),
	    rows.length ? table(cols, rows, x => ({ dataset: { at: String(x.at) } }),
		{ caption: 'History, ' + stepName(h.step) + ' steps' }) :
		el('p', { class: 'muted', text: 'No activity in this range.' }));
}

/*
 * A History card for path ('' for everything, '/sites/NAME',
 * '/connectors/ID'); what names it in the descriptions. ctx is the page's
 * (its timers stop with the page).
 */
export function historyCard(ctx, path, what) {
	const body = el('div', { class: 'history-body', testid: 'history-body' }, loading('Loading history…'));
	const buttons = RANGES.map(([key, label]) => el('button', { type: 'button', class: 'btn btn-secondary btn-small',
	    'aria-pressed': key === range ? 'true' : 'false', testid: 'history-' + key, text: label,
	    on: { click: () => { range = key; mark(); load(false); } } }));
	function mark() {
		buttons.forEach((b, i) => b.setAttribute('aria-pressed', RANGES[i][0] === range ? 'true' : 'false'));
	}
	async function load(background) {
		const secs = RANGES.find(r => r[0] === range)[2];
		const to = Math.floor(serverNow());
		let h;
		try {
			h = await get(path + '/history?from=' + (to - secs) + '&to=' + to, background ? bg : undefined);
		} catch (e) {
			if (!e.handled && !ctx.stale())
				body.replaceChildren(errorBox(e));
			return;
		}
		if (ctx.stale())
			return;
		const fresh = document.createDocumentFragment();
		const table = dataTable(h);
		/* A refresh keeps the table open if it was. */
		table.open = Boolean(body.querySelector('details[open]'));
		fresh.append(charts(h, what), table);
		if (body.querySelector('.chart'))
			patch(body, fresh);
		else
			body.replaceChildren(fresh);
		body.dataset.step = String(h.step);
	}
	load(false);
	ctx.every(HISTORY_MS, () => load(true));
	return el('section', { class: 'card history-card', testid: 'history', 'aria-label': 'History' },
	    el('div', { class: 'card-head' }, el('h2', { text: 'History' }),
		el('div', { class: 'card-actions', role: 'group', 'aria-label': 'History range' }, buttons)),
	    el('div', { class: 'card-body' }, body));
}
