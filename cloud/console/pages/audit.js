/* uplink cloud console: pages/audit.js */
import { get } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { timeCell } from '../lib/format.js';
import { loadInto } from '../lib/router.js';
import { AUDIT_PAGE } from '../lib/state.js';
import { button, card, listView, pageHeader, table } from '../lib/widgets.js';

export async function pageAudit(ctx) {
	const list = el('div');
	const pager = el('div', { class: 'pager' });
	ctx.main.append(pageHeader('Audit log', 'Every change made through the API or the console, every sign-in and sign-out.'),
	    card(null, [list, pager], { class: 'card-flush' }));
	const stack = [];        // the "before" of the pages already seen
	let before = null;
	let lastId = null;
	let count = 0;
	const keep = {};
	const load = async () => {
		const q = '?limit=' + AUDIT_PAGE + (before ? '&before=' + encodeURIComponent(before) : '');
		lastId = null;
		count = 0;
		const ok = await loadInto(ctx, list, 'the audit log', () => get('/audit' + q), r => {
			count = r.entries.length;
			lastId = count ? r.entries[count - 1].id : null;
			view.set(r.entries);
			return view.node;
		});
		pager.replaceChildren();
		if (!ok)
			return;
		drawPager();
	};
	/*
	 * The server pages the log (50 entries, newest first, "Older" and
	 * "Newer"); search, the action filter and the order work on the page
	 * shown.
	 */
	const view = listView({ name: 'audit', what: 'entries on this page', one: 'entry on this page', empty: 'No entries.',
		pageSize: AUDIT_PAGE,
		text: e => [e.actor, e.actor_kind, e.address, e.action, e.target, e.detail].join(' '),
		filter: { label: 'Action', options: [['', 'All'], ['session', 'Sign-ins and sign-outs'],
		    ['admin', 'Administrators'], ['connector', 'Connectors'], ['token', 'Tokens'], ['key', 'API keys'],
		    ['service', 'Services'], ['settings', 'Settings']],
		    test: (e, v) => !v || String(e.action).startsWith(v) },
		sorts: [['new', 'Newest first', (a, b) => b.at - a.at || b.id - a.id],
		    ['old', 'Oldest first', (a, b) => a.at - b.at || a.id - b.id]],
		render: rows => auditTable(rows) }, keep);
	const auditTable = rows => table([
		{ title: 'Time', cell: e => timeCell(e.at) },
		{ title: 'Actor', cell: e => el('span', null, e.actor || '—',
		    el('span', { class: 'muted small', text: ' · ' + e.actor_kind })) },
		{ title: 'From', cell: e => el('span', { class: 'mono', text: e.address || '—' }) },
		{ title: 'Action', cell: e => el('span', { class: 'mono', text: e.action }) },
		{ title: 'Target', cell: e => e.target ? el('span', { class: 'mono', text: e.target }) : '—' },
		{ title: 'Detail', class: 'wrap', cell: e => e.detail || '—' },
	], rows, e => ({ testid: 'audit-row' }), { caption: 'Audit log' });
	const drawPager = () => {
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
