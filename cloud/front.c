#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "daemon.h"
#include "dial.h"
#include "error.h"
#include "keyfile.h"
#include "log.h"
#include "tls.h"
#include "tunnel.h"
#include "xmalloc.h"

/*
 * The TLS listener (port 443 by default) carries two protocols, told apart
 * by ALPN during the handshake: connector tunnels ("uplink-tunnel/1", with
 * a client certificate) and HTTPS requests ("http/1.1": enrollment,
 * renewal). The handshake is done here, by hand, so the connection can go
 * to either side afterwards. libevent's evhttp only takes connections from
 * a listener, so HTTPS connections are relayed, after TLS, to an evhttp
 * listening on a loopback port of its own; the relay remembers who the
 * client was (address, certificate) for the handlers, and a request that
 * did not come through a relay is refused by them.
 */

#define FRONT_HANDSHAKE_MS	10000
#define FRONT_MAX_HANDSHAKES	1024
#define FRONT_RELAY_BUF		(64 * 1024)

struct handshake {
	struct front		*f;
	struct handshake	*prev, *next;
	evutil_socket_t		 fd;
	SSL			*ssl;
	struct event		*ev;
	long			 deadline;
	char			 peer[64];
};

struct relay {
	struct front		*f;
	struct relay		*prev, *next;
	struct bufferevent	*tls, *api;
	uint16_t		 port;		/* our port towards evhttp */
	X509			*cert;
	bool			 closing;
	char			 peer[64];
};

struct front {
	struct cloud		*c;
	struct evconnlistener	*lev;
	struct sockaddr_in	 api_addr;
	struct handshake	*hs;
	struct relay		*relays;
	unsigned		 nhs;
};

static const unsigned char alpn_tunnel[] = "\x0f" TUNNEL_ALPN;
static const unsigned char alpn_http[] = "\x08http/1.1";

static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, alpn_tunnel,
	    sizeof(alpn_tunnel) - 1, in, inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
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

static void
relay_free(struct relay *r)
{
	struct front	*f = r->f;

	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		f->relays = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	if (r->tls != NULL)
		bufferevent_free(r->tls);
	if (r->api != NULL)
		bufferevent_free(r->api);
	X509_free(r->cert);
	free(r);
}

static struct bufferevent *
relay_other(struct relay *r, struct bufferevent *bev)
{
	return bev == r->tls ? r->api : r->tls;
}

static void
relay_read_cb(struct bufferevent *bev, void *arg)
{
	struct relay		*r = arg;
	struct bufferevent	*to = relay_other(r, bev);

	bufferevent_write_buffer(to, bufferevent_get_input(bev));
	if (evbuffer_get_length(bufferevent_get_output(to)) >= FRONT_RELAY_BUF)
		bufferevent_disable(bev, EV_READ);
}

static void
relay_write_cb(struct bufferevent *bev, void *arg)
{
	struct relay		*r = arg;
	struct bufferevent	*from = relay_other(r, bev);

	if (r->closing) {
		relay_free(r);
		return;
	}
	bufferevent_enable(from, EV_READ);
}

static void
relay_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct relay		*r = arg;
	struct bufferevent	*to = relay_other(r, bev);

	if (what & BEV_EVENT_CONNECTED)
		return;
	if ((what & BEV_EVENT_EOF) && !r->closing) {
		/* Pass on what is left, then close both. */
		bufferevent_write_buffer(to, bufferevent_get_input(bev));
		if (evbuffer_get_length(bufferevent_get_output(to)) > 0) {
			r->closing = true;
			bufferevent_disable(bev, EV_READ);
			return;
		}
	}
	relay_free(r);
}

static void
relay_start(struct front *f, struct bufferevent *tls, X509 *cert,
    const char *peer)
{
	struct relay		*r;
	struct sockaddr_in	 local;
	socklen_t		 len = sizeof(local);

	r = xcalloc(1, sizeof(*r));
	r->f = f;
	r->tls = tls;
	r->cert = cert;
	snprintf(r->peer, sizeof(r->peer), "%s", peer);
	r->next = f->relays;
	if (f->relays != NULL)
		f->relays->prev = r;
	f->relays = r;
	r->api = bufferevent_socket_new(f->c->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (r->api == NULL || bufferevent_socket_connect(r->api,
	    (struct sockaddr *)&f->api_addr, sizeof(f->api_addr)) == -1 ||
	    getsockname(bufferevent_getfd(r->api), (struct sockaddr *)&local,
	    &len) == -1) {
		log_warn("%s: cannot reach the internal HTTP server", peer);
		relay_free(r);
		return;
	}
	r->port = ntohs(local.sin_port);
	bufferevent_setcb(r->tls, relay_read_cb, relay_write_cb, relay_event_cb, r);
	bufferevent_setcb(r->api, relay_read_cb, relay_write_cb, relay_event_cb, r);
	bufferevent_enable(r->tls, EV_READ | EV_WRITE);
	bufferevent_enable(r->api, EV_READ | EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_input(tls)) > 0)
		relay_read_cb(tls, r);
}

bool
front_peer(struct cloud *c, struct evhttp_request *req, const char **addr,
    X509 **cert)
{
	struct evhttp_connection	*evcon;
	struct relay			*r;
	char				*host;
	uint16_t			 port;

	evcon = evhttp_request_get_connection(req);
	if (evcon == NULL || c->front == NULL)
		return false;
	evhttp_connection_get_peer(evcon, &host, &port);
	for (r = c->front->relays; r != NULL; r = r->next) {
		if (r->port == port) {
			*addr = r->peer;
			*cert = r->cert;
			return true;
		}
	}
	return false;
}

/* ---- handshakes ---- */

static void
handshake_free(struct handshake *h, bool close_fd)
{
	struct front	*f = h->f;

	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		f->hs = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	f->nhs--;
	event_free(h->ev);
	if (close_fd) {
		SSL_free(h->ssl);
		close(h->fd);
	}
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
	char			 peer[64];

	SSL_get0_alpn_selected(h->ssl, &alpn, &alpnlen);
	cert = SSL_get1_peer_certificate(h->ssl);
	bev = bufferevent_openssl_socket_new(f->c->base, h->fd, h->ssl,
	    BUFFEREVENT_SSL_OPEN, BEV_OPT_CLOSE_ON_FREE);
	snprintf(peer, sizeof(peer), "%s", h->peer);
	if (bev == NULL) {
		X509_free(cert);
		handshake_free(h, true);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	handshake_free(h, false);
	if (alpnlen == sizeof(TUNNEL_ALPN) - 1 &&
	    memcmp(alpn, TUNNEL_ALPN, alpnlen) == 0) {
		router_accept(f->c->router, bev, cert, peer);
		X509_free(cert);
	} else
		relay_start(f, bev, cert, peer);
}

static void handshake_cb(evutil_socket_t fd, short what, void *arg);

static void
handshake_step(struct handshake *h)
{
	struct timeval	 tv;
	long		 left;
	int		 rv, e;
	char		 detail[256];

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
		log_debug("%s: closed during the TLS handshake", h->peer);
		handshake_free(h, true);
		return;
	}
	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
		tls_errors(detail, sizeof(detail));
		log_info("%s: TLS handshake failed: %s", h->peer,
		    detail[0] ? detail : "connection closed");
		handshake_free(h, true);
		return;
	}
	left = h->deadline - dial_now_ms();
	if (left <= 0) {
		log_info("%s: TLS handshake not finished in %d s", h->peer,
		    FRONT_HANDSHAKE_MS / 1000);
		handshake_free(h, true);
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

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct front		*f = arg;
	struct handshake	*h;

	(void)lev;
	(void)salen;
	if (f->nhs >= FRONT_MAX_HANDSHAKES || f->c->stopping) {
		close(fd);
		return;
	}
	h = xcalloc(1, sizeof(*h));
	h->f = f;
	h->fd = fd;
	cloud_peer_name(sa, h->peer, sizeof(h->peer));
	h->ssl = SSL_new(f->c->tls);
	if (h->ssl == NULL || SSL_set_fd(h->ssl, fd) != 1) {
		SSL_free(h->ssl);
		close(fd);
		free(h);
		return;
	}
	SSL_set_accept_state(h->ssl);
	h->deadline = dial_now_ms() + FRONT_HANDSHAKE_MS;
	h->ev = event_new(f->c->base, fd, EV_READ, handshake_cb, h);
	h->next = f->hs;
	if (f->hs != NULL)
		f->hs->prev = h;
	f->hs = h;
	f->nhs++;
	handshake_step(h);
}

/* evhttp listens on a loopback port that only the relay uses. */
static int
front_api_listener(struct front *f, char *err, size_t errlen)
{
	struct evconnlistener	*lev;
	socklen_t		 len = sizeof(f->api_addr);

	memset(&f->api_addr, 0, sizeof(f->api_addr));
	f->api_addr.sin_family = AF_INET;
	f->api_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lev = evconnlistener_new_bind(f->c->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128,
	    (struct sockaddr *)&f->api_addr, sizeof(f->api_addr));
	if (lev == NULL ||
	    getsockname(evconnlistener_get_fd(lev),
	    (struct sockaddr *)&f->api_addr, &len) == -1 ||
	    evhttp_bind_listener(f->c->api, lev) == NULL) {
		snprintf(err, errlen, "cannot open the internal HTTP listener on "
		    "127.0.0.1: %s", strerror(errno));
		return -1;
	}
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
	if (front_api_listener(f, err, errlen) == -1)
		return -1;
	f->lev = cloud_listen(c, &c->cfg.listen, accept_cb, f,
	    "the TLS listener (listen in [cloud])", err, errlen);
	if (f->lev == NULL)
		return -1;
	return 0;
}

void
front_free(struct front *f)
{
	if (f == NULL)
		return;
	if (f->lev != NULL)
		evconnlistener_free(f->lev);
	while (f->hs != NULL)
		handshake_free(f->hs, true);
	while (f->relays != NULL)
		relay_free(f->relays);
	free(f);
}

void
front_stop(struct front *f)
{
	if (f != NULL && f->lev != NULL)
		evconnlistener_disable(f->lev);
}
