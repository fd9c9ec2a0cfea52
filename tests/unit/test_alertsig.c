/*
 * alertsig: the webhook signature header (checked against HMAC-SHA256
 * values computed independently, by Python's hmac module) and the retry
 * schedule of alert deliveries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "alertsig.h"

struct sig_row {
	const char	*key;
	int64_t		 t;
	const char	*body;
	const char	*want;		/* NULL: refused */
};

/* python3 -c "import hmac,hashlib; print(hmac.new(K, b'T.BODY', hashlib.sha256).hexdigest())" */
static const struct sig_row sig_rows[] = {
	{ "whsec_test", 1700000000, "{\"a\":1}", "t=1700000000,v1="
	    "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789" },
	{ "k", 0, "", "t=0,v1="
	    "6b4a4b8b3c40f1e8f53a3d36682e5f99f7ad2ac1df1c93dfe336f329167641e7" },
	{ "k", -5, "x", "t=-5,v1="
	    "bb37629728762e2c6ee7834ab2032390a78036f097a83c7e352a333cc28f5c2a" },
	{ "", 1, "x", NULL },		/* no key: nothing to sign with */
};

static void
test_signature_table(void **state)
{
	char	 out[ALERTSIG_HEADER_SIZE];
	size_t	 i;
	int	 rc;

	(void)state;
	for (i = 0; i < sizeof(sig_rows) / sizeof(sig_rows[0]); i++) {
		const struct sig_row *r = &sig_rows[i];

		rc = alertsig_header(r->key, strlen(r->key), r->t, r->body,
		    strlen(r->body), out, sizeof(out));
		if (r->want == NULL) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_string_equal(out, r->want);
	}
}

/* A changed byte of body, key or time changes the MAC. */
static void
test_signature_binds_everything(void **state)
{
	char	 a[ALERTSIG_HEADER_SIZE], b[ALERTSIG_HEADER_SIZE];

	(void)state;
	assert_int_equal(alertsig_header("key", 3, 10, "body", 4, a,
	    sizeof(a)), 0);
	assert_int_equal(alertsig_header("key", 3, 10, "bodz", 4, b,
	    sizeof(b)), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(alertsig_header("kez", 3, 10, "body", 4, b,
	    sizeof(b)), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(alertsig_header("key", 3, 11, "body", 4, b,
	    sizeof(b)), 0);
	assert_string_not_equal(strchr(a, ','), strchr(b, ','));
	/* The largest time fits the documented size. */
	assert_int_equal(alertsig_header("key", 3, INT64_MIN, "body", 4, b,
	    sizeof(b)), 0);
	assert_true(strlen(b) < ALERTSIG_HEADER_SIZE);
	/* Too small a buffer is refused, not cut. */
	assert_int_equal(alertsig_header("key", 3, 10, "body", 4, b, 40), -1);
}

static void
test_backoff_schedule(void **state)
{
	static const struct { int attempt, wait; } rows[] = {
		{ -1, -1 }, { 0, -1 },
		{ 1, 2 }, { 2, 4 }, { 3, 8 }, { 4, 16 }, { 5, 32 }, { 6, 64 },
		{ 7, 128 },
		{ ALERT_ATTEMPTS_MAX, -1 }, { ALERT_ATTEMPTS_MAX + 1, -1 },
		{ 1000000, -1 },
	};
	size_t	 i;
	int	 total = 0, a;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (alert_backoff(rows[i].attempt) != rows[i].wait)
			fail_msg("attempt %d: wait %d, want %d",
			    rows[i].attempt, alert_backoff(rows[i].attempt),
			    rows[i].wait);
	}
	/* Every wait within the cap; the whole schedule under 5 minutes. */
	for (a = 1; alert_backoff(a) >= 0; a++) {
		assert_true(alert_backoff(a) <= ALERT_RETRY_MAX);
		total += alert_backoff(a);
	}
	assert_int_equal(a, ALERT_ATTEMPTS_MAX);
	assert_true(total < 300);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature_table),
		cmocka_unit_test(test_signature_binds_everything),
		cmocka_unit_test(test_backoff_schedule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
