#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "checks.h"
#include "daemon.h"
#include "error.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "router.h"
#include "status.h"
#include "xmalloc.h"

/*
 * Connectivity checks run on connectors. The cloud asks "GET /v1/check"
 * over one of the connector's tunnels; the connector fetches the catalog
 * (GET /api/v1/requirements), runs what "uplink-connector check --json"
 * runs and answers with that report, which is stored here (the last
 * STORE_CHECKS_KEPT per connector) and turned into notifications. One
 * check runs per connector at a time; whoever asks while one runs waits
 * for that one.
 *
 * Automatic checks: a few seconds after a connector's first tunnel comes
 * up ("connect", at most once a minute per connector) and every
 * check_interval ("hourly"); check_interval 0 turns both off.
 */

#define CHECK_TIMEOUT_MS	60000
#define CHECK_PATH		"/v1/check"
#define CHECK_CONNECT_DELAY	3	/* seconds after the first tunnel */
#define CHECK_CONNECT_QUIET	60	/* no second "connect" check sooner */
#define CHECK_TICK_MS		1000
#define CHECK_SWEEP_SECS	30	/* looks for connectors due this often */

struct waiter {
	struct waiter	*next;
	checks_done_fn	*done;
	void		*arg;
};

struct check_run {
	struct checks		*ck;
	struct check_run	*next;
	char			 connector[STORE_ID_MAX + 1];
	char			 trigger[16];
	struct waiter		*waiters;
};

/* A connector's automatic schedule. */
struct due {
	char	 connector[STORE_ID_MAX + 1];
	int64_t	 at;		/* run then; 0: nothing scheduled */
	int64_t	 last_connect;	/* last "connect" check */
	int64_t	 last_auto;	/* last automatic check of any kind */
	char	 trigger[16];
};

struct checks {
	struct cloud		*c;
	struct check_run	*runs;
	struct event		*tick;
	struct due		*due;
	size_t			 ndue;
	int64_t			 last_sweep;
};

json_t *
checks_json(const struct store_check *k, bool with_report)
{
	json_t	*j, *report = NULL;

	j = json_pack("{s:I, s:s, s:I, s:s, s:b, s:i, s:i}", "id",
	    (json_int_t)k->id, "connector", k->connector_id, "at",
	    (json_int_t)k->at, "trigger", k->trigger, "ok", k->ok, "passed",
	    k->passed, "failed", k->failed);
	if (with_report && k->report != NULL)
		report = json_loads(k->report, 0, NULL);
	if (with_report)
		json_object_set_new(j, "report", report ? report : json_null());
	return j;
}

static void
run_finish(struct check_run *run, int status, const char *code,
    const char *msg, json_t *check)
{
	struct checks		*ck = run->ck;
	struct check_run	**pp;
	struct waiter		*w;

	metrics_check(status, code, check);
	for (pp = &ck->runs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == run) {
			*pp = run->next;
			break;
		}
	while ((w = run->waiters) != NULL) {
		run->waiters = w->next;
		w->done(w->arg, status, code, msg, check ? json_deep_copy(check) :
		    NULL);
		free(w);
	}
	json_decref(check);
	free(run);
}

/*
 * The failing rows of a report in words, for the check-failed message and
 * the alerts that carry it: "127.0.0.1:443 tls-interception (issued by
 * 'Corp CA'), ..." for at most three rows. Printable ASCII only (others
 * '?'), so that cutting it to size can never split a UTF-8 character.
 */
static void
report_verdicts(json_t *report, char *out, size_t outlen)
{
	json_t		*row;
	const char	*addr, *error, *issuer;
	size_t		 i, len = 0, shown = 0, failed = 0;
	char		*p, where[96];
	json_int_t	 port;

	out[0] = '\0';
	json_array_foreach(json_object_get(report, "results"), i, row) {
		if (json_is_true(json_object_get(row, "ok")))
			continue;
		failed++;
		if (shown == 3 || len >= outlen)
			continue;
		addr = json_string_value(json_object_get(row, "address"));
		error = json_string_value(json_object_get(row, "error"));
		issuer = json_string_value(json_object_get(row, "issuer"));
		port = json_integer_value(json_object_get(row, "port"));
		snprintf(where, sizeof(where), "%.80s", addr ? addr : "?");
		if (port > 0 && strchr(where, ':') == NULL)
			snprintf(where, sizeof(where), "%.80s:%lld", addr ? addr :
			    "?", (long long)port);
		len += (size_t)snprintf(out + len, outlen - len, "%s%s %.32s%s"
		    "%.64s%s", shown ? ", " : "", where, error ? error :
		    "failed", issuer ? " (issued by '" : "", issuer ? issuer : "",
		    issuer ? "')" : "");
		shown++;
	}
	if (failed > shown && len < outlen)
		snprintf(out + len, outlen - len, " and %zu more", failed - shown);
	for (p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
}

/* Notifications a report raises or clears. */
static void
report_notes(struct cloud *c, const char *connector, json_t *report,
    bool ok)
{
	json_t		*row;
	const char	*error, *addr, *issuer;
	char		 verdicts[320];
	size_t		 i;
	bool		 intercepted = false, crl = false;

	json_array_foreach(json_object_get(report, "results"), i, row) {
		error = json_string_value(json_object_get(row, "error"));
		addr = json_string_value(json_object_get(row, "address"));
		if (error == NULL || addr == NULL)
			continue;
		if (strcmp(error, "tls-interception") == 0 && !intercepted) {
			issuer = json_string_value(json_object_get(row,
			    "issuer"));
			intercepted = true;
			notify_open(c, "tls-interception", connector, "error",
			    "connector %s: TLS to %s is intercepted (the "
			    "certificate was issued by '%s', not by the "
			    "expected CA): exclude %s from TLS inspection in "
			    "the proxy", connector, addr, issuer ? issuer :
			    "?", addr);
		}
		if (strcmp(error, "crl-unreachable") == 0 && !crl) {
			crl = true;
			notify_open(c, "crl-unreachable", connector, "warning",
			    "connector %s cannot fetch the revocation list "
			    "for %s: allow HTTP (port 80) to the CRL address "
			    "in the firewall or proxy", connector, addr);
		}
	}
	if (!intercepted)
		notify_resolve(c, "tls-interception", connector);
	if (!crl)
		notify_resolve(c, "crl-unreachable", connector);
	if (ok)
		notify_resolve(c, "check-failed", connector);
	else {
		report_verdicts(report, verdicts, sizeof(verdicts));
		notify_open(c, "check-failed", connector, "warning", "the "
		    "connectivity check of connector %s failed: %s; see its "
		    "latest check for what to fix", connector, verdicts[0] ?
		    verdicts : "no result");
	}
}

static void
run_reply_cb(void *arg, struct tunnel *t, int status, const char *body)
{
	struct check_run	*run = arg;
	struct cloud		*c = run->ck->c;
	struct store_check	 k;
	json_t			*report, *j;
	char			 err[256];
	int64_t			 id;

	(void)t;
	if (status == 0) {
		log_info("check of connector %s: no answer", run->connector);
		run_finish(run, 504, "timeout", "the connector did not answer "
		    "the check within 60 s, or its tunnel closed; try again",
		    NULL);
		return;
	}
	report = json_loads(body, 0, NULL);
	if (status != 200 || !json_is_object(report)) {
		const char *m = json_string_value(json_object_get(report,
		    "message"));

		snprintf(err, sizeof(err), "the connector answered %d%s%s",
		    status, m ? ": " : "", m ? m : " without a report");
		log_info("check of connector %s: %s", run->connector, err);
		json_decref(report);
		run_finish(run, status == 409 ? 409 : 502, status == 409 ?
		    "busy" : "connector-error", err, NULL);
		return;
	}
	memset(&k, 0, sizeof(k));
	snprintf(k.connector_id, sizeof(k.connector_id), "%s", run->connector);
	snprintf(k.trigger, sizeof(k.trigger), "%s", run->trigger);
	k.at = time(NULL);
	k.ok = json_is_true(json_object_get(report, "ok"));
	k.passed = (int)json_integer_value(json_object_get(report, "passed"));
	k.failed = (int)json_integer_value(json_object_get(report, "failed"));
	k.report = body;
	if (store_check_add(c->dd.st, &k, &id, err, sizeof(err)) != 0) {
		log_warnx("check of connector %s: cannot store it: %s",
		    run->connector, err);
		json_decref(report);
		run_finish(run, 500, "internal", err, NULL);
		return;
	}
	k.id = id;
	log_info("check of connector %s (%s): %s, %d passed, %d failed",
	    run->connector, run->trigger, k.ok ? "ok" : "FAILED", k.passed,
	    k.failed);
	report_notes(c, run->connector, report, k.ok);
	events_record(c, run->connector, k.ok ? "check-passed" : "check-failed",
	    "%s: %d passed, %d failed", run->trigger, k.passed, k.failed);
	j = checks_json(&k, false);
	json_object_set_new(j, "report", report);
	run_finish(run, 200, NULL, NULL, j);
}

void
checks_run(struct cloud *c, const char *connector, const char *trigger,
    checks_done_fn *done, void *arg)
{
	struct checks		*ck = c->checks;
	struct check_run	*run;
	struct waiter		*w = NULL;

	if (done != NULL) {
		w = xcalloc(1, sizeof(*w));
		w->done = done;
		w->arg = arg;
	}
	for (run = ck->runs; run != NULL; run = run->next)
		if (strcmp(run->connector, connector) == 0)
			break;
	if (run != NULL) {
		if (w != NULL) {
			w->next = run->waiters;
			run->waiters = w;
		}
		return;
	}
	run = xcalloc(1, sizeof(*run));
	run->ck = ck;
	run->waiters = w;
	snprintf(run->connector, sizeof(run->connector), "%s", connector);
	snprintf(run->trigger, sizeof(run->trigger), "%s", trigger);
	run->next = ck->runs;
	ck->runs = run;
	if (router_request(c->router, connector, CHECK_PATH, CHECK_TIMEOUT_MS,
	    run_reply_cb, run) != 0)
		run_finish(run, 503, "connector-offline", "the connector has "
		    "no tunnel to the cloud now, so it cannot run a check",
		    NULL);
	else
		log_info("check of connector %s (%s): asked", connector,
		    trigger);
}

static struct due *
due_get(struct checks *ck, const char *connector)
{
	size_t	 i;

	for (i = 0; i < ck->ndue; i++)
		if (strcmp(ck->due[i].connector, connector) == 0)
			return &ck->due[i];
	ck->due = xrealloc(ck->due, (ck->ndue + 1) * sizeof(*ck->due));
	memset(&ck->due[ck->ndue], 0, sizeof(ck->due[0]));
	snprintf(ck->due[ck->ndue].connector, sizeof(ck->due[0].connector),
	    "%s", connector);
	return &ck->due[ck->ndue++];
}

void
checks_connected(struct cloud *c, const char *connector)
{
	struct due	*d;
	int64_t		 now = time(NULL);

	if (c->checks == NULL || c->cfg.check_interval == 0)
		return;
	d = due_get(c->checks, connector);
	if (d->at != 0 || (d->last_connect != 0 &&
	    now - d->last_connect < CHECK_CONNECT_QUIET))
		return;
	d->at = now + CHECK_CONNECT_DELAY;
	snprintf(d->trigger, sizeof(d->trigger), "connect");
}

/* Schedules an "hourly" check for serving connectors that are due. */
static void
sweep(struct checks *ck, int64_t now)
{
	struct live_list	 l;
	struct due		*d;
	char			 err[256];
	size_t			 i;

	if (live_collect(ck->c, 0, false, &l, err, sizeof(err)) != 0)
		return;
	for (i = 0; i < l.n; i++) {
		if (!live_serving(&l.v[i]))
			continue;
		d = due_get(ck, l.v[i].sc.id);
		if (d->at != 0)
			continue;
		if (d->last_auto == 0)
			d->last_auto = now;	/* the connect check counts */
		if (now - d->last_auto >= ck->c->cfg.check_interval) {
			d->at = now;
			snprintf(d->trigger, sizeof(d->trigger), "hourly");
		}
	}
	live_free(&l);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct checks	*ck = arg;
	int64_t		 now = time(NULL);
	size_t		 i;

	(void)fd;
	(void)what;
	if (ck->c->stopping)
		return;
	if (now - ck->last_sweep >= CHECK_SWEEP_SECS ||
	    ck->c->cfg.check_interval < CHECK_SWEEP_SECS) {
		ck->last_sweep = now;
		sweep(ck, now);
	}
	for (i = 0; i < ck->ndue; i++) {
		if (ck->due[i].at == 0 || ck->due[i].at > now)
			continue;
		ck->due[i].at = 0;
		ck->due[i].last_auto = now;
		if (strcmp(ck->due[i].trigger, "connect") == 0)
			ck->due[i].last_connect = now;
		checks_run(ck->c, ck->due[i].connector, ck->due[i].trigger,
		    NULL, NULL);
	}
}

int
checks_start(struct cloud *c, char *err, size_t errlen)
{
	struct timeval	 tv = { CHECK_TICK_MS / 1000, (CHECK_TICK_MS % 1000) * 1000 };
	struct checks	*ck;

	(void)err;
	(void)errlen;
	ck = xcalloc(1, sizeof(*ck));
	ck->c = c;
	ck->last_sweep = time(NULL);
	c->checks = ck;
	if (c->cfg.check_interval == 0)
		return 0;
	ck->tick = event_new(c->base, -1, EV_PERSIST, tick_cb, ck);
	event_add(ck->tick, &tv);
	return 0;
}

/* Checks still running at exit answer 503 and are dropped. */
void
checks_free(struct cloud *c)
{
	struct checks	*ck = c->checks;

	if (ck == NULL)
		return;
	while (ck->runs != NULL)
		run_finish(ck->runs, 503, "stopping", "uplink-cloud is "
		    "stopping", NULL);
	if (ck->tick != NULL)
		event_free(ck->tick);
	free(ck->due);
	free(ck);
	c->checks = NULL;
}
