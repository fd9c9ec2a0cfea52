#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "apikey.h"
#include "cli.h"
#include "cloud.h"
#include "cloudconf.h"
#include "datadir.h"
#include "error.h"
#include "store.h"

static void
key_usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-cloud key create --name NAME\n"
"                               [--scope full|read|ingress|metrics]\n"
"                               [--sites SITE,...] [WHERE] [--json]\n"
"       uplink-cloud key list [WHERE] [--json]\n"
"       uplink-cloud key revoke ID [WHERE] [--json]\n"
"WHERE: --data-dir DIR | --config FILE\n"
"\n"
"API keys let clients use the ingress proxy (HTTP CONNECT with\n"
"Proxy-Authorization: Basic SITE:KEY) and the API. A key reads\n"
"uk_<12 hex id>_<43 characters of secret>; the cloud stores only the id\n"
"and SHA-256 of the secret, so a key is shown once, when it is made.\n"
"\n"
"  create       make a key and print it on stdout (one line)\n"
"  list         every key: id, name, scope, sites, when it was made, last used\n"
"               (to within five minutes) and revoked\n"
"  revoke ID    stop a key from working, at once (ID: the 12 hex digits)\n"
"\n"
"  --name NAME      what the key is for: 1-63 letters, digits, '.', '_'\n"
"                   or '-' (need not be unique)\n"
"  --scope SCOPE    what the key may do:\n"
"                     full     the whole API, and the ingress proxy into\n"
"                              every site (the default)\n"
"                     read     the API's reads only (no ingress)\n"
"                     ingress  the ingress proxy into the sites given with\n"
"                              --sites only (no API)\n"
"                     metrics  GET /metrics on [metrics] listen only\n"
"                              (Authorization: Bearer KEY; no API)\n"
"  --sites S1,S2    the sites an ingress key reaches (existing sites, at\n"
"                   most 16); only with --scope ingress\n"
"  --data-dir DIR   the data directory made by \"uplink-cloud init\"\n"
"  --config FILE    the configuration file (its data_dir)\n"
"  --json           print JSON instead: create prints\n"
"                   {\"key\",\"id\",\"name\",\"scope\",\"sites\"}\n"
"\n"
"With neither --data-dir nor --config, %s is read when it exists,\n"
"else %s is used.\n"
"\n"
"Examples:\n"
"  uplink-cloud key create --name ci-deploy --config /etc/uplink/cloud.conf\n"
"  uplink-cloud key create --name build --scope ingress --sites hq,branch\n"
"  curl -p -x http://127.0.0.1:3128 -U hq:uk_... http://intranet:80/\n"
"  uplink-cloud key revoke 0123456789ab --data-dir /var/lib/uplink-cloud\n",
	    CLOUDCONF_DEFAULT_PATH, CLOUDCONF_DEFAULT_DATA);
}

struct key_req {
	struct cli_opts	 o;
	const char	*name;
	const char	*scope;
	const char	*sites;
};

static int
key_create_args(int argc, char **argv, struct key_req *r)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "name",	required_argument,	NULL, 'n' },
		{ "scope",	required_argument,	NULL, 's' },
		{ "sites",	required_argument,	NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	char	 err[256];
	int	 ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_common_opt(ch, &r->o))
			continue;
		if (ch == 'n')
			r->name = optarg;
		else if (ch == 's')
			r->scope = optarg;
		else if (ch == 'S')
			r->sites = optarg;
		else if (ch == CLI_OPT_HELP) {
			key_usage(stdout);
			return CLI_HELP;
		} else
			return cli_bad_option("key create", argv);
	}
	if (optind < argc)
		return cli_usage("key create", "unexpected argument \"%s\"",
		    argv[optind]);
	if (r->name == NULL)
		return cli_usage("key create", "--name NAME is required");
	if (!store_name_check("--name", r->name, err, sizeof(err)))
		return cli_usage("key create", "%s", err);
	if (apikey_scope_find(r->scope) == NULL)
		return cli_usage("key create", "--scope is %s, not \"%s\"",
		    apikey_scope_names(), r->scope);
	return EXIT_OK;
}

/* Makes the key and stores its hash; text is only ever printed. */
static int
key_make(struct datadir *dd, const struct key_req *r,
    char text[APIKEY_TEXT_SIZE], struct store_apikey *k)
{
	char	 err[1024];

	memset(k, 0, sizeof(*k));
	if (apikey_prepare(dd->st, k, r->name, r->scope, r->sites, err,
	    sizeof(err)) != UPLINK_OK)
		return cli_fail("key create: %s", err);
	apikey_new(text, k->id, k->secret_hash);
	k->created_at = time(NULL);
	if (store_apikey_add(dd->st, k, err, sizeof(err)) != UPLINK_OK)
		return cli_fail("%s", err);
	return EXIT_OK;
}

static int
key_create(int argc, char **argv)
{
	struct key_req		 r = { .scope = "full" };
	struct store_apikey	 k;
	struct datadir		 dd;
	char			 text[APIKEY_TEXT_SIZE];
	int			 rc;

	rc = key_create_args(argc, argv, &r);
	if (rc != EXIT_OK)
		return rc == CLI_HELP ? EXIT_OK : rc;
	rc = cli_open(&r.o, &dd, NULL, 0);
	if (rc != EXIT_OK)
		return rc;
	rc = key_make(&dd, &r, text, &k);
	if (rc == EXIT_OK)
		cli_audit(&dd, "key.create", k.id, "\"%s\", scope %s%s%s",
		    k.name, k.scope, k.sites[0] ? ", sites " : "", k.sites);
	datadir_close(&dd);
	if (rc == EXIT_OK && r.o.json) {
		json_t	*o = apikey_json(&k);

		if (o != NULL)
			json_object_set_new(o, "key", json_string(text));
		rc = cli_json_print(o);
	} else if (rc == EXIT_OK) {
		printf("%s\n", text);
		fflush(stdout);
		fprintf(stderr, "uplink-cloud: API key %s (\"%s\", scope %s%s%s)."
		    " It is shown only now: store it in a secret manager.\n",
		    k.id, k.name, k.scope, k.sites[0] ? ", sites " : "",
		    k.sites);
	}
	sodium_memzero(text, sizeof(text));
	return rc;
}

static int
key_row_json(void *arg, const struct store_apikey *k)
{
	json_t	*o;

	o = apikey_json(k);
	if (o == NULL || json_array_append_new(arg, o) != 0)
		return UPLINK_ENOMEM;
	return 0;
}

static int
key_row_text(void *arg, const struct store_apikey *k)
{
	char	 c[CLI_TIME_SIZE], u[CLI_TIME_SIZE], r[CLI_TIME_SIZE];

	cli_table_row(arg, k->id, k->name, k->scope, k->sites[0] ? k->sites :
	    "-", cli_time(k->created_at, c), cli_time(k->last_used, u),
	    cli_time(k->revoked_at, r));
	return 0;
}

static int
key_list_run(struct datadir *dd, int json)
{
	struct cli_table	 t;
	json_t			*a;
	char			 err[1024];
	int			 rc;

	if (json) {
		a = json_array();
		rc = a != NULL ? store_apikey_list(dd->st, key_row_json, a,
		    err, sizeof(err)) : UPLINK_ENOMEM;
		if (rc == UPLINK_OK)
			return cli_json_print(a);
		json_decref(a);
		return cli_fail("%s", rc == UPLINK_ENOMEM ? "out of memory" :
		    err);
	}
	cli_table_init(&t, 7, "ID", "NAME", "SCOPE", "SITES", "CREATED",
	    "LAST USED", "REVOKED");
	rc = store_apikey_list(dd->st, key_row_text, &t, err, sizeof(err));
	if (rc == UPLINK_OK)
		cli_table_print(&t, stdout, "no API keys; make one with "
		    "\"uplink-cloud key create --name NAME\"");
	cli_table_free(&t);
	return rc == UPLINK_OK ? EXIT_OK : cli_fail("%s", err);
}

static int
key_list(int argc, char **argv)
{
	struct cli_opts	 o = { 0 };
	struct datadir	 dd;
	int		 rc;

	rc = cli_args("key list", argc, argv, &o, NULL, NULL, key_usage);
	if (rc != EXIT_OK)
		return rc == CLI_HELP ? EXIT_OK : rc;
	rc = cli_open(&o, &dd, NULL, 0);
	if (rc != EXIT_OK)
		return rc;
	rc = key_list_run(&dd, o.json);
	datadir_close(&dd);
	return rc;
}

static int
key_revoke(int argc, char **argv)
{
	return cli_revoke("key revoke", argc, argv, key_usage, "API key", store_apikey_revoke,
	    "it stops working at once");
}

int
cmd_key(int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "create", key_create },
		{ "list", key_list },
		{ "revoke", key_revoke },
		{ NULL, NULL },
	};

	return cli_dispatch("key", argc, argv, subs, key_usage);
}
