/*
 * access: one table of (list, host, port, allowed?, rule) rows for matching,
 * one of malformed lists with the entry and message each must produce, and
 * a few tests for caps, NULL handling and the rule text. A failing row is
 * printed whole.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "error.h"

#define A10	"aaaaaaaaaa"
#define L63	A10 A10 A10 A10 A10 A10 "aaa"
#define L64	L63 "a"
#define N253	L63 "." L63 "." L63 "." A10 A10 A10 A10 A10 A10 "a"

struct match_row {
	const char	*list;
	const char	*host;
	uint16_t	 port;
	const char	*rule;		/* the allowing entry, NULL: denied */
};

static const struct match_row match_rows[] = {
	/* The empty list allows nothing. */
	{ "", "intranet.corp.example", 80, NULL },
	{ " ,; ", "10.0.0.1", 22, NULL },

	/* Names with a port: that name, that port; case and one dot. */
	{ "intranet.corp.example:80", "intranet.corp.example", 80,
	    "intranet.corp.example:80" },
	{ "intranet.corp.example:80", "intranet.corp.example", 443, NULL },
	{ "intranet.corp.example:80", "INTRANET.Corp.Example", 80,
	    "intranet.corp.example:80" },
	{ "intranet.corp.example:80", "intranet.corp.example.", 80,
	    "intranet.corp.example:80" },
	{ "Intranet.Corp.Example.:80", "intranet.corp.example", 80,
	    "Intranet.Corp.Example.:80" },
	{ "intranet.corp.example:80", "intranet.corp.example..", 80, NULL },
	{ "intranet.corp.example:80", "x.intranet.corp.example", 80, NULL },
	{ "intranet.corp.example:80", "corp.example", 80, NULL },
	{ "intranet:80", "intranet", 80, "intranet:80" },
	{ "intranet:80", "intranet.corp", 80, NULL },
	{ "_svc.corp:8080", "_SVC.corp", 8080, "_svc.corp:8080" },
	{ N253 ":1", N253 ".", 1, N253 ":1" },
	{ "host:65535", "host", 65535, "host:65535" },
	{ "host:1", "host", 1, "host:1" },
	{ "host:1", "host", 0, NULL },
	{ "host:*", "host", 0, NULL },

	/* "*.domain": names strictly below it, on that port or any. */
	{ "*.corp.example:443", "git.corp.example", 443, "*.corp.example:443" },
	{ "*.corp.example:443", "a.b.corp.example", 443, "*.corp.example:443" },
	{ "*.corp.example:443", "corp.example", 443, NULL },
	{ "*.corp.example:443", "git.corp.example", 80, NULL },
	{ "*.corp.example:443", "evilcorp.example", 443, NULL },
	{ "*.corp.example:443", "corp.example.evil.net", 443, NULL },
	{ "*.Corp.Example.:*", "GIT.corp.example.", 9, "*.Corp.Example.:*" },
	{ "*.corp.example:*", "git.corp.example", 65535, "*.corp.example:*" },
	{ "*.corp.example:*", "10.1.2.3", 443, NULL },

	/* Names and addresses never match each other; no resolution. */
	{ "10.0.0.0/8:*", "ten.corp.example", 80, NULL },
	{ "10.0.0.0/8:*", "10.example", 80, NULL },
	{ "localhost:80", "127.0.0.1", 80, NULL },
	{ "127.0.0.1:80", "localhost", 80, NULL },
	{ "[fd00::/8]:*", "fdexample.com", 80, NULL },

	/* IPv4 addresses and blocks. */
	{ "192.0.2.10:22", "192.0.2.10", 22, "192.0.2.10:22" },
	{ "192.0.2.10:22", "192.0.2.10", 23, NULL },
	{ "192.0.2.10:22", "192.0.2.11", 22, NULL },
	{ "192.0.2.10:22", "192.0.2.10.", 22, "192.0.2.10:22" },
	{ "192.0.2.10.:22", "192.0.2.10", 22, "192.0.2.10.:22" },
	{ "192.0.2.10:22", "0192.0.2.10", 22, NULL },
	{ "10.0.0.0/8:*", "10.255.255.255", 1, "10.0.0.0/8:*" },
	{ "10.0.0.0/8:*", "11.0.0.0", 1, NULL },
	{ "10.0.0.0/8:443", "10.1.1.1", 443, "10.0.0.0/8:443" },
	{ "10.0.0.0/8:443", "10.1.1.1", 80, NULL },
	{ "10.1.2.3/8:*", "10.200.0.1", 80, "10.1.2.3/8:*" },
	{ "172.16.0.0/12:*", "172.31.255.255", 80, "172.16.0.0/12:*" },
	{ "172.16.0.0/12:*", "172.32.0.0", 80, NULL },
	{ "192.0.2.128/25:*", "192.0.2.127", 80, NULL },
	{ "192.0.2.128/25:*", "192.0.2.200", 80, "192.0.2.128/25:*" },
	{ "0.0.0.0/1:*", "127.0.0.1", 80, "0.0.0.0/1:*" },
	{ "0.0.0.0/1:*", "::1", 80, NULL },
	{ "0.0.0.0/1:*", "example.com", 80, NULL },

	/* IPv6 addresses and blocks, with or without brackets on the host. */
	{ "[fd00::5]:22", "fd00::5", 22, "[fd00::5]:22" },
	{ "[fd00::5]:22", "[fd00::5]", 22, "[fd00::5]:22" },
	{ "[fd00::5]:22", "FD00:0:0::5", 22, "[fd00::5]:22" },
	{ "[FD00::5]:22", "fd00::5", 22, "[FD00::5]:22" },
	{ "[fd00::5]:22", "fd00::6", 22, NULL },
	{ "[fd00::5]:22", "fd00::5", 23, NULL },
	{ "[fd00::/8]:*", "fd12:3456::1", 8443, "[fd00::/8]:*" },
	{ "[fd00::/8]:*", "[fdff::1]", 1, "[fd00::/8]:*" },
	{ "[fd00::/8]:*", "fe00::1", 1, NULL },
	{ "[2001:db8::/33]:443", "2001:db8:8000::1", 443, NULL },
	{ "[2001:db8::/33]:443", "2001:db8:7fff::1", 443,
	    "[2001:db8::/33]:443" },
	{ "[2000::/3]:*", "2001:db8::1", 443, "[2000::/3]:*" },
	{ "[2000::/3]:*", "10.0.0.1", 443, NULL },
	{ "[::1]:8080", "::1", 8080, "[::1]:8080" },
	{ "[fe80::1]:22", "fe80::1%eth0", 22, NULL },
	{ "[::1]:1", "[::1", 1, NULL },

	/* IPv4-mapped IPv6 is the IPv4 address it carries. */
	{ "10.0.0.0/8:*", "::ffff:10.9.9.9", 80, "10.0.0.0/8:*" },
	{ "10.0.0.0/8:*", "[::FFFF:10.9.9.9]", 80, "10.0.0.0/8:*" },
	{ "192.0.2.1:443", "::ffff:c000:201", 443, "192.0.2.1:443" },
	{ "[::ffff:192.0.2.1]:443", "192.0.2.1", 443,
	    "[::ffff:192.0.2.1]:443" },
	{ "[::ffff:10.0.0.0/104]:*", "10.1.2.3", 9, "[::ffff:10.0.0.0/104]:*" },
	{ "192.0.2.1:443", "::192.0.2.1", 443, NULL },
	{ "[2000::/3]:*", "::ffff:10.0.0.1", 443, NULL },
	{ "[::ffff:0.0.0.0/97]:*", "10.0.0.1", 443, "[::ffff:0.0.0.0/97]:*" },
	{ "[::ffff:0.0.0.0/97]:*", "192.0.2.1", 443, NULL },

	/* Junk hosts match nothing. */
	{ "*.corp.example:*", "bad host!.corp.example", 80, NULL },
	{ "*.corp.example:*", "", 80, NULL },
	{ "10.0.0.0/8:*", "10.1.2", 80, NULL },

	/* First match in list order; every separator; repeated entries. */
	{ "a.example:80, *.example:*", "a.example", 80, "a.example:80" },
	{ "a.example:80, *.example:*", "a.example", 81, "*.example:*" },
	{ "a.example:80;b.example:80\tc.example:80\nd.example:80",
	    "d.example", 80, "d.example:80" },
	{ "  x.example:1 ,,; \r\n\v\f y.example:2  ", "y.example", 2,
	    "y.example:2" },
	{ "10.0.0.0/8:*,10.1.2.3:22", "10.1.2.3", 22, "10.0.0.0/8:*" },
	{ "127.0.0.1:8000, *.corp.example:443, 10.0.0.0/8:*",
	    "printer.corp.example", 443, "*.corp.example:443" },
	{ "127.0.0.1:8000, *.corp.example:443, 10.0.0.0/8:*",
	    "127.0.0.1", 8000, "127.0.0.1:8000" },
	{ "127.0.0.1:8000, *.corp.example:443, 10.0.0.0/8:*",
	    "127.0.0.1", 8001, NULL },
};

static void
test_match_table(void **state)
{
	const struct match_row	*r;
	struct access		*a;
	struct access_error	 err;
	const char		*rule;
	size_t			 i;
	bool			 got;

	(void)state;
	for (i = 0; i < sizeof(match_rows) / sizeof(match_rows[0]); i++) {
		r = &match_rows[i];
		if (access_parse(r->list, &a, &err) != UPLINK_OK)
			fail_msg("row %zu list \"%s\": parse failed at entry "
			    "%zu \"%s\": %s", i, r->list, err.index, err.entry,
			    err.msg);
		rule = NULL;
		got = access_allows(a, r->host, r->port, &rule);
		if (got != (r->rule != NULL))
			fail_msg("row %zu list \"%s\" host \"%s\" port %u: "
			    "got %s, want %s", i, r->list, r->host, r->port,
			    got ? "allow" : "deny", r->rule ? "allow" : "deny");
		if (got && (rule == NULL || strcmp(rule, r->rule) != 0))
			fail_msg("row %zu list \"%s\" host \"%s\": rule \"%s\", "
			    "want \"%s\"", i, r->list, r->host,
			    rule ? rule : "(null)", r->rule);
		if (!got && rule != NULL)
			fail_msg("row %zu: rule set on a denial", i);
		access_free(a);
	}
	assert_true(i >= 60);
}

struct error_row {
	const char	*list;
	size_t		 index;		/* 1-based */
	const char	*entry;		/* as reported */
	const char	*msg;		/* substring of the message */
};

static const struct error_row error_rows[] = {
	/* A port is mandatory. */
	{ "intranet.corp.example", 1, "intranet.corp.example",
	    "no port; add :PORT or :* (any port), e.g. "
	    "intranet.corp.example:443 or intranet.corp.example:*" },
	{ "a.example:80, b.example", 2, "b.example", "add :PORT or :*" },
	{ "10.0.0.0/8", 1, "10.0.0.0/8", "add :PORT or :*" },
	{ "192.0.2.1", 1, "192.0.2.1", "add :PORT or :*" },
	{ "*.corp.example", 1, "*.corp.example", "add :PORT or :*" },
	{ "[fd00::1]", 1, "[fd00::1]", "e.g. [fd00::1]:443 or [fd00::1]:*" },
	{ "[fd00::/8]", 1, "[fd00::/8]", "add :PORT or :*" },
	{ "host:", 1, "host:", "empty port after ':'; write a port 1-65535, "
	    "or * for any port" },
	{ "[::1]:", 1, "[::1]:", "empty port" },
	{ "host:0", 1, "host:0", "port 0 is out of range (1-65535); or write "
	    ":* for any port" },
	{ "host:65536", 1, "host:65536", "port 65536 is out of range" },
	{ "host:http", 1, "host:http", "port 'http' is not a number" },
	{ "host:-1", 1, "host:-1", "is not a number" },
	{ "host:**", 1, "host:**", "port '**' is not a number" },
	{ "10.0.0.0/8:0", 1, "10.0.0.0/8:0", "port 0 is out of range" },

	/* Bypass-list forms, with what to write instead. */
	{ "*", 1, "*", "'*' alone would allow every destination" },
	{ "*:443", 1, "*:443", "'*' alone would allow every destination; "
	    "name hosts" },
	{ "*:*", 1, "*:*", "would allow every destination" },

	/* Every other way of writing "everything" is refused as well. */
	{ "0.0.0.0/0:*", 1, "0.0.0.0/0:*", "this block holds every IPv4 "
	    "address, which would let the cloud reach any host; name the "
	    "networks" },
	{ "0.0.0.0/0:443", 1, "0.0.0.0/0:443", "holds every IPv4 address" },
	{ "a:1, 10.0.0.0/0:22", 2, "10.0.0.0/0:22", "holds every IPv4 address" },
	{ "0.0.0.0/0:1-65535", 1, "0.0.0.0/0:1-65535", "every IPv4 address" },
	{ "host:1-65535", 1, "host:1-65535", "is not a number" },
	{ "[::/0]:*", 1, "[::/0]:*", "holds every IPv6 and IPv4 address" },
	{ "[::/0]:443", 1, "[::/0]:443", "holds every IPv6 and IPv4 address" },
	{ "[2001:db8::/0]:*", 1, "[2001:db8::/0]:*", "every IPv6 and IPv4" },
	{ "::/0", 1, "::/0", "written in brackets followed by its port" },
	{ "[::ffff:0.0.0.0/96]:*", 1, "[::ffff:0.0.0.0/96]:*",
	    "holds every IPv4 (as ::ffff:0:0/96) address" },
	{ "[::ffff:0:0/96]:80", 1, "[::ffff:0:0/96]:80", "every IPv4 (as" },
	{ "<local>", 1, "<local>", "bypass-list keyword, not an access rule; "
	    "name each host with its port, e.g. intranet:80" },
	{ "<local>:80", 1, "<local>:80", "bypass-list keyword" },
	{ ".corp.example:443", 1, ".corp.example:443", "write both "
	    "corp.example:443 and *.corp.example:443" },
	{ ".corp.example", 1, ".corp.example", "write both corp.example:PORT "
	    "and *.corp.example:PORT" },
	{ ".:80", 1, ".:80", "'.' is not a host" },
	{ "10.*", 1, "10.*", "not an access rule; write the block "
	    "10.0.0.0/8:PORT" },
	{ "10.*:*", 1, "10.*:*", "write the block 10.0.0.0/8:*" },
	{ "192.168.*:22", 1, "192.168.*:22", "write the block "
	    "192.168.0.0/16:22" },
	{ "10.1.2.*:*", 1, "10.1.2.*:*", "write the block 10.1.2.0/24:*" },
	{ "10.*.1:*", 1, "10.*.1:*", "write a block such as 10.0.0.0/8:*" },
	{ "1.2.3.4.*:*", 1, "1.2.3.4.*:*", "write a block such as" },
	{ "256.*:*", 1, "256.*:*", "write a block such as" },
	{ "010.*:*", 1, "010.*:*", "write a block such as" },

	/* Wildcards in names. */
	{ "a.*.example:1", 1, "a.*.example:1", "'*' is only allowed as a "
	    "leading '*.' label; write *.example.com:443" },
	{ "*foo.example:1", 1, "*foo.example:1", "only allowed as a leading" },
	{ "*.*.example:1", 1, "*.*.example:1", "only allowed as a leading" },
	{ "*.:1", 1, "*.:1", "'*.' needs a domain after it" },
	{ "*..:1", 1, "*..:1", "'*.' needs a domain after it" },

	/* Blocks. */
	{ "10.0.0.0/33:*", 1, "10.0.0.0/33:*", "prefix length 33 is out of "
	    "range for IPv4 (0-32)" },
	{ "[fd00::/129]:*", 1, "[fd00::/129]:*", "prefix length 129 is out of "
	    "range for IPv6 (0-128)" },
	{ "10.0.0.0/:*", 1, "10.0.0.0/:*", "empty prefix length after '/'; "
	    "write 10.0.0.0/8:*" },
	{ "10.0.0.0/x:*", 1, "10.0.0.0/x:*", "prefix length 'x' is not a "
	    "number" },
	{ "10.0.0.0/8/8:*", 1, "10.0.0.0/8/8:*", "is not a number" },
	{ "[fd00::/99999999999]:*", 1, "[fd00::/99999999999]:*",
	    "out of range for IPv6" },
	{ "/8:*", 1, "/8:*", "a block needs an address before '/'" },
	{ "10.0.0/8:*", 1, "10.0.0/8:*", "not a complete IPv4 address" },
	{ "corp.example/8:*", 1, "corp.example/8:*", "'/LENGTH' may only "
	    "follow an address" },
	{ "[fd00:::/8]:*", 1, "[fd00:::/8]:*", "is not an IPv6 address" },

	/* IPv6 forms. */
	{ "fd00::1", 1, "fd00::1", "written in brackets followed by its port" },
	{ "fd00::1:443", 1, "fd00::1:443", "in brackets" },
	{ "fd00::/8:*", 1, "fd00::/8:*", "in brackets" },
	{ "::1", 1, "::1", "in brackets" },
	{ "[::1:80", 1, "[::1:80", "unbalanced '['" },
	{ "::1]:80", 1, "::1]:80", "unbalanced ']'" },
	{ "host]:80", 1, "host]:80", "unbalanced ']'" },
	{ "[::1]x:80", 1, "[::1]x:80", "unexpected text after ']'" },
	{ "[]:80", 1, "[]:80", "empty brackets" },
	{ "[192.0.2.1]:80", 1, "[192.0.2.1]:80", "brackets are only for IPv6; "
	    "write an IPv4 address without them: 192.0.2.1:80" },
	{ "[10.0.0.0/8]:*", 1, "[10.0.0.0/8]:*", "IPv4 block without them: "
	    "10.0.0.0/8:*" },
	{ "[corp.example]:80", 1, "[corp.example]:80", "is not an IPv6 "
	    "address" },
	{ "[fe80::1%eth0]:22", 1, "[fe80::1%eth0]:22", "zone index is not "
	    "supported" },

	/* Names and addresses. */
	{ ":443", 1, ":443", "empty host before ':'" },
	{ "ok.example:1,exa$mple.com:1", 2, "exa$mple.com:1",
	    "invalid character '$' in host name" },
	{ "a..example:1", 1, "a..example:1", "empty label" },
	{ L64 ".example:1", 1, L64 ".example:1", "at most 63" },
	{ "-foo.example:1", 1, "-foo.example:1", "starts or ends with '-'" },
	{ "\xc3\xa9.example:1", 1, "\xc3\xa9.example:1", "invalid byte 0xc3" },
	{ "1.2.3:80", 1, "1.2.3:80", "'1.2.3' is not a valid IPv4 address" },
	{ "999.1.1.1:80", 1, "999.1.1.1:80", "not a valid IPv4 address" },
	{ "010.1.1.1:80", 1, "010.1.1.1:80", "not a valid IPv4 address" },
	{ "foo.0x1f:80", 1, "foo.0x1f:80", "ends in a numeric label" },
	{ "good.example:1\tbad!.example:1", 2, "bad!.example:1",
	    "invalid character '!'" },
};

static void
test_error_table(void **state)
{
	const struct error_row	*r;
	struct access		*a;
	struct access_error	 err;
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(error_rows) / sizeof(error_rows[0]); i++) {
		r = &error_rows[i];
		a = (struct access *)(void *)&err;	/* must stay */
		rc = access_parse(r->list, &a, &err);
		if (rc != UPLINK_EINVAL)
			fail_msg("row %zu list \"%s\": rc %d, want EINVAL", i,
			    r->list, rc);
		if (a != (struct access *)(void *)&err)
			fail_msg("row %zu list \"%s\": *out set on error", i,
			    r->list);
		if (err.index != r->index || strcmp(err.entry, r->entry) != 0)
			fail_msg("row %zu list \"%s\": entry %zu \"%s\", want "
			    "%zu \"%s\"", i, r->list, err.index, err.entry,
			    r->index, r->entry);
		if (strstr(err.msg, r->msg) == NULL)
			fail_msg("row %zu list \"%s\": message \"%s\" lacks "
			    "\"%s\"", i, r->list, err.msg, r->msg);
	}
	assert_true(i >= 30);
}

/* Builds "h0.example:1,h1.example:1,...": n distinct entries. */
static char *
make_list(size_t n)
{
	char	*s, *p;
	size_t	 i, cap = n * 20 + 1;

	s = malloc(cap);
	assert_non_null(s);
	p = s;
	*p = '\0';
	for (i = 0; i < n; i++)
		p += snprintf(p, cap - (size_t)(p - s), "h%zu.example:1,", i);
	return s;
}

static void
test_cap(void **state)
{
	struct access		*a = NULL;
	struct access_error	 err;
	const char		*rule = NULL;
	char			*s;

	(void)state;
	s = make_list(ACCESS_MAX_ENTRIES);
	assert_int_equal(access_parse(s, &a, &err), UPLINK_OK);
	assert_int_equal(access_count(a), ACCESS_MAX_ENTRIES);
	assert_true(access_allows(a, "h4095.example", 1, &rule));
	assert_string_equal(rule, "h4095.example:1");
	access_free(a);
	free(s);

	s = make_list(ACCESS_MAX_ENTRIES + 1);
	a = NULL;
	assert_int_equal(access_parse(s, &a, &err), UPLINK_ETOOBIG);
	assert_null(a);
	assert_int_equal(err.index, ACCESS_MAX_ENTRIES + 1);
	assert_string_equal(err.entry, "h4096.example:1");
	assert_non_null(strstr(err.msg, "more than 4096 entries"));
	free(s);
}

/* The entry copied into the error is cut to fit, not overrun. */
static void
test_long_entry(void **state)
{
	struct access		*a;
	struct access_error	 err;

	(void)state;
	assert_int_equal(access_parse("ok.example:1 " N253, &a, &err),
	    UPLINK_EINVAL);
	assert_int_equal(err.index, 2);
	assert_int_equal(strlen(err.entry), sizeof(err.entry) - 1);
	assert_memory_equal(err.entry, N253, sizeof(err.entry) - 1);
	assert_non_null(strstr(err.msg, "no port"));
}

static void
test_null_and_empty(void **state)
{
	struct access		*a;
	struct access_error	 err;
	const char		*rule = "untouched";

	(void)state;
	assert_false(access_allows(NULL, "example.com", 443, &rule));
	assert_string_equal(rule, "untouched");
	assert_int_equal(access_count(NULL), 0);
	access_free(NULL);
	assert_int_equal(access_parse("a.example:1", NULL, &err),
	    UPLINK_EINVAL);

	assert_int_equal(access_parse(NULL, &a, NULL), UPLINK_OK);
	assert_int_equal(access_count(a), 0);
	assert_false(access_allows(a, "example.com", 443, NULL));
	access_free(a);

	assert_int_equal(access_parse("*", &a, NULL), UPLINK_EINVAL);
	assert_int_equal(access_parse("a.example:1 *.b.example:*", &a, NULL),
	    UPLINK_OK);
	assert_int_equal(access_count(a), 2);
	assert_false(access_allows(a, NULL, 1, &rule));
	assert_string_equal(rule, "untouched");
	assert_true(access_allows(a, "x.b.example", 7, NULL));
	access_free(a);
}

/* The rule handed back is the entry as written, ":*" included. */
static void
test_rule_as_written(void **state)
{
	struct access	*a;
	const char	*rule = NULL;

	(void)state;
	assert_int_equal(access_parse("  *.Corp.EXAMPLE.:8443;[FD00::/8]:*\n",
	    &a, NULL), UPLINK_OK);
	assert_true(access_allows(a, "git.corp.example", 8443, &rule));
	assert_string_equal(rule, "*.Corp.EXAMPLE.:8443");
	assert_true(access_allows(a, "fd00::1", 1, &rule));
	assert_string_equal(rule, "[FD00::/8]:*");
	access_free(a);
}

/* Resolve-then-check: (list, address dialled for a name, port, verdict). */
struct addr_row {
	const char	*list;
	const char	*addr;
	uint16_t	 port;
	const char	*why;		/* NULL: allowed; else part of the reason */
};

#define INSIDE	"inside the address entry"

static const struct addr_row addr_rows[] = {
	/* Only names: any ordinary address, loopback included. */
	{ "intranet.test:8080", "127.0.0.1", 8080, NULL },
	{ "intranet.test:8080", "10.1.2.3", 8080, NULL },
	{ "intranet.test:8080", "fd00::1", 8080, NULL },
	/* An address entry on another port refuses its address to names. */
	{ "intranet.test:8080, 127.0.0.1:22", "127.0.0.1", 8080,
	    "127.0.0.1 is " INSIDE " \"127.0.0.1:22\", which does not allow "
	    "port 8080" },
	{ "intranet.test:8080, 127.0.0.1:22", "127.0.0.2", 8080, NULL },
	{ "intranet.test:8080, 127.0.0.1:22", "127.0.0.1", 22, NULL },
	{ "intranet.test:8080, 127.0.0.0/8:22", "127.9.9.9", 8080, INSIDE },
	{ "intranet.test:8080, 10.0.0.0/8:443", "10.200.0.1", 8080,
	    "\"10.0.0.0/8:443\"" },
	{ "intranet.test:8080, 10.0.0.0/8:443", "11.0.0.1", 8080, NULL },
	{ "intranet.test:8080, 10.0.0.0/8:*", "10.200.0.1", 8080, NULL },
	{ "intranet.test:8080, 10.0.0.0/8:443, 10.1.0.0/16:8080", "10.1.0.9",
	    8080, NULL },
	{ "a:1, [fd00::/8]:443", "fd12::1", 1, INSIDE },
	{ "a:1, [fd00::/8]:443", "fd12::1", 443, NULL },
	{ "a:1, [fd00::/8]:443", "10.0.0.1", 1, NULL },
	{ "a:1, [::ffff:10.0.0.0/104]:443", "10.0.0.1", 1, INSIDE },
	{ "a:1, 10.0.0.0/8:443", "::ffff:10.0.0.1", 1, INSIDE },
	{ "a:1, [2000::/3]:443", "::ffff:10.0.0.1", 1, NULL },
	/* Addresses no name should lead to, unless an address entry says so. */
	{ "a:80", "0.0.0.0", 80, "0.0.0.0 is an unspecified (\"this host\") "
	    "address, which a name may reach only when an address entry "
	    "allows it" },
	{ "a:80", "0.1.2.3", 80, "unspecified" },
	{ "a:80", "::", 80, "unspecified" },
	{ "a:80", "169.254.169.254", 80, "169.254.169.254 is a link-local "
	    "address" },
	{ "a:80", "fe80::1", 80, "link-local" },
	{ "a:80", "224.0.0.1", 80, "multicast" },
	{ "a:80", "ff02::1", 80, "multicast" },
	{ "a:80", "255.255.255.255", 80, "broadcast" },
	{ "a:80, 169.254.169.254:80", "169.254.169.254", 80, NULL },
	{ "a:80, 169.254.0.0/16:*", "169.254.1.1", 80, NULL },
	/* The empty list refuses everything. */
	{ "", "10.0.0.1", 80, "the access list is empty" },
};

static void
test_addr_table(void **state)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (void *)&ss;
	struct sockaddr_in6	*s6 = (void *)&ss;
	struct access		*a;
	char			 why[512];
	size_t			 i;
	bool			 ok;

	(void)state;
	for (i = 0; i < sizeof(addr_rows) / sizeof(addr_rows[0]); i++) {
		const struct addr_row *r = &addr_rows[i];

		memset(&ss, 0, sizeof(ss));
		if (inet_pton(AF_INET, r->addr, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			s4->sin_port = htons(r->port);
		} else {
			assert_int_equal(inet_pton(AF_INET6, r->addr,
			    &s6->sin6_addr), 1);
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(r->port);
		}
		assert_int_equal(access_parse(r->list, &a, NULL), UPLINK_OK);
		why[0] = '\0';
		ok = access_allows_addr(a, (struct sockaddr *)&ss, why,
		    sizeof(why));
		access_free(a);
		if (ok != (r->why == NULL) || (r->why != NULL &&
		    strstr(why, r->why) == NULL))
			fail_msg("row %zu (\"%s\", %s port %u): %s \"%s\"", i,
			    r->list, r->addr, r->port, ok ? "allowed" :
			    "refused", why);
	}
	assert_false(access_allows_addr(NULL, (struct sockaddr *)&ss, why,
	    sizeof(why)));
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
		cmocka_unit_test(test_addr_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
