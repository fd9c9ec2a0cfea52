#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "crl.h"
#include "tls.h"

int
crl_dp_urls(X509 *cert, char urls[][CRL_URL_MAX], int max)
{
	STACK_OF(DIST_POINT)	*dps;
	DIST_POINT		*dp;
	GENERAL_NAME		*gn;
	const ASN1_IA5STRING	*uri;
	int			 i, j, n = 0, len;

	dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
	if (dps == NULL)
		return 0;
	for (i = 0; i < sk_DIST_POINT_num(dps) && n < max; i++) {
		dp = sk_DIST_POINT_value(dps, i);
		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue;
		for (j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname)
		    && n < max; j++) {
			gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j);
			if (gn->type != GEN_URI)
				continue;
			uri = gn->d.uniformResourceIdentifier;
			len = ASN1_STRING_length(uri);
			if (len < 8 || len >= CRL_URL_MAX || strncasecmp(
			    (const char *)ASN1_STRING_get0_data(uri), "http://",
			    7) != 0)
				continue;
			memcpy(urls[n], ASN1_STRING_get0_data(uri), (size_t)len);
			urls[n++][len] = '\0';
		}
	}
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	return n;
}

X509_CRL *
crl_parse(const unsigned char *data, size_t len)
{
	const unsigned char	*p = data;
	X509_CRL		*crl;
	BIO			*b;

	if (len > CRL_MAX_BYTES)
		return NULL;
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	if (crl != NULL)
		return crl;
	b = BIO_new_mem_buf(data, (int)len);
	if (b == NULL)
		return NULL;
	crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
	BIO_free(b);
	ERR_clear_error();
	return crl;
}

static void
crl_time(const ASN1_TIME *t, char *dst, size_t len)
{
	struct tm	 tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		snprintf(dst, len, "an unknown date");
		return;
	}
	strftime(dst, len, "%Y-%m-%d", &tm);
}

enum crl_status
crl_check(X509_CRL *crl, X509 *issuer, X509 *cert, char *detail,
    size_t detaillen)
{
	EVP_PKEY	*key = X509_get0_pubkey(issuer);
	X509_REVOKED	*rev = NULL;
	const ASN1_TIME	*next = X509_CRL_get0_nextUpdate(crl);
	char		 when[32], name[256];
	int		 reason;
	ASN1_ENUMERATED	*r;

	if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_get_subject_name(issuer)) != 0) {
		tls_common_name(X509_CRL_get_issuer(crl), name, sizeof(name));
		snprintf(detail, detaillen, "the CRL was issued by \"%s\", not "
		    "by the certificate's issuer", name);
		return CRL_BAD;
	}
	if (key == NULL || X509_CRL_verify(crl, key) != 1) {
		ERR_clear_error();
		snprintf(detail, detaillen, "the CRL's signature does not verify "
		    "with the issuer's key");
		return CRL_BAD;
	}
	if (next != NULL && X509_cmp_current_time(next) < 0) {
		crl_time(next, when, sizeof(when));
		snprintf(detail, detaillen, "the CRL is stale: its next update "
		    "was due on %s", when);
		return CRL_BAD;
	}
	if (X509_CRL_get0_by_cert(crl, &rev, cert) == 1 && rev != NULL) {
		crl_time(X509_REVOKED_get0_revocationDate(rev), when,
		    sizeof(when));
		r = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
		reason = r != NULL ? (int)ASN1_ENUMERATED_get(r) : -1;
		ASN1_ENUMERATED_free(r);
		snprintf(detail, detaillen, "revoked on %s%s%s%s", when,
		    reason >= 0 ? " (reason " : "", reason >= 0 ?
		    (reason == 1 ? "keyCompromise" : reason == 4 ? "superseded" :
		    reason == 5 ? "cessationOfOperation" : "code") : "",
		    reason >= 0 ? ")" : "");
		return CRL_REVOKED;
	}
	snprintf(detail, detaillen, "not revoked");
	return CRL_GOOD;
}
