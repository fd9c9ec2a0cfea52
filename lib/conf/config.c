#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "atomicfile.h"
#include "buf.h"
#include "config.h"
#include "duration.h"
#include "error.h"
#include "inifile.h"
#include "log.h"
#include "token.h"

#define STR(x)			#x
#define XSTR(x)			STR(x)
#define ACCESS_MAX_TEXT		XSTR(ACCESS_MAX_ENTRIES)

/*
 * inih's lines come through lib/inifile.c, which counts them, refuses lines
 * inih would cut and files that are not text; config_read_line also keeps
 * ';' in bypass and allow values from being taken as a comment (both lists
 * take ',' as well, so it becomes one).
 */

/* Keys that may be set once; their first line is remembered. */
enum config_once {
	ONCE_URL,
	ONCE_CA,
	ONCE_CERT,
	ONCE_KEY,
	ONCE_TUNNELS,
	ONCE_VIA_PROXY,
	ONCE_DRAIN,
	ONCE_STREAMBUF,
	ONCE_PING_INTERVAL,
	ONCE_PING_MISSES,
	ONCE_MAX_STREAMS,
	ONCE_LOG_BUFFER,
	ONCE_ROOT_KEY,
	ONCE_CHANNEL,
	ONCE_ALLOW_VERSION,
	ONCE_HEALTH_GATE,
	ONCE_MAX,
};

struct config_parse {
	struct connector_config	*cfg;
	struct inifile		*rd;
	struct buf		 bypass;
	struct buf		 allow;
	struct buf		 check_allow;	/* [check] allow */
	int			 once[ONCE_MAX];
	char			*err;
	size_t			 errlen;
	bool			 failed;
	char			 section[64];
};

static bool
line_is_key(const char *s, const char *key)
{
	size_t	 n = strlen(key);

	while (*s == ' ' || *s == '\t')
		s++;
	if (strncasecmp(s, key, n) != 0)
		return false;
	s += n;
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '=' || *s == ':';
}

static char *
config_read_line(char *str, int num, void *stream)
{
	char	*p;

	if (inifile_gets(stream, str, num) == NULL)
		return NULL;
	if (line_is_key(str, "bypass") || line_is_key(str, "allow")) {
		for (p = strchr(str, '='); p != NULL && *p != '\0'; p++)
			if (*p == ';')
				*p = ',';
	}
	return str;
}

static int
config_fail(struct config_parse *cp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
config_fail(struct config_parse *cp, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (cp->failed)
		return 0;
	cp->failed = true;
	n = snprintf(cp->err, cp->errlen, "%s:%d: ", cp->cfg->path, cp->rd->line);
	if (n < 0 || (size_t)n >= cp->errlen)
		return 0;
	va_start(ap, fmt);
	vsnprintf(cp->err + n, cp->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return 0;
}

static int
config_proxy_key(struct config_parse *cp, const char *name, const char *value)
{
	char	 why[512];

	if (strcasecmp(name, "server") == 0) {
		if (cp->cfg->proxy_line != 0)
			return config_fail(cp, "server is set twice (first on "
			    "line %d); keep one", cp->cfg->proxy_line);
		if (route_table_set_proxy(&cp->cfg->routes, value, why,
		    sizeof(why)) != UPLINK_OK)
			return config_fail(cp, "[proxy] server: %s", why);
		cp->cfg->proxy_line = cp->rd->line;
		return 1;
	}
	if (strcasecmp(name, "bypass") == 0) {
		if (cp->bypass.len > 0 && buf_appends(&cp->bypass, ",") != UPLINK_OK)
			return config_fail(cp, "bypass list too long");
		if (buf_appends(&cp->bypass, value) != UPLINK_OK)
			return config_fail(cp, "bypass list too long (at most "
			    "%zu bytes)", cp->bypass.max);
		/* Validate each line on its own so the error names its line. */
		if (route_table_set_bypass(&cp->cfg->routes, value, 0, why,
		    sizeof(why)) != UPLINK_OK)
			return config_fail(cp, "[proxy] %s", why);
		if (cp->cfg->bypass_line == 0)
			cp->cfg->bypass_line = cp->rd->line;
		return 1;
	}
	return config_fail(cp, "unknown key \"%s\" in [proxy] (known: server, "
	    "bypass)", name);
}

static int
config_log_key(struct config_parse *cp, const char *name, const char *value)
{
	static const char *levels[] = { "warn", "info", "debug" };
	int	 i;

	if (strcasecmp(name, "level") != 0)
		return config_fail(cp, "unknown key \"%s\" in [log] (known: "
		    "level)", name);
	for (i = 0; i < 3; i++)
		if (strcasecmp(value, levels[i]) == 0) {
			cp->cfg->log_level = i;
			return 1;
		}
	return config_fail(cp, "[log] level \"%s\" is not one of warn, info, "
	    "debug", value);
}

/* Remembers a key that may be set once; false (and the error) if seen. */
static bool
config_once(struct config_parse *cp, enum config_once k, const char *section,
    const char *name)
{
	if (cp->once[k] != 0) {
		config_fail(cp, "[%s] %s is set twice (first on line %d); keep "
		    "one", section, name, cp->once[k]);
		return false;
	}
	cp->once[k] = cp->rd->line;
	return true;
}

/*
 * A path in [cloud]: absolute as written, or relative to the directory of
 * the configuration file, so the service does not depend on its working
 * directory.
 */
static int
config_path(struct config_parse *cp, const char *name, const char *value,
    char *dst, size_t dstlen)
{
	const char	*conf = cp->cfg->path, *slash = strrchr(conf, '/');
	char		 full[CONFIG_PATH_MAX];
	int		 n;

	if (*value == '\0')
		return config_fail(cp, "[cloud] %s is empty: give a file name "
		    "(uplink-connector enroll writes it)", name);
	if (value[0] == '/' || slash == NULL)
		n = snprintf(full, sizeof(full), "%s", value);
	else
		n = snprintf(full, sizeof(full), "%.*s/%s", (int)(slash - conf),
		    conf, value);
	if (n < 0 || (size_t)n >= sizeof(full) || (size_t)n >= dstlen)
		return config_fail(cp, "[cloud] %s: the path is longer than "
		    "%zu bytes", name, dstlen - 1);
	memcpy(dst, full, (size_t)n + 1);
	return 1;
}

/* A whole number in [lo, hi]. */
static bool
config_int(const char *s, long lo, long hi, int *out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

static int
config_cloud_url(struct config_parse *cp, const char *value)
{
	struct connector_config	*cfg = cp->cfg;
	char			 why[512];

	if (!token_url_check(value, why, sizeof(why)))
		return config_fail(cp, "[cloud] url: %s", why);
	if (hostport_parse(value + 8, 443, &cfg->cloud, why, sizeof(why)) !=
	    UPLINK_OK)
		return config_fail(cp, "[cloud] url: %s", why);
	snprintf(cfg->cloud_url, sizeof(cfg->cloud_url), "%s", value);
	return 1;
}

static int
config_cloud_key(struct config_parse *cp, const char *name, const char *value)
{
	static const struct {
		const char	*name;
		enum config_once once;
		size_t		 off;
	} keys[] = {
		{ "url", ONCE_URL, 0 },
		{ "ca", ONCE_CA, offsetof(struct connector_config, cloud_ca) },
		{ "cert", ONCE_CERT, offsetof(struct connector_config,
		    cloud_cert) },
		{ "key", ONCE_KEY, offsetof(struct connector_config,
		    cloud_key) },
		{ "tunnels", ONCE_TUNNELS, 0 },
	};
	struct connector_config	*cfg = cp->cfg;
	size_t			 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcasecmp(name, keys[i].name) == 0)
			break;
	if (i == sizeof(keys) / sizeof(keys[0]))
		return config_fail(cp, "unknown key \"%s\" in [cloud] (known: "
		    "url, ca, cert, key, tunnels)", name);
	if (!config_once(cp, keys[i].once, "cloud", keys[i].name))
		return 0;
	if (cfg->cloud_line == 0)
		cfg->cloud_line = cp->rd->line;
	switch (keys[i].once) {
	case ONCE_URL:
		return config_cloud_url(cp, value);
	case ONCE_TUNNELS:
		if (!config_int(value, 1, CONFIG_TUNNELS_MAX, &cfg->tunnels))
			return config_fail(cp, "[cloud] tunnels \"%s\": give a "
			    "whole number from 1 to %d", value,
			    CONFIG_TUNNELS_MAX);
		return 1;
	default:
		return config_path(cp, keys[i].name, value, (char *)cfg +
		    keys[i].off, CONFIG_PATH_MAX);
	}
}

/* yes/no, true/false, 1/0, in any case. */
static bool
config_bool(const char *s, bool *out)
{
	static const char *yes[] = { "yes", "true", "1" };
	static const char *no[] = { "no", "false", "0" };
	size_t	 i;

	for (i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/*
 * Each allow line ([access] or [check]) is parsed on its own so that an
 * error names its line; config_load() parses the joined list once more
 * into cfg->access or cfg->check_access.
 */
static int
config_allow_line(struct config_parse *cp, const char *section,
    struct buf *list, int *first, const char *value)
{
	struct access		*a = NULL;
	struct access_error	 ae;
	int			 rc;

	if (list->len > 0 && buf_appends(list, ",") != UPLINK_OK)
		return config_fail(cp, "[%s] allow list too long", section);
	if (buf_appends(list, value) != UPLINK_OK)
		return config_fail(cp, "[%s] allow list too long (at most "
		    "%zu bytes)", section, list->max);
	rc = access_parse(value, &a, &ae);
	access_free(a);
	if (rc == UPLINK_EINVAL)
		return config_fail(cp, "[%s] allow entry %zu \"%s\": %s",
		    section, ae.index, ae.entry, ae.msg);
	if (rc == UPLINK_ETOOBIG)
		return config_fail(cp, "[%s] allow: more than "
		    ACCESS_MAX_TEXT " entries on one line", section);
	if (rc != UPLINK_OK)
		return config_fail(cp, "[%s] allow: %s", section,
		    uplink_strerror(rc));
	if (*first == 0)
		*first = cp->rd->line;
	return 1;
}

static int
config_access_allow(struct config_parse *cp, const char *value)
{
	return config_allow_line(cp, "access", &cp->allow,
	    &cp->cfg->access_line, value);
}

/* [check]: what the cloud may have this connector test, beyond [access]. */
static int
config_check_key(struct config_parse *cp, const char *name, const char *value)
{
	if (strcasecmp(name, "allow") != 0)
		return config_fail(cp, "unknown key \"%s\" in [check] (known: "
		    "allow)", name);
	return config_allow_line(cp, "check", &cp->check_allow,
	    &cp->cfg->check_line, value);
}

static int
config_access_key(struct config_parse *cp, const char *name, const char *value)
{
	if (strcasecmp(name, "allow") == 0)
		return config_access_allow(cp, value);
	if (strcasecmp(name, "via_proxy") != 0)
		return config_fail(cp, "unknown key \"%s\" in [access] (known: "
		    "allow, via_proxy)", name);
	if (!config_once(cp, ONCE_VIA_PROXY, "access", "via_proxy"))
		return 0;
	if (!config_bool(value, &cp->cfg->via_proxy))
		return config_fail(cp, "[access] via_proxy \"%s\": write yes "
		    "or no", value);
	return 1;
}

/* [run] ping_interval and ping_misses: when a tunnel counts as dead. */
static int
config_run_health(struct config_parse *cp, const char *name,
    const char *value)
{
	struct connector_config	*cfg = cp->cfg;
	char			 why[512];
	long long		 n;
	char			*end;

	if (strcasecmp(name, "ping_interval") == 0) {
		if (!config_once(cp, ONCE_PING_INTERVAL, "run", "ping_interval"))
			return 0;
		if (duration_parse(value, "[run] ping_interval",
		    &cfg->ping_interval, why, sizeof(why)) != UPLINK_OK)
			return config_fail(cp, "%s", why);
		if (cfg->ping_interval > 300)
			return config_fail(cp, "[run] ping_interval \"%s\": "
			    "give 1s to 5m", value);
		return 1;
	}
	if (strcasecmp(name, "ping_misses") == 0) {
		if (!config_once(cp, ONCE_PING_MISSES, "run", "ping_misses"))
			return 0;
		n = strtoll(value, &end, 10);
		if (*value == '\0' || *end != '\0' || n < 1 || n > 10)
			return config_fail(cp, "[run] ping_misses \"%s\": give a "
			    "whole number from 1 to 10", value);
		cfg->ping_misses = (int)n;
		return 1;
	}
	if (strcasecmp(name, "max_streams") == 0) {
		if (!config_once(cp, ONCE_MAX_STREAMS, "run", "max_streams"))
			return 0;
		n = strtoll(value, &end, 10);
		if (*value == '\0' || *end != '\0' || n < 1 ||
		    n > CONFIG_MAX_STREAMS_MAX)
			return config_fail(cp, "[run] max_streams \"%s\": give "
			    "a whole number from 1 to %d (connections the cloud "
			    "may have open through this connector at once)",
			    value, CONFIG_MAX_STREAMS_MAX);
		cfg->max_streams = (int)n;
		return 1;
	}
	if (strcasecmp(name, "log_buffer") == 0) {
		if (!config_once(cp, ONCE_LOG_BUFFER, "run", "log_buffer"))
			return 0;
		n = strtoll(value, &end, 10);
		if (*value == '\0' || *end != '\0' || n < 10 || n > 100000)
			return config_fail(cp, "[run] log_buffer \"%s\": give "
			    "a whole number of lines from 10 to 100000 (the "
			    "newest log lines kept for the cloud)", value);
		cfg->log_buffer = (int)n;
		return 1;
	}
	return config_fail(cp, "unknown key \"%s\" in [run] (known: "
	    "drain_timeout, stream_buffer, ping_interval, ping_misses, "
	    "max_streams, log_buffer)", name);
}

static int
config_run_key(struct config_parse *cp, const char *name, const char *value)
{
	struct connector_config	*cfg = cp->cfg;
	char			 why[512];

	if (strcasecmp(name, "drain_timeout") == 0) {
		if (!config_once(cp, ONCE_DRAIN, "run", "drain_timeout"))
			return 0;
		if (duration_parse(value, "[run] drain_timeout",
		    &cfg->drain_timeout, why, sizeof(why)) != UPLINK_OK)
			return config_fail(cp, "%s", why);
		if (cfg->drain_timeout > CONFIG_DRAIN_MAX)
			return config_fail(cp, "[run] drain_timeout \"%s\": "
			    "give 1s to 1h", value);
		return 1;
	}
	if (strcasecmp(name, "stream_buffer") == 0) {
		if (!config_once(cp, ONCE_STREAMBUF, "run", "stream_buffer"))
			return 0;
		if (size_parse(value, &cfg->stream_buffer, why,
		    sizeof(why)) != UPLINK_OK)
			return config_fail(cp, "[run] stream_buffer %s", why);
		if (cfg->stream_buffer < CONFIG_STREAMBUF_MIN ||
		    cfg->stream_buffer > CONFIG_STREAMBUF_MAX)
			return config_fail(cp, "[run] stream_buffer \"%s\": "
			    "give 16k to 16m", value);
		return 1;
	}
	return config_run_health(cp, name, value);
}

/* [update] root_key: a file (absolute or ./relative) or the base64 line. */
static int
config_update_root(struct config_parse *cp, const char *value)
{
	struct connector_config	*cfg = cp->cfg;
	struct release_pubkey	 pk;
	const char		*slash = strrchr(cfg->path, '/');
	char			 why[256];
	int			 n;

	if (value[0] != '/' && value[0] != '.') {
		if (release_pubkey_parse(value, strlen(value), &pk, why,
		    sizeof(why)) != UPLINK_OK)
			return config_fail(cp, "[update] root_key: %s; give the "
			    "root's .pub file (an absolute or ./relative path) or "
			    "its base64 line", why);
		snprintf(cfg->update_root_b64, sizeof(cfg->update_root_b64),
		    "%s", value);
		return 1;
	}
	if (value[0] == '/' || slash == NULL)
		n = snprintf(cfg->update_root_path, sizeof(cfg->update_root_path),
		    "%s", value);
	else
		n = snprintf(cfg->update_root_path, sizeof(cfg->update_root_path),
		    "%.*s/%s", (int)(slash - cfg->path), cfg->path, value);
	if (n < 0 || (size_t)n >= sizeof(cfg->update_root_path))
		return config_fail(cp, "[update] root_key: path too long");
	return 1;
}

/* [update] revoked_keys: key ids, comma or space separated; lines add up. */
static int
config_update_revoked(struct config_parse *cp, const char *value)
{
	struct connector_config	*cfg = cp->cfg;
	const char		*p = value;
	char			 id[RELEASE_KEYID_TEXT + 1];
	size_t			 n;

	for (;;) {
		p += strspn(p, ", \t");
		if (*p == '\0')
			return 1;
		n = strcspn(p, ", \t");
		if (n != 16)
			return config_fail(cp, "[update] revoked_keys: \"%.*s\" "
			    "is not a key id (16 hex digits, as uplink-release "
			    "keygen prints it)", (int)(n > 40 ? 40 : n), p);
		memcpy(id, p, n);
		id[n] = '\0';
		if (cfg->update_nrevoked == RELEASE_REVOKED_MAX)
			return config_fail(cp, "[update] revoked_keys: more than "
			    "%d keys; have the root certify new signing keys "
			    "and build with a new root instead", RELEASE_REVOKED_MAX);
		if (!release_keyid_parse(id,
		    cfg->update_revoked[cfg->update_nrevoked]))
			return config_fail(cp, "[update] revoked_keys: \"%s\" is "
			    "not a key id (16 hex digits)", id);
		cfg->update_nrevoked++;
		p += n;
	}
}

static int
config_update_key(struct config_parse *cp, const char *name, const char *value)
{
	struct connector_config	*cfg = cp->cfg;
	size_t			 n = strlen(value);

	if (strcasecmp(name, "root_key") == 0)
		return config_once(cp, ONCE_ROOT_KEY, "update", "root_key") ?
		    config_update_root(cp, value) : 0;
	if (strcasecmp(name, "revoked_keys") == 0)
		return config_update_revoked(cp, value);
	if (strcasecmp(name, "channel") == 0) {
		if (!config_once(cp, ONCE_CHANNEL, "update", "channel"))
			return 0;
		if (n == 0 || n > RELEASE_WORD_MAX || strspn(value,
		    "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
			return config_fail(cp, "[update] channel \"%s\": give 1 "
			    "to %d of a-z 0-9 - (e.g. stable)", value,
			    RELEASE_WORD_MAX);
		memcpy(cfg->update_channel, value, n + 1);
		return 1;
	}
	if (strcasecmp(name, "allow_version") == 0) {
		if (!config_once(cp, ONCE_ALLOW_VERSION, "update",
		    "allow_version"))
			return 0;
		if (n > RELEASE_VERSION_MAX || !release_version_valid(value))
			return config_fail(cp, "[update] allow_version \"%s\": "
			    "give a version such as 0.1.0", value);
		memcpy(cfg->update_allow_version, value, n + 1);
		return 1;
	}
	if (strcasecmp(name, "health_gate") == 0) {
		char	 why[512];

		if (!config_once(cp, ONCE_HEALTH_GATE, "update", "health_gate"))
			return 0;
		if (duration_parse(value, "[update] health_gate",
		    &cfg->update_health_gate, why, sizeof(why)) != UPLINK_OK)
			return config_fail(cp, "%s", why);
		if (cfg->update_health_gate < 5 || cfg->update_health_gate >
		    3600)
			return config_fail(cp, "[update] health_gate \"%s\": "
			    "give 5s to 1h", value);
		return 1;
	}
	return config_fail(cp, "unknown key \"%s\" in [update] (known: "
	    "root_key, revoked_keys, channel, allow_version, health_gate)",
	    name);
}

static int
config_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct config_parse	*cp = user;

	if (cp->failed)
		return 1;
	if (strcasecmp(section, "cloud") == 0)
		return config_cloud_key(cp, name, value);
	if (strcasecmp(section, "proxy") == 0)
		return config_proxy_key(cp, name, value);
	if (strcasecmp(section, "access") == 0)
		return config_access_key(cp, name, value);
	if (strcasecmp(section, "check") == 0)
		return config_check_key(cp, name, value);
	if (strcasecmp(section, "run") == 0)
		return config_run_key(cp, name, value);
	if (strcasecmp(section, "log") == 0)
		return config_log_key(cp, name, value);
	if (strcasecmp(section, "update") == 0)
		return config_update_key(cp, name, value);
	if (*section == '\0')
		return config_fail(cp, "\"%s\" is outside any section; put it "
		    "under [cloud], [proxy], [access], [check], [run], [log] or "
		    "[update]", name);
	return config_fail(cp, "unknown section [%s] (known: [cloud], [proxy], "
	    "[access], [check], [run], [log], [update])", section);
}

/* A [cloud] section needs all four of url, ca, cert and key. */
static void
config_cloud_complete(struct config_parse *cp)
{
	static const struct {
		enum config_once once;
		const char	*name, *what;
	} need[] = {
		{ ONCE_URL, "url", "the cloud's address, https://HOST[:PORT]" },
		{ ONCE_CA, "ca", "the file with the cloud's CA certificate" },
		{ ONCE_CERT, "cert", "the connector's certificate file" },
		{ ONCE_KEY, "key", "the connector's private key file" },
	};
	size_t	 i;

	if (cp->failed || cp->cfg->cloud_line == 0)
		return;
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (cp->once[need[i].once] == 0) {
			cp->failed = true;
			snprintf(cp->err, cp->errlen, "%s:%d: [cloud] has no "
			    "\"%s =\": give %s (uplink-connector enroll writes "
			    "the whole section)", cp->cfg->path,
			    cp->cfg->cloud_line, need[i].name, need[i].what);
			return;
		}
}

/* The joined lists, once every line has been checked on its own. */
static void
config_lists(struct config_parse *cp)
{
	struct connector_config	*cfg = cp->cfg;
	struct access_error	 ae;
	char			 why[512];
	int			 rc;

	if (!cp->failed && cp->bypass.len > 0) {
		/* The whole list once more, so route decisions see every line. */
		if (route_table_set_bypass(&cfg->routes, buf_cstr(&cp->bypass),
		    0, why, sizeof(why)) != UPLINK_OK) {
			cp->failed = true;
			snprintf(cp->err, cp->errlen, "%s:%d: %s", cfg->path,
			    cfg->bypass_line, why);
			return;
		}
		cfg->bypass_text = strdup(buf_cstr(&cp->bypass));
	}
	if (!cp->failed && cp->allow.len > 0) {
		rc = access_parse(buf_cstr(&cp->allow), &cfg->access, &ae);
		if (rc != UPLINK_OK) {
			cp->failed = true;
			snprintf(cp->err, cp->errlen, "%s:%d: [access] allow: "
			    "%s", cfg->path, cfg->access_line, rc ==
			    UPLINK_ETOOBIG ? "the allow lines list more than "
			    ACCESS_MAX_TEXT " entries together; allow blocks "
			    "(10.0.0.0/8:*) or wildcards (*.corp.example:443) "
			    "instead" : rc == UPLINK_EINVAL ? ae.msg :
			    uplink_strerror(rc));
			return;
		}
		cfg->access_text = strdup(buf_cstr(&cp->allow));
	}
	if (!cp->failed && cp->check_allow.len > 0) {
		rc = access_parse(buf_cstr(&cp->check_allow), &cfg->check_access,
		    &ae);
		if (rc != UPLINK_OK) {
			cp->failed = true;
			snprintf(cp->err, cp->errlen, "%s:%d: [check] allow: %s",
			    cfg->path, cfg->check_line, rc == UPLINK_EINVAL ?
			    ae.msg : "the allow lines list more than "
			    ACCESS_MAX_TEXT " entries together");
			return;
		}
	}
	if (!cp->failed && ((cp->bypass.len > 0 && cfg->bypass_text == NULL) ||
	    (cp->allow.len > 0 && cfg->access_text == NULL))) {
		cp->failed = true;
		snprintf(cp->err, cp->errlen, "%s: out of memory", cfg->path);
	}
}

static void
config_defaults(struct connector_config *cfg, const char *path)
{
	memset(cfg, 0, sizeof(*cfg));
	route_table_init(&cfg->routes);
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->tunnels = CONFIG_TUNNELS_DEFAULT;
	cfg->drain_timeout = CONFIG_DRAIN_DEFAULT;
	cfg->stream_buffer = CONFIG_STREAMBUF_DEFAULT;
	cfg->ping_interval = 10;
	cfg->ping_misses = 3;
	cfg->max_streams = CONFIG_MAX_STREAMS_DEFAULT;
	cfg->log_buffer = 10000;
	snprintf(cfg->update_channel, sizeof(cfg->update_channel), "stable");
	cfg->update_health_gate = CONFIG_HEALTH_GATE_DEFAULT;
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
}

int
config_load(const char *path, struct connector_config *cfg, char *err,
    size_t errlen)
{
	struct inifile		 rd;
	struct config_parse	 cp;
	char			 why[160];
	int			 rc;

	config_defaults(cfg, path);
	rc = inifile_open(&rd, path, why, sizeof(why));
	if (rc == -2) {
		snprintf(err, errlen, "%s: %s", path, why);
		return UPLINK_ECONFIG;
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s: cannot open: %s%s", path,
		    strerror(errno), errno == ENOENT ? " (create it, or give "
		    "another file with --config)" : "");
		return UPLINK_EIO;
	}
	memset(&cp, 0, sizeof(cp));
	cp.cfg = cfg;
	cp.rd = &rd;
	cp.err = err;
	cp.errlen = errlen;
	buf_init(&cp.bypass, 256 * 1024);
	buf_init(&cp.allow, 256 * 1024);
	buf_init(&cp.check_allow, 256 * 1024);
	rc = ini_parse_stream(config_read_line, &rd, config_handler, &cp);
	inifile_close(&rd);
	if (!cp.failed && inifile_error(&rd, path, err, errlen))
		cp.failed = true;
	else if (!cp.failed && rd.overlong) {
		cp.failed = true;
		snprintf(err, errlen, "%s:%d: line longer than %d characters; "
		    "split a long bypass or allow list over several lines "
		    "(they add up)", path, rd.line, INI_MAX_LINE - 1);
	} else if (!cp.failed && rc != 0) {
		cp.failed = true;
		snprintf(err, errlen, "%s:%d: not INI syntax; write \"[section]\""
		    " or \"key = value\"", path, rc);
	}
	config_cloud_complete(&cp);
	config_lists(&cp);
	buf_free(&cp.bypass);
	buf_free(&cp.allow);
	buf_free(&cp.check_allow);
	if (cp.failed) {
		config_free(cfg);
		return UPLINK_ECONFIG;
	}
	snprintf(cfg->routes.source, sizeof(cfg->routes.source), "%s", path);
	return UPLINK_OK;
}

void
config_free(struct connector_config *cfg)
{
	route_table_clear(&cfg->routes);
	free(cfg->bypass_text);
	cfg->bypass_text = NULL;
	access_free(cfg->access);
	cfg->access = NULL;
	free(cfg->access_text);
	cfg->access_text = NULL;
	access_free(cfg->check_access);
	cfg->check_access = NULL;
}

int
config_need_cloud(const struct connector_config *cfg, char *err,
    size_t errlen)
{
	if (cfg->cloud_url[0] != '\0')
		return UPLINK_OK;
	snprintf(err, errlen, "%s: no [cloud] section: enroll this connector "
	    "first (uplink-connector enroll --token TOKEN --config %s), which "
	    "writes it", cfg->path, cfg->path);
	return UPLINK_ECONFIG;
}

/*
 * Writing. The file is read whole, edited in memory one section at a time
 * and written back through a temporary file, so a crash leaves the old
 * file or the new one.
 */

/* Is this line a section header? name receives the section's name. */
static bool
line_section(const char *s, size_t len, char *name, size_t namelen)
{
	size_t	 i = 0, n;

	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == len || s[i] != '[')
		return false;
	n = strcspn(s + i + 1, "]\n");
	snprintf(name, namelen, "%.*s", (int)n, s + i + 1);
	return true;
}

static bool
line_is_any_key(const char *line, const char *const *keys)
{
	for (; *keys != NULL; keys++)
		if (line_is_key(line, *keys))
			return true;
	return false;
}

/*
 * Copies text to out with the section's lines for keys dropped and lines
 * (each "key = value\n") in their place: where the first dropped line was,
 * or at the end of the section when it had none, or in a new section at
 * the end of the file when there was no such section.
 */
static int
config_rewrite(const struct buf *text, struct buf *out, const char *section,
    const char *const *keys, const char *lines)
{
	char		 line[CONFIG_LINE_MAX], name[64];
	const char	*p = text->ptr, *end = text->ptr + text->len, *nl;
	size_t		 len;
	bool		 in = false, seen = false, written = false;
	int		 rc = UPLINK_OK;

	buf_reset(out);
	while (p != NULL && p < end && rc == UPLINK_OK) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl != NULL ? (size_t)(nl - p + 1) : (size_t)(end - p);
		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		if (line_section(p, len, name, sizeof(name))) {
			if (in && !written) {
				rc = buf_appends(out, lines);
				written = true;
			}
			in = strcasecmp(name, section) == 0;
			seen |= in;
		} else if (in && line_is_any_key(line, keys)) {
			if (!written)
				rc = buf_appends(out, lines);
			written = true;
			p += len;
			continue;
		}
		if (rc == UPLINK_OK)
			rc = buf_append(out, p, len);
		p += len;
	}
	if (rc == UPLINK_OK && !written) {
		if (out->len > 0 && out->ptr[out->len - 1] != '\n')
			rc = buf_appends(out, "\n");
		if (rc == UPLINK_OK && !seen)
			rc = buf_appendf(out, "%s[%s]\n", out->len > 0 ? "\n" :
			    "", section);
		if (rc == UPLINK_OK)
			rc = buf_appends(out, lines);
	}
	return rc;
}

/* Reads the whole file; a missing one reads as empty (*exists false). */
static int
config_slurp(const char *path, struct buf *text, bool *exists, mode_t *mode,
    char *err, size_t errlen)
{
	char		 chunk[4096];
	struct stat	 st;
	FILE		*fp;
	size_t		 n;
	int		 rc = UPLINK_OK;

	*exists = false;
	fp = fopen(path, "re");
	if (fp == NULL && errno == ENOENT)
		return UPLINK_OK;
	if (fp == NULL) {
		snprintf(err, errlen, "%s: cannot read: %s", path,
		    strerror(errno));
		return UPLINK_EIO;
	}
	*exists = true;
	if (fstat(fileno(fp), &st) == 0)
		*mode = st.st_mode & 07777;
	while (rc == UPLINK_OK && (n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		rc = buf_append(text, chunk, n);
	if (rc == UPLINK_OK && ferror(fp)) {
		snprintf(err, errlen, "%s: cannot read: %s", path,
		    strerror(errno));
		rc = UPLINK_EIO;
	} else if (rc != UPLINK_OK)
		snprintf(err, errlen, "%s: file too large to rewrite", path);
	fclose(fp);
	return rc;
}

/*
 * "bypass = " lines for a list: one per INI line's worth of entries, since
 * inih reads lines of at most INI_MAX_LINE - 1 characters and the lines
 * add up anyway.
 */
static int
config_bypass_lines(struct buf *lines, const char *bypass)
{
	const char	*p = bypass;
	size_t		 n, start = lines->len;
	int		 rc = UPLINK_OK;

	while (rc == UPLINK_OK) {
		p += strspn(p, ",; \t");
		n = strcspn(p, ",; \t");
		if (n == 0)
			break;
		if (lines->len > start && lines->len - start + n + 3 >
		    INI_MAX_LINE - 8) {
			rc = buf_appends(lines, "\n");
			start = lines->len;
		}
		if (rc == UPLINK_OK)
			rc = buf_appendf(lines, "%s%.*s", lines->len == start ?
			    "bypass = " : ", ", (int)n, p);
		p += n;
	}
	if (rc == UPLINK_OK && lines->len > 0 &&
	    lines->ptr[lines->len - 1] != '\n')
		rc = buf_appends(lines, "\n");
	return rc;
}

/* The [proxy] pass both writers share. */
static int
config_edit_proxy(struct buf *text, struct buf *tmp, const char *server,
    const char *bypass)
{
	static const char *const with_bypass[] = { "server", "bypass", NULL };
	static const char *const server_only[] = { "server", NULL };
	struct buf	 lines, swap;
	int		 rc;

	buf_init(&lines, 1024 * 1024);
	rc = buf_appendf(&lines, "server = %s\n", server);
	if (rc == UPLINK_OK && bypass != NULL)
		rc = config_bypass_lines(&lines, bypass);
	if (rc == UPLINK_OK)
		rc = config_rewrite(text, tmp, "proxy", bypass != NULL ?
		    with_bypass : server_only, buf_cstr(&lines));
	buf_free(&lines);
	swap = *text;
	*text = *tmp;
	*tmp = swap;
	return rc;
}

int
config_save_proxy(const char *path, const char *server, const char *bypass,
    char *err, size_t errlen)
{
	struct buf	 text, tmp;
	mode_t		 mode = 0644;
	bool		 exists;
	int		 rc;

	buf_init(&text, 16 * 1024 * 1024);
	buf_init(&tmp, 16 * 1024 * 1024);
	rc = config_slurp(path, &text, &exists, &mode, err, errlen);
	if (rc == UPLINK_OK && config_edit_proxy(&text, &tmp, server,
	    bypass) != UPLINK_OK) {
		snprintf(err, errlen, "%s: file too large to rewrite", path);
		rc = UPLINK_ETOOBIG;
	}
	if (rc == UPLINK_OK)
		rc = atomicfile_write(path, text.ptr, text.len, mode,
		    "configuration", err, errlen);
	buf_free(&text);
	buf_free(&tmp);
	return rc;
}

/* What a new file holds besides [cloud] and [proxy]. */
static const char config_access_template[] =
    "\n"
    "[access]\n"
    "# Nothing is allowed until you list destinations here: the cloud can\n"
    "# only open connections to the hosts and ports that \"allow\" lines\n"
    "# name. Entries are separated by ',' or ';', and lines add up, e.g.\n"
    "#   allow = intranet.corp.example:80, *.corp.example:443\n"
    "#   allow = 10.0.0.0/8:*\n"
    "# via_proxy = no    ; yes: destinations the proxy route covers are\n"
    "#                   ; reached through the proxy\n";

/* Does "key = value" fit on a line inih reads? */
static bool
config_fits(const char *value)
{
	return strlen(value) + sizeof("cert = ") <= INI_MAX_LINE - 1;
}

int
config_save_cloud(const char *path, const char *url, const char *ca,
    const char *cert, const char *key, const char *server, const char *bypass,
    char *err, size_t errlen)
{
	static const char *const cloud_keys[] = { "url", "ca", "cert", "key",
	    NULL };
	struct buf	 text, tmp, lines;
	mode_t		 mode = 0600;	/* whatever the old file had */
	bool		 exists;
	int		 rc;

	buf_init(&text, 16 * 1024 * 1024);
	buf_init(&tmp, 16 * 1024 * 1024);
	buf_init(&lines, 4 * CONFIG_PATH_MAX + 64);
	rc = config_slurp(path, &text, &exists, &mode, err, errlen);
	if (rc != UPLINK_OK)
		goto out;
	if (!exists)
		rc = buf_appends(&text, "# uplink-connector configuration "
		    "(docs/config.md), written by\n# \"uplink-connector "
		    "enroll\".\n\n[cloud]\n");
	if (rc == UPLINK_OK && (!config_fits(url) || !config_fits(ca) ||
	    !config_fits(cert) || !config_fits(key))) {
		snprintf(err, errlen, "%s: a cloud URL or file name is too long "
		    "for a configuration line (%d characters at most): choose "
		    "a shorter directory", path, INI_MAX_LINE - 1);
		rc = UPLINK_EINVAL;
		goto out;
	}
	if (rc == UPLINK_OK)
		rc = buf_appendf(&lines, "url = %s\nca = %s\ncert = %s\n"
		    "key = %s\n", url, ca, cert, key);
	if (rc == UPLINK_OK)
		rc = config_rewrite(&text, &tmp, "cloud", cloud_keys,
		    buf_cstr(&lines));
	if (rc == UPLINK_OK && server != NULL)
		rc = config_edit_proxy(&tmp, &text, server, bypass);
	if (rc == UPLINK_OK && !exists)
		rc = buf_appends(&tmp, config_access_template);
	if (rc != UPLINK_OK) {
		snprintf(err, errlen, "%s: file too large to rewrite", path);
		goto out;
	}
	rc = atomicfile_write(path, tmp.ptr, tmp.len, 0600, "configuration",
	    err, errlen);
out:
	buf_free(&text);
	buf_free(&tmp);
	buf_free(&lines);
	return rc;
}
