#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "addrcount.h"
#include "daemon.h"
#include "front.h"
#include "log.h"
#include "proxygate.h"
#include "proxyv2.h"
#include "xmalloc.h"

/*
 * A connection waits here for its header (listed addresses) or its first
 * bytes (others, on client-first listeners). Headers are read with exact
 * lengths (the 16-byte fixed part, then the address block it announces),
 * so not one byte of the client's own stream is consumed; the first bytes
 * of an unlisted client are only peeked at. Connections waiting are capped
 * per listener, listed and unlisted apart (strangers cannot crowd out the
 * balancer): beyond its cap a listed address is refused and an unlisted
 * one passes unchecked (a header from it is never honoured anyway, only
 * the log line is lost).
 */

#define GATE_WAITING_MAX	1024
#define GATE_LOG_BURST		5
#define GATE_LOG_MS		10000

struct gate_conn {
	struct proxygate	*g;
	LIST_ENTRY(gate_conn)	 entry;
	evutil_socket_t		 fd;
	struct event		*ev;
	struct sockaddr_storage	 sa;
	int			 salen;
	bool			 listed;
	size_t			 n;
	unsigned char		 buf[PROXYV2_MAX];
};

struct proxygate {
	struct cloud		*c;
	int			 flags;
	evconnlistener_cb	 cb;
	void			*arg;
	struct evconnlistener	*lev;
	LIST_HEAD(, gate_conn)	 waiting;
	unsigned		 nwaiting[2];	/* [listed]: counted apart */
	unsigned long		 refused;
	struct log_rate		 rate;
	char			 what[96];
};

bool
cidr_match(const struct cloud_cidr *list, size_t n, const struct sockaddr *sa)
{
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)sa;
	const unsigned char		*a;
	int				 family = sa->sa_family;
	size_t				 i;
	unsigned			 full, rest;

	if (family == AF_INET)
		a = (const unsigned char *)&((const struct sockaddr_in *)sa)->
		    sin_addr;
	else if (family == AF_INET6) {
		a = sin6->sin6_addr.s6_addr;
		/* ::ffff:a.b.c.d is a.b.c.d (a dual-stack listener). */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			a += 12;
			family = AF_INET;
		}
	} else
		return false;
	for (i = 0; i < n; i++) {
		if (list[i].family != family)
			continue;
		full = list[i].prefix / 8;
		rest = list[i].prefix % 8;
		if (memcmp(a, list[i].addr, full) != 0)
			continue;
		if (rest == 0 || ((a[full] ^ list[i].addr[full]) &
		    (0xffu << (8 - rest)) & 0xffu) == 0)
			return true;
	}
	return false;
}

struct proxygate *
proxygate_new(struct cloud *c, int flags, evconnlistener_cb cb, void *arg,
    const char *what)
{
	struct proxygate	*g = xcalloc(1, sizeof(*g));

	g->c = c;
	g->flags = flags;
	g->cb = cb;
	g->arg = arg;
	LIST_INIT(&g->waiting);
	snprintf(g->what, sizeof(g->what), "%s", what);
	return g;
}

static void
gate_unlink(struct gate_conn *gc)
{
	LIST_REMOVE(gc, entry);
	gc->g->nwaiting[gc->listed]--;
	event_free(gc->ev);
}

/* The one end of a refused connection: closed, counted, logged. */
static void
gate_refuse(struct proxygate *g, evutil_socket_t fd,
    const struct sockaddr *sa, const char *fmt, const char *detail)
{
	char	 peer[64], shown[48];
	unsigned more;

	close(fd);
	g->refused++;
	if (!log_rate_allow(&g->rate, GATE_LOG_BURST, GATE_LOG_MS, &more))
		return;
	cloud_peer_name(sa, peer, sizeof(peer));
	snprintf(shown, sizeof(shown), "; %u such lines not shown", more);
	log_warnx("%s: refused %s: %s%s (%lu refused so far%s)", g->what,
	    peer, fmt, detail, g->refused, more > 0 ? shown : "");
}

static void
gate_close(struct gate_conn *gc, const char *why, const char *detail)
{
	gate_unlink(gc);
	if (why != NULL)
		gate_refuse(gc->g, gc->fd, (struct sockaddr *)&gc->sa, why,
		    detail);
	else
		close(gc->fd);
	free(gc);
}

/* Hands the connection to the listener as if from sa. */
static void
gate_pass(struct gate_conn *gc, struct sockaddr *sa, int salen)
{
	struct proxygate	*g = gc->g;
	struct sockaddr_storage	 ss;
	evutil_socket_t		 fd = gc->fd;

	memcpy(&ss, sa, (size_t)salen);
	gate_unlink(gc);
	free(gc);
	g->cb(g->lev, fd, (struct sockaddr *)&ss, salen, g->arg);
}

/* A listed address: reads exactly the header, then passes. */
static void
gate_read_header(struct gate_conn *gc)
{
	struct proxyv2	 pv;
	size_t		 want;
	ssize_t		 r;
	int		 rc;
	char		 why[160];

	want = gc->n < PROXYV2_FIXED ? PROXYV2_FIXED - gc->n : 0;
	if (want == 0)
		want = PROXYV2_FIXED + ((size_t)gc->buf[14] << 8 |
		    gc->buf[15]) - gc->n;
	if (gc->n + want > sizeof(gc->buf))
		want = sizeof(gc->buf) - gc->n;
	r = recv(gc->fd, gc->buf + gc->n, want, 0);
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		gate_close(gc, "closed before the PROXY protocol header "
		    "arrived", "");
		return;
	}
	if (r < 0)
		return;
	gc->n += (size_t)r;
	rc = proxyv2_parse(gc->buf, gc->n, &pv, why, sizeof(why));
	if (rc < 0) {
		gate_close(gc, "proxy_from in [cluster] lists this address, so "
		    "its connections must start with a PROXY protocol v2 "
		    "header (HAProxy: send-proxy-v2), but this one did not: ",
		    why);
		return;
	}
	if (rc == 0)
		return;
	if (pv.local)
		gate_pass(gc, (struct sockaddr *)&gc->sa, gc->salen);
	else
		gate_pass(gc, (struct sockaddr *)&pv.src, (int)pv.srclen);
}

/* An unlisted address on a client-first listener: a peek at its start. */
static void
gate_peek(struct gate_conn *gc)
{
	unsigned char	 b[PROXYV2_SIGLEN];
	ssize_t		 r;

	r = recv(gc->fd, b, sizeof(b), MSG_PEEK);
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		gate_close(gc, NULL, NULL);
		return;
	}
	if (r < 0)
		return;
	/*
	 * Neither TLS (0x16) nor HTTP starts with CR: a CR first is the v2
	 * signature; "PROXY " (v1) needs its 6 bytes to be told from POST.
	 */
	if (proxyv2_looks_like(b, (size_t)r) && (b[0] == '\r' || r >= 6)) {
		gate_close(gc, "a PROXY protocol header from an address that "
		    "proxy_from in [cluster] does not list (add the load "
		    "balancer's address there, or stop it sending one)", "");
		return;
	}
	gate_pass(gc, (struct sockaddr *)&gc->sa, gc->salen);
}

static void
gate_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gate_conn	*gc = arg;

	(void)fd;
	if (what & EV_TIMEOUT) {
		if (gc->listed)
			gate_close(gc, "no PROXY protocol header in time "
			    "(tls_first_byte_timeout in [limits]); proxy_from "
			    "in [cluster] lists this address", "");
		else
			gate_pass(gc, (struct sockaddr *)&gc->sa, gc->salen);
		return;
	}
	if (gc->listed)
		gate_read_header(gc);
	else
		gate_peek(gc);
}

/*
 * Where the server may speak first (a published SSH), nothing is waited
 * for: a header already there with the connection is refused, a later one
 * goes through as the client's data (and is never honoured).
 */
static bool
gate_stray_header(evutil_socket_t fd)
{
	unsigned char	 b[PROXYV2_SIGLEN];
	ssize_t		 r;

	r = recv(fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
	return r > 0 && proxyv2_looks_like(b, (size_t)r) && (b[0] == '\r' ||
	    r >= 6);
}

void
proxygate_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct proxygate		*g = arg;
	const struct cloud_config	*cfg = &g->c->cfg;
	struct gate_conn		*gc;
	struct timeval			 tv;
	bool				 listed;

	g->lev = lev;
	if ((size_t)salen > sizeof(gc->sa)) {
		close(fd);
		return;
	}
	listed = cidr_match(cfg->proxy_from, cfg->nproxy_from, sa);
	if (!listed && (!(g->flags & LISTEN_CLIENT_FIRST) ||
	    g->nwaiting[0] >= GATE_WAITING_MAX)) {
		if (gate_stray_header(fd)) {
			gate_refuse(g, fd, sa, "a PROXY protocol header from an "
			    "address that proxy_from in [cluster] does not list "
			    "(add the load balancer's address there, or stop it "
			    "sending one)", "");
			return;
		}
		g->cb(lev, fd, sa, salen, g->arg);
		return;
	}
	if (g->nwaiting[1] >= GATE_WAITING_MAX) {
		gate_refuse(g, fd, sa, "too many connections from the load "
		    "balancer waiting for their PROXY protocol header", "");
		return;
	}
	gc = xcalloc(1, sizeof(*gc));
	gc->g = g;
	gc->fd = fd;
	gc->listed = listed;
	memcpy(&gc->sa, sa, (size_t)salen);
	gc->salen = salen;
	gc->ev = event_new(g->c->base, fd, EV_READ | EV_PERSIST, gate_cb, gc);
	if (gc->ev == NULL)
		fatalx("out of memory");
	LIST_INSERT_HEAD(&g->waiting, gc, entry);
	g->nwaiting[listed]++;
	tv.tv_sec = cfg->tls_first_byte_timeout > 0 ?
	    (time_t)cfg->tls_first_byte_timeout : 3;
	tv.tv_usec = 0;
	event_add(gc->ev, &tv);
}

void
proxygate_free(struct proxygate *g)
{
	if (g == NULL)
		return;
	while (!LIST_EMPTY(&g->waiting))
		gate_close(LIST_FIRST(&g->waiting), NULL, NULL);
	free(g);
}
