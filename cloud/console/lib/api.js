/* uplink cloud console: lib/api.js */
import { noteActivity, sessionEnded } from './session.js';
import { API, state } from './state.js';

export class ApiError extends Error {
	constructor(status, body) {
		super(body.message || body.error || ('HTTP ' + status));
		this.status = status;
		this.body = body;
		this.handled = false;
	}
}

export function noteServerTime(res) {
	const d = Date.parse(res.headers.get('Date') || '');
	if (Number.isFinite(d))
		state.skew = d / 1000 - Date.now() / 1000;
}

/*
 * One request to the API. opts.background marks an automatic refresh (it
 * must not count as console activity); opts.signin keeps a 401 from being
 * taken for the end of a session (signing in and the first look at
 * GET /session handle theirs). Resolves to the JSON (or text) body, null for
 * 204; rejects with an ApiError whose message is the API's own.
 */
export async function api(method, path, body, opts) {
	opts = opts || {};
	const headers = { Accept: opts.text ? 'text/plain' : 'application/json' };
	if (body !== undefined)
		headers['Content-Type'] = 'application/json';
	if (method !== 'GET' && method !== 'HEAD' && state.csrf)
		headers['X-CSRF-Token'] = state.csrf;
	if (opts.background)
		headers['X-Uplink-Background'] = '1';
	let res;
	try {
		res = await fetch(API + path, {
			method,
			headers,
			body: body === undefined ? undefined : JSON.stringify(body),
			credentials: 'same-origin',
			cache: 'no-store',
		});
	} catch (e) {
		throw new ApiError(0, {
			error: 'network',
			message: 'The console could not reach uplink-cloud (' + e.message +
			    '). Check the network connection and try again.',
		});
	}
	noteServerTime(res);
	let data = null;
	if (res.status !== 204) {
		const ct = res.headers.get('Content-Type') || '';
		const text = await res.text();
		if (ct.includes('json')) {
			try {
				data = JSON.parse(text);
			} catch (e) {
				data = null;
			}
		} else {
			data = text;
		}
	}
	if (!res.ok) {
		const b = data && typeof data === 'object' ? data : {
			error: 'http-' + res.status,
			message: (typeof data === 'string' && data.trim()) ? data.trim() :
			    'uplink-cloud answered ' + res.status + ' ' + res.statusText + '.',
		};
		const err = new ApiError(res.status, b);
		const ra = parseInt(res.headers.get('Retry-After') || '', 10);
		if (Number.isFinite(ra))
			err.retryAfter = ra;
		if (res.status === 401 && !opts.signin) {
			err.handled = true;
			sessionEnded(b);
		}
		throw err;
	}
	if (!opts.background && state.session && !opts.signin)
		noteActivity();
	return data;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const bg = { background: true };
