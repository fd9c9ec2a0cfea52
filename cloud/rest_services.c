#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "buf.h"
#include "catalog.h"
#include "daemon.h"
#include "hostport.h"
#include "log.h"
#include "publish.h"
#include "rest.h"

/*
 * Published services made through the API (applied at once: the cloud
 * listens, moves or stops), and the catalog of required addresses that
 * firewall administrators allow and connectors check against.
 */

static json_t *
service_json(const struct publish_info *s)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "name",
	    s->name, "site", s->site, "target", s->target, "listen", s->listen,
	    "source", s->config ? "config" : "api", "created_at",
	    rest_time(s->created_at), "updated_at", rest_time(s->updated_at));
}

static void
service_row(void *arg, const struct publish_info *s)
{
	json_array_append_new(arg, service_json(s));
}

/* API services that could not be published are listed from the store. */
static int
stored_row(void *arg, const struct store_service *s)
{
	struct rest		*r = ((void **)arg)[0];
	json_t			*arr = ((void **)arg)[1], *j;
	struct publish_info	 info;

	if (publish_get(r->c, s->name, &info))
		return 0;
	publish_info_from(s, &info);
	j = service_json(&info);
	json_object_set_new(j, "listening", json_false());
	json_array_append_new(arr, j);
	return 0;
}

void
rest_services_list(struct rest *r)
{
	json_t	*arr = json_array();
	void	*args[2] = { r, arr };
	char	 err[256];
	int	 rc;

	publish_foreach(r->c, service_row, arr);
	rc = store_service_list(r->c->dd.st, stored_row, args, err,
	    sizeof(err));
	if (rc != UPLINK_OK) {
		json_decref(arr);
		rest_store_fail(r, rc, err);
		return;
	}
	rest_reply(r, 200, json_pack("{s:o}", "services", arr));
}

void
rest_service_get(struct rest *r)
{
	struct publish_info	 info;

	if (!publish_get(r->c, r->seg[1], &info)) {
		rest_fail(r, 404, "not-found", "there is no published service "
		    "\"%.64s\"", r->seg[1]);
		return;
	}
	rest_reply(r, 200, service_json(&info));
}

/* Checks a service's fields; false: answered 400. */
static bool
service_valid(struct rest *r, const struct publish_info *s)
{
	struct hostport	 hp;
	char		 why[256];
	int64_t		 site;

	if (!store_name_check("name", s->name, why, sizeof(why)) ||
	    !store_name_check("site", s->site, why, sizeof(why))) {
		rest_fail(r, 400, "bad-field", "%s", why);
		return false;
	}
	if (hostport_parse(s->target, 0, &hp, why, sizeof(why)) != UPLINK_OK ||
	    hp.port == 0) {
		rest_fail(r, 400, "bad-field", "target \"%.64s\": %s", s->target,
		    hp.port == 0 ? "give HOST:PORT inside the site, e.g. "
		    "intranet.corp.example:80" : why);
		return false;
	}
	if (hostport_parse(s->listen, 0, &hp, why, sizeof(why)) != UPLINK_OK ||
	    hp.port == 0 || hp.kind == HOST_NAME) {
		rest_fail(r, 400, "bad-field", "listen \"%.64s\": give an "
		    "address and port of this cloud, e.g. 0.0.0.0:8080 or "
		    "[::]:8080", s->listen);
		return false;
	}
	if (store_site_find(r->c->dd.st, s->site, &site, why, sizeof(why)) !=
	    UPLINK_OK) {
		rest_fail(r, 400, "bad-field", "there is no site \"%s\": create "
		    "it (POST /api/v1/sites) or enroll a connector into it "
		    "first", s->site);
		return false;
	}
	return true;
}

static void
to_store(const struct publish_info *s, struct store_service *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", s->name);
	snprintf(out->site, sizeof(out->site), "%s", s->site);
	snprintf(out->target, sizeof(out->target), "%s", s->target);
	snprintf(out->listen, sizeof(out->listen), "%s", s->listen);
}

void
rest_services_post(struct rest *r)
{
	static const char *const fields[] = { "!name:s", "!site:s",
	    "!target:s", "!listen:s", NULL };
	struct publish_info	 s;
	struct store_service	 ss;
	char			 err[512];
	int			 rc;

	memset(&s, 0, sizeof(s));
	if (!rest_fields(r, fields) ||
	    !rest_take_str(r, "name", s.name, sizeof(s.name)) ||
	    !rest_take_str(r, "site", s.site, sizeof(s.site)) ||
	    !rest_take_str(r, "target", s.target, sizeof(s.target)) ||
	    !rest_take_str(r, "listen", s.listen, sizeof(s.listen)) ||
	    !service_valid(r, &s))
		return;
	s.created_at = s.updated_at = r->now;
	to_store(&s, &ss);
	if (store_service_get(r->c->dd.st, s.name, &ss, err, sizeof(err)) ==
	    UPLINK_OK) {
		rest_fail(r, 409, "conflict", "a service named \"%s\" exists "
		    "already", s.name);
		return;
	}
	rc = publish_add(r->c, &s, err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_fail(r, rc == UPLINK_EEXIST ? 409 : 400, rc ==
		    UPLINK_EEXIST ? "conflict" : "bad-field", "%s", err);
		return;
	}
	to_store(&s, &ss);
	rc = store_service_put(r->c->dd.st, &ss, true, r->now, err,
	    sizeof(err));
	if (rc != UPLINK_OK) {
		publish_remove(r->c, s.name);
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "service.create", s.name, "%s -> %s in site %s",
	    s.listen, s.target, s.site);
	rest_reply(r, 201, service_json(&s));
}

/* A service r may change: published through the API. */
static bool
api_service(struct rest *r, struct publish_info *s)
{
	struct store_service	 ss;
	char			 err[256];

	if (publish_get(r->c, r->seg[1], s) && s->config) {
		rest_fail(r, 409, "conflict", "service \"%s\" is defined in "
		    "cloud.conf ([publish %s]); change it there and restart",
		    s->name, s->name);
		return false;
	}
	if (store_service_get(r->c->dd.st, r->seg[1], &ss, err, sizeof(err)) !=
	    UPLINK_OK) {
		rest_fail(r, 404, "not-found", "there is no published service "
		    "\"%.64s\"", r->seg[1]);
		return false;
	}
	publish_info_from(&ss, s);
	return true;
}

void
rest_service_patch(struct rest *r)
{
	static const char *const fields[] = { "site:s", "target:s",
	    "listen:s", NULL };
	struct publish_info	 old, s;
	struct store_service	 ss;
	char			 err[512], err2[512];
	bool			 was_up;
	int			 rc;

	if (!api_service(r, &old) || !rest_fields(r, fields))
		return;
	s = old;
	if (!rest_take_str(r, "site", s.site, sizeof(s.site)) ||
	    !rest_take_str(r, "target", s.target, sizeof(s.target)) ||
	    !rest_take_str(r, "listen", s.listen, sizeof(s.listen)) ||
	    !service_valid(r, &s))
		return;
	s.updated_at = r->now;
	was_up = publish_remove(r->c, s.name) == UPLINK_OK;
	rc = publish_add(r->c, &s, err, sizeof(err));
	if (rc != UPLINK_OK) {
		if (was_up && publish_add(r->c, &old, err2, sizeof(err2)) !=
		    UPLINK_OK)
			log_warnx("publish %s: cannot listen again on %s: %s",
			    old.name, old.listen, err2);
		rest_fail(r, rc == UPLINK_EEXIST ? 409 : 400, rc ==
		    UPLINK_EEXIST ? "conflict" : "bad-field", "%s", err);
		return;
	}
	to_store(&s, &ss);
	rc = store_service_put(r->c->dd.st, &ss, false, r->now, err,
	    sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "service.update", s.name, "%s -> %s in site %s",
	    s.listen, s.target, s.site);
	rest_reply(r, 200, service_json(&s));
}

void
rest_service_delete(struct rest *r)
{
	struct publish_info	 s;
	char			 err[256];
	int			 rc;

	if (!api_service(r, &s))
		return;
	rc = store_service_delete(r->c->dd.st, s.name, err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	publish_remove(r->c, s.name);
	rest_audit(r, "service.delete", s.name, "was %s -> %s", s.listen,
	    s.target);
	rest_reply(r, 204, NULL);
}

/* ---- required addresses */

/* The built-in service: the cloud's URL on 443 and its CRL on 80. */
static json_t *
cloud_service(struct cloud *c)
{
	struct hostport	 hp;
	json_t		*addrs = json_array();
	char		 path[256], why[256];
	bool		 https;

	if (url_parse(c->dd.url, &https, &hp, path, sizeof(path), why,
	    sizeof(why)) == UPLINK_OK)
		json_array_append_new(addrs, json_pack("{s:s, s:i, s:s, s:s}",
		    "host", hp.host, "port", hp.port ? hp.port : 443, "scheme",
		    "https", "purpose", "tunnels, enrollment, API and console"));
	if (c->dd.crl_url[0] != '\0' && url_parse(c->dd.crl_url, &https, &hp,
	    path, sizeof(path), why, sizeof(why)) == UPLINK_OK)
		json_array_append_new(addrs, json_pack("{s:s, s:i, s:s, s:s, "
		    "s:s}", "host", hp.host, "port", hp.port ? hp.port : 80,
		    "scheme", "http", "path", path[0] ? path : "/",
		    "purpose", "certificate revocation list (CRL)"));
	cluster_requirements(c, addrs);
	return json_pack("{s:s, s:s, s:o}", "name", "cloud", "purpose",
	    "uplink cloud", "addresses", addrs);
}

static int
requirement_row(void *arg, const char *name, const char *json)
{
	json_t	*svc = json_loads(json, 0, NULL);

	(void)name;
	if (svc != NULL)
		json_array_append_new(arg, svc);
	return 0;
}

/* True when s holds a line break or control character. */
static bool
rest_text_bad(const char *s)
{
	size_t	 at;

	return s != NULL && catalog_text_invalid(s, strlen(s), false, &at) !=
	    NULL;
}

/* One line per address: HOST:PORT  # scheme, service: purpose. */
static void
catalog_text(json_t *services, struct buf *b)
{
	json_t		*svc, *a;
	const char	*scheme, *purpose;
	char		 line[1024];
	size_t		 i, j;
	json_int_t	 port;

	buf_appends(b, "# uplink: addresses the connectors must reach "
	    "(allow them outbound in the firewall or proxy)\n");
	json_array_foreach(services, i, svc) {
		json_array_foreach(json_object_get(svc, "addresses"), j, a) {
			scheme = json_string_value(json_object_get(a,
			    "scheme"));
			if (scheme == NULL)
				scheme = "https";
			port = json_integer_value(json_object_get(a, "port"));
			if (port == 0)
				port = strcmp(scheme, "http") == 0 ? 80 : 443;
			purpose = json_string_value(json_object_get(a,
			    "purpose"));
			if (purpose == NULL)
				purpose = json_string_value(json_object_get(
				    svc, "purpose"));
			snprintf(line, sizeof(line), "%s:%lld\t# %s, %s%s%s\n",
			    json_string_value(json_object_get(a, "host")),
			    (long long)port, scheme, json_string_value(
			    json_object_get(svc, "name")), purpose &&
			    *purpose ? ": " : "", purpose ? purpose : "");
			/*
			 * Rows are checked when saved; one saved before that
			 * (or written to the database by hand) with a line
			 * break must still not add a line to a firewall list.
			 */
			if (rest_text_bad(json_string_value(json_object_get(a,
			    "host"))) || rest_text_bad(scheme) ||
			    rest_text_bad(json_string_value(json_object_get(svc,
			    "name"))) || rest_text_bad(purpose))
				snprintf(line, sizeof(line), "# services[%zu]."
				    "addresses[%zu] left out: it holds a line "
				    "break or control character; save it again "
				    "with PUT /api/v1/requirements/NAME\n", i, j);
			buf_appends(b, line);
		}
	}
}

void
rest_requirements_get(struct rest *r)
{
	json_t		*services = json_array(), *cat;
	const char	*fmt = rest_query(r, "format");
	struct buf	 b;
	char		 err[256];
	int		 rc;

	json_array_append_new(services, cloud_service(r->c));
	rc = store_requirement_list(r->c->dd.st, requirement_row, services,
	    err, sizeof(err));
	if (rc != UPLINK_OK) {
		json_decref(services);
		rest_store_fail(r, rc, err);
		return;
	}
	if (fmt != NULL && strcmp(fmt, "text") == 0) {
		buf_init(&b, CATALOG_MAX_BYTES);
		catalog_text(services, &b);
		json_decref(services);
		rest_reply_text(r, 200, buf_cstr(&b));
		buf_free(&b);
		return;
	}
	if (fmt != NULL && strcmp(fmt, "json") != 0) {
		json_decref(services);
		rest_fail(r, 400, "bad-field", "format is json (the default) or "
		    "text");
		return;
	}
	cat = json_pack("{s:o}", "services", services);
	rest_reply(r, 200, cat);
}

void
rest_requirement_put(struct rest *r)
{
	static const char *const fields[] = { "purpose:s", "!addresses:a",
	    NULL };
	struct catalog	 cat = { 0 };
	json_t		*svc, *wrap;
	char		*text, err[512];
	int		 rc;

	if (strcmp(r->seg[1], "cloud") == 0) {
		rest_fail(r, 409, "conflict", "the service \"cloud\" is built in "
		    "(the cloud's own addresses); add another service");
		return;
	}
	if (!rest_fields(r, fields))
		return;
	svc = json_deep_copy(r->body);
	json_object_set_new(svc, "name", json_string(r->seg[1]));
	wrap = json_pack("{s:[O]}", "services", svc);
	text = json_dumps(wrap, JSON_COMPACT);
	json_decref(wrap);
	rc = text == NULL ? UPLINK_ENOMEM : catalog_load_json(&cat, text,
	    strlen(text), "body", err, sizeof(err));
	catalog_free(&cat);
	free(text);
	if (rc != UPLINK_OK) {
		json_decref(svc);
		rest_fail(r, 400, "bad-field", "%s", err);
		return;
	}
	text = json_dumps(svc, JSON_COMPACT);
	rc = store_requirement_put(r->c->dd.st, r->seg[1], text, r->now, err,
	    sizeof(err));
	free(text);
	if (rc != UPLINK_OK) {
		json_decref(svc);
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "requirement.put", r->seg[1], "%zu addresses",
	    json_array_size(json_object_get(svc, "addresses")));
	rest_reply(r, 200, svc);
}

void
rest_requirement_delete(struct rest *r)
{
	char	 err[256];
	int	 rc;

	if (strcmp(r->seg[1], "cloud") == 0) {
		rest_fail(r, 409, "conflict", "the service \"cloud\" is built "
		    "in and cannot be removed");
		return;
	}
	rc = store_requirement_delete(r->c->dd.st, r->seg[1], err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "requirement.delete", r->seg[1], "removed");
	rest_reply(r, 204, NULL);
}
