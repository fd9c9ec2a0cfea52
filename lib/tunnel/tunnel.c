#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>

#include "dial.h"
#include "hostport.h"
#include "log.h"
#include "tls.h"
#include "tlsio.h"
#include "tunnel.h"
#include "xmalloc.h"

/*
 * Output to the TLS connection is held to TUNNEL_OUT_HIGH bytes: past it
 * nghttp2 is told to wait (NGHTTP2_ERR_WOULDBLOCK) and sending resumes when
 * the socket has taken the buffer down to TUNNEL_OUT_LOW.
 */
#define TUNNEL_OUT_HIGH		(256 * 1024)
#define TUNNEL_OUT_LOW		(64 * 1024)
/*
 * A stream's receive window is this many stream buffers. With one (256
 * KiB) the sender stopped for a WINDOW_UPDATE every 128 KiB, and with the
 * client, two relays and the target sharing two cores both relays sat idle
 * between turns: one stream moved 4.1 Gbit/s; with four, 4.8 (same run,
 * docs/performance.md). What a stream holds from the peer is bounded by
 * its window, and all streams of a tunnel together by conn_window.
 */
#define TUNNEL_WINDOW_BUFFERS	4
#define TUNNEL_CLOSE_GRACE_MS	1000
#define TUNNEL_DRAIN_NOTICE_MS	1000
/* A DATA frame (9-byte header) that fills one 16 KiB TLS record. */
#define TUNNEL_FRAME_PAYLOAD	(16384 - 9)
/*
 * One read from a stream's local socket takes up to this much (never past
 * the stream buffer). libevent 2.1's evbuffer_read and bufferevents read
 * 4 KiB per call whatever they are told, which made every DATA frame, TLS
 * record and system call 4 KiB; the local sockets therefore have events of
 * their own and are read here. Just under 256 KiB so that the evbuffer
 * chain it lands in is one 256 KiB allocation.
 */
#define TUNNEL_LOCAL_READ	(256 * 1024 - 512)
/*
 * Plaintext taken from the tunnel in one pass at most. While the peer keeps
 * the socket full, a pass that read on until the socket was empty held
 * everything back from the local sockets (their writes run after the pass)
 * until the stream windows ran out: the target got 1 MiB bursts, and sat
 * idle in between. Past this, the pass ends, the writes run, and reading
 * resumes after them (docs/performance.md, change 6).
 */
#define TUNNEL_READ_PASS	(256 * 1024)

struct tunnel_stream {
	struct tunnel		*t;
	bool			 internal;	/* tunnel_stream_set_internal() */
	LIST_ENTRY(tunnel_stream) entry;
	int32_t			 id;
	int			 fd;		/* local socket once bound, or -1 */
	struct event		*rev, *wev;	/* its read and write events */
	struct evbuffer		*in;		/* read from it, not yet sent */
	struct evbuffer		*out;		/* from the peer, not yet written */
	struct evbuffer		*early;		/* peer bytes before binding */
	tunnel_stream_cb	*cb;
	void			*arg;
	struct event		*timer;		/* cloud: answer deadline */
	size_t			 unconsumed;	/* received, not yet credited */
	size_t			 hdrbytes;
	uint64_t		 up, down;	/* to the peer, from the peer */
	long			 started;
	bool			 requested, answered, bound, closed, deferred;
	bool			 joined;	/* tunnel_stream_join(), mate or not */
	bool			 info;		/* cloud: a GET, not a CONNECT */
	tunnel_reply_cb		*info_cb;
	struct evbuffer		*reply;		/* connector: body to send */
	bool			 local_eof, remote_eof, shut_wr;
	bool			 reading, writing;	/* rev, wev added */
	int			 status;
	char			 method[16];
	char			 path[TUNNEL_PATH_MAX + 1];
	char			 authority[TUNNEL_HOST_MAX + 8];
	char			 site[TUNNEL_SITE_MAX + 1];	/* uplink-site */
	char			 connector[TUNNEL_SITE_MAX + 1];	/* uplink-connector */
	char			 code[32];
	char			 reason[TUNNEL_REASON_MAX + 1];
	char			 name[40];
	void			(*gone)(void *);	/* stream_free() */
	void			*gone_arg;
	/*
	 * tunnel_stream_join(): the stream of another tunnel that takes the
	 * place of the local socket. What the peer sends here goes into the
	 * mate's in (sent on by the mate, and credited back here as it goes);
	 * its END_STREAM is the mate's local end of file.
	 */
	struct tunnel_stream	*mate;
};

#define H2_MAP_MIN	(16 * 1024)
#define H2_MAPS		4

struct h2_map {
	void		*p;
	size_t		 len;
	bool		 framebuf;	/* made by nghttp2_session_*_new() */
};

struct tunnel {
	struct event_base	*base;
	struct tlsio		*io;		/* the TLS connection */
	nghttp2_session		*h2;
	enum tunnel_role	 role;
	struct tunnel_limits	 lim;
	struct tunnel_callbacks	 cb;
	void			*arg;
	struct event		*send_ev, *ping_ev, *close_ev, *drain_ev;
	LIST_HEAD(, tunnel_stream) streams;
	bool			 dead, draining, goaway_sent, notify;
	bool			 blocked;	/* nghttp2 told to wait for the socket */
	long			 last_recv, rtt_ms;
	int			 pings_out;	/* sent, not yet answered */
	struct h2_map		 maps[H2_MAPS];	/* nghttp2's mapped blocks */
	bool			 h2_dirty;	/* frames written since released */
	bool			 h2_new;	/* in session_new() */
	char			*info;		/* connector: GET /v1/info body */
	uint32_t		 nstreams, npending;
	uint32_t		 ninternal;	/* of nstreams, the cloud's own */
	uint64_t		 total, bytes_in, bytes_out;
	char			 name[24];
	char			 why[256];
};

static void tunnel_fail(struct tunnel *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void stream_free(struct tunnel_stream *s);
static void stream_abort(struct tunnel_stream *s, uint32_t h2err);
static void h2_pages_release(struct tunnel *t);

void
tunnel_limits_default(struct tunnel_limits *lim)
{
	lim->max_streams = 10000;
	lim->stream_buffer = 256 * 1024;
	lim->header_bytes = 16 * 1024;
	lim->pending_connects = 1000;
	lim->conn_window = 16 * 1024 * 1024;
	lim->ping_interval_ms = 10000;
	lim->ping_misses = 3;
	lim->connect_timeout_ms = 30000;
}

const char *
tunnel_name(const struct tunnel *t)
{
	return t->name;
}

const char *
tunnel_stream_site(const struct tunnel_stream *s)
{
	return s->site;
}

const char *
tunnel_stream_connector(const struct tunnel_stream *s)
{
	return s->connector;
}

const char *
tunnel_stream_name(const struct tunnel_stream *s)
{
	return s->name;
}

/* Sending happens once per loop pass, after everything that queued frames. */
static void
tunnel_schedule_send(struct tunnel *t)
{
	if (!t->dead)
		event_active(t->send_ev, EV_WRITE, 0);
}

static void
tunnel_fail(struct tunnel *t, const char *fmt, ...)
{
	va_list	 ap;

	if (t->dead)
		return;
	t->dead = true;
	va_start(ap, fmt);
	vsnprintf(t->why, sizeof(t->why), fmt, ap);
	va_end(ap);
	event_active(t->close_ev, EV_TIMEOUT, 0);
}

/*
 * Takes a stream out of the HTTP/2 session's view: it is no longer counted,
 * and bytes received for it but not yet credited are credited at the
 * connection level so that the peer's other streams keep flowing.
 */
static void
stream_detach(struct tunnel_stream *s)
{
	struct tunnel	*t = s->t;

	if (s->closed)
		return;
	s->closed = true;
	if (t->h2 != NULL) {
		nghttp2_session_set_stream_user_data(t->h2, s->id, NULL);
		if (s->unconsumed > 0)
			nghttp2_session_consume_connection(t->h2, s->unconsumed);
	}
	s->unconsumed = 0;
	t->nstreams--;
	if (s->internal)
		t->ninternal--;
	tlsio_set_lean(t->io, t->nstreams == 0);
	if (!s->answered)
		t->npending--;
	if (s->timer != NULL)
		event_del(s->timer);
}

/*
 * A joined stream is going: its mate goes on alone if both directions had
 * ended here (it still sends what it holds, then its END_STREAM); if not,
 * the connection broke, and the mate is reset too.
 */
static void
stream_unjoin(struct tunnel_stream *s)
{
	struct tunnel_stream	*m = s->mate;

	if (m == NULL)
		return;
	s->mate = NULL;
	m->mate = NULL;
	if (!(s->local_eof && s->remote_eof))
		stream_abort(m, NGHTTP2_CANCEL);
}

static void
stream_free(struct tunnel_stream *s)
{
	void		(*gone)(void *) = s->gone;

	s->gone = NULL;
	if (gone != NULL)
		gone(s->gone_arg);
	stream_detach(s);
	stream_unjoin(s);
	log_debug("%s %s: closed, %llu bytes to the peer, %llu from it, %ld ms",
	    s->name, s->authority, (unsigned long long)s->up,
	    (unsigned long long)s->down, dial_now_ms() - s->started);
	LIST_REMOVE(s, entry);
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->rev != NULL)
		event_free(s->rev);
	if (s->wev != NULL)
		event_free(s->wev);
	if (s->fd != -1)
		close(s->fd);
	if (s->in != NULL)
		evbuffer_free(s->in);
	if (s->out != NULL)
		evbuffer_free(s->out);
	if (s->early != NULL)
		evbuffer_free(s->early);
	if (s->reply != NULL)
		evbuffer_free(s->reply);
	free(s);
}

/*
 * Closes the local socket with a TCP reset (SO_LINGER 0), so the program at
 * the other end learns that its connection broke instead of reading an
 * ordinary end of data.
 */
static void
stream_reset_local(struct tunnel_stream *s)
{
	struct linger	 l = { 1, 0 };

	if (s->fd != -1)
		setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

/* Ends a stream before its time: reset it towards the peer, close locally. */
static void
stream_abort(struct tunnel_stream *s, uint32_t h2err)
{
	struct tunnel	*t = s->t;

	if (h2err != NGHTTP2_NO_ERROR)
		stream_reset_local(s);
	if (!s->closed && t->h2 != NULL) {
		nghttp2_submit_rst_stream(t->h2, NGHTTP2_FLAG_NONE, s->id, h2err);
		tunnel_schedule_send(t);
	}
	stream_free(s);
}

static struct tunnel_stream *
stream_new(struct tunnel *t)
{
	struct tunnel_stream	*s;

	s = xcalloc(1, sizeof(*s));
	s->t = t;
	s->fd = -1;
	s->started = dial_now_ms();
	LIST_INSERT_HEAD(&t->streams, s, entry);
	t->nstreams++;
	tlsio_set_lean(t->io, false);
	t->npending++;
	t->total++;
	return s;
}

static struct tunnel_stream *
stream_get(struct tunnel *t, int32_t id)
{
	return nghttp2_session_get_stream_user_data(t->h2, id);
}

/* Half-close towards the local socket once everything for it is written. */
static void
stream_maybe_shutdown(struct tunnel_stream *s)
{
	if (!s->remote_eof || s->shut_wr || s->fd == -1)
		return;
	if (evbuffer_get_length(s->out) > 0)
		return;
	s->shut_wr = true;
	if (shutdown(s->fd, SHUT_WR) == -1 &&
	    errno != ENOTCONN)
		log_debug("%s: shutdown: %s", s->name, strerror(errno));
}

/* Whether a finished stream can go: both ways done and nothing unsent. */
static bool
stream_done(struct tunnel_stream *s)
{
	if (!s->closed)
		return false;
	if (s->fd == -1)
		return true;
	return evbuffer_get_length(s->out) == 0;
}

/* Bytes (or the end) to send were added to s->in: send them. */
static void
stream_resume(struct tunnel_stream *s)
{
	if (s->closed || !s->deferred)
		return;
	s->deferred = false;
	nghttp2_session_resume_data(s->t->h2, s->id);
	tunnel_schedule_send(s->t);
}

/* The mate sent n bytes that s received: the peer of s may send more. */
static void
stream_credit(struct tunnel_stream *s, size_t n)
{
	size_t	 c = n < s->unconsumed ? n : s->unconsumed;

	s->unconsumed -= c;
	if (c == 0 || s->closed)
		return;
	nghttp2_session_consume(s->t->h2, s->id, c);
	tunnel_schedule_send(s->t);
}

/* ---- the local socket side of a bound stream ---- */

/*
 * Reads from the local socket only while the stream buffer has room; once
 * full, not again before half of it has gone out, so that reads stay large.
 */
static void
local_want_read(struct tunnel_stream *s)
{
	size_t	 have = evbuffer_get_length(s->in);
	size_t	 room = s->reading ? s->t->lim.stream_buffer :
	    s->t->lim.stream_buffer / 2 + 1;
	bool	 want = !s->local_eof && !s->closed && have < room;

	if (want == s->reading)
		return;
	s->reading = want;
	if (want)
		event_add(s->rev, NULL);
	else
		event_del(s->rev);
}

/*
 * Whatever is waiting, up to the room left in the stream buffer, in one
 * readv into the stream's input.
 */
static void
local_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel_stream	*s = arg;
	struct evbuffer_iovec	 v[2];
	size_t			 have = evbuffer_get_length(s->in), want, left;
	ssize_t			 n;
	int			 nv, i;

	(void)what;
	if (have >= s->t->lim.stream_buffer) {
		local_want_read(s);
		return;
	}
	want = s->t->lim.stream_buffer - have;
	if (want > TUNNEL_LOCAL_READ)
		want = TUNNEL_LOCAL_READ;
	nv = evbuffer_reserve_space(s->in, (ev_ssize_t)want, v, 2);
	if (nv <= 0) {
		stream_abort(s, NGHTTP2_INTERNAL_ERROR);
		return;
	}
	n = readv(fd, (struct iovec *)v, nv);
	if (n < 0) {
		evbuffer_commit_space(s->in, v, 0);
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		log_debug("%s %s: local socket: %s", s->name, s->authority,
		    strerror(errno));
		stream_abort(s, NGHTTP2_CANCEL);
		return;
	}
	left = (size_t)n;
	for (i = 0; i < nv; i++) {
		if (v[i].iov_len > left)
			v[i].iov_len = left;
		left -= v[i].iov_len;
	}
	evbuffer_commit_space(s->in, v, nv);
	if (n == 0)
		s->local_eof = true;
	local_want_read(s);
	if (s->local_eof && s->closed) {
		stream_free(s);
		return;
	}
	if (s->closed || !s->deferred)
		return;
	s->deferred = false;
	nghttp2_session_resume_data(s->t->h2, s->id);
	tunnel_schedule_send(s->t);
}

/*
 * Writes what the peer sent in one writev and credits the peer with what
 * the socket took. Runs once per loop pass at most (see local_queue()).
 */
static void
local_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel_stream	*s = arg;
	int			 n;
	size_t			 c;

	(void)what;
	s->writing = false;
	n = evbuffer_write(s->out, fd);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR) {
		log_debug("%s %s: local socket: %s", s->name, s->authority,
		    strerror(errno));
		stream_abort(s, NGHTTP2_CANCEL);
		return;
	}
	if (n > 0 && !s->closed) {
		c = (size_t)n < s->unconsumed ? (size_t)n : s->unconsumed;
		s->unconsumed -= c;
		if (c > 0) {
			nghttp2_session_consume(s->t->h2, s->id, c);
			tunnel_schedule_send(s->t);
		}
	}
	if (evbuffer_get_length(s->out) > 0) {
		s->writing = true;
		event_add(s->wev, NULL);
		return;
	}
	stream_maybe_shutdown(s);
	if (stream_done(s))
		stream_free(s);
}

/*
 * Bytes were added to the stream's output: write them once the current
 * callback (which may add more) is over, unless a write is already waiting
 * for the socket.
 */
static void
local_queue(struct tunnel_stream *s)
{
	if (s->writing)
		return;
	s->writing = true;
	event_active(s->wev, EV_WRITE, 0);
}

/*
 * Takes the socket of a socket bufferevent and what its buffers hold,
 * then frees the bufferevent without closing the socket.
 */
static evutil_socket_t
local_take(struct tunnel_stream *s, struct bufferevent *bev)
{
	evutil_socket_t	 fd = bufferevent_getfd(bev);

	/* Detaching also unfreezes the buffers so they can be moved. */
	bufferevent_setfd(bev, -1);
	evbuffer_add_buffer(s->in, bufferevent_get_input(bev));
	evbuffer_add_buffer(s->out, bufferevent_get_output(bev));
	bufferevent_free(bev);
	return fd;
}

void
tunnel_stream_bind(struct tunnel_stream *s, struct bufferevent *bev)
{
	struct event_base	*base = s->t->base;
	int			 one = 1;

	s->in = evbuffer_new();
	s->out = evbuffer_new();
	s->fd = local_take(s, bev);
	s->bound = true;
	evutil_make_socket_nonblocking(s->fd);
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->rev = event_new(base, s->fd, EV_READ | EV_PERSIST, local_read_cb, s);
	s->wev = event_new(base, s->fd, EV_WRITE, local_write_cb, s);
	if (s->early != NULL) {
		evbuffer_add_buffer(s->out, s->early);
		evbuffer_free(s->early);
		s->early = NULL;
	}
	local_want_read(s);
	if (evbuffer_get_length(s->out) > 0)
		local_queue(s);
	stream_maybe_shutdown(s);
	if (!s->closed) {
		s->deferred = false;
		nghttp2_session_resume_data(s->t->h2, s->id);
		tunnel_schedule_send(s->t);
	} else if (stream_done(s)) {
		stream_free(s);
	}
}

/* ---- nghttp2 callbacks ---- */

static ssize_t
h2_send(nghttp2_session *h2, const uint8_t *data, size_t len, int flags,
    void *arg)
{
	struct tunnel	*t = arg;

	(void)h2;
	(void)flags;
	if (tlsio_queued(t->io) >= TUNNEL_OUT_HIGH) {
		t->blocked = true;
		return NGHTTP2_ERR_WOULDBLOCK;
	}
	if (tlsio_write(t->io, data, len) == -1)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	t->h2_dirty = true;
	return (ssize_t)len;
}

/*
 * A DATA frame goes out as one piece: header and payload copied straight
 * from the stream's buffer into the TLS layer's plaintext, which is cut
 * into full 16 KiB records when it is encrypted.
 */
static int
h2_send_data(nghttp2_session *h2, nghttp2_frame *frame, const uint8_t *hd,
    size_t len, nghttp2_data_source *src, void *arg)
{
	struct tunnel		*t = arg;
	struct tunnel_stream	*s;
	uint8_t			*p;

	(void)h2;
	(void)src;
	s = stream_get(t, frame->hd.stream_id);
	if (s == NULL || (s->fd == -1 && !s->joined))
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	if (tlsio_queued(t->io) >= TUNNEL_OUT_HIGH) {
		t->blocked = true;
		return NGHTTP2_ERR_WOULDBLOCK;
	}
	p = tlsio_reserve(t->io, 9 + len);
	memcpy(p, hd, 9);
	if (len > 0 && evbuffer_remove(s->in, p + 9, len) != (int)len)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	tlsio_commit(t->io, 9 + len);
	s->up += len;
	t->bytes_out += len;
	if (s->joined) {
		if (s->mate != NULL)
			stream_credit(s->mate, len);
	} else
		local_want_read(s);
	return 0;
}

static ssize_t
h2_data_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct tunnel		*t = arg;
	struct tunnel_stream	*s;
	size_t			 avail;

	(void)h2;
	(void)buf;
	(void)src;
	s = stream_get(t, id);
	if (s == NULL)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (s->fd == -1 && !s->joined) {
		s->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	avail = evbuffer_get_length(s->in);
	if (avail == 0 && !s->local_eof) {
		s->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	if (avail > len)
		avail = len;
	if (avail > TUNNEL_FRAME_PAYLOAD)
		avail = TUNNEL_FRAME_PAYLOAD;
	if (avail > 0)
		*flags |= NGHTTP2_DATA_FLAG_NO_COPY;
	if (s->local_eof && avail == evbuffer_get_length(s->in))
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)avail;
}

static int
h2_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame, void *arg)
{
	struct tunnel		*t = arg;
	struct tunnel_stream	*s;

	if (t->role != TUNNEL_CONNECTOR || frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	s = stream_new(t);
	s->id = frame->hd.stream_id;
	snprintf(s->name, sizeof(s->name), "%s/s%d", t->name, (int)s->id);
	nghttp2_session_set_stream_user_data(h2, s->id, s);
	return 0;
}

static void
copy_value(char *dst, size_t dstlen, const uint8_t *v, size_t len)
{
	if (len >= dstlen)
		len = dstlen - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

static bool
name_is(const uint8_t *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

static int
h2_header(nghttp2_session *h2, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value, size_t valuelen,
    uint8_t flags, void *arg)
{
	struct tunnel		*t = arg;
	struct tunnel_stream	*s;

	(void)flags;
	s = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
	if (s == NULL)
		return 0;
	s->hdrbytes += namelen + valuelen + 32;
	if (s->hdrbytes > t->lim.header_bytes)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (name_is(name, namelen, ":method"))
		copy_value(s->method, sizeof(s->method), value, valuelen);
	else if (name_is(name, namelen, ":path"))
		copy_value(s->path, sizeof(s->path), value, valuelen);
	else if (name_is(name, namelen, ":authority"))
		copy_value(s->authority, sizeof(s->authority), value, valuelen);
	else if (name_is(name, namelen, ":status"))
		s->status = (valuelen == 3 && value[0] >= '1' && value[0] <= '5') ?
		    (value[0] - '0') * 100 + (value[1] - '0') * 10 +
		    (value[2] - '0') : 0;
	else if (name_is(name, namelen, "uplink-site") ||
	    name_is(name, namelen, "uplink-connector")) {
		/* Cut short, a name could mean another site: refused instead. */
		if (valuelen > TUNNEL_SITE_MAX)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		if (namelen == 11)
			copy_value(s->site, sizeof(s->site), value, valuelen);
		else
			copy_value(s->connector, sizeof(s->connector), value,
			    valuelen);
	} else if (name_is(name, namelen, "uplink-error"))
		copy_value(s->code, sizeof(s->code), value, valuelen);
	else if (name_is(name, namelen, "uplink-reason"))
		copy_value(s->reason, sizeof(s->reason), value, valuelen);
	return 0;
}

static ssize_t
h2_reply_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct tunnel_stream	*s;
	int			 n = 0;

	(void)h2;
	(void)src;
	s = stream_get(arg, id);
	if (s != NULL && s->reply != NULL)
		n = evbuffer_remove(s->reply, buf, len);
	if (s == NULL || s->reply == NULL ||
	    evbuffer_get_length(s->reply) == 0)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return n < 0 ? 0 : n;
}

/* Connector: answers a GET with a JSON body from memory. */
static void
stream_reply(struct tunnel_stream *s, const char *status, const char *body)
{
	struct tunnel		*t = s->t;
	nghttp2_data_provider	 prd = { .read_callback = h2_reply_read };
	nghttp2_nv		 nv[2] = {
		{ (uint8_t *)":status", (uint8_t *)status, 7, 3,
		    NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"content-type", (uint8_t *)"application/json", 12,
		    16, NGHTTP2_NV_FLAG_NONE },
	};

	s->answered = true;
	t->npending--;
	s->reply = evbuffer_new();
	evbuffer_add(s->reply, body, strlen(body));
	nghttp2_submit_response(t->h2, s->id, nv, 2, &prd);
	tunnel_schedule_send(t);
}

/* Connector: a complete request, a CONNECT or a GET of the info. */
static void
request_ready(struct tunnel *t, struct tunnel_stream *s)
{
	struct hostport	 hp;
	char		 why[128];

	if (strcmp(s->method, "GET") == 0) {
		/* A GET for a named connector is the get callback's. */
		if (strcmp(s->path, "/v1/info") == 0 && s->connector[0] == '\0')
			stream_reply(s, "200", t->info != NULL ? t->info : "{}");
		else if (t->cb.get != NULL && !(t->draining && t->goaway_sent))
			t->cb.get(t->arg, t, s, s->path);
		else
			stream_reply(s, "404", "{\"error\":\"not-found\"}");
		return;
	}
	if (strcmp(s->method, "CONNECT") != 0) {
		tunnel_stream_refuse(s, 405, "method",
		    "only CONNECT is served on a tunnel");
		return;
	}
	if (hostport_parse(s->authority, 0, &hp, why, sizeof(why)) != 0 ||
	    hp.port == 0) {
		tunnel_stream_refuse(s, 400, "bad-target",
		    "the target must be HOST:PORT");
		return;
	}
	/*
	 * While draining, streams still come until the final GOAWAY reaches
	 * the cloud (nghttp2 refuses any opened after it, and the cloud
	 * retries those elsewhere); they are served, so none is lost.
	 */
	if (t->draining && t->goaway_sent) {
		tunnel_stream_refuse(s, 503, "draining",
		    "the connector is shutting down");
		return;
	}
	if (t->npending > t->lim.pending_connects) {
		tunnel_stream_refuse(s, 503, "busy",
		    "too many connections are being set up at once");
		return;
	}
	if (t->cb.request == NULL) {
		tunnel_stream_refuse(s, 501, "not-supported",
		    "this end of the tunnel opens no connections");
		return;
	}
	t->cb.request(t->arg, t, s, hp.host, hp.port);
}

/* Cloud: the connector's answer to a CONNECT. */
static void
response_ready(struct tunnel *t, struct tunnel_stream *s)
{
	tunnel_stream_cb	*cb = s->cb;

	if (s->answered)
		return;
	s->answered = true;
	t->npending--;
	if (s->timer != NULL)
		event_del(s->timer);
	if (s->info)
		return;		/* the body follows; see info_finish() */
	if (s->status == 200) {
		cb(s->arg, s, 200, NULL, NULL);
		if (!s->bound)
			stream_abort(s, NGHTTP2_CANCEL);
		return;
	}
	log_info("%s %s: refused by the connector: %d %s: %s", s->name,
	    s->authority, s->status, s->code[0] ? s->code : "-",
	    s->reason[0] ? s->reason : "(no reason given)");
	s->cb = NULL;
	cb(s->arg, s, s->status, s->code[0] ? s->code : "refused",
	    s->reason[0] ? s->reason : "the connector refused the connection");
	stream_abort(s, NGHTTP2_NO_ERROR);
}

static void
remote_ended(struct tunnel_stream *s)
{
	s->remote_eof = true;
	stream_maybe_shutdown(s);
	if (s->mate != NULL) {
		s->mate->local_eof = true;
		stream_resume(s->mate);
	}
}

static int
h2_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *arg)
{
	struct tunnel		*t = arg;
	struct tunnel_stream	*s;
	uint64_t		 sent;
	char			 debug[208];

	t->last_recv = dial_now_ms();
	switch (frame->hd.type) {
	case NGHTTP2_PING:
		if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0)
			return 0;
		memcpy(&sent, frame->ping.opaque_data, sizeof(sent));
		t->rtt_ms = t->last_recv - (long)sent;
		t->pings_out = 0;
		return 0;
	case NGHTTP2_GOAWAY:
		t->draining = true;
		if (t->cb.goaway != NULL) {
			/* The debug data is bytes, not a C string. */
			snprintf(debug, sizeof(debug), "%.*s",
			    (int)(frame->goaway.opaque_data_len < 200 ?
			    frame->goaway.opaque_data_len : 200),
			    frame->goaway.opaque_data != NULL ?
			    (const char *)frame->goaway.opaque_data : "");
			t->cb.goaway(t->arg, t, debug);
		}
		return 0;
	case NGHTTP2_HEADERS:
	case NGHTTP2_DATA:
		break;
	default:
		return 0;
	}
	s = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
	if (s == NULL)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS &&
	    (frame->hd.flags & NGHTTP2_FLAG_END_HEADERS)) {
		if (t->role == TUNNEL_CONNECTOR && !s->requested) {
			s->requested = true;
			request_ready(t, s);
		}
		else if (t->role == TUNNEL_CLOUD)
			response_ready(t, s);
		/* The stream may be gone now. */
		s = nghttp2_session_get_stream_user_data(h2,
		    frame->hd.stream_id);
		if (s == NULL)
			return 0;
	}
	if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
		remote_ended(s);
	return 0;
}

static int
h2_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *arg)
{
	struct tunnel		*t = arg;
	struct tunnel_stream	*s;

	(void)flags;
	s = stream_get(t, id);
	t->bytes_in += len;
	if (s == NULL || s->remote_eof) {
		nghttp2_session_consume(h2, id, len);
		return 0;
	}
	if (s->info) {
		nghttp2_session_consume(h2, id, len);
		if (s->early == NULL)
			s->early = evbuffer_new();
		if (evbuffer_get_length(s->early) + len > TUNNEL_REPLY_MAX)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		evbuffer_add(s->early, data, len);
		return 0;
	}
	s->unconsumed += len;
	s->down += len;
	if (s->joined) {
		/* Gone mate: credited at the connection level when s goes. */
		if (s->mate != NULL) {
			evbuffer_add(s->mate->in, data, len);
			stream_resume(s->mate);
		}
	} else if (s->fd != -1) {
		evbuffer_add(s->out, data, len);
		local_queue(s);
	} else {
		if (s->early == NULL)
			s->early = evbuffer_new();
		evbuffer_add(s->early, data, len);
	}
	return 0;
}

/* Cloud: hands the info answer (or its failure, status 0) over. */
static void
info_finish(struct tunnel_stream *s, int status)
{
	tunnel_reply_cb	*cb = s->info_cb;
	char		*body;
	size_t		 len = s->early != NULL ? evbuffer_get_length(s->early) : 0;

	s->info_cb = NULL;
	if (cb == NULL)
		return;
	body = xmalloc(len + 1);
	if (len > 0)
		evbuffer_remove(s->early, body, len);
	body[len] = '\0';
	cb(s->arg, s->t, status, body);
	free(body);
}

static int
h2_stream_close(nghttp2_session *h2, int32_t id, uint32_t err, void *arg)
{
	struct tunnel		*t = arg;
	struct tunnel_stream	*s;
	tunnel_stream_cb	*cb;
	char			 why[96];

	s = stream_get(t, id);
	if (s == NULL)
		return 0;
	(void)h2;
	if (s->info) {
		info_finish(s, err == NGHTTP2_NO_ERROR ? s->status : 0);
		stream_free(s);
		return 0;
	}
	cb = s->cb;
	stream_detach(s);
	if (!s->answered || err != NGHTTP2_NO_ERROR) {
		if (err == NGHTTP2_REFUSED_STREAM)
			snprintf(why, sizeof(why), "the connector did not take "
			    "the stream (it is going away)");
		else
			snprintf(why, sizeof(why), "the stream was reset (%s)",
			    nghttp2_http2_strerror(err));
		if (!s->answered && cb != NULL) {
			s->cb = NULL;
			cb(s->arg, s, 0, err == NGHTTP2_REFUSED_STREAM ?
			    "retry" : "reset", why);
		}
		stream_free(s);
		return 0;
	}
	/* Both ways ended: let the local socket take what is left. */
	if (s->local_eof && s->remote_eof && !stream_done(s))
		return 0;
	stream_free(s);
	return 0;
}

static void
stream_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel_stream	*s = arg;
	tunnel_stream_cb	*cb = s->cb;
	char			 why[96];

	(void)fd;
	(void)what;
	if (s->info) {
		info_finish(s, 0);
		stream_abort(s, NGHTTP2_CANCEL);
		return;
	}
	snprintf(why, sizeof(why), "no answer from the connector in %d ms",
	    s->t->lim.connect_timeout_ms);
	s->cb = NULL;
	if (cb != NULL)
		cb(s->arg, s, 0, "timeout", why);
	stream_abort(s, NGHTTP2_CANCEL);
}

/* ---- the TLS side ---- */

/*
 * Runs nghttp2 until it has nothing more to send or the socket is full,
 * then hands everything to the socket in one write.
 */
static void
tunnel_send_now(struct tunnel *t)
{
	int	 rv, rounds = 0;

	do {
		if (t->dead)
			return;
		t->blocked = false;
		rv = nghttp2_session_send(t->h2);
		if (rv != 0) {
			tunnel_fail(t, "HTTP/2 error while sending: %s",
			    nghttp2_strerror(rv));
			return;
		}
		tlsio_flush(t->io);
		/* The socket may have taken it all: no event will say so. */
	} while (t->blocked && tlsio_queued(t->io) < TUNNEL_OUT_LOW &&
	    ++rounds < 16);
	/* Enough for one pass; the rest in the next one, not never. */
	if (t->blocked && tlsio_queued(t->io) < TUNNEL_OUT_LOW)
		tunnel_schedule_send(t);
	h2_pages_release(t);
	if (!nghttp2_session_want_read(t->h2) &&
	    !nghttp2_session_want_write(t->h2) && tlsio_queued(t->io) == 0)
		tunnel_fail(t, "%s", t->goaway_sent || t->draining ?
		    "finished after GOAWAY" : "the session ended");
}

static void
send_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tunnel_send_now(arg);
}

/* Everything the socket has, record by record, into nghttp2. */
static void
tunnel_read(struct tunnel *t)
{
	uint8_t		 buf[16384];
	long		 n;
	ssize_t		 rv;
	size_t		 got = 0;

	while (!t->dead) {
		if (got >= TUNNEL_READ_PASS) {
			tlsio_read_later(t->io);
			break;
		}
		n = tlsio_read(t->io, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0) {
			tunnel_fail(t, "%s", tlsio_error(t->io));
			return;
		}
		got += (size_t)n;
		rv = nghttp2_session_mem_recv(t->h2, buf, (size_t)n);
		if (rv < 0) {
			tunnel_fail(t, "HTTP/2 protocol error from the peer: %s",
			    nghttp2_strerror((int)rv));
			return;
		}
	}
	tunnel_send_now(t);
}

/*
 * After a goodbye, what still comes is read and dropped until the output
 * is out (or the grace period ends); the end of the connection ends it now.
 */
static void
tunnel_discard(struct tunnel *t)
{
	uint8_t		 buf[16384];
	long		 n;

	do
		n = tlsio_read(t->io, buf, sizeof(buf));
	while (n > 0);
	if (n < 0)
		event_active(t->close_ev, EV_TIMEOUT, 0);
}

static void
tunnel_io_cb(void *arg, struct tlsio *io, enum tlsio_event what)
{
	struct tunnel	*t = arg;

	(void)io;
	switch (what) {
	case TLSIO_READABLE:
		if (t->dead)
			tunnel_discard(t);
		else
			tunnel_read(t);
		break;
	case TLSIO_DRAINED:
		if (t->dead && tlsio_queued(t->io) == 0)
			event_active(t->close_ev, EV_TIMEOUT, 0);
		else
			tunnel_send_now(t);
		break;
	}
}

static void
ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel	*t = arg;
	uint64_t	 now = (uint64_t)dial_now_ms();
	uint8_t		 opaque[8];

	(void)fd;
	(void)what;
	if (t->dead)
		return;
	if (t->pings_out >= t->lim.ping_misses) {
		tunnel_fail(t, "declared dead: %d PINGs in a row unanswered "
		    "(one every %d ms)", t->pings_out, t->lim.ping_interval_ms);
		return;
	}
	t->pings_out++;
	memcpy(opaque, &now, sizeof(opaque));
	nghttp2_submit_ping(t->h2, NGHTTP2_FLAG_NONE, opaque);
	tunnel_schedule_send(t);
}

/* Ends every stream: unanswered ones hear why, sockets are reset. */
static void
tunnel_end_streams(struct tunnel *t)
{
	struct tunnel_stream	*s;
	tunnel_stream_cb	*cb;

	t->dead = true;
	while ((s = LIST_FIRST(&t->streams)) != NULL) {
		cb = s->cb;
		s->cb = NULL;
		stream_detach(s);
		info_finish(s, 0);
		stream_reset_local(s);
		if (cb != NULL && !s->answered)
			cb(s->arg, s, 0, "tunnel-closed", t->why[0] ? t->why :
			    "the tunnel closed");
		stream_free(s);
	}
}

/* Tears everything down; the one place a tunnel ends. */
static void
tunnel_teardown(struct tunnel *t)
{
	tunnel_end_streams(t);
	nghttp2_session_del(t->h2);
	t->h2 = NULL;
	free(t->info);
	event_free(t->send_ev);
	event_free(t->ping_ev);
	event_free(t->close_ev);
	if (t->drain_ev != NULL)
		event_free(t->drain_ev);
	tlsio_free(t->io);
	free(t);
}

/*
 * The streams end first, so that their owners hear of it while the
 * tunnel's owner still knows the tunnel; then the owner hears that the
 * tunnel is gone.
 */
static void
close_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel	*t = arg;

	(void)fd;
	(void)what;
	tunnel_end_streams(t);
	if (t->notify && t->cb.closed != NULL)
		t->cb.closed(t->arg, t, t->why);
	tunnel_teardown(t);
}

/*
 * nghttp2's memory. Each session allocates a 16 KiB frame buffer at once
 * and keeps it: through malloc it is resident on a heap where freed
 * blocks were written to, 16 KiB of every idle tunnel. But DATA goes out
 * through h2_send_data() without that buffer, so only control frames are
 * written to it. Blocks of H2_MAP_MIN or more are mapped on their own and
 * remembered by their tunnel (t->maps; ud is the tunnel), so that an idle
 * tunnel gives the frame buffer's pages back once its frames are out
 * (h2_pages_release()): a ping written there every few seconds costs a
 * page fault, not a resident page per tunnel. The frame buffer is the one
 * such block the session makes when it is created; later ones (a large
 * frame being received) keep their contents. Smaller blocks are malloc's.
 */
static bool
h2_map_add(struct tunnel *t, void *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < H2_MAPS; i++)
		if (t->maps[i].p == NULL) {
			t->maps[i].p = p;
			t->maps[i].len = len;
			t->maps[i].framebuf = t->h2_new;
			return true;
		}
	return false;
}

static struct h2_map *
h2_map_find(struct tunnel *t, void *p)
{
	size_t	 i;

	for (i = 0; i < H2_MAPS; i++)
		if (t->maps[i].p == p)
			return &t->maps[i];
	return NULL;
}

/* A block of size bytes: mapped (and zeroed) when that is true in *mapped. */
static void *
h2_alloc(size_t size, struct tunnel *t, bool *mapped)
{
	void	*p;

	*mapped = false;
	if (size > SIZE_MAX / 2)
		return NULL;
	if (size >= H2_MAP_MIN && h2_map_find(t, NULL) != NULL) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		(void)h2_map_add(t, p, size);
		*mapped = true;
		return p;
	}
	return malloc(size);
}

static void *
h2_malloc(size_t size, void *ud)
{
	bool	 mapped;

	return h2_alloc(size, ud, &mapped);
}

static void
h2_free(void *p, void *ud)
{
	struct h2_map	*m;

	if (p == NULL)
		return;
	if ((m = h2_map_find(ud, p)) != NULL) {
		munmap(m->p, m->len);
		m->p = NULL;
		return;
	}
	free(p);
}

static void *
h2_calloc(size_t n, size_t size, void *ud)
{
	void	*p;
	bool	 mapped;

	if (size != 0 && n > SIZE_MAX / 2 / size)
		return NULL;
	p = h2_alloc(n * size, ud, &mapped);
	if (p != NULL && !mapped)
		memset(p, 0, n * size);		/* mapped pages come zeroed */
	return p;
}

static void *
h2_realloc(void *p, size_t size, void *ud)
{
	struct h2_map	*m;
	size_t		 old;
	void		*q;
	bool		 mapped;

	if (p == NULL)
		return h2_malloc(size, ud);
	m = h2_map_find(ud, p);
	if (m == NULL && size < H2_MAP_MIN)
		return realloc(p, size);
	old = m != NULL ? m->len : malloc_usable_size(p);
	q = h2_alloc(size, ud, &mapped);
	if (q == NULL)
		return NULL;
	memcpy(q, p, old < size ? old : size);
	h2_free(p, ud);
	return q;
}

/*
 * An idle tunnel's frame buffer goes back to the kernel once nghttp2 has
 * nothing of a frame left in it: no stream, every frame handed to TLS
 * (not blocked), nothing queued. Its contents are dead then; the next
 * frame written finds zeroed pages.
 */
static void
h2_pages_release(struct tunnel *t)
{
	size_t	 i;

	if (!t->h2_dirty || t->nstreams > 0 || t->blocked || t->draining ||
	    t->goaway_sent || nghttp2_session_want_write(t->h2))
		return;
	t->h2_dirty = false;
	for (i = 0; i < H2_MAPS; i++)
		if (t->maps[i].p != NULL && t->maps[i].framebuf)
			(void)madvise(t->maps[i].p, t->maps[i].len,
			    MADV_DONTNEED);
}

static nghttp2_session *
session_new(struct tunnel *t)
{
	nghttp2_mem			 mem = { t, h2_malloc, h2_free,
	    h2_calloc, h2_realloc };
	nghttp2_session_callbacks	*cbs;
	nghttp2_option			*opt;
	nghttp2_session			*h2 = NULL;

	if (nghttp2_session_callbacks_new(&cbs) != 0)
		return NULL;
	nghttp2_session_callbacks_set_send_callback(cbs, h2_send);
	nghttp2_session_callbacks_set_send_data_callback(cbs, h2_send_data);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs,
	    h2_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, h2_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs,
	    h2_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
	    h2_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
	    h2_stream_close);
	if (nghttp2_option_new(&opt) != 0) {
		nghttp2_session_callbacks_del(cbs);
		return NULL;
	}
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_peer_max_concurrent_streams(opt, 100);
	nghttp2_option_set_max_send_header_block_length(opt,
	    t->lim.header_bytes);
	nghttp2_option_set_max_outbound_ack(opt, 1000);
	nghttp2_option_set_max_settings(opt, 32);
	t->h2_new = true;
	if (t->role == TUNNEL_CLOUD)
		nghttp2_session_client_new3(&h2, cbs, t, opt, &mem);
	else
		nghttp2_session_server_new3(&h2, cbs, t, opt, &mem);
	t->h2_new = false;
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cbs);
	return h2;
}

static uint32_t
stream_window(const struct tunnel_limits *lim)
{
	size_t	 w = lim->stream_buffer * TUNNEL_WINDOW_BUFFERS;

	if (w > lim->conn_window)
		w = lim->conn_window;
	if (w > NGHTTP2_MAX_WINDOW_SIZE)
		w = NGHTTP2_MAX_WINDOW_SIZE;
	return (uint32_t)w;
}

static int
session_settings(struct tunnel *t)
{
	nghttp2_settings_entry	 iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
		    t->role == TUNNEL_CONNECTOR ? t->lim.max_streams : 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
		    stream_window(&t->lim) },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
		    (uint32_t)t->lim.header_bytes },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
	};
	size_t			 n = sizeof(iv) / sizeof(iv[0]);
	int			 rv;

	rv = nghttp2_submit_settings(t->h2, NGHTTP2_FLAG_NONE, iv, n);
	if (rv == 0)
		rv = nghttp2_session_set_local_window_size(t->h2,
		    NGHTTP2_FLAG_NONE, 0, (int32_t)t->lim.conn_window);
	return rv;
}

/*
 * A bulk stream allocates and frees buffers of up to 256 KiB many times a
 * second (a local read's evbuffer chain, records on their way out). With
 * glibc's defaults the freed memory goes back to the kernel at once (brk,
 * or munmap) and comes back as fresh zeroed pages: page faults were 5-8 %
 * of a relay's time. Keep up to 4 MiB of freed heap and serve buffers of
 * this size from the heap. Done once per process, by the first tunnel.
 */
static void
tunnel_tune_malloc(void)
{
	static bool	 done;

	if (done)
		return;
	done = true;
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 4 * 1024 * 1024);
}

struct tunnel *
tunnel_new(struct event_base *base, struct bufferevent *bev,
    enum tunnel_role role, const struct tunnel_limits *lim,
    const struct tunnel_callbacks *cb, void *arg, const char *name)
{
	struct tunnel	*t;
	struct timeval	 tv;

	tunnel_tune_malloc();
	t = xcalloc(1, sizeof(*t));
	t->base = base;
	t->role = role;
	t->lim = *lim;
	t->cb = *cb;
	t->arg = arg;
	t->notify = true;
	t->rtt_ms = -1;
	t->last_recv = dial_now_ms();
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->h2 = session_new(t);
	if (t->h2 == NULL || session_settings(t) != 0) {
		if (t->h2 != NULL)
			nghttp2_session_del(t->h2);
		bufferevent_free(bev);
		free(t);
		return NULL;
	}
	t->io = tlsio_new(base, bev, TUNNEL_OUT_LOW, tunnel_io_cb, t);
	if (t->io == NULL) {
		nghttp2_session_del(t->h2);
		free(t);
		return NULL;
	}
	tlsio_set_lean(t->io, true);	/* no stream yet */
	t->send_ev = event_new(base, -1, 0, send_ev_cb, t);
	t->close_ev = event_new(base, -1, 0, close_cb, t);
	t->ping_ev = event_new(base, -1, EV_PERSIST, ping_cb, t);
	tv.tv_sec = lim->ping_interval_ms / 1000;
	tv.tv_usec = (lim->ping_interval_ms % 1000) * 1000;
	event_add(t->ping_ev, &tv);
	tunnel_schedule_send(t);
	return t;
}

void
tunnel_free(struct tunnel *t)
{
	if (t == NULL)
		return;
	t->notify = false;
	tunnel_teardown(t);
}

static void
close_soon(struct tunnel *t)
{
	struct timeval	 tv = { 0, TUNNEL_CLOSE_GRACE_MS * 1000 };

	/* close_cb runs when the output drains (tls_write_cb) or at the latest now+grace. */
	event_add(t->close_ev, &tv);
}

void
tunnel_shutdown(struct tunnel *t, const char *why)
{
	size_t	 len = strlen(why);

	if (t->dead)
		return;
	nghttp2_submit_goaway(t->h2, NGHTTP2_FLAG_NONE,
	    nghttp2_session_get_last_proc_stream_id(t->h2), NGHTTP2_NO_ERROR,
	    (const uint8_t *)why, len > 200 ? 200 : len);
	t->goaway_sent = true;
	t->draining = true;
	nghttp2_session_send(t->h2);
	tlsio_flush(t->io);
	snprintf(t->why, sizeof(t->why), "%s", why);
	t->dead = true;
	close_soon(t);
	if (tlsio_queued(t->io) == 0)
		event_active(t->close_ev, EV_TIMEOUT, 0);
}

static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel	*t = arg;

	(void)fd;
	(void)what;
	if (t->dead)
		return;
	nghttp2_submit_goaway(t->h2, NGHTTP2_FLAG_NONE,
	    nghttp2_session_get_last_proc_stream_id(t->h2), NGHTTP2_NO_ERROR,
	    (const uint8_t *)"draining", 8);
	t->goaway_sent = true;
	tunnel_send_now(t);
}

void
tunnel_drain(struct tunnel *t)
{
	struct timeval	 tv = { TUNNEL_DRAIN_NOTICE_MS / 1000,
	    (TUNNEL_DRAIN_NOTICE_MS % 1000) * 1000 };

	if (t->dead || t->draining)
		return;
	t->draining = true;
	nghttp2_submit_shutdown_notice(t->h2);
	tunnel_schedule_send(t);
	t->drain_ev = event_new(t->base, -1, 0, drain_cb, t);
	event_add(t->drain_ev, &tv);
}

/*
 * The cloud's own questions (GET /v1/info, /v1/check) are not streams a
 * drain waits for: they end now (RST_STREAM), their callers hearing status
 * 0. A connector's connectivity check tests the cloud's own listener, which
 * a stopping cloud no longer serves: left running, it held every drain of
 * an idle cloud for the check's 5 s step timeout (docs/reliability.md).
 * Restarts from the head: a callback may end other streams. One whose
 * callback already ran (info_cb NULL) is being finished by its caller.
 */
static void
tunnel_end_requests(struct tunnel *t)
{
	struct tunnel_stream	*s;

	while (!t->dead) {
		for (s = LIST_FIRST(&t->streams); s != NULL && (!s->info ||
		    s->info_cb == NULL); s = LIST_NEXT(s, entry))
			;
		if (s == NULL)
			break;
		info_finish(s, 0);
		stream_abort(s, NGHTTP2_CANCEL);
	}
}

void
tunnel_goaway(struct tunnel *t, const char *why)
{
	size_t	 len = strlen(why);

	if (t->dead || t->goaway_sent)
		return;
	nghttp2_submit_goaway(t->h2, NGHTTP2_FLAG_NONE,
	    nghttp2_session_get_last_proc_stream_id(t->h2), NGHTTP2_NO_ERROR,
	    (const uint8_t *)why, len > 200 ? 200 : len);
	t->goaway_sent = true;
	t->draining = true;
	snprintf(t->why, sizeof(t->why), "%s", why);
	tunnel_end_requests(t);
	tunnel_schedule_send(t);
}

void
tunnel_set_info(struct tunnel *t, const char *json)
{
	free(t->info);
	t->info = xstrdup(json);
}

int
tunnel_request(struct tunnel *t, const char *path, int timeout_ms,
    tunnel_reply_cb *cb, void *arg)
{
	return tunnel_request_for(t, NULL, path, timeout_ms, cb, arg);
}

int
tunnel_request_for(struct tunnel *t, const char *connector, const char *path,
    int timeout_ms, tunnel_reply_cb *cb, void *arg)
{
	struct tunnel_stream	*s;
	nghttp2_nv		 nv[5] = {
		{ (uint8_t *)":method", (uint8_t *)"GET", 7, 3, 0 },
		{ (uint8_t *)":scheme", (uint8_t *)"https", 7, 5, 0 },
		{ (uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0 },
		{ (uint8_t *)":authority", (uint8_t *)"connector", 10, 9, 0 },
		{ (uint8_t *)"uplink-connector", (uint8_t *)"", 16, 0, 0 },
	};
	size_t			 nnv = 4;
	struct timeval		 tv;
	int32_t			 id;

	if (t->role != TUNNEL_CLOUD || t->dead || t->draining ||
	    strlen(path) > TUNNEL_PATH_MAX || path[0] != '/' ||
	    (connector != NULL && strlen(connector) > TUNNEL_SITE_MAX))
		return -1;
	if (connector != NULL && connector[0] != '\0') {
		nv[4].value = (uint8_t *)connector;
		nv[4].valuelen = strlen(connector);
		nnv = 5;
	}
	if (timeout_ms <= 0)
		timeout_ms = t->lim.connect_timeout_ms;
	s = stream_new(t);
	s->info = true;
	s->info_cb = cb;
	s->arg = arg;
	snprintf(s->authority, sizeof(s->authority), "GET %s", path);
	id = nghttp2_submit_request(t->h2, NULL, nv, nnv, NULL, s);
	if (id < 0) {
		s->info_cb = NULL;
		stream_free(s);
		return -1;
	}
	s->id = id;
	snprintf(s->name, sizeof(s->name), "%s/s%d", t->name, (int)id);
	s->timer = evtimer_new(t->base, stream_timeout_cb, s);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(s->timer, &tv);
	tunnel_schedule_send(t);
	return 0;
}

void
tunnel_stream_reply(struct tunnel_stream *s, int status, const char *json)
{
	char	 code[4];

	if (status < 100 || status > 599)
		status = 500;
	snprintf(code, sizeof(code), "%d", status);
	s->cb = NULL;
	stream_reply(s, code, json);
}

bool
tunnel_usable(const struct tunnel *t)
{
	return !t->dead && !t->draining && t->nstreams < t->lim.max_streams &&
	    t->npending < t->lim.pending_connects;
}

struct tunnel_stream *
tunnel_open(struct tunnel *t, const char *host, uint16_t port,
    tunnel_stream_cb *cb, void *arg)
{
	return tunnel_open_for(t, NULL, NULL, host, port, cb, arg);
}

struct tunnel_stream *
tunnel_open_for(struct tunnel *t, const char *site, const char *connector,
    const char *host, uint16_t port, tunnel_stream_cb *cb, void *arg)
{
	struct tunnel_stream	*s;
	nghttp2_data_provider	 prd = { .read_callback = h2_data_read };
	nghttp2_nv		 nv[4];
	size_t			 nnv = 2;
	struct timeval		 tv;
	int32_t			 id;

	if (t->role != TUNNEL_CLOUD || !tunnel_usable(t) ||
	    (site != NULL && strlen(site) > TUNNEL_SITE_MAX) ||
	    (connector != NULL && strlen(connector) > TUNNEL_SITE_MAX))
		return NULL;
	s = stream_new(t);
	if (site != NULL)
		snprintf(s->site, sizeof(s->site), "%s", site);
	if (connector != NULL)
		snprintf(s->connector, sizeof(s->connector), "%s", connector);
	s->cb = cb;
	s->arg = arg;
	hostport_format(s->authority, sizeof(s->authority), host, port);
	snprintf(s->method, sizeof(s->method), "CONNECT");
	nv[0] = (nghttp2_nv){ (uint8_t *)":method", (uint8_t *)s->method, 7,
	    7, NGHTTP2_NV_FLAG_NONE };
	nv[1] = (nghttp2_nv){ (uint8_t *)":authority",
	    (uint8_t *)s->authority, 10, strlen(s->authority),
	    NGHTTP2_NV_FLAG_NONE };
	if (s->site[0] != '\0')
		nv[nnv++] = (nghttp2_nv){ (uint8_t *)"uplink-site",
		    (uint8_t *)s->site, 11, strlen(s->site),
		    NGHTTP2_NV_FLAG_NONE };
	if (s->connector[0] != '\0')
		nv[nnv++] = (nghttp2_nv){ (uint8_t *)"uplink-connector",
		    (uint8_t *)s->connector, 16, strlen(s->connector),
		    NGHTTP2_NV_FLAG_NONE };
	id = nghttp2_submit_request(t->h2, NULL, nv, nnv, &prd, s);
	if (id < 0) {
		s->closed = true;
		t->nstreams--;
		tlsio_set_lean(t->io, t->nstreams == 0);
		t->npending--;
		stream_free(s);
		return NULL;
	}
	s->id = id;
	snprintf(s->name, sizeof(s->name), "%s/s%d", t->name, (int)id);
	s->timer = evtimer_new(t->base, stream_timeout_cb, s);
	tv.tv_sec = t->lim.connect_timeout_ms / 1000;
	tv.tv_usec = (t->lim.connect_timeout_ms % 1000) * 1000;
	evtimer_add(s->timer, &tv);
	tunnel_schedule_send(t);
	return s;
}

void
tunnel_stream_set_cb(struct tunnel_stream *s, tunnel_stream_cb *cb, void *arg)
{
	s->cb = cb;
	s->arg = arg;
}

void
tunnel_stream_cancel(struct tunnel_stream *s)
{
	s->cb = NULL;
	stream_abort(s, NGHTTP2_CANCEL);
}

void
tunnel_stream_accept(struct tunnel_stream *s, struct bufferevent *bev)
{
	struct tunnel		*t = s->t;
	nghttp2_data_provider	 prd = { .read_callback = h2_data_read };
	nghttp2_nv		 nv = { (uint8_t *)":status", (uint8_t *)"200",
	    7, 3, NGHTTP2_NV_FLAG_NONE };

	s->cb = NULL;
	if (s->closed) {
		bufferevent_free(bev);
		stream_free(s);
		return;
	}
	s->answered = true;
	t->npending--;
	nghttp2_submit_response(t->h2, s->id, &nv, 1, &prd);
	tunnel_stream_bind(s, bev);
}

/* One side of a join: s sends what its mate receives. */
static void
join_half(struct tunnel_stream *s, struct tunnel_stream *m)
{
	s->mate = m;
	s->joined = true;
	s->bound = true;
	s->in = evbuffer_new();
	if (m->early != NULL) {
		evbuffer_add_buffer(s->in, m->early);
		evbuffer_free(m->early);
		m->early = NULL;
	}
	if (m->remote_eof)
		s->local_eof = true;
}

void
tunnel_stream_join(struct tunnel_stream *a, struct tunnel_stream *b)
{
	struct tunnel		*t = a->t;
	nghttp2_data_provider	 prd = { .read_callback = h2_data_read };
	nghttp2_nv		 nv = { (uint8_t *)":status", (uint8_t *)"200",
	    7, 3, NGHTTP2_NV_FLAG_NONE };

	a->cb = NULL;
	/* b, left unbound, is reset by response_ready() after its callback. */
	if (a->closed) {
		stream_free(a);
		return;
	}
	join_half(a, b);
	join_half(b, a);
	a->answered = true;
	t->npending--;
	nghttp2_submit_response(t->h2, a->id, &nv, 1, &prd);
	tunnel_schedule_send(t);
	if (!b->closed) {
		b->deferred = false;
		nghttp2_session_resume_data(b->t->h2, b->id);
		tunnel_schedule_send(b->t);
	}
}

void
tunnel_stream_refuse(struct tunnel_stream *s, int status, const char *code,
    const char *reason)
{
	struct tunnel	*t = s->t;
	char		 st[4];
	nghttp2_nv	 nv[3];

	s->cb = NULL;
	if (s->closed) {
		stream_free(s);
		return;
	}
	log_info("%s %s: refused: %d %s: %s", s->name, s->authority, status,
	    code, reason);
	snprintf(st, sizeof(st), "%03d", status % 1000);
	nv[0] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)st, 7, 3,
	    NGHTTP2_NV_FLAG_NONE };
	nv[1] = (nghttp2_nv){ (uint8_t *)"uplink-error", (uint8_t *)code, 12,
	    strlen(code), NGHTTP2_NV_FLAG_NONE };
	nv[2] = (nghttp2_nv){ (uint8_t *)"uplink-reason", (uint8_t *)reason,
	    13, strnlen(reason, TUNNEL_REASON_MAX), NGHTTP2_NV_FLAG_NONE };
	s->answered = true;
	t->npending--;
	/* The response ends our side; the cloud resets the rest. */
	nghttp2_submit_response(t->h2, s->id, nv, 3, NULL);
	tunnel_schedule_send(t);
	stream_free(s);
}

void
tunnel_stats(const struct tunnel *t, struct tunnel_stats *st)
{
	st->streams = t->nstreams - t->ninternal;
	st->pending = t->npending;
	st->streams_total = t->total;
	st->bytes_in = t->bytes_in;
	st->bytes_out = t->bytes_out;
	st->rtt_ms = t->rtt_ms;
	st->draining = t->draining;
}

void
tunnel_stream_on_gone(struct tunnel_stream *s, void (*gone)(void *),
    void *arg)
{
	s->gone = gone;
	s->gone_arg = arg;
}

void
tunnel_stream_close(struct tunnel_stream *s, const char *why)
{
	log_info("%s %s: closed: %s", s->name, s->authority, why);
	s->cb = NULL;
	stream_abort(s, NGHTTP2_CANCEL);
}

void
tunnel_stream_set_internal(struct tunnel_stream *s)
{
	if (s->internal || s->closed)
		return;
	s->internal = true;
	s->t->ninternal++;
}
