#ifndef UPLINK_TOKEN_H
#define UPLINK_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * One-time enrollment tokens. "uplink-cloud token create" prints one; the
 * connector decodes it to learn where the cloud is and how to recognise it
 * (the pin), and proves it holds the token by sending the secret. The cloud
 * keeps only token_secret_hash() of the secret. Encoding and decoding do no
 * I/O; docs/internals/token.md describes the format.
 */

#define TOKEN_PREFIX		"uplink1-"
#define TOKEN_VERSION		1	/* payload layout this code writes */
#define TOKEN_SECRET_LEN	32
#define TOKEN_PIN_LEN		32	/* SHA-256 of the cloud CA's SPKI */
#define TOKEN_HASH_LEN		32
#define TOKEN_URL_MAX		255
#define TOKEN_CHECK_LEN		4

/* version, secret, pin, URL length, URL, checksum */
#define TOKEN_PAYLOAD_MAX	(1 + TOKEN_SECRET_LEN + TOKEN_PIN_LEN + 1 + \
				 TOKEN_URL_MAX + TOKEN_CHECK_LEN)
/* The prefix and unpadded base64 of the largest payload (325 bytes). */
#define TOKEN_TEXT_MAX		(sizeof(TOKEN_PREFIX) - 1 + \
				 (TOKEN_PAYLOAD_MAX * 4 + 2) / 3)
#define TOKEN_TEXT_SIZE		(TOKEN_TEXT_MAX + 1)
#define TOKEN_ID_SIZE		15	/* "t-" + 12 hex + NUL */

struct token {
	unsigned char	 secret[TOKEN_SECRET_LEN];
	unsigned char	 pin[TOKEN_PIN_LEN];
	/* The cloud, as https://HOST[:PORT]. */
	char		 url[TOKEN_URL_MAX + 1];
};

/*
 * Fills out with url, pin and a fresh random secret. Returns UPLINK_OK,
 * UPLINK_EINVAL when the URL is not https://HOST[:PORT] (err says why) or
 * UPLINK_EIO when libsodium cannot initialise its random generator.
 */
int token_new(const char *url, const unsigned char pin[TOKEN_PIN_LEN],
    struct token *out, char *err, size_t errlen);

/*
 * Writes the one-line text form ("uplink1-...", no newline) into dst, which
 * TOKEN_TEXT_SIZE bytes always fit. Returns UPLINK_OK, UPLINK_ETOOBIG when
 * dst is too small, or UPLINK_EINVAL when t->url is not a valid URL.
 */
int token_encode(const struct token *t, char *dst, size_t dstlen);

/*
 * Reads a token as pasted (NULL reads as ""). White space around it is
 * ignored; anything else is refused with a message that tells a damaged
 * copy (wrong characters, wrong length, checksum mismatch: "copy the whole
 * token") from text that is no token, one made by a newer uplink-cloud, or
 * a malformed one. A token that decodes may still be refused by the cloud
 * (expired, used, revoked). Returns UPLINK_OK or UPLINK_EINVAL; on failure
 * out is zeroed.
 */
int token_decode(const char *s, struct token *out, char *err, size_t errlen);

/*
 * Checks that url is https://HOST[:PORT] with nothing after it and at most
 * TOKEN_URL_MAX bytes. Returns true, or false with the reason in why.
 */
bool token_url_check(const char *url, char *why, size_t whylen);

/* The hash of a secret that the cloud stores and looks tokens up by. */
void token_secret_hash(const unsigned char secret[TOKEN_SECRET_LEN],
    unsigned char hash[TOKEN_HASH_LEN]);

/*
 * A short id for logs and the token table: "t-" and the first 12 hex
 * digits of the secret's hash. It reveals nothing usable about the secret.
 */
void token_id(const unsigned char secret[TOKEN_SECRET_LEN],
    char id[TOKEN_ID_SIZE]);

/* Compares two hashes in constant time. */
bool token_hash_equal(const unsigned char a[TOKEN_HASH_LEN],
    const unsigned char b[TOKEN_HASH_LEN]);

/* Wipes a token (its secret) from memory; NULL is a no-op. */
void token_clear(struct token *t);

#endif
