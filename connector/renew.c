#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "error.h"
#include "https.h"
#include "keyfile.h"
#include "log.h"
#include "pki.h"
#include "renew.h"
#include "tls.h"

struct renew {
	struct event_base		*base;
	const struct connector_config	*cfg;
	struct https			*req;
	struct event			*later;		/* early errors */
	SSL_CTX				*ctx;
	EVP_PKEY			*key;
	bool				 staged;	/* KEY.new written */
	struct renew_result		 res;
	renew_done_cb			*done;
	void				*arg;
};

void
renew_time_text(time_t t, char *dst, size_t dstlen)
{
	struct tm	 tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(dst, dstlen, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		snprintf(dst, dstlen, "%lld", (long long)t);
}

/* An ASN1_TIME as a time_t; false when it does not convert. */
static bool
renew_asn1_time(const ASN1_TIME *at, time_t *out)
{
	struct tm	 tm;

	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(at, &tm) != 1)
		return false;
	*out = timegm(&tm);
	return *out != (time_t)-1;
}

int
renew_due(const char *cert_file, time_t now, time_t *due_at, char *err,
    size_t errlen)
{
	X509	*cert;
	time_t	 nb, na;

	if (pki_cert_load(cert_file, &cert, err, errlen) != UPLINK_OK)
		return -1;
	if (!renew_asn1_time(X509_get0_notBefore(cert), &nb) ||
	    !renew_asn1_time(X509_get0_notAfter(cert), &na) || na <= nb) {
		snprintf(err, errlen, "%s: the certificate's validity period "
		    "cannot be read", cert_file);
		X509_free(cert);
		return -1;
	}
	X509_free(cert);
	*due_at = nb + (na - nb) / 3 * 2;
	return now >= *due_at ? 1 : 0;
}

/* "PATH.new", or false when it does not fit. */
static bool
renew_new_path(const char *path, char *dst, size_t dstlen)
{
	int	 n = snprintf(dst, dstlen, "%s.new", path);

	return n > 0 && (size_t)n < dstlen;
}

int
renew_stage_key(EVP_PKEY *key, const char *key_path, char *err,
    size_t errlen)
{
	char	 knew[PATH_MAX];

	if (!renew_new_path(key_path, knew, sizeof(knew))) {
		snprintf(err, errlen, "%s: the path is too long", key_path);
		return UPLINK_EINVAL;
	}
	return pki_key_save(key, knew, err, errlen);
}

int
renew_install(X509 *cert, const char *key_path, const char *cert_path,
    char *err, size_t errlen)
{
	char	 knew[PATH_MAX], cnew[PATH_MAX];
	int	 rc;

	if (!renew_new_path(key_path, knew, sizeof(knew)) ||
	    !renew_new_path(cert_path, cnew, sizeof(cnew))) {
		snprintf(err, errlen, "%s: the path is too long", cert_path);
		return UPLINK_EINVAL;
	}
	rc = pki_cert_save(cert, cnew, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (rename(knew, key_path) != 0) {
		snprintf(err, errlen, "%s: cannot put the new key in place: %s",
		    key_path, strerror(errno));
		unlink(cnew);
		return UPLINK_EIO;
	}
	if (rename(cnew, cert_path) != 0) {
		snprintf(err, errlen, "%s: cannot put the new certificate in "
		    "place: %s (it is in %s; the connector finishes this at "
		    "its next start)", cert_path, strerror(errno), cnew);
		return UPLINK_EIO;
	}
	return UPLINK_OK;
}

/* Does the certificate in cert_path belong to the key in key_path? */
static bool
renew_pair_matches(const char *key_path, const char *cert_path)
{
	EVP_PKEY	*key = NULL;
	X509		*cert = NULL;
	char		 err[512];
	bool		 ok = false;

	if (pki_key_load(key_path, &key, err, sizeof(err)) == UPLINK_OK &&
	    pki_cert_load(cert_path, &cert, err, sizeof(err)) == UPLINK_OK)
		ok = X509_check_private_key(cert, key) == 1;
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(cert);
	return ok;
}

int
renew_recover(const char *key_path, const char *cert_path, char *err,
    size_t errlen)
{
	char	 knew[PATH_MAX], cnew[PATH_MAX];
	bool	 have_knew, have_cnew;

	if (!renew_new_path(key_path, knew, sizeof(knew)) ||
	    !renew_new_path(cert_path, cnew, sizeof(cnew))) {
		snprintf(err, errlen, "%s: the path is too long", cert_path);
		return UPLINK_EINVAL;
	}
	have_knew = access(knew, F_OK) == 0;
	have_cnew = access(cnew, F_OK) == 0;
	/* Both staged and matching: the cloud issued it, install it. */
	if (have_knew && have_cnew && renew_pair_matches(knew, cnew)) {
		if (rename(knew, key_path) != 0)
			goto fail;
		have_knew = false;
	}
	if (have_cnew && renew_pair_matches(key_path, cnew)) {
		if (rename(cnew, cert_path) != 0)
			goto fail;
		log_info("%s: finished installing the renewed certificate",
		    cert_path);
		have_cnew = false;
	}
	/* Anything else is a renewal that did not complete. */
	if (have_knew)
		unlink(knew);
	if (have_cnew)
		unlink(cnew);
	return UPLINK_OK;
fail:
	snprintf(err, errlen, "%s: cannot finish installing the renewed "
	    "certificate: %s", cert_path, strerror(errno));
	return UPLINK_EIO;
}

void
renew_answer_free(struct renew_answer *a)
{
	X509_free(a->cert);
	X509_free(a->ca);
	memset(a, 0, sizeof(*a));
}

int
renew_answer_parse(const struct buf *body, EVP_PKEY *key,
    struct renew_answer *a, char *err, size_t errlen)
{
	json_t		*root;
	json_error_t	 jerr;
	const char	*id, *site, *cert, *ca;
	json_int_t	 na, ra;
	char		 why[512];
	int		 rc = UPLINK_EINVAL;

	memset(a, 0, sizeof(*a));
	root = json_loadb(body->ptr, body->len, 0, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "the answer is not JSON: %s", jerr.text);
		return UPLINK_EINVAL;
	}
	if (json_unpack_ex(root, &jerr, 0, "{s:s, s:s, s:s, s:s, s:I, s:I}",
	    "connector_id", &id, "site", &site, "certificate", &cert, "ca", &ca,
	    "not_after", &na, "renew_after", &ra) != 0) {
		snprintf(err, errlen, "the answer lacks a field: %s",
		    jerr.text);
		goto out;
	}
	if (pki_cert_parse(cert, strlen(cert), &a->cert, why,
	    sizeof(why)) != UPLINK_OK || pki_cert_parse(ca, strlen(ca), &a->ca,
	    why, sizeof(why)) != UPLINK_OK) {
		snprintf(err, errlen, "the answer holds a bad certificate: %s",
		    why);
		goto out;
	}
	if (X509_check_private_key(a->cert, key) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "the certificate in the answer is not "
		    "for the key this connector sent");
		goto out;
	}
	snprintf(a->connector_id, sizeof(a->connector_id), "%s", id);
	snprintf(a->site, sizeof(a->site), "%s", site);
	a->not_after = (time_t)na;
	a->renew_after = (time_t)ra;
	rc = UPLINK_OK;
out:
	if (rc != UPLINK_OK)
		renew_answer_free(a);
	json_decref(root);
	return rc;
}

void
renew_error_parse(const struct buf *body, char *code, size_t codelen,
    char *msg, size_t msglen)
{
	json_t		*root;
	const char	*c = "", *m = "";

	root = json_loadb(body->ptr, body->len, 0, NULL);
	if (root != NULL)
		json_unpack(root, "{s?s, s?s}", "error", &c, "message", &m);
	snprintf(code, codelen, "%s", c);
	snprintf(msg, msglen, "%s", m);
	json_decref(root);
}

static void
renew_free(struct renew *r)
{
	char	 knew[PATH_MAX];

	https_cancel(r->req);
	if (r->later != NULL)
		event_free(r->later);
	if (r->staged && renew_new_path(r->cfg->cloud_key, knew, sizeof(knew)))
		unlink(knew);
	SSL_CTX_free(r->ctx);
	EVP_PKEY_free(r->key);
	free(r);
}

/* The one way a renewal ends. */
static void
renew_finish(struct renew *r, enum renew_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
renew_finish(struct renew *r, enum renew_status st, const char *fmt, ...)
{
	va_list	 ap;

	r->res.status = st;
	va_start(ap, fmt);
	vsnprintf(r->res.text, sizeof(r->res.text), fmt, ap);
	va_end(ap);
	r->done(r->arg, &r->res);
	renew_free(r);
}

static void
renew_accept(struct renew *r, struct https_result *res)
{
	struct renew_answer	 a;
	char			 err[1024], until[40], next[40];

	if (renew_answer_parse(res->body, r->key, &a, err, sizeof(err)) !=
	    UPLINK_OK) {
		renew_finish(r, RENEW_FAILED, "renewal: %s answered 200, but "
		    "%s", r->cfg->cloud_url, err);
		return;
	}
	if (renew_install(a.cert, r->cfg->cloud_key, r->cfg->cloud_cert, err,
	    sizeof(err)) != UPLINK_OK) {
		renew_answer_free(&a);
		renew_finish(r, RENEW_FAILED, "renewal: %s", err);
		return;
	}
	r->staged = false;
	r->res.not_after = a.not_after;
	r->res.renew_after = a.renew_after;
	renew_time_text(a.not_after, until, sizeof(until));
	renew_time_text(a.renew_after, next, sizeof(next));
	renew_answer_free(&a);
	renew_finish(r, RENEW_OK, "renewed the certificate %s: valid until %s, "
	    "next renewal after %s", r->cfg->cloud_cert, until, next);
}

static void
renew_answered(void *arg, struct https_result *res)
{
	struct renew	*r = arg;
	char		 code[64], msg[512];

	r->req = NULL;
	if (res->error != NULL) {
		renew_finish(r, RENEW_FAILED, "renewal: %s", res->detail);
		return;
	}
	if (res->status == 200) {
		renew_accept(r, res);
		return;
	}
	renew_error_parse(res->body, code, sizeof(code), msg, sizeof(msg));
	if (res->status == 403 && strcmp(code, "connector-revoked") == 0)
		renew_finish(r, RENEW_REVOKED, "the cloud %s has revoked this "
		    "connector (%s); to use this machine again, enroll it with "
		    "a new token (uplink-cloud token create --site SITE)",
		    r->cfg->cloud_url, msg[0] ? msg : "connector-revoked");
	else
		renew_finish(r, RENEW_FAILED, "renewal: %s refused POST "
		    "/v1/renew with %d%s%s%s%s", r->cfg->cloud_url, res->status,
		    code[0] ? " " : "", code, msg[0] ? ": " : "", msg);
}

static void
renew_later(evutil_socket_t fd, short what, void *arg)
{
	struct renew	*r = arg;
	char		 text[sizeof(r->res.text)];

	(void)fd;
	(void)what;
	memcpy(text, r->res.text, sizeof(text));
	renew_finish(r, RENEW_FAILED, "%s", text);
}

/* Builds the JSON body {"csr": PEM} for a new key. */
static int
renew_body(struct renew *r, struct buf *body, char *err, size_t errlen)
{
	X509	*cert = NULL;
	char	 cn[PKI_CN_MAX + 1];
	struct buf csr;
	json_t	*o;
	char	*s;
	int	 rc;

	buf_init(&csr, PKI_CSR_MAX);
	rc = pki_cert_load(r->cfg->cloud_cert, &cert, err, errlen);
	if (rc == UPLINK_OK) {
		tls_common_name(X509_get_subject_name(cert), cn, sizeof(cn));
		rc = pki_key_new(&r->key, err, errlen);
	}
	if (rc == UPLINK_OK)
		rc = pki_csr_new(r->key, cn, &csr, err, errlen);
	X509_free(cert);
	if (rc != UPLINK_OK)
		goto out;
	o = json_pack("{s:s}", "csr", buf_cstr(&csr));
	s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	rc = s != NULL ? buf_appends(body, s) : UPLINK_ENOMEM;
	if (rc != UPLINK_OK)
		snprintf(err, errlen, "out of memory");
	free(s);
	json_decref(o);
out:
	buf_free(&csr);
	return rc;
}

/* Everything up to the request; false with the reason in err. */
static bool
renew_prepare(struct renew *r, struct evdns_base *dns, char *err,
    size_t errlen)
{
	const struct connector_config	*cfg = r->cfg;
	struct https_request		 q;
	struct buf			 body;
	bool				 ok = false;

	buf_init(&body, PKI_CSR_MAX * 2);
	if (cfg->cloud_url[0] == '\0') {
		snprintf(err, errlen, "%s: no [cloud] section", cfg->path);
		goto out;
	}
	if (renew_body(r, &body, err, errlen) != UPLINK_OK)
		goto out;
	if (keyfile_check_mode(cfg->cloud_key, "the connector's private key",
	    err, errlen) != UPLINK_OK)
		goto out;
	r->ctx = https_ctx_new(cfg->cloud_ca, cfg->cloud_cert, cfg->cloud_key,
	    err, errlen);
	if (r->ctx == NULL)
		goto out;
	if (renew_stage_key(r->key, cfg->cloud_key, err, errlen) != UPLINK_OK)
		goto out;
	r->staged = true;
	memset(&q, 0, sizeof(q));
	q.url = cfg->cloud_url;
	q.method = "POST";
	q.path = "/v1/renew";
	q.body = body.ptr;
	q.bodylen = body.len;
	q.content_type = "application/json";
	q.ctx = r->ctx;
	q.routes = &cfg->routes;
	q.max_body = RENEW_BODY_MAX;
	q.timeout_ms = RENEW_TIMEOUT_MS;
	q.id = "renew";
	r->req = https_request_start(r->base, dns, &q, renew_answered, r);
	if (r->req == NULL)
		snprintf(err, errlen, "%s: cannot start a request",
		    cfg->cloud_url);
	ok = r->req != NULL;
out:
	buf_free(&body);
	return ok;
}

struct renew *
renew_start(struct event_base *base, struct evdns_base *dns,
    const struct connector_config *cfg, renew_done_cb *done, void *arg)
{
	struct renew	*r;
	struct timeval	 now = { 0, 0 };
	char		 err[768];

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->base = base;
	r->cfg = cfg;
	r->done = done;
	r->arg = arg;
	if (renew_prepare(r, dns, err, sizeof(err)))
		return r;
	snprintf(r->res.text, sizeof(r->res.text), "renewal: %s", err);
	r->later = evtimer_new(base, renew_later, r);
	if (r->later == NULL || evtimer_add(r->later, &now) != 0) {
		renew_free(r);
		return NULL;
	}
	return r;
}

void
renew_cancel(struct renew *r)
{
	if (r != NULL)
		renew_free(r);
}
