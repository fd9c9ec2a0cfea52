#ifndef UPLINK_DIAL_H
#define UPLINK_DIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/dns.h>

#include "proxy.h"

/*
 * The dialer: every outbound TCP connection of the connector, and of the
 * check utility, is made here, so that a passing check means the service
 * will connect the same way. It takes the route decision, then resolves and
 * connects directly, or connects to the proxy and asks it with CONNECT (or,
 * for plain HTTP, leaves the connection to the proxy for an absolute-form
 * request). Each step is timed and reported; the result is a connected,
 * non-blocking socket with nothing read from it beyond the proxy's reply.
 */

/* curl-style --resolve HOST:PORT:ADDR overrides, for direct connections. */
struct resolve_entry {
	char		 host[256];
	uint16_t	 port;
	char		 addr[64];
};

struct resolve_map {
	struct resolve_entry	*v;
	size_t			 n;
};

/* Adds "HOST:PORT:ADDR" (ADDR an IPv4 or [IPv6] literal). */
int resolve_map_add(struct resolve_map *m, const char *spec, char *why,
    size_t whylen);
const char *resolve_map_lookup(const struct resolve_map *m, const char *host,
    uint16_t port);
void resolve_map_free(struct resolve_map *m);

/* What went wrong; the names are those of the check's JSON "error". */
enum dial_error {
	DIAL_OK = 0,
	DIAL_EDNS,
	DIAL_ETCP,
	DIAL_ETIMEOUT,
	DIAL_EPROXY_UNREACHABLE,
	DIAL_EPROXY_DENIED,
	DIAL_EPROXY_ERROR,
	DIAL_ENOTALLOWED,	/* every address refused by addr_ok */
};

/*
 * "dns", "tcp", "timeout", "proxy-unreachable", ..., "not-allowed" (NULL
 * for DIAL_OK).
 */
const char *dial_error_name(enum dial_error e);

struct sockaddr;

/*
 * Asked for each address a direct connection is about to be made to, after
 * the name is resolved: false (why filled) skips the address as if it had
 * refused the connection, and when every address is skipped the dial ends
 * with DIAL_ENOTALLOWED. Not asked through a proxy, which resolves the
 * name itself.
 */
typedef bool dial_addr_cb(void *arg, const struct sockaddr *sa, char *why,
    size_t whylen);

struct dial_opts {
	const char			*host;
	uint16_t			 port;
	const struct route_table	*routes;
	const struct resolve_map	*resolve;	/* may be NULL */
	bool				 plain_http;	/* via a proxy: no CONNECT */
	int				 timeout_ms;	/* per step */
	/*
	 * Start with address number (spread mod n) of the n the name
	 * resolves to, so that several connections to one name (a
	 * connector's tunnels) land on all of its addresses.
	 */
	unsigned			 spread;
	const char			*id;		/* for log lines */
	dial_addr_cb			*addr_ok;	/* NULL: every address */
	void				*addr_arg;
};

struct dial_result {
	enum dial_error	 error;
	int		 fd;		/* connected socket, owned by the caller */
	struct route	 route;
	char		 peer[80];	/* address connected to ("host:port") */
	char		 detail[512];	/* what failed and where, for humans */
};

/* Reports each step as it ends: name, success, duration and a detail. */
typedef void dial_step_cb(void *arg, const char *name, bool ok, long ms,
    const char *detail);
/* Reports the end; the dial object is gone after this returns. */
typedef void dial_done_cb(void *arg, struct dial_result *res);

struct dial;

/*
 * Starts a connection. No callback runs before dial_start returns. The
 * options (and the strings and tables they point to) must stay valid until
 * the done callback. Returns NULL only when out of memory.
 */
struct dial *dial_start(struct event_base *base, struct evdns_base *dns,
    const struct dial_opts *opts, dial_step_cb *step, dial_done_cb *done,
    void *arg);

/* Abandons a dial before it is done; no callback runs afterwards. */
void dial_cancel(struct dial *d);

/* Monotonic milliseconds, for timing steps. */
long dial_now_ms(void);

#endif
