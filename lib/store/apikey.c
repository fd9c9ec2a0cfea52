#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "apikey.h"
#include "error.h"

#define APIKEY_B64	sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define APIKEY_PREFIX_LEN	(sizeof(APIKEY_PREFIX) - 1)
#define APIKEY_SECRET_AT	(APIKEY_PREFIX_LEN + APIKEY_ID_LEN + 1)
#define APIKEY_REFUSED		"unknown or revoked API key"

_Static_assert(APIKEY_TEXT_LEN == APIKEY_SECRET_AT + APIKEY_SECRET_B64,
    "layout");
_Static_assert(sodium_base64_ENCODED_LEN(APIKEY_SECRET_LEN, APIKEY_B64) ==
    APIKEY_SECRET_B64 + 1, "43 base64url characters hold 32 bytes");

static int
apikey_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
apikey_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/*
 * The id is random, not derived from the secret: it is shown in listings
 * and logs, and nothing about the secret may be learnt from it.
 */
void
apikey_new(char text[APIKEY_TEXT_SIZE], char id[APIKEY_ID_SIZE],
    unsigned char hash[APIKEY_HASH_LEN])
{
	unsigned char	 r[APIKEY_ID_LEN / 2], secret[APIKEY_SECRET_LEN];
	char		 b64[APIKEY_SECRET_B64 + 1];

	/* randombytes_buf() needs no sodium_init() and cannot fail. */
	randombytes_buf(r, sizeof(r));
	randombytes_buf(secret, sizeof(secret));
	sodium_bin2hex(id, APIKEY_ID_SIZE, r, sizeof(r));
	sodium_bin2base64(b64, sizeof(b64), secret, sizeof(secret),
	    APIKEY_B64);
	snprintf(text, APIKEY_TEXT_SIZE, "%s%s_%s", APIKEY_PREFIX, id, b64);
	crypto_hash_sha256(hash, secret, sizeof(secret));
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(b64, sizeof(b64));
}

static bool
apikey_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Checks the shape of a key; says what is wrong without quoting it. */
static int
apikey_shape(const char *text, size_t len, char *err, size_t errlen)
{
	size_t	 i;

	if (len < APIKEY_PREFIX_LEN || memcmp(text, APIKEY_PREFIX,
	    APIKEY_PREFIX_LEN) != 0)
		return apikey_fail(UPLINK_EINVAL, err, errlen, "not an uplink "
		    "API key (it should start with \"%s\")", APIKEY_PREFIX);
	if (len != APIKEY_TEXT_LEN)
		return apikey_fail(UPLINK_EINVAL, err, errlen, "malformed API "
		    "key (%zu characters; a key has %d): copy the whole key",
		    len, APIKEY_TEXT_LEN);
	for (i = APIKEY_PREFIX_LEN; i < APIKEY_SECRET_AT - 1; i++)
		if (strchr("0123456789abcdef", text[i]) == NULL ||
		    text[i] == '\0')
			return apikey_fail(UPLINK_EINVAL, err, errlen,
			    "malformed API key (character %zu is not a "
			    "lowercase hex digit)", i + 1);
	if (text[APIKEY_SECRET_AT - 1] != '_')
		return apikey_fail(UPLINK_EINVAL, err, errlen, "malformed API "
		    "key (no '_' after the id at character %d)",
		    (int)APIKEY_SECRET_AT);
	for (i = APIKEY_SECRET_AT; i < len; i++)
		if (!apikey_b64_char(text[i]))
			return apikey_fail(UPLINK_EINVAL, err, errlen,
			    "malformed API key (character %zu is not "
			    "base64url)", i + 1);
	return UPLINK_OK;
}

int
apikey_parse(const char *text, char id[APIKEY_ID_SIZE],
    unsigned char hash[APIKEY_HASH_LEN], char *err, size_t errlen)
{
	unsigned char	 secret[APIKEY_SECRET_LEN];
	size_t		 len, n = 0;
	int		 rc;

	memset(id, 0, APIKEY_ID_SIZE);
	memset(hash, 0, APIKEY_HASH_LEN);
	if (text == NULL)
		text = "";
	len = strnlen(text, APIKEY_TEXT_LEN + 1);
	rc = apikey_shape(text, len, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	/* libsodium refuses non-zero unused bits: one text per secret. */
	if (sodium_base642bin(secret, sizeof(secret), text + APIKEY_SECRET_AT,
	    APIKEY_SECRET_B64, NULL, &n, NULL, APIKEY_B64) != 0 ||
	    n != sizeof(secret)) {
		sodium_memzero(secret, sizeof(secret));
		return apikey_fail(UPLINK_EINVAL, err, errlen, "malformed API "
		    "key (its secret does not decode): copy the whole key");
	}
	memcpy(id, text + APIKEY_PREFIX_LEN, APIKEY_ID_LEN);
	id[APIKEY_ID_LEN] = '\0';
	crypto_hash_sha256(hash, secret, sizeof(secret));
	sodium_memzero(secret, sizeof(secret));
	return UPLINK_OK;
}

int
apikey_verify(struct store *st, const char *text, struct store_apikey *out,
    char *err, size_t errlen)
{
	struct store_apikey	 k;
	unsigned char		 hash[APIKEY_HASH_LEN];
	char			 id[APIKEY_ID_SIZE];
	int64_t			 now = time(NULL);
	int			 rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	rc = apikey_parse(text, id, hash, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = store_apikey_get(st, id, &k, err, errlen);
	if (rc == UPLINK_ENOTFOUND || rc == UPLINK_EINVAL)
		return apikey_fail(UPLINK_ENOTFOUND, err, errlen,
		    APIKEY_REFUSED);
	if (rc != UPLINK_OK)
		return rc;
	/* Revoked or not, the secret is compared: no shortcut to time. */
	if (sodium_memcmp(hash, k.secret_hash, APIKEY_HASH_LEN) != 0 ||
	    k.revoked_at != 0)
		return apikey_fail(UPLINK_ENOTFOUND, err, errlen,
		    APIKEY_REFUSED);
	if (now - k.last_used > APIKEY_TOUCH_SECS)
		(void)store_apikey_touch(st, id, now, NULL, 0);
	if (out != NULL) {
		*out = k;
		sodium_memzero(out->secret_hash, sizeof(out->secret_hash));
	}
	return UPLINK_OK;
}

/* ---- scopes */

/*
 * Every scope a key can have. A new one is a row here (with a new right
 * if none of the present ones fits) and a line in docs/cloud.md and
 * docs/api.md; the database takes any lowercase name (schema version 4).
 */
static const struct apikey_scope apikey_scopes[] = {
	{ "full", APIKEY_API_READ | APIKEY_API_WRITE | APIKEY_INGRESS |
	    APIKEY_METRICS, "the whole API, the ingress proxy into every site "
	    "and /metrics" },
	{ "read", APIKEY_API_READ, "the API's reads only" },
	{ "ingress", APIKEY_INGRESS | APIKEY_SITE_BOUND,
	    "the ingress proxy, into the sites given with it only" },
	{ "metrics", APIKEY_METRICS, "/metrics on [metrics] listen only" },
};

#define APIKEY_NSCOPES	(sizeof(apikey_scopes) / sizeof(apikey_scopes[0]))

const struct apikey_scope *
apikey_scope_find(const char *name)
{
	size_t	 i;

	for (i = 0; name != NULL && i < APIKEY_NSCOPES; i++)
		if (strcmp(apikey_scopes[i].name, name) == 0)
			return &apikey_scopes[i];
	return NULL;
}

const char *
apikey_scope_names(void)
{
	static char	 names[128];
	size_t		 i, n = 0;

	if (names[0] != '\0')
		return names;
	for (i = 0; i < APIKEY_NSCOPES && n < sizeof(names); i++)
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
		    i == 0 ? "" : i + 1 == APIKEY_NSCOPES ? " or " : ", ",
		    apikey_scopes[i].name);
	return names;
}

bool
apikey_allows(const char *scope, unsigned rights)
{
	const struct apikey_scope	*sc = apikey_scope_find(scope);

	return sc != NULL && (sc->rights & rights) == rights;
}

/* Whether site is one of the comma-separated names in sites (any case). */
static bool
apikey_site_listed(const char *sites, const char *site)
{
	size_t		 len = strlen(site), n;
	const char	*p;

	for (p = sites; *p != '\0'; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		if (n == len && strncasecmp(p, site, len) == 0)
			return true;
	}
	return false;
}

/* Appends site's stored spelling to k->sites; refuses repeats. */
static int
apikey_add_site(struct store *st, struct store_apikey *k, const char *site,
    char *err, size_t errlen)
{
	char		 name[STORE_NAME_MAX + 1], why[256];
	int64_t		 id;
	size_t		 n = strlen(k->sites);
	int		 rc;

	if (!store_name_check("site name", site, err, errlen))
		return UPLINK_EINVAL;
	rc = store_site_find(st, site, &id, why, sizeof(why));
	if (rc == UPLINK_OK)
		rc = store_site_name(st, id, name, why, sizeof(why));
	if (rc == UPLINK_ENOTFOUND)
		return apikey_fail(UPLINK_EINVAL, err, errlen, "there is no "
		    "site named \"%s\" (see GET /api/v1/sites or \"uplink-cloud "
		    "connector list\"; a site exists once a token was made "
		    "for it)", site);
	if (rc != UPLINK_OK)
		return apikey_fail(rc, err, errlen, "%s", why);
	if (apikey_site_listed(k->sites, name))
		return apikey_fail(UPLINK_EINVAL, err, errlen, "site \"%s\" "
		    "is given twice", name);
	if (n + strlen(name) + 2 > sizeof(k->sites))
		return apikey_fail(UPLINK_EINVAL, err, errlen, "too many "
		    "sites: a key is bound to at most %d", APIKEY_SITES_MAX);
	snprintf(k->sites + n, sizeof(k->sites) - n, "%s%s", n ? "," : "",
	    name);
	return UPLINK_OK;
}

int
apikey_prepare(struct store *st, struct store_apikey *k, const char *name,
    const char *scope, const char *sites, char *err, size_t errlen)
{
	const struct apikey_scope	*sc = apikey_scope_find(scope);
	char				 one[STORE_NAME_MAX + 2];
	const char			*p;
	size_t				 n, count = 0;
	int				 rc;

	if (!store_name_check("key name", name, err, errlen))
		return UPLINK_EINVAL;
	if (sc == NULL)
		return apikey_fail(UPLINK_EINVAL, err, errlen, "the scope is "
		    "%s, not \"%.32s\"", apikey_scope_names(), scope);
	if (sites == NULL)
		sites = "";
	if ((sc->rights & APIKEY_SITE_BOUND) && *sites == '\0')
		return apikey_fail(UPLINK_EINVAL, err, errlen, "scope %s needs "
		    "the sites the key may reach (e.g. hq,branch)", sc->name);
	if (!(sc->rights & APIKEY_SITE_BOUND) && *sites != '\0')
		return apikey_fail(UPLINK_EINVAL, err, errlen, "scope %s is "
		    "not bound to sites: give sites with scope ingress only",
		    sc->name);
	snprintf(k->name, sizeof(k->name), "%s", name);
	snprintf(k->scope, sizeof(k->scope), "%s", sc->name);
	k->sites[0] = '\0';
	for (p = sites; *p != '\0'; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		if (++count > APIKEY_SITES_MAX)
			return apikey_fail(UPLINK_EINVAL, err, errlen, "too "
			    "many sites: a key is bound to at most %d",
			    APIKEY_SITES_MAX);
		snprintf(one, sizeof(one), "%.*s", (int)(n < sizeof(one) ? n :
		    sizeof(one) - 1), p);
		rc = apikey_add_site(st, k, one, err, errlen);
		if (rc != UPLINK_OK)
			return rc;
		if (p[n] == ',' && p[n + 1] == '\0')
			return apikey_fail(UPLINK_EINVAL, err, errlen, "the "
			    "list of sites ends with a comma");
	}
	return UPLINK_OK;
}

int
apikey_ingress_check(const struct store_apikey *k, const char *site,
    char *why, size_t whylen)
{
	const struct apikey_scope	*sc = apikey_scope_find(k->scope);

	if (sc == NULL || !(sc->rights & APIKEY_INGRESS)) {
		apikey_fail(-1, why, whylen, "API key %s has scope %s, which "
		    "does not open the ingress proxy: use a key with scope "
		    "full, or ingress for this site", k->id, k->scope);
		return -1;
	}
	if ((sc->rights & APIKEY_SITE_BOUND) &&
	    !apikey_site_listed(k->sites, site)) {
		apikey_fail(-1, why, whylen, "API key %s (scope %s) is not "
		    "bound to site \"%s\"; it reaches %s", k->id, k->scope,
		    site, k->sites);
		return -1;
	}
	return 0;
}

/* "hq,branch" as ["hq", "branch"]. */
static json_t *
apikey_sites_json(const char *sites)
{
	json_t		*a = json_array();
	const char	*p;
	size_t		 n;

	for (p = sites; a != NULL && *p != '\0'; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		json_array_append_new(a, json_stringn(p, n));
	}
	return a;
}

static json_t *
apikey_time_json(int64_t t)
{
	return t != 0 ? json_integer((json_int_t)t) : json_null();
}

json_t *
apikey_json(const struct store_apikey *k)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:I, s:o, s:o}", "id", k->id,
	    "name", k->name, "scope", k->scope, "sites",
	    apikey_sites_json(k->sites), "created_at", (json_int_t)k->created_at,
	    "last_used", apikey_time_json(k->last_used), "revoked_at",
	    apikey_time_json(k->revoked_at));
}
