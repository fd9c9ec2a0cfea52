#ifndef UPLINK_CLOUD_DAEMON_H
#define UPLINK_CLOUD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "cloudconf.h"
#include "datadir.h"
#include "enroll.h"
#include "tunnel.h"

/*
 * The running uplink-cloud: one event loop serving the TLS listener
 * (enrollment, renewal and tunnels, cloud/front.c), the plain HTTP listener
 * (CA certificate and CRL, cloud/api.c), the published services
 * (cloud/publish.c) and the ingress proxy (cloud/ingress.c), with the
 * connectors' tunnels kept by cloud/router.c.
 */

struct router;
struct front;
struct publish;
struct ingress;

struct cloud {
	struct event_base	*base;
	struct cloud_config	 cfg;
	struct datadir		 dd;
	struct enroll_ctx	 enroll;
	struct tunnel_limits	 lim;
	SSL_CTX			*tls;
	struct evhttp		*api;		/* HTTPS requests, behind front */
	struct evhttp		*http;		/* plain HTTP: /ca.pem, /crl */
	struct buf		 ca_pem;
	struct buf		 crl_der;
	struct router		*router;
	struct front		*front;
	struct publish		*publish;
	struct ingress		*ingress;
	struct event		*sig_term, *sig_int, *sig_hup, *watch, *crl_timer;
	struct event		*status_timer, *drain_timer, *drain_check;
	int64_t			 data_version;
	bool			 stopping;
};

/* cloud/front.c: the TLS listener and the dispatch by ALPN. */
/* The server's TLS context: certificate chain, key, client CA, ALPN. */
SSL_CTX *front_tls_ctx(struct cloud *c, char *err, size_t errlen);
int front_start(struct cloud *c, char *err, size_t errlen);
void front_free(struct front *f);
/*
 * For an HTTPS request handled by c->api: the client's address and its
 * verified certificate (NULL if it sent none). Returns false for a request
 * that did not come through the TLS front.
 */
bool front_peer(struct cloud *c, struct evhttp_request *req,
    const char **addr, X509 **cert);

/* cloud/api.c: the HTTP handlers. */
int api_start(struct cloud *c, char *err, size_t errlen);
/* Rebuilds the CRL from the store (after a revocation). */
int api_crl_refresh(struct cloud *c, char *err, size_t errlen);

/* cloud/router.c: the connectors' tunnels and the choice among them. */
struct router *router_new(struct cloud *c);
void router_free(struct router *r);
/* A TLS connection that negotiated the tunnel protocol; takes bev. */
void router_accept(struct router *r, struct bufferevent *bev, X509 *cert,
    const char *peer);
/* Closes the tunnels of connectors revoked in the store since last time. */
void router_sweep_revoked(struct router *r);
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
};
typedef void router_tunnel_fn(void *arg, const struct router_tunnel *ti);
void router_foreach(struct router *r, router_tunnel_fn *fn, void *arg);
/* The tunnels a connector said it keeps (0 if it never said). */
int router_expected(const struct router *r, const char *connector);

/* cloud/status.c: DATA_DIR/status.json, rewritten every second. */
int status_start(struct cloud *c, char *err, size_t errlen);
void status_write(struct cloud *c);
/* Removes the file at a clean exit: "status" then says it is not running. */
void status_remove(struct cloud *c);

/* Stop accepting new connections (at shutdown). */
void front_stop(struct front *f);
void publish_stop(struct publish *p);
void ingress_stop(struct ingress *in);

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
/* Gives up on a connect in progress; cb does not run. */
void router_conn_cancel(struct router_conn *rc);

/* cloud/publish.c and cloud/ingress.c. */
int publish_start(struct cloud *c, char *err, size_t errlen);
void publish_free(struct publish *p);
int ingress_start(struct cloud *c, char *err, size_t errlen);
void ingress_free(struct ingress *in);

/* "192.0.2.1:443" or "[2001:db8::1]:443", for log lines. */
void cloud_peer_name(const struct sockaddr *sa, char *dst, size_t dstlen);

/* Opens a listening socket for hp (nonblocking, reuseaddr). */
struct evconnlistener *cloud_listen(struct cloud *c, const struct hostport *hp,
    evconnlistener_cb cb, void *arg, const char *what, char *err,
    size_t errlen);

#endif
