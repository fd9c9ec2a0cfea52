#ifndef UPLINK_CLOUD_INGRESS_H
#define UPLINK_CLOUD_INGRESS_H

#include <stdbool.h>

#include <stddef.h>

/*
 * cloud/ingress.c: the ingress proxy (HTTP CONNECT into a site, with an
 * API key).
 */

struct cloud;
struct ingress;

int ingress_start(struct cloud *c, char *err, size_t errlen);
void ingress_free(struct ingress *in);
/* Closes the ingress connections of API keys revoked since checked. */
void ingress_sweep_revoked(struct ingress *in);

/* Stop accepting new connections (at shutdown). */
void ingress_stop(struct ingress *in);
/* As publish_accepting(), for the ingress proxy's port. */
void ingress_accepting(struct ingress *in, bool on);

#endif
