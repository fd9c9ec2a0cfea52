/*
 * Dispatch of the SQL layer (lib/store/db.h) to the connection's backend.
 * Kept apart from the backends so that neither knows the other.
 */

#include <string.h>
#include <time.h>

#include "db.h"

const int64_t db_timing_bounds_us[DB_TIMING_BUCKETS] = { 100, 250, 500,
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
    2500000 };
static struct db_timing	 timing;

static int64_t
db_now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
db_observe(int64_t us)
{
	size_t	 i;

	if (us < 0)
		us = 0;
	for (i = 0; i < DB_TIMING_BUCKETS && us > db_timing_bounds_us[i]; i++)
		;
	timing.bucket[i]++;
	timing.count++;
	timing.sum_us += (uint64_t)us;
}

void
db_timing_get(struct db_timing *out)
{
	memcpy(out, &timing, sizeof(*out));
}

int
db_prepare(struct db *db, const char *sql, struct db_stmt **stmt)
{
	int64_t	 t0 = db_now_us();
	int	 rc;

	*stmt = NULL;
	rc = db->ops->prepare(db, sql, stmt);
	if (*stmt != NULL)
		(*stmt)->spent_us = db_now_us() - t0;
	else
		db_observe(db_now_us() - t0);
	return rc;
}

int
db_bind_text(struct db_stmt *s, int i, const char *v)
{
	return s->db->ops->bind_text(s, i, v);
}

int
db_bind_null(struct db_stmt *s, int i)
{
	return s->db->ops->bind_null(s, i);
}

int
db_bind_int64(struct db_stmt *s, int i, int64_t v)
{
	return s->db->ops->bind_int64(s, i, v);
}

int
db_bind_blob(struct db_stmt *s, int i, const void *v, size_t len)
{
	return s->db->ops->bind_blob(s, i, v, len);
}

int
db_step(struct db_stmt *s)
{
	int64_t	 t0 = db_now_us();
	int	 rc;

	rc = s->db->ops->step(s);
	s->spent_us += db_now_us() - t0;
	return rc;
}

int64_t
db_column_int64(struct db_stmt *s, int i)
{
	return s->db->ops->column_int64(s, i);
}

const char *
db_column_text(struct db_stmt *s, int i)
{
	return s->db->ops->column_text(s, i);
}

const void *
db_column_blob(struct db_stmt *s, int i)
{
	return s->db->ops->column_blob(s, i);
}

int
db_column_bytes(struct db_stmt *s, int i)
{
	return s->db->ops->column_bytes(s, i);
}

void
db_finalize(struct db_stmt *s)
{
	int64_t	 t0;

	if (s == NULL)
		return;
	t0 = db_now_us() - s->spent_us;
	s->db->ops->finalize(s);
	db_observe(db_now_us() - t0);
}

int64_t
db_changes(struct db *db)
{
	return db->ops->changes(db);
}

int64_t
db_last_insert_rowid(struct db *db)
{
	return db->ops->last_insert_rowid(db);
}

int
db_exec(struct db *db, const char *sql)
{
	int64_t	 t0 = db_now_us();
	int	 rc;

	rc = db->ops->exec(db, sql);
	db_observe(db_now_us() - t0);
	return rc;
}

const char *
db_errmsg(struct db *db)
{
	return db->ops->errmsg(db);
}

enum db_err
db_errcode(struct db *db)
{
	return db->ops->errcode(db);
}

bool
db_in_txn(struct db *db)
{
	return db->ops->in_txn(db);
}

void
db_close(struct db *db)
{
	if (db != NULL)
		db->ops->close(db);
}
