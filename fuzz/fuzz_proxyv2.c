/*
 * libFuzzer target for the PROXY protocol v2 decoder (lib/net/proxyv2.c).
 * Every prefix of the input is decoded as a read so far would be. Besides
 * the sanitizers, the invariants of the API are checked: a header length
 * is at least 16, at most PROXYV2_MAX and at most the bytes given; "need
 * more" never comes with PROXYV2_MAX bytes or more in hand; an error says
 * why; a decoded PROXY command carries an IPv4 or IPv6 address whose
 * length matches its family; a longer input never changes a verdict that
 * a prefix already reached.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxyv2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxyv2	 pv;
	char		 why[256];
	size_t		 n;
	int		 rc, first = 0;

	for (n = 0; n <= size && n <= PROXYV2_MAX + 8; n++) {
		why[0] = '\0';
		rc = proxyv2_parse(data, n, &pv, why, sizeof(why));
		if (rc < 0 && why[0] == '\0')
			abort();
		if (rc == 0 && n >= PROXYV2_MAX)
			abort();
		if (rc > 0 && (rc < PROXYV2_FIXED || rc > PROXYV2_MAX ||
		    (size_t)rc > n))
			abort();
		if (rc > 0 && !pv.local && !((pv.src.ss_family == AF_INET &&
		    pv.srclen == sizeof(struct sockaddr_in)) ||
		    (pv.src.ss_family == AF_INET6 &&
		    pv.srclen == sizeof(struct sockaddr_in6))))
			abort();
		if (first != 0 && rc != first)
			abort();
		if (rc != 0)
			first = rc;
	}
	if (size > 0)
		(void)proxyv2_looks_like(data, size);
	return 0;
}
