/*
 * A release downloaded from the cloud, then staged (update_fetch.h).
 * One request at a time, each step's answer deciding the next: latest,
 * manifest, signature (verified here), then the files in the manifest's
 * order, each written to STATE/.download.XXXXXX/NAME. The temporary
 * directory is removed at the end whatever happened.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "atomicfile.h"
#include "connector.h"
#include "error.h"
#include "https.h"
#include "log.h"
#include "release.h"
#include "update_fetch.h"

#define UF_STEP_MS	30000	/* each dial step and each wait for data */
#define UF_PATH_MAX	4096

enum uf_step { UF_LATEST, UF_MANIFEST, UF_SIG, UF_FILE };

struct update_fetch {
	struct event_base		*base;
	struct evdns_base		*dns;
	const struct connector_config	*cfg;
	const char			*state;
	SSL_CTX				*ctx;
	struct https			*req;
	struct event			*later;
	update_fetch_cb			*done;
	void				*arg;
	enum uf_step			 step;
	size_t				 file;
	struct release_manifest		 m;
	bool				 have_m;
	char				 version[RELEASE_VERSION_MAX + 1];
	char				 tmp[UF_PATH_MAX];
	char				 path[512];
	int				 rc;
	char				 msg[1024];
};

static void uf_next(struct update_fetch *uf);

static void
uf_rmtmp(struct update_fetch *uf)
{
	char	 path[UF_PATH_MAX + 80];
	size_t	 i;

	if (uf->tmp[0] == '\0')
		return;
	snprintf(path, sizeof(path), "%s/manifest.json", uf->tmp);
	(void)unlink(path);
	snprintf(path, sizeof(path), "%s/manifest.json.minisig", uf->tmp);
	(void)unlink(path);
	for (i = 0; uf->have_m && i < uf->m.nfiles; i++) {
		snprintf(path, sizeof(path), "%s/%s", uf->tmp,
		    uf->m.files[i].name);
		(void)unlink(path);
	}
	(void)rmdir(uf->tmp);
	uf->tmp[0] = '\0';
}

static void
uf_free(struct update_fetch *uf)
{
	https_cancel(uf->req);
	if (uf->later != NULL)
		event_free(uf->later);
	uf_rmtmp(uf);
	if (uf->have_m)
		release_manifest_free(&uf->m);
	SSL_CTX_free(uf->ctx);
	free(uf);
}

/* Ends with a verdict; done runs from the loop, never inside a callback. */
static void
uf_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct update_fetch	*uf = arg;

	(void)fd;
	(void)what;
	uf->done(uf->arg, uf->rc, uf->version, uf->msg);
	uf_free(uf);
}

static void
uf_finish(struct update_fetch *uf, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
uf_finish(struct update_fetch *uf, int rc, const char *fmt, ...)
{
	struct timeval	 now = { 0, 0 };
	va_list		 ap;

	uf->rc = rc;
	va_start(ap, fmt);
	vsnprintf(uf->msg, sizeof(uf->msg), fmt, ap);
	va_end(ap);
	uf_rmtmp(uf);
	event_add(uf->later, &now);
}

static void
uf_query(const struct update_fetch *uf, const char *what, char *out,
    size_t outlen)
{
	snprintf(out, outlen, "/v1/releases/%s?channel=%s&arch=%s", what,
	    uf->cfg->update_channel, release_host_arch());
}

static void uf_answer(void *arg, struct https_result *res);

static void
uf_get(struct update_fetch *uf, size_t max)
{
	struct https_request	 q;

	memset(&q, 0, sizeof(q));
	q.url = uf->cfg->cloud_url;
	q.method = "GET";
	q.path = uf->path;
	q.ctx = uf->ctx;
	q.routes = &uf->cfg->routes;
	q.max_body = max;
	q.timeout_ms = UF_STEP_MS;
	q.id = "update";
	uf->req = https_request_start(uf->base, uf->dns, &q, uf_answer, uf);
	if (uf->req == NULL)
		uf_finish(uf, RELEASE_EIO, "cannot ask %s (out of memory?)",
		    uf->cfg->cloud_url);
}

static int
uf_write(struct update_fetch *uf, const char *name, const struct buf *b)
{
	char	 path[UF_PATH_MAX + 80], why[512];

	snprintf(path, sizeof(path), "%s/%s", uf->tmp, name);
	if (atomicfile_write(path, b->ptr, b->len, 0600, name, why,
	    sizeof(why)) != UPLINK_OK) {
		uf_finish(uf, RELEASE_EIO, "%s", why);
		return -1;
	}
	return 0;
}

/* The manifest and its signature are in: judge them before any file. */
static void
uf_judge(struct update_fetch *uf)
{
	char	 path[UF_PATH_MAX + 80], err[1024], v[RELEASE_VERSION_MAX + 1];
	struct buf b;
	int	 rc;

	snprintf(path, sizeof(path), "%s/manifest.json", uf->tmp);
	buf_init(&b, 0);
	(void)buf_read_file(&b, path, RELEASE_MANIFEST_MAX, err, sizeof(err));
	{
		char		 sp[UF_PATH_MAX + 80];
		struct buf	 sb;

		snprintf(sp, sizeof(sp), "%s.minisig", path);
		buf_init(&sb, 0);
		(void)buf_read_file(&sb, sp, RELEASE_SIGFILE_MAX, err,
		    sizeof(err));
		rc = update_verify(uf->cfg, uf->state, b.ptr, b.len, sb.ptr,
		    sb.len, v, sizeof(v), err, sizeof(err));
		buf_free(&sb);
	}
	if (rc == RELEASE_OK && release_manifest_parse(b.ptr, b.len, &uf->m,
	    err, sizeof(err)) == UPLINK_OK)
		uf->have_m = true;
	else if (rc == RELEASE_OK)
		rc = RELEASE_EMALFORMED;
	buf_free(&b);
	if (rc != RELEASE_OK) {
		uf_finish(uf, rc, "%s", err);
		return;
	}
	uf->step = UF_FILE;
	uf->file = 0;
	uf_next(uf);
}

static void
uf_stage(struct update_fetch *uf)
{
	char	 path[UF_PATH_MAX + 80], err[1024], v[RELEASE_VERSION_MAX + 1];
	int	 rc;

	snprintf(path, sizeof(path), "%s/manifest.json", uf->tmp);
	rc = update_stage_release(uf->cfg, uf->state, path, uf->tmp, v,
	    sizeof(v), err, sizeof(err));
	if (rc != RELEASE_OK)
		uf_finish(uf, rc, "%s", err);
	else
		uf_finish(uf, RELEASE_OK, "staged release %s under %s/versions/"
		    "%s", v, uf->state, v);
}

static void
uf_answer(void *arg, struct https_result *res)
{
	struct update_fetch	*uf = arg;
	json_t			*j;
	const char		*v, *m;

	uf->req = NULL;
	if (res->error != NULL) {
		uf_finish(uf, RELEASE_EIO, "downloading %s%s: %s",
		    uf->cfg->cloud_url, uf->path, res->detail);
		return;
	}
	if (res->status != 200) {
		j = json_loadb(res->body->ptr, res->body->len, 0, NULL);
		m = json_string_value(json_object_get(j, "message"));
		uf_finish(uf, RELEASE_EIO, "%s%s answered %d%s%s",
		    uf->cfg->cloud_url, uf->path, res->status, m ? ": " : "",
		    m ? m : "");
		json_decref(j);
		return;
	}
	switch (uf->step) {
	case UF_LATEST:
		j = json_loadb(res->body->ptr, res->body->len, 0, NULL);
		v = json_string_value(json_object_get(j, "version"));
		if (v == NULL || !release_version_valid(v)) {
			json_decref(j);
			uf_finish(uf, RELEASE_EIO, "%s%s: no version in the "
			    "answer", uf->cfg->cloud_url, uf->path);
			return;
		}
		snprintf(uf->version, sizeof(uf->version), "%s", v);
		json_decref(j);
		uf->step = UF_MANIFEST;
		break;
	case UF_MANIFEST:
		if (uf_write(uf, "manifest.json", res->body) != 0)
			return;
		uf->step = UF_SIG;
		break;
	case UF_SIG:
		if (uf_write(uf, "manifest.json.minisig", res->body) != 0)
			return;
		uf_judge(uf);
		return;
	case UF_FILE:
		if (uf_write(uf, uf->m.files[uf->file].name, res->body) != 0)
			return;
		uf->file++;
		break;
	}
	uf_next(uf);
}

static void
uf_next(struct update_fetch *uf)
{
	char	 what[RELEASE_VERSION_MAX + RELEASE_NAME_MAX + 32];

	switch (uf->step) {
	case UF_LATEST:
		uf_query(uf, "latest", uf->path, sizeof(uf->path));
		uf_get(uf, 64 * 1024);
		return;
	case UF_MANIFEST:
		snprintf(what, sizeof(what), "%s/manifest.json", uf->version);
		uf_query(uf, what, uf->path, sizeof(uf->path));
		uf_get(uf, RELEASE_MANIFEST_MAX);
		return;
	case UF_SIG:
		snprintf(what, sizeof(what), "%s/manifest.json.minisig",
		    uf->version);
		uf_query(uf, what, uf->path, sizeof(uf->path));
		uf_get(uf, RELEASE_SIGFILE_MAX);
		return;
	case UF_FILE:
		if (uf->file == uf->m.nfiles) {
			uf_stage(uf);
			return;
		}
		snprintf(what, sizeof(what), "%s/%s", uf->version,
		    uf->m.files[uf->file].name);
		uf_query(uf, what, uf->path, sizeof(uf->path));
		/* One byte more than stated: a longer file is seen as such. */
		uf_get(uf, (size_t)uf->m.files[uf->file].size + 1);
		return;
	}
}

struct update_fetch *
update_fetch_start(struct event_base *base, struct evdns_base *dns,
    const struct connector_config *cfg, const char *state,
    const char *version, update_fetch_cb *done, void *arg)
{
	struct update_fetch	*uf = calloc(1, sizeof(*uf));
	char			 err[768];

	if (uf == NULL)
		return NULL;
	uf->base = base;
	uf->dns = dns;
	uf->cfg = cfg;
	uf->state = state;
	uf->done = done;
	uf->arg = arg;
	uf->later = evtimer_new(base, uf_finish_cb, uf);
	if (uf->later == NULL) {
		free(uf);
		return NULL;
	}
	if (version != NULL)
		snprintf(uf->version, sizeof(uf->version), "%s", version);
	uf->step = version != NULL ? UF_MANIFEST : UF_LATEST;
	uf->ctx = https_ctx_new(cfg->cloud_ca, cfg->cloud_cert, cfg->cloud_key,
	    err, sizeof(err));
	if (uf->ctx == NULL) {
		uf_finish(uf, RELEASE_EIO, "%s", err);
		return uf;
	}
	snprintf(uf->tmp, sizeof(uf->tmp), "%s/.download.XXXXXX", state);
	if (mkdtemp(uf->tmp) == NULL) {
		snprintf(err, sizeof(err), "%s: %s (the state directory must "
		    "exist and be writable)", uf->tmp, strerror(errno));
		uf->tmp[0] = '\0';
		uf_finish(uf, RELEASE_EIO, "%s", err);
		return uf;
	}
	uf_next(uf);
	return uf;
}

void
update_fetch_cancel(struct update_fetch *uf)
{
	if (uf != NULL)
		uf_free(uf);
}
