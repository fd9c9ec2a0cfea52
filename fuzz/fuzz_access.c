/*
 * libFuzzer target for the access list. The input is a list, then a NUL or
 * newline, then a "host:port" to match. The list is parsed whole and entry
 * by entry; the destination is matched as hostport_parse() splits it and
 * raw, as an arbitrary host string.
 * Besides the sanitizers, the invariants of the API are checked: an error
 * names an entry of the list, *out is untouched on failure, an allowed
 * destination comes with a rule that is one of the list's entries and
 * carries a port, and port 0 is never allowed.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "error.h"
#include "hostport.h"

/* The separators of access.h. */
#define SEPS	";, \t\r\n\v\f"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_error(const char *list, int rc, const struct access_error *err)
{
	if (rc == UPLINK_ENOMEM)
		return;
	if (rc != UPLINK_EINVAL && rc != UPLINK_ETOOBIG)
		abort();
	if (err->index == 0 || err->msg[0] == '\0' || err->entry[0] == '\0' ||
	    strstr(list, err->entry) == NULL)
		abort();
}

static void
check_allows(const struct access *a, const char *list, const char *host,
    uint16_t port)
{
	const char	*rule = NULL;
	size_t		 n;

	if (!access_allows(a, host, port, &rule)) {
		if (rule != NULL)
			abort();
		return;
	}
	if (port == 0 || rule == NULL || rule[0] == '\0' ||
	    strchr(rule, ':') == NULL)
		abort();
	/* The rule is a whole entry of the list. */
	n = strlen(rule);
	if (strcspn(rule, SEPS) != n || strstr(list, rule) == NULL)
		abort();
}

/*
 * Resolve-then-check on the destination as an address literal: an address
 * an address entry allows is never refused, and a refusal always says why.
 */
static void
check_addr(const struct access *a, const char *host, uint16_t port)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (void *)&ss;
	struct sockaddr_in6	*s6 = (void *)&ss;
	char			 why[512];

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
	} else
		return;
	why[0] = '\0';
	if (access_allows_addr(a, (struct sockaddr *)&ss, why, sizeof(why))) {
		if (why[0] != '\0')
			abort();
		return;
	}
	if (why[0] == '\0' || (port != 0 && access_allows(a, host, port, NULL)))
		abort();
}

static void
run(const char *list, const char *dest)
{
	struct access		*a = NULL;
	struct access_error	 err;
	struct hostport		 hp;
	char			 why[256];
	int			 rc;

	rc = access_parse(list, &a, &err);
	if (rc != UPLINK_OK) {
		if (a != NULL)
			abort();
		check_error(list, rc, &err);
		return;
	}
	if (hostport_parse(dest, 443, &hp, why, sizeof(why)) == UPLINK_OK) {
		check_allows(a, list, hp.host, hp.port);
		check_addr(a, hp.host, hp.port);
	}
	check_allows(a, list, dest, 80);
	check_allows(a, list, dest, 0);
	access_free(a);
}

/* Each entry alone, so one input with many bad entries reaches them all. */
static void
run_each(const char *list)
{
	struct access		*a;
	struct access_error	 err;
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
		a = NULL;
		rc = access_parse(one, &a, &err);
		if (rc == UPLINK_OK && access_count(a) != 1)
			abort();
		if (rc != UPLINK_OK)
			check_error(one, rc, &err);
		access_free(a);
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
	memcpy(dest, data + nl, size - nl);
	dest[size - nl] = '\0';
	run(list, dest);
	run_each(list);
out:
	free(list);
	free(dest);
	return 0;
}
