/*
 * keyfile: the mode check of private keys. Each row sets a mode on a
 * temporary file and expects the verdict and a part of the message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "keyfile.h"

struct mode_row {
	mode_t		 mode;
	int		 rc;
	const char	*why;
};

static const struct mode_row mode_rows[] = {
	{ 0600, UPLINK_OK, NULL },
	{ 0400, UPLINK_OK, NULL },
	{ 0700, UPLINK_OK, NULL },
	{ 0640, UPLINK_EINVAL, "is readable by group (mode 0640)" },
	{ 0644, UPLINK_EINVAL, "is readable by group and others (mode 0644)" },
	{ 0604, UPLINK_EINVAL, "is readable by others (mode 0604)" },
	{ 0620, UPLINK_EINVAL, "is writable by group (mode 0620)" },
	{ 0666, UPLINK_EINVAL, "readable and writable by group and others" },
	{ 0601, UPLINK_EINVAL, "by others (mode 0601)" },
};

static void
test_modes(void **state)
{
	char	 path[] = "/tmp/uplink-keyfile-XXXXXX", err[512];
	size_t	 i;
	int	 fd, rc;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	for (i = 0; i < sizeof(mode_rows) / sizeof(mode_rows[0]); i++) {
		assert_int_equal(chmod(path, mode_rows[i].mode), 0);
		err[0] = '\0';
		rc = keyfile_check_mode(path, "the key", err, sizeof(err));
		if (rc != mode_rows[i].rc)
			fail_msg("mode %04o: rc %d, want %d (%s)",
			    (unsigned)mode_rows[i].mode, rc, mode_rows[i].rc,
			    err);
		if (mode_rows[i].why == NULL)
			continue;
		if (strstr(err, mode_rows[i].why) == NULL ||
		    strstr(err, "chmod 600 ") == NULL ||
		    strstr(err, path) == NULL)
			fail_msg("mode %04o: message \"%s\" lacks \"%s\"",
			    (unsigned)mode_rows[i].mode, err,
			    mode_rows[i].why);
	}
	unlink(path);
}

static void
test_missing_and_dir(void **state)
{
	char	 err[512];

	(void)state;
	assert_int_equal(keyfile_check_mode("/nonexistent/uplink.key",
	    "the key", err, sizeof(err)), UPLINK_EIO);
	assert_non_null(strstr(err, "cannot examine the key "
	    "/nonexistent/uplink.key"));
	assert_int_equal(keyfile_check_mode("/tmp", "the key", err,
	    sizeof(err)), UPLINK_EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_missing_and_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
