#ifndef UPLINK_HEADSCAN_H
#define UPLINK_HEADSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Where the request heads of an HTTP/1 connection start and end, from the
 * bytes the client sends, for a relay that gives each head a deadline
 * (evhttp 2.1 only has idle timeouts). No I/O, nothing allocated: feed it
 * the bytes in order, as they come, in pieces of any size.
 *
 * Lines end at LF (a CR before it is allowed, as evhttp allows); blank
 * lines before a request line are skipped; an empty line ends a head.
 * Content-Length says how many body bytes come before the next head. A
 * head with Transfer-Encoding (a chunked body), or with a Content-Length
 * that is not one plain decimal number, ends the watch: the scanner is
 * then HEADSCAN_OFF for good (evhttp refuses the latter, and frames a
 * chunked body itself).
 */

enum headscan_state {
	HEADSCAN_HEAD,		/* in a head (or before the first byte of one) */
	HEADSCAN_BODY,		/* skipping a body */
	HEADSCAN_IDLE,		/* between requests */
	HEADSCAN_OFF,		/* no longer watching */
};

struct headscan {
	enum headscan_state	 state;
	uint64_t		 body_left, clen;
	bool			 chunked, bad, have_clen;
	unsigned		 nlines;	/* lines of this head so far */
	size_t			 linelen;	/* bytes of the current line */
	char			 line[64];	/* its start */
};

/* A scanner at the start of a connection: in a head, nothing seen. */
void headscan_init(struct headscan *s);

/*
 * Feeds the next n bytes from the client. Returns how many heads ended in
 * them; afterwards s->state says where the scanner is (HEADSCAN_HEAD after
 * the first byte of a new head, or still waiting for one at the start).
 */
unsigned headscan_feed(struct headscan *s, const unsigned char *p, size_t n);

#endif
