/*
 * Connector configuration: accepted files, errors with file:line, the
 * [cloud], [access] and [run] sections, --save and the enrollment writer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "error.h"

static char tmpdir[] = "/tmp/uplink-test-config-XXXXXX";

static void
write_file(const char *path, const char *text)
{
	FILE	*fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

struct conf_row {
	const char	*text;
	int		 rc;
	const char	*err;		/* substring, incl. ":LINE:" */
	const char	*proxy;		/* expected proxy URL or NULL */
	const char	*host;		/* a host to route */
	int		 direct;	/* expected route for host */
};

static const struct conf_row rows[] = {
	{ "[proxy]\nserver = http://10.0.0.1:3128\n", UPLINK_OK, NULL,
	    "http://10.0.0.1:3128", "api.example.net", 0 },
	{ "# comment\n[proxy]\nserver = http://10.0.0.1:3128\n"
	    "bypass = *.corp.example; 10.0.0.0/8\n", UPLINK_OK, NULL,
	    "http://10.0.0.1:3128", "a.corp.example", 1 },
	/* ';' separates bypass entries even after white space */
	{ "[proxy]\nserver = http://10.0.0.1:3128\n"
	    "bypass = a.example ; b.example\n", UPLINK_OK, NULL,
	    "http://10.0.0.1:3128", "b.example", 1 },
	/* several bypass lines add up */
	{ "[proxy]\nserver = http://10.0.0.1:3128\nbypass = a.example\n"
	    "bypass = c.example\n", UPLINK_OK, NULL, "http://10.0.0.1:3128",
	    "c.example", 1 },
	{ "[proxy]\nbypass = a.example\n", UPLINK_OK, NULL, NULL,
	    "x.example", 1 },
	{ "", UPLINK_OK, NULL, NULL, "x.example", 1 },
	{ "[log]\nlevel = debug\n", UPLINK_OK, NULL, NULL, "x.example", 1 },
	/* inline comments still work on other keys */
	{ "[proxy]\nserver = http://10.0.0.1:3128 ; the main proxy\n",
	    UPLINK_OK, NULL, "http://10.0.0.1:3128", "x.example", 0 },
	{ "[proxy]\nserver = http://u:p@10.0.0.1:3128\n", UPLINK_ECONFIG,
	    ":2: [proxy] server: authenticated proxies are not supported",
	    NULL, NULL, 0 },
	{ "\n\n[proxy]\nserver = pac\n", UPLINK_ECONFIG,
	    ":4: [proxy] server: automatic proxy configuration", NULL, NULL, 0 },
	{ "[proxy]\nserver = http://wpad/wpad.dat\n", UPLINK_ECONFIG,
	    ":2: [proxy] server: automatic proxy configuration", NULL, NULL, 0 },
	{ "[proxy]\nserver = https://10.0.0.1:3128\n", UPLINK_ECONFIG,
	    ":2: [proxy] server: only http:// proxies", NULL, NULL, 0 },
	{ "[proxy]\nserver = http://10.0.0.1\n", UPLINK_ECONFIG,
	    ":2: [proxy] server: the proxy URL has no port", NULL, NULL, 0 },
	{ "[proxy]\nserver = http://a:1\nserver = http://b:2\n",
	    UPLINK_ECONFIG, ":3: server is set twice", NULL, NULL, 0 },
	{ "[proxy]\nbypass = good.example\nbypass = a.*.example\n",
	    UPLINK_ECONFIG, ":3: [proxy] bypass entry 1 \"a.*.example\"", NULL,
	    NULL, 0 },
	{ "[proxy]\nbypass = 10.0.0.0/33\n", UPLINK_ECONFIG,
	    ":2: [proxy] bypass entry 1 \"10.0.0.0/33\"", NULL, NULL, 0 },
	{ "[proxy]\nport = 3128\n", UPLINK_ECONFIG,
	    ":2: unknown key \"port\" in [proxy]", NULL, NULL, 0 },
	{ "[proxies]\nserver = http://a:1\n", UPLINK_ECONFIG,
	    ":2: unknown section [proxies] (known: [cloud], [proxy], [access], "
	    "[check], [run], [log], [update])", NULL, NULL, 0 },
	{ "server = http://a:1\n", UPLINK_ECONFIG,
	    ":1: \"server\" is outside any section", NULL, NULL, 0 },
	{ "[proxy]\nthis is not ini\n", UPLINK_ECONFIG, ":2: not INI syntax",
	    NULL, NULL, 0 },
	{ "[log]\nlevel = loud\n", UPLINK_ECONFIG,
	    ":2: [log] level \"loud\" is not one of", NULL, NULL, 0 },
	{ "[proxy]\nbypass = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaa.example\n", UPLINK_ECONFIG,
	    ":2: line longer than", NULL, NULL, 0 },
};

static void
test_config_table(void **state)
{
	struct connector_config	 cfg;
	struct route		 r;
	char			 path[256], err[1024];
	size_t			 i;
	int			 rc;

	(void)state;
	snprintf(path, sizeof(path), "%s/c.conf", tmpdir);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct conf_row *w = &rows[i];

		write_file(path, w->text);
		err[0] = '\0';
		rc = config_load(path, &cfg, err, sizeof(err));
		if (rc != w->rc)
			fail_msg("row %zu: rc %d want %d (%s)", i, rc, w->rc, err);
		if (w->err != NULL && (strstr(err, w->err) == NULL ||
		    strncmp(err, path, strlen(path)) != 0))
			fail_msg("row %zu: error \"%s\" lacks \"%s\"", i, err,
			    w->err);
		if (rc != UPLINK_OK)
			continue;
		if ((w->proxy == NULL) == cfg.routes.has_proxy ||
		    (w->proxy && strcmp(cfg.routes.proxy.url, w->proxy) != 0))
			fail_msg("row %zu: proxy mismatch", i);
		route_decide(&cfg.routes, w->host, 443, &r);
		if ((r.kind == ROUTE_DIRECT) != w->direct)
			fail_msg("row %zu: %s routed %s", i, w->host,
			    r.kind == ROUTE_DIRECT ? "direct" : "via proxy");
		config_free(&cfg);
	}
}

/*
 * The [cloud], [access] and [run] sections. Unset expectations are not
 * checked: NULL strings, 0 numbers, and allow_host NULL. A path starting
 * with '@' is relative to the test directory.
 */
#define CLOUD	"[cloud]\nurl = https://c.example:8443\nca = /s/ca.pem\n" \
		"cert = /s/c.pem\nkey = /s/c.key\n"

struct sect_row {
	const char	*text;
	int		 rc;
	const char	*err;		/* substring, incl. ":LINE:" */
	const char	*url;
	uint16_t	 port;
	const char	*ca;
	int		 tunnels;
	int		 via;		/* 1 yes, -1 no, 0 unchecked */
	int64_t		 drain;
	size_t		 sbuf;
	const char	*allow_host;	/* checked against the access list */
	uint16_t	 allow_port;
	int		 allowed;
};

#define BAD(t, e)	{ .text = (t), .rc = UPLINK_ECONFIG, .err = (e) }

static const struct sect_row sect_rows[] = {
	/* defaults */
	{ CLOUD, UPLINK_OK, NULL, "https://c.example:8443", 8443, "/s/ca.pem",
	    2, -1, 30, 256 * 1024, "127.0.0.1", 8000, 0 },
	{ "", UPLINK_OK, NULL, "", 0, "", 2, -1, 30, 256 * 1024, "x.example",
	    443, 0 },
	{ "[cloud]\nurl = https://c.example\nca = ca.pem\ncert = sub/c.pem\n"
	    "key = /abs/c.key\ntunnels = 16\n", UPLINK_OK, NULL,
	    "https://c.example", 443, "@/ca.pem", 16, 0, 0, 0, NULL, 0, 0 },
	{ "[cloud]\nurl = https://[fd00::1]:9443\nca = /a\ncert = /b\n"
	    "key = /c\ntunnels = 1\n", UPLINK_OK, NULL, NULL, 9443, NULL, 1, 0,
	    0, 0, NULL, 0, 0 },
	{ "[CLOUD]\nURL = https://c.example:8443\nCa = /a\ncert = /b\n"
	    "key = /c\n", UPLINK_OK, NULL, "https://c.example:8443", 8443, "/a",
	    0, 0, 0, 0, NULL, 0, 0 },
	/* allow: ';' and ',' separate, lines add up */
	{ "[access]\nallow = 127.0.0.1:8000; *.corp.example:443\n", UPLINK_OK,
	    NULL, NULL, 0, NULL, 0, 0, 0, 0, "a.corp.example", 443, 1 },
	{ "[access]\nallow = 127.0.0.1:8000 ; *.corp.example:443\n", UPLINK_OK,
	    NULL, NULL, 0, NULL, 0, 0, 0, 0, "a.corp.example", 443, 1 },
	{ "[access]\nallow = 127.0.0.1:8000\nallow = 10.0.0.0/8:*\n", UPLINK_OK,
	    NULL, NULL, 0, NULL, 0, 0, 0, 0, "10.1.2.3", 22, 1 },
	{ "[access]\nallow = 127.0.0.1:8000\nallow = 10.0.0.0/8:*\n", UPLINK_OK,
	    NULL, NULL, 0, NULL, 0, 0, 0, 0, "127.0.0.1", 8000, 1 },
	{ "[access]\nallow = 127.0.0.1:8000\n", UPLINK_OK, NULL, NULL, 0, NULL,
	    0, 0, 0, 0, "127.0.0.1", 8001, 0 },
	{ "[access]\nallow =\n", UPLINK_OK, NULL, NULL, 0, NULL, 0, 0, 0, 0,
	    "127.0.0.1", 8000, 0 },
	{ "[access]\nvia_proxy = yes\n", UPLINK_OK, NULL, NULL, 0, NULL, 0, 1,
	    0, 0, NULL, 0, 0 },
	{ "[access]\nvia_proxy = TRUE\n", UPLINK_OK, NULL, NULL, 0, NULL, 0, 1,
	    0, 0, NULL, 0, 0 },
	{ "[access]\nvia_proxy = 1\n", UPLINK_OK, NULL, NULL, 0, NULL, 0, 1, 0,
	    0, NULL, 0, 0 },
	{ "[access]\nvia_proxy = No\n", UPLINK_OK, NULL, NULL, 0, NULL, 0, -1,
	    0, 0, NULL, 0, 0 },
	{ "[access]\nvia_proxy = false\n", UPLINK_OK, NULL, NULL, 0, NULL, 0,
	    -1, 0, 0, NULL, 0, 0 },
	{ "[access]\nvia_proxy = 0 ; not through the proxy\n", UPLINK_OK, NULL,
	    NULL, 0, NULL, 0, -1, 0, 0, NULL, 0, 0 },
	/* [run] bounds */
	{ "[run]\ndrain_timeout = 1s\nstream_buffer = 16k\n", UPLINK_OK, NULL,
	    NULL, 0, NULL, 0, 0, 1, 16 * 1024, NULL, 0, 0 },
	{ "[run]\ndrain_timeout = 1h\nstream_buffer = 16m\n", UPLINK_OK, NULL,
	    NULL, 0, NULL, 0, 0, 3600, 16 * 1024 * 1024, NULL, 0, 0 },
	{ "[run]\ndrain_timeout = 1m30s\nstream_buffer = 1048576\n", UPLINK_OK,
	    NULL, NULL, 0, NULL, 0, 0, 90, 1024 * 1024, NULL, 0, 0 },
	{ "[run]\ndrain_timeout = 90\nstream_buffer = 64K\n", UPLINK_OK, NULL,
	    NULL, 0, NULL, 0, 0, 90, 64 * 1024, NULL, 0, 0 },

	/* [cloud] errors */
	BAD("[cloud]\nurl = http://c.example\n",
	    ":2: [cloud] url: cloud URL \"http://c.example\" must start with "
	    "https://"),
	BAD("[cloud]\nurl = https://c.example/api\n",
	    ":2: [cloud] url: cloud URL \"https://c.example/api\" must be "
	    "https://HOST[:PORT], without a path"),
	BAD("[cloud]\nurl = https://c.example:0\n",
	    ":2: [cloud] url: cloud URL \"https://c.example:0\""),
	BAD("[cloud]\nurl = https://c.example\nurl = https://d.example\n",
	    ":3: [cloud] url is set twice (first on line 2); keep one"),
	BAD(CLOUD "ca = /x\n",
	    ":6: [cloud] ca is set twice (first on line 3)"),
	BAD("[cloud]\nurl = https://c.example\nca =\n",
	    ":3: [cloud] ca is empty: give a file name"),
	BAD(CLOUD "tunnels = 0\n",
	    ":6: [cloud] tunnels \"0\": give a whole number from 1 to 16"),
	BAD(CLOUD "tunnels = 17\n",
	    ":6: [cloud] tunnels \"17\""),
	BAD(CLOUD "tunnels = 2.5\n",
	    ":6: [cloud] tunnels \"2.5\""),
	BAD(CLOUD "tunnels = two\n",
	    ":6: [cloud] tunnels \"two\""),
	BAD(CLOUD "tunnels = 2\ntunnels = 3\n",
	    ":7: [cloud] tunnels is set twice (first on line 6)"),
	BAD("[cloud]\nproxy = http://p:1\n",
	    ":2: unknown key \"proxy\" in [cloud] (known: url, ca, cert, "
	    "key, tunnels)"),
	BAD("[cloud]\nurl = https://c.example\nca = /a\ncert = /b\n",
	    ":2: [cloud] has no \"key =\": give the connector's private key "
	    "file"),
	BAD("# x\n[cloud]\n\nca = /a\ncert = /b\nkey = /c\n",
	    ":4: [cloud] has no \"url =\""),
	BAD("[cloud]\ntunnels = 4\n",
	    ":2: [cloud] has no \"url =\""),
	/* [access] errors */
	BAD("[access]\nallow = a.example:80\nallow = bad.example\n",
	    ":3: [access] allow entry 1 \"bad.example\": "),
	BAD("[access]\nallow = a.example:80; b.example:x\n",
	    ":2: [access] allow entry 2 \"b.example:x\": "),
	BAD("[access]\n\nallow = 10.0.0.0/33:*\n",
	    ":3: [access] allow entry 1 \"10.0.0.0/33:*\": "),
	BAD("[access]\nvia_proxy = maybe\n",
	    ":2: [access] via_proxy \"maybe\": write yes or no"),
	BAD("[access]\nvia_proxy = yes\nvia_proxy = no\n",
	    ":3: [access] via_proxy is set twice (first on line 2)"),
	BAD("[access]\ndeny = a:1\n",
	    ":2: unknown key \"deny\" in [access] (known: allow, via_proxy)"),
	/* [run] errors */
	BAD("[run]\ndrain_timeout = 0\n",
	    ":2: [run] drain_timeout \"0\": must be longer than zero"),
	BAD("[run]\ndrain_timeout = 10x\n",
	    ":2: [run] drain_timeout \"10x\": use a number with s, m, h or d"),
	BAD("[run]\ndrain_timeout = 1h1s\n",
	    ":2: [run] drain_timeout \"1h1s\": give 1s to 1h"),
	BAD("[run]\nping_interval = 6m\n",
	    ":2: [run] ping_interval \"6m\": give 1s to 5m"),
	BAD("[run]\nping_misses = 0\n",
	    ":2: [run] ping_misses \"0\": give a whole number from 1 to 10"),
	BAD("[run]\nping_misses = 3x\n", ":2: [run] ping_misses \"3x\""),
	BAD("[run]\nping_misses = 2\nping_misses = 2\n", ":3:"),
	BAD("[run]\ndrain_timeout = 30s\ndrain_timeout = 40s\n",
	    ":3: [run] drain_timeout is set twice (first on line 2)"),
	BAD("[run]\nstream_buffer = 15k\n",
	    ":2: [run] stream_buffer \"15k\": give 16k to 16m"),
	BAD("[run]\nstream_buffer = 17m\n",
	    ":2: [run] stream_buffer \"17m\": give 16k to 16m"),
	BAD("[run]\nstream_buffer = 256kb\n",
	    ":2: [run] stream_buffer \"256kb\" is not a size; write a number "
	    "of bytes, optionally with k or m (256k, 16m)"),
	BAD("[run]\nstream_buffer = -1\n",
	    ":2: [run] stream_buffer \"-1\" is not a size"),
	BAD("[run]\nstream_buffer =\n",
	    ":2: [run] stream_buffer \"\" is not a size"),
	BAD("[run]\nstream_buffer = 1g\n",
	    ":2: [run] stream_buffer \"1g\" is not a size"),
	BAD("[run]\nstream_buffer = 99999999999999999999k\n",
	    ":2: [run] stream_buffer \"99999999999999999999k\" is too large"),
	BAD("[run]\ntunnels = 2\n",
	    ":2: unknown key \"tunnels\" in [run] (known: drain_timeout, "
	    "stream_buffer, ping_interval, ping_misses, max_streams, "
	    "log_buffer)"),
	BAD("[run]\nlog_buffer = 9\n",
	    ":2: [run] log_buffer \"9\": give a whole number of lines from 10 "
	    "to 100000"),
	BAD("[run]\nlog_buffer = lots\n",
	    ":2: [run] log_buffer \"lots\": give a whole number"),
	BAD("[run]\nlog_buffer = 50\nlog_buffer = 60\n",
	    ":3: [run] log_buffer is set twice (first on line 2)"),
	BAD("[run]\nmax_streams = 0\n",
	    ":2: [run] max_streams \"0\": give a whole number from 1 to 100000"),
	BAD("[run]\nmax_streams = 100001\n",
	    ":2: [run] max_streams \"100001\": give a whole number"),
	BAD("[run]\nmax_streams = 5\nmax_streams = 6\n",
	    ":3: [run] max_streams is set twice (first on line 2)"),
	/* [check] errors; "allow everything" is refused in either list */
	BAD("[check]\nallow = updates.example:443\nallow = x\n",
	    ":3: [check] allow entry 1 \"x\": no port"),
	BAD("[check]\nverify = yes\n",
	    ":2: unknown key \"verify\" in [check] (known: allow)"),
	BAD("[check]\nallow = 0.0.0.0/0:443\n",
	    ":2: [check] allow entry 1 \"0.0.0.0/0:443\": this block holds "
	    "every IPv4 address"),
	BAD("[access]\nallow = a.example:80\nallow = [::/0]:*\n",
	    ":3: [access] allow entry 1 \"[::/0]:*\": this block holds every "
	    "IPv6 and IPv4 address, which would let the cloud reach any host; "
	    "name the networks"),
	BAD("[access]\nallow = 0.0.0.0/0:1-65535\n",
	    ":2: [access] allow entry 1 \"0.0.0.0/0:1-65535\": this block holds "
	    "every IPv4 address"),
	BAD("[access]\nallow = *:*\n",
	    ":2: [access] allow entry 1 \"*:*\": '*' alone would allow every "
	    "destination"),
	BAD("tunnels = 2\n",
	    ":1: \"tunnels\" is outside any section; put it under [cloud], "
	    "[proxy], [access], [check], [run], [log] or [update]"),
};

static void
sect_check(const struct sect_row *w, size_t i,
    const struct connector_config *cfg)
{
	char		 want[512];
	const char	*rule = NULL;

	if (w->url != NULL && strcmp(cfg->cloud_url, w->url) != 0)
		fail_msg("row %zu: url \"%s\"", i, cfg->cloud_url);
	if (w->port != 0 && cfg->cloud.port != w->port)
		fail_msg("row %zu: port %u", i, cfg->cloud.port);
	if (w->ca != NULL) {
		snprintf(want, sizeof(want), "%s%s", w->ca[0] == '@' ? tmpdir :
		    "", w->ca + (w->ca[0] == '@'));
		if (strcmp(cfg->cloud_ca, want) != 0)
			fail_msg("row %zu: ca \"%s\" want \"%s\"", i,
			    cfg->cloud_ca, want);
	}
	if (w->tunnels != 0 && cfg->tunnels != w->tunnels)
		fail_msg("row %zu: tunnels %d", i, cfg->tunnels);
	if (w->via != 0 && cfg->via_proxy != (w->via > 0))
		fail_msg("row %zu: via_proxy %d", i, cfg->via_proxy);
	if (w->drain != 0 && cfg->drain_timeout != w->drain)
		fail_msg("row %zu: drain_timeout %lld", i,
		    (long long)cfg->drain_timeout);
	if (w->sbuf != 0 && cfg->stream_buffer != w->sbuf)
		fail_msg("row %zu: stream_buffer %zu", i, cfg->stream_buffer);
	if (w->allow_host != NULL && access_allows(cfg->access, w->allow_host,
	    w->allow_port, &rule) != (w->allowed != 0))
		fail_msg("row %zu: %s:%u allowed %d", i, w->allow_host,
		    w->allow_port, !w->allowed);
}

static void
test_config_sections(void **state)
{
	struct connector_config	 cfg;
	char			 path[256], err[1024];
	size_t			 i;
	int			 rc;

	(void)state;
	snprintf(path, sizeof(path), "%s/c.conf", tmpdir);
	for (i = 0; i < sizeof(sect_rows) / sizeof(sect_rows[0]); i++) {
		const struct sect_row *w = &sect_rows[i];

		write_file(path, w->text);
		err[0] = '\0';
		rc = config_load(path, &cfg, err, sizeof(err));
		if (rc != w->rc)
			fail_msg("row %zu: rc %d want %d (%s)", i, rc, w->rc,
			    err);
		if (w->err != NULL && (strstr(err, w->err) == NULL ||
		    strncmp(err, path, strlen(path)) != 0))
			fail_msg("row %zu: error \"%s\" lacks \"%s\"", i, err,
			    w->err);
		if (rc != UPLINK_OK)
			continue;
		sect_check(w, i, &cfg);
		config_free(&cfg);
	}
}

/* An error in the joined allow list (too many entries) names a line. */
static void
test_config_access_joined(void **state)
{
	struct connector_config	 cfg;
	char			 path[256], err[1024], line[190];
	FILE			*fp;
	int			 i, j, n;

	(void)state;
	snprintf(path, sizeof(path), "%s/c.conf", tmpdir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("[access]\n", fp);
	/* 4110 entries, 15 per line, each line valid on its own */
	for (i = 0; i < 274; i++) {
		n = snprintf(line, sizeof(line), "allow =");
		for (j = 0; j < 15; j++)
			n += snprintf(line + n, sizeof(line) - (size_t)n,
			    " 10.1.1.%d:1", j % 10);
		assert_true((size_t)n < sizeof(line));
		fprintf(fp, "%s\n", line);
	}
	fclose(fp);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)),
	    UPLINK_ECONFIG);
	assert_non_null(strstr(err, "c.conf:2: [access] allow: the allow "
	    "lines list more than 4096 entries together"));
}

static void
test_config_need_cloud(void **state)
{
	struct connector_config	 cfg;
	char			 path[256], err[1024];

	(void)state;
	snprintf(path, sizeof(path), "%s/c.conf", tmpdir);
	write_file(path, "[log]\nlevel = info\n");
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(config_need_cloud(&cfg, err, sizeof(err)),
	    UPLINK_ECONFIG);
	assert_non_null(strstr(err, "c.conf: no [cloud] section: enroll this "
	    "connector first (uplink-connector enroll --token TOKEN "
	    "--config "));
	config_free(&cfg);
	write_file(path, CLOUD);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(config_need_cloud(&cfg, err, sizeof(err)), UPLINK_OK);
	config_free(&cfg);
}

static void
test_config_missing(void **state)
{
	struct connector_config	 cfg;
	char			 err[1024];

	(void)state;
	assert_int_equal(config_load("/nonexistent/uplink.conf", &cfg, err,
	    sizeof(err)), UPLINK_EIO);
	assert_non_null(strstr(err, "/nonexistent/uplink.conf: cannot open"));
}

static char *
read_file(const char *path)
{
	static char	 text[8192];
	FILE		*fp = fopen(path, "r");
	size_t		 n;

	assert_non_null(fp);
	n = fread(text, 1, sizeof(text) - 1, fp);
	text[n] = '\0';
	fclose(fp);
	return text;
}

static void
test_config_save(void **state)
{
	struct connector_config	 cfg;
	char			 path[256], err[1024];
	const char		*t;

	(void)state;
	snprintf(path, sizeof(path), "%s/save.conf", tmpdir);
	unlink(path);
	/* a new file */
	assert_int_equal(config_save_proxy(path, "http://10.0.0.1:3128", NULL,
	    err, sizeof(err)), UPLINK_OK);
	assert_string_equal(read_file(path),
	    "[proxy]\nserver = http://10.0.0.1:3128\n");
	/* an existing file: other lines, comments and sections stay */
	write_file(path, "# site A\n[log]\nlevel = debug\n\n[proxy]\n"
	    "server = http://old:1 ; old\nbypass = a.example\n\n[other]\n");
	assert_int_equal(config_save_proxy(path, "http://new:3128",
	    "*.corp.example", err, sizeof(err)), UPLINK_OK);
	t = read_file(path);
	assert_string_equal(t, "# site A\n[log]\nlevel = debug\n\n[proxy]\n"
	    "server = http://new:3128\nbypass = *.corp.example\n\n[other]\n");
	/* bypass NULL keeps the existing bypass lines */
	write_file(path, "[proxy]\nbypass = a.example\nserver = http://old:1\n");
	assert_int_equal(config_save_proxy(path, "http://new:3128", NULL, err,
	    sizeof(err)), UPLINK_OK);
	assert_string_equal(read_file(path),
	    "[proxy]\nbypass = a.example\nserver = http://new:3128\n");
	/* a file without [proxy] gets one at the end */
	write_file(path, "[log]\nlevel = info");
	assert_int_equal(config_save_proxy(path, "http://new:3128", NULL, err,
	    sizeof(err)), UPLINK_OK);
	assert_string_equal(read_file(path),
	    "[log]\nlevel = info\n\n[proxy]\nserver = http://new:3128\n");
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), UPLINK_OK);
	assert_string_equal(cfg.routes.proxy.url, "http://new:3128");
	config_free(&cfg);
	unlink(path);
}

static mode_t
file_mode(const char *path)
{
	struct stat	 st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* A new file: [cloud], [proxy] when given, a commented [access]. */
static void
test_config_save_cloud_new(void **state)
{
	struct connector_config	 cfg;
	struct route		 r;
	char			 path[256], err[1024];
	const char		*t;

	(void)state;
	snprintf(path, sizeof(path), "%s/new.conf", tmpdir);
	unlink(path);
	assert_int_equal(config_save_cloud(path, "https://c.example:8443",
	    "/s/cloud-ca.pem", "/s/connector.pem", "/s/connector.key", NULL,
	    NULL, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(file_mode(path), 0600);
	t = read_file(path);
	assert_non_null(strstr(t, "\n[cloud]\nurl = https://c.example:8443\n"
	    "ca = /s/cloud-ca.pem\ncert = /s/connector.pem\n"
	    "key = /s/connector.key\n\n[access]\n# Nothing is allowed until"));
	assert_non_null(strstr(t, "\n#   allow = "));
	assert_null(strstr(t, "[proxy]"));
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), UPLINK_OK);
	assert_string_equal(cfg.cloud_url, "https://c.example:8443");
	assert_string_equal(cfg.cloud.host, "c.example");
	assert_int_equal(cfg.cloud.port, 8443);
	assert_string_equal(cfg.cloud_ca, "/s/cloud-ca.pem");
	assert_string_equal(cfg.cloud_cert, "/s/connector.pem");
	assert_string_equal(cfg.cloud_key, "/s/connector.key");
	assert_null(cfg.access);
	assert_false(cfg.routes.has_proxy);
	config_free(&cfg);

	/* with a proxy and a bypass list */
	unlink(path);
	assert_int_equal(config_save_cloud(path, "https://c.example",
	    "/s/a", "/s/b", "/s/c", "http://10.0.0.1:3128",
	    ".corp.example, 10.0.0.0/8", err, sizeof(err)), UPLINK_OK);
	t = read_file(path);
	assert_non_null(strstr(t, "key = /s/c\n\n[proxy]\nserver = "
	    "http://10.0.0.1:3128\nbypass = .corp.example, 10.0.0.0/8\n\n"
	    "[access]\n"));
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), UPLINK_OK);
	assert_string_equal(cfg.routes.proxy.url, "http://10.0.0.1:3128");
	route_decide(&cfg.routes, "corp.example", 443, &r);
	assert_int_equal(r.kind, ROUTE_DIRECT);
	route_decide(&cfg.routes, "c.example", 443, &r);
	assert_int_equal(r.kind, ROUTE_PROXY);
	config_free(&cfg);
	unlink(path);
}

/* A long bypass list is split over lines inih can read; they add up. */
static void
test_config_save_long_bypass(void **state)
{
	struct connector_config	 cfg;
	struct route		 r;
	char			 path[256], err[1024], list[4096];
	const char		*t, *p;
	size_t			 n = 0;
	int			 i;

	(void)state;
	snprintf(path, sizeof(path), "%s/bp.conf", tmpdir);
	unlink(path);
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s.host%d."
		    "corp.example", i ? ";" : "", i);
	assert_int_equal(config_save_cloud(path, "https://c.example", "/a",
	    "/b", "/c", "http://10.0.0.1:3128", list, err, sizeof(err)),
	    UPLINK_OK);
	t = read_file(path);
	for (p = t; *p != '\0'; p += strcspn(p, "\n") + (p[strcspn(p, "\n")]
	    != '\0'))
		assert_true(strcspn(p, "\n") < 199);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), UPLINK_OK);
	route_decide(&cfg.routes, "host0.corp.example", 443, &r);
	assert_int_equal(r.kind, ROUTE_DIRECT);
	route_decide(&cfg.routes, "a.host99.corp.example", 443, &r);
	assert_int_equal(r.kind, ROUTE_DIRECT);
	route_decide(&cfg.routes, "corp.example", 443, &r);
	assert_int_equal(r.kind, ROUTE_PROXY);
	config_free(&cfg);
	unlink(path);
}

/* An existing file keeps everything but the keys the writer owns. */
static void
test_config_save_cloud_existing(void **state)
{
	struct connector_config	 cfg;
	char			 path[256], err[1024];

	(void)state;
	snprintf(path, sizeof(path), "%s/old.conf", tmpdir);
	write_file(path, "# site A\n[log]\nlevel = debug\n\n[cloud]\n"
	    "# old comment\nurl = https://old.example\nca = /old/ca\n"
	    "tunnels = 4\ncert = /old/c\nkey = /old/k\n\n# what to reach\n"
	    "[access]\nallow = a.example:80\n[proxy]\n"
	    "server = http://old:1\nbypass = b.example\n");
	chmod(path, 0644);
	assert_int_equal(config_save_cloud(path, "https://new.example:8443",
	    "/n/ca", "/n/c", "/n/k", "http://new:3128", NULL, err, sizeof(err)),
	    UPLINK_OK);
	assert_string_equal(read_file(path), "# site A\n[log]\nlevel = debug\n"
	    "\n[cloud]\n# old comment\nurl = https://new.example:8443\n"
	    "ca = /n/ca\ncert = /n/c\nkey = /n/k\ntunnels = 4\n\n"
	    "# what to reach\n[access]\nallow = a.example:80\n[proxy]\n"
	    "server = http://new:3128\nbypass = b.example\n");
	assert_int_equal(file_mode(path), 0600);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(cfg.tunnels, 4);
	assert_true(access_allows(cfg.access, "a.example", 80, NULL));
	assert_string_equal(cfg.routes.proxy.url, "http://new:3128");
	assert_string_equal(cfg.bypass_text, "b.example");
	config_free(&cfg);

	/* no [cloud] yet: one is added at the end; [proxy] left alone */
	write_file(path, "[proxy]\nserver = http://old:1\n");
	assert_int_equal(config_save_cloud(path, "https://c.example", "/a",
	    "/b", "/c", NULL, NULL, err, sizeof(err)), UPLINK_OK);
	assert_string_equal(read_file(path), "[proxy]\nserver = http://old:1\n"
	    "\n[cloud]\nurl = https://c.example\nca = /a\ncert = /b\n"
	    "key = /c\n");
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), UPLINK_OK);
	assert_string_equal(cfg.cloud_url, "https://c.example");
	config_free(&cfg);

	/* writing twice gives the same file */
	assert_int_equal(config_save_cloud(path, "https://c.example", "/a",
	    "/b", "/c", NULL, NULL, err, sizeof(err)), UPLINK_OK);
	assert_string_equal(read_file(path), "[proxy]\nserver = http://old:1\n"
	    "\n[cloud]\nurl = https://c.example\nca = /a\ncert = /b\n"
	    "key = /c\n");
	unlink(path);
}

static void
test_config_save_cloud_errors(void **state)
{
	char	 path[256], err[1024];

	(void)state;
	snprintf(path, sizeof(path), "%s/missing/c.conf", tmpdir);
	assert_int_equal(config_save_cloud(path, "https://c.example", "/a",
	    "/b", "/c", NULL, NULL, err, sizeof(err)), UPLINK_EIO);
	assert_non_null(strstr(err, "missing/c.conf: cannot create a file "
	    "beside it: No such file or directory"));
	/* a value inih could not read back */
	snprintf(path, sizeof(path), "%s/long.conf", tmpdir);
	assert_int_equal(config_save_cloud(path, "https://c.example", "/a",
	    "/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	    "/c", NULL, NULL, err, sizeof(err)), UPLINK_EINVAL);
	assert_non_null(strstr(err, "long.conf: a cloud URL or file name is "
	    "too long for a configuration line (199 characters at most)"));
	assert_int_equal(access(path, F_OK), -1);
	/* a directory where the file should be */
	snprintf(path, sizeof(path), "%s", tmpdir);
	assert_int_equal(config_save_cloud(path, "https://c.example", "/a",
	    "/b", "/c", NULL, NULL, err, sizeof(err)), UPLINK_EIO);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	 path[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/c.conf", tmpdir);
	unlink(path);
	return rmdir(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_table),
		cmocka_unit_test(test_config_missing),
		cmocka_unit_test(test_config_save),
		cmocka_unit_test(test_config_sections),
		cmocka_unit_test(test_config_access_joined),
		cmocka_unit_test(test_config_need_cloud),
		cmocka_unit_test(test_config_save_cloud_new),
		cmocka_unit_test(test_config_save_cloud_existing),
		cmocka_unit_test(test_config_save_long_bypass),
		cmocka_unit_test(test_config_save_cloud_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
