/*
 * Services published through the API on another instance (or by another
 * process on the same database) are published here too, and those deleted
 * or changed there are stopped or moved here: publish_sync() makes the
 * running API services match the store. cloud/run.c calls it whenever the
 * data version moves (at once on a LISTEN/NOTIFY hint in a cluster,
 * docs/cluster.md). Services of cloud.conf are never touched.
 *
 * A service that cannot be published here (its address is taken: instances
 * on one machine without SO_REUSEPORT) is logged once per version of it,
 * not at every sync.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon.h"
#include "error.h"
#include "log.h"
#include "publish.h"
#include "store.h"
#include "xmalloc.h"

#define SYNC_MAX	4096	/* services considered; the store has fewer */

struct sync_list {
	struct store_service	*v;
	size_t			 n, cap;
};

/* Failures already logged, by name and version (updated_at). */
static struct store_service	*sync_failed;
static size_t			 sync_nfailed;

static int
sync_row(void *arg, const struct store_service *s)
{
	struct sync_list	*l = arg;

	if (l->n == SYNC_MAX)
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 16 : l->cap * 2;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = *s;
	return 0;
}

static const struct store_service *
sync_find(const struct sync_list *l, const char *name)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

static bool
sync_same(const struct publish_info *run, const struct store_service *s)
{
	return strcmp(run->site, s->site) == 0 &&
	    strcmp(run->target, s->target) == 0 &&
	    strcmp(run->listen, s->listen) == 0;
}

struct sync_stale {
	const struct sync_list	*want;
	char			(*names)[STORE_NAME_MAX + 1];
	size_t			 n, cap;
};

/* API services running here that the store no longer has as they run. */
static void
sync_stale_cb(void *arg, const struct publish_info *run)
{
	struct sync_stale		*st = arg;
	const struct store_service	*s;

	if (run->config)
		return;
	s = sync_find(st->want, run->name);
	if (s != NULL && sync_same(run, s))
		return;
	if (st->n == st->cap) {
		st->cap = st->cap == 0 ? 8 : st->cap * 2;
		st->names = xrealloc(st->names, st->cap * sizeof(*st->names));
	}
	snprintf(st->names[st->n++], sizeof(st->names[0]), "%s", run->name);
}

/* Logs a failure to publish s once per version of it; true if new. */
static bool
sync_first_failure(const struct store_service *s)
{
	size_t	 i;

	for (i = 0; i < sync_nfailed; i++)
		if (strcasecmp(sync_failed[i].name, s->name) == 0 &&
		    sync_failed[i].updated_at == s->updated_at &&
		    strcmp(sync_failed[i].listen, s->listen) == 0)
			return false;
	if (sync_nfailed == SYNC_MAX)
		sync_nfailed = 0;	/* forget the oldest at worst */
	sync_failed = xrealloc(sync_failed, (sync_nfailed + 1) *
	    sizeof(*sync_failed));
	sync_failed[sync_nfailed++] = *s;
	return true;
}

void
publish_sync(struct cloud *c)
{
	struct sync_list	 want = { 0 };
	struct sync_stale	 stale = { 0 };
	struct publish_info	 run, info;
	char			 err[512];
	size_t			 i;

	if (c->publish == NULL || c->stopping)
		return;
	/* Unavailable: the breaker has said so; keep what runs. */
	if (store_service_list(c->dd.st, sync_row, &want, err, sizeof(err)) !=
	    UPLINK_OK) {
		free(want.v);
		return;
	}
	stale.want = &want;
	publish_foreach(c, sync_stale_cb, &stale);
	for (i = 0; i < stale.n; i++) {
		log_info("publish %s: deleted or changed through another "
		    "instance", stale.names[i]);
		publish_remove(c, stale.names[i]);
	}
	for (i = 0; i < want.n; i++) {
		if (publish_get(c, want.v[i].name, &run))
			continue;
		publish_info_from(&want.v[i], &info);
		if (publish_add(c, &info, err, sizeof(err)) != UPLINK_OK &&
		    sync_first_failure(&want.v[i]))
			log_warnx("publish %s (made through the API): not "
			    "published on this instance: %s", info.name, err);
	}
	free(stale.names);
	free(want.v);
}

void
publish_sync_free(void)
{
	free(sync_failed);
	sync_failed = NULL;
	sync_nfailed = 0;
}
