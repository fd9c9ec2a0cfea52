#ifndef UPLINK_ERROR_H
#define UPLINK_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Error codes returned by the core library. Zero is success; every failure is
 * a positive value that uplink_strerror() turns into a short phrase. Functions
 * that can say more (which entry of a list, which byte of a response) fill a
 * caller-provided message buffer as well.
 */
enum uplink_err {
	UPLINK_OK = 0,
	UPLINK_ENOMEM,		/* out of memory */
	UPLINK_EINVAL,		/* malformed input; a message says what */
	UPLINK_ETOOBIG,		/* a size cap was hit */
	UPLINK_EAGAIN,		/* parser needs more bytes */
	UPLINK_ECONFIG,		/* configuration error; a message says file:line */
	UPLINK_EIO,		/* a system call failed; errno is kept */
	UPLINK_ENOTFOUND,	/* lookup found nothing */
	UPLINK_EEXIST,		/* the name or object is taken */
	UPLINK_EUNAVAIL,	/* a service (the database) is unavailable */
};

/* Returns a static, human-readable phrase for an uplink_err value. */
const char *uplink_strerror(int err);

/*
 * The one error-message formatter: writes the message into err (nothing
 * when err is NULL or errlen is 0; cut short to fit) and returns rc, so a
 * failure reads "return uplink_fail(UPLINK_EINVAL, err, errlen, ...);".
 * uplink_vfail() is the same with a va_list, for wrappers that do more
 * (such as dropping OpenSSL's queued errors).
 */
int uplink_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int uplink_vfail(int rc, char *err, size_t errlen, const char *fmt,
    va_list ap) __attribute__((format(printf, 4, 0)));

#endif
