/*
 * Signed connector releases in the cloud (releases.h, docs/updates.md).
 *
 * Why the files are in the data directory and not in the database: a
 * release file is a program of a few MiB up to the manifest's 1 GiB cap,
 * and it is served to connectors piece by piece from an open descriptor
 * (packages_send_fd()), never held in memory; a blob would have to be
 * read whole by a store call that blocks the event loop (PostgreSQL's
 * deadline is 2 s). The store keeps what identifies the file, the
 * SHA-256 inside the signed manifest, and the file's name is that hash,
 * so a file that does not hash to its name is never served (it is hashed
 * again before each download is started) and two instances sharing one
 * database each need the files in their own data directory (`uplink-cloud
 * release add` on each; adding a release that is already stored only
 * copies the missing files).
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <sodium.h>

#include "daemon.h"
#include "error.h"
#include "log.h"
#include "packages.h"
#include "release.h"
#include "releases.h"
#include "rest.h"
#include "router.h"
#include "store.h"
#include "xmalloc.h"

#define RELEASES_TYPE		"application/octet-stream"
#define RELEASES_CHUNK		65536

static void
releases_file_path(const struct datadir *dd, const uint8_t sha[32],
    char *out, size_t outlen)
{
	char	 hex[65];

	sodium_bin2hex(hex, sizeof(hex), sha, 32);
	snprintf(out, outlen, "%s/" RELEASES_DIR "/%s", dd->dir, hex);
}

/*
 * Copies one file of the release to a temporary name in the releases
 * directory, hashing it, and renames it to its hash when it matches.
 */
static int
releases_copy(struct datadir *dd, const struct release_file *f,
    const struct releases_src *s, char *err, size_t errlen)
{
	crypto_hash_sha256_state	 st;
	unsigned char			 chunk[RELEASES_CHUNK], hash[32];
	char				 tmp[DATADIR_PATH_MAX + 96];
	char				 dst[DATADIR_PATH_MAX + 96];
	uint64_t			 got = 0;
	ssize_t				 n = 0;
	int				 in = -1, out, rc = -1;

	releases_file_path(dd, f->sha256, dst, sizeof(dst));
	if (access(dst, F_OK) == 0)
		return 0;	/* named by its hash, checked when served */
	if (s->path != NULL) {
		in = open(s->path, O_RDONLY | O_CLOEXEC);
		if (in < 0) {
			snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
			return -1;
		}
	}
	snprintf(tmp, sizeof(tmp), "%s/" RELEASES_DIR "/.add.XXXXXX", dd->dir);
	out = mkostemp(tmp, O_CLOEXEC);
	if (out < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (in >= 0)
			close(in);
		return -1;
	}
	crypto_hash_sha256_init(&st);
	while (got <= f->size) {
		if (in >= 0) {
			n = read(in, chunk, sizeof(chunk));
			if (n <= 0)
				break;
		} else {
			n = s->len - got < sizeof(chunk) ? (ssize_t)(s->len -
			    got) : (ssize_t)sizeof(chunk);
			if (n == 0)
				break;
			memcpy(chunk, s->data + got, (size_t)n);
		}
		crypto_hash_sha256_update(&st, chunk, (size_t)n);
		if (write(out, chunk, (size_t)n) != n) {
			n = -1;
			break;
		}
		got += (uint64_t)n;
	}
	crypto_hash_sha256_final(&st, hash);
	if (n < 0)
		snprintf(err, errlen, "copying %s to %s: %s", s->path ? s->path :
		    f->name, tmp, strerror(errno));
	else if (release_file_check(f, got, hash, err, errlen) != RELEASE_OK)
		;
	else if (fsync(out) != 0 || rename(tmp, dst) != 0)
		snprintf(err, errlen, "%s: %s", dst, strerror(errno));
	else
		rc = 0;
	if (rc != 0)
		unlink(tmp);
	close(out);
	if (in >= 0)
		close(in);
	return rc;
}

/* The manifest's own consistency: parsed, signed by the key it carries. */
static int
releases_check(const char *manifest, size_t mlen, const char *sigtext,
    size_t slen, struct release_manifest *m, char *err, size_t errlen)
{
	struct release_sig	 sig;
	struct release_pubkey	 pk;
	char			 why[512], comment[RELEASE_COMMENT_MAX];

	if (release_sig_parse(sigtext, slen, &sig, why, sizeof(why)) !=
	    UPLINK_OK) {
		snprintf(err, errlen, "the signature: %s", why);
		return -1;
	}
	if (release_manifest_parse(manifest, mlen, m, why, sizeof(why)) !=
	    UPLINK_OK) {
		snprintf(err, errlen, "the manifest: %s", why);
		return -1;
	}
	if (release_pubkey_parse(m->pubkey_text, strlen(m->pubkey_text), &pk,
	    why, sizeof(why)) != UPLINK_OK ||
	    release_sig_verify(&sig, &pk, manifest, mlen, why, sizeof(why)) !=
	    RELEASE_OK) {
		snprintf(err, errlen, "the signature does not verify with the "
		    "signing key the manifest carries (%s): give the "
		    "manifest.json.minisig made with it by uplink-release sign",
		    why);
		return -1;
	}
	release_manifest_comment(m, comment, sizeof(comment));
	if (strcmp(comment, sig.trusted) != 0) {
		snprintf(err, errlen, "the signature's trusted comment does not "
		    "match the manifest (\"%s\")", comment);
		return -1;
	}
	return 0;
}

static const struct releases_src *
releases_src_find(const struct releases_src *src, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(src[i].name, name) == 0)
			return &src[i];
	return NULL;
}

static bool
releases_src_find_in(const struct release_manifest *m, const char *name)
{
	size_t	 i;

	for (i = 0; i < m->nfiles; i++)
		if (strcmp(m->files[i].name, name) == 0)
			return true;
	return false;
}

int
releases_add(struct datadir *dd, const char *manifest, size_t mlen,
    const char *sig, size_t slen, const struct releases_src *src,
    size_t nsrc, int64_t now, char *version, size_t versionlen,
    bool *exists, char *err, size_t errlen)
{
	struct release_manifest	 m;
	struct store_release	 r;
	const struct releases_src *s;
	char			 dir[DATADIR_PATH_MAX + 16];
	size_t			 i;
	int			 rc = -1;

	*exists = false;
	memset(&m, 0, sizeof(m));
	if (releases_check(manifest, mlen, sig, slen, &m, err, errlen) != 0)
		goto out;
	snprintf(version, versionlen, "%s", m.version);
	for (i = 0; i < nsrc; i++)
		if (release_name_valid(src[i].name) == false ||
		    !releases_src_find_in(&m, src[i].name)) {
			snprintf(err, errlen, "%s is not a file of release %s "
			    "(its manifest lists the files)", src[i].name,
			    m.version);
			goto out;
		}
	snprintf(dir, sizeof(dir), "%s/" RELEASES_DIR, dd->dir);
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	for (i = 0; i < m.nfiles; i++) {
		s = releases_src_find(src, nsrc, m.files[i].name);
		if (s == NULL) {
			char	 have[DATADIR_PATH_MAX + 96];

			releases_file_path(dd, m.files[i].sha256, have,
			    sizeof(have));
			if (access(have, F_OK) == 0)
				continue;
			snprintf(err, errlen, "release %s needs its file %s: "
			    "give it after the manifest", m.version,
			    m.files[i].name);
			goto out;
		}
		if (releases_copy(dd, &m.files[i], s, err, errlen) != 0)
			goto out;
	}
	memset(&r, 0, sizeof(r));
	snprintf(r.version, sizeof(r.version), "%s", m.version);
	snprintf(r.channel, sizeof(r.channel), "%s", m.channel);
	snprintf(r.arch, sizeof(r.arch), "%s", m.arch);
	r.signed_at = m.signed_at;
	r.added_at = now;
	/* The text as signed: the store's TEXT ends at a NUL. */
	if (memchr(manifest, '\0', mlen) != NULL || memchr(sig, '\0', slen) !=
	    NULL) {
		snprintf(err, errlen, "the manifest or signature holds a NUL");
		goto out;
	}
	r.manifest = manifest;
	r.signature = sig;
	rc = store_release_add(dd->st, &r, err, errlen);
	if (rc == UPLINK_EEXIST)
		*exists = true;
	rc = rc == UPLINK_OK ? 0 : -1;
out:
	release_manifest_free(&m);
	return rc;
}

/* Releases read in one walk, their manifests parsed. */
struct rel_rows {
	struct store_release	*r;
	char			**text;		/* manifest, signature pairs */
	size_t			 n, cap;
};

static int
rel_collect(void *arg, const struct store_release *r)
{
	struct rel_rows	*rows = arg;

	if (rows->n == rows->cap) {
		rows->cap = rows->cap ? rows->cap * 2 : 16;
		rows->r = xrealloc(rows->r, rows->cap * sizeof(*rows->r));
		rows->text = xrealloc(rows->text, rows->cap * 2 *
		    sizeof(*rows->text));
	}
	rows->r[rows->n] = *r;
	rows->text[2 * rows->n] = xstrdup(r->manifest);
	rows->text[2 * rows->n + 1] = xstrdup(r->signature);
	rows->r[rows->n].manifest = rows->text[2 * rows->n];
	rows->r[rows->n].signature = rows->text[2 * rows->n + 1];
	rows->n++;
	return 0;
}

static void
rel_rows_free(struct rel_rows *rows)
{
	size_t	 i;

	for (i = 0; i < 2 * rows->n; i++)
		free(rows->text[i]);
	free(rows->text);
	free(rows->r);
	memset(rows, 0, sizeof(*rows));
}

static int
rel_load(struct datadir *dd, const char *version, struct rel_rows *rows,
    char *err, size_t errlen)
{
	memset(rows, 0, sizeof(*rows));
	if (store_release_list(dd->st, version, rel_collect, rows, err,
	    errlen) != UPLINK_OK) {
		rel_rows_free(rows);
		return -1;
	}
	return 0;
}

/* Whether any of rows uses the file whose hash is sha. */
static bool
rel_uses(const struct rel_rows *rows, const uint8_t sha[32])
{
	struct release_manifest	 m;
	size_t			 i, k;
	bool			 used = false;

	for (i = 0; i < rows->n && !used; i++) {
		if (release_manifest_parse(rows->r[i].manifest,
		    strlen(rows->r[i].manifest), &m, NULL, 0) != UPLINK_OK)
			continue;
		for (k = 0; k < m.nfiles; k++)
			if (memcmp(m.files[k].sha256, sha, 32) == 0)
				used = true;
		release_manifest_free(&m);
	}
	return used;
}

int
releases_remove(struct datadir *dd, const char *version, int64_t *n,
    char *err, size_t errlen)
{
	struct rel_rows		 gone, left;
	struct release_manifest	 m;
	char			 path[DATADIR_PATH_MAX + 96];
	size_t			 i, k;

	if (rel_load(dd, version, &gone, err, errlen) != 0)
		return -1;
	if (store_release_remove(dd->st, version, n, err, errlen) != UPLINK_OK ||
	    rel_load(dd, NULL, &left, err, errlen) != 0) {
		rel_rows_free(&gone);
		return -1;
	}
	for (i = 0; i < gone.n; i++) {
		if (release_manifest_parse(gone.r[i].manifest,
		    strlen(gone.r[i].manifest), &m, NULL, 0) != UPLINK_OK)
			continue;
		for (k = 0; k < m.nfiles; k++)
			if (!rel_uses(&left, m.files[k].sha256)) {
				releases_file_path(dd, m.files[k].sha256, path,
				    sizeof(path));
				(void)unlink(path);
			}
		release_manifest_free(&m);
	}
	rel_rows_free(&gone);
	rel_rows_free(&left);
	return 0;
}

/* The newest of rows for channel and arch; NULL if none. */
static const struct store_release *
rel_newest(const struct rel_rows *rows, const char *channel, const char *arch)
{
	const struct store_release	*best = NULL;
	size_t				 i;

	for (i = 0; i < rows->n; i++) {
		if (strcmp(rows->r[i].channel, channel) != 0 ||
		    strcmp(rows->r[i].arch, arch) != 0)
			continue;
		if (best == NULL || release_version_cmp(rows->r[i].version,
		    best->version) > 0)
			best = &rows->r[i];
	}
	return best;
}

int
releases_newest(struct datadir *dd, const char *channel, const char *arch,
    char *version, int64_t *signed_at, char *err, size_t errlen)
{
	const struct store_release	*best;
	struct rel_rows			 rows;

	version[0] = '\0';
	*signed_at = 0;
	if (rel_load(dd, NULL, &rows, err, errlen) != 0)
		return -1;
	best = rel_newest(&rows, channel, arch);
	if (best != NULL) {
		snprintf(version, STORE_RELEASE_WORD_MAX + 1, "%s",
		    best->version);
		*signed_at = best->signed_at;
	}
	rel_rows_free(&rows);
	return 0;
}

json_t *
releases_json(const struct store_release *r)
{
	struct release_manifest	 m;
	json_t			*files = json_array(), *j;
	char			 hex[65];
	size_t			 i;

	if (release_manifest_parse(r->manifest, strlen(r->manifest), &m, NULL,
	    0) == UPLINK_OK) {
		for (i = 0; i < m.nfiles; i++) {
			sodium_bin2hex(hex, sizeof(hex), m.files[i].sha256, 32);
			json_array_append_new(files, json_pack("{s:s, s:I, s:s}",
			    "name", m.files[i].name, "size",
			    (json_int_t)m.files[i].size, "sha256", hex));
		}
		release_manifest_free(&m);
	}
	j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "version", r->version,
	    "channel", r->channel, "arch", r->arch, "signed_at",
	    (json_int_t)r->signed_at, "added_at", (json_int_t)r->added_at,
	    "files", files);
	if (j == NULL)
		fatalx("out of memory");
	return j;
}

/* ---- GET /v1/releases/... for connectors ---- */

static void
serve_fail(struct evhttp_request *req, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
serve_fail(struct evhttp_request *req, int status, const char *code,
    const char *fmt, ...)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	char			 msg[768], *text;
	va_list			 ap;
	json_t			*j;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	j = json_pack("{s:s, s:s}", "error", code, "message", msg);
	text = j != NULL ? json_dumps(j, 0) : NULL;
	if (text == NULL)
		fatalx("out of memory");
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text));
	evhttp_send_reply(req, status, NULL, NULL);
	free(text);
	json_decref(j);
}

static void
serve_text(struct evhttp_request *req, const char *type, const char *text)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text));
	evhttp_send_reply(req, 200, "OK", NULL);
}

/* A file of a release, hashed again before it is sent. */
static void
serve_file(struct cloud *c, struct evhttp_request *req,
    const struct release_file *f)
{
	crypto_hash_sha256_state st;
	unsigned char		 chunk[RELEASES_CHUNK], hash[32];
	char			 path[DATADIR_PATH_MAX + 96], hex[65];
	struct stat		 sb;
	ssize_t			 n;
	int			 fd;

	releases_file_path(&c->dd, f->sha256, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size != f->size) {
		if (fd >= 0)
			close(fd);
		log_warnx("releases: %s (%s) missing or of the wrong size in "
		    "this instance's data directory: run uplink-cloud release "
		    "add with it", f->name, path);
		serve_fail(req, 404, "not-found", "this cloud instance does "
		    "not have %s; tell its operator", f->name);
		return;
	}
	crypto_hash_sha256_init(&st);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		crypto_hash_sha256_update(&st, chunk, (size_t)n);
	crypto_hash_sha256_final(&st, hash);
	if (n < 0 || sodium_memcmp(hash, f->sha256, 32) != 0) {
		close(fd);
		log_warnx("releases: %s does not hash to its name: damaged; "
		    "remove it and add the release again", path);
		serve_fail(req, 500, "damaged", "the cloud's copy of %s is "
		    "damaged; tell its operator", f->name);
		return;
	}
	sodium_bin2hex(hex, sizeof(hex), f->sha256, 32);
	packages_send_fd(req, f->name, RELEASES_TYPE, fd, &sb, hex);
}

/* version/name: the manifest, its signature or one of its files. */
static void
serve_release(struct cloud *c, struct evhttp_request *req,
    const struct store_release *r, const char *name)
{
	struct release_manifest	 m;
	size_t			 i;

	if (strcmp(name, "manifest.json") == 0) {
		serve_text(req, "application/json", r->manifest);
		return;
	}
	if (strcmp(name, "manifest.json.minisig") == 0) {
		serve_text(req, "text/plain", r->signature);
		return;
	}
	if (release_manifest_parse(r->manifest, strlen(r->manifest), &m, NULL,
	    0) != UPLINK_OK) {
		serve_fail(req, 500, "internal", "release %s: its stored "
		    "manifest does not parse", r->version);
		return;
	}
	for (i = 0; i < m.nfiles; i++)
		if (strcmp(m.files[i].name, name) == 0)
			break;
	if (i == m.nfiles)
		serve_fail(req, 404, "not-found", "release %s has no file %s",
		    r->version, name);
	else
		serve_file(c, req, &m.files[i]);
	release_manifest_free(&m);
}

static void
serve_latest(struct evhttp_request *req, const struct store_release *r,
    const char *channel, const char *arch)
{
	json_t	*j;
	char	*text;

	if (r == NULL) {
		serve_fail(req, 404, "no-release", "this cloud has no release "
		    "for channel %s and architecture %s", channel, arch);
		return;
	}
	j = releases_json(r);
	text = json_dumps(j, JSON_COMPACT);
	if (text == NULL)
		fatalx("out of memory");
	serve_text(req, "application/json", text);
	free(text);
	json_decref(j);
}

void
releases_serve(struct cloud *c, struct evhttp_request *req, const char *uri,
    X509 *cert)
{
	struct store_cert_owner	 owner;
	struct evkeyvalq	 q;
	struct rel_rows		 rows;
	const char		*channel, *arch, *qs;
	char			 path[256], why[512], *slash;
	const struct store_release *r = NULL;
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	size_t			 i, plen;

	if (cert == NULL) {
		serve_fail(req, 401, "no-certificate", "releases are served to "
		    "connectors only, with their client certificate");
		return;
	}
	if (cloud_cert_owner(c, cert, &owner, why, sizeof(why)) != 0) {
		log_info("releases: refused: %s", why);
		serve_fail(req, 403, "forbidden", "%s", why);
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		serve_fail(req, 405, "method", "use GET");
		return;
	}
	qs = strchr(uri, '?');
	plen = qs != NULL ? (size_t)(qs - uri) : strlen(uri);
	if (plen >= sizeof(path)) {
		serve_fail(req, 404, "not-found", "no such release file");
		return;
	}
	memcpy(path, uri, plen);
	path[plen] = '\0';
	TAILQ_INIT(&q);
	if (qs != NULL && evhttp_parse_query_str(qs + 1, &q) != 0) {
		serve_fail(req, 400, "bad-query", "the query string does not "
		    "parse");
		return;
	}
	channel = evhttp_find_header(&q, "channel");
	arch = evhttp_find_header(&q, "arch");
	if (channel == NULL)
		channel = "stable";
	if (arch == NULL)
		arch = release_host_arch();
	if (rel_load(&c->dd, NULL, &rows, why, sizeof(why)) != 0) {
		serve_fail(req, 503, "unavailable", "%s", why);
		evhttp_clear_headers(&q);
		return;
	}
	slash = strchr(path + strlen(RELEASES_PATH), '/');
	if (strcmp(path + strlen(RELEASES_PATH), "latest") == 0)
		serve_latest(req, rel_newest(&rows, channel, arch), channel,
		    arch);
	else if (slash == NULL || strchr(slash + 1, '/') != NULL)
		serve_fail(req, 404, "not-found", "ask GET /v1/releases/latest"
		    "?channel=C&arch=A or /v1/releases/VERSION/FILE");
	else {
		*slash = '\0';
		for (i = 0; i < rows.n && r == NULL; i++)
			if (strcmp(rows.r[i].version, path +
			    strlen(RELEASES_PATH)) == 0 && strcmp(rows.r[i].channel,
			    channel) == 0 && strcmp(rows.r[i].arch, arch) == 0)
				r = &rows.r[i];
		if (r == NULL)
			serve_fail(req, 404, "no-release", "this cloud has no "
			    "release %s for channel %s and architecture %s",
			    path + strlen(RELEASES_PATH), channel, arch);
		else {
			log_info("releases: %s of %s to connector %s",
			    slash + 1, r->version, owner.connector_id);
			serve_release(c, req, r, slash + 1);
		}
	}
	rel_rows_free(&rows);
	evhttp_clear_headers(&q);
}

/* ---- /api/v1/releases ---- */

static int
rel_cmp(const void *a, const void *b)
{
	const struct store_release	*x = a, *y = b;
	int				 d = release_version_cmp(y->version,
	    x->version);

	if (d != 0)
		return d;
	d = strcmp(x->channel, y->channel);
	return d != 0 ? d : strcmp(x->arch, y->arch);
}

void
rest_releases_list(struct rest *r)
{
	struct rel_rows	 rows;
	json_t		*arr;
	char		 err[512];
	size_t		 i;

	if (rel_load(&r->c->dd, NULL, &rows, err, sizeof(err)) != 0) {
		rest_store_fail(r, UPLINK_EIO, err);
		return;
	}
	if (rows.n > 1)
		qsort(rows.r, rows.n, sizeof(*rows.r), rel_cmp);
	arr = json_array();
	for (i = 0; i < rows.n; i++)
		json_array_append_new(arr, releases_json(&rows.r[i]));
	rel_rows_free(&rows);
	rest_reply(r, 200, json_pack("{s:o}", "releases", arr));
}

void
rest_releases_post(struct rest *r)
{
	static const char *const fields[] = { "!manifest:s", "!signature:s",
	    "files:o", NULL };
	struct releases_src	 src[RELEASE_FILES_MAX];
	unsigned char		*bin[RELEASE_FILES_MAX];
	const char		*m, *sig, *key;
	json_t			*files, *v;
	char			 version[RELEASE_VERSION_MAX + 1], err[1024];
	size_t			 n = 0, i, len;
	bool			 exists;
	int			 rc;

	if (!rest_fields(r, fields))
		return;
	m = rest_str(r, "manifest");
	sig = rest_str(r, "signature");
	files = json_object_get(r->body, "files");
	memset(bin, 0, sizeof(bin));
	json_object_foreach(files, key, v) {
		const char *b64 = json_string_value(v);

		if (n == RELEASE_FILES_MAX || b64 == NULL) {
			rest_fail(r, 400, "bad-file", "files: an object of at "
			    "most %d names, each with its content in base64",
			    RELEASE_FILES_MAX);
			goto out;
		}
		bin[n] = xmalloc(strlen(b64) + 1);
		if (sodium_base642bin(bin[n], strlen(b64) + 1, b64,
		    strlen(b64), NULL, &len, NULL,
		    sodium_base64_VARIANT_ORIGINAL) != 0) {
			n++;
			rest_fail(r, 400, "bad-file", "files.%s is not base64",
			    key);
			goto out;
		}
		src[n].name = key;
		src[n].path = NULL;
		src[n].data = bin[n];
		src[n].len = len;
		n++;
	}
	rc = releases_add(&r->c->dd, m, strlen(m), sig, strlen(sig), src, n,
	    r->now, version, sizeof(version), &exists, err, sizeof(err));
	if (rc != 0) {
		rest_fail(r, exists ? 409 : 400, exists ? "exists" :
		    "bad-release", "%s", err);
		goto out;
	}
	rest_audit(r, "release.add", version, "added release %s", version);
	log_info("releases: %s added by %s", version, r->actor);
	rest_reply(r, 201, json_pack("{s:s}", "version", version));
out:
	for (i = 0; i < n; i++)
		free(bin[i]);
}

void
rest_release_delete(struct rest *r)
{
	const char	*version = r->seg[1];
	char		 err[512];
	int64_t		 n;

	if (!release_version_valid(version)) {
		rest_fail(r, 404, "not-found", "no such release");
		return;
	}
	if (releases_remove(&r->c->dd, version, &n, err, sizeof(err)) != 0) {
		rest_store_fail(r, UPLINK_EIO, err);
		return;
	}
	if (n == 0) {
		rest_fail(r, 404, "not-found", "no release %s", version);
		return;
	}
	rest_audit(r, "release.remove", version, "removed release %s",
	    version);
	rest_reply(r, 204, NULL);
}
