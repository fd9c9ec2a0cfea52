#ifndef UPLINK_CRL_H
#define UPLINK_CRL_H

#include <stddef.h>

#include <openssl/x509.h>

/*
 * Certificate revocation lists: where a certificate says its CRL is, and
 * whether a downloaded CRL, verified against the issuer, lists it. Pure
 * functions; the download is httpget's job.
 */

#define CRL_URL_MAX	512
#define CRL_MAX_BYTES	(16 * 1024 * 1024)	/* cap on a downloaded CRL */

/*
 * Copies up to max http:// URLs from the certificate's CRL distribution
 * points into urls. Returns how many.
 */
int crl_dp_urls(X509 *cert, char urls[][CRL_URL_MAX], int max);

/* Parses a CRL in DER or PEM form. Returns NULL when it is neither. */
X509_CRL *crl_parse(const unsigned char *data, size_t len);

enum crl_status {
	CRL_GOOD,		/* verified, current, certificate not listed */
	CRL_REVOKED,		/* the certificate is listed */
	CRL_BAD,		/* wrong issuer, bad signature, or stale */
};

/*
 * Checks cert against crl, which must be signed by issuer and current.
 * detail says what was found ("revoked on 2026-01-02 (keyCompromise)").
 */
enum crl_status crl_check(X509_CRL *crl, X509 *issuer, X509 *cert,
    char *detail, size_t detaillen);

#endif
