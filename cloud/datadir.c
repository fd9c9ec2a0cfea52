#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "cloudconf.h"
#include "datadir.h"
#include "error.h"

/* Revoked serials gathered for a CRL. */
struct datadir_revoked {
	struct pki_revoked	*r;
	size_t			 n, cap;
	int64_t			 now;
};

int
datadir_join(const char *dir, const char *name, char *buf, size_t len)
{
	int	 n;

	n = snprintf(buf, len, "%s%s%s", dir, dir[0] != '\0' &&
	    dir[strlen(dir) - 1] == '/' ? "" : "/", name);
	if (n < 0 || (size_t)n >= len)
		return UPLINK_ETOOBIG;
	return UPLINK_OK;
}

int
datadir_path(const struct datadir *dd, const char *name, char *buf,
    size_t len)
{
	return datadir_join(dd->dir, name, buf, len);
}

/* The message for a data directory that is missing or half made. */
static int
datadir_uninit(const char *dir, const char *path, char *err, size_t errlen)
{
	return uplink_fail(UPLINK_ENOTFOUND, err, errlen, "%s does not "
	    "exist: %s is not an uplink-cloud data directory; run "
	    "\"uplink-cloud init --data-dir %s --name HOST\" first, or point "
	    "--data-dir (or data_dir in the configuration file) at the right "
	    "directory", path, dir, dir);
}

/*
 * Whoever can read the CA key can issue connector certificates: refuse a
 * key file that group or others may read, as ssh does.
 */
static int
datadir_key_mode(const char *path, char *err, size_t errlen)
{
	struct stat	 st;

	if (stat(path, &st) == -1)
		return uplink_fail(UPLINK_EIO, err, errlen, "%s: %s: restore "
		    "the CA key from a backup (without it no connector can "
		    "enroll or renew)", path, strerror(errno));
	if ((st.st_mode & 077) != 0)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "%s can be "
		    "read by other users (mode %04o): run \"chmod 600 %s\"",
		    path, (unsigned)(st.st_mode & 07777), path);
	return UPLINK_OK;
}

static int
datadir_load_ca(struct datadir *dd, char *err, size_t errlen)
{
	char	 key[DATADIR_PATH_MAX + 16], cert[DATADIR_PATH_MAX + 16];
	int	 rc;

	datadir_path(dd, DATADIR_CA_KEY, key, sizeof(key));
	datadir_path(dd, DATADIR_CA_CERT, cert, sizeof(cert));
	rc = datadir_key_mode(key, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_key_load(key, &dd->ca_key, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_cert_load(cert, &dd->ca_cert, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (X509_check_private_key(dd->ca_cert, dd->ca_key) != 1)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "%s does not "
		    "belong to %s: restore the pair from the same backup", key,
		    cert);
	return UPLINK_OK;
}

static int
datadir_settings(struct datadir *dd, char *err, size_t errlen)
{
	int	 rc;

	rc = store_setting_get(dd->st, "url", dd->url, sizeof(dd->url), err,
	    errlen);
	if (rc == UPLINK_OK)
		rc = store_setting_get(dd->st, "crl_url", dd->crl_url,
		    sizeof(dd->crl_url), err, errlen);
	return rc;
}

/* [store] of the configuration in use (datadir_use_store()). */
static struct {
	char	url[CLOUDCONF_PATH_MAX];
	char	password_file[CLOUDCONF_PATH_MAX];
	int	timeout_ms;
} datadir_store;

void
datadir_use_store(const struct cloud_config *cfg)
{
	snprintf(datadir_store.url, sizeof(datadir_store.url), "%s",
	    cfg->store_url);
	snprintf(datadir_store.password_file,
	    sizeof(datadir_store.password_file), "%s",
	    cfg->store_password_file);
	datadir_store.timeout_ms = (int)cfg->store_timeout * 1000;
}

/*
 * A data directory that "init --store" made has no uplink.db: its
 * cloud.conf names the database. Commands given only --data-dir read
 * [store] from there.
 */
static int
datadir_conf_store(const struct datadir *dd, char *err, size_t errlen)
{
	struct cloud_config	 cfg;
	char			 conf[DATADIR_PATH_MAX + 16];
	int			 rc;

	if (datadir_path(dd, DATADIR_CONF, conf, sizeof(conf)) != UPLINK_OK ||
	    access(conf, F_OK) == -1)
		return UPLINK_OK;
	rc = cloudconf_load(conf, &cfg, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	datadir_use_store(&cfg);
	cloudconf_free(&cfg);
	return UPLINK_OK;
}

/* Opens the database [store] url names, or DATA_DIR/uplink.db. */
static int
datadir_open_store(struct datadir *dd, const char *db, char *err,
    size_t errlen)
{
	struct store_opts	 o = { datadir_store.password_file,
				    datadir_store.timeout_ms };
	struct stat		 st;

	if (datadir_store.url[0] == '\0')
		return store_open(db, &dd->st, err, errlen);
	if (!store_url_is_pg(datadir_store.url) && stat(datadir_store.url + 7,
	    &st) == -1)
		return datadir_uninit(dd->dir, datadir_store.url + 7, err,
		    errlen);
	return store_open_opts(datadir_store.url, &o, &dd->st, err, errlen);
}

int
datadir_open(const char *dir, struct datadir *dd, char *err, size_t errlen)
{
	char		 db[DATADIR_PATH_MAX + 16];
	struct stat	 st;
	int		 rc;

	memset(dd, 0, sizeof(*dd));
	if (snprintf(dd->dir, sizeof(dd->dir), "%s", dir) >=
	    (int)sizeof(dd->dir) || datadir_path(dd, DATADIR_DB, db,
	    sizeof(db)) != UPLINK_OK)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "the data "
		    "directory path \"%.60s...\" is too long", dir);
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode))
		return datadir_uninit(dir, dir, err, errlen);
	if (datadir_store.url[0] == '\0' && stat(db, &st) == -1) {
		rc = datadir_conf_store(dd, err, errlen);
		if (rc != UPLINK_OK)
			return rc;
		if (datadir_store.url[0] == '\0')
			return datadir_uninit(dir, db, err, errlen);
	}
	rc = datadir_load_ca(dd, err, errlen);
	if (rc == UPLINK_OK)
		rc = datadir_open_store(dd, db, err, errlen);
	if (rc == UPLINK_OK)
		rc = datadir_settings(dd, err, errlen);
	if (rc != UPLINK_OK)
		datadir_close(dd);
	return rc;
}

void
datadir_close(struct datadir *dd)
{
	if (dd == NULL)
		return;
	store_close(dd->st);
	EVP_PKEY_free(dd->ca_key);
	X509_free(dd->ca_cert);
	dd->st = NULL;
	dd->ca_key = NULL;
	dd->ca_cert = NULL;
}

/* Reads every certificate of a PEM file and keeps the last one. */
static int
datadir_last_cert(const char *path, X509 **last, char *err, size_t errlen)
{
	X509	*cert;
	FILE	*fp;

	*last = NULL;
	fp = fopen(path, "re");
	if (fp == NULL)
		return uplink_fail(UPLINK_EIO, err, errlen, "%s: cannot open "
		    "the certificate chain: %s", path, strerror(errno));
	while ((cert = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL) {
		X509_free(*last);
		*last = cert;
	}
	fclose(fp);
	ERR_clear_error();
	if (*last == NULL)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "%s: no PEM "
		    "certificate (\"-----BEGIN CERTIFICATE-----\") found", path);
	return UPLINK_OK;
}

int
datadir_anchor_pin(const char *chain_file, unsigned char pin[PKI_PIN_LEN],
    X509 **anchor, char *err, size_t errlen)
{
	X509	*last;
	int	 rc;

	if (anchor != NULL)
		*anchor = NULL;
	rc = datadir_last_cert(chain_file, &last, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_spki_pin_cert(last, pin, err, errlen);
	if (rc == UPLINK_OK && anchor != NULL)
		*anchor = last;
	else
		X509_free(last);
	return rc;
}

/* The chain the TLS listener presents, from conf_path or DIR/cloud.conf. */
static int
datadir_tls_chain(const struct datadir *dd, const char *conf_path,
    char *chain, size_t chainlen, char *err, size_t errlen)
{
	struct cloud_config	 cfg;
	char			 conf[DATADIR_PATH_MAX + 16];
	int			 rc;

	chain[0] = '\0';
	if (conf_path != NULL && conf_path[0] != '\0')
		snprintf(conf, sizeof(conf), "%s", conf_path);
	else if (datadir_path(dd, DATADIR_CONF, conf, sizeof(conf)) !=
	    UPLINK_OK || access(conf, F_OK) == -1)
		return UPLINK_OK;
	rc = cloudconf_load(conf, &cfg, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	snprintf(chain, chainlen, "%s", cfg.cert);
	cloudconf_free(&cfg);
	return UPLINK_OK;
}

int
datadir_tls_pin(const struct datadir *dd, const char *conf_path,
    unsigned char pin[PKI_PIN_LEN], char *source, size_t sourcelen,
    char *err, size_t errlen)
{
	char	 chain[DATADIR_PATH_MAX + 16];
	int	 rc;

	rc = datadir_tls_chain(dd, conf_path, chain, sizeof(chain), err,
	    errlen);
	if (rc != UPLINK_OK)
		return rc;
	if (chain[0] != '\0') {
		if (source != NULL)
			snprintf(source, sourcelen, "%s", chain);
		return datadir_anchor_pin(chain, pin, NULL, err, errlen);
	}
	if (source != NULL)
		datadir_path(dd, DATADIR_CA_CERT, source, sourcelen);
	return pki_spki_pin_cert(dd->ca_cert, pin, err, errlen);
}

/* Keeps a revoked serial unless its certificate has expired anyway. */
static int
datadir_revoked_add(void *arg, const char *serial, int64_t revoked_at,
    int64_t not_after)
{
	struct datadir_revoked	*v = arg;
	struct pki_revoked	*r;
	size_t			 cap;

	if (not_after != 0 && not_after < v->now)
		return 0;
	if (v->n == v->cap) {
		cap = v->cap ? v->cap * 2 : 16;
		r = reallocarray(v->r, cap, sizeof(*r));
		if (r == NULL)
			return UPLINK_ENOMEM;
		v->r = r;
		v->cap = cap;
	}
	v->r[v->n].serial = strdup(serial);
	if (v->r[v->n].serial == NULL)
		return UPLINK_ENOMEM;
	v->r[v->n++].revoked_at = (time_t)revoked_at;
	return 0;
}

static void
datadir_revoked_free(struct datadir_revoked *v)
{
	size_t	 i;

	for (i = 0; i < v->n; i++)
		free((char *)v->r[i].serial);
	free(v->r);
}

int
datadir_crl(struct datadir *dd, long next_update_secs, struct buf *der,
    char *err, size_t errlen)
{
	struct datadir_revoked	 v = { .now = time(NULL) };
	int64_t			 number = 0;
	int			 rc;

	rc = store_revoked_serials(dd->st, datadir_revoked_add, &v, err,
	    errlen);
	if (rc == UPLINK_ENOMEM)
		uplink_fail(rc, err, errlen, "out of memory listing revoked "
		    "certificates");
	if (rc == UPLINK_OK)
		rc = store_crl_next_number(dd->st, &number, err, errlen);
	if (rc == UPLINK_OK)
		rc = pki_crl_new(dd->ca_key, dd->ca_cert, v.r, v.n,
		    (uint64_t)number, next_update_secs, der, NULL, err, errlen);
	datadir_revoked_free(&v);
	return rc;
}

static int
datadir_copy(const char *what, const char *src, char *dst, size_t dstlen,
    char *err, size_t errlen)
{
	if (src[0] == '\0')
		return uplink_fail(UPLINK_EINVAL, err, errlen, "%s is empty: "
		    "give a directory", what);
	if (snprintf(dst, dstlen, "%s", src) >= (int)dstlen)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "%s "
		    "\"%.60s...\" is longer than %zu bytes", what, src,
		    dstlen - 1);
	return UPLINK_OK;
}

int
datadir_resolve_conf(const char *data_dir_flag, const char *config_flag,
    char *dir, size_t dirlen, char *conf, size_t conflen, char *err,
    size_t errlen)
{
	struct cloud_config	 cfg;
	const char		*path = config_flag;
	int			 rc;

	if (conf != NULL && conflen > 0)
		conf[0] = '\0';
	if (data_dir_flag != NULL && config_flag != NULL)
		return uplink_fail(UPLINK_EINVAL, err, errlen, "give either "
		    "--data-dir or --config, not both");
	if (data_dir_flag != NULL)
		return datadir_copy("--data-dir", data_dir_flag, dir, dirlen,
		    err, errlen);
	if (path == NULL && access(CLOUDCONF_DEFAULT_PATH, F_OK) == 0)
		path = CLOUDCONF_DEFAULT_PATH;
	if (path == NULL)
		return datadir_copy("the default data directory",
		    CLOUDCONF_DEFAULT_DATA, dir, dirlen, err, errlen);
	rc = cloudconf_load(path, &cfg, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = datadir_copy("data_dir", cfg.data_dir, dir, dirlen, err, errlen);
	datadir_use_store(&cfg);
	cloudconf_free(&cfg);
	if (rc == UPLINK_OK && conf != NULL)
		rc = datadir_copy("--config", path, conf, conflen, err, errlen);
	return rc;
}

int
datadir_resolve(const char *data_dir_flag, const char *config_flag,
    char *dir, size_t dirlen, char *err, size_t errlen)
{
	return datadir_resolve_conf(data_dir_flag, config_flag, dir, dirlen,
	    NULL, 0, err, errlen);
}
