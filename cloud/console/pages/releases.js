/* uplink cloud console: pages/releases.js. Signed connector releases (docs/updates.md). */
import { api, get } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { fmtBytes, timeCell } from '../lib/format.js';
import { loadInto } from '../lib/router.js';
import { canWrite } from '../lib/session.js';
import { act, alertBox, button, card, confirmDialog, copyBox, emptyState, linkTo, pageHeader, table } from '../lib/widgets.js';

export async function pageReleases(ctx) {
	const list = el('div');
	const sites = el('div');
	const actErr = el('div', { 'aria-live': 'assertive' });
	ctx.main.append(pageHeader('Releases', 'Signed connector releases this cloud serves to its connectors ' +
	    'and rolls out, site by site, one connector at a time.'), actErr,
	    card('Add a release', [
		el('p', { text: 'Sign it offline with uplink-release, then on the cloud\'s machine:' }),
		copyBox('uplink-cloud release add manifest.json --config /etc/uplink/cloud.conf', 'release-add-cmd',
		    'the command'),
		el('p', { class: 'muted small', text: 'Connectors verify the signature against their release ' +
		    'root key before anything runs (docs/updates.md).' })]),
	    card('Releases', list, { class: 'card-flush' }), card('Rollouts by site', sites));
	const load = () => loadInto(ctx, list, 'releases', () => get('/releases'), r => {
		if (!r.releases.length)
			return emptyState('No releases yet.');
		return table([
			{ title: 'Version', cell: x => el('strong', { class: 'mono', text: x.version }) },
			{ title: 'Channel', cell: x => x.channel },
			{ title: 'Architecture', cell: x => x.arch },
			{ title: 'Signed', cell: x => timeCell(x.signed_at) },
			{ title: 'Added', cell: x => timeCell(x.added_at) },
			{ title: 'Files', cell: x => el('div', { class: 'name-cell' }, x.files.map(f =>
			    el('span', { class: 'mono small', text: f.name + ' (' + fmtBytes(f.size) + ')' }))) },
			{ title: '', class: 'actions', cell: x => canWrite() ? button('Remove', async ev => {
				const ok = await confirmDialog({ title: 'Remove release ' + x.version + '?',
				    message: 'Every channel and architecture of this version goes, with its files. ' +
					'Connectors already on it keep running it.', confirm: 'Remove release', danger: true });
				if (ok && await act(ev.currentTarget, () => api('DELETE', '/releases/' +
				    encodeURIComponent(x.version)), actErr))
					load();
			}, { small: true, kind: 'danger-quiet', testid: 'release-remove', label: 'Remove release ' + x.version }) :
			    null },
		], r.releases, x => ({ testid: 'release-row', dataset: { version: x.version } }), { caption: 'Releases' });
	});
	await load();
	await loadInto(ctx, sites, 'sites', () => get('/sites'), r => r.sites.length ?
	    el('ul', { class: 'plain-list' }, r.sites.map(s => el('li', null,
		linkTo('/rollout/' + encodeURIComponent(s.name), 'Updates of site ' + s.name, 'rollout-link')))) :
	    alertBox('No sites yet.', 'info'));
}
