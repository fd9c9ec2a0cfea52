#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>
#include <zxcvbn.h>

#include "apikey.h"
#include "daemon.h"
#include "ingress.h"
#include "log.h"
#include "rest.h"

/*
 * Administrators, API keys, notifications and the audit log
 * (docs/api.md).
 */

#define PASSWORD_MIN	12
#define PASSWORD_MAX	1024
/* zxcvbn's strongest score starts at 10^10 guesses, about 2^33.2. */
#define PASSWORD_MIN_BITS 34

static json_t *
admin_json(const struct store_admin *a)
{
	return json_pack("{s:I, s:s, s:s, s:I, s:o}", "id", (json_int_t)a->id,
	    "email", a->email, "role", a->role, "created_at",
	    (json_int_t)a->created_at, "last_sign_in",
	    rest_time(a->last_sign_in));
}

static int
admin_row_cb(void *arg, const struct store_admin *a)
{
	json_array_append_new(arg, admin_json(a));
	return 0;
}

void
rest_admins_list(struct rest *r)
{
	json_t	*arr = json_array();
	char	 err[256];
	int	 rc;

	rc = store_admin_list(r->c->dd.st, admin_row_cb, arr, err, sizeof(err));
	if (rc != UPLINK_OK) {
		json_decref(arr);
		rest_store_fail(r, rc, err);
		return;
	}
	rest_reply(r, 200, json_pack("{s:o}", "admins", arr));
}

/* Whether the password is one character repeated ("aaaaaaaaaaaa"). */
static bool
one_character(const char *pw)
{
	size_t	 i;

	for (i = 1; pw[i] != '\0'; i++)
		if (pw[i] != pw[0])
			return false;
	return true;
}

/*
 * The rules for a new password, with the reason a user sees: the length,
 * not one repeated character, not the e-mail address or text that
 * contains it, and at least PASSWORD_MIN_BITS of guessing work by
 * zxcvbn's estimate (Debian's libzxcvbn: dictionaries of common
 * passwords, names and words, keyboard walks, sequences, dates, and the
 * e-mail's parts as words of the user's own).
 */
bool
admin_password_check(const char *pw, const char *email, char *err,
    size_t errlen)
{
	char		 local[STORE_EMAIL_MAX + 1];
	const char	*dict[4];
	size_t		 n = strlen(pw);
	double		 bits;

	if (n < PASSWORD_MIN || n > PASSWORD_MAX) {
		snprintf(err, errlen, "the password must have at least %d "
		    "characters (and at most %d); a passphrase of several "
		    "words is easiest", PASSWORD_MIN, PASSWORD_MAX);
		return false;
	}
	if (one_character(pw)) {
		snprintf(err, errlen, "the password is one character "
		    "repeated; use a passphrase of several unrelated words");
		return false;
	}
	if (email != NULL && email[0] != '\0' && strcasestr(pw, email)) {
		snprintf(err, errlen, "the password contains the "
		    "administrator's e-mail address; use a passphrase of "
		    "several unrelated words");
		return false;
	}
	snprintf(local, sizeof(local), "%s", email != NULL ? email : "");
	local[strcspn(local, "@")] = '\0';
	dict[0] = email != NULL ? email : "";
	dict[1] = local;
	dict[2] = "uplink";
	dict[3] = NULL;
	bits = ZxcvbnMatch(pw, dict, NULL);
	if (bits < PASSWORD_MIN_BITS) {
		snprintf(err, errlen, "the password is too easy to guess (about "
		    "2^%.0f guesses by zxcvbn's estimate; at least 2^%d are "
		    "needed): common words, names, keyboard rows, sequences, "
		    "dates and the e-mail address count for little; add more "
		    "unrelated words", bits < 0 ? 0 : bits, PASSWORD_MIN_BITS);
		return false;
	}
	return true;
}

bool
admin_email_check(const char *email, char *err, size_t errlen)
{
	const char	*at = strchr(email, '@');
	size_t		 i;

	for (i = 0; email[i] != '\0'; i++)
		if ((unsigned char)email[i] <= ' ' || email[i] == 0x7f)
			break;
	if (email[i] == '\0' && at != NULL && at != email && at[1] != '\0' &&
	    strchr(at + 1, '@') == NULL && i <= STORE_EMAIL_MAX)
		return true;
	snprintf(err, errlen, "\"%.64s\" is not an e-mail address (NAME@DOMAIN, "
	    "at most %d characters, no spaces)", email, STORE_EMAIL_MAX);
	return false;
}

int
admin_hash(const char *pw, char out[STORE_PWHASH_MAX + 1])
{
	return crypto_pwhash_str(out, pw, strlen(pw),
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0 ? 0 : -1;
}

static bool
role_ok(struct rest *r, const char *role)
{
	if (role == NULL || strcmp(role, "full") == 0 ||
	    strcmp(role, "read") == 0)
		return true;
	rest_fail(r, 400, "bad-field", "role must be \"full\" or \"read\", not "
	    "\"%.32s\"", role);
	return false;
}

void
rest_admins_post(struct rest *r)
{
	static const char *const fields[] = { "!email:s", "!password:s",
	    "role:s", NULL };
	struct store_admin	 a;
	const char		*role = rest_str(r, "role");
	char			 err[256];
	int64_t			 id;
	int			 rc;

	if (!rest_fields(r, fields) || !role_ok(r, role))
		return;
	if (!admin_email_check(rest_str(r, "email"), err, sizeof(err))) {
		rest_fail(r, 400, "bad-field", "field \"email\": %s", err);
		return;
	}
	if (!admin_password_check(rest_str(r, "password"), rest_str(r,
	    "email"), err, sizeof(err))) {
		rest_fail(r, 400, "bad-field", "field \"password\": %s", err);
		return;
	}
	memset(&a, 0, sizeof(a));
	snprintf(a.email, sizeof(a.email), "%s", rest_str(r, "email"));
	snprintf(a.role, sizeof(a.role), "%s", role ? role : "full");
	if (admin_hash(rest_str(r, "password"), a.pwhash) != 0) {
		rest_fail(r, 500, "internal", "out of memory hashing the "
		    "password");
		return;
	}
	a.created_at = r->now;
	rc = store_admin_add(r->c->dd.st, &a, &id, err, sizeof(err));
	if (rc == UPLINK_OK)
		rc = store_admin_get(r->c->dd.st, id, &a, err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "admin.create", a.email, "role %s", a.role);
	rest_reply(r, 201, admin_json(&a));
}

/* The id in the path as a number; false: answered 404. */
static bool
path_id(struct rest *r, int64_t *id)
{
	return rest_path_id(r, 1, strcmp(r->seg[0], "admins") == 0 ?
	    "administrator" : "notification", id);
}

void
rest_admin_patch(struct rest *r)
{
	static const char *const fields[] = { "password:s", "role:s", NULL };
	struct store_admin	 a;
	const char		*role = rest_str(r, "role");
	const char		*pw = rest_str(r, "password");
	char			 err[256], hash[STORE_PWHASH_MAX + 1];
	int64_t			 id;
	int			 rc;

	if (!path_id(r, &id) || !rest_fields(r, fields) || !role_ok(r, role))
		return;
	if (pw != NULL) {
		rc = store_admin_get(r->c->dd.st, id, &a, err, sizeof(err));
		if (rc != UPLINK_OK) {
			rest_store_fail(r, rc, err);
			return;
		}
		if (!admin_password_check(pw, a.email, err, sizeof(err))) {
			rest_fail(r, 400, "bad-field", "field \"password\": %s",
			    err);
			return;
		}
	}
	if (pw != NULL && admin_hash(pw, hash) != 0) {
		rest_fail(r, 500, "internal", "out of memory hashing the "
		    "password");
		return;
	}
	/* A new password ends the other sessions, not the one changing it. */
	rc = store_admin_update(r->c->dd.st, id, role, pw ? hash : NULL,
	    r->auth == REST_AUTH_SESSION && r->admin_id == id ? r->sess.hash :
	    NULL, err, sizeof(err));
	if (rc == UPLINK_OK)
		rc = store_admin_get(r->c->dd.st, id, &a, err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "admin.update", a.email, "%s%s%s", role ? "role " : "",
	    role ? role : "", pw ? (role ? ", password" : "password") : "");
	rest_reply(r, 200, admin_json(&a));
}

void
rest_admin_delete(struct rest *r)
{
	struct store_admin	 a;
	char			 err[256];
	int64_t			 id;
	int			 rc;

	if (!path_id(r, &id))
		return;
	rc = store_admin_get(r->c->dd.st, id, &a, err, sizeof(err));
	if (rc == UPLINK_OK)
		rc = store_admin_delete(r->c->dd.st, id, err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "admin.delete", a.email, "removed");
	rest_reply(r, 204, NULL);
}

/* ---- API keys */

struct key_find {
	const char	*id;
	json_t		*arr, *one;
};

static int
key_row_cb(void *arg, const struct store_apikey *k)
{
	struct key_find	*f = arg;

	if (f->id == NULL)
		json_array_append_new(f->arr, apikey_json(k));
	else if (strcmp(f->id, k->id) == 0)
		f->one = apikey_json(k);
	return 0;
}

void
rest_keys_list(struct rest *r)
{
	struct key_find	 f = { NULL, json_array(), NULL };
	char		 err[256];
	int		 rc;

	rc = store_apikey_list(r->c->dd.st, key_row_cb, &f, err, sizeof(err));
	if (rc != UPLINK_OK) {
		json_decref(f.arr);
		rest_store_fail(r, rc, err);
		return;
	}
	rest_reply(r, 200, json_pack("{s:o}", "keys", f.arr));
}

static void
reply_key(struct rest *r, int status, const char *id, json_t *extra)
{
	struct key_find	 f = { id, NULL, NULL };
	char		 err[256];
	int		 rc;

	rc = store_apikey_list(r->c->dd.st, key_row_cb, &f, err, sizeof(err));
	rest_reply_one(r, status, rc, err, f.one, extra, "no such API key");
}

/* The body's "sites" array as "hq,branch"; false after a 400. */
static bool
key_sites_arg(struct rest *r, char *out, size_t outlen)
{
	json_t	*a = json_object_get(r->body, "sites"), *v;
	size_t	 i, n = 0;

	out[0] = '\0';
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || strchr(json_string_value(v), ',') !=
		    NULL || i >= APIKEY_SITES_MAX) {
			rest_fail(r, 400, "bad-field", "sites must be an array "
			    "of at most %d site names", APIKEY_SITES_MAX);
			return false;
		}
		n += (size_t)snprintf(out + n, outlen - n, "%s%s", i ? "," : "",
		    json_string_value(v));
		if (n >= outlen) {
			rest_fail(r, 400, "bad-field", "sites: too long");
			return false;
		}
	}
	return true;
}

void
rest_keys_post(struct rest *r)
{
	static const char *const fields[] = { "!name:s", "scope:s", "sites:a",
	    NULL };
	struct store_apikey	 k;
	const char		*scope = rest_str(r, "scope");
	char			 text[APIKEY_TEXT_SIZE], err[256];
	char			 sites[STORE_KEY_SITES_SIZE + 64];
	int			 rc;

	if (!rest_fields(r, fields) || !key_sites_arg(r, sites, sizeof(sites)))
		return;
	memset(&k, 0, sizeof(k));
	rc = apikey_prepare(r->c->dd.st, &k, rest_str(r, "name"), scope ?
	    scope : "full", sites, err, sizeof(err));
	if (rc == UPLINK_EINVAL) {
		rest_fail(r, 400, "bad-field", "%s", err);
		return;
	}
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	apikey_new(text, k.id, k.secret_hash);
	k.created_at = r->now;
	rc = store_apikey_add(r->c->dd.st, &k, err, sizeof(err));
	if (rc != UPLINK_OK) {
		sodium_memzero(text, sizeof(text));
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "key.create", k.id, "\"%s\", scope %s%s%s", k.name,
	    k.scope, k.sites[0] ? ", sites " : "", k.sites);
	reply_key(r, 201, k.id, json_pack("{s:s}", "key", text));
	sodium_memzero(text, sizeof(text));
}

void
rest_key_revoke(struct rest *r)
{
	char	 err[256];
	int	 rc;

	rc = store_apikey_revoke(r->c->dd.st, r->seg[1], r->now, err,
	    sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "key.revoke", r->seg[1], "revoked");
	ingress_sweep_revoked(r->c->ingress);
	reply_key(r, 200, r->seg[1], NULL);
}

/* ---- notifications */

static int
note_row_cb(void *arg, const struct store_note *n)
{
	json_array_append_new(arg, json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, "
	    "s:o, s:o}", "id", (json_int_t)n->id, "kind", n->kind, "severity",
	    n->severity, "subject", n->subject, "message", n->message,
	    "created_at", (json_int_t)n->created_at, "resolved_at",
	    rest_time(n->resolved_at), "read_at", rest_time(n->read_at)));
	return 0;
}

/*
 * Adds subject_name: a connector's name for a connector id (after the
 * walk: its callback may not call back into the store), else the subject.
 */
static void
notes_subject_names(struct rest *r, json_t *arr)
{
	struct store_connector	 sc;
	const char		*subj;
	json_t			*n;
	char			 err[256];
	size_t			 i;

	json_array_foreach(arr, i, n) {
		subj = json_string_value(json_object_get(n, "subject"));
		if (subj == NULL)
			continue;
		if (strncmp(subj, "c-", 2) == 0 && store_connector_get(
		    r->c->dd.st, subj, &sc, err, sizeof(err)) == UPLINK_OK)
			json_object_set_new(n, "subject_name",
			    json_string(sc.name));
		else
			json_object_set_new(n, "subject_name",
			    json_string(subj));
	}
}

void
rest_notes_list(struct rest *r)
{
	json_t		*arr;
	const char	*unread = rest_query(r, "unread");
	char		 err[256];
	int64_t		 limit, n = 0;
	int		 rc;

	if (!rest_query_int(r, "limit", 1, 500, 100, &limit))
		return;
	arr = json_array();
	rc = store_note_list(r->c->dd.st, r->admin_id, unread != NULL &&
	    strcmp(unread, "1") == 0, (int)limit, note_row_cb, arr, err,
	    sizeof(err));
	if (rc == UPLINK_OK)
		rc = store_note_unread(r->c->dd.st, r->admin_id, &n, err,
		    sizeof(err));
	if (rc != UPLINK_OK) {
		json_decref(arr);
		rest_store_fail(r, rc, err);
		return;
	}
	notes_subject_names(r, arr);
	rest_reply(r, 200, json_pack("{s:I, s:o}", "unread", (json_int_t)n,
	    "notifications", arr));
}

static void
notes_read(struct rest *r, int64_t id)
{
	char	 err[256];
	int64_t	 n = 0;
	int	 rc;

	/*
	 * The route lets read-only callers through: an administrator's
	 * marks are their own. API keys share one read state, which a
	 * read-only key may not change.
	 */
	if (!r->full && r->admin_id == 0) {
		rest_fail(r, 403, "read-only", "the API key %s is read-only; "
		    "API keys share one read state, which only a full key may "
		    "change", r->actor);
		return;
	}
	rc = store_note_read(r->c->dd.st, r->admin_id, id, r->now, err,
	    sizeof(err));
	if (rc == UPLINK_OK)
		rc = store_note_unread(r->c->dd.st, r->admin_id, &n, err,
		    sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	rest_reply(r, 200, json_pack("{s:I}", "unread", (json_int_t)n));
}

void
rest_note_read(struct rest *r)
{
	int64_t	 id;

	if (path_id(r, &id))
		notes_read(r, id);
}

void
rest_notes_read_all(struct rest *r)
{
	notes_read(r, 0);
}

/* ---- audit log */

static int
audit_row_cb(void *arg, const struct store_audit *a)
{
	json_array_append_new(arg, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, "
	    "s:s, s:s}", "id", (json_int_t)a->id, "at", (json_int_t)a->at,
	    "actor", a->actor, "actor_kind", a->actor_kind, "address",
	    a->address, "action", a->action, "target", a->target, "detail",
	    a->detail));
	return 0;
}

void
rest_audit_list(struct rest *r)
{
	json_t	*arr;
	char	 err[256];
	int64_t	 limit, before;
	int	 rc;

	if (!rest_query_int(r, "limit", 1, 1000, 100, &limit) ||
	    !rest_query_int(r, "before", 0, INT64_MAX, 0, &before))
		return;
	arr = json_array();
	rc = store_audit_list(r->c->dd.st, before, (int)limit, audit_row_cb,
	    arr, err, sizeof(err));
	if (rc != UPLINK_OK) {
		json_decref(arr);
		rest_store_fail(r, rc, err);
		return;
	}
	rest_reply(r, 200, json_pack("{s:o}", "entries", arr));
}
