#include <sys/queue.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "daemon.h"
#include "duration.h"
#include "error.h"
#include "events.h"
#include "log.h"
#include "logs.h"
#include "router.h"
#include "store.h"
#include "xmalloc.h"

/*
 * One collector per connector that ever had a tunnel here: the stream it
 * reads (our end of a socketpair whose other end the tunnel stream is
 * bound to, so the tunnel's flow control applies end to end), where it
 * is in the connector's log (boot id and sequence number), its ingest
 * budget, and the lines not yet written. See logs.h.
 */

#define LOGS_BATCH		256		/* lines per transaction */
#define LOGS_BATCH_FIRST	8		/* rows allocated at first */
#define LOGS_FLUSH_MS		500		/* batches wait at most this */
#define LOGS_LINE_MAX		(16 * 1024)	/* a JSON line (2 KiB of text, escaped) */
#define LOGS_READ_MAX		(64 * 1024)	/* our end's read-ahead */
#define LOGS_RETRY_S		5		/* after a stream ended */
#define LOGS_REFUSED_S		300		/* after the connector said no */
#define LOGS_PAUSE_MS		100		/* over the cap: look again */
#define LOGS_PRUNE_MAX_S	10
#define LOGS_WARN_EVERY_S	60
#define LOGS_READ_X		10		/* read up to 10x the cap */
#define LOGS_BURST_S		10		/* the cap's bucket holds 10 s */

struct lc {
	struct logs		*lg;
	LIST_ENTRY(lc)		 entry;
	char			 connector[STORE_ID_MAX + 1];
	char			 boot[STORE_LOG_BOOT_MAX + 1];
	int64_t			 seq;		/* the last line taken */
	bool			 loaded;	/* boot and seq read */
	bool			 header;	/* this stream's first line seen */
	bool			 paused;	/* over the ingest cap */
	bool			 dirty;		/* stored since the last prune */
	struct tunnel_stream	*s;		/* being opened */
	struct tunnel_stream	*bound;		/* answered, being read */
	struct bufferevent	*bev;		/* being read */
	struct event		*retry, *resume;
	double			 tok_lines, tok_bytes;	/* the ingest cap */
	double			 read_lines, read_bytes;	/* LOGS_READ_X of it */
	int64_t			 refill_ms;
	int64_t			 capped;	/* dropped by the cap, not reported */
	struct store_log	*batch;
	size_t			 nbatch, cap;	/* rows taken, allocated */
};

struct waiter {
	LIST_ENTRY(waiter)	 entry;
	struct logs		*lg;
	char			 connector[STORE_ID_MAX + 1];
	logs_wait_fn		*fn;
	void			*arg;
	struct event		*ev;
};

struct logs {
	struct cloud		*c;
	LIST_HEAD(, lc)		 lcs;
	LIST_HEAD(, waiter)	 waiters;
	int			 nwaiters;
	struct event		*flush, *prune;
	bool			 draining;
	int64_t			 warned;	/* last store failure logged */
};

static const struct {
	const char	*name;
	int		 level;
} logs_levels[] = {
	{ "error", LOG_ERR }, { "warn", LOG_WARNING }, { "warning", LOG_WARNING },
	{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

int
logs_level_parse(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(logs_levels) / sizeof(logs_levels[0]); i++)
		if (strcasecmp(name, logs_levels[i].name) == 0)
			return logs_levels[i].level;
	return -1;
}

const char *
logs_level_name(int level)
{
	if (level <= LOG_ERR)
		return "error";
	if (level <= LOG_NOTICE)
		return "warn";
	return level == LOG_INFO ? "info" : "debug";
}

int
logs_since_parse(const char *s, int64_t now, int64_t *ms, char *why,
    size_t whylen)
{
	struct tm	 tm;
	int64_t		 secs;
	char		*end, tail;
	long long	 n;

	n = strtoll(s, &end, 10);
	if (*s >= '0' && *s <= '9' && *end == '\0' && n >= 0 &&
	    n < INT64_MAX / 1000) {
		*ms = n * 1000;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &tail) == 7 &&
	    tail == 'Z' && s[19] == 'Z' && s[20] == '\0') {
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		*ms = (int64_t)timegm(&tm) * 1000;
		return 0;
	}
	if (duration_parse(s, NULL, &secs, why, whylen) == UPLINK_OK) {
		*ms = (now - secs) * 1000;
		return 0;
	}
	snprintf(why, whylen, "\"%.40s\" is not a time: give Unix seconds, "
	    "a UTC time such as 2026-12-07T01:00:00Z, or how long ago such "
	    "as 15m, 2h or 7d", s);
	return -1;
}

static int64_t
logs_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- live tails ---- */

static void
waiter_done(struct waiter *w)
{
	LIST_REMOVE(w, entry);
	w->lg->nwaiters--;
	event_free(w->ev);
	w->fn(w->arg);
	free(w);
}

static void
waiter_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	waiter_done(arg);
}

/* Wakes whoever waits for lines of connector (NULL: everyone). */
static void
logs_wake(struct logs *lg, const char *connector)
{
	struct waiter	*w, *next;

	for (w = LIST_FIRST(&lg->waiters); w != NULL; w = next) {
		next = LIST_NEXT(w, entry);
		if (connector == NULL || strcmp(w->connector, connector) == 0)
			waiter_done(w);
	}
}

int
logs_wait(struct cloud *c, const char *connector, int timeout_ms,
    logs_wait_fn *fn, void *arg)
{
	struct logs	*lg = c->logs;
	struct waiter	*w;
	struct timeval	 tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	if (lg == NULL || lg->nwaiters >= LOGS_WAITERS_MAX)
		return -1;
	w = xcalloc(1, sizeof(*w));
	w->lg = lg;
	snprintf(w->connector, sizeof(w->connector), "%s", connector);
	w->fn = fn;
	w->arg = arg;
	w->ev = evtimer_new(c->base, waiter_timeout_cb, w);
	evtimer_add(w->ev, &tv);
	LIST_INSERT_HEAD(&lg->waiters, w, entry);
	lg->nwaiters++;
	return 0;
}

/* ---- collecting ---- */

static void lc_capped_row(struct lc *);

static void
lc_flush(struct lc *l)
{
	struct logs	*lg = l->lg;
	char		 err[256];
	int64_t		 now = time(NULL);

	if (l->capped > 0 && l->nbatch < LOGS_BATCH)
		lc_capped_row(l);
	if (l->nbatch == 0)
		return;
	if (store_logs_add(lg->c->dd.st, l->batch, l->nbatch, err,
	    sizeof(err)) != UPLINK_OK) {
		if (now - lg->warned >= LOGS_WARN_EVERY_S) {
			lg->warned = now;
			log_warnx("connector %s: %zu log lines not stored: %s",
			    l->connector, l->nbatch, err);
		}
	} else
		l->dirty = true;
	l->nbatch = 0;
	/*
	 * A line is up to STORE_LOG_MSG_MAX bytes: a full batch is over half
	 * a megabyte, too much to keep for each of thousands of connectors
	 * between bursts. Only the first few rows stay.
	 */
	if (l->cap > LOGS_BATCH_FIRST) {
		free(l->batch);
		l->batch = NULL;
		l->cap = 0;
	}
	logs_wake(lg, l->connector);
}

static void
lc_retry_in(struct lc *l, int secs)
{
	struct timeval	 tv = { secs, 0 };

	if (!l->lg->draining)
		evtimer_add(l->retry, &tv);
}

/* The one place a log stream ends; why is logged when not NULL. */
/* The bound stream is gone (ended, reset, its tunnel closed). */
static void
lc_gone(void *arg)
{
	struct lc	*l = arg;

	l->bound = NULL;
}

/*
 * Resets the bound stream (RST_STREAM) rather than half-closing it, which
 * would wait for the connector's end: a stopping cloud must not wait on a
 * frozen connector's log for its tunnel to close.
 */
static void
lc_reset(struct lc *l, const char *why)
{
	struct tunnel_stream	*s = l->bound;

	if (s == NULL)
		return;
	l->bound = NULL;
	tunnel_stream_on_gone(s, NULL, NULL);
	tunnel_stream_close(s, why);
}

static void
lc_end(struct lc *l, const char *why, int retry_secs)
{
	if (why != NULL)
		log_info("connector %s: log stream ended: %s", l->connector,
		    why);
	lc_flush(l);
	if (l->bev != NULL)
		bufferevent_free(l->bev);
	l->bev = NULL;
	l->paused = false;
	evtimer_del(l->resume);
	if (retry_secs >= 0)
		lc_retry_in(l, retry_secs);
}

static struct store_log *
lc_row(struct lc *l, int64_t seq, int64_t at_ms, int level)
{
	struct store_log	*row;

	if (l->nbatch == LOGS_BATCH)
		lc_flush(l);
	if (l->nbatch == l->cap) {
		l->cap = l->cap == 0 ? LOGS_BATCH_FIRST : l->cap * 2;
		l->batch = xrealloc(l->batch, l->cap * sizeof(*l->batch));
	}
	row = &l->batch[l->nbatch++];
	memset(row, 0, offsetof(struct store_log, msg) + 1);
	snprintf(row->connector_id, sizeof(row->connector_id), "%s",
	    l->connector);
	snprintf(row->boot, sizeof(row->boot), "%s", l->boot);
	row->seq = seq;
	row->at_ms = at_ms;
	row->level = level;
	return row;
}

/*
 * Two token buckets a connector refills at its rate: the ingest cap
 * (lines stored; the bucket holds LOGS_BURST_S seconds' worth, so a
 * connector catching up after the cloud was away is not cut short) and
 * ten times it (lines read; one second's worth). Lines over the first
 * are dropped and counted; over the second,
 * reading stops for a while and the stream's flow control holds the
 * connector, so a connector logging without end costs the cloud a
 * bounded amount of reading too.
 */
static void
lc_refill(struct lc *l)
{
	const struct cloud_config	*cfg = &l->lg->c->cfg;
	int64_t				 now = logs_now_ms();
	double				 dt = (double)(now - l->refill_ms) / 1000;
	double				 lines = cfg->logs_lines_per_sec;
	double				 bytes = (double)cfg->logs_bytes_per_sec;

	l->refill_ms = now;
	l->tok_lines = l->tok_lines + dt * lines > lines * LOGS_BURST_S ?
	    lines * LOGS_BURST_S : l->tok_lines + dt * lines;
	l->tok_bytes = l->tok_bytes + dt * bytes > bytes * LOGS_BURST_S ?
	    bytes * LOGS_BURST_S : l->tok_bytes + dt * bytes;
	lines *= LOGS_READ_X;
	bytes *= LOGS_READ_X;
	l->read_lines = l->read_lines + dt * lines > lines ? lines :
	    l->read_lines + dt * lines;
	l->read_bytes = l->read_bytes + dt * bytes > bytes ? bytes :
	    l->read_bytes + dt * bytes;
}

/* Whether a line of len bytes may be stored (and takes its tokens). */
static bool
lc_take(struct lc *l, size_t len)
{
	if (l->tok_lines < 1 || l->tok_bytes <= 0)
		return false;
	l->tok_lines -= 1;
	l->tok_bytes -= (double)len;
	return true;
}

/* The row that says how many lines the cap dropped. */
static void
lc_capped_row(struct lc *l)
{
	struct store_log	*row;
	int64_t			 n = l->capped;

	l->capped = 0;
	row = lc_row(l, l->seq, logs_now_ms(), LOG_WARNING);
	row->dropped = n;
	snprintf(row->msg, sizeof(row->msg), "uplink: %lld log line%s "
	    "dropped by the cloud: the connector logged faster than its "
	    "ingest cap ([logs] lines_per_second = %u, bytes_per_second = "
	    "%zu in %s)", (long long)n, n == 1 ? "" : "s",
	    l->lg->c->cfg.logs_lines_per_sec, l->lg->c->cfg.logs_bytes_per_sec,
	    l->lg->c->cfg.path);
}

/* One JSON line from the connector: its header, a line or a gap. */
static void
lc_line(struct lc *l, const char *text)
{
	struct cloud		*c = l->lg->c;
	struct store_log	*row;
	json_t			*j = json_loads(text, 0, NULL);
	const char		*boot, *msg, *level;
	int64_t			 seq, gap, at;
	int			 prio;

	if (!json_is_object(j)) {
		json_decref(j);
		lc_end(l, "the connector sent a line that is not a JSON object",
		    LOGS_REFUSED_S);
		return;
	}
	boot = json_string_value(json_object_get(j, "boot"));
	if (!l->header) {
		l->header = true;
		if (boot != NULL && strcmp(boot, l->boot) != 0) {
			/* Another process: its numbers start again. */
			snprintf(l->boot, sizeof(l->boot), "%s", boot);
			l->seq = 0;
		}
		json_decref(j);
		return;
	}
	seq = json_integer_value(json_object_get(j, "seq"));
	gap = json_integer_value(json_object_get(j, "gap"));
	at = json_integer_value(json_object_get(j, "time"));
	msg = json_string_value(json_object_get(j, "msg"));
	level = json_string_value(json_object_get(j, "level"));
	if (seq <= l->seq || at <= 0 || (gap <= 0 && msg == NULL)) {
		json_decref(j);
		return;		/* already taken, or not a line */
	}
	if (!lc_take(l, strlen(text))) {
		l->seq = seq;
		l->capped++;
		json_decref(j);
		return;
	}
	/* Numbered as the last line it dropped: numbers stay unique. */
	if (l->capped > 0)
		lc_capped_row(l);
	l->seq = seq;
	if (gap > 0) {
		row = lc_row(l, seq, at, LOG_WARNING);
		row->dropped = gap;
		snprintf(row->msg, sizeof(row->msg), "uplink: %lld log line%s "
		    "lost: the connector's buffer ([run] log_buffer) overflowed "
		    "while the cloud was away or took its lines slower than "
		    "they came ([logs] lines_per_second, bytes_per_second in "
		    "%s)", (long long)gap, gap == 1 ? "" : "s", c->cfg.path);
	} else {
		prio = level != NULL ? logs_level_parse(level) : -1;
		row = lc_row(l, seq, at, prio < 0 ? LOG_INFO : prio);
		snprintf(row->msg, sizeof(row->msg), "%s", msg);
	}
	json_decref(j);
}

static void
lc_read_cb(struct bufferevent *bev, void *arg)
{
	struct lc	*l = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct timeval	 tv = { 0, LOGS_PAUSE_MS * 1000 };
	char		*line;
	size_t		 n;

	while (l->bev != NULL && !l->paused) {
		lc_refill(l);
		if (l->read_lines < 1 || l->read_bytes <= 0) {
			/* Stop reading: flow control holds the connector. */
			l->paused = true;
			bufferevent_disable(l->bev, EV_READ);
			evtimer_add(l->resume, &tv);
			return;
		}
		line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > LOGS_LINE_MAX)
				lc_end(l, "a line longer than 16 KiB",
				    LOGS_REFUSED_S);
			return;
		}
		l->read_lines -= 1;
		l->read_bytes -= (double)n;
		lc_line(l, line);
		free(line);
	}
}

static void
lc_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lc	*l = arg;

	(void)fd;
	(void)what;
	if (l->bev == NULL)
		return;
	l->paused = false;
	bufferevent_enable(l->bev, EV_READ);
	lc_read_cb(l->bev, l);
}

static void
lc_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct lc	*l = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		/* What is left in our end first. */
		if (l->paused) {
			l->paused = false;
			lc_read_cb(l->bev, l);
		}
		log_debug("connector %s: log stream closed", l->connector);
		lc_end(l, NULL, LOGS_RETRY_S);
	}
}

static void
lc_open_cb(void *arg, struct tunnel_stream *s, int status, const char *code,
    const char *reason)
{
	struct lc	*l = arg;
	char		 req[128];
	int		 sv[2];
	struct bufferevent *far;

	l->s = NULL;
	if (status != 200) {
		log_info("connector %s: its log cannot be collected now: %d "
		    "%s: %s", l->connector, status, code ? code : "", reason ?
		    reason : "");
		lc_retry_in(l, status == 0 || status == 503 ? LOGS_RETRY_S :
		    LOGS_REFUSED_S);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) != 0) {
		log_warn("connector %s: log stream: socketpair", l->connector);
		tunnel_stream_close(s, "no descriptor for the log stream");
		lc_retry_in(l, LOGS_RETRY_S);
		return;
	}
	far = bufferevent_socket_new(l->lg->c->base, sv[0],
	    BEV_OPT_CLOSE_ON_FREE);
	l->bev = bufferevent_socket_new(l->lg->c->base, sv[1],
	    BEV_OPT_CLOSE_ON_FREE);
	if (far == NULL || l->bev == NULL)
		fatalx("out of memory");
	tunnel_stream_bind(s, far);
	l->bound = s;
	tunnel_stream_on_gone(s, lc_gone, l);
	l->header = false;
	l->refill_ms = logs_now_ms();
	bufferevent_setcb(l->bev, lc_read_cb, NULL, lc_event_cb, l);
	bufferevent_setwatermark(l->bev, EV_READ, 0, LOGS_READ_MAX);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	snprintf(req, sizeof(req), "{\"boot\":\"%s\",\"after\":%lld}\n",
	    l->boot, (long long)l->seq);
	bufferevent_write(l->bev, req, strlen(req));
	log_debug("connector %s: collecting its log after %s/%lld",
	    l->connector, l->boot[0] ? l->boot : "-", (long long)l->seq);
}

static void
lc_open(struct lc *l)
{
	struct cloud	*c = l->lg->c;
	char		 err[256];

	if (l->lg->draining || l->s != NULL || l->bev != NULL)
		return;
	if (!l->loaded) {
		if (store_logs_last(c->dd.st, l->connector, l->boot, &l->seq,
		    err, sizeof(err)) != UPLINK_OK) {
			log_warnx("connector %s: cannot read where its log "
			    "stopped: %s", l->connector, err);
			lc_retry_in(l, LOGS_RETRY_S);
			return;
		}
		l->loaded = true;
	}
	/* NULL: no usable tunnel now; the next one up calls again. */
	l->s = router_open(c->router, l->connector, TUNNEL_LOGS_HOST,
	    TUNNEL_LOGS_PORT, lc_open_cb, l);
}

static void
lc_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	lc_open(arg);
}

static struct lc *
lc_get(struct logs *lg, const char *connector)
{
	struct lc	*l;

	LIST_FOREACH(l, &lg->lcs, entry)
		if (strcmp(l->connector, connector) == 0)
			return l;
	l = xcalloc(1, sizeof(*l));
	l->lg = lg;
	snprintf(l->connector, sizeof(l->connector), "%s", connector);
	l->retry = evtimer_new(lg->c->base, lc_retry_cb, l);
	l->resume = evtimer_new(lg->c->base, lc_resume_cb, l);
	l->tok_lines = (double)lg->c->cfg.logs_lines_per_sec * LOGS_BURST_S;
	l->tok_bytes = (double)lg->c->cfg.logs_bytes_per_sec * LOGS_BURST_S;
	l->read_lines = (double)lg->c->cfg.logs_lines_per_sec * LOGS_READ_X;
	l->read_bytes = (double)lg->c->cfg.logs_bytes_per_sec * LOGS_READ_X;
	l->refill_ms = logs_now_ms();
	LIST_INSERT_HEAD(&lg->lcs, l, entry);
	return l;
}

static void
lc_free(struct lc *l)
{
	LIST_REMOVE(l, entry);
	if (l->s != NULL)
		tunnel_stream_cancel(l->s);
	l->s = NULL;
	lc_reset(l, "the cloud is stopping");
	lc_end(l, NULL, -1);
	event_free(l->retry);
	event_free(l->resume);
	free(l->batch);
	free(l);
}

/* ---- the router's hooks ---- */

void
logs_tunnel_up(struct cloud *c, const char *connector, const char *tunnel,
    const char *peer)
{
	struct lc	*l;

	events_record(c, connector, "tunnel-up", "%s from %s", tunnel, peer);
	if (c->logs == NULL)
		return;
	l = lc_get(c->logs, connector);
	/* Not from inside the router's accept: a moment later. */
	if (l->s == NULL && l->bev == NULL)
		lc_retry_in(l, 0);
}

void
logs_tunnel_down(struct cloud *c, const char *connector, const char *tunnel,
    const char *why)
{
	events_record(c, connector, "tunnel-down", "%s: %s", tunnel, why);
}

void
logs_going_away(struct cloud *c, const char *connector, const char *tunnel,
    const char *why)
{
	struct lc	*l;

	events_record(c, connector, "going-away", "%s: %s", tunnel, why[0] ?
	    why : "the connector is going away");
	if (c->logs == NULL)
		return;
	/* Its drain waits for open streams: ours must not hold it. */
	LIST_FOREACH(l, &c->logs->lcs, entry)
		if (strcmp(l->connector, connector) == 0 && l->bev != NULL)
			lc_end(l, NULL, LOGS_RETRY_S);
}

/* ---- batches and retention ---- */

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct logs	*lg = arg;
	struct lc	*l;

	(void)fd;
	(void)what;
	LIST_FOREACH(l, &lg->lcs, entry)
		lc_flush(l);
}

static void
prune_cb(evutil_socket_t fd, short what, void *arg)
{
	struct logs			*lg = arg;
	const struct cloud_config	*cfg = &lg->c->cfg;
	struct lc			*l;
	int64_t				 n = 0, total = 0, now = time(NULL);
	char				 err[256];

	(void)fd;
	(void)what;
	if (store_logs_prune(lg->c->dd.st, (now - cfg->logs_retention) * 1000,
	    NULL, 0, &n, err, sizeof(err)) != UPLINK_OK)
		goto fail;
	total += n;
	LIST_FOREACH(l, &lg->lcs, entry) {
		if (!l->dirty)
			continue;
		l->dirty = false;
		if (store_logs_prune(lg->c->dd.st, 0, l->connector,
		    (int64_t)cfg->logs_max_bytes, &n, err, sizeof(err)) !=
		    UPLINK_OK)
			goto fail;
		total += n;
	}
	if (total > 0)
		log_debug("logs: %lld old lines deleted", (long long)total);
	return;
fail:
	if (now - lg->warned >= LOGS_WARN_EVERY_S) {
		lg->warned = now;
		log_warnx("logs: retention not applied now: %s", err);
	}
}

int
logs_start(struct cloud *c, char *err, size_t errlen)
{
	struct logs	*lg;
	struct timeval	 ftv = { 0, LOGS_FLUSH_MS * 1000 }, ptv = { 0, 0 };

	(void)err;
	(void)errlen;
	lg = xcalloc(1, sizeof(*lg));
	lg->c = c;
	LIST_INIT(&lg->lcs);
	LIST_INIT(&lg->waiters);
	ptv.tv_sec = c->cfg.logs_retention / 2;
	if (ptv.tv_sec < 1)
		ptv.tv_sec = 1;
	if (ptv.tv_sec > LOGS_PRUNE_MAX_S)
		ptv.tv_sec = LOGS_PRUNE_MAX_S;
	lg->flush = event_new(c->base, -1, EV_PERSIST, flush_cb, lg);
	lg->prune = event_new(c->base, -1, EV_PERSIST, prune_cb, lg);
	event_add(lg->flush, &ftv);
	event_add(lg->prune, &ptv);
	c->logs = lg;
	return 0;
}

void
logs_drain(struct cloud *c)
{
	struct logs	*lg = c->logs;
	struct lc	*l;

	if (lg == NULL)
		return;
	lg->draining = true;
	LIST_FOREACH(l, &lg->lcs, entry) {
		evtimer_del(l->retry);
		if (l->s != NULL)
			tunnel_stream_cancel(l->s);
		l->s = NULL;
		lc_reset(l, "the cloud is stopping");
		lc_end(l, NULL, -1);
	}
	logs_wake(lg, NULL);
}

void
logs_free(struct cloud *c)
{
	struct logs	*lg = c->logs;

	if (lg == NULL)
		return;
	lg->draining = true;
	while (!LIST_EMPTY(&lg->lcs))
		lc_free(LIST_FIRST(&lg->lcs));
	logs_wake(lg, NULL);
	event_free(lg->flush);
	event_free(lg->prune);
	free(lg);
	c->logs = NULL;
}
