/*
 * hostport: "HOST[:PORT]" parsing, classification, name syntax, ports and
 * formatting. Each table row names its input so a failure says which one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "hostport.h"

#define A10	"aaaaaaaaaa"
#define L61	A10 A10 A10 A10 A10 A10 "a"
#define L62	L61 "a"
#define L63	L62 "a"
#define L64	L63 "a"
#define N253	L63 "." L63 "." L63 "." L61
#define N254	L63 "." L63 "." L63 "." L62

struct parse_row {
	const char	*in;
	uint16_t	 defport;
	int		 rc;
	const char	*host;		/* expected host, or a "why" substring */
	enum host_kind	 kind;
	uint16_t	 port;
};

#define OK(in, dp, host, kind, port)	{ in, dp, UPLINK_OK, host, kind, port }
#define BAD(in, why)			{ in, 0, UPLINK_EINVAL, why, HOST_NAME, 0 }

static const struct parse_row parse_rows[] = {
	OK("example.com", 0, "example.com", HOST_NAME, 0),
	OK("example.com", 443, "example.com", HOST_NAME, 443),
	OK("Example.COM:8080", 443, "Example.COM", HOST_NAME, 8080),
	OK("example.com.", 0, "example.com", HOST_NAME, 0),
	OK("example.com.:80", 0, "example.com", HOST_NAME, 80),
	OK("localhost", 0, "localhost", HOST_NAME, 0),
	OK("a_b.example.com:1", 0, "a_b.example.com", HOST_NAME, 1),
	OK("xn--bcher-kva.example", 0, "xn--bcher-kva.example", HOST_NAME, 0),
	OK("a-b.c-d.example:65535", 0, "a-b.c-d.example", HOST_NAME, 65535),
	OK("10.0.0.1", 0, "10.0.0.1", HOST_IPV4, 0),
	OK("10.0.0.1:3128", 0, "10.0.0.1", HOST_IPV4, 3128),
	OK("10.0.0.1.:3128", 0, "10.0.0.1", HOST_IPV4, 3128),
	OK("255.255.255.255", 0, "255.255.255.255", HOST_IPV4, 0),
	OK("[::1]", 0, "::1", HOST_IPV6, 0),
	OK("[::1]", 8080, "::1", HOST_IPV6, 8080),
	OK("[::1]:443", 8080, "::1", HOST_IPV6, 443),
	OK("[FD00::1]:65535", 0, "FD00::1", HOST_IPV6, 65535),
	OK("fd00::1", 0, "fd00::1", HOST_IPV6, 0),
	OK("fd00::1", 80, "fd00::1", HOST_IPV6, 80),
	/* Bare IPv6 never carries a port: this is the address fd00::1:443. */
	OK("fd00::1:443", 0, "fd00::1:443", HOST_IPV6, 0),
	OK("::ffff:10.1.2.3", 0, "::ffff:10.1.2.3", HOST_IPV6, 0),
	OK("example.com:00080", 0, "example.com", HOST_NAME, 80),
	OK(N253, 0, N253, HOST_NAME, 0),
	OK(N253 ".:1", 0, N253, HOST_NAME, 1),
	OK(L63 ".com", 0, L63 ".com", HOST_NAME, 0),
	BAD("", "empty host"),
	BAD(":443", "empty host"),
	BAD(".", "empty"),
	BAD("example.com:", "empty port"),
	BAD("example.com:0", "port 0 is out of range (1-65535)"),
	BAD("example.com:65536", "port 65536 is out of range"),
	BAD("example.com:99999999999999999999", "out of range"),
	BAD("example.com:8o", "port '8o' is not a number"),
	BAD("example.com:+80", "is not a number"),
	BAD("example.com:-1", "is not a number"),
	BAD("example.com:80:90", "must be bracketed: [fd00::1]:443"),
	BAD("[::1", "missing ']'"),
	BAD("[::1]x", "unexpected text after ']'"),
	BAD("[::1]:", "empty port"),
	BAD("[]:80", "empty host"),
	BAD("[10.0.0.1]:80", "is not an IPv6 address"),
	BAD("[example.com]", "is not an IPv6 address"),
	BAD("fd00::/8", "is not an IPv6 address"),
	BAD("fe80::1%eth0", "is not an IPv6 address"),
	BAD("exa mple.com", "invalid character ' '"),
	BAD("exa$mple.com:80", "invalid character '$'"),
	BAD("ex\001ample.com", "invalid byte 0x01"),
	BAD("a..b", "empty label"),
	BAD(".example.com", "empty label"),
	BAD("example.com..", "empty label"),
	BAD("-a.com", "starts or ends with '-'"),
	BAD("a-.com", "starts or ends with '-'"),
	BAD("1.2.3", "numeric label"),
	BAD("010.1.2.3", "numeric label"),
	BAD("256.1.1.1:80", "numeric label"),
	BAD("0x7f.1", "numeric label"),
	BAD("127.0.0.0x1", "numeric label"),
	BAD("12345", "numeric label"),
	BAD(L64 ".com", "at most 63"),
	BAD(N254, "the limit is 253"),
};

static void
test_parse_table(void **state)
{
	const struct parse_row	*r;
	struct hostport		 hp;
	char			 why[256];
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
		r = &parse_rows[i];
		why[0] = '\0';
		rc = hostport_parse(r->in, r->defport, &hp, why, sizeof(why));
		if (rc != r->rc)
			fail_msg("row %zu \"%s\": rc %d, want %d (%s)", i, r->in,
			    rc, r->rc, why);
		if (rc != UPLINK_OK) {
			if (strstr(why, r->host) == NULL)
				fail_msg("row %zu \"%s\": why \"%s\" lacks "
				    "\"%s\"", i, r->in, why, r->host);
			continue;
		}
		if (strcmp(hp.host, r->host) != 0 || hp.kind != r->kind ||
		    hp.port != r->port)
			fail_msg("row %zu \"%s\": got \"%s\" kind %d port %u, "
			    "want \"%s\" kind %d port %u", i, r->in, hp.host,
			    (int)hp.kind, hp.port, r->host, (int)r->kind,
			    r->port);
	}
}

/* A NULL input and a NULL message buffer are both survivable. */
static void
test_parse_null(void **state)
{
	struct hostport	 hp;

	(void)state;
	assert_int_equal(hostport_parse(NULL, 0, &hp, NULL, 0), UPLINK_EINVAL);
	assert_int_equal(hostport_parse("a:0", 0, &hp, NULL, 0),
	    UPLINK_EINVAL);
	assert_int_equal(hostport_parse("a:1", 0, &hp, NULL, 0), UPLINK_OK);
}

static const struct {
	const char	*in;
	enum host_kind	 kind;
} classify_rows[] = {
	{ "example.com", HOST_NAME },
	{ "10.1.2.3", HOST_IPV4 },
	{ "0.0.0.0", HOST_IPV4 },
	{ "010.1.2.3", HOST_NAME },	/* not a strict literal */
	{ "1.2.3", HOST_NAME },
	{ "::", HOST_IPV6 },
	{ "::1", HOST_IPV6 },
	{ "[::1]", HOST_IPV6 },
	{ "[10.1.2.3]", HOST_NAME },
	{ "[::1", HOST_NAME },
	{ "fe80::1%eth0", HOST_NAME },
	{ "::ffff:1.2.3.4", HOST_IPV6 },
	{ "", HOST_NAME },
};

static void
test_classify(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(classify_rows) / sizeof(classify_rows[0]); i++)
		if (host_classify(classify_rows[i].in) != classify_rows[i].kind)
			fail_msg("classify \"%s\": got %d, want %d",
			    classify_rows[i].in,
			    (int)host_classify(classify_rows[i].in),
			    (int)classify_rows[i].kind);
	assert_int_equal(host_classify(NULL), HOST_NAME);
}

static const struct {
	const char	*in;
	bool		 ok;
} name_rows[] = {
	{ "example.com", true },
	{ "example.com.", true },
	{ "a", true },
	{ "_dmarc.example.com", true },
	{ "x1.example", true },
	{ "1x", true },
	{ "123.example.com", true },
	{ N253, true },
	{ N253 ".", true },
	{ N254, false },
	{ L63, true },
	{ L64, false },
	{ "", false },
	{ ".", false },
	{ "..", false },
	{ "a..b", false },
	{ "example.com..", false },
	{ "-a", false },
	{ "a-", false },
	{ "a.-b.c", false },
	{ "a b", false },
	{ "a*b", false },
	{ "10.1.2.3", false },
	{ "a.0x1F", false },
	{ "a.0x", false },
	{ "a.0xg", true },
};

static void
test_name_valid(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(name_rows) / sizeof(name_rows[0]); i++)
		if (host_name_valid(name_rows[i].in) != name_rows[i].ok)
			fail_msg("host_name_valid(\"%s\") != %d",
			    name_rows[i].in, name_rows[i].ok);
	assert_false(host_name_valid(NULL));
}

static const struct {
	const char	*in;
	bool		 ok;
	uint16_t	 port;
} port_rows[] = {
	{ "1", true, 1 },
	{ "80", true, 80 },
	{ "65535", true, 65535 },
	{ "0443", true, 443 },
	{ "0", false, 0 },
	{ "65536", false, 0 },
	{ "4294967297", false, 0 },
	{ "", false, 0 },
	{ " 80", false, 0 },
	{ "80 ", false, 0 },
	{ "0x50", false, 0 },
	{ "-1", false, 0 },
};

static void
test_port_parse(void **state)
{
	uint16_t	 p;
	size_t		 i;
	bool		 ok;

	(void)state;
	for (i = 0; i < sizeof(port_rows) / sizeof(port_rows[0]); i++) {
		p = 0;
		ok = port_parse(port_rows[i].in, strlen(port_rows[i].in), &p);
		if (ok != port_rows[i].ok || (ok && p != port_rows[i].port))
			fail_msg("port_parse(\"%s\"): ok %d port %u",
			    port_rows[i].in, ok, p);
	}
	/* The length bounds the parse: "80" out of "8080". */
	assert_true(port_parse("8080", 2, &p));
	assert_int_equal(p, 80);
}

static void
test_format(void **state)
{
	char	 b[64];

	(void)state;
	assert_int_equal(hostport_format(b, sizeof(b), "example.com", 443), 15);
	assert_string_equal(b, "example.com:443");
	assert_int_equal(hostport_format(b, sizeof(b), "::1", 443), 9);
	assert_string_equal(b, "[::1]:443");
	hostport_format(b, sizeof(b), "::1", 0);
	assert_string_equal(b, "[::1]");
	hostport_format(b, sizeof(b), "10.0.0.1", 0);
	assert_string_equal(b, "10.0.0.1");
	hostport_format(b, sizeof(b), "[::1]", 80);
	assert_string_equal(b, "[::1]:80");
	/* Truncation keeps the NUL and reports the length needed. */
	assert_int_equal(hostport_format(b, 5, "example.com", 443), 15);
	assert_string_equal(b, "exam");
	assert_int_equal(hostport_format(NULL, 0, "a", 1), 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_null),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_port_parse),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
