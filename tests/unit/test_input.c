/*
 * input: UTF-8 validation and cleaning (cut characters, overlong forms,
 * surrogates), percent-decoding of path segments (%00, bad escapes,
 * invalid UTF-8) and id parsing (range, overflow, junk), row by row.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"

struct utf8_row {
	const char	*in;
	bool		 valid;
	const char	*clean;		/* after input_utf8_clean */
};

static const struct utf8_row utf8_rows[] = {
	{ "", true, "" },
	{ "plain ascii", true, "plain ascii" },
	{ "caf\xc3\xa9", true, "caf\xc3\xa9" },
	{ "\xe2\x82\xac 5", true, "\xe2\x82\xac 5" },		/* euro sign */
	{ "\xf0\x9f\x98\x80", true, "\xf0\x9f\x98\x80" },	/* emoji */
	{ "\xff", false, "?" },
	{ "a\xffz", false, "a?z" },
	{ "caf\xc3", false, "caf?" },				/* cut inside */
	{ "\xe2\x82", false, "??" },				/* cut inside */
	{ "\xc0\xaf", false, "??" },				/* overlong '/' */
	{ "\xe0\x80\xaf", false, "???" },			/* overlong */
	{ "\xed\xa0\x80", false, "???" },			/* surrogate */
	{ "\xf4\x90\x80\x80", false, "????" },			/* > U+10FFFF */
	{ "\x80x", false, "?x" },				/* lone continuation */
	{ "\xc3\xa9\xc3", false, "\xc3\xa9?" },
};

static void
test_utf8(void **state)
{
	char	 buf[64];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(utf8_rows) / sizeof(utf8_rows[0]); i++) {
		const struct utf8_row *r = &utf8_rows[i];

		if (input_utf8_valid(r->in, strlen(r->in)) != r->valid)
			fail_msg("row %zu: valid should be %d", i, r->valid);
		snprintf(buf, sizeof(buf), "%s", r->in);
		input_utf8_clean(buf);
		if (strcmp(buf, r->clean) != 0)
			fail_msg("row %zu: cleaned to \"%s\"", i, buf);
		if (!input_utf8_valid(buf, strlen(buf)))
			fail_msg("row %zu: cleaned text is not UTF-8", i);
	}
}

struct seg_row {
	const char	*raw;
	const char	*out;		/* NULL: refused */
	const char	*why;		/* part of the reason */
};

static const struct seg_row seg_rows[] = {
	{ "hq", "hq", NULL },
	{ "a%20b", "a b", NULL },
	{ "a+b", "a+b", NULL },
	{ "caf%C3%A9", "caf\xc3\xa9", NULL },
	{ "%2F", "/", NULL },
	{ "", "", NULL },
	{ "a%00b", NULL, "NUL" },
	{ "%00", NULL, "NUL" },
	{ "%ff", NULL, "UTF-8" },
	{ "caf%C3", NULL, "UTF-8" },
	{ "%c0%af", NULL, "UTF-8" },
	{ "%", NULL, "two hex" },
	{ "a%4", NULL, "two hex" },
	{ "%zz", NULL, "two hex" },
	{ "%4g", NULL, "two hex" },
};

static void
test_segments(void **state)
{
	char	 why[128];
	char	*out;
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(seg_rows) / sizeof(seg_rows[0]); i++) {
		const struct seg_row *r = &seg_rows[i];

		out = input_segment_decode(r->raw, strlen(r->raw), why,
		    sizeof(why));
		if (r->out == NULL && out != NULL)
			fail_msg("row %zu (%s): accepted as \"%s\"", i, r->raw,
			    out);
		if (r->out != NULL && (out == NULL || strcmp(out, r->out) != 0))
			fail_msg("row %zu (%s): got %s (%s)", i, r->raw,
			    out ? out : "NULL", why);
		if (r->out == NULL && strstr(why, r->why) == NULL)
			fail_msg("row %zu (%s): reason \"%s\" lacks \"%s\"", i,
			    r->raw, why, r->why);
		free(out);
	}
}

struct id_row {
	const char	*in;
	bool		 ok;
	int64_t		 v;
};

static const struct id_row id_rows[] = {
	{ "1", true, 1 },
	{ "42", true, 42 },
	{ "007", true, 7 },
	{ "9223372036854775807", true, INT64_MAX },
	{ "9223372036854775808", false, 0 },		/* one past */
	{ "99999999999999999999", false, 0 },
	{ "0", false, 0 },
	{ "-1", false, 0 },
	{ "+1", false, 0 },
	{ " 1", false, 0 },
	{ "1 ", false, 0 },
	{ "1x", false, 0 },
	{ "0x10", false, 0 },
	{ "", false, 0 },
};

static void
test_ids(void **state)
{
	int64_t	 v;
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(id_rows) / sizeof(id_rows[0]); i++) {
		const struct id_row *r = &id_rows[i];

		v = -5;
		if (input_id_parse(r->in, INT64_MAX, &v) != r->ok ||
		    (r->ok && v != r->v))
			fail_msg("row %zu (\"%s\"): got %lld", i, r->in,
			    (long long)v);
	}
	assert_true(input_id_parse("100", 100, &v));
	assert_false(input_id_parse("101", 100, &v));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
