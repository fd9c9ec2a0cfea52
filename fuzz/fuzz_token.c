/*
 * Enrollment token decoding (lib/token.c), twice per input. First the
 * input as pasted text. Then the input as a binary payload wrapped the way
 * an encoder would (prefix, checksum, base64url): random text almost never
 * has a valid checksum, so without this second pass the fuzzer would not
 * get past it to the payload layout and URL checks.
 *
 * Either decoding refuses with a message, or the token encodes back to
 * exactly the text decoded, white space around it excepted: the text form
 * is canonical.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "token.h"

#define FUZZ_B64	sodium_base64_VARIANT_URLSAFE_NO_PADDING

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f';
}

static void
fuzz_decode(const char *s)
{
	struct token	 t;
	char		 err[512] = "", text[TOKEN_TEXT_SIZE];
	size_t		 len;

	if (token_decode(s, &t, err, sizeof(err)) != UPLINK_OK) {
		if (err[0] == '\0')
			abort();	/* every refusal says why */
		return;
	}
	if (token_encode(&t, text, sizeof(text)) != UPLINK_OK)
		abort();
	while (fuzz_space(*s))
		s++;
	len = strlen(s);
	while (len > 0 && fuzz_space(s[len - 1]))
		len--;
	if (len != strlen(text) || memcmp(s, text, len) != 0)
		abort();
	token_clear(&t);
}

/* "uplink1-" + base64url(data + first 4 bytes of SHA-256(data)). */
static void
fuzz_payload(const uint8_t *data, size_t size)
{
	unsigned char	 p[TOKEN_PAYLOAD_MAX], h[crypto_hash_sha256_BYTES];
	char		 text[TOKEN_TEXT_SIZE];

	if (size + TOKEN_CHECK_LEN > sizeof(p))
		return;
	memcpy(p, data, size);
	crypto_hash_sha256(h, p, size);
	memcpy(p + size, h, TOKEN_CHECK_LEN);
	memcpy(text, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
	sodium_bin2base64(text + sizeof(TOKEN_PREFIX) - 1,
	    sizeof(text) - (sizeof(TOKEN_PREFIX) - 1), p,
	    size + TOKEN_CHECK_LEN, FUZZ_B64);
	fuzz_decode(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s;

	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	fuzz_decode(s);
	free(s);
	fuzz_payload(data, size);
	return 0;
}
