/*
 * The check's report: the one JSON document that "uplink-connector check
 * --json" prints and the connector answers GET /v1/check with, its cap
 * for the tunnel, and the failure row made outside a check run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "check.h"
#include "error.h"
#include "proxy.h"

#define NROWS	40

static struct check_target	 targets[NROWS];
static struct check_result	 results[NROWS];
static bool			 have[NROWS];

/* Row i: even rows pass, odd rows fail with a long detail. */
static void
make_rows(size_t n)
{
	size_t	 i;
	int	 s;

	memset(targets, 0, sizeof(targets));
	memset(results, 0, sizeof(results));
	for (i = 0; i < n; i++) {
		struct check_target	*t = &targets[i];
		struct check_result	*r = &results[i];

		snprintf(t->service, sizeof(t->service), "svc");
		snprintf(t->address, sizeof(t->address), "host%02zu.example", i);
		snprintf(t->probe, sizeof(t->probe), "%s", t->address);
		t->port = 443;
		r->target = t;
		r->route = ROUTE_PROXY;
		snprintf(r->proxy, sizeof(r->proxy), "http://10.0.0.1:3128");
		r->ok = i % 2 == 0;
		r->ms = 7;
		for (s = 0; s < 6; s++) {
			snprintf(r->steps[s].name, sizeof(r->steps[s].name),
			    "step%d", s);
			r->steps[s].ok = true;
			memset(r->steps[s].detail, 'd', 300);
		}
		r->nsteps = 6;
		if (!r->ok) {
			r->error = "tcp";
			memset(r->detail, 'x', 400);
			snprintf(r->hint, sizeof(r->hint), "fix it");
		}
		have[i] = true;
	}
}

static void
proxy_routes(struct route_table *rt)
{
	char	 why[256];

	route_table_init(rt);
	assert_int_equal(route_table_set_proxy(rt, "http://10.0.0.1:3128", why,
	    sizeof(why)), UPLINK_OK);
	snprintf(rt->source, sizeof(rt->source), "/etc/uplink/connector.conf");
}

/* The exact text of a small report: the format is a contract. */
static void
test_report_golden(void **state)
{
	static const char want[] =
	    "{\n"
	    "  \"ok\": false,\n"
	    "  \"proxy\": null,\n"
	    "  \"source\": null,\n"
	    "  \"passed\": 0,\n"
	    "  \"failed\": 1,\n"
	    "  \"results\": [\n"
	    "    {\n"
	    "      \"service\": \"cloud\",\n"
	    "      \"address\": \"a.example\",\n"
	    "      \"probe\": \"a.example\",\n"
	    "      \"port\": 443,\n"
	    "      \"scheme\": \"https\",\n"
	    "      \"route\": \"direct\",\n"
	    "      \"rule\": null,\n"
	    "      \"ok\": false,\n"
	    "      \"error\": \"dns\",\n"
	    "      \"detail\": \"no such name\",\n"
	    "      \"issuer\": null,\n"
	    "      \"hint\": \"h\",\n"
	    "      \"tls\": null,\n"
	    "      \"purpose\": \"p\",\n"
	    "      \"ms\": 3,\n"
	    "      \"warnings\": [],\n"
	    "      \"steps\": [\n"
	    "        {\n"
	    "          \"name\": \"dns\",\n"
	    "          \"ok\": false,\n"
	    "          \"ms\": 3,\n"
	    "          \"detail\": \"no such name\"\n"
	    "        }\n"
	    "      ]\n"
	    "    }\n"
	    "  ]\n"
	    "}";
	struct check_target	 t;
	struct check_result	 r[2];
	struct route_table	 rt;
	bool			 h[2] = { false, true };
	json_t			*root;
	char			*text;

	(void)state;
	memset(&t, 0, sizeof(t));
	memset(r, 0, sizeof(r));
	snprintf(t.service, sizeof(t.service), "cloud");
	snprintf(t.purpose, sizeof(t.purpose), "p");
	snprintf(t.address, sizeof(t.address), "a.example");
	snprintf(t.probe, sizeof(t.probe), "a.example");
	t.port = 443;
	r[1].target = &t;
	r[1].error = "dns";
	snprintf(r[1].detail, sizeof(r[1].detail), "no such name");
	snprintf(r[1].hint, sizeof(r[1].hint), "h");
	r[1].ms = 3;
	snprintf(r[1].steps[0].name, sizeof(r[1].steps[0].name), "dns");
	r[1].steps[0].ms = 3;
	snprintf(r[1].steps[0].detail, sizeof(r[1].steps[0].detail),
	    "no such name");
	r[1].nsteps = 1;
	route_table_init(&rt);
	root = check_report_json(&rt, r, h, 2);
	assert_non_null(root);
	text = check_report_text(root, 0);
	assert_string_equal(text, want);
	free(text);
	json_decref(root);
}

static void
test_report_counts(void **state)
{
	struct route_table	 rt;
	json_t			*root;
	size_t			 i;

	(void)state;
	make_rows(10);
	have[3] = false;	/* not done: left out, not counted */
	proxy_routes(&rt);
	root = check_report_json(&rt, results, have, 10);
	assert_non_null(root);
	assert_false(json_is_true(json_object_get(root, "ok")));
	assert_string_equal(json_string_value(json_object_get(root, "proxy")),
	    "http://10.0.0.1:3128");
	assert_string_equal(json_string_value(json_object_get(root, "source")),
	    "/etc/uplink/connector.conf");
	assert_int_equal(json_integer_value(json_object_get(root, "passed")), 5);
	assert_int_equal(json_integer_value(json_object_get(root, "failed")), 4);
	assert_int_equal(json_array_size(json_object_get(root, "results")), 9);
	assert_null(json_object_get(root, "truncated"));
	json_decref(root);
	for (i = 0; i < 10; i += 2)
		have[i + 1] = false;
	root = check_report_json(&rt, results, have, 10);
	assert_true(json_is_true(json_object_get(root, "ok")));
	json_decref(root);
	route_table_clear(&rt);
}

/* Under the cap nothing changes: the text is what check --json prints. */
static void
test_report_cap_not_needed(void **state)
{
	struct route_table	 rt;
	json_t			*a, *b;
	char			*ta, *tb;

	(void)state;
	make_rows(NROWS);
	proxy_routes(&rt);
	a = check_report_json(&rt, results, have, NROWS);
	b = check_report_json(&rt, results, have, NROWS);
	ta = check_report_text(a, 0);
	tb = check_report_text(b, strlen(ta));
	assert_string_equal(ta, tb);
	assert_null(json_object_get(b, "truncated"));
	free(ta);
	free(tb);
	json_decref(a);
	json_decref(b);
	route_table_clear(&rt);
}

struct cap_row {
	size_t	 max;
	bool	 passing_left;	/* some passing row survives */
	bool	 all_failing;	/* every failing row survives */
};

/* The full report is about 123 kB; without the passing rows' steps 74 kB. */
static const struct cap_row caps[] = {
	{ 100000, true, true },	/* only steps of passing rows go */
	{ 70000, true, true },	/* and some passing rows */
	{ 60000, false, false },
	{ 8000, false, false },
	{ 3000, false, false },	/* not even one row: the bare report */
	{ 300, false, false },
};

static void
test_report_cap(void **state)
{
	struct route_table	 rt;
	json_t			*root, *parsed, *rows, *row;
	char			*text, *full;
	size_t			 c, i, npass, nfail, last;
	const char		*addr;

	(void)state;
	make_rows(NROWS);
	proxy_routes(&rt);
	root = check_report_json(&rt, results, have, NROWS);
	full = check_report_text(root, 0);
	json_decref(root);
	for (c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		assert_true(strlen(full) > caps[c].max);
		root = check_report_json(&rt, results, have, NROWS);
		text = check_report_text(root, caps[c].max);
		assert_non_null(text);
		assert_true(strlen(text) <= caps[c].max || caps[c].max < 400);
		parsed = json_loads(text, 0, NULL);
		assert_non_null(parsed);
		assert_true(json_is_true(json_object_get(parsed, "truncated")));
		assert_int_equal(json_integer_value(json_object_get(parsed,
		    "passed")), NROWS / 2);
		assert_int_equal(json_integer_value(json_object_get(parsed,
		    "failed")), NROWS / 2);
		rows = json_object_get(parsed, "results");
		assert_int_equal(json_array_size(rows) + (size_t)
		    json_integer_value(json_object_get(parsed, "omitted")), NROWS);
		npass = nfail = 0;
		last = 0;
		json_array_foreach(rows, i, row) {
			addr = json_string_value(json_object_get(row, "address"));
			/* Rows stay in catalog order. */
			assert_true(i == 0 || (size_t)strtoul(addr + 4, NULL,
			    10) > last);
			last = (size_t)strtoul(addr + 4, NULL, 10);
			if (json_is_true(json_object_get(row, "ok"))) {
				npass++;
				assert_int_equal(json_array_size(
				    json_object_get(row, "steps")), 0);
			} else {
				nfail++;
				assert_int_equal(json_array_size(
				    json_object_get(row, "steps")), 6);
			}
		}
		assert_int_equal(npass > 0, caps[c].passing_left);
		assert_int_equal(nfail == NROWS / 2, caps[c].all_failing);
		/* Failing rows go only once every passing row has gone. */
		if (npass > 0)
			assert_int_equal(nfail, NROWS / 2);
		json_decref(parsed);
		json_decref(root);
		free(text);
	}
	free(full);
	route_table_clear(&rt);
}

struct fail_row {
	const char	*error;
	enum route_kind	 route;
	const char	*hint;		/* substring */
};

static const struct fail_row fails[] = {
	{ "catalog", ROUTE_DIRECT, "did not hand over the catalog" },
	{ "catalog", ROUTE_DIRECT, "GET /api/v1/requirements" },
	{ "dns", ROUTE_DIRECT, "does not resolve from this machine" },
	{ "tcp", ROUTE_PROXY, "from the proxy" },
	{ "timeout", ROUTE_DIRECT, "within 10 s" },
	{ "proxy-unreachable", ROUTE_PROXY, "http://10.0.0.1:3128 does not" },
	{ "proxy-denied", ROUTE_PROXY, "refuses cloud.example:8443" },
	{ "tls", ROUTE_DIRECT, "TLS handshake with cloud.example:8443" },
};

static void
test_result_fail(void **state)
{
	struct check_target	 t;
	struct check_result	 r;
	json_t			*o;
	size_t			 i;

	(void)state;
	memset(&t, 0, sizeof(t));
	snprintf(t.service, sizeof(t.service), "cloud");
	snprintf(t.address, sizeof(t.address), "cloud.example");
	snprintf(t.probe, sizeof(t.probe), "cloud.example");
	snprintf(t.path, sizeof(t.path), "/api/v1/requirements");
	t.port = 8443;
	for (i = 0; i < sizeof(fails) / sizeof(fails[0]); i++) {
		memset(&r, 0, sizeof(r));
		r.target = &t;
		r.ok = true;
		r.route = fails[i].route;
		if (r.route == ROUTE_PROXY)
			snprintf(r.proxy, sizeof(r.proxy), "http://10.0.0.1:3128");
		check_result_fail(&r, fails[i].error, "what happened", 10000);
		assert_false(r.ok);
		assert_string_equal(r.error, fails[i].error);
		assert_string_equal(r.detail, "what happened");
		if (strstr(r.hint, fails[i].hint) == NULL)
			fail_msg("%s: hint \"%s\" lacks \"%s\"", fails[i].error,
			    r.hint, fails[i].hint);
		o = check_result_json(&r);
		assert_string_equal(json_string_value(json_object_get(o,
		    "error")), fails[i].error);
		json_decref(o);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_golden),
		cmocka_unit_test(test_report_counts),
		cmocka_unit_test(test_report_cap_not_needed),
		cmocka_unit_test(test_report_cap),
		cmocka_unit_test(test_result_fail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
