#ifndef UPLINK_CLOUD_FRONT_H
#define UPLINK_CLOUD_FRONT_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/http.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

/*
 * cloud/front.c: the TLS listener (enrollment, renewal, tunnels, the API)
 * and the plain HTTP listener, dispatched by ALPN to router, api and rest.
 */

struct cloud;
struct front;

/* The server's TLS context: certificate chain, key, client CA, ALPN. */
SSL_CTX *front_tls_ctx(struct cloud *c, char *err, size_t errlen);
int front_start(struct cloud *c, char *err, size_t errlen);
void front_free(struct front *f);
/*
 * For an HTTPS request handled by c->api: the client's address and its
 * verified certificate (NULL if it sent none). Returns false for a request
 * that did not come through the TLS front.
 */
bool front_peer(struct cloud *c, struct evhttp_request *req,
    const char **addr, X509 **cert);
/* For a request handled by c->http: whether a port-80 relay sent it. */
bool front_http_peer(struct cloud *c, struct evhttp_request *req);
/* Drops the connection of a request no relay sent, without an answer. */
void front_refuse(struct cloud *c, struct evhttp_request *req);

/* Stop accepting new connections (at shutdown). */
void front_stop(struct front *f);

/* "192.0.2.1:443" or "[2001:db8::1]:443", for log lines. */
void cloud_peer_name(const struct sockaddr *sa, char *dst, size_t dstlen);

#endif
