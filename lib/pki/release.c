/*
 * Signed releases: minisign's key and signature formats, uplink-release's
 * secret key file, the release manifest and the connector's policy on it.
 * No I/O: callers pass bytes (release.h, docs/updates.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "error.h"
#include "input.h"
#include "release.h"

#define B64		sodium_base64_VARIANT_ORIGINAL
#define UNTRUSTED	"untrusted comment: "
#define TRUSTED		"trusted comment: "
#define SECKEY_TAG	"uplink-release-secret-key-1"

const char *
release_strerror(int rc)
{
	switch (rc) {
	case RELEASE_OK:		return "verified";
	case RELEASE_EIO:		return "file error";
	case RELEASE_EMALFORMED:	return "malformed manifest";
	case RELEASE_ESIG_MISSING:	return "missing signature";
	case RELEASE_ESIG_BAD:		return "bad signature";
	case RELEASE_EKEY_UNKNOWN:	return "unknown signing key";
	case RELEASE_ECERT_BAD:		return "signing key not certified by the root";
	case RELEASE_EKEY_EXPIRED:	return "signing key expired";
	case RELEASE_EKEY_REVOKED:	return "signing key revoked";
	case RELEASE_ECHANNEL:		return "wrong channel";
	case RELEASE_EARCH:		return "wrong architecture";
	case RELEASE_EOLD:		return "version not newer";
	case RELEASE_EREPLAY:		return "replayed older manifest";
	case RELEASE_EFUTURE:		return "signing time in the future";
	case RELEASE_ETRUNCATED:	return "truncated file";
	case RELEASE_ESIZE:		return "size mismatch";
	case RELEASE_EHASH:		return "hash mismatch";
	case RELEASE_ENOROOT:		return "no root key";
	}
	return uplink_strerror(rc);
}

void
release_keyid_text(const uint8_t id[RELEASE_KEYID_LEN],
    char out[RELEASE_KEYID_TEXT])
{
	static const char hex[] = "0123456789ABCDEF";
	int	 i;

	/* minisign prints the id as a little-endian 64-bit number. */
	for (i = 0; i < RELEASE_KEYID_LEN; i++) {
		out[2 * i] = hex[id[RELEASE_KEYID_LEN - 1 - i] >> 4];
		out[2 * i + 1] = hex[id[RELEASE_KEYID_LEN - 1 - i] & 0xf];
	}
	out[16] = '\0';
}

bool
release_keyid_parse(const char *s, uint8_t id[RELEASE_KEYID_LEN])
{
	int	 i, hi, lo;

	if (strlen(s) != 16)
		return false;
	for (i = 0; i < RELEASE_KEYID_LEN; i++) {
		hi = input_hexval(s[2 * i]);
		lo = input_hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		id[RELEASE_KEYID_LEN - 1 - i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/*
 * Splits text into at most max lines (without their "\n" or "\r\n");
 * a last line without a newline counts. Returns the number of lines, or
 * -1 when there are more, an empty line inside, or a NUL byte.
 */
struct line {
	const char	*p;
	size_t		 len;
};

static int
split_lines(const char *text, size_t len, struct line *lines, int max)
{
	size_t	 i, start = 0;
	int	 n = 0;

	if (memchr(text, '\0', len) != NULL)
		return -1;
	for (i = 0; i <= len; i++) {
		if (i < len && text[i] != '\n')
			continue;
		if (i == len && start == len)
			break;
		if (n == max)
			return -1;
		lines[n].p = text + start;
		lines[n].len = i - start;
		if (lines[n].len > 0 && lines[n].p[lines[n].len - 1] == '\r')
			lines[n].len--;
		n++;
		start = i + 1;
	}
	return n;
}

static bool
b64_exact(const struct line *l, uint8_t *bin, size_t want)
{
	size_t		 got = 0;
	const char	*end = NULL;

	if (sodium_base642bin(bin, want, l->p, l->len, NULL, &got, &end,
	    B64) != 0)
		return false;
	return got == want && end == l->p + l->len;
}

static bool
has_prefix(const struct line *l, const char *prefix)
{
	size_t	 n = strlen(prefix);

	return l->len >= n && memcmp(l->p, prefix, n) == 0;
}

int
release_pubkey_parse(const char *text, size_t len, struct release_pubkey *pk,
    char *err, size_t errlen)
{
	struct line	 l[2];
	uint8_t		 bin[2 + RELEASE_KEYID_LEN + RELEASE_PK_LEN];
	int		 n;

	if (len > RELEASE_KEYFILE_MAX)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "a public key "
		    "file of %zu bytes: minisign's has two short lines", len);
	n = split_lines(text, len, l, 2);
	if (n < 1 || (n == 2 && !has_prefix(&l[0], UNTRUSTED)) ||
	    (n == 1 && has_prefix(&l[0], UNTRUSTED)))
		return uplink_fail(UPLINK_EINVAL, err, errlen, "not a minisign "
		    "public key: give the .pub file (\"untrusted comment: "
		    "...\" and a base64 line) or its base64 line");
	if (!b64_exact(&l[n - 1], bin, sizeof(bin)))
		return uplink_fail(UPLINK_EINVAL, err, errlen, "not a minisign "
		    "public key: the key line is not base64 of %zu bytes",
		    sizeof(bin));
	if (bin[0] != 'E' || bin[1] != 'd')
		return uplink_fail(UPLINK_EINVAL, err, errlen, "not an Ed25519 "
		    "minisign public key (algorithm \"%c%c\", expected \"Ed\")",
		    bin[0] >= 0x20 && bin[0] < 0x7f ? bin[0] : '?',
		    bin[1] >= 0x20 && bin[1] < 0x7f ? bin[1] : '?');
	memcpy(pk->id, bin + 2, RELEASE_KEYID_LEN);
	memcpy(pk->pk, bin + 2 + RELEASE_KEYID_LEN, RELEASE_PK_LEN);
	return UPLINK_OK;
}

static int
append_b64(struct buf *out, const uint8_t *bin, size_t len)
{
	char	 b64[256];

	sodium_bin2base64(b64, sizeof(b64), bin, len, B64);
	return buf_appendf(out, "%s\n", b64);
}

int
release_pubkey_format(const struct release_pubkey *pk, struct buf *out)
{
	uint8_t	 bin[2 + RELEASE_KEYID_LEN + RELEASE_PK_LEN];
	char	 id[RELEASE_KEYID_TEXT];
	int	 rc;

	release_keyid_text(pk->id, id);
	bin[0] = 'E';
	bin[1] = 'd';
	memcpy(bin + 2, pk->id, RELEASE_KEYID_LEN);
	memcpy(bin + 2 + RELEASE_KEYID_LEN, pk->pk, RELEASE_PK_LEN);
	rc = buf_appendf(out, UNTRUSTED "minisign public key %s\n", id);
	if (rc == UPLINK_OK)
		rc = append_b64(out, bin, sizeof(bin));
	return rc;
}

int
release_sig_parse(const char *text, size_t len, struct release_sig *sig,
    char *err, size_t errlen)
{
	struct line	 l[4];
	uint8_t		 bin[2 + RELEASE_KEYID_LEN + RELEASE_SIG_LEN];
	size_t		 tn = strlen(TRUSTED);
	int		 n;

	if (len > RELEASE_SIGFILE_MAX)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "a signature file "
		    "of %zu bytes: minisign's has four short lines", len);
	n = split_lines(text, len, l, 4);
	if (n != 4 || !has_prefix(&l[0], UNTRUSTED) ||
	    !has_prefix(&l[2], TRUSTED))
		return uplink_fail(UPLINK_EINVAL, err, errlen, "not a minisign "
		    "signature: expected four lines, \"untrusted comment:\", "
		    "the signature, \"trusted comment:\", the global signature");
	if (!b64_exact(&l[1], bin, sizeof(bin)))
		return uplink_fail(UPLINK_EINVAL, err, errlen, "not a minisign "
		    "signature: line 2 is not base64 of %zu bytes", sizeof(bin));
	if (bin[0] != 'E' || (bin[1] != 'D' && bin[1] != 'd'))
		return uplink_fail(UPLINK_EINVAL, err, errlen, "unknown "
		    "signature algorithm: expected \"ED\" (prehashed Ed25519) "
		    "or \"Ed\"");
	if (l[2].len - tn >= sizeof(sig->trusted))
		return uplink_fail(UPLINK_EINVAL, err, errlen, "the trusted "
		    "comment is longer than %zu bytes", sizeof(sig->trusted) - 1);
	if (!b64_exact(&l[3], sig->global, RELEASE_SIG_LEN))
		return uplink_fail(UPLINK_EINVAL, err, errlen, "not a minisign "
		    "signature: line 4 is not base64 of %d bytes",
		    RELEASE_SIG_LEN);
	sig->prehashed = bin[1] == 'D';
	memcpy(sig->id, bin + 2, RELEASE_KEYID_LEN);
	memcpy(sig->sig, bin + 2 + RELEASE_KEYID_LEN, RELEASE_SIG_LEN);
	memcpy(sig->trusted, l[2].p + tn, l[2].len - tn);
	sig->trusted[l[2].len - tn] = '\0';
	return UPLINK_OK;
}

int
release_sig_verify(const struct release_sig *sig,
    const struct release_pubkey *pk, const void *msg, size_t len, char *err,
    size_t errlen)
{
	uint8_t		 h[crypto_generichash_BYTES_MAX];
	uint8_t		 g[RELEASE_SIG_LEN + RELEASE_COMMENT_MAX];
	size_t		 tlen = strlen(sig->trusted);
	char		 want[RELEASE_KEYID_TEXT], got[RELEASE_KEYID_TEXT];
	int		 bad;

	if (memcmp(sig->id, pk->id, RELEASE_KEYID_LEN) != 0) {
		release_keyid_text(sig->id, got);
		release_keyid_text(pk->id, want);
		return uplink_fail(RELEASE_EKEY_UNKNOWN, err, errlen, "signed "
		    "by key %s, not by key %s", got, want);
	}
	if (sig->prehashed) {
		crypto_generichash(h, sizeof(h), msg, len, NULL, 0);
		bad = crypto_sign_verify_detached(sig->sig, h, sizeof(h),
		    pk->pk);
	} else
		bad = crypto_sign_verify_detached(sig->sig, msg, len, pk->pk);
	if (bad != 0)
		return uplink_fail(RELEASE_ESIG_BAD, err, errlen, "the signature "
		    "does not match the signed bytes (altered after signing, "
		    "or signed by another key with the same id)");
	memcpy(g, sig->sig, RELEASE_SIG_LEN);
	memcpy(g + RELEASE_SIG_LEN, sig->trusted, tlen);
	if (crypto_sign_verify_detached(sig->global, g, RELEASE_SIG_LEN + tlen,
	    pk->pk) != 0)
		return uplink_fail(RELEASE_ESIG_BAD, err, errlen, "the trusted "
		    "comment's signature does not verify (the comment was "
		    "altered)");
	return RELEASE_OK;
}

static bool
comment_ok(const char *s)
{
	return strlen(s) < RELEASE_COMMENT_MAX && strpbrk(s, "\r\n") == NULL;
}

int
release_sig_make(const struct release_seckey *sk, const void *msg,
    size_t len, const char *untrusted, const char *trusted, struct buf *out)
{
	uint8_t		 h[crypto_generichash_BYTES_MAX];
	uint8_t		 bin[2 + RELEASE_KEYID_LEN + RELEASE_SIG_LEN];
	uint8_t		 g[RELEASE_SIG_LEN + RELEASE_COMMENT_MAX], global[64];
	size_t		 tlen = strlen(trusted);
	int		 rc;

	if (!comment_ok(untrusted) || !comment_ok(trusted))
		return UPLINK_EINVAL;
	crypto_generichash(h, sizeof(h), msg, len, NULL, 0);
	bin[0] = 'E';
	bin[1] = 'D';
	memcpy(bin + 2, sk->id, RELEASE_KEYID_LEN);
	crypto_sign_detached(bin + 2 + RELEASE_KEYID_LEN, NULL, h, sizeof(h),
	    sk->sk);
	memcpy(g, bin + 2 + RELEASE_KEYID_LEN, RELEASE_SIG_LEN);
	memcpy(g + RELEASE_SIG_LEN, trusted, tlen);
	crypto_sign_detached(global, NULL, g, RELEASE_SIG_LEN + tlen, sk->sk);
	rc = buf_appendf(out, UNTRUSTED "%s\n", untrusted);
	if (rc == UPLINK_OK)
		rc = append_b64(out, bin, sizeof(bin));
	if (rc == UPLINK_OK)
		rc = buf_appendf(out, TRUSTED "%s\n", trusted);
	if (rc == UPLINK_OK)
		rc = append_b64(out, global, sizeof(global));
	return rc;
}

void
release_key_generate(bool root, struct release_seckey *sk,
    struct release_pubkey *pk)
{
	uint8_t	 pub[RELEASE_PK_LEN];

	crypto_sign_keypair(pub, sk->sk);
	randombytes_buf(sk->id, RELEASE_KEYID_LEN);
	sk->root = root;
	release_seckey_public(sk, pk);
}

void
release_seckey_public(const struct release_seckey *sk,
    struct release_pubkey *pk)
{
	memcpy(pk->id, sk->id, RELEASE_KEYID_LEN);
	crypto_sign_ed25519_sk_to_pk(pk->pk, sk->sk);
}

/*
 * uplink-release's secret key file: one comment line, then
 * "uplink-release-secret-key-1 root|signing KEYID BASE64(sk)". Not
 * minisign's (that one is scrypt-encrypted); the file is kept offline,
 * mode 0600.
 */
int
release_seckey_parse(const char *text, size_t len, struct release_seckey *sk,
    char *err, size_t errlen)
{
	struct line	 l[2];
	char		 body[256], *purpose, *id, *b64, *save = NULL;
	uint8_t		 seed_pk[RELEASE_PK_LEN], seed_sk[RELEASE_SK_LEN];
	size_t		 got = 0;
	const char	*end = NULL;
	int		 rc = UPLINK_EINVAL;

	if (len > RELEASE_KEYFILE_MAX || split_lines(text, len, l, 2) != 2 ||
	    !has_prefix(&l[0], UNTRUSTED) || l[1].len >= sizeof(body))
		return uplink_fail(rc, err, errlen, "not an uplink-release "
		    "secret key file (made by \"uplink-release keygen\")");
	memcpy(body, l[1].p, l[1].len);
	body[l[1].len] = '\0';
	purpose = strtok_r(body, " ", &save);
	purpose = purpose != NULL && strcmp(purpose, SECKEY_TAG) == 0 ?
	    strtok_r(NULL, " ", &save) : NULL;
	id = strtok_r(NULL, " ", &save);
	b64 = strtok_r(NULL, " ", &save);
	if (purpose == NULL || id == NULL || b64 == NULL ||
	    strtok_r(NULL, " ", &save) != NULL ||
	    (strcmp(purpose, "root") != 0 && strcmp(purpose, "signing") != 0) ||
	    !release_keyid_parse(id, sk->id) ||
	    sodium_base642bin(sk->sk, sizeof(sk->sk), b64, strlen(b64), NULL,
	    &got, &end, B64) != 0 || got != sizeof(sk->sk) || *end != '\0')
		goto fail;
	sk->root = strcmp(purpose, "root") == 0;
	/* The public half stored in sk must be the seed's. */
	crypto_sign_seed_keypair(seed_pk, seed_sk, sk->sk);
	sodium_memzero(seed_sk, sizeof(seed_sk));
	if (memcmp(seed_pk, sk->sk + 32, RELEASE_PK_LEN) != 0)
		goto fail;
	sodium_memzero(body, sizeof(body));
	return UPLINK_OK;
fail:
	sodium_memzero(body, sizeof(body));
	sodium_memzero(sk, sizeof(*sk));
	return uplink_fail(rc, err, errlen, "damaged uplink-release secret "
	    "key file: the key line must read \"" SECKEY_TAG " root|signing "
	    "KEYID BASE64\" with a consistent key");
}

int
release_seckey_format(const struct release_seckey *sk, struct buf *out)
{
	char	 id[RELEASE_KEYID_TEXT], b64[128];
	int	 rc;

	release_keyid_text(sk->id, id);
	sodium_bin2base64(b64, sizeof(b64), sk->sk, sizeof(sk->sk), B64);
	rc = buf_appendf(out, UNTRUSTED "uplink-release %s secret key %s; "
	    "keep it offline\n" SECKEY_TAG " %s %s %s\n", sk->root ? "root" :
	    "signing", id, sk->root ? "root" : "signing", id, b64);
	sodium_memzero(b64, sizeof(b64));
	return rc;
}

/* "key=value" words of a trusted comment: value of key, or NULL. */
static const char *
comment_word(const char *s, const char *key, char *val, size_t vallen)
{
	size_t		 kn = strlen(key), n;
	const char	*p = s, *e;

	while (*p != '\0') {
		e = strchr(p, ' ');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (n > kn && memcmp(p, key, kn) == 0 && p[kn] == '=') {
			if (n - kn - 1 >= vallen)
				return NULL;
			memcpy(val, p + kn + 1, n - kn - 1);
			val[n - kn - 1] = '\0';
			return val;
		}
		p += n;
		while (*p == ' ')
			p++;
	}
	return NULL;
}

static bool
parse_i64(const char *s, int64_t *out)
{
	char		*end;
	long long	 v;

	if (*s < '0' || *s > '9')
		return false;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || v < 0 || v > INT64_MAX / 2)
		return false;
	*out = v;
	return true;
}

int
release_cert_comment_parse(const char *s, struct release_cert *c, char *err,
    size_t errlen)
{
	char	 id[32], purpose[64], exp[32];

	if (strncmp(s, "uplink-cert ", 12) != 0 ||
	    comment_word(s, "key_id", id, sizeof(id)) == NULL ||
	    comment_word(s, "purpose", purpose, sizeof(purpose)) == NULL ||
	    comment_word(s, "expires", exp, sizeof(exp)) == NULL)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "the "
		    "certificate's trusted comment is not \"uplink-cert "
		    "key_id=ID purpose=" RELEASE_PURPOSE " expires=UNIX\" (made "
		    "by \"uplink-release certify\")");
	if (strcmp(purpose, RELEASE_PURPOSE) != 0)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "the certificate "
		    "is for \"%s\", not for " RELEASE_PURPOSE, purpose);
	if (!release_keyid_parse(id, c->id) || !parse_i64(exp, &c->expires))
		return uplink_fail(UPLINK_EINVAL, err, errlen, "the "
		    "certificate's key_id or expires is not valid");
	return UPLINK_OK;
}

void
release_cert_comment(const uint8_t id[RELEASE_KEYID_LEN], int64_t expires,
    char *out, size_t outlen)
{
	char	 t[RELEASE_KEYID_TEXT];

	release_keyid_text(id, t);
	snprintf(out, outlen, "uplink-cert key_id=%s purpose=" RELEASE_PURPOSE
	    " expires=%" PRId64, t, expires);
}

void
release_manifest_comment(const struct release_manifest *m, char *out,
    size_t outlen)
{
	snprintf(out, outlen, "uplink-release version=%s channel=%s arch=%s "
	    "signed_at=%" PRId64, m->version, m->channel, m->arch,
	    m->signed_at);
}

bool
release_version_valid(const char *v)
{
	int	 parts = 0, digits = 0;

	for (;; v++) {
		if (*v >= '0' && *v <= '9') {
			if (++digits > 9)
				return false;
			continue;
		}
		if (digits == 0 || (*v != '.' && *v != '\0') || ++parts > 4)
			return false;
		if (*v == '\0')
			return true;
		digits = 0;
	}
}

int
release_version_cmp(const char *a, const char *b)
{
	unsigned long	 x, y;
	char		*ea, *eb;

	while (*a != '\0' || *b != '\0') {
		x = *a != '\0' ? strtoul(a, &ea, 10) : 0;
		y = *b != '\0' ? strtoul(b, &eb, 10) : 0;
		if (x != y)
			return x < y ? -1 : 1;
		a = *a != '\0' ? ea + (*ea == '.') : a;
		b = *b != '\0' ? eb + (*eb == '.') : b;
	}
	return 0;
}

bool
release_name_valid(const char *s)
{
	size_t	 n = strlen(s);

	if (n == 0 || n > RELEASE_NAME_MAX || s[0] == '.')
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == n;
}

static bool
word_valid(const char *s)
{
	size_t	 n = strlen(s);

	return n > 0 && n <= RELEASE_WORD_MAX &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static bool
copy_str(char *dst, size_t dstlen, const char *s)
{
	if (strlen(s) >= dstlen)
		return false;
	memcpy(dst, s, strlen(s) + 1);
	return true;
}

static bool
hex32(const char *s, uint8_t out[32])
{
	int	 i, hi, lo;

	if (strlen(s) != 64)
		return false;
	for (i = 0; i < 32; i++) {
		hi = input_hexval(s[2 * i]);
		lo = input_hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static int
manifest_file(json_t *jf, struct release_manifest *m, size_t i, char *err,
    size_t errlen)
{
	struct release_file	*f = &m->files[i];
	const char		*name, *hash;
	json_int_t		 size;
	json_error_t		 je;
	size_t			 j;

	if (json_unpack_ex(jf, &je, JSON_STRICT, "{s:s, s:I, s:s}", "name",
	    &name, "size", &size, "sha256", &hash) != 0)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "files[%zu]: %s "
		    "(each file is {\"name\", \"size\", \"sha256\"})", i, je.text);
	if (!release_name_valid(name))
		return uplink_fail(UPLINK_EINVAL, err, errlen, "files[%zu]: name "
		    "is not 1 to %d of A-Z a-z 0-9 . _ - (no leading dot)", i,
		    RELEASE_NAME_MAX);
	if (size < 0 || (unsigned long long)size > RELEASE_FILESIZE_MAX)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "files[%zu]: size "
		    "must be 0 to %llu bytes", i, RELEASE_FILESIZE_MAX);
	if (!hex32(hash, f->sha256))
		return uplink_fail(UPLINK_EINVAL, err, errlen, "files[%zu]: "
		    "sha256 is not 64 hex digits", i);
	for (j = 0; j < i; j++)
		if (strcmp(m->files[j].name, name) == 0)
			return uplink_fail(UPLINK_EINVAL, err, errlen, "files[%zu]:"
			    " \"%s\" is listed twice", i, name);
	copy_str(f->name, sizeof(f->name), name);
	f->size = (uint64_t)size;
	return UPLINK_OK;
}

static int
manifest_fields(json_t *root, struct release_manifest *m, char *err,
    size_t errlen)
{
	const char	*format, *product, *version, *channel, *arch, *pub, *cert;
	json_int_t	 signed_at;
	json_t		*files;
	json_error_t	 je;
	size_t		 i;
	int		 rc;

	if (json_unpack_ex(root, &je, JSON_STRICT, "{s:s, s:s, s:s, s:s, s:s, "
	    "s:I, s:o, s:{s:s, s:s}}", "format", &format, "product", &product,
	    "version", &version, "channel", &channel, "arch", &arch,
	    "signed_at", &signed_at, "files", &files, "signing_key",
	    "public_key", &pub, "certificate", &cert) != 0)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "%s", je.text);
	if (strcmp(format, RELEASE_FORMAT) != 0 ||
	    strcmp(product, RELEASE_PRODUCT) != 0)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "format \"%.40s\" "
		    "of product \"%.40s\": this connector reads \"" RELEASE_FORMAT
		    "\" of \"" RELEASE_PRODUCT "\"", format, product);
	if (!release_version_valid(version) || !copy_str(m->version,
	    sizeof(m->version), version))
		return uplink_fail(UPLINK_EINVAL, err, errlen, "version is not "
		    "1 to 4 dot-separated numbers (\"0.2.0\")");
	if (!word_valid(channel) || !word_valid(arch))
		return uplink_fail(UPLINK_EINVAL, err, errlen, "channel and arch "
		    "are 1 to %d of a-z 0-9 -", RELEASE_WORD_MAX);
	copy_str(m->channel, sizeof(m->channel), channel);
	copy_str(m->arch, sizeof(m->arch), arch);
	if (signed_at <= 0)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "signed_at is not "
		    "a positive Unix time");
	m->signed_at = signed_at;
	if (!json_is_array(files) || json_array_size(files) == 0 ||
	    json_array_size(files) > RELEASE_FILES_MAX)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "files must list "
		    "1 to %d files", RELEASE_FILES_MAX);
	for (i = 0; i < json_array_size(files); i++) {
		rc = manifest_file(json_array_get(files, i), m, i, err, errlen);
		if (rc != UPLINK_OK)
			return rc;
	}
	m->nfiles = json_array_size(files);
	m->pubkey_text = strdup(pub);
	m->cert_text = strdup(cert);
	if (m->pubkey_text == NULL || m->cert_text == NULL)
		return uplink_fail(UPLINK_ENOMEM, err, errlen, "out of memory");
	return UPLINK_OK;
}

int
release_manifest_parse(const char *text, size_t len,
    struct release_manifest *m, char *err, size_t errlen)
{
	json_t		*root;
	json_error_t	 je;
	char		 why[300];
	int		 rc;

	memset(m, 0, sizeof(*m));
	if (len > RELEASE_MANIFEST_MAX)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "the manifest is "
		    "%zu bytes, more than the %d allowed", len,
		    RELEASE_MANIFEST_MAX);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "the manifest is "
		    "not JSON: line %d: %s", je.line, je.text);
	rc = manifest_fields(root, m, why, sizeof(why));
	json_decref(root);
	if (rc != UPLINK_OK) {
		release_manifest_free(m);
		return uplink_fail(rc, err, errlen, "the manifest: %s", why);
	}
	return UPLINK_OK;
}

void
release_manifest_free(struct release_manifest *m)
{
	free(m->pubkey_text);
	free(m->cert_text);
	m->pubkey_text = NULL;
	m->cert_text = NULL;
}

int
release_manifest_format(const struct release_manifest *m, struct buf *out)
{
	json_t	*root, *files, *f;
	char	 hex[65], *s;
	size_t	 i;
	int	 rc = UPLINK_ENOMEM;

	files = json_array();
	for (i = 0; files != NULL && i < m->nfiles; i++) {
		sodium_bin2hex(hex, sizeof(hex), m->files[i].sha256, 32);
		f = json_pack("{s:s, s:I, s:s}", "name", m->files[i].name,
		    "size", (json_int_t)m->files[i].size, "sha256", hex);
		if (f == NULL || json_array_append_new(files, f) != 0) {
			json_decref(files);
			return UPLINK_ENOMEM;
		}
	}
	if (files == NULL)
		return UPLINK_ENOMEM;
	root = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:{s:s, s:s}}",
	    "format", RELEASE_FORMAT, "product", RELEASE_PRODUCT,
	    "version", m->version, "channel", m->channel, "arch", m->arch,
	    "signed_at", (json_int_t)m->signed_at, "files", files,
	    "signing_key", "public_key", m->pubkey_text != NULL ?
	    m->pubkey_text : "", "certificate", m->cert_text != NULL ?
	    m->cert_text : "");
	if (root == NULL)
		return UPLINK_ENOMEM;
	s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (s != NULL) {
		rc = buf_appendf(out, "%s\n", s);
		free(s);
	}
	return rc;
}

/* The signing key named by the manifest, certified by the root. */
static int
verify_cert(const struct release_policy *pol, const struct release_manifest *m,
    struct release_pubkey *signer, char *err, size_t errlen)
{
	struct release_sig	 cert;
	struct release_cert	 cc;
	char			 why[300], id[RELEASE_KEYID_TEXT];
	size_t			 i;
	int			 rc;

	if (release_pubkey_parse(m->pubkey_text, strlen(m->pubkey_text),
	    signer, why, sizeof(why)) != UPLINK_OK)
		return uplink_fail(RELEASE_EMALFORMED, err, errlen, "the "
		    "manifest's signing key: %s", why);
	release_keyid_text(signer->id, id);
	if (release_sig_parse(m->cert_text, strlen(m->cert_text), &cert, why,
	    sizeof(why)) != UPLINK_OK)
		return uplink_fail(RELEASE_ECERT_BAD, err, errlen, "signing key "
		    "%s: its certificate: %s", id, why);
	rc = release_sig_verify(&cert, &pol->root, m->pubkey_text,
	    strlen(m->pubkey_text), why, sizeof(why));
	if (rc != RELEASE_OK)
		return uplink_fail(RELEASE_ECERT_BAD, err, errlen, "signing key "
		    "%s is not certified by this connector's root key: %s%s", id,
		    why, rc == RELEASE_EKEY_UNKNOWN ? " (the root key that "
		    "certified it is not the one built in or set in [update] "
		    "root_key)" : "");
	if (release_cert_comment_parse(cert.trusted, &cc, why, sizeof(why)) !=
	    UPLINK_OK)
		return uplink_fail(RELEASE_ECERT_BAD, err, errlen, "signing key "
		    "%s: %s", id, why);
	if (memcmp(cc.id, signer->id, RELEASE_KEYID_LEN) != 0)
		return uplink_fail(RELEASE_ECERT_BAD, err, errlen, "signing key "
		    "%s: its certificate names another key id", id);
	for (i = 0; i < pol->nrevoked; i++)
		if (memcmp(pol->revoked[i], signer->id, RELEASE_KEYID_LEN) == 0)
			return uplink_fail(RELEASE_EKEY_REVOKED, err, errlen,
			    "signing key %s is revoked ([update] revoked_keys); "
			    "have the release signed with a current signing key",
			    id);
	if (cc.expires <= pol->now)
		return uplink_fail(RELEASE_EKEY_EXPIRED, err, errlen, "signing "
		    "key %s expired at %" PRId64 " (Unix time; now %" PRId64 "); "
		    "have the release signed again with a key the root "
		    "certified more recently", id, cc.expires, pol->now);
	return RELEASE_OK;
}

/* What the signed manifest says, against this connector. */
static int
verify_fields(const struct release_policy *pol,
    const struct release_manifest *m, char *err, size_t errlen)
{
	if (strcmp(m->channel, pol->channel) != 0)
		return uplink_fail(RELEASE_ECHANNEL, err, errlen, "release %s is "
		    "for channel \"%s\"; this connector follows \"%s\" ([update] "
		    "channel)", m->version, m->channel, pol->channel);
	if (strcmp(m->arch, pol->arch) != 0)
		return uplink_fail(RELEASE_EARCH, err, errlen, "release %s is "
		    "built for %s; this connector runs on %s", m->version,
		    m->arch, pol->arch);
	if (m->signed_at > pol->now + RELEASE_FUTURE_SLACK)
		return uplink_fail(RELEASE_EFUTURE, err, errlen, "release %s was "
		    "signed at %" PRId64 ", more than a day after this "
		    "machine's clock (%" PRId64 "): check the clock here and on "
		    "the signing machine", m->version, m->signed_at, pol->now);
	if (m->signed_at < pol->last_seen)
		return uplink_fail(RELEASE_EREPLAY, err, errlen, "this manifest "
		    "(release %s) was signed at %" PRId64 ", before a manifest "
		    "this connector has already accepted (signed at %" PRId64
		    "): an old manifest replayed", m->version, m->signed_at,
		    pol->last_seen);
	if (pol->allow_version != NULL &&
	    strcmp(pol->allow_version, m->version) == 0)
		return RELEASE_OK;
	if (release_version_cmp(m->version, pol->running_version) <= 0)
		return uplink_fail(RELEASE_EOLD, err, errlen, "release %s is not "
		    "newer than the running %s; to go back on purpose set "
		    "[update] allow_version = %s", m->version,
		    pol->running_version, m->version);
	return RELEASE_OK;
}

int
release_verify(const struct release_policy *pol, const char *manifest,
    size_t mlen, const char *sigtext, size_t siglen,
    struct release_manifest *m, char *err, size_t errlen)
{
	struct release_sig	 sig;
	struct release_pubkey	 signer;
	char			 why[400], comment[RELEASE_COMMENT_MAX];
	char			 id[RELEASE_KEYID_TEXT];
	int			 rc;

	memset(m, 0, sizeof(*m));
	if (release_sig_parse(sigtext, siglen, &sig, why, sizeof(why)) !=
	    UPLINK_OK)
		return uplink_fail(RELEASE_ESIG_BAD, err, errlen, "the manifest's "
		    "signature: %s", why);
	rc = release_manifest_parse(manifest, mlen, m, why, sizeof(why));
	if (rc != UPLINK_OK)
		return uplink_fail(RELEASE_EMALFORMED, err, errlen, "%s", why);
	if (memcmp(sig.id, pol->root.id, RELEASE_KEYID_LEN) == 0) {
		rc = uplink_fail(RELEASE_EKEY_UNKNOWN, err, errlen, "the "
		    "manifest is signed with the root key itself; the root only "
		    "certifies signing keys: sign with one (uplink-release sign)");
		goto fail;
	}
	rc = verify_cert(pol, m, &signer, err, errlen);
	if (rc != RELEASE_OK)
		goto fail;
	rc = release_sig_verify(&sig, &signer, manifest, mlen, why, sizeof(why));
	if (rc != RELEASE_OK) {
		release_keyid_text(signer.id, id);
		rc = uplink_fail(rc, err, errlen, "the manifest's signature: %s%s",
		    why, rc == RELEASE_EKEY_UNKNOWN ? " (the signing key the "
		    "manifest carries)" : "");
		goto fail;
	}
	release_manifest_comment(m, comment, sizeof(comment));
	if (strcmp(comment, sig.trusted) != 0) {
		rc = uplink_fail(RELEASE_ESIG_BAD, err, errlen, "the signature's "
		    "trusted comment \"%.200s\" does not match the manifest "
		    "(\"%s\")", sig.trusted, comment);
		goto fail;
	}
	rc = verify_fields(pol, m, err, errlen);
	if (rc == RELEASE_OK)
		return RELEASE_OK;
fail:
	release_manifest_free(m);
	return rc;
}

int
release_file_check(const struct release_file *f, uint64_t got_size,
    const uint8_t hash[32], char *err, size_t errlen)
{
	char	 want[65], got[65];

	if (got_size < f->size)
		return uplink_fail(RELEASE_ETRUNCATED, err, errlen, "%s: %" PRIu64
		    " bytes of %" PRIu64 ": the download is truncated; fetch it "
		    "again", f->name, got_size, f->size);
	if (got_size > f->size)
		return uplink_fail(RELEASE_ESIZE, err, errlen, "%s: more than the "
		    "%" PRIu64 " bytes the manifest states: not the signed file",
		    f->name, f->size);
	if (sodium_memcmp(hash, f->sha256, 32) != 0) {
		sodium_bin2hex(want, sizeof(want), f->sha256, 32);
		sodium_bin2hex(got, sizeof(got), hash, 32);
		return uplink_fail(RELEASE_EHASH, err, errlen, "%s: SHA-256 %s, "
		    "but the manifest states %s: the file was altered or "
		    "damaged", f->name, got, want);
	}
	return RELEASE_OK;
}

const char *
release_host_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__i386__)
	return "i386";
#elif defined(__arm__)
	return "armhf";
#elif defined(__riscv) && __riscv_xlen == 64
	return "riscv64";
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
	return "ppc64el";
#elif defined(__s390x__)
	return "s390x";
#else
	return "unknown";
#endif
}
