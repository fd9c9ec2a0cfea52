/* uplink cloud console: pages/requirements.js */
import { api, get } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { loadInto, route } from '../lib/router.js';
import { canWrite } from '../lib/session.js';
import { act, alertBox, button, card, confirmDialog, copyText, emptyState, field, pageHeader, table } from '../lib/widgets.js';

/* "https://host:port/path", "host:port" or "host" -> a catalog address. */
export function parseAddress(line) {
	const m = /^(?:(https?):\/\/)?(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+)(?::(\d{1,5}))?(\/\S*)?$/.exec(line);
	if (!m)
		return null;
	const a = { host: m[2].replace(/^\[|\]$/g, '') };
	if (m[1])
		a.scheme = m[1];
	if (m[3])
		a.port = Number(m[3]);
	if (m[4] && m[4] !== '/')
		a.path = m[4];
	return a;
}

export async function pageRequirements(ctx) {
	const body = el('div', { class: 'stack' });
	const textOut = el('div', { 'aria-live': 'polite' });
	const copyBtn = button('Copy as text', async ev => {
		const btn = ev.currentTarget;
		const text = await act(btn, () => api('GET', '/requirements?format=text', undefined, { text: true }));
		if (typeof text !== 'string')
			return;
		textOut.replaceChildren(card('As text, for a firewall or proxy allow list', el('pre', { class: 'pre', testid: 'requirements-text', text })));
		await copyText(text, btn);
	}, { kind: 'secondary', testid: 'requirements-copy' });
	ctx.main.append(pageHeader('Required addresses', 'What a connector must reach, per service: give this list to whoever runs the firewall or proxy.',
	    copyBtn), textOut, body);
	const render = cat => {
		const frag = el('div', { class: 'stack' });
		for (const svc of cat.services || []) {
			const rm = canWrite() && svc.name !== 'cloud' ? button('Remove', async ev => {
				const ok = await confirmDialog({ title: 'Remove service ' + svc.name + '?',
				    message: 'Its addresses leave the catalog that connectors check.', confirm: 'Remove', danger: true });
				if (ok && await act(ev.currentTarget, async () => {
					await api('DELETE', '/requirements/' + encodeURIComponent(svc.name));
					return true;
				}))
					route();
			}, { small: true, kind: 'danger-quiet', testid: 'requirement-remove' }) : null;
			frag.append(card(el('div', { class: 'card-title' }, el('h2', { text: svc.name }),
			    svc.purpose ? el('span', { class: 'muted', text: svc.purpose }) : null,
			    svc.name === 'cloud' ? el('span', { class: 'muted small', text: '(built in)' }) : null), [
				table([
					{ title: 'Host', cell: a => el('div', { class: 'name-cell' }, el('span', { class: 'mono', text: a.host }),
					    a.probe ? el('span', { class: 'muted small', text: 'probed as ' + a.probe }) : null) },
					{ title: 'Port', num: true, cell: a => String(a.port || (a.scheme === 'http' ? 80 : 443)) },
					{ title: 'Scheme', cell: a => a.scheme || 'https' },
					{ title: 'Path', cell: a => a.path ? el('span', { class: 'mono', text: a.path }) : '—' },
					{ title: 'Purpose', class: 'wrap', cell: a => a.purpose || svc.purpose || '—' },
				], svc.addresses || [], () => ({ testid: 'requirement-row' }), { caption: 'Addresses of ' + svc.name }),
			], { testid: 'requirement-service', dataset: { service: svc.name }, actions: rm }));
		}
		if (!(cat.services || []).length)
			frag.append(emptyState('The catalog is empty.'));
		return frag;
	};
	await loadInto(ctx, body, 'the catalog', () => get('/requirements'), render);
	if (canWrite() && !ctx.stale())
		ctx.main.append(requirementForm());
}

export function requirementForm() {
	const name = el('input', { type: 'text', testid: 'requirement-name', spellcheck: 'false' });
	const purpose = el('input', { type: 'text', testid: 'requirement-purpose' });
	const addrs = el('textarea', { rows: '4', testid: 'requirement-addresses', spellcheck: 'false',
	    placeholder: 'https://updates.example.net\nhttp://crl.example.net/ca.crl\napi.example.net:8443' });
	const err = el('div', { class: 'form-error', 'aria-live': 'assertive' });
	const submit = button('Save service', null, { submit: true, testid: 'requirement-save' });
	const form = el('form', { class: 'form form-grid', novalidate: true },
	    field('Service name', name), field('Purpose', purpose),
	    field('Addresses, one per line', addrs, 'host, host:port or scheme://host:port/path (https by default). ' +
		'Saving an existing name replaces its addresses.', { class: 'span2' }),
	    el('div', { class: 'form-submit' }, submit));
	form.addEventListener('submit', async ev => {
		ev.preventDefault();
		err.replaceChildren();
		const lines = addrs.value.split('\n').map(l => l.trim()).filter(Boolean);
		const parsed = lines.map(parseAddress);
		const bad = lines.filter((l, i) => !parsed[i]);
		if (!name.value.trim() || !lines.length || bad.length) {
			err.append(alertBox(!name.value.trim() ? 'Enter the service name.' : !lines.length ?
			    'Enter at least one address.' : 'Not an address: ' + bad.join(', ') + '.', 'error'));
			return;
		}
		const body = { addresses: parsed };
		if (purpose.value.trim())
			body.purpose = purpose.value.trim();
		if (await act(submit, () => api('PUT', '/requirements/' + encodeURIComponent(name.value.trim()), body), err))
			route();
	});
	return card('Add or replace a service', [form, err]);
}
