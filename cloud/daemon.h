#ifndef UPLINK_CLOUD_DAEMON_H
#define UPLINK_CLOUD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "cloudconf.h"
#include "datadir.h"
#include "enroll.h"
#include "tunnel.h"

/*
 * The running uplink-cloud: one event loop serving the TLS listener
 * (enrollment, renewal and tunnels, cloud/front.c), the plain HTTP listener
 * (CA certificate and CRL, accepted by cloud/front.c, answered by
 * cloud/api.c), the published services
 * (cloud/publish.c) and the ingress proxy (cloud/ingress.c), with the
 * connectors' tunnels kept by cloud/router.c.
 */

struct router;
struct front;
struct publish;
struct ingress;
struct checks;
struct notify;
struct pwverify;

struct cloud {
	struct event_base	*base;
	struct cloud_config	 cfg;
	struct datadir		 dd;
	struct enroll_ctx	 enroll;
	struct tunnel_limits	 lim;
	SSL_CTX			*tls;
	struct evhttp		*api;		/* HTTPS requests, behind front */
	struct evhttp		*http;		/* plain HTTP: /ca.pem, /crl, behind front */
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
	struct checks		*checks;
	struct notify		*notify;
	struct pwverify		*pwverify;
	unsigned		 nofile;	/* the descriptor limit, raised at start */
	struct event		*cert_timer;	/* cloud/servercert.c */
	long			 cert_timer_secs;
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
/* For a request handled by c->http: whether a port-80 relay sent it. */
bool front_http_peer(struct cloud *c, struct evhttp_request *req);
/* Drops the connection of a request no relay sent, without an answer. */
void front_refuse(struct cloud *c, struct evhttp_request *req);

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

/*
 * cloud/status.c: the live state of each connector (the store's row with
 * its tunnels' figures), for status.json and the API.
 */
struct live_conn {
	struct store_connector	 sc;
	char			 site[STORE_NAME_MAX + 1];
	unsigned		 tunnels, draining;
	int			 expected;
	uint64_t		 streams, bytes_in, bytes_out;
	long			 rtt_ms;
	char			 version[32];
	char			 peer[64];
};

struct live_list {
	struct live_conn	*v;
	size_t			 n, cap;
	bool			 revoked_too;
};

/* The connectors of site_id (0: all), revoked ones too if asked. */
int live_collect(struct cloud *c, int64_t site_id, bool revoked_too,
    struct live_list *l, char *err, size_t errlen);
void live_free(struct live_list *l);
/* "online", "degraded", "draining", "offline" or "revoked". */
const char *live_state(const struct live_conn *lc);
/* Online or degraded: it takes streams. */
bool live_serving(const struct live_conn *lc);
/* The connector as status.json and the API show it. */
json_t *live_conn_json(const struct live_conn *lc, int64_t now);

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
/* A published service as it runs. */
struct publish_info {
	char	 name[STORE_NAME_MAX + 1];
	char	 site[STORE_NAME_MAX + 1];
	char	 target[STORE_TARGET_MAX + 1];	/* HOST:PORT in the site */
	char	 listen[STORE_TARGET_MAX + 1];	/* ADDRESS:PORT here */
	bool	 config;		/* from cloud.conf, not the API */
	unsigned connections;		/* caps; 0: [limits] service_connections */
	unsigned connections_per_address;	/* and ..._per_address */
	int64_t	 created_at, updated_at;	/* API ones */
};
/*
 * Starts listening for info; UPLINK_EEXIST when the name is published or
 * the address cannot be listened on, UPLINK_EINVAL when it is malformed
 * (err says what).
 */
int publish_add(struct cloud *c, const struct publish_info *info, char *err,
    size_t errlen);
/* A service of the store as publish_add() takes it. */
void publish_info_from(const struct store_service *s,
    struct publish_info *info);
/* Stops listening; connections already streaming go on. */
int publish_remove(struct cloud *c, const char *name);
bool publish_get(struct cloud *c, const char *name, struct publish_info *out);
void publish_foreach(struct cloud *c, void (*fn)(void *,
    const struct publish_info *), void *arg);
void publish_free(struct publish *p);
int ingress_start(struct cloud *c, char *err, size_t errlen);
void ingress_free(struct ingress *in);
/* Closes the ingress connections of API keys revoked since checked. */
void ingress_sweep_revoked(struct ingress *in);

/*
 * cloud/checks.c: connectivity checks run on connectors on demand
 * (POST /api/v1/connectors/ID/check), after they connect, and every
 * check_interval. done runs once: status 200 with the stored check as
 * JSON, or a failure status (503 offline, 504 timeout, 409 busy, 502)
 * with an error code and message. Returns false when it could not start
 * (done has run).
 */
typedef void checks_done_fn(void *arg, int status, const char *code,
    const char *message, json_t *check);
void checks_run(struct cloud *c, const char *connector, const char *trigger,
    checks_done_fn *done, void *arg);
/* A connector's first tunnel is up: check it soon. */
void checks_connected(struct cloud *c, const char *connector);
int checks_start(struct cloud *c, char *err, size_t errlen);
void checks_free(struct cloud *c);
/* A stored check as the API shows it. */
json_t *checks_json(const struct store_check *k, bool with_report);

/*
 * cloud/notify.c: notifications for the console's bell. A sweep every few
 * seconds opens and resolves the conditions it can see (connector
 * offline, site without redundancy, certificate expiring); the others are
 * raised where they happen.
 */
int notify_start(struct cloud *c, char *err, size_t errlen);
void notify_free(struct cloud *c);
/* Opens (kind, subject) unless it is open already; logs the message. */
void notify_open(struct cloud *c, const char *kind, const char *subject,
    const char *severity, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void notify_resolve(struct cloud *c, const char *kind, const char *subject);

/*
 * cloud/pwverify.c: argon2id password checks on a worker thread. cb runs
 * on the loop with whether pw matches hash (hash NULL: an unknown account,
 * checked at the same cost, never matches). -1: too many are waiting.
 * known: the client's address signed in to this account lately; such
 * checks go first and have places of their own in the queue.
 */
typedef void pwverify_cb(void *arg, bool ok);
int pwverify(struct cloud *c, const char *hash, const char *pw, bool known,
    pwverify_cb *cb, void *arg);
int pwverify_start(struct cloud *c, char *err, size_t errlen);
void pwverify_free(struct cloud *c);

/* "192.0.2.1:443" or "[2001:db8::1]:443", for log lines. */
void cloud_peer_name(const struct sockaddr *sa, char *dst, size_t dstlen);

/*
 * Opens a listening socket for hp (nonblocking, reuseaddr), guarded by
 * cloud_listen_guard(). Free it with cloud_listen_free().
 */
struct evconnlistener *cloud_listen(struct cloud *c, const struct hostport *hp,
    evconnlistener_cb cb, void *arg, const char *what, char *err,
    size_t errlen);
/*
 * On an accept error (out of descriptors above all) lev is paused for
 * 100 ms, doubling to 1 s while errors go on, with a log line at a bounded
 * rate, instead of spinning. what names it in that line.
 */
void cloud_listen_guard(struct cloud *c, struct evconnlistener *lev,
    const char *what);
/* Frees a guarded listener (a pending pause must not outlive it). */
void cloud_listen_free(struct evconnlistener *lev);

#endif
