#ifndef UPLINK_CLOUD_HISTORY_H
#define UPLINK_CLOUD_HISTORY_H

#include "store.h"
#include "tunnel.h"

/*
 * cloud/history.c: the connectors' history (docs/api.md, "History").
 * cloud/router.c fills a struct store_seen per connector once a minute;
 * store_connectors_seen() writes it, history rows included, in one
 * transaction for all connectors.
 */

struct cloud;

/* Adds tunnel t's open streams and last round trip to s. */
void history_sample(const struct tunnel *t, struct store_seen *s);

/*
 * Called after each of the router's minute writes: merges and deletes
 * old rows (store_history_prune()) at most every HISTORY_PRUNE_SECS, or
 * at every call when the test knob UPLINK_TEST_SEEN_SECS is set.
 */
void history_tick(struct cloud *c);

#endif
