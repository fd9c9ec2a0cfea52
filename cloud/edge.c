#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cluster.h"
#include "daemon.h"
#include "dial.h"
#include "edge.h"
#include "ingress.h"
#include "log.h"
#include "peer.h"
#include "publish.h"

/*
 * Once ready, an instance stays ready until it stops: a peer that dies
 * must not take the others' readiness with it (its lease still says up
 * for a while, its link is down), or the balancer would drop them all.
 */
static bool	 edge_was_ready;

bool
edge_ready(struct cloud *c, char *why, size_t whylen)
{
	const struct cluster_instance	*v;
	size_t				 i, n;

	if (c->stopping) {
		snprintf(why, whylen, "stopping");
		return false;
	}
	if (!cluster_enabled(c) || edge_was_ready)
		return true;
	n = cluster_instances(c, &v);
	if (n == 0) {
		snprintf(why, whylen, "the fleet has not been read from the "
		    "store yet");
		return false;
	}
	for (i = 0; i < n; i++) {
		if (v[i].self || v[i].state != CLUSTER_UP ||
		    peer_usable(c, v[i].id))
			continue;
		snprintf(why, whylen, "no peer link to instance %s yet",
		    v[i].id);
		return false;
	}
	edge_was_ready = true;
	return true;
}

/* The wait for readiness at start (one cloud per process). */
static struct event	*edge_timer;
static long		 edge_t0;

static void
edge_open(struct cloud *c, const char *why)
{
	publish_accepting(c->publish, true);
	ingress_accepting(c->ingress, true);
	event_free(edge_timer);
	edge_timer = NULL;
	log_info("ready after %ld ms: published ports and the ingress proxy "
	    "accepting%s%s", dial_now_ms() - edge_t0, why[0] ? " anyway: " :
	    "", why);
}

static void
edge_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cloud	*c = arg;
	char		 why[256] = "";

	(void)fd;
	(void)what;
	if (c->stopping)
		return;
	if (edge_ready(c, why, sizeof(why)))
		edge_open(c, "");
	else if (dial_now_ms() - edge_t0 >= EDGE_WAIT_MAX_MS) {
		edge_was_ready = true;
		edge_open(c, why);
	}
}

void
edge_start(struct cloud *c)
{
	struct timeval	 tv = { 0, 100 * 1000 };

	if (!cluster_enabled(c))
		return;
	publish_accepting(c->publish, false);
	ingress_accepting(c->ingress, false);
	edge_t0 = dial_now_ms();
	edge_timer = event_new(c->base, -1, EV_PERSIST, edge_timer_cb, c);
	if (edge_timer == NULL)
		fatalx("out of memory");
	event_add(edge_timer, &tv);
}

void
edge_free(struct cloud *c)
{
	(void)c;
	if (edge_timer != NULL)
		event_free(edge_timer);
	edge_timer = NULL;
}
