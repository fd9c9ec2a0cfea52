#ifndef UPLINK_ACCESS_H
#define UPLINK_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The connector's access list: the only destinations the cloud may open
 * streams to. The default (an empty list) allows nothing, so a compromised
 * cloud cannot roam the private network. Entries are separated by ',', ';'
 * or white space, and every entry names its port:
 *
 *   intranet.corp.example:80    that host name, that port
 *   *.corp.example:443          any name below corp.example (not itself)
 *   192.0.2.10:22, [fd00::5]:22 that address
 *   10.0.0.0/8:*, [fd00::/8]:*  any address inside the block, any port
 *
 * ":*" means any port. A host name never matches an address entry and an
 * address never matches a name entry: names are not resolved, so allowing
 * 10.0.0.0/8 does not allow a name that happens to resolve into it. The
 * other way round, a name allowed by a name entry is dialled only at the
 * addresses access_allows_addr() accepts (resolve-then-check).
 * Matching is case-insensitive and ignores one trailing dot.
 */

#define ACCESS_MAX_ENTRIES	4096

struct access;

struct access_error {
	size_t	 index;		/* 1-based position of the bad entry */
	char	 entry[128];	/* the entry as written (truncated) */
	char	 msg[256];	/* what is wrong and how to write it */
};

/*
 * Parses a list. An empty list is valid and allows nothing. Returns
 * UPLINK_OK, UPLINK_EINVAL (err filled), UPLINK_ETOOBIG or UPLINK_ENOMEM;
 * *out is set only on success.
 */
int access_parse(const char *list, struct access **out,
    struct access_error *err);

/*
 * True when host (a name or an address literal, IPv6 with or without
 * brackets) on port is allowed. rule, when not NULL, receives the entry
 * that allowed it as written (valid until access_free()). A NULL list
 * allows nothing.
 */
bool access_allows(const struct access *a, const char *host, uint16_t port,
    const char **rule);

struct sockaddr;

/*
 * Resolve-then-check: whether an address that an allowed NAME resolved to
 * may be dialled (the port is the sockaddr's). An address is refused when
 * no address entry allows it and either
 *   - it lies inside an address entry (an address or a block) whose port
 *     is another: the administrator has said which ports of it may be
 *     reached, and a name does not add one; or
 *   - it is an unspecified (0.0.0.0/8, ::), link-local (169.254.0.0/16,
 *     fe80::/10), multicast or broadcast address, which no name of a
 *     service should lead to.
 * Every other address is allowed: the name entry allowed it. why gets the
 * reason when refused. A NULL list refuses everything.
 */
bool access_allows_addr(const struct access *a, const struct sockaddr *sa,
    char *why, size_t whylen);

/* Number of entries. */
size_t access_count(const struct access *a);

/* Frees a list; NULL is a no-op. */
void access_free(struct access *a);

#endif
