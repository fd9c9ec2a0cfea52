/*
 * store, the cluster's shared state (lib/store/store_cluster.c): instances
 * registered with a new epoch each start, leases renewed only by their own
 * run, tunnel locations upserted and deleted in batches, states, expiry of
 * runs whose lease ran out, the caps of the lists, and (PostgreSQL) that
 * none of these writes moves another connection's data version. SQLite
 * first, then PostgreSQL when UPLINK_TEST_PG gives a conninfo.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "error.h"
#include "store.h"


#define NOW	1700000000

#include "storefix.h"

static struct store_instance
inst(const char *id, int64_t started, int64_t lease_until)
{
	struct store_instance	 in;

	memset(&in, 0, sizeof(in));
	snprintf(in.id, sizeof(in.id), "%s", id);
	snprintf(in.peer_address, sizeof(in.peer_address), "10.0.0.1:7443");
	snprintf(in.tunnel_name, sizeof(in.tunnel_name), "%s.cloud.example",
	    id);
	snprintf(in.tunnel_address, sizeof(in.tunnel_address),
	    "%s.cloud.example:443", id);
	in.started_at = started;
	in.lease_until = lease_until;
	return in;
}

static struct store_location
loc(const char *connector, const char *site, unsigned tunnels, unsigned load)
{
	struct store_location	 l;

	memset(&l, 0, sizeof(l));
	snprintf(l.connector, sizeof(l.connector), "%s", connector);
	snprintf(l.site, sizeof(l.site), "%s", site);
	l.tunnels = tunnels;
	l.load = load;
	return l;
}

/* What the lists return, copied. */
struct seen {
	struct store_instance	 in[STORE_INSTANCES_MAX + 1];
	size_t			 nin;
	struct store_location	 l[16];
	size_t			 nl;
};

static int
seen_instance(void *arg, const struct store_instance *in)
{
	struct seen	*s = arg;

	assert_true(s->nin < STORE_INSTANCES_MAX + 1);
	s->in[s->nin++] = *in;
	return 0;
}

static int
seen_location(void *arg, const struct store_location *l)
{
	struct seen	*s = arg;

	if (s->nl < 16)
		s->l[s->nl] = *l;
	s->nl++;
	return 0;
}

static void
read_all(struct store *st, struct seen *s)
{
	char	 err[512];

	memset(s, 0, sizeof(*s));
	assert_int_equal(store_instance_list(st, seen_instance, s, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_location_list(st, seen_location, s, err,
	    sizeof(err)), UPLINK_OK);
}

static void
test_register(void **state)
{
	struct fixture		*f = *state;
	struct store_instance	 a = inst("i1", NOW, NOW + 10), again;
	struct store_location	 v[2] = { loc("c-000000000001", "hq", 2, 0),
	    loc("c-000000000002", "lab", 1, 3) };
	struct seen		 s;
	char			 err[512];

	assert_int_equal(store_instance_register(f->st, &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(a.epoch, 1);
	assert_int_equal(a.state, STORE_INSTANCE_UP);
	assert_int_equal(store_locations_write(f->st, "i1", 1, v, 2, NOW, err,
	    sizeof(err)), UPLINK_OK);
	read_all(f->st, &s);
	assert_int_equal(s.nin, 1);
	assert_string_equal(s.in[0].id, "i1");
	assert_string_equal(s.in[0].peer_address, "10.0.0.1:7443");
	assert_string_equal(s.in[0].tunnel_name, "i1.cloud.example");
	assert_string_equal(s.in[0].tunnel_address, "i1.cloud.example:443");
	assert_int_equal(s.in[0].state, STORE_INSTANCE_UP);
	assert_int_equal(s.in[0].started_at, NOW);
	assert_int_equal(s.in[0].lease_until, NOW + 10);
	assert_int_equal(s.nl, 2);
	assert_string_equal(s.l[0].connector, "c-000000000001");
	assert_string_equal(s.l[0].instance, "i1");
	assert_string_equal(s.l[0].site, "hq");
	assert_int_equal(s.l[0].tunnels, 2);
	assert_int_equal(s.l[1].load, 3);
	assert_int_equal(s.l[1].epoch, 1);
	assert_int_equal(s.l[1].updated_at, NOW);

	/* The next start: a new epoch, the old run's locations gone. */
	again = inst("i1", NOW + 60, NOW + 70);
	snprintf(again.peer_address, sizeof(again.peer_address), "[::1]:1");
	assert_int_equal(store_instance_register(f->st, &again, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(again.epoch, 2);
	read_all(f->st, &s);
	assert_int_equal(s.nin, 1);
	assert_string_equal(s.in[0].peer_address, "[::1]:1");
	assert_int_equal(s.in[0].epoch, 2);
	assert_int_equal(s.in[0].started_at, NOW + 60);
	assert_int_equal(s.nl, 0);
	/* The old run can no longer write. */
	assert_int_equal(store_locations_write(f->st, "i1", 1, v, 2, NOW, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
	assert_non_null(strstr(err, "i1"));
	read_all(f->st, &s);
	assert_int_equal(s.nl, 0);
}

static void
test_bad_ids(void **state)
{
	struct fixture		*f = *state;
	static const char *const bad[] = { "", "I1", "a_b", "a.b", "a b",
	    "i1\n", "\xc3\xa9" };
	struct store_instance	 in;
	char			 err[512];
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		in = inst("x", NOW, NOW + 10);
		snprintf(in.id, sizeof(in.id), "%s", bad[i]);
		assert_int_equal(store_instance_register(f->st, &in, err,
		    sizeof(err)), UPLINK_EINVAL);
	}
	in = inst("a-63-chars", NOW, NOW + 10);
	memset(in.id, 'z', STORE_INSTANCE_ID_MAX);
	in.id[STORE_INSTANCE_ID_MAX] = '\0';
	assert_int_equal(store_instance_register(f->st, &in, err, sizeof(err)),
	    UPLINK_OK);
}

static void
test_renew(void **state)
{
	struct fixture		*f = *state;
	struct store_instance	 a = inst("i1", NOW, NOW + 10);
	struct store_location	 v[2] = { loc("c-000000000001", "hq", 2, 5),
	    loc("c-000000000002", "hq", 1, 0) };
	struct seen		 s;
	char			 err[512];

	assert_int_equal(store_instance_register(f->st, &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_instance_renew(f->st, "i1", a.epoch, NOW + 13,
	    v, 2, NOW + 3, err, sizeof(err)), UPLINK_OK);
	read_all(f->st, &s);
	assert_int_equal(s.in[0].lease_until, NOW + 13);
	assert_int_equal(s.nl, 2);
	assert_int_equal(s.l[0].load, 5);
	assert_int_equal(s.l[0].updated_at, NOW + 3);
	/* Load changes, one connector's last tunnel goes: one row left. */
	v[0].load = 1;
	v[1].tunnels = 0;
	assert_int_equal(store_instance_renew(f->st, "i1", a.epoch, NOW + 16,
	    v, 2, NOW + 6, err, sizeof(err)), UPLINK_OK);
	read_all(f->st, &s);
	assert_int_equal(s.nl, 1);
	assert_int_equal(s.l[0].load, 1);
	assert_int_equal(s.in[0].lease_until, NOW + 16);
	/* Another epoch, or an unknown id: nothing written. */
	assert_int_equal(store_instance_renew(f->st, "i1", a.epoch + 1,
	    NOW + 99, v, 1, NOW, err, sizeof(err)), UPLINK_ENOTFOUND);
	assert_int_equal(store_instance_renew(f->st, "i9", 1, NOW + 99, NULL,
	    0, NOW, err, sizeof(err)), UPLINK_ENOTFOUND);
	read_all(f->st, &s);
	assert_int_equal(s.in[0].lease_until, NOW + 16);
	assert_int_equal(s.l[0].load, 1);
	/* Deleting a row that is not there is no error. */
	v[1].tunnels = 0;
	assert_int_equal(store_locations_write(f->st, "i1", a.epoch, &v[1], 1,
	    NOW, err, sizeof(err)), UPLINK_OK);
}

static void
test_states(void **state)
{
	struct fixture		*f = *state;
	struct store_instance	 a = inst("i1", NOW, NOW + 10);
	struct store_instance	 b = inst("i2", NOW, NOW + 10);
	struct store_location	 v = loc("c-000000000001", "hq", 1, 0);
	struct seen		 s;
	char			 err[512];

	assert_int_equal(store_instance_register(f->st, &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_instance_register(f->st, &b, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_locations_write(f->st, "i1", 1, &v, 1, NOW, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_locations_write(f->st, "i2", 1, &v, 1, NOW, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_instance_set_state(f->st, "i1", 1,
	    STORE_INSTANCE_DRAINING, NOW + 1, err, sizeof(err)), UPLINK_OK);
	read_all(f->st, &s);
	assert_int_equal(s.in[0].state, STORE_INSTANCE_DRAINING);
	assert_int_equal(s.in[0].lease_until, NOW + 10);
	assert_int_equal(s.nl, 2);
	assert_int_equal(store_instance_set_state(f->st, "i1", 1,
	    STORE_INSTANCE_GONE, NOW + 2, err, sizeof(err)), UPLINK_OK);
	read_all(f->st, &s);
	assert_int_equal(s.in[0].state, STORE_INSTANCE_GONE);
	assert_int_equal(s.in[0].lease_until, NOW + 2);
	assert_int_equal(s.nl, 1);
	assert_string_equal(s.l[0].instance, "i2");
	/* A gone run writes nothing more. */
	assert_int_equal(store_instance_set_state(f->st, "i1", 1,
	    STORE_INSTANCE_UP, NOW + 3, err, sizeof(err)), UPLINK_ENOTFOUND);
	assert_int_equal(store_instance_renew(f->st, "i1", 1, NOW + 20, &v, 1,
	    NOW, err, sizeof(err)), UPLINK_ENOTFOUND);
	read_all(f->st, &s);
	assert_int_equal(s.nl, 1);
	assert_string_equal(store_instance_state_name(STORE_INSTANCE_UP), "up");
	assert_string_equal(store_instance_state_name(STORE_INSTANCE_DRAINING),
	    "draining");
	assert_string_equal(store_instance_state_name(STORE_INSTANCE_GONE),
	    "gone");
}

static void
test_expire(void **state)
{
	struct fixture		*f = *state;
	struct store_instance	 a = inst("i1", NOW, NOW + 10);
	struct store_instance	 b = inst("i2", NOW, NOW + 20);
	struct store_instance	 old = inst("i3", NOW - 30 * 86400,
	    NOW - 29 * 86400);
	struct store_location	 v = loc("c-000000000001", "hq", 1, 0);
	struct seen		 s;
	char			 err[512];
	size_t			 n;

	assert_int_equal(store_instance_register(f->st, &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_instance_register(f->st, &b, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_instance_register(f->st, &old, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_locations_write(f->st, "i1", 1, &v, 1, NOW, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_locations_write(f->st, "i2", 1, &v, 1, NOW, err,
	    sizeof(err)), UPLINK_OK);
	/* At NOW + 10 the lease of i1 still holds. */
	assert_int_equal(store_instance_expire(f->st, NOW + 10, &n, err,
	    sizeof(err)), UPLINK_OK);
	read_all(f->st, &s);
	assert_int_equal(s.nin, 2);	/* i3: gone a month ago, forgotten */
	assert_int_equal(n, 1);
	assert_int_equal(s.in[0].state, STORE_INSTANCE_UP);
	assert_int_equal(s.nl, 2);
	assert_int_equal(store_instance_expire(f->st, NOW + 11, &n, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(n, 1);
	read_all(f->st, &s);
	assert_int_equal(s.in[0].state, STORE_INSTANCE_GONE);
	assert_int_equal(s.in[1].state, STORE_INSTANCE_UP);
	assert_int_equal(s.nl, 1);
	assert_string_equal(s.l[0].instance, "i2");
	/* Its late renewal is refused; it registers again (epoch 2). */
	assert_int_equal(store_instance_renew(f->st, "i1", 1, NOW + 21, &v, 1,
	    NOW + 11, err, sizeof(err)), UPLINK_ENOTFOUND);
	a = inst("i1", NOW + 12, NOW + 22);
	assert_int_equal(store_instance_register(f->st, &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(a.epoch, 2);
	assert_int_equal(store_instance_expire(f->st, NOW + 12, NULL, err,
	    sizeof(err)), UPLINK_OK);
	read_all(f->st, &s);
	assert_int_equal(s.in[0].state, STORE_INSTANCE_UP);
}

/* The list keeps the live instances first past its cap. */
static void
test_list_cap(void **state)
{
	struct fixture		*f = *state;
	struct store_instance	 in;
	struct seen		*s = calloc(1, sizeof(*s));
	char			 err[512], id[16];
	size_t			 i, up = 0;

	assert_non_null(s);
	for (i = 0; i < STORE_INSTANCES_MAX + 6; i++) {
		snprintf(id, sizeof(id), "g%03zu", i);
		in = inst(id, NOW, NOW + (int64_t)i);
		assert_int_equal(store_instance_register(f->st, &in, err,
		    sizeof(err)), UPLINK_OK);
		if (i % 10 == 0)
			continue;	/* live */
		assert_int_equal(store_instance_set_state(f->st, id, 1,
		    STORE_INSTANCE_GONE, NOW, err, sizeof(err)), UPLINK_OK);
	}
	assert_int_equal(store_instance_list(f->st, seen_instance, s, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(s->nin, STORE_INSTANCES_MAX);
	for (i = 0; i < s->nin; i++) {
		if (s->in[i].state == STORE_INSTANCE_UP)
			up++;
		if (i > 0)
			assert_true(strcmp(s->in[i - 1].id, s->in[i].id) < 0);
	}
	assert_int_equal(up, (STORE_INSTANCES_MAX + 6 + 9) / 10);
	free(s);
}

/*
 * PostgreSQL: the cluster's frequent writes do not move another
 * connection's data version (cloud/run.c would rebuild its CRL and sweep
 * its tunnels on every one); a site does.
 */
static void
test_pg_no_data_version(void **state)
{
	struct fixture		*f = *state;
	struct store		*other;
	struct store_instance	 a = inst("i1", NOW, NOW + 10);
	struct store_location	 v = loc("c-000000000001", "hq", 1, 0);
	int64_t			 v0, v1, site;
	char			 err[512];
	size_t			 n;

	assert_int_equal(store_open(f->path, &other, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_data_version(other, &v0, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_instance_register(f->st, &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_instance_renew(f->st, "i1", 1, NOW + 20, &v, 1,
	    NOW, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(store_locations_write(f->st, "i1", 1, &v, 1, NOW, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_instance_expire(f->st, NOW + 30, &n, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_data_version(other, &v1, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(v1, v0);
	assert_int_equal(store_site_ensure(f->st, "hq", &site, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_data_version(other, &v1, err, sizeof(err)),
	    UPLINK_OK);
	assert_true(v1 != v0);
	store_close(other);
}

/* Steps l until it says something other than WAIT, or 5 s pass. */
static enum store_listen_event
listen_next(struct store_listen *l, unsigned *hints, int ms)
{
	struct pollfd		 pfd;
	enum store_listen_event	 ev;
	char			 err[512];
	int			 waited = 0;

	for (;;) {
		pfd.fd = store_listen_fd(l);
		pfd.events = store_listen_wants_write(l) ? POLLOUT : POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 50) < 0)
			return STORE_LISTEN_DOWN;
		if (pfd.revents != 0) {
			ev = store_listen_step(l, hints, err, sizeof(err));
			if (ev != STORE_LISTEN_WAIT)
				return ev;
		}
		waited += 50;
		if (waited >= ms)
			return STORE_LISTEN_WAIT;
	}
}

/*
 * PostgreSQL: a LISTEN connection hears a hint for a change others poll
 * for (a site, committed), none for the cluster's own tables; closed and
 * started again, it is UP again.
 */
static void
test_pg_listen(void **state)
{
	struct fixture		*f = *state;
	struct store		*other;
	struct store_listen	*l;
	struct store_instance	 a = inst("i1", NOW, NOW + 10);
	unsigned		 hints = 0;
	int64_t			 site;
	char			 err[512];

	l = store_listen_new(f->st);
	assert_non_null(l);
	assert_int_equal(store_listen_fd(l), -1);
	assert_int_equal(store_listen_start(l, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(listen_next(l, &hints, 5000), STORE_LISTEN_UP);
	assert_int_equal(store_open(f->path, &other, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_instance_register(other, &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(listen_next(l, &hints, 300), STORE_LISTEN_WAIT);
	assert_int_equal(store_site_ensure(other, "hq", &site, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(listen_next(l, &hints, 5000), STORE_LISTEN_HINT);
	assert_true(hints >= 1);
	store_close(other);
	/* Started again (as after a lost connection): UP again. */
	assert_int_equal(store_listen_start(l, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(listen_next(l, &hints, 5000), STORE_LISTEN_UP);
	store_listen_free(l);
	store_listen_free(NULL);
}

/* SQLite has no second connection to listen on: polling only. */
static void
test_sqlite_no_listen(void **state)
{
	struct fixture	*f = *state;

	assert_null(store_listen_new(f->st));
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_register),
		T(test_bad_ids),
		T(test_renew),
		T(test_states),
		T(test_expire),
		T(test_list_cap),
		T(test_sqlite_no_listen),
	};
	const struct CMUnitTest pg_tests[] = {
		T(test_register),
		T(test_bad_ids),
		T(test_renew),
		T(test_states),
		T(test_expire),
		T(test_list_cap),
		T(test_pg_no_data_version),
		T(test_pg_listen),
	};
	storefix_template = "/tmp/uplink-test-cl-XXXXXX";
	return storefix_main("test_store_cluster", tests, pg_tests);
}
