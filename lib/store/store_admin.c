/*
 * Administrators of the console and API and their console sessions, part
 * of the cloud database (lib/store.h): the rows only. The cloud hashes
 * passwords (libsodium's crypto_pwhash_str) and session secrets (SHA-256)
 * before they get here, so neither a password nor a cookie's secret is
 * ever stored. Two rules live here because they must hold for every
 * caller: there is always an administrator with the role "full", and a
 * new password ends the administrator's other sessions.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "error.h"
#include "store.h"
#include "store_impl.h"

#define STORE_ADMIN_SELECT \
	"SELECT id, email, role, pwhash, created_at, last_sign_in FROM admins"
#define STORE_KNOWN_KEY		"admin_addresses_%lld"
#define STORE_KNOWN_TEXT	2048
#define STORE_SESSION_LOST \
	"it expired or was signed out; sign in again"

static int
store_no_admin(int64_t id, char *err, size_t errlen)
{
	return store_msg(UPLINK_ENOTFOUND, err, errlen, "no administrator has "
	    "the id %lld", (long long)id);
}

static int
store_role_check(const char *role, char *err, size_t errlen)
{
	if (strcmp(role, "full") == 0 || strcmp(role, "read") == 0)
		return UPLINK_OK;
	return store_msg(UPLINK_EINVAL, err, errlen, "administrator role "
	    "\"%.8s\" is neither \"full\" nor \"read\"", role);
}

static int
store_pwhash_check(const char *pwhash, char *err, size_t errlen)
{
	if (store_text_check("password hash", pwhash, STORE_PWHASH_MAX, false,
	    err, errlen))
		return UPLINK_OK;
	return UPLINK_EINVAL;
}

/* NAME@DOMAIN on one line without spaces; the caller verifies it works. */
static int
store_email_check(const char *email, char *err, size_t errlen)
{
	const char	*at;

	if (!store_line_check("e-mail address", email, STORE_EMAIL_MAX, false,
	    err, errlen))
		return UPLINK_EINVAL;
	at = strchr(email, '@');
	if (at == NULL || at == email || at[1] == '\0' ||
	    strchr(email, ' ') != NULL)
		return store_msg(UPLINK_EINVAL, err, errlen, "\"%s\" is not an "
		    "e-mail address: use NAME@DOMAIN", email);
	return UPLINK_OK;
}

static int
store_count(struct store *st, const char *sql, int64_t *n, const char *what,
    char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, sql, &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (db_step(stmt) == DB_ROW)
		*n = db_column_int64(stmt, 0);
	else
		rc = store_sqlfail(st, err, errlen, "%s", what);
	db_finalize(stmt);
	return rc;
}

int
store_admin_add(struct store *st, const struct store_admin *a, int64_t *id,
    char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	char		 what[STORE_EMAIL_MAX + 32];
	int		 rc;

	rc = store_email_check(a->email, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_role_check(a->role, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_pwhash_check(a->pwhash, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_prepare(st, "INSERT INTO admins(email, role, pwhash, "
		    "created_at, last_sign_in) VALUES (?1, ?2, ?3, ?4, ?5)",
		    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	snprintf(what, sizeof(what), "adding administrator %s", a->email);
	rc = store_write(st, stmt, store_str(stmt, 1, a->email) |
	    store_str(stmt, 2, a->role) | store_str(stmt, 3, a->pwhash) |
	    db_bind_int64(stmt, 4, a->created_at != 0 ? a->created_at :
	    time(NULL)) | store_num(stmt, 5, a->last_sign_in), what, "an "
	    "administrator has this e-mail address already (compared without "
	    "regard to case)", NULL, err, errlen);
	if (rc == UPLINK_OK && id != NULL)
		*id = db_last_insert_rowid(st->db);
	return rc;
}

static void
store_admin_read(struct db_stmt *stmt, void *arg)
{
	struct store_admin	*a = arg;

	memset(a, 0, sizeof(*a));
	a->id = db_column_int64(stmt, 0);
	store_column(stmt, 1, a->email, sizeof(a->email));
	store_column(stmt, 2, a->role, sizeof(a->role));
	store_column(stmt, 3, a->pwhash, sizeof(a->pwhash));
	a->created_at = db_column_int64(stmt, 4);
	a->last_sign_in = db_column_int64(stmt, 5);
}

int
store_admin_get(struct store *st, int64_t id, struct store_admin *out,
    char *err, size_t errlen)
{
	int	 rc;

	rc = store_get_by_id(st, STORE_ADMIN_SELECT " WHERE id = ?1", id,
	    store_admin_read, out, "reading an administrator", err, errlen);
	if (rc == UPLINK_ENOTFOUND)
		rc = store_no_admin(id, err, errlen);
	return rc;
}

/* Text that cannot be an address is not quoted back: it may be anything. */
int
store_admin_find(struct store *st, const char *email,
    struct store_admin *out, char *err, size_t errlen)
{
	int	 rc;

	if (!store_line_check("e-mail address", email, STORE_EMAIL_MAX, false,
	    NULL, 0))
		return store_msg(UPLINK_ENOTFOUND, err, errlen, "no "
		    "administrator has this e-mail address");
	rc = store_get_one(st, STORE_ADMIN_SELECT " WHERE email = ?1", email,
	    store_admin_read, out, "looking up an administrator", err, errlen);
	if (rc == UPLINK_ENOTFOUND)
		rc = store_msg(rc, err, errlen, "no administrator has the "
		    "e-mail address \"%s\"", email);
	return rc;
}

static int
store_admin_row(struct db_stmt *stmt, void *arg)
{
	struct store_cb		*cb = arg;
	struct store_admin	 a;

	store_admin_read(stmt, &a);
	return cb->fn.admin(cb->arg, &a);
}

int
store_admin_list(struct store *st, store_admin_cb fn, void *arg, char *err,
    size_t errlen)
{
	struct store_cb	 cb = { .fn.admin = fn, .arg = arg };
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, STORE_ADMIN_SELECT " ORDER BY id", &stmt, err,
	    errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_walk(st, stmt, store_admin_row, &cb,
	    "listing administrators", err, errlen);
}

int
store_admin_count(struct store *st, int64_t *n, char *err, size_t errlen)
{
	return store_count(st, "SELECT count(*) FROM admins", n,
	    "counting administrators", err, errlen);
}

/*
 * Refuses to demote or remove a, read in the caller's transaction, when
 * it is the last administrator with the role "full": nobody would be left
 * who could manage administrators, and only the command line could undo
 * it.
 */
static int
store_last_full(struct store *st, const struct store_admin *a,
    const char *doing, char *err, size_t errlen)
{
	int64_t	 n = 0;
	int	 rc;

	if (strcmp(a->role, "full") != 0)
		return UPLINK_OK;
	rc = store_count(st, "SELECT count(*) FROM admins WHERE role = 'full'",
	    &n, "counting administrators", err, errlen);
	if (rc == UPLINK_OK && n <= 1)
		rc = store_msg(UPLINK_EINVAL, err, errlen, "cannot %s "
		    "administrator %lld (%s): it is the last one with the role "
		    "\"full\"; give another administrator the role \"full\" "
		    "first", doing, (long long)a->id, a->email);
	return rc;
}

/* Ends the administrator's sessions but keep (NULL: all of them). */
static int
store_sessions_end(struct store *st, int64_t admin_id,
    const unsigned char *keep, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, "DELETE FROM sessions WHERE admin_id = ?1 AND "
	    "(hash <> ?2 OR ?2 IS NULL)", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_write(st, stmt, db_bind_int64(stmt, 1, admin_id) |
	    (keep != NULL ? db_bind_blob(stmt, 2, keep, STORE_HASH_LEN) : DB_OK), "ending the sessions of an "
	    "administrator", NULL, NULL, err, errlen);
}

/* ---- addresses an administrator signed in from ---- */

/*
 * Kept as one settings row per administrator, "TIME/ADDRESS,...", newest
 * first, at most STORE_ADMIN_KNOWN_MAX: a row in a table the schema has
 * already, so no migration is needed. Its value is never shown.
 */
static void
store_known_column(struct db_stmt *stmt, void *arg)
{
	store_column(stmt, 0, arg, STORE_KNOWN_TEXT);
}

static void
store_known_key(int64_t id, char *key, size_t keylen)
{
	snprintf(key, keylen, STORE_KNOWN_KEY, (long long)id);
}

static int
store_known_read(struct store *st, int64_t id, char out[STORE_KNOWN_TEXT],
    char *err, size_t errlen)
{
	char	 key[48];
	int	 rc;

	out[0] = '\0';
	store_known_key(id, key, sizeof(key));
	rc = store_get_one(st, "SELECT value FROM settings WHERE key = ?1", key,
	    store_known_column, out, "reading the addresses of an "
	    "administrator", err, errlen);
	return rc == UPLINK_ENOTFOUND ? UPLINK_OK : rc;
}

/* Calls fn for each "TIME/ADDRESS" of text; stops when it returns false. */
static void
store_known_each(const char *text, bool (*fn)(void *, int64_t,
    const char *, size_t), void *arg)
{
	const char	*p = text, *slash, *end;
	char		*num_end;
	long long	 t;

	while (*p != '\0') {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		slash = memchr(p, '/', (size_t)(end - p));
		t = strtoll(p, &num_end, 10);
		if (slash != NULL && num_end == slash &&
		    !fn(arg, t, slash + 1, (size_t)(end - slash - 1)))
			return;
		p = *end == ',' ? end + 1 : end;
	}
}

struct store_known_q {
	const char	*addr;
	int64_t		 since;
	bool		 found;
	char		*out;		/* rebuilding: the new text */
	size_t		 outlen, n;
};

static bool
store_known_match(void *arg, int64_t t, const char *addr, size_t len)
{
	struct store_known_q	*q = arg;

	if (t >= q->since && strlen(q->addr) == len &&
	    strncasecmp(q->addr, addr, len) == 0)
		q->found = true;
	return !q->found;
}

int
store_admin_known(struct store *st, int64_t id, const char *addr,
    int64_t since, bool *known, char *err, size_t errlen)
{
	struct store_known_q	 q = { .addr = addr, .since = since };
	char			 text[STORE_KNOWN_TEXT];
	int			 rc;

	*known = false;
	rc = store_known_read(st, id, text, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	store_known_each(text, store_known_match, &q);
	*known = q.found && addr[0] != '\0';
	return UPLINK_OK;
}

static bool
store_known_keep(void *arg, int64_t t, const char *addr, size_t len)
{
	struct store_known_q	*q = arg;
	size_t			 used = strlen(q->out);

	if (q->n >= STORE_ADMIN_KNOWN_MAX)
		return false;
	if (t < q->since || (strlen(q->addr) == len &&
	    strncasecmp(q->addr, addr, len) == 0))
		return true;
	snprintf(q->out + used, q->outlen - used, ",%lld/%.*s", (long long)t,
	    (int)len, addr);
	q->n++;
	return true;
}

int
store_admin_known_add(struct store *st, int64_t id, const char *addr,
    int64_t now, int64_t since, char *err, size_t errlen)
{
	char			 old[STORE_KNOWN_TEXT], text[STORE_KNOWN_TEXT];
	char			 key[48];
	struct store_known_q	 q = { .addr = addr, .since = since,
				       .out = text, .outlen = sizeof(text) };
	struct db_stmt	*stmt;
	int			 rc;

	if (!store_line_check("sign-in address", addr, STORE_ADDR_MAX, false,
	    err, errlen) || strpbrk(addr, ",/") != NULL)
		return store_msg(UPLINK_EINVAL, err, errlen, "\"%s\" is not an "
		    "address", addr);
	rc = store_known_read(st, id, old, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	snprintf(text, sizeof(text), "%lld/%s", (long long)now, addr);
	q.n = 1;
	store_known_each(old, store_known_keep, &q);
	store_known_key(id, key, sizeof(key));
	rc = store_prepare(st, "INSERT INTO settings(key, value) VALUES (?1, "
	    "?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", &stmt,
	    err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_write(st, stmt, store_str(stmt, 1, key) | store_str(stmt,
	    2, text), "recording the address of a sign-in", NULL, NULL, err,
	    errlen);
}

/* Forgets them (a new password, a removed administrator). */
static int
store_known_forget(struct store *st, int64_t id, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	char		 key[48];
	int		 rc;

	store_known_key(id, key, sizeof(key));
	rc = store_prepare(st, "DELETE FROM settings WHERE key = ?1", &stmt,
	    err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_write(st, stmt, store_str(stmt, 1, key), "forgetting the "
	    "addresses of an administrator", NULL, NULL, err, errlen);
}

/* Writes the new role and/or hash, in the caller's transaction. */
static int
store_admin_set(struct store *st, int64_t id, const char *role,
    const char *pwhash, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, "UPDATE admins SET role = coalesce(?2, role), "
	    "pwhash = coalesce(?3, pwhash) WHERE id = ?1", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_write(st, stmt, db_bind_int64(stmt, 1, id) |
	    (role != NULL ? store_str(stmt, 2, role) : DB_OK) |
	    (pwhash != NULL ? store_str(stmt, 3, pwhash) : DB_OK),
	    "changing an administrator", NULL, NULL, err, errlen);
}

int
store_admin_update(struct store *st, int64_t id, const char *role,
    const char *pwhash, const unsigned char *keep_session, char *err,
    size_t errlen)
{
	struct store_admin	 a;
	int			 rc = UPLINK_OK;

	if (role != NULL)
		rc = store_role_check(role, err, errlen);
	if (rc == UPLINK_OK && pwhash != NULL)
		rc = store_pwhash_check(pwhash, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_admin_get(st, id, &a, err, errlen);
	if (rc == UPLINK_OK && role != NULL && strcmp(role, "read") == 0)
		rc = store_last_full(st, &a, "demote", err, errlen);
	if (rc == UPLINK_OK)
		rc = store_admin_set(st, id, role, pwhash, err, errlen);
	if (rc == UPLINK_OK && pwhash != NULL)
		rc = store_sessions_end(st, id, keep_session, err, errlen);
	if (rc == UPLINK_OK && pwhash != NULL)
		rc = store_known_forget(st, id, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	store_rollback(st);
	return rc;
}

/* The sessions go with the row: ON DELETE CASCADE. */
int
store_admin_delete(struct store *st, int64_t id, char *err, size_t errlen)
{
	struct store_admin	 a;
	struct db_stmt	*stmt;
	int			 rc;

	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_admin_get(st, id, &a, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_last_full(st, &a, "remove", err, errlen);
	if (rc == UPLINK_OK)
		rc = store_prepare(st, "DELETE FROM admins WHERE id = ?1",
		    &stmt, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_write(st, stmt, db_bind_int64(stmt, 1, id),
		    "removing an administrator", NULL, NULL, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_known_forget(st, id, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	store_rollback(st);
	return rc;
}

/* ---- sessions ---- */

static int
store_session_check(const struct store_session *s, char *err, size_t errlen)
{
	size_t	 len = strnlen(s->csrf, sizeof(s->csrf));

	if (s->admin_id <= 0)
		return store_no_admin(s->admin_id, err, errlen);
	if (len == 0 || len == sizeof(s->csrf) || strspn(s->csrf,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
	    != len)
		return store_msg(UPLINK_EINVAL, err, errlen, "a session's CSRF "
		    "token must be 1 to %d base64url characters",
		    STORE_CSRF_SIZE - 1);
	if (!store_text_check("session address", s->address, STORE_ADDR_MAX,
	    true, err, errlen))
		return UPLINK_EINVAL;
	return UPLINK_OK;
}

static int
store_session_insert(struct store *st, const struct store_session *s,
    int64_t created, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	char		 what[80];
	int		 rc;

	rc = store_prepare(st, "INSERT INTO sessions(hash, admin_id, "
	    "created_at, last_active, csrf, address) VALUES (?1, ?2, ?3, ?4, "
	    "?5, ?6)", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	snprintf(what, sizeof(what), "adding a session for administrator "
	    "%lld", (long long)s->admin_id);
	return store_write(st, stmt, db_bind_blob(stmt, 1, s->hash,
	    STORE_HASH_LEN) | db_bind_int64(stmt, 2,
	    s->admin_id) | db_bind_int64(stmt, 3, created) |
	    db_bind_int64(stmt, 4, s->last_active != 0 ? s->last_active :
	    created) | store_str(stmt, 5, s->csrf) | store_opt(stmt, 6,
	    s->address), what, "this session exists already; draw a new "
	    "secret", "no such administrator", err, errlen);
}

int
store_session_add(struct store *st, const struct store_session *s,
    char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int64_t		 created;
	int		 rc;

	rc = store_session_check(s, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	created = s->created_at != 0 ? s->created_at : time(NULL);
	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_session_insert(st, s, created, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_prepare(st, "UPDATE admins SET last_sign_in = ?2 "
		    "WHERE id = ?1", &stmt, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_write(st, stmt, db_bind_int64(stmt, 1,
		    s->admin_id) | db_bind_int64(stmt, 2, created),
		    "recording a sign-in", NULL, NULL, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	store_rollback(st);
	return rc;
}

int
store_session_get(struct store *st, const unsigned char hash[STORE_HASH_LEN],
    struct store_session *out, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc, step;

	rc = store_prepare(st, "SELECT admin_id, created_at, last_active, "
	    "csrf, address FROM sessions WHERE hash = ?1", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	step = db_bind_blob(stmt, 1, hash, STORE_HASH_LEN);
	if (step == DB_OK)
		step = db_step(stmt);
	if (step == DB_ROW) {
		memset(out, 0, sizeof(*out));
		memcpy(out->hash, hash, STORE_HASH_LEN);
		out->admin_id = db_column_int64(stmt, 0);
		out->created_at = db_column_int64(stmt, 1);
		out->last_active = db_column_int64(stmt, 2);
		store_column(stmt, 3, out->csrf, sizeof(out->csrf));
		store_column(stmt, 4, out->address, sizeof(out->address));
	} else if (step == DB_DONE)
		rc = store_msg(UPLINK_ENOTFOUND, err, errlen, "no such "
		    "session: " STORE_SESSION_LOST);
	else
		rc = store_sqlfail(st, err, errlen, "reading a session");
	db_finalize(stmt);
	return rc;
}

/* Runs sql on the session (?1 = hash, ?2 = t); it must change one row. */
static int
store_session_change(struct store *st, const char *sql,
    const unsigned char *hash, int64_t t, const char *what, char *err,
    size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, sql, &stmt, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_write(st, stmt, db_bind_blob(stmt, 1, hash,
		    STORE_HASH_LEN) | db_bind_int64(stmt,
		    2, t), what, NULL, NULL, err, errlen);
	if (rc == UPLINK_OK && db_changes(st->db) == 0)
		rc = store_msg(UPLINK_ENOTFOUND, err, errlen, "%s: no such "
		    "session: " STORE_SESSION_LOST, what);
	return rc;
}

int
store_session_touch(struct store *st,
    const unsigned char hash[STORE_HASH_LEN], int64_t now, char *err,
    size_t errlen)
{
	return store_session_change(st, "UPDATE sessions SET last_active = ?2 "
	    "WHERE hash = ?1", hash, now, "recording session activity", err,
	    errlen);
}

int
store_session_delete(struct store *st,
    const unsigned char hash[STORE_HASH_LEN], char *err, size_t errlen)
{
	return store_session_change(st, "DELETE FROM sessions WHERE hash = ?1 "
	    "AND ?2 = 0", hash, 0, "signing out", err, errlen);
}

int
store_session_purge(struct store *st, int64_t created_before, char *err,
    size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, "DELETE FROM sessions WHERE created_at < ?1",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_write(st, stmt, db_bind_int64(stmt, 1,
	    created_before), "removing expired sessions", NULL, NULL, err,
	    errlen);
}

int
store_signin_fail(struct store *st, const char *key, int64_t now,
    int64_t window, int *n, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	*n = 0;
	if (!store_line_check("sign-in limit key", key, STORE_EMAIL_MAX + 4,
	    false, err, errlen))
		return UPLINK_EINVAL;
	rc = store_prepare(st, "DELETE FROM signin_failures WHERE last < ?1",
	    &stmt, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_write(st, stmt, db_bind_int64(stmt, 1, now - window),
		    "forgetting old failed sign-ins", NULL, NULL, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	/* One statement: two instances counting at once both count. */
	rc = store_prepare(st, "INSERT INTO signin_failures(key, n, last) "
	    "VALUES (?1, 1, ?2) ON CONFLICT(key) DO UPDATE SET n = CASE WHEN "
	    "signin_failures.last >= ?2 - ?3 THEN signin_failures.n + 1 "
	    "ELSE 1 END, last = ?2 RETURNING n", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((store_str(stmt, 1, key) | db_bind_int64(stmt, 2, now) |
	    db_bind_int64(stmt, 3, window)) != DB_OK ||
	    db_step(stmt) != DB_ROW)
		rc = store_sqlfail(st, err, errlen, "counting a failed sign-in");
	else
		*n = (int)db_column_int64(stmt, 0);
	db_finalize(stmt);
	return rc;
}

int
store_signin_get(struct store *st, const char *key, int64_t now,
    int64_t window, int *n, int64_t *last, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc, step;

	*n = 0;
	*last = 0;
	rc = store_prepare(st, "SELECT n, last FROM signin_failures WHERE "
	    "key = ?1 AND last >= ?2", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	step = store_str(stmt, 1, key) | db_bind_int64(stmt, 2, now - window);
	if (step == DB_OK)
		step = db_step(stmt);
	if (step == DB_ROW) {
		*n = (int)db_column_int64(stmt, 0);
		*last = db_column_int64(stmt, 1);
	} else if (step != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "reading failed sign-ins");
	db_finalize(stmt);
	return rc;
}
