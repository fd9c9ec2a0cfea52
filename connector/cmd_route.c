#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "connector.h"
#include "error.h"
#include "hostport.h"

static void
route_usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-connector route HOST[:PORT] [--config FILE] [--proxy URL]\n"
"                              [--bypass LIST] [--json]\n"
"\n"
"Prints whether a connection to HOST:PORT (default port 443) goes direct or\n"
"through the proxy, and the rule that decided it. Settings come from\n"
"--config FILE, or else from HTTPS_PROXY and NO_PROXY; --proxy and --bypass\n"
"override them.\n"
"\n"
"  --json   print {\"host\",\"port\",\"route\",\"rule\",\"proxy\"}\n");
}

int
cmd_route(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "proxy", required_argument, NULL, 'p' },
		{ "bypass", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct connector_config	 cfg;
	const char		*config = NULL, *proxy = NULL, *bypass = NULL;
	struct hostport		 hp;
	struct route		 r;
	char			 why[256], desc[512];
	int			 ch, json = 0, rc;
	json_t			*o;

	while ((ch = getopt_long(argc, argv, "c:p:b:jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 'p': proxy = optarg; break;
		case 'b': bypass = optarg; break;
		case 'j': json = 1; break;
		case 'h': route_usage(stdout); return EXIT_OK;
		default: route_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		route_usage(stderr);
		return EXIT_USAGE;
	}
	if (hostport_parse(argv[optind], 443, &hp, why, sizeof(why)) !=
	    UPLINK_OK) {
		fprintf(stderr, "uplink-connector: \"%s\": %s\n", argv[optind],
		    why);
		return EXIT_USAGE;
	}
	rc = settings_load(&cfg, config, proxy, bypass);
	if (rc != 0)
		return rc;
	route_decide(&cfg.routes, hp.host, hp.port, &r);
	if (json) {
		o = json_pack("{s:s, s:i, s:s, s:o, s:o}", "host", hp.host,
		    "port", hp.port, "route", r.kind == ROUTE_PROXY ? "proxy" :
		    "direct", "rule", r.rule ? json_string(r.rule) : json_null(),
		    "proxy", r.proxy ? json_string(r.proxy->url) : json_null());
		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(o);
	} else {
		route_describe(&r, desc, sizeof(desc));
		printf("%s\n", desc);
	}
	config_free(&cfg);
	return EXIT_OK;
}
