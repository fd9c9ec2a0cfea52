/* uplink cloud console: pages/settings.js */
import { api, get } from '../lib/api.js';
import { el, nextId } from '../lib/dom.js';
import { fmtMinutes } from '../lib/format.js';
import { loadInto } from '../lib/router.js';
import { canWrite, syncSession } from '../lib/session.js';
import { act, alertBox, button, card, field, pageHeader } from '../lib/widgets.js';

export const TIMEOUT_MIN = 10;
export const TIMEOUT_MAX = 720;
export const TIMEOUT_OFFERED = 60;

export async function pageSettings(ctx) {
	const body = el('div', { class: 'stack' });
	ctx.main.append(pageHeader('Settings', 'Settings of this uplink cloud account, for every administrator.'), body);
	await loadInto(ctx, body, 'settings', () => get('/settings'), st => settingsForm(st));
}

export function settingsForm(st) {
	const cur = st.console_inactivity_timeout_minutes;
	const enabled = el('input', { type: 'checkbox', role: 'switch', class: 'switch', testid: 'timeout-enabled',
	    checked: cur !== null && cur !== undefined, disabled: !canWrite() });
	const stateText = el('span', { class: 'switch-state', testid: 'timeout-state', 'aria-hidden': 'true' });
	const minutes = el('input', { type: 'number', inputmode: 'numeric', min: String(TIMEOUT_MIN), max: String(TIMEOUT_MAX),
	    step: '1', class: 'input-short', testid: 'timeout-minutes', value: String(cur || TIMEOUT_OFFERED),
	    disabled: !canWrite() });
	const msg = el('div', { class: 'form-error', testid: 'settings-message', 'aria-live': 'assertive' });
	const save = canWrite() ? button('Save', null, { submit: true, testid: 'settings-save' }) : null;
	const minutesField = field('Sign out after this many minutes without activity', minutes,
	    'From ' + TIMEOUT_MIN + ' to ' + TIMEOUT_MAX + ' minutes (12 hours); offered at ' + TIMEOUT_OFFERED + '.');
	const sync = () => {
		stateText.textContent = enabled.checked ? 'Enabled' : 'Disabled';
		minutesField.hidden = !enabled.checked;
	};
	enabled.addEventListener('change', sync);
	sync();
	const switchId = nextId('sw');
	enabled.id = switchId;
	const form = el('form', { class: 'form settings-form', novalidate: true },
	    el('div', { class: 'switch-row' },
		el('label', { for: switchId, class: 'switch-label', text: 'Console inactivity timeout' }),
		el('span', { class: 'switch-wrap' }, enabled, stateText)),
	    el('p', { class: 'hint', text: 'Disabled: administrators stay signed in until their session reaches 72 hours. ' +
		'Enabled: they are signed out after the period below without console activity, and at the ' +
		'latest 24 hours after signing in. Automatic refreshes do not count as activity. ' +
		'A change applies to every signed-in administrator at once.' }),
	    minutesField, msg, save);
	form.addEventListener('submit', async ev => {
		ev.preventDefault();
		msg.replaceChildren();
		let value = null;
		if (enabled.checked) {
			const raw = minutes.value.trim();
			const n = Number(raw);
			if (!raw || !Number.isInteger(n) || n < TIMEOUT_MIN || n > TIMEOUT_MAX) {
				msg.append(alertBox('The inactivity timeout must be a whole number of minutes from ' +
				    TIMEOUT_MIN + ' to ' + TIMEOUT_MAX + ' (12 hours).', 'error', 'settings-error'));
				minutes.focus();
				return;
			}
			value = n;
		}
		const r = await act(save, () => api('PATCH', '/settings', { console_inactivity_timeout_minutes: value }), msg);
		if (!r)
			return;
		const v = r.console_inactivity_timeout_minutes;
		msg.append(alertBox(v === null || v === undefined ? 'Saved: the console inactivity timeout is disabled.' :
		    'Saved: administrators are signed out after ' + fmtMinutes(v) + ' without activity.', 'ok', 'settings-saved'));
		syncSession();
	});
	const note = canWrite() ? null : alertBox('You have read-only access: only a full administrator can change settings.', 'info');
	return card('Console sessions', [note, form]);
}
