#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>

#include "access.h"
#include "dial.h"
#include "log.h"
#include "proxy.h"
#include "service.h"
#include "xmalloc.h"

/*
 * The streams the cloud opens. Each is checked against the access list
 * (default: nothing allowed) and the route decision: an internal target
 * normally matches the bypass list and is dialled directly; one that would
 * go through the proxy is refused unless [access] via_proxy = yes. Then
 * the target is dialled with the same dialer as everything else and the
 * stream is answered 200 and bound to the socket, or refused with the
 * reason (403, 502, 504).
 */

#define STREAM_DIAL_MS	10000

struct sconn {
	struct service		*svc;
	struct sconn		*prev, *next;
	struct svc_config	*cfg;
	struct tunnel_stream	*s;
	struct dial		*d;
	struct dial_opts	 opts;
	char			 host[TUNNEL_HOST_MAX + 1];
	char			 name[48];
	long			 started;
};

/*
 * The one place a stream being dialled ends, whatever the outcome (bound,
 * refused, abandoned by the cloud, the connector stopping); why is logged
 * with the stream's name, which is its connection id.
 */
static void
sconn_close(struct sconn *sc, const char *why)
{
	struct service	*svc = sc->svc;

	log_debug("%s %s:%u: %s", sc->name, sc->host, sc->opts.port, why);
	if (sc->prev != NULL)
		sc->prev->next = sc->next;
	else
		svc->conns = sc->next;
	if (sc->next != NULL)
		sc->next->prev = sc->prev;
	if (sc->d != NULL)
		dial_cancel(sc->d);
	if (sc->s != NULL)
		tunnel_stream_set_cb(sc->s, NULL, NULL);
	svc_config_unref(sc->cfg);
	free(sc);
}

/* The cloud gave up on the stream before we answered it. */
static void
sconn_abort_cb(void *arg, struct tunnel_stream *s, int status,
    const char *code, const char *reason)
{
	struct sconn	*sc = arg;

	char		 why[TUNNEL_REASON_MAX + 32];

	(void)s;
	(void)status;
	(void)code;
	snprintf(why, sizeof(why), "abandoned by the cloud: %s", reason);
	sconn_close(sc, why);
}

static void
sconn_refuse(struct sconn *sc, int status, const char *code, const char *why)
{
	struct tunnel_stream	*s = sc->s;

	sc->s = NULL;
	tunnel_stream_set_cb(s, NULL, NULL);
	tunnel_stream_refuse(s, status, code, why);
}

static void
sconn_dialed(void *arg, struct dial_result *res)
{
	struct sconn		*sc = arg;
	struct tunnel_stream	*s = sc->s;
	struct bufferevent	*bev;
	int			 status;
	const char		*code;
	char			 why[600];	/* res->detail and more */

	sc->d = NULL;
	if (res->error != DIAL_OK) {
		switch (res->error) {
		case DIAL_EDNS:
			status = 502, code = "dns";
			break;
		case DIAL_ETCP:
			status = 502, code = "refused";
			break;
		case DIAL_ETIMEOUT:
			status = 504, code = "timeout";
			break;
		default:
			status = 502, code = "proxy";
			break;
		}
		snprintf(why, sizeof(why), "refused: %d %s: %s", status, code,
		    res->detail);
		sconn_refuse(sc, status, code, res->detail);
		sconn_close(sc, why);
		return;
	}
	bev = bufferevent_socket_new(sc->svc->base, res->fd,
	    BEV_OPT_CLOSE_ON_FREE);
	log_debug("%s %s:%u: connected to %s in %ld ms", sc->name, sc->host,
	    sc->opts.port, res->peer, dial_now_ms() - sc->started);
	tunnel_stream_set_cb(s, NULL, NULL);
	sc->s = NULL;
	sconn_close(sc, "dialled: the stream carries it now");
	if (bev == NULL) {
		tunnel_stream_refuse(s, 502, "internal", "out of memory");
		return;
	}
	tunnel_stream_accept(s, bev);
}

/* Whether the cloud may reach host:port, and how; refuses if not. */
static bool
stream_allowed(struct service *svc, struct tunnel_stream *s, const char *host,
    uint16_t port)
{
	const struct connector_config	*cfg = &svc->cfg->c;
	struct route			 r;
	char				 why[512];

	if (!access_allows(cfg->access, host, port, NULL)) {
		snprintf(why, sizeof(why), "%s:%u is not in the connector's "
		    "access list ([access] allow in %s)", host, port, cfg->path);
		tunnel_stream_refuse(s, 403, "not-allowed", why);
		return false;
	}
	route_decide(&cfg->routes, host, port, &r);
	if (r.kind == ROUTE_PROXY && !cfg->via_proxy) {
		snprintf(why, sizeof(why), "%s:%u would be reached through the "
		    "proxy %s (no bypass entry matches it): add it to [proxy] "
		    "bypass, or set [access] via_proxy = yes in %s", host, port,
		    r.proxy->url, cfg->path);
		tunnel_stream_refuse(s, 403, "via-proxy", why);
		return false;
	}
	return true;
}

void
streams_request(struct service *svc, struct tunnel *t,
    struct tunnel_stream *s, const char *host, uint16_t port)
{
	struct sconn	*sc;

	(void)t;
	if (!stream_allowed(svc, s, host, port))
		return;
	sc = xcalloc(1, sizeof(*sc));
	sc->svc = svc;
	sc->cfg = svc_config_ref(svc->cfg);
	sc->s = s;
	sc->started = dial_now_ms();
	snprintf(sc->host, sizeof(sc->host), "%s", host);
	snprintf(sc->name, sizeof(sc->name), "%s", tunnel_stream_name(s));
	sc->opts.host = sc->host;
	sc->opts.port = port;
	sc->opts.routes = &sc->cfg->c.routes;
	sc->opts.timeout_ms = STREAM_DIAL_MS;
	sc->opts.id = sc->name;
	sc->next = svc->conns;
	if (svc->conns != NULL)
		svc->conns->prev = sc;
	svc->conns = sc;
	tunnel_stream_set_cb(s, sconn_abort_cb, sc);
	sc->d = dial_start(svc->base, svc->dns, &sc->opts, NULL, sconn_dialed,
	    sc);
}

void
streams_free(struct service *svc)
{
	while (svc->conns != NULL)
		sconn_close(svc->conns, "the connector is stopping");
}
