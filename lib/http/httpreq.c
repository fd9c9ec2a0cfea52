/*
 * HTTP/1.x request heads as the cloud's ingress proxy reads them (see
 * httpreq.h and docs/internals/httpreq.md). Like lib/httpresp.c, the parser
 * is stateless and is re-run over everything received so far; it checks
 * each line as soon as it is complete, so garbage is refused before the
 * blank line (or the cap) arrives. It does no I/O and copies nothing: the
 * request's fields point into the caller's bytes.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "hostport.h"
#include "httpreq.h"
#include "httptok.h"

#define HTTPREQ_QUOTE_BUF	(HTTPTOK_QUOTE_MAX * 4 + 8)
#define HTTPREQ_AUTH_MAX	1024	/* decoded Basic credentials */

/* What httpreq_parse() carries from line to line. */
struct req_state {
	struct httpreq	*req;
	int		 line;		/* current line, the request line is 1 */
	char		*why;
	size_t		 whylen;
};

static bool
httpreq_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char
httpreq_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool
httpreq_ieq(const char *a, size_t an, const char *b, size_t bn)
{
	size_t	 i;

	if (an != bn)
		return false;
	for (i = 0; i < an; i++)
		if (httpreq_lower(a[i]) != httpreq_lower(b[i]))
			return false;
	return true;
}

/* "scheme://" with a non-empty authority: RFC 3986 scheme characters. */
static bool
httpreq_is_absolute(const char *t, size_t n)
{
	size_t	 i;

	if (n == 0 || !httpreq_is_alpha(t[0]))
		return false;
	for (i = 1; i < n; i++)
		if (!httpreq_is_alpha(t[i]) && !(t[i] >= '0' && t[i] <= '9') &&
		    t[i] != '+' && t[i] != '-' && t[i] != '.')
			break;
	return i + 3 < n && memcmp(t + i, "://", 3) == 0 && t[i + 3] != '/';
}

/* CONNECT's authority-form: HOST:PORT with a port, nothing else. */
static int
httpreq_authority(struct req_state *st, const char *t, size_t n,
    const char *q)
{
	struct hostport	 hp;
	char		 tmp[HOSTPORT_HOST_MAX + 16], inner[200];

	if (n >= sizeof(tmp) || memchr(t, '/', n) != NULL ||
	    memchr(t, '@', n) != NULL)
		return uplink_fail(UPLINK_EINVAL, st->why, st->whylen,
		    "CONNECT target \"%s\" is not HOST:PORT", q);
	memcpy(tmp, t, n);
	tmp[n] = '\0';
	if (hostport_parse(tmp, 0, &hp, inner, sizeof(inner)) != UPLINK_OK)
		return uplink_fail(UPLINK_EINVAL, st->why, st->whylen,
		    "CONNECT target \"%s\" is not HOST:PORT: %s", q, inner);
	if (hp.port == 0)
		return uplink_fail(UPLINK_EINVAL, st->why, st->whylen,
		    "CONNECT target \"%s\" has no port (HOST:PORT)", q);
	return UPLINK_OK;
}

/*
 * request-target (RFC 9112 §3.2): authority-form for CONNECT only,
 * asterisk-form for OPTIONS only, and origin-form or absolute-form for the
 * rest. Whether a form is served is the caller's decision.
 */
static int
httpreq_target(struct req_state *st, const char *t, size_t n)
{
	struct httpreq	*req = st->req;
	bool		 connect, options;
	size_t		 i;
	char		 q[HTTPREQ_QUOTE_BUF];

	httptok_quote(q, sizeof(q), t, n);
	for (i = 0; i < n; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
			return uplink_fail(UPLINK_EINVAL, st->why, st->whylen,
			    "byte \\x%02x not allowed in the request target "
			    "\"%s\"", (unsigned char)t[i], q);
	connect = req->methodlen == 7 && memcmp(req->method, "CONNECT", 7) == 0;
	options = req->methodlen == 7 && memcmp(req->method, "OPTIONS", 7) == 0;
	if (connect)
		return httpreq_authority(st, t, n, q);
	if (n == 1 && t[0] == '*' && options)
		return UPLINK_OK;
	if (t[0] == '/' || httpreq_is_absolute(t, n))
		return UPLINK_OK;
	return uplink_fail(UPLINK_EINVAL, st->why, st->whylen, "request "
	    "target \"%s\" is neither /PATH nor http://HOST/PATH (nor HOST:PORT "
	    "with CONNECT)", q);
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112 §3). */
static int
httpreq_request_line(struct req_state *st, const char *s, size_t n)
{
	struct httpreq	*req = st->req;
	const char	*sp1, *sp2, *v;
	size_t		 i, vn;
	char		 q[HTTPREQ_QUOTE_BUF];

	httptok_quote(q, sizeof(q), s, n);
	sp1 = memchr(s, ' ', n);
	sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - s)) :
	    NULL;
	if (sp1 == NULL || sp2 == NULL || sp1 == s || sp2 == sp1 + 1)
		return uplink_fail(UPLINK_EINVAL, st->why, st->whylen,
		    "request line \"%s\" is not METHOD TARGET HTTP/1.1", q);
	for (i = 0; s + i < sp1; i++)
		if (!httptok_is_tchar(s[i]))
			return uplink_fail(UPLINK_EINVAL, st->why, st->whylen,
			    "byte \\x%02x not allowed in the method of request "
			    "line \"%s\"", (unsigned char)s[i], q);
	v = sp2 + 1;
	vn = n - (size_t)(v - s);
	if (vn != 8 || memcmp(v, "HTTP/1.", 7) != 0 ||
	    (v[7] != '0' && v[7] != '1'))
		return uplink_fail(UPLINK_EINVAL, st->why, st->whylen,
		    "unsupported version in request line \"%s\": only HTTP/1.0 "
		    "and HTTP/1.1 are spoken", q);
	req->method = s;
	req->methodlen = (size_t)(sp1 - s);
	req->target = sp1 + 1;
	req->targetlen = (size_t)(sp2 - sp1 - 1);
	req->minor = v[7] - '0';
	return httpreq_target(st, req->target, req->targetlen);
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 §5). */
static int
httpreq_field_line(struct req_state *st, const char *s, size_t n)
{
	struct httpreq		*req = st->req;
	struct httpreq_header	*h;
	const char		*colon, *v;
	size_t			 nn, vn, i;
	char			 q[HTTPREQ_QUOTE_BUF];

	if (req->nheaders == HTTPREQ_MAX_HEADERS)
		return uplink_fail(UPLINK_ETOOBIG, st->why, st->whylen,
		    "more than %d header lines", HTTPREQ_MAX_HEADERS);
	httptok_quote(q, sizeof(q), s, n);
	if (httptok_is_ows(s[0]))
		return uplink_fail(UPLINK_EINVAL, st->why, st->whylen, "line "
		    "%d: obsolete line folding (a line starting with white "
		    "space) is not accepted (\"%s\")", st->line, q);
	colon = memchr(s, ':', n);
	if (colon == NULL)
		return uplink_fail(UPLINK_EINVAL, st->why, st->whylen, "line "
		    "%d: header without ':' (\"%s\")", st->line, q);
	nn = (size_t)(colon - s);
	if (nn == 0 || httptok_is_ows(s[nn - 1]))
		return uplink_fail(UPLINK_EINVAL, st->why, st->whylen, "line "
		    "%d: %s (\"%s\")", st->line,
		    nn == 0 ? "empty header name" : "white space before ':'", q);
	for (i = 0; i < nn; i++)
		if (!httptok_is_tchar(s[i]))
			return uplink_fail(UPLINK_EINVAL, st->why, st->whylen,
			    "line %d: byte \\x%02x not allowed in a header "
			    "name (\"%s\")", st->line, (unsigned char)s[i], q);
	v = colon + 1;
	vn = n - nn - 1;
	while (vn > 0 && httptok_is_ows(v[0])) {
		v++;
		vn--;
	}
	while (vn > 0 && httptok_is_ows(v[vn - 1]))
		vn--;
	for (i = 0; i < vn; i++)
		if (httptok_is_ctl(v[i]))
			return uplink_fail(UPLINK_EINVAL, st->why, st->whylen,
			    "line %d: control byte \\x%02x in a header value "
			    "(\"%s\")", st->line, (unsigned char)v[i], q);
	h = &req->headers[req->nheaders++];
	h->name = s;
	h->namelen = nn;
	h->value = v;
	h->valuelen = vn;
	return UPLINK_OK;
}

/*
 * No blank line in the first limit bytes. A request line whose method
 * already holds a byte no method has is refused at once, so that a TLS
 * ClientHello or an SSH banner sent to the proxy port is reported rather
 * than waited on. A CR at the very end may be the start of a CRLF.
 */
static int
httpreq_incomplete(struct req_state *st, const char *s, size_t n, bool full,
    size_t max)
{
	size_t	 i;
	char	 q[HTTPREQ_QUOTE_BUF];

	if (n > 0 && s[n - 1] == '\r')
		n--;
	for (i = 0; st->line == 0 && i < n && s[i] != ' '; i++)
		if (!httptok_is_tchar(s[i])) {
			httptok_quote(q, sizeof(q), s, n);
			return uplink_fail(UPLINK_EINVAL, st->why, st->whylen,
			    "not an HTTP request: \"%s\" (a TLS or other "
			    "client talking to the plain proxy port?)", q);
		}
	if (full)
		return uplink_fail(UPLINK_ETOOBIG, st->why, st->whylen,
		    "request head longer than %zu bytes (no blank line after "
		    "%d lines)", max, st->line);
	return UPLINK_EAGAIN;
}

int
httpreq_parse(const char *data, size_t len, size_t max, struct httpreq *req,
    char *why, size_t whylen)
{
	struct req_state	 st;
	const char		*nl;
	size_t			 limit, pos = 0, n;
	int			 rc;

	memset(req, 0, sizeof(*req));
	memset(&st, 0, sizeof(st));
	st.req = req;
	st.why = why;
	st.whylen = whylen;
	if (why != NULL && whylen > 0)
		why[0] = '\0';
	limit = len < max ? len : max;
	/* Empty lines before the request line are ignored (RFC 9112 §2.2). */
	for (;;) {
		if (pos < limit && data[pos] == '\n')
			pos++;
		else if (pos + 1 < limit && data[pos] == '\r' &&
		    data[pos + 1] == '\n')
			pos += 2;
		else
			break;
	}
	for (;;) {
		nl = pos < limit ? memchr(data + pos, '\n', limit - pos) : NULL;
		if (nl == NULL)
			return httpreq_incomplete(&st, data + pos, limit - pos,
			    len >= max, max);
		n = (size_t)(nl - data) - pos;
		if (n > 0 && data[pos + n - 1] == '\r')
			n--;
		st.line++;
		if (st.line == 1)
			rc = httpreq_request_line(&st, data + pos, n);
		else if (n == 0)
			break;
		else
			rc = httpreq_field_line(&st, data + pos, n);
		if (rc != UPLINK_OK)
			return rc;
		pos = (size_t)(nl - data) + 1;
	}
	req->headlen = (size_t)(nl - data) + 1;
	return UPLINK_OK;
}

const struct httpreq_header *
httpreq_header(const struct httpreq *req, const char *name)
{
	size_t	 i, n;

	if (req == NULL || name == NULL)
		return NULL;
	n = strlen(name);
	for (i = 0; i < req->nheaders; i++)
		if (httpreq_ieq(req->headers[i].name, req->headers[i].namelen,
		    name, n))
			return &req->headers[i];
	return NULL;
}

/* Standard base64, padded or not (RFC 7617 pads; some clients do not). */
static int
httpreq_base64(const char *s, size_t n, unsigned char *bin, size_t binmax,
    size_t *binlen)
{
	if (sodium_base642bin(bin, binmax, s, n, NULL, binlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) == 0)
		return UPLINK_OK;
	if (n > binmax / 3 * 4 + 4)
		return UPLINK_ETOOBIG;
	if (sodium_base642bin(bin, binmax, s, n, NULL, binlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING) == 0)
		return UPLINK_OK;
	return UPLINK_EINVAL;
}

/* Copies a decoded part, refusing control bytes (a NUL would cut it). */
static int
httpreq_auth_part(const unsigned char *p, size_t n, char *dst, size_t dstlen,
    const char *what, char *why, size_t whylen)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (httptok_is_ctl((char)p[i]) || p[i] == '\t')
			return uplink_fail(UPLINK_EINVAL, why, whylen, "the "
			    "%s in the Basic credentials holds control byte "
			    "\\x%02x", what, p[i]);
	if (n >= dstlen)
		return uplink_fail(UPLINK_ETOOBIG, why, whylen, "the %s in "
		    "the Basic credentials is %zu bytes long; at most %zu fit",
		    what, n, dstlen > 0 ? dstlen - 1 : 0);
	memcpy(dst, p, n);
	dst[n] = '\0';
	return UPLINK_OK;
}

int
httpreq_basic_auth(const char *value, size_t len, char *user, size_t userlen,
    char *password, size_t passlen, char *why, size_t whylen)
{
	unsigned char	 bin[HTTPREQ_AUTH_MAX];
	const char	*s = value, *end = value + len, *sp;
	const unsigned char *colon;
	size_t		 binlen = 0;
	int		 rc;
	char		 q[HTTPREQ_QUOTE_BUF];

	while (s < end && httptok_is_ows(*s))
		s++;
	while (end > s && httptok_is_ows(end[-1]))
		end--;
	sp = memchr(s, ' ', (size_t)(end - s));
	if (sp == NULL && httpreq_ieq(s, (size_t)(end - s), "basic", 5))
		sp = end;
	if (sp == NULL || !httpreq_ieq(s, (size_t)(sp - s), "basic", 5)) {
		httptok_quote(q, sizeof(q), s, sp != NULL ? (size_t)(sp - s) :
		    (size_t)(end - s));
		return uplink_fail(UPLINK_EINVAL, why, whylen, "credentials "
		    "use the scheme \"%s\", not Basic (SITE:KEY in base64)", q);
	}
	while (sp < end && *sp == ' ')
		sp++;
	if (sp == end)
		return uplink_fail(UPLINK_EINVAL, why, whylen, "Basic "
		    "credentials are empty; send base64(SITE:KEY)");
	rc = httpreq_base64(sp, (size_t)(end - sp), bin, sizeof(bin), &binlen);
	if (rc == UPLINK_ETOOBIG)
		uplink_fail(rc, why, whylen, "Basic credentials longer than "
		    "%d bytes", HTTPREQ_AUTH_MAX);
	else if (rc != UPLINK_OK)
		uplink_fail(rc, why, whylen, "Basic credentials are not valid "
		    "base64");
	if (rc != UPLINK_OK)
		goto out;
	colon = memchr(bin, ':', binlen);
	if (colon == NULL || colon == bin) {
		rc = uplink_fail(UPLINK_EINVAL, why, whylen, "Basic "
		    "credentials have %s; send base64(SITE:KEY)",
		    colon == NULL ? "no ':' between user and password" : "an empty user name");
		goto out;
	}
	rc = httpreq_auth_part(bin, (size_t)(colon - bin), user, userlen,
	    "user name", why, whylen);
	if (rc == UPLINK_OK)
		rc = httpreq_auth_part(colon + 1, binlen - (size_t)(colon + 1 -
		    bin), password, passlen, "password", why, whylen);
out:
	sodium_memzero(bin, sizeof(bin));
	return rc;
}
