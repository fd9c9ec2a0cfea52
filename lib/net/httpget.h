#ifndef UPLINK_HTTPGET_H
#define UPLINK_HTTPGET_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dial.h"

/*
 * A plain-HTTP GET through the dialer: direct with an origin-form request,
 * or through the proxy with an absolute-form one, as the route decides. Used
 * for CRL downloads (port 80) and the check's http addresses.
 */

/* Splits "http://HOST[:PORT][/PATH]". path receives "/" when none. */
int httpget_parse_url(const char *url, struct hostport *hp, char *path,
    size_t pathlen, char *why, size_t whylen);

enum httpget_error {
	HTTPGET_OK = 0,
	HTTPGET_EDIAL,		/* see dial_error */
	HTTPGET_ETIMEOUT,	/* no complete response in time */
	HTTPGET_EPROTO,		/* not HTTP, truncated, too large */
	HTTPGET_EPROXY,		/* the proxy answered for the target (403...) */
};

struct httpget_result {
	enum httpget_error	 error;
	enum dial_error		 dial_error;	/* with HTTPGET_EDIAL */
	struct route		 route;
	int			 status;	/* the HTTP status, 0 if none */
	char			 status_line[160];
	struct buf		*body;		/* decoded body */
	char			 detail[512];
};

typedef void httpget_cb(void *arg, struct httpget_result *res);

struct httpget;

/*
 * Starts a GET of url. The body is capped at max_body bytes; timeout_ms
 * applies to each dial step and to the whole exchange after connecting.
 * step, if not NULL, receives the dialer's steps. The object is freed after
 * done returns.
 */
struct httpget *httpget_start(struct event_base *base, struct evdns_base *dns,
    const struct route_table *routes, const struct resolve_map *resolve,
    const char *url, size_t max_body, int timeout_ms, dial_step_cb *step,
    httpget_cb *done, void *arg);

/* Abandons a request; no callback runs afterwards. */
void httpget_cancel(struct httpget *g);

#endif
