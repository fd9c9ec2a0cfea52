/*
 * Rollouts of connector releases (rollout.h, docs/updates.md).
 *
 * Once a second the engine looks at every connector (live_collect()), asks
 * the online ones what they are (GET /v1/info over a tunnel: version,
 * architecture, channel, whether a launcher runs them, their last
 * rollback; every INFO_EVERY seconds, every second for the one being
 * updated) and, per site, either moves the connector being updated one
 * step on or, when none is, starts the next one if the site's settings
 * and the rules allow it:
 *
 *   - the site is not paused, and is automatic or was told "update now";
 *   - with one connector: only inside the site's maintenance window (the
 *     site is unreachable while it restarts); with several: inside the
 *     window when there is one, and only while every other connector of
 *     the site is online and not drained, so two are never down at once.
 *
 * Steps: draining (no new streams, up to [cloud] drain_timeout for open
 * ones) -> downloading (GET /v1/update?version=V: the connector downloads,
 * verifies and stages it, then exits through its drain) -> restarting
 * (until it answers again from a new process) -> health-gate (its
 * version is the new one and a connectivity check passes) -> updated.
 * The connector's own launcher holds the same gate and rolls back a
 * version that fails it; the engine then sees the old version with a
 * rollback record, pauses the site and raises "update-rolled-back".
 * Every step has [update] step_timeout.
 *
 * The state of a step lives in this process only: a restarted cloud
 * finds the connector on one version or the other and goes on from there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "checks.h"
#include "daemon.h"
#include "error.h"
#include "log.h"
#include "mwindow.h"
#include "notify.h"
#include "release.h"
#include "rollout.h"
#include "router.h"
#include "status.h"
#include "xmalloc.h"

#define RO_TICK_MS		1000
#define RO_INFO_EVERY		30	/* s between GET /v1/info when idle */
#define RO_RECHECK		15	/* s between checks in the gate */
#define RO_INFO_MS		10000
#define RO_WORD			(STORE_RELEASE_WORD_MAX + 1)

enum ro_step {
	RO_IDLE, RO_DRAIN, RO_DOWNLOAD, RO_RESTART, RO_GATE, RO_DONE,
	RO_FAILED, RO_ROLLED_BACK,
};

static const char *const ro_step_names[] = {
	"idle", "draining", "downloading", "restarting", "health-gate",
	"updated", "failed", "rolled-back",
};

struct ro_conn {
	char		 id[STORE_ID_MAX + 1];
	char		 name[STORE_NAME_MAX + 1];
	char		 site[STORE_NAME_MAX + 1];
	int64_t		 site_id;
	bool		 seen, online, drained;
	uint64_t	 streams;
	/* What GET /v1/info said. */
	bool		 have_info, asking, launched;
	char		 arch[RO_WORD], channel[RO_WORD], version[RO_WORD];
	long		 pid;
	int64_t		 info_at;
	char		 rb_version[RO_WORD];
	int64_t		 rb_at;
	char		 rb_why[256];
	/* The rollout. */
	enum ro_step	 step;
	char		 target[RO_WORD], from[RO_WORD];
	long		 old_pid;
	int64_t		 step_at, check_at, started_at;
	bool		 checking;
	char		 note[400];
	/* Outdated. */
	bool		 outdated;
	char		 newest[RO_WORD];
};

struct ro_rel {
	char	 version[RO_WORD], channel[RO_WORD], arch[RO_WORD];
	int64_t	 added_at;
};

struct rollout {
	struct cloud	*c;
	struct event	*tick;
	struct ro_conn	*v;
	size_t		 n, cap;
	struct ro_rel	*rel;
	size_t		 nrel, relcap;
};

/* The one engine of this process; callbacks find it here (NULL: gone). */
static struct rollout	*ro_g;

/* ---- maintenance windows (lib/core/mwindow.c) ---- */

bool
rollout_tz_valid(const char *tz)
{
	return mwindow_tz_valid(tz);
}

bool
rollout_in_window(const struct store_rollout *ro, int64_t t)
{
	struct mwindow	 w;

	if (!ro->has_window)
		return false;
	memset(&w, 0, sizeof(w));
	w.days = ro->days;
	w.start_min = ro->start_min;
	w.end_min = ro->end_min;
	snprintf(w.tz, sizeof(w.tz), "%s", ro->tz);
	return mwindow_contains(&w, t);
}

/* ---- releases ---- */

static int
ro_rel_cb(void *arg, const struct store_release *r)
{
	struct rollout	*ro = arg;
	struct ro_rel	*x;

	if (ro->nrel == ro->relcap) {
		ro->relcap = ro->relcap ? ro->relcap * 2 : 8;
		ro->rel = xrealloc(ro->rel, ro->relcap * sizeof(*ro->rel));
	}
	x = &ro->rel[ro->nrel++];
	snprintf(x->version, sizeof(x->version), "%s", r->version);
	snprintf(x->channel, sizeof(x->channel), "%s", r->channel);
	snprintf(x->arch, sizeof(x->arch), "%s", r->arch);
	x->added_at = r->added_at;
	return 0;
}

/*
 * The newest release for channel and arch (newest "" if none) and since
 * when version has been behind (the first time a newer one was added; 0
 * if it is not behind).
 */
static void
ro_newest(const struct rollout *ro, const char *channel, const char *arch,
    const char *version, char newest[RO_WORD], int64_t *behind)
{
	size_t	 i;

	newest[0] = '\0';
	*behind = 0;
	for (i = 0; i < ro->nrel; i++) {
		const struct ro_rel *x = &ro->rel[i];

		if (strcmp(x->channel, channel) != 0 || strcmp(x->arch, arch) !=
		    0)
			continue;
		if (newest[0] == '\0' || release_version_cmp(x->version,
		    newest) > 0)
			snprintf(newest, RO_WORD, "%s", x->version);
		if (release_version_valid(version) &&
		    release_version_cmp(x->version, version) > 0 &&
		    (*behind == 0 || x->added_at < *behind))
			*behind = x->added_at;
	}
}

/* ---- connectors ---- */

static struct ro_conn *
ro_find(struct rollout *ro, const char *id)
{
	size_t	 i;

	for (i = 0; ro != NULL && i < ro->n; i++)
		if (strcmp(ro->v[i].id, id) == 0)
			return &ro->v[i];
	return NULL;
}

static struct ro_conn *
ro_get(struct rollout *ro, const char *id)
{
	struct ro_conn	*rc = ro_find(ro, id);

	if (rc != NULL)
		return rc;
	if (ro->n == ro->cap) {
		ro->cap = ro->cap ? ro->cap * 2 : 16;
		ro->v = xrealloc(ro->v, ro->cap * sizeof(*ro->v));
	}
	rc = &ro->v[ro->n++];
	memset(rc, 0, sizeof(*rc));
	snprintf(rc->id, sizeof(rc->id), "%s", id);
	return rc;
}

static bool
ro_active(const struct ro_conn *rc)
{
	return rc->step >= RO_DRAIN && rc->step <= RO_GATE;
}

static void
ro_step(struct ro_conn *rc, enum ro_step step, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
ro_step(struct ro_conn *rc, enum ro_step step, const char *fmt, ...)
{
	va_list	 ap;

	rc->step = step;
	rc->step_at = time(NULL);
	va_start(ap, fmt);
	vsnprintf(rc->note, sizeof(rc->note), fmt, ap);
	va_end(ap);
	log_info("rollout: site %s, connector %s: %s: %s", rc->site, rc->id,
	    ro_step_names[step], rc->note);
}

/* The site's rollout stops until an administrator resumes it. */
static void
ro_pause(struct rollout *ro, struct ro_conn *rc, const char *why)
{
	struct store_rollout	 s;
	char			 err[256];

	if (store_rollout_get(ro->c->dd.st, rc->site_id, &s, err,
	    sizeof(err)) != UPLINK_OK) {
		log_warnx("rollout: site %s: %s", rc->site, err);
		return;
	}
	s.paused = true;
	s.update_now = false;
	snprintf(s.pause_reason, sizeof(s.pause_reason), "%.500s", why);
	if (store_rollout_set(ro->c->dd.st, &s, err, sizeof(err)) != UPLINK_OK)
		log_warnx("rollout: site %s: cannot pause: %s", rc->site, err);
}

static void
ro_fail(struct rollout *ro, struct ro_conn *rc, enum ro_step step,
    const char *kind, const char *why)
{
	char	 msg[STORE_TEXT_MAX + 1];

	router_set_drained(ro->c->router, rc->id, rc->drained);
	ro_step(rc, step, "%s", why);
	snprintf(msg, sizeof(msg), "connector %.31s (\"%.40s\", site %.40s): "
	    "update to version %s %s: %.300s; the site's rollout is paused",
	    rc->id, rc->name, rc->site, rc->target, step == RO_ROLLED_BACK ?
	    "rolled back" : "failed", why);
	ro_pause(ro, rc, msg);
	notify_open(ro->c, kind, rc->id, "error", "%s", msg);
}

/* ---- GET /v1/info ---- */

struct ro_req {
	char	 id[STORE_ID_MAX + 1];
	long	 pid;		/* the process asked (download) */
};

static void ro_check_start(struct rollout *ro, struct ro_conn *rc);

/* A new process answered while this connector was being updated. */
static void
ro_came_back(struct rollout *ro, struct ro_conn *rc)
{
	char	 why[400];

	if (strcmp(rc->version, rc->target) == 0) {
		if (rc->step == RO_RESTART) {
			ro_step(rc, RO_GATE, "version %s answers (process %ld); "
			    "checking its connectivity", rc->target, rc->pid);
			ro_check_start(ro, rc);
		}
		return;
	}
	if (strcmp(rc->rb_version, rc->target) == 0 && rc->rb_at >=
	    rc->started_at - 5) {
		snprintf(why, sizeof(why), "its launcher went back to %s: "
		    "version %s %s", rc->version, rc->target, rc->rb_why);
		ro_fail(ro, rc, RO_ROLLED_BACK, "update-rolled-back", why);
		return;
	}
	snprintf(why, sizeof(why), "it came back on version %s without "
	    "switching (is it run by \"uplink-connector launch\"?)",
	    rc->version);
	ro_fail(ro, rc, RO_FAILED, "update-failed", why);
}

static void
ro_info_cb(void *arg, struct tunnel *t, int status, const char *body)
{
	struct ro_req	*q = arg;
	struct ro_conn	*rc = ro_find(ro_g, q->id);
	json_t		*j, *rb;
	const char	*s;
	long		 pid;

	(void)t;
	free(q);
	if (rc == NULL)
		return;
	rc->asking = false;
	if (status != 200)
		return;
	j = json_loads(body, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return;
	}
	rc->have_info = true;
	rc->info_at = time(NULL);
#define RO_STR(f, key, def) do {					\
	s = json_string_value(json_object_get(j, key));			\
	snprintf(rc->f, sizeof(rc->f), "%s", s != NULL &&		\
	    strlen(s) < sizeof(rc->f) ? s : def);			\
} while (0)
	RO_STR(version, "version", "");
	RO_STR(arch, "arch", release_host_arch());
	RO_STR(channel, "channel", "stable");
#undef RO_STR
	rc->launched = json_is_true(json_object_get(j, "launched"));
	pid = (long)json_integer_value(json_object_get(j, "pid"));
	rb = json_object_get(j, "rollback");
	rc->rb_version[0] = '\0';
	if (json_is_object(rb)) {
		s = json_string_value(json_object_get(rb, "version"));
		snprintf(rc->rb_version, sizeof(rc->rb_version), "%s",
		    s != NULL && strlen(s) < sizeof(rc->rb_version) ? s : "");
		s = json_string_value(json_object_get(rb, "why"));
		snprintf(rc->rb_why, sizeof(rc->rb_why), "%s", s ? s : "");
		rc->rb_at = json_integer_value(json_object_get(rb, "at"));
	}
	json_decref(j);
	rc->pid = pid;
	if ((rc->step == RO_RESTART || rc->step == RO_GATE) && pid !=
	    rc->old_pid && ro_g != NULL)
		ro_came_back(ro_g, rc);
}

static void
ro_ask_info(struct rollout *ro, struct ro_conn *rc)
{
	struct ro_req	*q = xcalloc(1, sizeof(*q));

	snprintf(q->id, sizeof(q->id), "%s", rc->id);
	if (router_request(ro->c->router, rc->id, "/v1/info", RO_INFO_MS,
	    ro_info_cb, q) != 0) {
		free(q);
		return;
	}
	rc->asking = true;
}

/* ---- the steps ---- */

static void
ro_check_cb(void *arg, int status, const char *code, const char *message,
    json_t *check)
{
	struct ro_req	*q = arg;
	struct ro_conn	*rc = ro_find(ro_g, q->id);
	bool		 ok;

	(void)code;
	free(q);
	ok = status == 200 && json_is_true(json_object_get(check, "ok"));
	json_decref(check);
	if (rc == NULL || rc->step != RO_GATE)
		return;
	rc->checking = false;
	if (ok) {
		router_set_drained(ro_g->c->router, rc->id, rc->drained);
		ro_step(rc, RO_DONE, "version %s passed its health gate (tunnels "
		    "up, connectivity check passed)", rc->target);
		notify_resolve(ro_g->c, "update-rolled-back", rc->id);
		notify_resolve(ro_g->c, "update-failed", rc->id);
		return;
	}
	snprintf(rc->note, sizeof(rc->note), "version %s is up but its "
	    "connectivity check did not pass (%s); its launcher rolls it "
	    "back unless a check passes within its health gate", rc->target,
	    message != NULL ? message : "failed");
	log_info("rollout: connector %s: %s", rc->id, rc->note);
}

static void
ro_check_start(struct rollout *ro, struct ro_conn *rc)
{
	struct ro_req	*q = xcalloc(1, sizeof(*q));

	snprintf(q->id, sizeof(q->id), "%s", rc->id);
	rc->checking = true;
	rc->check_at = time(NULL);
	checks_run(ro->c, rc->id, "update", ro_check_cb, q);
}

static void
ro_download_cb(void *arg, struct tunnel *t, int status, const char *body)
{
	struct ro_req	*q = arg;
	struct ro_conn	*rc = ro_find(ro_g, q->id);
	json_t		*j;
	const char	*m;
	char		 why[400];

	(void)t;
	free(q);
	if (rc == NULL || rc->step != RO_DOWNLOAD)
		return;
	if (status == 200) {
		ro_step(rc, RO_RESTART, "version %s staged; the connector "
		    "restarts through its launcher", rc->target);
		return;
	}
	j = body != NULL ? json_loads(body, 0, NULL) : NULL;
	m = json_string_value(json_object_get(j, "message"));
	snprintf(why, sizeof(why), "%s%s%s", status == 0 ? "no answer to "
	    "the update request (the tunnel closed or the download took too "
	    "long)" : status == 422 ? "it refused the release" :
	    "it could not take the update", m ? ": " : "", m ? m : "");
	json_decref(j);
	ro_fail(ro_g, rc, RO_FAILED, "update-failed", why);
}

static void
ro_download(struct rollout *ro, struct ro_conn *rc)
{
	struct ro_req	*q = xcalloc(1, sizeof(*q));
	char		 path[80];

	snprintf(q->id, sizeof(q->id), "%s", rc->id);
	snprintf(path, sizeof(path), "/v1/update?version=%s", rc->target);
	rc->old_pid = rc->pid;
	ro_step(rc, RO_DOWNLOAD, "asked to download, verify and stage version "
	    "%s", rc->target);
	if (router_request(ro->c->router, rc->id, path,
	    (int)ro->c->cfg.update_step_timeout * 1000, ro_download_cb, q) !=
	    0) {
		free(q);
		ro_fail(ro, rc, RO_FAILED, "update-failed", "it has no tunnel "
		    "to ask it over");
	}
}

/* Moves the connector being updated on. */
static void
ro_advance(struct rollout *ro, struct ro_conn *rc, int64_t now)
{
	char	 why[200];

	if (now - rc->step_at > ro->c->cfg.update_step_timeout &&
	    rc->step != RO_DRAIN) {
		snprintf(why, sizeof(why), "no result from step %s within %lld "
		    "s ([update] step_timeout)", ro_step_names[rc->step],
		    (long long)ro->c->cfg.update_step_timeout);
		ro_fail(ro, rc, RO_FAILED, "update-failed", why);
		return;
	}
	switch (rc->step) {
	case RO_DRAIN:
		if (rc->streams == 0 || now - rc->step_at >=
		    ro->c->cfg.drain_timeout)
			ro_download(ro, rc);
		return;
	case RO_RESTART:
	case RO_GATE:
		if (rc->online && !rc->asking)
			ro_ask_info(ro, rc);
		if (rc->step == RO_GATE && !rc->checking && now - rc->check_at >=
		    RO_RECHECK && strcmp(rc->version, rc->target) == 0)
			ro_check_start(ro, rc);
		return;
	default:
		return;
	}
}

static bool
ro_candidate(const struct ro_conn *rc)
{
	if (!rc->online || !rc->have_info || !rc->launched || rc->drained ||
	    rc->newest[0] == '\0' || rc->version[0] == '\0')
		return false;
	if (release_version_cmp(rc->version, rc->newest) >= 0)
		return false;
	/* Not the same release again after it failed here. */
	return !((rc->step == RO_FAILED || rc->step == RO_ROLLED_BACK) &&
	    strcmp(rc->target, rc->newest) == 0);
}

/* One site: go on with its update, or start the next one. */
static void
ro_site(struct rollout *ro, int64_t site_id, int64_t now)
{
	struct store_rollout	 s;
	struct ro_conn		*cand = NULL, *rc;
	size_t			 i, total = 0, up = 0, behind = 0;
	bool			 known = true;
	char			 err[256];

	for (i = 0; i < ro->n; i++) {
		rc = &ro->v[i];
		if (rc->site_id != site_id)
			continue;
		if (ro_active(rc)) {
			ro_advance(ro, rc, now);
			return;
		}
		total++;
		up += rc->online && !rc->drained;
		known = known && rc->have_info && rc->newest[0] != '\0';
		behind += rc->newest[0] != '\0' && rc->version[0] != '\0' &&
		    release_version_cmp(rc->version, rc->newest) < 0;
		if (cand == NULL && ro_candidate(rc))
			cand = rc;
	}
	if (store_rollout_get(ro->c->dd.st, site_id, &s, err, sizeof(err)) !=
	    UPLINK_OK || s.paused)
		return;
	if (cand == NULL) {
		/* "Update now" is done when every connector is up to date. */
		if (s.update_now && known && behind == 0) {
			s.update_now = false;
			(void)store_rollout_set(ro->c->dd.st, &s, err,
			    sizeof(err));
		}
		return;
	}
	if (!s.automatic && !s.update_now)
		return;
	if ((total == 1 || s.has_window) && !rollout_in_window(&s, now))
		return;
	if (total > 1 && up < total)
		return;		/* another one is down: wait */
	snprintf(cand->target, sizeof(cand->target), "%s", cand->newest);
	snprintf(cand->from, sizeof(cand->from), "%s", cand->version);
	cand->started_at = now;
	router_set_drained(ro->c->router, cand->id, true);
	ro_step(cand, RO_DRAIN, "from version %s to %s: no new streams%s",
	    cand->from, cand->target, total == 1 ? "; the site's only "
	    "connector: the site is unreachable while it restarts" : "");
}

/* Refreshes the connectors from the live list and the store. */
static void
ro_refresh(struct rollout *ro, int64_t now)
{
	struct live_list	 l;
	struct ro_conn		*rc;
	int64_t			 behind;
	char			 err[256];
	size_t			 i;

	if (live_collect(ro->c, 0, false, &l, err, sizeof(err)) != 0)
		return;
	for (i = 0; i < ro->n; i++)
		ro->v[i].seen = false;
	for (i = 0; i < l.n; i++) {
		rc = ro_get(ro, l.v[i].sc.id);
		rc->seen = true;
		rc->site_id = l.v[i].sc.site_id;
		rc->drained = l.v[i].sc.drained;
		snprintf(rc->site, sizeof(rc->site), "%s", l.v[i].site);
		snprintf(rc->name, sizeof(rc->name), "%s", l.v[i].sc.name);
		rc->online = l.v[i].tunnels > l.v[i].draining;
		rc->streams = l.v[i].streams;
		if (!rc->have_info)
			snprintf(rc->version, sizeof(rc->version), "%s",
			    l.v[i].version[0] ? l.v[i].version :
			    l.v[i].sc.version);
		if (rc->online && !rc->asking && (!rc->have_info || now -
		    rc->info_at >= RO_INFO_EVERY))
			ro_ask_info(ro, rc);
		ro_newest(ro, rc->channel[0] ? rc->channel : "stable",
		    rc->arch[0] ? rc->arch : release_host_arch(), rc->version,
		    rc->newest, &behind);
		rc->outdated = behind != 0 && now - behind >
		    ro->c->cfg.update_outdated_after;
	}
	live_free(&l);
	/* Revoked or removed ones go (their callbacks find nothing). */
	for (i = 0; i < ro->n; )
		if (!ro->v[i].seen)
			ro->v[i] = ro->v[--ro->n];
		else
			i++;
}

static void
ro_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rollout	*ro = arg;
	int64_t		 now = time(NULL), done[64];
	size_t		 i, k, ndone = 0;
	char		 err[256];

	(void)fd;
	(void)what;
	if (ro->c->stopping)
		return;
	ro->nrel = 0;
	if (store_release_list(ro->c->dd.st, NULL, ro_rel_cb, ro, err,
	    sizeof(err)) != UPLINK_OK)
		return;
	ro_refresh(ro, now);
	for (i = 0; i < ro->n; i++) {
		for (k = 0; k < ndone; k++)
			if (done[k] == ro->v[i].site_id)
				break;
		if (k < ndone)
			continue;
		if (ndone < sizeof(done) / sizeof(done[0]))
			done[ndone++] = ro->v[i].site_id;
		ro_site(ro, ro->v[i].site_id, now);
	}
}

int
rollout_start(struct cloud *c, char *err, size_t errlen)
{
	struct timeval	 tv = { RO_TICK_MS / 1000, (RO_TICK_MS % 1000) * 1000 };
	struct rollout	*ro = xcalloc(1, sizeof(*ro));

	ro->c = c;
	ro->tick = event_new(c->base, -1, EV_PERSIST, ro_tick_cb, ro);
	if (ro->tick == NULL) {
		free(ro);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	event_add(ro->tick, &tv);
	ro_g = ro;
	return 0;
}

void
rollout_free(struct cloud *c)
{
	struct rollout	*ro = ro_g;

	(void)c;
	if (ro == NULL)
		return;
	ro_g = NULL;
	event_free(ro->tick);
	free(ro->v);
	free(ro->rel);
	free(ro);
}

void
rollout_annotate(json_t *j, const char *id, const char *version)
{
	struct ro_conn	*rc = ro_find(ro_g, id);
	char		 newest[RO_WORD];
	int64_t		 behind = 0;
	bool		 outdated = false;

	if (ro_g == NULL)
		return;
	if (rc != NULL) {
		snprintf(newest, sizeof(newest), "%s", rc->newest);
		outdated = rc->outdated;
	} else {
		ro_newest(ro_g, "stable", release_host_arch(), version ?
		    version : "", newest, &behind);
		outdated = behind != 0 && time(NULL) - behind >
		    ro_g->c->cfg.update_outdated_after;
	}
	json_object_set_new(j, "outdated", json_boolean(outdated));
	json_object_set_new(j, "newest_release", newest[0] ?
	    json_string(newest) : json_null());
	if (rc != NULL && rc->step != RO_IDLE)
		json_object_set_new(j, "update", json_pack("{s:s, s:s, s:s, "
		    "s:s, s:I}", "step", ro_step_names[rc->step], "from",
		    rc->from, "to", rc->target, "note", rc->note, "since",
		    (json_int_t)rc->step_at));
}

void
rollout_site_resumed(int64_t site_id)
{
	struct ro_conn	*rc;
	size_t		 i;

	for (i = 0; ro_g != NULL && i < ro_g->n; i++) {
		rc = &ro_g->v[i];
		if (rc->site_id == site_id && !ro_active(rc))
			rc->step = RO_IDLE;
	}
}
