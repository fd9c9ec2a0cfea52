#ifndef UPLINK_CLOUD_PWVERIFY_H
#define UPLINK_CLOUD_PWVERIFY_H

#include <stdbool.h>
#include <stddef.h>

/*
 * cloud/pwverify.c: argon2id password checks on a worker thread.
 */

struct cloud;

/*
 * cloud/pwverify.c: argon2id password checks on a worker thread. cb runs
 * on the loop with whether pw matches hash (hash NULL: an unknown account,
 * checked at the same cost, never matches). -1: too many are waiting.
 * known: the client's address signed in to this account lately; such
 * checks go first and have places of their own in the queue.
 */
typedef void pwverify_cb(void *arg, bool ok);
int pwverify(struct cloud *c, const char *hash, const char *pw, bool known,
    pwverify_cb *cb, void *arg);
int pwverify_start(struct cloud *c, char *err, size_t errlen);
void pwverify_free(struct cloud *c);

#endif
