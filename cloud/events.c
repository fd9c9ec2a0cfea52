#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "daemon.h"
#include "error.h"
#include "events.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

/*
 * The queue of events not written yet. A thousand connectors coming back
 * after a restart of the cloud cost a few transactions, not thousands;
 * past EVENTS_MAX waiting (a flood within half a second) they are counted
 * and the count logged.
 */

#define EVENTS_MAX		10000
#define EVENTS_FLUSH_MS		500
#define EVENTS_PRUNE_S		60

struct events {
	struct cloud		*c;
	struct store_event	*v;
	size_t			 n, cap;
	uint64_t		 lost;
	struct event		*flush;
	int64_t			 pruned;	/* when, Unix time */
};

void
events_record(struct cloud *c, const char *connector, const char *kind,
    const char *fmt, ...)
{
	struct events		*ev = c->events;
	struct store_event	*e, one;
	va_list			 ap;
	char			 err[256];

	if (ev != NULL && ev->n == EVENTS_MAX) {
		ev->lost++;
		return;
	}
	if (ev != NULL && ev->n == ev->cap) {
		ev->cap = ev->cap ? ev->cap * 2 : 64;
		ev->v = xrealloc(ev->v, ev->cap * sizeof(*ev->v));
	}
	e = ev != NULL ? &ev->v[ev->n++] : &one;
	memset(e, 0, sizeof(*e));
	e->at = time(NULL);
	snprintf(e->connector_id, sizeof(e->connector_id), "%s", connector);
	snprintf(e->kind, sizeof(e->kind), "%s", kind);
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
	if (ev == NULL && store_events_add(c->dd.st, &one, 1, err,
	    sizeof(err)) != UPLINK_OK)
		log_warnx("connector %s: cannot record event %s: %s",
		    connector, kind, err);
}

void
events_version(struct cloud *c, const char *connector, const char *version)
{
	struct store_connector	 sc;
	char			 err[256];

	if (store_connector_get(c->dd.st, connector, &sc, err, sizeof(err)) ==
	    UPLINK_OK && sc.version[0] != '\0' &&
	    strcmp(sc.version, version) != 0)
		events_record(c, connector, "updated", "version %s, was %s",
		    version, sc.version);
}

static void
events_write(struct events *ev)
{
	char	 err[256];
	int64_t	 n, now = time(NULL);

	if (ev->lost > 0) {
		log_warnx("events: %llu connector events not recorded: more "
		    "than %d came within half a second",
		    (unsigned long long)ev->lost, EVENTS_MAX);
		ev->lost = 0;
	}
	if (ev->n > 0 && store_events_add(ev->c->dd.st, ev->v, ev->n, err,
	    sizeof(err)) != UPLINK_OK)
		log_warnx("events: %zu connector events not recorded: %s",
		    ev->n, err);
	ev->n = 0;
	if (now - ev->pruned < EVENTS_PRUNE_S)
		return;
	ev->pruned = now;
	if (store_events_prune(ev->c->dd.st, now - ev->c->cfg.events_retention,
	    &n, err, sizeof(err)) != UPLINK_OK)
		log_warnx("events: retention not applied now: %s", err);
}

static void
events_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	events_write(arg);
}

int
events_start(struct cloud *c, char *err, size_t errlen)
{
	struct events	*ev;
	struct timeval	 tv = { 0, EVENTS_FLUSH_MS * 1000 };

	(void)err;
	(void)errlen;
	ev = xcalloc(1, sizeof(*ev));
	ev->c = c;
	ev->flush = event_new(c->base, -1, EV_PERSIST, events_flush_cb, ev);
	event_add(ev->flush, &tv);
	c->events = ev;
	return 0;
}

void
events_free(struct cloud *c)
{
	struct events	*ev = c->events;

	if (ev == NULL)
		return;
	events_write(ev);
	event_free(ev->flush);
	free(ev->v);
	free(ev);
	c->events = NULL;
}
