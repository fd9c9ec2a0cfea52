#ifndef UPLINK_PROXYV2_H
#define UPLINK_PROXYV2_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>

/*
 * The PROXY protocol version 2 header (HAProxy's "send-proxy-v2"): a
 * 16-byte fixed part (12-byte signature, version and command, family,
 * length) and an address block with optional TLVs, sent by a load
 * balancer before the first byte of the client's. A decoder without I/O:
 * it takes the bytes read so far and says "need more", "bad (why)" or
 * "header of N bytes", with the client's address.
 *
 * Only version 2 is read (the text version 1 is not: a balancer that can
 * send v1 can send v2). The address block may carry TLVs, which are
 * skipped; the whole header is capped at PROXYV2_MAX bytes.
 */

#define PROXYV2_SIG		"\r\n\r\n\0\r\nQUIT\n"
#define PROXYV2_SIGLEN		12
#define PROXYV2_FIXED		16
#define PROXYV2_MAX		(PROXYV2_FIXED + 512)

struct proxyv2 {
	/*
	 * LOCAL: the balancer speaks for itself (its health checks); the
	 * connection's own address stands. Else the client's address.
	 */
	bool			 local;
	struct sockaddr_storage	 src;
	socklen_t		 srclen;
};

/*
 * Decodes the header at the start of p[0..n). Returns the header's length
 * (the bytes to consume) with *out filled; 0 when more bytes are needed
 * (never beyond PROXYV2_MAX); -1 when the bytes are not a valid header,
 * with why saying what is wrong ("not a PROXY protocol v2 header", "an
 * address block of 4 bytes for IPv4, which needs 12", ...).
 */
int proxyv2_parse(const void *p, size_t n, struct proxyv2 *out, char *why,
    size_t whylen);

/*
 * True when p[0..n) (n >= 1) starts like a PROXY header (v1 "PROXY " or
 * the v2 signature), as far as n bytes can tell: for refusing one from an
 * address that may not send it.
 */
bool proxyv2_looks_like(const void *p, size_t n);

#endif
