/*
 * headscan: the request heads of an HTTP/1 connection, for deadlines (see
 * headscan.h). Only the start of each line is kept, enough for the two
 * headers that matter; a Content-Length line longer than that is "bad".
 */
#include <string.h>
#include <strings.h>

#include "headscan.h"

void
headscan_init(struct headscan *s)
{
	memset(s, 0, sizeof(*s));
	s->state = HEADSCAN_HEAD;
}

/* A header line of a head: Content-Length and Transfer-Encoding matter. */
static void
headscan_header(struct headscan *s)
{
	size_t		 n = s->linelen, i;
	uint64_t	 v = 0;
	unsigned	 d;
	bool		 digits = false;

	if (n >= sizeof(s->line))
		n = sizeof(s->line) - 1;
	s->line[n] = '\0';
	if (n > 0 && s->line[n - 1] == '\r')
		s->line[--n] = '\0';
	if (strncasecmp(s->line, "transfer-encoding:", 18) == 0) {
		s->chunked = true;
		return;
	}
	if (strncasecmp(s->line, "content-length:", 15) != 0)
		return;
	if (s->linelen >= sizeof(s->line) || s->have_clen)
		s->bad = true;
	s->have_clen = true;
	i = 15;
	while (s->line[i] == ' ' || s->line[i] == '\t')
		i++;
	for (; s->line[i] >= '0' && s->line[i] <= '9'; i++) {
		d = (unsigned)(s->line[i] - '0');
		if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 &&
		    d > UINT64_MAX % 10))
			s->bad = true;
		else
			v = v * 10 + d;
		digits = true;
	}
	while (s->line[i] == ' ' || s->line[i] == '\t')
		i++;
	if (!digits || s->line[i] != '\0')
		s->bad = true;
	s->clen = v;
}

/* The end of a line of a head; true when it was the empty line ending it. */
static bool
headscan_line_end(struct headscan *s)
{
	bool	 empty = s->linelen == 0 || (s->linelen == 1 &&
	    s->line[0] == '\r');

	if (empty && s->nlines == 0) {
		s->linelen = 0;		/* a blank line before a request */
		return false;
	}
	if (empty) {
		if (s->chunked || s->bad)
			s->state = HEADSCAN_OFF;
		else if (s->clen > 0) {
			s->body_left = s->clen;
			s->state = HEADSCAN_BODY;
		} else
			s->state = HEADSCAN_IDLE;
		return true;
	}
	if (++s->nlines > 1)
		headscan_header(s);
	s->linelen = 0;
	return false;
}

unsigned
headscan_feed(struct headscan *s, const unsigned char *p, size_t n)
{
	unsigned	 done = 0;
	size_t		 i = 0, k;

	while (i < n && s->state != HEADSCAN_OFF) {
		switch (s->state) {
		case HEADSCAN_BODY:
			k = n - i < s->body_left ? n - i : (size_t)s->body_left;
			i += k;
			s->body_left -= k;
			if (s->body_left == 0)
				s->state = HEADSCAN_IDLE;
			break;
		case HEADSCAN_IDLE:
			headscan_init(s);
			break;
		case HEADSCAN_HEAD:
			if (p[i] == '\n') {
				i++;
				if (headscan_line_end(s))
					done++;
				break;
			}
			if (s->linelen < sizeof(s->line))
				s->line[s->linelen] = (char)p[i];
			s->linelen++;
			i++;
			break;
		case HEADSCAN_OFF:
			break;
		}
	}
	return done;
}
