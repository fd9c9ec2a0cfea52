/*
 * uplink-release: the operator's offline tool for signed connector
 * releases (docs/updates.md). keygen makes a root or signing key pair,
 * certify has the root certify a signing key until a date, sign writes a
 * release manifest and its minisign signature. Nothing here touches the
 * network; the secret keys never leave the machine it runs on.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "atomicfile.h"
#include "buf.h"
#include "duration.h"
#include "error.h"
#include "keyfile.h"
#include "release.h"
#include "version.h"

#define EXIT_OK		0
#define EXIT_FAILED	1
#define EXIT_USAGE	2
#define PATH_CAP	4096

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-release keygen --root|--signing OUT\n"
"       uplink-release certify --root ROOT.key --key SIGNING.pub\n"
"                              --expires DURATION [-o SIGNING.cert]\n"
"       uplink-release sign --key SIGNING.key --cert SIGNING.cert\n"
"                           [--pub SIGNING.pub] --version V --channel C\n"
"                           --arch A [--signed-at UNIX] FILE... -o MANIFEST\n"
"       uplink-release version\n"
"\n"
"Offline signing of uplink-connector releases (docs/updates.md).\n"
"\n"
"  keygen    writes OUT.key (secret, mode 0600, never overwritten) and\n"
"            OUT.pub (minisign public key). --root for the root key the\n"
"            connector is built with, --signing for a key that signs\n"
"            releases once the root has certified it.\n"
"  certify   the root signs SIGNING.pub with its key id and an expiry\n"
"            (\"180d\") in the trusted comment: SIGNING.cert, a minisign\n"
"            signature (minisign -V -p ROOT.pub -m SIGNING.pub -x\n"
"            SIGNING.cert verifies it).\n"
"  sign      hashes each FILE (SHA-256, its base name in the manifest),\n"
"            writes MANIFEST (JSON, with the signing key and its\n"
"            certificate inside) and MANIFEST.minisig (minisign -V -p\n"
"            SIGNING.pub -m MANIFEST verifies it). --pub defaults to the\n"
"            key's name with .pub.\n"
"\n"
"Exit status: 0 done, 1 failed (the message says why), 2 usage.\n");
}

static int
fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
fail(const char *fmt, ...)
{
	va_list	 ap;

	fputs("uplink-release: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAILED;
}

/* Writes a new file; refuses to replace one (a key must not be lost). */
static int
write_new(const char *path, const struct buf *b, mode_t mode)
{
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return fail("%s: %s%s", path, strerror(errno), errno == EEXIST ?
		    " (keygen never overwrites a key: choose another name)" : "");
	if (fchmod(fd, mode) != 0 || write(fd, b->ptr, b->len) !=
	    (ssize_t)b->len || fsync(fd) != 0) {
		close(fd);
		unlink(path);
		return fail("%s: %s", path, strerror(errno));
	}
	close(fd);
	return EXIT_OK;
}

static int
load_seckey(const char *path, bool root, struct release_seckey *sk)
{
	struct buf	 b;
	char		 err[512];
	int		 rc;

	rc = keyfile_check_mode(path, "the release secret key", err,
	    sizeof(err));
	if (rc == UPLINK_OK)
		rc = buf_read_file(&b, path, RELEASE_KEYFILE_MAX, err,
		    sizeof(err));
	else
		buf_init(&b, 0);
	if (rc == UPLINK_OK)
		rc = release_seckey_parse(b.ptr ? b.ptr : "", b.len, sk, err,
		    sizeof(err));
	if (b.ptr != NULL)
		sodium_memzero(b.ptr, b.len);
	buf_free(&b);
	if (rc != UPLINK_OK)
		return fail("%s: %s", path, err);
	if (sk->root != root)
		return fail("%s is a %s key; give the %s key here", path,
		    sk->root ? "root" : "signing", root ? "root" : "signing");
	return EXIT_OK;
}

static int
load_pubkey(const char *path, struct release_pubkey *pk, struct buf *text)
{
	char	 err[512];

	if (buf_read_file(text, path, RELEASE_KEYFILE_MAX, err,
	    sizeof(err)) != UPLINK_OK || release_pubkey_parse(buf_cstr(text), text->len, pk,
	    err, sizeof(err)) != UPLINK_OK) {
		buf_free(text);
		return fail("%s: %s", path, err);
	}
	return EXIT_OK;
}

static int
cmd_keygen(int argc, char **argv)
{
	struct release_seckey	 sk;
	struct release_pubkey	 pk;
	struct buf		 kb, pb;
	char			 kpath[PATH_CAP], ppath[PATH_CAP];
	char			 id[RELEASE_KEYID_TEXT];
	int			 root = -1, rc;

	for (argc--, argv++; argc > 0 && argv[0][0] == '-'; argc--, argv++) {
		if (strcmp(argv[0], "--root") == 0)
			root = 1;
		else if (strcmp(argv[0], "--signing") == 0)
			root = 0;
		else
			break;
	}
	if (root < 0 || argc != 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	snprintf(kpath, sizeof(kpath), "%s.key", argv[0]);
	snprintf(ppath, sizeof(ppath), "%s.pub", argv[0]);
	release_key_generate(root == 1, &sk, &pk);
	buf_init(&kb, RELEASE_KEYFILE_MAX);
	buf_init(&pb, RELEASE_KEYFILE_MAX);
	if (release_seckey_format(&sk, &kb) != UPLINK_OK ||
	    release_pubkey_format(&pk, &pb) != UPLINK_OK)
		rc = fail("out of memory");
	else
		rc = write_new(kpath, &kb, 0600);
	if (rc == EXIT_OK && write_new(ppath, &pb, 0644) != EXIT_OK) {
		unlink(kpath);
		rc = EXIT_FAILED;
	}
	sodium_memzero(&sk, sizeof(sk));
	if (kb.ptr != NULL)
		sodium_memzero(kb.ptr, kb.len);
	buf_free(&kb);
	buf_free(&pb);
	if (rc == EXIT_OK) {
		release_keyid_text(pk.id, id);
		printf("%s key %s: secret %s (keep it offline), public %s\n",
		    root ? "root" : "signing", id, kpath, ppath);
	}
	return rc;
}

/* "x.pub" -> "x.cert"; any other name gets ".cert" appended. */
static void
sibling(const char *path, const char *from, const char *to, char *out,
    size_t outlen)
{
	size_t	 n = strlen(path), fn = strlen(from);

	if (n > fn && strcmp(path + n - fn, from) == 0)
		snprintf(out, outlen, "%.*s%s", (int)(n - fn), path, to);
	else
		snprintf(out, outlen, "%s%s", path, to);
}

static int
cmd_certify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "key", required_argument, NULL, 'k' },
		{ "expires", required_argument, NULL, 'e' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char		*root = NULL, *key = NULL, *expires = NULL;
	char			 out[PATH_CAP] = "", comment[256], err[256];
	char			 id[RELEASE_KEYID_TEXT];
	struct release_seckey	 sk;
	struct release_pubkey	 pk, rootpk;
	struct buf		 text, sig;
	int64_t			 secs, until;
	int			 ch, rc;

	while ((ch = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': root = optarg; break;
		case 'k': key = optarg; break;
		case 'e': expires = optarg; break;
		case 'o': snprintf(out, sizeof(out), "%s", optarg); break;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (root == NULL || key == NULL || expires == NULL || optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (duration_parse(expires, "--expires", &secs, err, sizeof(err)) !=
	    UPLINK_OK) {
		fprintf(stderr, "uplink-release: %s\n", err);
		return EXIT_USAGE;
	}
	if (out[0] == '\0')
		sibling(key, ".pub", ".cert", out, sizeof(out));
	if (load_seckey(root, true, &sk) != EXIT_OK)
		return EXIT_FAILED;
	if (load_pubkey(key, &pk, &text) != EXIT_OK) {
		sodium_memzero(&sk, sizeof(sk));
		return EXIT_FAILED;
	}
	release_seckey_public(&sk, &rootpk);
	release_keyid_text(pk.id, id);
	until = (int64_t)time(NULL) + secs;
	release_cert_comment(pk.id, until, comment, sizeof(comment));
	buf_init(&sig, RELEASE_SIGFILE_MAX);
	if (memcmp(pk.id, rootpk.id, RELEASE_KEYID_LEN) == 0)
		rc = fail("%s is the root key itself: certify a signing key "
		    "(uplink-release keygen --signing)", key);
	else if (release_sig_make(&sk, text.ptr, text.len, "uplink release "
	    "signing key certificate", comment, &sig) != UPLINK_OK)
		rc = fail("cannot sign: out of memory");
	else if (atomicfile_write(out, sig.ptr, sig.len, 0644, "the "
	    "certificate", err, sizeof(err)) != UPLINK_OK)
		rc = fail("%s", err);
	else
		rc = EXIT_OK;
	sodium_memzero(&sk, sizeof(sk));
	if (rc == EXIT_OK)
		printf("certified signing key %s until %" PRId64 " (%s from "
		    "now): %s\n", id, until, expires, out);
	buf_free(&text);
	buf_free(&sig);
	return rc;
}

/* SHA-256 and size of a file, read once. */
static int
hash_file(const char *path, struct release_file *f)
{
	crypto_hash_sha256_state st;
	unsigned char		 chunk[65536];
	const char		*base = strrchr(path, '/');
	ssize_t			 n;
	int			 fd;

	base = base != NULL ? base + 1 : path;
	if (!release_name_valid(base))
		return fail("%s: a release file's name must be 1 to %d of "
		    "A-Z a-z 0-9 . _ - (no leading dot)", path, RELEASE_NAME_MAX);
	snprintf(f->name, sizeof(f->name), "%s", base);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("%s: %s", path, strerror(errno));
	crypto_hash_sha256_init(&st);
	f->size = 0;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		crypto_hash_sha256_update(&st, chunk, (size_t)n);
		f->size += (uint64_t)n;
	}
	close(fd);
	if (n < 0)
		return fail("%s: %s", path, strerror(errno));
	if (f->size > RELEASE_FILESIZE_MAX)
		return fail("%s: larger than %llu bytes", path,
		    RELEASE_FILESIZE_MAX);
	crypto_hash_sha256_final(&st, f->sha256);
	return EXIT_OK;
}

struct sign_args {
	const char	*key, *cert, *version, *channel, *arch, *out;
	char		 pub[PATH_CAP];
	int64_t		 signed_at;
};

static int
sign_args(int argc, char **argv, struct sign_args *a)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "cert", required_argument, NULL, 'c' },
		{ "pub", required_argument, NULL, 'p' },
		{ "version", required_argument, NULL, 'v' },
		{ "channel", required_argument, NULL, 'C' },
		{ "arch", required_argument, NULL, 'a' },
		{ "signed-at", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	char	*end;
	int	 ch;

	memset(a, 0, sizeof(*a));
	a->signed_at = (int64_t)time(NULL);
	while ((ch = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'k': a->key = optarg; break;
		case 'c': a->cert = optarg; break;
		case 'p': snprintf(a->pub, sizeof(a->pub), "%s", optarg); break;
		case 'v': a->version = optarg; break;
		case 'C': a->channel = optarg; break;
		case 'a': a->arch = optarg; break;
		case 'o': a->out = optarg; break;
		case 't':
			a->signed_at = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || a->signed_at <= 0)
				return fail("--signed-at \"%s\": give a Unix time",
				    optarg);
			break;
		default: return EXIT_USAGE;
		}
	}
	if (a->key == NULL || a->cert == NULL || a->version == NULL ||
	    a->channel == NULL || a->arch == NULL || a->out == NULL ||
	    optind >= argc)
		return EXIT_USAGE;
	if (a->pub[0] == '\0')
		sibling(a->key, ".key", ".pub", a->pub, sizeof(a->pub));
	return EXIT_OK;
}

/* The signing key, its public file and its certificate, checked together. */
static int
sign_load(const struct sign_args *a, struct release_seckey *sk,
    struct buf *pubtext, struct buf *certtext)
{
	struct release_pubkey	 pk, derived;
	struct release_sig	 cert;
	struct release_cert	 cc;
	char			 err[512];

	if (load_seckey(a->key, false, sk) != EXIT_OK)
		return EXIT_FAILED;
	if (load_pubkey(a->pub, &pk, pubtext) != EXIT_OK)
		return EXIT_FAILED;
	release_seckey_public(sk, &derived);
	if (memcmp(&pk, &derived, sizeof(pk)) != 0)
		return fail("%s is not the public half of %s (give --pub)",
		    a->pub, a->key);
	if (buf_read_file(certtext, a->cert, RELEASE_SIGFILE_MAX, err,
	    sizeof(err)) != UPLINK_OK || release_sig_parse(buf_cstr(certtext), certtext->len,
	    &cert, err, sizeof(err)) != UPLINK_OK ||
	    release_cert_comment_parse(cert.trusted, &cc, err, sizeof(err)) !=
	    UPLINK_OK)
		return fail("%s: %s", a->cert, err);
	if (memcmp(cc.id, pk.id, RELEASE_KEYID_LEN) != 0)
		return fail("%s certifies another key than %s", a->cert, a->pub);
	if (cc.expires <= a->signed_at)
		return fail("%s expired at %" PRId64 ": have the root certify "
		    "the key again (uplink-release certify)", a->cert,
		    cc.expires);
	return EXIT_OK;
}

static int
cmd_sign(int argc, char **argv)
{
	struct sign_args	 a;
	struct release_seckey	 sk;
	struct release_manifest	 m;
	struct buf		 pubtext, certtext, json, sig;
	char			 sigpath[PATH_CAP], comment[RELEASE_COMMENT_MAX];
	char			 err[512];
	int			 rc, i;

	rc = sign_args(argc, argv, &a);
	if (rc != EXIT_OK) {
		if (rc == EXIT_USAGE)
			usage(stderr);
		return rc;
	}
	memset(&m, 0, sizeof(m));
	if (!release_version_valid(a.version) ||
	    strlen(a.version) > RELEASE_VERSION_MAX)
		return fail("--version \"%s\": give 1 to 4 dot-separated "
		    "numbers (0.2.0)", a.version);
	if (strlen(a.channel) > RELEASE_WORD_MAX ||
	    strlen(a.arch) > RELEASE_WORD_MAX ||
	    strspn(a.channel, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
	    strlen(a.channel) || strspn(a.arch,
	    "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(a.arch) ||
	    *a.channel == '\0' || *a.arch == '\0')
		return fail("--channel and --arch are 1 to %d of a-z 0-9 -",
		    RELEASE_WORD_MAX);
	if (argc - optind > RELEASE_FILES_MAX)
		return fail("at most %d files in a release", RELEASE_FILES_MAX);
	snprintf(m.version, sizeof(m.version), "%s", a.version);
	snprintf(m.channel, sizeof(m.channel), "%s", a.channel);
	snprintf(m.arch, sizeof(m.arch), "%s", a.arch);
	m.signed_at = a.signed_at;
	for (i = optind; i < argc; i++)
		if (hash_file(argv[i], &m.files[m.nfiles++]) != EXIT_OK)
			return EXIT_FAILED;
	buf_init(&pubtext, 0);
	buf_init(&certtext, 0);
	buf_init(&json, RELEASE_MANIFEST_MAX);
	buf_init(&sig, RELEASE_SIGFILE_MAX);
	rc = sign_load(&a, &sk, &pubtext, &certtext);
	if (rc != EXIT_OK)
		goto out;
	m.pubkey_text = pubtext.ptr;
	m.cert_text = certtext.ptr;
	release_manifest_comment(&m, comment, sizeof(comment));
	snprintf(sigpath, sizeof(sigpath), "%s.minisig", a.out);
	if (release_manifest_format(&m, &json) != UPLINK_OK ||
	    release_sig_make(&sk, json.ptr, json.len, "uplink release manifest "
	    "signature", comment, &sig) != UPLINK_OK)
		rc = fail("cannot build the manifest: too large or out of memory");
	else if (atomicfile_write(a.out, json.ptr, json.len, 0644,
	    "the manifest", err, sizeof(err)) != UPLINK_OK ||
	    atomicfile_write(sigpath, sig.ptr, sig.len, 0644, "the signature",
	    err, sizeof(err)) != UPLINK_OK)
		rc = fail("%s", err);
	else
		printf("signed release %s (%s, %s, %zu file%s): %s and %s\n",
		    m.version, m.channel, m.arch, m.nfiles, m.nfiles == 1 ? "" :
		    "s", a.out, sigpath);
out:
	sodium_memzero(&sk, sizeof(sk));
	buf_free(&pubtext);
	buf_free(&certtext);
	buf_free(&json);
	buf_free(&sig);
	return rc;
}

int
main(int argc, char **argv)
{
	const char	*cmd = argc > 1 ? argv[1] : NULL;

	if (sodium_init() < 0) {
		fprintf(stderr, "uplink-release: libsodium failed to start\n");
		return EXIT_FAILED;
	}
	if (cmd == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "keygen") == 0)
		return cmd_keygen(argc - 1, argv + 1);
	if (strcmp(cmd, "certify") == 0)
		return cmd_certify(argc - 1, argv + 1);
	if (strcmp(cmd, "sign") == 0)
		return cmd_sign(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("uplink-release %s\n", UPLINK_VERSION);
		return EXIT_OK;
	}
	fprintf(stderr, "uplink-release: unknown command \"%s\"; run "
	    "\"uplink-release help\"\n", cmd);
	return EXIT_USAGE;
}
