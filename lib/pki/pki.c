#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "atomicfile.h"
#include "crl.h"
#include "error.h"
#include "pki.h"
#include "tls.h"

/*
 * Certificates start a few minutes in the past so that a peer whose clock
 * is slightly behind the cloud's does not see a brand-new certificate as
 * "not yet valid".
 */
#define PKI_BACKDATE		300
#define PKI_RSA_MIN_BITS	2048
#define PKI_RSA_MAX_BITS	8192	/* bounds what checking a CSR costs */
#define PKI_CERT_MAX		(64 * 1024)
#define PKI_SERIAL_BYTES	16

/* An extension given in OpenSSL's configuration syntax. */
struct pki_ext {
	int		 nid;
	const char	*value;
};

static const struct pki_ext pki_ca_exts[] = {
	{ NID_basic_constraints,	"critical,CA:TRUE,pathlen:0" },
	{ NID_key_usage,		"critical,keyCertSign,cRLSign" },
	{ NID_subject_key_identifier,	"hash" },
	{ 0, NULL },
};

static const struct pki_ext pki_server_exts[] = {
	{ NID_basic_constraints,	"critical,CA:FALSE" },
	{ NID_key_usage,		"critical,digitalSignature" },
	{ NID_ext_key_usage,		"serverAuth" },
	{ NID_subject_key_identifier,	"hash" },
	{ NID_authority_key_identifier,	"keyid:always" },
	{ 0, NULL },
};

static const struct pki_ext pki_client_exts[] = {
	{ NID_basic_constraints,	"critical,CA:FALSE" },
	{ NID_key_usage,		"critical,digitalSignature" },
	{ NID_ext_key_usage,		"clientAuth" },
	{ NID_subject_key_identifier,	"hash" },
	{ NID_authority_key_identifier,	"keyid:always" },
	{ 0, NULL },
};

/*
 * An instance certificate (cloud/peer.c): both TLS roles; its name is the
 * URI PKI_INSTANCE_URI "ID" in the subjectAltName, which pki_sign_csr()
 * never writes (a connector certificate has no subjectAltName), so no
 * connector certificate can pass for an instance.
 */
static const struct pki_ext pki_instance_exts[] = {
	{ NID_basic_constraints,	"critical,CA:FALSE" },
	{ NID_key_usage,		"critical,digitalSignature" },
	{ NID_ext_key_usage,		"serverAuth,clientAuth" },
	{ NID_subject_key_identifier,	"hash" },
	{ NID_authority_key_identifier,	"keyid:always" },
	{ 0, NULL },
};

/* What a CA signs into a leaf certificate. */
struct pki_leaf {
	EVP_PKEY		*pub;
	const char		*cn;
	int64_t			 secs;
	const struct pki_ext	*exts;
	const char		*san;		/* config syntax, or NULL */
	const char		*crl_url;	/* or NULL */
};

static int	pki_fail(int, char *, size_t, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
static int	pki_ossl_fail(int, char *, size_t, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

/* Fills err and drops whatever OpenSSL queued, which would mislead later. */
static int
pki_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	ERR_clear_error();
	va_start(ap, fmt);
	rc = uplink_vfail(rc, err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* Fills err with the message, a colon and OpenSSL's queued reasons. */
static int
pki_ossl_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;
	char	 why[512];
	int	 n;

	tls_errors(why, sizeof(why));
	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < errlen)
		snprintf(err + n, errlen - (size_t)n, ": %s", why);
	return rc;
}

/* Keys are never encrypted; never let OpenSSL prompt on a terminal. */
static int
pki_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Appends what a memory BIO holds to out and frees the BIO. */
static int
pki_bio_drain(BIO *bio, struct buf *out, const char *what, char *err,
    size_t errlen)
{
	char	*data;
	long	 len;
	int	 rc;

	len = BIO_get_mem_data(bio, &data);
	rc = buf_append(out, data, len > 0 ? (size_t)len : 0);
	BIO_free(bio);
	if (rc != UPLINK_OK)
		return pki_fail(rc, err, errlen, "cannot append the %s (%ld "
		    "bytes) to the output: %s", what, len, uplink_strerror(rc));
	return UPLINK_OK;
}

/*
 * libsodium does the encoding; these wrappers keep the contract that output
 * is cut to fit dst (sodium itself refuses a short buffer).
 */
void
pki_hex(const unsigned char *data, size_t len, char *dst, size_t dstlen)
{
	size_t	 fit;

	if (dstlen == 0)
		return;
	fit = (dstlen - 1) / 2;
	if (fit > len)
		fit = len;
	sodium_bin2hex(dst, fit * 2 + 1, data, fit);
}

void
pki_base64url(const unsigned char *data, size_t len, char *dst,
    size_t dstlen)
{
	const int	 v = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
	size_t		 need = sodium_base64_ENCODED_LEN(len, v);
	char		*tmp;

	if (dstlen == 0)
		return;
	if (dstlen >= need) {
		sodium_bin2base64(dst, dstlen, data, len, v);
		return;
	}
	tmp = malloc(need);
	dst[0] = '\0';
	if (tmp == NULL)
		return;
	sodium_bin2base64(tmp, need, data, len, v);
	snprintf(dst, dstlen, "%s", tmp);
	free(tmp);
}

/*
 * The CN is checked up front, so callers learn about bad input before a
 * key is generated, and with a better message than OpenSSL's.
 */
static int
pki_check_cn(const char *cn, char *err, size_t errlen)
{
	size_t	 i, len = cn != NULL ? strlen(cn) : 0;

	if (len == 0)
		return pki_fail(UPLINK_EINVAL, err, errlen, "the certificate's "
		    "common name is empty: give a name or an id");
	if (len > PKI_CN_MAX)
		return pki_fail(UPLINK_EINVAL, err, errlen, "the common name "
		    "\"%.20s...\" is %zu bytes, more than the %d X.509 allows",
		    cn, len, PKI_CN_MAX);
	for (i = 0; i < len; i++)
		if (iscntrl((unsigned char)cn[i]))
			return pki_fail(UPLINK_EINVAL, err, errlen, "the "
			    "common name has a control character at byte %zu",
			    i);
	return UPLINK_OK;
}

static int
pki_check_secs(int64_t secs, char *err, size_t errlen)
{
	if (secs < 30 || secs > (int64_t)PKI_DAYS_MAX * 86400)
		return pki_fail(UPLINK_EINVAL, err, errlen, "a validity of "
		    "%lld seconds is out of range: give 30 s to %d days",
		    (long long)secs, PKI_DAYS_MAX);
	return UPLINK_OK;
}

static int
pki_check_days(int days, char *err, size_t errlen)
{
	if (days < 1 || days > PKI_DAYS_MAX)
		return pki_fail(UPLINK_EINVAL, err, errlen, "a validity of %d "
		    "days is out of range: give 1 to %d", days, PKI_DAYS_MAX);
	return UPLINK_OK;
}

/*
 * The CRL URL goes into OpenSSL's configuration syntax, where a comma
 * separates values, so commas (and anything outside printable ASCII) are
 * refused rather than escaped. Only http:// is useful: crl.c fetches
 * nothing else, and a CRL is signed, so TLS would add nothing.
 */
static int
pki_check_crl_url(const char *url, char *err, size_t errlen)
{
	size_t	 i, len;

	if (url == NULL)
		return UPLINK_OK;
	len = strlen(url);
	if (len < 8 || strncmp(url, "http://", 7) != 0 || len >= CRL_URL_MAX)
		return pki_fail(UPLINK_EINVAL, err, errlen, "the CRL URL "
		    "\"%.80s\" is not an http:// URL shorter than %d bytes",
		    url, CRL_URL_MAX);
	for (i = 0; i < len; i++)
		if ((unsigned char)url[i] <= ' ' ||
		    (unsigned char)url[i] > '~' || url[i] == ',')
			return pki_fail(UPLINK_EINVAL, err, errlen, "the CRL "
			    "URL \"%.80s\" has a space, comma or non-ASCII "
			    "byte at offset %zu: percent-encode it", url, i);
	return UPLINK_OK;
}

/* Host names as RFC 1123 has them, optionally with a leading "*.". */
static bool
pki_host_valid(const char *s)
{
	size_t	 label = 0;

	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	if (*s == '\0' || strlen(s) > 253)
		return false;
	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (label == 0 || s[-1] == '-')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)*s) ||
		    (*s == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else
			return false;
	}
	return label > 0 && s[-1] != '-';
}

/*
 * Turns the names into a subjectAltName in configuration syntax ("DNS:a,
 * IP:10.0.0.1"). Every name is checked to be a host name or an address,
 * neither of which can hold a comma, the syntax's separator.
 */
static int
pki_san_build(const char *const *names, size_t n, struct buf *san, char *err,
    size_t errlen)
{
	ASN1_OCTET_STRING	*ip;
	size_t			 i;
	int			 rc;
	bool			 is_ip;

	if (n == 0)
		return pki_fail(UPLINK_EINVAL, err, errlen, "a server "
		    "certificate needs at least one host name or address");
	for (i = 0; i < n; i++) {
		ip = a2i_IPADDRESS(names[i]);
		is_ip = ip != NULL;
		ASN1_OCTET_STRING_free(ip);
		if (!is_ip && !pki_host_valid(names[i]))
			return pki_fail(UPLINK_EINVAL, err, errlen, "name %zu, "
			    "\"%.80s\", is neither a host name nor an IP "
			    "address", i + 1, names[i]);
		rc = buf_appendf(san, "%s%s:%s", i > 0 ? "," : "",
		    is_ip ? "IP" : "DNS", names[i]);
		if (rc != UPLINK_OK)
			return pki_fail(rc, err, errlen, "the subjectAltName "
			    "of %zu names is too long: %s", n,
			    uplink_strerror(rc));
	}
	ERR_clear_error();
	return UPLINK_OK;
}

/*
 * A random 128-bit serial (RFC 5280 asks for at most 20 bytes, CAs for 64
 * random bits). The top bit is set so every serial has the same length,
 * which keeps the hex form the cloud stores a fixed 32 digits.
 */
static int
pki_serial_random(ASN1_INTEGER *serial, char *err, size_t errlen)
{
	unsigned char	 r[PKI_SERIAL_BYTES];
	BIGNUM		*bn;
	int		 rc = UPLINK_OK;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return pki_ossl_fail(UPLINK_EIO, err, errlen, "cannot draw a "
		    "random serial number");
	r[0] |= 0x80;
	bn = BN_bin2bn(r, sizeof(r), NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, serial) == NULL)
		rc = pki_ossl_fail(UPLINK_ENOMEM, err, errlen, "cannot set "
		    "the serial number");
	BN_free(bn);
	return rc;
}

/*
 * notBefore is set a little in the past for clocks that lag, but by no
 * more than a tenth of the lifetime: renewal is due two thirds of the way
 * from notBefore, which must stay in the future for a short-lived one.
 */
static long
pki_backdate(int64_t secs)
{
	return secs / 10 < PKI_BACKDATE ? (long)(secs / 10) : PKI_BACKDATE;
}

/* Everything in a certificate but its extensions and signature. */
static int
pki_cert_init(X509 *cert, EVP_PKEY *pub, const char *cn,
    const X509_NAME *issuer, int64_t secs, char *err, size_t errlen)
{
	X509_NAME	*subject = X509_get_subject_name(cert);
	time_t		 now = time(NULL);
	int		 rc;

	rc = pki_serial_random(X509_get_serialNumber(cert), err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (X509_set_version(cert, X509_VERSION_3) != 1 ||
	    X509_time_adj_ex(X509_getm_notBefore(cert), 0, -pki_backdate(secs),
	    &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), (int)(secs / 86400),
	    (long)(secs % 86400), &now) == NULL ||
	    X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(cert, issuer != NULL ? issuer :
	    subject) != 1 ||
	    X509_set_pubkey(cert, pub) != 1)
		return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "cannot fill "
		    "in the certificate for \"%s\"", cn);
	return UPLINK_OK;
}

/*
 * Adds one extension. issuer is the signing CA's certificate (the
 * certificate itself when self-signed) for the authority key identifier.
 */
static int
pki_ext_add(X509 *cert, X509 *issuer, int nid, const char *value, char *err,
    size_t errlen)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*ext;
	int		 ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	if (!ok)
		return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "cannot add "
		    "the %s extension \"%.80s\"", OBJ_nid2ln(nid), value);
	return UPLINK_OK;
}

static int
pki_exts_add(X509 *cert, X509 *issuer, const struct pki_ext *exts, char *err,
    size_t errlen)
{
	int	 rc;

	for (; exts->value != NULL; exts++) {
		rc = pki_ext_add(cert, issuer, exts->nid, exts->value, err,
		    errlen);
		if (rc != UPLINK_OK)
			return rc;
	}
	return UPLINK_OK;
}

static int
pki_cert_sign(X509 *cert, EVP_PKEY *key, char *err, size_t errlen)
{
	if (X509_sign(cert, key, EVP_sha256()) <= 0)
		return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "cannot sign "
		    "the certificate with SHA-256 and the %s key",
		    EVP_PKEY_get0_type_name(key));
	return UPLINK_OK;
}

/*
 * Refuses a CA that could only issue certificates nobody accepts: a key
 * that is not the certificate's, a certificate that is no CA, or one
 * without the key identifier its certificates' AKI must repeat.
 */
static int
pki_ca_check(EVP_PKEY *ca_key, X509 *ca_cert, char *err, size_t errlen)
{
	char	 name[256];

	tls_common_name(X509_get_subject_name(ca_cert), name, sizeof(name));
	if (X509_check_private_key(ca_cert, ca_key) != 1)
		return pki_fail(UPLINK_EINVAL, err, errlen, "the CA key does "
		    "not belong to the CA certificate \"%s\": load the key "
		    "made with that certificate", name);
	if (X509_check_ca(ca_cert) == 0)
		return pki_fail(UPLINK_EINVAL, err, errlen, "the certificate "
		    "\"%s\" is not a CA certificate: it cannot issue others",
		    name);
	if (X509_get0_subject_key_id(ca_cert) == NULL)
		return pki_fail(UPLINK_EINVAL, err, errlen, "the CA "
		    "certificate \"%s\" has no subject key identifier: "
		    "recreate the CA", name);
	return UPLINK_OK;
}

/* Creates and signs a leaf certificate the CA vouches for. */
static int
pki_leaf_issue(EVP_PKEY *ca_key, X509 *ca_cert, const struct pki_leaf *l,
    X509 **out, char *err, size_t errlen)
{
	X509		*cert;
	char		 dp[CRL_URL_MAX + 8];
	int		 rc;

	*out = NULL;
	cert = X509_new();
	if (cert == NULL)
		return pki_ossl_fail(UPLINK_ENOMEM, err, errlen, "cannot "
		    "allocate a certificate");
	rc = pki_cert_init(cert, l->pub, l->cn, X509_get_subject_name(ca_cert),
	    l->secs, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_exts_add(cert, ca_cert, l->exts, err, errlen);
	if (rc == UPLINK_OK && l->san != NULL)
		rc = pki_ext_add(cert, ca_cert, NID_subject_alt_name, l->san,
		    err, errlen);
	if (rc == UPLINK_OK && l->crl_url != NULL) {
		snprintf(dp, sizeof(dp), "URI:%s", l->crl_url);
		rc = pki_ext_add(cert, ca_cert, NID_crl_distribution_points, dp,
		    err, errlen);
	}
	if (rc == UPLINK_OK)
		rc = pki_cert_sign(cert, ca_key, err, errlen);
	if (rc != UPLINK_OK) {
		X509_free(cert);
		return rc;
	}
	*out = cert;
	return UPLINK_OK;
}

int
pki_key_new(EVP_PKEY **key, char *err, size_t errlen)
{
	*key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (*key == NULL)
		return pki_ossl_fail(UPLINK_ENOMEM, err, errlen, "cannot "
		    "generate an EC P-256 key");
	return UPLINK_OK;
}

int
pki_key_load(const char *path, EVP_PKEY **key, char *err, size_t errlen)
{
	FILE	*fp;

	*key = NULL;
	fp = fopen(path, "re");
	if (fp == NULL)
		return pki_fail(UPLINK_EIO, err, errlen, "%s: cannot open the "
		    "private key: %s", path, strerror(errno));
	*key = PEM_read_PrivateKey(fp, NULL, pki_no_passphrase, NULL);
	fclose(fp);
	if (*key == NULL)
		return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "%s: not an "
		    "unencrypted PEM private key", path);
	return UPLINK_OK;
}

/* The directory part of path: "." for "key.pem", "/" for "/key.pem". */
static void
pki_dir_of(const char *path, char *dir, size_t dirlen)
{
	const char	*slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(dir, dirlen, ".");
	else if (slash == path)
		snprintf(dir, dirlen, "/");
	else
		snprintf(dir, dirlen, "%.*s", (int)(slash - path), path);
}

/*
 * Refuses a directory others can write to: they could replace the key (or
 * the CA certificate) with their own. A sticky directory (/tmp) only lets
 * them remove their own files, and rename() then fails on theirs.
 */
static int
pki_dir_check(const char *path, const char *dir, char *err, size_t errlen)
{
	struct stat	 st;

	if (stat(dir, &st) == -1)
		return pki_fail(UPLINK_EIO, err, errlen, "%s: cannot use the "
		    "directory %s: %s", path, dir, strerror(errno));
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (st.st_mode & S_ISVTX) == 0)
		return pki_fail(UPLINK_EINVAL, err, errlen, "%s: refusing to "
		    "write into %s, which other users can write to (mode "
		    "%04o): run chmod go-w %s or choose another directory",
		    path, dir, (unsigned)(st.st_mode & 07777), dir);
	return UPLINK_OK;
}

/*
 * Replaces path with the contents of a memory BIO (atomicfile_write(): a
 * temporary file, the exact mode, fsync, rename), in a directory others
 * cannot write to. The BIO is freed, which clears it.
 */
static int
pki_file_write(const char *path, mode_t mode, BIO *bio, const char *what,
    char *err, size_t errlen)
{
	char	 dir[PATH_MAX], *data;
	long	 len = BIO_get_mem_data(bio, &data);
	int	 rc;

	if (strlen(path) + sizeof(".XXXXXX") > sizeof(dir))
		rc = pki_fail(UPLINK_EINVAL, err, errlen, "%.80s...: the path "
		    "is too long", path);
	else {
		pki_dir_of(path, dir, sizeof(dir));
		rc = pki_dir_check(path, dir, err, errlen);
	}
	if (rc == UPLINK_OK)
		rc = atomicfile_write(path, data, len > 0 ? (size_t)len : 0,
		    mode, what, err, errlen);
	BIO_free(bio);
	return rc;
}

int
pki_key_save(EVP_PKEY *key, const char *path, char *err, size_t errlen)
{
	BIO	*bio;

	bio = BIO_new(BIO_s_secmem());
	if (bio == NULL || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0,
	    NULL, NULL) != 1) {
		BIO_free(bio);
		return pki_ossl_fail(UPLINK_ENOMEM, err, errlen, "%s: cannot "
		    "encode the private key as PEM", path);
	}
	return pki_file_write(path, 0600, bio, "private key", err, errlen);
}

int
pki_ca_new(const char *common_name, int days, EVP_PKEY **key, X509 **cert,
    char *err, size_t errlen)
{
	int	 rc;

	*key = NULL;
	*cert = NULL;
	rc = pki_check_cn(common_name, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_check_days(days, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_key_new(key, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	*cert = X509_new();
	if (*cert == NULL)
		rc = pki_ossl_fail(UPLINK_ENOMEM, err, errlen, "cannot "
		    "allocate a certificate");
	if (rc == UPLINK_OK)
		rc = pki_cert_init(*cert, *key, common_name, NULL,
		    (int64_t)days * 86400, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_exts_add(*cert, *cert, pki_ca_exts, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_cert_sign(*cert, *key, err, errlen);
	if (rc != UPLINK_OK) {
		X509_free(*cert);
		EVP_PKEY_free(*key);
		*cert = NULL;
		*key = NULL;
	}
	return rc;
}

int
pki_issue_server(EVP_PKEY *ca_key, X509 *ca_cert, const char *const *names,
    size_t nnames, int days, const char *crl_url, EVP_PKEY **key, X509 **cert,
    char *err, size_t errlen)
{
	struct pki_leaf	 l = { .secs = (int64_t)days * 86400,
			     .exts = pki_server_exts,
			     .crl_url = crl_url };
	struct buf	 san;
	int		 rc;

	*key = NULL;
	*cert = NULL;
	buf_init(&san, 64 * 1024);
	rc = pki_san_build(names, nnames, &san, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_check_cn(names[0], err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_check_days(days, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_check_crl_url(crl_url, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_ca_check(ca_key, ca_cert, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_key_new(key, err, errlen);
	if (rc == UPLINK_OK) {
		l.pub = *key;
		l.cn = names[0];
		l.san = buf_cstr(&san);
		rc = pki_leaf_issue(ca_key, ca_cert, &l, cert, err, errlen);
	}
	if (rc != UPLINK_OK) {
		EVP_PKEY_free(*key);
		*key = NULL;
	}
	buf_free(&san);
	return rc;
}

int
pki_issue_instance(EVP_PKEY *ca_key, X509 *ca_cert, const char *id,
    int64_t secs, EVP_PKEY **key, X509 **cert, char *err, size_t errlen)
{
	struct pki_leaf	 l = { .secs = secs, .exts = pki_instance_exts };
	char		 cn[PKI_CN_MAX + 1], san[PKI_INSTANCE_ID_MAX + 32];
	size_t		 i;
	int		 rc;

	*key = NULL;
	*cert = NULL;
	if (id[0] == '\0' || strlen(id) > PKI_INSTANCE_ID_MAX)
		return pki_fail(UPLINK_EINVAL, err, errlen, "the instance id "
		    "\"%.20s\" is empty or longer than %d characters", id,
		    PKI_INSTANCE_ID_MAX);
	for (i = 0; id[i] != '\0'; i++)
		if (!islower((unsigned char)id[i]) &&
		    !isdigit((unsigned char)id[i]) && id[i] != '-')
			return pki_fail(UPLINK_EINVAL, err, errlen, "the "
			    "instance id \"%s\" has a character other than "
			    "a-z, 0-9 and '-'", id);
	/* For people: cut to X.509's 64 characters; the URI is the name. */
	snprintf(cn, sizeof(cn), PKI_INSTANCE_CN "%s", id);
	snprintf(san, sizeof(san), "URI:" PKI_INSTANCE_URI "%s", id);
	l.san = san;
	rc = pki_check_cn(cn, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_check_secs(secs, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_ca_check(ca_key, ca_cert, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_key_new(key, err, errlen);
	if (rc == UPLINK_OK) {
		l.pub = *key;
		l.cn = cn;
		rc = pki_leaf_issue(ca_key, ca_cert, &l, cert, err, errlen);
	}
	if (rc != UPLINK_OK) {
		EVP_PKEY_free(*key);
		*key = NULL;
	}
	return rc;
}

/*
 * The instance id of the certificate's URI name PKI_INSTANCE_URI "ID"
 * into id; false when it has none (or more than one).
 */
static bool
pki_instance_uri(X509 *cert, char *id, size_t idlen)
{
	GENERAL_NAMES		*gens;
	const GENERAL_NAME	*g;
	const unsigned char	*v;
	size_t			 plen = sizeof(PKI_INSTANCE_URI) - 1, len;
	int			 i, found = 0;

	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (gens == NULL)
		return false;
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_URI)
			continue;
		v = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
		len = (size_t)ASN1_STRING_length(g->d.uniformResourceIdentifier);
		if (len <= plen || len - plen >= idlen ||
		    memcmp(v, PKI_INSTANCE_URI, plen) != 0 ||
		    memchr(v, '\0', len) != NULL)
			continue;
		memcpy(id, v + plen, len - plen);
		id[len - plen] = '\0';
		found++;
	}
	GENERAL_NAMES_free(gens);
	return found == 1;
}

bool
pki_cert_instance(X509 *cert, char *id, size_t idlen)
{
	char	 uri[PKI_INSTANCE_ID_MAX + 1];

	if (id != NULL && idlen > 0)
		id[0] = '\0';
	if (cert == NULL || !pki_instance_uri(cert, uri, sizeof(uri)))
		return false;
	if (id != NULL && idlen > 0)
		snprintf(id, idlen, "%s", uri);
	return true;
}

/* A CSR for key, signed with it. NULL with OpenSSL's errors queued. */
static X509_REQ *
pki_req_make(EVP_PKEY *key, const char *cn)
{
	X509_REQ	*req;

	req = X509_REQ_new();
	if (req == NULL)
		return NULL;
	if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req),
	    NID_commonName, MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
	    0) != 1 || X509_REQ_set_pubkey(req, key) != 1 ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
		X509_REQ_free(req);
		return NULL;
	}
	return req;
}

int
pki_csr_new(EVP_PKEY *key, const char *common_name, struct buf *pem,
    char *err, size_t errlen)
{
	X509_REQ	*req;
	BIO		*bio;
	int		 rc;

	rc = pki_check_cn(common_name, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	req = pki_req_make(key, common_name);
	if (req == NULL)
		return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "cannot make "
		    "a certificate request for \"%s\"", common_name);
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_X509_REQ(bio, req) != 1) {
		BIO_free(bio);
		X509_REQ_free(req);
		return pki_ossl_fail(UPLINK_ENOMEM, err, errlen, "cannot "
		    "encode the certificate request as PEM");
	}
	X509_REQ_free(req);
	return pki_bio_drain(bio, pem, "certificate request", err, errlen);
}

/*
 * Reads a peer's CSR. PEM only: the connector sends PEM, and one format
 * keeps the messages for garbage precise.
 */
static int
pki_csr_parse(const char *pem, size_t len, X509_REQ **req, char *err,
    size_t errlen)
{
	BIO	*bio;

	*req = NULL;
	if (len == 0)
		return pki_fail(UPLINK_EINVAL, err, errlen, "the certificate "
		    "request is empty");
	if (len > PKI_CSR_MAX)
		return pki_fail(UPLINK_ETOOBIG, err, errlen, "the certificate "
		    "request is %zu bytes, more than the %d allowed", len,
		    PKI_CSR_MAX);
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return pki_ossl_fail(UPLINK_ENOMEM, err, errlen, "cannot read "
		    "the certificate request");
	*req = PEM_read_bio_X509_REQ(bio, NULL, pki_no_passphrase, NULL);
	BIO_free(bio);
	if (*req == NULL)
		return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "the "
		    "certificate request is not a valid PEM \"CERTIFICATE "
		    "REQUEST\" (%zu bytes)", len);
	return UPLINK_OK;
}

/* EC P-256 or RSA of 2048 to 8192 bits: strong, and cheap to check. */
static int
pki_csr_key_check(EVP_PKEY *pub, char *err, size_t errlen)
{
	char	 group[64];
	size_t	 glen;
	int	 bits;

	switch (EVP_PKEY_get_base_id(pub)) {
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(pub, group, sizeof(group),
		    &glen) != 1)
			return pki_fail(UPLINK_EINVAL, err, errlen, "the "
			    "certificate request's EC key has no named curve: "
			    "use P-256");
		if (OBJ_sn2nid(group) == NID_X9_62_prime256v1)
			return UPLINK_OK;
		return pki_fail(UPLINK_EINVAL, err, errlen, "the certificate "
		    "request's key is on curve %s: only P-256 is accepted "
		    "(or RSA of %d to %d bits)", group, PKI_RSA_MIN_BITS,
		    PKI_RSA_MAX_BITS);
	case EVP_PKEY_RSA:
		bits = EVP_PKEY_get_bits(pub);
		if (bits >= PKI_RSA_MIN_BITS && bits <= PKI_RSA_MAX_BITS)
			return UPLINK_OK;
		return pki_fail(UPLINK_EINVAL, err, errlen, "the certificate "
		    "request's key is RSA %d bits: RSA keys must have %d to "
		    "%d bits (or use EC P-256)", bits, PKI_RSA_MIN_BITS,
		    PKI_RSA_MAX_BITS);
	}
	return pki_fail(UPLINK_EINVAL, err, errlen, "the certificate "
	    "request's key is %s: only EC P-256 and RSA of %d to %d bits are "
	    "accepted", EVP_PKEY_get0_type_name(pub), PKI_RSA_MIN_BITS,
	    PKI_RSA_MAX_BITS);
}

/* The public key of a CSR that passes the key rules and its signature. */
static int
pki_csr_check(X509_REQ *req, EVP_PKEY **pub, char *err, size_t errlen)
{
	int	 rc;

	*pub = X509_REQ_get0_pubkey(req);
	if (*pub == NULL)
		return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "the "
		    "certificate request's public key cannot be decoded");
	rc = pki_csr_key_check(*pub, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (X509_REQ_verify(req, *pub) != 1)
		return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "the "
		    "certificate request's signature does not verify: it was "
		    "altered, or signed with another key than the one it "
		    "holds");
	return UPLINK_OK;
}

/* Fills in what the cloud records about an issued certificate. */
static int
pki_issued_fill(X509 *cert, struct pki_issued *issued, char *err,
    size_t errlen)
{
	struct tm	 tm;
	int		 rc;

	rc = pki_cert_serial(cert, issued->serial, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
		return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "cannot read "
		    "the certificate's expiry time");
	issued->not_after = timegm(&tm);
	return UPLINK_OK;
}

int
pki_sign_csr(EVP_PKEY *ca_key, X509 *ca_cert, const char *csr_pem,
    size_t len, const char *subject_cn, int64_t lifetime, const char *crl_url,
    struct buf *cert_pem, struct pki_issued *issued, char *err, size_t errlen)
{
	struct pki_leaf	 l = { .cn = subject_cn, .secs = lifetime,
			     .exts = pki_client_exts, .crl_url = crl_url };
	X509_REQ	*req = NULL;
	X509		*cert = NULL;
	int		 rc;

	rc = pki_check_cn(subject_cn, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_check_secs(lifetime, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_check_crl_url(crl_url, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_ca_check(ca_key, ca_cert, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_csr_parse(csr_pem, len, &req, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_csr_check(req, &l.pub, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_leaf_issue(ca_key, ca_cert, &l, &cert, err, errlen);
	if (rc == UPLINK_OK && issued != NULL)
		rc = pki_issued_fill(cert, issued, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_chain_pem(&cert, 1, cert_pem, err, errlen);
	X509_free(cert);
	X509_REQ_free(req);
	return rc;
}

/* Parses a serial as pki_cert_serial() writes it: 1 to 40 hex digits. */
static ASN1_INTEGER *
pki_serial_parse(const char *hex)
{
	ASN1_INTEGER	*serial;
	BIGNUM		*bn = NULL;
	size_t		 len = strlen(hex);

	if (len == 0 || len > 2 * (PKI_SERIAL_HEX_MAX / 2) ||
	    strspn(hex, "0123456789abcdefABCDEF") != len)
		return NULL;
	if (BN_hex2bn(&bn, hex) != (int)len) {
		BN_free(bn);
		return NULL;
	}
	serial = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return serial;
}

static int
pki_crl_add_revoked(X509_CRL *crl, const struct pki_revoked *r, size_t i,
    char *err, size_t errlen)
{
	X509_REVOKED	*rev = NULL;
	ASN1_INTEGER	*serial;
	ASN1_TIME	*when = NULL;
	int		 ok;

	serial = r->serial != NULL ? pki_serial_parse(r->serial) : NULL;
	if (serial == NULL)
		return pki_fail(UPLINK_EINVAL, err, errlen, "revoked entry "
		    "%zu: the serial \"%.48s\" is not 1 to 40 hex digits",
		    i + 1, r->serial != NULL ? r->serial : "(null)");
	if (r->revoked_at < 0) {
		ASN1_INTEGER_free(serial);
		return pki_fail(UPLINK_EINVAL, err, errlen, "revoked entry "
		    "%zu: the revocation time %lld is before 1970", i + 1,
		    (long long)r->revoked_at);
	}
	when = ASN1_TIME_set(NULL, r->revoked_at);
	if (when != NULL)
		rev = X509_REVOKED_new();
	ok = rev != NULL && X509_REVOKED_set_serialNumber(rev, serial) == 1 &&
	    X509_REVOKED_set_revocationDate(rev, when) == 1 &&
	    X509_CRL_add0_revoked(crl, rev) == 1;
	if (!ok)
		X509_REVOKED_free(rev);
	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(when);
	if (!ok)
		return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "revoked "
		    "entry %zu (serial %s, revoked at %lld) cannot be added",
		    i + 1, r->serial, (long long)r->revoked_at);
	return UPLINK_OK;
}

/* Issuer, dates, version and extensions of a new CRL. */
static int
pki_crl_init(X509_CRL *crl, X509 *ca_cert, uint64_t number, long next_update,
    char *err, size_t errlen)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*aki;
	ASN1_INTEGER	*num;
	ASN1_TIME	*last, *next;
	time_t		 now = time(NULL);
	int		 ok;

	last = X509_time_adj_ex(NULL, 0, 0, &now);
	next = X509_time_adj_ex(NULL, 0, next_update, &now);
	num = ASN1_INTEGER_new();
	X509V3_set_ctx(&ctx, ca_cert, NULL, NULL, crl, 0);
	aki = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier,
	    "keyid:always");
	ok = last != NULL && next != NULL && num != NULL && aki != NULL &&
	    X509_CRL_set_version(crl, X509_CRL_VERSION_2) == 1 &&
	    X509_CRL_set_issuer_name(crl,
	    X509_get_subject_name(ca_cert)) == 1 &&
	    X509_CRL_set1_lastUpdate(crl, last) == 1 &&
	    X509_CRL_set1_nextUpdate(crl, next) == 1 &&
	    ASN1_INTEGER_set_uint64(num, number) == 1 &&
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) == 1 &&
	    X509_CRL_add_ext(crl, aki, -1) == 1;
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	ASN1_INTEGER_free(num);
	X509_EXTENSION_free(aki);
	if (!ok)
		return pki_ossl_fail(UPLINK_ENOMEM, err, errlen, "cannot fill "
		    "in CRL number %llu", (unsigned long long)number);
	return UPLINK_OK;
}

/* Appends the CRL's DER and, when pem is not NULL, its PEM. */
static int
pki_crl_output(X509_CRL *crl, struct buf *der, struct buf *pem, char *err,
    size_t errlen)
{
	unsigned char	*p = NULL;
	BIO		*bio;
	int		 len, rc;

	len = i2d_X509_CRL(crl, &p);
	if (len <= 0)
		return pki_ossl_fail(UPLINK_ENOMEM, err, errlen, "cannot "
		    "encode the CRL as DER");
	rc = buf_append(der, p, (size_t)len);
	OPENSSL_free(p);
	if (rc != UPLINK_OK)
		return pki_fail(rc, err, errlen, "cannot append the CRL (%d "
		    "bytes) to the output: %s", len, uplink_strerror(rc));
	if (pem == NULL)
		return UPLINK_OK;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_X509_CRL(bio, crl) != 1) {
		BIO_free(bio);
		return pki_ossl_fail(UPLINK_ENOMEM, err, errlen, "cannot "
		    "encode the CRL as PEM");
	}
	return pki_bio_drain(bio, pem, "CRL", err, errlen);
}

int
pki_crl_new(EVP_PKEY *ca_key, X509 *ca_cert,
    const struct pki_revoked *revoked, size_t n, uint64_t number,
    long next_update, struct buf *der, struct buf *pem, char *err,
    size_t errlen)
{
	X509_CRL	*crl = NULL;
	size_t		 i;
	int		 rc;

	if (next_update < 1 || next_update > PKI_DAYS_MAX * 86400L)
		return pki_fail(UPLINK_EINVAL, err, errlen, "a CRL next update "
		    "in %ld seconds is out of range: give 1 to %ld",
		    next_update, PKI_DAYS_MAX * 86400L);
	rc = pki_ca_check(ca_key, ca_cert, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	crl = X509_CRL_new();
	if (crl == NULL)
		return pki_ossl_fail(UPLINK_ENOMEM, err, errlen, "cannot "
		    "allocate a CRL");
	rc = pki_crl_init(crl, ca_cert, number, next_update, err, errlen);
	for (i = 0; i < n && rc == UPLINK_OK; i++)
		rc = pki_crl_add_revoked(crl, &revoked[i], i, err, errlen);
	if (rc == UPLINK_OK && (X509_CRL_sort(crl) != 1 ||
	    X509_CRL_sign(crl, ca_key, EVP_sha256()) <= 0))
		rc = pki_ossl_fail(UPLINK_EINVAL, err, errlen, "cannot sign "
		    "the CRL with the %s CA key",
		    EVP_PKEY_get0_type_name(ca_key));
	if (rc == UPLINK_OK)
		rc = pki_crl_output(crl, der, pem, err, errlen);
	X509_CRL_free(crl);
	return rc;
}

/* The SHA-256 of a DER encoding made by i2d_*(), which it frees. */
static int
pki_der_sha256(unsigned char *der, int len, unsigned char md[PKI_PIN_LEN],
    const char *what, char *err, size_t errlen)
{
	int	 ok;

	if (len <= 0)
		return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "cannot "
		    "encode the %s as DER", what);
	ok = EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL);
	OPENSSL_free(der);
	if (ok != 1)
		return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "cannot hash "
		    "the %s with SHA-256", what);
	return UPLINK_OK;
}

int
pki_spki_pin(EVP_PKEY *key, unsigned char pin[PKI_PIN_LEN], char *err,
    size_t errlen)
{
	unsigned char	*der = NULL;
	int		 len;

	len = i2d_PUBKEY(key, &der);
	return pki_der_sha256(der, len, pin, "public key", err, errlen);
}

/*
 * Hashes the SubjectPublicKeyInfo exactly as the certificate encodes it,
 * which is what a peer sees in the handshake.
 */
int
pki_spki_pin_cert(X509 *cert, unsigned char pin[PKI_PIN_LEN], char *err,
    size_t errlen)
{
	unsigned char	*der = NULL;
	int		 len;

	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	return pki_der_sha256(der, len, pin, "certificate's public key", err,
	    errlen);
}

int
pki_cert_fingerprint(X509 *cert, char hex[PKI_FP_HEX_MAX], char *err,
    size_t errlen)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;

	if (X509_digest(cert, EVP_sha256(), md, &mdlen) != 1)
		return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "cannot hash "
		    "the certificate with SHA-256");
	pki_hex(md, mdlen, hex, PKI_FP_HEX_MAX);
	return UPLINK_OK;
}

int
pki_cert_serial(X509 *cert, char hex[PKI_SERIAL_HEX_MAX], char *err,
    size_t errlen)
{
	unsigned char	 bytes[PKI_SERIAL_HEX_MAX / 2];
	BIGNUM		*bn;
	int		 n;

	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	if (bn == NULL)
		return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "cannot read "
		    "the certificate's serial number");
	n = BN_num_bytes(bn);
	if (BN_is_negative(bn) || n > (int)sizeof(bytes)) {
		BN_free(bn);
		return pki_fail(UPLINK_EINVAL, err, errlen, "the certificate's "
		    "serial number is negative or longer than 20 bytes, which "
		    "RFC 5280 forbids");
	}
	BN_bn2bin(bn, bytes);
	BN_free(bn);
	if (n == 0)
		snprintf(hex, PKI_SERIAL_HEX_MAX, "00");
	else
		pki_hex(bytes, (size_t)n, hex, PKI_SERIAL_HEX_MAX);
	return UPLINK_OK;
}

int
pki_cert_load(const char *path, X509 **cert, char *err, size_t errlen)
{
	FILE	*fp;

	*cert = NULL;
	fp = fopen(path, "re");
	if (fp == NULL)
		return pki_fail(UPLINK_EIO, err, errlen, "%s: cannot open the "
		    "certificate: %s", path, strerror(errno));
	*cert = PEM_read_X509(fp, NULL, pki_no_passphrase, NULL);
	fclose(fp);
	if (*cert == NULL)
		return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "%s: no PEM "
		    "certificate (\"-----BEGIN CERTIFICATE-----\") found",
		    path);
	return UPLINK_OK;
}

int
pki_cert_save(X509 *cert, const char *path, char *err, size_t errlen)
{
	BIO	*bio;

	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_X509(bio, cert) != 1) {
		BIO_free(bio);
		return pki_ossl_fail(UPLINK_ENOMEM, err, errlen, "%s: cannot "
		    "encode the certificate as PEM", path);
	}
	return pki_file_write(path, 0644, bio, "certificate", err, errlen);
}

int
pki_cert_parse(const char *data, size_t len, X509 **cert, char *err,
    size_t errlen)
{
	const unsigned char	*p = (const unsigned char *)data;
	BIO			*bio;

	*cert = NULL;
	if (len == 0 || len > PKI_CERT_MAX)
		return pki_fail(len == 0 ? UPLINK_EINVAL : UPLINK_ETOOBIG, err,
		    errlen, "a certificate of %zu bytes: expected 1 to %d",
		    len, PKI_CERT_MAX);
	/* DER starts with a SEQUENCE tag, which no PEM text does. */
	if (p[0] == 0x30) {
		*cert = d2i_X509(NULL, &p, (long)len);
		if (*cert == NULL)
			return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "the "
			    "DER certificate (%zu bytes) does not parse", len);
		return UPLINK_OK;
	}
	bio = BIO_new_mem_buf(data, (int)len);
	if (bio == NULL)
		return pki_ossl_fail(UPLINK_ENOMEM, err, errlen, "cannot read "
		    "the certificate");
	*cert = PEM_read_bio_X509(bio, NULL, pki_no_passphrase, NULL);
	BIO_free(bio);
	if (*cert == NULL)
		return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "no valid PEM "
		    "certificate (\"-----BEGIN CERTIFICATE-----\") in %zu "
		    "bytes", len);
	return UPLINK_OK;
}

int
pki_chain_pem(X509 *const *certs, size_t n, struct buf *out, char *err,
    size_t errlen)
{
	BIO	*bio;
	size_t	 i;

	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return pki_ossl_fail(UPLINK_ENOMEM, err, errlen, "cannot "
		    "allocate a memory BIO");
	for (i = 0; i < n; i++) {
		if (PEM_write_bio_X509(bio, certs[i]) != 1) {
			BIO_free(bio);
			return pki_ossl_fail(UPLINK_ENOMEM, err, errlen,
			    "cannot encode certificate %zu of %zu as PEM",
			    i + 1, n);
		}
	}
	return pki_bio_drain(bio, out, "certificates", err, errlen);
}

time_t
pki_renew_at(time_t not_before, time_t not_after)
{
	int64_t	 life = (int64_t)not_after - (int64_t)not_before;
	int64_t	 margin;

	if (life <= 0)
		return not_before;
	margin = life / 3;
	if (margin < PKI_RENEW_MARGIN_MIN)
		margin = PKI_RENEW_MARGIN_MIN;
	return (time_t)((int64_t)not_after - margin);
}

static int
pki_asn1_time(const ASN1_TIME *t, time_t *out)
{
	struct tm	 tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return 0;
}

int
pki_cert_validity(const X509 *cert, time_t *not_before, time_t *not_after,
    char *err, size_t errlen)
{
	if (pki_asn1_time(X509_get0_notBefore(cert), not_before) == -1 ||
	    pki_asn1_time(X509_get0_notAfter(cert), not_after) == -1)
		return pki_ossl_fail(UPLINK_EINVAL, err, errlen, "the "
		    "certificate's validity dates cannot be read");
	return UPLINK_OK;
}

/* One subjectAltName entry as text; false for a kind we do not keep. */
static bool
pki_gen_name(const GENERAL_NAME *g, char *dst, size_t dstlen)
{
	const unsigned char	*p;
	int			 len;

	if (g->type == GEN_DNS) {
		p = ASN1_STRING_get0_data(g->d.dNSName);
		len = ASN1_STRING_length(g->d.dNSName);
		if (len <= 0 || (size_t)len >= dstlen ||
		    memchr(p, '\0', (size_t)len) != NULL)
			return false;
		memcpy(dst, p, (size_t)len);
		dst[len] = '\0';
		return true;
	}
	if (g->type != GEN_IPADD)
		return false;
	p = ASN1_STRING_get0_data(g->d.iPAddress);
	len = ASN1_STRING_length(g->d.iPAddress);
	if (len == 4)
		return inet_ntop(AF_INET, p, dst, (socklen_t)dstlen) != NULL;
	if (len == 16)
		return inet_ntop(AF_INET6, p, dst, (socklen_t)dstlen) != NULL;
	return false;
}

size_t
pki_cert_names(X509 *cert, char (*names)[PKI_NAME_MAX], size_t max)
{
	GENERAL_NAMES	*gens;
	size_t		 n = 0;
	int		 i;

	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (gens == NULL) {
		ERR_clear_error();
		return 0;
	}
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		if (n < max && pki_gen_name(sk_GENERAL_NAME_value(gens, i),
		    names[n], PKI_NAME_MAX))
			n++;
	}
	GENERAL_NAMES_free(gens);
	return n;
}
