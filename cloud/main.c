#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/opensslv.h>
#include <sqlite3.h>

#include "cloud.h"
#include "cloudconf.h"
#include "version.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-cloud COMMAND [OPTIONS]\n"
"\n"
"The uplink cloud accepts connectors (which only ever connect out to it),\n"
"enrolls them with one-time tokens, and carries traffic to the services\n"
"behind them.\n"
"\n"
"Commands:\n"
"  init        create a data directory: CA, TLS certificate, database and\n"
"              a configuration file\n"
"  token       create, list or revoke enrollment tokens\n"
"  connector   list or revoke enrolled connectors\n"
"  release     add, list or remove signed connector releases\n"
"  key         create, list or revoke API keys (API, ingress proxy,\n"
"              metrics; scopes full, read, ingress, metrics)\n"
"  admin       add, list or remove console administrators; set passwords\n"
"  run         run the cloud service\n"
"  status      the connectors of every site as the running service sees\n"
"              them: online, degraded, offline; tunnels, streams, RTT\n"
"  logs        a connector's log lines, collected by the cloud over its\n"
"              tunnels; -f follows them\n"
"  help        this text; \"uplink-cloud COMMAND --help\" for a command\n"
"  version     print the version\n"
"\n"
"Admin commands (token, connector, key) find the data directory with\n"
"--data-dir DIR or --config FILE (its data_dir); with neither, from %s\n"
"when it exists, else %s.\n"
"\n"
"Getting started:\n"
"  uplink-cloud init --data-dir %s --name cloud.example.com\n"
"  uplink-cloud run --config %s/cloud.conf\n"
"  uplink-cloud token create --data-dir %s --site hq\n"
"\n"
"Exit status: 0 success, 1 failure, 2 usage or configuration error.\n"
"See docs/cloud.md.\n",
	    CLOUDCONF_DEFAULT_PATH, CLOUDCONF_DEFAULT_DATA,
	    CLOUDCONF_DEFAULT_DATA, CLOUDCONF_DEFAULT_DATA,
	    CLOUDCONF_DEFAULT_DATA);
}

int
main(int argc, char **argv)
{
	const char	*cmd = argc > 1 ? argv[1] : NULL;

	if (cmd == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	opterr = 0;
	if (strcmp(cmd, "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (strcmp(cmd, "token") == 0)
		return cmd_token(argc - 1, argv + 1);
	if (strcmp(cmd, "connector") == 0)
		return cmd_connector(argc - 1, argv + 1);
	if (strcmp(cmd, "logs") == 0)
		return cmd_logs(argc - 1, argv + 1);
	if (strcmp(cmd, "release") == 0)
		return cmd_release(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(cmd, "key") == 0)
		return cmd_key(argc - 1, argv + 1);
	if (strcmp(cmd, "admin") == 0)
		return cmd_admin(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("uplink-cloud %s (%s, SQLite %s)\n", UPLINK_VERSION,
		    OPENSSL_VERSION_TEXT, sqlite3_libversion());
		return EXIT_OK;
	}
	fprintf(stderr, "uplink-cloud: unknown command \"%s\"; run "
	    "\"uplink-cloud help\"\n", cmd);
	return EXIT_USAGE;
}
