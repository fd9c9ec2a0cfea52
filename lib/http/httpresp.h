#ifndef UPLINK_HTTPRESP_H
#define UPLINK_HTTPRESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * An HTTP/1.x response parser for what the connector reads from proxies and
 * plain-HTTP servers: the reply to CONNECT, and GET responses (CRLs). It does
 * no I/O. The caller accumulates received bytes and calls the parser again
 * with everything received so far until it stops asking for more.
 */

#define HTTPRESP_HEAD_MAX	16384	/* default cap on status line + headers */

struct http_resp {
	int	 version_minor;		/* 0 or 1 (HTTP/1.x) */
	int	 status;		/* 100-999 */
	char	 reason[128];		/* reason phrase, truncated */
	int64_t	 content_length;	/* -1 when absent */
	bool	 chunked;		/* Transfer-Encoding: chunked */
	bool	 conn_close;		/* Connection: close (or HTTP/1.0 without keep-alive) */
	char	 server[128];		/* Server header, truncated, "" if none */
	char	 squid_error[128];	/* X-Squid-Error header, truncated */
	char	 location[512];		/* Location header, truncated */
	size_t	 head_len;		/* bytes of status line + headers + blank line */
	char	 why[256];		/* on an error: what is wrong */
};

/*
 * Parses the status line and headers from data[0..len). Accepts CRLF and bare
 * LF line ends. Lines are checked as soon as they are complete, and a first
 * line that cannot start with "HTTP/" is refused before its end arrives, so
 * a port speaking SSH or TLS is reported rather than waited on. Returns:
 *   UPLINK_OK      complete; resp filled, resp->head_len bytes belong to it
 *                  (head_len <= max)
 *   UPLINK_EAGAIN  no blank line yet and len < max: call again with more
 *   UPLINK_ETOOBIG the head is longer than max bytes, or has more than 100
 *                  header lines (why is set)
 *   UPLINK_EINVAL  not an HTTP/1.x response, bad status, bad or conflicting
 *                  Content-Length, obsolete line folding, control bytes,
 *                  header without a colon, a Transfer-Encoding whose last
 *                  coding is not chunked... (why is set)
 * With Transfer-Encoding chunked, content_length is -1 even if a
 * Content-Length was sent, and conn_close is set when both were sent or the
 * response is HTTP/1.0 (RFC 9112 §6.1, §6.3). Of Server, X-Squid-Error and
 * Location the first occurrence is kept. resp is reset on every call.
 * What the status means is the caller's business: after a 2xx reply to
 * CONNECT the bytes past head_len belong to the tunnel, and the framing
 * fields and conn_close (set by an HTTP/1.0 "200 Connection established")
 * do not apply.
 */
int httpresp_parse_head(const char *data, size_t len, size_t max,
    struct http_resp *resp);

/*
 * Body decoding: Content-Length, chunked (chunk extensions and trailers
 * skipped) or delimited by the connection's close.
 */
struct http_body {
	int	 mode;		/* internal */
	int	 state;		/* internal */
	uint64_t remaining;	/* internal */
	size_t	 max;		/* cap on decoded bytes */
	char	 why[256];	/* on error: what is wrong */
	uint64_t length;	/* internal: Content-Length */
	uint64_t total;		/* internal: decoded bytes so far */
	uint64_t pos;		/* internal: input bytes used so far */
	size_t	 linelen;	/* internal: chunk-size line/trailer bytes */
	int	 err;		/* internal: sticky error, 0 if none */
};

/*
 * Prepares to decode the body of resp (for a response to GET; the caller
 * deals with 1xx/204/304 and HEAD itself). max caps the decoded size.
 */
void httpbody_init(struct http_body *hb, const struct http_resp *resp,
    size_t max);

/*
 * Feeds data[0..len) and appends decoded bytes to out. *consumed receives the
 * number of input bytes used (the rest, if any, follows the body). Returns
 *   UPLINK_OK      the body is complete (at once for Content-Length: 0,
 *                  even with len 0; again, consuming nothing, if called
 *                  after that)
 *   UPLINK_EAGAIN  all input consumed, more is needed
 *   UPLINK_ETOOBIG the decoded body would exceed max, or out's own cap; a
 *                  Content-Length above max fails on the first call
 *   UPLINK_EINVAL  bad chunk syntax, a chunk-size line over 1024 bytes or
 *                  trailers over HTTPRESP_HEAD_MAX (why is set)
 *   UPLINK_ENOMEM  out could not grow
 * Errors are sticky: later calls return the same error. Bytes decoded
 * before an error stay in out.
 */
int httpbody_feed(struct http_body *hb, const char *data, size_t len,
    struct buf *out, size_t *consumed);

/*
 * Tells the decoder the connection closed. Returns UPLINK_OK when that ends
 * the body properly (close-delimited mode, or already complete),
 * UPLINK_EINVAL when the body was cut short (why is set), or the error an
 * earlier httpbody_feed returned.
 */
int httpbody_eof(struct http_body *hb);

#endif
