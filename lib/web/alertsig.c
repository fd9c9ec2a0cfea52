#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "alertsig.h"

/*
 * Webhook signatures and the retry schedule of alerts. The signed text is
 * "T.BODY" rather than BODY alone so that a captured request cannot be
 * replayed later with a new time: the receiver checks both.
 */

int
alertsig_header(const char *key, size_t keylen, int64_t t, const void *body,
    size_t bodylen, char *out, size_t outlen)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	char		 ts[24], hex[2 * EVP_MAX_MD_SIZE + 1];
	char		 digest[] = "SHA256";
	EVP_MAC		*m;
	EVP_MAC_CTX	*ctx = NULL;
	OSSL_PARAM	 params[2];
	size_t		 len = 0, i;
	int		 rc = -1, n;

	if (keylen == 0 || out == NULL || outlen < ALERTSIG_HEADER_SIZE)
		return -1;
	n = snprintf(ts, sizeof(ts), "%lld.", (long long)t);
	m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (m == NULL)
		return -1;
	ctx = EVP_MAC_CTX_new(m);
	params[0] = OSSL_PARAM_construct_utf8_string("digest", digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (ctx == NULL || EVP_MAC_init(ctx, (const unsigned char *)key,
	    keylen, params) != 1 || EVP_MAC_update(ctx,
	    (const unsigned char *)ts, (size_t)n) != 1 || EVP_MAC_update(ctx,
	    body, bodylen) != 1 || EVP_MAC_final(ctx, mac, &len,
	    sizeof(mac)) != 1 || len != 32)
		goto out;
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	ts[n - 1] = '\0';	/* drop the '.' */
	if ((size_t)snprintf(out, outlen, "t=%s,v1=%s", ts, hex) < outlen)
		rc = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	return rc;
}

int
alert_backoff(int attempt)
{
	int	 wait = ALERT_RETRY_FIRST, i;

	if (attempt < 1 || attempt >= ALERT_ATTEMPTS_MAX)
		return -1;
	for (i = 1; i < attempt && wait < ALERT_RETRY_MAX; i++)
		wait *= 2;
	return wait < ALERT_RETRY_MAX ? wait : ALERT_RETRY_MAX;
}
