/* uplink cloud console: lib/shell.js */
import { api, bg, get } from './api.js';
import { el, icon } from './dom.js';
import { plural, zoneName } from './format.js';
import { route } from './router.js';
import { sessionBar, stopTimers } from './session.js';
import { showSignin } from './signin.js';
import { state } from './state.js';
import { button, toast } from './widgets.js';

export const NAV = [
	['overview', 'Overview'],
	['instances', 'Instances'],
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

export function brand() {
	return el('div', { class: 'brand' }, el('span', { class: 'brand-mark' }, icon('logo')),
	    el('span', { class: 'brand-name', text: 'uplink' }),
	    el('span', { class: 'brand-sub', text: 'cloud console' }));
}

export function renderShell() {
	const s = state.session;
	const bell = el('a', { href: '#/notifications', class: 'bell', testid: 'bell',
	    'aria-label': 'Notifications' }, icon('bell'),
	    el('span', { class: 'bell-count', testid: 'bell-count', hidden: true, text: '0' }));
	const menu = el('button', { type: 'button', class: 'btn-icon menu-button', testid: 'menu',
	    'aria-expanded': 'false', 'aria-controls': 'sidenav', 'aria-label': 'Menu' }, icon('menu'));
	const utc = el('button', { type: 'button', class: 'btn btn-topbar btn-small', testid: 'utc-toggle',
	    'aria-pressed': state.utc ? 'true' : 'false', title: 'Show times in UTC or in this browser\'s time zone',
	    text: 'UTC' });
	utc.addEventListener('click', () => {
		state.utc = !state.utc;
		localStorage.setItem('uplink-console-utc', state.utc ? '1' : '0');
		utc.setAttribute('aria-pressed', state.utc ? 'true' : 'false');
		toast(state.utc ? 'Times are shown in UTC.' : 'Times are shown in ' + zoneName() + '.', 'ok');
		route();
	});
	const top = el('header', { class: 'topbar' }, menu, brand(), el('div', { class: 'topbar-spacer' }),
	    utc, bell,
	    el('div', { class: 'whoami' },
		el('span', { class: 'whoami-email', testid: 'topbar-email', text: s.admin.email }),
		el('span', { class: 'role role-' + s.admin.role, testid: 'topbar-role',
		    text: s.admin.role === 'full' ? 'full access' : 'read-only' })),
	    button('Sign out', signOut, { kind: 'topbar', testid: 'signout' }));
	const nav = el('nav', { id: 'sidenav', class: 'sidenav', 'aria-label': 'Console pages' },
	    el('ul', null, NAV.map(([key, label]) => key === '-' ?
		el('li', { class: 'nav-group', text: label }) :
		el('li', null, el('a', { href: '#/' + key, testid: 'nav-' + key, dataset: { page: key },
		    text: label })))));
	/* At phone width the navigation is a menu that the button opens. */
	const setMenu = open => {
		nav.classList.toggle('open', open);
		menu.setAttribute('aria-expanded', open ? 'true' : 'false');
	};
	menu.addEventListener('click', () => setMenu(!nav.classList.contains('open')));
	nav.addEventListener('click', ev => {
		if (ev.target.closest('a'))
			setMenu(false);
	});
	nav.addEventListener('keydown', ev => {
		if (ev.key === 'Escape' && nav.classList.contains('open')) {
			setMenu(false);
			menu.focus();
		}
	});
	const main = el('main', { id: 'main', class: 'main', tabindex: '-1' });
	const app = document.getElementById('app');
	app.className = 'app shell';
	app.replaceChildren(el('a', { href: '#main', class: 'skip-link', testid: 'skip-link',
	    text: 'Skip to the page', on: { click: ev => {
		    ev.preventDefault();
		    document.getElementById('main').focus();
	    } } }), top, sessionBar(), nav, main,
	    el('div', { id: 'toasts', class: 'toasts', 'aria-live': 'polite' }));
	refreshBell();
}

export function setBell(unread) {
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

export async function refreshBell() {
	if (!state.session)
		return;
	try {
		const r = await get('/notifications?unread=1&limit=1', bg);
		setBell(r.unread);
	} catch (e) {
		/* the next round tries again */
	}
}

export function refreshBellSoon() {
	refreshBell();
	setTimeout(refreshBell, 2000);
}

export async function signOut(ev) {
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
