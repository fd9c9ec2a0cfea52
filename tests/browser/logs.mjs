// Browser test of the connector page's Logs tab and the events timelines
// (cloud/console/pages/logs.js, docs/console.md), issue 16 section 1.
//
// playwright-core drives Debian's Chromium. Its driver,
// tests/integration/test_logs.py (test_console_logs_tab), runs it against
// the cloud of that module, whose connector has logged "filt_0".."filt_2"
// warnings and its start line, and sets:
//
//   UPLINK_CONSOLE_URL, UPLINK_CONSOLE_SPKI, UPLINK_ADMIN_EMAIL,
//   UPLINK_ADMIN_PASSWORD   as for console.mjs
//   UPLINK_CONNECTOR         the connector's id
//   UPLINK_SITE              its site
//   UPLINK_ARTIFACTS         where screenshots go (tests/browser/artifacts)
//
// Steps: sign in; the Logs tab by its link shows the lines; the level
// filter and the search narrow them; Follow shows a line the connector
// logs afterwards (a connectivity check asked through the API); the tab
// and the events of the connector and the site, each at 1440x900 and
// 390x844 with axe-core finding nothing serious or critical.

import assert from 'node:assert/strict';
import path from 'node:path';
import { ARTIFACTS, DESKTOP, PHONE, browserHarness, need, tid } from './harness.mjs';

const via = 'tests/integration/test_logs.py';
const URL_ = need('UPLINK_CONSOLE_URL', via).replace(/\/?$/, '/');
const EMAIL = need('UPLINK_ADMIN_EMAIL', via);
const PASSWORD = need('UPLINK_ADMIN_PASSWORD', via);
const CONNECTOR = need('UPLINK_CONNECTOR', via);
const SITE = need('UPLINK_SITE', via);
const T = 20000;
let page;
const h = browserHarness('logs', { timeout: T, ready: p => { page = p; } });
const step = h.step, axe = h.axe;

const lineTexts = () => page.$$eval(tid('log-line'), ls => ls.map(l => ({
	level: l.dataset.level, text: l.textContent })));

step('signin', async () => {
	await h.signIn(URL_, EMAIL, PASSWORD);
});

step('logs-tab-by-link', async () => {
	await page.evaluate(h => { location.hash = h; }, `#/connectors/${CONNECTOR}?tab=logs`);
	await page.locator(tid('logs-view') + ' ' + tid('log-line')).first().waitFor();
	assert.equal(await page.locator(tid('tab-logs')).getAttribute('aria-selected'), 'true');
	assert.ok(await page.locator(tid('tab-details-panel')).isHidden(), 'the details are hidden');
	const lines = await lineTexts();
	assert.ok(lines.some(l => /running: /.test(l.text)), 'the start line is shown');
	assert.ok(lines.some(l => /"filt_1"/.test(l.text) && l.level === 'warn'), 'a warning is shown');
	await page.screenshot({ path: path.join(ARTIFACTS, 'logs-desktop.png') });
});

step('level-filter-and-search', async () => {
	await page.selectOption(tid('logs-level'), 'warn');
	await page.waitForFunction(() => {
		const ls = [...document.querySelectorAll('[data-testid="log-line"]')];
		return ls.length > 0 && ls.every(l => l.dataset.level === 'warn' || l.dataset.level === 'error');
	});
	const warn = await lineTexts();
	assert.ok(!warn.some(l => /running: /.test(l.text)), 'info lines are filtered out');
	await page.fill(tid('logs-search'), 'FILT_1');
	await page.waitForFunction(() => {
		const ls = [...document.querySelectorAll('[data-testid="log-line"]')];
		return ls.length === 1 && ls[0].textContent.includes('"filt_1"');
	});
	await page.fill(tid('logs-search'), 'nothing-like-this');
	await page.locator(tid('logs-view') + ' ' + tid('empty-state')).waitFor();
	await page.fill(tid('logs-search'), '');
	await page.selectOption(tid('logs-level'), 'debug');
	await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="log-line"]')]
		.some(l => l.textContent.includes('running: ')));
});

step('follow-shows-a-new-line', async () => {
	await page.check(tid('logs-follow'));
	await page.waitForFunction(() => /following/.test(
		document.querySelector('[data-testid="logs-status"]').textContent));
	const before = (await lineTexts()).filter(l => /check t\d+\/s\d+:/.test(l.text)).length;
	// The connector logs a line of its own for a check the cloud asks for.
	const r = await page.evaluate(async id => {
		const s = await (await fetch('/api/v1/session', { credentials: 'same-origin' })).json();
		const res = await fetch(`/api/v1/connectors/${id}/check`, { method: 'POST',
			credentials: 'same-origin', headers: { 'X-CSRF-Token': s.csrf_token } });
		return res.status;
	}, CONNECTOR);
	assert.equal(r, 200, 'the check ran');
	await page.waitForFunction(n => [...document.querySelectorAll('[data-testid="log-line"]')]
		.filter(l => /check t\d+\/s\d+:/.test(l.textContent)).length > n, before, { timeout: 30000 });
	await page.uncheck(tid('logs-follow'));
});

step('axe-logs-tab', async () => {
	const found = await axe('desktop logs');
	await page.setViewportSize(PHONE);
	await page.locator(tid('log-line')).first().waitFor();
	await page.screenshot({ path: path.join(ARTIFACTS, 'logs-phone.png') });
	found.push(...await axe('phone logs'));
	const w = await page.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
	assert.ok(w[0] <= w[1] + 1, `the page does not scroll sideways (${w})`);
	await page.setViewportSize(DESKTOP);
	assert.deepEqual(found, [], 'axe-core: serious or critical violations');
});

step('events-of-connector-and-site', async () => {
	await page.click(tid('tab-details'));
	await page.locator(tid('connector-events') + ' ' + tid('event-row')).first().waitFor();
	const kinds = await page.$$eval(tid('connector-events') + ' ' + tid('event-row'),
		rs => rs.map(r => r.dataset.kind));
	assert.ok(kinds.includes('tunnel-up') && kinds.includes('enrolled'), `events: ${kinds}`);
	assert.equal(kinds[kinds.length - 1], 'enrolled', 'newest first, enrollment last');
	await page.locator(tid('tab-logs')).focus();
	await page.keyboard.press('ArrowLeft');
	assert.equal(await page.locator(tid('tab-logs')).getAttribute('aria-selected'), 'true',
		'the arrow keys move between the tabs');
	await page.click(tid('tab-details'));
	const found = await axe('desktop connector details');
	await page.evaluate(h => { location.hash = h; }, `#/sites/${SITE}`);
	await page.locator(tid('site-events') + ' ' + tid('event-row')).first().waitFor();
	found.push(...await axe('desktop site'));
	await page.setViewportSize(PHONE);
	await page.screenshot({ path: path.join(ARTIFACTS, 'logs-site-events-phone.png') });
	found.push(...await axe('phone site'));
	assert.deepEqual(found, [], 'axe-core: serious or critical violations');
	assert.deepEqual(h.scriptErrors(), [], 'the page logged errors');
});
