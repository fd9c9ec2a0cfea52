#ifndef UPLINK_CLOUD_SERVERCERT_H
#define UPLINK_CLOUD_SERVERCERT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The cloud's own TLS certificate, DATA_DIR/server.pem (leaf, then the
 * uplink CA) with DATA_DIR/server.key, which "uplink-cloud init" makes for
 * DATADIR_SERVER_DAYS. The running cloud renews it before it expires, at
 * start and then once a day: a new key and certificate signed by the CA
 * for the same names, written whole, and a new TLS context so that new
 * handshakes present it (connections already open keep theirs).
 * Connectors pin the CA, not the leaf, so they trust the new one at once.
 *
 * An operator's chain (cert = / key = in [cloud]) is the operator's: it is
 * never renewed here, only warned about when it expires within
 * SERVERCERT_WARN_DAYS.
 */

struct cloud;

#define SERVERCERT_CHECK_SECS	86400	/* how often the running cloud looks */
#define SERVERCERT_WARN_DAYS	30	/* for an operator's chain */

/*
 * Renews DATA_DIR/server.pem and server.key if pki_renew_at() says it is
 * time, or if they cannot be read, do not belong together or were not
 * issued by the data directory's CA (a half-finished renewal). Sets
 * *renewed when it wrote new files. With an operator's chain it only warns.
 * Returns -1 with err when renewal was needed and failed.
 */
int servercert_check(struct cloud *c, bool *renewed, char *err,
    size_t errlen);

/*
 * At start, before the TLS context is made: servercert_check(), then a
 * timer that repeats it every SERVERCERT_CHECK_SECS (the environment
 * variable UPLINK_TEST_SERVERCERT_CHECK_SECS, for tests only, shortens it)
 * and swaps in a new TLS context after a renewal. A failed renewal is
 * logged, not fatal: the current certificate stays while it is valid.
 */
int servercert_start(struct cloud *c, char *err, size_t errlen);

/* Stops the timer; a cloud without one is a no-op. */
void servercert_free(struct cloud *c);

#endif
