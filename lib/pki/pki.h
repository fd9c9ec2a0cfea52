#ifndef UPLINK_PKI_H
#define UPLINK_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "buf.h"

/*
 * The certificate authority of uplink-cloud and the connector's side of
 * enrollment: EC P-256 keys, a self-signed CA, server certificates for the
 * cloud's listeners, client certificates signed from a connector's CSR, CRLs,
 * and the SPKI pins enrollment tokens carry. Every certificate gets a random
 * 128-bit serial and a SHA-256 signature. No I/O besides the key and
 * certificate files named by the caller.
 *
 * Every function that can fail returns an uplink_err and fills err with what
 * failed and, where OpenSSL was involved, its reason.
 */

#define PKI_CSR_MAX		(16 * 1024)	/* cap on a CSR from a peer */
#define PKI_DAYS_MAX		36500		/* validity cap, in days */
#define PKI_CN_MAX		64		/* X.509's ub-common-name */
#define PKI_SERIAL_HEX_MAX	41		/* 20 bytes in hex, and a NUL */
#define PKI_PIN_LEN		32		/* SHA-256 */
#define PKI_PIN_HEX_MAX		(2 * PKI_PIN_LEN + 1)
#define PKI_PIN_B64_MAX		44		/* 43 base64url digits, a NUL */
#define PKI_FP_HEX_MAX		(2 * PKI_PIN_LEN + 1)

/*
 * Creates a new EC P-256 key pair in *key, which the caller frees with
 * EVP_PKEY_free().
 */
int pki_key_new(EVP_PKEY **key, char *err, size_t errlen);

/* Reads a PEM private key (any type OpenSSL knows) from path into *key. */
int pki_key_load(const char *path, EVP_PKEY **key, char *err, size_t errlen);

/*
 * Writes key as an unencrypted PKCS#8 PEM file at path, mode 0600 whatever
 * the umask. The key goes to a new temporary file in the same directory that
 * is fsynced and renamed over path, so readers see the old key or the new
 * one, never half of one. Refuses a directory that other users can write to
 * (unless it has the sticky bit, like /tmp), since they could swap the key.
 */
int pki_key_save(EVP_PKEY *key, const char *path, char *err, size_t errlen);

/*
 * Creates a CA: a new key in *key and a self-signed certificate in *cert
 * for CN=common_name valid for days: basicConstraints critical CA:TRUE
 * pathlen 0, keyUsage critical keyCertSign and cRLSign, and a subject key
 * identifier.
 */
int pki_ca_new(const char *common_name, int days, EVP_PKEY **key, X509 **cert,
    char *err, size_t errlen);

/*
 * Issues a TLS server certificate for the cloud: a new key in *key and a
 * certificate in *cert signed by the CA. names (nnames of them, at least
 * one) are host names (a leading "*." is allowed) or IP address literals;
 * they become the subjectAltName and the first one the CN. Extensions:
 * CA:FALSE, keyUsage digitalSignature, extendedKeyUsage serverAuth, key
 * identifiers and, when crl_url (http://) is not NULL, a CRL distribution
 * point.
 */
int pki_issue_server(EVP_PKEY *ca_key, X509 *ca_cert,
    const char *const *names, size_t nnames, int days, const char *crl_url,
    EVP_PKEY **key, X509 **cert, char *err, size_t errlen);

/*
 * An uplink-cloud instance's certificate for its peer links (cloud/peer.c,
 * docs/cluster.md): a new key in *key and a certificate in *cert signed by
 * the CA, valid secs seconds, the subjectAltName URI
 * "urn:uplink:instance:ID", CN "instance:ID" (for people; cut to 64
 * characters) and extendedKeyUsage serverAuth and clientAuth. ID is 1 to
 * PKI_INSTANCE_ID_MAX of a-z, 0-9 and '-'. pki_sign_csr() never writes a
 * subjectAltName, so a connector certificate can never be taken for an
 * instance's, and cloud_cert_owner() refuses an instance certificate as a
 * connector's.
 */
#define PKI_INSTANCE_CN		"instance:"
#define PKI_INSTANCE_URI	"urn:uplink:instance:"
#define PKI_INSTANCE_ID_MAX	63
int pki_issue_instance(EVP_PKEY *ca_key, X509 *ca_cert, const char *id,
    int64_t secs, EVP_PKEY **key, X509 **cert, char *err, size_t errlen);

/*
 * Whether cert is an instance certificate: exactly one URI name
 * PKI_INSTANCE_URI "ID" (the CN is not looked at); that ID into id (idlen
 * bytes, may be NULL). Does not verify the signature: the TLS handshake
 * did.
 */
bool pki_cert_instance(X509 *cert, char *id, size_t idlen);

/*
 * The connector's enrollment request: appends to pem a PEM CSR for key with
 * subject CN=common_name, signed with SHA-256. The CA decides the subject
 * anyway; the CN only helps people reading logs.
 */
int pki_csr_new(EVP_PKEY *key, const char *common_name, struct buf *pem,
    char *err, size_t errlen);

/* What pki_sign_csr() issued, for the cloud's records. */
struct pki_issued {
	char		 serial[PKI_SERIAL_HEX_MAX];	/* lowercase hex */
	time_t		 not_after;
};

/*
 * Signs a connector's CSR (PEM, len bytes, at most PKI_CSR_MAX) and appends
 * the certificate's PEM to cert_pem. The CSR must carry a valid
 * self-signature and an EC P-256 or RSA 2048 to 8192 bit key. Nothing else
 * is taken from it: the subject is CN=subject_cn (the connector id) and the
 * extensions are fixed: CA:FALSE, keyUsage digitalSignature,
 * extendedKeyUsage clientAuth, key identifiers and, when crl_url is not
 * NULL, a CRL distribution point. issued (may be NULL) gets the serial and
 * the expiry time. A CSR above the cap is UPLINK_ETOOBIG; one that does not
 * parse, verify or pass the key rules is UPLINK_EINVAL.
 */
int pki_sign_csr(EVP_PKEY *ca_key, X509 *ca_cert, const char *csr_pem,
    size_t len, const char *subject_cn, int64_t lifetime, const char *crl_url,
    struct buf *cert_pem, struct pki_issued *issued, char *err, size_t errlen);

/* A revoked certificate for pki_crl_new(). */
struct pki_revoked {
	const char	*serial;	/* hex, as pki_sign_csr() gave it */
	time_t		 revoked_at;
};

/*
 * Creates a CRL (v2) signed by the CA listing the n revoked certificates,
 * with crlNumber number (the caller keeps it increasing), the authority key
 * identifier, lastUpdate now and nextUpdate next_update seconds later.
 * Appends its DER to der and, when pem is not NULL, its PEM to pem.
 */
int pki_crl_new(EVP_PKEY *ca_key, X509 *ca_cert,
    const struct pki_revoked *revoked, size_t n, uint64_t number,
    long next_update, struct buf *der, struct buf *pem, char *err,
    size_t errlen);

/*
 * The pin of a public key: the SHA-256 of its DER SubjectPublicKeyInfo,
 * the same for a key and for any certificate of that key.
 */
int pki_spki_pin(EVP_PKEY *key, unsigned char pin[PKI_PIN_LEN], char *err,
    size_t errlen);

/* The pin of the certificate's public key, as pki_spki_pin() computes it. */
int pki_spki_pin_cert(X509 *cert, unsigned char pin[PKI_PIN_LEN], char *err,
    size_t errlen);

/*
 * Formats len bytes as lowercase hex into dst (2 * len + 1 bytes). When dst
 * is too small the text is cut short, still NUL-terminated.
 */
void pki_hex(const unsigned char *data, size_t len, char *dst, size_t dstlen);

/*
 * Formats len bytes as unpadded base64url (RFC 4648 section 5) into dst
 * (4 * len / 3 + 2 bytes is enough; PKI_PIN_B64_MAX for a pin). Cut short
 * like pki_hex() when dst is too small.
 */
void pki_base64url(const unsigned char *data, size_t len, char *dst,
    size_t dstlen);

/* The SHA-256 of the certificate's DER encoding, in lowercase hex. */
int pki_cert_fingerprint(X509 *cert, char hex[PKI_FP_HEX_MAX], char *err,
    size_t errlen);

/* The certificate's serial number in lowercase hex, as pki_issued has it. */
int pki_cert_serial(X509 *cert, char hex[PKI_SERIAL_HEX_MAX], char *err,
    size_t errlen);

/* Reads the first certificate of a PEM file into *cert. */
int pki_cert_load(const char *path, X509 **cert, char *err, size_t errlen);

/*
 * Writes cert as a PEM file at path, mode 0644, through a temporary file
 * and a rename like pki_key_save(), with the same directory check.
 */
int pki_cert_save(X509 *cert, const char *path, char *err, size_t errlen);

/* Parses one certificate, PEM or DER, from memory into *cert. */
int pki_cert_parse(const char *data, size_t len, X509 **cert, char *err,
    size_t errlen);

/*
 * Appends the PEM of n certificates to out, in the order given (leaf
 * first for a chain a server presents).
 */
int pki_chain_pem(X509 *const *certs, size_t n, struct buf *out, char *err,
    size_t errlen);

/*
 * When a certificate valid from not_before to not_after should be replaced:
 * once less than a third of its life is left or less than
 * PKI_RENEW_MARGIN_MIN seconds, whichever comes first. A certificate whose
 * notAfter is not after its notBefore is due at once (not_before). The
 * result may lie before not_before for a life shorter than three times the
 * margin: such a certificate is due from the start.
 */
#define PKI_RENEW_MARGIN_MIN	(30 * 86400L)
time_t pki_renew_at(time_t not_before, time_t not_after);

/* The certificate's notBefore and notAfter as time_t. */
int pki_cert_validity(const X509 *cert, time_t *not_before,
    time_t *not_after, char *err, size_t errlen);

/*
 * The DNS names and IP addresses of the certificate's subjectAltName, in
 * their order, as pki_issue_server() takes them ("cloud.example.com",
 * "192.0.2.7", "2001:db8::1"). Writes at most max of them into names and
 * returns how many it wrote (other kinds of names are skipped, as are
 * names too long for PKI_NAME_MAX or holding a NUL).
 */
#define PKI_NAME_MAX		256
size_t pki_cert_names(X509 *cert, char (*names)[PKI_NAME_MAX], size_t max);

#endif
