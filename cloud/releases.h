#ifndef UPLINK_CLOUD_RELEASES_H
#define UPLINK_CLOUD_RELEASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>
#include <jansson.h>
#include <openssl/x509.h>

#include "datadir.h"

/*
 * Signed connector releases kept by the cloud (docs/updates.md, "Releases
 * in the cloud"). The store holds each release's manifest and signature
 * as the operator made them; its files are kept in DATA_DIR/releases/
 * under their SHA-256 in hex, so two releases that ship the same file
 * keep it once and a file is found by the hash the signed manifest names.
 * Connectors download them with their client certificate on the TLS
 * listener (GET /v1/releases/...), as they renew.
 */

struct cloud;
struct rest;

#define RELEASES_PATH		"/v1/releases/"
#define RELEASES_DIR		"releases"

/* One file of a release being added: from a path, or bytes in memory. */
struct releases_src {
	const char		*name;	/* as the manifest names it */
	const char		*path;	/* or NULL, then data/len */
	const unsigned char	*data;
	size_t			 len;
};

/*
 * Adds a release: the manifest must parse, its signature must verify with
 * the signing key it carries and name it in its trusted comment, and each
 * file must have the stated size and SHA-256 (hashed while it is copied
 * into the data directory). The root certificate is the connectors' to
 * check. Returns 0, or -1 with why; *exists when it was already stored.
 */
int releases_add(struct datadir *dd, const char *manifest, size_t mlen,
    const char *sig, size_t slen, const struct releases_src *src,
    size_t nsrc, int64_t now, char *version, size_t versionlen,
    bool *exists, char *err, size_t errlen);

/* Removes every release of version and the files no other one uses. */
int releases_remove(struct datadir *dd, const char *version, int64_t *n,
    char *err, size_t errlen);

/*
 * The newest release for channel and arch: version (at least 33 bytes),
 * "" when there is none. 0, or -1 with why.
 */
int releases_newest(struct datadir *dd, const char *channel,
    const char *arch, char *version, int64_t *signed_at, char *err,
    size_t errlen);

/* GET /v1/releases/... on the TLS listener, for connectors. */
void releases_serve(struct cloud *c, struct evhttp_request *req,
    const char *uri, X509 *cert);

/* GET, POST /api/v1/releases, DELETE /api/v1/releases/VERSION. */
void rest_releases_list(struct rest *r);
void rest_releases_post(struct rest *r);
void rest_release_delete(struct rest *r);

/* A release as JSON (the CLI's --json and the API share it). */
struct store_release;
json_t *releases_json(const struct store_release *r);

#endif
