#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "addrcount.h"
#include "daemon.h"
#include "error.h"
#include "front.h"
#include "hostport.h"
#include "log.h"
#include "proxygate.h"
#include "publish.h"
#include "router.h"
#include "xmalloc.h"

/*
 * Published services: each [publish NAME] of cloud.conf, and each service
 * made through the API (kept in the store), listens on an address of the
 * cloud, and every connection accepted there becomes a stream to the
 * service's target through a connector of its site. API services come and
 * go while the daemon runs (publish_add, publish_remove). Nothing is read from
 * the client until the connector has reached the target; a refusal or a
 * failure closes the client's connection, and the reason is logged here.
 *
 * A connection ("p12" in the log) lives until its socket is closed, bound
 * to its stream or not (tunnel_stream_on_gone() says when the stream is
 * gone), and ends in pub_close() with the reason. So each service counts
 * its open connections, in all and per client address, and refuses the
 * ones over its caps ([limits] service_connections and
 * service_connections_per_address, or the service's own connections and
 * connections_per_address): one client cannot take every descriptor of
 * the cloud or of the connector behind it.
 */

#define PUB_LOG_BURST	5	/* refusal lines per PUB_LOG_MS and service */
#define PUB_LOG_MS	10000

struct pub_service {
	struct publish		*p;
	struct pub_service	*next;
	struct publish_info	 info;
	struct hostport		 target_hp;
	struct evconnlistener	*lev;
	struct addrcount	*open;		/* connections, per address */
	unsigned		 max, max_per_addr;
	struct log_rate		 refuse_log;
	uint64_t		 refused;
};

struct pub_conn {
	struct publish		*p;
	struct pub_service	*svc;		/* NULL once it was removed */
	LIST_ENTRY(pub_conn)	 entry;
	evutil_socket_t		 fd;		/* until bound, else -1 */
	struct router_conn	*rc;		/* reaching a connector */
	struct tunnel_stream	*s;		/* bound: it owns the socket */
	struct sockaddr_storage	 sa;		/* counted in svc->open */
	unsigned long		 id;
	char			 name[STORE_NAME_MAX + 1];	/* service */
	char			 where[STORE_TARGET_MAX + STORE_NAME_MAX + 16];
	char			 peer[64];
};

struct publish {
	struct cloud		*c;
	struct pub_service	*svc;
	LIST_HEAD(, pub_conn)	 conns;
	unsigned long		 next_id;
};

/* The reason of a stream's ordinary end, logged at debug level only. */
static const char pub_done[] = "the stream ended";

/*
 * The one place a connection ends: its socket, its connect in progress or
 * its stream go, its slot is given back, and why is logged with its id.
 */
static void
pub_close(struct pub_conn *pc, const char *why)
{
	if (why == pub_done)
		log_debug("publish %s: %s -> %s: %s; closing the client's "
		    "connection (p%lu)", pc->name, pc->peer, pc->where, why,
		    pc->id);
	else
		log_info("publish %s: %s -> %s: %s; closing the client's "
		    "connection (p%lu)", pc->name, pc->peer, pc->where, why,
		    pc->id);
	LIST_REMOVE(pc, entry);
	if (pc->rc != NULL)
		router_conn_cancel(pc->rc);
	if (pc->s != NULL) {
		tunnel_stream_on_gone(pc->s, NULL, NULL);
		tunnel_stream_close(pc->s, why);
	}
	if (pc->fd != -1)
		evutil_closesocket(pc->fd);
	if (pc->svc != NULL)
		addrcount_release(pc->svc->open, (struct sockaddr *)&pc->sa);
	free(pc);
}

/* The stream that owned the socket is gone: so is the connection. */
static void
pub_gone(void *arg)
{
	struct pub_conn	*pc = arg;

	pc->s = NULL;
	pub_close(pc, pub_done);
}

static void
pub_answer_cb(void *arg, struct tunnel_stream *s, int status,
    const char *code, const char *reason)
{
	struct pub_conn		*pc = arg;
	struct bufferevent	*bev;
	char			 why[TUNNEL_REASON_MAX + 64];

	pc->rc = NULL;
	if (status != 200) {
		snprintf(why, sizeof(why), "%d %s: %s", status, code, reason);
		pub_close(pc, why);
		return;
	}
	bev = bufferevent_socket_new(pc->p->c->base, pc->fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		/* Left unbound, the stream is reset by the tunnel. */
		pub_close(pc, "out of memory");
		return;
	}
	log_debug("publish %s: %s -> %s via %s (p%lu)", pc->name, pc->peer,
	    pc->svc != NULL ? pc->svc->info.target : pc->where,
	    tunnel_stream_name(s), pc->id);
	pc->fd = -1;
	pc->s = s;
	tunnel_stream_on_gone(s, pub_gone, pc);
	tunnel_stream_bind(s, bev);
}

/* Over a cap: closed at once, counted, logged at a bounded rate. */
static void
pub_refuse(struct pub_service *svc, evutil_socket_t fd, struct sockaddr *sa)
{
	char		 peer[64];
	unsigned	 dropped, n = addrcount_get(svc->open, sa);

	svc->refused++;
	evutil_closesocket(fd);
	if (!log_rate_allow(&svc->refuse_log, PUB_LOG_BURST, PUB_LOG_MS,
	    &dropped))
		return;
	cloud_peer_name(sa, peer, sizeof(peer));
	if (n >= svc->max_per_addr)
		log_warnx("publish %s: refused a connection from %s: it has %u "
		    "open (connections_per_address = %u); %llu refused in "
		    "all%s", svc->info.name, peer, n, svc->max_per_addr,
		    (unsigned long long)svc->refused, dropped ? " (some "
		    "refusals were not logged)" : "");
	else
		log_warnx("publish %s: refused a connection from %s: the "
		    "service has %u open (connections = %u); %llu refused in "
		    "all%s", svc->info.name, peer, addrcount_total(svc->open),
		    svc->max, (unsigned long long)svc->refused, dropped ?
		    " (some refusals were not logged)" : "");
}

static void
pub_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct pub_service	*svc = arg;
	struct publish		*p = svc->p;
	struct pub_conn		*pc;

	(void)lev;
	if (addrcount_take(svc->open, sa) != 0) {
		pub_refuse(svc, fd, sa);
		return;
	}
	pc = xcalloc(1, sizeof(*pc));
	pc->p = p;
	pc->svc = svc;
	pc->fd = fd;
	pc->id = ++p->next_id;
	if ((size_t)salen <= sizeof(pc->sa))
		memcpy(&pc->sa, sa, (size_t)salen);
	snprintf(pc->name, sizeof(pc->name), "%s", svc->info.name);
	snprintf(pc->where, sizeof(pc->where), "%s (site %s)",
	    svc->info.target, svc->info.site);
	cloud_peer_name(sa, pc->peer, sizeof(pc->peer));
	LIST_INSERT_HEAD(&p->conns, pc, entry);
	pc->rc = router_connect(p->c->router, svc->info.site,
	    svc->target_hp.host, svc->target_hp.port, pub_answer_cb, pc);
}

/* Opens svc's listener; the caller links it in. */
static int
svc_listen(struct publish *p, struct pub_service *svc, char *err,
    size_t errlen)
{
	struct hostport	 listen;
	char		 what[128], why[256];

	if (hostport_parse(svc->info.listen, 0, &listen, why, sizeof(why)) !=
	    UPLINK_OK || listen.port == 0) {
		snprintf(err, errlen, "listen \"%s\": %s", svc->info.listen,
		    listen.port == 0 ? "give ADDRESS:PORT" : why);
		return UPLINK_EINVAL;
	}
	if (hostport_parse(svc->info.target, 0, &svc->target_hp, why,
	    sizeof(why)) != UPLINK_OK || svc->target_hp.port == 0) {
		snprintf(err, errlen, "target \"%s\": %s", svc->info.target,
		    svc->target_hp.port == 0 ? "give HOST:PORT" : why);
		return UPLINK_EINVAL;
	}
	svc->max = svc->info.connections ? svc->info.connections :
	    p->c->cfg.service_connections;
	svc->max_per_addr = svc->info.connections_per_address ?
	    svc->info.connections_per_address : p->c->cfg.service_per_address;
	svc->open = addrcount_new(svc->max_per_addr, svc->max);
	snprintf(what, sizeof(what), "service %s", svc->info.name);
	svc->lev = cloud_listen_ext(p->c, &listen, LISTEN_PROXY |
	    LISTEN_REUSEPORT, pub_accept_cb, svc, what, err, errlen);
	if (svc->lev == NULL)
		return UPLINK_EEXIST;
	log_info("publish %s: listening on %s for %s in site %s (%s)",
	    svc->info.name, svc->info.listen, svc->info.target, svc->info.site,
	    svc->info.config ? "cloud.conf" : "API");
	return UPLINK_OK;
}

static struct pub_service *
svc_find(struct publish *p, const char *name)
{
	struct pub_service	*svc;

	for (svc = p->svc; svc != NULL; svc = svc->next)
		if (strcasecmp(svc->info.name, name) == 0)
			return svc;
	return NULL;
}

int
publish_add(struct cloud *c, const struct publish_info *info, char *err,
    size_t errlen)
{
	struct publish		*p = c->publish;
	struct pub_service	*svc;
	int			 rc;

	if (svc_find(p, info->name) != NULL) {
		snprintf(err, errlen, "a service named \"%s\" is published "
		    "already", info->name);
		return UPLINK_EEXIST;
	}
	svc = xcalloc(1, sizeof(*svc));
	svc->p = p;
	svc->info = *info;
	rc = svc_listen(p, svc, err, errlen);
	if (rc != UPLINK_OK) {
		addrcount_free(svc->open);
		free(svc);
		return rc;
	}
	svc->next = p->svc;
	p->svc = svc;
	return UPLINK_OK;
}

/*
 * Connections of svc still waiting for a connector are closed; those that
 * stream go on, no longer counted.
 */
static void
svc_free(struct publish *p, struct pub_service *svc)
{
	struct pub_conn	*pc, *next;

	for (pc = LIST_FIRST(&p->conns); pc != NULL; pc = next) {
		next = LIST_NEXT(pc, entry);
		if (pc->svc != svc)
			continue;
		if (pc->s == NULL)
			pub_close(pc, "the service was removed");
		else
			pc->svc = NULL;
	}
	if (svc->lev != NULL)
		cloud_listen_free(svc->lev);
	addrcount_free(svc->open);
	free(svc);
}

int
publish_remove(struct cloud *c, const char *name)
{
	struct publish		*p = c->publish;
	struct pub_service	**pp, *svc;

	for (pp = &p->svc; *pp != NULL; pp = &(*pp)->next) {
		if (strcasecmp((*pp)->info.name, name) != 0)
			continue;
		svc = *pp;
		*pp = svc->next;
		log_info("publish %s: stopped listening on %s", svc->info.name,
		    svc->info.listen);
		svc_free(p, svc);
		return UPLINK_OK;
	}
	return UPLINK_ENOTFOUND;
}

bool
publish_get(struct cloud *c, const char *name, struct publish_info *out)
{
	struct pub_service	*svc = svc_find(c->publish, name);

	if (svc != NULL)
		*out = svc->info;
	return svc != NULL;
}

void
publish_foreach(struct cloud *c, void (*fn)(void *, const struct
    publish_info *), void *arg)
{
	struct pub_service	*svc;

	for (svc = c->publish->svc; svc != NULL; svc = svc->next)
		fn(arg, &svc->info);
}

void
publish_info_from(const struct store_service *s, struct publish_info *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", s->name);
	snprintf(info->site, sizeof(info->site), "%s", s->site);
	snprintf(info->target, sizeof(info->target), "%s", s->target);
	snprintf(info->listen, sizeof(info->listen), "%s", s->listen);
	info->created_at = s->created_at;
	info->updated_at = s->updated_at;
}

static int
stored_cb(void *arg, const struct store_service *s)
{
	struct cloud		*c = arg;
	struct publish_info	 info;
	char			 err[512];

	publish_info_from(s, &info);
	if (publish_add(c, &info, err, sizeof(err)) != UPLINK_OK)
		log_warnx("publish %s (made through the API): not published: "
		    "%s; change or delete it in the console", s->name, err);
	return 0;
}

int
publish_start(struct cloud *c, char *err, size_t errlen)
{
	const struct cloud_publish	*conf;
	struct publish_info		 info;
	size_t				 i;

	c->publish = xcalloc(1, sizeof(*c->publish));
	c->publish->c = c;
	for (i = 0; i < c->cfg.npublish; i++) {
		conf = &c->cfg.publish[i];
		memset(&info, 0, sizeof(info));
		info.config = true;
		snprintf(info.name, sizeof(info.name), "%s", conf->name);
		snprintf(info.site, sizeof(info.site), "%s", conf->site);
		hostport_format(info.target, sizeof(info.target),
		    conf->target.host, conf->target.port);
		hostport_format(info.listen, sizeof(info.listen),
		    conf->listen.host, conf->listen.port);
		info.connections = conf->connections;
		info.connections_per_address = conf->connections_per_address;
		if (publish_add(c, &info, err, errlen) != UPLINK_OK) {
			if (strncmp(err, "service ", 8) == 0) {
				char	 tmp[512];

				snprintf(tmp, sizeof(tmp), "[publish %s] listen%s",
				    conf->name, strchr(err, ':'));
				snprintf(err, errlen, "%s", tmp);
			}
			return -1;
		}
	}
	return store_service_list(c->dd.st, stored_cb, c, err, errlen) ==
	    UPLINK_OK ? 0 : -1;
}

void
publish_free(struct publish *p)
{
	struct pub_service	*svc;
	struct pub_conn		*pc;

	if (p == NULL)
		return;
	while ((svc = p->svc) != NULL) {
		p->svc = svc->next;
		svc_free(p, svc);
	}
	while ((pc = LIST_FIRST(&p->conns)) != NULL) {
		/* Streams are the router's to end at shutdown. */
		if (pc->s != NULL) {
			tunnel_stream_on_gone(pc->s, NULL, NULL);
			pc->s = NULL;
		}
		pub_close(pc, "the cloud is stopping");
	}
	free(p);
}

void
publish_stop(struct publish *p)
{
	struct pub_service	*svc;

	/*
	 * Closed, not paused: a load balancer in front of several instances
	 * is refused at once and tries another, instead of waiting in a
	 * backlog that nobody accepts any more.
	 */
	for (svc = p != NULL ? p->svc : NULL; svc != NULL; svc = svc->next) {
		cloud_listen_close(svc->lev);
		svc->lev = NULL;
	}
}

void
publish_accepting(struct publish *p, bool on)
{
	struct pub_service	*svc;

	for (svc = p != NULL ? p->svc : NULL; svc != NULL; svc = svc->next) {
		if (svc->lev == NULL)
			continue;
		if (on)
			evconnlistener_enable(svc->lev);
		else
			evconnlistener_disable(svc->lev);
	}
}
