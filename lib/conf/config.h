#ifndef UPLINK_CONFIG_H
#define UPLINK_CONFIG_H

#define CONFIG_HEALTH_GATE_DEFAULT	120

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "hostport.h"
#include "proxy.h"
#include "release.h"

/*
 * The connector's configuration file (INI, read with inih). Errors read
 * "FILE:LINE: what is wrong" followed by how to fix it. The service reads
 * this file alone: never the environment's proxy settings.
 *
 *   [cloud]
 *   url = https://cloud.example.com:8443
 *   ca = /var/lib/uplink-connector/cloud-ca.pem
 *   cert = /var/lib/uplink-connector/connector.pem
 *   key = /var/lib/uplink-connector/connector.key
 *   tunnels = 2
 *   [proxy]
 *   server = http://proxy.corp.example:3128
 *   bypass = *.corp.example; 10.0.0.0/8, <local>
 *   [access]
 *   allow = 127.0.0.1:8000, *.corp.example:443; 10.0.0.0/8:*
 *   via_proxy = no
 *   [check]
 *   allow = updates.vendor.example:443   (more the cloud may have tested)
 *   [run]
 *   drain_timeout = 30s
 *   stream_buffer = 256k
 *   ping_interval = 10s        (health PING; 1s..5m)
 *   ping_misses = 3            (unanswered in a row: reconnect)
 *   max_streams = 1000         (connections open to targets at once)
 *   log_buffer = 10000         (log lines kept for the cloud)
 *   [log]
 *   level = info
 *   [update]                   (signed releases, docs/updates.md)
 *   root_key = /etc/uplink/release-root.pub   (or its base64 line)
 *   revoked_keys = 0123456789ABCDEF, ...
 *   channel = stable
 *   allow_version = 0.1.0      (a rollback the operator pinned)
 *
 * Several "bypass =" or "allow =" lines add up; in their values ';' always
 * separates entries and never starts a comment. Every section is optional
 * for config_load(); the service asks config_need_cloud() for [cloud].
 * Relative paths in [cloud] are taken from the configuration file's
 * directory. Unknown sections and keys are errors: a typo must not
 * silently change nothing. docs/config.md is the user's reference.
 */

#define CONFIG_DEFAULT_DIR	"/etc/uplink"
#define CONFIG_DEFAULT_PATH	CONFIG_DEFAULT_DIR "/connector.conf"
#define CONFIG_LINE_MAX		4096
#define CONFIG_PATH_MAX		4096

#define CONFIG_TUNNELS_DEFAULT	2
#define CONFIG_TUNNELS_MAX	16
#define CONFIG_DRAIN_DEFAULT	30		/* seconds */
#define CONFIG_DRAIN_MAX	3600
#define CONFIG_STREAMBUF_DEFAULT (256 * 1024)
#define CONFIG_STREAMBUF_MIN	(16 * 1024)
#define CONFIG_STREAMBUF_MAX	(16 * 1024 * 1024)
#define CONFIG_MAX_STREAMS_DEFAULT 1000
#define CONFIG_MAX_STREAMS_MAX	100000

struct connector_config {
	char			 path[CONFIG_PATH_MAX];
	struct route_table	 routes;
	char			*bypass_text;	/* joined bypass list or NULL */
	int			 proxy_line;	/* 0 when not set */
	int			 bypass_line;
	int			 log_level;

	/* [cloud]; cloud_url is "" when the file has no [cloud] section. */
	char			 cloud_url[256];	/* https://H[:PORT] */
	struct hostport		 cloud;		/* its host and port (443) */
	char			 cloud_ca[CONFIG_PATH_MAX];	/* absolute */
	char			 cloud_cert[CONFIG_PATH_MAX];
	char			 cloud_key[CONFIG_PATH_MAX];
	int			 tunnels;	/* 1..16, default 2 */
	int			 cloud_line;	/* first [cloud] key, or 0 */

	/* [access] */
	struct access		*access;	/* NULL: nothing is allowed */
	char			*access_text;	/* joined allow lines or NULL */
	int			 access_line;	/* first allow line, or 0 */
	bool			 via_proxy;	/* default false */

	/* [check]: more addresses the cloud's checks may test */
	struct access		*check_access;	/* NULL: none beyond [access] */
	int			 check_line;	/* first allow line, or 0 */

	/* [run] */
	int64_t			 drain_timeout;	/* s, 1..3600, default 30 */
	size_t			 stream_buffer;	/* 16k..16m, default 256k */
	int64_t			 ping_interval;	/* seconds, 1..300, default 10 */
	int			 ping_misses;	/* 1..10, default 3 */
	int			 max_streams;	/* 1..100000, default 1000 */
	int			 log_buffer;	/* lines kept for the cloud, 10000 */

	/* [update]: which signed releases "update" accepts */
	char			 update_root_path[CONFIG_PATH_MAX]; /* or "" */
	char			 update_root_b64[128];	/* or "" */
	uint8_t			 update_revoked[RELEASE_REVOKED_MAX]
				     [RELEASE_KEYID_LEN];
	size_t			 update_nrevoked;
	char			 update_channel[RELEASE_WORD_MAX + 1];
	char			 update_allow_version[RELEASE_VERSION_MAX + 1];
	/* s, 5..3600: a new version's health gate under the launcher */
	int64_t			 update_health_gate;
};

/*
 * Reads and validates a configuration file. Returns UPLINK_OK, or
 * UPLINK_ECONFIG / UPLINK_EIO with a complete message in err
 * ("connector.conf:3: ...").
 */
int config_load(const char *path, struct connector_config *cfg, char *err,
    size_t errlen);

/*
 * Frees what config_load allocated (the bypass and access lists); the
 * struct may be loaded again. Safe on a zeroed struct.
 */
void config_free(struct connector_config *cfg);

/*
 * For the service: UPLINK_OK when the loaded file has a [cloud] section,
 * else UPLINK_ECONFIG with "FILE: no [cloud] section: ..." (how to enroll)
 * in err.
 */
int config_need_cloud(const struct connector_config *cfg, char *err,
    size_t errlen);

/*
 * Writes the proxy (and, when bypass is not NULL, the bypass list) into the
 * file's [proxy] section, keeping every other line, comment and section as
 * it was; creates the file when it does not exist. The file is replaced
 * atomically (written beside it, flushed, renamed).
 */
int config_save_proxy(const char *path, const char *server, const char *bypass,
    char *err, size_t errlen);

/*
 * What enrollment writes: replaces the [cloud] section with url, ca, cert
 * and key (absolute paths) and, when server is not NULL, sets [proxy]
 * server (and bypass, when not NULL) as config_save_proxy() does. Every
 * other section, line and comment of an existing file stays; comments
 * that follow the last key of the old [cloud] are kept too, as they
 * usually introduce the next section. A new file also gets an [access]
 * section whose comments say that nothing is allowed until "allow =" is
 * set, with an example. The file is written beside path, fsynced, given
 * mode 0600 and renamed over path.
 */
int config_save_cloud(const char *path, const char *url, const char *ca,
    const char *cert, const char *key, const char *server, const char *bypass,
    char *err, size_t errlen);

#endif
