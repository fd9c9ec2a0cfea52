#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "atomicfile.h"
#include "buf.h"
#include "cli.h"
#include "cloud.h"
#include "cloudconf.h"
#include "crl.h"
#include "datadir.h"
#include "error.h"
#include "hostport.h"
#include "pki.h"
#include "store.h"
#include "token.h"
#include "xmalloc.h"

#define INIT_NAMES_MAX		32
#define INIT_CA_DAYS		3650
#define INIT_DB_TMP		DATADIR_DB ".init"
#define INIT_INGRESS		"127.0.0.1:3128"
#define INIT_PATH		(DATADIR_PATH_MAX + 32)

static void
init_usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-cloud init --data-dir DIR --name HOST[,HOST...] [--port N]\n"
"         [--http-port N] [--listen ADDR] [--cert CHAIN.pem --key KEY.pem]\n"
"         [--store URL [--store-password-file FILE]]\n"
"\n"
"Creates the data directory of a new uplink cloud (mode 0700):\n"
"  ca.key, ca.pem          the uplink CA, which signs connector certificates\n"
"                          and the CRL (key mode 0600)\n"
"  server.key, server.pem  the cloud's TLS certificate for every HOST, signed\n"
"                          by the CA; server.pem holds it and then the CA;\n"
"                          valid 397 days, renewed by \"uplink-cloud run\"\n"
"                          when a third of that is left\n"
"  uplink.db               the database (sites, connectors, tokens, keys)\n"
"  cloud.conf              a commented configuration for \"uplink-cloud run\"\n"
"Files are written whole (temporary file, then rename). init refuses a\n"
"directory that already holds a CA or a database: a new CA would cut off\n"
"every enrolled connector.\n"
"\n"
"  --data-dir DIR   the directory to create (or an empty one)\n"
"  --name HOSTS     the names (or addresses) connectors use to reach the\n"
"                   cloud, comma-separated; the first one goes into the\n"
"                   cloud's URL https://HOST[:PORT], which tokens carry,\n"
"                   and its CRL URL http://HOST[:HTTP-PORT]/crl\n"
"  --port N         TLS port: enrollment, renewal, tunnels (default 443)\n"
"  --http-port N    plain HTTP port serving /ca.pem and /crl (default 80)\n"
"  --listen ADDR    the address both listen on (default 0.0.0.0; [::] for\n"
"                   IPv6). The ingress proxy listens on %s.\n"
"  --cert FILE      present this certificate chain (PEM, leaf first)\n"
"                   instead of server.pem, e.g. one from a public CA\n"
"  --key FILE       the private key of --cert's leaf\n"
"  --store URL      keep the database in PostgreSQL (postgresql://USER@HOST/DB\n"
"                   or a libpq conninfo) instead of DIR/uplink.db; init\n"
"                   creates the schema there and writes [store] url into\n"
"                   cloud.conf\n"
"  --store-password-file FILE  the file holding the database password\n"
"                   (never put it in the URL)\n"
"\n"
"With --cert, tokens pin the last certificate of the chain, and neither\n"
"server.pem nor server.key is made; cloud.conf names the files given.\n"
"\n"
"Examples:\n"
"  uplink-cloud init --data-dir /var/lib/uplink-cloud \\\n"
"      --name cloud.example.com,203.0.113.7\n"
"  uplink-cloud init --data-dir /srv/uplink --name cloud.example.com \\\n"
"      --port 8443 --http-port 8080 --cert /etc/ssl/cloud/fullchain.pem \\\n"
"      --key /etc/ssl/cloud/privkey.pem\n",
	    INIT_INGRESS);
}

struct init_req {
	const char	*dir;
	char		*names_buf;
	const char	*names[INIT_NAMES_MAX];
	size_t		 nnames;
	uint16_t	 port, http_port;
	const char	*listen;
	const char	*cert, *key;
	const char	*store, *store_pw;	/* --store, --store-password-file */
	char		 abs_dir[PATH_MAX];
	char		 abs_cert[PATH_MAX], abs_key[PATH_MAX];
	char		 url[DATADIR_URL_MAX], crl_url[DATADIR_URL_MAX];
	char		 tls_listen[HOSTPORT_HOST_MAX + 16];
	char		 http_listen[HOSTPORT_HOST_MAX + 16];
};

/* The files init made so far, removed again if a later step fails. */
struct init_made {
	char	 path[8][INIT_PATH];
	size_t	 n;
};

struct init_pki {
	EVP_PKEY	*ca_key, *srv_key;
	X509		*ca_cert, *srv_cert;
};

static bool
init_name_ok(const char *name)
{
	enum host_kind	 kind = host_classify(name);

	if (kind != HOST_NAME)
		return true;
	if (strncmp(name, "*.", 2) == 0)
		name += 2;
	return host_name_valid(name);
}

/* Splits --name at commas into r->names, checking each. */
static int
init_names(struct init_req *r, const char *arg)
{
	char	*p, *name;

	r->names_buf = xstrdup(arg);
	for (p = r->names_buf; p != NULL; ) {
		name = p;
		p = strchr(p, ',');
		if (p != NULL)
			*p++ = '\0';
		if (*name == '\0')
			return cli_usage("init", "--name has an empty entry; "
			    "separate names with single commas");
		if (!init_name_ok(name))
			return cli_usage("init", "--name \"%s\" is neither a "
			    "host name nor an IP address", name);
		if (r->nnames == INIT_NAMES_MAX)
			return cli_usage("init", "--name has more than %d "
			    "names", INIT_NAMES_MAX);
		r->names[r->nnames++] = name;
	}
	if (strncmp(r->names[0], "*.", 2) == 0)
		return cli_usage("init", "the first --name goes into the "
		    "cloud's URL, so it cannot be a wildcard; put a plain host "
		    "name first");
	return EXIT_OK;
}

static int
init_port(const char *opt, const char *s, uint16_t *port)
{
	if (!port_parse(s, strlen(s), port))
		return cli_usage("init", "%s \"%s\" is not a port (1-65535)",
		    opt, s);
	return EXIT_OK;
}

static int
init_option(struct init_req *r, int ch)
{
	switch (ch) {
	case 'd':
		r->dir = optarg;
		return EXIT_OK;
	case 'n':
		return r->nnames > 0 ? cli_usage("init", "give --name once, "
		    "with commas between names") : init_names(r, optarg);
	case 'p':
		return init_port("--port", optarg, &r->port);
	case 'P':
		return init_port("--http-port", optarg, &r->http_port);
	case 'l':
		r->listen = optarg;
		return EXIT_OK;
	case 'c':
		r->cert = optarg;
		return EXIT_OK;
	case 'k':
		r->key = optarg;
		return EXIT_OK;
	case 's':
		r->store = optarg;
		return EXIT_OK;
	case 'S':
		r->store_pw = optarg;
		return EXIT_OK;
	case 'h':
		init_usage(stdout);
		return CLI_HELP;
	}
	return EXIT_USAGE;
}

static int
init_args(int argc, char **argv, struct init_req *r)
{
	static const struct option opts[] = {
		{ "data-dir",	required_argument,	NULL, 'd' },
		{ "name",	required_argument,	NULL, 'n' },
		{ "port",	required_argument,	NULL, 'p' },
		{ "http-port",	required_argument,	NULL, 'P' },
		{ "listen",	required_argument,	NULL, 'l' },
		{ "cert",	required_argument,	NULL, 'c' },
		{ "key",	required_argument,	NULL, 'k' },
		{ "store",	required_argument,	NULL, 's' },
		{ "store-password-file", required_argument, NULL, 'S' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int	 ch, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		rc = init_option(r, ch);
		if (rc == EXIT_USAGE && ch == '?')
			return cli_bad_option("init", argv);
		if (rc != EXIT_OK)
			return rc;
	}
	if (optind < argc)
		return cli_usage("init", "unexpected argument \"%s\"",
		    argv[optind]);
	if (r->dir == NULL || r->nnames == 0)
		return cli_usage("init", "--data-dir DIR and --name HOST are "
		    "required");
	if ((r->cert == NULL) != (r->key == NULL))
		return cli_usage("init", "give --cert and --key together");
	if (r->store != NULL && !store_url_is_pg(r->store))
		return cli_usage("init", "--store \"%s\" is not a PostgreSQL URL "
		    "(postgresql://USER@HOST/DB) or conninfo; without --store "
		    "the database is DIR/uplink.db", r->store);
	if (r->store_pw != NULL && r->store == NULL)
		return cli_usage("init", "--store-password-file needs --store");
	return EXIT_OK;
}

/* The URLs in the settings and the listen lines of cloud.conf. */
static int
init_addresses(struct init_req *r)
{
	struct hostport	 hp;
	char		 host[HOSTPORT_HOST_MAX + 16], why[256];

	hostport_format(host, sizeof(host), r->names[0], r->port == 443 ? 0 :
	    r->port);
	snprintf(r->url, sizeof(r->url), "https://%s", host);
	if (!token_url_check(r->url, why, sizeof(why)))
		return cli_usage("init", "the cloud's URL %s, from the first "
		    "--name, does not work in a token: %s", r->url, why);
	hostport_format(host, sizeof(host), r->names[0], r->http_port == 80 ?
	    0 : r->http_port);
	if (snprintf(r->crl_url, sizeof(r->crl_url), "http://%s/crl", host) >=
	    (int)sizeof(r->crl_url))
		return cli_usage("init", "the first --name is too long for "
		    "the CRL URL");
	if (hostport_parse(r->listen, 0, &hp, why, sizeof(why)) != UPLINK_OK)
		return cli_usage("init", "--listen \"%s\": %s", r->listen, why);
	if (hp.port != 0)
		return cli_usage("init", "--listen takes an address only; the "
		    "ports are --port and --http-port");
	hostport_format(r->tls_listen, sizeof(r->tls_listen), hp.host,
	    r->port);
	hostport_format(r->http_listen, sizeof(r->http_listen), hp.host,
	    r->http_port);
	return EXIT_OK;
}

/*
 * An operator's chain must be usable before anything is written: its key
 * must match its leaf, and the leaf should cover the first name (only a
 * warning: the name may be served through a load balancer).
 */
static int
init_operator_chain(struct init_req *r)
{
	unsigned char	 pin[PKI_PIN_LEN];
	EVP_PKEY	*key = NULL;
	X509		*leaf = NULL;
	char		 err[1024];
	int		 rc = EXIT_FAILED;

	if (realpath(r->cert, r->abs_cert) == NULL)
		return cli_fail("--cert %s: %s", r->cert, strerror(errno));
	if (realpath(r->key, r->abs_key) == NULL)
		return cli_fail("--key %s: %s", r->key, strerror(errno));
	if (pki_cert_load(r->abs_cert, &leaf, err, sizeof(err)) != UPLINK_OK ||
	    pki_key_load(r->abs_key, &key, err, sizeof(err)) != UPLINK_OK ||
	    datadir_anchor_pin(r->abs_cert, pin, NULL, err, sizeof(err)) !=
	    UPLINK_OK)
		cli_fail("%s", err);
	else if (X509_check_private_key(leaf, key) != 1)
		cli_fail("%s is not the key of the first certificate in %s: "
		    "give the key that goes with the leaf", r->abs_key,
		    r->abs_cert);
	else
		rc = EXIT_OK;
	if (rc == EXIT_OK && X509_check_host(leaf, r->names[0], 0, 0,
	    NULL) != 1 && X509_check_ip_asc(leaf, r->names[0], 0) != 1)
		fprintf(stderr, "uplink-cloud: warning: the first certificate "
		    "in %s is not valid for %s; connectors will refuse it "
		    "unless something in front of the cloud presents one that "
		    "is\n", r->abs_cert, r->names[0]);
	X509_free(leaf);
	EVP_PKEY_free(key);
	return rc;
}

static const char *const init_files[] = {
	DATADIR_CA_KEY, DATADIR_CA_CERT, DATADIR_DB, DATADIR_DB "-wal",
	DATADIR_SERVER_KEY, DATADIR_SERVER_CERT, DATADIR_CONF, NULL,
};

/* Refuses a directory that holds any file init would write. */
static int
init_refuse_existing(const char *dir)
{
	struct buf	 found;
	char		 path[INIT_PATH];
	size_t		 i;
	int		 rc = EXIT_OK;

	buf_init(&found, 1024);
	for (i = 0; init_files[i] != NULL; i++) {
		datadir_join(dir, init_files[i], path, sizeof(path));
		if (access(path, F_OK) == 0)
			buf_appendf(&found, "%s%s", found.len ? ", " : "",
			    init_files[i]);
	}
	if (found.len > 0)
		rc = cli_fail("%s already holds %s: refusing to overwrite it "
		    "(a new CA would cut off every enrolled connector). To "
		    "keep it, run \"uplink-cloud run --config %s/%s\"; to "
		    "start over, move %s aside first", dir, buf_cstr(&found),
		    dir, DATADIR_CONF, dir);
	buf_free(&found);
	return rc;
}

/* Makes DIR, or takes an existing one, with mode 0700. */
static int
init_dir(struct init_req *r)
{
	struct stat	 st;

	if (mkdir(r->dir, 0700) == -1 && errno != EEXIST)
		return cli_fail("cannot create %s: %s%s", r->dir,
		    strerror(errno), errno == ENOENT ? " (create its parent "
		    "directory first)" : "");
	if (stat(r->dir, &st) == -1 || !S_ISDIR(st.st_mode))
		return cli_fail("%s exists and is not a directory", r->dir);
	if (init_refuse_existing(r->dir) != EXIT_OK)
		return EXIT_FAILED;
	if ((st.st_mode & 07777) != 0700 && chmod(r->dir, 0700) == -1)
		return cli_fail("cannot make %s mode 0700: %s", r->dir,
		    strerror(errno));
	if (realpath(r->dir, r->abs_dir) == NULL)
		return cli_fail("%s: %s", r->dir, strerror(errno));
	return EXIT_OK;
}

/* The CA and, without an operator chain, the server certificate. */
static int
init_pki_make(const struct init_req *r, struct init_pki *k)
{
	char	 cn[PKI_CN_MAX + 1], err[1024];

	snprintf(cn, sizeof(cn), "uplink CA %.50s", r->names[0]);
	if (pki_ca_new(cn, INIT_CA_DAYS, &k->ca_key, &k->ca_cert, err,
	    sizeof(err)) != UPLINK_OK)
		return cli_fail("cannot create the CA: %s", err);
	if (r->cert != NULL)
		return EXIT_OK;
	if (pki_issue_server(k->ca_key, k->ca_cert, r->names, r->nnames,
	    DATADIR_SERVER_DAYS, r->crl_url, &k->srv_key, &k->srv_cert, err,
	    sizeof(err)) != UPLINK_OK)
		return cli_fail("cannot issue the server certificate: %s", err);
	return EXIT_OK;
}

static void
init_pki_free(struct init_pki *k)
{
	EVP_PKEY_free(k->ca_key);
	EVP_PKEY_free(k->srv_key);
	X509_free(k->ca_cert);
	X509_free(k->srv_cert);
}

/* Records a file just made; fills path with DIR/name. */
static char *
init_track(struct init_made *m, const struct init_req *r, const char *name)
{
	char	*path = m->path[m->n++];

	datadir_join(r->abs_dir, name, path, INIT_PATH);
	return path;
}

static void
init_undo(struct init_made *m)
{
	while (m->n > 0)
		unlink(m->path[--m->n]);
}

static int
init_write_pki(struct init_made *m, const struct init_req *r,
    const struct init_pki *k)
{
	X509		*chain[2] = { k->srv_cert, k->ca_cert };
	struct buf	 pem;
	char		 err[1024];
	int		 rc;

	rc = pki_key_save(k->ca_key, init_track(m, r, DATADIR_CA_KEY), err,
	    sizeof(err));
	if (rc == UPLINK_OK)
		rc = pki_cert_save(k->ca_cert, init_track(m, r,
		    DATADIR_CA_CERT), err, sizeof(err));
	if (rc != UPLINK_OK || k->srv_cert == NULL)
		return rc == UPLINK_OK ? EXIT_OK : cli_fail("%s", err);
	rc = pki_key_save(k->srv_key, init_track(m, r, DATADIR_SERVER_KEY),
	    err, sizeof(err));
	buf_init(&pem, 64 * 1024);
	if (rc == UPLINK_OK)
		rc = pki_chain_pem(chain, 2, &pem, err, sizeof(err));
	if (rc == UPLINK_OK)
		rc = atomicfile_write(init_track(m, r, DATADIR_SERVER_CERT),
		    pem.ptr, pem.len, 0644, "certificate", err, sizeof(err));
	buf_free(&pem);
	return rc == UPLINK_OK ? EXIT_OK : cli_fail("%s", err);
}

static int
store_msg_init(char *err, size_t errlen, const char *had)
{
	snprintf(err, errlen, "--store: the database already holds the "
	    "uplink cloud %s; init makes a new cloud only in an empty "
	    "database (give every instance of one cloud the same [store] url "
	    "in its cloud.conf instead)", had);
	return UPLINK_EEXIST;
}

static int
init_db_settings(const char *path, const struct init_req *r, char *err,
    size_t errlen)
{
	struct store_opts	 o = { r->store_pw, 0 };
	struct store		*st;
	char			 had[DATADIR_URL_MAX];
	int			 rc;

	rc = store_open_opts(path, &o, &st, err, errlen);
	if (rc != UPLINK_OK)
		return rc;
	/* A PostgreSQL database may already serve a cloud: keep it. */
	if (r->store != NULL && store_setting_get(st, "url", had, sizeof(had),
	    NULL, 0) == UPLINK_OK) {
		store_close(st);
		return store_msg_init(err, errlen, had);
	}
	rc = store_setting_set(st, "url", r->url, err, errlen);
	if (rc == UPLINK_OK)
		rc = store_setting_set(st, "crl_url", r->crl_url, err, errlen);
	store_close(st);
	return rc;
}

/*
 * The database is made under another name and renamed into place once its
 * settings are in, so uplink.db never exists half made. Closing the only
 * connection checkpoints the WAL and removes it, so one file moves.
 */
static int
init_write_db(struct init_made *m, const struct init_req *r)
{
	char	 tmp[INIT_PATH], aux[INIT_PATH + 8], err[1024], *path;
	int	 rc;

	if (r->store != NULL) {
		if (init_db_settings(r->store, r, err, sizeof(err)) != UPLINK_OK)
			return cli_fail("%s", err);
		return EXIT_OK;
	}
	datadir_join(r->abs_dir, INIT_DB_TMP, tmp, sizeof(tmp));
	snprintf(aux, sizeof(aux), "%s-wal", tmp);
	unlink(aux);
	snprintf(aux, sizeof(aux), "%s-shm", tmp);
	unlink(aux);
	unlink(tmp);
	if (init_db_settings(tmp, r, err, sizeof(err)) != UPLINK_OK)
		rc = cli_fail("%s", err);
	else if (chmod(tmp, 0600) == -1)
		rc = cli_fail("%s: %s", tmp, strerror(errno));
	else
		rc = EXIT_OK;
	path = init_track(m, r, DATADIR_DB);
	if (rc == EXIT_OK && rename(tmp, path) == -1)
		rc = cli_fail("cannot rename %s to %s: %s", tmp, path,
		    strerror(errno));
	if (rc != EXIT_OK)
		unlink(tmp);
	return rc;
}

/* cloud.conf: what init decided, and the other settings commented out. */
static int
init_conf_text(const struct init_req *r, struct buf *b)
{
	char	 when[CLI_TIME_SIZE];

	buf_appendf(b, "; uplink-cloud configuration, written by \"uplink-cloud "
	    "init\" on %s.\n; Reference: docs/cloud.md. Lines starting with "
	    "';' are comments.\n\n[cloud]\ndata_dir = %s\n; TLS: enrollment, "
	    "renewal and connector tunnels\nlisten = %s\n; plain HTTP: /ca.pem "
	    "and /crl (certificates name %s); \"off\" disables\nhttp_listen = "
	    "%s\n", cli_time(time(NULL), when), r->abs_dir, r->tls_listen,
	    r->crl_url, r->http_listen);
	if (r->cert != NULL)
		buf_appendf(b, "; the operator's chain (leaf first) and key\n"
		    "cert = %s\nkey = %s\n", r->abs_cert, r->abs_key);
	else
		buf_appendf(b, "; an operator's chain instead of DATA_DIR/"
		    "server.pem (leaf first):\n;cert = /etc/ssl/cloud/"
		    "fullchain.pem\n;key = /etc/ssl/cloud/privkey.pem\n");
	return buf_appendf(b, "; lifetime of connector certificates, 1h..365d "
	    "(whole days)\n;cert_lifetime = 30d\n\n[ingress]\n; HTTP CONNECT "
	    "proxy for clients (Proxy-Authorization: Basic SITE:KEY); \"off\" "
	    "disables\nlisten = %s\n\n[store]\n%s%s%s%s%s\n[limits]\n;streams_per_tunnel = 10000\n"
	    ";stream_buffer = 256k\n;header_bytes = 16k\n;pending_connects = "
	    "1000\n\n[log]\n; debug, info or warning\n;level = info\n\n"
	    "; Publish a service behind a connector on a local port:\n"
	    ";[publish intranet]\n;listen = 127.0.0.1:9000\n;site = hq\n"
	    ";target = intranet.corp.example:80\n", INIT_INGRESS,
	    r->store != NULL ? "url = " : "; the database: DATA_DIR/uplink.db, "
	    "or PostgreSQL (docs/cloud.md)\n;url = postgresql://uplink@"
	    "db.example.net/uplink\n;password_file = /etc/uplink/db-password",
	    r->store != NULL ? r->store : "", "\n",
	    r->store_pw != NULL ? "password_file = " : "",
	    r->store_pw != NULL ? r->store_pw : "");
}

static int
init_write_conf(struct init_made *m, const struct init_req *r)
{
	struct buf	 b;
	char		 err[1024];
	int		 rc;

	buf_init(&b, 64 * 1024);
	rc = init_conf_text(r, &b);
	if (rc != UPLINK_OK)
		snprintf(err, sizeof(err), "cannot write cloud.conf: %s",
		    uplink_strerror(rc));
	else
		rc = atomicfile_write(init_track(m, r, DATADIR_CONF), b.ptr,
		    b.len, 0644, "configuration", err, sizeof(err));
	buf_free(&b);
	return rc == UPLINK_OK ? EXIT_OK : cli_fail("%s", err);
}

static void
init_print(const struct init_req *r)
{
	size_t	 i;

	printf("Created %s:\n  ca.pem, ca.key           the uplink CA: signs "
	    "connector certificates and the CRL\n", r->abs_dir);
	if (r->cert == NULL) {
		printf("  server.pem, server.key   TLS certificate for");
		for (i = 0; i < r->nnames; i++)
			printf("%s %s", i > 0 ? "," : "", r->names[i]);
		printf("\n");
	} else
		printf("  (TLS: %s)\n", r->abs_cert);
	if (r->store != NULL)
		printf("  (the database: PostgreSQL, [store] url in cloud.conf)\n");
	else
		printf("  uplink.db                the database\n");
	printf("  cloud.conf    "
	    "           configuration for \"uplink-cloud run\"\n\nCloud URL: "
	    "%s\nCRL URL:   %s\n\nNext steps:\n  1. Let connectors reach %s "
	    "on TCP %u and %u.\n  2. Review %s/cloud.conf; install it as %s, "
	    "or pass --config.\n  3. uplink-cloud run --config %s/cloud.conf\n"
	    "  4. uplink-cloud token create --config %s/cloud.conf --site "
	    "SITE\n     then on the connector's host: uplink-connector enroll "
	    "--token TOKEN\n", r->url, r->crl_url, r->names[0], r->port,
	    r->http_port, r->abs_dir, CLOUDCONF_DEFAULT_PATH, r->abs_dir,
	    r->abs_dir);
}

/* Writes every file, or none: a failure removes what was written. */
static int
init_write(const struct init_req *r, const struct init_pki *k)
{
	struct init_made	 m = { .n = 0 };
	int			 rc;

	rc = init_write_pki(&m, r, k);
	if (rc == EXIT_OK)
		rc = init_write_db(&m, r);
	if (rc == EXIT_OK)
		rc = init_write_conf(&m, r);
	if (rc != EXIT_OK)
		init_undo(&m);
	return rc;
}

int
cmd_init(int argc, char **argv)
{
	struct init_req	 r = { .port = 443, .http_port = 80,
			     .listen = "0.0.0.0" };
	struct init_pki	 k = { NULL, NULL, NULL, NULL };
	int		 rc;

	rc = init_args(argc, argv, &r);
	if (rc == EXIT_OK)
		rc = init_addresses(&r);
	if (rc == EXIT_OK && r.cert != NULL)
		rc = init_operator_chain(&r);
	if (rc == EXIT_OK)
		rc = init_dir(&r);
	if (rc == EXIT_OK)
		rc = init_pki_make(&r, &k);
	if (rc == EXIT_OK)
		rc = init_write(&r, &k);
	if (rc == EXIT_OK)
		init_print(&r);
	init_pki_free(&k);
	free(r.names_buf);
	return rc == CLI_HELP ? EXIT_OK : rc;
}
