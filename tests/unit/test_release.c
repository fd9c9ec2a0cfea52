/*
 * release: minisign public keys and signatures (with vectors made by
 * Debian's minisign 0.11), uplink-release's secret key file, certificate
 * comments, versions, manifests, the whole verification policy with one
 * row per refusal, and the file check. Each row names its case so a
 * failure says which one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "error.h"
#include "release.h"

/* minisign -G -W; minisign -S -t 'trusted text' (and -l for legacy). */
#define MS_PUB	"untrusted comment: minisign public key AD2C6F29656B9CA\n" \
		"RWTKuVaW8sbSCuRldnKbmbur9HGfFFzxM2WpIwXFHR17JY87AEZZFdCP\n"
#define MS_SIG	"untrusted comment: signature from minisign secret key\n" \
		"RUTKuVaW8sbSCuhbVLAQOlkiuj6zBQK77B7KTMn2CreLxV24rAbcTIAAq4mW" \
		"pFtjhoyBs4n65gXiskJFxbl2+RfdqOhaQKGoVgw=\n" \
		"trusted comment: trusted text\n" \
		"em4xN2gUbdNJ8ppnlsfP9/jw4LgQUrLAeaehDY5FXf/+jkAFHva6B20lJirj" \
		"/YH6P01sCVkuDm5hU5o7fgn0Aw==\n"
#define MS_LEGACY "untrusted comment: signature from minisign secret key\n" \
		"RWTKuVaW8sbSCqSn0vp8Ml3FFOJ7t8dJ5J9WK2d+tdL7xNQduBkPIUHlvNih" \
		"5R2o5kb0rXizAMmoos1ChdA145iYLsZntutQOQI=\n" \
		"trusted comment: legacy\n" \
		"lktsB2Gd9jTgD721jsufYHNAMCIKjeoT5W1L45V36LupEHb143E0hCut4HB3" \
		"XzuLHJxmikjKGrYSasHuFN0HAw==\n"
#define MS_MSG	"uplink interop\n"
#define MS_B64	"RWTKuVaW8sbSCuRldnKbmbur9HGfFFzxM2WpIwXFHR17JY87AEZZFdCP"

struct text_row {
	const char	*name;
	const char	*in;
	int		 rc;
	const char	*why;
};

static const struct text_row pubkey_rows[] = {
	{ "minisign .pub", MS_PUB, UPLINK_OK, NULL },
	{ "base64 line alone", MS_B64, UPLINK_OK, NULL },
	{ "CRLF", "untrusted comment: x\r\n" MS_B64 "\r\n", UPLINK_OK, NULL },
	{ "no final newline", "untrusted comment: x\n" MS_B64, UPLINK_OK, NULL },
	{ "empty", "", UPLINK_EINVAL, "not a minisign public key" },
	{ "comment only", "untrusted comment: x\n", UPLINK_EINVAL,
	    "not a minisign public key" },
	{ "no comment prefix", "comment: x\n" MS_B64 "\n", UPLINK_EINVAL,
	    "not a minisign public key" },
	{ "three lines", MS_PUB "x\n", UPLINK_EINVAL,
	    "not a minisign public key" },
	{ "short key", "RWTKuVaW8sbSCuRldnKbmbur9HGfFFzxM2WpIwXFHR17JY87AEZZ",
	    UPLINK_EINVAL, "not base64 of 42 bytes" },
	{ "not base64", "RWTKuVaW8sbSCuRldnKbmbur9HGfFFzxM2WpIwXFHR17JY87AEZZ!!!!",
	    UPLINK_EINVAL, "not base64" },
	{ "signature algorithm ED", "RUTKuVaW8sbSCuRldnKbmbur9HGfFFzxM2WpIwXF"
	    "HR17JY87AEZZFdCP", UPLINK_EINVAL, "expected \"Ed\"" },
	{ "blank line inside", "untrusted comment: x\n\n" MS_B64, UPLINK_EINVAL,
	    "not a minisign public key" },
};

static void
test_pubkey_parse(void **state)
{
	struct release_pubkey	 pk;
	char			 err[256], id[RELEASE_KEYID_TEXT];
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(pubkey_rows) / sizeof(pubkey_rows[0]); i++) {
		err[0] = '\0';
		rc = release_pubkey_parse(pubkey_rows[i].in,
		    strlen(pubkey_rows[i].in), &pk, err, sizeof(err));
		if (rc != pubkey_rows[i].rc || (pubkey_rows[i].why != NULL &&
		    strstr(err, pubkey_rows[i].why) == NULL))
			fail_msg("%s: rc %d \"%s\"", pubkey_rows[i].name, rc, err);
		if (rc == UPLINK_OK) {
			release_keyid_text(pk.id, id);
			assert_string_equal(id, "0AD2C6F29656B9CA");
		}
	}
}

static void
test_pubkey_format_roundtrip(void **state)
{
	struct release_pubkey	 pk, back;
	struct buf		 b;

	(void)state;
	assert_int_equal(release_pubkey_parse(MS_PUB, strlen(MS_PUB), &pk,
	    NULL, 0), UPLINK_OK);
	buf_init(&b, 4096);
	assert_int_equal(release_pubkey_format(&pk, &b), UPLINK_OK);
	assert_int_equal(release_pubkey_parse(b.ptr, b.len, &back, NULL, 0),
	    UPLINK_OK);
	assert_memory_equal(&pk, &back, sizeof(pk));
	assert_non_null(strstr(b.ptr, "\n" MS_B64 "\n"));
	buf_free(&b);
}

static const struct text_row sig_rows[] = {
	{ "minisign ED", MS_SIG, UPLINK_OK, NULL },
	{ "minisign legacy Ed", MS_LEGACY, UPLINK_OK, NULL },
	{ "three lines", "untrusted comment: a\nRUTK\ntrusted comment: x\n",
	    UPLINK_EINVAL, "expected four lines" },
	{ "no trusted prefix", "untrusted comment: a\nRUTK\nuntrusted "
	    "comment: x\nAAAA\n", UPLINK_EINVAL, "expected four lines" },
	{ "short signature line", "untrusted comment: a\nRUTKuVaW8sbSCuhb\n"
	    "trusted comment: x\nem4x\n", UPLINK_EINVAL, "line 2 is not base64" },
	{ "empty", "", UPLINK_EINVAL, "expected four lines" },
	{ "NUL inside", "untrusted comment: a\0b\n", UPLINK_EINVAL,
	    "expected four lines" },
};

static void
test_sig_parse(void **state)
{
	struct release_sig	 sig;
	char			 err[256];
	size_t			 i, len;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(sig_rows) / sizeof(sig_rows[0]); i++) {
		err[0] = '\0';
		len = strlen(sig_rows[i].in);
		if (strcmp(sig_rows[i].name, "NUL inside") == 0)
			len = 24;
		rc = release_sig_parse(sig_rows[i].in, len, &sig, err,
		    sizeof(err));
		if (rc != sig_rows[i].rc || (sig_rows[i].why != NULL &&
		    strstr(err, sig_rows[i].why) == NULL))
			fail_msg("%s: rc %d \"%s\"", sig_rows[i].name, rc, err);
	}
}

/* Signatures made by minisign itself verify; altered ones do not. */
static void
test_minisign_interop(void **state)
{
	struct release_pubkey	 pk;
	struct release_sig	 sig;
	char			 err[256], alt[sizeof(MS_SIG)];

	(void)state;
	assert_int_equal(release_pubkey_parse(MS_PUB, strlen(MS_PUB), &pk,
	    NULL, 0), UPLINK_OK);
	assert_int_equal(release_sig_parse(MS_SIG, strlen(MS_SIG), &sig, NULL,
	    0), UPLINK_OK);
	assert_true(sig.prehashed);
	assert_string_equal(sig.trusted, "trusted text");
	assert_int_equal(release_sig_verify(&sig, &pk, MS_MSG, strlen(MS_MSG),
	    err, sizeof(err)), RELEASE_OK);
	assert_int_equal(release_sig_verify(&sig, &pk, "uplink interop!\n",
	    16, err, sizeof(err)), RELEASE_ESIG_BAD);
	assert_int_equal(release_sig_parse(MS_LEGACY, strlen(MS_LEGACY), &sig,
	    NULL, 0), UPLINK_OK);
	assert_false(sig.prehashed);
	assert_int_equal(release_sig_verify(&sig, &pk, MS_MSG, strlen(MS_MSG),
	    err, sizeof(err)), RELEASE_OK);
	/* The trusted comment altered: the global signature fails. */
	memcpy(alt, MS_SIG, sizeof(alt));
	*strstr(alt, "trusted text") = 'T';
	assert_int_equal(release_sig_parse(alt, strlen(alt), &sig, NULL, 0),
	    UPLINK_OK);
	assert_int_equal(release_sig_verify(&sig, &pk, MS_MSG, strlen(MS_MSG),
	    err, sizeof(err)), RELEASE_ESIG_BAD);
	assert_non_null(strstr(err, "trusted comment's signature"));
	/* Another key id. */
	pk.id[0] ^= 1;
	assert_int_equal(release_sig_parse(MS_SIG, strlen(MS_SIG), &sig, NULL,
	    0), UPLINK_OK);
	assert_int_equal(release_sig_verify(&sig, &pk, MS_MSG, strlen(MS_MSG),
	    err, sizeof(err)), RELEASE_EKEY_UNKNOWN);
}

static void
test_sig_make_verify(void **state)
{
	struct release_seckey	 sk;
	struct release_pubkey	 pk;
	struct release_sig	 sig;
	struct buf		 b;

	(void)state;
	release_key_generate(false, &sk, &pk);
	buf_init(&b, RELEASE_SIGFILE_MAX);
	assert_int_equal(release_sig_make(&sk, "abc", 3, "u", "t c", &b),
	    UPLINK_OK);
	assert_int_equal(release_sig_parse(b.ptr, b.len, &sig, NULL, 0),
	    UPLINK_OK);
	assert_int_equal(release_sig_verify(&sig, &pk, "abc", 3, NULL, 0),
	    RELEASE_OK);
	buf_reset(&b);
	assert_int_equal(release_sig_make(&sk, "abc", 3, "u", "a\nb", &b),
	    UPLINK_EINVAL);
	buf_free(&b);
}

struct version_row {
	const char	*a, *b;
	int		 cmp;
};

static void
test_versions(void **state)
{
	static const struct version_row rows[] = {
		{ "0.1.0", "0.1.0", 0 }, { "0.2.0", "0.1.0", 1 },
		{ "0.10.0", "0.9.9", 1 }, { "1", "0.99", 1 },
		{ "0.1", "0.1.0", 0 }, { "0.1.0.1", "0.1", 1 },
		{ "0.0.9", "0.1.0", -1 },
	};
	static const char *good[] = { "0", "1.2", "1.2.3.4", "123456789.0" };
	static const char *bad[] = { "", ".1", "1.", "1..2", "1.2.3.4.5",
	    "1.x", "v1", "1234567890", "1.2-rc1", " 1" };
	size_t	 i;
	int	 c;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		c = release_version_cmp(rows[i].a, rows[i].b);
		if ((c > 0) - (c < 0) != rows[i].cmp)
			fail_msg("%s vs %s: %d", rows[i].a, rows[i].b, c);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!release_version_valid(good[i]))
			fail_msg("\"%s\" refused", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (release_version_valid(bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
}

static void
test_keyid_and_names(void **state)
{
	uint8_t	 id[RELEASE_KEYID_LEN];
	char	 t[RELEASE_KEYID_TEXT];

	(void)state;
	assert_true(release_keyid_parse("0ad2c6f29656b9ca", id));
	release_keyid_text(id, t);
	assert_string_equal(t, "0AD2C6F29656B9CA");
	assert_false(release_keyid_parse("0AD2C6F29656B9C", id));
	assert_false(release_keyid_parse("0AD2C6F29656B9CG", id));
	assert_true(release_name_valid("uplink-connector"));
	assert_true(release_name_valid("a.b_c-1"));
	assert_false(release_name_valid(".hidden"));
	assert_false(release_name_valid("../x"));
	assert_false(release_name_valid("a/b"));
	assert_false(release_name_valid(""));
	assert_false(release_name_valid("a b"));
}

static void
test_seckey(void **state)
{
	struct release_seckey	 sk, back;
	struct release_pubkey	 pk;
	struct buf		 b;
	char			 err[256], *p;

	(void)state;
	release_key_generate(true, &sk, &pk);
	buf_init(&b, 4096);
	assert_int_equal(release_seckey_format(&sk, &b), UPLINK_OK);
	assert_int_equal(release_seckey_parse(b.ptr, b.len, &back, err,
	    sizeof(err)), UPLINK_OK);
	assert_memory_equal(&sk, &back, sizeof(sk));
	assert_true(back.root);
	/* One character of the key changed: its halves disagree. */
	p = strrchr(b.ptr, ' ') + 5;
	*p = *p == 'A' ? 'B' : 'A';
	assert_int_equal(release_seckey_parse(b.ptr, b.len, &back, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_non_null(strstr(err, "damaged"));
	assert_int_equal(release_seckey_parse(MS_PUB, strlen(MS_PUB), &back,
	    err, sizeof(err)), UPLINK_EINVAL);
	buf_free(&b);
}

static void
test_cert_comment(void **state)
{
	static const struct text_row rows[] = {
		{ "ok", "uplink-cert key_id=0AD2C6F29656B9CA purpose=release-"
		    "signing expires=1800000000", UPLINK_OK, NULL },
		{ "other purpose", "uplink-cert key_id=0AD2C6F29656B9CA "
		    "purpose=tls expires=1", UPLINK_EINVAL, "is for \"tls\"" },
		{ "no expiry", "uplink-cert key_id=0AD2C6F29656B9CA purpose="
		    "release-signing", UPLINK_EINVAL, "is not \"uplink-cert" },
		{ "minisign default", "timestamp:1 file:x hashed",
		    UPLINK_EINVAL, "is not \"uplink-cert" },
		{ "bad expiry", "uplink-cert key_id=0AD2C6F29656B9CA purpose="
		    "release-signing expires=-5", UPLINK_EINVAL, "not valid" },
		{ "bad id", "uplink-cert key_id=XYZ purpose=release-signing "
		    "expires=5", UPLINK_EINVAL, "not valid" },
	};
	struct release_cert	 c;
	char			 err[256], out[256];
	uint8_t			 id[RELEASE_KEYID_LEN];
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		err[0] = '\0';
		rc = release_cert_comment_parse(rows[i].in, &c, err, sizeof(err));
		if (rc != rows[i].rc || (rows[i].why != NULL &&
		    strstr(err, rows[i].why) == NULL))
			fail_msg("%s: rc %d \"%s\"", rows[i].name, rc, err);
	}
	assert_true(release_keyid_parse("0AD2C6F29656B9CA", id));
	release_cert_comment(id, 1800000000, out, sizeof(out));
	assert_string_equal(out, rows[0].in);
}

/*
 * The policy: a root, a certified signing key, a manifest; each row
 * changes one thing and expects one verdict.
 */
#define NOW	1800000000LL

struct scene {
	struct release_seckey	 root, signer, other_root;
	struct release_pubkey	 root_pk, signer_pk, other_pk;
	struct release_manifest	 m;
	struct buf		 pub, cert, json, sig;
	uint8_t			 revoked[1][RELEASE_KEYID_LEN];
	struct release_policy	 pol;
};

enum mutation {
	M_NONE, M_REVOKED, M_EXPIRED, M_OTHER_ROOT, M_CHANNEL, M_ARCH,
	M_OLD, M_SAME, M_PINNED, M_REPLAY, M_SAME_TIME, M_FUTURE,
	M_TAMPER_JSON, M_ROOT_SIGNS, M_CERT_OTHER_ID, M_CERT_BY_OTHER,
	M_SIG_MISSING_LINE, M_COMMENT_MISMATCH, M_NOT_JSON, M_CERT_GARBAGE,
};

struct policy_row {
	const char	*name;
	enum mutation	 mut;
	int		 rc;
	const char	*why;
};

static const struct policy_row policy_rows[] = {
	{ "valid", M_NONE, RELEASE_OK, NULL },
	{ "revoked", M_REVOKED, RELEASE_EKEY_REVOKED, "is revoked" },
	{ "expired", M_EXPIRED, RELEASE_EKEY_EXPIRED, "expired at 1799999999" },
	{ "unknown root", M_OTHER_ROOT, RELEASE_ECERT_BAD,
	    "not certified by this connector's root key" },
	{ "channel", M_CHANNEL, RELEASE_ECHANNEL, "channel \"beta\"" },
	{ "arch", M_ARCH, RELEASE_EARCH, "built for s390x" },
	{ "older", M_OLD, RELEASE_EOLD, "0.0.9 is not newer than the "
	    "running 0.1.0" },
	{ "same", M_SAME, RELEASE_EOLD, "not newer" },
	{ "pinned rollback", M_PINNED, RELEASE_OK, NULL },
	{ "replay", M_REPLAY, RELEASE_EREPLAY, "an old manifest replayed" },
	{ "same signing time", M_SAME_TIME, RELEASE_OK, NULL },
	{ "future", M_FUTURE, RELEASE_EFUTURE, "more than a day after" },
	{ "manifest altered", M_TAMPER_JSON, RELEASE_ESIG_BAD,
	    "does not match the signed bytes" },
	{ "signed by the root", M_ROOT_SIGNS, RELEASE_EKEY_UNKNOWN,
	    "signed with the root key itself" },
	{ "certificate for another key", M_CERT_OTHER_ID, RELEASE_ECERT_BAD,
	    "names another key id" },
	{ "certified by another root", M_CERT_BY_OTHER, RELEASE_ECERT_BAD,
	    "is not the one built in" },
	{ "signature cut", M_SIG_MISSING_LINE, RELEASE_ESIG_BAD,
	    "expected four lines" },
	{ "comment does not match", M_COMMENT_MISMATCH, RELEASE_ESIG_BAD,
	    "does not match the manifest" },
	{ "not JSON", M_NOT_JSON, RELEASE_EMALFORMED, "not JSON" },
	{ "certificate garbage", M_CERT_GARBAGE, RELEASE_ECERT_BAD,
	    "its certificate" },
};

static void
scene_build(struct scene *s, enum mutation mut)
{
	char		 comment[RELEASE_COMMENT_MAX];
	int64_t		 expires = NOW + 86400;
	const struct release_seckey *certifier = &s->root, *signer = &s->signer;
	uint8_t		 cert_id[RELEASE_KEYID_LEN];

	memset(s, 0, sizeof(*s));
	release_key_generate(true, &s->root, &s->root_pk);
	release_key_generate(false, &s->signer, &s->signer_pk);
	release_key_generate(true, &s->other_root, &s->other_pk);
	buf_init(&s->pub, 4096);
	buf_init(&s->cert, 4096);
	buf_init(&s->json, RELEASE_MANIFEST_MAX);
	buf_init(&s->sig, 4096);
	release_pubkey_format(&s->signer_pk, &s->pub);
	memcpy(cert_id, s->signer_pk.id, sizeof(cert_id));
	if (mut == M_EXPIRED)
		expires = NOW - 1;
	if (mut == M_CERT_OTHER_ID)
		cert_id[0] ^= 1;
	if (mut == M_CERT_BY_OTHER)
		certifier = &s->other_root;
	release_cert_comment(cert_id, expires, comment, sizeof(comment));
	release_sig_make(certifier, s->pub.ptr, s->pub.len, "cert", comment,
	    &s->cert);
	snprintf(s->m.version, sizeof(s->m.version), "%s", mut == M_OLD ?
	    "0.0.9" : mut == M_SAME ? "0.1.0" : mut == M_PINNED ? "0.0.8" :
	    "0.2.0");
	snprintf(s->m.channel, sizeof(s->m.channel), "%s", mut == M_CHANNEL ?
	    "beta" : "stable");
	snprintf(s->m.arch, sizeof(s->m.arch), "%s", mut == M_ARCH ? "s390x" :
	    "amd64");
	s->m.signed_at = mut == M_FUTURE ? NOW + 2 * 86400 : NOW - 10;
	s->m.nfiles = 1;
	snprintf(s->m.files[0].name, sizeof(s->m.files[0].name), "uplink-"
	    "connector");
	s->m.files[0].size = 3;
	crypto_hash_sha256(s->m.files[0].sha256, (const uint8_t *)"abc", 3);
	s->m.pubkey_text = s->pub.ptr;
	if (mut == M_CERT_GARBAGE) {
		buf_reset(&s->cert);
		buf_appends(&s->cert, "garbage");
	}
	s->m.cert_text = s->cert.ptr;
	release_manifest_format(&s->m, &s->json);
	release_manifest_comment(&s->m, comment, sizeof(comment));
	if (mut == M_COMMENT_MISMATCH)
		comment[strlen(comment) - 1] ^= 1;
	if (mut == M_ROOT_SIGNS)
		signer = &s->root;
	release_sig_make(signer, s->json.ptr, s->json.len, "m", comment,
	    &s->sig);
	if (mut == M_TAMPER_JSON)
		strstr(s->json.ptr, "\"size\": 3")[8] = '4';
	if (mut == M_SIG_MISSING_LINE) {
		/* Drop the global signature line: keep three lines. */
		s->sig.ptr[s->sig.len - 1] = '\0';
		s->sig.len = (size_t)(strrchr(s->sig.ptr, '\n') + 1 - s->sig.ptr);
		s->sig.ptr[s->sig.len] = '\0';
	}
	if (mut == M_NOT_JSON)
		s->json.ptr[0] = '[';
	s->pol.root = mut == M_OTHER_ROOT ? s->other_pk : s->root_pk;
	memcpy(s->revoked[0], s->signer_pk.id, RELEASE_KEYID_LEN);
	s->pol.revoked = s->revoked;
	s->pol.nrevoked = mut == M_REVOKED ? 1 : 0;
	s->pol.running_version = "0.1.0";
	s->pol.allow_version = mut == M_PINNED ? "0.0.8" : NULL;
	s->pol.channel = "stable";
	s->pol.arch = "amd64";
	s->pol.now = NOW;
	s->pol.last_seen = mut == M_REPLAY ? NOW - 5 : mut == M_SAME_TIME ?
	    NOW - 10 : 0;
}

static void
test_policy(void **state)
{
	struct scene		*s = malloc(sizeof(*s));
	struct release_manifest	 m;
	char			 err[1024];
	size_t			 i;
	int			 rc;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < sizeof(policy_rows) / sizeof(policy_rows[0]); i++) {
		scene_build(s, policy_rows[i].mut);
		err[0] = '\0';
		rc = release_verify(&s->pol, s->json.ptr, s->json.len,
		    s->sig.ptr, s->sig.len, &m, err, sizeof(err));
		if (rc != policy_rows[i].rc || (policy_rows[i].why != NULL &&
		    strstr(err, policy_rows[i].why) == NULL))
			fail_msg("%s: rc %d \"%s\"", policy_rows[i].name, rc, err);
		if (rc == RELEASE_OK) {
			assert_int_equal(m.nfiles, 1);
			assert_string_equal(m.pubkey_text, s->pub.ptr);
		} else
			assert_null(m.pubkey_text);
		release_manifest_free(&m);
		buf_free(&s->pub);
		buf_free(&s->cert);
		buf_free(&s->json);
		buf_free(&s->sig);
	}
	free(s);
}

#define GOODFILE "{\"name\": \"uplink-connector\", \"size\": 3, \"sha256\": " \
	"\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}"
#define HEAD	"{\"format\": \"uplink-release-manifest-1\", \"product\": " \
	"\"uplink-connector\", \"version\": \"0.2.0\", \"channel\": " \
	"\"stable\", \"arch\": \"amd64\", \"signed_at\": 5, "
#define KEY	", \"signing_key\": {\"public_key\": \"p\", \"certificate\": " \
	"\"c\"}}"

static void
test_manifest_parse(void **state)
{
	static const struct text_row rows[] = {
		{ "ok", HEAD "\"files\": [" GOODFILE "]" KEY, UPLINK_OK, NULL },
		{ "no files", HEAD "\"files\": []" KEY, UPLINK_EINVAL,
		    "1 to 16 files" },
		{ "twice", HEAD "\"files\": [" GOODFILE ", " GOODFILE "]" KEY,
		    UPLINK_EINVAL, "listed twice" },
		{ "dot dot", HEAD "\"files\": [{\"name\": \"../x\", \"size\": 1, "
		    "\"sha256\": \"" "ba7816bf8f01cfea414140de5dae2223b00361a396"
		    "177a9cb410ff61f20015ad\"}]" KEY, UPLINK_EINVAL, "name is not" },
		{ "negative size", HEAD "\"files\": [{\"name\": \"a\", \"size\": "
		    "-1, \"sha256\": \"ba7816bf8f01cfea414140de5dae2223b00361a39"
		    "6177a9cb410ff61f20015ad\"}]" KEY, UPLINK_EINVAL, "size must" },
		{ "short hash", HEAD "\"files\": [{\"name\": \"a\", \"size\": 1, "
		    "\"sha256\": \"ba78\"}]" KEY, UPLINK_EINVAL, "64 hex digits" },
		{ "extra key", HEAD "\"files\": [" GOODFILE "], \"x\": 1" KEY,
		    UPLINK_EINVAL, "the manifest:" },
		{ "missing key", "{\"format\": \"uplink-release-manifest-1\"}",
		    UPLINK_EINVAL, "the manifest:" },
		{ "other format", "{\"format\": \"v2\", \"product\": \"uplink-"
		    "connector\", \"version\": \"0.2.0\", \"channel\": \"s\", "
		    "\"arch\": \"a\", \"signed_at\": 5, \"files\": [" GOODFILE "]"
		    KEY, UPLINK_EINVAL, "this connector reads" },
		{ "duplicate key", "{\"format\": \"a\", \"format\": \"b\"}",
		    UPLINK_EINVAL, "not JSON" },
		{ "not JSON", "]", UPLINK_EINVAL, "not JSON" },
	};
	struct release_manifest	 m;
	char			 err[512];
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		err[0] = '\0';
		rc = release_manifest_parse(rows[i].in, strlen(rows[i].in), &m,
		    err, sizeof(err));
		if (rc != rows[i].rc || (rows[i].why != NULL &&
		    strstr(err, rows[i].why) == NULL))
			fail_msg("%s: rc %d \"%s\"", rows[i].name, rc, err);
		release_manifest_free(&m);
	}
}

static void
test_file_check(void **state)
{
	struct release_file	 f;
	uint8_t			 h[32];
	char			 err[512];

	(void)state;
	memset(&f, 0, sizeof(f));
	snprintf(f.name, sizeof(f.name), "x");
	f.size = 3;
	crypto_hash_sha256(f.sha256, (const uint8_t *)"abc", 3);
	memcpy(h, f.sha256, 32);
	assert_int_equal(release_file_check(&f, 3, h, err, sizeof(err)),
	    RELEASE_OK);
	assert_int_equal(release_file_check(&f, 2, h, err, sizeof(err)),
	    RELEASE_ETRUNCATED);
	assert_non_null(strstr(err, "x: 2 bytes of 3"));
	assert_int_equal(release_file_check(&f, 4, h, err, sizeof(err)),
	    RELEASE_ESIZE);
	h[0] ^= 1;
	assert_int_equal(release_file_check(&f, 3, h, err, sizeof(err)),
	    RELEASE_EHASH);
	assert_non_null(strstr(err, "but the manifest states ba7816bf"));
	assert_string_equal(release_strerror(RELEASE_EHASH), "hash mismatch");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pubkey_parse),
		cmocka_unit_test(test_pubkey_format_roundtrip),
		cmocka_unit_test(test_sig_parse),
		cmocka_unit_test(test_minisign_interop),
		cmocka_unit_test(test_sig_make_verify),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_keyid_and_names),
		cmocka_unit_test(test_seckey),
		cmocka_unit_test(test_cert_comment),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_manifest_parse),
		cmocka_unit_test(test_file_check),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
