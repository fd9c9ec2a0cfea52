#include "balance.h"

/*
 * One pass from start around the ring: a candidate replaces the best so
 * far only with a strictly lower load, so the first met among equals
 * stays.
 */
size_t
balance_least(const struct balance_cand *v, size_t n, uint32_t local,
    unsigned start)
{
	size_t	 i, k, best = n;

	for (k = 0; k < n; k++) {
		i = (start + k) % n;
		if (!v[i].usable)
			continue;
		if (best == n || v[i].load < v[best].load)
			best = i;
	}
	if (best == n || v[best].load >= local)
		return n;
	return best;
}
