/*
 * Alerts, part of the cloud database (lib/store.h): notification channels
 * (a webhook or an SMTP relay), the rules that send notifications to them,
 * which (rule, notification) pairs were sent, and the delivery log.
 * cloud/alerts.c does the sending; this file only keeps the rows.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "store.h"
#include "store_impl.h"

#define STORE_ALERT_DUE_MAX	500

/* A list callback of this file and its argument. */
struct alert_cb {
	union {
		store_channel_cb	 channel;
		store_rule_cb		 rule;
		store_alert_cb		 alert;
		store_delivery_cb	 delivery;
	}	 fn;
	void	*arg;
};

static bool
channel_check(const struct store_channel *ch, char *err, size_t errlen)
{
	if (!store_name_check("channel name", ch->name, err, errlen))
		return false;
	if (strcmp(ch->type, "webhook") != 0 && strcmp(ch->type, "email") != 0) {
		store_msg(0, err, errlen, "channel type \"%.12s\" is not "
		    "\"webhook\" or \"email\"", ch->type);
		return false;
	}
	return store_line_check("channel config", ch->config,
	    STORE_CHANNEL_CONFIG_MAX, false, err, errlen) &&
	    store_line_check("channel secret", ch->secret,
	    STORE_CHANNEL_SECRET_MAX, true, err, errlen);
}

int
store_channel_add(struct store *st, const struct store_channel *ch,
    int64_t now, int64_t *id, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	if (!channel_check(ch, err, errlen))
		return UPLINK_EINVAL;
	rc = store_prepare(st, "INSERT INTO alert_channels(name, type, config, "
	    "secret, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = store_write(st, stmt, store_str(stmt, 1, ch->name) |
	    store_str(stmt, 2, ch->type) | store_str(stmt, 3, ch->config) |
	    store_str(stmt, 4, ch->secret) | db_bind_int64(stmt, 5, now),
	    "adding a channel", "the name is taken", NULL, err, errlen);
	if (rc == UPLINK_OK && id != NULL)
		*id = db_last_insert_rowid(st->db);
	return rc;
}

int
store_channel_update(struct store *st, const struct store_channel *ch,
    bool set_secret, int64_t now, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	if (!channel_check(ch, err, errlen))
		return UPLINK_EINVAL;
	rc = store_prepare(st, "UPDATE alert_channels SET name = ?2, config = "
	    "?3, secret = CASE WHEN ?4 = 1 THEN ?5 ELSE secret END, "
	    "updated_at = ?6 WHERE id = ?1", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = store_write(st, stmt, db_bind_int64(stmt, 1, ch->id) |
	    store_str(stmt, 2, ch->name) | store_str(stmt, 3, ch->config) |
	    db_bind_int64(stmt, 4, set_secret) | store_str(stmt, 5,
	    ch->secret) | db_bind_int64(stmt, 6, now), "changing a channel",
	    "the name is taken", NULL, err, errlen);
	if (rc == UPLINK_OK && db_changes(st->db) != 1)
		rc = store_msg(UPLINK_ENOTFOUND, err, errlen, "there is no "
		    "channel %lld", (long long)ch->id);
	return rc;
}

/* Deletes the row with id by sql; none is UPLINK_ENOTFOUND. */
static int
delete_by_id(struct store *st, const char *sql, int64_t id, const char *what,
    char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, sql, &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = store_write(st, stmt, db_bind_int64(stmt, 1, id), "deleting",
	    NULL, NULL, err, errlen);
	if (rc == UPLINK_OK && db_changes(st->db) != 1)
		rc = store_msg(UPLINK_ENOTFOUND, err, errlen, "there is no %s "
		    "%lld", what, (long long)id);
	return rc;
}

int
store_channel_delete(struct store *st, int64_t id, char *err, size_t errlen)
{
	return delete_by_id(st, "DELETE FROM alert_channels WHERE id = ?1", id,
	    "channel", err, errlen);
}

#define CHANNEL_SELECT "SELECT id, name, type, config, secret, created_at, " \
	"updated_at FROM alert_channels"

static void
channel_read(struct db_stmt *stmt, void *out)
{
	struct store_channel	*ch = out;

	memset(ch, 0, sizeof(*ch));
	ch->id = db_column_int64(stmt, 0);
	store_column(stmt, 1, ch->name, sizeof(ch->name));
	store_column(stmt, 2, ch->type, sizeof(ch->type));
	store_column(stmt, 3, ch->config, sizeof(ch->config));
	store_column(stmt, 4, ch->secret, sizeof(ch->secret));
	ch->created_at = db_column_int64(stmt, 5);
	ch->updated_at = db_column_int64(stmt, 6);
}

int
store_channel_get(struct store *st, int64_t id, struct store_channel *ch,
    char *err, size_t errlen)
{
	return store_get_by_id(st, CHANNEL_SELECT " WHERE id = ?1", id,
	    channel_read, ch, "reading a channel", err, errlen);
}

static int
channel_row(struct db_stmt *stmt, void *arg)
{
	struct alert_cb		*cb = arg;
	struct store_channel	 ch;

	channel_read(stmt, &ch);
	return cb->fn.channel(cb->arg, &ch);
}

int
store_channel_list(struct store *st, store_channel_cb fn, void *arg,
    char *err, size_t errlen)
{
	struct alert_cb	 cb = { .fn.channel = fn, .arg = arg };
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, CHANNEL_SELECT " ORDER BY id", &stmt, err,
	    errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_walk(st, stmt, channel_row, &cb, "listing channels", err,
	    errlen);
}

/* ---- rules */

static bool
rule_check(const struct store_rule *ru, char *err, size_t errlen)
{
	size_t	 len = strlen(ru->kind);

	if (len == 0 || len > STORE_KIND_MAX || strspn(ru->kind,
	    "abcdefghijklmnopqrstuvwxyz0123456789-") != len) {
		store_msg(0, err, errlen, "rule kind must be 1 to %d lowercase "
		    "letters, digits and '-'", STORE_KIND_MAX);
		return false;
	}
	len = strlen(ru->channels);
	if (len > STORE_RULE_CHANNELS_MAX || strspn(ru->channels,
	    "0123456789,") != len) {
		store_msg(0, err, errlen, "rule channels must be channel ids "
		    "joined by ','");
		return false;
	}
	if (ru->after < 0 || ru->after > INT64_C(366) * 86400) {
		store_msg(0, err, errlen, "rule after must be 0 to 31622400 "
		    "seconds");
		return false;
	}
	return true;
}

int
store_rule_add(struct store *st, const struct store_rule *ru, int64_t now,
    int64_t *id, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	if (!rule_check(ru, err, errlen))
		return UPLINK_EINVAL;
	rc = store_prepare(st, "INSERT INTO alert_rules(kind, after_secs, "
	    "channels, enabled, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = store_write(st, stmt, store_str(stmt, 1, ru->kind) |
	    db_bind_int64(stmt, 2, ru->after) | store_str(stmt, 3,
	    ru->channels) | db_bind_int64(stmt, 4, ru->enabled) |
	    db_bind_int64(stmt, 5, now), "adding a rule", NULL, NULL, err,
	    errlen);
	if (rc == UPLINK_OK && id != NULL)
		*id = db_last_insert_rowid(st->db);
	return rc;
}

int
store_rule_update(struct store *st, const struct store_rule *ru, char *err,
    size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	if (!rule_check(ru, err, errlen))
		return UPLINK_EINVAL;
	rc = store_prepare(st, "UPDATE alert_rules SET kind = ?2, after_secs "
	    "= ?3, channels = ?4, enabled = ?5 WHERE id = ?1", &stmt, err,
	    errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = store_write(st, stmt, db_bind_int64(stmt, 1, ru->id) |
	    store_str(stmt, 2, ru->kind) | db_bind_int64(stmt, 3, ru->after) |
	    store_str(stmt, 4, ru->channels) | db_bind_int64(stmt, 5,
	    ru->enabled), "changing a rule", NULL, NULL, err, errlen);
	if (rc == UPLINK_OK && db_changes(st->db) != 1)
		rc = store_msg(UPLINK_ENOTFOUND, err, errlen, "there is no "
		    "rule %lld", (long long)ru->id);
	return rc;
}

int
store_rule_delete(struct store *st, int64_t id, char *err, size_t errlen)
{
	return delete_by_id(st, "DELETE FROM alert_rules WHERE id = ?1", id,
	    "rule", err, errlen);
}

/* Reads a rule from columns at..at+5. */
static void
rule_read(struct db_stmt *stmt, int at, struct store_rule *ru)
{
	memset(ru, 0, sizeof(*ru));
	ru->id = db_column_int64(stmt, at);
	store_column(stmt, at + 1, ru->kind, sizeof(ru->kind));
	ru->after = db_column_int64(stmt, at + 2);
	store_column(stmt, at + 3, ru->channels, sizeof(ru->channels));
	ru->enabled = db_column_int64(stmt, at + 4) != 0;
	ru->created_at = db_column_int64(stmt, at + 5);
}

static int
rule_row(struct db_stmt *stmt, void *arg)
{
	struct alert_cb		*cb = arg;
	struct store_rule	 ru;

	rule_read(stmt, 0, &ru);
	return cb->fn.rule(cb->arg, &ru);
}

int
store_rule_list(struct store *st, store_rule_cb fn, void *arg, char *err,
    size_t errlen)
{
	struct alert_cb	 cb = { .fn.rule = fn, .arg = arg };
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, "SELECT id, kind, after_secs, channels, "
	    "enabled, created_at FROM alert_rules ORDER BY id", &stmt, err,
	    errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_walk(st, stmt, rule_row, &cb, "listing rules", err,
	    errlen);
}

/* ---- what is due, and claiming it */

#define ALERT_COLUMNS "r.id, r.kind, r.after_secs, r.channels, r.enabled, " \
	"r.created_at, n.id, n.kind, n.severity, n.subject, n.message, " \
	"n.created_at, n.resolved_at"
/* Rule r matches notification n. */
#define ALERT_MATCH "(n.kind = r.kind OR (r.kind = 'check-failing' AND " \
	"n.kind = 'check-failed'))"

struct alert_walk {
	struct alert_cb	 cb;
	bool		 resolved;
};

static int
alert_row(struct db_stmt *stmt, void *arg)
{
	struct alert_walk	*w = arg;
	struct store_alert	 a;

	memset(&a, 0, sizeof(a));
	rule_read(stmt, 0, &a.rule);
	a.note.id = db_column_int64(stmt, 6);
	store_column(stmt, 7, a.note.kind, sizeof(a.note.kind));
	store_column(stmt, 8, a.note.severity, sizeof(a.note.severity));
	store_column(stmt, 9, a.note.subject, sizeof(a.note.subject));
	store_column(stmt, 10, a.note.message, sizeof(a.note.message));
	a.note.created_at = db_column_int64(stmt, 11);
	a.note.resolved_at = db_column_int64(stmt, 12);
	a.resolved = w->resolved;
	return w->cb.fn.alert(w->cb.arg, &a);
}

/*
 * Raised: open notifications, held for the rule's time, that no row of
 * alert_sent claims for the rule. Resolved: claimed rows whose
 * notification was resolved since, and whose resolution nobody sent.
 */
int
store_alert_due(struct store *st, int64_t now, int limit, store_alert_cb fn,
    void *arg, char *err, size_t errlen)
{
	static const char *const sql[2] = {
		"SELECT " ALERT_COLUMNS " FROM alert_rules r JOIN "
		"notifications n ON " ALERT_MATCH " WHERE r.enabled = 1 AND "
		"n.resolved_at IS NULL AND n.created_at + r.after_secs <= ?1 "
		"AND NOT EXISTS (SELECT 1 FROM alert_sent s WHERE s.rule_id = "
		"r.id AND s.note_id = n.id) ORDER BY n.id LIMIT ?2",
		"SELECT " ALERT_COLUMNS " FROM alert_sent s JOIN alert_rules r "
		"ON r.id = s.rule_id JOIN notifications n ON n.id = s.note_id "
		"WHERE s.resolved_at IS NULL AND n.resolved_at IS NOT NULL "
		"ORDER BY n.id LIMIT ?1",
	};
	struct alert_walk	 w = { .cb = { .fn.alert = fn, .arg = arg } };
	struct db_stmt		*stmt;
	int			 rc, i;

	if (limit < 1 || limit > STORE_ALERT_DUE_MAX)
		return store_msg(UPLINK_EINVAL, err, errlen, "alerts due: a "
		    "limit of %d is out of range; use 1 to %d", limit,
		    STORE_ALERT_DUE_MAX);
	for (i = 0; i < 2; i++) {
		rc = store_prepare(st, sql[i], &stmt, err, errlen);
		if (rc != UPLINK_OK)
			return rc;
		/* The resolved query has only the limit, as ?1. */
		if ((i == 0 ? db_bind_int64(stmt, 1, now) | db_bind_int64(stmt,
		    2, limit) : db_bind_int64(stmt, 1, limit)) != DB_OK) {
			db_finalize(stmt);
			return store_sqlfail(st, err, errlen, "listing alerts");
		}
		w.resolved = i == 1;
		rc = store_walk(st, stmt, alert_row, &w, "listing alerts",
		    err, errlen);
		if (rc != UPLINK_OK)
			return rc;
	}
	return UPLINK_OK;
}

int
store_alert_claim(struct store *st, const struct store_alert *a, int64_t now,
    bool *claimed, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	*claimed = false;
	rc = store_prepare(st, a->resolved ? "UPDATE alert_sent SET "
	    "resolved_at = ?3 WHERE rule_id = ?1 AND note_id = ?2 AND "
	    "resolved_at IS NULL" : "INSERT INTO alert_sent(rule_id, note_id, "
	    "raised_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING", &stmt,
	    err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = store_write(st, stmt, db_bind_int64(stmt, 1, a->rule.id) |
	    db_bind_int64(stmt, 2, a->note.id) | db_bind_int64(stmt, 3, now),
	    "claiming an alert", NULL, NULL, err, errlen);
	if (rc == UPLINK_OK)
		*claimed = db_changes(st->db) == 1;
	return rc;
}

/* ---- the delivery log */

int
store_delivery_add(struct store *st, const struct store_delivery *d,
    int64_t now, int64_t *id, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_begin(st, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = store_prepare(st, "INSERT INTO alert_deliveries(channel_id, "
	    "event, kind, subject, status, created_at, updated_at) VALUES "
	    "(?1, ?2, ?3, ?4, 'pending', ?5, ?5)", &stmt, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_write(st, stmt, db_bind_int64(stmt, 1,
		    d->channel_id) | store_str(stmt, 2, d->event) |
		    store_str(stmt, 3, d->kind) | store_str(stmt, 4,
		    d->subject) | db_bind_int64(stmt, 5, now),
		    "adding a delivery", NULL, "there is no such channel", err,
		    errlen);
	if (rc == UPLINK_OK && id != NULL)
		*id = db_last_insert_rowid(st->db);
	if (rc == UPLINK_OK)
		rc = store_prepare(st, "DELETE FROM alert_deliveries WHERE "
		    "channel_id = ?1 AND id <= (SELECT id FROM alert_deliveries "
		    "WHERE channel_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET "
		    STORE_STR(STORE_DELIVERIES_KEPT) ")", &stmt, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_write(st, stmt, db_bind_int64(stmt, 1,
		    d->channel_id), "trimming the delivery log", NULL, NULL,
		    err, errlen);
	if (rc != UPLINK_OK) {
		store_rollback(st);
		return rc;
	}
	return store_commit(st, err, errlen);
}

int
store_delivery_update(struct store *st, int64_t id, const char *status,
    int64_t attempts, const char *last_error, int64_t now, char *err,
    size_t errlen)
{
	struct db_stmt	*stmt;
	char		 line[STORE_TEXT_MAX + 1];
	size_t		 i;
	int		 rc;

	/* Errors come from peers and libcurl: one line, printable bytes. */
	snprintf(line, sizeof(line), "%s", last_error);
	for (i = 0; line[i] != '\0'; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f ||
		    (unsigned char)line[i] >= 0x80)
			line[i] = (unsigned char)line[i] >= 0x80 ? '?' : ' ';
	rc = store_prepare(st, "UPDATE alert_deliveries SET status = ?2, "
	    "attempts = ?3, last_error = ?4, updated_at = ?5 WHERE id = ?1",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	return store_write(st, stmt, db_bind_int64(stmt, 1, id) |
	    store_str(stmt, 2, status) | db_bind_int64(stmt, 3, attempts) |
	    store_str(stmt, 4, line) | db_bind_int64(stmt, 5, now),
	    "recording a delivery", NULL, NULL, err, errlen);
}

int
store_delivery_expire(struct store *st, int64_t before, const char *why,
    int64_t now, int64_t *n, char *err, size_t errlen)
{
	struct db_stmt	*stmt;
	int		 rc;

	rc = store_prepare(st, "UPDATE alert_deliveries SET status = 'failed', "
	    "last_error = ?2, updated_at = ?3 WHERE status = 'pending' AND "
	    "updated_at < ?1", &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = store_write(st, stmt, db_bind_int64(stmt, 1, before) |
	    store_str(stmt, 2, why) | db_bind_int64(stmt, 3, now),
	    "expiring deliveries", NULL, NULL, err, errlen);
	if (rc == UPLINK_OK && n != NULL)
		*n = db_changes(st->db);
	return rc;
}

static int
delivery_row(struct db_stmt *stmt, void *arg)
{
	struct alert_cb		*cb = arg;
	struct store_delivery	 d;

	memset(&d, 0, sizeof(d));
	d.id = db_column_int64(stmt, 0);
	d.channel_id = db_column_int64(stmt, 1);
	store_column(stmt, 2, d.event, sizeof(d.event));
	store_column(stmt, 3, d.kind, sizeof(d.kind));
	store_column(stmt, 4, d.subject, sizeof(d.subject));
	store_column(stmt, 5, d.status, sizeof(d.status));
	d.attempts = db_column_int64(stmt, 6);
	store_column(stmt, 7, d.last_error, sizeof(d.last_error));
	d.created_at = db_column_int64(stmt, 8);
	d.updated_at = db_column_int64(stmt, 9);
	return cb->fn.delivery(cb->arg, &d);
}

int
store_delivery_list(struct store *st, int64_t channel_id, int limit,
    store_delivery_cb fn, void *arg, char *err, size_t errlen)
{
	struct alert_cb	 cb = { .fn.delivery = fn, .arg = arg };
	struct db_stmt	*stmt;
	int		 rc;

	if (limit < 1 || limit > STORE_DELIVERY_LIST_MAX)
		return store_msg(UPLINK_EINVAL, err, errlen, "deliveries: a "
		    "limit of %d is out of range; use 1 to %d", limit,
		    STORE_DELIVERY_LIST_MAX);
	rc = store_prepare(st, "SELECT id, channel_id, event, kind, subject, "
	    "status, attempts, last_error, created_at, updated_at FROM "
	    "alert_deliveries WHERE channel_id = ?1 ORDER BY id DESC LIMIT ?2",
	    &stmt, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if ((db_bind_int64(stmt, 1, channel_id) | db_bind_int64(stmt, 2,
	    limit)) != DB_OK) {
		db_finalize(stmt);
		return store_sqlfail(st, err, errlen, "listing deliveries");
	}
	return store_walk(st, stmt, delivery_row, &cb, "listing deliveries",
	    err, errlen);
}
