#ifndef UPLINK_CLOUD_PROXYGATE_H
#define UPLINK_CLOUD_PROXYGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <event2/listener.h>

/*
 * cloud/proxygate.c: the PROXY protocol v2 in front of a listener. When
 * [cluster] proxy_from lists addresses (a load balancer such as HAProxy
 * with send-proxy-v2), every connection from them must start with a
 * PROXY v2 header, which is read here, before the listener's own accept
 * callback runs, and that callback is then handed the client's address
 * from the header instead of the balancer's: per-address caps, sign-in
 * limits, log lines and the audit log all see the client. A connection
 * from a listed address without a valid header within
 * [limits] tls_first_byte_timeout is refused with a log line; on
 * listeners whose clients speak first (LISTEN_CLIENT_FIRST), so is a
 * header from an address not listed. Without proxy_from nothing of this
 * runs: the accept callback is called directly, as before.
 */

struct cloud;
struct cloud_cidr;
struct proxygate;

/* cloud_listen_ext() flags. */
#define LISTEN_PROXY		0x1	/* PROXY v2 from proxy_from */
#define LISTEN_CLIENT_FIRST	0x2	/* TLS, HTTP, the ingress proxy */
#define LISTEN_REUSEPORT	0x4	/* SO_REUSEPORT ([cluster] reuseport) */

/*
 * A gate for one listener that runs cb(lev, fd, sa, salen, arg) once a
 * connection has passed. what names the listener in log lines.
 */
struct proxygate *proxygate_new(struct cloud *c, int flags,
    evconnlistener_cb cb, void *arg, const char *what);
/* The listener's accept callback, with the gate as its argument. */
void proxygate_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *gate);
/* Closes the connections still waiting; NULL is a no-op. */
void proxygate_free(struct proxygate *g);

/* Whether sa is inside one of the n entries of list (v4-mapped as v4). */
bool cidr_match(const struct cloud_cidr *list, size_t n,
    const struct sockaddr *sa);

#endif
