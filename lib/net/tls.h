#ifndef UPLINK_TLS_H
#define UPLINK_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

/*
 * TLS client side, shared by the check utility and the connector's tunnels
 * so that both verify the cloud the same way. Verification collects every
 * problem OpenSSL reports during the handshake (not only the last), so the
 * check can complete a handshake with a bad certificate and say exactly
 * what is wrong with it, while the service (strict mode) refuses at once.
 */

/* Problems seen while verifying a chain. */
#define TLSV_UNTRUSTED		0x01	/* no path to a trusted CA */
#define TLSV_SELF_SIGNED_LEAF	0x02	/* the server's own certificate is self-signed */
#define TLSV_EXPIRED		0x04
#define TLSV_NOT_YET_VALID	0x08
#define TLSV_HOSTNAME		0x10	/* certificate not for the host name */
#define TLSV_OTHER		0x20	/* signature, purpose, format... */

struct tls_verify {
	bool		 strict;	/* fail the handshake on any problem */
	unsigned	 flags;
	int		 first_error;	/* X509_V_ERR_*, 0 if none */
	int		 first_depth;
};

/*
 * Creates a client context: TLS 1.2 minimum, peer verification on, trust
 * anchors from ca_file (PEM, one or more CAs) or, when NULL, the system
 * store. Returns NULL with a message in err.
 */
SSL_CTX *tls_client_ctx_new(const char *ca_file, char *err, size_t errlen);

/*
 * The TLS 1.2 cipher suites uplink's own endpoints accept: ECDHE key
 * exchange with an AEAD cipher (AES-GCM, ChaCha20-Poly1305), for ECDSA and
 * RSA certificates. No CBC suite (LUCKY13 and its kin), no static RSA key
 * exchange, no DHE. TLS 1.3's suites are all AEAD and stay OpenSSL's.
 */
#define TLS12_AEAD_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/*
 * Restricts ctx's TLS 1.2 suites to TLS12_AEAD_CIPHERS. For the cloud's
 * listener and for every connection a connector makes to its cloud
 * (tunnels, enrollment, renewal): a downgrade to TLS 1.2 cannot pick a CBC
 * suite either. The check's contexts keep OpenSSL's defaults, since the
 * servers and proxies it tests are not uplink's. -1 with why in err.
 */
int tls_ctx_aead_only(SSL_CTX *ctx, char *err, size_t errlen);

/* tls_client_ctx_new() with tls_ctx_aead_only(): a context for the cloud. */
SSL_CTX *tls_cloud_ctx_new(const char *ca_file, char *err, size_t errlen);

/*
 * Creates a connection object for host: SNI (for names), host name or IP
 * address verification, ALPN (wire format, may be NULL) and the verify
 * record v, which must outlive the connection.
 */
SSL *tls_client_new(SSL_CTX *ctx, const char *host, const unsigned char *alpn,
    size_t alpnlen, struct tls_verify *v);

/*
 * The check's verdict on a completed handshake: NULL when the certificate is
 * good, else "tls-interception", "cert-untrusted", "cert-hostname" or
 * "cert-expired", with a sentence in detail. An unknown issuer on a chain
 * that is not self-signed is what TLS inspection looks like: the verdict
 * names the issuer and is tls-interception.
 */
const char *tls_verdict(const struct tls_verify *v, X509 *leaf, const char *host,
    char *detail, size_t detaillen);

/* Formats an X.509 name on one line ("CN=x,O=y"). */
void tls_name(const X509_NAME *name, char *dst, size_t dstlen);

/* The certificate's CN, or the whole subject when it has none. */
void tls_common_name(const X509_NAME *name, char *dst, size_t dstlen);

/* Whole days until the certificate expires (negative when expired). */
int tls_days_left(const X509 *cert);

/* Describes OpenSSL's queued errors in one line and clears them. */
void tls_errors(char *dst, size_t dstlen);

#endif
