/*
 * The connectors' history: what the router's minute write adds for it,
 * and the pass that keeps its storage bounded (lib/store/store_history.c
 * has the rows and the SQL).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "daemon.h"
#include "history.h"
#include "log.h"

#define HISTORY_PRUNE_SECS	600	/* a merge and delete pass this often */

void
history_sample(const struct tunnel *t, struct store_seen *s)
{
	struct tunnel_stats	 st;

	tunnel_stats(t, &st);
	s->streams += st.streams;
	if (st.rtt_ms < 0)
		return;
	s->rtt_sum_ms += (uint64_t)st.rtt_ms;
	s->rtt_n++;
	if ((uint64_t)st.rtt_ms > s->rtt_max_ms)
		s->rtt_max_ms = (uint64_t)st.rtt_ms;
}

void
history_tick(struct cloud *c)
{
	static int64_t	 last;
	const char	*knob = getenv("UPLINK_TEST_SEEN_SECS");
	int64_t		 now = time(NULL), merged, deleted;
	char		 err[256];

	if (last != 0 && now - last < HISTORY_PRUNE_SECS &&
	    (knob == NULL || *knob == '\0'))
		return;
	last = now;
	if (store_history_prune(c->dd.st, now, &merged, &deleted, err,
	    sizeof(err)) != 0) {
		log_warnx("cannot merge and delete old history rows (tried "
		    "again in %d s): %s", HISTORY_PRUNE_SECS, err);
		return;
	}
	if (merged > 0 || deleted > 0)
		log_debug("history: %lld one-minute rows merged into "
		    "ten-minute ones, %lld expired rows deleted",
		    (long long)merged, (long long)deleted);
}
