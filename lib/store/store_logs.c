/*
 * Connector logs and events (schema version 9): the lines the cloud
 * collects from its connectors (cloud/logs.c) and each connector's
 * timeline. Lines arrive in batches and are written one transaction per
 * batch; reads filter by level, time and text in SQL; retention deletes
 * by age and, per connector, by size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "input.h"
#include "store.h"
#include "store_impl.h"

/* Text as it may go into a row: valid UTF-8, no control characters. */
static void
store_logs_clean(char *s)
{
	unsigned char	*p = (unsigned char *)s;

	input_utf8_clean(s);
	for (; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

static int
store_log_insert(struct store *st, const struct store_log *l, char *err,
    size_t errlen)
{
	struct db_stmt	*stmt;
	char		 msg[STORE_LOG_MSG_MAX + 1];
	int		 rc;

	snprintf(msg, sizeof(msg), "%s", l->msg);
	store_logs_clean(msg);
	rc = store_prepare(st, "INSERT INTO connector_logs(connector_id, boot, "
	    "seq, at, level, dropped, msg) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
	    "ON CONFLICT (connector_id, boot, seq) DO NOTHING",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((store_str(stmt, 1, l->connector_id) | store_str(stmt, 2,
	    l->boot) | db_bind_int64(stmt, 3, l->seq) | db_bind_int64(stmt, 4,
	    l->at_ms) | db_bind_int64(stmt, 5, l->level) | db_bind_int64(stmt,
	    6, l->dropped) | store_str(stmt, 7, msg)) != DB_OK ||
	    db_step(stmt) != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "storing a log line of "
		    "connector %s", l->connector_id);
	db_finalize(stmt);
	return rc;
}

int
store_logs_add(struct store *st, const struct store_log *v, size_t n,
    char *err, size_t errlen)
{
	size_t	 i;
	int	 rc;

	if (n == 0)
		return UPLINK_OK;
	rc = store_begin(st, err, errlen);
	for (i = 0; rc == UPLINK_OK && i < n; i++)
		rc = store_log_insert(st, &v[i], err, errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	if (rc != UPLINK_OK)
		store_rollback(st);
	return rc;
}

struct store_last {
	char	*boot;
	int64_t	*seq;
};

static int
store_logs_last_row(struct db_stmt *stmt, void *arg)
{
	struct store_last	*l = arg;

	store_column(stmt, 0, l->boot, STORE_LOG_BOOT_MAX + 1);
	*l->seq = db_column_int64(stmt, 1);
	return 1;
}

int
store_logs_last(struct store *st, const char *connector,
    char boot[STORE_LOG_BOOT_MAX + 1], int64_t *seq, char *err,
    size_t errlen)
{
	struct store_last	 l = { boot, seq };
	struct db_stmt		*stmt;
	int			 rc;

	boot[0] = '\0';
	*seq = 0;
	rc = store_prepare(st, "SELECT boot, seq FROM connector_logs WHERE "
	    "connector_id = ?1 ORDER BY id DESC LIMIT 1", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (store_str(stmt, 1, connector) != DB_OK) {
		db_finalize(stmt);
		return store_sqlfail(st, err, errlen, "reading the last log "
		    "line of connector %s", connector);
	}
	rc = store_walk(st, stmt, store_logs_last_row, &l, "reading the last "
	    "log line", err, errlen);
	return rc == 1 ? UPLINK_OK : rc;
}

struct store_log_walk {
	store_log_cb	 cb;
	void		*arg;
	struct store_log *l;
};

static int
store_log_row(struct db_stmt *stmt, void *arg)
{
	struct store_log_walk	*w = arg;
	struct store_log	*l = w->l;

	l->id = db_column_int64(stmt, 0);
	store_column(stmt, 1, l->connector_id, sizeof(l->connector_id));
	store_column(stmt, 2, l->boot, sizeof(l->boot));
	l->seq = db_column_int64(stmt, 3);
	l->at_ms = db_column_int64(stmt, 4);
	l->level = (int)db_column_int64(stmt, 5);
	l->dropped = db_column_int64(stmt, 6);
	store_column(stmt, 7, l->msg, sizeof(l->msg));
	return w->cb(w->arg, l);
}

/* "%text%" for LIKE, with %, _ and \ escaped, lowercased (ASCII). */
static void
store_like_pattern(const char *q, char *out, size_t outlen)
{
	size_t	 o = 0;

	out[o++] = '%';
	for (; *q != '\0' && o + 4 < outlen; q++) {
		if (*q == '%' || *q == '_' || *q == '\\')
			out[o++] = '\\';
		out[o++] = *q >= 'A' && *q <= 'Z' ? (char)(*q - 'A' + 'a') :
		    *q;
	}
	out[o++] = '%';
	out[o] = '\0';
}

int
store_logs_list(struct store *st, const struct store_log_query *q,
    store_log_cb cb, void *arg, char *err, size_t errlen)
{
	struct store_log_walk	 w = { cb, arg, NULL };
	struct db_stmt		*stmt;
	char			 pat[2 * 256 + 8];
	int			 rc;
	bool			 tail = q->after_id > 0;

	if (q->limit < 1 || q->limit > STORE_LOGS_LIST_MAX)
		return store_msg(UPLINK_EINVAL, err, errlen, "listing log "
		    "lines: a limit of %d is out of range; use 1 to %d",
		    q->limit, STORE_LOGS_LIST_MAX);
	if (q->q != NULL && strlen(q->q) > 256)
		return store_msg(UPLINK_EINVAL, err, errlen, "listing log "
		    "lines: the search text is longer than 256 bytes");
	store_like_pattern(q->q != NULL ? q->q : "", pat, sizeof(pat));
	rc = store_prepare(st, tail ?
	    "SELECT id, connector_id, boot, seq, at, level, dropped, msg FROM "
	    "connector_logs WHERE connector_id = ?1 AND id > ?2 AND id < ?3 "
	    "AND at >= ?4 AND level <= ?5 AND lower(msg) LIKE ?6 ESCAPE '\\' "
	    "ORDER BY id LIMIT ?7" :
	    "SELECT id, connector_id, boot, seq, at, level, dropped, msg FROM "
	    "connector_logs WHERE connector_id = ?1 AND id > ?2 AND id < ?3 "
	    "AND at >= ?4 AND level <= ?5 AND lower(msg) LIKE ?6 ESCAPE '\\' "
	    "ORDER BY id DESC LIMIT ?7", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((store_str(stmt, 1, q->connector) | db_bind_int64(stmt, 2,
	    q->after_id) | db_bind_int64(stmt, 3, q->before_id > 0 ?
	    q->before_id : INT64_MAX) | db_bind_int64(stmt, 4, q->since_ms) |
	    db_bind_int64(stmt, 5, q->max_level > 0 ? q->max_level : 7) |
	    store_str(stmt, 6, pat) | db_bind_int64(stmt, 7, q->limit)) !=
	    DB_OK) {
		db_finalize(stmt);
		return store_sqlfail(st, err, errlen, "listing log lines");
	}
	w.l = malloc(sizeof(*w.l));
	if (w.l == NULL) {
		db_finalize(stmt);
		return store_msg(UPLINK_ENOMEM, err, errlen, "listing log "
		    "lines: out of memory");
	}
	rc = store_walk(st, stmt, store_log_row, &w, "listing log lines", err,
	    errlen);
	free(w.l);
	return rc;
}

/* Runs a DELETE with up to two bindings, adding what it deleted. */
static int
store_delete(struct store *st, const char *sql, const char *text,
    int64_t num, int64_t *deleted, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc, b;

	rc = store_prepare(st, sql, &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	b = text != NULL ? store_str(stmt, 1, text) | db_bind_int64(stmt, 2,
	    num) : db_bind_int64(stmt, 1, num);
	if (b != DB_OK || db_step(stmt) != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "applying the log "
		    "retention");
	else
		*deleted += db_changes(st->db);
	db_finalize(stmt);
	return rc;
}

int
store_logs_prune(struct store *st, int64_t older_ms, const char *connector,
    int64_t max_bytes, int64_t *deleted, char *err, size_t errlen)
{
	int	 rc = UPLINK_OK;

	*deleted = 0;
	if (older_ms > 0)
		rc = store_delete(st, "DELETE FROM connector_logs WHERE at < ?1",
		    NULL, older_ms, deleted, err, errlen);
	if (rc == UPLINK_OK && connector != NULL)
		rc = store_delete(st, "DELETE FROM connector_logs WHERE "
		    "connector_id = ?1 AND id <= (SELECT id FROM (SELECT id, "
		    "sum(length(msg) + 64) OVER (ORDER BY id DESC) AS total "
		    "FROM connector_logs WHERE connector_id = ?1) AS w WHERE "
		    "total > ?2 ORDER BY id DESC LIMIT 1)", connector,
		    max_bytes, deleted, err, errlen);
	return rc;
}

static int
store_event_insert(struct store *st, int64_t at, const char *connector,
    const char *kind, const char *detail, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	char		 text[STORE_TEXT_MAX + 1];
	int		 rc;

	snprintf(text, sizeof(text), "%s", detail != NULL ? detail : "");
	store_logs_clean(text);
	rc = store_prepare(st, "INSERT INTO connector_events(at, connector_id, "
	    "site_id, kind, detail) VALUES (?1, ?2, (SELECT site_id FROM "
	    "connectors WHERE id = ?2), ?3, ?4)", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((db_bind_int64(stmt, 1, at != 0 ? at : time(NULL)) |
	    store_str(stmt, 2, connector) | store_str(stmt, 3, kind) |
	    store_str(stmt, 4, text)) != DB_OK || db_step(stmt) != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "recording event %s of "
		    "connector %s", kind, connector);
	db_finalize(stmt);
	return rc;
}

int
store_event_add(struct store *st, const char *connector, const char *kind,
    const char *detail, char *err, size_t errlen)
{
	return store_event_insert(st, 0, connector, kind, detail, err, errlen);
}

int
store_events_add(struct store *st, const struct store_event *v, size_t n,
    char *err, size_t errlen)
{
	size_t	 i;
	int	 rc;

	if (n == 0)
		return UPLINK_OK;
	rc = store_begin(st, err, errlen);
	for (i = 0; rc == UPLINK_OK && i < n; i++)
		rc = store_event_insert(st, v[i].at, v[i].connector_id,
		    v[i].kind, v[i].detail, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	if (rc != UPLINK_OK)
		store_rollback(st);
	return rc;
}

struct store_event_walk {
	store_event_cb	 cb;
	void		*arg;
};

static int
store_event_row(struct db_stmt *stmt, void *arg)
{
	struct store_event_walk	*w = arg;
	struct store_event	 e;

	memset(&e, 0, sizeof(e));
	e.id = db_column_int64(stmt, 0);
	e.at = db_column_int64(stmt, 1);
	store_column(stmt, 2, e.connector_id, sizeof(e.connector_id));
	store_column(stmt, 3, e.connector_name, sizeof(e.connector_name));
	store_column(stmt, 4, e.site, sizeof(e.site));
	store_column(stmt, 5, e.kind, sizeof(e.kind));
	store_column(stmt, 6, e.detail, sizeof(e.detail));
	return w->cb(w->arg, &e);
}

int
store_events_list(struct store *st, const char *connector, const char *site,
    int64_t before, int limit, store_event_cb cb, void *arg, char *err,
    size_t errlen)
{
	struct store_event_walk	 w = { cb, arg };
	struct db_stmt		*stmt;
	int			 rc;

	if (limit < 1 || limit > STORE_EVENTS_LIST_MAX)
		return store_msg(UPLINK_EINVAL, err, errlen, "listing events: "
		    "a limit of %d is out of range; use 1 to %d", limit,
		    STORE_EVENTS_LIST_MAX);
	rc = store_prepare(st, connector != NULL ?
	    "SELECT e.id, e.at, e.connector_id, c.name, s.name, e.kind, "
	    "e.detail FROM connector_events e LEFT JOIN connectors c ON "
	    "c.id = e.connector_id LEFT JOIN sites s ON s.id = e.site_id "
	    "WHERE e.connector_id = ?1 AND e.id < ?2 ORDER BY e.id DESC "
	    "LIMIT ?3" :
	    "SELECT e.id, e.at, e.connector_id, c.name, s.name, e.kind, "
	    "e.detail FROM connector_events e LEFT JOIN connectors c ON "
	    "c.id = e.connector_id JOIN sites s ON s.id = e.site_id "
	    "WHERE s.name = ?1 AND e.id < ?2 ORDER BY e.id DESC LIMIT ?3",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((store_str(stmt, 1, connector != NULL ? connector : site) |
	    db_bind_int64(stmt, 2, before > 0 ? before : INT64_MAX) |
	    db_bind_int64(stmt, 3, limit)) != DB_OK) {
		db_finalize(stmt);
		return store_sqlfail(st, err, errlen, "listing events");
	}
	return store_walk(st, stmt, store_event_row, &w, "listing events", err,
	    errlen);
}

int
store_events_prune(struct store *st, int64_t older, int64_t *deleted,
    char *err, size_t errlen)
{
	*deleted = 0;
	return store_delete(st, "DELETE FROM connector_events WHERE at < ?1",
	    NULL, older, deleted, err, errlen);
}
