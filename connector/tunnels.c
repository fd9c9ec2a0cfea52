#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <sodium.h>

#include "dial.h"
#include "instances.h"
#include "log.h"
#include "proxy.h"
#include "remote_check.h"
#include "service.h"
#include "tls.h"
#include "xmalloc.h"

/*
 * The tunnel slots: each keeps one TLS connection to the cloud open,
 * through the route decision (the proxy unless the cloud's name is in the
 * bypass list), verifying the cloud against the CA saved at enrollment and
 * showing the connector's certificate. A slot that loses its tunnel, or
 * cannot open one, tries again after a random delay ("full jitter": uniform
 * between zero and a ceiling that doubles from 1 s to 60 s with each
 * failure and starts over once a tunnel stayed up a minute), so that
 * connectors coming back after an outage spread out instead of arriving
 * together. A GOAWAY saying "retry-after=N" overrides that: the slot waits
 * between N and 2N seconds.
 *
 * When the cloud is a cluster (connector/instances.c), each slot has an
 * instance: it dials that instance's address with its name as the TLS
 * name, through the same route. A tunnel moves to another instance
 * "make before break": the new one is opened first, and only once it is
 * up is the old one drained (it closes when its streams are done). That
 * happens when the cloud asks (GET /v1/reconnect on the tunnel: the
 * instance is stopping), when the list of instances changes the slot's
 * choice, and, without the first step, when the cloud sends GOAWAY (its
 * idle tunnel is gone then, the other slots carry the traffic meanwhile).
 * An instance that fails or goes away is avoided for a while.
 */

#define SLOT_TLS_MS		15000
#define SLOT_BACKOFF_MIN_MS	1000
#define SLOT_BACKOFF_MAX_MS	60000
#define SLOT_STABLE_MS		60000
#define SLOT_HINT_MAX_S		3600
#define SLOT_OLD_MAX		4	/* tunnels moved away, still draining */
#define SLOT_MOVE_JITTER_MS	500
#define RECONNECT_PATH		"/v1/reconnect"

enum slot_state {
	SLOT_IDLE,
	SLOT_WAIT,
	SLOT_DIAL,
	SLOT_TLS,
	SLOT_UP,
};

struct slot {
	struct service		*svc;
	int			 idx;
	enum slot_state		 state;
	struct svc_config	*cfg;		/* held while dialling */
	struct dial_opts	 opts;
	struct dial		*d;
	struct bufferevent	*bev;		/* during the handshake */
	struct tls_verify	 v;
	struct tunnel		*t;
	struct event		*timer;
	int			 backoff_ms;	/* the current ceiling */
	int			 hint_s;	/* retry-after from a GOAWAY */
	long			 up_since;
	char			 via[300];
	char			 goaway[256];
	/* The instance dialled (cluster), its TLS name, where to dial. */
	char			 inst[64];
	char			 tls_name[254];
	char			 dial_host[254];
	struct tunnel		*old[SLOT_OLD_MAX];	/* moved away */
};

static void slot_connect(struct slot *sl);
static void slot_retry(struct slot *sl);
static void slot_move(struct slot *sl, const char *why);

static void
slot_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slot	*sl = arg;

	(void)fd;
	(void)what;
	if (sl->state == SLOT_WAIT) {
		slot_connect(sl);
		return;
	}
	if (sl->state == SLOT_TLS) {
		log_warnx("tunnel %d: no TLS handshake with %s in %d s; "
		    "retrying", sl->idx, sl->via, SLOT_TLS_MS / 1000);
		bufferevent_free(sl->bev);
		sl->bev = NULL;
		slot_retry(sl);
	}
}

/* Waits, then connects again. */
static void
slot_retry(struct slot *sl)
{
	struct timeval	 tv;
	int		 ms;

	if (sl->cfg != NULL) {
		svc_config_unref(sl->cfg);
		sl->cfg = NULL;
	}
	if (sl->svc->draining) {
		sl->state = SLOT_IDLE;
		service_check_done(sl->svc);
		return;
	}
	if (sl->hint_s > 0) {
		ms = sl->hint_s * 1000 +
		    (int)randombytes_uniform((uint32_t)sl->hint_s * 1000);
		sl->hint_s = 0;
	} else
		ms = (int)randombytes_uniform((uint32_t)sl->backoff_ms + 1);
	sl->backoff_ms *= 2;
	if (sl->backoff_ms > SLOT_BACKOFF_MAX_MS)
		sl->backoff_ms = SLOT_BACKOFF_MAX_MS;
	log_debug("tunnel %d: next attempt in %d ms", sl->idx, ms);
	sl->state = SLOT_WAIT;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(sl->timer, &tv);
	service_tunnels_changed(sl->svc);
}

static void
slot_tunnel_closed(void *arg, struct tunnel *t, const char *why)
{
	struct slot	*sl = arg;
	int		 i;

	for (i = 0; i < SLOT_OLD_MAX; i++)
		if (sl->old[i] == t) {
			sl->old[i] = NULL;
			log_info("tunnel %d: the tunnel it moved away from "
			    "closed: %s", sl->idx, why);
			return;
		}
	sl->t = NULL;
	/* A cluster instance that drops a tunnel is avoided for a while. */
	if (sl->inst[0] != '\0' && sl->goaway[0] == '\0' &&
	    !sl->svc->draining) {
		instances_avoid(sl->svc->inst, sl->inst);
		instances_refresh(sl->svc->inst);
		sl->backoff_ms = SLOT_BACKOFF_MIN_MS;
	}
	if (dial_now_ms() - sl->up_since >= SLOT_STABLE_MS)
		sl->backoff_ms = SLOT_BACKOFF_MIN_MS;
	if (sl->goaway[0] != '\0' && !sl->svc->draining)
		log_warnx("tunnel %d: closed by the cloud: %s", sl->idx,
		    sl->goaway);
	else
		log_info("tunnel %d: closed: %s", sl->idx, why);
	sl->goaway[0] = '\0';
	slot_retry(sl);
}

static void
slot_tunnel_goaway(void *arg, struct tunnel *t, const char *why)
{
	struct slot	*sl = arg;
	const char	*p;
	long		 n;

	if (t != sl->t)
		return;		/* one the slot moved away from */
	snprintf(sl->goaway, sizeof(sl->goaway), "%s", why[0] ? why :
	    "going away");
	/*
	 * In a cluster another instance takes the tunnel now, whatever the
	 * hint says: this one is leaving, the others are not.
	 */
	if (sl->inst[0] != '\0' && !sl->svc->draining) {
		instances_avoid(sl->svc->inst, sl->inst);
		instances_refresh(sl->svc->inst);
		sl->goaway[0] = '\0';
		slot_move(sl, why);
		return;
	}
	p = strstr(why, "retry-after=");
	if (p != NULL) {
		n = strtol(p + 12, NULL, 10);
		if (n > 0)
			sl->hint_s = n > SLOT_HINT_MAX_S ? SLOT_HINT_MAX_S : (int)n;
	}
}

static void
slot_request(void *arg, struct tunnel *t, struct tunnel_stream *s,
    const char *host, uint16_t port)
{
	struct slot	*sl = arg;

	streams_request(sl->svc, t, s, host, port);
}

const char *const svc_refusal_codes[SVC_REF_N] = { "not-allowed",
    "via-proxy", "dns", "refused", "timeout", "proxy", "busy", "internal" };

/*
 * GET /v1/info is answered by the tunnel from the text set here, so the
 * counters are written into it as they move (a refusal, a check), on
 * every tunnel up; a tunnel that comes up later gets the latest.
 */
void
tunnels_info_update(struct service *svc)
{
	char	 ref[512];
	size_t	 n = 0;
	int	 i;

	for (i = 0; i < SVC_REF_N && n < sizeof(ref); i++)
		n += (size_t)snprintf(ref + n, sizeof(ref) - n, "%s\"%s\":%llu",
		    i ? "," : "", svc_refusal_codes[i],
		    (unsigned long long)svc->ctr.refused[i]);
	snprintf(svc->info, sizeof(svc->info), "{%s,\"counters\":{"
	    "\"refused\":{%s},\"checks\":%llu,\"checks_failed\":%llu}}",
	    svc->info_base, ref, (unsigned long long)svc->ctr.checks,
	    (unsigned long long)svc->ctr.checks_failed);
	for (i = 0; i < svc->nslots; i++)
		if (svc->slots[i].state == SLOT_UP && svc->slots[i].t != NULL)
			tunnel_set_info(svc->slots[i].t, svc->info);
}

void
service_count_refused(struct service *svc, const char *code)
{
	int	 i;

	for (i = 0; i < SVC_REF_INTERNAL; i++)
		if (strcmp(code, svc_refusal_codes[i]) == 0)
			break;
	svc->ctr.refused[i]++;
	tunnels_info_update(svc);
}

void
service_count_check(struct service *svc, bool failed)
{
	svc->ctr.checks++;
	if (failed)
		svc->ctr.checks_failed++;
	tunnels_info_update(svc);
}

/*
 * A GET from the cloud other than /v1/info: the check on demand, or the
 * hint of an instance that is stopping (GET /v1/reconnect): the slot
 * opens a tunnel to another instance, then lets this one go.
 */
static void
slot_get(void *arg, struct tunnel *t, struct tunnel_stream *s,
    const char *path)
{
	struct slot	*sl = arg;
	size_t		 n = sizeof(RECONNECT_PATH) - 1;

	if (strncmp(path, RECONNECT_PATH, n) != 0 || (path[n] != '\0' &&
	    path[n] != '?')) {
		remote_check_get(sl->svc, t, s, path);
		return;
	}
	if (t != sl->t || sl->inst[0] == '\0' || sl->svc->draining) {
		tunnel_stream_reply(s, 409, "{\"error\":\"not-moving\","
		    "\"message\":\"this tunnel does not go to a cluster "
		    "instance, or is already leaving\"}");
		return;
	}
	tunnel_stream_reply(s, 200, "{\"moving\":true}");
	instances_avoid(sl->svc->inst, sl->inst);
	instances_refresh(sl->svc->inst);
	slot_move(sl, "the instance asked (it is stopping)");
}

/* The new tunnel is up: the ones it replaces may go once idle. */
static void
slot_release_old(struct slot *sl)
{
	int	 i;

	for (i = 0; i < SLOT_OLD_MAX; i++)
		if (sl->old[i] != NULL)
			tunnel_drain(sl->old[i]);
}

static void
slot_up(struct slot *sl)
{
	struct service			*svc = sl->svc;
	struct tunnel_callbacks		 cb = {
		.request = slot_request,
		.get = slot_get,
		.closed = slot_tunnel_closed,
		.goaway = slot_tunnel_goaway,
	};
	struct bufferevent		*bev = sl->bev;
	SSL				*ssl = bufferevent_openssl_get_ssl(bev);
	char				 name[24];

	snprintf(name, sizeof(name), "t%u", ++svc->seq);
	log_info("tunnel %d: up to %s (%s), as %s", sl->idx, sl->via,
	    SSL_get_version(ssl), name);
	sl->bev = NULL;
	evtimer_del(sl->timer);
	svc_config_unref(sl->cfg);
	sl->cfg = NULL;
	sl->t = tunnel_new(svc->base, bev, TUNNEL_CONNECTOR, &svc->lim,
	    &cb, sl, name);
	if (sl->t != NULL)
		tunnel_set_info(sl->t, svc->info);
	sl->state = SLOT_UP;
	sl->up_since = dial_now_ms();
	if (sl->t == NULL)
		slot_retry(sl);
	else
		slot_release_old(sl);
	service_tunnels_changed(svc);
}

/* Explains a failed handshake: interception, expiry, a refused client. */
static void
slot_tls_failed(struct slot *sl, struct bufferevent *bev)
{
	SSL		*ssl = bufferevent_openssl_get_ssl(bev);
	X509		*leaf = SSL_get0_peer_certificate(ssl);
	const char	*verdict = NULL;
	char		 detail[512], ossl[256];
	unsigned long	 e;

	if (sl->v.flags != 0 && leaf != NULL)
		verdict = tls_verdict(&sl->v, leaf, sl->tls_name, detail,
		    sizeof(detail));
	if (verdict != NULL) {
		log_warnx("tunnel %d: %s: %s", sl->idx, sl->via, detail);
		return;
	}
	e = bufferevent_get_openssl_error(bev);
	if (e != 0)
		ERR_error_string_n(e, ossl, sizeof(ossl));
	else
		snprintf(ossl, sizeof(ossl), "the connection closed");
	log_warnx("tunnel %d: TLS with %s failed: %s%s", sl->idx, sl->via, ossl,
	    strstr(ossl, "alert") != NULL ? " (the cloud refused this "
	    "connector's certificate: if it expired or was revoked, enroll "
	    "again)" : "");
}

static void
slot_tls_event(struct bufferevent *bev, short what, void *arg)
{
	struct slot		*sl = arg;
	const unsigned char	*alpn;
	unsigned		 alpnlen;

	if (what & BEV_EVENT_CONNECTED) {
		SSL_get0_alpn_selected(bufferevent_openssl_get_ssl(bev), &alpn,
		    &alpnlen);
		if (alpnlen == sizeof(TUNNEL_ALPN) - 1 &&
		    memcmp(alpn, TUNNEL_ALPN, alpnlen) == 0) {
			slot_up(sl);
			return;
		}
		log_warnx("tunnel %d: %s does not speak the uplink tunnel "
		    "protocol (no ALPN %s): is this the uplink cloud?", sl->idx,
		    sl->via, TUNNEL_ALPN);
	} else
		slot_tls_failed(sl, bev);
	bufferevent_free(bev);
	sl->bev = NULL;
	evtimer_del(sl->timer);
	slot_retry(sl);
}

static void
slot_dialed(void *arg, struct dial_result *res)
{
	struct slot	*sl = arg;
	struct service	*svc = sl->svc;
	SSL		*ssl;
	struct timeval	 tv = { SLOT_TLS_MS / 1000, 0 };
	static const unsigned char alpn[] = "\x0f" TUNNEL_ALPN;

	sl->d = NULL;
	if (res->error != DIAL_OK) {
		log_warnx("tunnel %d: cannot reach %s: %s", sl->idx, sl->via,
		    res->detail);
		if (sl->inst[0] != '\0') {
			instances_avoid(svc->inst, sl->inst);
			instances_refresh(svc->inst);
		}
		slot_retry(sl);
		return;
	}
	memset(&sl->v, 0, sizeof(sl->v));
	sl->v.strict = true;
	ssl = tls_client_new(svc->ctx, sl->tls_name, alpn, sizeof(alpn) - 1,
	    &sl->v);
	sl->bev = ssl == NULL ? NULL : bufferevent_openssl_socket_new(svc->base,
	    res->fd, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (sl->bev == NULL) {
		log_warnx("tunnel %d: cannot start TLS", sl->idx);
		evutil_closesocket(res->fd);
		slot_retry(sl);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(sl->bev, 1);
	bufferevent_setcb(sl->bev, NULL, NULL, slot_tls_event, sl);
	bufferevent_enable(sl->bev, EV_READ | EV_WRITE);
	sl->state = SLOT_TLS;
	evtimer_add(sl->timer, &tv);
}

void
tunnels_current(const struct service *svc, const char **cur, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		cur[i] = i < svc->nslots ? svc->slots[i].inst : "";
}

/*
 * Where the slot goes now, given where every slot is (a slot on one of
 * the chosen instances keeps it). A slot moving away is still on its old
 * instance, which is then avoided or no longer chosen.
 */
static const struct cloud_instance *
slot_target(struct slot *sl)
{
	const struct cloud_instance	*out[INSTANCES_SLOTS_MAX];
	const char			*cur[INSTANCES_SLOTS_MAX];
	int				 n = sl->svc->nslots;

	if (n > INSTANCES_SLOTS_MAX)
		n = INSTANCES_SLOTS_MAX;
	if (sl->idx > n)
		return NULL;
	tunnels_current(sl->svc, cur, n);
	instances_assign(sl->svc->inst, cur, n, out);
	return out[sl->idx - 1];
}

static void
slot_connect(struct slot *sl)
{
	struct service			*svc = sl->svc;
	struct route			 r;
	char				 how[256];

	const struct cloud_instance	*ci;

	sl->cfg = svc_config_ref(svc->cfg);
	ci = slot_target(sl);
	snprintf(sl->inst, sizeof(sl->inst), "%s", ci != NULL ? ci->id : "");
	snprintf(sl->tls_name, sizeof(sl->tls_name), "%s", ci != NULL ?
	    ci->name : sl->cfg->c.cloud.host);
	snprintf(sl->dial_host, sizeof(sl->dial_host), "%s", ci != NULL ?
	    ci->host : sl->cfg->c.cloud.host);
	sl->opts.host = sl->dial_host;
	sl->opts.port = ci != NULL ? (uint16_t)ci->port :
	    sl->cfg->c.cloud.port;
	sl->opts.routes = &sl->cfg->c.routes;
	sl->opts.timeout_ms = 10000;
	sl->opts.id = "tunnel";
	sl->opts.spread = (unsigned)sl->idx - 1;	/* tunnels over addresses */
	route_decide(&sl->cfg->c.routes, sl->opts.host, sl->opts.port, &r);
	route_describe(&r, how, sizeof(how));
	if (ci != NULL)
		snprintf(sl->via, sizeof(sl->via), "instance %s %s:%u as %s "
		    "(%s)", ci->id, sl->opts.host, sl->opts.port, ci->name, how);
	else
		snprintf(sl->via, sizeof(sl->via), "%s:%u (%s)", sl->opts.host,
		    sl->opts.port, how);
	sl->state = SLOT_DIAL;
	sl->d = dial_start(svc->base, svc->dns, &sl->opts, NULL, slot_dialed,
	    sl);
}

/*
 * Moves the slot's tunnel to the instance the slot has now: the tunnel
 * becomes an old one (kept until the new one is up, then drained) and
 * the slot dials again after a short random delay, so that the
 * connectors of a stopping instance do not all arrive in one instant.
 */
static void
slot_move(struct slot *sl, const char *why)
{
	struct timeval	 tv;
	int		 i, ms;

	if (sl->state != SLOT_UP || sl->t == NULL)
		return;
	for (i = 0; i < SLOT_OLD_MAX && sl->old[i] != NULL; i++)
		;
	if (i == SLOT_OLD_MAX) {
		log_warnx("tunnel %d: %d tunnels still draining; closing the "
		    "oldest", sl->idx, SLOT_OLD_MAX);
		tunnel_free(sl->old[0]);
		memmove(&sl->old[0], &sl->old[1], sizeof(sl->old[0]) *
		    (SLOT_OLD_MAX - 1));
		i = SLOT_OLD_MAX - 1;
	}
	sl->old[i] = sl->t;
	sl->t = NULL;
	log_info("tunnel %d: moving away from instance %s: %s", sl->idx,
	    sl->inst, why);
	ms = (int)randombytes_uniform(SLOT_MOVE_JITTER_MS);
	sl->state = SLOT_WAIT;
	tv.tv_sec = 0;
	tv.tv_usec = ms * 1000;
	evtimer_add(sl->timer, &tv);
}

/* The list of instances changed: up slots off their instance move. */
static void
tunnels_rebalance(struct service *svc)
{
	const struct cloud_instance	*ci;
	struct slot			*sl;
	int				 i;

	for (i = 0; i < svc->nslots; i++) {
		sl = &svc->slots[i];
		if (sl->state != SLOT_UP || svc->draining)
			continue;
		ci = slot_target(sl);
		if (strcmp(ci != NULL ? ci->id : "", sl->inst) != 0)
			slot_move(sl, ci != NULL ? "the cloud's instances "
			    "changed" : "the cloud is no longer a cluster");
	}
}

/* The first answer about the instances: the slots start dialling. */
static void
tunnels_ready(struct service *svc)
{
	int	 i;

	for (i = 0; i < svc->nslots; i++) {
		if (svc->draining) {
			svc->slots[i].state = SLOT_IDLE;
			continue;
		}
		slot_connect(&svc->slots[i]);
	}
	if (svc->draining)
		service_check_done(svc);
}

void
tunnels_start(struct service *svc)
{
	struct slot	*sl;
	int		 i;

	svc->nslots = svc->cfg->c.tunnels;
	svc->slots = xcalloc((size_t)svc->nslots, sizeof(*svc->slots));
	for (i = 0; i < svc->nslots; i++) {
		sl = &svc->slots[i];
		sl->svc = svc;
		sl->idx = i + 1;
		sl->backoff_ms = SLOT_BACKOFF_MIN_MS;
		sl->timer = evtimer_new(svc->base, slot_timer_cb, sl);
		sl->state = SLOT_WAIT;
	}
	svc->inst = instances_start(svc, tunnels_ready, tunnels_rebalance);
}

/* Stops whatever the slot is doing short of an open tunnel. */
static void
slot_stop(struct slot *sl)
{
	evtimer_del(sl->timer);
	if (sl->d != NULL)
		dial_cancel(sl->d);
	sl->d = NULL;
	if (sl->bev != NULL)
		bufferevent_free(sl->bev);
	sl->bev = NULL;
	if (sl->cfg != NULL)
		svc_config_unref(sl->cfg);
	sl->cfg = NULL;
	if (sl->state != SLOT_UP)
		sl->state = SLOT_IDLE;
}

void
tunnels_drain(struct service *svc)
{
	int	 i;

	for (i = 0; i < svc->nslots; i++) {
		slot_stop(&svc->slots[i]);
		if (svc->slots[i].t != NULL)
			tunnel_drain(svc->slots[i].t);
		slot_release_old(&svc->slots[i]);
	}
}

uint32_t
tunnels_streams(const struct service *svc)
{
	struct tunnel_stats	 st;
	uint32_t		 n = 0;
	int			 i, j;

	for (i = 0; i < svc->nslots; i++) {
		for (j = 0; j < SLOT_OLD_MAX; j++)
			if (svc->slots[i].old[j] != NULL) {
				tunnel_stats(svc->slots[i].old[j], &st);
				n += st.streams;
			}
		if (svc->slots[i].t == NULL)
			continue;
		tunnel_stats(svc->slots[i].t, &st);
		n += st.streams;
	}
	return n;
}

int
tunnels_up(const struct service *svc)
{
	int	 i, n = 0;

	for (i = 0; i < svc->nslots; i++)
		if (svc->slots[i].state == SLOT_UP)
			n++;
	return n;
}

bool
tunnels_idle(const struct service *svc)
{
	int	 i, j;

	for (i = 0; i < svc->nslots; i++) {
		if (svc->slots[i].state != SLOT_IDLE)
			return false;
		for (j = 0; j < SLOT_OLD_MAX; j++)
			if (svc->slots[i].old[j] != NULL)
				return false;
	}
	return true;
}

void
tunnels_free(struct service *svc)
{
	struct slot	*sl;
	int		 i, j;

	instances_free(svc->inst);
	svc->inst = NULL;
	for (i = 0; i < svc->nslots; i++) {
		sl = &svc->slots[i];
		slot_stop(sl);
		tunnel_free(sl->t);
		sl->t = NULL;
		for (j = 0; j < SLOT_OLD_MAX; j++)
			tunnel_free(sl->old[j]);
		event_free(sl->timer);
	}
	free(svc->slots);
	svc->slots = NULL;
	svc->nslots = 0;
}
