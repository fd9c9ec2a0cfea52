#ifndef UPLINK_CLOUD_EVENTS_H
#define UPLINK_CLOUD_EVENTS_H

/*
 * cloud/events.c: each connector's timeline, what the cloud sees happen to
 * it (docs/api.md, "Connector events"): enrolled, tunnel up and down with
 * the reason, going away, drained and resumed, checks, certificate
 * renewals, revocation, a new version. Events wait in memory and are
 * written in one transaction every half second; they are kept [logs]
 * events_retention.
 */

struct cloud;

int events_start(struct cloud *c, char *err, size_t errlen);
/* Writes what waits and stops. */
void events_free(struct cloud *c);

/*
 * Records an event of connector (kind as in docs/api.md; the detail from
 * fmt). Before events_start() and after events_free() it is written at
 * once; a failure is logged, not fatal.
 */
void events_record(struct cloud *c, const char *connector, const char *kind,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The version a connector reported; records "updated" when it changed. */
void events_version(struct cloud *c, const char *connector,
    const char *version);

#endif
