#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "daemon.h"
#include "hostport.h"
#include "log.h"
#include "xmalloc.h"

/*
 * Published services: each [publish NAME] listens on an address of the
 * cloud, and every connection accepted there becomes a stream to the
 * section's target through a connector of its site. Nothing is read from
 * the client until the connector has reached the target; a refusal or a
 * failure closes the client's connection, and the reason is logged here.
 */

struct pub_service {
	struct publish		*p;
	const struct cloud_publish *conf;
	struct evconnlistener	*lev;
	char			 target[TUNNEL_HOST_MAX + 8];
};

struct pub_conn {
	struct pub_service	*svc;
	struct pub_conn		*prev, *next;
	evutil_socket_t		 fd;
	struct router_conn	*rc;
	char			 peer[64];
};

struct publish {
	struct cloud		*c;
	struct pub_service	*svc;
	size_t			 nsvc;
	struct pub_conn		*conns;
};

static void
pub_conn_free(struct pub_conn *pc, bool close_fd)
{
	struct publish	*p = pc->svc->p;

	if (pc->prev != NULL)
		pc->prev->next = pc->next;
	else
		p->conns = pc->next;
	if (pc->next != NULL)
		pc->next->prev = pc->prev;
	if (close_fd)
		close(pc->fd);
	free(pc);
}

static void
pub_answer_cb(void *arg, struct tunnel_stream *s, int status,
    const char *code, const char *reason)
{
	struct pub_conn		*pc = arg;
	struct pub_service	*svc = pc->svc;
	struct bufferevent	*bev;

	pc->rc = NULL;
	if (status != 200) {
		log_info("publish %s: %s -> %s (site %s): %d %s: %s; closing "
		    "the client's connection", svc->conf->name, pc->peer,
		    svc->target, svc->conf->site, status, code, reason);
		pub_conn_free(pc, true);
		return;
	}
	bev = bufferevent_socket_new(svc->p->c->base, pc->fd,
	    BEV_OPT_CLOSE_ON_FREE);
	log_debug("publish %s: %s -> %s via %s", svc->conf->name, pc->peer,
	    svc->target, tunnel_stream_name(s));
	pub_conn_free(pc, bev == NULL);
	if (bev != NULL)
		tunnel_stream_bind(s, bev);
}

static void
pub_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct pub_service	*svc = arg;
	struct publish		*p = svc->p;
	struct pub_conn		*pc;

	(void)lev;
	(void)salen;
	pc = xcalloc(1, sizeof(*pc));
	pc->svc = svc;
	pc->fd = fd;
	cloud_peer_name(sa, pc->peer, sizeof(pc->peer));
	pc->next = p->conns;
	if (p->conns != NULL)
		p->conns->prev = pc;
	p->conns = pc;
	pc->rc = router_connect(p->c->router, svc->conf->site,
	    svc->conf->target.host, svc->conf->target.port, pub_answer_cb, pc);
}

int
publish_start(struct cloud *c, char *err, size_t errlen)
{
	struct publish		*p;
	struct pub_service	*svc;
	char			 what[128];
	size_t			 i;

	p = xcalloc(1, sizeof(*p));
	p->c = c;
	c->publish = p;
	p->svc = xcalloc(c->cfg.npublish + 1, sizeof(*p->svc));
	for (i = 0; i < c->cfg.npublish; i++) {
		svc = &p->svc[i];
		svc->p = p;
		svc->conf = &c->cfg.publish[i];
		hostport_format(svc->target, sizeof(svc->target),
		    svc->conf->target.host, svc->conf->target.port);
		snprintf(what, sizeof(what), "[publish %s] listen",
		    svc->conf->name);
		svc->lev = cloud_listen(c, &svc->conf->listen, pub_accept_cb,
		    svc, what, err, errlen);
		if (svc->lev == NULL)
			return -1;
		p->nsvc++;
		log_info("publish %s: listening on %s:%u for %s in site %s",
		    svc->conf->name, svc->conf->listen.host,
		    svc->conf->listen.port, svc->target, svc->conf->site);
	}
	return 0;
}

void
publish_free(struct publish *p)
{
	size_t	 i;

	if (p == NULL)
		return;
	while (p->conns != NULL) {
		if (p->conns->rc != NULL)
			router_conn_cancel(p->conns->rc);
		pub_conn_free(p->conns, true);
	}
	for (i = 0; i < p->nsvc; i++)
		evconnlistener_free(p->svc[i].lev);
	free(p->svc);
	free(p);
}

void
publish_stop(struct publish *p)
{
	size_t	 i;

	for (i = 0; p != NULL && i < p->nsvc; i++)
		evconnlistener_disable(p->svc[i].lev);
}
