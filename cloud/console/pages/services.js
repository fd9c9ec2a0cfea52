/* uplink cloud console: pages/services.js */
import { api, get } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { timeCell } from '../lib/format.js';
import { loadInto } from '../lib/router.js';
import { canWrite } from '../lib/session.js';
import { act, alertBox, badge, button, card, confirmDialog, emptyState, field, formDialog, linkTo, pageHeader, table, toast, siteDatalist } from '../lib/widgets.js';

export async function pageServices(ctx) {
	const list = el('div');
	ctx.main.append(pageHeader('Published services', 'A published service listens on the cloud and forwards each connection to a target inside a site.'));
	if (canWrite()) {
		const inputs = {
			name: el('input', { type: 'text', testid: 'service-name', autocomplete: 'off', spellcheck: 'false' }),
			site: el('input', { type: 'text', testid: 'service-site', autocomplete: 'off', spellcheck: 'false' }),
			target: el('input', { type: 'text', testid: 'service-target', placeholder: 'intranet.corp.example:80', spellcheck: 'false' }),
			listen: el('input', { type: 'text', testid: 'service-listen', placeholder: '127.0.0.1:8080', spellcheck: 'false' }),
		};
		const err = el('div', { class: 'form-error', testid: 'service-error', 'aria-live': 'assertive' });
		const submit = button('Publish', null, { submit: true, testid: 'service-create' });
		const form = el('form', { class: 'form form-grid', novalidate: true },
		    field('Name', inputs.name), field('Site', inputs.site),
		    field('Target inside the site', inputs.target, 'HOST:PORT, allowed by the connectors\' access list.'),
		    field('Listen on the cloud', inputs.listen, 'ADDRESS:PORT'), el('div', { class: 'form-submit' }, submit));
		form.addEventListener('submit', async ev => {
			ev.preventDefault();
			const body = {};
			for (const [k, i] of Object.entries(inputs))
				body[k] = i.value.trim();
			const missing = Object.entries(body).filter(([, v]) => !v).map(([k]) => k);
			err.replaceChildren();
			if (missing.length) {
				err.append(alertBox('Fill in: ' + missing.join(', ') + '.', 'error'));
				return;
			}
			const s = await act(submit, () => api('POST', '/services', body), err);
			if (s) {
				toast('Service ' + s.name + ' is published on ' + s.listen + '.', 'ok');
				for (const i of Object.values(inputs))
					i.value = '';
				loadList();
			}
		});
		ctx.main.append(card('Publish a service', [form, err, siteDatalist(inputs.site)]));
	}
	ctx.main.append(card('Services', list, { class: 'card-flush' }));
	const loadList = () => loadInto(ctx, list, 'services', () => get('/services'), r => {
		if (!r.services.length)
			return emptyState('No published services yet.');
		const fromConfig = r.services.some(s => s.source === 'config');
		return el('div', { class: 'stack' },
		    fromConfig ? alertBox('Services from [publish NAME] sections of cloud.conf are read-only here: ' +
			'change them in cloud.conf.', 'info', 'config-note') : null,
		    table([
			{ title: 'Name', cell: s => el('strong', { text: s.name }) },
			{ title: 'Site', cell: s => linkTo('/sites/' + encodeURIComponent(s.site), s.site) },
			{ title: 'Target', cell: s => el('span', { class: 'mono', text: s.target }) },
			{ title: 'Listen', cell: s => el('div', { class: 'name-cell' }, el('span', { class: 'mono', text: s.listen }),
			    s.listening === false ? badge('fail', 'not listening', 'service-not-listening') : null) },
			{ title: 'Source', cell: s => badge(s.source === 'config' ? 'config' : 'api',
			    s.source === 'config' ? 'cloud.conf' : 'console / API') },
			{ title: 'Updated', cell: s => timeCell(s.updated_at || s.created_at) },
			{ title: '', class: 'actions', cell: s => s.source === 'config' ?
			    el('span', { class: 'muted small', text: 'read-only' }) : canWrite() ? [
				button('Edit', () => editService(s), { small: true, kind: 'secondary', testid: 'service-edit',
				    label: 'Edit service ' + s.name }), ' ',
				button('Delete', ev => deleteService(ev, s), { small: true, kind: 'danger-quiet',
				    testid: 'service-delete', label: 'Delete service ' + s.name }),
			    ] : null },
		    ], r.services, s => ({ testid: 'service-row', dataset: { service: s.name, source: s.source } }),
		    { caption: 'Published services' }));
	});
	async function editService(s) {
		const fields = ['site', 'target', 'listen'].map(k => ({
			name: k, label: { site: 'Site', target: 'Target inside the site', listen: 'Listen on the cloud' }[k],
			input: el('input', { type: 'text', value: s[k], spellcheck: 'false', testid: 'edit-' + k }),
		}));
		const r = await formDialog({ title: 'Edit service ' + s.name, fields, confirm: 'Save changes',
		    note: 'Changes apply at once.',
		    submit: v => {
			    const body = {};
			    for (const k of Object.keys(v))
				    if (v[k] !== s[k])
					    body[k] = v[k];
			    return Object.keys(body).length ? api('PATCH', '/services/' + encodeURIComponent(s.name), body) : s;
		    } });
		if (r) {
			toast('Service ' + s.name + ' saved.', 'ok');
			loadList();
		}
	}
	async function deleteService(ev, s) {
		const btn = ev.currentTarget;
		const ok = await confirmDialog({ title: 'Delete service ' + s.name + '?',
		    message: 'The cloud stops listening on ' + s.listen + ' at once; open connections close.',
		    confirm: 'Delete service', danger: true });
		if (ok && await act(btn, async () => {
			await api('DELETE', '/services/' + encodeURIComponent(s.name));
			return true;
		})) {
			toast('Service ' + s.name + ' deleted.', 'ok');
			loadList();
		}
	}
	await loadList();
}
