#ifndef UPLINK_CLOUD_ALERTFMT_H
#define UPLINK_CLOUD_ALERTFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"

/*
 * cloud/alertfmt.c: what alerts say and where they go, without I/O
 * (docs/alerts.md). cloud/alerts.c sends them.
 */

/*
 * Checks a channel's config for type ("webhook" or "email") and fills in
 * the defaults (port 587, starttls "required"); false with the reason in
 * err, naming the field and what to give.
 */
bool alerts_channel_check(const char *type, json_t *config, char *err,
    size_t errlen);

/*
 * The JSON body a webhook receives for delivery d of notification n (an
 * n->id of 0 is a test: no notification fields), sent at now by the cloud
 * at URL cloud. NULL without memory or when a text is not UTF-8.
 */
char *alert_webhook_body(const char *cloud, const struct store_delivery *d,
    const struct store_note *n, int64_t now);
/*
 * The RFC 5322 message (CRLF lines, UTF-8 text, ASCII Subject) for the
 * e-mail channel's config cfg. Never NULL.
 */
char *alert_email_body(const char *cloud, const struct store_delivery *d,
    const struct store_note *n, json_t *cfg, int64_t now);

#endif
