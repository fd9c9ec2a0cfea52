#ifndef UPLINK_ATOMICFILE_H
#define UPLINK_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Replaces path with len bytes of data so that readers, and the file after
 * a crash, hold the old contents or the new ones, never a part: a
 * temporary file beside path made with O_EXCL (mkostemp), the exact mode
 * set with fchmod (the umask only applies at creation), every byte written
 * and fsync'd, rename over path, then an fsync of the directory (best
 * effort: the new file is already in place). On failure path is untouched
 * and the temporary file removed. what names the file in messages ("the
 * private key"); NULL reads "file". Returns UPLINK_OK, UPLINK_EINVAL (path
 * too long) or UPLINK_EIO, with the reason in err.
 */
int atomicfile_write(const char *path, const void *data, size_t len,
    mode_t mode, const char *what, char *err, size_t errlen);

#endif
