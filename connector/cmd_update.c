/*
 * "uplink-connector update": verify a signed release and stage it under the
 * state directory (docs/updates.md). Every file is copied to a temporary
 * name beside its final place, hashed while copied, and renamed only when
 * all of the release's files match the signed manifest; the running
 * version is never touched. Switching to the staged version is the
 * launcher's job (not built yet).
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

#include <event2/dns.h>
#include <event2/event.h>
#include <sodium.h>

#include "atomicfile.h"
#include "buf.h"
#include "connector.h"
#include "error.h"
#include "release.h"
#include "release_root.h"
#include "update_fetch.h"
#include "version.h"

#define UPDATE_STATE_DEFAULT	"/var/lib/uplink-connector"
#define UPDATE_PATH_MAX		4096
#define UPDATE_SEEN_FILE	"release-seen"

static void
update_usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-connector update --manifest FILE [--dir DIR] [--state-dir D]\n"
"                               [--config FILE]\n"
"       uplink-connector update --cloud [--version V] [--state-dir D]\n"
"                               [--config FILE]\n"
"\n"
"With --cloud the release (the newest of [update] channel for this\n"
"architecture, or version V) is downloaded from the cloud of --config\n"
"with the connector's certificate; the manifest and its signature are\n"
"verified before any file is fetched, each file is capped at its stated\n"
"size, and everything is verified again as it is staged.\n"
"\n"
"Verifies a signed release (FILE and FILE.minisig, made by uplink-release\n"
"sign) against the release root key (built in, or [update] root_key),\n"
"then copies each of its files from DIR (default: FILE's directory) to\n"
"D/versions/VERSION/ (D default " UPDATE_STATE_DEFAULT "), under a\n"
"temporary name until every file matches. It does not switch versions.\n"
"\n"
"Exit status: 0 staged, 2 usage or configuration; a refusal exits with\n"
"its own status: 10 file error, 11 malformed manifest, 12 missing\n"
"signature, 13 bad signature, 14 unknown signing key, 15 signing key not\n"
"certified by the root, 16 signing key expired, 17 signing key revoked,\n"
"18 wrong channel, 19 wrong architecture, 20 version not newer, 21\n"
"replayed older manifest, 22 signed in the future, 23 truncated file, 24\n"
"size mismatch, 25 hash mismatch, 26 no root key (docs/updates.md).\n");
}

struct update {
	const char		*manifest, *dir, *state, *config, *version;
	bool			 cloud;
	char			 sigpath[UPDATE_PATH_MAX];
	char			 vdir[UPDATE_PATH_MAX];
	char			 tmp[RELEASE_FILES_MAX][UPDATE_PATH_MAX];
	struct connector_config	 cfg;
	bool			 have_cfg, made_vdir, made_vers, quiet;
	char			 running[RELEASE_VERSION_MAX + 1];
	struct release_policy	 pol;
	struct release_manifest	 m;
	struct buf		 mtext, stext;
	char			 err[1024];
	int			 rc_cloud;
	struct event_base	*base;
};

/* The root key: [update] root_key, else the one built in. */
static int
update_root(struct update *u)
{
	struct buf	 b;
	char		 why[512];
	int		 rc;

	if (u->cfg.update_root_path[0] != '\0') {
		rc = buf_read_file(&b, u->cfg.update_root_path,
		    RELEASE_KEYFILE_MAX, why, sizeof(why));
		if (rc == UPLINK_OK)
			rc = release_pubkey_parse(buf_cstr(&b), b.len,
			    &u->pol.root, why, sizeof(why));
		buf_free(&b);
		if (rc != UPLINK_OK)
			return uplink_fail(RELEASE_ENOROOT, u->err, sizeof(u->err),
			    "[update] root_key: %s", why);
		return RELEASE_OK;
	}
	if (u->cfg.update_root_b64[0] != '\0')
		return release_pubkey_parse(u->cfg.update_root_b64,
		    strlen(u->cfg.update_root_b64), &u->pol.root, u->err,
		    sizeof(u->err)) == UPLINK_OK ? RELEASE_OK : RELEASE_ENOROOT;
	if (RELEASE_ROOT_KEY_B64[0] == '\0')
		return uplink_fail(RELEASE_ENOROOT, u->err, sizeof(u->err), "this "
		    "connector was built without a release root key (make "
		    "RELEASE_ROOT_KEY=root.pub) and [update] root_key is not set: "
		    "it cannot tell a signed release from any other");
	if (release_pubkey_parse(RELEASE_ROOT_KEY_B64,
	    strlen(RELEASE_ROOT_KEY_B64), &u->pol.root, u->err,
	    sizeof(u->err)) != UPLINK_OK)
		return RELEASE_ENOROOT;
	return RELEASE_OK;
}

/* The newest signing time accepted so far (0: none). */
static int
update_seen_read(struct update *u)
{
	char		 path[UPDATE_PATH_MAX], why[512], *end;
	struct buf	 b;
	long long	 v;
	int		 rc;

	snprintf(path, sizeof(path), "%s/" UPDATE_SEEN_FILE, u->state);
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		u->pol.last_seen = 0;
		return RELEASE_OK;
	}
	rc = buf_read_file(&b, path, 64, why, sizeof(why));
	v = rc == UPLINK_OK ? strtoll(buf_cstr(&b), &end, 10) : -1;
	if (rc == UPLINK_OK && (b.len == 0 || (*end != '\n' && *end != '\0')))
		v = -1;
	buf_free(&b);
	if (v < 0)
		return uplink_fail(RELEASE_EIO, u->err, sizeof(u->err), "%s: "
		    "%s; it holds the newest manifest signing time accepted "
		    "(replay protection): fix or restore it", path,
		    rc == UPLINK_OK ? "not a Unix time" : why);
	u->pol.last_seen = v;
	return RELEASE_OK;
}

static int
update_inputs(struct update *u)
{
	char	 why[512];
	int	 rc;

	rc = buf_read_file(&u->mtext, u->manifest, RELEASE_MANIFEST_MAX, why,
	    sizeof(why));
	if (rc != UPLINK_OK)
		return uplink_fail(rc == UPLINK_ETOOBIG ? RELEASE_EMALFORMED :
		    RELEASE_EIO, u->err, sizeof(u->err), "the manifest %s", why);
	snprintf(u->sigpath, sizeof(u->sigpath), "%s.minisig", u->manifest);
	if (access(u->sigpath, F_OK) != 0 && errno == ENOENT)
		return uplink_fail(RELEASE_ESIG_MISSING, u->err, sizeof(u->err),
		    "no signature beside the manifest (%s): a release is "
		    "accepted only with its minisign signature", u->sigpath);
	rc = buf_read_file(&u->stext, u->sigpath, RELEASE_SIGFILE_MAX, why,
	    sizeof(why));
	if (rc != UPLINK_OK)
		return uplink_fail(rc == UPLINK_ETOOBIG ? RELEASE_ESIG_BAD :
		    RELEASE_EIO, u->err, sizeof(u->err), "the signature %s", why);
	return RELEASE_OK;
}

/*
 * Copies DIR/NAME to a temporary file in the version's directory, hashing
 * what it copies; reads at most one byte past the stated size.
 */
static int
update_copy(struct update *u, size_t i)
{
	const struct release_file	*f = &u->m.files[i];
	crypto_hash_sha256_state	 st;
	unsigned char			 chunk[65536], hash[32];
	char				 src[UPDATE_PATH_MAX];
	uint64_t			 got = 0;
	struct stat			 sb;
	ssize_t				 n = 0;
	size_t				 want;
	int				 in, out, rc = RELEASE_EIO;

	snprintf(src, sizeof(src), "%s/.%s.XXXXXX", u->vdir, f->name);
	memcpy(u->tmp[i], src, sizeof(u->tmp[i]));
	snprintf(src, sizeof(src), "%s/%s", u->dir, f->name);
	/* Not a FIFO (it would block) nor a link (it would point anywhere). */
	in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (in < 0) {
		u->tmp[i][0] = '\0';
		return uplink_fail(RELEASE_EIO, u->err, sizeof(u->err), "%s: %s "
		    "(the release's files are looked for in --dir)", src,
		    strerror(errno));
	}
	if (fstat(in, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		u->tmp[i][0] = '\0';
		close(in);
		return uplink_fail(RELEASE_EIO, u->err, sizeof(u->err), "%s: not "
		    "a regular file", src);
	}
	out = mkostemp(u->tmp[i], O_CLOEXEC);
	if (out < 0) {
		u->tmp[i][0] = '\0';
		close(in);
		return uplink_fail(RELEASE_EIO, u->err, sizeof(u->err), "%s: %s",
		    u->vdir, strerror(errno));
	}
	crypto_hash_sha256_init(&st);
	while (got <= f->size) {
		want = f->size + 1 - got < sizeof(chunk) ?
		    (size_t)(f->size + 1 - got) : sizeof(chunk);
		n = read(in, chunk, want);
		if (n <= 0)
			break;
		crypto_hash_sha256_update(&st, chunk, (size_t)n);
		if (write(out, chunk, (size_t)n) != n)
			break;
		got += (uint64_t)n;
	}
	crypto_hash_sha256_final(&st, hash);
	if (n < 0 || (n > 0 && got <= f->size))
		uplink_fail(RELEASE_EIO, u->err, sizeof(u->err), "copying %s to "
		    "%s: %s", src, u->tmp[i], strerror(errno));
	else if ((rc = release_file_check(f, got, hash, u->err,
	    sizeof(u->err))) == RELEASE_OK && (fchmod(out, 0755) != 0 ||
	    fsync(out) != 0))
		rc = uplink_fail(RELEASE_EIO, u->err, sizeof(u->err), "%s: %s",
		    u->tmp[i], strerror(errno));
	close(in);
	close(out);
	return rc;
}

static void
update_cleanup(struct update *u)
{
	size_t	 i;

	for (i = 0; i < RELEASE_FILES_MAX; i++)
		if (u->tmp[i][0] != '\0') {
			unlink(u->tmp[i]);
			u->tmp[i][0] = '\0';
		}
	if (u->made_vdir)
		rmdir(u->vdir);		/* only when still empty */
	if (u->made_vers) {
		char	 vers[UPDATE_PATH_MAX];

		snprintf(vers, sizeof(vers), "%s/versions", u->state);
		rmdir(vers);
	}
}

static int
update_mkdirs(struct update *u)
{
	char	 vers[UPDATE_PATH_MAX];

	snprintf(vers, sizeof(vers), "%s/versions", u->state);
	snprintf(u->vdir, sizeof(u->vdir), "%s/%s", vers, u->m.version);
	if (mkdir(vers, 0755) == 0)
		u->made_vers = true;
	else if (errno != EEXIST)
		return uplink_fail(RELEASE_EIO, u->err, sizeof(u->err), "%s: %s%s",
		    vers, strerror(errno), errno == ENOENT ? " (the state "
		    "directory must exist: give --state-dir)" : "");
	if (mkdir(u->vdir, 0755) == 0)
		u->made_vdir = true;
	else if (errno != EEXIST)
		return uplink_fail(RELEASE_EIO, u->err, sizeof(u->err), "%s: %s",
		    u->vdir, strerror(errno));
	return RELEASE_OK;
}

/* Every file verified: give them their names, keep the manifest beside. */
static int
update_commit(struct update *u)
{
	char	 path[UPDATE_PATH_MAX], seen[32];
	size_t	 i;
	int	 fd;

	for (i = 0; i < u->m.nfiles; i++) {
		snprintf(path, sizeof(path), "%s/%s", u->vdir, u->m.files[i].name);
		if (rename(u->tmp[i], path) != 0)
			return uplink_fail(RELEASE_EIO, u->err, sizeof(u->err),
			    "renaming %s to %s: %s", u->tmp[i], path,
			    strerror(errno));
		u->tmp[i][0] = '\0';
	}
	u->made_vdir = false;
	u->made_vers = false;
	snprintf(path, sizeof(path), "%s/manifest.json", u->vdir);
	if (atomicfile_write(path, u->mtext.ptr, u->mtext.len, 0644,
	    "the manifest", u->err, sizeof(u->err)) != UPLINK_OK)
		return RELEASE_EIO;
	snprintf(path, sizeof(path), "%s/manifest.json.minisig", u->vdir);
	if (atomicfile_write(path, u->stext.ptr, u->stext.len, 0644,
	    "the signature", u->err, sizeof(u->err)) != UPLINK_OK)
		return RELEASE_EIO;
	fd = open(u->vdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	if (u->m.signed_at <= u->pol.last_seen)
		return RELEASE_OK;
	snprintf(path, sizeof(path), "%s/" UPDATE_SEEN_FILE, u->state);
	snprintf(seen, sizeof(seen), "%" PRId64 "\n", u->m.signed_at);
	if (atomicfile_write(path, seen, strlen(seen), 0644, "the replay "
	    "record", u->err, sizeof(u->err)) != UPLINK_OK)
		return RELEASE_EIO;
	return RELEASE_OK;
}

static int
update_stage(struct update *u)
{
	size_t	 i;
	int	 rc;

	rc = update_mkdirs(u);
	for (i = 0; rc == RELEASE_OK && i < u->m.nfiles; i++)
		rc = update_copy(u, i);
	if (rc == RELEASE_OK)
		rc = update_commit(u);
	if (rc != RELEASE_OK)
		update_cleanup(u);
	return rc;
}

static void
update_report(const struct update *u)
{
	struct release_pubkey	 pk;
	char			 id[RELEASE_KEYID_TEXT], when[64], hex[65];
	time_t			 t = (time_t)u->m.signed_at;
	struct tm		 tm;
	size_t			 i;

	memset(&pk, 0, sizeof(pk));
	(void)release_pubkey_parse(u->m.pubkey_text, strlen(u->m.pubkey_text),
	    &pk, NULL, 0);
	release_keyid_text(pk.id, id);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("verified release %s (channel %s, %s, signed %s by signing "
	    "key %s, certified by the root)\n", u->m.version, u->m.channel,
	    u->m.arch, when, id);
	for (i = 0; i < u->m.nfiles; i++) {
		sodium_bin2hex(hex, sizeof(hex), u->m.files[i].sha256, 32);
		printf("staged %s/%s (%" PRIu64 " bytes, sha256 %s)\n", u->vdir,
		    u->m.files[i].name, u->m.files[i].size, hex);
	}
	printf("not switched: %s keeps running until the launcher switches "
	    "to %s (docs/updates.md)\n", u->running, u->m.version);
}

static int
update_args(struct update *u, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "manifest", required_argument, NULL, 'm' },
		{ "dir", required_argument, NULL, 'd' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "cloud", no_argument, NULL, 'C' },
		{ "version", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int	 ch;

	while ((ch = getopt_long(argc, argv, "m:d:s:c:Cv:h", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'm': u->manifest = optarg; break;
		case 'd': u->dir = optarg; break;
		case 's': u->state = optarg; break;
		case 'c': u->config = optarg; break;
		case 'C': u->cloud = true; break;
		case 'v': u->version = optarg; break;
		case 'h': update_usage(stdout); return -1;
		default: update_usage(stderr); return EXIT_USAGE;
		}
	}
	if ((u->manifest == NULL) == !u->cloud || optind != argc ||
	    (u->version != NULL && !u->cloud)) {
		update_usage(stderr);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* The configuration: --config, else the default file when it exists. */
static int
update_config(struct update *u)
{
	const char	*path = u->config;

	if (path == NULL && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		path = CONFIG_DEFAULT_PATH;
	if (path == NULL) {
		memset(&u->cfg, 0, sizeof(u->cfg));
		snprintf(u->cfg.update_channel, sizeof(u->cfg.update_channel),
		    "stable");
		return EXIT_OK;
	}
	if (config_load(path, &u->cfg, u->err, sizeof(u->err)) != UPLINK_OK) {
		fprintf(stderr, "uplink-connector: %s\n", u->err);
		return EXIT_USAGE;
	}
	u->have_cfg = true;
	return EXIT_OK;
}

/*
 * The version running now: the launcher's current version when there is
 * one (STATE/versions/current), else the one this binary was built as.
 */
static void
update_running(struct update *u)
{
	char	 path[UPDATE_PATH_MAX], target[RELEASE_VERSION_MAX + 1];
	ssize_t	 n;

	snprintf(u->running, sizeof(u->running), "%s", UPLINK_VERSION);
	snprintf(path, sizeof(path), "%s/versions/current", u->state);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = '\0';
	if (release_version_valid(target))
		snprintf(u->running, sizeof(u->running), "%s", target);
}

/* The policy from the configuration, and the manifest's verdict. */
static int
update_verify_texts(struct update *u)
{
	int	 rc;

	rc = update_root(u);
	if (rc == RELEASE_OK)
		rc = update_seen_read(u);
	if (rc != RELEASE_OK)
		return rc;
	update_running(u);
	u->pol.revoked = (const uint8_t (*)[RELEASE_KEYID_LEN])
	    u->cfg.update_revoked;
	u->pol.nrevoked = u->cfg.update_nrevoked;
	u->pol.running_version = u->running;
	u->pol.allow_version = u->cfg.update_allow_version[0] != '\0' ?
	    u->cfg.update_allow_version : NULL;
	u->pol.channel = u->cfg.update_channel;
	u->pol.arch = release_host_arch();
	u->pol.now = (int64_t)time(NULL);
	return release_verify(&u->pol, u->mtext.ptr, u->mtext.len, u->stext.ptr,
	    u->stext.len, &u->m, u->err, sizeof(u->err));
}

static int
update_run(struct update *u)
{
	char	 mdir[UPDATE_PATH_MAX];
	int	 rc;

	if (u->dir == NULL) {
		snprintf(mdir, sizeof(mdir), "%s", u->manifest);
		u->dir = strrchr(mdir, '/') != NULL ? mdir : ".";
		if (u->dir == mdir)
			*strrchr(mdir, '/') = '\0';
	}
	rc = update_inputs(u);
	if (rc == RELEASE_OK)
		rc = update_verify_texts(u);
	if (rc != RELEASE_OK)
		return rc;
	rc = update_stage(u);
	if (rc == RELEASE_OK && !u->quiet)
		update_report(u);
	return rc;
}

static struct update *
update_new(const struct connector_config *cfg, const char *state)
{
	struct update	*u = calloc(1, sizeof(*u));

	if (u == NULL)
		return NULL;
	u->cfg = *cfg;		/* borrowed: never freed here */
	u->state = state;
	u->quiet = true;
	buf_init(&u->mtext, RELEASE_MANIFEST_MAX);
	buf_init(&u->stext, RELEASE_SIGFILE_MAX);
	return u;
}

static int
update_end(struct update *u, int rc, char *version, size_t vlen, char *err,
    size_t errlen)
{
	if (version != NULL)
		snprintf(version, vlen, "%s", u->m.version);
	snprintf(err, errlen, "%s", u->err);
	release_manifest_free(&u->m);
	buf_free(&u->mtext);
	buf_free(&u->stext);
	free(u);
	return rc;
}

int
update_verify(const struct connector_config *cfg, const char *state,
    const char *mtext, size_t mlen, const char *stext, size_t slen,
    char *version, size_t vlen, char *err, size_t errlen)
{
	struct update	*u = update_new(cfg, state);
	int		 rc;

	if (u == NULL)
		return uplink_fail(RELEASE_EIO, err, errlen, "out of memory");
	if (buf_append(&u->mtext, mtext, mlen) != UPLINK_OK ||
	    buf_append(&u->stext, stext, slen) != UPLINK_OK)
		rc = uplink_fail(RELEASE_EMALFORMED, u->err, sizeof(u->err),
		    "the manifest or its signature is too large");
	else
		rc = update_verify_texts(u);
	return update_end(u, rc, version, vlen, err, errlen);
}

int
update_stage_release(const struct connector_config *cfg, const char *state,
    const char *manifest, const char *dir, char *version, size_t vlen,
    char *err, size_t errlen)
{
	struct update	*u = update_new(cfg, state);
	int		 rc;

	if (u == NULL)
		return uplink_fail(RELEASE_EIO, err, errlen, "out of memory");
	u->manifest = manifest;
	u->dir = dir;
	rc = update_run(u);
	return update_end(u, rc, version, vlen, err, errlen);
}

static void
update_cloud_done(void *arg, int rc, const char *version, const char *msg)
{
	struct update	*u = arg;

	u->rc_cloud = rc;
	event_base_loopbreak(u->base);
	snprintf(u->err, sizeof(u->err), "%s", msg);
	if (rc == RELEASE_OK)
		printf("%s\n", msg);
	(void)version;
}

/* --cloud: download from the cloud of the configuration, then stage. */
static int
update_from_cloud(struct update *u)
{
	struct event_base	*base;
	struct evdns_base	*dns = NULL;
	struct update_fetch	*uf;

	if (!u->have_cfg || u->cfg.cloud_url[0] == '\0') {
		fprintf(stderr, "uplink-connector: update --cloud needs the "
		    "connector's configuration with its [cloud] section "
		    "(--config, default %s): enroll first\n",
		    CONFIG_DEFAULT_PATH);
		return EXIT_USAGE;
	}
	u->rc_cloud = RELEASE_EIO;
	base = event_base_new();
	u->base = base;
	if (base != NULL)
		dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	uf = dns == NULL ? NULL : update_fetch_start(base, dns, &u->cfg,
	    u->state, u->version, update_cloud_done, u);
	if (uf == NULL)
		snprintf(u->err, sizeof(u->err), "cannot start (out of memory, "
		    "or no resolver: check /etc/resolv.conf)");
	else
		event_base_dispatch(base);
	if (dns != NULL)
		evdns_base_free(dns, 0);
	if (base != NULL)
		event_base_free(base);
	return u->rc_cloud;
}

int
cmd_update(int argc, char **argv)
{
	struct update	*u;
	int		 rc;

	if (sodium_init() < 0) {
		fprintf(stderr, "uplink-connector: libsodium failed to start\n");
		return EXIT_FAILED;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		fprintf(stderr, "uplink-connector: out of memory\n");
		return EXIT_FAILED;
	}
	u->state = UPDATE_STATE_DEFAULT;
	buf_init(&u->mtext, 0);
	buf_init(&u->stext, 0);
	rc = update_args(u, argc, argv);
	if (rc == EXIT_OK)
		rc = update_config(u);
	if (rc == EXIT_OK && u->cloud) {
		rc = update_from_cloud(u);
		if (rc != RELEASE_OK && rc != EXIT_USAGE)
			fprintf(stderr, "uplink-connector: update refused (%s): "
			    "%s; nothing was staged and the running version is "
			    "unchanged\n", release_strerror(rc), u->err);
	} else if (rc == EXIT_OK) {
		rc = update_run(u);
		if (rc != RELEASE_OK)
			fprintf(stderr, "uplink-connector: update refused (%s): "
			    "%s; nothing was staged and the running version is "
			    "unchanged\n", release_strerror(rc), u->err);
	}
	release_manifest_free(&u->m);
	buf_free(&u->mtext);
	buf_free(&u->stext);
	if (u->have_cfg)
		config_free(&u->cfg);
	free(u);
	return rc < 0 ? EXIT_OK : rc;
}
