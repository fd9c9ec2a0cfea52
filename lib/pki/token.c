#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "hostport.h"
#include "token.h"

#define TOKEN_B64	sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define TOKEN_PREFIX_LEN	(sizeof(TOKEN_PREFIX) - 1)
#define TOKEN_FIXED_LEN	(1 + TOKEN_SECRET_LEN + TOKEN_PIN_LEN + 1)
#define TOKEN_COPY	"copy the whole token"

_Static_assert(TOKEN_TEXT_MAX == TOKEN_PREFIX_LEN +
    sodium_base64_ENCODED_LEN(TOKEN_PAYLOAD_MAX, TOKEN_B64) - 1,
    "TOKEN_TEXT_MAX must fit the largest payload");

static bool
token_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f';
}

static bool
token_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * The checksum catches copy and paste accidents, not tampering: anyone can
 * compute it. What makes a token trustworthy is the secret, which only the
 * cloud can check, and the pin, which the connector checks against the
 * cloud's certificate chain.
 */
static void
token_checksum(const unsigned char *p, size_t len,
    unsigned char sum[TOKEN_CHECK_LEN])
{
	unsigned char	 h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, p, len);
	memcpy(sum, h, TOKEN_CHECK_LEN);
}

bool
token_url_check(const char *url, char *why, size_t whylen)
{
	struct hostport	 hp;
	const char	*rest;
	char		 hwhy[256];
	size_t		 len = strlen(url);

	if (len > TOKEN_URL_MAX) {
		uplink_fail(UPLINK_EINVAL, why, whylen,
		    "cloud URL is %zu bytes long; the limit is %d", len,
		    TOKEN_URL_MAX);
		return false;
	}
	if (strncmp(url, "https://", 8) != 0) {
		uplink_fail(UPLINK_EINVAL, why, whylen,
		    "cloud URL \"%s\" must start with "
		    "https://, e.g. https://cloud.example.com:8443", url);
		return false;
	}
	rest = url + 8;
	if (strpbrk(rest, "/?#@") != NULL) {
		uplink_fail(UPLINK_EINVAL, why, whylen,
		    "cloud URL \"%s\" must be "
		    "https://HOST[:PORT], without a path, query or user name",
		    url);
		return false;
	}
	if (hostport_parse(rest, 443, &hp, hwhy, sizeof(hwhy)) != UPLINK_OK) {
		uplink_fail(UPLINK_EINVAL, why, whylen, "cloud URL \"%s\": %s",
		    url, hwhy);
		return false;
	}
	if (hp.kind == HOST_IPV6 && rest[0] != '[') {
		uplink_fail(UPLINK_EINVAL, why, whylen,
		    "cloud URL \"%s\": put an IPv6 address "
		    "in brackets, e.g. https://[fd00::1]:8443", url);
		return false;
	}
	return true;
}

int
token_new(const char *url, const unsigned char pin[TOKEN_PIN_LEN],
    struct token *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!token_url_check(url, err, errlen))
		return UPLINK_EINVAL;
	if (sodium_init() < 0) {
		uplink_fail(UPLINK_EINVAL, err, errlen,
		    "libsodium failed to initialise its "
		    "random number generator: check that /dev/urandom is "
		    "readable");
		return UPLINK_EIO;
	}
	randombytes_buf(out->secret, sizeof(out->secret));
	memcpy(out->pin, pin, TOKEN_PIN_LEN);
	memcpy(out->url, url, strlen(url) + 1);
	return UPLINK_OK;
}

/* Lays out the binary payload; returns its length. */
static size_t
token_pack(const struct token *t, unsigned char p[TOKEN_PAYLOAD_MAX])
{
	size_t	 ulen = strlen(t->url), n = 0;

	p[n++] = TOKEN_VERSION;
	memcpy(p + n, t->secret, TOKEN_SECRET_LEN);
	n += TOKEN_SECRET_LEN;
	memcpy(p + n, t->pin, TOKEN_PIN_LEN);
	n += TOKEN_PIN_LEN;
	p[n++] = (unsigned char)ulen;
	memcpy(p + n, t->url, ulen);
	n += ulen;
	token_checksum(p, n, p + n);
	return n + TOKEN_CHECK_LEN;
}

int
token_encode(const struct token *t, char *dst, size_t dstlen)
{
	unsigned char	 p[TOKEN_PAYLOAD_MAX];
	size_t		 n;

	if (memchr(t->url, '\0', sizeof(t->url)) == NULL ||
	    !token_url_check(t->url, NULL, 0))
		return UPLINK_EINVAL;
	n = token_pack(t, p);
	if (dstlen < TOKEN_PREFIX_LEN + sodium_base64_ENCODED_LEN(n,
	    TOKEN_B64)) {
		sodium_memzero(p, sizeof(p));
		return UPLINK_ETOOBIG;
	}
	memcpy(dst, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
	sodium_bin2base64(dst + TOKEN_PREFIX_LEN, dstlen - TOKEN_PREFIX_LEN, p,
	    n, TOKEN_B64);
	sodium_memzero(p, sizeof(p));
	return UPLINK_OK;
}

/*
 * Refuses text that does not start with the prefix. "uplink2-" and later
 * are tokens too, from a newer uplink-cloud, and deserve to be told apart
 * from text that is no token at all.
 */
static int
token_check_prefix(const char *s, size_t len, char *err, size_t errlen)
{
	size_t	 i = 6;

	if (len >= TOKEN_PREFIX_LEN && memcmp(s, TOKEN_PREFIX,
	    TOKEN_PREFIX_LEN) == 0)
		return UPLINK_OK;
	if (len > 6 && memcmp(s, "uplink", 6) == 0) {
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i > 6 && s[6] != '0' && i < len && s[i] == '-')
			return uplink_fail(UPLINK_EINVAL, err, errlen,
			    "made by a newer "
			    "uplink-cloud (\"%.*s\"; this connector reads "
			    "\"%s\"): upgrade uplink-connector", (int)(i + 1),
			    s, TOKEN_PREFIX);
	}
	return uplink_fail(UPLINK_EINVAL, err, errlen,
	    "not an uplink enrollment token (those "
	    "start with \"%s\"): paste the token printed by \"uplink-cloud "
	    "token create\"", TOKEN_PREFIX);
}

/* Checks every character after the prefix, naming the first bad one. */
static int
token_check_chars(const char *s, size_t len, char *err, size_t errlen)
{
	size_t	 i;

	for (i = TOKEN_PREFIX_LEN; i < len; i++) {
		if (token_b64_char(s[i]))
			continue;
		if (token_space(s[i]))
			return uplink_fail(UPLINK_EINVAL, err, errlen,
			    "white space at "
			    "position %zu: paste the token as one line", i + 1);
		if (s[i] > ' ' && s[i] < 0x7f)
			return uplink_fail(UPLINK_EINVAL, err, errlen,
			    "damaged ('%c' at "
			    "position %zu cannot be part of a token): " TOKEN_COPY,
			    s[i], i + 1);
		return uplink_fail(UPLINK_EINVAL, err, errlen,
		    "damaged (byte 0x%02x at "
		    "position %zu cannot be part of a token): " TOKEN_COPY,
		    (unsigned char)s[i], i + 1);
	}
	return UPLINK_OK;
}

/*
 * Reports text that fails its length or checksum test. Two tokens pasted
 * together pass the character test ('-' is a base64url character), so they
 * are recognised here and named.
 */
static int
token_damaged(const char *s, size_t len, const char *what, char *err,
    size_t errlen)
{
	const char	*again;

	again = memmem(s + 1, len - 1, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
	if (again != NULL)
		return uplink_fail(UPLINK_EINVAL, err, errlen,
		    "damaged (a second \"%s\" at "
		    "position %zu: two tokens run together): copy one whole "
		    "token", TOKEN_PREFIX, (size_t)(again - s) + 1);
	return uplink_fail(UPLINK_EINVAL, err, errlen,
	    "damaged (%s): " TOKEN_COPY, what);
}

/* Turns the trimmed text into the payload bytes, checksum verified. */
static int
token_unwrap(const char *s, size_t len, unsigned char p[TOKEN_PAYLOAD_MAX],
    size_t *plen, char *err, size_t errlen)
{
	unsigned char	 sum[TOKEN_CHECK_LEN];
	int		 rc;

	rc = token_check_prefix(s, len, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (len > TOKEN_TEXT_MAX)
		return uplink_fail(UPLINK_EINVAL, err, errlen,
		    "too long (%zu characters; a "
		    "token has at most %zu): copy only the token", len,
		    TOKEN_TEXT_MAX);
	rc = token_check_chars(s, len, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	/*
	 * Without b64_end libsodium refuses a length no encoder makes and
	 * unused low bits that are not zero, so each payload has exactly one
	 * text form and a changed last character cannot slip through.
	 */
	if (sodium_base642bin(p, TOKEN_PAYLOAD_MAX, s + TOKEN_PREFIX_LEN,
	    len - TOKEN_PREFIX_LEN, NULL, plen, NULL, TOKEN_B64) != 0)
		return token_damaged(s, len, "its length is not that of a "
		    "whole token", err, errlen);
	if (*plen < 1 + TOKEN_CHECK_LEN)
		return uplink_fail(UPLINK_EINVAL, err, errlen,
		    "damaged (too short): " TOKEN_COPY);
	*plen -= TOKEN_CHECK_LEN;
	token_checksum(p, *plen, sum);
	if (memcmp(sum, p + *plen, TOKEN_CHECK_LEN) != 0)
		return token_damaged(s, len, "checksum mismatch", err,
		    errlen);
	return UPLINK_OK;
}

/* Reads a checksummed payload (without its checksum) into out. */
static int
token_unpack(const unsigned char *p, size_t len, struct token *out,
    char *err, size_t errlen)
{
	char	 why[512];
	size_t	 ulen;

	if (p[0] > TOKEN_VERSION)
		return uplink_fail(UPLINK_EINVAL, err, errlen,
		    "made by a newer uplink-cloud "
		    "(token format %u; this connector reads format %d): "
		    "upgrade uplink-connector", p[0], TOKEN_VERSION);
	if (p[0] != TOKEN_VERSION)
		return uplink_fail(UPLINK_EINVAL, err, errlen,
		    "malformed (unknown token "
		    "format %u): create a new token", p[0]);
	ulen = len > TOKEN_FIXED_LEN ? p[TOKEN_FIXED_LEN - 1] : 0;
	if (len != TOKEN_FIXED_LEN + ulen || ulen == 0)
		return uplink_fail(UPLINK_EINVAL, err, errlen,
		    "malformed (%zu bytes, not the "
		    "%zu its layout needs): create a new token", len,
		    TOKEN_FIXED_LEN + (ulen ? ulen : 1));
	memcpy(out->secret, p + 1, TOKEN_SECRET_LEN);
	memcpy(out->pin, p + 1 + TOKEN_SECRET_LEN, TOKEN_PIN_LEN);
	memcpy(out->url, p + TOKEN_FIXED_LEN, ulen);
	out->url[ulen] = '\0';
	if (strlen(out->url) != ulen)
		return uplink_fail(UPLINK_EINVAL, err, errlen,
		    "malformed (the cloud URL "
		    "contains a NUL byte): create a new token");
	if (!token_url_check(out->url, why, sizeof(why)))
		return uplink_fail(UPLINK_EINVAL, err, errlen,
		    "malformed (%s): create a new token", why);
	return UPLINK_OK;
}

int
token_decode(const char *s, struct token *out, char *err, size_t errlen)
{
	unsigned char	 p[TOKEN_PAYLOAD_MAX];
	size_t		 len, plen = 0;
	int		 rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		s = "";
	while (token_space(*s))
		s++;
	len = strlen(s);
	while (len > 0 && token_space(s[len - 1]))
		len--;
	if (len == 0)
		return uplink_fail(UPLINK_EINVAL, err, errlen,
		    "empty: paste the token printed "
		    "by \"uplink-cloud token create\"");
	rc = token_unwrap(s, len, p, &plen, err, errlen);
	if (rc == UPLINK_OK)
		rc = token_unpack(p, plen, out, err, errlen);
	if (rc != UPLINK_OK)
		token_clear(out);
	sodium_memzero(p, sizeof(p));
	return rc;
}

/*
 * A plain SHA-256 is the right hash here, not a slow password hash: the
 * secret is 256 random bits, so no dictionary or brute force can find it
 * from the stored hash, and a fast hash keeps enrollment cheap.
 */
void
token_secret_hash(const unsigned char secret[TOKEN_SECRET_LEN],
    unsigned char hash[TOKEN_HASH_LEN])
{
	crypto_hash_sha256(hash, secret, TOKEN_SECRET_LEN);
}

void
token_id(const unsigned char secret[TOKEN_SECRET_LEN], char id[TOKEN_ID_SIZE])
{
	unsigned char	 h[TOKEN_HASH_LEN];

	token_secret_hash(secret, h);
	id[0] = 't';
	id[1] = '-';
	sodium_bin2hex(id + 2, TOKEN_ID_SIZE - 2, h, (TOKEN_ID_SIZE - 3) / 2);
}

bool
token_hash_equal(const unsigned char a[TOKEN_HASH_LEN],
    const unsigned char b[TOKEN_HASH_LEN])
{
	return sodium_memcmp(a, b, TOKEN_HASH_LEN) == 0;
}

void
token_clear(struct token *t)
{
	if (t != NULL)
		sodium_memzero(t, sizeof(*t));
}
