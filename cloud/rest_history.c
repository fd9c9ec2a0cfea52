/*
 * History through the API (docs/api.md, "History"): a connector's, a
 * site's or everything's tunnels, streams, bytes and round trips over
 * time, from lib/store/store_history.c.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "daemon.h"
#include "rest.h"

#define HIST_POINTS_AUTO	720	/* a step is chosen to give at most */
#define HIST_POINTS_MAX		1440	/* a step given may give at most */
#define HIST_STEP_MAX		86400

/* The steps chosen when none is given, each a multiple of the last few. */
static const int64_t hist_steps[] = { 60, 120, 300, 600, 1200, 1800, 3600,
    7200, 10800, 21600, 43200, 86400 };

/* from, to and step of the request, aligned on step; false: answered. */
static bool
hist_range(struct rest *r, int64_t *from, int64_t *to, int64_t *step)
{
	int64_t	 span;
	size_t	 i;

	if (!rest_query_int(r, "to", 1, REST_ID_MAX, r->now, to) ||
	    !rest_query_int(r, "from", 0, REST_ID_MAX, *to -
	    STORE_HISTORY_FINE_KEEP, from) ||
	    !rest_query_int(r, "step", 0, HIST_STEP_MAX, 0, step))
		return false;
	span = *to - *from;
	if (span <= 0) {
		rest_fail(r, 400, "bad-field", "from (%lld) must be before to "
		    "(%lld); both are Unix times in seconds", (long long)*from,
		    (long long)*to);
		return false;
	}
	if (span > STORE_HISTORY_KEEP) {
		rest_fail(r, 400, "bad-field", "from..to spans %lld s; history "
		    "is kept %d days, so ask for at most %d s", (long long)span,
		    STORE_HISTORY_KEEP / 86400, STORE_HISTORY_KEEP);
		return false;
	}
	if (*step != 0 && *step % STORE_HISTORY_FINE != 0) {
		rest_fail(r, 400, "bad-field", "step must be a multiple of %d "
		    "s (one minute), not %lld", STORE_HISTORY_FINE,
		    (long long)*step);
		return false;
	}
	if (*step != 0 && span / *step > HIST_POINTS_MAX) {
		rest_fail(r, 400, "bad-field", "step %lld s gives %lld points; "
		    "at most %d: make step larger", (long long)*step,
		    (long long)(span / *step), HIST_POINTS_MAX);
		return false;
	}
	for (i = 0; *step == 0 && i < sizeof(hist_steps) /
	    sizeof(hist_steps[0]); i++)
		if (span / hist_steps[i] <= HIST_POINTS_AUTO)
			*step = hist_steps[i];
	/*
	 * Older than a day there are only ten-minute rows. The pass that
	 * merges runs every ten minutes, so "the last 24 hours" asked a
	 * little late still finds its minutes: 20 minutes of slack.
	 */
	if (*from < r->now - STORE_HISTORY_FINE_KEEP - 2 * STORE_HISTORY_COARSE &&
	    *step % STORE_HISTORY_COARSE != 0)
		*step += STORE_HISTORY_COARSE - *step % STORE_HISTORY_COARSE;
	*from -= *from % *step;
	if (*to % *step != 0)
		*to += *step - *to % *step;
	return true;
}

struct hist_out {
	json_t		*points;
	int64_t		 next, to, step;
	int64_t		 in, out, opened;
};

static json_t *
hist_point(int64_t at, const struct store_history_point *p)
{
	json_t	*j;

	j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "at", (json_int_t)at,
	    "tunnels", (json_int_t)(p ? p->tunnels : 0), "streams",
	    (json_int_t)(p ? p->streams : 0), "opened", (json_int_t)(p ?
	    p->opened : 0), "bytes_in", (json_int_t)(p ? p->bytes_in : 0),
	    "bytes_out", (json_int_t)(p ? p->bytes_out : 0));
	if (p != NULL && p->rtt_n > 0) {
		json_object_set_new(j, "rtt_ms", json_real((double)
		    p->rtt_sum_ms / (double)p->rtt_n));
		json_object_set_new(j, "rtt_max_ms", json_integer(
		    p->rtt_max_ms));
	} else {
		json_object_set_new(j, "rtt_ms", json_null());
		json_object_set_new(j, "rtt_max_ms", json_null());
	}
	return j;
}

/* Steps without rows are answered as zeros, so a chart needs no gaps. */
static int
hist_cb(void *arg, const struct store_history_point *p)
{
	struct hist_out	*o = arg;

	for (; o->next < p->at && o->next < o->to; o->next += o->step)
		json_array_append_new(o->points, hist_point(o->next, NULL));
	json_array_append_new(o->points, hist_point(p->at, p));
	o->next = p->at + o->step;
	o->in += p->bytes_in;
	o->out += p->bytes_out;
	o->opened += p->opened;
	return 0;
}

static void
hist_reply(struct rest *r, const char *connector, int64_t site_id,
    json_t *extra)
{
	struct hist_out	 o = { 0 };
	json_t		*j;
	int64_t		 from, to, step;
	char		 err[256];
	int		 rc;

	if (!hist_range(r, &from, &to, &step)) {
		json_decref(extra);
		return;
	}
	o.points = json_array();
	o.next = from;
	o.to = to;
	o.step = step;
	rc = store_history_get(r->c->dd.st, connector, site_id, from, to, step,
	    hist_cb, &o, err, sizeof(err));
	if (rc != UPLINK_OK) {
		json_decref(o.points);
		json_decref(extra);
		rest_store_fail(r, rc, err);
		return;
	}
	for (; o.next < to; o.next += step)
		json_array_append_new(o.points, hist_point(o.next, NULL));
	j = json_pack("{s:I, s:I, s:I, s:o, s:{s:I, s:I, s:I}}", "from",
	    (json_int_t)from, "to", (json_int_t)to, "step", (json_int_t)step,
	    "points", o.points, "totals", "bytes_in", (json_int_t)o.in,
	    "bytes_out", (json_int_t)o.out, "opened", (json_int_t)o.opened);
	json_object_update(extra, j);
	json_decref(j);
	rest_reply(r, 200, extra);
}

void
rest_history(struct rest *r)
{
	hist_reply(r, NULL, 0, json_object());
}

void
rest_connector_history(struct rest *r)
{
	struct store_connector	 sc;
	char			 err[256];
	int			 rc;

	rc = store_connector_get(r->c->dd.st, r->seg[1], &sc, err,
	    sizeof(err));
	if (rc == UPLINK_ENOTFOUND || rc == UPLINK_EINVAL) {
		rest_fail(r, 404, "not-found", "there is no connector "
		    "\"%.40s\"", r->seg[1]);
		return;
	}
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	hist_reply(r, sc.id, 0, json_pack("{s:s, s:s}", "connector", sc.id,
	    "name", sc.name));
}

void
rest_site_history(struct rest *r)
{
	int64_t	 site_id;
	char	 err[256];
	int	 rc;

	rc = store_site_find(r->c->dd.st, r->seg[1], &site_id, err,
	    sizeof(err));
	if (rc == UPLINK_ENOTFOUND || rc == UPLINK_EINVAL) {
		rest_fail(r, 404, "not-found", "there is no site \"%.64s\"",
		    r->seg[1]);
		return;
	}
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	hist_reply(r, NULL, site_id, json_pack("{s:s}", "site", r->seg[1]));
}
