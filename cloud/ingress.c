#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <sodium.h>

#include "addrcount.h"
#include "apikey.h"
#include "daemon.h"
#include "error.h"
#include "front.h"
#include "hostport.h"
#include "httpreq.h"
#include "ingress.h"
#include "log.h"
#include "proxygate.h"
#include "router.h"
#include "store.h"
#include "xmalloc.h"

/*
 * The ingress proxy: an HTTP proxy for programs on the cloud's side. The
 * client names the site as the proxy user name and authenticates with an
 * API key as the password (Proxy-Authorization: Basic, as
 * curl -x http://SITE:KEY@HOST:PORT sends it). "CONNECT host:port" opens a
 * stream to host:port inside the site; an absolute-form request
 * ("GET http://intranet/ HTTP/1.1") is forwarded to its host in origin
 * form, one request per connection (Connection: close). The key needs a
 * scope with the ingress right, and a site-bound scope reaches only its
 * sites (lib/apikey.c).
 *
 * A connection ("i12" in the log) lives until its socket is closed, and
 * ends in ic_close() with the reason: while its head is read (an absolute
 * deadline, request_head_timeout in [limits], not an idle timeout a byte at a time
 * would renew), while a connector is reached, and once bound to its
 * stream, which then owns the socket and says when it is gone
 * (tunnel_stream_on_gone()). So the streams of a revoked key are found
 * and closed (ingress_sweep_revoked()).
 *
 * The per-address cap ([ingress] connections_per_address) counts the
 * connections that have not yet shown a good key: what anyone who can
 * reach the port can hold. An authenticated connection gives its slot
 * back, as the TLS listener never counts connectors' tunnels: programs
 * sharing one address (every local one on the default loopback listener)
 * must not be limited by strangers' counts, and a key is revocable.
 */

#define IC_LOG_BURST		5	/* refusal lines per IC_LOG_MS */
#define IC_LOG_MS		10000

/* The reason of a stream's ordinary end, logged at debug level only. */
static const char ic_done[] = "the stream ended";

struct ingress_conn {
	struct ingress		*in;
	LIST_ENTRY(ingress_conn) entry;
	struct bufferevent	*bev;		/* until bound */
	struct router_conn	*rc;		/* reaching a connector */
	struct tunnel_stream	*s;		/* bound: it owns the socket */
	struct event		*deadline;	/* head, then the error reply */
	struct buf		 head;		/* rewritten head for the target */
	size_t			 headlen;	/* of the client's head */
	struct sockaddr_storage	 sa;		/* its address */
	bool			 counted;	/* in in->per_addr (not yet a key) */
	bool			 connect;	/* CONNECT, not absolute-form */
	unsigned long		 id;
	char			 key_id[APIKEY_ID_SIZE];	/* once known */
	char			 site[STORE_NAME_MAX + 1];
	char			 target[TUNNEL_HOST_MAX + 8];
	char			 peer[64];
};

struct ingress {
	struct cloud		*c;
	struct evconnlistener	*lev;
	LIST_HEAD(, ingress_conn) conns;
	struct addrcount	*per_addr;
	struct log_rate		 refuse_log;
	uint64_t		 refused;
	unsigned long		 next_id;
};

/*
 * The one place a connection ends: whatever it holds (its socket, a
 * connect in progress, or the stream it was bound to) goes, and why is
 * logged with its id. A stream's ordinary end is logged at debug level.
 */
static void
ic_close(struct ingress_conn *ic, const char *why)
{
	struct ingress	*in = ic->in;

	if (why == ic_done)
		log_debug("ingress i%lu %s: closed: %s", ic->id, ic->peer, why);
	else
		log_info("ingress i%lu %s: %s%s%s closed: %s", ic->id, ic->peer,
		    ic->site, ic->target[0] ? " -> " : "", ic->target, why);
	LIST_REMOVE(ic, entry);
	if (ic->rc != NULL)
		router_conn_cancel(ic->rc);
	if (ic->s != NULL) {
		tunnel_stream_on_gone(ic->s, NULL, NULL);
		tunnel_stream_close(ic->s, why);
	}
	if (ic->bev != NULL)
		bufferevent_free(ic->bev);
	if (ic->deadline != NULL)
		event_free(ic->deadline);
	if (ic->counted)
		addrcount_release(in->per_addr, (struct sockaddr *)&ic->sa);
	buf_free(&ic->head);
	free(ic);
}

static void
ic_drained_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	ic_close(arg, "error reply sent");
}

static void
ic_closed_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	ic_close(arg, what & BEV_EVENT_EOF ? "the client closed the "
	    "connection" : "the connection failed");
}

/* The stream that owned the socket is gone: so is the connection. */
static void
ic_gone(void *arg)
{
	struct ingress_conn	*ic = arg;

	ic->s = NULL;
	ic_close(ic, ic_done);
}

/* Starts (again) the absolute deadline: the head's, then the reply's. */
static void
ic_deadline_start(struct ingress_conn *ic)
{
	struct timeval	 tv = { ic->in->c->cfg.request_head_timeout, 0 };

	event_add(ic->deadline, &tv);
}

static const char *
status_text(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 407: return "Proxy Authentication Required";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Error";
	}
}

/*
 * Answers the client with an error and closes once it is written, or when
 * the client has not taken it within another request_head_timeout.
 */
static void
ic_reply(struct ingress_conn *ic, int status, const char *code,
    const char *reason)
{
	struct evbuffer	*out = bufferevent_get_output(ic->bev);

	log_info("ingress i%lu %s: %s%s%s: %d %s: %s", ic->id, ic->peer,
	    ic->site, ic->target[0] ? " -> " : "", ic->target, status, code,
	    reason);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain\r\n"
	    "Uplink-Error: %s\r\n"
	    "%s"
	    "Connection: close\r\n"
	    "Content-Length: %zu\r\n\r\n%s: %s\n", status, status_text(status),
	    code, status == 407 ?
	    "Proxy-Authenticate: Basic realm=\"uplink site:api-key\"\r\n" : "",
	    strlen(code) + strlen(reason) + 3, code, reason);
	bufferevent_disable(ic->bev, EV_READ);
	bufferevent_setcb(ic->bev, NULL, ic_drained_cb, ic_closed_cb, ic);
	bufferevent_enable(ic->bev, EV_WRITE);
	ic_deadline_start(ic);
}

static void
ic_answer_cb(void *arg, struct tunnel_stream *s, int status, const char *code,
    const char *reason)
{
	struct ingress_conn	*ic = arg;
	struct evbuffer		*in;
	struct bufferevent	*bev;

	ic->rc = NULL;
	if (status != 200) {
		ic_reply(ic, status == 403 || status == 502 || status == 503 ||
		    status == 504 ? status : 502, code, reason);
		return;
	}
	bev = ic->bev;
	in = bufferevent_get_input(bev);
	evbuffer_drain(in, ic->headlen);
	if (ic->connect)
		bufferevent_write(bev, "HTTP/1.1 200 Connection established"
		    "\r\n\r\n", 39);
	else
		evbuffer_prepend(in, ic->head.ptr, ic->head.len);
	log_debug("ingress i%lu %s: %s -> %s via %s", ic->id, ic->peer,
	    ic->site, ic->target, tunnel_stream_name(s));
	ic->bev = NULL;
	buf_free(&ic->head);
	buf_init(&ic->head, 1);
	ic->s = s;
	tunnel_stream_on_gone(s, ic_gone, ic);
	tunnel_stream_bind(s, bev);
}

/*
 * Checks Proxy-Authorization: site as the user, an API key as password,
 * and that the key's scope opens the ingress into that site.
 */
static int
ic_auth(struct ingress_conn *ic, const struct httpreq *req, char *why,
    size_t whylen)
{
	const struct httpreq_header	*h;
	struct store_apikey		 k;
	char				 key[256], err[256];
	int64_t				 site_id;

	h = httpreq_header(req, "Proxy-Authorization");
	if (h == NULL) {
		snprintf(why, whylen, "give the site as the user name and an API "
		    "key as the password, e.g. http://SITE:KEY@proxy:port");
		return 407;
	}
	if (httpreq_basic_auth(h->value, h->valuelen, ic->site,
	    sizeof(ic->site), key, sizeof(key), why, whylen) != 0)
		return 407;
	if (apikey_verify(ic->in->c->dd.st, key, &k, err, sizeof(err)) != 0) {
		sodium_memzero(key, sizeof(key));
		snprintf(why, whylen, "%s", err);
		return 403;
	}
	sodium_memzero(key, sizeof(key));
	snprintf(ic->key_id, sizeof(ic->key_id), "%s", k.id);
	if (apikey_ingress_check(&k, ic->site, why, whylen) != 0)
		return 403;
	if (store_site_find(ic->in->c->dd.st, ic->site, &site_id, err,
	    sizeof(err)) != 0) {
		snprintf(why, whylen, "there is no site named \"%s\"", ic->site);
		return 403;
	}
	return 0;
}

/* Copies the head for the target in origin form, without proxy headers. */
static int
ic_rewrite(struct ingress_conn *ic, const struct httpreq *req,
    const char *path)
{
	static const char *const drop[] = { "Proxy-Authorization",
	    "Proxy-Connection", "Connection", "Keep-Alive", NULL };
	const struct httpreq_header	*h;
	size_t				 i, j;
	bool				 skip;

	buf_init(&ic->head, ic->in->c->cfg.header_bytes + 256);
	buf_appendf(&ic->head, "%.*s %s HTTP/1.%d\r\n", (int)req->methodlen,
	    req->method, path, req->minor);
	for (i = 0; i < req->nheaders; i++) {
		h = &req->headers[i];
		skip = false;
		for (j = 0; drop[j] != NULL; j++)
			if (h->namelen == strlen(drop[j]) &&
			    strncasecmp(h->name, drop[j], h->namelen) == 0)
				skip = true;
		if (!skip && buf_appendf(&ic->head, "%.*s: %.*s\r\n",
		    (int)h->namelen, h->name, (int)h->valuelen, h->value) != 0)
			return -1;
	}
	return buf_appends(&ic->head, "Connection: close\r\n\r\n");
}

/* Where the request goes: CONNECT host:port or http://host[:port]/path. */
static int
ic_target(struct ingress_conn *ic, const struct httpreq *req,
    struct hostport *hp, char *why, size_t whylen)
{
	char	 target[2048], path[2048];
	bool	 https;

	if (req->targetlen >= sizeof(target)) {
		snprintf(why, whylen, "the request target is too long");
		return -1;
	}
	memcpy(target, req->target, req->targetlen);
	target[req->targetlen] = '\0';
	ic->connect = req->methodlen == 7 &&
	    memcmp(req->method, "CONNECT", 7) == 0;
	if (ic->connect) {
		if (hostport_parse(target, 0, hp, why, whylen) != 0)
			return -1;
		if (hp->port == 0) {
			snprintf(why, whylen, "CONNECT needs HOST:PORT");
			return -1;
		}
		return 0;
	}
	if (strncasecmp(target, "http://", 7) != 0) {
		snprintf(why, whylen, "this is a proxy: send CONNECT host:port "
		    "or an absolute http:// URL");
		return -1;
	}
	if (url_parse(target, &https, hp, path, sizeof(path), why,
	    whylen) != 0)
		return -1;
	if (ic_rewrite(ic, req, path) != 0) {
		snprintf(why, whylen, "the request head is too large");
		return -1;
	}
	return 0;
}

static void
ic_head(struct ingress_conn *ic, const struct httpreq *req)
{
	struct hostport	 hp;
	char		 why[512];
	int		 status;

	event_del(ic->deadline);
	ic->headlen = req->headlen;
	if (ic_target(ic, req, &hp, why, sizeof(why)) != 0) {
		ic_reply(ic, 400, "bad-request", why);
		return;
	}
	hostport_format(ic->target, sizeof(ic->target), hp.host, hp.port);
	status = ic_auth(ic, req, why, sizeof(why));
	if (status != 0) {
		ic_reply(ic, status, status == 407 ? "auth-required" :
		    "forbidden", why);
		return;
	}
	/* A good key: no longer a stranger's connection (see above). */
	if (ic->counted)
		addrcount_release(ic->in->per_addr, (struct sockaddr *)&ic->sa);
	ic->counted = false;
	/* Nothing more is read until the stream is there. */
	bufferevent_disable(ic->bev, EV_READ);
	ic->rc = router_connect(ic->in->c->router, ic->site, hp.host, hp.port,
	    ic_answer_cb, ic);
}

static void
ic_read_cb(struct bufferevent *bev, void *arg)
{
	struct ingress_conn	*ic = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct httpreq		 req;
	size_t			 len = evbuffer_get_length(in);
	size_t			 max = ic->in->c->cfg.header_bytes;
	char			 why[256];
	int			 rv;

	if (ic->rc != NULL)
		return;
	rv = httpreq_parse((const char *)evbuffer_pullup(in, -1), len, max,
	    &req, why, sizeof(why));
	if (rv == UPLINK_EAGAIN)
		return;
	if (rv == UPLINK_ETOOBIG)
		ic_reply(ic, 400, "too-large", "the request head is too large");
	else if (rv != UPLINK_OK)
		ic_reply(ic, 400, "bad-request", why);
	else
		ic_head(ic, &req);
}

/*
 * The absolute deadline: a head still incomplete gets 408, an error reply
 * the client has not taken ends the connection.
 */
static void
ic_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ingress_conn	*ic = arg;
	char			 why[128];

	(void)fd;
	(void)what;
	if (!(bufferevent_get_enabled(ic->bev) & EV_READ)) {
		ic_close(ic, "the client did not take the error reply in time");
		return;
	}
	snprintf(why, sizeof(why), "no complete request head within %llds "
	    "(request_head_timeout in [limits])",
	    (long long)ic->in->c->cfg.request_head_timeout);
	ic_reply(ic, 408, "timeout", why);
}

/* Over the per-address cap: closed at once, logged at a bounded rate. */
static void
ingress_refuse(struct ingress *in, evutil_socket_t fd, struct sockaddr *sa)
{
	char		 peer[64];
	unsigned	 dropped;

	in->refused++;
	evutil_closesocket(fd);
	if (!log_rate_allow(&in->refuse_log, IC_LOG_BURST, IC_LOG_MS,
	    &dropped))
		return;
	cloud_peer_name(sa, peer, sizeof(peer));
	log_warnx("ingress: refused a connection from %s: it has %u open "
	    "without a key yet ([ingress] connections_per_address = %u); "
	    "%llu refused in all%s",
	    peer, addrcount_get(in->per_addr, sa),
	    in->c->cfg.ingress_per_address, (unsigned long long)in->refused,
	    dropped ? " (some refusals were not logged)" : "");
}

static void
ingress_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct ingress		*in = arg;
	struct ingress_conn	*ic;

	(void)lev;
	if (addrcount_take(in->per_addr, sa) != 0) {
		ingress_refuse(in, fd, sa);
		return;
	}
	ic = xcalloc(1, sizeof(*ic));
	ic->in = in;
	ic->counted = true;
	ic->id = ++in->next_id;
	if ((size_t)salen <= sizeof(ic->sa))
		memcpy(&ic->sa, sa, (size_t)salen);
	cloud_peer_name(sa, ic->peer, sizeof(ic->peer));
	buf_init(&ic->head, 1);
	LIST_INSERT_HEAD(&in->conns, ic, entry);
	ic->deadline = evtimer_new(in->c->base, ic_deadline_cb, ic);
	ic->bev = bufferevent_socket_new(in->c->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (ic->bev == NULL || ic->deadline == NULL) {
		if (ic->bev == NULL)
			evutil_closesocket(fd);
		ic_close(ic, "out of memory");
		return;
	}
	bufferevent_setcb(ic->bev, ic_read_cb, NULL, ic_closed_cb, ic);
	bufferevent_setwatermark(ic->bev, EV_READ, 0,
	    in->c->cfg.header_bytes + 1);
	bufferevent_enable(ic->bev, EV_READ);
	ic_deadline_start(ic);
}

int
ingress_start(struct cloud *c, char *err, size_t errlen)
{
	struct ingress	*in;

	in = xcalloc(1, sizeof(*in));
	in->c = c;
	in->per_addr = addrcount_new(c->cfg.ingress_per_address, 0);
	c->ingress = in;
	if (!c->cfg.ingress_enabled)
		return 0;
	in->lev = cloud_listen_ext(c, &c->cfg.ingress_listen, LISTEN_PROXY |
	    LISTEN_CLIENT_FIRST | LISTEN_REUSEPORT, ingress_accept_cb, in,
	    "the ingress proxy (listen in [ingress])", err, errlen);
	if (in->lev == NULL)
		return -1;
	log_info("ingress proxy listening on %s:%u", c->cfg.ingress_listen.host,
	    c->cfg.ingress_listen.port);
	return 0;
}

/*
 * Closes every connection whose API key was revoked, or has gone, since it
 * was checked: the daemon calls this when the store changed (another
 * process revoked a key) and after the API revoked one. One lookup per
 * connection that has a key; unchanged keys cost nothing else.
 */
void
ingress_sweep_revoked(struct ingress *in)
{
	struct ingress_conn	*ic, *next;
	struct store_apikey	 k;
	char			 err[256], why[128];
	int			 rc;

	for (ic = in != NULL ? LIST_FIRST(&in->conns) : NULL; ic != NULL;
	    ic = next) {
		next = LIST_NEXT(ic, entry);
		if (ic->key_id[0] == '\0')
			continue;
		rc = store_apikey_get(in->c->dd.st, ic->key_id, &k, err,
		    sizeof(err));
		if (rc == UPLINK_OK && k.revoked_at == 0)
			continue;
		if (rc != UPLINK_OK && rc != UPLINK_ENOTFOUND) {
			log_warnx("ingress: cannot check API key %s: %s",
			    ic->key_id, err);
			continue;
		}
		snprintf(why, sizeof(why), "API key %s was revoked",
		    ic->key_id);
		ic_close(ic, why);
	}
}

void
ingress_free(struct ingress *in)
{
	struct ingress_conn	*ic;

	if (in == NULL)
		return;
	while ((ic = LIST_FIRST(&in->conns)) != NULL) {
		/* Streams are the router's to end at shutdown. */
		if (ic->s != NULL) {
			tunnel_stream_on_gone(ic->s, NULL, NULL);
			ic->s = NULL;
		}
		ic_close(ic, "the cloud is stopping");
	}
	if (in->lev != NULL)
		cloud_listen_free(in->lev);
	addrcount_free(in->per_addr);
	free(in);
}

void
ingress_stop(struct ingress *in)
{
	/* Closed, not paused, as publish_stop() says why. */
	if (in != NULL && in->lev != NULL) {
		cloud_listen_close(in->lev);
		in->lev = NULL;
	}
}

void
ingress_accepting(struct ingress *in, bool on)
{
	if (in == NULL || in->lev == NULL)
		return;
	if (on)
		evconnlistener_enable(in->lev);
	else
		evconnlistener_disable(in->lev);
}
