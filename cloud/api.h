#ifndef UPLINK_CLOUD_API_H
#define UPLINK_CLOUD_API_H

#include <stddef.h>

/*
 * cloud/api.c: the HTTP handlers of enrollment, renewal, /ca.pem and /crl.
 */

struct cloud;

int api_start(struct cloud *c, char *err, size_t errlen);
/* Rebuilds the CRL from the store (after a revocation). */
int api_crl_refresh(struct cloud *c, char *err, size_t errlen);

#endif
