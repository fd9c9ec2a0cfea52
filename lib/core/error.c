#include <stdarg.h>
#include <stdio.h>

#include "error.h"

const char *
uplink_strerror(int err)
{
	switch (err) {
	case UPLINK_OK:		return "success";
	case UPLINK_ENOMEM:	return "out of memory";
	case UPLINK_EINVAL:	return "invalid input";
	case UPLINK_ETOOBIG:	return "size limit exceeded";
	case UPLINK_EAGAIN:	return "more input needed";
	case UPLINK_ECONFIG:	return "configuration error";
	case UPLINK_EIO:	return "input/output error";
	case UPLINK_ENOTFOUND:	return "not found";
	case UPLINK_EEXIST:	return "already exists";
	case UPLINK_EUNAVAIL:	return "temporarily unavailable";
	}
	return "unknown error";
}

int
uplink_vfail(int rc, char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (err != NULL && errlen > 0)
		vsnprintf(err, errlen, fmt, ap);
	return rc;
}

int
uplink_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	rc = uplink_vfail(rc, err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}
