/*
 * uplink cloud console: a single page application on the REST API
 * (/api/v1/, docs/api.md). No framework and no external resource: the page
 * runs under a strict Content-Security-Policy (script-src 'self', no inline
 * styles), so every element is built with createElement and textContent,
 * never from HTML text, and looks come from classes in app.css.
 *
 * Session: the HttpOnly cookie travels by itself; the session's CSRF token
 * is kept in memory only and sent as X-CSRF-Token on every request that
 * changes something. Automatic refreshes send X-Uplink-Background: 1 so
 * that a console left open still times out (docs/console.md). Any 401 ends
 * up on the sign-in page with a banner saying why.
 */
'use strict';

(function () {

const API = '/api/v1';
const LIVE_MS = 5000;           // live figures (overview, site, connector)
const BELL_MS = 15000;          // unread notification count
const SYNC_MS = 60000;          // re-read the session's timers
const AUDIT_PAGE = 50;

const state = {
	session: null,          // GET /api/v1/session, kept up to date
	csrf: null,
	skew: 0,                // server clock minus local clock, in seconds
	seq: 0,                 // bumped on every navigation: stale pages stop
	pageTimers: [],
	globalTimers: [],
	unread: 0,
	signingOut: false,
	afterSignin: null,      // the hash to go back to after signing in
	warnDismissed: null,
	lastSync: 0,
	sites: [],
};

/* ------------------------------------------------------------------ DOM */

function el(tag, props, ...kids) {
	const e = document.createElement(tag);
	if (props) {
		for (const [k, v] of Object.entries(props)) {
			if (v === null || v === undefined || v === false)
				continue;
			if (k === 'class')
				e.className = v;
			else if (k === 'text')
				e.textContent = v;
			else if (k === 'testid')
				e.dataset.testid = v;
			else if (k === 'dataset')
				Object.assign(e.dataset, v);
			else if (k === 'on')
				for (const [ev, fn] of Object.entries(v))
					e.addEventListener(ev, fn);
			else if (k === 'value' || k === 'checked' || k === 'disabled' ||
			    k === 'hidden' || k === 'selected' || k === 'required')
				e[k] = v;
			else
				e.setAttribute(k, v === true ? '' : String(v));
		}
	}
	append(e, kids);
	return e;
}

function append(parent, kids) {
	for (const kid of kids.flat(Infinity)) {
		if (kid === null || kid === undefined || kid === false)
			continue;
		parent.append(kid instanceof Node ? kid : String(kid));
	}
	return parent;
}

const SVGNS = 'http://www.w3.org/2000/svg';

function icon(name) {
	const paths = {
		bell: 'M12 3a6 6 0 0 0-6 6v3.6L4.3 16h15.4L18 12.6V9a6 6 0 0 0-6-6zm-2.2 15a2.3 2.3 0 0 0 4.4 0z',
		logo: 'M12 2.5 20 10.5h-5v9H9v-9H4z',
		close: 'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6 10.6 12 5 6.4z',
		warn: 'M12 3 1.5 21h21zm-1 6h2v6h-2zm0 8h2v2h-2z',
	};
	const svg = document.createElementNS(SVGNS, 'svg');
	svg.setAttribute('viewBox', '0 0 24 24');
	svg.setAttribute('aria-hidden', 'true');
	svg.setAttribute('focusable', 'false');
	svg.setAttribute('class', 'icon icon-' + name);
	const p = document.createElementNS(SVGNS, 'path');
	p.setAttribute('d', paths[name]);
	svg.append(p);
	return svg;
}

let uid = 0;
function nextId(prefix) {
	uid += 1;
	return prefix + '-' + uid;
}

/* --------------------------------------------------------------- format */

function serverNow() {
	return Date.now() / 1000 + state.skew;
}

function pad2(n) {
	return String(n).padStart(2, '0');
}

function fmtTime(t) {
	if (t === null || t === undefined)
		return '—';
	const d = new Date(t * 1000);
	return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) +
	    ' ' + pad2(d.getHours()) + ':' + pad2(d.getMinutes());
}

function fmtTimeFull(t) {
	if (t === null || t === undefined)
		return '';
	const d = new Date(t * 1000);
	return fmtTime(t) + ':' + pad2(d.getSeconds()) + ' (local time)';
}

function fmtAgo(t) {
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

function timeCell(t, relative) {
	return el('time', {
		datetime: t === null || t === undefined ? null : new Date(t * 1000).toISOString(),
		title: fmtTimeFull(t) || null,
		text: relative ? fmtAgo(t) : fmtTime(t),
	});
}

function fmtInt(n) {
	if (n === null || n === undefined)
		return '—';
	return Number(n).toLocaleString('en-US');
}

function fmtBytes(n) {
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

function fmtMs(ms) {
	if (ms === null || ms === undefined)
		return '—';
	const v = Number(ms);
	return (v < 10 ? v.toFixed(1) : v.toFixed(0)) + ' ms';
}

function fmtMinutes(m) {
	if (m === 1)
		return '1 minute';
	if (m % 60 === 0 && m >= 120)
		return (m / 60) + ' hours';
	return m + ' minutes';
}

function fmtCountdown(s) {
	s = Math.max(0, Math.floor(s));
	const h = Math.floor(s / 3600);
	const m = Math.floor((s % 3600) / 60);
	const sec = s % 60;
	return (h ? h + ':' + pad2(m) : String(m)) + ':' + pad2(sec);
}

function plural(n, one, many) {
	return fmtInt(n) + ' ' + (n === 1 ? one : many);
}

/* ------------------------------------------------------------------ API */

class ApiError extends Error {
	constructor(status, body) {
		super(body.message || body.error || ('HTTP ' + status));
		this.status = status;
		this.body = body;
		this.handled = false;
	}
}

function noteServerTime(res) {
	const d = Date.parse(res.headers.get('Date') || '');
	if (Number.isFinite(d))
		state.skew = d / 1000 - Date.now() / 1000;
}

/*
 * One request to the API. opts.background marks an automatic refresh (it
 * must not count as console activity); opts.signin keeps a 401 from being
 * taken for the end of a session (signing in and the first look at
 * GET /session handle theirs). Resolves to the JSON (or text) body, null for
 * 204; rejects with an ApiError whose message is the API's own.
 */
async function api(method, path, body, opts) {
	opts = opts || {};
	const headers = { Accept: opts.text ? 'text/plain' : 'application/json' };
	if (body !== undefined)
		headers['Content-Type'] = 'application/json';
	if (method !== 'GET' && method !== 'HEAD' && state.csrf)
		headers['X-CSRF-Token'] = state.csrf;
	if (opts.background)
		headers['X-Uplink-Background'] = '1';
	let res;
	try {
		res = await fetch(API + path, {
			method,
			headers,
			body: body === undefined ? undefined : JSON.stringify(body),
			credentials: 'same-origin',
			cache: 'no-store',
		});
	} catch (e) {
		throw new ApiError(0, {
			error: 'network',
			message: 'The console could not reach uplink-cloud (' + e.message +
			    '). Check the network connection and try again.',
		});
	}
	noteServerTime(res);
	let data = null;
	if (res.status !== 204) {
		const ct = res.headers.get('Content-Type') || '';
		const text = await res.text();
		if (ct.includes('json')) {
			try {
				data = JSON.parse(text);
			} catch (e) {
				data = null;
			}
		} else {
			data = text;
		}
	}
	if (!res.ok) {
		const b = data && typeof data === 'object' ? data : {
			error: 'http-' + res.status,
			message: (typeof data === 'string' && data.trim()) ? data.trim() :
			    'uplink-cloud answered ' + res.status + ' ' + res.statusText + '.',
		};
		const err = new ApiError(res.status, b);
		const ra = parseInt(res.headers.get('Retry-After') || '', 10);
		if (Number.isFinite(ra))
			err.retryAfter = ra;
		if (res.status === 401 && !opts.signin) {
			err.handled = true;
			sessionEnded(b);
		}
		throw err;
	}
	if (!opts.background && state.session && !opts.signin)
		noteActivity();
	return data;
}

const get = (path, opts) => api('GET', path, undefined, opts);
const bg = { background: true };

/* -------------------------------------------------------------- session */

function canWrite() {
	return !!(state.session && state.session.admin && state.session.admin.role === 'full');
}

/*
 * A request that is not a background one restarted the server's inactivity
 * timer: move the local copy the same way, so that the warning bar goes
 * away without another round trip.
 */
function noteActivity() {
	const s = state.session;
	if (!s || !s.inactivity_timeout_minutes)
		return;
	const idle = Math.floor(serverNow()) + s.inactivity_timeout_minutes * 60;
	s.idle_expires_at = idle;
	s.expires_at = s.absolute_expires_at ? Math.min(idle, s.absolute_expires_at) : idle;
}

function updateSession(s) {
	state.session = s;
	state.csrf = s.csrf_token || state.csrf;
	state.lastSync = Date.now();
	const who = document.querySelector('[data-testid="topbar-email"]');
	if (who)
		who.textContent = s.admin.email;
	tickSession();
}

function sessionBanner(body, prev) {
	const reason = body && body.reason;
	if (reason === 'expired-idle') {
		const m = prev && prev.inactivity_timeout_minutes;
		return { kind: 'warn', text: m ?
		    'Your session ended after ' + fmtMinutes(m) + ' without activity. Sign in again.' :
		    (body.message || 'Your session ended after a period without activity. Sign in again.') };
	}
	if (reason === 'expired-absolute') {
		const h = prev && prev.absolute_expires_at && prev.created_at ?
		    Math.round((prev.absolute_expires_at - prev.created_at) / 3600) : null;
		return { kind: 'warn', text: h ?
		    'Your session reached its ' + h + '-hour limit. Sign in again.' :
		    (body.message || 'Your session reached its maximum length. Sign in again.') };
	}
	if (reason === 'signed-out') {
		return state.signingOut ? { kind: 'info', text: 'You signed out.' } :
		    { kind: 'warn', text: 'This session was signed out (in another tab, or an ' +
		      'administrator changed your account). Sign in again.' };
	}
	if (prev) {
		return { kind: 'warn', text: (body && body.message) ?
		    body.message + (/[.!]$/.test(body.message) ? '' : '.') + ' Sign in again.' :
		    'Your session is no longer valid. Sign in again.' };
	}
	return null;
}

function sessionEnded(body) {
	const prev = state.session;
	if (!prev)
		return;
	state.session = null;
	state.csrf = null;
	stopTimers(true);
	showSignin(sessionBanner(body, prev));
}

function startGlobalTimers() {
	stopTimers(true);
	state.globalTimers.push(setInterval(tickSession, 1000));
	state.globalTimers.push(setInterval(refreshBell, BELL_MS));
	state.globalTimers.push(setInterval(syncSession, SYNC_MS));
}

function stopTimers(global) {
	for (const t of state.pageTimers)
		clearInterval(t);
	state.pageTimers = [];
	if (global) {
		for (const t of state.globalTimers)
			clearInterval(t);
		state.globalTimers = [];
	}
}

async function syncSession() {
	if (!state.session)
		return;
	try {
		const s = await get('/session', bg);
		if (state.session)
			updateSession(s);
	} catch (e) {
		/* 401 is handled in api(); others wait for the next round */
	}
}

/*
 * Once a second: show, update or hide the bar that warns of the end of the
 * session. When the idle timer is what ends it, the bar offers to stay
 * signed in (a request that is not a background one); when the absolute
 * limit does, nothing can extend it and the bar counts down.
 */
function tickSession() {
	const s = state.session;
	const bar = document.getElementById('session-bar');
	if (!s || !bar)
		return;
	const left = s.expires_at - serverNow();
	if (left <= 0) {
		bar.hidden = true;
		if (Date.now() - state.lastSync > 5000) {
			state.lastSync = Date.now();
			syncSession();
		}
		return;
	}
	const idleCause = s.idle_expires_at !== null && s.idle_expires_at !== undefined &&
	    s.idle_expires_at <= s.absolute_expires_at;
	const span = idleCause ? s.inactivity_timeout_minutes * 60 :
	    s.absolute_expires_at - s.created_at;
	const warnAt = Math.min(300, Math.max(30, span / 4));
	const key = (idleCause ? 'idle:' : 'absolute:') + s.expires_at;
	if (left > warnAt || state.warnDismissed === key) {
		bar.hidden = true;
		return;
	}
	const text = bar.querySelector('.session-bar-text');
	const stay = bar.querySelector('[data-testid="session-stay"]');
	bar.dataset.cause = idleCause ? 'idle' : 'absolute';
	bar.dataset.key = key;
	if (idleCause) {
		text.textContent = 'You will be signed out in ' + fmtCountdown(left) +
		    ' because the console has had no activity for a while.';
	} else {
		const h = Math.round(span / 3600);
		text.textContent = 'Your session ends in ' + fmtCountdown(left) + ': sessions last at most ' +
		    h + ' hours after sign-in. Save your changes; you will then need to sign in again.';
	}
	stay.hidden = !idleCause;
	bar.hidden = false;
}

function sessionBar() {
	const bar = el('div', { id: 'session-bar', class: 'session-bar', testid: 'session-warning',
	    role: 'status', 'aria-live': 'polite', hidden: true },
	    icon('warn'),
	    el('span', { class: 'session-bar-text' }),
	    el('button', { type: 'button', class: 'btn btn-small', testid: 'session-stay',
	        text: 'Stay signed in', on: { click: staySignedIn } }),
	    el('button', { type: 'button', class: 'btn-icon', testid: 'session-dismiss',
	        'aria-label': 'Dismiss this warning', title: 'Dismiss',
	        on: { click: () => {
		        state.warnDismissed = bar.dataset.key;
		        bar.hidden = true;
	        } } }, icon('close')));
	return bar;
}

async function staySignedIn(ev) {
	const btn = ev.currentTarget;
	btn.disabled = true;
	try {
		const s = await get('/session');
		updateSession(s);
		toast('You stay signed in.', 'ok');
	} catch (e) {
		if (!e.handled)
			toast(e.message, 'error');
	} finally {
		btn.disabled = false;
	}
}

/* -------------------------------------------------------------- widgets */

function toast(text, kind) {
	const box = document.getElementById('toasts');
	if (!box)
		return;
	const t = el('div', { class: 'toast toast-' + (kind || 'ok'), testid: 'toast', role: 'status' }, text);
	box.append(t);
	setTimeout(() => t.remove(), 6000);
}

function alertBox(text, kind, testid) {
	return el('div', { class: 'alert alert-' + (kind || 'error'), testid: testid || 'error',
	    role: kind === 'error' || !kind ? 'alert' : 'status' }, text);
}

function errorBox(err, retry) {
	const box = alertBox(err.message, 'error', 'error');
	if (err.body && err.body.error && err.status)
		box.append(el('span', { class: 'alert-code', text: ' (' + err.status + ' ' + err.body.error + ')' }));
	if (retry)
		box.append(' ', el('button', { type: 'button', class: 'btn btn-small btn-secondary',
		    text: 'Try again', on: { click: retry } }));
	return box;
}

function loading(text) {
	return el('div', { class: 'loading', testid: 'loading', role: 'status' },
	    el('span', { class: 'spinner', 'aria-hidden': 'true' }), text || 'Loading…');
}

function emptyState(text, action) {
	return el('div', { class: 'empty', testid: 'empty-state' }, el('p', { text }), action || null);
}

function badge(value, label, testid) {
	return el('span', { class: 'badge badge-' + value, testid: testid || 'badge',
	    dataset: { value } }, label || value);
}

function button(text, onClick, opts) {
	opts = opts || {};
	return el('button', { type: opts.submit ? 'submit' : 'button',
	    class: 'btn' + (opts.kind ? ' btn-' + opts.kind : '') + (opts.small ? ' btn-small' : ''),
	    testid: opts.testid, disabled: opts.disabled, title: opts.title,
	    'aria-label': opts.label, on: onClick ? { click: onClick } : null }, text);
}

function linkTo(hash, text, testid) {
	return el('a', { href: '#' + hash, testid, text });
}

function pageHeader(title, subtitle, actions) {
	document.title = title + ' · uplink cloud console';
	return el('header', { class: 'page-header' },
	    el('div', { class: 'page-heading' },
		el('h1', { testid: 'page-title', text: title }),
		subtitle ? el('p', { class: 'page-sub', text: subtitle }) : null),
	    actions ? el('div', { class: 'page-actions' }, actions) : null);
}

function card(title, kids, opts) {
	opts = opts || {};
	return el('section', { class: 'card' + (opts.class ? ' ' + opts.class : ''), testid: opts.testid,
	    dataset: opts.dataset, 'aria-label': title && typeof title === 'string' ? title : null },
	    title ? el('div', { class: 'card-head' },
		typeof title === 'string' ? el('h2', { text: title }) : title,
		opts.actions ? el('div', { class: 'card-actions' }, opts.actions) : null) : null,
	    el('div', { class: 'card-body' }, kids));
}

/*
 * A table from column definitions: {title, num (right-aligned figures),
 * cell(row) -> Node|string, class}. rowProps(row) gives the <tr> its
 * attributes (testid, dataset).
 */
function table(cols, rows, rowProps, opts) {
	opts = opts || {};
	const thead = el('thead', null, el('tr', null, cols.map(c =>
	    el('th', { scope: 'col', class: (c.num ? 'num' : '') + (c.class ? ' ' + c.class : '') },
		c.title))));
	const tbody = el('tbody', null, rows.map(r => el('tr', rowProps ? rowProps(r) : null,
	    cols.map(c => el('td', { class: (c.num ? 'num' : '') + (c.class ? ' ' + c.class : ''),
		dataset: c.key ? { col: c.key } : null }, c.cell(r))))));
	return el('div', { class: 'table-wrap' }, el('table', { class: 'table' + (opts.class ? ' ' + opts.class : ''),
	    testid: opts.testid }, opts.caption ? el('caption', { class: 'sr-only', text: opts.caption }) : null,
	    thead, tbody));
}

function field(label, input, hint, opts) {
	opts = opts || {};
	if (!input.id)
		input.id = nextId('f');
	const hintId = hint ? input.id + '-hint' : null;
	if (hintId)
		input.setAttribute('aria-describedby', hintId);
	return el('div', { class: 'field' + (opts.class ? ' ' + opts.class : '') },
	    el('label', { for: input.id, text: label }), input,
	    hint ? el('p', { class: 'hint', id: hintId, text: hint }) : null);
}

function select(options, value, props) {
	const s = el('select', props);
	for (const [v, label] of options)
		s.append(el('option', { value: v, text: label, selected: v === value }));
	return s;
}

/* A box with a secret or a command, and a Copy button next to it. */
function copyBox(text, testid, label) {
	const code = el('code', { class: 'copy-text', testid, text });
	const btn = button('Copy', () => copyText(text, btn), { small: true, kind: 'secondary',
	    testid: testid + '-copy', label: 'Copy ' + label });
	return el('div', { class: 'copy-box' }, code, btn);
}

async function copyText(text, btn) {
	let ok = false;
	try {
		await navigator.clipboard.writeText(text);
		ok = true;
	} catch (e) {
		/* no clipboard permission: the old way, through a selection */
		const ta = el('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
		ta.value = text;
		document.body.append(ta);
		ta.select();
		try {
			ok = document.execCommand('copy');
		} catch (e2) {
			ok = false;
		}
		ta.remove();
	}
	if (btn) {
		const was = btn.textContent;
		btn.textContent = ok ? 'Copied' : 'Select and copy by hand';
		setTimeout(() => { btn.textContent = was; }, 2000);
	}
	return ok;
}

/* A modal confirmation; resolves to true when confirmed. */
function confirmDialog(opts) {
	return new Promise(resolve => {
		const titleId = nextId('dlg');
		const dlg = el('dialog', { class: 'dialog', testid: 'confirm-dialog', 'aria-labelledby': titleId });
		let answer = false;
		const close = v => {
			answer = v;
			dlg.close();
		};
		dlg.append(el('h2', { id: titleId, text: opts.title }),
		    el('p', { class: 'dialog-text', text: opts.message }),
		    el('div', { class: 'dialog-actions' },
			button('Cancel', () => close(false), { kind: 'secondary', testid: 'confirm-cancel' }),
			button(opts.confirm || 'Confirm', () => close(true),
			    { kind: opts.danger ? 'danger' : null, testid: 'confirm-ok' })));
		dlg.addEventListener('close', () => {
			dlg.remove();
			resolve(answer);
		});
		document.body.append(dlg);
		dlg.showModal();
		dlg.querySelector('[data-testid="confirm-cancel"]').focus();
	});
}

/*
 * A modal form. fields: [{name, label, input, hint}]; submit(values) runs
 * the request and may throw an ApiError, shown in the dialog.
 */
function formDialog(opts) {
	return new Promise(resolve => {
		const titleId = nextId('dlg');
		const dlg = el('dialog', { class: 'dialog', testid: opts.testid || 'form-dialog',
		    'aria-labelledby': titleId });
		const err = el('div', { class: 'form-error', 'aria-live': 'assertive' });
		const form = el('form', { class: 'form', novalidate: true },
		    el('h2', { id: titleId, text: opts.title }),
		    opts.note ? el('p', { class: 'dialog-text', text: opts.note }) : null,
		    opts.fields.map(f => field(f.label, f.input, f.hint)), err,
		    el('div', { class: 'dialog-actions' },
			button('Cancel', () => dlg.close(), { kind: 'secondary', testid: 'dialog-cancel' }),
			button(opts.confirm || 'Save', null, { submit: true, testid: 'dialog-save' })));
		let result = null;
		form.addEventListener('submit', async ev => {
			ev.preventDefault();
			const values = {};
			for (const f of opts.fields)
				values[f.name] = f.input.value.trim();
			const save = form.querySelector('[data-testid="dialog-save"]');
			save.disabled = true;
			err.replaceChildren();
			try {
				result = await opts.submit(values);
				dlg.close();
			} catch (e) {
				if (!e.handled)
					err.replaceChildren(errorBox(e));
			} finally {
				save.disabled = false;
			}
		});
		dlg.append(form);
		dlg.addEventListener('close', () => {
			dlg.remove();
			resolve(result);
		});
		document.body.append(dlg);
		dlg.showModal();
	});
}

/*
 * Runs an action from a button: disables it while the request runs, shows
 * errors in place (target) or as a toast, and refreshes the bell after.
 */
async function act(btn, fn, errTarget) {
	if (btn)
		btn.disabled = true;
	if (errTarget)
		errTarget.replaceChildren();
	try {
		const r = await fn();
		refreshBellSoon();
		return r;
	} catch (e) {
		if (e.handled)
			return undefined;
		if (errTarget)
			errTarget.replaceChildren(errorBox(e));
		else
			toast(e.message, 'error');
		return undefined;
	} finally {
		if (btn && btn.isConnected)
			btn.disabled = false;
	}
}

/* ---------------------------------------------------------------- shell */

const NAV = [
	['overview', 'Overview'],
	['tokens', 'Enrollment tokens'],
	['services', 'Published services'],
	['requirements', 'Required addresses'],
	['notifications', 'Notifications'],
	['-', 'Administration'],
	['settings', 'Settings'],
	['admins', 'Administrators'],
	['keys', 'API keys'],
	['audit', 'Audit log'],
];

function brand() {
	return el('div', { class: 'brand' }, el('span', { class: 'brand-mark' }, icon('logo')),
	    el('span', { class: 'brand-name', text: 'uplink' }),
	    el('span', { class: 'brand-sub', text: 'cloud console' }));
}

function renderShell() {
	const s = state.session;
	const bell = el('a', { href: '#/notifications', class: 'bell', testid: 'bell',
	    'aria-label': 'Notifications' }, icon('bell'),
	    el('span', { class: 'bell-count', testid: 'bell-count', hidden: true, text: '0' }));
	const top = el('header', { class: 'topbar' }, brand(), el('div', { class: 'topbar-spacer' }),
	    bell,
	    el('div', { class: 'whoami' },
		el('span', { class: 'whoami-email', testid: 'topbar-email', text: s.admin.email }),
		el('span', { class: 'role role-' + s.admin.role, testid: 'topbar-role',
		    text: s.admin.role === 'full' ? 'full access' : 'read-only' })),
	    button('Sign out', signOut, { kind: 'topbar', testid: 'signout' }));
	const nav = el('nav', { class: 'sidenav', 'aria-label': 'Console pages' },
	    el('ul', null, NAV.map(([key, label]) => key === '-' ?
		el('li', { class: 'nav-group', text: label }) :
		el('li', null, el('a', { href: '#/' + key, testid: 'nav-' + key, dataset: { page: key },
		    text: label })))));
	const main = el('main', { id: 'main', class: 'main', tabindex: '-1' });
	const app = document.getElementById('app');
	app.className = 'app shell';
	app.replaceChildren(top, sessionBar(), nav, main,
	    el('div', { id: 'toasts', class: 'toasts', 'aria-live': 'polite' }));
	refreshBell();
}

function setBell(unread) {
	state.unread = unread;
	const count = document.querySelector('[data-testid="bell-count"]');
	const bell = document.querySelector('[data-testid="bell"]');
	if (!count || !bell)
		return;
	count.textContent = unread > 99 ? '99+' : String(unread);
	count.hidden = unread === 0;
	bell.setAttribute('aria-label', 'Notifications: ' + (unread ? plural(unread, 'unread', 'unread') : 'none unread'));
	bell.title = bell.getAttribute('aria-label');
}

async function refreshBell() {
	if (!state.session)
		return;
	try {
		const r = await get('/notifications?unread=1&limit=1', bg);
		setBell(r.unread);
	} catch (e) {
		/* the next round tries again */
	}
}

function refreshBellSoon() {
	refreshBell();
	setTimeout(refreshBell, 2000);
}

async function signOut(ev) {
	const btn = ev.currentTarget;
	btn.disabled = true;
	state.signingOut = true;
	try {
		await api('DELETE', '/session');
		const prev = state.session;
		state.session = null;
		state.csrf = null;
		stopTimers(true);
		showSignin(prev ? { kind: 'info', text: 'You signed out.' } : null);
	} catch (e) {
		if (!e.handled)
			toast('Signing out failed: ' + e.message, 'error');
		btn.disabled = false;
	} finally {
		state.signingOut = false;
	}
}

/* -------------------------------------------------------------- sign-in */

function showSignin(banner) {
	stopTimers(true);
	state.seq++;
	const h = location.hash;
	if (h && h !== '#/' && h !== '#/signin' && !state.afterSignin)
		state.afterSignin = h;
	document.title = 'Sign in · uplink cloud console';
	const email = el('input', { type: 'email', name: 'email', autocomplete: 'username', required: true,
	    testid: 'signin-email' });
	const pass = el('input', { type: 'password', name: 'password', autocomplete: 'current-password',
	    required: true, testid: 'signin-password' });
	const err = el('div', { class: 'form-error', testid: 'signin-error', 'aria-live': 'assertive' });
	const submit = button('Sign in', null, { submit: true, testid: 'signin-submit' });
	const form = el('form', { class: 'form signin-form', testid: 'signin-form', novalidate: true },
	    field('E-mail', email), field('Password', pass), err, submit);
	form.addEventListener('submit', async ev => {
		ev.preventDefault();
		err.replaceChildren();
		if (!email.value.trim() || !pass.value) {
			err.append(alertBox('Enter your e-mail address and password.', 'error', 'signin-error-text'));
			return;
		}
		submit.disabled = true;
		submit.textContent = 'Signing in…';
		try {
			const s = await api('POST', '/session', { email: email.value.trim(), password: pass.value },
			    { signin: true });
			pass.value = '';
			startSession(s);
		} catch (e) {
			let text = e.message;
			if (e.status === 401)
				text = 'Wrong e-mail or password.';
			else if (e.status === 429)
				text = 'Too many failed sign-ins. Try again ' +
				    (e.retryAfter ? 'in ' + fmtCountdown(e.retryAfter) + ' (minutes:seconds).' : 'later.');
			err.append(alertBox(text, 'error', 'signin-error-text'));
			submit.disabled = false;
			submit.textContent = 'Sign in';
			pass.focus();
		}
	});
	const app = document.getElementById('app');
	app.className = 'app signin';
	app.replaceChildren(el('div', { class: 'signin-wrap' },
	    el('div', { class: 'signin-card', testid: 'signin-page' },
		brand(),
		el('h1', { text: 'Sign in' }),
		el('p', { class: 'page-sub', text: 'Administrators of this uplink cloud sign in with their e-mail address.' }),
		el('div', { class: 'signin-banner-slot', 'aria-live': 'polite' },
		    banner ? el('div', { class: 'alert alert-' + banner.kind, testid: 'signin-banner',
			role: 'status' }, banner.text) : null),
		form),
	    el('p', { class: 'signin-foot', text: 'Sessions and their time limits are described in docs/console.md.' })));
	if (location.hash !== '#/signin')
		history.replaceState(null, '', '#/signin');
	email.focus();
}

function startSession(s) {
	state.warnDismissed = null;
	updateSession(s);
	renderShell();
	startGlobalTimers();
	const to = state.afterSignin;
	state.afterSignin = null;
	if (to && to !== location.hash)
		location.hash = to;
	else if (!to && (location.hash === '#/signin' || !location.hash || location.hash === '#/'))
		history.replaceState(null, '', '#/overview');
	route();
}

/* ---------------------------------------------------------------- router */

const PAGES = {
	overview: pageOverview,
	sites: pageSite,
	connectors: pageConnector,
	tokens: pageTokens,
	services: pageServices,
	requirements: pageRequirements,
	notifications: pageNotifications,
	settings: pageSettings,
	admins: pageAdmins,
	keys: pageKeys,
	audit: pageAudit,
};

function parseHash() {
	const h = location.hash.replace(/^#\/?/, '');
	const q = h.indexOf('?');
	const path = (q < 0 ? h : h.slice(0, q)).split('/').filter(Boolean).map(decodeURIComponent);
	const query = new URLSearchParams(q < 0 ? '' : h.slice(q + 1));
	return { page: path[0] || 'overview', arg: path[1] || null, query };
}

async function route() {
	if (!state.session) {
		showSignin(null);
		return;
	}
	if (!document.getElementById('main'))
		renderShell();
	stopTimers(false);
	const seq = ++state.seq;
	const r = parseHash();
	if (r.page === 'signin') {
		history.replaceState(null, '', '#/overview');
		r.page = 'overview';
	}
	const fn = PAGES[r.page];
	const navKey = r.page === 'sites' || r.page === 'connectors' ? 'overview' : r.page;
	for (const a of document.querySelectorAll('.sidenav a')) {
		if (a.dataset.page === navKey)
			a.setAttribute('aria-current', 'page');
		else
			a.removeAttribute('aria-current');
	}
	const main = document.getElementById('main');
	main.replaceChildren();
	main.scrollTop = 0;
	const ctx = {
		main,
		arg: r.arg,
		query: r.query,
		stale: () => seq !== state.seq || !state.session,
		every(ms, fn2) {
			const t = setInterval(async () => {
				if (ctx.stale()) {
					clearInterval(t);
					return;
				}
				try {
					await fn2();
					ctx.setLive(null);
				} catch (e) {
					if (!e.handled)
						ctx.setLive(e);
				}
			}, ms);
			state.pageTimers.push(t);
		},
		liveNote: null,
		setLive(e) {
			if (!ctx.liveNote)
				return;
			ctx.liveNote.textContent = e ? 'Live updates paused: ' + e.message :
			    'Live · updated ' + new Date().toLocaleTimeString('en-GB');
			ctx.liveNote.classList.toggle('live-error', !!e);
		},
	};
	if (!fn) {
		main.append(pageHeader('Page not found'), emptyState('There is no console page "' + r.page + '".',
		    linkTo('/overview', 'Go to the overview')));
		return;
	}
	try {
		await fn(ctx);
	} catch (e) {
		if (!e.handled && !ctx.stale())
			main.append(errorBox(e, route));
	}
}

function liveNote(ctx) {
	ctx.liveNote = el('span', { class: 'live-note', testid: 'live-note', 'aria-live': 'off' }, 'Live');
	return ctx.liveNote;
}

/*
 * Loads a page's data: shows a loading line in body, then render(data) or
 * the API's error with a retry button. Returns false when it failed.
 */
async function loadInto(ctx, body, what, fetchFn, render) {
	body.replaceChildren(loading('Loading ' + what + '…'));
	let data;
	try {
		data = await fetchFn(false);
	} catch (e) {
		if (!e.handled && !ctx.stale())
			body.replaceChildren(errorBox(e, route));
		return false;
	}
	if (ctx.stale())
		return false;
	body.replaceChildren(render(data));
	return true;
}

/* ------------------------------------------------------------- overview */

const STATE_LABEL = {
	online: 'online', degraded: 'degraded', draining: 'draining', offline: 'offline',
	revoked: 'revoked', empty: 'no connectors',
};

function stateBadge(st, testid) {
	return badge(st, STATE_LABEL[st] || st, testid || 'state');
}

function connectorTable(conns) {
	const order = { online: 0, degraded: 1, draining: 2, offline: 3, revoked: 4 };
	conns = conns.slice().sort((a, b) => (order[a.state] ?? 5) - (order[b.state] ?? 5) ||
	    String(a.name).localeCompare(String(b.name)));
	return table([
		{ title: 'Connector', key: 'name', cell: c => el('div', { class: 'name-cell' },
		    linkTo('/connectors/' + encodeURIComponent(c.id), c.name || c.id, 'connector-link'),
		    el('span', { class: 'mono muted small', text: c.id })) },
		{ title: 'State', key: 'state', cell: c => stateBadge(c.state, 'connector-state') },
		{ title: 'Version', key: 'version', cell: c => el('span', { class: 'mono', text: c.version || '—' }) },
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

function redundancyWarning(site) {
	if (site.redundancy || site.state === 'empty' || !site.connectors_total)
		return null;
	const online = site.connectors_online || 0;
	return el('div', { class: 'alert alert-warn compact', testid: 'no-redundancy', role: 'status' },
	    icon('warn'), el('span', null, el('strong', { text: 'No redundancy. ' }),
		online === 0 ? 'No connector of this site is online: its services are unreachable.' :
		    'Only one connector of this site is online: if it stops, the site is unreachable. ' +
		    'Run at least two connectors per site.'));
}

function siteCard(site, conns) {
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

function summaryStrip(sites, conns) {
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

async function pageOverview(ctx) {
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

async function pageSite(ctx) {
	const name = ctx.arg;
	const body = el('div', { class: 'stack', testid: 'site-detail' });
	ctx.main.append(el('p', { class: 'crumbs' }, linkTo('/overview', 'Overview'), ' / site'),
	    pageHeader('Site ' + name, 'Connectors of this site and their health.',
		[liveNote(ctx), canWrite() ? linkTo('/tokens?site=' + encodeURIComponent(name),
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
			    canWrite() ? linkTo('/tokens?site=' + encodeURIComponent(name), 'Create an enrollment token') : null)));
	};
	if (!await loadInto(ctx, body, 'the site', fetchSite, render))
		return;
	ctx.setLive(null);
	ctx.every(LIVE_MS, async () => {
		const s = await fetchSite(true);
		if (!ctx.stale())
			body.replaceChildren(render(s));
	});
}

function dl(pairs) {
	return el('dl', { class: 'facts' }, pairs.filter(p => p).map(([k, v]) =>
	    el('div', { class: 'fact' }, el('dt', { text: k }), el('dd', null, v))));
}

/* ------------------------------------------------------------ connector */

function connectorFacts(c) {
	return dl([
		['State', stateBadge(c.state, 'connector-state')],
		['Site', linkTo('/sites/' + encodeURIComponent(c.site), c.site)],
		['ID', el('span', { class: 'mono', text: c.id })],
		['Version', el('span', { class: 'mono', text: c.version || '—' })],
		['Address', el('span', { class: 'mono', text: c.peer || '—' })],
		['Tunnels', c.state === 'revoked' ? '—' : fmtInt(c.tunnels) + ' of ' + fmtInt(c.tunnels_expected)],
		['Round-trip time', fmtMs(c.rtt_ms)],
		['Active streams', fmtInt(c.streams)],
		['Traffic in / out', fmtBytes(c.bytes_in) + ' / ' + fmtBytes(c.bytes_out)],
		['Last seen', timeCell(c.last_seen, true)],
		['Enrolled', timeCell(c.created_at)],
		['Certificate valid until', timeCell(c.cert_not_after)],
		c.revoked_at ? ['Revoked', timeCell(c.revoked_at)] : null,
		['Draining', c.drained ? 'yes: no new streams are routed to it' : 'no'],
	]);
}

const ERROR_LABEL = {
	'dns': 'name resolution', 'tcp': 'TCP connection', 'timeout': 'timed out',
	'proxy-unreachable': 'proxy unreachable', 'proxy-denied': 'proxy denied it',
	'proxy-error': 'proxy error', 'tls': 'TLS handshake', 'tls-interception': 'TLS interception',
	'cert-untrusted': 'untrusted certificate', 'cert-hostname': 'certificate name mismatch',
	'cert-expired': 'certificate expired', 'cert-revoked': 'certificate revoked',
	'crl-unreachable': 'CRL unreachable', 'http': 'HTTP error', 'not-testable': 'not testable',
};

function checkAddress(r) {
	const host = r.address && r.address.includes(':') && !r.address.startsWith('[') ?
	    '[' + r.address + ']' : r.address;
	const text = host + (r.port ? ':' + r.port : '');
	return el('div', { class: 'name-cell' }, el('span', { class: 'mono', text }),
	    el('span', { class: 'muted small', text: (r.scheme || 'https') + (r.purpose ? ' · ' + r.purpose : '') }),
	    r.probe && r.probe !== r.address ? el('span', { class: 'muted small', text: 'probed as ' + r.probe }) : null);
}

function checkRoute(r) {
	const route = r.route === 'proxy' ? 'via proxy' : r.route === 'direct' ? 'direct' : (r.route || '—');
	return el('div', { class: 'name-cell' }, el('span', { text: route }),
	    r.rule ? el('span', { class: 'muted small', text: 'bypass rule ' + r.rule }) : null);
}

function checkDetail(r) {
	const parts = [];
	if (r.detail)
		parts.push(el('span', { text: r.detail }));
	else if (r.ok)
		parts.push(el('span', { text: [r.tls, r.ms !== null && r.ms !== undefined ? r.ms + ' ms' : null]
		    .filter(Boolean).join(', ') || 'passed' }));
	if (r.issuer && !r.ok)
		parts.push(el('span', { class: 'muted small', text: 'issuer: ' + r.issuer }));
	for (const w of r.warnings || [])
		parts.push(el('span', { class: 'warn-text small', text: 'warning: ' + w }));
	return el('div', { class: 'name-cell' }, parts.length ? parts : '—');
}

function renderCheck(chk) {
	const rep = chk.report;
	const ok = chk.ok;
	const head = el('div', { class: 'check-summary', testid: 'check-summary' },
	    badge(ok ? 'pass' : 'fail', ok ? 'passed' : 'failed', 'check-verdict'),
	    el('span', { text: plural(chk.passed, 'address', 'addresses') + ' passed, ' + fmtInt(chk.failed) + ' failed' }),
	    el('span', { class: 'muted' }, ' · ', timeCell(chk.at), ' · ', chk.trigger || ''),
	    rep ? el('span', { class: 'muted' }, ' · ', rep.proxy ? 'proxy ' + rep.proxy +
		(rep.source ? ' (from ' + rep.source + ')' : '') : 'no proxy configured') : null);
	if (!rep || !Array.isArray(rep.results))
		return el('div', { class: 'stack', testid: 'check-result' }, head,
		    alertBox('The connector sent no report with this check.', 'warn'));
	const rows = rep.results;
	const t = table([
		{ title: 'Service', key: 'service', cell: r => r.service || '—' },
		{ title: 'Address', key: 'address', cell: checkAddress },
		{ title: 'Route', key: 'route', cell: checkRoute },
		{ title: 'Verdict', key: 'verdict', cell: r => badge(r.ok ? 'pass' : 'fail', r.ok ? 'pass' : 'fail', 'check-row-verdict') },
		{ title: 'Error', key: 'error', cell: r => r.error ? el('div', { class: 'name-cell' },
		    el('span', { class: 'mono', text: r.error }),
		    ERROR_LABEL[r.error] ? el('span', { class: 'muted small', text: ERROR_LABEL[r.error] }) : null) : '—' },
		{ title: 'Detail', key: 'detail', class: 'wrap', cell: checkDetail },
		{ title: 'Remedy', key: 'remedy', class: 'wrap', cell: r => r.hint || '—' },
	], rows, r => ({ testid: 'check-row', dataset: { ok: r.ok ? 'yes' : 'no' }, class: r.ok ? '' : 'row-fail' }),
	{ testid: 'check-table', class: 'check-table', caption: 'Connectivity check results' });
	return el('div', { class: 'stack', testid: 'check-result' }, head, t);
}

function checksTable(checks, show) {
	if (!checks.length)
		return emptyState('No checks yet. The cloud asks a connector for one when it connects, every hour, and when you run one here.');
	return table([
		{ title: 'When', cell: c => timeCell(c.at) },
		{ title: 'Trigger', cell: c => c.trigger || '—' },
		{ title: 'Result', cell: c => badge(c.ok ? 'pass' : 'fail', c.ok ? 'passed' : 'failed') },
		{ title: 'Passed', num: true, cell: c => fmtInt(c.passed) },
		{ title: 'Failed', num: true, cell: c => fmtInt(c.failed) },
		{ title: '', class: 'actions', cell: c => button('Show', () => show(c), { small: true, kind: 'secondary',
		    testid: 'check-show', label: 'Show the check of ' + fmtTime(c.at) }) },
	], checks, c => ({ testid: 'check-history-row', dataset: { check: String(c.id) } }),
	{ caption: 'Past connectivity checks' });
}

async function pageConnector(ctx) {
	const id = ctx.arg;
	const path = '/connectors/' + encodeURIComponent(id);
	const title = el('h1', { testid: 'page-title', text: 'Connector ' + id });
	const actions = el('div', { class: 'page-actions' });
	const actErr = el('div', { 'aria-live': 'assertive' });
	const facts = el('div', { testid: 'connector-facts' }, loading('Loading the connector…'));
	const checkOut = el('div', { class: 'stack', 'aria-live': 'polite', testid: 'check-output' });
	const history = el('div', { testid: 'checks-history' });
	const crumbs = el('p', { class: 'crumbs' }, linkTo('/overview', 'Overview'), ' / connector');
	ctx.main.append(crumbs, el('header', { class: 'page-header' },
	    el('div', { class: 'page-heading' }, title,
		el('p', { class: 'page-sub', text: 'Health, connectivity checks and actions.' })),
	    el('div', { class: 'page-actions' }, liveNote(ctx), actions)),
	actErr, card('Connector', facts));
	document.title = 'Connector ' + id + ' · uplink cloud console';

	let conn = null;
	const showCheck = c => checkOut.replaceChildren(renderCheck(c));
	const loadHistory = async background => {
		const r = await get(path + '/checks', background ? bg : undefined);
		if (!ctx.stale())
			history.replaceChildren(checksTable(r.checks || [], showCheck));
		return r.checks || [];
	};
	const renderActions = c => {
		actions.replaceChildren();
		if (!canWrite())
			return;
		const revoked = c.state === 'revoked';
		const run = button('Run connectivity check', runCheck, { testid: 'check-run',
		    disabled: revoked || c.state === 'offline',
		    title: revoked || c.state === 'offline' ? 'The connector has no tunnel: it cannot run a check now' : null });
		actions.append(run);
		if (!revoked) {
			actions.append(c.drained ?
			    button('Resume', ev => act(ev.currentTarget, async () => {
				    show(await api('POST', path + '/resume'));
				    toast('Connector ' + (c.name || c.id) + ' takes new streams again.', 'ok');
			    }, actErr), { kind: 'secondary', testid: 'resume' }) :
			    button('Drain', drain, { kind: 'secondary', testid: 'drain' }),
			    button('Revoke', revoke, { kind: 'danger', testid: 'revoke' }));
		}
	};
	const show = c => {
		conn = c;
		title.textContent = 'Connector ' + (c.name || c.id);
		document.title = title.textContent + ' · uplink cloud console';
		facts.replaceChildren(connectorFacts(c));
		if (!ctx.main.contains(actions) || actions.dataset.sig !== c.state + ':' + c.drained) {
			actions.dataset.sig = c.state + ':' + c.drained;
			renderActions(c);
		}
	};
	async function runCheck(ev) {
		const btn = ev.currentTarget;
		btn.disabled = true;
		btn.textContent = 'Checking…';
		checkOut.replaceChildren(loading('Running the connectivity check on ' + (conn.name || conn.id) +
		    ' (this can take up to a minute)…'));
		try {
			const chk = await api('POST', path + '/check');
			if (ctx.stale())
				return;
			showCheck(chk);
			loadHistory(false).catch(() => {});
		} catch (e) {
			if (!e.handled && !ctx.stale())
				checkOut.replaceChildren(errorBox(e));
		} finally {
			btn.textContent = 'Run connectivity check';
			btn.disabled = false;
			refreshBellSoon();
		}
	}
	async function drain(ev) {
		const btn = ev.currentTarget;
		const ok = await confirmDialog({ title: 'Drain connector ' + (conn.name || conn.id) + '?',
		    message: 'No new streams are routed to it; streams that are open go on. Use this before ' +
			'taking its host down. Resume undoes it.', confirm: 'Drain connector' });
		if (!ok)
			return;
		await act(btn, async () => {
			show(await api('POST', path + '/drain'));
			toast('Connector ' + (conn.name || conn.id) + ' is draining.', 'ok');
		}, actErr);
	}
	async function revoke(ev) {
		const btn = ev.currentTarget;
		const ok = await confirmDialog({ title: 'Revoke connector ' + (conn.name || conn.id) + '?',
		    message: 'Its tunnels close at once and every certificate it had is revoked. It can come back ' +
			'only by enrolling again with a new token. This cannot be undone.',
		    confirm: 'Revoke connector', danger: true });
		if (!ok)
			return;
		await act(btn, async () => {
			show(await api('POST', path + '/revoke'));
			toast('Connector ' + (conn.name || conn.id) + ' is revoked.', 'ok');
		}, actErr);
	}

	let c;
	try {
		c = await get(path);
	} catch (e) {
		if (!e.handled && !ctx.stale())
			facts.replaceChildren(errorBox(e, route));
		return;
	}
	if (ctx.stale())
		return;
	show(c);
	ctx.main.append(card('Connectivity check', checkOut, { testid: 'check-card' }),
	    card('Past checks', history, { class: 'card-flush' }));
	const sub = 'Runs on the connector exactly what uplink-connector check runs there: every required ' +
	    'address, by the route the connector takes.';
	checkOut.replaceChildren(el('p', { class: 'muted', text: sub }));
	history.replaceChildren(loading('Loading past checks…'));
	try {
		const checks = await loadHistory(false);
		if (checks.length && !ctx.stale() && !checkOut.querySelector('[data-testid="check-result"]')) {
			checkOut.replaceChildren(el('p', { class: 'muted', text: 'The latest check:' }), renderCheck(checks[0]));
		}
	} catch (e) {
		if (!e.handled && !ctx.stale())
			history.replaceChildren(errorBox(e));
	}
	ctx.setLive(null);
	ctx.every(LIVE_MS, async () => {
		const c2 = await get(path, bg);
		if (!ctx.stale())
			show(c2);
	});
}

/* --------------------------------------------------------------- tokens */

const TTLS = [['30m', '30 minutes'], ['1h', '1 hour'], ['24h', '24 hours'], ['7d', '7 days'], ['30d', '30 days']];

async function pageTokens(ctx) {
	const list = el('div');
	const secret = el('div', { 'aria-live': 'polite' });
	ctx.main.append(pageHeader('Enrollment tokens', 'A token lets one connector enroll into a site, once, before it expires.'));
	if (canWrite()) {
		const site = el('input', { type: 'text', name: 'site', required: true, testid: 'token-site',
		    list: 'site-names', autocomplete: 'off', value: ctx.query.get('site') || '', spellcheck: 'false' });
		const datalist = el('datalist', { id: 'site-names' });
		const ttl = select(TTLS, '24h', { name: 'ttl', testid: 'token-ttl' });
		const err = el('div', { class: 'form-error', testid: 'token-error', 'aria-live': 'assertive' });
		const submit = button('Create token', null, { submit: true, testid: 'token-create' });
		const form = el('form', { class: 'form form-inline', novalidate: true },
		    field('Site', site, 'A new name creates the site.'), field('Valid for', ttl), submit);
		form.addEventListener('submit', async ev => {
			ev.preventDefault();
			err.replaceChildren();
			if (!site.value.trim()) {
				err.append(alertBox('Enter the site the connector belongs to.', 'error'));
				site.focus();
				return;
			}
			const t = await act(submit, () => api('POST', '/tokens', { site: site.value.trim(), ttl: ttl.value }), err);
			if (!t)
				return;
			secret.replaceChildren(tokenSecret(t));
			loadList();
		});
		ctx.main.append(card('Create a token', [form, err, datalist]), secret);
		get('/sites').then(r => {
			for (const s of r.sites)
				datalist.append(el('option', { value: s.name }));
		}).catch(() => {});
	}
	ctx.main.append(card('Tokens', list, { class: 'card-flush' }));
	const loadList = () => loadInto(ctx, list, 'tokens', () => get('/tokens'), r => {
		if (!r.tokens.length)
			return emptyState('No enrollment tokens yet.');
		return table([
			{ title: 'ID', cell: t => el('span', { class: 'mono', text: t.id }) },
			{ title: 'Site', cell: t => t.site },
			{ title: 'State', cell: t => badge(t.state, t.state, 'token-state') },
			{ title: 'Created', cell: t => timeCell(t.created_at) },
			{ title: 'Expires', cell: t => timeCell(t.expires_at) },
			{ title: 'Used by', cell: t => t.used_by ? linkTo('/connectors/' + encodeURIComponent(t.used_by), t.used_by) : '—' },
			{ title: '', class: 'actions', cell: t => canWrite() && t.state === 'valid' ?
			    button('Revoke', ev => revokeToken(ev, t), { small: true, kind: 'danger-quiet', testid: 'token-revoke',
				label: 'Revoke token ' + t.id }) : null },
		], r.tokens, t => ({ testid: 'token-row', dataset: { token: t.id, state: t.state } }), { caption: 'Enrollment tokens' });
	});
	async function revokeToken(ev, t) {
		const btn = ev.currentTarget;
		const ok = await confirmDialog({ title: 'Revoke token ' + t.id + '?',
		    message: 'No connector can enroll with it afterwards.', confirm: 'Revoke token', danger: true });
		if (ok && await act(btn, () => api('POST', '/tokens/' + encodeURIComponent(t.id) + '/revoke')))
			loadList();
	}
	await loadList();
}

function tokenSecret(t) {
	return card('Token created for site ' + t.site, [
		alertBox('Copy the token now: it is shown only this once. The cloud keeps only a hash of it.', 'info'),
		el('p', { class: 'label-text', text: 'Token (valid until ' + fmtTime(t.expires_at) + ')' }),
		copyBox(t.token, 'token-secret', 'the token'),
		el('p', { class: 'label-text', text: 'On the connector\'s host, as root:' }),
		copyBox(t.command || ('uplink-connector enroll --token ' + t.token), 'token-command', 'the command'),
	], { testid: 'token-secret-panel', class: 'secret-card',
	    actions: button('Done', ev => ev.currentTarget.closest('.card').remove(), { small: true, kind: 'secondary', testid: 'token-done' }) });
}

/* ------------------------------------------------------------- services */

async function pageServices(ctx) {
	const list = el('div');
	ctx.main.append(pageHeader('Published services', 'A published service listens on the cloud and forwards each connection to a target inside a site.'));
	if (canWrite()) {
		const inputs = {
			name: el('input', { type: 'text', testid: 'service-name', autocomplete: 'off', spellcheck: 'false' }),
			site: el('input', { type: 'text', testid: 'service-site', list: 'site-names', autocomplete: 'off', spellcheck: 'false' }),
			target: el('input', { type: 'text', testid: 'service-target', placeholder: 'intranet.corp.example:80', spellcheck: 'false' }),
			listen: el('input', { type: 'text', testid: 'service-listen', placeholder: '127.0.0.1:8080', spellcheck: 'false' }),
		};
		const err = el('div', { class: 'form-error', testid: 'service-error', 'aria-live': 'assertive' });
		const submit = button('Publish', null, { submit: true, testid: 'service-create' });
		const form = el('form', { class: 'form form-grid', novalidate: true },
		    field('Name', inputs.name), field('Site', inputs.site),
		    field('Target inside the site', inputs.target, 'HOST:PORT, allowed by the connectors\' access list.'),
		    field('Listen on the cloud', inputs.listen, 'ADDRESS:PORT'), el('div', { class: 'form-submit' }, submit));
		form.addEventListener('submit', async ev => {
			ev.preventDefault();
			const body = {};
			for (const [k, i] of Object.entries(inputs))
				body[k] = i.value.trim();
			const missing = Object.entries(body).filter(([, v]) => !v).map(([k]) => k);
			err.replaceChildren();
			if (missing.length) {
				err.append(alertBox('Fill in: ' + missing.join(', ') + '.', 'error'));
				return;
			}
			const s = await act(submit, () => api('POST', '/services', body), err);
			if (s) {
				toast('Service ' + s.name + ' is published on ' + s.listen + '.', 'ok');
				for (const i of Object.values(inputs))
					i.value = '';
				loadList();
			}
		});
		ctx.main.append(card('Publish a service', [form, err]));
	}
	ctx.main.append(card('Services', list, { class: 'card-flush' }));
	const loadList = () => loadInto(ctx, list, 'services', () => get('/services'), r => {
		if (!r.services.length)
			return emptyState('No published services yet.');
		const fromConfig = r.services.some(s => s.source === 'config');
		return el('div', { class: 'stack' },
		    fromConfig ? alertBox('Services from [publish NAME] sections of cloud.conf are read-only here: ' +
			'change them in cloud.conf.', 'info', 'config-note') : null,
		    table([
			{ title: 'Name', cell: s => el('strong', { text: s.name }) },
			{ title: 'Site', cell: s => linkTo('/sites/' + encodeURIComponent(s.site), s.site) },
			{ title: 'Target', cell: s => el('span', { class: 'mono', text: s.target }) },
			{ title: 'Listen', cell: s => el('div', { class: 'name-cell' }, el('span', { class: 'mono', text: s.listen }),
			    s.listening === false ? badge('fail', 'not listening', 'service-not-listening') : null) },
			{ title: 'Source', cell: s => badge(s.source === 'config' ? 'config' : 'api',
			    s.source === 'config' ? 'cloud.conf' : 'console / API') },
			{ title: 'Updated', cell: s => timeCell(s.updated_at || s.created_at) },
			{ title: '', class: 'actions', cell: s => s.source === 'config' ?
			    el('span', { class: 'muted small', text: 'read-only' }) : canWrite() ? [
				button('Edit', () => editService(s), { small: true, kind: 'secondary', testid: 'service-edit',
				    label: 'Edit service ' + s.name }), ' ',
				button('Delete', ev => deleteService(ev, s), { small: true, kind: 'danger-quiet',
				    testid: 'service-delete', label: 'Delete service ' + s.name }),
			    ] : null },
		    ], r.services, s => ({ testid: 'service-row', dataset: { service: s.name, source: s.source } }),
		    { caption: 'Published services' }));
	});
	async function editService(s) {
		const fields = ['site', 'target', 'listen'].map(k => ({
			name: k, label: { site: 'Site', target: 'Target inside the site', listen: 'Listen on the cloud' }[k],
			input: el('input', { type: 'text', value: s[k], spellcheck: 'false', testid: 'edit-' + k }),
		}));
		const r = await formDialog({ title: 'Edit service ' + s.name, fields, confirm: 'Save changes',
		    note: 'Changes apply at once.',
		    submit: v => {
			    const body = {};
			    for (const k of Object.keys(v))
				    if (v[k] !== s[k])
					    body[k] = v[k];
			    return Object.keys(body).length ? api('PATCH', '/services/' + encodeURIComponent(s.name), body) : s;
		    } });
		if (r) {
			toast('Service ' + s.name + ' saved.', 'ok');
			loadList();
		}
	}
	async function deleteService(ev, s) {
		const btn = ev.currentTarget;
		const ok = await confirmDialog({ title: 'Delete service ' + s.name + '?',
		    message: 'The cloud stops listening on ' + s.listen + ' at once; open connections close.',
		    confirm: 'Delete service', danger: true });
		if (ok && await act(btn, async () => {
			await api('DELETE', '/services/' + encodeURIComponent(s.name));
			return true;
		})) {
			toast('Service ' + s.name + ' deleted.', 'ok');
			loadList();
		}
	}
	await loadList();
}

/* --------------------------------------------------------- requirements */

/* "https://host:port/path", "host:port" or "host" -> a catalog address. */
function parseAddress(line) {
	const m = /^(?:(https?):\/\/)?(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+)(?::(\d{1,5}))?(\/\S*)?$/.exec(line);
	if (!m)
		return null;
	const a = { host: m[2].replace(/^\[|\]$/g, '') };
	if (m[1])
		a.scheme = m[1];
	if (m[3])
		a.port = Number(m[3]);
	if (m[4] && m[4] !== '/')
		a.path = m[4];
	return a;
}

async function pageRequirements(ctx) {
	const body = el('div', { class: 'stack' });
	const textOut = el('div', { 'aria-live': 'polite' });
	const copyBtn = button('Copy as text', async ev => {
		const btn = ev.currentTarget;
		const text = await act(btn, () => api('GET', '/requirements?format=text', undefined, { text: true }));
		if (typeof text !== 'string')
			return;
		textOut.replaceChildren(card('As text, for a firewall or proxy allow list', el('pre', { class: 'pre', testid: 'requirements-text', text })));
		await copyText(text, btn);
	}, { kind: 'secondary', testid: 'requirements-copy' });
	ctx.main.append(pageHeader('Required addresses', 'What a connector must reach, per service: give this list to whoever runs the firewall or proxy.',
	    copyBtn), textOut, body);
	const render = cat => {
		const frag = el('div', { class: 'stack' });
		for (const svc of cat.services || []) {
			const rm = canWrite() && svc.name !== 'cloud' ? button('Remove', async ev => {
				const ok = await confirmDialog({ title: 'Remove service ' + svc.name + '?',
				    message: 'Its addresses leave the catalog that connectors check.', confirm: 'Remove', danger: true });
				if (ok && await act(ev.currentTarget, async () => {
					await api('DELETE', '/requirements/' + encodeURIComponent(svc.name));
					return true;
				}))
					route();
			}, { small: true, kind: 'danger-quiet', testid: 'requirement-remove' }) : null;
			frag.append(card(el('div', { class: 'card-title' }, el('h2', { text: svc.name }),
			    svc.purpose ? el('span', { class: 'muted', text: svc.purpose }) : null,
			    svc.name === 'cloud' ? el('span', { class: 'muted small', text: '(built in)' }) : null), [
				table([
					{ title: 'Host', cell: a => el('div', { class: 'name-cell' }, el('span', { class: 'mono', text: a.host }),
					    a.probe ? el('span', { class: 'muted small', text: 'probed as ' + a.probe }) : null) },
					{ title: 'Port', num: true, cell: a => String(a.port || (a.scheme === 'http' ? 80 : 443)) },
					{ title: 'Scheme', cell: a => a.scheme || 'https' },
					{ title: 'Path', cell: a => a.path ? el('span', { class: 'mono', text: a.path }) : '—' },
					{ title: 'Purpose', class: 'wrap', cell: a => a.purpose || svc.purpose || '—' },
				], svc.addresses || [], () => ({ testid: 'requirement-row' }), { caption: 'Addresses of ' + svc.name }),
			], { testid: 'requirement-service', dataset: { service: svc.name }, actions: rm }));
		}
		if (!(cat.services || []).length)
			frag.append(emptyState('The catalog is empty.'));
		return frag;
	};
	await loadInto(ctx, body, 'the catalog', () => get('/requirements'), render);
	if (canWrite() && !ctx.stale())
		ctx.main.append(requirementForm());
}

function requirementForm() {
	const name = el('input', { type: 'text', testid: 'requirement-name', spellcheck: 'false' });
	const purpose = el('input', { type: 'text', testid: 'requirement-purpose' });
	const addrs = el('textarea', { rows: '4', testid: 'requirement-addresses', spellcheck: 'false',
	    placeholder: 'https://updates.example.net\nhttp://crl.example.net/ca.crl\napi.example.net:8443' });
	const err = el('div', { class: 'form-error', 'aria-live': 'assertive' });
	const submit = button('Save service', null, { submit: true, testid: 'requirement-save' });
	const form = el('form', { class: 'form form-grid', novalidate: true },
	    field('Service name', name), field('Purpose', purpose),
	    field('Addresses, one per line', addrs, 'host, host:port or scheme://host:port/path (https by default). ' +
		'Saving an existing name replaces its addresses.', { class: 'span2' }),
	    el('div', { class: 'form-submit' }, submit));
	form.addEventListener('submit', async ev => {
		ev.preventDefault();
		err.replaceChildren();
		const lines = addrs.value.split('\n').map(l => l.trim()).filter(Boolean);
		const parsed = lines.map(parseAddress);
		const bad = lines.filter((l, i) => !parsed[i]);
		if (!name.value.trim() || !lines.length || bad.length) {
			err.append(alertBox(!name.value.trim() ? 'Enter the service name.' : !lines.length ?
			    'Enter at least one address.' : 'Not an address: ' + bad.join(', ') + '.', 'error'));
			return;
		}
		const body = { addresses: parsed };
		if (purpose.value.trim())
			body.purpose = purpose.value.trim();
		if (await act(submit, () => api('PUT', '/requirements/' + encodeURIComponent(name.value.trim()), body), err))
			route();
	});
	return card('Add or replace a service', [form, err]);
}

/* -------------------------------------------------------- notifications */

/* The subject is a connector id, or a site name for site-no-redundancy. */
function noteSubject(n) {
	const subj = String(n.subject || '');
	let href = null;
	if (n.kind === 'site-no-redundancy')
		href = '/sites/' + encodeURIComponent(subj);
	else if (/^c-[0-9a-f]{12}$/.test(subj))
		href = '/connectors/' + encodeURIComponent(subj);
	const label = n.kind === 'site-no-redundancy' ? 'Site ' + subj : subj;
	return el('strong', null, href ? linkTo(href, label, 'notification-subject') : label);
}

async function pageNotifications(ctx) {
	const list = el('div');
	const markAll = canWrite() ? button('Mark all read', async ev => {
		if (await act(ev.currentTarget, async () => {
			await api('POST', '/notifications/read-all');
			return true;
		}))
			load();
	}, { kind: 'secondary', testid: 'mark-all-read' }) : null;
	ctx.main.append(pageHeader('Notifications', 'Conditions that need attention. Each is raised once and marked resolved when it clears.', markAll), card(null, list, { class: 'card-flush' }));
	const load = () => loadInto(ctx, list, 'notifications', () => get('/notifications?limit=200'), r => {
		setBell(r.unread);
		if (!r.notifications.length)
			return emptyState('No notifications. Connectors going offline, revoked or failing checks show up here.');
		return table([
			{ title: 'Severity', cell: n => badge(n.severity, n.severity, 'notification-severity') },
			{ title: 'Notification', class: 'wrap', cell: n => el('div', { class: 'name-cell' },
			    noteSubject(n), el('span', { class: 'muted', text: n.message }),
			    el('span', { class: 'mono muted small', text: n.kind })) },
			{ title: 'Raised', cell: n => timeCell(n.created_at) },
			{ title: 'Resolved', cell: n => n.resolved_at ? timeCell(n.resolved_at) :
			    el('span', { class: 'muted', text: n.kind === 'connector-revoked' ? '—' : 'open' }) },
			{ title: 'Status', cell: n => n.read_at ? el('span', { class: 'muted', text: 'read' }) : badge('unread', 'unread') },
			{ title: '', class: 'actions', cell: n => canWrite() && !n.read_at ?
			    button('Mark read', async ev => {
				    if (await act(ev.currentTarget, async () => {
					    await api('POST', '/notifications/' + encodeURIComponent(n.id) + '/read');
					    return true;
				    }))
					    load();
			    }, { small: true, kind: 'secondary', testid: 'mark-read', label: 'Mark "' + n.subject + '" read' }) : null },
		], r.notifications, n => ({ testid: 'notification-row', class: n.read_at ? '' : 'row-unread',
		    dataset: { kind: n.kind, read: n.read_at ? 'yes' : 'no' } }), { caption: 'Notifications' });
	});
	await load();
}

/* ------------------------------------------------------------- settings */

const TIMEOUT_MIN = 10;
const TIMEOUT_MAX = 720;
const TIMEOUT_OFFERED = 60;

async function pageSettings(ctx) {
	const body = el('div', { class: 'stack' });
	ctx.main.append(pageHeader('Settings', 'Settings of this uplink cloud account, for every administrator.'), body);
	await loadInto(ctx, body, 'settings', () => get('/settings'), st => settingsForm(st));
}

function settingsForm(st) {
	const cur = st.console_inactivity_timeout_minutes;
	const enabled = el('input', { type: 'checkbox', role: 'switch', class: 'switch', testid: 'timeout-enabled',
	    checked: cur !== null && cur !== undefined, disabled: !canWrite() });
	const stateText = el('span', { class: 'switch-state', testid: 'timeout-state', 'aria-hidden': 'true' });
	const minutes = el('input', { type: 'number', inputmode: 'numeric', min: String(TIMEOUT_MIN), max: String(TIMEOUT_MAX),
	    step: '1', class: 'input-short', testid: 'timeout-minutes', value: String(cur || TIMEOUT_OFFERED),
	    disabled: !canWrite() });
	const msg = el('div', { class: 'form-error', testid: 'settings-message', 'aria-live': 'assertive' });
	const save = canWrite() ? button('Save', null, { submit: true, testid: 'settings-save' }) : null;
	const minutesField = field('Sign out after this many minutes without activity', minutes,
	    'From ' + TIMEOUT_MIN + ' to ' + TIMEOUT_MAX + ' minutes (12 hours); offered at ' + TIMEOUT_OFFERED + '.');
	const sync = () => {
		stateText.textContent = enabled.checked ? 'Enabled' : 'Disabled';
		minutesField.hidden = !enabled.checked;
	};
	enabled.addEventListener('change', sync);
	sync();
	const switchId = nextId('sw');
	enabled.id = switchId;
	const form = el('form', { class: 'form settings-form', novalidate: true },
	    el('div', { class: 'switch-row' },
		el('label', { for: switchId, class: 'switch-label', text: 'Console inactivity timeout' }),
		el('span', { class: 'switch-wrap' }, enabled, stateText)),
	    el('p', { class: 'hint', text: 'Disabled: administrators stay signed in until their session reaches 72 hours. ' +
		'Enabled: they are signed out after the period below without console activity, and at the ' +
		'latest 24 hours after signing in. Automatic refreshes do not count as activity. ' +
		'A change applies to every signed-in administrator at once.' }),
	    minutesField, msg, save);
	form.addEventListener('submit', async ev => {
		ev.preventDefault();
		msg.replaceChildren();
		let value = null;
		if (enabled.checked) {
			const raw = minutes.value.trim();
			const n = Number(raw);
			if (!raw || !Number.isInteger(n) || n < TIMEOUT_MIN || n > TIMEOUT_MAX) {
				msg.append(alertBox('The inactivity timeout must be a whole number of minutes from ' +
				    TIMEOUT_MIN + ' to ' + TIMEOUT_MAX + ' (12 hours).', 'error', 'settings-error'));
				minutes.focus();
				return;
			}
			value = n;
		}
		const r = await act(save, () => api('PATCH', '/settings', { console_inactivity_timeout_minutes: value }), msg);
		if (!r)
			return;
		const v = r.console_inactivity_timeout_minutes;
		msg.append(alertBox(v === null || v === undefined ? 'Saved: the console inactivity timeout is disabled.' :
		    'Saved: administrators are signed out after ' + fmtMinutes(v) + ' without activity.', 'ok', 'settings-saved'));
		syncSession();
	});
	const note = canWrite() ? null : alertBox('You have read-only access: only a full administrator can change settings.', 'info');
	return card('Console sessions', [note, form]);
}

/* --------------------------------------------------------------- admins */

async function pageAdmins(ctx) {
	const list = el('div');
	ctx.main.append(pageHeader('Administrators', 'Who may sign in to this console. Full administrators change things; read-only ones only look.'));
	if (canWrite()) {
		const email = el('input', { type: 'email', testid: 'admin-email', autocomplete: 'off' });
		const pass = el('input', { type: 'password', testid: 'admin-password', autocomplete: 'new-password', minlength: '12' });
		const role = select([['read', 'Read-only'], ['full', 'Full access']], 'read', { testid: 'admin-role' });
		const err = el('div', { class: 'form-error', 'aria-live': 'assertive', testid: 'admin-error' });
		const submit = button('Add administrator', null, { submit: true, testid: 'admin-add' });
		const form = el('form', { class: 'form form-inline', novalidate: true },
		    field('E-mail', email), field('Initial password', pass, 'At least 12 characters.'), field('Role', role), submit);
		form.addEventListener('submit', async ev => {
			ev.preventDefault();
			err.replaceChildren();
			if (!email.value.trim() || pass.value.length < 12) {
				err.append(alertBox(!email.value.trim() ? 'Enter the e-mail address.' :
				    'The password needs at least 12 characters.', 'error'));
				return;
			}
			const a = await act(submit, () => api('POST', '/admins', { email: email.value.trim(), password: pass.value, role: role.value }), err);
			if (a) {
				toast(a.email + ' can now sign in.', 'ok');
				email.value = '';
				pass.value = '';
				load();
			}
		});
		ctx.main.append(card('Add an administrator', [form, err]));
	}
	ctx.main.append(card('Administrators', list, { class: 'card-flush' }));
	const me = state.session.admin.id;
	const load = () => loadInto(ctx, list, 'administrators', () => get('/admins'), r => table([
		{ title: 'E-mail', cell: a => el('span', null, a.email, a.id === me ? el('span', { class: 'muted', text: ' (you)' }) : null) },
		{ title: 'Role', cell: a => canWrite() ? select([['full', 'Full access'], ['read', 'Read-only']], a.role, {
			testid: 'admin-role-select', 'aria-label': 'Role of ' + a.email,
			on: { change: async ev => {
				const sel = ev.currentTarget;
				const ok = await act(sel, () => api('PATCH', '/admins/' + encodeURIComponent(a.id), { role: sel.value }));
				if (ok) {
					toast(a.email + ' is now ' + (sel.value === 'full' ? 'a full' : 'a read-only') + ' administrator.', 'ok');
					if (a.id === me)
						syncSession().then(route);
				} else {
					sel.value = a.role;
				}
			} } }) : badge(a.role, a.role === 'full' ? 'full access' : 'read-only') },
		{ title: 'Added', cell: a => timeCell(a.created_at) },
		{ title: 'Last sign-in', cell: a => timeCell(a.last_sign_in, true) },
		{ title: '', class: 'actions', cell: a => canWrite() ? button('Remove', async ev => {
			const ok = await confirmDialog({ title: 'Remove ' + a.email + '?',
			    message: (a.id === me ? 'This is you: your session ends at once. ' : 'Their sessions end at once. ') +
				'They cannot sign in any more.', confirm: 'Remove administrator', danger: true });
			if (ok && await act(ev.currentTarget, async () => {
				await api('DELETE', '/admins/' + encodeURIComponent(a.id));
				return true;
			}))
				load();
		}, { small: true, kind: 'danger-quiet', testid: 'admin-remove', label: 'Remove ' + a.email }) : null },
	], r.admins, a => ({ testid: 'admin-row', dataset: { admin: a.email } }), { caption: 'Administrators' }));
	await load();
}

/* ----------------------------------------------------------------- keys */

async function pageKeys(ctx) {
	const list = el('div');
	const secret = el('div', { 'aria-live': 'polite' });
	ctx.main.append(pageHeader('API keys', 'Keys let programs use the REST API (Authorization: Bearer) and the ingress proxy.'));
	if (canWrite()) {
		const name = el('input', { type: 'text', testid: 'key-name', autocomplete: 'off', spellcheck: 'false' });
		const scope = select([['read', 'Read: GET only'], ['full', 'Full: everything']], 'read', { testid: 'key-scope' });
		const err = el('div', { class: 'form-error', 'aria-live': 'assertive' });
		const submit = button('Create key', null, { submit: true, testid: 'key-create' });
		const form = el('form', { class: 'form form-inline', novalidate: true },
		    field('Name', name, 'What uses it, e.g. "backup scripts".'), field('Scope', scope), submit);
		form.addEventListener('submit', async ev => {
			ev.preventDefault();
			err.replaceChildren();
			if (!name.value.trim()) {
				err.append(alertBox('Enter a name for the key.', 'error'));
				return;
			}
			const k = await act(submit, () => api('POST', '/keys', { name: name.value.trim(), scope: scope.value }), err);
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
			{ title: 'Scope', cell: k => badge(k.scope, k.scope) },
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

/* ---------------------------------------------------------------- audit */

async function pageAudit(ctx) {
	const list = el('div');
	const pager = el('div', { class: 'pager' });
	ctx.main.append(pageHeader('Audit log', 'Every change made through the API or the console, every sign-in and sign-out.'),
	    card(null, [list, pager], { class: 'card-flush' }));
	const stack = [];        // the "before" of the pages already seen
	let before = null;
	const load = async () => {
		const q = '?limit=' + AUDIT_PAGE + (before ? '&before=' + encodeURIComponent(before) : '');
		let lastId = null;
		let count = 0;
		const ok = await loadInto(ctx, list, 'the audit log', () => get('/audit' + q), r => {
			count = r.entries.length;
			lastId = count ? r.entries[count - 1].id : null;
			if (!count)
				return emptyState('No entries.');
			return table([
				{ title: 'Time', cell: e => timeCell(e.at) },
				{ title: 'Actor', cell: e => el('span', null, e.actor || '—',
				    el('span', { class: 'muted small', text: ' · ' + e.actor_kind })) },
				{ title: 'From', cell: e => el('span', { class: 'mono', text: e.address || '—' }) },
				{ title: 'Action', cell: e => el('span', { class: 'mono', text: e.action }) },
				{ title: 'Target', cell: e => e.target ? el('span', { class: 'mono', text: e.target }) : '—' },
				{ title: 'Detail', class: 'wrap', cell: e => e.detail || '—' },
			], r.entries, e => ({ testid: 'audit-row' }), { caption: 'Audit log' });
		});
		pager.replaceChildren();
		if (!ok)
			return;
		const newer = button('Newer', () => {
			before = stack.pop() || null;
			load();
		}, { kind: 'secondary', small: true, disabled: !before, testid: 'audit-newer' });
		const older = button('Older', () => {
			stack.push(before);
			before = lastId;
			load();
		}, { kind: 'secondary', small: true, disabled: count < AUDIT_PAGE, testid: 'audit-older' });
		pager.append(newer, el('span', { class: 'muted', text: 'Page ' + (stack.length + 1) }), older);
	};
	await load();
}

/* ----------------------------------------------------------------- boot */

async function boot() {
	window.addEventListener('hashchange', () => {
		if (state.session)
			route();
		else if (location.hash !== '#/signin')
			showSignin(null);
	});
	let s;
	try {
		s = await get('/session', { signin: true });
	} catch (e) {
		if (e.status === 401) {
			const r = e.body && e.body.reason;
			showSignin(r === 'expired-idle' || r === 'expired-absolute' ?
			    { kind: 'warn', text: e.body.message || 'Your session ended. Sign in again.' } : null);
		} else {
			const app = document.getElementById('app');
			app.replaceChildren(el('div', { class: 'signin-wrap' }, el('div', { class: 'signin-card' }, brand(),
			    errorBox(e, () => location.reload()))));
		}
		return;
	}
	startSession(s);
}

if (document.readyState === 'loading')
	document.addEventListener('DOMContentLoaded', boot);
else
	boot();

})();
