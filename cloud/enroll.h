#ifndef UPLINK_CLOUD_ENROLL_H
#define UPLINK_CLOUD_ENROLL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "buf.h"
#include "datadir.h"

/*
 * What POST /v1/enroll and POST /v1/renew do, without the HTTP: each
 * handler takes the request body and the peer's address (for the log),
 * writes the JSON response body into resp and returns the HTTP status.
 * The caller sends it with Content-Type: application/json. Every decision
 * is logged (log_info / log_warnx) with the peer, the token id (never the
 * secret) and the connector id. docs/cloud.md has the wire format.
 *
 *   200 {"connector_id","site","certificate","ca","not_after",
 *        "renew_after"}
 *   4xx/500 {"error": CODE, "message": TEXT}; TEXT is safe to show the
 *        client and says what to do. CODEs: bad-request, csr-invalid (400),
 *        no-certificate (401), token-unknown, token-expired, token-used,
 *        token-revoked, connector-revoked (403), internal (500).
 */

#define ENROLL_BODY_MAX		(64 * 1024)	/* request body cap */
#define ENROLL_RESP_MIN		(32 * 1024)	/* cap resp should allow */

struct enroll_ctx {
	struct datadir	*dd;
	int64_t		 cert_lifetime;	/* seconds; rounded up to whole days */
};

/*
 * POST /v1/enroll. body is {"token": TEXT, "csr": PEM, "name": NAME,
 * "version": TEXT}: an object with exactly these fields, all strings;
 * version may be left out. The token must be good (store_token_check);
 * then the CSR is signed with CN = a new connector id, lifetime
 * c->cert_lifetime and the CRL distribution point dd->crl_url, and
 * store_enroll() uses the token and records the connector and its
 * certificate in one transaction. renew_after is two thirds into the
 * certificate's validity.
 */
int enroll_handle(const struct enroll_ctx *c, const char *body, size_t len,
    const char *peer, struct buf *resp);

/*
 * POST /v1/renew, over mutual TLS. client_cert is the certificate the
 * connector presented (NULL: 401 no-certificate); it must have been
 * issued by this cloud (checked here too) to a connector that is not
 * revoked (403 connector-revoked). body is {"csr": PEM}. The new
 * certificate keeps the connector's id and becomes its current one; the
 * old one stays valid until it expires.
 */
int renew_handle(const struct enroll_ctx *c, X509 *client_cert,
    const char *body, size_t len, const char *peer, struct buf *resp);

#endif
