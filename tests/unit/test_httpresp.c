/*
 * Unit tests for lib/httpresp.c: response heads (table, every prefix) and
 * bodies (table, fed whole, byte by byte and split in two everywhere).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "httpresp.h"

#define CHECK(cond, ...) do {						\
	if (!(cond))							\
		fail_msg(__VA_ARGS__);					\
} while (0)

/* A literal that may hold NUL bytes: its text and exact length. */
#define BIN(s)		.head = (s), .headlen = sizeof(s) - 1

#define X10		"0123456789"
#define X100		X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define H10		"A: b\r\n" "A: b\r\n" "A: b\r\n" "A: b\r\n" "A: b\r\n" \
			"A: b\r\n" "A: b\r\n" "A: b\r\n" "A: b\r\n" "A: b\r\n"
#define H100		H10 H10 H10 H10 H10 H10 H10 H10 H10 H10

struct head_row {
	const char	*name;
	const char	*head;		/* the response head */
	size_t		 headlen;	/* 0: strlen(head) */
	const char	*tail;		/* bytes after the head, or NULL */
	size_t		 max;		/* 0: HTTPRESP_HEAD_MAX */
	int		 rc;
	/* On UPLINK_OK every field is compared; NULL strings mean "". */
	int		 status;
	int		 minor;
	int64_t		 cl;
	bool		 chunked;
	bool		 close;
	const char	*reason;
	const char	*server;
	const char	*squid;
	const char	*location;
	const char	*why;		/* on error: a substring of resp.why */
};

static const struct head_row head_rows[] = {
	/* Proxies answering CONNECT. */
	{ "squid 200", "HTTP/1.1 200 Connection established\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = -1,
	  .reason = "Connection established" },
	{ "squid 200 with tunnel bytes",
	  "HTTP/1.1 200 Connection established\r\n\r\n",
	  .tail = "\x16\x03\x01\x02\x00\x01", .rc = UPLINK_OK, .status = 200,
	  .minor = 1, .cl = -1, .reason = "Connection established" },
	{ "squid 403",
	  "HTTP/1.1 403 Forbidden\r\n"
	  "Server: squid/5.7\r\n"
	  "Mime-Version: 1.0\r\n"
	  "Date: Tue, 04 Jun 2024 10:00:00 GMT\r\n"
	  "Content-Type: text/html;charset=utf-8\r\n"
	  "Content-Length: 3500\r\n"
	  "X-Squid-Error: ERR_ACCESS_DENIED 0\r\n"
	  "Vary: Accept-Language\r\n"
	  "Content-Language: en\r\n"
	  "X-Cache: MISS from proxy\r\n"
	  "X-Cache-Lookup: NONE from proxy:3128\r\n"
	  "Via: 1.1 proxy (squid/5.7)\r\n"
	  "Connection: keep-alive\r\n"
	  "\r\n", .tail = "<html><body>Access denied</body></html>",
	  .rc = UPLINK_OK, .status = 403, .minor = 1, .cl = 3500,
	  .reason = "Forbidden", .server = "squid/5.7",
	  .squid = "ERR_ACCESS_DENIED 0" },
	{ "squid 407",
	  "HTTP/1.1 407 Proxy Authentication Required\r\n"
	  "Server: squid/5.7\r\n"
	  "Mime-Version: 1.0\r\n"
	  "Content-Type: text/html;charset=utf-8\r\n"
	  "Content-Length: 3520\r\n"
	  "X-Squid-Error: ERR_CACHE_ACCESS_DENIED 0\r\n"
	  "Proxy-Authenticate: Basic realm=\"Squid proxy-caching web "
	  "server\"\r\n"
	  "X-Cache: MISS from proxy\r\n"
	  "Via: 1.1 proxy (squid/5.7)\r\n"
	  "Connection: keep-alive\r\n"
	  "\r\n", .rc = UPLINK_OK, .status = 407, .minor = 1, .cl = 3520,
	  .reason = "Proxy Authentication Required", .server = "squid/5.7",
	  .squid = "ERR_CACHE_ACCESS_DENIED 0" },
	{ "squid 503 connect failed",
	  "HTTP/1.1 503 Service Unavailable\r\n"
	  "Server: squid/4.13\r\n"
	  "Mime-Version: 1.0\r\n"
	  "Content-Type: text/html;charset=utf-8\r\n"
	  "Content-Length: 3800\r\n"
	  "X-Squid-Error: ERR_CONNECT_FAIL 111\r\n"
	  "Connection: close\r\n"
	  "\r\n", .rc = UPLINK_OK, .status = 503, .minor = 1, .cl = 3800,
	  .close = true, .reason = "Service Unavailable",
	  .server = "squid/4.13", .squid = "ERR_CONNECT_FAIL 111" },
	{ "tinyproxy HTTP/1.0 200",
	  "HTTP/1.0 200 Connection established\r\n"
	  "Proxy-agent: tinyproxy/1.11.1\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 0, .cl = -1, .close = true,
	  .reason = "Connection established" },
	/* GET responses. */
	{ "HTTP/1.0 keep-alive",
	  "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
	  "Content-Length: 3\r\n\r\n", .tail = "abc",
	  .rc = UPLINK_OK, .status = 200, .minor = 0, .cl = 3,
	  .reason = "OK" },
	{ "LF-only line ends",
	  "HTTP/1.1 200 OK\nServer: nginx\nContent-Length: 2\n\n",
	  .tail = "hi", .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = 2,
	  .reason = "OK", .server = "nginx" },
	{ "mixed line ends", "HTTP/1.1 200 OK\r\nServer: a\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = -1, .reason = "OK",
	  .server = "a" },
	{ "no reason, no SP", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = 0 },
	{ "empty reason after SP", "HTTP/1.1 204 \r\n\r\n",
	  .rc = UPLINK_OK, .status = 204, .minor = 1, .cl = -1 },
	{ "reason with HTAB and obs-text",
	  "HTTP/1.1 200 D\xc3\xa9j\xc3\xa0\tvu \"ok\"\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = -1,
	  .reason = "D\xc3\xa9j\xc3\xa0\tvu \"ok\"" },
	{ "TE chunked and CL: chunked wins",
	  "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", .tail = "0\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = -1,
	  .chunked = true, .close = true, .reason = "OK" },
	{ "TE chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = -1,
	  .chunked = true, .reason = "OK" },
	{ "TE gzip, chunked",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = -1,
	  .chunked = true, .reason = "OK" },
	{ "TE over two lines",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
	  "transfer-encoding: CHUNKED\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = -1,
	  .chunked = true, .reason = "OK" },
	{ "TE chunked in HTTP/1.0 closes",
	  "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 0, .cl = -1,
	  .chunked = true, .close = true, .reason = "OK" },
	{ "identical Content-Length twice",
	  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = 5, .reason = "OK" },
	{ "Content-Length list 5, 5",
	  "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = 5, .reason = "OK" },
	{ "Content-Length leading zeros",
	  "HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = 7, .reason = "OK" },
	{ "Content-Length INT64_MAX",
	  "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = INT64_MAX,
	  .reason = "OK" },
	{ "Content-Length without OWS",
	  "HTTP/1.1 200 OK\r\ncontent-length:42\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = 42,
	  .reason = "OK" },
	{ "Content-Length list with odd spacing",
	  "HTTP/1.1 200 OK\r\nContent-Length: 5 ,5\t, 5\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = 5, .reason = "OK" },
	{ "TE with parameters",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: foo;a=b , chunked ;x\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = -1,
	  .chunked = true, .reason = "OK" },
	{ "digits and symbols in names",
	  "HTTP/1.1 200 OK\r\nX-B64~it's_#1!: x\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = -1,
	  .reason = "OK" },
	{ "Connection list with close",
	  "HTTP/1.1 200 OK\r\nConnection: Upgrade, Close\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = -1, .close = true,
	  .reason = "OK" },
	{ "names are case-insensitive",
	  "HTTP/1.1 302 Found\r\nSERVER: Apache\r\nlOcAtIoN: "
	  "http://crl.example.net/ca.crl\r\nx-squid-error: ERR_X 1\r\n\r\n",
	  .rc = UPLINK_OK, .status = 302, .minor = 1, .cl = -1,
	  .reason = "Found", .server = "Apache",
	  .squid = "ERR_X 1", .location = "http://crl.example.net/ca.crl" },
	{ "OWS trimmed around values",
	  "HTTP/1.1 200 OK\r\nServer: \t squid/5.7 \t \r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = -1,
	  .reason = "OK", .server = "squid/5.7" },
	{ "first Server kept",
	  "HTTP/1.1 200 OK\r\nServer: one\r\nServer: two\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = -1,
	  .reason = "OK", .server = "one" },
	{ "empty value", "HTTP/1.1 200 OK\r\nX-Empty:\r\nServer:\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = -1,
	  .reason = "OK" },
	{ "long Server truncated",
	  "HTTP/1.1 200 OK\r\nServer: " X100 X100 "\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = -1, .reason = "OK",
	  .server = X100 X10 X10 "0123456" },
	{ "long reason truncated", "HTTP/1.1 200 " X100 X100 "\r\n\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = -1,
	  .reason = X100 X10 X10 "0123456" },
	{ "100 Continue", "HTTP/1.1 100 Continue\r\n\r\n",
	  .rc = UPLINK_OK, .status = 100, .minor = 1, .cl = -1,
	  .reason = "Continue" },
	{ "status 999", "HTTP/1.1 999 Odd\r\n\r\n",
	  .rc = UPLINK_OK, .status = 999, .minor = 1, .cl = -1,
	  .reason = "Odd" },
	{ "exactly 100 header lines", "HTTP/1.1 200 OK\r\n" H100 "\r\n",
	  .rc = UPLINK_OK, .status = 200, .minor = 1, .cl = -1,
	  .reason = "OK" },
	{ "head exactly max bytes", "HTTP/1.1 200 OK\r\n\r\n", .max = 19,
	  .tail = "body", .rc = UPLINK_OK, .status = 200, .minor = 1,
	  .cl = -1, .reason = "OK" },

	/* Not HTTP/1.x at all. */
	{ "SSH banner", "SSH-2.0-OpenSSH_9.2\r\n", .rc = UPLINK_EINVAL,
	  .why = "status line is not HTTP/1.x: \"SSH-2.0-OpenSSH_9.2\"" },
	{ "TLS alert", BIN("\x15\x03\x01\x00\x02\x02\x28"),
	  .rc = UPLINK_EINVAL, .why = "not HTTP/1.x: \"\\x15\\x03" },
	{ "garbage line", "hello world\r\n\r\n", .rc = UPLINK_EINVAL,
	  .why = "not HTTP/1.x: \"hello world\"" },
	{ "long garbage quoted with ...", X100 "\r\n", .rc = UPLINK_EINVAL,
	  .why = X10 X10 X10 X10 X10 X10 "...\"" },
	{ "empty first line", "\r\nHTTP/1.1 200 OK\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "not HTTP/1.x: \"\"" },
	{ "lower-case http", "http/1.1 200 OK\r\n\r\n", .rc = UPLINK_EINVAL,
	  .why = "not HTTP/1.x" },
	{ "HTTP/2", "HTTP/2 200\r\n\r\n", .rc = UPLINK_EINVAL,
	  .why = "unsupported version \"HTTP/2\"" },
	{ "HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", .rc = UPLINK_EINVAL,
	  .why = "unsupported version \"HTTP/1.2\"" },
	{ "HTTP/1.10", "HTTP/1.10 200 OK\r\n\r\n", .rc = UPLINK_EINVAL,
	  .why = "unsupported version \"HTTP/1.10\"" },
	{ "HTTP/1.1 alone", "HTTP/1.1\r\n\r\n", .rc = UPLINK_EINVAL,
	  .why = "bad status code in status line \"HTTP/1.1\"" },
	/* Bad status codes and reasons. */
	{ "2-digit status", "HTTP/1.1 20 OK\r\n\r\n", .rc = UPLINK_EINVAL,
	  .why = "bad status code" },
	{ "4-digit status", "HTTP/1.1 2000 OK\r\n\r\n", .rc = UPLINK_EINVAL,
	  .why = "expected 3 digits from 100 to 999" },
	{ "status below 100", "HTTP/1.1 099 Low\r\n\r\n", .rc = UPLINK_EINVAL,
	  .why = "bad status code" },
	{ "letter in status", "HTTP/1.1 2x0 OK\r\n\r\n", .rc = UPLINK_EINVAL,
	  .why = "bad status code" },
	{ "two spaces before status", "HTTP/1.1  200 OK\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "bad status code" },
	{ "HTAB after status", "HTTP/1.1 200\tOK\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "bad status code" },
	{ "control byte in reason", "HTTP/1.1 200 O\x01K\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "control byte \\x01 in the reason" },
	{ "bare CR in reason", "HTTP/1.1 200 O\rK\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "control byte \\x0d" },
	/* Bad Content-Length. */
	{ "CL not a number", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
	  .rc = UPLINK_EINVAL,
	  .why = "line 2: bad Content-Length \"abc\": not a decimal" },
	{ "CL negative", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "bad Content-Length \"-1\"" },
	{ "CL plus sign", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "bad Content-Length \"+5\"" },
	{ "CL empty", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "bad Content-Length \"\"" },
	{ "CL inner space", "HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "bad Content-Length \"1 2\"" },
	{ "CL trailing comma", "HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "bad Content-Length \"5,\"" },
	{ "CL INT64_MAX + 1",
	  "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "larger than 2^63-1" },
	{ "CL huge",
	  "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "larger than 2^63-1" },
	{ "CL conflicting lines",
	  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	  .rc = UPLINK_EINVAL,
	  .why = "line 3: conflicting Content-Length values 5 and 6" },
	{ "CL conflicting list",
	  "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "conflicting Content-Length" },
	/* Bad Transfer-Encoding. */
	{ "TE chunked, gzip",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "has a coding after chunked" },
	{ "TE chunked twice",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "line 3: Transfer-Encoding" },
	{ "TE gzip only",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	  .rc = UPLINK_EINVAL,
	  .why = "Transfer-Encoding ends with \"gzip\", not chunked" },
	{ "TE empty", "HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "line 2: empty Transfer-Encoding" },
	/* Bad header lines. */
	{ "obs-fold",
	  "HTTP/1.1 200 OK\r\nServer: squid\r\n  continued\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "line 3: obsolete line folding" },
	{ "white space before first header",
	  "HTTP/1.1 200 OK\r\n\tServer: x\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "line 2: obsolete line folding" },
	{ "NUL in value", BIN("HTTP/1.1 200 OK\r\nServer: a\0b\r\n\r\n"),
	  .rc = UPLINK_EINVAL,
	  .why = "line 2: control byte \\x00 in a header value "
	  "(\"Server: a\\x00b\")" },
	{ "DEL in value", "HTTP/1.1 200 OK\r\nServer: a\x7f\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "control byte \\x7f" },
	{ "bare CR in value", "HTTP/1.1 200 OK\r\nServer: a\rb\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "control byte \\x0d" },
	{ "CR CR LF", "HTTP/1.1 200 OK\r\nServer: a\r\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "control byte \\x0d" },
	{ "missing colon", "HTTP/1.1 200 OK\r\nServer: x\r\nFoo bar\r\n\r\n",
	  .rc = UPLINK_EINVAL,
	  .why = "line 3: header without ':' (\"Foo bar\")" },
	{ "space before colon", "HTTP/1.1 200 OK\r\nServer : x\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "line 2: white space before ':'" },
	{ "space inside name", "HTTP/1.1 200 OK\r\nX Y: x\r\n\r\n",
	  .rc = UPLINK_EINVAL,
	  .why = "byte \\x20 not allowed in a header name" },
	{ "empty name", "HTTP/1.1 200 OK\r\n: x\r\n\r\n", .rc = UPLINK_EINVAL,
	  .why = "line 2: empty header name" },
	{ "bad name char", "HTTP/1.1 200 OK\r\nX(y): x\r\n\r\n",
	  .rc = UPLINK_EINVAL, .why = "byte \\x28 not allowed" },
	/* Caps. */
	{ "101 header lines", "HTTP/1.1 200 OK\r\n" H100 "A: b\r\n\r\n",
	  .rc = UPLINK_ETOOBIG, .why = "more than 100 header lines" },
	{ "head longer than max", "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n",
	  .max = 29, .rc = UPLINK_ETOOBIG,
	  .why = "response head longer than 29 bytes" },
	{ "head one byte over max", "HTTP/1.1 200 OK\r\n\r\n", .max = 18,
	  .rc = UPLINK_ETOOBIG, .why = "longer than 18 bytes" },
	{ "no blank line yet", "HTTP/1.1 200 OK\r\nServer: x\r\n",
	  .rc = UPLINK_EAGAIN },
	{ "status line incomplete", "HTTP/1.1 200 O", .rc = UPLINK_EAGAIN },
	{ "nothing yet", "", .rc = UPLINK_EAGAIN },
};

static size_t
head_len_of(const struct head_row *row)
{
	return row->headlen != 0 ? row->headlen : strlen(row->head);
}

/* Returns head + tail in a fresh allocation (no NUL added). */
static char *
head_input(const struct head_row *row, size_t *len)
{
	size_t	 hl = head_len_of(row);
	size_t	 tl = row->tail != NULL ? strlen(row->tail) : 0;
	char	*p;

	p = malloc(hl + tl + 1);
	assert_non_null(p);
	memcpy(p, row->head, hl);
	if (tl > 0)
		memcpy(p + hl, row->tail, tl);
	*len = hl + tl;
	return p;
}

static const char *
nz(const char *s)
{
	return s != NULL ? s : "";
}

static void
check_str(const char *row, const char *field, const char *got,
    const char *want)
{
	CHECK(strcmp(got, nz(want)) == 0, "%s: %s is \"%s\", want \"%s\"",
	    row, field, got, nz(want));
}

static void
check_resp(const struct head_row *row, const struct http_resp *r)
{
	CHECK(r->status == row->status, "%s: status %d, want %d", row->name,
	    r->status, row->status);
	CHECK(r->version_minor == row->minor, "%s: HTTP/1.%d, want 1.%d",
	    row->name, r->version_minor, row->minor);
	CHECK(r->content_length == row->cl, "%s: content_length %lld, want "
	    "%lld", row->name, (long long)r->content_length,
	    (long long)row->cl);
	CHECK(r->chunked == row->chunked, "%s: chunked %d", row->name,
	    r->chunked);
	CHECK(r->conn_close == row->close, "%s: conn_close %d", row->name,
	    r->conn_close);
	CHECK(r->head_len == head_len_of(row), "%s: head_len %zu, want %zu",
	    row->name, r->head_len, head_len_of(row));
	check_str(row->name, "reason", r->reason, row->reason);
	check_str(row->name, "server", r->server, row->server);
	check_str(row->name, "squid_error", r->squid_error, row->squid);
	check_str(row->name, "location", r->location, row->location);
}

static size_t
row_max(const struct head_row *row)
{
	return row->max != 0 ? row->max : HTTPRESP_HEAD_MAX;
}

static void
test_head_table(void **state)
{
	const struct head_row	*row;
	struct http_resp	 r;
	size_t			 i, len;
	char			*in;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(head_rows) / sizeof(head_rows[0]); i++) {
		row = &head_rows[i];
		in = head_input(row, &len);
		rc = httpresp_parse_head(in, len, row_max(row), &r);
		free(in);
		CHECK(rc == row->rc, "%s: rc %d, want %d (why: %s)", row->name,
		    rc, row->rc, r.why);
		if (rc == UPLINK_OK)
			check_resp(row, &r);
		CHECK(memchr(r.why, '\0', sizeof(r.why)) != NULL,
		    "%s: why not terminated", row->name);
		if (row->why != NULL)
			CHECK(strstr(r.why, row->why) != NULL, "%s: why \"%s\" "
			    "lacks \"%s\"", row->name, r.why, row->why);
	}
}

/*
 * Headers split across reads: the caller re-parses everything received so
 * far. Every proper prefix of a valid head must ask for more, every prefix
 * from the blank line on must give the same result. For invalid heads each
 * prefix asks for more until the error shows, and then keeps showing it.
 */
static void
test_head_every_prefix(void **state)
{
	const struct head_row	*row;
	struct http_resp	 r;
	size_t			 i, n, len, hl;
	char			*in, *p;
	int			 rc;
	bool			 failed;

	(void)state;
	for (i = 0; i < sizeof(head_rows) / sizeof(head_rows[0]); i++) {
		row = &head_rows[i];
		in = head_input(row, &len);
		hl = head_len_of(row);
		failed = false;
		for (n = 0; n <= len; n++) {
			/* Exact-size copy so ASan sees any read past n. */
			p = malloc(n + 1);
			assert_non_null(p);
			memcpy(p, in, n);
			rc = httpresp_parse_head(p, n, row_max(row), &r);
			free(p);
			if (row->rc == UPLINK_OK && n < hl)
				CHECK(rc == UPLINK_EAGAIN, "%s: prefix %zu: rc "
				    "%d, want EAGAIN (why: %s)", row->name, n,
				    rc, r.why);
			else if (row->rc == UPLINK_OK) {
				CHECK(rc == UPLINK_OK, "%s: prefix %zu: rc %d "
				    "(why: %s)", row->name, n, rc, r.why);
				check_resp(row, &r);
			} else {
				CHECK(rc == UPLINK_EAGAIN || rc == row->rc,
				    "%s: prefix %zu: rc %d, want EAGAIN or %d "
				    "(why: %s)", row->name, n, rc, row->rc,
				    r.why);
				CHECK(!failed || rc == row->rc, "%s: prefix "
				    "%zu: error went away", row->name, n);
				failed = rc != UPLINK_EAGAIN;
			}
		}
		free(in);
	}
}

/* A squid error page: head first, then its body from the same bytes. */
static void
test_head_then_body(void **state)
{
	static const char in[] = "HTTP/1.1 403 Forbidden\r\n"
	    "Server: squid/5.7\r\nContent-Length: 6\r\n\r\n<html>HTTP/1.1";
	struct http_resp	 r;
	struct http_body	 hb;
	struct buf		 out;
	size_t			 used;

	(void)state;
	assert_int_equal(httpresp_parse_head(in, sizeof(in) - 1,
	    HTTPRESP_HEAD_MAX, &r), UPLINK_OK);
	buf_init(&out, 1024);
	httpbody_init(&hb, &r, 1024);
	assert_int_equal(httpbody_feed(&hb, in + r.head_len,
	    sizeof(in) - 1 - r.head_len, &out, &used), UPLINK_OK);
	assert_int_equal(used, 6);
	assert_string_equal(buf_cstr(&out), "<html>");
	assert_int_equal(httpbody_eof(&hb), UPLINK_OK);
	buf_free(&out);
}

#define CHUNKED		.chunked = true, .cl = -1
#define CLOSE		.cl = -1
#define A100		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

struct body_row {
	const char	*name;
	bool		 chunked;
	int64_t		 cl;		/* -1: none */
	size_t		 max;		/* 0: 65536 */
	const char	*in;		/* the body as sent */
	size_t		 inlen;		/* 0: strlen(in) */
	const char	*tail;		/* bytes after the body, or NULL */
	int		 rc;		/* after feeding in + tail */
	const char	*out;		/* decoded, on OK or EAGAIN */
	size_t		 outlen;	/* 0: strlen(out) */
	int		 eof_rc;	/* httpbody_eof afterwards */
	const char	*why;		/* substring of why (feed or eof) */
};

static const struct body_row body_rows[] = {
	/* Content-Length. */
	{ "CL 5", .cl = 5, .in = "hello", .rc = UPLINK_OK, .out = "hello" },
	{ "CL 5 then pipelined response", .cl = 5, .in = "hello",
	  .tail = "HTTP/1.1 200 OK\r\n", .rc = UPLINK_OK, .out = "hello" },
	{ "CL 0", .cl = 0, .in = "", .rc = UPLINK_OK, .out = "" },
	{ "CL 0 then bytes", .cl = 0, .in = "", .tail = "xyz",
	  .rc = UPLINK_OK, .out = "" },
	{ "CL with NUL bytes", .cl = 3, .in = "a\0b", .inlen = 3,
	  .rc = UPLINK_OK, .out = "a\0b", .outlen = 3 },
	{ "CL truncated", .cl = 5, .in = "hel", .rc = UPLINK_EAGAIN,
	  .out = "hel", .eof_rc = UPLINK_EINVAL,
	  .why = "connection closed after 3 of 5 body bytes" },
	{ "CL nothing received", .cl = 5, .in = "", .rc = UPLINK_EAGAIN,
	  .out = "", .eof_rc = UPLINK_EINVAL, .why = "after 0 of 5" },
	{ "CL above max", .cl = 10, .max = 5, .in = "0123456789",
	  .rc = UPLINK_ETOOBIG, .eof_rc = UPLINK_ETOOBIG,
	  .why = "Content-Length 10 exceeds the 5-byte limit" },
	{ "CL exactly max", .cl = 5, .max = 5, .in = "hello",
	  .rc = UPLINK_OK, .out = "hello" },
	/* Chunked. */
	{ "chunked one chunk", CHUNKED, .in = "5\r\nhello\r\n0\r\n\r\n",
	  .rc = UPLINK_OK, .out = "hello" },
	{ "chunked two chunks", CHUNKED,
	  .in = "3\r\nfoo\r\n3\r\nbar\r\n0\r\n\r\n", .rc = UPLINK_OK,
	  .out = "foobar" },
	{ "chunked hex sizes", CHUNKED,
	  .in = "A\r\n0123456789\r\nb\r\n0123456789a\r\n0\r\n\r\n",
	  .rc = UPLINK_OK, .out = "01234567890123456789a" },
	{ "chunked leading zeros", CHUNKED, .in = "005\r\nhello\r\n000\r\n\r\n",
	  .rc = UPLINK_OK, .out = "hello" },
	{ "chunked empty body", CHUNKED, .in = "0\r\n\r\n", .rc = UPLINK_OK,
	  .out = "" },
	{ "chunked extensions", CHUNKED,
	  .in = "5;name=value\r\nhello\r\n0;last\r\n\r\n", .rc = UPLINK_OK,
	  .out = "hello" },
	{ "chunked ext with BWS and quotes", CHUNKED,
	  .in = "5 ; a=\"x;y\" ;b\r\nhello\r\n0\t;c\r\n\r\n", .rc = UPLINK_OK,
	  .out = "hello" },
	{ "chunked trailers", CHUNKED,
	  .in = "5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n",
	  .rc = UPLINK_OK, .out = "hello" },
	{ "chunked LF only", CHUNKED, .in = "5\nhello\n0\nX: y\n\n",
	  .rc = UPLINK_OK, .out = "hello" },
	{ "chunked then pipelined response", CHUNKED,
	  .in = "5\r\nhello\r\n0\r\n\r\n", .tail = "HTTP/1.1 200 OK\r\n\r\n",
	  .rc = UPLINK_OK, .out = "hello" },
	{ "chunked exactly max", CHUNKED, .max = 10,
	  .in = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", .rc = UPLINK_OK,
	  .out = "helloworld" },
	{ "chunked over max", CHUNKED, .max = 8,
	  .in = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", .rc = UPLINK_ETOOBIG,
	  .eof_rc = UPLINK_ETOOBIG,
	  .why = "longer than the 8-byte limit (a chunk of 5 bytes after 5)" },
	{ "chunk size 2^62 over max", CHUNKED, .in = "4000000000000000\r\n",
	  .rc = UPLINK_ETOOBIG, .eof_rc = UPLINK_ETOOBIG,
	  .why = "65536-byte limit" },
	{ "chunk size over 2^62", CHUNKED, .in = "4000000000000001\r\n",
	  .rc = UPLINK_EINVAL, .eof_rc = UPLINK_EINVAL,
	  .why = "byte 15 of the chunked body: chunk size larger than 2^62" },
	{ "chunk size over 2^64", CHUNKED, .in = "100000000000000000\r\n",
	  .rc = UPLINK_EINVAL, .eof_rc = UPLINK_EINVAL,
	  .why = "larger than 2^62" },
	{ "bad hex", CHUNKED, .in = "zz\r\n", .rc = UPLINK_EINVAL,
	  .eof_rc = UPLINK_EINVAL,
	  .why = "byte 0 of the chunked body: expected a hex chunk size, "
	  "got \\x7a" },
	{ "0x prefix", CHUNKED, .in = "0x5\r\nhello\r\n", .rc = UPLINK_EINVAL,
	  .eof_rc = UPLINK_EINVAL, .why = "byte 1 of the chunked body: "
	  "unexpected \\x78 in a chunk-size line" },
	{ "negative size", CHUNKED, .in = "-5\r\n", .rc = UPLINK_EINVAL,
	  .eof_rc = UPLINK_EINVAL, .why = "expected a hex chunk size" },
	{ "space before size", CHUNKED, .in = " 5\r\n", .rc = UPLINK_EINVAL,
	  .eof_rc = UPLINK_EINVAL, .why = "expected a hex chunk size" },
	{ "empty size line", CHUNKED, .in = "\r\n", .rc = UPLINK_EINVAL,
	  .eof_rc = UPLINK_EINVAL, .why = "expected a hex chunk size" },
	{ "no CRLF after data", CHUNKED, .in = "3\r\nfoobar\r\n0\r\n\r\n",
	  .rc = UPLINK_EINVAL, .eof_rc = UPLINK_EINVAL,
	  .why = "byte 6 of the chunked body: chunk data not followed by "
	  "CRLF" },
	{ "CR without LF after data", CHUNKED, .in = "3\r\nfoo\rX",
	  .rc = UPLINK_EINVAL, .eof_rc = UPLINK_EINVAL,
	  .why = "CR not followed by LF after chunk data" },
	{ "CR without LF after size", CHUNKED, .in = "5\rhello",
	  .rc = UPLINK_EINVAL, .eof_rc = UPLINK_EINVAL,
	  .why = "CR not followed by LF after a chunk size" },
	{ "CR without LF ending trailers", CHUNKED, .in = "0\r\n\rX",
	  .rc = UPLINK_EINVAL, .eof_rc = UPLINK_EINVAL,
	  .why = "CR not followed by LF ending the trailers" },
	{ "control byte in extension", CHUNKED, .in = "5;a\x01\r\nhello",
	  .rc = UPLINK_EINVAL, .eof_rc = UPLINK_EINVAL,
	  .why = "unexpected \\x01" },
	{ "chunk-size line too long", CHUNKED,
	  .in = "5;" A100 A100 A100 A100 A100 A100 A100 A100 A100 A100 A100
	  "\r\n", .rc = UPLINK_EINVAL, .eof_rc = UPLINK_EINVAL,
	  .why = "chunk-size line longer than 1024 bytes" },
	{ "chunked cut in data", CHUNKED, .in = "5\r\nhel",
	  .rc = UPLINK_EAGAIN, .out = "hel", .eof_rc = UPLINK_EINVAL,
	  .why = "connection closed inside chunk data of the chunked body, "
	  "after 3 body bytes" },
	{ "chunked cut in size line", CHUNKED, .in = "5\r\nhello\r\n1",
	  .rc = UPLINK_EAGAIN, .out = "hello", .eof_rc = UPLINK_EINVAL,
	  .why = "in a chunk-size line" },
	{ "chunked cut in trailers", CHUNKED, .in = "0\r\nX: y\r\n",
	  .rc = UPLINK_EAGAIN, .out = "", .eof_rc = UPLINK_EINVAL,
	  .why = "in the trailers" },
	/* Delimited by the connection's close. */
	{ "close-delimited", CLOSE, .in = "all of\r\nit", .rc = UPLINK_EAGAIN,
	  .out = "all of\r\nit" },
	{ "close-delimited empty", CLOSE, .in = "", .rc = UPLINK_EAGAIN,
	  .out = "" },
	{ "close-delimited exactly max", CLOSE, .max = 5, .in = "hello",
	  .rc = UPLINK_EAGAIN, .out = "hello" },
	{ "close-delimited over max", CLOSE, .max = 4, .in = "hello",
	  .rc = UPLINK_ETOOBIG, .eof_rc = UPLINK_ETOOBIG,
	  .why = "body longer than the 4-byte limit" },
};

struct body_result {
	int	 rc;
	size_t	 used;		/* input bytes consumed in all */
	int	 eof_rc;
	char	 why[256];
};

/*
 * Feeds row's input in the pieces [cuts[i], cuts[i + 1]) and records what
 * happened. A piece is a fresh exact-size copy, so ASan catches reads past
 * it. While EAGAIN is returned every byte must be consumed.
 */
static void
body_run(const struct body_row *row, const char *in, const size_t *cuts,
    size_t ncuts, struct buf *out, struct body_result *res)
{
	struct http_resp	 r;
	struct http_body	 hb;
	size_t			 i, n, used;
	char			*p;

	memset(&r, 0, sizeof(r));
	r.chunked = row->chunked;
	r.content_length = row->cl;
	httpbody_init(&hb, &r, row->max != 0 ? row->max : 65536);
	res->rc = UPLINK_EAGAIN;
	res->used = 0;
	for (i = 0; i + 1 < ncuts && res->rc == UPLINK_EAGAIN; i++) {
		n = cuts[i + 1] - cuts[i];
		p = malloc(n + 1);
		assert_non_null(p);
		memcpy(p, in + cuts[i], n);
		used = n + 1;
		res->rc = httpbody_feed(&hb, p, n, out, &used);
		free(p);
		CHECK(used <= n, "%s: consumed %zu of %zu", row->name, used, n);
		CHECK(res->rc != UPLINK_EAGAIN || used == n, "%s: EAGAIN but "
		    "consumed %zu of %zu", row->name, used, n);
		res->used += used;
	}
	if (res->rc != UPLINK_EAGAIN) {
		/* Later calls repeat the outcome and consume nothing. */
		CHECK(httpbody_feed(&hb, "x", 1, out, &used) == res->rc &&
		    used == 0, "%s: second call after rc %d", row->name,
		    res->rc);
	}
	memcpy(res->why, hb.why, sizeof(res->why));
	res->eof_rc = httpbody_eof(&hb);
	if (res->rc == UPLINK_OK || res->rc == UPLINK_EAGAIN)
		memcpy(res->why, hb.why, sizeof(res->why));
}

static void
body_check(const struct body_row *row, const char *how, const char *in,
    const size_t *cuts, size_t ncuts)
{
	struct body_result	 res;
	struct buf		 out;
	size_t			 inlen, outlen;

	inlen = row->inlen != 0 ? row->inlen : strlen(row->in);
	buf_init(&out, 1 << 20);
	body_run(row, in, cuts, ncuts, &out, &res);
	CHECK(res.rc == row->rc, "%s (%s): rc %d, want %d (why: %s)",
	    row->name, how, res.rc, row->rc, res.why);
	CHECK(res.eof_rc == row->eof_rc, "%s (%s): eof rc %d, want %d (why: "
	    "%s)", row->name, how, res.eof_rc, row->eof_rc, res.why);
	if (res.rc == UPLINK_OK)
		CHECK(res.used == inlen, "%s (%s): consumed %zu, want %zu",
		    row->name, how, res.used, inlen);
	if (res.rc == UPLINK_OK || res.rc == UPLINK_EAGAIN) {
		outlen = row->outlen != 0 ? row->outlen : strlen(row->out);
		CHECK(out.len == outlen && memcmp(buf_cstr(&out), row->out,
		    outlen) == 0, "%s (%s): decoded \"%s\" (%zu bytes), want "
		    "\"%s\"", row->name, how, buf_cstr(&out), out.len,
		    row->out);
	}
	if (row->why != NULL)
		CHECK(strstr(res.why, row->why) != NULL, "%s (%s): why \"%s\" "
		    "lacks \"%s\"", row->name, how, res.why, row->why);
	buf_free(&out);
}

static char *
body_input(const struct body_row *row, size_t *len)
{
	size_t	 il = row->inlen != 0 ? row->inlen : strlen(row->in);
	size_t	 tl = row->tail != NULL ? strlen(row->tail) : 0;
	char	*p;

	p = malloc(il + tl + 1);
	assert_non_null(p);
	memcpy(p, row->in, il);
	if (tl > 0)
		memcpy(p + il, row->tail, tl);
	*len = il + tl;
	return p;
}

static void
test_body_whole(void **state)
{
	size_t	 i, len, cuts[2];
	char	*in;

	(void)state;
	for (i = 0; i < sizeof(body_rows) / sizeof(body_rows[0]); i++) {
		in = body_input(&body_rows[i], &len);
		cuts[0] = 0;
		cuts[1] = len;
		body_check(&body_rows[i], "whole", in, cuts, 2);
		free(in);
	}
}

/* An empty feed first (len 0 must be harmless), then one byte at a time. */
static void
test_body_bytewise(void **state)
{
	size_t	 i, j, len, *cuts;
	char	*in;

	(void)state;
	for (i = 0; i < sizeof(body_rows) / sizeof(body_rows[0]); i++) {
		in = body_input(&body_rows[i], &len);
		cuts = calloc(len + 2, sizeof(*cuts));
		assert_non_null(cuts);
		for (j = 0; j <= len; j++)
			cuts[j + 1] = j;
		body_check(&body_rows[i], "byte by byte", in, cuts, len + 2);
		free(cuts);
		free(in);
	}
}

static void
test_body_split(void **state)
{
	size_t	 i, k, len, cuts[3];
	char	*in;

	(void)state;
	for (i = 0; i < sizeof(body_rows) / sizeof(body_rows[0]); i++) {
		in = body_input(&body_rows[i], &len);
		for (k = 0; k <= len; k++) {
			cuts[0] = 0;
			cuts[1] = k;
			cuts[2] = len;
			body_check(&body_rows[i], "split in two", in, cuts, 3);
		}
		free(in);
	}
}

/* The output buffer's own cap is honoured too, and reported. */
static void
test_body_out_cap(void **state)
{
	struct http_resp	 r;
	struct http_body	 hb;
	struct buf		 out;
	size_t			 used;
	int64_t			 cl;

	(void)state;
	for (cl = -1; cl <= 5; cl += 6) {
		memset(&r, 0, sizeof(r));
		r.content_length = cl;
		buf_init(&out, 3);
		httpbody_init(&hb, &r, 100);
		assert_int_equal(httpbody_feed(&hb, "hello", 5, &out, &used),
		    UPLINK_ETOOBIG);
		assert_non_null(strstr(hb.why, "output buffer's 3-byte limit"));
		assert_int_equal(httpbody_eof(&hb), UPLINK_ETOOBIG);
		buf_free(&out);
	}
}

/* Trailers are skipped, but not without end. */
static void
test_body_trailer_cap(void **state)
{
	static const char	 line[] = "X-Padding: 0123456789abcdef\r\n";
	struct http_resp	 r;
	struct http_body	 hb;
	struct buf		 out;
	size_t			 used, sent = 0;
	int			 rc;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.chunked = true;
	r.content_length = -1;
	buf_init(&out, 100);
	httpbody_init(&hb, &r, 100);
	rc = httpbody_feed(&hb, "0\r\n", 3, &out, &used);
	while (rc == UPLINK_EAGAIN && sent < 2 * HTTPRESP_HEAD_MAX) {
		rc = httpbody_feed(&hb, line, sizeof(line) - 1, &out, &used);
		sent += sizeof(line) - 1;
	}
	assert_int_equal(rc, UPLINK_EINVAL);
	assert_true(sent > HTTPRESP_HEAD_MAX - sizeof(line));
	assert_non_null(strstr(hb.why, "trailers longer than 16384 bytes"));
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_table),
		cmocka_unit_test(test_head_every_prefix),
		cmocka_unit_test(test_head_then_body),
		cmocka_unit_test(test_body_whole),
		cmocka_unit_test(test_body_bytewise),
		cmocka_unit_test(test_body_split),
		cmocka_unit_test(test_body_out_cap),
		cmocka_unit_test(test_body_trailer_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
