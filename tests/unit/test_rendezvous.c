/*
 * rendezvous: the ranking is a total order of the nodes, stable for a
 * key, even over many keys, and moves few keys when a node joins or
 * leaves (the two properties connectors rely on to spread their tunnels
 * over the cloud's instances).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rendezvous.h"

#define KEYS	1000

static const char *const nodes5[] = { "i1", "i2", "i3", "i4", "i5" };

static void
key_name(char *dst, size_t len, int i)
{
	snprintf(dst, len, "c-%012x", (unsigned)(i * 2654435761u));
}

static size_t
first(const char *key, const char *const *nodes, size_t n)
{
	size_t	 order[8];

	rendezvous_rank(key, nodes, n, order);
	return order[0];
}

static void
test_rank_is_permutation(void **state)
{
	size_t	 order[5], seen[5];
	char	 key[32];
	int	 k;
	size_t	 i;

	(void)state;
	for (k = 0; k < 50; k++) {
		key_name(key, sizeof(key), k);
		rendezvous_rank(key, nodes5, 5, order);
		memset(seen, 0, sizeof(seen));
		for (i = 0; i < 5; i++) {
			assert_true(order[i] < 5);
			seen[order[i]]++;
		}
		for (i = 0; i < 5; i++)
			assert_int_equal(seen[i], 1);
		for (i = 1; i < 5; i++)
			assert_true(rendezvous_weight(key, nodes5[order[i - 1]]) >=
			    rendezvous_weight(key, nodes5[order[i]]));
	}
}

static void
test_stable_and_order_free(void **state)
{
	static const char *const rev[] = { "i5", "i4", "i3", "i2", "i1" };
	char	 key[32];
	int	 k;

	(void)state;
	/* The choice is a node, not a position: listing order is irrelevant. */
	for (k = 0; k < 200; k++) {
		key_name(key, sizeof(key), k);
		assert_string_equal(nodes5[first(key, nodes5, 5)],
		    rev[first(key, rev, 5)]);
	}
	assert_int_equal(rendezvous_weight("c-1", "i1"),
	    rendezvous_weight("c-1", "i1"));
	/* The separator matters: ("ab","c") is not ("a","bc"). */
	assert_true(rendezvous_weight("ab", "c") != rendezvous_weight("a", "bc"));
}

static void
spread(size_t n)
{
	unsigned	 count[5] = { 0 };
	char		 key[32];
	double		 mean = (double)KEYS / (double)n;
	int		 k;
	size_t		 i;

	for (k = 0; k < KEYS; k++) {
		key_name(key, sizeof(key), k);
		count[first(key, nodes5, n)]++;
	}
	for (i = 0; i < n; i++) {
		if (count[i] < mean * 0.85 || count[i] > mean * 1.15)
			fail_msg("%zu nodes: node %zu has %u of %d keys, not "
			    "within 15%% of %.0f", n, i, count[i], KEYS, mean);
	}
}

static void
test_even_spread(void **state)
{
	(void)state;
	spread(2);
	spread(3);
	spread(4);
	spread(5);
}

/* The second choice spreads evenly too: tunnel 2 of every connector. */
static void
test_second_choice_spread(void **state)
{
	unsigned	 count[3] = { 0 };
	size_t		 order[3];
	char		 key[32];
	int		 k;
	size_t		 i;

	(void)state;
	for (k = 0; k < KEYS; k++) {
		key_name(key, sizeof(key), k);
		rendezvous_rank(key, nodes5, 3, order);
		assert_true(order[0] != order[1]);
		count[order[1]]++;
	}
	for (i = 0; i < 3; i++)
		assert_true(count[i] > KEYS / 3 * 0.85 &&
		    count[i] < KEYS / 3 * 1.15);
}

/*
 * Adding a fifth node moves only keys that now choose it (about 1/5);
 * removing one moves only the keys that had chosen it.
 */
static void
test_few_moves(void **state)
{
	static const char *const without3[] = { "i1", "i2", "i4", "i5" };
	char	 key[32];
	int	 k, moved = 0, removed = 0;
	size_t	 a, b;

	(void)state;
	for (k = 0; k < KEYS; k++) {
		key_name(key, sizeof(key), k);
		a = first(key, nodes5, 4);
		b = first(key, nodes5, 5);
		if (a != b) {
			assert_int_equal(b, 4);		/* only to the new one */
			moved++;
		}
		a = first(key, nodes5, 5);
		b = first(key, without3, 4);
		if (strcmp(nodes5[a], without3[b]) != 0) {
			assert_string_equal(nodes5[a], "i3");
			removed++;
		}
	}
	assert_true(moved > KEYS / 5 * 0.85 && moved < KEYS / 5 * 1.15);
	assert_true(removed > KEYS / 5 * 0.85 && removed < KEYS / 5 * 1.15);
}

static void
test_edges(void **state)
{
	size_t	 order[1] = { 7 };

	(void)state;
	rendezvous_rank("c-x", nodes5, 0, order);
	assert_int_equal(order[0], 7);			/* untouched */
	rendezvous_rank("c-x", nodes5, 1, order);
	assert_int_equal(order[0], 0);
	rendezvous_rank("", nodes5, 1, order);
	assert_int_equal(order[0], 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rank_is_permutation),
		cmocka_unit_test(test_stable_and_order_free),
		cmocka_unit_test(test_even_spread),
		cmocka_unit_test(test_second_choice_spread),
		cmocka_unit_test(test_few_moves),
		cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
