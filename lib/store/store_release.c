/*
 * Signed connector releases and per-site rollout settings (issue 15,
 * docs/updates.md). The store keeps what an operator added: the manifest
 * and its signature, byte for byte, so a connector verifies exactly what
 * the operator signed; the release's files live in the data directory
 * under their SHA-256 (cloud/releases.c), which the manifest names.
 */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "store.h"
#include "store_impl.h"

int
store_release_add(struct store *st, const struct store_release *r,
    char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, "INSERT INTO releases (version, channel, arch, "
	    "signed_at, added_at, manifest, signature) VALUES (?1, ?2, ?3, "
	    "?4, ?5, ?6, ?7)", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((store_str(stmt, 1, r->version) | store_str(stmt, 2, r->channel) |
	    store_str(stmt, 3, r->arch) | db_bind_int64(stmt, 4, r->signed_at) |
	    db_bind_int64(stmt, 5, r->added_at) | store_str(stmt, 6,
	    r->manifest) | store_str(stmt, 7, r->signature)) != DB_OK ||
	    db_step(stmt) != DB_DONE)
		rc = db_errcode(st->db) == DB_E_UNIQUE ? store_msg(UPLINK_EEXIST,
		    err, errlen, "release %s (%s, %s) is already stored: remove "
		    "it first to replace it", r->version, r->channel, r->arch) :
		    store_sqlfail(st, err, errlen, "adding release %s",
		    r->version);
	db_finalize(stmt);
	return rc;
}

struct release_walk {
	store_release_cb	 cb;
	void			*arg;
};

static int
release_row(struct db_stmt *stmt, void *arg)
{
	struct release_walk	*w = arg;
	struct store_release	 r;

	memset(&r, 0, sizeof(r));
	store_column(stmt, 0, r.version, sizeof(r.version));
	store_column(stmt, 1, r.channel, sizeof(r.channel));
	store_column(stmt, 2, r.arch, sizeof(r.arch));
	r.signed_at = db_column_int64(stmt, 3);
	r.added_at = db_column_int64(stmt, 4);
	r.manifest = db_column_text(stmt, 5);
	r.signature = db_column_text(stmt, 6);
	if (r.manifest == NULL || r.signature == NULL)
		return 0;
	return w->cb(w->arg, &r);
}

int
store_release_list(struct store *st, const char *version,
    store_release_cb cb, void *arg, char *err, size_t errlen)
{
	struct release_walk	 w = { cb, arg };
	struct db_stmt		*stmt;
	int			 rc;

	rc = store_prepare(st, "SELECT version, channel, arch, signed_at, "
	    "added_at, manifest, signature FROM releases WHERE ?1 = '' OR "
	    "version = ?1", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (store_str(stmt, 1, version != NULL ? version : "") != DB_OK) {
		db_finalize(stmt);
		return store_sqlfail(st, err, errlen, "listing releases");
	}
	return store_walk(st, stmt, release_row, &w, "listing releases", err,
	    errlen);
}

int
store_release_remove(struct store *st, const char *version, int64_t *n,
    char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	*n = 0;
	rc = store_prepare(st, "DELETE FROM releases WHERE version = ?1",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (store_str(stmt, 1, version) != DB_OK || db_step(stmt) != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "removing release %s",
		    version);
	else
		*n = db_changes(st->db);
	db_finalize(stmt);
	return rc;
}

void
store_rollout_defaults(struct store_rollout *ro, int64_t site_id)
{
	memset(ro, 0, sizeof(*ro));
	ro->site_id = site_id;
	ro->days = 0x7f;
	snprintf(ro->tz, sizeof(ro->tz), "UTC");
}

static void
rollout_read(struct db_stmt *stmt, void *arg)
{
	struct store_rollout	*ro = arg;

	ro->automatic = db_column_int64(stmt, 0) != 0;
	ro->has_window = db_column_int64(stmt, 1) != 0;
	ro->days = (int)db_column_int64(stmt, 2);
	ro->start_min = (int)db_column_int64(stmt, 3);
	ro->end_min = (int)db_column_int64(stmt, 4);
	store_column(stmt, 5, ro->tz, sizeof(ro->tz));
	ro->paused = db_column_int64(stmt, 6) != 0;
	store_column(stmt, 7, ro->pause_reason, sizeof(ro->pause_reason));
	ro->update_now = db_column_int64(stmt, 8) != 0;
}

int
store_rollout_get(struct store *st, int64_t site_id, struct store_rollout *ro,
    char *err, size_t errlen)
{
	int	 rc;

	store_rollout_defaults(ro, site_id);
	rc = store_get_by_id(st, "SELECT automatic, has_window, days, "
	    "start_min, end_min, tz, paused, pause_reason, update_now FROM "
	    "site_rollouts WHERE site_id = ?1", site_id, rollout_read, ro,
	    "reading a site's rollout settings", err, errlen);
	return rc == UPLINK_ENOTFOUND ? UPLINK_OK : rc;
}

int
store_rollout_set(struct store *st, const struct store_rollout *ro,
    char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	if (!store_line_check("pause reason", ro->pause_reason,
	    STORE_TEXT_MAX, true, err, errlen))
		return UPLINK_EINVAL;
	rc = store_prepare(st, "INSERT INTO site_rollouts (site_id, automatic, "
	    "has_window, days, start_min, end_min, tz, paused, pause_reason, "
	    "update_now) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
	    "ON CONFLICT (site_id) DO UPDATE SET automatic = ?2, has_window = "
	    "?3, days = ?4, start_min = ?5, end_min = ?6, tz = ?7, paused = "
	    "?8, pause_reason = ?9, update_now = ?10", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((db_bind_int64(stmt, 1, ro->site_id) | db_bind_int64(stmt, 2,
	    ro->automatic) | db_bind_int64(stmt, 3, ro->has_window) |
	    db_bind_int64(stmt, 4, ro->days) | db_bind_int64(stmt, 5,
	    ro->start_min) | db_bind_int64(stmt, 6, ro->end_min) |
	    store_str(stmt, 7, ro->tz) | db_bind_int64(stmt, 8, ro->paused) |
	    store_str(stmt, 9, ro->pause_reason) | db_bind_int64(stmt, 10,
	    ro->update_now)) != DB_OK || db_step(stmt) != DB_DONE)
		rc = db_errcode(st->db) == DB_E_FOREIGN ? store_msg(
		    UPLINK_ENOTFOUND, err, errlen, "site %lld does not exist",
		    (long long)ro->site_id) : store_sqlfail(st, err, errlen,
		    "writing the rollout settings of site %lld",
		    (long long)ro->site_id);
	db_finalize(stmt);
	return rc;
}
