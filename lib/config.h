#ifndef UPLINK_CONFIG_H
#define UPLINK_CONFIG_H

#include <stddef.h>

#include "proxy.h"

/*
 * The connector's configuration file (INI, read with inih). Errors read
 * "FILE:LINE: what is wrong" followed by how to fix it. The service reads
 * this file alone: never the environment's proxy settings.
 *
 *   [proxy]
 *   server = http://proxy.corp.example:3128
 *   bypass = *.corp.example; 10.0.0.0/8, <local>
 *   [log]
 *   level = info
 *
 * Several "bypass =" lines add up; in a bypass value ';' always separates
 * entries and never starts a comment.
 */

#define CONFIG_DEFAULT_PATH	"/etc/uplink/connector.conf"
#define CONFIG_LINE_MAX		4096

struct connector_config {
	char			 path[4096];
	struct route_table	 routes;
	char			*bypass_text;	/* the joined bypass list, or NULL */
	int			 proxy_line;	/* 0 when not set */
	int			 bypass_line;
	int			 log_level;
};

/*
 * Reads and validates a configuration file. Returns UPLINK_OK, or
 * UPLINK_ECONFIG / UPLINK_EIO with a complete message in err
 * ("connector.conf:3: ...").
 */
int config_load(const char *path, struct connector_config *cfg, char *err,
    size_t errlen);

/* Frees what config_load allocated; the struct may be loaded again. */
void config_free(struct connector_config *cfg);

/*
 * Writes the proxy (and, when bypass is not NULL, the bypass list) into the
 * file's [proxy] section, keeping every other line, comment and section as
 * it was; creates the file when it does not exist. The file is replaced
 * atomically (written beside it, flushed, renamed).
 */
int config_save_proxy(const char *path, const char *server, const char *bypass,
    char *err, size_t errlen);

#endif
