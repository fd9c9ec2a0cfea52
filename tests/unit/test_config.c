/* Connector configuration: accepted files, errors with file:line, --save. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	    ":2: unknown section [proxies]", NULL, NULL, 0 },
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
	    "[log]\nlevel = info\n[proxy]\nserver = http://new:3128\n");
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), UPLINK_OK);
	assert_string_equal(cfg.routes.proxy.url, "http://new:3128");
	config_free(&cfg);
	unlink(path);
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
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
