#include <stdbool.h>
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
"In a cluster (docs/cluster.md) it first lists the instances (up, draining,\n"
"gone), with their peer address, tunnel name and tunnels, and shows each\n"
"connector's tunnels per instance (i1:2 i2:2); TUNNELS counts the whole\n"
"fleet's.\n"
"\n"
"  --data-dir DIR   the data directory of the running cloud\n"
"  --config FILE    the configuration file (its data_dir)\n"
"  --json           print the status document as the cloud wrote it\n"
"\n"
"Exit status: 0 when the cloud is running, 1 when it is not (the status\n"
"file is missing or older than %d s), 2 usage error.\n", STATUS_STALE);
}

/* "i1:2 i2:2": a connector's tunnels per instance. */
static void
status_where(json_t *c, char *buf, size_t len)
{
	json_t	*w;
	size_t	 i, n = 0;
	int	 k;

	buf[0] = '\0';
	json_array_foreach(json_object_get(c, "instances"), i, w) {
		k = snprintf(buf + n, len - n, "%s%s:%lld", n > 0 ? " " : "",
		    json_string_value(json_object_get(w, "instance")),
		    json_integer_value(json_object_get(w, "tunnels")));
		if (k < 0 || (size_t)k >= len - n)
			break;
		n += (size_t)k;
	}
	if (n == 0)
		snprintf(buf, len, "-");
}

/* The cluster's instances, when there is a cluster. */
static void
status_instances(json_t *arr)
{
	struct cli_table	 t;
	json_t			*x;
	size_t			 i;
	char			 tun[16], lease[CLI_TIME_SIZE], id[80];

	cli_table_init(&t, 6, "INSTANCE", "STATE", "PEER ADDRESS",
	    "TUNNEL NAME", "TUNNELS", "LEASE UNTIL");
	json_array_foreach(arr, i, x) {
		snprintf(tun, sizeof(tun), "%lld", json_integer_value(
		    json_object_get(x, "tunnels")));
		snprintf(id, sizeof(id), "%s%s", json_string_value(
		    json_object_get(x, "id")), json_is_true(json_object_get(x,
		    "self")) ? " (this one)" : "");
		cli_table_row(&t, id, json_string_value(json_object_get(x,
		    "state")), json_string_value(json_object_get(x,
		    "peer_address")), json_string_value(json_object_get(x,
		    "tunnel_name")), tun, cli_time(json_integer_value(
		    json_object_get(x, "lease_until")), lease));
	}
	cli_table_print(&t, stdout, "(no instances)");
	cli_table_free(&t);
	printf("\n");
}

static void
status_site(json_t *site, bool cluster)
{
	struct cli_table	 t;
	json_t			*c;
	size_t			 i;
	char			 seen[CLI_TIME_SIZE], tun[16], streams[24];
	char			 rtt[16], io[48], where[256];

	printf("site %s: %lld serving connector%s%s\n",
	    json_string_value(json_object_get(site, "name")),
	    json_integer_value(json_object_get(site, "online")),
	    json_integer_value(json_object_get(site, "online")) == 1 ? "" : "s",
	    json_is_true(json_object_get(site, "redundancy")) ? "" :
	    " - WARNING: no redundancy (deploy at least two connectors)");
	if (cluster)
		cli_table_init(&t, 9, "ID", "NAME", "STATE", "TUNNELS",
		    "INSTANCES", "STREAMS", "IN/OUT BYTES", "RTT", "LAST SEEN");
	else
		cli_table_init(&t, 8, "ID", "NAME", "STATE", "TUNNELS",
		    "STREAMS", "IN/OUT BYTES", "RTT", "LAST SEEN");
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
		cli_time(json_integer_value(json_object_get(c, "last_seen")),
		    seen);
		status_where(c, where, sizeof(where));
		if (cluster)
			cli_table_row(&t, json_string_value(json_object_get(c,
			    "id")), json_string_value(json_object_get(c,
			    "name")), json_string_value(json_object_get(c,
			    "state")), tun, where, streams, io, rtt, seen);
		else
			cli_table_row(&t, json_string_value(json_object_get(c,
			    "id")), json_string_value(json_object_get(c,
			    "name")), json_string_value(json_object_get(c,
			    "state")), tun, streams, io, rtt, seen);
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
	bool		 cluster;

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
	cluster = json_array_size(json_object_get(j, "instances")) > 0;
	if (cluster)
		status_instances(json_object_get(j, "instances"));
	for (i = 0; i < json_array_size(json_object_get(j, "sites")); i++) {
		if (i > 0)
			printf("\n");
		status_site(json_array_get(json_object_get(j, "sites"), i),
		    cluster);
	}
	if (json_array_size(json_object_get(j, "sites")) == 0)
		printf("no connectors enrolled yet\n");
	json_decref(j);
	return EXIT_OK;
}
