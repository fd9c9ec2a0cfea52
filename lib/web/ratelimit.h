#ifndef UPLINK_RATELIMIT_H
#define UPLINK_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Failed attempts per key ("a:EMAIL", "i:ADDRESS") in a fixed table, and
 * the delay they earn: after `allowed` failures within RL_WINDOW, each more
 * attempt waits for 2, 4, 8 ... seconds after the last failure, at most
 * RL_DELAY_MAX (whole seconds: starting at 2 keeps the first delay from
 * vanishing when a second boundary falls between two attempts). Nothing is ever locked for longer than that. A key's
 * failures are forgotten after RL_WINDOW without one.
 *
 * The table never grows. A key whose failures are inside the window is
 * never evicted (a flood of new keys cannot wash an attacker's record
 * out); other entries go least recently used first, and when every entry
 * holds live failures new keys share one overflow entry, so a flood from
 * many addresses slows itself down as one. Pure: the caller passes the
 * time.
 */

#define RL_WINDOW	(15 * 60)
#define RL_DELAY_MAX	60
#define RL_KEY_MAX	272

struct rl_table;

/* A table of n entries (plus the overflow entry); NULL without memory. */
struct rl_table *rl_new(size_t n);
void rl_free(struct rl_table *t);

/*
 * Seconds key must still wait at now before trying again (0: it may try
 * now), given that `allowed` failures are allowed without delay.
 */
int64_t rl_wait(struct rl_table *t, const char *key, int allowed, int64_t now);

/* Records a failure of key at now. */
void rl_fail(struct rl_table *t, const char *key, int64_t now);

/*
 * A refusal of key at now: true when it is the first since the window
 * began for this entry (the caller writes one audit row per key per
 * window, not one per refused attempt); *refused gets how many refusals
 * the entry had since the last true, this one included.
 */
bool rl_refused(struct rl_table *t, const char *key, int64_t now,
    int64_t *refused);

/*
 * Takes in what another instance counted for key (n failures, the last
 * at last, from the shared database): the entry keeps the larger count
 * and the later time. Nothing when n is 0 or last is outside the window.
 */
void rl_merge(struct rl_table *t, const char *key, int n, int64_t last,
    int64_t now);

/* How many failures key has inside the window (tests, status). */
int rl_failures(struct rl_table *t, const char *key, int64_t now);

/* Whether key has an entry of its own (not the overflow one). */
bool rl_has(struct rl_table *t, const char *key);

#endif
