#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "check.h"
#include "crl.h"
#include "error.h"
#include "httpget.h"
#include "log.h"
#include "tls.h"

#define CHECK_CRL_CACHE_MAX	32
#define CHECK_CRL_URLS		4

struct check_crl {
	char		 url[CRL_URL_MAX];
	X509_CRL	*crl;
};

struct check_job {
	struct check		*c;
	size_t			 index;
	struct check_result	 r;
	long			 t0;
	struct dial		*dial;
	struct httpget		*get;
	struct bufferevent	*bev;
	struct tls_verify	 tv;
	STACK_OF(X509)		*chain;		/* verified chain, borrowed */
	int			 crl_cert;	/* chain index being checked */
	char			 urls[CHECK_CRL_URLS][CRL_URL_MAX];
	int			 nurls, url_i;
	char			 crl_notes[400];
	long			 step_t0;	/* start of the current step */
	bool			 crl_via;	/* a CRL fetch went via the proxy */
	bool			 done;
};

struct check {
	struct event_base	*base;
	struct evdns_base	*dns;
	struct check_opts	 o;
	const struct check_target *targets;
	size_t			 n, next, running, finished;
	struct check_job	*jobs;
	check_result_cb		*result_cb;
	check_done_cb		*done_cb;
	void			*arg;
	struct check_crl	 crls[CHECK_CRL_CACHE_MAX];
	size_t			 ncrls;
	struct event		*kick;
};

static void check_launch(struct check *c);
static void job_revocation_next(struct check_job *j);

static void
job_step(void *arg, const char *name, bool ok, long ms, const char *detail)
{
	struct check_job	*j = arg;
	struct check_step	*s;

	if (j->r.nsteps >= CHECK_STEPS_MAX)
		return;
	s = &j->r.steps[j->r.nsteps++];
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->ok = ok;
	s->ms = ms;
	snprintf(s->detail, sizeof(s->detail), "%s", detail);
}

static void
job_warn(struct check_job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
job_warn(struct check_job *j, const char *fmt, ...)
{
	va_list	 ap;

	if (j->r.nwarnings >= CHECK_WARNINGS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(j->r.warnings[j->r.nwarnings++], sizeof(j->r.warnings[0]),
	    fmt, ap);
	va_end(ap);
}

static void
job_route(struct check_job *j, const struct route *rt)
{
	j->r.route = rt->kind;
	snprintf(j->r.rule, sizeof(j->r.rule), "%s", rt->rule ? rt->rule : "");
	snprintf(j->r.proxy, sizeof(j->r.proxy), "%s", rt->kind == ROUTE_PROXY ?
	    rt->proxy->url : "");
}

/*
 * One remedy per verdict, phrased for the administrator who has to act on
 * it: what to allow, where, or whom to ask.
 */
static void
check_hint(struct check_result *r, int timeout_ms, const char *crl_url,
    bool crl_via)
{
	const struct check_target *t = r->target;
	const char	*e = r->error, *via = r->route == ROUTE_PROXY ?
			    r->proxy : NULL;
	char		*h = r->hint;
	size_t		 hl = sizeof(r->hint);

	if (strcmp(e, "dns") == 0)
		snprintf(h, hl, via ? "The proxy %s cannot resolve %s: check "
		    "the proxy's DNS, or the spelling of the address." :
		    "%s%s does not resolve from this machine: check the DNS "
		    "servers in /etc/resolv.conf, or send it through the proxy "
		    "(remove it from the bypass list).", via ? via : "",
		    t->probe);
	else if (strcmp(e, "tcp") == 0)
		snprintf(h, hl, "Nothing accepts TCP connections to %s:%u %s: "
		    "allow outbound TCP port %u to %s in the firewall%s.",
		    t->probe, t->port, via ? "from the proxy" : "from here",
		    t->port, t->probe, via ? " behind the proxy" : "");
	else if (strcmp(e, "timeout") == 0)
		snprintf(h, hl, "No answer from %s:%u within %d s%s: a firewall "
		    "is probably dropping the traffic; allow outbound TCP port "
		    "%u to %s.", t->probe, t->port, timeout_ms / 1000,
		    via ? " (through the proxy)" : "", t->port, t->probe);
	else if (strcmp(e, "proxy-unreachable") == 0)
		snprintf(h, hl, "The proxy %s does not accept connections: check "
		    "\"server =\" in [proxy] (host and port) and that the proxy "
		    "is running and reachable from this machine.", via ? via :
		    "(unknown)");
	else if (strcmp(e, "proxy-denied") == 0)
		snprintf(h, hl, "The proxy %s refuses %s:%u: allow %s on port "
		    "%u for this machine, without authentication, in the "
		    "proxy's rules.", via ? via : "", t->probe, t->port,
		    t->address, t->port);
	else if (strcmp(e, "proxy-error") == 0)
		snprintf(h, hl, "The proxy %s failed to carry the connection: "
		    "see its log for %s:%u; %s", via ? via : "", t->probe,
		    t->port, r->detail);
	else if (strcmp(e, "tls-interception") == 0)
		snprintf(h, hl, "Exclude %s from TLS inspection (SSL "
		    "decryption) on the proxy or firewall: the connector only "
		    "trusts the expected issuer, not \"%s\". If that CA is "
		    "really the server's own, give it with --ca.", t->address,
		    r->issuer);
	else if (strcmp(e, "cert-untrusted") == 0)
		snprintf(h, hl, "The certificate of %s:%u is not trusted here: "
		    "if the server is yours, give its CA with --ca FILE; "
		    "otherwise check that %s points to the right server.",
		    t->probe, t->port, t->probe);
	else if (strcmp(e, "cert-hostname") == 0)
		snprintf(h, hl, "%s:%u answers with a certificate for another "
		    "name: check that DNS (or --resolve) sends %s to the right "
		    "server.", t->probe, t->port, t->probe);
	else if (strcmp(e, "cert-expired") == 0)
		snprintf(h, hl, "The certificate of %s:%u is outside its "
		    "validity period: if this machine's clock is right, the "
		    "server's operator must renew it.", t->probe, t->port);
	else if (strcmp(e, "cert-revoked") == 0)
		snprintf(h, hl, "The certificate of %s:%u has been revoked by "
		    "its issuer: do not use this endpoint; tell its operator.",
		    t->probe, t->port);
	else if (strcmp(e, "crl-unreachable") == 0)
		snprintf(h, hl, "Allow HTTP (port 80 or the port in the URL) "
		    "to the revocation list %s%s: the connector checks "
		    "revocation there.", crl_url, crl_via ?
		    ", through the proxy" : "");
	else if (strcmp(e, "http") == 0)
		snprintf(h, hl, "GET http://%s:%u%s did not succeed: %s",
		    t->probe, t->port, t->path, r->detail);
	else if (strcmp(e, "catalog") == 0)
		snprintf(h, hl, "The uplink cloud at %s:%u did not hand over the "
		    "catalog of required addresses (GET %s): %s. Nothing else "
		    "was checked; look for that request in the cloud's log.",
		    t->probe, t->port, t->path, r->detail);
	else if (strcmp(e, "not-allowed") == 0)
		snprintf(h, hl, "%s", r->detail);
	else if (strcmp(e, "not-testable") == 0 && t->probe[0] != '\0')
		snprintf(h, hl, "Correct the address in the catalog of required "
		    "addresses: %s", r->detail);
	else if (strcmp(e, "not-testable") == 0)
		snprintf(h, hl, "%s is a wildcard: allow it in the firewall, and "
		    "add a concrete \"probe\" host to the catalog so it can be "
		    "tested.", t->address);
	else
		snprintf(h, hl, "The TLS handshake with %s:%u failed (%s). If a "
		    "proxy or firewall inspects TLS, exclude %s from inspection.",
		    t->probe, t->port, r->detail, t->address);
}

static void
job_hint(struct check_job *j)
{
	check_hint(&j->r, j->c->o.timeout_ms, j->urls[0], j->crl_via);
}

void
check_result_fail(struct check_result *r, const char *error,
    const char *detail, int timeout_ms)
{
	r->ok = false;
	r->error = error;
	snprintf(r->detail, sizeof(r->detail), "%s", detail);
	check_hint(r, timeout_ms, "", false);
}

static void
job_free_io(struct check_job *j)
{
	dial_cancel(j->dial);
	j->dial = NULL;
	httpget_cancel(j->get);
	j->get = NULL;
	if (j->bev != NULL) {
		bufferevent_free(j->bev);
		j->bev = NULL;
	}
	j->chain = NULL;
}

/* Ends an address: error is NULL for success. */
static void
job_finish(struct check_job *j, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
job_finish(struct check_job *j, const char *error, const char *fmt, ...)
{
	struct check	*c = j->c;
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(j->r.detail, sizeof(j->r.detail), fmt, ap);
	va_end(ap);
	j->r.error = error;
	j->r.ok = error == NULL;
	j->r.ms = dial_now_ms() - j->t0;
	if (error != NULL)
		job_hint(j);
	job_free_io(j);
	j->done = true;
	c->running--;
	c->finished++;
	c->result_cb(c->arg, &j->r, j->index);
	check_launch(c);
}

/* Looks for a CRL fetched earlier in this run. */
static X509_CRL *
check_crl_cached(struct check *c, const char *url)
{
	size_t	 i;

	for (i = 0; i < c->ncrls; i++)
		if (strcmp(c->crls[i].url, url) == 0)
			return c->crls[i].crl;
	return NULL;
}

static void
check_crl_store(struct check *c, const char *url, X509_CRL *crl)
{
	if (c->ncrls >= CHECK_CRL_CACHE_MAX) {
		X509_CRL_free(crl);
		return;
	}
	snprintf(c->crls[c->ncrls].url, CRL_URL_MAX, "%s", url);
	c->crls[c->ncrls++].crl = crl;
}

static void
job_crl_note(struct check_job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
job_crl_note(struct check_job *j, const char *fmt, ...)
{
	size_t	 n = strlen(j->crl_notes);
	va_list	 ap;

	if (n > 0 && n + 2 < sizeof(j->crl_notes)) {
		memcpy(j->crl_notes + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(j->crl_notes + n, sizeof(j->crl_notes) - n, fmt, ap);
	va_end(ap);
}

/* Judges cert chain[crl_cert] against a CRL; moves on or ends the job. */
static void
job_crl_judge(struct check_job *j, X509_CRL *crl)
{
	X509		*cert = sk_X509_value(j->chain, j->crl_cert);
	X509		*issuer = sk_X509_value(j->chain, j->crl_cert + 1);
	char		 detail[256];
	enum crl_status	 st;

	st = crl_check(crl, issuer, cert, detail, sizeof(detail));
	if (st == CRL_REVOKED) {
		job_step(j, "revocation", false, dial_now_ms() - j->step_t0,
		    detail);
		job_finish(j, "cert-revoked", "the certificate was %s (CRL %s)",
		    detail, j->urls[j->url_i]);
		return;
	}
	if (st == CRL_BAD) {
		job_crl_note(j, "%s: %s", j->urls[j->url_i], detail);
		j->url_i++;
		job_revocation_next(j);
		return;
	}
	job_crl_note(j, "%s: %s", j->urls[j->url_i], detail);
	j->crl_cert++;
	j->nurls = 0;
	job_revocation_next(j);
}

static void
job_crl_fetched(void *arg, struct httpget_result *res)
{
	struct check_job	*j = arg;
	X509_CRL		*crl = NULL;
	const char		*url = j->urls[j->url_i];

	j->get = NULL;
	if (res->error == HTTPGET_OK && res->status == 200)
		crl = crl_parse((const unsigned char *)res->body->ptr,
		    res->body->len);
	if (crl == NULL) {
		if (res->route.kind == ROUTE_PROXY)
			j->crl_via = true;
		job_crl_note(j, "%s: %s", url, res->error != HTTPGET_OK ?
		    res->detail : res->status != 200 ? res->status_line :
		    "not a CRL (DER or PEM expected)");
		j->url_i++;
		job_revocation_next(j);
		return;
	}
	check_crl_store(j->c, url, crl);
	job_crl_judge(j, crl);
}

/*
 * Walks the verified chain from the leaf up, fetching the CRL each
 * certificate names (first URL that works) and looking the certificate up
 * in it. The trust anchor itself is not checked.
 */
static void
job_revocation_next(struct check_job *j)
{
	int		 last = sk_X509_num(j->chain) - 1;

	while (j->nurls == 0 && j->crl_cert < last) {
		j->nurls = crl_dp_urls(sk_X509_value(j->chain, j->crl_cert),
		    j->urls, CHECK_CRL_URLS);
		j->url_i = 0;
		if (j->nurls == 0)
			j->crl_cert++;
	}
	if (j->crl_cert >= last) {
		if (j->crl_notes[0] == '\0')
			job_warn(j, "the certificate names no CRL distribution "
			    "point: revocation was not checked");
		job_step(j, "revocation", true, dial_now_ms() - j->step_t0,
		    j->crl_notes[0] ? j->crl_notes : "no CRL distribution point");
		job_finish(j, NULL, "ok");
		return;
	}
	if (j->url_i >= j->nurls) {
		job_step(j, "revocation", false, dial_now_ms() - j->step_t0,
		    j->crl_notes);
		job_finish(j, "crl-unreachable", "no revocation list could be "
		    "fetched: %s", j->crl_notes);
		return;
	}
	{
		X509_CRL *cached = check_crl_cached(j->c, j->urls[j->url_i]);

		if (cached != NULL) {
			job_crl_judge(j, cached);
			return;
		}
	}
	j->get = httpget_start(j->c->base, j->c->dns, j->c->o.routes,
	    j->c->o.resolve, j->urls[j->url_i], CRL_MAX_BYTES,
	    j->c->o.timeout_ms, NULL, job_crl_fetched, j);
	if (j->get == NULL) {
		job_crl_note(j, "%s: not a usable http:// URL", j->urls[j->url_i]);
		j->url_i++;
		job_revocation_next(j);
	}
}

/* The three certificate steps, from what verification recorded. */
static void
job_cert_steps(struct check_job *j, X509 *leaf)
{
	unsigned	 f = j->tv.flags;
	char		 d[400], subj[256];
	int		 days = tls_days_left(leaf);

	tls_common_name(X509_get_subject_name(leaf), subj, sizeof(subj));
	if (f & (TLSV_UNTRUSTED | TLSV_OTHER))
		snprintf(d, sizeof(d), "%s (issuer \"%s\")",
		    X509_verify_cert_error_string(j->tv.first_error),
		    j->r.issuer);
	else
		snprintf(d, sizeof(d), "chain to a trusted CA (issuer \"%s\")",
		    j->r.issuer);
	job_step(j, "verify", !(f & (TLSV_UNTRUSTED | TLSV_OTHER)), 0, d);
	snprintf(d, sizeof(d), "certificate for \"%s\"%s %s", subj,
	    (f & TLSV_HOSTNAME) ? " does not match" : " matches",
	    j->r.target->probe);
	job_step(j, "hostname", !(f & TLSV_HOSTNAME), 0, d);
	if (days < 0)
		snprintf(d, sizeof(d), "expired %d days ago", -days);
	else if (f & TLSV_NOT_YET_VALID)
		snprintf(d, sizeof(d), "not valid yet");
	else
		snprintf(d, sizeof(d), "expires in %d days", days);
	job_step(j, "expiry", !(f & (TLSV_EXPIRED | TLSV_NOT_YET_VALID)), 0, d);
	if (days >= 0 && days < 30 && !(f & TLSV_EXPIRED))
		job_warn(j, "the certificate of %s expires in %d days",
		    j->r.target->probe, days);
}

static void
job_tls_done(struct check_job *j)
{
	SSL		*ssl = bufferevent_openssl_get_ssl(j->bev);
	X509		*leaf = SSL_get0_peer_certificate(ssl);
	const unsigned char *alpn = NULL;
	unsigned	 alpnlen = 0;
	const char	*verdict;
	char		 detail[400];

	SSL_get0_alpn_selected(ssl, &alpn, &alpnlen);
	snprintf(j->r.tls, sizeof(j->r.tls), "%s %s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl));
	job_step(j, "tls", true, dial_now_ms() - j->step_t0, "");
	snprintf(j->r.steps[j->r.nsteps - 1].detail, sizeof(j->r.steps[0].detail),
	    "%s%s%.*s", j->r.tls, alpnlen ? ", ALPN " : "", (int)alpnlen,
	    alpn ? (const char *)alpn : "");
	if (leaf == NULL) {
		job_finish(j, "tls", "the server sent no certificate");
		return;
	}
	tls_name(X509_get_issuer_name(leaf), j->r.issuer, sizeof(j->r.issuer));
	job_cert_steps(j, leaf);
	verdict = tls_verdict(&j->tv, leaf, j->r.target->probe, detail,
	    sizeof(detail));
	if (verdict != NULL) {
		job_finish(j, verdict, "%s", detail);
		return;
	}
	j->chain = SSL_get0_verified_chain(ssl);
	j->crl_cert = 0;
	j->nurls = 0;
	j->step_t0 = dial_now_ms();
	job_revocation_next(j);
}

static void
job_tls_event(struct bufferevent *bev, short what, void *arg)
{
	struct check_job	*j = arg;
	char			 why[300];
	unsigned long		 e;

	if (what & BEV_EVENT_CONNECTED) {
		job_tls_done(j);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		job_step(j, "tls", false, dial_now_ms() - j->step_t0,
		    "no TLS answer");
		job_finish(j, "timeout", "no TLS handshake with %s:%u within "
		    "%d ms", j->r.target->probe, j->r.target->port,
		    j->c->o.timeout_ms);
		return;
	}
	e = bufferevent_get_openssl_error(bev);
	if (e != 0)
		ERR_error_string_n(e, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "the connection was closed during "
		    "the handshake");
	ERR_clear_error();
	job_step(j, "tls", false, dial_now_ms() - j->step_t0, why);
	job_finish(j, "tls", "%s", why);
}

static void
job_dialed(void *arg, struct dial_result *res)
{
	static const unsigned char alpn[] = "\x02h2\x08http/1.1";
	struct check_job	*j = arg;
	struct tls_verify	*tv = &j->tv;
	struct timeval		 tmo;
	SSL			*ssl;

	j->dial = NULL;
	job_route(j, &res->route);
	if (res->error != DIAL_OK) {
		job_finish(j, dial_error_name(res->error), "%s", res->detail);
		return;
	}
	memset(tv, 0, sizeof(*tv));
	ssl = tls_client_new(j->c->o.tls_cloud != NULL &&
	    strcmp(j->r.target->service, "cloud") == 0 ? j->c->o.tls_cloud :
	    j->c->o.tls, j->r.target->probe, alpn,
	    sizeof(alpn) - 1, tv);
	j->step_t0 = dial_now_ms();
	j->bev = ssl == NULL ? NULL : bufferevent_openssl_socket_new(j->c->base,
	    res->fd, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (j->bev == NULL) {
		SSL_free(ssl);
		close(res->fd);
		job_finish(j, "tls", "out of memory");
		return;
	}
	tmo.tv_sec = j->c->o.timeout_ms / 1000;
	tmo.tv_usec = (j->c->o.timeout_ms % 1000) * 1000;
	bufferevent_set_timeouts(j->bev, &tmo, &tmo);
	bufferevent_setcb(j->bev, NULL, NULL, job_tls_event, j);
	bufferevent_enable(j->bev, EV_READ);
}

static void
job_http_done(void *arg, struct httpget_result *res)
{
	struct check_job	*j = arg;
	const char		*err = NULL;

	j->get = NULL;
	job_route(j, &res->route);
	switch (res->error) {
	case HTTPGET_OK:
		job_step(j, "http", res->status < 400, dial_now_ms() - j->step_t0,
		    res->status_line);
		if (res->status >= 400)
			err = "http";
		break;
	case HTTPGET_EDIAL:
		err = dial_error_name(res->dial_error);
		break;
	case HTTPGET_ETIMEOUT:
		err = "timeout";
		break;
	case HTTPGET_EPROXY:
		err = "proxy-denied";
		break;
	case HTTPGET_EPROTO:
		err = "http";
		break;
	}
	if (res->error != HTTPGET_OK && res->error != HTTPGET_EDIAL)
		job_step(j, "http", false, dial_now_ms() - j->step_t0, res->detail);
	if (err != NULL)
		job_finish(j, err, "%s", res->status >= 400 && res->error ==
		    HTTPGET_OK ? res->status_line : res->detail);
	else
		job_finish(j, NULL, "%s", res->status_line);
}

/* Records the dial steps, and marks when the HTTP exchange starts. */
static void
job_http_step(void *arg, const char *name, bool ok, long ms, const char *d)
{
	struct check_job	*j = arg;

	job_step(arg, name, ok, ms, d);
	j->step_t0 = dial_now_ms();
}

static void
job_start(struct check_job *j)
{
	const struct check_target *t = j->r.target;
	struct check	*c = j->c;
	struct dial_opts o;
	struct route	 rt;
	char		 url[900], host[300], why[sizeof(j->r.detail)];
	size_t		 at = 0;

	j->t0 = dial_now_ms();
	c->running++;
	if (t->probe[0] == '\0') {
		route_decide(c->o.routes, t->address + 2, t->port, &rt);
		job_route(j, &rt);
		job_finish(j, "not-testable", "%s is a wildcard and the catalog "
		    "gives no probe host for it", t->address);
		return;
	}
	if (c->o.allow != NULL && !c->o.allow(c->o.allow_arg, t, why,
	    sizeof(why))) {
		route_decide(c->o.routes, t->probe, t->port, &rt);
		job_route(j, &rt);
		job_finish(j, "not-allowed", "%s", why);
		return;
	}
	/* The catalog refuses such a path; never send one whatever made it. */
	if (t->scheme == SCHEME_HTTP && catalog_text_invalid(t->path,
	    strlen(t->path), true, &at) != NULL) {
		route_decide(c->o.routes, t->probe, t->port, &rt);
		job_route(j, &rt);
		job_finish(j, "not-testable", "the path holds a byte that may "
		    "not be sent in a request line (offset %zu)", at);
		return;
	}
	if (t->scheme == SCHEME_HTTP) {
		hostport_format(host, sizeof(host), t->probe, t->port);
		snprintf(url, sizeof(url), "http://%s%s", host, t->path);
		j->step_t0 = j->t0;
		j->get = httpget_start(c->base, c->dns, c->o.routes, c->o.resolve,
		    url, 1024 * 1024, c->o.timeout_ms, job_http_step,
		    job_http_done, j);
		if (j->get == NULL)
			job_finish(j, "http", "cannot request %s", url);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.host = t->probe;
	o.port = t->port;
	o.routes = c->o.routes;
	o.resolve = c->o.resolve;
	o.timeout_ms = c->o.timeout_ms;
	o.id = "check";
	j->dial = dial_start(c->base, c->dns, &o, job_step, job_dialed, j);
	if (j->dial == NULL)
		job_finish(j, "tcp", "out of memory");
}

/*
 * Keeps up to "parallel" addresses running. Runs from a timer so that a
 * job finishing inside job_start cannot recurse without bound.
 */
static void
check_kick(evutil_socket_t fd, short what, void *arg)
{
	struct check	*c = arg;

	(void)fd;
	(void)what;
	while (c->next < c->n && c->running < (size_t)c->o.parallel)
		job_start(&c->jobs[c->next++]);
	if (c->finished == c->n && c->done_cb != NULL) {
		check_done_cb	*done = c->done_cb;

		c->done_cb = NULL;
		done(c->arg);
	}
}

static void
check_launch(struct check *c)
{
	struct timeval	 zero = { 0, 0 };

	evtimer_add(c->kick, &zero);
}

struct check *
check_start(struct event_base *base, struct evdns_base *dns,
    const struct check_opts *opts, const struct check_target *targets,
    size_t n, check_result_cb *result, check_done_cb *done, void *arg)
{
	struct check	*c;
	size_t		 i;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->jobs = calloc(n ? n : 1, sizeof(*c->jobs));
	c->kick = evtimer_new(base, check_kick, c);
	if (c->jobs == NULL || c->kick == NULL) {
		check_free(c);
		return NULL;
	}
	c->base = base;
	c->dns = dns;
	c->o = *opts;
	if (c->o.parallel <= 0)
		c->o.parallel = 8;
	if (c->o.timeout_ms <= 0)
		c->o.timeout_ms = 5000;
	c->targets = targets;
	c->n = n;
	c->result_cb = result;
	c->done_cb = done;
	c->arg = arg;
	for (i = 0; i < n; i++) {
		c->jobs[i].c = c;
		c->jobs[i].index = i;
		c->jobs[i].r.target = &targets[i];
	}
	check_launch(c);
	return c;
}

void
check_free(struct check *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; c->jobs != NULL && i < c->n; i++)
		job_free_io(&c->jobs[i]);
	for (i = 0; i < c->ncrls; i++)
		X509_CRL_free(c->crls[i].crl);
	if (c->kick != NULL)
		event_free(c->kick);
	free(c->jobs);
	free(c);
}

static json_t *
json_str_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? json_string(s) : json_null();
}

json_t *
check_result_json(const struct check_result *r)
{
	const struct check_target *t = r->target;
	json_t	*o, *steps, *warn;
	int	 i;

	steps = json_array();
	for (i = 0; i < r->nsteps; i++)
		json_array_append_new(steps, json_pack("{s:s, s:b, s:I, s:s}",
		    "name", r->steps[i].name, "ok", r->steps[i].ok, "ms",
		    (json_int_t)r->steps[i].ms, "detail", r->steps[i].detail));
	warn = json_array();
	for (i = 0; i < r->nwarnings; i++)
		json_array_append_new(warn, json_string(r->warnings[i]));
	o = json_pack("{s:s, s:s, s:o, s:i, s:s, s:s, s:o, s:b, s:o, s:o, "
	    "s:o, s:o, s:o, s:o, s:I, s:o, s:o}",
	    "service", t->service, "address", t->address, "probe",
	    json_str_or_null(t->probe), "port", t->port, "scheme",
	    t->scheme == SCHEME_HTTPS ? "https" : "http", "route",
	    r->route == ROUTE_PROXY ? "proxy" : "direct", "rule",
	    json_str_or_null(r->rule), "ok", r->ok, "error",
	    json_str_or_null(r->error), "detail", json_str_or_null(r->ok ? NULL :
	    r->detail), "issuer", json_str_or_null(r->issuer), "hint",
	    json_str_or_null(r->hint), "tls", json_str_or_null(r->tls),
	    "purpose", json_str_or_null(t->purpose), "ms", (json_int_t)r->ms,
	    "warnings", warn, "steps", steps);
	return o;
}

json_t *
check_report_json(const struct route_table *routes,
    const struct check_result *results, const bool *have, size_t n)
{
	json_t	*root, *arr;
	size_t	 i, passed = 0, failed = 0;

	arr = json_array();
	for (i = 0; i < n; i++) {
		if (!have[i])
			continue;
		json_array_append_new(arr, check_result_json(&results[i]));
		if (results[i].ok)
			passed++;
		else
			failed++;
	}
	root = json_pack("{s:b, s:o, s:o, s:i, s:i, s:o}", "ok", failed == 0,
	    "proxy", routes->has_proxy ? json_string(routes->proxy.url) :
	    json_null(), "source", routes->source[0] ?
	    json_string(routes->source) : json_null(), "passed", (int)passed,
	    "failed", (int)failed, "results", arr);
	return root;
}

/* The size of the report's text, or SIZE_MAX when it cannot be made. */
static size_t
report_size(const json_t *report)
{
	size_t	 n = json_dumpb(report, NULL, 0, CHECK_JSON_FLAGS);

	return n == 0 ? SIZE_MAX : n;
}

/*
 * Keeps the rows whose rank[] is k or more, in their order, and says how
 * many were left out.
 */
static void
report_keep(json_t *report, json_t *rows, const size_t *rank, size_t k)
{
	json_t	*kept = json_array();
	size_t	 i, n = json_array_size(rows);

	for (i = 0; i < n; i++)
		if (rank[i] >= k)
			json_array_append(kept, json_array_get(rows, i));
	json_object_set_new(report, "results", kept);
	json_object_set_new(report, "omitted", json_integer((json_int_t)k));
}

static bool
row_ok(json_t *rows, size_t i)
{
	return json_is_true(json_object_get(json_array_get(rows, i), "ok"));
}

/*
 * Shrinks a report to max bytes of text: first the steps of passing rows
 * go, then passing rows from the last, then failing rows from the last,
 * since a failure and its remedy are what the reader needs. rank[] is the
 * order in which rows go; the fewest that must go are found by bisection,
 * each probe only measuring the text.
 */
static void
report_shrink(json_t *report, size_t max)
{
	json_t	*rows = json_incref(json_object_get(report, "results"));
	size_t	*rank, n = json_array_size(rows), next = 0, lo, hi, mid, i;

	json_object_set_new(report, "truncated", json_true());
	for (i = 0; i < n; i++)
		if (row_ok(rows, i))
			json_object_set_new(json_array_get(rows, i), "steps",
			    json_array());
	rank = calloc(n ? n : 1, sizeof(*rank));
	if (rank == NULL)
		goto out;
	for (i = n; i-- > 0; )
		if (row_ok(rows, i))
			rank[i] = next++;
	for (i = n; i-- > 0; )
		if (!row_ok(rows, i))
			rank[i] = next++;
	lo = 0;
	hi = n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		report_keep(report, rows, rank, mid);
		if (report_size(report) <= max)
			hi = mid;
		else
			lo = mid + 1;
	}
	report_keep(report, rows, rank, lo);
out:
	free(rank);
	json_decref(rows);
}

char *
check_report_text(json_t *report, size_t max)
{
	if (max > 0 && report_size(report) > max)
		report_shrink(report, max);
	return json_dumps(report, CHECK_JSON_FLAGS);
}
