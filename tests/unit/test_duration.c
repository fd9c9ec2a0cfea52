/*
 * duration: parsing "24h"-style values, the caps, the messages, formatting
 * and the round trip between the two. Each row names its input so a
 * failure says which one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "duration.h"
#include "error.h"

struct parse_row {
	const char	*in;
	int		 rc;
	int64_t		 secs;
	const char	*why;		/* part of the message on failure */
};

#define OK(in, secs)	{ in, UPLINK_OK, secs, NULL }
#define BAD(in, why)	{ in, UPLINK_EINVAL, 0, why }

#define JUNK		"use a number with s, m, h or d, e.g. 24h"
#define ORDER		"give each unit once, from d down to s"
#define TOOBIG		"longer than the limit of 3650d (ten years)"
#define ZERO		"must be longer than zero"

static const struct parse_row parse_rows[] = {
	OK("1", 1),
	OK("3600", 3600),
	OK("30s", 30),
	OK("15m", 900),
	OK("24h", 86400),
	OK("7d", 604800),
	OK("1h30m", 5400),
	OK("1d2h", 93600),
	OK("1d2h3m4s", 93784),
	OK("1d4s", 86404),
	OK("90m", 5400),
	OK("100h", 360000),
	OK("0h1s", 1),
	OK("007m", 420),
	OK("3650d", 3650LL * 86400),
	OK("3649d23h59m59s", 3650LL * 86400 - 1),
	OK("315360000", 315360000),
	OK("315360000s", 315360000),
	BAD("2x", JUNK),
	BAD("", "empty; use a number"),
	BAD("h", JUNK),
	BAD("1hh", JUNK),
	BAD("-1h", JUNK),
	BAD("+1h", JUNK),
	BAD(" 1h", JUNK),
	BAD("1h ", JUNK),
	BAD("1 h", JUNK),
	BAD("1.5h", JUNK),
	BAD("1H", JUNK),
	BAD("1w", JUNK),
	BAD("1y", JUNK),
	BAD("0x10", JUNK),
	BAD("1h\n", JUNK),
	BAD("1h30", "\"30\" needs a unit (s, m, h or d), e.g. 1h30m"),
	BAD("30m1h", ORDER),
	BAD("1h1h", ORDER),
	BAD("1s1m", ORDER),
	BAD("0", ZERO),
	BAD("0s", ZERO),
	BAD("0d0h0m0s", ZERO),
	BAD("3650d1s", TOOBIG),
	BAD("3651d", TOOBIG),
	BAD("315360001", TOOBIG),
	BAD("87600h1s", TOOBIG),
	BAD("9223372036854775807s", TOOBIG),
	BAD("99999999999999999999999999d", TOOBIG),
	BAD("3650d3650d", ORDER),
	/* Syntax is reported before size. */
	BAD("99999999999999999999999x", JUNK),
};

static void
test_parse_table(void **state)
{
	const struct parse_row	*r;
	char			 err[256];
	int64_t			 secs;
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
		r = &parse_rows[i];
		err[0] = '\0';
		secs = -1;
		rc = duration_parse(r->in, "--ttl", &secs, err, sizeof(err));
		if (rc != r->rc)
			fail_msg("row %zu \"%s\": rc %d, want %d (%s)", i,
			    r->in, rc, r->rc, err);
		if (rc == UPLINK_OK && secs != r->secs)
			fail_msg("row %zu \"%s\": %lld s, want %lld", i, r->in,
			    (long long)secs, (long long)r->secs);
		if (rc != UPLINK_OK && secs != -1)
			fail_msg("row %zu \"%s\": failure wrote the result", i,
			    r->in);
		if (rc != UPLINK_OK && strstr(err, r->why) == NULL)
			fail_msg("row %zu \"%s\": message \"%s\" lacks "
			    "\"%s\"", i, r->in, err, r->why);
	}
}

/* The message the brief promises, exactly, and the forms of its prefix. */
static void
test_parse_messages(void **state)
{
	char	 err[256], longin[200];
	int64_t	 secs;

	(void)state;
	duration_parse("2x", "--ttl", &secs, err, sizeof(err));
	assert_string_equal(err, "--ttl \"2x\": use a number with s, m, h or "
	    "d, e.g. 24h");
	duration_parse("2x", NULL, &secs, err, sizeof(err));
	assert_string_equal(err, "\"2x\": use a number with s, m, h or d, "
	    "e.g. 24h");
	assert_int_equal(duration_parse(NULL, "--ttl", &secs, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_string_equal(err, "--ttl \"\": empty; use a number with s, m, h "
	    "or d, e.g. 24h");
	/* No message buffer is fine. */
	assert_int_equal(duration_parse("2x", "--ttl", &secs, NULL, 0),
	    UPLINK_EINVAL);
	/* Long input is quoted in part. */
	memset(longin, 'x', sizeof(longin) - 1);
	longin[sizeof(longin) - 1] = '\0';
	duration_parse(longin, "--ttl", &secs, err, sizeof(err));
	assert_non_null(strstr(err, "xxx...\": use a number"));
	assert_true(strlen(err) < 120);
	/* A short buffer truncates but stays a C string. */
	duration_parse("2x", "--ttl", &secs, err, 8);
	assert_string_equal(err, "--ttl \"");
}

struct format_row {
	int64_t		 secs;
	const char	*out;
};

static const struct format_row format_rows[] = {
	{ 0, "0s" },
	{ 1, "1s" },
	{ 59, "59s" },
	{ 60, "1m" },
	{ 90, "1m30s" },
	{ 3600, "1h" },
	{ 5400, "1h30m" },
	{ 86400, "1d" },
	{ 93600, "1d2h" },
	{ 93784, "1d2h3m4s" },
	{ 86401, "1d1s" },
	{ 3650LL * 86400, "3650d" },
	{ -90, "-1m30s" },
	{ -86400, "-1d" },
	{ INT64_MAX, "106751991167300d15h30m7s" },
	{ INT64_MIN, "-106751991167300d15h30m8s" },
};

static void
test_format_table(void **state)
{
	char	 b[DURATION_TEXT_SIZE];
	size_t	 i, n;

	(void)state;
	for (i = 0; i < sizeof(format_rows) / sizeof(format_rows[0]); i++) {
		n = duration_format(format_rows[i].secs, b, sizeof(b));
		if (strcmp(b, format_rows[i].out) != 0 ||
		    n != strlen(format_rows[i].out))
			fail_msg("row %zu %lld: \"%s\" (%zu), want \"%s\"", i,
			    (long long)format_rows[i].secs, b, n,
			    format_rows[i].out);
	}
	/* Truncation keeps the NUL and reports the length needed. */
	assert_int_equal(duration_format(93784, b, 4), 8);
	assert_string_equal(b, "1d2");
	assert_int_equal(duration_format(93784, NULL, 0), 8);
}

/* Whatever duration_format() prints, duration_parse() reads back. */
static void
test_roundtrip(void **state)
{
	char	 b[DURATION_TEXT_SIZE], err[128];
	int64_t	 secs, back;

	(void)state;
	for (secs = 1; secs <= DURATION_MAX; secs = secs * 3 + 7) {
		duration_format(secs, b, sizeof(b));
		assert_int_equal(duration_parse(b, NULL, &back, err,
		    sizeof(err)), UPLINK_OK);
		assert_int_equal(back, secs);
	}
	duration_format(DURATION_MAX, b, sizeof(b));
	assert_int_equal(duration_parse(b, NULL, &back, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(back, DURATION_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_messages),
		cmocka_unit_test(test_format_table),
		cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
