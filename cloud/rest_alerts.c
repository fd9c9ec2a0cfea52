#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "alerts.h"
#include "daemon.h"
#include "log.h"
#include "rest.h"

/*
 * Alert channels and rules through the API (docs/api.md, docs/alerts.md).
 * A channel's secret (a webhook's signing key, an SMTP password) is
 * written, never read back: lists and gets say only whether it is set.
 * A webhook created without one gets a random key, shown in the answer
 * to that POST only.
 */

#define WEBHOOK_KEY_BYTES	32

/* The kinds a rule may name: notification kinds, and "check-failing". */
static const char *const rule_kinds[] = {
	"connector-offline", "site-no-redundancy", "cert-expiring",
	"check-failing", "check-failed", "tls-interception",
	"crl-unreachable", "update-rolled-back", "connector-revoked", NULL,
};

static json_t *
channel_json(const struct store_channel *ch)
{
	json_t	*cfg = json_loads(ch->config, 0, NULL);

	return json_pack("{s:I, s:s, s:s, s:o, s:b, s:o, s:o}", "id",
	    (json_int_t)ch->id, "name", ch->name, "type", ch->type, "config",
	    cfg != NULL ? cfg : json_object(), "has_secret",
	    ch->secret[0] != '\0', "created_at", rest_time(ch->created_at),
	    "updated_at", rest_time(ch->updated_at));
}

static int
channel_row(void *arg, const struct store_channel *ch)
{
	json_array_append_new(arg, channel_json(ch));
	return 0;
}

void
rest_channels_list(struct rest *r)
{
	json_t	*arr = json_array();
	char	 err[256];
	int	 rc;

	rc = store_channel_list(r->c->dd.st, channel_row, arr, err,
	    sizeof(err));
	if (rc != UPLINK_OK) {
		json_decref(arr);
		rest_store_fail(r, rc, err);
		return;
	}
	rest_reply(r, 200, json_pack("{s:o}", "channels", arr));
}

/* The channel in path segment 1; false: answered. */
static bool
find_channel(struct rest *r, struct store_channel *ch)
{
	char	 err[256];
	int64_t	 id;
	int	 rc;

	if (!rest_path_id(r, 1, "channel", &id))
		return false;
	rc = store_channel_get(r->c->dd.st, id, ch, err, sizeof(err));
	if (rc == UPLINK_ENOTFOUND)
		rest_fail(r, 404, "not-found", "there is no channel %lld",
		    (long long)id);
	else if (rc != UPLINK_OK)
		rest_store_fail(r, rc, err);
	return rc == UPLINK_OK;
}

void
rest_channel_get(struct rest *r)
{
	struct store_channel	 ch;

	if (find_channel(r, &ch))
		rest_reply(r, 200, channel_json(&ch));
}

/* Checks and copies config into ch->config; false: answered 400. */
static bool
take_config(struct rest *r, struct store_channel *ch)
{
	json_t	*cfg = json_deep_copy(json_object_get(r->body, "config"));
	char	 why[256], *text;
	bool	 ok = false;

	if (!alerts_channel_check(ch->type, cfg, why, sizeof(why))) {
		rest_fail(r, 400, "bad-field", "%s", why);
		goto out;
	}
	text = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL || strlen(text) >= sizeof(ch->config))
		rest_fail(r, 400, "bad-field", "config is too large (at most "
		    "%zu bytes as JSON)", sizeof(ch->config) - 1);
	else {
		snprintf(ch->config, sizeof(ch->config), "%s", text);
		ok = true;
	}
	free(text);
out:
	json_decref(cfg);
	return ok;
}

void
rest_channels_post(struct rest *r)
{
	static const char *const fields[] = { "!name:s", "!type:s",
	    "!config:o", "secret:s", NULL };
	struct store_channel	 ch;
	unsigned char		 key[WEBHOOK_KEY_BYTES];
	bool			 made = false;
	char			 err[512];
	json_t			*j;
	int			 rc;

	memset(&ch, 0, sizeof(ch));
	if (!rest_fields(r, fields) || !rest_take_str(r, "name", ch.name,
	    sizeof(ch.name)) || !rest_take_str(r, "type", ch.type,
	    sizeof(ch.type)) || !rest_take_str(r, "secret", ch.secret,
	    sizeof(ch.secret)))
		return;
	if (!store_name_check("name", ch.name, err, sizeof(err))) {
		rest_fail(r, 400, "bad-field", "%s", err);
		return;
	}
	if (!take_config(r, &ch))
		return;
	if (strcmp(ch.type, "webhook") == 0 && ch.secret[0] == '\0') {
		randombytes_buf(key, sizeof(key));
		sodium_bin2hex(ch.secret, sizeof(ch.secret), key, sizeof(key));
		made = true;
	}
	rc = store_channel_add(r->c->dd.st, &ch, r->now, &ch.id, err,
	    sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	ch.created_at = ch.updated_at = r->now;
	rest_audit(r, "channel.create", ch.name, "%s channel", ch.type);
	j = channel_json(&ch);
	if (made)
		json_object_set_new(j, "secret", json_string(ch.secret));
	sodium_memzero(ch.secret, sizeof(ch.secret));
	rest_reply(r, 201, j);
}

void
rest_channel_patch(struct rest *r)
{
	static const char *const fields[] = { "name:s", "config:o",
	    "secret:s", NULL };
	struct store_channel	 ch;
	char			 err[512];
	bool			 secret;
	int			 rc;

	if (!rest_fields(r, fields) || !find_channel(r, &ch))
		return;
	secret = rest_str(r, "secret") != NULL;
	if (!rest_take_str(r, "name", ch.name, sizeof(ch.name)) ||
	    !rest_take_str(r, "secret", ch.secret, sizeof(ch.secret)))
		return;
	if (!store_name_check("name", ch.name, err, sizeof(err))) {
		rest_fail(r, 400, "bad-field", "%s", err);
		return;
	}
	if (json_object_get(r->body, "config") != NULL && !take_config(r, &ch))
		return;
	if (secret && ch.secret[0] == '\0' && strcmp(ch.type, "webhook") ==
	    0) {
		rest_fail(r, 400, "bad-field", "a webhook needs a signing key: "
		    "give a secret of 1 to %d characters", STORE_CHANNEL_SECRET_MAX);
		return;
	}
	rc = store_channel_update(r->c->dd.st, &ch, secret, r->now, err,
	    sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	ch.updated_at = r->now;
	rest_audit(r, "channel.update", ch.name, "%s", secret ?
	    "secret changed" : "settings changed");
	rest_reply(r, 200, channel_json(&ch));
}

void
rest_channel_delete(struct rest *r)
{
	struct store_channel	 ch;
	char			 err[256];
	int			 rc;

	if (!find_channel(r, &ch))
		return;
	rc = store_channel_delete(r->c->dd.st, ch.id, err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "channel.delete", ch.name, "%s channel", ch.type);
	rest_reply(r, 204, NULL);
}

static json_t *
delivery_json(const struct store_delivery *d)
{
	return json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:I, s:s, s:o, s:o}",
	    "id", (json_int_t)d->id, "channel", (json_int_t)d->channel_id,
	    "event", d->event, "kind", d->kind, "subject", d->subject,
	    "status", d->status, "attempts", (json_int_t)d->attempts,
	    "last_error", d->last_error, "created_at",
	    rest_time(d->created_at), "updated_at", rest_time(d->updated_at));
}

static void
test_done(void *arg, const struct store_delivery *d)
{
	rest_reply(arg, 200, delivery_json(d));
}

void
rest_channel_test(struct rest *r)
{
	struct store_channel	 ch;
	char			 err[512];
	int			 rc;

	if (!find_channel(r, &ch))
		return;
	rest_audit(r, "channel.test", ch.name, "test message asked");
	rc = alerts_test(r->c, ch.id, r->actor, test_done, r, err,
	    sizeof(err));
	if (rc != UPLINK_OK)
		rest_store_fail(r, rc, err);
}

static int
delivery_row(void *arg, const struct store_delivery *d)
{
	json_array_append_new(arg, delivery_json(d));
	return 0;
}

void
rest_channel_deliveries(struct rest *r)
{
	struct store_channel	 ch;
	json_t			*arr;
	char			 err[256];
	int64_t			 limit;
	int			 rc;

	if (!rest_query_int(r, "limit", 1, STORE_DELIVERY_LIST_MAX, 50,
	    &limit) || !find_channel(r, &ch))
		return;
	arr = json_array();
	rc = store_delivery_list(r->c->dd.st, ch.id, (int)limit, delivery_row,
	    arr, err, sizeof(err));
	if (rc != UPLINK_OK) {
		json_decref(arr);
		rest_store_fail(r, rc, err);
		return;
	}
	rest_reply(r, 200, json_pack("{s:o}", "deliveries", arr));
}

/* ---- rules */

static json_t *
rule_json(const struct store_rule *ru)
{
	json_t		*ids = json_array();
	const char	*p = ru->channels;
	char		*end;
	long long	 id;

	while (*p != '\0') {
		id = strtoll(p, &end, 10);
		if (end == p)
			break;
		json_array_append_new(ids, json_integer(id));
		p = *end == ',' ? end + 1 : end;
	}
	return json_pack("{s:I, s:s, s:I, s:o, s:b, s:o}", "id",
	    (json_int_t)ru->id, "kind", ru->kind, "after",
	    (json_int_t)ru->after, "channels", ids, "enabled", ru->enabled,
	    "created_at", rest_time(ru->created_at));
}

static int
rule_row(void *arg, const struct store_rule *ru)
{
	json_array_append_new(arg, rule_json(ru));
	return 0;
}

void
rest_rules_list(struct rest *r)
{
	json_t	*arr = json_array(), *kinds;
	char	 err[256];
	size_t	 i;
	int	 rc;

	rc = store_rule_list(r->c->dd.st, rule_row, arr, err, sizeof(err));
	if (rc != UPLINK_OK) {
		json_decref(arr);
		rest_store_fail(r, rc, err);
		return;
	}
	kinds = json_array();
	for (i = 0; rule_kinds[i] != NULL; i++)
		json_array_append_new(kinds, json_string(rule_kinds[i]));
	rest_reply(r, 200, json_pack("{s:o, s:o}", "rules", arr, "kinds",
	    kinds));
}

/* Fills ru from the body's fields that are present; false: answered. */
static bool
take_rule(struct rest *r, struct store_rule *ru)
{
	struct store_channel	 ch;
	json_t			*v, *ids = json_object_get(r->body, "channels");
	const char		*kind = rest_str(r, "kind");
	char			 err[256];
	size_t			 i, len = 0;

	if (kind != NULL) {
		for (i = 0; rule_kinds[i] != NULL; i++)
			if (strcmp(rule_kinds[i], kind) == 0)
				break;
		if (rule_kinds[i] == NULL) {
			rest_fail(r, 400, "bad-field", "kind \"%.40s\" is not "
			    "one of the rule kinds (GET /api/v1/alert-rules "
			    "lists them)", kind);
			return false;
		}
		snprintf(ru->kind, sizeof(ru->kind), "%s", kind);
	}
	if ((v = json_object_get(r->body, "after")) != NULL) {
		if (json_integer_value(v) < 0 || json_integer_value(v) >
		    366 * 86400) {
			rest_fail(r, 400, "bad-field", "after must be 0 to "
			    "31622400 seconds");
			return false;
		}
		ru->after = json_integer_value(v);
	}
	if ((v = json_object_get(r->body, "enabled")) != NULL)
		ru->enabled = json_is_true(v);
	if (ids == NULL)
		return true;
	ru->channels[0] = '\0';
	json_array_foreach(ids, i, v) {
		if (!json_is_integer(v) || store_channel_get(r->c->dd.st,
		    json_integer_value(v), &ch, err, sizeof(err)) !=
		    UPLINK_OK) {
			rest_fail(r, 400, "bad-field", "channels[%zu] is not "
			    "the id of a channel (GET /api/v1/channels)", i);
			return false;
		}
		len += (size_t)snprintf(ru->channels + len,
		    sizeof(ru->channels) - len, "%s%lld", i ? "," : "",
		    (long long)ch.id);
		if (len >= sizeof(ru->channels)) {
			rest_fail(r, 400, "bad-field", "channels: too many");
			return false;
		}
	}
	return true;
}

void
rest_rules_post(struct rest *r)
{
	static const char *const fields[] = { "!kind:s", "after:i",
	    "!channels:a", "enabled:b", NULL };
	struct store_rule	 ru;
	char			 err[256];
	int			 rc;

	memset(&ru, 0, sizeof(ru));
	ru.enabled = true;
	if (!rest_fields(r, fields) || !take_rule(r, &ru))
		return;
	rc = store_rule_add(r->c->dd.st, &ru, r->now, &ru.id, err,
	    sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	ru.created_at = r->now;
	rest_audit(r, "alert-rule.create", ru.kind, "after %llds to channels "
	    "%s", (long long)ru.after, ru.channels);
	alerts_kick(r->c);
	rest_reply(r, 201, rule_json(&ru));
}

struct rule_find {
	int64_t			 id;
	struct store_rule	 ru;
	bool			 found;
};

static int
rule_find_row(void *arg, const struct store_rule *ru)
{
	struct rule_find	*f = arg;

	if (ru->id == f->id) {
		f->ru = *ru;
		f->found = true;
	}
	return 0;
}

static bool
find_rule(struct rest *r, struct store_rule *ru)
{
	struct rule_find	 f = { 0 };
	char			 err[256];
	int			 rc;

	if (!rest_path_id(r, 1, "rule", &f.id))
		return false;
	rc = store_rule_list(r->c->dd.st, rule_find_row, &f, err,
	    sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return false;
	}
	if (!f.found) {
		rest_fail(r, 404, "not-found", "there is no alert rule %lld",
		    (long long)f.id);
		return false;
	}
	*ru = f.ru;
	return true;
}

void
rest_rule_patch(struct rest *r)
{
	static const char *const fields[] = { "kind:s", "after:i",
	    "channels:a", "enabled:b", NULL };
	struct store_rule	 ru;
	char			 err[256];
	int			 rc;

	if (!rest_fields(r, fields) || !find_rule(r, &ru) ||
	    !take_rule(r, &ru))
		return;
	rc = store_rule_update(r->c->dd.st, &ru, err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "alert-rule.update", ru.kind, "after %llds to channels "
	    "%s, %s", (long long)ru.after, ru.channels, ru.enabled ?
	    "enabled" : "disabled");
	alerts_kick(r->c);
	rest_reply(r, 200, rule_json(&ru));
}

void
rest_rule_delete(struct rest *r)
{
	struct store_rule	 ru;
	char			 err[256];
	int			 rc;

	if (!find_rule(r, &ru))
		return;
	rc = store_rule_delete(r->c->dd.st, ru.id, err, sizeof(err));
	if (rc != UPLINK_OK) {
		rest_store_fail(r, rc, err);
		return;
	}
	rest_audit(r, "alert-rule.delete", ru.kind, "rule %lld",
	    (long long)ru.id);
	rest_reply(r, 204, NULL);
}
