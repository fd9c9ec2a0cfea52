#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/x509.h>

#include "dial.h"
#include "error.h"
#include "hostport.h"
#include "https.h"
#include "instances.h"
#include "log.h"
#include "pki.h"
#include "rendezvous.h"
#include "renew.h"
#include "service.h"
#include "tls.h"
#include "xmalloc.h"

#define INSTANCES_PATH		"/api/v1/cluster"
#define INSTANCES_BODY_MAX	(64 * 1024)
#define INSTANCES_AVOID_SLOTS	8

struct avoid {
	char		 id[64];
	long long	 started;	/* the run that failed */
	long		 until;
};

struct instances {
	struct service		*svc;
	void			(*ready)(struct service *);
	void			(*changed)(struct service *);
	struct svc_config	*cfg;		/* held during a fetch */
	struct https		*req;
	SSL_CTX			*ctx;
	struct event		*timer;
	struct cloud_instance	 v[INSTANCES_MAX];
	size_t			 n;
	struct avoid		 avoid[INSTANCES_AVOID_SLOTS];
	char			 key[64];	/* our id: the certificate's CN */
	char			 last[512];	/* the targets, to see changes */
	long			 unsettled_until;
	bool			 started;
	bool			 logged_single;
};

static void instances_fetch(struct instances *in);

/* The connector's id, the rendezvous key: its certificate's CN. */
static void
instances_key(struct instances *in)
{
	X509	*cert = NULL;
	char	 err[256];

	if (pki_cert_load(in->svc->cfg->c.cloud_cert, &cert, err,
	    sizeof(err)) != UPLINK_OK) {
		snprintf(in->key, sizeof(in->key), "%s",
		    in->svc->cfg->c.cloud_cert);
		return;
	}
	tls_common_name(X509_get_subject_name(cert), in->key, sizeof(in->key));
	X509_free(cert);
}

/* Avoided: it failed lately, and has not restarted since. */
static bool
instances_avoided(const struct instances *in, const struct cloud_instance *ci)
{
	long	 now = dial_now_ms();
	int	 i;

	for (i = 0; i < INSTANCES_AVOID_SLOTS; i++)
		if (in->avoid[i].until > now &&
		    strcmp(in->avoid[i].id, ci->id) == 0 &&
		    in->avoid[i].started == ci->started)
			return true;
	return false;
}

void
instances_avoid(struct instances *in, const char *id)
{
	struct avoid	*a = &in->avoid[0];
	int		 i;

	if (in == NULL || id[0] == '\0')
		return;
	for (i = 0; i < INSTANCES_AVOID_SLOTS; i++) {
		if (strcmp(in->avoid[i].id, id) == 0) {
			a = &in->avoid[i];
			break;
		}
		if (in->avoid[i].until < a->until)
			a = &in->avoid[i];
	}
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->started = 0;
	for (i = 0; i < (int)in->n; i++)
		if (strcmp(in->v[i].id, id) == 0)
			a->started = in->v[i].started;
	a->until = dial_now_ms() + INSTANCES_AVOID_MS;
	in->unsettled_until = dial_now_ms() + 2 * INSTANCES_AVOID_MS;
}

/*
 * The up instances not avoided, ranked for our id. When every up one is
 * avoided (all failed lately), they are ranked anyway: better to try
 * again than to dial nothing.
 */
static size_t
instances_ranked(struct instances *in, size_t *order)
{
	const char	*ids[INSTANCES_MAX];
	size_t		 map[INSTANCES_MAX], rank[INSTANCES_MAX];
	size_t		 i, n = 0, pass;

	for (pass = 0; pass < 2 && n == 0; pass++)
		for (i = 0; i < in->n; i++) {
			if (in->v[i].draining || (pass == 0 &&
			    instances_avoided(in, &in->v[i])))
				continue;
			map[n] = i;
			ids[n++] = in->v[i].id;
		}
	rendezvous_rank(in->key, ids, n, rank);
	for (i = 0; i < n; i++)
		order[i] = map[rank[i]];
	return n;
}

void
instances_assign(struct instances *in, const char *const *current, int n,
    const struct cloud_instance **out)
{
	size_t	 order[INSTANCES_MAX], k, m, j;
	bool	 taken[INSTANCES_MAX] = { false };
	int	 i;

	for (i = 0; i < n; i++)
		out[i] = NULL;
	if (in == NULL || in->n == 0)
		return;
	k = instances_ranked(in, order);
	if (k == 0)
		return;
	/* The chosen: the first n of the ranking. */
	m = (size_t)n < k ? (size_t)n : k;
	for (i = 0; i < n; i++)
		for (j = 0; j < m; j++)
			if (!taken[j] && strcmp(current[i],
			    in->v[order[j]].id) == 0) {
				out[i] = &in->v[order[j]];
				taken[j] = true;
				break;
			}
	for (i = 0, j = 0; i < n; i++) {
		if (out[i] != NULL)
			continue;
		while (j < m && taken[j])
			j++;
		if (j < m) {
			out[i] = &in->v[order[j]];
			taken[j] = true;
		} else
			out[i] = &in->v[order[(size_t)i % k]];
	}
}

size_t
instances_count(const struct instances *in)
{
	return in != NULL ? in->n : 0;
}

const struct cloud_instance *
instances_get(const struct instances *in, size_t i)
{
	return in != NULL && i < in->n ? &in->v[i] : NULL;
}

/* One entry of the answer; false (and a log line) when unusable. */
static bool
instances_entry(json_t *e, struct cloud_instance *ci)
{
	const char	*id, *name, *addr, *state;
	json_int_t	 started = 0;
	struct hostport	 hp;
	char		 why[256];
	size_t		 i;

	memset(ci, 0, sizeof(*ci));
	if (json_unpack(e, "{s:s, s:s, s:s, s:s, s?I}", "id", &id, "name",
	    &name, "address", &addr, "state", &state, "started", &started) != 0)
		return false;
	for (i = 0; id[i] != '\0'; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' &&
		    id[i] <= '9') || id[i] == '-'))
			break;
	if (id[i] != '\0' || i == 0 || i >= sizeof(ci->id) ||
	    !host_name_valid(name) || strlen(name) >= sizeof(ci->name) ||
	    hostport_parse(addr, 443, &hp, why, sizeof(why)) != UPLINK_OK) {
		log_warnx("cloud instances: ignoring the entry \"%.63s\" (name "
		    "\"%.100s\", address \"%.100s\"): not a valid id, DNS name "
		    "and host:port", id, name, addr);
		return false;
	}
	snprintf(ci->id, sizeof(ci->id), "%s", id);
	snprintf(ci->name, sizeof(ci->name), "%s", name);
	snprintf(ci->host, sizeof(ci->host), "%s", hp.host);
	ci->port = hp.port;
	ci->started = (long long)started;
	ci->draining = strcmp(state, "up") != 0;
	return true;
}

/* What the targets are now, as text, to log and notice changes. */
static void
instances_describe(struct instances *in, char *dst, size_t len)
{
	const struct cloud_instance	*out[INSTANCES_SLOTS_MAX];
	const char			*cur[INSTANCES_SLOTS_MAX];
	size_t				 off = 0;
	int				 i, n = in->svc->nslots;

	dst[0] = '\0';
	if (n > INSTANCES_SLOTS_MAX)
		n = INSTANCES_SLOTS_MAX;
	tunnels_current(in->svc, cur, n);
	instances_assign(in, cur, n, out);
	for (i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(dst + off, len - off, "%s%d:%s",
		    i ? ", " : "", i + 1, out[i] != NULL ? out[i]->id : "url");
}

static void
instances_parse(struct instances *in, const struct buf *body)
{
	json_t		*root, *list, *e;
	json_error_t	 jerr;
	size_t		 i, n = 0;

	root = json_loadb(body->ptr, body->len, 0, &jerr);
	list = json_object_get(root, "instances");
	if (!json_is_array(list)) {
		log_warnx("cloud instances: the answer of %s%s is not "
		    "{\"instances\": [...]}; keeping what was known",
		    in->svc->cfg->c.cloud_url, INSTANCES_PATH);
		json_decref(root);
		return;
	}
	json_array_foreach(list, i, e) {
		if (n == INSTANCES_MAX)
			break;
		if (instances_entry(e, &in->v[n]))
			n++;
	}
	in->n = n;
	json_decref(root);
}

static void
instances_fetched(void *arg, struct https_result *res)
{
	struct instances	*in = arg;
	char			 now[sizeof(in->last)];

	in->req = NULL;
	svc_config_unref(in->cfg);
	in->cfg = NULL;
	if (res->error != NULL)
		log_info("cloud instances: cannot ask %s%s: %s; keeping what "
		    "was known", in->svc->cfg->c.cloud_url, INSTANCES_PATH,
		    res->detail);
	else if (res->status == 404) {
		if (!in->logged_single)
			log_info("cloud instances: the cloud is not a "
			    "cluster; tunnels go to %s",
			    in->svc->cfg->c.cloud_url);
		in->logged_single = true;
		in->n = 0;
	} else if (res->status != 200)
		log_info("cloud instances: %s%s answered %d; keeping what was "
		    "known", in->svc->cfg->c.cloud_url, INSTANCES_PATH,
		    res->status);
	else
		instances_parse(in, res->body);
	instances_describe(in, now, sizeof(now));
	if (!in->started) {
		in->started = true;
		if (in->n > 0)
			log_info("cloud instances: %zu listed; tunnels to %s",
			    in->n, now);
		snprintf(in->last, sizeof(in->last), "%s", now);
		in->ready(in->svc);
		return;
	}
	if (strcmp(now, in->last) != 0) {
		log_info("cloud instances: %zu listed; tunnels now to %s",
		    in->n, now);
		snprintf(in->last, sizeof(in->last), "%s", now);
		in->changed(in->svc);
	}
}

static void
instances_fetch(struct instances *in)
{
	const struct connector_config	*cfg;
	struct https_request		 q;
	struct timeval			 tv = { INSTANCES_REFRESH_MS / 1000, 0 };
	struct https_result		 fail;
	char				 err[768];

	/* Unsettled, or a cluster with fewer instances than tunnels. */
	if (dial_now_ms() < in->unsettled_until || (in->n > 0 &&
	    in->n < (size_t)in->svc->nslots))
		tv.tv_sec = INSTANCES_UNSETTLED_MS / 1000;
	evtimer_add(in->timer, &tv);
	if (in->req != NULL || in->svc->draining)
		return;
	in->cfg = svc_config_ref(in->svc->cfg);
	cfg = &in->cfg->c;
	/* A context per fetch: the certificate is renewed under us. */
	SSL_CTX_free(in->ctx);
	in->ctx = https_ctx_new(cfg->cloud_ca, cfg->cloud_cert, cfg->cloud_key,
	    err, sizeof(err));
	memset(&q, 0, sizeof(q));
	q.url = cfg->cloud_url;
	q.method = "GET";
	q.path = INSTANCES_PATH;
	q.ctx = in->ctx;
	q.routes = &cfg->routes;
	q.max_body = INSTANCES_BODY_MAX;
	q.timeout_ms = INSTANCES_FETCH_MS;
	q.id = "instances";
	if (in->ctx != NULL)
		in->req = https_request_start(in->svc->base, in->svc->dns, &q,
		    instances_fetched, in);
	if (in->req == NULL) {
		memset(&fail, 0, sizeof(fail));
		fail.error = "tls";
		snprintf(fail.detail, sizeof(fail.detail), "%s", in->ctx ==
		    NULL ? err : "out of memory");
		instances_fetched(in, &fail);
	}
}

static void
instances_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	instances_fetch(arg);
}

struct instances *
instances_start(struct service *svc, void (*ready)(struct service *),
    void (*changed)(struct service *))
{
	struct instances	*in = xcalloc(1, sizeof(*in));

	in->svc = svc;
	in->ready = ready;
	in->changed = changed;
	in->timer = evtimer_new(svc->base, instances_timer_cb, in);
	if (in->timer == NULL)
		fatalx("out of memory");
	instances_key(in);
	instances_fetch(in);
	return in;
}

void
instances_refresh(struct instances *in)
{
	if (in != NULL && in->started)
		instances_fetch(in);
}

void
instances_free(struct instances *in)
{
	if (in == NULL)
		return;
	https_cancel(in->req);
	svc_config_unref(in->cfg);
	SSL_CTX_free(in->ctx);
	event_free(in->timer);
	free(in);
}
