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
#define PASSWORD_MIN		12
#define PASSWORD_MAX		1024
#define RL_WINDOW		(15 * 60)
#define RL_PER_ACCOUNT		5
#define RL_PER_ADDRESS		20
#define RL_ENTRIES		4096

/*
 * Failed sign-ins per account ("a:EMAIL") and per address ("i:ADDR"): the
 * times of the last RL_PER_ADDRESS failures in a ring, in a fixed table
 * (a flood of new names evicts the stalest entry, never grows memory).
 */
struct rl_entry {
	char	 key[STORE_EMAIL_MAX + 4];
	int64_t	 t[RL_PER_ADDRESS];
	int	 n, next;
	int64_t	 last;
};

static struct rl_entry	*rl_table;

static struct rl_entry *
rl_find(const char *key, bool create, int64_t now)
{
	struct rl_entry	*e, *victim = NULL;
	size_t		 i;

	if (rl_table == NULL) {
		if (!create)
			return NULL;
		rl_table = calloc(RL_ENTRIES, sizeof(*rl_table));
		if (rl_table == NULL)
			return NULL;
	}
	for (i = 0; i < RL_ENTRIES; i++) {
		e = &rl_table[i];
		if (e->key[0] != '\0' && strcasecmp(e->key, key) == 0)
			return e;
		if (victim == NULL || e->key[0] == '\0' ||
		    (victim->key[0] != '\0' && e->last < victim->last))
			victim = e;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->last = now;
	return victim;
}

/* Failures within the window, and when the oldest of them leaves it. */
static int
rl_count(const struct rl_entry *e, int64_t now, int limit, int64_t *until)
{
	int64_t	 t[RL_PER_ADDRESS];
	int	 i, j, n = 0;

	for (i = 0; e != NULL && i < e->n; i++)
		if (e->t[i] > now - RL_WINDOW)
			t[n++] = e->t[i];
	/* The limit-th newest failure decides when one more is allowed. */
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (t[j] > t[i]) {
				int64_t	 x = t[i];

				t[i] = t[j];
				t[j] = x;
			}
	*until = n >= limit ? t[limit - 1] + RL_WINDOW : 0;
	return n;
}

static void
rl_fail(const char *key, int64_t now)
{
	struct rl_entry	*e = rl_find(key, true, now);

	if (e == NULL)
		return;
	e->t[e->next] = now;
	e->next = (e->next + 1) % RL_PER_ADDRESS;
	if (e->n < RL_PER_ADDRESS)
		e->n++;
	e->last = now;
}

static void
rl_clear(const char *key)
{
	struct rl_entry	*e = rl_find(key, false, 0);

	if (e != NULL)
		memset(e, 0, sizeof(*e));
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

static bool
rate_limited(struct rest *r, const char *acct, const char *addr)
{
	int64_t	 until_a, until_i, until;
	char	 retry[24];
	int	 na, ni;

	na = rl_count(rl_find(acct, false, 0), r->now, RL_PER_ACCOUNT,
	    &until_a);
	ni = rl_count(rl_find(addr, false, 0), r->now, RL_PER_ADDRESS,
	    &until_i);
	if (na < RL_PER_ACCOUNT && ni < RL_PER_ADDRESS)
		return false;
	until = until_a > until_i ? until_a : until_i;
	snprintf(retry, sizeof(retry), "%lld", (long long)(until - r->now));
	evhttp_add_header(evhttp_request_get_output_headers(r->req),
	    "Retry-After", retry);
	rest_audit(r, "session.refused", acct + 2, "too many failed sign-ins "
	    "(%s)", na >= RL_PER_ACCOUNT ? "account" : "address");
	rest_fail(r, 429, "rate-limited", "too many failed sign-ins %s: try "
	    "again in %lld seconds", na >= RL_PER_ACCOUNT ? "for this account"
	    : "from this address", (long long)(until - r->now));
	return true;
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
		rl_fail(si->acct, r->now);
		rl_fail(si->addr, r->now);
		rest_audit(r, "session.failed", si->email, "wrong e-mail or "
		    "password");
		rest_reply(r, 401, json_pack("{s:s, s:s, s:s}", "error",
		    "unauthenticated", "message", "wrong e-mail or password",
		    "reason", "bad-password"));
		goto out;
	}
	rl_clear(si->acct);
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
	if (rate_limited(r, si->acct, si->addr)) {
		free(si);
		return;
	}
	rc = store_admin_find(r->c->dd.st, email, &si->a, err, sizeof(err));
	if (rc != UPLINK_OK && rc != UPLINK_ENOTFOUND) {
		free(si);
		rest_store_fail(r, rc, err);
		return;
	}
	si->found = rc == UPLINK_OK;
	if (pwverify(r->c, si->found ? si->a.pwhash : NULL, pw, signin_done,
	    si) != 0) {
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
