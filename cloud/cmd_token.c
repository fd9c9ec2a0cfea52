#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cli.h"
#include "cloud.h"
#include "cloudconf.h"
#include "datadir.h"
#include "duration.h"
#include "error.h"
#include "pki.h"
#include "store.h"
#include "token.h"
#include "tokens.h"

#define TOKEN_TTL_DEFAULT	"24h"
#define TOKEN_TTL_MAX		(365 * 86400)

static void
token_usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-cloud token create --site NAME [--ttl DURATION] [WHERE] [--json]\n"
"       uplink-cloud token list [WHERE] [--json]\n"
"       uplink-cloud token revoke ID [WHERE] [--json]\n"
"WHERE: --data-dir DIR | --config FILE\n"
"\n"
"Enrollment tokens let a connector join a site, once. A token carries the\n"
"cloud's URL, the pin of the certificate the cloud presents, and a secret of\n"
"which the cloud keeps only a hash.\n"
"\n"
"  create       make a token and print it on stdout (one line); a note on\n"
"               stderr says how to use it. The site is created if missing.\n"
"  list         every token with its state: valid, used, expired, revoked\n"
"  revoke ID    make an unused token useless (ID as \"token list\" shows)\n"
"\n"
"  --site NAME      the site the connector joins: 1-63 letters, digits,\n"
"                   '.', '_' or '-'\n"
"  --ttl DURATION   how long the token may be used, e.g. 30m, 24h, 7d\n"
"                   (default %s, at most 365d)\n"
"  --data-dir DIR   the data directory made by \"uplink-cloud init\"\n"
"  --config FILE    the configuration file the service runs with (its\n"
"                   data_dir, and its cert = chain for the pin)\n"
"  --json           print JSON instead: create prints\n"
"                   {\"token\",\"id\",\"site\",\"expires_at\"}\n"
"\n"
"With neither --data-dir nor --config, %s is read when it exists,\n"
"else %s is used.\n"
"\n"
"The pin is that of the uplink CA (DIR/ca.pem), or, when the configuration\n"
"has cert = FILE (an operator's chain), of the last certificate in FILE.\n"
"\n"
"Examples:\n"
"  uplink-cloud token create --config /etc/uplink/cloud.conf --site hq\n"
"  uplink-cloud token create --data-dir /var/lib/uplink-cloud --site lab \\\n"
"      --ttl 1h --json\n"
"  uplink-cloud token revoke t-3f9a0c1d2e4b --data-dir /var/lib/uplink-cloud\n"
"\n"
"Then, on the connector's host: uplink-connector enroll --token TOKEN\n",
	    TOKEN_TTL_DEFAULT, CLOUDCONF_DEFAULT_PATH, CLOUDCONF_DEFAULT_DATA);
}

/* What "token create" was asked for. */
struct token_req {
	struct cli_opts	 o;
	const char	*site;
	int64_t		 ttl;
};

static int
token_create_args(int argc, char **argv, struct token_req *r)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "site",	required_argument,	NULL, 's' },
		{ "ttl",	required_argument,	NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char	*ttl = TOKEN_TTL_DEFAULT;
	char		 err[256];
	int		 ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_common_opt(ch, &r->o))
			continue;
		if (ch == 's')
			r->site = optarg;
		else if (ch == 't')
			ttl = optarg;
		else if (ch == CLI_OPT_HELP) {
			token_usage(stdout);
			return CLI_HELP;
		} else
			return cli_bad_option("token create", argv);
	}
	if (optind < argc)
		return cli_usage("token create", "unexpected argument \"%s\"",
		    argv[optind]);
	if (r->site == NULL)
		return cli_usage("token create", "--site NAME is required");
	if (!store_name_check("--site", r->site, err, sizeof(err)))
		return cli_usage("token create", "%s", err);
	if (duration_parse(ttl, "--ttl", &r->ttl, err, sizeof(err)) !=
	    UPLINK_OK)
		return cli_usage("token create", "%s", err);
	if (r->ttl > TOKEN_TTL_MAX)
		return cli_usage("token create", "--ttl %s is longer than 365d;"
		    " tokens are meant to be used soon after they are made",
		    ttl);
	return EXIT_OK;
}

/* Makes the token and records it; the text is only ever on stdout. */
static int
token_make(struct datadir *dd, const char *conf, const struct token_req *r,
    struct token_made *m)
{
	char	 err[1024];

	if (token_issue(dd, conf, r->site, r->ttl, m, err, sizeof(err)) !=
	    UPLINK_OK)
		return cli_fail("%s", err);
	return EXIT_OK;
}

static int
token_print(const struct token_req *r, const struct token_made *m)
{
	char	 when[CLI_TIME_SIZE], ttl[DURATION_TEXT_SIZE];

	if (r->o.json)
		return cli_json_print(json_pack("{s:s, s:s, s:s, s:I}",
		    "token", m->text, "id", m->id, "site", r->site,
		    "expires_at", (json_int_t)m->expires_at));
	printf("%s\n", m->text);
	fflush(stdout);
	duration_format(r->ttl, ttl, sizeof(ttl));
	fprintf(stderr, "uplink-cloud: token %s enrolls one connector into "
	    "site \"%s\" until %s (%s).\nIt pins the certificate in %s.\n"
	    "On the connector's host run: uplink-connector enroll --token "
	    "TOKEN\n", m->id, r->site, cli_time(m->expires_at, when), ttl,
	    m->source);
	return EXIT_OK;
}

static int
token_create(int argc, char **argv)
{
	struct token_req	 r;
	struct token_made	 m;
	struct datadir		 dd;
	char			 conf[DATADIR_PATH_MAX], when[CLI_TIME_SIZE];
	int			 rc;

	memset(&r, 0, sizeof(r));
	memset(&m, 0, sizeof(m));
	rc = token_create_args(argc, argv, &r);
	if (rc != EXIT_OK)
		return rc == CLI_HELP ? EXIT_OK : rc;
	rc = cli_open(&r.o, &dd, conf, sizeof(conf));
	if (rc != EXIT_OK)
		return rc;
	rc = token_make(&dd, conf, &r, &m);
	if (rc == EXIT_OK)
		cli_audit(&dd, "token.create", m.id, "site %s, valid until %s",
		    r.site, cli_time(m.expires_at, when));
	datadir_close(&dd);
	if (rc == EXIT_OK)
		rc = token_print(&r, &m);
	sodium_memzero(m.text, sizeof(m.text));
	return rc;
}

static int
token_row_json(void *arg, const struct store_token *t)
{
	json_t	*o;

	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:s?, s:o}", "id",
	    t->id, "site", t->site_name, "state", token_state(t, time(NULL)),
	    "created_at", (json_int_t)t->created_at, "expires_at",
	    (json_int_t)t->expires_at, "used_at", cli_json_time(t->used_at),
	    "used_by", t->used_by[0] != '\0' ? t->used_by : NULL,
	    "revoked_at", cli_json_time(t->revoked_at));
	if (o == NULL || json_array_append_new(arg, o) != 0)
		return UPLINK_ENOMEM;
	return 0;
}

static int
token_row_text(void *arg, const struct store_token *t)
{
	char	 c[CLI_TIME_SIZE], e[CLI_TIME_SIZE], u[CLI_TIME_SIZE];
	char	 r[CLI_TIME_SIZE];

	cli_table_row(arg, t->id, t->site_name, token_state(t, time(NULL)),
	    cli_time(t->created_at, c), cli_time(t->expires_at, e),
	    cli_time(t->used_at, u), t->used_by[0] != '\0' ? t->used_by : "-",
	    cli_time(t->revoked_at, r));
	return 0;
}

static int
token_list_run(struct datadir *dd, int json)
{
	struct cli_table	 t;
	json_t			*a;
	char			 err[1024];
	int			 rc;

	if (json) {
		a = json_array();
		rc = a != NULL ? store_token_list(dd->st, token_row_json, a,
		    err, sizeof(err)) : UPLINK_ENOMEM;
		if (rc == UPLINK_OK)
			return cli_json_print(a);
		json_decref(a);
		return cli_fail("%s", rc == UPLINK_ENOMEM ? "out of memory" :
		    err);
	}
	cli_table_init(&t, 8, "ID", "SITE", "STATE", "CREATED", "EXPIRES",
	    "USED", "USED BY", "REVOKED");
	rc = store_token_list(dd->st, token_row_text, &t, err, sizeof(err));
	if (rc == UPLINK_OK)
		cli_table_print(&t, stdout, "no enrollment tokens; make one "
		    "with \"uplink-cloud token create --site NAME\"");
	cli_table_free(&t);
	return rc == UPLINK_OK ? EXIT_OK : cli_fail("%s", err);
}

static int
token_list(int argc, char **argv)
{
	struct cli_opts	 o = { 0 };
	struct datadir	 dd;
	int		 rc;

	rc = cli_args("token list", argc, argv, &o, NULL, NULL, token_usage);
	if (rc != EXIT_OK)
		return rc == CLI_HELP ? EXIT_OK : rc;
	rc = cli_open(&o, &dd, NULL, 0);
	if (rc != EXIT_OK)
		return rc;
	rc = token_list_run(&dd, o.json);
	datadir_close(&dd);
	return rc;
}

static int
token_revoke(int argc, char **argv)
{
	return cli_revoke("token revoke", argc, argv, token_usage, "token", store_token_revoke,
	    "it can no longer enroll a connector");
}

int
cmd_token(int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "create", token_create },
		{ "list", token_list },
		{ "revoke", token_revoke },
		{ NULL, NULL },
	};

	return cli_dispatch("token", argc, argv, subs, token_usage);
}
