#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "keyfile.h"

int
keyfile_check_mode(const char *path, const char *what, char *err,
    size_t errlen)
{
	struct stat	 st;
	const char	*sep = what != NULL ? " (" : "";
	const char	*end = what != NULL ? ")" : "";

	if (what == NULL)
		what = "";
	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s%s%s%s: %s", path, sep, what, end,
		    strerror(errno));
		return UPLINK_EIO;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s%s%s%s can be %s by other users "
		    "(mode %04o): run \"chmod 600 %s\"", path, sep, what, end,
		    (st.st_mode & 044) != 0 ? "read" : "changed",
		    (unsigned)(st.st_mode & 07777), path);
		return UPLINK_EINVAL;
	}
	return UPLINK_OK;
}
