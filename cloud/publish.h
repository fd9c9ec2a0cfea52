#ifndef UPLINK_CLOUD_PUBLISH_H
#define UPLINK_CLOUD_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/*
 * cloud/publish.c: the published services, each a listener whose
 * connections go to a host:port inside a site.
 */

struct cloud;
struct publish;

int publish_start(struct cloud *c, char *err, size_t errlen);
/* A published service as it runs. */
struct publish_info {
	char	 name[STORE_NAME_MAX + 1];
	char	 site[STORE_NAME_MAX + 1];
	char	 target[STORE_TARGET_MAX + 1];	/* HOST:PORT in the site */
	char	 listen[STORE_TARGET_MAX + 1];	/* ADDRESS:PORT here */
	bool	 config;		/* from cloud.conf, not the API */
	unsigned connections;		/* caps; 0: [limits] service_connections */
	unsigned connections_per_address;	/* and ..._per_address */
	int64_t	 created_at, updated_at;	/* API ones */
};
/*
 * Starts listening for info; UPLINK_EEXIST when the name is published or
 * the address cannot be listened on, UPLINK_EINVAL when it is malformed
 * (err says what).
 */
int publish_add(struct cloud *c, const struct publish_info *info, char *err,
    size_t errlen);
/* A service of the store as publish_add() takes it. */
void publish_info_from(const struct store_service *s,
    struct publish_info *info);
/* Stops listening; connections already streaming go on. */
int publish_remove(struct cloud *c, const char *name);
bool publish_get(struct cloud *c, const char *name, struct publish_info *out);
void publish_foreach(struct cloud *c, void (*fn)(void *,
    const struct publish_info *), void *arg);
void publish_free(struct publish *p);
/* Stop accepting new connections (at shutdown). */
void publish_stop(struct publish *p);
/*
 * cloud/publish_sync.c: publishes the API services the store has and this
 * instance does not run, stops those it no longer has (or moves them as
 * changed), e.g. made through another instance; cloud.conf's are left.
 */
void publish_sync(struct cloud *c);
void publish_sync_free(void);
/*
 * Pauses (on false) or resumes accepting on every published port; a
 * paused port's clients wait in the kernel's backlog (cloud/edge.c).
 */
void publish_accepting(struct publish *p, bool on);

#endif
