#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "access.h"
#include "bypass.h"
#include "connector.h"
#include "error.h"
#include "hostport.h"
#include "keyfile.h"
#include "launcher.h"
#include "log.h"
#include "logship.h"
#include "nofile.h"
#include "renew.h"
#include "sdnotify.h"
#include "service.h"
#include "tls.h"
#include "version.h"
#include "xmalloc.h"

/*
 * uplink-connector run. Reads only its configuration file (never the
 * environment's proxy settings: a service must not change with the shell
 * that started it), opens the tunnels, and runs until SIGTERM, which
 * drains: the cloud is told to open no more streams, the open ones finish
 * (for at most [run] drain_timeout), then the process exits. SIGHUP
 * re-reads the access and bypass lists without touching open streams.
 */

#define RENEW_CHECK_SECS	3600
#define RENEW_RETRY_SECS	300
#define RENEW_MIN_GAP		10

struct run {
	struct service		 svc;
	const char		*path;
	struct event		*sig_term, *sig_int, *sig_hup, *renew_timer;
	struct renew		*renew;
	time_t			 last_renew;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-connector run [--config FILE]\n"
"\n"
"Runs the connector service: keeps [cloud] tunnels (default 2) open to the\n"
"cloud, through [proxy] server unless the cloud matches [proxy] bypass,\n"
"and answers the streams the cloud opens to targets in [access] allow\n"
"(at most [run] max_streams at once, default 1000). The checks the cloud\n"
"asks for test only its own endpoints and what [access] allow or [check]\n"
"allow allows. It never listens on a socket and never reads HTTPS_PROXY\n"
"or NO_PROXY. It refuses to start when [cloud] key is readable or writable\n"
"by group or others (chmod 600 it).\n"
"\n"
"  --config FILE   configuration (default %s), as written by\n"
"                  \"uplink-connector enroll\"; see docs/config.md\n"
"\n"
"Signals: SIGTERM or SIGINT drain (no new streams, open ones finish within\n"
"[run] drain_timeout, default 30s) and exit; a second one exits at once.\n"
"SIGHUP re-reads [access], [check], [proxy] and [run] max_streams.\n"
"The certificate is renewed automatically after two thirds of its life.\n",
	    CONFIG_DEFAULT_PATH);
}

struct svc_config *
svc_config_ref(struct svc_config *sc)
{
	sc->refs++;
	return sc;
}

void
svc_config_unref(struct svc_config *sc)
{
	if (sc == NULL || --sc->refs > 0)
		return;
	config_free(&sc->c);
	free(sc);
}

static struct svc_config *
load_config(const char *path, char *err, size_t errlen)
{
	struct svc_config	*sc;

	sc = xcalloc(1, sizeof(*sc));
	if (config_load(path, &sc->c, err, errlen) != 0) {
		free(sc);
		return NULL;
	}
	if (sc->c.cloud_url[0] == '\0') {
		snprintf(err, errlen, "%s: no [cloud] section: enroll this "
		    "connector first (uplink-connector enroll --token TOKEN)",
		    path);
		config_free(&sc->c);
		free(sc);
		return NULL;
	}
	sc->refs = 1;
	return sc;
}

SSL_CTX *
service_tls_ctx(const struct connector_config *cfg, char *err, size_t errlen)
{
	SSL_CTX	*ctx;
	char	 detail[256];

	/* Before anything reads it: a key others can read is not ours alone. */
	if (keyfile_check_mode(cfg->cloud_key, "the connector's private key",
	    err, errlen) != UPLINK_OK)
		return NULL;
	ctx = tls_cloud_ctx_new(cfg->cloud_ca, err, errlen);
	if (ctx == NULL)
		return NULL;
	/* HTTP/2 frames its own ends; a close without close_notify is EOF. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cloud_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cfg->cloud_key,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		tls_errors(detail, sizeof(detail));
		snprintf(err, errlen, "cannot use the connector's certificate %s "
		    "and key %s: %s", cfg->cloud_cert, cfg->cloud_key, detail);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * systemd (Type=notify) hears READY once the configuration is loaded and
 * the first tunnel attempt has ended, whichever way, so that "systemctl
 * start" neither returns before the connector has tried nor hangs while
 * the cloud is unreachable; STATUS says how many tunnels are up.
 */
void
service_tunnels_changed(struct service *svc)
{
	static bool	 ready;
	char		 status[128];

	if (svc->draining)
		return;
	snprintf(status, sizeof(status), "%d of %d tunnels up to %s",
	    tunnels_up(svc), svc->nslots, svc->cfg->c.cloud_url);
	if (!ready)
		sdnotify_ready(status);
	else
		sdnotify_status(status);
	ready = true;
}

void
service_check_done(struct service *svc)
{
	if (svc->draining && tunnels_idle(svc)) {
		log_info("drained: every tunnel is closed");
		event_base_loopexit(svc->base, NULL);
	}
}

static void
drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct service	*svc = arg;

	(void)fd;
	(void)what;
	log_warnx("drain: streams still open after %lld s; closing them",
	    (long long)svc->cfg->c.drain_timeout);
	event_base_loopexit(svc->base, NULL);
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct run	*r = arg;
	struct service	*svc = &r->svc;
	struct timeval	 tv = { svc->cfg->c.drain_timeout, 0 };

	(void)what;
	if (svc->draining) {
		log_info("%s again: exiting now", strsignal(sig));
		event_base_loopexit(svc->base, NULL);
		return;
	}
	log_info("%s: draining (no new streams; open ones have %lld s)",
	    strsignal(sig), (long long)svc->cfg->c.drain_timeout);
	sdnotify_stopping();
	svc->draining = true;
	logship_drain();
	if (r->renew != NULL)
		renew_cancel(r->renew);
	r->renew = NULL;
	tunnels_drain(svc);
	svc->drain_timer = evtimer_new(svc->base, drain_timeout_cb, svc);
	evtimer_add(svc->drain_timer, &tv);
	service_check_done(svc);
}

static void
reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct run		*r = arg;
	struct svc_config	*sc, *old = r->svc.cfg;
	char			 err[1024];

	(void)sig;
	(void)what;
	sdnotify_reloading();
	sc = load_config(r->path, err, sizeof(err));
	if (sc == NULL) {
		log_warnx("SIGHUP: keeping the running configuration: %s", err);
		sdnotify_reloaded();
		return;
	}
	if (strcmp(sc->c.cloud_url, old->c.cloud_url) != 0 ||
	    sc->c.tunnels != old->c.tunnels)
		log_warnx("SIGHUP: [cloud] changes take effect at the next "
		    "restart");
	r->svc.cfg = sc;
	log_info("SIGHUP: reloaded %s: %zu access entr%s, %s, %zu bypass "
	    "entr%s", r->path, access_count(sc->c.access),
	    access_count(sc->c.access) == 1 ? "y" : "ies",
	    sc->c.routes.has_proxy ? sc->c.routes.proxy.url : "no proxy",
	    bypass_count(sc->c.routes.bypass),
	    bypass_count(sc->c.routes.bypass) == 1 ? "y" : "ies");
	svc_config_unref(old);
	sdnotify_reloaded();
}

static void renew_check(struct run *r);

static void
renew_done(void *arg, const struct renew_result *res)
{
	struct run	*r = arg;
	struct timeval	 tv = { RENEW_RETRY_SECS, 0 };
	SSL_CTX		*ctx;
	char		 err[1024];

	r->renew = NULL;
	if (res->status != RENEW_OK) {
		log_warnx("certificate renewal: %s", res->text);
		if (res->status == RENEW_FAILED)
			evtimer_add(r->renew_timer, &tv);
		return;
	}
	log_info("certificate renewal: %s", res->text);
	ctx = service_tls_ctx(&r->svc.cfg->c, err, sizeof(err));
	if (ctx == NULL) {
		log_warnx("certificate renewal: %s", err);
		return;
	}
	SSL_CTX_free(r->svc.ctx);
	r->svc.ctx = ctx;
	renew_check(r);
}

/*
 * Renews when due, else looks again when it will be (or in an hour). A
 * renewal is never started within RENEW_MIN_GAP of the last one, whatever
 * the certificate says, so a clock or a lifetime gone wrong cannot make
 * the connector hammer the cloud.
 */
static void
renew_check(struct run *r)
{
	const struct connector_config	*cfg = &r->svc.cfg->c;
	struct timeval			 tv = { RENEW_CHECK_SECS, 0 };
	time_t				 now = time(NULL), due;
	char				 err[512];
	int				 rv;

	rv = renew_due(cfg->cloud_cert, now, &due, err, sizeof(err));
	if (rv < 0) {
		log_warnx("certificate renewal: %s", err);
		evtimer_add(r->renew_timer, &tv);
		return;
	}
	if (rv == 0 || now - r->last_renew < RENEW_MIN_GAP) {
		if (rv == 0 && due - now < RENEW_CHECK_SECS)
			tv.tv_sec = due - now;
		else if (rv != 0)
			tv.tv_sec = RENEW_MIN_GAP - (now - r->last_renew);
		evtimer_add(r->renew_timer, &tv);
		return;
	}
	r->last_renew = now;
	r->renew = renew_start(r->svc.base, r->svc.dns, cfg, renew_done, r);
}

static void
renew_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run	*r = arg;

	(void)fd;
	(void)what;
	if (r->renew == NULL && !r->svc.draining)
		renew_check(r);
}

/* What the cloud learns with GET /v1/info on a tunnel. */
static void
service_info(struct service *svc)
{
	char	 host[256];

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	snprintf(svc->info_base, sizeof(svc->info_base), "\"version\":\"%s\","
	    "\"tunnels\":%d,\"pid\":%ld,\"host\":\"%.64s\"", UPLINK_VERSION,
	    svc->cfg->c.tunnels, (long)getpid(), host_name_valid(host) ? host :
	    "unknown");
	/* The launcher's part: arch, channel, and a rollback it recorded. */
	launcher_info(svc, svc->info_base, sizeof(svc->info_base));
	tunnels_info_update(svc);
}

static int
run_start(struct run *r, char *err, size_t errlen)
{
	struct service	*svc = &r->svc;

	if (renew_recover(svc->cfg->c.cloud_key, svc->cfg->c.cloud_cert, err,
	    errlen) != 0)
		return -1;
	svc->ctx = service_tls_ctx(&svc->cfg->c, err, errlen);
	if (svc->ctx == NULL)
		return -1;
	/* Every stream costs a descriptor; the cap on streams follows it. */
	(void)nofile_raise();
	svc->base = event_base_new();
	svc->dns = svc->base == NULL ? NULL : evdns_base_new(svc->base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (svc->dns == NULL) {
		snprintf(err, errlen, "cannot start the resolver: check "
		    "/etc/resolv.conf");
		return -1;
	}
	logship_start(svc->base, svc->cfg->c.log_buffer);
	tunnel_limits_default(&svc->lim);
	svc->lim.stream_buffer = svc->cfg->c.stream_buffer;
	svc->lim.ping_interval_ms = (int)svc->cfg->c.ping_interval * 1000;
	svc->lim.ping_misses = svc->cfg->c.ping_misses;
	r->sig_term = evsignal_new(svc->base, SIGTERM, stop_cb, r);
	r->sig_int = evsignal_new(svc->base, SIGINT, stop_cb, r);
	r->sig_hup = evsignal_new(svc->base, SIGHUP, reload_cb, r);
	r->renew_timer = evtimer_new(svc->base, renew_timer_cb, r);
	event_add(r->sig_term, NULL);
	event_add(r->sig_int, NULL);
	event_add(r->sig_hup, NULL);
	signal(SIGPIPE, SIG_IGN);
	service_info(svc);
	tunnels_start(svc);
	renew_check(r);
	return 0;
}

static void
run_stop(struct run *r)
{
	struct service	*svc = &r->svc;

	if (r->renew != NULL)
		renew_cancel(r->renew);
	tunnels_free(svc);
	streams_free(svc);
	logship_stop();
	if (r->sig_term != NULL) {
		event_free(r->sig_term);
		event_free(r->sig_int);
		event_free(r->sig_hup);
		event_free(r->renew_timer);
	}
	if (svc->drain_timer != NULL)
		event_free(svc->drain_timer);
	if (svc->dns != NULL)
		evdns_base_free(svc->dns, 0);
	if (svc->base != NULL)
		event_base_free(svc->base);
	SSL_CTX_free(svc->ctx);
	svc_config_unref(svc->cfg);
}

int
cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run	 r;
	char		 err[1024];
	unsigned long	 fdlimit;
	uint32_t	 cap;
	int		 ch;

	memset(&r, 0, sizeof(r));
	r.path = CONFIG_DEFAULT_PATH;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			r.path = optarg;
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
		usage(stderr);
		return EXIT_USAGE;
	}
	r.svc.cfg = load_config(r.path, err, sizeof(err));
	if (r.svc.cfg == NULL) {
		fprintf(stderr, "uplink-connector: %s\n", err);
		return EXIT_USAGE;
	}
	log_init("uplink-connector", 1, r.svc.cfg->c.log_level);
	if (run_start(&r, err, sizeof(err)) != 0) {
		log_warnx("%s", err);
		run_stop(&r);
		return EXIT_FAILED;
	}
	log_info("uplink-connector %s running: %d tunnel%s to %s, %zu access "
	    "entr%s", UPLINK_VERSION, r.svc.nslots, r.svc.nslots == 1 ? "" : "s",
	    r.svc.cfg->c.cloud_url, access_count(r.svc.cfg->c.access),
	    access_count(r.svc.cfg->c.access) == 1 ? "y" : "ies");
	cap = streams_cap(&r.svc, &fdlimit);
	log_info("streams: at most %u open at once ([run] max_streams %d, "
	    "descriptor limit %lu, %d kept for tunnels, checks and renewal)",
	    cap, r.svc.cfg->c.max_streams, fdlimit, STREAMS_FD_RESERVE);
	event_base_dispatch(r.svc.base);
	run_stop(&r);
	log_info("stopped");
	return launcher_exit_status(EXIT_OK);
}
