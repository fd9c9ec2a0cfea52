#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ratelimit.h"

/*
 * The sign-in limiter's table (cloud/rest_session.c). A linear scan: 4,096
 * entries of short keys compare in microseconds, far below the cost of the
 * password hash that every allowed attempt pays.
 */

struct rl_entry {
	char	 key[RL_KEY_MAX];	/* "" when free */
	int	 n;			/* failures since the window began */
	int64_t	 last;			/* the last failure */
	int64_t	 used;			/* last looked up or changed */
	int64_t	 logged;		/* last refusal reported, 0: none */
	int64_t	 refused;		/* refusals since then */
};

struct rl_table {
	size_t		 n;
	struct rl_entry	 overflow;
	struct rl_entry	 e[];
};

struct rl_table *
rl_new(size_t n)
{
	struct rl_table	*t;

	t = calloc(1, sizeof(*t) + n * sizeof(t->e[0]));
	if (t == NULL)
		return NULL;
	t->n = n;
	snprintf(t->overflow.key, sizeof(t->overflow.key), "(overflow)");
	return t;
}

void
rl_free(struct rl_table *t)
{
	free(t);
}

static bool
rl_live(const struct rl_entry *e, int64_t now)
{
	return e->key[0] != '\0' && e->n > 0 && e->last > now - RL_WINDOW;
}

/*
 * The entry of key; with create, a new one in a free or stale slot (the
 * least recently used of them), else the overflow entry. Without create,
 * an unknown key reads the overflow entry only when the table is full:
 * that is where its failures went.
 */
static struct rl_entry *
rl_find(struct rl_table *t, const char *key, bool create, int64_t now)
{
	struct rl_entry	*e, *victim = NULL;
	size_t		 i;

	for (i = 0; i < t->n; i++) {
		e = &t->e[i];
		if (e->key[0] != '\0' && strcasecmp(e->key, key) == 0) {
			e->used = now;
			return e;
		}
		if (rl_live(e, now))
			continue;
		if (victim == NULL || e->key[0] == '\0' ||
		    (victim->key[0] != '\0' && e->used < victim->used))
			victim = e;
	}
	if (victim == NULL)
		return &t->overflow;
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->used = now;
	return victim;
}

int64_t
rl_wait(struct rl_table *t, const char *key, int allowed, int64_t now)
{
	struct rl_entry	*e = rl_find(t, key, false, now);
	int64_t		 delay, until;
	int		 over;

	if (e == NULL || !rl_live(e, now) || e->n < allowed)
		return 0;
	over = e->n - allowed;
	delay = over >= 5 ? RL_DELAY_MAX : (int64_t)2 << over;
	if (delay > RL_DELAY_MAX)
		delay = RL_DELAY_MAX;
	until = e->last + delay;
	return until > now ? until - now : 0;
}

void
rl_fail(struct rl_table *t, const char *key, int64_t now)
{
	struct rl_entry	*e = rl_find(t, key, true, now);

	if (!rl_live(e, now))
		e->n = 0;
	if (e->n < 1000000)
		e->n++;
	e->last = now;
	e->used = now;
}

bool
rl_refused(struct rl_table *t, const char *key, int64_t now,
    int64_t *refused)
{
	struct rl_entry	*e = rl_find(t, key, false, now);

	*refused = 0;
	if (e == NULL)
		return false;
	e->refused++;
	*refused = e->refused;
	if (e->logged != 0 && e->logged > now - RL_WINDOW)
		return false;
	e->logged = now;
	e->refused = 0;
	return true;
}

int
rl_failures(struct rl_table *t, const char *key, int64_t now)
{
	struct rl_entry	*e = rl_find(t, key, false, now);

	return e != NULL && rl_live(e, now) ? e->n : 0;
}

bool
rl_has(struct rl_table *t, const char *key)
{
	size_t	 i;

	for (i = 0; i < t->n; i++)
		if (t->e[i].key[0] != '\0' && strcasecmp(t->e[i].key, key) == 0)
			return true;
	return false;
}

void
rl_merge(struct rl_table *t, const char *key, int n, int64_t last,
    int64_t now)
{
	struct rl_entry	*e;

	if (n <= 0 || last <= now - RL_WINDOW)
		return;
	e = rl_find(t, key, true, now);
	if (!rl_live(e, now))
		e->n = 0;
	if (n > e->n)
		e->n = n;
	if (last > e->last)
		e->last = last;
}
