#ifndef UPLINK_CLOUD_TOKENS_H
#define UPLINK_CLOUD_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "datadir.h"
#include "token.h"

/*
 * cloud/tokens.c: issuing enrollment tokens, for the CLI and the API alike.
 */

/* An enrollment token made by token_issue(): its text goes to one person. */
struct token_made {
	char	 text[TOKEN_TEXT_SIZE];
	char	 id[TOKEN_ID_SIZE];
	int64_t	 expires_at;
	char	 source[DATADIR_PATH_MAX + 16];	/* the file whose key it pins */
};

/*
 * Makes an enrollment token for site_name (made if new) valid for ttl
 * seconds and records its hash (for "uplink-cloud token create" and
 * POST /api/v1/tokens). conf is the cloud.conf in use, for the TLS key the token pins.
 */
int token_issue(struct datadir *dd, const char *conf, const char *site_name,
    int64_t ttl, struct token_made *m, char *err, size_t errlen);
struct store_token;
/* "valid", "used", "expired" or "revoked". */
const char *token_state(const struct store_token *t, int64_t now);

#endif
