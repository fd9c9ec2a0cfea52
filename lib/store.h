#ifndef UPLINK_STORE_H
#define UPLINK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The cloud's database: every SQL statement uplink-cloud runs lives in
 * lib/store*.c. SQLite in WAL mode with synchronous=FULL, so a change that
 * was committed survives kill -9 and power loss. The schema is versioned
 * (PRAGMA user_version) and migrated forward at open; docs/internals/store.md
 * says how to add a migration.
 *
 * Calls block (up to STORE_BUSY_MS when another process holds the write
 * lock). Times are Unix seconds. Functions return UPLINK_OK or an error
 * with a message in err: UPLINK_ENOTFOUND when the row named does not
 * exist, UPLINK_EINVAL for invalid arguments or a row in the wrong state,
 * UPLINK_EIO when SQLite fails, UPLINK_ENOMEM.
 */

#define STORE_SCHEMA_VERSION	2
#define STORE_BUSY_MS		5000
#define STORE_NAME_MAX		63	/* site and connector names */
#define STORE_ID_MAX		31	/* connector and token ids */
#define STORE_CONNECTOR_ID_SIZE	15	/* "c-" + 12 hex + NUL */
#define STORE_SERIAL_MAX	64	/* certificate serial, as hex */
#define STORE_FPR_MAX		95	/* fingerprint text, e.g. SHA-256 hex */
#define STORE_VERSION_MAX	31	/* connector software version */
#define STORE_HASH_LEN		32
#define STORE_SETTING_MAX	1023	/* a setting's text value */
#define STORE_KEY_ID_LEN	12	/* API key id: 12 lowercase hex */
#define STORE_SCOPE_SIZE	8	/* "full" or "read", and a NUL */

struct store;

struct store_connector {
	char	 id[STORE_ID_MAX + 1];
	int64_t	 site_id;
	char	 name[STORE_NAME_MAX + 1];
	char	 cert_serial[STORE_SERIAL_MAX + 1];	/* "" if none */
	char	 cert_fingerprint[STORE_FPR_MAX + 1];	/* "" if none */
	int64_t	 cert_not_after;			/* 0 if none */
	int64_t	 created_at;	/* store_connector_add: 0 means now */
	int64_t	 last_seen;	/* 0 if never seen */
	int64_t	 revoked_at;	/* 0 if not revoked */
	char	 version[STORE_VERSION_MAX + 1];	/* "" if unknown */
};

/* Why store_token_consume() did or did not accept a token. */
enum store_token_state {
	STORE_TOKEN_CONSUMED,	/* it was good and is now used */
	STORE_TOKEN_UNKNOWN,	/* no token has this secret */
	STORE_TOKEN_EXPIRED,
	STORE_TOKEN_USED,	/* consumed before */
	STORE_TOKEN_REVOKED,
	STORE_TOKEN_FAILED,	/* the database failed; nothing changed */
};

/* An enrollment token as store_token_list() shows it. */
struct store_token {
	char	 id[STORE_ID_MAX + 1];
	int64_t	 site_id;
	char	 site_name[STORE_NAME_MAX + 1];
	int64_t	 created_at;
	int64_t	 expires_at;
	int64_t	 used_at;				/* 0 if unused */
	char	 used_by[STORE_ID_MAX + 1];		/* connector id, or "" */
	int64_t	 revoked_at;				/* 0 if not revoked */
};

/* An API key; only the hash of its secret is ever stored. */
struct store_apikey {
	char		 id[STORE_KEY_ID_LEN + 1];	/* 12 lowercase hex */
	char		 name[STORE_NAME_MAX + 1];
	char		 scope[STORE_SCOPE_SIZE];	/* "full" or "read" */
	unsigned char	 secret_hash[STORE_HASH_LEN];
	int64_t		 created_at;	/* store_apikey_add: 0 means now */
	int64_t		 last_used;	/* 0 if never used */
	int64_t		 revoked_at;	/* 0 if not revoked */
};

/*
 * Who holds a certificate, by serial: what the cloud checks for each tunnel
 * a client certificate opens, and before renewing one.
 */
struct store_cert_owner {
	char	 connector_id[STORE_ID_MAX + 1];
	char	 connector_name[STORE_NAME_MAX + 1];
	int64_t	 site_id;
	char	 site_name[STORE_NAME_MAX + 1];
	int64_t	 not_after;		/* of this certificate */
	bool	 current;		/* the connector's latest certificate */
	int64_t	 revoked_at;		/* the connector's; 0 if not revoked */
};

/* What store_token_consume() found. */
struct store_token_use {
	enum store_token_state	 state;
	char			 token_id[STORE_ID_MAX + 1];	/* if known */
	int64_t			 site_id;
	char			 site_name[STORE_NAME_MAX + 1];
};

/*
 * Opens (creating if needed) the database at path and migrates its schema
 * to STORE_SCHEMA_VERSION, one transaction per step. Refuses a database
 * whose schema is newer than this code knows, and anything that is not an
 * SQLite database.
 */
int store_open(const char *path, struct store **out, char *err, size_t errlen);

/* Closes the database; NULL is a no-op. */
void store_close(struct store *st);

/*
 * Checks a site or connector name: 1-63 letters, digits, '.', '_' or '-',
 * starting with a letter or digit (so it never reads as a command-line
 * option). what names it in the message ("site name"). Returns true, or
 * false with a message in err.
 */
bool store_name_check(const char *what, const char *name, char *err,
    size_t errlen);

/*
 * Returns the id of the site called name, creating it when there is none.
 * Names compare without regard to case; the first spelling is kept.
 */
int store_site_ensure(struct store *st, const char *name, int64_t *site_id,
    char *err, size_t errlen);

/* Looks up a site by name; UPLINK_ENOTFOUND when there is none. */
int store_site_find(struct store *st, const char *name, int64_t *site_id,
    char *err, size_t errlen);

/*
 * Records a new enrollment token for a site: its id (token_id()), the hash
 * of its secret and when it expires. Only the hash is stored.
 */
int store_token_add(struct store *st, int64_t site_id, const char *token_id,
    const unsigned char hash[STORE_HASH_LEN], int64_t expires_at, char *err,
    size_t errlen);

/*
 * Uses up the token whose secret hashes to hash, for connector_id, in one
 * transaction: it must exist, not be expired at now, used or revoked.
 * Returns UPLINK_OK only when the token was consumed; otherwise
 * UPLINK_ENOTFOUND (unknown), UPLINK_EINVAL (expired, used, revoked) or
 * UPLINK_EIO. use->state tells every case apart and err says it for the
 * log ("token t-... for site \"paris\" was already used by c-... at ...");
 * what a client is told is the caller's choice.
 */
int store_token_consume(struct store *st,
    const unsigned char hash[STORE_HASH_LEN], int64_t now,
    const char *connector_id, struct store_token_use *use, char *err,
    size_t errlen);

/*
 * The same verdict as store_token_consume() without using the token up:
 * lets a caller refuse early, before doing work (signing a certificate)
 * that store_enroll() then commits. Returns as store_token_consume() does;
 * use->state is STORE_TOKEN_CONSUMED when the token may be used now.
 */
int store_token_check(struct store *st,
    const unsigned char hash[STORE_HASH_LEN], int64_t now,
    struct store_token_use *use, char *err, size_t errlen);

/*
 * Enrolls a connector in one transaction: uses up the token whose secret
 * hashes to hash (as store_token_consume() decides), adds connector c to
 * the token's site (c->site_id is ignored; use->site_id says which) and
 * records its certificate, which c must carry. Either all of it is
 * committed or nothing is, so a crash never leaves a used token without
 * its connector. Returns and fills use like store_token_consume(); a bad
 * connector or a taken id or serial is UPLINK_EINVAL with use->state
 * STORE_TOKEN_FAILED, and the token stays unused.
 */
int store_enroll(struct store *st, const unsigned char hash[STORE_HASH_LEN],
    int64_t now, const struct store_connector *c, struct store_token_use *use,
    char *err, size_t errlen);

/* Revokes an unused token by id; a used or revoked one is UPLINK_EINVAL. */
int store_token_revoke(struct store *st, const char *token_id, int64_t now,
    char *err, size_t errlen);

typedef int (*store_token_cb)(void *arg, const struct store_token *t);

/*
 * Calls cb for each enrollment token, used, revoked and expired ones too,
 * oldest first. cb must not call back into the store; a non-zero return
 * stops the walk and is returned.
 */
int store_token_list(struct store *st, store_token_cb cb, void *arg,
    char *err, size_t errlen);

/*
 * Writes a random connector id, "c-" and 12 hex digits. An id that is
 * already taken makes store_connector_add() fail; callers draw again.
 */
void store_connector_id_new(char id[STORE_CONNECTOR_ID_SIZE]);

/*
 * Adds a connector; its certificate, when c->cert_serial is set, joins the
 * connector's certificate history (see store_revoked_serials()).
 */
int store_connector_add(struct store *st, const struct store_connector *c,
    char *err, size_t errlen);

/* Reads a connector by id; UPLINK_ENOTFOUND when there is none. */
int store_connector_get(struct store *st, const char *id,
    struct store_connector *out, char *err, size_t errlen);

/*
 * Records a connector's new certificate (after renewal). The old one stays
 * in the history so that revoking the connector revokes both. A revoked
 * connector gets no new certificate: UPLINK_EINVAL.
 */
int store_connector_update_cert(struct store *st, const char *id,
    const char *serial, const char *fingerprint, int64_t not_after,
    char *err, size_t errlen);

/*
 * Revokes a connector and, with it, every certificate it was issued.
 * UPLINK_ENOTFOUND when unknown, UPLINK_EINVAL when already revoked.
 */
int store_connector_revoke(struct store *st, const char *id, int64_t now,
    char *err, size_t errlen);

/*
 * Records that a connector was seen at now running version (NULL keeps
 * the one recorded). Each call is a durable write: call it when a
 * connector connects or at most every few minutes, not per request.
 */
int store_connector_touch(struct store *st, const char *id, int64_t now,
    const char *version, char *err, size_t errlen);

/*
 * Called once per row; a non-zero return stops the walk and is what the
 * walking function returns.
 */
typedef int (*store_connector_cb)(void *arg, const struct store_connector *c);
typedef int (*store_serial_cb)(void *arg, const char *serial,
    int64_t revoked_at, int64_t not_after);

/*
 * Calls cb for each connector of site_id, or of every site when site_id is
 * 0, ordered by site, name and id. The database is read in one snapshot;
 * cb must not call back into the store.
 */
int store_connector_list(struct store *st, int64_t site_id,
    store_connector_cb cb, void *arg, char *err, size_t errlen);

/*
 * Calls cb for each certificate of each revoked connector, current and
 * replaced ones alike, ordered by serial, for building the CRL. Callers
 * may leave out certificates past not_after.
 */
int store_revoked_serials(struct store *st, store_serial_cb cb, void *arg,
    char *err, size_t errlen);

/*
 * Finds the connector that was issued the certificate with this serial
 * (lowercase hex, as pki_cert_serial() writes it), current or replaced.
 * UPLINK_ENOTFOUND when this cloud never recorded the serial. A tunnel
 * may be accepted only when the lookup succeeds and owner->revoked_at is
 * 0: revoking a connector revokes every certificate it had.
 */
int store_cert_lookup(struct store *st, const char *serial,
    struct store_cert_owner *owner, char *err, size_t errlen);

/* The name of site site_id; UPLINK_ENOTFOUND when there is none. */
int store_site_name(struct store *st, int64_t site_id,
    char name[STORE_NAME_MAX + 1], char *err, size_t errlen);

/*
 * Settings are text values by key ("url": the cloud's https:// URL that
 * tokens carry; "crl_url": the http:// URL certificates name for the CRL).
 * store_setting_get() fails with UPLINK_ENOTFOUND when key was never set
 * and UPLINK_ETOOBIG when the value does not fit valuelen. Keys are 1-31
 * letters, digits or '_'; values at most STORE_SETTING_MAX bytes of
 * printable ASCII without spaces. "crl_number" belongs to
 * store_crl_next_number() and is refused by both.
 */
int store_setting_get(struct store *st, const char *key, char *value,
    size_t valuelen, char *err, size_t errlen);
int store_setting_set(struct store *st, const char *key, const char *value,
    char *err, size_t errlen);

/*
 * Adds an API key. k->id is the 12 hex digits of the key text (see
 * lib/apikey.h), k->name a name as store_name_check() accepts ("key
 * name"), k->scope "full" or "read". A taken id is UPLINK_EINVAL: the
 * caller makes a new key. last_used and revoked_at are ignored (0).
 */
int store_apikey_add(struct store *st, const struct store_apikey *k,
    char *err, size_t errlen);

/* Reads an API key by id; UPLINK_ENOTFOUND when there is none. */
int store_apikey_get(struct store *st, const char *id,
    struct store_apikey *out, char *err, size_t errlen);

typedef int (*store_apikey_cb)(void *arg, const struct store_apikey *k);

/*
 * Calls cb for each API key, revoked ones too, oldest first. cb must not
 * call back into the store.
 */
int store_apikey_list(struct store *st, store_apikey_cb cb, void *arg,
    char *err, size_t errlen);

/*
 * Revokes an API key: it stops working at once, for every process using
 * the database. UPLINK_ENOTFOUND when unknown, UPLINK_EINVAL when already
 * revoked.
 */
int store_apikey_revoke(struct store *st, const char *id, int64_t now,
    char *err, size_t errlen);

/*
 * Records that a key was used at now. A durable write: callers throttle it
 * (lib/apikey.c writes at most every APIKEY_TOUCH_SECS per key).
 */
int store_apikey_touch(struct store *st, const char *id, int64_t now,
    char *err, size_t errlen);

/*
 * A number that changes whenever another connection (another process,
 * such as "uplink-cloud connector revoke") commits a change to the
 * database, and only then: SQLite's PRAGMA data_version. The daemon polls
 * it, cheaply, to notice revocations made from the command line. Its own
 * writes through st do not change it.
 */
int store_data_version(struct store *st, int64_t *v, char *err,
    size_t errlen);

/*
 * Returns the next CRL number (1, 2, ...) in n. Each call takes a new one,
 * atomically and durably, so two CRLs never share a number.
 */
int store_crl_next_number(struct store *st, int64_t *n, char *err,
    size_t errlen);

#endif
