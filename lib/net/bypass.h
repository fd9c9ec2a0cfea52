#ifndef UPLINK_BYPASS_H
#define UPLINK_BYPASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The proxy bypass list: destinations that are reached directly even when a
 * proxy is configured. Entries are separated by ';', ',' or white space.
 * Matching is case-insensitive, ignores one trailing dot on the host and on
 * the entry, and never resolves names.
 *
 *   host.example.com   exactly that host
 *   *.example.com      any name below example.com, not example.com itself
 *   .example.com       example.com and every name below it
 *   *                  everything
 *   <local>            any host name that contains no dot (not addresses)
 *   192.0.2.1, ::1     that address exactly ([::1] also accepted)
 *   10.0.0.0/8, fd00::/8   addresses inside the block
 *   10.*, 192.168.*    IPv4 addresses whose leading octets match
 *
 * Any entry may end in ":PORT" ("[v6]:PORT" for IPv6, "[fd00::/8]:PORT"
 * for an IPv6 block) to match only that port. A host name never matches an
 * address entry and an address never matches a name entry. An IPv4-mapped
 * IPv6 address (::ffff:10.1.2.3) is treated as the IPv4 address it carries.
 * Anything else is an error that names the entry and its byte offset; see
 * docs/internals/bypass.md for the full list.
 */

struct bypass;

/* Parse flags. */
#define BYPASS_NOPROXY_ENV	0x01	/* curl's NO_PROXY semantics: a plain
					   name also matches its subdomains */

struct bypass_error {
	size_t	 offset;	/* byte offset of the bad entry in the input */
	size_t	 index;		/* 1-based position of the entry in the list */
	char	 entry[128];	/* the entry as written (truncated) */
	char	 msg[256];	/* what is wrong and how to write it */
};

/*
 * Parses a bypass list. An empty or all-separator list yields an empty list
 * (which matches nothing). On UPLINK_EINVAL err is filled; *out is set only on
 * success. Returns UPLINK_OK, UPLINK_EINVAL, UPLINK_ETOOBIG (more than
 * BYPASS_MAX_ENTRIES entries) or UPLINK_ENOMEM.
 */
#define BYPASS_MAX_ENTRIES	4096
int bypass_parse(const char *list, int flags, struct bypass **out,
    struct bypass_error *err);

/*
 * Matches a destination against the list. host is a name or an address
 * literal (IPv6 with or without brackets); port is the destination port.
 * Returns the 0-based index of the first matching entry, or -1. When rule is
 * not NULL it receives the matching entry as written in the list (valid until
 * bypass_free()). A NULL bp or host, or a host that is neither a valid name
 * nor an address literal (junk, a zone index), matches nothing, not even "*".
 */
int bypass_match(const struct bypass *bp, const char *host, uint16_t port,
    const char **rule);

/* Whether c separates entries (';', ',' or white space). */
bool bypass_is_sep(char c);

/* Number of entries. */
size_t bypass_count(const struct bypass *bp);

/* Frees a list; NULL is a no-op. */
void bypass_free(struct bypass *bp);

#endif
