#ifndef UPLINK_CATALOG_H
#define UPLINK_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The catalog of required addresses that the check utility tests: services,
 * each with addresses given as host names or "*." wildcards, a port, a
 * scheme (https or http), a purpose, and for a wildcard a concrete probe
 * host. The format is documented in docs/catalog.md.
 */

#define CATALOG_MAX_BYTES	(1024 * 1024)
#define CATALOG_MAX_ADDRESSES	1000

enum check_scheme {
	SCHEME_HTTPS,
	SCHEME_HTTP,
};

struct check_target {
	char			 service[64];
	char			 purpose[256];
	char			 address[256];	/* as written, may be "*.x" */
	char			 probe[256];	/* host to test; "" if none */
	uint16_t		 port;
	enum check_scheme	 scheme;
	char			 path[512];	/* for http */
};

struct catalog {
	struct check_target	*v;
	size_t			 n;
};

/*
 * Adds the addresses of a JSON catalog. origin names the source in messages
 * ("FILE: services[0].addresses[2].port: ..."). Returns UPLINK_OK or
 * UPLINK_EINVAL / UPLINK_ETOOBIG with a message in err.
 */
int catalog_load_json(struct catalog *c, const char *text, size_t len,
    const char *origin, char *err, size_t errlen);

/* Reads a catalog file (at most CATALOG_MAX_BYTES). */
int catalog_load_file(struct catalog *c, const char *path, char *err,
    size_t errlen);

/* Adds one address given as a URL ("https://HOST[:PORT]", "http://..."). */
int catalog_add_url(struct catalog *c, const char *service, const char *url,
    const char *purpose, char *err, size_t errlen);

/* Keeps only the addresses of the named services. Returns how many remain. */
size_t catalog_filter(struct catalog *c, char *const *services, size_t n);

/*
 * Why s[0..len) may not be a text of the catalog ("a line break", "a
 * control character"; for a path also "a space" and "a byte that is not
 * ASCII"), with its offset in *at, or NULL when it may. Every text of a
 * catalog is checked with it when loaded; the check uses it again on the
 * path it is about to send.
 */
const char *catalog_text_invalid(const char *s, size_t len, bool path,
    size_t *at);

void catalog_free(struct catalog *c);

#endif
