#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cloud.h"
#include "cloudconf.h"
#include "datadir.h"
#include "error.h"
#include "store.h"
#include "xmalloc.h"

static void
connector_usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-cloud connector list [WHERE] [--json]\n"
"       uplink-cloud connector revoke ID [WHERE] [--json]\n"
"WHERE: --data-dir DIR | --config FILE\n"
"\n"
"  list         every enrolled connector: id, site, name, the serial and\n"
"               expiry of its current certificate, when it was last seen,\n"
"               when it was revoked, and its software version\n"
"  revoke ID    revoke a connector (ID as \"connector list\" shows, c-...)\n"
"               and every certificate it was issued. A running uplink-cloud\n"
"               notices within a second: it closes the connector's tunnels\n"
"               and lists its certificates in the CRL it serves. A revoked\n"
"               connector can only come back by enrolling with a new token.\n"
"\n"
"  --data-dir DIR   the data directory made by \"uplink-cloud init\"\n"
"  --config FILE    the configuration file (its data_dir)\n"
"  --json           print JSON: list prints an array of objects with the\n"
"                   fields id, site, name, cert_serial, not_after,\n"
"                   last_seen, revoked_at, version (times as Unix seconds\n"
"                   or null)\n"
"\n"
"With neither --data-dir nor --config, %s is read when it exists,\n"
"else %s is used.\n"
"\n"
"Examples:\n"
"  uplink-cloud connector list --config /etc/uplink/cloud.conf\n"
"  uplink-cloud connector revoke c-5be2a7d0913f --data-dir /var/lib/uplink-cloud\n",
	    CLOUDCONF_DEFAULT_PATH, CLOUDCONF_DEFAULT_DATA);
}

/* Connectors read in one walk; site names are looked up afterwards. */
struct connector_rows {
	struct store_connector	*c;
	size_t			 n, cap;
};

static int
connector_collect(void *arg, const struct store_connector *c)
{
	struct connector_rows	*r = arg;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 32;
		r->c = xrealloc(r->c, r->cap * sizeof(*r->c));
	}
	r->c[r->n++] = *c;
	return 0;
}

static json_t *
connector_json(const struct store_connector *c, const char *site)
{
	return json_pack("{s:s, s:s, s:s, s:s?, s:o, s:o, s:o, s:s?}", "id",
	    c->id, "site", site, "name", c->name, "cert_serial",
	    c->cert_serial[0] != '\0' ? c->cert_serial : NULL, "not_after",
	    cli_json_time(c->cert_not_after), "last_seen",
	    cli_json_time(c->last_seen), "revoked_at",
	    cli_json_time(c->revoked_at), "version", c->version[0] != '\0' ?
	    c->version : NULL);
}

static void
connector_text(struct cli_table *t, const struct store_connector *c,
    const char *site)
{
	char	 na[CLI_TIME_SIZE], ls[CLI_TIME_SIZE], rv[CLI_TIME_SIZE];

	cli_table_row(t, c->id, site, c->name, c->cert_serial[0] != '\0' ?
	    c->cert_serial : "-", cli_time(c->cert_not_after, na),
	    cli_time(c->last_seen, ls), cli_time(c->revoked_at, rv),
	    c->version[0] != '\0' ? c->version : "-");
}

static int
connector_site(struct datadir *dd, const struct store_connector *c,
    char site[STORE_NAME_MAX + 1])
{
	char	 err[1024];

	if (store_site_name(dd->st, c->site_id, site, err, sizeof(err)) !=
	    UPLINK_OK)
		return cli_fail("%s", err);
	return EXIT_OK;
}

static int
connector_print_json(struct datadir *dd, const struct connector_rows *r)
{
	json_t	*a = json_array();
	char	 site[STORE_NAME_MAX + 1];
	size_t	 i;

	for (i = 0; i < r->n && a != NULL; i++) {
		if (connector_site(dd, &r->c[i], site) != EXIT_OK) {
			json_decref(a);
			return EXIT_FAILED;
		}
		if (json_array_append_new(a, connector_json(&r->c[i],
		    site)) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return cli_json_print(a);
}

static int
connector_print_text(struct datadir *dd, const struct connector_rows *r)
{
	struct cli_table	 t;
	char			 site[STORE_NAME_MAX + 1];
	size_t			 i;
	int			 rc = EXIT_OK;

	cli_table_init(&t, 8, "ID", "SITE", "NAME", "CERT SERIAL", "NOT AFTER",
	    "LAST SEEN", "REVOKED", "VERSION");
	for (i = 0; i < r->n && rc == EXIT_OK; i++) {
		rc = connector_site(dd, &r->c[i], site);
		if (rc == EXIT_OK)
			connector_text(&t, &r->c[i], site);
	}
	if (rc == EXIT_OK)
		cli_table_print(&t, stdout, "no connectors; make a token with "
		    "\"uplink-cloud token create --site NAME\" and enroll one");
	cli_table_free(&t);
	return rc;
}

static int
connector_list(int argc, char **argv)
{
	struct connector_rows	 r = { 0 };
	struct cli_opts		 o = { 0 };
	struct datadir		 dd;
	char			 err[1024];
	int			 rc;

	rc = cli_args("connector list", argc, argv, &o, NULL, NULL,
	    connector_usage);
	if (rc != EXIT_OK)
		return rc == CLI_HELP ? EXIT_OK : rc;
	rc = cli_open(&o, &dd, NULL, 0);
	if (rc != EXIT_OK)
		return rc;
	if (store_connector_list(dd.st, 0, connector_collect, &r, err,
	    sizeof(err)) != UPLINK_OK)
		rc = cli_fail("%s", err);
	else if (o.json)
		rc = connector_print_json(&dd, &r);
	else
		rc = connector_print_text(&dd, &r);
	free(r.c);
	datadir_close(&dd);
	return rc;
}

/* Revokes id; c and site get what it was, for the message. */
static int
connector_revoke_run(struct datadir *dd, const char *id, int64_t now,
    struct store_connector *c, char site[STORE_NAME_MAX + 1])
{
	char	 err[1024];

	if (store_connector_get(dd->st, id, c, err, sizeof(err)) != UPLINK_OK ||
	    store_site_name(dd->st, c->site_id, site, err, sizeof(err)) !=
	    UPLINK_OK || store_connector_revoke(dd->st, id, now, err,
	    sizeof(err)) != UPLINK_OK)
		return cli_fail("%s", err);
	/* The timeline's entry; the revocation stands without it. */
	(void)store_event_add(dd->st, id, "revoked", "by the command line",
	    err, sizeof(err));
	return EXIT_OK;
}

static int
connector_revoke(int argc, char **argv)
{
	struct store_connector	 c;
	struct cli_opts		 o = { 0 };
	struct datadir		 dd;
	const char		*id;
	char			 site[STORE_NAME_MAX + 1];
	int64_t			 now = time(NULL);
	int			 rc;

	rc = cli_args("connector revoke", argc, argv, &o, &id, "connector id",
	    connector_usage);
	if (rc != EXIT_OK)
		return rc == CLI_HELP ? EXIT_OK : rc;
	rc = cli_open(&o, &dd, NULL, 0);
	if (rc != EXIT_OK)
		return rc;
	rc = connector_revoke_run(&dd, id, now, &c, site);
	datadir_close(&dd);
	if (rc != EXIT_OK)
		return rc;
	if (o.json)
		return cli_json_print(json_pack("{s:s, s:s, s:s, s:I}", "id",
		    c.id, "site", site, "name", c.name, "revoked_at",
		    (json_int_t)now));
	printf("revoked connector %s (\"%s\", site \"%s\") and its "
	    "certificates.\nA running uplink-cloud closes its tunnels within a "
	    "second and lists its certificates in the CRL.\n", c.id, c.name,
	    site);
	return EXIT_OK;
}

int
cmd_connector(int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "list", connector_list },
		{ "revoke", connector_revoke },
		{ NULL, NULL },
	};

	return cli_dispatch("connector", argc, argv, subs, connector_usage);
}
