#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "hostport.h"
#include "tls.h"
#include "unittest.h"

static int tls_verify_index = -1;

/*
 * Records each problem. In strict mode the first one ends the handshake;
 * otherwise the handshake goes on so the check can name every problem.
 */
static int
tls_verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL			*ssl;
	struct tls_verify	*v;
	int			 err, depth;
	X509			*cert;

	if (ok)
		return 1;
	ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	v = ssl != NULL ? SSL_get_ex_data(ssl, tls_verify_index) : NULL;
	if (v == NULL)
		return 0;
	err = X509_STORE_CTX_get_error(xs);
	depth = X509_STORE_CTX_get_error_depth(xs);
	cert = X509_STORE_CTX_get_current_cert(xs);
	if (v->first_error == 0) {
		v->first_error = err;
		v->first_depth = depth;
	}
	switch (err) {
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		v->flags |= TLSV_UNTRUSTED | TLSV_SELF_SIGNED_LEAF;
		break;
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
		v->flags |= TLSV_UNTRUSTED;
		if (depth == 0 && cert != NULL &&
		    X509_check_issued(cert, cert) == X509_V_OK)
			v->flags |= TLSV_SELF_SIGNED_LEAF;
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		v->flags |= TLSV_EXPIRED;
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		v->flags |= TLSV_NOT_YET_VALID;
		break;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		v->flags |= TLSV_HOSTNAME;
		break;
	default:
		v->flags |= TLSV_OTHER;
		break;
	}
	return v->strict ? 0 : 1;
}

void
tls_errors(char *dst, size_t dstlen)
{
	unsigned long	 e;
	size_t		 n = 0;
	char		 one[256];

	dst[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, one, sizeof(one));
		if (n < dstlen)
			n += (size_t)snprintf(dst + n, dstlen - n, "%s%s",
			    n ? "; " : "", one);
	}
	if (dst[0] == '\0')
		snprintf(dst, dstlen, "no details from OpenSSL");
}

SSL_CTX *
tls_client_ctx_new(const char *ca_file, char *err, size_t errlen)
{
	SSL_CTX		*ctx;
	char		 why[512];

	if (tls_verify_index == -1)
		tls_verify_index = SSL_get_ex_new_index(0, NULL, NULL, NULL,
		    NULL);
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		tls_errors(why, sizeof(why));
		snprintf(err, errlen, "cannot create a TLS context: %s", why);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tls_verify_cb);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			tls_errors(why, sizeof(why));
			snprintf(err, errlen, "%s: cannot load CA certificates "
			    "(PEM expected): %s", ca_file, why);
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		tls_errors(why, sizeof(why));
		snprintf(err, errlen, "cannot load the system's CA store: %s "
		    "(install ca-certificates or give --ca FILE)", why);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int
tls_ctx_aead_only(SSL_CTX *ctx, char *err, size_t errlen)
{
	char	 why[512];

	if (SSL_CTX_set_cipher_list(ctx, TLS12_AEAD_CIPHERS) != 1) {
		tls_errors(why, sizeof(why));
		snprintf(err, errlen, "cannot restrict TLS 1.2 to AEAD cipher "
		    "suites: %s (is OpenSSL built without AES-GCM?)", why);
		return -1;
	}
	return 0;
}

SSL_CTX *
tls_cloud_ctx_new(const char *ca_file, char *err, size_t errlen)
{
	SSL_CTX	*ctx;

	ctx = tls_client_ctx_new(ca_file, err, errlen);
	if (ctx != NULL && tls_ctx_aead_only(ctx, err, errlen) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

SSL *
tls_client_new(SSL_CTX *ctx, const char *host, const unsigned char *alpn,
    size_t alpnlen, struct tls_verify *v)
{
	SSL		*ssl;
	X509_VERIFY_PARAM *param;
	enum host_kind	 kind = host_classify(host);

	ssl = SSL_new(ctx);
	if (ssl == NULL)
		return NULL;
	SSL_set_ex_data(ssl, tls_verify_index, v);
	param = SSL_get0_param(ssl);
	X509_VERIFY_PARAM_set_hostflags(param,
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (kind == HOST_NAME) {
		SSL_set_tlsext_host_name(ssl, host);
		X509_VERIFY_PARAM_set1_host(param, host, 0);
	} else
		X509_VERIFY_PARAM_set1_ip_asc(param, host);
	if (alpn != NULL)
		SSL_set_alpn_protos(ssl, alpn, (unsigned)alpnlen);
	return ssl;
}

void
tls_name(const X509_NAME *name, char *dst, size_t dstlen)
{
	BIO	*b = BIO_new(BIO_s_mem());
	int	 n;

	dst[0] = '\0';
	if (b == NULL)
		return;
	X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	n = BIO_read(b, dst, (int)dstlen - 1);
	dst[n > 0 ? n : 0] = '\0';
	BIO_free(b);
}

void
tls_common_name(const X509_NAME *name, char *dst, size_t dstlen)
{
	int	 i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	const ASN1_STRING *s;

	if (i < 0) {
		tls_name(name, dst, dstlen);
		return;
	}
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	snprintf(dst, dstlen, "%.*s", ASN1_STRING_length(s),
	    (const char *)ASN1_STRING_get0_data(s));
}

int
tls_days_left(const X509 *cert)
{
	int	 days = 0, secs = 0;

	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)) != 1)
		return 0;
	return days;
}

const char *
tls_verdict(const struct tls_verify *v, X509 *leaf, const char *host,
    char *detail, size_t detaillen)
{
	char	 issuer[256] = "?", subject[256] = "?";

	if (leaf != NULL) {
		tls_common_name(X509_get_issuer_name(leaf), issuer,
		    sizeof(issuer));
		tls_common_name(X509_get_subject_name(leaf), subject,
		    sizeof(subject));
	}
	if ((v->flags & TLSV_UNTRUSTED) && (v->flags & TLSV_SELF_SIGNED_LEAF)) {
		snprintf(detail, detaillen, "the server presented a self-signed "
		    "certificate (\"%s\") that is not trusted here", subject);
		return "cert-untrusted";
	}
	if (v->flags & TLSV_UNTRUSTED) {
		snprintf(detail, detaillen, "the certificate for %s was issued "
		    "by \"%s\", which is not the expected issuer: a proxy or "
		    "firewall is inspecting TLS", host, issuer);
		return "tls-interception";
	}
	if (v->flags & TLSV_HOSTNAME) {
		snprintf(detail, detaillen, "the certificate is for \"%s\", not "
		    "for %s", subject, host);
		return "cert-hostname";
	}
	if (v->flags & (TLSV_EXPIRED | TLSV_NOT_YET_VALID)) {
		if ((v->flags & TLSV_EXPIRED) && leaf != NULL)
			snprintf(detail, detaillen, "the certificate of %s "
			    "expired %d days ago", host, -tls_days_left(leaf));
		else
			snprintf(detail, detaillen, "the certificate of %s is "
			    "not valid yet (check this machine's clock)", host);
		return "cert-expired";
	}
	if (v->flags & TLSV_OTHER) {
		snprintf(detail, detaillen, "certificate verification failed: "
		    "%s (depth %d)", X509_verify_cert_error_string(
		    v->first_error), v->first_depth);
		return "cert-untrusted";
	}
	detail[0] = '\0';
	return NULL;
}
