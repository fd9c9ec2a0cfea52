#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <jansson.h>

#include "catalog.h"
#include "check.h"
#include "connector.h"
#include "error.h"
#include "log.h"
#include "tls.h"

#define CHECK_MAX_SERVICES	32

struct check_cli {
	struct catalog		 cat;
	struct check_result	*results;
	bool			*have;
	size_t			 passed, failed;
	int			 json;
	int			 width;
	struct event_base	*base;
};

static void
check_usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-connector check [--config FILE] [--catalog FILE]...\n"
"         [--cloud URL] [--service NAME]... [--proxy URL [--save]]\n"
"         [--bypass LIST] [--ca FILE] [--resolve HOST:PORT:ADDR]...\n"
"         [--timeout SECONDS] [--parallel N] [--json]\n"
"\n"
"Checks every required address the way the connector reaches it: route\n"
"decision, DNS, TCP or proxy CONNECT, TLS, certificate chain, host name,\n"
"expiry and revocation (CRLs over HTTP), and prints one row per address as\n"
"it completes, then what to fix.\n"
"\n"
"  --config FILE      take the proxy and bypass list from FILE only\n"
"                     (default: HTTPS_PROXY / NO_PROXY from the environment)\n"
"  --catalog FILE     JSON catalog of required addresses (docs/catalog.md);\n"
"                     may be repeated\n"
"  --cloud URL        add the uplink cloud endpoint (https://HOST[:PORT])\n"
"  --service NAME     check only this service; may be repeated\n"
"  --proxy URL        test this proxy (http://HOST:PORT) instead\n"
"  --save             with --proxy: write it to the config file when every\n"
"                     check passes (--config FILE, default %s)\n"
"  --bypass LIST      use this bypass list instead\n"
"  --ca FILE          trust these CA certificates (PEM) instead of the\n"
"                     system store; give the cloud's CA to check the pin\n"
"  --resolve H:P:A    connect to address A for host H port P (direct only)\n"
"  --timeout SECONDS  limit for each step (default 5)\n"
"  --parallel N       addresses checked at once (default 8)\n"
"  --json             print one JSON document at the end\n"
"\n"
"Exit status: 0 every address passed, 1 some failed, 2 usage or config error.\n",
	    CONFIG_DEFAULT_PATH);
}

static void
check_print_row(struct check_cli *cli, const struct check_result *r)
{
	char	 addr[300];
	int	 n = (int)strcspn(r->tls, " ");

	snprintf(addr, sizeof(addr), "%s:%u", r->target->address,
	    r->target->port);
	if (r->ok)
		printf("PASS  %-12s %-*s %-9s %-8.*s %5ld ms%s%s\n",
		    r->target->service, cli->width, addr, r->route ==
		    ROUTE_PROXY ? "via proxy" : "direct", n ? n : 4, n ? r->tls :
		    "http", r->ms, r->nwarnings ? "  warning: " : "",
		    r->nwarnings ? r->warnings[0] : "");
	else
		printf("FAIL  %-12s %-*s %-9s %s: %s\n", r->target->service,
		    cli->width, addr, r->route == ROUTE_PROXY ? "via proxy" :
		    "direct", r->error, r->detail);
	fflush(stdout);
}

static void
check_on_result(void *arg, const struct check_result *r, size_t index)
{
	struct check_cli	*cli = arg;

	cli->results[index] = *r;
	cli->have[index] = true;
	if (r->ok)
		cli->passed++;
	else
		cli->failed++;
	if (!cli->json)
		check_print_row(cli, r);
}

static void
check_on_done(void *arg)
{
	struct check_cli	*cli = arg;

	event_base_loopexit(cli->base, NULL);
}

static void
check_print_summary(struct check_cli *cli, const struct connector_config *cfg)
{
	size_t	 i;

	printf("\n%zu passed, %zu failed (%s).\n", cli->passed, cli->failed,
	    cfg->routes.has_proxy ? cfg->routes.proxy.url : "no proxy");
	if (cli->failed == 0)
		return;
	printf("\nWhat to fix:\n");
	for (i = 0; i < cli->cat.n; i++)
		if (cli->have[i] && !cli->results[i].ok)
			printf("  %s:%u  %s\n", cli->results[i].target->address,
			    cli->results[i].target->port, cli->results[i].hint);
}

static int
check_print_json(struct check_cli *cli, const struct connector_config *cfg)
{
	json_t	*root;
	char	*text = NULL;

	root = check_report_json(&cfg->routes, cli->results, cli->have,
	    cli->cat.n);
	if (root != NULL)
		text = check_report_text(root, 0);
	json_decref(root);
	if (text == NULL) {
		fprintf(stderr, "uplink-connector: out of memory\n");
		return EXIT_USAGE;
	}
	printf("%s\n", text);
	free(text);
	return 0;
}

struct check_args {
	const char	*config, *proxy, *bypass, *ca;
	char		*services[CHECK_MAX_SERVICES];
	size_t		 nservices;
	struct resolve_map resolve;
	int		 timeout, parallel, json, save;
};

/* Parses a whole number in [lo, hi]; prints the error itself. */
static bool
check_number(const char *opt, const char *s, int lo, int hi, int *out)
{
	char	*end;
	long	 v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "uplink-connector: %s \"%s\": give a whole "
		    "number from %d to %d\n", opt, s, lo, hi);
		return false;
	}
	*out = (int)v;
	return true;
}

static int
check_parse_args(int argc, char **argv, struct check_args *a,
    struct catalog *cat)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "catalog", required_argument, NULL, 'C' },
		{ "cloud", required_argument, NULL, 'u' },
		{ "service", required_argument, NULL, 's' },
		{ "proxy", required_argument, NULL, 'p' },
		{ "save", no_argument, NULL, 'S' },
		{ "bypass", required_argument, NULL, 'b' },
		{ "ca", required_argument, NULL, 'a' },
		{ "resolve", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "parallel", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char	 err[1024];
	int	 ch;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		err[0] = '\0';
		switch (ch) {
		case 'c': a->config = optarg; break;
		case 'p': a->proxy = optarg; break;
		case 'b': a->bypass = optarg; break;
		case 'a': a->ca = optarg; break;
		case 'S': a->save = 1; break;
		case 'j': a->json = 1; break;
		case 'C':
			catalog_load_file(cat, optarg, err, sizeof(err));
			break;
		case 'u':
			catalog_add_url(cat, "cloud", optarg, "uplink cloud: "
			    "tunnels, enrollment and API", err, sizeof(err));
			break;
		case 's':
			if (a->nservices == CHECK_MAX_SERVICES)
				snprintf(err, sizeof(err), "too many --service");
			else
				a->services[a->nservices++] = optarg;
			break;
		case 'r':
			resolve_map_add(&a->resolve, optarg, err, sizeof(err));
			break;
		case 't':
			if (!check_number("--timeout", optarg, 1, 300,
			    &a->timeout))
				return EXIT_USAGE;
			break;
		case 'P':
			if (!check_number("--parallel", optarg, 1, 256,
			    &a->parallel))
				return EXIT_USAGE;
			break;
		case 'h':
			check_usage(stdout);
			return -1;
		default:
			check_usage(stderr);
			return EXIT_USAGE;
		}
		if (err[0] != '\0') {
			fprintf(stderr, "uplink-connector: %s\n", err);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "uplink-connector: unexpected argument \"%s\"\n",
		    argv[optind]);
		return EXIT_USAGE;
	}
	if (a->save && a->proxy == NULL) {
		fprintf(stderr, "uplink-connector: --save needs --proxy URL: "
		    "it saves the proxy that was tested\n");
		return EXIT_USAGE;
	}
	return 0;
}

static int
check_validate(struct check_args *a, struct catalog *cat)
{
	if (catalog_filter(cat, a->services, a->nservices) == 0) {
		fprintf(stderr, "uplink-connector: nothing to check: give "
		    "--catalog FILE or --cloud URL%s\n", a->nservices ?
		    " (and check the --service names)" : "");
		return EXIT_USAGE;
	}
	return 0;
}

static int
check_save(const struct check_args *a, const struct connector_config *cfg)
{
	const char	*path = a->config ? a->config : CONFIG_DEFAULT_PATH;
	char		 err[1024];

	if (config_save_proxy(path, cfg->routes.proxy.url, a->bypass, err,
	    sizeof(err)) != UPLINK_OK) {
		fprintf(stderr, "uplink-connector: --save: %s\n", err);
		return EXIT_FAILED;
	}
	fprintf(a->json ? stderr : stdout, "Saved proxy %s to %s.\n",
	    cfg->routes.proxy.url, path);
	return EXIT_OK;
}

int
cmd_check(int argc, char **argv)
{
	struct check_args	 a;
	struct check_cli	 cli;
	struct connector_config	 cfg;
	struct check_opts	 o;
	struct evdns_base	*dns = NULL;
	struct check		*chk = NULL;
	SSL_CTX			*ctx = NULL;
	char			 err[1024], tmo[16];
	size_t			 i;
	int			 rc;

	memset(&a, 0, sizeof(a));
	memset(&cli, 0, sizeof(cli));
	log_init("uplink-connector", 1, LOG_LEVEL_WARN);
	log_capture_libevent();
	a.timeout = 5;
	a.parallel = 8;
	rc = check_parse_args(argc, argv, &a, &cli.cat);
	if (rc == 0)
		rc = check_validate(&a, &cli.cat);
	if (rc != 0) {
		catalog_free(&cli.cat);
		resolve_map_free(&a.resolve);
		return rc < 0 ? EXIT_OK : rc;
	}
	rc = settings_load(&cfg, a.config, a.proxy, a.bypass);
	if (rc != 0)
		goto out_nocfg;
	ctx = tls_client_ctx_new(a.ca, err, sizeof(err));
	if (ctx == NULL) {
		fprintf(stderr, "uplink-connector: %s\n", err);
		rc = EXIT_USAGE;
		goto out;
	}
	cli.json = a.json;
	cli.results = calloc(cli.cat.n, sizeof(*cli.results));
	cli.have = calloc(cli.cat.n, sizeof(*cli.have));
	cli.base = event_base_new();
	if (cli.base != NULL)
		dns = evdns_base_new(cli.base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
		    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (cli.results == NULL || cli.have == NULL || dns == NULL) {
		fprintf(stderr, "uplink-connector: cannot start: out of memory "
		    "or no usable /etc/resolv.conf\n");
		rc = EXIT_USAGE;
		goto out;
	}
	snprintf(tmo, sizeof(tmo), "%d", a.timeout);
	evdns_base_set_option(dns, "timeout:", tmo);
	evdns_base_set_option(dns, "attempts:", "2");
	for (i = 0; i < cli.cat.n; i++) {
		int	 w = (int)strlen(cli.cat.v[i].address) + 6;

		if (w > cli.width)
			cli.width = w;
	}
	if (!a.json)
		printf("Checking %zu address%s %s%s%s%s%s.\n\n", cli.cat.n,
		    cli.cat.n == 1 ? "" : "es", cfg.routes.has_proxy ?
		    "through proxy " : "directly (no proxy configured)",
		    cfg.routes.has_proxy ? cfg.routes.proxy.url : "",
		    cfg.routes.source[0] ? " (settings from " : "",
		    cfg.routes.source, cfg.routes.source[0] ? ")" : "");
	memset(&o, 0, sizeof(o));
	o.routes = &cfg.routes;
	o.resolve = &a.resolve;
	o.tls = ctx;
	o.timeout_ms = a.timeout * 1000;
	o.parallel = a.parallel;
	chk = check_start(cli.base, dns, &o, cli.cat.v, cli.cat.n,
	    check_on_result, check_on_done, &cli);
	if (chk == NULL) {
		rc = EXIT_USAGE;
		goto out;
	}
	event_base_dispatch(cli.base);
	rc = cli.failed == 0 ? EXIT_OK : EXIT_FAILED;
	if (a.json && check_print_json(&cli, &cfg) != 0)
		rc = EXIT_USAGE;
	else if (!a.json)
		check_print_summary(&cli, &cfg);
	if (a.save && rc == EXIT_OK)
		rc = check_save(&a, &cfg);
	else if (a.save)
		fprintf(stderr, "uplink-connector: not saved: the check through "
		    "%s failed\n", cfg.routes.proxy.url);
out:
	check_free(chk);
	if (dns != NULL)
		evdns_base_free(dns, 0);
	if (cli.base != NULL)
		event_base_free(cli.base);
	SSL_CTX_free(ctx);
	free(cli.results);
	free(cli.have);
	config_free(&cfg);
out_nocfg:
	catalog_free(&cli.cat);
	resolve_map_free(&a.resolve);
	return rc;
}
