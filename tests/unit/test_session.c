/*
 * session: the console's session policy (docs/console.md) row by row:
 * when a session ends with the inactivity timeout disabled and enabled,
 * at the boundaries, and which values the setting accepts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "session.h"

#define T0	1800000000	/* sign-in */
#define H	3600
#define M	60

struct expiry_row {
	int64_t	 last_active;	/* after T0 */
	int	 idle;		/* minutes, 0 disabled */
	int64_t	 idle_at;	/* 0: none */
	int64_t	 absolute_at;
};

static const struct expiry_row expiry_rows[] = {
	/* Disabled (the default): no inactivity timer, 72 hours. */
	{ T0, 0, 0, T0 + 72 * H },
	{ T0 + 70 * H, 0, 0, T0 + 72 * H },
	/* Enabled: idle from the last activity, 24 hours at most. */
	{ T0, 60, T0 + 60 * M, T0 + 24 * H },
	{ T0 + 5 * H, 60, T0 + 6 * H, T0 + 24 * H },
	{ T0, 10, T0 + 10 * M, T0 + 24 * H },
	{ T0, 720, T0 + 12 * H, T0 + 24 * H },
	/* The idle end never lies past the absolute one. */
	{ T0 + 23 * H, 60, T0 + 24 * H, T0 + 24 * H },
	{ T0 + 20 * H, 720, T0 + 24 * H, T0 + 24 * H },
};

static void
test_expiry_table(void **state)
{
	int64_t	 idle_at, abs_at;
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(expiry_rows) / sizeof(expiry_rows[0]); i++) {
		const struct expiry_row *r = &expiry_rows[i];

		session_expiry(T0, r->last_active, r->idle, &idle_at, &abs_at);
		if (idle_at != r->idle_at || abs_at != r->absolute_at)
			fail_msg("row %zu: idle %d: got %lld/%lld, want %lld/%lld",
			    i, r->idle, (long long)idle_at, (long long)abs_at,
			    (long long)r->idle_at, (long long)r->absolute_at);
	}
}

struct state_row {
	int64_t		 last_active;
	int		 idle;
	int64_t		 now;
	enum session_end end;
};

static const struct state_row state_rows[] = {
	{ T0, 0, T0, SESSION_LIVE },
	{ T0, 0, T0 + 71 * H, SESSION_LIVE },	/* no idle timer at all */
	{ T0, 0, T0 + 72 * H - 1, SESSION_LIVE },
	{ T0, 0, T0 + 72 * H, SESSION_EXPIRED_ABSOLUTE },
	{ T0, 60, T0 + 60 * M - 1, SESSION_LIVE },
	{ T0, 60, T0 + 60 * M, SESSION_EXPIRED_IDLE },
	{ T0 + 30 * M, 60, T0 + 89 * M, SESSION_LIVE },	/* activity moved it */
	{ T0 + 30 * M, 60, T0 + 90 * M, SESSION_EXPIRED_IDLE },
	{ T0 + 24 * H - 1, 60, T0 + 24 * H - 1, SESSION_LIVE },
	{ T0 + 24 * H - 1, 60, T0 + 24 * H, SESSION_EXPIRED_ABSOLUTE },
	{ T0 + 23 * H, 720, T0 + 24 * H, SESSION_EXPIRED_ABSOLUTE },
	{ T0, 10, T0 + 10 * M, SESSION_EXPIRED_IDLE },
};

static void
test_state_table(void **state)
{
	enum session_end	 end;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(state_rows) / sizeof(state_rows[0]); i++) {
		const struct state_row *r = &state_rows[i];

		end = session_state(T0, r->last_active, r->idle, r->now);
		if (end != r->end)
			fail_msg("row %zu: idle %d, now T0%+lld: got %d, want %d",
			    i, r->idle, (long long)(r->now - T0), end, r->end);
	}
}

static void
test_idle_values(void **state)
{
	static const struct { int64_t m; bool ok; } rows[] = {
		{ 0, true }, { 10, true }, { 60, true }, { 720, true },
		{ 9, false }, { 5, false }, { 721, false }, { -1, false },
		{ 1, false }, { 100000, false }, { INT64_MIN, false },
		{ INT64_MAX, false },
	};
	size_t	 i;

	(void)state;
	assert_true(session_idle_valid(SESSION_IDLE_OFFERED));
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (session_idle_valid(rows[i].m) != rows[i].ok)
			fail_msg("row %zu: %lld minutes", i,
			    (long long)rows[i].m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expiry_table),
		cmocka_unit_test(test_state_table),
		cmocka_unit_test(test_idle_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
