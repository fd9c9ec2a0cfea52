#ifndef UPLINK_DURATION_H
#define UPLINK_DURATION_H

#include <stddef.h>
#include <stdint.h>

/*
 * Durations as people type them on a command line or in a config file:
 * "30s", "15m", "24h", "7d", "1h30m", or plain seconds ("3600"); and sizes
 * ("256k"). Parsing does no I/O and never consults the clock.
 */

#define DURATION_MAX		(3650LL * 86400)	/* ten 365-day years */
#define DURATION_TEXT_SIZE	32	/* fits the format of any int64_t */

/*
 * Parses s into seconds. Units are d, h, m and s, each at most once and
 * from largest to smallest; a number without a unit is seconds but must
 * then be the whole value. The result is at least 1 and at most
 * DURATION_MAX. what names the value in messages ("--ttl" gives
 * "--ttl \"2x\": use a number with s, m, h or d, e.g. 24h") and may be NULL.
 * Returns UPLINK_OK, or UPLINK_EINVAL with a message in err.
 */
int duration_parse(const char *s, const char *what, int64_t *secs, char *err,
    size_t errlen);

/*
 * Formats secs the way duration_parse() reads it, largest unit first and
 * zero units left out: 93600 is "1d2h", 0 is "0s", -90 is "-1m30s". Always
 * NUL-terminates when dstlen > 0; returns the length that was needed.
 */
size_t duration_format(int64_t secs, char *dst, size_t dstlen);

/*
 * Parses a size as config files write it: "4096", "256k", "16m" (k = 1024,
 * m = 1024 * 1024; either case) into bytes. Returns UPLINK_OK, or
 * UPLINK_EINVAL with a message in why (the value quoted, and what to write).
 */
int size_parse(const char *s, size_t *out, char *why, size_t whylen);

#endif
