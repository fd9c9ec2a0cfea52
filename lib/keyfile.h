#ifndef UPLINK_KEYFILE_H
#define UPLINK_KEYFILE_H

#include <stddef.h>

/*
 * Private key files: whoever can read one can impersonate its owner, so a
 * daemon refuses to start with a key that other users may read, as ssh
 * does with its identity files.
 */

/*
 * Checks the mode of the key file at path (following symbolic links, as
 * loading it does): UPLINK_OK when neither its group nor others may read,
 * write or execute it; UPLINK_EINVAL with "PATH can be read by other users
 * (mode 0644): run \"chmod 600 PATH\"" in err otherwise; UPLINK_EIO when
 * it cannot be examined (err names the file and errno's text). what names
 * the key in messages ("the cloud's TLS key"); it may be NULL.
 */
int keyfile_check_mode(const char *path, const char *what, char *err,
    size_t errlen);

#endif
