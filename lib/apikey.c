#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "apikey.h"
#include "error.h"

#define APIKEY_B64	sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define APIKEY_PREFIX_LEN	(sizeof(APIKEY_PREFIX) - 1)
#define APIKEY_SECRET_AT	(APIKEY_PREFIX_LEN + APIKEY_ID_LEN + 1)
#define APIKEY_REFUSED		"unknown or revoked API key"

_Static_assert(APIKEY_TEXT_LEN == APIKEY_SECRET_AT + APIKEY_SECRET_B64,
    "layout");
_Static_assert(sodium_base64_ENCODED_LEN(APIKEY_SECRET_LEN, APIKEY_B64) ==
    APIKEY_SECRET_B64 + 1, "43 base64url characters hold 32 bytes");

static int
apikey_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
apikey_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/*
 * The id is random, not derived from the secret: it is shown in listings
 * and logs, and nothing about the secret may be learnt from it.
 */
void
apikey_new(char text[APIKEY_TEXT_SIZE], char id[APIKEY_ID_SIZE],
    unsigned char hash[APIKEY_HASH_LEN])
{
	unsigned char	 r[APIKEY_ID_LEN / 2], secret[APIKEY_SECRET_LEN];
	char		 b64[APIKEY_SECRET_B64 + 1];

	/* randombytes_buf() needs no sodium_init() and cannot fail. */
	randombytes_buf(r, sizeof(r));
	randombytes_buf(secret, sizeof(secret));
	sodium_bin2hex(id, APIKEY_ID_SIZE, r, sizeof(r));
	sodium_bin2base64(b64, sizeof(b64), secret, sizeof(secret),
	    APIKEY_B64);
	snprintf(text, APIKEY_TEXT_SIZE, "%s%s_%s", APIKEY_PREFIX, id, b64);
	crypto_hash_sha256(hash, secret, sizeof(secret));
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(b64, sizeof(b64));
}

static bool
apikey_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Checks the shape of a key; says what is wrong without quoting it. */
static int
apikey_shape(const char *text, size_t len, char *err, size_t errlen)
{
	size_t	 i;

	if (len < APIKEY_PREFIX_LEN || memcmp(text, APIKEY_PREFIX,
	    APIKEY_PREFIX_LEN) != 0)
		return apikey_fail(UPLINK_EINVAL, err, errlen, "not an uplink "
		    "API key (it should start with \"%s\")", APIKEY_PREFIX);
	if (len != APIKEY_TEXT_LEN)
		return apikey_fail(UPLINK_EINVAL, err, errlen, "malformed API "
		    "key (%zu characters; a key has %d): copy the whole key",
		    len, APIKEY_TEXT_LEN);
	for (i = APIKEY_PREFIX_LEN; i < APIKEY_SECRET_AT - 1; i++)
		if (strchr("0123456789abcdef", text[i]) == NULL ||
		    text[i] == '\0')
			return apikey_fail(UPLINK_EINVAL, err, errlen,
			    "malformed API key (character %zu is not a "
			    "lowercase hex digit)", i + 1);
	if (text[APIKEY_SECRET_AT - 1] != '_')
		return apikey_fail(UPLINK_EINVAL, err, errlen, "malformed API "
		    "key (no '_' after the id at character %d)",
		    (int)APIKEY_SECRET_AT);
	for (i = APIKEY_SECRET_AT; i < len; i++)
		if (!apikey_b64_char(text[i]))
			return apikey_fail(UPLINK_EINVAL, err, errlen,
			    "malformed API key (character %zu is not "
			    "base64url)", i + 1);
	return UPLINK_OK;
}

int
apikey_parse(const char *text, char id[APIKEY_ID_SIZE],
    unsigned char hash[APIKEY_HASH_LEN], char *err, size_t errlen)
{
	unsigned char	 secret[APIKEY_SECRET_LEN];
	size_t		 len, n = 0;
	int		 rc;

	memset(id, 0, APIKEY_ID_SIZE);
	memset(hash, 0, APIKEY_HASH_LEN);
	if (text == NULL)
		text = "";
	len = strnlen(text, APIKEY_TEXT_LEN + 1);
	rc = apikey_shape(text, len, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	/* libsodium refuses non-zero unused bits: one text per secret. */
	if (sodium_base642bin(secret, sizeof(secret), text + APIKEY_SECRET_AT,
	    APIKEY_SECRET_B64, NULL, &n, NULL, APIKEY_B64) != 0 ||
	    n != sizeof(secret)) {
		sodium_memzero(secret, sizeof(secret));
		return apikey_fail(UPLINK_EINVAL, err, errlen, "malformed API "
		    "key (its secret does not decode): copy the whole key");
	}
	memcpy(id, text + APIKEY_PREFIX_LEN, APIKEY_ID_LEN);
	id[APIKEY_ID_LEN] = '\0';
	crypto_hash_sha256(hash, secret, sizeof(secret));
	sodium_memzero(secret, sizeof(secret));
	return UPLINK_OK;
}

int
apikey_verify(struct store *st, const char *text,
    char scope[APIKEY_SCOPE_SIZE], char *err, size_t errlen)
{
	struct store_apikey	 k;
	unsigned char		 hash[APIKEY_HASH_LEN];
	char			 id[APIKEY_ID_SIZE];
	int64_t			 now = time(NULL);
	int			 rc;

	if (scope != NULL)
		scope[0] = '\0';
	rc = apikey_parse(text, id, hash, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = store_apikey_get(st, id, &k, err, errlen);
	if (rc == UPLINK_ENOTFOUND || rc == UPLINK_EINVAL)
		return apikey_fail(UPLINK_ENOTFOUND, err, errlen,
		    APIKEY_REFUSED);
	if (rc != UPLINK_OK)
		return rc;
	/* Revoked or not, the secret is compared: no shortcut to time. */
	if (sodium_memcmp(hash, k.secret_hash, APIKEY_HASH_LEN) != 0 ||
	    k.revoked_at != 0)
		return apikey_fail(UPLINK_ENOTFOUND, err, errlen,
		    APIKEY_REFUSED);
	if (now - k.last_used > APIKEY_TOUCH_SECS)
		(void)store_apikey_touch(st, id, now, NULL, 0);
	if (scope != NULL)
		snprintf(scope, APIKEY_SCOPE_SIZE, "%s", k.scope);
	return UPLINK_OK;
}
