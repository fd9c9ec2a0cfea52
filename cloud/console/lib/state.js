/* uplink cloud console: lib/state.js. Constants and the state shared by every module. */
export const API = '/api/v1';
export const LIVE_MS = 5000;           // live figures (overview, site, connector)
export const BELL_MS = 15000;          // unread notification count
export const SYNC_MS = 60000;          // re-read the session's timers
export const AUDIT_PAGE = 50;

export const state = {
	session: null,          // GET /api/v1/session, kept up to date
	csrf: null,
	skew: 0,                // server clock minus local clock, in seconds
	seq: 0,                 // bumped on every navigation: stale pages stop
	pageTimers: [],
	globalTimers: [],
	unread: 0,
	signingOut: false,
	afterSignin: null,      // the hash to go back to after signing in
	warnDismissed: null,
	lastSync: 0,
	sites: [],
	utc: localStorage.getItem('uplink-console-utc') === '1',
};
