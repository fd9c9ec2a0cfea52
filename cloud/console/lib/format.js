/* uplink cloud console: lib/format.js */
import { el } from './dom.js';
import { state } from './state.js';

export function serverNow() {
	return Date.now() / 1000 + state.skew;
}

export function pad2(n) {
	return String(n).padStart(2, '0');
}

/*
 * Times carry their zone: the browser's own ("CET", "GMT+2") or UTC when
 * the administrator switched the console to UTC (the button in the top
 * bar, remembered in this browser).
 */
export function zoneName(t) {
	if (state.utc)
		return 'UTC';
	try {
		const parts = new Intl.DateTimeFormat('en-GB', { timeZoneName: 'short' })
		    .formatToParts(new Date(t === undefined ? Date.now() : t * 1000));
		const z = parts.find(p => p.type === 'timeZoneName');
		return z ? z.value : 'local time';
	} catch (e) {
		return 'local time';
	}
}

function parts(t) {
	const d = new Date(t * 1000);
	return state.utc ?
	    [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()] :
	    [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
}

export function fmtTime(t) {
	if (t === null || t === undefined)
		return '—';
	const [y, mo, d, h, mi] = parts(t);
	return y + '-' + pad2(mo) + '-' + pad2(d) + ' ' + pad2(h) + ':' + pad2(mi) + ' ' + zoneName(t);
}

export function fmtTimeFull(t) {
	if (t === null || t === undefined)
		return '';
	const [y, mo, d, h, mi, sec] = parts(t);
	return y + '-' + pad2(mo) + '-' + pad2(d) + ' ' + pad2(h) + ':' + pad2(mi) + ':' + pad2(sec) + ' ' +
	    zoneName(t);
}

export function fmtAgo(t) {
	if (t === null || t === undefined)
		return 'never';
	let s = Math.round(serverNow() - t);
	const future = s < 0;
	s = Math.abs(s);
	let text;
	if (s < 5)
		return 'just now';
	else if (s < 60)
		text = s + ' s';
	else if (s < 3600)
		text = Math.floor(s / 60) + ' min';
	else if (s < 86400 * 2)
		text = Math.floor(s / 3600) + ' h';
	else
		text = Math.floor(s / 86400) + ' days';
	return future ? 'in ' + text : text + ' ago';
}

export function timeCell(t, relative) {
	return el('time', {
		datetime: t === null || t === undefined ? null : new Date(t * 1000).toISOString(),
		title: fmtTimeFull(t) || null,
		text: relative ? fmtAgo(t) : fmtTime(t),
	});
}

export function fmtInt(n) {
	if (n === null || n === undefined)
		return '—';
	return Number(n).toLocaleString('en-US');
}

export function fmtBytes(n) {
	if (n === null || n === undefined)
		return '—';
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
	let v = Number(n);
	let i = 0;
	while (v >= 1024 && i < units.length - 1) {
		v /= 1024;
		i++;
	}
	if (i === 0)
		return v + ' B';
	return (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)) + ' ' + units[i];
}

export function fmtMs(ms) {
	if (ms === null || ms === undefined)
		return '—';
	const v = Number(ms);
	return (v < 10 ? v.toFixed(1) : v.toFixed(0)) + ' ms';
}

export function fmtMinutes(m) {
	if (m === 1)
		return '1 minute';
	if (m % 60 === 0 && m >= 120)
		return (m / 60) + ' hours';
	return m + ' minutes';
}

export function fmtCountdown(s) {
	s = Math.max(0, Math.floor(s));
	const h = Math.floor(s / 3600);
	const m = Math.floor((s % 3600) / 60);
	const sec = s % 60;
	return (h ? h + ':' + pad2(m) : String(m)) + ':' + pad2(sec);
}

export function plural(n, one, many) {
	return fmtInt(n) + ' ' + (n === 1 ? one : many);
}
