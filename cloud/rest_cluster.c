/*
 * The fleet in the API (docs/api.md, "Instances"): every instance of the
 * cluster this one knows, from cloud/cluster.c's memory (re-read from the
 * store every second), never from the store on the request's path.
 */
#include <jansson.h>

#include "cluster.h"
#include "daemon.h"
#include "rest.h"
#include "status.h"

void
rest_instances_list(struct rest *r)
{
	rest_reply(r, 200, json_pack("{s:b, s:s, s:o}", "cluster",
	    cluster_enabled(r->c), "self", cluster_self(r->c), "instances",
	    live_instances_json(r->c)));
}
