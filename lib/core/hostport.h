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

/*
 * Classifies a host string (no port): IPv4 literal, IPv6 literal (bare or
 * in brackets) or, for anything else, a name. It does not check name syntax.
 */
enum host_kind host_classify(const char *host);

/*
 * Checks DNS name syntax: labels of 1-63 letters, digits, '-' or '_' (not
 * starting or ending with '-'), total at most 253 after dropping one
 * trailing dot. The last label may not be numeric ("10", "0x1f"): such a
 * string is a malformed IPv4 address ("10.1.2", "010.1.2.3"), which some
 * resolvers would read as an address, not a name. Returns true when valid.
 */
bool host_name_valid(const char *name);

/*
 * The same check for name[0..len) (no trailing dot is dropped), saying what
 * is wrong and how to fix it in why (which may be NULL) when it fails.
 */
bool host_name_check(const char *name, size_t len, char *why, size_t whylen);

/* Parses a decimal port 1-65535 from s[0..len). Returns true on success. */
bool port_parse(const char *s, size_t len, uint16_t *out);

/*
 * port_parse() that says what is wrong in why (which may be NULL): an empty
 * port, one that is not a number, or one out of range.
 */
bool port_check(const char *s, size_t len, uint16_t *out, char *why,
    size_t whylen);

/*
 * Formats host and port as "host:port", bracketing IPv6 literals ("[::1]:443");
 * port 0 formats the host alone (still bracketed when IPv6). Always
 * NUL-terminates when dstlen > 0; returns the length that was needed.
 */
size_t hostport_format(char *dst, size_t dstlen, const char *host,
    uint16_t port);

/*
 * Splits an http:// or https:// URL: *https says which, hp receives the host
 * and the port (80 or 443 unless given), path the rest ("/" when empty; a
 * query without a path gets a leading "/"). User names are refused. Returns
 * UPLINK_OK or UPLINK_EINVAL with a reason in why that quotes the URL.
 */
int url_parse(const char *url, bool *https, struct hostport *hp, char *path,
    size_t pathlen, char *why, size_t whylen);

#endif
