#ifndef UPLINK_MWINDOW_H
#define UPLINK_MWINDOW_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Maintenance windows (docs/updates.md, "Rollouts"): days of the week and
 * a start and end time of day, in an IANA time zone, read through the
 * system's time zone database (/usr/share/zoneinfo), so local time,
 * summer time included, is what the administrator means.
 */

#define MWINDOW_TZDIR	"/usr/share/zoneinfo"
#define MWINDOW_TZ_MAX	63

struct mwindow {
	int	 days;			/* bit 0 Sunday .. bit 6 Saturday */
	int	 start_min, end_min;	/* minutes of the day, 0..1439 */
	char	 tz[MWINDOW_TZ_MAX + 1];
};

/*
 * Whether Unix time t falls in w: on a listed day between start and end
 * (local time in w->tz); start equal to end is the whole day; an end
 * before the start spans midnight (the evening of a listed day and the
 * morning after it). TZ is set for the call and put back: not for
 * threaded programs.
 */
bool mwindow_contains(const struct mwindow *w, int64_t t);

/*
 * A time zone name the system's database has: 1 to 63 of [A-Za-z0-9/_+-],
 * no leading '/', no "..", and a TZif file under MWINDOW_TZDIR.
 */
bool mwindow_tz_valid(const char *tz);

/* "HH:MM" (00:00 to 23:59) into minutes of the day. */
bool mwindow_hhmm(const char *s, int *min);

#endif
