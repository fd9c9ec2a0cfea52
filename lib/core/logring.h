#ifndef UPLINK_LOGRING_H
#define UPLINK_LOGRING_H

#include <stddef.h>
#include <stdint.h>

/*
 * A bounded ring of log lines kept in memory, newest kept: when a line
 * would take it past its line or byte cap, the oldest lines go and are
 * counted as dropped. Each line gets the next sequence number (1, 2,
 * ...), so a reader that remembers the last one it took asks for the
 * lines after it and learns how many it missed. No I/O, no clock: the
 * caller stamps the time. The connector keeps one and streams it to the
 * cloud (connector/logship.c, docs/protocol.md).
 */

#define LOGRING_LINES		10000		/* default line cap */
#define LOGRING_BYTES		(1024 * 1024)	/* default byte cap */
#define LOGRING_MSG_MAX		2047		/* longer text is cut */

struct logring;

struct logring_line {
	uint64_t	 seq;
	int64_t		 ms;		/* Unix time in milliseconds */
	int		 level;		/* enum log_level, LOG_LEVEL_CRIT... */
	const char	*msg;		/* valid until the next logring_add() */
};

/* A ring of at most max_lines lines and max_bytes bytes of text. */
struct logring *logring_new(size_t max_lines, size_t max_bytes);
void logring_free(struct logring *r);

/*
 * Appends a line (cut at LOGRING_MSG_MAX bytes) and returns its sequence
 * number; 0 when out of memory (the line is then counted as dropped).
 */
uint64_t logring_add(struct logring *r, int level, int64_t ms,
    const char *msg);

/*
 * The oldest line with a sequence number above after: 1 with *out filled,
 * 0 when there is none yet. *gap is how many lines after "after" and
 * before *out are gone (overwritten or never stored); with none left it
 * is still set, so a reader far behind learns of them.
 */
int logring_next(const struct logring *r, uint64_t after,
    struct logring_line *out, uint64_t *gap);

/* The last sequence number given (0: none yet). */
uint64_t logring_last(const struct logring *r);
/* Lines dropped so far to keep within the caps. */
uint64_t logring_dropped(const struct logring *r);
/* Lines and bytes held now. */
size_t logring_count(const struct logring *r);
size_t logring_bytes(const struct logring *r);

#endif
