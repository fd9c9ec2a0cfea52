#ifndef UPLINK_APIKEY_H
#define UPLINK_APIKEY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "store.h"

/*
 * API keys: what a client of the ingress proxy (Proxy-Authorization: Basic
 * SITE:KEY) or of the API presents. "uplink-cloud key create" prints one,
 * once; the cloud keeps its id and SHA-256 of its secret (lib/store_apikey.c).
 *
 *	uk_<id: 12 lowercase hex>_<secret: 43 base64url characters>
 *
 * The secret is 32 random bytes. The id names the key in listings and logs
 * and is how the cloud finds it; the secret is then compared in constant
 * time. The "uk_" prefix makes keys easy to grep for and lets secret
 * scanners recognise them. docs/cloud.md says how operators use them.
 */

#define APIKEY_PREFIX		"uk_"
#define APIKEY_ID_LEN		STORE_KEY_ID_LEN	/* 12 hex digits */
#define APIKEY_ID_SIZE		(APIKEY_ID_LEN + 1)
#define APIKEY_SECRET_LEN	32
#define APIKEY_SECRET_B64	43	/* unpadded base64url of 32 bytes */
#define APIKEY_HASH_LEN		STORE_HASH_LEN
#define APIKEY_TEXT_LEN		(3 + APIKEY_ID_LEN + 1 + APIKEY_SECRET_B64)
#define APIKEY_TEXT_SIZE	(APIKEY_TEXT_LEN + 1)	/* 60 */
#define APIKEY_SCOPE_SIZE	STORE_SCOPE_SIZE
#define APIKEY_TOUCH_SECS	300	/* last_used is at most this stale */

/*
 * Makes a new key: its text (which the caller shows once and then wipes
 * with sodium_memzero()), its id and the hash of its secret, which is all
 * store_apikey_add() keeps. Cannot fail.
 */
void apikey_new(char text[APIKEY_TEXT_SIZE], char id[APIKEY_ID_SIZE],
    unsigned char hash[APIKEY_HASH_LEN]);

/*
 * Splits a key as a client presented it into its id and the hash of its
 * secret. Anything but the exact format (no white space is trimmed) is
 * UPLINK_EINVAL with a reason in err that never quotes the input, since
 * it may be someone's secret: "not an uplink API key (it should start
 * with \"uk_\")", "malformed API key (...)". id and hash are zeroed on
 * failure.
 */
int apikey_parse(const char *text, char id[APIKEY_ID_SIZE],
    unsigned char hash[APIKEY_HASH_LEN], char *err, size_t errlen);

/*
 * Scopes: what a key may do. Each scope is one row of a table in
 * lib/apikey.c: its name and the rights it grants. A new scope (a
 * "metrics" one, say) is a new right and a new row; callers ask
 * apikey_allows() for the right they need and never compare names.
 *
 *	full	the whole API, and the ingress proxy into every site
 *	read	the API's reads only
 *	ingress	the ingress proxy, into the sites bound to the key only
 *	metrics	the Prometheus endpoint ([metrics] listen) only
 */
#define APIKEY_API_READ		0x01u	/* GET of the API */
#define APIKEY_API_WRITE	0x02u	/* every other method of the API */
#define APIKEY_INGRESS		0x04u	/* the ingress proxy */
#define APIKEY_SITE_BOUND	0x08u	/* ingress: only into k->sites */
#define APIKEY_METRICS		0x10u	/* GET /metrics ([metrics] listen) */

#define APIKEY_SITES_MAX	STORE_KEY_SITES_MAX	/* sites per key */

struct apikey_scope {
	const char	*name;
	unsigned	 rights;
	const char	*what;		/* for usage texts */
};

/* The scope called name (exact, lowercase), or NULL. */
const struct apikey_scope *apikey_scope_find(const char *name);

/* "full, read or ingress": the scope names, for messages. */
const char *apikey_scope_names(void);

/* Whether a key of scope (a name) has every right in rights. */
bool apikey_allows(const char *scope, unsigned rights);

/*
 * Fills k (but its id and hash) for a new key: name, scope and the
 * comma-separated names of the sites it is bound to (NULL or "" for
 * none). A scope that is site-bound needs at least one site, the others
 * take none; each site must exist (its stored spelling is kept), at most
 * APIKEY_SITES_MAX, no repeats. UPLINK_EINVAL with what is wrong and how
 * to fix it in err; UPLINK_EIO when the database fails.
 */
int apikey_prepare(struct store *st, struct store_apikey *k,
    const char *name, const char *scope, const char *sites, char *err,
    size_t errlen);

/*
 * Whether key k may open the ingress proxy into site: 0, or -1 with the
 * reason in why (safe to show the client: it names the key's id, scope and
 * sites, never its secret).
 */
int apikey_ingress_check(const struct store_apikey *k, const char *site,
    char *why, size_t whylen);

/*
 * Checks a presented key against the store: it must parse, exist, not be
 * revoked, and its secret must match (sodium_memcmp). Returns UPLINK_OK
 * and the key's row in out (which may be NULL: id, name, scope, sites);
 * UPLINK_EINVAL for a malformed key and UPLINK_ENOTFOUND for an unknown,
 * revoked or wrong one, with a message in err that is safe to show the
 * client ("unknown or revoked API key"); UPLINK_EIO or UPLINK_ENOMEM when
 * the database fails, with a message for the log only (it names files).
 *
 * A good key's last_used is recorded when the stored one is more than
 * APIKEY_TOUCH_SECS old: one durable write per key every few minutes,
 * whose failure is ignored (a key that works must not stop working
 * because a timestamp could not be written).
 */
int apikey_verify(struct store *st, const char *text,
    struct store_apikey *out, char *err, size_t errlen);

/*
 * A key's row as the API and `key list --json` show it: id, name, scope,
 * sites as an array, and the times as epoch seconds or null. NULL when out
 * of memory. Never the secret or its hash.
 */
json_t *apikey_json(const struct store_apikey *k);

#endif
