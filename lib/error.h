#ifndef UPLINK_ERROR_H
#define UPLINK_ERROR_H

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

#endif
