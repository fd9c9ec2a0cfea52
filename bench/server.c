#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>

#include "bench.h"
#include "xmalloc.h"

/*
 * The target server: the far end of every benchmarked path. A few event
 * loops (threads), each with its own SO_REUSEPORT listener on the same
 * port, so the target is not what limits the direct path on a 2-core
 * machine. Connections use raw non-blocking reads and writes into one
 * buffer per loop: the server itself copies nothing it does not have to,
 * and an idle connection costs it only its small struct.
 */

#define ECHO_CHUNK	(64 * 1024)
#define MAX_THREADS	16

struct worker {
	struct event_base	*base;
	struct evconnlistener	*lev;
	pthread_t		 thread;
	uint8_t			*buf;		/* BENCH_IO_BUF, shared by its conns */
};

struct conn {
	struct worker	*w;
	evutil_socket_t	 fd;
	struct event	 ev;
	short		 want;
	uint8_t		 mode;
	uint8_t		 hdr[BENCH_HDR_LEN];
	size_t		 hdrlen;
	uint64_t	 left;		/* sink: to read; source: to write */
	uint8_t		*pend;		/* bytes owed to the client */
	size_t		 npend, pendoff;
	bool		 replied;	/* sink answered / connect answered */
};

static void conn_cb(evutil_socket_t fd, short what, void *arg);

static void
conn_close(struct conn *c)
{
	event_del(&c->ev);
	close(c->fd);
	free(c->pend);
	free(c);
}

/* Switches the connection's one event to wait for what. */
static void
conn_want(struct conn *c, short what)
{
	if (c->want == what)
		return;
	event_del(&c->ev);
	event_assign(&c->ev, c->w->base, c->fd, what | EV_PERSIST, conn_cb, c);
	event_add(&c->ev, NULL);
	c->want = what;
}

/*
 * Queues len bytes for the client, sending what the socket takes now.
 * Returns -1 when the connection failed.
 */
static int
conn_send(struct conn *c, const uint8_t *p, size_t len)
{
	ssize_t	 n = send(c->fd, p, len, MSG_NOSIGNAL);

	if (n == -1 && errno != EAGAIN && errno != EINTR)
		return -1;
	if (n < 0)
		n = 0;
	if ((size_t)n == len)
		return 0;
	c->pend = xrealloc(c->pend, c->npend + len - (size_t)n);
	memcpy(c->pend + c->npend, p + n, len - (size_t)n);
	c->npend += len - (size_t)n;
	conn_want(c, EV_WRITE);
	return 0;
}

/* Writes out what is owed; back to reading once it is all gone. */
static int
conn_flush(struct conn *c)
{
	ssize_t	 n;

	while (c->pendoff < c->npend) {
		n = send(c->fd, c->pend + c->pendoff, c->npend - c->pendoff,
		    MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			return -1;
		c->pendoff += (size_t)n;
	}
	free(c->pend);
	c->pend = NULL;
	c->npend = c->pendoff = 0;
	conn_want(c, EV_READ);
	return 0;
}

/* Source: writes the requested bytes from the loop's buffer. */
static int
conn_source(struct conn *c)
{
	ssize_t	 n;

	while (c->left > 0) {
		n = send(c->fd, c->w->buf, c->left < BENCH_IO_BUF ?
		    (size_t)c->left : BENCH_IO_BUF, MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			return -1;
		c->left -= (uint64_t)n;
	}
	conn_want(c, EV_READ);		/* then wait for the client's EOF */
	return 0;
}

/* The header is complete: start the mode it names. */
static int
conn_start(struct conn *c)
{
	uint8_t	 one = 'c';

	switch (c->mode) {
	case BENCH_MODE_SINK:
		c->left = bench_get64(c->hdr + 1);
		return 0;
	case BENCH_MODE_SOURCE:
		c->left = bench_get64(c->hdr + 1);
		conn_want(c, EV_WRITE);
		return conn_source(c);
	case BENCH_MODE_CONNECT:
		c->replied = true;
		return conn_send(c, &one, 1);
	case BENCH_MODE_ECHO:
		return 0;
	default:
		return -1;
	}
}

/* Reads the mode byte and, for sink and source, the count after it. */
static int
conn_read_header(struct conn *c)
{
	size_t	 need;
	ssize_t	 n;

	need = c->hdrlen == 0 ? 1 : BENCH_HDR_LEN;
	n = recv(c->fd, c->hdr + c->hdrlen, need - c->hdrlen, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	c->hdrlen += (size_t)n;
	if (c->hdrlen == 1) {
		c->mode = c->hdr[0];
		if (c->mode == BENCH_MODE_SINK || c->mode == BENCH_MODE_SOURCE)
			return 0;	/* the count follows */
	} else if (c->hdrlen < BENCH_HDR_LEN)
		return 0;
	c->hdrlen = BENCH_HDR_LEN;	/* header done */
	return conn_start(c);
}

/* Reads payload: counted (sink), sent back (echo) or only drained. */
static int
conn_read(struct conn *c)
{
	uint8_t	 reply[8];
	size_t	 want = BENCH_IO_BUF;
	ssize_t	 n;

	if (c->mode == BENCH_MODE_ECHO)
		want = ECHO_CHUNK;
	else if (c->mode == BENCH_MODE_SINK && !c->replied)
		want = c->left < BENCH_IO_BUF ? (size_t)c->left : BENCH_IO_BUF;
	n = recv(c->fd, c->w->buf, want, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;		/* EOF or error: the client is done */
	if (c->mode == BENCH_MODE_ECHO)
		return conn_send(c, c->w->buf, (size_t)n);
	if (c->mode != BENCH_MODE_SINK || c->replied)
		return 0;		/* bytes after the exchange: ignored */
	c->left -= (uint64_t)n;
	if (c->left > 0)
		return 0;
	c->replied = true;
	bench_put64(reply, bench_get64(c->hdr + 1));
	return conn_send(c, reply, sizeof(reply));
}

static void
conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	int		 rv;

	(void)fd;
	if (what & EV_WRITE)
		rv = c->npend > 0 ? conn_flush(c) : conn_source(c);
	else if (c->hdrlen < BENCH_HDR_LEN)
		rv = conn_read_header(c);
	else
		rv = conn_read(c);
	if (rv != 0)
		conn_close(c);
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct worker	*w = arg;
	struct conn	*c;
	int		 one = 1;

	(void)lev;
	(void)sa;
	(void)salen;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = xcalloc(1, sizeof(*c));
	c->w = w;
	c->fd = fd;
	event_assign(&c->ev, w->base, fd, EV_READ | EV_PERSIST, conn_cb, c);
	event_add(&c->ev, NULL);
	c->want = EV_READ;
}

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;

	event_base_dispatch(w->base);
	return NULL;
}

static volatile sig_atomic_t	 stopping;

static void
stop_sig(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Waits for SIGTERM/SIGINT, or for stdin's EOF when asked to watch it. */
static void
wait_for_stop(bool watch_stdin)
{
	char	 b[64];
	ssize_t	 n;

	while (!stopping) {
		if (!watch_stdin) {
			pause();
			continue;
		}
		n = read(0, b, sizeof(b));
		if (n == 0 || (n == -1 && errno != EINTR))
			break;
	}
}

static int
worker_listen(struct worker *w, struct bench_addr *a, char *why, size_t len)
{
	unsigned	 flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
	    LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC;

	w->base = event_base_new();
	w->buf = xmalloc(BENCH_IO_BUF);
	memset(w->buf, 'x', BENCH_IO_BUF);
	if (w->base == NULL) {
		snprintf(why, len, "event_base_new failed");
		return -1;
	}
	w->lev = evconnlistener_new_bind(w->base, accept_cb, w, flags, 4096,
	    (struct sockaddr *)&a->ss, (int)a->len);
	if (w->lev == NULL) {
		snprintf(why, len, "listen on %s: %s", a->text, strerror(errno));
		return -1;
	}
	/* The first listener's port (0 = the kernel's pick) is everyone's. */
	a->len = sizeof(a->ss);
	getsockname(evconnlistener_get_fd(w->lev), (struct sockaddr *)&a->ss,
	    &a->len);
	return 0;
}

int
bench_server(const struct bench_opts *o)
{
	struct worker		 w[MAX_THREADS];
	struct bench_addr	 a = o->addr;
	struct sigaction	 sa;
	char			 why[256];
	int			 i, n = o->threads, port;

	if (n < 1 || n > MAX_THREADS)
		n = 2;
	bench_raise_nofile();
	memset(w, 0, sizeof(w));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = stop_sig;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < n; i++)
		if (worker_listen(&w[i], &a, why, sizeof(why)) != 0)
			return bench_fail("server", why);
	port = ntohs(a.ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&a.ss)->sin_port :
	    ((struct sockaddr_in6 *)&a.ss)->sin6_port);
	for (i = 0; i < n; i++)
		pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
	printf("{\"mode\":\"server\",\"ok\":true,\"port\":%d,\"threads\":%d}\n",
	    port, n);
	fflush(stdout);
	wait_for_stop(o->watch_stdin);
	/* The loops are busy in their own threads: exit without joining. */
	return 0;
}
