#ifndef UPLINK_RENEW_H
#define UPLINK_RENEW_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "buf.h"
#include "config.h"

/*
 * The connector's certificate: when to renew it, renewing it over mutual
 * TLS (POST /v1/renew), and installing a new key and certificate so that a
 * crash at any point leaves a usable pair. Enrollment shares the answer
 * parser and the installer.
 *
 * Installing a pair: the new key is written to KEY.new first (before the
 * request, so a full disk is found before the cloud issues anything), the
 * certificate to CERT.new, then KEY.new is renamed over KEY and CERT.new
 * over CERT. A crash between the two renames leaves the new key beside
 * the old certificate; renew_recover() at start-up finishes the job.
 */

#define RENEW_TIMEOUT_MS	30000		/* each step of a renewal */
#define RENEW_BODY_MAX		(64 * 1024)	/* cap on the cloud's answer */

/*
 * When the certificate in cert_file is due for renewal: at not_before plus
 * two thirds of its lifetime (the cloud's "renew_after"). Returns 1 when
 * due at now, 0 when not yet, -1 when the file cannot be read (err says
 * why). *due_at receives the time in both first cases.
 */
int renew_due(const char *cert_file, time_t now, time_t *due_at, char *err,
    size_t errlen);

enum renew_status {
	RENEW_OK,		/* new key and certificate are in place */
	RENEW_FAILED,		/* nothing changed; try again later */
	RENEW_REVOKED,		/* 403 connector-revoked: enroll again */
};

struct renew_result {
	enum renew_status	 status;
	time_t			 not_after;	/* RENEW_OK: the new expiry */
	time_t			 renew_after;	/* RENEW_OK: the next renewal */
	char			 text[1024];	/* one line for the log */
};

typedef void renew_done_cb(void *arg, const struct renew_result *res);

struct renew;

/*
 * Renews the certificate of cfg ([cloud] url, ca, cert, key) through
 * cfg->routes: a new key (same type) and a CSR with the current
 * certificate's CN, POST /v1/renew with the current certificate as the TLS
 * client certificate and cfg's ca as the only trust anchor, and on 200 the
 * new pair installed as described above. After RENEW_OK the caller loads
 * the files again for new tunnels. cfg must stay valid until done runs.
 * done always runs once, never before renew_start returns (errors found
 * at once are reported from the event loop). Returns NULL only when out
 * of memory.
 */
struct renew *renew_start(struct event_base *base, struct evdns_base *dns,
    const struct connector_config *cfg, renew_done_cb *done, void *arg);

/* Abandons a renewal (KEY.new is removed); done does not run. */
void renew_cancel(struct renew *r);

/*
 * Finishes or undoes an interrupted installation of key_path/cert_path:
 * when CERT.new exists and matches KEY (the key was renamed, the
 * certificate not yet), CERT.new is renamed over CERT; stale .new files
 * are removed. Returns UPLINK_OK, or an error with the reason in err.
 */
int renew_recover(const char *key_path, const char *cert_path, char *err,
    size_t errlen);

/* The cloud's answer to /v1/enroll and /v1/renew. */
struct renew_answer {
	char		 connector_id[64];
	char		 site[64];
	X509		*cert;		/* the connector's new certificate */
	X509		*ca;		/* the uplink CA that signed it */
	time_t		 not_after;
	time_t		 renew_after;
};

/*
 * Parses a 200 answer and checks that the certificate is for key. Returns
 * UPLINK_OK or UPLINK_EINVAL with what is wrong in err.
 */
int renew_answer_parse(const struct buf *body, EVP_PKEY *key,
    struct renew_answer *a, char *err, size_t errlen);
void renew_answer_free(struct renew_answer *a);

/*
 * Reads an error answer {"error": CODE, "message": TEXT}; code and msg
 * are "" when the body is not one.
 */
void renew_error_parse(const struct buf *body, char *code, size_t codelen,
    char *msg, size_t msglen);

/* Formats t as "2025-01-31 12:00 UTC". */
void renew_time_text(time_t t, char *dst, size_t dstlen);

/* Writes key to KEY.new (mode 0600), the first step of an installation. */
int renew_stage_key(EVP_PKEY *key, const char *key_path, char *err,
    size_t errlen);

/*
 * Writes cert to CERT.new, then renames KEY.new over key_path and
 * CERT.new over cert_path, in that order.
 */
int renew_install(X509 *cert, const char *key_path, const char *cert_path,
    char *err, size_t errlen);

#endif
