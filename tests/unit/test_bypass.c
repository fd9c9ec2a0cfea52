/*
 * bypass: one table of (list, flags, host, port, expected entry index) rows
 * for matching, one of malformed lists with the error each must produce, and
 * a few tests for caps and NULL handling. A failing row is printed whole.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bypass.h"
#include "error.h"

#define NP	BYPASS_NOPROXY_ENV

#define A10	"aaaaaaaaaa"
#define L61	A10 A10 A10 A10 A10 A10 "a"
#define L62	L61 "a"
#define L63	L62 "a"
#define L64	L63 "a"
#define N253	L63 "." L63 "." L63 "." L61
#define N254	L63 "." L63 "." L63 "." L62

struct match_row {
	const char	*list;
	int		 flags;
	const char	*host;
	uint16_t	 port;
	int		 want;		/* 0-based entry index, or -1 */
};

static const struct match_row match_rows[] = {
	/* Exact names: case and one trailing dot on either side. */
	{ "host.example.com", 0, "host.example.com", 443, 0 },
	{ "host.example.com", 0, "HOST.Example.COM", 443, 0 },
	{ "host.example.com", 0, "host.example.com.", 443, 0 },
	{ "host.example.com.", 0, "host.example.com", 443, 0 },
	{ "HOST.EXAMPLE.COM.", 0, "host.example.com.", 80, 0 },
	{ "host.example.com", 0, "a.host.example.com", 443, -1 },
	{ "host.example.com", 0, "example.com", 443, -1 },
	{ "host.example.com", 0, "host.example.co", 443, -1 },
	{ "host.example.com", 0, "xhost.example.com", 443, -1 },
	{ "host.example.com", 0, "host.example.com..", 443, -1 },
	{ "_srv.example.com", 0, "_SRV.example.com", 1, 0 },
	{ N253, 0, N253 ".", 1, 0 },

	/* "*.domain": strictly below. */
	{ "*.example.com", 0, "a.example.com", 443, 0 },
	{ "*.example.com", 0, "a.b.example.com", 443, 0 },
	{ "*.example.com", 0, "example.com", 443, -1 },
	{ "*.example.com", 0, "badexample.com", 443, -1 },
	{ "*.example.com", 0, "A.EXAMPLE.COM.", 443, 0 },
	{ "*.Example.Com.", 0, "x.example.com", 443, 0 },
	{ "*.example.com", 0, "example.com.evil.net", 443, -1 },
	{ "*.example.com", 0, ".example.com", 443, -1 },
	{ "*.example.com", 0, "10.1.2.3", 443, -1 },

	/* ".domain": the domain and below. */
	{ ".example.com", 0, "example.com", 443, 0 },
	{ ".example.com", 0, "www.example.com", 443, 0 },
	{ ".example.com", 0, "a.b.example.com.", 443, 0 },
	{ ".example.com", 0, "notexample.com", 443, -1 },
	{ ".example.com", 0, "example.org", 443, -1 },
	{ ".EXAMPLE.com.", 0, "Example.Com", 443, 0 },

	/* "*" alone: every well-formed host, nothing malformed. */
	{ "*", 0, "anything.example", 443, 0 },
	{ "*", 0, "10.1.2.3", 1, 0 },
	{ "*", 0, "::1", 65535, 0 },
	{ "*", 0, "[fd00::1]", 443, 0 },
	{ "*", 0, "bad host!", 443, -1 },
	{ "*", 0, "", 443, -1 },
	{ "*", 0, "[fe80::1%eth0]", 443, -1 },

	/* <local>: dotless names only. */
	{ "<local>", 0, "intranet", 80, 0 },
	{ "<LOCAL>", 0, "Intranet.", 80, 0 },
	{ "<Local>", 0, "intranet.corp", 80, -1 },
	{ "<local>", 0, "127.0.0.1", 80, -1 },
	{ "<local>", 0, "::1", 80, -1 },
	{ "<local>", 0, "[::1]", 80, -1 },
	{ "<local>", 0, "localhost", 80, 0 },

	/* IPv4 literals, compared as addresses. */
	{ "10.1.2.3", 0, "10.1.2.3", 443, 0 },
	{ "10.1.2.3", 0, "10.1.2.4", 443, -1 },
	{ "10.1.2.3.", 0, "10.1.2.3", 443, 0 },
	{ "10.1.2.3", 0, "10.1.2.3.", 443, 0 },
	{ "10.1.2.3", 0, "010.1.2.3", 443, -1 },
	{ "10.1.2.3", 0, "10.1.2", 443, -1 },
	{ "127.0.0.1", 0, "localhost", 80, -1 },
	{ "localhost", 0, "127.0.0.1", 80, -1 },

	/* IPv4-mapped IPv6 is the IPv4 address it carries. */
	{ "192.0.2.1", 0, "::ffff:192.0.2.1", 443, 0 },
	{ "192.0.2.1", 0, "[::FFFF:192.0.2.1]", 443, 0 },
	{ "192.0.2.1", 0, "::ffff:c000:201", 443, 0 },
	{ "::ffff:192.0.2.1", 0, "192.0.2.1", 443, 0 },
	{ "[::ffff:192.0.2.1]:443", 0, "192.0.2.1", 443, 0 },
	{ "192.0.2.1", 0, "::192.0.2.1", 443, -1 },
	{ "10.0.0.0/8", 0, "::ffff:10.9.9.9", 80, 0 },
	{ "::ffff:10.0.0.0/104", 0, "10.1.2.3", 443, 0 },
	{ "::/0", 0, "::ffff:10.0.0.1", 443, -1 },
	{ "::/64", 0, "[::ffff:10.0.0.1]", 443, -1 },
	{ "::ffff:0:0/96", 0, "203.0.113.1", 443, 0 },
	{ "::ffff:0:0/95", 0, "203.0.113.1", 443, -1 },

	/* IPv6 literals, compared as addresses. */
	{ "::1", 0, "::1", 443, 0 },
	{ "::1", 0, "0:0::1", 443, 0 },
	{ "0:0:0:0:0:0:0:1", 0, "[::1]", 443, 0 },
	{ "[::1]", 0, "::1", 443, 0 },
	{ "::1", 0, "::2", 443, -1 },
	{ "FD00::ABCD", 0, "fd00::abcd", 443, 0 },
	{ "fe80::1", 0, "fe80::1%eth0", 443, -1 },
	{ "::1", 0, "[::1", 443, -1 },
	{ "::1", 0, "::1]", 443, -1 },
	{ "fd00::1", 0, "fd00::1.", 443, -1 },

	/* IPv4 blocks, masked when written with host bits. */
	{ "10.0.0.0/8", 0, "10.255.1.2", 443, 0 },
	{ "10.0.0.0/8", 0, "11.0.0.0", 443, -1 },
	{ "10.1.2.3/8", 0, "10.200.0.1", 443, 0 },
	{ "192.168.0.0/16", 0, "192.168.255.255", 80, 0 },
	{ "192.168.0.0/16", 0, "192.169.0.0", 80, -1 },
	{ "172.16.0.0/12", 0, "172.31.255.255", 80, 0 },
	{ "172.16.0.0/12", 0, "172.32.0.0", 80, -1 },
	{ "0.0.0.0/0", 0, "203.0.113.9", 80, 0 },
	{ "0.0.0.0/0", 0, "::1", 80, -1 },
	{ "0.0.0.0/0", 0, "example.com", 80, -1 },
	{ "192.0.2.1/32", 0, "192.0.2.1", 80, 0 },
	{ "192.0.2.1/32", 0, "192.0.2.2", 80, -1 },
	{ "192.0.2.128/25", 0, "192.0.2.127", 80, -1 },
	{ "192.0.2.128/25", 0, "192.0.2.200", 80, 0 },
	{ "10.0.0.0/8", 0, "10.example.com", 80, -1 },

	/* IPv6 blocks. */
	{ "fd00::/8", 0, "fd12:3456::1", 443, 0 },
	{ "fd00::/8", 0, "fe00::1", 443, -1 },
	{ "2001:db8::/32", 0, "[2001:db8:ffff::1]", 443, 0 },
	{ "2001:db8::/33", 0, "2001:db8:8000::1", 443, -1 },
	{ "2001:db8::/33", 0, "2001:db8:7fff::1", 443, 0 },
	{ "2001:db8::1/32", 0, "2001:db8::2", 443, 0 },
	{ "::/0", 0, "2001:db8::1", 443, 0 },
	{ "::/0", 0, "10.0.0.1", 443, -1 },
	{ "fd00::/8", 0, "fdexample.com", 443, -1 },

	/* Trailing octet wildcards. */
	{ "10.*", 0, "10.99.1.2", 22, 0 },
	{ "10.*", 0, "11.10.1.2", 22, -1 },
	{ "192.168.*", 0, "192.168.7.7", 22, 0 },
	{ "192.168.*", 0, "192.169.7.7", 22, -1 },
	{ "10.1.2.*", 0, "10.1.2.254", 22, 0 },
	{ "10.1.2.*", 0, "10.1.3.1", 22, -1 },
	{ "0.*", 0, "0.1.2.3", 22, 0 },
	{ "10.*", 0, "::ffff:10.0.0.1", 22, 0 },
	{ "10.*", 0, "10.example", 22, -1 },
	{ "10.*", 0, "10.1.2", 22, -1 },

	/* Ports: with one, only that port; without, every port. */
	{ "*.corp:8443", 0, "git.corp", 8443, 0 },
	{ "*.corp:8443", 0, "git.corp", 443, -1 },
	{ "10.*:22", 0, "10.0.0.5", 22, 0 },
	{ "10.*:22", 0, "10.0.0.5", 23, -1 },
	{ "10.0.0.0/8:443", 0, "10.3.3.3", 443, 0 },
	{ "10.0.0.0/8:443", 0, "10.3.3.3", 80, -1 },
	{ "[fd00::/8]:443", 0, "fd00::5", 443, 0 },
	{ "[fd00::/8]:443", 0, "fd00::5", 444, -1 },
	{ "[::1]:8080", 0, "::1", 8080, 0 },
	{ "[::1]:8080", 0, "[::1]", 8081, -1 },
	{ "[::1]", 0, "::1", 1, 0 },
	{ "*:443", 0, "any.where", 443, 0 },
	{ "*:443", 0, "any.where", 80, -1 },
	{ "<local>:80", 0, "printer", 80, 0 },
	{ "<local>:80", 0, "printer", 631, -1 },
	{ "host.example.com:65535", 0, "host.example.com", 65535, 0 },
	{ "host.example.com:1", 0, "host.example.com", 0, -1 },
	{ "host.example.com.:1", 0, "host.example.com", 1, 0 },
	{ "192.0.2.1:443", 0, "192.0.2.1", 443, 0 },
	{ ".example.com:443", 0, "example.com", 443, 0 },
	{ "host.example.com", 0, "host.example.com", 1, 0 },
	{ "host.example.com", 0, "host.example.com", 65535, 0 },

	/* First match in list order; separators of every kind. */
	{ "a.com;*.example.com;.example.com", 0, "www.example.com", 443, 1 },
	{ "a.com;*.example.com;.example.com", 0, "example.com", 443, 2 },
	{ "*.corp:22, *.corp", 0, "x.corp", 443, 1 },
	{ "*.corp:22, *.corp", 0, "x.corp", 22, 0 },
	{ "  foo.com ,;\tbar.com\n10.0.0.0/8  ", 0, "10.0.0.1", 1, 2 },
	{ "foo.com\r\nbar.com\fbaz.com\v", 0, "baz.com", 1, 2 },
	{ "", 0, "example.com", 443, -1 },
	{ " ;, ", 0, "example.com", 443, -1 },
	{ "*,example.com", 0, "example.com", 443, 0 },
	{ "10.0.0.0/8,10.1.2.3", 0, "10.1.2.3", 443, 0 },

	/* NO_PROXY semantics: a plain name also covers its subdomains. */
	{ "example.com", NP, "example.com", 443, 0 },
	{ "example.com", NP, "a.example.com", 443, 0 },
	{ "example.com", NP, "A.B.Example.com.", 443, 0 },
	{ "example.com", NP, "badexample.com", 443, -1 },
	{ "example.com", 0, "a.example.com", 443, -1 },
	{ ".example.com", NP, "example.com", 443, 0 },
	{ "*.example.com", NP, "example.com", 443, -1 },
	{ "10.0.0.1", NP, "10.0.0.1", 443, 0 },
	{ "example.com:8080", NP, "a.example.com", 8080, 0 },
	{ "example.com:8080", NP, "a.example.com", 443, -1 },
	{ "localhost,127.0.0.1,::1", NP, "::1", 80, 2 },
	{ "<local>", NP, "a.b", 80, -1 },
};

/* Copies the n-th (0-based) entry of list into dst, as the parser splits. */
static void
nth_entry(const char *list, int n, char *dst, size_t dstlen)
{
	const char	*seps = ";, \t\r\n\v\f";
	size_t		 len;

	for (;;) {
		list += strspn(list, seps);
		len = strcspn(list, seps);
		if (n-- == 0)
			break;
		list += len;
	}
	snprintf(dst, dstlen, "%.*s", (int)len, list);
}

static void
test_match_table(void **state)
{
	const struct match_row	*r;
	struct bypass		*bp;
	struct bypass_error	 err;
	const char		*rule;
	char			 want[300];
	size_t			 i;
	int			 got;

	(void)state;
	for (i = 0; i < sizeof(match_rows) / sizeof(match_rows[0]); i++) {
		r = &match_rows[i];
		if (bypass_parse(r->list, r->flags, &bp, &err) != UPLINK_OK)
			fail_msg("row %zu list \"%s\": parse failed at entry "
			    "%zu: %s", i, r->list, err.index, err.msg);
		rule = NULL;
		got = bypass_match(bp, r->host, r->port, &rule);
		if (got != r->want)
			fail_msg("row %zu list \"%s\" flags %d host \"%s\" port "
			    "%u: got %d, want %d", i, r->list, r->flags, r->host,
			    r->port, got, r->want);
		if (got >= 0) {
			nth_entry(r->list, got, want, sizeof(want));
			if (rule == NULL || strcmp(rule, want) != 0)
				fail_msg("row %zu list \"%s\" host \"%s\": rule "
				    "\"%s\", want \"%s\"", i, r->list, r->host,
				    rule ? rule : "(null)", want);
		} else if (rule != NULL)
			fail_msg("row %zu: rule set without a match", i);
		bypass_free(bp);
	}
}

struct error_row {
	const char	*list;
	size_t		 index;		/* 1-based */
	size_t		 offset;
	const char	*msg;		/* substring of the message */
};

static const struct error_row error_rows[] = {
	/* '*' anywhere but a leading "*." label or alone. */
	{ "a.*.com", 1, 0, "'*' is only allowed as a leading '*.' label or "
	    "alone; write '*.example.com'" },
	{ "foo*", 1, 0, "'*' is only allowed" },
	{ "ok.com **", 2, 7, "'*' is only allowed" },
	{ "*foo.com", 1, 0, "'*' is only allowed" },
	{ "*.*.example.com", 1, 0, "'*' is only allowed" },
	{ "*.", 1, 0, "'*.' needs a domain after it; write '*.example.com'" },
	{ ".", 1, 0, "needs a domain after it; write '.example.com'" },
	{ "*.:443", 1, 0, "needs a domain" },

	/* Blocks. */
	{ "10.0.0.0/33", 1, 0, "prefix length 33 is out of range for IPv4 "
	    "(0-32)" },
	{ "fd00::/129", 1, 0, "prefix length 129 is out of range for IPv6 "
	    "(0-128)" },
	{ "[fd00::/999999999999]:1", 1, 0, "out of range for IPv6" },
	{ "10.0.0.0/", 1, 0, "empty prefix length" },
	{ "10.0.0.0/x", 1, 0, "prefix length 'x' is not a number" },
	{ "10.0.0.1/8/8", 1, 0, "prefix length '8/8' is not a number" },
	{ "10.0.0.0/-1", 1, 0, "is not a number" },
	{ "example.com/8", 1, 0, "invalid character '/' in host name" },
	{ "/8", 1, 0, "needs an address before '/'" },
	{ "10.0.0/8", 1, 0, "not a complete IPv4 address" },
	{ "fd00:::/8", 1, 0, "is not an IPv6 address" },

	/* Octet wildcards. */
	{ "10.*.1.*", 1, 0, "must replace whole trailing octets" },
	{ "10.*.*", 1, 0, "already matches every remaining octet; write "
	    "'10.*'" },
	{ "192.168.*.*.*", 1, 0, "write '192.168.*'" },
	{ "10*", 1, 0, "must replace whole trailing octets" },
	{ "10.*.1", 1, 0, "must replace whole trailing octets" },
	{ "1.2.3.4.*", 1, 0, "too many octets" },
	{ "256.*", 1, 0, "octet 256 is out of range (0-255)" },
	{ "010.*", 1, 0, "leading zero" },
	{ "10..*", 1, 0, "empty octet" },

	/* Brackets, IPv6 and zones. */
	{ "[::1", 1, 0, "unbalanced '['" },
	{ "::1]", 1, 0, "unbalanced ']'" },
	{ "[::1]x", 1, 0, "unexpected text after ']'" },
	{ "[]", 1, 0, "empty brackets" },
	{ "[10.0.0.1]:443", 1, 0, "brackets are only for IPv6" },
	{ "[10.0.0.0/8]", 1, 0, "brackets are only for IPv6" },
	{ "[example.com]", 1, 0, "is not an IPv6 address" },
	{ "fe80::1%eth0", 1, 0, "zone index '%eth0' is not supported" },
	{ "[fe80::1%25eth0]:443", 1, 0, "zone index" },
	{ "fd00::/8:443", 1, 0, "an IPv6 block with a port must be bracketed: "
	    "[fd00::/8]:443" },
	{ "fd00::1:99999", 1, 0, "an IPv6 address with a port must be "
	    "bracketed: [fd00::1]:99999" },
	{ "a:b:c", 1, 0, "is not an IPv6 address" },
	{ "host:80:90", 1, 0, "is not an IPv6 address" },

	/* Ports. */
	{ "host.example.com:", 1, 0, "empty port" },
	{ "host.example.com:65536", 1, 0, "port 65536 is out of range "
	    "(1-65535)" },
	{ "host.example.com:0", 1, 0, "port 0 is out of range (1-65535)" },
	{ "host.example.com:http", 1, 0, "port 'http' is not a number" },
	{ "ok.com;bad.com:-1", 2, 7, "port '-1' is not a number" },
	{ "[::1]:", 1, 0, "empty port" },
	{ "*:0", 1, 0, "port 0 is out of range" },
	{ ":443", 1, 0, "empty host before ':'; to match every host on one "
	    "port write '*:443'" },

	/* Names. */
	{ "a,b,exa$mple.com", 3, 4, "invalid character '$' in host name" },
	{ "a..example.com", 1, 0, "empty label" },
	{ "..example.com", 1, 0, "empty label" },
	{ "example.com..", 1, 0, "empty label" },
	{ L64 ".com", 1, 0, "a label holds at most 63" },
	{ N254, 1, 0, "the limit is 253" },
	{ "-foo.com", 1, 0, "starts or ends with '-'" },
	{ "foo-.com", 1, 0, "starts or ends with '-'" },
	{ "\xc3\xa9.com", 1, 0, "invalid byte 0xc3" },
	{ "<lokal>", 1, 0, "unknown keyword '<lokal>'" },
	{ "<local", 1, 0, "unknown keyword" },
	{ "1.2.3", 1, 0, "not a valid IPv4 address" },
	{ "999.1.1.1", 1, 0, "not a valid IPv4 address" },
	{ "12345", 1, 0, "not a valid IPv4 address" },
	{ "*.2.3", 1, 0, "ends in a numeric label" },
	{ "foo.0x1f", 1, 0, "ends in a numeric label" },
	{ "good.com\tbad!.com", 2, 9, "invalid character '!'" },
};

static void
test_error_table(void **state)
{
	const struct error_row	*r;
	struct bypass		*bp;
	struct bypass_error	 err;
	char			 entry[128];
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(error_rows) / sizeof(error_rows[0]); i++) {
		r = &error_rows[i];
		bp = (struct bypass *)(void *)&err;	/* must stay */
		rc = bypass_parse(r->list, 0, &bp, &err);
		if (rc != UPLINK_EINVAL)
			fail_msg("row %zu list \"%s\": rc %d, want EINVAL", i,
			    r->list, rc);
		if (bp != (struct bypass *)(void *)&err)
			fail_msg("row %zu list \"%s\": *out set on error", i,
			    r->list);
		nth_entry(r->list, (int)r->index - 1, entry, sizeof(entry));
		if (err.index != r->index || err.offset != r->offset ||
		    strcmp(err.entry, entry) != 0)
			fail_msg("row %zu list \"%s\": index %zu offset %zu "
			    "entry \"%s\", want %zu %zu \"%s\"", i, r->list,
			    err.index, err.offset, err.entry, r->index,
			    r->offset, entry);
		if (strstr(err.msg, r->msg) == NULL)
			fail_msg("row %zu list \"%s\": message \"%s\" lacks "
			    "\"%s\"", i, r->list, err.msg, r->msg);
		/* The NO_PROXY flavour rejects the same lists. */
		if (bypass_parse(r->list, NP, &bp, NULL) != UPLINK_EINVAL)
			fail_msg("row %zu list \"%s\": accepted with NP", i,
			    r->list);
	}
}

/* Builds "a0,a1,...": n distinct entries. */
static char *
make_list(size_t n)
{
	char	*s, *p;
	size_t	 i, cap = n * 8 + 1;

	s = malloc(cap);
	assert_non_null(s);
	p = s;
	*p = '\0';
	for (i = 0; i < n; i++)
		p += snprintf(p, cap - (size_t)(p - s), "a%zu,", i);
	return s;
}

static void
test_cap(void **state)
{
	struct bypass		*bp = NULL;
	struct bypass_error	 err;
	char			*s;

	(void)state;
	s = make_list(BYPASS_MAX_ENTRIES);
	assert_int_equal(bypass_parse(s, 0, &bp, &err), UPLINK_OK);
	assert_int_equal(bypass_count(bp), BYPASS_MAX_ENTRIES);
	assert_int_equal(bypass_match(bp, "a4095", 1, NULL), 4095);
	bypass_free(bp);
	free(s);

	s = make_list(BYPASS_MAX_ENTRIES + 1);
	bp = NULL;
	assert_int_equal(bypass_parse(s, 0, &bp, &err), UPLINK_ETOOBIG);
	assert_null(bp);
	assert_int_equal(err.index, BYPASS_MAX_ENTRIES + 1);
	assert_string_equal(err.entry, "a4096");
	assert_ptr_equal(strstr(s, "a4096,"), s + err.offset);
	assert_non_null(strstr(err.msg, "more than 4096 entries"));
	free(s);
}

/* The entry copied into the error is cut to fit, not overrun. */
static void
test_long_entry(void **state)
{
	struct bypass		*bp;
	struct bypass_error	 err;

	(void)state;
	assert_int_equal(bypass_parse("ok " N254, 0, &bp, &err),
	    UPLINK_EINVAL);
	assert_int_equal(err.index, 2);
	assert_int_equal(err.offset, 3);
	assert_int_equal(strlen(err.entry), sizeof(err.entry) - 1);
	assert_memory_equal(err.entry, N254, sizeof(err.entry) - 1);
}

static void
test_null_and_empty(void **state)
{
	struct bypass		*bp;
	struct bypass_error	 err;
	const char		*rule = "untouched";

	(void)state;
	assert_int_equal(bypass_match(NULL, "example.com", 443, &rule), -1);
	assert_string_equal(rule, "untouched");
	assert_int_equal(bypass_count(NULL), 0);
	bypass_free(NULL);
	assert_int_equal(bypass_parse("*", 0, NULL, &err), UPLINK_EINVAL);

	assert_int_equal(bypass_parse(NULL, 0, &bp, &err), UPLINK_OK);
	assert_int_equal(bypass_count(bp), 0);
	assert_int_equal(bypass_match(bp, "example.com", 443, NULL), -1);
	bypass_free(bp);

	assert_int_equal(bypass_parse("a.com,*", 0, &bp, NULL), UPLINK_OK);
	assert_int_equal(bypass_count(bp), 2);
	assert_int_equal(bypass_match(bp, NULL, 443, &rule), -1);
	assert_int_equal(bypass_match(bp, "b.com", 443, NULL), 1);
	bypass_free(bp);
}

/* The rule handed back is the entry as written, case and dot included. */
static void
test_rule_as_written(void **state)
{
	struct bypass	*bp;
	const char	*rule = NULL;

	(void)state;
	assert_int_equal(bypass_parse("  *.Corp.EXAMPLE.:8443;[FD00::/8]", 0,
	    &bp, NULL), UPLINK_OK);
	assert_int_equal(bypass_match(bp, "git.corp.example", 8443, &rule), 0);
	assert_string_equal(rule, "*.Corp.EXAMPLE.:8443");
	assert_int_equal(bypass_match(bp, "fd00::1", 1, &rule), 1);
	assert_string_equal(rule, "[FD00::/8]");
	bypass_free(bp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_long_entry),
		cmocka_unit_test(test_null_and_empty),
		cmocka_unit_test(test_rule_as_written),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
