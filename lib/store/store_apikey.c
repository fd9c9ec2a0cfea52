/*
 * API keys, part of the cloud database (lib/store.h): the rows only.
 * lib/apikey.c makes keys, parses them and verifies a presented key
 * against the SHA-256 of its secret kept here; the secret itself is never
 * stored.
 */

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "apikey.h"
#include "error.h"
#include "store.h"
#include "store_impl.h"

/*
 * API key ids are exactly what lib/apikey.c puts in a key: 12 lowercase
 * hex digits. Anything else is quoted back only when it is short,
 * printable text, since it comes from a command line.
 */
static int
store_key_id_check(const char *id, char *err, size_t errlen)
{
	size_t	 len = strlen(id);

	if (len == STORE_KEY_ID_LEN && strspn(id, "0123456789abcdef") == len)
		return UPLINK_OK;
	if (store_text_check("API key id", id, STORE_ID_MAX, false, NULL, 0))
		return store_msg(UPLINK_EINVAL, err, errlen, "\"%s\" is not an "
		    "API key id, which is 12 lowercase hex digits (see "
		    "\"uplink-cloud key list\")", id);
	return store_msg(UPLINK_EINVAL, err, errlen, "an API key id is 12 "
	    "lowercase hex digits (see \"uplink-cloud key list\")");
}

/*
 * The sites of a key: "" or up to STORE_KEY_SITES_MAX valid site names
 * separated by commas (lib/apikey.c checks that they exist).
 */
static int
store_key_sites_check(const char *sites, char *err, size_t errlen)
{
	char		 one[STORE_NAME_MAX + 2];
	const char	*p, *end;
	size_t		 n = 0, len;

	for (p = sites; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		end = p + strcspn(p, ",");
		len = (size_t)(end - p);
		if (++n > STORE_KEY_SITES_MAX)
			return store_msg(UPLINK_EINVAL, err, errlen, "an API "
			    "key is bound to at most %d sites",
			    STORE_KEY_SITES_MAX);
		snprintf(one, sizeof(one), "%.*s", (int)(len < sizeof(one) ?
		    len : sizeof(one) - 1), p);
		if (len >= sizeof(one) - 1 || !store_name_check("site name",
		    one, err, errlen))
			return len >= sizeof(one) - 1 ? store_msg(UPLINK_EINVAL,
			    err, errlen, "a site name has at most %d "
			    "characters", STORE_NAME_MAX) : UPLINK_EINVAL;
		if (*end == ',' && end[1] == '\0')
			return store_msg(UPLINK_EINVAL, err, errlen, "the "
			    "list of sites ends with a comma");
	}
	return UPLINK_OK;
}

static int
store_apikey_check(const struct store_apikey *k, char *err, size_t errlen)
{
	int	 rc;

	rc = store_key_id_check(k->id, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (!store_name_check("key name", k->name, err, errlen))
		return UPLINK_EINVAL;
	if (apikey_scope_find(k->scope) == NULL)
		return store_msg(UPLINK_EINVAL, err, errlen, "API key scope "
		    "\"%.15s\" is not one of %s", k->scope,
		    apikey_scope_names());
	return store_key_sites_check(k->sites, err, errlen);
}

int
store_apikey_add(struct store *st, const struct store_apikey *k, char *err,
    size_t errlen)
{
	struct db_stmt	*stmt;
	char		 what[64];
	int		 rc;

	rc = store_apikey_check(k, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_prepare(st, "INSERT INTO api_keys(id, name, scope, "
		    "secret_hash, created_at, sites) VALUES (?1, ?2, ?3, ?4, "
		    "?5, ?6)",
		    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	snprintf(what, sizeof(what), "adding API key %s", k->id);
	if ((store_str(stmt, 1, k->id) | store_str(stmt, 2, k->name) |
	    store_str(stmt, 3, k->scope) | db_bind_blob(stmt, 4,
	    k->secret_hash, STORE_HASH_LEN) |
	    db_bind_int64(stmt, 5, k->created_at != 0 ? k->created_at :
	    time(NULL)) | store_str(stmt, 6, k->sites)) != DB_OK)
		rc = store_sqlfail(st, err, errlen, "%s", what);
	else if (db_step(stmt) != DB_DONE)
		rc = store_insert_fail(st, what, "this id is taken; create "
		    "the key again", 0, err, errlen);
	db_finalize(stmt);
	return rc;
}

#define STORE_APIKEY_SELECT \
	"SELECT id, name, scope, secret_hash, created_at, " \
	"coalesce(last_used, 0), coalesce(revoked_at, 0), sites FROM api_keys "

static void
store_apikey_read(struct db_stmt *stmt, void *arg)
{
	struct store_apikey	*k = arg;
	const void		*hash;

	memset(k, 0, sizeof(*k));
	store_column(stmt, 0, k->id, sizeof(k->id));
	store_column(stmt, 1, k->name, sizeof(k->name));
	store_column(stmt, 2, k->scope, sizeof(k->scope));
	/* The table's CHECK keeps every hash 32 bytes long. */
	hash = db_column_blob(stmt, 3);
	if (hash != NULL && db_column_bytes(stmt, 3) == STORE_HASH_LEN)
		memcpy(k->secret_hash, hash, STORE_HASH_LEN);
	k->created_at = db_column_int64(stmt, 4);
	k->last_used = db_column_int64(stmt, 5);
	k->revoked_at = db_column_int64(stmt, 6);
	store_column(stmt, 7, k->sites, sizeof(k->sites));
}

static int
store_no_apikey(const char *id, char *err, size_t errlen)
{
	return store_msg(UPLINK_ENOTFOUND, err, errlen, "no API key has the "
	    "id \"%s\"", id);
}

int
store_apikey_get(struct store *st, const char *id, struct store_apikey *out,
    char *err, size_t errlen)
{
	int	 rc;

	rc = store_key_id_check(id, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_get_one(st, STORE_APIKEY_SELECT "WHERE id = ?1", id,
		    store_apikey_read, out, "reading an API key", err, errlen);
	if (rc == UPLINK_ENOTFOUND)
		return store_no_apikey(id, err, errlen);
	return rc;
}

static int
store_apikey_row(struct db_stmt *stmt, void *arg)
{
	struct store_cb		*cb = arg;
	struct store_apikey	 k;

	store_apikey_read(stmt, &k);
	return cb->fn.apikey(cb->arg, &k);
}

int
store_apikey_list(struct store *st, store_apikey_cb fn, void *arg, char *err,
    size_t errlen)
{
	struct store_cb	 cb = { .fn.apikey = fn, .arg = arg };
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, STORE_APIKEY_SELECT "ORDER BY created_at, id",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_walk(st, stmt, store_apikey_row, &cb, "listing API keys",
	    err, errlen);
}

int
store_apikey_revoke(struct store *st, const char *id, int64_t now, char *err,
    size_t errlen)
{
	struct store_apikey	 k;
	char			 when[STORE_WHEN_SIZE];
	int			 rc;

	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_apikey_get(st, id, &k, err, errlen);
	if (rc == UPLINK_OK && k.revoked_at != 0)
		rc = store_msg(UPLINK_EINVAL, err, errlen, "API key %s (\"%s\") "
		    "was revoked at %s", id, k.name, store_when(k.revoked_at,
		    now, when));
	if (rc == UPLINK_OK)
		rc = store_update(st, "UPDATE api_keys SET revoked_at = ?2 "
		    "WHERE id = ?1", id, now, NULL, "revoking API key", err,
		    errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	store_rollback(st);
	return rc;
}

int
store_apikey_touch(struct store *st, const char *id, int64_t now, char *err,
    size_t errlen)
{
	int	 rc;

	rc = store_update(st, "UPDATE api_keys SET last_used = ?2 WHERE id = "
	    "?1", id, now, NULL, "recording the use of API key", err, errlen);
	if (rc == UPLINK_ENOTFOUND)
		rc = store_no_apikey(id, err, errlen);
	return rc;
}
