#ifndef UPLINK_CLOUD_CLI_H
#define UPLINK_CLOUD_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cloud.h"
#include "datadir.h"

/*
 * Helpers the admin commands share (cloud/cli.c). Messages go to stderr
 * prefixed "uplink-cloud: "; results to stdout.
 */

/* Where an admin command works, from --data-dir / --config, and --json. */
struct cli_opts {
	const char	*data_dir;
	const char	*config;
	int		 json;
};

/* Long option values every admin command shares, for getopt_long. */
enum {
	CLI_OPT_DATA_DIR = 0x100,
	CLI_OPT_CONFIG,
	CLI_OPT_JSON,
	CLI_OPT_HELP,
};

#define CLI_COMMON_OPTIONS \
	{ "data-dir",	required_argument,	NULL, CLI_OPT_DATA_DIR }, \
	{ "config",	required_argument,	NULL, CLI_OPT_CONFIG }, \
	{ "json",	no_argument,		NULL, CLI_OPT_JSON }, \
	{ "help",	no_argument,		NULL, CLI_OPT_HELP }

/* What the argument parsers return after printing --help. */
#define CLI_HELP	(-1)

/*
 * Handles one of CLI_COMMON_OPTIONS (not --help); returns 1 when ch was
 * one, else 0.
 */
int cli_common_opt(int ch, struct cli_opts *o);

/*
 * Reports the option getopt_long() just refused (unknown, or missing its
 * value); returns EXIT_USAGE. main() turns getopt's own messages off.
 */
int cli_bad_option(const char *cmd, char **argv);

/*
 * Parses CLI_COMMON_OPTIONS, leaving the positional arguments from optind
 * to the caller. Returns EXIT_OK, EXIT_USAGE (message printed) or
 * CLI_HELP (usage printed on stdout).
 */
int cli_options(const char *cmd, int argc, char **argv, struct cli_opts *o,
    void (*usage)(FILE *));

/*
 * Parses the arguments of a command that takes only CLI_COMMON_OPTIONS
 * and, when id is not NULL, exactly one positional argument (what names
 * it in the message). Returns EXIT_OK, EXIT_USAGE (message printed) or
 * CLI_HELP (usage printed on stdout).
 */
int cli_args(const char *cmd, int argc, char **argv, struct cli_opts *o,
    const char **id, const char *what, void (*usage)(FILE *));

/* Prints "uplink-cloud: MESSAGE" and returns EXIT_FAILED. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Prints "uplink-cloud CMD: MESSAGE" and a pointer to "uplink-cloud CMD
 * --help"; returns EXIT_USAGE.
 */
int cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Resolves the data directory from o (datadir_resolve_conf()) and opens
 * it. conf (may be NULL) gets the configuration file read, if any.
 * Prints the error and returns EXIT_USAGE (bad flags or configuration)
 * or EXIT_FAILED; EXIT_OK with dd open.
 */
int cli_open(const struct cli_opts *o, struct datadir *dd, char *conf,
    size_t conflen);

/* A subcommand ("token create") and the function that runs it. */
struct cli_sub {
	const char	*name;
	int		(*fn)(int argc, char **argv);
};

/*
 * Runs the subcommand argv[1] names from subs (NULL-terminated), or
 * prints usage: on stdout for help, on stderr with EXIT_USAGE when it is
 * missing or unknown.
 */
int cli_dispatch(const char *cmd, int argc, char **argv,
    const struct cli_sub *subs, void (*usage)(FILE *));

struct store;
/*
 * "CMD revoke ID": parses the arguments, opens the data directory and
 * calls revoke(st, id, now, err, errlen); prints {"id","revoked_at"} with
 * --json, else "revoked WHAT ID: EFFECT".
 */
int cli_revoke(const char *cmd, int argc, char **argv, void (*usage)(FILE *),
    const char *what, int (*revoke)(struct store *, const char *, int64_t,
    char *, size_t), const char *effect);

#define CLI_TIME_SIZE	32

/* "2025-01-02T03:04:05Z", or "-" for 0. */
const char *cli_time(int64_t t, char buf[CLI_TIME_SIZE]);

/*
 * Appends a row to the audit log for a command run on the command line:
 * actor $USER (or "cli"), kind "cli"; detail from fmt. A failure is a
 * warning on stderr, not the command's failure.
 */
void cli_audit(struct datadir *dd, const char *action, const char *target,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A Unix time for JSON: an integer, or null for 0. */
json_t *cli_json_time(int64_t t);

/*
 * Prints a JSON value on stdout, indented, and frees it. NULL (jansson
 * out of memory) is a failure. Returns EXIT_OK or EXIT_FAILED.
 */
int cli_json_print(json_t *v);

#define CLI_TABLE_COLS	12

/* Rows of text printed with aligned columns; the first row is the header. */
struct cli_table {
	size_t	  ncols;
	char	**cells;
	size_t	  n, cap;	/* cells, not rows */
};

/* Starts a table with its header cells (ncols, 1 to CLI_TABLE_COLS). */
void cli_table_init(struct cli_table *t, size_t ncols, ...);

/* Appends a row of ncols strings (copied). */
void cli_table_row(struct cli_table *t, ...);

/* Prints the table (or nothing more than empty when it has no rows). */
void cli_table_print(const struct cli_table *t, FILE *fp, const char *empty);

void cli_table_free(struct cli_table *t);

#endif
