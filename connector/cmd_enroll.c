#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "connector.h"
#include "duration.h"
#include "error.h"
#include "https.h"
#include "log.h"
#include "pki.h"
#include "renew.h"
#include "token.h"
#include "version.h"

#define ENROLL_DEFAULT_DIR	"/var/lib/uplink-connector"
#define ENROLL_SERVICE_USER	"uplink-connector"	/* debian/ */
#define ENROLL_BODY_MAX		(64 * 1024)
#define ENROLL_TIMEOUT_MAX	300

struct enroll_args {
	const char	*token, *state_dir, *config, *proxy, *bypass, *name;
	int64_t		 timeout;	/* seconds */
};

struct enroll {
	struct enroll_args	 a;
	struct event_base	*base;
	struct token		 tok;
	char			 tok_id[TOKEN_ID_SIZE];
	struct hostport		 cloud;
	char			 name[PKI_CN_MAX + 1];
	char			 dir[PATH_MAX];
	char			 config[PATH_MAX];
	char			 key_path[PATH_MAX];
	char			 cert_path[PATH_MAX];
	char			 cloud_ca_path[PATH_MAX];
	char			 uplink_ca_path[PATH_MAX];
	struct route_table	 routes;
	char			*save_bypass;	/* [proxy] bypass, or NULL */
	EVP_PKEY		*key;
	bool			 staged;	/* connector.key.new written */
	struct renew_answer	 ans;
	X509			*anchor;	/* the pinned certificate */
	int			 rc;		/* exit status */
};

static void
enroll_usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-connector enroll --token TOKEN [--state-dir DIR]\n"
"         [--config FILE] [--proxy URL] [--bypass LIST] [--name NAME]\n"
"         [--timeout DURATION]\n"
"\n"
"Enrolls this machine with the uplink cloud named in TOKEN (printed by\n"
"\"uplink-cloud token create --site SITE\"; valid once). The connector:\n"
"\n"
"  1. checks the token locally (a damaged copy is refused here);\n"
"  2. connects to the cloud the way the service will: directly, or through\n"
"     the proxy (CONNECT), as the route decision says;\n"
"  3. checks the cloud's TLS certificate against the key pinned in the\n"
"     token, so that no other server, and no TLS-inspecting proxy, can\n"
"     pose as the cloud; nothing is sent when the check fails;\n"
"  4. makes a new key, sends a certificate request with the token, and\n"
"     writes what the cloud returns.\n"
"\n"
"Files written (DIR is created with mode 0700 when missing, and refused\n"
"when other users can write to it):\n"
"  DIR/connector.key     the private key (mode 0600, never leaves DIR)\n"
"  DIR/connector.pem     the connector's certificate\n"
"  DIR/cloud-ca.pem      the pinned certificate the cloud presented: the\n"
"                        trust anchor for every later connection\n"
"  DIR/uplink-ca.pem     the uplink CA that signs connector certificates\n"
"  FILE                  [cloud] replaced, [proxy] written when a proxy\n"
"                        is used, every other section kept\n"
"Each file is written beside its place and renamed, so a failure leaves\n"
"the previous enrollment intact.\n"
"\n"
"  --token TOKEN      the enrollment token; \"-\" reads it from standard\n"
"                     input, which keeps it out of the process list\n"
"  --state-dir DIR    where keys and certificates go (default %s)\n"
"  --config FILE      the configuration to write (default DIR/connector.conf;\n"
"                     /etc/uplink/connector.conf when DIR is the default and\n"
"                     /etc/uplink exists, as the packages make it)\n"
"  --proxy URL        reach the cloud through this HTTP proxy\n"
"                     (http://HOST:PORT) instead of HTTPS_PROXY\n"
"  --bypass LIST      destinations that never use the proxy, instead of\n"
"                     NO_PROXY (syntax of [proxy] bypass, docs/config.md)\n"
"  --name NAME        the connector's name in the cloud (default: the host\n"
"                     name, at most %d characters)\n"
"  --timeout DURATION limit for each step: DNS, TCP, proxy, TLS, answer\n"
"                     (default 10s, at most 5m)\n"
"\n"
"Without --proxy and --bypass the proxy comes from HTTPS_PROXY/https_proxy\n"
"and NO_PROXY/no_proxy, as an installer uses the Internet settings; the\n"
"service itself reads only FILE.\n"
"\n"
"Exit status: 0 enrolled, 1 enrollment failed (the message says why and\n"
"what to do), 2 usage error.\n",
	    ENROLL_DEFAULT_DIR, PKI_CN_MAX);
}

/* --timeout: a duration from 1s to 5m; prints the error itself. */
static bool
enroll_timeout(const char *s, int64_t *secs)
{
	char	 err[256];

	if (duration_parse(s, "--timeout", secs, err, sizeof(err)) !=
	    UPLINK_OK) {
		fprintf(stderr, "uplink-connector: %s\n", err);
		return false;
	}
	if (*secs > ENROLL_TIMEOUT_MAX) {
		fprintf(stderr, "uplink-connector: --timeout \"%s\": at most "
		    "5m\n", s);
		return false;
	}
	return true;
}

static int
enroll_parse_args(int argc, char **argv, struct enroll_args *a)
{
	static const struct option longopts[] = {
		{ "token", required_argument, NULL, 't' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "proxy", required_argument, NULL, 'p' },
		{ "bypass", required_argument, NULL, 'b' },
		{ "name", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int	 ch;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 't': a->token = optarg; break;
		case 'd': a->state_dir = optarg; break;
		case 'c': a->config = optarg; break;
		case 'p': a->proxy = optarg; break;
		case 'b': a->bypass = optarg; break;
		case 'n': a->name = optarg; break;
		case 'T':
			if (!enroll_timeout(optarg, &a->timeout))
				return EXIT_USAGE;
			break;
		case 'h':
			enroll_usage(stdout);
			return -1;
		default:
			enroll_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "uplink-connector: unexpected argument "
		    "\"%s\"\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (a->token == NULL) {
		fprintf(stderr, "uplink-connector: enroll needs --token TOKEN "
		    "(\"uplink-cloud token create --site SITE\" prints one)\n");
		return EXIT_USAGE;
	}
	return 0;
}

/* Decodes --token, or the line on standard input for "-". */
static int
enroll_token(struct enroll *e)
{
	char	 line[TOKEN_TEXT_SIZE + 64], err[512];
	int	 rc;

	line[0] = '\0';
	if (strcmp(e->a.token, "-") == 0 &&
	    fgets(line, sizeof(line), stdin) == NULL)
		line[0] = '\0';
	rc = token_decode(strcmp(e->a.token, "-") == 0 ? line : e->a.token,
	    &e->tok, err, sizeof(err));
	OPENSSL_cleanse(line, sizeof(line));
	if (rc != UPLINK_OK) {
		fprintf(stderr, "uplink-connector: enrollment token: %s\n",
		    err);
		return EXIT_FAILED;
	}
	token_id(e->tok.secret, e->tok_id);
	hostport_parse(e->tok.url + 8, 443, &e->cloud, err, sizeof(err));
	return 0;
}

static int
enroll_name(struct enroll *e)
{
	char	 host[256];
	size_t	 i, n;

	if (e->a.name == NULL) {
		if (gethostname(host, sizeof(host)) != 0)
			host[0] = '\0';
		host[sizeof(host) - 1] = '\0';
	} else
		snprintf(host, sizeof(host), "%s", e->a.name);
	n = strlen(host);
	for (i = 0; i < n; i++)
		if ((unsigned char)host[i] < 0x20 || host[i] == 0x7f)
			break;
	if (n == 0 || n > PKI_CN_MAX || i < n) {
		fprintf(stderr, "uplink-connector: %s \"%.*s\" cannot name the "
		    "connector: give --name NAME, 1 to %d printable "
		    "characters\n", e->a.name ? "--name" : "the host name",
		    (int)(n < 80 ? n : 80), host, PKI_CN_MAX);
		return EXIT_USAGE;
	}
	memcpy(e->name, host, n + 1);
	return 0;
}

/*
 * NO_PROXY reads a plain name as the name and everything below it (curl);
 * the configuration file reads it as that host only, and ".name" as both.
 * So plain names get a leading dot when the list is written to the file.
 */
static char *
enroll_bypass_from_env(const char *list)
{
	struct buf	 out;
	char		 entry[300], host[300];
	size_t		 n;
	const char	*p = list;
	bool		 plain;

	buf_init(&out, 256 * 1024);
	for (;;) {
		p += strspn(p, ",; \t");
		n = strcspn(p, ",; \t");
		if (n == 0)
			break;
		snprintf(entry, sizeof(entry), "%.*s", (int)n, p);
		p += n;
		/*
		 * A name, with or without ":PORT": not *, .x, <local>, [v6],
		 * a block, an address or "10.*".
		 */
		snprintf(host, sizeof(host), "%.*s", (int)strcspn(entry, ":"),
		    entry);
		plain = strchr(entry, ':') == strrchr(entry, ':') &&
		    strchr("*.<[", entry[0]) == NULL &&
		    strpbrk(entry, "/*") == NULL &&
		    host_classify(host) == HOST_NAME;
		if (buf_appendf(&out, "%s%s%s", out.len ? ", " : "", plain ?
		    "." : "", entry) != UPLINK_OK)
			break;
	}
	if (out.len == 0) {
		buf_free(&out);
		return NULL;
	}
	return out.ptr;
}

/* The route table: --proxy/--bypass, else the environment. */
static int
enroll_routes(struct enroll *e)
{
	const char	*env;
	char		 err[512];

	route_table_init(&e->routes);
	/* With both flags given the environment does not matter. */
	if ((e->a.proxy == NULL || e->a.bypass == NULL) &&
	    route_table_from_env(&e->routes, err, sizeof(err)) != UPLINK_OK) {
		fprintf(stderr, "uplink-connector: %s (or give --proxy and "
		    "--bypass)\n", err);
		return EXIT_USAGE;
	}
	if (e->a.proxy != NULL && route_table_set_proxy(&e->routes, e->a.proxy,
	    err, sizeof(err)) != UPLINK_OK) {
		fprintf(stderr, "uplink-connector: --proxy: %s\n", err);
		return EXIT_USAGE;
	}
	if (e->a.proxy != NULL)
		snprintf(e->routes.source, sizeof(e->routes.source), "--proxy");
	if (e->a.bypass != NULL) {
		if (route_table_set_bypass(&e->routes, e->a.bypass, 0, err,
		    sizeof(err)) != UPLINK_OK) {
			fprintf(stderr, "uplink-connector: --bypass: %s\n",
			    err);
			return EXIT_USAGE;
		}
		e->save_bypass = strdup(e->a.bypass);
	} else if (e->routes.bypass != NULL) {
		env = getenv("NO_PROXY");
		if (env == NULL)
			env = getenv("no_proxy");
		if (env != NULL)
			e->save_bypass = enroll_bypass_from_env(env);
	}
	return 0;
}

/* DIR exists (made 0700 if missing), is ours alone to write, and absolute. */
static int
enroll_state_dir(struct enroll *e)
{
	const char	*dir = e->a.state_dir;
	struct stat	 st;

	if (mkdir(dir, 0700) == 0)
		chmod(dir, 0700);
	else if (errno != EEXIST) {
		fprintf(stderr, "uplink-connector: cannot create the state "
		    "directory %s: %s%s\n", dir, strerror(errno), errno ==
		    EACCES ? " (run as root, or give --state-dir)" : errno ==
		    ENOENT ? " (create its parent, or give --state-dir)" : "");
		return EXIT_FAILED;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "uplink-connector: %s is not a directory: give "
		    "another --state-dir\n", dir);
		return EXIT_FAILED;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		fprintf(stderr, "uplink-connector: refusing the state "
		    "directory %s: other users can write to it (mode %04o) "
		    "and could replace the connector's key or the pinned "
		    "cloud CA; run chmod 700 %s, or give another "
		    "--state-dir\n", dir,
		    (unsigned)(st.st_mode & 07777), dir);
		return EXIT_FAILED;
	}
	if (realpath(dir, e->dir) == NULL) {
		fprintf(stderr, "uplink-connector: %s: %s\n", dir,
		    strerror(errno));
		return EXIT_FAILED;
	}
	return 0;
}

/* Paths of everything enroll writes; the config's directory must exist. */
static int
enroll_paths(struct enroll *e)
{
	char	 cwd[PATH_MAX], cdir[PATH_MAX];
	char	*slash;
	int	 n = 0;

	snprintf(e->key_path, sizeof(e->key_path), "%s/connector.key", e->dir);
	snprintf(e->cert_path, sizeof(e->cert_path), "%s/connector.pem",
	    e->dir);
	snprintf(e->cloud_ca_path, sizeof(e->cloud_ca_path), "%s/cloud-ca.pem",
	    e->dir);
	snprintf(e->uplink_ca_path, sizeof(e->uplink_ca_path),
	    "%s/uplink-ca.pem", e->dir);
	/*
	 * The packages (docs/install.md) make /etc/uplink, where the
	 * service's unit and "run" look: with the default DIR the
	 * configuration goes there when that directory exists.
	 */
	if (e->a.config == NULL && strcmp(e->a.state_dir,
	    ENROLL_DEFAULT_DIR) == 0 && access(CONFIG_DEFAULT_DIR, F_OK) == 0)
		n = snprintf(e->config, sizeof(e->config), "%s",
		    CONFIG_DEFAULT_PATH);
	else if (e->a.config == NULL)
		n = snprintf(e->config, sizeof(e->config), "%s/connector.conf",
		    e->dir);
	else if (e->a.config[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		n = snprintf(e->config, sizeof(e->config), "%s", e->a.config);
	else
		n = snprintf(e->config, sizeof(e->config), "%s/%s", cwd,
		    e->a.config);
	if (n < 0 || (size_t)n >= sizeof(e->config) - 16 ||
	    strlen(e->dir) >= sizeof(e->dir) - 32) {
		fprintf(stderr, "uplink-connector: the paths are too long\n");
		return EXIT_USAGE;
	}
	snprintf(cdir, sizeof(cdir), "%s", e->config);
	slash = strrchr(cdir, '/');
	if (slash != NULL)
		*(slash == cdir ? slash + 1 : slash) = '\0';
	if (access(cdir, W_OK) != 0) {
		fprintf(stderr, "uplink-connector: cannot write the "
		    "configuration into %s: %s (create the directory, or "
		    "give --config FILE elsewhere)\n", cdir, strerror(errno));
		return EXIT_FAILED;
	}
	return 0;
}

/* The request body; it holds the token's secret and is wiped after use. */
static int
enroll_body(struct enroll *e, struct buf *body)
{
	char	 text[TOKEN_TEXT_SIZE], err[512];
	struct buf csr;
	json_t	*o = NULL;
	char	*s = NULL;
	int	 rc;

	buf_init(&csr, PKI_CSR_MAX);
	rc = pki_key_new(&e->key, err, sizeof(err));
	if (rc == UPLINK_OK)
		rc = renew_stage_key(e->key, e->key_path, err, sizeof(err));
	e->staged = rc == UPLINK_OK;
	if (rc == UPLINK_OK)
		rc = pki_csr_new(e->key, e->name, &csr, err, sizeof(err));
	if (rc == UPLINK_OK)
		rc = token_encode(&e->tok, text, sizeof(text));
	if (rc == UPLINK_OK) {
		o = json_pack("{s:s, s:s, s:s, s:s}", "token", text, "csr",
		    buf_cstr(&csr), "name", e->name, "version", UPLINK_VERSION);
		s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
		rc = s != NULL ? buf_appends(body, s) : UPLINK_ENOMEM;
		if (rc != UPLINK_OK)
			snprintf(err, sizeof(err), "out of memory");
	}
	if (rc != UPLINK_OK)
		fprintf(stderr, "uplink-connector: %s\n", err);
	OPENSSL_cleanse(text, sizeof(text));
	if (s != NULL)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
	json_decref(o);		/* jansson keeps its own copy of the token */
	buf_free(&csr);
	return rc == UPLINK_OK ? 0 : EXIT_FAILED;
}

/* What to do about a connection failure, in the administrator's terms. */
static void
enroll_hint(const struct enroll *e, const struct https_result *res)
{
	const char	*err = res->error, *h = e->cloud.host;
	const char	*via = res->route.kind == ROUTE_PROXY ?
			    res->route.proxy->url : NULL;
	unsigned	 port = e->cloud.port;
	char		 m[1024];

	if (strcmp(err, "pin") == 0 && res->pin_missing && via != NULL)
		snprintf(m, sizeof(m), "Exclude %s from TLS inspection on the "
		    "proxy %s (or add it to the bypass list: --bypass %s).", h,
		    via, h);
	else if (strcmp(err, "pin") == 0 && res->pin_missing)
		snprintf(m, sizeof(m), "If a firewall on the way inspects TLS, "
		    "exclude %s from inspection; otherwise check that %s is "
		    "the uplink cloud that made the token.", h, h);
	else if (strcmp(err, "pin") == 0)
		snprintf(m, sizeof(m), "The cloud's TLS certificate is wrong: "
		    "its operator must give it one that names %s "
		    "(uplink-cloud init --name %s).", h, h);
	else if (strcmp(err, "dns") == 0 && via == NULL)
		snprintf(m, sizeof(m), "%s does not resolve from this machine: "
		    "check the DNS servers in /etc/resolv.conf, or give the "
		    "proxy with --proxy if the Internet is reached through "
		    "one.", h);
	else if (strcmp(err, "dns") == 0)
		snprintf(m, sizeof(m), "The proxy %s cannot resolve %s: check "
		    "the proxy's DNS and the cloud's name.", via, h);
	else if (strcmp(err, "timeout") == 0 && res->connected)
		snprintf(m, sizeof(m), "%s:%u accepts connections but did not "
		    "answer in time: check that it is the uplink cloud "
		    "(uplink-cloud run), or give a longer --timeout.", h, port);
	else if (strcmp(err, "tcp") == 0 || strcmp(err, "timeout") == 0)
		snprintf(m, sizeof(m), "Allow outbound TCP port %u to %s in "
		    "the firewall%s%s.", port, h, via ? " behind the proxy " :
		    ", or give the proxy with --proxy", via ? via : "");
	else if (strcmp(err, "proxy-unreachable") == 0)
		snprintf(m, sizeof(m), "Check the proxy's address (--proxy, or "
		    "HTTPS_PROXY) and that it runs and is reachable from this "
		    "machine.");
	else if (strcmp(err, "proxy-denied") == 0)
		snprintf(m, sizeof(m), "Allow %s on port %u for this machine, "
		    "without authentication, in the rules of the proxy %s.", h,
		    port, via ? via : "");
	else if (strcmp(err, "proxy-error") == 0)
		snprintf(m, sizeof(m), "See the log of the proxy %s for %s:%u.",
		    via ? via : "", h, port);
	else if (strcmp(err, "tls") == 0)
		snprintf(m, sizeof(m), "If a proxy or firewall inspects TLS, "
		    "exclude %s from inspection; check that port %u of %s is "
		    "the uplink cloud.", h, port, h);
	else
		snprintf(m, sizeof(m), "Check that %s is the uplink cloud "
		    "that made the token (uplink-cloud run serves enrollment "
		    "on port %u).", e->tok.url, port);
	fprintf(stderr, "%s\n", m);
}

/* The cloud answered with an error status. */
static void
enroll_refused(struct enroll *e, const struct https_result *res)
{
	static const struct {
		const char	*code, *what;
	} tokens[] = {
		{ "token-used", "has already been used (a token enrolls one "
		    "connector, once)" },
		{ "token-expired", "has expired" },
		{ "token-unknown", "is unknown to the cloud (made by another "
		    "cloud, or before the cloud was set up again?)" },
		{ "token-revoked", "has been revoked" },
	};
	char	 code[64], msg[512];
	size_t	 i;

	renew_error_parse(res->body, code, sizeof(code), msg, sizeof(msg));
	for (i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		if (res->status == 403 && strcmp(code, tokens[i].code) == 0) {
			fprintf(stderr, "uplink-connector: the cloud refused "
			    "the token %s: it %s.\nCreate a new token with "
			    "uplink-cloud token create --site SITE, and run "
			    "enroll again.\n", e->tok_id, tokens[i].what);
			return;
		}
	fprintf(stderr, "uplink-connector: the cloud at %s refused the "
	    "enrollment: HTTP %d%s%s%s%s\n", e->tok.url, res->status, code[0] ?
	    " " : "", code, msg[0] ? ": " : "", msg);
	if (res->status >= 500)
		fprintf(stderr, "See the cloud's log (uplink-cloud run) for "
		    "the cause.\n");
	else if (res->status == 404)
		fprintf(stderr, "%s does not serve enrollment: check that "
		    "the token's URL is the uplink cloud and that both run the "
		    "same version.\n", e->tok.url);
}

/* Every file, in an order that leaves a working state at each step. */
/*
 * The packaged service runs as the system user uplink-connector, which
 * must read /etc/uplink/connector.conf (it names the key and may hold the
 * proxy's password): root owns it, the service's group reads it (0640).
 * The state directory needs nothing: systemd hands it to the service user
 * when the service starts (StateDirectory=).
 */
static void
enroll_share_config(const char *path)
{
	struct group	*gr;

	if (geteuid() != 0 || strcmp(path, CONFIG_DEFAULT_PATH) != 0)
		return;
	gr = getgrnam(ENROLL_SERVICE_USER);
	if (gr == NULL)
		return;
	if (chown(path, 0, gr->gr_gid) != 0 || chmod(path, 0640) != 0)
		fprintf(stderr, "uplink-connector: warning: cannot let the "
		    "service's group %s read %s: %s (chgrp %s %s; chmod 640 "
		    "%s)\n", ENROLL_SERVICE_USER, path, strerror(errno),
		    ENROLL_SERVICE_USER, path, path);
}

static bool
enroll_write(struct enroll *e)
{
	char	 err[1024];

	if (renew_install(e->ans.cert, e->key_path, e->cert_path, err,
	    sizeof(err)) != UPLINK_OK)
		goto fail;
	e->staged = false;
	if (pki_cert_save(e->anchor, e->cloud_ca_path, err, sizeof(err)) !=
	    UPLINK_OK || pki_cert_save(e->ans.ca, e->uplink_ca_path, err,
	    sizeof(err)) != UPLINK_OK)
		goto fail;
	if (config_save_cloud(e->config, e->tok.url, e->cloud_ca_path,
	    e->cert_path, e->key_path, e->routes.has_proxy ?
	    e->routes.proxy.url : NULL, e->routes.has_proxy ? e->save_bypass :
	    NULL, err, sizeof(err)) != UPLINK_OK)
		goto fail;
	enroll_share_config(e->config);
	return true;
fail:
	fprintf(stderr, "uplink-connector: the cloud enrolled connector %s, "
	    "but saving it failed: %s\nFix the cause, then enroll again with a "
	    "new token.\n", e->ans.connector_id, err);
	return false;
}

static void
enroll_report(struct enroll *e)
{
	struct connector_config	 cfg;
	char			 until[40], next[40], err[1024];
	bool			 loaded;

	renew_time_text(e->ans.not_after, until, sizeof(until));
	renew_time_text(e->ans.renew_after, next, sizeof(next));
	printf("Enrolled connector %s in site \"%s\".\n", e->ans.connector_id,
	    e->ans.site);
	printf("  certificate  %s\n               expires %s; the service "
	    "renews it after %s\n", e->cert_path, until, next);
	printf("  key          %s\n", e->key_path);
	printf("  cloud CA     %s (pinned by the token)\n", e->cloud_ca_path);
	printf("  uplink CA    %s\n", e->uplink_ca_path);
	printf("  config       %s%s%s\n", e->config, e->routes.has_proxy ?
	    ", through the proxy " : "", e->routes.has_proxy ?
	    e->routes.proxy.url : "");
	loaded = config_load(e->config, &cfg, err, sizeof(err)) == UPLINK_OK;
	if (!loaded)
		printf("\nwarning: %s\nFix it before starting the service.\n",
		    err);
	else if (access_count(cfg.access) == 0)
		printf("\nNothing can be reached through this connector until "
		    "you list destinations\nwith \"allow =\" in the [access] "
		    "section of\n%s (see docs/config.md).\n", e->config);
	if (loaded)
		config_free(&cfg);
	if (strcmp(e->config, CONFIG_DEFAULT_PATH) == 0)
		printf("\nnext: systemctl enable --now uplink-connector (or: "
		    "uplink-connector run)\n");
	else
		printf("\nnext: uplink-connector run --config %s\n",
		    e->config);
}

static void
enroll_answered(void *arg, struct https_result *res)
{
	struct enroll	*e = arg;
	char		 err[1024], route[600];

	/* evdns keeps the loop alive otherwise. */
	event_base_loopexit(e->base, NULL);
	e->rc = EXIT_FAILED;
	if (res->error != NULL && strcmp(res->error, "pin") == 0) {
		fprintf(stderr, "uplink-connector: %s; nothing was sent.\n",
		    res->detail);
		enroll_hint(e, res);
		return;
	}
	if (res->error != NULL) {
		route_describe(&res->route, route, sizeof(route));
		fprintf(stderr, "uplink-connector: cannot enroll with %s: %s\n"
		    "Route to %s:%u: %s.\n", e->tok.url, res->detail,
		    e->cloud.host, e->cloud.port, route);
		enroll_hint(e, res);
		return;
	}
	if (res->status != 200) {
		enroll_refused(e, res);
		return;
	}
	if (renew_answer_parse(res->body, e->key, &e->ans, err,
	    sizeof(err)) != UPLINK_OK) {
		fprintf(stderr, "uplink-connector: the cloud at %s answered "
		    "200, but %s\n", e->tok.url, err);
		return;
	}
	X509_up_ref(res->anchor);
	e->anchor = res->anchor;
	if (enroll_write(e)) {
		enroll_report(e);
		e->rc = EXIT_OK;
	}
}

/* The network part: one pinned HTTPS request on a fresh event loop. */
static int
enroll_request(struct enroll *e, const struct buf *body)
{
	struct event_base	*base;
	struct evdns_base	*dns = NULL;
	struct https_pin	 pin;
	struct https_request	 q;
	SSL_CTX			*ctx = NULL;
	char			 err[512], tmo[16], route[600];
	struct route		 r;

	base = e->base = event_base_new();
	if (base != NULL)
		dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
		    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	ctx = https_ctx_new(NULL, NULL, NULL, err, sizeof(err));
	if (base == NULL || dns == NULL || ctx == NULL) {
		fprintf(stderr, "uplink-connector: cannot start: %s\n", ctx ==
		    NULL ? err : "out of memory or no usable /etc/resolv.conf");
		goto out;
	}
	snprintf(tmo, sizeof(tmo), "%lld", (long long)e->a.timeout);
	evdns_base_set_option(dns, "timeout:", tmo);
	evdns_base_set_option(dns, "attempts:", "2");
	memcpy(pin.pin, e->tok.pin, sizeof(pin.pin));
	memset(&q, 0, sizeof(q));
	q.url = e->tok.url;
	q.method = "POST";
	q.path = "/v1/enroll";
	q.body = body->ptr;
	q.bodylen = body->len;
	q.content_type = "application/json";
	q.ctx = ctx;
	q.pin = &pin;
	q.routes = &e->routes;
	q.max_body = ENROLL_BODY_MAX;
	q.timeout_ms = (int)e->a.timeout * 1000;
	q.id = "enroll";
	route_decide(&e->routes, e->cloud.host, e->cloud.port, &r);
	route_describe(&r, route, sizeof(route));
	printf("Enrolling \"%s\" with %s, %s...\n", e->name, e->tok.url, route);
	fflush(stdout);
	if (https_request_start(base, dns, &q, enroll_answered, e) == NULL) {
		fprintf(stderr, "uplink-connector: cannot start the request to "
		    "%s\n", e->tok.url);
		goto out;
	}
	event_base_dispatch(base);
out:
	SSL_CTX_free(ctx);
	if (dns != NULL)
		evdns_base_free(dns, 0);
	if (base != NULL)
		event_base_free(base);
	return e->rc;
}

static void
enroll_free(struct enroll *e)
{
	char	 knew[PATH_MAX + 8];

	if (e->staged) {
		snprintf(knew, sizeof(knew), "%s.new", e->key_path);
		unlink(knew);
	}
	token_clear(&e->tok);
	route_table_clear(&e->routes);
	free(e->save_bypass);
	EVP_PKEY_free(e->key);
	X509_free(e->anchor);
	renew_answer_free(&e->ans);
}

int
cmd_enroll(int argc, char **argv)
{
	struct enroll	 e;
	struct buf	 body;
	int		 rc;

	memset(&e, 0, sizeof(e));
	log_init("uplink-connector", 1, LOG_LEVEL_WARN);
	log_capture_libevent();
	e.a.state_dir = ENROLL_DEFAULT_DIR;
	e.a.timeout = 10;
	e.rc = EXIT_FAILED;
	buf_init(&body, 2 * PKI_CSR_MAX);
	rc = enroll_parse_args(argc, argv, &e.a);
	if (rc != 0)
		return rc < 0 ? EXIT_OK : rc;
	rc = enroll_token(&e);
	if (rc == 0)
		rc = enroll_name(&e);
	if (rc == 0)
		rc = enroll_routes(&e);
	if (rc == 0)
		rc = enroll_state_dir(&e);
	if (rc == 0)
		rc = enroll_paths(&e);
	if (rc == 0 && access(e.cert_path, F_OK) == 0)
		printf("Note: %s exists; a successful enrollment replaces "
		    "it.\n", e.cert_path);
	if (rc == 0)
		rc = enroll_body(&e, &body);
	if (rc == 0)
		rc = enroll_request(&e, &body);
	if (body.ptr != NULL)
		OPENSSL_cleanse(body.ptr, body.len);
	buf_free(&body);
	enroll_free(&e);
	fflush(stdout);
	return rc;
}
