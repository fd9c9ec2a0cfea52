#include <stdio.h>
#include <time.h>

#include "datadir.h"
#include "error.h"
#include "pki.h"
#include "store.h"
#include "token.h"
#include "tokens.h"

/*
 * Enrollment tokens as the cloud issues them: "uplink-cloud token create"
 * (cloud/cmd_token.c) and POST /api/v1/tokens (cloud/rest_sites.c) both
 * call token_issue(), so the REST layer does not reach into a CLI command.
 */

int
token_issue(struct datadir *dd, const char *conf, const char *site_name,
    int64_t ttl, struct token_made *m, char *err, size_t errlen)
{
	unsigned char	 pin[PKI_PIN_LEN], hash[TOKEN_HASH_LEN];
	struct token	 t;
	int64_t		 site;
	int		 rc;

	rc = datadir_tls_pin(dd, conf, pin, m->source, sizeof(m->source), err,
	    errlen);
	if (rc == UPLINK_OK)
		rc = store_site_ensure(dd->st, site_name, &site, err, errlen);
	if (rc == UPLINK_OK)
		rc = token_new(dd->url, pin, &t, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	rc = token_encode(&t, m->text, sizeof(m->text));
	token_id(t.secret, m->id);
	token_secret_hash(t.secret, hash);
	token_clear(&t);
	m->expires_at = time(NULL) + ttl;
	if (rc != UPLINK_OK) {
		snprintf(err, errlen, "cannot encode the token for %s: %s",
		    dd->url, uplink_strerror(rc));
		return rc;
	}
	return store_token_add(dd->st, site, m->id, hash, m->expires_at, err,
	    errlen);
}

const char *
token_state(const struct store_token *t, int64_t now)
{
	if (t->used_at != 0)
		return "used";
	if (t->revoked_at != 0)
		return "revoked";
	if (now >= t->expires_at)
		return "expired";
	return "valid";
}
