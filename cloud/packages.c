#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "daemon.h"
#include "log.h"
#include "packages.h"
#include "rest.h"
#include "xmalloc.h"

/*
 * The connector packages on offer (packages.h). Every file is opened by
 * its bare name relative to the directory with O_NOFOLLOW, and used only
 * when it is a regular file no larger than PACKAGES_FILE_MAX: a symbolic
 * link, a FIFO or a subdirectory with a package's name is not served. A
 * download is streamed from the file a piece at a time (struct pkg_send),
 * never copied into memory whole. SHA-256 sums are kept per file identity (device,
 * inode, size, modification time) so that a listing or a download hashes
 * a file once, not on every request.
 */

#define PACKAGES_TYPE		"application/vnd.debian.binary-package"
#define PACKAGES_PATH		"/packages/"
#define PACKAGES_READ_CHUNK	(64 * 1024)
#define PACKAGES_SEND_CHUNK	(256 * 1024)

struct pkg_sum {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	char		 hex[2 * 32 + 1];	/* "" when the slot is free */
};

static struct pkg_sum	 pkg_sums[PACKAGES_MAX];
static size_t		 pkg_sums_next;

static bool
pkg_version_char(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= 'A' && ch <= 'Z') || ch == '.' || ch == '+' || ch == '~' ||
	    ch == '-';
}

static bool
pkg_arch_char(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	    ch == '-';
}

bool
packages_name_parse(const char *name, char *version, char *arch)
{
	size_t		 len = strnlen(name, PACKAGES_NAME_MAX + 1);
	size_t		 plen = strlen(PACKAGES_PREFIX);
	size_t		 slen = strlen(PACKAGES_SUFFIX);
	const char	*v, *us, *end;
	const char	*p;

	if (len > PACKAGES_NAME_MAX || len < plen + slen + 3 ||
	    strncmp(name, PACKAGES_PREFIX, plen) != 0 ||
	    strcmp(name + len - slen, PACKAGES_SUFFIX) != 0)
		return false;
	v = name + plen;
	end = name + len - slen;
	us = memchr(v, '_', (size_t)(end - v));
	if (us == NULL || us == v || us + 1 == end || *v < '0' || *v > '9')
		return false;
	for (p = v; p < us; p++)
		if (!pkg_version_char(*p))
			return false;
	for (p = us + 1; p < end; p++)
		if (!pkg_arch_char(*p))
			return false;
	if (version != NULL)
		snprintf(version, PACKAGES_NAME_MAX + 1, "%.*s",
		    (int)(us - v), v);
	if (arch != NULL)
		snprintf(arch, PACKAGES_NAME_MAX + 1, "%.*s",
		    (int)(end - us - 1), us + 1);
	return true;
}

const char *
packages_dir(struct cloud *c)
{
	struct stat	 st;

	if (c->cfg.packages[0] != '\0')
		return c->cfg.packages;
	if (stat(PACKAGES_DEFAULT_DIR, &st) == 0 && S_ISDIR(st.st_mode))
		return PACKAGES_DEFAULT_DIR;
	return NULL;
}

/*
 * Opens name in the directory dirfd: a descriptor and its stat when it is
 * a package that may be served, -1 otherwise (why in errno: ELOOP for a
 * symbolic link, EINVAL for anything not a regular file, EFBIG too big).
 * O_NONBLOCK keeps a FIFO from blocking the event loop in open().
 */
static int
pkg_open(int dirfd, const char *name, struct stat *st)
{
	int	 fd;

	if (!packages_name_parse(name, NULL, NULL)) {
		errno = ENOENT;
		return -1;
	}
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY);
	if (fd == -1)
		return -1;
	if (fstat(fd, st) == -1)
		goto fail;
	if (!S_ISREG(st->st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if (st->st_size > PACKAGES_FILE_MAX) {
		errno = EFBIG;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static struct pkg_sum *
pkg_sum_find(const struct stat *st)
{
	size_t	 i;

	for (i = 0; i < PACKAGES_MAX; i++) {
		struct pkg_sum	*s = &pkg_sums[i];

		if (s->hex[0] != '\0' && s->dev == st->st_dev &&
		    s->ino == st->st_ino && s->size == st->st_size &&
		    s->mtime.tv_sec == st->st_mtim.tv_sec &&
		    s->mtime.tv_nsec == st->st_mtim.tv_nsec)
			return s;
	}
	return NULL;
}

/* The SHA-256 of the open file in hex, from the cache when it is known. */
static int
pkg_sha256(int fd, const struct stat *st, char hex[2 * 32 + 1])
{
	unsigned char	 md[32], *chunk;
	struct pkg_sum	*s = pkg_sum_find(st);
	EVP_MD_CTX	*ctx;
	off_t		 off = 0;
	ssize_t		 n;
	unsigned	 i, mdlen = 0;
	int		 rc = -1;

	if (s != NULL) {
		memcpy(hex, s->hex, sizeof(s->hex));
		return 0;
	}
	chunk = xmalloc(PACKAGES_READ_CHUNK);
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	while (off < st->st_size) {
		n = pread(fd, chunk, PACKAGES_READ_CHUNK, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || EVP_DigestUpdate(ctx, chunk, (size_t)n) != 1)
			goto out;
		off += n;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		goto out;
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	s = &pkg_sums[pkg_sums_next++ % PACKAGES_MAX];
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->size = st->st_size;
	s->mtime = st->st_mtim;
	memcpy(s->hex, hex, sizeof(s->hex));
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(chunk);
	return rc;
}

static int
pkg_name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * The names in dir that look like packages, sorted, at most PACKAGES_MAX
 * (*more set when there were others). -1 with errno when dir cannot be
 * read.
 */
static int
pkg_names(int dirfd, char (*names)[PACKAGES_NAME_MAX + 1], size_t *n,
    bool *more)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd = dup(dirfd);

	*n = 0;
	*more = false;
	if (fd == -1)
		return -1;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!packages_name_parse(de->d_name, NULL, NULL))
			continue;
		if (*n == PACKAGES_MAX) {
			*more = true;
			continue;
		}
		snprintf(names[(*n)++], PACKAGES_NAME_MAX + 1, "%s",
		    de->d_name);
	}
	closedir(d);
	qsort(names, *n, sizeof(names[0]), pkg_name_cmp);
	return 0;
}

static json_t *
pkg_json(int dirfd, const char *name)
{
	char		 version[PACKAGES_NAME_MAX + 1], arch[PACKAGES_NAME_MAX + 1];
	char		 hex[2 * 32 + 1];
	struct stat	 st;
	json_t		*j;
	int		 fd = pkg_open(dirfd, name, &st);

	if (fd == -1)
		return NULL;
	if (pkg_sha256(fd, &st, hex) != 0) {
		log_warnx("packages: cannot read %s: %s", name,
		    strerror(errno != 0 ? errno : EIO));
		close(fd);
		return NULL;
	}
	close(fd);
	packages_name_parse(name, version, arch);
	j = json_pack("{s:s, s:s, s:s, s:I, s:s, s:o, s:s+}", "name", name,
	    "version", version, "architecture", arch, "size",
	    (json_int_t)st.st_size, "sha256", hex, "modified_at",
	    rest_time(st.st_mtim.tv_sec), "url", PACKAGES_PATH, name);
	if (j == NULL)
		fatalx("out of memory");
	return j;
}

void
rest_packages_list(struct rest *r)
{
	char		(*names)[PACKAGES_NAME_MAX + 1];
	const char	*dir = packages_dir(r->c);
	json_t		*arr = json_array(), *one;
	size_t		 i, n = 0;
	bool		 more = false;
	char		 problem[512] = "";
	int		 dirfd = -1;

	names = xcalloc(PACKAGES_MAX, sizeof(*names));
	if (dir != NULL)
		dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir != NULL && (dirfd == -1 ||
	    pkg_names(dirfd, names, &n, &more) == -1))
		snprintf(problem, sizeof(problem), "cannot read the packages "
		    "directory %s: %s; create it or set [cloud] packages in "
		    "cloud.conf (docs/cloud.md)", dir, strerror(errno));
	for (i = 0; i < n; i++) {
		one = pkg_json(dirfd, names[i]);
		if (one != NULL)
			json_array_append_new(arr, one);
	}
	if (dirfd != -1)
		close(dirfd);
	free(names);
	if (more)
		snprintf(problem, sizeof(problem), "the packages directory has "
		    "more than %d packages; only the first %d by name are "
		    "listed: remove old versions", PACKAGES_MAX,
		    PACKAGES_MAX);
	rest_reply(r, 200, json_pack("{s:o, s:s?, s:s?, s:i, s:I}",
	    "packages", arr, "directory", dir, "problem",
	    problem[0] != '\0' ? problem : NULL, "max_packages", PACKAGES_MAX,
	    "max_size", (json_int_t)PACKAGES_FILE_MAX));
}

static void
pkg_headers(struct evhttp_request *req)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
}

/* The one failure answer: no path, no file name, no errno. */
static void
pkg_fail(struct evhttp_request *req, int status, const char *code,
    const char *msg)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	json_t			*j = json_pack("{s:s, s:s}", "error", code,
	    "message", msg);
	char			*text = j != NULL ? json_dumps(j, 0) : NULL;

	if (text == NULL)
		fatalx("out of memory");
	pkg_headers(req);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evbuffer_add(evhttp_request_get_output_buffer(req), text,
	    strlen(text));
	evhttp_send_reply(req, status, NULL, NULL);
	free(text);
	json_decref(j);
}

/*
 * One download in progress: the file is read PACKAGES_SEND_CHUNK bytes at
 * a time, the next piece when the previous one has been written to the
 * connection, so at most one piece per download sits in memory, and a
 * package an operator rewrites in place while it is sent ends that
 * download with a line that says so (a mapped file, evbuffer_add_file's
 * way, would fail somewhere inside libevent, or with SIGBUS should
 * anything read the vanished pages).
 */
struct pkg_send {
	struct evhttp_request	*req;
	int			 fd;
	off_t			 off, size;
	char			 name[PACKAGES_NAME_MAX + 1];
};

static void pkg_send_next(struct evhttp_connection *evcon, void *arg);

/* Ends a download: why is NULL when the whole file went out. */
static void
pkg_send_close(struct pkg_send *ps, const char *why)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(ps->req);

	if (evcon != NULL)
		evhttp_connection_set_closecb(evcon, NULL, NULL);
	if (why == NULL)
		evhttp_send_reply_end(ps->req);
	else {
		log_warnx("packages: %s: %s after %lld of %lld bytes",
		    ps->name, why, (long long)ps->off, (long long)ps->size);
		/*
		 * The length is promised: a short answer must end the
		 * connection. A detached request (the client left) is ours
		 * to free; an attached one goes with its connection.
		 */
		if (evcon != NULL)
			evhttp_connection_free(evcon);
		else
			evhttp_request_free(ps->req);
	}
	close(ps->fd);
	free(ps);
}

/* The client went away (or the server is stopping) mid-download. */
static void
pkg_send_gone(struct evhttp_connection *evcon, void *arg)
{
	struct pkg_send	*ps = arg;

	(void)evcon;
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	log_info("packages: %s: the client left after %lld of %lld bytes",
	    ps->name, (long long)ps->off, (long long)ps->size);
	if (evhttp_request_get_connection(ps->req) == NULL)
		evhttp_request_free(ps->req);
	close(ps->fd);
	free(ps);
}

static void
pkg_send_next(struct evhttp_connection *evcon, void *arg)
{
	struct pkg_send		*ps = arg;
	struct evbuffer		*piece;
	struct evbuffer_iovec	 v;
	size_t			 want;
	ssize_t			 n;

	(void)evcon;
	if (ps->off == ps->size) {
		pkg_send_close(ps, NULL);
		return;
	}
	want = (size_t)(ps->size - ps->off) < PACKAGES_SEND_CHUNK ?
	    (size_t)(ps->size - ps->off) : PACKAGES_SEND_CHUNK;
	piece = evbuffer_new();
	if (piece == NULL || evbuffer_reserve_space(piece, (ev_ssize_t)want,
	    &v, 1) < 1)
		fatalx("out of memory");
	do
		n = pread(ps->fd, v.iov_base, want, ps->off);
	while (n == -1 && errno == EINTR);
	if (n <= 0) {
		evbuffer_free(piece);
		pkg_send_close(ps, n == 0 ? "the file became shorter while "
		    "it was sent (rewritten in place? copy a new package under "
		    "another name and rename it)" : strerror(errno));
		return;
	}
	v.iov_len = (size_t)n;
	evbuffer_commit_space(piece, &v, 1);
	ps->off += n;
	evhttp_send_reply_chunk_with_cb(ps->req, piece, pkg_send_next, ps);
	evbuffer_free(piece);
}

/* Sends the open package fd (taken) with its headers, or 304. */
static void
pkg_send(struct evhttp_request *req, const char *name, int fd,
    const struct stat *st, const char *hex)
{
	packages_send_fd(req, name, PACKAGES_TYPE, fd, st, hex);
}

void
packages_send_fd(struct evhttp_request *req, const char *name,
    const char *type, int fd, const struct stat *st, const char *hex)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	struct pkg_send		*ps;
	const char		*inm;
	char			 etag[2 * 32 + 3], date[64], len[32], disp[192];
	struct tm		 tm;

	snprintf(etag, sizeof(etag), "\"%s\"", hex);
	gmtime_r(&st->st_mtim.tv_sec, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(len, sizeof(len), "%lld", (long long)st->st_size);
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", name);
	pkg_headers(req);
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Content-Disposition", disp);
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_add_header(h, "ETag", etag);
	evhttp_add_header(h, "Last-Modified", date);
	inm = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "If-None-Match");
	if (inm != NULL && strcmp(inm, etag) == 0) {
		close(fd);
		evhttp_send_reply(req, 304, "Not Modified", NULL);
		return;
	}
	/* With Content-Length, evhttp sends the pieces as they are. */
	evhttp_add_header(h, "Content-Length", len);
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD ||
	    st->st_size == 0) {
		close(fd);
		evhttp_send_reply(req, 200, "OK", NULL);
		return;
	}
	ps = xcalloc(1, sizeof(*ps));
	ps->req = req;
	ps->fd = fd;
	ps->size = st->st_size;
	snprintf(ps->name, sizeof(ps->name), "%s", name);
	evhttp_connection_set_closecb(evhttp_request_get_connection(req),
	    pkg_send_gone, ps);
	evhttp_send_reply_start(req, 200, "OK");
	pkg_send_next(NULL, ps);
}

void
packages_serve(struct cloud *c, struct evhttp_request *req, const char *path)
{
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	const char		*dir = packages_dir(c);
	char			 hex[2 * 32 + 1], *name;
	struct stat		 st;
	size_t			 len = 0;
	int			 dirfd = -1, fd = -1;

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		pkg_fail(req, 405, "method", "use GET to download a package");
		return;
	}
	/* Decoded, so that %2F cannot hide a '/' from the name check. */
	name = evhttp_uridecode(path + strlen(PACKAGES_PATH), 0, &len);
	if (name == NULL)
		fatalx("out of memory");
	if (len == strlen(name) && packages_name_parse(name, NULL, NULL) &&
	    dir != NULL)
		dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd != -1)
		fd = pkg_open(dirfd, name, &st);
	if (dirfd != -1)
		close(dirfd);
	if (fd != -1 && pkg_sha256(fd, &st, hex) != 0) {
		log_warnx("packages: cannot read %s: %s", name,
		    strerror(errno != 0 ? errno : EIO));
		close(fd);
		fd = -1;
	}
	if (fd == -1)
		pkg_fail(req, 404, "not-found", "no such package: the "
		    "console's \"Add a connector\" page lists the packages "
		    "this cloud has (docs/install.md)");
	else
		pkg_send(req, name, fd, &st, hex);
	free(name);
}
