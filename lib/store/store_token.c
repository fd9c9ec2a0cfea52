/*
 * Enrollment tokens, part of the cloud database (lib/store.h). Only the
 * SHA-256 of a token's secret is stored. Using a token up is a check and
 * a write in one IMMEDIATE transaction; store_enroll() in
 * lib/store_connector.c runs the same two steps, store_token_judge() and
 * store_token_mark_used(), inside its own.
 */

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "store.h"
#include "store_impl.h"
#include "token.h"

_Static_assert(STORE_HASH_LEN == TOKEN_HASH_LEN, "token hashes are stored");
_Static_assert(TOKEN_ID_SIZE <= STORE_ID_MAX + 1, "token ids are stored");

int
store_token_add(struct store *st, int64_t site_id, const char *token_id,
    const unsigned char hash[STORE_HASH_LEN], int64_t expires_at, char *err,
    size_t errlen)
{
	struct db_stmt	*stmt;
	char		 what[96];
	int		 rc;

	if (!store_text_check("token id", token_id, STORE_ID_MAX, false, err,
	    errlen))
		return UPLINK_EINVAL;
	rc = store_prepare(st, "INSERT INTO enrollment_tokens(id, site_id, "
	    "secret_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	snprintf(what, sizeof(what), "adding token %s", token_id);
	if ((store_str(stmt, 1, token_id) | db_bind_int64(stmt, 2,
	    site_id) | db_bind_blob(stmt, 3, hash, STORE_HASH_LEN) | db_bind_int64(stmt, 4, time(NULL)) |
	    db_bind_int64(stmt, 5, expires_at)) != DB_OK)
		rc = store_sqlfail(st, err, errlen, "%s", what);
	else if (db_step(stmt) != DB_DONE)
		rc = store_insert_fail(st, what, "a token with this id or "
		    "secret exists already; create the token again", site_id,
		    err, errlen);
	db_finalize(stmt);
	return rc;
}

#define STORE_TOKEN_SELECT \
	"SELECT t.id, t.site_id, s.name, t.created_at, t.expires_at, " \
	"coalesce(t.used_at, 0), t.used_by, coalesce(t.revoked_at, 0) " \
	"FROM enrollment_tokens t JOIN sites s ON s.id = t.site_id "

static void
store_token_read(struct db_stmt *stmt, struct store_token *t)
{
	memset(t, 0, sizeof(*t));
	store_column(stmt, 0, t->id, sizeof(t->id));
	t->site_id = db_column_int64(stmt, 1);
	store_column(stmt, 2, t->site_name, sizeof(t->site_name));
	t->created_at = db_column_int64(stmt, 3);
	t->expires_at = db_column_int64(stmt, 4);
	t->used_at = db_column_int64(stmt, 5);
	store_column(stmt, 6, t->used_by, sizeof(t->used_by));
	t->revoked_at = db_column_int64(stmt, 7);
}

/*
 * Finds a token by the hash of its secret (hash non-NULL) or by id. The
 * lookup by hash is an index search, not a constant-time compare, and need
 * not be: timing could at most reveal bits of a SHA-256 output, which does
 * not help anyone find a 256-bit secret.
 */
static int
store_token_find(struct store *st, const unsigned char *hash, const char *id,
    struct store_token *t, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc, step;

	rc = store_prepare(st, hash != NULL ? STORE_TOKEN_SELECT
	    "WHERE t.secret_hash = ?1" : STORE_TOKEN_SELECT "WHERE t.id = ?1",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (hash != NULL)
		step = db_bind_blob(stmt, 1, hash, STORE_HASH_LEN);
	else
		step = store_str(stmt, 1, id);
	if (step == DB_OK)
		step = db_step(stmt);
	if (step == DB_ROW)
		store_token_read(stmt, t);
	else if (step == DB_DONE)
		rc = UPLINK_ENOTFOUND;
	else
		rc = store_sqlfail(st, err, errlen, "looking up a token");
	db_finalize(stmt);
	return rc;
}

/* Decides whether a token may be used at now; says why not in err. */
static enum store_token_state
store_token_verdict(const struct store_token *t, int64_t now, char *err,
    size_t errlen)
{
	char	 when[STORE_WHEN_SIZE];

	if (t->used_at != 0) {
		store_msg(0, err, errlen, "token %s for site \"%s\" was "
		    "already used at %s by connector %s", t->id, t->site_name,
		    store_when(t->used_at, now, when), t->used_by);
		return STORE_TOKEN_USED;
	}
	if (t->revoked_at != 0) {
		store_msg(0, err, errlen, "token %s for site \"%s\" was "
		    "revoked at %s", t->id, t->site_name,
		    store_when(t->revoked_at, now, when));
		return STORE_TOKEN_REVOKED;
	}
	if (now >= t->expires_at) {
		store_msg(0, err, errlen, "token %s for site \"%s\" expired at "
		    "%s; create a new one with \"uplink-cloud token create "
		    "--site %s\"", t->id, t->site_name,
		    store_when(t->expires_at, now, when), t->site_name);
		return STORE_TOKEN_EXPIRED;
	}
	return STORE_TOKEN_CONSUMED;
}

void
store_use_init(struct store_token_use *use)
{
	memset(use, 0, sizeof(*use));
	use->state = STORE_TOKEN_FAILED;
}

/*
 * Finds the token whose secret hashes to hash and judges it at now,
 * filling use, in the caller's transaction if there is one. UPLINK_OK
 * (use->state STORE_TOKEN_CONSUMED) when it may be used.
 */
int
store_token_judge(struct store *st, const unsigned char *hash, int64_t now,
    struct store_token_use *use, char *err, size_t errlen)
{
	struct store_token	 t;
	int			 rc;

	rc = store_token_find(st, hash, NULL, &t, err, errlen);
	if (rc == UPLINK_ENOTFOUND) {
		use->state = STORE_TOKEN_UNKNOWN;
		return store_msg(rc, err, errlen, "no enrollment token has the "
		    "secret presented (mistyped, or from another "
		    "uplink-cloud)");
	}
	if (rc != UPLINK_OK)
		return rc;
	snprintf(use->token_id, sizeof(use->token_id), "%s", t.id);
	use->site_id = t.site_id;
	snprintf(use->site_name, sizeof(use->site_name), "%s", t.site_name);
	use->state = store_token_verdict(&t, now, err, errlen);
	return use->state == STORE_TOKEN_CONSUMED ? UPLINK_OK : UPLINK_EINVAL;
}

int
store_token_mark_used(struct store *st, const char *token_id, int64_t now,
    const char *connector_id, char *err, size_t errlen)
{
	return store_update(st, "UPDATE enrollment_tokens SET used_at = ?2, "
	    "used_by = ?3 WHERE id = ?1", token_id, now, connector_id,
	    "marking used token", err, errlen);
}

int
store_token_consume(struct store *st,
    const unsigned char hash[STORE_HASH_LEN], int64_t now,
    const char *connector_id, struct store_token_use *use, char *err,
    size_t errlen)
{
	int	 rc;

	store_use_init(use);
	if (!store_text_check("connector id", connector_id, STORE_ID_MAX,
	    false, err, errlen))
		return UPLINK_EINVAL;
	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_token_judge(st, hash, now, use, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_token_mark_used(st, use->token_id, now,
		    connector_id, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	if (rc != UPLINK_OK && use->state == STORE_TOKEN_CONSUMED)
		use->state = STORE_TOKEN_FAILED;
	store_rollback(st);
	return rc;
}

int
store_token_check(struct store *st, const unsigned char hash[STORE_HASH_LEN],
    int64_t now, struct store_token_use *use, char *err, size_t errlen)
{
	store_use_init(use);
	return store_token_judge(st, hash, now, use, err, errlen);
}

int
store_token_revoke(struct store *st, const char *token_id, int64_t now,
    char *err, size_t errlen)
{
	struct store_token	 t;
	enum store_token_state	 state;
	int			 rc;

	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_token_find(st, NULL, token_id, &t, err, errlen);
	if (rc == UPLINK_ENOTFOUND)
		store_msg(0, err, errlen, "no enrollment token has the id "
		    "\"%s\"", token_id);
	if (rc != UPLINK_OK)
		goto out;
	/* Used or revoked tokens are refused; expired ones may be revoked. */
	state = store_token_verdict(&t, now, err, errlen);
	if (state == STORE_TOKEN_USED || state == STORE_TOKEN_REVOKED) {
		rc = UPLINK_EINVAL;
		goto out;
	}
	rc = store_update(st, "UPDATE enrollment_tokens SET revoked_at = ?2 "
	    "WHERE id = ?1", token_id, now, NULL, "revoking token", err,
	    errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
out:
	store_rollback(st);
	return rc;
}

static int
store_token_row(struct db_stmt *stmt, void *arg)
{
	struct store_cb		*cb = arg;
	struct store_token	 t;

	store_token_read(stmt, &t);
	return cb->fn.token(cb->arg, &t);
}

int
store_token_list(struct store *st, store_token_cb fn, void *arg, char *err,
    size_t errlen)
{
	struct store_cb	 cb = { .fn.token = fn, .arg = arg };
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, STORE_TOKEN_SELECT "ORDER BY t.created_at, "
	    "t.id", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_walk(st, stmt, store_token_row, &cb, "listing tokens",
	    err, errlen);
}
