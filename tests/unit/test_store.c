/*
 * store: the cloud's SQLite database. Each test gets a fresh directory with
 * no database in it. Covers migrations (fresh, reopen, a failing step, a
 * newer schema), pragmas, names, the token life cycle with every refusal,
 * connectors and their certificates, the CRL number, foreign keys and
 * durability across kill -9.
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
#include <unistd.h>

#include <sqlite3.h>

#include "error.h"
#include "store.h"
#include "token.h"

/* UNITTEST helpers of lib/store.c. */
int store_migrate(struct store *st, const char *const *steps, size_t nsteps,
    char *err, size_t errlen);
sqlite3 *store_db(struct store *st);

#define NOW	1700000000

struct fixture {
	char	 dir[64];
	char	 path[128];
};

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/uplink-test-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/cloud.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	char		 p[160];

	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

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
	sqlite3_stmt	*stmt;
	int64_t		 v = -1;

	assert_int_equal(sqlite3_prepare_v2(store_db(st), sql, -1, &stmt,
	    NULL), SQLITE_OK);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}

/* Runs SQL on the file with a plain connection, outside the store. */
static void
raw_exec(const char *path, const char *sql)
{
	sqlite3	*db;

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
	    "WHERE type = 'table'"), 5);
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

/*
 * A failing step leaves the database at the version before it; a good one
 * moves it on; a version newer than the code knows is refused at open.
 */
static void
test_migrations(void **state)
{
	static const char *const bad[] = { NULL, "CREATE TABLE extra(x); "
	    "CREATE TABLE nonsense(" };
	static const char *const good[] = { NULL, "CREATE TABLE extra(x); "
	    "INSERT INTO extra VALUES (42)" };
	struct fixture	*f = *state;
	struct store	*st;
	char		 err[512];

	st = open_ok(f->path);
	/* Step 0 is NULL: it must not run again on a version 1 database. */
	assert_int_equal(store_migrate(st, bad, 2, err, sizeof(err)),
	    UPLINK_EIO);
	assert_non_null(strstr(err, "cloud.db: upgrading the schema from "
	    "version 1 to 2: "));
	assert_int_equal(pragma(st, "PRAGMA user_version"), 1);
	assert_int_equal(pragma(st, "PRAGMA foreign_keys"), 1);
	assert_int_equal(pragma(st, "SELECT count(*) FROM sqlite_schema WHERE "
	    "name = 'extra'"), 0);
	assert_int_equal(store_migrate(st, good, 2, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(pragma(st, "PRAGMA user_version"), 2);
	assert_int_equal(pragma(st, "SELECT x FROM extra"), 42);
	/* Running it again changes nothing. */
	assert_int_equal(store_migrate(st, good, 2, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(pragma(st, "SELECT count(*) FROM extra"), 1);
	store_close(st);
	/* The code behind STORE_SCHEMA_VERSION 1 refuses this database. */
	assert_int_equal(store_open(f->path, &st, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_null(st);
	assert_non_null(strstr(err, "cloud.db: made by a newer uplink-cloud "
	    "(schema version 2; this one knows up to 1): upgrade uplink-cloud "
	    "or use a backup made by this version"));
}

/*
 * A step may rebuild a table that others reference, as SQLite's ALTER
 * procedure does, but may not leave a broken reference behind.
 */
static void
test_migration_rebuild(void **state)
{
	static const char *const steps[] = { NULL,
	    "CREATE TABLE sites_new (id INTEGER PRIMARY KEY, name TEXT NOT "
	    "NULL UNIQUE COLLATE NOCASE, created_at INTEGER NOT NULL, note "
	    "TEXT) STRICT; INSERT INTO sites_new(id, name, created_at) "
	    "SELECT id, name, created_at FROM sites; DROP TABLE sites; "
	    "ALTER TABLE sites_new RENAME TO sites",
	    "DELETE FROM sites" };
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
	assert_int_equal(store_migrate(st, steps, 2, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(pragma(st, "PRAGMA user_version"), 2);
	assert_int_equal(pragma(st, "SELECT count(*) FROM pragma_table_info"
	    "('sites') WHERE name = 'note'"), 1);
	assert_int_equal(pragma(st, "PRAGMA foreign_keys"), 1);
	c.site_id = 999;
	snprintf(c.id, sizeof(c.id), "c-2");
	assert_int_equal(store_connector_add(st, &c, err, sizeof(err)),
	    UPLINK_ENOTFOUND);
	assert_int_equal(store_migrate(st, steps, 3, err, sizeof(err)),
	    UPLINK_EIO);
	assert_non_null(strstr(err, "cloud.db: upgrading the schema from "
	    "version 2 to 3 would leave rows in connectors that break a "
	    "foreign key: the database is left at version 2"));
	assert_int_equal(pragma(st, "PRAGMA user_version"), 2);
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
	assert_non_null(strstr(err, "made by a newer uplink-cloud (schema "
	    "version 999; this one knows up to 1)"));
	/* Nothing was changed by the refusal. */
	raw_exec(f->path, "PRAGMA user_version = 1");
	store_close(open_ok(f->path));
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
	assert_int_equal(pragma(st, "SELECT count(*) FROM sites WHERE name = "
	    "'Paris' COLLATE BINARY"), 1);
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
	assert_int_not_equal(sqlite3_exec(store_db(st), "INSERT INTO "
	    "certs VALUES ('99', 'c-none', 'f', 1, 1)", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(store_db(st), "INSERT INTO sites "
	    "(name, created_at) VALUES ('x', 'yesterday')", NULL, NULL, NULL),
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

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_fresh_and_reopen),
		T(test_migrations),
		T(test_migration_rebuild),
		T(test_newer_version_refused),
		T(test_open_errors),
		cmocka_unit_test(test_names),
		T(test_sites),
		T(test_token_consume),
		T(test_token_errors),
		T(test_connectors),
		T(test_connector_errors),
		T(test_revoke_and_serials),
		T(test_crl_number),
		T(test_kill9),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
