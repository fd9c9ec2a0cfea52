/*
 * logring: the connector's bounded buffer of log lines. Lines come back
 * in order after a given sequence number; past either cap the oldest go,
 * are counted as dropped, and a reader behind them is told how many it
 * missed (the gap); a reader that resumes after the last line it took
 * gets exactly the lines after it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "logring.h"

/* Adds n lines "line N" with N from the sequence number they get. */
static void
add_lines(struct logring *r, int n)
{
	char		 msg[32];
	uint64_t	 want, seq;
	int		 i;

	for (i = 0; i < n; i++) {
		want = logring_last(r) + 1;
		snprintf(msg, sizeof(msg), "line %llu",
		    (unsigned long long)want);
		seq = logring_add(r, 6, 1000 + i, msg);
		assert_int_equal(seq, want);
	}
}

static void
test_in_order(void **state)
{
	struct logring		*r = logring_new(10, 4096);
	struct logring_line	 l;
	uint64_t		 gap, after = 0;
	int			 n = 0;

	(void)state;
	assert_int_equal(logring_next(r, 0, &l, &gap), 0);
	assert_int_equal(gap, 0);
	add_lines(r, 5);
	while (logring_next(r, after, &l, &gap) == 1) {
		assert_int_equal(gap, 0);
		assert_int_equal(l.seq, after + 1);
		after = l.seq;
		n++;
	}
	assert_int_equal(n, 5);
	assert_string_equal(l.msg, "line 5");
	assert_int_equal(logring_dropped(r), 0);
	logring_free(r);
}

/* Table: cap, lines added, reader's "after": first seq back, gap. */
struct wrap_row {
	size_t		 lines_cap, bytes_cap;
	int		 added;
	uint64_t	 after;
	int		 found;
	uint64_t	 first, gap, dropped;
};

static const struct wrap_row wrap_rows[] = {
	/* line cap: 10 kept of 25, the oldest 15 dropped */
	{ 10, 1 << 20, 25, 0, 1, 16, 15, 15 },
	{ 10, 1 << 20, 25, 15, 1, 16, 0, 15 },	/* resumes exactly */
	{ 10, 1 << 20, 25, 12, 1, 16, 3, 15 },	/* 13..15 missed */
	{ 10, 1 << 20, 25, 20, 1, 21, 0, 15 },	/* inside the ring */
	{ 10, 1 << 20, 25, 25, 0, 0, 0, 15 },	/* up to date */
	{ 10, 1 << 20, 10, 0, 1, 1, 0, 0 },	/* exactly full */
	{ 10, 1 << 20, 11, 0, 1, 2, 1, 1 },	/* one over */
	/* byte cap: "line NN" is 7 bytes, 30 bytes hold 4 of them */
	{ 100, 30, 20, 0, 1, 17, 16, 16 },
	{ 100, 30, 20, 18, 1, 19, 0, 16 },
	{ 1, 1 << 20, 3, 0, 1, 3, 2, 2 },	/* a ring of one line */
};

static void
test_wrap_table(void **state)
{
	struct logring		*r;
	struct logring_line	 l;
	uint64_t		 gap;
	size_t			 i;
	char			 what[64];

	(void)state;
	for (i = 0; i < sizeof(wrap_rows) / sizeof(wrap_rows[0]); i++) {
		const struct wrap_row *w = &wrap_rows[i];

		snprintf(what, sizeof(what), "row %zu", i);
		r = logring_new(w->lines_cap, w->bytes_cap);
		add_lines(r, w->added);
		memset(&l, 0, sizeof(l));
		if (logring_next(r, w->after, &l, &gap) != w->found)
			fail_msg("%s: found is not %d", what, w->found);
		if (w->found && l.seq != w->first)
			fail_msg("%s: first %llu, not %llu", what,
			    (unsigned long long)l.seq,
			    (unsigned long long)w->first);
		if (gap != w->gap)
			fail_msg("%s: gap %llu, not %llu", what,
			    (unsigned long long)gap,
			    (unsigned long long)w->gap);
		if (logring_dropped(r) != w->dropped)
			fail_msg("%s: dropped %llu", what,
			    (unsigned long long)logring_dropped(r));
		assert_true(logring_bytes(r) <= w->bytes_cap);
		assert_true(logring_count(r) <= w->lines_cap);
		logring_free(r);
	}
}

/* The text of a line matches its number after many wraps. */
static void
test_text_after_wrap(void **state)
{
	struct logring		*r = logring_new(7, 1 << 20);
	struct logring_line	 l;
	uint64_t		 gap, after = 0;
	char			 want[32];

	(void)state;
	add_lines(r, 1000);
	after = 990;
	while (logring_next(r, after, &l, &gap) == 1) {
		snprintf(want, sizeof(want), "line %llu",
		    (unsigned long long)l.seq);
		assert_string_equal(l.msg, want);
		after = l.seq;
	}
	assert_int_equal(after, 1000);
	assert_int_equal(logring_count(r), 7);
	logring_free(r);
}

/* A long line is cut; a line longer than the byte cap is cut to it. */
static void
test_long_lines(void **state)
{
	struct logring		*r = logring_new(4, 100);
	struct logring_line	 l;
	char			 big[5000];
	uint64_t		 gap;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(logring_add(r, 4, 1, big), 1);
	assert_int_equal(logring_next(r, 0, &l, &gap), 1);
	assert_int_equal(strlen(l.msg), 100);
	assert_int_equal(logring_add(r, 4, 2, "short"), 2);
	assert_int_equal(logring_dropped(r), 1);
	assert_int_equal(logring_next(r, 0, &l, &gap), 1);
	assert_string_equal(l.msg, "short");
	assert_int_equal(gap, 1);
	logring_free(r);
	assert_null(logring_new(0, 10));
	logring_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_wrap_table),
		cmocka_unit_test(test_text_after_wrap),
		cmocka_unit_test(test_long_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
