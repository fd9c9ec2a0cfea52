/*
 * addrcount: which addresses share a count (IPv4, IPv6 /64, IPv4-mapped),
 * the per-address and total caps, entries freed at zero, the hash growing
 * and shrinking, and log_rate's windows with the "and N more" count.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "addrcount.h"

/* A sockaddr for a literal address, IPv4 or IPv6. */
static const struct sockaddr *
sa_of(const char *addr, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(1234);
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(4321);
	}
	return (const struct sockaddr *)ss;
}

static int
take(struct addrcount *ac, const char *addr)
{
	struct sockaddr_storage ss;

	return addrcount_take(ac, sa_of(addr, &ss));
}

static unsigned
get(struct addrcount *ac, const char *addr)
{
	struct sockaddr_storage ss;

	return addrcount_get(ac, sa_of(addr, &ss));
}

static void
release(struct addrcount *ac, const char *addr)
{
	struct sockaddr_storage ss;

	addrcount_release(ac, sa_of(addr, &ss));
}

/* Pairs of addresses and whether they share one count. */
struct same_row {
	const char	*a;
	const char	*b;
	int		 same;
};

static const struct same_row same_rows[] = {
	{ "127.0.0.1", "127.0.0.1", 1 },
	{ "127.0.0.1", "127.0.0.2", 0 },
	{ "10.0.0.1", "10.0.1.1", 0 },
	{ "10.0.0.1", "::ffff:10.0.0.1", 1 },
	{ "::ffff:10.0.0.1", "::ffff:10.0.0.2", 0 },
	{ "2001:db8:1:2::1", "2001:db8:1:2::2", 1 },
	{ "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", 1 },
	{ "2001:db8:1:2::1", "2001:db8:1:3::1", 0 },
	{ "2001:db8::1", "2001:db9::1", 0 },
	{ "::1", "::2", 1 },
	{ "::1", "0.0.0.1", 0 },
	{ "::ffff:0:1", "::ffff:0.0.0.1", 1 },
	{ "::fffe:0:1", "0.0.0.1", 0 },
	{ "0.0.0.0", "::", 0 },
};

static void
test_same_address(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(same_rows) / sizeof(same_rows[0]); i++) {
		const struct same_row *r = &same_rows[i];
		struct addrcount *ac = addrcount_new(0, 0);

		assert_int_equal(take(ac, r->a), 0);
		if (get(ac, r->b) != (unsigned)r->same)
			fail_msg("row %zu: %s and %s should %sshare a count",
			    i, r->a, r->b, r->same ? "" : "not ");
		assert_int_equal(take(ac, r->b), 0);
		assert_int_equal(get(ac, r->a), r->same ? 2 : 1);
		assert_int_equal(addrcount_total(ac), 2);
		release(ac, r->b);
		release(ac, r->a);
		assert_int_equal(addrcount_total(ac), 0);
		assert_int_equal(get(ac, r->a), 0);
		addrcount_free(ac);
	}
}

static void
test_per_address_cap(void **state)
{
	struct addrcount *ac = addrcount_new(3, 0);
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		assert_int_equal(take(ac, "192.0.2.7"), 0);
	/* The fourth is refused and takes nothing. */
	assert_int_equal(take(ac, "192.0.2.7"), -1);
	assert_int_equal(take(ac, "::ffff:192.0.2.7"), -1);
	assert_int_equal(get(ac, "192.0.2.7"), 3);
	assert_int_equal(addrcount_total(ac), 3);
	/* Other addresses are not affected. */
	assert_int_equal(take(ac, "192.0.2.8"), 0);
	/* A slot given back can be taken again. */
	release(ac, "192.0.2.7");
	assert_int_equal(take(ac, "192.0.2.7"), 0);
	assert_int_equal(take(ac, "192.0.2.7"), -1);
	addrcount_free(ac);
}

static void
test_total_cap(void **state)
{
	struct addrcount *ac = addrcount_new(0, 4);
	char addr[32];
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		snprintf(addr, sizeof(addr), "10.1.0.%d", i);
		assert_int_equal(take(ac, addr), 0);
	}
	assert_int_equal(take(ac, "10.1.0.0"), -1);
	assert_int_equal(take(ac, "10.9.9.9"), -1);
	assert_int_equal(get(ac, "10.9.9.9"), 0);
	assert_int_equal(addrcount_total(ac), 4);
	release(ac, "10.1.0.2");
	assert_int_equal(take(ac, "10.9.9.9"), 0);
	addrcount_free(ac);
}

/* Releasing what was never taken changes nothing. */
static void
test_release_unknown(void **state)
{
	struct addrcount *ac = addrcount_new(2, 2);

	(void)state;
	release(ac, "10.0.0.1");
	assert_int_equal(addrcount_total(ac), 0);
	assert_int_equal(take(ac, "10.0.0.1"), 0);
	release(ac, "10.0.0.2");
	assert_int_equal(addrcount_total(ac), 1);
	assert_int_equal(get(ac, "10.0.0.1"), 1);
	addrcount_free(ac);
	addrcount_free(NULL);
}

/* AF_UNIX and NULL share one slot. */
static void
test_other_families(void **state)
{
	struct addrcount *ac = addrcount_new(2, 0);
	struct sockaddr_un sun;

	(void)state;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(addrcount_take(ac, (struct sockaddr *)&sun), 0);
	assert_int_equal(addrcount_take(ac, NULL), 0);
	assert_int_equal(addrcount_take(ac, (struct sockaddr *)&sun), -1);
	assert_int_equal(addrcount_get(ac, NULL), 2);
	assert_int_equal(get(ac, "0.0.0.0"), 0);
	addrcount_release(ac, NULL);
	addrcount_release(ac, (struct sockaddr *)&sun);
	assert_int_equal(addrcount_total(ac), 0);
	addrcount_free(ac);
}

/* 20,000 addresses: the hash grows, every count is right, and it shrinks back. */
static void
test_many_addresses(void **state)
{
	struct addrcount *ac = addrcount_new(2, 0);
	char addr[64];
	int i;

	(void)state;
	for (i = 0; i < 20000; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:%x:%x::1", i >> 8, i);
		assert_int_equal(take(ac, addr), 0);
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i >> 8, i & 255);
		assert_int_equal(take(ac, addr), 0);
	}
	assert_int_equal(addrcount_total(ac), 40000);
	assert_true(addrcount_buckets(ac) >= 32768);
	for (i = 0; i < 20000; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:%x:%x::99", i >> 8, i);
		assert_int_equal(get(ac, addr), 1);
		assert_int_equal(take(ac, addr), 0);
		assert_int_equal(take(ac, addr), -1);
	}
	for (i = 0; i < 20000; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:%x:%x::1", i >> 8, i);
		release(ac, addr);
		release(ac, addr);
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i >> 8, i & 255);
		release(ac, addr);
		assert_int_equal(get(ac, addr), 0);
	}
	assert_int_equal(addrcount_total(ac), 0);
	assert_int_equal(addrcount_buckets(ac), 64);
	addrcount_free(ac);
}

/* Steps of one log_rate: time, whether allowed, the suppressed count. */
struct rate_row {
	int64_t		now;
	bool		allowed;
	unsigned	suppressed;
};

static void
test_log_rate(void **state)
{
	static const struct rate_row rows[] = {
		{ 1000, true, 0 }, { 1001, true, 0 }, { 1002, true, 0 },
		{ 1003, false, 0 }, { 1500, false, 0 }, { 1999, false, 0 },
		/* A new window: the three dropped lines are reported once. */
		{ 2000, true, 3 }, { 2001, true, 0 }, { 2002, true, 0 },
		{ 2003, false, 0 },
		{ 9000, true, 1 }, { 9001, true, 0 },
		/* A clock that goes back starts a window too. */
		{ 500, true, 0 },
	};
	struct log_rate lr = { 0, 0, 0 };
	unsigned sup, i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sup = 77;
		if (log_rate_allow_at(&lr, 3, 1000, rows[i].now, &sup) !=
		    rows[i].allowed)
			fail_msg("row %u: at %lld expected %s", i,
			    (long long)rows[i].now,
			    rows[i].allowed ? "allowed" : "dropped");
		assert_int_equal(sup, rows[i].suppressed);
	}
}

/* With the real clock, a burst of 1000 lets through exactly `burst`. */
static void
test_log_rate_clock(void **state)
{
	struct log_rate lr;
	unsigned sup, allowed = 0;
	int i;

	(void)state;
	memset(&lr, 0, sizeof(lr));
	for (i = 0; i < 1000; i++)
		if (log_rate_allow(&lr, 5, 60000, &sup))
			allowed++;
	assert_int_equal(allowed, 5);
	assert_int_equal(lr.suppressed, 995);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_address),
		cmocka_unit_test(test_per_address_cap),
		cmocka_unit_test(test_total_cap),
		cmocka_unit_test(test_release_unknown),
		cmocka_unit_test(test_other_families),
		cmocka_unit_test(test_many_addresses),
		cmocka_unit_test(test_log_rate),
		cmocka_unit_test(test_log_rate_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
