#ifndef UPLINK_PROXY_H
#define UPLINK_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bypass.h"
#include "hostport.h"

/*
 * The route decision. Every outbound connection the connector makes asks
 * route_decide() first: a bypass match goes direct, anything else goes
 * through the proxy when one is configured, and direct otherwise. The proxy
 * is a manually configured, unauthenticated HTTP proxy: no PAC, no WPAD, no
 * credentials, no other scheme.
 */

struct proxy_url {
	char		 host[HOSTPORT_HOST_MAX + 1];
	enum host_kind	 kind;
	uint16_t	 port;
	char		 url[HOSTPORT_HOST_MAX + 16];	/* "http://host:port" */
};

/*
 * Parses a proxy setting: "http://HOST:PORT", "http://HOST:PORT/" or
 * "HOST:PORT". Refuses credentials, automatic configuration (pac, auto,
 * wpad, *.pac, *.dat URLs), schemes other than http, paths and a missing
 * port, each with a message in why that says how to fix it.
 */
int proxy_url_parse(const char *s, struct proxy_url *out, char *why,
    size_t whylen);

/* Where the table's settings came from, for messages. */
struct route_table {
	bool		 has_proxy;
	struct proxy_url proxy;
	struct bypass	*bypass;	/* NULL: empty list */
	char		 source[512];	/* "/etc/uplink/connector.conf", "HTTPS_PROXY"... */
};

enum route_kind {
	ROUTE_DIRECT,
	ROUTE_PROXY,
};

struct route {
	enum route_kind		 kind;
	const char		*rule;	/* bypass entry that matched, or NULL */
	const struct proxy_url	*proxy;	/* the proxy when kind is ROUTE_PROXY */
};

/* Makes the decision for host:port. Never resolves names. */
void route_decide(const struct route_table *rt, const char *host,
    uint16_t port, struct route *out);

/*
 * Describes a decision in one phrase: 'direct (bypass rule "*.corp")',
 * 'proxy http://10.0.0.1:3128 (no bypass rule matched)', 'direct (no proxy
 * configured)'.
 */
void route_describe(const struct route *r, char *dst, size_t dstlen);

/* Initialises an empty table: no proxy, empty bypass list. */
void route_table_init(struct route_table *rt);

/* Frees the bypass list; the table is empty again afterwards. */
void route_table_clear(struct route_table *rt);

/*
 * Sets the proxy from a string (see proxy_url_parse); NULL or "" removes it.
 * Returns UPLINK_OK or UPLINK_EINVAL with why.
 */
int route_table_set_proxy(struct route_table *rt, const char *url, char *why,
    size_t whylen);

/*
 * Replaces the bypass list. flags as for bypass_parse(). On error, why names
 * the entry and its position.
 */
int route_table_set_bypass(struct route_table *rt, const char *list, int flags,
    char *why, size_t whylen);

/*
 * Fills the table from HTTPS_PROXY / https_proxy and NO_PROXY / no_proxy,
 * as an installer uses the user's Internet settings (curl's NO_PROXY
 * semantics). Only the interactive commands call this; the service reads its
 * configuration file alone.
 */
int route_table_from_env(struct route_table *rt, char *why, size_t whylen);

#endif
