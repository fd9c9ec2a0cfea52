#ifndef UPLINK_CLOUD_REST_H
#define UPLINK_CLOUD_REST_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/x509.h>

#include "error.h"
#include "session.h"
#include "store.h"

/*
 * The management API (/api/v1/, docs/api.md) and the web console's files,
 * served on the TLS listener. cloud/rest.c parses a request, finds its
 * route, authenticates it (API key or console session), checks CSRF and
 * permissions, and hands it to a handler: cloud/rest_session.c (sign-in,
 * settings), cloud/rest_sites.c (sites, connectors, tokens, checks),
 * cloud/rest_admin.c (administrators, keys, notifications, audit) and
 * cloud/rest_services.c (published services, required addresses).
 *
 * A handler answers exactly once, with rest_reply() or rest_fail(), either
 * before it returns or later (an asynchronous handler keeps the request;
 * rest_gone() tells it the client left).
 */

struct cloud;

#define REST_BODY_MAX		(64 * 1024)
#define REST_SEGS_MAX		6
/* Ids in paths: up to 2^53 - 1, what a JSON number holds exactly. */
#define REST_ID_MAX		INT64_C(9007199254740991)

enum rest_auth {
	REST_AUTH_NONE,		/* the route needs none (signing in) */
	REST_AUTH_KEY,		/* Authorization: Bearer uk_... */
	REST_AUTH_SESSION,	/* the console's cookie */
	REST_AUTH_CONNECTOR,	/* a connector's client certificate */
};

struct rest {
	struct cloud		*c;
	struct evhttp_request	*req;
	enum evhttp_cmd_type	 cmd;
	char			*seg[REST_SEGS_MAX];	/* after /api/v1/ */
	int			 nseg;
	struct evkeyvalq	 query;
	json_t			*body;		/* parsed, for POST/PUT/PATCH */
	char			 addr[64];	/* the client, without port */
	int64_t			 now;
	bool			 gone;		/* the client went away */
	/* Who is asking. */
	enum rest_auth		 auth;
	bool			 full;		/* may change things */
	char			 actor[STORE_EMAIL_MAX + 1];
	char			 actor_kind[8];	/* "admin", "key", "connector" */
	int64_t			 admin_id;	/* 0 unless a session */
	struct store_session	 sess;		/* valid with REST_AUTH_SESSION */
};

/* Handles one HTTPS request that is not enrollment or renewal. */
void rest_handle(struct cloud *c, struct evhttp_request *req,
    const char *peer, X509 *cert);

/* Answers with JSON (status 204: no body); takes j (may be NULL). */
void rest_reply(struct rest *r, int status, json_t *j);
/* Answers {"error": code, "message": ...}. */
void rest_fail(struct rest *r, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* 500 with the store's message. */
void rest_store_fail(struct rest *r, int rc, const char *err);
/*
 * Answers one object found by a list (taking it and extra, whose fields
 * are added): the store's failure when rc is not UPLINK_OK, 404 with
 * missing when one is NULL.
 */
void rest_reply_one(struct rest *r, int status, int rc, const char *err,
    json_t *one, json_t *extra, const char *missing);
/* Plain text answer (requirements as text). */
void rest_reply_text(struct rest *r, int status, const char *text);

/*
 * Checks r->body against fields: a NULL-terminated list of "name:T" where
 * T is s (string), i (integer), b (boolean), I (integer or null), a
 * (array), o (object), j (anything: the handler checks), and a leading '!' marks a required field. Unknown
 * fields, wrong types and missing required ones are answered 400 here;
 * returns false then.
 */
bool rest_fields(struct rest *r, const char *const *fields);
/* A string field, or NULL when absent. */
const char *rest_str(struct rest *r, const char *name);
/*
 * A string field copied into dst when present (dst untouched when absent);
 * false when longer than dstlen - 1, answered 400 bad-field then.
 */
bool rest_take_str(struct rest *r, const char *name, char *dst,
    size_t dstlen);
/* A query parameter, or NULL. */
const char *rest_query(struct rest *r, const char *name);
/* An integer query parameter within lo..hi, def when absent; false: 400. */
bool rest_query_int(struct rest *r, const char *name, int64_t lo, int64_t hi,
    int64_t def, int64_t *out);
/*
 * The id in path segment i (1 to REST_ID_MAX, digits only); false: answered
 * 404 naming what ("administrator"), without quoting the text back.
 */
bool rest_path_id(struct rest *r, int i, const char *what, int64_t *id);

/* Records an action in the audit log (a failure is logged, not fatal). */
void rest_audit(struct rest *r, const char *action, const char *target,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The same for an actor that is not a request (the daemon itself). */
void rest_audit_system(struct cloud *c, const char *action,
    const char *target, const char *detail);

/* A Unix time for JSON: an integer, or null for 0. */
json_t *rest_time(int64_t t);

/* Handlers, by file. */
void rest_session_post(struct rest *r);
void rest_session_get(struct rest *r);
void rest_session_delete(struct rest *r);
void rest_session_password(struct rest *r);
void rest_settings_get(struct rest *r);
void rest_settings_patch(struct rest *r);

void rest_sites_list(struct rest *r);
void rest_sites_post(struct rest *r);
void rest_site_get(struct rest *r);
void rest_site_patch(struct rest *r);
void rest_site_delete(struct rest *r);
void rest_connector_patch(struct rest *r);
void rest_connector_delete(struct rest *r);
void rest_connectors_list(struct rest *r);
void rest_connector_get(struct rest *r);
void rest_connector_revoke(struct rest *r);
void rest_connector_drain(struct rest *r);
void rest_connector_resume(struct rest *r);
void rest_connector_check(struct rest *r);
void rest_connector_checks(struct rest *r);
void rest_tokens_list(struct rest *r);

void rest_connector_logs(struct rest *r);
void rest_connector_events(struct rest *r);
void rest_site_events(struct rest *r);
void rest_tokens_post(struct rest *r);
void rest_token_revoke(struct rest *r);

void rest_admins_list(struct rest *r);
void rest_admins_post(struct rest *r);
void rest_admin_patch(struct rest *r);
void rest_admin_delete(struct rest *r);
void rest_keys_list(struct rest *r);
void rest_keys_post(struct rest *r);
void rest_key_revoke(struct rest *r);
void rest_notes_list(struct rest *r);
void rest_note_read(struct rest *r);
void rest_notes_read_all(struct rest *r);
void rest_audit_list(struct rest *r);

void rest_services_list(struct rest *r);
void rest_services_post(struct rest *r);
void rest_service_get(struct rest *r);
void rest_service_patch(struct rest *r);
void rest_service_delete(struct rest *r);
void rest_requirements_get(struct rest *r);
void rest_requirement_put(struct rest *r);
void rest_requirement_delete(struct rest *r);
/* cloud/rest_cluster.c */
void rest_cluster_get(struct rest *r);
struct cluster_instance;
/* Whether connectors are offered ci: it has a tunnel_name of its own. */
bool cluster_offered(struct cloud *c, const struct cluster_instance *ci);
/* Appends the required-address rows of the offered instances to addrs. */
void cluster_requirements(struct cloud *c, json_t *addrs);

void rest_channels_list(struct rest *r);
void rest_channels_post(struct rest *r);
void rest_channel_get(struct rest *r);
void rest_channel_patch(struct rest *r);
void rest_channel_delete(struct rest *r);
void rest_channel_test(struct rest *r);
void rest_channel_deliveries(struct rest *r);
void rest_rules_list(struct rest *r);
void rest_rules_post(struct rest *r);
void rest_rule_patch(struct rest *r);
void rest_rule_delete(struct rest *r);
void rest_instances_list(struct rest *r);	/* cloud/rest_cluster.c */

/*
 * Administrators' e-mail and password rules, shared with the CLI. A
 * password is refused, with the reason in err, when it is shorter than 12
 * or longer than 1024 characters, one character repeated, contains the
 * e-mail address (may be NULL), or zxcvbn estimates fewer than 2^34
 * guesses for it.
 */
bool admin_email_check(const char *email, char *err, size_t errlen);
bool admin_password_check(const char *pw, const char *email, char *err,
    size_t errlen);
/* argon2id (libsodium's crypto_pwhash_str); -1 when out of memory. */
int admin_hash(const char *pw, char out[STORE_PWHASH_MAX + 1]);

/* The console inactivity timeout in minutes (0: disabled). */
int session_idle_minutes(struct cloud *c);

/* cloud/rest_history.c */
void rest_history(struct rest *r);
void rest_connector_history(struct rest *r);
void rest_site_history(struct rest *r);

#endif
