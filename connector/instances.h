#ifndef UPLINK_CONNECTOR_INSTANCES_H
#define UPLINK_CONNECTOR_INSTANCES_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The cloud's instances, when the cloud is a cluster (docs/cluster.md):
 * GET /api/v1/cluster with the connector's certificate, through the
 * tunnels' route, at start, every INSTANCES_REFRESH_MS, and whenever a
 * tunnel is told to go away. The connector ranks the instances that are
 * up by rendezvous hashing of its own id (lib/core/rendezvous.c); its T
 * tunnels go to the first T of them (all, round, when there are fewer):
 * as many different instances as it has tunnels, spread evenly over
 * connectors. A tunnel already on one of the chosen instances stays
 * there, so when an instance comes or goes one tunnel moves, not all. A cloud that is not a cluster (404) leaves every tunnel on the
 * [cloud] url, as before.
 */

struct service;

#define INSTANCES_MAX		32
#define INSTANCES_REFRESH_MS	60000
/*
 * After an instance failed or asked its tunnels to leave, the list is
 * fetched every INSTANCES_UNSETTLED_MS for INSTANCES_AVOID_MS * 2, and so
 * it is while a cluster lists fewer instances than the connector has
 * tunnels: an instance that restarts or joins gets its share of tunnels
 * within seconds, not at the next minute.
 */
#define INSTANCES_UNSETTLED_MS	3000
#define INSTANCES_AVOID_MS	30000	/* after a failure or a move hint */
#define INSTANCES_FETCH_MS	10000
#define INSTANCES_SLOTS_MAX	16	/* [cloud] tunnels, at most */

struct cloud_instance {
	char		 id[64];
	char		 name[254];	/* the TLS name (SNI) */
	char		 host[254];	/* where to dial */
	unsigned	 port;
	long long	 started;	/* its start, to see a restart */
	bool		 draining;
};

struct instances;

/*
 * Starts: the first fetch, then ready(svc) once it is answered or failed
 * (either way; the tunnels start then), later changed(svc) after each
 * fetch that changes what instances_assign() gives.
 */
struct instances *instances_start(struct service *svc,
    void (*ready)(struct service *), void (*changed)(struct service *));
/* Fetches again now (a fetch under way is not repeated). */
void instances_refresh(struct instances *in);
/* Leaves instance id out of the ranking for INSTANCES_AVOID_MS. */
void instances_avoid(struct instances *in, const char *id);
/*
 * Where each of n tunnels goes: out[i] an instance, or NULL for the
 * [cloud] url (not a cluster, or nothing known yet). current[i] is the
 * instance id tunnel i is on or was last sent to ("" if none): kept when
 * it is still among the chosen.
 */
void instances_assign(struct instances *in, const char *const *current,
    int n, const struct cloud_instance **out);
/* The instances listed now (up and draining), and the i-th of them. */
size_t instances_count(const struct instances *in);
const struct cloud_instance *instances_get(const struct instances *in,
    size_t i);
void instances_free(struct instances *in);

#endif
