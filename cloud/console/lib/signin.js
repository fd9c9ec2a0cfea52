/* uplink cloud console: lib/signin.js */
import { api } from './api.js';
import { el } from './dom.js';
import { fmtCountdown } from './format.js';
import { route } from './router.js';
import { startGlobalTimers, stopTimers, updateSession } from './session.js';
import { brand, renderShell } from './shell.js';
import { state } from './state.js';
import { alertBox, button, field } from './widgets.js';

export function showSignin(banner) {
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
	app.replaceChildren(el('main', { class: 'signin-wrap' },
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

export function startSession(s) {
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
