#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <sodium.h>

#include "cloud.h"
#include "addrcount.h"
#include "alerts.h"
#include "api.h"
#include "checks.h"
#include "cluster.h"
#include "daemon.h"
#include "dial.h"
#include "edge.h"
#include "front.h"
#include "ingress.h"
#include "error.h"
#include "events.h"
#include "log.h"
#include "logs.h"
#include "metrics.h"
#include "nofile.h"
#include "notify.h"
#include "peer.h"
#include "publish.h"
#include "proxygate.h"
#include "pwverify.h"
#include "rollout.h"
#include "router.h"
#include "sdnotify.h"
#include "servercert.h"
#include "status.h"
#include "store.h"
#include "version.h"
#include "xmalloc.h"

/*
 * uplink-cloud run: the daemon. It reads its configuration, opens the data
 * directory, starts every listener, then runs the event loop until SIGTERM
 * or SIGINT. Changes other commands make to the database (a revoked
 * connector) are noticed by polling SQLite's data_version twice a second.
 */

#define WATCH_MS	500

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-cloud run [--config FILE] [--check-config]\n"
"\n"
"Runs the uplink cloud: the TLS listener for enrollment, renewal and\n"
"connector tunnels; the plain HTTP listener with the CA certificate and\n"
"the CRL; the published services; and the ingress proxy.\n"
"\n"
"  --config FILE     configuration (default %s);\n"
"                    see docs/cloud.md for every key\n"
"  --check-config    validate the configuration, the data directory and\n"
"                    the TLS files, then exit (0 when all is well)\n"
"\n"
"Logs go to standard error. SIGTERM or SIGINT stops the daemon: tunnels\n"
"are told to go away (GOAWAY) and connections are closed. SIGHUP re-reads\n"
"the configuration and applies log_level (the rest at the next restart).\n"
"Under systemd (Type=notify) it reports READY and STATUS; see\n"
"docs/install.md.\n",
	    CLOUDCONF_DEFAULT_PATH);
}

/*
 * Accept errors. When the process is out of descriptors (EMFILE, ENFILE)
 * accept() fails while the listening socket stays readable: without a
 * pause the loop spins at full CPU and libevent logs every failure. Each
 * listener made by cloud_listen() (or given to cloud_listen_guard()) is
 * disabled instead for 100 ms, doubling up to 1 s while errors go on; the
 * waiting clients stay in the kernel's backlog meanwhile. libevent hands
 * the error callback the accept callback's argument, not ours, so the
 * listeners are found in this process-wide list by their pointer.
 */
#define LISTEN_PAUSE_MIN_MS	100
#define LISTEN_PAUSE_MAX_MS	1000
#define LISTEN_CALM_MS		2000	/* a pause after this long restarts at the minimum */

struct lguard {
	struct lguard		*next;
	struct cloud		*c;
	struct evconnlistener	*lev;
	struct event		*timer;
	int64_t			 last_ms;
	int			 pause_ms;
	struct proxygate	*gate;		/* LISTEN_PROXY */
	evconnlistener_cb	 cb;		/* for cloud_listen_close() */
	void			*arg;
	char			 what[96];
};

static struct lguard	*lguards;
static struct log_rate	 lguard_log;
static unsigned long	 lguard_pauses;

static struct lguard *
lguard_find(struct evconnlistener *lev)
{
	struct lguard	*g;

	for (g = lguards; g != NULL; g = g->next)
		if (g->lev == lev)
			return g;
	return NULL;
}

static void
lguard_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lguard	*g = arg;

	(void)fd;
	(void)what;
	if (!g->c->stopping)
		evconnlistener_enable(g->lev);
}

static void
lguard_error_cb(struct evconnlistener *lev, void *arg)
{
	struct lguard	*g = lguard_find(lev);
	int		 e = EVUTIL_SOCKET_ERROR();
	int64_t		 now = dial_now_ms();
	unsigned	 more;
	struct timeval	 tv;
	char		 shown[48];

	(void)arg;
	if (g == NULL)
		return;
	if (g->pause_ms == 0 || now - g->last_ms > LISTEN_CALM_MS)
		g->pause_ms = LISTEN_PAUSE_MIN_MS;
	else if (g->pause_ms < LISTEN_PAUSE_MAX_MS)
		g->pause_ms = g->pause_ms * 2 > LISTEN_PAUSE_MAX_MS ?
		    LISTEN_PAUSE_MAX_MS : g->pause_ms * 2;
	g->last_ms = now;
	lguard_pauses++;
	evconnlistener_disable(lev);
	tv.tv_sec = g->pause_ms / 1000;
	tv.tv_usec = (g->pause_ms % 1000) * 1000;
	evtimer_add(g->timer, &tv);
	if (!log_rate_allow(&lguard_log, 3, 10000, &more))
		return;
	snprintf(shown, sizeof(shown), ", %u such lines not shown", more);
	log_warnx("%s: cannot accept connections: %s; pausing it for %d ms "
	    "(%lu pauses so far%s)%s", g->what, strerror(e), g->pause_ms,
	    lguard_pauses, more > 0 ? shown : "", e == EMFILE || e == ENFILE ?
	    "; raise the descriptor limit (LimitNOFILE= in systemd) or lower "
	    "the connection caps in [limits]" : "");
}

void
cloud_listen_guard(struct cloud *c, struct evconnlistener *lev,
    const char *what)
{
	struct lguard	*g = xcalloc(1, sizeof(*g));

	g->c = c;
	g->lev = lev;
	g->timer = evtimer_new(c->base, lguard_resume_cb, g);
	if (g->timer == NULL)
		fatalx("out of memory");
	snprintf(g->what, sizeof(g->what), "%s", what);
	g->next = lguards;
	lguards = g;
	evconnlistener_set_error_cb(lev, lguard_error_cb);
}

void
cloud_listen_free(struct evconnlistener *lev)
{
	struct lguard	**pp, *g;

	if (lev == NULL)
		return;
	for (pp = &lguards; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->lev == lev) {
			g = *pp;
			*pp = g->next;
			event_free(g->timer);
			proxygate_free(g->gate);
			free(g);
			break;
		}
	}
	evconnlistener_free(lev);
}

/* Forgets every guard (their listeners are freed by their owners). */
static void
cloud_listen_guards_free(void)
{
	struct lguard	*g;

	while ((g = lguards) != NULL) {
		lguards = g->next;
		event_free(g->timer);
		proxygate_free(g->gate);
		free(g);
	}
}

struct evconnlistener *
cloud_listen(struct cloud *c, const struct hostport *hp, evconnlistener_cb cb,
    void *arg, const char *what, char *err, size_t errlen)
{
	return cloud_listen_ext(c, hp, 0, cb, arg, what, err, errlen);
}

/*
 * LISTEN_PROXY puts a PROXY protocol gate (cloud/proxygate.c) in front of
 * cb when [cluster] proxy_from lists addresses; LISTEN_REUSEPORT lets
 * other instances on this machine bind the same port when reuseport is on
 * ([cluster] reuseport, by default on in cluster mode).
 */
struct evconnlistener *
cloud_listen_ext(struct cloud *c, const struct hostport *hp, int flags,
    evconnlistener_cb cb, void *arg, const char *what, char *err,
    size_t errlen)
{
	struct evutil_addrinfo	 hints, *ai = NULL;
	struct evconnlistener	*lev;
	struct proxygate	*gate = NULL;
	unsigned		 opts = LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
	char			 port[8];
	int			 rv;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICHOST;
	snprintf(port, sizeof(port), "%u", hp->port);
	rv = evutil_getaddrinfo(hp->host, port, &hints, &ai);
	if (rv != 0) {
		snprintf(err, errlen, "%s: %s is not an address: use an IPv4 or "
		    "[IPv6] address and a port", what, hp->host);
		return NULL;
	}
	if ((flags & LISTEN_REUSEPORT) && cloud_reuseport(c))
		opts |= LEV_OPT_REUSEABLE_PORT;
	if ((flags & LISTEN_PROXY) && cb != NULL && c->cfg.nproxy_from > 0) {
		gate = proxygate_new(c, flags, cb, arg, what);
		cb = proxygate_accept_cb;
		arg = gate;
	}
	lev = evconnlistener_new_bind(c->base, cb, arg, opts, 512, ai->ai_addr,
	    (int)ai->ai_addrlen);
	evutil_freeaddrinfo(ai);
	if (lev == NULL) {
		snprintf(err, errlen, "%s: cannot listen on %s:%u: %s%s", what,
		    hp->host, hp->port, strerror(errno), errno == EACCES ?
		    " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" :
		    errno == EADDRINUSE ? " (another program has it)" : "");
		proxygate_free(gate);
		return NULL;
	}
	cloud_listen_guard(c, lev, what);
	lguard_find(lev)->gate = gate;
	lguard_find(lev)->cb = cb;
	lguard_find(lev)->arg = arg;
	return lev;
}

/*
 * Closing a listening socket resets the connections the kernel completed
 * but nobody accepted yet: a load balancer had already handed them its
 * clients. They are accepted first and served like any other.
 */
#define LISTEN_CLOSE_ACCEPT_MAX	4096

void
cloud_listen_close(struct evconnlistener *lev)
{
	struct lguard		*g = lev != NULL ? lguard_find(lev) : NULL;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	evutil_socket_t		 fd;
	int			 n;

	for (n = 0; g != NULL && g->cb != NULL && n < LISTEN_CLOSE_ACCEPT_MAX;
	    n++) {
		len = sizeof(ss);
		fd = accept4(evconnlistener_get_fd(lev), (struct sockaddr *)&ss,
		    &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1)
			break;
		g->cb(lev, fd, (struct sockaddr *)&ss, (int)len, g->arg);
	}
	cloud_listen_free(lev);
}

bool
cloud_reuseport(const struct cloud *c)
{
	if (c->cfg.reuseport >= 0)
		return c->cfg.reuseport == 1;
	return cluster_enabled(c);
}

/* Cluster SIGTERM: published ports still open (stop_cluster()). */
static bool	 stop_lame_duck;

static void
drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cloud	*c = arg;

	(void)fd;
	(void)what;
	log_warnx("stopping: %zu tunnel%s still busy after %lld s; closing "
	    "them", router_tunnels(c->router),
	    router_tunnels(c->router) == 1 ? "" : "s",
	    (long long)c->cfg.drain_timeout);
	event_base_loopexit(c->base, NULL);
}

/*
 * Exits once every tunnel has finished its streams and closed: polled every
 * 100 ms, and run at once by the router when its last tunnel closes.
 */
static void
drain_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cloud	*c = arg;

	(void)fd;
	(void)what;
	/* Streams forwarded to other instances finish too. */
	if (peer_streams(c) > 0)
		return;
	if (router_tunnels(c->router) == 0 && !stop_lame_duck) {
		log_info("stopping: every tunnel is closed");
		event_base_loopexit(c->base, NULL);
	}
}

/* The published ports and the ingress close at the end of the grace. */
static void
stop_listeners_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cloud	*c = arg;

	(void)fd;
	(void)what;
	publish_stop(c->publish);
	ingress_stop(c->ingress);
	stop_lame_duck = false;
}

static void
stop_goaway_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cloud	*c = arg;
	char		 why[128];

	(void)fd;
	(void)what;
	snprintf(why, sizeof(why), "reconnect; instance draining; instance=%s",
	    cluster_self(c));
	router_goaway(c->router, why);
}

/*
 * SIGTERM in a cluster (docs/cluster.md): this instance is marked
 * draining (by stop_cb), so that no instance offers it to connectors; each
 * connector is asked to move its tunnel (it opens one on another instance
 * first, then drains this one); whatever is still here after
 * STOP_MOVE_SECS (or half of drain_timeout if shorter) is sent GOAWAY.
 *
 * The published ports and the ingress proxy go on accepting for
 * STOP_LAME_DUCK_MS (their streams are carried, forwarded if need be)
 * while GET /ready fails: a load balancer stops sending clients here
 * before the ports close, rather than finding them closed (a client it
 * already handed over would be reset).
 */
#define STOP_MOVE_SECS		10
#define STOP_LAME_DUCK_MS	2000

static void
stop_cluster(struct cloud *c)
{
	struct timeval	 tv = { STOP_MOVE_SECS, 0 };
	struct timeval	 lame = { STOP_LAME_DUCK_MS / 1000,
	    (STOP_LAME_DUCK_MS % 1000) * 1000 };
	char		 why[128];

	if (c->cfg.drain_timeout / 2 < STOP_MOVE_SECS)
		tv.tv_sec = (time_t)(c->cfg.drain_timeout / 2);
	snprintf(why, sizeof(why), "reconnect; instance draining; instance=%s",
	    cluster_self(c));
	log_info("stopping: instance %s draining; asking %zu tunnel%s to move "
	    "to other instances", cluster_self(c), router_tunnels(c->router),
	    router_tunnels(c->router) == 1 ? "" : "s");
	router_move_hint(c->router, "/v1/reconnect", why);
	event_base_once(c->base, -1, EV_TIMEOUT, stop_goaway_cb, c, &tv);
	stop_lame_duck = true;
	event_base_once(c->base, -1, EV_TIMEOUT, stop_listeners_cb, c, &lame);
}

/*
 * SIGTERM: stop accepting, tell every connector to go away and come back
 * in a moment (GOAWAY "retry-after"), let open streams finish within
 * drain_timeout, then exit. A second signal exits at once. The cloud's own
 * requests on the tunnels (GET /v1/info, /v1/check) are reset by the
 * GOAWAY, not waited for: an idle cloud exits at once.
 */
static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct cloud	*c = arg;
	struct timeval	 tv = { c->cfg.drain_timeout, 0 };
	struct timeval	 check = { 0, 100 * 1000 };
	char		 why[96];

	(void)what;
	if (c->stopping) {
		log_info("%s again: exiting now", strsignal(sig));
		event_base_loopbreak(c->base);
		return;
	}
	log_info("%s: stopping; open streams have %lld s to finish",
	    strsignal(sig), (long long)c->cfg.drain_timeout);
	sdnotify_stopping();
	c->stopping = true;
	cluster_draining(c);
	front_stop(c->front);
	/* The log streams end, so that they hold no tunnel open. */
	logs_drain(c);
	if (cluster_enabled(c))
		stop_cluster(c);
	else {
		publish_stop(c->publish);
		ingress_stop(c->ingress);
		/* Come back in N to 2N s: a second per 1000 tunnels, at least 1. */
		snprintf(why, sizeof(why), "the cloud is shutting down; "
		    "retry-after=%zu", 1 + router_tunnels(c->router) / 1000);
		router_goaway(c->router, why);
	}
	c->drain_timer = evtimer_new(c->base, drain_timeout_cb, c);
	evtimer_add(c->drain_timer, &tv);
	c->drain_check = event_new(c->base, -1, EV_PERSIST, drain_check_cb, c);
	event_add(c->drain_check, &check);
	status_write(c);
}

/* systemd's STATUS= line (Type=notify); sent only when it changes. */
static void
run_status(struct cloud *c)
{
	char	 status[128];
	size_t	 n = router_tunnels(c->router);

	snprintf(status, sizeof(status), "%zu connector tunnel%s up", n,
	    n == 1 ? "" : "s");
	sdnotify_status(status);
}

/*
 * SIGHUP (systemctl reload): re-reads the configuration file and applies
 * its log_level; every other key takes effect at the next restart, which
 * the log says. A file that no longer loads changes nothing.
 */
static const char	*run_config;
static struct event	*run_sig_hup;

static void
reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct cloud		*c = arg;
	struct cloud_config	 cfg;
	char			 err[1024];

	(void)sig;
	(void)what;
	sdnotify_reloading();
	memset(&cfg, 0, sizeof(cfg));
	if (cloudconf_load(run_config, &cfg, err, sizeof(err)) != 0)
		log_warnx("SIGHUP: keeping the running configuration: %s", err);
	else {
		c->cfg.log_level = cfg.log_level;
		log_setlevel(cfg.log_level);
		log_info("SIGHUP: reloaded %s: log_level applied; other "
		    "changes take effect at the next restart", run_config);
		cloudconf_free(&cfg);
	}
	sdnotify_reloaded();
}

static int
revoked_hash_cb(void *arg, const char *serial, int64_t revoked_at,
    int64_t not_after)
{
	(void)revoked_at;
	(void)not_after;
	crypto_generichash_update(arg, (const unsigned char *)serial,
	    strlen(serial) + 1);
	return 0;
}

/*
 * Whether the revoked serials differ from those of the last CRL built
 * here. Rebuilding takes a new CRL number, a write: on PostgreSQL that
 * moves the data version for the other instances, which rebuilt theirs,
 * and two instances kept each other rebuilding (and their event loops
 * waiting on the database) a hundred times a second.
 */
static bool
revoked_changed(struct cloud *c)
{
	static unsigned char		 last[crypto_generichash_BYTES];
	static bool			 known;
	crypto_generichash_state	 st;
	unsigned char			 now[sizeof(last)];
	char				 err[256];

	crypto_generichash_init(&st, NULL, 0, sizeof(now));
	if (store_revoked_serials(c->dd.st, revoked_hash_cb, &st, err,
	    sizeof(err)) != UPLINK_OK)
		return true;
	crypto_generichash_final(&st, now, sizeof(now));
	if (known && memcmp(now, last, sizeof(now)) == 0)
		return false;
	memcpy(last, now, sizeof(now));
	known = true;
	return true;
}

static void
watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cloud	*c = arg;
	int64_t		 v;
	char		 err[256];
	int		 rc;

	(void)fd;
	(void)what;
	run_status(c);
	router_settle_heap(c->router);
	/* While PostgreSQL is unavailable its breaker has logged it once. */
	rc = store_data_version(c->dd.st, &v, err, sizeof(err));
	if (rc == UPLINK_EUNAVAIL)
		return;
	if (rc != 0) {
		log_warnx("database: %s", err);
		return;
	}
	if (v == c->data_version)
		return;
	c->data_version = v;
	router_sweep_revoked(c->router);
	ingress_sweep_revoked(c->ingress);
	if (revoked_changed(c) && api_crl_refresh(c, err, sizeof(err)) != 0)
		log_warnx("cannot rebuild the CRL: %s", err);
	publish_sync(c);
}

static void
cloud_limits(struct cloud *c)
{
	tunnel_limits_default(&c->lim);
	c->lim.max_streams = c->cfg.streams_per_tunnel;
	c->lim.stream_buffer = c->cfg.stream_buffer;
	c->lim.header_bytes = c->cfg.header_bytes;
	c->lim.pending_connects = c->cfg.pending_connects;
	c->lim.ping_interval_ms = (int)c->cfg.ping_interval * 1000;
	c->lim.ping_misses = (int)c->cfg.ping_misses;
}

static void
count_cb(void *arg, const struct publish_info *info)
{
	(void)info;
	(*(size_t *)arg)++;
}

static int
cloud_start(struct cloud *c, char *err, size_t errlen)
{
	struct timeval	 tv = { 0, WATCH_MS * 1000 };

	c->base = event_base_new();
	if (c->base == NULL) {
		snprintf(err, errlen, "cannot create the event loop");
		return -1;
	}
	cloud_limits(c);
	/* Each HTTPS connection costs three descriptors, each tunnel one. */
	c->nofile = nofile_raise();
	c->enroll.dd = &c->dd;
	c->enroll.cert_lifetime = c->cfg.cert_lifetime;
	c->router = router_new(c);
	/* Before front_start(), which loads the certificate it may renew. */
	if (servercert_start(c, err, errlen) != 0)
		return -1;
	if (api_start(c, err, errlen) != 0 || front_start(c, err, errlen) != 0 ||
	    publish_start(c, err, errlen) != 0 ||
	    ingress_start(c, err, errlen) != 0)
		return -1;
	if (store_data_version(c->dd.st, &c->data_version, err, errlen) != 0 ||
	    status_start(c, err, errlen) != 0 ||
	    checks_start(c, err, errlen) != 0 ||
	    notify_start(c, err, errlen) != 0 ||
	    alerts_start(c, err, errlen) != 0 ||
	    events_start(c, err, errlen) != 0 ||
	    logs_start(c, err, errlen) != 0 ||
	    rollout_start(c, err, errlen) != 0 ||
	    pwverify_start(c, err, errlen) != 0 ||
	    metrics_start(c, err, errlen) != 0 ||
	    cluster_start(c, err, errlen) != 0 ||
	    peer_start(c, err, errlen) != 0)
		return -1;
	edge_start(c);
	c->watch = event_new(c->base, -1, EV_PERSIST, watch_cb, c);
	event_add(c->watch, &tv);
	c->sig_term = evsignal_new(c->base, SIGTERM, stop_cb, c);
	c->sig_int = evsignal_new(c->base, SIGINT, stop_cb, c);
	event_add(c->sig_term, NULL);
	event_add(c->sig_int, NULL);
	run_sig_hup = evsignal_new(c->base, SIGHUP, reload_cb, c);
	event_add(run_sig_hup, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static void
cloud_stop(struct cloud *c)
{
	publish_free(c->publish);
	publish_sync_free();
	ingress_free(c->ingress);
	front_free(c->front);
	metrics_free(c);
	edge_free(c);
	peer_free(c);
	cluster_free(c);
	rollout_free(c);
	notify_free(c);
	alerts_free(c);
	pwverify_free(c);
	logs_free(c);
	events_free(c);
	/* Checks in flight end when their tunnels do, so the router first. */
	router_free(c->router);
	checks_free(c);
	if (c->api != NULL)
		evhttp_free(c->api);
	if (c->http != NULL)
		evhttp_free(c->http);
	if (c->watch != NULL)
		event_free(c->watch);
	if (c->crl_timer != NULL)
		event_free(c->crl_timer);
	servercert_free(c);
	if (c->status_timer != NULL)
		event_free(c->status_timer);
	if (c->drain_timer != NULL)
		event_free(c->drain_timer);
	if (c->drain_check != NULL)
		event_free(c->drain_check);
	if (c->sig_term != NULL)
		event_free(c->sig_term);
	if (c->sig_int != NULL)
		event_free(c->sig_int);
	if (run_sig_hup != NULL)
		event_free(run_sig_hup);
	run_sig_hup = NULL;
	cloud_listen_guards_free();
	SSL_CTX_free(c->tls);
	buf_free(&c->ca_pem);
	buf_free(&c->crl_der);
	datadir_close(&c->dd);
	cloudconf_free(&c->cfg);
	if (c->base != NULL)
		event_base_free(c->base);
}

/* --check-config: everything run would load, without listening. */
static int
check_only(struct cloud *c, const char *config)
{
	struct buf	 der;
	char		 err[1024];

	c->tls = front_tls_ctx(c, err, sizeof(err));
	if (c->tls == NULL) {
		fprintf(stderr, "uplink-cloud: %s\n", err);
		return EXIT_USAGE;
	}
	buf_init(&der, 64 * 1024 * 1024);
	if (datadir_crl(&c->dd, 86400, &der, err, sizeof(err)) != 0) {
		fprintf(stderr, "uplink-cloud: cannot build the CRL: %s\n", err);
		buf_free(&der);
		return EXIT_USAGE;
	}
	buf_free(&der);
	printf("%s: the configuration, the data directory %s and the TLS "
	    "files are valid\n", config, c->cfg.data_dir);
	return EXIT_OK;
}

static int
parse_args(int argc, char **argv, const char **config, bool *check)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int	 ch;

	while ((ch = getopt_long(argc, argv, "c:nh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			*config = optarg;
			break;
		case 'n':
			*check = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "uplink-cloud run: unexpected argument \"%s\"\n",
		    argv[optind]);
		return EXIT_USAGE;
	}
	return -1;
}

int
cmd_run(int argc, char **argv)
{
	struct cloud	 c;
	const char	*config = CLOUDCONF_DEFAULT_PATH;
	bool		 check = false;
	char		 err[1024];
	size_t		 n;
	int		 rv;

	rv = parse_args(argc, argv, &config, &check);
	if (rv != -1)
		return rv;
	run_config = config;
	memset(&c, 0, sizeof(c));
	if (cloudconf_load(config, &c.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "uplink-cloud: %s\n", err);
		return EXIT_USAGE;
	}
	log_init("uplink-cloud", 1, c.cfg.log_level);
	datadir_use_store(&c.cfg);
	if (datadir_open(c.cfg.data_dir, &c.dd, err, sizeof(err)) != 0) {
		fprintf(stderr, "uplink-cloud: %s\n", err);
		cloudconf_free(&c.cfg);
		return EXIT_USAGE;
	}
	if (check) {
		rv = check_only(&c, config);
		cloud_stop(&c);
		return rv;
	}
	if (cloud_start(&c, err, sizeof(err)) != 0) {
		log_warnx("%s", err);
		cloud_stop(&c);
		return EXIT_FAILED;
	}
	n = 0;
	publish_foreach(&c, count_cb, &n);
	log_info("uplink-cloud %s running: %s (TLS, console at %s/), %s; %zu "
	    "published service%s", UPLINK_VERSION, c.dd.url, c.dd.url,
	    c.cfg.http_enabled ? c.dd.crl_url : "no HTTP listener", n,
	    n == 1 ? "" : "s");
	sdnotify_ready("0 connector tunnels up");
	event_base_dispatch(c.base);
	status_remove(&c);
	log_info("stopped");
	cloud_stop(&c);
	return EXIT_OK;
}
