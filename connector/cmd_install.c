#include <sys/stat.h>
#include <sys/wait.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "config.h"
#include "connector.h"
#include "hostport.h"
#include "https.h"
#include "proxy.h"
#include "token.h"

/*
 * uplink-connector install and uninstall: the administrator's installer
 * on a machine where the package is installed (docs/install.md). install
 * checks that the token's cloud can be reached the way the service will
 * reach it, with the administrator's proxy settings, and goes on only when
 * it can: enrollment (this program's "enroll", as a child), then the
 * service through systemctl, then a wait for its tunnels. Nothing is left
 * behind when a step before the service fails.
 */

#define INSTALL_UNIT		"uplink-connector"
#define INSTALL_STATE_DIR	"/var/lib/uplink-connector"
#define INSTALL_WAIT_SECS	60
#define INSTALL_CHECK_MS	10000
#define INSTALL_VALUE_MAX	1024

struct install {
	const char	*token_arg, *proxy_arg, *bypass_arg;
	bool		 yes, no_start;
	char		 token[TOKEN_TEXT_SIZE + 64];
	struct token	 tok;
	struct hostport	 cloud;
	/* The proxy and bypass list in force, and where they came from. */
	char		 proxy[INSTALL_VALUE_MAX], bypass[INSTALL_VALUE_MAX];
	char		 source[128];
	bool		 has_proxy;
	/* The check's loop and outcome. */
	struct event_base *base;
	bool		 ok;
	char		 why[1280];
};

static void
install_usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-connector install --token TOKEN [--proxy URL|direct]\n"
"         [--bypass LIST] [--yes] [--no-start]\n"
"       uplink-connector uninstall [--yes]\n"
"\n"
"install, as root on a machine with the uplink-connector package:\n"
"  1. checks that the token's cloud answers, pinned as the token says, the\n"
"     way the service will reach it: through the proxy of --proxy, else of\n"
"     HTTPS_PROXY, else of /etc/environment (sudo drops HTTPS_PROXY), else\n"
"     of apt's Acquire::https::Proxy, unless --bypass (else NO_PROXY)\n"
"     names the cloud; it says which setting it used. When the check\n"
"     fails it says why and how to fix it, asks for a proxy on a terminal\n"
"     (not with --yes) and checks again, or stops having written nothing;\n"
"  2. enrolls (uplink-connector enroll) with the settings the check proved,\n"
"     writing /etc/uplink/connector.conf and %s;\n"
"  3. enables and starts %s.service (with --no-start: enables only, for\n"
"     images), waits until its tunnels are up (at most %d s) and prints\n"
"     the connector's id, site and state, or why not from its log.\n"
"\n"
"uninstall stops and disables the service and removes the configuration\n"
"and the state after confirmation (--yes: without). It revokes nothing:\n"
"uplink-cloud connector revoke ID does that in the cloud.\n"
"\n"
"  --token TOKEN   from uplink-cloud token create; - reads standard input\n"
"  --proxy URL     http://HOST:PORT, or \"direct\" for no proxy\n"
"  --bypass LIST   destinations that never use the proxy ([proxy] bypass)\n"
"  --yes           never ask\n"
"  --no-start      do not start the service (enable it only)\n"
"\n"
"Exit status: 0 installed (or uninstalled), 1 failed, 2 usage error.\n",
	    INSTALL_STATE_DIR, INSTALL_UNIT, INSTALL_WAIT_SECS);
}

/* Strips white space and one pair of quotes around a value, in place. */
static char *
install_trim(char *s)
{
	size_t	 n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
		s[n - 1] = '\0';
		s++;
	}
	return s;
}

/* KEY=VALUE from /etc/environment (pam_env's file), either case of KEY. */
static bool
install_env_file(const char *key, char *dst, size_t dstlen)
{
	FILE	*fp = fopen("/etc/environment", "r");
	char	 line[INSTALL_VALUE_MAX + 64], *p, *eq;
	bool	 found = false;

	if (fp == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), fp) != NULL) {
		p = install_trim(line);
		if (strncmp(p, "export ", 7) == 0)
			p += 7;
		eq = strchr(p, '=');
		if (eq == NULL || (size_t)(eq - p) != strlen(key) ||
		    strncasecmp(p, key, strlen(key)) != 0)
			continue;
		snprintf(dst, dstlen, "%s", install_trim(eq + 1));
		found = dst[0] != '\0';
	}
	fclose(fp);
	return found;
}

/* Acquire::https::Proxy (else Acquire::http::Proxy) "URL"; in one file. */
static bool
install_apt_file(const char *path, const char *key, char *dst, size_t dstlen)
{
	FILE	*fp = fopen(path, "r");
	char	 line[INSTALL_VALUE_MAX + 64], *p, *q;
	bool	 found = false;

	if (fp == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), fp) != NULL) {
		p = install_trim(line);
		if (strncasecmp(p, key, strlen(key)) != 0)
			continue;
		p = strchr(p + strlen(key), '"');
		q = p == NULL ? NULL : strchr(p + 1, '"');
		if (q == NULL)
			continue;
		*q = '\0';
		if (strcasecmp(p + 1, "DIRECT") == 0 || p[1] == '\0')
			continue;
		snprintf(dst, dstlen, "%s", p + 1);
		found = true;
	}
	fclose(fp);
	return found;
}

static bool
install_apt(char *dst, size_t dstlen, char *src, size_t srclen)
{
	static const char	*keys[] = { "Acquire::https::Proxy",
				    "Acquire::http::Proxy" };
	struct dirent		**ents = NULL;
	char			 path[PATH_MAX];
	int			 n, i, k;
	bool			 found = false;

	n = scandir("/etc/apt/apt.conf.d", &ents, NULL, alphasort);
	for (k = 0; k < 2 && !found; k++) {
		snprintf(path, sizeof(path), "/etc/apt/apt.conf");
		found = install_apt_file(path, keys[k], dst, dstlen);
		for (i = 0; i < n && !found; i++) {
			if (ents[i]->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/etc/apt/apt.conf.d/%s",
			    ents[i]->d_name);
			found = install_apt_file(path, keys[k], dst, dstlen);
		}
		if (found)
			snprintf(src, srclen, "%s in %s", keys[k], path);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return found;
}

/* The administrator's proxy settings, first found wins (usage above). */
static void
install_settings(struct install *in)
{
	const char	*v;

	in->has_proxy = true;
	if (in->proxy_arg != NULL) {
		snprintf(in->proxy, sizeof(in->proxy), "%s", in->proxy_arg);
		snprintf(in->source, sizeof(in->source), "--proxy");
		in->has_proxy = strcmp(in->proxy_arg, "direct") != 0;
	} else if ((v = getenv("HTTPS_PROXY")) != NULL ||
	    (v = getenv("https_proxy")) != NULL) {
		snprintf(in->proxy, sizeof(in->proxy), "%s", v);
		snprintf(in->source, sizeof(in->source), "the environment "
		    "(HTTPS_PROXY)");
	} else if (install_env_file("https_proxy", in->proxy,
	    sizeof(in->proxy)))
		snprintf(in->source, sizeof(in->source), "/etc/environment");
	else if (!install_apt(in->proxy, sizeof(in->proxy), in->source,
	    sizeof(in->source)))
		in->has_proxy = false;
	if (in->has_proxy && in->proxy[0] == '\0')
		in->has_proxy = false;
	if (in->bypass_arg != NULL)
		snprintf(in->bypass, sizeof(in->bypass), "%s", in->bypass_arg);
	else if ((v = getenv("NO_PROXY")) != NULL ||
	    (v = getenv("no_proxy")) != NULL)
		snprintf(in->bypass, sizeof(in->bypass), "%s", v);
	else if (!install_env_file("no_proxy", in->bypass, sizeof(in->bypass)))
		in->bypass[0] = '\0';
}

static void
install_checked(void *arg, struct https_result *res)
{
	struct install	*in = arg;

	/* evdns keeps the loop alive otherwise. */
	event_base_loopexit(in->base, NULL);
	in->ok = res->error == NULL;
	if (!in->ok)
		snprintf(in->why, sizeof(in->why), "%s", res->detail[0] ?
		    res->detail : res->error);
}

/*
 * The connectivity check: one pinned HTTPS request to the token's cloud
 * (GET /v1/info, whatever the answer's status), routed as the service
 * will route it. Any HTTP answer proves the route, the proxy and the pin.
 */
static bool
install_check(struct install *in)
{
	struct event_base	*base = event_base_new();
	struct evdns_base	*dns = NULL;
	struct route_table	 rt;
	struct https_pin	 pin;
	struct https_request	 q;
	struct route		 r;
	SSL_CTX			*ctx = NULL;
	char			 err[512], route[600];

	route_table_init(&rt);
	in->base = base;
	in->ok = false;
	if ((in->has_proxy && route_table_set_proxy(&rt, in->proxy, err,
	    sizeof(err)) != 0) || (in->bypass[0] != '\0' &&
	    route_table_set_bypass(&rt, in->bypass, 0, err, sizeof(err)) != 0)) {
		snprintf(in->why, sizeof(in->why), "%s", err);
		goto out;
	}
	if (base != NULL)
		dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
		    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	ctx = https_ctx_new(NULL, NULL, NULL, err, sizeof(err));
	if (dns == NULL || ctx == NULL) {
		snprintf(in->why, sizeof(in->why), "cannot start: %s", ctx ==
		    NULL ? err : "no usable /etc/resolv.conf");
		goto out;
	}
	memcpy(pin.pin, in->tok.pin, sizeof(pin.pin));
	memset(&q, 0, sizeof(q));
	q.url = in->tok.url;
	q.method = "GET";
	q.path = "/v1/info";
	q.ctx = ctx;
	q.pin = &pin;
	q.routes = &rt;
	q.max_body = 64 * 1024;
	q.timeout_ms = INSTALL_CHECK_MS;
	q.id = "install";
	route_decide(&rt, in->cloud.host, in->cloud.port, &r);
	route_describe(&r, route, sizeof(route));
	printf("Checking %s, %s...\n", in->tok.url, route);
	fflush(stdout);
	if (https_request_start(base, dns, &q, install_checked, in) == NULL)
		snprintf(in->why, sizeof(in->why), "cannot start the request");
	else
		event_base_dispatch(base);
out:
	SSL_CTX_free(ctx);
	if (dns != NULL)
		evdns_base_free(dns, 0);
	if (base != NULL)
		event_base_free(base);
	route_table_clear(&rt);
	return in->ok;
}

/* Reads one line from the terminal; false at end of input. */
static bool
install_ask(const char *prompt, char *dst, size_t dstlen)
{
	char	*nl;

	printf("%s", prompt);
	fflush(stdout);
	if (fgets(dst, (int)dstlen, stdin) == NULL)
		return false;
	nl = strchr(dst, '\n');
	if (nl != NULL)
		*nl = '\0';
	return true;
}

/* Check, and on a terminal offer to correct the proxy until it passes. */
static bool
install_check_loop(struct install *in)
{
	char	 v[INSTALL_VALUE_MAX];

	for (;;) {
		if (in->has_proxy)
			printf("Proxy: %s (from %s)%s%s\n", in->proxy,
			    in->source, in->bypass[0] ? ", bypass: " : "",
			    in->bypass);
		else
			printf("Proxy: none%s%s%s\n", in->source[0] ?
			    " (from " : "", in->source[0] ? in->source : "",
			    in->source[0] ? ")" : "");
		if (install_check(in)) {
			printf("The cloud answered: %s is reachable this "
			    "way.\n", in->tok.url);
			return true;
		}
		fprintf(stderr, "uplink-connector: the cloud %s cannot be "
		    "reached: %s\nFix it with --proxy URL (or --proxy direct) "
		    "and --bypass LIST, or on the proxy or the firewall; "
		    "\"uplink-connector check --cloud %s\" tests the way "
		    "in detail.\nNothing was installed.\n", in->tok.url,
		    in->why, in->tok.url);
		if (in->yes || !isatty(STDIN_FILENO) ||
		    !install_ask("Proxy to try (http://HOST:PORT, \"direct\", "
		    "empty to stop): ", v, sizeof(v)) || v[0] == '\0')
			return false;
		snprintf(in->proxy, sizeof(in->proxy), "%s", v);
		snprintf(in->source, sizeof(in->source), "your answer");
		in->has_proxy = strcmp(v, "direct") != 0;
		if (install_ask("Bypass list (empty for none): ", v, sizeof(v)))
			snprintf(in->bypass, sizeof(in->bypass), "%s", v);
	}
}

/* Runs argv and waits; the exit status, or -1. input goes to its stdin. */
static int
install_spawn(const char *const argv[], const char *input, bool clean_env)
{
	int	 fds[2], status;
	pid_t	 pid;

	if (input != NULL && pipe(fds) != 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == -1)
		return -1;
	if (pid == 0) {
		if (input != NULL) {
			dup2(fds[0], STDIN_FILENO);
			close(fds[0]);
			close(fds[1]);
		}
		if (clean_env) {
			unsetenv("HTTPS_PROXY");
			unsetenv("https_proxy");
			unsetenv("NO_PROXY");
			unsetenv("no_proxy");
		}
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "uplink-connector: cannot run %s: %s\n",
		    argv[0], strerror(errno));
		_exit(127);
	}
	if (input != NULL) {
		close(fds[0]);
		if (write(fds[1], input, strlen(input)) < 0 ||
		    write(fds[1], "\n", 1) < 0)
			status = -1;
		close(fds[1]);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* One line of output of "systemctl show -p PROP --value UNIT". */
static void
install_show(const char *prop, char *dst, size_t dstlen)
{
	char	 cmd[256];
	FILE	*fp;

	dst[0] = '\0';
	snprintf(cmd, sizeof(cmd), "systemctl show -p %s --value %s "
	    "2>/dev/null", prop, INSTALL_UNIT);
	fp = popen(cmd, "r");
	if (fp == NULL)
		return;
	if (fgets(dst, (int)dstlen, fp) != NULL)
		dst[strcspn(dst, "\n")] = '\0';
	pclose(fp);
}

/* Waits for every tunnel ("N of N tunnels up"), else shows the log. */
static int
install_wait(void)
{
	char		 state[64], status[256];
	time_t		 end = time(NULL) + INSTALL_WAIT_SECS;
	int		 up, all;
	const char	*journal[] = { "journalctl", "-q", "--no-pager", "-n",
			    "15", "-o", "cat", "-u", INSTALL_UNIT, NULL };

	while (time(NULL) < end) {
		install_show("ActiveState", state, sizeof(state));
		install_show("StatusText", status, sizeof(status));
		if (sscanf(status, "%d of %d", &up, &all) == 2 && up == all &&
		    all > 0) {
			printf("State: %s, %s\n", state, status);
			return EXIT_OK;
		}
		if (strcmp(state, "failed") == 0)
			break;
		sleep(1);
	}
	fprintf(stderr, "uplink-connector: the service is %s (%s) after %d s; "
	    "its log:\n", state, status[0] ? status : "no status",
	    INSTALL_WAIT_SECS);
	(void)install_spawn(journal, NULL, false);
	return EXIT_FAILED;
}

/* Removes what enroll wrote when install did not finish. */
static void
install_undo(bool had_state, bool had_config)
{
	const char	*rm[] = { "rm", "-rf", INSTALL_STATE_DIR, NULL };

	if (!had_config)
		unlink(CONFIG_DEFAULT_PATH);
	if (!had_state)
		(void)install_spawn(rm, NULL, false);
}

static int
install_enroll(struct install *in)
{
	const char	*argv[12];
	const char	*self = "/proc/self/exe";
	int	 n = 0, rc;
	bool	 had_state = access(INSTALL_STATE_DIR, F_OK) == 0;
	bool	 had_config = access(CONFIG_DEFAULT_PATH, F_OK) == 0;

	if (mkdir(CONFIG_DEFAULT_DIR, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "uplink-connector: cannot make %s: %s\n",
		    CONFIG_DEFAULT_DIR, strerror(errno));
		return EXIT_FAILED;
	}
	argv[n++] = self;
	argv[n++] = "enroll";
	argv[n++] = "--token";
	argv[n++] = "-";
	if (in->has_proxy) {
		argv[n++] = "--proxy";
		argv[n++] = in->proxy;
	}
	if (in->bypass[0] != '\0') {
		argv[n++] = "--bypass";
		argv[n++] = in->bypass;
	}
	argv[n] = NULL;
	rc = install_spawn(argv, in->token, true);
	if (rc != 0) {
		install_undo(had_state, had_config);
		fprintf(stderr, "uplink-connector: enrollment failed (above); "
		    "nothing was installed.\n");
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

static int
install_parse(int argc, char **argv, struct install *in)
{
	static const struct option opts[] = {
		{ "token", required_argument, NULL, 't' },
		{ "proxy", required_argument, NULL, 'p' },
		{ "bypass", required_argument, NULL, 'b' },
		{ "yes", no_argument, NULL, 'y' },
		{ "no-start", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int	 ch;

	while ((ch = getopt_long(argc, argv, "t:p:b:ynh", opts, NULL)) != -1) {
		switch (ch) {
		case 't': in->token_arg = optarg; break;
		case 'p': in->proxy_arg = optarg; break;
		case 'b': in->bypass_arg = optarg; break;
		case 'y': in->yes = true; break;
		case 'n': in->no_start = true; break;
		case 'h': install_usage(stdout); return -1;
		default: install_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		install_usage(stderr);
		return EXIT_USAGE;
	}
	return 0;
}

/* The token: the flag, standard input ("-"), or a question. */
static int
install_token(struct install *in)
{
	char	 err[512];
	int	 rc;

	if (in->token_arg != NULL && strcmp(in->token_arg, "-") != 0)
		snprintf(in->token, sizeof(in->token), "%s", in->token_arg);
	else if (in->token_arg == NULL && (in->yes || !isatty(STDIN_FILENO))) {
		fprintf(stderr, "uplink-connector: install needs --token TOKEN "
		    "(from uplink-cloud token create)\n");
		return EXIT_USAGE;
	} else if ((in->token_arg == NULL && !install_ask("Enrollment token: ",
	    in->token, sizeof(in->token))) || (in->token_arg != NULL &&
	    fgets(in->token, sizeof(in->token), stdin) == NULL))
		in->token[0] = '\0';
	in->token[strcspn(in->token, "\r\n")] = '\0';
	rc = token_decode(in->token, &in->tok, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "uplink-connector: enrollment token: %s\n", err);
		return EXIT_FAILED;
	}
	hostport_parse(in->tok.url + 8, 443, &in->cloud, err, sizeof(err));
	return 0;
}

int
cmd_install(int argc, char **argv)
{
	struct install	 in;
	const char	*start[] = { "systemctl", "enable", "--now",
			    INSTALL_UNIT, NULL };
	const char	*enable[] = { "systemctl", "enable", INSTALL_UNIT,
			    NULL };
	int		 rc;

	memset(&in, 0, sizeof(in));
	rc = install_parse(argc, argv, &in);
	if (rc != 0)
		return rc < 0 ? EXIT_OK : rc;
	if (geteuid() != 0) {
		fprintf(stderr, "uplink-connector: install must run as root "
		    "(sudo uplink-connector install ...)\n");
		return EXIT_USAGE;
	}
	rc = install_token(&in);
	if (rc == 0) {
		install_settings(&in);
		rc = install_check_loop(&in) ? 0 : EXIT_FAILED;
	}
	if (rc == 0)
		rc = install_enroll(&in);
	if (rc == 0) {
		if (install_spawn(in.no_start ? enable : start, NULL,
		    false) != 0) {
			fprintf(stderr, "uplink-connector: systemctl enable "
			    "%s failed (above); the connector is enrolled: "
			    "fix it, then systemctl enable --now %s\n",
			    INSTALL_UNIT, INSTALL_UNIT);
			rc = EXIT_FAILED;
		} else if (in.no_start)
			printf("Enabled %s.service; not started (--no-start)."
			    "\n", INSTALL_UNIT);
		else
			rc = install_wait();
	}
	OPENSSL_cleanse(in.token, sizeof(in.token));
	token_clear(&in.tok);
	return rc;
}

int
cmd_uninstall(int argc, char **argv)
{
	const char	*disable[] = { "systemctl", "disable", "--now",
			    INSTALL_UNIT, NULL };
	const char	*rm[] = { "rm", "-rf", INSTALL_STATE_DIR, NULL };
	char		 answer[16];
	bool		 yes = argc > 1 && strcmp(argv[1], "--yes") == 0;

	if (argc > 2 || (argc == 2 && !yes)) {
		install_usage(argc == 2 && strcmp(argv[1], "--help") == 0 ?
		    stdout : stderr);
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? EXIT_OK :
		    EXIT_USAGE;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "uplink-connector: uninstall must run as root\n");
		return EXIT_USAGE;
	}
	if (!yes && (!isatty(STDIN_FILENO) || !install_ask("Stop the "
	    "connector and delete " CONFIG_DEFAULT_PATH " and "
	    INSTALL_STATE_DIR " (its key)? The cloud keeps it enrolled. "
	    "[y/N] ", answer, sizeof(answer)) || (answer[0] != 'y' &&
	    answer[0] != 'Y'))) {
		fprintf(stderr, "uplink-connector: nothing removed (--yes to "
		    "confirm without a terminal)\n");
		return EXIT_FAILED;
	}
	(void)install_spawn(disable, NULL, false);
	if (unlink(CONFIG_DEFAULT_PATH) != 0 && errno != ENOENT)
		fprintf(stderr, "uplink-connector: %s: %s\n",
		    CONFIG_DEFAULT_PATH, strerror(errno));
	if (install_spawn(rm, NULL, false) != 0)
		return EXIT_FAILED;
	printf("Stopped and disabled %s.service; removed %s and %s.\n"
	    "The cloud still lists the connector: uplink-cloud connector "
	    "revoke ID.\n", INSTALL_UNIT, CONFIG_DEFAULT_PATH,
	    INSTALL_STATE_DIR);
	return EXIT_OK;
}
