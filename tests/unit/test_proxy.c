/* Proxy URL acceptance and refusals, and the route decision. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dial.h"
#include "error.h"
#include "httpget.h"
#include "proxy.h"

struct url_row {
	const char	*in;
	int		 rc;
	const char	*url;	/* normalized, on success */
	const char	*why;	/* substring of the message, on failure */
};

static const struct url_row url_rows[] = {
	{ "http://127.0.0.1:3128", UPLINK_OK, "http://127.0.0.1:3128", NULL },
	{ "http://127.0.0.1:3128/", UPLINK_OK, "http://127.0.0.1:3128", NULL },
	{ "  http://proxy.corp.example:8080  ", UPLINK_OK,
	    "http://proxy.corp.example:8080", NULL },
	{ "HTTP://Proxy.Corp.Example:8080", UPLINK_OK,
	    "http://proxy.corp.example:8080", NULL },
	{ "proxy.corp.example:3128", UPLINK_OK,
	    "http://proxy.corp.example:3128", NULL },
	{ "http://[::1]:3128", UPLINK_OK, "http://[::1]:3128", NULL },
	{ "http://[fd00::5]:8080/", UPLINK_OK, "http://[fd00::5]:8080", NULL },
	{ "http://proxy.:3128", UPLINK_OK, "http://proxy:3128", NULL },
	{ "http://10.0.0.1:65535", UPLINK_OK, "http://10.0.0.1:65535", NULL },
	{ "http://user:pw@proxy:3128", UPLINK_EINVAL, NULL,
	    "authenticated proxies are not supported" },
	{ "http://user@proxy:3128", UPLINK_EINVAL, NULL,
	    "authenticated proxies are not supported" },
	{ "user:pw@proxy:3128", UPLINK_EINVAL, NULL,
	    "authenticated proxies are not supported" },
	{ "pac", UPLINK_EINVAL, NULL, "automatic proxy configuration" },
	{ "PAC", UPLINK_EINVAL, NULL, "automatic proxy configuration" },
	{ "auto", UPLINK_EINVAL, NULL, "automatic proxy configuration" },
	{ "wpad", UPLINK_EINVAL, NULL, "automatic proxy configuration" },
	{ "autodetect", UPLINK_EINVAL, NULL, "automatic proxy configuration" },
	{ "http://wpad/wpad.dat", UPLINK_EINVAL, NULL,
	    "automatic proxy configuration" },
	{ "http://config.corp/proxy.pac", UPLINK_EINVAL, NULL,
	    "automatic proxy configuration" },
	{ "http://config.corp/proxy.PAC?v=2", UPLINK_EINVAL, NULL,
	    "automatic proxy configuration" },
	{ "file:///etc/proxy.pac", UPLINK_EINVAL, NULL,
	    "automatic proxy configuration" },
	{ "https://proxy:3128", UPLINK_EINVAL, NULL,
	    "only http:// proxies are supported" },
	{ "socks5://proxy:1080", UPLINK_EINVAL, NULL,
	    "only http:// proxies are supported" },
	{ "socks://proxy:1080", UPLINK_EINVAL, NULL,
	    "only http:// proxies are supported" },
	{ "ftp://proxy:21", UPLINK_EINVAL, NULL,
	    "only http:// proxies are supported" },
	{ "http://proxy", UPLINK_EINVAL, NULL, "has no port" },
	{ "http://proxy:", UPLINK_EINVAL, NULL, "bad proxy address" },
	{ "http://proxy:0", UPLINK_EINVAL, NULL, "bad proxy address" },
	{ "http://proxy:65536", UPLINK_EINVAL, NULL, "bad proxy address" },
	{ "http://proxy:31x8", UPLINK_EINVAL, NULL, "bad proxy address" },
	{ "http://proxy:3128/path", UPLINK_EINVAL, NULL, "no path" },
	{ "http://proxy:3128?x=1", UPLINK_EINVAL, NULL, "no path" },
	{ "http://:3128", UPLINK_EINVAL, NULL, "bad proxy address" },
	{ "http://pro xy:3128", UPLINK_EINVAL, NULL, "bad proxy address" },
	{ "", UPLINK_EINVAL, NULL, "empty" },
	{ "   ", UPLINK_EINVAL, NULL, "empty" },
	{ "http://", UPLINK_EINVAL, NULL, "bad proxy address" },
};

static void
test_proxy_url_table(void **state)
{
	struct proxy_url	 pu;
	char			 why[512];
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(url_rows) / sizeof(url_rows[0]); i++) {
		const struct url_row *r = &url_rows[i];

		why[0] = '\0';
		rc = proxy_url_parse(r->in, &pu, why, sizeof(why));
		if (rc != r->rc)
			fail_msg("row %zu \"%s\": rc %d, want %d (%s)", i, r->in,
			    rc, r->rc, why);
		if (r->url != NULL && strcmp(pu.url, r->url) != 0)
			fail_msg("row %zu \"%s\": url %s, want %s", i, r->in,
			    pu.url, r->url);
		if (r->why != NULL && strstr(why, r->why) == NULL)
			fail_msg("row %zu \"%s\": message \"%s\" lacks \"%s\"", i,
			    r->in, why, r->why);
	}
}

struct route_row {
	const char	*proxy;		/* NULL: none */
	const char	*bypass;
	const char	*host;
	uint16_t	 port;
	enum route_kind	 kind;
	const char	*rule;		/* NULL: none */
	const char	*desc;
};

static const struct route_row route_rows[] = {
	{ "http://10.0.0.1:3128", "*.corp.example", "a.corp.example", 443,
	    ROUTE_DIRECT, "*.corp.example",
	    "direct (bypass rule \"*.corp.example\")" },
	{ "http://10.0.0.1:3128", "*.corp.example", "api.example.net", 443,
	    ROUTE_PROXY, NULL,
	    "proxy http://10.0.0.1:3128 (no bypass rule matched)" },
	{ NULL, "*.corp.example", "api.example.net", 443, ROUTE_DIRECT, NULL,
	    "direct (no proxy configured)" },
	{ NULL, NULL, "api.example.net", 443, ROUTE_DIRECT, NULL,
	    "direct (no proxy configured)" },
	{ "http://10.0.0.1:3128", NULL, "api.example.net", 443, ROUTE_PROXY,
	    NULL, "proxy http://10.0.0.1:3128 (no bypass rule matched)" },
	{ "http://10.0.0.1:3128", "10.0.0.0/8", "10.2.3.4", 22, ROUTE_DIRECT,
	    "10.0.0.0/8", "direct (bypass rule \"10.0.0.0/8\")" },
	{ "http://10.0.0.1:3128", "10.0.0.0/8", "11.2.3.4", 22, ROUTE_PROXY,
	    NULL, "proxy http://10.0.0.1:3128 (no bypass rule matched)" },
	{ "http://10.0.0.1:3128", "*.corp.example:8443", "a.corp.example",
	    443, ROUTE_PROXY, NULL,
	    "proxy http://10.0.0.1:3128 (no bypass rule matched)" },
	{ "http://10.0.0.1:3128", "<local>", "intranet", 80, ROUTE_DIRECT,
	    "<local>", "direct (bypass rule \"<local>\")" },
	{ "http://[::1]:3128", "*", "anything.example", 443, ROUTE_DIRECT,
	    "*", "direct (bypass rule \"*\")" },
};

static void
test_route_table(void **state)
{
	struct route_table	 rt;
	struct route		 r;
	char			 why[512], desc[512];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(route_rows) / sizeof(route_rows[0]); i++) {
		const struct route_row *w = &route_rows[i];

		route_table_init(&rt);
		assert_int_equal(route_table_set_proxy(&rt, w->proxy, why,
		    sizeof(why)), UPLINK_OK);
		if (w->bypass != NULL)
			assert_int_equal(route_table_set_bypass(&rt, w->bypass,
			    0, why, sizeof(why)), UPLINK_OK);
		route_decide(&rt, w->host, w->port, &r);
		route_describe(&r, desc, sizeof(desc));
		if (r.kind != w->kind || strcmp(desc, w->desc) != 0 ||
		    (w->rule == NULL) != (r.rule == NULL) ||
		    (w->rule != NULL && strcmp(w->rule, r.rule) != 0))
			fail_msg("row %zu %s:%u: got \"%s\", want \"%s\"", i,
			    w->host, w->port, desc, w->desc);
		route_table_clear(&rt);
	}
}

static void
test_route_env(void **state)
{
	struct route_table	 rt;
	struct route		 r;
	char			 why[512];

	(void)state;
	unsetenv("HTTPS_PROXY");
	unsetenv("NO_PROXY");
	setenv("https_proxy", "http://10.9.9.9:8080", 1);
	setenv("no_proxy", "example.com,.internal", 1);
	route_table_init(&rt);
	assert_int_equal(route_table_from_env(&rt, why, sizeof(why)), UPLINK_OK);
	assert_true(rt.has_proxy);
	assert_string_equal(rt.proxy.url, "http://10.9.9.9:8080");
	/* curl's NO_PROXY: a plain name covers its subdomains too */
	route_decide(&rt, "api.example.com", 443, &r);
	assert_int_equal(r.kind, ROUTE_DIRECT);
	route_decide(&rt, "example.org", 443, &r);
	assert_int_equal(r.kind, ROUTE_PROXY);
	route_table_clear(&rt);

	/* the lower-case spelling wins, as in curl */
	setenv("HTTPS_PROXY", "http://10.1.1.1:1", 1);
	route_table_init(&rt);
	assert_int_equal(route_table_from_env(&rt, why, sizeof(why)), UPLINK_OK);
	assert_string_equal(rt.proxy.url, "http://10.9.9.9:8080");
	route_table_clear(&rt);

	unsetenv("https_proxy");
	setenv("HTTPS_PROXY", "http://u:p@10.9.9.9:8080", 1);
	route_table_init(&rt);
	assert_int_equal(route_table_from_env(&rt, why, sizeof(why)),
	    UPLINK_EINVAL);
	assert_non_null(strstr(why, "HTTPS_PROXY"));
	assert_non_null(strstr(why, "authenticated"));
	route_table_clear(&rt);
	unsetenv("HTTPS_PROXY");
	unsetenv("https_proxy");
	unsetenv("no_proxy");
}

struct resolve_row {
	const char	*spec;
	int		 rc;
	const char	*host;
	uint16_t	 port;
	const char	*addr;
};

static const struct resolve_row resolve_rows[] = {
	{ "api.example.net:443:127.0.0.1", UPLINK_OK, "api.example.net", 443,
	    "127.0.0.1" },
	{ "api.example.net:443:[::1]", UPLINK_OK, "api.example.net", 443,
	    "::1" },
	{ "api.example.net:443:::1", UPLINK_OK, "api.example.net", 443, "::1" },
	{ "a:1:10.0.0.1", UPLINK_OK, "a", 1, "10.0.0.1" },
	{ "api.example.net:443", UPLINK_EINVAL, NULL, 0, NULL },
	{ "api.example.net:0:127.0.0.1", UPLINK_EINVAL, NULL, 0, NULL },
	{ "api.example.net:443:nothost", UPLINK_EINVAL, NULL, 0, NULL },
	{ ":443:127.0.0.1", UPLINK_EINVAL, NULL, 0, NULL },
	{ "api.example.net:443:", UPLINK_EINVAL, NULL, 0, NULL },
	{ "", UPLINK_EINVAL, NULL, 0, NULL },
};

static void
test_resolve_table(void **state)
{
	struct resolve_map	 m = { 0 };
	char			 why[256];
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(resolve_rows) / sizeof(resolve_rows[0]); i++) {
		const struct resolve_row *r = &resolve_rows[i];

		rc = resolve_map_add(&m, r->spec, why, sizeof(why));
		if (rc != r->rc)
			fail_msg("row %zu \"%s\": rc %d want %d", i, r->spec, rc,
			    r->rc);
		if (rc == UPLINK_OK) {
			const char *a = resolve_map_lookup(&m, r->host, r->port);

			if (a == NULL || strcmp(a, r->addr) != 0)
				fail_msg("row %zu \"%s\": lookup gave %s", i,
				    r->spec, a ? a : "nothing");
		}
	}
	assert_null(resolve_map_lookup(&m, "api.example.net", 80));
	assert_non_null(resolve_map_lookup(&m, "API.example.NET", 443));
	resolve_map_free(&m);
}

struct get_row {
	const char	*url;
	int		 rc;
	const char	*host;
	uint16_t	 port;
	const char	*path;
};

static const struct get_row get_rows[] = {
	{ "http://crl.example.net/ca.crl", UPLINK_OK, "crl.example.net", 80,
	    "/ca.crl" },
	{ "http://crl.example.net:8080/a/b.crl", UPLINK_OK, "crl.example.net",
	    8080, "/a/b.crl" },
	{ "HTTP://crl.example.net", UPLINK_OK, "crl.example.net", 80, "/" },
	{ "http://[::1]:81/x", UPLINK_OK, "::1", 81, "/x" },
	{ "https://crl.example.net/", UPLINK_EINVAL, NULL, 0, NULL },
	{ "http:///x", UPLINK_EINVAL, NULL, 0, NULL },
	{ "http://u@crl.example.net/", UPLINK_EINVAL, NULL, 0, NULL },
	{ "http://crl.example.net:99999/", UPLINK_EINVAL, NULL, 0, NULL },
	{ "ldap://crl.example.net/", UPLINK_EINVAL, NULL, 0, NULL },
};

static void
test_httpget_url_table(void **state)
{
	struct hostport	 hp;
	char		 path[256], why[256];
	size_t		 i;
	int		 rc;

	(void)state;
	for (i = 0; i < sizeof(get_rows) / sizeof(get_rows[0]); i++) {
		const struct get_row *r = &get_rows[i];

		rc = httpget_parse_url(r->url, &hp, path, sizeof(path), why,
		    sizeof(why));
		if (rc != r->rc)
			fail_msg("row %zu %s: rc %d want %d", i, r->url, rc,
			    r->rc);
		if (rc == UPLINK_OK && (strcmp(hp.host, r->host) != 0 ||
		    hp.port != r->port || strcmp(path, r->path) != 0))
			fail_msg("row %zu %s: got %s %u %s", i, r->url, hp.host,
			    hp.port, path);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proxy_url_table),
		cmocka_unit_test(test_route_table),
		cmocka_unit_test(test_route_env),
		cmocka_unit_test(test_resolve_table),
		cmocka_unit_test(test_httpget_url_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
