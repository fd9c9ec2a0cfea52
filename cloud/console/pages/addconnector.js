/* uplink cloud console: pages/addconnector.js */
import { get } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { fmtBytes, fmtTime } from '../lib/format.js';
import { canWrite } from '../lib/session.js';
import { alertBox, card, copyBox, errorBox, field, loading, pageHeader, select, table } from '../lib/widgets.js';
import { tokenForm } from './tokens.js';

/*
 * "Add a connector": everything an administrator types on the new
 * connector's server, in order (docs/install.md). Step 1 makes an
 * enrollment token for a site (POST /tokens); step 2 takes the proxy the
 * server must use, if any; step 3 shows the commands, rebuilt on every
 * keystroke: fetch one of the packages this cloud serves (GET /packages,
 * downloaded from /packages/NAME without signing in), check its SHA-256,
 * install it with apt, then `uplink-connector install --token` with the
 * proxy flags. The token is kept in this page only: it is shown once.
 */

const PLACEHOLDER_PKG = 'uplink-connector_VERSION_amd64.deb';

/*
 * A proxy the installer takes: empty (none given: the installer finds the
 * server's own settings), "direct", or http://HOST:PORT with no user name,
 * password, path or query. Returns an error text, or null when it is fine.
 */
export function proxyProblem(v) {
	if (v === '' || v === 'direct')
		return null;
	const m = /^http:\/\/([^/?#@\s]+):(\d{1,5})\/?$/i.exec(v);
	if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(v))
		return 'Leave the user name and password out of the proxy URL: the connector does not send proxy credentials.';
	if (/^https:/i.test(v))
		return 'The connector talks to its proxy in plain HTTP (CONNECT): write http://HOST:PORT.';
	if (!m)
		return 'Write the proxy as http://HOST:PORT, for example http://10.0.0.1:3128, or "direct" for none.';
	const port = Number(m[2]);
	if (port < 1 || port > 65535)
		return 'The proxy port must be 1 to 65535.';
	const host = m[1];
	if (!/^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)$/i.test(host))
		return 'The proxy host "' + host + '" is not a host name or an address.';
	return null;
}

/* A bypass list: entries as in connector.conf, without line breaks or quotes. */
export function bypassProblem(v) {
	if (v.length > 2000)
		return 'The bypass list is longer than 2000 characters: put the rest in /etc/uplink/connector.conf.';
	if (/[\u0000-\u001f\u007f'"`\\$]/.test(v))
		return 'The bypass list may hold host names, addresses, networks, *, <local>, commas, semicolons and spaces only.';
	return null;
}

/* A word for a POSIX shell: as it is when safe, else in single quotes. */
export function shellWord(s) {
	return /^[A-Za-z0-9._,:/@%+=-]+$/.test(s) ? s : '\'' + s.replace(/'/g, '\'\\\'\'') + '\'';
}

/* The commands of step 3, from what the page knows now. */
export function commands(o) {
	const pkg = o.pkg ? o.pkg.name : PLACEHOLDER_PKG;
	const proxy = o.proxyOk && o.proxy && o.proxy !== 'direct' ? o.proxy : '';
	const curlProxy = proxy ? ' --proxy ' + shellWord(proxy) : '';
	const out = {
		download: 'curl -fO --cacert ca.pem' + curlProxy + ' ' + shellWord('https://' + o.host + '/packages/' + pkg),
		/* "HASH *NAME": one space (HTML collapses two), '*' reads it as binary. */
		verify: o.pkg ? 'echo ' + shellWord(o.pkg.sha256 + ' *' + pkg) + ' | sha256sum -c' : null,
		apt: 'sudo apt install ' + shellWord('./' + pkg),
		install: null,
	};
	if (o.token) {
		let c = 'sudo uplink-connector install --token ' + shellWord(o.token);
		if (o.proxyOk && o.proxy)
			c += ' --proxy ' + shellWord(o.proxy);
		if (o.bypassOk && o.bypass)
			c += ' --bypass ' + shellWord(o.bypass);
		out.install = c;
	}
	return out;
}

function packageTable(pkgs) {
	return table([
		{ title: 'Package', cell: p => el('a', { href: p.url, download: p.name, testid: 'addc-package-link',
		    class: 'mono', text: p.name }) },
		{ title: 'Version', cell: p => p.version },
		{ title: 'Architecture', cell: p => p.architecture },
		{ title: 'Size', num: true, cell: p => fmtBytes(p.size) },
		{ title: 'SHA-256', cell: p => el('span', { class: 'mono', text: p.sha256 }) },
	], pkgs, p => ({ testid: 'addc-package-row', dataset: { name: p.name } }), { caption: 'Connector packages' });
}

/* The package the commands use: the newest amd64 one, else the first. */
function defaultPackage(pkgs) {
	const amd = pkgs.filter(p => p.architecture === 'amd64');
	const pool = amd.length ? amd : pkgs;
	return pool.length ? pool[pool.length - 1].name : '';
}

export async function pageAddConnector(ctx) {
	const st = { token: null, site: '', expires: 0, pkgs: [], pkg: null };
	ctx.main.append(pageHeader('Add a connector',
	    'Install uplink-connector on a server in the site\'s network: it connects out to this cloud, nothing opens inbound.'));

	/* Step 1: the site and its token. */
	const tokenOut = el('div', { 'aria-live': 'polite', testid: 'addc-token-state' });
	const stepOne = [];
	if (canWrite()) {
		const { form, err, datalist } = tokenForm(ctx, { site: 'addc-site', ttl: 'addc-ttl',
		    error: 'addc-token-error', create: 'addc-create' }, t => {
			st.token = t.token;
			st.site = t.site;
			st.expires = t.expires_at;
			tokenOut.replaceChildren(alertBox('Token created for site ' + t.site + ', valid until ' +
			    fmtTime(t.expires_at) + '. It is in the install command below.', 'info', 'addc-token-created'));
			redraw();
			const install = ctx.main.querySelector('[data-testid="addc-cmd-install"]');
			if (install)
				install.closest('.copy-box').querySelector('button').focus();
		});
		stepOne.push(form, err, datalist);
	} else {
		stepOne.push(alertBox('Only a full administrator can create enrollment tokens: ask one for a token, ' +
		    'then run the commands below with it.', 'info'));
	}
	stepOne.push(tokenOut);
	ctx.main.append(card('1. Site and enrollment token', stepOne, { testid: 'addc-step-token' }));

	/* Step 2: the proxy, if the server needs one. */
	const proxy = el('input', { type: 'text', name: 'proxy', testid: 'addc-proxy', autocomplete: 'off',
	    spellcheck: 'false', inputmode: 'url', placeholder: 'http://10.0.0.1:3128' });
	const bypass = el('input', { type: 'text', name: 'bypass', testid: 'addc-bypass', autocomplete: 'off',
	    spellcheck: 'false', placeholder: '.corp.example, 10.0.0.0/8' });
	const proxyErr = el('div', { class: 'form-error', testid: 'addc-proxy-error', 'aria-live': 'polite' });
	ctx.main.append(card('2. Proxy (optional)', [
		el('p', { class: 'page-sub', text: 'Leave these empty when the server reaches the Internet directly, or ' +
		    'when its proxy is already set in /etc/environment or apt: the installer finds it there and says which it used.' }),
		el('div', { class: 'form form-inline' },
		    field('Proxy URL', proxy, 'http://HOST:PORT, without user name or password; "direct" for none.'),
		    field('Bypass list', bypass, 'Hosts and networks reached without the proxy, separated by commas.')),
		proxyErr,
	], { testid: 'addc-step-proxy' }));

	/* Step 3: the commands. */
	const pkgBox = el('div', { class: 'stack', testid: 'addc-packages' }, loading('Loading the connector packages…'));
	const cmdBox = el('div', { class: 'stack', testid: 'addc-commands' });
	ctx.main.append(card('3. On the connector\'s server', [pkgBox, cmdBox], { testid: 'addc-step-commands' }));

	function check(input, problem) {
		const why = problem(input.value.trim());
		if (why)
			input.setAttribute('aria-invalid', 'true');
		else
			input.removeAttribute('aria-invalid');
		return why;
	}

	function redraw() {
		const pWhy = check(proxy, proxyProblem);
		const bWhy = check(bypass, bypassProblem);
		proxyErr.replaceChildren();
		if (pWhy)
			proxyErr.append(alertBox(pWhy, 'error', 'addc-proxy-invalid'));
		if (bWhy)
			proxyErr.append(alertBox(bWhy, 'error', 'addc-bypass-invalid'));
		const c = commands({ host: location.host, pkg: st.pkg, token: st.token,
		    proxy: proxy.value.trim(), proxyOk: !pWhy, bypass: bypass.value.trim(), bypassOk: !bWhy });
		const kids = [
			el('p', { class: 'label-text', text: 'Download the package (ca.pem: this cloud\'s CA certificate, ' +
			    'GET /ca.pem on its HTTP port, or ca.pem in its data directory):' }),
			copyBox(c.download, 'addc-cmd-download', 'the download command'),
		];
		if (c.verify)
			kids.push(el('p', { class: 'label-text', text: 'Check it against the SHA-256 this page shows:' }),
			    copyBox(c.verify, 'addc-cmd-verify', 'the checksum command'));
		kids.push(el('p', { class: 'label-text', text: 'Install it (Debian or Ubuntu):' }),
		    copyBox(c.apt, 'addc-cmd-apt', 'the apt command'));
		if (c.install) {
			kids.push(el('p', { class: 'label-text', text: 'Check the way to the cloud, enroll into site ' + st.site +
			    ' and start the service:' }),
			    copyBox(c.install, 'addc-cmd-install', 'the install command'),
			    alertBox('The token is shown only now: copy the command before you leave this page. ' +
			    'The cloud keeps only a hash of it. It enrolls one connector, once, until ' + fmtTime(st.expires) + '.',
			    'warn', 'addc-token-note'));
		} else {
			kids.push(el('p', { class: 'hint', testid: 'addc-cmd-install-missing',
			    text: 'The install command, with its token, appears here once you create a token in step 1.' }));
		}
		cmdBox.replaceChildren(...kids);
	}

	proxy.addEventListener('input', redraw);
	bypass.addEventListener('input', redraw);
	redraw();

	let listing;
	try {
		listing = await get('/packages');
	} catch (e) {
		if (!e.handled && !ctx.stale())
			pkgBox.replaceChildren(errorBox(e, null));
		return;
	}
	if (ctx.stale())
		return;
	st.pkgs = listing.packages;
	const kids = [];
	if (listing.problem)
		kids.push(alertBox(listing.problem, 'warn', 'addc-packages-problem'));
	if (!st.pkgs.length) {
		kids.push(alertBox('This cloud has no connector package to hand out yet. Build one with "make deb" in uplink\'s ' +
		    'source tree (it lands in build/deb/) and copy uplink-connector_VERSION_ARCH.deb into ' +
		    (listing.directory ? 'the packages directory, ' + listing.directory : 'a packages directory named by ' +
		    '[cloud] packages in cloud.conf (default /usr/share/uplink-cloud/packages)') +
		    '; it appears here at once, without a restart (docs/install.md).', 'info', 'addc-no-packages'));
	} else {
		const choice = select(st.pkgs.map(p => [p.name, p.name]), defaultPackage(st.pkgs),
		    { name: 'package', testid: 'addc-package' });
		const pick = () => {
			st.pkg = st.pkgs.find(p => p.name === choice.value) || null;
			redraw();
		};
		choice.addEventListener('change', pick);
		kids.push(packageTable(st.pkgs), el('div', { class: 'form form-inline' },
		    field('Package for the commands', choice, 'Anyone who reaches this cloud may download these files; ' +
		    'what a connector may do is decided by its token.')));
		pick();
	}
	pkgBox.replaceChildren(...kids);
}
