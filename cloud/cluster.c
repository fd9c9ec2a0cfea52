/*
 * cloud/cluster.c: this instance among the others of a cluster sharing one
 * PostgreSQL store (docs/cluster.md). A cluster of one until [cluster]
 * instance is configured.
 *
 * At start the instance registers (its row in instances: state up, a new
 * epoch) and then renews its lease every lease/3. Every second it re-reads
 * the instances and the tunnel locations into memory, where every query of
 * cluster.h is answered; an instance still marked up whose lease has run
 * out is marked gone (and its locations deleted) by whichever instance
 * notices first. Its own locations (how many tunnels each connector has
 * here) are written when the router reports a change, batched: one
 * transaction at most every CLUSTER_FLUSH_MS for every change meanwhile,
 * never per stream. The load (open streams per connector) rides along
 * with the lease renewal.
 *
 * The store's calls are synchronous under its deadline and breaker
 * (docs/internals/store.md): while PostgreSQL is unavailable each of these
 * timers fails at once, the memory keeps the last view, and the outage is
 * logged once. If the others marked this instance gone meanwhile (its
 * lease ran out), it registers again with a new epoch and writes its
 * locations anew.
 *
 * A second connection LISTENs for hints that the shared state changed
 * (lib/store/store_listen.c); a hint runs the cloud's data-version watch
 * (cloud/run.c) at once instead of at its next tick. It is driven by the
 * event loop, reopened with backoff when lost, and every time it is
 * (re)established the watch reacts in full: hints missed meanwhile cost
 * latency, never a change.
 */

#include <sys/queue.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "cluster.h"
#include "daemon.h"
#include "error.h"
#include "hostport.h"
#include "log.h"
#include "router.h"
#include "store.h"
#include "xmalloc.h"

#define CLUSTER_READ_MS		1000	/* re-read instances and locations */
#define CLUSTER_FLUSH_MS	100	/* batch location writes */
#define CLUSTER_BUCKETS		1024	/* this instance's connectors, hashed */
#define LISTEN_BACKOFF_MIN	500	/* ms between attempts, doubling */
#define LISTEN_BACKOFF_MAX	30000

_Static_assert(CLUSTER_ID_MAX == STORE_INSTANCE_ID_MAX, "id sizes agree");
_Static_assert(CLUSTER_ADDR_MAX == STORE_INSTANCE_ADDR_MAX, "sizes agree");
_Static_assert(CLUSTER_NAME_MAX == STORE_INSTANCE_NAME_MAX, "sizes agree");

/* One connector's tunnels on this instance, and what the store has. */
struct cl_conn {
	LIST_ENTRY(cl_conn)	 entry;
	char			 connector[STORE_ID_MAX + 1];
	char			 site[STORE_NAME_MAX + 1];
	unsigned		 tunnels, load;
	unsigned		 w_tunnels, w_load;	/* as last written */
	bool			 w_site;		/* site as written */
};
LIST_HEAD(cl_bucket, cl_conn);

/* A location as kept in memory, with its connector's site. */
struct cl_loc {
	struct cluster_location	 l;
	char			 site[STORE_NAME_MAX + 1];
};

struct cluster {
	struct cloud		*c;
	struct store_instance	 self;
	int64_t			 lease;		/* seconds */
	struct event		*renew_ev, *read_ev, *flush_ev;
	/* Read from the store: every instance (any state), by id. */
	struct cluster_instance	*all;
	size_t			 nall;
	/* Of those, the live ones (lease valid, not gone), self always. */
	struct cluster_instance	*live;
	size_t			 nlive;
	/* Every location of another live run, by connector; by site. */
	struct cl_loc		*locs;
	size_t			*bysite;	/* indexes into locs */
	size_t			 nlocs;
	/* This instance's connectors. */
	struct cl_bucket	 conns[CLUSTER_BUCKETS];
	size_t			 nconns;
	bool			 renew_failing, read_failing, write_failing;
	time_t			 renew_ok_since;	/* renewing without a miss */
	bool			 dup_logged;
	/* LISTEN/NOTIFY hints (lib/store/store_listen.c). */
	struct store_listen	*listen;
	struct event		*listen_ev, *listen_retry;
	int			 listen_backoff;	/* ms */
	bool			 listen_down;		/* logged */
	bool			 listen_connecting;
	unsigned long		 hints;
};

static struct cluster *
cl(const struct cloud *c)
{
	return c != NULL ? c->cluster : NULL;
}

static unsigned
cl_hash(const char *s)
{
	unsigned	 h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % CLUSTER_BUCKETS;
}

static struct cl_conn *
cl_conn_find(struct cluster *k, const char *connector)
{
	struct cl_conn	*e;

	LIST_FOREACH(e, &k->conns[cl_hash(connector)], entry)
		if (strcmp(e->connector, connector) == 0)
			return e;
	return NULL;
}

static bool
cl_dirty(const struct cl_conn *e, bool load)
{
	return e->tunnels != e->w_tunnels || !e->w_site ||
	    (load && e->tunnels > 0 && e->load != e->w_load);
}

/*
 * The rows that differ from what the store has (with load: the load too),
 * in a new array; *n their count.
 */
static struct store_location *
cl_rows(struct cluster *k, bool load, size_t *n)
{
	struct store_location	*v;
	struct cl_conn		*e;
	size_t			 i;

	*n = 0;
	v = xcalloc(k->nconns + 1, sizeof(*v));
	for (i = 0; i < CLUSTER_BUCKETS; i++)
		LIST_FOREACH(e, &k->conns[i], entry) {
			if (!cl_dirty(e, load))
				continue;
			snprintf(v[*n].connector, sizeof(v[*n].connector), "%s",
			    e->connector);
			snprintf(v[*n].site, sizeof(v[*n].site), "%s", e->site);
			v[*n].tunnels = e->tunnels;
			v[*n].load = e->load;
			(*n)++;
		}
	return v;
}

/* The store has v now: remember it, and forget connectors gone from here. */
static void
cl_written(struct cluster *k, const struct store_location *v, size_t n)
{
	struct cl_conn	*e;
	size_t		 i;

	for (i = 0; i < n; i++) {
		e = cl_conn_find(k, v[i].connector);
		if (e == NULL)
			continue;
		e->w_tunnels = v[i].tunnels;
		e->w_load = v[i].load;
		e->w_site = strcmp(e->site, v[i].site) == 0;
		if (e->tunnels == 0 && e->w_tunnels == 0) {
			LIST_REMOVE(e, entry);
			free(e);
			k->nconns--;
		}
	}
}

static void
cl_flush_later(struct cluster *k)
{
	struct timeval	 tv = { 0, CLUSTER_FLUSH_MS * 1000 };

	if (k->flush_ev != NULL && !evtimer_pending(k->flush_ev, NULL))
		evtimer_add(k->flush_ev, &tv);
}

static void
cl_self_address(struct cluster *k)
{
	const struct cloud_config	*cfg = &k->c->cfg;
	const struct hostport		*peer = &cfg->cluster_peer_address;
	struct hostport			 url;
	const char			*u = k->c->dd.url, *host;
	char				 why[128], text[HOSTPORT_HOST_MAX + 1];
	size_t				 len;

	if (peer->port == 0)
		peer = &cfg->cluster_peer_listen;
	hostport_format(k->self.peer_address, sizeof(k->self.peer_address),
	    peer->host, peer->port);
	/* The url's host:port stands in for the tunnel name and address. */
	host = strstr(u, "://") != NULL ? strstr(u, "://") + 3 : u;
	len = strcspn(host, "/");
	snprintf(text, sizeof(text), "%.*s", (int)len, host);
	if (hostport_parse(text, 443, &url, why, sizeof(why)) != UPLINK_OK)
		memset(&url, 0, sizeof(url));
	snprintf(k->self.tunnel_name, sizeof(k->self.tunnel_name), "%s",
	    cfg->cluster_tunnel_name[0] != '\0' ? cfg->cluster_tunnel_name :
	    url.host);
	if (cfg->cluster_tunnel_address.port != 0)
		hostport_format(k->self.tunnel_address,
		    sizeof(k->self.tunnel_address),
		    cfg->cluster_tunnel_address.host,
		    cfg->cluster_tunnel_address.port);
	else if (url.port != 0)
		hostport_format(k->self.tunnel_address,
		    sizeof(k->self.tunnel_address), url.host, url.port);
}

/* (Re)registers this instance: a new epoch, its locations written anew. */
static int
cl_register(struct cluster *k, char *err, size_t errlen)
{
	struct cl_conn	*e;
	size_t		 i;
	int		 rc;

	k->self.started_at = time(NULL);
	k->self.lease_until = k->self.started_at + k->lease;
	k->renew_ok_since = k->self.started_at;
	rc = store_instance_register(k->c->dd.st, &k->self, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	for (i = 0; i < CLUSTER_BUCKETS; i++)
		LIST_FOREACH(e, &k->conns[i], entry)
			e->w_tunnels = e->w_load = 0;
	cl_flush_later(k);
	return UPLINK_OK;
}

/*
 * The store says this run is not live any more. Another process with the
 * same id and a valid lease: say so and leave it be. Otherwise the others
 * took this instance's lease for expired (the database or this loop was
 * stalled longer than the lease): register again.
 */
static int
cl_find_row(void *arg, const struct store_instance *in)
{
	struct store_instance	*want = arg;

	if (strcmp(in->id, want->id) == 0)
		*want = *in;
	return 0;
}

static void
cl_lost(struct cluster *k)
{
	struct store_instance	 row;
	char			 err[512];
	time_t			 now = time(NULL);
	int64_t			 old;

	memset(&row, 0, sizeof(row));
	snprintf(row.id, sizeof(row.id), "%s", k->self.id);
	if (store_instance_list(k->c->dd.st, cl_find_row, &row, err,
	    sizeof(err)) != UPLINK_OK)
		return;		/* the next renewal tries again */
	if (row.epoch > k->self.epoch && row.state != STORE_INSTANCE_GONE &&
	    row.lease_until >= now) {
		if (!k->dup_logged)
			log_warnx("cluster: another process runs as instance "
			    "%s (run %lld, peer address %s); two instances "
			    "must not share an id: give each its own [cluster] "
			    "instance", k->self.id, (long long)row.epoch,
			    row.peer_address);
		k->dup_logged = true;
		return;
	}
	k->dup_logged = false;
	old = k->self.epoch;
	if (cl_register(k, err, sizeof(err)) != UPLINK_OK) {
		log_warnx("cluster: cannot register instance %s again: %s",
		    k->self.id, err);
		return;
	}
	log_warnx("cluster: instance %s was taken for gone by the others (%s); "
	    "registered again as run %lld", k->self.id, row.epoch != old ?
	    "another process with its id ran and stopped" : "its lease ran out",
	    (long long)k->self.epoch);
}

static void
cl_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cluster		*k = arg;
	struct store_location	*v;
	char			 err[512];
	size_t			 n;
	int			 rc;

	(void)fd;
	(void)what;
	v = cl_rows(k, false, &n);
	if (n == 0) {
		free(v);
		return;
	}
	rc = store_locations_write(k->c->dd.st, k->self.id, k->self.epoch, v,
	    n, time(NULL), err, sizeof(err));
	if (rc == UPLINK_OK) {
		cl_written(k, v, n);
		if (k->write_failing)
			log_info("cluster: tunnel locations written again");
		k->write_failing = false;
	} else if (rc == UPLINK_ENOTFOUND)
		cl_lost(k);
	else if (!k->write_failing) {
		/* The breaker has said why; the renewal will retry. */
		if (rc != UPLINK_EUNAVAIL)
			log_warnx("cluster: cannot write tunnel locations: %s",
			    err);
		k->write_failing = true;
	}
	free(v);
}

/* Open streams per connector, from the router's tunnels. */
static void
cl_load_cb(void *arg, const struct router_tunnel *ti)
{
	struct cl_conn	*e = cl_conn_find(arg, ti->connector);

	if (e != NULL)
		e->load += ti->stats.streams;
}

static void
cl_renew_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cluster		*k = arg;
	struct store_location	*v;
	struct cl_conn		*e;
	char			 err[512];
	time_t			 now = time(NULL);
	size_t			 i, n;
	int			 rc;

	(void)fd;
	(void)what;
	for (i = 0; i < CLUSTER_BUCKETS; i++)
		LIST_FOREACH(e, &k->conns[i], entry)
			e->load = 0;
	if (k->c->router != NULL)
		router_foreach(k->c->router, cl_load_cb, k);
	v = cl_rows(k, true, &n);
	rc = store_instance_renew(k->c->dd.st, k->self.id, k->self.epoch,
	    now + k->lease, v, n, now, err, sizeof(err));
	if (rc == UPLINK_OK) {
		k->self.lease_until = now + k->lease;
		cl_written(k, v, n);
		if (k->renew_failing) {
			log_info("cluster: instance %s renewed its lease again",
			    k->self.id);
			k->renew_ok_since = time(NULL);
		}
		k->renew_failing = k->write_failing = false;
	} else if (rc == UPLINK_ENOTFOUND)
		cl_lost(k);
	else if (!k->renew_failing) {
		log_warnx("cluster: cannot renew the lease of instance %s "
		    "(it ends in %lld s; the others take it for gone then): %s",
		    k->self.id, (long long)(k->self.lease_until - now), err);
		k->renew_failing = true;
	}
	free(v);
}

struct cl_read {
	struct cluster_instance	*all;
	size_t			 nall;
	struct cl_loc		*locs;
	size_t			 nlocs, cap;
	struct cluster		*k;
};

static int
cl_instance_row(void *arg, const struct store_instance *in)
{
	struct cl_read		*r = arg;
	struct cluster_instance	*ci;

	if (r->nall == STORE_INSTANCES_MAX)
		return 0;
	ci = &r->all[r->nall++];
	memset(ci, 0, sizeof(*ci));
	snprintf(ci->id, sizeof(ci->id), "%s", in->id);
	snprintf(ci->peer_address, sizeof(ci->peer_address), "%s",
	    in->peer_address);
	snprintf(ci->tunnel_name, sizeof(ci->tunnel_name), "%s",
	    in->tunnel_name);
	snprintf(ci->tunnel_address, sizeof(ci->tunnel_address), "%s",
	    in->tunnel_address);
	ci->state = in->state == STORE_INSTANCE_UP ? CLUSTER_UP :
	    in->state == STORE_INSTANCE_DRAINING ? CLUSTER_DRAINING :
	    CLUSTER_GONE;
	ci->started_at = in->started_at;
	ci->lease_until = in->lease_until;
	ci->epoch = in->epoch;
	ci->self = strcmp(in->id, r->k->self.id) == 0 &&
	    in->epoch == r->k->self.epoch;
	return 0;
}

static int
cl_location_row(void *arg, const struct store_location *l)
{
	struct cl_read		*r = arg;
	struct cl_loc		*cl;

	if (r->nlocs == r->cap) {
		r->cap = r->cap == 0 ? 256 : r->cap * 2;
		r->locs = xrealloc(r->locs, r->cap * sizeof(*r->locs));
	}
	cl = &r->locs[r->nlocs];
	memset(cl, 0, sizeof(*cl));
	snprintf(cl->l.instance, sizeof(cl->l.instance), "%s", l->instance);
	snprintf(cl->l.connector, sizeof(cl->l.connector), "%s",
	    l->connector);
	snprintf(cl->site, sizeof(cl->site), "%s", l->site);
	cl->l.tunnels = l->tunnels;
	cl->l.load = l->load;
	cl->l.epoch = l->epoch;
	r->nlocs++;
	return 0;
}

/* The live run of instance id in r, NULL when it has none. */
static const struct cluster_instance *
cl_live_run(const struct cluster_instance *v, size_t n, const char *id,
    int64_t epoch)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0)
			return v[i].epoch == epoch ? &v[i] : NULL;
	return NULL;
}

static int
cl_id_cmp(const void *a, const void *b)
{
	const struct cluster_instance	*x = a, *y = b;

	return strcmp(x->id, y->id);
}

static int
cl_loc_cmp(const void *a, const void *b)
{
	const struct cl_loc	*x = a, *y = b;
	int			 d = strcmp(x->l.connector, y->l.connector);

	return d != 0 ? d : strcmp(x->l.instance, y->l.instance);
}

static const struct cl_loc	*cl_sort_locs;	/* qsort takes no argument */

static int
cl_site_cmp(const void *a, const void *b)
{
	size_t	 x = *(const size_t *)a, y = *(const size_t *)b;
	int	 d = strcasecmp(cl_sort_locs[x].site, cl_sort_locs[y].site);

	return d != 0 ? d : (x < y ? -1 : x > y);
}

/* This run as the table should have it. */
static void
cl_self_row(struct cluster *k, struct cluster_instance *ci)
{
	memset(ci, 0, sizeof(*ci));
	snprintf(ci->id, sizeof(ci->id), "%s", k->self.id);
	snprintf(ci->peer_address, sizeof(ci->peer_address), "%s",
	    k->self.peer_address);
	snprintf(ci->tunnel_name, sizeof(ci->tunnel_name), "%s",
	    k->self.tunnel_name);
	snprintf(ci->tunnel_address, sizeof(ci->tunnel_address), "%s",
	    k->self.tunnel_address);
	ci->state = k->self.state == STORE_INSTANCE_DRAINING ?
	    CLUSTER_DRAINING : CLUSTER_UP;
	ci->started_at = k->self.started_at;
	ci->lease_until = k->self.lease_until;
	ci->epoch = k->self.epoch;
	ci->self = true;
}

/*
 * Self as this process knows itself (its row may be missing: not written
 * yet, or marked gone by the others); another whose lease ran out is gone,
 * whatever its row says. r->all has room for one more row.
 */
static void
cl_fix_states(struct cluster *k, struct cl_read *r, time_t now)
{
	size_t	 i;
	bool	 have_self = false;

	for (i = 0; i < r->nall; i++) {
		if (r->all[i].self) {
			cl_self_row(k, &r->all[i]);
			have_self = true;
		} else if (r->all[i].lease_until < now)
			r->all[i].state = CLUSTER_GONE;
	}
	if (have_self)
		return;
	for (i = 0; i < r->nall && strcmp(r->all[i].id, k->self.id) < 0; i++)
		;
	if (i == r->nall || strcmp(r->all[i].id, k->self.id) != 0) {
		memmove(&r->all[i + 1], &r->all[i], (r->nall - i) *
		    sizeof(*r->all));
		r->nall++;
	}
	cl_self_row(k, &r->all[i]);
}

/*
 * Keeps of r what the queries answer from: the live instances (self
 * always, as this process knows itself), and the locations of other live
 * runs, sorted by connector, with an index by site.
 */
static void
cl_install(struct cluster *k, struct cl_read *r, time_t now)
{
	const struct cluster_instance	*run;
	size_t				 i, n = 0;

	/* By id in C's order: the database's collation may differ. */
	if (r->nall > 1)
		qsort(r->all, r->nall, sizeof(*r->all), cl_id_cmp);
	cl_fix_states(k, r, now);
	free(k->all);
	free(k->live);
	k->all = r->all;
	k->nall = r->nall;
	k->live = xcalloc(r->nall + 1, sizeof(*k->live));
	k->nlive = 0;
	for (i = 0; i < r->nall; i++)
		if (r->all[i].state != CLUSTER_GONE)
			k->live[k->nlive++] = r->all[i];
	/* Locations of other live runs only, compacted in place. */
	for (i = 0; i < r->nlocs; i++) {
		run = cl_live_run(k->live, k->nlive, r->locs[i].l.instance,
		    r->locs[i].l.epoch);
		if (run != NULL && !run->self)
			r->locs[n++] = r->locs[i];
	}
	/* The database's collation may order text otherwise than C. */
	if (n > 1)
		qsort(r->locs, n, sizeof(*r->locs), cl_loc_cmp);
	free(k->locs);
	free(k->bysite);
	k->locs = r->locs;
	k->nlocs = n;
	k->bysite = xcalloc(n + 1, sizeof(*k->bysite));
	for (i = 0; i < n; i++)
		k->bysite[i] = i;
	cl_sort_locs = k->locs;
	if (n > 0)
		qsort(k->bysite, n, sizeof(*k->bysite), cl_site_cmp);
	r->locs = NULL;
	r->all = NULL;
}

static void
cl_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cluster	*k = arg;
	struct cl_read	 r;
	char		 err[512];
	time_t		 now = time(NULL);
	size_t		 i, expired;
	int		 rc;

	(void)fd;
	(void)what;
	memset(&r, 0, sizeof(r));
	r.k = k;
	r.all = xcalloc(STORE_INSTANCES_MAX + 1, sizeof(*r.all));
	rc = store_instance_list(k->c->dd.st, cl_instance_row, &r, err,
	    sizeof(err));
	if (rc == UPLINK_OK)
		rc = store_location_list(k->c->dd.st, cl_location_row, &r, err,
		    sizeof(err));
	if (rc != UPLINK_OK) {
		if (!k->read_failing && rc != UPLINK_EUNAVAIL)
			log_warnx("cluster: cannot read the instances: %s; "
			    "keeping the last view", err);
		k->read_failing = true;
		free(r.all);
		free(r.locs);
		return;
	}
	k->read_failing = false;
	/*
	 * Leases that ran out: mark them gone (whoever sees it first). Not
	 * while this instance itself could not renew, nor until it has
	 * renewed for a whole lease since: after an outage of the database
	 * every lease has run out, and the others need that long to renew.
	 */
	for (i = 0; i < r.nall; i++)
		if (r.all[i].state != CLUSTER_GONE &&
		    r.all[i].lease_until < now && !r.all[i].self)
			break;
	if (i < r.nall && !k->renew_failing &&
	    now - k->renew_ok_since >= k->lease) {
		if (store_instance_expire(k->c->dd.st, now, &expired, err,
		    sizeof(err)) != UPLINK_OK)
			log_warnx("cluster: cannot mark instances gone: %s",
			    err);
		else if (expired > 0)
			log_info("cluster: instance %s is gone: its lease ran "
			    "out %lld s ago", r.all[i].id,
			    (long long)(now - r.all[i].lease_until));
	}
	cl_install(k, &r, now);
}

/*
 * A hint: the shared state changed (or, full, may have: the hints were not
 * heard for a while). The data-version watch of cloud/run.c runs now
 * instead of at its next tick; full makes it react even if the version
 * seems unchanged, and re-reads the fleet too.
 */
static void
cl_hint(struct cluster *k, bool full)
{
	struct cloud	*c = k->c;

	if (full) {
		c->data_version = INT64_MIN;
		cl_read_cb(-1, 0, k);
	}
	if (c->watch != NULL)
		event_active(c->watch, EV_TIMEOUT, 0);
}

static void	cl_listen_cb(evutil_socket_t, short, void *);

/* Waits on the listening connection's socket, as it asks. */
static void
cl_listen_arm(struct cluster *k, bool connecting)
{
	struct timeval	 tv;
	int		 ms;
	short		 what;

	if (k->listen_ev != NULL)
		event_free(k->listen_ev);
	k->listen_connecting = connecting;
	what = connecting ? (store_listen_wants_write(k->listen) ? EV_WRITE :
	    EV_READ) : EV_READ | EV_PERSIST;
	k->listen_ev = event_new(k->c->base, store_listen_fd(k->listen), what,
	    cl_listen_cb, k);
	/* A frozen server must not hold an attempt forever. */
	ms = (int)k->c->cfg.store_timeout * 1000 * 2;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_add(k->listen_ev, connecting ? &tv : NULL);
}

static void
cl_listen_down(struct cluster *k, const char *why)
{
	struct timeval	 tv;

	store_listen_close(k->listen);
	if (k->listen_ev != NULL)
		event_free(k->listen_ev);
	k->listen_ev = NULL;
	k->listen_connecting = false;
	if (!k->listen_down)
		log_warnx("cluster: not listening for changes (%s); polling "
		    "meanwhile, retrying with backoff", why);
	k->listen_down = true;
	k->listen_backoff = k->listen_backoff == 0 ? LISTEN_BACKOFF_MIN :
	    k->listen_backoff * 2 > LISTEN_BACKOFF_MAX ? LISTEN_BACKOFF_MAX :
	    k->listen_backoff * 2;
	tv.tv_sec = k->listen_backoff / 1000;
	tv.tv_usec = (k->listen_backoff % 1000) * 1000;
	evtimer_add(k->listen_retry, &tv);
}

static void
cl_listen_begin(evutil_socket_t fd, short what, void *arg)
{
	struct cluster	*k = arg;
	char		 err[512];

	(void)fd;
	(void)what;
	if (store_listen_start(k->listen, err, sizeof(err)) != UPLINK_OK) {
		cl_listen_down(k, err);
		return;
	}
	cl_listen_arm(k, true);
}

static void
cl_listen_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cluster	*k = arg;
	char		 err[512];
	unsigned	 n;

	(void)fd;
	if (what & EV_TIMEOUT) {
		cl_listen_down(k, "connecting timed out");
		return;
	}
	switch (store_listen_step(k->listen, &n, err, sizeof(err))) {
	case STORE_LISTEN_WAIT:
		/* Connecting or subscribing: wait for the next step. */
		if (k->listen_connecting)
			cl_listen_arm(k, true);
		break;
	case STORE_LISTEN_UP:
		if (k->listen_down)
			log_info("cluster: listening for changes again; "
			    "re-reading everything");
		else
			log_info("cluster: listening for changes");
		k->listen_down = false;
		k->listen_backoff = 0;
		cl_listen_arm(k, false);
		cl_hint(k, true);
		break;
	case STORE_LISTEN_HINT:
		k->hints += n;
		log_debug("cluster: %u hint%s that the shared state changed "
		    "(%lu so far)", n, n == 1 ? "" : "s", k->hints);
		cl_hint(k, false);
		break;
	case STORE_LISTEN_DOWN:
		cl_listen_down(k, err);
		break;
	}
}

int
cluster_start(struct cloud *c, char *err, size_t errlen)
{
	const struct cloud_config	*cfg = &c->cfg;
	struct timeval			 renew, read = { 1, 0 };
	struct cluster			*k;
	char				 why[512];
	size_t				 i;
	int64_t				 ms;

	if (cfg->cluster_instance[0] == '\0')
		return 0;
	if (!store_is_pg(c->dd.st)) {
		snprintf(err, errlen, "%s: [cluster] needs a shared PostgreSQL "
		    "store; set [store] url = postgresql://...", cfg->path);
		return -1;
	}
	k = xcalloc(1, sizeof(*k));
	k->c = c;
	k->lease = cfg->cluster_lease;
	for (i = 0; i < CLUSTER_BUCKETS; i++)
		LIST_INIT(&k->conns[i]);
	snprintf(k->self.id, sizeof(k->self.id), "%s", cfg->cluster_instance);
	cl_self_address(k);
	c->cluster = k;
	if (cl_register(k, why, sizeof(why)) != UPLINK_OK) {
		snprintf(err, errlen, "cluster: cannot register instance %s: %s",
		    k->self.id, why);
		cluster_free(c);
		return -1;
	}
	k->renew_ev = event_new(c->base, -1, EV_PERSIST, cl_renew_cb, k);
	k->read_ev = event_new(c->base, -1, EV_PERSIST, cl_read_cb, k);
	k->flush_ev = evtimer_new(c->base, cl_flush_cb, k);
	ms = k->lease * 1000 / 3;
	renew.tv_sec = ms / 1000;
	renew.tv_usec = (ms % 1000) * 1000;
	event_add(k->renew_ev, &renew);
	read.tv_sec = CLUSTER_READ_MS / 1000;
	read.tv_usec = (CLUSTER_READ_MS % 1000) * 1000;
	event_add(k->read_ev, &read);
	cl_read_cb(-1, 0, k);
	k->listen = store_listen_new(c->dd.st);
	k->listen_retry = evtimer_new(c->base, cl_listen_begin, k);
	if (k->listen != NULL)
		cl_listen_begin(-1, 0, k);
	log_info("cluster: instance %s (run %lld): peers at %s, connectors at "
	    "%s (%s), lease %lld s; %zu instance%s live", k->self.id,
	    (long long)k->self.epoch, k->self.peer_address,
	    k->self.tunnel_address, k->self.tunnel_name, (long long)k->lease,
	    k->nlive, k->nlive == 1 ? "" : "s");
	return 0;
}

void
cluster_draining(struct cloud *c)
{
	struct cluster	*k = cl(c);
	char		 err[512];

	if (k == NULL || k->self.state != STORE_INSTANCE_UP)
		return;
	k->self.state = STORE_INSTANCE_DRAINING;
	if (store_instance_set_state(c->dd.st, k->self.id, k->self.epoch,
	    STORE_INSTANCE_DRAINING, time(NULL), err, sizeof(err)) !=
	    UPLINK_OK)
		log_warnx("cluster: cannot mark instance %s draining: %s",
		    k->self.id, err);
}

void
cluster_free(struct cloud *c)
{
	struct cluster	*k = cl(c);
	struct cl_conn	*e;
	char		 err[512];
	size_t		 i;

	if (k == NULL)
		return;
	c->cluster = NULL;
	if (k->self.epoch > 0 && store_instance_set_state(c->dd.st,
	    k->self.id, k->self.epoch, STORE_INSTANCE_GONE, time(NULL), err,
	    sizeof(err)) == UPLINK_OK)
		log_info("cluster: instance %s left the cluster", k->self.id);
	else if (k->self.epoch > 0)
		log_warnx("cluster: cannot mark instance %s gone (the others "
		    "will when its lease runs out): %s", k->self.id, err);
	if (k->renew_ev != NULL)
		event_free(k->renew_ev);
	if (k->read_ev != NULL)
		event_free(k->read_ev);
	if (k->flush_ev != NULL)
		event_free(k->flush_ev);
	if (k->listen_ev != NULL)
		event_free(k->listen_ev);
	if (k->listen_retry != NULL)
		event_free(k->listen_retry);
	store_listen_free(k->listen);
	for (i = 0; i < CLUSTER_BUCKETS; i++)
		while ((e = LIST_FIRST(&k->conns[i])) != NULL) {
			LIST_REMOVE(e, entry);
			free(e);
		}
	free(k->all);
	free(k->live);
	free(k->locs);
	free(k->bysite);
	free(k);
}

bool
cluster_enabled(const struct cloud *c)
{
	return cl(c) != NULL;
}

const char *
cluster_self(const struct cloud *c)
{
	return cl(c) != NULL ? cl(c)->self.id : "";
}

size_t
cluster_instances(const struct cloud *c, const struct cluster_instance **out)
{
	struct cluster	*k = cl(c);

	*out = k != NULL ? k->live : NULL;
	return k != NULL ? k->nlive : 0;
}

size_t
cluster_known(const struct cloud *c, const struct cluster_instance **out)
{
	struct cluster	*k = cl(c);

	*out = k != NULL ? k->all : NULL;
	return k != NULL ? k->nall : 0;
}

unsigned
cluster_instance_tunnels(const struct cloud *c, const char *id)
{
	struct cluster	*k = cl(c);
	unsigned	 n = 0;
	size_t		 i;

	if (k == NULL)
		return 0;
	if (strcmp(id, k->self.id) == 0)
		return k->c->router != NULL ?
		    (unsigned)router_tunnels(k->c->router) : 0;
	for (i = 0; i < k->nlocs; i++)
		if (strcmp(k->locs[i].l.instance, id) == 0)
			n += k->locs[i].l.tunnels;
	return n;
}

const struct cluster_instance *
cluster_instance(const struct cloud *c, const char *id)
{
	struct cluster	*k = cl(c);
	size_t		 i;

	if (k == NULL)
		return NULL;
	for (i = 0; i < k->nlive; i++)
		if (strcmp(k->live[i].id, id) == 0)
			return &k->live[i];
	for (i = 0; i < k->nall; i++)
		if (strcmp(k->all[i].id, id) == 0)
			return &k->all[i];
	return NULL;
}

/* The first location of connector in k->locs (sorted), or nlocs. */
static size_t
cl_first(const struct cluster *k, const char *connector)
{
	size_t	 lo = 0, hi = k->nlocs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(k->locs[mid].l.connector, connector) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t
cluster_locations(const struct cloud *c, const char *connector,
    struct cluster_location *out, size_t max)
{
	struct cluster	*k = cl(c);
	size_t		 i, n = 0;

	if (k == NULL)
		return 0;
	for (i = cl_first(k, connector); i < k->nlocs &&
	    strcmp(k->locs[i].l.connector, connector) == 0; i++, n++)
		if (n < max)
			out[n] = k->locs[i].l;
	return n;
}

size_t
cluster_site_locations(const struct cloud *c, const char *site,
    struct cluster_location *out, size_t max)
{
	struct cluster	*k = cl(c);
	size_t		 lo = 0, hi, mid, n = 0;

	if (k == NULL)
		return 0;
	hi = k->nlocs;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcasecmp(k->locs[k->bysite[mid]].site, site) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < k->nlocs && strcasecmp(k->locs[k->bysite[lo]].site,
	    site) == 0; lo++, n++)
		if (n < max)
			out[n] = k->locs[k->bysite[lo]].l;
	return n;
}

size_t
cluster_fleet_locations(const struct cloud *c, const char *connector,
    struct cluster_location *out, size_t max)
{
	struct cluster	*k = cl(c);
	struct cl_conn	*e;
	size_t		 n;

	if (k == NULL || max == 0)
		return 0;
	e = cl_conn_find(k, connector);
	n = e != NULL && e->tunnels > 0 ? 1 : 0;
	if (n == 1) {
		memset(out, 0, sizeof(*out));
		snprintf(out->instance, sizeof(out->instance), "%s",
		    k->self.id);
		snprintf(out->connector, sizeof(out->connector), "%s",
		    connector);
		out->tunnels = e->tunnels;
		out->load = e->load;
		out->epoch = k->self.epoch;
	}
	return n + cluster_locations(c, connector, out + n, max - n);
}

void
cluster_tunnels_changed(struct cloud *c, const char *connector,
    const char *site, unsigned n)
{
	struct cluster	*k = cl(c);
	struct cl_conn	*e;
	unsigned	 h;

	if (k == NULL || strlen(connector) > STORE_ID_MAX)
		return;
	e = cl_conn_find(k, connector);
	if (e == NULL) {
		if (n == 0)
			return;
		e = xcalloc(1, sizeof(*e));
		snprintf(e->connector, sizeof(e->connector), "%s", connector);
		h = cl_hash(connector);
		LIST_INSERT_HEAD(&k->conns[h], e, entry);
		k->nconns++;
	}
	if (strcmp(e->site, site) != 0) {
		snprintf(e->site, sizeof(e->site), "%s", site);
		e->w_site = false;
	}
	e->tunnels = n;
	if (cl_dirty(e, false))
		cl_flush_later(k);
}
