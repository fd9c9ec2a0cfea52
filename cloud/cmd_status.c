#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cloud.h"
#include "cloudconf.h"
#include "datadir.h"

/*
 * uplink-cloud status: what the running cloud says of its connectors, read
 * from DATA_DIR/status.json, which the service rewrites every second. A
 * file older than STATUS_STALE seconds means the service is not running.
 */

#define STATUS_STALE	5

static void
status_usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-cloud status [--data-dir DIR | --config FILE] [--json]\n"
"\n"
"Shows every site and its connectors as the running uplink-cloud sees them:\n"
"state (online: all its tunnels up; degraded: some; draining: going away;\n"
"offline: none), tunnels up of those it keeps, open streams, bytes each\n"
"way, round-trip time of its tunnels' PINGs, when it was last seen, its\n"
"version and address. A site with fewer than two serving connectors is\n"
"flagged: one more failure makes its services unreachable.\n"
"\n"
"  --data-dir DIR   the data directory of the running cloud\n"
"  --config FILE    the configuration file (its data_dir)\n"
"  --json           print the status document as the cloud wrote it\n"
"\n"
"Exit status: 0 when the cloud is running, 1 when it is not (the status\n"
"file is missing or older than %d s), 2 usage error.\n", STATUS_STALE);
}

static void
status_site(json_t *site)
{
	struct cli_table	 t;
	json_t			*c;
	size_t			 i;
	char			 seen[CLI_TIME_SIZE], tun[16], streams[24];
	char			 rtt[16], io[48], st[48];

	printf("site %s: %lld serving connector%s%s\n",
	    json_string_value(json_object_get(site, "name")),
	    json_integer_value(json_object_get(site, "online")),
	    json_integer_value(json_object_get(site, "online")) == 1 ? "" : "s",
	    json_is_true(json_object_get(site, "redundancy")) ? "" :
	    " - WARNING: no redundancy (deploy at least two connectors)");
	cli_table_init(&t, 8, "ID", "NAME", "STATE", "TUNNELS", "STREAMS",
	    "IN/OUT BYTES", "RTT", "LAST SEEN");
	json_array_foreach(json_object_get(site, "connectors"), i, c) {
		snprintf(tun, sizeof(tun), "%lld/%lld",
		    json_integer_value(json_object_get(c, "tunnels")),
		    json_integer_value(json_object_get(c, "tunnels_expected")));
		snprintf(streams, sizeof(streams), "%lld",
		    json_integer_value(json_object_get(c, "streams")));
		snprintf(io, sizeof(io), "%lld/%lld",
		    json_integer_value(json_object_get(c, "bytes_in")),
		    json_integer_value(json_object_get(c, "bytes_out")));
		if (json_is_integer(json_object_get(c, "rtt_ms")))
			snprintf(rtt, sizeof(rtt), "%lld ms", json_integer_value(
			    json_object_get(c, "rtt_ms")));
		else
			snprintf(rtt, sizeof(rtt), "-");
		/* Behind the newest release too long (docs/updates.md). */
		snprintf(st, sizeof(st), "%s%s", json_string_value(
		    json_object_get(c, "state")), json_is_true(json_object_get(c,
		    "outdated")) ? ", outdated" : "");
		cli_table_row(&t, json_string_value(json_object_get(c, "id")),
		    json_string_value(json_object_get(c, "name")), st, tun, streams,
		    io, rtt, cli_time(json_integer_value(json_object_get(c,
		    "last_seen")), seen));
	}
	cli_table_print(&t, stdout, "(no connectors)");
	cli_table_free(&t);
}

int
cmd_status(int argc, char **argv)
{
	struct cli_opts	 o = { 0 };
	char		 dir[DATADIR_PATH_MAX], path[DATADIR_PATH_MAX + 16];
	char		 err[1024];
	json_error_t	 je;
	json_t		*j;
	json_int_t	 age;
	size_t		 i;
	int		 rv;

	rv = cli_args("status", argc, argv, &o, NULL, NULL, status_usage);
	if (rv != EXIT_OK)
		return rv == CLI_HELP ? EXIT_OK : rv;
	if (datadir_resolve(o.data_dir, o.config, dir, sizeof(dir), err,
	    sizeof(err)) != 0)
		return cli_usage("status", "%s", err);
	datadir_join(dir, "status.json", path, sizeof(path));
	j = json_load_file(path, 0, &je);
	if (j == NULL && access(path, F_OK) != 0)
		return cli_fail("uplink-cloud is not running with data_dir %s "
		    "(no %s)", dir, path);
	if (j == NULL)
		return cli_fail("%s: %s", path, je.text);
	age = (json_int_t)time(NULL) -
	    json_integer_value(json_object_get(j, "generated_at"));
	if (age > STATUS_STALE) {
		json_decref(j);
		return cli_fail("%s was written %lld s ago: uplink-cloud is not "
		    "running (or is stuck)", path, (long long)age);
	}
	if (o.json)
		return cli_json_print(j);
	for (i = 0; i < json_array_size(json_object_get(j, "sites")); i++) {
		if (i > 0)
			printf("\n");
		status_site(json_array_get(json_object_get(j, "sites"), i));
	}
	if (json_array_size(json_object_get(j, "sites")) == 0)
		printf("no connectors enrolled yet\n");
	json_decref(j);
	return EXIT_OK;
}
