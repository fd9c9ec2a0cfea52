#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "addrcount.h"
#include "daemon.h"
#include "dial.h"
#include "error.h"
#include "front.h"
#include "headscan.h"
#include "keyfile.h"
#include "log.h"
#include "metrics.h"
#include "proxygate.h"
#include "router.h"
#include "tls.h"
#include "tunnel.h"
#include "xmalloc.h"

/*
 * The cloud's two public listeners (see docs/internals/front.md).
 *
 * The TLS listener (port 443 by default) carries two protocols, told apart
 * by ALPN during the handshake: connector tunnels ("uplink-tunnel/1", with
 * a client certificate) and HTTPS requests ("http/1.1": enrollment,
 * renewal, the API and the console). The handshake is done here, by hand,
 * so the connection can go to either side afterwards. The plain HTTP
 * listener (port 80: /ca.pem, /crl) is accepted here too.
 *
 * libevent 2.1's evhttp only takes connections from a listener, so both
 * kinds of HTTP connection are relayed to an evhttp of their own listening
 * on an AF_UNIX socket in a private directory (0700, made with mkdtemp,
 * removed at exit): there is no TCP hop another local process could join.
 * Each relay binds its socket to an abstract name the kernel picks
 * (autobind) before it connects; the handlers find the relay of a request
 * by the peer name of the evhttp connection's socket (and check that its
 * SO_PEERCRED process is this one), so who the client was (address,
 * certificate) is bound to the connection itself, never to a port number.
 *
 * Against exhaustion: per-address and total caps on both listeners
 * (tunnels are never counted: connectors often share one proxy address), a
 * per-address cap on handshakes in progress, a short deadline for the first
 * byte of the ClientHello and a longer one for the whole handshake, and an
 * absolute deadline for each request head, enforced by the relay (evhttp
 * 2.1 only has idle timeouts). Every connection ends in one close function
 * that logs its reason with the connection's id ("s12" for TLS, "p7" for
 * plain HTTP).
 */

#define FRONT_RELAY_BUF		(64 * 1024)
#define FRONT_WRITE_SECS	75	/* a client that reads nothing */
#define FRONT_NOTE_BURST	20	/* notable lines per FRONT_NOTE_MS */
#define FRONT_NOTE_MS		10000

/* The caps and deadlines in force (cloud.conf [limits], or derived). */
struct front_limits {
	unsigned		 tls_total, tls_per_addr, hs_per_addr;
	unsigned		 http_total, http_per_addr;
	long			 first_byte_ms, handshake_ms, head_ms;
};

struct handshake {
	struct front		*f;
	LIST_ENTRY(handshake)	 entry;
	evutil_socket_t		 fd;
	SSL			*ssl;
	struct event		*ev;
	long			 start;
	struct sockaddr_storage	 sa;
	char			 id[16];
	char			 peer[64];
};

enum relay_kind { RELAY_HTTPS, RELAY_HTTP };

struct relay {
	struct front		*f;
	LIST_ENTRY(relay)	 entry;
	struct bufferevent	*cl, *in;	/* the client, the internal server */
	enum relay_kind		 kind;
	X509			*cert;
	struct sockaddr_storage	 sa;		/* the client's (its slot) */
	struct sockaddr_un	 name;		/* in's autobound name */
	socklen_t		 namelen;
	struct event		*head_ev;	/* the request head's deadline */
	struct headscan		 scan;
	bool			 closing;
	const char		*why;		/* of a close once flushed */
	char			 id[16];
	char			 peer[64];
};

/* An internal evhttp on an AF_UNIX socket. */
struct inner {
	struct sockaddr_un	 sun;
	socklen_t		 len;
	bool			 bound;
};

struct front {
	struct cloud		*c;
	struct evconnlistener	*lev, *http_lev;
	struct inner		 api_in, http_in;
	char			 dir[128];	/* the private directory */
	LIST_HEAD(, handshake)	 hs;
	LIST_HEAD(, relay)	 relays;
	unsigned		 nhs, seq;
	struct front_limits	 lim;
	struct addrcount	*tls_ac;	/* handshakes + HTTPS relays */
	struct addrcount	*hs_ac;		/* handshakes */
	struct addrcount	*http_ac;	/* port 80 relays */
	unsigned long		 refused;
	struct log_rate		 refuse_rate;	/* refusals */
	struct log_rate		 close_rate;	/* notable closes */
};

static const unsigned char alpn_tunnel[] = "\x0f" TUNNEL_ALPN;
static const unsigned char alpn_http[] = "\x08http/1.1";

/*
 * A tunnel gets no TLS 1.3 session tickets: connectors never resume (each
 * tunnel is a full handshake with the connector's certificate), and two
 * tickets per handshake, made by the cloud and parsed by the connector,
 * were waste. 10,000 tunnels opened in 8-10 s instead of 11-12 and were
 * back after a restart in 8 s instead of 16-20 (bench/cluster). Browsers
 * and API clients (http/1.1) still get them.
 */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned inlen, void *arg)
{
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, alpn_tunnel,
	    sizeof(alpn_tunnel) - 1, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
		(void)SSL_set_num_tickets(ssl, 0);
		return SSL_TLSEXT_ERR_OK;
	}
	if (SSL_select_next_proto((unsigned char **)out, outlen, alpn_http,
	    sizeof(alpn_http) - 1, in, inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_NOACK;
}

/*
 * Client certificates are asked for but not required (enrollment comes
 * without one); one that is sent must chain to the uplink CA.
 */
SSL_CTX *
front_tls_ctx(struct cloud *c, char *err, size_t errlen)
{
	SSL_CTX		*ctx;
	char		 cert[CLOUDCONF_PATH_MAX + 16], key[CLOUDCONF_PATH_MAX + 16];
	char		 detail[256];
	STACK_OF(X509_NAME) *names;

	snprintf(cert, sizeof(cert), "%s", c->cfg.cert);
	snprintf(key, sizeof(key), "%s", c->cfg.key);
	if (cert[0] == '\0')
		snprintf(cert, sizeof(cert), "%s/server.pem", c->dd.dir);
	if (key[0] == '\0')
		snprintf(key, sizeof(key), "%s/server.key", c->dd.dir);
	if (keyfile_check_mode(key, "the key of the TLS listener", err,
	    errlen) != UPLINK_OK)
		return NULL;
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (tls_ctx_aead_only(ctx, err, errlen) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_errors(detail, sizeof(detail));
		snprintf(err, errlen, "%s: cannot use the certificate chain: %s; "
		    "set cert= in [cloud] to a PEM chain (leaf first)", cert,
		    detail);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_errors(detail, sizeof(detail));
		snprintf(err, errlen, "%s: cannot use the private key for %s: %s",
		    key, cert, detail);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), c->dd.ca_cert) != 1)
		goto fail;
	names = sk_X509_NAME_new_null();
	if (names != NULL) {
		sk_X509_NAME_push(names,
		    X509_NAME_dup(X509_get_subject_name(c->dd.ca_cert)));
		SSL_CTX_set_client_CA_list(ctx, names);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, NULL);
	SSL_CTX_set_verify_depth(ctx, 4);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"uplink", 6);
	return ctx;
fail:
	tls_errors(detail, sizeof(detail));
	snprintf(err, errlen, "cannot set up TLS: %s", detail);
	SSL_CTX_free(ctx);
	return NULL;
}

/* ---- HTTPS relay to evhttp ---- */

static void front_note(struct log_rate *lr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * A line about one connection that an administrator may want to see (a
 * refusal, a deadline): info level, at most FRONT_NOTE_BURST lines per
 * FRONT_NOTE_MS for each kind (lr) so that a flood cannot fill the disk,
 * nor one kind of line hide the others.
 */
static void
front_note(struct log_rate *lr, const char *fmt, ...)
{
	va_list		 ap;
	char		 line[512];
	unsigned	 more;

	if (!log_rate_allow(lr, FRONT_NOTE_BURST, FRONT_NOTE_MS, &more))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (more > 0)
		log_info("%s (%u similar lines not shown)", line, more);
	else
		log_info("%s", line);
}

/* ---- relays to the internal servers ---- */

static struct addrcount *
relay_counter(struct relay *r)
{
	return r->kind == RELAY_HTTPS ? r->f->tls_ac : r->f->http_ac;
}

/*
 * The one end of a relay: frees both sides, gives back the client's slot
 * and logs why, at info level when notable (rate-limited), else debug.
 */
static void
relay_close(struct relay *r, bool notable, const char *why)
{
	struct front	*f = r->f;

	LIST_REMOVE(r, entry);
	addrcount_release(relay_counter(r), (struct sockaddr *)&r->sa);
	if (notable)
		front_note(&f->close_rate, "%s: %s: closed: %s", r->id, r->peer, why);
	else
		log_debug("%s: %s: closed: %s", r->id, r->peer, why);
	if (r->cl != NULL)
		bufferevent_free(r->cl);
	if (r->in != NULL)
		bufferevent_free(r->in);
	if (r->head_ev != NULL)
		event_free(r->head_ev);
	X509_free(r->cert);
	free(r);
}

static struct bufferevent *
relay_other(struct relay *r, struct bufferevent *bev)
{
	return bev == r->cl ? r->in : r->cl;
}

static void
relay_arm(struct relay *r)
{
	struct timeval	 tv;

	tv.tv_sec = r->f->lim.head_ms / 1000;
	tv.tv_usec = (r->f->lim.head_ms % 1000) * 1000;
	evtimer_add(r->head_ev, &tv);
}

/*
 * Looks at what the client sent before it goes on: a head that starts arms
 * its deadline, one that ends disarms it.
 */
static void
relay_watch(struct relay *r, struct evbuffer *buf)
{
	struct evbuffer_iovec	*v;
	int			 n, i;
	unsigned		 done = 0;

	n = evbuffer_peek(buf, -1, NULL, NULL, 0);
	if (n <= 0)
		return;
	v = xcalloc((size_t)n, sizeof(*v));
	n = evbuffer_peek(buf, -1, NULL, v, n);
	for (i = 0; i < n; i++)
		done += headscan_feed(&r->scan, v[i].iov_base, v[i].iov_len);
	free(v);
	if (r->scan.state != HEADSCAN_HEAD)
		evtimer_del(r->head_ev);
	else if (done > 0 || !evtimer_pending(r->head_ev, NULL))
		relay_arm(r);
}

static void
relay_head_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay	*r = arg;
	char		 why[128];

	(void)fd;
	(void)what;
	snprintf(why, sizeof(why), "the request head did not arrive within "
	    "%ld s (request_head_timeout in [limits])", r->f->lim.head_ms /
	    1000);
	relay_close(r, true, why);
}

static void
relay_read_cb(struct bufferevent *bev, void *arg)
{
	struct relay		*r = arg;
	struct bufferevent	*to = relay_other(r, bev);
	struct evbuffer		*in = bufferevent_get_input(bev);

	if (bev == r->cl && r->scan.state != HEADSCAN_OFF)
		relay_watch(r, in);
	bufferevent_write_buffer(to, in);
	if (evbuffer_get_length(bufferevent_get_output(to)) >= FRONT_RELAY_BUF)
		bufferevent_disable(bev, EV_READ);
}

static void
relay_write_cb(struct bufferevent *bev, void *arg)
{
	struct relay		*r = arg;
	struct bufferevent	*from = relay_other(r, bev);

	if (r->closing) {
		relay_close(r, false, r->why);
		return;
	}
	bufferevent_enable(from, EV_READ);
}

static void
relay_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct relay		*r = arg;
	struct bufferevent	*to = relay_other(r, bev);
	const char		*who = bev == r->cl ? "the client" :
	    "the internal server";
	char			 why[160], detail[128];

	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_TIMEOUT) {
		snprintf(why, sizeof(why), "the client read nothing for %d s",
		    FRONT_WRITE_SECS);
		relay_close(r, true, why);
		return;
	}
	if ((what & BEV_EVENT_EOF) && !r->closing) {
		/* Pass on what is left, then close both. */
		r->why = bev == r->cl ? "the client closed the connection" :
		    "the internal server closed the connection";
		if (bev == r->cl && r->scan.state != HEADSCAN_OFF)
			relay_watch(r, bufferevent_get_input(bev));
		bufferevent_write_buffer(to, bufferevent_get_input(bev));
		if (evbuffer_get_length(bufferevent_get_output(to)) > 0) {
			r->closing = true;
			bufferevent_disable(bev, EV_READ);
			evtimer_del(r->head_ev);
			return;
		}
		relay_close(r, false, r->why);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		relay_close(r, false, r->why);
		return;
	}
	if (r->kind == RELAY_HTTPS && bev == r->cl)
		tls_errors(detail, sizeof(detail));
	else
		detail[0] = '\0';
	snprintf(why, sizeof(why), "error from %s: %s", who, detail[0] ?
	    detail : strerror(EVUTIL_SOCKET_ERROR()));
	relay_close(r, false, why);
}

/*
 * Connects a new socket to the internal server, bound first to an abstract
 * name the kernel chooses: the name the server sees as its peer, by which
 * the handlers find this relay.
 */
static int
relay_connect(struct relay *r, const struct inner *in, char *why,
    size_t whylen)
{
	struct sockaddr_un	 me;
	evutil_socket_t		 fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(why, whylen, "cannot open a socket to the internal "
		    "server: %s", strerror(errno));
		return -1;
	}
	memset(&me, 0, sizeof(me));
	me.sun_family = AF_UNIX;
	r->namelen = sizeof(r->name);
	if (bind(fd, (struct sockaddr *)&me, sizeof(sa_family_t)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&r->name, &r->namelen) == -1) {
		snprintf(why, whylen, "cannot name the socket to the internal "
		    "server: %s", strerror(errno));
		close(fd);
		return -1;
	}
	r->in = bufferevent_socket_new(r->f->c->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (r->in == NULL) {
		close(fd);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (bufferevent_socket_connect(r->in, (const struct sockaddr *)&in->sun,
	    (int)in->len) == -1) {
		snprintf(why, whylen, "cannot reach the internal server at %s: "
		    "%s", in->sun.sun_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Relays the client's connection cl (TLS or plain) to its internal server. */
static void
relay_start(struct front *f, enum relay_kind kind, struct bufferevent *cl,
    X509 *cert, const struct sockaddr_storage *sa, const char *peer,
    const char *id)
{
	struct relay	*r;
	struct timeval	 wtv = { FRONT_WRITE_SECS, 0 };
	char		 why[256];

	r = xcalloc(1, sizeof(*r));
	r->f = f;
	r->kind = kind;
	r->cl = cl;
	r->cert = cert;
	r->sa = *sa;
	snprintf(r->peer, sizeof(r->peer), "%s", peer);
	snprintf(r->id, sizeof(r->id), "%s", id);
	headscan_init(&r->scan);
	LIST_INSERT_HEAD(&f->relays, r, entry);
	r->head_ev = evtimer_new(f->c->base, relay_head_cb, r);
	if (r->head_ev == NULL)
		fatalx("out of memory");
	if (relay_connect(r, kind == RELAY_HTTPS ? &f->api_in : &f->http_in,
	    why, sizeof(why)) == -1) {
		relay_close(r, true, why);
		return;
	}
	bufferevent_setcb(r->cl, relay_read_cb, relay_write_cb, relay_event_cb,
	    r);
	bufferevent_setcb(r->in, relay_read_cb, relay_write_cb, relay_event_cb,
	    r);
	bufferevent_set_timeouts(r->cl, NULL, &wtv);
	bufferevent_enable(r->cl, EV_READ | EV_WRITE);
	bufferevent_enable(r->in, EV_READ | EV_WRITE);
	relay_arm(r);
	if (evbuffer_get_length(bufferevent_get_input(cl)) > 0)
		relay_read_cb(cl, r);
}

/*
 * The relay that sent req, or NULL: the evhttp connection's socket must
 * belong to this process (SO_PEERCRED) and its peer be a relay's name.
 */
static struct relay *
relay_of(struct cloud *c, struct evhttp_request *req)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	struct sockaddr_un		 peer;
	struct ucred			 cred;
	socklen_t			 len = sizeof(cred);
	evutil_socket_t			 fd;
	struct relay			*r;

	evcon = evhttp_request_get_connection(req);
	if (evcon == NULL || c->front == NULL)
		return NULL;
	bev = evhttp_connection_get_bufferevent(evcon);
	fd = bev != NULL ? bufferevent_getfd(bev) : -1;
	if (fd == -1 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred,
	    &len) == -1 || cred.pid != getpid())
		return NULL;
	len = sizeof(peer);
	memset(&peer, 0, sizeof(peer));
	if (getpeername(fd, (struct sockaddr *)&peer, &len) == -1 ||
	    peer.sun_family != AF_UNIX ||
	    len <= offsetof(struct sockaddr_un, sun_path) + 1 ||
	    peer.sun_path[0] != '\0')
		return NULL;
	LIST_FOREACH(r, &c->front->relays, entry)
		if (r->namelen == len && memcmp(&r->name, &peer, len) == 0)
			return r;
	return NULL;
}

bool
front_peer(struct cloud *c, struct evhttp_request *req, const char **addr,
    X509 **cert)
{
	struct relay	*r = relay_of(c, req);

	if (r == NULL || r->kind != RELAY_HTTPS)
		return false;
	*addr = r->peer;
	*cert = r->cert;
	return true;
}

bool
front_http_peer(struct cloud *c, struct evhttp_request *req)
{
	struct relay	*r = relay_of(c, req);

	return r != NULL && r->kind == RELAY_HTTP;
}

/*
 * A request no relay of ours sent: the socket is shut down first, so the
 * error evhttp then writes goes nowhere and it drops the connection.
 */
void
front_refuse(struct cloud *c, struct evhttp_request *req)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	evutil_socket_t			 fd = -1;

	evcon = evhttp_request_get_connection(req);
	bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
	if (bev != NULL)
		fd = bufferevent_getfd(bev);
	if (c->front != NULL)
		front_note(&c->front->close_rate, "internal HTTP server: a connection that "
		    "no relay of this process made sent a request; closed "
		    "without an answer");
	if (fd != -1)
		shutdown(fd, SHUT_RDWR);
	evhttp_send_error(req, 403, NULL);
}

/* ---- handshakes ---- */

static void
handshake_unlink(struct handshake *h)
{
	struct front	*f = h->f;

	LIST_REMOVE(h, entry);
	f->nhs--;
	addrcount_release(f->hs_ac, (struct sockaddr *)&h->sa);
	event_free(h->ev);
}

/*
 * The one end of a handshake that did not finish: closes the socket, gives
 * back both slots, logs why (notable: info, rate-limited; else debug).
 */
static void
handshake_close(struct handshake *h, bool notable, const char *why)
{
	handshake_unlink(h);
	addrcount_release(h->f->tls_ac, (struct sockaddr *)&h->sa);
	metrics_handshake(notable ? METRICS_HS_FAILED : METRICS_HS_CLOSED);
	if (notable)
		front_note(&h->f->close_rate, "%s: %s: closed: %s", h->id, h->peer, why);
	else
		log_debug("%s: %s: closed: %s", h->id, h->peer, why);
	SSL_free(h->ssl);
	close(h->fd);
	free(h);
}

static void
handshake_done(struct handshake *h)
{
	struct front		*f = h->f;
	struct bufferevent	*bev;
	const unsigned char	*alpn;
	unsigned		 alpnlen;
	X509			*cert;
	struct sockaddr_storage	 sa;
	char			 peer[64], id[16];

	metrics_handshake(METRICS_HS_OK);
	SSL_get0_alpn_selected(h->ssl, &alpn, &alpnlen);
	bev = bufferevent_openssl_socket_new(f->c->base, h->fd, h->ssl,
	    BUFFEREVENT_SSL_OPEN, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		handshake_close(h, true, "out of memory after the handshake");
		return;
	}
	cert = SSL_get1_peer_certificate(h->ssl);
	sa = h->sa;
	snprintf(peer, sizeof(peer), "%s", h->peer);
	snprintf(id, sizeof(id), "%s", h->id);
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	handshake_unlink(h);
	free(h);
	if (alpnlen == sizeof(TUNNEL_ALPN) - 1 &&
	    memcmp(alpn, TUNNEL_ALPN, alpnlen) == 0) {
		/* Tunnels are not counted: the router has its own limits. */
		addrcount_release(f->tls_ac, (struct sockaddr *)&sa);
		log_debug("%s: %s: TLS done, a tunnel", id, peer);
		router_accept(f->c->router, bev, cert, peer);
		X509_free(cert);
	} else
		relay_start(f, RELAY_HTTPS, bev, cert, &sa, peer, id);
}

static void handshake_cb(evutil_socket_t fd, short what, void *arg);

static void
handshake_step(struct handshake *h)
{
	struct timeval	 tv;
	long		 left;
	bool		 started;
	int		 rv, e;
	char		 detail[256], why[320];

	ERR_clear_error();
	rv = SSL_do_handshake(h->ssl);
	if (rv == 1) {
		handshake_done(h);
		return;
	}
	e = SSL_get_error(h->ssl, rv);
	if ((e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) &&
	    ERR_peek_error() == 0) {
		/*
		 * Closed without a word: a browser's spare connection, a port
		 * probe. Nothing an administrator can act on.
		 */
		handshake_close(h, false, "closed by the client during the TLS "
		    "handshake");
		return;
	}
	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
		tls_errors(detail, sizeof(detail));
		snprintf(why, sizeof(why), "TLS handshake failed: %s",
		    detail[0] ? detail : "connection closed");
		handshake_close(h, true, why);
		return;
	}
	/* Until the first byte of the ClientHello the shorter deadline holds. */
	started = BIO_number_read(SSL_get_rbio(h->ssl)) > 0;
	left = h->start + (started ? h->f->lim.handshake_ms :
	    h->f->lim.first_byte_ms) - dial_now_ms();
	if (left <= 0) {
		if (started)
			snprintf(why, sizeof(why), "TLS handshake not finished in "
			    "%ld s (tls_handshake_timeout in [limits])",
			    h->f->lim.handshake_ms / 1000);
		else
			snprintf(why, sizeof(why), "no ClientHello within %ld s "
			    "(tls_first_byte_timeout in [limits])",
			    h->f->lim.first_byte_ms / 1000);
		handshake_close(h, true, why);
		return;
	}
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	event_del(h->ev);
	event_assign(h->ev, h->f->c->base, h->fd,
	    e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE, handshake_cb, h);
	event_add(h->ev, &tv);
}

static void
handshake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	handshake_step(arg);
}

void
cloud_peer_name(const struct sockaddr *sa, char *dst, size_t dstlen)
{
	char	 host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, host,
		    sizeof(host));
		snprintf(dst, dstlen, "[%s]:%u", host, ntohs(
		    ((const struct sockaddr_in6 *)sa)->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    host, sizeof(host));
		snprintf(dst, dstlen, "%s:%u", host,
		    ntohs(((const struct sockaddr_in *)sa)->sin_port));
	} else
		snprintf(dst, dstlen, "local");
}

/* ---- accepting ---- */

/*
 * Takes a slot of ac for sa, or counts and logs the refusal. key names the
 * [limits] keys: key and key_per_address.
 */
static bool
front_admit(struct front *f, struct addrcount *ac, const struct sockaddr *sa,
    unsigned per_addr, const char *listener, const char *key,
    const char *what)
{
	char	 peer[64];

	if (addrcount_take(ac, sa) == 0)
		return true;
	f->refused++;
	cloud_peer_name(sa, peer, sizeof(peer));
	if (addrcount_get(ac, sa) >= per_addr)
		front_note(&f->refuse_rate, "%s: refused %s: %u %s from this address already "
		    "(%s_per_address in [limits]); %lu refused so far",
		    listener, peer, per_addr, what, key, f->refused);
	else
		front_note(&f->refuse_rate, "%s: refused %s: %u %s already (%s in [limits]); "
		    "%lu refused so far", listener, peer, addrcount_total(ac),
		    what, key, f->refused);
	return false;
}

static void
tls_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct front		*f = arg;
	struct handshake	*h;

	(void)lev;
	if (f->c->stopping || (size_t)salen > sizeof(h->sa)) {
		close(fd);
		return;
	}
	if (!front_admit(f, f->tls_ac, sa, f->lim.tls_per_addr,
	    "TLS listener", "tls_connections", "connections")) {
		close(fd);
		return;
	}
	if (!front_admit(f, f->hs_ac, sa, f->lim.hs_per_addr, "TLS listener",
	    "tls_handshakes", "handshakes in progress")) {
		addrcount_release(f->tls_ac, sa);
		close(fd);
		return;
	}
	h = xcalloc(1, sizeof(*h));
	h->f = f;
	h->fd = fd;
	memcpy(&h->sa, sa, (size_t)salen);
	snprintf(h->id, sizeof(h->id), "s%u", ++f->seq);
	cloud_peer_name(sa, h->peer, sizeof(h->peer));
	h->ssl = SSL_new(f->c->tls);
	h->ev = event_new(f->c->base, fd, EV_READ, handshake_cb, h);
	if (h->ssl == NULL || h->ev == NULL || SSL_set_fd(h->ssl, fd) != 1)
		fatalx("out of memory");
	SSL_set_accept_state(h->ssl);
	h->start = dial_now_ms();
	LIST_INSERT_HEAD(&f->hs, h, entry);
	f->nhs++;
	handshake_step(h);
}

static void
http_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct front		*f = arg;
	struct bufferevent	*bev;
	struct sockaddr_storage	 ss;
	char			 peer[64], id[16];

	(void)lev;
	if (f->c->stopping || (size_t)salen > sizeof(ss)) {
		close(fd);
		return;
	}
	if (!front_admit(f, f->http_ac, sa, f->lim.http_per_addr,
	    "HTTP listener", "http_connections", "connections")) {
		close(fd);
		return;
	}
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, sa, (size_t)salen);
	bev = bufferevent_socket_new(f->c->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		fatalx("out of memory");
	cloud_peer_name(sa, peer, sizeof(peer));
	snprintf(id, sizeof(id), "p%u", ++f->seq);
	relay_start(f, RELAY_HTTP, bev, NULL, &ss, peer, id);
}

/* ---- setting up ---- */

/*
 * A cap not set in cloud.conf: def, or less when the descriptor limit is
 * small, so that the listener's connections cannot use up more than a
 * share of it (an HTTPS or HTTP connection costs three descriptors).
 */
static unsigned
front_cap(uint32_t set, unsigned def, unsigned nofile, unsigned share)
{
	unsigned	 budget = nofile / share;

	if (set != 0)
		return set;
	if (budget < 16)
		budget = 16;
	return def < budget ? def : budget;
}

static unsigned
front_min(uint32_t set, unsigned def, unsigned total)
{
	if (set != 0)
		return set;
	return def < total ? def : total;
}

static void
front_limits(struct front *f)
{
	const struct cloud_config	*cfg = &f->c->cfg;
	struct front_limits		*l = &f->lim;
	unsigned			 nofile = f->c->nofile ? f->c->nofile :
	    1024;

	l->tls_total = front_cap(cfg->tls_connections, 4096, nofile, 16);
	l->tls_per_addr = front_min(cfg->tls_connections_per_address, 256,
	    l->tls_total);
	l->hs_per_addr = front_min(cfg->tls_handshakes_per_address, 64,
	    l->tls_total);
	l->http_total = front_cap(cfg->http_connections, 1024, nofile, 16);
	l->http_per_addr = front_min(cfg->http_connections_per_address, 64,
	    l->http_total);
	l->handshake_ms = (long)cfg->tls_handshake_timeout * 1000;
	l->first_byte_ms = (long)cfg->tls_first_byte_timeout * 1000;
	if (l->first_byte_ms > l->handshake_ms)
		l->first_byte_ms = l->handshake_ms;
	l->head_ms = (long)cfg->request_head_timeout * 1000;
	f->tls_ac = addrcount_new(l->tls_per_addr, l->tls_total);
	f->hs_ac = addrcount_new(l->hs_per_addr, 0);
	f->http_ac = addrcount_new(l->http_per_addr, l->http_total);
}

/* The private directory of the internal sockets: 0700, made by mkdtemp. */
static int
front_rundir(struct front *f, char *err, size_t errlen)
{
	const char	*tmp = getenv("TMPDIR");

	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 64)
		tmp = "/tmp";
	snprintf(f->dir, sizeof(f->dir), "%s/uplink-cloud.XXXXXX", tmp);
	if (mkdtemp(f->dir) == NULL) {
		snprintf(err, errlen, "cannot make a private directory %s for "
		    "the internal sockets: %s; set TMPDIR to a writable "
		    "directory", f->dir, strerror(errno));
		f->dir[0] = '\0';
		return -1;
	}
	return 0;
}

/* evhttp http listens on DIR/name, which only this process connects to. */
static int
front_inner(struct front *f, struct inner *in, struct evhttp *http,
    const char *name, char *err, size_t errlen)
{
	struct evconnlistener	*lev;
	char			 what[96];

	memset(&in->sun, 0, sizeof(in->sun));
	in->sun.sun_family = AF_UNIX;
	snprintf(in->sun.sun_path, sizeof(in->sun.sun_path), "%s/%s", f->dir,
	    name);
	in->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(in->sun.sun_path) + 1);
	lev = evconnlistener_new_bind(f->c->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 1024,
	    (struct sockaddr *)&in->sun, (int)in->len);
	if (lev == NULL) {
		snprintf(err, errlen, "cannot listen on %s (the internal HTTP "
		    "server): %s", in->sun.sun_path, strerror(errno));
		return -1;
	}
	in->bound = true;
	if (evhttp_bind_listener(http, lev) == NULL) {
		evconnlistener_free(lev);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(what, sizeof(what), "the internal HTTP server %s",
	    in->sun.sun_path);
	cloud_listen_guard(f->c, lev, what);
	return 0;
}

int
front_start(struct cloud *c, char *err, size_t errlen)
{
	struct front	*f;

	c->tls = front_tls_ctx(c, err, errlen);
	if (c->tls == NULL)
		return -1;
	f = xcalloc(1, sizeof(*f));
	f->c = c;
	c->front = f;
	front_limits(f);
	if (front_rundir(f, err, errlen) == -1 ||
	    front_inner(f, &f->api_in, c->api, "https.sock", err, errlen) == -1)
		return -1;
	if (c->http != NULL && front_inner(f, &f->http_in, c->http,
	    "http.sock", err, errlen) == -1)
		return -1;
	f->lev = cloud_listen_ext(c, &c->cfg.listen, LISTEN_PROXY |
	    LISTEN_CLIENT_FIRST, tls_accept_cb, f,
	    "the TLS listener (listen in [cloud])", err, errlen);
	if (f->lev == NULL)
		return -1;
	if (c->http != NULL) {
		f->http_lev = cloud_listen_ext(c, &c->cfg.http_listen,
		    LISTEN_PROXY | LISTEN_CLIENT_FIRST, http_accept_cb, f, "the HTTP listener (http_listen in "
		    "[cloud])", err, errlen);
		if (f->http_lev == NULL)
			return -1;
	}
	log_info("listeners: TLS %u connections besides tunnels, %u per "
	    "address, %u handshakes in progress per address; HTTP %u "
	    "connections, %u per address; %u descriptors", f->lim.tls_total,
	    f->lim.tls_per_addr, f->lim.hs_per_addr, f->lim.http_total,
	    f->lim.http_per_addr, c->nofile);
	return 0;
}

void
front_free(struct front *f)
{
	if (f == NULL)
		return;
	cloud_listen_free(f->lev);
	cloud_listen_free(f->http_lev);
	while (!LIST_EMPTY(&f->hs))
		handshake_close(LIST_FIRST(&f->hs), false,
		    "the cloud is stopping");
	while (!LIST_EMPTY(&f->relays))
		relay_close(LIST_FIRST(&f->relays), false,
		    "the cloud is stopping");
	addrcount_free(f->tls_ac);
	addrcount_free(f->hs_ac);
	addrcount_free(f->http_ac);
	if (f->api_in.bound)
		unlink(f->api_in.sun.sun_path);
	if (f->http_in.bound)
		unlink(f->http_in.sun.sun_path);
	if (f->dir[0] != '\0' && rmdir(f->dir) == -1)
		log_warn("cannot remove %s", f->dir);
	free(f);
}

void
front_stop(struct front *f)
{
	if (f == NULL)
		return;
	/* Closed, not paused, as publish_stop() says why. */
	cloud_listen_free(f->lev);
	cloud_listen_free(f->http_lev);
	f->lev = NULL;
	f->http_lev = NULL;
}
