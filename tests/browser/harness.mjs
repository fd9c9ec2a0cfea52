// What the browser tests of one console page share (alerts.mjs, logs.mjs):
// their environment, Chromium with the cloud's certificate accepted by its
// SPKI pin, steps that stop at the first failure with a screenshot, the
// page's script errors, axe-core, and signing in. console.mjs, which walks
// every page, keeps its own richer versions.
import { test, before, after } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export const DESKTOP = { width: 1440, height: 900 };
export const PHONE = { width: 390, height: 844 };
export const ARTIFACTS = process.env.UPLINK_ARTIFACTS || path.join(HERE, 'artifacts');
export const tid = id => `[data-testid="${id}"]`;

const CHROMIUM = process.env.UPLINK_CHROMIUM || '/usr/bin/chromium';
const SPKI = process.env.UPLINK_CONSOLE_SPKI || '';
const AXE = fs.readFileSync(path.join(HERE, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

// An environment variable the driver (via, a tests/integration file) sets.
export function need(name, via) {
	const v = process.env[name];
	if (!v)
		throw new Error(`${name} is not set: run this through ${via}`);
	return v;
}

// Registers the browser's start and stop; h.page is the page once started,
// also handed to ready(page). prefix names screenshots; context adds to
// Chromium's context options.
export function browserHarness(prefix, { context = {}, timeout = 20000, ready } = {}) {
	const h = { browser: null, page: null, errors: [], failed: false };

	before(async () => {
		fs.mkdirSync(ARTIFACTS, { recursive: true });
		const args = ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'];
		if (SPKI)
			args.push(`--ignore-certificate-errors-spki-list=${SPKI}`);
		h.browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
		const ctx = await h.browser.newContext({ viewport: DESKTOP, locale: 'en-GB', ...context });
		ctx.setDefaultTimeout(timeout);
		h.page = await ctx.newPage();
		h.page.on('pageerror', e => h.errors.push(`uncaught: ${e.message}`));
		h.page.on('console', m => {
			if (m.type() === 'error')
				h.errors.push(m.text());
		});
		if (ready)
			ready(h.page);
	});

	after(async () => {
		if (h.browser)
			await h.browser.close();
	});

	// A step; after a failed one the rest are skipped.
	h.step = (name, fn) => test(name, { timeout: 120000 }, async t => {
		if (h.failed) {
			t.skip('an earlier step failed');
			return;
		}
		try {
			await fn(t);
		} catch (e) {
			h.failed = true;
			await h.page.screenshot({ path: path.join(ARTIFACTS,
			    `${prefix}-${name}-FAILED.png`) }).catch(() => {});
			throw e;
		}
	});

	// axe-core's violations of impact serious or critical, as sentences.
	h.axe = async where => {
		if (!await h.page.evaluate(() => typeof window.axe === 'object'))
			await h.page.evaluate(AXE);
		const r = await h.page.evaluate(() => window.axe.run(document,
		    { resultTypes: ['violations'] }));
		return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
			.map(v => `${where}: ${v.id} (${v.impact}): ${v.help}: ` +
				v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
	};

	// Script errors other than a resource the page failed to load.
	h.scriptErrors = () => h.errors.filter(e => !/Failed to load resource/.test(e));

	h.signIn = async (url, email, password) => {
		await h.page.goto(url);
		await h.page.locator(tid('signin-form')).waitFor();
		await h.page.fill(tid('signin-email'), email);
		await h.page.fill(tid('signin-password'), password);
		await h.page.click(tid('signin-submit'));
		await h.page.locator(tid('topbar-email')).waitFor();
	};
	return h;
}
