#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "buf.h"
#include "config.h"
#include "error.h"
#include "log.h"

/*
 * inih hands the handler no line numbers and has a fixed line length, so
 * lines come through this reader, which counts them, refuses lines inih would
 * cut, and keeps ';' in bypass values from being taken as a comment.
 */
struct config_reader {
	FILE		*fp;
	int		 line;
	bool		 overlong;
};

struct config_parse {
	struct connector_config	*cfg;
	struct config_reader	*rd;
	struct buf		 bypass;
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
	struct config_reader	*rd = stream;
	size_t			 len;
	char			*p;
	int			 c;

	if (fgets(str, num, rd->fp) == NULL)
		return NULL;
	rd->line++;
	len = strlen(str);
	if (len == (size_t)num - 1 && str[len - 1] != '\n' && !feof(rd->fp)) {
		rd->overlong = true;
		while ((c = fgetc(rd->fp)) != EOF && c != '\n')
			;
		return NULL;
	}
	if (line_is_key(str, "bypass")) {
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

static int
config_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct config_parse	*cp = user;

	if (cp->failed)
		return 1;
	if (strcasecmp(section, "proxy") == 0)
		return config_proxy_key(cp, name, value);
	if (strcasecmp(section, "log") == 0)
		return config_log_key(cp, name, value);
	if (*section == '\0')
		return config_fail(cp, "\"%s\" is outside any section; put it "
		    "under [proxy] or [log]", name);
	return config_fail(cp, "unknown section [%s] (known: [proxy], [log])",
	    section);
}

int
config_load(const char *path, struct connector_config *cfg, char *err,
    size_t errlen)
{
	struct config_reader	 rd = { 0 };
	struct config_parse	 cp;
	char			 why[512];
	int			 rc;

	memset(cfg, 0, sizeof(*cfg));
	route_table_init(&cfg->routes);
	cfg->log_level = LOG_LEVEL_INFO;
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	rd.fp = fopen(path, "r");
	if (rd.fp == NULL) {
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
	rc = ini_parse_stream(config_read_line, &rd, config_handler, &cp);
	fclose(rd.fp);
	if (!cp.failed && rd.overlong) {
		cp.failed = true;
		snprintf(err, errlen, "%s:%d: line longer than %d characters; "
		    "split a long bypass list over several \"bypass =\" lines "
		    "(they add up)", path, rd.line, INI_MAX_LINE - 1);
	} else if (!cp.failed && rc != 0) {
		cp.failed = true;
		snprintf(err, errlen, "%s:%d: not INI syntax; write \"[section]\""
		    " or \"key = value\"", path, rc);
	}
	if (!cp.failed && cp.bypass.len > 0) {
		/* The whole list once more, so route decisions see every line. */
		if (route_table_set_bypass(&cfg->routes, buf_cstr(&cp.bypass), 0,
		    why, sizeof(why)) != UPLINK_OK) {
			cp.failed = true;
			snprintf(err, errlen, "%s:%d: %s", path, cfg->bypass_line,
			    why);
		} else
			cfg->bypass_text = strdup(buf_cstr(&cp.bypass));
	}
	buf_free(&cp.bypass);
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
}

/* Is this line a section header, and is it [proxy]? */
static bool
line_section(const char *s, bool *is_proxy)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '[')
		return false;
	*is_proxy = strncasecmp(s, "[proxy]", 7) == 0;
	return true;
}

static int
config_emit_proxy(struct buf *out, const char *server, const char *bypass)
{
	int	 rc = buf_appendf(out, "server = %s\n", server);

	if (rc == UPLINK_OK && bypass != NULL && *bypass != '\0')
		rc = buf_appendf(out, "bypass = %s\n", bypass);
	return rc;
}

/*
 * Rewrites the text: old server (and, if replacing, bypass) lines of the
 * [proxy] section go, the new ones take the place of the first of them.
 */
static int
config_rewrite(FILE *in, struct buf *out, const char *server,
    const char *bypass)
{
	char	 line[CONFIG_LINE_MAX];
	bool	 in_proxy = false, seen_proxy = false, written = false, isp;
	int	 rc = UPLINK_OK;

	while (in != NULL && rc == UPLINK_OK && fgets(line, sizeof(line), in)) {
		if (line_section(line, &isp)) {
			if (in_proxy && !written) {
				rc = config_emit_proxy(out, server, bypass);
				written = true;
			}
			in_proxy = isp;
			seen_proxy |= isp;
		} else if (in_proxy && (line_is_key(line, "server") ||
		    (bypass != NULL && line_is_key(line, "bypass")))) {
			if (!written)
				rc = config_emit_proxy(out, server, bypass);
			written = true;
			continue;
		}
		if (rc == UPLINK_OK)
			rc = buf_appends(out, line);
	}
	if (rc == UPLINK_OK && !written) {
		if (!seen_proxy)
			rc = buf_appendf(out, "%s[proxy]\n", out->len > 0 &&
			    out->ptr[out->len - 1] != '\n' ? "\n" : "");
		if (rc == UPLINK_OK)
			rc = config_emit_proxy(out, server, bypass);
	}
	return rc;
}

int
config_save_proxy(const char *path, const char *server, const char *bypass,
    char *err, size_t errlen)
{
	struct buf	 out;
	char		 tmp[4200];
	FILE		*in;
	struct stat	 st;
	mode_t		 mode = 0644;
	int		 fd, rc = UPLINK_EIO;
	bool		 ok;

	buf_init(&out, 16 * 1024 * 1024);
	in = fopen(path, "r");
	if (in == NULL && errno != ENOENT) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	if (in != NULL && fstat(fileno(in), &st) == 0)
		mode = st.st_mode & 07777;
	if (config_rewrite(in, &out, server, bypass) != UPLINK_OK) {
		snprintf(err, errlen, "%s: file too large to rewrite", path);
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd == -1) {
		snprintf(err, errlen, "%s: cannot create: %s", tmp,
		    strerror(errno));
		goto out;
	}
	ok = write(fd, out.ptr, out.len) == (ssize_t)out.len && fsync(fd) == 0;
	if (close(fd) != 0)
		ok = false;
	if (!ok) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: cannot replace: %s", path,
		    strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = UPLINK_OK;
out:
	if (in != NULL)
		fclose(in);
	buf_free(&out);
	return rc;
}
