/* uplink cloud console: pages/rollout.js. A site's rollout: settings and each connector's step (docs/updates.md). */
import { api, bg, get } from '../lib/api.js';
import { dl, stateBadge } from '../lib/connectors.js';
import { el, patch } from '../lib/dom.js';
import { timeCell } from '../lib/format.js';
import { liveNote, loadInto } from '../lib/router.js';
import { canWrite } from '../lib/session.js';
import { LIVE_MS } from '../lib/state.js';
import { act, alertBox, badge, button, card, field, linkTo, pageHeader, table, toast } from '../lib/widgets.js';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const STEP_KIND = { idle: 'empty', draining: 'draining', downloading: 'draining', restarting: 'draining',
	'health-gate': 'degraded', updated: 'online', failed: 'revoked', 'rolled-back': 'revoked' };

function windowText(w) {
	if (!w)
		return 'none';
	return w.days.join(', ') + ' ' + (w.start === w.end ? 'all day' : w.start + '–' + w.end) + ' (' + w.tz + ')';
}

export async function pageRollout(ctx) {
	const name = ctx.arg;
	const path = '/sites/' + encodeURIComponent(name) + '/rollout';
	const body = el('div', { class: 'stack', testid: 'rollout-detail' });
	const actErr = el('div', { 'aria-live': 'assertive' });
	ctx.main.append(el('p', { class: 'crumbs' }, linkTo('/releases', 'Releases'), ' / ',
	    linkTo('/sites/' + encodeURIComponent(name), 'site ' + name), ' / updates'),
	    pageHeader('Updates of site ' + name, 'One connector at a time: drain, download, verify, restart, health gate.',
		[liveNote(ctx)]), actErr, body);
	const fetchIt = background => get(path, background ? bg : undefined);
	/*
	 * The latest state: a live refresh keeps the buttons (lib/dom.js
	 * patch()), so their handlers read this, not the render they came from.
	 */
	let cur = null;
	async function change(btn, data, what) {
		const r = await act(btn, () => api('PATCH', path, data), actErr);
		if (r) {
			toast(what, 'ok');
			patch(body, render(r));
		}
	}
	function settingsForm(r) {
		const w = r.window || { days: DAYS.slice(1, 6), start: '02:00', end: '04:00', tz: 'UTC' };
		const boxes = DAYS.map(d => el('label', { class: 'check-inline' },
		    el('input', { type: 'checkbox', value: d, checked: w.days.includes(d), testid: 'window-day-' + d }), ' ' + d));
		const start = el('input', { type: 'time', value: w.start, testid: 'window-start' });
		const end = el('input', { type: 'time', value: w.end, testid: 'window-end' });
		const tz = el('input', { type: 'text', value: w.tz, testid: 'window-tz', spellcheck: 'false',
		    autocomplete: 'off' });
		const err = el('div', { class: 'form-error', 'aria-live': 'assertive' });
		const save = button('Save window', null, { submit: true, testid: 'window-save' });
		const form = el('form', { class: 'form', novalidate: true },
		    el('fieldset', null, el('legend', { text: 'Days' }), boxes),
		    field('Start', start), field('End', end, 'Equal to the start: the whole day. Before it: over midnight.'),
		    field('Time zone', tz, 'An IANA name, e.g. Europe/Paris or UTC.'), save,
		    r.window ? button('No window', ev => change(ev.currentTarget, { window: null }, 'Window removed.'),
			{ kind: 'secondary', testid: 'window-clear' }) : null, err);
		form.addEventListener('submit', async ev => {
			ev.preventDefault();
			err.replaceChildren();
			const days = boxes.map(b => b.querySelector('input')).filter(i => i.checked).map(i => i.value);
			if (!days.length) {
				err.append(alertBox('Choose at least one day.', 'error'));
				return;
			}
			await change(save, { window: { days, start: start.value, end: end.value, tz: tz.value.trim() } },
			    'Window saved.');
		});
		return form;
	}
	function render(r) {
		cur = r;
		const facts = dl([
			['Mode', r.automatic ? 'automatic' : 'manual (update now only)'],
			['Maintenance window', windowText(r.window) + (r.window ? (r.in_window ? ' · open now' : ' · closed now') : '')],
			['Rollout', r.paused ? badge('revoked', 'paused', 'rollout-paused') : badge('online', 'running', 'rollout-running')],
			r.paused && r.pause_reason ? ['Why paused', r.pause_reason] : null,
			r.update_now ? ['Update now', 'asked'] : null,
		]);
		const actions = canWrite() ? el('div', { class: 'page-actions' },
		    button(r.automatic ? 'Make manual' : 'Make automatic', ev => change(ev.currentTarget,
			{ automatic: !cur.automatic }, 'Mode changed.'), { kind: 'secondary', testid: 'rollout-mode' }),
		    button(r.paused ? 'Resume' : 'Pause', ev => change(ev.currentTarget, { paused: !cur.paused },
			cur.paused ? 'Rollout resumed.' : 'Rollout paused.'), { kind: 'secondary', testid: 'rollout-pause' }),
		    r.paused ? null : button('Update now', async ev => {
			    const x = await act(ev.currentTarget, () => api('POST', path + '/update-now'), actErr);
			    if (x) {
				    toast('Update asked.', 'ok');
				    patch(body, render(x));
			    }
		    }, { testid: 'rollout-now' })) : null;
		const conns = table([
			{ title: 'Connector', cell: c => el('div', { class: 'name-cell' },
			    linkTo('/connectors/' + encodeURIComponent(c.id), c.name || c.id, 'connector-link'),
			    el('span', { class: 'mono muted small', text: c.id })) },
			{ title: 'State', cell: c => stateBadge(c.state, 'connector-state') },
			{ title: 'Version', cell: c => el('span', { class: 'name-cell' }, el('span', { class: 'mono', text: c.version || '—' }),
			    c.outdated ? badge('degraded', 'outdated', 'outdated') : null) },
			{ title: 'Newest', cell: c => el('span', { class: 'mono', text: c.newest_release || '—' }) },
			{ title: 'Step', cell: c => badge(STEP_KIND[c.update.step] || 'empty', c.update.step, 'rollout-step') },
			{ title: 'What happened', cell: c => c.update.note ? el('span', { class: 'small', text: c.update.note }) : '—' },
			{ title: 'Since', cell: c => c.update.since ? timeCell(c.update.since, true) : '—' },
		], r.connectors, c => ({ testid: 'rollout-row', dataset: { connector: c.id, step: c.update.step } }),
		    { caption: 'Connectors of the site' });
		return el('div', { class: 'stack' },
		    r.warning ? alertBox(r.warning, 'warn', 'rollout-warning') : null,
		    card('Settings', [facts, actions]), card('Connectors', conns, { class: 'card-flush' }),
		    canWrite() ? card('Maintenance window', settingsForm(r)) : null);
	}
	if (!await loadInto(ctx, body, 'the rollout', fetchIt, render))
		return;
	ctx.setLive(null);
	ctx.every(LIVE_MS, async () => {
		const r = await fetchIt(true);
		if (!ctx.stale() && !body.contains(document.activeElement))
			patch(body, render(r));
	});
}
