/*
 * libFuzzer target for lib/httpresp.c. The input is a response as a proxy
 * or server might send it. The head is parsed with a small and a large cap;
 * when it parses, the rest is decoded as the body (small cap) in one piece
 * and in three pieces cut where the data says, and the pieces must decode
 * to the same bytes with the same outcome.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "httpresp.h"

#define FUZZ_BODY_MAX	2048

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct fuzz_out {
	int	 rc;
	int	 eof_rc;
	size_t	 used;
};

/* Feeds data in the pieces [0, a), [a, b), [b, len) until one finishes. */
static void
fuzz_body(const struct http_resp *resp, const char *data, size_t len,
    size_t a, size_t b, struct buf *out, struct fuzz_out *res)
{
	struct http_body	 hb;
	size_t			 cuts[4] = { 0, a, b, len }, i, used;

	httpbody_init(&hb, resp, FUZZ_BODY_MAX);
	res->rc = UPLINK_EAGAIN;
	res->used = 0;
	for (i = 0; i < 3 && res->rc == UPLINK_EAGAIN; i++) {
		res->rc = httpbody_feed(&hb, data + cuts[i],
		    cuts[i + 1] - cuts[i], out, &used);
		if (used > cuts[i + 1] - cuts[i])
			abort();
		if (res->rc == UPLINK_EAGAIN && used != cuts[i + 1] - cuts[i])
			abort();
		res->used += used;
	}
	if (memchr(hb.why, '\0', sizeof(hb.why)) == NULL)
		abort();
	res->eof_rc = httpbody_eof(&hb);
}

static void
fuzz_check_resp(const struct http_resp *r, size_t len)
{
	if (r->head_len == 0 || r->head_len > len)
		abort();
	if (r->status < 100 || r->status > 999)
		abort();
	if (r->chunked && r->content_length != -1)
		abort();
	if (memchr(r->reason, '\0', sizeof(r->reason)) == NULL ||
	    memchr(r->server, '\0', sizeof(r->server)) == NULL ||
	    memchr(r->squid_error, '\0', sizeof(r->squid_error)) == NULL ||
	    memchr(r->location, '\0', sizeof(r->location)) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	const char		*data = (const char *)buf;
	struct http_resp	 small, resp;
	struct fuzz_out		 whole, split;
	struct buf		 out1, out2;
	size_t			 rest, a, b;
	int			 rc, rc2;

	rc = httpresp_parse_head(data, len, 64, &small);
	if (rc != UPLINK_OK && memchr(small.why, '\0', 256) == NULL)
		abort();
	rc2 = httpresp_parse_head(data, len, HTTPRESP_HEAD_MAX, &resp);
	/* A smaller cap can only stop the parser earlier. */
	if (rc == UPLINK_OK && (rc2 != UPLINK_OK ||
	    small.head_len != resp.head_len))
		abort();
	if (rc == UPLINK_EINVAL && rc2 != UPLINK_EINVAL)
		abort();
	rc = rc2;
	if (rc != UPLINK_OK) {
		if (rc != UPLINK_EAGAIN && resp.why[0] == '\0')
			abort();
		return 0;
	}
	fuzz_check_resp(&resp, len);
	data += resp.head_len;
	rest = len - resp.head_len;
	/* Cut points from the first bytes, so the fuzzer can steer them. */
	a = rest > 0 ? (unsigned char)data[0] % (rest + 1) : 0;
	b = rest > 1 ? a + (unsigned char)data[1] * 7 % (rest - a + 1) : rest;
	buf_init(&out1, FUZZ_BODY_MAX);
	buf_init(&out2, FUZZ_BODY_MAX);
	fuzz_body(&resp, data, rest, rest, rest, &out1, &whole);
	fuzz_body(&resp, data, rest, a, b, &out2, &split);
	/* The split changes nothing but where errors are noticed. */
	if (whole.rc != split.rc || whole.eof_rc != split.eof_rc)
		abort();
	if ((whole.rc == UPLINK_OK || whole.rc == UPLINK_EAGAIN) &&
	    (whole.used != split.used || out1.len != out2.len ||
	    (out1.len > 0 && memcmp(out1.ptr, out2.ptr, out1.len) != 0)))
		abort();
	buf_free(&out1);
	buf_free(&out2);
	return 0;
}
