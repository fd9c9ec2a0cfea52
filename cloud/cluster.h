#ifndef UPLINK_CLOUD_CLUSTER_H
#define UPLINK_CLOUD_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * cloud/cluster.c: this instance among the others of a cluster that shares
 * one PostgreSQL store (docs/cluster.md). With SQLite, or without a
 * [cluster] section in cloud.conf, the cloud is a cluster of one:
 * cluster_enabled() is false, cluster_instances() lists nothing and no
 * connector has a location elsewhere.
 *
 * Everything a caller reads here comes from memory: the instances and the
 * tunnel locations are re-read from the store in the background (on a
 * timer, and at once on a LISTEN/NOTIFY hint), never on a caller's path.
 * Pointers returned stay valid until control returns to the event loop.
 */

struct cloud;

#define CLUSTER_ID_MAX		63	/* an instance id: [a-z0-9-], 1..63 */
#define CLUSTER_ADDR_MAX	261	/* host:port */
#define CLUSTER_NAME_MAX	253	/* a DNS name */

enum cluster_state {
	CLUSTER_UP,
	CLUSTER_DRAINING,	/* SIGTERM: tunnels and streams moving away */
	CLUSTER_GONE,		/* stopped, or its lease ran out */
};

struct cluster_instance {
	char			 id[CLUSTER_ID_MAX + 1];
	/* host:port of its peer-link listener (other instances dial it). */
	char			 peer_address[CLUSTER_ADDR_MAX + 1];
	/* The TLS SNI name and host:port a connector uses to reach it. */
	char			 tunnel_name[CLUSTER_NAME_MAX + 1];
	char			 tunnel_address[CLUSTER_ADDR_MAX + 1];
	enum cluster_state	 state;
	int64_t			 started_at, lease_until;	/* Unix seconds */
	bool			 self;
	int64_t			 epoch;		/* its run: +1 at each start */
};

/* Where one connector has tunnels: on one instance, how many, how busy. */
struct cluster_location {
	char			 instance[CLUSTER_ID_MAX + 1];
	char			 connector[16];		/* c- and 12 hex digits */
	unsigned		 tunnels;
	unsigned		 load;		/* open streams at its last report */
	int64_t			 epoch;		/* that instance's start */
};

int cluster_start(struct cloud *c, char *err, size_t errlen);
void cluster_free(struct cloud *c);

bool cluster_enabled(const struct cloud *c);
/* This instance's id ("" when not in a cluster). */
const char *cluster_self(const struct cloud *c);
/* The instances whose lease is valid, this one included, by id. */
size_t cluster_instances(const struct cloud *c,
    const struct cluster_instance **out);
/* One instance by id (any state); NULL when unknown. */
const struct cluster_instance *cluster_instance(const struct cloud *c,
    const char *id);
/*
 * The tunnels of connector on OTHER live instances (up or draining): at
 * most max entries written to out, the count of all returned.
 */
size_t cluster_locations(const struct cloud *c, const char *connector,
    struct cluster_location *out, size_t max);
/*
 * The router tells the cluster that connector (of site) now has n tunnels
 * on this instance (0: none left); written to the store when tunnels come
 * and go, never per stream.
 */
void cluster_tunnels_changed(struct cloud *c, const char *connector,
    const char *site, unsigned n);

/*
 * Added by the cluster helper (no existing signature changed):
 *
 * cluster_site_locations(): the tunnels of site's connectors (the site
 * name as the router knows it, compared regardless of case) on OTHER live
 * instances, as cluster_locations().
 */
size_t cluster_site_locations(const struct cloud *c, const char *site,
    struct cluster_location *out, size_t max);
/*
 * Where connector has tunnels in the whole fleet, this instance included
 * (its count from memory, first), as cluster_locations(); what the API
 * and `uplink-cloud status` show. 0 when not in a cluster.
 */
size_t cluster_fleet_locations(const struct cloud *c, const char *connector,
    struct cluster_location *out, size_t max);
/*
 * SIGTERM: this instance is draining (the others stop sending it new
 * streams); written to the store at once. cluster_free() then marks it
 * gone. No-op when not in a cluster.
 */
void cluster_draining(struct cloud *c);
/*
 * Every instance known (any state: one whose lease ran out is
 * CLUSTER_GONE; this one always), by id; for the fleet views.
 */
size_t cluster_known(const struct cloud *c,
    const struct cluster_instance **out);
/* The tunnels on instance id (this one: the router's count). */
unsigned cluster_instance_tunnels(const struct cloud *c, const char *id);

#endif
