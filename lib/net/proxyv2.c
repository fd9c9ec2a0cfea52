#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proxyv2.h"

#define PV2_CMD_LOCAL	0x0
#define PV2_CMD_PROXY	0x1
#define PV2_AF_INET	0x1
#define PV2_AF_INET6	0x2
#define PV2_STREAM	0x1

static int pv2_bad(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
pv2_bad(char *why, size_t whylen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The address block of a PROXY command: the source is the client. */
static int
pv2_addresses(const unsigned char *b, unsigned fam, unsigned alen,
    struct proxyv2 *out, char *why, size_t whylen)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&out->src;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&out->src;

	switch (fam) {
	case PV2_AF_INET:
		if (alen < 12)
			return pv2_bad(why, whylen, "an address block of %u "
			    "bytes for IPv4, which needs 12", alen);
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, b, 4);
		memcpy(&sin->sin_port, b + 8, 2);
		out->srclen = sizeof(*sin);
		return 0;
	case PV2_AF_INET6:
		if (alen < 36)
			return pv2_bad(why, whylen, "an address block of %u "
			    "bytes for IPv6, which needs 36", alen);
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, b, 16);
		memcpy(&sin6->sin6_port, b + 32, 2);
		out->srclen = sizeof(*sin6);
		return 0;
	default:
		return pv2_bad(why, whylen, "address family %u for a PROXY "
		    "command (only IPv4 and IPv6 over TCP are carried)", fam);
	}
}

int
proxyv2_parse(const void *p, size_t n, struct proxyv2 *out, char *why,
    size_t whylen)
{
	const unsigned char	*b = p;
	unsigned		 ver, cmd, fam, proto, alen;
	size_t			 cmp = n < PROXYV2_SIGLEN ? n : PROXYV2_SIGLEN;

	memset(out, 0, sizeof(*out));
	if (memcmp(b, PROXYV2_SIG, cmp) != 0)
		return pv2_bad(why, whylen, "not a PROXY protocol v2 header "
		    "(no signature)");
	if (n < PROXYV2_FIXED)
		return 0;
	ver = b[12] >> 4;
	cmd = b[12] & 0xf;
	fam = b[13] >> 4;
	proto = b[13] & 0xf;
	alen = (unsigned)b[14] << 8 | b[15];
	if (ver != 2)
		return pv2_bad(why, whylen, "PROXY protocol version %u, not 2",
		    ver);
	if (cmd != PV2_CMD_LOCAL && cmd != PV2_CMD_PROXY)
		return pv2_bad(why, whylen, "unknown PROXY protocol command %u",
		    cmd);
	if (PROXYV2_FIXED + (size_t)alen > PROXYV2_MAX)
		return pv2_bad(why, whylen, "a PROXY header of %u bytes, over "
		    "the cap of %d", PROXYV2_FIXED + alen, PROXYV2_MAX);
	if (n < PROXYV2_FIXED + (size_t)alen)
		return 0;
	if (cmd == PV2_CMD_LOCAL) {
		out->local = true;
		return PROXYV2_FIXED + (int)alen;
	}
	if (proto != PV2_STREAM)
		return pv2_bad(why, whylen, "transport %u in a PROXY header, "
		    "not a stream (TCP)", proto);
	if (pv2_addresses(b + PROXYV2_FIXED, fam, alen, out, why, whylen) ==
	    -1)
		return -1;
	return PROXYV2_FIXED + (int)alen;
}

bool
proxyv2_looks_like(const void *p, size_t n)
{
	static const char	 v1[] = "PROXY ";

	if (n == 0)
		return false;
	if (memcmp(p, PROXYV2_SIG, n < PROXYV2_SIGLEN ? n : PROXYV2_SIGLEN) ==
	    0)
		return true;
	return memcmp(p, v1, n < sizeof(v1) - 1 ? n : sizeof(v1) - 1) == 0;
}
