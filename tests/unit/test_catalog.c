/* The JSON catalog of required addresses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "catalog.h"
#include "error.h"

struct cat_row {
	const char	*json;
	int		 rc;
	size_t		 n;		/* addresses on success */
	const char	*err;		/* substring on failure */
};

static const struct cat_row rows[] = {
	{ "{\"services\":[]}", UPLINK_OK, 0, NULL },
	{ "{\"services\":[{\"name\":\"cloud\",\"addresses\":[{\"host\":"
	    "\"api.example.net\"}]}]}", UPLINK_OK, 1, NULL },
	{ "{\"services\":[{\"name\":\"s\",\"purpose\":\"p\",\"addresses\":["
	    "{\"host\":\"*.blob.example.net\",\"probe\":\"x.blob.example.net\"},"
	    "{\"host\":\"*.bus.example.net\"},"
	    "{\"host\":\"crl.example.net\",\"scheme\":\"http\",\"path\":\"/a.crl\"},"
	    "{\"host\":\"10.0.0.1\",\"port\":8443}]}]}", UPLINK_OK, 4, NULL },
	{ "", UPLINK_EINVAL, 0, "not valid JSON" },
	{ "{\"services\":[", UPLINK_EINVAL, 0, "not valid JSON" },
	{ "[]", UPLINK_EINVAL, 0, "expected {\"services\"" },
	{ "{\"services\":{}}", UPLINK_EINVAL, 0, "expected {\"services\"" },
	{ "{\"services\":[1]}", UPLINK_EINVAL, 0, "services[0]: expected an object" },
	{ "{\"services\":[{\"name\":\"\",\"addresses\":[]}]}", UPLINK_EINVAL, 0,
	    "services[0]" },
	{ "{\"services\":[{\"name\":\"s\",\"addresses\":{}}]}", UPLINK_EINVAL,
	    0, "\"addresses\" must be an array" },
	{ "{\"services\":[{\"name\":\"s\",\"addresses\":[{}]}]}", UPLINK_EINVAL,
	    0, "services[0].addresses[0].host: missing" },
	{ "{\"services\":[{\"name\":\"s\",\"addresses\":[{\"host\":1}]}]}",
	    UPLINK_EINVAL, 0, "addresses[0].host: expected a string" },
	{ "{\"services\":[{\"name\":\"s\",\"addresses\":[{\"host\":\"a b\"}]}]}",
	    UPLINK_EINVAL, 0, "is not a host name" },
	{ "{\"services\":[{\"name\":\"s\",\"addresses\":[{\"host\":\"a\","
	    "\"port\":0}]}]}", UPLINK_EINVAL, 0, "port: expected an integer" },
	{ "{\"services\":[{\"name\":\"s\",\"addresses\":[{\"host\":\"a\","
	    "\"port\":\"443\"}]}]}", UPLINK_EINVAL, 0, "port: expected an integer" },
	{ "{\"services\":[{\"name\":\"s\",\"addresses\":[{\"host\":\"a\","
	    "\"port\":70000}]}]}", UPLINK_EINVAL, 0, "port: expected an integer" },
	{ "{\"services\":[{\"name\":\"s\",\"addresses\":[{\"host\":\"a\","
	    "\"scheme\":\"ftp\"}]}]}", UPLINK_EINVAL, 0, "is not https or http" },
	{ "{\"services\":[{\"name\":\"s\",\"addresses\":[{\"host\":\"a\","
	    "\"colour\":\"red\"}]}]}", UPLINK_EINVAL, 0,
	    "addresses[0].colour: unknown field" },
	{ "{\"services\":[{\"name\":\"s\",\"addresses\":[{\"host\":\"a\","
	    "\"path\":\"x\"}]}]}", UPLINK_EINVAL, 0, "path: must start with '/'" },
	{ "{\"services\":[{\"name\":\"s\",\"addresses\":[{\"host\":\"*.a\","
	    "\"probe\":\"b c\"}]}]}", UPLINK_EINVAL, 0, "probe: \"b c\" is not" },
	{ "{\"services\":[],\"services\":[]}", UPLINK_EINVAL, 0, "duplicate" },

	/* No text carries a line break or control character; paths no space. */
#define ADDR(f)	"{\"services\":[{\"name\":\"s\",\"addresses\":[{\"host\":" \
	    "\"a\"," f "}]}]}"
	{ ADDR("\"scheme\":\"http\",\"path\":\"/x\\r\\nHost: evil\""),
	    UPLINK_EINVAL, 0, "addresses[0].path: holds a line break (byte 0x0d "
	    "at offset 2); a path is one line of printable ASCII without "
	    "spaces: percent-encode the rest (%0D, %0A, %20)" },
	{ ADDR("\"path\":\"/a\\nb\""), UPLINK_EINVAL, 0,
	    "path: holds a line break (byte 0x0a at offset 2)" },
	{ ADDR("\"path\":\"/a b\""), UPLINK_EINVAL, 0,
	    "path: holds a space (byte 0x20 at offset 2)" },
	{ ADDR("\"path\":\"/a\\tb\""), UPLINK_EINVAL, 0,
	    "path: holds a control character (byte 0x09" },
	{ ADDR("\"path\":\"/a\\u007fb\""), UPLINK_EINVAL, 0,
	    "path: holds a control character (byte 0x7f" },
	{ ADDR("\"path\":\"/caf\\u00e9\""), UPLINK_EINVAL, 0,
	    "path: holds a byte that is not ASCII" },
	{ ADDR("\"path\":\"/a%0D%0Ab?c=d&e=%20\""), UPLINK_OK, 1, NULL },
	{ ADDR("\"purpose\":\"updates\\n0.0.0.0/0:443\""), UPLINK_EINVAL, 0,
	    "addresses[0].purpose: holds a line break (byte 0x0a at offset 7); "
	    "write it on one line without control characters" },
	{ ADDR("\"purpose\":\"a\\u001bb\""), UPLINK_EINVAL, 0,
	    "purpose: holds a control character (byte 0x1b" },
	{ ADDR("\"purpose\":\"caf\\u00e9 updates, weekly\""), UPLINK_OK, 1,
	    NULL },
	{ ADDR("\"probe\":\"a\\nb\""), UPLINK_EINVAL, 0,
	    "probe: holds a line break" },
	{ ADDR("\"scheme\":\"http\\r\""), UPLINK_EINVAL, 0,
	    "scheme: holds a line break" },
	{ "{\"services\":[{\"name\":\"s\",\"purpose\":\"x\\ny\","
	    "\"addresses\":[]}]}", UPLINK_EINVAL, 0, "services[0].purpose: holds "
	    "a line break or control character (offset 1)" },
	{ "{\"services\":[{\"name\":\"s\\r\\n\",\"addresses\":[]}]}",
	    UPLINK_EINVAL, 0, "services[0].name: holds a control character" },
#undef ADDR
};

static void
test_catalog_table(void **state)
{
	struct catalog	 c;
	char		 err[512];
	size_t		 i;
	int		 rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&c, 0, sizeof(c));
		err[0] = '\0';
		rc = catalog_load_json(&c, rows[i].json, strlen(rows[i].json),
		    "t.json", err, sizeof(err));
		if (rc != rows[i].rc)
			fail_msg("row %zu: rc %d want %d (%s)", i, rc, rows[i].rc,
			    err);
		if (rc == UPLINK_OK && c.n != rows[i].n)
			fail_msg("row %zu: %zu addresses, want %zu", i, c.n,
			    rows[i].n);
		if (rows[i].err != NULL && (strstr(err, rows[i].err) == NULL ||
		    strncmp(err, "t.json", 6) != 0))
			fail_msg("row %zu: \"%s\" lacks \"%s\"", i, err,
			    rows[i].err);
		catalog_free(&c);
	}
}

static void
test_catalog_fields(void **state)
{
	const char	*j = "{\"services\":[{\"name\":\"s\",\"purpose\":\"sp\","
	    "\"addresses\":[{\"host\":\"*.blob.example.net\",\"probe\":"
	    "\"x.blob.example.net\"},{\"host\":\"*.bus.example.net\"},"
	    "{\"host\":\"crl.example.net\",\"scheme\":\"http\",\"path\":"
	    "\"/a.crl\",\"purpose\":\"CRL\"}]},{\"name\":\"t\",\"addresses\":"
	    "[{\"host\":\"t.example\"}]}]}";
	struct catalog	 c = { 0 };
	char		 err[512];
	char		 tname[] = "t";
	char		*only[] = { tname };

	(void)state;
	assert_int_equal(catalog_load_json(&c, j, strlen(j), "x", err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.v[0].address, "*.blob.example.net");
	assert_string_equal(c.v[0].probe, "x.blob.example.net");
	assert_int_equal(c.v[0].port, 443);
	assert_string_equal(c.v[0].purpose, "sp");
	assert_string_equal(c.v[1].probe, "");
	assert_int_equal(c.v[2].scheme, SCHEME_HTTP);
	assert_int_equal(c.v[2].port, 80);
	assert_string_equal(c.v[2].path, "/a.crl");
	assert_string_equal(c.v[2].purpose, "CRL");
	assert_int_equal(catalog_add_url(&c, "cloud", "https://cloud.example:8443",
	    "p", err, sizeof(err)), UPLINK_OK);
	assert_int_equal(c.v[4].port, 8443);
	assert_string_equal(c.v[4].probe, "cloud.example");
	assert_int_equal(catalog_add_url(&c, "cloud", "ftp://x", "p", err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(catalog_filter(&c, only, 1), 1);
	assert_string_equal(c.v[0].address, "t.example");
	catalog_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalog_table),
		cmocka_unit_test(test_catalog_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
