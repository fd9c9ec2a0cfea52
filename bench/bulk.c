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
 * Bulk transfer, sink (client to target) or source (target to client), over
 * one or several streams at once. Each stream is a thread with a blocking
 * socket: the simplest client that is never the slowest part of a relay
 * path. All streams connect first, then start together; the figure is the
 * total payload over the time from the start to the last stream's end,
 * where "end" means the target has confirmed every byte (sink) or the
 * client has read every byte (source), so bytes still sitting in a relay's
 * buffers do not count as moved.
 */

#define MAX_STREAMS	256

struct stream {
	const struct bench_opts	*o;
	int			 mode;
	int			 fd;
	uint64_t		 bytes;
	pthread_barrier_t	*go;
	uint64_t		 done_ns;
	char			 why[200];
};

static int
stream_sink(struct stream *s, uint8_t *buf)
{
	uint8_t		 reply[8];
	uint64_t	 left = s->bytes;
	size_t		 n;

	while (left > 0) {
		n = left < BENCH_IO_BUF ? (size_t)left : BENCH_IO_BUF;
		if (bench_write_all(s->fd, buf, n) != 0) {
			snprintf(s->why, sizeof(s->why), "sending, %llu bytes "
			    "left: %s", (unsigned long long)left,
			    strerror(errno));
			return -1;
		}
		left -= n;
	}
	if (bench_read_full(s->fd, reply, sizeof(reply)) != 0) {
		snprintf(s->why, sizeof(s->why), "waiting for the target's "
		    "count: %s", strerror(errno));
		return -1;
	}
	if (bench_get64(reply) != s->bytes) {
		snprintf(s->why, sizeof(s->why), "the target counted %llu "
		    "bytes, not %llu", (unsigned long long)bench_get64(reply),
		    (unsigned long long)s->bytes);
		return -1;
	}
	return 0;
}

static int
stream_source(struct stream *s, uint8_t *buf)
{
	uint64_t	 got = 0;
	ssize_t		 n;

	while (got < s->bytes) {
		n = recv(s->fd, buf, BENCH_IO_BUF, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(s->why, sizeof(s->why), "after %llu of %llu "
			    "bytes: %s", (unsigned long long)got,
			    (unsigned long long)s->bytes,
			    n == 0 ? "end of file" : strerror(errno));
			return -1;
		}
		got += (uint64_t)n;
	}
	if (got != s->bytes) {
		snprintf(s->why, sizeof(s->why), "received %llu bytes, more "
		    "than the %llu asked for", (unsigned long long)got,
		    (unsigned long long)s->bytes);
		return -1;
	}
	return 0;
}

static void *
stream_main(void *arg)
{
	struct stream	*s = arg;
	uint8_t		*buf = xmalloc(BENCH_IO_BUF);
	uint8_t		 hdr[BENCH_HDR_LEN];
	int		 rv = -1;

	memset(buf, 'x', BENCH_IO_BUF);
	pthread_barrier_wait(s->go);
	hdr[0] = (uint8_t)s->mode;
	bench_put64(hdr + 1, s->bytes);
	if (bench_write_all(s->fd, hdr, sizeof(hdr)) != 0)
		snprintf(s->why, sizeof(s->why), "sending the request: %s",
		    strerror(errno));
	else if (s->mode == BENCH_MODE_SINK)
		rv = stream_sink(s, buf);
	else
		rv = stream_source(s, buf);
	s->done_ns = bench_now_ns();
	if (rv != 0 && s->why[0] == '\0')
		snprintf(s->why, sizeof(s->why), "failed");
	free(buf);
	return NULL;
}

/* Connects every stream before any starts; closes them on failure. */
static int
streams_connect(struct stream *s, int n, const struct bench_opts *o,
    char *why, size_t len)
{
	int	 i;

	for (i = 0; i < n; i++) {
		s[i].fd = bench_dial(&o->addr, (int)(o->timeout * 1000), false,
		    why, len);
		if (s[i].fd == -1) {
			while (i-- > 0)
				close(s[i].fd);
			return -1;
		}
	}
	return 0;
}

int
bench_bulk(const struct bench_opts *o, int mode)
{
	const char		*name = mode == BENCH_MODE_SINK ? "sink" : "source";
	struct stream		*s;
	pthread_t		*th;
	pthread_barrier_t	 go;
	uint64_t		 t0, t1 = 0;
	char			 why[256];
	int			 i, n = o->streams, failed = -1;

	if (n < 1 || n > MAX_STREAMS || o->bytes < (uint64_t)n)
		return bench_fail(name, "--streams must be 1-256 and at most "
		    "--bytes");
	s = xcalloc((size_t)n, sizeof(*s));
	th = xcalloc((size_t)n, sizeof(*th));
	if (streams_connect(s, n, o, why, sizeof(why)) != 0) {
		free(s);
		free(th);
		return bench_fail(name, why);
	}
	pthread_barrier_init(&go, NULL, (unsigned)n + 1);
	for (i = 0; i < n; i++) {
		s[i].o = o;
		s[i].mode = mode;
		s[i].go = &go;
		/* The total split evenly; the first stream takes the rest. */
		s[i].bytes = o->bytes / (uint64_t)n +
		    (i == 0 ? o->bytes % (uint64_t)n : 0);
		pthread_create(&th[i], NULL, stream_main, &s[i]);
	}
	pthread_barrier_wait(&go);
	t0 = bench_now_ns();
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		close(s[i].fd);
		if (s[i].why[0] != '\0' && failed < 0)
			failed = i;
		if (s[i].done_ns > t1)
			t1 = s[i].done_ns;
	}
	pthread_barrier_destroy(&go);
	if (failed >= 0) {
		snprintf(why, sizeof(why), "stream %d of %d to %s: %s",
		    failed + 1, n, o->addr.text, s[failed].why);
		free(s);
		free(th);
		return bench_fail(name, why);
	}
	printf("{\"mode\":\"%s\",\"ok\":true,\"streams\":%d,\"bytes\":%llu,"
	    "\"seconds\":%.6f,\"gbit_s\":%.3f}\n", name, n,
	    (unsigned long long)o->bytes, (double)(t1 - t0) / 1e9,
	    (double)o->bytes * 8 / ((double)(t1 - t0)));
	free(s);
	free(th);
	return 0;
}
