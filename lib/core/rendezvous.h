#ifndef UPLINK_RENDEZVOUS_H
#define UPLINK_RENDEZVOUS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Rendezvous (highest-random-weight) hashing: which of n nodes a key goes
 * to. Every (key, node) pair gets a pseudo-random weight; the key goes to
 * the node of highest weight, its second choice is the next, and so on.
 * Keys spread evenly over the nodes, and when a node joins or leaves only
 * the keys whose first choices change move (about 1/n of them), with no
 * table to share: the connector and the cloud compute the same ranking
 * from the same ids. Pure functions; no I/O, no state.
 */

/* The weight of (key, node): a 64-bit mix of both strings. */
uint64_t rendezvous_weight(const char *key, const char *node);

/*
 * Ranks nodes[0..n) for key, best first: order[0..n) receives node
 * indices by descending weight (ties, which need equal 64-bit hashes, go
 * to the lower index). order must have room for n entries.
 */
void rendezvous_rank(const char *key, const char *const *nodes, size_t n,
    size_t *order);

#endif
