/*
 * cloud/cluster.c: this instance among the others of a cluster sharing one
 * PostgreSQL store. A cluster of one until [cluster] is configured.
 */

#include <stddef.h>

#include "cluster.h"
#include "daemon.h"

int
cluster_start(struct cloud *c, char *err, size_t errlen)
{
	(void)c;
	(void)err;
	(void)errlen;
	return 0;
}

void
cluster_free(struct cloud *c)
{
	(void)c;
}

bool
cluster_enabled(const struct cloud *c)
{
	(void)c;
	return false;
}

const char *
cluster_self(const struct cloud *c)
{
	(void)c;
	return "";
}

size_t
cluster_instances(const struct cloud *c, const struct cluster_instance **out)
{
	(void)c;
	*out = NULL;
	return 0;
}

const struct cluster_instance *
cluster_instance(const struct cloud *c, const char *id)
{
	(void)c;
	(void)id;
	return NULL;
}

size_t
cluster_locations(const struct cloud *c, const char *connector,
    struct cluster_location *out, size_t max)
{
	(void)c;
	(void)connector;
	(void)out;
	(void)max;
	return 0;
}

void
cluster_tunnels_changed(struct cloud *c, const char *connector,
    const char *site, unsigned n)
{
	(void)c;
	(void)connector;
	(void)site;
	(void)n;
}

void
cluster_drain(struct cloud *c)
{
	(void)c;
}
