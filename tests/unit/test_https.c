/*
 * Unit tests for lib/https.c's pin check: a table of chains as the uplink
 * cloud, an operator's chain and a TLS-inspecting proxy would present them,
 * against the pin an enrollment token carries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <openssl/x509.h>

#include "error.h"
#include "https.h"
#include "pki.h"

enum { UPLINK_CA, CORP_CA, OTHER_CA, NCAS };

/* Leaves: which CA signed them, for which names. */
enum { L_CLOUD, L_IP, L_WILD, L_CORP, L_OTHER, NLEAVES };

struct fixture {
	EVP_PKEY	*ca_key[NCAS];
	X509		*ca[NCAS];
	EVP_PKEY	*leaf_key[NLEAVES];
	X509		*leaf[NLEAVES];
};

static struct fixture	 f;

static const struct {
	int		 ca;
	const char	*name;
} leaves[NLEAVES] = {
	[L_CLOUD] = { UPLINK_CA, "cloud.test" },
	[L_IP] = { UPLINK_CA, "127.0.0.1" },
	[L_WILD] = { UPLINK_CA, "*.wild.test" },
	[L_CORP] = { CORP_CA, "cloud.test" },	/* what inspection forges */
	[L_OTHER] = { OTHER_CA, "cloud.test" },
};

static int
setup(void **state)
{
	static const char *names[NCAS] = { "uplink CA", "Corp Inspection CA",
	    "Other CA" };
	char	 err[512];
	int	 i;

	(void)state;
	for (i = 0; i < NCAS; i++)
		if (pki_ca_new(names[i], 30, &f.ca_key[i], &f.ca[i], err,
		    sizeof(err)) != UPLINK_OK) {
			fprintf(stderr, "pki_ca_new: %s\n", err);
			return -1;
		}
	for (i = 0; i < NLEAVES; i++)
		if (pki_issue_server(f.ca_key[leaves[i].ca], f.ca[leaves[i].ca],
		    &leaves[i].name, 1, 30, NULL, &f.leaf_key[i], &f.leaf[i],
		    err, sizeof(err)) != UPLINK_OK) {
			fprintf(stderr, "pki_issue_server: %s\n", err);
			return -1;
		}
	return 0;
}

static int
teardown(void **state)
{
	int	 i;

	(void)state;
	for (i = 0; i < NCAS; i++) {
		EVP_PKEY_free(f.ca_key[i]);
		X509_free(f.ca[i]);
	}
	for (i = 0; i < NLEAVES; i++) {
		EVP_PKEY_free(f.leaf_key[i]);
		X509_free(f.leaf[i]);
	}
	return 0;
}

/* Chain entries: leaves as they are, CAs offset by 100. */
#define CA(n)	(100 + (n))
#define END	(-1)

struct pin_row {
	int		 chain[4];	/* ends with END */
	const char	*host;
	int		 pin;		/* a CA(n) or a leaf: pinned */
	int		 rc;
	int		 anchor;	/* expected anchor with UPLINK_OK */
	const char	*issuer;
	const char	*why;		/* substring with a failure */
};

static const struct pin_row rows[] = {
	/* the uplink cloud: leaf and CA, pin of the CA */
	{ { L_CLOUD, CA(UPLINK_CA), END }, "cloud.test", CA(UPLINK_CA),
	    UPLINK_OK, CA(UPLINK_CA), "uplink CA", NULL },
	{ { L_CLOUD, CA(UPLINK_CA), END }, "CLOUD.test", CA(UPLINK_CA),
	    UPLINK_OK, CA(UPLINK_CA), "uplink CA", NULL },
	{ { L_IP, CA(UPLINK_CA), END }, "127.0.0.1", CA(UPLINK_CA),
	    UPLINK_OK, CA(UPLINK_CA), "uplink CA", NULL },
	{ { L_WILD, CA(UPLINK_CA), END }, "a.wild.test", CA(UPLINK_CA),
	    UPLINK_OK, CA(UPLINK_CA), "uplink CA", NULL },
	/* an operator chain pinned at its last certificate, extra certs */
	{ { L_CLOUD, CA(OTHER_CA), CA(UPLINK_CA), END }, "cloud.test",
	    CA(UPLINK_CA), UPLINK_OK, CA(UPLINK_CA), "uplink CA", NULL },
	/* a pinned leaf is its own anchor */
	{ { L_CLOUD, END }, "cloud.test", L_CLOUD, UPLINK_OK, L_CLOUD,
	    "uplink CA", NULL },
	/* TLS inspection: the proxy's CA, not the pinned one */
	{ { L_CORP, CA(CORP_CA), END }, "cloud.test", CA(UPLINK_CA),
	    UPLINK_ENOTFOUND, 0, "Corp Inspection CA", "cloud.test presented "
	    "a certificate issued by 'Corp Inspection CA', and no certificate "
	    "of its chain carries the key pinned in the token" },
	{ { L_CORP, END }, "cloud.test", CA(UPLINK_CA), UPLINK_ENOTFOUND, 0,
	    "Corp Inspection CA", "issued by 'Corp Inspection CA'" },
	/* the server left its CA out: nothing carries the pin */
	{ { L_CLOUD, END }, "cloud.test", CA(UPLINK_CA), UPLINK_ENOTFOUND, 0,
	    "uplink CA", "issued by 'uplink CA'" },
	/* the pinned CA is sent along, but did not sign the leaf */
	{ { L_CORP, CA(UPLINK_CA), END }, "cloud.test", CA(UPLINK_CA),
	    UPLINK_EINVAL, 0, "Corp Inspection CA", "the certificate "
	    "\"cloud.test\" does not verify up to the pinned one: " },
	{ { L_OTHER, CA(OTHER_CA), CA(UPLINK_CA), END }, "cloud.test",
	    CA(UPLINK_CA), UPLINK_EINVAL, 0, "Other CA", "does not verify up "
	    "to the pinned one" },
	/* the right chain for another name */
	{ { L_CLOUD, CA(UPLINK_CA), END }, "other.test", CA(UPLINK_CA),
	    UPLINK_EINVAL, 0, "uplink CA", "the certificate is for "
	    "\"cloud.test\", not for other.test" },
	{ { L_IP, CA(UPLINK_CA), END }, "127.0.0.2", CA(UPLINK_CA),
	    UPLINK_EINVAL, 0, "uplink CA", "not for 127.0.0.2" },
	{ { L_WILD, CA(UPLINK_CA), END }, "wild.test", CA(UPLINK_CA),
	    UPLINK_EINVAL, 0, "uplink CA", "not for wild.test" },
	{ { L_WILD, CA(UPLINK_CA), END }, "a.b.wild.test", CA(UPLINK_CA),
	    UPLINK_EINVAL, 0, "uplink CA", "not for a.b.wild.test" },
	/* nothing at all */
	{ { END }, "cloud.test", CA(UPLINK_CA), UPLINK_EINVAL, 0, "",
	    "the server presented no certificate" },
};

static X509 *
pick(int n)
{
	return n >= 100 ? f.ca[n - 100] : f.leaf[n];
}

static void
test_pin_table(void **state)
{
	unsigned char	 pin[PKI_PIN_LEN];
	char		 err[256], issuer[256], why[512];
	STACK_OF(X509)	*chain;
	X509		*anchor;
	size_t		 i;
	int		 j, rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct pin_row *r = &rows[i];

		chain = sk_X509_new_null();
		assert_non_null(chain);
		for (j = 0; r->chain[j] != END; j++)
			sk_X509_push(chain, pick(r->chain[j]));
		assert_int_equal(pki_spki_pin_cert(pick(r->pin), pin, err,
		    sizeof(err)), UPLINK_OK);
		why[0] = '\0';
		rc = https_pin_verify(chain, r->host, pin, &anchor, issuer,
		    sizeof(issuer), why, sizeof(why));
		if (rc != r->rc)
			fail_msg("row %zu: rc %d want %d (%s)", i, rc, r->rc,
			    why);
		if (strcmp(issuer, r->issuer) != 0)
			fail_msg("row %zu: issuer \"%s\"", i, issuer);
		if (rc == UPLINK_OK && anchor != pick(r->anchor))
			fail_msg("row %zu: wrong anchor", i);
		if (rc != UPLINK_OK && anchor != NULL)
			fail_msg("row %zu: anchor on failure", i);
		if (r->why != NULL && strstr(why, r->why) == NULL)
			fail_msg("row %zu: \"%s\" lacks \"%s\"", i, why,
			    r->why);
		sk_X509_free(chain);
	}
}

/* A NULL chain (no certificate at all) is refused, not a crash. */
static void
test_pin_null_chain(void **state)
{
	unsigned char	 pin[PKI_PIN_LEN] = { 0 };
	char		 issuer[64], why[256];
	X509		*anchor = (X509 *)1;

	(void)state;
	assert_int_equal(https_pin_verify(NULL, "cloud.test", pin, &anchor,
	    issuer, sizeof(issuer), why, sizeof(why)), UPLINK_EINVAL);
	assert_null(anchor);
	assert_string_equal(issuer, "");
}

/* Contexts: strict with a CA, pin mode without, client key checks. */
static void
test_ctx(void **state)
{
	char	 err[512];
	SSL_CTX	*ctx;

	(void)state;
	ctx = https_ctx_new(NULL, NULL, NULL, err, sizeof(err));
	assert_non_null(ctx);
	SSL_CTX_free(ctx);
	ctx = https_ctx_new("/nonexistent/ca.pem", NULL, NULL, err,
	    sizeof(err));
	assert_null(ctx);
	assert_non_null(strstr(err, "/nonexistent/ca.pem: cannot load CA"));
	ctx = https_ctx_new(NULL, "/nonexistent/c.pem", "/nonexistent/c.key",
	    err, sizeof(err));
	assert_null(ctx);
	assert_non_null(strstr(err, "/nonexistent/c.pem: cannot load the "
	    "certificate"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pin_table),
		cmocka_unit_test(test_pin_null_chain),
		cmocka_unit_test(test_ctx),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
