#ifndef UPLINK_CLOUD_CHECKS_H
#define UPLINK_CLOUD_CHECKS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "store.h"

/*
 * cloud/checks.c: connectivity checks run on connectors.
 */

struct cloud;

/*
 * cloud/checks.c: connectivity checks run on connectors on demand
 * (POST /api/v1/connectors/ID/check), after they connect, and every
 * check_interval. done runs once: status 200 with the stored check as
 * JSON, or a failure status (503 offline, 504 timeout, 409 busy, 502)
 * with an error code and message. Returns false when it could not start
 * (done has run).
 */
typedef void checks_done_fn(void *arg, int status, const char *code,
    const char *message, json_t *check);
void checks_run(struct cloud *c, const char *connector, const char *trigger,
    checks_done_fn *done, void *arg);
/* A connector's first tunnel is up: check it soon. */
void checks_connected(struct cloud *c, const char *connector);
int checks_start(struct cloud *c, char *err, size_t errlen);
void checks_free(struct cloud *c);
/* A stored check as the API shows it. */
json_t *checks_json(const struct store_check *k, bool with_report);

#endif
