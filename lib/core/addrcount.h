#ifndef UPLINK_ADDRCOUNT_H
#define UPLINK_ADDRCOUNT_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Connections per source address, for the listeners' caps against
 * exhaustion: IPv4 by address, IPv6 by /64 (one host usually owns a whole
 * /64), IPv4-mapped IPv6 as IPv4. Addresses of other families (AF_UNIX)
 * all share one slot. The table is a hash with a random key (an attacker
 * choosing addresses cannot make chains long), and an entry exists only
 * while its count is above zero, so memory follows the connections open.
 */

struct sockaddr;
struct addrcount;

/*
 * A table allowing at most per_addr_max connections per address and
 * total_max in all; 0 means no cap. Out of memory is fatal (xmalloc).
 */
struct addrcount *addrcount_new(unsigned per_addr_max, unsigned total_max);

/* Frees the table; NULL is a no-op. */
void addrcount_free(struct addrcount *ac);

/*
 * Takes a slot for sa: returns 0, or -1 when sa's address or the whole table
 * is at its cap, in which case nothing is taken.
 */
int addrcount_take(struct addrcount *ac, const struct sockaddr *sa);

/*
 * Gives back a slot taken by addrcount_take() for the same address. Releasing
 * an address with no slot is ignored.
 */
void addrcount_release(struct addrcount *ac, const struct sockaddr *sa);

/* The slots sa's address holds now (0 when it holds none). */
unsigned addrcount_get(const struct addrcount *ac, const struct sockaddr *sa);

/* The slots taken in all. */
unsigned addrcount_total(const struct addrcount *ac);

/*
 * A log line's rate limit: at most `burst` lines per `interval_ms`
 * (monotonic clock). Returns true when a line may be written now; then
 * *suppressed gets the count of lines dropped since the last allowed one
 * (to say "and N more"), and 0 otherwise. Zero-initialise the struct.
 */
struct log_rate {
	int64_t		start_ms;
	unsigned	n;
	unsigned	suppressed;
};
bool log_rate_allow(struct log_rate *lr, unsigned burst, int64_t interval_ms,
    unsigned *suppressed);

#ifdef UPLINK_UNITTEST
/* log_rate_allow() with the clock given, for the unit tests. */
bool log_rate_allow_at(struct log_rate *lr, unsigned burst,
    int64_t interval_ms, int64_t now_ms, unsigned *suppressed);
/* The number of buckets of the hash now, to see it grow and shrink. */
unsigned addrcount_buckets(const struct addrcount *ac);
#endif

#endif
