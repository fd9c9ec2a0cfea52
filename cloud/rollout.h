#ifndef UPLINK_CLOUD_ROLLOUT_H
#define UPLINK_CLOUD_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"

/*
 * Rollouts of connector releases (docs/updates.md, "Rollouts"): per site,
 * one connector at a time, never while another connector of the site is
 * down: drain, download (the connector fetches, verifies and stages the
 * release on GET /v1/update), restart (it exits; its launcher runs the
 * new version), health gate (its tunnels up with the new version and a
 * passing connectivity check), then the next connector. A connector that
 * comes back on its old version with a rollback record, refuses the
 * release, or gives no result within [update] step_timeout pauses the
 * site's rollout and raises a notification.
 */

struct cloud;
struct rest;

int rollout_start(struct cloud *c, char *err, size_t errlen);
void rollout_free(struct cloud *c);

/*
 * Adds what the rollout knows of connector id to its JSON object: outdated
 * (behind the newest release of its channel and architecture for longer
 * than [update] outdated_after), newest_release and update (its step).
 */
void rollout_annotate(json_t *j, const char *id, const char *version);

/*
 * A maintenance window's check, exposed for tests: whether t falls in
 * ro's window in its time zone. false when ro has no window.
 */
bool rollout_in_window(const struct store_rollout *ro, int64_t t);
/* An IANA time zone name the system's database has ("Europe/Paris"). */
bool rollout_tz_valid(const char *tz);

/* An administrator resumed the site: what failed there may be tried again. */
void rollout_site_resumed(int64_t site_id);

/* cloud/rest_rollout.c: GET/PATCH /api/v1/sites/{name}/rollout, POST .../update-now. */
void rest_rollout_get(struct rest *r);
void rest_rollout_patch(struct rest *r);
void rest_rollout_now(struct rest *r);

#endif
