#ifndef UPLINK_BALANCE_H
#define UPLINK_BALANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The choice among the carriers of a stream that a caller cannot see the
 * insides of: in a cluster, the connectors of a site whose tunnels are on
 * other instances (cloud/router.c), known only by the open streams they
 * last reported. Pure: no I/O, table-tested (tests/unit/test_balance.c).
 */

struct balance_cand {
	uint32_t	 load;		/* open streams, as last reported */
	bool		 usable;	/* can take a stream now */
};

/*
 * The index of the usable candidate with the lowest load, if that load is
 * below local (the load of the best carrier the caller has at hand,
 * UINT32_MAX when it has none: equal loads stay local); n when there is
 * none. Among equal loads, the first at or after index start (mod n), so
 * that a caller turning start spreads streams over candidates whose
 * reports have not caught up yet.
 */
size_t balance_least(const struct balance_cand *v, size_t n, uint32_t local,
    unsigned start);

#endif
