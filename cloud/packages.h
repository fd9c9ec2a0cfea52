#ifndef UPLINK_CLOUD_PACKAGES_H
#define UPLINK_CLOUD_PACKAGES_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/http.h>

/*
 * The connector packages the cloud hands out, so that the first install
 * of a connector needs nothing but the cloud (docs/install.md): the
 * regular files named uplink-connector_VERSION_ARCH.deb directly in one
 * directory ([cloud] packages, docs/cloud.md), listed to administrators
 * by GET /api/v1/packages and downloaded by anyone who reaches the TLS
 * listener at GET /packages/NAME (a public binary, like a distribution's
 * mirror; what it may do is decided by the enrollment token, not by the
 * file). Nothing else in the directory is ever opened.
 */

struct cloud;
struct rest;

#define PACKAGES_DEFAULT_DIR	"/usr/share/uplink-cloud/packages"
#define PACKAGES_PREFIX		"uplink-connector_"
#define PACKAGES_SUFFIX		".deb"
#define PACKAGES_NAME_MAX	128	/* bytes of a file name */
#define PACKAGES_MAX		64	/* files listed */
#define PACKAGES_FILE_MAX	(256LL * 1024 * 1024)	/* bytes of one */

/*
 * True when name is PACKAGES_PREFIX VERSION _ ARCH PACKAGES_SUFFIX, with a
 * Debian version as dpkg-buildpackage writes it in file names (a digit,
 * then letters, digits and . + ~ -) and an architecture of lower-case
 * letters, digits and '-', at most PACKAGES_NAME_MAX bytes; version and
 * arch (each at least PACKAGES_NAME_MAX + 1 bytes, or NULL) get the parts.
 * Such a name has no '/', no "..", nothing to escape in a URL.
 */
bool packages_name_parse(const char *name, char *version, char *arch);

/*
 * The directory in use: [cloud] packages when set, else
 * PACKAGES_DEFAULT_DIR when it exists; NULL when there is none.
 */
const char *packages_dir(struct cloud *c);

/* GET /api/v1/packages (an administrator's session or an API key). */
void rest_packages_list(struct rest *r);

/*
 * Answers a request whose path starts with "/packages/" on the TLS
 * listener, without authentication: the file streamed from disk with its
 * type, length, ETag (its SHA-256) and Last-Modified, or 404 naming no
 * path for anything that is not a listed package.
 */
void packages_serve(struct cloud *c, struct evhttp_request *req,
    const char *path);

/*
 * Sends the open file fd (taken; st its fstat, hex its SHA-256 for the
 * ETag) as name, piece by piece, with Content-Length: a download that
 * ends short ends the connection. Also used for releases.
 */
struct stat;
void packages_send_fd(struct evhttp_request *req, const char *name,
    const char *type, int fd, const struct stat *st, const char *hex);

#endif
