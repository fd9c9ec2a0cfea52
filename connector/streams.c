#include <sys/resource.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>

#include "access.h"
#include "dial.h"
#include "log.h"
#include "logship.h"
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
	LIST_ENTRY(sconn)	 entry;
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
	log_debug("%s %s:%u: %s", sc->name, sc->host, sc->opts.port, why);
	LIST_REMOVE(sc, entry);
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
	service_count_refused(sc->svc, code);
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
		case DIAL_ENOTALLOWED:
			status = 403, code = "not-allowed";
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
		service_count_refused(sc->svc, "internal");
		tunnel_stream_refuse(s, 502, "internal", "out of memory");
		return;
	}
	tunnel_stream_accept(s, bev);
}

/*
 * Resolve-then-check: an allowed name is dialled only at the addresses the
 * access list does not refuse (access_allows_addr(): not inside an address
 * entry for another port, not unspecified, link-local, multicast or
 * broadcast), so a name cannot lead where an address would be refused.
 */
static bool
sconn_addr_ok(void *arg, const struct sockaddr *sa, char *why, size_t whylen)
{
	struct sconn	*sc = arg;

	if (access_allows_addr(sc->cfg->c.access, sa, why, whylen))
		return true;
	log_info("%s %s:%u: not dialling this address: %s", sc->name,
	    sc->host, sc->opts.port, why);
	return false;
}

uint32_t
streams_cap(const struct service *svc, unsigned long *fdlimit)
{
	struct rlimit	 rl;
	uint32_t	 cap = (uint32_t)svc->cfg->c.max_streams;

	*fdlimit = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		*fdlimit = (unsigned long)rl.rlim_cur;
		if (rl.rlim_cur <= STREAMS_FD_RESERVE + 1)
			return 1;
		if (rl.rlim_cur - STREAMS_FD_RESERVE < cap)
			cap = (uint32_t)(rl.rlim_cur - STREAMS_FD_RESERVE);
	}
	return cap;
}

/*
 * The cap on connections the cloud holds open through this connector. A
 * client of a published service could otherwise open streams until the
 * connector has no descriptor left, and then every other client and the
 * connector's own check fail. GET requests (checks, info) do not pass
 * here, and the descriptors they need are kept out of the cap.
 */
static bool
stream_room(struct service *svc, struct tunnel_stream *s, const char *host,
    uint16_t port)
{
	unsigned long	 fdlimit;
	uint32_t	 cap = streams_cap(svc, &fdlimit), open;
	char		 why[400];

	/* The stream being asked for is already counted; the log's are not. */
	open = tunnels_streams(svc) - logship_streams();
	if (open <= cap)
		return true;
	snprintf(why, sizeof(why), "the connector already has %u connections "
	    "open, its limit ([run] max_streams = %d in %s, descriptor limit "
	    "%lu less %d kept for checks): %s:%u refused; raise max_streams "
	    "or find the client holding them", open - 1,
	    svc->cfg->c.max_streams, svc->cfg->c.path, fdlimit,
	    STREAMS_FD_RESERVE, host, port);
	service_count_refused(svc, "busy");
	tunnel_stream_refuse(s, 503, "busy", why);
	return false;
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
		service_count_refused(svc, "not-allowed");
		tunnel_stream_refuse(s, 403, "not-allowed", why);
		return false;
	}
	route_decide(&cfg->routes, host, port, &r);
	if (r.kind == ROUTE_PROXY && !cfg->via_proxy) {
		snprintf(why, sizeof(why), "%s:%u would be reached through the "
		    "proxy %s (no bypass entry matches it): add it to [proxy] "
		    "bypass, or set [access] via_proxy = yes in %s", host, port,
		    r.proxy->url, cfg->path);
		service_count_refused(svc, "via-proxy");
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
	/* The cloud collecting our log: never dialled (connector/logship.c). */
	if (strcmp(host, LOGSHIP_HOST) == 0) {
		logship_request(svc->base, s, port);
		return;
	}
	if (!stream_allowed(svc, s, host, port) ||
	    !stream_room(svc, s, host, port))
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
	sc->opts.addr_ok = sconn_addr_ok;
	sc->opts.addr_arg = sc;
	LIST_INSERT_HEAD(&svc->conns, sc, entry);
	tunnel_stream_set_cb(s, sconn_abort_cb, sc);
	sc->d = dial_start(svc->base, svc->dns, &sc->opts, NULL, sconn_dialed,
	    sc);
}

void
streams_free(struct service *svc)
{
	while (!LIST_EMPTY(&svc->conns))
		sconn_close(LIST_FIRST(&svc->conns),
		    "the connector is stopping");
}
