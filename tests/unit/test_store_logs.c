/*
 * store, schema 9: connector logs and events (lib/store/store_logs.c), on
 * SQLite. Batches, the filters of a query (level, text with LIKE's own
 * characters, since, after and before), a line stored once per
 * (connector, boot, seq), where collecting resumes, retention by size and
 * age, and the events of a connector and of its site; then the same on
 * PostgreSQL when UPLINK_TEST_PG is set (tests/unit/storefix.h).
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

#include "error.h"
#include "store.h"

#include "storefix.h"

/* A store with site paris and its connectors c-1 and c-2. */
static int
setup_logs(void **state)
{
	struct fixture		*f;
	struct store_connector	 c;
	int64_t			 site;
	char			 err[512];
	const char		*ids[] = { "c-1", "c-2" };
	size_t			 i;

	if (setup(state) != 0)
		return -1;
	f = *state;
	if (store_site_ensure(f->st, "paris", &site, err, sizeof(err)) !=
	    UPLINK_OK) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	for (i = 0; i < 2; i++) {
		memset(&c, 0, sizeof(c));
		snprintf(c.id, sizeof(c.id), "%s", ids[i]);
		snprintf(c.name, sizeof(c.name), "gw-%zu", i);
		c.site_id = site;
		if (store_connector_add(f->st, &c, err, sizeof(err)) !=
		    UPLINK_OK)
			return -1;
	}
	return 0;
}

static void
line(struct store_log *l, const char *conn, int64_t seq, int level,
    const char *msg)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->connector_id, sizeof(l->connector_id), "%s", conn);
	snprintf(l->boot, sizeof(l->boot), "b1");
	l->seq = seq;
	l->at_ms = 1700000000000LL + seq * 1000;
	l->level = level;
	snprintf(l->msg, sizeof(l->msg), "%s", msg);
}

struct got {
	int64_t	 seq[64];
	int64_t	 id[64];
	int	 n;
};

static int
got_cb(void *arg, const struct store_log *l)
{
	struct got	*g = arg;

	g->id[g->n] = l->id;
	g->seq[g->n++] = l->seq;
	return 0;
}

/* Lines 1..8 of c-1 and one of c-2. */
static void
fill(struct store *st)
{
	struct store_log	 v[9];
	char			 err[512];
	static const struct { int level; const char *msg; } rows[] = {
		{ 6, "started" }, { 4, "proxy slow" }, { 7, "debug noise" },
		{ 3, "fatal: gone" }, { 6, "50% done" }, { 6, "a_b c" },
		{ 6, "AbC mixed" }, { 4, "back\\slash" },
	};
	size_t			 i;

	for (i = 0; i < 8; i++)
		line(&v[i], "c-1", (int64_t)i + 1, rows[i].level, rows[i].msg);
	line(&v[8], "c-2", 1, 6, "other connector");
	assert_int_equal(store_logs_add(st, v, 9, err, sizeof(err)),
	    UPLINK_OK);
}

struct query_row {
	int		 max_level;
	const char	*q;
	int64_t		 since_ms;
	int		 n;
	int64_t		 first;		/* newest first: its seq */
};

static const struct query_row query_rows[] = {
	{ 0, NULL, 0, 8, 8 },
	{ 4, NULL, 0, 3, 8 },		/* warn and worse */
	{ 3, NULL, 0, 1, 4 },
	{ 0, "%", 0, 1, 5 },		/* a literal % */
	{ 0, "_", 0, 1, 6 },		/* a literal _ */
	{ 0, "abc", 0, 1, 7 },		/* any case */
	{ 0, "\\", 0, 1, 8 },
	{ 0, "nothing", 0, 0, 0 },
	{ 0, NULL, 1700000006000LL, 3, 8 },
	{ 6, "o", 0, 3, 5 },		/* "proxy slow", "fatal: gone", "50% done" */
};

static void
test_query_table(void **state)
{
	struct fixture		*f = *state;
	struct store_log_query	 q;
	struct got		 g;
	char			 err[512];
	size_t			 i;

	fill(f->st);
	for (i = 0; i < sizeof(query_rows) / sizeof(query_rows[0]); i++) {
		memset(&q, 0, sizeof(q));
		memset(&g, 0, sizeof(g));
		q.connector = "c-1";
		q.max_level = query_rows[i].max_level;
		q.q = query_rows[i].q;
		q.since_ms = query_rows[i].since_ms;
		q.limit = 50;
		assert_int_equal(store_logs_list(f->st, &q, got_cb, &g, err,
		    sizeof(err)), UPLINK_OK);
		if (g.n != query_rows[i].n)
			fail_msg("row %zu: %d lines, not %d", i, g.n,
			    query_rows[i].n);
		if (g.n > 0 && g.seq[0] != query_rows[i].first)
			fail_msg("row %zu: first seq %lld", i,
			    (long long)g.seq[0]);
	}
}

static void
test_after_before_limit(void **state)
{
	struct fixture		*f = *state;
	struct store_log_query	 q = { .connector = "c-1", .limit = 3 };
	struct got		 g = { 0 };
	char			 err[512];

	fill(f->st);
	assert_int_equal(store_logs_list(f->st, &q, got_cb, &g, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.seq[0], 8);		/* newest first */
	q.before_id = g.id[2];
	memset(&g, 0, sizeof(g));
	assert_int_equal(store_logs_list(f->st, &q, got_cb, &g, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(g.seq[0], 5);
	q.before_id = 0;
	q.after_id = g.id[0];			/* after seq 5: oldest first */
	memset(&g, 0, sizeof(g));
	assert_int_equal(store_logs_list(f->st, &q, got_cb, &g, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.seq[0], 6);
	assert_int_equal(g.seq[2], 8);
	q.limit = 0;
	assert_int_equal(store_logs_list(f->st, &q, got_cb, &g, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_non_null(strstr(err, "use 1 to 1000"));
}

static void
test_stored_once_and_resume(void **state)
{
	struct fixture		*f = *state;
	struct store_log	 v[2];
	struct store_log_query	 q = { .connector = "c-2", .limit = 50 };
	struct got		 g = { 0 };
	char			 err[512], boot[STORE_LOG_BOOT_MAX + 1];
	int64_t			 seq;

	assert_int_equal(store_logs_last(f->st, "c-2", boot, &seq, err,
	    sizeof(err)), UPLINK_OK);
	assert_string_equal(boot, "");
	assert_int_equal(seq, 0);
	fill(f->st);
	line(&v[0], "c-2", 1, 6, "the same line again");	/* seq 1 again */
	line(&v[1], "c-2", 2, 6, "new\nline\twith control");
	assert_int_equal(store_logs_add(f->st, v, 2, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_logs_list(f->st, &q, got_cb, &g, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(g.n, 2);
	assert_int_equal(store_logs_last(f->st, "c-2", boot, &seq, err,
	    sizeof(err)), UPLINK_OK);
	assert_string_equal(boot, "b1");
	assert_int_equal(seq, 2);
}

static void
test_prune_size_and_age(void **state)
{
	struct fixture		*f = *state;
	struct store_log	 v[100];
	struct store_log_query	 q = { .connector = "c-1", .limit = 1000 };
	struct got		 g = { 0 };
	char			 err[512], msg[100];
	int64_t			 n;
	int			 i;

	for (i = 0; i < 100; i++) {
		memset(msg, 'x', 36);
		msg[36] = '\0';				/* 36 + 64 = 100 */
		line(&v[i], "c-1", i + 1, 6, msg);
	}
	assert_int_equal(store_logs_add(f->st, v, 100, err, sizeof(err)),
	    UPLINK_OK);
	line(&v[0], "c-2", 1, 6, "kept: another connector");
	assert_int_equal(store_logs_add(f->st, v, 1, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_logs_prune(f->st, 0, "c-1", 2500, &n, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(n, 75);			/* 25 x 100 bytes kept */
	assert_int_equal(store_logs_list(f->st, &q, got_cb, &g, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(g.n, 25);
	assert_int_equal(g.seq[0], 100);		/* the newest */
	assert_int_equal(g.seq[24], 76);
	/* By age: before line 90's time (seq 90 is at ...90000). */
	assert_int_equal(store_logs_prune(f->st, 1700000090000LL, NULL, 0, &n,
	    err, sizeof(err)), UPLINK_OK);
	assert_int_equal(n, 14 + 1);			/* 76..89 and c-2's */
	memset(&g, 0, sizeof(g));
	assert_int_equal(store_logs_list(f->st, &q, got_cb, &g, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(g.n, 11);
}

struct evs {
	char	 kinds[16][24];
	char	 site[16][64];
	int	 n;
};

static int
ev_cb(void *arg, const struct store_event *e)
{
	struct evs	*v = arg;

	snprintf(v->kinds[v->n], sizeof(v->kinds[0]), "%s", e->kind);
	snprintf(v->site[v->n++], sizeof(v->site[0]), "%s", e->site);
	return 0;
}

static void
test_events(void **state)
{
	struct fixture		*f = *state;
	struct store_event	 b[2];
	struct evs		 v = { 0 };
	char			 err[512];
	int64_t			 n;

	assert_int_equal(store_event_add(f->st, "c-1", "enrolled", "gw-0",
	    err, sizeof(err)), UPLINK_OK);
	memset(b, 0, sizeof(b));
	snprintf(b[0].connector_id, sizeof(b[0].connector_id), "c-2");
	snprintf(b[0].kind, sizeof(b[0].kind), "tunnel-up");
	snprintf(b[1].connector_id, sizeof(b[1].connector_id), "c-1");
	snprintf(b[1].kind, sizeof(b[1].kind), "tunnel-down");
	snprintf(b[1].detail, sizeof(b[1].detail), "t1: closed\nby peer");
	b[1].at = 1000;					/* long ago */
	assert_int_equal(store_events_add(f->st, b, 2, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_events_list(f->st, "c-1", NULL, 0, 10, ev_cb,
	    &v, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(v.n, 2);
	assert_string_equal(v.kinds[0], "tunnel-down");	/* newest first */
	assert_string_equal(v.site[0], "paris");
	memset(&v, 0, sizeof(v));
	assert_int_equal(store_events_list(f->st, NULL, "PARIS", 0, 10, ev_cb,
	    &v, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(v.n, 3);
	assert_int_equal(store_events_prune(f->st, 2000, &n, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_events_list(f->st, NULL, "paris", 0, 0, ev_cb,
	    &v, err, sizeof(err)), UPLINK_EINVAL);
}

int
main(void)
{
#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup_logs, teardown)
	const struct CMUnitTest tests[] = {
		T(test_query_table),
		T(test_after_before_limit),
		T(test_stored_once_and_resume),
		T(test_prune_size_and_age),
		T(test_events),
	};

	return storefix_main("test_store_logs", tests, tests);
}
