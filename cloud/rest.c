#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>
#include <sodium.h>

#include "apikey.h"
#include "console.h"
#include "daemon.h"
#include "input.h"
#include "log.h"
#include "packages.h"
#include "releases.h"
#include "rollout.h"
#include "rest.h"
#include "router.h"
#include "xmalloc.h"

/*
 * The API's front door: the route table, authentication, CSRF, the
 * read-only rule, body parsing with its cap, and the answers. Handlers
 * live in cloud/rest_*.c and see only a parsed, authorised request.
 */

#define REST_PREFIX		"/api/v1/"
#define SESSION_COOKIE		"uplink_session"
#define CSP "default-src 'self'; script-src 'self'; style-src 'self'; " \
	    "img-src 'self' data:; connect-src 'self'; font-src 'self'; " \
	    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

/* Route flags. */
#define R_OPEN		0x1	/* no authentication (signing in) */
#define R_CONNECTOR	0x2	/* a connector's certificate is enough */
#define R_READ_OK	0x4	/* changes only the caller's own session */

struct route {
	enum evhttp_cmd_type	 cmd;
	const char		*pattern;	/* segments; "*" is any one */
	void			(*fn)(struct rest *);
	int			 flags;
};

static const struct route routes[] = {
	{ EVHTTP_REQ_POST,   "session",			rest_session_post, R_OPEN },
	{ EVHTTP_REQ_GET,    "session",			rest_session_get, 0 },
	{ EVHTTP_REQ_DELETE, "session",			rest_session_delete, R_READ_OK },
	{ EVHTTP_REQ_POST,   "session/password",	rest_session_password, R_READ_OK },
	{ EVHTTP_REQ_GET,    "settings",		rest_settings_get, 0 },
	{ EVHTTP_REQ_PATCH,  "settings",		rest_settings_patch, 0 },
	{ EVHTTP_REQ_GET,    "sites",			rest_sites_list, 0 },
	{ EVHTTP_REQ_POST,   "sites",			rest_sites_post, 0 },
	{ EVHTTP_REQ_GET,    "sites/*",			rest_site_get, 0 },
	{ EVHTTP_REQ_PATCH,  "sites/*",			rest_site_patch, 0 },
	{ EVHTTP_REQ_DELETE, "sites/*",			rest_site_delete, 0 },
	{ EVHTTP_REQ_GET,    "sites/*/rollout",		rest_rollout_get, 0 },
	{ EVHTTP_REQ_PATCH,  "sites/*/rollout",		rest_rollout_patch, 0 },
	{ EVHTTP_REQ_POST,   "sites/*/rollout/update-now", rest_rollout_now, 0 },
	{ EVHTTP_REQ_GET,    "connectors",		rest_connectors_list, 0 },
	{ EVHTTP_REQ_GET,    "connectors/*",		rest_connector_get, 0 },
	{ EVHTTP_REQ_PATCH,  "connectors/*",		rest_connector_patch, 0 },
	{ EVHTTP_REQ_DELETE, "connectors/*",		rest_connector_delete, 0 },
	{ EVHTTP_REQ_POST,   "connectors/*/revoke",	rest_connector_revoke, 0 },
	{ EVHTTP_REQ_POST,   "connectors/*/drain",	rest_connector_drain, 0 },
	{ EVHTTP_REQ_POST,   "connectors/*/resume",	rest_connector_resume, 0 },
	{ EVHTTP_REQ_POST,   "connectors/*/check",	rest_connector_check, 0 },
	{ EVHTTP_REQ_GET,    "connectors/*/checks",	rest_connector_checks, 0 },
	{ EVHTTP_REQ_GET,    "connectors/*/logs",	rest_connector_logs, 0 },
	{ EVHTTP_REQ_GET,    "connectors/*/events",	rest_connector_events, 0 },
	{ EVHTTP_REQ_GET,    "sites/*/events",		rest_site_events, 0 },
	{ EVHTTP_REQ_GET,    "tokens",			rest_tokens_list, 0 },
	{ EVHTTP_REQ_POST,   "tokens",			rest_tokens_post, 0 },
	{ EVHTTP_REQ_POST,   "tokens/*/revoke",		rest_token_revoke, 0 },
	{ EVHTTP_REQ_GET,    "services",		rest_services_list, 0 },
	{ EVHTTP_REQ_POST,   "services",		rest_services_post, 0 },
	{ EVHTTP_REQ_GET,    "services/*",		rest_service_get, 0 },
	{ EVHTTP_REQ_PATCH,  "services/*",		rest_service_patch, 0 },
	{ EVHTTP_REQ_DELETE, "services/*",		rest_service_delete, 0 },
	{ EVHTTP_REQ_GET,    "requirements",		rest_requirements_get, R_CONNECTOR },
	{ EVHTTP_REQ_PUT,    "requirements/*",		rest_requirement_put, 0 },
	{ EVHTTP_REQ_DELETE, "requirements/*",		rest_requirement_delete, 0 },
	{ EVHTTP_REQ_GET,    "keys",			rest_keys_list, 0 },
	{ EVHTTP_REQ_POST,   "keys",			rest_keys_post, 0 },
	{ EVHTTP_REQ_POST,   "keys/*/revoke",		rest_key_revoke, 0 },
	{ EVHTTP_REQ_GET,    "admins",			rest_admins_list, 0 },
	{ EVHTTP_REQ_POST,   "admins",			rest_admins_post, 0 },
	{ EVHTTP_REQ_PATCH,  "admins/*",		rest_admin_patch, 0 },
	{ EVHTTP_REQ_DELETE, "admins/*",		rest_admin_delete, 0 },
	{ EVHTTP_REQ_GET,    "notifications",		rest_notes_list, 0 },
	{ EVHTTP_REQ_POST,   "notifications/read-all",	rest_notes_read_all, R_READ_OK },
	{ EVHTTP_REQ_POST,   "notifications/*/read",	rest_note_read, R_READ_OK },
	{ EVHTTP_REQ_GET,    "audit",			rest_audit_list, 0 },
	{ EVHTTP_REQ_GET,    "packages",		rest_packages_list, 0 },
	{ EVHTTP_REQ_GET,    "history",			rest_history, 0 },
	{ EVHTTP_REQ_GET,    "sites/*/history",		rest_site_history, 0 },
	{ EVHTTP_REQ_GET,    "connectors/*/history",	rest_connector_history, 0 },
	/* Alerts (cloud/rest_alerts.c). */
	{ EVHTTP_REQ_GET,    "channels",		rest_channels_list, 0 },
	{ EVHTTP_REQ_POST,   "channels",		rest_channels_post, 0 },
	{ EVHTTP_REQ_GET,    "channels/*",		rest_channel_get, 0 },
	{ EVHTTP_REQ_PATCH,  "channels/*",		rest_channel_patch, 0 },
	{ EVHTTP_REQ_DELETE, "channels/*",		rest_channel_delete, 0 },
	{ EVHTTP_REQ_POST,   "channels/*/test",		rest_channel_test, 0 },
	{ EVHTTP_REQ_GET,    "channels/*/deliveries",	rest_channel_deliveries, 0 },
	{ EVHTTP_REQ_GET,    "alert-rules",		rest_rules_list, 0 },
	{ EVHTTP_REQ_POST,   "alert-rules",		rest_rules_post, 0 },
	{ EVHTTP_REQ_PATCH,  "alert-rules/*",		rest_rule_patch, 0 },
	{ EVHTTP_REQ_DELETE, "alert-rules/*",		rest_rule_delete, 0 },
	{ EVHTTP_REQ_GET,    "instances",		rest_instances_list, 0 },
	{ EVHTTP_REQ_GET,    "releases",		rest_releases_list, 0 },
	{ EVHTTP_REQ_POST,   "releases",		rest_releases_post, 0 },
	{ EVHTTP_REQ_DELETE, "releases/*",		rest_release_delete, 0 },
	{ EVHTTP_REQ_GET,    "cluster",			rest_cluster_get, R_CONNECTOR },
};

static const char *
method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:	return "GET";
	case EVHTTP_REQ_HEAD:	return "HEAD";
	case EVHTTP_REQ_POST:	return "POST";
	case EVHTTP_REQ_PUT:	return "PUT";
	case EVHTTP_REQ_PATCH:	return "PATCH";
	case EVHTTP_REQ_DELETE:	return "DELETE";
	default:		return "?";
	}
}

static void
rest_free(struct rest *r)
{
	int	 i;

	for (i = 0; i < r->nseg; i++)
		free(r->seg[i]);
	evhttp_clear_headers(&r->query);
	json_decref(r->body);
	free(r);
}

static void
common_headers(struct evhttp_request *req)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
}

/*
 * The one builder of error bodies. The message may quote what a client
 * sent or be cut by a printf precision inside a UTF-8 character; both
 * would make json_pack fail and leave the answer without a body, so the
 * text is made valid UTF-8 first ('?' for each bad byte).
 */
static json_t *
error_body(const char *code, const char *msg, const char *reason)
{
	char	 text[1024];

	snprintf(text, sizeof(text), "%s", msg);
	input_utf8_clean(text);
	if (reason != NULL)
		return json_pack("{s:s, s:s, s:s}", "error", code, "message",
		    text, "reason", reason);
	return json_pack("{s:s, s:s}", "error", code, "message", text);
}

void
rest_reply(struct rest *r, int status, json_t *j)
{
	struct evbuffer	*out = evhttp_request_get_output_buffer(r->req);
	char		*text = NULL;

	if (!r->gone) {
		evhttp_connection_set_closecb(evhttp_request_get_connection(
		    r->req), NULL, NULL);
		common_headers(r->req);
		if (status != 204 && j == NULL) {
			/* json_pack failed (invalid UTF-8 in a value): say so. */
			log_warnx("api: %s %s from %s: the %d answer could not be "
			    "encoded as JSON", method_name(r->cmd),
			    evhttp_request_get_uri(r->req), r->addr, status);
			j = error_body("internal", "the answer could not be "
			    "encoded as JSON; see the cloud's log", NULL);
		}
		if (status != 204 && j != NULL) {
			text = json_dumps(j, JSON_COMPACT);
			evhttp_add_header(evhttp_request_get_output_headers(
			    r->req), "Content-Type", "application/json");
			if (text != NULL)
				evbuffer_add_printf(out, "%s\n", text);
		}
		evhttp_send_reply(r->req, status, NULL, NULL);
	}
	free(text);
	json_decref(j);
	rest_free(r);
}

void
rest_reply_text(struct rest *r, int status, const char *text)
{
	if (!r->gone) {
		evhttp_connection_set_closecb(evhttp_request_get_connection(
		    r->req), NULL, NULL);
		common_headers(r->req);
		evhttp_add_header(evhttp_request_get_output_headers(r->req),
		    "Content-Type", "text/plain; charset=utf-8");
		evbuffer_add(evhttp_request_get_output_buffer(r->req), text,
		    strlen(text));
		evhttp_send_reply(r->req, status, NULL, NULL);
	}
	rest_free(r);
}

void
rest_fail(struct rest *r, int status, const char *code, const char *fmt, ...)
{
	char	 msg[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status >= 500)
		log_warnx("api: %s %s from %s: %d %s", method_name(r->cmd),
		    evhttp_request_get_uri(r->req), r->addr, status, msg);
	rest_reply(r, status, error_body(code, msg, NULL));
}

void
rest_store_fail(struct rest *r, int rc, const char *err)
{
	if (rc == UPLINK_ENOTFOUND)
		rest_fail(r, 404, "not-found", "%s", err);
	else if (rc == UPLINK_EEXIST)
		rest_fail(r, 409, "conflict", "%s", err);
	else if (rc == UPLINK_EINVAL)
		rest_fail(r, 409, "conflict", "%s", err);
	else if (rc == UPLINK_EUNAVAIL)
		rest_fail(r, 503, "unavailable", "the database is unavailable, "
		    "so nothing can be changed now; tunnels keep running; retry "
		    "later: %s", err);
	else
		rest_fail(r, 500, "internal", "the database failed: %s", err);
}

void
rest_reply_one(struct rest *r, int status, int rc, const char *err,
    json_t *one, json_t *extra, const char *missing)
{
	if (rc != UPLINK_OK || one == NULL) {
		json_decref(one);
		json_decref(extra);
		rest_store_fail(r, rc != UPLINK_OK ? rc : UPLINK_ENOTFOUND,
		    rc != UPLINK_OK ? err : missing);
		return;
	}
	if (extra != NULL)
		json_object_update(one, extra);
	json_decref(extra);
	rest_reply(r, status, one);
}

/* 401 with why, so the console can tell the administrator. */
static void
fail_auth(struct rest *r, const char *reason, const char *msg)
{
	rest_reply(r, 401, error_body("unauthenticated", msg, reason));
}

json_t *
rest_time(int64_t t)
{
	return t != 0 ? json_integer(t) : json_null();
}

const char *
rest_str(struct rest *r, const char *name)
{
	return json_string_value(json_object_get(r->body, name));
}

bool
rest_take_str(struct rest *r, const char *name, char *dst, size_t dstlen)
{
	const char	*v = rest_str(r, name);

	if (v == NULL)
		return true;
	if (strlen(v) >= dstlen) {
		rest_fail(r, 400, "bad-field", "%s is too long (at most %zu "
		    "characters)", name, dstlen - 1);
		return false;
	}
	snprintf(dst, dstlen, "%s", v);
	return true;
}

const char *
rest_query(struct rest *r, const char *name)
{
	return evhttp_find_header(&r->query, name);
}

bool
rest_query_int(struct rest *r, const char *name, int64_t lo, int64_t hi,
    int64_t def, int64_t *out)
{
	const char	*v = rest_query(r, name);
	char		*end;
	long long	 n;

	*out = def;
	if (v == NULL)
		return true;
	n = strtoll(v, &end, 10);
	if (*v == '\0' || *end != '\0' || n < lo || n > hi) {
		rest_fail(r, 400, "bad-field", "the query parameter %s must be "
		    "a whole number from %lld to %lld", name, (long long)lo,
		    (long long)hi);
		return false;
	}
	*out = n;
	return true;
}

bool
rest_path_id(struct rest *r, int i, const char *what, int64_t *id)
{
	if (i < r->nseg && input_id_parse(r->seg[i], REST_ID_MAX, id))
		return true;
	/* Not quoted back: out of range, it would read as another number. */
	rest_fail(r, 404, "not-found", "no such %s: an id is a whole number "
	    "from 1 to %lld", what, (long long)REST_ID_MAX);
	return false;
}

static bool
type_ok(json_t *v, char t)
{
	switch (t) {
	case 's':	return json_is_string(v);
	case 'i':	return json_is_integer(v);
	case 'b':	return json_is_boolean(v);
	case 'I':	return json_is_integer(v) || json_is_null(v);
	case 'a':	return json_is_array(v);
	case 'o':	return json_is_object(v);
	case 'j':	return true;
	default:	return false;
	}
}

static const char *
type_name(char t)
{
	switch (t) {
	case 's':	return "a string";
	case 'i':	return "an integer";
	case 'b':	return "true or false";
	case 'I':	return "an integer or null";
	case 'a':	return "an array";
	default:	return "an object";
	}
}

/* The spec of field name in fields, or NULL. */
static const char *
field_spec(const char *const *fields, const char *name)
{
	const char	*f, *colon;
	size_t		 i;

	for (i = 0; fields[i] != NULL; i++) {
		f = fields[i] + (fields[i][0] == '!');
		colon = strchr(f, ':');
		if ((size_t)(colon - f) == strlen(name) &&
		    strncmp(f, name, (size_t)(colon - f)) == 0)
			return fields[i];
	}
	return NULL;
}

bool
rest_fields(struct rest *r, const char *const *fields)
{
	const char	*key, *spec, *f;
	json_t		*v;
	size_t		 i, n;
	char		 list[256] = "";

	for (i = 0; fields[i] != NULL; i++) {
		f = fields[i] + (fields[i][0] == '!');
		n = strlen(list);
		snprintf(list + n, sizeof(list) - n, "%s%.*s", n ? ", " : "",
		    (int)(strchr(f, ':') - f), f);
	}
	json_object_foreach(r->body, key, v) {
		spec = field_spec(fields, key);
		if (spec == NULL) {
			rest_fail(r, 400, "unknown-field", "unknown field "
			    "\"%.64s\"; this endpoint takes: %s", key, list);
			return false;
		}
		if (!type_ok(v, strchr(spec, ':')[1])) {
			rest_fail(r, 400, "bad-field", "field \"%s\" must be "
			    "%s", key, type_name(strchr(spec, ':')[1]));
			return false;
		}
	}
	for (i = 0; fields[i] != NULL; i++) {
		if (fields[i][0] != '!')
			continue;
		f = fields[i] + 1;
		n = (size_t)(strchr(f, ':') - f);
		snprintf(list, sizeof(list), "%.*s", (int)n, f);
		if (json_object_get(r->body, list) == NULL) {
			rest_fail(r, 400, "missing-field", "field \"%s\" is "
			    "required", list);
			return false;
		}
	}
	return true;
}

static void
audit_add(struct cloud *c, const char *actor, const char *kind,
    const char *addr, const char *action, const char *target,
    const char *detail)
{
	struct store_audit	 a;
	char			 err[256];

	memset(&a, 0, sizeof(a));
	snprintf(a.actor, sizeof(a.actor), "%s", actor);
	snprintf(a.actor_kind, sizeof(a.actor_kind), "%s", kind);
	snprintf(a.address, sizeof(a.address), "%s", addr);
	snprintf(a.action, sizeof(a.action), "%s", action);
	snprintf(a.target, sizeof(a.target), "%s", target ? target : "");
	snprintf(a.detail, sizeof(a.detail), "%s", detail ? detail : "");
	if (store_audit_add(c->dd.st, &a, err, sizeof(err)) != 0)
		log_warnx("audit: cannot record %s by %s: %s", action, actor,
		    err);
}

void
rest_audit(struct rest *r, const char *action, const char *target,
    const char *fmt, ...)
{
	char	 detail[STORE_TEXT_MAX + 1];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	audit_add(r->c, r->actor, r->actor_kind, r->addr, action, target,
	    detail);
}

void
rest_audit_system(struct cloud *c, const char *action, const char *target,
    const char *detail)
{
	audit_add(c, "uplink-cloud", "system", "", action, target, detail);
}

/*
 * Splits the path after /api/v1/ into segments, each percent-decoded
 * exactly once. A segment that decodes to a NUL byte ("a%00b" would be
 * looked up as "a") or to bytes that are not UTF-8 is refused with 400
 * naming it; an empty segment or too many of them is 404 (no such
 * endpoint). false: answered.
 */
static bool
split_path(struct rest *r, const char *path)
{
	const char	*p = path + strlen(REST_PREFIX), *slash;
	char		 why[96];

	while (*p != '\0') {
		slash = strchr(p, '/');
		if (slash == NULL)
			slash = p + strlen(p);
		if (slash == p || r->nseg == REST_SEGS_MAX)
			goto notfound;
		r->seg[r->nseg] = input_segment_decode(p, (size_t)(slash - p),
		    why, sizeof(why));
		if (r->seg[r->nseg] == NULL) {
			if (why[0] == '\0')
				fatalx("out of memory");
			rest_fail(r, 400, "bad-path", "path segment %d "
			    "(\"%.*s\") is refused: %s", r->nseg + 1,
			    (int)(slash - p > 64 ? 64 : slash - p), p, why);
			return false;
		}
		r->nseg++;
		p = *slash == '/' ? slash + 1 : slash;
		if (*p == '\0' && *slash == '/')
			goto notfound;
	}
	if (r->nseg > 0)
		return true;
notfound:
	rest_fail(r, 404, "not-found", "no such endpoint: %.200s", path);
	return false;
}

static bool
route_match(const struct route *rt, const struct rest *r)
{
	const char	*p = rt->pattern, *end;
	int		 i;
	size_t		 n;

	for (i = 0; i < r->nseg; i++) {
		if (*p == '\0')
			return false;
		end = strchr(p, '/');
		n = end ? (size_t)(end - p) : strlen(p);
		if (!(n == 1 && *p == '*') && (strlen(r->seg[i]) != n ||
		    strncmp(p, r->seg[i], n) != 0))
			return false;
		p += n + (end != NULL);
	}
	return *p == '\0';
}

/* The value of cookie name in the Cookie header, or false. */
static bool
cookie_get(struct evhttp_request *req, const char *name, char *out,
    size_t outlen)
{
	const char	*h, *p, *end;
	size_t		 n = strlen(name);

	h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Cookie");
	for (p = h; p != NULL && *p != '\0'; p = end) {
		while (*p == ' ' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > n && strncmp(p, name, n) == 0 &&
		    p[n] == '=') {
			if ((size_t)(end - p) - n - 1 >= outlen)
				return false;
			snprintf(out, outlen, "%.*s", (int)(end - p - n - 1),
			    p + n + 1);
			return true;
		}
	}
	return false;
}

static bool
auth_key(struct rest *r, const char *hdr)
{
	struct store_apikey k;
	char	 id[APIKEY_ID_SIZE], err[256];
	unsigned char hash[APIKEY_HASH_LEN];
	int	 rc;

	if (strncasecmp(hdr, "Bearer ", 7) != 0) {
		fail_auth(r, "bad-key", "the Authorization header must be "
		    "\"Bearer uk_...\" with an API key");
		return false;
	}
	hdr += 7;
	rc = apikey_verify(r->c->dd.st, hdr, &k, err, sizeof(err));
	if (rc == UPLINK_EUNAVAIL) {
		rest_store_fail(r, rc, err);
		return false;
	}
	if (rc != 0) {
		fail_auth(r, "bad-key", err);
		return false;
	}
	if (!apikey_allows(k.scope, APIKEY_API_READ)) {
		rest_fail(r, 403, "wrong-scope", "API key %s has scope %s, "
		    "which does not open the API: use a key with scope full "
		    "or read", k.id, k.scope);
		return false;
	}
	apikey_parse(hdr, id, hash, err, sizeof(err));
	sodium_memzero(hash, sizeof(hash));
	r->auth = REST_AUTH_KEY;
	r->full = apikey_allows(k.scope, APIKEY_API_WRITE);
	snprintf(r->actor, sizeof(r->actor), "%s", id);
	snprintf(r->actor_kind, sizeof(r->actor_kind), "key");
	return true;
}

static bool
auth_session(struct rest *r, const char *secret)
{
	struct store_admin	 a;
	unsigned char		 hash[STORE_HASH_LEN];
	enum session_end	 end;
	char			 err[256];
	int			 rc, idle;

	crypto_hash_sha256(hash, (const unsigned char *)secret,
	    strlen(secret));
	rc = store_session_get(r->c->dd.st, hash, &r->sess, err, sizeof(err));
	if (rc == UPLINK_ENOTFOUND) {
		fail_auth(r, "signed-out", "this session has ended (signed "
		    "out, or its administrator changed or was removed): sign "
		    "in again");
		return false;
	}
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return false;
	}
	idle = session_idle_minutes(r->c);
	end = session_state(r->sess.created_at, r->sess.last_active, idle,
	    r->now);
	if (end != SESSION_LIVE) {
		store_session_delete(r->c->dd.st, hash, err, sizeof(err));
		if (end == SESSION_EXPIRED_ABSOLUTE)
			fail_auth(r, "expired-absolute", idle ? "your session "
			    "reached its 24-hour limit: sign in again" :
			    "your session reached its 72-hour limit: sign in "
			    "again");
		else {
			char	 msg[160];

			snprintf(msg, sizeof(msg), "your session ended after "
			    "%d minutes without activity: sign in again",
			    idle);
			fail_auth(r, "expired-idle", msg);
		}
		return false;
	}
	rc = store_admin_get(r->c->dd.st, r->sess.admin_id, &a, err,
	    sizeof(err));
	if (rc != UPLINK_OK) {
		fail_auth(r, "signed-out", "the administrator of this session "
		    "no longer exists");
		return false;
	}
	r->auth = REST_AUTH_SESSION;
	r->admin_id = a.id;
	r->full = strcmp(a.role, "full") == 0;
	snprintf(r->actor, sizeof(r->actor), "%s", a.email);
	snprintf(r->actor_kind, sizeof(r->actor_kind), "admin");
	return true;
}

/* Marks console activity, unless the console says it is a refresh. */
static void
session_activity(struct rest *r)
{
	const char	*bg;
	char		 err[256];

	bg = evhttp_find_header(evhttp_request_get_input_headers(r->req),
	    "X-Uplink-Background");
	if (bg != NULL && strcmp(bg, "1") == 0)
		return;
	if (r->sess.last_active == r->now)
		return;
	if (store_session_touch(r->c->dd.st, r->sess.hash, r->now, err,
	    sizeof(err)) != 0)
		log_warnx("api: cannot record console activity: %s", err);
	else
		r->sess.last_active = r->now;
}

static bool
changes_state(enum evhttp_cmd_type cmd)
{
	return cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD;
}

/* Authentication, CSRF and the read-only rule; false: answered. */
static bool
authorise(struct rest *r, const struct route *rt, X509 *cert)
{
	struct store_cert_owner	 owner;
	char			 why[320];
	const char		*hdr, *csrf;
	char			 secret[128];

	if (rt->flags & R_OPEN)
		return true;
	hdr = evhttp_find_header(evhttp_request_get_input_headers(r->req),
	    "Authorization");
	if (hdr != NULL) {
		if (!auth_key(r, hdr))
			return false;
	} else if (cookie_get(r->req, SESSION_COOKIE, secret, sizeof(secret))) {
		if (!auth_session(r, secret))
			return false;
		if (changes_state(r->cmd)) {
			csrf = evhttp_find_header(
			    evhttp_request_get_input_headers(r->req),
			    "X-CSRF-Token");
			if (csrf == NULL || strlen(csrf) != strlen(r->sess.csrf)
			    || sodium_memcmp(csrf, r->sess.csrf,
			    strlen(csrf)) != 0) {
				rest_fail(r, 403, "csrf", "this request "
				    "changes something and needs the "
				    "session's CSRF token in X-CSRF-Token "
				    "(reload the console)");
				return false;
			}
		}
		session_activity(r);
	} else if (cert != NULL && (rt->flags & R_CONNECTOR)) {
		if (cloud_cert_owner(r->c, cert, &owner, why, sizeof(why)) !=
		    0) {
			rest_fail(r, 403, "forbidden", "%s", why);
			return false;
		}
		r->auth = REST_AUTH_CONNECTOR;
		snprintf(r->actor, sizeof(r->actor), "%s", owner.connector_id);
		snprintf(r->actor_kind, sizeof(r->actor_kind), "connector");
		return true;
	} else {
		fail_auth(r, "missing", "sign in to the console, or send an "
		    "API key as \"Authorization: Bearer uk_...\"");
		return false;
	}
	if (changes_state(r->cmd) && !r->full && !(rt->flags & R_READ_OK)) {
		rest_fail(r, 403, "read-only", "%s %s is read-only and cannot "
		    "change anything; ask a full administrator", r->auth ==
		    REST_AUTH_KEY ? "the API key" : "administrator",
		    r->actor);
		return false;
	}
	return true;
}

/* Parses the JSON body of a request that has one; false: answered. */
static bool
read_body(struct rest *r)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(r->req);
	const char	*ct;
	size_t		 len = evbuffer_get_length(in);
	json_error_t	 jerr;

	if (r->cmd != EVHTTP_REQ_POST && r->cmd != EVHTTP_REQ_PUT &&
	    r->cmd != EVHTTP_REQ_PATCH)
		return true;
	if (len > REST_BODY_MAX) {
		rest_fail(r, 413, "too-large", "the body has %zu bytes; the "
		    "API takes at most %d", len, REST_BODY_MAX);
		return false;
	}
	if (len == 0 && r->cmd == EVHTTP_REQ_POST) {
		r->body = json_object();
		return true;
	}
	if (len == 0) {
		rest_fail(r, 400, "bad-json", "the request has no body; send a "
		    "JSON object");
		return false;
	}
	ct = evhttp_find_header(evhttp_request_get_input_headers(r->req),
	    "Content-Type");
	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
	    (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
		rest_fail(r, 415, "content-type", "send the body as JSON with "
		    "\"Content-Type: application/json\"");
		return false;
	}
	r->body = json_loadb((const char *)evbuffer_pullup(in, -1), len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (r->body == NULL) {
		if (jerr.line > 0)
			rest_fail(r, 400, "bad-json", "the body is not valid "
			    "JSON: %s (line %d, column %d)", jerr.text,
			    jerr.line, jerr.column);
		else
			rest_fail(r, 400, "bad-json", "the body is not valid "
			    "JSON: %s", jerr.text);
		return false;
	}
	if (!json_is_object(r->body)) {
		rest_fail(r, 400, "bad-json", "the body must be a JSON object "
		    "({...})");
		return false;
	}
	return true;
}

static void
gone_cb(struct evhttp_connection *evcon, void *arg)
{
	struct rest	*r = arg;

	(void)evcon;
	r->gone = true;
}

/* The console's files; "/" is index.html. */
static bool
console_serve(struct evhttp_request *req, const char *path)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	const char		*inm;
	size_t			 i;

	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (i = 0; i < console_nassets; i++)
		if (strcmp(console_assets[i].path, path) == 0)
			break;
	if (i == console_nassets)
		return false;
	evhttp_add_header(h, "Content-Type", console_assets[i].type);
	evhttp_add_header(h, "Content-Security-Policy", CSP);
	/* As common_headers(): a year, this host only (docs/console.md). */
	evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_add_header(h, "ETag", console_assets[i].etag);
	inm = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "If-None-Match");
	if (inm != NULL && strcmp(inm, console_assets[i].etag) == 0) {
		evhttp_send_reply(req, 304, "Not Modified", NULL);
		return true;
	}
	evbuffer_add_reference(evhttp_request_get_output_buffer(req),
	    console_assets[i].data, console_assets[i].len, NULL, NULL);
	evhttp_send_reply(req, 200, "OK", NULL);
	return true;
}

/* The address without its port: "192.0.2.1:443" -> "192.0.2.1". */
static void
peer_address(const char *peer, char *out, size_t outlen)
{
	const char	*colon;

	if (peer[0] == '[') {
		colon = strchr(peer, ']');
		snprintf(out, outlen, "%.*s", colon ? (int)(colon - peer - 1) :
		    0, peer + 1);
		return;
	}
	colon = strrchr(peer, ':');
	snprintf(out, outlen, "%.*s", colon ? (int)(colon - peer) :
	    (int)strlen(peer), peer);
}

void
rest_handle(struct cloud *c, struct evhttp_request *req, const char *peer,
    X509 *cert)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path = evhttp_uri_get_path(uri);
	const char		*q = evhttp_uri_get_query(uri);
	const struct route	*rt = NULL;
	struct rest		*r;
	bool			 path_known = false;
	size_t			 i;

	if (path == NULL)
		path = "/";
	/* Connector packages: public, no session (cloud/packages.c). */
	if (strncmp(path, "/packages/", 10) == 0) {
		packages_serve(c, req, path);
		return;
	}
	if (strncmp(path, REST_PREFIX, strlen(REST_PREFIX)) != 0) {
		if ((evhttp_request_get_command(req) == EVHTTP_REQ_GET ||
		    evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) &&
		    console_serve(req, path))
			return;
	}
	r = xcalloc(1, sizeof(*r));
	r->c = c;
	r->req = req;
	r->cmd = evhttp_request_get_command(req);
	r->now = time(NULL);
	TAILQ_INIT(&r->query);
	peer_address(peer, r->addr, sizeof(r->addr));
	if (strncmp(path, REST_PREFIX, strlen(REST_PREFIX)) != 0) {
		rest_fail(r, 404, "not-found", "no such page: the console is "
		    "at / and the API under /api/v1/ (docs/api.md)");
		return;
	}
	if (q != NULL && evhttp_parse_query_str(q, &r->query) != 0) {
		rest_fail(r, 400, "bad-field", "the query string is malformed");
		return;
	}
	if (!split_path(r, path))
		return;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!route_match(&routes[i], r))
			continue;
		path_known = true;
		if (routes[i].cmd == r->cmd || (r->cmd == EVHTTP_REQ_HEAD &&
		    routes[i].cmd == EVHTTP_REQ_GET)) {
			rt = &routes[i];
			break;
		}
	}
	if (rt == NULL) {
		if (path_known)
			rest_fail(r, 405, "method", "%s is not allowed on %.200s",
			    method_name(r->cmd), path);
		else
			rest_fail(r, 404, "not-found", "no such endpoint: "
			    "%.200s (docs/api.md lists them)", path);
		return;
	}
	if (!read_body(r) || !authorise(r, rt, cert))
		return;
	evhttp_connection_set_closecb(evhttp_request_get_connection(req),
	    gone_cb, r);
	rt->fn(r);
}
