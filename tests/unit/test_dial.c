/*
 * dial: the rotation that spreads a connector's tunnels over the addresses
 * a name resolves to. Each row: how many addresses, the spread, and the
 * order the dialer must try them in. Every node must survive the rotation
 * (the list is freed by walking it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/util.h>

#include "dial.h"

struct evutil_addrinfo *dial_rotate(struct evutil_addrinfo *res,
    unsigned spread);

struct rotate_row {
	unsigned	 n;
	unsigned	 spread;
	const char	*order;		/* node indexes in the order tried */
};

static const struct rotate_row rotate_rows[] = {
	{ 1, 0, "0" },
	{ 1, 1, "0" },
	{ 1, 7, "0" },
	{ 2, 0, "01" },
	{ 2, 1, "10" },
	{ 2, 2, "01" },
	{ 2, 3, "10" },
	{ 3, 0, "012" },
	{ 3, 1, "120" },
	{ 3, 2, "201" },
	{ 3, 3, "012" },
	{ 3, 4, "120" },
	{ 4, 3, "3012" },
	{ 5, 9, "40123" },
	{ 8, 5, "56701234" },
	{ 16, 15, "f0123456789abcde" },
};

/* A list of n nodes whose ai_flags carry their index. */
static struct evutil_addrinfo *
make_list(unsigned n, struct evutil_addrinfo *nodes)
{
	unsigned	 i;

	memset(nodes, 0, n * sizeof(*nodes));
	for (i = 0; i < n; i++) {
		nodes[i].ai_flags = (int)i;
		nodes[i].ai_next = i + 1 < n ? &nodes[i + 1] : NULL;
	}
	return &nodes[0];
}

static void
test_rotate_table(void **state)
{
	struct evutil_addrinfo	 nodes[16], *ai;
	const struct rotate_row	*r;
	char			 got[17];
	size_t			 i, k;

	(void)state;
	for (i = 0; i < sizeof(rotate_rows) / sizeof(rotate_rows[0]); i++) {
		r = &rotate_rows[i];
		ai = dial_rotate(make_list(r->n, nodes), r->spread);
		for (k = 0; ai != NULL && k < 16; ai = ai->ai_next, k++)
			got[k] = "0123456789abcdef"[ai->ai_flags];
		got[k] = '\0';
		if (strcmp(got, r->order) != 0)
			fail_msg("row %zu (n %u, spread %u): order %s, want %s", i,
			    r->n, r->spread, got, r->order);
		assert_null(ai);
	}
}

static void
test_rotate_empty(void **state)
{
	(void)state;
	assert_null(dial_rotate(NULL, 3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotate_table),
		cmocka_unit_test(test_rotate_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
