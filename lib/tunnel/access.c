/*
 * The connector's access list (see access.h and docs/internals/access.md).
 *
 * The grammar is a strict subset of the bypass list's (lib/bypass.c), so the
 * matching is the bypass list's too: each entry is checked here against the
 * stricter rules (a port is mandatory, no "*", "<local>", ".domain" or
 * "10.*"), with messages that say how to write it as an access rule. Then a
 * copy of the list in which every ":*" suffix is blanked out (spaces are
 * separators, so "10.0.0.0/8:*" becomes "10.0.0.0/8", which bypass reads as
 * "any port") is handed to bypass_parse(). Entries keep their positions, so
 * bypass_match()'s index finds the entry as written.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "bypass.h"
#include "error.h"
#include "hostport.h"

#define ACCESS_SHOW	64	/* bytes of an entry quoted in messages */

/*
 * An address entry, for resolve-then-check: the block as IPv6 (an IPv4
 * block a.b.c.d/n is ::ffff:a.b.c.d/96+n), its port or any.
 */
struct access_net {
	unsigned char	 addr[16];
	unsigned	 bits;
	bool		 v4;		/* written as IPv4 or ::ffff:... /96+ */
	bool		 any;
	uint16_t	 port;
	size_t		 index;		/* into rule[] */
};

struct access {
	struct bypass	 *bp;
	char		 *texts;	/* the list as written, NUL after entries */
	const char	**rule;		/* rule[i]: entry i as written */
	size_t		  n;
	struct access_net *nets;	/* the address entries */
	size_t		  nnets;
};

/* The entry being checked, for error messages. */
struct access_tok {
	const char		*s;	/* entry as written (not NUL-terminated) */
	size_t			 len;
	size_t			 index;	/* 1-based */
	struct access_error	*err;
};

/* An entry split into its host and port parts. */
struct access_parts {
	const char	*host;
	size_t		 hlen;
	bool		 bracketed;
	const char	*port;		/* NULL when the entry has none */
	size_t		 plen;
};

static int access_fail(const struct access_tok *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* Fills the error for the entry t and returns UPLINK_EINVAL. */
static int
access_fail(const struct access_tok *t, const char *fmt, ...)
{
	struct access_error	*err = t->err;
	va_list			 ap;
	size_t			 n;

	if (err == NULL)
		return UPLINK_EINVAL;
	err->index = t->index;
	n = t->len < sizeof(err->entry) ? t->len : sizeof(err->entry) - 1;
	memcpy(err->entry, t->s, n);
	err->entry[n] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return UPLINK_EINVAL;
}

static int
access_show(size_t len)
{
	return (int)(len < ACCESS_SHOW ? len : ACCESS_SHOW);
}

/* True when s[0..len) is not empty and holds only characters from set. */
static bool
access_only(const char *s, size_t len, const char *set)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (s[i] == '\0' || strchr(set, s[i]) == NULL)
			return false;
	return len > 0;
}

static bool
access_literal(const char *s, size_t len, int family)
{
	char		 tmp[INET6_ADDRSTRLEN + 1];
	unsigned char	 bin[16];

	if (len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return inet_pton(family, tmp, bin) == 1;
}

/* The port text for a suggestion: as written, or "PORT" when missing. */
static void
access_port_hint(const struct access_parts *p, const char **s, int *len)
{
	if (p->port == NULL || p->plen == 0) {
		*s = "PORT";
		*len = 4;
	} else {
		*s = p->port;
		*len = access_show(p->plen);
	}
}

/*
 * Splits "[V6]:PORT", "HOST:PORT" and the port-less forms. A bare entry
 * with two colons or more is IPv6 without brackets, which cannot carry a
 * port unambiguously, so it is refused here.
 */
static int
access_split(const struct access_tok *t, struct access_parts *p)
{
	const char	*s = t->s, *end = t->s + t->len, *rb, *colon;

	memset(p, 0, sizeof(*p));
	if (s[0] == '[') {
		rb = memchr(s, ']', t->len);
		if (rb == NULL)
			return access_fail(t, "unbalanced '['; write an IPv6 "
			    "address as [fd00::1]:443");
		if (rb + 1 < end && rb[1] != ':')
			return access_fail(t, "unexpected text after ']'; write "
			    "[fd00::1]:443 or [fd00::/8]:*");
		p->host = s + 1;
		p->hlen = (size_t)(rb - s - 1);
		p->bracketed = true;
		if (rb + 1 < end) {
			p->port = rb + 2;
			p->plen = (size_t)(end - rb - 2);
		}
		return UPLINK_OK;
	}
	if (memchr(s, ']', t->len) != NULL)
		return access_fail(t, "unbalanced ']'; write an IPv6 address "
		    "as [fd00::1]:443");
	colon = memchr(s, ':', t->len);
	if (colon != NULL && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
		return access_fail(t, "an IPv6 address or block is written in "
		    "brackets followed by its port: [fd00::1]:443 or "
		    "[fd00::/8]:*");
	p->host = s;
	p->hlen = colon != NULL ? (size_t)(colon - s) : t->len;
	if (colon != NULL) {
		p->port = colon + 1;
		p->plen = (size_t)(end - colon - 1);
	}
	return UPLINK_OK;
}

/*
 * Why a block may not be allowed: one that holds every address of a family
 * is "allow everything" written another way, and "*:*" is refused, so
 * 0.0.0.0/0, ::/0 and ::ffff:0:0/96 (every IPv4 address, as IPv4
 * destinations also match their mapped form; a wider IPv6 block matches no
 * IPv4 host, see docs/internals/bypass.md) are refused too, whatever the
 * port. The admin names networks instead.
 */
static int
access_refuse_everything(const struct access_tok *t, const char *family)
{
	return access_fail(t, "this block holds every %s address, which would "
	    "let the cloud reach any host; name the networks the cloud may "
	    "reach instead (10.0.0.0/8:*, 192.168.1.0/24:443, [fd00::/8]:*)",
	    family);
}

/* The prefix length after '/': digits, at most max; *out gets it. */
static int
access_check_prefix(const struct access_tok *t, const char *s, size_t len,
    unsigned max, unsigned *out)
{
	const char	*eg = max == 32 ? "10.0.0.0/8:*" : "[fd00::/8]:*";
	unsigned	 v = 0;
	size_t		 i;

	if (len == 0)
		return access_fail(t, "empty prefix length after '/'; write %s",
		    eg);
	if (!access_only(s, len, "0123456789"))
		return access_fail(t, "prefix length '%.*s' is not a number; "
		    "write %s", access_show(len), s, eg);
	for (i = 0; i < len && v <= max; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (v > max)
		return access_fail(t, "prefix length %.*s is out of range for "
		    "%s (0-%u)", access_show(len), s, max == 32 ? "IPv4" :
		    "IPv6", max);
	*out = v;
	return UPLINK_OK;
}

/* True when the first bits bits of a and b are equal. */
static bool
access_prefix_equal(const unsigned char *a, const unsigned char *b,
    unsigned bits)
{
	unsigned	 full = bits / 8, rest = bits % 8;
	unsigned char	 mask = (unsigned char)(0xff << (8 - rest));

	if (memcmp(a, b, full) != 0)
		return false;
	return rest == 0 || ((a[full] ^ b[full]) & mask) == 0;
}

/* The inside of brackets: an IPv6 address or block. */
static int
access_check_v6(const struct access_tok *t, const struct access_parts *p)
{
	const char	*h = p->host, *slash = memchr(h, '/', p->hlen), *port;
	size_t		 hlen = p->hlen;
	size_t		 alen = slash != NULL ? (size_t)(slash - h) : hlen;
	static const unsigned char mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff, 0, 0, 0, 0 };
	unsigned char	 bin[16];
	char		 tmp[INET6_ADDRSTRLEN + 1];
	unsigned	 bits = 0;
	int		 plen, rc;

	if (hlen == 0)
		return access_fail(t, "empty brackets; write an IPv6 address "
		    "as [fd00::1]:443");
	if (memchr(h, '%', hlen) != NULL)
		return access_fail(t, "zone index is not supported; write the "
		    "address without it ([fe80::1]:443) or a block "
		    "([fe80::/10]:*)");
	access_port_hint(p, &port, &plen);
	if (access_literal(h, alen, AF_INET))
		return access_fail(t, "brackets are only for IPv6; write an "
		    "IPv4 %s without them: %.*s:%.*s", slash != NULL ? "block" :
		    "address", access_show(hlen), h, plen, port);
	if (!access_literal(h, alen, AF_INET6))
		return access_fail(t, "'%.*s' is not an IPv6 address; write "
		    "[fd00::1]:443 or [fd00::/8]:*", access_show(alen), h);
	if (slash == NULL)
		return UPLINK_OK;
	rc = access_check_prefix(t, slash + 1, hlen - alen - 1, 128, &bits);
	if (rc != UPLINK_OK)
		return rc;
	memcpy(tmp, h, alen);
	tmp[alen] = '\0';
	inet_pton(AF_INET6, tmp, bin);
	if (bits == 0)
		return access_refuse_everything(t, "IPv6 and IPv4");
	if (bits == 96 && access_prefix_equal(bin, mapped, bits))
		return access_refuse_everything(t, "IPv4 (as ::ffff:0:0/96)");
	return UPLINK_OK;
}

/* "ADDR/LEN" without brackets: an IPv4 block. */
static int
access_check_v4block(const struct access_tok *t, const char *h, size_t hlen)
{
	const char	*slash = memchr(h, '/', hlen);
	size_t		 alen = (size_t)(slash - h);
	unsigned	 bits = 0;
	int		 rc;

	if (alen == 0)
		return access_fail(t, "a block needs an address before '/'; "
		    "write 10.0.0.0/8:*");
	if (!access_literal(h, alen, AF_INET)) {
		if (access_only(h, alen, "0123456789."))
			return access_fail(t, "'%.*s' is not a complete IPv4 "
			    "address; a block is written with all four octets: "
			    "10.1.0.0/16:*", access_show(alen), h);
		return access_fail(t, "'/LENGTH' may only follow an address "
		    "(10.0.0.0/8:*); a domain and its subdomains are "
		    "written *.example.com:443");
	}
	rc = access_check_prefix(t, slash + 1, hlen - alen - 1, 32, &bits);
	if (rc == UPLINK_OK && bits == 0)
		return access_refuse_everything(t, "IPv4");
	return rc;
}

/*
 * "10.*", "192.168.*": the bypass list's octet wildcards are not access
 * rules. When the leading octets are well formed, the message spells out
 * the equivalent block.
 */
static int
access_refuse_v4wild(const struct access_tok *t, const struct access_parts *p)
{
	const char	*h = p->host, *end = p->host + p->hlen - 2, *s, *dot;
	const char	*port;
	unsigned	 oct[4] = { 0, 0, 0, 0 }, n = 0;
	int		 plen;
	bool		 ok;

	access_port_hint(p, &port, &plen);
	ok = p->hlen >= 3 && memcmp(end, ".*", 2) == 0 &&
	    memchr(h, '*', p->hlen - 1) == NULL;
	for (s = h; ok && s <= end; s = dot + 1) {
		dot = memchr(s, '.', (size_t)(end - s));
		if (dot == NULL)
			dot = end;
		if (n == 3 || dot == s || dot - s > 3 || (dot - s > 1 &&
		    s[0] == '0'))
			ok = false;
		for (; ok && s < dot; s++)
			oct[n] = oct[n] * 10 + (unsigned)(*s - '0');
		if (ok && oct[n++] > 255)
			ok = false;
	}
	if (!ok)
		return access_fail(t, "'*' in an address is not an access rule; "
		    "write a block such as 10.0.0.0/8:*");
	return access_fail(t, "'*' in an address is not an access rule; write "
	    "the block %u.%u.%u.%u/%u:%.*s", oct[0], oct[1], oct[2], oct[3],
	    n * 8, plen, port);
}

/* A name or "*.name", after the forms that are refused outright. */
static int
access_check_name(const struct access_tok *t, const char *h, size_t hlen)
{
	char	 why[200];

	if (hlen >= 2 && h[0] == '*' && h[1] == '.') {
		h += 2;
		hlen -= 2;
		if (hlen == 0 || (hlen == 1 && h[0] == '.'))
			return access_fail(t, "'*.' needs a domain after it; "
			    "write *.example.com:443");
	}
	if (memchr(h, '*', hlen) != NULL)
		return access_fail(t, "'*' is only allowed as a leading '*.' "
		    "label; write *.example.com:443");
	if (hlen > 1 && h[hlen - 1] == '.')
		hlen--;
	if (!host_name_check(h, hlen, why, sizeof(why)))
		return access_fail(t, "%s", why);
	return UPLINK_OK;
}

/* The host part of an unbracketed entry. */
static int
access_check_host(const struct access_tok *t, const struct access_parts *p)
{
	const char	*h = p->host, *port;
	size_t		 hlen = p->hlen, alen = p->hlen;
	int		 plen;

	access_port_hint(p, &port, &plen);
	if (hlen == 0)
		return access_fail(t, "empty host before ':'; write HOST:PORT, "
		    "e.g. intranet.corp.example:443");
	if (hlen == 1 && h[0] == '*')
		return access_fail(t, "'*' alone would allow every destination; "
		    "name hosts (intranet.corp.example:443), domains "
		    "(*.corp.example:443) or address blocks (10.0.0.0/8:*)");
	if (h[0] == '<')
		return access_fail(t, "'%.*s' is a bypass-list keyword, not an "
		    "access rule; name each host with its port, e.g. "
		    "intranet:80", access_show(hlen), h);
	if (h[0] == '.' && hlen == 1)
		return access_fail(t, "'.' is not a host; write a name with "
		    "its port, e.g. intranet.corp.example:443");
	if (h[0] == '.')
		return access_fail(t, "'.domain' is a bypass-list form; to allow "
		    "a domain and the names below it write both %.*s:%.*s and "
		    "*%.*s:%.*s", access_show(hlen - 1), h + 1, plen, port,
		    access_show(hlen), h, plen, port);
	if (memchr(h, '/', hlen) != NULL)
		return access_check_v4block(t, h, hlen);
	if (h[0] >= '0' && h[0] <= '9' && memchr(h, '*', hlen) != NULL &&
	    access_only(h, hlen, "0123456789.*"))
		return access_refuse_v4wild(t, p);
	if (alen > 1 && h[alen - 1] == '.')
		alen--;
	if (access_literal(h, alen, AF_INET))
		return UPLINK_OK;
	if (access_only(h, hlen, "0123456789."))
		return access_fail(t, "'%.*s' is not a valid IPv4 address; write "
		    "four octets 0-255 (192.0.2.1:443) or a block "
		    "(10.0.0.0/8:*)", access_show(hlen), h);
	return access_check_name(t, h, hlen);
}

/* The port: present, and "*" or 1-65535. Sets *any for "*". */
static int
access_check_port(const struct access_tok *t, const struct access_parts *p,
    bool *any)
{
	char		 why[160];
	uint16_t	 port;

	*any = false;
	if (p->port == NULL)
		return access_fail(t, "no port; add :PORT or :* (any port), "
		    "e.g. %.*s:443 or %.*s:*", access_show(t->len), t->s,
		    access_show(t->len), t->s);
	if (p->plen == 0)
		return access_fail(t, "empty port after ':'; write a port "
		    "1-65535, or * for any port");
	if (p->plen == 1 && p->port[0] == '*') {
		*any = true;
		return UPLINK_OK;
	}
	if (!port_check(p->port, p->plen, &port, why, sizeof(why)))
		return access_fail(t, "%s; or write :* for any port", why);
	return UPLINK_OK;
}

/* Checks one entry; *any says it ends in ":*". */
static int
access_check_entry(const struct access_tok *t, bool *any)
{
	struct access_parts	 p;
	int			 rc;

	rc = access_split(t, &p);
	if (rc != UPLINK_OK)
		return rc;
	if (p.bracketed)
		rc = access_check_v6(t, &p);
	else
		rc = access_check_host(t, &p);
	if (rc != UPLINK_OK)
		return rc;
	return access_check_port(t, &p, any);
}

/*
 * Walks the list, checks every entry and blanks ":*" in the copy bypass
 * will read. Fills a->rule with offsets into a->texts for now.
 */
static int
access_scan(struct access *a, char *plain, size_t len,
    struct access_error *err)
{
	struct access_tok	 t;
	size_t			 i = 0, start;
	bool			 any;
	int			 rc;

	while (i < len) {
		while (i < len && bypass_is_sep(a->texts[i]))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && !bypass_is_sep(a->texts[i]))
			i++;
		t.s = a->texts + start;
		t.len = i - start;
		t.index = a->n + 1;
		t.err = err;
		if (a->n == ACCESS_MAX_ENTRIES) {
			access_fail(&t, "the list has more than %d entries; "
			    "use domains (*.corp.example:443) or blocks "
			    "(10.0.0.0/8:*) to shorten it", ACCESS_MAX_ENTRIES);
			return UPLINK_ETOOBIG;
		}
		rc = access_check_entry(&t, &any);
		if (rc != UPLINK_OK)
			return rc;
		if (any)
			memset(plain + i - 2, ' ', 2);
		a->rule[a->n++] = t.s;
	}
	return UPLINK_OK;
}

/* Hands the checked list to bypass_parse(); its errors map back by index. */
static int
access_compile(struct access *a, const char *plain, struct access_error *err)
{
	struct bypass_error	 berr;
	struct access_tok	 t;
	int			 rc;

	rc = bypass_parse(plain, 0, &a->bp, &berr);
	if (rc != UPLINK_EINVAL)
		return rc;
	/* Not reached for a checked entry; kept so nothing fails silently. */
	t.index = berr.index;
	t.s = berr.index >= 1 && berr.index <= a->n ? a->rule[berr.index - 1] :
	    berr.entry;
	t.len = strcspn(t.s, ",; \t\r\n\v\f");
	t.err = err;
	return access_fail(&t, "%s", berr.msg);
}

static const unsigned char access_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0xff, 0xff };

/*
 * Reads an entry that passed the checks as an address entry; false for a
 * name entry. rule is NUL-terminated.
 */
static bool
access_net_read(const char *rule, struct access_net *n)
{
	char		 host[INET6_ADDRSTRLEN + 8];
	const char	*end, *port, *slash;
	size_t		 hlen;
	unsigned	 maxbits;
	char		*e;
	long		 v;

	memset(n, 0, sizeof(*n));
	if (rule[0] == '[') {
		end = strchr(rule, ']');
		if (end == NULL)
			return false;
		hlen = (size_t)(end - rule - 1);
		memcpy(host, rule + 1, hlen < sizeof(host) ? hlen : 0);
		port = end + 2;
	} else {
		end = strrchr(rule, ':');
		if (end == NULL)
			return false;
		hlen = (size_t)(end - rule);
		memcpy(host, rule, hlen < sizeof(host) ? hlen : 0);
		port = end + 1;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return false;
	host[hlen] = '\0';
	slash = strchr(host, '/');
	if (slash != NULL)
		host[slash - host] = '\0';
	if (hlen > 1 && host[strlen(host) - 1] == '.')
		host[strlen(host) - 1] = '\0';
	if (inet_pton(AF_INET, host, n->addr + 12) == 1) {
		memcpy(n->addr, access_mapped, sizeof(access_mapped));
		n->v4 = true;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, host, n->addr) == 1)
		maxbits = 128;
	else
		return false;
	n->bits = slash != NULL ? (unsigned)strtoul(slash + 1, NULL, 10) :
	    maxbits;
	if (maxbits == 32)
		n->bits += 96;
	else if (n->bits >= 96 && memcmp(n->addr, access_mapped, 12) == 0)
		n->v4 = true;
	n->any = strcmp(port, "*") == 0;
	v = n->any ? 0 : strtol(port, &e, 10);
	n->port = (uint16_t)v;
	return true;
}

/* Collects the address entries of a parsed list. */
static int
access_collect_nets(struct access *a)
{
	struct access_net	 n;
	size_t			 i;

	a->nets = calloc(a->n ? a->n : 1, sizeof(*a->nets));
	if (a->nets == NULL)
		return UPLINK_ENOMEM;
	for (i = 0; i < a->n; i++) {
		if (!access_net_read(a->rule[i], &n))
			continue;
		n.index = i;
		a->nets[a->nnets++] = n;
	}
	return UPLINK_OK;
}

int
access_parse(const char *list, struct access **out, struct access_error *err)
{
	struct access	*a;
	char		*plain = NULL;
	size_t		 len, i;
	int		 rc = UPLINK_ENOMEM;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (out == NULL)
		return UPLINK_EINVAL;
	if (list == NULL)
		list = "";
	len = strlen(list);
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return UPLINK_ENOMEM;
	a->texts = strdup(list);
	plain = strdup(list);
	/* An entry takes at least two bytes with its separator. */
	a->rule = calloc(len / 2 + 1 < ACCESS_MAX_ENTRIES ? len / 2 + 1 :
	    ACCESS_MAX_ENTRIES, sizeof(*a->rule));
	if (a->texts == NULL || plain == NULL || a->rule == NULL)
		goto fail;
	rc = access_scan(a, plain, len, err);
	if (rc == UPLINK_OK)
		rc = access_compile(a, plain, err);
	if (rc != UPLINK_OK)
		goto fail;
	/* Now that errors are reported, end each entry's text. */
	for (i = 0; i < len; i++)
		if (bypass_is_sep(a->texts[i]))
			a->texts[i] = '\0';
	rc = access_collect_nets(a);
	if (rc != UPLINK_OK)
		goto fail;
	free(plain);
	*out = a;
	return UPLINK_OK;
fail:
	free(plain);
	access_free(a);
	return rc;
}

bool
access_allows(const struct access *a, const char *host, uint16_t port,
    const char **rule)
{
	int	 i;

	/* Port 0 is no destination at all, even for ":*". */
	if (a == NULL || host == NULL || port == 0)
		return false;
	i = bypass_match(a->bp, host, port, NULL);
	if (i < 0 || (size_t)i >= a->n)
		return false;
	if (rule != NULL)
		*rule = a->rule[i];
	return true;
}

size_t
access_count(const struct access *a)
{
	return a == NULL ? 0 : a->n;
}

void
access_free(struct access *a)
{
	if (a == NULL)
		return;
	bypass_free(a->bp);
	free(a->nets);
	free(a->texts);
	free(a->rule);
	free(a);
}

/* The address as IPv6 (IPv4 as ::ffff:a.b.c.d); false for other families. */
static bool
access_sa_read(const struct sockaddr *sa, unsigned char addr[16],
    uint16_t *port, char *text, size_t textlen)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		memcpy(addr, access_mapped, sizeof(access_mapped));
		memcpy(addr + 12, &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
		inet_ntop(AF_INET, &s4->sin_addr, text, (socklen_t)textlen);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		memcpy(addr, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
		inet_ntop(AF_INET6, &s6->sin6_addr, text, (socklen_t)textlen);
		return true;
	}
	return false;
}

/* True when the first bits of a and b agree. */
static bool
access_bits_equal(const unsigned char *a, const unsigned char *b,
    unsigned bits)
{
	unsigned	 full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	return rest == 0 || ((a[full] ^ b[full]) &
	    (unsigned char)(0xff << (8 - rest))) == 0;
}

/*
 * The addresses a name must never lead to unless an address entry allows
 * them: "this host" (0.0.0.0/8 and ::, which Linux connects to itself),
 * link-local (169.254.0.0/16, where cloud metadata services answer, and
 * fe80::/10), multicast and broadcast. NULL when addr is none of them.
 */
static const char *
access_special(const unsigned char addr[16])
{
	static const unsigned char zero[16];

	if (memcmp(addr, access_mapped, 12) == 0) {
		if (addr[12] == 0)
			return "an unspecified (\"this host\") address";
		if (addr[12] == 169 && addr[13] == 254)
			return "a link-local address";
		if (addr[12] >= 224 && addr[12] <= 239)
			return "a multicast address";
		if (addr[12] == 255 && addr[13] == 255 && addr[14] == 255 &&
		    addr[15] == 255)
			return "the broadcast address";
		return NULL;
	}
	if (memcmp(addr, zero, 16) == 0)
		return "an unspecified (\"this host\") address";
	if (addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80)
		return "a link-local address";
	if (addr[0] == 0xff)
		return "a multicast address";
	return NULL;
}

bool
access_allows_addr(const struct access *a, const struct sockaddr *sa,
    char *why, size_t whylen)
{
	unsigned char	 addr[16];
	char		 text[INET6_ADDRSTRLEN];
	const char	*special;
	uint16_t	 port;
	bool		 v4;
	size_t		 i;

	if (a == NULL || a->n == 0) {
		snprintf(why, whylen, "the access list is empty");
		return false;
	}
	if (!access_sa_read(sa, addr, &port, text, sizeof(text))) {
		snprintf(why, whylen, "not an IP address");
		return false;
	}
	v4 = memcmp(addr, access_mapped, 12) == 0;
	/* An address entry that allows it: allowed, as a literal would be. */
	if (access_allows(a, text, port, NULL))
		return true;
	special = access_special(addr);
	if (special != NULL) {
		snprintf(why, whylen, "%s is %s, which a name may reach only when "
		    "an address entry allows it", text, special);
		return false;
	}
	for (i = 0; i < a->nnets; i++) {
		const struct access_net *n = &a->nets[i];

		/* As in matching, an IPv6 block wider than /96 is no IPv4's. */
		if (v4 && !n->v4)
			continue;
		if (!access_bits_equal(addr, n->addr, n->bits))
			continue;
		snprintf(why, whylen, "%s is inside the address entry \"%s\", "
		    "which does not allow port %u; an entry by name does not "
		    "widen an address entry", text, a->rule[n->index], port);
		return false;
	}
	return true;
}
