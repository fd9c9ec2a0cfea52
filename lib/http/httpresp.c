/*
 * HTTP/1.x responses as the connector reads them: a proxy's reply to
 * CONNECT and plain-HTTP GET responses (CRL downloads). The head parser is
 * stateless and is re-run over everything received so far; the body decoder
 * keeps a small state machine so bytes can arrive in any split. Neither does
 * I/O. See docs/internals/httpresp.md.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "httpresp.h"
#include "httptok.h"
#include "input.h"

#define HTTPRESP_FIELDS_MAX	100	/* header lines after the status line */
#define HTTPRESP_QUOTE_BUF	128
#define HTTPBODY_LINE_MAX	1024	/* chunk-size line with extensions */
#define HTTPBODY_TRAILER_MAX	HTTPRESP_HEAD_MAX
#define HTTPBODY_CHUNK_MAX	(UINT64_C(1) << 62)

/* What httpresp_parse_head learns across the lines of one head. */
struct head_state {
	struct http_resp *resp;
	int		 line;		/* current line, the status line is 1 */
	int		 nfields;
	unsigned	 captured;	/* bit i: httpresp_fields[i] copied */
	bool		 cl_seen;
	bool		 te_seen;
	bool		 te_chunked;
	char		 te_last[32];	/* the last coding when not chunked */
	bool		 close;
	bool		 keep_alive;
};

enum body_mode {
	BODY_LENGTH = 1,
	BODY_CHUNKED,
	BODY_CLOSE,
};

/* Chunked decoder states, in the order a chunk goes through them. */
enum chunk_state {
	CH_SIZE,		/* hex digits of the chunk size */
	CH_SIZE_WS,		/* white space after the size */
	CH_EXT,			/* chunk extensions, skipped */
	CH_SIZE_LF,		/* CR seen, LF must follow */
	CH_DATA,
	CH_DATA_CR,		/* CRLF after the data */
	CH_DATA_LF,
	CH_TRAILER,		/* start of a trailer line or the blank line */
	CH_TRAILER_LINE,	/* inside a trailer line, skipped */
	CH_TRAILER_LF,		/* CR opening a line: LF must end the body */
	CH_DONE,
};

static const char *const chunk_state_names[] = {
	[CH_SIZE] = "in a chunk-size line",
	[CH_SIZE_WS] = "in a chunk-size line",
	[CH_EXT] = "in a chunk-size line",
	[CH_SIZE_LF] = "in a chunk-size line",
	[CH_DATA] = "inside chunk data",
	[CH_DATA_CR] = "before the CRLF ending a chunk",
	[CH_DATA_LF] = "before the CRLF ending a chunk",
	[CH_TRAILER] = "in the trailers",
	[CH_TRAILER_LINE] = "in the trailers",
	[CH_TRAILER_LF] = "in the trailers",
	[CH_DONE] = "after the end",
};

static char
httpresp_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive compare of s[0..n) with a lower-case literal. */
static bool
httpresp_ieq(const char *s, size_t n, const char *lit)
{
	size_t	 i;

	if (strlen(lit) != n)
		return false;
	for (i = 0; i < n; i++) {
		if (httpresp_lower(s[i]) != lit[i])
			return false;
	}
	return true;
}

/* Copies s[0..n) into a fixed array, truncated and NUL-terminated. */
static void
httpresp_copy(char *dst, size_t dstlen, const char *s, size_t n)
{
	if (n >= dstlen)
		n = dstlen - 1;
	if (n > 0)
		memcpy(dst, s, n);
	dst[n] = '\0';
}

/*
 * Returns the next element of a comma-separated value v[0..vn), trimmed of
 * white space and possibly empty, and advances *off past it. Returns false
 * once the value is used up.
 */
static bool
httpresp_list_next(const char *v, size_t vn, size_t *off, const char **e,
    size_t *en)
{
	const char	*comma;
	size_t		 start, stop;

	if (*off > vn)
		return false;
	start = *off;
	comma = memchr(v + start, ',', vn - start);
	stop = comma != NULL ? (size_t)(comma - v) : vn;
	*off = stop + 1;
	while (start < stop && httptok_is_ows(v[start]))
		start++;
	while (stop > start && httptok_is_ows(v[stop - 1]))
		stop--;
	*e = v + start;
	*en = stop - start;
	return true;
}

/*
 * Parses a non-empty run of decimal digits into *val. Returns UPLINK_EINVAL
 * for anything else (signs and white space included) and UPLINK_ETOOBIG
 * above INT64_MAX.
 */
static int
httpresp_decimal(const char *s, size_t n, int64_t *val)
{
	uint64_t	 v = 0;
	size_t		 i;
	unsigned	 d;

	if (n == 0)
		return UPLINK_EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return UPLINK_EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > ((uint64_t)INT64_MAX - d) / 10)
			return UPLINK_ETOOBIG;
		v = v * 10 + d;
	}
	*val = (int64_t)v;
	return UPLINK_OK;
}

/*
 * Content-Length: one number, or a list of identical numbers, possibly over
 * several header lines (RFC 9110 §8.6). Anything else could frame the body
 * two ways, so it is an error rather than a guess.
 */
static int
httpresp_on_length(struct head_state *st, const char *v, size_t vn)
{
	struct http_resp	*resp = st->resp;
	const char		*e;
	size_t			 en, off = 0;
	int64_t			 val = 0;
	int			 rc;
	char			 q[HTTPRESP_QUOTE_BUF];

	while (httpresp_list_next(v, vn, &off, &e, &en)) {
		rc = httpresp_decimal(e, en, &val);
		httptok_quote(q, sizeof(q), v, vn);
		if (rc == UPLINK_ETOOBIG)
			return uplink_fail(UPLINK_EINVAL, resp->why,
			    sizeof(resp->why),
			    "line %d: Content-Length \"%s\" is "
			    "larger than 2^63-1", st->line, q);
		if (rc != UPLINK_OK)
			return uplink_fail(UPLINK_EINVAL, resp->why,
			    sizeof(resp->why),
			    "line %d: bad Content-Length \"%s\":"
			    " not a decimal number", st->line, q);
		if (st->cl_seen && val != resp->content_length)
			return uplink_fail(UPLINK_EINVAL, resp->why,
			    sizeof(resp->why),
			    "line %d: conflicting Content-Length"
			    " values %" PRId64 " and %" PRId64, st->line,
			    resp->content_length, val);
		st->cl_seen = true;
		resp->content_length = val;
	}
	return UPLINK_OK;
}

/*
 * Transfer-Encoding: a list of codings, possibly over several lines, of
 * which chunked must be the last and appear once (RFC 9112 §6.1). Whether
 * one was chunked at all is decided in httpresp_finish, once every line has
 * been seen. Empty list elements are allowed (RFC 9110 §5.6.1).
 */
static int
httpresp_on_te(struct head_state *st, const char *v, size_t vn)
{
	struct http_resp	*resp = st->resp;
	const char		*e, *semi;
	size_t			 en, off = 0;
	bool			 any = false;
	char			 q[HTTPRESP_QUOTE_BUF];

	httptok_quote(q, sizeof(q), v, vn);
	while (httpresp_list_next(v, vn, &off, &e, &en)) {
		semi = memchr(e, ';', en);
		if (semi != NULL)
			en = (size_t)(semi - e);
		while (en > 0 && httptok_is_ows(e[en - 1]))
			en--;
		if (en == 0)
			continue;
		any = true;
		if (st->te_chunked)
			return uplink_fail(UPLINK_EINVAL, resp->why,
			    sizeof(resp->why),
			    "line %d: Transfer-Encoding \"%s\" "
			    "has a coding after chunked; chunked must come "
			    "last, once", st->line, q);
		st->te_seen = true;
		if (httpresp_ieq(e, en, "chunked"))
			st->te_chunked = true;
		else
			httptok_quote(st->te_last, sizeof(st->te_last), e, en);
	}
	if (!any)
		return uplink_fail(UPLINK_EINVAL, resp->why, sizeof(resp->why),
		    "line %d: empty Transfer-Encoding", st->line);
	return UPLINK_OK;
}

static int
httpresp_on_connection(struct head_state *st, const char *v, size_t vn)
{
	const char	*e;
	size_t		 en, off = 0;

	while (httpresp_list_next(v, vn, &off, &e, &en)) {
		if (httpresp_ieq(e, en, "close"))
			st->close = true;
		else if (httpresp_ieq(e, en, "keep-alive"))
			st->keep_alive = true;
	}
	return UPLINK_OK;
}

#define RESP_FIELD(f)	offsetof(struct http_resp, f), \
			sizeof(((struct http_resp *)NULL)->f)

/*
 * Headers the parser acts on, names in lower case. Those without a handler
 * are copied into resp; the first occurrence wins.
 */
static const struct httpresp_field {
	const char	*name;
	int		(*fn)(struct head_state *, const char *, size_t);
	size_t		 off;
	size_t		 size;
} httpresp_fields[] = {
	{ "content-length", httpresp_on_length, 0, 0 },
	{ "transfer-encoding", httpresp_on_te, 0, 0 },
	{ "connection", httpresp_on_connection, 0, 0 },
	{ "server", NULL, RESP_FIELD(server) },
	{ "x-squid-error", NULL, RESP_FIELD(squid_error) },
	{ "location", NULL, RESP_FIELD(location) },
};

static int
httpresp_field(struct head_state *st, const char *name, size_t nn,
    const char *v, size_t vn)
{
	const struct httpresp_field	*f;
	size_t				 i;

	for (i = 0; i < sizeof(httpresp_fields) / sizeof(httpresp_fields[0]);
	    i++) {
		f = &httpresp_fields[i];
		if (!httpresp_ieq(name, nn, f->name))
			continue;
		if (f->fn != NULL)
			return f->fn(st, v, vn);
		if ((st->captured & (1u << i)) == 0)
			httpresp_copy((char *)st->resp + f->off, f->size, v,
			    vn);
		st->captured |= 1u << i;
		break;
	}
	return UPLINK_OK;
}

/*
 * status-line = HTTP-version SP 3DIGIT [ SP reason ] (RFC 9112 §4, with the
 * common "HTTP/1.1 200" lacking the SP tolerated).
 */
static int
httpresp_status_line(struct head_state *st, const char *s, size_t n)
{
	struct http_resp	*resp = st->resp;
	const char		*sp, *r;
	size_t			 vn, i;
	char			 q[HTTPRESP_QUOTE_BUF], qv[HTTPRESP_QUOTE_BUF];

	httptok_quote(q, sizeof(q), s, n);
	sp = memchr(s, ' ', n);
	vn = sp != NULL ? (size_t)(sp - s) : n;
	if (vn < 5 || memcmp(s, "HTTP/", 5) != 0)
		return uplink_fail(UPLINK_EINVAL, resp->why, sizeof(resp->why),
		    "status line is not HTTP/1.x: \"%s\"", q);
	if (vn != 8 || memcmp(s, "HTTP/1.", 7) != 0 ||
	    (s[7] != '0' && s[7] != '1')) {
		httptok_quote(qv, sizeof(qv), s, vn);
		return uplink_fail(UPLINK_EINVAL, resp->why, sizeof(resp->why),
		    "unsupported version \"%s\" in status line "
		    "\"%s\": only HTTP/1.0 and HTTP/1.1 are spoken", qv, q);
	}
	resp->version_minor = s[7] - '0';
	if (n < 12 || (n > 12 && s[12] != ' ') || s[9] < '1' || s[9] > '9' ||
	    s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9')
		return uplink_fail(UPLINK_EINVAL, resp->why, sizeof(resp->why),
		    "bad status code in status line \"%s\": "
		    "expected 3 digits from 100 to 999", q);
	resp->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	r = n > 12 ? s + 13 : s + n;
	for (i = 0; r + i < s + n; i++) {
		if (httptok_is_ctl(r[i]))
			return uplink_fail(UPLINK_EINVAL, resp->why,
			    sizeof(resp->why), "control byte \\x%02x in the "
			    "reason phrase of status line \"%s\"",
			    (unsigned char)r[i], q);
	}
	httpresp_copy(resp->reason, sizeof(resp->reason), r, i);
	return UPLINK_OK;
}

/* Checks the name part of a header line: s[0..nn) where s[nn] is ':'. */
static int
httpresp_field_name(struct head_state *st, const char *s, size_t nn,
    const char *q)
{
	struct http_resp	*resp = st->resp;
	size_t			 i;

	if (nn == 0)
		return uplink_fail(UPLINK_EINVAL, resp->why, sizeof(resp->why),
		    "line %d: empty header name (\"%s\")", st->line, q);
	if (httptok_is_ows(s[nn - 1]))
		return uplink_fail(UPLINK_EINVAL, resp->why, sizeof(resp->why),
		    "line %d: white space before ':' (\"%s\")", st->line, q);
	for (i = 0; i < nn; i++) {
		if (!httptok_is_tchar(s[i]))
			return uplink_fail(UPLINK_EINVAL, resp->why,
			    sizeof(resp->why),
			    "line %d: byte \\x%02x not allowed "
			    "in a header name (\"%s\")", st->line,
			    (unsigned char)s[i], q);
	}
	return UPLINK_OK;
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 §5). */
static int
httpresp_field_line(struct head_state *st, const char *s, size_t n)
{
	struct http_resp	*resp = st->resp;
	const char		*colon, *v;
	size_t			 nn, vn, i;
	int			 rc;
	char			 q[HTTPRESP_QUOTE_BUF];

	if (++st->nfields > HTTPRESP_FIELDS_MAX)
		return uplink_fail(UPLINK_ETOOBIG, resp->why, sizeof(resp->why),
		    "more than %d header lines", HTTPRESP_FIELDS_MAX);
	httptok_quote(q, sizeof(q), s, n);
	if (httptok_is_ows(s[0]))
		return uplink_fail(UPLINK_EINVAL, resp->why, sizeof(resp->why),
		    "line %d: obsolete line folding (a line "
		    "starting with white space) is not accepted (\"%s\")",
		    st->line, q);
	colon = memchr(s, ':', n);
	if (colon == NULL)
		return uplink_fail(UPLINK_EINVAL, resp->why, sizeof(resp->why),
		    "line %d: header without ':' (\"%s\")", st->line, q);
	nn = (size_t)(colon - s);
	rc = httpresp_field_name(st, s, nn, q);
	if (rc != UPLINK_OK)
		return rc;
	v = colon + 1;
	vn = n - nn - 1;
	while (vn > 0 && httptok_is_ows(v[0])) {
		v++;
		vn--;
	}
	while (vn > 0 && httptok_is_ows(v[vn - 1]))
		vn--;
	for (i = 0; i < vn; i++) {
		if (httptok_is_ctl(v[i]))
			return uplink_fail(UPLINK_EINVAL, resp->why,
			    sizeof(resp->why),
			    "line %d: control byte \\x%02x in "
			    "a header value (\"%s\")", st->line,
			    (unsigned char)v[i], q);
	}
	return httpresp_field(st, s, nn, v, vn);
}

/*
 * Settles framing and persistence once the blank line is reached. With both
 * Transfer-Encoding and Content-Length the former wins (RFC 9112 §6.3), but
 * such a message, or chunked in HTTP/1.0, smells of smuggling, so the
 * connection is not reused (RFC 9112 §6.1).
 */
static int
httpresp_finish(struct head_state *st)
{
	struct http_resp	*resp = st->resp;

	if (st->te_seen && !st->te_chunked)
		return uplink_fail(UPLINK_EINVAL, resp->why, sizeof(resp->why),
		    "Transfer-Encoding ends with \"%s\", not "
		    "chunked: the end of the body cannot be found", st->te_last);
	if (st->te_chunked) {
		resp->chunked = true;
		resp->content_length = -1;
		if (st->cl_seen || resp->version_minor == 0)
			st->close = true;
	}
	resp->conn_close = st->close ||
	    (resp->version_minor == 0 && !st->keep_alive);
	return UPLINK_OK;
}

/*
 * No blank line in the first limit bytes. A status line that cannot become
 * HTTP is refused at once, so that a proxy port answering with SSH or TLS
 * is reported instead of waited on.
 */
static int
httpresp_incomplete(struct head_state *st, const char *data, size_t len,
    size_t max)
{
	struct http_resp	*resp = st->resp;
	size_t			 n;
	char			 q[HTTPRESP_QUOTE_BUF];

	n = len < max ? len : max;
	if (st->line == 0 && n > 0 &&
	    memcmp(data, "HTTP/", n < 5 ? n : 5) != 0) {
		httptok_quote(q, sizeof(q), data, n);
		return uplink_fail(UPLINK_EINVAL, resp->why, sizeof(resp->why),
		    "status line is not HTTP/1.x: \"%s\"", q);
	}
	if (len >= max)
		return uplink_fail(UPLINK_ETOOBIG, resp->why, sizeof(resp->why),
		    "response head longer than %zu bytes "
		    "(no blank line after %d lines)", max, st->line);
	return UPLINK_EAGAIN;
}

static void
httpresp_reset(struct http_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->content_length = -1;
}

int
httpresp_parse_head(const char *data, size_t len, size_t max,
    struct http_resp *resp)
{
	struct head_state	 st;
	const char		*nl;
	size_t			 limit, pos = 0, n;
	int			 rc;

	httpresp_reset(resp);
	memset(&st, 0, sizeof(st));
	st.resp = resp;
	limit = len < max ? len : max;
	for (;;) {
		nl = pos < limit ? memchr(data + pos, '\n', limit - pos) : NULL;
		if (nl == NULL)
			return httpresp_incomplete(&st, data, len, max);
		n = (size_t)(nl - data) - pos;
		if (n > 0 && data[pos + n - 1] == '\r')
			n--;
		st.line++;
		if (st.line == 1)
			rc = httpresp_status_line(&st, data + pos, n);
		else if (n == 0)
			break;
		else
			rc = httpresp_field_line(&st, data + pos, n);
		if (rc != UPLINK_OK)
			return rc;
		pos = (size_t)(nl - data) + 1;
	}
	resp->head_len = (size_t)(nl - data) + 1;
	return httpresp_finish(&st);
}

static int httpbody_fail(struct http_body *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Records an error; every later call returns it again. */
static int
httpbody_fail(struct http_body *hb, int rc, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(hb->why, sizeof(hb->why), fmt, ap);
	va_end(ap);
	hb->err = rc;
	return rc;
}

void
httpbody_init(struct http_body *hb, const struct http_resp *resp, size_t max)
{
	memset(hb, 0, sizeof(*hb));
	hb->max = max;
	hb->state = CH_SIZE;
	if (resp->chunked) {
		hb->mode = BODY_CHUNKED;
	} else if (resp->content_length >= 0) {
		hb->mode = BODY_LENGTH;
		hb->length = (uint64_t)resp->content_length;
		hb->remaining = hb->length;
		/* Refused up front: no point reading what will be dropped. */
		if (hb->length > max)
			httpbody_fail(hb, UPLINK_ETOOBIG, "Content-Length %"
			    PRIu64 " exceeds the %zu-byte limit", hb->length,
			    max);
	} else {
		hb->mode = BODY_CLOSE;
	}
}

/* Appends decoded bytes to out, within hb->max. */
static int
httpbody_emit(struct http_body *hb, const char *p, size_t n, struct buf *out)
{
	int	 rc;

	if (n > hb->max - hb->total)
		return httpbody_fail(hb, UPLINK_ETOOBIG, "body longer than the "
		    "%zu-byte limit", hb->max);
	rc = buf_append(out, p, n);
	if (rc == UPLINK_ETOOBIG)
		return httpbody_fail(hb, rc, "body longer than the output "
		    "buffer's %zu-byte limit", out->max);
	if (rc != UPLINK_OK)
		return httpbody_fail(hb, rc, "out of memory after %" PRIu64
		    " body bytes", hb->total);
	hb->total += n;
	return UPLINK_OK;
}

static int
httpbody_length(struct http_body *hb, const char *data, size_t len,
    struct buf *out, size_t *consumed)
{
	size_t	 n;
	int	 rc;

	n = len < hb->remaining ? len : (size_t)hb->remaining;
	rc = httpbody_emit(hb, data, n, out);
	if (rc != UPLINK_OK)
		return rc;
	hb->remaining -= n;
	*consumed = n;
	return hb->remaining == 0 ? UPLINK_OK : UPLINK_EAGAIN;
}

/* The chunk-size line ended: on to the data, or to the trailers after "0". */
static int
httpbody_size_done(struct http_body *hb)
{
	if (hb->remaining > hb->max - hb->total)
		return httpbody_fail(hb, UPLINK_ETOOBIG, "chunked body longer "
		    "than the %zu-byte limit (a chunk of %" PRIu64 " bytes "
		    "after %" PRIu64 ")", hb->max, hb->remaining, hb->total);
	hb->state = hb->remaining == 0 ? CH_TRAILER : CH_DATA;
	return UPLINK_OK;
}

/* What may follow the digits of a chunk size on its line. */
static int
httpbody_size_rest(struct http_body *hb, char c)
{
	if (c == '\n')
		return httpbody_size_done(hb);
	if (c == '\r') {
		hb->state = CH_SIZE_LF;
		return UPLINK_OK;
	}
	if (c == ';') {
		hb->state = CH_EXT;
		return UPLINK_OK;
	}
	if (hb->state == CH_EXT && !httptok_is_ctl(c))
		return UPLINK_OK;
	if (hb->state == CH_SIZE_WS && httptok_is_ows(c))
		return UPLINK_OK;
	return httpbody_fail(hb, UPLINK_EINVAL, "byte %" PRIu64 " of the "
	    "chunked body: unexpected \\x%02x in a chunk-size line", hb->pos,
	    (unsigned char)c);
}

/* chunk-size = 1*HEXDIG, then BWS, ";" extensions or the line end. */
static int
httpbody_size_byte(struct http_body *hb, char c)
{
	int	 d;

	d = input_hexval(c);
	if (d < 0 && hb->linelen == 1)
		return httpbody_fail(hb, UPLINK_EINVAL, "byte %" PRIu64 " of "
		    "the chunked body: expected a hex chunk size, got \\x%02x",
		    hb->pos, (unsigned char)c);
	if (d < 0) {
		hb->state = CH_SIZE_WS;
		return httpbody_size_rest(hb, c);
	}
	if (hb->remaining > (HTTPBODY_CHUNK_MAX - (unsigned)d) / 16)
		return httpbody_fail(hb, UPLINK_EINVAL, "byte %" PRIu64 " of "
		    "the chunked body: chunk size larger than 2^62", hb->pos);
	hb->remaining = hb->remaining * 16 + (unsigned)d;
	return UPLINK_OK;
}

static int
httpbody_no_lf(struct http_body *hb, const char *where)
{
	return httpbody_fail(hb, UPLINK_EINVAL, "byte %" PRIu64 " of the "
	    "chunked body: CR not followed by LF %s", hb->pos, where);
}

/* The line end after chunk data is over: a chunk-size line starts. */
static int
httpbody_next_chunk(struct http_body *hb)
{
	hb->state = CH_SIZE;
	hb->linelen = 0;
	return UPLINK_OK;
}

/*
 * Chunk data must be followed by CRLF (or LF). Anything else means the
 * chunk size was wrong, and every later byte would be misread.
 */
static int
httpbody_data_end(struct http_body *hb, char c)
{
	if (hb->state == CH_DATA_LF) {
		if (c != '\n')
			return httpbody_no_lf(hb, "after chunk data");
		return httpbody_next_chunk(hb);
	}
	if (c == '\r') {
		hb->state = CH_DATA_LF;
		return UPLINK_OK;
	}
	if (c == '\n')
		return httpbody_next_chunk(hb);
	return httpbody_fail(hb, UPLINK_EINVAL, "byte %" PRIu64 " of the "
	    "chunked body: chunk data not followed by CRLF (got \\x%02x; "
	    "wrong chunk size?)", hb->pos, (unsigned char)c);
}

/* Trailer fields are of no use to the connector: skip them, within a cap. */
static int
httpbody_trailer_byte(struct http_body *hb, char c)
{
	if (hb->linelen > HTTPBODY_TRAILER_MAX)
		return httpbody_fail(hb, UPLINK_EINVAL, "chunked body: "
		    "trailers longer than %d bytes", HTTPBODY_TRAILER_MAX);
	if (hb->state == CH_TRAILER_LF) {
		if (c != '\n')
			return httpbody_no_lf(hb, "ending the trailers");
		hb->state = CH_DONE;
	} else if (c == '\n')
		hb->state = hb->state == CH_TRAILER ? CH_DONE : CH_TRAILER;
	else if (hb->state == CH_TRAILER)
		hb->state = c == '\r' ? CH_TRAILER_LF : CH_TRAILER_LINE;
	return UPLINK_OK;
}

/*
 * One byte of chunk framing (everything but chunk data). linelen counts the
 * bytes of the current chunk-size line, then of the whole trailer section.
 */
static int
httpbody_chunk_byte(struct http_body *hb, char c)
{
	hb->linelen++;
	if (hb->state <= CH_SIZE_LF && hb->linelen > HTTPBODY_LINE_MAX)
		return httpbody_fail(hb, UPLINK_EINVAL, "byte %" PRIu64 " of "
		    "the chunked body: chunk-size line longer than %d bytes",
		    hb->pos, HTTPBODY_LINE_MAX);
	switch (hb->state) {
	case CH_SIZE:
		return httpbody_size_byte(hb, c);
	case CH_SIZE_WS:
	case CH_EXT:
		return httpbody_size_rest(hb, c);
	case CH_SIZE_LF:
		if (c != '\n')
			return httpbody_no_lf(hb, "after a chunk size");
		return httpbody_size_done(hb);
	case CH_DATA_CR:
	case CH_DATA_LF:
		return httpbody_data_end(hb, c);
	default:
		return httpbody_trailer_byte(hb, c);
	}
}

static int
httpbody_chunked(struct http_body *hb, const char *data, size_t len,
    struct buf *out, size_t *consumed)
{
	size_t	 i = 0, n;
	int	 rc = UPLINK_OK;

	while (i < len && hb->state != CH_DONE && rc == UPLINK_OK) {
		if (hb->state != CH_DATA) {
			rc = httpbody_chunk_byte(hb, data[i]);
			i++;
			hb->pos++;
			continue;
		}
		n = len - i < hb->remaining ? len - i : (size_t)hb->remaining;
		rc = httpbody_emit(hb, data + i, n, out);
		i += n;
		hb->pos += n;
		hb->remaining -= n;
		if (hb->remaining == 0)
			hb->state = CH_DATA_CR;
	}
	*consumed = i;
	if (rc != UPLINK_OK)
		return rc;
	return hb->state == CH_DONE ? UPLINK_OK : UPLINK_EAGAIN;
}

int
httpbody_feed(struct http_body *hb, const char *data, size_t len,
    struct buf *out, size_t *consumed)
{
	*consumed = 0;
	if (hb->err != UPLINK_OK)
		return hb->err;
	switch (hb->mode) {
	case BODY_LENGTH:
		return httpbody_length(hb, data, len, out, consumed);
	case BODY_CHUNKED:
		return httpbody_chunked(hb, data, len, out, consumed);
	default:
		if (httpbody_emit(hb, data, len, out) != UPLINK_OK)
			return hb->err;
		*consumed = len;
		return UPLINK_EAGAIN;
	}
}

int
httpbody_eof(struct http_body *hb)
{
	if (hb->err != UPLINK_OK)
		return hb->err;
	switch (hb->mode) {
	case BODY_LENGTH:
		if (hb->remaining == 0)
			return UPLINK_OK;
		return httpbody_fail(hb, UPLINK_EINVAL, "connection closed "
		    "after %" PRIu64 " of %" PRIu64 " body bytes",
		    hb->length - hb->remaining, hb->length);
	case BODY_CHUNKED:
		if (hb->state == CH_DONE)
			return UPLINK_OK;
		return httpbody_fail(hb, UPLINK_EINVAL, "connection closed %s "
		    "of the chunked body, after %" PRIu64 " body bytes",
		    chunk_state_names[hb->state], hb->total);
	default:
		return UPLINK_OK;
	}
}
