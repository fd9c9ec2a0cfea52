/*
 * The fleet in the API (docs/api.md, "Instances"): every instance of the
 * cluster this one knows, from cloud/cluster.c's memory (re-read from the
 * store every second), never from the store on the request's path.
 */
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cluster.h"
#include "hostport.h"
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

/*
 * GET /api/v1/cluster: the instances a connector may keep tunnels on
 * (docs/cluster.md), for connectors with their client certificate (and
 * administrators). Up and draining instances are listed, each with its
 * id, the TLS name (SNI) and host:port a connector dials for it, its
 * state and when it started (a connector that avoids an instance after a
 * failure stops avoiding it once it has restarted); a connector ranks the up ones by rendezvous hashing of its id
 * (lib/core/rendezvous.c) and avoids the draining ones. A cloud that is
 * not a cluster answers 404 not-clustered, as a cloud from before this
 * answered 404: either way its connectors dial its url, as always.
 */

static const char *
cluster_state_name(enum cluster_state st)
{
	switch (st) {
	case CLUSTER_UP:	return "up";
	case CLUSTER_DRAINING:	return "draining";
	default:		return "gone";
	}
}

/*
 * An instance is offered when it has a tunnel_name of its own: one that
 * is the cloud's own name (the default) reaches whichever instance the
 * balancer picks, so a connector could not choose it. Then the
 * connectors stay on the url, as with a single instance.
 */
bool
cluster_offered(struct cloud *c, const struct cluster_instance *ci)
{
	struct hostport	 hp;
	char		 path[256], why[256];
	bool		 https;

	if (ci->state == CLUSTER_GONE || ci->tunnel_name[0] == '\0' ||
	    ci->tunnel_address[0] == '\0')
		return false;
	if (url_parse(c->dd.url, &https, &hp, path, sizeof(path), why,
	    sizeof(why)) != UPLINK_OK)
		return true;
	return strcasecmp(hp.host, ci->tunnel_name) != 0;
}

void
rest_cluster_get(struct rest *r)
{
	const struct cluster_instance	*v;
	json_t				*list;
	size_t				 i, n;

	if (!cluster_enabled(r->c)) {
		rest_fail(r, 404, "not-clustered", "this cloud is a single "
		    "instance; connectors dial its url");
		return;
	}
	list = json_array();
	n = cluster_instances(r->c, &v);
	for (i = 0; i < n; i++) {
		if (!cluster_offered(r->c, &v[i]))
			continue;
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, "
		    "s:I}", "id", v[i].id, "name", v[i].tunnel_name, "address",
		    v[i].tunnel_address, "state",
		    cluster_state_name(v[i].state), "started",
		    (json_int_t)v[i].started_at));
	}
	rest_reply(r, 200, json_pack("{s:o, s:s}", "instances", list, "self",
	    cluster_self(r->c)));
}

/*
 * The rows of the cloud's required addresses (GET /api/v1/requirements,
 * docs/catalog.md) for the instances connectors are offered: one per
 * instance, its name under the wildcard of its parent domain with the
 * name itself as the probe, so a firewall rule for the wildcard covers
 * instances yet to come and the check tests each one there is.
 */
void
cluster_requirements(struct cloud *c, json_t *addrs)
{
	const struct cluster_instance	*v;
	struct hostport			 hp;
	const char			*parent;
	char				 host[CLUSTER_NAME_MAX + 3], why[256];
	char				 purpose[128];
	size_t				 i, n;

	n = cluster_instances(c, &v);
	for (i = 0; i < n; i++) {
		if (!cluster_offered(c, &v[i]) || hostport_parse(
		    v[i].tunnel_address, 443, &hp, why, sizeof(why)) !=
		    UPLINK_OK)
			continue;
		parent = strchr(v[i].tunnel_name, '.');
		if (parent != NULL && strchr(parent + 1, '.') != NULL)
			snprintf(host, sizeof(host), "*%s", parent);
		else
			snprintf(host, sizeof(host), "%s", v[i].tunnel_name);
		snprintf(purpose, sizeof(purpose), "tunnels to instance %s",
		    v[i].id);
		json_array_append_new(addrs, json_pack("{s:s, s:s, s:i, s:s, "
		    "s:s}", "host", host, "probe", v[i].tunnel_name, "port",
		    hp.port, "scheme", "https", "purpose", purpose));
	}
}
