/*
 * proxyv2: the PROXY protocol v2 decoder, table-driven. Each row is a
 * header (as bytes), how many of them are offered, and what the decoder
 * must say: the length, "need more" (0) or why it is bad.
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

#include "proxyv2.h"

#define SIG	"\r\n\r\n\0\r\nQUIT\n"

/* PROXY TCP4 192.0.2.7:5555 -> 198.51.100.1:443 */
#define V4	SIG "\x21\x11\x00\x0c" "\xc0\x00\x02\x07" "\xc6\x33\x64\x01" \
		"\x15\xb3" "\x01\xbb"
/* PROXY TCP6 2001:db8::9 port 4000 */
#define V6	SIG "\x21\x21\x00\x24" \
		"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x09" \
		"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01" "\x0f\xa0\x01\xbb"
/* LOCAL (a health check), no addresses */
#define LOCAL	SIG "\x20\x00\x00\x00"
/* V4 with a 5-byte TLV (type 0x04 NOOP, length 2) after the addresses */
#define V4TLV	SIG "\x21\x11\x00\x11" "\xc0\x00\x02\x07" "\xc6\x33\x64\x01" \
		"\x15\xb3" "\x01\xbb" "\x04\x00\x02" "ab"

struct row {
	const char	*name;
	const char	*bytes;
	size_t		 len;		/* bytes offered */
	int		 rc;		/* header length, 0 more, -1 bad */
	const char	*why;		/* part of the message when bad */
};

#define ROW(name, b, n, rc, why)	{ name, b, n, rc, why }

static const struct row rows[] = {
	ROW("v4 exact", V4, 28, 28, NULL),
	ROW("v4 and data", V4 "\x16\x03\x01", 31, 28, NULL),
	ROW("v6", V6, 52, 52, NULL),
	ROW("local", LOCAL, 16, 16, NULL),
	ROW("v4 with TLV", V4TLV, 33, 33, NULL),
	ROW("empty", "", 0, 0, NULL),
	ROW("half signature", SIG, 6, 0, NULL),
	ROW("fixed part short", V4, 15, 0, NULL),
	ROW("addresses short", V4, 27, 0, NULL),
	ROW("TLS instead", "\x16\x03\x01\x02\x00", 5, -1, "no signature"),
	ROW("HTTP instead", "GET / HTTP/1.1\r\n", 16, -1, "no signature"),
	ROW("v1 text", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 32, -1,
	    "no signature"),
	ROW("version 1 bits", SIG "\x11\x11\x00\x0c", 16, -1, "version 1"),
	ROW("command 2", SIG "\x22\x11\x00\x0c", 16, -1, "command 2"),
	ROW("too long", SIG "\x21\x11\x02\x01", 16, -1, "over the cap"),
	ROW("longest ok", SIG "\x21\x11\x02\x00", 16, 0, NULL),
	ROW("v4 block short", SIG "\x21\x11\x00\x04" "abcd", 20, -1,
	    "needs 12"),
	ROW("v6 block short", SIG "\x21\x21\x00\x0c" "abcdefghijkl", 28, -1,
	    "needs 36"),
	ROW("udp", SIG "\x21\x12\x00\x0c" "abcdefghijkl", 28, -1,
	    "not a stream"),
	ROW("unix", SIG "\x21\x31\x00\x0c" "abcdefghijkl", 28, -1,
	    "family 3"),
	ROW("unspec proxy", SIG "\x21\x01\x00\x00", 16, -1, "family 0"),
	ROW("local with junk", SIG "\x20\x00\x00\x03" "xyz", 19, 19, NULL),
};

static void
test_rows(void **state)
{
	struct proxyv2	 pv;
	char		 why[256];
	size_t		 i;
	int		 rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		why[0] = '\0';
		rc = proxyv2_parse(rows[i].bytes, rows[i].len, &pv, why,
		    sizeof(why));
		if (rc != rows[i].rc)
			fail_msg("%s: %d, want %d (%s)", rows[i].name, rc,
			    rows[i].rc, why);
		if (rows[i].why != NULL && strstr(why, rows[i].why) == NULL)
			fail_msg("%s: \"%s\" lacks \"%s\"", rows[i].name, why,
			    rows[i].why);
	}
}

static void
test_addresses(void **state)
{
	struct proxyv2		 pv;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&pv.src;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&pv.src;
	char			 why[256], text[64];

	(void)state;
	assert_int_equal(proxyv2_parse(V4, 28, &pv, why, sizeof(why)), 28);
	assert_false(pv.local);
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(pv.srclen, sizeof(*sin));
	inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
	assert_string_equal(text, "192.0.2.7");
	assert_int_equal(ntohs(sin->sin_port), 5555);

	assert_int_equal(proxyv2_parse(V6, 52, &pv, why, sizeof(why)), 52);
	assert_int_equal(sin6->sin6_family, AF_INET6);
	inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
	assert_string_equal(text, "2001:db8::9");
	assert_int_equal(ntohs(sin6->sin6_port), 4000);

	assert_int_equal(proxyv2_parse(LOCAL, 16, &pv, why, sizeof(why)), 16);
	assert_true(pv.local);
	assert_int_equal(pv.srclen, 0);
}

/* Every prefix of a valid header asks for more, never errs. */
static void
test_prefixes(void **state)
{
	struct proxyv2	 pv;
	char		 why[256];
	size_t		 n;

	(void)state;
	for (n = 0; n < 52; n++)
		assert_int_equal(proxyv2_parse(V6, n, &pv, why, sizeof(why)), 0);
}

static void
test_looks_like(void **state)
{
	(void)state;
	assert_true(proxyv2_looks_like(SIG, 1));
	assert_true(proxyv2_looks_like(V4, 28));
	assert_true(proxyv2_looks_like("PROXY TCP4", 10));
	assert_true(proxyv2_looks_like("PRO", 3));
	assert_false(proxyv2_looks_like("\x16\x03\x01", 3));
	assert_false(proxyv2_looks_like("GET /", 5));
	assert_false(proxyv2_looks_like("CONNECT a:1", 11));
	assert_false(proxyv2_looks_like("", 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_looks_like),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
