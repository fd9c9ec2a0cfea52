#ifndef UPLINK_CLOUDCONF_H
#define UPLINK_CLOUDCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostport.h"

/*
 * uplink-cloud's configuration file (INI). Every error reads
 * "FILE:LINE: what is wrong; how to fix it". See docs/cloud.md.
 */

#define CLOUDCONF_DEFAULT_PATH	"/etc/uplink/cloud.conf"
#define CLOUDCONF_DEFAULT_DATA	"/var/lib/uplink-cloud"
#define CLOUDCONF_PATH_MAX	4096
#define CLOUDCONF_NAME_MAX	63

struct cloud_publish {
	char		 name[CLOUDCONF_NAME_MAX + 1];
	struct hostport	 listen;	/* address literal or name, port set */
	char		 site[CLOUDCONF_NAME_MAX + 1];
	struct hostport	 target;	/* port set */
	int		 line;		/* line of the [publish NAME] header */
	/* Connection caps of this service; 0: [limits] service_connections* */
	uint32_t	 connections;
	uint32_t	 connections_per_address;
};

/* One entry of [metrics] allow: an address and its prefix length. */
#define CLOUDCONF_ALLOW_MAX	32
struct cloud_cidr {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 addr[16];	/* network byte order, host bits 0 */
	unsigned	 prefix;	/* 0..32 or 0..128 */
};

struct cloud_config {
	char		 path[CLOUDCONF_PATH_MAX];
	char		 data_dir[CLOUDCONF_PATH_MAX];	/* default CLOUDCONF_DEFAULT_DATA */
	struct hostport	 listen;		/* default 0.0.0.0:443 */
	bool		 http_enabled;		/* default true */
	struct hostport	 http_listen;		/* default 0.0.0.0:80 */
	bool		 ingress_enabled;	/* default true */
	struct hostport	 ingress_listen;	/* default 127.0.0.1:3128 */
	char		 cert[CLOUDCONF_PATH_MAX];	/* "" = DATA_DIR/server.pem */
	char		 key[CLOUDCONF_PATH_MAX];	/* "" = DATA_DIR/server.key */
	char		 packages[CLOUDCONF_PATH_MAX];	/* "": cloud/packages.h's default */
	int64_t		 cert_lifetime;		/* seconds, default 30 days */
	int64_t		 drain_timeout;		/* seconds, default 30 */
	int64_t		 check_interval;	/* seconds, default 1h; 0 off */
	/* [update] (cloud/rollout.c): seconds */
	int64_t		 update_outdated_after;	/* default 30d */
	int64_t		 update_step_timeout;	/* restart + gate, default 5m */
	int64_t		 ping_interval;		/* seconds, default 10 */
	uint32_t	 ping_misses;		/* default 3 */
	uint32_t	 streams_per_tunnel;	/* default 10000 */
	size_t		 stream_buffer;		/* bytes, default 256 KiB */
	size_t		 header_bytes;		/* bytes, default 16 KiB */
	uint32_t	 pending_connects;	/* default 1000 */
	uint32_t	 tunnels_per_connector;	/* default 16 */
	uint32_t	 pending_per_connector;	/* default 1000 */
	/* The listeners' caps (0: derived from the descriptor limit) and deadlines. */
	uint32_t	 tls_connections;	/* handshakes + HTTPS, not tunnels */
	uint32_t	 tls_connections_per_address;
	uint32_t	 tls_handshakes_per_address;
	uint32_t	 http_connections;	/* the plain HTTP listener */
	uint32_t	 http_connections_per_address;
	int64_t		 tls_first_byte_timeout;	/* seconds, default 3 */
	int64_t		 tls_handshake_timeout;	/* seconds, default 10 */
	int64_t		 request_head_timeout;	/* seconds, default 10 */
	/* Ingress and published services (docs/cloud.md): */
	uint32_t	 ingress_per_address;	/* connections, default 256 */
	uint32_t	 service_connections;	/* per service, default 1000 */
	uint32_t	 service_per_address;	/* per service and address, 128 */
	/* [metrics] (cloud/metrics.c, docs/metrics.md): off by default. */
	int64_t		 logs_retention;	/* [logs] seconds, default 7d */
	size_t		 logs_max_bytes;	/* per connector, default 64m */
	uint32_t	 logs_lines_per_sec;	/* ingest cap, default 200 */
	size_t		 logs_bytes_per_sec;	/* ingest cap, default 64k */
	int64_t		 events_retention;	/* seconds, default 90d */
	bool		 metrics_enabled;
	struct hostport	 metrics_listen;	/* 127.0.0.1:9464 when on */
	struct cloud_cidr metrics_allow[CLOUDCONF_ALLOW_MAX];
	size_t		 metrics_nallow;	/* 0: API keys only */
	char		 metrics_instance[CLOUDCONF_NAME_MAX + 1]; /* "": the url's host */
	int		 log_level;		/* LOG_LEVEL_INFO (lib/log.h) by default */
	/* [store]: "" = sqlite:DATA_DIR/uplink.db; the password from a file. */
	char		 store_url[CLOUDCONF_PATH_MAX];
	char		 store_password_file[CLOUDCONF_PATH_MAX];
	int64_t		 store_timeout;		/* seconds per call, default 2 */
	/*
	 * [cluster] (cloud/cluster.c, docs/cluster.md): "" = a cluster of
	 * one. A hostport with port 0 is not set: peer_address is then
	 * peer_listen, tunnel_address the url's host:port; tunnel_name ""
	 * is the url's host.
	 */
	char		 cluster_instance[CLOUDCONF_NAME_MAX + 1];
	struct hostport	 cluster_peer_listen;
	struct hostport	 cluster_peer_address;
	char		 cluster_tunnel_name[HOSTPORT_HOST_MAX + 1];
	struct hostport	 cluster_tunnel_address;
	int64_t		 cluster_lease;		/* seconds, default 10 */
	struct cloud_publish *publish;
	size_t		 npublish;
	/* [cluster] proxy_from, reuseport (cloud/proxygate.c, docs/cluster.md) */
	struct cloud_cidr proxy_from[CLOUDCONF_ALLOW_MAX];
	size_t		 nproxy_from;		/* 0: no PROXY protocol at all */
	int		 reuseport;		/* -1: yes in cluster mode */
};

/* Fills cfg with the defaults (no publish sections). */
void cloudconf_defaults(struct cloud_config *cfg);

/*
 * Reads path over the defaults. Returns UPLINK_OK, or UPLINK_ECONFIG /
 * UPLINK_EIO / UPLINK_ENOMEM with "FILE:LINE: ..." in err. Unknown sections
 * and keys are errors (a typo must not silently change nothing).
 */
int cloudconf_load(const char *path, struct cloud_config *cfg, char *err,
    size_t errlen);

/* Frees the publish array; NULL-safe, and the struct may be loaded again. */
void cloudconf_free(struct cloud_config *cfg);

#endif
