#ifndef UPLINK_ALERTSIG_H
#define UPLINK_ALERTSIG_H

#include <stddef.h>
#include <stdint.h>

/*
 * The pure parts of sending alerts (cloud/alerts.c, docs/alerts.md): the
 * webhook signature header and the retry schedule. No I/O.
 */

/* "t=" + 20 digits + ",v1=" + 64 hex digits + NUL, rounded up. */
#define ALERTSIG_HEADER_SIZE	96
#define ALERT_RETRY_FIRST	2	/* seconds before the first retry */
#define ALERT_RETRY_MAX		300	/* no wait is longer */
#define ALERT_ATTEMPTS_MAX	8	/* attempts per delivery */

/*
 * Writes the value of the Uplink-Signature header for body sent at time
 * t: "t=T,v1=HEX", where HEX is the lowercase HMAC-SHA256, keyed with the
 * key's bytes, of the decimal T, a '.', and the body (Stripe's scheme, so
 * a receiver can refuse replays by the time and forgeries by the MAC).
 * Returns 0, or -1 when out is too small or key is empty.
 */
int alertsig_header(const char *key, size_t keylen, int64_t t,
    const void *body, size_t bodylen, char *out, size_t outlen);

/*
 * Seconds to wait after failed attempt number `attempt` (1 for the first)
 * before the next one: ALERT_RETRY_FIRST, doubling, at most
 * ALERT_RETRY_MAX; -1 when attempt was the last allowed
 * (ALERT_ATTEMPTS_MAX) or is not positive.
 */
int alert_backoff(int attempt);

#endif
