#ifndef UPLINK_CLOUD_NOTIFY_H
#define UPLINK_CLOUD_NOTIFY_H

#include <stddef.h>

/*
 * cloud/notify.c: notifications for the console's bell.
 */

struct cloud;

/*
 * cloud/notify.c: notifications for the console's bell. A sweep every few
 * seconds opens and resolves the conditions it can see (connector
 * offline, site without redundancy, certificate expiring); the others are
 * raised where they happen.
 */
int notify_start(struct cloud *c, char *err, size_t errlen);
void notify_free(struct cloud *c);
/* Opens (kind, subject) unless it is open already; logs the message. */
void notify_open(struct cloud *c, const char *kind, const char *subject,
    const char *severity, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void notify_resolve(struct cloud *c, const char *kind, const char *subject);

#endif
