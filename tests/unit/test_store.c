/*
 * store: the cloud's SQLite database. Each test gets a fresh directory with
 * no database in it. Covers migrations (fresh, reopen, a failing step, a
 * newer schema, a version 1 file), pragmas, names, the token life cycle
 * with every refusal, enrollment in one transaction, connectors and their
 * certificates, lookups by serial, settings, API keys, the CRL number,
 * foreign keys and durability across kill -9.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "error.h"
#include "store.h"
#include "token.h"

/* UNITTEST helpers of lib/store.c. */
int store_migrate(struct store *st, const char *const *steps, size_t nsteps,
    char *err, size_t errlen);
void *store_db(struct store *st);
int64_t store_test_query(struct store *st, const char *sql);
int store_test_exec(struct store *st, const char *sql);
void store_test_freeze(struct store *st, bool on);
extern const char *const store_migrations[];

#define NOW	1700000000

#include "storefix.h"

static struct store *
open_ok(const char *path)
{
	struct store	*st;
	char		 err[512];

	if (store_open(path, &st, err, sizeof(err)) != UPLINK_OK)
		fail_msg("store_open: %s", err);
	return st;
}

static int64_t
pragma(struct store *st, const char *sql)
{
	int64_t	 v = store_test_query(st, sql);

	assert_true(v != -2);
	return v;
}

/* Runs SQL on the file with a plain connection, outside the store. */
static void
raw_exec(const char *path, const char *sql)
{
	sqlite3	*db;

	if (pg_conninfo != NULL) {
		PGconn		*c = PQconnectdb(path);
		PGresult	*r = PQexec(c, sql);

		assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
		PQclear(r);
		PQfinish(c);
		return;
	}
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
test_open_fresh_and_reopen(void **state)
{
	struct fixture	*f = *state;
	struct store	*st;
	int64_t		 id1, id2;
	char		 err[256];

	st = open_ok(f->path);
	assert_int_equal(pragma(st, "PRAGMA user_version"),
	    STORE_SCHEMA_VERSION);
	assert_int_equal(pragma(st, "PRAGMA synchronous"), 2);	/* FULL */
	assert_int_equal(pragma(st, "PRAGMA foreign_keys"), 1);
	assert_int_equal(pragma(st, "SELECT count(*) FROM sqlite_schema "
	    "WHERE type = 'table'"), 16 + 1 + 4 + 2 + 2 + 2);
	    /* + v9 history, v10 alerts, v11 cluster, v12 logs, v13 releases */
	assert_int_equal(store_site_ensure(st, "paris", &id1, err,
	    sizeof(err)), UPLINK_OK);
	store_close(st);
	/* Reopening runs no step again and keeps the data. */
	st = open_ok(f->path);
	assert_int_equal(pragma(st, "PRAGMA user_version"),
	    STORE_SCHEMA_VERSION);
	assert_int_equal(store_site_find(st, "paris", &id2, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(id1, id2);
	assert_int_equal(pragma(st, "SELECT value FROM settings WHERE key = "
	    "'crl_number'"), 0);
	store_close(st);
	store_close(NULL);
	raw_exec(f->path, "SELECT 1");
	/* WAL is persistent, so a plain connection sees it too. */
	st = open_ok(f->path);
	assert_int_equal(pragma(st, "SELECT count(*) FROM pragma_journal_mode "
	    "WHERE journal_mode = 'wal'"), 1);
	store_close(st);
}

/* Whether err contains the text fmt makes. */
static void
expect_msg(const char *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
expect_msg(const char *err, const char *fmt, ...)
{
	va_list	 ap;
	char	 want[512];

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	if (strstr(err, want) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", err, want);
}

#define V	STORE_SCHEMA_VERSION

/*
 * A failing step leaves the database at the version before it; a good one
 * moves it on; a version newer than the code knows is refused at open.
 * The steps the code has are NULL here: they must not run again.
 */
static void
test_migrations(void **state)
{
	const char *const bad[V + 1] = { [V] = "CREATE TABLE extra(x); "
	    "CREATE TABLE nonsense(" };
	const char *const good[V + 1] = { [V] = "CREATE TABLE extra(x); "
	    "INSERT INTO extra VALUES (42)" };
	struct fixture	*f = *state;
	struct store	*st;
	char		 err[512];

	st = open_ok(f->path);
	assert_int_equal(store_migrate(st, bad, V + 1, err, sizeof(err)),
	    UPLINK_EIO);
	expect_msg(err, "cloud.db: upgrading the schema from version %d to "
	    "%d: ", V, V + 1);
	assert_int_equal(pragma(st, "PRAGMA user_version"), V);
	assert_int_equal(pragma(st, "PRAGMA foreign_keys"), 1);
	assert_int_equal(pragma(st, "SELECT count(*) FROM sqlite_schema WHERE "
	    "name = 'extra'"), 0);
	assert_int_equal(store_migrate(st, good, V + 1, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(pragma(st, "PRAGMA user_version"), V + 1);
	assert_int_equal(pragma(st, "SELECT x FROM extra"), 42);
	/* Running it again changes nothing. */
	assert_int_equal(store_migrate(st, good, V + 1, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(pragma(st, "SELECT count(*) FROM extra"), 1);
	store_close(st);
	/* The code behind STORE_SCHEMA_VERSION refuses this database. */
	assert_int_equal(store_open(f->path, &st, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_null(st);
	expect_msg(err, "cloud.db: made by a newer uplink-cloud (schema "
	    "version %d; this one knows up to %d): upgrade uplink-cloud or use "
	    "a backup made by this version", V + 1, V);
}

/*
 * A step may rebuild a table that others reference, as SQLite's ALTER
 * procedure does, but may not leave a broken reference behind.
 */
static void
test_migration_rebuild(void **state)
{
	const char *const steps[V + 2] = { [V] =
	    "CREATE TABLE sites_new (id INTEGER PRIMARY KEY, name TEXT NOT "
	    "NULL UNIQUE COLLATE NOCASE, created_at INTEGER NOT NULL, note "
	    "TEXT) STRICT; INSERT INTO sites_new(id, name, created_at) "
	    "SELECT id, name, created_at FROM sites; DROP TABLE sites; "
	    "ALTER TABLE sites_new RENAME TO sites",
	    [V + 1] = "DELETE FROM sites" };
	struct fixture		*f = *state;
	struct store		*st = open_ok(f->path);
	struct store_connector	 c;
	char			 err[512];
	int64_t			 site;

	assert_int_equal(store_site_ensure(st, "paris", &site, err,
	    sizeof(err)), UPLINK_OK);
	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "c-1");
	snprintf(c.name, sizeof(c.name), "gw");
	c.site_id = site;
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_migrate(st, steps, V + 1, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(pragma(st, "PRAGMA user_version"), V + 1);
	assert_int_equal(pragma(st, "SELECT count(*) FROM pragma_table_info"
	    "('sites') WHERE name = 'note'"), 1);
	assert_int_equal(pragma(st, "PRAGMA foreign_keys"), 1);
	c.site_id = 999;
	snprintf(c.id, sizeof(c.id), "c-2");
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_ENOTFOUND);
	assert_int_equal(store_migrate(st, steps, V + 2, err, sizeof(err)),
	    UPLINK_EIO);
	expect_msg(err, "cloud.db: upgrading the schema from version %d to %d "
	    "would leave rows in connectors that break a foreign key: the "
	    "database is left at version %d", V + 1, V + 2, V + 1);
	assert_int_equal(pragma(st, "PRAGMA user_version"), V + 1);
	assert_int_equal(pragma(st, "SELECT count(*) FROM sites"), 1);
	assert_int_equal(pragma(st, "PRAGMA foreign_keys"), 1);
	store_close(st);
}

static void
test_newer_version_refused(void **state)
{
	struct fixture	*f = *state;
	struct store	*st;
	char		 err[512];

	store_close(open_ok(f->path));
	raw_exec(f->path, "PRAGMA user_version = 999");
	assert_int_equal(store_open(f->path, &st, err, sizeof(err)),
	    UPLINK_EINVAL);
	expect_msg(err, "made by a newer uplink-cloud (schema version 999; "
	    "this one knows up to %d)", V);
	/* Nothing was changed by the refusal. */
	snprintf(err, sizeof(err), "PRAGMA user_version = %d", V);
	raw_exec(f->path, err);
	store_close(open_ok(f->path));
}

/*
 * A database as version 1 of uplink-cloud left it, with rows in every
 * table, is upgraded at open: the rows stay and the new tables work.
 */
static void
test_upgrade_from_v1(void **state)
{
	struct fixture		*f = *state;
	struct store		*st;
	struct store_connector	 c;
	struct store_apikey	 k;
	sqlite3			*db;
	char			 err[512];

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, store_migrations[0], NULL, NULL,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 1; "
	    "INSERT INTO sites VALUES (1, 'paris', 1); "
	    "INSERT INTO connectors(id, site_id, name, cert_serial, "
	    "cert_fingerprint, cert_not_after, created_at) VALUES ('c-1', 1, "
	    "'gw', '0a', 'f', 99, 2); INSERT INTO certs VALUES ('0a', 'c-1', "
	    "'f', 99, 2); UPDATE settings SET value = 7 WHERE key = "
	    "'crl_number'", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	st = open_ok(f->path);
	assert_int_equal(pragma(st, "PRAGMA user_version"), V);
	assert_int_equal(store_connector_get(st, "c-1", &c, err, sizeof(err)),
	    UPLINK_OK);
	assert_string_equal(c.cert_serial, "0a");
	assert_int_equal(pragma(st, "SELECT value FROM settings WHERE key = "
	    "'crl_number'"), 7);
	memset(&k, 0, sizeof(k));
	snprintf(k.id, sizeof(k.id), "0123456789ab");
	snprintf(k.name, sizeof(k.name), "ci");
	snprintf(k.scope, sizeof(k.scope), "full");
	assert_int_equal(store_apikey_add(st, &k, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_setting_set(st, "url", "https://x", err,
	    sizeof(err)), UPLINK_OK);
	store_close(st);
}

static void
test_open_errors(void **state)
{
	struct fixture	*f = *state;
	struct store	*st;
	FILE		*fp;
	char		 err[512];

	fp = fopen(f->path, "w");
	assert_non_null(fp);
	fputs("[cloud]\nthis is a config file, not a database, and it is long "
	    "enough to hold a header\n", fp);
	fclose(fp);
	assert_int_equal(store_open(f->path, &st, err, sizeof(err)),
	    UPLINK_EIO);
	assert_null(st);
	assert_non_null(strstr(err, "cloud.db: "));
	assert_non_null(strstr(err, "not an uplink-cloud database: check the "
	    "path or restore a backup"));
	assert_int_equal(store_open("/nonexistent-uplink/dir/cloud.db", &st,
	    err, sizeof(err)), UPLINK_EIO);
	assert_non_null(strstr(err, "/nonexistent-uplink/dir/cloud.db: cannot "
	    "open: "));
	assert_non_null(strstr(err, "check that uplink-cloud may read and "
	    "write the file and its directory"));
}

struct name_row {
	const char	*name;
	const char	*why;		/* NULL when valid */
};

static const struct name_row name_rows[] = {
	{ "paris", NULL },
	{ "Paris-2", NULL },
	{ "a", NULL },
	{ "0", NULL },
	{ "site_1.eu-west", NULL },
	{ "a.", NULL },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    NULL },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "site name has 64 characters; use 1 to 63" },
	{ "", "site name has 0 characters; use 1 to 63" },
	{ "-x", "site name \"-x\" must start with a letter or digit" },
	{ ".x", "must start with a letter or digit" },
	{ "_x", "must start with a letter or digit" },
	{ "pa ris", "site name \"pa...\": byte 0x20 at position 3 is not "
	    "allowed; use letters, digits, '.', '_' or '-'" },
	{ "paris/x", "byte 0x2f at position 6" },
	{ "a\nb", "site name \"a...\": byte 0x0a at position 2" },
	{ "caf\xc3\xa9", "byte 0xc3 at position 4" },
	{ "a*", "byte 0x2a at position 2" },
};

static void
test_names(void **state)
{
	const struct name_row	*r;
	char			 err[256];
	size_t			 i;
	bool			 ok;

	(void)state;
	for (i = 0; i < sizeof(name_rows) / sizeof(name_rows[0]); i++) {
		r = &name_rows[i];
		err[0] = '\0';
		ok = store_name_check("site name", r->name, err, sizeof(err));
		if (ok != (r->why == NULL))
			fail_msg("row %zu \"%s\": %s", i, r->name, ok ?
			    "accepted" : err);
		if (!ok && strstr(err, r->why) == NULL)
			fail_msg("row %zu \"%s\": \"%s\" lacks \"%s\"", i,
			    r->name, err, r->why);
	}
}

static void
test_sites(void **state)
{
	struct fixture	*f = *state;
	struct store	*st = open_ok(f->path);
	int64_t		 a, b, c;
	char		 err[256];

	assert_int_equal(store_site_ensure(st, "Paris", &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_site_ensure(st, "Paris", &b, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(a, b);
	/* Another spelling is the same site; the first spelling stays. */
	assert_int_equal(store_site_ensure(st, "PARIS", &b, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(a, b);
	assert_int_equal(pragma(st, pg_conninfo != NULL ? "SELECT count(*) "
	    "FROM sites WHERE name = 'Paris' COLLATE \"C\"" : "SELECT count(*) "
	    "FROM sites WHERE name = 'Paris' COLLATE BINARY"), 1);
	assert_int_equal(store_site_ensure(st, "lyon", &c, err, sizeof(err)),
	    UPLINK_OK);
	assert_true(c != a);
	assert_int_equal(store_site_find(st, "paris", &b, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(a, b);
	assert_int_equal(store_site_find(st, "nice", &b, err, sizeof(err)),
	    UPLINK_ENOTFOUND);
	assert_string_equal(err, "no site is called \"nice\"");
	assert_int_equal(store_site_ensure(st, "bad name", &b, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_non_null(strstr(err, "site name \"bad...\""));
	store_close(st);
}

/* Makes a token for site with a fixed secret byte; returns its hash. */
static void
add_token(struct store *st, int64_t site, unsigned char byte,
    int64_t expires_at, unsigned char hash[TOKEN_HASH_LEN],
    char id[TOKEN_ID_SIZE])
{
	unsigned char	 secret[TOKEN_SECRET_LEN];
	char		 err[256];

	memset(secret, byte, sizeof(secret));
	token_secret_hash(secret, hash);
	token_id(secret, id);
	if (store_token_add(st, site, id, hash, expires_at, err, sizeof(err)) !=
	    UPLINK_OK)
		fail_msg("store_token_add: %s", err);
}

static void
expect_refused(struct store *st, const unsigned char *hash, int64_t now,
    int rc, enum store_token_state state, const char *why)
{
	struct store_token_use	 use;
	char			 err[512] = "";

	if (store_token_consume(st, hash, now, "c-000000000002", &use, err,
	    sizeof(err)) != rc || use.state != state)
		fail_msg("want rc %d state %d, got state %d: %s", rc, state,
		    use.state, err);
	if (strstr(err, why) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", err, why);
}

static void
test_token_consume(void **state)
{
	struct fixture		*f = *state;
	struct store		*st = open_ok(f->path);
	struct store		*other = open_ok(f->path);
	struct store_token_use	 use;
	unsigned char		 h[TOKEN_HASH_LEN], unknown[TOKEN_HASH_LEN];
	char			 id[TOKEN_ID_SIZE], err[512];
	int64_t			 site;

	assert_int_equal(store_site_ensure(st, "paris", &site, err,
	    sizeof(err)), UPLINK_OK);
	add_token(st, site, 1, NOW + 86400, h, id);
	assert_int_equal(store_token_consume(st, h, NOW, "c-000000000001", &use,
	    err, sizeof(err)), UPLINK_OK);
	assert_int_equal(use.state, STORE_TOKEN_CONSUMED);
	assert_string_equal(use.token_id, id);
	assert_int_equal(use.site_id, site);
	assert_string_equal(use.site_name, "paris");
	/* Once only, whichever connection asks. */
	expect_refused(other, h, NOW + 60, UPLINK_EINVAL, STORE_TOKEN_USED,
	    "for site \"paris\" was already used at 2023-11-14T22:13:20Z (1m "
	    "ago) by connector c-000000000001");
	expect_refused(st, h, NOW + 120, UPLINK_EINVAL, STORE_TOKEN_USED,
	    "already used");
	memset(unknown, 0xee, sizeof(unknown));
	expect_refused(st, unknown, NOW, UPLINK_ENOTFOUND, STORE_TOKEN_UNKNOWN,
	    "no enrollment token has the secret presented");
	/* Expiry: valid until the second before expires_at. */
	add_token(st, site, 2, NOW + 10, h, id);
	expect_refused(st, h, NOW + 10, UPLINK_EINVAL, STORE_TOKEN_EXPIRED,
	    "expired at 2023-11-14T22:13:30Z (0s ago); create a new one with "
	    "\"uplink-cloud token create --site paris\"");
	expect_refused(st, h, NOW + 7200, UPLINK_EINVAL, STORE_TOKEN_EXPIRED,
	    "(1h59m50s ago)");
	assert_int_equal(store_token_consume(st, h, NOW + 9, "c-000000000003",
	    &use, err, sizeof(err)), UPLINK_OK);
	/* Revoked before use. */
	add_token(st, site, 3, NOW + 86400, h, id);
	assert_int_equal(store_token_revoke(st, id, NOW, err, sizeof(err)),
	    UPLINK_OK);
	expect_refused(st, h, NOW + 1, UPLINK_EINVAL, STORE_TOKEN_REVOKED,
	    "was revoked at 2023-11-14T22:13:20Z (1s ago)");
	assert_int_equal(pragma(st, "SELECT count(*) FROM enrollment_tokens "
	    "WHERE used_at IS NOT NULL"), 2);
	store_close(other);
	store_close(st);
}

static void
test_token_errors(void **state)
{
	struct fixture		*f = *state;
	struct store		*st = open_ok(f->path);
	struct store_token_use	 use;
	unsigned char		 h[TOKEN_HASH_LEN], h2[TOKEN_HASH_LEN];
	char			 id[TOKEN_ID_SIZE], id2[TOKEN_ID_SIZE];
	char			 err[512];
	int64_t			 site;

	assert_int_equal(store_site_ensure(st, "lyon", &site, err,
	    sizeof(err)), UPLINK_OK);
	add_token(st, site, 1, NOW + 100, h, id);
	/* Same id or same secret: refused, the caller draws again. */
	assert_int_equal(store_token_add(st, site, id, h2, NOW, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_non_null(strstr(err, "exists already; create the token again"));
	assert_int_equal(store_token_add(st, site, "t-other", h, NOW, err,
	    sizeof(err)), UPLINK_EINVAL);
	/* Foreign keys are enforced. */
	memset(h2, 0x42, sizeof(h2));
	assert_int_equal(store_token_add(st, 999, "t-x", h2, NOW, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	assert_string_equal(err, "adding token t-x: site 999 does not exist");
	assert_int_equal(store_token_add(st, site, "", h2, NOW, err,
	    sizeof(err)), UPLINK_EINVAL);
	/* Revoking: unknown, twice, after use; an expired one may be. */
	assert_int_equal(store_token_revoke(st, "t-nope", NOW, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	assert_string_equal(err, "no enrollment token has the id \"t-nope\"");
	assert_int_equal(store_token_revoke(st, id, NOW + 500, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_token_revoke(st, id, NOW + 600, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_non_null(strstr(err, "was revoked at"));
	add_token(st, site, 2, NOW + 100, h2, id2);
	assert_int_equal(store_token_consume(st, h2, NOW, "c-000000000001",
	    &use, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(store_token_revoke(st, id2, NOW, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_non_null(strstr(err, "was already used"));
	/* A bad connector id changes nothing. */
	add_token(st, site, 3, NOW + 100, h, id);
	assert_int_equal(store_token_consume(st, h, NOW, "c-1\n2", &use, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(use.state, STORE_TOKEN_FAILED);
	assert_int_equal(store_token_consume(st, h, NOW, "c-1", &use, err,
	    sizeof(err)), UPLINK_OK);
	store_close(st);
}

static void
make_connector(struct store_connector *c, const char *id, int64_t site,
    const char *name, const char *serial)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->site_id = site;
	snprintf(c->name, sizeof(c->name), "%s", name);
	if (serial != NULL) {
		snprintf(c->cert_serial, sizeof(c->cert_serial), "%s", serial);
		snprintf(c->cert_fingerprint, sizeof(c->cert_fingerprint),
		    "fpr-%s", serial);
		c->cert_not_after = NOW + 86400 * 90;
	}
	c->created_at = NOW;
	snprintf(c->version, sizeof(c->version), "0.1.0");
}

struct listing {
	char	 ids[8][STORE_ID_MAX + 1];
	int	 n;
	int	 stop_at;	/* return 7 at this row, 0 for never */
};

static int
list_cb(void *arg, const struct store_connector *c)
{
	struct listing	*l = arg;

	snprintf(l->ids[l->n], sizeof(l->ids[l->n]), "%s", c->id);
	l->n++;
	return l->n == l->stop_at ? 7 : 0;
}

static void
test_connectors(void **state)
{
	struct fixture		*f = *state;
	struct store		*st = open_ok(f->path);
	struct store_connector	 c, got;
	struct listing		 l;
	char			 err[512], id[STORE_CONNECTOR_ID_SIZE];
	int64_t			 paris, lyon;

	store_site_ensure(st, "paris", &paris, err, sizeof(err));
	store_site_ensure(st, "lyon", &lyon, err, sizeof(err));
	make_connector(&c, "c-00000000000b", paris, "gw-b", "0B");
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_connector_get(st, c.id, &got, err, sizeof(err)),
	    UPLINK_OK);
	assert_memory_equal(&c, &got, sizeof(c));
	make_connector(&c, "c-00000000000a", paris, "gw-a", NULL);
	c.created_at = 0;	/* now */
	c.version[0] = '\0';
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_connector_get(st, c.id, &got, err, sizeof(err)),
	    UPLINK_OK);
	assert_true(got.created_at > NOW);
	assert_string_equal(got.cert_serial, "");
	assert_int_equal(got.cert_not_after, 0);
	assert_string_equal(got.version, "");
	store_connector_id_new(id);
	assert_int_equal(strlen(id), 14);
	assert_int_equal(strncmp(id, "c-", 2), 0);
	make_connector(&c, id, lyon, "gw-z", "0C");
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_OK);
	/* Listing: per site ordered by name, all sites, stopping early. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_connector_list(st, paris, list_cb, &l, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.ids[0], "c-00000000000a");
	assert_string_equal(l.ids[1], "c-00000000000b");
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_connector_list(st, 0, list_cb, &l, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.ids[2], id);
	memset(&l, 0, sizeof(l));
	l.stop_at = 2;
	assert_int_equal(store_connector_list(st, 0, list_cb, &l, err,
	    sizeof(err)), 7);
	assert_int_equal(l.n, 2);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_connector_list(st, 12345, list_cb, &l, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(l.n, 0);
	/* Touch. */
	assert_int_equal(store_connector_touch(st, "c-00000000000b", NOW + 5,
	    "0.2.0", err, sizeof(err)), UPLINK_OK);
	assert_int_equal(store_connector_touch(st, "c-00000000000b", NOW + 9,
	    NULL, err, sizeof(err)), UPLINK_OK);
	store_connector_get(st, "c-00000000000b", &got, err, sizeof(err));
	assert_int_equal(got.last_seen, NOW + 9);
	assert_string_equal(got.version, "0.2.0");
	assert_int_equal(store_connector_touch(st, "c-nope", NOW, NULL, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	assert_string_equal(err, "no connector has the id \"c-nope\"");
	assert_int_equal(store_connector_touch(st, "c-00000000000b", NOW,
	    "1.0\n", err, sizeof(err)), UPLINK_EINVAL);
	assert_string_equal(err, "connector version has byte 0x0a at position "
	    "4; use printable ASCII without spaces");
	assert_int_equal(store_connector_get(st, "c-nope", &got, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	/* Seen, in one batch; an id no longer there is skipped. */
	{
		struct store_seen	 v[] = {
			{ .id = "c-00000000000b", .at = NOW + 60,
			    .bytes_in = 1000, .bytes_out = 20 },
			{ .id = "c-gone", .at = NOW + 60, .bytes_in = 5,
			    .bytes_out = 5 },
			{ .id = "c-00000000000a", .at = NOW + 61 },
		};

		assert_int_equal(store_connectors_seen(st, v, 3, err,
		    sizeof(err)), UPLINK_OK);
		assert_int_equal(store_connectors_seen(st, v, 0, err,
		    sizeof(err)), UPLINK_OK);
		/* Totals are added to, never replaced. */
		v[0].at = NOW + 60;
		v[0].bytes_in = 1ULL << 33;
		v[0].bytes_out = 3;
		assert_int_equal(store_connectors_seen(st, v, 1, err,
		    sizeof(err)), UPLINK_OK);
		v[0].bytes_in = UINT64_MAX;
		assert_int_equal(store_connectors_seen(st, v, 1, err,
		    sizeof(err)), UPLINK_EINVAL);
	}
	store_connector_get(st, "c-00000000000b", &got, err, sizeof(err));
	assert_int_equal(got.last_seen, NOW + 60);
	assert_int_equal(got.bytes_in, 1000 + (1LL << 33));
	assert_int_equal(got.bytes_out, 23);
	assert_string_equal(got.version, "0.2.0");
	store_connector_get(st, "c-00000000000a", &got, err, sizeof(err));
	assert_int_equal(got.last_seen, NOW + 61);
	store_close(st);
}

static void
test_connector_errors(void **state)
{
	struct fixture		*f = *state;
	struct store		*st = open_ok(f->path);
	struct store_connector	 c;
	char			 err[512];
	int64_t			 site;

	store_site_ensure(st, "paris", &site, err, sizeof(err));
	make_connector(&c, "c-1", site, "gw", "01");
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_string_equal(err, "adding connector c-1: this id is taken; draw "
	    "another with store_connector_id_new()");
	/* Foreign key: no such site. Nothing is left behind. */
	make_connector(&c, "c-2", 999, "gw", "02");
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_ENOTFOUND);
	assert_string_equal(err, "adding connector c-2: site 999 does not "
	    "exist");
	/* A reused serial rolls back the connector row too. */
	make_connector(&c, "c-3", site, "gw", "01");
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_non_null(strstr(err, "the CA must not reuse serials"));
	assert_int_equal(pragma(st, "SELECT count(*) FROM connectors"), 1);
	make_connector(&c, "c-4", site, "gw one", NULL);
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_non_null(strstr(err, "connector name \"gw...\""));
	make_connector(&c, "c-4", site, "gw", "04");
	c.cert_fingerprint[0] = '\0';
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_non_null(strstr(err, "give both a certificate serial and "
	    "fingerprint, or neither"));
	make_connector(&c, "", site, "gw", NULL);
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_string_equal(err, "connector id has 0 bytes; use 1 to 31");
	/* The database refuses what the API would never write. */
	assert_int_not_equal(store_test_exec(st, "INSERT INTO "
	    "certs VALUES ('99', 'c-none', 'f', 1, 1)"),
	    SQLITE_OK);
	assert_int_not_equal(store_test_exec(st, "INSERT INTO sites "
	    "(name, created_at) VALUES ('x', 'yesterday')"),
	    SQLITE_OK);
	store_close(st);
}

struct serials {
	char	 s[8][STORE_SERIAL_MAX + 1];
	int64_t	 revoked_at[8];
	int	 n;
};

static int
serial_cb(void *arg, const char *serial, int64_t revoked_at,
    int64_t not_after)
{
	struct serials	*s = arg;

	assert_true(not_after > NOW);
	snprintf(s->s[s->n], sizeof(s->s[s->n]), "%s", serial);
	s->revoked_at[s->n] = revoked_at;
	s->n++;
	return 0;
}

static void
test_revoke_and_serials(void **state)
{
	struct fixture		*f = *state;
	struct store		*st = open_ok(f->path);
	struct store_connector	 c;
	struct serials		 s;
	char			 err[512];
	int64_t			 site;

	store_site_ensure(st, "paris", &site, err, sizeof(err));
	make_connector(&c, "c-1", site, "gw1", "0A");
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_OK);
	make_connector(&c, "c-2", site, "gw2", "0B");
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_OK);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_revoked_serials(st, serial_cb, &s, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(s.n, 0);
	/* Renewal: the connector row shows the new certificate. */
	assert_int_equal(store_connector_update_cert(st, "c-1", "0C", "fpr-0C",
	    NOW + 86400 * 180, err, sizeof(err)), UPLINK_OK);
	store_connector_get(st, "c-1", &c, err, sizeof(err));
	assert_string_equal(c.cert_serial, "0C");
	assert_string_equal(c.cert_fingerprint, "fpr-0C");
	assert_int_equal(c.cert_not_after, NOW + 86400 * 180);
	assert_int_equal(store_connector_update_cert(st, "c-nope", "0D", "f",
	    NOW + 1, err, sizeof(err)), UPLINK_ENOTFOUND);
	assert_int_equal(store_connector_update_cert(st, "c-1", "0C", "f",
	    NOW + 1, err, sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(store_connector_update_cert(st, "c-1", "", "f",
	    NOW + 1, err, sizeof(err)), UPLINK_EINVAL);
	/* Revoking covers the replaced certificate as well. */
	assert_int_equal(store_connector_revoke(st, "c-1", NOW + 100, err,
	    sizeof(err)), UPLINK_OK);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_revoked_serials(st, serial_cb, &s, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.s[0], "0A");
	assert_string_equal(s.s[1], "0C");
	assert_int_equal(s.revoked_at[0], NOW + 100);
	store_connector_get(st, "c-1", &c, err, sizeof(err));
	assert_int_equal(c.revoked_at, NOW + 100);
	assert_int_equal(store_connector_revoke(st, "c-1", NOW + 200, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_string_equal(err, "cannot revoke connector c-1 (\"gw1\"): it "
	    "was revoked at 2023-11-14T22:15:00Z (1m40s ago)");
	assert_int_equal(store_connector_revoke(st, "c-nope", NOW, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	assert_int_equal(store_connector_update_cert(st, "c-1", "0E", "f",
	    NOW + 1, err, sizeof(err)), UPLINK_EINVAL);
	assert_non_null(strstr(err, "cannot renew the certificate of connector "
	    "c-1 (\"gw1\"): it was revoked at"));
	store_close(st);
}

static void
test_crl_number(void **state)
{
	struct fixture	*f = *state;
	struct store	*st = open_ok(f->path);
	char		 err[256];
	int64_t		 n;

	assert_int_equal(store_crl_next_number(st, &n, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_crl_next_number(st, &n, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(n, 2);
	store_close(st);
	st = open_ok(f->path);
	assert_int_equal(store_crl_next_number(st, &n, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(n, 3);
	store_close(st);
}

/* Counts the tokens that are marked used. */
static int64_t
used_tokens(struct store *st)
{
	return pragma(st, "SELECT count(*) FROM enrollment_tokens WHERE "
	    "used_at IS NOT NULL");
}

/*
 * Enrollment: the token is used up, the connector joins the token's site
 * and its certificate is recorded, all at once; a refusal or a failure
 * changes nothing, so the token can still be used.
 */
static void
test_enroll(void **state)
{
	struct fixture		*f = *state;
	struct store		*st = open_ok(f->path);
	struct store_connector	 c, got;
	struct store_token_use	 use;
	unsigned char		 h[TOKEN_HASH_LEN];
	char			 id[TOKEN_ID_SIZE], err[512];
	int64_t			 paris, lyon;

	store_site_ensure(st, "paris", &paris, err, sizeof(err));
	store_site_ensure(st, "lyon", &lyon, err, sizeof(err));
	add_token(st, lyon, 1, NOW + 100, h, id);
	/* Without a certificate: refused before the token is judged. */
	make_connector(&c, "c-000000000001", paris, "gw", NULL);
	assert_int_equal(store_enroll(st, h, NOW, &c, &use, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_int_equal(use.state, STORE_TOKEN_FAILED);
	assert_non_null(strstr(err, "needs the certificate issued to it"));
	/* A taken id or serial rolls everything back. */
	make_connector(&c, "c-000000000009", paris, "other", "0f");
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_OK);
	make_connector(&c, "c-000000000009", paris, "gw", "01");
	assert_int_equal(store_enroll(st, h, NOW, &c, &use, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_int_equal(use.state, STORE_TOKEN_FAILED);
	assert_non_null(strstr(err, "this id is taken"));
	make_connector(&c, "c-000000000001", paris, "gw", "0f");
	assert_int_equal(store_enroll(st, h, NOW, &c, &use, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_int_equal(use.state, STORE_TOKEN_FAILED);
	assert_non_null(strstr(err, "must not reuse serials"));
	assert_int_equal(used_tokens(st), 0);
	assert_int_equal(pragma(st, "SELECT count(*) FROM connectors"), 1);
	/* The good one: c->site_id is ignored, the token's site is used. */
	make_connector(&c, "c-000000000001", paris, "gw", "01");
	assert_int_equal(store_enroll(st, h, NOW, &c, &use, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(use.state, STORE_TOKEN_CONSUMED);
	assert_string_equal(use.token_id, id);
	assert_int_equal(use.site_id, lyon);
	assert_string_equal(use.site_name, "lyon");
	assert_int_equal(store_connector_get(st, c.id, &got, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(got.site_id, lyon);
	assert_string_equal(got.cert_serial, "01");
	assert_int_equal(pragma(st, "SELECT count(*) FROM certs WHERE serial "
	    "= '01' AND connector_id = 'c-000000000001'"), 1);
	assert_int_equal(pragma(st, "SELECT count(*) FROM enrollment_tokens "
	    "WHERE used_by = 'c-000000000001'"), 1);
	/* Replay: refused, nothing added. */
	make_connector(&c, "c-000000000002", paris, "gw2", "02");
	assert_int_equal(store_enroll(st, h, NOW + 1, &c, &use, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(use.state, STORE_TOKEN_USED);
	assert_non_null(strstr(err, "already used at"));
	assert_int_equal(pragma(st, "SELECT count(*) FROM connectors"), 2);
	store_close(st);
}

struct refusal_row {
	int			 setup;	/* 0 unknown, 1 expired, 2 revoked */
	int			 rc;
	enum store_token_state	 state;
	const char		*why;
};

static const struct refusal_row refusal_rows[] = {
	{ 0, UPLINK_ENOTFOUND, STORE_TOKEN_UNKNOWN, "no enrollment token has "
	    "the secret presented" },
	{ 1, UPLINK_EINVAL, STORE_TOKEN_EXPIRED, "expired at" },
	{ 2, UPLINK_EINVAL, STORE_TOKEN_REVOKED, "was revoked at" },
};

/* store_token_check() and store_enroll() refuse alike; check uses none. */
static void
test_enroll_refusals(void **state)
{
	const struct refusal_row	*r;
	struct fixture			*f = *state;
	struct store			*st = open_ok(f->path);
	struct store_connector		 c;
	struct store_token_use		 use;
	unsigned char			 h[TOKEN_HASH_LEN];
	char				 id[TOKEN_ID_SIZE], err[512];
	int64_t				 site;
	size_t				 i;

	store_site_ensure(st, "paris", &site, err, sizeof(err));
	make_connector(&c, "c-000000000001", site, "gw", "01");
	for (i = 0; i < sizeof(refusal_rows) / sizeof(refusal_rows[0]); i++) {
		r = &refusal_rows[i];
		memset(h, 0xa0 + (int)i, sizeof(h));
		if (r->setup > 0)
			add_token(st, site, (unsigned char)(10 + i), NOW + 10,
			    h, id);
		if (r->setup == 2)
			store_token_revoke(st, id, NOW, err, sizeof(err));
		assert_int_equal(store_token_check(st, h, NOW + 20, &use, err,
		    sizeof(err)), r->rc);
		assert_int_equal(use.state, r->state);
		assert_non_null(strstr(err, r->why));
		assert_int_equal(store_enroll(st, h, NOW + 20, &c, &use, err,
		    sizeof(err)), r->rc);
		assert_int_equal(use.state, r->state);
		assert_non_null(strstr(err, r->why));
	}
	assert_int_equal(pragma(st, "SELECT count(*) FROM connectors"), 0);
	/* A good token passes the check and stays unused. */
	add_token(st, site, 99, NOW + 10, h, id);
	assert_int_equal(store_token_check(st, h, NOW, &use, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(use.state, STORE_TOKEN_CONSUMED);
	assert_string_equal(use.token_id, id);
	assert_string_equal(use.site_name, "paris");
	assert_int_equal(used_tokens(st), 0);
	store_close(st);
}

struct token_listing {
	struct store_token	 t[8];
	int			 n;
};

static int
token_cb(void *arg, const struct store_token *t)
{
	struct token_listing	*l = arg;

	l->t[l->n++] = *t;
	return l->n == 3 ? 5 : 0;
}

static void
test_token_list(void **state)
{
	struct fixture		*f = *state;
	struct store		*st = open_ok(f->path);
	struct token_listing	 l;
	struct store_token_use	 use;
	unsigned char		 h[3][TOKEN_HASH_LEN];
	char			 id[3][TOKEN_ID_SIZE], err[512];
	int64_t			 paris, lyon;

	store_site_ensure(st, "paris", &paris, err, sizeof(err));
	store_site_ensure(st, "lyon", &lyon, err, sizeof(err));
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_token_list(st, token_cb, &l, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(l.n, 0);
	add_token(st, paris, 1, NOW + 100, h[0], id[0]);
	add_token(st, lyon, 2, NOW + 200, h[1], id[1]);
	add_token(st, lyon, 3, NOW + 300, h[2], id[2]);
	/* Oldest first; all created in the same second, then by id. */
	raw_exec(f->path, "UPDATE enrollment_tokens SET created_at = "
	    "expires_at - 1000");
	store_token_consume(st, h[0], NOW, "c-000000000007", &use, err,
	    sizeof(err));
	store_token_revoke(st, id[1], NOW + 5, err, sizeof(err));
	assert_int_equal(store_token_list(st, token_cb, &l, err, sizeof(err)),
	    5);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.t[0].id, id[0]);
	assert_string_equal(l.t[0].site_name, "paris");
	assert_int_equal(l.t[0].site_id, paris);
	assert_int_equal(l.t[0].created_at, NOW - 900);
	assert_int_equal(l.t[0].expires_at, NOW + 100);
	assert_int_equal(l.t[0].used_at, NOW);
	assert_string_equal(l.t[0].used_by, "c-000000000007");
	assert_int_equal(l.t[0].revoked_at, 0);
	assert_string_equal(l.t[1].id, id[1]);
	assert_string_equal(l.t[1].site_name, "lyon");
	assert_int_equal(l.t[1].revoked_at, NOW + 5);
	assert_int_equal(l.t[1].used_at, 0);
	assert_string_equal(l.t[1].used_by, "");
	assert_string_equal(l.t[2].id, id[2]);
	store_close(st);
}

static void
test_cert_lookup(void **state)
{
	struct fixture		*f = *state;
	struct store		*st = open_ok(f->path);
	struct store_connector	 c;
	struct store_cert_owner	 o;
	char			 err[512], name[STORE_NAME_MAX + 1];
	int64_t			 site;

	store_site_ensure(st, "paris", &site, err, sizeof(err));
	make_connector(&c, "c-1", site, "gw1", "0a");
	store_connector_add(st, &c, err, sizeof(err));
	make_connector(&c, "c-2", site, "gw2", NULL);
	store_connector_add(st, &c, err, sizeof(err));
	assert_int_equal(store_cert_lookup(st, "0a", &o, err, sizeof(err)),
	    UPLINK_OK);
	assert_string_equal(o.connector_id, "c-1");
	assert_string_equal(o.connector_name, "gw1");
	assert_int_equal(o.site_id, site);
	assert_string_equal(o.site_name, "paris");
	assert_int_equal(o.not_after, NOW + 86400 * 90);
	assert_true(o.current);
	assert_int_equal(o.revoked_at, 0);
	/* After renewal the old serial still names the connector. */
	store_connector_update_cert(st, "c-1", "0b", "fpr-0b", NOW + 5, err,
	    sizeof(err));
	assert_int_equal(store_cert_lookup(st, "0a", &o, err, sizeof(err)),
	    UPLINK_OK);
	assert_false(o.current);
	assert_int_equal(store_cert_lookup(st, "0b", &o, err, sizeof(err)),
	    UPLINK_OK);
	assert_true(o.current);
	assert_int_equal(o.not_after, NOW + 5);
	/* Revoking the connector shows on every serial it had. */
	store_connector_revoke(st, "c-1", NOW + 7, err, sizeof(err));
	assert_int_equal(store_cert_lookup(st, "0a", &o, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(o.revoked_at, NOW + 7);
	assert_int_equal(store_cert_lookup(st, "0c", &o, err, sizeof(err)),
	    UPLINK_ENOTFOUND);
	assert_string_equal(err, "no connector was issued a certificate with "
	    "serial 0c");
	/* Serials compare exactly, as pki_cert_serial() writes them. */
	assert_int_equal(store_cert_lookup(st, "0A", &o, err, sizeof(err)),
	    UPLINK_ENOTFOUND);
	assert_int_equal(store_site_name(st, site, name, err, sizeof(err)),
	    UPLINK_OK);
	assert_string_equal(name, "paris");
	assert_int_equal(store_site_name(st, 4242, name, err, sizeof(err)),
	    UPLINK_ENOTFOUND);
	assert_string_equal(err, "no site has the id 4242");
	store_close(st);
}

struct setting_row {
	const char	*key;
	const char	*value;
	int		 rc;		/* of store_setting_set */
	const char	*why;
};

static const struct setting_row setting_rows[] = {
	{ "url", "https://cloud.example:8443", UPLINK_OK, NULL },
	{ "crl_url", "http://cloud.example/crl", UPLINK_OK, NULL },
	{ "url", "https://other.example", UPLINK_OK, NULL },	/* replaced */
	{ "empty", "", UPLINK_OK, NULL },
	{ "crl_number", "5", UPLINK_EINVAL, "crl_number is not a text "
	    "setting" },
	{ "", "x", UPLINK_EINVAL, "setting names are 1 to 31 letters" },
	{ "a-b", "x", UPLINK_EINVAL, "setting names are 1 to 31 letters" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "x", UPLINK_EINVAL, "setting "
	    "names" },
	{ "url", "has space", UPLINK_EINVAL, "url has byte 0x20 at position "
	    "4" },
	{ "url", "line\n", UPLINK_EINVAL, "byte 0x0a at position 5" },
};

static void
test_settings(void **state)
{
	const struct setting_row	*r;
	struct fixture			*f = *state;
	struct store			*st = open_ok(f->path);
	char				 err[512], v[64], big[1100];
	size_t				 i;

	assert_int_equal(store_setting_get(st, "url", v, sizeof(v), err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	expect_msg(err, "%s: the setting \"url\" is missing; was the "
	    "database made by \"uplink-cloud init\"?", pg_conninfo != NULL ?
	    f->path : "cloud.db");
	for (i = 0; i < sizeof(setting_rows) / sizeof(setting_rows[0]); i++) {
		r = &setting_rows[i];
		if (store_setting_set(st, r->key, r->value, err, sizeof(err)) !=
		    r->rc)
			fail_msg("row %zu: %s", i, err);
		if (r->why != NULL && strstr(err, r->why) == NULL)
			fail_msg("row %zu: \"%s\" lacks \"%s\"", i, err,
			    r->why);
		if (r->rc != UPLINK_OK)
			continue;
		assert_int_equal(store_setting_get(st, r->key, v, sizeof(v),
		    err, sizeof(err)), UPLINK_OK);
		assert_string_equal(v, r->value);
	}
	/* The value must fit the caller's buffer, NUL included. */
	assert_int_equal(store_setting_get(st, "url", v, 21, err, sizeof(err)),
	    UPLINK_ETOOBIG);
	assert_string_equal(err, "the setting \"url\" is longer than 20 bytes");
	assert_int_equal(store_setting_get(st, "url", v, 22, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_setting_get(st, "crl_number", v, sizeof(v), err,
	    sizeof(err)), UPLINK_EINVAL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(store_setting_set(st, "url", big, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_non_null(strstr(err, "url has 1099 bytes; use at most 1023"));
	/* The CRL number is untouched by all of this. */
	assert_int_equal(pragma(st, "SELECT value FROM settings WHERE key = "
	    "'crl_number'"), 0);
	store_close(st);
}

static void
make_key(struct store_apikey *k, const char *id, const char *name,
    const char *scope, unsigned char byte)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->id, sizeof(k->id), "%s", id);
	snprintf(k->name, sizeof(k->name), "%s", name);
	snprintf(k->scope, sizeof(k->scope), "%s", scope);
	memset(k->secret_hash, byte, sizeof(k->secret_hash));
	k->created_at = NOW;
}

struct key_row {
	const char	*id;
	const char	*name;
	const char	*scope;
	int		 rc;
	const char	*why;
};

static const struct key_row key_rows[] = {
	{ "00000000000a", "ci", "full", UPLINK_OK, NULL },
	{ "00000000000b", "grafana.read", "read", UPLINK_OK, NULL },
	{ "00000000000a", "again", "full", UPLINK_EINVAL, "adding API key "
	    "00000000000a: this id is taken; create the key again" },
	{ "00000000000A", "ci", "full", UPLINK_EINVAL, "\"00000000000A\" is "
	    "not an API key id, which is 12 lowercase hex digits" },
	{ "0000000000a", "ci", "full", UPLINK_EINVAL, "not an API key id" },
	{ "00000000000g", "ci", "full", UPLINK_EINVAL, "not an API key id" },
	{ "00000000000\n", "ci", "full", UPLINK_EINVAL, "an API key id is 12 "
	    "lowercase hex digits (see \"uplink-cloud key list\")" },
	{ "00000000000c", "", "full", UPLINK_EINVAL, "key name has 0 "
	    "characters" },
	{ "00000000000c", "my key", "full", UPLINK_EINVAL, "key name \"my...\""
	},
	{ "00000000000c", "ci", "admin", UPLINK_EINVAL, "API key scope "
	    "\"admin\" is not one of full, read, ingress or metrics" },
	{ "00000000000c", "ci", "", UPLINK_EINVAL, "is not one of" },
};

struct key_listing {
	struct store_apikey	 k[8];
	int			 n;
};

static int
key_cb(void *arg, const struct store_apikey *k)
{
	struct key_listing	*l = arg;

	l->k[l->n++] = *k;
	return 0;
}

static void
test_apikeys(void **state)
{
	const struct key_row	*r;
	struct fixture		*f = *state;
	struct store		*st = open_ok(f->path);
	struct store_apikey	 k, got;
	struct key_listing	 l;
	char			 err[512];
	size_t			 i;

	for (i = 0; i < sizeof(key_rows) / sizeof(key_rows[0]); i++) {
		r = &key_rows[i];
		make_key(&k, r->id, r->name, r->scope, (unsigned char)i);
		err[0] = '\0';
		if (store_apikey_add(st, &k, err, sizeof(err)) != r->rc)
			fail_msg("row %zu: %s", i, err);
		if (r->why != NULL && strstr(err, r->why) == NULL)
			fail_msg("row %zu: \"%s\" lacks \"%s\"", i, err,
			    r->why);
	}
	assert_int_equal(pragma(st, "SELECT count(*) FROM api_keys"), 2);
	assert_int_equal(store_apikey_get(st, "00000000000b", &got, err,
	    sizeof(err)), UPLINK_OK);
	make_key(&k, "00000000000b", "grafana.read", "read", 1);
	assert_memory_equal(&k, &got, sizeof(k));
	assert_int_equal(store_apikey_get(st, "00000000000f", &got, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	assert_string_equal(err, "no API key has the id \"00000000000f\"");
	assert_int_equal(store_apikey_get(st, "x", &got, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_int_equal(store_apikey_get(st, "00000000000b0", &got, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_string_equal(err, "\"00000000000b0\" is not an API key id, "
	    "which is 12 lowercase hex digits (see \"uplink-cloud key "
	    "list\")");
	/* Touch and revoke. */
	assert_int_equal(store_apikey_touch(st, "00000000000a", NOW + 3, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_apikey_touch(st, "00000000000f", NOW, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	assert_string_equal(err, "no API key has the id \"00000000000f\"");
	assert_int_equal(store_apikey_revoke(st, "00000000000a", NOW + 60, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_apikey_revoke(st, "00000000000a", NOW + 120,
	    err, sizeof(err)), UPLINK_EINVAL);
	assert_string_equal(err, "API key 00000000000a (\"ci\") was revoked "
	    "at 2023-11-14T22:14:20Z (1m ago)");
	assert_int_equal(store_apikey_revoke(st, "00000000000f", NOW, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	assert_int_equal(store_apikey_revoke(st, "bad id", NOW, err,
	    sizeof(err)), UPLINK_EINVAL);
	/* Listing: oldest first, revoked ones included. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_apikey_list(st, key_cb, &l, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.k[0].id, "00000000000a");
	assert_int_equal(l.k[0].last_used, NOW + 3);
	assert_int_equal(l.k[0].revoked_at, NOW + 60);
	assert_string_equal(l.k[1].scope, "read");
	assert_int_equal(l.k[1].last_used, 0);
	/* The table refuses what the API would never write. */
#define KEY_INSERT	"INSERT INTO api_keys(id, name, scope, secret_hash, " \
	"created_at, last_used, revoked_at) VALUES "
	assert_int_not_equal(store_test_exec(st, KEY_INSERT
	    "('00000000000c', 'x', 'Admin', zeroblob(32), 1, NULL, "
	    "NULL)"), SQLITE_OK);
	assert_int_not_equal(store_test_exec(st, KEY_INSERT
	    "('00000000000c', 'x', '', zeroblob(32), 1, NULL, "
	    "NULL)"), SQLITE_OK);
	assert_int_not_equal(store_test_exec(st, KEY_INSERT
	    "('00000000000c', 'x', 'full', zeroblob(31), 1, NULL, "
	    "NULL)"), SQLITE_OK);
	assert_int_not_equal(store_test_exec(st, KEY_INSERT
	    "('c', 'x', 'full', zeroblob(32), 1, NULL, NULL)"), SQLITE_OK);
	/*
	 * The scope's CHECK is one of shape (schema version 4), so a new
	 * scope needs no rebuild; the code refuses a name it does not know.
	 */
	assert_int_equal(store_test_exec(st, KEY_INSERT
	    "('00000000000e', 'x', 'metrics', zeroblob(32), 1, NULL, NULL)"), SQLITE_OK);
	make_key(&k, "00000000000f", "m", "audit", 9);
	assert_int_equal(store_apikey_add(st, &k, err, sizeof(err)),
	    UPLINK_EINVAL);
	store_close(st);
}

/* An ingress key keeps its sites; their shape is checked. */
static void
test_apikey_sites(void **state)
{
	static const struct {
		const char	*sites;
		int		 rc;
		const char	*why;
	} rows[] = {
		{ "hq", UPLINK_OK, NULL },
		{ "hq,Branch", UPLINK_OK, NULL },
		{ "hq,", UPLINK_EINVAL, "ends with a comma" },
		{ ",hq", UPLINK_EINVAL, "site name has 0" },
		{ "hq,,b", UPLINK_EINVAL, "site name has 0" },
		{ "h q", UPLINK_EINVAL, "site name" },
		{ "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", UPLINK_EINVAL,
		    "at most 16 sites" },
	};
	struct fixture		*f = *state;
	struct store		*st = open_ok(f->path);
	struct store_apikey	 k, got;
	char			 err[512], id[16];
	size_t			 i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(id, sizeof(id), "0000000001%02zx", i);
		make_key(&k, id, "ci", "ingress", (unsigned char)i);
		snprintf(k.sites, sizeof(k.sites), "%s", rows[i].sites);
		err[0] = '\0';
		if (store_apikey_add(st, &k, err, sizeof(err)) != rows[i].rc)
			fail_msg("row %zu: %s", i, err);
		if (rows[i].why != NULL && strstr(err, rows[i].why) == NULL)
			fail_msg("row %zu: \"%s\" lacks \"%s\"", i, err,
			    rows[i].why);
		if (rows[i].rc != UPLINK_OK)
			continue;
		assert_int_equal(store_apikey_get(st, id, &got, err,
		    sizeof(err)), UPLINK_OK);
		assert_string_equal(got.sites, rows[i].sites);
	}
	store_close(st);
}

/* A version 3 database keeps its keys across the rebuild of version 4. */
static void
test_migrate_v3_keys(void **state)
{
	struct fixture		*f = *state;
	struct store_apikey	 got;
	sqlite3			*db;
	struct store		*st;
	char			 err[512];
	int			 i;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	for (i = 0; i < 3; i++)
		assert_int_equal(sqlite3_exec(db, store_migrations[i], NULL,
		    NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 3;"
	    KEY_INSERT "('00000000000a', 'ci', 'read', zeroblob(32), 5, 6, "
	    "7)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	st = open_ok(f->path);
	assert_int_equal(pragma(st, "PRAGMA user_version"),
	    STORE_SCHEMA_VERSION);
	assert_int_equal(store_apikey_get(st, "00000000000a", &got, err,
	    sizeof(err)), UPLINK_OK);
	assert_string_equal(got.name, "ci");
	assert_string_equal(got.scope, "read");
	assert_string_equal(got.sites, "");
	assert_int_equal(got.created_at, 5);
	assert_int_equal(got.last_used, 6);
	assert_int_equal(got.revoked_at, 7);
	store_close(st);
}

/* The data version moves on another connection's commits only. */
static void
test_data_version(void **state)
{
	struct fixture	*f = *state;
	struct store	*st = open_ok(f->path), *other = open_ok(f->path);
	int64_t		 v1, v2, site;
	char		 err[256];

	assert_int_equal(store_data_version(st, &v1, err, sizeof(err)),
	    UPLINK_OK);
	store_site_ensure(st, "paris", &site, err, sizeof(err));
	assert_int_equal(store_data_version(st, &v2, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(v1, v2);
	store_site_ensure(other, "lyon", &site, err, sizeof(err));
	assert_int_equal(store_data_version(st, &v2, err, sizeof(err)),
	    UPLINK_OK);
	assert_true(v2 != v1);
	assert_int_equal(store_data_version(st, &v1, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(v1, v2);
	store_close(other);
	store_close(st);
}

/*
 * What a committed call wrote survives the process being killed before it
 * closes the database.
 */
static void
test_kill9(void **state)
{
	struct fixture	*f = *state;
	struct store	*st;
	int64_t		 n, site;
	char		 err[256];
	pid_t		 pid;
	int		 status;

	store_close(open_ok(f->path));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (store_open(f->path, &st, err, sizeof(err)) != UPLINK_OK ||
		    store_site_ensure(st, "paris", &site, err, sizeof(err)) !=
		    UPLINK_OK || store_crl_next_number(st, &n, err,
		    sizeof(err)) != UPLINK_OK)
			_exit(1);
		raise(SIGKILL);
		_exit(2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	st = open_ok(f->path);
	assert_int_equal(store_site_find(st, "paris", &site, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_crl_next_number(st, &n, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(n, 2);
	store_close(st);
}

/* PostgreSQL: the schema version, kept data, synchronous commit. */
static void
test_pg_open_and_reopen(void **state)
{
	struct fixture	*f = *state;
	struct store	*st;
	int64_t		 id1, id2;
	char		 err[256];

	st = open_ok(f->path);
	assert_true(store_is_pg(st));
	assert_int_equal(pragma(st, "SELECT version FROM uplink_schema"),
	    STORE_SCHEMA_VERSION);
	assert_int_equal(pragma(st, "SELECT count(*) FROM pg_settings WHERE "
	    "name = 'synchronous_commit' AND setting = 'on'"), 1);
	assert_int_equal(store_site_ensure(st, "paris", &id1, err,
	    sizeof(err)), UPLINK_OK);
	store_close(st);
	st = open_ok(f->path);
	assert_int_equal(pragma(st, "SELECT version FROM uplink_schema"),
	    STORE_SCHEMA_VERSION);
	assert_int_equal(store_site_find(st, "PARIS", &id2, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(id1, id2);
	assert_int_equal(pragma(st, "SELECT value::bigint FROM settings WHERE "
	    "key = 'crl_number'"), 0);
	store_close(st);
}

/* A schema newer than this code is refused, with what to do. */
static void
test_pg_newer_refused(void **state)
{
	struct fixture	*f = *state;
	struct store	*st = open_ok(f->path);
	char		 err[512];

	assert_int_equal(store_test_exec(st, "UPDATE uplink_schema SET "
	    "version = 99"), 0);
	store_close(st);
	assert_int_equal(store_open(f->path, &st, err, sizeof(err)),
	    UPLINK_EINVAL);
	expect_msg(err, "made by a newer uplink-cloud (schema version 99; "
	    "this one knows up to %d): upgrade uplink-cloud",
	    STORE_SCHEMA_VERSION);
}

/*
 * Two processes, each with its own connection, consume the same token at
 * the same moment, several rounds: exactly one wins each round.
 */
static void
test_pg_token_race(void **state)
{
	struct fixture		*f = *state;
	struct store		*st = open_ok(f->path);
	struct store_token_use	 use;
	unsigned char		 h[TOKEN_HASH_LEN];
	char			 id[TOKEN_ID_SIZE], err[512], go;
	int64_t			 site;
	int			 round, k, gate[2], status, wins;
	pid_t			 pid[2];

	assert_int_equal(store_site_ensure(st, "paris", &site, err,
	    sizeof(err)), UPLINK_OK);
	for (round = 0; round < 5; round++) {
		add_token(st, site, 10 + round, NOW + 86400, h, id);
		assert_int_equal(pipe(gate), 0);
		for (k = 0; k < 2; k++) {
			pid[k] = fork();
			assert_true(pid[k] >= 0);
			if (pid[k] != 0)
				continue;
			close(gate[1]);
			struct store *mine = open_ok(f->path);
			/* Both wait here until the parent closes the pipe. */
			if (read(gate[0], &go, 1) < 0)
				_exit(3);
			_exit(store_token_consume(mine, h, NOW, k == 0 ?
			    "c-00000000000a" : "c-00000000000b", &use, err,
			    sizeof(err)) == UPLINK_OK ? 0 : 1);
		}
		close(gate[0]);
		usleep(200000);
		close(gate[1]);
		wins = 0;
		for (k = 0; k < 2; k++) {
			assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
			assert_true(WIFEXITED(status));
			assert_true(WEXITSTATUS(status) <= 1);
			wins += WEXITSTATUS(status) == 0;
		}
		assert_int_equal(wins, 1);
	}
	assert_int_equal(pragma(st, "SELECT count(*) FROM enrollment_tokens "
	    "WHERE used_at IS NOT NULL"), 5);
	store_close(st);
}

/*
 * The circuit breaker: a call that passes its deadline fails with
 * UPLINK_EUNAVAIL and a message saying so; further calls fail at once;
 * after the backoff the store reconnects by itself and writes succeed.
 */
static void
test_pg_breaker(void **state)
{
	struct fixture		*f = *state;
	struct store		*st;
	struct store_opts	 o = { NULL, 300 };
	struct timespec		 t0, t1;
	int64_t			 site;
	char			 err[512];
	int			 i, rc = -1;

	assert_int_equal(store_open_opts(f->path, &o, &st, err, sizeof(err)),
	    UPLINK_OK);
	store_test_freeze(st, true);
	assert_int_equal(store_site_ensure(st, "paris", &site, err,
	    sizeof(err)), UPLINK_EUNAVAIL);
	expect_msg(err, "no answer from the database within 300 ms");
	expect_msg(err, "writes are refused until it is back");
	/* Open breaker: refused without waiting for any deadline. */
	store_test_freeze(st, false);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(store_site_ensure(st, "lyon", &site, err,
	    sizeof(err)), UPLINK_EUNAVAIL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 1);
	/* Back after the backoff (0.5 s first): a bounded wait. */
	for (i = 0; i < 100 && rc != UPLINK_OK; i++) {
		usleep(100000);
		rc = store_site_ensure(st, "lyon", &site, err, sizeof(err));
	}
	assert_int_equal(rc, UPLINK_OK);
	assert_int_equal(store_site_find(st, "lyon", &site, err, sizeof(err)),
	    UPLINK_OK);
	store_close(st);
}

/*
 * Sites renamed (keys bound to it follow) and deleted (refused while
 * live things refer to it), connectors renamed and removed (revoked ones
 * only; their serials stay on the CRL).
 */
static void
test_site_delete_connector_remove(void **state)
{
	struct fixture		*f = *state;
	struct store		*st = open_ok(f->path);
	struct store_connector	 c;
	struct store_site_refs	 refs;
	struct store_apikey	 k;
	struct serials		 s;
	unsigned char		 hash[TOKEN_HASH_LEN];
	char			 tid[TOKEN_ID_SIZE], err[512], name[64];
	int64_t			 site, other, id;

	store_site_ensure(st, "paris", &site, err, sizeof(err));
	store_site_ensure(st, "lyon", &other, err, sizeof(err));
	memset(&k, 0, sizeof(k));
	snprintf(k.id, sizeof(k.id), "0123456789ab");
	snprintf(k.name, sizeof(k.name), "ci");
	snprintf(k.scope, sizeof(k.scope), "ingress");
	snprintf(k.sites, sizeof(k.sites), "lyon,paris");
	assert_int_equal(store_apikey_add(st, &k, err, sizeof(err)),
	    UPLINK_OK);
	make_connector(&c, "c-1", site, "gw1", "1A");
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_OK);
	add_token(st, site, 7, NOW + 3600, hash, tid);
	/* Rename: the site, the key's list; taken and bad names refused. */
	assert_int_equal(store_site_rename(st, "PARIS", "paris-2", err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_site_find(st, "paris-2", &id, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(id, site);
	assert_int_equal(store_apikey_get(st, k.id, &k, err, sizeof(err)),
	    UPLINK_OK);
	assert_string_equal(k.sites, "lyon,paris-2");
	assert_int_equal(store_site_rename(st, "paris-2", "Lyon", err,
	    sizeof(err)), UPLINK_EEXIST);
	assert_string_equal(err, "a site is already called \"Lyon\"");
	assert_int_equal(store_site_rename(st, "paris-2", "a b", err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(store_site_rename(st, "nope", "x", err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	/* Delete refused: a live connector and a usable token. */
	assert_int_equal(store_site_delete(st, "paris-2", NOW, &refs, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(refs.connectors, 1);
	assert_int_equal(refs.services, 0);
	assert_int_equal(refs.tokens, 1);
	assert_string_equal(err, "site \"paris-2\" still has 1 connector not "
	    "revoked, 0 published services and 1 enrollment token that can "
	    "still be used: revoke, delete or move them first");
	/* Connectors: rename; remove refused until revoked. */
	assert_int_equal(store_connector_rename(st, "c-1", "gw-one", err,
	    sizeof(err)), UPLINK_OK);
	store_connector_get(st, "c-1", &c, err, sizeof(err));
	assert_string_equal(c.name, "gw-one");
	assert_int_equal(store_connector_rename(st, "c-nope", "x", err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	assert_int_equal(store_connector_rename(st, "c-1", "", err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(store_connector_remove(st, "c-1", err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_string_equal(err, "connector c-1 (\"gw-one\") is not revoked: "
	    "revoke it first, then remove it");
	assert_int_equal(store_connector_revoke(st, "c-1", NOW + 1, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_connector_remove(st, "c-1", err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_connector_get(st, "c-1", &c, err, sizeof(err)),
	    UPLINK_ENOTFOUND);
	assert_int_equal(store_connector_remove(st, "c-1", err, sizeof(err)),
	    UPLINK_ENOTFOUND);
	/* Its serial is still on the CRL. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_revoked_serials(st, serial_cb, &s, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.s[0], "1A");
	/* A revoked connector goes with its site, its serial stays. */
	make_connector(&c, "c-2", site, "gw2", "2B");
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_connector_revoke(st, "c-2", NOW + 2, err,
	    sizeof(err)), UPLINK_OK);
	/* The token expired: it no longer holds the site. */
	assert_int_equal(store_site_delete(st, "paris-2", NOW + 7200, &refs,
	    err, sizeof(err)), UPLINK_OK);
	assert_int_equal(store_site_find(st, "paris-2", &id, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	assert_int_equal(store_connector_get(st, "c-2", &c, err, sizeof(err)),
	    UPLINK_ENOTFOUND);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_revoked_serials(st, serial_cb, &s, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.s[1], "2B");
	assert_int_equal(store_site_delete(st, "paris-2", NOW, &refs, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	/* The name is free again. */
	snprintf(name, sizeof(name), "paris-2");
	assert_int_equal(store_site_ensure(st, name, &id, err, sizeof(err)),
	    UPLINK_OK);
	assert_true(id != site);
	store_close(st);
}

/* ---- history (lib/store/store_history.c) ---- */

struct hist_rows {
	int				 n;
	struct store_history_point	 p[8];
};

static int
hist_cb(void *arg, const struct store_history_point *p)
{
	struct hist_rows	*h = arg;

	if (h->n < 8)
		h->p[h->n] = *p;
	h->n++;
	return 0;
}

static void
hist_get(struct store *st, const char *conn, int64_t site, int64_t from,
    int64_t to, int64_t step, struct hist_rows *h)
{
	char	 err[512];

	memset(h, 0, sizeof(*h));
	assert_int_equal(store_history_get(st, conn, site, from, to, step,
	    hist_cb, h, err, sizeof(err)), UPLINK_OK);
}

static void
test_history(void **state)
{
	struct fixture		*f = *state;
	struct store		*st = open_ok(f->path);
	struct store_connector	 c;
	struct hist_rows	 h;
	char			 err[512];
	int64_t			 paris, lyon, merged, deleted;
	const int64_t		 t0 = NOW - NOW % 600;
	const struct store_seen	 w[] = {
		{ .id = "c-00000000000a", .at = t0 + 5, .bytes_in = 100,
		    .bytes_out = 10, .tunnels = 2, .streams = 3, .opened = 4,
		    .rtt_sum_ms = 10, .rtt_n = 2, .rtt_max_ms = 7 },
		/* The same minute: counts added, the larger gauges kept. */
		{ .id = "c-00000000000a", .at = t0 + 50, .bytes_in = 1,
		    .bytes_out = 1, .tunnels = 1, .streams = 5, .opened = 1,
		    .rtt_sum_ms = 3, .rtt_n = 1, .rtt_max_ms = 3 },
		{ .id = "c-00000000000b", .at = t0 + 30, .bytes_in = 1000,
		    .tunnels = 2 },
		{ .id = "c-00000000000z", .at = t0 + 70, .bytes_in = 7,
		    .tunnels = 1 },
		{ .id = "c-gone", .at = t0, .bytes_in = 5, .tunnels = 9 },
	};

	store_site_ensure(st, "paris", &paris, err, sizeof(err));
	store_site_ensure(st, "lyon", &lyon, err, sizeof(err));
	make_connector(&c, "c-00000000000a", paris, "gw-a", "0A");
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)), 0);
	make_connector(&c, "c-00000000000b", paris, "gw-b", "0B");
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)), 0);
	make_connector(&c, "c-00000000000z", lyon, "gw-z", "0C");
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)), 0);
	assert_int_equal(store_connectors_seen(st, w, 5, err, sizeof(err)),
	    UPLINK_OK);
	/* One connector, by minute. */
	hist_get(st, "c-00000000000a", 0, t0, t0 + 600, 60, &h);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.p[0].at, t0);
	assert_int_equal(h.p[0].tunnels, 2);
	assert_int_equal(h.p[0].streams, 5);
	assert_int_equal(h.p[0].opened, 5);
	assert_int_equal(h.p[0].bytes_in, 101);
	assert_int_equal(h.p[0].bytes_out, 11);
	assert_int_equal(h.p[0].rtt_sum_ms, 13);
	assert_int_equal(h.p[0].rtt_n, 3);
	assert_int_equal(h.p[0].rtt_max_ms, 7);
	/* A site adds its connectors up; everything has two minutes. */
	hist_get(st, NULL, paris, t0, t0 + 600, 60, &h);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.p[0].tunnels, 4);
	assert_int_equal(h.p[0].bytes_in, 1101);
	hist_get(st, "", 0, t0, t0 + 600, 60, &h);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.p[1].at, t0 + 60);
	assert_int_equal(h.p[1].bytes_in, 7);
	hist_get(st, NULL, 0, t0, t0 + 600, 600, &h);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.p[0].tunnels, 4);	/* most at once, not a sum */
	assert_int_equal(h.p[0].bytes_in, 1108);
	/* The range is half open; a bad step or range is refused. */
	hist_get(st, NULL, 0, t0 + 120, t0 + 600, 60, &h);
	assert_int_equal(h.n, 0);
	assert_int_equal(store_history_get(st, NULL, 0, t0, t0 + 600, 90,
	    hist_cb, &h, err, sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(store_history_get(st, NULL, 0, t0 + 1, t0, 60,
	    hist_cb, &h, err, sizeof(err)), UPLINK_EINVAL);
	/* A day later nothing is old enough; a day and ten minutes: merged. */
	assert_int_equal(store_history_prune(st, t0 + 86400 + 599, &merged,
	    &deleted, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(merged, 0);
	assert_int_equal(store_history_prune(st, t0 + 86400 + 600, &merged,
	    &deleted, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(merged, 3);
	assert_int_equal(deleted, 0);
	hist_get(st, "c-00000000000a", 0, t0, t0 + 600, 60, &h);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.p[0].at, t0);
	assert_int_equal(h.p[0].bytes_in, 101);
	assert_int_equal(h.p[0].rtt_sum_ms, 13);
	assert_int_equal(h.p[0].rtt_n, 3);
	assert_int_equal(h.p[0].rtt_max_ms, 7);
	hist_get(st, NULL, 0, t0, t0 + 600, 600, &h);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.p[0].bytes_in, 1108);
	/* Seven days: gone. */
	assert_int_equal(store_history_prune(st, t0 + 7 * 86400 + 1, &merged,
	    &deleted, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(deleted, 3);
	hist_get(st, NULL, 0, t0 - 86400, t0 + 86400, 600, &h);
	assert_int_equal(h.n, 0);
	store_close(st);
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup_closed, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_fresh_and_reopen),
		T(test_migrations),
		T(test_migration_rebuild),
		T(test_newer_version_refused),
		T(test_upgrade_from_v1),
		T(test_open_errors),
		cmocka_unit_test(test_names),
		T(test_sites),
		T(test_token_consume),
		T(test_token_errors),
		T(test_connectors),
		T(test_connector_errors),
		T(test_revoke_and_serials),
		T(test_site_delete_connector_remove),
		T(test_crl_number),
		T(test_enroll),
		T(test_enroll_refusals),
		T(test_token_list),
		T(test_cert_lookup),
		T(test_settings),
		T(test_apikeys),
		T(test_apikey_sites),
		T(test_migrate_v3_keys),
		T(test_data_version),
		T(test_kill9),
		T(test_history),
	};

	/* The same assertions on PostgreSQL. */
	const struct CMUnitTest pg_tests[] = {
		T(test_pg_open_and_reopen),
		T(test_sites),
		T(test_token_consume),
		T(test_token_errors),
		T(test_connectors),
		T(test_connector_errors),
		T(test_revoke_and_serials),
		T(test_site_delete_connector_remove),
		T(test_crl_number),
		T(test_enroll),
		T(test_enroll_refusals),
		T(test_token_list),
		T(test_cert_lookup),
		T(test_settings),
		T(test_apikeys),
		T(test_apikey_sites),
		T(test_data_version),
		T(test_kill9),
		T(test_pg_newer_refused),
		T(test_pg_token_race),
		T(test_pg_breaker),
		T(test_history),
	};
	return storefix_main("test_store", tests, pg_tests);
}
