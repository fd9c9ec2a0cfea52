#ifndef UPLINK_CLOUD_CONSOLE_H
#define UPLINK_CLOUD_CONSOLE_H

#include <stddef.h>

/*
 * The web console's files (cloud/console/), compiled into uplink-cloud by
 * scripts/embed-assets so that the binary needs nothing beside it. path is
 * "/index.html", "/app.js"...; data is NUL-terminated (len excludes it);
 * etag is a quoted strong validator.
 */
struct console_asset {
	const char		*path;
	const char		*type;
	const char		*etag;
	const unsigned char	*data;
	size_t			 len;
};

extern const struct console_asset console_assets[];
extern const size_t console_nassets;

#endif
