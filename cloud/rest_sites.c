#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "api.h"
#include "checks.h"
#include "cli.h"
#include "daemon.h"
#include "duration.h"
#include "events.h"
#include "log.h"
#include "notify.h"
#include "publish.h"
#include "rest.h"
#include "router.h"
#include "status.h"
#include "tokens.h"

/*
 * Sites, connectors (with their live figures), connectivity checks and
 * enrollment tokens (docs/api.md).
 */

#define TOKEN_TTL_DEFAULT_SECS	(24 * 3600)
#define TOKEN_TTL_MAX_SECS	(365L * 86400)

/* The newest check of a connector as {id, at, ok, passed, failed}. */
static int
last_check_cb(void *arg, const struct store_check *k)
{
	json_t	**out = arg;

	*out = checks_json(k, false);
	return 0;
}

static json_t *
connector_json(struct rest *r, const struct live_conn *lc)
{
	json_t	*j = live_conn_json(lc, r->now), *last = NULL;
	char	 err[256];

	if (store_check_list(r->c->dd.st, lc->sc.id, 1, last_check_cb, &last,
	    err, sizeof(err)) != 0)
		log_warnx("api: checks of %s: %s", lc->sc.id, err);
	json_object_set_new(j, "last_check", last ? last : json_null());
	return j;
}

/* SITE: the site's row and what its connectors add up to. */
static json_t *
site_json(const struct store_site *s, const struct live_list *l)
{
	const char	*state;
	int		 total = 0, serving = 0, online = 0;
	size_t		 i;

	for (i = 0; i < l->n; i++) {
		if (l->v[i].sc.site_id != s->id || l->v[i].sc.revoked_at != 0)
			continue;
		total++;
		serving += live_serving(&l->v[i]);
		online += strcmp(live_state(&l->v[i]), "online") == 0;
	}
	if (total == 0)
		state = "empty";
	else if (online == total)
		state = "online";
	else if (serving == 0)
		state = "offline";
	else
		state = "degraded";
	return json_pack("{s:I, s:s, s:I, s:s, s:i, s:i, s:b}", "id",
	    (json_int_t)s->id, "name", s->name, "created_at",
	    (json_int_t)s->created_at, "state", state, "connectors_total",
	    total, "connectors_online", serving, "redundancy", serving >= 2);
}

struct site_rows {
	struct store_site	*v;
	size_t			 n;
};

static int
site_row_cb(void *arg, const struct store_site *s)
{
	struct site_rows	*rows = arg;

	rows->v = realloc(rows->v, (rows->n + 1) * sizeof(*rows->v));
	if (rows->v == NULL)
		return -1;
	rows->v[rows->n++] = *s;
	return 0;
}

void
rest_sites_list(struct rest *r)
{
	struct site_rows	 rows = { 0 };
	struct live_list	 l;
	json_t			*arr;
	char			 err[256];
	size_t			 i;
	int			 rc;

	rc = store_site_list(r->c->dd.st, site_row_cb, &rows, err, sizeof(err));
	if (rc == UPLINK_OK)
		rc = live_collect(r->c, 0, true, &l, err, sizeof(err));
	if (rc != UPLINK_OK) {
		free(rows.v);
		rest_store_fail(r, rc, err);
		return;
	}
	arr = json_array();
	for (i = 0; i < rows.n; i++)
		json_array_append_new(arr, site_json(&rows.v[i], &l));
	live_free(&l);
	free(rows.v);
	rest_reply(r, 200, json_pack("{s:o}", "sites", arr));
}

/* The site named name (answered 404 when there is none). */
static bool
find_site(struct rest *r, const char *name, struct store_site *out)
{
	struct site_rows	 rows = { 0 };
	char			 err[256];
	size_t			 i;
	int			 rc;

	rc = store_site_list(r->c->dd.st, site_row_cb, &rows, err, sizeof(err));
	if (rc != UPLINK_OK) {
		free(rows.v);
		rest_store_fail(r, rc, err);
		return false;
	}
	for (i = 0; i < rows.n; i++)
		if (strcasecmp(rows.v[i].name, name) == 0)
			break;
	if (i == rows.n) {
		free(rows.v);
		rest_fail(r, 404, "not-found", "there is no site \"%.64s\"",
		    name);
		return false;
	}
	*out = rows.v[i];
	free(rows.v);
	return true;
}

static void
reply_site(struct rest *r, int status, const struct store_site *s)
{
	struct live_list	 l;
	json_t			*j, *conns;
	char			 err[256];
	size_t			 i;
	int			 rc;

	rc = live_collect(r->c, s->id, true, &l, err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	j = site_json(s, &l);
	conns = json_array();
	for (i = 0; i < l.n; i++)
		json_array_append_new(conns, connector_json(r, &l.v[i]));
	json_object_set_new(j, "connectors", conns);
	live_free(&l);
	rest_reply(r, status, j);
}

void
rest_sites_post(struct rest *r)
{
	static const char *const fields[] = { "!name:s", NULL };
	struct store_site	 s;
	const char		*name;
	char			 err[256];
	int64_t			 id;
	int			 rc;

	if (!rest_fields(r, fields))
		return;
	name = rest_str(r, "name");
	if (!store_name_check("name", name, err, sizeof(err))) {
		rest_fail(r, 400, "bad-field", "%s", err);
		return;
	}
	if (store_site_find(r->c->dd.st, name, &id, err, sizeof(err)) ==
	    UPLINK_OK) {
		rest_fail(r, 409, "conflict", "site \"%s\" exists already",
		    name);
		return;
	}
	rc = store_site_ensure(r->c->dd.st, name, &id, err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "site.create", name, "created");
	if (find_site(r, name, &s))
		reply_site(r, 201, &s);
}

void
rest_site_get(struct rest *r)
{
	struct store_site	 s;

	if (find_site(r, r->seg[1], &s))
		reply_site(r, 200, &s);
}

/*
 * A [publish] section of cloud.conf naming the site: the file, not the
 * API, decides about it, so renaming or deleting the site is refused.
 */
static bool
site_in_config(struct rest *r, const char *site, const char *doing)
{
	size_t	 i;

	for (i = 0; i < r->c->cfg.npublish; i++)
		if (strcasecmp(r->c->cfg.publish[i].site, site) == 0) {
			rest_fail(r, 409, "conflict", "cannot %s site \"%s\": "
			    "[publish %s] at %s:%d names it; edit the file "
			    "first", doing, site, r->c->cfg.publish[i].name,
			    r->c->cfg.path, r->c->cfg.publish[i].line);
			return true;
		}
	return false;
}

/* Counts the services published through the API in site. */
static void
site_service_cb(void *arg, const struct publish_info *info)
{
	struct { const char *site; int n; } *m = arg;

	if (strcasecmp(info->site, m->site) == 0)
		m->n++;
}

void
rest_site_patch(struct rest *r)
{
	static const char *const fields[] = { "!name:s", NULL };
	struct store_site	 s;
	struct { const char *site; int n; } m;
	const char		*name;
	char			 err[256], old[STORE_NAME_MAX + 1];
	int			 rc;

	if (!rest_fields(r, fields) || !find_site(r, r->seg[1], &s))
		return;
	name = rest_str(r, "name");
	if (!store_name_check("name", name, err, sizeof(err))) {
		rest_fail(r, 400, "bad-field", "%s", err);
		return;
	}
	if (site_in_config(r, s.name, "rename"))
		return;
	m.site = s.name;
	m.n = 0;
	publish_foreach(r->c, site_service_cb, &m);
	if (m.n > 0) {
		rest_fail(r, 409, "conflict", "cannot rename site \"%s\": %d "
		    "published service%s use%s it; delete them first and "
		    "publish them again in the renamed site", s.name, m.n,
		    m.n == 1 ? "" : "s", m.n == 1 ? "s" : "");
		return;
	}
	snprintf(old, sizeof(old), "%s", s.name);
	rc = store_site_rename(r->c->dd.st, old, name, err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	router_site_renamed(r->c->router, old, name);
	rest_audit(r, "site.rename", name, "was %s", old);
	if (find_site(r, name, &s))
		reply_site(r, 200, &s);
}

void
rest_site_delete(struct rest *r)
{
	struct store_site	 s;
	struct store_site_refs	 refs;
	char			 err[512];
	int			 rc;

	if (!find_site(r, r->seg[1], &s) || site_in_config(r, s.name,
	    "delete"))
		return;
	rc = store_site_delete(r->c->dd.st, s.name, r->now, &refs, err,
	    sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "site.delete", s.name, "deleted");
	rest_reply(r, 204, NULL);
}

/* The live connector id (answered 404 when unknown); l must be freed. */
static bool
find_connector(struct rest *r, const char *id, struct live_list *l,
    struct live_conn **out)
{
	char	 err[256];
	size_t	 i;
	int	 rc;

	rc = live_collect(r->c, 0, true, l, err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return false;
	}
	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].sc.id, id) == 0) {
			*out = &l->v[i];
			return true;
		}
	live_free(l);
	rest_fail(r, 404, "not-found", "there is no connector \"%.40s\"", id);
	return false;
}

void
rest_connectors_list(struct rest *r)
{
	struct live_list	 l;
	const char		*site = rest_query(r, "site");
	json_t			*arr;
	char			 err[256];
	size_t			 i;
	int			 rc;

	rc = live_collect(r->c, 0, true, &l, err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	arr = json_array();
	for (i = 0; i < l.n; i++)
		if (site == NULL || strcasecmp(site, l.v[i].site) == 0)
			json_array_append_new(arr, connector_json(r, &l.v[i]));
	live_free(&l);
	rest_reply(r, 200, json_pack("{s:o}", "connectors", arr));
}

/* Answers the connector id as it is now. */
static void
reply_connector(struct rest *r, const char *id)
{
	struct live_list	 l;
	struct live_conn	*lc;

	if (!find_connector(r, id, &l, &lc))
		return;
	rest_reply(r, 200, connector_json(r, lc));
	live_free(&l);
}

void
rest_connector_get(struct rest *r)
{
	reply_connector(r, r->seg[1]);
}

void
rest_connector_revoke(struct rest *r)
{
	struct live_list	 l;
	struct live_conn	*lc;
	char			 err[256], id[STORE_ID_MAX + 1];
	int			 rc;

	if (!find_connector(r, r->seg[1], &l, &lc))
		return;
	snprintf(id, sizeof(id), "%s", lc->sc.id);
	rc = store_connector_revoke(r->c->dd.st, id, r->now, err, sizeof(err));
	if (rc == UPLINK_OK) {
		rest_audit(r, "connector.revoke", id, "connector \"%s\" of site "
		    "%s", lc->sc.name, lc->site);
		notify_open(r->c, "connector-revoked", id, "info", "connector "
		    "%s (\"%s\", site %s) was revoked by %s", id, lc->sc.name,
		    lc->site, r->actor);
		notify_resolve(r->c, "connector-offline", id);
		events_record(r->c, id, "revoked", "by %s", r->actor);
	}
	live_free(&l);
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	log_info("api: %s revoked connector %s", r->actor, id);
	router_sweep_revoked(r->c->router);
	if (api_crl_refresh(r->c, err, sizeof(err)) != 0)
		log_warnx("cannot rebuild the CRL: %s", err);
	reply_connector(r, id);
}

void
rest_connector_patch(struct rest *r)
{
	static const char *const fields[] = { "!name:s", NULL };
	struct live_list	 l;
	struct live_conn	*lc;
	const char		*name;
	char			 err[256], id[STORE_ID_MAX + 1];
	char			 old[STORE_NAME_MAX + 1];
	int			 rc;

	if (!rest_fields(r, fields))
		return;
	name = rest_str(r, "name");
	if (!store_name_check("name", name, err, sizeof(err))) {
		rest_fail(r, 400, "bad-field", "%s", err);
		return;
	}
	if (!find_connector(r, r->seg[1], &l, &lc))
		return;
	snprintf(id, sizeof(id), "%s", lc->sc.id);
	snprintf(old, sizeof(old), "%s", lc->sc.name);
	live_free(&l);
	rc = store_connector_rename(r->c->dd.st, id, name, err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "connector.rename", id, "\"%s\", was \"%s\"", name, old);
	reply_connector(r, id);
}

void
rest_connector_delete(struct rest *r)
{
	struct live_list	 l;
	struct live_conn	*lc;
	char			 err[256], id[STORE_ID_MAX + 1];
	char			 name[STORE_NAME_MAX + 1], site[STORE_NAME_MAX + 1];
	int			 rc;

	if (!find_connector(r, r->seg[1], &l, &lc))
		return;
	snprintf(id, sizeof(id), "%s", lc->sc.id);
	snprintf(name, sizeof(name), "%s", lc->sc.name);
	snprintf(site, sizeof(site), "%s", lc->site);
	live_free(&l);
	rc = store_connector_remove(r->c->dd.st, id, err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "connector.remove", id, "connector \"%s\" of site %s",
	    name, site);
	rest_reply(r, 204, NULL);
}

static void
set_drained(struct rest *r, bool drained)
{
	struct live_list	 l;
	struct live_conn	*lc;
	char			 err[256], id[STORE_ID_MAX + 1];
	int			 rc;

	if (!find_connector(r, r->seg[1], &l, &lc))
		return;
	snprintf(id, sizeof(id), "%s", lc->sc.id);
	rc = lc->sc.revoked_at != 0 ? UPLINK_EINVAL :
	    store_connector_set_drained(r->c->dd.st, id, drained, err,
	    sizeof(err));
	if (lc->sc.revoked_at != 0)
		snprintf(err, sizeof(err), "connector %s is revoked", id);
	live_free(&l);
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	router_set_drained(r->c->router, id, drained);
	events_record(r->c, id, drained ? "drained" : "resumed", "by %s",
	    r->actor);
	rest_audit(r, drained ? "connector.drain" : "connector.resume", id,
	    drained ? "no new streams" : "takes new streams again");
	reply_connector(r, id);
}

void
rest_connector_drain(struct rest *r)
{
	set_drained(r, true);
}

void
rest_connector_resume(struct rest *r)
{
	set_drained(r, false);
}

static void
check_done(void *arg, int status, const char *code, const char *message,
    json_t *check)
{
	struct rest	*r = arg;

	if (status == 200)
		rest_reply(r, 200, check);
	else
		rest_fail(r, status, code, "%s", message);
}

void
rest_connector_check(struct rest *r)
{
	struct live_list	 l;
	struct live_conn	*lc;
	char			 id[STORE_ID_MAX + 1];
	bool			 revoked;

	if (!find_connector(r, r->seg[1], &l, &lc))
		return;
	snprintf(id, sizeof(id), "%s", lc->sc.id);
	revoked = lc->sc.revoked_at != 0;
	live_free(&l);
	if (revoked) {
		rest_fail(r, 409, "conflict", "connector %s is revoked", id);
		return;
	}
	rest_audit(r, "connector.check", id, "connectivity check asked");
	checks_run(r->c, id, "manual", check_done, r);
}

static int
check_row_cb(void *arg, const struct store_check *k)
{
	json_array_append_new(arg, checks_json(k, true));
	return 0;
}

void
rest_connector_checks(struct rest *r)
{
	struct live_list	 l;
	struct live_conn	*lc;
	json_t			*arr;
	char			 err[256];
	int64_t			 limit;
	int			 rc;

	if (!rest_query_int(r, "limit", 1, STORE_CHECKS_KEPT,
	    STORE_CHECKS_KEPT, &limit) || !find_connector(r, r->seg[1], &l,
	    &lc))
		return;
	arr = json_array();
	rc = store_check_list(r->c->dd.st, lc->sc.id, (int)limit, check_row_cb,
	    arr, err, sizeof(err));
	live_free(&l);
	if (rc != UPLINK_OK) {
		json_decref(arr);
		rest_store_fail(r, rc, err);
		return;
	}
	rest_reply(r, 200, json_pack("{s:o}", "checks", arr));
}

/* ---- enrollment tokens */

static json_t *
token_json(const struct store_token *t, int64_t now)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:s}", "id",
	    t->id, "site", t->site_name, "created_at",
	    (json_int_t)t->created_at, "expires_at", (json_int_t)t->expires_at,
	    "used_at", rest_time(t->used_at), "used_by", t->used_by[0] ?
	    json_string(t->used_by) : json_null(), "revoked_at",
	    rest_time(t->revoked_at), "state", token_state(t, now));
}

struct token_find {
	const char	*id;		/* NULL: every token into arr */
	json_t		*arr, *one;
	int64_t		 now;
};

static int
token_row_cb(void *arg, const struct store_token *t)
{
	struct token_find	*f = arg;

	if (f->id == NULL)
		json_array_append_new(f->arr, token_json(t, f->now));
	else if (strcmp(f->id, t->id) == 0)
		f->one = token_json(t, f->now);
	return 0;
}

void
rest_tokens_list(struct rest *r)
{
	struct token_find	 f = { NULL, json_array(), NULL, r->now };
	char			 err[256];
	int			 rc;

	rc = store_token_list(r->c->dd.st, token_row_cb, &f, err, sizeof(err));
	if (rc != UPLINK_OK) {
		json_decref(f.arr);
		rest_store_fail(r, rc, err);
		return;
	}
	rest_reply(r, 200, json_pack("{s:o}", "tokens", f.arr));
}

/* Answers token id as stored now. */
static void
reply_token(struct rest *r, int status, const char *id, json_t *extra)
{
	struct token_find	 f = { id, NULL, NULL, r->now };
	char			 err[256];
	int			 rc;

	rc = store_token_list(r->c->dd.st, token_row_cb, &f, err, sizeof(err));
	rest_reply_one(r, status, rc, err, f.one, extra, "no such token");
}

void
rest_tokens_post(struct rest *r)
{
	static const char *const fields[] = { "!site:s", "ttl:s", NULL };
	struct token_made	 m;
	const char		*site, *ttl;
	char			 err[1024], cmd[TOKEN_TEXT_SIZE + 64];
	char			 until[CLI_TIME_SIZE];
	int64_t			 secs = TOKEN_TTL_DEFAULT_SECS;
	int			 rc;

	if (!rest_fields(r, fields))
		return;
	site = rest_str(r, "site");
	ttl = rest_str(r, "ttl");
	if (!store_name_check("site", site, err, sizeof(err))) {
		rest_fail(r, 400, "bad-field", "%s", err);
		return;
	}
	if (ttl != NULL && duration_parse(ttl, "ttl", &secs, err,
	    sizeof(err)) != UPLINK_OK) {
		rest_fail(r, 400, "bad-field", "%s", err);
		return;
	}
	if (secs > TOKEN_TTL_MAX_SECS) {
		rest_fail(r, 400, "bad-field", "ttl \"%s\" is longer than 365d; "
		    "tokens are meant to be used soon after they are made",
		    ttl);
		return;
	}
	memset(&m, 0, sizeof(m));
	rc = token_issue(&r->c->dd, r->c->cfg.path, site, secs, &m, err,
	    sizeof(err));
	if (rc != UPLINK_OK) {
		rest_fail(r, 500, "internal", "%s", err);
		return;
	}
	rest_audit(r, "token.create", m.id, "site %s, valid until %s", site,
	    cli_time(m.expires_at, until));
	snprintf(cmd, sizeof(cmd), "uplink-connector enroll --token %s",
	    m.text);
	reply_token(r, 201, m.id, json_pack("{s:s, s:s}", "token", m.text,
	    "command", cmd));
	sodium_memzero(m.text, sizeof(m.text));
	sodium_memzero(cmd, sizeof(cmd));
}

void
rest_token_revoke(struct rest *r)
{
	char	 err[256];
	int	 rc;

	rc = store_token_revoke(r->c->dd.st, r->seg[1], r->now, err,
	    sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "token.revoke", r->seg[1], "revoked");
	reply_token(r, 200, r->seg[1], NULL);
}
