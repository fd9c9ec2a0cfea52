#ifndef UPLINK_CONNECTOR_REMOTE_CHECK_H
#define UPLINK_CONNECTOR_REMOTE_CHECK_H

#include "service.h"
#include "tunnel.h"

/*
 * The connectivity check on demand (docs/api.md, docs/check.md). The cloud
 * asks "GET /v1/check" on a tunnel; the connector fetches the catalog of
 * required addresses from the cloud (GET /api/v1/requirements with its
 * client certificate, through the route its tunnels take), runs on it the
 * very check "uplink-connector check --json" runs, with its own proxy,
 * bypass list and the cloud's CA as the trust anchor, on the service's
 * event loop, and answers 200 with the same JSON report. One check runs at
 * a time; if the cloud gives up on the stream, the check stops.
 */

#define REMOTE_CHECK_PATH	"/v1/check"
#define REMOTE_CHECK_CATALOG	"/api/v1/requirements"

/*
 * The tunnels' get callback: answers "GET path" on stream s of tunnel t,
 * now (404, 409 busy, 503 draining) or when the check is done.
 */
void remote_check_get(struct service *svc, struct tunnel *t,
    struct tunnel_stream *s, const char *path);

#endif
