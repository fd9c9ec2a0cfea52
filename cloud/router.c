#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <limits.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include <jansson.h>

#include "daemon.h"
#include "error.h"
#include "error.h"
#include "dial.h"
#include "log.h"
#include "pki.h"
#include "store.h"
#include "tunnel.h"
#include "xmalloc.h"

/*
 * The connectors' tunnels, by site, and the choice of one for each new
 * stream: the connector with the fewest open streams among those with a
 * usable tunnel (not draining, below its limits), ties going to the lowest
 * PING round-trip time, then round robin; within it, its least loaded
 * tunnel. An open that fails before any byte (the tunnel went away, the
 * connector is draining or busy, or answered 502/504) is tried again
 * elsewhere, at most ROUTER_ATTEMPTS times in all.
 */

#define ROUTER_ATTEMPTS	3

struct rt_tunnel {
	struct router		*r;
	struct rt_tunnel	*prev, *next;
	struct tunnel		*t;
	char			 connector[STORE_ID_MAX + 1];
	char			 site[STORE_NAME_MAX + 1];
	char			 peer[64];
	long			 since;
	unsigned		 picked;
	int			 expected;	/* tunnels the connector keeps, 0 unknown */
	char			 version[32];	/* from GET /v1/info, "" unknown */
	bool			 drained;	/* an administrator drained it */
};

struct router_conn {
	struct router		*r;
	struct router_conn	*prev, *next;
	char			 site[STORE_NAME_MAX + 1];
	char			 host[TUNNEL_HOST_MAX + 1];
	uint16_t		 port;
	router_conn_cb		*cb;
	void			*arg;
	struct tunnel_stream	*s;
	struct tunnel		*tried[ROUTER_ATTEMPTS];
	int			 attempts;
	char			 failed[ROUTER_ATTEMPTS][STORE_ID_MAX + 1];
	int			 nfailed;	/* connectors that answered 502/504 */
	int			 last_status;	/* their last answer, to pass on */
	char			 last_code[32];
	char			 last_reason[256];
	struct event		*ev;		/* reports a failure later */
	int			 status;
	char			 code[32];
	char			 reason[256];
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
	struct rt_tunnel	*tunnels;
	struct router_conn	*conns;
	unsigned		 seq, rr;
	bool			 stopping;
};

struct router *
router_new(struct cloud *c)
{
	struct router	*r;

	r = xcalloc(1, sizeof(*r));
	r->c = c;
	return r;
}

static void
rt_unlink(struct rt_tunnel *rt)
{
	struct router	*r = rt->r;

	if (rt->prev != NULL)
		rt->prev->next = rt->next;
	else
		r->tunnels = rt->next;
	if (rt->next != NULL)
		rt->next->prev = rt->prev;
}

static void
site_counts(struct router *r, const char *site, unsigned *tunnels,
    unsigned *connectors)
{
	struct rt_tunnel	*a, *b;

	*tunnels = *connectors = 0;
	for (a = r->tunnels; a != NULL; a = a->next) {
		if (strcasecmp(a->site, site) != 0)
			continue;
		(*tunnels)++;
		for (b = r->tunnels; b != a; b = b->next)
			if (strcmp(b->connector, a->connector) == 0)
				break;
		if (b == a)
			(*connectors)++;
	}
}

static void
tunnel_closed_cb(void *arg, struct tunnel *t, const char *why)
{
	struct rt_tunnel	*rt = arg;
	struct router		*r = rt->r;
	unsigned		 nt, nc;

	rt_unlink(rt);
	site_counts(r, rt->site, &nt, &nc);
	log_info("%s: tunnel from connector %s (site %s, %s) closed: %s; the "
	    "site has %u tunnel%s over %u connector%s", tunnel_name(t),
	    rt->connector, rt->site, rt->peer, why, nt, nt == 1 ? "" : "s", nc,
	    nc == 1 ? "" : "s");
	if (nc == 0 && !r->stopping)
		log_warnx("site %s has no connector online: its services are "
		    "unreachable", rt->site);
	free(rt);
}

static void
tunnel_goaway_cb(void *arg, struct tunnel *t, const char *why)
{
	struct rt_tunnel	*rt = arg;

	log_info("%s: connector %s is going away%s%s", tunnel_name(t),
	    rt->connector, why[0] ? ": " : "", why);
}

static const struct tunnel_callbacks rt_callbacks = {
	.closed = tunnel_closed_cb,
	.goaway = tunnel_goaway_cb,
};

/* Says no to a tunnel, in a GOAWAY the connector logs. */
static void
refuse_tunnel(struct router *r, struct bufferevent *bev, const char *peer,
    const char *why)
{
	struct tunnel			*t;
	static const struct tunnel_callbacks none = { 0 };

	log_warnx("%s: tunnel refused: %s", peer, why);
	t = tunnel_new(r->c->base, bev, TUNNEL_CLOUD, &r->c->lim, &none, NULL,
	    "refused");
	if (t != NULL)
		tunnel_shutdown(t, why);
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

/* The connector's GET /v1/info answer: its version and tunnel count. */
static void
rt_info_cb(void *arg, struct tunnel *t, int status, const char *body)
{
	struct rt_tunnel	*rt = arg;
	json_t			*j;
	const char		*v;
	char			 err[256];

	if (status != 200) {
		log_info("%s: connector %s did not say what it is (%d)",
		    tunnel_name(t), rt->connector, status);
		return;
	}
	j = json_loads(body, 0, NULL);
	v = json_string_value(json_object_get(j, "version"));
	if (v != NULL && strlen(v) < sizeof(rt->version))
		snprintf(rt->version, sizeof(rt->version), "%s", v);
	rt->expected = (int)json_integer_value(json_object_get(j, "tunnels"));
	json_decref(j);
	router_remember(rt->r, rt->connector, rt->expected);
	checks_connected(rt->r->c, rt->connector);
	if (rt->version[0] != '\0' && store_connector_touch(rt->r->c->dd.st,
	    rt->connector, time(NULL), rt->version, err, sizeof(err)) != 0)
		log_warnx("%s: cannot record connector %s: %s", tunnel_name(t),
		    rt->connector, err);
}

void
router_accept(struct router *r, struct bufferevent *bev, X509 *cert,
    const char *peer)
{
	struct store_cert_owner	 owner;
	struct store_connector	 sc;
	struct rt_tunnel	*rt;
	char			 why[320], name[24], err[256];
	unsigned		 nt, nc;

	if (r->stopping) {
		refuse_tunnel(r, bev, peer, "the cloud is shutting down");
		return;
	}
	if (cloud_cert_owner(r->c, cert, &owner, why, sizeof(why)) != 0) {
		refuse_tunnel(r, bev, peer, why);
		return;
	}
	rt = xcalloc(1, sizeof(*rt));
	rt->r = r;
	snprintf(rt->connector, sizeof(rt->connector), "%s", owner.connector_id);
	snprintf(rt->site, sizeof(rt->site), "%s", owner.site_name);
	snprintf(rt->peer, sizeof(rt->peer), "%s", peer);
	rt->since = dial_now_ms();
	rt->drained = store_connector_get(r->c->dd.st, rt->connector, &sc, err,
	    sizeof(err)) == UPLINK_OK && sc.drained;
	snprintf(name, sizeof(name), "t%u", ++r->seq);
	rt->t = tunnel_new(r->c->base, bev, TUNNEL_CLOUD, &r->c->lim,
	    &rt_callbacks, rt, name);
	if (rt->t == NULL) {
		free(rt);
		return;
	}
	rt->next = r->tunnels;
	if (r->tunnels != NULL)
		r->tunnels->prev = rt;
	r->tunnels = rt;
	site_counts(r, rt->site, &nt, &nc);
	log_info("%s: tunnel up: connector %s (%s, site %s) from %s; the site "
	    "has %u tunnel%s over %u connector%s", name, rt->connector,
	    owner.connector_name, rt->site, peer, nt, nt == 1 ? "" : "s", nc,
	    nc == 1 ? "" : "s");
	if (store_connector_touch(r->c->dd.st, rt->connector, time(NULL), NULL,
	    err, sizeof(err)) != 0)
		log_warnx("%s: cannot record that connector %s was seen: %s",
		    name, rt->connector, err);
	tunnel_request(rt->t, "/v1/info", 0, rt_info_cb, rt);
}

void
router_set_drained(struct router *r, const char *connector, bool drained)
{
	struct rt_tunnel	*rt;

	for (rt = r->tunnels; rt != NULL; rt = rt->next)
		if (strcmp(rt->connector, connector) == 0)
			rt->drained = drained;
}

int
router_request(struct router *r, const char *connector, const char *path,
    int timeout_ms, tunnel_reply_cb *cb, void *arg)
{
	struct rt_tunnel	*rt;

	for (rt = r->tunnels; rt != NULL; rt = rt->next)
		if (strcmp(rt->connector, connector) == 0 &&
		    tunnel_usable(rt->t) && tunnel_request(rt->t, path,
		    timeout_ms, cb, arg) == 0)
			return 0;
	return -1;
}

void
router_sweep_revoked(struct router *r)
{
	struct rt_tunnel	*rt, *next;
	struct store_connector	 sc;
	char			 err[256], why[160];

	for (rt = r->tunnels; rt != NULL; rt = next) {
		next = rt->next;
		if (store_connector_get(r->c->dd.st, rt->connector, &sc, err,
		    sizeof(err)) != 0 || sc.revoked_at == 0)
			continue;
		snprintf(why, sizeof(why), "connector %s was revoked; enroll it "
		    "again with a new token", rt->connector);
		log_info("%s: closing: %s", tunnel_name(rt->t), why);
		tunnel_shutdown(rt->t, why);
	}
}

void
router_goaway(struct router *r, const char *why)
{
	struct rt_tunnel	*rt;

	r->stopping = true;
	for (rt = r->tunnels; rt != NULL; rt = rt->next)
		tunnel_goaway(rt->t, why);
}

size_t
router_tunnels(const struct router *r)
{
	const struct rt_tunnel	*rt;
	size_t			 n = 0;

	for (rt = r->tunnels; rt != NULL; rt = rt->next)
		n++;
	return n;
}

void
router_foreach(struct router *r, router_tunnel_fn *fn, void *arg)
{
	struct rt_tunnel	*rt;
	struct router_tunnel	 ti;

	for (rt = r->tunnels; rt != NULL; rt = rt->next) {
		ti.connector = rt->connector;
		ti.site = rt->site;
		ti.peer = rt->peer;
		ti.version = rt->version;
		ti.expected = rt->expected;
		tunnel_stats(rt->t, &ti.stats);
		fn(arg, &ti);
	}
}

void
router_shutdown(struct router *r, const char *why)
{
	struct rt_tunnel	*rt;

	r->stopping = true;
	for (rt = r->tunnels; rt != NULL; rt = rt->next)
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
conn_excluded(const struct router_conn *rc, const struct rt_tunnel *rt)
{
	int	 i;

	if (conn_tried(rc, rt->t))
		return true;
	for (i = 0; i < rc->nfailed; i++)
		if (strcmp(rc->failed[i], rt->connector) == 0)
			return true;
	return false;
}

/* Open streams over every tunnel of rt's connector. */
static uint32_t
connector_streams(const struct router *r, const struct rt_tunnel *rt)
{
	const struct rt_tunnel	*o;
	struct tunnel_stats	 st;
	uint32_t		 n = 0;

	for (o = r->tunnels; o != NULL; o = o->next) {
		if (strcmp(o->connector, rt->connector) != 0)
			continue;
		tunnel_stats(o->t, &st);
		n += st.streams;
	}
	return n;
}

/* Whether a is the better choice: fewer streams, then lower RTT. */
static bool
pick_better(const struct rt_tunnel *a, uint32_t acs, const struct rt_tunnel *b,
    uint32_t bcs)
{
	struct tunnel_stats	 as, bs;
	long			 art, brt;

	if (acs != bcs)
		return acs < bcs;
	tunnel_stats(a->t, &as);
	tunnel_stats(b->t, &bs);
	art = as.rtt_ms < 0 ? LONG_MAX : as.rtt_ms;
	brt = bs.rtt_ms < 0 ? LONG_MAX : bs.rtt_ms;
	if (art != brt)
		return art < brt;
	if (as.streams != bs.streams)
		return as.streams < bs.streams;
	return a->picked < b->picked;
}

/*
 * The tunnel for a new stream: of the connector with the fewest open
 * streams among those with a usable tunnel (ties: lowest round-trip time),
 * its least loaded tunnel.
 */
static struct rt_tunnel *
router_pick(struct router *r, struct router_conn *rc, unsigned *seen)
{
	struct rt_tunnel	*rt, *best = NULL;
	uint32_t		 cs, bcs = 0;

	*seen = 0;
	for (rt = r->tunnels; rt != NULL; rt = rt->next) {
		if (strcasecmp(rt->site, rc->site) != 0)
			continue;
		(*seen)++;
		if (!tunnel_usable(rt->t) || rt->drained ||
		    conn_excluded(rc, rt))
			continue;
		cs = connector_streams(r, rt);
		if (best == NULL || pick_better(rt, cs, best, bcs)) {
			best = rt;
			bcs = cs;
		}
	}
	if (best != NULL)
		best->picked = ++r->rr;
	return best;
}

static void
conn_free(struct router_conn *rc)
{
	struct router	*r = rc->r;

	if (rc->prev != NULL)
		rc->prev->next = rc->next;
	else
		r->conns = rc->next;
	if (rc->next != NULL)
		rc->next->prev = rc->prev;
	event_free(rc->ev);
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

/* Which connector a tunnel belongs to. */
static const char *
tunnel_connector(struct router *r, const struct tunnel *t)
{
	struct rt_tunnel	*rt;

	for (rt = r->tunnels; rt != NULL; rt = rt->next)
		if (rt->t == t)
			return rt->connector;
	return NULL;
}

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

static void
conn_answer_cb(void *arg, struct tunnel_stream *s, int status,
    const char *code, const char *reason)
{
	struct router_conn	*rc = arg;
	router_conn_cb		*cb = rc->cb;
	void			*cbarg = rc->arg;
	const char		*conn;

	rc->s = NULL;
	if (conn_retryable(status, code) && rc->attempts < ROUTER_ATTEMPTS &&
	    !rc->r->stopping) {
		conn = tunnel_connector(rc->r, rc->tried[rc->attempts - 1]);
		if (status != 0 && conn != NULL) {
			snprintf(rc->failed[rc->nfailed++], sizeof(rc->failed[0]),
			    "%s", conn);
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
	conn_free(rc);
	if (status == 0)
		cb(cbarg, NULL, strcmp(code, "timeout") == 0 ? 504 : 502, code,
		    reason);
	else
		cb(cbarg, s, status, code, reason);
}

static void
conn_try(struct router_conn *rc)
{
	struct rt_tunnel	*rt;
	unsigned		 seen;
	char			 why[256];

	if (rc->attempts >= ROUTER_ATTEMPTS) {
		if (rc->last_status != 0)
			conn_fail(rc, rc->last_status, rc->last_code,
			    rc->last_reason);
		else
			conn_fail(rc, 502, "no-answer", "no tunnel of the site "
			    "could take the stream");
		return;
	}
	rt = router_pick(rc->r, rc, &seen);
	if (rt == NULL && rc->last_status != 0) {
		conn_fail(rc, rc->last_status, rc->last_code, rc->last_reason);
		return;
	}
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
	rc->s = tunnel_open(rt->t, rc->host, rc->port, conn_answer_cb, rc);
	if (rc->s == NULL)
		conn_try(rc);
}

struct router_conn *
router_connect(struct router *r, const char *site, const char *host,
    uint16_t port, router_conn_cb *cb, void *arg)
{
	struct router_conn	*rc;

	rc = xcalloc(1, sizeof(*rc));
	rc->r = r;
	snprintf(rc->site, sizeof(rc->site), "%s", site);
	snprintf(rc->host, sizeof(rc->host), "%s", host);
	rc->port = port;
	rc->cb = cb;
	rc->arg = arg;
	rc->ev = event_new(r->c->base, -1, 0, conn_report_cb, rc);
	rc->next = r->conns;
	if (r->conns != NULL)
		r->conns->prev = rc;
	r->conns = rc;
	if (r->stopping)
		conn_fail(rc, 503, "stopping", "the cloud is shutting down");
	else
		conn_try(rc);
	return rc;
}

void
router_conn_cancel(struct router_conn *rc)
{
	if (rc->s != NULL)
		tunnel_stream_cancel(rc->s);
	conn_free(rc);
}

void
router_free(struct router *r)
{
	struct rt_tunnel	*rt;

	if (r == NULL)
		return;
	r->stopping = true;
	while (r->conns != NULL)
		router_conn_cancel(r->conns);
	while ((rt = r->tunnels) != NULL) {
		rt_unlink(rt);
		tunnel_free(rt->t);
		free(rt);
	}
	free(r->known);
	free(r);
}
