/*
 * Unit tests for lib/pki.c: a CA and what it issues, checked with
 * OpenSSL's own verifier and with lib/crl.c; tables of bad names, bad CSRs
 * and bad CRL entries; pins, fingerprints and the files keys go into.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "crl.h"
#include "error.h"
#include "pki.h"
#include "tls.h"

#define CHECK(cond, ...) do {						\
	if (!(cond))							\
		fail_msg(__VA_ARGS__);					\
} while (0)

#define CA_NAME		"uplink Test CA"
#define CRL_URL		"http://crl.uplink.test:8080/ca.crl"
#define DAY		86400L

/* The CA every test shares, made once by the group setup. */
struct fixture {
	EVP_PKEY	*ca_key;
	X509		*ca_cert;
	char		 dir[PATH_MAX];		/* private scratch directory */
};

static int
group_setup(void **state)
{
	static struct fixture	 f;
	char			 err[512];

	snprintf(f.dir, sizeof(f.dir), "/tmp/test_pki.XXXXXX");
	if (mkdtemp(f.dir) == NULL)
		return -1;
	if (pki_ca_new(CA_NAME, 3650, &f.ca_key, &f.ca_cert, err,
	    sizeof(err)) != UPLINK_OK) {
		fprintf(stderr, "pki_ca_new: %s\n", err);
		return -1;
	}
	*state = &f;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
group_teardown(void **state)
{
	struct fixture	*f = *state;

	EVP_PKEY_free(f->ca_key);
	X509_free(f->ca_cert);
	return nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Verifies cert against a store holding only ca, for purpose. */
static int
verify(X509 *ca, X509 *cert, int purpose)
{
	X509_STORE	*store = X509_STORE_new();
	X509_STORE_CTX	*ctx = X509_STORE_CTX_new();
	int		 ok;

	assert_non_null(store);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, cert, NULL), 1);
	assert_int_equal(X509_STORE_CTX_set_purpose(ctx, purpose), 1);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		print_message("verify: %s\n", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

static void
assert_cn(X509 *cert, const char *want)
{
	char	 cn[256];

	tls_common_name(X509_get_subject_name(cert), cn, sizeof(cn));
	assert_string_equal(cn, want);
}

static bool
ext_critical(X509 *cert, int nid)
{
	int	 i = X509_get_ext_by_NID(cert, nid, -1);

	assert_true(i >= 0);
	return X509_EXTENSION_get_critical(X509_get_ext(cert, i)) == 1;
}

/* The certificate's AKI must name the CA's SKI. */
static void
assert_aki_is(X509 *cert, X509 *ca)
{
	const ASN1_OCTET_STRING	*aki = X509_get0_authority_key_id(cert);
	const ASN1_OCTET_STRING	*ski = X509_get0_subject_key_id(ca);

	assert_non_null(aki);
	assert_non_null(ski);
	assert_int_equal(ASN1_OCTET_STRING_cmp(aki, ski), 0);
}

static void
assert_crl_dp(X509 *cert, const char *url)
{
	char	 urls[2][CRL_URL_MAX];
	int	 n = crl_dp_urls(cert, urls, 2);

	if (url == NULL) {
		assert_int_equal(X509_get_ext_by_NID(cert,
		    NID_crl_distribution_points, -1), -1);
		return;
	}
	assert_int_equal(n, 1);
	assert_string_equal(urls[0], url);
}

static long
seconds_between(const ASN1_TIME *from, const ASN1_TIME *to)
{
	int	 days, secs;

	assert_int_equal(ASN1_TIME_diff(&days, &secs, from, to), 1);
	return days * DAY + secs;
}

static void
test_ca(void **state)
{
	struct fixture	*f = *state;
	X509		*ca = f->ca_cert;
	char		 serial[PKI_SERIAL_HEX_MAX];
	char		 err[256];

	assert_int_equal(X509_get_version(ca), X509_VERSION_3);
	assert_int_equal(X509_check_ca(ca), 1);
	assert_int_equal(X509_self_signed(ca, 1), 1);
	assert_int_equal(X509_get_pathlen(ca), 0);
	assert_true(ext_critical(ca, NID_basic_constraints));
	assert_true(ext_critical(ca, NID_key_usage));
	assert_int_equal(X509_get_key_usage(ca),
	    KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_non_null(X509_get0_subject_key_id(ca));
	assert_int_equal(X509_get_signature_nid(ca), NID_ecdsa_with_SHA256);
	assert_int_equal(X509_check_private_key(ca, f->ca_key), 1);
	assert_int_equal(verify(ca, ca, X509_PURPOSE_ANY), 1);
	assert_cn(ca, CA_NAME);
	assert_int_equal(seconds_between(X509_get0_notBefore(ca),
	    X509_get0_notAfter(ca)), 3650 * DAY + 300);
	assert_int_equal(pki_cert_serial(ca, serial, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(strlen(serial), 32);
	assert_true(strchr("89abcdef", serial[0]) != NULL);
	assert_int_equal(strspn(serial, "0123456789abcdef"), 32);
}

struct bad_ca_row {
	const char	*cn;
	int		 days;
	const char	*why;
};

static const struct bad_ca_row bad_ca_rows[] = {
	{ "", 10, "common name is empty" },
	{ NULL, 10, "common name is empty" },
	{ "a\nb", 10, "control character at byte 1" },
	{ "caf\xe9", 10, "cannot fill in the certificate for" },
	{ "0123456789012345678901234567890123456789012345678901234567890123"
	  "4", 10, "is 65 bytes, more than the 64" },
	{ "ok", 0, "validity of 0 days is out of range" },
	{ "ok", -5, "validity of -5 days" },
	{ "ok", PKI_DAYS_MAX + 1, "give 1 to 36500" },
};

static void
test_ca_bad(void **state)
{
	const struct bad_ca_row	*r;
	EVP_PKEY		*key = (EVP_PKEY *)1;
	X509			*cert = (X509 *)1;
	char			 err[256];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad_ca_rows) / sizeof(bad_ca_rows[0]); i++) {
		r = &bad_ca_rows[i];
		assert_int_equal(pki_ca_new(r->cn, r->days, &key, &cert, err,
		    sizeof(err)), UPLINK_EINVAL);
		assert_null(key);
		assert_null(cert);
		CHECK(strstr(err, r->why) != NULL, "row %zu: \"%s\" lacks "
		    "\"%s\"", i, err, r->why);
	}
}

struct server_row {
	const char	*what;
	const char	*names[4];
	size_t		 n;
	const char	*crl_url;
	const char	*also;		/* another host name that matches */
	const char	*not;		/* a host name that must not match */
};

static const struct server_row server_rows[] = {
	{ "one name", { "cloud.uplink.test" }, 1, CRL_URL, NULL,
	  "other.uplink.test" },
	{ "names and addresses",
	  { "cloud.uplink.test", "10.0.0.1", "2001:db8::7", "alt.test" }, 4,
	  CRL_URL, "CLOUD.uplink.test", "uplink.test" },
	{ "address only", { "192.0.2.7" }, 1, NULL, NULL, "192.0.2.8" },
	{ "wildcard", { "*.wild.test" }, 1, CRL_URL, "a.wild.test",
	  "wild.test" },
	{ "no CRL", { "x.test" }, 1, NULL, NULL, "y.test" },
};

static bool
is_ip(const char *name)
{
	ASN1_OCTET_STRING	*ip = a2i_IPADDRESS(name);
	bool			 yes = ip != NULL;

	ASN1_OCTET_STRING_free(ip);
	ERR_clear_error();
	return yes;
}

static void
check_server(struct fixture *f, const struct server_row *r, EVP_PKEY *key,
    X509 *cert)
{
	size_t		 i;

	assert_int_equal(verify(f->ca_cert, cert, X509_PURPOSE_SSL_SERVER), 1);
	assert_int_equal(X509_check_private_key(cert, key), 1);
	assert_cn(cert, r->names[0]);
	for (i = 0; i < r->n; i++) {
		if (is_ip(r->names[i]))
			CHECK(X509_check_ip_asc(cert, r->names[i], 0) == 1,
			    "%s: %s", r->what, r->names[i]);
		else if (r->names[i][0] != '*')
			CHECK(X509_check_host(cert, r->names[i], 0, 0,
			    NULL) == 1, "%s: %s", r->what, r->names[i]);
	}
	if (r->also != NULL)
		assert_int_equal(X509_check_host(cert, r->also, 0, 0, NULL), 1);
	if (is_ip(r->not))
		assert_int_equal(X509_check_ip_asc(cert, r->not, 0), 0);
	else
		assert_int_equal(X509_check_host(cert, r->not, 0, 0, NULL), 0);
	assert_int_equal(X509_check_ca(cert), 0);
	assert_int_equal(X509_get_extended_key_usage(cert), XKU_SSL_SERVER);
	assert_int_equal(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE);
	assert_true(ext_critical(cert, NID_key_usage));
	assert_non_null(X509_get0_subject_key_id(cert));
	assert_aki_is(cert, f->ca_cert);
	assert_crl_dp(cert, r->crl_url);
}

static void
test_server_table(void **state)
{
	struct fixture		*f = *state;
	const struct server_row	*r;
	EVP_PKEY		*key;
	X509			*cert;
	char			 err[512];
	size_t			 i;

	for (i = 0; i < sizeof(server_rows) / sizeof(server_rows[0]); i++) {
		r = &server_rows[i];
		CHECK(pki_issue_server(f->ca_key, f->ca_cert, r->names, r->n,
		    90, r->crl_url, &key, &cert, err, sizeof(err)) == UPLINK_OK,
		    "%s: %s", r->what, err);
		check_server(f, r, key, cert);
		EVP_PKEY_free(key);
		X509_free(cert);
	}
}

struct bad_server_row {
	const char	*names[2];
	size_t		 n;
	int		 days;
	const char	*crl_url;
	const char	*why;
};

static const struct bad_server_row bad_server_rows[] = {
	{ { NULL }, 0, 30, NULL, "at least one host name" },
	{ { "exa mple.test" }, 1, 30, NULL, "\"exa mple.test\", is neither" },
	{ { "ok.test", "-bad.test" }, 2, 30, NULL, "name 2, \"-bad.test\"" },
	{ { "bad-.test" }, 1, 30, NULL, "is neither" },
	{ { "a..b" }, 1, 30, NULL, "is neither" },
	{ { "trailing.dot." }, 1, 30, NULL, "is neither" },
	{ { "*" }, 1, 30, NULL, "is neither" },
	{ { "a.*.test" }, 1, 30, NULL, "is neither" },
	{ { "x.test,DNS:evil.test" }, 1, 30, NULL, "is neither" },
	{ { "[::1]" }, 1, 30, NULL, "is neither" },
	{ { "" }, 1, 30, NULL, "is neither" },
	{ { "a123456789012345678901234567890123456789012345678901234567890123"
	    ".test" }, 1, 30, NULL, "is neither" },
	{ { "a1234567890123456789012345678901234567890123456789012"
	    ".example.test",
	    "ok.test" }, 2, 30, NULL, "is 66 bytes, more" },
	{ { "ok.test" }, 1, 0, NULL, "out of range" },
	{ { "ok.test" }, 1, 30, "ftp://crl.test/ca.crl", "not an http:// URL" },
	{ { "ok.test" }, 1, 30, "http://", "not an http:// URL" },
	{ { "ok.test" }, 1, 30, "http://crl.test/a,b", "comma" },
	{ { "ok.test" }, 1, 30, "http://crl.test/a b", "offset 17" },
};

static void
test_server_bad(void **state)
{
	struct fixture			*f = *state;
	const struct bad_server_row	*r;
	EVP_PKEY			*key;
	X509				*cert;
	char				 err[512];
	size_t				 i;

	for (i = 0; i < sizeof(bad_server_rows) / sizeof(bad_server_rows[0]);
	    i++) {
		r = &bad_server_rows[i];
		CHECK(pki_issue_server(f->ca_key, f->ca_cert, r->names, r->n,
		    r->days, r->crl_url, &key, &cert, err, sizeof(err)) ==
		    UPLINK_EINVAL, "row %zu accepted", i);
		assert_null(key);
		assert_null(cert);
		CHECK(strstr(err, r->why) != NULL, "row %zu: \"%s\" lacks "
		    "\"%s\"", i, err, r->why);
	}
}

/* A CA must sign with its own key and be a CA at all. */
static void
test_wrong_ca(void **state)
{
	struct fixture	*f = *state;
	const char	*names[] = { "srv.test" };
	EVP_PKEY	*other, *key, *skey;
	X509		*cert, *scert;
	struct buf	 out;
	char		 err[512];

	buf_init(&out, 64 * 1024);
	assert_int_equal(pki_key_new(&other, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(pki_issue_server(other, f->ca_cert, names, 1, 30,
	    NULL, &key, &cert, err, sizeof(err)), UPLINK_EINVAL);
	assert_non_null(strstr(err, "the CA key does not belong to the CA "
	    "certificate \"" CA_NAME "\""));
	assert_int_equal(pki_crl_new(other, f->ca_cert, NULL, 0, 1, 60, &out,
	    NULL, err, sizeof(err)), UPLINK_EINVAL);
	assert_non_null(strstr(err, "does not belong"));

	assert_int_equal(pki_issue_server(f->ca_key, f->ca_cert, names, 1, 30,
	    NULL, &skey, &scert, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(pki_issue_server(skey, scert, names, 1, 30, NULL,
	    &key, &cert, err, sizeof(err)), UPLINK_EINVAL);
	assert_non_null(strstr(err, "\"srv.test\" is not a CA certificate"));
	assert_int_equal(out.len, 0);
	EVP_PKEY_free(other);
	EVP_PKEY_free(skey);
	X509_free(scert);
	buf_free(&out);
}

/*
 * A CSR made with plain OpenSSL, so tests can sign with any key and digest
 * and ask for extensions pki_csr_new() never would.
 */
static void
make_req(EVP_PKEY *key, const EVP_MD *md, bool want_ca, struct buf *out)
{
	X509_REQ			*req = X509_REQ_new();
	STACK_OF(X509_EXTENSION)	*exts = sk_X509_EXTENSION_new_null();
	BIO				*bio = BIO_new(BIO_s_mem());
	char				*data;
	long				 len;

	assert_non_null(req);
	assert_non_null(exts);
	assert_non_null(bio);
	assert_int_equal(X509_NAME_add_entry_by_txt(
	    X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
	    (const unsigned char *)"i-am-the-ca", -1, -1, 0), 1);
	assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
	if (want_ca) {
		sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL,
		    NID_basic_constraints, "critical,CA:TRUE"));
		sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL,
		    NID_key_usage, "critical,keyCertSign,cRLSign"));
		sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL,
		    NID_subject_alt_name, "DNS:cloud.uplink.test"));
		sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL,
		    NID_ext_key_usage, "serverAuth"));
		assert_int_equal(sk_X509_EXTENSION_num(exts), 4);
		assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
	}
	assert_true(X509_REQ_sign(req, key, md) > 0);
	assert_int_equal(PEM_write_bio_X509_REQ(bio, req), 1);
	len = BIO_get_mem_data(bio, &data);
	assert_int_equal(buf_append(out, data, (size_t)len), UPLINK_OK);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	BIO_free(bio);
}

/* Signs csr as connector id and returns the parsed certificate. */
static X509 *
sign(struct fixture *f, const struct buf *csr, const char *id,
    struct pki_issued *issued)
{
	struct buf	 pem;
	X509		*cert;
	char		 err[512];

	buf_init(&pem, 64 * 1024);
	CHECK(pki_sign_csr(f->ca_key, f->ca_cert, csr->ptr, csr->len, id,
	    30 * 86400, CRL_URL, &pem, issued, err, sizeof(err)) == UPLINK_OK, "%s", err);
	assert_int_equal(pki_cert_parse(pem.ptr, pem.len, &cert, err,
	    sizeof(err)), UPLINK_OK);
	buf_free(&pem);
	return cert;
}

static void
test_sign_csr(void **state)
{
	struct fixture		*f = *state;
	struct pki_issued	 issued;
	struct buf		 csr;
	EVP_PKEY		*key;
	X509			*cert;
	unsigned char		 pin_key[PKI_PIN_LEN], pin_cert[PKI_PIN_LEN];
	char			 serial[PKI_SERIAL_HEX_MAX], err[512];
	time_t			 now = time(NULL);

	buf_init(&csr, PKI_CSR_MAX);
	assert_int_equal(pki_key_new(&key, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(pki_csr_new(key, "what-the-connector-says", &csr, err,
	    sizeof(err)), UPLINK_OK);
	assert_non_null(strstr(csr.ptr, "-----BEGIN CERTIFICATE REQUEST-----"));
	cert = sign(f, &csr, "conn-42", &issued);

	assert_int_equal(verify(f->ca_cert, cert, X509_PURPOSE_SSL_CLIENT), 1);
	assert_cn(cert, "conn-42");
	assert_int_equal(X509_check_ca(cert), 0);
	assert_int_equal(X509_get_extended_key_usage(cert), XKU_SSL_CLIENT);
	assert_int_equal(X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0),
	    0);
	assert_int_equal(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_signature_nid(cert), NID_ecdsa_with_SHA256);
	assert_aki_is(cert, f->ca_cert);
	assert_crl_dp(cert, CRL_URL);
	assert_int_equal(pki_cert_serial(cert, serial, err, sizeof(err)),
	    UPLINK_OK);
	assert_string_equal(issued.serial, serial);
	assert_int_equal(strlen(issued.serial), 32);
	assert_true(issued.not_after >= now + 30 * DAY - 5 &&
	    issued.not_after <= now + 30 * DAY + 5);
	assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notAfter(cert),
	    issued.not_after), 0);
	assert_int_equal(pki_spki_pin(key, pin_key, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(pki_spki_pin_cert(cert, pin_cert, err, sizeof(err)),
	    UPLINK_OK);
	assert_memory_equal(pin_key, pin_cert, PKI_PIN_LEN);
	X509_free(cert);
	EVP_PKEY_free(key);
	buf_free(&csr);
}

/* A CSR asking to be a CA gets a plain client certificate all the same. */
static void
test_sign_csr_no_copied_exts(void **state)
{
	struct fixture			*f = *state;
	STACK_OF(X509_EXTENSION)	*asked;
	struct buf			 csr;
	X509_REQ			*req;
	BIO				*bio;
	EVP_PKEY			*key;
	X509				*cert;
	char				 err[256];

	buf_init(&csr, PKI_CSR_MAX);
	assert_int_equal(pki_key_new(&key, err, sizeof(err)), UPLINK_OK);
	make_req(key, EVP_sha256(), true, &csr);
	bio = BIO_new_mem_buf(csr.ptr, (int)csr.len);
	req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	asked = X509_REQ_get_extensions(req);
	assert_int_equal(sk_X509_EXTENSION_num(asked), 4);
	sk_X509_EXTENSION_pop_free(asked, X509_EXTENSION_free);
	X509_REQ_free(req);
	BIO_free(bio);

	cert = sign(f, &csr, "conn-7", NULL);
	assert_int_equal(X509_check_ca(cert), 0);
	assert_int_equal(X509_get_extension_flags(cert) & EXFLAG_CA, 0);
	assert_int_equal(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_extended_key_usage(cert), XKU_SSL_CLIENT);
	assert_int_equal(X509_get_ext_by_NID(cert, NID_subject_alt_name, -1),
	    -1);
	assert_int_equal(X509_get_ext_count(cert), 6);
	assert_cn(cert, "conn-7");
	X509_free(cert);
	EVP_PKEY_free(key);
	buf_free(&csr);
}

static void
test_sign_csr_rsa2048(void **state)
{
	struct fixture	*f = *state;
	struct buf	 csr;
	EVP_PKEY	*key;
	X509		*cert;
	char		 err[256];

	buf_init(&csr, PKI_CSR_MAX);
	key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(key);
	assert_int_equal(pki_csr_new(key, "rsa", &csr, err, sizeof(err)),
	    UPLINK_OK);
	cert = sign(f, &csr, "conn-rsa", NULL);
	assert_int_equal(verify(f->ca_cert, cert, X509_PURPOSE_SSL_CLIENT), 1);
	assert_int_equal(X509_get_signature_nid(cert), NID_ecdsa_with_SHA256);
	X509_free(cert);
	EVP_PKEY_free(key);
	buf_free(&csr);
}

enum bad_csr {
	CSR_EMPTY,
	CSR_TEXT,
	CSR_BINARY,
	CSR_CERT,		/* a certificate, not a request */
	CSR_HALF,		/* cut in the middle */
	CSR_NO_LINE,		/* a base64 line missing */
	CSR_TAMPERED,		/* one byte of the subject changed */
	CSR_RSA1024,
	CSR_P384,
	CSR_ED25519,
	CSR_OVERSIZE,
};

struct bad_csr_row {
	const char	*what;
	enum bad_csr	 kind;
	int		 rc;
	const char	*why;
};

static const struct bad_csr_row bad_csr_rows[] = {
	{ "empty", CSR_EMPTY, UPLINK_EINVAL, "the certificate request is "
	  "empty" },
	{ "text", CSR_TEXT, UPLINK_EINVAL, "not a valid PEM \"CERTIFICATE "
	  "REQUEST\" (12 bytes): error:" },
	{ "binary", CSR_BINARY, UPLINK_EINVAL, "no start line" },
	{ "certificate", CSR_CERT, UPLINK_EINVAL, "no start line" },
	{ "truncated", CSR_HALF, UPLINK_EINVAL, "not a valid PEM" },
	{ "line missing", CSR_NO_LINE, UPLINK_EINVAL, "not a valid PEM" },
	{ "tampered", CSR_TAMPERED, UPLINK_EINVAL, "signature does not "
	  "verify" },
	{ "RSA 1024", CSR_RSA1024, UPLINK_EINVAL, "key is RSA 1024 bits: RSA "
	  "keys must have 2048 to 8192 bits" },
	{ "P-384", CSR_P384, UPLINK_EINVAL, "key is on curve secp384r1: only "
	  "P-256" },
	{ "Ed25519", CSR_ED25519, UPLINK_EINVAL, "key is ED25519: only EC "
	  "P-256" },
	{ "oversize", CSR_OVERSIZE, UPLINK_ETOOBIG, "is 16385 bytes, more "
	  "than the 16384 allowed" },
};

/* Changes one byte of a PEM CSR's DER and writes it back as PEM. */
static void
tamper(struct buf *csr)
{
	BIO		*in = BIO_new_mem_buf(csr->ptr, (int)csr->len), *out;
	char		*name, *header, *data;
	unsigned char	*der;
	long		 len, i;

	assert_int_equal(PEM_read_bio(in, &name, &header, &der, &len), 1);
	for (i = 0; i + 4 < len; i++)
		if (memcmp(der + i, "meek", 4) == 0)
			break;
	assert_true(i + 4 < len);
	der[i] = 'w';
	out = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio(out, name, header, der, len) > 0, 1);
	len = BIO_get_mem_data(out, &data);
	buf_reset(csr);
	assert_int_equal(buf_append(csr, data, (size_t)len), UPLINK_OK);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(in);
	BIO_free(out);
}

/* Makes a CSR from a fresh key of the given type (NULL: EC P-256). */
static void
csr_of(const char *type, const char *param, size_t bits, const EVP_MD *md,
    struct buf *csr)
{
	EVP_PKEY	*key;

	if (bits != 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, type, bits);
	else if (param != NULL)
		key = EVP_PKEY_Q_keygen(NULL, NULL, type, param);
	else
		key = EVP_PKEY_Q_keygen(NULL, NULL, type);
	assert_non_null(key);
	make_req(key, md, false, csr);
	EVP_PKEY_free(key);
}

static void
bad_csr_make(struct fixture *f, enum bad_csr kind, struct buf *csr)
{
	static const unsigned char	 bin[] = { 0x30, 0x82, 0xff, 0xff, 0 };
	EVP_PKEY			*key;
	char				 err[256], *p;

	switch (kind) {
	case CSR_EMPTY:
		break;
	case CSR_TEXT:
		buf_appends(csr, "hello world\n");
		break;
	case CSR_BINARY:
		buf_append(csr, bin, sizeof(bin));
		break;
	case CSR_CERT:
		assert_int_equal(pki_chain_pem(&f->ca_cert, 1, csr, err,
		    sizeof(err)), UPLINK_OK);
		break;
	case CSR_HALF:
	case CSR_NO_LINE:
	case CSR_TAMPERED:
		assert_int_equal(pki_key_new(&key, err, sizeof(err)),
		    UPLINK_OK);
		assert_int_equal(pki_csr_new(key, "meek", csr, err,
		    sizeof(err)), UPLINK_OK);
		EVP_PKEY_free(key);
		if (kind == CSR_HALF)
			csr->len /= 2;
		else if (kind == CSR_TAMPERED)
			tamper(csr);
		else {
			/* Drop the second base64 line. */
			p = strchr(strchr(csr->ptr, '\n') + 1, '\n') + 1;
			memmove(p, p + 65, csr->len - (size_t)(p - csr->ptr) -
			    65);
			csr->len -= 65;
		}
		break;
	case CSR_RSA1024:
		csr_of("RSA", NULL, 1024, EVP_sha256(), csr);
		break;
	case CSR_P384:
		csr_of("EC", "P-384", 0, EVP_sha256(), csr);
		break;
	case CSR_ED25519:
		csr_of("ED25519", NULL, 0, NULL, csr);
		break;
	case CSR_OVERSIZE:
		while (csr->len <= PKI_CSR_MAX)
			buf_appends(csr, "A");
		break;
	}
}

static void
test_sign_csr_bad(void **state)
{
	struct fixture			*f = *state;
	const struct bad_csr_row	*r;
	struct pki_issued		 issued;
	struct buf			 csr, pem;
	char				 err[512];
	size_t				 i;

	buf_init(&pem, 64 * 1024);
	for (i = 0; i < sizeof(bad_csr_rows) / sizeof(bad_csr_rows[0]); i++) {
		r = &bad_csr_rows[i];
		buf_init(&csr, 2 * PKI_CSR_MAX);
		bad_csr_make(f, r->kind, &csr);
		CHECK(pki_sign_csr(f->ca_key, f->ca_cert, csr.ptr, csr.len,
		    "conn-1", 30 * 86400, NULL, &pem, &issued, err, sizeof(err)) ==
		    r->rc, "%s: wrong result, err \"%s\"", r->what, err);
		CHECK(strstr(err, r->why) != NULL, "%s: \"%s\" lacks \"%s\"",
		    r->what, err, r->why);
		assert_int_equal(pem.len, 0);
		assert_int_equal(ERR_peek_error(), 0);
		buf_free(&csr);
	}
	buf_free(&pem);
}

/* The cloud's own inputs are checked before the CSR is looked at. */
static void
test_sign_csr_bad_args(void **state)
{
	struct fixture	*f = *state;
	struct buf	 csr, pem;
	EVP_PKEY	*key;
	char		 err[256];

	buf_init(&csr, PKI_CSR_MAX);
	buf_init(&pem, 64 * 1024);
	assert_int_equal(pki_key_new(&key, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(pki_csr_new(key, "c", &csr, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(pki_sign_csr(f->ca_key, f->ca_cert, csr.ptr, csr.len,
	    "", 30 * 86400, NULL, &pem, NULL, err, sizeof(err)), UPLINK_EINVAL);
	assert_non_null(strstr(err, "common name is empty"));
	assert_int_equal(pki_sign_csr(f->ca_key, f->ca_cert, csr.ptr, csr.len,
	    "c", 30 * 86400, "https://crl.test/x", &pem, NULL, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_non_null(strstr(err, "not an http:// URL"));
	assert_int_equal(pki_csr_new(key, "", &csr, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_int_equal(pem.len, 0);
	EVP_PKEY_free(key);
	buf_free(&csr);
	buf_free(&pem);
}

/* Three connectors, two of them revoked. */
static void
test_crl(void **state)
{
	struct fixture		*f = *state;
	struct pki_issued	 issued[3];
	struct pki_revoked	 rev[2];
	struct buf		 csr, der, pem;
	EVP_PKEY		*key, *other_key, *twin_key;
	X509			*cert[3], *other, *twin;
	X509_CRL		*crl, *crl_pem;
	ASN1_INTEGER		*num;
	AUTHORITY_KEYID		*aki;
	char			 id[16], detail[256], err[512];
	time_t			 now = time(NULL);
	int			 i;

	buf_init(&csr, PKI_CSR_MAX);
	buf_init(&der, CRL_MAX_BYTES);
	buf_init(&pem, CRL_MAX_BYTES);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pki_key_new(&key, err, sizeof(err)),
		    UPLINK_OK);
		buf_reset(&csr);
		assert_int_equal(pki_csr_new(key, "c", &csr, err, sizeof(err)),
		    UPLINK_OK);
		snprintf(id, sizeof(id), "conn-%d", i);
		cert[i] = sign(f, &csr, id, &issued[i]);
		EVP_PKEY_free(key);
	}
	assert_string_not_equal(issued[0].serial, issued[1].serial);
	assert_string_not_equal(issued[1].serial, issued[2].serial);
	rev[0] = (struct pki_revoked){ issued[0].serial, now - 3 * DAY };
	rev[1] = (struct pki_revoked){ issued[2].serial, now - 60 };
	CHECK(pki_crl_new(f->ca_key, f->ca_cert, rev, 2, 7, 3600, &der, &pem,
	    err, sizeof(err)) == UPLINK_OK, "%s", err);
	assert_non_null(strstr(pem.ptr, "-----BEGIN X509 CRL-----"));

	crl = crl_parse((const unsigned char *)der.ptr, der.len);
	crl_pem = crl_parse((const unsigned char *)pem.ptr, pem.len);
	assert_non_null(crl);
	assert_non_null(crl_pem);
	assert_int_equal(X509_CRL_cmp(crl, crl_pem), 0);
	assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	assert_non_null(num);
	assert_int_equal(ASN1_INTEGER_get(num), 7);
	ASN1_INTEGER_free(num);
	assert_int_equal(seconds_between(X509_CRL_get0_lastUpdate(crl),
	    X509_CRL_get0_nextUpdate(crl)), 3600);
	assert_true(X509_cmp_time(X509_CRL_get0_lastUpdate(crl), NULL) <= 0);
	aki = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL,
	    NULL);
	assert_non_null(aki);
	assert_int_equal(ASN1_OCTET_STRING_cmp(aki->keyid,
	    X509_get0_subject_key_id(f->ca_cert)), 0);
	AUTHORITY_KEYID_free(aki);

	assert_int_equal(crl_check(crl, f->ca_cert, cert[0], detail,
	    sizeof(detail)), CRL_REVOKED);
	assert_non_null(strstr(detail, "revoked on "));
	assert_int_equal(crl_check(crl, f->ca_cert, cert[1], detail,
	    sizeof(detail)), CRL_GOOD);
	assert_int_equal(crl_check(crl, f->ca_cert, cert[2], detail,
	    sizeof(detail)), CRL_REVOKED);

	/* Another CA of the same name: the signature is what gives it away. */
	assert_int_equal(pki_ca_new(CA_NAME, 10, &twin_key, &twin, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(crl_check(crl, twin, cert[1], detail,
	    sizeof(detail)), CRL_BAD);
	assert_non_null(strstr(detail, "signature does not verify"));
	assert_int_equal(pki_ca_new("Other CA", 10, &other_key, &other, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(crl_check(crl, other, cert[1], detail,
	    sizeof(detail)), CRL_BAD);
	assert_non_null(strstr(detail, "issued by \"" CA_NAME "\""));

	for (i = 0; i < 3; i++)
		X509_free(cert[i]);
	X509_CRL_free(crl);
	X509_CRL_free(crl_pem);
	EVP_PKEY_free(twin_key);
	EVP_PKEY_free(other_key);
	X509_free(twin);
	X509_free(other);
	buf_free(&csr);
	buf_free(&der);
	buf_free(&pem);
}

static void
test_crl_empty(void **state)
{
	struct fixture	*f = *state;
	struct buf	 der;
	X509_CRL	*crl;
	char		 detail[256], err[256];

	buf_init(&der, CRL_MAX_BYTES);
	assert_int_equal(pki_crl_new(f->ca_key, f->ca_cert, NULL, 0,
	    UINT64_MAX, 60, &der, NULL, err, sizeof(err)), UPLINK_OK);
	crl = crl_parse((const unsigned char *)der.ptr, der.len);
	assert_non_null(crl);
	assert_true(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) <= 0);
	assert_int_equal(crl_check(crl, f->ca_cert, f->ca_cert, detail,
	    sizeof(detail)), CRL_GOOD);
	X509_CRL_free(crl);
	buf_free(&der);
}

struct bad_crl_row {
	const char	*serial;
	time_t		 when;
	long		 next;
	const char	*why;
};

static const struct bad_crl_row bad_crl_rows[] = {
	{ "", 0, 60, "revoked entry 2: the serial \"\" is not 1 to 40 hex" },
	{ NULL, 0, 60, "the serial \"(null)\"" },
	{ "xyz", 0, 60, "\"xyz\" is not" },
	{ "-1", 0, 60, "is not 1 to 40" },
	{ "0x12", 0, 60, "is not 1 to 40" },
	{ "12 34", 0, 60, "is not 1 to 40" },
	{ "0123456789abcdef0123456789abcdef012345678", 0, 60,
	  "is not 1 to 40" },
	{ "abc", -1, 60, "revoked entry 2: the revocation time -1 is before "
	  "1970" },
	{ "abc", 0, 0, "next update in 0 seconds is out of range" },
	{ "abc", 0, -60, "out of range" },
};

static void
test_crl_bad(void **state)
{
	struct fixture			*f = *state;
	const struct bad_crl_row	*r;
	struct pki_revoked		 rev[2];
	struct buf			 der;
	char				 err[256];
	size_t				 i;

	buf_init(&der, CRL_MAX_BYTES);
	rev[0] = (struct pki_revoked){
	    "0123456789ABCDEF0123456789abcdef01234567", 1 };
	for (i = 0; i < sizeof(bad_crl_rows) / sizeof(bad_crl_rows[0]); i++) {
		r = &bad_crl_rows[i];
		rev[1] = (struct pki_revoked){ r->serial, r->when };
		assert_int_equal(pki_crl_new(f->ca_key, f->ca_cert, rev, 2, 1,
		    r->next, &der, NULL, err, sizeof(err)), UPLINK_EINVAL);
		CHECK(strstr(err, r->why) != NULL, "row %zu: \"%s\" lacks "
		    "\"%s\"", i, err, r->why);
		assert_int_equal(der.len, 0);
	}
	buf_free(&der);
}

static void
test_pin(void **state)
{
	struct fixture	*f = *state;
	const char	*names[] = { "pin.test" };
	EVP_PKEY	*key, *other;
	X509		*cert;
	unsigned char	 a[PKI_PIN_LEN], b[PKI_PIN_LEN], c[PKI_PIN_LEN];
	char		 hex[PKI_PIN_HEX_MAX], b64[PKI_PIN_B64_MAX], err[256];

	assert_int_equal(pki_issue_server(f->ca_key, f->ca_cert, names, 1, 30,
	    NULL, &key, &cert, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(pki_key_new(&other, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(pki_spki_pin(key, a, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(pki_spki_pin_cert(cert, b, err, sizeof(err)),
	    UPLINK_OK);
	assert_memory_equal(a, b, PKI_PIN_LEN);
	assert_int_equal(pki_spki_pin(key, c, err, sizeof(err)), UPLINK_OK);
	assert_memory_equal(a, c, PKI_PIN_LEN);
	assert_int_equal(pki_spki_pin(other, c, err, sizeof(err)), UPLINK_OK);
	assert_memory_not_equal(a, c, PKI_PIN_LEN);
	assert_int_equal(pki_spki_pin_cert(f->ca_cert, c, err, sizeof(err)),
	    UPLINK_OK);
	assert_memory_not_equal(a, c, PKI_PIN_LEN);

	pki_hex(a, sizeof(a), hex, sizeof(hex));
	assert_int_equal(strlen(hex), 64);
	assert_int_equal(strspn(hex, "0123456789abcdef"), 64);
	pki_base64url(a, sizeof(a), b64, sizeof(b64));
	assert_int_equal(strlen(b64), 43);
	assert_int_equal(strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
	    "nopqrstuvwxyz0123456789-_"), 43);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	X509_free(cert);
}

struct enc_row {
	const char	*in;
	size_t		 len;
	size_t		 dstlen;	/* 0: large */
	const char	*hex;
	const char	*b64;
};

/* RFC 4648's vectors, the two URL-safe digits, and short outputs. */
static const struct enc_row enc_rows[] = {
	{ "", 0, 0, "", "" },
	{ "f", 1, 0, "66", "Zg" },
	{ "fo", 2, 0, "666f", "Zm8" },
	{ "foo", 3, 0, "666f6f", "Zm9v" },
	{ "foob", 4, 0, "666f6f62", "Zm9vYg" },
	{ "fooba", 5, 0, "666f6f6261", "Zm9vYmE" },
	{ "foobar", 6, 0, "666f6f626172", "Zm9vYmFy" },
	{ "\xfb\xff", 2, 0, "fbff", "-_8" },
	{ "\xff\xff\xff", 3, 0, "ffffff", "____" },
	{ "\x00\x10\xab", 3, 0, "0010ab", "ABCr" },
	{ "foobar", 6, 4, "66", "Zm9" },
	{ "foobar", 6, 1, "", "" },
};

static void
test_encodings(void **state)
{
	const struct enc_row	*r;
	char			 out[64];
	size_t			 i, n;

	(void)state;
	for (i = 0; i < sizeof(enc_rows) / sizeof(enc_rows[0]); i++) {
		r = &enc_rows[i];
		n = r->dstlen != 0 ? r->dstlen : sizeof(out);
		pki_hex((const unsigned char *)r->in, r->len, out, n);
		CHECK(strcmp(out, r->hex) == 0, "row %zu: hex \"%s\", want "
		    "\"%s\"", i, out, r->hex);
		pki_base64url((const unsigned char *)r->in, r->len, out, n);
		CHECK(strcmp(out, r->b64) == 0, "row %zu: base64url \"%s\", "
		    "want \"%s\"", i, out, r->b64);
	}
	pki_hex((const unsigned char *)"ab", 2, out, 0);
	pki_base64url((const unsigned char *)"ab", 2, out, 0);
}

static void
test_fingerprint(void **state)
{
	struct fixture	*f = *state;
	const char	*names[] = { "fp.test" };
	unsigned char	 md[32];
	unsigned int	 mdlen;
	EVP_PKEY	*key;
	X509		*cert;
	char		 fp[PKI_FP_HEX_MAX], fp2[PKI_FP_HEX_MAX];
	char		 want[PKI_FP_HEX_MAX], err[256];

	assert_int_equal(pki_cert_fingerprint(f->ca_cert, fp, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(X509_digest(f->ca_cert, EVP_sha256(), md, &mdlen), 1);
	assert_int_equal(mdlen, 32);
	pki_hex(md, mdlen, want, sizeof(want));
	assert_string_equal(fp, want);
	assert_int_equal(strlen(fp), 64);
	assert_int_equal(pki_issue_server(f->ca_key, f->ca_cert, names, 1, 30,
	    NULL, &key, &cert, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(pki_cert_fingerprint(cert, fp2, err, sizeof(err)),
	    UPLINK_OK);
	assert_string_not_equal(fp, fp2);
	EVP_PKEY_free(key);
	X509_free(cert);
}

static int
dir_entries(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*e;
	int		 n = 0;

	assert_non_null(d);
	for (e = readdir(d); e != NULL; e = readdir(d))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static mode_t
file_mode(const char *path)
{
	struct stat	 st;

	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	return st.st_mode & 07777;
}

/* 0600 even with umask 0 and over an existing world-readable file. */
static void
test_key_file(void **state)
{
	struct fixture	*f = *state;
	EVP_PKEY	*key, *back;
	unsigned char	 a[PKI_PIN_LEN], b[PKI_PIN_LEN];
	char		 dir[PATH_MAX], path[PATH_MAX + 16], err[512];
	mode_t		 old = umask(0);
	FILE		*fp;

	snprintf(dir, sizeof(dir), "%s/keys", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	assert_int_equal(pki_key_new(&key, err, sizeof(err)), UPLINK_OK);
	CHECK(pki_key_save(key, path, err, sizeof(err)) == UPLINK_OK, "%s",
	    err);
	assert_int_equal(file_mode(path), 0600);
	assert_int_equal(dir_entries(dir), 1);

	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(pki_key_save(key, path, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(file_mode(path), 0600);
	assert_int_equal(dir_entries(dir), 1);

	assert_int_equal(pki_key_load(path, &back, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(pki_spki_pin(key, a, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(pki_spki_pin(back, b, err, sizeof(err)), UPLINK_OK);
	assert_memory_equal(a, b, PKI_PIN_LEN);
	assert_int_equal(EVP_PKEY_eq(key, back), 1);
	EVP_PKEY_free(back);

	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	    fp);
	fclose(fp);
	assert_int_equal(pki_key_load(path, &back, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_null(back);
	assert_non_null(strstr(err, "key.pem: not an unencrypted PEM private "
	    "key: "));
	EVP_PKEY_free(key);
	umask(old);
}

/* Others must not be able to swap the key; /tmp-like dirs are fine. */
static void
test_key_file_dirs(void **state)
{
	struct fixture	*f = *state;
	EVP_PKEY	*key, *back;
	char		 dir[PATH_MAX], path[PATH_MAX + 16], err[512];

	assert_int_equal(pki_key_new(&key, err, sizeof(err)), UPLINK_OK);
	snprintf(dir, sizeof(dir), "%s/open", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	assert_int_equal(pki_key_save(key, path, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_non_null(strstr(err, "refusing to write into"));
	assert_non_null(strstr(err, "(mode 0777): run chmod go-w"));
	assert_int_equal(dir_entries(dir), 0);
	assert_int_equal(chmod(dir, 0775), 0);
	assert_int_equal(pki_key_save(key, path, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_int_equal(chmod(dir, 01777), 0);
	assert_int_equal(pki_key_save(key, path, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(file_mode(path), 0600);

	snprintf(path, sizeof(path), "%s/missing/key.pem", f->dir);
	assert_int_equal(pki_key_save(key, path, err, sizeof(err)), UPLINK_EIO);
	assert_non_null(strstr(err, "missing/key.pem: cannot use the "
	    "directory"));
	assert_int_equal(pki_key_load(path, &back, err, sizeof(err)),
	    UPLINK_EIO);
	assert_non_null(strstr(err, "missing/key.pem: cannot open the private "
	    "key: No such file or directory"));
	EVP_PKEY_free(key);
}

static void
test_cert_file(void **state)
{
	struct fixture	*f = *state;
	X509		*back;
	char		 path[PATH_MAX + 16], err[512];
	mode_t		 old = umask(077);
	FILE		*fp;

	snprintf(path, sizeof(path), "%s/ca.pem", f->dir);
	assert_int_equal(pki_cert_save(f->ca_cert, path, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(file_mode(path), 0644);
	assert_int_equal(pki_cert_load(path, &back, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(X509_cmp(back, f->ca_cert), 0);
	X509_free(back);
	umask(old);

	snprintf(path, sizeof(path), "%s/none.pem", f->dir);
	assert_int_equal(pki_cert_load(path, &back, err, sizeof(err)),
	    UPLINK_EIO);
	assert_non_null(strstr(err, "none.pem: cannot open the certificate"));
	snprintf(path, sizeof(path), "%s/junk.pem", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("not a certificate\n", fp);
	fclose(fp);
	assert_int_equal(pki_cert_load(path, &back, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_non_null(strstr(err, "no PEM certificate"));
}

static int
count(const char *s, const char *what)
{
	int	 n = 0;

	for (s = strstr(s, what); s != NULL; s = strstr(s + 1, what))
		n++;
	return n;
}

static void
test_chain_pem(void **state)
{
	struct fixture	*f = *state;
	const char	*names[] = { "chain.test" };
	EVP_PKEY	*key;
	X509		*chain[2], *back;
	struct buf	 pem, small;
	unsigned char	*der = NULL;
	char		 err[512];
	int		 len;

	buf_init(&pem, 64 * 1024);
	buf_init(&small, 100);
	assert_int_equal(pki_issue_server(f->ca_key, f->ca_cert, names, 1, 30,
	    NULL, &key, &chain[0], err, sizeof(err)), UPLINK_OK);
	chain[1] = f->ca_cert;
	assert_int_equal(pki_chain_pem(chain, 2, &pem, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(count(pem.ptr, "-----BEGIN CERTIFICATE-----"), 2);
	assert_int_equal(pki_cert_parse(pem.ptr, pem.len, &back, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(X509_cmp(back, chain[0]), 0);
	X509_free(back);

	len = i2d_X509(f->ca_cert, &der);
	assert_true(len > 0);
	assert_int_equal(pki_cert_parse((const char *)der, (size_t)len, &back,
	    err, sizeof(err)), UPLINK_OK);
	assert_int_equal(X509_cmp(back, f->ca_cert), 0);
	X509_free(back);
	assert_int_equal(pki_cert_parse((const char *)der, (size_t)len - 1,
	    &back, err, sizeof(err)), UPLINK_EINVAL);
	assert_non_null(strstr(err, "DER certificate"));
	OPENSSL_free(der);

	assert_int_equal(pki_cert_parse("junk", 4, &back, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_non_null(strstr(err, "no valid PEM certificate"));
	assert_int_equal(pki_cert_parse("", 0, &back, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_int_equal(pki_cert_parse(pem.ptr, 70 * 1024, &back, err,
	    sizeof(err)), UPLINK_ETOOBIG);
	assert_int_equal(pki_chain_pem(chain, 2, &small, err, sizeof(err)),
	    UPLINK_ETOOBIG);
	assert_non_null(strstr(err, "size limit exceeded"));
	assert_int_equal(small.len, 0);
	EVP_PKEY_free(key);
	X509_free(chain[0]);
	buf_free(&pem);
	buf_free(&small);
}

/*
 * pki_renew_at(): a third of the life or 30 days before notAfter, whichever
 * is earlier, for certificates starting at an arbitrary time t.
 */
struct renew_row {
	const char	*what;
	int64_t		 life;		/* notAfter - notBefore, seconds */
	int64_t		 due_left;	/* seconds left when it becomes due */
};

static const struct renew_row renew_rows[] = {
	{ "init's 397 days: a third", 397 * DAY, 397 * DAY / 3 },
	{ "398 days: a third", 398 * DAY, 398 * DAY / 3 },
	{ "10 years (an old init): a third", 3650 * DAY, 3650 * DAY / 3 },
	{ "90 days: exactly 30 days", 90 * DAY, 30 * DAY },
	{ "91 days: a third", 91 * DAY, 91 * DAY / 3 },
	{ "60 days: 30 days wins", 60 * DAY, 30 * DAY },
	{ "2 days: due from the start", 2 * DAY, 30 * DAY },
	{ "1 second", 1, 30 * DAY },
	{ "notAfter == notBefore: due at once", 0, -1 },
	{ "notAfter before notBefore: due at once", -DAY, -1 },
};

static void
test_renew_at(void **state)
{
	const time_t	 t = 1800000000;	/* 2027-01-15 */
	const struct renew_row *r;
	time_t		 at;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(renew_rows) / sizeof(renew_rows[0]); i++) {
		r = &renew_rows[i];
		at = pki_renew_at(t, (time_t)(t + r->life));
		if (r->due_left < 0) {
			CHECK(at == t, "%s: due at %lld, not at notBefore",
			    r->what, (long long)(at - t));
			continue;
		}
		CHECK(at == (time_t)(t + r->life - r->due_left),
		    "%s: due %lld s before notAfter, want %lld", r->what,
		    (long long)(t + r->life - at), (long long)r->due_left);
	}
	/* A fresh 397-day certificate is not due for 264 days. */
	at = pki_renew_at(t, t + 397 * DAY);
	assert_true(t + 264 * DAY < at);
	assert_true(t + 265 * DAY > at);
}

/* pki_cert_validity() and pki_cert_names() on what pki_issue_server() made. */
static void
test_cert_names(void **state)
{
	struct fixture	*f = *state;
	const char	*names[] = { "cloud.example.test", "*.wild.test",
			    "192.0.2.7", "2001:db8::1", "127.0.0.1" };
	char		 got[8][PKI_NAME_MAX], err[512];
	EVP_PKEY	*key;
	X509		*cert;
	time_t		 nb, na, now = time(NULL);
	size_t		 i;

	assert_int_equal(pki_issue_server(f->ca_key, f->ca_cert, names, 5, 397,
	    NULL, &key, &cert, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(pki_cert_names(cert, got, 8), 5);
	for (i = 0; i < 5; i++)
		assert_string_equal(got[i], names[i]);
	/* A short array gets the first ones. */
	assert_int_equal(pki_cert_names(cert, got, 2), 2);
	assert_string_equal(got[1], "*.wild.test");
	assert_int_equal(pki_cert_validity(cert, &nb, &na, err, sizeof(err)),
	    UPLINK_OK);
	assert_true(nb <= now && nb >= now - 600);
	assert_true(na >= now + 397 * DAY - 60 && na <= now + 397 * DAY + 60);
	/* At most 398 days from notBefore to notAfter (browsers' cap). */
	assert_true(na - nb <= 398 * DAY);
	EVP_PKEY_free(key);
	X509_free(cert);
	/* The CA has no subjectAltName. */
	assert_int_equal(pki_cert_names(f->ca_cert, got, 8), 0);
}

/*
 * Instance certificates (cloud/peer.c): both TLS purposes, CN
 * "instance:ID", and only they pass pki_cert_instance(); a connector's
 * certificate (even with CN "instance:x"), a server certificate and the
 * CA never do. Bad ids are refused.
 */
static void
test_instance(void **state)
{
	struct fixture		*f = *state;
	struct buf		 csr, pem;
	EVP_PKEY		*key, *ckey;
	X509			*cert, *conn, *srv;
	const char		*names[] = { "cloud.uplink.test" };
	char			 id[64], err[512], longid[80];
	static const char *const good[] = { "a", "i-1", "b2",
	    "abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghijklmnopqrstuvwxy" };
	static const char *const bad[] = { "", "A", "a_b", "a b", "a/b",
	    "a,URI:x", "\xc3\xa9" };
	size_t			 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(pki_issue_instance(f->ca_key, f->ca_cert,
		    good[i], 86400, &key, &cert, err, sizeof(err)), UPLINK_OK);
		assert_int_equal(verify(f->ca_cert, cert,
		    X509_PURPOSE_SSL_CLIENT), 1);
		assert_int_equal(verify(f->ca_cert, cert,
		    X509_PURPOSE_SSL_SERVER), 1);
		assert_true(pki_cert_instance(cert, id, sizeof(id)));
		assert_string_equal(id, good[i]);
		assert_int_equal(X509_check_ca(cert), 0);
		assert_aki_is(cert, f->ca_cert);
		X509_free(cert);
		EVP_PKEY_free(key);
	}
	memset(longid, 'x', 64);
	longid[64] = '\0';
	assert_int_equal(pki_issue_instance(f->ca_key, f->ca_cert, longid,
	    86400, &key, &cert, err, sizeof(err)), UPLINK_EINVAL);
	assert_null(key);
	assert_null(cert);
	assert_int_equal(pki_issue_instance(f->ca_key, f->ca_cert, "a", 0,
	    &key, &cert, err, sizeof(err)), UPLINK_EINVAL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(pki_issue_instance(f->ca_key, f->ca_cert, bad[i], 86400,
		    &key, &cert, err, sizeof(err)) == UPLINK_EINVAL,
		    "instance id \"%s\" accepted", bad[i]);
		assert_null(cert);
	}

	/* A connector asking for the instance CN is still a connector. */
	buf_init(&csr, PKI_CSR_MAX);
	buf_init(&pem, 64 * 1024);
	assert_int_equal(pki_key_new(&ckey, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(pki_csr_new(ckey, "instance:a", &csr, err,
	    sizeof(err)), UPLINK_OK);
	conn = sign(f, &csr, "instance:a", NULL);
	assert_false(pki_cert_instance(conn, id, sizeof(id)));
	assert_string_equal(id, "");
	assert_int_equal(pki_issue_server(f->ca_key, f->ca_cert, names, 1, 30,
	    NULL, &key, &srv, err, sizeof(err)), UPLINK_OK);
	assert_false(pki_cert_instance(srv, NULL, 0));
	assert_false(pki_cert_instance(f->ca_cert, NULL, 0));
	assert_false(pki_cert_instance(NULL, NULL, 0));
	X509_free(conn);
	X509_free(srv);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ckey);
	buf_free(&csr);
	buf_free(&pem);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca),
		cmocka_unit_test(test_ca_bad),
		cmocka_unit_test(test_server_table),
		cmocka_unit_test(test_server_bad),
		cmocka_unit_test(test_wrong_ca),
		cmocka_unit_test(test_sign_csr),
		cmocka_unit_test(test_instance),
		cmocka_unit_test(test_sign_csr_no_copied_exts),
		cmocka_unit_test(test_sign_csr_rsa2048),
		cmocka_unit_test(test_sign_csr_bad),
		cmocka_unit_test(test_sign_csr_bad_args),
		cmocka_unit_test(test_crl),
		cmocka_unit_test(test_crl_empty),
		cmocka_unit_test(test_crl_bad),
		cmocka_unit_test(test_pin),
		cmocka_unit_test(test_encodings),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_key_file_dirs),
		cmocka_unit_test(test_cert_file),
		cmocka_unit_test(test_chain_pem),
		cmocka_unit_test(test_renew_at),
		cmocka_unit_test(test_cert_names),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
