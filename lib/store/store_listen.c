/*
 * LISTEN on a second PostgreSQL connection for hints that the shared state
 * changed (docs/cluster.md). Every write statement on a table whose
 * changes the instances react to moves the data version (store_pg.c's
 * uplink_bump()), and since schema version 9 that function also sends
 * NOTIFY STORE_LISTEN_CHANNEL: delivered at commit, so a hint means the
 * change is visible. A hint says only "look now"; the instances keep
 * polling, so a hint lost (the connection down) costs only latency.
 *
 * Nothing here blocks: connecting is PQconnectStart + PQconnectPoll, the
 * LISTEN is sent with PQsendQuery, and input is read with PQconsumeInput
 * when the caller's event loop says the socket is readable. The caller
 * (cloud/cluster.c) owns the timing: when to call store_listen_step(),
 * the backoff between attempts and the deadline of a connection attempt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "error.h"
#include "store.h"
#include "store_impl.h"

enum store_listen_state {
	SL_CLOSED,
	SL_CONNECTING,
	SL_SUBSCRIBING,		/* LISTEN sent, its result not read yet */
	SL_READY,
};

struct store_listen {
	struct store		*st;
	PGconn			*conn;
	enum store_listen_state	 state;
	PostgresPollingStatusType poll;
};

struct store_listen *
store_listen_new(struct store *st)
{
	struct store_listen	*l;

	if (!store_is_pg(st))
		return NULL;
	l = calloc(1, sizeof(*l));
	if (l != NULL)
		l->st = st;
	return l;
}

void
store_listen_close(struct store_listen *l)
{
	if (l == NULL)
		return;
	PQfinish(l->conn);
	l->conn = NULL;
	l->state = SL_CLOSED;
}

void
store_listen_free(struct store_listen *l)
{
	store_listen_close(l);
	free(l);
}

/* Closes the connection and says why: libpq's message, one line. */
static enum store_listen_event
store_listen_fail(struct store_listen *l, const char *what, char *err,
    size_t errlen)
{
	const char	*msg = l->conn != NULL ? PQerrorMessage(l->conn) : "";
	size_t		 n;

	store_msg(UPLINK_EUNAVAIL, err, errlen, "%s: %s", what,
	    msg[0] != '\0' ? msg : "out of memory");
	n = err != NULL ? strlen(err) : 0;
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
	store_listen_close(l);
	return STORE_LISTEN_DOWN;
}

int
store_listen_start(struct store_listen *l, char *err, size_t errlen)
{
	store_listen_close(l);
	l->conn = db_pg_connect_start(l->st->db);
	if (l->conn == NULL || PQstatus(l->conn) == CONNECTION_BAD) {
		store_listen_fail(l, "connecting to listen for changes", err,
		    errlen);
		return UPLINK_EUNAVAIL;
	}
	l->state = SL_CONNECTING;
	l->poll = PGRES_POLLING_WRITING;
	return UPLINK_OK;
}

int
store_listen_fd(const struct store_listen *l)
{
	return l != NULL && l->conn != NULL ? PQsocket(l->conn) : -1;
}

bool
store_listen_wants_write(const struct store_listen *l)
{
	return l != NULL && l->state == SL_CONNECTING &&
	    l->poll == PGRES_POLLING_WRITING;
}

/* Reads what LISTEN answered; READY once its result is in. */
static enum store_listen_event
store_listen_subscribed(struct store_listen *l, char *err, size_t errlen)
{
	PGresult	*res;
	bool		 ok = true;

	while (!PQisBusy(l->conn)) {
		res = PQgetResult(l->conn);
		if (res == NULL) {
			l->state = SL_READY;
			return STORE_LISTEN_UP;
		}
		ok = ok && PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
		if (!ok)
			return store_listen_fail(l, "LISTEN "
			    STORE_LISTEN_CHANNEL, err, errlen);
	}
	return STORE_LISTEN_WAIT;
}

enum store_listen_event
store_listen_step(struct store_listen *l, unsigned *hints, char *err,
    size_t errlen)
{
	PGnotify	*n;

	*hints = 0;
	switch (l->state) {
	case SL_CLOSED:
		return STORE_LISTEN_DOWN;
	case SL_CONNECTING:
		l->poll = PQconnectPoll(l->conn);
		if (l->poll == PGRES_POLLING_FAILED)
			return store_listen_fail(l, "connecting to listen for "
			    "changes", err, errlen);
		if (l->poll != PGRES_POLLING_OK)
			return STORE_LISTEN_WAIT;
		if (PQsetnonblocking(l->conn, 1) != 0 ||
		    PQsendQuery(l->conn, "LISTEN " STORE_LISTEN_CHANNEL) != 1)
			return store_listen_fail(l, "LISTEN "
			    STORE_LISTEN_CHANNEL, err, errlen);
		l->state = SL_SUBSCRIBING;
		PQflush(l->conn);
		return STORE_LISTEN_WAIT;
	case SL_SUBSCRIBING:
		if (PQconsumeInput(l->conn) != 1)
			return store_listen_fail(l, "listening for changes",
			    err, errlen);
		return store_listen_subscribed(l, err, errlen);
	case SL_READY:
		break;
	}
	if (PQconsumeInput(l->conn) != 1)
		return store_listen_fail(l, "listening for changes", err,
		    errlen);
	while ((n = PQnotifies(l->conn)) != NULL) {
		(*hints)++;
		PQfreemem(n);
	}
	/* A server that ends the session says so with an error result. */
	if (PQstatus(l->conn) == CONNECTION_BAD)
		return store_listen_fail(l, "listening for changes", err,
		    errlen);
	return *hints > 0 ? STORE_LISTEN_HINT : STORE_LISTEN_WAIT;
}
