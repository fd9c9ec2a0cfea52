/*
 * Unit tests for lib/keyfile.c: a table of key file modes, and a file that
 * is not there.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "keyfile.h"

struct mode_row {
	mode_t		 mode;
	int		 rc;
	const char	*says;		/* in err, NULL for UPLINK_OK */
};

static const struct mode_row mode_rows[] = {
	{ 0600, UPLINK_OK, NULL },
	{ 0400, UPLINK_OK, NULL },
	{ 0700, UPLINK_OK, NULL },
	{ 0000, UPLINK_OK, NULL },
	{ 0640, UPLINK_EINVAL, "can be read by other users (mode 0640): run "
	    "\"chmod 600 " },
	{ 0644, UPLINK_EINVAL, "(mode 0644)" },
	{ 0604, UPLINK_EINVAL, "can be read" },
	{ 0440, UPLINK_EINVAL, "can be read" },
	{ 0620, UPLINK_EINVAL, "can be changed by other users (mode 0620)" },
	{ 0602, UPLINK_EINVAL, "can be changed" },
	{ 0610, UPLINK_EINVAL, "(mode 0610)" },
	{ 0666, UPLINK_EINVAL, "can be read" },
};

static void
test_modes(void **state)
{
	char	 dir[] = "/tmp/test_keyfile.XXXXXX", path[PATH_MAX];
	char	 err[512];
	size_t	 i;
	int	 fd, rc;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/server.key", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	for (i = 0; i < sizeof(mode_rows) / sizeof(mode_rows[0]); i++) {
		assert_int_equal(chmod(path, mode_rows[i].mode), 0);
		err[0] = '\0';
		rc = keyfile_check_mode(path, "the cloud's TLS key", err,
		    sizeof(err));
		if (rc != mode_rows[i].rc)
			fail_msg("mode %04o: rc %d, want %d (%s)",
			    (unsigned)mode_rows[i].mode, rc, mode_rows[i].rc,
			    err);
		if (mode_rows[i].says == NULL)
			continue;
		if (strstr(err, mode_rows[i].says) == NULL ||
		    strstr(err, path) != err ||
		    strstr(err, "(the cloud's TLS key)") == NULL)
			fail_msg("mode %04o: \"%s\" does not say \"%s\"",
			    (unsigned)mode_rows[i].mode, err,
			    mode_rows[i].says);
	}
	/* The fix the message gives works. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(keyfile_check_mode(path, NULL, err, sizeof(err)),
	    UPLINK_EINVAL);
	assert_non_null(strstr(err, "chmod 600"));
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(keyfile_check_mode(path, NULL, err, sizeof(err)),
	    UPLINK_OK);
	unlink(path);
	assert_int_equal(keyfile_check_mode(path, NULL, err, sizeof(err)),
	    UPLINK_EIO);
	assert_non_null(strstr(err, "No such file"));
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
