/* uplink cloud console: pages/connector.js */
import { api, bg, get } from '../lib/api.js';
import { dl, stateBadge } from '../lib/connectors.js';
import { el, patch } from '../lib/dom.js';
import { fmtBytes, fmtInt, fmtMs, fmtTime, plural, timeCell } from '../lib/format.js';
import { liveNote, route } from '../lib/router.js';
import { canWrite } from '../lib/session.js';
import { refreshBellSoon } from '../lib/shell.js';
import { LIVE_MS } from '../lib/state.js';
import { act, alertBox, badge, button, card, confirmDialog, emptyState, errorBox, formDialog, linkTo, loading, table, toast } from '../lib/widgets.js';

export function connectorFacts(c) {
	return dl([
		['State', stateBadge(c.state, 'connector-state')],
		['Site', linkTo('/sites/' + encodeURIComponent(c.site), c.site)],
		['ID', el('span', { class: 'mono', text: c.id })],
		['Version', el('span', { class: 'mono', text: c.version || '—' })],
		['Address', el('span', { class: 'mono', text: c.peer || '—' })],
		['Tunnels', c.state === 'revoked' ? '—' : fmtInt(c.tunnels) + ' of ' + fmtInt(c.tunnels_expected)],
		c.instances && c.instances.length ? ['Tunnels per instance', el('span', { class: 'mono',
		    testid: 'connector-instances', text: c.instances.map(x => x.instance + ': ' + fmtInt(x.tunnels))
			.join(', ') })] : null,
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

export const ERROR_LABEL = {
	'dns': 'name resolution', 'tcp': 'TCP connection', 'timeout': 'timed out',
	'proxy-unreachable': 'proxy unreachable', 'proxy-denied': 'proxy denied it',
	'proxy-error': 'proxy error', 'tls': 'TLS handshake', 'tls-interception': 'TLS interception',
	'cert-untrusted': 'untrusted certificate', 'cert-hostname': 'certificate name mismatch',
	'cert-expired': 'certificate expired', 'cert-revoked': 'certificate revoked',
	'crl-unreachable': 'CRL unreachable', 'http': 'HTTP error', 'not-testable': 'not testable',
};

export function checkAddress(r) {
	const host = r.address && r.address.includes(':') && !r.address.startsWith('[') ?
	    '[' + r.address + ']' : r.address;
	const text = host + (r.port ? ':' + r.port : '');
	return el('div', { class: 'name-cell' }, el('span', { class: 'mono', text }),
	    el('span', { class: 'muted small', text: (r.scheme || 'https') + (r.purpose ? ' · ' + r.purpose : '') }),
	    r.probe && r.probe !== r.address ? el('span', { class: 'muted small', text: 'probed as ' + r.probe }) : null);
}

export function checkRoute(r) {
	const route = r.route === 'proxy' ? 'via proxy' : r.route === 'direct' ? 'direct' : (r.route || '—');
	return el('div', { class: 'name-cell' }, el('span', { text: route }),
	    r.rule ? el('span', { class: 'muted small', text: 'bypass rule ' + r.rule }) : null);
}

export function checkDetail(r) {
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

export function renderCheck(chk) {
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

export function checksTable(checks, show) {
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

export async function pageConnector(ctx) {
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
		actions.append(button('Rename', rename, { kind: 'secondary', testid: 'connector-rename' }));
		if (revoked)
			actions.append(button('Remove', remove, { kind: 'danger', testid: 'connector-remove' }));
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
		patch(facts, connectorFacts(c));
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
	async function rename() {
		const input = el('input', { type: 'text', value: conn.name, spellcheck: 'false', testid: 'rename-name',
		    maxlength: 63, autocomplete: 'off' });
		const r = await formDialog({ title: 'Rename connector ' + (conn.name || conn.id), confirm: 'Rename',
		    testid: 'rename-dialog', note: 'Only its label changes: its id, certificate and tunnels stay.',
		    fields: [{ name: 'name', label: 'New name', input }],
		    submit: v => api('PATCH', path, { name: v.name }) });
		if (r && !ctx.stale()) {
			show(r);
			toast('Connector renamed to ' + r.name + '.', 'ok');
		}
	}
	async function remove(ev) {
		const btn = ev.currentTarget;
		const ok = await confirmDialog({ title: 'Remove connector ' + (conn.name || conn.id) + '?',
		    message: 'It disappears from every list of the console and the API. It is revoked already; ' +
			'its certificates stay on the revocation list. This cannot be undone.',
		    confirm: 'Remove connector', danger: true });
		if (!ok)
			return;
		const site = conn.site;
		await act(btn, async () => {
			await api('DELETE', path);
			toast('Connector ' + (conn.name || conn.id) + ' was removed.', 'ok');
			location.hash = '#/sites/' + encodeURIComponent(site);
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
