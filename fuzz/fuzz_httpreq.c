/*
 * libFuzzer target for the ingress proxy's request-head parser and its
 * Basic credential decoder. The input is parsed as a head under two caps;
 * every header value, and the whole input, is also decoded as credentials.
 * Besides the sanitizers, the invariants of the API are checked: EAGAIN
 * only below the cap, a parsed head lies inside the input and the cap and
 * its slices inside the head, a proper prefix of a valid head asks for
 * more, and decoded credentials fit their buffers.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "httpreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_slice(const char *base, size_t len, const char *p, size_t n)
{
	if (n > 0 && (p < base || p + n > base + len))
		abort();
}

static void
check_auth(const char *v, size_t n)
{
	char	 user[64], pass[96], why[256];
	int	 rc;

	why[0] = '\0';
	rc = httpreq_basic_auth(v, n, user, sizeof(user), pass, sizeof(pass),
	    why, sizeof(why));
	if (rc == UPLINK_OK) {
		if (user[0] == '\0' || strlen(user) >= sizeof(user) ||
		    strlen(pass) >= sizeof(pass))
			abort();
	} else if ((rc != UPLINK_EINVAL && rc != UPLINK_ETOOBIG) ||
	    why[0] == '\0')
		abort();
}

static void
check_head(const char *s, size_t len, size_t max)
{
	struct httpreq	 req;
	char		 why[256];
	size_t		 i;
	int		 rc;

	why[0] = '\0';
	rc = httpreq_parse(s, len, max, &req, why, sizeof(why));
	if (rc == UPLINK_EAGAIN) {
		if (len >= max)
			abort();
		return;
	}
	if (rc != UPLINK_OK) {
		if ((rc != UPLINK_EINVAL && rc != UPLINK_ETOOBIG) ||
		    why[0] == '\0')
			abort();
		return;
	}
	if (req.headlen == 0 || req.headlen > len || req.headlen > max ||
	    req.methodlen == 0 || req.targetlen == 0 ||
	    req.nheaders > HTTPREQ_MAX_HEADERS ||
	    (req.minor != 0 && req.minor != 1))
		abort();
	check_slice(s, req.headlen, req.method, req.methodlen);
	check_slice(s, req.headlen, req.target, req.targetlen);
	for (i = 0; i < req.nheaders; i++) {
		check_slice(s, req.headlen, req.headers[i].name,
		    req.headers[i].namelen);
		check_slice(s, req.headlen, req.headers[i].value,
		    req.headers[i].valuelen);
		if (req.headers[i].namelen == 0)
			abort();
		check_auth(req.headers[i].value, req.headers[i].valuelen);
	}
	if (httpreq_parse(s, req.headlen - 1, max, &req, why, sizeof(why)) !=
	    UPLINK_EAGAIN)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s;

	/* A copy of exactly size bytes, so reading past it is caught. */
	s = malloc(size > 0 ? size : 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	check_head(s, size, 4096);
	check_head(s, size, 64);
	check_auth(s, size);
	free(s);
	return 0;
}
