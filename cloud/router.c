#include <sys/queue.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <limits.h>
#include <malloc.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include <jansson.h>

#include "balance.h"
#include "checks.h"
#include "cluster.h"
#include "daemon.h"
#include "error.h"
#include "dial.h"
#include "history.h"
#include "events.h"
#include "log.h"
#include "logs.h"
#include "metrics.h"
#include "peer.h"
#include "pki.h"
#include "router.h"
#include "store.h"
#include "tunnel.h"
#include "xmalloc.h"

/*
 * The connectors' tunnels, by connector, and the choice of one for each new
 * stream: the connector with the fewest open streams among those with a
 * usable tunnel (not draining, below its limits), ties going to the lowest
 * PING round-trip time, then round robin; within it, its least loaded
 * tunnel. Tunnels that have not answered yet rank after those that have,
 * and suspect ones (see below) after both: they are chosen only when
 * nothing else can take the stream. An open that fails before any byte
 * (the tunnel went away, the connector is draining or busy, or answered
 * 502/504) is tried again elsewhere, at most ROUTER_ATTEMPTS times in all.
 *
 * A connector certificate is a credential a thief can use: one stolen
 * certificate once opened 1,000 tunnels, and new streams went to tunnels
 * that never answered. So a connector keeps at most twice the tunnels it
 * declares (GET /v1/info; room for a reconnection while the old ones are
 * not yet known dead) and never more than [limits] tunnels_per_connector;
 * more are refused with a GOAWAY that says why. Its tunnels together hold
 * at most [limits] pending_per_connector unanswered streams. A stream
 * still unanswered after ROUTER_SLOW_MS marks its tunnel suspect and, if
 * another tunnel can take it, moves there, preferring a tunnel that has
 * answered a stream open (rt_rank()); any answer clears the mark.
 *
 * Tunnels hang off their connector (struct rt_conn), so a choice looks at
 * the tunnels of the site once: linear, where it used to count every
 * connector's streams over every tunnel for each candidate.
 *
 * In a cluster (docs/cluster.md, "Forwarding") the choice is over the
 * whole site: the connectors with tunnels on other instances
 * (cluster_site_locations(), load = the open streams they last reported)
 * compete with the local ones, and one chosen there is reached over the
 * peer link to its instance (cloud/peer.c): the caller gets a stream as
 * from a local tunnel. A local connector wins ties (no extra hop). A
 * stream that arrived over a peer link is routed with router_connect_here():
 * local tunnels only, so nothing makes a second hop.
 */

#define ROUTER_ATTEMPTS		3
#define ROUTER_SLOW_MS		5000	/* unanswered this long: suspect */
#define ROUTER_REFUSE_LOG_MS	1000	/* one refusal line per second */
#define ROUTER_RETRY_AFTER	10	/* seconds, told to refused tunnels */
#define ROUTER_SEEN_SECS	60	/* last_seen and bytes written this often */

struct rt_conn;

struct rt_tunnel {
	struct router		*r;
	struct rt_conn		*conn;
	LIST_ENTRY(rt_tunnel)	 entry;	/* the connector's tunnels */
	struct tunnel		*t;
	char			 peer[64];
	long			 since;
	unsigned		 picked;
	int			 expected;	/* tunnels the connector keeps, 0 unknown */
	char			 version[32];	/* from GET /v1/info, "" unknown */
	bool			 answered;	/* it answered something */
	bool			 proven;	/* it answered a stream open */
	bool			 suspect;	/* left a stream unanswered */
	uint64_t		 sent_in, sent_out;	/* bytes the store has */
};

/* A connector with tunnels up, and those tunnels. */
struct rt_conn {
	struct router		*r;
	LIST_ENTRY(rt_conn)	 entry;
	char			 connector[STORE_ID_MAX + 1];
	char			 site[STORE_NAME_MAX + 1];
	LIST_HEAD(, rt_tunnel)	 tunnels;
	unsigned		 ntunnels;
	int			 declared;	/* tunnels it said it keeps, 0 unknown */
	uint32_t		 pending;	/* stream opens not answered yet */
	bool			 drained;	/* an administrator drained it */
	uint64_t		 unsent_in, unsent_out;	/* of closed tunnels */
	uint64_t		 opened;	/* streams, since the last write */
};

struct router_conn {
	struct router		*r;
	LIST_ENTRY(router_conn)	 entry;
	char			 site[STORE_NAME_MAX + 1];
	char			 host[TUNNEL_HOST_MAX + 1];
	uint16_t		 port;
	router_conn_cb		*cb;
	void			*arg;
	struct tunnel_stream	*s;
	struct rt_tunnel	*rt;		/* carrying s, while s is open */
	struct tunnel		*tried[ROUTER_ATTEMPTS];
	int			 attempts;
	bool			 here;		/* local tunnels only (a peer's) */
	char			 want[STORE_ID_MAX + 1];	/* here: preferred */
	char			 remote[STORE_ID_MAX + 1];	/* carrying, remote */
	char			 rtried[ROUTER_ATTEMPTS][CLUSTER_ID_MAX + STORE_ID_MAX + 2];
	bool			 moved;		/* left a slow tunnel */
	char			 failed[ROUTER_ATTEMPTS][STORE_ID_MAX + 1];
	int			 nfailed;	/* connectors that answered 502/504 */
	int			 last_status;	/* their last answer, to pass on */
	char			 last_code[32];
	char			 last_reason[256];
	struct event		*ev;		/* reports a failure later */
	struct event		*slow;		/* ROUTER_SLOW_MS after an open */
	struct event		*again;		/* conn_wait_carrier() */
	int			 status;
	char			 code[32];
	char			 reason[256];
	long			 t0;		/* ms: when asked (metrics) */
};

/* What a connector said of itself, kept while it is offline. */
struct rt_known {
	char			 connector[STORE_ID_MAX + 1];
	int			 expected;
};

struct router {
	struct cloud		*c;
	struct rt_known		*known;
	size_t			 nknown;
	LIST_HEAD(, rt_conn)	 conns;		/* connectors with tunnels */
	size_t			 ntunnels;
	unsigned		 churn, churn_seen;	/* router_settle_heap() */
	LIST_HEAD(, router_conn) rconns;
	unsigned		 seq, rr;
	uint64_t		 refused;	/* tunnels refused over a cap */
	uint64_t		 refused_quiet;	/* not logged yet */
	long			 refused_logged;	/* ms of the last line */
	struct event		*refused_ev;	/* logs refused_quiet */
	struct event		*seen_ev;	/* router_seen_cb */
	bool			 stopping;
	char			 move_why[128];	/* router_move_hint() */
};

/*
 * Connectors' last_seen and byte totals in the store. Written for every
 * connector with tunnels up every ROUTER_SEEN_SECS (one transaction for
 * all of them, never per stream) and at once when a connector's last
 * tunnel closes, so an offline connector shows when it went away and
 * keeps what it carried. A tunnel's sent_in/out are what the store has
 * of its counters; a closed tunnel's rest waits in its connector.
 */
static void
rt_unsent(struct rt_tunnel *rt, uint64_t *in, uint64_t *out)
{
	struct tunnel_stats	 st;

	tunnel_stats(rt->t, &st);
	*in = st.bytes_in >= rt->sent_in ? st.bytes_in - rt->sent_in : 0;
	*out = st.bytes_out >= rt->sent_out ? st.bytes_out - rt->sent_out : 0;
}

/* What a connector carried since its last write, into s. */
static void
conn_seen_fill(struct rt_conn *cn, int64_t now, struct store_seen *s)
{
	struct rt_tunnel	*rt;
	uint64_t		 in, out;

	s->id = cn->connector;
	s->at = now;
	s->bytes_in = cn->unsent_in;
	s->bytes_out = cn->unsent_out;
	s->tunnels = cn->ntunnels;
	s->opened = cn->opened;
	LIST_FOREACH(rt, &cn->tunnels, entry) {
		rt_unsent(rt, &in, &out);
		s->bytes_in += in;
		s->bytes_out += out;
		history_sample(rt->t, s);
	}
}

/* The write of conn_seen_fill() succeeded: the store has it all. */
static void
conn_seen_done(struct rt_conn *cn)
{
	struct rt_tunnel	*rt;
	struct tunnel_stats	 st;

	cn->unsent_in = cn->unsent_out = cn->opened = 0;
	LIST_FOREACH(rt, &cn->tunnels, entry) {
		tunnel_stats(rt->t, &st);
		rt->sent_in = st.bytes_in;
		rt->sent_out = st.bytes_out;
	}
}

/* Writes every connector with tunnels up, or (cn != NULL) that one. */
static void
router_seen_write(struct router *r, struct rt_conn *only)
{
	struct store_seen	*v;
	struct rt_conn		*cn;
	size_t			 n = 0, cap = 0;
	int64_t			 now = time(NULL);
	char			 err[256];

	LIST_FOREACH(cn, &r->conns, entry)
		cap++;
	if (cap == 0)
		return;
	v = xcalloc(cap, sizeof(*v));
	LIST_FOREACH(cn, &r->conns, entry)
		if (only == NULL || cn == only)
			conn_seen_fill(cn, now, &v[n++]);
	if (store_connectors_seen(r->c->dd.st, v, n, err, sizeof(err)) != 0)
		log_warnx("cannot record when %zu connector%s %s last seen "
		    "and what %s carried (tried again in %d s): %s", n,
		    n == 1 ? "" : "s", n == 1 ? "was" : "were",
		    n == 1 ? "it" : "they", ROUTER_SEEN_SECS, err);
	else
		LIST_FOREACH(cn, &r->conns, entry)
			if (only == NULL || cn == only)
				conn_seen_done(cn);
	free(v);
}

static void
router_seen_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	router_seen_write(arg, NULL);
	history_tick(((struct router *)arg)->c);
}

/* ROUTER_SEEN_SECS, or a test's UPLINK_TEST_SEEN_SECS (1 to 60). */
static long
router_seen_secs(void)
{
	const char	*s = getenv("UPLINK_TEST_SEEN_SECS");
	char		*end;
	long		 v;

	if (s == NULL || *s == '\0')
		return ROUTER_SEEN_SECS;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > ROUTER_SEEN_SECS)
		return ROUTER_SEEN_SECS;
	return v;
}

struct router *
router_new(struct cloud *c)
{
	struct router	*r;
	struct timeval	 tv = { 0, 0 };

	r = xcalloc(1, sizeof(*r));
	r->c = c;
	r->seen_ev = event_new(c->base, -1, EV_PERSIST, router_seen_cb, r);
	tv.tv_sec = router_seen_secs();
	event_add(r->seen_ev, &tv);
	return r;
}

static struct rt_conn *
conn_find(struct router *r, const char *connector)
{
	struct rt_conn	*cn;

	LIST_FOREACH(cn, &r->conns, entry)
		if (strcmp(cn->connector, connector) == 0)
			return cn;
	return NULL;
}

static struct rt_conn *
conn_get(struct router *r, const char *connector, const char *site)
{
	struct rt_conn	*cn;

	cn = conn_find(r, connector);
	if (cn != NULL)
		return cn;
	cn = xcalloc(1, sizeof(*cn));
	cn->r = r;
	snprintf(cn->connector, sizeof(cn->connector), "%s", connector);
	snprintf(cn->site, sizeof(cn->site), "%s", site);
	LIST_INSERT_HEAD(&r->conns, cn, entry);
	return cn;
}

/* Frees a connector that has no tunnel left. */
static void
conn_put(struct rt_conn *cn)
{
	if (cn->ntunnels > 0 || !LIST_EMPTY(&cn->tunnels))
		return;
	LIST_REMOVE(cn, entry);
	free(cn);
}

static void
rt_link(struct rt_conn *cn, struct rt_tunnel *rt)
{
	rt->conn = cn;
	LIST_INSERT_HEAD(&cn->tunnels, rt, entry);
	cn->ntunnels++;
	cn->r->ntunnels++;
	cn->r->churn++;
	cluster_tunnels_changed(cn->r->c, cn->connector, cn->site, cn->ntunnels);
}

static void
rt_unlink(struct rt_tunnel *rt)
{
	struct rt_conn	*cn = rt->conn;

	LIST_REMOVE(rt, entry);
	cn->ntunnels--;
	cn->r->ntunnels--;
	cn->r->churn++;
	cluster_tunnels_changed(cn->r->c, cn->connector, cn->site, cn->ntunnels);
}

static void
site_counts(struct router *r, const char *site, unsigned *tunnels,
    unsigned *connectors)
{
	struct rt_conn	*cn;

	*tunnels = *connectors = 0;
	LIST_FOREACH(cn, &r->conns, entry) {
		if (cn->ntunnels == 0 || strcasecmp(cn->site, site) != 0)
			continue;
		*tunnels += cn->ntunnels;
		(*connectors)++;
	}
}

static void
tunnel_closed_cb(void *arg, struct tunnel *t, const char *why)
{
	struct rt_tunnel	*rt = arg;
	struct rt_conn		*cn = rt->conn;
	struct router		*r = rt->r;
	unsigned		 nt, nc;
	uint64_t		 in, out;

	metrics_tunnel_down(t);
	rt_unsent(rt, &in, &out);
	cn->unsent_in += in;
	cn->unsent_out += out;
	rt_unlink(rt);
	/* Its last tunnel: when it went away, and what it carried, now. */
	if (cn->ntunnels == 0)
		router_seen_write(r, cn);
	site_counts(r, cn->site, &nt, &nc);
	logs_tunnel_down(r->c, cn->connector, tunnel_name(t), why);
	log_info("%s: tunnel from connector %s (site %s, %s) closed: %s; the "
	    "site has %u tunnel%s over %u connector%s", tunnel_name(t),
	    cn->connector, cn->site, rt->peer, why, nt, nt == 1 ? "" : "s", nc,
	    nc == 1 ? "" : "s");
	if (nc == 0 && !r->stopping)
		log_warnx("site %s has no connector online: its services are "
		    "unreachable", cn->site);
	free(rt);
	conn_put(cn);
	/* The last one gone: a stopping cloud need not wait for its poll. */
	if (r->stopping && r->ntunnels == 0 && r->c->drain_check != NULL)
		event_active(r->c->drain_check, EV_TIMEOUT, 0);
}

static void
tunnel_goaway_cb(void *arg, struct tunnel *t, const char *why)
{
	struct rt_tunnel	*rt = arg;

	log_info("%s: connector %s is going away%s%s", tunnel_name(t),
	    rt->conn->connector, why[0] ? ": " : "", why);
	logs_going_away(rt->r->c, rt->conn->connector, tunnel_name(t), why);
}

static const struct tunnel_callbacks rt_callbacks = {
	.closed = tunnel_closed_cb,
	.goaway = tunnel_goaway_cb,
};

/* Says no to a tunnel, in a GOAWAY the connector logs. */
static void
goaway_tunnel(struct router *r, struct bufferevent *bev, const char *why)
{
	struct tunnel			*t;
	static const struct tunnel_callbacks none = { 0 };

	t = tunnel_new(r->c->base, bev, TUNNEL_CLOUD, &r->c->lim, &none, NULL,
	    "refused");
	if (t != NULL)
		tunnel_shutdown(t, why);
}

static void
refuse_tunnel(struct router *r, struct bufferevent *bev, const char *peer,
    const char *why)
{
	log_warnx("%s: tunnel refused: %s", peer, why);
	goaway_tunnel(r, bev, why);
}

/*
 * The most tunnels connector may hold: twice what it declared, never more
 * than tunnels_per_connector (that alone while it has not said).
 */
static unsigned
conn_tunnel_cap(const struct router *r, int expected)
{
	unsigned	 cap = r->c->cfg.tunnels_per_connector;

	if (expected > 0 && (unsigned)expected * 2 < cap)
		cap = (unsigned)expected * 2;
	return cap;
}

/* The refusals that were not logged, a second after the last line. */
static void
refused_quiet_cb(evutil_socket_t fd, short what, void *arg)
{
	struct router	*r = arg;

	(void)fd;
	(void)what;
	if (r->refused_quiet == 0)
		return;
	log_warnx("%llu more tunnel%s refused over a cap (%llu since start)",
	    (unsigned long long)r->refused_quiet, r->refused_quiet == 1 ?
	    "" : "s", (unsigned long long)r->refused);
	r->refused_quiet = 0;
	r->refused_logged = dial_now_ms();
}

/*
 * The log line for a tunnel over its connector's cap: the first at once,
 * then at most one a second, saying how many went unlogged meanwhile, so
 * that a flood of refusals cannot flood the log.
 */
static void
log_over_cap(struct router *r, const char *name, const char *peer,
    const char *why)
{
	long		 now = dial_now_ms(), wait;
	struct timeval	 tv;

	r->refused++;
	if (r->refused_logged != 0 &&
	    now - r->refused_logged < ROUTER_REFUSE_LOG_MS) {
		r->refused_quiet++;
		if (r->refused_ev == NULL)
			r->refused_ev = evtimer_new(r->c->base,
			    refused_quiet_cb, r);
		if (!evtimer_pending(r->refused_ev, NULL)) {
			wait = ROUTER_REFUSE_LOG_MS - (now - r->refused_logged);
			tv.tv_sec = wait / 1000;
			tv.tv_usec = (wait % 1000) * 1000;
			evtimer_add(r->refused_ev, &tv);
		}
		return;
	}
	log_warnx("%s: tunnel from %s refused: %s (%llu refused over a cap "
	    "since start, %llu not logged)", name, peer, why,
	    (unsigned long long)r->refused,
	    (unsigned long long)r->refused_quiet);
	r->refused_logged = now;
	r->refused_quiet = 0;
}

static void
over_cap_why(const struct rt_conn *cn, unsigned cap, int expected, char *why,
    size_t whylen)
{
	snprintf(why, whylen, "connector %s already has %u tunnel%s, its "
	    "limit (%s%u; [limits] tunnels_per_connector on the cloud); "
	    "retry-after=%d", cn->connector, cn->ntunnels,
	    cn->ntunnels == 1 ? "" : "s", expected > 0 ?
	    "twice the tunnels it declares, at most " : "", cap,
	    ROUTER_RETRY_AFTER);
}

int
cloud_cert_owner(struct cloud *c, X509 *cert, struct store_cert_owner *owner,
    char *why, size_t whylen)
{
	char	 serial[PKI_SERIAL_HEX_MAX], err[256];
	int	 rv;

	if (cert == NULL) {
		snprintf(why, whylen, "no client certificate: enroll the "
		    "connector first (uplink-connector enroll)");
		return -1;
	}
	/* An instance's key opens peer links (cloud/peer.c), never tunnels. */
	if (pki_cert_instance(cert, NULL, 0)) {
		snprintf(why, whylen, "an instance certificate is not a "
		    "connector's: it opens peer links (the [cluster] "
		    "peer_listen port), never tunnels");
		return -1;
	}
	if (pki_cert_serial(cert, serial, err, sizeof(err)) != 0) {
		snprintf(why, whylen, "unreadable certificate: %s", err);
		return -1;
	}
	rv = store_cert_lookup(c->dd.st, serial, owner, err, sizeof(err));
	if (rv == UPLINK_ENOTFOUND) {
		snprintf(why, whylen, "certificate %s was not issued by this "
		    "cloud's database: enroll the connector again", serial);
		return -1;
	}
	if (rv != UPLINK_OK) {
		snprintf(why, whylen, "database error: %s", err);
		return -1;
	}
	if (owner->revoked_at != 0) {
		snprintf(why, whylen, "connector %s was revoked; enroll it "
		    "again with a new token; retry-after=600",
		    owner->connector_id);
		return -1;
	}
	return 0;
}

static void
router_remember(struct router *r, const char *connector, int expected)
{
	size_t	 i;

	for (i = 0; i < r->nknown; i++)
		if (strcmp(r->known[i].connector, connector) == 0)
			break;
	if (i == r->nknown) {
		r->known = xrealloc(r->known, (r->nknown + 1) *
		    sizeof(*r->known));
		snprintf(r->known[i].connector, sizeof(r->known[i].connector),
		    "%s", connector);
		r->nknown++;
	}
	r->known[i].expected = expected;
}

int
router_expected(const struct router *r, const char *connector)
{
	size_t	 i;

	for (i = 0; i < r->nknown; i++)
		if (strcmp(r->known[i].connector, connector) == 0)
			return r->known[i].expected;
	return 0;
}

/* Any answer shows the tunnel alive: it is no longer suspect. */
static void
rt_answered(struct rt_tunnel *rt)
{
	rt->answered = true;
	if (!rt->suspect)
		return;
	rt->suspect = false;
	log_info("%s: connector %s answered again; no longer suspect",
	    tunnel_name(rt->t), rt->conn->connector);
}

static void
rt_suspect(struct rt_tunnel *rt, const char *why)
{
	if (rt->suspect)
		return;
	rt->suspect = true;
	log_warnx("%s: tunnel of connector %s (%s) is suspect: %s; it gets "
	    "new streams only when no other tunnel of the site can take them",
	    tunnel_name(rt->t), rt->conn->connector, rt->peer, why);
}

/* The connector's GET /v1/info answer: its version and tunnel count. */
static void
rt_info_cb(void *arg, struct tunnel *t, int status, const char *body)
{
	struct rt_tunnel	*rt = arg;
	struct rt_conn		*cn = rt->conn;
	json_t			*j;
	const char		*v;
	char			 err[256], why[320];
	unsigned		 cap;

	if (status == 0 && tunnel_usable(t) && !rt->r->stopping)
		rt_suspect(rt, "it did not answer GET /v1/info");
	if (status != 200) {
		log_info("%s: connector %s did not say what it is (%d)",
		    tunnel_name(t), cn->connector, status);
		return;
	}
	rt_answered(rt);
	j = json_loads(body, 0, NULL);
	v = json_string_value(json_object_get(j, "version"));
	if (v != NULL && strlen(v) < sizeof(rt->version))
		snprintf(rt->version, sizeof(rt->version), "%s", v);
	rt->expected = (int)json_integer_value(json_object_get(j, "tunnels"));
	if (rt->expected < 0 || rt->expected > 100000)
		rt->expected = 0;
	json_decref(j);
	router_remember(rt->r, cn->connector, rt->expected);
	if (rt->expected > 0)
		cn->declared = rt->expected;
	/* What it says now may make it one too many. */
	cap = conn_tunnel_cap(rt->r, rt->expected);
	if (cn->ntunnels > cap) {
		over_cap_why(cn, cap, rt->expected, why, sizeof(why));
		log_over_cap(rt->r, tunnel_name(t), rt->peer, why);
		/* Inside nghttp2's callback: a GOAWAY sent later, not now. */
		tunnel_goaway(t, why);
		return;
	}
	checks_connected(rt->r->c, cn->connector);
	if (rt->version[0] != '\0')
		events_version(rt->r->c, cn->connector, rt->version);
	if (rt->version[0] != '\0' && store_connector_touch(rt->r->c->dd.st,
	    cn->connector, time(NULL), rt->version, err, sizeof(err)) != 0)
		log_warnx("%s: cannot record connector %s: %s", tunnel_name(t),
		    cn->connector, err);
}

void
router_accept(struct router *r, struct bufferevent *bev, X509 *cert,
    const char *peer)
{
	struct store_cert_owner	 owner;
	struct store_connector	 sc;
	struct rt_conn		*cn;
	struct rt_tunnel	*rt;
	char			 why[320], name[24], err[256];
	unsigned		 nt, nc, cap;
	int			 expected;

	if (r->stopping) {
		refuse_tunnel(r, bev, peer, "the cloud is shutting down");
		return;
	}
	if (cloud_cert_owner(r->c, cert, &owner, why, sizeof(why)) != 0) {
		refuse_tunnel(r, bev, peer, why);
		return;
	}
	snprintf(name, sizeof(name), "t%u", ++r->seq);
	/*
	 * What its live tunnels declared, not what it said before it went
	 * away: a connector restarted with more tunnels must not be held to
	 * its old count. Its first tunnels get tunnels_per_connector; their
	 * info may then close the extra ones (rt_info_cb).
	 */
	cn = conn_find(r, owner.connector_id);
	expected = cn != NULL ? cn->declared : 0;
	cap = conn_tunnel_cap(r, expected);
	if (cn != NULL && cn->ntunnels >= cap) {
		over_cap_why(cn, cap, expected, why, sizeof(why));
		log_over_cap(r, name, peer, why);
		goaway_tunnel(r, bev, why);
		return;
	}
	if (cn == NULL) {
		cn = conn_get(r, owner.connector_id, owner.site_name);
		cn->drained = store_connector_get(r->c->dd.st, cn->connector,
		    &sc, err, sizeof(err)) == UPLINK_OK && sc.drained;
	}
	rt = xcalloc(1, sizeof(*rt));
	rt->r = r;
	snprintf(rt->peer, sizeof(rt->peer), "%s", peer);
	rt->since = dial_now_ms();
	rt->t = tunnel_new(r->c->base, bev, TUNNEL_CLOUD, &r->c->lim,
	    &rt_callbacks, rt, name);
	if (rt->t == NULL) {
		free(rt);
		conn_put(cn);
		return;
	}
	rt_link(cn, rt);
	metrics_tunnel_up();
	site_counts(r, cn->site, &nt, &nc);
	log_info("%s: tunnel up: connector %s (%s, site %s) from %s; the site "
	    "has %u tunnel%s over %u connector%s", name, cn->connector,
	    owner.connector_name, cn->site, peer, nt, nt == 1 ? "" : "s", nc,
	    nc == 1 ? "" : "s");
	if (store_connector_touch(r->c->dd.st, cn->connector, time(NULL), NULL,
	    err, sizeof(err)) != 0)
		log_warnx("%s: cannot record that connector %s was seen: %s",
		    name, cn->connector, err);
	logs_tunnel_up(r->c, cn->connector, name, peer);
	tunnel_request(rt->t, "/v1/info", 0, rt_info_cb, rt);
}

void
router_set_drained(struct router *r, const char *connector, bool drained)
{
	struct rt_conn	*cn;

	cn = conn_find(r, connector);
	if (cn != NULL)
		cn->drained = drained;
}

/*
 * How a tunnel ranks as a carrier: 0 it answered and is not suspect, 1 it
 * has not answered anything yet, 2 suspect. A stream that already waited
 * in vain on one tunnel wants one that has answered a stream open: a
 * tunnel that only ever answered GET /v1/info is no better than the one
 * it left.
 */
static int
rt_rank(const struct rt_tunnel *rt, bool moved)
{
	if (rt->suspect)
		return 2;
	return (moved ? rt->proven : rt->answered) ? 0 : 1;
}

int
router_request(struct router *r, const char *connector, const char *path,
    int timeout_ms, tunnel_reply_cb *cb, void *arg)
{
	struct cluster_location	 v[8];
	size_t			 i, n;

	if (router_request_here(r, connector, path, timeout_ms, cb, arg) == 0)
		return 0;
	if (r->stopping || !cluster_enabled(r->c))
		return -1;
	/* Its tunnels elsewhere: the instance holding most of them. */
	n = cluster_locations(r->c, connector, v, 8);
	if (n > 8)
		n = 8;
	while (n > 0) {
		size_t	 best = 0;

		for (i = 1; i < n; i++)
			if (v[i].tunnels > v[best].tunnels)
				best = i;
		if (peer_request(r->c, v[best].instance, connector, path,
		    timeout_ms, cb, arg) == 0)
			return 0;
		v[best] = v[--n];
	}
	return -1;
}

int
router_request_here(struct router *r, const char *connector, const char *path,
    int timeout_ms, tunnel_reply_cb *cb, void *arg)
{
	struct rt_conn		*cn;
	struct rt_tunnel	*rt;
	int			 rank;

	cn = conn_find(r, connector);
	if (cn == NULL || r->stopping)
		return -1;
	for (rank = 0; rank <= 2; rank++)
		LIST_FOREACH(rt, &cn->tunnels, entry)
			if (rt_rank(rt, false) == rank && tunnel_usable(rt->t) &&
			    tunnel_request(rt->t, path, timeout_ms, cb, arg) == 0)
				return 0;
	return -1;
}

struct tunnel_stream *
router_open(struct router *r, const char *connector, const char *host,
    uint16_t port, tunnel_stream_cb *cb, void *arg)
{
	struct rt_conn		*cn;
	struct rt_tunnel	*rt;
	struct tunnel_stream	*s;
	int			 rank;

	cn = conn_find(r, connector);
	if (cn == NULL || r->stopping)
		return NULL;
	for (rank = 0; rank <= 2; rank++)
		LIST_FOREACH(rt, &cn->tunnels, entry) {
			if (rt_rank(rt, false) != rank || !tunnel_usable(rt->t))
				continue;
			s = tunnel_open(rt->t, host, port, cb, arg);
			if (s != NULL) {
				/* Not a client's: not in the counts. */
				tunnel_stream_set_internal(s);
				return s;
			}
		}
	return NULL;
}

/*
 * A burst of tunnels coming or going (a restart, a network back) leaves
 * the handshakes' freed buffers between the tunnels' long-lived blocks,
 * pages that malloc keeps. Once such a burst is over (ROUTER_CHURN_TRIM
 * tunnels came or went, none since the last call), malloc_trim() gives
 * the free pages back: 3 KiB per tunnel at 2,000 (docs/performance.md).
 */
#define ROUTER_CHURN_TRIM	64

void
router_settle_heap(struct router *r)
{
	long	 t0;

	if (r->churn != r->churn_seen) {
		r->churn_seen = r->churn;
		return;
	}
	if (r->churn < ROUTER_CHURN_TRIM)
		return;
	t0 = dial_now_ms();
	(void)malloc_trim(0);
	log_debug("heap: trimmed after %u tunnels came or went, in %ld ms",
	    r->churn, dial_now_ms() - t0);
	r->churn = r->churn_seen = 0;
}

void
router_sweep_revoked(struct router *r)
{
	struct rt_conn		*cn;
	struct rt_tunnel	*rt;
	struct store_connector	 sc;
	char			 err[256], why[160];

	/* Shutdowns close later (close_cb): the lists hold still here. */
	LIST_FOREACH(cn, &r->conns, entry) {
		if (store_connector_get(r->c->dd.st, cn->connector, &sc, err,
		    sizeof(err)) != 0)
			continue;
		/* Drained or resumed elsewhere (another instance, the CLI). */
		if (cn->drained != sc.drained)
			log_info("connector %s: %s elsewhere (another instance "
			    "or the CLI): %s", cn->connector, sc.drained ?
			    "drained" : "resumed", sc.drained ? "no new streams "
			    "through it" : "it takes new streams again");
		cn->drained = sc.drained;
		if (sc.revoked_at == 0)
			continue;
		snprintf(why, sizeof(why), "connector %s was revoked; enroll it "
		    "again with a new token", cn->connector);
		LIST_FOREACH(rt, &cn->tunnels, entry) {
			log_info("%s: closing: %s", tunnel_name(rt->t), why);
			tunnel_shutdown(rt->t, why);
		}
	}
}

void
router_site_renamed(struct router *r, const char *from, const char *to)
{
	struct rt_conn	*cn;

	LIST_FOREACH(cn, &r->conns, entry)
		if (strcasecmp(cn->site, from) == 0) {
			snprintf(cn->site, sizeof(cn->site), "%s", to);
			cluster_tunnels_changed(r->c, cn->connector, cn->site,
			    cn->ntunnels);
		}
}

void
router_goaway(struct router *r, const char *why)
{
	struct rt_conn		*cn;
	struct rt_tunnel	*rt;

	r->stopping = true;
	LIST_FOREACH(cn, &r->conns, entry)
		LIST_FOREACH(rt, &cn->tunnels, entry)
			tunnel_goaway(rt->t, why);
}

size_t
router_tunnels(const struct router *r)
{
	return r->ntunnels;
}

void
router_foreach(struct router *r, router_tunnel_fn *fn, void *arg)
{
	struct rt_conn		*cn;
	struct rt_tunnel	*rt;
	struct router_tunnel	 ti;

	LIST_FOREACH(cn, &r->conns, entry)
		LIST_FOREACH(rt, &cn->tunnels, entry) {
			ti.connector = cn->connector;
			ti.site = cn->site;
			ti.peer = rt->peer;
			ti.version = rt->version;
			ti.expected = rt->expected;
			tunnel_stats(rt->t, &ti.stats);
			rt_unsent(rt, &ti.unsent_in, &ti.unsent_out);
			/* A closed tunnel's rest, counted once. */
			if (rt == LIST_FIRST(&cn->tunnels)) {
				ti.unsent_in += cn->unsent_in;
				ti.unsent_out += cn->unsent_out;
			}
			fn(arg, &ti);
		}
}

void
router_shutdown(struct router *r, const char *why)
{
	struct rt_conn		*cn;
	struct rt_tunnel	*rt;

	r->stopping = true;
	LIST_FOREACH(cn, &r->conns, entry)
		LIST_FOREACH(rt, &cn->tunnels, entry)
			tunnel_shutdown(rt->t, why);
}

/* ---- streams ---- */

static bool
conn_tried(const struct router_conn *rc, const struct tunnel *t)
{
	int	 i;

	for (i = 0; i < rc->attempts; i++)
		if (rc->tried[i] == t)
			return true;
	return false;
}

static bool
conn_refused_by(const struct router_conn *rc, const struct rt_conn *cn)
{
	int	 i;

	for (i = 0; i < rc->nfailed; i++)
		if (strcmp(rc->failed[i], cn->connector) == 0)
			return true;
	return false;
}

/* Open streams over every tunnel of a connector. */
static uint32_t
conn_streams(const struct rt_conn *cn)
{
	const struct rt_tunnel	*rt;
	struct tunnel_stats	 st;
	uint32_t		 n = 0;

	LIST_FOREACH(rt, &cn->tunnels, entry) {
		tunnel_stats(rt->t, &st);
		n += st.streams;
	}
	return n;
}

/*
 * The stream open rc waits for, on rt; counted against the connector's
 * pending_per_connector. Only stream opens count, not the cloud's own
 * requests (GET /v1/info, a check), which it bounds itself.
 */
static void
rc_waits(struct router_conn *rc, struct rt_tunnel *rt,
    struct tunnel_stream *s)
{
	rc->rt = rt;
	rc->s = s;
	rt->conn->pending++;
}

/* Answered, failed, cancelled or moved: no longer waiting. */
static void
rc_done(struct router_conn *rc)
{
	if (rc->rt != NULL)
		rc->rt->conn->pending--;
	rc->rt = NULL;
	rc->s = NULL;
}

/* What a candidate is compared by, most important first. */
struct rt_key {
	int		 rank;		/* rt_rank() */
	uint32_t	 conn_streams;	/* of its connector */
	long		 rtt;		/* LONG_MAX when not known */
	uint32_t	 streams;	/* of the tunnel */
	unsigned	 picked;	/* when it was last chosen */
};

/* Whether a is the better choice: see the comment at the top. */
static bool
key_better(const struct rt_key *a, const struct rt_key *b)
{
	if (a->rank != b->rank)
		return a->rank < b->rank;
	if (a->conn_streams != b->conn_streams)
		return a->conn_streams < b->conn_streams;
	if (a->rtt != b->rtt)
		return a->rtt < b->rtt;
	if (a->streams != b->streams)
		return a->streams < b->streams;
	return a->picked < b->picked;
}

/* Whether one of cn's tunnels could take rc's stream now. */
static bool
conn_usable(const struct router_conn *rc, const struct rt_conn *cn)
{
	const struct rt_tunnel	*rt;

	LIST_FOREACH(rt, &cn->tunnels, entry)
		if (tunnel_usable(rt->t) && !conn_tried(rc, rt->t))
			return true;
	return false;
}

/*
 * The tunnel for a new stream (the comment at the top says which), or
 * NULL; seen counts the site's tunnels. One pass over the connectors, one
 * over the site's tunnels.
 */
static struct rt_tunnel *
router_pick(struct router *r, struct router_conn *rc, unsigned *seen,
    uint32_t *streams)
{
	struct rt_conn		*cn;
	struct rt_tunnel	*rt, *best = NULL;
	struct tunnel_stats	 st;
	struct rt_key		 k, bk;
	struct rt_conn		*only;
	uint32_t		 cs;

	*seen = 0;
	memset(&bk, 0, sizeof(bk));
	only = rc->want[0] != '\0' ? conn_find(r, rc->want) : NULL;
	if (only != NULL && (only->drained || strcasecmp(only->site,
	    rc->site) != 0 || conn_refused_by(rc, only) ||
	    only->pending >= r->c->cfg.pending_per_connector ||
	    !conn_usable(rc, only)))
		only = NULL;
	LIST_FOREACH(cn, &r->conns, entry) {
		if (strcasecmp(cn->site, rc->site) != 0)
			continue;
		*seen += cn->ntunnels;
		if (cn->drained || conn_refused_by(rc, cn) ||
		    (only != NULL && cn != only))
			continue;
		if (cn->pending >= r->c->cfg.pending_per_connector)
			continue;
		cs = conn_streams(cn);
		LIST_FOREACH(rt, &cn->tunnels, entry) {
			if (!tunnel_usable(rt->t) || conn_tried(rc, rt->t))
				continue;
			tunnel_stats(rt->t, &st);
			k.rank = rt_rank(rt, rc->moved);
			k.conn_streams = cs;
			k.rtt = st.rtt_ms < 0 ? LONG_MAX : st.rtt_ms;
			k.streams = st.streams;
			k.picked = rt->picked;
			if (best == NULL || key_better(&k, &bk)) {
				best = rt;
				bk = k;
			}
		}
	}
	if (best != NULL)
		best->picked = ++r->rr;
	if (best != NULL && streams != NULL)
		*streams = bk.conn_streams;
	return best;
}

/* Whether a tunnel other than those tried could take a stream now. */
static bool
router_other(struct router *r, struct router_conn *rc)
{
	struct rt_conn		*cn;
	struct rt_tunnel	*rt;

	LIST_FOREACH(cn, &r->conns, entry) {
		if (strcasecmp(cn->site, rc->site) != 0 || cn->drained ||
		    conn_refused_by(rc, cn))
			continue;
		LIST_FOREACH(rt, &cn->tunnels, entry)
			if (!rt->suspect && rt != rc->rt &&
			    tunnel_usable(rt->t) && !conn_tried(rc, rt->t))
				return true;
	}
	return false;
}

static void
conn_free(struct router_conn *rc)
{
	LIST_REMOVE(rc, entry);
	event_free(rc->ev);
	event_free(rc->slow);
	if (rc->again != NULL)
		event_free(rc->again);
	free(rc);
}

static void
conn_report_cb(evutil_socket_t fd, short what, void *arg)
{
	struct router_conn	*rc = arg;
	router_conn_cb		*cb = rc->cb;
	void			*cbarg = rc->arg;
	int			 status = rc->status;
	char			 code[32], reason[256];

	(void)fd;
	(void)what;
	snprintf(code, sizeof(code), "%s", rc->code);
	snprintf(reason, sizeof(reason), "%s", rc->reason);
	metrics_stream_open(status, code, dial_now_ms() - rc->t0);
	conn_free(rc);
	cb(cbarg, NULL, status, code, reason);
}

/* Fails later, never inside the caller's own call. */
static void
conn_fail(struct router_conn *rc, int status, const char *code,
    const char *reason)
{
	rc->status = status;
	snprintf(rc->code, sizeof(rc->code), "%s", code);
	snprintf(rc->reason, sizeof(rc->reason), "%s", reason);
	event_active(rc->ev, EV_TIMEOUT, 0);
}

static void conn_try(struct router_conn *rc);
static void conn_answer_cb(void *arg, struct tunnel_stream *s, int status,
    const char *code, const char *reason);

/*
 * Whether a failed open is worth another connector: nothing was relayed
 * yet, and either the tunnel went away without answering or the connector
 * could not reach the target (another one may). Refusals by policy (403)
 * and our own timeout are final.
 */
static bool
conn_retryable(int status, const char *code)
{
	if (status == 0)
		return strcmp(code, "timeout") != 0;
	if (status == 503)
		return strcmp(code, "draining") == 0 || strcmp(code, "busy") == 0;
	return status == 502 || status == 504;
}

/*
 * Over a peer link, also: the instance there no longer has a usable
 * tunnel of the connector (its view moved on since ours) or is stopping.
 */
static bool
remote_retryable(int status, const char *code)
{
	return status == 503 && (strcmp(code, "no-connector") == 0 ||
	    strcmp(code, "stopping") == 0);
}

static void
conn_answer_cb(void *arg, struct tunnel_stream *s, int status,
    const char *code, const char *reason)
{
	struct router_conn	*rc = arg;
	router_conn_cb		*cb = rc->cb;
	void			*cbarg = rc->arg;
	struct rt_tunnel	*rt = rc->rt;
	char			 why[128];
	bool			 stale;

	rc_done(rc);
	evtimer_del(rc->slow);
	if (rt == NULL) {
		/* Over a peer link: the peer judged its own tunnels. */
	} else if (status != 0) {
		rt_answered(rt);
		rt->proven = true;
	} else if (strcmp(code, "timeout") == 0 && !rc->r->stopping &&
	    tunnel_usable(rt->t)) {
		snprintf(why, sizeof(why), "stream %s left unanswered for %s",
		    tunnel_stream_name(s), reason);
		rt_suspect(rt, why);
	}
	/*
	 * Another instance that no longer has the connector's tunnels (they
	 * moved on while our copy of the locations was up to a second old,
	 * the instance is stopping): the connector is fine, elsewhere.
	 */
	stale = rt == NULL && remote_retryable(status, code);
	if ((conn_retryable(status, code) || stale) &&
	    rc->attempts < ROUTER_ATTEMPTS && !rc->r->stopping) {
		if (status != 0) {
			if (!stale)
				snprintf(rc->failed[rc->nfailed++],
				    sizeof(rc->failed[0]), "%s", rt != NULL ?
				    rt->conn->connector : rc->remote);
			rc->last_status = status;
			snprintf(rc->last_code, sizeof(rc->last_code), "%s", code);
			snprintf(rc->last_reason, sizeof(rc->last_reason), "%s",
			    reason);
		}
		log_info("%s %s:%u: %s; trying another %s",
		    tunnel_stream_name(s), rc->host, rc->port, reason,
		    status != 0 ? "connector" : "tunnel");
		conn_try(rc);
		return;
	}
	metrics_stream_open(status, code, dial_now_ms() - rc->t0);
	/* A stream over a peer link is counted by the instance it reached. */
	if (status == 200 && rt != NULL)
		rt->conn->opened++;
	conn_free(rc);
	if (status == 0)
		cb(cbarg, NULL, strcmp(code, "timeout") == 0 ? 504 : 502, code,
		    reason);
	else
		cb(cbarg, s, status, code, reason);
}

/*
 * ROUTER_SLOW_MS after an open, still no answer: the tunnel is suspect,
 * and the stream, which has relayed nothing yet, moves to another tunnel
 * if one can take it (else it waits on for the open timeout).
 */
static void
conn_slow_cb(evutil_socket_t fd, short what, void *arg)
{
	struct router_conn	*rc = arg;
	struct rt_tunnel	*rt = rc->rt;
	char			 why[128];

	(void)fd;
	(void)what;
	if (rc->s == NULL || rt == NULL || rc->r->stopping)
		return;
	snprintf(why, sizeof(why), "stream %s unanswered after %d ms",
	    tunnel_stream_name(rc->s), ROUTER_SLOW_MS);
	rt_suspect(rt, why);
	if (rc->attempts >= ROUTER_ATTEMPTS || !router_other(rc->r, rc))
		return;
	log_info("%s %s:%u: no answer in %d ms; trying another tunnel",
	    tunnel_stream_name(rc->s), rc->host, rc->port, ROUTER_SLOW_MS);
	tunnel_stream_cancel(rc->s);
	rc_done(rc);
	rc->moved = true;
	conn_try(rc);
}

/* Whether this remote connector was tried for rc, or refused it. */
static bool
remote_tried(const struct router_conn *rc, const struct cluster_location *l)
{
	char	 key[sizeof(rc->rtried[0])];
	int	 i;

	for (i = 0; i < rc->nfailed; i++)
		if (strcmp(rc->failed[i], l->connector) == 0)
			return true;
	snprintf(key, sizeof(key), "%s/%s", l->instance, l->connector);
	for (i = 0; i < rc->attempts; i++)
		if (strcmp(rc->rtried[i], key) == 0)
			return true;
	return false;
}

/*
 * The least loaded connector of rc's site on another instance whose peer
 * link is up, if it has fewer streams than local (the local choice's
 * connector, UINT32_MAX with none): the stream is opened over the link and
 * true returned. seen gains the remote tunnels, for the error message.
 */
#define ROUTER_REMOTE_MAX	64
static bool
conn_try_remote(struct router_conn *rc, uint32_t local, const char *here,
    unsigned *seen)
{
	struct cluster_location	 v[ROUTER_REMOTE_MAX];
	struct balance_cand	 cand[ROUTER_REMOTE_MAX];
	const struct cluster_location *best;
	struct tunnel_stream	*s;
	size_t			 i, n;
	struct cloud		*c = rc->r->c;

	if (!cluster_enabled(c))
		return false;
	n = cluster_site_locations(c, rc->site, v, ROUTER_REMOTE_MAX);
	if (n > ROUTER_REMOTE_MAX)
		n = ROUTER_REMOTE_MAX;
	for (i = 0; i < n; i++) {
		*seen += v[i].tunnels;
		cand[i].load = v[i].load;
		/*
		 * The connector chosen here is not sent elsewhere: its
		 * tunnel here carries the stream without a hop, and the
		 * load it reported there is older than the one seen here.
		 */
		cand[i].usable = v[i].tunnels > 0 && !remote_tried(rc, &v[i]) &&
		    peer_usable(c, v[i].instance) && (here == NULL ||
		    strcmp(v[i].connector, here) != 0);
	}
	i = balance_least(cand, n, local, rc->r->rr);
	if (i == n)
		return false;
	best = &v[i];
	snprintf(rc->rtried[rc->attempts++], sizeof(rc->rtried[0]), "%s/%s",
	    best->instance, best->connector);
	snprintf(rc->remote, sizeof(rc->remote), "%s", best->connector);
	rc->r->rr++;
	s = peer_open(c, best->instance, rc->site, best->connector, rc->host,
	    rc->port, conn_answer_cb, rc);
	if (s == NULL) {
		conn_try(rc);
		return true;
	}
	rc->rt = NULL;
	rc->s = s;
	log_debug("%s %s:%u: to connector %s on instance %s",
	    tunnel_stream_name(s), rc->host, rc->port, best->connector,
	    best->instance);
	return true;
}

/*
 * In a cluster, a stream that finds no carrier at all waits a moment and
 * looks again, for up to ROUTER_CARRIER_WAIT_MS since it was asked: the
 * site's tunnels may just have moved (a restart, a rebalancing) to where
 * this instance's view of the locations, re-read every second, does not
 * show them yet. The client's connection waits meanwhile.
 */
#define ROUTER_CARRIER_WAIT_MS	1500
#define ROUTER_CARRIER_POLL_MS	100


static void
conn_again_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_try(arg);
}

static bool
conn_wait_carrier(struct router_conn *rc)
{
	struct timeval	 tv = { 0, ROUTER_CARRIER_POLL_MS * 1000 };

	if (rc->here || rc->r->stopping || !cluster_enabled(rc->r->c) ||
	    dial_now_ms() - rc->t0 >= ROUTER_CARRIER_WAIT_MS)
		return false;
	if (rc->again == NULL)
		rc->again = evtimer_new(rc->r->c->base, conn_again_cb, rc);
	if (rc->again == NULL)
		return false;
	evtimer_add(rc->again, &tv);
	return true;
}

static void
conn_try(struct router_conn *rc)
{
	struct rt_tunnel	*rt;
	struct tunnel_stream	*s;
	unsigned		 seen;
	uint32_t		 streams = 0;
	char			 why[256];
	struct timeval		 tv = { ROUTER_SLOW_MS / 1000,
	    (ROUTER_SLOW_MS % 1000) * 1000 };

	if (rc->attempts >= ROUTER_ATTEMPTS) {
		if (rc->last_status != 0)
			conn_fail(rc, rc->last_status, rc->last_code,
			    rc->last_reason);
		else
			conn_fail(rc, 502, "no-answer", "no tunnel of the site "
			    "could take the stream");
		return;
	}
	rt = router_pick(rc->r, rc, &seen, &streams);
	if (!rc->here && conn_try_remote(rc, rt != NULL ? streams : UINT32_MAX,
	    rt != NULL ? rt->conn->connector : NULL, &seen))
		return;
	if (rt == NULL && rc->last_status != 0) {
		conn_fail(rc, rc->last_status, rc->last_code, rc->last_reason);
		return;
	}
	if (rt == NULL && conn_wait_carrier(rc))
		return;
	if (rt == NULL) {
		if (seen == 0)
			snprintf(why, sizeof(why), "site %s has no connector "
			    "online", rc->site);
		else
			snprintf(why, sizeof(why), "no tunnel of site %s can take "
			    "a stream now (%u busy or going away)", rc->site,
			    seen);
		conn_fail(rc, 503, seen == 0 ? "no-connector" : "busy", why);
		return;
	}
	rc->tried[rc->attempts++] = rt->t;
	s = tunnel_open(rt->t, rc->host, rc->port, conn_answer_cb, rc);
	if (s == NULL) {
		conn_try(rc);
		return;
	}
	rc_waits(rc, rt, s);
	evtimer_add(rc->slow, &tv);
}

static struct router_conn *
router_connect_any(struct router *r, bool here, const char *want,
    const char *site, const char *host, uint16_t port, router_conn_cb *cb,
    void *arg)
{
	struct router_conn	*rc;

	rc = xcalloc(1, sizeof(*rc));
	rc->r = r;
	rc->here = here;
	snprintf(rc->want, sizeof(rc->want), "%s", want != NULL ? want : "");
	snprintf(rc->site, sizeof(rc->site), "%s", site);
	snprintf(rc->host, sizeof(rc->host), "%s", host);
	rc->port = port;
	rc->cb = cb;
	rc->arg = arg;
	rc->t0 = dial_now_ms();
	rc->ev = event_new(r->c->base, -1, 0, conn_report_cb, rc);
	rc->slow = evtimer_new(r->c->base, conn_slow_cb, rc);
	LIST_INSERT_HEAD(&r->rconns, rc, entry);
	if (r->stopping)
		conn_fail(rc, 503, "stopping", "the cloud is shutting down");
	else
		conn_try(rc);
	return rc;
}

struct router_conn *
router_connect(struct router *r, const char *site, const char *host,
    uint16_t port, router_conn_cb *cb, void *arg)
{
	return router_connect_any(r, false, NULL, site, host, port, cb, arg);
}

struct router_conn *
router_connect_here(struct router *r, const char *site,
    const char *connector, const char *host, uint16_t port,
    router_conn_cb *cb, void *arg)
{
	return router_connect_any(r, true, connector, site, host, port, cb,
	    arg);
}

void
router_conn_cancel(struct router_conn *rc)
{
	if (rc->s != NULL)
		tunnel_stream_cancel(rc->s);
	rc_done(rc);
	metrics_stream_open(-1, NULL, 0);
	conn_free(rc);
}

void
router_free(struct router *r)
{
	struct rt_conn		*cn;
	struct rt_tunnel	*rt;

	if (r == NULL)
		return;
	r->stopping = true;
	while (!LIST_EMPTY(&r->rconns))
		router_conn_cancel(LIST_FIRST(&r->rconns));
	/* Tunnels still up are freed without their close callback. */
	router_seen_write(r, NULL);
	while ((cn = LIST_FIRST(&r->conns)) != NULL) {
		while ((rt = LIST_FIRST(&cn->tunnels)) != NULL) {
			rt_unlink(rt);
			tunnel_free(rt->t);
			free(rt);
		}
		conn_put(cn);
	}
	if (r->refused_ev != NULL)
		event_free(r->refused_ev);
	event_free(r->seen_ev);
	free(r->known);
	free(r);
}

/* A connector that did not take the hint gets the GOAWAY now. */
static void
router_move_cb(void *arg, struct tunnel *t, int status, const char *body)
{
	struct router	*r = arg;

	(void)body;
	if (status != 200)
		tunnel_goaway(t, r->move_why);
}

void
router_move_hint(struct router *r, const char *path, const char *why)
{
	struct rt_conn		*cn;
	struct rt_tunnel	*rt;

	snprintf(r->move_why, sizeof(r->move_why), "%s", why);
	LIST_FOREACH(cn, &r->conns, entry)
		LIST_FOREACH(rt, &cn->tunnels, entry)
			if (tunnel_request(rt->t, path, ROUTER_MOVE_MS,
			    router_move_cb, r) == -1)
				tunnel_goaway(rt->t, why);
}
