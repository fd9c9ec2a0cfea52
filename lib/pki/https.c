#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "error.h"
#include "hostport.h"
#include "https.h"
#include "httpresp.h"
#include "log.h"
#include "tls.h"
#include "version.h"

#define HTTPS_REQUEST_MAX	(1024 * 1024)	/* head and body we send */

static const unsigned char https_alpn[] = "\x08http/1.1";
static int https_index = -1;	/* SSL ex_data slot for struct https */

struct https {
	struct event_base	*base;
	struct dial		*dial;
	struct bufferevent	*bev;
	struct https_request	 req;		/* pointers are the caller's */
	struct hostport		 hp;
	char			 where[300];	/* "host:port" for messages */
	struct buf		 out;		/* the request, wiped on free */
	struct tls_verify	 tv;		/* strict mode's record */
	struct route		 route;
	bool			 connected;	/* TLS handshake done */
	bool			 have_head;
	struct http_resp	 resp;
	struct http_body	 hb;
	struct buf		 body;
	X509			*anchor;	/* pin mode, borrowed */
	bool			 pin_missing;
	char			 issuer[256];
	https_done_cb		*done;
	void			*arg;
};

SSL_CTX *
https_ctx_new(const char *ca_file, const char *cert_file, const char *key_file,
    char *err, size_t errlen)
{
	SSL_CTX	*ctx;
	char	 why[512];

	if (ca_file != NULL)
		ctx = tls_client_ctx_new(ca_file, err, errlen);
	else {
		/* Pin mode: no anchors; https_pin_verify() decides. */
		ctx = SSL_CTX_new(TLS_client_method());
		if (ctx == NULL) {
			tls_errors(why, sizeof(why));
			snprintf(err, errlen, "cannot create a TLS context: %s",
			    why);
			return NULL;
		}
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	if (ctx == NULL)
		return NULL;
	/* Only the cloud is reached this way: its AEAD suites only. */
	if (tls_ctx_aead_only(ctx, err, errlen) == -1)
		goto fail;
	if (cert_file == NULL || key_file == NULL)
		return ctx;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		tls_errors(why, sizeof(why));
		snprintf(err, errlen, "%s: cannot load the certificate (PEM "
		    "expected): %s", cert_file, why);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		tls_errors(why, sizeof(why));
		snprintf(err, errlen, "%s: cannot load the private key (PEM "
		    "expected): %s", key_file, why);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "%s does not belong to the certificate "
		    "in %s: give the key that was made with it", key_file,
		    cert_file);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Why X509_verify_cert() refused the leaf, in the user's terms. */
static void
https_pin_why(X509_STORE_CTX *xs, X509 *leaf, const char *host, char *why,
    size_t whylen)
{
	int	 e = X509_STORE_CTX_get_error(xs);
	char	 subject[256];

	tls_common_name(X509_get_subject_name(leaf), subject, sizeof(subject));
	switch (e) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		snprintf(why, whylen, "the certificate is for \"%s\", not for "
		    "%s", subject, host);
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		snprintf(why, whylen, "the certificate \"%s\" has expired "
		    "(%d days ago)", subject, -tls_days_left(leaf));
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		snprintf(why, whylen, "the certificate \"%s\" is not valid yet "
		    "(check this machine's clock)", subject);
		break;
	default:
		snprintf(why, whylen, "the certificate \"%s\" does not verify "
		    "up to the pinned one: %s (depth %d)", subject,
		    X509_verify_cert_error_string(e),
		    X509_STORE_CTX_get_error_depth(xs));
		break;
	}
}

/* The certificate in chain whose key has the pin, or NULL. */
static X509 *
https_pin_find(STACK_OF(X509) *chain, const unsigned char pin[PKI_PIN_LEN])
{
	unsigned char	 p[PKI_PIN_LEN];
	char		 err[256];
	X509		*c;
	int		 i;

	for (i = 0; i < sk_X509_num(chain); i++) {
		c = sk_X509_value(chain, i);
		if (pki_spki_pin_cert(c, p, err, sizeof(err)) == UPLINK_OK &&
		    CRYPTO_memcmp(p, pin, PKI_PIN_LEN) == 0)
			return c;
	}
	return NULL;
}

int
https_pin_verify(STACK_OF(X509) *chain, const char *host,
    const unsigned char pin[PKI_PIN_LEN], X509 **anchor, char *issuer,
    size_t issuerlen, char *why, size_t whylen)
{
	X509_STORE		*store = NULL;
	X509_STORE_CTX		*xs = NULL;
	X509_VERIFY_PARAM	*param;
	X509			*leaf, *cand;
	int			 rc = UPLINK_ENOMEM;

	*anchor = NULL;
	issuer[0] = '\0';
	if (chain == NULL || sk_X509_num(chain) == 0) {
		snprintf(why, whylen, "the server presented no certificate");
		return UPLINK_EINVAL;
	}
	leaf = sk_X509_value(chain, 0);
	tls_common_name(X509_get_issuer_name(leaf), issuer, issuerlen);
	cand = https_pin_find(chain, pin);
	if (cand == NULL) {
		snprintf(why, whylen, "%s presented a certificate issued by "
		    "'%s', and no certificate of its chain carries the key "
		    "pinned in the token", host, issuer);
		return UPLINK_ENOTFOUND;
	}
	store = X509_STORE_new();
	xs = X509_STORE_CTX_new();
	if (store == NULL || xs == NULL ||
	    X509_STORE_add_cert(store, cand) != 1 ||
	    X509_STORE_CTX_init(xs, store, leaf, chain) != 1 ||
	    X509_STORE_CTX_set_default(xs, "ssl_server") != 1) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	param = X509_STORE_CTX_get0_param(xs);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_hostflags(param,
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (host_classify(host) == HOST_NAME)
		X509_VERIFY_PARAM_set1_host(param, host, 0);
	else
		X509_VERIFY_PARAM_set1_ip_asc(param, host);
	if (X509_verify_cert(xs) != 1) {
		https_pin_why(xs, leaf, host, why, whylen);
		rc = UPLINK_EINVAL;
		goto out;
	}
	*anchor = cand;
	rc = UPLINK_OK;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(xs);
	X509_STORE_free(store);
	return rc;
}

static void
https_free(struct https *h)
{
	struct evbuffer	*out;

	dial_cancel(h->dial);
	if (h->bev != NULL) {
		/* Let go of the request, which the buffer only references. */
		out = bufferevent_get_output(h->bev);
		evbuffer_drain(out, evbuffer_get_length(out));
		bufferevent_free(h->bev);
	}
	/* The request may carry an enrollment token's secret. */
	if (h->out.ptr != NULL)
		OPENSSL_cleanse(h->out.ptr, h->out.cap);
	buf_free(&h->out);
	buf_free(&h->body);
	free(h);
}

/*
 * The one way a request ends: reports to the caller, then tears the
 * connection down. error is NULL when a response arrived.
 */
static void
https_finish(struct https *h, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
https_finish(struct https *h, const char *error, const char *fmt, ...)
{
	struct https_result	 res;
	va_list			 ap;

	memset(&res, 0, sizeof(res));
	res.error = error;
	res.route = h->route;
	res.connected = h->bev != NULL;
	res.status = h->have_head ? h->resp.status : 0;
	res.body = &h->body;
	res.anchor = h->anchor;
	res.pin_missing = h->pin_missing;
	snprintf(res.issuer, sizeof(res.issuer), "%s", h->issuer);
	va_start(ap, fmt);
	vsnprintf(res.detail, sizeof(res.detail), fmt, ap);
	va_end(ap);
	if (error != NULL)
		log_debug("%s: %s %s: %s: %s", h->req.id, h->req.method,
		    h->where, error, res.detail);
	h->done(h->arg, &res);
	https_free(h);
}

/* " (through the proxy http://...)" or "". */
static const char *
https_via(const struct https *h, char *dst, size_t dstlen)
{
	if (h->route.kind != ROUTE_PROXY || h->route.proxy == NULL)
		return "";
	snprintf(dst, dstlen, " (through the proxy %s)", h->route.proxy->url);
	return dst;
}

static void
https_complete(struct https *h)
{
	https_finish(h, NULL, "%s: %d %s, %zu bytes", h->where, h->resp.status,
	    h->resp.reason, h->body.len);
}

/* Reads the status line, skips 1xx answers, and prepares the body. */
static int
https_read_head(struct https *h, struct evbuffer *in)
{
	size_t	 len;
	int	 rc;

	for (;;) {
		len = evbuffer_get_length(in);
		rc = httpresp_parse_head((const char *)evbuffer_pullup(in, -1),
		    len, HTTPRESP_HEAD_MAX, &h->resp);
		if (rc != UPLINK_OK)
			return rc;
		evbuffer_drain(in, h->resp.head_len);
		if (h->resp.status >= 200 || h->resp.status == 101)
			break;
	}
	h->have_head = true;
	httpbody_init(&h->hb, &h->resp, h->body.max);
	return UPLINK_OK;
}

static void
https_read(struct bufferevent *bev, void *arg)
{
	struct https	*h = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	size_t		 used = 0;
	int		 rc;

	if (!h->have_head) {
		rc = https_read_head(h, in);
		if (rc == UPLINK_EAGAIN)
			return;
		if (rc != UPLINK_OK) {
			https_finish(h, "proto", "%s did not answer with HTTP: "
			    "%s", h->where, h->resp.why);
			return;
		}
	}
	rc = httpbody_feed(&h->hb, (const char *)evbuffer_pullup(in, -1),
	    evbuffer_get_length(in), &h->body, &used);
	evbuffer_drain(in, used);
	if (rc == UPLINK_EAGAIN)
		return;
	if (rc == UPLINK_OK)
		https_complete(h);
	else if (rc == UPLINK_ETOOBIG)
		https_finish(h, "proto", "%s: the response body is larger than "
		    "%zu bytes", h->where, h->body.max);
	else
		https_finish(h, "proto", "%s: bad response body: %s", h->where,
		    h->hb.why);
}

/* Pin mode: judge the chain before a single byte of the request goes. */
static bool
https_pin_check(struct https *h, SSL *ssl)
{
	char	 why[512], via[300];
	int	 rc;

	rc = https_pin_verify(SSL_get_peer_cert_chain(ssl), h->hp.host,
	    h->req.pin->pin, &h->anchor, h->issuer, sizeof(h->issuer), why,
	    sizeof(why));
	if (rc == UPLINK_OK)
		return true;
	h->pin_missing = rc == UPLINK_ENOTFOUND;
	if (rc == UPLINK_ENOTFOUND)
		https_finish(h, "pin", "possible TLS interception: %s "
		    "presented a certificate issued by '%s', which is not the "
		    "uplink cloud pinned in the token%s", h->where, h->issuer,
		    https_via(h, via, sizeof(via)));
	else
		https_finish(h, "pin", "%s presented the pinned uplink "
		    "certificate, but %s%s", h->where, why,
		    https_via(h, via, sizeof(via)));
	return false;
}

static void
https_send(struct https *h)
{
	SSL	*ssl = bufferevent_openssl_get_ssl(h->bev);

	h->connected = true;
	if (h->req.pin != NULL && !https_pin_check(h, ssl))
		return;
	if (h->req.pin == NULL && SSL_get0_peer_certificate(ssl) != NULL)
		tls_common_name(X509_get_issuer_name(
		    SSL_get0_peer_certificate(ssl)), h->issuer,
		    sizeof(h->issuer));
	evbuffer_add_reference(bufferevent_get_output(h->bev), h->out.ptr,
	    h->out.len, NULL, NULL);
}

/* The handshake failed: say why, with the verifier's record if any. */
static void
https_tls_failed(struct https *h)
{
	SSL		*ssl = bufferevent_openssl_get_ssl(h->bev);
	unsigned long	 e = bufferevent_get_openssl_error(h->bev);
	char		 why[512], via[300];
	X509		*leaf = ssl != NULL ? SSL_get0_peer_certificate(ssl) :
			    NULL;

	if (h->tv.flags != 0) {
		tls_verdict(&h->tv, leaf, h->hp.host, why, sizeof(why));
		if ((h->tv.flags & TLSV_UNTRUSTED) && leaf == NULL)
			snprintf(why, sizeof(why), "the certificate for %s was "
			    "issued by \"%s\", not by the cloud's CA: a proxy "
			    "or firewall may be inspecting TLS", h->hp.host,
			    h->issuer);
	} else if (ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER)
		snprintf(why, sizeof(why), "the server does not speak TLS on "
		    "this port (it answered something else)");
	else if (e != 0)
		ERR_error_string_n(e, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "the connection was closed during "
		    "the handshake (is it a TLS port?)");
	ERR_clear_error();
	https_finish(h, "tls", "TLS handshake with %s failed%s: %s", h->where,
	    https_via(h, via, sizeof(via)), why);
}

static void
https_event(struct bufferevent *bev, short what, void *arg)
{
	struct https	*h = arg;
	char		 via[300];

	(void)bev;
	switch (what & (BEV_EVENT_CONNECTED | BEV_EVENT_TIMEOUT |
	    BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
	case BEV_EVENT_CONNECTED:
		https_send(h);
		return;
	case BEV_EVENT_TIMEOUT:
		https_finish(h, "timeout", "%s: no %s within %d ms%s", h->where,
		    h->connected ? "complete response" : "TLS handshake",
		    h->req.timeout_ms, https_via(h, via, sizeof(via)));
		return;
	}
	if (!h->connected) {
		https_tls_failed(h);
		return;
	}
	if (h->have_head && httpbody_eof(&h->hb) == UPLINK_OK) {
		https_complete(h);
		return;
	}
	https_finish(h, "proto", "%s: %s", h->where, h->have_head ? h->hb.why :
	    "the connection closed before a response");
}

/*
 * Strict mode: notes the leaf's issuer for messages (a failed handshake
 * leaves no peer certificate to ask), then lets lib/tls.c's callback of
 * the context judge.
 */
static int
https_verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL		*ssl = X509_STORE_CTX_get_ex_data(xs,
			    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct https	*h = ssl != NULL ? SSL_get_ex_data(ssl, https_index) :
			    NULL;
	X509		*leaf = X509_STORE_CTX_get0_cert(xs);
	SSL_verify_cb	 next;

	if (h != NULL && h->issuer[0] == '\0' && leaf != NULL)
		tls_common_name(X509_get_issuer_name(leaf), h->issuer,
		    sizeof(h->issuer));
	next = ssl != NULL ? SSL_CTX_get_verify_callback(SSL_get_SSL_CTX(ssl)) :
	    NULL;
	return next != NULL ? next(ok, xs) : ok;
}

/* The SSL object for one connection, in the request's trust mode. */
static SSL *
https_ssl_new(struct https *h)
{
	SSL	*ssl;

	if (h->req.pin == NULL) {
		memset(&h->tv, 0, sizeof(h->tv));
		h->tv.strict = true;
		ssl = tls_client_new(h->req.ctx, h->hp.host, https_alpn,
		    sizeof(https_alpn) - 1, &h->tv);
		if (ssl == NULL)
			return NULL;
		if (https_index == -1)
			https_index = SSL_get_ex_new_index(0, NULL, NULL, NULL,
			    NULL);
		SSL_set_ex_data(ssl, https_index, h);
		SSL_set_verify(ssl, SSL_get_verify_mode(ssl), https_verify_cb);
		return ssl;
	}
	ssl = SSL_new(h->req.ctx);
	if (ssl == NULL)
		return NULL;
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	if (h->hp.kind == HOST_NAME)
		SSL_set_tlsext_host_name(ssl, h->hp.host);
	SSL_set_alpn_protos(ssl, https_alpn, sizeof(https_alpn) - 1);
	return ssl;
}

static void
https_dialed(void *arg, struct dial_result *res)
{
	struct https	*h = arg;
	struct timeval	 tv;
	SSL		*ssl;

	h->dial = NULL;
	h->route = res->route;
	if (res->error != DIAL_OK) {
		https_finish(h, dial_error_name(res->error), "%s", res->detail);
		return;
	}
	ssl = https_ssl_new(h);
	h->bev = ssl == NULL ? NULL : bufferevent_openssl_socket_new(h->base,
	    res->fd, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (h->bev == NULL) {
		SSL_free(ssl);
		close(res->fd);
		https_finish(h, "tls", "out of memory");
		return;
	}
	/*
	 * The body is delimited by length or close; a missing close_notify
	 * after a complete response is no error.
	 */
	bufferevent_openssl_set_allow_dirty_shutdown(h->bev, 1);
	tv.tv_sec = h->req.timeout_ms / 1000;
	tv.tv_usec = (h->req.timeout_ms % 1000) * 1000;
	bufferevent_set_timeouts(h->bev, &tv, &tv);
	bufferevent_setcb(h->bev, https_read, NULL, https_event, h);
	bufferevent_enable(h->bev, EV_READ | EV_WRITE);
}

/* The whole request, head and body, ready to send. */
static int
https_build(struct https *h, const struct https_request *req)
{
	char	 host[300];
	int	 rc;

	if (h->hp.port == 443)
		hostport_format(host, sizeof(host), h->hp.host, 0);
	else
		snprintf(host, sizeof(host), "%s", h->where);
	rc = buf_appendf(&h->out, "%s %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: uplink-connector/%s\r\nAccept: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n", req->method,
	    req->path, host, UPLINK_VERSION, req->bodylen);
	if (rc == UPLINK_OK && req->bodylen > 0 && req->content_type != NULL)
		rc = buf_appendf(&h->out, "Content-Type: %s\r\n",
		    req->content_type);
	if (rc == UPLINK_OK)
		rc = buf_appends(&h->out, "\r\n");
	if (rc == UPLINK_OK && req->bodylen > 0)
		rc = buf_append(&h->out, req->body, req->bodylen);
	return rc;
}

struct https *
https_request_start(struct event_base *base, struct evdns_base *dns,
    const struct https_request *req, https_done_cb *done, void *arg)
{
	struct https	*h;
	struct dial_opts o;
	char		 path[16], why[256];
	bool		 tls;

	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->base = base;
	h->req = *req;
	if (h->req.id == NULL)
		h->req.id = "https";
	h->done = done;
	h->arg = arg;
	buf_init(&h->out, HTTPS_REQUEST_MAX);
	buf_init(&h->body, req->max_body);
	if (url_parse(req->url, &tls, &h->hp, path, sizeof(path), why,
	    sizeof(why)) != UPLINK_OK || !tls || strcmp(path, "/") != 0)
		goto fail;
	hostport_format(h->where, sizeof(h->where), h->hp.host, h->hp.port);
	if (https_build(h, req) != UPLINK_OK)
		goto fail;
	memset(&o, 0, sizeof(o));
	o.host = h->hp.host;
	o.port = h->hp.port;
	o.routes = req->routes;
	o.timeout_ms = req->timeout_ms;
	o.id = h->req.id;
	h->dial = dial_start(base, dns, &o, NULL, https_dialed, h);
	if (h->dial == NULL)
		goto fail;
	return h;
fail:
	https_free(h);
	return NULL;
}

void
https_cancel(struct https *h)
{
	if (h != NULL)
		https_free(h);
}
