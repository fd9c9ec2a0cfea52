#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "alertfmt.h"
#include "alerts.h"
#include "alertsig.h"
#include "buf.h"
#include "daemon.h"
#include "error.h"
#include "log.h"
#include "xmalloc.h"

/*
 * Alerts: the notifications cloud/notify.c opens and resolves, sent to
 * people through channels. The store decides what is due
 * (store_alert_due(): a raised notification held for the rule's time and
 * not sent yet, or a sent one resolved since) and who sends it
 * (store_alert_claim(): one row per rule and notification, so a condition
 * is sent once while it stays raised, and once resolved, by one instance,
 * however often the sweep sees it). A sweep every ALERTS_SWEEP_MS, and a
 * kick from notify_open(), look for what is due.
 *
 * Sending is libcurl's, through its multi-socket interface driven by the
 * daemon's libevent loop (curl's hiperfifo example): curl says which
 * sockets to watch (sock_cb) and when to wake it (timer_cb); libevent
 * calls curl_multi_socket_action() back. Nothing blocks the loop (curl
 * resolves names in its own thread). Each attempt is capped in time and
 * in the response it keeps; a failed attempt is retried after
 * alert_backoff() seconds, up to ALERT_ATTEMPTS_MAX, each attempt written
 * to the delivery log.
 */

#define ALERTS_SWEEP_MS		2000
#define ALERTS_DUE_BATCH	50
#define ALERTS_CONNECT_MS	10000L
#define ALERTS_ATTEMPT_MS	20000L	/* one attempt, all of it */
#define ALERTS_RESPONSE_MAX	(64 * 1024)	/* response bytes accepted */
#define ALERTS_RESPONSE_KEPT	512	/* of which quoted in an error */
/*
 * A pending delivery not updated for this long has nobody sending it (the
 * whole schedule, ALERT_ATTEMPTS_MAX attempts of at most
 * ALERTS_ATTEMPT_MS with alert_backoff() between them, is under 8
 * minutes): its instance stopped. Looked for every ALERTS_EXPIRE_EVERY.
 */
#define ALERTS_STALE_SECS	900
#define ALERTS_EXPIRE_EVERY	60

struct asend {
	struct alerts		*a;
	struct asend		*prev, *next;
	CURL			*easy;
	struct curl_slist	*hdrs, *rcpt;
	struct store_channel	 ch;
	struct store_delivery	 d;
	char			*payload;
	size_t			 paylen, sent;
	struct buf		 resp;
	size_t			 resp_total;
	char			 errbuf[CURL_ERROR_SIZE];
	char			 where[300];	/* the URL or relay, for errors */
	struct event		*retry;
	alerts_test_cb		 cb;
	void			*cb_arg;
};

struct alerts {
	struct cloud	*c;
	CURLM		*multi;
	struct event	*timer;		/* curl's timeout */
	struct event	*sweep;
	struct asend	*sends;		/* in flight or waiting to retry */
	int64_t		 expired;	/* last look for stale deliveries */
};

static void send_done(struct asend *s, CURLcode res);

/* ---- curl on libevent */

static void
check_multi(struct alerts *a)
{
	CURLMsg		*msg;
	struct asend	*s;
	int		 left;

	while ((msg = curl_multi_info_read(a->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		s = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &s);
		curl_multi_remove_handle(a->multi, msg->easy_handle);
		if (s != NULL)
			send_done(s, msg->data.result);
	}
}

static void
socket_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct alerts	*a = arg;
	int		 running, action;

	action = (what & EV_READ ? CURL_CSELECT_IN : 0) |
	    (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
	curl_multi_socket_action(a->multi, fd, action, &running);
	check_multi(a);
}

static void
timer_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct alerts	*a = arg;
	int		 running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(a->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_multi(a);
}

/* CURLMOPT_SOCKETFUNCTION: watch s as curl asks, with one event each. */
static int
sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct alerts	*a = userp;
	struct event	*ev = socketp;
	short		 kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		/* curl forgets the socket, and with it ev: free it here. */
		if (ev != NULL)
			event_free(ev);
		return 0;
	}
	kind = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
	    (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if (ev != NULL) {
		event_del(ev);
		event_assign(ev, a->c->base, s, kind, socket_ev_cb, a);
	} else {
		ev = event_new(a->c->base, s, kind, socket_ev_cb, a);
		if (ev == NULL)
			return -1;
		curl_multi_assign(a->multi, s, ev);
	}
	event_add(ev, NULL);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the timer, 0 means at once. */
static int
timer_cb(CURLM *multi, long ms, void *userp)
{
	struct alerts	*a = userp;
	struct timeval	 tv;

	(void)multi;
	if (ms < 0) {
		evtimer_del(a->timer);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(a->timer, &tv);
	return 0;
}

/* ---- one delivery */

static size_t
read_cb(char *out, size_t size, size_t nmemb, void *arg)
{
	struct asend	*s = arg;
	size_t		 n = size * nmemb;

	if (n > s->paylen - s->sent)
		n = s->paylen - s->sent;
	memcpy(out, s->payload + s->sent, n);
	s->sent += n;
	return n;
}

/* Keeps the start of a response for errors; refuses more than the cap. */
static size_t
write_cb(char *in, size_t size, size_t nmemb, void *arg)
{
	struct asend	*s = arg;
	size_t		 n = size * nmemb, keep;

	s->resp_total += n;
	if (s->resp_total > ALERTS_RESPONSE_MAX)
		return 0;
	keep = s->resp.len < ALERTS_RESPONSE_KEPT ? ALERTS_RESPONSE_KEPT -
	    s->resp.len : 0;
	if (keep > n)
		keep = n;
	if (keep > 0)
		buf_append(&s->resp, in, keep);
	return n;
}

static void
send_free(struct asend *s)
{
	struct alerts	*a = s->a;

	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		a->sends = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	if (s->retry != NULL)
		event_free(s->retry);
	if (s->easy != NULL)
		curl_easy_cleanup(s->easy);
	curl_slist_free_all(s->hdrs);
	curl_slist_free_all(s->rcpt);
	buf_free(&s->resp);
	free(s->payload);
	free(s);
}

/*
 * A webhook's headers, signed again for each attempt so that its time
 * is the time it is sent (receivers refuse old signatures).
 */
static int
webhook_headers(struct asend *s)
{
	char	 hdr[ALERTSIG_HEADER_SIZE + 32];

	curl_slist_free_all(s->hdrs);
	s->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	s->hdrs = curl_slist_append(s->hdrs, "Expect:");
	snprintf(hdr, sizeof(hdr), "Uplink-Event: %s", s->d.event);
	s->hdrs = curl_slist_append(s->hdrs, hdr);
	snprintf(hdr, sizeof(hdr), "Uplink-Delivery: %lld",
	    (long long)s->d.id);
	s->hdrs = curl_slist_append(s->hdrs, hdr);
	memcpy(hdr, "Uplink-Signature: ", 18);
	if (alertsig_header(s->ch.secret, strlen(s->ch.secret), time(NULL),
	    s->payload, s->paylen, hdr + 18, sizeof(hdr) - 18) != 0)
		return -1;
	s->hdrs = curl_slist_append(s->hdrs, hdr);
	if (s->hdrs == NULL)
		return -1;
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
	return 0;
}

static int
send_attempt(struct asend *s)
{
	if (strcmp(s->ch.type, "webhook") == 0 && webhook_headers(s) != 0)
		return -1;
	s->sent = 0;
	s->resp_total = 0;
	buf_reset(&s->resp);
	s->errbuf[0] = '\0';
	s->d.attempts++;
	if (curl_multi_add_handle(s->a->multi, s->easy) != CURLM_OK)
		return -1;
	return 0;
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct asend	*s = arg;

	(void)fd;
	(void)what;
	if (send_attempt(s) != 0) {
		log_warnx("alert delivery %lld: cannot start another attempt",
		    (long long)s->d.id);
		send_free(s);
	}
}

/* What went wrong with an attempt, in words for the delivery log. */
static void
attempt_error(struct asend *s, CURLcode res, char *out, size_t outlen)
{
	long	 code = 0;
	char	 resp[ALERTS_RESPONSE_KEPT + 1];

	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
	snprintf(resp, sizeof(resp), "%.*s", (int)s->resp.len,
	    s->resp.ptr != NULL ? s->resp.ptr : "");
	if (res == CURLE_WRITE_ERROR && s->resp_total > ALERTS_RESPONSE_MAX)
		snprintf(out, outlen, "%s answered with more than %d bytes; a "
		    "webhook receiver should answer briefly", s->where,
		    ALERTS_RESPONSE_MAX);
	else if (res != CURLE_OK && strcmp(s->ch.type, "email") == 0)
		snprintf(out, outlen, "e-mail through %s: %s%s%.0ld%s", s->where,
		    s->errbuf[0] ? s->errbuf : curl_easy_strerror(res),
		    code ? " (SMTP " : "", code, code ? ")" : "");
	else if (res != CURLE_OK)
		snprintf(out, outlen, "%s: %s", s->where, s->errbuf[0] ?
		    s->errbuf : curl_easy_strerror(res));
	else
		snprintf(out, outlen, "%s answered HTTP %ld%s%s; a receiver "
		    "answers 2xx when it took the alert", s->where, code,
		    resp[0] ? ": " : "", resp);
}

static void
send_done(struct asend *s, CURLcode res)
{
	struct timeval	 tv = { 0, 0 };
	char		 why[STORE_TEXT_MAX + 1] = "", err[256];
	long		 code = 0;
	bool		 ok;
	int		 wait;

	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
	ok = res == CURLE_OK && (strcmp(s->ch.type, "email") == 0 ||
	    (code >= 200 && code < 300));
	if (!ok)
		attempt_error(s, res, why, sizeof(why));
	wait = ok || s->cb != NULL ? -1 : alert_backoff((int)s->d.attempts);
	snprintf(s->d.status, sizeof(s->d.status), "%s", ok ? "delivered" :
	    wait >= 0 ? "pending" : "failed");
	snprintf(s->d.last_error, sizeof(s->d.last_error), "%s", why);
	s->d.updated_at = time(NULL);
	if (store_delivery_update(s->a->c->dd.st, s->d.id, s->d.status,
	    s->d.attempts, why, s->d.updated_at, err, sizeof(err)) != 0)
		log_warnx("alert delivery %lld: %s", (long long)s->d.id, err);
	if (ok)
		log_info("alert delivery %lld (%s %s %s) to channel %s: "
		    "delivered after %lld attempt%s", (long long)s->d.id,
		    s->d.event, s->d.kind, s->d.subject, s->ch.name,
		    (long long)s->d.attempts, s->d.attempts == 1 ? "" : "s");
	else
		log_warnx("alert delivery %lld to channel %s, attempt %lld: "
		    "%s%s", (long long)s->d.id, s->ch.name,
		    (long long)s->d.attempts, why, wait >= 0 ? "; retrying" :
		    "; giving up");
	if (wait >= 0) {
		tv.tv_sec = wait;
		s->retry = s->retry != NULL ? s->retry : evtimer_new(
		    s->a->c->base, retry_cb, s);
		evtimer_add(s->retry, &tv);
		return;
	}
	if (s->cb != NULL)
		s->cb(s->cb_arg, &s->d);
	send_free(s);
}

/* Sets up the easy handle for s's channel; -1 with err. */
static int
send_setup(struct asend *s, json_t *cfg, char *err, size_t errlen)
{
	CURL		*e = s->easy;
	const char	*ca = json_string_value(json_object_get(cfg, "ca_file"));
	const char	*host, *tls, *user;
	char		 url[300];
	json_t		*v;
	size_t		 i;

	curl_easy_setopt(e, CURLOPT_PRIVATE, s);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ALERTS_CONNECT_MS);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ALERTS_ATTEMPT_MS);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	if (ca != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, ca);
	if (strcmp(s->ch.type, "webhook") == 0) {
		snprintf(s->where, sizeof(s->where), "%.280s",
		    json_string_value(json_object_get(cfg, "url")));
		curl_easy_setopt(e, CURLOPT_URL, json_string_value(
		    json_object_get(cfg, "url")));
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(e, CURLOPT_USERAGENT, "uplink-cloud");
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->payload);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)s->paylen);
		if (s->ch.secret[0] == '\0') {
			snprintf(err, errlen, "channel %s has no signing key: "
			    "set one (PATCH its secret)", s->ch.name);
			return -1;
		}
		return 0;
	}
	host = json_string_value(json_object_get(cfg, "host"));
	tls = json_string_value(json_object_get(cfg, "starttls"));
	user = json_string_value(json_object_get(cfg, "username"));
	snprintf(s->where, sizeof(s->where), "%s:%lld", host,
	    (long long)json_integer_value(json_object_get(cfg, "port")));
	snprintf(url, sizeof(url), "smtp://%s%s%s:%lld/uplink.invalid",
	    strchr(host, ':') && host[0] != '[' ? "[" : "", host,
	    strchr(host, ':') && host[0] != '[' ? "]" : "",
	    (long long)json_integer_value(json_object_get(cfg, "port")));
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp");
	curl_easy_setopt(e, CURLOPT_USE_SSL, tls == NULL || strcmp(tls,
	    "required") == 0 ? (long)CURLUSESSL_ALL : strcmp(tls, "optional")
	    == 0 ? (long)CURLUSESSL_TRY : (long)CURLUSESSL_NONE);
	if (user != NULL) {
		curl_easy_setopt(e, CURLOPT_USERNAME, user);
		curl_easy_setopt(e, CURLOPT_PASSWORD, s->ch.secret);
	}
	curl_easy_setopt(e, CURLOPT_MAIL_FROM, json_string_value(
	    json_object_get(cfg, "from")));
	json_array_foreach(json_object_get(cfg, "to"), i, v)
		s->rcpt = curl_slist_append(s->rcpt, json_string_value(v));
	curl_easy_setopt(e, CURLOPT_MAIL_RCPT, s->rcpt);
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(e, CURLOPT_READDATA, s);
	curl_easy_setopt(e, CURLOPT_INFILESIZE, (long)s->paylen);
	return 0;
}

/*
 * Starts delivering note (event "raised", "resolved" or "test") to the
 * channel ch: a row in the delivery log, then the first attempt.
 */
static int
send_start(struct alerts *a, const struct store_channel *ch,
    const char *event, const struct store_note *n, alerts_test_cb cb,
    void *arg, char *err, size_t errlen)
{
	struct asend	*s;
	json_t		*cfg;
	json_error_t	 jerr;
	int64_t		 now = time(NULL);
	char		 why[256];
	int		 rc;

	cfg = json_loads(ch->config, 0, &jerr);
	if (cfg == NULL) {
		snprintf(err, errlen, "channel %s: its stored config is not "
		    "JSON: %s", ch->name, jerr.text);
		return UPLINK_EINVAL;
	}
	s = xcalloc(1, sizeof(*s));
	s->a = a;
	s->ch = *ch;
	s->cb = cb;
	s->cb_arg = arg;
	buf_init(&s->resp, ALERTS_RESPONSE_KEPT + 1);
	s->next = a->sends;
	if (a->sends != NULL)
		a->sends->prev = s;
	a->sends = s;
	s->d.channel_id = ch->id;
	snprintf(s->d.event, sizeof(s->d.event), "%s", event);
	snprintf(s->d.kind, sizeof(s->d.kind), "%s", n->kind);
	snprintf(s->d.subject, sizeof(s->d.subject), "%s", n->subject);
	snprintf(s->d.status, sizeof(s->d.status), "pending");
	s->d.created_at = s->d.updated_at = now;
	rc = store_delivery_add(a->c->dd.st, &s->d, now, &s->d.id, err,
	    errlen);
	if (rc != UPLINK_OK)
		goto fail;
	s->payload = strcmp(ch->type, "webhook") == 0 ?
	    alert_webhook_body(a->c->dd.url, &s->d, n, now) :
	    alert_email_body(a->c->dd.url, &s->d, n, cfg, now);
	s->easy = curl_easy_init();
	rc = UPLINK_ENOMEM;
	if (s->payload == NULL || s->easy == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	s->paylen = strlen(s->payload);
	rc = UPLINK_EINVAL;
	if (send_setup(s, cfg, err, errlen) != 0 || send_attempt(s) != 0)
		goto fail;
	json_decref(cfg);
	return UPLINK_OK;
fail:
	if (s->d.id != 0 && store_delivery_update(a->c->dd.st, s->d.id,
	    "failed", s->d.attempts, err, now, why, sizeof(why)) != 0)
		log_warnx("alert delivery %lld: %s", (long long)s->d.id, why);
	json_decref(cfg);
	s->cb = NULL;
	send_free(s);
	return rc;
}

int
alerts_test(struct cloud *c, int64_t id, const char *actor, alerts_test_cb cb,
    void *arg, char *err, size_t errlen)
{
	struct store_channel	 ch;
	struct store_note	 n;
	int			 rc;

	rc = store_channel_get(c->dd.st, id, &ch, err, errlen);
	if (rc == UPLINK_ENOTFOUND)
		snprintf(err, errlen, "there is no channel %lld", (long long)id);
	if (rc != UPLINK_OK)
		return rc;
	memset(&n, 0, sizeof(n));
	snprintf(n.kind, sizeof(n.kind), "test");
	snprintf(n.severity, sizeof(n.severity), "info");
	snprintf(n.subject, sizeof(n.subject), "%s", ch.name);
	snprintf(n.message, sizeof(n.message), "This is a test of channel %s "
	    "from uplink-cloud %s, sent by %s: alerts sent to it will arrive "
	    "like this.", ch.name, c->dd.url, actor);
	return send_start(c->alerts, &ch, "test", &n, cb, arg, err, errlen);
}

/* ---- what is due */

struct due {
	struct store_alert	*v;
	size_t			 n;
};

static int
due_cb(void *arg, const struct store_alert *al)
{
	struct due	*d = arg;

	d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	d->v[d->n++] = *al;
	return 0;
}

/* Sends al to each channel of its rule ("1,2,3"). */
static void
send_alert(struct alerts *a, const struct store_alert *al)
{
	struct store_channel	 ch;
	const char		*p = al->rule.channels;
	char			*end, err[512];
	long long		 id;

	while (*p != '\0') {
		id = strtoll(p, &end, 10);
		if (end == p)
			break;
		p = *end == ',' ? end + 1 : end;
		if (store_channel_get(a->c->dd.st, id, &ch, err,
		    sizeof(err)) != UPLINK_OK) {
			log_warnx("alert rule %lld: channel %lld is gone; "
			    "change the rule", (long long)al->rule.id, id);
			continue;
		}
		if (send_start(a, &ch, al->resolved ? "resolved" : "raised",
		    &al->note, NULL, NULL, err, sizeof(err)) != UPLINK_OK)
			log_warnx("alert to channel %s: %s", ch.name, err);
	}
}

static void
expire_stale(struct alerts *a, int64_t now)
{
	char	 err[256];
	int64_t	 n = 0;

	if (store_delivery_expire(a->c->dd.st, now - ALERTS_STALE_SECS,
	    "not delivered: the uplink-cloud instance sending it stopped "
	    "before it was done", now, &n, err, sizeof(err)) != UPLINK_OK)
		log_warnx("alerts: %s", err);
	else if (n > 0)
		log_warnx("alerts: %lld deliveries left pending by a stopped "
		    "instance marked failed", (long long)n);
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct alerts	*a = arg;
	struct due	 d = { NULL, 0 };
	char		 err[256];
	int64_t		 now = time(NULL);
	size_t		 i;
	bool		 claimed;
	int		 rc;

	(void)fd;
	(void)what;
	if (a->c->stopping)
		return;
	rc = store_alert_due(a->c->dd.st, now, ALERTS_DUE_BATCH, due_cb, &d,
	    err, sizeof(err));
	if (rc != UPLINK_OK && rc != UPLINK_EUNAVAIL)
		log_warnx("alerts: %s", err);
	for (i = 0; rc == UPLINK_OK && i < d.n; i++) {
		if (store_alert_claim(a->c->dd.st, &d.v[i], now, &claimed, err,
		    sizeof(err)) != UPLINK_OK) {
			log_warnx("alerts: %s", err);
			break;
		}
		if (claimed)
			send_alert(a, &d.v[i]);
	}
	free(d.v);
	if (now - a->expired >= ALERTS_EXPIRE_EVERY) {
		a->expired = now;
		expire_stale(a, now);
	}
}

void
alerts_kick(struct cloud *c)
{
	struct alerts	*a = c->alerts;

	if (a != NULL)
		event_active(a->sweep, EV_TIMEOUT, 0);
}

int
alerts_start(struct cloud *c, char *err, size_t errlen)
{
	struct timeval	 tv = { ALERTS_SWEEP_MS / 1000,
	    (ALERTS_SWEEP_MS % 1000) * 1000 };
	struct alerts	*a;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "libcurl cannot start");
		return -1;
	}
	a = xcalloc(1, sizeof(*a));
	a->c = c;
	a->multi = curl_multi_init();
	if (a->multi == NULL) {
		free(a);
		curl_global_cleanup();
		snprintf(err, errlen, "libcurl cannot start");
		return -1;
	}
	curl_multi_setopt(a->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(a->multi, CURLMOPT_SOCKETDATA, a);
	curl_multi_setopt(a->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(a->multi, CURLMOPT_TIMERDATA, a);
	a->timer = evtimer_new(c->base, timer_ev_cb, a);
	a->sweep = event_new(c->base, -1, EV_PERSIST, sweep_cb, a);
	event_add(a->sweep, &tv);
	c->alerts = a;
	return 0;
}

void
alerts_free(struct cloud *c)
{
	struct alerts		*a = c->alerts;
	struct asend		*s;

	if (a == NULL)
		return;
	while ((s = a->sends) != NULL) {
		curl_multi_remove_handle(a->multi, s->easy);
		if (s->cb != NULL) {
			snprintf(s->d.status, sizeof(s->d.status), "failed");
			snprintf(s->d.last_error, sizeof(s->d.last_error),
			    "uplink-cloud stopped before the message was "
			    "delivered");
			s->cb(s->cb_arg, &s->d);
		}
		send_free(s);
	}
	curl_multi_cleanup(a->multi);
	event_free(a->timer);
	event_free(a->sweep);
	free(a);
	curl_global_cleanup();
	c->alerts = NULL;
}
