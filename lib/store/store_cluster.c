/*
 * The cluster's shared state (docs/cluster.md): the instances and where
 * each connector has tunnels. cloud/cluster.c is the only caller; it keeps
 * a copy in memory, re-read on a timer, and writes its own rows.
 *
 * Every write transaction that touches an instance's locations first
 * updates (locks) that instance's row, expiry included, so two instances
 * never take the two tables' locks in opposite orders. These transactions
 * are plain BEGIN on PostgreSQL, without the store's global write lock
 * (store_begin()): they touch rows of their own instance or of a dead one,
 * never what another writer reads before it writes.
 */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "store.h"
#include "store_impl.h"

/* Instances whose lease ended this long ago are forgotten (their row). */
#define STORE_INSTANCE_FORGET	(7 * 86400)

static const char *const store_instance_states[] = {
	[STORE_INSTANCE_UP] = "up",
	[STORE_INSTANCE_DRAINING] = "draining",
	[STORE_INSTANCE_GONE] = "gone",
};

const char *
store_instance_state_name(enum store_instance_state s)
{
	if ((size_t)s >= sizeof(store_instance_states) /
	    sizeof(store_instance_states[0]))
		return "gone";
	return store_instance_states[s];
}

static int
cluster_begin(struct store *st, char *err, size_t errlen)
{
	return store_exec(st, db_kind(st->db) == DB_PG ? "BEGIN" :
	    "BEGIN IMMEDIATE", "starting a transaction", err, errlen);
}

static bool
cluster_id_ok(const char *what, const char *id, char *err, size_t errlen)
{
	size_t	 i, len = strlen(id);

	for (i = 0; i < len; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') ||
		    (id[i] >= '0' && id[i] <= '9') || id[i] == '-'))
			break;
	if (len == 0 || len > STORE_INSTANCE_ID_MAX || i < len) {
		store_msg(UPLINK_EINVAL, err, errlen, "%s \"%.63s\": 1 to %d "
		    "lowercase letters, digits or '-'", what, id,
		    STORE_INSTANCE_ID_MAX);
		return false;
	}
	return true;
}

/*
 * Takes the row lock of run epoch of instance id by a no-op update;
 * UPLINK_ENOTFOUND when that run is not live in the table any more.
 */
static int
cluster_lock_run(struct store *st, const char *id, int64_t epoch,
    int64_t lease_until, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, "UPDATE instances SET lease_until = "
	    "coalesce(?3, lease_until) WHERE id = ?1 AND epoch = ?2 AND "
	    "state <> 'gone'", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((store_str(stmt, 1, id) | db_bind_int64(stmt, 2, epoch) |
	    store_num(stmt, 3, lease_until)) != DB_OK ||
	    db_step(stmt) != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "renewing the lease of "
		    "instance %s", id);
	else if (db_changes(st->db) != 1)
		rc = store_msg(UPLINK_ENOTFOUND, err, errlen, "instance %s: "
		    "its run %lld is not live in the database any more (its "
		    "lease ran out and another instance marked it gone, or "
		    "another process started with the same [cluster] "
		    "instance)", id, (long long)epoch);
	db_finalize(stmt);
	return rc;
}

/* Runs sql with ?1 = s and, when n is not NULL, ?2 = *n. */
static int
cluster_exec(struct store *st, const char *sql, const char *s,
    const int64_t *n, const char *what, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, sql, &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((s != NULL ? store_str(stmt, 1, s) : db_bind_int64(stmt, 1,
	    *n)) != DB_OK || (s != NULL && n != NULL &&
	    db_bind_int64(stmt, 2, *n) != DB_OK) || db_step(stmt) != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "%s", what);
	db_finalize(stmt);
	return rc;
}

static int
cluster_commit(struct store *st, int rc, char *err, size_t errlen)
{
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	if (rc != UPLINK_OK)
		store_rollback(st);
	return rc;
}

int
store_instance_register(struct store *st, struct store_instance *in,
    char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	if (!cluster_id_ok("instance", in->id, err, errlen))
		return UPLINK_EINVAL;
	rc = cluster_begin(st, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = store_prepare(st, "INSERT INTO instances(id, peer_address, "
	    "tunnel_name, tunnel_address, state, started_at, lease_until, "
	    "epoch) VALUES (?1, ?2, ?3, ?4, 'up', ?5, ?6, 1) "
	    "ON CONFLICT (id) DO UPDATE SET "
	    "peer_address = excluded.peer_address, "
	    "tunnel_name = excluded.tunnel_name, "
	    "tunnel_address = excluded.tunnel_address, state = 'up', "
	    "started_at = excluded.started_at, "
	    "lease_until = excluded.lease_until, "
	    "epoch = instances.epoch + 1 RETURNING epoch", &stmt, err, errlen);
	if (rc == UPLINK_OK) {
		if ((store_str(stmt, 1, in->id) |
		    store_str(stmt, 2, in->peer_address) |
		    store_str(stmt, 3, in->tunnel_name) |
		    store_str(stmt, 4, in->tunnel_address) |
		    db_bind_int64(stmt, 5, in->started_at) |
		    db_bind_int64(stmt, 6, in->lease_until)) != DB_OK ||
		    db_step(stmt) != DB_ROW)
			rc = store_sqlfail(st, err, errlen, "registering "
			    "instance %s", in->id);
		else {
			in->epoch = db_column_int64(stmt, 0);
			in->state = STORE_INSTANCE_UP;
		}
		db_finalize(stmt);
	}
	if (rc == UPLINK_OK)
		rc = cluster_exec(st, "DELETE FROM tunnel_locations WHERE "
		    "instance = ?1", in->id, NULL, "deleting the tunnel "
		    "locations of the previous run", err, errlen);
	return cluster_commit(st, rc, err, errlen);
}

/* Upserts or deletes (tunnels 0) the location rows v of instance. */
static int
cluster_write_locations(struct store *st, const char *instance,
    int64_t epoch, const struct store_location *v, size_t n, int64_t now,
    char *err, size_t errlen)
{
	struct db_stmt	*up = NULL, *del = NULL, *stmt;
	size_t		 i;
	int		 rc = UPLINK_OK;

	for (i = 0; i < n && rc == UPLINK_OK; i++) {
		if (v[i].tunnels > 0 && up == NULL)
			rc = store_prepare(st, "INSERT INTO tunnel_locations("
			    "connector, instance, site, tunnels, load, epoch, "
			    "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
			    "ON CONFLICT (connector, instance) DO UPDATE SET "
			    "site = excluded.site, tunnels = excluded.tunnels, "
			    "load = excluded.load, epoch = excluded.epoch, "
			    "updated_at = excluded.updated_at", &up, err,
			    errlen);
		else if (v[i].tunnels == 0 && del == NULL)
			rc = store_prepare(st, "DELETE FROM tunnel_locations "
			    "WHERE connector = ?1 AND instance = ?2", &del, err,
			    errlen);
		if (rc != UPLINK_OK)
			break;
		stmt = v[i].tunnels > 0 ? up : del;
		if ((store_str(stmt, 1, v[i].connector) |
		    store_str(stmt, 2, instance)) != DB_OK ||
		    (v[i].tunnels > 0 && (store_str(stmt, 3, v[i].site) |
		    db_bind_int64(stmt, 4, v[i].tunnels) |
		    db_bind_int64(stmt, 5, v[i].load) |
		    db_bind_int64(stmt, 6, epoch) |
		    db_bind_int64(stmt, 7, now)) != DB_OK) ||
		    db_step(stmt) != DB_DONE)
			rc = store_sqlfail(st, err, errlen, "writing where "
			    "connector %s has tunnels", v[i].connector);
		/* A statement runs again once finalized and prepared anew. */
		db_finalize(stmt);
		if (stmt == up)
			up = NULL;
		else
			del = NULL;
	}
	db_finalize(up);
	db_finalize(del);
	return rc;
}

int
store_instance_renew(struct store *st, const char *id, int64_t epoch,
    int64_t lease_until, const struct store_location *v, size_t n,
    int64_t now, char *err, size_t errlen)
{
	int	 rc;

	rc = cluster_begin(st, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = cluster_lock_run(st, id, epoch, lease_until, err, errlen);
	if (rc == UPLINK_OK)
		rc = cluster_write_locations(st, id, epoch, v, n, now, err,
		    errlen);
	return cluster_commit(st, rc, err, errlen);
}

int
store_locations_write(struct store *st, const char *instance, int64_t epoch,
    const struct store_location *v, size_t n, int64_t now, char *err,
    size_t errlen)
{
	int	 rc;

	rc = cluster_begin(st, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = cluster_lock_run(st, instance, epoch, 0, err, errlen);
	if (rc == UPLINK_OK)
		rc = cluster_write_locations(st, instance, epoch, v, n, now,
		    err, errlen);
	return cluster_commit(st, rc, err, errlen);
}

int
store_instance_set_state(struct store *st, const char *id, int64_t epoch,
    enum store_instance_state state, int64_t now, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = cluster_begin(st, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = cluster_lock_run(st, id, epoch, 0, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_prepare(st, "UPDATE instances SET state = ?2, "
		    "lease_until = coalesce(?3, lease_until) WHERE id = ?1",
		    &stmt, err, errlen);
	if (rc == UPLINK_OK) {
		if ((store_str(stmt, 1, id) | store_str(stmt, 2,
		    store_instance_state_name(state)) | store_num(stmt, 3,
		    state == STORE_INSTANCE_GONE ? now : 0)) != DB_OK ||
		    db_step(stmt) != DB_DONE)
			rc = store_sqlfail(st, err, errlen, "setting the state "
			    "of instance %s", id);
		db_finalize(stmt);
	}
	if (rc == UPLINK_OK && state == STORE_INSTANCE_GONE)
		rc = cluster_exec(st, "DELETE FROM tunnel_locations WHERE "
		    "instance = ?1", id, NULL, "deleting the tunnel locations "
		    "of a stopped instance", err, errlen);
	return cluster_commit(st, rc, err, errlen);
}

int
store_instance_expire(struct store *st, int64_t now, size_t *n, char *err,
    size_t errlen)
{
	int64_t	 forget = now - STORE_INSTANCE_FORGET;
	int	 rc;

	if (n != NULL)
		*n = 0;
	rc = cluster_begin(st, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = cluster_exec(st, "UPDATE instances SET state = 'gone' WHERE "
	    "state <> 'gone' AND lease_until < ?1", NULL, &now, "marking "
	    "instances whose lease ran out gone", err, errlen);
	if (rc == UPLINK_OK && n != NULL)
		*n = (size_t)db_changes(st->db);
	if (rc == UPLINK_OK)
		rc = store_exec(st, "DELETE FROM tunnel_locations WHERE "
		    "instance IN (SELECT id FROM instances WHERE state = "
		    "'gone')", "deleting the tunnel locations of gone instances",
		    err, errlen);
	if (rc == UPLINK_OK)
		rc = cluster_exec(st, "DELETE FROM instances WHERE state = "
		    "'gone' AND lease_until < ?1", NULL, &forget, "forgetting "
		    "instances gone long ago", err, errlen);
	return cluster_commit(st, rc, err, errlen);
}

static enum store_instance_state
cluster_state_parse(const char *s)
{
	if (strcmp(s, "up") == 0)
		return STORE_INSTANCE_UP;
	if (strcmp(s, "draining") == 0)
		return STORE_INSTANCE_DRAINING;
	return STORE_INSTANCE_GONE;
}

static int
cluster_instance_row(struct db_stmt *stmt, void *arg)
{
	struct store_cb		*cb = arg;
	struct store_instance	 in;
	char			 state[16];

	memset(&in, 0, sizeof(in));
	store_column(stmt, 0, in.id, sizeof(in.id));
	store_column(stmt, 1, in.peer_address, sizeof(in.peer_address));
	store_column(stmt, 2, in.tunnel_name, sizeof(in.tunnel_name));
	store_column(stmt, 3, in.tunnel_address, sizeof(in.tunnel_address));
	store_column(stmt, 4, state, sizeof(state));
	in.state = cluster_state_parse(state);
	in.started_at = db_column_int64(stmt, 5);
	in.lease_until = db_column_int64(stmt, 6);
	in.epoch = db_column_int64(stmt, 7);
	return cb->fn.instance(cb->arg, &in);
}

int
store_instance_list(struct store *st, store_instance_cb fn, void *arg,
    char *err, size_t errlen)
{
	struct store_cb	 cb = { .arg = arg };
	struct db_stmt	*stmt;
	int		 rc;

	cb.fn.instance = fn;
	/* Past the cap, the live ones first, then the latest gone. */
	rc = store_prepare(st, "SELECT id, peer_address, tunnel_name, "
	    "tunnel_address, state, started_at, lease_until, epoch FROM "
	    "(SELECT * FROM instances ORDER BY state = 'gone', lease_until "
	    "DESC LIMIT " STORE_STR(STORE_INSTANCES_MAX) ") AS i ORDER BY id",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_walk(st, stmt, cluster_instance_row, &cb, "listing "
	    "instances", err, errlen);
}

static unsigned
cluster_count(int64_t v)
{
	if (v < 0)
		return 0;
	return v > (int64_t)UINT32_MAX ? UINT32_MAX : (unsigned)v;
}

static int
cluster_location_row(struct db_stmt *stmt, void *arg)
{
	struct store_cb		*cb = arg;
	struct store_location	 l;

	memset(&l, 0, sizeof(l));
	store_column(stmt, 0, l.connector, sizeof(l.connector));
	store_column(stmt, 1, l.instance, sizeof(l.instance));
	store_column(stmt, 2, l.site, sizeof(l.site));
	l.tunnels = cluster_count(db_column_int64(stmt, 3));
	l.load = cluster_count(db_column_int64(stmt, 4));
	l.epoch = db_column_int64(stmt, 5);
	l.updated_at = db_column_int64(stmt, 6);
	return cb->fn.location(cb->arg, &l);
}

int
store_location_list(struct store *st, store_location_cb fn, void *arg,
    char *err, size_t errlen)
{
	struct store_cb	 cb = { .arg = arg };
	struct db_stmt	*stmt;
	int		 rc;

	cb.fn.location = fn;
	rc = store_prepare(st, "SELECT connector, instance, site, tunnels, "
	    "load, epoch, updated_at FROM tunnel_locations ORDER BY "
	    "connector, instance LIMIT " STORE_STR(STORE_LOCATIONS_MAX), &stmt,
	    err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_walk(st, stmt, cluster_location_row, &cb, "listing "
	    "tunnel locations", err, errlen);
}
