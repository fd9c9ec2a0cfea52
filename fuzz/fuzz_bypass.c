/*
 * libFuzzer target for the bypass list and hostport parsers. The input is a
 * list, then a NUL or newline, then a "host:port" to match. The list is
 * parsed with and without BYPASS_NOPROXY_ENV, and entry by entry; the
 * destination is matched as hostport_parse() splits it and also raw, as an
 * arbitrary host string.
 * Besides the sanitizers, the invariants of the API are checked: an error
 * names an entry inside the list, a match returns an entry that exists.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bypass.h"
#include "error.h"
#include "hostport.h"

/* The separators of bypass.h. */
#define SEPS	";, \t\r\n\v\f"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_error(const char *list, int rc, const struct bypass_error *err)
{
	size_t	 len = strlen(list);

	if (rc == UPLINK_ENOMEM)
		return;
	if (rc != UPLINK_EINVAL && rc != UPLINK_ETOOBIG)
		abort();
	if (err->index == 0 || err->offset >= len || err->msg[0] == '\0' ||
	    err->entry[0] == '\0' ||
	    strncmp(err->entry, list + err->offset, strlen(err->entry)) != 0)
		abort();
}

static void
check_match(const struct bypass *bp, const char *host, uint16_t port)
{
	const char	*rule = NULL;
	int		 i;

	i = bypass_match(bp, host, port, &rule);
	if (i < -1 || (i >= 0 && ((size_t)i >= bypass_count(bp) ||
	    rule == NULL || rule[0] == '\0')))
		abort();
}

static void
run(const char *list, int flags, const char *dest)
{
	struct bypass		*bp = NULL;
	struct bypass_error	 err;
	struct hostport		 hp;
	char			 why[256];
	bool			 dest_ok;
	int			 rc;

	why[0] = '\0';
	dest_ok = hostport_parse(dest, 443, &hp, why, sizeof(why)) == UPLINK_OK;
	if (!dest_ok && why[0] == '\0')
		abort();
	rc = bypass_parse(list, flags, &bp, &err);
	if (rc != UPLINK_OK) {
		check_error(list, rc, &err);
		return;
	}
	if (dest_ok)
		check_match(bp, hp.host, hp.port);
	check_match(bp, dest, 80);
	bypass_free(bp);
}

/*
 * Parsing stops at the first bad entry, so each entry is also parsed on its
 * own: one input with many bad entries then reaches every error path.
 */
static void
run_each(const char *list)
{
	struct bypass		*bp;
	struct bypass_error	 err;
	char			 one[512];
	size_t			 n;
	int			 rc;

	while (*list != '\0') {
		list += strspn(list, SEPS);
		n = strcspn(list, SEPS);
		if (n == 0 || n >= sizeof(one)) {
			list += n;
			continue;
		}
		memcpy(one, list, n);
		one[n] = '\0';
		list += n;
		bp = NULL;
		rc = bypass_parse(one, 0, &bp, &err);
		if (rc == UPLINK_OK && bypass_count(bp) != 1)
			abort();
		if (rc != UPLINK_OK)
			check_error(one, rc, &err);
		bypass_free(bp);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*cut;
	char		*list, *dest;
	size_t		 llen, nl;

	llen = size;
	cut = memchr(data, '\0', size);
	if (cut != NULL)
		llen = (size_t)(cut - data);
	cut = memchr(data, '\n', llen);
	if (cut != NULL)
		llen = (size_t)(cut - data);
	nl = llen < size ? llen + 1 : size;
	list = malloc(llen + 1);
	dest = malloc(size - nl + 1);
	if (list == NULL || dest == NULL)
		goto out;
	memcpy(list, data, llen);
	list[llen] = '\0';
	/* A NUL inside the destination simply ends it early. */
	memcpy(dest, data + nl, size - nl);
	dest[size - nl] = '\0';
	run(list, 0, dest);
	run(list, BYPASS_NOPROXY_ENV, dest);
	run_each(list);
out:
	free(list);
	free(dest);
	return 0;
}
