#ifndef UPLINK_HTTPS_H
#define UPLINK_HTTPS_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "buf.h"
#include "dial.h"
#include "pki.h"

/*
 * One HTTPS request to the uplink cloud: enrollment and renewal. The
 * connection is made by the dialer (so the route decision and the proxy are
 * the service's), TLS runs over bufferevent_openssl, the response is read
 * with lib/httpresp. Requests carry Content-Length and "Connection: close";
 * one request per connection.
 *
 * Two ways to trust the cloud:
 *  - strict: a context from https_ctx_new() with a CA file (and, for
 *    renewal, the connector's certificate and key); the handshake fails on
 *    any verification problem.
 *  - pinned (enrollment, before any CA is known): a context without trust
 *    anchors and a struct https_pin. The handshake completes, then
 *    https_pin_verify() decides from the chain the server presented, and
 *    nothing is sent unless it passes.
 */

/* Pin mode: what the enrollment token says the cloud's anchor is. */
struct https_pin {
	unsigned char	 pin[PKI_PIN_LEN];	/* SHA-256 of an SPKI */
};

struct https_request {
	const char			*url;		/* https://H[:PORT] */
	const char			*method;	/* "POST" */
	const char			*path;		/* "/v1/enroll" */
	const void			*body;		/* may be NULL */
	size_t				 bodylen;
	const char			*content_type;	/* with a body */
	SSL_CTX				*ctx;		/* https_ctx_new() */
	const struct https_pin		*pin;		/* NULL: strict */
	const struct route_table	*routes;
	size_t				 max_body;	/* response cap */
	int				 timeout_ms;	/* per step */
	const char			*id;		/* for log lines */
};

struct https_result {
	/*
	 * NULL on success (an HTTP response arrived, whatever its status),
	 * else a dial error name (dial_error_name()), "tls", "pin",
	 * "timeout" or "proto".
	 */
	const char	*error;
	struct route	 route;		/* how the cloud was reached */
	bool		 connected;	/* TCP (and CONNECT) succeeded */
	int		 status;	/* HTTP status, 0 if none */
	struct buf	*body;		/* the decoded response body */
	/*
	 * Pin mode: the certificate that carries the pin, which the leaf
	 * was verified up to (save it as the trust anchor for later strict
	 * connections). Borrowed: X509_up_ref() it to keep it.
	 */
	X509		*anchor;
	/*
	 * "pin" only: true when no certificate of the chain carries the pin
	 * (someone else answered: TLS inspection, or the wrong server),
	 * false when the pinned one is there but the leaf does not verify.
	 */
	bool		 pin_missing;
	char		 issuer[256];	/* the leaf's issuer CN, "" if none */
	char		 detail[1024];	/* what happened, for people */
};

typedef void https_done_cb(void *arg, struct https_result *res);

struct https;

/*
 * Creates a client context: TLS 1.2 or later, ALPN "http/1.1". With
 * ca_file, peer verification against those CAs only; without, no trust
 * anchors at all, for pin mode. cert_file and key_file (both or neither)
 * are the client certificate for mutual TLS. Returns NULL with the reason
 * in err.
 */
SSL_CTX *https_ctx_new(const char *ca_file, const char *cert_file,
    const char *key_file, char *err, size_t errlen);

/*
 * Starts the request. The request struct is copied, but what it points to
 * (ctx, routes, pin) must stay valid until done runs; the body is copied.
 * timeout_ms applies to each dial step, to the handshake and to each wait
 * for the response. No callback runs before this returns; the object is
 * freed after done returns. Returns NULL when the URL is not
 * https://HOST[:PORT] or memory runs out.
 */
struct https *https_request_start(struct event_base *base,
    struct evdns_base *dns, const struct https_request *req,
    https_done_cb *done, void *arg);

/* Abandons a request; done does not run. NULL is a no-op. */
void https_cancel(struct https *h);

/*
 * The pin check, without I/O. chain is what the server presented, leaf
 * first. Some certificate in it must have pki_spki_pin_cert() == pin; the
 * leaf must verify up to that certificate used as the only trust anchor
 * (X509_V_FLAG_PARTIAL_CHAIN, purpose sslserver, the current time) and
 * match host (a name or an address literal). Returns:
 *   UPLINK_OK        *anchor is the pinned certificate (borrowed from chain)
 *   UPLINK_ENOTFOUND no certificate carries the pin: someone else answered,
 *                    typically a TLS-inspecting proxy (why says whose)
 *   UPLINK_EINVAL    the pinned certificate is there but the leaf does not
 *                    verify to it or is not for host (why says what)
 * issuer receives the CN of the leaf's issuer ("" without a chain).
 */
int https_pin_verify(STACK_OF(X509) *chain, const char *host,
    const unsigned char pin[PKI_PIN_LEN], X509 **anchor, char *issuer,
    size_t issuerlen, char *why, size_t whylen);

#endif
