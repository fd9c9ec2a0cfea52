// Browser test of uplink-cloud's web console (cloud/console/, docs/console.md).
//
// playwright-core drives Debian's Chromium (/usr/bin/chromium, headless)
// through the scenario an administrator goes through, and every step
// asserts what the page shows: sign in; two connectors online in the
// overview; an enrollment token with its secret and command; a
// connectivity check and its rows; the inactivity timeout refused at 5
// minutes with the range, saved at 30; a connector revoked, shown revoked,
// and a notification in the bell; sign out, the sign-in page, and the old
// session refused by the server.
//
// Its driver, tests/integration/test_console.py, starts a real
// uplink-cloud with two connectors of one site and sets:
//
//   UPLINK_CONSOLE_URL       https://127.0.0.1:PORT/
//   UPLINK_CONSOLE_SPKI      base64 SHA-256 SPKI hashes (comma-separated) of
//                            the cloud's CA and server certificates, which
//                            Chromium is told to accept (see launch())
//   UPLINK_ADMIN_EMAIL, UPLINK_ADMIN_PASSWORD   a full administrator
//   UPLINK_SITE              the site of the connectors ("hq")
//   UPLINK_CONNECTORS        their ids, comma-separated: the first one is
//                            checked, the second revoked
//   UPLINK_ARTIFACTS         where screenshots go (tests/browser/artifacts)
//   UPLINK_DOCS_IMAGE        if set, the overview screenshot is copied there
//                            (docs/images/console-overview.png)
//
//   node --test tests/browser/console.mjs     (or: node tests/browser/console.mjs)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));

function need(name) {
	const v = process.env[name];
	if (!v)
		throw new Error(`${name} is not set: run this through tests/integration/test_console.py`);
	return v;
}

const URL_ = need('UPLINK_CONSOLE_URL').replace(/\/?$/, '/');
const EMAIL = need('UPLINK_ADMIN_EMAIL');
const PASSWORD = need('UPLINK_ADMIN_PASSWORD');
const SITE = need('UPLINK_SITE');
const CONNECTORS = need('UPLINK_CONNECTORS').split(',').filter(Boolean);
const ARTIFACTS = process.env.UPLINK_ARTIFACTS || path.join(HERE, 'artifacts');
const DOCS_IMAGE = process.env.UPLINK_DOCS_IMAGE || '';
const CHROMIUM = process.env.UPLINK_CHROMIUM || '/usr/bin/chromium';
const SPKI = process.env.UPLINK_CONSOLE_SPKI || '';

const T = 20000;                // default wait for what the page shows

let browser, context, page;
let failed = false;
let shot = 0;
const consoleErrors = [];

async function screenshot(name) {
	shot += 1;
	const file = path.join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`);
	await page.screenshot({ path: file });
	return file;
}

// One step of the scenario: skipped after a failure (later steps depend
// on earlier ones), and a screenshot of the page when it fails.
function step(name, fn) {
	test(name, { timeout: 120000 }, async t => {
		if (failed) {
			t.skip('an earlier step failed');
			return;
		}
		try {
			await fn(t);
		} catch (e) {
			failed = true;
			try {
				const f = await screenshot(`${name}-FAILED`);
				console.error(`# screenshot of the failure: ${f}`);
				console.error(`# page URL: ${page.url()}`);
			} catch (e2) {
				/* the page may be gone */
			}
			throw e;
		}
	});
}

const tid = id => `[data-testid="${id}"]`;

// The session JSON and a fetch from inside the page: same origin, the
// browser's cookie, what the console itself would send.
async function inPage(method, p, body, headers) {
	return page.evaluate(async ([m, u, b, h]) => {
		const res = await fetch(u, { method: m, headers: { 'Content-Type': 'application/json', ...(h || {}) },
			body: b === null ? undefined : JSON.stringify(b), credentials: 'same-origin' });
		const text = await res.text();
		let json = null;
		try {
			json = JSON.parse(text);
		} catch (e) {
			/* not JSON */
		}
		return { status: res.status, json, text };
	}, [method, p, body === undefined ? null : body, headers || null]);
}

before(async () => {
	fs.mkdirSync(ARTIFACTS, { recursive: true });
	for (const f of fs.readdirSync(ARTIFACTS))
		if (f.endsWith('.png'))
			fs.rmSync(path.join(ARTIFACTS, f));
	const args = ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'];
	// The cloud's certificate is signed by its own private CA, which this
	// Chromium does not trust. Rather than ignoreHTTPSErrors (which would
	// accept any certificate at all), Chromium is told to accept exactly the
	// public keys of that CA and server certificate; everything else about
	// TLS is checked as usual.
	if (SPKI)
		args.push(`--ignore-certificate-errors-spki-list=${SPKI}`);
	browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
	context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB',
		timezoneId: 'UTC' });
	context.setDefaultTimeout(T);
	page = await context.newPage();
	page.on('console', m => {
		if (m.type() === 'error')
			consoleErrors.push(m.text());
	});
	page.on('pageerror', e => consoleErrors.push(`uncaught: ${e.message}`));
});

after(async () => {
	if (browser)
		await browser.close();
});

// Errors the console logged other than failed requests (a 401 before
// signing in is expected): script errors and CSP violations.
function assertNoScriptErrors() {
	const bad = consoleErrors.filter(e => !/Failed to load resource/.test(e));
	assert.deepEqual(bad, [], 'the page logged errors');
}

step('signin', async () => {
	const res = await page.goto(URL_);
	assert.equal(res.status(), 200);
	const csp = res.headers()['content-security-policy'] || '';
	assert.match(csp, /default-src 'self'/, 'GET / carries the Content-Security-Policy');
	assert.match(csp, /script-src 'self'/);
	await page.locator(tid('signin-form')).waitFor();
	await assert.doesNotReject(page.locator('label', { hasText: 'E-mail' }).waitFor());
	await screenshot('signin');

	await page.fill(tid('signin-email'), EMAIL);
	await page.fill(tid('signin-password'), PASSWORD + '-wrong');
	await page.click(tid('signin-submit'));
	await page.locator(tid('signin-error-text')).waitFor();
	assert.match(await page.locator(tid('signin-error-text')).innerText(), /wrong e-mail or password/i);

	await page.fill(tid('signin-password'), PASSWORD);
	await page.click(tid('signin-submit'));
	await page.locator(tid('topbar-email')).waitFor();
	assert.equal(await page.locator(tid('topbar-email')).innerText(), EMAIL);
	assert.equal(await page.locator(tid('page-title')).innerText(), 'Overview');
	const s = await inPage('GET', '/api/v1/session');
	assert.equal(s.status, 200);
	assert.equal(s.json.admin.email, EMAIL);
});

step('overview', async () => {
	const card = page.locator(`${tid('site-card')}[data-site="${SITE}"]`);
	await card.waitFor();
	// Both connectors online; the overview refreshes itself every 5 s, so
	// a connector that was still connecting turns online without reload.
	for (const id of CONNECTORS.slice(0, 2)) {
		const row = card.locator(`${tid('connector-row')}[data-connector="${id}"]`);
		await row.waitFor();
		await page.waitForFunction(sel => {
			const b = document.querySelector(sel);
			return b && b.textContent.trim() === 'online';
		}, `${tid('connector-row')}[data-connector="${id}"] ${tid('connector-state')}`, { timeout: 40000 });
	}
	assert.equal(await card.locator(tid('site-state')).innerText(), 'online');
	assert.match(await card.locator(tid('site-count')).innerText(), /2 of 2 connectors online/);
	assert.equal(await card.locator(tid('no-redundancy')).count(), 0, 'no redundancy warning with two online');
	const row = card.locator(`${tid('connector-row')}[data-connector="${CONNECTORS[0]}"]`);
	assert.match(await row.locator('[data-col="version"]').innerText(), /\S/);
	assert.match(await row.locator('[data-col="bytes_in"]').innerText(), /^\d[\d.,]* (B|KiB|MiB|GiB)$/);
	assert.match(await row.locator('[data-col="last_seen"]').innerText(), /just now|s ago/);
	// Live: the "updated" stamp moves without a reload.
	const stamp = await page.locator(tid('live-note')).innerText();
	await page.waitForFunction(([sel, was]) => document.querySelector(sel).textContent !== was,
		[tid('live-note'), stamp], { timeout: 15000 });
	const file = await screenshot('overview');
	if (DOCS_IMAGE) {
		fs.mkdirSync(path.dirname(DOCS_IMAGE), { recursive: true });
		fs.copyFileSync(file, DOCS_IMAGE);
	}
	assertNoScriptErrors();
});

step('token', async () => {
	await page.click(tid('nav-tokens'));
	await page.locator(tid('token-site')).waitFor();
	await page.fill(tid('token-site'), SITE);
	await page.selectOption(tid('token-ttl'), '1h');
	await page.click(tid('token-create'));
	const secret = page.locator(tid('token-secret'));
	await secret.waitFor();
	const token = (await secret.innerText()).trim();
	assert.match(token, /^uplink1-\S{20,}$/, 'the token secret is shown');
	const command = (await page.locator(tid('token-command')).innerText()).trim();
	assert.match(command, /^uplink-connector enroll /, 'the enroll command is shown');
	assert.ok(command.includes(token), 'the command carries the token');
	assert.match(await page.locator(tid('token-secret-panel')).innerText(), /shown only this once/);
	await page.locator(`${tid('token-row')}[data-state="valid"]`).first().waitFor();
	await screenshot('token');
});

step('check', async () => {
	await page.click(tid('nav-overview'));
	await page.click(`${tid('connector-row')}[data-connector="${CONNECTORS[0]}"] ${tid('connector-link')}`);
	await page.locator(tid('check-run')).waitFor();
	assert.match(await page.locator(tid('connector-facts')).innerText(), new RegExp(CONNECTORS[0]));
	await page.click(tid('check-run'));
	await page.locator(tid('loading')).first().waitFor();
	await page.locator(tid('check-row')).first().waitFor({ timeout: 75000 });
	const rows = page.locator(tid('check-row'));
	const n = await rows.count();
	assert.ok(n >= 1, 'the check has at least one row');
	const host = new URL(URL_);
	const addresses = [];
	for (let i = 0; i < n; i++) {
		const r = rows.nth(i);
		assert.match(await r.locator('[data-col="service"]').innerText(), /\S/);
		assert.match(await r.locator('[data-col="route"]').innerText(), /direct|via proxy/);
		assert.match(await r.locator('[data-col="verdict"]').innerText(), /^(pass|fail)$/);
		assert.match(await r.locator('[data-col="remedy"]').innerText(), /\S/);
		addresses.push(await r.locator('[data-col="address"]').innerText());
	}
	assert.ok(addresses.some(a => a.includes(`${host.hostname}:${host.port}`)),
		`a row for the cloud's own address ${host.host}: ${addresses.join(' | ')}`);
	assert.match(await page.locator(tid('check-summary')).innerText(), /passed/);
	await page.locator(tid('check-history-row')).first().waitFor();
	await screenshot('check');
});

step('settings', async () => {
	await page.click(tid('nav-settings'));
	const sw = page.locator(tid('timeout-enabled'));
	await sw.waitFor();
	assert.equal(await sw.isChecked(), false, 'the inactivity timeout is disabled by default');
	assert.equal(await page.locator(tid('timeout-state')).innerText(), 'Disabled');
	await sw.check();
	assert.equal(await page.locator(tid('timeout-state')).innerText(), 'Enabled');
	assert.equal(await page.locator(tid('timeout-minutes')).inputValue(), '60', 'offered at 60 minutes');

	await page.fill(tid('timeout-minutes'), '5');
	await page.click(tid('settings-save'));
	const err = page.locator(tid('settings-message'));
	await page.locator(`${tid('settings-message')} .alert`).waitFor();
	const refused = await err.innerText();
	assert.match(refused, /10/, `the message gives the range: ${refused}`);
	assert.match(refused, /720/, `the message gives the range: ${refused}`);
	// The server refuses it too, whatever the page checks (400 with the range).
	const csrf = (await inPage('GET', '/api/v1/session')).json.csrf_token;
	const r = await inPage('PATCH', '/api/v1/settings', { console_inactivity_timeout_minutes: 5 },
		{ 'X-CSRF-Token': csrf });
	assert.equal(r.status, 400, `PATCH 5 minutes: ${r.text}`);
	assert.match(r.json.message, /10/);
	assert.match(r.json.message, /720/);
	await screenshot('settings-refused');

	await page.fill(tid('timeout-minutes'), '30');
	await page.click(tid('settings-save'));
	await page.locator(tid('settings-saved')).waitFor();
	assert.match(await page.locator(tid('settings-saved')).innerText(), /30 minutes/);
	await screenshot('settings-saved');

	// Saved on the server: a reload shows it, and the session follows it.
	await page.reload();
	await page.locator(tid('timeout-enabled')).waitFor();
	assert.equal(await page.locator(tid('timeout-enabled')).isChecked(), true);
	assert.equal(await page.locator(tid('timeout-minutes')).inputValue(), '30');
	const s = await inPage('GET', '/api/v1/session');
	assert.equal(s.json.inactivity_timeout_minutes, 30);
	assert.ok(s.json.idle_expires_at > 0 && s.json.expires_at <= s.json.idle_expires_at);
});

step('revoke', async () => {
	const id = CONNECTORS[1];
	const before = Number((await page.locator(tid('bell-count')).innerText()) || 0);
	await page.click(tid('nav-overview'));
	await page.click(`${tid('connector-row')}[data-connector="${id}"] ${tid('connector-link')}`);
	await page.locator(tid('revoke')).waitFor();
	await page.click(tid('revoke'));
	const dlg = page.locator(tid('confirm-dialog'));
	await dlg.waitFor();
	assert.match(await dlg.innerText(), /cannot be undone/);
	await page.click(tid('confirm-ok'));
	await page.waitForFunction(sel => document.querySelector(sel)?.textContent === 'revoked',
		`${tid('connector-facts')} ${tid('connector-state')}`);
	assert.equal(await page.locator(tid('revoke')).count(), 0, 'no Revoke button on a revoked connector');
	await screenshot('revoked');

	await page.click(tid('nav-overview'));
	const row = page.locator(`${tid('connector-row')}[data-connector="${id}"]`);
	await row.waitFor();
	assert.match(await row.locator(tid('connector-state')).innerText(), /^(revoked|offline)$/);
	// The bell counts the new notification (it polls; actions refresh it).
	await page.waitForFunction(([sel, was]) => {
		const b = document.querySelector(sel);
		return b && !b.hidden && Number(b.textContent.replace('+', '')) > was;
	}, [tid('bell-count'), before], { timeout: 30000 });
	await screenshot('bell');
	await page.click(tid('bell'));
	const note = page.locator(`${tid('notification-row')}[data-kind="connector-revoked"]`);
	await note.first().waitFor();
	assert.match(await note.first().innerText(), /revoked/i);
	await screenshot('notifications');
	assertNoScriptErrors();
});

step('signout', async () => {
	const cookies = await context.cookies();
	const sess = cookies.find(c => c.name === 'uplink_session');
	assert.ok(sess, 'the session cookie is set');
	assert.equal(sess.httpOnly, true, 'HttpOnly');
	assert.equal(sess.secure, true, 'Secure');
	assert.equal(sess.sameSite, 'Strict', 'SameSite=Strict');

	await page.click(tid('signout'));
	await page.locator(tid('signin-form')).waitFor();
	assert.match(await page.locator(tid('signin-banner')).innerText(), /You signed out/);
	await screenshot('signed-out');

	// The old session is gone on the server, not only from the browser:
	// the same cookie put back is refused.
	await context.addCookies([sess]);
	const r = await inPage('GET', '/api/v1/session');
	assert.equal(r.status, 401, `the old session still works: ${r.text}`);
	assert.equal(r.json.error, 'unauthenticated');
	await context.clearCookies();
	await page.reload();
	await page.locator(tid('signin-form')).waitFor();
	assertNoScriptErrors();
});
