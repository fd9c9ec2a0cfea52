/* uplink cloud console: lib/session.js */
import { bg, get } from './api.js';
import { el, icon } from './dom.js';
import { fmtCountdown, fmtMinutes, serverNow } from './format.js';
import { refreshBell } from './shell.js';
import { showSignin } from './signin.js';
import { BELL_MS, SYNC_MS, state } from './state.js';
import { toast } from './widgets.js';

export function canWrite() {
	return !!(state.session && state.session.admin && state.session.admin.role === 'full');
}

/*
 * A request that is not a background one restarted the server's inactivity
 * timer: move the local copy the same way, so that the warning bar goes
 * away without another round trip.
 */
export function noteActivity() {
	const s = state.session;
	if (!s || !s.inactivity_timeout_minutes)
		return;
	const idle = Math.floor(serverNow()) + s.inactivity_timeout_minutes * 60;
	s.idle_expires_at = idle;
	s.expires_at = s.absolute_expires_at ? Math.min(idle, s.absolute_expires_at) : idle;
}

export function updateSession(s) {
	state.session = s;
	state.csrf = s.csrf_token || state.csrf;
	state.lastSync = Date.now();
	const who = document.querySelector('[data-testid="topbar-email"]');
	if (who)
		who.textContent = s.admin.email;
	tickSession();
}

export const SIGNED_OUT_ELSEWHERE = 'You were signed out elsewhere (in another tab or window, or an ' +
    'administrator changed your account). Sign in again.';

export function sessionBanner(body, prev) {
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
	if (state.signingOut)
		return { kind: 'info', text: 'You signed out.' };
	/*
	 * Signed out in another tab: the server deleted the session and the
	 * browser its cookie, so the next request carries none ("missing"),
	 * or carries one the server no longer knows ("signed-out"). Either
	 * way the console says so in its own words, never the API's text
	 * about Authorization headers.
	 */
	if (prev)
		return { kind: 'warn', text: SIGNED_OUT_ELSEWHERE };
	return null;
}

export function sessionEnded(body) {
	const prev = state.session;
	if (!prev)
		return;
	state.session = null;
	state.csrf = null;
	stopTimers(true);
	showSignin(sessionBanner(body, prev));
}

export function startGlobalTimers() {
	stopTimers(true);
	state.globalTimers.push(setInterval(tickSession, 1000));
	state.globalTimers.push(setInterval(refreshBell, BELL_MS));
	state.globalTimers.push(setInterval(syncSession, SYNC_MS));
}

export function stopTimers(global) {
	for (const t of state.pageTimers)
		clearInterval(t);
	state.pageTimers = [];
	if (global) {
		for (const t of state.globalTimers)
			clearInterval(t);
		state.globalTimers = [];
	}
}

export async function syncSession() {
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
export function tickSession() {
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

export function sessionBar() {
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

export async function staySignedIn(ev) {
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
