/*
 * The fleet in the API (docs/api.md, "Instances"): every instance of the
 * cluster this one knows, from cloud/cluster.c's memory (re-read from the
 * store every second), never from the store on the request's path.
 */
#include <jansson.h>

#include "cluster.h"
#include "daemon.h"
#include "rest.h"

static const char *
rest_cluster_state(enum cluster_state s)
{
	switch (s) {
	case CLUSTER_UP:
		return "up";
	case CLUSTER_DRAINING:
		return "draining";
	default:
		return "gone";
	}
}

void
rest_instances_list(struct rest *r)
{
	const struct cluster_instance	*v;
	json_t				*arr = json_array();
	size_t				 i, n;

	n = cluster_known(r->c, &v);
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, "
		    "s:s, s:o, s:o, s:I, s:I, s:b}", "id", v[i].id, "state",
		    rest_cluster_state(v[i].state), "peer_address",
		    v[i].peer_address, "tunnel_name", v[i].tunnel_name,
		    "tunnel_address", v[i].tunnel_address, "started_at",
		    rest_time(v[i].started_at), "lease_until",
		    rest_time(v[i].lease_until), "epoch",
		    (json_int_t)v[i].epoch, "tunnels", (json_int_t)(
		    v[i].state == CLUSTER_GONE ? 0 :
		    cluster_instance_tunnels(r->c, v[i].id)), "self",
		    v[i].self));
	rest_reply(r, 200, json_pack("{s:b, s:s, s:o}", "cluster",
	    cluster_enabled(r->c), "self", cluster_self(r->c), "instances",
	    arr));
}
