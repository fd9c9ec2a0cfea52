#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "bench.h"
#include "xmalloc.h"

/*
 * idle N: opens N connections to the echo target, at most --batch in
 * flight at once, and counts one as established when a byte sent on it
 * has come back (so through a relay it is open end to end, not only
 * accepted by the relay). Once all N are, it prints
 *   {"mode":"idle","phase":"established",...}
 * and holds them, doing nothing, until stdin reaches end-of-file or --hold
 * seconds pass: bench/run samples the relays' memory meanwhile. Then it
 * sends one more byte on every connection and prints how many answered
 * ("phase":"checked"), so a relay that dropped idle connections shows.
 */

enum idle_state { IDLE_CONNECTING, IDLE_WAITING, IDLE_UP, IDLE_CHECKING,
    IDLE_CHECKED, IDLE_DEAD };

struct idle_conn {
	struct idle		*idle;
	int			 fd;
	enum idle_state		 state;
	struct event		 ev;
};

struct idle {
	const struct bench_opts	*o;
	struct event_base	*base;
	struct idle_conn	*conns;
	int			 next, inflight, up, checked, dead;
	bool			 checking;
	char			 why[200];
};

static void idle_conn_cb(evutil_socket_t fd, short what, void *arg);

static void
idle_dead(struct idle_conn *c, const char *what, int err)
{
	struct idle	*d = c->idle;

	if (d->why[0] == '\0')
		snprintf(d->why, sizeof(d->why), "connection %d: %s: %s",
		    (int)(c - d->conns) + 1, what, err ? strerror(err) :
		    "closed by the other end");
	if (c->state == IDLE_CONNECTING || c->state == IDLE_WAITING)
		d->inflight--;
	event_del(&c->ev);
	close(c->fd);
	c->fd = -1;
	c->state = IDLE_DEAD;
	d->dead++;
	event_base_loopbreak(d->base);
}

/* Starts connections until --batch are in flight or all N are started. */
static void
idle_fill(struct idle *d)
{
	struct idle_conn	*c;
	int			 one = 1;

	while (d->inflight < d->o->batch && d->next < d->o->count) {
		c = &d->conns[d->next++];
		c->idle = d;
		c->state = IDLE_CONNECTING;
		d->inflight++;
		c->fd = socket(d->o->addr.ss.ss_family, SOCK_STREAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd == -1) {
			idle_dead(c, "socket", errno);
			return;
		}
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		event_assign(&c->ev, d->base, c->fd, EV_WRITE, idle_conn_cb, c);
		if (connect(c->fd, (struct sockaddr *)&d->o->addr.ss,
		    d->o->addr.len) == -1 && errno != EINPROGRESS) {
			idle_dead(c, "connect", errno);
			return;
		}
		event_add(&c->ev, NULL);
	}
}

/* The connection is open: send the mode and a byte, wait for the byte. */
static void
idle_connected(struct idle_conn *c)
{
	uint8_t		 hello[2] = { BENCH_MODE_ECHO, 'x' };
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err != 0) {
		idle_dead(c, "connect", err);
		return;
	}
	if (send(c->fd, hello, sizeof(hello), MSG_NOSIGNAL) != sizeof(hello)) {
		idle_dead(c, "send", errno);
		return;
	}
	c->state = IDLE_WAITING;
	event_assign(&c->ev, c->idle->base, c->fd, EV_READ | EV_PERSIST,
	    idle_conn_cb, c);
	event_add(&c->ev, NULL);
}

static void
idle_readable(struct idle_conn *c)
{
	struct idle	*d = c->idle;
	uint8_t		 b;
	ssize_t		 n;

	n = recv(c->fd, &b, 1, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || (c->state != IDLE_WAITING && c->state != IDLE_CHECKING)) {
		idle_dead(c, n < 0 ? "recv" : "an unexpected read",
		    n < 0 ? errno : 0);
		return;
	}
	if (c->state == IDLE_WAITING) {
		c->state = IDLE_UP;
		d->inflight--;
		d->up++;
		idle_fill(d);
	} else {
		c->state = IDLE_CHECKED;
		d->checked++;
	}
	if ((!d->checking && d->up == d->o->count) ||
	    (d->checking && d->checked + d->dead == d->o->count))
		event_base_loopbreak(d->base);
}

static void
idle_conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct idle_conn	*c = arg;

	(void)fd;
	if (what & EV_TIMEOUT)
		return;
	if (c->state == IDLE_CONNECTING)
		idle_connected(c);
	else
		idle_readable(c);
}

static void
stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	struct idle	*d = arg;
	char		 b[64];
	ssize_t		 n;

	(void)what;
	n = read(fd, b, sizeof(b));
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
		event_base_loopbreak(d->base);
}

/* Runs the loop until something breaks it or seconds pass. */
static void
idle_run(struct idle *d, double seconds)
{
	struct timeval	 tv;

	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	event_base_loopexit(d->base, &tv);
	event_base_dispatch(d->base);
}

/* Sends one byte on every live connection and waits for the echoes. */
static void
idle_check(struct idle *d)
{
	uint8_t	 b = 'y';
	int	 i;

	d->checking = true;
	for (i = 0; i < d->next; i++) {
		if (d->conns[i].state != IDLE_UP)
			continue;
		d->conns[i].state = IDLE_CHECKING;
		if (send(d->conns[i].fd, &b, 1, MSG_NOSIGNAL) != 1)
			idle_dead(&d->conns[i], "send", errno);
	}
	if (d->checked + d->dead < d->o->count)
		idle_run(d, d->o->timeout);
}

static void
idle_free(struct idle *d)
{
	int	 i;

	for (i = 0; i < d->next; i++)
		if (d->conns[i].fd != -1) {
			event_del(&d->conns[i].ev);
			close(d->conns[i].fd);
		}
	free(d->conns);
	event_base_free(d->base);
}

int
bench_idle(const struct bench_opts *o)
{
	struct idle	 d = { .o = o };
	struct event	*in;
	uint64_t	 t0, t1;
	long		 nofile = bench_raise_nofile();
	char		 why[256];

	if (o->count < 1 || o->batch < 1)
		return bench_fail("idle", "N and --batch must be at least 1");
	if (nofile != -1 && nofile < (long)o->count + 64) {
		snprintf(why, sizeof(why), "%d connections need more open files "
		    "than RLIMIT_NOFILE allows (%ld): raise it (ulimit -n)",
		    o->count, nofile);
		return bench_fail("idle", why);
	}
	d.base = event_base_new();
	d.conns = xcalloc((size_t)o->count, sizeof(*d.conns));
	t0 = bench_now_ns();
	idle_fill(&d);
	while (d.up < o->count && d.dead == 0 &&
	    bench_now_ns() - t0 < (uint64_t)(o->timeout * 1e9))
		idle_run(&d, o->timeout - (double)(bench_now_ns() - t0) / 1e9);
	t1 = bench_now_ns();
	if (d.up < o->count) {
		snprintf(why, sizeof(why), "%d of %d connections to %s "
		    "established in %.1f s; %s", d.up, o->count, o->addr.text,
		    (double)(t1 - t0) / 1e9, d.why[0] ? d.why : "timed out");
		idle_free(&d);
		return bench_fail("idle", why);
	}
	printf("{\"mode\":\"idle\",\"phase\":\"established\",\"ok\":true,"
	    "\"count\":%d,\"seconds\":%.3f,\"per_s\":%.1f}\n", o->count,
	    (double)(t1 - t0) / 1e9, o->count * 1e9 / (double)(t1 - t0));
	fflush(stdout);
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	in = event_new(d.base, 0, EV_READ | EV_PERSIST, stdin_cb, &d);
	event_add(in, NULL);
	idle_run(&d, o->hold);
	event_free(in);
	idle_check(&d);
	printf("{\"mode\":\"idle\",\"phase\":\"checked\",\"ok\":%s,"
	    "\"count\":%d,\"alive\":%d,\"error\":\"%s\"}\n",
	    d.checked == o->count ? "true" : "false", o->count, d.checked,
	    d.dead ? "see stderr" : "");
	if (d.dead)
		fprintf(stderr, "uplink-bench idle: %s\n", d.why);
	idle_free(&d);
	return d.checked == o->count ? 0 : 1;
}
