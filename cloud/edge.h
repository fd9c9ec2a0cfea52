#ifndef UPLINK_CLOUD_EDGE_H
#define UPLINK_CLOUD_EDGE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * cloud/edge.c: this instance as a load balancer sees it
 * (docs/cluster.md, "HAProxy"). GET /ready on the plain HTTP listener
 * answers 200 when the instance can carry what is sent to it, 503 with
 * the reason otherwise: while it stops, and in a cluster until it has
 * read the fleet from the store and has a peer link to every other
 * instance that is up (before that, a stream for a site whose tunnels
 * are elsewhere could not be forwarded). HAProxy's health checks use it,
 * so a restarting instance gets traffic only once it is ready.
 */

struct cloud;

#define EDGE_READY_PATH	"/ready"

/* True when ready; else false with why filled. */
bool edge_ready(struct cloud *c, char *why, size_t whylen);

#endif
