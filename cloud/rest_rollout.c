/*
 * A site's rollout settings through the API (docs/api.md, "Releases and
 * rollouts"): GET and PATCH /api/v1/sites/{name}/rollout and POST
 * .../rollout/update-now. The engine is cloud/rollout.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "daemon.h"
#include "error.h"
#include "mwindow.h"
#include "rest.h"
#include "rollout.h"
#include "status.h"
#include "store.h"

static const char *const ro_days[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat",
};

static json_t *
ro_settings_json(const struct store_rollout *s, int64_t now)
{
	json_t	*days, *win = json_null();
	char	 a[8], b[8];
	int	 d;

	if (s->has_window) {
		days = json_array();
		for (d = 0; d < 7; d++)
			if (s->days & (1 << d))
				json_array_append_new(days,
				    json_string(ro_days[d]));
		snprintf(a, sizeof(a), "%02d:%02d", s->start_min / 60,
		    s->start_min % 60);
		snprintf(b, sizeof(b), "%02d:%02d", s->end_min / 60,
		    s->end_min % 60);
		win = json_pack("{s:o, s:s, s:s, s:s}", "days", days, "start",
		    a, "end", b, "tz", s->tz);
	}
	return json_pack("{s:b, s:o, s:b, s:b, s:s, s:b}", "automatic",
	    s->automatic, "window", win, "in_window", rollout_in_window(s, now),
	    "paused", s->paused, "pause_reason", s->pause_reason, "update_now",
	    s->update_now);
}

/* The site of the path (sites/{name}/...): its id, or answered 404. */
static bool
ro_site_of(struct rest *r, int64_t *id)
{
	char	 err[256];
	int	 rc;

	rc = store_site_find(r->c->dd.st, r->seg[1], id, err, sizeof(err));
	if (rc == UPLINK_ENOTFOUND) {
		rest_fail(r, 404, "not-found", "no such site");
		return false;
	}
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return false;
	}
	return true;
}

static void
ro_reply(struct rest *r, int64_t site_id, int status, const char *warning)
{
	struct store_rollout	 s;
	struct live_list	 l;
	json_t			*j, *conns, *one;
	char			 err[256];
	size_t			 i, n = 0;
	int			 rc;

	rc = store_rollout_get(r->c->dd.st, site_id, &s, err, sizeof(err));
	if (rc == UPLINK_OK)
		rc = live_collect(r->c, site_id, false, &l, err, sizeof(err)) ==
		    0 ? UPLINK_OK : UPLINK_EIO;
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	j = ro_settings_json(&s, r->now);
	conns = json_array();
	for (i = 0; i < l.n; i++) {
		one = json_pack("{s:s, s:s, s:s, s:o}", "id", l.v[i].sc.id,
		    "name", l.v[i].sc.name, "state", live_state(&l.v[i]),
		    "version", l.v[i].version[0] ? json_string(l.v[i].version) :
		    l.v[i].sc.version[0] ? json_string(l.v[i].sc.version) :
		    json_null());
		rollout_annotate(one, l.v[i].sc.id, l.v[i].version[0] ?
		    l.v[i].version : l.v[i].sc.version);
		if (json_object_get(one, "update") == NULL)
			json_object_set_new(one, "update", json_pack("{s:s}",
			    "step", "idle"));
		json_array_append_new(conns, one);
		n++;
	}
	json_object_set_new(j, "site", json_string(r->seg[1]));
	json_object_set_new(j, "connectors", conns);
	if (warning == NULL && n == 1)
		warning = s.has_window ? "this site has one connector: it is "
		    "updated only inside the maintenance window, and the site "
		    "is unreachable while it restarts" : "this site has one "
		    "connector: it is updated only inside a maintenance "
		    "window, and it has none; set one";
	json_object_set_new(j, "warning", warning ? json_string(warning) :
	    json_null());
	live_free(&l);
	rest_reply(r, status, j);
}

void
rest_rollout_get(struct rest *r)
{
	int64_t	 id;

	if (ro_site_of(r, &id))
		ro_reply(r, id, 200, NULL);
}

/* {"days": [...], "start": "HH:MM", "end": "HH:MM", "tz": NAME} or null. */
static bool
ro_window(struct rest *r, json_t *w, struct store_rollout *s)
{
	json_t		*v;
	const char	*tz, *key;
	size_t		 i;
	int		 d;

	if (json_is_null(w)) {
		s->has_window = false;
		return true;
	}
	if (!json_is_object(w)) {
		rest_fail(r, 400, "bad-window", "window: an object {\"days\": "
		    "[\"mon\", ...], \"start\": \"HH:MM\", \"end\": \"HH:MM\", "
		    "\"tz\": \"Europe/Paris\"}, or null for none");
		return false;
	}
	json_object_foreach(w, key, v)
		if (strcmp(key, "days") != 0 && strcmp(key, "start") != 0 &&
		    strcmp(key, "end") != 0 && strcmp(key, "tz") != 0) {
			rest_fail(r, 400, "bad-window", "window: unknown field "
			    "(days, start, end, tz)");
			return false;
		}
	s->days = 0;
	json_array_foreach(json_object_get(w, "days"), i, v) {
		for (d = 0; d < 7; d++)
			if (json_is_string(v) && strcasecmp(json_string_value(v),
			    ro_days[d]) == 0)
				break;
		if (d == 7) {
			rest_fail(r, 400, "bad-window", "window.days: names of "
			    "days: sun, mon, tue, wed, thu, fri, sat");
			return false;
		}
		s->days |= 1 << d;
	}
	if (s->days == 0) {
		rest_fail(r, 400, "bad-window", "window.days: give at least "
		    "one day (sun, mon, ... sat)");
		return false;
	}
	if (!mwindow_hhmm(json_string_value(json_object_get(w, "start")),
	    &s->start_min) || !mwindow_hhmm(json_string_value(json_object_get(w,
	    "end")), &s->end_min)) {
		rest_fail(r, 400, "bad-window", "window.start and window.end: "
		    "times as HH:MM (00:00 to 23:59); equal means all day");
		return false;
	}
	tz = json_string_value(json_object_get(w, "tz"));
	if (tz == NULL || !rollout_tz_valid(tz)) {
		rest_fail(r, 400, "bad-window", "window.tz: an IANA time zone "
		    "name this system's database has (%s), such as UTC or "
		    "Europe/Paris", MWINDOW_TZDIR);
		return false;
	}
	snprintf(s->tz, sizeof(s->tz), "%s", tz);
	s->has_window = true;
	return true;
}

void
rest_rollout_patch(struct rest *r)
{
	static const char *const fields[] = { "automatic:b", "window:j",
	    "paused:b", NULL };
	struct store_rollout	 s;
	json_t			*v;
	char			 err[256];
	int64_t			 id;

	if (!rest_fields(r, fields) || !ro_site_of(r, &id))
		return;
	if (store_rollout_get(r->c->dd.st, id, &s, err, sizeof(err)) !=
	    UPLINK_OK) {
		rest_store_fail(r, UPLINK_EIO, err);
		return;
	}
	if ((v = json_object_get(r->body, "automatic")) != NULL)
		s.automatic = json_is_true(v);
	if ((v = json_object_get(r->body, "window")) != NULL &&
	    !ro_window(r, v, &s))
		return;
	if ((v = json_object_get(r->body, "paused")) != NULL) {
		s.paused = json_is_true(v);
		if (s.paused)
			snprintf(s.pause_reason, sizeof(s.pause_reason),
			    "paused by %s", r->actor);
		else {
			s.pause_reason[0] = '\0';
			/* Resumed: what failed may be tried again. */
			rollout_site_resumed(id);
		}
	}
	if (store_rollout_set(r->c->dd.st, &s, err, sizeof(err)) != UPLINK_OK) {
		rest_store_fail(r, UPLINK_EIO, err);
		return;
	}
	rest_audit(r, "site.rollout", r->seg[1], "automatic %s, window %s, %s",
	    s.automatic ? "on" : "off", s.has_window ? s.tz : "none",
	    s.paused ? "paused" : "running");
	ro_reply(r, id, 200, NULL);
}

void
rest_rollout_now(struct rest *r)
{
	struct store_rollout	 s;
	char			 err[256];
	int64_t			 id;

	if (!ro_site_of(r, &id))
		return;
	if (store_rollout_get(r->c->dd.st, id, &s, err, sizeof(err)) !=
	    UPLINK_OK) {
		rest_store_fail(r, UPLINK_EIO, err);
		return;
	}
	if (s.paused) {
		rest_fail(r, 409, "paused", "the rollout of this site is paused "
		    "(%s): resume it first (PATCH with \"paused\": false)",
		    s.pause_reason);
		return;
	}
	s.update_now = true;
	if (store_rollout_set(r->c->dd.st, &s, err, sizeof(err)) != UPLINK_OK) {
		rest_store_fail(r, UPLINK_EIO, err);
		return;
	}
	rest_audit(r, "site.update-now", r->seg[1], "update now asked");
	ro_reply(r, id, 202, NULL);
}
