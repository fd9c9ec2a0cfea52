/*
 * Renaming and deleting sites, renaming and removing connectors
 * (docs/api.md, "Sites" and "Connectors").
 *
 * A connector's certificates are what the CRL is made of once it is
 * revoked, so a removed connector's serials move to removed_certs, where
 * store_revoked_serials() still finds them: removing a connector never
 * makes a stolen certificate valid again. Only revoked connectors are
 * removed; a site is deleted only when nothing live refers to it (its
 * connectors are all revoked, no service is published in it, no token
 * can still enroll into it), and its revoked connectors and old tokens
 * go with it.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "store.h"
#include "store_impl.h"

/* Runs sql with ?1 = n. */
static int
store_exec_id(struct store *st, const char *sql, int64_t n,
    const char *what, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, sql, &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (db_bind_int64(stmt, 1, n) != DB_OK || db_step(stmt) != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "%s", what);
	db_finalize(stmt);
	return rc;
}

/* Runs sql with ?1 = s. */
static int
store_exec_str(struct store *st, const char *sql, const char *s,
    const char *what, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, sql, &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (store_str(stmt, 1, s) != DB_OK || db_step(stmt) != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "%s", what);
	db_finalize(stmt);
	return rc;
}

/*
 * count(*) of sql with ?1 = site_id, ?2 = now (every query binds both;
 * those that need no time say "?2 = ?2").
 */
static int
store_site_count(struct store *st, const char *sql, int64_t site_id,
    int64_t now, int64_t *n, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, sql, &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((db_bind_int64(stmt, 1, site_id) | db_bind_int64(stmt, 2, now)) !=
	    DB_OK || db_step(stmt) != DB_ROW)
		rc = store_sqlfail(st, err, errlen, "counting what refers to "
		    "site %lld", (long long)site_id);
	else
		*n = db_column_int64(stmt, 0);
	db_finalize(stmt);
	return rc;
}

int
store_site_rename(struct store *st, const char *from, const char *to,
    char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	char		 old[STORE_NAME_MAX + 1];
	int64_t		 id;
	int		 rc;

	if (!store_name_check("site name", to, err, errlen))
		return UPLINK_EINVAL;
	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_site_find(st, from, &id, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_site_name(st, id, old, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_prepare(st, "UPDATE sites SET name = ?2 WHERE id = ?1",
		    &stmt, err, errlen);
	if (rc == UPLINK_OK) {
		if ((db_bind_int64(stmt, 1, id) | store_str(stmt, 2, to)) !=
		    DB_OK || db_step(stmt) != DB_DONE)
			rc = db_errcode(st->db) == DB_E_UNIQUE ? store_msg(
			    UPLINK_EEXIST, err, errlen, "a site is already "
			    "called \"%s\"", to) : store_sqlfail(st, err,
			    errlen, "renaming site \"%s\"", old);
		db_finalize(stmt);
	}
	/* Keys bound to it by name follow (names hold no ',' or '%'). */
	if (rc == UPLINK_OK)
		rc = store_prepare(st, "UPDATE api_keys SET sites = substr("
		    "replace(',' || sites || ',', ',' || ?1 || ',', ',' || ?2 || "
		    "','), 2, length(sites) - length(?1) + length(?2)) "
		    "WHERE ',' || sites || ',' LIKE '%,' || ?1 || ',%'",
		    &stmt, err, errlen);
	if (rc == UPLINK_OK) {
		if ((store_str(stmt, 1, old) | store_str(stmt, 2, to)) !=
		    DB_OK || db_step(stmt) != DB_DONE)
			rc = store_sqlfail(st, err, errlen, "renaming site "
			    "\"%s\" in the API keys bound to it", old);
		db_finalize(stmt);
	}
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	store_rollback(st);
	return rc;
}

/* Keeps the serials of the connectors `where` selects on the CRL. */
#define STORE_KEEP_SERIALS(where) \
	"INSERT INTO removed_certs(serial, revoked_at, not_after) " \
	"SELECT c.serial, k.revoked_at, c.not_after FROM certs c " \
	"JOIN connectors k ON k.id = c.connector_id WHERE " where \
	" ON CONFLICT (serial) DO NOTHING"

static int
store_site_refs_check(struct store *st, const char *name, int64_t id,
    int64_t now, struct store_site_refs *refs, char *err, size_t errlen)
{
	int	 rc;

	memset(refs, 0, sizeof(*refs));
	rc = store_site_count(st, "SELECT count(*) FROM connectors WHERE "
	    "site_id = ?1 AND revoked_at IS NULL AND ?2 = ?2", id, now,
	    &refs->connectors, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_site_count(st, "SELECT count(*) FROM services WHERE "
		    "site_id = ?1 AND ?2 = ?2", id, now, &refs->services, err,
		    errlen);
	if (rc == UPLINK_OK)
		rc = store_site_count(st, "SELECT count(*) FROM "
		    "enrollment_tokens WHERE site_id = ?1 AND used_at IS NULL "
		    "AND revoked_at IS NULL AND expires_at > ?2", id, now,
		    &refs->tokens, err, errlen);
	if (rc != UPLINK_OK || refs->connectors + refs->services +
	    refs->tokens == 0)
		return rc;
	return store_msg(UPLINK_EINVAL, err, errlen, "site \"%s\" still has "
	    "%lld connector%s not revoked, %lld published service%s and "
	    "%lld enrollment token%s that can still be used: revoke, delete "
	    "or move them first", name, (long long)refs->connectors,
	    refs->connectors == 1 ? "" : "s", (long long)refs->services,
	    refs->services == 1 ? "" : "s", (long long)refs->tokens,
	    refs->tokens == 1 ? "" : "s");
}

int
store_site_delete(struct store *st, const char *name, int64_t now,
    struct store_site_refs *refs, char *err, size_t errlen)
{
	static const char *const steps[] = {
		STORE_KEEP_SERIALS("k.site_id = ?1"),
		"DELETE FROM checks WHERE connector_id IN "
		"(SELECT id FROM connectors WHERE site_id = ?1)",
		"DELETE FROM certs WHERE connector_id IN "
		"(SELECT id FROM connectors WHERE site_id = ?1)",
		"DELETE FROM connectors WHERE site_id = ?1",
		"DELETE FROM enrollment_tokens WHERE site_id = ?1",
		"DELETE FROM sites WHERE id = ?1",
	};
	int64_t	 id;
	size_t	 i;
	int	 rc;

	memset(refs, 0, sizeof(*refs));
	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_site_find(st, name, &id, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_site_refs_check(st, name, id, now, refs, err, errlen);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]) && rc == UPLINK_OK;
	    i++)
		rc = store_exec_id(st, steps[i], id, "deleting a site",
		    err, errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	store_rollback(st);
	return rc;
}

int
store_connector_rename(struct store *st, const char *id, const char *name,
    char *err, size_t errlen)
{
	int	 rc;

	if (!store_name_check("connector name", name, err, errlen))
		return UPLINK_EINVAL;
	rc = store_update(st, "UPDATE connectors SET name = ?3 WHERE id = ?1 "
	    "AND ?2 = ?2", id, 0, name, "renaming connector", err, errlen);
	if (rc == UPLINK_ENOTFOUND)
		rc = store_msg(UPLINK_ENOTFOUND, err, errlen, "no connector has "
		    "the id \"%s\"", id);
	return rc;
}

int
store_connector_remove(struct store *st, const char *id, char *err,
    size_t errlen)
{
	static const char *const steps[] = {
		STORE_KEEP_SERIALS("k.id = ?1"),
		"DELETE FROM checks WHERE connector_id = ?1",
		"DELETE FROM certs WHERE connector_id = ?1",
		"DELETE FROM connectors WHERE id = ?1",
	};
	struct store_connector	 c;
	size_t			 i;
	int			 rc;

	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_connector_get(st, id, &c, err, errlen);
	if (rc == UPLINK_OK && c.revoked_at == 0)
		rc = store_msg(UPLINK_EINVAL, err, errlen, "connector %s (\"%s\") "
		    "is not revoked: revoke it first, then remove it", id,
		    c.name);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]) && rc == UPLINK_OK;
	    i++)
		rc = store_exec_str(st, steps[i], id, "removing a connector",
		    err, errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	store_rollback(st);
	return rc;
}
