/*
 * The mode check of private key files (see keyfile.h). Used by the
 * connector for connector.key and by the cloud for server.key, so the two
 * refuse the same modes with the same words.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "keyfile.h"

/* "group and others", "group" or "others", for the bits in mode & 077. */
static const char *
keyfile_who(mode_t bits)
{
	if ((bits & S_IRWXG) != 0 && (bits & S_IRWXO) != 0)
		return "group and others";
	return (bits & S_IRWXG) != 0 ? "group" : "others";
}

int
keyfile_check_mode(const char *path, const char *what, char *err,
    size_t errlen)
{
	struct stat	 st;
	mode_t		 bits;
	int		 saved;

	if (stat(path, &st) == -1) {
		saved = errno;
		snprintf(err, errlen, "cannot examine %s %s: %s", what, path,
		    strerror(saved));
		errno = saved;
		return UPLINK_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s is not a regular file; give the "
		    "path of the PEM key file", what, path);
		return UPLINK_EINVAL;
	}
	bits = st.st_mode & (S_IRWXG | S_IRWXO);
	if (bits == 0)
		return UPLINK_OK;
	snprintf(err, errlen, "%s %s is %s by %s (mode %04o), so it is not "
	    "private: run chmod 600 %s (and check who may have copied it)",
	    what, path, (bits & (S_IWGRP | S_IWOTH)) != 0 ?
	    ((bits & (S_IRGRP | S_IROTH)) != 0 ? "readable and writable" :
	    "writable") : "readable", keyfile_who(bits),
	    (unsigned)(st.st_mode & 07777), path);
	return UPLINK_EINVAL;
}
