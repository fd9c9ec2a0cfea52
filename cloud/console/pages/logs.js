/* uplink cloud console: pages/logs.js (the Logs tab and the events timelines) */
import { bg, get } from '../lib/api.js';
import { el, patch } from '../lib/dom.js';
import { fmtTimeFull, pad2, timeCell } from '../lib/format.js';
import { state } from '../lib/state.js';
import { emptyState, errorBox, field, loading, select, table } from '../lib/widgets.js';

const KEEP = 1000;		/* lines kept on the page */
const WAIT_S = 25;		/* a long poll of the live tail */

function pad3(n) {
	return String(n).padStart(3, '0');
}

/* HH:MM:SS.mmm in the console's zone (UTC when switched to it). */
function clock(ms) {
	const t = new Date(ms);
	const hms = state.utc ? [t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds()] :
	    [t.getHours(), t.getMinutes(), t.getSeconds()];
	return hms.map(pad2).join(':') + '.' + pad3(t.getMilliseconds());
}

function logRow(l) {
	const level = l.level || 'info';
	return el('div', { class: 'log-line log-' + level + (l.dropped ? ' log-dropped' : ''),
	    testid: 'log-line', dataset: { id: String(l.id), level } },
	    el('time', { class: 'log-time mono', title: fmtTimeFull(Math.floor(l.time / 1000)),
		datetime: new Date(l.time).toISOString(), text: clock(l.time) }),
	    el('span', { class: 'log-level', text: level }),
	    el('span', { class: 'log-msg', text: l.msg }));
}

/*
 * The Logs tab of a connector: the lines the cloud collected from it
 * (GET /connectors/{id}/logs), with a level filter, a search and Follow,
 * which keeps a long poll open (after=LAST&wait=25) while the tab is
 * shown and the page is the current one.
 */
export function logsPanel(ctx, id, isShown) {
	const path = '/connectors/' + encodeURIComponent(id) + '/logs';
	const level = select([['debug', 'All levels'], ['info', 'Info and worse'], ['warn', 'Warnings and errors'],
	    ['error', 'Errors only']], 'debug', { testid: 'logs-level' });
	const q = el('input', { type: 'search', testid: 'logs-search', autocomplete: 'off', spellcheck: 'false',
	    maxlength: 256 });
	const follow = el('input', { type: 'checkbox', testid: 'logs-follow', id: 'logs-follow' });
	const status = el('span', { class: 'list-count', testid: 'logs-status', role: 'status' });
	const view = el('div', { class: 'log-view', role: 'log', tabindex: '0', testid: 'logs-view',
	    'aria-label': 'Log lines of the connector' });
	const tools = el('div', { class: 'list-tools', role: 'search', 'aria-label': 'Filter the log' },
	    field('Level', level), field('Search the log', q),
	    el('div', { class: 'field field-check' }, follow, el('label', { for: 'logs-follow', text: 'Follow' })),
	    status);
	let next = 0, gen = 0, polling = false;

	const params = extra => {
		const p = new URLSearchParams();
		if (level.value !== 'debug')
			p.set('level', level.value);
		if (q.value.trim())
			p.set('q', q.value.trim());
		for (const [k, v] of Object.entries(extra))
			p.set(k, String(v));
		return '?' + p.toString();
	};
	const count = () => {
		const n = view.querySelectorAll('.log-line').length;
		status.textContent = (n ? n + (n === 1 ? ' line' : ' lines') : 'No lines') +
		    (follow.checked ? '; following new lines' : '');
	};
	const add = lines => {
		const atEnd = view.scrollHeight - view.scrollTop - view.clientHeight < 40;
		if (lines.length && !view.querySelector('.log-line'))
			view.replaceChildren();
		view.append(...lines.map(logRow));
		while (view.childElementCount > KEEP)
			view.firstElementChild.remove();
		if (atEnd || lines.length === view.childElementCount)
			view.scrollTop = view.scrollHeight;
		count();
	};
	async function load() {
		const my = ++gen;
		if (!view.querySelector('.log-line'))
			view.replaceChildren(loading('Loading the log…'));
		try {
			const r = await get(path + params({ limit: 200 }));
			if (my !== gen || ctx.stale())
				return;
			next = r.next;
			view.replaceChildren();
			if (!r.lines.length)
				view.append(emptyState('No log lines' + (q.value || level.value !== 'debug' ?
				    ' match.' : ' yet. A connector sends its log over its tunnels while it is online.')));
			add(r.lines);
			poll();
		} catch (e) {
			if (!e.handled && my === gen && !ctx.stale())
				view.replaceChildren(errorBox(e));
		}
	}
	async function poll() {
		if (polling)
			return;
		polling = true;
		try {
			while (follow.checked && isShown() && !ctx.stale()) {
				const my = gen;
				const r = await get(path + params({ after: next, wait: WAIT_S, limit: 500 }), bg);
				if (my !== gen || ctx.stale())
					continue;
				next = r.next;
				add(r.lines);
			}
		} catch (e) {
			if (!e.handled && !ctx.stale())
				status.textContent = 'Following stopped: ' + e.message;
		} finally {
			polling = false;
		}
	}
	let timer = null;
	q.addEventListener('input', () => {
		clearTimeout(timer);
		timer = setTimeout(load, 300);
	});
	level.addEventListener('change', load);
	follow.addEventListener('change', () => {
		count();
		if (follow.checked)
			poll();
	});
	return {
		node: el('div', { class: 'stack', testid: 'logs-panel' }, tools, view),
		shown() {
			if (!view.querySelector('.log-line') || follow.checked)
				load();
		},
	};
}

const EVENT_KIND = {
	'enrolled': ['info', 'enrolled'], 'tunnel-up': ['online', 'tunnel up'],
	'tunnel-down': ['offline', 'tunnel down'], 'going-away': ['draining', 'going away'],
	'drained': ['draining', 'drained'], 'resumed': ['info', 'resumed'],
	'check-passed': ['pass', 'check passed'], 'check-failed': ['fail', 'check failed'],
	'cert-renewed': ['info', 'certificate renewed'], 'revoked': ['revoked', 'revoked'],
	'updated': ['info', 'updated'],
};

/* The events of a connector or a site, newest first; withConnector adds its column. */
export function eventsTable(events, withConnector) {
	if (!events.length)
		return emptyState('Nothing recorded yet.');
	const cols = [
		{ title: 'When', cell: e => timeCell(e.at) },
		withConnector ? { title: 'Connector', cell: e => el('a', { href: '#/connectors/' +
		    encodeURIComponent(e.connector), text: e.connector_name || e.connector }) } : null,
		{ title: 'Event', cell: e => {
			const k = EVENT_KIND[e.kind] || ['info', e.kind];
			return el('span', { class: 'badge badge-' + k[0], testid: 'event-kind',
			    dataset: { value: e.kind } }, k[1]);
		} },
		{ title: 'Detail', class: 'wrap', cell: e => e.detail || '—' },
	].filter(Boolean);
	return table(cols, events, e => ({ testid: 'event-row', dataset: { kind: e.kind } }),
	    { caption: withConnector ? 'Events of the site' : 'Events of the connector' });
}

/* A card body that shows path's events and is refreshed with the page. */
export async function loadEvents(into, path, withConnector, background) {
	try {
		const r = await get(path + '?limit=100', background ? bg : undefined);
		/* In place: a live refresh keeps focus and a selection in it. */
		patch(into, eventsTable(r.events || [], withConnector));
	} catch (e) {
		if (!e.handled)
			into.replaceChildren(errorBox(e));
	}
}

/*
 * The connector page's tabs: Details (what the page always showed, plus
 * its events) and Logs. #/connectors/ID?tab=logs opens the second.
 */
export function connectorTabs(ctx, id) {
	const details = el('div', { class: 'stack', role: 'tabpanel', id: 'tab-details-panel',
	    'aria-labelledby': 'tab-details', testid: 'tab-details-panel' });
	const logs = logsPanel(ctx, id, () => !logsWrap.hidden);
	const logsWrap = el('div', { role: 'tabpanel', id: 'tab-logs-panel', 'aria-labelledby': 'tab-logs',
	    hidden: true, testid: 'tab-logs-panel' }, logs.node);
	const mk = (key, text) => el('button', { type: 'button', role: 'tab', id: 'tab-' + key, class: 'tab',
	    'aria-controls': 'tab-' + key + '-panel', testid: 'tab-' + key }, text);
	const tabs = { details: mk('details', 'Details'), logs: mk('logs', 'Logs') };
	const panels = { details, logs: logsWrap };
	const bar = el('div', { role: 'tablist', 'aria-label': 'Connector views', class: 'tabs' },
	    tabs.details, tabs.logs);
	function pick(key, focus) {
		for (const k of Object.keys(tabs)) {
			tabs[k].setAttribute('aria-selected', String(k === key));
			tabs[k].tabIndex = k === key ? 0 : -1;
			panels[k].hidden = k !== key;
		}
		if (focus)
			tabs[key].focus();
		history.replaceState(null, '', '#/connectors/' + encodeURIComponent(id) +
		    (key === 'logs' ? '?tab=logs' : ''));
		if (key === 'logs')
			logs.shown();
	}
	tabs.details.addEventListener('click', () => pick('details'));
	tabs.logs.addEventListener('click', () => pick('logs'));
	bar.addEventListener('keydown', ev => {
		if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight' && ev.key !== 'Home' && ev.key !== 'End')
			return;
		ev.preventDefault();
		pick(tabs.logs.getAttribute('aria-selected') === 'true' ? 'details' : 'logs', true);
	});
	pick(ctx.query.get('tab') === 'logs' ? 'logs' : 'details');
	return { bar, details, logs: logsWrap };
}
