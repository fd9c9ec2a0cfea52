/* uplink cloud console: pages/alerts.js */
import { api, get } from '../lib/api.js';
import { el, nextId } from '../lib/dom.js';
import { timeCell } from '../lib/format.js';
import { loadInto } from '../lib/router.js';
import { canWrite } from '../lib/session.js';
import { act, alertBox, badge, button, card, confirmDialog, copyBox, emptyState, field, pageHeader, select, table } from '../lib/widgets.js';

/*
 * Alerts (docs/alerts.md): channels that carry notifications out of the
 * console (webhooks, e-mail through an SMTP relay), each with a "Send
 * test" button and its delivery log, and the rules that say which
 * notifications go to which channels after how long. Secrets (a webhook's
 * signing key, an SMTP password) are written here and never shown again,
 * except a signing key the cloud made, once, when the channel is created.
 */

const KINDS = {
	'connector-offline': 'Connector offline',
	'site-no-redundancy': 'Site without redundancy',
	'cert-expiring': 'Certificate expiring',
	'check-failing': 'Check failing (with its verdicts)',
	'check-failed': 'Check failed',
	'tls-interception': 'TLS interception',
	'crl-unreachable': 'Revocation list unreachable',
	'update-rolled-back': 'Update rolled back',
	'connector-revoked': 'Connector revoked',
};

function destination(ch) {
	const c = ch.config || {};
	if (ch.type === 'webhook')
		return el('span', { class: 'mono', text: c.url || '' });
	return el('span', null, (c.to || []).join(', '),
	    el('span', { class: 'muted small', text: ' via ' + c.host + ':' + c.port +
		' (STARTTLS ' + c.starttls + ')' }));
}

function fmtAfter(s) {
	if (!s)
		return 'at once';
	if (s % 3600 === 0)
		return s / 3600 + ' h';
	if (s % 60 === 0)
		return s / 60 + ' min';
	return s + ' s';
}

function input(testid, props) {
	return el('input', Object.assign({ type: 'text', testid, autocomplete: 'off', spellcheck: 'false' }, props || {}));
}

/* The form that adds a channel; created(ch) runs with the API's answer. */
function channelForm(created) {
	const name = input('channel-name');
	const type = select([['webhook', 'Webhook (signed JSON over HTTPS)'], ['email', 'E-mail (SMTP relay)']],
	    'webhook', { testid: 'channel-type' });
	const url = input('channel-url', { inputmode: 'url', placeholder: 'https://hooks.example.net/uplink' });
	const key = input('channel-key', { type: 'password', autocomplete: 'new-password' });
	const host = input('channel-host', { placeholder: 'smtp.example.net' });
	const port = input('channel-port', { type: 'number', min: '1', max: '65535', value: '587' });
	const tls = select([['required', 'Required'], ['optional', 'If offered'], ['none', 'Never']], 'required',
	    { testid: 'channel-starttls' });
	const user = input('channel-user');
	const pass = input('channel-pass', { type: 'password', autocomplete: 'new-password' });
	const from = input('channel-from', { type: 'email', placeholder: 'uplink@example.net' });
	const to = input('channel-to', { placeholder: 'ops@example.net, oncall@example.net' });
	const ca = input('channel-ca', { placeholder: '/etc/ssl/certs/relay-ca.pem' });
	const hook = el('div', { class: 'form form-inline' },
	    field('URL', url, 'Where to POST: http:// or https://.'),
	    field('Signing key', key, 'Leave empty to have the cloud make one (shown once).'));
	const mail = el('div', { class: 'form form-inline' },
	    field('SMTP relay', host), field('Port', port), field('STARTTLS', tls),
	    field('User name', user, 'Empty: no authentication.'), field('Password', pass),
	    field('From', from), field('To', to, 'Comma-separated addresses.'),
	    field('CA file', ca, 'Optional: a PEM file on the cloud\'s host that signs the relay\'s certificate.'));
	const sync = () => {
		hook.hidden = type.value !== 'webhook';
		mail.hidden = type.value !== 'email';
	};
	type.addEventListener('change', sync);
	sync();
	const err = el('div', { class: 'form-error', 'aria-live': 'assertive', testid: 'channel-error' });
	const submit = button('Add channel', null, { submit: true, testid: 'channel-create' });
	const form = el('form', { class: 'form', novalidate: true },
	    el('div', { class: 'form form-inline' },
		field('Name', name, 'Letters, digits, ".", "_" and "-", e.g. ops-mail.'), field('Type', type)),
	    hook, mail, submit, err);
	form.addEventListener('submit', async ev => {
		ev.preventDefault();
		err.replaceChildren();
		if (!name.value.trim()) {
			err.append(alertBox('Enter a name for the channel.', 'error'));
			name.focus();
			return;
		}
		const body = { name: name.value.trim(), type: type.value };
		if (type.value === 'webhook') {
			body.config = { url: url.value.trim() };
			if (key.value)
				body.secret = key.value;
		} else {
			body.config = { host: host.value.trim(), port: Number(port.value) || 587, starttls: tls.value,
			    from: from.value.trim(), to: to.value.split(',').map(x => x.trim()).filter(Boolean) };
			if (user.value.trim())
				body.config.username = user.value.trim();
			if (ca.value.trim())
				body.config.ca_file = ca.value.trim();
			if (pass.value)
				body.secret = pass.value;
		}
		const ch = await act(submit, () => api('POST', '/channels', body), err);
		if (!ch)
			return;
		for (const i of [name, url, key, pass])
			i.value = '';
		created(ch);
	});
	return form;
}

function deliveryTable(rows) {
	if (!rows.length)
		return emptyState('Nothing sent through this channel yet.');
	return table([
		{ title: 'Time', cell: d => timeCell(d.created_at) },
		{ title: 'Event', cell: d => d.event },
		{ title: 'Notification', cell: d => el('span', null, KINDS[d.kind] || d.kind,
		    el('span', { class: 'muted small', text: ' ' + d.subject })) },
		{ title: 'Status', cell: d => badge(d.status, d.status, 'delivery-status') },
		{ title: 'Attempts', num: true, cell: d => String(d.attempts) },
		{ title: 'Last error', cell: d => d.last_error ? el('span', { class: 'small', text: d.last_error }) : '—' },
	], rows, d => ({ testid: 'delivery-row', dataset: { status: d.status } }), { caption: 'Delivery log' });
}

export async function pageAlerts(ctx) {
	const channels = el('div');
	const rules = el('div');
	const result = el('div', { 'aria-live': 'polite', testid: 'channel-test-area' });
	const secret = el('div', { 'aria-live': 'polite' });
	const log = el('div');
	let known = [];
	let kinds = Object.keys(KINDS);
	ctx.main.append(pageHeader('Alerts', 'Notifications sent to people outside the console: webhooks and e-mail, by rule.'));

	async function sendTest(ev, ch) {
		result.replaceChildren(alertBox('Sending a test message to ' + ch.name + '…', 'info', 'channel-test-result'));
		const d = await act(ev.currentTarget, () => api('POST', '/channels/' + ch.id + '/test'), result);
		if (!d)
			return;
		result.replaceChildren(d.status === 'delivered' ?
		    alertBox('Test message delivered to ' + ch.name + '.', 'info', 'channel-test-result') :
		    alertBox('Test message to ' + ch.name + ' not delivered: ' + d.last_error, 'error', 'channel-test-result'));
		showLog(ch);
	}

	function showLog(ch) {
		const body = el('div');
		log.replaceChildren(card('Delivery log of ' + ch.name, body, { class: 'card-flush', testid: 'delivery-log',
		    actions: button('Close', () => log.replaceChildren(), { small: true, kind: 'secondary',
			label: 'Close the delivery log of ' + ch.name }) }));
		return loadInto(ctx, body, 'deliveries', () => get('/channels/' + ch.id + '/deliveries'),
		    r => deliveryTable(r.deliveries));
	}

	async function removeChannel(ev, ch) {
		const ok = await confirmDialog({ title: 'Delete channel ' + ch.name + '?',
		    message: 'Rules stop sending to it, and its delivery log is deleted.', confirm: 'Delete channel', danger: true });
		if (ok && await act(ev.currentTarget, () => api('DELETE', '/channels/' + ch.id))) {
			log.replaceChildren();
			loadAll();
		}
	}

	const channelTable = list => table([
		{ title: 'Name', cell: ch => el('strong', { text: ch.name }) },
		{ title: 'Type', cell: ch => badge(ch.type === 'webhook' ? 'api' : 'config', ch.type) },
		{ title: 'Destination', cell: destination },
		{ title: 'Secret', cell: ch => ch.has_secret ? 'set' : 'none' },
		{ title: '', class: 'actions', cell: ch => el('div', { class: 'row-actions' },
		    canWrite() ? button('Send test', ev => sendTest(ev, ch), { small: true, kind: 'secondary',
			testid: 'channel-test', label: 'Send test to ' + ch.name }) : null,
		    button('Delivery log', () => showLog(ch), { small: true, kind: 'secondary', testid: 'channel-log',
			label: 'Delivery log of ' + ch.name }),
		    canWrite() ? button('Delete', ev => removeChannel(ev, ch), { small: true, kind: 'danger-quiet',
			testid: 'channel-delete', label: 'Delete channel ' + ch.name }) : null) },
	], list, ch => ({ testid: 'channel-row', dataset: { channel: String(ch.id) } }), { caption: 'Channels' });

	const ruleTable = list => table([
		{ title: 'When', cell: ru => KINDS[ru.kind] || ru.kind },
		{ title: 'After', cell: ru => fmtAfter(ru.after) },
		{ title: 'Channels', cell: ru => ru.channels.map(id => (known.find(c => c.id === id) || { name: '#' + id }).name)
		    .join(', ') || 'none' },
		{ title: 'State', cell: ru => ru.enabled ? badge('online', 'enabled') : badge('revoked', 'disabled') },
		{ title: '', class: 'actions', cell: ru => canWrite() ? el('div', { class: 'row-actions' },
		    button(ru.enabled ? 'Disable' : 'Enable', async ev => {
			if (await act(ev.currentTarget, () => api('PATCH', '/alert-rules/' + ru.id, { enabled: !ru.enabled })))
				loadAll();
		    }, { small: true, kind: 'secondary', testid: 'rule-toggle',
			label: (ru.enabled ? 'Disable' : 'Enable') + ' the rule ' + (KINDS[ru.kind] || ru.kind) }),
		    button('Delete', async ev => {
			const ok = await confirmDialog({ title: 'Delete this rule?',
			    message: 'Its notifications are no longer sent.', confirm: 'Delete rule', danger: true });
			if (ok && await act(ev.currentTarget, () => api('DELETE', '/alert-rules/' + ru.id)))
				loadAll();
		    }, { small: true, kind: 'danger-quiet', testid: 'rule-delete',
			label: 'Delete the rule ' + (KINDS[ru.kind] || ru.kind) })) : null },
	], list, ru => ({ testid: 'rule-row', dataset: { rule: String(ru.id) } }), { caption: 'Rules' });

	const ruleBox = el('div');
	function ruleForm() {
		const kind = select(kinds.map(k => [k, KINDS[k] || k]), 'connector-offline', { testid: 'rule-kind' });
		const after = el('input', { type: 'number', min: '0', value: '300', testid: 'rule-after' });
		const legendId = nextId('lg');
		const boxes = known.map(ch => {
			const cb = el('input', { type: 'checkbox', value: String(ch.id), id: nextId('cb'),
			    testid: 'rule-channel', dataset: { name: ch.name } });
			return el('label', { class: 'check', for: cb.id }, cb, ' ' + ch.name);
		});
		const err = el('div', { class: 'form-error', 'aria-live': 'assertive', testid: 'rule-error' });
		const submit = button('Add rule', null, { submit: true, testid: 'rule-create' });
		const form = el('form', { class: 'form', novalidate: true },
		    el('div', { class: 'form form-inline' }, field('When', kind),
			field('After (seconds)', after, 'How long the condition holds before it is sent; 0: at once.')),
		    el('fieldset', { class: 'check-group', 'aria-labelledby': legendId },
			el('legend', { id: legendId, text: 'Send to' }),
			boxes.length ? boxes : el('p', { class: 'muted', text: 'Add a channel first.' })),
		    submit, err);
		form.addEventListener('submit', async ev => {
			ev.preventDefault();
			const ids = [...form.querySelectorAll('input[type=checkbox]:checked')].map(b => Number(b.value));
			if (await act(submit, () => api('POST', '/alert-rules', { kind: kind.value,
			    after: Number(after.value) || 0, channels: ids }), err))
				loadAll();
		});
		return form;
	}

	if (canWrite())
		ctx.main.append(card('Add a channel', channelForm(ch => {
			secret.replaceChildren(ch.secret ? card('Signing key of ' + ch.name, [
				alertBox('Copy the key now: the receiver needs it to verify the Uplink-Signature header, ' +
				    'and it is shown only this once.', 'info'),
				copyBox(ch.secret, 'channel-secret', 'the signing key'),
			], { class: 'secret-card', testid: 'channel-secret-panel',
			    actions: button('Done', ev => ev.currentTarget.closest('.card').remove(),
				{ small: true, kind: 'secondary' }) }) : '');
			loadAll();
		})), secret);
	ctx.main.append(card('Channels', [result, channels], { class: 'card-flush' }), log);
	if (canWrite())
		ctx.main.append(card('Add a rule', ruleBox));
	ctx.main.append(card('Rules', rules, { class: 'card-flush' }));

	async function loadAll() {
		await loadInto(ctx, channels, 'channels', () => get('/channels'), r => {
			known = r.channels;
			return known.length ? channelTable(known) : emptyState('No channels yet.');
		});
		await loadInto(ctx, rules, 'rules', () => get('/alert-rules'), r => {
			kinds = r.kinds || kinds;
			return r.rules.length ? ruleTable(r.rules) : emptyState('No rules yet: notifications stay in the console.');
		});
		if (canWrite())
			ruleBox.replaceChildren(ruleForm());
	}
	await loadAll();
}
