/*
 * token: the text form of enrollment tokens. Round trips, a known-answer
 * vector computed independently (Python's hashlib and base64), every way
 * decoding refuses input, white space around a token, and every
 * single-character corruption, truncation, deletion, insertion and swap of
 * a valid token being refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "token.h"

#define A21	"aaaaaaaaaaaaaaaaaaaaa"
#define L63	A21 A21 A21
/* 8 + 63 * 3 + 3 + 49 + 6 = 255 bytes */
#define URL255	"https://" L63 "." L63 "." L63 "." \
		"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" ":65535"

/* secret 0x11..., pin 0x22..., https://cloud.example.com:8443 */
#define KAT	"uplink1-ARERERERERERERERERERERERERERERERERERERERERER" \
		"IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIeaHR0cHM6Ly9jbG91" \
		"ZC5leGFtcGxlLmNvbTo4NDQzJNnKQg"

static const unsigned char pin22[TOKEN_PIN_LEN] = {
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
};

/* A token with a fixed secret, so corruption tests are repeatable. */
static void
fixed_token(struct token *t, const char *url)
{
	memset(t, 0, sizeof(*t));
	memset(t->secret, 0x11, sizeof(t->secret));
	memcpy(t->pin, pin22, sizeof(t->pin));
	snprintf(t->url, sizeof(t->url), "%s", url);
}

static void
expect_decode_fails(const char *text, const char *why)
{
	struct token	 t;
	const char	*show = text != NULL ? text : "(NULL)";
	char		 err[512] = "";

	if (token_decode(text, &t, err, sizeof(err)) != UPLINK_EINVAL)
		fail_msg("\"%s\" decoded", show);
	if (why != NULL && strstr(err, why) == NULL)
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"", show, err, why);
	if (t.url[0] != '\0' || t.secret[0] != 0)
		fail_msg("\"%s\": failed decode left data in the token", show);
}

static const char *const roundtrip_urls[] = {
	"https://a",
	"https://cloud.example.com",
	"https://cloud.example.com:8443",
	"https://Cloud.Example.COM:1",
	"https://cloud.example.com.",
	"https://cloud_1.corp",
	"https://10.0.0.1",
	"https://10.0.0.1:8443",
	"https://[::1]",
	"https://[fd00::1]:443",
	"https://[::ffff:10.1.2.3]:65535",
	URL255,
};

static void
test_roundtrip(void **state)
{
	struct token	 t, back;
	char		 text[TOKEN_TEXT_SIZE], err[256];
	size_t		 i;

	(void)state;
	assert_int_equal(strlen(URL255), TOKEN_URL_MAX);
	for (i = 0; i < sizeof(roundtrip_urls) / sizeof(roundtrip_urls[0]);
	    i++) {
		if (token_new(roundtrip_urls[i], pin22, &t, err, sizeof(err)) !=
		    UPLINK_OK)
			fail_msg("row %zu \"%s\": %s", i, roundtrip_urls[i],
			    err);
		assert_int_equal(token_encode(&t, text, sizeof(text)),
		    UPLINK_OK);
		assert_int_equal(strncmp(text, TOKEN_PREFIX, 8), 0);
		if (token_decode(text, &back, err, sizeof(err)) != UPLINK_OK)
			fail_msg("row %zu \"%s\": %s", i, roundtrip_urls[i],
			    err);
		assert_memory_equal(&t, &back, sizeof(t));
	}
	/* The longest URL makes the longest token, which fits exactly. */
	assert_int_equal(strlen(text), TOKEN_TEXT_MAX);
	assert_int_equal(TOKEN_TEXT_MAX, 442);
}

static void
test_known_answer(void **state)
{
	struct token	 t, back;
	char		 text[TOKEN_TEXT_SIZE], err[256];

	(void)state;
	fixed_token(&t, "https://cloud.example.com:8443");
	assert_int_equal(token_encode(&t, text, sizeof(text)), UPLINK_OK);
	assert_string_equal(text, KAT);
	assert_int_equal(token_decode(KAT, &back, err, sizeof(err)), UPLINK_OK);
	assert_memory_equal(&t, &back, sizeof(t));
}

static void
test_whitespace(void **state)
{
	static const char *const around[][2] = {
		{ "", "\n" },
		{ "", "\r\n" },
		{ " ", " " },
		{ "\t\t", "\t" },
		{ "\n\n  ", "  \n\n" },
		{ "\r\n", "" },
		{ "\v\f", "\f\v" },
	};
	struct token	 t;
	char		 in[TOKEN_TEXT_SIZE + 16], err[256];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(around) / sizeof(around[0]); i++) {
		snprintf(in, sizeof(in), "%s%s%s", around[i][0], KAT,
		    around[i][1]);
		if (token_decode(in, &t, err, sizeof(err)) != UPLINK_OK)
			fail_msg("row %zu: %s", i, err);
		assert_string_equal(t.url, "https://cloud.example.com:8443");
	}
}

/*
 * Builds "uplink1-" + base64url(payload + checksum) for hand-made payloads,
 * the way a buggy or future encoder would.
 */
static void
craft(const unsigned char *p, size_t n, char *text, size_t textlen)
{
	unsigned char	 buf[600], h[32];

	assert_true(n + 4 <= sizeof(buf));
	memcpy(buf, p, n);
	crypto_hash_sha256(h, buf, n);
	memcpy(buf + n, h, 4);
	assert_true(textlen > 8);
	memcpy(text, "uplink1-", 8);
	sodium_bin2base64(text + 8, textlen - 8, buf, n + 4,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Fills a version 1 payload; returns its length. */
static size_t
payload(unsigned char *p, unsigned version, const char *url, size_t urllen)
{
	p[0] = (unsigned char)version;
	memset(p + 1, 0x11, 32);
	memset(p + 33, 0x22, 32);
	p[65] = (unsigned char)urllen;
	memcpy(p + 66, url, urllen);
	return 66 + urllen;
}

static void
test_reject_crafted(void **state)
{
	unsigned char	 p[600];
	char		 text[1024];
	size_t		 n;

	(void)state;
	n = payload(p, 2, "https://x", 9);
	craft(p, n, text, sizeof(text));
	expect_decode_fails(text, "made by a newer uplink-cloud (token format "
	    "2; this connector reads format 1): upgrade uplink-connector");
	n = payload(p, 255, "https://x", 9);
	craft(p, n, text, sizeof(text));
	expect_decode_fails(text, "made by a newer uplink-cloud");
	n = payload(p, 0, "https://x", 9);
	craft(p, n, text, sizeof(text));
	expect_decode_fails(text, "malformed (unknown token format 0)");
	/* The URL length byte disagrees with the bytes present. */
	n = payload(p, 1, "https://x", 9);
	p[65] = 10;
	craft(p, n, text, sizeof(text));
	expect_decode_fails(text, "malformed (75 bytes, not the 76 its layout "
	    "needs): create a new token");
	p[65] = 8;
	craft(p, n, text, sizeof(text));
	expect_decode_fails(text, "malformed (75 bytes, not the 74");
	n = payload(p, 1, "", 0);
	craft(p, n, text, sizeof(text));
	expect_decode_fails(text, "malformed (66 bytes, not the 67");
	craft(p, 40, text, sizeof(text));
	expect_decode_fails(text, "malformed (40 bytes");
	craft(p, 1, text, sizeof(text));
	expect_decode_fails(text, "malformed (1 bytes");
	/* The checksum is right but the URL is not one a token may carry. */
	n = payload(p, 1, "http://x", 8);
	craft(p, n, text, sizeof(text));
	expect_decode_fails(text, "malformed (cloud URL \"http://x\" must "
	    "start with https://");
	n = payload(p, 1, "https://x/a", 11);
	craft(p, n, text, sizeof(text));
	expect_decode_fails(text, "without a path");
	n = payload(p, 1, "https://x\0y", 11);
	craft(p, n, text, sizeof(text));
	expect_decode_fails(text, "contains a NUL byte");
	/* A payload longer than any token: refused as text already. */
	memset(p, 0, sizeof(p));
	p[0] = 1;
	craft(p, 330, text, sizeof(text));
	expect_decode_fails(text, "too long (454 characters; a token has at "
	    "most 442): copy only the token");
}

static void
test_reject_text(void **state)
{
	char	 text[TOKEN_TEXT_SIZE + 64];
	size_t	 n = strlen(KAT);

	(void)state;
	expect_decode_fails("", "empty: paste the token printed by "
	    "\"uplink-cloud token create\"");
	expect_decode_fails(" \r\n\t", "empty");
	expect_decode_fails(NULL, "empty");
	expect_decode_fails("hello", "not an uplink enrollment token (those "
	    "start with \"uplink1-\")");
	expect_decode_fails("uplink1", "not an uplink enrollment token");
	expect_decode_fails("uplink", "not an uplink enrollment token");
	expect_decode_fails("UPLINK1-AAAA", "not an uplink enrollment token");
	expect_decode_fails("uplink0-AAAA", "not an uplink enrollment token");
	expect_decode_fails("uplink-AAAA", "not an uplink enrollment token");
	expect_decode_fails("uplinkx-AAAA", "not an uplink enrollment token");
	expect_decode_fails("\"" KAT "\"", "not an uplink enrollment token");
	expect_decode_fails("uplink2-AAAA", "made by a newer uplink-cloud "
	    "(\"uplink2-\"; this connector reads \"uplink1-\")");
	expect_decode_fails("uplink12-", "made by a newer uplink-cloud "
	    "(\"uplink12-\"");
	expect_decode_fails("uplink1-", "damaged (too short): copy the whole "
	    "token");
	expect_decode_fails("uplink1-AAAA", "damaged (too short)");
	expect_decode_fails("uplink1-A", "damaged (its length is not that of "
	    "a whole token): copy the whole token");
	expect_decode_fails("uplink1-AAAAAAAA", "damaged (checksum mismatch): "
	    "copy the whole token");
	/* White space inside, as a mail client's line wrap leaves it. */
	snprintf(text, sizeof(text), "%.70s\n%s", KAT, KAT + 70);
	expect_decode_fails(text, "white space at position 71: paste the "
	    "token as one line");
	snprintf(text, sizeof(text), "%.70s %s", KAT, KAT + 70);
	expect_decode_fails(text, "white space at position 71");
	snprintf(text, sizeof(text), "%s=", KAT);
	expect_decode_fails(text, "damaged ('=' at position 143 cannot be part "
	    "of a token): copy the whole token");
	snprintf(text, sizeof(text), "%.20s+%s", KAT, KAT + 21);
	expect_decode_fails(text, "damaged ('+' at position 21");
	snprintf(text, sizeof(text), "%.20s\x80%s", KAT, KAT + 21);
	expect_decode_fails(text, "damaged (byte 0x80 at position 21");
	snprintf(text, sizeof(text), "%.20s\x01%s", KAT, KAT + 21);
	expect_decode_fails(text, "damaged (byte 0x01 at position 21");
	/* Truncated by one character, and to a whole number of bytes. */
	snprintf(text, sizeof(text), "%.*s", (int)n - 1, KAT);
	expect_decode_fails(text, "copy the whole token");
	snprintf(text, sizeof(text), "%.*s", (int)n - 2, KAT);
	expect_decode_fails(text, "damaged (checksum mismatch)");
	/* Pasted twice. */
	snprintf(text, sizeof(text), "%s%s", KAT, KAT);
	expect_decode_fails(text, "damaged (a second \"uplink1-\" at position "
	    "143: two tokens run together): copy one whole token");
	snprintf(text, sizeof(text), "%s%.*s", KAT, 20, KAT);
	expect_decode_fails(text, "two tokens run together");
	memset(text, 'A', sizeof(text) - 1);
	memcpy(text, "uplink1-", 8);
	text[sizeof(text) - 1] = '\0';
	expect_decode_fails(text, "too long");
}

/*
 * Every change of one character anywhere in a valid token is refused, as is
 * every truncation, deleted or doubled character and swapped neighbours.
 * A changed byte is caught by the 32-bit checksum; this token is fixed so
 * the (2^-32 per change) chance of a miss cannot make the test flaky.
 */
static void
test_corruption(void **state)
{
	struct token	 t;
	char		 text[TOKEN_TEXT_SIZE + 1], err[256];
	size_t		 n = strlen(KAT), i, tried = 0;
	int		 c, rc;

	(void)state;
	for (i = 0; i < n; i++) {
		for (c = 1; c < 256; c++) {
			if (c == (unsigned char)KAT[i])
				continue;
			memcpy(text, KAT, n + 1);
			text[i] = (char)c;
			/* White space at either end is trimmed: no change. */
			if ((i == 0 || i == n - 1) && strchr(" \t\n\r\v\f",
			    c) != NULL)
				continue;
			rc = token_decode(text, &t, err, sizeof(err));
			if (rc == UPLINK_OK)
				fail_msg("position %zu changed to 0x%02x "
				    "decoded", i, c);
			tried++;
		}
		memcpy(text, KAT, i);
		memcpy(text + i, KAT + i + 1, n - i);
		assert_int_equal(token_decode(text, &t, err, sizeof(err)),
		    UPLINK_EINVAL);
		memcpy(text, KAT, i + 1);
		memcpy(text + i + 1, KAT + i, n - i + 1);
		assert_int_equal(token_decode(text, &t, err, sizeof(err)),
		    UPLINK_EINVAL);
		memcpy(text, KAT, i);
		text[i] = '\0';
		assert_int_equal(token_decode(text, &t, err, sizeof(err)),
		    UPLINK_EINVAL);
		if (i + 1 < n && KAT[i] != KAT[i + 1]) {
			memcpy(text, KAT, n + 1);
			text[i] = KAT[i + 1];
			text[i + 1] = KAT[i];
			assert_int_equal(token_decode(text, &t, err,
			    sizeof(err)), UPLINK_EINVAL);
		}
	}
	assert_true(tried > 30000);
}

struct url_row {
	const char	*url;
	const char	*why;
};

static const struct url_row bad_urls[] = {
	{ "", "must start with https://" },
	{ "cloud.example.com", "must start with https://" },
	{ "http://cloud.example.com", "must start with https://, e.g. "
	    "https://cloud.example.com:8443" },
	{ "HTTPS://cloud.example.com", "must start with https://" },
	{ "ftp://cloud.example.com", "must start with https://" },
	{ "https://", "empty host" },
	{ "https://:8443", "empty host" },
	{ "https://cloud.example.com/", "without a path, query or user name" },
	{ "https://cloud.example.com/enroll", "without a path" },
	{ "https://cloud.example.com?a=b", "without a path" },
	{ "https://cloud.example.com#x", "without a path" },
	{ "https://user@cloud.example.com", "without a path" },
	{ "https://cloud.example.com:0", "out of range" },
	{ "https://cloud.example.com:65536", "out of range" },
	{ "https://cloud.example.com:", "empty port" },
	{ "https://cloud.example.com:https", "is not a number" },
	{ "https://clo ud.example.com", "invalid character ' '" },
	{ "https://fd00::1", "put an IPv6 address in brackets, e.g. "
	    "https://[fd00::1]:8443" },
	{ "https://[fd00::1", "missing ']'" },
	{ "https://a..b", "empty label" },
	{ URL255 "5", "is 256 bytes long; the limit is 255" },
};

static void
test_url_check(void **state)
{
	struct token	 t;
	char		 err[512];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
		err[0] = '\0';
		if (token_new(bad_urls[i].url, pin22, &t, err, sizeof(err)) !=
		    UPLINK_EINVAL)
			fail_msg("row %zu \"%s\" accepted", i, bad_urls[i].url);
		if (strstr(err, bad_urls[i].why) == NULL)
			fail_msg("row %zu \"%s\": \"%s\" lacks \"%s\"", i,
			    bad_urls[i].url, err, bad_urls[i].why);
		assert_false(token_url_check(bad_urls[i].url, NULL, 0));
	}
	assert_true(token_url_check("https://cloud.example.com:8443", NULL, 0));
}

static void
test_encode_errors(void **state)
{
	struct token	 t;
	char		 text[TOKEN_TEXT_SIZE];
	size_t		 need;

	(void)state;
	fixed_token(&t, "https://cloud.example.com:8443");
	need = strlen(KAT) + 1;
	assert_int_equal(token_encode(&t, text, need - 1), UPLINK_ETOOBIG);
	assert_int_equal(token_encode(&t, text, 0), UPLINK_ETOOBIG);
	assert_int_equal(token_encode(&t, text, need), UPLINK_OK);
	assert_string_equal(text, KAT);
	fixed_token(&t, "http://cloud.example.com");
	assert_int_equal(token_encode(&t, text, sizeof(text)), UPLINK_EINVAL);
	/* A URL filling the array without a NUL is refused, not read past. */
	memset(t.url, 'a', sizeof(t.url));
	assert_int_equal(token_encode(&t, text, sizeof(text)), UPLINK_EINVAL);
}

static void
test_secrets_differ(void **state)
{
	struct token	 a, b;
	char		 ida[TOKEN_ID_SIZE], idb[TOKEN_ID_SIZE], err[256];
	unsigned char	 zero[TOKEN_SECRET_LEN] = { 0 };

	(void)state;
	assert_int_equal(token_new("https://x", pin22, &a, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(token_new("https://x", pin22, &b, err, sizeof(err)),
	    UPLINK_OK);
	assert_memory_not_equal(a.secret, b.secret, TOKEN_SECRET_LEN);
	assert_memory_not_equal(a.secret, zero, TOKEN_SECRET_LEN);
	assert_memory_equal(a.pin, pin22, TOKEN_PIN_LEN);
	token_id(a.secret, ida);
	token_id(b.secret, idb);
	assert_string_not_equal(ida, idb);
	token_clear(&a);
	assert_memory_equal(a.secret, zero, TOKEN_SECRET_LEN);
	assert_int_equal(a.url[0], '\0');
	token_clear(NULL);
}

static void
test_hash_and_id(void **state)
{
	/* SHA-256 of 32 zero bytes. */
	static const unsigned char want[TOKEN_HASH_LEN] = {
		0x66, 0x68, 0x7a, 0xad, 0xf8, 0x62, 0xbd, 0x77,
		0x6c, 0x8f, 0xc1, 0x8b, 0x8e, 0x9f, 0x8e, 0x20,
		0x08, 0x97, 0x14, 0x85, 0x6e, 0xe2, 0x33, 0xb3,
		0x90, 0x2a, 0x59, 0x1d, 0x0d, 0x5f, 0x29, 0x25,
	};
	unsigned char	 secret[TOKEN_SECRET_LEN] = { 0 }, h[TOKEN_HASH_LEN];
	char		 id[TOKEN_ID_SIZE];

	(void)state;
	token_secret_hash(secret, h);
	assert_memory_equal(h, want, sizeof(h));
	assert_true(token_hash_equal(h, want));
	h[31] ^= 1;
	assert_false(token_hash_equal(h, want));
	h[31] ^= 1;
	h[0] ^= 0x80;
	assert_false(token_hash_equal(h, want));
	token_id(secret, id);
	assert_string_equal(id, "t-66687aadf862");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_whitespace),
		cmocka_unit_test(test_reject_crafted),
		cmocka_unit_test(test_reject_text),
		cmocka_unit_test(test_corruption),
		cmocka_unit_test(test_url_check),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_secrets_differ),
		cmocka_unit_test(test_hash_and_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
