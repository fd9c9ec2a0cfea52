/*
 * The cloud database (lib/store.h is its API): opening it, its pragmas and
 * schema migrations, sites, settings, the CRL number, and the SQL helpers
 * that lib/store_token.c, lib/store_connector.c and lib/store_apikey.c
 * share through lib/store_impl.h.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "duration.h"
#include "error.h"
#include "store.h"
#include "store_impl.h"
#include "unittest.h"

/*
 * The schema, one step per version: store_migrations[i] turns a version i
 * database into version i + 1, and STORE_SCHEMA_VERSION is the number of
 * steps. Steps are only ever appended. A released step is never edited,
 * because databases in the field have already run it.
 *
 * Version 1. Connectors keep their current certificate in their row and
 * every certificate they were ever issued in certs, so revoking a connector
 * also revokes a certificate that a renewal replaced but that has not yet
 * expired. Tables are STRICT so a wrongly typed value is an error, not a
 * silent conversion; site names are unique regardless of case.
 *
 * Version 2. API keys for the ingress proxy and the API: the id is the 12
 * hex digits in the key's text, so a key is found by id and its secret
 * compared in constant time (lib/apikey.c); only SHA-256 of the secret is
 * kept. Settings gain text rows "url" and "crl_url", which need no schema.
 *
 * Version 3. The management plane (docs/api.md): administrators and their
 * console sessions (by SHA-256 of the cookie's secret; deleting an
 * administrator deletes its sessions), services published through the API,
 * extra catalog requirements, the last connectivity checks per connector,
 * notifications (a partial unique index keeps one unresolved row per kind
 * and subject) and the audit log. Connectors gain a drained flag, 0 for
 * the rows that exist.
 *
 * Version 4. API keys gain scopes beyond "full" and "read" (lib/apikey.c
 * keeps the list; "ingress" first) and the sites a key is bound to, as
 * the comma-separated names of existing sites (sites are never renamed
 * or deleted). The scope's CHECK becomes one of shape only, so that the
 * next scope needs no table rebuild; lib/store_apikey.c refuses a name
 * lib/apikey.c does not know. SQLite cannot change a CHECK in place, so
 * the table is rebuilt (create, copy, drop, rename).
 *
 * Version 5. Failed sign-ins per key ("a:EMAIL", "i:ADDRESS"): their
 * count within the window and the time of the last one, so that on
 * PostgreSQL every instance of a cluster applies the same limits
 * (cloud/rest_session.c; a single SQLite instance keeps them in memory
 * and leaves this table empty).
 *
 * Version 6. Connectors gain bytes_in and bytes_out, the bytes their
 * tunnels carried from and to them, added to about once a minute and
 * when their last tunnel closes (cloud/router.c), so a connector's
 * traffic totals survive its disconnection and the cloud's restart.
 *
 * Version 7. Sites can be deleted and revoked connectors removed
 * (lib/store/store_site.c): the certificates of a removed connector move
 * to removed_certs, so that their serials stay on the CRL.
 *
 * Version 8. Notifications are read per administrator: note_reads holds
 * who read which and when (deleting either deletes the mark). The
 * notification's own read_at stays for API keys.
 *
 * Version 9. The cluster (cloud/cluster.c, docs/cluster.md): instances
 * (one row per instance id: how peers and connectors reach it, its state
 * and the lease it renews, its epoch, bumped at each start) and
 * tunnel_locations (how many tunnels each connector has on which
 * instance, and their load), so every instance knows the whole fleet.
 * SQLite runs one instance only, but keeps the same schema.
 *
 * The array is visible to the unit tests, which build older files from
 * the first steps alone to test the upgrades.
 */
UNITTEST const char *const store_migrations[] = {
	"CREATE TABLE sites ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  created_at INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE connectors ("
	"  id TEXT PRIMARY KEY,"
	"  site_id INTEGER NOT NULL REFERENCES sites(id),"
	"  name TEXT NOT NULL,"
	"  cert_serial TEXT,"
	"  cert_fingerprint TEXT,"
	"  cert_not_after INTEGER,"
	"  created_at INTEGER NOT NULL,"
	"  last_seen INTEGER,"
	"  revoked_at INTEGER,"
	"  version TEXT"
	") STRICT;"
	"CREATE INDEX connectors_site ON connectors(site_id);"
	"CREATE TABLE certs ("
	"  serial TEXT PRIMARY KEY,"
	"  connector_id TEXT NOT NULL REFERENCES connectors(id),"
	"  fingerprint TEXT NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  issued_at INTEGER NOT NULL"
	") STRICT;"
	"CREATE INDEX certs_connector ON certs(connector_id);"
	"CREATE TABLE enrollment_tokens ("
	"  id TEXT PRIMARY KEY,"
	"  site_id INTEGER NOT NULL REFERENCES sites(id),"
	"  secret_hash BLOB NOT NULL UNIQUE CHECK (length(secret_hash) = 32),"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  used_at INTEGER,"
	"  used_by TEXT,"
	"  revoked_at INTEGER"
	") STRICT;"
	"CREATE INDEX enrollment_tokens_site ON enrollment_tokens(site_id);"
	"CREATE TABLE settings ("
	"  key TEXT PRIMARY KEY,"
	"  value ANY"
	") STRICT;"
	"INSERT INTO settings(key, value) VALUES ('crl_number', 0);",

	"CREATE TABLE api_keys ("
	"  id TEXT PRIMARY KEY CHECK (length(id) = 12),"
	"  name TEXT NOT NULL,"
	"  scope TEXT NOT NULL CHECK (scope IN ('full', 'read')),"
	"  secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),"
	"  created_at INTEGER NOT NULL,"
	"  last_used INTEGER,"
	"  revoked_at INTEGER"
	") STRICT;",

	"CREATE TABLE admins ("
	"  id INTEGER PRIMARY KEY,"
	"  email TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  role TEXT NOT NULL CHECK (role IN ('full', 'read')),"
	"  pwhash TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  last_sign_in INTEGER"
	") STRICT;"
	"CREATE TABLE sessions ("
	"  hash BLOB PRIMARY KEY CHECK (length(hash) = 32),"
	"  admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,"
	"  created_at INTEGER NOT NULL,"
	"  last_active INTEGER NOT NULL,"
	"  csrf TEXT NOT NULL,"
	"  address TEXT"
	") STRICT;"
	"CREATE INDEX sessions_admin ON sessions(admin_id);"
	"CREATE INDEX sessions_created ON sessions(created_at);"
	"CREATE TABLE services ("
	"  name TEXT PRIMARY KEY COLLATE NOCASE,"
	"  site_id INTEGER NOT NULL REFERENCES sites(id),"
	"  target TEXT NOT NULL,"
	"  listen TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	") STRICT;"
	"CREATE INDEX services_site ON services(site_id);"
	"CREATE TABLE requirements ("
	"  name TEXT PRIMARY KEY,"
	"  json TEXT NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE checks ("
	"  id INTEGER PRIMARY KEY,"
	"  connector_id TEXT NOT NULL REFERENCES connectors(id),"
	"  at INTEGER NOT NULL,"
	"  \"trigger\" TEXT NOT NULL,"
	"  ok INTEGER NOT NULL CHECK (ok IN (0, 1)),"
	"  passed INTEGER NOT NULL CHECK (passed >= 0),"
	"  failed INTEGER NOT NULL CHECK (failed >= 0),"
	"  report TEXT NOT NULL"
	") STRICT;"
	"CREATE INDEX checks_connector ON checks(connector_id, id);"
	"CREATE TABLE notifications ("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL,"
	"  severity TEXT NOT NULL"
	"    CHECK (severity IN ('info', 'warning', 'error')),"
	"  subject TEXT NOT NULL,"
	"  message TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  resolved_at INTEGER,"
	"  read_at INTEGER"
	") STRICT;"
	"CREATE UNIQUE INDEX notifications_open ON notifications(kind, subject)"
	"  WHERE resolved_at IS NULL;"
	"CREATE INDEX notifications_unread ON notifications(id)"
	"  WHERE read_at IS NULL;"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  actor_kind TEXT NOT NULL"
	"    CHECK (actor_kind IN ('admin', 'key', 'cli', 'system')),"
	"  address TEXT,"
	"  action TEXT NOT NULL,"
	"  target TEXT,"
	"  detail TEXT"
	") STRICT;"
	"ALTER TABLE connectors ADD COLUMN"
	"  drained INTEGER NOT NULL DEFAULT 0 CHECK (drained IN (0, 1));",

	"CREATE TABLE api_keys_v4 ("
	"  id TEXT PRIMARY KEY CHECK (length(id) = 12),"
	"  name TEXT NOT NULL,"
	"  scope TEXT NOT NULL CHECK (length(scope) BETWEEN 1 AND 15"
	"    AND scope NOT GLOB '*[^a-z]*'),"
	"  secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),"
	"  created_at INTEGER NOT NULL,"
	"  last_used INTEGER,"
	"  revoked_at INTEGER,"
	"  sites TEXT NOT NULL DEFAULT ''"
	") STRICT;"
	"INSERT INTO api_keys_v4(id, name, scope, secret_hash, created_at,"
	"  last_used, revoked_at) SELECT id, name, scope, secret_hash,"
	"  created_at, last_used, revoked_at FROM api_keys;"
	"DROP TABLE api_keys;"
	"ALTER TABLE api_keys_v4 RENAME TO api_keys;",

	"CREATE TABLE signin_failures ("
	"  key TEXT PRIMARY KEY COLLATE NOCASE,"
	"  n INTEGER NOT NULL CHECK (n >= 1),"
	"  last INTEGER NOT NULL"
	") STRICT;"
	"CREATE INDEX signin_failures_last ON signin_failures(last);",

	"ALTER TABLE connectors ADD COLUMN"
	"  bytes_in INTEGER NOT NULL DEFAULT 0 CHECK (bytes_in >= 0);"
	"ALTER TABLE connectors ADD COLUMN"
	"  bytes_out INTEGER NOT NULL DEFAULT 0 CHECK (bytes_out >= 0);",

	"CREATE TABLE removed_certs ("
	"  serial TEXT PRIMARY KEY,"
	"  revoked_at INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL"
	") STRICT;",

	"CREATE TABLE note_reads ("
	"  admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,"
	"  note_id INTEGER NOT NULL"
	"    REFERENCES notifications(id) ON DELETE CASCADE,"
	"  read_at INTEGER NOT NULL,"
	"  PRIMARY KEY (admin_id, note_id)"
	") STRICT;"
	"CREATE INDEX note_reads_note ON note_reads(note_id);",

	"CREATE TABLE instances ("
	"  id TEXT PRIMARY KEY,"
	"  peer_address TEXT NOT NULL,"
	"  tunnel_name TEXT NOT NULL,"
	"  tunnel_address TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('up', 'draining', 'gone')),"
	"  started_at INTEGER NOT NULL,"
	"  lease_until INTEGER NOT NULL,"
	"  epoch INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE tunnel_locations ("
	"  connector TEXT NOT NULL,"
	"  instance TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,"
	"  site TEXT NOT NULL,"
	"  tunnels INTEGER NOT NULL CHECK (tunnels >= 1),"
	"  load INTEGER NOT NULL CHECK (load >= 0),"
	"  epoch INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  PRIMARY KEY (connector, instance)"
	") STRICT;"
	"CREATE INDEX tunnel_locations_instance ON tunnel_locations(instance);",
};

_Static_assert(sizeof(store_migrations) / sizeof(store_migrations[0]) ==
    STORE_SCHEMA_VERSION, "one migration step per schema version");

UNITTEST int store_migrate(struct store *st, const char *const *steps,
    size_t nsteps, char *err, size_t errlen);

/* Writes a message that needs no database context; returns rc. */
int
store_msg(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* What to do about the database errors an operator can fix. */
static const char *
store_hint(const struct store *st, enum db_err code)
{
	bool	 pg = db_kind(st->db) == DB_PG;

	switch (code) {
	case DB_E_BUSY:
		return pg ? "; another instance held a lock too long: retry" :
		    "; another process held the database for over 5 s: is "
		    "a second uplink-cloud running on it?";
	case DB_E_FULL:
		return "; the disk is full: free space and retry";
	case DB_E_PERM:
		return pg ? "; check the user, the password file and the "
		    "server's pg_hba.conf" : "; check that uplink-cloud may "
		    "read and write the file and its directory";
	case DB_E_CORRUPT:
		return "; the file is damaged or not an uplink-cloud database: "
		    "check the path or restore a backup";
	case DB_E_IO:
		return "; the disk failed: check the system log";
	case DB_E_UNAVAIL:
		return "; the database is unavailable: writes are refused "
		    "until it is back (check the PostgreSQL server)";
	default:
		return "";
	}
}

/*
 * Reports a failed database call as "WHERE: WHAT: MESSAGE; HINT" and
 * returns UPLINK_EIO (UPLINK_ENOMEM when out of memory, UPLINK_EUNAVAIL
 * while PostgreSQL is unreachable).
 */
int
store_sqlfail(struct store *st, char *err, size_t errlen, const char *fmt,
    ...)
{
	va_list	 ap;
	enum db_err code = db_errcode(st->db);
	int	 n;

	if (err != NULL && errlen > 0) {
		n = snprintf(err, errlen, "%s: ", st->path);
		va_start(ap, fmt);
		if (n >= 0 && (size_t)n < errlen)
			vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
		n = (int)strlen(err);
		snprintf(err + n, errlen - (size_t)n, ": %s%s",
		    db_errmsg(st->db), store_hint(st, code));
	}
	if (code == DB_E_UNAVAIL)
		return UPLINK_EUNAVAIL;
	return code == DB_E_NOMEM ? UPLINK_ENOMEM : UPLINK_EIO;
}

int
store_prepare(struct store *st, const char *sql, struct db_stmt **stmt,
    char *err, size_t errlen)
{
	*stmt = NULL;
	if (db_prepare(st->db, sql, stmt) != DB_OK)
		return store_sqlfail(st, err, errlen, "preparing \"%.60s\"",
		    sql);
	return UPLINK_OK;
}

/*
 * Binding helpers. Callers OR their results together: DB_OK is 0, so
 * the result is non-zero when any bind failed, and checking once keeps
 * the list of parameters readable. store_str binds required text,
 * store_opt binds NULL for NULL or "", store_num binds 0 as NULL.
 */
int
store_str(struct db_stmt *stmt, int i, const char *s)
{
	return db_bind_text(stmt, i, s);
}

int
store_opt(struct db_stmt *stmt, int i, const char *s)
{
	if (s == NULL || *s == '\0')
		return db_bind_null(stmt, i);
	return store_str(stmt, i, s);
}

int
store_num(struct db_stmt *stmt, int i, int64_t v)
{
	if (v == 0)
		return db_bind_null(stmt, i);
	return db_bind_int64(stmt, i, v);
}

/* Copies a text column; NULL reads as "". */
void
store_column(struct db_stmt *stmt, int i, char *dst, size_t dstlen)
{
	const char	*t = db_column_text(stmt, i);

	snprintf(dst, dstlen, "%s", t != NULL ? t : "");
}

/* Runs SQL that takes no parameters and returns no rows. */
int
store_exec(struct store *st, const char *sql, const char *what, char *err,
    size_t errlen)
{
	if (db_exec(st->db, sql) != DB_OK)
		return store_sqlfail(st, err, errlen, "%s", what);
	return UPLINK_OK;
}

/*
 * Write transactions start IMMEDIATE: the write lock is taken before the
 * first read, so a check and the write that depends on it (a token is
 * unused, then mark it used) cannot be split by another writer. On
 * PostgreSQL a transaction-scoped advisory lock gives the same order
 * across every instance: write transactions run one at a time, as on
 * SQLite, and a token checked unused is still unused when it is marked.
 */
int
store_begin(struct store *st, char *err, size_t errlen)
{
	if (db_kind(st->db) == DB_PG)
		return store_exec(st, "BEGIN; SELECT pg_advisory_xact_lock("
		    STORE_PG_WRITE_LOCK ")", "starting a transaction", err,
		    errlen);
	return store_exec(st, "BEGIN IMMEDIATE", "starting a transaction", err,
	    errlen);
}

int
store_commit(struct store *st, char *err, size_t errlen)
{
	return store_exec(st, "COMMIT", "committing", err, errlen);
}

/* Undoes an open transaction, if any; every write path ends here. */
void
store_rollback(struct store *st)
{
	if (db_in_txn(st->db))
		db_exec(st->db, "ROLLBACK");
}

/* Formats t as "2025-01-02T03:04:05Z (1d2h ago)" for messages. */
const char *
store_when(int64_t t, int64_t now, char buf[STORE_WHEN_SIZE])
{
	char		 ago[DURATION_TEXT_SIZE];
	struct tm	 tm;
	time_t		 tt = (time_t)t;
	size_t		 n = 0;

	if (gmtime_r(&tt, &tm) != NULL)
		n = strftime(buf, STORE_WHEN_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (n == 0)
		n = (size_t)snprintf(buf, STORE_WHEN_SIZE, "%lld",
		    (long long)t);
	duration_format(now >= t ? now - t : t - now, ago, sizeof(ago));
	snprintf(buf + n, STORE_WHEN_SIZE - n, now >= t ? " (%s ago)" :
	    " (in %s)", ago);
	return buf;
}

bool
store_name_check(const char *what, const char *name, char *err,
    size_t errlen)
{
	size_t	 i, len = strlen(name);
	char	 c;

	if (len == 0 || len > STORE_NAME_MAX) {
		store_msg(0, err, errlen, "%s has %zu characters; use 1 to %d "
		    "letters, digits, '.', '_' or '-'", what, len,
		    STORE_NAME_MAX);
		return false;
	}
	/* Only the part before a bad byte is quoted: it may be a newline. */
	for (i = 0; i < len; i++) {
		c = name[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9'))
			continue;
		if (i > 0 && (c == '.' || c == '_' || c == '-'))
			continue;
		if (i == 0 && (c == '.' || c == '_' || c == '-'))
			store_msg(0, err, errlen, "%s \"%s\" must start with a "
			    "letter or digit", what, name);
		else
			store_msg(0, err, errlen, "%s \"%.*s...\": byte 0x%02x "
			    "at position %zu is not allowed; use letters, "
			    "digits, '.', '_' or '-'", what, (int)i, name,
			    (unsigned char)c, i + 1);
		return false;
	}
	return true;
}

/*
 * Checks text that is stored and later shown (ids, serials, versions): at
 * most max bytes of printable ASCII without spaces, so nothing a connector
 * sends can break a log line or a listing.
 */
bool
store_text_check(const char *what, const char *s, size_t max, bool empty_ok,
    char *err, size_t errlen)
{
	size_t	 i, len = strlen(s);

	if (len > max || (len == 0 && !empty_ok)) {
		store_msg(0, err, errlen, "%s has %zu bytes; use %s%zu", what,
		    len, empty_ok ? "at most " : "1 to ", max);
		return false;
	}
	for (i = 0; i < len; i++) {
		if (s[i] > ' ' && s[i] < 0x7f)
			continue;
		store_msg(0, err, errlen, "%s has byte 0x%02x at position %zu; "
		    "use printable ASCII without spaces", what,
		    (unsigned char)s[i], i + 1);
		return false;
	}
	return true;
}

/* Explains a failed insert: a missing parent row or a duplicate key. */
int
store_insert_fail(struct store *st, const char *what, const char *dup,
    int64_t site_id, char *err, size_t errlen)
{
	switch (db_errcode(st->db)) {
	case DB_E_FOREIGN:
		return store_msg(UPLINK_ENOTFOUND, err, errlen, "%s: site %lld "
		    "does not exist", what, (long long)site_id);
	case DB_E_UNIQUE:
		return store_msg(UPLINK_EINVAL, err, errlen, "%s: %s", what,
		    dup);
	default:
		break;
	}
	return store_sqlfail(st, err, errlen, "%s", what);
}

/*
 * Steps through a query's rows, calling row() for each; a non-zero return
 * stops the walk and is returned. Finalizes stmt. what names the query in
 * a failure message ("listing tokens").
 */
int
store_walk(struct store *st, struct db_stmt *stmt,
    int (*row)(struct db_stmt *, void *), void *arg, const char *what,
    char *err, size_t errlen)
{
	int	 rc = UPLINK_OK, step;

	for (;;) {
		step = db_step(stmt);
		if (step != DB_ROW)
			break;
		rc = row(stmt, arg);
		if (rc != 0)
			break;
	}
	if (rc == UPLINK_OK && step != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "%s", what);
	db_finalize(stmt);
	return rc;
}

/*
 * Runs an UPDATE whose parameters are ?1 = id, ?2 = a time and optionally
 * ?3 = text, and which must change exactly one row.
 */
int
store_update(struct store *st, const char *sql, const char *id, int64_t t,
    const char *text, const char *what, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, sql, &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((store_str(stmt, 1, id) | db_bind_int64(stmt, 2, t) |
	    (text != NULL ? store_str(stmt, 3, text) : DB_OK)) !=
	    DB_OK || db_step(stmt) != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "%s %s", what, id);
	else if (db_changes(st->db) != 1)
		rc = store_msg(UPLINK_ENOTFOUND, err, errlen, "%s %s: no such "
		    "row", what, id);
	db_finalize(stmt);
	return rc;
}

/*
 * Runs a query for one row by a text key (?1), calling read() on it.
 * UPLINK_ENOTFOUND, with no message, when there is no such row.
 */
/* store_get_one() and store_get_by_id(): the key is text or a number. */
static int
store_get_row(struct store *st, const char *sql, const char *text,
    int64_t num, void (*read)(struct db_stmt *, void *), void *out,
    const char *what, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc, step;

	rc = store_prepare(st, sql, &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	step = text != NULL ? store_str(stmt, 1, text) :
	    db_bind_int64(stmt, 1, num);
	if (step == DB_OK)
		step = db_step(stmt);
	if (step == DB_ROW)
		read(stmt, out);
	else if (step == DB_DONE)
		rc = UPLINK_ENOTFOUND;
	else
		rc = store_sqlfail(st, err, errlen, "%s", what);
	db_finalize(stmt);
	return rc;
}

int
store_get_one(struct store *st, const char *sql, const char *key,
    void (*read)(struct db_stmt *, void *), void *out, const char *what,
    char *err, size_t errlen)
{
	return store_get_row(st, sql, key, 0, read, out, what, err, errlen);
}

/*
 * store_get_one() for an integer key (?1). UPLINK_ENOTFOUND, with no
 * message, when there is no such row.
 */
int
store_get_by_id(struct store *st, const char *sql, int64_t key,
    void (*read)(struct db_stmt *, void *), void *out, const char *what,
    char *err, size_t errlen)
{
	return store_get_row(st, sql, NULL, key, read, out, what, err, errlen);
}

/*
 * Sets the connection's pragmas. WAL is checked because SQLite keeps the
 * old journal mode, without an error, where WAL cannot work.
 */
static int
store_configure(struct store *st, char *err, size_t errlen)
{
	const char	*mode = NULL;
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_exec(st, "PRAGMA busy_timeout = " STORE_STR(STORE_BUSY_MS),
	    "setting pragmas", err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = store_prepare(st, "PRAGMA journal_mode = WAL", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (db_step(stmt) == DB_ROW)
		mode = db_column_text(stmt, 0);
	if (mode == NULL)
		rc = store_sqlfail(st, err, errlen, "switching to WAL mode");
	else if (strcmp(mode, "wal") != 0)
		rc = store_msg(UPLINK_EIO, err, errlen, "%s: SQLite cannot use "
		    "WAL mode here (it stays in \"%s\" mode): put the database "
		    "on a local file system", st->path, mode);
	db_finalize(stmt);
	if (rc == UPLINK_OK)
		rc = store_exec(st, "PRAGMA synchronous = FULL",
		    "setting pragmas", err, errlen);
	return rc;
}

/* Reads PRAGMA user_version, the schema version. */
static int
store_version(struct store *st, int *version, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, "PRAGMA user_version", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (db_step(stmt) == DB_ROW)
		*version = db_column_int64(stmt, 0);
	else
		rc = store_sqlfail(st, err, errlen, "reading the schema "
		    "version");
	db_finalize(stmt);
	return rc;
}

/* Fails when any row breaks a foreign key, naming its table. */
static int
store_fk_check(struct store *st, int v, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc, step;

	rc = store_prepare(st, "PRAGMA foreign_key_check", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	step = db_step(stmt);
	if (step == DB_ROW)
		rc = store_msg(UPLINK_EIO, err, errlen, "%s: upgrading the "
		    "schema from version %d to %d would leave rows in %s that "
		    "break a foreign key: the database is left at version %d",
		    st->path, v, v + 1, db_column_text(stmt, 0), v);
	else if (step != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "checking foreign keys");
	db_finalize(stmt);
	return rc;
}

/*
 * Runs step v (0-based) and records version v + 1, inside the caller's
 * transaction. PRAGMA takes no bound parameters, hence the one SQL text
 * built here; it holds nothing but a number from this file.
 */
static int
store_migrate_step(struct store *st, const char *sql, int v, char *err,
    size_t errlen)
{
	char	 set[64];
	int	 rc;

	if (db_exec(st->db, sql) != DB_OK)
		return store_sqlfail(st, err, errlen, "upgrading the schema "
		    "from version %d to %d", v, v + 1);
	rc = store_fk_check(st, v, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	snprintf(set, sizeof(set), "PRAGMA user_version = %d", v + 1);
	return store_exec(st, set, "recording the schema version", err,
	    errlen);
}

/*
 * Runs the steps still missing, one transaction each. The version is read
 * again inside each transaction, so two processes opening a fresh database
 * at once do not both run a step; a failing step leaves the database at
 * the version before it.
 */
static int
store_migrate_steps(struct store *st, const char *const *steps,
    size_t nsteps, char *err, size_t errlen)
{
	int	 v = 0, rc;

	for (;;) {
		rc = store_begin(st, err, errlen);
		if (rc == UPLINK_OK)
			rc = store_version(st, &v, err, errlen);
		if (rc != UPLINK_OK)
			break;
		if (v < 0 || (size_t)v > nsteps) {
			rc = store_msg(UPLINK_EINVAL, err, errlen, "%s: made "
			    "by a newer uplink-cloud (schema version %d; this "
			    "one knows up to %zu): upgrade uplink-cloud or use "
			    "a backup made by this version", st->path, v,
			    nsteps);
			break;
		}
		if ((size_t)v == nsteps)
			return store_commit(st, err, errlen);
		rc = store_migrate_step(st, steps[v], v, err, errlen);
		if (rc == UPLINK_OK)
			rc = store_commit(st, err, errlen);
		if (rc != UPLINK_OK)
			break;
	}
	store_rollback(st);
	return rc;
}

/*
 * Brings the schema up to nsteps and turns foreign keys on. They are off
 * while steps run, as SQLite's procedure for rebuilding a table requires
 * (the pragma is ignored inside a transaction, so a step cannot switch it
 * itself); store_fk_check() stands in for them before each commit.
 */
UNITTEST int
store_migrate(struct store *st, const char *const *steps, size_t nsteps,
    char *err, size_t errlen)
{
	int	 rc;

	rc = store_exec(st, "PRAGMA foreign_keys = OFF", "setting pragmas",
	    err, errlen);
	if (rc == UPLINK_OK)
		rc = store_migrate_steps(st, steps, nsteps, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_exec(st, "PRAGMA foreign_keys = ON",
		    "setting pragmas", err, errlen);
	else
		db_exec(st->db, "PRAGMA foreign_keys = ON");
	return rc;
}

/*
 * Reads the first line of a password file. The file must not be readable
 * by others: the password is a secret the configuration only names.
 */
static int
store_password_read(const char *file, char **out, char *err, size_t errlen)
{
	char	 line[1024];
	FILE	*fp;
	size_t	 n;

	*out = NULL;
	fp = fopen(file, "re");
	if (fp == NULL)
		return store_msg(UPLINK_ECONFIG, err, errlen, "%s: cannot read "
		    "the database password file: %s", file, strerror(errno));
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (n == 0)
		return store_msg(UPLINK_ECONFIG, err, errlen, "%s: the database "
		    "password file is empty; write the password on its first "
		    "line", file);
	*out = strdup(line);
	explicit_bzero(line, sizeof(line));
	return *out == NULL ? UPLINK_ENOMEM : UPLINK_OK;
}

bool
store_url_is_pg(const char *url)
{
	return strncmp(url, "postgresql://", 13) == 0 ||
	    strncmp(url, "postgres://", 11) == 0 || strchr(url, '=') != NULL;
}

/*
 * The text that names the database in messages: the SQLite path, or the
 * PostgreSQL URL with any password in it replaced by "***".
 */
static char *
store_where(const char *url)
{
	const char	*at, *scheme, *colon;
	char		*s;
	size_t		 len = strlen(url);

	if (strncmp(url, "sqlite:", 7) == 0)
		return strdup(url + 7);
	if (!store_url_is_pg(url))
		return strdup(url);
	s = malloc(len + 16);
	if (s == NULL)
		return NULL;
	scheme = strstr(url, "://");
	at = scheme != NULL ? strchr(scheme + 3, '@') : NULL;
	colon = at != NULL ? memchr(scheme + 3, ':', (size_t)(at -
	    (scheme + 3))) : NULL;
	if (colon != NULL)
		snprintf(s, len + 16, "%.*s:***%s", (int)(colon - url), url,
		    at);
	else if (strstr(url, "password") != NULL)
		snprintf(s, len + 16, "PostgreSQL (conninfo with a password)");
	else
		snprintf(s, len + 16, "%s", url);
	return s;
}

static int
store_open_sqlite(struct store *st, const char *path, char *err,
    size_t errlen)
{
	int	 rc;

	if (db_sqlite_open(path, &st->db) != DB_OK)
		return st->db == NULL ? store_msg(UPLINK_ENOMEM, err, errlen,
		    "%s: out of memory opening the database", path) :
		    store_sqlfail(st, err, errlen, "cannot open");
	rc = store_configure(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_migrate(st, store_migrations, STORE_SCHEMA_VERSION,
		    err, errlen);
	return rc;
}

static int
store_open_pg(struct store *st, const char *url,
    const struct store_opts *o, char *err, size_t errlen)
{
	char	*pw = NULL;
	int	 rc, ms;

	if (o != NULL && o->password_file != NULL &&
	    o->password_file[0] != '\0') {
		rc = store_password_read(o->password_file, &pw, err, errlen);
		if (rc != UPLINK_OK)
			return rc;
	}
	ms = o != NULL && o->timeout_ms > 0 ? o->timeout_ms :
	    STORE_PG_TIMEOUT_MS;
	rc = db_pg_open(url, pw, ms, &st->db);
	if (pw != NULL)
		explicit_bzero(pw, strlen(pw));
	free(pw);
	if (rc != DB_OK)
		return st->db == NULL ? store_msg(UPLINK_ENOMEM, err, errlen,
		    "%s: out of memory opening the database", st->path) :
		    store_sqlfail(st, err, errlen, "cannot connect");
	return store_pg_migrate(st, store_pg_migrations, STORE_SCHEMA_VERSION,
	    err, errlen);
}

int
store_open_opts(const char *url, const struct store_opts *o,
    struct store **out, char *err, size_t errlen)
{
	struct store	*st;
	int		 rc;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (st != NULL)
		st->path = store_where(url);
	if (st == NULL || st->path == NULL) {
		free(st);
		return store_msg(UPLINK_ENOMEM, err, errlen, "out of memory "
		    "opening the database");
	}
	if (store_url_is_pg(url))
		rc = store_open_pg(st, url, o, err, errlen);
	else
		rc = store_open_sqlite(st, strncmp(url, "sqlite:", 7) == 0 ?
		    url + 7 : url, err, errlen);
	if (rc != UPLINK_OK)
		goto fail;
	*out = st;
	return UPLINK_OK;
fail:
	store_close(st);
	return rc;
}

int
store_open(const char *path, struct store **out, char *err, size_t errlen)
{
	return store_open_opts(path, NULL, out, err, errlen);
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	/* Every statement is finalized where it was prepared, so this works. */
	db_close(st->db);
	free(st->owners);
	free(st->path);
	free(st);
}

bool
store_is_pg(const struct store *st)
{
	return db_kind(st->db) == DB_PG;
}

#ifdef UPLINK_UNITTEST
void *store_db(struct store *st);
void store_test_freeze(struct store *st, bool on);

/* The SQLite connection, for tests that check its pragmas. */
void *
store_db(struct store *st)
{
	return db_sqlite_handle(st->db);
}

int64_t store_test_query(struct store *st, const char *sql);
int store_test_exec(struct store *st, const char *sql);

/* The first column of the first row of sql, -1 when none (tests). */
int64_t
store_test_query(struct store *st, const char *sql)
{
	struct db_stmt	*stmt;
	int64_t		 v = -1;

	if (db_prepare(st->db, sql, &stmt) != DB_OK)
		return -2;
	if (db_step(stmt) == DB_ROW)
		v = db_column_int64(stmt, 0);
	db_finalize(stmt);
	return v;
}

bool store_test_in_txn(struct store *st);

/* Whether a transaction is open (tests: refused writes leave none). */
bool
store_test_in_txn(struct store *st)
{
	return db_in_txn(st->db);
}

/* Runs SQL outside the store's checks; 0 when it succeeded (tests). */
int
store_test_exec(struct store *st, const char *sql)
{
	return db_exec(st->db, sql);
}

/* Makes every PostgreSQL call time out (the breaker's tests). */
void
store_test_freeze(struct store *st, bool on)
{
	db_pg_test_freeze(st->db, on);
}
#endif

/*
 * Inserts the site or, when the name exists (in any case), changes nothing:
 * "DO UPDATE SET name = sites.name" writes back the stored spelling, which makes
 * RETURNING give the existing row's id from the same statement.
 */
int
store_site_ensure(struct store *st, const char *name, int64_t *site_id,
    char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	if (!store_name_check("site name", name, err, errlen))
		return UPLINK_EINVAL;
	rc = store_prepare(st, "INSERT INTO sites(name, created_at) "
	    "VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET name = sites.name "
	    "RETURNING id", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((store_str(stmt, 1, name) | db_bind_int64(stmt, 2,
	    time(NULL))) != DB_OK || db_step(stmt) != DB_ROW)
		goto fail;
	*site_id = db_column_int64(stmt, 0);
	if (db_step(stmt) != DB_DONE)
		goto fail;
	db_finalize(stmt);
	return UPLINK_OK;
fail:
	rc = store_sqlfail(st, err, errlen, "adding site \"%s\"", name);
	db_finalize(stmt);
	return rc;
}

int
store_site_find(struct store *st, const char *name, int64_t *site_id,
    char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc, step;

	rc = store_prepare(st, "SELECT id FROM sites WHERE name = ?1", &stmt,
	    err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	step = store_str(stmt, 1, name);
	if (step == DB_OK)
		step = db_step(stmt);
	if (step == DB_ROW)
		*site_id = db_column_int64(stmt, 0);
	else if (step == DB_DONE)
		rc = store_msg(UPLINK_ENOTFOUND, err, errlen, "no site is "
		    "called \"%s\"", name);
	else
		rc = store_sqlfail(st, err, errlen, "looking up site \"%s\"",
		    name);
	db_finalize(stmt);
	return rc;
}

int
store_site_name(struct store *st, int64_t site_id,
    char name[STORE_NAME_MAX + 1], char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc, step;

	rc = store_prepare(st, "SELECT name FROM sites WHERE id = ?1", &stmt,
	    err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	step = db_bind_int64(stmt, 1, site_id);
	if (step == DB_OK)
		step = db_step(stmt);
	if (step == DB_ROW)
		store_column(stmt, 0, name, STORE_NAME_MAX + 1);
	else if (step == DB_DONE)
		rc = store_msg(UPLINK_ENOTFOUND, err, errlen, "no site has the "
		    "id %lld", (long long)site_id);
	else
		rc = store_sqlfail(st, err, errlen, "reading site %lld",
		    (long long)site_id);
	db_finalize(stmt);
	return rc;
}

/* Setting keys: 1-31 of [A-Za-z0-9_]; crl_number is not a text setting. */
static bool
store_setting_key_check(const char *key, char *err, size_t errlen)
{
	size_t	 len = strlen(key);

	if (len == 0 || len > STORE_ID_MAX || strspn(key, "abcdefghijklmnop"
	    "qrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != len) {
		store_msg(0, err, errlen, "setting names are 1 to %d letters, "
		    "digits or '_'", STORE_ID_MAX);
		return false;
	}
	if (strcmp(key, "crl_number") == 0) {
		store_msg(0, err, errlen, "crl_number is not a text setting: "
		    "use store_crl_next_number()");
		return false;
	}
	return true;
}

struct store_text {
	char	*dst;
	size_t	 len;
	bool	 fits;
};

static void
store_text_read(struct db_stmt *stmt, void *arg)
{
	struct store_text	*t = arg;

	t->fits = (size_t)db_column_bytes(stmt, 0) < t->len;
	store_column(stmt, 0, t->dst, t->len);
}

int
store_setting_get(struct store *st, const char *key, char *value,
    size_t valuelen, char *err, size_t errlen)
{
	struct store_text	 t = { value, valuelen, false };
	int			 rc;

	if (valuelen == 0 || !store_setting_key_check(key, err, errlen))
		return UPLINK_EINVAL;
	value[0] = '\0';
	rc = store_get_one(st, "SELECT value FROM settings WHERE key = ?1",
	    key, store_text_read, &t, "reading a setting", err, errlen);
	if (rc == UPLINK_ENOTFOUND)
		return store_msg(rc, err, errlen, "%s: the setting \"%s\" is "
		    "missing; was the database made by \"uplink-cloud init\"?",
		    st->path, key);
	if (rc == UPLINK_OK && !t.fits)
		return store_msg(UPLINK_ETOOBIG, err, errlen, "the setting "
		    "\"%s\" is longer than %zu bytes", key, valuelen - 1);
	return rc;
}

int
store_setting_set(struct store *st, const char *key, const char *value,
    char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	if (!store_setting_key_check(key, err, errlen) || !store_text_check(
	    key, value, STORE_SETTING_MAX, true, err, errlen))
		return UPLINK_EINVAL;
	rc = store_prepare(st, "INSERT INTO settings(key, value) VALUES "
	    "(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((store_str(stmt, 1, key) | store_str(stmt, 2, value)) !=
	    DB_OK || db_step(stmt) != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "setting \"%s\"", key);
	db_finalize(stmt);
	return rc;
}

int
store_data_version(struct store *st, int64_t *v, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	/*
	 * PostgreSQL: every write statement bumps data_version.v and, in
	 * its session, uplink.own (lib/store/store_pg.c), so the difference
	 * moves on other connections' commits only, as SQLite's pragma.
	 */
	rc = store_prepare(st, db_kind(st->db) == DB_PG ? "SELECT v - "
	    "coalesce(nullif(current_setting('uplink.own', true), '')::bigint,"
	    " 0) FROM data_version" : "PRAGMA data_version", &stmt, err,
	    errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (db_step(stmt) == DB_ROW)
		*v = db_column_int64(stmt, 0);
	else
		rc = store_sqlfail(st, err, errlen, "reading the data version");
	db_finalize(stmt);
	return rc;
}

/*
 * One statement, so it is its own transaction: the increment and the read
 * cannot be split, and the number is durable once DB_DONE is returned.
 */
int
store_crl_next_number(struct store *st, int64_t *n, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, db_kind(st->db) == DB_PG ? "UPDATE settings "
	    "SET value = (value::bigint + 1)::text WHERE key = 'crl_number' "
	    "RETURNING value" : "UPDATE settings SET value = value + 1 "
	    "WHERE key = 'crl_number' RETURNING value", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (db_step(stmt) != DB_ROW)
		rc = store_sqlfail(st, err, errlen, "taking a CRL number");
	else
		*n = db_column_int64(stmt, 0);
	if (rc == UPLINK_OK && db_step(stmt) != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "taking a CRL number");
	db_finalize(stmt);
	return rc;
}
