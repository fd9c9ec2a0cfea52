#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "catalog.h"
#include "error.h"
#include "hostport.h"

/* Where in the document a value sits, for messages. */
struct catalog_ctx {
	const char	*origin;
	char		*err;
	size_t		 errlen;
	size_t		 si, ai;
};

static int
catalog_fail(struct catalog_ctx *cx, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
catalog_fail(struct catalog_ctx *cx, const char *field, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	n = snprintf(cx->err, cx->errlen, "%s: services[%zu].addresses[%zu]%s%s: ",
	    cx->origin, cx->si, cx->ai, field ? "." : "", field ? field : "");
	if (n >= 0 && (size_t)n < cx->errlen) {
		va_start(ap, fmt);
		vsnprintf(cx->err + n, cx->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return UPLINK_EINVAL;
}

const char *
catalog_text_invalid(const char *s, size_t len, bool path, size_t *at)
{
	unsigned char	 ch;
	size_t		 i;

	for (i = 0; i < len; i++) {
		ch = (unsigned char)s[i];
		*at = i;
		if (ch == '\r' || ch == '\n')
			return "a line break";
		if (ch < 0x20 || ch == 0x7f)
			return "a control character";
		if (path && ch == ' ')
			return "a space";
		if (path && ch > 0x7f)
			return "a byte that is not ASCII";
	}
	return NULL;
}

/*
 * Copies an optional string member; absent leaves dst as it is. No text
 * of a catalog may hold control characters: they end up in request lines
 * (path), in the firewall list of GET /api/v1/requirements?format=text and
 * in logs, where a line break would start a line of the sender's choosing.
 */
static int
catalog_str(struct catalog_ctx *cx, json_t *obj, const char *key, char *dst,
    size_t dstlen)
{
	json_t		*v = json_object_get(obj, key);
	const char	*bad;
	bool		 path = strcmp(key, "path") == 0;
	size_t		 at = 0;

	if (v == NULL || json_is_null(v))
		return UPLINK_OK;
	if (!json_is_string(v))
		return catalog_fail(cx, key, "expected a string");
	if (json_string_length(v) >= dstlen)
		return catalog_fail(cx, key, "longer than %zu characters",
		    dstlen - 1);
	bad = catalog_text_invalid(json_string_value(v),
	    json_string_length(v), path, &at);
	if (bad != NULL)
		return catalog_fail(cx, key, "holds %s (byte 0x%02x at offset "
		    "%zu); %s", bad, (unsigned char)json_string_value(v)[at],
		    at, path ? "a path is one line of printable ASCII without "
		    "spaces: percent-encode the rest (%0D, %0A, %20)" : "write "
		    "it on one line without control characters");
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return UPLINK_OK;
}

static int
catalog_check_keys(struct catalog_ctx *cx, json_t *obj, const char *const *known)
{
	const char	*key;
	json_t		*v;
	size_t		 i;

	json_object_foreach(obj, key, v) {
		for (i = 0; known[i] != NULL; i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (known[i] == NULL)
			return catalog_fail(cx, key, "unknown field (known: "
			    "host, port, scheme, purpose, probe, path)");
	}
	return UPLINK_OK;
}

/* Validates the host (name or "*.name") and the probe that stands for it. */
static int
catalog_host(struct catalog_ctx *cx, struct check_target *t)
{
	const char	*name = t->address;

	if (t->address[0] == '\0')
		return catalog_fail(cx, "host", "missing; give a host name");
	if (strncmp(name, "*.", 2) == 0)
		name += 2;
	else if (t->probe[0] == '\0')
		snprintf(t->probe, sizeof(t->probe), "%s", t->address);
	if (host_classify(name) == HOST_NAME && !host_name_valid(name))
		return catalog_fail(cx, "host", "\"%s\" is not a host name or a "
		    "\"*.\" wildcard", t->address);
	if (t->probe[0] != '\0' && host_classify(t->probe) == HOST_NAME &&
	    !host_name_valid(t->probe))
		return catalog_fail(cx, "probe", "\"%s\" is not a host name",
		    t->probe);
	return UPLINK_OK;
}

static int
catalog_address(struct catalog_ctx *cx, json_t *a, const char *service,
    const char *spurpose, struct check_target *t)
{
	static const char *const known[] = { "host", "port", "scheme",
	    "purpose", "probe", "path", NULL };
	char		 scheme[16] = "https";
	json_t		*port;
	int		 rc;

	if (!json_is_object(a))
		return catalog_fail(cx, NULL, "expected an object");
	memset(t, 0, sizeof(*t));
	snprintf(t->service, sizeof(t->service), "%s", service);
	snprintf(t->purpose, sizeof(t->purpose), "%s", spurpose);
	snprintf(t->path, sizeof(t->path), "/");
	rc = catalog_check_keys(cx, a, known);
	if (rc == UPLINK_OK)
		rc = catalog_str(cx, a, "host", t->address, sizeof(t->address));
	if (rc == UPLINK_OK)
		rc = catalog_str(cx, a, "probe", t->probe, sizeof(t->probe));
	if (rc == UPLINK_OK)
		rc = catalog_str(cx, a, "purpose", t->purpose, sizeof(t->purpose));
	if (rc == UPLINK_OK)
		rc = catalog_str(cx, a, "path", t->path, sizeof(t->path));
	if (rc == UPLINK_OK)
		rc = catalog_str(cx, a, "scheme", scheme, sizeof(scheme));
	if (rc != UPLINK_OK)
		return rc;
	if (strcasecmp(scheme, "https") == 0)
		t->scheme = SCHEME_HTTPS;
	else if (strcasecmp(scheme, "http") == 0)
		t->scheme = SCHEME_HTTP;
	else
		return catalog_fail(cx, "scheme", "\"%s\" is not https or http",
		    scheme);
	if (t->path[0] != '/')
		return catalog_fail(cx, "path", "must start with '/'");
	t->port = t->scheme == SCHEME_HTTPS ? 443 : 80;
	port = json_object_get(a, "port");
	if (port != NULL && (!json_is_integer(port) ||
	    json_integer_value(port) < 1 || json_integer_value(port) > 65535))
		return catalog_fail(cx, "port", "expected an integer from 1 to "
		    "65535");
	if (port != NULL)
		t->port = (uint16_t)json_integer_value(port);
	return catalog_host(cx, t);
}

static int
catalog_push(struct catalog *c, const struct check_target *t, char *err,
    size_t errlen)
{
	void	*nv;

	if (c->n >= CATALOG_MAX_ADDRESSES) {
		snprintf(err, errlen, "more than %d addresses in the catalogs",
		    CATALOG_MAX_ADDRESSES);
		return UPLINK_ETOOBIG;
	}
	nv = realloc(c->v, (c->n + 1) * sizeof(*c->v));
	if (nv == NULL) {
		snprintf(err, errlen, "out of memory");
		return UPLINK_ENOMEM;
	}
	c->v = nv;
	c->v[c->n++] = *t;
	return UPLINK_OK;
}

static int
catalog_service(struct catalog *c, struct catalog_ctx *cx, json_t *s)
{
	struct check_target	 t;
	json_t			*name, *addrs, *purpose;
	size_t			 i, at = 0;
	int			 rc;

	name = json_object_get(s, "name");
	addrs = json_object_get(s, "addresses");
	purpose = json_object_get(s, "purpose");
	if (!json_is_object(s) || !json_is_string(name) ||
	    json_string_length(name) == 0 || json_string_length(name) >= 64) {
		snprintf(cx->err, cx->errlen, "%s: services[%zu]: expected an "
		    "object with \"name\" (1-63 characters) and \"addresses\"",
		    cx->origin, cx->si);
		return UPLINK_EINVAL;
	}
	if (catalog_text_invalid(json_string_value(name),
	    json_string_length(name), false, &at) != NULL) {
		snprintf(cx->err, cx->errlen, "%s: services[%zu].name: holds a "
		    "control character (offset %zu); a service name is one "
		    "line of text", cx->origin, cx->si, at);
		return UPLINK_EINVAL;
	}
	if (!json_is_array(addrs) || (purpose != NULL && !json_is_string(purpose))) {
		snprintf(cx->err, cx->errlen, "%s: services[%zu] (\"%s\"): "
		    "\"addresses\" must be an array and \"purpose\" a string",
		    cx->origin, cx->si, json_string_value(name));
		return UPLINK_EINVAL;
	}
	if (purpose != NULL && catalog_text_invalid(json_string_value(purpose),
	    json_string_length(purpose), false, &at) != NULL) {
		snprintf(cx->err, cx->errlen, "%s: services[%zu].purpose: holds "
		    "a line break or control character (offset %zu); write it "
		    "on one line without control characters", cx->origin,
		    cx->si, at);
		return UPLINK_EINVAL;
	}
	for (i = 0; i < json_array_size(addrs); i++) {
		cx->ai = i;
		rc = catalog_address(cx, json_array_get(addrs, i),
		    json_string_value(name), purpose ? json_string_value(purpose)
		    : "", &t);
		if (rc == UPLINK_OK)
			rc = catalog_push(c, &t, cx->err, cx->errlen);
		if (rc != UPLINK_OK)
			return rc;
	}
	return UPLINK_OK;
}

int
catalog_load_json(struct catalog *c, const char *text, size_t len,
    const char *origin, char *err, size_t errlen)
{
	struct catalog_ctx	 cx = { origin, err, errlen, 0, 0 };
	json_error_t		 je;
	json_t			*root, *services;
	int			 rc = UPLINK_OK;

	if (len > CATALOG_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %d bytes", origin,
		    CATALOG_MAX_BYTES);
		return UPLINK_ETOOBIG;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		snprintf(err, errlen, "%s:%d:%d: not valid JSON: %s", origin,
		    je.line, je.column, je.text);
		return UPLINK_EINVAL;
	}
	services = json_object_get(root, "services");
	if (!json_is_object(root) || !json_is_array(services)) {
		snprintf(err, errlen, "%s: expected {\"services\": [...]} (see "
		    "docs/catalog.md)", origin);
		rc = UPLINK_EINVAL;
	}
	for (cx.si = 0; rc == UPLINK_OK && cx.si < json_array_size(services);
	    cx.si++)
		rc = catalog_service(c, &cx, json_array_get(services, cx.si));
	json_decref(root);
	return rc;
}

int
catalog_load_file(struct catalog *c, const char *path, char *err,
    size_t errlen)
{
	FILE	*fp;
	char	*text;
	size_t	 len;
	int	 rc;

	fp = fopen(path, "r");
	if (fp == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return UPLINK_EIO;
	}
	text = malloc(CATALOG_MAX_BYTES + 1);
	if (text == NULL) {
		fclose(fp);
		snprintf(err, errlen, "out of memory");
		return UPLINK_ENOMEM;
	}
	len = fread(text, 1, CATALOG_MAX_BYTES + 1, fp);
	fclose(fp);
	rc = catalog_load_json(c, text, len, path, err, errlen);
	free(text);
	return rc;
}

int
catalog_add_url(struct catalog *c, const char *service, const char *url,
    const char *purpose, char *err, size_t errlen)
{
	struct check_target	 t;
	struct hostport		 hp;
	bool			 https;

	memset(&t, 0, sizeof(t));
	if (url_parse(url, &https, &hp, t.path, sizeof(t.path), err, errlen) !=
	    UPLINK_OK)
		return UPLINK_EINVAL;
	t.scheme = https ? SCHEME_HTTPS : SCHEME_HTTP;
	snprintf(t.service, sizeof(t.service), "%s", service);
	snprintf(t.purpose, sizeof(t.purpose), "%s", purpose);
	snprintf(t.address, sizeof(t.address), "%s", hp.host);
	snprintf(t.probe, sizeof(t.probe), "%s", hp.host);
	t.port = hp.port;
	return catalog_push(c, &t, err, errlen);
}

size_t
catalog_filter(struct catalog *c, char *const *services, size_t n)
{
	size_t	 i, j, k = 0;

	if (n == 0)
		return c->n;
	for (i = 0; i < c->n; i++)
		for (j = 0; j < n; j++)
			if (strcmp(c->v[i].service, services[j]) == 0) {
				c->v[k++] = c->v[i];
				break;
			}
	c->n = k;
	return k;
}

void
catalog_free(struct catalog *c)
{
	free(c->v);
	c->v = NULL;
	c->n = 0;
}
