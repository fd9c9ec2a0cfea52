#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "hostport.h"

#define HOSTPORT_LABEL_MAX	63
#define HOSTPORT_SHOW		64	/* bytes of user input quoted in messages */

/* Quoting length for user input in messages: long input is cut short. */
static int
hostport_show(size_t len)
{
	return (int)(len < HOSTPORT_SHOW ? len : HOSTPORT_SHOW);
}

bool
port_check(const char *s, size_t len, uint16_t *out, char *why, size_t whylen)
{
	unsigned long	 v = 0;
	size_t		 i;

	if (len == 0) {
		uplink_fail(UPLINK_EINVAL, why, whylen,
		    "empty port after ':'; write a port "
		    "1-65535 or drop the ':'");
		return false;
	}
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			uplink_fail(UPLINK_EINVAL, why, whylen,
			    "port '%.*s' is not a number; "
			    "write a port 1-65535", hostport_show(len), s);
			return false;
		}
		/* Stop growing once out of range so long input cannot wrap. */
		if (v <= 65535)
			v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535) {
		uplink_fail(UPLINK_EINVAL, why, whylen,
		    "port %.*s is out of range (1-65535)", hostport_show(len),
		    s);
		return false;
	}
	*out = (uint16_t)v;
	return true;
}

bool
port_parse(const char *s, size_t len, uint16_t *out)
{
	return port_check(s, len, out, NULL, 0);
}

static bool
hostport_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
hostport_is_hex(char c)
{
	return hostport_is_digit(c) || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/*
 * A label that reads as a number: decimal, or hexadecimal with a 0x prefix.
 * When the last label of a host is one, URL parsers and inet_aton() treat the
 * whole host as an IPv4 address, so it must never pass as a name.
 */
static bool
hostport_label_numeric(const char *s, size_t len)
{
	size_t	 i = 0;

	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (i = 2; i < len; i++)
			if (!hostport_is_hex(s[i]))
				return false;
		return true;
	}
	for (i = 0; i < len; i++)
		if (!hostport_is_digit(s[i]))
			return false;
	return len > 0;
}

static bool
hostport_label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    hostport_is_digit(c) || c == '-' || c == '_';
}

/* Checks one label s[0..len), a part of the name for messages. */
static bool
hostport_label_check(const char *s, size_t len, char *why, size_t whylen)
{
	size_t	 i;

	if (len == 0) {
		uplink_fail(UPLINK_EINVAL, why, whylen,
		    "empty label in host name (two dots "
		    "in a row or a leading dot); remove the extra '.'");
		return false;
	}
	for (i = 0; i < len; i++) {
		if (hostport_label_char(s[i]))
			continue;
		if (s[i] >= ' ' && s[i] < 0x7f)
			uplink_fail(UPLINK_EINVAL, why, whylen,
			    "invalid character '%c' in "
			    "host name; names use letters, digits, '-' and '_'",
			    s[i]);
		else
			uplink_fail(UPLINK_EINVAL, why, whylen,
			    "invalid byte 0x%02x in host "
			    "name; names use letters, digits, '-' and '_'",
			    (unsigned char)s[i]);
		return false;
	}
	if (len > HOSTPORT_LABEL_MAX) {
		uplink_fail(UPLINK_EINVAL, why, whylen,
		    "label '%.16s...' is %zu characters "
		    "long; a label holds at most 63", s, len);
		return false;
	}
	if (s[0] == '-' || s[len - 1] == '-') {
		uplink_fail(UPLINK_EINVAL, why, whylen,
		    "label '%.*s' starts or ends with '-'", (int)len, s);
		return false;
	}
	return true;
}

bool
host_name_check(const char *name, size_t len, char *why, size_t whylen)
{
	const char	*p, *end = name + len, *dot;

	if (len == 0) {
		uplink_fail(UPLINK_EINVAL, why, whylen, "empty host name");
		return false;
	}
	if (len > HOSTPORT_HOST_MAX) {
		uplink_fail(UPLINK_EINVAL, why, whylen,
		    "host name is %zu characters long; the limit is 253",
		    len);
		return false;
	}
	for (p = name; ; p = dot + 1) {
		dot = memchr(p, '.', (size_t)(end - p));
		if (dot == NULL)
			break;
		if (!hostport_label_check(p, (size_t)(dot - p), why, whylen))
			return false;
	}
	if (!hostport_label_check(p, (size_t)(end - p), why, whylen))
		return false;
	if (hostport_label_numeric(p, (size_t)(end - p))) {
		uplink_fail(UPLINK_EINVAL, why, whylen,
		    "'%.*s' ends in a numeric label, so "
		    "it is neither a host name nor an IPv4 address; write all "
		    "four octets of an address (192.0.2.1)", hostport_show(len),
		    name);
		return false;
	}
	return true;
}

bool
host_name_valid(const char *name)
{
	size_t	 len;

	if (name == NULL)
		return false;
	len = strnlen(name, HOSTPORT_HOST_MAX + 2);
	if (len > 1 && name[len - 1] == '.')
		len--;
	return host_name_check(name, len, NULL, 0);
}

/*
 * Classifies s[0..len) as an address literal with inet_pton(), which takes
 * only the strict forms (dotted quad without leading zeros, RFC 4291 IPv6).
 * Returns HOST_NAME for anything else.
 */
static enum host_kind
hostport_literal(const char *s, size_t len)
{
	char		 tmp[INET6_ADDRSTRLEN + 1];
	unsigned char	 bin[16];

	if (len >= sizeof(tmp))
		return HOST_NAME;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET, tmp, bin) == 1)
		return HOST_IPV4;
	if (inet_pton(AF_INET6, tmp, bin) == 1)
		return HOST_IPV6;
	return HOST_NAME;
}

enum host_kind
host_classify(const char *host)
{
	size_t	 len;

	if (host == NULL)
		return HOST_NAME;
	len = strlen(host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
		return hostport_literal(host + 1, len - 2) == HOST_IPV6 ?
		    HOST_IPV6 : HOST_NAME;
	return hostport_literal(host, len);
}

/*
 * Splits "[V6]:PORT", "[V6]", "HOST:PORT", "HOST" and a bare IPv6 literal
 * into a host slice and an optional port slice (*port NULL when none).
 */
static int
hostport_split(const char *s, const char **host, size_t *hlen, bool *v6,
    const char **port, char *why, size_t whylen)
{
	const char	*rb, *colon;

	*port = NULL;
	*v6 = false;
	if (s[0] == '[') {
		rb = strchr(s, ']');
		if (rb == NULL) {
			uplink_fail(UPLINK_EINVAL, why, whylen,
			    "missing ']' after the IPv6 "
			    "address; write [fd00::1] or [fd00::1]:443");
			return UPLINK_EINVAL;
		}
		*host = s + 1;
		*hlen = (size_t)(rb - *host);
		*v6 = true;
		if (rb[1] == ':')
			*port = rb + 2;
		else if (rb[1] != '\0') {
			uplink_fail(UPLINK_EINVAL, why, whylen,
			    "unexpected text after ']'; "
			    "write [fd00::1] or [fd00::1]:443");
			return UPLINK_EINVAL;
		}
		return UPLINK_OK;
	}
	*host = s;
	colon = strchr(s, ':');
	if (colon != NULL && strchr(colon + 1, ':') != NULL) {
		/* Two or more colons: only an IPv6 literal, never a port. */
		*hlen = strlen(s);
		*v6 = true;
	} else if (colon != NULL) {
		*hlen = (size_t)(colon - s);
		*port = colon + 1;
	} else
		*hlen = strlen(s);
	return UPLINK_OK;
}

/* Checks and stores the host slice; v6 says the syntax demands IPv6. */
static int
hostport_set_host(struct hostport *out, const char *h, size_t hlen, bool v6,
    char *why, size_t whylen)
{
	enum host_kind	 kind;

	if (hlen == 0) {
		uplink_fail(UPLINK_EINVAL, why, whylen,
		    "empty host; write HOST or HOST:PORT");
		return UPLINK_EINVAL;
	}
	if (!v6 && hlen > 1 && h[hlen - 1] == '.')
		hlen--;
	kind = hostport_literal(h, hlen);
	if (v6 && kind != HOST_IPV6) {
		uplink_fail(UPLINK_EINVAL, why, whylen,
		    "'%.*s' is not an IPv6 address; an "
		    "IPv6 address with a port must be bracketed: [fd00::1]:443",
		    hostport_show(hlen), h);
		return UPLINK_EINVAL;
	}
	if (kind == HOST_NAME && !host_name_check(h, hlen, why, whylen))
		return UPLINK_EINVAL;
	memcpy(out->host, h, hlen);
	out->host[hlen] = '\0';
	out->kind = kind;
	return UPLINK_OK;
}

int
hostport_parse(const char *s, uint16_t default_port, struct hostport *out,
    char *why, size_t whylen)
{
	const char	*host, *port;
	size_t		 hlen;
	bool		 v6;
	int		 rc;

	if (s == NULL || *s == '\0') {
		uplink_fail(UPLINK_EINVAL, why, whylen,
		    "empty host; write HOST or HOST:PORT");
		return UPLINK_EINVAL;
	}
	rc = hostport_split(s, &host, &hlen, &v6, &port, why, whylen);
	if (rc != UPLINK_OK)
		return rc;
	memset(out, 0, sizeof(*out));
	rc = hostport_set_host(out, host, hlen, v6, why, whylen);
	if (rc != UPLINK_OK)
		return rc;
	out->port = default_port;
	if (port != NULL && !port_check(port, strlen(port), &out->port, why,
	    whylen))
		return UPLINK_EINVAL;
	return UPLINK_OK;
}

size_t
hostport_format(char *dst, size_t dstlen, const char *host, uint16_t port)
{
	bool	 v6;
	int	 n;

	v6 = strchr(host, ':') != NULL && host[0] != '[';
	if (port == 0)
		n = snprintf(dst, dstlen, "%s%s%s", v6 ? "[" : "", host,
		    v6 ? "]" : "");
	else
		n = snprintf(dst, dstlen, "%s%s%s:%u", v6 ? "[" : "", host,
		    v6 ? "]" : "", (unsigned)port);
	return n < 0 ? 0 : (size_t)n;
}

int
url_parse(const char *url, bool *https, struct hostport *hp, char *path,
    size_t pathlen, char *why, size_t whylen)
{
	const char	*rest;
	char		 auth[HOSTPORT_HOST_MAX + 16], inner[200];
	size_t		 alen;
	int		 n;

	if (strncasecmp(url, "https://", 8) == 0) {
		*https = true;
		rest = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		*https = false;
		rest = url + 7;
	} else {
		snprintf(why, whylen, "\"%s\" is not an http:// or https:// "
		    "URL", url);
		return UPLINK_EINVAL;
	}
	alen = strcspn(rest, "/?#");
	if (alen == 0 || alen >= sizeof(auth) || memchr(rest, '@', alen)) {
		snprintf(why, whylen, "\"%s\": bad host part", url);
		return UPLINK_EINVAL;
	}
	memcpy(auth, rest, alen);
	auth[alen] = '\0';
	if (hostport_parse(auth, *https ? 443 : 80, hp, inner, sizeof(inner)) !=
	    UPLINK_OK) {
		snprintf(why, whylen, "\"%s\": %s", url, inner);
		return UPLINK_EINVAL;
	}
	rest += alen;
	n = snprintf(path, pathlen, "%s%s", *rest == '/' ? "" : "/", rest);
	if (n < 0 || (size_t)n >= pathlen) {
		snprintf(why, whylen, "\"%s\": path too long", url);
		return UPLINK_EINVAL;
	}
	return UPLINK_OK;
}
