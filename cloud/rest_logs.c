#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <jansson.h>

#include "daemon.h"
#include "logs.h"
#include "rest.h"
#include "xmalloc.h"

/*
 * GET /api/v1/connectors/{id}/logs, .../events and sites/{name}/events
 * (docs/api.md). The live tail is a long poll: with after=ID and wait=S
 * the request is answered as soon as lines after ID are stored, or after
 * S seconds with none. evhttp answers a request once, whole, and a long
 * poll is exactly that; it passes proxies and the console's fetch() as
 * any other request does, which a stream of Server-Sent Events held open
 * through evhttp's chunked replies would not always.
 */

#define LOGS_LIMIT_DEFAULT	200
#define LOGS_WAIT_MAX		60

struct logs_req {
	struct rest		*r;
	char			 connector[STORE_ID_MAX + 1];
	struct store_log_query	 q;
};

static json_t *
log_json(const struct store_log *l)
{
	json_t	*j;

	j = json_pack("{s:I, s:I, s:I, s:s, s:s}", "id", (json_int_t)l->id,
	    "seq", (json_int_t)l->seq, "time", (json_int_t)l->at_ms, "level",
	    logs_level_name(l->level), "msg", l->msg);
	if (j != NULL && l->dropped > 0)
		json_object_set_new(j, "dropped", json_integer(l->dropped));
	return j;
}

static int
log_row_cb(void *arg, const struct store_log *l)
{
	json_array_append_new(arg, log_json(l));
	return 0;
}

/* Runs the query: the lines oldest first, or NULL (answered 500). */
static json_t *
logs_query(struct logs_req *lr)
{
	json_t	*arr = json_array();
	char	 err[256];
	int	 rc;

	rc = store_logs_list(lr->r->c->dd.st, &lr->q, log_row_cb, arr, err,
	    sizeof(err));
	if (rc != UPLINK_OK) {
		json_decref(arr);
		rest_store_fail(lr->r, rc, err);
		return NULL;
	}
	if (lr->q.after_id == 0) {
		/* Newest first from the store; a log reads oldest first. */
		json_t	*rev = json_array();
		size_t	 i = json_array_size(arr);

		while (i-- > 0)
			json_array_append(rev, json_array_get(arr, i));
		json_decref(arr);
		arr = rev;
	}
	return arr;
}

static void
logs_answer(struct logs_req *lr, json_t *arr)
{
	json_t	*last = json_array_get(arr, json_array_size(arr) - 1);
	int64_t	 next = lr->q.after_id;

	if (last != NULL)
		next = json_integer_value(json_object_get(last, "id"));
	rest_reply(lr->r, 200, json_pack("{s:s, s:o, s:I}", "connector",
	    lr->connector, "lines", arr, "next", (json_int_t)next));
	free(lr);
}

static void
logs_woken(void *arg)
{
	struct logs_req	*lr = arg;
	json_t		*arr;

	if (lr->r->gone) {
		rest_reply(lr->r, 200, NULL);
		free(lr);
		return;
	}
	arr = logs_query(lr);
	if (arr == NULL)
		free(lr);
	else
		logs_answer(lr, arr);
}

/* Reads the query parameters into lr->q; false: answered 400. */
static bool
logs_params(struct rest *r, struct logs_req *lr, int64_t *wait)
{
	const char	*level = rest_query(r, "level");
	const char	*since = rest_query(r, "since");
	char		 why[256];
	int64_t		 limit, after, before;

	if (!rest_query_int(r, "limit", 1, STORE_LOGS_LIST_MAX,
	    LOGS_LIMIT_DEFAULT, &limit) || !rest_query_int(r, "after", 0,
	    INT64_MAX, 0, &after) || !rest_query_int(r, "before", 0,
	    INT64_MAX, 0, &before) || !rest_query_int(r, "wait", 0,
	    LOGS_WAIT_MAX, 0, wait))
		return false;
	lr->q.limit = (int)limit;
	lr->q.after_id = after;
	lr->q.before_id = before;
	lr->q.q = rest_query(r, "q");
	if (lr->q.q != NULL && strlen(lr->q.q) > 256) {
		rest_fail(r, 400, "bad-field", "the query parameter q is longer "
		    "than 256 bytes");
		return false;
	}
	lr->q.max_level = level != NULL ? logs_level_parse(level) : 0;
	if (lr->q.max_level < 0) {
		rest_fail(r, 400, "bad-field", "the query parameter level must "
		    "be error, warn, info or debug");
		return false;
	}
	if (since != NULL && logs_since_parse(since, r->now, &lr->q.since_ms,
	    why, sizeof(why)) != 0) {
		rest_fail(r, 400, "bad-field", "the query parameter since: %s",
		    why);
		return false;
	}
	if (*wait > 0 && rest_query(r, "after") == NULL) {
		rest_fail(r, 400, "bad-field", "wait needs after (the id of the "
		    "last line you have, 0 for none)");
		return false;
	}
	return true;
}

/* The connector of path segment 1, which must exist; false: 404. */
static bool
logs_connector(struct rest *r, char id[STORE_ID_MAX + 1])
{
	struct store_connector	 sc;
	char			 err[256];
	int			 rc;

	rc = store_connector_get(r->c->dd.st, r->seg[1], &sc, err,
	    sizeof(err));
	if (rc == UPLINK_ENOTFOUND) {
		rest_fail(r, 404, "not-found", "there is no connector \"%.40s\"",
		    r->seg[1]);
		return false;
	}
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return false;
	}
	snprintf(id, STORE_ID_MAX + 1, "%s", sc.id);
	return true;
}

void
rest_connector_logs(struct rest *r)
{
	struct logs_req	*lr;
	json_t		*arr;
	int64_t		 wait;

	lr = xcalloc(1, sizeof(*lr));
	lr->r = r;
	if (!logs_params(r, lr, &wait) || !logs_connector(r, lr->connector)) {
		free(lr);
		return;
	}
	lr->q.connector = lr->connector;
	arr = logs_query(lr);
	if (arr == NULL) {
		free(lr);
		return;
	}
	if (json_array_size(arr) > 0 || wait == 0) {
		logs_answer(lr, arr);
		return;
	}
	json_decref(arr);
	if (logs_wait(r->c, lr->connector, (int)wait * 1000, logs_woken,
	    lr) != 0) {
		rest_fail(r, 503, "busy", "too many live tails are open (at "
		    "most %d); try again later", LOGS_WAITERS_MAX);
		free(lr);
	}
}

static int
event_row_cb(void *arg, const struct store_event *e)
{
	json_array_append_new(arg, json_pack("{s:I, s:I, s:s, s:s?, s:s?, "
	    "s:s, s:s}", "id", (json_int_t)e->id, "at", (json_int_t)e->at,
	    "connector", e->connector_id, "connector_name",
	    e->connector_name[0] ? e->connector_name : NULL, "site",
	    e->site[0] ? e->site : NULL, "kind", e->kind, "detail",
	    e->detail));
	return 0;
}

static void
events_reply(struct rest *r, const char *connector, const char *site)
{
	json_t	*arr;
	char	 err[256];
	int64_t	 limit, before;
	int	 rc;

	if (!rest_query_int(r, "limit", 1, STORE_EVENTS_LIST_MAX, 100,
	    &limit) || !rest_query_int(r, "before", 0, INT64_MAX, 0, &before))
		return;
	arr = json_array();
	rc = store_events_list(r->c->dd.st, connector, site, before,
	    (int)limit, event_row_cb, arr, err, sizeof(err));
	if (rc != UPLINK_OK) {
		json_decref(arr);
		rest_store_fail(r, rc, err);
		return;
	}
	rest_reply(r, 200, json_pack("{s:o}", "events", arr));
}

void
rest_connector_events(struct rest *r)
{
	char	 id[STORE_ID_MAX + 1];

	if (logs_connector(r, id))
		events_reply(r, id, NULL);
}

void
rest_site_events(struct rest *r)
{
	int64_t	 site_id;
	char	 err[256];
	int	 rc;

	rc = store_site_find(r->c->dd.st, r->seg[1], &site_id, err,
	    sizeof(err));
	if (rc == UPLINK_ENOTFOUND)
		rest_fail(r, 404, "not-found", "there is no site \"%.64s\"",
		    r->seg[1]);
	else if (rc != UPLINK_OK)
		rest_store_fail(r, rc, err);
	else
		events_reply(r, NULL, r->seg[1]);
}
