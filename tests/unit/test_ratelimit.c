/*
 * ratelimit: the sign-in limiter's table. The doubling delay and its cap,
 * the window, one audit row per key per window, and the eviction rules:
 * live entries are never evicted, stale ones go least recently used
 * first, and new keys share the overflow entry when the table is full.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "ratelimit.h"

#define T0	1800000000

struct delay_row {
	int	 failures;	/* at T0 */
	int64_t	 at;		/* asked at T0 + at */
	int64_t	 wait;
};

/* 5 allowed: the 6th attempt waits 2 s, then 4, 8 ... 60 at most. */
static const struct delay_row delay_rows[] = {
	{ 0, 0, 0 },
	{ 4, 0, 0 },
	{ 5, 0, 2 },
	{ 5, 1, 1 },
	{ 5, 2, 0 },
	{ 6, 0, 4 },
	{ 7, 0, 8 },
	{ 8, 0, 16 },
	{ 9, 0, 32 },
	{ 10, 0, 60 },
	{ 11, 0, 60 },
	{ 500, 0, 60 },
	{ 500, 59, 1 },
	{ 500, 60, 0 },
	/* The window: failures older than 15 minutes are forgotten. */
	{ 20, RL_WINDOW - 1, 0 },
	{ 20, RL_WINDOW, 0 },
};

static void
test_delays(void **state)
{
	struct rl_table	*t;
	size_t		 i;
	int		 j;
	int64_t		 w;

	(void)state;
	for (i = 0; i < sizeof(delay_rows) / sizeof(delay_rows[0]); i++) {
		const struct delay_row *r = &delay_rows[i];

		t = rl_new(8);
		assert_non_null(t);
		for (j = 0; j < r->failures; j++)
			rl_fail(t, "a:ana@example.net", T0);
		w = rl_wait(t, "A:ANA@example.net", 5, T0 + r->at);
		if (w != r->wait)
			fail_msg("row %zu: %d failures, T0+%lld: wait %lld, want "
			    "%lld", i, r->failures, (long long)r->at,
			    (long long)w, (long long)r->wait);
		rl_free(t);
	}
}

static void
test_window_restarts(void **state)
{
	struct rl_table	*t = rl_new(8);

	(void)state;
	for (int j = 0; j < 9; j++)
		rl_fail(t, "i:192.0.2.1", T0);
	assert_int_equal(rl_failures(t, "i:192.0.2.1", T0), 9);
	/* Quiet for a window: one new failure counts from one again. */
	rl_fail(t, "i:192.0.2.1", T0 + RL_WINDOW);
	assert_int_equal(rl_failures(t, "i:192.0.2.1", T0 + RL_WINDOW), 1);
	assert_int_equal(rl_wait(t, "i:192.0.2.1", 5, T0 + RL_WINDOW), 0);
	rl_free(t);
}

static void
test_refusals_once_per_window(void **state)
{
	struct rl_table	*t = rl_new(8);
	int64_t		 n;
	int		 rows = 0, j;

	(void)state;
	for (j = 0; j < 6; j++)
		rl_fail(t, "a:x@example.net", T0);
	/* 4,000 refusals over 20 minutes: two rows, the second counts. */
	for (j = 0; j < 4000; j++) {
		if (rl_refused(t, "a:x@example.net", T0 + j * 1200 / 4000, &n)) {
			rows++;
			if (rows == 2)
				assert_true(n > 1000);
		}
		if (j % 100 == 0)
			rl_fail(t, "a:x@example.net", T0 + j * 1200 / 4000);
	}
	assert_int_equal(rows, 2);
	rl_free(t);
}

static void
test_live_entries_never_evicted(void **state)
{
	struct rl_table	*t = rl_new(4);
	char		 key[32];
	int		 j;

	(void)state;
	for (j = 0; j < 6; j++)
		rl_fail(t, "i:attacker", T0);
	/* A flood of new keys fills the table ... */
	for (j = 0; j < 300; j++) {
		snprintf(key, sizeof(key), "i:10.0.%d.%d", j / 256, j % 256);
		rl_fail(t, key, T0 + 1);
	}
	/* ... but the attacker's record is still there, and still counts. */
	assert_true(rl_has(t, "i:attacker"));
	assert_int_equal(rl_failures(t, "i:attacker", T0 + 1), 6);
	assert_int_equal(rl_wait(t, "i:attacker", 5, T0 + 1), 3);
	/* Three keys got entries, the other 297 share the overflow one. */
	assert_true(rl_has(t, "i:10.0.0.0"));
	assert_true(rl_has(t, "i:10.0.0.2"));
	assert_false(rl_has(t, "i:10.0.0.3"));
	assert_int_equal(rl_failures(t, "i:10.0.1.40", T0 + 1), 297);
	assert_int_equal(rl_wait(t, "i:never-seen", 20, T0 + 1), 60);
	rl_free(t);
}

static void
test_stale_entries_evicted_lru(void **state)
{
	struct rl_table	*t = rl_new(3);

	(void)state;
	rl_fail(t, "k1", T0);
	rl_fail(t, "k2", T0 + 10);
	rl_fail(t, "k3", T0 + 20);
	/* All live: a fourth key goes to the overflow entry. */
	rl_fail(t, "k4", T0 + 30);
	assert_false(rl_has(t, "k4"));
	/* Once k1 and k2 are stale, a new key takes the least recent. */
	rl_fail(t, "k5", T0 + RL_WINDOW + 15);
	assert_true(rl_has(t, "k5"));
	assert_false(rl_has(t, "k1"));
	assert_true(rl_has(t, "k2"));
	/* A free slot in a table that is not full: no overflow for reads. */
	assert_int_equal(rl_wait(t, "k9", 0, T0 + RL_WINDOW + 15), 0);
	rl_free(t);
}

/* Counts from another instance: the larger count and later time win. */
static void
test_merge(void **state)
{
	struct rl_table	*t = rl_new(8);

	(void)state;
	rl_fail(t, "a:x", 1000);
	rl_merge(t, "a:x", 5, 1010, 1020);
	assert_int_equal(rl_failures(t, "a:x", 1020), 5);
	assert_int_equal(rl_wait(t, "a:x", 5, 1020), 0);
	rl_merge(t, "a:x", 7, 1015, 1020);
	assert_int_equal(rl_failures(t, "a:x", 1020), 7);
	/* 2 over 5 allowed: 8 s after the last failure (1015). */
	assert_int_equal(rl_wait(t, "a:x", 5, 1020), 3);
	rl_merge(t, "a:x", 2, 1016, 1020);
	assert_int_equal(rl_failures(t, "a:x", 1020), 7);
	/* Nothing, or outside the window: no entry made. */
	rl_merge(t, "i:y", 0, 1000, 1020);
	rl_merge(t, "i:z", 9, 1020 - RL_WINDOW, 1020);
	assert_false(rl_has(t, "i:y"));
	assert_false(rl_has(t, "i:z"));
	rl_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delays),
		cmocka_unit_test(test_window_restarts),
		cmocka_unit_test(test_refusals_once_per_window),
		cmocka_unit_test(test_live_entries_never_evicted),
		cmocka_unit_test(test_stale_entries_evicted_lru),
		cmocka_unit_test(test_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
