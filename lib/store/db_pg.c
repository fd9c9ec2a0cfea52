/*
 * The PostgreSQL backend of lib/store/db.h, through libpq's asynchronous
 * API so that no call waits longer than its deadline: a query is sent
 * with PQsendQueryParams() and its results read while poll() waits on
 * the socket with the time left. A call that fails for want of the
 * server, or whose deadline passes, closes the connection and opens the
 * circuit breaker: further calls fail at once (DB_E_UNAVAIL) until the
 * backoff (0.5 s doubling to 30 s) has passed, when the next call tries
 * to connect again, also under a deadline. docs/internals/store.md says
 * what that costs the event loop.
 *
 * Statements keep SQLite's "?N" parameters; prepare rewrites them to
 * "$N". Parameters go as text (numbers in decimal) or binary (blobs);
 * results come as text, so numbers are parsed and bytea is decoded from
 * its hex form here.
 */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "db.h"
#include "log.h"

#define PG_PARAMS	32
#define PG_BACKOFF_MIN	500
#define PG_BACKOFF_MAX	30000
#define PG_TEXTOID	25
#define PG_INT8OID	20
#define PG_BYTEAOID	17

struct pgdb {
	struct db	 base;
	PGconn		*conn;
	char		*conninfo;
	char		*password;
	int		 timeout_ms;
	int64_t		 changes;
	int64_t		 rowid;
	enum db_err	 code;
	char		 msg[512];
	bool		 txn_lost;	/* the connection died in a transaction */
	bool		 in_block;	/* a transaction was open before the call */
	bool		 down;		/* the breaker is open */
	bool		 frozen;	/* tests: every call times out */
	int64_t		 retry_at;	/* ms, monotonic */
	int		 backoff_ms;
};

struct pgstmt {
	struct db_stmt	 base;
	char		*sql;
	int		 nparams;
	char		*vals[PG_PARAMS];
	int		 lens[PG_PARAMS];
	int		 fmts[PG_PARAMS];
	unsigned int	 types[PG_PARAMS];
	PGresult	*res;
	int		 row;		/* the next row step returns */
	bool		 ran;
	unsigned char	*blob;		/* the last decoded bytea */
	size_t		 bloblen;
	int		 blob_row, blob_col;	/* whose it is */
};

static struct pgdb *
pg(struct db *db)
{
	return (struct pgdb *)(void *)db;
}

static struct pgstmt *
pst(struct db_stmt *s)
{
	return (struct pgstmt *)(void *)s;
}

static int64_t
pg_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
pg_fail(struct pgdb *p, enum db_err code, const char *why)
{
	size_t	 n;

	p->code = code;
	snprintf(p->msg, sizeof(p->msg), "%s", why != NULL ? why : "");
	/* libpq's messages end with a newline. */
	n = strlen(p->msg);
	while (n > 0 && (p->msg[n - 1] == '\n' || p->msg[n - 1] == ' '))
		p->msg[--n] = '\0';
	return DB_FAIL;
}

/*
 * Drops the connection and opens the breaker. why is already in p->msg;
 * the first failure is logged, later ones only counted by the backoff.
 */
static void
pg_lost(struct pgdb *p)
{
	if (p->conn != NULL && p->in_block)
		p->txn_lost = true;
	p->in_block = false;
	PQfinish(p->conn);
	p->conn = NULL;
	if (!p->down)
		log_warnx("database unavailable: %s; retrying in the "
		    "background with backoff", p->msg);
	p->down = true;
	p->backoff_ms = p->backoff_ms == 0 ? PG_BACKOFF_MIN :
	    p->backoff_ms * 2 > PG_BACKOFF_MAX ? PG_BACKOFF_MAX :
	    p->backoff_ms * 2;
	p->retry_at = pg_now_ms() + p->backoff_ms;
	p->code = DB_E_UNAVAIL;
}

/* Waits for fd to be ready for events until deadline; 0 on time out. */
static int
pg_poll(int fd, short events, int64_t deadline)
{
	struct pollfd	 pfd = { fd, events, 0 };
	int64_t		 left;
	int		 n;

	for (;;) {
		left = deadline - pg_now_ms();
		if (left <= 0)
			return 0;
		n = poll(&pfd, 1, (int)left);
		if (n >= 0 || errno != EINTR)
			return n;
	}
}

/* Starts connecting (non-blocking) with p's parameters; NULL: no memory. */
static PGconn *
pg_connect_start(struct pgdb *p)
{
	const char *keys[] = { "dbname", "password", "connect_timeout",
	    "keepalives", "keepalives_idle", "keepalives_interval",
	    "keepalives_count", "tcp_user_timeout", "application_name",
	    "options", NULL };
	const char *vals[] = { p->conninfo, p->password, "5", "1", "10", "5",
	    "3", "10000", "uplink-cloud",
	    "-c synchronous_commit=on -c client_min_messages=warning", NULL };

	if (p->password == NULL) {
		keys[1] = "application_name";
		vals[1] = "uplink-cloud";
	}
	return PQconnectStartParams(keys, vals, 1);
}

/* Connects under the deadline; DB_OK or DB_FAIL with the breaker open. */
static int
pg_connect(struct pgdb *p)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	int64_t		 deadline = pg_now_ms() + p->timeout_ms;
	bool		 was_down = p->down;

	p->conn = pg_connect_start(p);
	if (p->conn == NULL)
		return pg_fail(p, DB_E_NOMEM, "out of memory");
	while (PQstatus(p->conn) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
	    st != PGRES_POLLING_FAILED) {
		if (p->frozen || pg_poll(PQsocket(p->conn),
		    st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
		    deadline) <= 0) {
			p->code = DB_E_UNAVAIL;
			snprintf(p->msg, sizeof(p->msg), "connecting timed out "
			    "after %d ms", p->timeout_ms);
			pg_lost(p);
			return DB_FAIL;
		}
		st = PQconnectPoll(p->conn);
	}
	if (PQstatus(p->conn) != CONNECTION_OK) {
		pg_fail(p, DB_E_UNAVAIL, PQerrorMessage(p->conn));
		pg_lost(p);
		return DB_FAIL;
	}
	if (PQsetnonblocking(p->conn, 1) != 0) {
		pg_fail(p, DB_E_UNAVAIL, PQerrorMessage(p->conn));
		pg_lost(p);
		return DB_FAIL;
	}
	if (was_down)
		log_info("database is back (%s on %s)", PQdb(p->conn),
		    PQhost(p->conn));
	p->down = false;
	p->backoff_ms = 0;
	return DB_OK;
}

/* Fails at once while the breaker is open; reconnects after backoff. */
static int
pg_ready(struct pgdb *p)
{
	if (p->txn_lost)
		return pg_fail(p, DB_E_UNAVAIL, "the connection to the "
		    "database was lost in a transaction");
	if (p->conn != NULL) {
		p->in_block = PQtransactionStatus(p->conn) == PQTRANS_INTRANS ||
		    PQtransactionStatus(p->conn) == PQTRANS_INERROR;
		return DB_OK;
	}
	if (pg_now_ms() < p->retry_at) {
		p->code = DB_E_UNAVAIL;
		return DB_FAIL;
	}
	return pg_connect(p);
}

static enum db_err
pg_state_code(const char *state)
{
	if (state == NULL)
		return DB_E_OTHER;
	if (strcmp(state, "23505") == 0)
		return DB_E_UNIQUE;
	if (strcmp(state, "23503") == 0)
		return DB_E_FOREIGN;
	if (strcmp(state, "53100") == 0)
		return DB_E_FULL;
	if (strcmp(state, "53200") == 0)
		return DB_E_NOMEM;
	if (strncmp(state, "28", 2) == 0 || strcmp(state, "42501") == 0)
		return DB_E_PERM;
	if (strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
		return DB_E_BUSY;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
		return DB_E_UNAVAIL;
	return DB_E_OTHER;
}

/*
 * Waits for the results of the query just sent, under the deadline, and
 * returns the last one (the first failed one, if any) in *out.
 */
static int
pg_collect(struct pgdb *p, PGresult **out)
{
	int64_t		 deadline = pg_now_ms() + p->timeout_ms;
	PGresult	*r, *keep = NULL;
	int		 f;

	*out = NULL;
	for (;;) {
		f = PQflush(p->conn);
		if (f < 0)
			goto lost;
		while (f == 0 && !PQisBusy(p->conn)) {
			r = PQgetResult(p->conn);
			if (r == NULL) {
				*out = keep;
				return DB_OK;
			}
			if (keep != NULL && (PQresultStatus(keep) ==
			    PGRES_FATAL_ERROR)) {
				PQclear(r);
				continue;
			}
			PQclear(keep);
			keep = r;
		}
		if (p->frozen || pg_poll(PQsocket(p->conn), POLLIN |
		    (f > 0 ? POLLOUT : 0), deadline) <= 0) {
			PQclear(keep);
			snprintf(p->msg, sizeof(p->msg), "no answer from the "
			    "database within %d ms", p->timeout_ms);
			pg_lost(p);
			return DB_FAIL;
		}
		if (PQconsumeInput(p->conn) == 0)
			goto lost;
	}
lost:
	PQclear(keep);
	pg_fail(p, DB_E_UNAVAIL, PQerrorMessage(p->conn));
	pg_lost(p);
	return DB_FAIL;
}

/* Judges a result: DB_OK, or DB_FAIL with the code and message kept. */
static int
pg_judge(struct pgdb *p, PGresult *r)
{
	const char	*n;

	if (r == NULL)
		return pg_fail(p, DB_E_OTHER, "no result");
	switch (PQresultStatus(r)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		n = PQcmdTuples(r);
		p->changes = n != NULL && *n != '\0' ? strtoll(n, NULL, 10) : 0;
		p->code = DB_E_NONE;
		return DB_OK;
	default:
		pg_fail(p, pg_state_code(PQresultErrorField(r,
		    PG_DIAG_SQLSTATE)), PQresultErrorMessage(r));
		if (p->code == DB_E_UNAVAIL)
			pg_lost(p);
		return DB_FAIL;
	}
}

/*
 * "?12" becomes "$12"; a bare "?" takes the next number. At most 4 bytes
 * out per byte in (a bare "?" of a statement with 32 parameters: "$32").
 */
static char *
pg_rewrite(const char *sql, int *nparams)
{
	size_t	 len = strlen(sql), i, o = 0;
	char	*out = malloc(len * 4 + 16);
	int	 next = 1, n, max = 0;
	bool	 quoted = false;

	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (sql[i] == '\'')
			quoted = !quoted;
		if (sql[i] != '?' || quoted) {
			out[o++] = sql[i];
			continue;
		}
		if (sql[i + 1] >= '0' && sql[i + 1] <= '9') {
			n = (int)strtol(sql + i + 1, NULL, 10);
			while (sql[i + 1] >= '0' && sql[i + 1] <= '9')
				i++;
		} else
			n = next;
		next = n + 1;
		if (n > max)
			max = n;
		o += (size_t)snprintf(out + o, len * 4 + 16 - o, "$%d", n);
	}
	out[o] = '\0';
	*nparams = max;
	return out;
}

static int
pgdb_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	struct pgdb	*p = pg(db);
	struct pgstmt	*s;

	if (pg_ready(p) != DB_OK)
		return DB_FAIL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return pg_fail(p, DB_E_NOMEM, "out of memory");
	s->base.db = db;
	s->sql = pg_rewrite(sql, &s->nparams);
	if (s->sql == NULL || s->nparams > PG_PARAMS) {
		free(s->sql);
		free(s);
		return pg_fail(p, DB_E_OTHER, "cannot prepare a statement");
	}
	*out = &s->base;
	return DB_OK;
}

static int
pg_bind(struct pgstmt *s, int i, char *v, int len, int fmt, unsigned type)
{
	if (i < 1 || i > s->nparams) {
		free(v);
		return DB_FAIL;
	}
	free(s->vals[i - 1]);
	s->vals[i - 1] = v;
	s->lens[i - 1] = len;
	s->fmts[i - 1] = fmt;
	s->types[i - 1] = type;
	return DB_OK;
}

static int
pgdb_bind_text(struct db_stmt *st, int i, const char *v)
{
	char	*c = strdup(v);

	if (c == NULL)
		return DB_FAIL;
	return pg_bind(pst(st), i, c, 0, 0, PG_TEXTOID);
}

static int
pgdb_bind_null(struct db_stmt *st, int i)
{
	return pg_bind(pst(st), i, NULL, 0, 0, 0);
}

static int
pgdb_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	char	*c = malloc(24);

	if (c == NULL)
		return DB_FAIL;
	snprintf(c, 24, "%" PRId64, v);
	return pg_bind(pst(st), i, c, 0, 0, PG_INT8OID);
}

static int
pgdb_bind_blob(struct db_stmt *st, int i, const void *v, size_t len)
{
	char	*c = malloc(len + 1);

	if (c == NULL)
		return DB_FAIL;
	memcpy(c, v, len);
	return pg_bind(pst(st), i, c, (int)len, 1, PG_BYTEAOID);
}

static int
pgdb_step(struct db_stmt *st)
{
	struct pgstmt	*s = pst(st);
	struct pgdb	*p = pg(st->db);
	PGresult	*r;

	if (!s->ran) {
		s->ran = true;
		if (pg_ready(p) != DB_OK)
			return DB_FAIL;
		if (PQsendQueryParams(p->conn, s->sql, s->nparams, s->types,
		    (const char *const *)s->vals, s->lens, s->fmts, 0) == 0) {
			pg_fail(p, DB_E_UNAVAIL, PQerrorMessage(p->conn));
			pg_lost(p);
			return DB_FAIL;
		}
		if (pg_collect(p, &r) != DB_OK)
			return DB_FAIL;
		if (pg_judge(p, r) != DB_OK) {
			PQclear(r);
			return DB_FAIL;
		}
		s->res = r;
		s->row = 0;
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			s->row = -1;
	} else if (s->res == NULL)
		return DB_FAIL;
	if (PQresultStatus(s->res) != PGRES_TUPLES_OK)
		return DB_DONE;
	s->row++;
	return s->row < PQntuples(s->res) ? DB_ROW : DB_DONE;
}

static const char *
pgdb_column_text(struct db_stmt *st, int i)
{
	struct pgstmt	*s = pst(st);

	if (s->res == NULL || s->row < 0 || s->row >= PQntuples(s->res) ||
	    i >= PQnfields(s->res) || PQgetisnull(s->res, s->row, i))
		return NULL;
	return PQgetvalue(s->res, s->row, i);
}

static int64_t
pgdb_column_int64(struct db_stmt *st, int i)
{
	const char	*t = pgdb_column_text(st, i);

	if (t == NULL)
		return 0;
	if (strcmp(t, "t") == 0)
		return 1;
	return strtoll(t, NULL, 10);
}

static int
pg_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Decodes bytea's "\x..." text into the statement's buffer, which stays
 * valid until another column or row is decoded (as SQLite's pointers do:
 * column_bytes after column_blob must not move it).
 */
static const void *
pgdb_column_blob(struct db_stmt *st, int i)
{
	struct pgstmt	*s = pst(st);
	const char	*t = pgdb_column_text(st, i);
	size_t		 n, k;

	if (s->blob != NULL && s->blob_row == s->row && s->blob_col == i)
		return s->blob;
	free(s->blob);
	s->blob_row = s->row;
	s->blob_col = i;
	s->blob = NULL;
	s->bloblen = 0;
	if (t == NULL)
		return NULL;
	if (PQftype(s->res, i) != PG_BYTEAOID || strncmp(t, "\\x", 2) != 0) {
		s->bloblen = strlen(t);
		s->blob = (unsigned char *)strdup(t);
		return s->blob;
	}
	n = (strlen(t) - 2) / 2;
	s->blob = malloc(n + 1);
	if (s->blob == NULL)
		return NULL;
	for (k = 0; k < n; k++)
		s->blob[k] = (unsigned char)(pg_hex(t[2 + 2 * k]) << 4 |
		    pg_hex(t[3 + 2 * k]));
	s->bloblen = n;
	return s->blob;
}

static int
pgdb_column_bytes(struct db_stmt *st, int i)
{
	struct pgstmt	*s = pst(st);

	if (s->res != NULL && PQftype(s->res, i) == PG_BYTEAOID) {
		pgdb_column_blob(st, i);
		return (int)s->bloblen;
	}
	return s->res != NULL && s->row >= 0 && s->row < PQntuples(s->res) ?
	    PQgetlength(s->res, s->row, i) : 0;
}

static void
pgdb_finalize(struct db_stmt *st)
{
	struct pgstmt	*s = pst(st);
	int		 i;

	for (i = 0; i < PG_PARAMS; i++)
		free(s->vals[i]);
	PQclear(s->res);
	free(s->blob);
	free(s->sql);
	free(s);
}

static int64_t
pgdb_changes(struct db *db)
{
	return pg(db)->changes;
}

/* lastval(): the identity value the last INSERT of this session took. */
static int64_t
pgdb_last_insert_rowid(struct db *db)
{
	struct db_stmt	*s;
	int64_t		 v = 0;

	if (pgdb_prepare(db, "SELECT lastval()", &s) != DB_OK)
		return 0;
	if (pgdb_step(s) == DB_ROW)
		v = pgdb_column_int64(s, 0);
	pgdb_finalize(s);
	return v;
}

static int
pgdb_exec(struct db *db, const char *sql)
{
	struct pgdb	*p = pg(db);
	PGresult	*r;
	int		 rc;

	/* A rollback always succeeds in closing what the loss ended. */
	if (p->txn_lost && strcmp(sql, "ROLLBACK") == 0) {
		p->txn_lost = false;
		return DB_OK;
	}
	if (pg_ready(p) != DB_OK)
		return DB_FAIL;
	if (PQsendQuery(p->conn, sql) == 0) {
		pg_fail(p, DB_E_UNAVAIL, PQerrorMessage(p->conn));
		pg_lost(p);
		return DB_FAIL;
	}
	if (pg_collect(p, &r) != DB_OK)
		return DB_FAIL;
	rc = pg_judge(p, r);
	PQclear(r);
	return rc;
}

static const char *
pgdb_errmsg(struct db *db)
{
	struct pgdb	*p = pg(db);

	if (p->code == DB_E_UNAVAIL && p->down && p->msg[0] != '\0')
		return p->msg;
	return p->msg[0] != '\0' ? p->msg : "unknown error";
}

static enum db_err
pgdb_errcode(struct db *db)
{
	return pg(db)->code;
}

static bool
pgdb_in_txn(struct db *db)
{
	struct pgdb	*p = pg(db);

	return p->txn_lost || (p->conn != NULL &&
	    PQtransactionStatus(p->conn) != PQTRANS_IDLE);
}

static void
pgdb_close(struct db *db)
{
	struct pgdb	*p = pg(db);

	PQfinish(p->conn);
	free(p->conninfo);
	if (p->password != NULL)
		explicit_bzero(p->password, strlen(p->password));
	free(p->password);
	free(p);
}

static const struct db_ops pgdb_ops = {
	pgdb_prepare, pgdb_bind_text, pgdb_bind_null, pgdb_bind_int64,
	pgdb_bind_blob, pgdb_step, pgdb_column_int64, pgdb_column_text,
	pgdb_column_blob, pgdb_column_bytes, pgdb_finalize, pgdb_changes,
	pgdb_last_insert_rowid, pgdb_exec, pgdb_errmsg, pgdb_errcode,
	pgdb_in_txn, pgdb_close,
};

int
db_pg_open(const char *conninfo, const char *password, int timeout_ms,
    struct db **out)
{
	struct pgdb	*p;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return DB_FAIL;
	p->base.ops = &pgdb_ops;
	p->base.kind = DB_PG;
	p->timeout_ms = timeout_ms;
	*out = &p->base;
	p->conninfo = strdup(conninfo);
	if (password != NULL)
		p->password = strdup(password);
	if (p->conninfo == NULL || (password != NULL && p->password == NULL))
		return pg_fail(p, DB_E_NOMEM, "out of memory");
	/* The first connection is not a recovery: no "is back" line. */
	return pg_connect(p);
}

void *
db_pg_connect_start(struct db *db)
{
	if (db->kind != DB_PG)
		return NULL;
	return pg_connect_start(pg(db));
}

int
db_pg_timeout_ms(struct db *db)
{
	return db->kind == DB_PG ? pg(db)->timeout_ms : 0;
}

#ifdef UPLINK_UNITTEST
void
db_pg_test_freeze(struct db *db, bool on)
{
	if (db->kind == DB_PG)
		pg(db)->frozen = on;
}
#endif
