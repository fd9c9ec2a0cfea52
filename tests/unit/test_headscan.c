/*
 * headscan: where request heads end, the bodies skipped, and when the
 * watch gives up. Each row is fed whole, byte by byte and in two halves:
 * the result must not depend on how the bytes arrive.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "headscan.h"

struct row {
	const char		*in;
	unsigned		 heads;		/* heads that ended */
	enum headscan_state	 state;		/* where it is then */
	uint64_t		 body_left;
};

#define GET	"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
#define POST5	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
#define LONG	"X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"

static const struct row rows[] = {
	{ "", 0, HEADSCAN_HEAD, 0 },
	{ "G", 0, HEADSCAN_HEAD, 0 },
	{ "GET / HTTP/1.1\r\nHost: x\r\n", 0, HEADSCAN_HEAD, 0 },
	{ GET, 1, HEADSCAN_IDLE, 0 },
	{ "GET / HTTP/1.1\nHost: x\n\n", 1, HEADSCAN_IDLE, 0 },
	{ "GET / HTTP/1.0\r\n\r\n", 1, HEADSCAN_IDLE, 0 },
	{ GET GET, 2, HEADSCAN_IDLE, 0 },
	{ GET "G", 1, HEADSCAN_HEAD, 0 },
	{ "\r\n\r\n\n" GET, 1, HEADSCAN_IDLE, 0 },
	{ POST5, 1, HEADSCAN_BODY, 5 },
	{ POST5 "ab", 1, HEADSCAN_BODY, 3 },
	{ POST5 "abcde", 1, HEADSCAN_IDLE, 0 },
	{ POST5 "abcdeG", 1, HEADSCAN_HEAD, 0 },
	/* A body that looks like the end of a head is a body. */
	{ "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n\r\n\r\n" GET, 2,
	    HEADSCAN_IDLE, 0 },
	{ "POST / HTTP/1.1\r\ncontent-length:   7  \r\n\r\n", 1,
	    HEADSCAN_BODY, 7 },
	{ "POST / HTTP/1.1\r\nCONTENT-LENGTH: 0\r\n\r\n", 1, HEADSCAN_IDLE, 0 },
	{ "POST / HTTP/1.1\r\nContent-Length:\t3\r\n\r\nabc" GET, 2,
	    HEADSCAN_IDLE, 0 },
	{ "POST / HTTP/1.1\r\nX-Content-Length: 5\r\n\r\n", 1,
	    HEADSCAN_IDLE, 0 },
	{ "GET / HTTP/1.1\r\n" LONG LONG "\r\n", 1, HEADSCAN_IDLE, 0 },
	/* The watch ends: chunked, or a length it cannot read. */
	{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n"
	    "0\r\n\r\n" GET, 1, HEADSCAN_OFF, 0 },
	{ "POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", 1, HEADSCAN_OFF, 0 },
	{ "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 1, HEADSCAN_OFF, 0 },
	{ "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 1, HEADSCAN_OFF, 0 },
	{ "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 1, HEADSCAN_OFF, 0 },
	{ "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
	    1, HEADSCAN_OFF, 0 },
	{ "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
	    1, HEADSCAN_OFF, 0 },
	{ "POST / HTTP/1.1\r\nContent-Length:                               "
	    "                        5\r\n\r\n", 1, HEADSCAN_OFF, 0 },
	{ "POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n",
	    1, HEADSCAN_BODY, UINT64_MAX },
	/* A request line alone is not taken for a header. */
	{ "Content-Length: 5\r\n\r\n", 1, HEADSCAN_IDLE, 0 },
};

static void
check(size_t i, const char *how, const struct headscan *s, unsigned heads)
{
	const struct row *r = &rows[i];

	if (heads != r->heads || s->state != r->state ||
	    (r->state == HEADSCAN_BODY && s->body_left != r->body_left))
		fail_msg("row %zu (%s): %u heads, state %d, %llu body bytes left; "
		    "expected %u, %d, %llu", i, how, heads, (int)s->state,
		    (unsigned long long)s->body_left, r->heads, (int)r->state,
		    (unsigned long long)r->body_left);
}

static void
test_rows(void **state)
{
	struct headscan	 s;
	const unsigned char *p;
	size_t		 i, j, n;
	unsigned	 heads;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		p = (const unsigned char *)rows[i].in;
		n = strlen(rows[i].in);
		headscan_init(&s);
		check(i, "whole", &s, headscan_feed(&s, p, n));
		headscan_init(&s);
		for (heads = 0, j = 0; j < n; j++)
			heads += headscan_feed(&s, p + j, 1);
		check(i, "byte by byte", &s, heads);
		headscan_init(&s);
		heads = headscan_feed(&s, p, n / 2);
		heads += headscan_feed(&s, p + n / 2, n - n / 2);
		check(i, "two halves", &s, heads);
	}
}

/* Once off, it stays off whatever comes. */
static void
test_off_stays_off(void **state)
{
	static const char in[] = "POST / HTTP/1.1\r\nTransfer-Encoding: x\r\n\r\n";
	struct headscan	 s;

	(void)state;
	headscan_init(&s);
	assert_int_equal(headscan_feed(&s, (const unsigned char *)in,
	    sizeof(in) - 1), 1);
	assert_int_equal(s.state, HEADSCAN_OFF);
	assert_int_equal(headscan_feed(&s, (const unsigned char *)GET,
	    strlen(GET)), 0);
	assert_int_equal(s.state, HEADSCAN_OFF);
}

/* A very long line does not overflow anything. */
static void
test_long_line(void **state)
{
	static unsigned char big[100000];
	struct headscan	 s;

	(void)state;
	memset(big, 'a', sizeof(big));
	headscan_init(&s);
	assert_int_equal(headscan_feed(&s, big, sizeof(big)), 0);
	assert_int_equal(s.state, HEADSCAN_HEAD);
	assert_int_equal(s.linelen, sizeof(big));
	assert_int_equal(headscan_feed(&s, (const unsigned char *)"\r\n\r\n",
	    4), 1);
	assert_int_equal(s.state, HEADSCAN_IDLE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_off_stays_off),
		cmocka_unit_test(test_long_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
