#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api.h"
#include "daemon.h"
#include "edge.h"
#include "error.h"
#include "front.h"
#include "log.h"
#include "releases.h"
#include "rest.h"
#include "xmalloc.h"

/*
 * HTTP handlers, behind the relays of cloud/front.c, which accepts the
 * connections, holds their caps and head deadlines, and tells who the
 * client was. Over TLS: POST /v1/enroll and
 * POST /v1/renew, whose logic is in cloud/enroll.c, and everything else:
 * the management API and the console (cloud/rest.c). In plain HTTP (the
 * port 80 listener, which connectors and checks reach for revocation
 * data): GET /ca.pem and GET /crl.
 */

#define API_BODY_MAX		(64 * 1024)
/*
 * evhttp answers a larger body itself, in HTML; up to this much is read
 * so that the API can refuse it in JSON (REST_BODY_MAX).
 */
#define API_READ_MAX		(1024 * 1024)
#define API_HEADERS_MAX		(16 * 1024)
#define API_TIMEOUT_SECS	75	/* a connectivity check may take 60 s */
#define CRL_NEXT_UPDATE		(7L * 86400)
#define CRL_REFRESH_SECS	(86400)

static void
reply_json(struct evhttp_request *req, int status, const char *body)
{
	struct evbuffer	*out = evhttp_request_get_output_buffer(req);

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Cache-Control", "no-store");
	evbuffer_add(out, body, strlen(body));
	evhttp_send_reply(req, status, NULL, NULL);
}

static void
reply_error(struct evhttp_request *req, int status, const char *code,
    const char *message)
{
	struct buf	 b;

	buf_init(&b, 1024);
	buf_appends(&b, "{\"error\":\"");
	buf_appends(&b, code);
	buf_appends(&b, "\",\"message\":\"");
	/* message is our own text: no quotes or control characters. */
	buf_appends(&b, message);
	buf_appends(&b, "\"}");
	reply_json(req, status, buf_cstr(&b));
	buf_free(&b);
}

static void
api_cb(struct evhttp_request *req, void *arg)
{
	struct cloud	*c = arg;
	const char	*path = evhttp_request_get_uri(req);
	const char	*peer;
	X509		*cert;
	struct evbuffer	*in;
	struct buf	 body, resp;
	size_t		 len;
	int		 status;

	if (!front_peer(c, req, &peer, &cert)) {
		front_refuse(c, req);
		return;
	}
	if (strncmp(path, RELEASES_PATH, strlen(RELEASES_PATH)) == 0) {
		releases_serve(c, req, path, cert);
		return;
	}
	if (strcmp(path, "/v1/enroll") != 0 && strcmp(path, "/v1/renew") != 0) {
		rest_handle(c, req, peer, cert);
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		reply_error(req, 405, "method", "use POST");
		return;
	}
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	buf_init(&body, API_BODY_MAX + 1);
	buf_init(&resp, 256 * 1024);
	if (buf_append(&body, evbuffer_pullup(in, -1), len) != UPLINK_OK) {
		reply_error(req, 413, "too-large", "the body is too large");
		goto out;
	}
	if (strcmp(path, "/v1/enroll") == 0)
		status = enroll_handle(&c->enroll, body.ptr, body.len, peer,
		    &resp);
	else
		status = renew_handle(&c->enroll, cert, body.ptr, body.len,
		    peer, &resp);
	reply_json(req, status, buf_cstr(&resp));
out:
	buf_free(&body);
	buf_free(&resp);
}

/* GET /ready (cloud/edge.h): for a load balancer's health checks. */
static void
api_ready(struct cloud *c, struct evhttp_request *req)
{
	struct evbuffer	*out = evhttp_request_get_output_buffer(req);
	char		 why[256];

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Cache-Control", "no-store");
	if (edge_ready(c, why, sizeof(why))) {
		evbuffer_add_printf(out, "ready\n");
		evhttp_send_reply(req, 200, "OK", NULL);
		return;
	}
	evbuffer_add_printf(out, "not ready: %s\n", why);
	evhttp_send_reply(req, 503, "Service Unavailable", NULL);
}

static void
http_cb(struct evhttp_request *req, void *arg)
{
	struct cloud		*c = arg;
	const char		*path = evhttp_request_get_uri(req);
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	struct evbuffer		*out = evhttp_request_get_output_buffer(req);
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);

	if (!front_http_peer(c, req)) {
		front_refuse(c, req);
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_send_error(req, 405, "use GET");
		return;
	}
	if (strcmp(path, EDGE_READY_PATH) == 0) {
		api_ready(c, req);
		return;
	}
	if (strcmp(path, "/crl") == 0) {
		evhttp_add_header(h, "Content-Type", "application/pkix-crl");
		evbuffer_add(out, c->crl_der.ptr, c->crl_der.len);
	} else if (strcmp(path, "/ca.pem") == 0) {
		evhttp_add_header(h, "Content-Type", "application/x-pem-file");
		evbuffer_add(out, c->ca_pem.ptr, c->ca_pem.len);
	} else {
		evhttp_send_error(req, 404, "try /ca.pem or /crl");
		return;
	}
	evhttp_add_header(h, "Cache-Control", "max-age=60");
	evhttp_send_reply(req, 200, "OK", NULL);
}

int
api_crl_refresh(struct cloud *c, char *err, size_t errlen)
{
	struct buf	 der;

	buf_init(&der, 64 * 1024 * 1024);
	if (datadir_crl(&c->dd, CRL_NEXT_UPDATE, &der, err, errlen) != 0) {
		buf_free(&der);
		return -1;
	}
	buf_free(&c->crl_der);
	c->crl_der = der;
	return 0;
}

static void
crl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cloud	*c = arg;
	char		 err[256];

	(void)fd;
	(void)what;
	if (api_crl_refresh(c, err, sizeof(err)) != 0)
		log_warnx("cannot renew the CRL: %s", err);
}

static struct evhttp *
api_evhttp(struct cloud *c, void (*cb)(struct evhttp_request *, void *))
{
	struct evhttp	*h = evhttp_new(c->base);

	if (h == NULL)
		return NULL;
	evhttp_set_max_body_size(h, API_READ_MAX);
	evhttp_set_max_headers_size(h, API_HEADERS_MAX);
	evhttp_set_timeout(h, API_TIMEOUT_SECS);
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
	    EVHTTP_REQ_DELETE);
	evhttp_set_gencb(h, cb, c);
	return h;
}

/*
 * The two evhttp servers; cloud/front.c accepts their connections and
 * relays them over AF_UNIX sockets (front_start() runs after this).
 */
int
api_start(struct cloud *c, char *err, size_t errlen)
{
	struct timeval		 tv = { CRL_REFRESH_SECS, 0 };

	buf_init(&c->ca_pem, 64 * 1024);
	if (pki_chain_pem(&c->dd.ca_cert, 1, &c->ca_pem, err, errlen) != 0)
		return -1;
	buf_init(&c->crl_der, 64 * 1024 * 1024);
	if (api_crl_refresh(c, err, errlen) != 0)
		return -1;
	c->crl_timer = event_new(c->base, -1, EV_PERSIST, crl_timer_cb, c);
	event_add(c->crl_timer, &tv);
	c->api = api_evhttp(c, api_cb);
	if (c->api == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!c->cfg.http_enabled)
		return 0;
	c->http = api_evhttp(c, http_cb);
	if (c->http == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}
