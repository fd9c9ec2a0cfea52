#include <sys/queue.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cluster.h"
#include "daemon.h"
#include "dial.h"
#include "front.h"
#include "hostport.h"
#include "log.h"
#include "peer.h"
#include "pki.h"
#include "router.h"
#include "tls.h"
#include "tunnel.h"
#include "xmalloc.h"

/*
 * The peer links of a cluster (peer.h, docs/cluster.md "Forwarding").
 *
 * Outgoing links (struct peer_link) are the ones this instance dialled:
 * one per other live instance, dialled as soon as the instance appears in
 * cluster_instances() (scanned every PEER_SCAN_MS), so that the first
 * forwarded stream finds its link up and its health known; kept with
 * lib/tunnel's PING, re-dialled with a backoff from PEER_BACKOFF_MIN_MS
 * doubling to PEER_BACKOFF_MAX_MS, and closed when the instance leaves the
 * list. On them this instance is the tunnel's cloud: it opens streams.
 *
 * Incoming links (struct peer_in) were dialled by another instance; this
 * one answers their streams as a connector would, except that the answer
 * comes from its own connectors' tunnels (router_connect_here(), never
 * another peer: one hop at most). An answered stream is joined to the
 * connector's stream (tunnel_stream_join()): what one receives is sent on
 * by the other and credited back only as it goes, so the flow control
 * holds end to end and a forwarded stream holds at most the two receive
 * windows here, whatever the amount carried. (A socketpair between two
 * bound streams did the same for a third more CPU on this instance:
 * docs/cluster.md, "Forwarding".)
 */

#define PEER_SCAN_MS		1000
#define PEER_BACKOFF_MIN_MS	250
#define PEER_BACKOFF_MAX_MS	10000
#define PEER_HANDSHAKE_MS	10000
#define PEER_HANDSHAKES_MAX	64	/* incoming, before authentication */
#define PEER_INS_MAX		256	/* incoming links up */
#define PEER_CERT_SECS		(400 * 86400L)	/* renewed at each start */
/*
 * A link carries every stream forwarded between two instances, where a
 * tunnel carries one connector's share: more streams, and more of them
 * waiting for an answer, than [limits] allow a tunnel. Memory stays
 * bounded by the connection window (all streams together).
 */
#define PEER_MAX_STREAMS	100000
#define PEER_PENDING		10000

struct peers;

struct peer_link {
	struct peers		*p;
	LIST_ENTRY(peer_link)	 entry;
	char			 id[CLUSTER_ID_MAX + 1];
	char			 addr[CLUSTER_ADDR_MAX + 1];
	struct bufferevent	*bev;		/* connecting, handshaking */
	struct tunnel		*t;		/* up */
	struct event		*retry;
	int			 backoff_ms;
	bool			 seen;		/* listed at the last scan */
	bool			 logged_down;	/* the failure was logged */
};

struct peer_in {
	struct peers		*p;
	LIST_ENTRY(peer_in)	 entry;
	struct bufferevent	*bev;		/* handshaking */
	struct tunnel		*t;		/* up */
	char			 id[CLUSTER_ID_MAX + 1];
	char			 from[64];
};

/* A stream a peer asked for, while this instance's router finds it. */
struct peer_fwd {
	struct peers		*p;
	struct tunnel_stream	*s;
	struct router_conn	*rc;
};

/* A GET a peer asked of one of this instance's connectors. */
struct peer_get {
	struct tunnel_stream	*s;		/* NULL once the peer gave up */
};

struct peers {
	struct cloud		*c;
	struct tunnel_limits	 lim;		/* the links' */
	SSL_CTX			*srv, *cli;
	struct evconnlistener	*lev;
	struct evdns_base	*dns;
	struct event		*scan;
	LIST_HEAD(, peer_link)	 links;
	LIST_HEAD(, peer_in)	 ins;
	unsigned		 seq, handshakes, nins;
};

static const unsigned char peer_alpn[] = "\x0d" PEER_ALPN;

static struct peers *
peers_of(struct cloud *c)
{
	return c->peers;
}

/* ---- TLS ---- */

static int
peer_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, peer_alpn,
	    sizeof(peer_alpn) - 1, in, inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/*
 * One context per direction, both TLS 1.3 only, both presenting the
 * instance certificate and requiring the peer's, verified against the
 * cloud's CA (the instance purpose is checked after the handshake).
 */
static SSL_CTX *
peer_ctx(struct cloud *c, bool server, EVP_PKEY *key, X509 *cert, char *err,
    size_t errlen)
{
	SSL_CTX		*ctx;
	char		 detail[256];

	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	/*
	 * AES-128-GCM first (both ends are ours): fewer rounds than
	 * OpenSSL's default AES-256-GCM for the answering instance, which
	 * decrypts and encrypts every forwarded byte.
	 */
	if (SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:"
	    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") != 1)
		goto fail;
	if (server)
		SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx),
	    c->dd.ca_cert) != 1)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 2);
	if (server)
		SSL_CTX_set_alpn_select_cb(ctx, peer_alpn_select, NULL);
	else if (SSL_CTX_set_alpn_protos(ctx, peer_alpn,
	    sizeof(peer_alpn) - 1) != 0)
		goto fail;
	return ctx;
fail:
	tls_errors(detail, sizeof(detail));
	snprintf(err, errlen, "cannot set up TLS for the peer links: %s",
	    detail);
	SSL_CTX_free(ctx);
	return NULL;
}

/*
 * After the handshake: the ALPN, and a certificate that is an instance's
 * (and, dialling, that of the instance dialled). -1 with why otherwise.
 */
static int
peer_check(struct bufferevent *bev, const char *want, char *id, size_t idlen,
    char *why, size_t whylen)
{
	SSL			*ssl = bufferevent_openssl_get_ssl(bev);
	const unsigned char	*alpn;
	unsigned		 alpnlen;
	X509			*cert;
	bool			 ok;

	SSL_get0_alpn_selected(ssl, &alpn, &alpnlen);
	if (alpnlen != sizeof(PEER_ALPN) - 1 ||
	    memcmp(alpn, PEER_ALPN, alpnlen) != 0) {
		snprintf(why, whylen, "ALPN %s was not negotiated", PEER_ALPN);
		return -1;
	}
	cert = SSL_get1_peer_certificate(ssl);
	ok = pki_cert_instance(cert, id, idlen);
	X509_free(cert);
	if (!ok) {
		snprintf(why, whylen, "its certificate is not an instance's "
		    "(a connector certificate cannot open a peer link)");
		return -1;
	}
	if (want != NULL && strcmp(id, want) != 0) {
		snprintf(why, whylen, "it is instance %s, not %s: check the "
		    "peer_address of the instances in [cluster]", id, want);
		return -1;
	}
	return 0;
}

static void
peer_ssl_error(struct bufferevent *bev, short what, char *why, size_t whylen)
{
	int	 e = EVUTIL_SOCKET_ERROR();
	char	 detail[256];

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, whylen, "no TLS handshake within %d s",
		    PEER_HANDSHAKE_MS / 1000);
	else if (ERR_peek_error() != 0) {
		tls_errors(detail, sizeof(detail));
		snprintf(why, whylen, "TLS: %s", detail);
	} else if ((what & BEV_EVENT_ERROR) && e != 0)
		snprintf(why, whylen, "%s", evutil_socket_error_to_string(e));
	else
		snprintf(why, whylen, "connection refused or closed");
}

/* ---- incoming links: this instance answers ---- */

/* A link that never came up (handshake, certificate, caps). */
static void
in_free(struct peer_in *in, const char *why)
{
	log_warnx("peer link from %s refused: %s", in->from, why);
	in->p->handshakes--;
	LIST_REMOVE(in, entry);
	if (in->bev != NULL)
		bufferevent_free(in->bev);
	free(in);
}

static void
fwd_answer_cb(void *arg, struct tunnel_stream *cs, int status,
    const char *code, const char *reason)
{
	struct peer_fwd		*fwd = arg;

	if (status != 200)
		tunnel_stream_refuse(fwd->s, status, code, reason);
	else
		tunnel_stream_join(fwd->s, cs);
	free(fwd);
}

/* The dialling instance gave up before the answer. */
static void
fwd_abandon_cb(void *arg, struct tunnel_stream *s, int status,
    const char *code, const char *reason)
{
	struct peer_fwd	*fwd = arg;

	(void)s;
	(void)status;
	(void)code;
	(void)reason;
	router_conn_cancel(fwd->rc);
	free(fwd);
}

static void
in_request_cb(void *arg, struct tunnel *t, struct tunnel_stream *s,
    const char *host, uint16_t port)
{
	struct peer_in	*in = arg;
	struct peer_fwd	*fwd;
	const char	*site = tunnel_stream_site(s);

	(void)t;
	if (site[0] == '\0') {
		tunnel_stream_refuse(s, 400, "no-site", "a stream on a peer "
		    "link must name its site (uplink-site)");
		return;
	}
	fwd = xcalloc(1, sizeof(*fwd));
	fwd->p = in->p;
	fwd->s = s;
	tunnel_stream_set_cb(s, fwd_abandon_cb, fwd);
	fwd->rc = router_connect_here(in->p->c->router, site,
	    tunnel_stream_connector(s), host, port, fwd_answer_cb, fwd);
}

static void
get_reply_cb(void *arg, struct tunnel *t, int status, const char *body)
{
	struct peer_get	*g = arg;

	(void)t;
	if (g->s != NULL) {
		tunnel_stream_set_cb(g->s, NULL, NULL);
		if (status == 0)
			tunnel_stream_reply(g->s, 504, "{\"error\":\"timeout\"}");
		else
			tunnel_stream_reply(g->s, status, body != NULL ? body :
			    "{}");
	}
	free(g);
}

static void
get_abandon_cb(void *arg, struct tunnel_stream *s, int status,
    const char *code, const char *reason)
{
	struct peer_get	*g = arg;

	(void)s;
	(void)status;
	(void)code;
	(void)reason;
	g->s = NULL;	/* get_reply_cb frees g */
}

static void
in_get_cb(void *arg, struct tunnel *t, struct tunnel_stream *s,
    const char *path)
{
	struct peer_in	*in = arg;
	struct peer_get	*g;

	(void)t;
	g = xcalloc(1, sizeof(*g));
	g->s = s;
	tunnel_stream_set_cb(s, get_abandon_cb, g);
	if (router_request_here(in->p->c->router, tunnel_stream_connector(s),
	    path, in->p->c->lim.connect_timeout_ms, get_reply_cb, g) != 0) {
		tunnel_stream_set_cb(s, NULL, NULL);
		tunnel_stream_reply(s, 503, "{\"error\":\"connector-offline\"}");
		free(g);
	}
}

static void
in_closed_cb(void *arg, struct tunnel *t, const char *why)
{
	struct peer_in	*in = arg;

	(void)t;
	in->t = NULL;	/* freeing itself */
	in->p->nins--;
	log_info("peer link from instance %s (%s) closed: %s", in->id,
	    in->from, why);
	LIST_REMOVE(in, entry);
	free(in);
}

static const struct tunnel_callbacks in_callbacks = {
	.request = in_request_cb,
	.get = in_get_cb,
	.closed = in_closed_cb,
};

static void
in_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct peer_in	*in = arg;
	struct peers	*p = in->p;
	char		 why[320], name[24];

	if (!(what & BEV_EVENT_CONNECTED)) {
		peer_ssl_error(bev, what, why, sizeof(why));
		in_free(in, why);
		return;
	}
	if (peer_check(bev, NULL, in->id, sizeof(in->id), why,
	    sizeof(why)) != 0) {
		in_free(in, why);
		return;
	}
	/*
	 * Only the CA's holder can make an instance certificate, but one
	 * for an instance the cluster does not list is refused all the
	 * same; a new instance's link comes at its next attempt, once the
	 * list here has it (re-read at least every lease).
	 */
	if (cluster_instance(p->c, in->id) == NULL) {
		snprintf(why, sizeof(why), "instance %s is not in the cluster "
		    "(yet): the instances table does not list it", in->id);
		in_free(in, why);
		return;
	}
	if (p->nins >= PEER_INS_MAX) {
		in_free(in, "too many peer links");
		return;
	}
	p->handshakes--;
	p->nins++;
	in->bev = NULL;
	bufferevent_set_timeouts(bev, NULL, NULL);
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	snprintf(name, sizeof(name), "pi%u", ++p->seq);
	/* tunnel_new() takes bev, and frees it if it fails. */
	in->t = tunnel_new(p->c->base, bev, TUNNEL_CONNECTOR, &p->lim,
	    &in_callbacks, in, name);
	if (in->t == NULL) {
		p->nins--;
		LIST_REMOVE(in, entry);
		free(in);
		return;
	}
	log_info("%s: peer link from instance %s (%s) up", name, in->id,
	    in->from);
}

static void
peer_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct peers	*p = arg;
	struct peer_in	*in;
	SSL		*ssl;
	struct timeval	 tv = { PEER_HANDSHAKE_MS / 1000, 0 };
	char		 host[64];

	(void)lev;
	(void)salen;
	cloud_peer_name(sa, host, sizeof(host));
	if (p->handshakes >= PEER_HANDSHAKES_MAX ||
	    (ssl = SSL_new(p->srv)) == NULL) {
		log_warnx("peer link from %s refused: %u handshakes under way",
		    host, p->handshakes);
		close(fd);
		return;
	}
	in = xcalloc(1, sizeof(*in));
	in->p = p;
	snprintf(in->from, sizeof(in->from), "%s", host);
	in->bev = bufferevent_openssl_socket_new(p->c->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (in->bev == NULL)
		fatalx("out of memory");
	bufferevent_openssl_set_allow_dirty_shutdown(in->bev, 1);
	p->handshakes++;
	LIST_INSERT_HEAD(&p->ins, in, entry);
	bufferevent_setcb(in->bev, NULL, NULL, in_event_cb, in);
	bufferevent_set_timeouts(in->bev, &tv, &tv);
	bufferevent_enable(in->bev, EV_READ | EV_WRITE);
}

/* ---- outgoing links: this instance dials ---- */

static void link_dial(struct peer_link *l);

static void
link_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	link_dial(arg);
}

/* Down (or never up): dial again after the backoff. */
static void
link_down(struct peer_link *l, const char *why)
{
	struct timeval	 tv;

	if (l->bev != NULL) {
		bufferevent_free(l->bev);
		l->bev = NULL;
	}
	if (!l->logged_down)
		log_warnx("peer link to instance %s (%s) down: %s; dialling "
		    "again in %d ms, backing off to %d s", l->id, l->addr, why,
		    l->backoff_ms, PEER_BACKOFF_MAX_MS / 1000);
	l->logged_down = true;
	tv.tv_sec = l->backoff_ms / 1000;
	tv.tv_usec = (l->backoff_ms % 1000) * 1000;
	evtimer_add(l->retry, &tv);
	l->backoff_ms *= 2;
	if (l->backoff_ms > PEER_BACKOFF_MAX_MS)
		l->backoff_ms = PEER_BACKOFF_MAX_MS;
}

static void
link_closed_cb(void *arg, struct tunnel *t, const char *why)
{
	struct peer_link	*l = arg;

	(void)t;
	l->t = NULL;	/* freeing itself */
	l->logged_down = false;
	link_down(l, why);
}

static const struct tunnel_callbacks link_callbacks = {
	.closed = link_closed_cb,
};

static void
link_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct peer_link	*l = arg;
	struct peers		*p = l->p;
	char			 why[320], id[CLUSTER_ID_MAX + 1], name[24];

	if (!(what & BEV_EVENT_CONNECTED)) {
		peer_ssl_error(bev, what, why, sizeof(why));
		link_down(l, why);
		return;
	}
	if (peer_check(bev, l->id, id, sizeof(id), why, sizeof(why)) != 0) {
		link_down(l, why);
		return;
	}
	l->bev = NULL;
	bufferevent_set_timeouts(bev, NULL, NULL);
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	snprintf(name, sizeof(name), "po%u", ++p->seq);
	l->t = tunnel_new(p->c->base, bev, TUNNEL_CLOUD, &p->lim,
	    &link_callbacks, l, name);
	if (l->t == NULL) {
		link_down(l, "out of memory");
		return;
	}
	l->backoff_ms = PEER_BACKOFF_MIN_MS;
	l->logged_down = false;
	log_info("%s: peer link to instance %s (%s) up", name, l->id, l->addr);
}

static void
link_dial(struct peer_link *l)
{
	struct peers	*p = l->p;
	struct hostport	 hp;
	struct timeval	 tv = { PEER_HANDSHAKE_MS / 1000, 0 };
	SSL		*ssl;
	char		 why[160];

	if (hostport_parse(l->addr, 0, &hp, why, sizeof(why)) != 0 ||
	    hp.port == 0) {
		link_down(l, "its peer_address is not HOST:PORT");
		return;
	}
	ssl = SSL_new(p->cli);
	if (ssl == NULL)
		fatalx("out of memory");
	l->bev = bufferevent_openssl_socket_new(p->c->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (l->bev == NULL)
		fatalx("out of memory");
	bufferevent_openssl_set_allow_dirty_shutdown(l->bev, 1);
	bufferevent_setcb(l->bev, NULL, NULL, link_event_cb, l);
	bufferevent_set_timeouts(l->bev, &tv, &tv);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect_hostname(l->bev, p->dns, AF_UNSPEC,
	    hp.host, hp.port) != 0)
		link_down(l, "cannot start the connection");
}

static struct peer_link *
link_find(struct peers *p, const char *id)
{
	struct peer_link	*l;

	LIST_FOREACH(l, &p->links, entry)
		if (strcmp(l->id, id) == 0)
			return l;
	return NULL;
}

static void
link_free(struct peer_link *l)
{
	LIST_REMOVE(l, entry);
	if (l->bev != NULL)
		bufferevent_free(l->bev);
	tunnel_free(l->t);
	event_free(l->retry);
	free(l);
}

/*
 * A link to every other instance that is up, dialled when first seen;
 * those to instances gone from the list are closed. An instance whose
 * peer_address changed (restarted elsewhere) is dialled anew.
 */
static void
peer_scan_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peers			*p = arg;
	const struct cluster_instance	*v;
	struct peer_link		*l, *next;
	size_t				 i, n;

	(void)fd;
	(void)what;
	LIST_FOREACH(l, &p->links, entry)
		l->seen = false;
	n = cluster_instances(p->c, &v);
	for (i = 0; i < n; i++) {
		if (v[i].self || v[i].state == CLUSTER_GONE ||
		    v[i].peer_address[0] == '\0')
			continue;
		l = link_find(p, v[i].id);
		if (l != NULL && strcmp(l->addr, v[i].peer_address) != 0) {
			link_free(l);
			l = NULL;
		}
		if (l == NULL) {
			l = xcalloc(1, sizeof(*l));
			l->p = p;
			snprintf(l->id, sizeof(l->id), "%s", v[i].id);
			snprintf(l->addr, sizeof(l->addr), "%s",
			    v[i].peer_address);
			l->retry = evtimer_new(p->c->base, link_retry_cb, l);
			l->backoff_ms = PEER_BACKOFF_MIN_MS;
			LIST_INSERT_HEAD(&p->links, l, entry);
			link_dial(l);
		}
		l->seen = true;
	}
	for (l = LIST_FIRST(&p->links); l != NULL; l = next) {
		next = LIST_NEXT(l, entry);
		if (!l->seen) {
			log_info("peer link to instance %s closed: it left the "
			    "cluster", l->id);
			link_free(l);
		}
	}
}

/* ---- the API ---- */

static struct tunnel *
link_tunnel(struct cloud *c, const char *instance)
{
	struct peers		*p = peers_of(c);
	struct peer_link	*l;

	if (p == NULL)
		return NULL;
	l = link_find(p, instance);
	if (l == NULL || l->t == NULL || !tunnel_usable(l->t))
		return NULL;
	return l->t;
}

bool
peer_usable(struct cloud *c, const char *instance)
{
	return link_tunnel(c, instance) != NULL;
}

struct tunnel_stream *
peer_open(struct cloud *c, const char *instance, const char *site,
    const char *connector, const char *host, uint16_t port,
    tunnel_stream_cb *cb, void *arg)
{
	struct tunnel	*t = link_tunnel(c, instance);

	if (t == NULL)
		return NULL;
	return tunnel_open_for(t, site, connector, host, port, cb, arg);
}

int
peer_request(struct cloud *c, const char *instance, const char *connector,
    const char *path, int timeout_ms, tunnel_reply_cb *cb, void *arg)
{
	struct tunnel	*t = link_tunnel(c, instance);

	if (t == NULL)
		return -1;
	return tunnel_request_for(t, connector, path, timeout_ms, cb, arg);
}

static int
peer_tls(struct peers *p, char *err, size_t errlen)
{
	struct cloud	*c = p->c;
	EVP_PKEY	*key = NULL;
	X509		*cert = NULL;
	int		 rv = -1;

	if (pki_issue_instance(c->dd.ca_key, c->dd.ca_cert, cluster_self(c),
	    PEER_CERT_SECS, &key, &cert, err, errlen) != 0)
		goto out;
	p->srv = peer_ctx(c, true, key, cert, err, errlen);
	if (p->srv != NULL)
		p->cli = peer_ctx(c, false, key, cert, err, errlen);
	rv = p->cli != NULL ? 0 : -1;
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	return rv;
}

int
peer_start(struct cloud *c, char *err, size_t errlen)
{
	struct peers	*p;
	struct hostport	 hp;
	struct timeval	 tv = { 0, PEER_SCAN_MS * 1000 };
	char		 why[160];

	if (!cluster_enabled(c))
		return 0;
	hp = c->cfg.cluster_peer_listen;
	if (hp.port == 0) {
		snprintf(err, errlen, "[cluster] peer_listen is not set: give "
		    "the ADDRESS:PORT the other instances dial (docs/cloud.md)");
		return -1;
	}
	p = xcalloc(1, sizeof(*p));
	p->c = c;
	p->lim = c->lim;
	p->lim.max_streams = PEER_MAX_STREAMS;
	p->lim.pending_connects = PEER_PENDING;
	c->peers = p;
	if (peer_tls(p, err, errlen) != 0)
		return -1;
	p->dns = evdns_base_new(c->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (p->dns == NULL)
		p->dns = evdns_base_new(c->base, 0);
	p->lev = cloud_listen(c, &hp, peer_accept_cb, p, "peer links "
	    "([cluster] peer_listen)", err, errlen);
	if (p->lev == NULL)
		return -1;
	p->scan = event_new(c->base, -1, EV_PERSIST, peer_scan_cb, p);
	event_add(p->scan, &tv);
	event_active(p->scan, EV_TIMEOUT, 0);
	hostport_format(why, sizeof(why), hp.host, hp.port);
	log_info("peer links: listening on %s as instance %s", why,
	    cluster_self(c));
	return 0;
}

size_t
peer_streams(struct cloud *c)
{
	struct peers		*p = peers_of(c);
	struct peer_link	*l;
	struct tunnel_stats	 st;
	size_t			 n = 0;

	if (p == NULL)
		return 0;
	LIST_FOREACH(l, &p->links, entry)
		if (l->t != NULL) {
			tunnel_stats(l->t, &st);
			n += st.streams;
		}
	return n;
}

void
peer_free(struct cloud *c)
{
	struct peers		*p = peers_of(c);
	struct peer_in		*in;

	if (p == NULL)
		return;
	while (!LIST_EMPTY(&p->links))
		link_free(LIST_FIRST(&p->links));
	while ((in = LIST_FIRST(&p->ins)) != NULL) {
		LIST_REMOVE(in, entry);
		if (in->bev != NULL)
			bufferevent_free(in->bev);
		tunnel_free(in->t);
		free(in);
	}
	if (p->lev != NULL)
		cloud_listen_free(p->lev);
	if (p->scan != NULL)
		event_free(p->scan);
	if (p->dns != NULL)
		evdns_base_free(p->dns, 0);
	SSL_CTX_free(p->srv);
	SSL_CTX_free(p->cli);
	free(p);
	c->peers = NULL;
}
