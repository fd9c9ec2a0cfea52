/*
 * uplink-cloud's configuration file (see cloudconf.h and docs/cloud.md).
 *
 * inih does the INI syntax. It tells its handler neither the line number
 * nor when a section starts, so lines reach it through cloudconf_read_line(),
 * which counts them, refuses lines inih would cut, drops leading white space
 * (so an indented "key = value" is not taken for a continuation line) and
 * sees section headers itself: an empty [publish NAME] must still be
 * checked, and inih cuts section names at 50 bytes. The handler then only
 * deals with "key = value" in the section the reader last saw.
 *
 * Keys are described by one table (cloudconf_keys) giving their section,
 * kind, field and allowed range, so adding a key is one row. What needs
 * the whole file (complete publish sections, cert with key, listeners that
 * collide) is checked after inih is done.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "cloudconf.h"
#include "duration.h"
#include "error.h"
#include "hostport.h"
#include "inifile.h"
#include "log.h"
#include "store.h"

#define CLOUDCONF_PUBLISH_MAX	1024
#define CLOUDCONF_SHOW		64	/* bytes of a value quoted in messages */

enum cloudconf_section {
	SEC_NONE,		/* before the first header */
	SEC_CLOUD,
	SEC_INGRESS,
	SEC_LIMITS,
	SEC_LOG,
	SEC_LOGS,
	SEC_METRICS,
	SEC_STORE,
	SEC_CLUSTER,
	SEC_UPDATE,
	SEC_PUBLISH,
	SEC_BAD,		/* a header that was refused: keys are ignored */
};

static const char *const cloudconf_section_names[] = {
	[SEC_CLOUD] = "cloud",
	[SEC_INGRESS] = "ingress",
	[SEC_LIMITS] = "limits",
	[SEC_LOG] = "log",
	[SEC_LOGS] = "logs",
	[SEC_METRICS] = "metrics",
	[SEC_STORE] = "store",
	[SEC_CLUSTER] = "cluster",
	[SEC_UPDATE] = "update",
};

enum cloudconf_kind {
	K_PATH,			/* a file or directory name */
	K_LISTEN,		/* ADDRESS:PORT, or "off" when flag is set */
	K_HOSTPORT,		/* HOST:PORT (publish target) */
	K_SITE,			/* a site name (store_name_check) */
	K_DURATION,		/* duration_parse, min..max seconds */
	K_COUNT,		/* a whole number, min..max, uint32_t */
	K_SIZE,			/* cloudconf_size_parse, min..max, size_t */
	K_LEVEL,		/* debug | info | warning */
	K_ALLOW,		/* [metrics] allow: addresses and CIDRs */
	K_INSTANCE,		/* [metrics] instance: a label value */
	K_STORE_URL,		/* sqlite:PATH, postgresql://..., or a conninfo */
	K_CLUSTER_ID,		/* [cluster] instance: [a-z0-9-]{1,63} */
	K_DNSNAME,		/* [cluster] tunnel_name: a DNS name */
	K_YESNO,		/* yes or no, into an int (1 or 0) */
};

#define NO_FLAG		((size_t)-1)
#define CFG(f)		offsetof(struct cloud_config, f)
#define PUB(f)		offsetof(struct cloud_publish, f)

/*
 * One key. off is the field in struct cloud_config, or in struct
 * cloud_publish for SEC_PUBLISH; flag, for K_LISTEN, the bool that "off"
 * clears. range is how messages show min..max.
 */
struct cloudconf_key {
	enum cloudconf_section	 sect;
	const char		*name;
	enum cloudconf_kind	 kind;
	size_t			 off;
	size_t			 flag;
	int64_t			 min, max;
	const char		*range;
	const char		*example;
};

static const struct cloudconf_key cloudconf_keys[] = {
	{ SEC_CLOUD, "data_dir", K_PATH, CFG(data_dir), NO_FLAG, 0, 0, NULL,
	    CLOUDCONF_DEFAULT_DATA },
	{ SEC_CLOUD, "listen", K_LISTEN, CFG(listen), NO_FLAG, 0, 0, NULL,
	    "0.0.0.0:443" },
	{ SEC_CLOUD, "http_listen", K_LISTEN, CFG(http_listen),
	    CFG(http_enabled), 0, 0, NULL, "0.0.0.0:80" },
	{ SEC_CLOUD, "cert", K_PATH, CFG(cert), NO_FLAG, 0, 0, NULL,
	    "/etc/uplink/chain.pem" },
	{ SEC_CLOUD, "key", K_PATH, CFG(key), NO_FLAG, 0, 0, NULL,
	    "/etc/uplink/key.pem" },
	{ SEC_CLOUD, "cert_lifetime", K_DURATION, CFG(cert_lifetime), NO_FLAG,
	    30, 365 * 86400, "30s to 365d", "30d" },
	{ SEC_CLOUD, "drain_timeout", K_DURATION, CFG(drain_timeout), NO_FLAG,
	    1, 3600, "1s to 1h", "30s" },
	{ SEC_CLOUD, "check_interval", K_DURATION, CFG(check_interval),
	    NO_FLAG, 0, 7 * 86400, "0 (off) to 7d", "1h" },
	{ SEC_CLOUD, "packages", K_PATH, CFG(packages), NO_FLAG, 0, 0, NULL,
	    "/usr/share/uplink-cloud/packages" },
	/* [store]: where the database is (lib/store/store.h, docs/cloud.md). */
	{ SEC_STORE, "url", K_STORE_URL, CFG(store_url), NO_FLAG, 0, 0, NULL,
	    "postgresql://uplink@db.example.net/uplink" },
	{ SEC_STORE, "password_file", K_PATH, CFG(store_password_file),
	    NO_FLAG, 0, 0, NULL, "/etc/uplink/db-password" },
	{ SEC_STORE, "timeout", K_DURATION, CFG(store_timeout), NO_FLAG, 1, 60,
	    "1s to 60s", "2s" },
	/* [update]: rollouts of connector releases (cloud/rollout.c). */
	{ SEC_UPDATE, "outdated_after", K_DURATION, CFG(update_outdated_after),
	    NO_FLAG, 3600, 3650 * 86400, "1h to 3650d", "30d" },
	{ SEC_UPDATE, "step_timeout", K_DURATION, CFG(update_step_timeout),
	    NO_FLAG, 10, 86400, "10s to 1d", "5m" },
	{ SEC_INGRESS, "listen", K_LISTEN, CFG(ingress_listen),
	    CFG(ingress_enabled), 0, 0, NULL, "127.0.0.1:3128" },
	/* [cluster]: this instance among others (docs/cluster.md). */
	{ SEC_CLUSTER, "instance", K_CLUSTER_ID, CFG(cluster_instance),
	    NO_FLAG, 0, 0, NULL, "i1" },
	{ SEC_CLUSTER, "peer_listen", K_LISTEN, CFG(cluster_peer_listen),
	    NO_FLAG, 0, 0, NULL, "10.0.0.1:7443" },
	{ SEC_CLUSTER, "peer_address", K_HOSTPORT, CFG(cluster_peer_address),
	    NO_FLAG, 0, 0, NULL, "i1.internal.example:7443" },
	{ SEC_CLUSTER, "tunnel_name", K_DNSNAME, CFG(cluster_tunnel_name),
	    NO_FLAG, 0, 0, NULL, "i1.cloud.example" },
	{ SEC_CLUSTER, "tunnel_address", K_HOSTPORT,
	    CFG(cluster_tunnel_address), NO_FLAG, 0, 0, NULL,
	    "i1.cloud.example:443" },
	{ SEC_CLUSTER, "lease", K_DURATION, CFG(cluster_lease), NO_FLAG, 2, 600,
	    "2s to 10m", "10s" },
	/* The edge: a load balancer's PROXY v2 headers, shared ports. */
	{ SEC_CLUSTER, "proxy_from", K_ALLOW, CFG(proxy_from), NO_FLAG, 0, 0,
	    NULL, "10.0.0.5, 10.0.1.0/24" },
	{ SEC_CLUSTER, "reuseport", K_YESNO, CFG(reuseport), NO_FLAG, 0, 0,
	    NULL, "yes" },
	{ SEC_LIMITS, "streams_per_tunnel", K_COUNT, CFG(streams_per_tunnel),
	    NO_FLAG, 1, 100000, "1 to 100000", "10000" },
	{ SEC_LIMITS, "stream_buffer", K_SIZE, CFG(stream_buffer), NO_FLAG,
	    16 * 1024, 16 * 1024 * 1024, "16k to 16m", "256k" },
	{ SEC_LIMITS, "header_bytes", K_SIZE, CFG(header_bytes), NO_FLAG,
	    1024, 64 * 1024, "1k to 64k", "16k" },
	{ SEC_LIMITS, "pending_connects", K_COUNT, CFG(pending_connects),
	    NO_FLAG, 1, 100000, "1 to 100000", "1000" },
	{ SEC_LIMITS, "tunnels_per_connector", K_COUNT,
	    CFG(tunnels_per_connector), NO_FLAG, 1, 1000, "1 to 1000", "16" },
	{ SEC_LIMITS, "pending_per_connector", K_COUNT,
	    CFG(pending_per_connector), NO_FLAG, 1, 100000, "1 to 100000",
	    "1000" },
	{ SEC_LIMITS, "ping_interval", K_DURATION, CFG(ping_interval), NO_FLAG,
	    1, 300, "1s to 5m", "10s" },
	{ SEC_LIMITS, "ping_misses", K_COUNT, CFG(ping_misses), NO_FLAG, 1, 10,
	    "1 to 10", "3" },
	/* The TLS and plain HTTP listeners (cloud/front.c); 0 = derived. */
	{ SEC_LIMITS, "tls_connections", K_COUNT, CFG(tls_connections),
	    NO_FLAG, 1, 1000000, "1 to 1000000", "4096" },
	{ SEC_LIMITS, "tls_connections_per_address", K_COUNT,
	    CFG(tls_connections_per_address), NO_FLAG, 1, 1000000,
	    "1 to 1000000", "256" },
	{ SEC_LIMITS, "tls_handshakes_per_address", K_COUNT,
	    CFG(tls_handshakes_per_address), NO_FLAG, 1, 1000000,
	    "1 to 1000000", "64" },
	{ SEC_LIMITS, "http_connections", K_COUNT, CFG(http_connections),
	    NO_FLAG, 1, 1000000, "1 to 1000000", "1024" },
	{ SEC_LIMITS, "http_connections_per_address", K_COUNT,
	    CFG(http_connections_per_address), NO_FLAG, 1, 1000000,
	    "1 to 1000000", "64" },
	{ SEC_LIMITS, "tls_first_byte_timeout", K_DURATION,
	    CFG(tls_first_byte_timeout), NO_FLAG, 1, 60, "1s to 60s", "3s" },
	{ SEC_LIMITS, "tls_handshake_timeout", K_DURATION,
	    CFG(tls_handshake_timeout), NO_FLAG, 1, 300, "1s to 5m", "10s" },
	{ SEC_LIMITS, "request_head_timeout", K_DURATION,
	    CFG(request_head_timeout), NO_FLAG, 1, 300, "1s to 5m", "10s" },
	{ SEC_LOG, "level", K_LEVEL, CFG(log_level), NO_FLAG, 0, 0, NULL,
	    "info" },
	/* The Prometheus endpoint (cloud/metrics.c); off unless listen is set. */
	/* [logs]: connector logs and events kept by the cloud (cloud/logs.c). */
	{ SEC_LOGS, "retention", K_DURATION, CFG(logs_retention), NO_FLAG, 1,
	    365 * 86400, "1s to 365d", "7d" },
	{ SEC_LOGS, "max_bytes_per_connector", K_SIZE,
	    CFG(logs_max_bytes), NO_FLAG, 16 * 1024, 1024LL * 1024 * 1024,
	    "16k to 1024m", "64m" },
	{ SEC_LOGS, "lines_per_second", K_COUNT, CFG(logs_lines_per_sec),
	    NO_FLAG, 1, 100000, "1 to 100000", "200" },
	{ SEC_LOGS, "bytes_per_second", K_SIZE, CFG(logs_bytes_per_sec),
	    NO_FLAG, 1024, 64 * 1024 * 1024, "1k to 64m", "64k" },
	{ SEC_LOGS, "events_retention", K_DURATION, CFG(events_retention),
	    NO_FLAG, 1, 3650 * 86400LL, "1s to 3650d", "90d" },
	{ SEC_METRICS, "listen", K_LISTEN, CFG(metrics_listen),
	    CFG(metrics_enabled), 0, 0, NULL, "127.0.0.1:9464" },
	{ SEC_METRICS, "allow", K_ALLOW, CFG(metrics_allow), NO_FLAG, 0, 0,
	    NULL, "127.0.0.1, 10.0.0.0/8, ::1" },
	{ SEC_METRICS, "instance", K_INSTANCE, CFG(metrics_instance), NO_FLAG,
	    0, 0, NULL, "cloud-eu-1" },
	{ SEC_PUBLISH, "listen", K_LISTEN, PUB(listen), NO_FLAG, 0, 0, NULL,
	    "127.0.0.1:9000" },
	{ SEC_PUBLISH, "site", K_SITE, PUB(site), NO_FLAG, 0, 0, NULL, "hq" },
	{ SEC_PUBLISH, "target", K_HOSTPORT, PUB(target), NO_FLAG, 0, 0, NULL,
	    "intranet.corp.example:80" },
	/* Ingress and published services: connection caps. */
	{ SEC_INGRESS, "connections_per_address", K_COUNT,
	    CFG(ingress_per_address), NO_FLAG, 1, 100000, "1 to 100000", "256" },
	{ SEC_LIMITS, "service_connections", K_COUNT, CFG(service_connections),
	    NO_FLAG, 1, 100000, "1 to 100000", "1000" },
	{ SEC_LIMITS, "service_connections_per_address", K_COUNT,
	    CFG(service_per_address), NO_FLAG, 1, 100000, "1 to 100000", "128" },
	{ SEC_PUBLISH, "connections", K_COUNT, PUB(connections), NO_FLAG, 1,
	    100000, "1 to 100000", "1000" },
	{ SEC_PUBLISH, "connections_per_address", K_COUNT,
	    PUB(connections_per_address), NO_FLAG, 1, 100000, "1 to 100000",
	    "128" },
};

#define CLOUDCONF_NKEYS	(sizeof(cloudconf_keys) / sizeof(cloudconf_keys[0]))
#define PUB_LISTEN	0	/* indexes into cloudconf_pub.lines */
#define PUB_SITE	1
#define PUB_TARGET	2
#define PUB_CONNS	3	/* connections */
#define PUB_CONNS_ADDR	4	/* connections_per_address */

/* Where the keys of one publish section were set (0: not set). */
struct cloudconf_pub {
	int	 lines[5];
};

struct cloudconf_parse {
	struct cloud_config	*cfg;
	struct inifile		 f;		/* f.line: the line inih is on */
	enum cloudconf_section	 sect;
	char			 sect_text[96];	/* "[publish web]" */
	int			 key_lines[CLOUDCONF_NKEYS];
	struct cloudconf_pub	*pub;		/* parallel to cfg->publish */
	char			*err;
	size_t			 errlen;
	int			 rc;		/* first error, UPLINK_OK if none */
	int			 fail_line;
};

/* A listening address, for the collision check. */
struct cloudconf_sock {
	char			 what[96];	/* "[cloud] listen" */
	const struct hostport	*hp;
	int			 line;		/* 0: a default */
};

static int cloudconf_fail_at(struct cloudconf_parse *, int, int,
    const char *, ...) __attribute__((format(printf, 4, 5)));

/*
 * Records the first error as "FILE:LINE: message" (or "FILE: message" for
 * line 0) and returns 0, which is what inih's handler returns on an error.
 */
static int
cloudconf_fail_at(struct cloudconf_parse *cp, int line, int rc,
    const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (cp->rc != UPLINK_OK)
		return 0;
	cp->rc = rc;
	cp->fail_line = line;
	if (line > 0)
		n = snprintf(cp->err, cp->errlen, "%s:%d: ", cp->cfg->path,
		    line);
	else
		n = snprintf(cp->err, cp->errlen, "%s: ", cp->cfg->path);
	if (n < 0 || (size_t)n >= cp->errlen)
		return 0;
	va_start(ap, fmt);
	vsnprintf(cp->err + n, cp->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return 0;
}

#define cloudconf_fail(cp, ...) \
	cloudconf_fail_at((cp), (cp)->f.line, UPLINK_ECONFIG, __VA_ARGS__)

static int
cloudconf_show(const char *s)
{
	size_t	 len = strlen(s);

	return (int)(len < CLOUDCONF_SHOW ? len : CLOUDCONF_SHOW);
}

static void
cloudconf_hostport(struct hostport *hp, const char *host, enum host_kind kind,
    uint16_t port)
{
	memset(hp, 0, sizeof(*hp));
	snprintf(hp->host, sizeof(hp->host), "%s", host);
	hp->kind = kind;
	hp->port = port;
}

void
cloudconf_defaults(struct cloud_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s",
	    CLOUDCONF_DEFAULT_DATA);
	cloudconf_hostport(&cfg->listen, "0.0.0.0", HOST_IPV4, 443);
	cfg->http_enabled = true;
	cloudconf_hostport(&cfg->http_listen, "0.0.0.0", HOST_IPV4, 80);
	cfg->ingress_enabled = true;
	cloudconf_hostport(&cfg->ingress_listen, "127.0.0.1", HOST_IPV4, 3128);
	cloudconf_hostport(&cfg->metrics_listen, "127.0.0.1", HOST_IPV4, 9464);
	cfg->cert_lifetime = 30 * 86400;
	cfg->drain_timeout = 30;
	cfg->check_interval = 3600;
	cfg->logs_retention = 7 * 86400;
	cfg->logs_max_bytes = 64 * 1024 * 1024;
	cfg->logs_lines_per_sec = 200;
	cfg->logs_bytes_per_sec = 64 * 1024;
	cfg->events_retention = 90 * 86400;
	cfg->update_outdated_after = 30 * 86400;
	cfg->update_step_timeout = 300;
	cfg->store_timeout = STORE_PG_TIMEOUT_MS / 1000;
	cfg->cluster_lease = 10;
	cfg->ping_interval = 10;
	cfg->ping_misses = 3;
	cfg->streams_per_tunnel = 10000;
	cfg->stream_buffer = 256 * 1024;
	cfg->header_bytes = 16 * 1024;
	cfg->pending_connects = 1000;
	cfg->tunnels_per_connector = 16;
	cfg->pending_per_connector = 1000;
	cfg->tls_first_byte_timeout = 3;
	cfg->reuseport = -1;
	cfg->tls_handshake_timeout = 10;
	cfg->request_head_timeout = 10;
	cfg->ingress_per_address = 256;
	cfg->service_connections = 1000;
	cfg->service_per_address = 128;
	cfg->log_level = LOG_LEVEL_INFO;
}

void
cloudconf_free(struct cloud_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->publish);
	cfg->publish = NULL;
	cfg->npublish = 0;
}

/* A whole number 0..UINT32_MAX; false when it is not one. */
static bool
cloudconf_count_parse(const char *s, uint32_t *out)
{
	uint64_t	 v = 0;
	size_t		 i, len = strlen(s);

	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v <= UINT32_MAX)
			v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (len == 0 || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* The field of key k in the current section's struct. */
static void *
cloudconf_field(struct cloudconf_parse *cp, const struct cloudconf_key *k,
    size_t off)
{
	char	*base = (char *)cp->cfg;

	if (k->sect == SEC_PUBLISH)
		base = (char *)&cp->cfg->publish[cp->cfg->npublish - 1];
	return base + off;
}

static int
cloudconf_set_listen(struct cloudconf_parse *cp, const struct cloudconf_key *k,
    const char *value)
{
	struct hostport	*hp = cloudconf_field(cp, k, k->off);
	const char	*form = k->kind == K_HOSTPORT ? "HOST:PORT" :
	    "ADDRESS:PORT";
	char		 why[256];

	if (k->flag == NO_FLAG && strcasecmp(value, "off") == 0)
		return cloudconf_fail(cp, "%s %s cannot be \"off\"; write "
		    "%s, e.g. %s", cp->sect_text, k->name, form, k->example);
	if (k->flag != NO_FLAG) {
		*(bool *)cloudconf_field(cp, k, k->flag) =
		    strcasecmp(value, "off") != 0;
		if (strcasecmp(value, "off") == 0)
			return 1;
	}
	if (hostport_parse(value, 0, hp, why, sizeof(why)) != UPLINK_OK)
		return cloudconf_fail(cp, "%s %s = \"%.*s\": %s; write "
		    "%s, e.g. %s%s", cp->sect_text, k->name,
		    cloudconf_show(value), value, why, form, k->example,
		    k->flag != NO_FLAG ? ", or \"off\"" : "");
	if (hp->port == 0)
		return cloudconf_fail(cp, "%s %s = \"%.*s\" has no port; write "
		    "%s, e.g. %s%s", cp->sect_text, k->name,
		    cloudconf_show(value), value, form, k->example,
		    hp->kind == HOST_IPV6 ? " (an IPv6 address goes in "
		    "brackets: [::1]:443)" : "");
	return 1;
}

static int
cloudconf_set_number(struct cloudconf_parse *cp, const struct cloudconf_key *k,
    const char *value)
{
	void		*field = cloudconf_field(cp, k, k->off);
	char		 why[256];
	int64_t		 secs;
	size_t		 size;
	uint32_t	 count;

	if (k->kind == K_DURATION) {
		/* "0" turns off what may be off (min 0): check_interval. */
		if (k->min == 0 && strcmp(value, "0") == 0) {
			*(int64_t *)field = 0;
			return 1;
		}
		if (duration_parse(value, k->name, &secs, why, sizeof(why)) !=
		    UPLINK_OK)
			return cloudconf_fail(cp, "%s %s; allowed: %s",
			    cp->sect_text, why, k->range);
		if (secs >= k->min && secs <= k->max) {
			*(int64_t *)field = secs;
			return 1;
		}
	} else if (k->kind == K_SIZE) {
		if (size_parse(value, &size, why, sizeof(why)) !=
		    UPLINK_OK)
			return cloudconf_fail(cp, "%s %s = %s; allowed: %s",
			    cp->sect_text, k->name, why, k->range);
		if (size >= (size_t)k->min && size <= (size_t)k->max) {
			*(size_t *)field = size;
			return 1;
		}
	} else {
		if (!cloudconf_count_parse(value, &count))
			return cloudconf_fail(cp, "%s %s = \"%.*s\" is not a "
			    "whole number; write one from %s", cp->sect_text,
			    k->name, cloudconf_show(value), value, k->range);
		if (count >= k->min && count <= k->max) {
			*(uint32_t *)field = count;
			return 1;
		}
	}
	return cloudconf_fail(cp, "%s %s = \"%.*s\" is out of range; use %s "
	    "(e.g. %s)", cp->sect_text, k->name, cloudconf_show(value), value,
	    k->range, k->example);
}

static int
cloudconf_set_text(struct cloudconf_parse *cp, const struct cloudconf_key *k,
    const char *value)
{
	char	*field = cloudconf_field(cp, k, k->off);
	char	 why[256];
	size_t	 cap;

	if (k->kind == K_SITE) {
		if (!store_name_check("site name", value, why, sizeof(why)))
			return cloudconf_fail(cp, "%s site: %s", cp->sect_text,
			    why);
		cap = CLOUDCONF_NAME_MAX + 1;
	} else
		cap = CLOUDCONF_PATH_MAX;
	if (*value == '\0')
		return cloudconf_fail(cp, "%s %s is empty; write a path, e.g. "
		    "%s, or drop the line for the default", cp->sect_text,
		    k->name, k->example);
	if (strlen(value) >= cap)
		return cloudconf_fail(cp, "%s %s is longer than %zu bytes",
		    cp->sect_text, k->name, cap - 1);
	memcpy(field, value, strlen(value) + 1);
	return 1;
}

/*
 * [store] url: an SQLite file ("sqlite:PATH") or a PostgreSQL URL or
 * conninfo, which must not carry the password: that belongs in the file
 * password_file names, so the configuration can be shown and copied.
 */
static int
cloudconf_set_store_url(struct cloudconf_parse *cp,
    const struct cloudconf_key *k, const char *value)
{
	const char	*scheme = strstr(value, "://"), *at;

	if (strncmp(value, "sqlite:", 7) == 0 && value[7] == '\0')
		return cloudconf_fail(cp, "[store] url: \"sqlite:\" names no "
		    "file; write sqlite:/var/lib/uplink/uplink.db or drop the "
		    "line for DATA_DIR/uplink.db");
	if (strncmp(value, "sqlite:", 7) != 0 && !store_url_is_pg(value))
		return cloudconf_fail(cp, "[store] url = \"%.*s\" is neither "
		    "sqlite:PATH nor a PostgreSQL URL; write e.g. %s",
		    cloudconf_show(value), value, k->example);
	at = scheme != NULL ? strchr(scheme + 3, '@') : NULL;
	if ((at != NULL && memchr(scheme + 3, ':', (size_t)(at - scheme -
	    3)) != NULL) || strstr(value, "password=") != NULL ||
	    strstr(value, "password =") != NULL)
		return cloudconf_fail(cp, "[store] url has a password in it; "
		    "remove it and put the password alone in a file that only "
		    "uplink-cloud can read, named by password_file = PATH");
	return cloudconf_set_text(cp, k, value);
}

static int
cloudconf_set_level(struct cloudconf_parse *cp, const struct cloudconf_key *k,
    const char *value)
{
	int	*field = cloudconf_field(cp, k, k->off);

	if (strcasecmp(value, "debug") == 0)
		*field = LOG_LEVEL_DEBUG;
	else if (strcasecmp(value, "info") == 0)
		*field = LOG_LEVEL_INFO;
	else if (strcasecmp(value, "warning") == 0 ||
	    strcasecmp(value, "warn") == 0)
		*field = LOG_LEVEL_WARN;
	else
		return cloudconf_fail(cp, "[log] level = \"%.*s\" is not one of "
		    "debug, info, warning", cloudconf_show(value), value);
	return 1;
}

/*
 * [metrics] allow: addresses (192.0.2.7, ::1) and networks (10.0.0.0/8,
 * 2001:db8::/32), separated by commas or spaces. A network with host bits
 * set is refused: 10.1.2.3/8 is likelier a typo than a wish.
 */
static int
cloudconf_cidr_parse(const char *s, size_t len, struct cloud_cidr *out,
    char *why, size_t whylen)
{
	char		 text[INET6_ADDRSTRLEN + 8], *slash;
	unsigned	 max, bits, i;
	uint32_t	 prefix = 0;

	if (len >= sizeof(text)) {
		snprintf(why, whylen, "too long for an address");
		return -1;
	}
	memcpy(text, s, len);
	text[len] = '\0';
	slash = strchr(text, '/');
	if (slash != NULL)
		*slash++ = '\0';
	memset(out, 0, sizeof(*out));
	out->family = strchr(text, ':') != NULL ? AF_INET6 : AF_INET;
	max = out->family == AF_INET6 ? 128 : 32;
	if (inet_pton(out->family, text, out->addr) != 1) {
		snprintf(why, whylen, "\"%s\" is not an IPv4 or IPv6 address",
		    text);
		return -1;
	}
	if (slash != NULL && (!cloudconf_count_parse(slash, &prefix) ||
	    prefix > max)) {
		snprintf(why, whylen, "the prefix length of %s must be 0 to %u",
		    text, max);
		return -1;
	}
	out->prefix = slash != NULL ? prefix : max;
	for (i = out->prefix; i < max; i++) {
		bits = out->addr[i / 8] & (0x80u >> (i % 8));
		if (bits != 0) {
			snprintf(why, whylen, "%s/%u has host bits set (write "
			    "the network address)", text, out->prefix);
			return -1;
		}
	}
	return 0;
}

/* [metrics] allow and [cluster] proxy_from: addresses and networks. */
static int
cloudconf_set_allow(struct cloudconf_parse *cp, const struct cloudconf_key *k,
    const char *value)
{
	struct cloud_config	*cfg = cp->cfg;
	bool			 proxy = k->sect == SEC_CLUSTER;
	struct cloud_cidr	*list = proxy ? cfg->proxy_from :
	    cfg->metrics_allow;
	size_t			*count = proxy ? &cfg->nproxy_from :
	    &cfg->metrics_nallow;
	const char		*what = proxy ? "[cluster] proxy_from" :
	    "[metrics] allow";
	const char		*p = value;
	char			 why[160];
	size_t			 n;

	*count = 0;
	for (;;) {
		p += strspn(p, ", \t");
		if (*p == '\0')
			break;
		n = strcspn(p, ", \t");
		if (*count == CLOUDCONF_ALLOW_MAX)
			return cloudconf_fail(cp, "%s lists more than %d "
			    "entries; use networks (10.0.0.0/8)", what,
			    CLOUDCONF_ALLOW_MAX);
		if (cloudconf_cidr_parse(p, n, &list[*count], why,
		    sizeof(why)) != 0)
			return cloudconf_fail(cp, "%s: %s; write addresses or "
			    "networks separated by commas, e.g. 127.0.0.1, "
			    "10.0.0.0/8, ::1", what, why);
		(*count)++;
		p += n;
	}
	if (*count == 0 && proxy)
		return cloudconf_fail(cp, "[cluster] proxy_from is empty; list "
		    "the load balancers' addresses (e.g. 10.0.0.5), or drop "
		    "the line to take no PROXY protocol header from anyone");
	if (*count == 0)
		return cloudconf_fail(cp, "[metrics] allow is empty; list "
		    "addresses or networks (e.g. 127.0.0.1), or drop the line "
		    "to let API keys with scope metrics in only");
	return 1;
}

/* yes/no (also true/false, on/off, 1/0). */
static int
cloudconf_set_yesno(struct cloudconf_parse *cp, const struct cloudconf_key *k,
    const char *value)
{
	int	*field = (int *)(void *)cloudconf_field(cp, k, k->off);

	if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0 ||
	    strcasecmp(value, "on") == 0 || strcmp(value, "1") == 0)
		*field = 1;
	else if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") ==
	    0 || strcasecmp(value, "off") == 0 || strcmp(value, "0") == 0)
		*field = 0;
	else
		return cloudconf_fail(cp, "%s = \"%.*s\": write yes or no",
		    k->name, cloudconf_show(value), value);
	return 1;
}

/* [metrics] instance: the instance_id label of every series. */
static int
cloudconf_set_instance(struct cloudconf_parse *cp, const char *value)
{
	size_t	 i, len = strlen(value);

	for (i = 0; i < len; i++)
		if (!((value[i] >= 'a' && value[i] <= 'z') || (value[i] >= 'A'
		    && value[i] <= 'Z') || (value[i] >= '0' && value[i] <= '9')
		    || strchr("._-:", value[i]) != NULL))
			break;
	if (len == 0 || len > CLOUDCONF_NAME_MAX || i < len)
		return cloudconf_fail(cp, "[metrics] instance = \"%.*s\": write "
		    "1 to %d letters, digits, '.', '_', '-' or ':', e.g. "
		    "cloud-eu-1", cloudconf_show(value), value,
		    CLOUDCONF_NAME_MAX);
	memcpy(cp->cfg->metrics_instance, value, len + 1);
	return 1;
}

/*
 * [cluster] instance, an id other instances and the database know it by
 * ([a-z0-9-], 1 to 63), and tunnel_name, the DNS name connectors use for
 * it in TLS's SNI.
 */
static int
cloudconf_set_cluster(struct cloudconf_parse *cp,
    const struct cloudconf_key *k, const char *value)
{
	char	*field = cloudconf_field(cp, k, k->off);
	char	 why[256];
	size_t	 i, len = strlen(value);

	if (k->kind == K_DNSNAME) {
		if (host_classify(value) != HOST_NAME)
			return cloudconf_fail(cp, "[cluster] tunnel_name = "
			    "\"%.*s\" is an address, not a DNS name; write the "
			    "name connectors ask for in TLS, e.g. %s",
			    cloudconf_show(value), value, k->example);
		if (!host_name_check(value, len, why, sizeof(why)))
			return cloudconf_fail(cp, "[cluster] tunnel_name = "
			    "\"%.*s\": %s", cloudconf_show(value), value, why);
		memcpy(field, value, len + 1);
		return 1;
	}
	for (i = 0; i < len; i++)
		if (!((value[i] >= 'a' && value[i] <= 'z') ||
		    (value[i] >= '0' && value[i] <= '9') || value[i] == '-'))
			break;
	if (len == 0 || len > CLOUDCONF_NAME_MAX || i < len)
		return cloudconf_fail(cp, "[cluster] instance = \"%.*s\": write "
		    "1 to %d lowercase letters, digits or '-', e.g. i1 or "
		    "eu-west-2", cloudconf_show(value), value,
		    CLOUDCONF_NAME_MAX);
	memcpy(field, value, len + 1);
	return 1;
}

static int
cloudconf_set(struct cloudconf_parse *cp, const struct cloudconf_key *k,
    const char *value)
{
	switch (k->kind) {
	case K_LISTEN:
	case K_HOSTPORT:
		return cloudconf_set_listen(cp, k, value);
	case K_DURATION:
	case K_COUNT:
	case K_SIZE:
		return cloudconf_set_number(cp, k, value);
	case K_PATH:
	case K_SITE:
		return cloudconf_set_text(cp, k, value);
	case K_STORE_URL:
		return cloudconf_set_store_url(cp, k, value);
	case K_LEVEL:
		return cloudconf_set_level(cp, k, value);
	case K_ALLOW:
		return cloudconf_set_allow(cp, k, value);
	case K_YESNO:
		return cloudconf_set_yesno(cp, k, value);
	case K_INSTANCE:
		return cloudconf_set_instance(cp, value);
	case K_CLUSTER_ID:
	case K_DNSNAME:
		return cloudconf_set_cluster(cp, k, value);
	}
	return 0;
}

/* The line the key was set on, for the "set twice" check. */
static int *
cloudconf_key_line(struct cloudconf_parse *cp, const struct cloudconf_key *k)
{
	size_t	 i = (size_t)(k - cloudconf_keys);

	if (k->sect != SEC_PUBLISH)
		return &cp->key_lines[i];
	if (strcmp(k->name, "listen") == 0)
		i = PUB_LISTEN;
	else if (strcmp(k->name, "site") == 0)
		i = PUB_SITE;
	else if (strcmp(k->name, "connections") == 0)
		i = PUB_CONNS;
	else if (strcmp(k->name, "connections_per_address") == 0)
		i = PUB_CONNS_ADDR;
	else
		i = PUB_TARGET;
	return &cp->pub[cp->cfg->npublish - 1].lines[i];
}

static int
cloudconf_unknown_key(struct cloudconf_parse *cp, const char *name)
{
	char	 known[512] = "";
	size_t	 i, n = 0;
	int	 w;

	for (i = 0; i < CLOUDCONF_NKEYS; i++) {
		if (cloudconf_keys[i].sect != cp->sect)
			continue;
		w = snprintf(known + n, sizeof(known) - n, "%s%s", n > 0 ?
		    ", " : "", cloudconf_keys[i].name);
		if (w > 0 && (size_t)w < sizeof(known) - n)
			n += (size_t)w;
	}
	return cloudconf_fail(cp, "unknown key \"%.*s\" in %s (known: %s)",
	    cloudconf_show(name), name, cp->sect_text, known);
}

static int
cloudconf_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct cloudconf_parse		*cp = user;
	const struct cloudconf_key	*k;
	int				*line;
	size_t				 i;

	(void)section;		/* cp->sect, from the reader, is exact */
	if (cp->rc != UPLINK_OK || cp->sect == SEC_BAD)
		return 1;
	if (cp->sect == SEC_NONE)
		return cloudconf_fail(cp, "\"%.*s\" is outside any section; put "
		    "it under [cloud], [ingress], [limits], [log], [metrics] or "
		    "[publish NAME]", cloudconf_show(name), name);
	for (i = 0; i < CLOUDCONF_NKEYS; i++) {
		k = &cloudconf_keys[i];
		if (k->sect == cp->sect && strcasecmp(k->name, name) == 0)
			break;
	}
	if (i == CLOUDCONF_NKEYS)
		return cloudconf_unknown_key(cp, name);
	line = cloudconf_key_line(cp, k);
	if (*line != 0)
		return cloudconf_fail(cp, "%s %s is set twice (first on line "
		    "%d); keep one", cp->sect_text, k->name, *line);
	*line = cp->f.line;
	return cloudconf_set(cp, k, value);
}

/* Checks NAME of [publish NAME]: [A-Za-z0-9_.-]{1,63}. */
static bool
cloudconf_name_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > CLOUDCONF_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

/* Opens [publish NAME]: a new, empty entry in cfg->publish. */
static void
cloudconf_publish_open(struct cloudconf_parse *cp, const char *name,
    size_t len)
{
	struct cloud_config	*cfg = cp->cfg;
	struct cloud_publish	*grown;
	struct cloudconf_pub	*pgrown;
	size_t			 i;

	if (!cloudconf_name_ok(name, len)) {
		cloudconf_fail(cp, "[publish %.*s]: a name has 1 to 63 letters, "
		    "digits, '_', '.' or '-'; write e.g. [publish intranet]",
		    (int)(len < CLOUDCONF_SHOW ? len : CLOUDCONF_SHOW), name);
		return;
	}
	for (i = 0; i < cfg->npublish; i++)
		if (strlen(cfg->publish[i].name) == len &&
		    strncasecmp(cfg->publish[i].name, name, len) == 0) {
			cloudconf_fail(cp, "[publish %.*s] is already defined "
			    "on line %d; give each section its own name",
			    (int)len, name, cfg->publish[i].line);
			return;
		}
	if (cfg->npublish == CLOUDCONF_PUBLISH_MAX) {
		cloudconf_fail(cp, "more than %d [publish] sections",
		    CLOUDCONF_PUBLISH_MAX);
		return;
	}
	grown = reallocarray(cfg->publish, cfg->npublish + 1, sizeof(*grown));
	if (grown != NULL)
		cfg->publish = grown;
	pgrown = reallocarray(cp->pub, cfg->npublish + 1, sizeof(*pgrown));
	if (pgrown != NULL)
		cp->pub = pgrown;
	if (grown == NULL || pgrown == NULL) {
		cloudconf_fail_at(cp, cp->f.line, UPLINK_ENOMEM, "out of memory");
		return;
	}
	memset(&cfg->publish[cfg->npublish], 0, sizeof(*grown));
	memset(&cp->pub[cfg->npublish], 0, sizeof(*pgrown));
	memcpy(cfg->publish[cfg->npublish].name, name, len);
	cfg->publish[cfg->npublish].line = cp->f.line;
	cfg->npublish++;
	cp->sect = SEC_PUBLISH;
}

/*
 * A "[...]" line as the reader sees it. A header without ']' is left to
 * inih, which reports it as bad syntax.
 */
static void
cloudconf_section(struct cloudconf_parse *cp, const char *s)
{
	const char	*rb = strchr(s, ']'), *in = s + 1, *name;
	size_t		 len, i;

	if (rb == NULL)
		return;
	while (in < rb && (*in == ' ' || *in == '\t'))
		in++;
	len = (size_t)(rb - in);
	while (len > 0 && (in[len - 1] == ' ' || in[len - 1] == '\t'))
		len--;
	snprintf(cp->sect_text, sizeof(cp->sect_text), "[%.*s]",
	    (int)(len < CLOUDCONF_SHOW ? len : CLOUDCONF_SHOW), in);
	cp->sect = SEC_BAD;
	for (i = SEC_CLOUD; i <= SEC_UPDATE; i++)
		if (strlen(cloudconf_section_names[i]) == len &&
		    strncasecmp(cloudconf_section_names[i], in, len) == 0) {
			cp->sect = (enum cloudconf_section)i;
			return;
		}
	if (len >= 7 && strncasecmp(in, "publish", 7) == 0 &&
	    (len == 7 || in[7] == ' ' || in[7] == '\t')) {
		name = in + 7;
		while (name < in + len && (*name == ' ' || *name == '\t'))
			name++;
		if (name == in + len) {
			cloudconf_fail(cp, "[publish] needs a name: write "
			    "[publish NAME], e.g. [publish intranet]");
			return;
		}
		cloudconf_publish_open(cp, name, (size_t)(in + len - name));
		return;
	}
	cloudconf_fail(cp, "unknown section %s (known: [cloud], [ingress], "
	    "[limits], [log], [logs], [metrics], [store], [cluster], "
	    "[update], [publish NAME])", cp->sect_text);
}

/*
 * inih's reader: lib/inifile.c counts lines and refuses lines longer than
 * inih takes and files that are not text; this strips a UTF-8 byte order mark and leading white space, and passes
 * section headers to cloudconf_section().
 */
static char *
cloudconf_read_line(char *str, int num, void *stream)
{
	struct cloudconf_parse	*cp = stream;
	size_t			 len, skip = 0;

	if (inifile_gets(&cp->f, str, num) == NULL)
		return NULL;
	len = strlen(str);
	if (cp->f.line == 1 && strncmp(str, "\xef\xbb\xbf", 3) == 0)
		skip = 3;
	while (str[skip] == ' ' || str[skip] == '\t')
		skip++;
	memmove(str, str + skip, len - skip + 1);
	if (str[0] == '[')
		cloudconf_section(cp, str);
	return str;
}

/* Every [publish NAME] names its listen, site and target. */
static void
cloudconf_check_publish(struct cloudconf_parse *cp)
{
	static const char *const keys[] = { "listen", "site", "target" };
	static const char *const egs[] = { "listen = 127.0.0.1:9000",
	    "site = hq", "target = intranet.corp.example:80" };
	const struct cloud_publish	*p;
	size_t				 i, j;

	for (i = 0; i < cp->cfg->npublish; i++) {
		p = &cp->cfg->publish[i];
		for (j = 0; j < 3; j++)
			if (cp->pub[i].lines[j] == 0) {
				cloudconf_fail_at(cp, p->line, UPLINK_ECONFIG,
				    "[publish %s] has no %s; add a line such "
				    "as \"%s\"", p->name, keys[j], egs[j]);
				return;
			}
	}
}

static bool
cloudconf_is_any(const struct hostport *hp, int family)
{
	uint8_t		 addr[16], zero[16];

	memset(zero, 0, sizeof(zero));
	if (hp->kind != (family == AF_INET ? HOST_IPV4 : HOST_IPV6) ||
	    inet_pton(family, hp->host, addr) != 1)
		return false;
	return memcmp(addr, zero, family == AF_INET ? 4 : 16) == 0;
}

/* Same host: addresses compared as binary, names without case. */
static bool
cloudconf_host_eq(const struct hostport *a, const struct hostport *b)
{
	uint8_t	 x[16], y[16];
	int	 family = a->kind == HOST_IPV4 ? AF_INET : AF_INET6;

	if (a->kind != b->kind)
		return false;
	if (a->kind == HOST_NAME)
		return strcasecmp(a->host, b->host) == 0;
	return inet_pton(family, a->host, x) == 1 &&
	    inet_pton(family, b->host, y) == 1 &&
	    memcmp(x, y, family == AF_INET ? 4 : 16) == 0;
}

/*
 * Would binding both fail? The same port and the same host, or a wildcard
 * that covers the other: 0.0.0.0 takes every IPv4 address (and whatever a
 * name resolves to might be one), :: takes everything on a dual-stack host.
 */
static bool
cloudconf_sock_clash(const struct hostport *a, const struct hostport *b)
{
	if (a->port != b->port)
		return false;
	if (cloudconf_is_any(a, AF_INET6) || cloudconf_is_any(b, AF_INET6))
		return true;
	if ((cloudconf_is_any(a, AF_INET) && b->kind != HOST_IPV6) ||
	    (cloudconf_is_any(b, AF_INET) && a->kind != HOST_IPV6))
		return true;
	return cloudconf_host_eq(a, b);
}

static void
cloudconf_sock_add(struct cloudconf_sock *s, size_t *n, const char *what,
    const struct hostport *hp, int line)
{
	snprintf(s[*n].what, sizeof(s[*n].what), "%s", what);
	s[*n].hp = hp;
	s[*n].line = line;
	(*n)++;
}

/* The line a [cloud], [ingress], [limits] or [log] key was set on, or 0. */
static int
cloudconf_line_of(const struct cloudconf_parse *cp, enum cloudconf_section sect,
    const char *name)
{
	size_t	 i;

	for (i = 0; i < CLOUDCONF_NKEYS; i++)
		if (cloudconf_keys[i].sect == sect &&
		    strcmp(cloudconf_keys[i].name, name) == 0)
			return cp->key_lines[i];
	return 0;
}

/* Reports the later of two clashing listeners, naming the other. */
static void
cloudconf_sock_fail(struct cloudconf_parse *cp, const struct cloudconf_sock *a,
    const struct cloudconf_sock *b)
{
	char	 ha[HOSTPORT_HOST_MAX + 16], hb[HOSTPORT_HOST_MAX + 16];

	if (a->line < b->line) {
		cloudconf_sock_fail(cp, b, a);
		return;
	}
	hostport_format(ha, sizeof(ha), a->hp->host, a->hp->port);
	hostport_format(hb, sizeof(hb), b->hp->host, b->hp->port);
	if (b->line == 0)
		cloudconf_fail_at(cp, a->line, UPLINK_ECONFIG, "%s %s collides "
		    "with %s %s (the default); use another port, or set %s",
		    a->what, ha, b->what, hb, b->what);
	else
		cloudconf_fail_at(cp, a->line, UPLINK_ECONFIG, "%s %s collides "
		    "with %s %s on line %d; give each its own address or port",
		    a->what, ha, b->what, hb, b->line);
}

/* No two listeners (TLS, plain HTTP, ingress, publish) share a socket. */
static void
cloudconf_check_sockets(struct cloudconf_parse *cp)
{
	struct cloud_config	*cfg = cp->cfg;
	struct cloudconf_sock	*s;
	char			 what[96];
	size_t			 n = 0, i, j;

	s = calloc(cfg->npublish + 5, sizeof(*s));
	if (s == NULL) {
		cloudconf_fail_at(cp, 0, UPLINK_ENOMEM, "out of memory");
		return;
	}
	cloudconf_sock_add(s, &n, "[cloud] listen", &cfg->listen,
	    cloudconf_line_of(cp, SEC_CLOUD, "listen"));
	if (cfg->http_enabled)
		cloudconf_sock_add(s, &n, "[cloud] http_listen",
		    &cfg->http_listen, cloudconf_line_of(cp, SEC_CLOUD,
		    "http_listen"));
	if (cfg->ingress_enabled)
		cloudconf_sock_add(s, &n, "[ingress] listen",
		    &cfg->ingress_listen, cloudconf_line_of(cp, SEC_INGRESS,
		    "listen"));
	if (cfg->metrics_enabled)
		cloudconf_sock_add(s, &n, "[metrics] listen",
		    &cfg->metrics_listen, cloudconf_line_of(cp, SEC_METRICS,
		    "listen"));
	if (cfg->cluster_instance[0] != '\0')
		cloudconf_sock_add(s, &n, "[cluster] peer_listen",
		    &cfg->cluster_peer_listen, cloudconf_line_of(cp,
		    SEC_CLUSTER, "peer_listen"));
	for (i = 0; i < cfg->npublish; i++) {
		snprintf(what, sizeof(what), "[publish %s] listen",
		    cfg->publish[i].name);
		cloudconf_sock_add(s, &n, what, &cfg->publish[i].listen,
		    cp->pub[i].lines[PUB_LISTEN]);
	}
	for (i = 0; i < n && cp->rc == UPLINK_OK; i++)
		for (j = i + 1; j < n && cp->rc == UPLINK_OK; j++)
			if (cloudconf_sock_clash(s[i].hp, s[j].hp))
				cloudconf_sock_fail(cp, &s[i], &s[j]);
	free(s);
}

/* An operator chain comes as a pair: a cert with the default key is wrong. */
static void
cloudconf_check_tls(struct cloudconf_parse *cp)
{
	int	 cert = cloudconf_line_of(cp, SEC_CLOUD, "cert");
	int	 key = cloudconf_line_of(cp, SEC_CLOUD, "key");

	if (cert != 0 && key == 0)
		cloudconf_fail_at(cp, cert, UPLINK_ECONFIG, "[cloud] cert is set "
		    "but key is not; set both (the operator's chain and its "
		    "key) or neither");
	else if (key != 0 && cert == 0)
		cloudconf_fail_at(cp, key, UPLINK_ECONFIG, "[cloud] key is set "
		    "but cert is not; set both (the operator's chain and its "
		    "key) or neither");
}

/*
 * [cluster]: instance turns it on, and needs PostgreSQL (instances share
 * their state through it) and peer_listen (the others forward to it).
 * Other keys without instance would silently do nothing.
 */
static void
cloudconf_check_cluster(struct cloudconf_parse *cp)
{
	struct cloud_config	*cfg = cp->cfg;
	int			 line = cloudconf_line_of(cp, SEC_CLUSTER,
	    "instance");
	size_t			 i;

	if (line == 0) {
		for (i = 0; i < CLOUDCONF_NKEYS; i++)
			if (cloudconf_keys[i].sect == SEC_CLUSTER &&
			    cp->key_lines[i] != 0 && strcmp(
			    cloudconf_keys[i].name, "proxy_from") != 0) {
				cloudconf_fail_at(cp, cp->key_lines[i],
				    UPLINK_ECONFIG, "[cluster] %s is set but "
				    "instance is not; add instance = ID (e.g. "
				    "i1) to run as one instance of a cluster, "
				    "or drop [cluster]", cloudconf_keys[i].name);
				return;
			}
		return;
	}
	if (cfg->store_url[0] == '\0' || !store_url_is_pg(cfg->store_url))
		cloudconf_fail_at(cp, line, UPLINK_ECONFIG, "[cluster] needs "
		    "a shared PostgreSQL store, but the store is %s; set "
		    "[store] url = postgresql://... (docs/cluster.md), or "
		    "drop [cluster] for a single instance",
		    cfg->store_url[0] == '\0' ? "SQLite (the default)" :
		    "SQLite");
	else if (cloudconf_line_of(cp, SEC_CLUSTER, "peer_listen") == 0)
		cloudconf_fail_at(cp, line, UPLINK_ECONFIG, "[cluster] "
		    "peer_listen is missing; add peer_listen = ADDRESS:PORT, "
		    "where the other instances reach this one (e.g. "
		    "10.0.0.1:7443)");
}

/* After inih: its own errors, then the checks that need the whole file. */
static void
cloudconf_finish(struct cloudconf_parse *cp, int ini_rc)
{
	if (cp->rc == UPLINK_OK && inifile_error(&cp->f, cp->cfg->path, cp->err,
	    cp->errlen)) {
		cp->rc = UPLINK_ECONFIG;
		return;
	}
	if (cp->f.overlong && cp->rc == UPLINK_OK)
		cloudconf_fail(cp, "line longer than %d characters; shorten it "
		    "(a long path can be a symbolic link)", INI_MAX_LINE - 1);
	if (ini_rc > 0 && (cp->rc == UPLINK_OK || ini_rc < cp->fail_line)) {
		cp->rc = UPLINK_OK;
		cloudconf_fail_at(cp, ini_rc, UPLINK_ECONFIG, "not INI syntax; "
		    "write \"[section]\" or \"key = value\"");
	} else if (ini_rc < 0 && cp->rc == UPLINK_OK)
		cloudconf_fail_at(cp, 0, UPLINK_ENOMEM, "out of memory");
	if (cp->rc == UPLINK_OK)
		cloudconf_check_publish(cp);
	if (cp->rc == UPLINK_OK)
		cloudconf_check_tls(cp);
	if (cp->rc == UPLINK_OK)
		cloudconf_check_cluster(cp);
	if (cp->rc == UPLINK_OK)
		cloudconf_check_sockets(cp);
}

int
cloudconf_load(const char *path, struct cloud_config *cfg, char *err,
    size_t errlen)
{
	struct cloudconf_parse	 cp;
	char			 why[160];
	int			 ini_rc;

	cloudconf_defaults(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	memset(&cp, 0, sizeof(cp));
	cp.cfg = cfg;
	cp.err = err;
	cp.errlen = errlen;
	ini_rc = inifile_open(&cp.f, path, why, sizeof(why));
	if (ini_rc == -2) {
		snprintf(err, errlen, "%s: %s", path, why);
		return UPLINK_ECONFIG;
	}
	if (ini_rc != 0) {
		snprintf(err, errlen, "%s: cannot open: %s%s", path,
		    strerror(errno), errno == ENOENT ? " (create it with "
		    "uplink-cloud init, or give another file with --config)" :
		    "");
		return UPLINK_EIO;
	}
	ini_rc = ini_parse_stream(cloudconf_read_line, &cp, cloudconf_handler,
	    &cp);
	inifile_close(&cp.f);
	cloudconf_finish(&cp, ini_rc);
	free(cp.pub);
	if (cp.rc != UPLINK_OK)
		cloudconf_free(cfg);
	return cp.rc;
}
