#include <sys/queue.h>
#include <sys/socket.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <jansson.h>
#include <sodium.h>

#include "input.h"
#include "log.h"
#include "logring.h"
#include "logship.h"
#include "xmalloc.h"

/*
 * A stream of log lines to the cloud. Each stream is bound to one end of
 * a socketpair, so the tunnel treats it as any other stream: its flow
 * control stops us when the cloud reads slowly (we write only while less
 * than LOGSHIP_WATER bytes wait in our end), and a closed tunnel closes
 * the pair, which ends the session. Lines logged meanwhile wake the
 * sessions through one event, never from inside the log call itself.
 */

#define LOGSHIP_WATER	(64 * 1024)

struct ls_session {
	LIST_ENTRY(ls_session)	 entry;
	struct bufferevent	*bev;
	uint64_t		 after;
	bool			 started;
};

static struct {
	struct logring		*ring;
	char			 boot[33];
	struct event		*kick;
	LIST_HEAD(, ls_session)	 sessions;
	int			 n;
	bool			 draining;
} ls;

static const char *
ls_level(int prio)
{
	if (prio <= LOG_ERR)
		return "error";
	if (prio <= LOG_NOTICE)
		return "warn";
	return prio == LOG_INFO ? "info" : "debug";
}

static int64_t
ls_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
ls_sink(void *arg, int prio, const char *line)
{
	(void)arg;
	if (ls.ring == NULL)
		return;
	logring_add(ls.ring, prio, ls_now_ms(), line);
	if (ls.n > 0 && ls.kick != NULL)
		event_active(ls.kick, EV_TIMEOUT, 1);
}

static void
ls_close(struct ls_session *ss)
{
	LIST_REMOVE(ss, entry);
	ls.n--;
	bufferevent_free(ss->bev);
	free(ss);
}

/* Writes one JSON object and a newline. */
static void
ls_put(struct ls_session *ss, json_t *j)
{
	char	*text;

	if (j == NULL)
		return;
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (text == NULL)
		return;
	bufferevent_write(ss->bev, text, strlen(text));
	bufferevent_write(ss->bev, "\n", 1);
	free(text);
}

/* Sends what the ring has after ss->after, while the stream takes it. */
static void
ls_fill(struct ls_session *ss)
{
	struct evbuffer		*out = bufferevent_get_output(ss->bev);
	struct logring_line	 l;
	char			 text[LOGRING_MSG_MAX + 1];
	uint64_t		 gap;
	int			 found;

	while (evbuffer_get_length(out) < LOGSHIP_WATER) {
		found = logring_next(ls.ring, ss->after, &l, &gap);
		if (gap > 0) {
			ss->after += gap;
			ls_put(ss, json_pack("{s:I, s:I, s:I}", "seq",
			    (json_int_t)ss->after, "time",
			    (json_int_t)ls_now_ms(), "gap", (json_int_t)gap));
		}
		if (!found)
			break;
		ss->after = l.seq;
		/* JSON takes UTF-8 only: stray bytes become '?'. */
		snprintf(text, sizeof(text), "%s", l.msg);
		input_utf8_clean(text);
		ls_put(ss, json_pack("{s:I, s:I, s:s, s:s}", "seq",
		    (json_int_t)l.seq, "time", (json_int_t)l.ms, "level",
		    ls_level(l.level), "msg", text));
	}
}

/* The request line: {"boot": B, "after": N}; then the header and lines. */
static void
ls_read_cb(struct bufferevent *bev, void *arg)
{
	struct ls_session	*ss = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	const char		*boot;
	char			*line;
	size_t			 n;
	json_t			*j;

	if (ss->started) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > LOGSHIP_REQ_MAX) {
			log_info("logs: the cloud's request is longer than %d "
			    "bytes; closing the stream", LOGSHIP_REQ_MAX);
			ls_close(ss);
		}
		return;
	}
	j = json_loads(line, 0, NULL);
	free(line);
	boot = json_string_value(json_object_get(j, "boot"));
	if (boot != NULL && strcmp(boot, ls.boot) == 0)
		ss->after = (uint64_t)json_integer_value(json_object_get(j,
		    "after"));
	json_decref(j);
	if (ss->after > logring_last(ls.ring))
		ss->after = 0;
	ss->started = true;
	ls_put(ss, json_pack("{s:s, s:I, s:I}", "boot", ls.boot, "last",
	    (json_int_t)logring_last(ls.ring), "dropped",
	    (json_int_t)logring_dropped(ls.ring)));
	ls_fill(ss);
}

static void
ls_write_cb(struct bufferevent *bev, void *arg)
{
	struct ls_session	*ss = arg;

	(void)bev;
	if (ss->started)
		ls_fill(ss);
}

static void
ls_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		ls_close(arg);
}

static void
ls_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ls_session	*ss;

	(void)fd;
	(void)what;
	(void)arg;
	LIST_FOREACH(ss, &ls.sessions, entry)
		if (ss->started)
			ls_fill(ss);
}

void
logship_start(struct event_base *base, int lines)
{
	unsigned char	 id[16];

	ls.ring = logring_new((size_t)lines, LOGRING_BYTES);
	if (ls.ring == NULL)
		fatalx("out of memory");
	if (sodium_init() < 0)
		fatalx("libsodium cannot start");
	randombytes_buf(id, sizeof(id));
	sodium_bin2hex(ls.boot, sizeof(ls.boot), id, sizeof(id));
	ls.kick = event_new(base, -1, 0, ls_kick_cb, NULL);
	LIST_INIT(&ls.sessions);
	log_set_sink(ls_sink, NULL);
}

void
logship_request(struct event_base *base, struct tunnel_stream *s,
    uint16_t port)
{
	struct ls_session	*ss;
	struct bufferevent	*near, *far;
	int			 sv[2];

	if (ls.ring == NULL || port != LOGSHIP_PORT) {
		tunnel_stream_refuse(s, 403, "not-allowed", "the connector "
		    "serves its log only at " LOGSHIP_HOST ":1");
		return;
	}
	if (ls.draining) {
		tunnel_stream_refuse(s, 503, "draining", "the connector is "
		    "stopping");
		return;
	}
	if (ls.n >= LOGSHIP_SESSIONS) {
		tunnel_stream_refuse(s, 503, "busy", "the connector already "
		    "streams its log to the cloud");
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) != 0) {
		tunnel_stream_refuse(s, 503, "busy", "no descriptor for the "
		    "log stream");
		return;
	}
	far = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	near = bufferevent_socket_new(base, sv[1], BEV_OPT_CLOSE_ON_FREE);
	if (far == NULL || near == NULL)
		fatalx("out of memory");
	ss = xcalloc(1, sizeof(*ss));
	ss->bev = near;
	LIST_INSERT_HEAD(&ls.sessions, ss, entry);
	ls.n++;
	bufferevent_setcb(near, ls_read_cb, ls_write_cb, ls_event_cb, ss);
	bufferevent_setwatermark(near, EV_WRITE, LOGSHIP_WATER / 2, 0);
	bufferevent_enable(near, EV_READ | EV_WRITE);
	tunnel_stream_accept(s, far);
}

uint32_t
logship_streams(void)
{
	return (uint32_t)ls.n;
}

void
logship_drain(void)
{
	ls.draining = true;
	while (!LIST_EMPTY(&ls.sessions))
		ls_close(LIST_FIRST(&ls.sessions));
}

void
logship_stop(void)
{
	log_set_sink(NULL, NULL);
	logship_drain();
	if (ls.kick != NULL)
		event_free(ls.kick);
	ls.kick = NULL;
	logring_free(ls.ring);
	ls.ring = NULL;
}
