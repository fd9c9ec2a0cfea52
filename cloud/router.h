#ifndef UPLINK_CLOUD_ROUTER_H
#define UPLINK_CLOUD_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <openssl/x509.h>

#include "store.h"
#include "tunnel.h"

/*
 * cloud/router.c: the connectors' tunnels and the choice among them.
 */

struct cloud;
struct router;

struct router *router_new(struct cloud *c);
void router_free(struct router *r);
/* A TLS connection that negotiated the tunnel protocol; takes bev. */
void router_accept(struct router *r, struct bufferevent *bev, X509 *cert,
    const char *peer);
/*
 * Whose client certificate this is, and whether it may still be used (its
 * connector is not revoked); -1 with why otherwise.
 */
int cloud_cert_owner(struct cloud *c, X509 *cert,
    struct store_cert_owner *owner, char *why, size_t whylen);
/* No new streams to connector (or again); its open streams go on. */
void router_set_drained(struct router *r, const char *connector,
    bool drained);
/*
 * Asks connector "GET path" over one of its tunnels (tunnel_request());
 * -1 when it has no usable tunnel.
 */
int router_request(struct router *r, const char *connector, const char *path,
    int timeout_ms, tunnel_reply_cb *cb, void *arg);
/*
 * Opens a stream to host:port on one of connector's tunnels (tunnel_open()),
 * for the cloud's own use (its log, cloud/logs.c); NULL when it has no
 * usable tunnel.
 */
struct tunnel_stream *router_open(struct router *r, const char *connector,
    const char *host, uint16_t port, tunnel_stream_cb *cb, void *arg);
/*
 * In a cluster, router_request() asks over the peer link to the instance
 * holding the connector's tunnels when it has none here; this one never
 * does (a request that came over a peer link: one hop at most).
 */
int router_request_here(struct router *r, const char *connector,
    const char *path, int timeout_ms, tunnel_reply_cb *cb, void *arg);
/*
 * Closes the tunnels of connectors revoked in the store since last time,
 * and takes in their drained flags (set by another instance or the CLI).
 */
void router_sweep_revoked(struct router *r);
/* Called every half second: gives the heap back after a burst of tunnels. */
void router_settle_heap(struct router *r);
/* A site was renamed: its connectors' tunnels now serve the new name. */
void router_site_renamed(struct router *r, const char *from,
    const char *to);
/* Stops taking streams and closes every tunnel (shutdown). */
void router_shutdown(struct router *r, const char *why);
/* Stops taking streams; tunnels close when their streams are done. */
void router_goaway(struct router *r, const char *why);
/* Tunnels open now. */
size_t router_tunnels(const struct router *r);

/* One tunnel as status reports see it. */
struct router_tunnel {
	const char		*connector;
	const char		*site;
	const char		*peer;
	const char		*version;	/* "" when not known yet */
	int			 expected;	/* tunnels it keeps, 0 unknown */
	struct tunnel_stats	 stats;
	/* Of stats' bytes, and of closed tunnels', what the store lacks. */
	uint64_t		 unsent_in, unsent_out;
};
typedef void router_tunnel_fn(void *arg, const struct router_tunnel *ti);
void router_foreach(struct router *r, router_tunnel_fn *fn, void *arg);
/* The tunnels a connector said it keeps (0 if it never said). */
int router_expected(const struct router *r, const char *connector);

/*
 * A stream to host:port inside site through one of its connectors,
 * retried on another tunnel when one goes away before answering. cb runs
 * once: status 200 with the stream (bind it), or a failure status (502,
 * 503, 504, or the connector's own, such as 403) with code and reason.
 */
struct router_conn;
typedef void router_conn_cb(void *arg, struct tunnel_stream *s, int status,
    const char *code, const char *reason);
struct router_conn *router_connect(struct router *r, const char *site,
    const char *host, uint16_t port, router_conn_cb *cb, void *arg);
/*
 * router_connect() for a stream that came over a peer link (cloud/peer.c):
 * only this instance's tunnels, preferring connector's when it has usable
 * ones here (NULL or "": any of the site's), never another peer.
 */
struct router_conn *router_connect_here(struct router *r, const char *site,
    const char *connector, const char *host, uint16_t port,
    router_conn_cb *cb, void *arg);
/* Gives up on a connect in progress; cb does not run. */
void router_conn_cancel(struct router_conn *rc);

/*
 * Cluster SIGTERM (docs/cluster.md): asks the connector on every tunnel
 * to move ("GET path", /v1/reconnect): it opens a tunnel to another
 * instance first, then drains this one. A tunnel whose connector does not
 * answer 200 within ROUTER_MOVE_MS (one from before clusters answers 404)
 * is sent the GOAWAY why at once, as router_goaway() would.
 */
#define ROUTER_MOVE_MS	5000
void router_move_hint(struct router *r, const char *path, const char *why);

#endif
