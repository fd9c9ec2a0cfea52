/* uplink cloud console: pages/notifications.js */
import { api, get } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { timeCell } from '../lib/format.js';
import { loadInto } from '../lib/router.js';
import { canWrite } from '../lib/session.js';
import { setBell } from '../lib/shell.js';
import { act, badge, button, card, linkTo, listView, pageHeader, table } from '../lib/widgets.js';

/* The subject is a connector id, or a site name for site-no-redundancy. */
export function noteSubject(n) {
	const subj = String(n.subject || '');
	let href = null;
	if (n.kind === 'site-no-redundancy')
		href = '/sites/' + encodeURIComponent(subj);
	else if (/^c-[0-9a-f]{12}$/.test(subj))
		href = '/connectors/' + encodeURIComponent(subj);
	const name = String(n.subject_name || subj);
	const label = n.kind === 'site-no-redundancy' ? 'Site ' + name :
	    href ? 'Connector ' + name + (name !== subj ? ' (' + subj + ')' : '') : name;
	return el('strong', null, href ? linkTo(href, label, 'notification-subject') : label);
}

export async function pageNotifications(ctx) {
	const list = el('div');
	const keep = {};
	const markAll = canWrite() ? button('Mark all read', async ev => {
		if (await act(ev.currentTarget, async () => {
			await api('POST', '/notifications/read-all');
			return true;
		}))
			load();
	}, { kind: 'secondary', testid: 'mark-all-read' }) : null;
	ctx.main.append(pageHeader('Notifications', 'Conditions that need attention. Each is raised once and marked resolved when it clears.', markAll), card(null, list, { class: 'card-flush' }));
	const sev = { critical: 0, error: 1, warning: 2, warn: 2, info: 3 };
	const view = listView({ name: 'notifications', what: 'notifications', one: 'notification',
		empty: 'No notifications. Connectors going offline, revoked or failing checks show up here.',
		text: n => [n.subject, n.subject_name, n.message, n.kind, n.severity].join(' '),
		filter: { label: 'Show', options: [['', 'All'], ['unread', 'Unread'], ['open', 'Open'],
		    ['resolved', 'Resolved']], test: (n, v) => !v || (v === 'unread' ? !n.read_at :
			v === 'open' ? !n.resolved_at : !!n.resolved_at) },
		sorts: [['new', 'Newest first', (a, b) => b.created_at - a.created_at],
		    ['old', 'Oldest first', (a, b) => a.created_at - b.created_at],
		    ['severity', 'Severity', (a, b) => (sev[a.severity] ?? 9) - (sev[b.severity] ?? 9) ||
			b.created_at - a.created_at]],
		render: rows => noteTable(rows) }, keep);
	const load = () => loadInto(ctx, list, 'notifications', () => get('/notifications?limit=200'), r => {
		setBell(r.unread);
		view.set(r.notifications);
		return view.node;
	});
	const noteTable = rows => {
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
			    }, { small: true, kind: 'secondary', testid: 'mark-read', label: 'Mark read: ' + (n.subject_name || n.subject) }) : null },
		], rows, n => ({ testid: 'notification-row', class: n.read_at ? '' : 'row-unread',
		    dataset: { kind: n.kind, read: n.read_at ? 'yes' : 'no' } }), { caption: 'Notifications' });
	};
	await load();
}
