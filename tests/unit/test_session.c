/*
 * session: the console's session policy (docs/console.md) row by row:
 * when a session ends with the inactivity timeout disabled and enabled,
 * at the boundaries, and which values the setting accepts. Then the
 * addresses an administrator signed in from (lib/store_admin.c), which
 * the sign-in limits never delay: the 30-day window, the cap of 16, and
 * what forgets them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "session.h"
#include "store.h"

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

#define DAY	(24 * H)

struct known_fixture {
	char		 dir[64], path[128];
	struct store	*st;
	int64_t		 id, other;
};

static int
known_setup(void **state)
{
	struct known_fixture	*f = calloc(1, sizeof(*f));
	struct store_admin	 a;
	char			 err[512];

	if (f == NULL)
		return -1;
	*state = f;
	snprintf(f->dir, sizeof(f->dir), "/tmp/uplink-test-known-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/cloud.db", f->dir);
	if (store_open(f->path, &f->st, err, sizeof(err)) != UPLINK_OK)
		return -1;
	memset(&a, 0, sizeof(a));
	snprintf(a.role, sizeof(a.role), "full");
	snprintf(a.pwhash, sizeof(a.pwhash), "$argon2id$not-a-real-hash");
	snprintf(a.email, sizeof(a.email), "ana@example.net");
	if (store_admin_add(f->st, &a, &f->id, err, sizeof(err)) != UPLINK_OK)
		return -1;
	snprintf(a.email, sizeof(a.email), "bob@example.net");
	return store_admin_add(f->st, &a, &f->other, err, sizeof(err)) ==
	    UPLINK_OK ? 0 : -1;
}

static int
known_teardown(void **state)
{
	struct known_fixture	*f = *state;
	char			 p[160];

	store_close(f->st);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static bool
known(struct known_fixture *f, int64_t id, const char *addr, int64_t now)
{
	char	 err[256];
	bool	 k = true;

	assert_int_equal(store_admin_known(f->st, id, addr, now - 30 * DAY, &k,
	    err, sizeof(err)), UPLINK_OK);
	return k;
}

static void
add(struct known_fixture *f, int64_t id, const char *addr, int64_t now)
{
	char	 err[256];

	if (store_admin_known_add(f->st, id, addr, now, now - 30 * DAY, err,
	    sizeof(err)) != UPLINK_OK)
		fail_msg("add %s: %s", addr, err);
}

static void
test_known_addresses(void **state)
{
	struct known_fixture	*f = *state;
	char			 addr[32], err[256];
	int			 i;

	assert_false(known(f, f->id, "192.0.2.1", T0));
	add(f, f->id, "192.0.2.1", T0);
	assert_true(known(f, f->id, "192.0.2.1", T0));
	assert_true(known(f, f->id, "192.0.2.1", T0 + 30 * DAY));
	assert_false(known(f, f->id, "192.0.2.1", T0 + 30 * DAY + 1));
	/* Per administrator, exact address, case-insensitive (IPv6). */
	assert_false(known(f, f->other, "192.0.2.1", T0));
	assert_false(known(f, f->id, "192.0.2.10", T0));
	assert_false(known(f, f->id, "192.0.2.", T0));
	assert_false(known(f, f->id, "", T0));
	add(f, f->id, "2001:db8::a", T0);
	assert_true(known(f, f->id, "2001:DB8::A", T0));
	/* Refused: not one address. */
	assert_int_not_equal(store_admin_known_add(f->st, f->id, "a,b", T0,
	    T0, err, sizeof(err)), UPLINK_OK);
	assert_int_not_equal(store_admin_known_add(f->st, f->id, "10.0.0.1/8",
	    T0, T0, err, sizeof(err)), UPLINK_OK);
	/* 16 at most: the oldest goes. */
	for (i = 0; i < STORE_ADMIN_KNOWN_MAX; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%d", i);
		add(f, f->id, addr, T0 + 1 + i);
	}
	assert_false(known(f, f->id, "192.0.2.1", T0 + 100));
	assert_false(known(f, f->id, "2001:db8::a", T0 + 100));
	assert_true(known(f, f->id, "198.51.100.0", T0 + 100));
	assert_true(known(f, f->id, "198.51.100.15", T0 + 100));
	/* Signing in again moves an address to the front. */
	add(f, f->id, "198.51.100.0", T0 + 200);
	add(f, f->id, "203.0.113.1", T0 + 201);
	assert_true(known(f, f->id, "198.51.100.0", T0 + 300));
	assert_false(known(f, f->id, "198.51.100.1", T0 + 300));
	/* A new password forgets them; the other administrator's stay. */
	add(f, f->other, "192.0.2.99", T0);
	assert_int_equal(store_admin_update(f->st, f->id, NULL,
	    "$argon2id$another", NULL, err, sizeof(err)), UPLINK_OK);
	assert_false(known(f, f->id, "203.0.113.1", T0 + 300));
	assert_true(known(f, f->other, "192.0.2.99", T0));
	/* So does removing the administrator (a role change does not). */
	add(f, f->id, "203.0.113.1", T0 + 400);
	assert_int_equal(store_admin_update(f->st, f->id, "full", NULL, NULL,
	    err, sizeof(err)), UPLINK_OK);
	assert_true(known(f, f->id, "203.0.113.1", T0 + 400));
	assert_int_equal(store_admin_delete(f->st, f->id, err, sizeof(err)),
	    UPLINK_OK);
	assert_false(known(f, f->id, "203.0.113.1", T0 + 400));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expiry_table),
		cmocka_unit_test(test_state_table),
		cmocka_unit_test(test_idle_values),
		cmocka_unit_test_setup_teardown(test_known_addresses,
		    known_setup, known_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
