/*
 * httpreq: a table of valid request heads (each also fed byte by byte: every
 * proper prefix must ask for more), a table of bad heads with the error each
 * must produce, the byte and header-count caps, and a table for Basic
 * credentials. A failing row is printed whole.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "httpreq.h"

#define BIG	65536

struct ok_row {
	const char	*head;
	const char	*method;
	const char	*target;
	int		 minor;
	size_t		 nheaders;
	const char	*hname;		/* a header to look up, or NULL */
	const char	*hvalue;	/* its expected value */
};

static const struct ok_row ok_rows[] = {
	{ "CONNECT intranet.corp.example:443 HTTP/1.1\r\n"
	    "Host: intranet.corp.example:443\r\n"
	    "Proxy-Authorization: Basic aHE6dWtfa2V5\r\n\r\n",
	    "CONNECT", "intranet.corp.example:443", 1, 2,
	    "proxy-authorization", "Basic aHE6dWtfa2V5" },
	{ "CONNECT 10.0.0.1:22 HTTP/1.0\r\n\r\n", "CONNECT", "10.0.0.1:22", 0,
	    0, "Host", NULL },
	{ "CONNECT [fd00::1]:8443 HTTP/1.1\n\n", "CONNECT", "[fd00::1]:8443",
	    1, 0, NULL, NULL },
	{ "CONNECT host.:1 HTTP/1.1\r\nHost:host.:1\r\n\r\n", "CONNECT",
	    "host.:1", 1, 1, "HOST", "host.:1" },
	{ "GET http://intranet.corp.example/a?b=c HTTP/1.1\r\n"
	    "Host: intranet.corp.example\r\nAccept: */*\r\n\r\n", "GET",
	    "http://intranet.corp.example/a?b=c", 1, 2, "accept", "*/*" },
	{ "POST HTTP://h:8080 HTTP/1.1\r\nContent-Length: 3\r\n\r\n", "POST",
	    "HTTP://h:8080", 1, 1, "content-length", "3" },
	{ "GET https://h/ HTTP/1.1\r\n\r\n", "GET", "https://h/", 1, 0, NULL,
	    NULL },
	{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/", 1, 1, "host", "x" },
	{ "OPTIONS * HTTP/1.1\r\n\r\n", "OPTIONS", "*", 1, 0, NULL, NULL },
	{ "M-SEARCH /x HTTP/1.1\r\n\r\n", "M-SEARCH", "/x", 1, 0, NULL, NULL },
	{ "get / HTTP/1.1\r\n\r\n", "get", "/", 1, 0, NULL, NULL },
	{ "GET / HTTP/1.1\r\nX-Empty:\r\nX-Sp:   \t\r\n\r\n", "GET", "/", 1, 2,
	    "x-sp", "" },
	{ "GET / HTTP/1.1\r\nX: a \t b \r\n\r\n", "GET", "/", 1, 1, "x",
	    "a \t b" },
	{ "GET / HTTP/1.1\r\nX: \xc3\xa9t\xc3\xa9\r\n\r\n", "GET", "/", 1, 1,
	    "x", "\xc3\xa9t\xc3\xa9" },
	{ "GET / HTTP/1.1\r\nA: 1\r\nA: 2\r\n\r\n", "GET", "/", 1, 2, "a",
	    "1" },
	{ "\r\n\nGET / HTTP/1.1\r\n\r\n", "GET", "/", 1, 0, NULL, NULL },
	{ "GET / HTTP/1.1\r\nMixed: lf\n\r\n", "GET", "/", 1, 1, "mixed",
	    "lf" },
	{ "GET / HTTP/1.1\r\n!#$%&'*+-.^_`|~09az: t\r\n\r\n", "GET", "/", 1, 1,
	    "!#$%&'*+-.^_`|~09AZ", "t" },
};

static void
check_ok(size_t i, const struct ok_row *r, const struct httpreq *req,
    size_t headlen)
{
	const struct httpreq_header	*h;

	if (req->methodlen != strlen(r->method) ||
	    memcmp(req->method, r->method, req->methodlen) != 0 ||
	    req->targetlen != strlen(r->target) ||
	    memcmp(req->target, r->target, req->targetlen) != 0 ||
	    req->minor != r->minor || req->nheaders != r->nheaders ||
	    req->headlen != headlen)
		fail_msg("row %zu: method \"%.*s\" target \"%.*s\" minor %d "
		    "nheaders %zu headlen %zu", i, (int)req->methodlen,
		    req->method, (int)req->targetlen, req->target, req->minor,
		    req->nheaders, req->headlen);
	if (r->hname == NULL)
		return;
	h = httpreq_header(req, r->hname);
	if (r->hvalue == NULL) {
		if (h != NULL)
			fail_msg("row %zu: header %s found", i, r->hname);
		return;
	}
	if (h == NULL || h->valuelen != strlen(r->hvalue) ||
	    memcmp(h->value, r->hvalue, h->valuelen) != 0)
		fail_msg("row %zu: header %s = \"%.*s\", want \"%s\"", i,
		    r->hname, h ? (int)h->valuelen : 0, h ? h->value : "",
		    r->hvalue);
}

static void
test_ok_table(void **state)
{
	const struct ok_row	*r;
	struct httpreq		 req;
	char			 why[256], buf[1024];
	size_t			 i, n, len;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(ok_rows) / sizeof(ok_rows[0]); i++) {
		r = &ok_rows[i];
		len = strlen(r->head);
		/* Every proper prefix needs more; none is an error. */
		for (n = 0; n < len; n++) {
			rc = httpreq_parse(r->head, n, BIG, &req, why,
			    sizeof(why));
			if (rc != UPLINK_EAGAIN)
				fail_msg("row %zu prefix %zu: rc %d (%s)", i, n,
				    rc, why);
		}
		rc = httpreq_parse(r->head, len, BIG, &req, why, sizeof(why));
		if (rc != UPLINK_OK)
			fail_msg("row %zu: rc %d (%s)", i, rc, why);
		check_ok(i, r, &req, len);
		/* Bytes after the head (a tunnel's first bytes) stay out. */
		snprintf(buf, sizeof(buf), "%s\x16\x03\x01 tail", r->head);
		rc = httpreq_parse(buf, strlen(buf), BIG, &req, why,
		    sizeof(why));
		if (rc != UPLINK_OK)
			fail_msg("row %zu + tail: rc %d (%s)", i, rc, why);
		check_ok(i, r, &req, len);
		/* A cap of exactly the head's size is enough. */
		rc = httpreq_parse(buf, strlen(buf), len, &req, why,
		    sizeof(why));
		if (rc != UPLINK_OK)
			fail_msg("row %zu max %zu: rc %d (%s)", i, len, rc,
			    why);
	}
}

struct bad_row {
	const char	*head;
	int		 rc;
	const char	*why;		/* substring of the message */
};

static const struct bad_row bad_rows[] = {
	/* Request line. */
	{ "GET /\r\n\r\n", UPLINK_EINVAL, "is not METHOD TARGET HTTP/1.1" },
	{ "GET\r\n\r\n", UPLINK_EINVAL, "is not METHOD TARGET" },
	{ " GET / HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "is not METHOD TARGET" },
	{ "GET  / HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "is not METHOD TARGET" },
	{ "GET / HTTP/1.1 \r\n\r\n", UPLINK_EINVAL, "unsupported version" },
	{ "GET / HTTP/2.0\r\n\r\n", UPLINK_EINVAL, "unsupported version in "
	    "request line \"GET / HTTP/2.0\": only HTTP/1.0 and HTTP/1.1" },
	{ "GET / HTTP/1.2\r\n\r\n", UPLINK_EINVAL, "unsupported version" },
	{ "GET / http/1.1\r\n\r\n", UPLINK_EINVAL, "unsupported version" },
	{ "GET / HTTP/1.1\r\r\n\r\n", UPLINK_EINVAL, "unsupported version" },
	{ "G(T / HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "byte \\x28 not allowed in "
	    "the method" },
	{ "GET /a\tb HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "byte \\x09 not allowed "
	    "in the request target" },
	{ "GET /\xc3\xa9 HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "byte \\xc3" },
	{ "GET /\x7f HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "byte \\x7f" },
	{ "\x16\x03\x01\x02\x05", UPLINK_EINVAL, "not an HTTP request: "
	    "\"\\x16\\x03\\x01\\x02\\x05\" (a TLS or other client" },
	{ "SSH-2.0-OpenSSH_9.6\r\n", UPLINK_EINVAL, "is not METHOD TARGET" },
	{ "GE\x01", UPLINK_EINVAL, "not an HTTP request" },

	/* Targets. */
	{ "GET intranet:80 HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "request target "
	    "\"intranet:80\" is neither /PATH nor http://HOST/PATH" },
	{ "GET * HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "is neither" },
	{ "GET http:/x HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "is neither" },
	{ "GET http:/// HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "is neither" },
	{ "GET 1http://x/ HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "is neither" },
	{ "CONNECT intranet HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "CONNECT target "
	    "\"intranet\" has no port (HOST:PORT)" },
	{ "CONNECT http://x:1/ HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "CONNECT "
	    "target \"http://x:1/\" is not HOST:PORT" },
	{ "CONNECT / HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "is not HOST:PORT" },
	{ "CONNECT u@h:1 HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "is not HOST:PORT" },
	{ "CONNECT h:0 HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "port 0 is out of "
	    "range" },
	{ "CONNECT h:99999 HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "out of range" },
	{ "CONNECT fd00::1:443 HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "has no "
	    "port" },
	{ "CONNECT [fd00::1 HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "missing ']'" },
	{ "CONNECT b!d:1 HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "invalid character "
	    "'!'" },
	{ "CONNECT *:1 HTTP/1.1\r\n\r\n", UPLINK_EINVAL, "invalid character" },

	/* Header lines. */
	{ "GET / HTTP/1.1\r\nHost x\r\n\r\n", UPLINK_EINVAL, "line 2: header "
	    "without ':' (\"Host x\")" },
	{ "GET / HTTP/1.1\r\nHost : x\r\n\r\n", UPLINK_EINVAL, "line 2: white "
	    "space before ':'" },
	{ "GET / HTTP/1.1\r\n: x\r\n\r\n", UPLINK_EINVAL, "empty header name" },
	{ "GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n", UPLINK_EINVAL, "line 3: "
	    "obsolete line folding" },
	{ "GET / HTTP/1.1\r\n\tx: 1\r\n\r\n", UPLINK_EINVAL, "line folding" },
	{ "GET / HTTP/1.1\r\nA(b: 1\r\n\r\n", UPLINK_EINVAL, "byte \\x28 not "
	    "allowed in a header name" },
	{ "GET / HTTP/1.1\r\nA: 1\r2\r\n\r\n", UPLINK_EINVAL, "control byte "
	    "\\x0d in a header value" },
	{ "GET / HTTP/1.1\r\nA: \x01\r\n\r\n", UPLINK_EINVAL, "control byte "
	    "\\x01" },
	{ "GET / HTTP/1.1\r\nA: \x7f\r\n\r\n", UPLINK_EINVAL, "control byte "
	    "\\x7f" },
	/* An error is reported before the blank line arrives. */
	{ "GET / HTTP/1.1\r\nbroken\r\n", UPLINK_EINVAL, "header without ':'" },
	{ "GET / HTTP/3\r\n", UPLINK_EINVAL, "unsupported version" },
};

static void
test_bad_table(void **state)
{
	const struct bad_row	*r;
	struct httpreq		 req;
	char			 why[256];
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		r = &bad_rows[i];
		why[0] = '\0';
		rc = httpreq_parse(r->head, strlen(r->head), BIG, &req, why,
		    sizeof(why));
		if (rc != r->rc)
			fail_msg("row %zu \"%s\": rc %d, want %d (%s)", i,
			    r->head, rc, r->rc, why);
		if (strstr(why, r->why) == NULL)
			fail_msg("row %zu: message \"%s\" lacks \"%s\"", i, why,
			    r->why);
	}
	/* An embedded NUL is a control byte, not the end of the input. */
	rc = httpreq_parse("GET / HTTP/1.1\r\nA: x\0y\r\n\r\n", 26, BIG, &req,
	    why, sizeof(why));
	assert_int_equal(rc, UPLINK_EINVAL);
	assert_non_null(strstr(why, "control byte \\x00"));
}

static void
test_max(void **state)
{
	const char	*head = "CONNECT h:1 HTTP/1.1\r\nA: 1\r\n\r\n";
	struct httpreq	 req;
	char		 why[256], big[4096];
	size_t		 len = strlen(head);

	(void)state;
	assert_int_equal(httpreq_parse(head, len, len, &req, why, sizeof(why)),
	    UPLINK_OK);
	assert_int_equal(httpreq_parse(head, len, len - 1, &req, why,
	    sizeof(why)), UPLINK_ETOOBIG);
	assert_non_null(strstr(why, "request head longer than 29 bytes"));
	/* Fewer bytes than the cap and no blank line: wait. */
	assert_int_equal(httpreq_parse(head, len - 1, len, &req, why,
	    sizeof(why)), UPLINK_EAGAIN);
	/* A header that never ends. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	assert_int_equal(httpreq_parse(big, 1000, 1024, &req, why,
	    sizeof(why)), UPLINK_EAGAIN);
	assert_int_equal(httpreq_parse(big, 1024, 1024, &req, why,
	    sizeof(why)), UPLINK_ETOOBIG);
	assert_int_equal(httpreq_parse(big, sizeof(big), 1024, &req, why,
	    sizeof(why)), UPLINK_ETOOBIG);
	/* A request line that never ends, and an endless run of CRLFs. */
	memcpy(big, "GET /", 5);
	assert_int_equal(httpreq_parse(big, sizeof(big), 2048, &req, why,
	    sizeof(why)), UPLINK_ETOOBIG);
	for (len = 0; len + 1 < sizeof(big); len += 2)
		memcpy(big + len, "\r\n", 2);
	assert_int_equal(httpreq_parse(big, len, 100, &req, why, sizeof(why)),
	    UPLINK_ETOOBIG);
	/* why may be NULL. */
	assert_int_equal(httpreq_parse(big, len, 100, &req, NULL, 0),
	    UPLINK_ETOOBIG);
}

/* Builds a head with n header lines. */
static char *
head_with(size_t n)
{
	size_t	 cap = 64 + n * 16, i, o;
	char	*s = malloc(cap);

	assert_non_null(s);
	o = (size_t)snprintf(s, cap, "GET / HTTP/1.1\r\n");
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, cap - o, "H%zu: %zu\r\n", i, i);
	snprintf(s + o, cap - o, "\r\n");
	return s;
}

static void
test_header_cap(void **state)
{
	const struct httpreq_header	*h;
	struct httpreq			 req;
	char				 why[256], *s;

	(void)state;
	s = head_with(HTTPREQ_MAX_HEADERS);
	assert_int_equal(httpreq_parse(s, strlen(s), BIG, &req, why,
	    sizeof(why)), UPLINK_OK);
	assert_int_equal(req.nheaders, HTTPREQ_MAX_HEADERS);
	h = httpreq_header(&req, "h99");
	assert_non_null(h);
	assert_int_equal(h->valuelen, 2);
	assert_memory_equal(h->value, "99", 2);
	assert_null(httpreq_header(&req, "h100"));
	assert_null(httpreq_header(&req, "h9 "));
	assert_null(httpreq_header(NULL, "h1"));
	free(s);

	s = head_with(HTTPREQ_MAX_HEADERS + 1);
	assert_int_equal(httpreq_parse(s, strlen(s), BIG, &req, why,
	    sizeof(why)), UPLINK_ETOOBIG);
	assert_non_null(strstr(why, "more than 100 header lines"));
	free(s);
}

struct auth_row {
	const char	*value;
	size_t		 userlen, passlen;
	int		 rc;
	const char	*user;		/* on success */
	const char	*pass;		/* on success; the message otherwise */
};

#define K59	"uk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static const struct auth_row auth_rows[] = {
	/* "hq:secret" */
	{ "Basic aHE6c2VjcmV0", 64, 64, UPLINK_OK, "hq", "secret" },
	{ "basic aHE6c2VjcmV0", 64, 64, UPLINK_OK, "hq", "secret" },
	{ "BASIC   aHE6c2VjcmV0  ", 64, 64, UPLINK_OK, "hq", "secret" },
	{ " \tBasic aHE6c2VjcmV0", 64, 64, UPLINK_OK, "hq", "secret" },
	/* "hq:" and "a:b:c" */
	{ "Basic aHE6", 64, 64, UPLINK_OK, "hq", "" },
	{ "Basic YTpiOmM=", 64, 64, UPLINK_OK, "a", "b:c" },
	/* Without padding: "a:bc" */
	{ "Basic YTpiYw", 64, 64, UPLINK_OK, "a", "bc" },
	{ "Basic YTpiYw==", 64, 64, UPLINK_OK, "a", "bc" },
	/* Exactly fitting: "hq" in 3 bytes, "secret" in 7. */
	{ "Basic aHE6c2VjcmV0", 3, 7, UPLINK_OK, "hq", "secret" },

	{ "Basic aHE6c2VjcmV0", 2, 64, UPLINK_ETOOBIG, NULL, "user name in "
	    "the Basic credentials is 2 bytes long; at most 1 fit" },
	{ "Basic aHE6c2VjcmV0", 64, 6, UPLINK_ETOOBIG, NULL, "password" },
	{ "Basic aHE6c2VjcmV0", 0, 64, UPLINK_ETOOBIG, NULL, "at most 0 fit" },
	{ "Bearer abc", 64, 64, UPLINK_EINVAL, NULL, "credentials use the "
	    "scheme \"Bearer\", not Basic" },
	{ "Basicx aHE6", 64, 64, UPLINK_EINVAL, NULL, "scheme \"Basicx\"" },
	{ "aHE6c2VjcmV0", 64, 64, UPLINK_EINVAL, NULL, "not Basic" },
	{ "", 64, 64, UPLINK_EINVAL, NULL, "not Basic" },
	{ "Basic", 64, 64, UPLINK_EINVAL, NULL, "Basic credentials are empty" },
	{ "Basic    ", 64, 64, UPLINK_EINVAL, NULL, "are empty" },
	{ "Basic a", 64, 64, UPLINK_EINVAL, NULL, "not valid base64" },
	{ "Basic aHE6c2VjcmV0=", 64, 64, UPLINK_EINVAL, NULL,
	    "not valid base64" },
	{ "Basic aHE6c2V*cmV0", 64, 64, UPLINK_EINVAL, NULL, "base64" },
	{ "Basic aHE6 c2VjcmV0", 64, 64, UPLINK_EINVAL, NULL, "base64" },
	{ "Basic aHE6c2VjcmV0_-", 64, 64, UPLINK_EINVAL, NULL, "base64" },
	/* "hqsecret": no colon; ":secret": empty user. */
	{ "Basic aHFzZWNyZXQ=", 64, 64, UPLINK_EINVAL, NULL, "no ':' between "
	    "user and password" },
	{ "Basic OnNlY3JldA==", 64, 64, UPLINK_EINVAL, NULL, "an empty user "
	    "name" },
	/* "h\0q:x", "hq:se\ncret", "h\tq:x": control bytes. */
	{ "Basic aABxOng=", 64, 64, UPLINK_EINVAL, NULL, "user name in the "
	    "Basic credentials holds control byte \\x00" },
	{ "Basic aHE6c2UKY3JldA==", 64, 64, UPLINK_EINVAL, NULL, "password in "
	    "the Basic credentials holds control byte \\x0a" },
	{ "Basic aAlxOng=", 64, 64, UPLINK_EINVAL, NULL, "control byte \\x09" },
};

static void
test_auth_table(void **state)
{
	const struct auth_row	*r;
	char			 user[128], pass[128], why[256];
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(auth_rows) / sizeof(auth_rows[0]); i++) {
		r = &auth_rows[i];
		why[0] = '\0';
		rc = httpreq_basic_auth(r->value, strlen(r->value), user,
		    r->userlen, pass, r->passlen, why, sizeof(why));
		if (rc != r->rc)
			fail_msg("row %zu \"%s\": rc %d, want %d (%s)", i,
			    r->value, rc, r->rc, why);
		if (rc != UPLINK_OK) {
			if (strstr(why, r->pass) == NULL)
				fail_msg("row %zu: message \"%s\" lacks \"%s\"",
				    i, why, r->pass);
			continue;
		}
		if (strcmp(user, r->user) != 0 || strcmp(pass, r->pass) != 0)
			fail_msg("row %zu: \"%s\" \"%s\", want \"%s\" \"%s\"",
			    i, user, pass, r->user, r->pass);
	}
}

/* A real site and API key, and oversized input. */
static void
test_auth_sizes(void **state)
{
	char	 plain[2048], enc[4096], value[4200], user[64], pass[64];
	char	 why[256];

	(void)state;
	snprintf(plain, sizeof(plain), "hq-branch_1.example:%s", K59);
	sodium_bin2base64(enc, sizeof(enc), (unsigned char *)plain,
	    strlen(plain), sodium_base64_VARIANT_ORIGINAL);
	snprintf(value, sizeof(value), "Basic %s", enc);
	assert_int_equal(httpreq_basic_auth(value, strlen(value), user,
	    sizeof(user), pass, sizeof(pass), why, sizeof(why)), UPLINK_OK);
	assert_string_equal(user, "hq-branch_1.example");
	assert_string_equal(pass, K59);
	/* The value is a slice: bytes past len are not read. */
	assert_int_equal(httpreq_basic_auth(value, 6, user, sizeof(user), pass,
	    sizeof(pass), why, sizeof(why)), UPLINK_EINVAL);

	memset(plain, 'a', 1500);
	plain[0] = ':';
	plain[1] = 'x';
	sodium_bin2base64(enc, sizeof(enc), (unsigned char *)plain, 1500,
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(value, sizeof(value), "Basic %s", enc);
	assert_int_equal(httpreq_basic_auth(value, strlen(value), user,
	    sizeof(user), pass, sizeof(pass), why, sizeof(why)),
	    UPLINK_ETOOBIG);
	assert_non_null(strstr(why, "longer than 1024 bytes"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_table),
		cmocka_unit_test(test_bad_table),
		cmocka_unit_test(test_max),
		cmocka_unit_test(test_header_cap),
		cmocka_unit_test(test_auth_table),
		cmocka_unit_test(test_auth_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
