#ifndef UPLINK_TESTS_STOREFIX_H
#define UPLINK_TESTS_STOREFIX_H

/*
 * The fixture of the store's table-driven unit tests that run every test
 * on SQLite and then, when UPLINK_TEST_PG gives a conninfo, on PostgreSQL
 * (docs/internals/store.md): a fresh database per test (a file in a
 * temporary directory, or PostgreSQL's public schema emptied), opened with
 * store_open() (setup) or not (setup_closed). Include it once, after
 * cmocka.h, store.h and libpq-fe.h.
 */

struct fixture {
	char		 dir[64];
	char		 path[128];
	struct store	*st;
};

/* NULL: SQLite; set by storefix_main() for the second round. */
static const char	*pg_conninfo;
/* mkdtemp() template of the SQLite round, e.g. "/tmp/uplink-test-x-XXXXXX". */
static const char	*storefix_template = "/tmp/uplink-test-store-XXXXXX";

static int
pg_wipe(void)
{
	PGconn		*c = PQconnectdb(pg_conninfo);
	PGresult	*r;
	int		 ok;

	/* zeroblob() stands in for SQLite's in the tests' own SQL. */
	r = PQexec(c, "SET client_min_messages = warning;"
	    "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;"
	    "CREATE FUNCTION zeroblob(n int) RETURNS bytea LANGUAGE sql "
	    "AS $$ SELECT decode(repeat('00', n), 'hex') $$;");
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "pg_wipe: %s", PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

/* A fresh, empty database at f->path, not opened (f->st NULL). */
static int __attribute__((unused))
setup_closed(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	*state = f;
	if (pg_conninfo != NULL) {
		snprintf(f->path, sizeof(f->path), "%s", pg_conninfo);
		return pg_wipe();
	}
	snprintf(f->dir, sizeof(f->dir), "%s", storefix_template);
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/cloud.db", f->dir);
	return 0;
}

/* The same, opened with store_open() into f->st. */
static int __attribute__((unused))
setup(void **state)
{
	struct fixture	*f;
	char		 err[512];

	if (setup_closed(state) != 0)
		return -1;
	f = *state;
	if (store_open(f->path, &f->st, err, sizeof(err)) != UPLINK_OK) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	char		 p[160];

	store_close(f->st);		/* NULL: a no-op */
	if (pg_conninfo == NULL && f->dir[0] != '\0') {
		snprintf(p, sizeof(p), "%s-wal", f->path);
		unlink(p);
		snprintf(p, sizeof(p), "%s-shm", f->path);
		unlink(p);
		unlink(f->path);
		rmdir(f->dir);
	}
	free(f);
	return 0;
}

/*
 * Runs tests on SQLite, then pg_tests (tests when NULL) on PostgreSQL if
 * UPLINK_TEST_PG is set, saying so when it is not; name labels that line.
 */
#define storefix_main(name, tests, pg_tests)				\
	storefix_run(name, tests, sizeof(tests) / sizeof(tests[0]),	\
	    pg_tests, sizeof(pg_tests) / sizeof(pg_tests[0]))

static int
storefix_run(const char *name, const struct CMUnitTest *tests, size_t n,
    const struct CMUnitTest *pg_tests, size_t pg_n)
{
	int	 rc;

	rc = _cmocka_run_group_tests("sqlite", tests, n, NULL, NULL);
	pg_conninfo = getenv("UPLINK_TEST_PG");
	if (pg_conninfo != NULL && *pg_conninfo != '\0')
		rc |= _cmocka_run_group_tests("postgresql", pg_tests, pg_n,
		    NULL, NULL);
	else {
		pg_conninfo = NULL;
		fprintf(stderr, "%s: UPLINK_TEST_PG is not set: the "
		    "PostgreSQL backend is not tested\n", name);
	}
	return rc;
}

#endif
