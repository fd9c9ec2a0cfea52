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
 * are elsewhere could not be forwarded), or EDGE_WAIT_MAX_MS have passed.
 * Once ready it stays so until it stops. HAProxy's health checks use it,
 * so a restarting instance gets traffic only once it is ready.
 */

struct cloud;

#define EDGE_READY_PATH	"/ready"

/* True when ready; else false with why filled. */
bool edge_ready(struct cloud *c, char *why, size_t whylen);

/*
 * In a cluster, the published ports and the ingress proxy accept nothing
 * until the instance is ready (or EDGE_WAIT_MAX_MS have passed): clients
 * that a load balancer sends before its health check noticed a restart
 * wait in the kernel's backlog for a moment instead of being refused a
 * stream that could not be forwarded yet. The listeners are bound, so
 * the ports are taken at start as before.
 */
#define EDGE_WAIT_MAX_MS	10000
void edge_start(struct cloud *c);
void edge_free(struct cloud *c);

#endif
