#ifndef UPLINK_CLOUD_DATADIR_H
#define UPLINK_CLOUD_DATADIR_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "buf.h"
#include "pki.h"
#include "store.h"

/*
 * uplink-cloud's data directory, shared by the daemon and the admin
 * commands: the database, the uplink CA that signs connector certificates
 * and the CRL, and the cloud's own TLS certificate. "uplink-cloud init"
 * makes it; docs/cloud.md describes the layout.
 */

#define DATADIR_DB		"uplink.db"
#define DATADIR_CA_KEY		"ca.key"
#define DATADIR_CA_CERT		"ca.pem"
#define DATADIR_SERVER_KEY	"server.key"
#define DATADIR_SERVER_CERT	"server.pem"	/* leaf, then the CA */
#define DATADIR_CONF		"cloud.conf"
/*
 * Lifetime of the server certificate init makes and the cloud renews
 * (cloud/servercert.c): under the 398 days browsers and testssl.sh accept.
 */
#define DATADIR_SERVER_DAYS	397
#define DATADIR_PATH_MAX	4096
#define DATADIR_URL_MAX		256

struct datadir {
	char		 dir[DATADIR_PATH_MAX];
	struct store	*st;
	EVP_PKEY	*ca_key;
	X509		*ca_cert;
	char		 url[DATADIR_URL_MAX];		/* https://HOST[:PORT] */
	char		 crl_url[DATADIR_URL_MAX];	/* http://HOST[:PORT]/crl */
};

/*
 * Opens the data directory dir: the database (which must exist: an empty
 * one is never created here), the CA key and certificate, and the "url"
 * and "crl_url" settings. Refuses a CA key that other users may read and
 * a key that does not match the certificate. Errors name the file and
 * what to do ("run uplink-cloud init first"). On failure dd holds nothing
 * to free; on success datadir_close() releases it.
 */
/*
 * Makes datadir_open() use the [store] section of cfg: its url (empty:
 * DATA_DIR/uplink.db), password_file and timeout. datadir_resolve_conf()
 * calls it for the configuration it reads; so does "run".
 */
struct cloud_config;
void datadir_use_store(const struct cloud_config *cfg);

int datadir_open(const char *dir, struct datadir *dd, char *err,
    size_t errlen);

/* Releases what datadir_open() holds; a zeroed or closed dd is a no-op. */
void datadir_close(struct datadir *dd);

/*
 * Writes dir/name into buf. Returns UPLINK_OK or UPLINK_ETOOBIG (buf then
 * holds a cut path; callers report it).
 */
int datadir_join(const char *dir, const char *name, char *buf, size_t len);

/* datadir_join() for an open data directory. */
int datadir_path(const struct datadir *dd, const char *name, char *buf,
    size_t len);

/*
 * The pin (pki_spki_pin_cert) of the LAST certificate in a PEM chain file:
 * the trust anchor a connector pins when the cloud presents an operator's
 * chain (leaf first, as servers send it). anchor, when not NULL, receives
 * that certificate (the caller frees it with X509_free()).
 */
int datadir_anchor_pin(const char *chain_file, unsigned char pin[PKI_PIN_LEN],
    X509 **anchor, char *err, size_t errlen);

/*
 * The pin enrollment tokens carry: that of the certificate chain the
 * cloud presents on its TLS listener. With an operator chain ("cert =" in
 * the configuration file conf_path, or when conf_path is NULL or "" in
 * DIR/cloud.conf if it exists) it is the last certificate of that chain;
 * otherwise the uplink CA, ca.pem. source (may be NULL) gets the file the
 * pin was taken from, for the operator.
 */
int datadir_tls_pin(const struct datadir *dd, const char *conf_path,
    unsigned char pin[PKI_PIN_LEN], char *source, size_t sourcelen,
    char *err, size_t errlen);

/*
 * Builds the current CRL: every certificate of every revoked connector
 * that has not yet expired (store_revoked_serials), numbered with
 * store_crl_next_number(), valid for next_update_secs. Appends its DER to
 * der.
 */
int datadir_crl(struct datadir *dd, long next_update_secs, struct buf *der,
    char *err, size_t errlen);

/*
 * Decides which data directory an admin command works on: --data-dir DIR
 * (data_dir_flag), or data_dir from --config FILE (config_flag) read with
 * cloudconf_load(), or, with neither, data_dir from
 * CLOUDCONF_DEFAULT_PATH when that file exists, else
 * CLOUDCONF_DEFAULT_DATA. Giving both flags is UPLINK_EINVAL; a bad
 * configuration file is cloudconf_load()'s error.
 */
int datadir_resolve(const char *data_dir_flag, const char *config_flag,
    char *dir, size_t dirlen, char *err, size_t errlen);

/*
 * datadir_resolve() that also writes the configuration file it read into
 * conf ("" when it read none), for datadir_tls_pin().
 */
int datadir_resolve_conf(const char *data_dir_flag, const char *config_flag,
    char *dir, size_t dirlen, char *conf, size_t conflen, char *err,
    size_t errlen);

#endif
