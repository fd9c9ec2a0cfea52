/* Maintenance windows in named time zones (mwindow.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mwindow.h"

bool
mwindow_tz_valid(const char *tz)
{
	char	 path[sizeof(MWINDOW_TZDIR) + MWINDOW_TZ_MAX + 2], magic[4];
	size_t	 n = strlen(tz), i;
	int	 fd;
	bool	 ok;

	if (n == 0 || n > MWINDOW_TZ_MAX || tz[0] == '/' ||
	    strstr(tz, "..") != NULL)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)tz[i]) && strchr("/_+-", tz[i]) ==
		    NULL)
			return false;
	snprintf(path, sizeof(path), MWINDOW_TZDIR "/%s", tz);
	/* Debian links some names (UTC, aliases): follow, never block. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	ok = read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0;
	close(fd);
	return ok;
}

/* The local time of t in tz: TZ set for the call, then put back. */
static bool
mwindow_local(const char *tz, int64_t t, struct tm *out)
{
	const char	*old = getenv("TZ");
	char		 saved[256];
	time_t		 tt = (time_t)t;
	bool		 ok, had = old != NULL;

	if (had)
		snprintf(saved, sizeof(saved), "%s", old);
	setenv("TZ", tz, 1);
	tzset();
	ok = localtime_r(&tt, out) != NULL;
	if (had)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	return ok;
}

bool
mwindow_contains(const struct mwindow *w, int64_t t)
{
	struct tm	 tm;
	int		 m, day, prev;

	if (!mwindow_tz_valid(w->tz) || !mwindow_local(w->tz, t, &tm))
		return false;
	m = tm.tm_hour * 60 + tm.tm_min;
	day = tm.tm_wday;
	prev = (day + 6) % 7;
	if (w->start_min == w->end_min)
		return (w->days & (1 << day)) != 0;
	if (w->start_min < w->end_min)
		return (w->days & (1 << day)) != 0 && m >= w->start_min &&
		    m < w->end_min;
	return ((w->days & (1 << day)) != 0 && m >= w->start_min) ||
	    ((w->days & (1 << prev)) != 0 && m < w->end_min);
}

bool
mwindow_hhmm(const char *s, int *min)
{
	if (s == NULL || strlen(s) != 5 || !isdigit((unsigned char)s[0]) ||
	    !isdigit((unsigned char)s[1]) || s[2] != ':' ||
	    !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return false;
	*min = ((s[0] - '0') * 10 + (s[1] - '0')) * 60 + (s[3] - '0') * 10 +
	    (s[4] - '0');
	return *min < 24 * 60 && s[3] < '6';
}
