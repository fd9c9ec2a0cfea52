#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

#include "duration.h"
#include "error.h"
#include "store.h"
#include "token.h"
#include "unittest.h"

_Static_assert(STORE_HASH_LEN == TOKEN_HASH_LEN, "token hashes are stored");
_Static_assert(TOKEN_ID_SIZE <= STORE_ID_MAX + 1, "token ids are stored");
_Static_assert(STORE_CONNECTOR_ID_SIZE <= STORE_ID_MAX + 1, "id size");

#define STORE_WHEN_SIZE	80	/* "2025-01-02T03:04:05Z (1d2h ago)" */

struct store {
	sqlite3	*db;
	char	*path;
};

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
 * The array is visible to the unit tests, which build a version 1 file
 * from step 0 alone to test the upgrade.
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
};

_Static_assert(sizeof(store_migrations) / sizeof(store_migrations[0]) ==
    STORE_SCHEMA_VERSION, "one migration step per schema version");

#define STORE_CONNECTOR_COLUMNS \
	"id, site_id, name, cert_serial, cert_fingerprint, cert_not_after, " \
	"created_at, last_seen, revoked_at, version"

UNITTEST int store_migrate(struct store *st, const char *const *steps,
    size_t nsteps, char *err, size_t errlen);

/* Writes a message that needs no database context; returns rc. */
static int
store_msg(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
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

/* What to do about the SQLite errors an operator can fix. */
static const char *
store_hint(int code)
{
	switch (code & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return "; another process held the database for over 5 s: is "
		    "a second uplink-cloud running on it?";
	case SQLITE_FULL:
		return "; the disk is full: free space and retry";
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return "; check that uplink-cloud may read and write the file "
		    "and its directory";
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return "; the file is damaged or not an uplink-cloud database: "
		    "check the path or restore a backup";
	case SQLITE_IOERR:
		return "; the disk failed: check the system log";
	}
	return "";
}

/*
 * Reports a failed SQLite call as "PATH: WHAT: SQLITE MESSAGE; HINT" and
 * returns UPLINK_EIO (UPLINK_ENOMEM when SQLite ran out of memory).
 */
static int
store_sqlfail(struct store *st, char *err, size_t errlen, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static int
store_sqlfail(struct store *st, char *err, size_t errlen, const char *fmt,
    ...)
{
	va_list	 ap;
	int	 code = sqlite3_extended_errcode(st->db), n;

	if (err != NULL && errlen > 0) {
		n = snprintf(err, errlen, "%s: ", st->path);
		va_start(ap, fmt);
		if (n >= 0 && (size_t)n < errlen)
			vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
		n = (int)strlen(err);
		snprintf(err + n, errlen - (size_t)n, ": %s%s",
		    sqlite3_errmsg(st->db), store_hint(code));
	}
	return code == SQLITE_NOMEM ? UPLINK_ENOMEM : UPLINK_EIO;
}

static int
store_prepare(struct store *st, const char *sql, sqlite3_stmt **stmt,
    char *err, size_t errlen)
{
	*stmt = NULL;
	if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK)
		return store_sqlfail(st, err, errlen, "preparing \"%.60s\"",
		    sql);
	return UPLINK_OK;
}

/*
 * Binding helpers. Callers OR their results together: SQLITE_OK is 0, so
 * the result is non-zero when any bind failed, and checking once keeps
 * the list of parameters readable. store_str binds required text,
 * store_opt binds NULL for NULL or "", store_num binds 0 as NULL.
 */
static int
store_str(sqlite3_stmt *stmt, int i, const char *s)
{
	return sqlite3_bind_text(stmt, i, s, -1, SQLITE_STATIC);
}

static int
store_opt(sqlite3_stmt *stmt, int i, const char *s)
{
	if (s == NULL || *s == '\0')
		return sqlite3_bind_null(stmt, i);
	return store_str(stmt, i, s);
}

static int
store_num(sqlite3_stmt *stmt, int i, int64_t v)
{
	if (v == 0)
		return sqlite3_bind_null(stmt, i);
	return sqlite3_bind_int64(stmt, i, v);
}

/* Copies a text column; NULL reads as "". */
static void
store_column(sqlite3_stmt *stmt, int i, char *dst, size_t dstlen)
{
	const unsigned char	*t = sqlite3_column_text(stmt, i);

	snprintf(dst, dstlen, "%s", t != NULL ? (const char *)t : "");
}

/* Runs SQL that takes no parameters and returns no rows. */
static int
store_exec(struct store *st, const char *sql, const char *what, char *err,
    size_t errlen)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_sqlfail(st, err, errlen, "%s", what);
	return UPLINK_OK;
}

/*
 * Write transactions start IMMEDIATE: the write lock is taken before the
 * first read, so a check and the write that depends on it (a token is
 * unused, then mark it used) cannot be split by another writer.
 */
static int
store_begin(struct store *st, char *err, size_t errlen)
{
	return store_exec(st, "BEGIN IMMEDIATE", "starting a transaction", err,
	    errlen);
}

static int
store_commit(struct store *st, char *err, size_t errlen)
{
	return store_exec(st, "COMMIT", "committing", err, errlen);
}

/* Undoes an open transaction, if any; every write path ends here. */
static void
store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Formats t as "2025-01-02T03:04:05Z (1d2h ago)" for messages. */
static const char *
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

static int
store_no_connector(const char *id, char *err, size_t errlen)
{
	return store_msg(UPLINK_ENOTFOUND, err, errlen, "no connector has the "
	    "id \"%s\"", id);
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
static bool
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

/*
 * Sets the connection's pragmas. WAL is checked because SQLite keeps the
 * old journal mode, without an error, where WAL cannot work.
 */
static int
store_configure(struct store *st, char *err, size_t errlen)
{
	const unsigned char	*mode = NULL;
	sqlite3_stmt		*stmt;
	int			 rc;

	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	rc = store_prepare(st, "PRAGMA journal_mode = WAL", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		mode = sqlite3_column_text(stmt, 0);
	if (mode == NULL)
		rc = store_sqlfail(st, err, errlen, "switching to WAL mode");
	else if (strcmp((const char *)mode, "wal") != 0)
		rc = store_msg(UPLINK_EIO, err, errlen, "%s: SQLite cannot use "
		    "WAL mode here (it stays in \"%s\" mode): put the database "
		    "on a local file system", st->path, mode);
	sqlite3_finalize(stmt);
	if (rc == UPLINK_OK)
		rc = store_exec(st, "PRAGMA synchronous = FULL",
		    "setting pragmas", err, errlen);
	return rc;
}

/* Reads PRAGMA user_version, the schema version. */
static int
store_version(struct store *st, int *version, char *err, size_t errlen)
{
	sqlite3_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, "PRAGMA user_version", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		*version = sqlite3_column_int(stmt, 0);
	else
		rc = store_sqlfail(st, err, errlen, "reading the schema "
		    "version");
	sqlite3_finalize(stmt);
	return rc;
}

/* Fails when any row breaks a foreign key, naming its table. */
static int
store_fk_check(struct store *st, int v, char *err, size_t errlen)
{
	sqlite3_stmt	*stmt;
	int		 rc, step;

	rc = store_prepare(st, "PRAGMA foreign_key_check", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	step = sqlite3_step(stmt);
	if (step == SQLITE_ROW)
		rc = store_msg(UPLINK_EIO, err, errlen, "%s: upgrading the "
		    "schema from version %d to %d would leave rows in %s that "
		    "break a foreign key: the database is left at version %d",
		    st->path, v, v + 1, sqlite3_column_text(stmt, 0), v);
	else if (step != SQLITE_DONE)
		rc = store_sqlfail(st, err, errlen, "checking foreign keys");
	sqlite3_finalize(stmt);
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

	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
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
		sqlite3_exec(st->db, "PRAGMA foreign_keys = ON", NULL, NULL,
		    NULL);
	return rc;
}

int
store_open(const char *path, struct store **out, char *err, size_t errlen)
{
	struct store	*st;
	int		 rc, flags;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (st != NULL)
		st->path = strdup(path);
	if (st == NULL || st->path == NULL) {
		free(st);
		return store_msg(UPLINK_ENOMEM, err, errlen, "%s: out of "
		    "memory opening the database", path);
	}
	flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_EXRESCODE;
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		rc = st->db == NULL ? store_msg(UPLINK_ENOMEM, err, errlen,
		    "%s: out of memory opening the database", path) :
		    store_sqlfail(st, err, errlen, "cannot open");
		goto fail;
	}
	rc = store_configure(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_migrate(st, store_migrations, STORE_SCHEMA_VERSION,
		    err, errlen);
	if (rc != UPLINK_OK)
		goto fail;
	*out = st;
	return UPLINK_OK;
fail:
	store_close(st);
	return rc;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	/* Every statement is finalized where it was prepared, so this works. */
	sqlite3_close(st->db);
	free(st->path);
	free(st);
}

#ifdef UPLINK_UNITTEST
sqlite3 *store_db(struct store *st);

/* The connection, for tests that check its pragmas. */
sqlite3 *
store_db(struct store *st)
{
	return st->db;
}
#endif

/*
 * Inserts the site or, when the name exists (in any case), changes nothing:
 * "DO UPDATE SET name = name" writes back the stored spelling, which makes
 * RETURNING give the existing row's id from the same statement.
 */
int
store_site_ensure(struct store *st, const char *name, int64_t *site_id,
    char *err, size_t errlen)
{
	sqlite3_stmt	*stmt;
	int		 rc;

	if (!store_name_check("site name", name, err, errlen))
		return UPLINK_EINVAL;
	rc = store_prepare(st, "INSERT INTO sites(name, created_at) "
	    "VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET name = name "
	    "RETURNING id", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((store_str(stmt, 1, name) | sqlite3_bind_int64(stmt, 2,
	    time(NULL))) != SQLITE_OK || sqlite3_step(stmt) != SQLITE_ROW)
		goto fail;
	*site_id = sqlite3_column_int64(stmt, 0);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(stmt);
	return UPLINK_OK;
fail:
	rc = store_sqlfail(st, err, errlen, "adding site \"%s\"", name);
	sqlite3_finalize(stmt);
	return rc;
}

int
store_site_find(struct store *st, const char *name, int64_t *site_id,
    char *err, size_t errlen)
{
	sqlite3_stmt	*stmt;
	int		 rc, step;

	rc = store_prepare(st, "SELECT id FROM sites WHERE name = ?1", &stmt,
	    err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	step = store_str(stmt, 1, name);
	if (step == SQLITE_OK)
		step = sqlite3_step(stmt);
	if (step == SQLITE_ROW)
		*site_id = sqlite3_column_int64(stmt, 0);
	else if (step == SQLITE_DONE)
		rc = store_msg(UPLINK_ENOTFOUND, err, errlen, "no site is "
		    "called \"%s\"", name);
	else
		rc = store_sqlfail(st, err, errlen, "looking up site \"%s\"",
		    name);
	sqlite3_finalize(stmt);
	return rc;
}

/* Explains a failed insert: a missing parent row or a duplicate key. */
static int
store_insert_fail(struct store *st, const char *what, const char *dup,
    int64_t site_id, char *err, size_t errlen)
{
	switch (sqlite3_extended_errcode(st->db)) {
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return store_msg(UPLINK_ENOTFOUND, err, errlen, "%s: site %lld "
		    "does not exist", what, (long long)site_id);
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_UNIQUE:
		return store_msg(UPLINK_EINVAL, err, errlen, "%s: %s", what,
		    dup);
	}
	return store_sqlfail(st, err, errlen, "%s", what);
}

int
store_token_add(struct store *st, int64_t site_id, const char *token_id,
    const unsigned char hash[STORE_HASH_LEN], int64_t expires_at, char *err,
    size_t errlen)
{
	sqlite3_stmt	*stmt;
	char		 what[96];
	int		 rc;

	if (!store_text_check("token id", token_id, STORE_ID_MAX, false, err,
	    errlen))
		return UPLINK_EINVAL;
	rc = store_prepare(st, "INSERT INTO enrollment_tokens(id, site_id, "
	    "secret_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	snprintf(what, sizeof(what), "adding token %s", token_id);
	if ((store_str(stmt, 1, token_id) | sqlite3_bind_int64(stmt, 2,
	    site_id) | sqlite3_bind_blob(stmt, 3, hash, STORE_HASH_LEN,
	    SQLITE_STATIC) | sqlite3_bind_int64(stmt, 4, time(NULL)) |
	    sqlite3_bind_int64(stmt, 5, expires_at)) != SQLITE_OK)
		rc = store_sqlfail(st, err, errlen, "%s", what);
	else if (sqlite3_step(stmt) != SQLITE_DONE)
		rc = store_insert_fail(st, what, "a token with this id or "
		    "secret exists already; create the token again", site_id,
		    err, errlen);
	sqlite3_finalize(stmt);
	return rc;
}

/*
 * Steps through a query's rows, calling row() for each; a non-zero return
 * stops the walk and is returned. Finalizes stmt. what names the query in
 * a failure message ("listing tokens").
 */
static int
store_walk(struct store *st, sqlite3_stmt *stmt,
    int (*row)(sqlite3_stmt *, void *), void *arg, const char *what,
    char *err, size_t errlen)
{
	int	 rc = UPLINK_OK, step;

	for (;;) {
		step = sqlite3_step(stmt);
		if (step != SQLITE_ROW)
			break;
		rc = row(stmt, arg);
		if (rc != 0)
			break;
	}
	if (rc == UPLINK_OK && step != SQLITE_DONE)
		rc = store_sqlfail(st, err, errlen, "%s", what);
	sqlite3_finalize(stmt);
	return rc;
}

#define STORE_TOKEN_SELECT \
	"SELECT t.id, t.site_id, s.name, t.created_at, t.expires_at, " \
	"coalesce(t.used_at, 0), t.used_by, coalesce(t.revoked_at, 0) " \
	"FROM enrollment_tokens t JOIN sites s ON s.id = t.site_id "

static void
store_token_read(sqlite3_stmt *stmt, struct store_token *t)
{
	memset(t, 0, sizeof(*t));
	store_column(stmt, 0, t->id, sizeof(t->id));
	t->site_id = sqlite3_column_int64(stmt, 1);
	store_column(stmt, 2, t->site_name, sizeof(t->site_name));
	t->created_at = sqlite3_column_int64(stmt, 3);
	t->expires_at = sqlite3_column_int64(stmt, 4);
	t->used_at = sqlite3_column_int64(stmt, 5);
	store_column(stmt, 6, t->used_by, sizeof(t->used_by));
	t->revoked_at = sqlite3_column_int64(stmt, 7);
}

/*
 * Finds a token by the hash of its secret (hash non-NULL) or by id. The
 * lookup by hash is an index search, not a constant-time compare, and need
 * not be: timing could at most reveal bits of a SHA-256 output, which does
 * not help anyone find a 256-bit secret.
 */
static int
store_token_find(struct store *st, const unsigned char *hash, const char *id,
    struct store_token *t, char *err, size_t errlen)
{
	sqlite3_stmt	*stmt;
	int		 rc, step;

	rc = store_prepare(st, hash != NULL ? STORE_TOKEN_SELECT
	    "WHERE t.secret_hash = ?1" : STORE_TOKEN_SELECT "WHERE t.id = ?1",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (hash != NULL)
		step = sqlite3_bind_blob(stmt, 1, hash, STORE_HASH_LEN,
		    SQLITE_STATIC);
	else
		step = store_str(stmt, 1, id);
	if (step == SQLITE_OK)
		step = sqlite3_step(stmt);
	if (step == SQLITE_ROW)
		store_token_read(stmt, t);
	else if (step == SQLITE_DONE)
		rc = UPLINK_ENOTFOUND;
	else
		rc = store_sqlfail(st, err, errlen, "looking up a token");
	sqlite3_finalize(stmt);
	return rc;
}

/* Decides whether a token may be used at now; says why not in err. */
static enum store_token_state
store_token_verdict(const struct store_token *t, int64_t now, char *err,
    size_t errlen)
{
	char	 when[STORE_WHEN_SIZE];

	if (t->used_at != 0) {
		store_msg(0, err, errlen, "token %s for site \"%s\" was "
		    "already used at %s by connector %s", t->id, t->site_name,
		    store_when(t->used_at, now, when), t->used_by);
		return STORE_TOKEN_USED;
	}
	if (t->revoked_at != 0) {
		store_msg(0, err, errlen, "token %s for site \"%s\" was "
		    "revoked at %s", t->id, t->site_name,
		    store_when(t->revoked_at, now, when));
		return STORE_TOKEN_REVOKED;
	}
	if (now >= t->expires_at) {
		store_msg(0, err, errlen, "token %s for site \"%s\" expired at "
		    "%s; create a new one with \"uplink-cloud token create "
		    "--site %s\"", t->id, t->site_name,
		    store_when(t->expires_at, now, when), t->site_name);
		return STORE_TOKEN_EXPIRED;
	}
	return STORE_TOKEN_CONSUMED;
}

/*
 * Runs an UPDATE whose parameters are ?1 = id, ?2 = a time and optionally
 * ?3 = text, and which must change exactly one row.
 */
static int
store_update(struct store *st, const char *sql, const char *id, int64_t t,
    const char *text, const char *what, char *err, size_t errlen)
{
	sqlite3_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, sql, &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((store_str(stmt, 1, id) | sqlite3_bind_int64(stmt, 2, t) |
	    (text != NULL ? store_str(stmt, 3, text) : SQLITE_OK)) !=
	    SQLITE_OK || sqlite3_step(stmt) != SQLITE_DONE)
		rc = store_sqlfail(st, err, errlen, "%s %s", what, id);
	else if (sqlite3_changes(st->db) != 1)
		rc = store_msg(UPLINK_ENOTFOUND, err, errlen, "%s %s: no such "
		    "row", what, id);
	sqlite3_finalize(stmt);
	return rc;
}

static void
store_use_init(struct store_token_use *use)
{
	memset(use, 0, sizeof(*use));
	use->state = STORE_TOKEN_FAILED;
}

/*
 * Finds the token whose secret hashes to hash and judges it at now,
 * filling use, in the caller's transaction if there is one. UPLINK_OK
 * (use->state STORE_TOKEN_CONSUMED) when it may be used.
 */
static int
store_token_judge(struct store *st, const unsigned char *hash, int64_t now,
    struct store_token_use *use, char *err, size_t errlen)
{
	struct store_token	 t;
	int			 rc;

	rc = store_token_find(st, hash, NULL, &t, err, errlen);
	if (rc == UPLINK_ENOTFOUND) {
		use->state = STORE_TOKEN_UNKNOWN;
		return store_msg(rc, err, errlen, "no enrollment token has the "
		    "secret presented (mistyped, or from another "
		    "uplink-cloud)");
	}
	if (rc != UPLINK_OK)
		return rc;
	snprintf(use->token_id, sizeof(use->token_id), "%s", t.id);
	use->site_id = t.site_id;
	snprintf(use->site_name, sizeof(use->site_name), "%s", t.site_name);
	use->state = store_token_verdict(&t, now, err, errlen);
	return use->state == STORE_TOKEN_CONSUMED ? UPLINK_OK : UPLINK_EINVAL;
}

static int
store_token_mark_used(struct store *st, const char *token_id, int64_t now,
    const char *connector_id, char *err, size_t errlen)
{
	return store_update(st, "UPDATE enrollment_tokens SET used_at = ?2, "
	    "used_by = ?3 WHERE id = ?1", token_id, now, connector_id,
	    "marking used token", err, errlen);
}

int
store_token_consume(struct store *st,
    const unsigned char hash[STORE_HASH_LEN], int64_t now,
    const char *connector_id, struct store_token_use *use, char *err,
    size_t errlen)
{
	int	 rc;

	store_use_init(use);
	if (!store_text_check("connector id", connector_id, STORE_ID_MAX,
	    false, err, errlen))
		return UPLINK_EINVAL;
	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_token_judge(st, hash, now, use, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_token_mark_used(st, use->token_id, now,
		    connector_id, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	if (rc != UPLINK_OK && use->state == STORE_TOKEN_CONSUMED)
		use->state = STORE_TOKEN_FAILED;
	store_rollback(st);
	return rc;
}

int
store_token_check(struct store *st, const unsigned char hash[STORE_HASH_LEN],
    int64_t now, struct store_token_use *use, char *err, size_t errlen)
{
	store_use_init(use);
	return store_token_judge(st, hash, now, use, err, errlen);
}

int
store_token_revoke(struct store *st, const char *token_id, int64_t now,
    char *err, size_t errlen)
{
	struct store_token	 t;
	enum store_token_state	 state;
	int			 rc;

	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_token_find(st, NULL, token_id, &t, err, errlen);
	if (rc == UPLINK_ENOTFOUND)
		store_msg(0, err, errlen, "no enrollment token has the id "
		    "\"%s\"", token_id);
	if (rc != UPLINK_OK)
		goto out;
	/* Used or revoked tokens are refused; expired ones may be revoked. */
	state = store_token_verdict(&t, now, err, errlen);
	if (state == STORE_TOKEN_USED || state == STORE_TOKEN_REVOKED) {
		rc = UPLINK_EINVAL;
		goto out;
	}
	rc = store_update(st, "UPDATE enrollment_tokens SET revoked_at = ?2 "
	    "WHERE id = ?1", token_id, now, NULL, "revoking token", err,
	    errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
out:
	store_rollback(st);
	return rc;
}

/* A list callback and its argument, for the row functions of store_walk. */
struct store_cb {
	union {
		store_token_cb	 token;
		store_apikey_cb	 apikey;
	}	 fn;
	void	*arg;
};

static int
store_token_row(sqlite3_stmt *stmt, void *arg)
{
	struct store_cb		*cb = arg;
	struct store_token	 t;

	store_token_read(stmt, &t);
	return cb->fn.token(cb->arg, &t);
}

int
store_token_list(struct store *st, store_token_cb fn, void *arg, char *err,
    size_t errlen)
{
	struct store_cb	 cb = { .fn.token = fn, .arg = arg };
	sqlite3_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, STORE_TOKEN_SELECT "ORDER BY t.created_at, "
	    "t.id", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_walk(st, stmt, store_token_row, &cb, "listing tokens",
	    err, errlen);
}

void
store_connector_id_new(char id[STORE_CONNECTOR_ID_SIZE])
{
	unsigned char	 r[(STORE_CONNECTOR_ID_SIZE - 3) / 2];

	/* randombytes_buf() needs no sodium_init() and cannot fail. */
	randombytes_buf(r, sizeof(r));
	id[0] = 'c';
	id[1] = '-';
	sodium_bin2hex(id + 2, STORE_CONNECTOR_ID_SIZE - 2, r, sizeof(r));
}

/* Checks the certificate fields of a connector or a renewal. */
static bool
store_cert_check(const char *serial, const char *fpr, bool empty_ok,
    char *err, size_t errlen)
{
	return store_text_check("certificate serial", serial,
	    STORE_SERIAL_MAX, empty_ok, err, errlen) &&
	    store_text_check("certificate fingerprint", fpr, STORE_FPR_MAX,
	    empty_ok, err, errlen);
}

static int
store_connector_check(const struct store_connector *c, char *err,
    size_t errlen)
{
	if (!store_text_check("connector id", c->id, STORE_ID_MAX, false, err,
	    errlen) || !store_name_check("connector name", c->name, err,
	    errlen) || !store_cert_check(c->cert_serial, c->cert_fingerprint,
	    true, err, errlen) || !store_text_check("connector version",
	    c->version, STORE_VERSION_MAX, true, err, errlen))
		return UPLINK_EINVAL;
	if ((c->cert_serial[0] == '\0') != (c->cert_fingerprint[0] == '\0'))
		return store_msg(UPLINK_EINVAL, err, errlen, "connector %s: "
		    "give both a certificate serial and fingerprint, or "
		    "neither", c->id);
	return UPLINK_OK;
}

/* Adds a certificate to a connector's history. */
static int
store_cert_add(struct store *st, const char *id, const char *serial,
    const char *fpr, int64_t not_after, char *err, size_t errlen)
{
	sqlite3_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, "INSERT INTO certs(serial, connector_id, "
	    "fingerprint, not_after, issued_at) VALUES (?1, ?2, ?3, ?4, ?5)",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((store_str(stmt, 1, serial) | store_str(stmt, 2, id) |
	    store_str(stmt, 3, fpr) | sqlite3_bind_int64(stmt, 4, not_after) |
	    sqlite3_bind_int64(stmt, 5, time(NULL))) != SQLITE_OK)
		rc = store_sqlfail(st, err, errlen, "recording certificate %s",
		    serial);
	else if (sqlite3_step(stmt) != SQLITE_DONE)
		rc = store_insert_fail(st, "recording certificate", "this "
		    "serial was recorded before; the CA must not reuse "
		    "serials", 0, err, errlen);
	sqlite3_finalize(stmt);
	return rc;
}

static int
store_connector_insert(struct store *st, const struct store_connector *c,
    char *err, size_t errlen)
{
	sqlite3_stmt	*stmt;
	char		 what[96];
	int64_t		 created;
	int		 rc;

	rc = store_prepare(st, "INSERT INTO connectors("
	    STORE_CONNECTOR_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
	    "?8, ?9, ?10)", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	snprintf(what, sizeof(what), "adding connector %s", c->id);
	created = c->created_at != 0 ? c->created_at : time(NULL);
	/* Zero means "none" in the struct and NULL in the table. */
	if ((store_str(stmt, 1, c->id) | sqlite3_bind_int64(stmt, 2,
	    c->site_id) | store_str(stmt, 3, c->name) | store_opt(stmt, 4,
	    c->cert_serial) | store_opt(stmt, 5, c->cert_fingerprint) |
	    store_num(stmt, 6, c->cert_not_after) | sqlite3_bind_int64(stmt,
	    7, created) | store_num(stmt, 8, c->last_seen) | store_num(stmt,
	    9, c->revoked_at) | store_opt(stmt, 10, c->version)) != SQLITE_OK)
		rc = store_sqlfail(st, err, errlen, "%s", what);
	else if (sqlite3_step(stmt) != SQLITE_DONE)
		rc = store_insert_fail(st, what, "this id is taken; draw "
		    "another with store_connector_id_new()", c->site_id, err,
		    errlen);
	sqlite3_finalize(stmt);
	return rc;
}

/* Inserts a connector and its certificate, in the caller's transaction. */
static int
store_connector_new(struct store *st, const struct store_connector *c,
    char *err, size_t errlen)
{
	int	 rc;

	rc = store_connector_insert(st, c, err, errlen);
	if (rc == UPLINK_OK && c->cert_serial[0] != '\0')
		rc = store_cert_add(st, c->id, c->cert_serial,
		    c->cert_fingerprint, c->cert_not_after, err, errlen);
	return rc;
}

int
store_connector_add(struct store *st, const struct store_connector *c,
    char *err, size_t errlen)
{
	int	 rc;

	rc = store_connector_check(c, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_connector_new(st, c, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	store_rollback(st);
	return rc;
}

/*
 * The token is judged, the connector added and the token marked used
 * inside one IMMEDIATE transaction, so a second enrollment with the same
 * token waits for this one and then finds it used.
 */
int
store_enroll(struct store *st, const unsigned char hash[STORE_HASH_LEN],
    int64_t now, const struct store_connector *c, struct store_token_use *use,
    char *err, size_t errlen)
{
	struct store_connector	 k = *c;
	int			 rc;

	store_use_init(use);
	rc = store_connector_check(c, err, errlen);
	if (rc == UPLINK_OK && c->cert_serial[0] == '\0')
		rc = store_msg(UPLINK_EINVAL, err, errlen, "connector %s: "
		    "enrolling needs the certificate issued to it", c->id);
	if (rc == UPLINK_OK)
		rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_token_judge(st, hash, now, use, err, errlen);
	if (rc == UPLINK_OK) {
		k.site_id = use->site_id;
		rc = store_connector_new(st, &k, err, errlen);
	}
	if (rc == UPLINK_OK)
		rc = store_token_mark_used(st, use->token_id, now, c->id, err,
		    errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	if (rc != UPLINK_OK && use->state == STORE_TOKEN_CONSUMED)
		use->state = STORE_TOKEN_FAILED;
	store_rollback(st);
	return rc;
}

static void
store_connector_read(sqlite3_stmt *stmt, struct store_connector *c)
{
	memset(c, 0, sizeof(*c));
	store_column(stmt, 0, c->id, sizeof(c->id));
	c->site_id = sqlite3_column_int64(stmt, 1);
	store_column(stmt, 2, c->name, sizeof(c->name));
	store_column(stmt, 3, c->cert_serial, sizeof(c->cert_serial));
	store_column(stmt, 4, c->cert_fingerprint,
	    sizeof(c->cert_fingerprint));
	c->cert_not_after = sqlite3_column_int64(stmt, 5);
	c->created_at = sqlite3_column_int64(stmt, 6);
	c->last_seen = sqlite3_column_int64(stmt, 7);
	c->revoked_at = sqlite3_column_int64(stmt, 8);
	store_column(stmt, 9, c->version, sizeof(c->version));
}

int
store_connector_get(struct store *st, const char *id,
    struct store_connector *out, char *err, size_t errlen)
{
	sqlite3_stmt	*stmt;
	int		 rc, step;

	rc = store_prepare(st, "SELECT " STORE_CONNECTOR_COLUMNS " FROM "
	    "connectors WHERE id = ?1", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	step = store_str(stmt, 1, id);
	if (step == SQLITE_OK)
		step = sqlite3_step(stmt);
	if (step == SQLITE_ROW)
		store_connector_read(stmt, out);
	else if (step == SQLITE_DONE)
		rc = store_no_connector(id, err, errlen);
	else
		rc = store_sqlfail(st, err, errlen, "reading connector %s", id);
	sqlite3_finalize(stmt);
	return rc;
}

/*
 * Reads a connector inside a write transaction and refuses a revoked one,
 * which neither gets a new certificate nor is revoked twice.
 */
static int
store_connector_live(struct store *st, const char *id, int64_t now,
    const char *doing, char *err, size_t errlen)
{
	struct store_connector	 c;
	char			 when[STORE_WHEN_SIZE];
	int			 rc;

	rc = store_connector_get(st, id, &c, err, errlen);
	if (rc == UPLINK_OK && c.revoked_at != 0)
		rc = store_msg(UPLINK_EINVAL, err, errlen, "cannot %s "
		    "connector %s (\"%s\"): it was revoked at %s", doing, id,
		    c.name, store_when(c.revoked_at, now, when));
	return rc;
}

int
store_connector_update_cert(struct store *st, const char *id,
    const char *serial, const char *fingerprint, int64_t not_after,
    char *err, size_t errlen)
{
	sqlite3_stmt	*stmt = NULL;
	int		 rc;

	if (!store_cert_check(serial, fingerprint, false, err, errlen))
		return UPLINK_EINVAL;
	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_connector_live(st, id, time(NULL), "renew the "
		    "certificate of", err, errlen);
	if (rc == UPLINK_OK)
		rc = store_prepare(st, "UPDATE connectors SET cert_serial = "
		    "?2, cert_fingerprint = ?3, cert_not_after = ?4 WHERE "
		    "id = ?1", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		goto out;
	if ((store_str(stmt, 1, id) | store_str(stmt, 2, serial) |
	    store_str(stmt, 3, fingerprint) | sqlite3_bind_int64(stmt, 4,
	    not_after)) != SQLITE_OK || sqlite3_step(stmt) != SQLITE_DONE)
		rc = store_sqlfail(st, err, errlen, "updating the certificate "
		    "of connector %s", id);
	sqlite3_finalize(stmt);
	if (rc == UPLINK_OK)
		rc = store_cert_add(st, id, serial, fingerprint, not_after,
		    err, errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
out:
	store_rollback(st);
	return rc;
}

int
store_connector_revoke(struct store *st, const char *id, int64_t now,
    char *err, size_t errlen)
{
	int	 rc;

	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_connector_live(st, id, now, "revoke", err, errlen);
	if (rc == UPLINK_OK)
		rc = store_update(st, "UPDATE connectors SET revoked_at = ?2 "
		    "WHERE id = ?1", id, now, NULL, "revoking connector", err,
		    errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	store_rollback(st);
	return rc;
}

int
store_connector_touch(struct store *st, const char *id, int64_t now,
    const char *version, char *err, size_t errlen)
{
	int	 rc;

	if (version != NULL && !store_text_check("connector version",
	    version, STORE_VERSION_MAX, true, err, errlen))
		return UPLINK_EINVAL;
	rc = store_update(st, "UPDATE connectors SET last_seen = ?2, "
	    "version = coalesce(?3, version) WHERE id = ?1", id, now, version,
	    "updating connector", err, errlen);
	if (rc == UPLINK_ENOTFOUND)
		rc = store_no_connector(id, err, errlen);
	return rc;
}

int
store_connector_list(struct store *st, int64_t site_id,
    store_connector_cb cb, void *arg, char *err, size_t errlen)
{
	struct store_connector	 c;
	sqlite3_stmt		*stmt;
	int			 rc, step;

	rc = store_prepare(st, "SELECT " STORE_CONNECTOR_COLUMNS " FROM "
	    "connectors WHERE ?1 = 0 OR site_id = ?1 ORDER BY site_id, name, "
	    "id", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	step = sqlite3_bind_int64(stmt, 1, site_id);
	while (step == SQLITE_OK) {
		step = sqlite3_step(stmt);
		if (step != SQLITE_ROW)
			break;
		store_connector_read(stmt, &c);
		rc = cb(arg, &c);
		if (rc != 0)
			break;
		step = SQLITE_OK;
	}
	if (rc == UPLINK_OK && step != SQLITE_DONE)
		rc = store_sqlfail(st, err, errlen, "listing connectors");
	sqlite3_finalize(stmt);
	return rc;
}

int
store_revoked_serials(struct store *st, store_serial_cb cb, void *arg,
    char *err, size_t errlen)
{
	const unsigned char	*serial;
	sqlite3_stmt		*stmt;
	int			 rc, step;

	rc = store_prepare(st, "SELECT c.serial, k.revoked_at, c.not_after "
	    "FROM certs c JOIN connectors k ON k.id = c.connector_id "
	    "WHERE k.revoked_at IS NOT NULL ORDER BY c.serial", &stmt, err,
	    errlen);
	if (rc != UPLINK_OK)
		return rc;
	for (;;) {
		step = sqlite3_step(stmt);
		if (step != SQLITE_ROW)
			break;
		serial = sqlite3_column_text(stmt, 0);
		if (serial == NULL) {
			step = SQLITE_NOMEM;
			break;
		}
		rc = cb(arg, (const char *)serial,
		    sqlite3_column_int64(stmt, 1),
		    sqlite3_column_int64(stmt, 2));
		if (rc != 0)
			break;
	}
	if (rc == UPLINK_OK && step != SQLITE_DONE)
		rc = store_sqlfail(st, err, errlen, "listing revoked "
		    "certificates");
	sqlite3_finalize(stmt);
	return rc;
}

/*
 * One statement, so it is its own transaction: the increment and the read
 * cannot be split, and the number is durable once SQLITE_DONE is returned.
 */
int
store_crl_next_number(struct store *st, int64_t *n, char *err, size_t errlen)
{
	sqlite3_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, "UPDATE settings SET value = value + 1 "
	    "WHERE key = 'crl_number' RETURNING value", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (sqlite3_step(stmt) != SQLITE_ROW)
		rc = store_sqlfail(st, err, errlen, "taking a CRL number");
	else
		*n = sqlite3_column_int64(stmt, 0);
	if (rc == UPLINK_OK && sqlite3_step(stmt) != SQLITE_DONE)
		rc = store_sqlfail(st, err, errlen, "taking a CRL number");
	sqlite3_finalize(stmt);
	return rc;
}

/*
 * Runs a query for one row by a text key (?1), calling read() on it.
 * UPLINK_ENOTFOUND, with no message, when there is no such row.
 */
static int
store_get_one(struct store *st, const char *sql, const char *key,
    void (*read)(sqlite3_stmt *, void *), void *out, const char *what,
    char *err, size_t errlen)
{
	sqlite3_stmt	*stmt;
	int		 rc, step;

	rc = store_prepare(st, sql, &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	step = store_str(stmt, 1, key);
	if (step == SQLITE_OK)
		step = sqlite3_step(stmt);
	if (step == SQLITE_ROW)
		read(stmt, out);
	else if (step == SQLITE_DONE)
		rc = UPLINK_ENOTFOUND;
	else
		rc = store_sqlfail(st, err, errlen, "%s", what);
	sqlite3_finalize(stmt);
	return rc;
}

static void
store_owner_read(sqlite3_stmt *stmt, void *arg)
{
	struct store_cert_owner	*o = arg;

	memset(o, 0, sizeof(*o));
	store_column(stmt, 0, o->connector_id, sizeof(o->connector_id));
	store_column(stmt, 1, o->connector_name, sizeof(o->connector_name));
	o->site_id = sqlite3_column_int64(stmt, 2);
	store_column(stmt, 3, o->site_name, sizeof(o->site_name));
	o->not_after = sqlite3_column_int64(stmt, 4);
	o->current = sqlite3_column_int(stmt, 5) != 0;
	o->revoked_at = sqlite3_column_int64(stmt, 6);
}

int
store_cert_lookup(struct store *st, const char *serial,
    struct store_cert_owner *owner, char *err, size_t errlen)
{
	int	 rc;

	rc = store_get_one(st, "SELECT k.id, k.name, k.site_id, s.name, "
	    "c.not_after, coalesce(k.cert_serial = c.serial, 0), "
	    "coalesce(k.revoked_at, 0) FROM certs c JOIN connectors k ON "
	    "k.id = c.connector_id JOIN sites s ON s.id = k.site_id WHERE "
	    "c.serial = ?1", serial, store_owner_read, owner, "looking up a "
	    "certificate serial", err, errlen);
	if (rc == UPLINK_ENOTFOUND)
		store_msg(rc, err, errlen, "no connector was issued a "
		    "certificate with serial %.64s", serial);
	return rc;
}

int
store_site_name(struct store *st, int64_t site_id,
    char name[STORE_NAME_MAX + 1], char *err, size_t errlen)
{
	sqlite3_stmt	*stmt;
	int		 rc, step;

	rc = store_prepare(st, "SELECT name FROM sites WHERE id = ?1", &stmt,
	    err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	step = sqlite3_bind_int64(stmt, 1, site_id);
	if (step == SQLITE_OK)
		step = sqlite3_step(stmt);
	if (step == SQLITE_ROW)
		store_column(stmt, 0, name, STORE_NAME_MAX + 1);
	else if (step == SQLITE_DONE)
		rc = store_msg(UPLINK_ENOTFOUND, err, errlen, "no site has the "
		    "id %lld", (long long)site_id);
	else
		rc = store_sqlfail(st, err, errlen, "reading site %lld",
		    (long long)site_id);
	sqlite3_finalize(stmt);
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
store_text_read(sqlite3_stmt *stmt, void *arg)
{
	struct store_text	*t = arg;

	t->fits = (size_t)sqlite3_column_bytes(stmt, 0) < t->len;
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
	sqlite3_stmt	*stmt;
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
	    SQLITE_OK || sqlite3_step(stmt) != SQLITE_DONE)
		rc = store_sqlfail(st, err, errlen, "setting \"%s\"", key);
	sqlite3_finalize(stmt);
	return rc;
}

/*
 * API key ids are exactly what lib/apikey.c puts in a key: 12 lowercase
 * hex digits. Anything else is quoted back only when it is short,
 * printable text, since it comes from a command line.
 */
static int
store_key_id_check(const char *id, char *err, size_t errlen)
{
	size_t	 len = strlen(id);

	if (len == STORE_KEY_ID_LEN && strspn(id, "0123456789abcdef") == len)
		return UPLINK_OK;
	if (store_text_check("API key id", id, STORE_ID_MAX, false, NULL, 0))
		return store_msg(UPLINK_EINVAL, err, errlen, "\"%s\" is not an "
		    "API key id, which is 12 lowercase hex digits (see "
		    "\"uplink-cloud key list\")", id);
	return store_msg(UPLINK_EINVAL, err, errlen, "an API key id is 12 "
	    "lowercase hex digits (see \"uplink-cloud key list\")");
}

static int
store_apikey_check(const struct store_apikey *k, char *err, size_t errlen)
{
	int	 rc;

	rc = store_key_id_check(k->id, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (!store_name_check("key name", k->name, err, errlen))
		return UPLINK_EINVAL;
	if (strcmp(k->scope, "full") != 0 && strcmp(k->scope, "read") != 0)
		return store_msg(UPLINK_EINVAL, err, errlen, "API key scope "
		    "\"%.8s\" is neither \"full\" nor \"read\"", k->scope);
	return UPLINK_OK;
}

int
store_apikey_add(struct store *st, const struct store_apikey *k, char *err,
    size_t errlen)
{
	sqlite3_stmt	*stmt;
	char		 what[64];
	int		 rc;

	rc = store_apikey_check(k, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_prepare(st, "INSERT INTO api_keys(id, name, scope, "
		    "secret_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
		    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	snprintf(what, sizeof(what), "adding API key %s", k->id);
	if ((store_str(stmt, 1, k->id) | store_str(stmt, 2, k->name) |
	    store_str(stmt, 3, k->scope) | sqlite3_bind_blob(stmt, 4,
	    k->secret_hash, STORE_HASH_LEN, SQLITE_STATIC) |
	    sqlite3_bind_int64(stmt, 5, k->created_at != 0 ? k->created_at :
	    time(NULL))) != SQLITE_OK)
		rc = store_sqlfail(st, err, errlen, "%s", what);
	else if (sqlite3_step(stmt) != SQLITE_DONE)
		rc = store_insert_fail(st, what, "this id is taken; create "
		    "the key again", 0, err, errlen);
	sqlite3_finalize(stmt);
	return rc;
}

#define STORE_APIKEY_SELECT \
	"SELECT id, name, scope, secret_hash, created_at, " \
	"coalesce(last_used, 0), coalesce(revoked_at, 0) FROM api_keys "

static void
store_apikey_read(sqlite3_stmt *stmt, void *arg)
{
	struct store_apikey	*k = arg;
	const void		*hash;

	memset(k, 0, sizeof(*k));
	store_column(stmt, 0, k->id, sizeof(k->id));
	store_column(stmt, 1, k->name, sizeof(k->name));
	store_column(stmt, 2, k->scope, sizeof(k->scope));
	/* The table's CHECK keeps every hash 32 bytes long. */
	hash = sqlite3_column_blob(stmt, 3);
	if (hash != NULL && sqlite3_column_bytes(stmt, 3) == STORE_HASH_LEN)
		memcpy(k->secret_hash, hash, STORE_HASH_LEN);
	k->created_at = sqlite3_column_int64(stmt, 4);
	k->last_used = sqlite3_column_int64(stmt, 5);
	k->revoked_at = sqlite3_column_int64(stmt, 6);
}

static int
store_no_apikey(const char *id, char *err, size_t errlen)
{
	return store_msg(UPLINK_ENOTFOUND, err, errlen, "no API key has the "
	    "id \"%s\"", id);
}

int
store_apikey_get(struct store *st, const char *id, struct store_apikey *out,
    char *err, size_t errlen)
{
	int	 rc;

	rc = store_key_id_check(id, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_get_one(st, STORE_APIKEY_SELECT "WHERE id = ?1", id,
		    store_apikey_read, out, "reading an API key", err, errlen);
	if (rc == UPLINK_ENOTFOUND)
		return store_no_apikey(id, err, errlen);
	return rc;
}

static int
store_apikey_row(sqlite3_stmt *stmt, void *arg)
{
	struct store_cb		*cb = arg;
	struct store_apikey	 k;

	store_apikey_read(stmt, &k);
	return cb->fn.apikey(cb->arg, &k);
}

int
store_apikey_list(struct store *st, store_apikey_cb fn, void *arg, char *err,
    size_t errlen)
{
	struct store_cb	 cb = { .fn.apikey = fn, .arg = arg };
	sqlite3_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, STORE_APIKEY_SELECT "ORDER BY created_at, id",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_walk(st, stmt, store_apikey_row, &cb, "listing API keys",
	    err, errlen);
}

int
store_apikey_revoke(struct store *st, const char *id, int64_t now, char *err,
    size_t errlen)
{
	struct store_apikey	 k;
	char			 when[STORE_WHEN_SIZE];
	int			 rc;

	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_apikey_get(st, id, &k, err, errlen);
	if (rc == UPLINK_OK && k.revoked_at != 0)
		rc = store_msg(UPLINK_EINVAL, err, errlen, "API key %s (\"%s\") "
		    "was revoked at %s", id, k.name, store_when(k.revoked_at,
		    now, when));
	if (rc == UPLINK_OK)
		rc = store_update(st, "UPDATE api_keys SET revoked_at = ?2 "
		    "WHERE id = ?1", id, now, NULL, "revoking API key", err,
		    errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	store_rollback(st);
	return rc;
}

int
store_apikey_touch(struct store *st, const char *id, int64_t now, char *err,
    size_t errlen)
{
	int	 rc;

	rc = store_update(st, "UPDATE api_keys SET last_used = ?2 WHERE id = "
	    "?1", id, now, NULL, "recording the use of API key", err, errlen);
	if (rc == UPLINK_ENOTFOUND)
		rc = store_no_apikey(id, err, errlen);
	return rc;
}

int
store_data_version(struct store *st, int64_t *v, char *err, size_t errlen)
{
	sqlite3_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, "PRAGMA data_version", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		*v = sqlite3_column_int64(stmt, 0);
	else
		rc = store_sqlfail(st, err, errlen, "reading the data version");
	sqlite3_finalize(stmt);
	return rc;
}
