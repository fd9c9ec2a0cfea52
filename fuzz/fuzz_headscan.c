/*
 * libFuzzer target for the request head scanner (lib/headscan.c). The first
 * byte picks where the rest is cut in two; the bytes are fed whole, in two
 * pieces and byte by byte, and the three runs must agree (heads ended,
 * state, body bytes left). Besides the sanitizers: the state is one of the
 * four, a body never has more left than its Content-Length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "headscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
same(const struct headscan *a, unsigned na, const struct headscan *b,
    unsigned nb)
{
	if (na != nb || a->state != b->state || a->body_left != b->body_left)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct headscan	 whole, two, bytes;
	unsigned	 nw, n2, nb = 0;
	size_t		 cut, i;

	if (size == 0)
		return 0;
	cut = data[0] % size;
	data++;
	size--;
	headscan_init(&whole);
	nw = headscan_feed(&whole, data, size);
	headscan_init(&two);
	n2 = headscan_feed(&two, data, cut);
	n2 += headscan_feed(&two, data + cut, size - cut);
	headscan_init(&bytes);
	for (i = 0; i < size; i++)
		nb += headscan_feed(&bytes, data + i, 1);
	same(&whole, nw, &two, n2);
	same(&whole, nw, &bytes, nb);
	if (whole.state > HEADSCAN_OFF || whole.body_left > whole.clen)
		abort();
	return 0;
}
