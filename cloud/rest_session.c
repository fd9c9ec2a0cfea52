#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sodium.h>

#include "daemon.h"
#include "log.h"
#include "pwverify.h"
#include "ratelimit.h"
#include "rest.h"
#include "xmalloc.h"

/*
 * Console sessions: signing in and out, the session's timers, the
 * inactivity timeout setting, and the limit on failed sign-ins.
 *
 * The policy (docs/console.md): with the inactivity timeout disabled (the
 * default) a session ends 72 hours after sign-in; enabled (10 to 720
 * minutes), it ends after that long without console activity and at most
 * 24 hours after sign-in. The cookie holds 32 random bytes; the database
 * keeps only their SHA-256, so a stolen database opens no session.
 */

#define SETTING_IDLE		"console_idle_minutes"
#define PASSWORD_MAX		1024
#define RL_PER_ACCOUNT		5
#define RL_PER_ADDRESS		20
#define RL_ENTRIES		4096
#define KNOWN_FOR		(30 * 24 * 3600)

/*
 * Failed sign-ins per account ("a:EMAIL") and per address ("i:ADDR"), in
 * lib/ratelimit.c's fixed table: past 5 failures for an account or 20
 * from an address within 15 minutes, each further attempt waits 2, 4, 8
 * ... seconds after the last failure, 60 at most, and is answered 429
 * without any password work. An address this account signed in from
 * within 30 days is never delayed (lib/store_admin.c keeps the last 16):
 * strangers can slow each other down, never lock the administrator out.
 */
static struct rl_table	*rl_table;

static struct rl_table *
rl(void)
{
	if (rl_table == NULL)
		rl_table = rl_new(RL_ENTRIES);
	if (rl_table == NULL)
		fatalx("out of memory for the sign-in limits");
	return rl_table;
}

int
session_idle_minutes(struct cloud *c)
{
	char	 v[16], err[256];
	long	 n;

	if (store_setting_get(c->dd.st, SETTING_IDLE, v, sizeof(v), err,
	    sizeof(err)) != UPLINK_OK)
		return 0;
	n = strtol(v, NULL, 10);
	return session_idle_valid(n) ? (int)n : 0;
}

static json_t *
session_json(struct cloud *c, const struct store_session *s,
    const struct store_admin *a)
{
	int64_t	 idle_at, abs_at;
	int	 idle = session_idle_minutes(c);

	session_expiry(s->created_at, s->last_active, idle, &idle_at, &abs_at);
	return json_pack("{s:{s:I, s:s, s:s}, s:I, s:I, s:o, s:o, s:I, s:I, "
	    "s:s}", "admin", "id", (json_int_t)a->id, "email", a->email,
	    "role", a->role, "created_at", (json_int_t)s->created_at,
	    "last_active_at", (json_int_t)s->last_active,
	    "inactivity_timeout_minutes", idle ? json_integer(idle) :
	    json_null(), "idle_expires_at", rest_time(idle_at),
	    "absolute_expires_at", (json_int_t)abs_at, "expires_at",
	    (json_int_t)(idle_at != 0 && idle_at < abs_at ? idle_at : abs_at),
	    "csrf_token", s->csrf);
}

/* A random 32-byte secret as 43 base64url characters. */
static void
random_text(char out[STORE_CSRF_SIZE])
{
	unsigned char	 b[32];

	randombytes_buf(b, sizeof(b));
	sodium_bin2base64(out, STORE_CSRF_SIZE, b, sizeof(b),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(b, sizeof(b));
}

/*
 * On PostgreSQL the failures are counted in the database as well, so
 * every instance of a cluster applies the same limits: before judging a
 * sign-in, what the others counted is merged into this instance's table.
 * A database error leaves the local count alone (and is logged): the
 * limits never depend on the database being up.
 */
static void
rl_shared_read(struct rest *r, const char *key)
{
	int64_t	 last;
	char	 err[256];
	int	 n;

	if (!store_is_pg(r->c->dd.st))
		return;
	if (store_signin_get(r->c->dd.st, key, r->now, RL_WINDOW, &n, &last,
	    err, sizeof(err)) != UPLINK_OK)
		log_warnx("api: sign-in limits: %s", err);
	else
		rl_merge(rl(), key, n, last, r->now);
}

static void
rl_shared_fail(struct rest *r, const char *key)
{
	char	 err[256];
	int	 n;

	if (!store_is_pg(r->c->dd.st))
		return;
	if (store_signin_fail(r->c->dd.st, key, r->now, RL_WINDOW, &n, err,
	    sizeof(err)) != UPLINK_OK)
		log_warnx("api: sign-in limits: %s", err);
	else
		rl_merge(rl(), key, n, r->now, r->now);
}

/*
 * A sign-in from an address the account has not signed in from lately
 * waits out the delay its failures earned: 429 with Retry-After, no
 * password work, and one audit row per key per window (4,000 refused
 * attempts used to write 4,000 rows).
 */
static bool
rate_limited(struct rest *r, const char *acct, const char *addr)
{
	int64_t		 wait_a, wait_i, wait, n;
	const char	*key, *why;
	char		 retry[24];

	rl_shared_read(r, acct);
	rl_shared_read(r, addr);
	wait_a = rl_wait(rl(), acct, RL_PER_ACCOUNT, r->now);
	wait_i = rl_wait(rl(), addr, RL_PER_ADDRESS, r->now);
	if (wait_a == 0 && wait_i == 0)
		return false;
	wait = wait_a > wait_i ? wait_a : wait_i;
	key = wait_a >= wait_i ? acct : addr;
	why = key == acct ? "for this account from addresses it has not "
	    "signed in from lately" : "from this address";
	snprintf(retry, sizeof(retry), "%lld", (long long)wait);
	evhttp_add_header(evhttp_request_get_output_headers(r->req),
	    "Retry-After", retry);
	if (rl_refused(rl(), key, r->now, &n))
		rest_audit(r, "session.refused", acct + 2, "too many failed "
		    "sign-ins %s; %lld attempts refused; more refusals of this "
		    "%s in the next %d minutes are not recorded", why,
		    (long long)n, key == acct ? "account" : "address",
		    RL_WINDOW / 60);
	rest_fail(r, 429, "rate-limited", "too many failed sign-ins %s: try "
	    "again in %lld seconds", why, (long long)wait);
	return true;
}

/* Whether the client's address signed in to this account lately. */
static bool
known_address(struct rest *r, const struct store_admin *a)
{
	char	 err[256];
	bool	 known = false;

	if (store_admin_known(r->c->dd.st, a->id, r->addr, r->now - KNOWN_FOR,
	    &known, err, sizeof(err)) != UPLINK_OK)
		log_warnx("api: sign-in of %s: %s", a->email, err);
	return known;
}

/*
 * Failed sign-ins are recorded while they are few (the first 5 of the
 * account, 20 of the address) and then at each power of two, so a long
 * run of guesses leaves a trail of a few rows, not one per guess.
 */
static bool
worth_a_row(int n, int allowed)
{
	return n <= allowed || (n & (n - 1)) == 0;
}

static void
set_cookie(struct rest *r, const char *value, int64_t max_age)
{
	char	 c[256];

	snprintf(c, sizeof(c), "uplink_session=%s; Path=/; Max-Age=%lld; "
	    "HttpOnly; Secure; SameSite=Strict", value, (long long)max_age);
	evhttp_add_header(evhttp_request_get_output_headers(r->req),
	    "Set-Cookie", c);
}

/* A sign-in waiting for its password check (cloud/pwverify.c). */
struct signin {
	struct rest		*r;
	struct store_admin	 a;
	bool			 found;
	char			 email[STORE_EMAIL_MAX + 1];
	char			 acct[STORE_EMAIL_MAX + 4], addr[72];
};

static void
signin_failed(struct rest *r, struct signin *si)
{
	int	 na, ni;

	rl_fail(rl(), si->acct, r->now);
	rl_fail(rl(), si->addr, r->now);
	rl_shared_fail(r, si->acct);
	rl_shared_fail(r, si->addr);
	na = rl_failures(rl(), si->acct, r->now);
	ni = rl_failures(rl(), si->addr, r->now);
	if (worth_a_row(na, RL_PER_ACCOUNT) && worth_a_row(ni, RL_PER_ADDRESS))
		rest_audit(r, "session.failed", si->email, "wrong e-mail or "
		    "password (%d failed for this account, %d from this address "
		    "in the last %d minutes)", na, ni, RL_WINDOW / 60);
	rest_reply(r, 401, json_pack("{s:s, s:s, s:s}", "error",
	    "unauthenticated", "message", "wrong e-mail or password",
	    "reason", "bad-password"));
}

/* Remembers the address for KNOWN_FOR: it is not delayed from now on. */
static void
signin_known(struct rest *r, const struct store_admin *a)
{
	char	 err[256];

	if (store_admin_known_add(r->c->dd.st, a->id, r->addr, r->now,
	    r->now - KNOWN_FOR, err, sizeof(err)) != UPLINK_OK)
		log_warnx("api: sign-in of %s from %s: %s", a->email, r->addr,
		    err);
}

static void
signin_done(void *arg, bool ok)
{
	struct signin		*si = arg;
	struct rest		*r = si->r;
	struct store_session	 s;
	char			 secret[STORE_CSRF_SIZE], err[256];
	int			 rc;

	r->now = time(NULL);
	snprintf(r->actor, sizeof(r->actor), "%s", si->found ? si->a.email :
	    si->email);
	snprintf(r->actor_kind, sizeof(r->actor_kind), "admin");
	if (!ok) {
		signin_failed(r, si);
		goto out;
	}
	memset(&s, 0, sizeof(s));
	random_text(secret);
	crypto_hash_sha256(s.hash, (const unsigned char *)secret,
	    strlen(secret));
	random_text(s.csrf);
	s.admin_id = si->a.id;
	s.created_at = s.last_active = r->now;
	snprintf(s.address, sizeof(s.address), "%s", r->addr);
	rc = store_session_add(r->c->dd.st, &s, err, sizeof(err));
	if (rc != UPLINK_OK) {
		sodium_memzero(secret, sizeof(secret));
		rest_store_fail(r, rc, err);
		goto out;
	}
	signin_known(r, &si->a);
	rest_audit(r, "session.create", si->a.email, "signed in as %s",
	    si->a.role);
	set_cookie(r, secret, session_idle_minutes(r->c) ?
	    SESSION_ABSOLUTE_ENABLED : SESSION_ABSOLUTE_DISABLED);
	sodium_memzero(secret, sizeof(secret));
	log_info("api: %s signed in from %s", si->a.email, r->addr);
	rest_reply(r, 201, session_json(r->c, &s, &si->a));
out:
	sodium_memzero(si, sizeof(*si));
	free(si);
}

void
rest_session_post(struct rest *r)
{
	static const char *const fields[] = { "!email:s", "!password:s",
	    NULL };
	struct signin	*si;
	const char	*email, *pw;
	char		 err[256];
	bool		 known;
	int		 rc;

	if (!rest_fields(r, fields))
		return;
	email = rest_str(r, "email");
	pw = rest_str(r, "password");
	if (strlen(email) > STORE_EMAIL_MAX || strlen(pw) > PASSWORD_MAX) {
		rest_fail(r, 400, "bad-field", "the e-mail address (at most %d "
		    "characters) or the password (at most %d) is too long",
		    STORE_EMAIL_MAX, PASSWORD_MAX);
		return;
	}
	snprintf(r->actor, sizeof(r->actor), "%s", email);
	snprintf(r->actor_kind, sizeof(r->actor_kind), "admin");
	si = xcalloc(1, sizeof(*si));
	si->r = r;
	snprintf(si->email, sizeof(si->email), "%s", email);
	snprintf(si->acct, sizeof(si->acct), "a:%s", email);
	snprintf(si->addr, sizeof(si->addr), "i:%s", r->addr);
	rc = store_admin_find(r->c->dd.st, email, &si->a, err, sizeof(err));
	if (rc != UPLINK_OK && rc != UPLINK_ENOTFOUND) {
		free(si);
		rest_store_fail(r, rc, err);
		return;
	}
	si->found = rc == UPLINK_OK;
	known = si->found && known_address(r, &si->a);
	if (!known && rate_limited(r, si->acct, si->addr)) {
		sodium_memzero(si, sizeof(*si));
		free(si);
		return;
	}
	if (pwverify(r->c, si->found ? si->a.pwhash : NULL, pw, known,
	    signin_done, si) != 0) {
		free(si);
		evhttp_add_header(evhttp_request_get_output_headers(r->req),
		    "Retry-After", "1");
		rest_fail(r, 503, "busy", "too many sign-ins at once: try again "
		    "in a second");
	}
}

static bool
need_session(struct rest *r)
{
	if (r->auth == REST_AUTH_SESSION)
		return true;
	rest_fail(r, 404, "not-found", "API keys have no console session; "
	    "sign in to the console for one");
	return false;
}

void
rest_session_get(struct rest *r)
{
	struct store_admin	 a;
	char			 err[256];
	int			 rc;

	if (!need_session(r))
		return;
	rc = store_admin_get(r->c->dd.st, r->admin_id, &a, err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	rest_reply(r, 200, session_json(r->c, &r->sess, &a));
}

void
rest_session_delete(struct rest *r)
{
	char	 err[256];
	int	 rc;

	if (!need_session(r))
		return;
	rc = store_session_delete(r->c->dd.st, r->sess.hash, err, sizeof(err));
	if (rc != UPLINK_OK && rc != UPLINK_ENOTFOUND) {
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "session.delete", r->actor, "signed out");
	set_cookie(r, "", 0);
	rest_reply(r, 204, NULL);
}

/*
 * POST /api/v1/session/password: the signed-in administrator changes their
 * own password, read-only ones included. The current password is checked
 * by the pwverify worker, like a sign-in, and a wrong one counts as a
 * failed sign-in of the account (so a session left open is no way around
 * the delays); the new one follows admin_password_check(). The other
 * sessions of the account end, this one stays.
 */
struct pwchange {
	struct rest		*r;
	struct store_admin	 a;
	char			 hash[STORE_PWHASH_MAX + 1];
	char			 acct[STORE_EMAIL_MAX + 4];
};

static void
pwchange_done(void *arg, bool ok)
{
	struct pwchange	*pc = arg;
	struct rest	*r = pc->r;
	char		 err[256];
	int		 rc;

	r->now = time(NULL);
	if (!ok) {
		rl_fail(rl(), pc->acct, r->now);
		rest_audit(r, "admin.password", pc->a.email, "refused: wrong "
		    "current password");
		rest_fail(r, 403, "bad-password", "the current password is "
		    "wrong: the password was not changed");
		goto out;
	}
	rc = store_admin_update(r->c->dd.st, pc->a.id, NULL, pc->hash,
	    r->sess.hash, err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		goto out;
	}
	rest_audit(r, "admin.password", pc->a.email, "changed their own "
	    "password; their other sessions ended");
	rest_reply(r, 204, NULL);
out:
	sodium_memzero(pc, sizeof(*pc));
	free(pc);
}

void
rest_session_password(struct rest *r)
{
	static const char *const fields[] = { "!current_password:s",
	    "!new_password:s", NULL };
	struct pwchange	*pc;
	const char	*cur, *pw;
	char		 err[256], addr[72];
	int		 rc;

	if (!need_session(r) || !rest_fields(r, fields))
		return;
	cur = rest_str(r, "current_password");
	pw = rest_str(r, "new_password");
	if (strlen(cur) > PASSWORD_MAX || strlen(pw) > PASSWORD_MAX) {
		rest_fail(r, 400, "bad-field", "a password is too long (at "
		    "most %d characters)", PASSWORD_MAX);
		return;
	}
	pc = xcalloc(1, sizeof(*pc));
	pc->r = r;
	rc = store_admin_get(r->c->dd.st, r->admin_id, &pc->a, err,
	    sizeof(err));
	if (rc != UPLINK_OK) {
		free(pc);
		rest_store_fail(r, rc, err);
		return;
	}
	snprintf(pc->acct, sizeof(pc->acct), "a:%s", pc->a.email);
	snprintf(addr, sizeof(addr), "i:%s", r->addr);
	if (!admin_password_check(pw, pc->a.email, err, sizeof(err))) {
		rest_fail(r, 400, "bad-field", "field \"new_password\": %s",
		    err);
		goto fail;
	}
	if (rate_limited(r, pc->acct, addr))
		goto fail;
	if (admin_hash(pw, pc->hash) != 0) {
		rest_fail(r, 500, "internal", "out of memory hashing the "
		    "password");
		goto fail;
	}
	if (pwverify(r->c, pc->a.pwhash, cur, true, pwchange_done, pc) != 0) {
		evhttp_add_header(evhttp_request_get_output_headers(r->req),
		    "Retry-After", "1");
		rest_fail(r, 503, "busy", "too many password checks at once: "
		    "try again in a second");
		goto fail;
	}
	return;
fail:
	sodium_memzero(pc, sizeof(*pc));
	free(pc);
}

static json_t *
settings_json(struct cloud *c)
{
	int	 idle = session_idle_minutes(c);

	return json_pack("{s:o}", "console_inactivity_timeout_minutes",
	    idle ? json_integer(idle) : json_null());
}

void
rest_settings_get(struct rest *r)
{
	rest_reply(r, 200, settings_json(r->c));
}

void
rest_settings_patch(struct rest *r)
{
	static const char *const fields[] = {
	    "console_inactivity_timeout_minutes:j", NULL };
	json_t		*v;
	json_int_t	 n = 0;
	char		 text[16], err[256];
	int		 rc;

	if (!rest_fields(r, fields))
		return;
	v = json_object_get(r->body, "console_inactivity_timeout_minutes");
	if (v == NULL) {
		rest_reply(r, 200, settings_json(r->c));
		return;
	}
	if (!json_is_null(v)) {
		n = json_is_integer(v) ? json_integer_value(v) : -1;
		if (n == 0 || !session_idle_valid(n)) {
			rest_fail(r, 400, "bad-field", "field "
			    "\"console_inactivity_timeout_minutes\": the "
			    "console inactivity timeout is from %d to %d "
			    "minutes (10 minutes to 12 hours), as a whole "
			    "number, or null to disable it", SESSION_IDLE_MIN,
			    SESSION_IDLE_MAX);
			return;
		}
	}
	snprintf(text, sizeof(text), "%lld", (long long)n);
	rc = store_setting_set(r->c->dd.st, SETTING_IDLE, text, err,
	    sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	if (n == 0)
		rest_audit(r, "settings.update", "console_inactivity_timeout",
		    "disabled");
	else
		rest_audit(r, "settings.update", "console_inactivity_timeout",
		    "%lld minutes", (long long)n);
	rest_reply(r, 200, settings_json(r->c));
}
