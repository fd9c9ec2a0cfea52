#ifndef UPLINK_HOSTPORT_H
#define UPLINK_HOSTPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Host names, address literals and "HOST:PORT" strings. Parsing does no I/O
 * and never resolves names.
 */

#define HOSTPORT_HOST_MAX	253	/* longest DNS name, without trailing dot */

enum host_kind {
	HOST_NAME,	/* a DNS name (syntax checked, case kept) */
	HOST_IPV4,	/* dotted quad */
	HOST_IPV6,	/* IPv6 literal, stored without brackets */
};

struct hostport {
	char		 host[HOSTPORT_HOST_MAX + 1];
	enum host_kind	 kind;
	uint16_t	 port;		/* 0 when none was given */
};

/*
 * Parses "HOST", "HOST:PORT", "[V6]", "[V6]:PORT" or a bare IPv6 literal
 * ("fd00::1", which then has no port). When default_port is non-zero it is
 * used when the string names none. A single trailing dot on a name is
 * dropped. Returns UPLINK_OK or UPLINK_EINVAL with a reason in why.
 */
int hostport_parse(const char *s, uint16_t default_port, struct hostport *out,
    char *why, size_t whylen);

/* Classifies a host string (no port): name, IPv4 or IPv6 literal. */
enum host_kind host_classify(const char *host);

/*
 * Checks DNS name syntax: labels of 1-63 letters, digits, '-' or '_' (not
 * starting or ending with '-'), total at most 253. Returns true when valid.
 */
bool host_name_valid(const char *name);

/* Parses a decimal port 1-65535 from s[0..len). Returns true on success. */
bool port_parse(const char *s, size_t len, uint16_t *out);

/*
 * Formats host and port as "host:port", bracketing IPv6 literals.
 * Always NUL-terminates; returns the length that was needed.
 */
size_t hostport_format(char *dst, size_t dstlen, const char *host,
    uint16_t port);

#endif
