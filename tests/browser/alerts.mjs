// Browser test of the console's Alerts page (cloud/console/pages/alerts.js,
// docs/alerts.md): playwright-core driving Debian's Chromium. Signs in,
// adds a webhook channel (its signing key shown once) and an e-mail channel
// through the form, sends a test to each and reads the result the page
// shows (delivered; the relay's refusal of a wrong password), opens a
// delivery log, adds a rule, and checks the page with axe-core (no
// violation of impact serious or critical) at 1440x900 and 390x844, with
// screenshots in tests/browser/artifacts/.
//
// Its driver, tests/integration/test_alerts.py (test_console_alerts_page),
// starts the cloud, an HTTP receiver and an SMTP relay, and sets:
//
//   UPLINK_CONSOLE_URL, UPLINK_CONSOLE_SPKI, UPLINK_ADMIN_EMAIL,
//   UPLINK_ADMIN_PASSWORD, UPLINK_ARTIFACTS   as for console.mjs
//   UPLINK_HOOK_URL        the receiver's URL (answers 200)
//   UPLINK_SMTP_HOST, UPLINK_SMTP_PORT, UPLINK_SMTP_CA   the relay
//
//   node --test tests/browser/alerts.mjs

import assert from 'node:assert/strict';
import path from 'node:path';
import { ARTIFACTS, DESKTOP, PHONE, browserHarness, need, tid } from './harness.mjs';

const via = 'tests/integration/test_alerts.py';
const URL_ = need('UPLINK_CONSOLE_URL', via).replace(/\/?$/, '/');
const EMAIL = need('UPLINK_ADMIN_EMAIL', via);
const PASSWORD = need('UPLINK_ADMIN_PASSWORD', via);
const HOOK = need('UPLINK_HOOK_URL', via);
const SMTP_HOST = need('UPLINK_SMTP_HOST', via);
const SMTP_PORT = need('UPLINK_SMTP_PORT', via);
const SMTP_CA = need('UPLINK_SMTP_CA', via);
let page;
const h = browserHarness('alerts', { context: { timezoneId: 'Europe/Berlin' },
	ready: p => { page = p; } });
const step = h.step, axe = h.axe;

step('signin-and-open', async () => {
	await h.signIn(URL_, EMAIL, PASSWORD);
	await page.click(tid('nav-alerts'));
	await page.locator(tid('page-title')).filter({ hasText: 'Alerts' }).waitFor();
	assert.equal(await page.locator(`${tid('nav-alerts')}[aria-current="page"]`).count(), 1);
});

step('webhook-channel-and-test', async () => {
	await page.fill(tid('channel-name'), 'ui-hook');
	await page.selectOption(tid('channel-type'), 'webhook');
	await page.fill(tid('channel-url'), HOOK);
	await page.click(tid('channel-create'));
	// The key the cloud made, once.
	const key = await page.locator(tid('channel-secret')).innerText();
	assert.match(key, /^[0-9a-f]{64}$/);
	const row = page.locator(tid('channel-row')).filter({ hasText: 'ui-hook' });
	await row.waitFor();
	assert.ok(!(await page.locator('main').innerText()).includes(key.slice(0, 12) + 'x'));
	await row.locator(tid('channel-test')).click();
	await page.locator(tid('channel-test-result')).filter({ hasText: 'delivered to ui-hook' }).waitFor();
	await page.locator(`${tid('delivery-log')} ${tid('delivery-row')}[data-status="delivered"]`).waitFor();
	await page.screenshot({ path: path.join(ARTIFACTS, 'alerts-desktop-webhook.png') });
});

step('email-channel-wrong-password', async () => {
	await page.fill(tid('channel-name'), 'ui-mail');
	await page.selectOption(tid('channel-type'), 'email');
	await page.fill(tid('channel-host'), SMTP_HOST);
	await page.fill(tid('channel-port'), SMTP_PORT);
	await page.fill(tid('channel-user'), 'uplink');
	await page.fill(tid('channel-pass'), 'not-the-password');
	await page.fill(tid('channel-from'), 'uplink@example.net');
	await page.fill(tid('channel-to'), 'ops@example.net');
	await page.fill(tid('channel-ca'), SMTP_CA);
	await page.click(tid('channel-create'));
	const row = page.locator(tid('channel-row')).filter({ hasText: 'ui-mail' });
	await row.waitFor();
	assert.match(await row.innerText(), /ops@example\.net/);
	await row.locator(tid('channel-test')).click();
	const res = page.locator(tid('channel-test-result')).filter({ hasText: 'not delivered' });
	await res.waitFor();
	assert.match(await res.innerText(), /Login denied|535/);
	assert.equal(await res.getAttribute('role'), 'alert');
	await page.locator(`${tid('delivery-log')} ${tid('delivery-row')}[data-status="failed"]`).waitFor();
});

step('rule', async () => {
	await page.selectOption(tid('rule-kind'), 'connector-offline');
	await page.fill(tid('rule-after'), '120');
	await page.locator(`${tid('rule-channel')}[data-name="ui-hook"]`).check();
	await page.click(tid('rule-create'));
	const row = page.locator(tid('rule-row')).filter({ hasText: 'Connector offline' });
	await row.waitFor();
	assert.match(await row.innerText(), /2 min/);
	assert.match(await row.innerText(), /ui-hook/);
});

step('axe-desktop-and-phone', async () => {
	const found = [];
	for (const [size, label] of [[DESKTOP, 'desktop'], [PHONE, 'phone']]) {
		await page.setViewportSize(size);
		await page.evaluate(() => { location.hash = '#/overview'; });
		await page.evaluate(() => { location.hash = '#/alerts'; });
		await page.locator(tid('channel-row')).first().waitFor();
		await page.waitForFunction(() => !document.querySelector('[data-testid="loading"]'));
		await page.locator(tid('channel-log')).first().click();
		await page.locator(tid('delivery-row')).first().waitFor();
		await page.screenshot({ path: path.join(ARTIFACTS, `alerts-${label}.png`), fullPage: true });
		found.push(...await axe(label));
		if (size === PHONE) {
			const m = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: innerWidth }));
			assert.ok(m.scroll <= m.width + 1, `the page does not scroll sideways (${m.scroll} > ${m.width})`);
		}
	}
	assert.deepEqual(found, [], 'axe-core: serious or critical violations');
	assert.deepEqual(h.scriptErrors(), [], 'the page logged errors');
});
