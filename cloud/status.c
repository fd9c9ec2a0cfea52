#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cluster.h"
#include "daemon.h"
#include "error.h"
#include "log.h"
#include "router.h"
#include "status.h"
#include "store.h"
#include "xmalloc.h"

/*
 * The live state of every connector, written to DATA_DIR/status.json once
 * a second for "uplink-cloud status" (and whatever monitoring reads it).
 * A connector is online when all the tunnels it keeps are up, degraded
 * when some are, draining when all that are up are going away, offline
 * with none. A site with fewer than two serving connectors has no
 * redundancy: one failure takes its services down.
 */

#define STATUS_FILE		"status.json"
#define STATUS_EVERY_MS		1000
#define CLUSTER_FLEET_SHOWN	64	/* instances listed per connector */


static int
collect_cb(void *arg, const struct store_connector *c)
{
	struct live_list	*l = arg;

	if (c->revoked_at != 0 && !l->revoked_too)
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	l->v[l->n].sc = *c;
	l->v[l->n].rtt_ms = -1;
	l->v[l->n].bytes_in = (uint64_t)c->bytes_in;
	l->v[l->n].bytes_out = (uint64_t)c->bytes_out;
	l->n++;
	return 0;
}

static void
live_cb(void *arg, const struct router_tunnel *ti)
{
	struct live_list	*l = arg;
	struct live_conn	*sc;
	size_t			 i;

	for (i = 0; i < l->n; i++) {
		sc = &l->v[i];
		if (strcmp(sc->sc.id, ti->connector) != 0)
			continue;
		sc->tunnels++;
		sc->draining += ti->stats.draining;
		sc->streams += ti->stats.streams;
		/* Added to what the store has (collect_cb): never falls. */
		sc->bytes_in += ti->unsent_in;
		sc->bytes_out += ti->unsent_out;
		if (ti->stats.rtt_ms >= 0 && (sc->rtt_ms < 0 ||
		    ti->stats.rtt_ms < sc->rtt_ms))
			sc->rtt_ms = ti->stats.rtt_ms;
		if (ti->expected > sc->expected)
			sc->expected = ti->expected;
		if (ti->version[0] != '\0')
			snprintf(sc->version, sizeof(sc->version), "%s",
			    ti->version);
		snprintf(sc->peer, sizeof(sc->peer), "%s", ti->peer);
		return;
	}
}

/*
 * In a cluster, where the connector's tunnels are in the whole fleet: its
 * tunnels on other instances count as its tunnels (it is online if it has
 * any anywhere); streams, bytes and RTT stay this instance's.
 */
static void
live_fleet(struct cloud *c, struct live_conn *sc)
{
	struct cluster_location	 where[CLUSTER_FLEET_SHOWN];
	size_t			 i, n;

	sc->instances = json_array();
	n = cluster_fleet_locations(c, sc->sc.id, where, CLUSTER_FLEET_SHOWN);
	for (i = 0; i < n && i < CLUSTER_FLEET_SHOWN; i++) {
		json_array_append_new(sc->instances, json_pack("{s:s, s:I}",
		    "instance", where[i].instance, "tunnels",
		    (json_int_t)where[i].tunnels));
		if (strcmp(where[i].instance, cluster_self(c)) != 0)
			sc->remote += where[i].tunnels;
	}
	sc->tunnels += sc->remote;
}

const char *
live_state(const struct live_conn *sc)
{
	if (sc->sc.revoked_at != 0)
		return "revoked";
	if (sc->tunnels == 0)
		return "offline";
	if (sc->sc.drained)
		return "draining";
	if (sc->draining == sc->tunnels)
		return "draining";
	if (sc->expected > 0 && sc->tunnels - sc->draining <
	    (unsigned)sc->expected)
		return "degraded";
	return "online";
}

json_t *
live_conn_json(const struct live_conn *sc, int64_t now)
{
	json_t	*j;

	j = json_pack("{s:s, s:s, s:s, s:i, s:i, s:I, s:I, s:I}",
	    "id", sc->sc.id, "name", sc->sc.name, "state", live_state(sc),
	    "tunnels", (int)sc->tunnels, "tunnels_expected", sc->expected,
	    "streams", (json_int_t)sc->streams,
	    "bytes_in", (json_int_t)sc->bytes_in,
	    "bytes_out", (json_int_t)sc->bytes_out);
	json_object_set_new(j, "rtt_ms", sc->rtt_ms >= 0 ?
	    json_integer(sc->rtt_ms) : json_null());
	json_object_set_new(j, "last_seen", sc->tunnels > 0 ?
	    json_integer(now) : sc->sc.last_seen ?
	    json_integer(sc->sc.last_seen) : json_null());
	json_object_set_new(j, "version", sc->version[0] ?
	    json_string(sc->version) : sc->sc.version[0] ?
	    json_string(sc->sc.version) : json_null());
	json_object_set_new(j, "peer", sc->peer[0] ? json_string(sc->peer) :
	    json_null());
	json_object_set_new(j, "site", json_string(sc->site));
	json_object_set_new(j, "created_at", json_integer(sc->sc.created_at));
	json_object_set_new(j, "revoked_at", sc->sc.revoked_at ?
	    json_integer(sc->sc.revoked_at) : json_null());
	json_object_set_new(j, "cert_not_after", sc->sc.cert_not_after ?
	    json_integer(sc->sc.cert_not_after) : json_null());
	json_object_set_new(j, "drained", json_boolean(sc->sc.drained));
	json_object_set_new(j, "instances", sc->instances != NULL ?
	    json_incref(sc->instances) : json_array());
	return j;
}

/* The sites array, connectors grouped under the site they belong to. */
static json_t *
sites_json(struct live_list *l, int64_t now)
{
	json_t		*sites = json_array(), *site = NULL, *conns = NULL;
	int64_t		 cur = -1;
	int		 online = 0;
	size_t		 i;

	for (i = 0; i < l->n; i++) {
		if (l->v[i].sc.site_id != cur) {
			if (site != NULL)
				json_object_set_new(site, "redundancy",
				    json_boolean(online >= 2));
			cur = l->v[i].sc.site_id;
			online = 0;
			conns = json_array();
			site = json_pack("{s:s, s:o}", "name", l->v[i].site,
			    "connectors", conns);
			json_array_append_new(sites, site);
		}
		if (live_serving(&l->v[i]))
			online++;
		json_object_set_new(site, "online", json_integer(online));
		json_array_append_new(conns, live_conn_json(&l->v[i], now));
	}
	if (site != NULL)
		json_object_set_new(site, "redundancy", json_boolean(online >= 2));
	return sites;
}

/*
 * Replaces the file by rename, so readers never see half of it. No fsync:
 * the file is rewritten every second and means nothing after a crash.
 */
static int
status_replace(const char *path, const char *text)
{
	char	 tmp[DATADIR_PATH_MAX + 32];
	FILE	*fp;
	int	 rv;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fp = fopen(tmp, "w");
	if (fp == NULL)
		return -1;
	rv = fputs(text, fp) < 0 ? -1 : 0;
	if (fclose(fp) != 0)
		rv = -1;
	if (rv == 0)
		rv = rename(tmp, path);
	if (rv != 0)
		unlink(tmp);
	return rv;
}

int
live_collect(struct cloud *c, int64_t site_id, bool revoked_too,
    struct live_list *l, char *err, size_t errlen)
{
	size_t	 i;
	int	 rc;

	memset(l, 0, sizeof(*l));
	l->revoked_too = revoked_too;
	rc = store_connector_list(c->dd.st, site_id, collect_cb, l, err, errlen);
	if (rc != UPLINK_OK) {
		live_free(l);
		return rc;
	}
	for (i = 0; i < l->n; i++) {
		if (store_site_name(c->dd.st, l->v[i].sc.site_id, l->v[i].site,
		    err, errlen) != 0)
			snprintf(l->v[i].site, sizeof(l->v[i].site), "?");
		l->v[i].expected = router_expected(c->router, l->v[i].sc.id);
	}
	router_foreach(c->router, live_cb, l);
	for (i = 0; i < l->n; i++)
		live_fleet(c, &l->v[i]);
	return UPLINK_OK;
}

void
live_free(struct live_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		json_decref(l->v[i].instances);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static const char *
live_cluster_state(enum cluster_state s)
{
	switch (s) {
	case CLUSTER_UP:
		return "up";
	case CLUSTER_DRAINING:
		return "draining";
	default:
		return "gone";
	}
}

json_t *
live_instances_json(struct cloud *c)
{
	const struct cluster_instance	*v;
	json_t				*arr = json_array();
	size_t				 i, n;

	n = cluster_known(c, &v);
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, "
		    "s:s, s:o, s:o, s:I, s:I, s:b}", "id", v[i].id, "state",
		    live_cluster_state(v[i].state), "peer_address",
		    v[i].peer_address, "tunnel_name", v[i].tunnel_name,
		    "tunnel_address", v[i].tunnel_address, "started_at",
		    v[i].started_at ? json_integer(v[i].started_at) :
		    json_null(), "lease_until", v[i].lease_until ?
		    json_integer(v[i].lease_until) : json_null(), "epoch",
		    (json_int_t)v[i].epoch, "tunnels", (json_int_t)(
		    v[i].state == CLUSTER_GONE ? 0 :
		    cluster_instance_tunnels(c, v[i].id)), "self", v[i].self));
	return arr;
}

bool
live_serving(const struct live_conn *lc)
{
	const char	*st = live_state(lc);

	return strcmp(st, "online") == 0 || strcmp(st, "degraded") == 0;
}

void
status_write(struct cloud *c)
{
	struct live_list	 l;
	json_t			*j;
	char			*text, path[DATADIR_PATH_MAX + 16], err[256];
	int64_t			 now = time(NULL);
	int			 rc;

	rc = live_collect(c, 0, false, &l, err, sizeof(err));
	if (rc != UPLINK_OK) {
		/* An unavailable database has said so once, in its own line. */
		if (rc != UPLINK_EUNAVAIL)
			log_warnx("status: %s", err);
		return;
	}
	j = json_pack("{s:I, s:I, s:b, s:o, s:s, s:o}", "generated_at",
	    (json_int_t)now, "pid", (json_int_t)getpid(), "stopping",
	    c->stopping, "sites", sites_json(&l, now), "instance",
	    cluster_self(c), "instances", live_instances_json(c));
	text = json_dumps(j, JSON_INDENT(1));
	json_decref(j);
	live_free(&l);
	datadir_path(&c->dd, STATUS_FILE, path, sizeof(path));
	if (text == NULL || status_replace(path, text) != 0)
		log_warnx("status: cannot write %s: %s", path, text ?
		    strerror(errno) : "out of memory");
	free(text);
}

static void
status_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	status_write(arg);
}

int
status_start(struct cloud *c, char *err, size_t errlen)
{
	struct timeval	 tv = { 0, STATUS_EVERY_MS * 1000 };

	(void)err;
	(void)errlen;
	c->status_timer = event_new(c->base, -1, EV_PERSIST, status_cb, c);
	event_add(c->status_timer, &tv);
	status_write(c);
	return 0;
}

void
status_remove(struct cloud *c)
{
	char	 path[DATADIR_PATH_MAX + 16];

	datadir_path(&c->dd, STATUS_FILE, path, sizeof(path));
	unlink(path);
}
