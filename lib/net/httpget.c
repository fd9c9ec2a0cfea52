#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "error.h"
#include "httpget.h"
#include "httpresp.h"

struct httpget {
	struct event_base	*base;
	struct dial		*dial;
	struct bufferevent	*bev;
	struct hostport		 hp;
	char			 path[1024];
	char			 url[1100];
	int			 timeout_ms;
	struct route		 route;
	bool			 have_head;
	struct http_resp	 resp;
	struct http_body	 hb;
	struct buf		 body;
	dial_step_cb		*step;
	httpget_cb		*done;
	void			*arg;
};

int
httpget_parse_url(const char *url, struct hostport *hp, char *path,
    size_t pathlen, char *why, size_t whylen)
{
	bool	 https;

	if (url_parse(url, &https, hp, path, pathlen, why, whylen) != UPLINK_OK)
		return UPLINK_EINVAL;
	if (https) {
		snprintf(why, whylen, "\"%s\" is not an http:// URL", url);
		return UPLINK_EINVAL;
	}
	return UPLINK_OK;
}

static void
httpget_free(struct httpget *g)
{
	dial_cancel(g->dial);
	if (g->bev != NULL)
		bufferevent_free(g->bev);
	buf_free(&g->body);
	free(g);
}

static void
httpget_finish(struct httpget *g, enum httpget_error e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
httpget_finish(struct httpget *g, enum httpget_error e, const char *fmt, ...)
{
	struct httpget_result	 res;
	va_list			 ap;

	memset(&res, 0, sizeof(res));
	res.error = e;
	res.route = g->route;
	res.body = &g->body;
	if (g->have_head) {
		res.status = g->resp.status;
		snprintf(res.status_line, sizeof(res.status_line),
		    "HTTP/1.%d %d %s", g->resp.version_minor, g->resp.status,
		    g->resp.reason);
	}
	va_start(ap, fmt);
	vsnprintf(res.detail, sizeof(res.detail), fmt, ap);
	va_end(ap);
	g->done(g->arg, &res);
	httpget_free(g);
}

/* A proxy that refuses speaks for itself in squid's header or a 407. */
static bool
httpget_proxy_refusal(struct httpget *g)
{
	return g->route.kind == ROUTE_PROXY && (g->resp.status == 407 ||
	    strncmp(g->resp.squid_error, "ERR_ACCESS_DENIED", 17) == 0);
}

static void
httpget_read(struct bufferevent *bev, void *arg)
{
	struct httpget	*g = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	size_t		 len = evbuffer_get_length(in), used = 0;
	const char	*data = (const char *)evbuffer_pullup(in, -1);
	int		 rc;

	if (!g->have_head) {
		rc = httpresp_parse_head(data, len, HTTPRESP_HEAD_MAX, &g->resp);
		if (rc == UPLINK_EAGAIN)
			return;
		if (rc != UPLINK_OK) {
			httpget_finish(g, HTTPGET_EPROTO, "%s: not an HTTP "
			    "response: %s", g->url, g->resp.why);
			return;
		}
		g->have_head = true;
		evbuffer_drain(in, g->resp.head_len);
		if (httpget_proxy_refusal(g)) {
			httpget_finish(g, HTTPGET_EPROXY, "the proxy %s refused "
			    "GET %s: %d %s%s%s", g->route.proxy->url, g->url,
			    g->resp.status, g->resp.reason, g->resp.squid_error[0]
			    ? ", " : "", g->resp.squid_error);
			return;
		}
		httpbody_init(&g->hb, &g->resp, g->body.max);
		len = evbuffer_get_length(in);
		data = (const char *)evbuffer_pullup(in, -1);
	}
	rc = httpbody_feed(&g->hb, data, len, &g->body, &used);
	evbuffer_drain(in, used);
	if (rc == UPLINK_EAGAIN)
		return;
	if (rc == UPLINK_OK)
		httpget_finish(g, HTTPGET_OK, "%s: %d %s, %zu bytes", g->url,
		    g->resp.status, g->resp.reason, g->body.len);
	else
		httpget_finish(g, HTTPGET_EPROTO, "%s: bad response body: %s",
		    g->url, g->hb.why);
}

static void
httpget_event(struct bufferevent *bev, short what, void *arg)
{
	struct httpget	*g = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT) {
		httpget_finish(g, HTTPGET_ETIMEOUT, "%s: no complete response "
		    "within %d ms", g->url, g->timeout_ms);
		return;
	}
	if (g->have_head && httpbody_eof(&g->hb) == UPLINK_OK) {
		httpget_finish(g, HTTPGET_OK, "%s: %d %s, %zu bytes", g->url,
		    g->resp.status, g->resp.reason, g->body.len);
		return;
	}
	httpget_finish(g, HTTPGET_EPROTO, "%s: %s", g->url, g->have_head ?
	    g->hb.why : "the connection closed before a response");
}

static void
httpget_connected(void *arg, struct dial_result *res)
{
	struct httpget	*g = arg;
	struct timeval	 tv;
	char		 host[300];

	g->dial = NULL;
	g->route = res->route;
	if (res->error != DIAL_OK) {
		struct httpget_result	 r;

		memset(&r, 0, sizeof(r));
		r.error = HTTPGET_EDIAL;
		r.dial_error = res->error;
		r.route = res->route;
		r.body = &g->body;
		snprintf(r.detail, sizeof(r.detail), "%s", res->detail);
		g->done(g->arg, &r);
		httpget_free(g);
		return;
	}
	g->bev = bufferevent_socket_new(g->base, res->fd, BEV_OPT_CLOSE_ON_FREE);
	if (g->bev == NULL) {
		close(res->fd);
		httpget_finish(g, HTTPGET_EPROTO, "out of memory");
		return;
	}
	hostport_format(host, sizeof(host), g->hp.host, g->hp.port);
	if (g->route.kind == ROUTE_PROXY)
		evbuffer_add_printf(bufferevent_get_output(g->bev),
		    "GET http://%s%s HTTP/1.1\r\n", host, g->path);
	else
		evbuffer_add_printf(bufferevent_get_output(g->bev),
		    "GET %s HTTP/1.1\r\n", g->path);
	evbuffer_add_printf(bufferevent_get_output(g->bev), "Host: %s\r\n"
	    "User-Agent: uplink-connector\r\nAccept: */*\r\n"
	    "Connection: close\r\n\r\n", g->hp.port == 80 ? g->hp.host : host);
	tv.tv_sec = g->timeout_ms / 1000;
	tv.tv_usec = (g->timeout_ms % 1000) * 1000;
	bufferevent_set_timeouts(g->bev, &tv, &tv);
	bufferevent_setcb(g->bev, httpget_read, NULL, httpget_event, g);
	bufferevent_enable(g->bev, EV_READ | EV_WRITE);
}

/* The dialer reports to the request; steps go on to the caller. */
static void
httpget_step(void *arg, const char *name, bool ok, long ms, const char *detail)
{
	struct httpget	*g = arg;

	if (g->step != NULL)
		g->step(g->arg, name, ok, ms, detail);
}

struct httpget *
httpget_start(struct event_base *base, struct evdns_base *dns,
    const struct route_table *routes, const struct resolve_map *resolve,
    const char *url, size_t max_body, int timeout_ms, dial_step_cb *step,
    httpget_cb *done, void *arg)
{
	struct httpget	*g;
	struct dial_opts o;
	char		 why[256];

	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	g->base = base;
	g->step = step;
	g->done = done;
	g->arg = arg;
	g->timeout_ms = timeout_ms;
	buf_init(&g->body, max_body);
	snprintf(g->url, sizeof(g->url), "%s", url);
	if (httpget_parse_url(url, &g->hp, g->path, sizeof(g->path), why,
	    sizeof(why)) != UPLINK_OK) {
		free(g);
		return NULL;
	}
	memset(&o, 0, sizeof(o));
	o.host = g->hp.host;
	o.port = g->hp.port;
	o.routes = routes;
	o.resolve = resolve;
	o.plain_http = true;
	o.timeout_ms = timeout_ms;
	o.id = "http";
	g->dial = dial_start(base, dns, &o, httpget_step, httpget_connected, g);
	if (g->dial == NULL) {
		free(g);
		return NULL;
	}
	return g;
}

void
httpget_cancel(struct httpget *g)
{
	if (g != NULL)
		httpget_free(g);
}
