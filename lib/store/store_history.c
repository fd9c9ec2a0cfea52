/*
 * History (docs/api.md, "History"): what each connector's tunnels did,
 * one row per connector and minute, kept bounded.
 *
 * Rows are written by store_connectors_seen(), in its transaction, so the
 * bytes the history shows are exactly those added to the connectors'
 * totals, and the cloud writes once a minute for all connectors, never
 * per stream. A minute's row is an upsert: several writes in one minute
 * (a tunnel closing, a test's shorter interval) add their counts and keep
 * the largest gauges.
 *
 * store_history_prune() merges one-minute rows older than a day into
 * ten-minute rows (sums for counts, maxima for gauges, the round trips'
 * sum and count so the average stays exact) and deletes rows older than
 * seven days: per connector at most 1,440 + 864 rows.
 */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "store.h"
#include "store_impl.h"

/* The larger of the row's and the new value, in both dialects. */
#define HIST_MAX(c) c " = CASE WHEN excluded." c " > history." c \
	" THEN excluded." c " ELSE history." c " END"
#define HIST_ADD(c) c " = history." c " + excluded." c
#define HIST_MERGE \
	" ON CONFLICT (connector_id, span, at) DO UPDATE SET " \
	HIST_MAX("tunnels") ", " HIST_MAX("streams") ", " HIST_ADD("opened") \
	", " HIST_ADD("bytes_in") ", " HIST_ADD("bytes_out") ", " \
	HIST_ADD("rtt_sum") ", " HIST_ADD("rtt_n") ", " HIST_MAX("rtt_max")

/* Values past this are not believable for one write. */
#define HIST_SANE	(INT64_MAX / 4)

int
store_history_add(struct store *st, const struct store_seen *s, char *err,
    size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	if (s->opened > HIST_SANE || s->rtt_sum_ms > HIST_SANE ||
	    s->rtt_max_ms > HIST_SANE || s->bytes_in > HIST_SANE ||
	    s->bytes_out > HIST_SANE)
		return store_msg(UPLINK_EINVAL, err, errlen, "connector %s: "
		    "history counts out of range", s->id);
	/* Through SELECT: an id no longer there is skipped, not an error. */
	rc = store_prepare(st, "INSERT INTO history (connector_id, span, at, "
	    "tunnels, streams, opened, bytes_in, bytes_out, rtt_sum, rtt_n, "
	    "rtt_max) SELECT id, 60, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 FROM "
	    "connectors WHERE id = ?1" HIST_MERGE, &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_write(st, stmt, store_str(stmt, 1, s->id) |
	    db_bind_int64(stmt, 2, s->at - s->at % STORE_HISTORY_FINE) |
	    db_bind_int64(stmt, 3, s->tunnels) |
	    db_bind_int64(stmt, 4, s->streams) |
	    db_bind_int64(stmt, 5, (int64_t)s->opened) |
	    db_bind_int64(stmt, 6, (int64_t)s->bytes_in) |
	    db_bind_int64(stmt, 7, (int64_t)s->bytes_out) |
	    db_bind_int64(stmt, 8, (int64_t)s->rtt_sum_ms) |
	    db_bind_int64(stmt, 9, s->rtt_n) |
	    db_bind_int64(stmt, 10, (int64_t)s->rtt_max_ms),
	    "recording history", NULL, NULL, err, errlen);
}

/* Runs sql with ?1 = a, ?2 = b; *n: rows changed. */
static int
hist_exec(struct store *st, const char *sql, int64_t a, int64_t b,
    int64_t *n, const char *what, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, sql, &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = store_write(st, stmt, db_bind_int64(stmt, 1, a) |
	    db_bind_int64(stmt, 2, b), what, NULL, NULL, err, errlen);
	if (rc == UPLINK_OK && n != NULL)
		*n = db_changes(st->db);
	return rc;
}

int
store_history_prune(struct store *st, int64_t now, int64_t *merged,
    int64_t *deleted, char *err, size_t errlen)
{
	int64_t	 cut;
	int	 rc;

	/* On a bucket boundary: a ten-minute row is made once, whole. */
	cut = now - STORE_HISTORY_FINE_KEEP;
	cut -= cut % STORE_HISTORY_COARSE;
	*merged = *deleted = 0;
	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = hist_exec(st, "INSERT INTO history (connector_id, span, "
		    "at, tunnels, streams, opened, bytes_in, bytes_out, rtt_sum, "
		    "rtt_n, rtt_max) SELECT connector_id, ?2, (at / ?2) * ?2, "
		    "max(tunnels), max(streams), sum(opened), sum(bytes_in), "
		    "sum(bytes_out), sum(rtt_sum), sum(rtt_n), max(rtt_max) FROM "
		    "history WHERE span = 60 AND at < ?1 GROUP BY connector_id, "
		    "(at / ?2) * ?2" HIST_MERGE, cut, STORE_HISTORY_COARSE, NULL,
		    "merging old history rows", err, errlen);
	if (rc == UPLINK_OK)
		rc = hist_exec(st, "DELETE FROM history WHERE span = 60 AND "
		    "at < ?1 AND ?2 = ?2", cut, 0, merged, "deleting merged "
		    "history rows", err, errlen);
	if (rc == UPLINK_OK)
		rc = hist_exec(st, "DELETE FROM history WHERE at < ?1 AND "
		    "?2 = ?2", now - STORE_HISTORY_KEEP, 0, deleted,
		    "deleting expired history rows", err, errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	store_rollback(st);
	return rc;
}

struct hist_walk {
	store_history_cb	 cb;
	void			*arg;
};

static int
hist_row(struct db_stmt *stmt, void *arg)
{
	struct hist_walk		*w = arg;
	struct store_history_point	 p;

	memset(&p, 0, sizeof(p));
	p.at = db_column_int64(stmt, 0);
	p.tunnels = db_column_int64(stmt, 1);
	p.streams = db_column_int64(stmt, 2);
	p.opened = db_column_int64(stmt, 3);
	p.bytes_in = db_column_int64(stmt, 4);
	p.bytes_out = db_column_int64(stmt, 5);
	p.rtt_sum_ms = db_column_int64(stmt, 6);
	p.rtt_n = db_column_int64(stmt, 7);
	p.rtt_max_ms = db_column_int64(stmt, 8);
	return w->cb(w->arg, &p);
}

int
store_history_get(struct store *st, const char *connector, int64_t site_id,
    int64_t from, int64_t to, int64_t step, store_history_cb cb, void *arg,
    char *err, size_t errlen)
{
	struct hist_walk	 w = { cb, arg };
	struct db_stmt		*stmt;
	int			 rc;

	if (step < STORE_HISTORY_FINE || step % STORE_HISTORY_FINE != 0 ||
	    from > to)
		return store_msg(UPLINK_EINVAL, err, errlen, "history: step "
		    "%lld or range %lld..%lld is invalid", (long long)step,
		    (long long)from, (long long)to);
	/*
	 * The inner query adds the connectors' rows of each minute (the
	 * tunnels a site had up at once), the outer one folds the minutes
	 * into steps: largest gauges, summed counts.
	 */
	rc = store_prepare(st, "SELECT (x.at / ?5) * ?5, max(x.t), max(x.s), "
	    "sum(x.o), sum(x.bi), sum(x.bo), sum(x.rs), sum(x.rn), max(x.rm) "
	    "FROM (SELECT h.at AS at, sum(h.tunnels) AS t, sum(h.streams) AS "
	    "s, sum(h.opened) AS o, sum(h.bytes_in) AS bi, sum(h.bytes_out) AS "
	    "bo, sum(h.rtt_sum) AS rs, sum(h.rtt_n) AS rn, max(h.rtt_max) AS "
	    "rm FROM history h JOIN connectors c ON c.id = h.connector_id "
	    "WHERE (?1 = '' OR c.id = ?1) AND (?2 = 0 OR c.site_id = ?2) AND "
	    "h.at >= ?3 AND h.at < ?4 GROUP BY h.at) x GROUP BY 1 ORDER BY 1",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((store_str(stmt, 1, connector != NULL ? connector : "") |
	    db_bind_int64(stmt, 2, site_id) | db_bind_int64(stmt, 3, from) |
	    db_bind_int64(stmt, 4, to) | db_bind_int64(stmt, 5, step)) !=
	    DB_OK) {
		db_finalize(stmt);
		return store_sqlfail(st, err, errlen, "reading history");
	}
	return store_walk(st, stmt, hist_row, &w, "reading history", err,
	    errlen);
}
