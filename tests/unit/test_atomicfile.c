/*
 * atomicfile: the one "temporary file, fsync, rename" writer. Each row
 * writes into a fresh directory and checks the result code, the contents
 * and mode left behind, the message, and that no temporary file remains.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "error.h"

struct row {
	const char	*name;		/* relative to the directory */
	const char	*old;		/* contents before, NULL: no file */
	const char	*data;
	mode_t		 mode;
	int		 rc;
	const char	*why;		/* part of the message on failure */
};

static const struct row rows[] = {
	{ "new", NULL, "hello\n", 0644, UPLINK_OK, NULL },
	{ "key", NULL, "secret", 0600, UPLINK_OK, NULL },
	{ "over", "old contents that are longer", "new", 0640, UPLINK_OK,
	    NULL },
	{ "empty", "x", "", 0600, UPLINK_OK, NULL },
	{ "missing/dir/file", NULL, "x", 0600, UPLINK_EIO,
	    "missing/dir/file: cannot create a file beside it: No such "
	    "file or directory (writing the thing needs" },
};

static size_t
entries(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*e;
	size_t		 n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_rows(void **state)
{
	char		 dir[] = "/tmp/uplink-atomicfile-XXXXXX";
	char		 path[PATH_MAX], got[256], err[512];
	struct stat	 st;
	FILE		*fp;
	size_t		 i, n, before;
	int		 rc;

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, rows[i].name);
		if (rows[i].old != NULL) {
			fp = fopen(path, "w");
			assert_non_null(fp);
			fputs(rows[i].old, fp);
			fclose(fp);
		}
		before = entries(dir);
		err[0] = '\0';
		rc = atomicfile_write(path, rows[i].data, strlen(rows[i].data),
		    rows[i].mode, "thing", err, sizeof(err));
		if (rc != rows[i].rc)
			fail_msg("%s: rc %d, want %d (%s)", rows[i].name, rc,
			    rows[i].rc, err);
		if (rc != UPLINK_OK) {
			if (strstr(err, rows[i].why) == NULL)
				fail_msg("%s: message \"%s\" lacks \"%s\"",
				    rows[i].name, err, rows[i].why);
			assert_int_equal(entries(dir), before);
			continue;
		}
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, rows[i].mode);
		fp = fopen(path, "r");
		assert_non_null(fp);
		n = fread(got, 1, sizeof(got) - 1, fp);
		fclose(fp);
		got[n] = '\0';
		assert_string_equal(got, rows[i].data);
		/* Only the file itself: the temporary one is gone. */
		assert_int_equal(entries(dir), before + (rows[i].old == NULL));
		unlink(path);
	}
	rmdir(dir);
}

static void
test_too_long(void **state)
{
	char	 path[PATH_MAX + 8], err[256];

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(atomicfile_write(path, "x", 1, 0600, NULL, err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_non_null(strstr(err, "the path is too long"));
	/* A NULL message buffer is allowed. */
	assert_int_equal(atomicfile_write(path, "x", 1, 0600, NULL, NULL, 0),
	    UPLINK_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
