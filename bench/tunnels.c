#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "bench.h"
#include "tls.h"
#include "tunnel.h"
#include "xmalloc.h"

/*
 * tunnels: holds N connector tunnels to an uplink cloud, as --per tunnels
 * for each identity (--id CERT:KEY, enrolled connectors), at most --batch
 * handshakes at once. A tunnel is the real thing (lib/tunnel in the
 * connector's role: it answers the cloud's GET /v1/info and pings) without
 * a connector process per identity, so 10,000 of them fit on one machine.
 * It prints
 *   {"mode":"tunnels","phase":"established","tunnels":N,"seconds":S}
 * once all are up, and then redials every tunnel that closes (after a
 * random 0-1 s, as connectors spread their returns), printing
 *   {"mode":"tunnels","phase":"back","tunnels":N,"seconds":S}
 * each time all N are up again after losing some (S from the first loss):
 * the time tunnels take to come back after the cloud restarts. It ends at
 * stdin's end-of-file or after --hold seconds.
 */

#define TUN_IDS_MAX	1000

struct tun_id {
	SSL_CTX		*ctx;
};

struct tun {
	struct tunbench		*b;
	struct tun_id		*id;
	struct bufferevent	*bev;
	struct tunnel		*t;
	struct event		*retry;
	struct tls_verify	 v;
	bool			 up;
	int			 n;
};

struct tunbench {
	struct event_base	*base;
	struct bench_addr	 to;
	const char		*sni;
	struct tun_id		 ids[TUN_IDS_MAX];
	int			 nids, per, batch, total, up, inflight, next;
	struct tun		*tuns;
	struct tunnel_limits	 lim;
	uint64_t		 t0, lost_at;
	bool			 established;
	char			 info[128];
};

static void tun_dial(struct tun *u);

static void
tun_more(struct tunbench *b)
{
	while (b->next < b->total && b->inflight < b->batch)
		tun_dial(&b->tuns[b->next++]);
}

static void
tun_print(struct tunbench *b, const char *phase, uint64_t since)
{
	printf("{\"mode\":\"tunnels\",\"phase\":\"%s\",\"tunnels\":%d,"
	    "\"seconds\":%.3f}\n", phase, b->up, (double)(bench_now_ns() -
	    since) / 1e9);
	fflush(stdout);
}

static void
tun_count_up(struct tunbench *b)
{
	if (b->up < b->total)
		return;
	if (!b->established) {
		b->established = true;
		tun_print(b, "established", b->t0);
	} else if (b->lost_at != 0) {
		tun_print(b, "back", b->lost_at);
		b->lost_at = 0;
	}
}

static void
tun_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tun_dial(arg);
}

/* A tunnel failed or closed: dial again after 0-1 s. */
static void
tun_lost(struct tun *u)
{
	struct tunbench	*b = u->b;
	struct timeval	 tv = { 0, (suseconds_t)(random() % 1000000) };

	if (u->up) {
		u->up = false;
		b->up--;
		if (b->lost_at == 0)
			b->lost_at = bench_now_ns();
	}
	evtimer_add(u->retry, &tv);
}

static void
tun_closed(void *arg, struct tunnel *t, const char *why)
{
	struct tun	*u = arg;

	(void)t;
	(void)why;
	u->t = NULL;
	tun_lost(u);
}

static void
tun_event(struct bufferevent *bev, short what, void *arg)
{
	struct tun			*u = arg;
	struct tunbench			*b = u->b;
	struct tunnel_callbacks		 cb = { .closed = tun_closed };
	char				 name[16];

	if (b->inflight > 0 && !b->established)
		b->inflight--;
	u->bev = NULL;
	if (!(what & BEV_EVENT_CONNECTED)) {
		bufferevent_free(bev);
		tun_lost(u);
		tun_more(b);
		return;
	}
	snprintf(name, sizeof(name), "t%d", u->n);
	u->t = tunnel_new(b->base, bev, TUNNEL_CONNECTOR, &b->lim, &cb, u,
	    name);
	if (u->t == NULL) {
		tun_lost(u);
		return;
	}
	tunnel_set_info(u->t, b->info);
	u->up = true;
	b->up++;
	tun_count_up(b);
	tun_more(b);
}

/*
 * A socket from 127.0.0.(2 + n % 250) when the cloud is on loopback: as
 * connectors come from many addresses, the cloud's per-address caps on
 * handshakes (tls_handshakes_per_address) do not throttle the bench.
 * -1 (libevent makes one) otherwise.
 */
static evutil_socket_t
tun_socket(struct tunbench *b, int n)
{
	struct sockaddr_in	 src;
	uint32_t		 a = bench_loopback_source(&b->to, n);
	int			 fd, one = 1;

	if (a == 0)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
	    sizeof(one));
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(a);
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
tun_dial(struct tun *u)
{
	struct tunbench		*b = u->b;
	static const unsigned char alpn[] = "\x0f" TUNNEL_ALPN;
	SSL			*ssl;

	memset(&u->v, 0, sizeof(u->v));
	u->v.strict = true;
	ssl = tls_client_new(u->id->ctx, b->sni, alpn, sizeof(alpn) - 1,
	    &u->v);
	u->bev = ssl == NULL ? NULL : bufferevent_openssl_socket_new(b->base,
	    tun_socket(b, u->n), ssl, BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (u->bev == NULL) {
		fprintf(stderr, "uplink-bench: tunnels: out of memory\n");
		exit(1);
	}
	if (!b->established)
		b->inflight++;
	bufferevent_openssl_set_allow_dirty_shutdown(u->bev, 1);
	bufferevent_setcb(u->bev, NULL, NULL, tun_event, u);
	if (bufferevent_socket_connect(u->bev, (struct sockaddr *)&b->to.ss,
	    (int)b->to.len) != 0) {
		bufferevent_free(u->bev);
		u->bev = NULL;
		if (!b->established)
			b->inflight--;
		tun_lost(u);
	}
}

static int
tun_id_add(struct tunbench *b, const char *ca, char *spec)
{
	char	*key = strchr(spec, ':'), err[512];
	SSL_CTX	*ctx;

	if (key == NULL || b->nids == TUN_IDS_MAX) {
		fprintf(stderr, "uplink-bench: --id CERT:KEY, at most %d\n",
		    TUN_IDS_MAX);
		return -1;
	}
	*key++ = '\0';
	ctx = tls_cloud_ctx_new(ca, err, sizeof(err));
	if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, spec) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "uplink-bench: --id %s:%s: cannot load (%s)\n",
		    spec, key, ctx == NULL ? err : "certificate or key");
		return -1;
	}
	b->ids[b->nids++].ctx = ctx;
	return 0;
}

/* A count from 1 to 1,000,000 (1 when not one). */
static int
tun_count(const char *s)
{
	char	*end;
	long	 n = strtol(s, &end, 10);

	return *s != '\0' && *end == '\0' && n >= 1 && n <= 1000000 ?
	    (int)n : 1;
}

static void
tun_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	char	 buf[256];

	(void)what;
	if (read(fd, buf, sizeof(buf)) <= 0)
		event_base_loopexit(arg, NULL);
}

int
bench_tunnels(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "to", required_argument, NULL, 't' },
		{ "sni", required_argument, NULL, 's' },
		{ "ca", required_argument, NULL, 'c' },
		{ "id", required_argument, NULL, 'i' },
		{ "per", required_argument, NULL, 'p' },
		{ "batch", required_argument, NULL, 'B' },
		{ "hold", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	struct tunbench	*b = xcalloc(1, sizeof(*b));
	const char	*ca = NULL;
	struct timeval	 hold = { 3600, 0 };
	struct event	*in;
	char		 why[256];
	int		 ch, i;

	b->per = 1;
	b->batch = 100;
	b->sni = "localhost";
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (bench_addr_parse(optarg, &b->to, why,
			    sizeof(why)) != 0) {
				fprintf(stderr, "uplink-bench: %s\n", why);
				return 2;
			}
			break;
		case 's': b->sni = optarg; break;
		case 'c': ca = optarg; break;
		case 'i':
			if (ca == NULL || tun_id_add(b, ca, optarg) != 0) {
				fprintf(stderr, "uplink-bench: tunnels: give "
				    "--ca before --id CERT:KEY\n");
				return 2;
			}
			break;
		case 'p': b->per = tun_count(optarg); break;
		case 'B': b->batch = tun_count(optarg); break;
		case 'H': hold.tv_sec = tun_count(optarg); break;
		default:
			return 2;
		}
	}
	if (b->nids == 0 || b->to.len == 0) {
		fprintf(stderr, "usage: uplink-bench tunnels --to ADDR:PORT "
		    "--sni NAME --ca CA --id CERT:KEY [--id ...] [--per T] "
		    "[--batch B] [--hold S]\n");
		return 2;
	}
	bench_raise_nofile();
	b->base = event_base_new();
	tunnel_limits_default(&b->lim);
	b->total = b->nids * b->per;
	snprintf(b->info, sizeof(b->info), "{\"version\":\"bench\","
	    "\"tunnels\":%d,\"pid\":%ld,\"host\":\"bench\"}", b->per,
	    (long)getpid());
	b->tuns = xcalloc((size_t)b->total, sizeof(*b->tuns));
	for (i = 0; i < b->total; i++) {
		b->tuns[i].b = b;
		b->tuns[i].n = i;
		b->tuns[i].id = &b->ids[i / b->per];
		b->tuns[i].retry = evtimer_new(b->base, tun_retry_cb,
		    &b->tuns[i]);
	}
	in = event_new(b->base, 0, EV_READ | EV_PERSIST, tun_stdin_cb, b->base);
	event_add(in, NULL);
	event_base_loopexit(b->base, &hold);
	b->t0 = bench_now_ns();
	tun_more(b);
	event_base_dispatch(b->base);
	printf("{\"mode\":\"tunnels\",\"phase\":\"end\",\"tunnels\":%d}\n",
	    b->up);
	return b->up == b->total ? 0 : 1;
}
