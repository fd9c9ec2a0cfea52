/*
 * Connectors and their certificates, part of the cloud database
 * (lib/store.h). certs keeps every certificate a connector was ever
 * issued, so that revoking the connector also revokes one a renewal
 * replaced before it expired, and so that a tunnel's client certificate
 * can be traced to its connector by serial. store_enroll() is here
 * because what it commits is a new connector.
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "error.h"
#include "store.h"
#include "store_impl.h"

_Static_assert(STORE_CONNECTOR_ID_SIZE <= STORE_ID_MAX + 1, "id size");

#define STORE_CONNECTOR_COLUMNS \
	"id, site_id, name, cert_serial, cert_fingerprint, cert_not_after, " \
	"created_at, last_seen, revoked_at, version"
/* What get and list read: the columns above and the drained flag. */
#define STORE_CONNECTOR_READ	STORE_CONNECTOR_COLUMNS ", drained, " \
	"bytes_in, bytes_out"

static int
store_no_connector(const char *id, char *err, size_t errlen)
{
	return store_msg(UPLINK_ENOTFOUND, err, errlen, "no connector has the "
	    "id \"%s\"", id);
}

void
store_connector_id_new(char id[STORE_CONNECTOR_ID_SIZE])
{
	unsigned char	 r[(STORE_CONNECTOR_ID_SIZE - 3) / 2];

	/* randombytes_buf() needs no sodium_init() and cannot fail. */
	randombytes_buf(r, sizeof(r));
	id[0] = 'c';
	id[1] = '-';
	sodium_bin2hex(id + 2, STORE_CONNECTOR_ID_SIZE - 2, r, sizeof(r));
}

/* Checks the certificate fields of a connector or a renewal. */
static bool
store_cert_check(const char *serial, const char *fpr, bool empty_ok,
    char *err, size_t errlen)
{
	return store_text_check("certificate serial", serial,
	    STORE_SERIAL_MAX, empty_ok, err, errlen) &&
	    store_text_check("certificate fingerprint", fpr, STORE_FPR_MAX,
	    empty_ok, err, errlen);
}

static int
store_connector_check(const struct store_connector *c, char *err,
    size_t errlen)
{
	if (!store_text_check("connector id", c->id, STORE_ID_MAX, false, err,
	    errlen) || !store_name_check("connector name", c->name, err,
	    errlen) || !store_cert_check(c->cert_serial, c->cert_fingerprint,
	    true, err, errlen) || !store_text_check("connector version",
	    c->version, STORE_VERSION_MAX, true, err, errlen))
		return UPLINK_EINVAL;
	if ((c->cert_serial[0] == '\0') != (c->cert_fingerprint[0] == '\0'))
		return store_msg(UPLINK_EINVAL, err, errlen, "connector %s: "
		    "give both a certificate serial and fingerprint, or "
		    "neither", c->id);
	return UPLINK_OK;
}

/* Adds a certificate to a connector's history. */
static int
store_cert_add(struct store *st, const char *id, const char *serial,
    const char *fpr, int64_t not_after, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, "INSERT INTO certs(serial, connector_id, "
	    "fingerprint, not_after, issued_at) VALUES (?1, ?2, ?3, ?4, ?5)",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((store_str(stmt, 1, serial) | store_str(stmt, 2, id) |
	    store_str(stmt, 3, fpr) | db_bind_int64(stmt, 4, not_after) |
	    db_bind_int64(stmt, 5, time(NULL))) != DB_OK)
		rc = store_sqlfail(st, err, errlen, "recording certificate %s",
		    serial);
	else if (db_step(stmt) != DB_DONE)
		rc = store_insert_fail(st, "recording certificate", "this "
		    "serial was recorded before; the CA must not reuse "
		    "serials", 0, err, errlen);
	db_finalize(stmt);
	return rc;
}

static int
store_connector_insert(struct store *st, const struct store_connector *c,
    char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	char		 what[96];
	int64_t		 created;
	int		 rc;

	rc = store_prepare(st, "INSERT INTO connectors("
	    STORE_CONNECTOR_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
	    "?8, ?9, ?10)", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	snprintf(what, sizeof(what), "adding connector %s", c->id);
	created = c->created_at != 0 ? c->created_at : time(NULL);
	/* Zero means "none" in the struct and NULL in the table. */
	if ((store_str(stmt, 1, c->id) | db_bind_int64(stmt, 2,
	    c->site_id) | store_str(stmt, 3, c->name) | store_opt(stmt, 4,
	    c->cert_serial) | store_opt(stmt, 5, c->cert_fingerprint) |
	    store_num(stmt, 6, c->cert_not_after) | db_bind_int64(stmt,
	    7, created) | store_num(stmt, 8, c->last_seen) | store_num(stmt,
	    9, c->revoked_at) | store_opt(stmt, 10, c->version)) != DB_OK)
		rc = store_sqlfail(st, err, errlen, "%s", what);
	else if (db_step(stmt) != DB_DONE)
		rc = store_insert_fail(st, what, "this id is taken; draw "
		    "another with store_connector_id_new()", c->site_id, err,
		    errlen);
	db_finalize(stmt);
	return rc;
}

/* Inserts a connector and its certificate, in the caller's transaction. */
static int
store_connector_new(struct store *st, const struct store_connector *c,
    char *err, size_t errlen)
{
	int	 rc;

	rc = store_connector_insert(st, c, err, errlen);
	if (rc == UPLINK_OK && c->cert_serial[0] != '\0')
		rc = store_cert_add(st, c->id, c->cert_serial,
		    c->cert_fingerprint, c->cert_not_after, err, errlen);
	return rc;
}

int
store_connector_add(struct store *st, const struct store_connector *c,
    char *err, size_t errlen)
{
	int	 rc;

	rc = store_connector_check(c, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_connector_new(st, c, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	store_rollback(st);
	return rc;
}

/*
 * The token is judged, the connector added and the token marked used
 * inside one IMMEDIATE transaction, so a second enrollment with the same
 * token waits for this one and then finds it used.
 */
int
store_enroll(struct store *st, const unsigned char hash[STORE_HASH_LEN],
    int64_t now, const struct store_connector *c, struct store_token_use *use,
    char *err, size_t errlen)
{
	struct store_connector	 k = *c;
	int			 rc;

	store_use_init(use);
	rc = store_connector_check(c, err, errlen);
	if (rc == UPLINK_OK && c->cert_serial[0] == '\0')
		rc = store_msg(UPLINK_EINVAL, err, errlen, "connector %s: "
		    "enrolling needs the certificate issued to it", c->id);
	if (rc == UPLINK_OK)
		rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_token_judge(st, hash, now, use, err, errlen);
	if (rc == UPLINK_OK) {
		k.site_id = use->site_id;
		rc = store_connector_new(st, &k, err, errlen);
	}
	if (rc == UPLINK_OK)
		rc = store_token_mark_used(st, use->token_id, now, c->id, err,
		    errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	if (rc != UPLINK_OK && use->state == STORE_TOKEN_CONSUMED)
		use->state = STORE_TOKEN_FAILED;
	store_rollback(st);
	return rc;
}

static void
store_connector_read(struct db_stmt *stmt, struct store_connector *c)
{
	memset(c, 0, sizeof(*c));
	store_column(stmt, 0, c->id, sizeof(c->id));
	c->site_id = db_column_int64(stmt, 1);
	store_column(stmt, 2, c->name, sizeof(c->name));
	store_column(stmt, 3, c->cert_serial, sizeof(c->cert_serial));
	store_column(stmt, 4, c->cert_fingerprint,
	    sizeof(c->cert_fingerprint));
	c->cert_not_after = db_column_int64(stmt, 5);
	c->created_at = db_column_int64(stmt, 6);
	c->last_seen = db_column_int64(stmt, 7);
	c->revoked_at = db_column_int64(stmt, 8);
	store_column(stmt, 9, c->version, sizeof(c->version));
	c->drained = db_column_int64(stmt, 10) != 0;
	c->bytes_in = db_column_int64(stmt, 11);
	c->bytes_out = db_column_int64(stmt, 12);
}

int
store_connector_get(struct store *st, const char *id,
    struct store_connector *out, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc, step;

	rc = store_prepare(st, "SELECT " STORE_CONNECTOR_READ " FROM "
	    "connectors WHERE id = ?1", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	step = store_str(stmt, 1, id);
	if (step == DB_OK)
		step = db_step(stmt);
	if (step == DB_ROW)
		store_connector_read(stmt, out);
	else if (step == DB_DONE)
		rc = store_no_connector(id, err, errlen);
	else
		rc = store_sqlfail(st, err, errlen, "reading connector %s", id);
	db_finalize(stmt);
	return rc;
}

/*
 * Reads a connector inside a write transaction and refuses a revoked one,
 * which neither gets a new certificate nor is revoked twice.
 */
static int
store_connector_live(struct store *st, const char *id, int64_t now,
    const char *doing, char *err, size_t errlen)
{
	struct store_connector	 c;
	char			 when[STORE_WHEN_SIZE];
	int			 rc;

	rc = store_connector_get(st, id, &c, err, errlen);
	if (rc == UPLINK_OK && c.revoked_at != 0)
		rc = store_msg(UPLINK_EINVAL, err, errlen, "cannot %s "
		    "connector %s (\"%s\"): it was revoked at %s", doing, id,
		    c.name, store_when(c.revoked_at, now, when));
	return rc;
}

int
store_connector_update_cert(struct store *st, const char *id,
    const char *serial, const char *fingerprint, int64_t not_after,
    char *err, size_t errlen)
{
	struct db_stmt *stmt = NULL;
	int		 rc;

	if (!store_cert_check(serial, fingerprint, false, err, errlen))
		return UPLINK_EINVAL;
	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_connector_live(st, id, time(NULL), "renew the "
		    "certificate of", err, errlen);
	if (rc == UPLINK_OK)
		rc = store_prepare(st, "UPDATE connectors SET cert_serial = "
		    "?2, cert_fingerprint = ?3, cert_not_after = ?4 WHERE "
		    "id = ?1", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		goto out;
	if ((store_str(stmt, 1, id) | store_str(stmt, 2, serial) |
	    store_str(stmt, 3, fingerprint) | db_bind_int64(stmt, 4,
	    not_after)) != DB_OK || db_step(stmt) != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "updating the certificate "
		    "of connector %s", id);
	db_finalize(stmt);
	if (rc == UPLINK_OK)
		rc = store_cert_add(st, id, serial, fingerprint, not_after,
		    err, errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
out:
	store_rollback(st);
	return rc;
}

int
store_connector_revoke(struct store *st, const char *id, int64_t now,
    char *err, size_t errlen)
{
	int	 rc;

	rc = store_begin(st, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_connector_live(st, id, now, "revoke", err, errlen);
	if (rc == UPLINK_OK)
		rc = store_update(st, "UPDATE connectors SET revoked_at = ?2 "
		    "WHERE id = ?1", id, now, NULL, "revoking connector", err,
		    errlen);
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	store_rollback(st);
	return rc;
}

int
store_connector_touch(struct store *st, const char *id, int64_t now,
    const char *version, char *err, size_t errlen)
{
	int	 rc;

	if (version != NULL && !store_text_check("connector version",
	    version, STORE_VERSION_MAX, true, err, errlen))
		return UPLINK_EINVAL;
	rc = store_update(st, "UPDATE connectors SET last_seen = ?2, "
	    "version = coalesce(?3, version) WHERE id = ?1", id, now, version,
	    "updating connector", err, errlen);
	if (rc == UPLINK_ENOTFOUND)
		rc = store_no_connector(id, err, errlen);
	return rc;
}

static int
store_seen_one(struct store *st, const struct store_seen *s, char *err,
    size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	/* Counters past INT64_MAX are not worth a failed write. */
	if (s->bytes_in > INT64_MAX / 2 || s->bytes_out > INT64_MAX / 2)
		return store_msg(UPLINK_EINVAL, err, errlen, "connector %s: "
		    "%llu/%llu bytes since the last write is not believable",
		    s->id, (unsigned long long)s->bytes_in,
		    (unsigned long long)s->bytes_out);
	rc = store_prepare(st, "UPDATE connectors SET last_seen = ?2, "
	    "bytes_in = bytes_in + ?3, bytes_out = bytes_out + ?4 "
	    "WHERE id = ?1", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((store_str(stmt, 1, s->id) | db_bind_int64(stmt, 2, s->at) |
	    db_bind_int64(stmt, 3, (int64_t)s->bytes_in) | db_bind_int64(stmt,
	    4, (int64_t)s->bytes_out)) != DB_OK || db_step(stmt) != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "recording that connector "
		    "%s was seen", s->id);
	db_finalize(stmt);
	return rc;
}

int
store_connectors_seen(struct store *st, const struct store_seen *v,
    size_t n, char *err, size_t errlen)
{
	size_t	 i;
	int	 rc;

	if (n == 0)
		return UPLINK_OK;
	rc = store_begin(st, err, errlen);
	for (i = 0; i < n && rc == UPLINK_OK; i++) {
		rc = store_seen_one(st, &v[i], err, errlen);
		if (rc == UPLINK_OK)
			rc = store_history_add(st, &v[i], err, errlen);
	}
	if (rc == UPLINK_OK)
		rc = store_commit(st, err, errlen);
	store_rollback(st);
	return rc;
}

int
store_connector_list(struct store *st, int64_t site_id,
    store_connector_cb cb, void *arg, char *err, size_t errlen)
{
	struct store_connector	 c;
	struct db_stmt	*stmt;
	int			 rc, step;

	rc = store_prepare(st, "SELECT " STORE_CONNECTOR_READ " FROM "
	    "connectors WHERE ?1 = 0 OR site_id = ?1 ORDER BY site_id, name, "
	    "id", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	step = db_bind_int64(stmt, 1, site_id);
	while (step == DB_OK) {
		step = db_step(stmt);
		if (step != DB_ROW)
			break;
		store_connector_read(stmt, &c);
		rc = cb(arg, &c);
		if (rc != 0)
			break;
		step = DB_OK;
	}
	if (rc == UPLINK_OK && step != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "listing connectors");
	db_finalize(stmt);
	return rc;
}

static struct store_owner *
store_owner_find(struct store *st, const char *serial)
{
	size_t	 i;

	for (i = 0; i < st->nowners; i++)
		if (strcmp(st->owners[i].serial, serial) == 0)
			return &st->owners[i];
	return NULL;
}

/* Remembers (or forgets, owner NULL) who serial belongs to. */
static void
store_owner_keep(struct store *st, const char *serial,
    const struct store_cert_owner *owner)
{
	struct store_owner	*o = store_owner_find(st, serial);

	if (owner == NULL) {
		if (o != NULL)
			o->serial[0] = '\0';
		return;
	}
	if (o == NULL && st->owners == NULL) {
		st->owners = calloc(STORE_OWNERS_MAX, sizeof(*st->owners));
		if (st->owners == NULL)
			return;
	}
	if (o == NULL && st->nowners < STORE_OWNERS_MAX)
		o = &st->owners[st->nowners++];
	else if (o == NULL) {
		o = &st->owners[st->next_owner];
		st->next_owner = (st->next_owner + 1) % STORE_OWNERS_MAX;
	}
	snprintf(o->serial, sizeof(o->serial), "%s", serial);
	o->owner = *owner;
}

int
store_revoked_serials(struct store *st, store_serial_cb cb, void *arg,
    char *err, size_t errlen)
{
	struct store_owner	*o;
	const char		*serial;
	struct db_stmt	*stmt;
	int			 rc, step;

	rc = store_prepare(st, "SELECT c.serial, k.revoked_at, c.not_after "
	    "FROM certs c JOIN connectors k ON k.id = c.connector_id "
	    "WHERE k.revoked_at IS NOT NULL UNION ALL SELECT serial, "
	    "revoked_at, not_after FROM removed_certs ORDER BY 1", &stmt, err,
	    errlen);
	if (rc != UPLINK_OK)
		return rc;
	for (;;) {
		step = db_step(stmt);
		if (step != DB_ROW)
			break;
		serial = db_column_text(stmt, 0);
		if (serial == NULL) {
			step = DB_FAIL;
			break;
		}
		o = store_owner_find(st, serial);
		if (o != NULL)
			o->owner.revoked_at = db_column_int64(stmt, 1);
		rc = cb(arg, (const char *)serial,
		    db_column_int64(stmt, 1),
		    db_column_int64(stmt, 2));
		if (rc != 0)
			break;
	}
	if (rc == UPLINK_OK && step != DB_DONE)
		rc = store_sqlfail(st, err, errlen, "listing revoked "
		    "certificates");
	db_finalize(stmt);
	return rc;
}

static void
store_owner_read(struct db_stmt *stmt, void *arg)
{
	struct store_cert_owner	*o = arg;

	memset(o, 0, sizeof(*o));
	store_column(stmt, 0, o->connector_id, sizeof(o->connector_id));
	store_column(stmt, 1, o->connector_name, sizeof(o->connector_name));
	o->site_id = db_column_int64(stmt, 2);
	store_column(stmt, 3, o->site_name, sizeof(o->site_name));
	o->not_after = db_column_int64(stmt, 4);
	o->current = db_column_int64(stmt, 5) != 0;
	o->revoked_at = db_column_int64(stmt, 6);
}

int
store_cert_lookup(struct store *st, const char *serial,
    struct store_cert_owner *owner, char *err, size_t errlen)
{
	int	 rc;

	rc = store_get_one(st, "SELECT k.id, k.name, k.site_id, s.name, "
	    "c.not_after, coalesce(k.cert_serial = c.serial, FALSE), "
	    "coalesce(k.revoked_at, 0) FROM certs c JOIN connectors k ON "
	    "k.id = c.connector_id JOIN sites s ON s.id = k.site_id WHERE "
	    "c.serial = ?1", serial, store_owner_read, owner, "looking up a "
	    "certificate serial", err, errlen);
	if (rc == UPLINK_OK)
		store_owner_keep(st, serial, owner);
	else if (rc == UPLINK_ENOTFOUND)
		store_owner_keep(st, serial, NULL);
	else if (rc == UPLINK_EUNAVAIL && store_owner_find(st, serial) !=
	    NULL) {
		/* As it was when the database last answered. */
		*owner = store_owner_find(st, serial)->owner;
		return UPLINK_OK;
	}
	if (rc == UPLINK_ENOTFOUND)
		store_msg(rc, err, errlen, "no connector was issued a "
		    "certificate with serial %.64s", serial);
	return rc;
}
