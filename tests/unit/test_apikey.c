/*
 * apikey: the text form of API keys (new, parse) and their check against
 * the store (verify), including revoked, wrong and malformed keys, the
 * messages a client may see, and the throttled last_used; the scope table
 * (rights per scope), a new key's scope and sites (prepare) and the
 * ingress check per site.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "apikey.h"
#include "error.h"
#include "store.h"

/* A valid key: id 0123456789ab, secret of 32 zero bytes. */
#define ZERO_SECRET	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define GOOD		"uk_0123456789ab_" ZERO_SECRET

struct parse_row {
	const char	*text;
	int		 rc;
	const char	*why;	/* NULL when valid */
};

static const struct parse_row parse_rows[] = {
	{ GOOD, UPLINK_OK, NULL },
	{ "uk_ffffffffffff_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_E",
	    UPLINK_OK, NULL },
	{ NULL, UPLINK_EINVAL, "not an uplink API key (it should start with "
	    "\"uk_\")" },
	{ "", UPLINK_EINVAL, "not an uplink API key" },
	{ "uk", UPLINK_EINVAL, "not an uplink API key" },
	{ "UK_0123456789ab_" ZERO_SECRET, UPLINK_EINVAL, "not an uplink API "
	    "key" },
	{ "uplink1-AAAA", UPLINK_EINVAL, "not an uplink API key" },
	{ "uk_", UPLINK_EINVAL, "malformed API key (3 characters; a key has "
	    "59): copy the whole key" },
	{ GOOD "A", UPLINK_EINVAL, "(60 characters; a key has 59)" },
	{ "uk_0123456789ab_" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    UPLINK_EINVAL, "(58 characters" },
	{ " " GOOD, UPLINK_EINVAL, "not an uplink API key" },
	{ "uk_0123456789ab_" ZERO_SECRET "\n", UPLINK_EINVAL, "(60 "
	    "characters" },
	{ "uk_0123456789AB_" ZERO_SECRET, UPLINK_EINVAL, "malformed API key "
	    "(character 14 is not a lowercase hex digit)" },
	{ "uk_0123456789-b_" ZERO_SECRET, UPLINK_EINVAL, "character 14 is not "
	    "a lowercase hex digit" },
	{ "uk_g123456789ab_" ZERO_SECRET, UPLINK_EINVAL, "character 4 is not" },
	{ "uk_0123456789ab-" ZERO_SECRET, UPLINK_EINVAL, "malformed API key "
	    "(no '_' after the id at character 16)" },
	{ "uk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    UPLINK_EINVAL, "(character 59 is not base64url)" },
	{ "uk_0123456789ab_AAAA+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    UPLINK_EINVAL, "(character 21 is not base64url)" },
	{ "uk_0123456789ab_AAAA AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    UPLINK_EINVAL, "(character 21 is not base64url)" },
	/* Unused low bits set: a second spelling of a secret is refused. */
	{ "uk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",
	    UPLINK_EINVAL, "malformed API key (its secret does not decode): "
	    "copy the whole key" },
};

static void
test_parse(void **state)
{
	const struct parse_row	*r;
	unsigned char		 hash[APIKEY_HASH_LEN], zero[APIKEY_HASH_LEN];
	char			 id[APIKEY_ID_SIZE], err[256];
	size_t			 i;
	int			 rc;

	(void)state;
	memset(zero, 0, sizeof(zero));
	for (i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
		r = &parse_rows[i];
		err[0] = '\0';
		rc = apikey_parse(r->text, id, hash, err, sizeof(err));
		if (rc != r->rc)
			fail_msg("row %zu: rc %d: %s", i, rc, err);
		if (r->why != NULL && strstr(err, r->why) == NULL)
			fail_msg("row %zu: \"%s\" lacks \"%s\"", i, err,
			    r->why);
		if (rc != UPLINK_OK) {
			assert_string_equal(id, "");
			assert_memory_equal(hash, zero, sizeof(hash));
		}
	}
}

static void
test_parse_good(void **state)
{
	unsigned char	 hash[APIKEY_HASH_LEN], want[APIKEY_HASH_LEN];
	unsigned char	 secret[APIKEY_SECRET_LEN];
	char		 id[APIKEY_ID_SIZE], err[256];

	(void)state;
	assert_int_equal(apikey_parse(GOOD, id, hash, err, sizeof(err)),
	    UPLINK_OK);
	assert_string_equal(id, "0123456789ab");
	memset(secret, 0, sizeof(secret));
	crypto_hash_sha256(want, secret, sizeof(secret));
	assert_memory_equal(hash, want, sizeof(hash));
	/* Messages never quote the key: it may be someone's secret. */
	assert_int_equal(apikey_parse("uk_0123456789ab_" ZERO_SECRET "x", id,
	    hash, err, sizeof(err)), UPLINK_EINVAL);
	assert_null(strstr(err, "AAAA"));
	assert_int_equal(apikey_parse("uk_0123456789ab_" ZERO_SECRET, id, hash,
	    NULL, 0), UPLINK_OK);
	assert_int_equal(apikey_parse("bad", id, hash, NULL, 0), UPLINK_EINVAL);
}

static void
test_new(void **state)
{
	unsigned char	 hash[APIKEY_HASH_LEN], hash2[APIKEY_HASH_LEN];
	char		 text[APIKEY_TEXT_SIZE], text2[APIKEY_TEXT_SIZE];
	char		 id[APIKEY_ID_SIZE], id2[APIKEY_ID_SIZE], err[256];
	int		 i;

	(void)state;
	for (i = 0; i < 200; i++) {
		apikey_new(text, id, hash);
		assert_int_equal(strlen(text), APIKEY_TEXT_LEN);
		assert_int_equal(strncmp(text, "uk_", 3), 0);
		assert_int_equal(strlen(id), 12);
		assert_int_equal(strspn(id, "0123456789abcdef"), 12);
		assert_int_equal(memcmp(text + 3, id, 12), 0);
		assert_int_equal(text[15], '_');
		if (apikey_parse(text, id2, hash2, err, sizeof(err)) !=
		    UPLINK_OK)
			fail_msg("%s: %s", text, err);
		assert_string_equal(id, id2);
		assert_memory_equal(hash, hash2, sizeof(hash));
	}
	apikey_new(text2, id2, hash2);
	assert_string_not_equal(text, text2);
	assert_memory_not_equal(hash, hash2, sizeof(hash));
}

#include "storefix.h"

/* Makes a key, stores it with scope, and returns its text and id. */
static void
add_key(struct store *st, const char *scope, char text[APIKEY_TEXT_SIZE],
    char id[APIKEY_ID_SIZE])
{
	struct store_apikey	 k;
	char			 err[256];

	memset(&k, 0, sizeof(k));
	apikey_new(text, k.id, k.secret_hash);
	snprintf(k.name, sizeof(k.name), "test");
	snprintf(k.scope, sizeof(k.scope), "%s", scope);
	if (store_apikey_add(st, &k, err, sizeof(err)) != UPLINK_OK)
		fail_msg("store_apikey_add: %s", err);
	snprintf(id, APIKEY_ID_SIZE, "%s", k.id);
}

static void
expect_verify(struct store *st, const char *text, int rc, const char *scope,
    const char *why)
{
	struct store_apikey	 got;
	unsigned char		 zero[APIKEY_HASH_LEN] = { 0 };
	char			 err[256] = "";

	if (apikey_verify(st, text, &got, err, sizeof(err)) != rc)
		fail_msg("want %d: %s", rc, err);
	assert_string_equal(got.scope, scope);
	/* The row comes back without its hash. */
	assert_memory_equal(got.secret_hash, zero, sizeof(zero));
	if (why != NULL)
		assert_string_equal(err, why);
}

static void
test_verify(void **state)
{
	struct fixture		*f = *state;
	struct store_apikey	 k;
	char			 full[APIKEY_TEXT_SIZE], read[APIKEY_TEXT_SIZE];
	char			 other[APIKEY_TEXT_SIZE];
	char			 fid[APIKEY_ID_SIZE], rid[APIKEY_ID_SIZE];
	char			 oid[APIKEY_ID_SIZE], err[256];
	unsigned char		 h[APIKEY_HASH_LEN];

	add_key(f->st, "full", full, fid);
	add_key(f->st, "read", read, rid);
	expect_verify(f->st, full, UPLINK_OK, "full", NULL);
	expect_verify(f->st, read, UPLINK_OK, "read", NULL);
	assert_int_equal(apikey_verify(f->st, full, NULL, err, sizeof(err)),
	    UPLINK_OK);
	/* A key never stored, and a stored id with another secret. */
	apikey_new(other, oid, h);
	expect_verify(f->st, other, UPLINK_ENOTFOUND, "", "unknown or revoked "
	    "API key");
	memcpy(other + 3, fid, 12);
	expect_verify(f->st, other, UPLINK_ENOTFOUND, "", "unknown or revoked "
	    "API key");
	expect_verify(f->st, "uk_x", UPLINK_EINVAL, "", "malformed API key (4 "
	    "characters; a key has 59): copy the whole key");
	expect_verify(f->st, "Basic abc", UPLINK_EINVAL, "", "not an uplink "
	    "API key (it should start with \"uk_\")");
	/* Revoked: refused at once, with the same message. */
	assert_int_equal(store_apikey_revoke(f->st, fid, time(NULL), err,
	    sizeof(err)), UPLINK_OK);
	expect_verify(f->st, full, UPLINK_ENOTFOUND, "", "unknown or revoked "
	    "API key");
	expect_verify(f->st, read, UPLINK_OK, "read", NULL);
	assert_int_equal(store_apikey_get(f->st, rid, &k, err, sizeof(err)),
	    UPLINK_OK);
	assert_true(k.last_used >= time(NULL) - 5);
}

/* last_used is written when stale, not on every use. */
static void
test_verify_touch(void **state)
{
	struct fixture		*f = *state;
	struct store_apikey	 k;
	char			 text[APIKEY_TEXT_SIZE], id[APIKEY_ID_SIZE];
	char			 err[256];
	int64_t			 now = time(NULL), old;

	add_key(f->st, "full", text, id);
	assert_int_equal(store_apikey_get(f->st, id, &k, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(k.last_used, 0);
	old = now - APIKEY_TOUCH_SECS + 60;	/* fresh enough */
	store_apikey_touch(f->st, id, old, err, sizeof(err));
	assert_int_equal(apikey_verify(f->st, text, NULL, err, sizeof(err)),
	    UPLINK_OK);
	store_apikey_get(f->st, id, &k, err, sizeof(err));
	assert_int_equal(k.last_used, old);
	old = now - APIKEY_TOUCH_SECS - 60;	/* stale */
	store_apikey_touch(f->st, id, old, err, sizeof(err));
	assert_int_equal(apikey_verify(f->st, text, NULL, err, sizeof(err)),
	    UPLINK_OK);
	store_apikey_get(f->st, id, &k, err, sizeof(err));
	assert_true(k.last_used >= now);
}

/* ---- scopes */

struct rights_row {
	const char	*scope;
	unsigned	 rights;
	bool		 allowed;
};

static const struct rights_row rights_rows[] = {
	{ "full", APIKEY_API_READ, true },
	{ "full", APIKEY_API_WRITE, true },
	{ "full", APIKEY_INGRESS, true },
	{ "full", APIKEY_API_READ | APIKEY_API_WRITE | APIKEY_INGRESS, true },
	{ "full", APIKEY_SITE_BOUND, false },
	{ "read", APIKEY_API_READ, true },
	{ "read", APIKEY_API_WRITE, false },
	{ "read", APIKEY_INGRESS, false },
	{ "read", APIKEY_API_READ | APIKEY_INGRESS, false },
	{ "ingress", APIKEY_INGRESS, true },
	{ "ingress", APIKEY_SITE_BOUND, true },
	{ "ingress", APIKEY_API_READ, false },
	{ "ingress", APIKEY_API_WRITE, false },
	{ "ingress", APIKEY_METRICS, false },
	{ "read", APIKEY_METRICS, false },
	{ "full", APIKEY_METRICS, true },
	{ "metrics", APIKEY_METRICS, true },
	{ "metrics", APIKEY_API_READ, false },
	{ "metrics", APIKEY_INGRESS, false },
	{ "metrics", APIKEY_SITE_BOUND, false },
	{ "Full", APIKEY_API_READ, false },
	{ "", APIKEY_API_READ, false },
	{ "admin", APIKEY_API_READ, false },
	{ NULL, APIKEY_API_READ, false },
};

static void
test_scopes(void **state)
{
	const struct rights_row	*r;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(rights_rows) / sizeof(rights_rows[0]); i++) {
		r = &rights_rows[i];
		if (apikey_allows(r->scope, r->rights) != r->allowed)
			fail_msg("row %zu: %s 0x%x", i, r->scope ? r->scope :
			    "NULL", r->rights);
	}
	assert_string_equal(apikey_scope_names(),
	    "full, read, ingress or metrics");
	assert_string_equal(apikey_scope_find("ingress")->name, "ingress");
	assert_null(apikey_scope_find("INGRESS"));
	assert_null(apikey_scope_find(NULL));
}

struct prepare_row {
	const char	*name;
	const char	*scope;
	const char	*sites;
	int		 rc;
	const char	*want;	/* k.sites when good, else a part of err */
};

static const struct prepare_row prepare_rows[] = {
	{ "ci", "full", NULL, UPLINK_OK, "" },
	{ "ci", "full", "", UPLINK_OK, "" },
	{ "ci", "read", NULL, UPLINK_OK, "" },
	{ "ci", "ingress", "hq", UPLINK_OK, "hq" },
	/* Sites keep their stored spelling. */
	{ "ci", "ingress", "HQ,branch", UPLINK_OK, "hq,Branch" },
	{ "ci", "ingress", NULL, UPLINK_EINVAL, "scope ingress needs the "
	    "sites the key may reach (e.g. hq,branch)" },
	{ "ci", "ingress", "", UPLINK_EINVAL, "needs the sites" },
	{ "ci", "full", "hq", UPLINK_EINVAL, "scope full is not bound to "
	    "sites: give sites with scope ingress only" },
	{ "ci", "read", "hq", UPLINK_EINVAL, "scope read is not bound" },
	{ "ci", "ingress", "paris", UPLINK_EINVAL, "there is no site named "
	    "\"paris\"" },
	{ "ci", "ingress", "hq,hq", UPLINK_EINVAL, "site \"hq\" is given "
	    "twice" },
	{ "ci", "ingress", "hq,HQ", UPLINK_EINVAL, "given twice" },
	{ "ci", "ingress", "hq,", UPLINK_EINVAL, "the list of sites ends with "
	    "a comma" },
	{ "ci", "ingress", ",hq", UPLINK_EINVAL, "site name has 0" },
	{ "ci", "ingress", "hq,,Branch", UPLINK_EINVAL, "site name has 0" },
	{ "ci", "ingress", "hq branch", UPLINK_EINVAL, "byte 0x20 at position 3" },
	{ "ci", "ingress", "hq,b\nx", UPLINK_EINVAL, "site name" },
	{ "ci", "admin", NULL, UPLINK_EINVAL, "the scope is full, read, "
	    "ingress or metrics, not \"admin\"" },
	{ "ci", "", NULL, UPLINK_EINVAL, "the scope is full, read, ingress "
	    "or metrics" },
	{ "ci", "metrics", NULL, UPLINK_OK, "" },
	{ "ci", "metrics", "hq", UPLINK_EINVAL, "scope metrics is not bound "
	    "to sites" },
	{ "", "full", NULL, UPLINK_EINVAL, "key name has 0" },
	{ "my key", "full", NULL, UPLINK_EINVAL, "key name" },
};

static void
test_prepare(void **state)
{
	const struct prepare_row	*r;
	struct fixture			*f = *state;
	struct store_apikey		 k;
	char				 err[512], many[2048];
	int64_t				 id;
	size_t				 i, n = 0;
	int				 rc;

	assert_int_equal(store_site_ensure(f->st, "hq", &id, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_site_ensure(f->st, "Branch", &id, err,
	    sizeof(err)), UPLINK_OK);
	for (i = 0; i < sizeof(prepare_rows) / sizeof(prepare_rows[0]); i++) {
		r = &prepare_rows[i];
		memset(&k, 0, sizeof(k));
		err[0] = '\0';
		rc = apikey_prepare(f->st, &k, r->name, r->scope, r->sites, err,
		    sizeof(err));
		if (rc != r->rc)
			fail_msg("row %zu: rc %d: %s", i, rc, err);
		if (rc == UPLINK_OK && strcmp(k.sites, r->want) != 0)
			fail_msg("row %zu: sites \"%s\"", i, k.sites);
		if (rc != UPLINK_OK && strstr(err, r->want) == NULL)
			fail_msg("row %zu: \"%s\" lacks \"%s\"", i, err,
			    r->want);
	}
	/* At most APIKEY_SITES_MAX sites: the 17th is refused. */
	for (i = 0; i <= APIKEY_SITES_MAX; i++) {
		char	 name[16];

		snprintf(name, sizeof(name), "s%zu", i);
		store_site_ensure(f->st, name, &id, err, sizeof(err));
		n += (size_t)snprintf(many + n, sizeof(many) - n, "%s%s",
		    i ? "," : "", name);
		if (i + 1 == APIKEY_SITES_MAX)
			assert_int_equal(apikey_prepare(f->st, &k, "ci",
			    "ingress", many, err, sizeof(err)), UPLINK_OK);
	}
	assert_int_equal(apikey_prepare(f->st, &k, "ci", "ingress", many, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_non_null(strstr(err, "at most 16"));
	/* A metrics key is stored and verified: no schema change needed. */
	{
		char	 text[APIKEY_TEXT_SIZE], kid[APIKEY_ID_SIZE];

		add_key(f->st, "metrics", text, kid);
		expect_verify(f->st, text, UPLINK_OK, "metrics", NULL);
	}
}

struct ingress_row {
	const char	*scope;
	const char	*sites;
	const char	*site;
	int		 rc;
	const char	*why;
};

static const struct ingress_row ingress_rows[] = {
	{ "full", "", "hq", 0, NULL },
	{ "full", "", "anything", 0, NULL },
	{ "ingress", "hq,Branch", "hq", 0, NULL },
	{ "ingress", "hq,Branch", "branch", 0, NULL },
	{ "ingress", "hq,Branch", "HQ", 0, NULL },
	{ "ingress", "hq,Branch", "paris", -1, "API key 0123456789ab (scope "
	    "ingress) is not bound to site \"paris\"; it reaches hq,Branch" },
	{ "ingress", "hq,Branch", "h", -1, "not bound" },
	{ "ingress", "hq,Branch", "hq,Branch", -1, "not bound" },
	{ "ingress", "", "hq", -1, "not bound" },
	{ "read", "", "hq", -1, "API key 0123456789ab has scope read, which "
	    "does not open the ingress proxy: use a key with scope full, or "
	    "ingress for this site" },
	{ "nonsense", "", "hq", -1, "does not open the ingress proxy" },
};

static void
test_ingress_check(void **state)
{
	const struct ingress_row	*r;
	struct store_apikey		 k;
	char				 why[256];
	size_t				 i;

	(void)state;
	for (i = 0; i < sizeof(ingress_rows) / sizeof(ingress_rows[0]); i++) {
		r = &ingress_rows[i];
		memset(&k, 0, sizeof(k));
		snprintf(k.id, sizeof(k.id), "0123456789ab");
		snprintf(k.scope, sizeof(k.scope), "%s", r->scope);
		snprintf(k.sites, sizeof(k.sites), "%s", r->sites);
		why[0] = '\0';
		if (apikey_ingress_check(&k, r->site, why, sizeof(why)) !=
		    r->rc)
			fail_msg("row %zu: %s", i, why);
		if (r->why != NULL && strstr(why, r->why) == NULL)
			fail_msg("row %zu: \"%s\" lacks \"%s\"", i, why,
			    r->why);
	}
}

/* verify hands back the sites of an ingress key. */
static void
test_verify_ingress(void **state)
{
	struct fixture		*f = *state;
	struct store_apikey	 k, got;
	char			 text[APIKEY_TEXT_SIZE], err[256];
	int64_t			 id;

	store_site_ensure(f->st, "hq", &id, err, sizeof(err));
	memset(&k, 0, sizeof(k));
	assert_int_equal(apikey_prepare(f->st, &k, "ci", "ingress", "hq", err,
	    sizeof(err)), UPLINK_OK);
	apikey_new(text, k.id, k.secret_hash);
	assert_int_equal(store_apikey_add(f->st, &k, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(apikey_verify(f->st, text, &got, err, sizeof(err)),
	    UPLINK_OK);
	assert_string_equal(got.scope, "ingress");
	assert_string_equal(got.sites, "hq");
	assert_int_equal(apikey_ingress_check(&got, "hq", err, sizeof(err)), 0);
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_new),
		T(test_verify),
		T(test_verify_touch),
		cmocka_unit_test(test_scopes),
		T(test_prepare),
		cmocka_unit_test(test_ingress_check),
		T(test_verify_ingress),
	};

	return storefix_main("test_apikey", tests, tests);
}
