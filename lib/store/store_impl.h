#ifndef UPLINK_STORE_IMPL_H
#define UPLINK_STORE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

#include "store.h"

/*
 * Private to lib/store*.c: the parts of the cloud database that its files
 * share, and nothing any other file may include. lib/store.c opens the
 * database, migrates it and keeps sites, settings and the CRL number, and
 * it defines the SQL helpers below; lib/store_token.c keeps enrollment
 * tokens, lib/store_connector.c connectors, their certificates and
 * enrollment, lib/store_apikey.c API keys, lib/store_admin.c administrators
 * and console sessions, lib/store_mgmt.c the rest of the management plane
 * (services, requirements, checks, notifications, the audit log). C has no
 * linkage between files
 * short of external linkage, so these helpers are not static; they are
 * declared only here, so nothing outside lib/store*.c knows them, and
 * lib/store.h stays the whole API. Each is documented where it is defined.
 */

/* pg_advisory_xact_lock() key of write transactions ("upl" "w"). */
#define STORE_PG_WRITE_LOCK	"7697772"
/* pg_advisory_lock() key held while migrating ("upl" "m"). */
#define STORE_PG_MIGRATE_LOCK	"7697773"
#define STORE_XSTR(x)		#x
#define STORE_STR(x)		STORE_XSTR(x)

#define STORE_WHEN_SIZE	80	/* "2025-01-02T03:04:05Z (1d2h ago)" */

/* The owner of a certificate serial, as last read (store_cert_lookup()). */
struct store_owner {
	char			 serial[STORE_SERIAL_MAX + 1];
	struct store_cert_owner	 owner;
};

#define STORE_OWNERS_MAX	16384	/* about 4 MiB at most */

struct store {
	struct db	*db;
	char	*path;
	/*
	 * The certificate owners looked up lately, so that connectors can
	 * still open tunnels while PostgreSQL is unavailable. Revocations
	 * reach it through store_revoked_serials(), which the cloud calls
	 * whenever the database changes (the CRL).
	 */
	struct store_owner *owners;
	size_t	 nowners, next_owner;
};

/* A list callback and its argument, for the row functions of store_walk. */
struct store_cb {
	union {
		store_token_cb	 token;
		store_apikey_cb	 apikey;
		store_site_cb	 site;
		store_admin_cb	 admin;
		store_service_cb service;
		store_requirement_cb requirement;
		store_check_cb	 check;
		store_note_cb	 note;
		store_audit_cb	 audit;
		store_instance_cb instance;
		store_location_cb location;
	}	 fn;
	void	*arg;
};

/* The PostgreSQL schema and its migration (lib/store/store_pg.c). */
extern const char *const store_pg_migrations[];
int store_pg_migrate(struct store *st, const char *const *steps,
    size_t nsteps, char *err, size_t errlen);

/* Messages (lib/store.c). */
int store_msg(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int store_sqlfail(struct store *st, char *err, size_t errlen, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));
const char *store_when(int64_t t, int64_t now, char buf[STORE_WHEN_SIZE]);
int store_insert_fail(struct store *st, const char *what, const char *dup,
    int64_t site_id, char *err, size_t errlen);

/* Checks (lib/store.c). */
bool store_text_check(const char *what, const char *s, size_t max,
    bool empty_ok, char *err, size_t errlen);

/* Statements, bindings and transactions (lib/store.c). */
int store_prepare(struct store *st, const char *sql, struct db_stmt **stmt,
    char *err, size_t errlen);
int store_str(struct db_stmt *stmt, int i, const char *s);
int store_opt(struct db_stmt *stmt, int i, const char *s);
int store_num(struct db_stmt *stmt, int i, int64_t v);
void store_column(struct db_stmt *stmt, int i, char *dst, size_t dstlen);
int store_exec(struct store *st, const char *sql, const char *what, char *err,
    size_t errlen);
int store_begin(struct store *st, char *err, size_t errlen);
int store_commit(struct store *st, char *err, size_t errlen);
void store_rollback(struct store *st);

/* Queries that follow a pattern (lib/store.c). */
int store_walk(struct store *st, struct db_stmt *stmt,
    int (*row)(struct db_stmt *, void *), void *arg, const char *what,
    char *err, size_t errlen);
int store_update(struct store *st, const char *sql, const char *id, int64_t t,
    const char *text, const char *what, char *err, size_t errlen);
int store_get_one(struct store *st, const char *sql, const char *key,
    void (*read)(struct db_stmt *, void *), void *out, const char *what,
    char *err, size_t errlen);

/* Management-plane helpers (lib/store_mgmt.c). */
bool store_line_check(const char *what, const char *s, size_t max,
    bool empty_ok, char *err, size_t errlen);
int store_get_by_id(struct store *st, const char *sql, int64_t key,
    void (*read)(struct db_stmt *, void *), void *out, const char *what,
    char *err, size_t errlen);
int store_write(struct store *st, struct db_stmt *stmt, int bind,
    const char *what, const char *dup, const char *missing, char *err,
    size_t errlen);

/* Token steps that store_enroll() runs in its transaction (store_token.c). */
void store_use_init(struct store_token_use *use);
int store_token_judge(struct store *st, const unsigned char *hash,
    int64_t now, struct store_token_use *use, char *err, size_t errlen);
int store_token_mark_used(struct store *st, const char *token_id,
    int64_t now, const char *connector_id, char *err, size_t errlen);

#endif
