/*
 * The signed-release parsers (lib/pki/release.c): the first byte picks
 * one, the rest is its input. Every refusal must say why; a manifest that
 * parses must format and parse back to the same fields; a signature that
 * parses is verified against a fixed key (it must never verify: the
 * fuzzer does not know the secret key), and the whole policy runs on the
 * input as a manifest with a fixed signature.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "error.h"
#include "release.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PUB "RWTKuVaW8sbSCuRldnKbmbur9HGfFFzxM2WpIwXFHR17JY87AEZZFdCP"
#define FUZZ_SIG "untrusted comment: x\n" \
		"RUTKuVaW8sbSCuhbVLAQOlkiuj6zBQK77B7KTMn2CreLxV24rAbcTIAAq4mW" \
		"pFtjhoyBs4n65gXiskJFxbl2+RfdqOhaQKGoVgw=\n" \
		"trusted comment: trusted text\n" \
		"em4xN2gUbdNJ8ppnlsfP9/jw4LgQUrLAeaehDY5FXf/+jkAFHva6B20lJirj" \
		"/YH6P01sCVkuDm5hU5o7fgn0Aw==\n"

static void
need_reason(int rc, const char *err)
{
	if (rc != UPLINK_OK && err[0] == '\0')
		abort();
}

static void
fuzz_manifest(const char *s, size_t len)
{
	struct release_manifest	 m, back;
	struct buf		 b;
	char			 err[512] = "";
	int			 rc;

	rc = release_manifest_parse(s, len, &m, err, sizeof(err));
	need_reason(rc, err);
	if (rc != UPLINK_OK)
		return;
	buf_init(&b, 4 * RELEASE_MANIFEST_MAX);
	if (release_manifest_format(&m, &b) != UPLINK_OK)
		abort();
	if (release_manifest_parse(b.ptr, b.len, &back, err, sizeof(err)) !=
	    UPLINK_OK && b.len <= RELEASE_MANIFEST_MAX)
		abort();
	if (b.len <= RELEASE_MANIFEST_MAX && (strcmp(m.version,
	    back.version) != 0 || m.nfiles != back.nfiles ||
	    memcmp(m.files, back.files, sizeof(m.files)) != 0 ||
	    strcmp(m.cert_text, back.cert_text) != 0))
		abort();
	release_manifest_free(&back);
	release_manifest_free(&m);
	buf_free(&b);
}

static void
fuzz_sig(const char *s, size_t len)
{
	struct release_pubkey	 pk;
	struct release_sig	 sig;
	char			 err[512] = "";
	int			 rc;

	rc = release_sig_parse(s, len, &sig, err, sizeof(err));
	need_reason(rc, err);
	if (rc != UPLINK_OK)
		return;
	if (release_pubkey_parse(FUZZ_PUB, strlen(FUZZ_PUB), &pk, NULL, 0) !=
	    UPLINK_OK)
		abort();
	if (release_sig_verify(&sig, &pk, s, len, err, sizeof(err)) ==
	    RELEASE_OK)
		abort();
}

static void
fuzz_policy(const char *s, size_t len)
{
	struct release_policy	 pol;
	struct release_manifest	 m;
	char			 err[1024] = "";
	int			 rc;

	memset(&pol, 0, sizeof(pol));
	if (release_pubkey_parse(FUZZ_PUB, strlen(FUZZ_PUB), &pol.root, NULL,
	    0) != UPLINK_OK)
		abort();
	pol.running_version = "0.1.0";
	pol.channel = "stable";
	pol.arch = "amd64";
	pol.now = 1800000000;
	rc = release_verify(&pol, s, len, FUZZ_SIG, strlen(FUZZ_SIG), &m, err,
	    sizeof(err));
	if (rc == RELEASE_OK)
		abort();	/* nothing the fuzzer makes is signed */
	need_reason(rc, err);
	if (m.pubkey_text != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct release_pubkey	 pk;
	struct release_seckey	 sk;
	struct release_cert	 c;
	char			*s, err[512] = "";
	size_t			 len;

	if (size < 1 || sodium_init() < 0)
		return 0;
	len = size - 1;
	s = malloc(len + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data + 1, len);
	s[len] = '\0';
	switch (data[0] % 6) {
	case 0:
		need_reason(release_pubkey_parse(s, len, &pk, err, sizeof(err)),
		    err);
		break;
	case 1:
		fuzz_sig(s, len);
		break;
	case 2:
		fuzz_manifest(s, len);
		break;
	case 3:
		need_reason(release_cert_comment_parse(s, &c, err, sizeof(err)),
		    err);
		break;
	case 4:
		need_reason(release_seckey_parse(s, len, &sk, err, sizeof(err)),
		    err);
		break;
	default:
		fuzz_policy(s, len);
		break;
	}
	(void)release_version_valid(s);
	if (release_version_valid(s) && release_version_cmp(s, s) != 0)
		abort();
	free(s);
	return 0;
}
