#ifndef UPLINK_CLOUD_METRICS_H
#define UPLINK_CLOUD_METRICS_H

#include <stdbool.h>

#include <jansson.h>

/*
 * cloud/metrics.c: GET /metrics in the Prometheus text format 0.0.4 on an
 * address of its own ([metrics] listen, off by default), for clients in
 * [metrics] allow or bearing an API key with the metrics right. The
 * families and their labels are in docs/metrics.md.
 *
 * The counters are plain process-wide integers (one cloud per process, one
 * thread), bumped by the calls below where things happen; gauges and the
 * figures of live tunnels are read when a scrape comes. The calls cost an
 * increment and work whether or not the endpoint is on.
 */

struct cloud;
struct tunnel;

/* TLS handshakes on the listener (cloud/front.c), by result. */
enum metrics_hs {
	METRICS_HS_OK,		/* finished: a tunnel or an HTTPS request */
	METRICS_HS_FAILED,	/* a TLS error or a deadline */
	METRICS_HS_CLOSED,	/* the client went away quietly */
	METRICS_HS_N
};
void metrics_handshake(enum metrics_hs result);

/* A tunnel came up (cloud/router.c). */
void metrics_tunnel_up(void);
/* A tunnel is closing: its streams and bytes join the totals. */
void metrics_tunnel_down(const struct tunnel *t);

/*
 * A stream open through router_connect() ended after ms: status 200
 * (streaming), the connector's or the router's failure status, 0 with
 * code "timeout" or another code (the tunnel went away), or -1 (given up
 * by the client).
 */
void metrics_stream_open(int status, const char *code, long ms);

/* An enrollment (renew false) or a renewal answered with HTTP status. */
void metrics_enroll(bool renew, int status);

/*
 * A connectivity check ended (cloud/checks.c run_finish()): status 200
 * with the stored check (its "ok" is the verdict), else its error code.
 */
void metrics_check(int status, const char *code, const json_t *check);

/*
 * Starts the endpoint when [metrics] listen is set (else does nothing and
 * returns 0); -1 with err when it cannot listen.
 */
int metrics_start(struct cloud *c, char *err, size_t errlen);
/* Stops it and frees what it holds; safe when it never started. */
void metrics_free(struct cloud *c);


#endif
