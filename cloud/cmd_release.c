/*
 * "uplink-cloud release add|list|remove": the signed connector releases
 * this cloud serves to its connectors (cloud/releases.c,
 * docs/updates.md).
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cli.h"
#include "cloud.h"
#include "cloudconf.h"
#include "datadir.h"
#include "error.h"
#include "release.h"
#include "releases.h"
#include "store.h"
#include "xmalloc.h"

static void
release_usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-cloud release add MANIFEST [FILE...] [WHERE] [--json]\n"
"       uplink-cloud release list [WHERE] [--json]\n"
"       uplink-cloud release remove VERSION [WHERE] [--json]\n"
"WHERE: --data-dir DIR | --config FILE\n"
"\n"
"  add MANIFEST   store a signed connector release (made by uplink-release\n"
"                 sign): MANIFEST and MANIFEST.minisig, and each file the\n"
"                 manifest lists, given as FILE (matched by its base name)\n"
"                 or, when none is given, found beside MANIFEST. The\n"
"                 signature must verify with the signing key the manifest\n"
"                 carries and each file must have its size and SHA-256.\n"
"                 Files go to DIR/releases/ under their SHA-256. Adding a\n"
"                 release already stored only copies files that are missing\n"
"                 (another instance's data directory) and exits 0.\n"
"  list           every release: version, channel, architecture, signing\n"
"                 time, files\n"
"  remove VERSION remove every release of VERSION (all channels and\n"
"                 architectures) and the files no other release uses\n"
"\n"
"Connectors download releases from the running cloud with their client\n"
"certificate (GET /v1/releases/...); rollouts install the newest one of\n"
"each connector's channel and architecture (docs/updates.md).\n"
"\n"
"  --data-dir DIR   the data directory made by \"uplink-cloud init\"\n"
"  --config FILE    the configuration file (its data_dir)\n"
"  --json           print JSON\n"
"\n"
"Examples:\n"
"  uplink-cloud release add dist/manifest.json --config /etc/uplink/cloud.conf\n"
"  uplink-cloud release remove 0.2.0 --data-dir /var/lib/uplink-cloud\n");
}

/* Options and positional arguments (FILE... for add). */
static int
release_args(const char *cmd, int argc, char **argv, struct cli_opts *o,
    int min, int max)
{
	int	 rc;

	if ((rc = cli_options(cmd, argc, argv, o, release_usage)) != EXIT_OK)
		return rc;
	if (argc - optind < min || argc - optind > max)
		return cli_usage(cmd, min == 0 ? "takes no argument" : min == max ?
		    "give one version" : "give the manifest, then its files");
	return EXIT_OK;
}

static int
release_add(int argc, char **argv)
{
	struct releases_src	 src[RELEASE_FILES_MAX];
	struct cli_opts		 o = { 0 };
	struct datadir		 dd;
	struct buf		 mtext, stext;
	const char		*manifest;
	char			 sigpath[4096], version[RELEASE_VERSION_MAX + 1];
	char			 err[1024], mdir[4096], paths[RELEASE_FILES_MAX][4096];
	char			*base;
	size_t			 n = 0, i;
	bool			 exists = false;
	int			 rc, k;

	rc = release_args("release add", argc, argv, &o, 1,
	    1 + RELEASE_FILES_MAX);
	if (rc != EXIT_OK)
		return rc == CLI_HELP ? EXIT_OK : rc;
	manifest = argv[optind];
	for (k = optind + 1; k < argc; k++) {
		snprintf(paths[n], sizeof(paths[n]), "%s", argv[k]);
		snprintf(mdir, sizeof(mdir), "%s", argv[k]);
		base = basename(mdir);
		src[n].name = xstrdup(base);
		src[n].path = paths[n];
		src[n].data = NULL;
		src[n].len = 0;
		n++;
	}
	snprintf(sigpath, sizeof(sigpath), "%s.minisig", manifest);
	buf_init(&mtext, 0);
	buf_init(&stext, 0);
	if (buf_read_file(&mtext, manifest, RELEASE_MANIFEST_MAX, err,
	    sizeof(err)) != UPLINK_OK || buf_read_file(&stext, sigpath,
	    RELEASE_SIGFILE_MAX, err, sizeof(err)) != UPLINK_OK) {
		rc = cli_fail("%s", err);
		goto out;
	}
	if (n == 0) {
		/* The manifest's files, beside it. */
		struct release_manifest	 m;

		snprintf(mdir, sizeof(mdir), "%s", manifest);
		if (release_manifest_parse(buf_cstr(&mtext), mtext.len, &m, err,
		    sizeof(err)) != UPLINK_OK) {
			rc = cli_fail("%s: %s", manifest, err);
			goto out;
		}
		for (i = 0; i < m.nfiles; i++) {
			snprintf(paths[n], sizeof(paths[n]), "%s/%s",
			    dirname(mdir), m.files[i].name);
			snprintf(mdir, sizeof(mdir), "%s", manifest);
			src[n].name = xstrdup(m.files[i].name);
			src[n].path = paths[n];
			src[n].data = NULL;
			src[n].len = 0;
			n++;
		}
		release_manifest_free(&m);
	}
	rc = cli_open(&o, &dd, NULL, 0);
	if (rc != EXIT_OK)
		goto out;
	if (releases_add(&dd, buf_cstr(&mtext), mtext.len, buf_cstr(&stext),
	    stext.len, src, n, time(NULL), version, sizeof(version), &exists,
	    err, sizeof(err)) != 0 && !exists)
		rc = cli_fail("release %s refused: %s", manifest, err);
	else if (!exists)
		cli_audit(&dd, "release.add", version, "added release %s",
		    version);
	datadir_close(&dd);
	if (rc != EXIT_OK)
		goto out;
	if (o.json)
		rc = cli_json_print(json_pack("{s:s, s:b}", "version", version,
		    "already_stored", exists));
	else
		printf("%s release %s (%zu file%s in %s/releases/)\n", exists ?
		    "already stored: checked the files of" : "stored", version,
		    n, n == 1 ? "" : "s", o.data_dir ? o.data_dir : "the data "
		    "directory");
out:
	for (i = 0; i < n; i++)
		free((char *)src[i].name);
	buf_free(&mtext);
	buf_free(&stext);
	return rc;
}

struct list_rows {
	json_t	*arr;
};

static int
list_row(void *arg, const struct store_release *r)
{
	struct list_rows	*l = arg;

	json_array_append_new(l->arr, releases_json(r));
	return 0;
}

static int
list_cmp(const void *a, const void *b)
{
	json_t * const	*x = a, * const *y = b;

	return release_version_cmp(json_string_value(json_object_get(*y,
	    "version")), json_string_value(json_object_get(*x, "version")));
}

static int
release_list(int argc, char **argv)
{
	struct cli_opts		 o = { 0 };
	struct datadir		 dd;
	struct list_rows	 l;
	struct cli_table	 t;
	json_t			*v, **sorted;
	char			 err[1024], when[CLI_TIME_SIZE], files[256];
	size_t			 i, k, n;
	int			 rc;

	rc = release_args("release list", argc, argv, &o, 0, 0);
	if (rc != EXIT_OK)
		return rc == CLI_HELP ? EXIT_OK : rc;
	rc = cli_open(&o, &dd, NULL, 0);
	if (rc != EXIT_OK)
		return rc;
	l.arr = json_array();
	if (store_release_list(dd.st, NULL, list_row, &l, err, sizeof(err)) !=
	    UPLINK_OK) {
		datadir_close(&dd);
		json_decref(l.arr);
		return cli_fail("%s", err);
	}
	datadir_close(&dd);
	n = json_array_size(l.arr);
	sorted = xcalloc(n + 1, sizeof(*sorted));
	json_array_foreach(l.arr, i, v)
		sorted[i] = v;
	qsort(sorted, n, sizeof(*sorted), list_cmp);
	if (o.json) {
		json_t *out = json_array();

		for (i = 0; i < n; i++)
			json_array_append(out, sorted[i]);
		free(sorted);
		json_decref(l.arr);
		return cli_json_print(out);
	}
	cli_table_init(&t, 5, "VERSION", "CHANNEL", "ARCH", "SIGNED",
	    "FILES");
	for (i = 0; i < n; i++) {
		files[0] = '\0';
		json_array_foreach(json_object_get(sorted[i], "files"), k, v)
			snprintf(files + strlen(files), sizeof(files) -
			    strlen(files), "%s%s (%lld bytes)", k ? ", " : "",
			    json_string_value(json_object_get(v, "name")),
			    (long long)json_integer_value(json_object_get(v,
			    "size")));
		cli_table_row(&t, json_string_value(json_object_get(sorted[i],
		    "version")), json_string_value(json_object_get(sorted[i],
		    "channel")), json_string_value(json_object_get(sorted[i],
		    "arch")), cli_time(json_integer_value(json_object_get(
		    sorted[i], "signed_at")), when), files);
	}
	cli_table_print(&t, stdout, "no releases: add one with \"uplink-cloud "
	    "release add MANIFEST\"");
	cli_table_free(&t);
	free(sorted);
	json_decref(l.arr);
	return EXIT_OK;
}

static int
release_remove(int argc, char **argv)
{
	struct cli_opts	 o = { 0 };
	struct datadir	 dd;
	const char	*version;
	char		 err[1024];
	int64_t		 n = 0;
	int		 rc;

	rc = release_args("release remove", argc, argv, &o, 1, 1);
	if (rc != EXIT_OK)
		return rc == CLI_HELP ? EXIT_OK : rc;
	version = argv[optind];
	if (!release_version_valid(version))
		return cli_usage("release remove", "\"%s\" is not a version "
		    "(1 to 4 dot-separated numbers)", version);
	rc = cli_open(&o, &dd, NULL, 0);
	if (rc != EXIT_OK)
		return rc;
	if (releases_remove(&dd, version, &n, err, sizeof(err)) != 0)
		rc = cli_fail("%s", err);
	else if (n == 0)
		rc = cli_fail("no release %s is stored (see \"uplink-cloud "
		    "release list\")", version);
	else
		cli_audit(&dd, "release.remove", version, "removed release %s",
		    version);
	datadir_close(&dd);
	if (rc != EXIT_OK)
		return rc;
	if (o.json)
		return cli_json_print(json_pack("{s:s, s:I}", "version",
		    version, "removed", (json_int_t)n));
	printf("removed release %s (%lld row%s)\n", version, (long long)n,
	    n == 1 ? "" : "s");
	return EXIT_OK;
}

int
cmd_release(int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "add", release_add },
		{ "list", release_list },
		{ "remove", release_remove },
		{ NULL, NULL },
	};

	return cli_dispatch("release", argc, argv, subs, release_usage);
}
