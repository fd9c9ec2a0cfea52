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
 * (CA certificate and CRL, accepted by cloud/front.c, answered by
 * cloud/api.c), the published services
 * (cloud/publish.c) and the ingress proxy (cloud/ingress.c), with the
 * connectors' tunnels kept by cloud/router.c.
 *
 * This header is the daemon's state (struct cloud) and its listeners
 * (cloud/run.c); each module has its own header: front.h, api.h, router.h,
 * status.h, publish.h, ingress.h, checks.h, notify.h, pwverify.h,
 * servercert.h, cluster.h.
 */

struct router;
struct front;
struct publish;
struct ingress;
struct checks;
struct notify;
struct alerts;
struct pwverify;
struct cluster;
struct logs;
struct events;
struct peers;

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
	struct alerts		*alerts;	/* cloud/alerts.c */
	struct pwverify		*pwverify;
	unsigned		 nofile;	/* the descriptor limit, raised at start */
	struct event		*cert_timer;	/* cloud/servercert.c */
	struct logs		*logs;		/* cloud/logs.c */
	struct events		*events;	/* cloud/events.c */
	long			 cert_timer_secs;
	struct cluster		*cluster;	/* cloud/cluster.c */
	struct peers		*peers;		/* cloud/peer.c */
};

/*
 * Opens a listening socket for hp (nonblocking, reuseaddr), guarded by
 * cloud_listen_guard(). Free it with cloud_listen_free().
 */
struct evconnlistener *cloud_listen(struct cloud *c, const struct hostport *hp,
    evconnlistener_cb cb, void *arg, const char *what, char *err,
    size_t errlen);
/*
 * cloud_listen() with flags from cloud/proxygate.h: LISTEN_PROXY (a PROXY
 * protocol gate when [cluster] proxy_from is set), LISTEN_CLIENT_FIRST,
 * LISTEN_REUSEPORT (SO_REUSEPORT when cloud_reuseport()).
 */
struct evconnlistener *cloud_listen_ext(struct cloud *c,
    const struct hostport *hp, int flags, evconnlistener_cb cb, void *arg,
    const char *what, char *err, size_t errlen);
/* [cluster] reuseport, or by default whether this is a cluster. */
bool cloud_reuseport(const struct cloud *c);
/*
 * On an accept error (out of descriptors above all) lev is paused for
 * 100 ms, doubling to 1 s while errors go on, with a log line at a bounded
 * rate, instead of spinning. what names it in that line.
 */
void cloud_listen_guard(struct cloud *c, struct evconnlistener *lev,
    const char *what);
/* Frees a guarded listener (a pending pause must not outlive it). */
void cloud_listen_free(struct evconnlistener *lev);
/*
 * At shutdown: accepts what the kernel has queued on lev (made by
 * cloud_listen_ext()) and hands it to its callback, then frees it.
 */
void cloud_listen_close(struct evconnlistener *lev);

#endif
