/*
 * The Prometheus endpoint (docs/metrics.md): GET /metrics on [metrics]
 * listen, text exposition format 0.0.4. Not OpenMetrics: Debian's promtool
 * 2.42, which checks the output in "make test", refuses OpenMetrics'
 * state sets, and every Prometheus reads 0.0.4.
 *
 * Who may scrape: a client whose address is in [metrics] allow, or one
 * presenting "Authorization: Bearer KEY" with a key whose scope has the
 * metrics right (metrics or full). Connections are capped per address
 * and in all (lib/addrcount.h), and evhttp's timeout ends idle ones; the
 * listener is opened with cloud_listen() and so pauses on EMFILE.
 *
 * Cardinality is bounded by construction: the labels are fixed sets
 * (state, outcome, result, verdict, direction) except connector, which
 * the count of enrolled, unrevoked connectors bounds. Nothing is labelled
 * per stream or per client address. Every series carries instance_id.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "addrcount.h"
#include "apikey.h"
#include "daemon.h"
#include "db.h"
#include "front.h"
#include "log.h"
#include "metrics.h"
#include "proxygate.h"
#include "router.h"
#include "status.h"
#include "tunnel.h"
#include "version.h"
#include "xmalloc.h"

#define METRICS_PER_ADDR	4	/* connections per client address */
#define METRICS_TOTAL		64	/* connections in all */
#define METRICS_TIMEOUT_SECS	10	/* evhttp: idle, head and body */
#define METRICS_HEADERS_MAX	(8 * 1024)
#define METRICS_INFO_TIMEOUT_MS	5000	/* GET /v1/info for the counters */
#define METRICS_CTYPE		"text/plain; version=0.0.4; charset=utf-8"

/* Bucket bounds in milliseconds, then +Inf. */
static const long open_bounds[] = { 5, 10, 25, 50, 100, 250, 500, 1000,
    2500, 5000, 10000, 30000 };
static const long rtt_bounds[] = { 1, 2, 5, 10, 25, 50, 100, 250, 500,
    1000, 2500 };
#define NOPEN	(sizeof(open_bounds) / sizeof(open_bounds[0]))
#define NRTT	(sizeof(rtt_bounds) / sizeof(rtt_bounds[0]))

struct histogram {
	uint64_t	 bucket[16];	/* non-cumulative; [n] is +Inf only */
	uint64_t	 count;
	uint64_t	 sum_ms;
};

/* Stream outcomes; the label values of uplink_streams_total. */
enum outcome { O_OK, O_REFUSED, O_UNREACHABLE, O_UNAVAILABLE, O_TIMEOUT,
    O_CANCELLED, O_ERROR, O_N };
static const char *const outcome_names[O_N] = { "ok", "refused",
    "unreachable", "unavailable", "timeout", "cancelled", "error" };

/* Enrollment and renewal results. */
enum result { RES_OK, RES_REFUSED, RES_ERROR, RES_N };
static const char *const result_names[RES_N] = { "ok", "refused", "error" };

enum verdict { V_PASSED, V_FAILED, V_TIMEOUT, V_BUSY, V_ERROR, V_N };
static const char *const verdict_names[V_N] = { "passed", "failed",
    "timeout", "busy", "error" };

static const char *const hs_names[METRICS_HS_N] = { "ok", "failed",
    "closed" };

/* The counters: process-wide, from the start of the process. */
static struct {
	uint64_t		 handshakes[METRICS_HS_N];
	uint64_t		 tunnels_up, tunnels_down;
	uint64_t		 closed_streams, closed_in, closed_out;
	uint64_t		 streams[O_N];
	struct histogram	 open;
	struct histogram	 rtt;
	uint64_t		 enroll[RES_N], renew[RES_N];
	uint64_t		 checks[V_N];
	uint64_t		 refused_addr, refused_auth;
} ctr;

/*
 * What a connector reports of its own counters in GET /v1/info
 * (connector/tunnels.c), asked every ping_interval while it has a tunnel.
 * One entry per connector seen since the start (bounded by them).
 */
static const char *const refusal_codes[] = { "not-allowed", "via-proxy",
    "dns", "refused", "timeout", "proxy", "busy", "internal" };
#define NREFUSAL	(sizeof(refusal_codes) / sizeof(refusal_codes[0]))

struct conn_ctr {
	char		 id[STORE_ID_MAX + 1];
	bool		 asking;	/* a GET /v1/info is out */
	bool		 have;		/* it reported counters */
	uint64_t	 refused[NREFUSAL];
	uint64_t	 checks, checks_failed;
};

/* A client connection, for the caps (released by its close callback). */
struct mconn {
	struct mconn		*next;
	struct evhttp_connection *evcon;
	struct sockaddr_storage	 sa;
};

struct metrics {
	struct cloud		*c;
	struct evhttp		*http;
	struct addrcount	*ac;
	struct mconn		*conns;
	struct event		*rtt_timer;
	struct conn_ctr		*cc;
	size_t			 ncc;
	char			 instance[96];	/* escaped label value */
	int64_t			 started;
	struct log_rate		 refuse_rate;
};

static struct metrics	*M;

static void
observe(struct histogram *h, const long *bounds, size_t n, long ms)
{
	size_t	 i;

	if (ms < 0)
		ms = 0;
	for (i = 0; i < n && ms > bounds[i]; i++)
		;
	h->bucket[i]++;
	h->count++;
	h->sum_ms += (uint64_t)ms;
}

void
metrics_handshake(enum metrics_hs result)
{
	if (result < METRICS_HS_N)
		ctr.handshakes[result]++;
}

void
metrics_tunnel_up(void)
{
	ctr.tunnels_up++;
}

void
metrics_tunnel_down(const struct tunnel *t)
{
	struct tunnel_stats	 st;

	tunnel_stats(t, &st);
	ctr.tunnels_down++;
	ctr.closed_streams += st.streams_total;
	ctr.closed_in += st.bytes_in;
	ctr.closed_out += st.bytes_out;
}

void
metrics_stream_open(int status, const char *code, long ms)
{
	enum outcome	 o;

	if (status == 200)
		o = O_OK;
	else if (status == 403)
		o = O_REFUSED;
	else if (status == 502)
		o = O_UNREACHABLE;
	else if (status == 503)
		o = O_UNAVAILABLE;
	else if (status == 504 || (status == 0 && code != NULL &&
	    strcmp(code, "timeout") == 0))
		o = O_TIMEOUT;
	else if (status == 0)
		o = O_UNREACHABLE;
	else if (status < 0)
		o = O_CANCELLED;
	else
		o = O_ERROR;
	ctr.streams[o]++;
	if (o != O_CANCELLED)
		observe(&ctr.open, open_bounds, NOPEN, ms);
}

void
metrics_enroll(bool renew, int status)
{
	enum result	 r = status == 200 ? RES_OK : status >= 400 &&
	    status < 500 ? RES_REFUSED : RES_ERROR;

	if (renew)
		ctr.renew[r]++;
	else
		ctr.enroll[r]++;
}

void
metrics_check(int status, const char *code, const json_t *check)
{
	enum verdict	 v = V_ERROR;

	if (status == 200)
		v = json_is_true(json_object_get(check, "ok")) ? V_PASSED :
		    V_FAILED;
	else if (code != NULL && strcmp(code, "timeout") == 0)
		v = V_TIMEOUT;
	else if (code != NULL && strcmp(code, "busy") == 0)
		v = V_BUSY;
	ctr.checks[v]++;
}

/* ---- rendering ---- */

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void
escape_label(const char *s, char *dst, size_t dstlen)
{
	size_t	 n = 0;

	for (; *s != '\0' && n + 3 < dstlen; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n') {
			dst[n++] = '\\';
			dst[n++] = *s == '\n' ? 'n' : *s;
		} else
			dst[n++] = *s;
	}
	dst[n] = '\0';
}

static void
family(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* One sample: name{instance_id="...",labels} value. */
static void
sample(struct evbuffer *out, const char *name, const char *labels,
    uint64_t v)
{
	evbuffer_add_printf(out, "%s{instance_id=\"%s\"%s%s} %llu\n", name,
	    M->instance, labels[0] ? "," : "", labels,
	    (unsigned long long)v);
}

static void
sample_each(struct evbuffer *out, const char *name, const char *label,
    const char *const *names, const uint64_t *v, size_t n)
{
	char	 l[64];
	size_t	 i;

	for (i = 0; i < n; i++) {
		snprintf(l, sizeof(l), "%s=\"%s\"", label, names[i]);
		sample(out, name, l, v[i]);
	}
}

static void
histogram(struct evbuffer *out, const char *name, const char *help,
    const struct histogram *h, const long *bounds, size_t n)
{
	char		 full[96], le[48];
	uint64_t	 cum = 0;
	size_t		 i;

	family(out, name, "histogram", help);
	snprintf(full, sizeof(full), "%s_bucket", name);
	for (i = 0; i < n; i++) {
		cum += h->bucket[i];
		snprintf(le, sizeof(le), "le=\"%ld.%03ld\"", bounds[i] / 1000,
		    bounds[i] % 1000);
		sample(out, full, le, cum);
	}
	sample(out, full, "le=\"+Inf\"", h->count);
	evbuffer_add_printf(out, "%s_sum{instance_id=\"%s\"} %llu.%03llu\n",
	    name, M->instance, (unsigned long long)(h->sum_ms / 1000),
	    (unsigned long long)(h->sum_ms % 1000));
	snprintf(full, sizeof(full), "%s_count", name);
	sample(out, full, "", h->count);
}

/* What the live tunnels hold now, summed. */
struct live_sum {
	uint64_t	 tunnels, streams, streams_total, in, out;
};

static void
live_sum_cb(void *arg, const struct router_tunnel *ti)
{
	struct live_sum	*s = arg;

	s->tunnels++;
	s->streams += ti->stats.streams;
	s->streams_total += ti->stats.streams_total;
	s->in += ti->stats.bytes_in;
	s->out += ti->stats.bytes_out;
}

static void
render_traffic(struct evbuffer *out)
{
	struct live_sum	 s;
	uint64_t	 bytes[2];
	static const char *const dirs[2] = { "in", "out" };

	memset(&s, 0, sizeof(s));
	router_foreach(M->c->router, live_sum_cb, &s);
	family(out, "uplink_tunnels", "gauge", "Tunnels open now.");
	sample(out, "uplink_tunnels", "", s.tunnels);
	family(out, "uplink_tunnels_opened_total", "counter",
	    "Tunnels accepted since the cloud started.");
	sample(out, "uplink_tunnels_opened_total", "", ctr.tunnels_up);
	family(out, "uplink_tunnels_closed_total", "counter",
	    "Tunnels closed since the cloud started.");
	sample(out, "uplink_tunnels_closed_total", "", ctr.tunnels_down);
	family(out, "uplink_streams", "gauge", "Streams open now.");
	sample(out, "uplink_streams", "", s.streams);
	family(out, "uplink_tunnel_streams_total", "counter",
	    "Streams carried by tunnels (opened on a tunnel, retries count).");
	sample(out, "uplink_tunnel_streams_total", "", ctr.closed_streams +
	    s.streams_total);
	family(out, "uplink_streams_total", "counter",
	    "Stream opens for clients (published services, ingress), by "
	    "outcome.");
	sample_each(out, "uplink_streams_total", "outcome", outcome_names,
	    ctr.streams, O_N);
	bytes[0] = ctr.closed_in + s.in;
	bytes[1] = ctr.closed_out + s.out;
	family(out, "uplink_tunnel_bytes_total", "counter",
	    "Stream payload through the tunnels: in from connectors, out to "
	    "them.");
	sample_each(out, "uplink_tunnel_bytes_total", "direction", dirs,
	    bytes, 2);
	histogram(out, "uplink_stream_open_seconds", "Time from a client's "
	    "stream request to the connector's answer (retries included).",
	    &ctr.open, open_bounds, NOPEN);
	histogram(out, "uplink_tunnel_rtt_seconds", "Tunnel ping round trips, "
	    "each tunnel's last one sampled every ping_interval.", &ctr.rtt,
	    rtt_bounds, NRTT);
}

static void
render_events(struct evbuffer *out)
{
	family(out, "uplink_tls_handshakes_total", "counter",
	    "TLS handshakes on the listener, by result.");
	sample_each(out, "uplink_tls_handshakes_total", "result", hs_names,
	    ctr.handshakes, METRICS_HS_N);
	family(out, "uplink_enrollments_total", "counter",
	    "Enrollments, by result (refused: 4xx, error: 5xx).");
	sample_each(out, "uplink_enrollments_total", "result", result_names,
	    ctr.enroll, RES_N);
	family(out, "uplink_renewals_total", "counter",
	    "Certificate renewals, by result (refused: 4xx, error: 5xx).");
	sample_each(out, "uplink_renewals_total", "result", result_names,
	    ctr.renew, RES_N);
	family(out, "uplink_checks_total", "counter",
	    "Connectivity checks run on connectors, by verdict.");
	sample_each(out, "uplink_checks_total", "verdict", verdict_names,
	    ctr.checks, V_N);
	family(out, "uplink_metrics_refused_total", "counter",
	    "Scrapes refused: address not allowed or bad key, or over a cap.");
	sample(out, "uplink_metrics_refused_total", "", ctr.refused_addr +
	    ctr.refused_auth);
}

static void
render_store(struct evbuffer *out)
{
	static const char name[] = "uplink_store_query_seconds";
	struct db_timing t;
	char		 le[48];
	uint64_t	 cum = 0;
	size_t		 i;

	db_timing_get(&t);
	family(out, name, "histogram", "Database statements, each from "
	    "prepare to finalize (rows read included), and BEGIN/COMMIT.");
	for (i = 0; i < DB_TIMING_BUCKETS; i++) {
		cum += t.bucket[i];
		snprintf(le, sizeof(le), "le=\"%lld.%06lld\"",
		    (long long)(db_timing_bounds_us[i] / 1000000),
		    (long long)(db_timing_bounds_us[i] % 1000000));
		sample(out, "uplink_store_query_seconds_bucket", le, cum);
	}
	sample(out, "uplink_store_query_seconds_bucket", "le=\"+Inf\"",
	    t.count);
	evbuffer_add_printf(out, "%s_sum{instance_id=\"%s\"} %llu.%06llu\n",
	    name, M->instance, (unsigned long long)(t.sum_us / 1000000),
	    (unsigned long long)(t.sum_us % 1000000));
	sample(out, "uplink_store_query_seconds_count", "", t.count);
}

static struct conn_ctr *
conn_ctr_find(const char *id, bool add)
{
	size_t	 i;

	for (i = 0; i < M->ncc; i++)
		if (strcmp(M->cc[i].id, id) == 0)
			return &M->cc[i];
	if (!add)
		return NULL;
	M->cc = xrealloc(M->cc, (M->ncc + 1) * sizeof(*M->cc));
	memset(&M->cc[M->ncc], 0, sizeof(M->cc[0]));
	snprintf(M->cc[M->ncc].id, sizeof(M->cc[0].id), "%s", id);
	return &M->cc[M->ncc++];
}

/* The connector-side counters, per unrevoked connector that sent them. */
static void
render_connector_counters(struct evbuffer *out, const struct live_list *l)
{
	const struct conn_ctr	*cc;
	char			 id[160], lab[256];
	size_t			 i, k;

	family(out, "uplink_connector_streams_refused_total", "counter",
	    "Streams the connector refused, by code, as it reports them "
	    "(GET /v1/info), since it started.");
	for (i = 0; i < l->n; i++) {
		cc = conn_ctr_find(l->v[i].sc.id, false);
		if (l->v[i].sc.revoked_at != 0 || cc == NULL || !cc->have)
			continue;
		escape_label(cc->id, id, sizeof(id));
		for (k = 0; k < NREFUSAL; k++) {
			snprintf(lab, sizeof(lab), "connector=\"%s\",code=\"%s\"",
			    id, refusal_codes[k]);
			sample(out, "uplink_connector_streams_refused_total", lab,
			    cc->refused[k]);
		}
	}
	family(out, "uplink_connector_checks_total", "counter",
	    "Connectivity checks the connector ran for the cloud, as it "
	    "reports them, since it started.");
	for (i = 0; i < l->n; i++) {
		cc = conn_ctr_find(l->v[i].sc.id, false);
		if (l->v[i].sc.revoked_at != 0 || cc == NULL || !cc->have)
			continue;
		escape_label(cc->id, id, sizeof(id));
		snprintf(lab, sizeof(lab), "connector=\"%s\"", id);
		sample(out, "uplink_connector_checks_total", lab, cc->checks);
	}
	family(out, "uplink_connector_check_failures_total", "counter",
	    "Of those checks, the ones with an address that failed.");
	for (i = 0; i < l->n; i++) {
		cc = conn_ctr_find(l->v[i].sc.id, false);
		if (l->v[i].sc.revoked_at != 0 || cc == NULL || !cc->have)
			continue;
		escape_label(cc->id, id, sizeof(id));
		snprintf(lab, sizeof(lab), "connector=\"%s\"", id);
		sample(out, "uplink_connector_check_failures_total", lab,
		    cc->checks_failed);
	}
}

/* Connectors by state, and the per-connector series (unrevoked only). */
static void
render_connectors(struct evbuffer *out)
{
	static const char *const states[] = { "online", "degraded",
	    "draining", "offline", "revoked" };
	struct live_list l;
	uint64_t	 n[5] = { 0 };
	char		 err[256], id[160], site[160], ver[80], lab[512];
	const char	*st, *v;
	size_t		 i, k;

	if (live_collect(M->c, 0, true, &l, err, sizeof(err)) != 0) {
		log_warnx("metrics: cannot list the connectors: %s", err);
		return;
	}
	for (i = 0; i < l.n; i++) {
		st = live_state(&l.v[i]);
		for (k = 0; k < 5; k++)
			if (strcmp(st, states[k]) == 0)
				n[k]++;
	}
	family(out, "uplink_connectors", "gauge", "Enrolled connectors, by "
	    "state (as GET /api/v1/connectors shows it).");
	sample_each(out, "uplink_connectors", "state", states, n, 5);
	family(out, "uplink_connector_tunnels", "gauge", "Tunnels open now, "
	    "per unrevoked connector.");
	for (i = 0; i < l.n; i++) {
		if (l.v[i].sc.revoked_at != 0)
			continue;
		escape_label(l.v[i].sc.id, id, sizeof(id));
		escape_label(l.v[i].site, site, sizeof(site));
		snprintf(lab, sizeof(lab), "connector=\"%s\",site=\"%s\"", id,
		    site);
		sample(out, "uplink_connector_tunnels", lab, l.v[i].tunnels);
	}
	family(out, "uplink_connector_tunnels_declared", "gauge", "Tunnels "
	    "the connector says it keeps (GET /v1/info), 0 if it never said.");
	for (i = 0; i < l.n; i++) {
		if (l.v[i].sc.revoked_at != 0)
			continue;
		escape_label(l.v[i].sc.id, id, sizeof(id));
		snprintf(lab, sizeof(lab), "connector=\"%s\"", id);
		sample(out, "uplink_connector_tunnels_declared", lab,
		    l.v[i].expected > 0 ? (uint64_t)l.v[i].expected : 0);
	}
	family(out, "uplink_connector_info", "gauge", "1 per unrevoked "
	    "connector, with the version it reported (GET /v1/info).");
	for (i = 0; i < l.n; i++) {
		if (l.v[i].sc.revoked_at != 0)
			continue;
		v = l.v[i].version[0] ? l.v[i].version : l.v[i].sc.version;
		escape_label(l.v[i].sc.id, id, sizeof(id));
		escape_label(v[0] ? v : "unknown", ver, sizeof(ver));
		snprintf(lab, sizeof(lab), "connector=\"%s\",version=\"%s\"",
		    id, ver);
		sample(out, "uplink_connector_info", lab, 1);
	}
	render_connector_counters(out, &l);
	live_free(&l);
}

static void
render(struct evbuffer *out)
{
	char	 ver[64];

	escape_label(UPLINK_VERSION, ver, sizeof(ver));
	family(out, "uplink_cloud_info", "gauge", "Always 1: the cloud's "
	    "version.");
	evbuffer_add_printf(out, "uplink_cloud_info{instance_id=\"%s\","
	    "version=\"%s\"} 1\n", M->instance, ver);
	family(out, "uplink_cloud_start_time_seconds", "gauge",
	    "When the cloud started, seconds since the epoch.");
	sample(out, "uplink_cloud_start_time_seconds", "",
	    (uint64_t)M->started);
	render_connectors(out);
	render_traffic(out);
	render_events(out);
	render_store(out);
}

/* ---- serving ---- */

static void
conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct mconn	**pp, *mc;

	(void)arg;
	for (pp = &M->conns; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->evcon == evcon) {
			mc = *pp;
			*pp = mc->next;
			addrcount_release(M->ac, (struct sockaddr *)&mc->sa);
			free(mc);
			return;
		}
}

/*
 * The connection's slot: found, or taken now. evhttp accepts on its own,
 * so the cap is applied at the first request of a connection (idle ones
 * are ended by the timeout). false: over a cap.
 */
static bool
conn_admit(struct evhttp_connection *evcon, const struct sockaddr *sa,
    socklen_t salen)
{
	struct mconn	*mc;

	for (mc = M->conns; mc != NULL; mc = mc->next)
		if (mc->evcon == evcon)
			return true;
	if (salen > sizeof(mc->sa) || addrcount_take(M->ac, sa) != 0)
		return false;
	mc = xcalloc(1, sizeof(*mc));
	mc->evcon = evcon;
	memcpy(&mc->sa, sa, salen);
	mc->next = M->conns;
	M->conns = mc;
	evhttp_connection_set_closecb(evcon, conn_close_cb, NULL);
	return true;
}

static void
reply_text(struct evhttp_request *req, int status, const char *reason,
    const char *text)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (status == 401)
		evhttp_add_header(h, "WWW-Authenticate", "Bearer realm=\"uplink "
		    "metrics\"");
	evbuffer_add_printf(evhttp_request_get_output_buffer(req), "%s\n",
	    text);
	evhttp_send_reply(req, status, reason, NULL);
}

static void
refuse(struct evhttp_request *req, const char *peer, int status,
    const char *reason, const char *why)
{
	unsigned	 quiet;

	ctr.refused_auth++;
	if (log_rate_allow(&M->refuse_rate, 5, 10000, &quiet))
		log_info("metrics: %s: refused: %s%s", peer, why, quiet ?
		    " (and others not logged)" : "");
	reply_text(req, status, reason, why);
}

/*
 * Whether the client may scrape: its address in allow, or a key with the
 * metrics right. Answers the request itself when not.
 */
static bool
authorize(struct evhttp_request *req, const struct sockaddr *sa,
    const char *peer)
{
	const struct cloud_config *cfg = &M->c->cfg;
	struct store_apikey	 k;
	const char		*hdr;
	char			 err[256], why[320];

	if (cidr_match(cfg->metrics_allow, cfg->metrics_nallow, sa))
		return true;
	hdr = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (hdr == NULL) {
		if (cfg->metrics_nallow > 0)
			refuse(req, peer, 403, "Forbidden", "this address is not "
			    "in [metrics] allow; scrape from an allowed "
			    "address or send Authorization: Bearer KEY (scope "
			    "metrics)");
		else
			refuse(req, peer, 401, "Unauthorized", "send "
			    "Authorization: Bearer KEY with an API key of scope "
			    "metrics (uplink-cloud key create --scope metrics)");
		return false;
	}
	if (strncasecmp(hdr, "Bearer ", 7) != 0) {
		refuse(req, peer, 401, "Unauthorized", "the Authorization "
		    "header must be \"Bearer uk_...\" with an API key");
		return false;
	}
	if (apikey_verify(M->c->dd.st, hdr + 7, &k, err, sizeof(err)) != 0) {
		refuse(req, peer, 401, "Unauthorized", err);
		return false;
	}
	if (!apikey_allows(k.scope, APIKEY_METRICS)) {
		snprintf(why, sizeof(why), "API key %s has scope %s, which does "
		    "not open /metrics: use a key with scope metrics", k.id,
		    k.scope);
		refuse(req, peer, 403, "Forbidden", why);
		return false;
	}
	return true;
}

static void
metrics_cb(struct evhttp_request *req, void *arg)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const struct sockaddr	*sa;
	const char		*path = evhttp_request_get_uri(req);
	struct evbuffer		*out;
	char			 peer[64];
	size_t			 plen = strcspn(path, "?");

	(void)arg;
	sa = evcon != NULL ? evhttp_connection_get_addr(evcon) : NULL;
	if (sa == NULL || (sa->sa_family != AF_INET &&
	    sa->sa_family != AF_INET6)) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	cloud_peer_name(sa, peer, sizeof(peer));
	if (!conn_admit(evcon, sa, sa->sa_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6))) {
		ctr.refused_addr++;
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		reply_text(req, 503, "Busy", "too many connections from this "
		    "address");
		return;
	}
	if (plen != 8 || strncmp(path, "/metrics", 8) != 0) {
		reply_text(req, 404, "Not Found", "try /metrics");
		return;
	}
	if (!authorize(req, sa, peer))
		return;
	out = evhttp_request_get_output_buffer(req);
	render(out);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", METRICS_CTYPE);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Cache-Control", "no-store");
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void
rtt_sample_cb(void *arg, const struct router_tunnel *ti)
{
	(void)arg;
	if (ti->stats.rtt_ms >= 0)
		observe(&ctr.rtt, rtt_bounds, NRTT, ti->stats.rtt_ms);
}

/* A counter from the connector's JSON, kept when absent or not sane. */
static void
ctr_read(json_t *obj, const char *name, uint64_t *v)
{
	json_t	*n = json_object_get(obj, name);

	if (json_is_integer(n) && json_integer_value(n) >= 0)
		*v = (uint64_t)json_integer_value(n);
}

static void
info_reply_cb(void *arg, struct tunnel *t, int status, const char *body)
{
	char		*id = arg;
	struct conn_ctr	*cc;
	json_t		*j, *ctrs, *ref;
	size_t		 k;

	(void)t;
	cc = M != NULL ? conn_ctr_find(id, false) : NULL;
	free(id);
	if (cc == NULL)
		return;
	cc->asking = false;
	if (status != 200 || body == NULL)
		return;
	j = json_loads(body, 0, NULL);
	ctrs = json_object_get(j, "counters");
	if (json_is_object(ctrs)) {
		ref = json_object_get(ctrs, "refused");
		for (k = 0; k < NREFUSAL; k++)
			ctr_read(ref, refusal_codes[k], &cc->refused[k]);
		ctr_read(ctrs, "checks", &cc->checks);
		ctr_read(ctrs, "checks_failed", &cc->checks_failed);
		cc->have = true;
	}
	json_decref(j);
}

/* Asks each connector with a tunnel for its counters (one at a time). */
static void
info_ask_cb(void *arg, const struct router_tunnel *ti)
{
	struct conn_ctr	*cc = conn_ctr_find(ti->connector, true);
	char		*id;

	(void)arg;
	if (cc->asking)
		return;
	id = xstrdup(ti->connector);
	cc->asking = true;
	if (router_request(M->c->router, ti->connector, "/v1/info",
	    METRICS_INFO_TIMEOUT_MS, info_reply_cb, id) != 0) {
		cc->asking = false;
		free(id);
	}
}

static void
rtt_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	router_foreach(((struct metrics *)arg)->c->router, rtt_sample_cb,
	    NULL);
	router_foreach(((struct metrics *)arg)->c->router, info_ask_cb, NULL);
}

/* [metrics] instance, else the host (and port) of the cloud's URL. */
static void
metrics_instance(struct metrics *m)
{
	const struct cloud *c = m->c;
	char		 host[256];
	const char	*name = c->cfg.metrics_instance;

	if (name[0] == '\0' && strncmp(c->dd.url, "https://", 8) == 0 &&
	    c->dd.url[8] != '\0')
		name = c->dd.url + 8;
	if (name[0] == '\0') {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "uplink-cloud");
		host[sizeof(host) - 1] = '\0';
		name = host;
	}
	escape_label(name, m->instance, sizeof(m->instance));
}

int
metrics_start(struct cloud *c, char *err, size_t errlen)
{
	struct metrics		*m;
	struct evconnlistener	*lev;
	struct timeval		 tv = { c->cfg.ping_interval, 0 };
	char			 where[HOSTPORT_HOST_MAX + 16];

	if (!c->cfg.metrics_enabled)
		return 0;
	m = xcalloc(1, sizeof(*m));
	m->c = c;
	m->started = time(NULL);
	M = m;
	metrics_instance(m);
	m->ac = addrcount_new(METRICS_PER_ADDR, METRICS_TOTAL);
	m->http = evhttp_new(c->base);
	m->rtt_timer = event_new(c->base, -1, EV_PERSIST, rtt_timer_cb, m);
	if (m->http == NULL || m->rtt_timer == NULL)
		fatalx("out of memory");
	evhttp_set_max_headers_size(m->http, METRICS_HEADERS_MAX);
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_timeout(m->http, METRICS_TIMEOUT_SECS);
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(m->http, metrics_cb, m);
	lev = cloud_listen(c, &c->cfg.metrics_listen, NULL, NULL,
	    "the metrics listener (listen in [metrics])", err, errlen);
	if (lev == NULL)
		return -1;
	/* evhttp owns lev from here (evhttp_free closes it). */
	if (evhttp_bind_listener(m->http, lev) == NULL) {
		cloud_listen_free(lev);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	event_add(m->rtt_timer, &tv);
	hostport_format(where, sizeof(where), c->cfg.metrics_listen.host,
	    c->cfg.metrics_listen.port);
	log_info("metrics: http://%s/metrics for %s%s, instance_id \"%s\"",
	    where, c->cfg.metrics_nallow ? "the addresses in [metrics] allow "
	    "and " : "", "API keys with scope metrics or full", m->instance);
	return 0;
}

void
metrics_free(struct cloud *c)
{
	struct metrics	*m = M;
	struct mconn	*mc;

	(void)c;
	if (m == NULL)
		return;
	if (m->http != NULL)
		evhttp_free(m->http);	/* runs conn_close_cb for each */
	while ((mc = m->conns) != NULL) {
		m->conns = mc->next;
		free(mc);
	}
	if (m->rtt_timer != NULL)
		event_free(m->rtt_timer);
	free(m->cc);
	addrcount_free(m->ac);
	free(m);
	M = NULL;
}
