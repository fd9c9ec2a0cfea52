#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <strings.h>

#include "access.h"
#include "catalog.h"
#include "check.h"
#include "crl.h"
#include "dial.h"
#include "error.h"
#include "hostport.h"
#include "instances.h"
#include "https.h"
#include "launcher.h"
#include "log.h"
#include "pki.h"
#include "remote_check.h"
#include "renew.h"
#include "tls.h"

/*
 * A check the cloud asked for, from the request to the answer. It holds a
 * reference to the configuration it started under (a SIGHUP does not pull
 * the routes from under it) and lives exactly as long as its stream: it
 * ends by answering, or when the cloud abandons the stream (the stream's
 * callback, status 0, also when the tunnel closes or the service stops).
 */

#define RC_FETCH_MS	10000	/* each step of the catalog fetch */
#define RC_STEP_MS	5000	/* as check's --timeout default */
#define RC_PARALLEL	8	/* as check's --parallel default */
#define RC_LOG_FAILS	3	/* failing addresses named in the log line */
/* The cloud's URL, up to 4 CRL URLs, its instances' names and addresses. */
#define RC_CRL_EPS	4
#define RC_CLOUD_EPS	(1 + RC_CRL_EPS + 2 * INSTANCES_MAX)

struct remote_check {
	struct service		*svc;
	struct svc_config	*cfg;		/* held until the end */
	struct tunnel_stream	*s;
	char			 name[32];	/* "t1/s3" */
	long			 t0;
	struct https		*req;
	SSL_CTX			*https_ctx;	/* the connector's mTLS */
	SSL_CTX			*trust;		/* service "cloud": the cloud CA */
	SSL_CTX			*system;	/* other services: system store */
	struct catalog		 cat;
	struct check		*chk;
	struct check_result	*results;
	bool			*have;
	struct check_target	 cloud;		/* the row of a failed fetch */
	struct check_result	 fail;
	struct hostport		 ep[RC_CLOUD_EPS];	/* the cloud's own */
	int			 nep;
	size_t			 refused;	/* addresses not allowed */
};

/*
 * The check running now. One connector is one process, so "one check at a
 * time per connector" is one per process; the service structure is not
 * this file's to extend.
 */
static struct remote_check *rc_running;

static void
rc_free(struct remote_check *rc)
{
	if (rc == NULL)
		return;
	https_cancel(rc->req);
	check_free(rc->chk);
	catalog_free(&rc->cat);
	free(rc->results);
	free(rc->have);
	SSL_CTX_free(rc->https_ctx);
	SSL_CTX_free(rc->trust);
	SSL_CTX_free(rc->system);
	svc_config_unref(rc->cfg);
	if (rc_running == rc)
		rc_running = NULL;
	free(rc);
}

/* Answers {"error": code, "message": ...} with status. */
static void
rc_refuse(struct tunnel_stream *s, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
rc_refuse(struct tunnel_stream *s, int status, const char *code,
    const char *fmt, ...)
{
	char	 msg[512], *text = NULL;
	json_t	*o;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = json_pack("{s:s, s:s}", "error", code, "message", msg);
	if (o != NULL)
		text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	tunnel_stream_reply(s, status, text != NULL ? text :
	    "{\"error\":\"internal\"}");
	free(text);
}

/* The one log line of a check: where it ran, the verdict, how long. */
static void
rc_log(struct remote_check *rc, const struct check_result *results,
    const bool *have, size_t n)
{
	const struct route_table *rt = &rc->cfg->c.routes;
	char	 fails[400];
	size_t	 i, passed = 0, failed = 0, len = 0;

	fails[0] = '\0';
	for (i = 0; i < n; i++) {
		if (!have[i])
			continue;
		if (results[i].ok) {
			passed++;
			continue;
		}
		if (failed++ < RC_LOG_FAILS && len < sizeof(fails))
			len += (size_t)snprintf(fails + len, sizeof(fails) - len,
			    "%s%s:%u %s", len ? ", " : ": ",
			    results[i].target->address, results[i].target->port,
			    results[i].error);
	}
	log_info("check %s: %zu address%s %s%s: %zu passed, %zu failed%s%s "
	    "in %ld ms", rc->name, n, n == 1 ? "" : "es", rt->has_proxy ?
	    "through proxy " : "direct (no proxy)", rt->has_proxy ?
	    rt->proxy.url : "", passed, failed, fails, failed > RC_LOG_FAILS ?
	    ", ..." : "", dial_now_ms() - rc->t0);
	service_count_check(rc->svc, failed > 0);
	if (rc->refused > 0)
		log_info("check %s: %zu address%s of the cloud's catalog not "
		    "tested: not in [access] allow or [check] allow of %s",
		    rc->name, rc->refused, rc->refused == 1 ? "" : "es",
		    rc->cfg->c.path);
}

/* Answers the report of results[0..n) and ends the check. */
static void
rc_reply(struct remote_check *rc, const struct check_result *results,
    const bool *have, size_t n)
{
	json_t	*root;
	char	*text = NULL;

	root = check_report_json(&rc->cfg->c.routes, results, have, n);
	if (root != NULL)
		text = check_report_text(root, TUNNEL_REPLY_MAX);
	/* Asked over a tunnel and passed: the launcher's health gate. */
	if (root != NULL && json_is_true(json_object_get(root, "ok")))
		launcher_healthy();
	json_decref(root);
	if (text != NULL)
		tunnel_stream_reply(rc->s, 200, text);
	else
		rc_refuse(rc->s, 500, "internal", "the connector ran out of "
		    "memory building the report");
	free(text);
	rc->s = NULL;
	rc_log(rc, results, have, n);
	rc_free(rc);
}

/*
 * The catalog could not be had: the report is one failed row for the
 * cloud's own address, with the error the check would give for it, so the
 * console shows it like any other failure, remedy included.
 */
static void
rc_fail(struct remote_check *rc, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
rc_fail(struct remote_check *rc, const char *error, const char *fmt, ...)
{
	struct check_result	*r = &rc->fail;
	struct check_step	*st = &r->steps[0];
	char			 detail[sizeof(r->detail)];
	bool			 have = true;
	va_list			 ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	r->ms = dial_now_ms() - rc->t0;
	snprintf(st->name, sizeof(st->name), "catalog");
	st->ok = false;
	st->ms = r->ms;
	snprintf(st->detail, sizeof(st->detail), "GET %s%s: %s",
	    rc->cfg->c.cloud_url, REMOTE_CHECK_CATALOG, detail);
	r->nsteps = 1;
	check_result_fail(r, error, detail, RC_FETCH_MS);
	rc_reply(rc, r, &have, 1);
}

static void
rc_on_result(void *arg, const struct check_result *r, size_t index)
{
	struct remote_check	*rc = arg;

	rc->results[index] = *r;
	rc->have[index] = true;
}

static void
rc_on_done(void *arg)
{
	struct remote_check	*rc = arg;

	rc_reply(rc, rc->results, rc->have, rc->cat.n);
}

/*
 * The cloud's own endpoints, which it may always have checked: the [cloud]
 * url this connector enrolled with, and the CRL distribution points of
 * its certificate (what the cloud put there when it signed it).
 */
static void
rc_endpoints(struct remote_check *rc)
{
	const struct connector_config	*cfg = &rc->cfg->c;
	char				 urls[RC_CRL_EPS][CRL_URL_MAX];
	const struct cloud_instance	*ci;
	size_t				 k;
	char				 path[CRL_URL_MAX], err[256];
	X509				*cert = NULL;
	bool				 https;
	int				 i, n;

	rc->ep[rc->nep++] = cfg->cloud;
	/* A cluster's instances, as GET /api/v1/cluster named them. */
	for (k = 0; (ci = instances_get(rc->svc->inst, k)) != NULL; k++) {
		snprintf(rc->ep[rc->nep].host, sizeof(rc->ep[0].host), "%s",
		    ci->name);
		rc->ep[rc->nep++].port = (uint16_t)ci->port;
		snprintf(rc->ep[rc->nep].host, sizeof(rc->ep[0].host), "%s",
		    ci->host);
		rc->ep[rc->nep++].port = (uint16_t)ci->port;
	}
	if (pki_cert_load(cfg->cloud_cert, &cert, err, sizeof(err)) !=
	    UPLINK_OK)
		return;
	n = crl_dp_urls(cert, urls, RC_CRL_EPS);
	X509_free(cert);
	for (i = 0; i < n; i++)
		if (url_parse(urls[i], &https, &rc->ep[rc->nep], path,
		    sizeof(path), err, sizeof(err)) == UPLINK_OK)
			rc->nep++;
}

/*
 * What the cloud may have this connector test: its own endpoints, and
 * what the administrator allowed in [access] allow or [check] allow. The
 * catalog is the cloud's to write, so without this a compromised cloud
 * (or anyone who can edit its requirements) could make the connector
 * connect anywhere on the private network and map it from the verdicts.
 */
static bool
rc_allow(void *arg, const struct check_target *t, char *why, size_t whylen)
{
	struct remote_check		*rc = arg;
	const struct connector_config	*cfg = &rc->cfg->c;
	char				 hp[300];
	int				 i;

	for (i = 0; i < rc->nep; i++)
		if (rc->ep[i].port == t->port &&
		    strcasecmp(rc->ep[i].host, t->probe) == 0)
			return true;
	if (access_allows(cfg->access, t->probe, t->port, NULL) ||
	    access_allows(cfg->check_access, t->probe, t->port, NULL))
		return true;
	rc->refused++;
	hostport_format(hp, sizeof(hp), t->probe, t->port);
	snprintf(why, whylen, "not tested: %s is not the cloud's own address "
	    "and not allowed by [access] allow or [check] allow in %s: add "
	    "%s to [check] allow there to let the cloud have it tested", hp,
	    cfg->path, hp);
	return false;
}

/* Runs the check of "uplink-connector check --json" on the catalog. */
static void
rc_run(struct remote_check *rc)
{
	struct check_opts	 o;
	char			 err[512];

	rc->trust = tls_client_ctx_new(rc->cfg->c.cloud_ca, err, sizeof(err));
	if (rc->trust != NULL)
		rc->system = tls_client_ctx_new(NULL, err, sizeof(err));
	rc->results = calloc(rc->cat.n, sizeof(*rc->results));
	rc->have = calloc(rc->cat.n, sizeof(*rc->have));
	if (rc->trust == NULL || rc->system == NULL) {
		rc_fail(rc, "catalog", "%s", err);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.routes = &rc->cfg->c.routes;
	/*
	 * The cloud's own addresses are held to the CA the tunnels trust,
	 * so the check predicts exactly what they will accept; the extra
	 * services an operator lists are public ones, held to the system
	 * store as "uplink-connector check" does.
	 */
	o.tls = rc->system;
	o.tls_cloud = rc->trust;
	o.timeout_ms = RC_STEP_MS;
	o.parallel = RC_PARALLEL;
	o.allow = rc_allow;
	o.allow_arg = rc;
	rc_endpoints(rc);
	if (rc->results != NULL && rc->have != NULL)
		rc->chk = check_start(rc->svc->base, rc->svc->dns, &o,
		    rc->cat.v, rc->cat.n, rc_on_result, rc_on_done, rc);
	if (rc->chk == NULL)
		rc_fail(rc, "catalog", "the connector ran out of memory");
}

/* The cloud's answer to GET /api/v1/requirements. */
static void
rc_fetched(void *arg, struct https_result *res)
{
	struct remote_check	*rc = arg;
	const char		*url = rc->cfg->c.cloud_url;
	char			 code[64], msg[400], err[768], origin[300];

	rc->req = NULL;
	if (res->error != NULL) {
		/* "proto": the cloud answered, but not with HTTP. */
		rc_fail(rc, strcmp(res->error, "proto") == 0 ? "catalog" :
		    res->error, "%s", res->detail);
		return;
	}
	if (res->status != 200) {
		renew_error_parse(res->body, code, sizeof(code), msg,
		    sizeof(msg));
		rc_fail(rc, "catalog", "%s answered %d%s%s%s%s", url,
		    res->status, code[0] ? " " : "", code, msg[0] ? ": " : "",
		    msg);
		return;
	}
	snprintf(origin, sizeof(origin), "the catalog from %s", url);
	if (catalog_load_json(&rc->cat, res->body->ptr, res->body->len, origin,
	    err, sizeof(err)) != UPLINK_OK) {
		rc_fail(rc, "catalog", "%s", err);
		return;
	}
	if (rc->cat.n == 0) {
		rc_fail(rc, "catalog", "the catalog from %s lists no address",
		    url);
		return;
	}
	rc_run(rc);
}

/*
 * Fetches the catalog the way the renewal talks to the cloud: the [cloud]
 * url through the tunnels' route, the cloud's CA as the only anchor, the
 * connector's certificate as the client's.
 */
static void
rc_fetch(struct remote_check *rc)
{
	const struct connector_config	*cfg = &rc->cfg->c;
	struct https_request		 q;
	char				 err[768];

	rc->https_ctx = https_ctx_new(cfg->cloud_ca, cfg->cloud_cert,
	    cfg->cloud_key, err, sizeof(err));
	if (rc->https_ctx == NULL) {
		rc_fail(rc, "catalog", "%s", err);
		return;
	}
	memset(&q, 0, sizeof(q));
	q.url = cfg->cloud_url;
	q.method = "GET";
	q.path = REMOTE_CHECK_CATALOG;
	q.ctx = rc->https_ctx;
	q.routes = &cfg->routes;
	q.max_body = CATALOG_MAX_BYTES;
	q.timeout_ms = RC_FETCH_MS;
	q.id = rc->name;
	rc->req = https_request_start(rc->svc->base, rc->svc->dns, &q,
	    rc_fetched, rc);
	if (rc->req == NULL)
		rc_fail(rc, "catalog", "cannot request %s (out of memory?)",
		    cfg->cloud_url);
}

/* The cloud abandoned the stream (or the tunnel went): stop everything. */
static void
rc_abandoned(void *arg, struct tunnel_stream *s, int status, const char *code,
    const char *reason)
{
	struct remote_check	*rc = arg;

	(void)s;
	(void)status;
	rc->s = NULL;
	log_info("check %s: stopped after %ld ms: the cloud gave up on it "
	    "(%s: %s)", rc->name, dial_now_ms() - rc->t0, code ? code : "reset",
	    reason ? reason : "no reason given");
	rc_free(rc);
}

/* The route and target of the failure row: the cloud's own address. */
static void
rc_cloud_row(struct remote_check *rc)
{
	const struct connector_config	*cfg = &rc->cfg->c;
	struct check_target		*t = &rc->cloud;
	struct route			 rt;

	snprintf(t->service, sizeof(t->service), "cloud");
	snprintf(t->purpose, sizeof(t->purpose), "uplink cloud: the catalog "
	    "of required addresses");
	snprintf(t->address, sizeof(t->address), "%s", cfg->cloud.host);
	snprintf(t->probe, sizeof(t->probe), "%s", cfg->cloud.host);
	t->port = cfg->cloud.port;
	t->scheme = SCHEME_HTTPS;
	snprintf(t->path, sizeof(t->path), "%s", REMOTE_CHECK_CATALOG);
	route_decide(&cfg->routes, t->address, t->port, &rt);
	rc->fail.target = t;
	rc->fail.route = rt.kind;
	snprintf(rc->fail.rule, sizeof(rc->fail.rule), "%s", rt.rule ? rt.rule :
	    "");
	snprintf(rc->fail.proxy, sizeof(rc->fail.proxy), "%s",
	    rt.kind == ROUTE_PROXY ? rt.proxy->url : "");
}

void
remote_check_get(struct service *svc, struct tunnel *t,
    struct tunnel_stream *s, const char *path)
{
	struct remote_check	*rc;

	(void)t;
	if (strncmp(path, "/v1/update?", 11) == 0) {
		launcher_update_get(svc, s, path);
		return;
	}
	if (strncmp(path, REMOTE_CHECK_PATH, strlen(REMOTE_CHECK_PATH)) != 0 ||
	    (path[strlen(REMOTE_CHECK_PATH)] != '\0' &&
	    path[strlen(REMOTE_CHECK_PATH)] != '?')) {
		rc_refuse(s, 404, "not-found", "this connector answers GET %s "
		    "and /v1/info, not %s", REMOTE_CHECK_PATH, path);
		return;
	}
	if (svc->draining) {
		rc_refuse(s, 503, "draining", "the connector is shutting down");
		return;
	}
	if (rc_running != NULL) {
		log_info("check %s: refused: the check asked over %s is still "
		    "running", tunnel_stream_name(s), rc_running->name);
		rc_refuse(s, 409, "busy", "a connectivity check has been "
		    "running on this connector for %ld s; ask again when it is "
		    "done", (dial_now_ms() - rc_running->t0) / 1000);
		return;
	}
	rc = calloc(1, sizeof(*rc));
	if (rc == NULL) {
		rc_refuse(s, 503, "busy", "the connector is out of memory");
		return;
	}
	rc->svc = svc;
	rc->cfg = svc_config_ref(svc->cfg);
	rc->s = s;
	rc->t0 = dial_now_ms();
	snprintf(rc->name, sizeof(rc->name), "%s", tunnel_stream_name(s));
	rc_running = rc;
	tunnel_stream_set_cb(s, rc_abandoned, rc);
	rc_cloud_row(rc);
	log_debug("check %s: asked by the cloud; fetching the catalog from "
	    "%s%s", rc->name, rc->cfg->c.cloud_url, REMOTE_CHECK_CATALOG);
	rc_fetch(rc);
}
