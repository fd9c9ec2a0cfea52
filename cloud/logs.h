#ifndef UPLINK_CLOUD_LOGS_H
#define UPLINK_CLOUD_LOGS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * cloud/logs.c: the connectors' log lines and their timelines.
 *
 * Logs: while a connector has a tunnel, the cloud keeps one stream open
 * on it to the reserved target uplink.logs:1 (connector/logship.c,
 * docs/protocol.md) and reads newline-delimited JSON lines from it,
 * resuming after the last line it stored. Reading stops for a while when
 * the connector goes over its ingest cap ([logs] lines_per_second and
 * bytes_per_second): the stream's flow control then holds the connector,
 * whose buffer keeps its newest lines and reports what it dropped. Lines
 * are written to the store in batches (one transaction each, at most a
 * second apart) and pruned by age and size ([logs] in cloud.conf).
 *
 * The router's hooks also record the tunnels in the connector's
 * timeline (cloud/events.c).
 */

struct cloud;

int logs_start(struct cloud *c, char *err, size_t errlen);
/* Ends the log streams now (the cloud is draining) and stops opening. */
void logs_drain(struct cloud *c);
void logs_free(struct cloud *c);

/* Hooks of cloud/router.c. */
void logs_tunnel_up(struct cloud *c, const char *connector,
    const char *tunnel, const char *peer);
void logs_tunnel_down(struct cloud *c, const char *connector,
    const char *tunnel, const char *why);
void logs_going_away(struct cloud *c, const char *connector,
    const char *tunnel, const char *why);

/*
 * A live tail: calls fn(arg) once, when lines of connector have been
 * stored or after timeout_ms, whichever is first. Returns -1 when too
 * many wait already (LOGS_WAITERS_MAX).
 */
#define LOGS_WAITERS_MAX	256
typedef void logs_wait_fn(void *arg);
int logs_wait(struct cloud *c, const char *connector, int timeout_ms,
    logs_wait_fn *fn, void *arg);

/*
 * A "since" as people give it: Unix seconds ("1765000000"), a UTC time
 * ("2026-12-07T01:00:00Z") or how long ago ("15m", "2h", "7d"). Sets
 * *ms (Unix milliseconds); -1 with why otherwise.
 */
int logs_since_parse(const char *s, int64_t now, int64_t *ms, char *why,
    size_t whylen);

/* Level names and syslog priorities: "warn" is 4; -1 if unknown. */
int logs_level_parse(const char *name);
const char *logs_level_name(int level);

#endif
