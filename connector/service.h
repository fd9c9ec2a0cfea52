#ifndef UPLINK_CONNECTOR_SERVICE_H
#define UPLINK_CONNECTOR_SERVICE_H

#include <sys/queue.h>

#include <stdbool.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "config.h"
#include "tunnel.h"

/*
 * uplink-connector run: the service. It keeps cfg.tunnels TLS connections
 * to the cloud (connector/tunnels.c), answers the streams the cloud opens
 * on them (connector/streams.c), renews its certificate, reloads its
 * access and bypass lists on SIGHUP and drains on SIGTERM (cmd_run.c).
 * It never listens on any socket.
 */

/* A loaded configuration, shared by everything that started under it. */
struct svc_config {
	struct connector_config	 c;
	int			 refs;
};

struct slot;
struct sconn;
struct instances;

/*
 * What the connector counts and reports to the cloud in GET /v1/info
 * (the cloud's metrics, docs/metrics.md): streams it refused, by code
 * (a fixed set, svc_refusal_codes), and the checks the cloud asked for,
 * run and with a failed address. From the start of the process.
 */
enum svc_refusal { SVC_REF_NOT_ALLOWED, SVC_REF_VIA_PROXY, SVC_REF_DNS,
    SVC_REF_REFUSED, SVC_REF_TIMEOUT, SVC_REF_PROXY, SVC_REF_BUSY,
    SVC_REF_INTERNAL, SVC_REF_N };
extern const char *const svc_refusal_codes[SVC_REF_N];
struct svc_counters {
	uint64_t		 refused[SVC_REF_N];
	uint64_t		 checks, checks_failed;
};

struct service {
	struct event_base	*base;
	struct evdns_base	*dns;
	struct svc_config	*cfg;
	SSL_CTX			*ctx;
	struct tunnel_limits	 lim;
	struct slot		*slots;
	int			 nslots;
	LIST_HEAD(, sconn)	 conns;
	bool			 draining;
	unsigned		 seq;
	/* version, tunnels, pid, host, and the launcher's (a rollback: 2 KiB) */
	char			 info_base[2560];
	char			 info[3072];	/* JSON for GET /v1/info */
	struct svc_counters	 ctr;
	struct event		*drain_timer;
	struct instances	*inst;		/* connector/instances.c */
};

struct svc_config *svc_config_ref(struct svc_config *sc);
void svc_config_unref(struct svc_config *sc);

/* The client TLS context: the cloud's CA, our certificate, ALPN. */
SSL_CTX *service_tls_ctx(const struct connector_config *cfg, char *err,
    size_t errlen);

/* connector/tunnels.c */
void tunnels_start(struct service *svc);
/* Stops reconnecting and drains every tunnel. */
void tunnels_drain(struct service *svc);
/* Streams open now on every tunnel (answered or not, GETs included). */
uint32_t tunnels_streams(const struct service *svc);
/* Tunnels up now. */
int tunnels_up(const struct service *svc);
/* Rebuilds svc->info from info_base and the counters; sets it on every tunnel. */
void tunnels_info_update(struct service *svc);
/* Counts a refused stream by its code (unknown codes count as internal). */
void service_count_refused(struct service *svc, const char *code);
/* Counts a check run for the cloud, failed when an address failed. */
void service_count_check(struct service *svc, bool failed);
/* The instance each of the first n tunnels is on or going to ("": none). */
void tunnels_current(const struct service *svc, const char **cur, int n);
/* True when no tunnel is open or being opened. */
bool tunnels_idle(const struct service *svc);
void tunnels_free(struct service *svc);

/* connector/streams.c: a CONNECT from the cloud. */
void streams_request(struct service *svc, struct tunnel *t,
    struct tunnel_stream *s, const char *host, uint16_t port);
void streams_free(struct service *svc);
/*
 * How many streams may be open at once: [run] max_streams, but never more
 * than the descriptor limit leaves after STREAMS_FD_RESERVE descriptors
 * kept for the tunnels, the checks the cloud asks for, renewal and logs.
 */
#define STREAMS_FD_RESERVE	64
uint32_t streams_cap(const struct service *svc, unsigned long *fdlimit);

/*
 * Called when a tunnel attempt ends, up or failed, and when a tunnel
 * closes: tells systemd (READY after the first attempt, STATUS).
 */
void service_tunnels_changed(struct service *svc);

/* Called when a tunnel closes, to finish a drain. */
void service_check_done(struct service *svc);

#endif
