#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "cloud.h"
#include "cloudconf.h"
#include "datadir.h"
#include "error.h"
#include "rest.h"
#include "store.h"

/*
 * uplink-cloud admin: the administrators of the web console and the API,
 * from the command line — above all the first one, who then adds the
 * others in the console. Passwords never go on the command line (where
 * ps shows them): from a file or standard input.
 */

static void
admin_usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-cloud admin add --email EMAIL [--role full|read]\n"
"                              [--password-file FILE] [WHERE] [--json]\n"
"       uplink-cloud admin list [WHERE] [--json]\n"
"       uplink-cloud admin remove --email EMAIL [WHERE]\n"
"       uplink-cloud admin password --email EMAIL [--password-file FILE] [WHERE]\n"
"WHERE: --data-dir DIR | --config FILE\n"
"\n"
"Administrators sign in to the web console (https://CLOUD/) with their\n"
"e-mail address and password. Role full may change everything; role read\n"
"may only look. Passwords have at least 12 characters and are stored as\n"
"argon2id hashes. A running uplink-cloud sees changes at once.\n"
"\n"
"  add        add an administrator (role full unless --role read)\n"
"  list       every administrator: id, e-mail, role, last sign-in\n"
"  remove     remove one and end its sessions (not the last full one)\n"
"  password   set a new password and end that administrator's sessions\n"
"\n"
"  --password-file FILE   read the password from the first line of FILE;\n"
"                         without it, from the first line of standard input\n"
"  --data-dir DIR         the data directory made by \"uplink-cloud init\"\n"
"  --config FILE          the configuration file (its data_dir)\n"
"  --json                 print JSON\n"
"\n"
"With neither --data-dir nor --config, %s is read when it exists,\n"
"else %s is used.\n"
"\n"
"Example:\n"
"  printf '%%s\\n' 'correct horse battery' | \\\n"
"      uplink-cloud admin add --email ana@example.net --config /etc/uplink/cloud.conf\n",
	    CLOUDCONF_DEFAULT_PATH, CLOUDCONF_DEFAULT_DATA);
}

struct admin_req {
	struct cli_opts	 o;
	const char	*email;
	const char	*role;
	const char	*pwfile;
};

static int
admin_args(const char *cmd, int argc, char **argv, struct admin_req *r)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "email",		required_argument, NULL, 'e' },
		{ "role",		required_argument, NULL, 'r' },
		{ "password-file",	required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	char	 err[256];
	int	 ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_common_opt(ch, &r->o))
			continue;
		if (ch == 'e')
			r->email = optarg;
		else if (ch == 'r')
			r->role = optarg;
		else if (ch == 'p')
			r->pwfile = optarg;
		else if (ch == CLI_OPT_HELP) {
			admin_usage(stdout);
			return CLI_HELP;
		} else
			return cli_bad_option(cmd, argv);
	}
	if (optind < argc)
		return cli_usage(cmd, "unexpected argument \"%s\"", argv[optind]);
	if (strcmp(cmd, "admin list") == 0)
		return EXIT_OK;
	if (r->email == NULL)
		return cli_usage(cmd, "--email EMAIL is required");
	if (!admin_email_check(r->email, err, sizeof(err)))
		return cli_usage(cmd, "--email: %s", err);
	if (r->role != NULL && strcmp(r->role, "full") != 0 &&
	    strcmp(r->role, "read") != 0)
		return cli_usage(cmd, "--role is full or read, not \"%s\"",
		    r->role);
	return EXIT_OK;
}

/* Reads the password's first line from the file or stdin and hashes it. */
static int
admin_password(const struct admin_req *r, char hash[STORE_PWHASH_MAX + 1])
{
	char	 pw[1100], err[256];
	FILE	*fp = stdin;
	size_t	 n;
	int	 rc = EXIT_OK;

	if (r->pwfile != NULL && (fp = fopen(r->pwfile, "r")) == NULL)
		return cli_fail("cannot read the password from %s: %s",
		    r->pwfile, strerror(errno));
	if (r->pwfile == NULL && isatty(0))
		fprintf(stderr, "password (at least 12 characters): ");
	if (fgets(pw, sizeof(pw), fp) == NULL)
		rc = cli_fail("no password on %s: give it on the first line",
		    r->pwfile ? r->pwfile : "standard input");
	if (fp != stdin)
		fclose(fp);
	if (rc != EXIT_OK)
		return rc;
	n = strcspn(pw, "\r\n");
	pw[n] = '\0';
	if (!admin_password_check(pw, r->email, err, sizeof(err)))
		rc = cli_fail("%s", err);
	else if (admin_hash(pw, hash) != 0)
		rc = cli_fail("out of memory hashing the password");
	sodium_memzero(pw, sizeof(pw));
	return rc;
}

static int
admin_add(int argc, char **argv)
{
	struct admin_req	 r = { 0 };
	struct store_admin	 a;
	struct datadir		 dd;
	char			 err[512];
	int64_t			 id;
	int			 rc;

	rc = admin_args("admin add", argc, argv, &r);
	if (rc != EXIT_OK)
		return rc == CLI_HELP ? EXIT_OK : rc;
	memset(&a, 0, sizeof(a));
	rc = admin_password(&r, a.pwhash);
	if (rc != EXIT_OK)
		return rc;
	rc = cli_open(&r.o, &dd, NULL, 0);
	if (rc != EXIT_OK)
		return rc;
	snprintf(a.email, sizeof(a.email), "%s", r.email);
	snprintf(a.role, sizeof(a.role), "%s", r.role ? r.role : "full");
	if (store_admin_add(dd.st, &a, &id, err, sizeof(err)) != UPLINK_OK)
		rc = cli_fail("%s", err);
	else
		cli_audit(&dd, "admin.create", a.email, "%s", a.role);
	datadir_close(&dd);
	if (rc != EXIT_OK)
		return rc;
	if (r.o.json)
		return cli_json_print(json_pack("{s:I, s:s, s:s}", "id",
		    (json_int_t)id, "email", a.email, "role", a.role));
	printf("added administrator %s (role %s); sign in at the console, "
	    "https://CLOUD/\n", a.email, a.role);
	return EXIT_OK;
}

struct admin_rows {
	json_t		*arr;
	struct cli_table t;
};

static int
admin_row(void *arg, const struct store_admin *a)
{
	struct admin_rows	*rows = arg;
	char			 id[24], c1[CLI_TIME_SIZE], c2[CLI_TIME_SIZE];

	json_array_append_new(rows->arr, json_pack("{s:I, s:s, s:s, s:I, s:o}",
	    "id", (json_int_t)a->id, "email", a->email, "role", a->role,
	    "created_at", (json_int_t)a->created_at, "last_sign_in",
	    cli_json_time(a->last_sign_in)));
	snprintf(id, sizeof(id), "%lld", (long long)a->id);
	cli_table_row(&rows->t, id, a->email, a->role, cli_time(a->created_at,
	    c1), cli_time(a->last_sign_in, c2));
	return 0;
}

static int
admin_list(int argc, char **argv)
{
	struct admin_req	 r = { 0 };
	struct admin_rows	 rows;
	struct datadir		 dd;
	char			 err[512];
	int			 rc;

	rc = admin_args("admin list", argc, argv, &r);
	if (rc != EXIT_OK)
		return rc == CLI_HELP ? EXIT_OK : rc;
	rc = cli_open(&r.o, &dd, NULL, 0);
	if (rc != EXIT_OK)
		return rc;
	rows.arr = json_array();
	cli_table_init(&rows.t, 5, "ID", "E-MAIL", "ROLE", "ADDED",
	    "LAST SIGN-IN");
	if (store_admin_list(dd.st, admin_row, &rows, err, sizeof(err)) !=
	    UPLINK_OK)
		rc = cli_fail("%s", err);
	datadir_close(&dd);
	if (rc == EXIT_OK && r.o.json) {
		rc = cli_json_print(json_pack("{s:O}", "admins", rows.arr));
	} else if (rc == EXIT_OK)
		cli_table_print(&rows.t, stdout, "no administrators yet: add "
		    "one with \"uplink-cloud admin add --email EMAIL\"");
	json_decref(rows.arr);
	cli_table_free(&rows.t);
	return rc;
}

/* remove and password: find the administrator, then change it. */
static int
admin_change(const char *cmd, int argc, char **argv, bool remove)
{
	struct admin_req	 r = { 0 };
	struct store_admin	 a;
	struct datadir		 dd;
	char			 err[512], hash[STORE_PWHASH_MAX + 1];
	int			 rc;

	rc = admin_args(cmd, argc, argv, &r);
	if (rc != EXIT_OK)
		return rc == CLI_HELP ? EXIT_OK : rc;
	if (!remove && (rc = admin_password(&r, hash)) != EXIT_OK)
		return rc;
	rc = cli_open(&r.o, &dd, NULL, 0);
	if (rc != EXIT_OK)
		return rc;
	if (store_admin_find(dd.st, r.email, &a, err, sizeof(err)) !=
	    UPLINK_OK)
		rc = cli_fail("%s", err);
	else if (remove && store_admin_delete(dd.st, a.id, err, sizeof(err))
	    != UPLINK_OK)
		rc = cli_fail("%s", err);
	else if (!remove && store_admin_update(dd.st, a.id, NULL, hash, NULL,
	    err, sizeof(err)) != UPLINK_OK)
		rc = cli_fail("%s", err);
	if (rc == EXIT_OK)
		cli_audit(&dd, remove ? "admin.delete" : "admin.update",
		    a.email, "%s", remove ? "removed" : "password");
	datadir_close(&dd);
	if (rc == EXIT_OK)
		printf("%s administrator %s; its sessions have ended\n",
		    remove ? "removed" : "set a new password for", a.email);
	return rc;
}

static int
admin_remove(int argc, char **argv)
{
	return admin_change("admin remove", argc, argv, true);
}

static int
admin_setpw(int argc, char **argv)
{
	return admin_change("admin password", argc, argv, false);
}

int
cmd_admin(int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "add", admin_add },
		{ "list", admin_list },
		{ "remove", admin_remove },
		{ "password", admin_setpw },
		{ NULL, NULL },
	};

	return cli_dispatch("admin", argc, argv, subs, admin_usage);
}
