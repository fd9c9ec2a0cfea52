/*
 * Unit tests for lib/tunnel/balance.c: which remote carrier a stream goes
 * to, from a table of loads, usability, the local load and the start.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>

#include "balance.h"

#define NONE	99	/* no candidate: balance_least() returns n */
#define LOCAL_NONE	UINT32_MAX

struct row {
	const char		*what;
	size_t			 n;
	struct balance_cand	 v[4];
	uint32_t		 local;
	unsigned		 start;
	size_t			 want;
};

static const struct row rows[] = {
	{ "nothing at all", 0, { { 0, false } }, LOCAL_NONE, 0, NONE },
	{ "one usable, nothing local", 1, { { 7, true } }, LOCAL_NONE, 0, 0 },
	{ "one unusable", 1, { { 0, false } }, LOCAL_NONE, 0, NONE },
	{ "the least loaded", 3, { { 5, true }, { 2, true }, { 9, true } },
	    LOCAL_NONE, 0, 1 },
	{ "the least loaded is unusable", 3, { { 5, true }, { 2, false },
	    { 9, true } }, LOCAL_NONE, 0, 0 },
	{ "local is less loaded", 2, { { 5, true }, { 3, true } }, 2, 0, NONE },
	{ "local ties: stays local", 2, { { 5, true }, { 3, true } }, 3, 0,
	    NONE },
	{ "remote below local", 2, { { 5, true }, { 3, true } }, 4, 0, 1 },
	{ "idle local, idle remote: local", 1, { { 0, true } }, 0, 0, NONE },
	{ "ties from start 0", 3, { { 1, true }, { 1, true }, { 1, true } },
	    LOCAL_NONE, 0, 0 },
	{ "ties from start 1", 3, { { 1, true }, { 1, true }, { 1, true } },
	    LOCAL_NONE, 1, 1 },
	{ "ties from start 2", 3, { { 1, true }, { 1, true }, { 1, true } },
	    LOCAL_NONE, 2, 2 },
	{ "start past n wraps", 3, { { 1, true }, { 1, true }, { 1, true } },
	    LOCAL_NONE, 4, 1 },
	{ "ties skip the unusable", 3, { { 1, true }, { 1, false },
	    { 1, true } }, LOCAL_NONE, 1, 2 },
	{ "a lower load beats the start", 3, { { 0, true }, { 1, true },
	    { 1, true } }, LOCAL_NONE, 1, 0 },
	{ "load at the cap", 2, { { UINT32_MAX - 1, true }, { UINT32_MAX,
	    true } }, LOCAL_NONE, 0, 0 },
	{ "all at the cap: never below nothing", 1, { { UINT32_MAX, true } },
	    LOCAL_NONE, 0, NONE },
	{ "all unusable", 4, { { 0, false }, { 0, false }, { 0, false },
	    { 0, false } }, LOCAL_NONE, 3, NONE },
};

static void
test_table(void **state)
{
	size_t	 i, got, want;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		got = balance_least(rows[i].v, rows[i].n, rows[i].local,
		    rows[i].start);
		want = rows[i].want == NONE ? rows[i].n : rows[i].want;
		if (got != want)
			fail_msg("row %zu (%s): got %zu, want %zu", i,
			    rows[i].what, got, want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
