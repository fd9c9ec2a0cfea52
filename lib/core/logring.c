#include <stdlib.h>
#include <string.h>

#include "logring.h"

/*
 * A circular array of lines, each with its own copy of the text. The
 * array holds max_lines slots; head is the oldest. A line's sequence
 * number is first_seq plus its distance from head, so finding the line
 * after a given number is arithmetic, not a search. Text is malloc'd per
 * line: lines are short and the byte cap bounds the total.
 */

struct slot {
	int64_t		 ms;
	int		 level;
	char		*msg;
	size_t		 len;
};

struct logring {
	struct slot	*slots;
	size_t		 cap, max_bytes;
	size_t		 head, n, bytes;
	uint64_t	 first_seq;	/* of slots[head] when n > 0 */
	uint64_t	 next_seq;
	uint64_t	 dropped;
};

struct logring *
logring_new(size_t max_lines, size_t max_bytes)
{
	struct logring	*r;

	if (max_lines == 0 || max_bytes == 0)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->slots = calloc(max_lines, sizeof(*r->slots));
	if (r->slots == NULL) {
		free(r);
		return NULL;
	}
	r->cap = max_lines;
	r->max_bytes = max_bytes;
	r->next_seq = 1;
	r->first_seq = 1;
	return r;
}

void
logring_free(struct logring *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	for (i = 0; i < r->cap; i++)
		free(r->slots[i].msg);
	free(r->slots);
	free(r);
}

/* Drops the oldest line. */
static void
logring_pop(struct logring *r)
{
	struct slot	*s = &r->slots[r->head];

	r->bytes -= s->len;
	free(s->msg);
	s->msg = NULL;
	s->len = 0;
	r->head = (r->head + 1) % r->cap;
	r->n--;
	r->first_seq++;
	r->dropped++;
}

uint64_t
logring_add(struct logring *r, int level, int64_t ms, const char *msg)
{
	struct slot	*s;
	size_t		 len = strnlen(msg, LOGRING_MSG_MAX);
	char		*copy;
	uint64_t	 seq = r->next_seq++;

	if (len > r->max_bytes)
		len = r->max_bytes;
	while (r->n > 0 && (r->n == r->cap || r->bytes + len > r->max_bytes))
		logring_pop(r);
	copy = malloc(len + 1);
	if (copy == NULL) {
		/* The ring is empty or has room; the gap shows the loss. */
		r->dropped++;
		if (r->n == 0)
			r->first_seq = r->next_seq;
		return 0;
	}
	memcpy(copy, msg, len);
	copy[len] = '\0';
	if (r->n == 0)
		r->first_seq = seq;
	s = &r->slots[(r->head + r->n) % r->cap];
	s->ms = ms;
	s->level = level;
	s->msg = copy;
	s->len = len;
	r->n++;
	r->bytes += len;
	return seq;
}

int
logring_next(const struct logring *r, uint64_t after,
    struct logring_line *out, uint64_t *gap)
{
	const struct slot	*s;
	uint64_t		 want = after + 1, oldest;

	/* What is gone: from want up to the oldest line held (or next). */
	oldest = r->n > 0 ? r->first_seq : r->next_seq;
	*gap = want < oldest ? oldest - want : 0;
	if (want < oldest)
		want = oldest;
	if (r->n == 0 || want >= r->first_seq + r->n)
		return 0;
	s = &r->slots[(r->head + (size_t)(want - r->first_seq)) % r->cap];
	out->seq = want;
	out->ms = s->ms;
	out->level = s->level;
	out->msg = s->msg;
	return 1;
}

uint64_t
logring_last(const struct logring *r)
{
	return r->next_seq - 1;
}

uint64_t
logring_dropped(const struct logring *r)
{
	return r->dropped;
}

size_t
logring_count(const struct logring *r)
{
	return r->n;
}

size_t
logring_bytes(const struct logring *r)
{
	return r->bytes;
}
