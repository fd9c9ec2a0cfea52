/* uplink cloud console: lib/widgets.js */
import { bg, get } from './api.js';
import { el, nextId } from './dom.js';
import { fmtInt, plural } from './format.js';
import { refreshBellSoon } from './shell.js';

export function toast(text, kind) {
	const box = document.getElementById('toasts');
	if (!box)
		return;
	const t = el('div', { class: 'toast toast-' + (kind || 'ok'), testid: 'toast', role: 'status' }, text);
	box.append(t);
	setTimeout(() => t.remove(), 6000);
}

export function alertBox(text, kind, testid) {
	return el('div', { class: 'alert alert-' + (kind || 'error'), testid: testid || 'error',
	    role: kind === 'error' || !kind ? 'alert' : 'status' }, text);
}

export function errorBox(err, retry) {
	const box = alertBox(err.message, 'error', 'error');
	if (err.body && err.body.error && err.status)
		box.append(el('span', { class: 'alert-code', text: ' (' + err.status + ' ' + err.body.error + ')' }));
	if (retry)
		box.append(' ', el('button', { type: 'button', class: 'btn btn-small btn-secondary',
		    text: 'Try again', on: { click: retry } }));
	return box;
}

export function loading(text) {
	return el('div', { class: 'loading', testid: 'loading', role: 'status' },
	    el('span', { class: 'spinner', 'aria-hidden': 'true' }), text || 'Loading…');
}

export function emptyState(text, action) {
	return el('div', { class: 'empty', testid: 'empty-state' }, el('p', { text }), action || null);
}

export function badge(value, label, testid) {
	return el('span', { class: 'badge badge-' + value, testid: testid || 'badge',
	    dataset: { value } }, label || value);
}

export function button(text, onClick, opts) {
	opts = opts || {};
	return el('button', { type: opts.submit ? 'submit' : 'button',
	    class: 'btn' + (opts.kind ? ' btn-' + opts.kind : '') + (opts.small ? ' btn-small' : ''),
	    testid: opts.testid, disabled: opts.disabled, title: opts.title,
	    'aria-label': opts.label, on: onClick ? { click: onClick } : null }, text);
}

export function linkTo(hash, text, testid) {
	return el('a', { href: '#' + hash, testid, text });
}

export function pageHeader(title, subtitle, actions) {
	document.title = title + ' · uplink cloud console';
	return el('header', { class: 'page-header' },
	    el('div', { class: 'page-heading' },
		el('h1', { testid: 'page-title', text: title }),
		subtitle ? el('p', { class: 'page-sub', text: subtitle }) : null),
	    actions ? el('div', { class: 'page-actions' }, actions) : null);
}

export function card(title, kids, opts) {
	opts = opts || {};
	return el('section', { class: 'card' + (opts.class ? ' ' + opts.class : ''), testid: opts.testid,
	    dataset: opts.dataset, 'aria-label': title && typeof title === 'string' ? title : null },
	    title ? el('div', { class: 'card-head' },
		typeof title === 'string' ? el('h2', { text: title }) : title,
		opts.actions ? el('div', { class: 'card-actions' }, opts.actions) : null) : null,
	    el('div', { class: 'card-body' }, kids));
}

/*
 * A table from column definitions: {title, num (right-aligned figures),
 * cell(row) -> Node|string, class}. rowProps(row) gives the <tr> its
 * attributes (testid, dataset).
 */
export function table(cols, rows, rowProps, opts) {
	opts = opts || {};
	/* A column of buttons still has a header, for screen readers. */
	const thead = el('thead', null, el('tr', null, cols.map(c =>
	    el('th', { scope: 'col', class: (c.num ? 'num' : '') + (c.class ? ' ' + c.class : '') },
		c.title || el('span', { class: 'sr-only', text: 'Actions' })))));
	const tbody = el('tbody', null, rows.map(r => el('tr', rowProps ? rowProps(r) : null,
	    cols.map(c => el('td', { class: (c.num ? 'num' : '') + (c.class ? ' ' + c.class : ''),
		dataset: c.key ? { col: c.key } : null }, c.cell(r))))));
	/* A table wider than a phone scrolls: keyboard users reach it too. */
	return el('div', { class: 'table-wrap', tabindex: '0', role: 'region',
	    'aria-label': opts.caption || 'Table' }, el('table', { class: 'table' + (opts.class ? ' ' + opts.class : ''),
	    testid: opts.testid }, opts.caption ? el('caption', { class: 'sr-only', text: opts.caption }) : null,
	    thead, tbody));
}

export function field(label, input, hint, opts) {
	opts = opts || {};
	if (!input.id)
		input.id = nextId('f');
	const hintId = hint ? input.id + '-hint' : null;
	if (hintId)
		input.setAttribute('aria-describedby', hintId);
	return el('div', { class: 'field' + (opts.class ? ' ' + opts.class : '') },
	    el('label', { for: input.id, text: label }), input,
	    hint ? el('p', { class: 'hint', id: hintId, text: hint }) : null);
}

export function select(options, value, props) {
	const s = el('select', props);
	for (const [v, label] of options)
		s.append(el('option', { value: v, text: label, selected: v === value }));
	return s;
}

/* A box with a secret or a command, and a Copy button next to it. */
export function copyBox(text, testid, label) {
	const code = el('code', { class: 'copy-text', testid, text });
	const btn = button('Copy', () => copyText(text, btn), { small: true, kind: 'secondary',
	    testid: testid + '-copy', label: 'Copy ' + label });
	return el('div', { class: 'copy-box' }, code, btn);
}

export async function copyText(text, btn) {
	let ok = false;
	try {
		await navigator.clipboard.writeText(text);
		ok = true;
	} catch (e) {
		/* no clipboard permission: the old way, through a selection */
		const ta = el('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
		ta.value = text;
		document.body.append(ta);
		ta.select();
		try {
			ok = document.execCommand('copy');
		} catch (e2) {
			ok = false;
		}
		ta.remove();
	}
	if (btn) {
		const was = btn.textContent;
		btn.textContent = ok ? 'Copied' : 'Select and copy by hand';
		setTimeout(() => { btn.textContent = was; }, 2000);
	}
	return ok;
}

/* A modal confirmation; resolves to true when confirmed. */
export function confirmDialog(opts) {
	return new Promise(resolve => {
		const titleId = nextId('dlg');
		const dlg = el('dialog', { class: 'dialog', testid: 'confirm-dialog', 'aria-labelledby': titleId });
		let answer = false;
		const close = v => {
			answer = v;
			dlg.close();
		};
		dlg.append(el('h2', { id: titleId, text: opts.title }),
		    el('p', { class: 'dialog-text', text: opts.message }),
		    el('div', { class: 'dialog-actions' },
			button('Cancel', () => close(false), { kind: 'secondary', testid: 'confirm-cancel' }),
			button(opts.confirm || 'Confirm', () => close(true),
			    { kind: opts.danger ? 'danger' : null, testid: 'confirm-ok' })));
		dlg.addEventListener('close', () => {
			dlg.remove();
			resolve(answer);
		});
		document.body.append(dlg);
		dlg.showModal();
		dlg.querySelector('[data-testid="confirm-cancel"]').focus();
	});
}

/*
 * A modal form. fields: [{name, label, input, hint}]; submit(values) runs
 * the request and may throw an ApiError, shown in the dialog.
 */
export function formDialog(opts) {
	return new Promise(resolve => {
		const titleId = nextId('dlg');
		const dlg = el('dialog', { class: 'dialog', testid: opts.testid || 'form-dialog',
		    'aria-labelledby': titleId });
		const err = el('div', { class: 'form-error', 'aria-live': 'assertive' });
		const form = el('form', { class: 'form', novalidate: true },
		    el('h2', { id: titleId, text: opts.title }),
		    opts.note ? el('p', { class: 'dialog-text', text: opts.note }) : null,
		    opts.fields.map(f => field(f.label, f.input, f.hint)), err,
		    el('div', { class: 'dialog-actions' },
			button('Cancel', () => dlg.close(), { kind: 'secondary', testid: 'dialog-cancel' }),
			button(opts.confirm || 'Save', null, { submit: true, testid: 'dialog-save' })));
		let result = null;
		form.addEventListener('submit', async ev => {
			ev.preventDefault();
			const values = {};
			for (const f of opts.fields)
				values[f.name] = f.input.value.trim();
			const save = form.querySelector('[data-testid="dialog-save"]');
			save.disabled = true;
			err.replaceChildren();
			try {
				result = await opts.submit(values);
				dlg.close();
			} catch (e) {
				if (!e.handled)
					err.replaceChildren(errorBox(e));
			} finally {
				save.disabled = false;
			}
		});
		dlg.append(form);
		dlg.addEventListener('close', () => {
			dlg.remove();
			resolve(result);
		});
		document.body.append(dlg);
		dlg.showModal();
	});
}

/*
 * Runs an action from a button: disables it while the request runs, shows
 * errors in place (target) or as a toast, and refreshes the bell after.
 */
export async function act(btn, fn, errTarget) {
	if (btn)
		btn.disabled = true;
	if (errTarget)
		errTarget.replaceChildren();
	try {
		const r = await fn();
		refreshBellSoon();
		return r;
	} catch (e) {
		if (e.handled)
			return undefined;
		if (errTarget)
			errTarget.replaceChildren(errorBox(e));
		else
			toast(e.message, 'error');
		return undefined;
	} finally {
		if (btn && btn.isConnected)
			btn.disabled = false;
	}
}

/*
 * Search, filter, sort and paging of a list, in the browser: the API
 * returns these lists whole (tokens, connectors, notifications: at most a
 * few hundred rows; the audit log a page of 50), so the console narrows
 * them itself. opts: { name (testids: NAME-search, NAME-filter, NAME-sort,
 * NAME-prev, NAME-next, NAME-count), what ("tokens"), text(row) -> the
 * searched text, filter: { label, options: [[value, label]], test(row,
 * value) }, sorts: [[value, label, compare]], pageSize, render(rows) ->
 * Node }. `keep` is an object of the page's that holds the choices across
 * reloads of the list. Returns { node, set(rows) }.
 */
export function listView(opts, keep) {
	keep.q = keep.q || '';
	keep.page = keep.page || 0;
	keep.filter = keep.filter || (opts.filter ? opts.filter.options[0][0] : '');
	keep.sort = keep.sort || (opts.sorts ? opts.sorts[0][0] : '');
	let rows = [];
	const n = opts.name;
	const q = el('input', { type: 'search', testid: n + '-search', value: keep.q, autocomplete: 'off',
	    spellcheck: 'false' });
	const tools = el('div', { class: 'list-tools', role: 'search', 'aria-label': 'Search ' + opts.what },
	    field('Search ' + opts.what, q));
	let filter = null, sort = null;
	if (opts.filter) {
		filter = select(opts.filter.options, keep.filter, { testid: n + '-filter' });
		tools.append(field(opts.filter.label, filter));
	}
	if (opts.sorts) {
		sort = select(opts.sorts.map(s => [s[0], s[1]]), keep.sort, { testid: n + '-sort' });
		tools.append(field('Sort by', sort));
	}
	const count = el('span', { class: 'list-count', testid: n + '-count', role: 'status' });
	tools.append(count);
	const out = el('div');
	const prev = button('Previous', () => { keep.page--; draw(); }, { small: true, kind: 'secondary',
	    testid: n + '-prev', label: 'Previous page of ' + opts.what });
	const next = button('Next', () => { keep.page++; draw(); }, { small: true, kind: 'secondary',
	    testid: n + '-next', label: 'Next page of ' + opts.what });
	const pageNo = el('span', { class: 'muted', testid: n + '-page' });
	const pager = el('div', { class: 'pager' }, prev, pageNo, next);
	const size = opts.pageSize || 25;
	function draw() {
		const words = keep.q.toLowerCase().split(/\s+/).filter(Boolean);
		let shown = rows.filter(r => {
			const t = opts.text(r).toLowerCase();
			return words.every(w => t.includes(w)) &&
			    (!opts.filter || opts.filter.test(r, keep.filter));
		});
		const s = opts.sorts && opts.sorts.find(x => x[0] === keep.sort);
		if (s)
			shown = shown.slice().sort(s[2]);
		const pages = Math.max(1, Math.ceil(shown.length / size));
		keep.page = Math.min(Math.max(0, keep.page), pages - 1);
		const slice = shown.slice(keep.page * size, (keep.page + 1) * size);
		count.textContent = shown.length === rows.length ? plural(rows.length, opts.one, opts.what) :
		    fmtInt(shown.length) + ' of ' + plural(rows.length, opts.one, opts.what);
		out.replaceChildren(slice.length ? opts.render(slice) :
		    emptyState(rows.length ? 'Nothing matches: change the search or the filter.' : opts.empty));
		pageNo.textContent = 'Page ' + (keep.page + 1) + ' of ' + pages;
		prev.disabled = keep.page === 0;
		next.disabled = keep.page >= pages - 1;
		pager.hidden = pages === 1;
	}
	q.addEventListener('input', () => { keep.q = q.value; keep.page = 0; draw(); });
	if (filter)
		filter.addEventListener('change', () => { keep.filter = filter.value; keep.page = 0; draw(); });
	if (sort)
		sort.addEventListener('change', () => { keep.sort = sort.value; draw(); });
	return {
		node: el('div', { class: 'list-view', testid: n + '-list' }, tools, out, pager),
		set(r) {
			rows = r;
			draw();
		},
	};
}

/*
 * A <datalist> of the site names, with an id of its own, for a site field
 * on the page that uses it: list ids only resolve within one document, and
 * each page builds its own.
 */
export function siteDatalist(input) {
	const list = el('datalist', { id: nextId('sites') });
	input.setAttribute('list', list.id);
	get('/sites', bg).then(r => {
		for (const s of r.sites)
			list.append(el('option', { value: s.name }));
	}).catch(() => {});
	return list;
}
