#include <stdio.h>
#include <string.h>

#include <openssl/opensslv.h>

#include "connector.h"
#include "launcher.h"
#include "version.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-connector COMMAND [OPTIONS]\n"
"\n"
"The uplink connector runs inside a private network and only ever connects\n"
"out (TCP 443, directly or through an HTTP proxy) to the uplink cloud.\n"
"\n"
"Commands:\n"
"  enroll    join the uplink cloud with a one-time token: writes the key,\n"
"            the certificate and the configuration\n"
"  run       the service: keeps tunnels to the cloud and opens the\n"
"            connections the [access] list allows\n"
"  check     verify that every required address is reachable the way the\n"
"            connector will reach it, and say what to fix\n"
"  route     show whether a destination goes direct or through the proxy,\n"
"            and which rule decided it\n"
"  install   check the way to the cloud, enroll, start the service and\n"
"            wait for its tunnels (docs/install.md); uninstall undoes it\n"
"  update    verify a signed release and stage it (docs/updates.md)\n"
"  launch    run the current version, switch and roll back (the service)\n"
"  help      this text; \"uplink-connector COMMAND --help\" for a command\n"
"  version   print the version\n"
"\n"
"Configuration: %s (see connector.conf(5), docs/config.md).\n",
	    CONFIG_DEFAULT_PATH);
}

int
main(int argc, char **argv)
{
	const char	*cmd = argc > 1 ? argv[1] : NULL;

	if (cmd == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "enroll") == 0)
		return cmd_enroll(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(cmd, "route") == 0)
		return cmd_route(argc - 1, argv + 1);
	if (strcmp(cmd, "install") == 0)
		return cmd_install(argc - 1, argv + 1);
	if (strcmp(cmd, "uninstall") == 0)
		return cmd_uninstall(argc - 1, argv + 1);
	if (strcmp(cmd, "update") == 0)
		return cmd_update(argc - 1, argv + 1);
	if (strcmp(cmd, "launch") == 0)
		return cmd_launch(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("uplink-connector %s (%s)\n", UPLINK_VERSION,
		    OPENSSL_VERSION_TEXT);
		return EXIT_OK;
	}
	fprintf(stderr, "uplink-connector: unknown command \"%s\"; run "
	    "\"uplink-connector help\"\n", cmd);
	return EXIT_USAGE;
}
