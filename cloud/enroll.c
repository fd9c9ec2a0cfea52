#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "enroll.h"
#include "error.h"
#include "log.h"
#include "metrics.h"
#include "pki.h"
#include "store.h"
#include "token.h"

#define ENROLL_WHY_MAX		512
#define ENROLL_INTERNAL		"the cloud failed to handle the request; " \
				"its log says why: retry later"

/* A field of a request body: all are strings. */
struct enroll_field {
	const char	*name;
	const char	**out;
	bool		 required;
};

/* A certificate just signed, and what the store and the reply need. */
struct enroll_cert {
	struct buf	 pem;
	char		 serial[PKI_SERIAL_HEX_MAX];
	char		 fingerprint[PKI_FP_HEX_MAX];
	int64_t		 not_before, not_after;
};

/* One request as it goes through the steps of a handler. */
struct enroll_job {
	const struct enroll_ctx	*c;
	const char		*peer;
	struct buf		*resp;
	json_t			*root;
	const char		*token, *csr, *name, *version;
	char			 token_id[TOKEN_ID_SIZE];
	unsigned char		 hash[TOKEN_HASH_LEN];
	char			 connector_id[STORE_ID_MAX + 1];
	char			 site[STORE_NAME_MAX + 1];
	struct enroll_cert	 cert;
};

/* ISO 8601 UTC for log lines and messages. */
static const char *
enroll_time(int64_t t, char buf[32])
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, 32,
	    "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "%lld", (long long)t);
	return buf;
}

/*
 * The audit log's row for an enrollment: the token is the actor (whoever
 * made it is in the token.create row), the peer its address. A failure
 * to write it is logged: the connector is enrolled either way.
 */
static void
enroll_audit(const struct enroll_job *j, const char *until)
{
	struct store_audit	 a;
	char			 err[256];

	memset(&a, 0, sizeof(a));
	snprintf(a.actor, sizeof(a.actor), "token %s", j->token_id);
	snprintf(a.actor_kind, sizeof(a.actor_kind), "system");
	snprintf(a.address, sizeof(a.address), "%s", j->peer);
	snprintf(a.action, sizeof(a.action), "connector.enroll");
	snprintf(a.target, sizeof(a.target), "%s", j->connector_id);
	snprintf(a.detail, sizeof(a.detail), "connector \"%s\" joined site "
	    "%s with token %s; certificate %s valid until %s", j->name,
	    j->site, j->token_id, j->cert.serial, until);
	if (store_audit_add(j->c->dd->st, &a, err, sizeof(err)) != UPLINK_OK)
		log_warnx("audit: cannot record the enrollment of connector "
		    "%s: %s", j->connector_id, err);
}

/*
 * Copies text a peer sent into dst for a message: at most 40 bytes, and
 * anything but printable ASCII as '?', so it cannot forge log lines.
 */
static const char *
enroll_quote(const char *src, char *dst, size_t dstlen)
{
	size_t	 i;

	for (i = 0; src[i] != '\0' && i < 40 && i + 1 < dstlen; i++)
		dst[i] = src[i] >= ' ' && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
	return dst;
}

/* Writes {"error", "message"} into resp and returns status. */
static int
enroll_error(struct buf *resp, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
enroll_error(struct buf *resp, int status, const char *code,
    const char *fmt, ...)
{
	va_list	 ap;
	json_t	*o;
	char	 msg[ENROLL_WHY_MAX], *text = NULL;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_reset(resp);
	o = json_pack("{s:s, s:s}", "error", code, "message", msg);
	if (o != NULL)
		text = json_dumps(o, JSON_COMPACT);
	if (text == NULL || buf_appends(resp, text) != UPLINK_OK) {
		buf_reset(resp);
		buf_appends(resp, "{\"error\":\"internal\",\"message\":"
		    "\"out of memory\"}");
		status = 500;
	}
	free(text);
	json_decref(o);
	return status;
}

/* Sets the field called key, or says why the body is refused. */
static int
enroll_field_set(struct enroll_field *fields, const char *key, json_t *v,
    char *why, size_t whylen)
{
	struct enroll_field	*f;
	char			 q[48];

	for (f = fields; f->name != NULL; f++)
		if (strcmp(f->name, key) == 0)
			break;
	if (f->name == NULL)
		return uplink_fail(UPLINK_EINVAL, why, whylen,
		    "unknown field \"%s\" in the "
		    "request: is the connector newer than the cloud?",
		    enroll_quote(key, q, sizeof(q)));
	if (!json_is_string(v))
		return uplink_fail(UPLINK_EINVAL, why, whylen,
		    "the field \"%s\" must be a string", f->name);
	*f->out = json_string_value(v);
	return UPLINK_OK;
}

/*
 * Reads a body that must be a JSON object with only the fields listed,
 * each a string, the required ones present. The strings point into *root,
 * which the caller frees with json_decref() whatever happens.
 */
static int
enroll_parse(const char *body, size_t len, struct enroll_field *fields,
    json_t **root, char *why, size_t whylen)
{
	struct enroll_field	*f;
	json_error_t		 jerr;
	const char		*key;
	json_t			*v;

	*root = NULL;
	if (len > ENROLL_BODY_MAX)
		return uplink_fail(UPLINK_EINVAL, why, whylen,
		    "the request body is %zu bytes; at most %d are accepted",
		    len, ENROLL_BODY_MAX);
	*root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (*root == NULL)
		return uplink_fail(UPLINK_EINVAL, why, whylen,
		    "the request body is not JSON: %s (line %d, column %d)",
		    jerr.text, jerr.line, jerr.column);
	if (!json_is_object(*root))
		return uplink_fail(UPLINK_EINVAL, why, whylen,
		    "the request body must be a JSON object");
	json_object_foreach(*root, key, v)
		if (enroll_field_set(fields, key, v, why, whylen) != UPLINK_OK)
			return UPLINK_EINVAL;
	for (f = fields; f->name != NULL; f++)
		if (f->required && *f->out == NULL)
			return uplink_fail(UPLINK_EINVAL, why, whylen,
			    "the request has no \"%s\" field", f->name);
	return UPLINK_OK;
}

static int
enroll_bad(struct enroll_job *j, const char *what, const char *why)
{
	log_warnx("%s from %s: bad request: %s", what, j->peer, why);
	return enroll_error(j->resp, 400, "bad-request", "%s", why);
}

static int
enroll_internal(struct enroll_job *j, const char *what, const char *why)
{
	log_warnx("%s from %s: %s", what, j->peer, why);
	return enroll_error(j->resp, 500, "internal", ENROLL_INTERNAL);
}

/* The connector's name and version, which end up in listings and logs. */
static int
enroll_check_names(const struct enroll_job *j, char *why, size_t whylen)
{
	size_t	 i, len;

	if (!store_name_check("connector name", j->name, why, whylen))
		return UPLINK_EINVAL;
	if (j->version == NULL)
		return UPLINK_OK;
	len = strlen(j->version);
	for (i = 0; i < len; i++)
		if (j->version[i] <= ' ' || j->version[i] >= 0x7f)
			break;
	if (len == 0 || len > STORE_VERSION_MAX || i < len)
		return uplink_fail(UPLINK_EINVAL, why, whylen,
		    "the version must be 1 to %d "
		    "printable characters without spaces", STORE_VERSION_MAX);
	return UPLINK_OK;
}

/* Step 1 of enrolling: a well-formed request with a well-formed token. */
static int
enroll_read(struct enroll_job *j, const char *body, size_t len)
{
	struct enroll_field	 fields[] = {
		{ "token", &j->token, true },
		{ "csr", &j->csr, true },
		{ "name", &j->name, true },
		{ "version", &j->version, false },
		{ NULL, NULL, false },
	};
	struct token		 t;
	char			 why[ENROLL_WHY_MAX], msg[ENROLL_WHY_MAX];

	if (enroll_parse(body, len, fields, &j->root, why, sizeof(why)) !=
	    UPLINK_OK || enroll_check_names(j, why, sizeof(why)) != UPLINK_OK)
		return enroll_bad(j, "enroll", why);
	if (token_decode(j->token, &t, why, sizeof(why)) != UPLINK_OK) {
		snprintf(msg, sizeof(msg), "the enrollment token is %s", why);
		return enroll_bad(j, "enroll", msg);
	}
	token_secret_hash(t.secret, j->hash);
	token_id(t.secret, j->token_id);
	token_clear(&t);
	return 0;
}

/*
 * Answers a token the store refused. The client learns which refusal it
 * was, not the details that go to the log: the site, when and by whom.
 */
static int
enroll_refuse(struct enroll_job *j, const struct store_token_use *use,
    const char *detail)
{
	static const struct {
		const char	*code;
		const char	*msg;
	} r[] = {
		[STORE_TOKEN_UNKNOWN] = { "token-unknown", "this cloud does "
		    "not know the enrollment token: check that it was made by "
		    "\"uplink-cloud token create\" on this cloud" },
		[STORE_TOKEN_EXPIRED] = { "token-expired", "the enrollment "
		    "token has expired: create a new one with \"uplink-cloud "
		    "token create\"" },
		[STORE_TOKEN_USED] = { "token-used", "the enrollment token was "
		    "already used (each token enrolls one connector): create "
		    "a new one with \"uplink-cloud token create\"" },
		[STORE_TOKEN_REVOKED] = { "token-revoked", "the enrollment "
		    "token was revoked: create a new one with \"uplink-cloud "
		    "token create\"" },
	};

	if (use->state == STORE_TOKEN_CONSUMED ||
	    use->state == STORE_TOKEN_FAILED || r[use->state].code == NULL)
		return enroll_internal(j, "enroll", detail);
	log_warnx("enroll from %s: token %s refused (%s): %s", j->peer,
	    j->token_id, r[use->state].code, detail);
	return enroll_error(j->resp, 403, r[use->state].code, "%s",
	    r[use->state].msg);
}

/* Reads back what the reply and the store need from a signed PEM. */
static int
enroll_cert_facts(struct enroll_cert *ec, char *err, size_t errlen)
{
	const ASN1_TIME	*nb;
	struct tm	 tm;
	X509		*x;
	int		 rc;

	rc = pki_cert_parse(ec->pem.ptr, ec->pem.len, &x, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = pki_cert_fingerprint(x, ec->fingerprint, err, errlen);
	nb = X509_get0_notBefore(x);
	if (rc == UPLINK_OK && ASN1_TIME_to_tm(nb, &tm) != 1)
		rc = uplink_fail(UPLINK_EINVAL, err, errlen,
		    "cannot read the notBefore of "
		    "the certificate just signed");
	if (rc == UPLINK_OK)
		ec->not_before = timegm(&tm);
	X509_free(x);
	return rc;
}

/* Signs the CSR for the connector cn, valid for the configured lifetime. */
static int
enroll_sign(const struct enroll_ctx *c, const char *csr, const char *cn,
    struct enroll_cert *ec, char *err, size_t errlen)
{
	struct pki_issued	 issued;
	int			 rc;

	rc = pki_sign_csr(c->dd->ca_key, c->dd->ca_cert, csr, strlen(csr), cn,
	    c->cert_lifetime, c->dd->crl_url[0] != '\0' ? c->dd->crl_url : NULL,
	    &ec->pem, &issued, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	snprintf(ec->serial, sizeof(ec->serial), "%s", issued.serial);
	ec->not_after = issued.not_after;
	return enroll_cert_facts(ec, err, errlen);
}

/* Step 3 of either handler: sign, or answer why not. */
static int
enroll_issue(struct enroll_job *j, const char *what)
{
	char	 why[ENROLL_WHY_MAX];
	int	 rc;

	rc = enroll_sign(j->c, j->csr, j->connector_id, &j->cert, why,
	    sizeof(why));
	if (rc == UPLINK_EINVAL || rc == UPLINK_ETOOBIG) {
		log_warnx("%s from %s: connector %s: certificate request "
		    "refused: %s", what, j->peer, j->connector_id, why);
		return enroll_error(j->resp, 400, "csr-invalid", "%s", why);
	}
	if (rc != UPLINK_OK)
		return enroll_internal(j, what, why);
	return 0;
}

/* The 200 answer, the same for both handlers. */
static int
enroll_reply(struct enroll_job *j, const char *what)
{
	struct buf	 ca;
	json_t		*o = NULL;
	char		*text = NULL, why[ENROLL_WHY_MAX];
	int64_t		 life = j->cert.not_after - j->cert.not_before;
	int		 rc;

	buf_init(&ca, 64 * 1024);
	rc = pki_chain_pem(&j->c->dd->ca_cert, 1, &ca, why, sizeof(why));
	if (rc == UPLINK_OK)
		o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}",
		    "connector_id", j->connector_id, "site", j->site,
		    "certificate", buf_cstr(&j->cert.pem), "ca", buf_cstr(&ca),
		    "not_after", (json_int_t)j->cert.not_after, "renew_after",
		    (json_int_t)(j->cert.not_before + life * 2 / 3));
	if (o != NULL)
		text = json_dumps(o, JSON_COMPACT);
	buf_reset(j->resp);
	if (text == NULL || buf_appends(j->resp, text) != UPLINK_OK)
		rc = enroll_internal(j, what, rc != UPLINK_OK ? why : "out of "
		    "memory (or response cap) writing the reply");
	else
		rc = 200;
	free(text);
	json_decref(o);
	buf_free(&ca);
	return rc;
}

/* Step 2 of enrolling: is the token good? Nothing is used up yet. */
static int
enroll_check_token(struct enroll_job *j)
{
	struct store_token_use	 use;
	char			 why[ENROLL_WHY_MAX];

	if (store_token_check(j->c->dd->st, j->hash, time(NULL), &use, why,
	    sizeof(why)) != UPLINK_OK)
		return enroll_refuse(j, &use, why);
	snprintf(j->site, sizeof(j->site), "%s", use.site_name);
	store_connector_id_new(j->connector_id);
	return 0;
}

/*
 * Step 4 of enrolling: token, connector and certificate in one
 * transaction. The token is judged again: another request may have used
 * it since step 2, and then the certificate just signed is thrown away.
 */
static int
enroll_commit(struct enroll_job *j)
{
	struct store_connector	 k;
	struct store_token_use	 use;
	char			 why[ENROLL_WHY_MAX];

	memset(&k, 0, sizeof(k));
	snprintf(k.id, sizeof(k.id), "%s", j->connector_id);
	snprintf(k.name, sizeof(k.name), "%s", j->name);
	snprintf(k.cert_serial, sizeof(k.cert_serial), "%s", j->cert.serial);
	snprintf(k.cert_fingerprint, sizeof(k.cert_fingerprint), "%s",
	    j->cert.fingerprint);
	k.cert_not_after = j->cert.not_after;
	snprintf(k.version, sizeof(k.version), "%s", j->version != NULL ?
	    j->version : "");
	if (store_enroll(j->c->dd->st, j->hash, time(NULL), &k, &use, why,
	    sizeof(why)) != UPLINK_OK)
		return enroll_refuse(j, &use, why);
	snprintf(j->site, sizeof(j->site), "%s", use.site_name);
	return 0;
}

static void
enroll_job_init(struct enroll_job *j, const struct enroll_ctx *c,
    const char *peer, struct buf *resp)
{
	memset(j, 0, sizeof(*j));
	j->c = c;
	j->peer = peer != NULL ? peer : "-";
	j->resp = resp;
	buf_init(&j->cert.pem, 64 * 1024);
}

static void
enroll_job_free(struct enroll_job *j)
{
	json_decref(j->root);
	buf_free(&j->cert.pem);
	sodium_memzero(j->hash, sizeof(j->hash));
}

int
enroll_handle(const struct enroll_ctx *c, const char *body, size_t len,
    const char *peer, struct buf *resp)
{
	struct enroll_job	 j;
	char			 when[32], why_unused[256];
	int			 status;

	enroll_job_init(&j, c, peer, resp);
	status = enroll_read(&j, body, len);
	if (status == 0)
		status = enroll_check_token(&j);
	if (status == 0)
		status = enroll_issue(&j, "enroll");
	if (status == 0)
		status = enroll_commit(&j);
	if (status == 0)
		status = enroll_reply(&j, "enroll");
	if (status == 200) {
		log_info("enroll from %s: token %s: connector %s \"%s\" joined "
		    "site \"%s\" (version %s), certificate %s valid until %s",
		    j.peer, j.token_id, j.connector_id, j.name, j.site,
		    j.version != NULL ? j.version : "unknown", j.cert.serial,
		    enroll_time(j.cert.not_after, when));
		enroll_audit(&j, when);
		(void)store_event_add(j.c->dd->st, j.connector_id, "enrolled",
		    j.name, why_unused, sizeof(why_unused));
	}
	metrics_enroll(false, status);
	enroll_job_free(&j);
	return status;
}

/*
 * Step 1 of renewing: the client certificate must be one this cloud
 * issued to a connector that is not revoked. The TLS layer has verified
 * it already; checking the issuer again here keeps this function safe on
 * its own.
 */
static int
renew_who(struct enroll_job *j, X509 *cert)
{
	struct store_cert_owner	 o;
	char			 serial[PKI_SERIAL_HEX_MAX], why[ENROLL_WHY_MAX];
	char			 cn[PKI_CN_MAX + 1] = "", when[32];
	int			 rc;

	if (cert == NULL) {
		log_warnx("renew from %s: no client certificate", j->peer);
		return enroll_error(j->resp, 401, "no-certificate", "renewal "
		    "needs the connector's client certificate (mutual TLS)");
	}
	X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName,
	    cn, sizeof(cn));
	rc = X509_check_issued(j->c->dd->ca_cert, cert) == X509_V_OK &&
	    X509_verify(cert, X509_get0_pubkey(j->c->dd->ca_cert)) == 1 ?
	    pki_cert_serial(cert, serial, why, sizeof(why)) : UPLINK_EINVAL;
	if (rc == UPLINK_OK)
		rc = store_cert_lookup(j->c->dd->st, serial, &o, why,
		    sizeof(why));
	if (rc == UPLINK_EIO || rc == UPLINK_ENOMEM)
		return enroll_internal(j, "renew", why);
	if (rc != UPLINK_OK || strcmp(o.connector_id, cn) != 0) {
		log_warnx("renew from %s: client certificate \"%s\" is not one "
		    "this cloud issued", j->peer, enroll_quote(cn, why,
		    sizeof(why)));
		return enroll_error(j->resp, 401, "no-certificate", "the "
		    "client certificate was not issued by this cloud: enroll "
		    "again with a new token");
	}
	snprintf(j->connector_id, sizeof(j->connector_id), "%s", cn);
	snprintf(j->site, sizeof(j->site), "%s", o.site_name);
	if (o.revoked_at == 0)
		return 0;
	log_warnx("renew from %s: connector %s was revoked at %s: refused",
	    j->peer, cn, enroll_time(o.revoked_at, when));
	return enroll_error(j->resp, 403, "connector-revoked", "connector %s "
	    "was revoked at %s: enroll again with a new token", cn, when);
}

static int
renew_read(struct enroll_job *j, const char *body, size_t len)
{
	struct enroll_field	 fields[] = {
		{ "csr", &j->csr, true },
		{ NULL, NULL, false },
	};
	char			 why[ENROLL_WHY_MAX];

	if (enroll_parse(body, len, fields, &j->root, why, sizeof(why)) !=
	    UPLINK_OK)
		return enroll_bad(j, "renew", why);
	return 0;
}

/* A revocation between renew_who() and here shows as UPLINK_EINVAL. */
static int
renew_commit(struct enroll_job *j)
{
	char	 why[ENROLL_WHY_MAX];
	int	 rc;

	rc = store_connector_update_cert(j->c->dd->st, j->connector_id,
	    j->cert.serial, j->cert.fingerprint, j->cert.not_after, why,
	    sizeof(why));
	if (rc == UPLINK_EINVAL || rc == UPLINK_ENOTFOUND) {
		log_warnx("renew from %s: %s", j->peer, why);
		return enroll_error(j->resp, 403, "connector-revoked",
		    "connector %s was revoked: enroll again with a new token",
		    j->connector_id);
	}
	if (rc != UPLINK_OK)
		return enroll_internal(j, "renew", why);
	return 0;
}

int
renew_handle(const struct enroll_ctx *c, X509 *client_cert, const char *body,
    size_t len, const char *peer, struct buf *resp)
{
	struct enroll_job	 j;
	char			 when[32], why_unused[256];
	int			 status;

	enroll_job_init(&j, c, peer, resp);
	status = renew_who(&j, client_cert);
	if (status == 0)
		status = renew_read(&j, body, len);
	if (status == 0)
		status = enroll_issue(&j, "renew");
	if (status == 0)
		status = renew_commit(&j);
	if (status == 0)
		status = enroll_reply(&j, "renew");
	if (status == 200) {
		log_info("renew from %s: connector %s (site \"%s\"): "
		    "certificate %s valid until %s", j.peer, j.connector_id,
		    j.site, j.cert.serial, enroll_time(j.cert.not_after, when));
		(void)store_event_add(j.c->dd->st, j.connector_id,
		    "cert-renewed", j.cert.serial, why_unused,
		    sizeof(why_unused));
	}
	metrics_enroll(true, status);
	enroll_job_free(&j);
	return status;
}
