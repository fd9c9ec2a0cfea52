#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/util.h>

#include "dial.h"
#include "unittest.h"
#include "error.h"
#include "httpresp.h"
#include "log.h"

struct dial {
	struct event_base		*base;
	struct evdns_base		*dns;
	struct dial_opts		 o;
	char				 host[256];
	dial_step_cb			*step_cb;
	dial_done_cb			*done_cb;
	void				*arg;
	struct route			 route;
	const char			*step;		/* current step's name */
	long				 t0;		/* current step's start */
	struct evutil_addrinfo		*ai;		/* addresses to try */
	struct evutil_addrinfo		*ai_cur;
	struct evdns_getaddrinfo_request *dnsreq;
	struct dial_dnstok		*dnstok;	/* the request's way back */
	bool				 dns_sync;	/* callback ran inside the call */
	int				 dns_err;
	int				 fd;
	struct event			*ev;		/* start kick, connect wait */
	struct bufferevent		*bev;		/* CONNECT exchange */
	bool				 timed_out;
	char				 tried[384];	/* failed addresses so far */
	unsigned			 ntried;	/* addresses tried */
	unsigned			 nrefused;	/* of which addr_ok refused */
};

/*
 * evdns may answer a cancelled request later, from a deferred callback, so
 * the request points at this token rather than at the dial: cancelling
 * clears the token, and the late answer finds nobody and frees it.
 */
struct dial_dnstok {
	struct dial	*d;
};

static void dial_next_addr(struct dial *d);

long
dial_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
dial_error_name(enum dial_error e)
{
	switch (e) {
	case DIAL_OK:			return NULL;
	case DIAL_EDNS:			return "dns";
	case DIAL_ETCP:			return "tcp";
	case DIAL_ETIMEOUT:		return "timeout";
	case DIAL_EPROXY_UNREACHABLE:	return "proxy-unreachable";
	case DIAL_EPROXY_DENIED:	return "proxy-denied";
	case DIAL_EPROXY_ERROR:		return "proxy-error";
	case DIAL_ENOTALLOWED:		return "not-allowed";
	}
	return "tcp";
}

int
resolve_map_add(struct resolve_map *m, const char *spec, char *why,
    size_t whylen)
{
	struct resolve_entry	 e;
	const char		*c1, *c2, *addr;
	struct in6_addr		 a6;
	size_t			 alen;
	void			*nv;

	/* Host names hold no ':', so HOST and PORT end at the first two. */
	memset(&e, 0, sizeof(e));
	c1 = strchr(spec, ':');
	c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
	if (c2 == NULL || c1 == spec || (size_t)(c1 - spec) >= sizeof(e.host) ||
	    !port_parse(c1 + 1, (size_t)(c2 - c1 - 1), &e.port)) {
		snprintf(why, whylen, "--resolve \"%s\": write HOST:PORT:ADDRESS, "
		    "for example api.example.net:443:127.0.0.1", spec);
		return UPLINK_EINVAL;
	}
	memcpy(e.host, spec, (size_t)(c1 - spec));
	addr = c2 + 1;
	alen = strlen(addr);
	if (alen >= 2 && addr[0] == '[' && addr[alen - 1] == ']') {
		addr++;
		alen -= 2;
	}
	if (alen == 0 || alen >= sizeof(e.addr)) {
		snprintf(why, whylen, "--resolve \"%s\": missing address", spec);
		return UPLINK_EINVAL;
	}
	memcpy(e.addr, addr, alen);
	if (inet_pton(AF_INET, e.addr, &a6) != 1 &&
	    inet_pton(AF_INET6, e.addr, &a6) != 1) {
		snprintf(why, whylen, "--resolve \"%s\": \"%s\" is not an IP "
		    "address", spec, e.addr);
		return UPLINK_EINVAL;
	}
	nv = realloc(m->v, (m->n + 1) * sizeof(*m->v));
	if (nv == NULL)
		return UPLINK_ENOMEM;
	m->v = nv;
	m->v[m->n++] = e;
	return UPLINK_OK;
}

const char *
resolve_map_lookup(const struct resolve_map *m, const char *host,
    uint16_t port)
{
	size_t	 i;

	/* The last entry for a host and port wins, as on a command line. */
	for (i = m != NULL ? m->n : 0; i > 0; i--)
		if (m->v[i - 1].port == port &&
		    strcasecmp(m->v[i - 1].host, host) == 0)
			return m->v[i - 1].addr;
	return NULL;
}

void
resolve_map_free(struct resolve_map *m)
{
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

/* Formats a socket address as "1.2.3.4:443" or "[::1]:443". */
static void
dial_format_addr(const struct sockaddr *sa, char *dst, size_t len)
{
	char	 a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(dst, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(dst, len, "%s:%u", a, ntohs(s4->sin_port));
	}
}

static void
dial_step_begin(struct dial *d, const char *name)
{
	d->step = name;
	d->t0 = dial_now_ms();
}

static void
dial_step_end(struct dial *d, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
dial_step_end(struct dial *d, bool ok, const char *fmt, ...)
{
	char	 detail[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (d->step_cb != NULL)
		d->step_cb(d->arg, d->step, ok, dial_now_ms() - d->t0, detail);
}

static void
dial_dns_cancel(struct dial *d)
{
	if (d->dnstok == NULL)
		return;
	d->dnstok->d = NULL;
	d->dnstok = NULL;
	if (d->dnsreq != NULL)
		evdns_getaddrinfo_cancel(d->dnsreq);
	d->dnsreq = NULL;
}

static void
dial_free(struct dial *d)
{
	dial_dns_cancel(d);
	if (d->ai != NULL)
		evutil_freeaddrinfo(d->ai);
	if (d->ev != NULL)
		event_free(d->ev);
	if (d->bev != NULL)
		bufferevent_free(d->bev);
	if (d->fd != -1)
		close(d->fd);
	free(d);
}

/* Ends the dial: one report, then the object is gone. */
static void
dial_finish(struct dial *d, enum dial_error err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
dial_finish(struct dial *d, enum dial_error err, const char *fmt, ...)
{
	struct dial_result	 res;
	va_list			 ap;

	memset(&res, 0, sizeof(res));
	res.error = err;
	res.route = d->route;
	res.fd = -1;
	va_start(ap, fmt);
	vsnprintf(res.detail, sizeof(res.detail), fmt, ap);
	va_end(ap);
	if (err == DIAL_OK) {
		res.fd = d->fd;
		d->fd = -1;
	}
	if (d->ai_cur != NULL)
		dial_format_addr(d->ai_cur->ai_addr, res.peer,
		    sizeof(res.peer));
	if (err != DIAL_OK)
		log_debug("%s: dial %s:%u failed: %s", d->o.id ? d->o.id : "-",
		    d->host, d->o.port, res.detail);
	d->done_cb(d->arg, &res);
	dial_free(d);
}

/* The host and port the TCP connection goes to: the target or the proxy. */
static const char *
dial_tcp_host(struct dial *d, uint16_t *port)
{
	if (d->route.kind == ROUTE_PROXY) {
		*port = d->route.proxy->port;
		return d->route.proxy->host;
	}
	*port = d->o.port;
	return d->host;
}

static void
dial_fail_lookup(struct dial *d, const char *what)
{
	uint16_t	 port;
	const char	*h = dial_tcp_host(d, &port);

	if (d->route.kind == ROUTE_PROXY) {
		dial_step_end(d, false, "cannot resolve the proxy %s: %s", h, what);
		dial_finish(d, DIAL_EPROXY_UNREACHABLE, "cannot resolve the "
		    "proxy host %s: %s", h, what);
		return;
	}
	dial_step_end(d, false, "%s: %s", h, what);
	dial_finish(d, DIAL_EDNS, "cannot resolve %s: %s", h, what);
}

static void dial_dns_done(int result, struct evutil_addrinfo *res, void *arg);

static void
dial_dns_answer(int result, struct evutil_addrinfo *res, void *arg)
{
	struct dial_dnstok	*tok = arg;
	struct dial		*d = tok->d;

	free(tok);
	if (d == NULL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		return;
	}
	d->dnstok = NULL;
	d->dnsreq = NULL;
	d->dns_err = result;
	d->ai = res;
	if (d->dns_sync) {
		d->dns_sync = false;	/* handled by dial_resolve() on return */
		return;
	}
	dial_dns_done(result, res, d);
}

/* Rotates the list to start at element (spread mod length). */
UNITTEST struct evutil_addrinfo *dial_rotate(struct evutil_addrinfo *res,
    unsigned spread);

UNITTEST struct evutil_addrinfo *
dial_rotate(struct evutil_addrinfo *res, unsigned spread)
{
	struct evutil_addrinfo	*ai, *tail, *head;
	unsigned		 n = 0, k;

	for (ai = res; ai != NULL; ai = ai->ai_next)
		n++;
	if (n < 2 || spread % n == 0)
		return res;
	for (ai = res, k = 1; k < spread % n; k++)
		ai = ai->ai_next;
	head = ai->ai_next;
	ai->ai_next = NULL;
	for (tail = head; tail->ai_next != NULL; tail = tail->ai_next)
		;
	tail->ai_next = res;
	return head;
}

static void
dial_dns_done(int result, struct evutil_addrinfo *res, void *arg)
{
	struct dial	*d = arg;

	if (d->ev != NULL) {
		event_free(d->ev);
		d->ev = NULL;
	}
	if (result != 0 || res == NULL) {
		dial_fail_lookup(d, evutil_gai_strerror(result));
		return;
	}
	d->ai = res = dial_rotate(res, d->o.spread);
	{
		char	 list[256] = "", a[80];
		struct evutil_addrinfo *ai;
		size_t	 n = 0;

		for (ai = res; ai != NULL && n < 4; ai = ai->ai_next, n++) {
			dial_format_addr(ai->ai_addr, a, sizeof(a));
			*strrchr(a, ':') = '\0';
			snprintf(list + strlen(list), sizeof(list) - strlen(list),
			    "%s%s", n ? ", " : "", a);
		}
		dial_step_end(d, true, "%s", list);
	}
	d->ai_cur = NULL;
	dial_next_addr(d);
}

/*
 * Names in "invalid." must never resolve (RFC 6761, 6.4); answering at once
 * spares a wait on DNS servers that may not exist.
 */
static bool
dial_name_invalid(const char *h)
{
	size_t	 n = strlen(h);

	if (n > 0 && h[n - 1] == '.')
		n--;
	return (n == 7 && strncasecmp(h, "invalid", 7) == 0) ||
	    (n > 8 && strncasecmp(h + n - 8, ".invalid", 8) == 0);
}

static void
dial_dns_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dial	*d = arg;
	char		 why[96];

	(void)fd;
	(void)what;
	dial_dns_cancel(d);
	snprintf(why, sizeof(why), "no answer from the DNS servers within %d ms",
	    d->o.timeout_ms);
	dial_fail_lookup(d, why);
}

static void
dial_resolve(struct dial *d)
{
	struct timeval		 tv;
	struct evutil_addrinfo	 hints;
	const char		*h, *over = NULL;
	char			 portstr[8];
	uint16_t		 port;

	h = dial_tcp_host(d, &port);
	if (d->route.kind == ROUTE_DIRECT)
		over = resolve_map_lookup(d->o.resolve, h, port);
	snprintf(portstr, sizeof(portstr), "%u", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	dial_step_begin(d, d->route.kind == ROUTE_PROXY ? "proxy-dns" : "dns");
	if (over != NULL || host_classify(h) != HOST_NAME) {
		hints.ai_flags = EVUTIL_AI_NUMERICHOST;
		d->dns_err = evutil_getaddrinfo(over ? over : h, portstr, &hints,
		    &d->ai);
		dial_dns_done(d->dns_err, d->ai, d);
		return;
	}
	if (dial_name_invalid(h)) {
		dial_fail_lookup(d, "no such host (names under .invalid "
		    "never resolve)");
		return;
	}
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	/* evdns retries on its own schedule; the step's limit is ours. */
	if (d->ev != NULL)
		event_free(d->ev);
	d->ev = evtimer_new(d->base, dial_dns_timeout, d);
	tv.tv_sec = d->o.timeout_ms / 1000;
	tv.tv_usec = (d->o.timeout_ms % 1000) * 1000;
	if (d->ev == NULL || evtimer_add(d->ev, &tv) != 0) {
		dial_fail_lookup(d, "out of memory");
		return;
	}
	d->dnstok = malloc(sizeof(*d->dnstok));
	if (d->dnstok == NULL) {
		dial_fail_lookup(d, "out of memory");
		return;
	}
	d->dnstok->d = d;
	d->dns_sync = true;
	d->dnsreq = evdns_getaddrinfo(d->dns, h, portstr, &hints,
	    dial_dns_answer, d->dnstok);
	if (!d->dns_sync) {
		/* Answered inside the call (a literal or /etc/hosts). */
		d->dnsreq = NULL;
		dial_dns_done(d->dns_err, d->ai, d);
		return;
	}
	d->dns_sync = false;
}

static void dial_connect_ready(evutil_socket_t fd, short what, void *arg);

/* Opens a non-blocking socket and starts connecting to ai. */
static int
dial_socket(struct dial *d, struct evutil_addrinfo *ai)
{
	int	 one = 1;

	d->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, IPPROTO_TCP);
	if (d->fd == -1)
		return errno;
	setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(d->fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
	    errno == EINPROGRESS)
		return 0;
	return errno;
}

static void
dial_note_failure(struct dial *d, const char *why)
{
	char	 a[80];
	size_t	 n = strlen(d->tried);

	dial_format_addr(d->ai_cur->ai_addr, a, sizeof(a));
	snprintf(d->tried + n, sizeof(d->tried) - n, "%s%s: %s",
	    n ? "; " : "", a, why);
}

/* Tries the next address; when none is left, reports the failure. */
static void
dial_next_addr(struct dial *d)
{
	struct timeval	 tv;
	char		 why[256];
	int		 err;
	bool		 proxy = d->route.kind == ROUTE_PROXY;

	if (d->fd != -1) {
		close(d->fd);
		d->fd = -1;
	}
	d->ai_cur = d->ai_cur == NULL ? d->ai : d->ai_cur->ai_next;
	if (d->ai_cur == NULL) {
		dial_step_end(d, false, "%s", d->tried);
		dial_finish(d, proxy ? DIAL_EPROXY_UNREACHABLE : d->ntried > 0 &&
		    d->nrefused == d->ntried ? DIAL_ENOTALLOWED : d->timed_out ?
		    DIAL_ETIMEOUT : DIAL_ETCP, "%s%s%s", proxy ?
		    "cannot connect to the proxy: " : "", d->tried,
		    d->tried[0] == '\0' ? "no address to try" : "");
		return;
	}
	if (d->step == NULL || strcmp(d->step, proxy ? "proxy-tcp" : "tcp") != 0)
		dial_step_begin(d, proxy ? "proxy-tcp" : "tcp");
	d->ntried++;
	if (!proxy && d->o.addr_ok != NULL && !d->o.addr_ok(d->o.addr_arg,
	    d->ai_cur->ai_addr, why, sizeof(why))) {
		d->nrefused++;
		dial_note_failure(d, why);
		dial_next_addr(d);
		return;
	}
	err = dial_socket(d, d->ai_cur);
	if (err != 0) {
		dial_note_failure(d, strerror(err));
		dial_next_addr(d);
		return;
	}
	if (d->ev != NULL)
		event_free(d->ev);
	d->ev = event_new(d->base, d->fd, EV_WRITE, dial_connect_ready, d);
	tv.tv_sec = d->o.timeout_ms / 1000;
	tv.tv_usec = (d->o.timeout_ms % 1000) * 1000;
	if (d->ev == NULL || event_add(d->ev, &tv) != 0) {
		dial_finish(d, DIAL_ETCP, "out of memory");
		return;
	}
}

static void dial_proxy_connect(struct dial *d);

static void
dial_connect_ready(evutil_socket_t fd, short what, void *arg)
{
	struct dial	*d = arg;
	int		 err = 0;
	socklen_t	 len = sizeof(err);
	char		 a[80];

	if (what & EV_TIMEOUT) {
		d->timed_out = true;
		dial_note_failure(d, "no answer (timed out)");
		dial_next_addr(d);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0) {
		dial_note_failure(d, strerror(err));
		dial_next_addr(d);
		return;
	}
	dial_format_addr(d->ai_cur->ai_addr, a, sizeof(a));
	dial_step_end(d, true, "connected to %s%s", d->route.kind == ROUTE_PROXY
	    ? "proxy " : "", a);
	if (d->route.kind == ROUTE_PROXY && !d->o.plain_http) {
		dial_proxy_connect(d);
		return;
	}
	dial_finish(d, DIAL_OK, "connected");
}

/*
 * Squid says why a CONNECT failed in X-Squid-Error ("ERR_DNS_FAIL 0",
 * "ERR_CONNECT_FAIL 111"). When it does, the failure is the target's, not
 * the proxy's, and is reported as such so that the verdict names the real
 * problem whichever path was taken.
 */
static enum dial_error
dial_squid_error(const char *e, const char **what)
{
	if (strncmp(e, "ERR_DNS_FAIL", 12) == 0) {
		*what = "the proxy cannot resolve";
		return DIAL_EDNS;
	}
	if (strncmp(e, "ERR_CONNECT_FAIL", 16) == 0) {
		*what = "the proxy cannot connect to";
		return strstr(e, " 110") != NULL ? DIAL_ETIMEOUT : DIAL_ETCP;
	}
	if (strncmp(e, "ERR_READ_TIMEOUT", 16) == 0 ||
	    strncmp(e, "ERR_CONNECT_TIMEOUT", 19) == 0) {
		*what = "the proxy timed out reaching";
		return DIAL_ETIMEOUT;
	}
	if (strncmp(e, "ERR_ACCESS_DENIED", 17) == 0) {
		*what = "the proxy's access rules deny";
		return DIAL_EPROXY_DENIED;
	}
	return DIAL_EPROXY_ERROR;
}

static void
dial_proxy_reply(struct dial *d, const struct http_resp *r, size_t extra)
{
	const char	*what = "the proxy refused";
	const char	*url = d->route.proxy->url;
	enum dial_error	 e;

	dial_step_end(d, r->status / 100 == 2, "HTTP/1.%d %d %s%s%s",
	    r->version_minor, r->status, r->reason, r->squid_error[0] ?
	    " X-Squid-Error: " : "", r->squid_error);
	if (r->status / 100 == 2 && extra == 0) {
		dial_finish(d, DIAL_OK, "connected through %s", url);
		return;
	}
	if (r->status / 100 == 2) {
		dial_finish(d, DIAL_EPROXY_ERROR, "the proxy %s sent %zu bytes "
		    "after its reply to CONNECT, before any TLS: it is not a "
		    "plain HTTP proxy", url, extra);
		return;
	}
	if (r->status == 407) {
		dial_finish(d, DIAL_EPROXY_DENIED, "the proxy %s requires "
		    "authentication (407); uplink uses unauthenticated proxies "
		    "only: allow this machine without authentication", url);
		return;
	}
	e = r->squid_error[0] ? dial_squid_error(r->squid_error, &what) :
	    r->status == 403 || r->status == 401 ? DIAL_EPROXY_DENIED :
	    DIAL_EPROXY_ERROR;
	if (e == DIAL_EPROXY_ERROR)
		what = "the proxy failed to reach";
	dial_finish(d, e, "%s %s:%u (proxy %s answered %d %s%s%s)", what,
	    d->host, d->o.port, url, r->status, r->reason, r->squid_error[0] ?
	    ", " : "", r->squid_error);
}

static void
dial_proxy_read(struct bufferevent *bev, void *arg)
{
	struct dial	*d = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct http_resp resp;
	size_t		 len = evbuffer_get_length(in);
	const char	*data;
	int		 rc;

	data = (const char *)evbuffer_pullup(in, -1);
	rc = httpresp_parse_head(data, len, HTTPRESP_HEAD_MAX, &resp);
	if (rc == UPLINK_EAGAIN)
		return;
	if (rc != UPLINK_OK) {
		dial_step_end(d, false, "unreadable reply: %s", resp.why);
		dial_finish(d, DIAL_EPROXY_ERROR, "the proxy %s did not answer "
		    "CONNECT with HTTP: %s", d->route.proxy->url, resp.why);
		return;
	}
	bufferevent_disable(bev, EV_READ);
	dial_proxy_reply(d, &resp, len - resp.head_len);
}

static void
dial_proxy_event(struct bufferevent *bev, short what, void *arg)
{
	struct dial	*d = arg;
	const char	*url = d->route.proxy->url;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT) {
		dial_step_end(d, false, "no reply within %d ms", d->o.timeout_ms);
		dial_finish(d, DIAL_ETIMEOUT, "the proxy %s did not answer "
		    "CONNECT %s:%u within %d ms", url, d->host, d->o.port,
		    d->o.timeout_ms);
		return;
	}
	dial_step_end(d, false, "connection closed before a reply");
	dial_finish(d, DIAL_EPROXY_ERROR, "the proxy %s closed the connection "
	    "without answering CONNECT %s:%u%s%s", url, d->host, d->o.port,
	    (what & BEV_EVENT_ERROR) ? ": " : "",
	    (what & BEV_EVENT_ERROR) ? strerror(EVUTIL_SOCKET_ERROR()) : "");
}

static void
dial_proxy_connect(struct dial *d)
{
	struct timeval	 tv;
	char		 target[300];

	dial_step_begin(d, "proxy-connect");
	event_free(d->ev);
	d->ev = NULL;
	d->bev = bufferevent_socket_new(d->base, d->fd, 0);
	if (d->bev == NULL) {
		dial_finish(d, DIAL_EPROXY_ERROR, "out of memory");
		return;
	}
	hostport_format(target, sizeof(target), d->host, d->o.port);
	evbuffer_add_printf(bufferevent_get_output(d->bev),
	    "CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: uplink-connector\r\n"
	    "\r\n", target, target);
	tv.tv_sec = d->o.timeout_ms / 1000;
	tv.tv_usec = (d->o.timeout_ms % 1000) * 1000;
	bufferevent_set_timeouts(d->bev, &tv, &tv);
	bufferevent_setwatermark(d->bev, EV_READ, 0, HTTPRESP_HEAD_MAX);
	bufferevent_setcb(d->bev, dial_proxy_read, NULL, dial_proxy_event, d);
	bufferevent_enable(d->bev, EV_READ | EV_WRITE);
}

static void
dial_kick(evutil_socket_t fd, short what, void *arg)
{
	struct dial	*d = arg;
	char		 desc[400];

	(void)fd;
	(void)what;
	dial_step_begin(d, "route");
	route_decide(d->o.routes, d->host, d->o.port, &d->route);
	route_describe(&d->route, desc, sizeof(desc));
	dial_step_end(d, true, "%s", desc);
	dial_resolve(d);
}

struct dial *
dial_start(struct event_base *base, struct evdns_base *dns,
    const struct dial_opts *opts, dial_step_cb *step, dial_done_cb *done,
    void *arg)
{
	struct dial	*d;
	struct timeval	 zero = { 0, 0 };

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->base = base;
	d->dns = dns;
	d->o = *opts;
	snprintf(d->host, sizeof(d->host), "%s", opts->host);
	d->o.host = d->host;
	if (d->o.timeout_ms <= 0)
		d->o.timeout_ms = 5000;
	d->step_cb = step;
	d->done_cb = done;
	d->arg = arg;
	d->fd = -1;
	d->ev = evtimer_new(base, dial_kick, d);
	if (d->ev == NULL || evtimer_add(d->ev, &zero) != 0) {
		dial_free(d);
		return NULL;
	}
	return d;
}

void
dial_cancel(struct dial *d)
{
	if (d != NULL)
		dial_free(d);
}
