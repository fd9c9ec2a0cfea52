/*
 * uplink cloud console: a single page application on the REST API
 * (/api/v1/, docs/api.md), in ES modules that the browser loads itself
 * (no bundler; all compiled into uplink-cloud): lib/ holds what every page
 * shares, pages/ has one module per console page, and this file boots it. No framework and no external resource: the page
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

import { get } from './lib/api.js';
import { el } from './lib/dom.js';
import { route } from './lib/router.js';
import { brand } from './lib/shell.js';
import { showSignin, startSession } from './lib/signin.js';
import { state } from './lib/state.js';
import { errorBox } from './lib/widgets.js';

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
			app.replaceChildren(el('main', { class: 'signin-wrap' }, el('div', { class: 'signin-card' }, brand(),
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
