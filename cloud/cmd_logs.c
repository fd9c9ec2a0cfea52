#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cloud.h"
#include "cloudconf.h"
#include "datadir.h"
#include "error.h"
#include "logs.h"
#include "store.h"
#include "xmalloc.h"

/*
 * uplink-cloud logs CONNECTOR: the lines the cloud collected from a
 * connector (cloud/logs.c), read from the database directly, as the
 * other admin commands do; -f polls it for new lines once a second until
 * interrupted.
 */

#define LOGS_CLI_POLL_MS	1000

static volatile sig_atomic_t logs_cli_stop;

static void
logs_usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-cloud logs CONNECTOR [-f] [--level L] [--since T] [--grep TEXT]\n"
"                         [-n N] [WHERE] [--json]\n"
"WHERE: --data-dir DIR | --config FILE\n"
"\n"
"Prints the log lines the cloud collected from a connector over its\n"
"tunnels, oldest first: time (UTC), level, text. CONNECTOR is its id (c-...)\n"
"or its name when no other connector has that name. A line \"N log lines\n"
"lost\" says the connector dropped lines (its buffer overflowed while the\n"
"cloud was away, or it logged faster than [logs] lines_per_second).\n"
"\n"
"  -f, --follow     keep printing new lines as they arrive (Ctrl-C stops)\n"
"  --level L        only lines at L or more severe: error, warn, info, debug\n"
"  --since T        only lines since T: Unix seconds, a UTC time\n"
"                   (2026-12-07T01:00:00Z) or how long ago (15m, 2h, 7d)\n"
"  --grep TEXT      only lines containing TEXT (any case)\n"
"  -n N             the newest N lines (1 to %d, default 100)\n"
"  --data-dir DIR   the data directory made by \"uplink-cloud init\"\n"
"  --config FILE    the configuration file (its data_dir)\n"
"  --json           one JSON object a line: id, seq, time (Unix ms),\n"
"                   level, msg, and dropped on a line that reports a loss\n"
"\n"
"With neither --data-dir nor --config, %s is read when it exists,\n"
"else %s is used.\n"
"\n"
"Examples:\n"
"  uplink-cloud logs c-5be2a7d0913f --level warn --since 2h\n"
"  uplink-cloud logs hq-a -f --config /etc/uplink/cloud.conf\n",
	    STORE_LOGS_LIST_MAX, CLOUDCONF_DEFAULT_PATH, CLOUDCONF_DEFAULT_DATA);
}

struct logs_out {
	int		 json;
	int64_t		 last;		/* the newest id printed */
	struct store_log *rows;		/* newest first, when not following */
	size_t		 n;
};

static void
logs_print(const struct store_log *l, int json)
{
	char	 when[CLI_TIME_SIZE];
	json_t	*j;
	char	*text;

	if (json) {
		j = json_pack("{s:I, s:I, s:I, s:s, s:s}", "id",
		    (json_int_t)l->id, "seq", (json_int_t)l->seq, "time",
		    (json_int_t)l->at_ms, "level", logs_level_name(l->level),
		    "msg", l->msg);
		if (j != NULL && l->dropped > 0)
			json_object_set_new(j, "dropped",
			    json_integer(l->dropped));
		text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
		if (text != NULL)
			printf("%s\n", text);
		free(text);
		json_decref(j);
		return;
	}
	cli_time(l->at_ms / 1000, when);
	/* "2026-12-07T01:02:03Z" with the milliseconds before the Z. */
	when[strlen(when) - 1] = '\0';
	printf("%s.%03dZ %-5s %s\n", when, (int)(l->at_ms % 1000),
	    logs_level_name(l->level), l->msg);
}

/* Newest first from the store: kept (at most the limit), printed reversed. */
static int
logs_keep_cb(void *arg, const struct store_log *l)
{
	struct logs_out	*o = arg;

	o->rows[o->n++] = *l;
	if (l->id > o->last)
		o->last = l->id;
	return 0;
}

static int
logs_tail_cb(void *arg, const struct store_log *l)
{
	struct logs_out	*o = arg;

	logs_print(l, o->json);
	o->last = l->id;
	return 0;
}

static void
logs_cli_signal(int sig)
{
	(void)sig;
	logs_cli_stop = 1;
}

/* Finds a connector by id, or by a name only one connector has. */
struct logs_find {
	const char	*want;
	char		 id[STORE_ID_MAX + 1];
	int		 n;
};

static int
logs_find_cb(void *arg, const struct store_connector *c)
{
	struct logs_find	*f = arg;

	if (strcasecmp(c->name, f->want) == 0) {
		snprintf(f->id, sizeof(f->id), "%s", c->id);
		f->n++;
	}
	return 0;
}

static int
logs_find(struct datadir *dd, const char *want, char id[STORE_ID_MAX + 1])
{
	struct store_connector	 sc;
	struct logs_find	 f = { want, "", 0 };
	char			 err[512];

	if (store_connector_get(dd->st, want, &sc, err, sizeof(err)) ==
	    UPLINK_OK) {
		snprintf(id, STORE_ID_MAX + 1, "%s", sc.id);
		return EXIT_OK;
	}
	if (store_connector_list(dd->st, 0, logs_find_cb, &f, err,
	    sizeof(err)) != UPLINK_OK)
		return cli_fail("%s", err);
	if (f.n == 1) {
		snprintf(id, STORE_ID_MAX + 1, "%s", f.id);
		return EXIT_OK;
	}
	if (f.n > 1)
		return cli_fail("%d connectors are called \"%s\": give the id "
		    "(uplink-cloud connector list)", f.n, want);
	return cli_fail("there is no connector \"%s\" (uplink-cloud connector "
	    "list shows them)", want);
}

static int
logs_run(struct datadir *dd, struct store_log_query *q, int follow,
    int json)
{
	struct logs_out	 o = { json, 0, NULL, 0 };
	struct timespec	 ts = { LOGS_CLI_POLL_MS / 1000,
			    (LOGS_CLI_POLL_MS % 1000) * 1000000L };
	char		 err[512];

	o.rows = xcalloc((size_t)q->limit, sizeof(*o.rows));
	if (store_logs_list(dd->st, q, logs_keep_cb, &o, err, sizeof(err)) !=
	    UPLINK_OK) {
		free(o.rows);
		return cli_fail("%s", err);
	}
	while (o.n-- > 0)
		logs_print(&o.rows[o.n], json);
	free(o.rows);
	fflush(stdout);
	if (!follow)
		return EXIT_OK;
	signal(SIGINT, logs_cli_signal);
	signal(SIGTERM, logs_cli_signal);
	q->limit = STORE_LOGS_LIST_MAX;
	while (!logs_cli_stop) {
		q->after_id = o.last;
		if (store_logs_list(dd->st, q, logs_tail_cb, &o, err,
		    sizeof(err)) != UPLINK_OK)
			return cli_fail("%s", err);
		fflush(stdout);
		nanosleep(&ts, NULL);
	}
	return EXIT_OK;
}

int
cmd_logs(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "follow", no_argument, NULL, 'f' },
		{ "level", required_argument, NULL, 'l' },
		{ "since", required_argument, NULL, 's' },
		{ "grep", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_opts		 o = { 0 };
	struct store_log_query	 q = { 0 };
	struct datadir		 dd;
	char			 id[STORE_ID_MAX + 1], why[256], *end;
	int			 ch, follow = 0, rc;
	long			 n;

	q.limit = 100;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "fn:", opts, NULL)) != -1) {
		if (cli_common_opt(ch, &o))
			continue;
		switch (ch) {
		case CLI_OPT_HELP:
			logs_usage(stdout);
			return EXIT_OK;
		case 'f':
			follow = 1;
			break;
		case 'n':
			n = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || n < 1 ||
			    n > STORE_LOGS_LIST_MAX)
				return cli_usage("logs", "-n \"%s\": give a "
				    "whole number from 1 to %d", optarg,
				    STORE_LOGS_LIST_MAX);
			q.limit = (int)n;
			break;
		case 'l':
			q.max_level = logs_level_parse(optarg);
			if (q.max_level < 0)
				return cli_usage("logs", "--level \"%s\": give "
				    "error, warn, info or debug", optarg);
			break;
		case 's':
			if (logs_since_parse(optarg, time(NULL), &q.since_ms,
			    why, sizeof(why)) != 0)
				return cli_usage("logs", "--since: %s", why);
			break;
		case 'g':
			if (strlen(optarg) > 256)
				return cli_usage("logs", "--grep: the text is "
				    "longer than 256 bytes");
			q.q = optarg;
			break;
		default:
			return cli_bad_option("logs", argv);
		}
	}
	if (optind != argc - 1)
		return cli_usage("logs", "give one connector (its id or name)");
	rc = cli_open(&o, &dd, NULL, 0);
	if (rc != EXIT_OK)
		return rc;
	rc = logs_find(&dd, argv[optind], id);
	if (rc == EXIT_OK) {
		q.connector = id;
		rc = logs_run(&dd, &q, follow, o.json);
	}
	datadir_close(&dd);
	return rc;
}
