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

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
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

/* The per-address hook: what it refuses is never connected to. */
struct hook_run {
	bool			 allow;
	int			 asked;
	struct dial_result	 res;
	bool			 done;
};

static bool
hook_addr(void *arg, const struct sockaddr *sa, char *why, size_t whylen)
{
	struct hook_run	*h = arg;

	assert_int_equal(sa->sa_family, AF_INET);
	h->asked++;
	if (!h->allow)
		snprintf(why, whylen, "refused by the test");
	return h->allow;
}

static void
hook_done(void *arg, struct dial_result *res)
{
	struct hook_run	*h = arg;

	h->res = *res;
	h->done = true;
}

/* Dials 127.0.0.1:port with the hook; returns whether the listener got it. */
static bool
hook_dial(struct hook_run *h, int lfd, uint16_t port)
{
	struct event_base	*base = event_base_new();
	struct route_table	 rt;
	struct dial_opts	 o;
	int			 fd;

	route_table_init(&rt);
	memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	o.port = port;
	o.routes = &rt;
	o.timeout_ms = 5000;
	o.addr_ok = hook_addr;
	o.addr_arg = h;
	assert_non_null(dial_start(base, NULL, &o, NULL, hook_done, h));
	while (!h->done)
		event_base_loop(base, EVLOOP_ONCE);
	if (h->res.fd != -1)
		close(h->res.fd);
	event_base_free(base);
	route_table_clear(&rt);
	usleep(20000);
	fd = accept(lfd, NULL, NULL);
	if (fd == -1) {
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		return false;
	}
	close(fd);
	return true;
}

static void
test_addr_hook(void **state)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	struct hook_run		 h;
	int			 lfd;

	(void)state;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(lfd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);

	memset(&h, 0, sizeof(h));
	assert_false(hook_dial(&h, lfd, ntohs(sin.sin_port)));
	assert_int_equal(h.asked, 1);
	assert_int_equal(h.res.error, DIAL_ENOTALLOWED);
	assert_string_equal(dial_error_name(h.res.error), "not-allowed");
	assert_non_null(strstr(h.res.detail, "refused by the test"));

	memset(&h, 0, sizeof(h));
	h.allow = true;
	assert_true(hook_dial(&h, lfd, ntohs(sin.sin_port)));
	assert_int_equal(h.asked, 1);
	assert_int_equal(h.res.error, DIAL_OK);
	close(lfd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotate_table),
		cmocka_unit_test(test_rotate_empty),
		cmocka_unit_test(test_addr_hook),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
