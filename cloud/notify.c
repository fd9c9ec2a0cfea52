#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "alerts.h"
#include "daemon.h"
#include "error.h"
#include "log.h"
#include "notify.h"
#include "session.h"
#include "status.h"
#include "xmalloc.h"

/*
 * Notifications for the console's bell. Conditions the daemon can see by
 * itself are swept every few seconds: a connector without a tunnel, or a
 * site with fewer than two serving connectors, for longer than a grace
 * period (restarts do not ring the bell), a certificate that expires within a
 * week (renewal should have replaced it by then). Each condition is one
 * notification, opened once and resolved when it clears; the store keeps
 * that rule, so a restart of the daemon does not repeat them.
 */

#define NOTIFY_SWEEP_MS		2000
#define NOTIFY_OFFLINE_GRACE	10	/* seconds without a tunnel */
#define NOTIFY_EXPIRY_WARN	(7 * 86400)
#define NOTIFY_PURGE_SECS	3600

struct offline {
	char	 connector[STORE_NAME_MAX + 4];	/* an id, or "s:" + site */
	int64_t	 since;
};

struct notify {
	struct cloud	*c;
	struct event	*ev;
	int64_t		 purged;	/* last purge of ended sessions */
	struct offline	*off;
	size_t		 noff;
};

void
notify_open(struct cloud *c, const char *kind, const char *subject,
    const char *severity, const char *fmt, ...)
{
	char	 msg[STORE_TEXT_MAX + 1], err[256];
	bool	 created = false;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (store_note_open(c->dd.st, kind, subject, severity, msg, time(NULL),
	    &created, err, sizeof(err)) != 0)
		log_warnx("notification %s (%s): %s", kind, subject, err);
	else if (created) {
		log_info("notification: %s", msg);
		alerts_kick(c);	/* rules that send it at once */
	}
}

void
notify_resolve(struct cloud *c, const char *kind, const char *subject)
{
	char	 err[256];

	if (store_note_resolve(c->dd.st, kind, subject, time(NULL), err,
	    sizeof(err)) != 0)
		log_warnx("notification %s (%s): %s", kind, subject, err);
}

/* When connector was first seen without a tunnel (0: it has one). */
static int64_t
offline_since(struct notify *n, const char *connector, bool offline,
    int64_t now)
{
	size_t	 i;

	for (i = 0; i < n->noff; i++)
		if (strcmp(n->off[i].connector, connector) == 0)
			break;
	if (!offline) {
		if (i < n->noff)
			n->off[i] = n->off[--n->noff];
		return 0;
	}
	if (i == n->noff) {
		n->off = xrealloc(n->off, (n->noff + 1) * sizeof(*n->off));
		snprintf(n->off[i].connector, sizeof(n->off[i].connector), "%s",
		    connector);
		n->off[i].since = now;
		n->noff++;
	}
	return n->off[i].since;
}

static void
connector_notes(struct notify *n, const struct live_conn *lc, int64_t now)
{
	struct cloud	*c = n->c;
	int64_t		 since;

	since = offline_since(n, lc->sc.id, lc->tunnels == 0, now);
	if (since != 0 && now - since >= NOTIFY_OFFLINE_GRACE &&
	    lc->sc.last_seen != 0)
		notify_open(c, "connector-offline", lc->sc.id, "error",
		    "connector %s (\"%s\", site %s) is offline: it has had no "
		    "tunnel to the cloud for %lld seconds; check that it runs "
		    "and reaches the cloud (uplink-connector check)", lc->sc.id,
		    lc->sc.name, lc->site, (long long)(now - since));
	else if (since == 0)
		notify_resolve(c, "connector-offline", lc->sc.id);
	if (lc->sc.cert_not_after != 0 &&
	    lc->sc.cert_not_after - now < NOTIFY_EXPIRY_WARN)
		notify_open(c, "cert-expiring", lc->sc.id, "warning",
		    "the certificate of connector %s (\"%s\") expires in %lld "
		    "hours and was not renewed: check its log, or enroll it "
		    "again", lc->sc.id, lc->sc.name,
		    (long long)((lc->sc.cert_not_after - now) / 3600));
	else
		notify_resolve(c, "cert-expiring", lc->sc.id);
}

/* Sites with connectors but fewer than two of them serving. */
static void
site_notes(struct notify *n, const struct live_list *l)
{
	char	 key[STORE_NAME_MAX + 4];
	int64_t	 since, now = time(NULL);
	size_t	 i, j;
	int	 total, serving;

	for (i = 0; i < l->n; i++) {
		for (j = 0; j < i; j++)
			if (l->v[j].sc.site_id == l->v[i].sc.site_id)
				break;
		if (j < i)
			continue;	/* site done already */
		total = serving = 0;
		for (j = i; j < l->n; j++) {
			if (l->v[j].sc.site_id != l->v[i].sc.site_id)
				continue;
			total++;
			serving += live_serving(&l->v[j]);
		}
		snprintf(key, sizeof(key), "s:%s", l->v[i].site);
		since = offline_since(n, key, serving < 2, now);
		if (since != 0 && now - since >= NOTIFY_OFFLINE_GRACE)
			notify_open(n->c, "site-no-redundancy", l->v[i].site,
			    "warning", "site %s has %d serving connector%s of "
			    "%d: one more failure %s its services down; run "
			    "at least two connectors per site", l->v[i].site,
			    serving, serving == 1 ? "" : "s", total, serving ?
			    "takes" : "has taken");
		else if (since == 0)
			notify_resolve(n->c, "site-no-redundancy",
			    l->v[i].site);
	}
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notify		*n = arg;
	struct live_list	 l;
	int64_t			 now = time(NULL);
	char			 err[256];
	size_t			 i;
	int			 rc;

	(void)fd;
	(void)what;
	if (n->c->stopping)
		return;
	rc = live_collect(n->c, 0, false, &l, err, sizeof(err));
	if (rc != UPLINK_OK) {
		/* An unavailable database has said so once, in its own line. */
		if (rc != UPLINK_EUNAVAIL)
			log_warnx("notifications: %s", err);
		return;
	}
	for (i = 0; i < l.n; i++)
		connector_notes(n, &l.v[i], now);
	site_notes(n, &l);
	live_free(&l);
	/*
	 * Sessions nobody uses again are deleted here, hourly, once past the
	 * longest life any policy gives them (those used are checked then).
	 */
	if (now - n->purged >= NOTIFY_PURGE_SECS) {
		n->purged = now;
		if (store_session_purge(n->c->dd.st, now -
		    SESSION_ABSOLUTE_DISABLED, err, sizeof(err)) != 0)
			log_warnx("sessions: %s", err);
	}
}

int
notify_start(struct cloud *c, char *err, size_t errlen)
{
	struct timeval	 tv = { NOTIFY_SWEEP_MS / 1000,
	    (NOTIFY_SWEEP_MS % 1000) * 1000 };
	struct notify	*n;

	(void)err;
	(void)errlen;
	n = xcalloc(1, sizeof(*n));
	n->c = c;
	n->ev = event_new(c->base, -1, EV_PERSIST, sweep_cb, n);
	event_add(n->ev, &tv);
	c->notify = n;
	return 0;
}

void
notify_free(struct cloud *c)
{
	struct notify	*n = c->notify;

	if (n == NULL)
		return;
	event_free(n->ev);
	free(n->off);
	free(n);
	c->notify = NULL;
}
