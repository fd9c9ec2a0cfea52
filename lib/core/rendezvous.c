#include <stddef.h>
#include <stdint.h>

#include "rendezvous.h"

/*
 * FNV-1a over key, a 0 byte and node, then the splitmix64 finalizer: FNV
 * alone mixes the last bytes poorly (ids that differ in one trailing
 * character would weigh almost the same), the finalizer spreads every
 * input bit over the whole word. Not cryptographic, and needs not be: a
 * connector that picks its own instances gains nothing by gaming them.
 */
static uint64_t
rendezvous_mix(uint64_t h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

static uint64_t
rendezvous_fnv(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t
rendezvous_weight(const char *key, const char *node)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;

	h = rendezvous_fnv(h, key);
	h *= 0x100000001b3ULL;	/* the 0 byte between them */
	h = rendezvous_fnv(h, node);
	return rendezvous_mix(h);
}

/*
 * Insertion sort, weights computed again at each comparison: n is the
 * number of instances of a cluster, a handful, and no buffer caps it.
 */
void
rendezvous_rank(const char *key, const char *const *nodes, size_t n,
    size_t *order)
{
	uint64_t	 wi;
	size_t		 i, j;

	for (i = 0; i < n; i++) {
		wi = rendezvous_weight(key, nodes[i]);
		for (j = i; j > 0 && rendezvous_weight(key,
		    nodes[order[j - 1]]) < wi; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
}
