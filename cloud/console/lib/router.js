/* uplink cloud console: lib/router.js */
import { el } from './dom.js';
import { stopTimers } from './session.js';
import { renderShell } from './shell.js';
import { showSignin } from './signin.js';
import { state } from './state.js';
import { emptyState, errorBox, linkTo, loading, pageHeader } from './widgets.js';
import { pageAddConnector } from '../pages/addconnector.js';
import { pageAdmins } from '../pages/admins.js';
import { pageAudit } from '../pages/audit.js';
import { pageConnector } from '../pages/connector.js';
import { pageInstances } from '../pages/instances.js';
import { pageKeys } from '../pages/keys.js';
import { pageNotifications } from '../pages/notifications.js';
import { pageOverview } from '../pages/overview.js';
import { pageRequirements } from '../pages/requirements.js';
import { pageServices } from '../pages/services.js';
import { pageSettings } from '../pages/settings.js';
import { pageSite } from '../pages/site.js';
import { pageTokens } from '../pages/tokens.js';

export const PAGES = {
	overview: pageOverview,
	sites: pageSite,
	connectors: pageConnector,
	instances: pageInstances,
	tokens: pageTokens,
	'add-connector': pageAddConnector,
	services: pageServices,
	requirements: pageRequirements,
	notifications: pageNotifications,
	settings: pageSettings,
	admins: pageAdmins,
	keys: pageKeys,
	audit: pageAudit,
};

export function parseHash() {
	const h = location.hash.replace(/^#\/?/, '');
	const q = h.indexOf('?');
	const path = (q < 0 ? h : h.slice(0, q)).split('/').filter(Boolean).map(decodeURIComponent);
	const query = new URLSearchParams(q < 0 ? '' : h.slice(q + 1));
	return { page: path[0] || 'overview', arg: path[1] || null, query };
}

export async function route() {
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
	const navKey = r.page === 'sites' || r.page === 'connectors' ||
	    r.page === 'add-connector' ? 'overview' : r.page;
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
		const done = fn(ctx);
		focusHeading(main, r.page);
		await done;
	} catch (e) {
		if (!e.handled && !ctx.stale())
			main.append(errorBox(e, route));
	}
}

/*
 * After a navigation, keyboard and screen reader users land on the new
 * page's heading rather than on the link they used (the first page after
 * signing in or loading keeps the browser's own focus).
 */
let firstPage = true;
function focusHeading(main, page) {
	const h = main.querySelector('h1');
	if (firstPage || !h) {
		firstPage = false;
		return;
	}
	h.setAttribute('tabindex', '-1');
	h.focus({ preventScroll: true });
}

export function liveNote(ctx) {
	ctx.liveNote = el('span', { class: 'live-note', testid: 'live-note', 'aria-live': 'off' }, 'Live');
	return ctx.liveNote;
}

/*
 * Loads a page's data: shows a loading line in body, then render(data) or
 * the API's error with a retry button. Returns false when it failed.
 */
export async function loadInto(ctx, body, what, fetchFn, render) {
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
