/*
 * Dispatch of the SQL layer (lib/store/db.h) to the connection's backend.
 * Kept apart from the backends so that neither knows the other.
 */

#include "db.h"

int
db_prepare(struct db *db, const char *sql, struct db_stmt **stmt)
{
	*stmt = NULL;
	return db->ops->prepare(db, sql, stmt);
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
	return s->db->ops->step(s);
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
	if (s != NULL)
		s->db->ops->finalize(s);
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
	return db->ops->exec(db, sql);
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
