// Browser test of uplink-cloud's web console (cloud/console/, docs/console.md).
//
// playwright-core drives Debian's Chromium (/usr/bin/chromium, headless)
// through the scenario an administrator goes through, and every step
// asserts what the page shows: sign in; two connectors online in the
// overview; an enrollment token with its secret and command; a
// connectivity check and its rows; the inactivity timeout refused at 5
// minutes with the range, saved at 30; a connector revoked, shown revoked,
// and a notification in the bell; the bar that warns of the end of the
// session (inactivity: "Stay signed in"; the maximum length: a countdown)
// and the sign-in page a session that ended returns to, with the reason;
// sign out, the sign-in page, and the old session refused by the server.
// The end of a session is brought near by rewriting the server's answers
// (page.route()): the shortest real inactivity timeout is 10 minutes.
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
//   UPLINK_PACKAGE, UPLINK_PACKAGE_SHA256   a package the cloud serves
//                            (the "Add a connector" page), optional
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
// A (fake) connector package in the cloud's [cloud] packages directory,
// and its SHA-256: the "Add a connector" page links to it.
const PACKAGE = process.env.UPLINK_PACKAGE || '';
// UPLINK_INSTANCES (test_cluster.py): the cluster's instance ids; the first
// connector's tunnels are on UPLINK_INSTANCE_OF_CONNECTOR.
const INSTANCES = (process.env.UPLINK_INSTANCES || '').split(',').filter(Boolean);
const INSTANCE_OF_CONNECTOR = process.env.UPLINK_INSTANCE_OF_CONNECTOR || '';
const PACKAGE_SHA256 = process.env.UPLINK_PACKAGE_SHA256 || '';

const T = 20000;                // default wait for what the page shows
const DESKTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };
const AXE = fs.readFileSync(path.join(HERE, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

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

// Every request the page makes, to tell the console's automatic refreshes
// (X-Uplink-Background: 1) from what an administrator did.
const requests = [];

const apiPath = u => new URL(u).pathname;
const isSessionUrl = u => apiPath(u) === '/api/v1/session';
const isBackground = r => r.headers()['x-uplink-background'] === '1';

// From now on, GET /api/v1/session answers the real session as
// edit(session, now) changes it. The real one is fetched from inside the
// page (with the request's X-Uplink-Background, so that the server counts
// it as the console's request would count) rather than with route.fetch():
// that fetch runs in node, which does not trust the cloud's private CA, and
// this test does not turn certificate checks off. PASS marks that fetch so
// that it goes through unrouted. Returns the handler, for page.unroute().
const PASS = 'x-uplink-test-passthrough';
const isPass = r => r.headers()[PASS] === '1';

async function routeSession(edit) {
	const handler = async route => {
		const req = route.request();
		if (req.method() !== 'GET' || isPass(req))
			return route.continue();
		const headers = { Accept: 'application/json', [PASS]: '1' };
		if (isBackground(req))
			headers['X-Uplink-Background'] = '1';
		let real;
		try {
			real = await page.evaluate(async h => {
				const r = await fetch('/api/v1/session', { headers: h, credentials: 'same-origin',
					cache: 'no-store' });
				return { status: r.status, text: await r.text() };
			}, headers);
		} catch (e) {
			return route.abort().catch(() => {});      /* the page went away */
		}
		let body = real.text;
		if (real.status === 200) {
			const json = JSON.parse(real.text);
			edit(json, Math.floor(Date.now() / 1000));
			body = JSON.stringify(json);
		}
		return route.fulfill({ status: real.status, contentType: 'application/json', body })
			.catch(() => {});
	};
	await page.route(isSessionUrl, handler);
	return handler;
}

// From now on every API request is answered as the server answers a
// session that has ended. Returns the handler, for page.unroute().
async function routeEnded(reason, message) {
	const handler = route => route.fulfill({ status: 401, contentType: 'application/json',
		body: JSON.stringify({ error: 'unauthenticated', message, reason }) });
	const match = u => apiPath(u).startsWith('/api/v1/');
	await page.route(match, handler);
	return [match, handler];
}

async function signInAgain() {
	await page.locator(tid('signin-form')).waitFor();
	await page.fill(tid('signin-email'), EMAIL);
	await page.fill(tid('signin-password'), PASSWORD);
	await page.click(tid('signin-submit'));
	await page.locator(tid('topbar-email')).waitFor();
	assert.equal(await page.locator(tid('topbar-email')).innerText(), EMAIL);
	const s = await inPage('GET', '/api/v1/session');
	assert.equal(s.status, 200, `signed in again for real: ${s.text}`);
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
	// A time zone that is not UTC, so that the UTC toggle shows a change.
	context = await browser.newContext({ viewport: DESKTOP, locale: 'en-GB',
		timezoneId: 'Europe/Berlin' });
	context.setDefaultTimeout(T);
	page = await context.newPage();
	page.on('console', m => {
		if (m.type() === 'error')
			consoleErrors.push(m.text());
	});
	page.on('pageerror', e => consoleErrors.push(`uncaught: ${e.message}`));
	page.on('request', r => requests.push(r));
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

// Defect 3: the 5-second refresh used to rebuild the page, so a text
// selection (copying a connector id) and keyboard focus were lost.
step('live-refresh-keeps-selection-and-focus', async () => {
	const row = `${tid('connector-row')}[data-connector="${CONNECTORS[0]}"]`;
	await page.locator(row).waitFor();
	await page.evaluate(([sel, id]) => {
		const span = [...document.querySelectorAll(sel + ' .mono')].find(e => e.textContent === id);
		span.__mark = 'kept';
		const r = document.createRange();
		r.selectNodeContents(span);
		getSelection().removeAllRanges();
		getSelection().addRange(r);
		const link = document.querySelector(sel + ' [data-testid="connector-link"]');
		link.__mark = 'kept';
		link.focus({ preventScroll: true });
		getSelection().removeAllRanges();
		getSelection().addRange(r);
	}, [row, CONNECTORS[0]]);
	// Two live refreshes.
	for (let i = 0; i < 2; i++) {
		const stamp = await page.locator(tid('live-note')).innerText();
		await page.waitForFunction(([sel, was]) => document.querySelector(sel).textContent !== was,
			[tid('live-note'), stamp], { timeout: 15000 });
	}
	const after = await page.evaluate(sel => ({
		selection: getSelection().toString(),
		focus: document.activeElement && document.activeElement.dataset.testid,
		focusKept: document.activeElement && document.activeElement.__mark === 'kept',
		nodeKept: [...document.querySelectorAll(sel + ' .mono')].some(e => e.__mark === 'kept'),
	}), row);
	assert.equal(after.selection, CONNECTORS[0], 'the selected connector id is still selected after the refresh');
	assert.equal(after.focus, 'connector-link', 'keyboard focus stays on the link');
	assert.ok(after.focusKept && after.nodeKept, 'the refresh updated the rows in place');
	// Copying it works: the clipboard gets the id.
	await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(URL_).origin });
	await page.keyboard.press('Control+C');
	const clip = await page.evaluate(() => navigator.clipboard.readText().catch(() => null));
	if (clip !== null)
		assert.equal(clip, CONNECTORS[0], 'the clipboard has the connector id');
	await page.evaluate(() => getSelection().removeAllRanges());
});

// Defect 10: search and a state filter on the overview's connectors.
step('overview-search', async () => {
	await page.fill(tid('connectors-search'), CONNECTORS[1]);
	await page.waitForFunction(n => document.querySelectorAll('[data-testid="connector-row"]').length === n, 1);
	assert.equal(await page.locator(`${tid('connector-row')}[data-connector="${CONNECTORS[1]}"]`).count(), 1);
	await page.fill(tid('connectors-search'), 'no-such-connector');
	await page.locator(`${tid('overview')} ${tid('empty-state')}`).waitFor();
	await page.fill(tid('connectors-search'), '');
	await page.selectOption(tid('connectors-filter'), 'offline');
	await page.waitForFunction(() => document.querySelectorAll('[data-testid="connector-row"]').length === 0);
	await page.selectOption(tid('connectors-filter'), '');
	await page.waitForFunction(n => document.querySelectorAll('[data-testid="connector-row"]').length === n,
		CONNECTORS.length);
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

// Issue 15: the "Add a connector" page, reached from the overview's link:
// a token made there, the packages the cloud serves with their download
// link, and the commands with the token and the proxy flags the
// administrator types (a malformed proxy is refused in the page and left
// out of the command), at desktop and phone width with axe-core.
step('add-connector', async () => {
	await page.setViewportSize(DESKTOP);
	await page.evaluate(() => { location.hash = '#/overview'; });
	await page.click(tid('overview-add'));
	await page.locator(tid('addc-site')).waitFor();
	assert.match(page.url(), /#\/add-connector$/);
	assert.equal(await page.locator(tid('page-title')).innerText(), 'Add a connector');
	assert.equal(await page.getAttribute(tid('nav-overview'), 'aria-current'), 'page');
	await page.locator(`${tid('addc-package-row')}, ${tid('addc-no-packages')}`).first().waitFor();
	if (PACKAGE) {
		const link = page.locator(`${tid('addc-package-row')}[data-name="${PACKAGE}"] ${tid('addc-package-link')}`);
		assert.equal(await link.getAttribute('href'), `/packages/${PACKAGE}`);
		// The link downloads without the session: the bytes, by SHA-256.
		const got = await page.evaluate(async u => {
			const res = await fetch(u, { credentials: 'omit' });
			const buf = await res.arrayBuffer();
			const d = await crypto.subtle.digest('SHA-256', buf);
			return { status: res.status, type: res.headers.get('content-type'),
				sha: [...new Uint8Array(d)].map(b => b.toString(16).padStart(2, '0')).join('') };
		}, `/packages/${PACKAGE}`);
		assert.equal(got.status, 200);
		assert.equal(got.type, 'application/vnd.debian.binary-package');
		assert.equal(got.sha, PACKAGE_SHA256);
		const dl = (await page.locator(tid('addc-cmd-download')).innerText()).trim();
		assert.equal(dl, `curl -fO --cacert ca.pem https://${new URL(URL_).host}/packages/${PACKAGE}`);
		assert.equal((await page.locator(tid('addc-cmd-verify')).innerText()).trim(),
			`echo '${PACKAGE_SHA256} *${PACKAGE}' | sha256sum -c`);
		assert.equal((await page.locator(tid('addc-cmd-apt')).innerText()).trim(), `sudo apt install ./${PACKAGE}`);
	}
	await page.locator(tid('addc-cmd-install-missing')).waitFor();

	await page.fill(tid('addc-site'), SITE);
	await page.selectOption(tid('addc-ttl'), '1h');
	await page.click(tid('addc-create'));
	const install = page.locator(tid('addc-cmd-install'));
	await install.waitFor();
	let cmd = (await install.innerText()).trim();
	const m = /^sudo uplink-connector install --token (uplink1-\S{20,})$/.exec(cmd);
	assert.ok(m, `the install command with the token: ${cmd}`);
	const token = m[1];
	assert.match(await page.locator(tid('addc-token-note')).innerText(), /shown only now/);
	const tokens = await inPage('GET', '/api/v1/tokens');
	assert.ok(tokens.json.tokens.some(t => t.site === SITE && t.state === 'valid'), 'a valid token of the site');

	// A proxy with credentials: refused in the page, not in the command.
	await page.fill(tid('addc-proxy'), 'http://user:secret@10.0.0.1:3128');
	await page.locator(tid('addc-proxy-invalid')).waitFor();
	assert.equal(await page.getAttribute(tid('addc-proxy'), 'aria-invalid'), 'true');
	cmd = (await install.innerText()).trim();
	assert.ok(!cmd.includes('--proxy') && !cmd.includes('secret'), `no bad proxy in: ${cmd}`);
	await page.fill(tid('addc-proxy'), 'https://10.0.0.1:3128');
	await page.locator(tid('addc-proxy-invalid')).waitFor();

	await page.fill(tid('addc-proxy'), 'http://proxy.corp.example:3128');
	await page.fill(tid('addc-bypass'), '.corp.example, 10.0.0.0/8');
	assert.equal(await page.locator(tid('addc-proxy-invalid')).count(), 0);
	assert.equal(await page.getAttribute(tid('addc-proxy'), 'aria-invalid'), null);
	cmd = (await install.innerText()).trim();
	assert.equal(cmd, `sudo uplink-connector install --token ${token} --proxy http://proxy.corp.example:3128 ` +
		`--bypass '.corp.example, 10.0.0.0/8'`);
	assert.match((await page.locator(tid('addc-cmd-download')).innerText()).trim(),
		/^curl -fO --cacert ca\.pem --proxy http:\/\/proxy\.corp\.example:3128 https:\/\//);
	await screenshot('add-connector');
	const found = await axe('desktop add-connector');

	await page.setViewportSize(PHONE);
	await screenshot('phone-add-connector');
	const w = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: innerWidth }));
	assert.ok(w.scroll <= w.width + 1, `add-connector: the page does not scroll sideways (${w.scroll} > ${w.width})`);
	found.push(...await axe('phone add-connector'));
	await page.setViewportSize(DESKTOP);
	assert.deepEqual(found, [], 'axe-core: serious or critical violations');
	assertNoScriptErrors();
});

step('lists-and-focus', async () => {
	// Focus goes to the new page's heading after a navigation.
	await page.click(tid('nav-services'));
	await page.locator(tid('service-site')).waitFor();
	await page.waitForFunction(() => document.activeElement && document.activeElement.dataset.testid === 'page-title');
	assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Published services');
	// Defect 6: the site field's suggestion list exists on this page.
	const dl = await page.evaluate(sel => {
		const input = document.querySelector(sel);
		const list = input.list;
		return list ? { tag: list.tagName, options: [...list.options].map(o => o.value) } : null;
	}, tid('service-site'));
	assert.ok(dl, 'the site field points at a datalist that exists on the services page');
	assert.equal(dl.tag, 'DATALIST');
	await page.waitForFunction(([sel, site]) => [...document.querySelector(sel).list.options]
		.some(o => o.value === site), [tid('service-site'), SITE]);

	// Defect 10: search, filter and counts on the tokens list.
	await page.click(tid('nav-tokens'));
	await page.locator(tid('tokens-search')).waitFor();
	await page.locator(tid('token-row')).first().waitFor();
	const all = await page.locator(tid('token-row')).count();
	await page.fill(tid('tokens-search'), 'no-such-token');
	await page.locator(`${tid('tokens-list')} ${tid('empty-state')}`).waitFor();
	assert.match(await page.locator(tid('tokens-count')).innerText(), new RegExp(`^0 of ${all} token`));
	await page.fill(tid('tokens-search'), SITE);
	await page.waitForFunction(n => document.querySelectorAll('[data-testid="token-row"]').length === n, all);
	await page.selectOption(tid('tokens-filter'), 'valid');
	const states = await page.locator(tid('token-row')).evaluateAll(rs => rs.map(r => r.dataset.state));
	assert.ok(states.length >= 1 && states.every(x => x === 'valid'), `only valid tokens: ${states}`);
	await page.selectOption(tid('tokens-filter'), '');
	await page.fill(tid('tokens-search'), '');
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

// Sites renamed and deleted, connectors renamed and removed, each behind
// a dialog (issue 16, defect 10). Self-contained: a site of its own, and
// the second connector revoked here if the 'revoke' step did not run.
step('rename-and-remove', async () => {
	const csrf = (await inPage('GET', '/api/v1/session')).json.csrf_token;
	const h = { 'X-CSRF-Token': csrf };
	assert.equal((await inPage('POST', '/api/v1/sites', { name: 'ui-site' }, h)).status, 201);
	await page.evaluate(() => { location.hash = '#/sites/ui-site'; });
	await page.locator(tid('site-rename')).waitFor();
	await page.click(tid('site-rename'));
	await page.locator(tid('rename-dialog')).waitFor();
	await page.fill(tid('rename-name'), 'ui-site-2');
	await page.click(tid('dialog-save'));
	await page.waitForFunction(() => location.hash === '#/sites/ui-site-2');
	await page.waitForFunction(sel => /ui-site-2/.test(document.querySelector(sel)?.textContent || ''),
		tid('page-title'));
	assert.equal((await inPage('GET', '/api/v1/sites/ui-site')).status, 404);
	// Delete: the dialog first; cancel keeps it, confirm deletes it.
	await page.click(tid('site-delete'));
	await page.locator(tid('confirm-dialog')).waitFor();
	assert.match(await page.locator(tid('confirm-dialog')).innerText(), /cannot be undone/);
	await page.click(tid('confirm-cancel'));
	assert.equal((await inPage('GET', '/api/v1/sites/ui-site-2')).status, 200);
	await page.click(tid('site-delete'));
	await page.click(tid('confirm-ok'));
	await page.waitForFunction(() => location.hash === '#/overview');
	assert.equal((await inPage('GET', '/api/v1/sites/ui-site-2')).status, 404);
	// A site with live connectors: refused, and the page says why.
	await page.evaluate(s => { location.hash = '#/sites/' + s; }, SITE);
	await page.locator(tid('site-delete')).waitFor();
	await page.click(tid('site-delete'));
	await page.click(tid('confirm-ok'));
	await page.waitForFunction(() => /cannot delete site|not revoked/i.test(document.querySelector('main')?.innerText || ''));
	await screenshot('site-delete-refused');

	const id = CONNECTORS[1];
	const c = (await inPage('GET', `/api/v1/connectors/${id}`)).json;
	if (c.state !== 'revoked')
		assert.equal((await inPage('POST', `/api/v1/connectors/${id}/revoke`, null, h)).status, 200);
	await page.evaluate(i => { location.hash = '#/connectors/' + i; }, id);
	await page.locator(tid('connector-rename')).waitFor();
	await page.click(tid('connector-rename'));
	await page.locator(tid('rename-dialog')).waitFor();
	await page.fill(tid('rename-name'), 'old-gateway');
	await page.click(tid('dialog-save'));
	await page.waitForFunction(sel => /old-gateway/.test(document.querySelector(sel)?.textContent || ''),
		tid('page-title'));
	assert.equal((await inPage('GET', `/api/v1/connectors/${id}`)).json.name, 'old-gateway');
	await page.locator(tid('connector-remove')).waitFor();
	await page.click(tid('connector-remove'));
	await page.locator(tid('confirm-dialog')).waitFor();
	assert.match(await page.locator(tid('confirm-dialog')).innerText(), /revocation list/);
	await page.click(tid('confirm-ok'));
	await page.waitForFunction(s => location.hash === '#/sites/' + encodeURIComponent(s), SITE);
	assert.equal((await inPage('GET', `/api/v1/connectors/${id}`)).status, 404);
	await screenshot('connector-removed');
	assertNoScriptErrors();
});

step('session-warning', async () => {
	const bar = page.locator(tid('session-warning'));
	const text = bar.locator('.session-bar-text');
	const stay = page.locator(tid('session-stay'));
	assert.equal(await bar.isVisible(), false, 'no warning with a fresh session');

	// The inactivity timer (30 minutes, set above) ends the session in 2
	// minutes. A reload would not show it for long: opening the page is
	// activity, which restarts the timer. What shows it is the console's
	// own re-reading of the session's timers (every minute, in the
	// background), as it happens on a console left open.
	const idle = await routeSession((s, now) => {
		s.inactivity_timeout_minutes = 30;
		s.idle_expires_at = now + 120;
		s.expires_at = Math.min(s.idle_expires_at, s.absolute_expires_at);
	});
	let mark = requests.length;
	await bar.waitFor({ state: 'visible', timeout: 75000 });
	const synced = requests.slice(mark).filter(r => r.method() === 'GET' && isSessionUrl(r.url()) &&
		!isPass(r));
	assert.ok(synced.length >= 1 && synced.every(isBackground),
		'the session was re-read by an automatic (background) refresh');
	assert.equal(await bar.getAttribute('data-cause'), 'idle');
	const idleText = await text.innerText();
	assert.match(idleText, /signed out in [0-2]:[0-5]\d\b/, `a countdown of about 2 minutes: ${idleText}`);
	assert.match(idleText, /no activity/i, `the bar says it is for inactivity: ${idleText}`);
	assert.equal(await stay.isVisible(), true, 'the inactivity warning offers to stay signed in');
	assert.equal((await stay.innerText()).trim(), 'Stay signed in');
	await screenshot('session-warning');

	// Stay signed in: a GET /session that is activity (no background
	// header), answered by the real server, which restarts the timer.
	await page.unroute(isSessionUrl, idle);
	mark = requests.length;
	await stay.click();
	let stayReq = null;
	for (let i = 0; i < 100 && !stayReq; i++) {
		stayReq = requests.slice(mark).find(r => r.method() === 'GET' && isSessionUrl(r.url()) &&
			!isBackground(r)) || null;
		if (!stayReq)
			await page.waitForTimeout(100);
	}
	assert.ok(stayReq, 'Stay signed in made a GET /api/v1/session without X-Uplink-Background');
	const res = await stayReq.response();
	assert.equal(res.status(), 200);
	const real = await res.json();
	assert.ok(real.idle_expires_at - Date.now() / 1000 > 25 * 60,
		`the real session's inactivity timer restarted: ${JSON.stringify(real)}`);
	await bar.waitFor({ state: 'hidden', timeout: 5000 });
	await page.locator(tid('toast'), { hasText: 'You stay signed in' }).first().waitFor();

	// The maximum length (no inactivity timer; 72 hours after sign-in) ends
	// it in 2 minutes: nothing can extend that, the bar counts down. This
	// one shows on a reload (activity cannot move it).
	const limit = await routeSession((s, now) => {
		s.inactivity_timeout_minutes = null;
		s.idle_expires_at = null;
		s.absolute_expires_at = now + 120;
		s.created_at = s.absolute_expires_at - 72 * 3600;
		s.expires_at = s.absolute_expires_at;
	});
	await page.reload();
	await page.locator(tid('topbar-email')).waitFor();
	await bar.waitFor({ state: 'visible' });
	assert.equal(await bar.getAttribute('data-cause'), 'absolute');
	const limitText = await text.innerText();
	assert.match(limitText, /ends in [0-2]:[0-5]\d\b/, `a countdown of about 2 minutes: ${limitText}`);
	assert.match(limitText, /at most 72 hours/, `the bar says it is the maximum length: ${limitText}`);
	assert.doesNotMatch(limitText, /no activity/i);
	assert.equal(await stay.isVisible(), false, 'no "Stay signed in" for the maximum length');
	await page.waitForFunction(([sel, was]) => document.querySelector(sel).textContent !== was,
		[`${tid('session-warning')} .session-bar-text`, limitText], { timeout: 5000 });
	await screenshot('session-limit-warning');
	// Either bar can be dismissed.
	await page.click(tid('session-dismiss'));
	await bar.waitFor({ state: 'hidden' });
	await page.waitForTimeout(1500);
	assert.equal(await bar.isVisible(), false, 'a dismissed warning stays away');

	await page.unroute(isSessionUrl, limit);
	await page.reload();
	await page.locator(tid('topbar-email')).waitFor();
	await page.waitForTimeout(1500);
	assert.equal(await bar.isVisible(), false, 'no warning with the real session');
	assertNoScriptErrors();
});

step('session-expired', async () => {
	// The inactivity timer ended the session: the console's next request
	// (here an automatic refresh of the bell) is refused.
	await page.click(tid('nav-tokens'));
	await page.locator(tid('token-site')).waitFor();
	let [match, handler] = await routeEnded('expired-idle',
		'your session ended after 30 minutes without activity: sign in again');
	await page.locator(tid('signin-form')).waitFor({ timeout: 40000 });
	const banner = page.locator(tid('signin-banner'));
	const idleText = await banner.innerText();
	// The console's own sentence (from the reason and the session it had),
	// not the server's message repeated.
	assert.equal(idleText.trim(), 'Your session ended after 30 minutes without activity. Sign in again.',
		'the banner says why');
	assert.equal(await page.locator(tid('topbar-email')).count(), 0, 'the console is gone');
	await screenshot('session-expired');
	await page.unroute(match, handler);
	// Signing in again opens the page that was open.
	await signInAgain();
	assert.equal(await page.locator(tid('page-title')).innerText(), 'Enrollment tokens');

	// The maximum length ended it: the next request is refused (here one
	// the administrator makes by opening a page).
	[match, handler] = await routeEnded('expired-absolute',
		'your session reached its 24-hour limit: sign in again');
	await page.click(tid('nav-settings'));
	await page.locator(tid('signin-form')).waitFor();
	const limitText = await banner.innerText();
	assert.equal(limitText.trim(), 'Your session reached its 24-hour limit. Sign in again.',
		'the banner says why');
	await screenshot('session-limit-expired');
	await page.unroute(match, handler);
	await signInAgain();
	assert.equal(await page.locator(tid('page-title')).innerText(), 'Settings');
	assertNoScriptErrors();
});

// Defect 4: signed out in another tab, this one shows the console's
// "signed out elsewhere" screen, not the API's text.
step('signed-out-elsewhere', async () => {
	await page.click(tid('nav-overview'));
	await page.locator(tid('site-card')).first().waitFor();
	const other = await context.newPage();
	await other.goto(URL_ + '#/overview');
	await other.locator(tid('signout')).click();
	await other.locator(tid('signin-form')).waitFor();
	await other.close();
	await page.click(tid('nav-tokens'));
	await page.locator(tid('signin-form')).waitFor();
	const text = (await page.locator(tid('signin-banner')).innerText()).trim();
	assert.match(text, /^You were signed out elsewhere/, `the console's own sentence: ${text}`);
	assert.doesNotMatch(text, /Authorization|API key/, 'not the API\'s message');
	await screenshot('signed-out-elsewhere');
	await signInAgain();
	assertNoScriptErrors();
});

// Defect 10: a role change asks first; the password rules are stated;
// an administrator changes their own password with the current one.
step('admins', async () => {
	await page.click(tid('nav-admins'));
	const mine = page.locator(`${tid('admin-row')}[data-admin="${EMAIL}"] ${tid('admin-role-select')}`);
	await mine.waitFor();
	assert.match(await page.locator('#' + await page.locator(tid('admin-password')).getAttribute('aria-describedby')).innerText(),
		/12 characters.*not one character repeated.*e-mail address.*not easy to guess/);
	await mine.selectOption('read');
	const dlg = page.locator(tid('confirm-dialog'));
	await dlg.waitFor();
	assert.match(await dlg.innerText(), /read-only/);
	await page.click(tid('confirm-cancel'));
	await dlg.waitFor({ state: 'detached' });
	assert.equal(await mine.inputValue(), 'full', 'cancelled: the role is unchanged');
	assert.equal((await inPage('GET', '/api/v1/session')).json.admin.role, 'full');

	const NEW = PASSWORD + ' changed';
	const change = async (cur, pw) => {
		await page.fill(tid('own-current'), cur);
		await page.fill(tid('own-new'), pw);
		await page.fill(tid('own-again'), pw);
		await page.click(tid('own-change'));
	};
	await change(PASSWORD + '-wrong', NEW);
	await page.locator(`${tid('own-message')} .alert`).waitFor();
	assert.match(await page.locator(tid('own-message')).innerText(), /current password is wrong/);
	await change(PASSWORD, 'aaaaaaaaaaaaaaaa');
	await page.waitForFunction(sel => /repeated/.test(document.querySelector(sel).textContent), tid('own-message'));
	await change(PASSWORD, NEW);
	await page.locator(tid('own-saved')).waitFor();
	await screenshot('own-password');
	// The new one signs in (through the API: the session here goes on).
	const r = await page.evaluate(async ([e, p]) => (await fetch('/api/v1/session', { method: 'POST',
		headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: e, password: p }),
		credentials: 'omit' })).status, [EMAIL, NEW]);
	assert.equal(r, 201, 'the new password signs in');
	assert.equal((await inPage('GET', '/api/v1/session')).status, 200, 'this session goes on');
	await change(NEW, PASSWORD);
	await page.locator(tid('own-saved')).waitFor();
});

// The key form offers the scopes that exist: ingress keys name their sites.
step('keys', async () => {
	await page.click(tid('nav-keys'));
	await page.locator(tid('key-scope')).waitFor();
	assert.equal(await page.locator(tid('key-sites')).isVisible(), false);
	await page.selectOption(tid('key-scope'), 'ingress');
	await page.locator(tid('key-sites')).waitFor();
	await page.fill(tid('key-name'), 'browser-test-ingress');
	await page.fill(tid('key-sites'), SITE);
	await page.click(tid('key-create'));
	await page.locator(tid('key-secret')).waitFor();
	const row = page.locator(tid('key-row'), { hasText: 'browser-test-ingress' });
	await row.waitFor();
	assert.match(await row.innerText(), new RegExp(`ingress[\\s\\S]*${SITE}`));
});

// Times carry their zone; the UTC toggle switches them.
step('utc-toggle', async () => {
	await page.click(tid('nav-audit'));
	const cell = page.locator(`${tid('audit-row')} time`).first();
	await cell.waitFor();
	assert.match(await cell.innerText(), /^\d{4}-\d\d-\d\d \d\d:\d\d (CET|CEST|GMT\+\d)$/, 'local time with its zone');
	await page.click(tid('utc-toggle'));
	await page.waitForFunction(sel => / UTC$/.test(document.querySelector(sel)?.textContent),
		`${tid('audit-row')} time`);
	assert.equal(await page.getAttribute(tid('utc-toggle'), 'aria-pressed'), 'true');
	await page.selectOption(tid('audit-filter'), 'session');
	await page.fill(tid('audit-search'), EMAIL);
	const actions = await page.locator(`${tid('audit-row')} td:nth-child(4)`).allInnerTexts();
	assert.ok(actions.length >= 1 && actions.every(a => a.startsWith('session')), `filtered: ${actions}`);
	await page.fill(tid('audit-search'), '');
	await page.selectOption(tid('audit-filter'), '');
	await page.click(tid('utc-toggle'));
	await page.waitForFunction(sel => /\d (CET|CEST|GMT\+\d)$/.test(document.querySelector(sel)?.textContent),
		`${tid('audit-row')} time`);
});

// A cluster (docs/cluster.md): the Instances page lists every instance up,
// and the connector page says where its tunnels are.
step('instances', async t => {
	if (!INSTANCES.length) {
		t.skip('not a cluster (UPLINK_INSTANCES unset)');
		return;
	}
	await page.evaluate(() => { location.hash = '#/instances'; });
	await page.locator(tid('instance-row')).first().waitFor();
	await page.waitForFunction(n => document.querySelectorAll('[data-testid="instance-row"]').length === n,
		INSTANCES.length);
	for (const id of INSTANCES) {
		const row = page.locator(`${tid('instance-row')}[data-instance="${id}"]`);
		assert.equal(await row.locator(tid('instance-state')).innerText(), 'up', `instance ${id} up`);
	}
	await page.evaluate(c => { location.hash = '#/connectors/' + c; }, CONNECTORS[0]);
	await page.locator(tid('connector-instances')).waitFor();
	assert.match(await page.locator(tid('connector-instances')).innerText(),
		new RegExp('^' + INSTANCE_OF_CONNECTOR + ': \\d+$'));
});

// Every page at desktop and phone width: a screenshot, and axe-core finds
// no violation of impact serious or critical (defects 8 and 9).
const PAGES = [
	['overview', '#/overview', tid('site-card')],
	['site', `#/sites/${SITE}`, tid('site-detail') + ' ' + tid('connector-row')],
	['connector', `#/connectors/${CONNECTORS[0]}`, tid('check-history-row')],
	['tokens', '#/tokens', tid('token-row')],
	['add-connector', '#/add-connector', tid('addc-cmd-apt')],
	['services', '#/services', tid('service-row')],
	['requirements', '#/requirements', tid('requirement-row')],
	['notifications', '#/notifications', tid('notification-row')],
	['settings', '#/settings', tid('timeout-enabled')],
	['admins', '#/admins', tid('admin-row')],
	['keys', '#/keys', tid('key-row')],
	['audit', '#/audit', tid('audit-row')],
	['instances', '#/instances', tid('instance-row')],
];

async function axe(where) {
	if (!await page.evaluate(() => typeof window.axe === 'object'))
		await page.evaluate(AXE);
	const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
	return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
		.map(v => `${where}: ${v.id} (${v.impact}): ${v.help}: ` +
			v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
}

async function everyPage(size, label) {
	await page.setViewportSize(size);
	const found = [];
	for (const [name, hash, ready] of PAGES) {
		await page.evaluate(h => { location.hash = h; }, hash);
		// The rows, or the page's empty state (when run alone, with
		// UPLINK_BROWSER_STEPS, the earlier steps made none).
		await page.locator(`${ready}, main ${tid('empty-state')}`).first().waitFor();
		await page.waitForFunction(() => !document.querySelector('[data-testid="loading"]'));
		await screenshot(`${label}-${name}`);
		found.push(...await axe(`${label} ${name}`));
		if (size === PHONE) {
			const m = await page.evaluate(() => ({
				scroll: document.documentElement.scrollWidth,
				width: innerWidth,
				main: document.getElementById('main').clientWidth,
				title: document.querySelector('[data-testid="page-title"]').getBoundingClientRect().height,
			}));
			assert.ok(m.scroll <= m.width + 1, `${name}: the page does not scroll sideways (${m.scroll} > ${m.width})`);
			assert.ok(m.main >= size.width - 2, `${name}: the page takes the whole width (${m.main} px)`);
			assert.ok(m.title < 80, `${name}: the title is not wrapped a few characters per line (${m.title} px high)`);
		}
	}
	return found;
}

step('every-page-desktop', async () => {
	const found = await everyPage(DESKTOP, 'desktop');
	assert.deepEqual(found, [], 'axe-core: serious or critical violations');
});

step('every-page-phone', async () => {
	await page.setViewportSize(PHONE);
	// Defect 8: the navigation collapses behind a menu button.
	await page.evaluate(() => { location.hash = '#/overview'; });
	await page.locator(tid('site-card')).first().waitFor();
	assert.equal(await page.locator(tid('nav-tokens')).isVisible(), false, 'the navigation is collapsed');
	await page.click(tid('menu'));
	assert.equal(await page.getAttribute(tid('menu'), 'aria-expanded'), 'true');
	await screenshot('phone-menu');
	await page.click(tid('nav-tokens'));
	await page.locator(tid('tokens-search')).waitFor();
	assert.equal(await page.locator(tid('nav-tokens')).isVisible(), false, 'the menu closes after a choice');
	const found = await everyPage(PHONE, 'phone');
	// Dark mode follows the system setting.
	await page.emulateMedia({ colorScheme: 'dark' });
	await page.evaluate(() => { location.hash = '#/overview'; });
	await page.locator(tid('site-card')).first().waitFor();
	const bgc = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
	const [r, g, b] = bgc.match(/\d+/g).map(Number);
	assert.ok(r + g + b < 150, `a dark background in dark mode: ${bgc}`);
	await screenshot('phone-dark-overview');
	found.push(...await axe('phone dark overview'));
	await page.setViewportSize(DESKTOP);
	await screenshot('desktop-dark-overview');
	found.push(...await axe('desktop dark overview'));
	await page.emulateMedia({ colorScheme: 'light' });
	assert.deepEqual(found, [], 'axe-core: serious or critical violations');
	// The skip link is the first thing Tab reaches.
	await page.evaluate(() => { document.activeElement.blur(); window.scrollTo(0, 0); });
	await page.reload();
	await page.locator(tid('site-card')).first().waitFor();
	await page.keyboard.press('Tab');
	assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'skip-link');
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
	const found = await axe('desktop signin');
	await page.setViewportSize(PHONE);
	await screenshot('phone-signin');
	found.push(...await axe('phone signin'));
	await page.setViewportSize(DESKTOP);
	assert.deepEqual(found, [], 'axe-core: serious or critical violations');
	assertNoScriptErrors();
});
