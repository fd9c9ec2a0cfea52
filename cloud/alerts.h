#ifndef UPLINK_CLOUD_ALERTS_H
#define UPLINK_CLOUD_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alertfmt.h"
#include "store.h"

/*
 * cloud/alerts.c: notifications that leave the console (docs/alerts.md).
 * Rules send the notifications cloud/notify.c opens and resolves to
 * channels: webhooks (signed JSON over HTTP) and e-mail through an SMTP
 * relay, both through libcurl's multi-socket interface on the daemon's
 * event loop, retried with backoff, each attempt in the delivery log.
 */

struct cloud;

int alerts_start(struct cloud *c, char *err, size_t errlen);
/* Stops every delivery in flight; a pending test is told "stopping". */
void alerts_free(struct cloud *c);
/*
 * Looks for alerts due soon (cloud/notify.c calls it when it opens a
 * notification); the store says what is due, so a missed call only
 * delays an alert to the next sweep.
 */
void alerts_kick(struct cloud *c);

/*
 * Sends a test message to channel id at once, one attempt; cb gets the
 * delivery as logged (status "delivered" or "failed" with last_error).
 * UPLINK_ENOTFOUND: no such channel.
 */
typedef void (*alerts_test_cb)(void *arg, const struct store_delivery *d);
int alerts_test(struct cloud *c, int64_t id, const char *actor,
    alerts_test_cb cb, void *arg, char *err, size_t errlen);

#endif
