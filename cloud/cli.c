#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "datadir.h"
#include "error.h"
#include "log.h"
#include "xmalloc.h"

/*
 * Helpers the admin commands share: option parsing, messages, tables and
 * JSON output (cli.h).
 */

int
cli_common_opt(int ch, struct cli_opts *o)
{
	switch (ch) {
	case CLI_OPT_DATA_DIR:
		o->data_dir = optarg;
		return 1;
	case CLI_OPT_CONFIG:
		o->config = optarg;
		return 1;
	case CLI_OPT_JSON:
		o->json = 1;
		return 1;
	}
	return 0;
}

int
cli_bad_option(const char *cmd, char **argv)
{
	return cli_usage(cmd, "\"%s\" is not an option here, or lacks its "
	    "value", argv[optind - 1]);
}

int
cli_options(const char *cmd, int argc, char **argv, struct cli_opts *o,
    void (*usage_fn)(FILE *))
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int	 ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_common_opt(ch, o))
			continue;
		if (ch != CLI_OPT_HELP)
			return cli_bad_option(cmd, argv);
		usage_fn(stdout);
		return CLI_HELP;
	}
	return EXIT_OK;
}

int
cli_args(const char *cmd, int argc, char **argv, struct cli_opts *o,
    const char **id, const char *what, void (*usage_fn)(FILE *))
{
	int	 rc;

	if (id != NULL)
		*id = NULL;
	if ((rc = cli_options(cmd, argc, argv, o, usage_fn)) != EXIT_OK)
		return rc;
	if (id == NULL && optind < argc)
		return cli_usage(cmd, "unexpected argument \"%s\"",
		    argv[optind]);
	if (id != NULL && argc - optind != 1)
		return cli_usage(cmd, "give one %s", what);
	if (id != NULL)
		*id = argv[optind];
	return EXIT_OK;
}

int
cli_fail(const char *fmt, ...)
{
	va_list	 ap;

	fputs("uplink-cloud: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAILED;
}

int
cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "uplink-cloud %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see \"uplink-cloud %s --help\"\n", cmd);
	return EXIT_USAGE;
}

int
cli_open(const struct cli_opts *o, struct datadir *dd, char *conf,
    size_t conflen)
{
	char	 dir[DATADIR_PATH_MAX], err[1024];
	int	 rc;

	rc = datadir_resolve_conf(o->data_dir, o->config, dir, sizeof(dir),
	    conf, conflen, err, sizeof(err));
	if (rc != UPLINK_OK) {
		cli_fail("%s", err);
		return EXIT_USAGE;
	}
	if (datadir_open(dir, dd, err, sizeof(err)) != UPLINK_OK)
		return cli_fail("%s", err);
	return EXIT_OK;
}

void
cli_audit(struct datadir *dd, const char *action, const char *target,
    const char *fmt, ...)
{
	struct store_audit	 a;
	char			 err[256];
	va_list			 ap;

	memset(&a, 0, sizeof(a));
	snprintf(a.actor, sizeof(a.actor), "%s", getenv("USER") ?
	    getenv("USER") : "cli");
	snprintf(a.actor_kind, sizeof(a.actor_kind), "cli");
	snprintf(a.action, sizeof(a.action), "%s", action);
	snprintf(a.target, sizeof(a.target), "%s", target);
	va_start(ap, fmt);
	vsnprintf(a.detail, sizeof(a.detail), fmt, ap);
	va_end(ap);
	if (store_audit_add(dd->st, &a, err, sizeof(err)) != UPLINK_OK)
		fprintf(stderr, "uplink-cloud: warning: audit log: %s\n", err);
}

const char *
cli_time(int64_t t, char buf[CLI_TIME_SIZE])
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (t == 0)
		snprintf(buf, CLI_TIME_SIZE, "-");
	else if (gmtime_r(&tt, &tm) == NULL || strftime(buf, CLI_TIME_SIZE,
	    "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, CLI_TIME_SIZE, "%lld", (long long)t);
	return buf;
}

json_t *
cli_json_time(int64_t t)
{
	return t != 0 ? json_integer((json_int_t)t) : json_null();
}

int
cli_dispatch(const char *cmd, int argc, char **argv,
    const struct cli_sub *subs, void (*usage_fn)(FILE *))
{
	const char	*sub = argc > 1 ? argv[1] : NULL;
	char		 names[128] = "";
	size_t		 i;

	if (sub == NULL) {
		usage_fn(stderr);
		return EXIT_USAGE;
	}
	for (i = 0; subs[i].name != NULL; i++)
		if (strcmp(sub, subs[i].name) == 0)
			return subs[i].fn(argc - 1, argv + 1);
	if (strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0 ||
	    strcmp(sub, "-h") == 0) {
		usage_fn(stdout);
		return EXIT_OK;
	}
	for (i = 0; subs[i].name != NULL; i++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names),
		    "%s%s", i == 0 ? "" : subs[i + 1].name == NULL ? " or " :
		    ", ", subs[i].name);
	return cli_usage(cmd, "unknown subcommand \"%s\" (%s)", sub, names);
}

int
cli_revoke(const char *cmd, int argc, char **argv, void (*usage_fn)(FILE *),
    const char *what, int (*revoke)(struct store *, const char *, int64_t,
    char *, size_t), const char *effect)
{
	struct cli_opts	 o = { 0 };
	struct datadir	 dd;
	const char	*id;
	int64_t		 now = time(NULL);
	char		 err[1024];
	int		 rc;

	rc = cli_args(cmd, argc, argv, &o, &id, what, usage_fn);
	if (rc != EXIT_OK)
		return rc == CLI_HELP ? EXIT_OK : rc;
	rc = cli_open(&o, &dd, NULL, 0);
	if (rc != EXIT_OK)
		return rc;
	rc = revoke(dd.st, id, now, err, sizeof(err));
	datadir_close(&dd);
	if (rc != UPLINK_OK)
		return cli_fail("%s", err);
	if (o.json)
		return cli_json_print(json_pack("{s:s, s:I}", "id", id,
		    "revoked_at", (json_int_t)now));
	printf("revoked %s %s: %s\n", what, id, effect);
	return EXIT_OK;
}

int
cli_json_print(json_t *v)
{
	int	 rc;

	if (v == NULL)
		return cli_fail("out of memory building the JSON output");
	rc = json_dumpf(v, stdout, JSON_INDENT(2));
	json_decref(v);
	if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
		return cli_fail("cannot write the JSON output");
	return EXIT_OK;
}

static void
cli_table_vrow(struct cli_table *t, va_list ap)
{
	size_t	 i;

	if (t->n + t->ncols > t->cap) {
		t->cap = t->cap ? t->cap * 2 : t->ncols * 16;
		t->cells = xrealloc(t->cells, t->cap * sizeof(*t->cells));
	}
	for (i = 0; i < t->ncols; i++)
		t->cells[t->n++] = xstrdup(va_arg(ap, const char *));
}

void
cli_table_init(struct cli_table *t, size_t ncols, ...)
{
	va_list	 ap;

	if (ncols == 0 || ncols > CLI_TABLE_COLS)
		fatalx("a table of %zu columns", ncols);
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	va_start(ap, ncols);
	cli_table_vrow(t, ap);
	va_end(ap);
}

void
cli_table_row(struct cli_table *t, ...)
{
	va_list	 ap;

	va_start(ap, t);
	cli_table_vrow(t, ap);
	va_end(ap);
}

void
cli_table_print(const struct cli_table *t, FILE *fp, const char *empty)
{
	size_t	 w[CLI_TABLE_COLS] = { 0 }, i, c, len;

	if (t->n <= t->ncols) {
		fprintf(fp, "%s\n", empty);
		return;
	}
	for (i = 0; i < t->n; i++) {
		len = strlen(t->cells[i]);
		c = i % t->ncols;
		if (len > w[c])
			w[c] = len;
	}
	for (i = 0; i < t->n; i++) {
		c = i % t->ncols;
		if (c + 1 == t->ncols)
			fprintf(fp, "%s\n", t->cells[i]);
		else
			fprintf(fp, "%-*s  ", (int)w[c], t->cells[i]);
	}
}

void
cli_table_free(struct cli_table *t)
{
	size_t	 i;

	for (i = 0; i < t->n; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
