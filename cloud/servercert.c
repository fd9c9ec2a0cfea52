#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "atomicfile.h"
#include "cli.h"
#include "daemon.h"
#include "error.h"
#include "front.h"
#include "hostport.h"
#include "log.h"
#include "pki.h"
#include "servercert.h"
#include "tls.h"

#define SERVERCERT_NAMES_MAX	32
#define SERVERCERT_PATH		(DATADIR_PATH_MAX + 16)

/* What is on disk now, and why it must be replaced ("" when it need not). */
struct servercert_now {
	char		 cert_path[SERVERCERT_PATH], key_path[SERVERCERT_PATH];
	X509		*leaf;
	EVP_PKEY	*key;
	time_t		 not_after, renew_at;
	char		 why[512];
};

/* The data directory's pair is ours; anything named in cloud.conf is not. */
static bool
servercert_ours(const struct cloud *c)
{
	return c->cfg.cert[0] == '\0' && c->cfg.key[0] == '\0';
}

/*
 * An operator's chain: warn, at start and once a day, when its leaf has
 * less than SERVERCERT_WARN_DAYS left. A chain that cannot be read is left
 * to front_tls_ctx(), which refuses it with the reason.
 */
static void
servercert_operator_warn(struct cloud *c)
{
	char	 path[SERVERCERT_PATH], err[512], cn[256], when[CLI_TIME_SIZE];
	X509	*leaf = NULL;
	time_t	 nb, na, now = time(NULL);

	if (c->cfg.cert[0] != '\0')
		snprintf(path, sizeof(path), "%s", c->cfg.cert);
	else
		datadir_path(&c->dd, DATADIR_SERVER_CERT, path, sizeof(path));
	if (pki_cert_load(path, &leaf, err, sizeof(err)) != UPLINK_OK ||
	    pki_cert_validity(leaf, &nb, &na, err, sizeof(err)) != UPLINK_OK) {
		X509_free(leaf);
		return;
	}
	if (na - now < (time_t)SERVERCERT_WARN_DAYS * 86400) {
		tls_common_name(X509_get_subject_name(leaf), cn, sizeof(cn));
		log_warnx("%s: the certificate for %s %s %s: it is the "
		    "operator's (cert = in [cloud]), so uplink-cloud does not "
		    "renew it; put a renewed chain in place and restart "
		    "uplink-cloud", path, cn, na < now ? "expired on" :
		    "expires on", cli_time(na, when));
	}
	X509_free(leaf);
}

/*
 * In a cluster, connectors reach each instance by its [cluster]
 * tunnel_name (docs/cluster.md), so the certificate must cover it: with
 * "*." and its parent domain (i1.cloud.example: *.cloud.example), one
 * name for every instance, present and future. "" when not a cluster or
 * the name has no parent of two labels or more.
 */
static void
servercert_cluster_wildcard(const struct cloud *c, char *dst, size_t len)
{
	const char	*parent = strchr(c->cfg.cluster_tunnel_name, '.');

	dst[0] = '\0';
	if (c->cfg.cluster_instance[0] == '\0' || parent == NULL ||
	    strchr(parent + 1, '.') == NULL)
		return;
	snprintf(dst, len, "*%s", parent);
}

/* Loads the pair and fills now->why when it must be replaced. */
static void
servercert_examine(struct cloud *c, struct servercert_now *now)
{
	char	 err[400], when[CLI_TIME_SIZE];
	time_t	 nb, t = time(NULL);

	datadir_path(&c->dd, DATADIR_SERVER_CERT, now->cert_path,
	    sizeof(now->cert_path));
	datadir_path(&c->dd, DATADIR_SERVER_KEY, now->key_path,
	    sizeof(now->key_path));
	now->why[0] = '\0';
	if (pki_cert_load(now->cert_path, &now->leaf, err, sizeof(err)) !=
	    UPLINK_OK || pki_cert_validity(now->leaf, &nb, &now->not_after,
	    err, sizeof(err)) != UPLINK_OK)
		snprintf(now->why, sizeof(now->why), "%s", err);
	else if (pki_key_load(now->key_path, &now->key, err, sizeof(err)) !=
	    UPLINK_OK)
		snprintf(now->why, sizeof(now->why), "%s", err);
	else if (X509_check_private_key(now->leaf, now->key) != 1)
		snprintf(now->why, sizeof(now->why), "%s is not the key of %s",
		    now->key_path, now->cert_path);
	else if (X509_check_issued(c->dd.ca_cert, now->leaf) != X509_V_OK)
		snprintf(now->why, sizeof(now->why), "%s was not issued by "
		    "the uplink CA (%s)", now->cert_path, DATADIR_CA_CERT);
	else if (c->cfg.cluster_tunnel_name[0] != '\0' &&
	    c->cfg.cluster_instance[0] != '\0' && X509_check_host(now->leaf,
	    c->cfg.cluster_tunnel_name, 0, 0, NULL) != 1)
		snprintf(now->why, sizeof(now->why), "%s does not cover this "
		    "instance's name %s ([cluster] tunnel_name)",
		    now->cert_path, c->cfg.cluster_tunnel_name);
	else {
		now->renew_at = pki_renew_at(nb, now->not_after);
		if (t >= now->renew_at)
			snprintf(now->why, sizeof(now->why), "%s expires on %s",
			    now->cert_path, cli_time(now->not_after, when));
	}
	ERR_clear_error();
}

/*
 * The names of the new certificate: those of the old one, or, when it
 * cannot be read, the host of the cloud's URL (the first --name of init).
 */
static size_t
servercert_names(struct cloud *c, X509 *leaf,
    char (*names)[PKI_NAME_MAX])
{
	struct hostport	 hp;
	const char	*rest;
	char		 why[256];
	size_t		 n = 0;

	char		 wild[PKI_NAME_MAX];
	size_t		 i;

	if (leaf != NULL)
		n = pki_cert_names(leaf, names, SERVERCERT_NAMES_MAX);
	servercert_cluster_wildcard(c, wild, sizeof(wild));
	if (n > 0 && wild[0] != '\0' && n < SERVERCERT_NAMES_MAX) {
		for (i = 0; i < n && strcasecmp(names[i], wild) != 0; i++)
			;
		if (i == n)
			snprintf(names[n++], PKI_NAME_MAX, "%s", wild);
	}
	if (n > 0)
		return n;
	rest = strstr(c->dd.url, "://");
	rest = rest != NULL ? rest + 3 : c->dd.url;
	if (hostport_parse(rest, 443, &hp, why, sizeof(why)) != UPLINK_OK)
		return 0;
	snprintf(names[0], PKI_NAME_MAX, "%s", hp.host);
	return 1;
}

/*
 * Issues and writes the new pair. The key goes first: should the cloud
 * stop between the two renames, the next start finds a key that does not
 * match server.pem and renews again.
 */
static int
servercert_issue(struct cloud *c, struct servercert_now *now, char *err,
    size_t errlen)
{
	char		 names[SERVERCERT_NAMES_MAX][PKI_NAME_MAX];
	const char	*ptrs[SERVERCERT_NAMES_MAX];
	char		 serial[PKI_SERIAL_HEX_MAX], when[CLI_TIME_SIZE];
	EVP_PKEY	*key = NULL;
	X509		*cert = NULL, *chain[2];
	struct buf	 pem;
	time_t		 nb, na;
	size_t		 i, n;
	int		 rc;

	n = servercert_names(c, now->leaf, names);
	if (n == 0) {
		snprintf(err, errlen, "no name to put in it: neither %s nor "
		    "the cloud's URL %s gives one", now->cert_path, c->dd.url);
		return -1;
	}
	for (i = 0; i < n; i++)
		ptrs[i] = names[i];
	buf_init(&pem, 64 * 1024);
	rc = pki_issue_server(c->dd.ca_key, c->dd.ca_cert, ptrs, n,
	    DATADIR_SERVER_DAYS, c->dd.crl_url[0] != '\0' ? c->dd.crl_url :
	    NULL, &key, &cert, err, errlen);
	chain[0] = cert;
	chain[1] = c->dd.ca_cert;
	if (rc == UPLINK_OK)
		rc = pki_chain_pem(chain, 2, &pem, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_key_save(key, now->key_path, err, errlen);
	if (rc == UPLINK_OK)
		rc = atomicfile_write(now->cert_path, pem.ptr, pem.len, 0644,
		    "certificate", err, errlen);
	if (rc == UPLINK_OK && pki_cert_serial(cert, serial, err, errlen) ==
	    UPLINK_OK && pki_cert_validity(cert, &nb, &na, err, errlen) ==
	    UPLINK_OK)
		log_info("%s: new server certificate for %s%s, serial %s, "
		    "valid until %s, signed by the uplink CA (which connectors "
		    "pin)", now->cert_path, names[0], n > 1 ? " and more" : "",
		    serial, cli_time(na, when));
	buf_free(&pem);
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc == UPLINK_OK ? 0 : -1;
}

int
servercert_check(struct cloud *c, bool *renewed, char *err, size_t errlen)
{
	struct servercert_now	 now;
	char			 until[CLI_TIME_SIZE], when[CLI_TIME_SIZE];
	int			 rv = 0;

	*renewed = false;
	if (!servercert_ours(c)) {
		servercert_operator_warn(c);
		return 0;
	}
	memset(&now, 0, sizeof(now));
	servercert_examine(c, &now);
	if (now.why[0] == '\0')
		log_debug("%s: valid until %s; renewal on %s",
		    now.cert_path, cli_time(now.not_after, until),
		    cli_time(now.renew_at, when));
	else {
		log_info("renewing the server certificate: %s", now.why);
		rv = servercert_issue(c, &now, err, errlen);
		*renewed = rv == 0;
	}
	X509_free(now.leaf);
	EVP_PKEY_free(now.key);
	return rv;
}

/*
 * The daily look. After a renewal the listener gets a new context: each
 * handshake takes its own reference to the context it starts with
 * (SSL_new), so connections already open are not touched.
 */
static void
servercert_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cloud	*c = arg;
	SSL_CTX		*ctx;
	bool		 renewed;
	char		 err[1024];

	(void)fd;
	(void)what;
	if (servercert_check(c, &renewed, err, sizeof(err)) != 0) {
		log_warnx("cannot renew the server certificate: %s; the "
		    "current one stays in use, next try in %ld s", err,
		    (long)c->cert_timer_secs);
		return;
	}
	if (!renewed)
		return;
	ctx = front_tls_ctx(c, err, sizeof(err));
	if (ctx == NULL) {
		log_warnx("cannot load the renewed server certificate: %s; "
		    "the listener keeps the previous one", err);
		return;
	}
	SSL_CTX_free(c->tls);
	c->tls = ctx;
	log_info("the TLS listener presents the new certificate from now on; "
	    "open connections keep theirs");
}

/* SERVERCERT_CHECK_SECS, or a test's UPLINK_TEST_SERVERCERT_CHECK_SECS. */
static long
servercert_interval(void)
{
	const char	*s = getenv("UPLINK_TEST_SERVERCERT_CHECK_SECS");
	char		*end;
	long		 v;

	if (s == NULL || *s == '\0')
		return SERVERCERT_CHECK_SECS;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > SERVERCERT_CHECK_SECS)
		return SERVERCERT_CHECK_SECS;
	return v;
}

int
servercert_start(struct cloud *c, char *err, size_t errlen)
{
	struct timeval	 tv;
	bool		 renewed;
	char		 why[1024];

	if (servercert_check(c, &renewed, why, sizeof(why)) != 0)
		log_warnx("cannot renew the server certificate: %s; starting "
		    "with the current one", why);
	c->cert_timer_secs = servercert_interval();
	tv.tv_sec = c->cert_timer_secs;
	tv.tv_usec = 0;
	c->cert_timer = event_new(c->base, -1, EV_PERSIST, servercert_timer_cb,
	    c);
	if (c->cert_timer == NULL || event_add(c->cert_timer, &tv) != 0) {
		snprintf(err, errlen, "cannot start the server certificate's "
		    "timer");
		return -1;
	}
	return 0;
}

void
servercert_free(struct cloud *c)
{
	if (c->cert_timer != NULL)
		event_free(c->cert_timer);
	c->cert_timer = NULL;
}
