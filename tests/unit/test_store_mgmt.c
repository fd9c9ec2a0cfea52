/*
 * store, schema 3: the management plane (lib/store_admin.c and
 * lib/store_mgmt.c). Each test gets a fresh directory with no database in
 * it. Covers the upgrade from a version 2 file, the text checks, sites and
 * the drained flag, administrators with the last-"full" rule, sessions and
 * their cascade, services, requirements, check retention, notification
 * dedupe and the audit log's paging, with malformed and boundary inputs
 * in tables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "error.h"
#include "store.h"

/* UNITTEST and store_impl.h helpers of lib/store*.c. */
void *store_db(struct store *st);
int64_t store_test_query(struct store *st, const char *sql);
bool store_test_in_txn(struct store *st);
extern const char *const store_migrations[];
bool store_line_check(const char *what, const char *s, size_t max,
    bool empty_ok, char *err, size_t errlen);

#define NOW	1700000000

#include "storefix.h"

static int64_t
query(struct store *st, const char *sql)
{
	int64_t	 v = store_test_query(st, sql);

	assert_true(v != -2);
	return v;
}

/* Whether SQLite's plan for sql names index. */
static bool
plan_uses(struct store *st, const char *sql, const char *index)
{
	sqlite3_stmt		*stmt;
	const unsigned char	*d;
	char			 q[512];
	bool			 found = false;

	snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
	assert_int_equal(sqlite3_prepare_v2(store_db(st), q, -1, &stmt, NULL),
	    SQLITE_OK);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		d = sqlite3_column_text(stmt, 3);
		if (d != NULL && strstr((const char *)d, index) != NULL)
			found = true;
	}
	sqlite3_finalize(stmt);
	return found;
}

static void
expect_msg(const char *err, const char *want)
{
	if (strstr(err, want) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", err, want);
}

/* A site "paris" and a connector c-1 in it; returns the site id. */
static int64_t
add_connector(struct store *st, const char *id)
{
	struct store_connector	 c;
	int64_t			 site;
	char			 err[512];

	assert_int_equal(store_site_ensure(st, "paris", &site, err,
	    sizeof(err)), UPLINK_OK);
	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "%s", id);
	snprintf(c.name, sizeof(c.name), "gw-%s", id);
	c.site_id = site;
	if (store_connector_add(st, &c, err, sizeof(err)) != UPLINK_OK)
		fail_msg("store_connector_add: %s", err);
	return site;
}

static int64_t
add_admin(struct store *st, const char *email, const char *role)
{
	struct store_admin	 a;
	int64_t			 id = 0;
	char			 err[512];

	memset(&a, 0, sizeof(a));
	snprintf(a.email, sizeof(a.email), "%s", email);
	snprintf(a.role, sizeof(a.role), "%s", role);
	snprintf(a.pwhash, sizeof(a.pwhash), "$argon2id$v=19$m=65536,t=2,"
	    "p=1$c2FsdA$aGFzaA");
	a.created_at = NOW;
	if (store_admin_add(st, &a, &id, err, sizeof(err)) != UPLINK_OK)
		fail_msg("store_admin_add %s: %s", email, err);
	return id;
}

/* ---- schema and upgrade ---- */

static void
test_fresh_schema(void **state)
{
	struct fixture	*f = *state;

	assert_int_equal(query(f->st, "PRAGMA user_version"),
	    STORE_SCHEMA_VERSION);
	assert_int_equal(query(f->st, "SELECT count(*) FROM sqlite_schema "
	    "WHERE type = 'table' AND name IN ('admins', 'sessions', "
	    "'services', 'requirements', 'checks', 'notifications', "
	    "'audit')"), 7);
	assert_int_equal(query(f->st, "SELECT count(*) FROM "
	    "pragma_table_info('connectors') WHERE name = 'drained'"), 1);
	assert_int_equal(query(f->st, "SELECT count(*) FROM sqlite_schema "
	    "WHERE type = 'table' AND sql NOT LIKE '%STRICT'"), 0);
	/* The planner uses the indexes the queries were written for. */
	assert_true(plan_uses(f->st, "SELECT id FROM checks WHERE "
	    "connector_id = 'x' ORDER BY id DESC", "checks_connector"));
	assert_true(plan_uses(f->st, "DELETE FROM sessions WHERE admin_id = 1",
	    "sessions_admin"));
	assert_true(plan_uses(f->st, "DELETE FROM sessions WHERE created_at "
	    "< 5", "sessions_created"));
	assert_true(plan_uses(f->st, "SELECT count(*) FROM notifications "
	    "WHERE read_at IS NULL", "notifications_unread"));
	assert_true(plan_uses(f->st, "UPDATE notifications SET read_at = 1 "
	    "WHERE kind = 'k' AND subject = 's' AND resolved_at IS NULL",
	    "notifications_open"));
}

/*
 * A database as version 2 of uplink-cloud left it, with rows in its
 * tables, is upgraded at open: the rows stay, connectors get drained 0,
 * and the new tables work.
 */
static void
test_upgrade_from_v2(void **state)
{
	struct fixture		*f = *state;
	struct store_connector	 c;
	struct store_apikey	 k;
	sqlite3			*db;
	char			 err[512];

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, store_migrations[0], NULL, NULL,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, store_migrations[1], NULL, NULL,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 2; "
	    "INSERT INTO sites VALUES (1, 'paris', 1); "
	    "INSERT INTO connectors(id, site_id, name, cert_serial, "
	    "cert_fingerprint, cert_not_after, created_at, revoked_at) VALUES "
	    "('c-1', 1, 'gw', '0a', 'f', 99, 2, NULL), ('c-2', 1, 'gw2', "
	    "'0b', 'g', 99, 3, 50); INSERT INTO certs VALUES ('0a', 'c-1', "
	    "'f', 99, 2); INSERT INTO api_keys VALUES ('0123456789ab', 'ci', "
	    "'read', zeroblob(32), 5, NULL, NULL); UPDATE settings SET value "
	    "= 7 WHERE key = 'crl_number'", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_open(f->path, &f->st, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(query(f->st, "PRAGMA user_version"),
	    STORE_SCHEMA_VERSION);
	assert_int_equal(store_connector_get(f->st, "c-1", &c, err,
	    sizeof(err)), UPLINK_OK);
	assert_string_equal(c.cert_serial, "0a");
	assert_false(c.drained);
	assert_int_equal(store_connector_get(f->st, "c-2", &c, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(c.revoked_at, 50);
	assert_false(c.drained);
	assert_int_equal(query(f->st, "SELECT count(*) FROM connectors WHERE "
	    "drained = 0"), 2);
	assert_int_equal(store_apikey_get(f->st, "0123456789ab", &k, err,
	    sizeof(err)), UPLINK_OK);
	assert_string_equal(k.scope, "read");
	assert_int_equal(query(f->st, "SELECT value FROM settings WHERE key = "
	    "'crl_number'"), 7);
	assert_int_equal(query(f->st, "PRAGMA foreign_keys"), 1);
	/* The new parts work on the old rows. */
	assert_int_equal(store_connector_set_drained(f->st, "c-1", true, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_connector_get(f->st, "c-1", &c, err,
	    sizeof(err)), UPLINK_OK);
	assert_true(c.drained);
	add_admin(f->st, "ana@example.net", "full");
	store_close(f->st);
	f->st = NULL;
	/* Reopening runs no step again. */
	assert_int_equal(store_open(f->path, &f->st, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(query(f->st, "SELECT count(*) FROM admins"), 1);
}

/* ---- text checks ---- */

static const struct {
	const char	*s;
	size_t		 max;
	bool		 empty_ok, ok;
	const char	*msg;
} line_cases[] = {
	{ "plain text, with spaces", 64, false, true, NULL },
	{ "", 64, true, true, NULL },
	{ "", 64, false, false, "has 0 bytes; use 1 to 64" },
	{ "abcde", 4, false, false, "has 5 bytes; use 1 to 4" },
	{ "abcd", 4, false, true, NULL },
	{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 64, false, true, NULL },
	{ "\xf4\x8f\xbf\xbf", 8, false, true, NULL },		/* U+10FFFF */
	{ "two\nlines", 64, false, false, "byte 0x0a at position 4" },
	{ "tab\there", 64, false, false, "byte 0x09 at position 4" },
	{ "del\x7f", 64, false, false, "byte 0x7f at position 4" },
	{ "ab\xff", 64, false, false, "\"ab...\": byte 0xff at position 3" },
	{ "\xc0\x80", 64, false, false, "byte 0xc0" },		/* overlong */
	{ "\xe0\x80\xaf", 64, false, false, "byte 0xe0" },	/* overlong */
	{ "\xed\xa0\x80", 64, false, false, "byte 0xed" },	/* surrogate */
	{ "\xf4\x90\x80\x80", 64, false, false, "byte 0xf4" },	/* >10FFFF */
	{ "x\xe2\x82", 64, false, false, "byte 0xe2 at position 2" },
	{ "\x80", 64, false, false, "byte 0x80" },		/* lone cont. */
	{ "\xc3\xa9", 1, false, false, "has 2 bytes" },
};

static void
test_line_check(void **state)
{
	char	 err[256];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		err[0] = '\0';
		if (store_line_check("text", line_cases[i].s,
		    line_cases[i].max, line_cases[i].empty_ok, err,
		    sizeof(err)) != line_cases[i].ok)
			fail_msg("row %zu: wrong verdict (%s)", i, err);
		if (line_cases[i].msg != NULL)
			expect_msg(err, line_cases[i].msg);
	}
}

/* ---- sites and drained ---- */

struct names {
	char	 v[8][STORE_NAME_MAX + 1];
	int	 n;
	int	 stop_at;
};

static int
site_cb(void *arg, const struct store_site *s)
{
	struct names	*n = arg;

	assert_true(s->id > 0 && s->created_at > 0);
	snprintf(n->v[n->n++], sizeof(n->v[0]), "%s", s->name);
	return n->n == n->stop_at ? 42 : 0;
}

static void
test_sites_and_drained(void **state)
{
	struct fixture		*f = *state;
	struct store_connector	 c;
	struct names		 n;
	int64_t			 id;
	char			 err[512];

	memset(&n, 0, sizeof(n));
	assert_int_equal(store_site_list(f->st, site_cb, &n, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(n.n, 0);
	assert_int_equal(store_site_ensure(f->st, "paris", &id, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_site_ensure(f->st, "Lyon", &id, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_site_ensure(f->st, "berlin", &id, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_site_list(f->st, site_cb, &n, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(n.n, 3);	/* by name, without regard to case */
	assert_string_equal(n.v[0], "berlin");
	assert_string_equal(n.v[1], "Lyon");
	assert_string_equal(n.v[2], "paris");
	memset(&n, 0, sizeof(n));
	n.stop_at = 2;
	assert_int_equal(store_site_list(f->st, site_cb, &n, err,
	    sizeof(err)), 42);
	assert_int_equal(n.n, 2);

	add_connector(f->st, "c-1");
	assert_int_equal(store_connector_get(f->st, "c-1", &c, err,
	    sizeof(err)), UPLINK_OK);
	assert_false(c.drained);
	assert_int_equal(store_connector_set_drained(f->st, "c-1", true, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_connector_get(f->st, "c-1", &c, err,
	    sizeof(err)), UPLINK_OK);
	assert_true(c.drained);
	/* Setting it twice is no error. */
	assert_int_equal(store_connector_set_drained(f->st, "c-1", true, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_connector_set_drained(f->st, "c-1", false, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_connector_get(f->st, "c-1", &c, err,
	    sizeof(err)), UPLINK_OK);
	assert_false(c.drained);
	assert_int_equal(store_connector_set_drained(f->st, "c-404", true, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	expect_msg(err, "no connector has the id \"c-404\"");
	assert_int_equal(store_connector_set_drained(f->st, "c 1\n", true,
	    err, sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(store_connector_set_drained(f->st, "", true, err,
	    sizeof(err)), UPLINK_EINVAL);
}

static int
drained_cb(void *arg, const struct store_connector *c)
{
	int	*n = arg;

	*n += c->drained ? 1 : 0;
	return 0;
}

static void
test_connector_list_drained(void **state)
{
	struct fixture	*f = *state;
	char		 err[512];
	int		 n = 0;

	add_connector(f->st, "c-1");
	add_connector(f->st, "c-2");
	assert_int_equal(store_connector_set_drained(f->st, "c-2", true, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_connector_list(f->st, 0, drained_cb, &n, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(n, 1);
}

/* ---- administrators ---- */

static const struct {
	const char	*email, *role, *pwhash;
	int		 rc;
	const char	*msg;
} admin_cases[] = {
	{ "ana@example.net", "full", "$argon2id$x", UPLINK_OK, NULL },
	{ "bob@example.net", "read", "$argon2id$x", UPLINK_OK, NULL },
	{ "ANA@Example.NET", "read", "$argon2id$x", UPLINK_EEXIST,
	  "an administrator has this e-mail address already" },
	{ "", "full", "h", UPLINK_EINVAL, "e-mail address has 0 bytes" },
	{ "ana", "full", "h", UPLINK_EINVAL, "\"ana\" is not an e-mail "
	  "address: use NAME@DOMAIN" },
	{ "@example.net", "full", "h", UPLINK_EINVAL, "not an e-mail" },
	{ "ana@", "full", "h", UPLINK_EINVAL, "not an e-mail" },
	{ "a na@x", "full", "h", UPLINK_EINVAL, "not an e-mail" },
	{ "ana@x\n", "full", "h", UPLINK_EINVAL, "byte 0x0a" },
	{ "ana@\xff", "full", "h", UPLINK_EINVAL, "not UTF-8" },
	{ "ana@x", "admin", "h", UPLINK_EINVAL, "role \"admin\" is neither "
	  "\"full\" nor \"read\"" },
	{ "ana@x", "FULL", "h", UPLINK_EINVAL, "neither" },
	{ "ana@x", "", "h", UPLINK_EINVAL, "neither" },
	{ "ana@x", "full", "", UPLINK_EINVAL, "password hash has 0 bytes" },
	{ "ana@x", "full", "a b", UPLINK_EINVAL, "password hash has byte "
	  "0x20" },
};

static void
test_admin_inputs(void **state)
{
	struct fixture		*f = *state;
	struct store_admin	 a;
	char			 err[512];
	int64_t			 id;
	size_t			 i;

	for (i = 0; i < sizeof(admin_cases) / sizeof(admin_cases[0]); i++) {
		memset(&a, 0, sizeof(a));
		snprintf(a.email, sizeof(a.email), "%s", admin_cases[i].email);
		snprintf(a.role, sizeof(a.role), "%s", admin_cases[i].role);
		snprintf(a.pwhash, sizeof(a.pwhash), "%s",
		    admin_cases[i].pwhash);
		err[0] = '\0';
		if (store_admin_add(f->st, &a, &id, err, sizeof(err)) !=
		    admin_cases[i].rc)
			fail_msg("row %zu (%s): %s", i, admin_cases[i].email,
			    err);
		if (admin_cases[i].msg != NULL)
			expect_msg(err, admin_cases[i].msg);
	}
	assert_int_equal(query(f->st, "SELECT count(*) FROM admins"), 2);
}

/* The longest e-mail and hash fit; one byte more is refused. */
static void
test_admin_bounds(void **state)
{
	struct fixture		*f = *state;
	struct store_admin	 a, b;
	char			 err[512];
	int64_t			 id;

	memset(&a, 0, sizeof(a));
	memset(a.email, 'e', STORE_EMAIL_MAX);
	a.email[5] = '@';
	memset(a.pwhash, 'h', STORE_PWHASH_MAX);
	snprintf(a.role, sizeof(a.role), "read");
	assert_int_equal(store_admin_add(f->st, &a, &id, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_admin_get(f->st, id, &b, err, sizeof(err)),
	    UPLINK_OK);
	assert_string_equal(b.email, a.email);
	assert_string_equal(b.pwhash, a.pwhash);
	assert_true(b.created_at > 0);		/* 0 meant now */
	assert_int_equal(b.last_sign_in, 0);
	assert_int_equal(store_admin_update(f->st, id, NULL, "", NULL, err,
	    sizeof(err)), UPLINK_EINVAL);
	{
		char	 big[STORE_PWHASH_MAX + 2];

		memset(big, 'h', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(store_admin_update(f->st, id, NULL, big, NULL,
		    err, sizeof(err)), UPLINK_EINVAL);
		expect_msg(err, "password hash has 128 bytes; use 1 to 127");
	}
	{
		char	 big[STORE_EMAIL_MAX + 2];

		memset(big, 'e', sizeof(big) - 1);
		big[1] = '@';
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(store_admin_find(f->st, big, &b, err,
		    sizeof(err)), UPLINK_ENOTFOUND);
	}
}

static int
admin_cb(void *arg, const struct store_admin *a)
{
	struct names	*n = arg;

	snprintf(n->v[n->n++], sizeof(n->v[0]), "%.60s", a->email);
	return 0;
}

static void
test_admin_crud(void **state)
{
	struct fixture		*f = *state;
	struct store_admin	 a;
	struct names		 n;
	int64_t			 ana, bob, cnt;
	char			 err[512];

	assert_int_equal(store_admin_count(f->st, &cnt, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(cnt, 0);
	ana = add_admin(f->st, "Ana@Example.net", "full");
	bob = add_admin(f->st, "bob@example.net", "read");
	assert_true(ana > 0 && bob > ana);
	assert_int_equal(store_admin_count(f->st, &cnt, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(cnt, 2);

	assert_int_equal(store_admin_get(f->st, ana, &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(a.id, ana);
	assert_string_equal(a.email, "Ana@Example.net");
	assert_string_equal(a.role, "full");
	assert_int_equal(a.created_at, NOW);
	/* Found without regard to case; the first spelling is kept. */
	assert_int_equal(store_admin_find(f->st, "ana@EXAMPLE.NET", &a, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(a.id, ana);
	assert_string_equal(a.email, "Ana@Example.net");
	assert_int_equal(store_admin_find(f->st, "eve@example.net", &a, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	expect_msg(err, "no administrator has the e-mail address "
	    "\"eve@example.net\"");
	assert_int_equal(store_admin_find(f->st, "eve\n@x", &a, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	assert_null(strchr(err, '\n'));
	assert_int_equal(store_admin_find(f->st, "", &a, err, sizeof(err)),
	    UPLINK_ENOTFOUND);
	assert_int_equal(store_admin_get(f->st, 999, &a, err, sizeof(err)),
	    UPLINK_ENOTFOUND);
	expect_msg(err, "no administrator has the id 999");
	assert_int_equal(store_admin_get(f->st, -1, &a, err, sizeof(err)),
	    UPLINK_ENOTFOUND);

	memset(&n, 0, sizeof(n));
	assert_int_equal(store_admin_list(f->st, admin_cb, &n, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(n.n, 2);
	assert_string_equal(n.v[0], "Ana@Example.net");
	assert_string_equal(n.v[1], "bob@example.net");

	/* Role and hash, each alone or both; NULL keeps. */
	assert_int_equal(store_admin_update(f->st, bob, "full", NULL, NULL,
	    err, sizeof(err)), UPLINK_OK);
	assert_int_equal(store_admin_get(f->st, bob, &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_string_equal(a.role, "full");
	assert_string_equal(a.pwhash, "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$"
	    "aGFzaA");
	assert_int_equal(store_admin_update(f->st, bob, NULL, "$new", NULL,
	    err, sizeof(err)), UPLINK_OK);
	assert_int_equal(store_admin_get(f->st, bob, &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_string_equal(a.role, "full");
	assert_string_equal(a.pwhash, "$new");
	assert_int_equal(store_admin_update(f->st, bob, "read", "$newer",
	    NULL, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(store_admin_get(f->st, bob, &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_string_equal(a.role, "read");
	assert_string_equal(a.pwhash, "$newer");
	assert_int_equal(store_admin_update(f->st, bob, NULL, NULL, NULL, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_admin_update(f->st, 999, "read", NULL, NULL,
	    err, sizeof(err)), UPLINK_ENOTFOUND);
	expect_msg(err, "no administrator has the id 999");
	assert_int_equal(store_admin_update(f->st, bob, "root", NULL, NULL,
	    err, sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(store_admin_delete(f->st, bob, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_admin_delete(f->st, bob, err, sizeof(err)),
	    UPLINK_ENOTFOUND);
	assert_int_equal(store_admin_count(f->st, &cnt, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(cnt, 1);
	/* The address is free again. */
	add_admin(f->st, "BOB@example.net", "read");
}

static void
test_last_full_admin(void **state)
{
	struct fixture		*f = *state;
	struct store_admin	 a;
	int64_t			 ana, bob, cyd;
	char			 err[512];

	ana = add_admin(f->st, "ana@example.net", "full");
	bob = add_admin(f->st, "bob@example.net", "read");
	assert_int_equal(store_admin_update(f->st, ana, "read", NULL, NULL,
	    err, sizeof(err)), UPLINK_EINVAL);
	expect_msg(err, "cannot demote administrator");
	expect_msg(err, "(ana@example.net): it is the last one with the role "
	    "\"full\"; give another administrator the role \"full\" first");
	/* A refused change changes nothing, not even the password. */
	assert_int_equal(store_admin_update(f->st, ana, "read", "$other",
	    NULL, err, sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(store_admin_get(f->st, ana, &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_string_equal(a.role, "full");
	assert_string_not_equal(a.pwhash, "$other");
	assert_int_equal(store_admin_delete(f->st, ana, err, sizeof(err)),
	    UPLINK_EINVAL);
	expect_msg(err, "cannot remove administrator");
	/* "full" to "full" is no demotion; a read one may always go. */
	assert_int_equal(store_admin_update(f->st, ana, "full", NULL, NULL,
	    err, sizeof(err)), UPLINK_OK);
	assert_int_equal(store_admin_update(f->st, ana, NULL, "$pw", NULL,
	    err, sizeof(err)), UPLINK_OK);
	cyd = add_admin(f->st, "cyd@example.net", "read");
	assert_int_equal(store_admin_delete(f->st, cyd, err, sizeof(err)),
	    UPLINK_OK);
	/* With a second full one, the first may go; then bob is the last. */
	assert_int_equal(store_admin_update(f->st, bob, "full", NULL, NULL,
	    err, sizeof(err)), UPLINK_OK);
	assert_int_equal(store_admin_update(f->st, ana, "read", NULL, NULL,
	    err, sizeof(err)), UPLINK_OK);
	assert_int_equal(store_admin_update(f->st, bob, "read", NULL, NULL,
	    err, sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(store_admin_delete(f->st, ana, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_admin_delete(f->st, bob, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_int_equal(query(f->st, "SELECT count(*) FROM admins WHERE "
	    "role = 'full'"), 1);
}

/* ---- sessions ---- */

static void
session_init(struct store_session *s, int64_t admin, unsigned char tag)
{
	memset(s, 0, sizeof(*s));
	memset(s->hash, tag, sizeof(s->hash));
	s->admin_id = admin;
	s->created_at = NOW;
	snprintf(s->csrf, sizeof(s->csrf), "abcDEF0123-_");
	snprintf(s->address, sizeof(s->address), "[2001:db8::1]:443");
}

static int64_t
sessions_of(struct store *st, int64_t admin)
{
	char	 sql[96];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM sessions WHERE "
	    "admin_id = %lld", (long long)admin);
	return query(st, sql);
}

static const struct {
	const char	*csrf, *address;
	int64_t		 admin;		/* 0: the valid one */
	int		 rc;
	const char	*msg;
} session_cases[] = {
	{ "", "1.2.3.4:5", 0, UPLINK_EINVAL, "CSRF token must be 1 to 43" },
	{ "a+b", "1.2.3.4:5", 0, UPLINK_EINVAL, "base64url" },
	{ "a b", "1.2.3.4:5", 0, UPLINK_EINVAL, "base64url" },
	{ "abc", "1.2.3.4 5", 0, UPLINK_EINVAL, "session address has byte "
	  "0x20" },
	{ "abc", "", 0, UPLINK_OK, NULL },
	{ "abc", "1.2.3.4:5", 999, UPLINK_ENOTFOUND, "adding a session for "
	  "administrator 999: no such administrator" },
	{ "abc", "1.2.3.4:5", -4, UPLINK_ENOTFOUND, "no administrator has "
	  "the id -4" },
};

static void
test_session_inputs(void **state)
{
	struct fixture		*f = *state;
	struct store_session	 s;
	int64_t			 ana;
	char			 err[512];
	size_t			 i;

	ana = add_admin(f->st, "ana@example.net", "full");
	for (i = 0; i < sizeof(session_cases) / sizeof(session_cases[0]);
	    i++) {
		session_init(&s, session_cases[i].admin != 0 ?
		    session_cases[i].admin : ana, (unsigned char)(i + 1));
		snprintf(s.csrf, sizeof(s.csrf), "%s", session_cases[i].csrf);
		snprintf(s.address, sizeof(s.address), "%s",
		    session_cases[i].address);
		err[0] = '\0';
		if (store_session_add(f->st, &s, err, sizeof(err)) !=
		    session_cases[i].rc)
			fail_msg("row %zu: %s", i, err);
		if (session_cases[i].msg != NULL)
			expect_msg(err, session_cases[i].msg);
	}
	/* 43 characters fill the field; a hash is stored once. */
	session_init(&s, ana, 0xee);
	memset(s.csrf, 'A', STORE_CSRF_SIZE - 1);
	assert_int_equal(store_session_add(f->st, &s, err, sizeof(err)),
	    UPLINK_OK);
	memset(s.csrf, 'A', STORE_CSRF_SIZE);		/* no NUL */
	assert_int_equal(store_session_add(f->st, &s, err, sizeof(err)),
	    UPLINK_EINVAL);
	session_init(&s, ana, 0xee);
	assert_int_equal(store_session_add(f->st, &s, err, sizeof(err)),
	    UPLINK_EEXIST);
	expect_msg(err, "this session exists already");
	assert_int_equal(sessions_of(f->st, ana), 2);
}

static void
test_sessions(void **state)
{
	struct fixture		*f = *state;
	struct store_session	 s, got;
	struct store_admin	 a;
	unsigned char		 none[STORE_HASH_LEN];
	int64_t			 ana;
	char			 err[512];

	ana = add_admin(f->st, "ana@example.net", "full");
	session_init(&s, ana, 1);
	s.created_at = NOW + 10;
	assert_int_equal(store_session_add(f->st, &s, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_admin_get(f->st, ana, &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(a.last_sign_in, NOW + 10);
	assert_int_equal(store_session_get(f->st, s.hash, &got, err,
	    sizeof(err)), UPLINK_OK);
	assert_memory_equal(got.hash, s.hash, STORE_HASH_LEN);
	assert_int_equal(got.admin_id, ana);
	assert_int_equal(got.created_at, NOW + 10);
	assert_int_equal(got.last_active, NOW + 10);	/* 0 meant created */
	assert_string_equal(got.csrf, "abcDEF0123-_");
	assert_string_equal(got.address, "[2001:db8::1]:443");

	assert_int_equal(store_session_touch(f->st, s.hash, NOW + 99, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_session_get(f->st, s.hash, &got, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(got.last_active, NOW + 99);

	memset(none, 9, sizeof(none));
	assert_int_equal(store_session_get(f->st, none, &got, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	expect_msg(err, "no such session: it expired or was signed out");
	assert_int_equal(store_session_touch(f->st, none, NOW, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	assert_int_equal(store_session_delete(f->st, none, err, sizeof(err)),
	    UPLINK_ENOTFOUND);
	expect_msg(err, "signing out: no such session");

	assert_int_equal(store_session_delete(f->st, s.hash, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_session_get(f->st, s.hash, &got, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	assert_int_equal(store_session_delete(f->st, s.hash, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
}

static void
test_session_purge(void **state)
{
	struct fixture		*f = *state;
	struct store_session	 s;
	int64_t			 ana;
	char			 err[512];
	int			 i;

	ana = add_admin(f->st, "ana@example.net", "full");
	for (i = 0; i < 4; i++) {
		session_init(&s, ana, (unsigned char)(i + 1));
		s.created_at = NOW + i * 100;
		assert_int_equal(store_session_add(f->st, &s, err,
		    sizeof(err)), UPLINK_OK);
	}
	/* Strictly before: the one created at NOW + 200 stays. */
	assert_int_equal(store_session_purge(f->st, NOW + 200, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(sessions_of(f->st, ana), 2);
	assert_int_equal(store_session_purge(f->st, 0, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(sessions_of(f->st, ana), 2);
	assert_int_equal(store_session_purge(f->st, INT64_MAX, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(sessions_of(f->st, ana), 0);
}

/*
 * Removing an administrator ends its sessions (ON DELETE CASCADE); a new
 * password ends all but the one kept; a role change ends none.
 */
static void
test_session_cascade(void **state)
{
	struct fixture		*f = *state;
	struct store_session	 s;
	unsigned char		 keep[STORE_HASH_LEN];
	int64_t			 ana, bob;
	char			 err[512];
	int			 i;

	ana = add_admin(f->st, "ana@example.net", "full");
	bob = add_admin(f->st, "bob@example.net", "full");
	for (i = 0; i < 3; i++) {
		session_init(&s, ana, (unsigned char)(10 + i));
		assert_int_equal(store_session_add(f->st, &s, err,
		    sizeof(err)), UPLINK_OK);
		session_init(&s, bob, (unsigned char)(20 + i));
		assert_int_equal(store_session_add(f->st, &s, err,
		    sizeof(err)), UPLINK_OK);
	}
	assert_int_equal(store_admin_update(f->st, ana, "read", NULL, NULL,
	    err, sizeof(err)), UPLINK_OK);
	assert_int_equal(sessions_of(f->st, ana), 3);

	memset(keep, 11, sizeof(keep));
	assert_int_equal(store_admin_update(f->st, ana, NULL, "$pw2", keep,
	    err, sizeof(err)), UPLINK_OK);
	assert_int_equal(sessions_of(f->st, ana), 1);
	assert_int_equal(query(f->st, "SELECT count(*) FROM sessions WHERE "
	    "hash = zeroblob(32)"), 0);
	assert_int_equal(store_session_get(f->st, keep, &s, err, sizeof(err)),
	    UPLINK_OK);
	/* Another administrator's session is not kept by keep_session. */
	memset(keep, 20, sizeof(keep));
	assert_int_equal(store_admin_update(f->st, ana, NULL, "$pw3", keep,
	    err, sizeof(err)), UPLINK_OK);
	assert_int_equal(sessions_of(f->st, ana), 0);
	assert_int_equal(sessions_of(f->st, bob), 3);

	assert_int_equal(store_admin_update(f->st, bob, NULL, "$pw4", NULL,
	    err, sizeof(err)), UPLINK_OK);
	assert_int_equal(sessions_of(f->st, bob), 0);
	session_init(&s, bob, 30);
	assert_int_equal(store_session_add(f->st, &s, err, sizeof(err)),
	    UPLINK_OK);
	session_init(&s, ana, 31);
	assert_int_equal(store_session_add(f->st, &s, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_admin_delete(f->st, ana, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(sessions_of(f->st, ana), 0);
	assert_int_equal(sessions_of(f->st, bob), 1);
}

/* ---- services ---- */

static const struct {
	const char	*name, *site, *target, *listen;
	int		 rc;
	const char	*msg;
} service_cases[] = {
	{ "wiki", "paris", "wiki.corp:443", "0.0.0.0:8443", UPLINK_OK, NULL },
	{ "WIKI", "paris", "x:1", "0.0.0.0:1", UPLINK_EEXIST, "adding service "
	  "\"WIKI\": a service with this name exists already" },
	{ "git", "lyon", "git:22", "0.0.0.0:2222", UPLINK_ENOTFOUND, "adding service "
	  "\"git\": no site is called \"lyon\"" },
	{ "", "paris", "x:1", ":1", UPLINK_EINVAL, "service name has 0" },
	{ "-x", "paris", "x:1", ":1", UPLINK_EINVAL, "must start with a "
	  "letter or digit" },
	{ "a b", "paris", "x:1", ":1", UPLINK_EINVAL, "service name" },
	{ "git", "", "x:1", ":1", UPLINK_EINVAL, "site name has 0" },
	{ "git", "paris", "x", ":1", UPLINK_EINVAL, "service target \"x\" is "
	  "not HOST:PORT with a port from 1 to 65535" },
	{ "git", "paris", ":22", ":1", UPLINK_EINVAL, "not HOST:PORT" },
	{ "git", "paris", "x:0", ":1", UPLINK_EINVAL, "not HOST:PORT" },
	{ "git", "paris", "x:65536", ":1", UPLINK_EINVAL, "not HOST:PORT" },
	{ "git", "paris", "x:+1", ":1", UPLINK_EINVAL, "not HOST:PORT" },
	{ "git", "paris", "x:1a", ":1", UPLINK_EINVAL, "not HOST:PORT" },
	{ "git", "paris", "x:99999999999999999999", ":1", UPLINK_EINVAL,
	  "not HOST:PORT" },
	{ "git", "paris", "x y:1", ":1", UPLINK_EINVAL, "service target has "
	  "byte 0x20" },
	{ "git", "paris", "x:1", "", UPLINK_EINVAL, "service listen address "
	  "has 0 bytes" },
	{ "git", "paris", "x:1", "0.0.0.0:", UPLINK_EINVAL, "service listen "
	  "address \"0.0.0.0:\" is not HOST:PORT" },
	{ "git", "paris", "[2001:db8::1]:22", "[::]:65535", UPLINK_OK, NULL },
};

static void
test_service_inputs(void **state)
{
	struct fixture		*f = *state;
	struct store_service	 s;
	char			 err[512];
	int64_t			 site;
	size_t			 i;

	assert_int_equal(store_site_ensure(f->st, "paris", &site, err,
	    sizeof(err)), UPLINK_OK);
	for (i = 0; i < sizeof(service_cases) / sizeof(service_cases[0]);
	    i++) {
		memset(&s, 0, sizeof(s));
		snprintf(s.name, sizeof(s.name), "%s", service_cases[i].name);
		snprintf(s.site, sizeof(s.site), "%s", service_cases[i].site);
		snprintf(s.target, sizeof(s.target), "%s",
		    service_cases[i].target);
		snprintf(s.listen, sizeof(s.listen), "%s",
		    service_cases[i].listen);
		err[0] = '\0';
		if (store_service_put(f->st, &s, true, NOW, err,
		    sizeof(err)) != service_cases[i].rc)
			fail_msg("row %zu (%s): %s", i, s.name, err);
		if (service_cases[i].msg != NULL)
			expect_msg(err, service_cases[i].msg);
	}
	assert_int_equal(query(f->st, "SELECT count(*) FROM services"), 2);
}

static int
service_cb(void *arg, const struct store_service *s)
{
	struct names	*n = arg;

	snprintf(n->v[n->n++], sizeof(n->v[0]), "%s@%s", s->name, s->site);
	return 0;
}

static void
test_services(void **state)
{
	struct fixture		*f = *state;
	struct store_service	 s, got;
	struct names		 n;
	char			 err[512];
	int64_t			 site;

	assert_int_equal(store_site_ensure(f->st, "paris", &site, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_site_ensure(f->st, "Lyon", &site, err,
	    sizeof(err)), UPLINK_OK);
	memset(&s, 0, sizeof(s));
	snprintf(s.name, sizeof(s.name), "Wiki");
	snprintf(s.site, sizeof(s.site), "paris");
	snprintf(s.target, sizeof(s.target), "wiki.corp:443");
	snprintf(s.listen, sizeof(s.listen), "0.0.0.0:8443");
	assert_int_equal(store_service_put(f->st, &s, true, NOW, err,
	    sizeof(err)), UPLINK_OK);
	/* Replacing: an unknown name is not created. */
	snprintf(s.name, sizeof(s.name), "git");
	assert_int_equal(store_service_put(f->st, &s, false, NOW, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	expect_msg(err, "no service is called \"git\"");
	assert_int_equal(store_service_get(f->st, "git", &got, err,
	    sizeof(err)), UPLINK_ENOTFOUND);

	snprintf(s.name, sizeof(s.name), "WIKI");
	snprintf(s.site, sizeof(s.site), "lyon");	/* any case */
	snprintf(s.target, sizeof(s.target), "wiki2.corp:8080");
	assert_int_equal(store_service_put(f->st, &s, false, NOW + 5, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_service_get(f->st, "wiki", &got, err,
	    sizeof(err)), UPLINK_OK);
	assert_string_equal(got.name, "Wiki");		/* first spelling */
	assert_string_equal(got.site, "Lyon");
	assert_string_equal(got.target, "wiki2.corp:8080");
	assert_string_equal(got.listen, "0.0.0.0:8443");
	assert_int_equal(got.created_at, NOW);
	assert_int_equal(got.updated_at, NOW + 5);
	snprintf(s.site, sizeof(s.site), "rome");
	assert_int_equal(store_service_put(f->st, &s, false, NOW, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	expect_msg(err, "changing service \"WIKI\": no site is called "
	    "\"rome\"");

	snprintf(s.name, sizeof(s.name), "api");
	snprintf(s.site, sizeof(s.site), "paris");
	assert_int_equal(store_service_put(f->st, &s, true, NOW, err,
	    sizeof(err)), UPLINK_OK);
	memset(&n, 0, sizeof(n));
	assert_int_equal(store_service_list(f->st, service_cb, &n, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(n.n, 2);
	assert_string_equal(n.v[0], "api@paris");
	assert_string_equal(n.v[1], "Wiki@Lyon");

	assert_int_equal(store_service_delete(f->st, "WiKi", err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_service_delete(f->st, "wiki", err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	expect_msg(err, "no service is called \"wiki\"");
	assert_int_equal(store_service_delete(f->st, "bad name", err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(store_service_get(f->st, "", &got, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(query(f->st, "SELECT count(*) FROM services"), 1);
}

/* ---- requirements ---- */

struct reqs {
	char	 names[4][32];
	char	 json[4][64];
	int	 n;
};

static int
req_cb(void *arg, const char *name, const char *json)
{
	struct reqs	*r = arg;

	snprintf(r->names[r->n], sizeof(r->names[0]), "%s", name);
	snprintf(r->json[r->n++], sizeof(r->json[0]), "%s", json);
	return 0;
}

static void
test_requirements(void **state)
{
	struct fixture	*f = *state;
	struct reqs	 r;
	char		 err[512], *big;

	assert_int_equal(store_requirement_put(f->st, "erp", "{\"a\":1}", NOW,
	    err, sizeof(err)), UPLINK_OK);
	assert_int_equal(store_requirement_put(f->st, "backup", "{\"b\":2}",
	    NOW, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(store_requirement_put(f->st, "erp", "{\"a\":3}",
	    NOW + 1, err, sizeof(err)), UPLINK_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_requirement_list(f->st, req_cb, &r, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.names[0], "backup");
	assert_string_equal(r.names[1], "erp");
	assert_string_equal(r.json[1], "{\"a\":3}");
	assert_int_equal(query(f->st, "SELECT updated_at FROM requirements "
	    "WHERE name = 'erp'"), NOW + 1);

	assert_int_equal(store_requirement_put(f->st, "", "{}", NOW, err,
	    sizeof(err)), UPLINK_EINVAL);
	expect_msg(err, "requirement name has 0 characters");
	assert_int_equal(store_requirement_put(f->st, "x/y", "{}", NOW, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(store_requirement_put(f->st, "erp", "{\"purpose\":"
	    "\"updates\\n0.0.0.0/0:443\"}", NOW, err, sizeof(err)),
	    UPLINK_EINVAL);
	expect_msg(err, "requirement \"erp\": purpose holds a line break; "
	    "write every text on one line");
	assert_int_equal(store_requirement_put(f->st, "erp", "{\"addresses\":"
	    "[{\"host\":\"a\"},{\"path\":\"/a b\"}]}", NOW, err, sizeof(err)),
	    UPLINK_EINVAL);
	expect_msg(err, "addresses[1].path holds a space");
	assert_int_equal(store_requirement_put(f->st, "erp", "{\"a\\u0001\":1}",
	    NOW, err, sizeof(err)), UPLINK_EINVAL);
	expect_msg(err, "holds a control character");
	assert_int_equal(store_requirement_put(f->st, "erp", "{\"a\":", NOW,
	    err, sizeof(err)), UPLINK_EINVAL);
	expect_msg(err, "requirement \"erp\": not valid JSON");
	assert_int_equal(store_requirement_put(f->st, "erp", "", NOW, err,
	    sizeof(err)), UPLINK_EINVAL);
	expect_msg(err, "requirement \"erp\": its JSON has 0 bytes; use 1 to "
	    "65535");
	big = malloc(STORE_REQUIREMENT_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', STORE_REQUIREMENT_MAX + 1);
	big[0] = '{';
	big[STORE_REQUIREMENT_MAX - 1] = '}';
	big[STORE_REQUIREMENT_MAX] = '\0';
	assert_int_equal(store_requirement_put(f->st, "big", big, NOW, err,
	    sizeof(err)), UPLINK_OK);
	big[STORE_REQUIREMENT_MAX] = ' ';
	big[STORE_REQUIREMENT_MAX + 1] = '\0';
	assert_int_equal(store_requirement_put(f->st, "big", big, NOW, err,
	    sizeof(err)), UPLINK_EINVAL);
	expect_msg(err, "its JSON has 65536 bytes");
	free(big);

	assert_int_equal(store_requirement_delete(f->st, "erp", err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_requirement_delete(f->st, "erp", err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	expect_msg(err, "no requirement is called \"erp\"");
	assert_int_equal(store_requirement_delete(f->st, "a\nb", err,
	    sizeof(err)), UPLINK_EINVAL);
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_requirement_list(f->st, req_cb, &r, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(r.n, 2);
}

/* ---- checks ---- */

static void
check_init(struct store_check *c, const char *connector, int64_t at)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->connector_id, sizeof(c->connector_id), "%s", connector);
	snprintf(c->trigger, sizeof(c->trigger), "manual");
	c->at = at;
	c->ok = true;
	c->passed = 3;
	c->report = "{\"ok\":true}";
}

struct checks {
	int64_t	 ids[64];
	int64_t	 at[64];
	int	 n;
};

static int
check_cb(void *arg, const struct store_check *c)
{
	struct checks	*l = arg;

	assert_true(l->n < 64);
	assert_string_equal(c->report, "{\"ok\":true}");
	l->at[l->n] = c->at;
	l->ids[l->n++] = c->id;
	return 0;
}

static const struct {
	const char	*connector, *trigger, *report;
	int		 passed, failed, rc;
	const char	*msg;
} check_cases[] = {
	{ "c-1", "manual", "{}", 0, 0, UPLINK_OK, NULL },
	{ "c-1", "hourly", "{}", 9, 2, UPLINK_OK, NULL },
	{ "c-404", "manual", "{}", 0, 0, UPLINK_ENOTFOUND, "recording a check "
	  "of connector c-404: no such connector" },
	{ "", "manual", "{}", 0, 0, UPLINK_EINVAL, "connector id has 0" },
	{ "c-1", "", "{}", 0, 0, UPLINK_EINVAL, "check trigger must be 1 to "
	  "15" },
	{ "c-1", "Manual", "{}", 0, 0, UPLINK_EINVAL, "check trigger "
	  "\"Manual\" is not" },
	{ "c-1", "on demand", "{}", 0, 0, UPLINK_EINVAL, "check trigger" },
	{ "c-1", "manual", "{}", -1, 0, UPLINK_EINVAL, "-1 passed and 0 "
	  "failed; counts cannot be negative" },
	{ "c-1", "manual", "{}", 0, -1, UPLINK_EINVAL, "cannot be negative" },
	{ "c-1", "manual", "", 0, 0, UPLINK_EINVAL, "the report has 0 bytes" },
	{ "c-1", "manual", NULL, 0, 0, UPLINK_EINVAL, "the report has 0" },
};

static void
test_check_inputs(void **state)
{
	struct fixture		*f = *state;
	struct store_check	 c;
	struct checks		 l;
	char			 err[512];
	int64_t			 id;
	size_t			 i;

	add_connector(f->st, "c-1");
	for (i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
		check_init(&c, check_cases[i].connector, NOW);
		snprintf(c.trigger, sizeof(c.trigger), "%s",
		    check_cases[i].trigger);
		c.report = check_cases[i].report;
		c.passed = check_cases[i].passed;
		c.failed = check_cases[i].failed;
		err[0] = '\0';
		if (store_check_add(f->st, &c, &id, err, sizeof(err)) !=
		    check_cases[i].rc)
			fail_msg("row %zu: %s", i, err);
		if (check_cases[i].msg != NULL)
			expect_msg(err, check_cases[i].msg);
	}
	assert_int_equal(query(f->st, "SELECT count(*) FROM checks"), 2);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_check_list(f->st, NULL, 0, check_cb, &l, err,
	    sizeof(err)), UPLINK_EINVAL);
	expect_msg(err, "listing checks: a limit of 0 is out of range; use 1 "
	    "to 1000");
	assert_int_equal(store_check_list(f->st, NULL, STORE_CHECK_LIST_MAX +
	    1, check_cb, &l, err, sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(store_check_list(f->st, "c 1", 5, check_cb, &l, err,
	    sizeof(err)), UPLINK_EINVAL);
	/* The biggest report fits; at 0 meant now. */
	{
		char	*big = malloc(STORE_REPORT_MAX + 2);

		assert_non_null(big);
		memset(big, 'x', STORE_REPORT_MAX + 1);
		big[STORE_REPORT_MAX] = '\0';
		check_init(&c, "c-1", 0);
		c.report = big;
		assert_int_equal(store_check_add(f->st, &c, NULL, err,
		    sizeof(err)), UPLINK_OK);
		big[STORE_REPORT_MAX] = 'x';
		big[STORE_REPORT_MAX + 1] = '\0';
		assert_int_equal(store_check_add(f->st, &c, NULL, err,
		    sizeof(err)), UPLINK_EINVAL);
		free(big);
	}
	assert_true(query(f->st, "SELECT max(at) FROM checks") > NOW);
}

/* The 51st check of a connector drops its oldest; others keep theirs. */
static void
test_check_retention(void **state)
{
	struct fixture		*f = *state;
	struct store_check	 c;
	struct checks		 l;
	int64_t			 id, first = 0;
	char			 err[512];
	int			 i;

	add_connector(f->st, "c-1");
	add_connector(f->st, "c-2");
	check_init(&c, "c-2", NOW);
	assert_int_equal(store_check_add(f->st, &c, &id, err, sizeof(err)),
	    UPLINK_OK);
	for (i = 0; i < STORE_CHECKS_KEPT; i++) {
		check_init(&c, "c-1", NOW + i);
		assert_int_equal(store_check_add(f->st, &c, &id, err,
		    sizeof(err)), UPLINK_OK);
		if (i == 0)
			first = id;
	}
	assert_int_equal(query(f->st, "SELECT count(*) FROM checks WHERE "
	    "connector_id = 'c-1'"), STORE_CHECKS_KEPT);
	check_init(&c, "c-1", NOW + 1000);
	c.ok = false;
	c.failed = 1;
	assert_int_equal(store_check_add(f->st, &c, &id, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(query(f->st, "SELECT count(*) FROM checks WHERE "
	    "connector_id = 'c-1'"), STORE_CHECKS_KEPT);
	assert_int_equal(query(f->st, "SELECT min(at) FROM checks WHERE "
	    "connector_id = 'c-1'"), NOW + 1);
	assert_true(id > first);
	assert_int_equal(query(f->st, "SELECT count(*) FROM checks WHERE "
	    "connector_id = 'c-2'"), 1);

	memset(&l, 0, sizeof(l));
	assert_int_equal(store_check_list(f->st, "c-1", 3, check_cb, &l, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.ids[0], id);		/* newest first */
	assert_int_equal(l.at[0], NOW + 1000);
	assert_int_equal(l.at[1], NOW + STORE_CHECKS_KEPT - 1);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_check_list(f->st, NULL, 64, check_cb, &l, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(l.n, STORE_CHECKS_KEPT + 1);
	assert_int_equal(l.at[l.n - 1], NOW);	/* c-2's, the oldest */
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_check_list(f->st, "c-404", 10, check_cb, &l,
	    err, sizeof(err)), UPLINK_OK);
	assert_int_equal(l.n, 0);
	/* The read values are those written. */
	assert_int_equal(query(f->st, "SELECT ok + failed * 10 + passed * 100 "
	    "FROM checks ORDER BY id DESC LIMIT 1"), 0 + 10 + 300);
}

/* ---- notifications ---- */

struct notes {
	struct store_note	 v[8];
	int			 n;
};

static int
note_cb(void *arg, const struct store_note *n)
{
	struct notes	*l = arg;

	if (l->n < 8)
		l->v[l->n] = *n;
	l->n++;
	return 0;
}

static void
test_note_dedupe(void **state)
{
	struct fixture	*f = *state;
	struct notes	 l;
	bool		 created = false;
	char		 err[512];
	int64_t		 unread;

	assert_int_equal(store_note_open(f->st, "connector-offline", "c-1",
	    "warning", "connector gw (c-1) is offline", NOW, &created, err,
	    sizeof(err)), UPLINK_OK);
	assert_true(created);
	/* Open again: nothing changes, not even the message. */
	assert_int_equal(store_note_open(f->st, "connector-offline", "c-1",
	    "error", "changed", NOW + 5, &created, err, sizeof(err)),
	    UPLINK_OK);
	assert_false(created);
	assert_int_equal(store_note_open(f->st, "connector-offline", "c-1",
	    "error", "changed", NOW + 5, NULL, err, sizeof(err)), UPLINK_OK);
	/* Another subject or kind is another condition. */
	assert_int_equal(store_note_open(f->st, "connector-offline", "c-2",
	    "warning", "connector c-2 is offline", NOW + 6, &created, err,
	    sizeof(err)), UPLINK_OK);
	assert_true(created);
	assert_int_equal(store_note_open(f->st, "check-failed", "c-1", "error",
	    "check failed", NOW + 7, &created, err, sizeof(err)), UPLINK_OK);
	assert_true(created);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_note_list(f->st, 0, false, 10, note_cb, &l, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[2].message, "connector gw (c-1) is offline");
	assert_string_equal(l.v[2].severity, "warning");
	assert_int_equal(l.v[2].created_at, NOW);
	assert_int_equal(l.v[2].resolved_at, 0);

	/* Resolved, the condition may be raised again: a new row. */
	assert_int_equal(store_note_resolve(f->st, "connector-offline", "c-1",
	    NOW + 10, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(store_note_resolve(f->st, "connector-offline", "c-1",
	    NOW + 11, err, sizeof(err)), UPLINK_OK);	/* none: no error */
	assert_int_equal(store_note_resolve(f->st, "connector-offline", "c-9",
	    NOW + 11, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(store_note_open(f->st, "connector-offline", "c-1",
	    "warning", "offline again", NOW + 20, &created, err, sizeof(err)),
	    UPLINK_OK);
	assert_true(created);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_note_list(f->st, 0, false, 10, note_cb, &l, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.v[0].message, "offline again");	/* newest */
	assert_int_equal(l.v[0].resolved_at, 0);
	assert_int_equal(l.v[3].resolved_at, NOW + 10);	/* the first kept */

	assert_int_equal(store_note_unread(f->st, 0, &unread, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(unread, 4);
	assert_int_equal(store_note_read(f->st, 0, l.v[3].id, NOW + 30, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_note_read(f->st, 0, l.v[3].id, NOW + 40, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_note_unread(f->st, 0, &unread, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(unread, 3);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_note_list(f->st, 0, true, 10, note_cb, &l, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(l.n, 3);
	assert_int_equal(query(f->st, "SELECT read_at FROM notifications "
	    "WHERE read_at IS NOT NULL"), NOW + 30);	/* the first read */
	assert_int_equal(store_note_read(f->st, 0, 999, NOW, err, sizeof(err)),
	    UPLINK_ENOTFOUND);
	expect_msg(err, "no notification has the id 999");
	assert_int_equal(store_note_read(f->st, 0, -1, NOW, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_int_equal(store_note_read(f->st, 0, 0, NOW + 50, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_note_unread(f->st, 0, &unread, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(unread, 0);
	assert_int_equal(store_note_read(f->st, 0, 0, NOW + 60, err,
	    sizeof(err)), UPLINK_OK);			/* none left: fine */
	assert_int_equal(query(f->st, "SELECT count(*) FROM notifications "
	    "WHERE read_at = 1700000050"), 3);

	/* Per administrator: ana's marks are not bob's nor the keys'. */
	{
		int64_t	 ana = add_admin(f->st, "ana@example.net", "full");
		int64_t	 bob = add_admin(f->st, "bob@example.net", "read");

		assert_int_equal(store_note_unread(f->st, ana, &unread, err,
		    sizeof(err)), UPLINK_OK);
		assert_int_equal(unread, 4);
		memset(&l, 0, sizeof(l));
		assert_int_equal(store_note_list(f->st, ana, false, 10,
		    note_cb, &l, err, sizeof(err)), UPLINK_OK);
		assert_int_equal(l.n, 4);
		assert_int_equal(l.v[0].read_at, 0);
		assert_int_equal(store_note_read(f->st, ana, l.v[0].id,
		    NOW + 70, err, sizeof(err)), UPLINK_OK);
		assert_int_equal(store_note_read(f->st, ana, l.v[0].id,
		    NOW + 80, err, sizeof(err)), UPLINK_OK);
		assert_int_equal(store_note_read(f->st, ana, 999, NOW, err,
		    sizeof(err)), UPLINK_ENOTFOUND);
		assert_int_equal(store_note_unread(f->st, ana, &unread, err,
		    sizeof(err)), UPLINK_OK);
		assert_int_equal(unread, 3);
		assert_int_equal(store_note_unread(f->st, bob, &unread, err,
		    sizeof(err)), UPLINK_OK);
		assert_int_equal(unread, 4);
		memset(&l, 0, sizeof(l));
		assert_int_equal(store_note_list(f->st, ana, true, 10,
		    note_cb, &l, err, sizeof(err)), UPLINK_OK);
		assert_int_equal(l.n, 3);
		memset(&l, 0, sizeof(l));
		assert_int_equal(store_note_list(f->st, ana, false, 10,
		    note_cb, &l, err, sizeof(err)), UPLINK_OK);
		assert_int_equal(l.v[0].read_at, NOW + 70);
		assert_int_equal(store_note_read(f->st, bob, 0, NOW + 90, err,
		    sizeof(err)), UPLINK_OK);
		assert_int_equal(store_note_unread(f->st, bob, &unread, err,
		    sizeof(err)), UPLINK_OK);
		assert_int_equal(unread, 0);
		assert_int_equal(store_note_unread(f->st, ana, &unread, err,
		    sizeof(err)), UPLINK_OK);
		assert_int_equal(unread, 3);
		/* Deleting an administrator deletes their marks. */
		assert_int_equal(query(f->st, "SELECT count(*) FROM "
		    "note_reads"), 5);
		assert_int_equal(store_admin_delete(f->st, bob, err,
		    sizeof(err)), UPLINK_OK);
		assert_int_equal(query(f->st, "SELECT count(*) FROM "
		    "note_reads"), 1);
	}
}

static const struct {
	const char	*kind, *subject, *severity, *message;
	const char	*msg;
} note_cases[] = {
	{ "", "s", "info", "m", "notification kind must be 1 to 31" },
	{ "Offline", "s", "info", "m", "notification kind \"Offline\" is not" },
	{ "-x", "s", "info", "m", "notification kind" },
	{ "a_b", "s", "info", "m", "notification kind" },
	{ "abcdefghijklmnopqrstuvwxyzabcdef", "s", "info", "m",
	  "notification kind" },				/* 32 bytes */
	{ "k", "", "info", "m", "notification subject has 0 bytes" },
	{ "k", "a\nb", "info", "m", "notification subject \"a...\": byte "
	  "0x0a" },
	{ "k", "s", "fatal", "m", "severity \"fatal\" is not \"info\", "
	  "\"warning\" or \"error\"" },
	{ "k", "s", "", "m", "severity" },
	{ "k", "s", "info", "", "notification message has 0 bytes" },
	{ "k", "s", "info", "bad \xc3", "not UTF-8" },
};

static void
test_note_inputs(void **state)
{
	struct fixture	*f = *state;
	struct notes	 l;
	char		 err[512], subject[STORE_SUBJECT_MAX + 2];
	char		 message[STORE_TEXT_MAX + 2];
	bool		 created = true;
	size_t		 i;

	for (i = 0; i < sizeof(note_cases) / sizeof(note_cases[0]); i++) {
		err[0] = '\0';
		created = true;
		if (store_note_open(f->st, note_cases[i].kind,
		    note_cases[i].subject, note_cases[i].severity,
		    note_cases[i].message, NOW, &created, err, sizeof(err)) !=
		    UPLINK_EINVAL)
			fail_msg("row %zu accepted", i);
		assert_false(created);
		expect_msg(err, note_cases[i].msg);
		if (i < 7)
			assert_int_equal(store_note_resolve(f->st,
			    note_cases[i].kind, note_cases[i].subject, NOW,
			    err, sizeof(err)), UPLINK_EINVAL);
	}
	/* The longest subject and message fit, one more byte does not. */
	memset(subject, 's', sizeof(subject));
	subject[STORE_SUBJECT_MAX] = '\0';
	memset(message, 'm', sizeof(message));
	message[STORE_TEXT_MAX] = '\0';
	assert_int_equal(store_note_open(f->st, "k-1", subject, "info",
	    message, NOW, &created, err, sizeof(err)), UPLINK_OK);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_note_list(f->st, 0, false, 1, note_cb, &l, err,
	    sizeof(err)), UPLINK_OK);
	assert_string_equal(l.v[0].subject, subject);
	assert_string_equal(l.v[0].message, message);
	subject[STORE_SUBJECT_MAX] = 's';
	subject[STORE_SUBJECT_MAX + 1] = '\0';
	assert_int_equal(store_note_open(f->st, "k-1", subject, "info", "m",
	    NOW, &created, err, sizeof(err)), UPLINK_EINVAL);
	message[STORE_TEXT_MAX] = 'm';
	message[STORE_TEXT_MAX + 1] = '\0';
	assert_int_equal(store_note_open(f->st, "k-2", "s", "info", message,
	    NOW, &created, err, sizeof(err)), UPLINK_EINVAL);
	/* Limits 1..500. */
	assert_int_equal(store_note_list(f->st, 0, false, 0, note_cb, &l, err,
	    sizeof(err)), UPLINK_EINVAL);
	expect_msg(err, "listing notifications: a limit of 0 is out of range; "
	    "use 1 to 500");
	assert_int_equal(store_note_list(f->st, 0, false, -1, note_cb, &l, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(store_note_list(f->st, 0, false, 501, note_cb, &l, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(store_note_list(f->st, 0, false, 500, note_cb, &l, err,
	    sizeof(err)), UPLINK_OK);
}

/* ---- audit ---- */

static void
audit_init(struct store_audit *a, int i)
{
	memset(a, 0, sizeof(*a));
	a->at = NOW + i;
	snprintf(a->actor, sizeof(a->actor), "ana@example.net");
	snprintf(a->actor_kind, sizeof(a->actor_kind), "admin");
	snprintf(a->address, sizeof(a->address), "192.0.2.1:5000");
	snprintf(a->action, sizeof(a->action), "token.create");
	snprintf(a->target, sizeof(a->target), "t-%d", i);
	snprintf(a->detail, sizeof(a->detail), "site \"paris\", #%d", i);
}

struct page {
	int64_t	 ids[32];
	int	 n;
};

static int
audit_cb(void *arg, const struct store_audit *a)
{
	struct page	*p = arg;

	assert_true(p->n < 32);
	assert_string_equal(a->actor_kind, "admin");
	p->ids[p->n++] = a->id;
	return 0;
}

static void
test_audit_paging(void **state)
{
	struct fixture		*f = *state;
	struct store_audit	 a;
	struct page		 p;
	int64_t			 before = 0, seen = 0, last = INT64_MAX;
	char			 err[512];
	int			 i, pages = 0;

	for (i = 1; i <= 25; i++) {
		audit_init(&a, i);
		assert_int_equal(store_audit_add(f->st, &a, err, sizeof(err)),
		    UPLINK_OK);
	}
	/* Pages of 10: 10, 10, 5, then an empty one ends it. */
	for (;;) {
		memset(&p, 0, sizeof(p));
		assert_int_equal(store_audit_list(f->st, before, 10, audit_cb,
		    &p, err, sizeof(err)), UPLINK_OK);
		if (p.n == 0)
			break;
		for (i = 0; i < p.n; i++) {
			assert_true(p.ids[i] < last);	/* newest first */
			last = p.ids[i];
		}
		seen += p.n;
		before = p.ids[p.n - 1];
		pages++;
	}
	assert_int_equal(seen, 25);
	assert_int_equal(pages, 3);
	assert_int_equal(last, 1);

	memset(&p, 0, sizeof(p));
	assert_int_equal(store_audit_list(f->st, 1, 10, audit_cb, &p, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(p.n, 0);
	assert_int_equal(store_audit_list(f->st, INT64_MAX, 1, audit_cb, &p,
	    err, sizeof(err)), UPLINK_OK);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.ids[0], 25);
	assert_int_equal(store_audit_list(f->st, 0, 0, audit_cb, &p, err,
	    sizeof(err)), UPLINK_EINVAL);
	expect_msg(err, "a limit of 0 is out of range; use 1 to 1000");
	assert_int_equal(store_audit_list(f->st, 0, 1001, audit_cb, &p, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(store_audit_list(f->st, -5, 10, audit_cb, &p, err,
	    sizeof(err)), UPLINK_EINVAL);
	expect_msg(err, "\"before\" is -5");
	memset(&p, 0, sizeof(p));
	assert_int_equal(store_audit_list(f->st, 0, 1000, audit_cb, &p, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(p.n, 25);
}

static struct store_audit	 audit_got;

static int
audit_copy(void *arg, const struct store_audit *a)
{
	(void)arg;
	audit_got = *a;
	return 1;
}

static const struct {
	const char	*actor, *kind, *address, *action, *target, *detail;
	int		 rc;
	const char	*msg;
} audit_cases[] = {
	{ "ana@x", "admin", "1.2.3.4:5", "admin.delete", "2", "", UPLINK_OK,
	  NULL },
	{ "0123456789ab", "key", "", "service.create", "", "", UPLINK_OK,
	  NULL },
	{ "cli", "cli", "", "token.create", "", "", UPLINK_OK, NULL },
	{ "", "admin", "", "a", "", "", UPLINK_EINVAL, "audit actor has 0" },
	{ "x\ny", "admin", "", "a", "", "", UPLINK_OK, NULL },
	{ "x", "root", "", "a", "", "", UPLINK_EINVAL, "actor kind \"root\" "
	  "is not \"admin\", \"key\", \"cli\" or \"system\"" },
	{ "x", "", "", "a", "", "", UPLINK_EINVAL, "actor kind" },
	{ "x", "system", "a b", "a", "", "", UPLINK_EINVAL, "audit address" },
	{ "x", "system", "", "", "", "", UPLINK_EINVAL, "audit action must" },
	{ "x", "system", "", "Token.create", "", "", UPLINK_EINVAL,
	  "audit action \"Token.create\"" },
	{ "x", "system", "", "a b", "", "", UPLINK_EINVAL, "audit action" },
	{ "x", "system", "", "a", "t\r", "", UPLINK_OK, NULL },
	{ "x", "system", "", "a", "", "\x01\xc3", UPLINK_OK, NULL },
};

static void
test_audit_inputs(void **state)
{
	struct fixture		*f = *state;
	struct store_audit	 a;
	char			 err[512];
	size_t			 i;

	for (i = 0; i < sizeof(audit_cases) / sizeof(audit_cases[0]); i++) {
		memset(&a, 0, sizeof(a));
		snprintf(a.actor, sizeof(a.actor), "%s", audit_cases[i].actor);
		snprintf(a.actor_kind, sizeof(a.actor_kind), "%s",
		    audit_cases[i].kind);
		snprintf(a.address, sizeof(a.address), "%s",
		    audit_cases[i].address);
		snprintf(a.action, sizeof(a.action), "%s",
		    audit_cases[i].action);
		snprintf(a.target, sizeof(a.target), "%s",
		    audit_cases[i].target);
		snprintf(a.detail, sizeof(a.detail), "%s",
		    audit_cases[i].detail);
		err[0] = '\0';
		if (store_audit_add(f->st, &a, err, sizeof(err)) !=
		    audit_cases[i].rc)
			fail_msg("row %zu: %s", i, err);
		if (audit_cases[i].msg != NULL)
			expect_msg(err, audit_cases[i].msg);
	}
	assert_int_equal(query(f->st, "SELECT count(*) FROM audit"), 6);
	/* Bad bytes in typed text are kept out, not the entry. */
	assert_int_equal(query(f->st, "SELECT count(*) FROM audit WHERE "
	    "actor = 'x?y' OR target = 't?' OR detail = '?' || '?'"), 3);
	/* A target cut inside a UTF-8 sequence keeps its valid part. */
	audit_init(&a, 1);
	memset(a.target, 'x', sizeof(a.target));
	a.target[sizeof(a.target) - 2] = '\xc3';
	a.target[sizeof(a.target) - 1] = '\0';
	assert_int_equal(store_audit_add(f->st, &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_audit_list(f->st, 0, 1, audit_copy, NULL, err,
	    sizeof(err)), 1);
	assert_int_equal(strlen(audit_got.target), STORE_SUBJECT_MAX);
	assert_int_equal(audit_got.target[STORE_SUBJECT_MAX - 1], '?');
	/* A full entry reads back as written; at 0 meant now. */
	audit_init(&a, 0);
	a.at = 0;
	assert_int_equal(store_audit_add(f->st, &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_audit_list(f->st, 0, 1, audit_copy, NULL, err,
	    sizeof(err)), 1);
	assert_true(audit_got.at > NOW);
	assert_string_equal(audit_got.actor, "ana@example.net");
	assert_string_equal(audit_got.address, "192.0.2.1:5000");
	assert_string_equal(audit_got.action, "token.create");
	assert_string_equal(audit_got.target, "t-0");
	assert_string_equal(audit_got.detail, "site \"paris\", #0");
}

/* Every write is committed when the call returns: another connection sees it. */
static void
test_durable(void **state)
{
	struct fixture		*f = *state;
	struct store		*other;
	struct store_admin	 a;
	int64_t			 ana, n;
	char			 err[512];

	ana = add_admin(f->st, "ana@example.net", "full");
	assert_int_equal(store_note_open(f->st, "k", "s", "info", "m", NOW,
	    NULL, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(store_open(f->path, &other, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_admin_get(other, ana, &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_note_unread(other, 0, &n, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(n, 1);
	/* A refused write left no transaction open behind it. */
	assert_int_equal(store_admin_delete(f->st, ana, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_false(store_test_in_txn(f->st));
	assert_int_equal(store_admin_update(other, ana, "read", NULL, NULL,
	    err, sizeof(err)), UPLINK_EINVAL);
	store_close(other);
}

/*
 * Failed sign-ins shared by a cluster: counted per key (case-insensitive),
 * from 1 again after the window, old rows deleted; two connections count
 * into the same row.
 */
static void
test_signin_failures(void **state)
{
	struct fixture	*f = *state;
	struct store	*other;
	int64_t		 last;
	char		 err[512];
	int		 n, i;

	assert_int_equal(store_signin_get(f->st, "a:ana@example.net", NOW,
	    900, &n, &last, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(n, 0);
	assert_int_equal(last, 0);
	assert_int_equal(store_open(f->path, &other, err, sizeof(err)),
	    UPLINK_OK);
	for (i = 1; i <= 6; i++) {
		assert_int_equal(store_signin_fail(i % 2 ? f->st : other,
		    i % 3 ? "a:ana@example.net" : "a:ANA@example.net",
		    NOW + i, 900, &n, err, sizeof(err)), UPLINK_OK);
		assert_int_equal(n, i);
	}
	assert_int_equal(store_signin_get(other, "a:ana@example.net",
	    NOW + 10, 900, &n, &last, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(n, 6);
	assert_int_equal(last, NOW + 6);
	/* Outside the window: read as none, counted from 1 again. */
	assert_int_equal(store_signin_get(f->st, "a:ana@example.net",
	    NOW + 1000, 900, &n, &last, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_signin_fail(f->st, "i:127.0.0.2", NOW + 2000,
	    900, &n, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(n, 1);
	assert_int_equal(query(f->st, "SELECT count(*) FROM signin_failures"),
	    1);
	assert_int_equal(store_signin_fail(f->st, "bad\nkey", NOW, 900, &n,
	    err, sizeof(err)), UPLINK_EINVAL);
	store_close(other);
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fresh_schema),
		cmocka_unit_test_setup_teardown(test_upgrade_from_v2, setup_closed,
		    teardown),
		cmocka_unit_test(test_line_check),
		T(test_sites_and_drained),
		T(test_connector_list_drained),
		T(test_admin_inputs),
		T(test_admin_bounds),
		T(test_admin_crud),
		T(test_last_full_admin),
		T(test_session_inputs),
		T(test_sessions),
		T(test_session_purge),
		T(test_session_cascade),
		T(test_service_inputs),
		T(test_services),
		T(test_requirements),
		T(test_check_inputs),
		T(test_check_retention),
		T(test_note_dedupe),
		T(test_note_inputs),
		T(test_audit_paging),
		T(test_audit_inputs),
		T(test_durable),
		T(test_signin_failures),
	};

	/* The same assertions on PostgreSQL, but for SQLite's own. */
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test(test_line_check),
		T(test_sites_and_drained),
		T(test_connector_list_drained),
		T(test_admin_inputs),
		T(test_admin_bounds),
		T(test_admin_crud),
		T(test_last_full_admin),
		T(test_session_inputs),
		T(test_sessions),
		T(test_session_purge),
		T(test_session_cascade),
		T(test_service_inputs),
		T(test_services),
		T(test_requirements),
		T(test_check_inputs),
		T(test_check_retention),
		T(test_note_dedupe),
		T(test_note_inputs),
		T(test_audit_paging),
		T(test_audit_inputs),
		T(test_durable),
		T(test_signin_failures),
	};
	return storefix_main("test_store_mgmt", tests, pg_tests);
}
