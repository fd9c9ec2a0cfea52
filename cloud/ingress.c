#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "apikey.h"
#include "daemon.h"
#include "error.h"
#include "hostport.h"
#include "httpreq.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

/*
 * The ingress proxy: an HTTP proxy for programs on the cloud's side. The
 * client names the site as the proxy user name and authenticates with an
 * API key as the password (Proxy-Authorization: Basic, as
 * curl -x http://SITE:KEY@HOST:PORT sends it). "CONNECT host:port" opens a
 * stream to host:port inside the site; an absolute-form request
 * ("GET http://intranet/ HTTP/1.1") is forwarded to its host in origin
 * form, one request per connection (Connection: close).
 */

#define INGRESS_HEAD_TIMEOUT	30

struct ingress_conn {
	struct ingress		*in;
	struct ingress_conn	*prev, *next;
	struct bufferevent	*bev;
	struct router_conn	*rc;
	struct buf		 head;		/* rewritten head for the target */
	size_t			 headlen;	/* of the client's head */
	bool			 connect;	/* CONNECT, not absolute-form */
	char			 site[STORE_NAME_MAX + 1];
	char			 target[TUNNEL_HOST_MAX + 8];
	char			 peer[64];
};

struct ingress {
	struct cloud		*c;
	struct evconnlistener	*lev;
	struct ingress_conn	*conns;
};

static void
ic_free(struct ingress_conn *ic)
{
	struct ingress	*in = ic->in;

	if (ic->prev != NULL)
		ic->prev->next = ic->next;
	else
		in->conns = ic->next;
	if (ic->next != NULL)
		ic->next->prev = ic->prev;
	if (ic->rc != NULL)
		router_conn_cancel(ic->rc);
	if (ic->bev != NULL)
		bufferevent_free(ic->bev);
	buf_free(&ic->head);
	free(ic);
}

static void
ic_drained_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	ic_free(arg);
}

static void
ic_closed_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	ic_free(arg);
}

static const char *
status_text(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 405: return "Method Not Allowed";
	case 407: return "Proxy Authentication Required";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Error";
	}
}

/* Answers the client with an error and closes once it is written. */
static void
ic_reply(struct ingress_conn *ic, int status, const char *code,
    const char *reason)
{
	struct evbuffer	*out = bufferevent_get_output(ic->bev);

	log_info("ingress %s: %s%s%s: %d %s: %s", ic->peer, ic->site,
	    ic->target[0] ? " -> " : "", ic->target, status, code, reason);
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
	bufferevent_set_timeouts(bev, NULL, NULL);
	in = bufferevent_get_input(bev);
	evbuffer_drain(in, ic->headlen);
	if (ic->connect)
		bufferevent_write(bev, "HTTP/1.1 200 Connection established"
		    "\r\n\r\n", 39);
	else
		evbuffer_prepend(in, ic->head.ptr, ic->head.len);
	log_debug("ingress %s: %s -> %s via %s", ic->peer, ic->site,
	    ic->target, tunnel_stream_name(s));
	ic->bev = NULL;
	ic_free(ic);
	tunnel_stream_bind(s, bev);
}

/* Checks Proxy-Authorization: site as the user, an API key as password. */
static int
ic_auth(struct ingress_conn *ic, const struct httpreq *req, char *why,
    size_t whylen)
{
	const struct httpreq_header	*h;
	char				 key[256], scope[APIKEY_SCOPE_SIZE];
	char				 err[256];
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
	if (apikey_verify(ic->in->c->dd.st, key, scope, err, sizeof(err)) != 0) {
		snprintf(why, whylen, "%s", err);
		return 403;
	}
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
	char		 why[256];
	int		 status;

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

static void
ic_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ingress_conn	*ic = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT) {
		ic_reply(ic, 400, "timeout", "no complete request head in time");
		return;
	}
	ic_free(ic);
}

static void
ingress_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct ingress		*in = arg;
	struct ingress_conn	*ic;
	struct timeval		 tv = { INGRESS_HEAD_TIMEOUT, 0 };

	(void)lev;
	(void)salen;
	ic = xcalloc(1, sizeof(*ic));
	ic->in = in;
	cloud_peer_name(sa, ic->peer, sizeof(ic->peer));
	buf_init(&ic->head, 1);
	ic->bev = bufferevent_socket_new(in->c->base, fd, BEV_OPT_CLOSE_ON_FREE);
	ic->next = in->conns;
	if (in->conns != NULL)
		in->conns->prev = ic;
	in->conns = ic;
	if (ic->bev == NULL) {
		ic_free(ic);
		return;
	}
	bufferevent_setcb(ic->bev, ic_read_cb, NULL, ic_event_cb, ic);
	bufferevent_setwatermark(ic->bev, EV_READ, 0,
	    in->c->cfg.header_bytes + 1);
	bufferevent_set_timeouts(ic->bev, &tv, NULL);
	bufferevent_enable(ic->bev, EV_READ);
}

int
ingress_start(struct cloud *c, char *err, size_t errlen)
{
	struct ingress	*in;

	in = xcalloc(1, sizeof(*in));
	in->c = c;
	c->ingress = in;
	if (!c->cfg.ingress_enabled)
		return 0;
	in->lev = cloud_listen(c, &c->cfg.ingress_listen, ingress_accept_cb, in,
	    "the ingress proxy (listen in [ingress])", err, errlen);
	if (in->lev == NULL)
		return -1;
	log_info("ingress proxy listening on %s:%u", c->cfg.ingress_listen.host,
	    c->cfg.ingress_listen.port);
	return 0;
}

void
ingress_free(struct ingress *in)
{
	if (in == NULL)
		return;
	while (in->conns != NULL)
		ic_free(in->conns);
	if (in->lev != NULL)
		cloud_listen_free(in->lev);
	free(in);
}

void
ingress_stop(struct ingress *in)
{
	if (in != NULL && in->lev != NULL)
		evconnlistener_disable(in->lev);
}
