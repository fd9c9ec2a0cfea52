/*
 * The store's alert rows (lib/store/store_alerts.c): channels with their
 * secret, rules, what is due and the claim that sends each condition once
 * raised and once resolved, and the delivery log's retention. On SQLite,
 * then with UPLINK_TEST_PG on PostgreSQL (the same assertions).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "error.h"
#include "store.h"

#define NOW	1700000000

#include "storefix.h"

static int64_t
add_channel(struct store *st, const char *name, const char *secret)
{
	struct store_channel	 ch;
	char			 err[256];
	int64_t			 id = 0;

	memset(&ch, 0, sizeof(ch));
	snprintf(ch.name, sizeof(ch.name), "%s", name);
	snprintf(ch.type, sizeof(ch.type), "webhook");
	snprintf(ch.config, sizeof(ch.config), "{\"url\":\"http://x/\"}");
	snprintf(ch.secret, sizeof(ch.secret), "%s", secret);
	assert_int_equal(store_channel_add(st, &ch, NOW, &id, err,
	    sizeof(err)), UPLINK_OK);
	assert_true(id > 0);
	return id;
}

static void
test_channels(void **state)
{
	struct fixture		*f = *state;
	struct store_channel	 ch;
	char			 err[256];
	int64_t			 id;

	id = add_channel(f->st, "ops", "k1");
	/* Names are unique regardless of case. */
	memset(&ch, 0, sizeof(ch));
	snprintf(ch.name, sizeof(ch.name), "OPS");
	snprintf(ch.type, sizeof(ch.type), "email");
	snprintf(ch.config, sizeof(ch.config), "{}");
	assert_int_equal(store_channel_add(f->st, &ch, NOW, NULL, err,
	    sizeof(err)), UPLINK_EEXIST);
	snprintf(ch.type, sizeof(ch.type), "pager");
	snprintf(ch.name, sizeof(ch.name), "other");
	assert_int_equal(store_channel_add(f->st, &ch, NOW, NULL, err,
	    sizeof(err)), UPLINK_EINVAL);
	/* An update keeps the secret unless told to set it. */
	assert_int_equal(store_channel_get(f->st, id, &ch, err, sizeof(err)),
	    UPLINK_OK);
	snprintf(ch.name, sizeof(ch.name), "ops-2");
	ch.secret[0] = '\0';
	assert_int_equal(store_channel_update(f->st, &ch, false, NOW + 1, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_channel_get(f->st, id, &ch, err, sizeof(err)),
	    UPLINK_OK);
	assert_string_equal(ch.name, "ops-2");
	assert_string_equal(ch.secret, "k1");
	assert_int_equal(ch.updated_at, NOW + 1);
	snprintf(ch.secret, sizeof(ch.secret), "k2");
	assert_int_equal(store_channel_update(f->st, &ch, true, NOW + 2, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_channel_get(f->st, id, &ch, err, sizeof(err)),
	    UPLINK_OK);
	assert_string_equal(ch.secret, "k2");
	assert_int_equal(store_channel_delete(f->st, id, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_channel_delete(f->st, id, err, sizeof(err)),
	    UPLINK_ENOTFOUND);
	assert_int_equal(store_channel_get(f->st, id, &ch, err, sizeof(err)),
	    UPLINK_ENOTFOUND);
}

struct seen {
	int	 raised, resolved;
	struct store_alert last;
};

static int
due_cb(void *arg, const struct store_alert *a)
{
	struct seen	*s = arg;

	if (a->resolved)
		s->resolved++;
	else
		s->raised++;
	s->last = *a;
	return 0;
}

static struct seen
due(struct store *st, int64_t now)
{
	struct seen	 s;
	char		 err[256];

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_alert_due(st, now, 50, due_cb, &s, err,
	    sizeof(err)), UPLINK_OK);
	return s;
}

static bool
claim(struct store *st, const struct store_alert *a)
{
	char	 err[256];
	bool	 claimed = true;

	assert_int_equal(store_alert_claim(st, a, NOW, &claimed, err,
	    sizeof(err)), UPLINK_OK);
	return claimed;
}

static void
test_due_and_claim(void **state)
{
	struct fixture		*f = *state;
	struct store_rule	 ru;
	struct seen		 s;
	char			 err[256];
	int64_t			 ch;

	ch = add_channel(f->st, "ops", "k");
	memset(&ru, 0, sizeof(ru));
	snprintf(ru.kind, sizeof(ru.kind), "connector-offline");
	snprintf(ru.channels, sizeof(ru.channels), "%lld", (long long)ch);
	ru.after = 60;
	ru.enabled = true;
	assert_int_equal(store_rule_add(f->st, &ru, NOW, &ru.id, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_note_open(f->st, "connector-offline",
	    "c-000000000001", "error", "offline", NOW, NULL, err, sizeof(err)),
	    UPLINK_OK);
	/* Not before the rule's time. */
	s = due(f->st, NOW + 59);
	assert_int_equal(s.raised + s.resolved, 0);
	s = due(f->st, NOW + 60);
	assert_int_equal(s.raised, 1);
	assert_string_equal(s.last.note.subject, "c-000000000001");
	assert_int_equal(s.last.rule.id, ru.id);
	/* One claim wins; then nothing is due while it stays raised. */
	assert_true(claim(f->st, &s.last));
	assert_false(claim(f->st, &s.last));
	s = due(f->st, NOW + 3600);
	assert_int_equal(s.raised + s.resolved, 0);
	/* Opening it again while raised changes nothing. */
	assert_int_equal(store_note_open(f->st, "connector-offline",
	    "c-000000000001", "error", "offline", NOW + 5, NULL, err,
	    sizeof(err)), UPLINK_OK);
	s = due(f->st, NOW + 3600);
	assert_int_equal(s.raised + s.resolved, 0);
	/* Resolved: due once, claimed once. */
	assert_int_equal(store_note_resolve(f->st, "connector-offline",
	    "c-000000000001", NOW + 100, err, sizeof(err)), UPLINK_OK);
	s = due(f->st, NOW + 3600);
	assert_int_equal(s.resolved, 1);
	assert_int_equal(s.raised, 0);
	assert_true(s.last.note.resolved_at == NOW + 100);
	assert_true(claim(f->st, &s.last));
	assert_false(claim(f->st, &s.last));
	s = due(f->st, NOW + 3600);
	assert_int_equal(s.raised + s.resolved, 0);
	/* A condition resolved before its time is never sent, not even resolved. */
	assert_int_equal(store_note_open(f->st, "connector-offline",
	    "c-000000000002", "error", "offline", NOW, NULL, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_note_resolve(f->st, "connector-offline",
	    "c-000000000002", NOW + 10, err, sizeof(err)), UPLINK_OK);
	s = due(f->st, NOW + 3600);
	assert_int_equal(s.raised + s.resolved, 0);
}

static void
test_check_failing_and_disabled(void **state)
{
	struct fixture		*f = *state;
	struct store_rule	 ru;
	struct seen		 s;
	char			 err[256];

	memset(&ru, 0, sizeof(ru));
	snprintf(ru.kind, sizeof(ru.kind), "check-failing");
	ru.enabled = true;
	assert_int_equal(store_rule_add(f->st, &ru, NOW, &ru.id, err,
	    sizeof(err)), UPLINK_OK);
	/* One check with interception: one alert, the verdict in it. */
	assert_int_equal(store_note_open(f->st, "tls-interception", "c-1",
	    "error", "issued by 'Corp CA'", NOW, NULL, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(store_note_open(f->st, "check-failed", "c-1",
	    "warning", "check failed: 127.0.0.1:443 tls-interception (issued "
	    "by 'Corp CA')", NOW, NULL, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(store_note_open(f->st, "site-no-redundancy", "hq",
	    "warning", "one connector", NOW, NULL, err, sizeof(err)),
	    UPLINK_OK);
	s = due(f->st, NOW);
	assert_int_equal(s.raised, 1);
	assert_string_equal(s.last.note.kind, "check-failed");
	assert_non_null(strstr(s.last.note.message, "Corp CA"));
	ru.enabled = false;
	assert_int_equal(store_rule_update(f->st, &ru, err, sizeof(err)),
	    UPLINK_OK);
	s = due(f->st, NOW);
	assert_int_equal(s.raised, 0);
	/* Bad rules are refused. */
	snprintf(ru.kind, sizeof(ru.kind), "Bad Kind");
	assert_int_equal(store_rule_add(f->st, &ru, NOW, NULL, err,
	    sizeof(err)), UPLINK_EINVAL);
	snprintf(ru.kind, sizeof(ru.kind), "cert-expiring");
	snprintf(ru.channels, sizeof(ru.channels), "1;2");
	assert_int_equal(store_rule_add(f->st, &ru, NOW, NULL, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_int_equal(store_rule_delete(f->st, 999, err, sizeof(err)),
	    UPLINK_ENOTFOUND);
}

static int
count_cb(void *arg, const struct store_delivery *d)
{
	int64_t	*v = arg;

	if (v[0] == 0)
		v[1] = d->id;	/* the newest */
	v[0]++;
	v[2] = d->id;		/* the oldest listed */
	return 0;
}

static void
test_delivery_log(void **state)
{
	struct fixture		*f = *state;
	struct store_delivery	 d;
	char			 err[256];
	int64_t			 id = 0, first = 0, v[3] = { 0, 0, 0 };
	int			 i;

	memset(&d, 0, sizeof(d));
	d.channel_id = add_channel(f->st, "ops", "k");
	snprintf(d.event, sizeof(d.event), "raised");
	snprintf(d.kind, sizeof(d.kind), "connector-offline");
	snprintf(d.subject, sizeof(d.subject), "c-1");
	for (i = 0; i < STORE_DELIVERIES_KEPT + 5; i++) {
		assert_int_equal(store_delivery_add(f->st, &d, NOW + i, &id,
		    err, sizeof(err)), UPLINK_OK);
		if (i == 0)
			first = id;
	}
	assert_int_equal(store_delivery_update(f->st, id, "failed", 3,
	    "HTTP 500\r\nInjected: header", NOW, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(store_delivery_list(f->st, d.channel_id,
	    STORE_DELIVERY_LIST_MAX, count_cb, v, err, sizeof(err)), UPLINK_OK);
	assert_int_equal(v[0], STORE_DELIVERIES_KEPT);
	assert_int_equal(v[1], id);
	assert_int_equal(v[2], first + 5);
	/* Pending ones left behind are failed; the others keep their state. */
	assert_int_equal(store_delivery_expire(f->st, NOW + 3, "stopped",
	    NOW + 1000, &v[0], err, sizeof(err)), UPLINK_OK);
	assert_int_equal(v[0], 0);	/* the oldest kept is NOW + 5 */
	assert_int_equal(store_delivery_expire(f->st, NOW + 10, "stopped",
	    NOW + 1000, &v[0], err, sizeof(err)), UPLINK_OK);
	assert_int_equal(v[0], 5);	/* NOW + 5 .. NOW + 9 */
	d.channel_id = 99999;
	assert_int_equal(store_delivery_add(f->st, &d, NOW, &id, err,
	    sizeof(err)), UPLINK_ENOTFOUND);
}

static int
last_error_cb(void *arg, const struct store_delivery *d)
{
	snprintf(arg, STORE_TEXT_MAX + 1, "%s", d->last_error);
	return 1;	/* the newest only */
}

static void
test_delivery_error_one_line(void **state)
{
	struct fixture		*f = *state;
	struct store_delivery	 d;
	char			 err[256], got[STORE_TEXT_MAX + 1] = "";
	int64_t			 id;

	memset(&d, 0, sizeof(d));
	d.channel_id = add_channel(f->st, "ops", "k");
	snprintf(d.event, sizeof(d.event), "test");
	snprintf(d.kind, sizeof(d.kind), "test");
	snprintf(d.subject, sizeof(d.subject), "ops");
	assert_int_equal(store_delivery_add(f->st, &d, NOW, &id, err,
	    sizeof(err)), UPLINK_OK);
	assert_int_equal(store_delivery_update(f->st, id, "failed", 1,
	    "HTTP 500\r\nInjected: \xff", NOW, err, sizeof(err)), UPLINK_OK);
	store_delivery_list(f->st, d.channel_id, 1, last_error_cb, got, err,
	    sizeof(err));
	assert_string_equal(got, "HTTP 500  Injected: ?");
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_channels),
		T(test_due_and_claim),
		T(test_check_failing_and_disabled),
		T(test_delivery_log),
		T(test_delivery_error_one_line),
	};
	storefix_template = "/tmp/uplink-test-alerts-XXXXXX";
	return storefix_main("test_store_alerts", tests, tests);
}
