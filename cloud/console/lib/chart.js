/* uplink cloud console: lib/chart.js */
import { SVGNS, el, nextId } from './dom.js';

/*
 * Line charts drawn by the console itself: inline SVG, nothing loaded
 * from anywhere. The plot is an SVG stretched to its box (lines keep
 * their width with non-scaling strokes) and every text is HTML around it,
 * so labels stay legible from a phone to a desktop. Colours come from the
 * stylesheet (.series-N), which follows dark mode. The SVG is one image
 * (role img) named by its <title> and described by its <desc> (what the
 * chart shows, in figures); the page adds the data as a table.
 *
 * lineChart({ title, desc, xs, series: [{ name, values, fmt }], fmt,
 *     xfmt, testid, floor }) -> <figure>. values may hold null (a gap).
 */

const W = 600, H = 150;

function svg(tag, attrs) {
	const e = document.createElementNS(SVGNS, tag);
	for (const [k, v] of Object.entries(attrs || {}))
		e.setAttribute(k, String(v));
	return e;
}

/* A rounded top for the y axis: 1, 2 or 5 times a power of ten. */
export function niceMax(v) {
	if (!(v > 0))
		return 1;
	const p = Math.pow(10, Math.floor(Math.log10(v)));
	for (const m of [1, 2, 5, 10])
		if (v <= m * p)
			return m * p;
	return 10 * p;
}

/* Path data for values over n slots, with gaps at null. */
function pathData(values, top) {
	const n = values.length;
	const dx = n > 1 ? W / (n - 1) : 0;
	let d = '', pen = false;
	values.forEach((v, i) => {
		if (v === null || v === undefined || Number.isNaN(v)) {
			pen = false;
			return;
		}
		const x = (n > 1 ? i * dx : W / 2).toFixed(1);
		const y = (H - (Math.min(v, top) / top) * H).toFixed(1);
		d += (pen ? 'L' : 'M') + x + ' ' + y;
		pen = true;
		/* A lone point still shows. */
		if (i === n - 1 || values[i + 1] === null || values[i + 1] === undefined)
			d += 'h0.01';
	});
	return d;
}

export function lineChart(o) {
	const id = nextId('chart');
	let peak = 0;
	for (const s of o.series)
		for (const v of s.values)
			if (v !== null && v !== undefined && v > peak)
				peak = v;
	const top = niceMax(Math.max(peak, o.floor || 0));
	const plot = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', class: 'chart-plot',
	    role: 'img', 'aria-labelledby': id + '-t ' + id + '-d', focusable: 'false' });
	const title = svg('title', { id: id + '-t' });
	title.textContent = o.title;
	const desc = svg('desc', { id: id + '-d' });
	desc.textContent = o.desc;
	plot.append(title, desc);
	for (const f of [0.25, 0.5, 0.75])
		plot.append(svg('line', { x1: 0, x2: W, y1: H * f, y2: H * f, class: 'chart-grid',
		    'vector-effect': 'non-scaling-stroke' }));
	o.series.forEach((s, i) => plot.append(svg('path', { d: pathData(s.values, top),
	    class: 'chart-line series-' + i, 'vector-effect': 'non-scaling-stroke' })));
	const xs = o.xs;
	const xl = xs.length ? [xs[0], xs[Math.floor((xs.length - 1) / 2)], xs[xs.length - 1]] : [];
	return el('figure', { class: 'chart', testid: o.testid },
	    el('figcaption', { class: 'chart-head' },
		el('span', { class: 'chart-title', text: o.title }),
		el('span', { class: 'chart-legend', 'aria-hidden': 'true' }, o.series.map((s, i) =>
		    el('span', { class: 'chart-key' }, el('span', { class: 'chart-swatch series-' + i }), s.name)))),
	    el('div', { class: 'chart-body' },
		el('div', { class: 'chart-y', 'aria-hidden': 'true' },
		    el('span', { text: o.fmt(top) }), el('span', { text: o.fmt(0) })),
		el('div', { class: 'chart-box' }, plot)),
	    el('div', { class: 'chart-x', 'aria-hidden': 'true' }, xl.map(t => el('span', { text: o.xfmt(t) }))));
}
