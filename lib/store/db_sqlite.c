/*
 * The SQLite backend of lib/store/db.h: a thin skin over sqlite3, whose
 * model (numbered parameters, stepping rows) the layer copies.
 */

#include <stdlib.h>

#include <sqlite3.h>

#include "db.h"

struct sdb {
	struct db	 base;
	sqlite3		*h;
};

struct sstmt {
	struct db_stmt	 base;
	sqlite3_stmt	*s;
};

static sqlite3 *
sdb_h(struct db *db)
{
	return ((struct sdb *)(void *)db)->h;
}

static sqlite3_stmt *
sst(struct db_stmt *s)
{
	return ((struct sstmt *)(void *)s)->s;
}

static int
sdb_rc(int rc)
{
	switch (rc) {
	case SQLITE_OK:
		return DB_OK;
	case SQLITE_ROW:
		return DB_ROW;
	case SQLITE_DONE:
		return DB_DONE;
	}
	return DB_FAIL;
}

static int
sdb_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	struct sstmt	*st;

	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return DB_FAIL;
	st->base.db = db;
	if (sqlite3_prepare_v2(sdb_h(db), sql, -1, &st->s, NULL) !=
	    SQLITE_OK) {
		free(st);
		return DB_FAIL;
	}
	*out = &st->base;
	return DB_OK;
}

static int
sdb_bind_text(struct db_stmt *s, int i, const char *v)
{
	return sdb_rc(sqlite3_bind_text(sst(s), i, v, -1, SQLITE_TRANSIENT));
}

static int
sdb_bind_null(struct db_stmt *s, int i)
{
	return sdb_rc(sqlite3_bind_null(sst(s), i));
}

static int
sdb_bind_int64(struct db_stmt *s, int i, int64_t v)
{
	return sdb_rc(sqlite3_bind_int64(sst(s), i, v));
}

static int
sdb_bind_blob(struct db_stmt *s, int i, const void *v, size_t len)
{
	return sdb_rc(sqlite3_bind_blob(sst(s), i, v, (int)len,
	    SQLITE_TRANSIENT));
}

static int
sdb_step(struct db_stmt *s)
{
	return sdb_rc(sqlite3_step(sst(s)));
}

static int64_t
sdb_column_int64(struct db_stmt *s, int i)
{
	return sqlite3_column_int64(sst(s), i);
}

static const char *
sdb_column_text(struct db_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(sst(s), i);
}

static const void *
sdb_column_blob(struct db_stmt *s, int i)
{
	return sqlite3_column_blob(sst(s), i);
}

static int
sdb_column_bytes(struct db_stmt *s, int i)
{
	return sqlite3_column_bytes(sst(s), i);
}

static void
sdb_finalize(struct db_stmt *s)
{
	sqlite3_finalize(sst(s));
	free(s);
}

static int64_t
sdb_changes(struct db *db)
{
	return sqlite3_changes(sdb_h(db));
}

static int64_t
sdb_last_insert_rowid(struct db *db)
{
	return sqlite3_last_insert_rowid(sdb_h(db));
}

static int
sdb_exec(struct db *db, const char *sql)
{
	return sdb_rc(sqlite3_exec(sdb_h(db), sql, NULL, NULL, NULL));
}

static const char *
sdb_errmsg(struct db *db)
{
	return sdb_h(db) != NULL ? sqlite3_errmsg(sdb_h(db)) : "out of memory";
}

static enum db_err
sdb_errcode(struct db *db)
{
	int	 code;

	if (sdb_h(db) == NULL)
		return DB_E_NOMEM;
	code = sqlite3_extended_errcode(sdb_h(db));
	switch (code) {
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return DB_E_FOREIGN;
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_UNIQUE:
		return DB_E_UNIQUE;
	}
	switch (code & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return DB_E_NONE;
	case SQLITE_NOMEM:
		return DB_E_NOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return DB_E_BUSY;
	case SQLITE_FULL:
		return DB_E_FULL;
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return DB_E_PERM;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return DB_E_CORRUPT;
	case SQLITE_IOERR:
		return DB_E_IO;
	}
	return DB_E_OTHER;
}

static bool
sdb_in_txn(struct db *db)
{
	return !sqlite3_get_autocommit(sdb_h(db));
}

static void
sdb_close(struct db *db)
{
	/* Every statement is finalized where it was prepared. */
	sqlite3_close(sdb_h(db));
	free(db);
}

static const struct db_ops sdb_ops = {
	sdb_prepare, sdb_bind_text, sdb_bind_null, sdb_bind_int64,
	sdb_bind_blob, sdb_step, sdb_column_int64, sdb_column_text,
	sdb_column_blob, sdb_column_bytes, sdb_finalize, sdb_changes,
	sdb_last_insert_rowid, sdb_exec, sdb_errmsg, sdb_errcode, sdb_in_txn,
	sdb_close,
};

int
db_sqlite_open(const char *path, struct db **out)
{
	struct sdb	*d;
	int		 flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_EXRESCODE;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return DB_FAIL;
	d->base.ops = &sdb_ops;
	d->base.kind = DB_SQLITE;
	*out = &d->base;
	return sdb_rc(sqlite3_open_v2(path, &d->h, flags, NULL));
}

#ifdef UPLINK_UNITTEST
void *
db_sqlite_handle(struct db *db)
{
	return db->kind == DB_SQLITE ? sdb_h(db) : NULL;
}
#endif
