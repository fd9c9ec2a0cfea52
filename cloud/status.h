#ifndef UPLINK_CLOUD_STATUS_H
#define UPLINK_CLOUD_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"

/*
 * cloud/status.c: the live state of each connector (the store's row with
 * its tunnels' figures), for status.json and the API.
 */

struct cloud;

struct live_conn {
	struct store_connector	 sc;
	char			 site[STORE_NAME_MAX + 1];
	unsigned		 tunnels, draining;
	int			 expected;
	uint64_t		 streams, bytes_in, bytes_out;
	long			 rtt_ms;
	char			 version[32];
	char			 peer[64];
	/* In a cluster: tunnels on other instances (in tunnels too), and
	 * [{instance, tunnels}] of the whole fleet (owned). */
	unsigned		 remote;
	json_t			*instances;
};

struct live_list {
	struct live_conn	*v;
	size_t			 n, cap;
	bool			 revoked_too;
};

/* The connectors of site_id (0: all), revoked ones too if asked. */
int live_collect(struct cloud *c, int64_t site_id, bool revoked_too,
    struct live_list *l, char *err, size_t errlen);
void live_free(struct live_list *l);
/* "online", "degraded", "draining", "offline" or "revoked". */
const char *live_state(const struct live_conn *lc);
/* Online or degraded: it takes streams. */
bool live_serving(const struct live_conn *lc);
/* The connector as status.json and the API show it. */
json_t *live_conn_json(const struct live_conn *lc, int64_t now);
/*
 * The cluster's instances as status.json and GET /api/v1/instances show
 * them (cloud/cluster.c's memory): an empty array when not in a cluster.
 */
json_t *live_instances_json(struct cloud *c);

/* cloud/status.c: DATA_DIR/status.json, rewritten every second. */
int status_start(struct cloud *c, char *err, size_t errlen);
void status_write(struct cloud *c);
/* Removes the file at a clean exit: "status" then says it is not running. */
void status_remove(struct cloud *c);

#endif
