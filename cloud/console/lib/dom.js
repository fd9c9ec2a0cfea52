/* uplink cloud console: lib/dom.js */
export function el(tag, props, ...kids) {
	const e = document.createElement(tag);
	if (props) {
		for (const [k, v] of Object.entries(props)) {
			if (v === null || v === undefined || v === false)
				continue;
			if (k === 'class')
				e.className = v;
			else if (k === 'text')
				e.textContent = v;
			else if (k === 'testid')
				e.dataset.testid = v;
			else if (k === 'dataset')
				Object.assign(e.dataset, v);
			else if (k === 'on')
				for (const [ev, fn] of Object.entries(v))
					e.addEventListener(ev, fn);
			else if (k === 'value' || k === 'checked' || k === 'disabled' ||
			    k === 'hidden' || k === 'selected' || k === 'required')
				e[k] = v;
			else
				e.setAttribute(k, v === true ? '' : String(v));
		}
	}
	append(e, kids);
	return e;
}

export function append(parent, kids) {
	for (const kid of kids.flat(Infinity)) {
		if (kid === null || kid === undefined || kid === false)
			continue;
		parent.append(kid instanceof Node ? kid : String(kid));
	}
	return parent;
}

export const SVGNS = 'http://www.w3.org/2000/svg';

export function icon(name) {
	const paths = {
		bell: 'M12 3a6 6 0 0 0-6 6v3.6L4.3 16h15.4L18 12.6V9a6 6 0 0 0-6-6zm-2.2 15a2.3 2.3 0 0 0 4.4 0z',
		logo: 'M12 2.5 20 10.5h-5v9H9v-9H4z',
		close: 'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6 10.6 12 5 6.4z',
		warn: 'M12 3 1.5 21h21zm-1 6h2v6h-2zm0 8h2v2h-2z',
		menu: 'M3 6h18v2H3zm0 5h18v2H3zm0 5h18v2H3z',
	};
	const svg = document.createElementNS(SVGNS, 'svg');
	svg.setAttribute('viewBox', '0 0 24 24');
	svg.setAttribute('aria-hidden', 'true');
	svg.setAttribute('focusable', 'false');
	svg.setAttribute('class', 'icon icon-' + name);
	const p = document.createElementNS(SVGNS, 'path');
	p.setAttribute('d', paths[name]);
	svg.append(p);
	return svg;
}

export let uid = 0;
export function nextId(prefix) {
	uid += 1;
	return prefix + '-' + uid;
}

/*
 * Makes the children of `into` look like `fresh` (a node or a fragment
 * built anew by a page's render function), changing only what differs. A
 * live refresh goes through here rather than replaceChildren(): the
 * elements that stay keep their identity, so keyboard focus and a text
 * selection survive it (a selection is lost only when its own text
 * changes). Elements are matched by position, tag, data-testid and the
 * row keys (data-connector, data-site); a kept element keeps its own
 * event listeners, which is why live pages put their buttons outside what
 * they patch, or rebuild them when their meaning changes.
 */
export function patch(into, fresh) {
	const want = fresh instanceof DocumentFragment ? [...fresh.childNodes] : [fresh];
	patchChildren(into, want);
}

function sameKind(a, b) {
	if (a.nodeType !== b.nodeType || a.nodeName !== b.nodeName)
		return false;
	if (a.nodeType !== Node.ELEMENT_NODE)
		return true;
	const d = a.dataset, e = b.dataset;
	return d.testid === e.testid && d.connector === e.connector && d.site === e.site;
}

function patchChildren(parent, want) {
	const have = [...parent.childNodes];
	want.forEach((w, i) => {
		const h = have[i];
		if (!h)
			parent.append(w);
		else if (sameKind(h, w))
			patchNode(h, w);
		else
			parent.replaceChild(w, h);
	});
	for (let i = want.length; i < have.length; i++)
		have[i].remove();
}

function patchNode(h, w) {
	if (h.nodeType === Node.TEXT_NODE) {
		if (h.data !== w.data)
			h.data = w.data;
		return;
	}
	if (h.nodeType !== Node.ELEMENT_NODE)
		return;
	for (const a of [...h.attributes])
		if (!w.hasAttribute(a.name))
			h.removeAttribute(a.name);
	for (const a of [...w.attributes])
		if (h.getAttribute(a.name) !== a.value)
			h.setAttribute(a.name, a.value);
	if (h.hidden !== w.hidden)
		h.hidden = w.hidden;
	patchChildren(h, [...w.childNodes]);
}
