/*
 * mwindow: maintenance windows in named time zones (lib/core/mwindow.c),
 * read through the system's database: weekdays, end exclusive, windows
 * over midnight, all-day windows, summer time and its missing hour, a
 * zone 14 hours ahead, and the names refused. Each row names itself.
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
#include <time.h>

#include "mwindow.h"

#define SUN	(1 << 0)
#define MON	(1 << 1)
#define FRI	(1 << 5)
#define SAT	(1 << 6)
#define WEEKDAYS	0x3e

static int64_t
utc(int y, int mo, int d, int h, int mi)
{
	struct tm	 tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (int64_t)timegm(&tm);
}

struct row {
	const char	*name;
	int		 days, start, end;
	const char	*tz;
	int		 y, mo, d, h, mi;	/* UTC */
	bool		 in;
};

#define HM(h, m)	((h) * 60 + (m))

static const struct row rows[] = {
	/* 2026-12-07 is a Monday. */
	{ "weekdays 02-04 UTC, Mon 03:00", WEEKDAYS, HM(2, 0), HM(4, 0), "UTC",
	    2026, 12, 7, 3, 0, true },
	{ "end is exclusive", WEEKDAYS, HM(2, 0), HM(4, 0), "UTC",
	    2026, 12, 7, 4, 0, false },
	{ "a minute before the start", WEEKDAYS, HM(2, 0), HM(4, 0), "UTC",
	    2026, 12, 7, 1, 59, false },
	{ "start is inclusive", WEEKDAYS, HM(2, 0), HM(4, 0), "UTC",
	    2026, 12, 7, 2, 0, true },
	{ "Saturday not listed", WEEKDAYS, HM(2, 0), HM(4, 0), "UTC",
	    2026, 12, 12, 3, 0, false },
	{ "Paris in winter: 01:30Z is 02:30", MON, HM(2, 0), HM(4, 0),
	    "Europe/Paris", 2026, 12, 7, 1, 30, true },
	{ "Paris in winter: 03:30Z is 04:30", MON, HM(2, 0), HM(4, 0),
	    "Europe/Paris", 2026, 12, 7, 3, 30, false },
	{ "Paris in summer: 00:30Z is 02:30", MON, HM(2, 0), HM(4, 0),
	    "Europe/Paris", 2026, 7, 6, 0, 30, true },
	{ "Paris in summer: 02:30Z is 04:30", MON, HM(2, 0), HM(4, 0),
	    "Europe/Paris", 2026, 7, 6, 2, 30, false },
	{ "over midnight: Friday evening", FRI, HM(22, 0), HM(2, 0), "UTC",
	    2026, 12, 11, 23, 0, true },
	{ "over midnight: the morning after", FRI, HM(22, 0), HM(2, 0), "UTC",
	    2026, 12, 12, 1, 0, true },
	{ "over midnight: Saturday evening", FRI, HM(22, 0), HM(2, 0), "UTC",
	    2026, 12, 12, 23, 0, false },
	{ "over midnight: Friday morning (Thursday not listed)", FRI,
	    HM(22, 0), HM(2, 0), "UTC", 2026, 12, 11, 1, 0, false },
	{ "all day Sunday, 14 h ahead: Saturday noon UTC", SUN, 0, 0,
	    "Pacific/Kiritimati", 2026, 12, 12, 12, 0, true },
	{ "all day Sunday, 14 h ahead: Sunday noon UTC", SUN, 0, 0,
	    "Pacific/Kiritimati", 2026, 12, 13, 12, 0, false },
	{ "spring forward: 02:00-03:00 does not exist", SUN, HM(2, 0),
	    HM(3, 0), "Europe/Paris", 2026, 3, 29, 1, 0, false },
	{ "spring forward: 01:59 CET", SUN, HM(1, 0), HM(2, 0),
	    "Europe/Paris", 2026, 3, 29, 0, 59, true },
	{ "an unknown zone is never open", SUN | MON | SAT, 0, 0,
	    "Mars/Olympus", 2026, 12, 7, 3, 0, false },
};

static void
test_contains(void **state)
{
	struct mwindow	 w;
	size_t		 i;

	(void)state;
	setenv("TZ", "America/New_York", 1);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&w, 0, sizeof(w));
		w.days = rows[i].days;
		w.start_min = rows[i].start;
		w.end_min = rows[i].end;
		snprintf(w.tz, sizeof(w.tz), "%s", rows[i].tz);
		if (mwindow_contains(&w, utc(rows[i].y, rows[i].mo, rows[i].d,
		    rows[i].h, rows[i].mi)) != rows[i].in)
			fail_msg("row %zu (%s): expected %s", i, rows[i].name,
			    rows[i].in ? "inside" : "outside");
	}
	/* The caller's TZ is put back. */
	assert_string_equal(getenv("TZ"), "America/New_York");
	unsetenv("TZ");
}

static void
test_tz_names(void **state)
{
	static const struct {
		const char	*tz;
		bool		 ok;
	} names[] = {
		{ "UTC", true },
		{ "Europe/Paris", true },
		{ "America/Argentina/Buenos_Aires", true },
		{ "Etc/GMT+5", true },
		{ "", false },
		{ "/etc/passwd", false },
		{ "../etc/passwd", false },
		{ "Europe/../../etc/passwd", false },
		{ "Mars/Olympus", false },
		{ "Europe/Paris ", false },
		{ "zone.tab", false },
		{ "Europe", false },		/* a directory */
		{ "Europe/Paris\n", false },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (mwindow_tz_valid(names[i].tz) != names[i].ok)
			fail_msg("\"%s\": expected %s", names[i].tz,
			    names[i].ok ? "valid" : "refused");
}

static void
test_hhmm(void **state)
{
	static const struct {
		const char	*in;
		int		 min;	/* -1: refused */
	} hm[] = {
		{ "00:00", 0 }, { "23:59", 1439 }, { "02:30", 150 },
		{ "24:00", -1 }, { "12:60", -1 }, { "1:00", -1 },
		{ "12-00", -1 }, { "aa:bb", -1 }, { "12:00x", -1 }, { "", -1 },
	};
	size_t	 i;
	int	 m;

	(void)state;
	for (i = 0; i < sizeof(hm) / sizeof(hm[0]); i++) {
		m = -1;
		if (!mwindow_hhmm(hm[i].in, &m))
			m = -1;
		if (m != hm[i].min)
			fail_msg("\"%s\": %d, expected %d", hm[i].in, m,
			    hm[i].min);
	}
	assert_false(mwindow_hhmm(NULL, &m));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_tz_names),
		cmocka_unit_test(test_hhmm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
