#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "daemon.h"
#include "log.h"
#include "pwverify.h"
#include "xmalloc.h"

/*
 * Password checks off the event loop. argon2id is meant to be slow (about
 * 0.1 s and 64 MiB here); done on the loop, every sign-in would stall
 * every tunnel for that long, and a stream of bad sign-ins from many
 * addresses would stall them all the time. One worker thread takes the
 * checks in order (so they never need more than one hash's memory) and
 * hands each result back through a pipe, which the loop watches; the
 * queue is capped, and past it a sign-in is refused as busy.
 *
 * Sign-ins from an address the account signed in from lately ("known",
 * cloud/rest_session.c) have a queue of their own that the worker serves
 * first, and PWV_RESERVED places that strangers cannot take: a flood of
 * guesses from many addresses makes strangers wait or answers them busy,
 * never the administrator at their usual address.
 */

#define PWV_QUEUE_MAX	32
#define PWV_RESERVED	8

struct pwjob {
	struct pwjob	*next;
	char		 hash[crypto_pwhash_STRBYTES];
	char		 pw[1100];
	bool		 dummy;		/* no such account: same cost, false */
	bool		 ok;
	pwverify_cb	*cb;
	void		*arg;
};

struct pwverify {
	struct cloud	*c;
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct pwjob	*head[2], *tail[2];	/* [1]: known addresses */
	unsigned	 queued;	/* waiting or being hashed */
	bool		 stop, started;
	int		 fds[2];	/* results: job pointers */
	struct event	*ev;
	char		 dummy[crypto_pwhash_STRBYTES];
};

static void
job_run(struct pwverify *pv, struct pwjob *j)
{
	const char	*hash = j->dummy ? pv->dummy : j->hash;

	j->ok = crypto_pwhash_str_verify(hash, j->pw, strlen(j->pw)) == 0 &&
	    !j->dummy;
	sodium_memzero(j->pw, sizeof(j->pw));
}

static void *
worker(void *arg)
{
	struct pwverify	*pv = arg;
	struct pwjob	*j;
	ssize_t		 n;
	int		 q;

	for (;;) {
		pthread_mutex_lock(&pv->mu);
		while (pv->head[0] == NULL && pv->head[1] == NULL && !pv->stop)
			pthread_cond_wait(&pv->cv, &pv->mu);
		if (pv->stop) {
			pthread_mutex_unlock(&pv->mu);
			return NULL;
		}
		q = pv->head[1] != NULL ? 1 : 0;
		j = pv->head[q];
		pv->head[q] = j->next;
		if (pv->head[q] == NULL)
			pv->tail[q] = NULL;
		pthread_mutex_unlock(&pv->mu);
		job_run(pv, j);
		do
			n = write(pv->fds[1], &j, sizeof(j));
		while (n < 0 && errno == EINTR);
		if (n != sizeof(j))
			log_warnx("password check: cannot hand a result back: %s",
			    strerror(errno));
	}
}

static void
job_done(struct pwverify *pv, struct pwjob *j)
{
	pthread_mutex_lock(&pv->mu);
	pv->queued--;
	pthread_mutex_unlock(&pv->mu);
	j->cb(j->arg, j->ok);
	sodium_memzero(j, sizeof(*j));
	free(j);
}

static void
result_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pwverify	*pv = arg;
	struct pwjob	*j;

	(void)what;
	while (read(fd, &j, sizeof(j)) == sizeof(j))
		job_done(pv, j);
}

int
pwverify(struct cloud *c, const char *hash, const char *pw, bool known,
    pwverify_cb *cb, void *arg)
{
	struct pwverify	*pv = c->pwverify;
	struct pwjob	*j;
	int		 q = known ? 1 : 0;

	pthread_mutex_lock(&pv->mu);
	if (pv->queued >= (known ? PWV_QUEUE_MAX : PWV_QUEUE_MAX -
	    PWV_RESERVED)) {
		pthread_mutex_unlock(&pv->mu);
		return -1;
	}
	pv->queued++;
	pthread_mutex_unlock(&pv->mu);
	j = xcalloc(1, sizeof(*j));
	j->dummy = hash == NULL;
	if (hash != NULL)
		snprintf(j->hash, sizeof(j->hash), "%s", hash);
	snprintf(j->pw, sizeof(j->pw), "%s", pw);
	j->cb = cb;
	j->arg = arg;
	pthread_mutex_lock(&pv->mu);
	if (pv->tail[q] != NULL)
		pv->tail[q]->next = j;
	else
		pv->head[q] = j;
	pv->tail[q] = j;
	pthread_cond_signal(&pv->cv);
	pthread_mutex_unlock(&pv->mu);
	return 0;
}

int
pwverify_start(struct cloud *c, char *err, size_t errlen)
{
	struct pwverify	*pv;

	pv = xcalloc(1, sizeof(*pv));
	pv->c = c;
	pv->fds[0] = pv->fds[1] = -1;
	c->pwverify = pv;
	pthread_mutex_init(&pv->mu, NULL);
	pthread_cond_init(&pv->cv, NULL);
	/* The hash an unknown account is checked against, made once. */
	if (crypto_pwhash_str(pv->dummy, "uplink", 6,
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0 ||
	    pipe2(pv->fds, O_NONBLOCK | O_CLOEXEC) != 0) {
		snprintf(err, errlen, "cannot set up password checks: %s",
		    strerror(errno ? errno : ENOMEM));
		return -1;
	}
	pv->ev = event_new(c->base, pv->fds[0], EV_READ | EV_PERSIST,
	    result_cb, pv);
	event_add(pv->ev, NULL);
	if (pthread_create(&pv->thread, NULL, worker, pv) != 0) {
		snprintf(err, errlen, "cannot start the password thread");
		return -1;
	}
	pv->started = true;
	return 0;
}

/* Checks still queued answer "wrong" (the daemon is stopping). */
void
pwverify_free(struct cloud *c)
{
	struct pwverify	*pv = c->pwverify;
	struct pwjob	*j;
	int		 q;

	if (pv == NULL)
		return;
	pthread_mutex_lock(&pv->mu);
	pv->stop = true;
	pthread_cond_signal(&pv->cv);
	pthread_mutex_unlock(&pv->mu);
	if (pv->started)
		pthread_join(pv->thread, NULL);
	if (pv->fds[0] >= 0)
		result_cb(pv->fds[0], EV_READ, pv);
	for (q = 0; q < 2; q++)
		while ((j = pv->head[q]) != NULL) {
			pv->head[q] = j->next;
			j->ok = false;
			job_done(pv, j);
		}
	if (pv->ev != NULL)
		event_free(pv->ev);
	if (pv->fds[0] >= 0) {
		close(pv->fds[0]);
		close(pv->fds[1]);
	}
	pthread_mutex_destroy(&pv->mu);
	pthread_cond_destroy(&pv->cv);
	free(pv);
	c->pwverify = NULL;
}
