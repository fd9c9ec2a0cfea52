#ifndef UPLINK_DB_H
#define UPLINK_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The SQL layer under lib/store*.c (private to them, like store_impl.h):
 * one connection, prepared statements with numbered parameters (?1, ?2),
 * rows stepped one at a time, as SQLite has them. Two backends implement
 * it through struct db_ops: lib/store/db_sqlite.c (an embedded file) and
 * lib/store/db_pg.c (PostgreSQL through libpq's asynchronous API, every
 * call under a deadline, with a circuit breaker; docs/internals/store.md).
 * The store's files write their SQL once; where the two dialects differ
 * they ask db_kind().
 */

enum db_kind {
	DB_SQLITE,
	DB_PG,
};

/* Results of db_step() and of the binds (DB_OK is 0, so binds OR). */
enum {
	DB_OK = 0,
	DB_FAIL = 1,
	DB_ROW = 100,
	DB_DONE = 101,
};

/* What went wrong with the last call, as far as a caller must tell. */
enum db_err {
	DB_E_NONE,
	DB_E_OTHER,
	DB_E_NOMEM,
	DB_E_UNIQUE,		/* a primary key or unique constraint */
	DB_E_FOREIGN,		/* a foreign key */
	DB_E_BUSY,		/* another writer held a lock too long */
	DB_E_FULL,
	DB_E_PERM,
	DB_E_CORRUPT,
	DB_E_IO,
	DB_E_UNAVAIL,		/* the server is unreachable or timed out */
	DB_E_NEWER,		/* reserved */
};

struct db;
struct db_stmt;

struct db_ops {
	int	(*prepare)(struct db *, const char *, struct db_stmt **);
	int	(*bind_text)(struct db_stmt *, int, const char *);
	int	(*bind_null)(struct db_stmt *, int);
	int	(*bind_int64)(struct db_stmt *, int, int64_t);
	int	(*bind_blob)(struct db_stmt *, int, const void *, size_t);
	int	(*step)(struct db_stmt *);
	int64_t	(*column_int64)(struct db_stmt *, int);
	const char *(*column_text)(struct db_stmt *, int);
	const void *(*column_blob)(struct db_stmt *, int);
	int	(*column_bytes)(struct db_stmt *, int);
	void	(*finalize)(struct db_stmt *);
	int64_t	(*changes)(struct db *);
	int64_t	(*last_insert_rowid)(struct db *);
	int	(*exec)(struct db *, const char *);
	const char *(*errmsg)(struct db *);
	enum db_err (*errcode)(struct db *);
	bool	(*in_txn)(struct db *);
	void	(*close)(struct db *);
};

/* The part every backend's connection and statement begin with. */
struct db {
	const struct db_ops	*ops;
	enum db_kind		 kind;
};

struct db_stmt {
	struct db	*db;
};

/*
 * Opens an SQLite file (created when missing) or connects to PostgreSQL
 * (conninfo: a postgresql:// URL or "key=value ..."; password, when not
 * NULL, is passed beside it). On failure *out may still be set, so that
 * db_errmsg() can say why; db_close() it either way.
 */
int db_sqlite_open(const char *path, struct db **out);
int db_pg_open(const char *conninfo, const char *password, int timeout_ms,
    struct db **out);

/*
 * A second PostgreSQL connection with db's parameters, connecting without
 * blocking (a PGconn *: drive it with PQconnectPoll()); NULL when db is
 * not PostgreSQL or out of memory. lib/store/store_listen.c LISTENs on it.
 */
void *db_pg_connect_start(struct db *db);
/* The deadline of one call (ms); 0 for SQLite. */
int db_pg_timeout_ms(struct db *db);

static inline enum db_kind db_kind(const struct db *db) { return db->kind; }

int db_prepare(struct db *db, const char *sql, struct db_stmt **stmt);
int db_bind_text(struct db_stmt *s, int i, const char *v);
int db_bind_null(struct db_stmt *s, int i);
int db_bind_int64(struct db_stmt *s, int i, int64_t v);
int db_bind_blob(struct db_stmt *s, int i, const void *v, size_t len);
int db_step(struct db_stmt *s);
int64_t db_column_int64(struct db_stmt *s, int i);
const char *db_column_text(struct db_stmt *s, int i);
const void *db_column_blob(struct db_stmt *s, int i);
int db_column_bytes(struct db_stmt *s, int i);
void db_finalize(struct db_stmt *s);
int64_t db_changes(struct db *db);
int64_t db_last_insert_rowid(struct db *db);
/* Runs SQL without parameters, possibly several statements. */
int db_exec(struct db *db, const char *sql);
const char *db_errmsg(struct db *db);
enum db_err db_errcode(struct db *db);
bool db_in_txn(struct db *db);
void db_close(struct db *db);

#ifdef UPLINK_UNITTEST
/* The sqlite3 handle of an SQLite connection, NULL otherwise. */
void *db_sqlite_handle(struct db *db);
/* Makes every PostgreSQL call time out at once while on (tests). */
void db_pg_test_freeze(struct db *db, bool on);
#endif

#endif
