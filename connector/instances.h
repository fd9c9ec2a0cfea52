#ifndef UPLINK_CONNECTOR_INSTANCES_H
#define UPLINK_CONNECTOR_INSTANCES_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The cloud's instances, when the cloud is a cluster (docs/cluster.md):
 * GET /api/v1/cluster with the connector's certificate, through the
 * tunnels' route, at start, every INSTANCES_REFRESH_MS, and whenever a
 * tunnel is told to go away. The connector ranks the instances that are
 * up by rendezvous hashing of its own id (lib/core/rendezvous.c) and puts
 * tunnel i on the i-th of them (modulo their number): its tunnels land on
 * as many different instances as it has tunnels, up to their number,
 * spread evenly over connectors, and few move when an instance comes or
 * goes. A cloud that is not a cluster (404) leaves every tunnel on the
 * [cloud] url, as before.
 */

struct service;

#define INSTANCES_MAX		32
#define INSTANCES_REFRESH_MS	60000
/*
 * After an instance failed or asked its tunnels to leave, the list is
 * fetched every INSTANCES_UNSETTLED_MS for INSTANCES_AVOID_MS * 2: an
 * instance that restarts gets its share of tunnels back within seconds,
 * not at the next minute.
 */
#define INSTANCES_UNSETTLED_MS	3000
#define INSTANCES_AVOID_MS	30000	/* after a failure or a move hint */
#define INSTANCES_FETCH_MS	10000

struct cloud_instance {
	char		 id[64];
	char		 name[254];	/* the TLS name (SNI) */
	char		 host[254];	/* where to dial */
	unsigned	 port;
	bool		 draining;
};

struct instances;

/*
 * Starts: the first fetch, then ready(svc) once it is answered or failed
 * (either way; the tunnels start then), later changed(svc) after each
 * fetch that changes what instances_target() returns.
 */
struct instances *instances_start(struct service *svc,
    void (*ready)(struct service *), void (*changed)(struct service *));
/* Fetches again now (a fetch under way is not repeated). */
void instances_refresh(struct instances *in);
/* Leaves instance id out of the ranking for INSTANCES_AVOID_MS. */
void instances_avoid(struct instances *in, const char *id);
/*
 * Where tunnel idx (0-based) goes: an instance, or NULL for the [cloud]
 * url (not a cluster, or nothing known yet).
 */
const struct cloud_instance *instances_target(struct instances *in, int idx);
/* The instances listed now (up and draining). */
size_t instances_count(const struct instances *in);
void instances_free(struct instances *in);

#endif
