#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "proxy.h"

static bool
ends_with_ci(const char *s, size_t len, const char *suffix)
{
	size_t	 n = strlen(suffix);

	return len >= n && strncasecmp(s + len - n, suffix, n) == 0;
}

/*
 * Automatic configuration comes in many spellings; an administrator who typed
 * any of them wants to hear that uplink needs the proxy given explicitly.
 */
static bool
proxy_is_autoconfig(const char *s, size_t len)
{
	static const char *words[] = { "pac", "auto", "autodetect",
	    "auto-detect", "automatic", "wpad", "detect", "system" };
	size_t	 i;
	char	 path[32];
	const char *q;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == len && strncasecmp(s, words[i], len) == 0)
			return true;
	q = memchr(s, '?', len);
	if (q != NULL)
		len = (size_t)(q - s);
	if (ends_with_ci(s, len, ".pac") || ends_with_ci(s, len, ".dat"))
		return true;
	snprintf(path, sizeof(path), "%.*s", (int)(len < 12 ? len : 12), s);
	return strncasecmp(path, "http://wpad", 11) == 0 ||
	    strncasecmp(path, "wpad.", 5) == 0;
}

int
proxy_url_parse(const char *s, struct proxy_url *out, char *why, size_t whylen)
{
	const char	*p, *end, *auth, *aend;
	char		 hp[HOSTPORT_HOST_MAX + 16], hwhy[160];
	struct hostport	 h;
	size_t		 i;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	if (end == s) {
		snprintf(why, whylen, "the proxy is empty; write server = "
		    "http://HOST:PORT, or remove the line to connect directly");
		return UPLINK_EINVAL;
	}
	if (proxy_is_autoconfig(s, (size_t)(end - s))) {
		snprintf(why, whylen, "automatic proxy configuration is not "
		    "supported (\"%.*s\"); give the proxy explicitly as "
		    "http://HOST:PORT", (int)(end - s), s);
		return UPLINK_EINVAL;
	}
	p = strstr(s, "://");
	if (p != NULL && p < end) {
		if (p - s != 4 || strncasecmp(s, "http", 4) != 0) {
			snprintf(why, whylen, "only http:// proxies are "
			    "supported, not \"%.*s://\"; the connector speaks "
			    "HTTP CONNECT to the proxy: write http://HOST:PORT",
			    (int)(p - s), s);
			return UPLINK_EINVAL;
		}
		auth = p + 3;
	} else
		auth = s;
	aend = auth;
	while (aend < end && *aend != '/' && *aend != '?' && *aend != '#')
		aend++;
	if (memchr(auth, '@', (size_t)(aend - auth)) != NULL) {
		snprintf(why, whylen, "authenticated proxies are not supported: "
		    "the connector runs as a service with no user credentials; "
		    "remove the user name and password and allow the "
		    "connector's address on the proxy");
		return UPLINK_EINVAL;
	}
	if (aend < end && !(aend + 1 == end && *aend == '/')) {
		snprintf(why, whylen, "a proxy URL has no path or query "
		    "(\"%.*s\"); write http://HOST:PORT", (int)(end - aend), aend);
		return UPLINK_EINVAL;
	}
	if ((size_t)(aend - auth) >= sizeof(hp)) {
		snprintf(why, whylen, "the proxy host name is too long");
		return UPLINK_EINVAL;
	}
	memcpy(hp, auth, (size_t)(aend - auth));
	hp[aend - auth] = '\0';
	if (hostport_parse(hp, 0, &h, hwhy, sizeof(hwhy)) != UPLINK_OK) {
		snprintf(why, whylen, "bad proxy address \"%s\": %s", hp, hwhy);
		return UPLINK_EINVAL;
	}
	if (h.port == 0) {
		snprintf(why, whylen, "the proxy URL has no port; write "
		    "http://%s:PORT (for example 3128 or 8080)", h.host);
		return UPLINK_EINVAL;
	}
	memset(out, 0, sizeof(*out));
	for (i = 0; h.host[i] != '\0'; i++)
		out->host[i] = (char)tolower((unsigned char)h.host[i]);
	out->kind = h.kind;
	out->port = h.port;
	memcpy(out->url, "http://", 7);
	hostport_format(out->url + 7, sizeof(out->url) - 7, out->host, out->port);
	return UPLINK_OK;
}

void
route_decide(const struct route_table *rt, const char *host, uint16_t port,
    struct route *out)
{
	const char	*rule = NULL;

	out->rule = NULL;
	out->proxy = NULL;
	if (rt->bypass != NULL && bypass_match(rt->bypass, host, port, &rule) >= 0) {
		out->kind = ROUTE_DIRECT;
		out->rule = rule;
		return;
	}
	if (rt->has_proxy) {
		out->kind = ROUTE_PROXY;
		out->proxy = &rt->proxy;
		return;
	}
	out->kind = ROUTE_DIRECT;
}

void
route_describe(const struct route *r, char *dst, size_t dstlen)
{
	if (r->kind == ROUTE_PROXY)
		snprintf(dst, dstlen, "proxy %s (no bypass rule matched)",
		    r->proxy->url);
	else if (r->rule != NULL)
		snprintf(dst, dstlen, "direct (bypass rule \"%s\")", r->rule);
	else
		snprintf(dst, dstlen, "direct (no proxy configured)");
}

void
route_table_init(struct route_table *rt)
{
	memset(rt, 0, sizeof(*rt));
}

void
route_table_clear(struct route_table *rt)
{
	bypass_free(rt->bypass);
	route_table_init(rt);
}

int
route_table_set_proxy(struct route_table *rt, const char *url, char *why,
    size_t whylen)
{
	struct proxy_url	 pu;
	int			 rc;

	if (url == NULL || *url == '\0') {
		rt->has_proxy = false;
		return UPLINK_OK;
	}
	rc = proxy_url_parse(url, &pu, why, whylen);
	if (rc != UPLINK_OK)
		return rc;
	rt->proxy = pu;
	rt->has_proxy = true;
	return UPLINK_OK;
}

int
route_table_set_bypass(struct route_table *rt, const char *list, int flags,
    char *why, size_t whylen)
{
	struct bypass		*bp = NULL;
	struct bypass_error	 err;
	int			 rc;

	memset(&err, 0, sizeof(err));
	rc = bypass_parse(list, flags, &bp, &err);
	if (rc == UPLINK_ENOMEM) {
		snprintf(why, whylen, "out of memory parsing the bypass list");
		return rc;
	}
	if (rc != UPLINK_OK) {
		snprintf(why, whylen, "bypass entry %zu \"%s\" (offset %zu): %s",
		    err.index, err.entry, err.offset, err.msg);
		return rc;
	}
	bypass_free(rt->bypass);
	rt->bypass = bp;
	return UPLINK_OK;
}

/*
 * Returns the first non-empty variable of the two spellings, or NULL. The
 * lower-case one wins, as in curl and wget.
 */
static const char *
env_either(const char *upper, const char *lower, const char **name)
{
	const char	*v;

	v = getenv(lower);
	*name = lower;
	if (v == NULL || *v == '\0') {
		v = getenv(upper);
		*name = upper;
	}
	return (v != NULL && *v != '\0') ? v : NULL;
}

int
route_table_from_env(struct route_table *rt, char *why, size_t whylen)
{
	const char	*v, *pname = NULL, *bname = NULL;
	char		 inner[400];
	int		 rc;

	v = env_either("HTTPS_PROXY", "https_proxy", &pname);
	if (v != NULL) {
		rc = route_table_set_proxy(rt, v, inner, sizeof(inner));
		if (rc != UPLINK_OK) {
			snprintf(why, whylen, "environment variable %s: %s",
			    pname, inner);
			return rc;
		}
	}
	v = env_either("NO_PROXY", "no_proxy", &bname);
	if (v != NULL) {
		rc = route_table_set_bypass(rt, v, BYPASS_NOPROXY_ENV, inner,
		    sizeof(inner));
		if (rc != UPLINK_OK) {
			snprintf(why, whylen, "environment variable %s: %s",
			    bname, inner);
			return rc;
		}
	}
	if (rt->has_proxy || rt->bypass != NULL)
		snprintf(rt->source, sizeof(rt->source), "environment (%s%s%s)",
		    rt->has_proxy ? pname : "", rt->has_proxy && rt->bypass ?
		    ", " : "", rt->bypass ? bname : "");
	return UPLINK_OK;
}
