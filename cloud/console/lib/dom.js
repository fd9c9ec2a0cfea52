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
