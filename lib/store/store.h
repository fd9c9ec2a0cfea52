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

#define STORE_SCHEMA_VERSION	9
#define STORE_BUSY_MS		5000
#define STORE_PG_TIMEOUT_MS	2000	/* deadline of one PostgreSQL call */
#define STORE_NAME_MAX		63	/* site and connector names */
#define STORE_ID_MAX		31	/* connector and token ids */
#define STORE_CONNECTOR_ID_SIZE	15	/* "c-" + 12 hex + NUL */
#define STORE_SERIAL_MAX	64	/* certificate serial, as hex */
#define STORE_FPR_MAX		95	/* fingerprint text, e.g. SHA-256 hex */
#define STORE_VERSION_MAX	31	/* connector software version */
#define STORE_HASH_LEN		32
#define STORE_SETTING_MAX	1023	/* a setting's text value */
#define STORE_KEY_ID_LEN	12	/* API key id: 12 lowercase hex */
#define STORE_SCOPE_SIZE	16	/* API key scope: [a-z]{1,15} */
#define STORE_KEY_SITES_MAX	16	/* sites bound to one API key */
#define STORE_KEY_SITES_SIZE	(STORE_KEY_SITES_MAX * (STORE_NAME_MAX + 1))

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
	bool	 drained;	/* no new streams routed to it */
	int64_t	 bytes_in;	/* carried from it, tunnels closed or written */
	int64_t	 bytes_out;	/* carried to it, likewise */
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
	char		 scope[STORE_SCOPE_SIZE];	/* lib/apikey.h */
	char		 sites[STORE_KEY_SITES_SIZE];	/* "hq,branch" or "" */
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

/*
 * Failed sign-ins shared by the instances of a cluster (rest_session.c):
 * store_signin_fail() counts a failure of key ("a:EMAIL", "i:ADDRESS") at
 * now, starting again from 1 when the last one is older than window
 * seconds, and returns the count in *n; rows older than the window are
 * deleted on the way. store_signin_get() reads the count within the window
 * (0 when none) and the time of the last failure.
 */
int store_signin_fail(struct store *st, const char *key, int64_t now,
    int64_t window, int *n, char *err, size_t errlen);
int store_signin_get(struct store *st, const char *key, int64_t now,
    int64_t window, int *n, int64_t *last, char *err, size_t errlen);

/* How to reach a PostgreSQL database beyond its URL. */
struct store_opts {
	const char	*password_file;	/* first line is the password */
	int		 timeout_ms;	/* per call; 0: STORE_PG_TIMEOUT_MS */
};

/*
 * store_open() for a URL: "sqlite:PATH" or a bare path opens SQLite;
 * "postgresql://...", "postgres://..." or a libpq conninfo ("host=...
 * dbname=...") connects to PostgreSQL and migrates its schema there, under
 * an advisory lock so that of several instances starting at once one
 * migrates and the others wait. o may be NULL.
 */
int store_open_opts(const char *url, const struct store_opts *o,
    struct store **out, char *err, size_t errlen);

/* True when url names a PostgreSQL database rather than an SQLite file. */
bool store_url_is_pg(const char *url);

/* True when st is on PostgreSQL. */
bool store_is_pg(const struct store *st);

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
 * What a connector's tunnels did since the last write: seen at `at`,
 * carried bytes_in from it and bytes_out to it.
 */
struct store_seen {
	const char	*id;
	int64_t		 at;
	uint64_t	 bytes_in, bytes_out;
};

/*
 * Records n connectors as seen (last_seen = at) and adds their bytes to
 * their totals, in one transaction: the cloud calls it about once a
 * minute for all connectors with tunnels up and when a connector's last
 * tunnel closes. Ids no longer in the table are skipped.
 */
int store_connectors_seen(struct store *st, const struct store_seen *v,
    size_t n, char *err, size_t errlen);

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
 * 0: revoking a connector revokes every certificate it had. While the
 * database is unavailable (PostgreSQL), a serial looked up before is
 * answered as it was then, with the revocations store_revoked_serials()
 * has seen since, so connectors can still open tunnels.
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
 * name"), k->scope one of lib/apikey.c's scopes, k->sites "" or the
 * comma-separated names of existing sites (apikey_prepare() makes it).
 * A taken id is UPLINK_EINVAL: the caller makes a new key. last_used and
 * revoked_at are ignored (0).
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

/* ---- schema 3: the management plane (docs/api.md) ---- */

#define STORE_EMAIL_MAX		254
#define STORE_ROLE_SIZE		8	/* "full" or "read", and a NUL */
#define STORE_PWHASH_MAX	127	/* crypto_pwhash_STRBYTES - 1 */
#define STORE_CSRF_SIZE		44	/* 43 base64url characters, NUL */
#define STORE_ADDR_MAX		63	/* "[2001:db8::1]:443" */
#define STORE_TARGET_MAX	261	/* HOST:PORT */
#define STORE_KIND_MAX		31
#define STORE_SUBJECT_MAX	127
#define STORE_TEXT_MAX		511
#define STORE_REQUIREMENT_MAX	65535	/* bytes of a requirement's JSON */
#define STORE_REPORT_MAX	262144	/* bytes of a check's JSON report */
#define STORE_CHECK_LIST_MAX	1000	/* store_check_list() limit */
#define STORE_NOTE_LIST_MAX	500	/* store_note_list() limit */
#define STORE_AUDIT_LIST_MAX	1000	/* store_audit_list() limit */

struct store_site {
	int64_t	 id;
	char	 name[STORE_NAME_MAX + 1];
	int64_t	 created_at;
};
typedef int (*store_site_cb)(void *arg, const struct store_site *s);

/* Calls cb for each site, by name; cb must not call back into the store. */
int store_site_list(struct store *st, store_site_cb cb, void *arg, char *err,
    size_t errlen);

/*
 * Renames site from to to, and in the API keys bound to it.
 * UPLINK_ENOTFOUND: no site from; UPLINK_EEXIST: to is taken;
 * UPLINK_EINVAL: to is not a valid name.
 */
int store_site_rename(struct store *st, const char *from, const char *to,
    char *err, size_t errlen);

/* What keeps a site from being deleted. */
struct store_site_refs {
	int64_t	 connectors;	/* enrolled, not revoked */
	int64_t	 services;	/* published through the API */
	int64_t	 tokens;	/* not used, revoked or expired at now */
};

/*
 * Deletes a site with its revoked connectors (their serials stay on the
 * CRL) and its tokens. UPLINK_EINVAL with refs filled and err saying
 * what when something still refers to it; UPLINK_ENOTFOUND if unknown.
 */
int store_site_delete(struct store *st, const char *name, int64_t now,
    struct store_site_refs *refs, char *err, size_t errlen);

/* Renames a connector (its label; id and certificate stay). */
int store_connector_rename(struct store *st, const char *id,
    const char *name, char *err, size_t errlen);

/*
 * Removes a revoked connector, its checks and certificates; their serials
 * stay on the CRL. UPLINK_EINVAL when it is not revoked.
 */
int store_connector_remove(struct store *st, const char *id, char *err,
    size_t errlen);

/* Sets or clears a connector's drained flag; UPLINK_ENOTFOUND if unknown. */
int store_connector_set_drained(struct store *st, const char *id,
    bool drained, char *err, size_t errlen);

/*
 * Administrators of the console and API. E-mail addresses are unique
 * without regard to case (the first spelling is kept); pwhash is the
 * libsodium crypto_pwhash_str() text (argon2id).
 */
struct store_admin {
	int64_t	 id;
	char	 email[STORE_EMAIL_MAX + 1];
	char	 role[STORE_ROLE_SIZE];		/* "full" or "read" */
	char	 pwhash[STORE_PWHASH_MAX + 1];
	int64_t	 created_at;	/* store_admin_add: 0 means now */
	int64_t	 last_sign_in;	/* 0 if never */
};
typedef int (*store_admin_cb)(void *arg, const struct store_admin *a);

/*
 * Adds an administrator; *id (may be NULL) gets its id. a->email is
 * NAME@DOMAIN, a->role "full" or "read", a->pwhash printable ASCII. A
 * taken e-mail, in any case, is UPLINK_EEXIST.
 */
int store_admin_add(struct store *st, const struct store_admin *a,
    int64_t *id, char *err, size_t errlen);
/* By id; UPLINK_ENOTFOUND when none. */
int store_admin_get(struct store *st, int64_t id, struct store_admin *out,
    char *err, size_t errlen);
/*
 * By e-mail, without regard to case; UPLINK_ENOTFOUND when none (also for
 * text that cannot be an address, which the message does not quote).
 */
int store_admin_find(struct store *st, const char *email,
    struct store_admin *out, char *err, size_t errlen);
/* By id; cb must not call back into the store. */
int store_admin_list(struct store *st, store_admin_cb cb, void *arg,
    char *err, size_t errlen);
/*
 * Changes the role and/or the password hash (NULL keeps it), in one
 * transaction. Demoting the last "full" administrator is UPLINK_EINVAL,
 * and nothing changes. A new password deletes the administrator's
 * sessions except the one whose hash is keep_session (NULL: all of them).
 */
int store_admin_update(struct store *st, int64_t id, const char *role,
    const char *pwhash, const unsigned char *keep_session, char *err,
    size_t errlen);
/*
 * Removes one with its sessions (ON DELETE CASCADE); UPLINK_ENOTFOUND
 * when unknown; the last "full" one is UPLINK_EINVAL.
 */
int store_admin_delete(struct store *st, int64_t id, char *err,
    size_t errlen);
/* How many administrators there are (0 before the first is made). */
int store_admin_count(struct store *st, int64_t *n, char *err,
    size_t errlen);

/*
 * The addresses an administrator signed in from (cloud/rest_session.c:
 * failed sign-ins from them are never delayed), at most
 * STORE_ADMIN_KNOWN_MAX per administrator, newest first. *known: addr
 * signed in at or after since. _add records a sign-in from addr at now
 * and drops entries older than since. A new password and removing the
 * administrator forget them.
 */
#define STORE_ADMIN_KNOWN_MAX	16
int store_admin_known(struct store *st, int64_t id, const char *addr,
    int64_t since, bool *known, char *err, size_t errlen);
int store_admin_known_add(struct store *st, int64_t id, const char *addr,
    int64_t now, int64_t since, char *err, size_t errlen);

/*
 * Console sessions, by the SHA-256 hash of the cookie's secret (the secret
 * itself is never stored).
 */
struct store_session {
	unsigned char	 hash[STORE_HASH_LEN];
	int64_t		 admin_id;
	int64_t		 created_at;
	int64_t		 last_active;
	char		 csrf[STORE_CSRF_SIZE];
	char		 address[STORE_ADDR_MAX + 1];	/* signed in from */
};

/*
 * Adds a session and records the administrator's sign-in time, in one
 * transaction. created_at 0 means now, last_active 0 means created_at;
 * csrf is 1-43 base64url characters; address may be "". An unknown
 * admin_id is UPLINK_ENOTFOUND, a hash already stored UPLINK_EEXIST.
 */
int store_session_add(struct store *st, const struct store_session *s,
    char *err, size_t errlen);
/*
 * store_session_get(), _touch() (sets last_active) and _delete() (signs
 * out) return UPLINK_ENOTFOUND when there is no such session.
 */
int store_session_get(struct store *st, const unsigned char hash[STORE_HASH_LEN],
    struct store_session *out, char *err, size_t errlen);
int store_session_touch(struct store *st,
    const unsigned char hash[STORE_HASH_LEN], int64_t now, char *err,
    size_t errlen);
int store_session_delete(struct store *st,
    const unsigned char hash[STORE_HASH_LEN], char *err, size_t errlen);
/* Deletes sessions created before created_before (expired ones). */
int store_session_purge(struct store *st, int64_t created_before,
    char *err, size_t errlen);

/* Services published through the API ([publish] sections live in cloud.conf). */
struct store_service {
	char	 name[STORE_NAME_MAX + 1];
	char	 site[STORE_NAME_MAX + 1];
	char	 target[STORE_TARGET_MAX + 1];	/* HOST:PORT in the site */
	char	 listen[STORE_TARGET_MAX + 1];	/* ADDRESS:PORT on the cloud */
	int64_t	 created_at;
	int64_t	 updated_at;
};
typedef int (*store_service_cb)(void *arg, const struct store_service *s);

/*
 * Adds (create true; a taken name, in any case, is UPLINK_EEXIST) or
 * replaces (create false; an unknown name is UPLINK_ENOTFOUND) a service,
 * setting updated_at (and created_at when adding) to now. Names are
 * checked as store_name_check() does; target and listen must end in
 * ":PORT" (1-65535), the caller checks the rest. The site must exist
 * (UPLINK_ENOTFOUND naming it). s->created_at and updated_at are ignored.
 */
int store_service_put(struct store *st, const struct store_service *s,
    bool create, int64_t now, char *err, size_t errlen);
/* store_service_get() and _delete(): UPLINK_ENOTFOUND when unknown. */
int store_service_get(struct store *st, const char *name,
    struct store_service *out, char *err, size_t errlen);
int store_service_delete(struct store *st, const char *name, char *err,
    size_t errlen);
/* By name; cb must not call back into the store. */
int store_service_list(struct store *st, store_service_cb cb, void *arg,
    char *err, size_t errlen);

/*
 * Extra required-address services for the catalog: a name (as
 * store_name_check() accepts) and the JSON of one catalog service object
 * (docs/catalog.md, 1 to STORE_REQUIREMENT_MAX bytes), validated by the
 * caller. Put adds or replaces; delete of an unknown name is
 * UPLINK_ENOTFOUND; list goes by name.
 */
typedef int (*store_requirement_cb)(void *arg, const char *name,
    const char *json);
int store_requirement_put(struct store *st, const char *name,
    const char *json, int64_t now, char *err, size_t errlen);
int store_requirement_delete(struct store *st, const char *name, char *err,
    size_t errlen);
int store_requirement_list(struct store *st, store_requirement_cb cb,
    void *arg, char *err, size_t errlen);

/* Connectivity check results, the last STORE_CHECKS_KEPT per connector. */
#define STORE_CHECKS_KEPT	50
struct store_check {
	int64_t		 id;
	char		 connector_id[STORE_ID_MAX + 1];
	int64_t		 at;
	char		 trigger[16];	/* "manual", "connect", "hourly" */
	bool		 ok;
	int		 passed, failed;
	const char	*report;	/* JSON text; in a list, valid during cb */
};
typedef int (*store_check_cb)(void *arg, const struct store_check *c);

/*
 * Adds a result and, in the same transaction, drops the connector's
 * results beyond the newest STORE_CHECKS_KEPT. c->id is ignored; *id (may
 * be NULL) gets the new one; c->at 0 means now; c->trigger is lowercase
 * letters, digits and '-'. An unknown connector is UPLINK_ENOTFOUND.
 */
int store_check_add(struct store *st, const struct store_check *c,
    int64_t *id, char *err, size_t errlen);
/*
 * Newest first, at most limit (1..STORE_CHECK_LIST_MAX); connector_id
 * NULL means every connector. An unknown connector has no results.
 */
int store_check_list(struct store *st, const char *connector_id, int limit,
    store_check_cb cb, void *arg, char *err, size_t errlen);

/*
 * Notifications for the console's bell. A condition (kind, subject) has at
 * most one unresolved notification: opening it again changes nothing.
 */
struct store_note {
	int64_t	 id;
	char	 kind[STORE_KIND_MAX + 1];	/* "connector-offline" */
	char	 severity[12];			/* "info", "warning", "error" */
	char	 subject[STORE_SUBJECT_MAX + 1];	/* what it is about */
	char	 message[STORE_TEXT_MAX + 1];
	int64_t	 created_at;
	int64_t	 resolved_at;	/* 0 while the condition holds */
	int64_t	 read_at;	/* 0 while unread */
};
typedef int (*store_note_cb)(void *arg, const struct store_note *n);

/*
 * Opens a notification unless (kind, subject) already has an unresolved
 * one, which is then left as it is. *created (may be NULL) tells whether
 * a new one was made. kind is lowercase letters, digits and '-'; subject
 * and message are one line of UTF-8.
 */
int store_note_open(struct store *st, const char *kind, const char *subject,
    const char *severity, const char *message, int64_t now, bool *created,
    char *err, size_t errlen);
/* Marks the unresolved (kind, subject) resolved; none is not an error. */
int store_note_resolve(struct store *st, const char *kind,
    const char *subject, int64_t now, char *err, size_t errlen);
/*
 * Read state is per administrator (admin_id, from admins.id): read_at is
 * when that administrator read it. admin_id 0 (an API key) uses the
 * shared read_at of the notification.
 *
 * store_note_list(): newest first, at most limit (1..STORE_NOTE_LIST_MAX);
 * cb as above. store_note_unread(): how many admin_id has not read.
 */
int store_note_list(struct store *st, int64_t admin_id, bool unread_only,
    int limit, store_note_cb cb, void *arg, char *err, size_t errlen);
int store_note_unread(struct store *st, int64_t admin_id, int64_t *n,
    char *err, size_t errlen);
/*
 * Marks one (id) or every (id 0) notification read for admin_id; one read
 * before keeps its read_at. An unknown id is UPLINK_ENOTFOUND.
 */
int store_note_read(struct store *st, int64_t admin_id, int64_t id,
    int64_t now, char *err,
    size_t errlen);

/* The audit log: who did what, when, from where. */
struct store_audit {
	int64_t	 id;
	int64_t	 at;		/* store_audit_add: 0 means now */
	char	 actor[STORE_EMAIL_MAX + 1];	/* e-mail, key id, "cli" */
	char	 actor_kind[8];		/* "admin", "key", "cli", "system" */
	char	 address[STORE_ADDR_MAX + 1];
	char	 action[48];		/* "token.create", "session.create" */
	char	 target[STORE_SUBJECT_MAX + 1];
	char	 detail[STORE_TEXT_MAX + 1];
};
typedef int (*store_audit_cb)(void *arg, const struct store_audit *a);

/*
 * Appends an entry (a->id is ignored). actor must not be ""; address
 * (printable ASCII), target and detail may be "". In actor, target and
 * detail, control characters and bytes that are not UTF-8 are stored as
 * '?' rather than refused, so that text someone typed cannot keep an
 * entry out of the log. actor_kind is "admin", "key", "cli" or "system";
 * action is lowercase letters, digits, '.', '_' and '-'.
 */
int store_audit_add(struct store *st, const struct store_audit *a,
    char *err, size_t errlen);
/*
 * Newest first: entries with id < before (0: from the newest), at most
 * limit (1..STORE_AUDIT_LIST_MAX). The next page starts before the last
 * id seen.
 */
int store_audit_list(struct store *st, int64_t before, int limit,
    store_audit_cb cb, void *arg, char *err, size_t errlen);

/*
 * The cluster's shared state (lib/store/store_cluster.c; cloud/cluster.c
 * and docs/cluster.md use it): the instances, each with the lease it
 * renews, and where each connector has tunnels. Times are Unix seconds of
 * the writer's clock, so the instances' clocks must agree (NTP). None of
 * these writes moves store_data_version() on PostgreSQL: they are
 * frequent, and the other instances poll these tables themselves.
 */
#define STORE_INSTANCE_ID_MAX	63	/* [a-z0-9-]{1,63} */
#define STORE_INSTANCE_ADDR_MAX	261	/* host:port, [v6]:port */
#define STORE_INSTANCE_NAME_MAX	253	/* a DNS name */
#define STORE_INSTANCES_MAX	64	/* rows store_instance_list() reads */
#define STORE_LOCATIONS_MAX	100000	/* rows store_location_list() reads */

enum store_instance_state {
	STORE_INSTANCE_UP,
	STORE_INSTANCE_DRAINING,
	STORE_INSTANCE_GONE,
};

struct store_instance {
	char	 id[STORE_INSTANCE_ID_MAX + 1];
	char	 peer_address[STORE_INSTANCE_ADDR_MAX + 1];
	char	 tunnel_name[STORE_INSTANCE_NAME_MAX + 1];
	char	 tunnel_address[STORE_INSTANCE_ADDR_MAX + 1];
	enum store_instance_state state;
	int64_t	 started_at, lease_until;
	int64_t	 epoch;		/* 1 at the first start, +1 at each */
};

struct store_location {
	char	 connector[STORE_ID_MAX + 1];
	char	 instance[STORE_INSTANCE_ID_MAX + 1];
	char	 site[STORE_NAME_MAX + 1];
	unsigned tunnels;	/* 0 (store_locations_write): delete the row */
	unsigned load;		/* open streams at the last report */
	int64_t	 epoch;		/* the instance's epoch when written */
	int64_t	 updated_at;
};

typedef int (*store_instance_cb)(void *arg, const struct store_instance *in);
typedef int (*store_location_cb)(void *arg, const struct store_location *l);

/*
 * An instance starts: its row is written (inserted, or its previous run's
 * replaced) with state up, in->started_at and in->lease_until, and a new
 * epoch, one more than the previous run's, returned in in->epoch. The
 * tunnel locations of its previous run are deleted in the same
 * transaction.
 */
int store_instance_register(struct store *st, struct store_instance *in,
    char *err, size_t errlen);
/*
 * Renews the lease of run epoch of instance id to lease_until and writes
 * the n location rows in v (their load, their tunnels; tunnels 0 deletes)
 * stamped now, in one transaction. UPLINK_ENOTFOUND when the row is no longer this
 * run's: another process registered the id since (a newer epoch), or the
 * others found the lease expired and marked it gone; nothing is written
 * then.
 */
int store_instance_renew(struct store *st, const char *id, int64_t epoch,
    int64_t lease_until, const struct store_location *v, size_t n,
    int64_t now, char *err, size_t errlen);
/*
 * Sets the state of run epoch of id (UPLINK_ENOTFOUND as above). Gone
 * also ends its lease (lease_until = now) and deletes its locations.
 */
int store_instance_set_state(struct store *st, const char *id, int64_t epoch,
    enum store_instance_state state, int64_t now, char *err, size_t errlen);
/*
 * Marks gone every instance not gone whose lease ended before now, and
 * deletes their locations; *n (may be NULL) is how many.
 */
int store_instance_expire(struct store *st, int64_t now, size_t *n,
    char *err, size_t errlen);
/* Every instance (any state), by id, at most STORE_INSTANCES_MAX. */
int store_instance_list(struct store *st, store_instance_cb cb, void *arg,
    char *err, size_t errlen);
/*
 * Writes the n location rows in v for instance run epoch in one
 * transaction (upsert; tunnels 0 deletes the row), stamped now.
 * UPLINK_ENOTFOUND, writing nothing, when epoch is no longer the
 * instance's run, as for store_instance_renew().
 */
int store_locations_write(struct store *st, const char *instance,
    int64_t epoch, const struct store_location *v, size_t n, int64_t now,
    char *err, size_t errlen);
/*
 * Every location row, by connector then instance, at most
 * STORE_LOCATIONS_MAX (rows past the cap are left out, not an error).
 */
int store_location_list(struct store *st, store_location_cb cb, void *arg,
    char *err, size_t errlen);
/* "up", "draining", "gone". */
const char *store_instance_state_name(enum store_instance_state s);

/*
 * Hints that the shared state changed (lib/store/store_listen.c): a second
 * PostgreSQL connection that LISTENs on STORE_LISTEN_CHANNEL, to which
 * every write that moves the data version NOTIFYs at commit. Nothing
 * blocks; the caller watches store_listen_fd() (for writing too while
 * store_listen_wants_write()) and calls store_listen_step() when it is
 * ready. A hint means "re-read now", never what changed: keep polling.
 */
#define STORE_LISTEN_CHANNEL	"uplink_changes"

enum store_listen_event {
	STORE_LISTEN_WAIT,	/* nothing yet: wait for the socket again */
	STORE_LISTEN_UP,	/* listening (again): re-read everything */
	STORE_LISTEN_HINT,	/* *hints notifications arrived */
	STORE_LISTEN_DOWN,	/* the connection failed (err): start again later */
};

struct store_listen;

/* NULL when st is not PostgreSQL (or out of memory). */
struct store_listen *store_listen_new(struct store *st);
/* (Re)starts connecting; UPLINK_EUNAVAIL with err when it cannot begin. */
int store_listen_start(struct store_listen *l, char *err, size_t errlen);
/* The connection's socket (it changes at each start), -1 when closed. */
int store_listen_fd(const struct store_listen *l);
bool store_listen_wants_write(const struct store_listen *l);
enum store_listen_event store_listen_step(struct store_listen *l,
    unsigned *hints, char *err, size_t errlen);
void store_listen_close(struct store_listen *l);
/* NULL is a no-op. */
void store_listen_free(struct store_listen *l);

#endif
