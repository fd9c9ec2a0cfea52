#include <stdio.h>
#include <string.h>

#include "cluster.h"
#include "daemon.h"
#include "edge.h"
#include "peer.h"

bool
edge_ready(struct cloud *c, char *why, size_t whylen)
{
	const struct cluster_instance	*v;
	size_t				 i, n;

	if (c->stopping) {
		snprintf(why, whylen, "stopping");
		return false;
	}
	if (!cluster_enabled(c))
		return true;
	n = cluster_instances(c, &v);
	if (n == 0) {
		snprintf(why, whylen, "the fleet has not been read from the "
		    "store yet");
		return false;
	}
	for (i = 0; i < n; i++) {
		if (v[i].self || v[i].state != CLUSTER_UP ||
		    peer_usable(c, v[i].id))
			continue;
		snprintf(why, whylen, "no peer link to instance %s yet",
		    v[i].id);
		return false;
	}
	return true;
}
