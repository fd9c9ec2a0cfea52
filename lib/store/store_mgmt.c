/*
 * The management plane's rows, part of the cloud database (lib/store.h):
 * the list of sites, a connector's drained flag, services published
 * through the API, extra catalog requirements, connectivity check
 * results, notifications and the audit log. Administrators and console
 * sessions are in lib/store_admin.c. The helpers both files share come
 * first.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "catalog.h"
#include "error.h"
#include "input.h"
#include "store.h"
#include "store_impl.h"

/*
 * Checks free text that is stored and later shown (messages, actors,
 * subjects): at most max bytes of UTF-8 on one line, without control
 * characters, so it breaks neither a log line nor the API's JSON (jansson
 * refuses text that is not UTF-8). Only the valid part before a bad byte
 * is quoted back.
 */
bool
store_line_check(const char *what, const char *s, size_t max, bool empty_ok,
    char *err, size_t errlen)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 len = strlen(s), i = 0, n;

	if (len > max || (len == 0 && !empty_ok)) {
		store_msg(0, err, errlen, "%s has %zu bytes; use %s%zu", what,
		    len, empty_ok ? "at most " : "1 to ", max);
		return false;
	}
	while (i < len) {
		n = p[i] >= 0x20 && p[i] != 0x7f ? input_utf8_char(p + i, len - i) : 0;
		if (n == 0) {
			store_msg(0, err, errlen, "%s \"%.*s...\": byte 0x%02x "
			    "at position %zu is a control character or not "
			    "UTF-8; use text on one line", what, (int)i, s,
			    p[i], i + 1);
			return false;
		}
		i += n;
	}
	return true;
}

/*
 * Runs a prepared write whose parameters were bound with the result bind
 * (the OR of the bind calls), and finalizes it. A taken unique key is
 * UPLINK_EEXIST with "WHAT: DUP", a missing parent row UPLINK_ENOTFOUND
 * with "WHAT: MISSING", when the caller gives those texts. Callers read
 * db_changes() afterwards.
 */
int
store_write(struct store *st, struct db_stmt *stmt, int bind, const char *what,
    const char *dup, const char *missing, char *err, size_t errlen)
{
	int	 rc = UPLINK_OK;

	if (bind != DB_OK)
		rc = store_sqlfail(st, err, errlen, "%s", what);
	else if (db_step(stmt) != DB_DONE) {
		switch (db_errcode(st->db)) {
		case DB_E_UNIQUE:
			if (dup != NULL) {
				rc = store_msg(UPLINK_EEXIST, err, errlen,
				    "%s: %s", what, dup);
				break;
			}
			rc = store_sqlfail(st, err, errlen, "%s", what);
			break;
		case DB_E_FOREIGN:
			if (missing != NULL) {
				rc = store_msg(UPLINK_ENOTFOUND, err, errlen,
				    "%s: %s", what, missing);
				break;
			}
			rc = store_sqlfail(st, err, errlen, "%s", what);
			break;
		default:
			rc = store_sqlfail(st, err, errlen, "%s", what);
		}
	}
	db_finalize(stmt);
	return rc;
}

/* Binds, then walks a list query; finalizes stmt in every case. */
static int
store_list(struct store *st, struct db_stmt *stmt, int bind,
    int (*row)(struct db_stmt *, void *), struct store_cb *cb,
    const char *what, char *err, size_t errlen)
{
	if (bind != DB_OK) {
		db_finalize(stmt);
		return store_sqlfail(st, err, errlen, "%s", what);
	}
	return store_walk(st, stmt, row, cb, what, err, errlen);
}

static int
store_limit_check(const char *what, int limit, int max, char *err,
    size_t errlen)
{
	if (limit >= 1 && limit <= max)
		return UPLINK_OK;
	return store_msg(UPLINK_EINVAL, err, errlen, "%s: a limit of %d is "
	    "out of range; use 1 to %d", what, limit, max);
}

/* Whether s is 1 to max of the bytes in set, starting with a letter. */
static bool
store_word_check(const char *what, const char *s, size_t max,
    const char *set, char *err, size_t errlen)
{
	size_t	 len = strlen(s);

	if (len >= 1 && len <= max && s[0] >= 'a' && s[0] <= 'z' &&
	    strspn(s, set) == len)
		return true;
	if (store_text_check(what, s, max, false, NULL, 0))
		store_msg(0, err, errlen, "%s \"%s\" is not 1 to %zu of "
		    "\"%s\", starting with a letter", what, s, max, set);
	else
		store_msg(0, err, errlen, "%s must be 1 to %zu of \"%s\", "
		    "starting with a letter", what, max, set);
	return false;
}

#define STORE_LOWER	"abcdefghijklmnopqrstuvwxyz"
#define STORE_WORD	STORE_LOWER "0123456789-"

/* ---- sites and the drained flag ---- */

static int
store_site_row(struct db_stmt *stmt, void *arg)
{
	struct store_cb		*cb = arg;
	struct store_site	 s;

	memset(&s, 0, sizeof(s));
	s.id = db_column_int64(stmt, 0);
	store_column(stmt, 1, s.name, sizeof(s.name));
	s.created_at = db_column_int64(stmt, 2);
	return cb->fn.site(cb->arg, &s);
}

int
store_site_list(struct store *st, store_site_cb fn, void *arg, char *err,
    size_t errlen)
{
	struct store_cb	 cb = { .fn.site = fn, .arg = arg };
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, "SELECT id, name, created_at FROM sites "
	    "ORDER BY name, id", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_walk(st, stmt, store_site_row, &cb, "listing sites",
	    err, errlen);
}

int
store_connector_set_drained(struct store *st, const char *id, bool drained,
    char *err, size_t errlen)
{
	int	 rc;

	if (!store_text_check("connector id", id, STORE_ID_MAX, false, err,
	    errlen))
		return UPLINK_EINVAL;
	rc = store_update(st, "UPDATE connectors SET drained = ?2 WHERE "
	    "id = ?1", id, drained ? 1 : 0, NULL, drained ? "draining "
	    "connector" : "resuming connector", err, errlen);
	if (rc == UPLINK_ENOTFOUND)
		rc = store_msg(rc, err, errlen, "no connector has the id "
		    "\"%s\"", id);
	return rc;
}

/* ---- services ---- */

/* HOST:PORT with a port from 1 to 65535; the caller checks the host. */
static bool
store_hostport_check(const char *what, const char *s, char *err,
    size_t errlen)
{
	const char	*colon;
	char		*end;
	unsigned long	 port;

	if (!store_text_check(what, s, STORE_TARGET_MAX, false, err, errlen))
		return false;
	colon = strrchr(s, ':');
	if (colon != NULL && colon != s && colon[1] >= '0' &&
	    colon[1] <= '9') {
		port = strtoul(colon + 1, &end, 10);
		if (*end == '\0' && port >= 1 && port <= 65535)
			return true;
	}
	store_msg(0, err, errlen, "%s \"%s\" is not HOST:PORT with a port "
	    "from 1 to 65535", what, s);
	return false;
}

static int
store_service_check(const struct store_service *s, char *err, size_t errlen)
{
	if (!store_name_check("service name", s->name, err, errlen) ||
	    !store_name_check("site name", s->site, err, errlen) ||
	    !store_hostport_check("service target", s->target, err, errlen) ||
	    !store_hostport_check("service listen address", s->listen, err,
	    errlen))
		return UPLINK_EINVAL;
	return UPLINK_OK;
}

static int
store_no_service(const char *name, char *err, size_t errlen)
{
	return store_msg(UPLINK_ENOTFOUND, err, errlen, "no service is called "
	    "\"%s\"", name);
}

/* Inserts or updates the row, in the caller's transaction. */
static int
store_service_write(struct store *st, const struct store_service *s,
    int64_t site_id, bool create, int64_t now, const char *what, char *err,
    size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, create ? "INSERT INTO services(name, site_id, "
	    "target, listen, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, "
	    "?5, ?5)" : "UPDATE services SET site_id = ?2, target = ?3, "
	    "listen = ?4, updated_at = ?5 WHERE name = ?1", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = store_write(st, stmt, store_str(stmt, 1, s->name) |
	    db_bind_int64(stmt, 2, site_id) | store_str(stmt, 3,
	    s->target) | store_str(stmt, 4, s->listen) |
	    db_bind_int64(stmt, 5, now), what, "a service with this "
	    "name exists already; choose another name or change that service",
	    NULL, err, errlen);
	if (rc == UPLINK_OK && !create && db_changes(st->db) == 0)
		rc = store_no_service(s->name, err, errlen);
	return rc;
}

int
store_service_put(struct store *st, const struct store_service *s,
    bool create, int64_t now, char *err, size_t errlen)
{
	char	 what[96];
	int64_t	 site_id;
	int	 rc;

	rc = store_service_check(s, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	snprintf(what, sizeof(what), "%s service \"%s\"", create ? "adding" :
	    "changing", s->name);
	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK) {
		rc = store_site_find(st, s->site, &site_id, err, errlen);
		if (rc == UPLINK_ENOTFOUND)
			store_msg(rc, err, errlen, "%s: no site is called "
			    "\"%s\"; see GET /api/v1/sites", what, s->site);
	}
	if (rc == UPLINK_OK)
		rc = store_service_write(st, s, site_id, create, now, what,
		    err, errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	store_rollback(st);
	return rc;
}

#define STORE_SERVICE_SELECT \
	"SELECT v.name, s.name, v.target, v.listen, v.created_at, " \
	"v.updated_at FROM services v JOIN sites s ON s.id = v.site_id"

static void
store_service_read(struct db_stmt *stmt, void *arg)
{
	struct store_service	*s = arg;

	memset(s, 0, sizeof(*s));
	store_column(stmt, 0, s->name, sizeof(s->name));
	store_column(stmt, 1, s->site, sizeof(s->site));
	store_column(stmt, 2, s->target, sizeof(s->target));
	store_column(stmt, 3, s->listen, sizeof(s->listen));
	s->created_at = db_column_int64(stmt, 4);
	s->updated_at = db_column_int64(stmt, 5);
}

int
store_service_get(struct store *st, const char *name,
    struct store_service *out, char *err, size_t errlen)
{
	int	 rc;

	if (!store_name_check("service name", name, err, errlen))
		return UPLINK_EINVAL;
	rc = store_get_one(st, STORE_SERVICE_SELECT " WHERE v.name = ?1",
	    name, store_service_read, out, "reading a service", err, errlen);
	if (rc == UPLINK_ENOTFOUND)
		rc = store_no_service(name, err, errlen);
	return rc;
}

int
store_service_delete(struct store *st, const char *name, char *err,
    size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	if (!store_name_check("service name", name, err, errlen))
		return UPLINK_EINVAL;
	rc = store_prepare(st, "DELETE FROM services WHERE name = ?1", &stmt,
	    err, errlen);
	if (rc == UPLINK_OK)
		rc = store_write(st, stmt, store_str(stmt, 1, name),
		    "removing a service", NULL, NULL, err, errlen);
	if (rc == UPLINK_OK && db_changes(st->db) == 0)
		rc = store_no_service(name, err, errlen);
	return rc;
}

static int
store_service_row(struct db_stmt *stmt, void *arg)
{
	struct store_cb		*cb = arg;
	struct store_service	 s;

	store_service_read(stmt, &s);
	return cb->fn.service(cb->arg, &s);
}

int
store_service_list(struct store *st, store_service_cb fn, void *arg,
    char *err, size_t errlen)
{
	struct store_cb	 cb = { .fn.service = fn, .arg = arg };
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, STORE_SERVICE_SELECT " ORDER BY v.name",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_walk(st, stmt, store_service_row, &cb,
	    "listing services", err, errlen);
}

/* ---- requirements ---- */

/*
 * Walks a JSON value for a text that holds a line break or control
 * character (and, for a "path" member, a space or a byte that is not
 * ASCII). where gets the member's place ("addresses[0].path").
 */
static const char *
store_json_bad_text(json_t *v, bool path, char *where, size_t wlen)
{
	const char	*key, *bad;
	json_t		*m;
	size_t		 i, at, n = strlen(where);

	if (json_is_string(v))
		return catalog_text_invalid(json_string_value(v),
		    json_string_length(v), path, &at);
	json_object_foreach(v, key, m) {
		snprintf(where + n, wlen - n, "%s%s", n ? "." : "", key);
		bad = catalog_text_invalid(key, strlen(key), false, &at);
		if (bad != NULL)
			where[n] = '\0';	/* never quote the bad key */
		if (bad == NULL)
			bad = store_json_bad_text(m, strcmp(key, "path") == 0,
			    where, wlen);
		if (bad != NULL)
			return bad;
	}
	json_array_foreach(v, i, m) {
		snprintf(where + n, wlen - n, "[%zu]", i);
		bad = store_json_bad_text(m, false, where, wlen);
		if (bad != NULL)
			return bad;
	}
	where[n] = '\0';
	return NULL;
}

/*
 * What the API checks (the whole catalog grammar, docs/catalog.md) is
 * checked here only for what would do harm whoever calls the store: the
 * JSON must parse, and no text in it may hold a line break or control
 * character that would end up in the firewall list of GET
 * /api/v1/requirements?format=text or in a connector's request line.
 */
static int
store_requirement_valid(const char *name, const char *json, size_t len,
    char *err, size_t errlen)
{
	json_error_t	 jerr;
	json_t		*root;
	const char	*bad;
	char		 where[256] = "";

	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return store_msg(UPLINK_EINVAL, err, errlen, "requirement "
		    "\"%s\": not valid JSON: %s", name, jerr.text);
	bad = store_json_bad_text(root, false, where, sizeof(where));
	json_decref(root);
	if (bad != NULL)
		return store_msg(UPLINK_EINVAL, err, errlen, "requirement "
		    "\"%s\": %s holds %s; write every text on one line without "
		    "control characters (and percent-encode a path)", name,
		    where[0] ? where : "the JSON", bad);
	return UPLINK_OK;
}

int
store_requirement_put(struct store *st, const char *name, const char *json,
    int64_t now, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	size_t		 len = strlen(json);
	int		 rc;

	if (!store_name_check("requirement name", name, err, errlen))
		return UPLINK_EINVAL;
	if (len == 0 || len > STORE_REQUIREMENT_MAX)
		return store_msg(UPLINK_EINVAL, err, errlen, "requirement "
		    "\"%s\": its JSON has %zu bytes; use 1 to %d", name, len,
		    STORE_REQUIREMENT_MAX);
	rc = store_requirement_valid(name, json, len, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = store_prepare(st, "INSERT INTO requirements(name, json, "
	    "updated_at) VALUES (?1, ?2, ?3) ON CONFLICT(name) DO UPDATE SET "
	    "json = excluded.json, updated_at = excluded.updated_at", &stmt,
	    err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_write(st, stmt, store_str(stmt, 1, name) |
	    store_str(stmt, 2, json) | db_bind_int64(stmt, 3, now),
	    "saving a requirement", NULL, NULL, err, errlen);
}

int
store_requirement_delete(struct store *st, const char *name, char *err,
    size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	if (!store_name_check("requirement name", name, err, errlen))
		return UPLINK_EINVAL;
	rc = store_prepare(st, "DELETE FROM requirements WHERE name = ?1",
	    &stmt, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_write(st, stmt, store_str(stmt, 1, name),
		    "removing a requirement", NULL, NULL, err, errlen);
	if (rc == UPLINK_OK && db_changes(st->db) == 0)
		rc = store_msg(UPLINK_ENOTFOUND, err, errlen, "no requirement "
		    "is called \"%s\"", name);
	return rc;
}

static int
store_requirement_row(struct db_stmt *stmt, void *arg)
{
	struct store_cb		*cb = arg;
	const char		*name = db_column_text(stmt, 0);
	const char		*json = db_column_text(stmt, 1);

	return cb->fn.requirement(cb->arg, name != NULL ? (const char *)name :
	    "", json != NULL ? (const char *)json : "");
}

int
store_requirement_list(struct store *st, store_requirement_cb fn, void *arg,
    char *err, size_t errlen)
{
	struct store_cb	 cb = { .fn.requirement = fn, .arg = arg };
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, "SELECT name, json FROM requirements ORDER BY "
	    "name", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_walk(st, stmt, store_requirement_row, &cb,
	    "listing requirements", err, errlen);
}

/* ---- connectivity checks ---- */

static int
store_check_check(const struct store_check *c, char *err, size_t errlen)
{
	size_t	 len;

	if (!store_text_check("connector id", c->connector_id, STORE_ID_MAX,
	    false, err, errlen) || !store_word_check("check trigger",
	    c->trigger, sizeof(c->trigger) - 1, STORE_WORD, err, errlen))
		return UPLINK_EINVAL;
	if (c->passed < 0 || c->failed < 0)
		return store_msg(UPLINK_EINVAL, err, errlen, "check of connector "
		    "%s: %d passed and %d failed; counts cannot be negative",
		    c->connector_id, c->passed, c->failed);
	len = c->report != NULL ? strlen(c->report) : 0;
	if (len == 0 || len > STORE_REPORT_MAX)
		return store_msg(UPLINK_EINVAL, err, errlen, "check of connector "
		    "%s: the report has %zu bytes; use 1 to %d", c->connector_id,
		    len, STORE_REPORT_MAX);
	return UPLINK_OK;
}

/*
 * Drops the connector's checks older than its newest STORE_CHECKS_KEPT:
 * the subquery finds the id of the first one to drop (none when there are
 * not that many), through the (connector_id, id) index.
 */
static int
store_check_trim(struct store *st, const char *connector_id, char *err,
    size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, "DELETE FROM checks WHERE connector_id = ?1 "
	    "AND id <= (SELECT id FROM checks WHERE connector_id = ?1 ORDER "
	    "BY id DESC LIMIT 1 OFFSET ?2)", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_write(st, stmt, store_str(stmt, 1, connector_id) |
	    db_bind_int64(stmt, 2, STORE_CHECKS_KEPT), "dropping old "
	    "checks", NULL, NULL, err, errlen);
}

int
store_check_add(struct store *st, const struct store_check *c, int64_t *id,
    char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	char		 what[80];
	int		 rc;

	rc = store_check_check(c, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	snprintf(what, sizeof(what), "recording a check of connector %s",
	    c->connector_id);
	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_prepare(st, "INSERT INTO checks(connector_id, at, "
		    "\"trigger\", ok, passed, failed, report) VALUES (?1, ?2, "
		    "?3, ?4, ?5, ?6, ?7)", &stmt, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_write(st, stmt, store_str(stmt, 1,
		    c->connector_id) | db_bind_int64(stmt, 2, c->at != 0 ?
		    c->at : time(NULL)) | store_str(stmt, 3, c->trigger) |
		    db_bind_int64(stmt, 4, c->ok ? 1 : 0) |
		    db_bind_int64(stmt, 5, c->passed) |
		    db_bind_int64(stmt, 6, c->failed) |
		    store_str(stmt, 7, c->report), what, NULL, "no such "
		    "connector", err, errlen);
	if (rc == UPLINK_OK && id != NULL)
		*id = db_last_insert_rowid(st->db);
	if (rc == UPLINK_OK)
		rc = store_check_trim(st, c->connector_id, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	store_rollback(st);
	return rc;
}

static int
store_check_row(struct db_stmt *stmt, void *arg)
{
	struct store_cb		*cb = arg;
	struct store_check	 c;
	const char		*report;

	memset(&c, 0, sizeof(c));
	c.id = db_column_int64(stmt, 0);
	store_column(stmt, 1, c.connector_id, sizeof(c.connector_id));
	c.at = db_column_int64(stmt, 2);
	store_column(stmt, 3, c.trigger, sizeof(c.trigger));
	c.ok = db_column_int64(stmt, 4) != 0;
	c.passed = db_column_int64(stmt, 5);
	c.failed = db_column_int64(stmt, 6);
	report = db_column_text(stmt, 7);
	c.report = report != NULL ? (const char *)report : "";
	return cb->fn.check(cb->arg, &c);
}

#define STORE_CHECK_SELECT \
	"SELECT id, connector_id, at, \"trigger\", ok, passed, failed, " \
	"report FROM checks "

int
store_check_list(struct store *st, const char *connector_id, int limit,
    store_check_cb fn, void *arg, char *err, size_t errlen)
{
	struct store_cb	 cb = { .fn.check = fn, .arg = arg };
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_limit_check("listing checks", limit, STORE_CHECK_LIST_MAX,
	    err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (connector_id != NULL && !store_text_check("connector id",
	    connector_id, STORE_ID_MAX, false, err, errlen))
		return UPLINK_EINVAL;
	/* Two texts, so that each one uses its index. */
	rc = store_prepare(st, connector_id != NULL ? STORE_CHECK_SELECT
	    "WHERE connector_id = ?2 ORDER BY id DESC LIMIT ?1" :
	    STORE_CHECK_SELECT "ORDER BY id DESC LIMIT ?1", &stmt, err,
	    errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_list(st, stmt, db_bind_int64(stmt, 1, limit) |
	    (connector_id != NULL ? store_str(stmt, 2, connector_id) :
	    DB_OK), store_check_row, &cb, "listing checks", err, errlen);
}

/* ---- notifications ---- */

static int
store_note_key_check(const char *kind, const char *subject, char *err,
    size_t errlen)
{
	if (!store_word_check("notification kind", kind, STORE_KIND_MAX,
	    STORE_WORD, err, errlen) || !store_line_check("notification "
	    "subject", subject, STORE_SUBJECT_MAX, false, err, errlen))
		return UPLINK_EINVAL;
	return UPLINK_OK;
}

/*
 * One statement: the partial unique index on (kind, subject) among the
 * unresolved rows turns a second opening into a conflict that DO NOTHING
 * absorbs, so two processes cannot both open one.
 */
int
store_note_open(struct store *st, const char *kind, const char *subject,
    const char *severity, const char *message, int64_t now, bool *created,
    char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	if (created != NULL)
		*created = false;
	rc = store_note_key_check(kind, subject, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (strcmp(severity, "info") != 0 && strcmp(severity, "warning") != 0 &&
	    strcmp(severity, "error") != 0)
		return store_msg(UPLINK_EINVAL, err, errlen, "notification "
		    "severity \"%.12s\" is not \"info\", \"warning\" or "
		    "\"error\"", severity);
	if (!store_line_check("notification message", message,
	    STORE_TEXT_MAX, false, err, errlen))
		return UPLINK_EINVAL;
	rc = store_prepare(st, "INSERT INTO notifications(kind, severity, "
	    "subject, message, created_at) VALUES (?1, ?2, ?3, ?4, ?5) "
	    "ON CONFLICT DO NOTHING", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = store_write(st, stmt, store_str(stmt, 1, kind) | store_str(stmt,
	    2, severity) | store_str(stmt, 3, subject) | store_str(stmt, 4,
	    message) | db_bind_int64(stmt, 5, now), "opening a "
	    "notification", NULL, NULL, err, errlen);
	if (rc == UPLINK_OK && created != NULL)
		*created = db_changes(st->db) == 1;
	return rc;
}

int
store_note_resolve(struct store *st, const char *kind, const char *subject,
    int64_t now, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_note_key_check(kind, subject, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_prepare(st, "UPDATE notifications SET resolved_at = "
		    "?3 WHERE kind = ?1 AND subject = ?2 AND resolved_at IS "
		    "NULL", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_write(st, stmt, store_str(stmt, 1, kind) |
	    store_str(stmt, 2, subject) | db_bind_int64(stmt, 3, now),
	    "resolving a notification", NULL, NULL, err, errlen);
}

static int
store_note_row(struct db_stmt *stmt, void *arg)
{
	struct store_cb		*cb = arg;
	struct store_note	 n;

	memset(&n, 0, sizeof(n));
	n.id = db_column_int64(stmt, 0);
	store_column(stmt, 1, n.kind, sizeof(n.kind));
	store_column(stmt, 2, n.severity, sizeof(n.severity));
	store_column(stmt, 3, n.subject, sizeof(n.subject));
	store_column(stmt, 4, n.message, sizeof(n.message));
	n.created_at = db_column_int64(stmt, 5);
	n.resolved_at = db_column_int64(stmt, 6);
	n.read_at = db_column_int64(stmt, 7);
	return cb->fn.note(cb->arg, &n);
}

/* The read_at of admin_id's mark, or (admin 0) the shared one: ?A. */
#define STORE_NOTE_READ_AT(a) \
	"CASE WHEN " a " = 0 THEN n.read_at ELSE m.read_at END"
#define STORE_NOTE_MARKS(a) \
	"notifications n LEFT JOIN note_reads m ON m.note_id = n.id " \
	"AND m.admin_id = " a

int
store_note_list(struct store *st, int64_t admin_id, bool unread_only,
    int limit, store_note_cb fn, void *arg, char *err, size_t errlen)
{
	struct store_cb	 cb = { .fn.note = fn, .arg = arg };
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_limit_check("listing notifications", limit,
	    STORE_NOTE_LIST_MAX, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_prepare(st, "SELECT n.id, n.kind, n.severity, "
		    "n.subject, n.message, n.created_at, n.resolved_at, "
		    STORE_NOTE_READ_AT("?3") " FROM " STORE_NOTE_MARKS("?3")
		    " WHERE ?1 = 0 OR " STORE_NOTE_READ_AT("?3") " IS NULL "
		    "ORDER BY n.id DESC LIMIT ?2", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_list(st, stmt, db_bind_int64(stmt, 1, unread_only) |
	    db_bind_int64(stmt, 2, limit) | db_bind_int64(stmt, 3, admin_id),
	    store_note_row, &cb, "listing notifications", err, errlen);
}

int
store_note_unread(struct store *st, int64_t admin_id, int64_t *n, char *err,
    size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, "SELECT count(*) FROM " STORE_NOTE_MARKS("?1")
	    " WHERE " STORE_NOTE_READ_AT("?1") " IS NULL", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (db_bind_int64(stmt, 1, admin_id) == DB_OK &&
	    db_step(stmt) == DB_ROW)
		*n = db_column_int64(stmt, 0);
	else
		rc = store_sqlfail(st, err, errlen, "counting unread "
		    "notifications");
	db_finalize(stmt);
	return rc;
}

/* Whether notification id exists. */
static int
store_note_exists(struct store *st, int64_t id, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc, step;

	rc = store_prepare(st, "SELECT 1 FROM notifications WHERE id = ?1",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	step = db_bind_int64(stmt, 1, id) == DB_OK ? db_step(stmt) : DB_FAIL;
	if (step == DB_DONE)
		rc = store_msg(UPLINK_ENOTFOUND, err, errlen, "no notification "
		    "has the id %lld", (long long)id);
	else if (step != DB_ROW)
		rc = store_sqlfail(st, err, errlen, "looking up notification "
		    "%lld", (long long)id);
	db_finalize(stmt);
	return rc;
}

/*
 * A notification read before keeps its first read_at. SQLite wants a
 * WHERE in an INSERT ... SELECT ... ON CONFLICT (its parser).
 */
int
store_note_read(struct store *st, int64_t admin_id, int64_t id, int64_t now,
    char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	const char	*sql;
	int		 rc;

	if (id < 0)
		return store_msg(UPLINK_EINVAL, err, errlen, "notification id "
		    "%lld is negative; use an id from the list, or 0 for all",
		    (long long)id);
	rc = id != 0 ? store_note_exists(st, id, err, errlen) : UPLINK_OK;
	if (rc != UPLINK_OK)
		return rc;
	if (admin_id == 0)
		sql = id == 0 ? "UPDATE notifications SET read_at = ?2 WHERE "
		    "read_at IS NULL AND ?1 = 0 AND ?3 = ?3" : "UPDATE "
		    "notifications SET read_at = coalesce(read_at, ?2) WHERE "
		    "id = ?1 AND ?3 = ?3";
	else
		sql = "INSERT INTO note_reads(admin_id, note_id, read_at) "
		    "SELECT ?3, id, ?2 FROM notifications WHERE ?1 = 0 OR "
		    "id = ?1 ON CONFLICT (admin_id, note_id) DO NOTHING";
	rc = store_prepare(st, sql, &stmt, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_write(st, stmt, db_bind_int64(stmt, 1, id) |
		    db_bind_int64(stmt, 2, now) | db_bind_int64(stmt, 3,
		    admin_id), "marking notifications read", NULL, NULL, err,
		    errlen);
	return rc;
}

/* ---- the audit log ---- */

/*
 * Replaces control characters and bytes that are not UTF-8 with '?', in
 * place. The audit log records what someone typed (an e-mail address at
 * a failed sign-in), and it must not lose that entry to a newline in it
 * or to a name that snprintf() cut inside a UTF-8 sequence.
 */
static void
store_line_clean(char *s, size_t size)
{
	unsigned char	*p = (unsigned char *)s;
	size_t		 i = 0, n, len = strnlen(s, size - 1);

	s[len] = '\0';
	while (i < len) {
		n = p[i] >= 0x20 && p[i] != 0x7f ? input_utf8_char(p + i, len - i) : 0;
		if (n == 0) {
			p[i] = '?';
			n = 1;
		}
		i += n;
	}
}

static int
store_audit_check(const struct store_audit *a, char *err, size_t errlen)
{
	if (!store_line_check("audit actor", a->actor, STORE_EMAIL_MAX, false,
	    err, errlen))
		return UPLINK_EINVAL;
	if (strcmp(a->actor_kind, "admin") != 0 &&
	    strcmp(a->actor_kind, "key") != 0 &&
	    strcmp(a->actor_kind, "cli") != 0 &&
	    strcmp(a->actor_kind, "system") != 0)
		return store_msg(UPLINK_EINVAL, err, errlen, "audit actor kind "
		    "\"%.8s\" is not \"admin\", \"key\", \"cli\" or \"system\"",
		    a->actor_kind);
	if (!store_text_check("audit address", a->address, STORE_ADDR_MAX,
	    true, err, errlen) || !store_word_check("audit action", a->action,
	    sizeof(a->action) - 1, STORE_WORD "._", err, errlen) ||
	    !store_line_check("audit target", a->target, STORE_SUBJECT_MAX,
	    true, err, errlen) || !store_line_check("audit detail", a->detail,
	    STORE_TEXT_MAX, true, err, errlen))
		return UPLINK_EINVAL;
	return UPLINK_OK;
}

int
store_audit_add(struct store *st, const struct store_audit *in, char *err,
    size_t errlen)
{
	struct store_audit	 clean = *in, *a = &clean;
	struct db_stmt	*stmt;
	int			 rc;

	store_line_clean(a->actor, sizeof(a->actor));
	store_line_clean(a->target, sizeof(a->target));
	store_line_clean(a->detail, sizeof(a->detail));
	rc = store_audit_check(a, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_prepare(st, "INSERT INTO audit(at, actor, "
		    "actor_kind, address, action, target, detail) VALUES (?1, "
		    "?2, ?3, ?4, ?5, ?6, ?7)", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_write(st, stmt, db_bind_int64(stmt, 1, a->at != 0 ?
	    a->at : time(NULL)) | store_str(stmt, 2, a->actor) |
	    store_str(stmt, 3, a->actor_kind) | store_opt(stmt, 4,
	    a->address) | store_str(stmt, 5, a->action) | store_opt(stmt, 6,
	    a->target) | store_opt(stmt, 7, a->detail), "recording an audit "
	    "entry", NULL, NULL, err, errlen);
}

static int
store_audit_row(struct db_stmt *stmt, void *arg)
{
	struct store_cb		*cb = arg;
	struct store_audit	 a;

	memset(&a, 0, sizeof(a));
	a.id = db_column_int64(stmt, 0);
	a.at = db_column_int64(stmt, 1);
	store_column(stmt, 2, a.actor, sizeof(a.actor));
	store_column(stmt, 3, a.actor_kind, sizeof(a.actor_kind));
	store_column(stmt, 4, a.address, sizeof(a.address));
	store_column(stmt, 5, a.action, sizeof(a.action));
	store_column(stmt, 6, a.target, sizeof(a.target));
	store_column(stmt, 7, a.detail, sizeof(a.detail));
	return cb->fn.audit(cb->arg, &a);
}

/* "id < ?1" with INT64_MAX for "from the newest" stays a rowid range scan. */
int
store_audit_list(struct store *st, int64_t before, int limit,
    store_audit_cb fn, void *arg, char *err, size_t errlen)
{
	struct store_cb	 cb = { .fn.audit = fn, .arg = arg };
	struct db_stmt	*stmt;
	int		 rc;

	if (before < 0)
		return store_msg(UPLINK_EINVAL, err, errlen, "listing the audit "
		    "log: \"before\" is %lld; use an entry's id, or 0 for the "
		    "newest", (long long)before);
	rc = store_limit_check("listing the audit log", limit,
	    STORE_AUDIT_LIST_MAX, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_prepare(st, "SELECT id, at, actor, actor_kind, "
		    "address, action, target, detail FROM audit WHERE id < ?1 "
		    "ORDER BY id DESC LIMIT ?2", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_list(st, stmt, db_bind_int64(stmt, 1, before != 0 ?
	    before : INT64_MAX) | db_bind_int64(stmt, 2, limit),
	    store_audit_row, &cb, "listing the audit log", err, errlen);
}
