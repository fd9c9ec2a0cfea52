#ifndef UPLINK_CONNECTOR_UPDATE_FETCH_H
#define UPLINK_CONNECTOR_UPDATE_FETCH_H

#include <event2/dns.h>
#include <event2/event.h>

#include "config.h"

/*
 * Downloads a signed release from the cloud and stages it
 * (docs/updates.md): GET /v1/releases/latest (when no version is given),
 * the manifest and its signature, which are verified before any file is
 * fetched, then each file, capped at its stated size + 1 byte, into a
 * temporary directory under STATE; update_stage_release() then verifies
 * everything again while it copies the files to STATE/versions/VERSION/
 * and gives them their final names. Requests go as renewal's do: the
 * [cloud] url through the connector's routes, the cloud's CA the only
 * anchor, the connector's certificate as the client's.
 */

struct update_fetch;

/* rc: a RELEASE_* verdict; version "" if not known; msg for people. */
typedef void update_fetch_cb(void *arg, int rc, const char *version,
    const char *msg);

/*
 * Starts; cfg and state must stay valid until done runs (which it does
 * only after this returned). NULL when out of memory.
 */
struct update_fetch *update_fetch_start(struct event_base *base,
    struct evdns_base *dns, const struct connector_config *cfg,
    const char *state, const char *version, update_fetch_cb *done,
    void *arg);
/* Abandons a download; done does not run. NULL is a no-op. */
void update_fetch_cancel(struct update_fetch *uf);

#endif
