#ifndef UPLINK_RELEASE_H
#define UPLINK_RELEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * Signed releases (docs/updates.md). Pure: every function takes bytes and
 * returns a verdict; reading files and staging them is the caller's job
 * (connector/cmd_update.c, release/main.c).
 *
 * Signatures and public keys are minisign's formats, so Debian's
 * "minisign -V" verifies them by hand:
 *
 *   public key   "untrusted comment: ...\n" + base64("Ed" || id[8] || pk[32])
 *   signature    "untrusted comment: ...\n"
 *                base64("ED" || id[8] || sig[64])   sig over BLAKE2b-512(msg)
 *                "trusted comment: TEXT\n"
 *                base64(global[64])                 over sig[64] || TEXT
 *
 * Two tiers: a root key (offline) certifies signing keys; a certificate is
 * the root's signature over the signing key's public key file with
 * "uplink-cert key_id=ID purpose=release-signing expires=UNIX" as its
 * trusted comment. A release manifest (JSON) is signed by a signing key;
 * its trusted comment is "uplink-release version=V channel=C arch=A
 * signed_at=UNIX" and it carries the signing key's public key file and
 * certificate inside.
 */

#define RELEASE_KEYID_LEN	8
#define RELEASE_KEYID_TEXT	17	/* 16 hex digits + NUL */
#define RELEASE_PK_LEN		32
#define RELEASE_SK_LEN		64
#define RELEASE_SIG_LEN		64
#define RELEASE_COMMENT_MAX	1024	/* minisign's limit, NUL included */
#define RELEASE_SIGFILE_MAX	(4 * 1024)
#define RELEASE_KEYFILE_MAX	(4 * 1024)
#define RELEASE_MANIFEST_MAX	(64 * 1024)
#define RELEASE_FILES_MAX	16
#define RELEASE_NAME_MAX	64	/* a file name in a manifest */
#define RELEASE_VERSION_MAX	32
#define RELEASE_WORD_MAX	32	/* channel, architecture */
#define RELEASE_FILESIZE_MAX	(1024ULL * 1024 * 1024)	/* 1 GiB per file */
#define RELEASE_REVOKED_MAX	64
#define RELEASE_FUTURE_SLACK	86400	/* signed_at at most 1 day ahead */
#define RELEASE_FORMAT		"uplink-release-manifest-1"
#define RELEASE_PRODUCT		"uplink-connector"
#define RELEASE_PURPOSE		"release-signing"

/*
 * Verdicts. Each refusal has its own value, which is also the exit status
 * of "uplink-connector update" (docs/updates.md lists them), so numbers
 * are kept stable and never reused.
 */
enum release_err {
	RELEASE_OK		= 0,
	RELEASE_EIO		= 10,	/* a file could not be read or written */
	RELEASE_EMALFORMED	= 11,	/* manifest/signature/key unreadable */
	RELEASE_ESIG_MISSING	= 12,	/* no signature file */
	RELEASE_ESIG_BAD	= 13,	/* the signature does not verify */
	RELEASE_EKEY_UNKNOWN	= 14,	/* signed by a key the manifest does not name */
	RELEASE_ECERT_BAD	= 15,	/* signing key not certified by the root */
	RELEASE_EKEY_EXPIRED	= 16,
	RELEASE_EKEY_REVOKED	= 17,
	RELEASE_ECHANNEL	= 18,
	RELEASE_EARCH		= 19,
	RELEASE_EOLD		= 20,	/* version not newer than the running one */
	RELEASE_EREPLAY		= 21,	/* older than a manifest already seen */
	RELEASE_EFUTURE		= 22,	/* signed_at too far in the future */
	RELEASE_ETRUNCATED	= 23,	/* a file shorter than its stated size */
	RELEASE_ESIZE		= 24,	/* a file longer than its stated size */
	RELEASE_EHASH		= 25,	/* SHA-256 mismatch */
	RELEASE_ENOROOT		= 26,	/* no root key built in or configured */
};

/* A short phrase for a verdict ("hash mismatch"). */
const char *release_strerror(int rc);

struct release_pubkey {
	uint8_t	 id[RELEASE_KEYID_LEN];
	uint8_t	 pk[RELEASE_PK_LEN];
};

/* A secret key in uplink-release's own file format (docs/updates.md). */
struct release_seckey {
	uint8_t	 id[RELEASE_KEYID_LEN];
	uint8_t	 sk[RELEASE_SK_LEN];	/* libsodium's: seed || pk */
	bool	 root;			/* "root" or "signing" */
};

struct release_sig {
	bool	 prehashed;		/* "ED" (BLAKE2b-512) or legacy "Ed" */
	uint8_t	 id[RELEASE_KEYID_LEN];
	uint8_t	 sig[RELEASE_SIG_LEN];
	char	 trusted[RELEASE_COMMENT_MAX];
	uint8_t	 global[RELEASE_SIG_LEN];
};

struct release_file {
	char	 name[RELEASE_NAME_MAX + 1];
	uint64_t size;
	uint8_t	 sha256[32];
};

/* A manifest as parsed; its fields are trusted only after verification. */
struct release_manifest {
	char		 version[RELEASE_VERSION_MAX + 1];
	char		 channel[RELEASE_WORD_MAX + 1];
	char		 arch[RELEASE_WORD_MAX + 1];
	int64_t		 signed_at;
	size_t		 nfiles;
	struct release_file files[RELEASE_FILES_MAX];
	char		*pubkey_text;	/* the signing key's .pub file */
	char		*cert_text;	/* its certificate (.minisig format) */
};

/* The certificate's trusted comment, parsed. */
struct release_cert {
	uint8_t	 id[RELEASE_KEYID_LEN];
	int64_t	 expires;
};

/*
 * What the connector accepts. root is required; revoked lists signing key
 * ids; running_version is what runs now; allow_version, when not NULL,
 * is a version the operator pinned, accepted even when not newer;
 * last_seen is the newest signed_at already accepted (0: none).
 */
struct release_policy {
	struct release_pubkey	 root;
	const uint8_t		(*revoked)[RELEASE_KEYID_LEN];
	size_t			 nrevoked;
	const char		*running_version;
	const char		*allow_version;
	const char		*channel;
	const char		*arch;
	int64_t			 now;
	int64_t			 last_seen;
};

/* The key id as minisign prints it: 16 upper-case hex digits. */
void release_keyid_text(const uint8_t id[RELEASE_KEYID_LEN],
    char out[RELEASE_KEYID_TEXT]);

/* Parses 16 hex digits (either case) into a key id; false if not that. */
bool release_keyid_parse(const char *s, uint8_t id[RELEASE_KEYID_LEN]);

/*
 * A public key: a minisign .pub file, or its base64 line alone (as
 * "[update] root_key =" may give it). UPLINK_OK or UPLINK_EINVAL with why.
 */
int release_pubkey_parse(const char *text, size_t len,
    struct release_pubkey *pk, char *err, size_t errlen);

/* Appends the .pub file text ("untrusted comment: ..." + base64 line). */
int release_pubkey_format(const struct release_pubkey *pk, struct buf *out);

/* A .minisig file. UPLINK_OK or UPLINK_EINVAL with why. */
int release_sig_parse(const char *text, size_t len, struct release_sig *sig,
    char *err, size_t errlen);

/*
 * Verifies sig over msg with pk: the key id, the signature (over the
 * BLAKE2b-512 of msg when prehashed) and the global signature over the
 * trusted comment. RELEASE_OK, RELEASE_EKEY_UNKNOWN (another key id) or
 * RELEASE_ESIG_BAD, with why in err.
 */
int release_sig_verify(const struct release_sig *sig,
    const struct release_pubkey *pk, const void *msg, size_t len, char *err,
    size_t errlen);

/*
 * Signs msg with sk (prehashed, "ED") and appends the .minisig text with
 * the given comments (no newlines in either). UPLINK_OK, UPLINK_EINVAL
 * (a comment too long or with a newline) or UPLINK_ENOMEM/ETOOBIG.
 */
int release_sig_make(const struct release_seckey *sk, const void *msg,
    size_t len, const char *untrusted, const char *trusted, struct buf *out);

/* Makes a new key pair with libsodium's random generator. */
void release_key_generate(bool root, struct release_seckey *sk,
    struct release_pubkey *pk);

/* The public half of a secret key. */
void release_seckey_public(const struct release_seckey *sk,
    struct release_pubkey *pk);

/* Secret key files: parse checks the key's halves agree. */
int release_seckey_parse(const char *text, size_t len,
    struct release_seckey *sk, char *err, size_t errlen);
int release_seckey_format(const struct release_seckey *sk, struct buf *out);

/*
 * The certificate's trusted comment: "uplink-cert key_id=ID
 * purpose=release-signing expires=UNIX". format writes it into out.
 */
int release_cert_comment_parse(const char *s, struct release_cert *c,
    char *err, size_t errlen);
void release_cert_comment(const uint8_t id[RELEASE_KEYID_LEN], int64_t expires,
    char *out, size_t outlen);

/* The manifest signature's trusted comment for m. */
void release_manifest_comment(const struct release_manifest *m, char *out,
    size_t outlen);

/*
 * Parses manifest JSON (at most RELEASE_MANIFEST_MAX bytes) into m, which
 * must be released with release_manifest_free(). UPLINK_OK or
 * UPLINK_EINVAL / UPLINK_ENOMEM with why. Checks shapes only.
 */
int release_manifest_parse(const char *text, size_t len,
    struct release_manifest *m, char *err, size_t errlen);
void release_manifest_free(struct release_manifest *m);

/*
 * Builds manifest JSON (pretty, ending in a newline) from m, including
 * m->pubkey_text and m->cert_text. UPLINK_OK or UPLINK_ENOMEM/EINVAL.
 */
int release_manifest_format(const struct release_manifest *m,
    struct buf *out);

/*
 * Compares dotted numeric versions ("0.10.2" > "0.9"); returns <0, 0, >0.
 * release_version_valid(): 1 to 4 parts of at most 9 digits each.
 */
bool release_version_valid(const char *v);
int release_version_cmp(const char *a, const char *b);

/* A name as a manifest may give it: [A-Za-z0-9._-], no leading dot. */
bool release_name_valid(const char *s);

/*
 * The whole policy on a manifest and its signature: parse, certificate
 * against pol->root, expiry and revocation, the manifest's signature by
 * the certified key, channel, architecture, version, replay. On
 * RELEASE_OK m holds the trusted manifest (free it). Any other verdict is
 * a refusal with a complete message in err; m is freed.
 */
int release_verify(const struct release_policy *pol, const char *manifest,
    size_t mlen, const char *sigtext, size_t siglen,
    struct release_manifest *m, char *err, size_t errlen);

/*
 * A downloaded file against its manifest entry: got_size bytes were read
 * (at most f->size + 1 are worth reading) and hash is their SHA-256.
 * RELEASE_OK, RELEASE_ETRUNCATED, RELEASE_ESIZE or RELEASE_EHASH.
 */
int release_file_check(const struct release_file *f, uint64_t got_size,
    const uint8_t hash[32], char *err, size_t errlen);

/* The Debian architecture this program was built for ("amd64"). */
const char *release_host_arch(void);

#endif
