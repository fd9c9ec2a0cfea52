#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "error.h"

/* Writes all of data to fd with the given mode and forces it to disk. */
static int
atomicfile_fd_write(int fd, mode_t mode, const char *data, size_t len)
{
	ssize_t	 n;

	if (fchmod(fd, mode) == -1)
		return -1;
	while (len > 0) {
		n = write(fd, data, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return fsync(fd);
}

/* Makes the rename of path survive a crash; best effort. */
static void
atomicfile_sync_dir(const char *path)
{
	char		 dir[PATH_MAX];
	const char	*slash = strrchr(path, '/');
	int		 fd;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return;
	(void)fsync(fd);
	close(fd);
}

int
atomicfile_write(const char *path, const void *data, size_t len,
    mode_t mode, const char *what, char *err, size_t errlen)
{
	char	 tmp[PATH_MAX];
	int	 fd, n, saved;

	if (what == NULL)
		what = "file";
	n = snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return uplink_fail(UPLINK_EINVAL, err, errlen, "%.80s...: the "
		    "path is too long", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd == -1)
		return uplink_fail(UPLINK_EIO, err, errlen, "%s: cannot create "
		    "a file beside it: %s (writing the %s needs a directory "
		    "it can create files in)", path, strerror(errno), what);
	saved = atomicfile_fd_write(fd, mode, data, len) == -1 ? errno : 0;
	if (close(fd) == -1 && saved == 0)
		saved = errno;
	if (saved != 0) {
		unlink(tmp);
		return uplink_fail(UPLINK_EIO, err, errlen, "%s: cannot write "
		    "the %s: %s", tmp, what, strerror(saved));
	}
	if (rename(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		return uplink_fail(UPLINK_EIO, err, errlen, "%s: cannot put the "
		    "%s in place: %s", path, what, strerror(saved));
	}
	atomicfile_sync_dir(path);
	return UPLINK_OK;
}
