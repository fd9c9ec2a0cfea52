/*
 * The proxy bypass list (see bypass.h and docs/internals/bypass.md).
 *
 * The list is copied twice when parsed: once as written, with a NUL written
 * after each entry so bypass_match() can hand out the entry text, and once
 * lower-cased, which name entries point into. Matching then walks the entries
 * in order against a host classified once: an address (IPv4-mapped IPv6
 * folded to IPv4) or a lower-cased name. Nothing here resolves names.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bypass.h"
#include "error.h"
#include "hostport.h"

#define BYPASS_SHOW	64	/* bytes of an entry quoted in messages */

enum bypass_kind {
	BYPASS_ALL,		/* "*" */
	BYPASS_LOCAL,		/* "<local>": a name without a dot */
	BYPASS_EXACT,		/* "host.example.com" */
	BYPASS_BELOW,		/* "*.example.com": names below, not itself */
	BYPASS_DOMAIN,		/* ".example.com": the name and names below */
	BYPASS_ADDR,		/* an address or block, IPv4 or IPv6 */
};

struct bypass_entry {
	enum bypass_kind kind;
	const char	*text;		/* as written, NUL-terminated */
	const char	*name;		/* lower case, no trailing dot, no NUL */
	size_t		 namelen;
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];	/* masked to prefix; IPv4 in [0..4) */
	unsigned	 prefix;
	uint16_t	 port;		/* 0: every port */
};

struct bypass {
	struct bypass_entry *ent;
	size_t		 n;
	size_t		 cap;
	char		*texts;		/* the list as written */
	char		*lower;		/* the list lower-cased */
};

/* The entry being parsed, for error messages. */
struct bypass_tok {
	const char	*s;		/* entry as written (not NUL-terminated) */
	const char	*lc;		/* the same bytes, lower-cased */
	size_t		 len;
	size_t		 off;		/* byte offset in the list */
	size_t		 index;		/* 1-based */
	struct bypass_error *err;	/* NULL for a quiet trial parse */
};

/* A host to match, classified once. */
struct bypass_host {
	bool		 is_addr;
	int		 family;
	uint8_t		 addr[16];
	char		 name[HOSTPORT_HOST_MAX + 1];
	size_t		 namelen;
};

static int bypass_fail(const struct bypass_tok *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Fills the error for the entry t and returns UPLINK_EINVAL. */
static int
bypass_fail(const struct bypass_tok *t, const char *fmt, ...)
{
	struct bypass_error	*err = t->err;
	va_list			 ap;
	size_t			 n;

	if (err == NULL)
		return UPLINK_EINVAL;
	err->index = t->index;
	err->offset = t->off;
	n = t->len < sizeof(err->entry) ? t->len : sizeof(err->entry) - 1;
	memcpy(err->entry, t->s, n);
	err->entry[n] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return UPLINK_EINVAL;
}

static int
bypass_show(size_t len)
{
	return (int)(len < BYPASS_SHOW ? len : BYPASS_SHOW);
}

bool
bypass_is_sep(char c)
{
	return c == ';' || c == ',' || c == ' ' || c == '\t' || c == '\n' ||
	    c == '\r' || c == '\v' || c == '\f';
}

static bool
bypass_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* True when s[0..len) holds only characters from set (and is not empty). */
static bool
bypass_only(const char *s, size_t len, const char *set)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (strchr(set, s[i]) == NULL || s[i] == '\0')
			return false;
	return len > 0;
}

/*
 * Parses an address literal s[0..len) into family and 16 bytes (IPv4 in the
 * first four). inet_pton() takes only strict forms: no leading zeros in a
 * dotted quad, no zone index.
 */
static bool
bypass_literal(const char *s, size_t len, int *family, uint8_t addr[16])
{
	char	 tmp[INET6_ADDRSTRLEN + 1];

	if (len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, tmp, addr) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, tmp, addr) == 1) {
		*family = AF_INET6;
		return true;
	}
	return false;
}

/*
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address it
 * carries: a dual-stack socket reports IPv4 peers that way. Folding both
 * hosts and entries to IPv4 makes 10.0.0.0/8 match ::ffff:10.1.2.3 and
 * ::ffff:10.1.2.3 match 10.1.2.3. A block wider than ::ffff:0:0/96 stays
 * IPv6 and so matches no IPv4 address. prefix may be NULL for a host.
 */
static void
bypass_unmap(int *family, uint8_t addr[16], unsigned *prefix)
{
	static const uint8_t	 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (*family != AF_INET6 || memcmp(addr, mapped, 12) != 0)
		return;
	if (prefix != NULL) {
		if (*prefix < 96)
			return;
		*prefix -= 96;
	}
	memmove(addr, addr + 12, 4);
	memset(addr + 4, 0, 12);
	*family = AF_INET;
}

/* Clears the bits of addr after the first bits. */
static void
bypass_mask(uint8_t addr[16], unsigned bits)
{
	unsigned	 i;

	for (i = 0; i < 16; i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		addr[i] &= (uint8_t)(0xff00u >> bits);
		bits = 0;
	}
}

static bool
bypass_prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned	 full = bits / 8, rest = bits % 8;
	uint8_t		 mask;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff00u >> rest);
	return (a[full] & mask) == (b[full] & mask);
}

static void
bypass_set_addr(struct bypass_entry *e, int family, const uint8_t addr[16],
    unsigned prefix)
{
	e->kind = BYPASS_ADDR;
	e->family = family;
	memcpy(e->addr, addr, 16);
	e->prefix = prefix;
	bypass_mask(e->addr, prefix);
	bypass_unmap(&e->family, e->addr, &e->prefix);
}

/* Parses the prefix length after '/' for an address of the given family. */
static int
bypass_prefix(const struct bypass_tok *t, const char *s, size_t len,
    int family, unsigned *out)
{
	unsigned	 max = family == AF_INET ? 32 : 128, v = 0;
	size_t		 i;

	if (len == 0)
		return bypass_fail(t, "empty prefix length after '/'; write "
		    "%s", family == AF_INET ? "10.0.0.0/8" : "fd00::/8");
	if (!bypass_only(s, len, "0123456789"))
		return bypass_fail(t, "prefix length '%.*s' is not a number; "
		    "write %s", bypass_show(len), s,
		    family == AF_INET ? "10.0.0.0/8" : "fd00::/8");
	for (i = 0; i < len && v <= max; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (v > max)
		return bypass_fail(t, "prefix length %.*s is out of range for "
		    "%s (0-%u)", bypass_show(len), s,
		    family == AF_INET ? "IPv4" : "IPv6", max);
	*out = v;
	return UPLINK_OK;
}

/*
 * "ADDR/LEN". The address may have host bits set (10.1.2.3/8): they are
 * masked off, as routers and curl's NO_PROXY do. v6 is set for a bracketed
 * or multi-colon entry, which must be IPv6.
 */
static int
bypass_parse_cidr(const struct bypass_tok *t, const char *h, size_t hlen,
    bool v6, struct bypass_entry *e)
{
	const char	*slash = memchr(h, '/', hlen);
	size_t		 alen = (size_t)(slash - h);
	uint8_t		 addr[16];
	unsigned	 prefix = 0;
	int		 family, rc;

	if (alen == 0)
		return bypass_fail(t, "a block needs an address before '/'; "
		    "write 10.0.0.0/8 or fd00::/8");
	if (!bypass_literal(h, alen, &family, addr)) {
		if (v6 || memchr(h, ':', alen) != NULL)
			return bypass_fail(t, "'%.*s' is not an IPv6 address; "
			    "write a block as fd00::/8", bypass_show(alen), h);
		if (bypass_only(h, alen, "0123456789."))
			return bypass_fail(t, "'%.*s' is not a complete IPv4 "
			    "address; a block is written with all four octets: "
			    "10.1.0.0/16", bypass_show(alen), h);
		return bypass_fail(t, "invalid character '/' in host name; "
		    "'/LENGTH' may only follow an address (10.0.0.0/8), and a "
		    "domain with its subdomains is written .example.com");
	}
	if (v6 && family != AF_INET6)
		return bypass_fail(t, "brackets are only for IPv6; write an "
		    "IPv4 block with a port as 10.0.0.0/8:443");
	rc = bypass_prefix(t, slash + 1, hlen - alen - 1, family, &prefix);
	if (rc != UPLINK_OK)
		return rc;
	bypass_set_addr(e, family, addr, prefix);
	return UPLINK_OK;
}

/* An IPv6 literal or block: bracketed, or bare with two or more colons. */
static int
bypass_parse_v6(const struct bypass_tok *t, const char *h, size_t hlen,
    struct bypass_entry *e)
{
	const char	*pct = memchr(h, '%', hlen);
	uint8_t		 addr[16];
	int		 family;

	if (hlen == 0)
		return bypass_fail(t, "empty brackets; write an IPv6 address "
		    "as [fd00::1] or [fd00::1]:443");
	if (pct != NULL)
		return bypass_fail(t, "zone index '%.*s' is not supported; "
		    "write the address without it (fe80::1) or a block "
		    "(fe80::/10)", bypass_show(hlen - (size_t)(pct - h)), pct);
	if (memchr(h, '/', hlen) != NULL)
		return bypass_parse_cidr(t, h, hlen, true, e);
	if (!bypass_literal(h, hlen, &family, addr))
		return bypass_fail(t, "'%.*s' is not an IPv6 address; write "
		    "fd00::1, [fd00::1]:443 or fd00::/8", bypass_show(hlen), h);
	if (family != AF_INET6)
		return bypass_fail(t, "brackets are only for IPv6; write an "
		    "IPv4 address with a port as 192.0.2.1:443");
	bypass_set_addr(e, family, addr, 128);
	return UPLINK_OK;
}

/*
 * A bare entry with two or more colons can only be IPv6, so it has no port.
 * When it does not parse but would without a trailing ":DIGITS", the user
 * meant a port: say how to bracket it.
 */
static int
bypass_parse_bare_v6(const struct bypass_tok *t, struct bypass_entry *e)
{
	struct bypass_tok	 quiet = *t;
	struct bypass_entry	 scratch;
	const char		*colon;
	size_t			 alen;
	int			 rc;

	rc = bypass_parse_v6(t, t->s, t->len, e);
	if (rc == UPLINK_OK)
		return rc;
	colon = t->s + t->len;
	while (colon[-1] != ':')
		colon--;
	alen = (size_t)(colon - 1 - t->s);
	quiet.err = NULL;
	if (!bypass_only(colon, t->len - alen - 1, "0123456789") ||
	    bypass_parse_v6(&quiet, t->s, alen, &scratch) != UPLINK_OK)
		return rc;
	return bypass_fail(t, "an IPv6 %s with a port must be bracketed: "
	    "[%.*s]:%.*s", memchr(t->s, '/', alen) != NULL ? "block" :
	    "address", bypass_show(alen), t->s, bypass_show(t->len - alen - 1),
	    colon);
}

/* Parses one octet of an IPv4 wildcard: 0-255, no leading zero. */
static int
bypass_octet(const struct bypass_tok *t, const char *s, size_t len,
    uint8_t *out)
{
	unsigned	 v = 0;
	size_t		 i;

	if (len == 0)
		return bypass_fail(t, "empty octet in an IPv4 wildcard; write "
		    "10.*, 192.168.* or 10.1.2.*");
	if (len > 1 && s[0] == '0')
		return bypass_fail(t, "octet '%.*s' has a leading zero, which "
		    "some software reads as octal; write it without",
		    bypass_show(len), s);
	for (i = 0; i < len && v <= 255; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (v > 255)
		return bypass_fail(t, "octet %.*s is out of range (0-255)",
		    bypass_show(len), s);
	*out = (uint8_t)v;
	return UPLINK_OK;
}

/* Reports the ways a digits-dots-stars entry fails to be "A.B.*". */
static int
bypass_v4wild_error(const struct bypass_tok *t, const char *h, size_t hlen)
{
	const char	*star = memchr(h, '*', hlen);
	size_t		 keep = (size_t)(star - h) + 1, i;
	bool		 trailing = star > h && star[-1] == '.';

	/* "10.*.*": only ".*" pairs after the first star. */
	for (i = keep; trailing && i < hlen; i += 2)
		if (i + 1 >= hlen || h[i] != '.' || h[i + 1] != '*')
			trailing = false;
	if (trailing && keep < hlen)
		return bypass_fail(t, "a trailing '*' already matches every "
		    "remaining octet; write '%.*s'", bypass_show(keep), h);
	return bypass_fail(t, "'*' in an address must replace whole trailing "
	    "octets (10.*, 192.168.*, 10.1.2.*); for other ranges use a block "
	    "such as 10.0.0.0/8");
}

/* "10.*", "192.168.*", "10.1.2.*": the block of the leading octets. */
static int
bypass_parse_v4wild(const struct bypass_tok *t, const char *h, size_t hlen,
    struct bypass_entry *e)
{
	uint8_t		 addr[16];
	const char	*p, *end, *dot;
	unsigned	 n = 0;
	int		 rc;

	if (hlen < 3 || h[hlen - 1] != '*' || h[hlen - 2] != '.' ||
	    memchr(h, '*', hlen - 1) != NULL)
		return bypass_v4wild_error(t, h, hlen);
	memset(addr, 0, sizeof(addr));
	end = h + hlen - 2;
	for (p = h; p <= end; p = dot + 1) {
		dot = memchr(p, '.', (size_t)(end - p));
		if (dot == NULL)
			dot = end;
		if (n == 3)
			return bypass_fail(t, "too many octets before '*'; "
			    "write at most three, as in 10.1.2.*");
		rc = bypass_octet(t, p, (size_t)(dot - p), &addr[n++]);
		if (rc != UPLINK_OK)
			return rc;
	}
	bypass_set_addr(e, AF_INET, addr, n * 8);
	return UPLINK_OK;
}

/* "<local>", in any case; nothing else is written in angle brackets. */
static int
bypass_parse_keyword(const struct bypass_tok *t, const char *h, size_t hlen,
    struct bypass_entry *e)
{
	if (hlen == 7 && strncasecmp(h, "<local>", 7) == 0) {
		e->kind = BYPASS_LOCAL;
		return UPLINK_OK;
	}
	return bypass_fail(t, "unknown keyword '%.*s'; the only one is "
	    "<local> (host names without a dot)", bypass_show(hlen), h);
}

/* "name", "*.name" or ".name", as the final choice for an entry. */
static int
bypass_parse_name(const struct bypass_tok *t, const char *h, size_t hlen,
    int flags, struct bypass_entry *e)
{
	const char	*n = h;
	size_t		 len = hlen;
	char		 why[200];

	e->kind = BYPASS_EXACT;
	if (len >= 2 && n[0] == '*' && n[1] == '.') {
		e->kind = BYPASS_BELOW;
		n += 2;
		len -= 2;
	} else if (n[0] == '.') {
		e->kind = BYPASS_DOMAIN;
		n++;
		len--;
	}
	if (memchr(n, '*', len) != NULL)
		return bypass_fail(t, "'*' is only allowed as a leading '*.' "
		    "label or alone; write '*.example.com'");
	if (len > 0 && n[len - 1] == '.')
		len--;
	if (len == 0)
		return bypass_fail(t, "'%.*s' needs a domain after it; write "
		    "'%s'", (int)(n - h), h, e->kind == BYPASS_BELOW ?
		    "*.example.com" : ".example.com");
	if (e->kind == BYPASS_EXACT && bypass_only(n, len, "0123456789."))
		return bypass_fail(t, "not a valid IPv4 address; write four "
		    "octets 0-255 (192.0.2.1), a block (10.0.0.0/8) or a "
		    "wildcard (10.*)");
	if (!host_name_check(n, len, why, sizeof(why)))
		return bypass_fail(t, "%s", why);
	if (e->kind == BYPASS_EXACT && (flags & BYPASS_NOPROXY_ENV))
		e->kind = BYPASS_DOMAIN;
	e->name = t->lc + (n - t->s);
	e->namelen = len;
	return UPLINK_OK;
}

/* The host part of an entry that is neither bracketed nor bare IPv6. */
static int
bypass_parse_host(const struct bypass_tok *t, const char *h, size_t hlen,
    int flags, struct bypass_entry *e)
{
	uint8_t		 addr[16];
	size_t		 alen = hlen;
	int		 family;

	if (hlen == 0)
		return bypass_fail(t, "empty host before ':'; to match every "
		    "host on one port write '*:443'");
	if (hlen == 1 && h[0] == '*') {
		e->kind = BYPASS_ALL;
		return UPLINK_OK;
	}
	if (h[0] == '<')
		return bypass_parse_keyword(t, h, hlen, e);
	if (memchr(h, '/', hlen) != NULL)
		return bypass_parse_cidr(t, h, hlen, false, e);
	if (bypass_is_digit(h[0]) && memchr(h, '*', hlen) != NULL &&
	    bypass_only(h, hlen, "0123456789.*"))
		return bypass_parse_v4wild(t, h, hlen, e);
	if (alen > 1 && h[alen - 1] == '.')
		alen--;
	if (bypass_literal(h, alen, &family, addr)) {
		bypass_set_addr(e, family, addr, family == AF_INET ? 32 : 128);
		return UPLINK_OK;
	}
	return bypass_parse_name(t, h, hlen, flags, e);
}

static int
bypass_port(const struct bypass_tok *t, const char *s, size_t len,
    struct bypass_entry *e)
{
	char	 why[160];

	if (!port_check(s, len, &e->port, why, sizeof(why)))
		return bypass_fail(t, "%s", why);
	return UPLINK_OK;
}

/*
 * Splits off ":PORT" and dispatches on the shape of what is left: "[...]" and
 * bare multi-colon entries are IPv6, the rest goes to bypass_parse_host().
 */
static int
bypass_parse_entry(const struct bypass_tok *t, int flags,
    struct bypass_entry *e)
{
	const char	*s = t->s, *end = t->s + t->len, *rb, *colon, *port;
	int		 rc;

	if (s[0] == '[') {
		rb = memchr(s, ']', t->len);
		if (rb == NULL)
			return bypass_fail(t, "unbalanced '['; write an IPv6 "
			    "address as [fd00::1] or [fd00::1]:443");
		port = rb + 1;
		if (port < end && *port != ':')
			return bypass_fail(t, "unexpected text after ']'; write "
			    "[fd00::1] or [fd00::1]:443");
		rc = bypass_parse_v6(t, s + 1, (size_t)(rb - s - 1), e);
	} else if (memchr(s, ']', t->len) != NULL) {
		return bypass_fail(t, "unbalanced ']'; write an IPv6 address "
		    "as [fd00::1] or [fd00::1]:443");
	} else {
		colon = memchr(s, ':', t->len);
		if (colon != NULL && memchr(colon + 1, ':',
		    (size_t)(end - colon - 1)) != NULL)
			return bypass_parse_bare_v6(t, e);
		port = colon != NULL ? colon : end;
		rc = bypass_parse_host(t, s, (size_t)(port - s), flags, e);
	}
	if (rc != UPLINK_OK || port == end)
		return rc;
	return bypass_port(t, port + 1, (size_t)(end - port - 1), e);
}

/* Parses list[off..off+len) as the next entry and appends it. */
static int
bypass_add(struct bypass *bp, size_t off, size_t len, int flags,
    struct bypass_error *err)
{
	struct bypass_tok	 t;
	struct bypass_entry	*e, *grown;
	size_t			 ncap;
	int			 rc;

	t.s = bp->texts + off;
	t.lc = bp->lower + off;
	t.len = len;
	t.off = off;
	t.index = bp->n + 1;
	t.err = err;
	if (bp->n == BYPASS_MAX_ENTRIES) {
		bypass_fail(&t, "the list has more than %d entries; use "
		    "wildcards (*.example.com) or blocks (10.0.0.0/8) to "
		    "shorten it", BYPASS_MAX_ENTRIES);
		return UPLINK_ETOOBIG;
	}
	if (bp->n == bp->cap) {
		ncap = bp->cap == 0 ? 8 : bp->cap * 2;
		grown = reallocarray(bp->ent, ncap, sizeof(*bp->ent));
		if (grown == NULL)
			return UPLINK_ENOMEM;
		bp->ent = grown;
		bp->cap = ncap;
	}
	e = &bp->ent[bp->n];
	memset(e, 0, sizeof(*e));
	rc = bypass_parse_entry(&t, flags, e);
	if (rc != UPLINK_OK)
		return rc;
	/* The separator after the entry (or the final NUL) ends its text. */
	bp->texts[off + len] = '\0';
	e->text = bp->texts + off;
	bp->n++;
	return UPLINK_OK;
}

static char
bypass_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Makes the empty list with both copies of the text. */
static struct bypass *
bypass_new(const char *list, size_t len)
{
	struct bypass	*bp;
	size_t		 i;

	bp = calloc(1, sizeof(*bp));
	if (bp == NULL)
		return NULL;
	bp->texts = malloc(len + 1);
	bp->lower = malloc(len + 1);
	if (bp->texts == NULL || bp->lower == NULL) {
		bypass_free(bp);
		return NULL;
	}
	memcpy(bp->texts, list, len + 1);
	for (i = 0; i <= len; i++)
		bp->lower[i] = bypass_lower(list[i]);
	return bp;
}

int
bypass_parse(const char *list, int flags, struct bypass **out,
    struct bypass_error *err)
{
	struct bypass	*bp;
	size_t		 len, i = 0, start;
	int		 rc = UPLINK_OK;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (out == NULL)
		return UPLINK_EINVAL;
	if (list == NULL)
		list = "";
	len = strlen(list);
	bp = bypass_new(list, len);
	if (bp == NULL)
		return UPLINK_ENOMEM;
	for (;;) {
		while (i < len && bypass_is_sep(list[i]))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && !bypass_is_sep(list[i]))
			i++;
		rc = bypass_add(bp, start, i - start, flags, err);
		if (rc != UPLINK_OK)
			goto fail;
	}
	*out = bp;
	return UPLINK_OK;
fail:
	bypass_free(bp);
	return rc;
}

/*
 * Classifies the host to match: "[v6]", an address literal (mapped IPv6
 * folded to IPv4) or a name, lower-cased. One trailing dot is ignored.
 * Anything else (a zone index, junk, an over-long name) is no host at all:
 * it matches no entry, not even "*", so junk never takes the direct path.
 */
static bool
bypass_host_parse(const char *host, struct bypass_host *h)
{
	size_t	 len = strlen(host), i;

	memset(h, 0, sizeof(*h));
	if (len >= 2 && host[0] == '[') {
		if (host[len - 1] != ']' || !bypass_literal(host + 1, len - 2,
		    &h->family, h->addr) || h->family != AF_INET6)
			return false;
		h->is_addr = true;
		bypass_unmap(&h->family, h->addr, NULL);
		return true;
	}
	if (len > 1 && host[len - 1] == '.' && memchr(host, ':', len) == NULL)
		len--;
	if (bypass_literal(host, len, &h->family, h->addr)) {
		h->is_addr = true;
		bypass_unmap(&h->family, h->addr, NULL);
		return true;
	}
	if (!host_name_check(host, len, NULL, 0))
		return false;
	for (i = 0; i < len; i++)
		h->name[i] = bypass_lower(host[i]);
	h->name[len] = '\0';
	h->namelen = len;
	return true;
}

/* True when the host name lies strictly below the entry's domain. */
static bool
bypass_below(const struct bypass_entry *e, const struct bypass_host *h)
{
	const char	*tail;

	if (h->namelen <= e->namelen)
		return false;
	tail = h->name + h->namelen - e->namelen;
	return tail[-1] == '.' && memcmp(tail, e->name, e->namelen) == 0;
}

static bool
bypass_entry_match(const struct bypass_entry *e, const struct bypass_host *h)
{
	bool	 same;

	if (e->kind == BYPASS_ALL)
		return true;
	if (e->kind == BYPASS_ADDR)
		return h->is_addr && h->family == e->family &&
		    bypass_prefix_eq(h->addr, e->addr, e->prefix);
	if (h->is_addr)
		return false;
	same = h->namelen == e->namelen &&
	    memcmp(h->name, e->name, e->namelen) == 0;
	switch (e->kind) {
	case BYPASS_LOCAL:
		return memchr(h->name, '.', h->namelen) == NULL;
	case BYPASS_EXACT:
		return same;
	case BYPASS_BELOW:
		return bypass_below(e, h);
	case BYPASS_DOMAIN:
		return same || bypass_below(e, h);
	default:
		return false;
	}
}

int
bypass_match(const struct bypass *bp, const char *host, uint16_t port,
    const char **rule)
{
	struct bypass_host	 h;
	size_t			 i;

	if (bp == NULL || host == NULL || !bypass_host_parse(host, &h))
		return -1;
	for (i = 0; i < bp->n; i++) {
		if (bp->ent[i].port != 0 && bp->ent[i].port != port)
			continue;
		if (!bypass_entry_match(&bp->ent[i], &h))
			continue;
		if (rule != NULL)
			*rule = bp->ent[i].text;
		return (int)i;
	}
	return -1;
}

size_t
bypass_count(const struct bypass *bp)
{
	return bp == NULL ? 0 : bp->n;
}

void
bypass_free(struct bypass *bp)
{
	if (bp == NULL)
		return;
	free(bp->ent);
	free(bp->texts);
	free(bp->lower);
	free(bp);
}
