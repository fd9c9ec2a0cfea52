#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"
#include "error.h"

#define DURATION_SHOW	40	/* bytes of user input quoted in messages */
#define SIZE_SHOW	64	/* as config messages quote values */

static const struct {
	char	 unit;
	int64_t	 secs;
} duration_units[] = {
	{ 'd', 86400 },
	{ 'h', 3600 },
	{ 'm', 60 },
	{ 's', 1 },
};

#define DURATION_NUNITS	(sizeof(duration_units) / sizeof(duration_units[0]))

/* Writes "WHAT \"INPUT\": " followed by the formatted reason. */
static int
duration_fail(const char *s, const char *what, char *err, size_t errlen,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
duration_fail(const char *s, const char *what, char *err, size_t errlen,
    const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (err == NULL || errlen == 0)
		return UPLINK_EINVAL;
	n = snprintf(err, errlen, "%s%s\"%.*s%s\": ", what ? what : "",
	    what ? " " : "", DURATION_SHOW, s,
	    strlen(s) > DURATION_SHOW ? "..." : "");
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return UPLINK_EINVAL;
}

/* Returns the index of unit c in duration_units, or -1. */
static int
duration_unit(char c)
{
	size_t	 i;

	for (i = 0; i < DURATION_NUNITS; i++)
		if (duration_units[i].unit == c)
			return (int)i;
	return -1;
}

/*
 * Reads the digits at *p. The value stops growing once it passes
 * DURATION_MAX, so a long run of digits cannot overflow; anything above the
 * cap is refused later whatever its exact value.
 */
static int64_t
duration_number(const char **p)
{
	int64_t	 n = 0;

	while (**p >= '0' && **p <= '9') {
		if (n <= DURATION_MAX)
			n = n * 10 + (**p - '0');
		(*p)++;
	}
	return n;
}

int
duration_parse(const char *s, const char *what, int64_t *secs, char *err,
    size_t errlen)
{
	const char	*p = s, *start;
	int64_t		 total = 0, n;
	size_t		 next = 0;	/* first unit still allowed */
	int		 u;

	if (s == NULL || *s == '\0')
		return duration_fail("", what, err, errlen, "empty; use a "
		    "number with s, m, h or d, e.g. 24h");
	while (*p != '\0') {
		start = p;
		n = duration_number(&p);
		if (p == start)
			goto junk;
		if (*p == '\0' && start != s)
			return duration_fail(s, what, err, errlen, "\"%s\" "
			    "needs a unit (s, m, h or d), e.g. 1h30m", start);
		u = *p == '\0' ? duration_unit('s') : duration_unit(*p++);
		if (u < 0)
			goto junk;
		if ((size_t)u < next)
			return duration_fail(s, what, err, errlen, "give each "
			    "unit once, from d down to s, e.g. 1d12h or 1h30m");
		next = (size_t)u + 1;
		if (n > DURATION_MAX / duration_units[u].secs)
			total = DURATION_MAX + 1;
		else if (total <= DURATION_MAX)
			total += n * duration_units[u].secs;
	}
	if (total > DURATION_MAX)
		return duration_fail(s, what, err, errlen, "longer than the "
		    "limit of %lldd (ten years)", DURATION_MAX / 86400);
	if (total == 0)
		return duration_fail(s, what, err, errlen, "must be longer "
		    "than zero, e.g. 24h");
	*secs = total;
	return UPLINK_OK;
junk:
	return duration_fail(s, what, err, errlen, "use a number with s, m, h "
	    "or d, e.g. 24h");
}

size_t
duration_format(int64_t secs, char *dst, size_t dstlen)
{
	char		 text[DURATION_TEXT_SIZE] = "0s";
	uint64_t	 left, per;
	size_t		 i, n = 0;

	/* Work on the magnitude so INT64_MIN does not overflow. */
	left = secs < 0 ? 0 - (uint64_t)secs : (uint64_t)secs;
	if (secs < 0)
		text[n++] = '-';
	for (i = 0; i < DURATION_NUNITS && left > 0; i++) {
		per = (uint64_t)duration_units[i].secs;
		if (left < per)
			continue;
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%llu%c",
		    (unsigned long long)(left / per), duration_units[i].unit);
		left %= per;
	}
	if (secs == 0)
		n = 2;
	if (dst != NULL && dstlen > 0)
		snprintf(dst, dstlen, "%s", text);
	return n;
}

int
size_parse(const char *s, size_t *out, char *why, size_t whylen)
{
	size_t	 v = 0, mult = 1, i, len = strlen(s);

	if (len > 0 && (s[len - 1] == 'k' || s[len - 1] == 'K'))
		mult = 1024;
	else if (len > 0 && (s[len - 1] == 'm' || s[len - 1] == 'M'))
		mult = 1024 * 1024;
	if (mult != 1)
		len--;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			break;
		if (v > (SIZE_MAX / mult - (size_t)(s[i] - '0')) / 10) {
			snprintf(why, whylen, "\"%.*s\" is too large",
			    SIZE_SHOW, s);
			return UPLINK_EINVAL;
		}
		v = v * 10 + (size_t)(s[i] - '0');
	}
	if (len == 0 || i < len) {
		snprintf(why, whylen, "\"%.*s\" is not a size; write a number of "
		    "bytes, optionally with k or m (256k, 16m)",
		    SIZE_SHOW, s);
		return UPLINK_EINVAL;
	}
	*out = v * mult;
	return UPLINK_OK;
}
