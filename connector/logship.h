#ifndef UPLINK_CONNECTOR_LOGSHIP_H
#define UPLINK_CONNECTOR_LOGSHIP_H

#include <stdint.h>

#include <event2/event.h>

#include "tunnel.h"

/*
 * The connector's log lines for the cloud (docs/protocol.md, "Logs").
 * Every line the connector logs also goes into a bounded ring (the
 * newest [run] log_buffer lines, at most 1 MiB; lib/core/logring.h).
 * The cloud collects them by opening a stream on a tunnel to the
 * reserved target LOGSHIP_HOST:LOGSHIP_PORT, which is never dialled:
 * it sends one request line {"boot": B, "after": N}, and the connector
 * answers with a header line and then newline-delimited JSON lines
 * from the ring, after N when B is its own boot id, else from the
 * oldest it holds, as fast as the stream's flow control lets it.
 */

#define LOGSHIP_HOST		TUNNEL_LOGS_HOST
#define LOGSHIP_PORT		TUNNEL_LOGS_PORT
#define LOGSHIP_REQ_MAX		512	/* the request line */
#define LOGSHIP_SESSIONS	4	/* streams at once */

/* Starts the ring (lines) and hooks it to the log. */
void logship_start(struct event_base *base, int lines);
/* A stream to LOGSHIP_HOST: answers it (or refuses it). */
void logship_request(struct event_base *base, struct tunnel_stream *s,
    uint16_t port);
/*
 * Ends the log streams (the connector is draining: its tunnels close
 * once their streams are done, and this one never is). Lines are kept.
 */
void logship_drain(void);
/* Log streams open now (not counted against [run] max_streams). */
uint32_t logship_streams(void);
/* Ends the streams, unhooks and frees the ring. */
void logship_stop(void);

#endif
