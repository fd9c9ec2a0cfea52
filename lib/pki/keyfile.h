#ifndef UPLINK_KEYFILE_H
#define UPLINK_KEYFILE_H

#include <stddef.h>

/*
 * Private key files. A key that other users can read is no longer private,
 * and one they can write lets them choose this daemon's identity, so the
 * daemons refuse to start with one (OpenSSH refuses such an identity file
 * for the same reason).
 */

/*
 * UPLINK_OK when the file at path (symbolic links followed) is a regular
 * file that neither its group nor others may read, write or execute (mode
 * 0600 or 0400). Otherwise UPLINK_EINVAL with err saying what is wrong and
 * how to fix it ("... is readable by group and others (mode 0644): run
 * chmod 600 PATH"), or UPLINK_EIO (errno kept) when it cannot be examined.
 * what names the key in the message ("the connector's private key").
 */
int keyfile_check_mode(const char *path, const char *what, char *err,
    size_t errlen);

#endif
