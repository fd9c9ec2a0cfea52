#ifndef UPLINK_CLOUD_PEER_H
#define UPLINK_CLOUD_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel.h"

/*
 * cloud/peer.c: the peer links between the instances of a cluster
 * (docs/cluster.md, "Forwarding"). A peer link is one mutually
 * authenticated TLS 1.3 connection (ALPN "uplink-peer/1", both sides
 * presenting an instance certificate from the cloud's CA, made at start)
 * per ordered pair of instances, carrying lib/tunnel's HTTP/2: the
 * instance that dialled opens CONNECT streams (TUNNEL_CLOUD), the other
 * answers them (TUNNEL_CONNECTOR) with its own connectors' tunnels only,
 * so a stream never makes more than one hop.
 *
 * Nothing here runs when the cloud is not a cluster (cluster_enabled()
 * false): peer_start() does nothing and the rest finds no link.
 */

#define PEER_ALPN	"uplink-peer/1"

struct cloud;

/*
 * Issues this instance's certificate, opens [cluster] peer_listen and
 * starts keeping a link to every other live instance. 0, or -1 with err.
 */
int peer_start(struct cloud *c, char *err, size_t errlen);
void peer_free(struct cloud *c);

/*
 * Whether the link to instance is up and can take a stream now.
 */
bool peer_usable(struct cloud *c, const char *instance);

/*
 * Opens a stream to host:port in site over the link to instance, to be
 * carried there by connector (NULL or "": any of the site's). As
 * tunnel_open(): NULL when the link cannot take it now; cb reports the
 * answer (status 200: bind the stream before returning).
 */
struct tunnel_stream *peer_open(struct cloud *c, const char *instance,
    const char *site, const char *connector, const char *host,
    uint16_t port, tunnel_stream_cb *cb, void *arg);

/*
 * Asks connector, whose tunnels are on instance, "GET path" over the link
 * (tunnel_request_for()). -1 when the link cannot take it now.
 */
int peer_request(struct cloud *c, const char *instance, const char *connector,
    const char *path, int timeout_ms, tunnel_reply_cb *cb, void *arg);

/*
 * Streams open on the links this instance dialled: what it forwarded and
 * is still carrying. A stopping instance waits for them as for its
 * tunnels' (cloud/run.c, drain_check_cb()).
 */
size_t peer_streams(struct cloud *c);

#endif
