#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "bench.h"
#include "xmalloc.h"

/*
 * The latency modes. rr: one connection, one message of --size bytes
 * (64) to the echo target and the same back, again and again for
 * --seconds; every round trip is a sample. connect: --parallel clients
 * each open a connection, send one byte, read one byte and close, in a
 * loop for --seconds; the figure is connections per second, and each
 * connection's time from socket() to the byte back is a sample.
 * Samples are kept whole (8 bytes each) and sorted for the percentiles.
 */

#define RR_WARMUP	200
#define MAX_PARALLEL	256

struct samples {
	uint64_t	*v;
	size_t		 n, cap;
};

static void
samples_add(struct samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = ns;
}

/* One round trip of len bytes; -1 with errno on failure. */
static int
rr_once(int fd, uint8_t *msg, uint8_t *back, size_t len)
{
	if (bench_write_all(fd, msg, len) != 0)
		return -1;
	return bench_read_full(fd, back, len);
}

int
bench_rr(const struct bench_opts *o)
{
	struct samples	 s = { 0 };
	uint8_t		 mode = BENCH_MODE_ECHO, *msg, *back;
	uint64_t	 t0, t, end;
	char		 why[256], pct[320];
	size_t		 len = (size_t)o->size;
	int		 fd, i;

	if (o->size < 1 || o->size > 65536)
		return bench_fail("rr", "--size must be 1-65536");
	fd = bench_dial(&o->addr, (int)(o->timeout * 1000), true, why,
	    sizeof(why));
	if (fd == -1)
		return bench_fail("rr", why);
	msg = xcalloc(1, len);
	back = xmalloc(len);
	memset(msg, 'r', len);
	if (bench_write_all(fd, &mode, 1) != 0)
		goto fail;
	for (i = 0; i < RR_WARMUP; i++)
		if (rr_once(fd, msg, back, len) != 0)
			goto fail;
	t0 = bench_now_ns();
	end = t0 + (uint64_t)(o->seconds * 1e9);
	do {
		t = bench_now_ns();
		if (rr_once(fd, msg, back, len) != 0)
			goto fail;
		samples_add(&s, bench_now_ns() - t);
	} while (bench_now_ns() < end);
	t = bench_now_ns() - t0;
	close(fd);
	bench_percentiles(s.v, s.n, pct, sizeof(pct));
	printf("{\"mode\":\"rr\",\"ok\":true,\"size\":%zu,\"count\":%zu,"
	    "\"seconds\":%.3f,\"rate\":%.1f,%s}\n", len, s.n, (double)t / 1e9,
	    (double)s.n * 1e9 / (double)t, pct);
	free(s.v);
	free(msg);
	free(back);
	return 0;
fail:
	snprintf(why, sizeof(why), "round trip to %s after %zu samples: %s",
	    o->addr.text, s.n, strerror(errno));
	close(fd);
	free(s.v);
	free(msg);
	free(back);
	return bench_fail("rr", why);
}

struct client {
	const struct bench_opts	*o;
	uint32_t		 src;		/* IPv4 source, 0: any */
	uint64_t		 end;
	struct samples		 s;
	unsigned long		 errors;
	char			 why[200];
};

/*
 * Opens, trades one byte each way, closes. Returns 0 or -1 (why set).
 * To a loopback target each client uses a source address of its own
 * (127.0.0.2, .3, ...): the client closes first and so keeps the
 * TIME_WAIT entries, and tens of thousands of connections a second to one
 * port would otherwise run out of 127.0.0.1's ephemeral ports.
 */
static int
connect_once(struct client *c)
{
	uint8_t	 b = BENCH_MODE_CONNECT, back;
	int	 fd;

	fd = bench_dial_from(&c->o->addr, c->src, (int)(c->o->timeout * 1000),
	    c->why, sizeof(c->why));
	if (fd == -1)
		return -1;
	if (bench_write_all(fd, &b, 1) != 0 ||
	    bench_read_full(fd, &back, 1) != 0) {
		snprintf(c->why, sizeof(c->why), "exchanging a byte with %s: "
		    "%s", c->o->addr.text, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void *
client_main(void *arg)
{
	struct client	*c = arg;
	uint64_t	 t;

	while ((t = bench_now_ns()) < c->end) {
		if (connect_once(c) == 0)
			samples_add(&c->s, bench_now_ns() - t);
		else
			c->errors++;
	}
	return NULL;
}

int
bench_connect(const struct bench_opts *o)
{
	struct client	*c;
	pthread_t	*th;
	struct samples	 all = { 0 };
	unsigned long	 errors = 0;
	uint64_t	 t0, t;
	char		 pct[320], why[256] = "";
	int		 i, n = o->parallel;
	size_t		 k;

	if (n < 1 || n > MAX_PARALLEL)
		return bench_fail("connect", "--parallel must be 1-256");
	c = xcalloc((size_t)n, sizeof(*c));
	th = xcalloc((size_t)n, sizeof(*th));
	t0 = bench_now_ns();
	for (i = 0; i < n; i++) {
		c[i].o = o;
		c[i].src = bench_loopback_source(&o->addr, i);
		c[i].end = t0 + (uint64_t)(o->seconds * 1e9);
		pthread_create(&th[i], NULL, client_main, &c[i]);
	}
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		for (k = 0; k < c[i].s.n; k++)
			samples_add(&all, c[i].s.v[k]);
		errors += c[i].errors;
		if (c[i].errors > 0 && why[0] == '\0')
			snprintf(why, sizeof(why), "%s", c[i].why);
		free(c[i].s.v);
	}
	t = bench_now_ns() - t0;
	free(c);
	free(th);
	if (all.n == 0) {
		free(all.v);
		return bench_fail("connect", why[0] ? why : "no connection");
	}
	bench_percentiles(all.v, all.n, pct, sizeof(pct));
	printf("{\"mode\":\"connect\",\"ok\":%s,\"parallel\":%d,\"count\":%zu,"
	    "\"errors\":%lu,\"first_error\":\"%s\",\"seconds\":%.3f,"
	    "\"per_s\":%.1f,%s}\n", errors == 0 ? "true" : "false", n, all.n,
	    errors, errors ? "see stderr" : "", (double)t / 1e9,
	    (double)all.n * 1e9 / (double)t, pct);
	if (errors > 0)
		fprintf(stderr, "uplink-bench connect: %lu failed, the first: "
		    "%s\n", errors, why);
	free(all.v);
	return errors == 0 ? 0 : 1;
}
