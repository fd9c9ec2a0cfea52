/*
 * inifile: the line reader under both INI parsers. What it refuses when
 * opening (devices, directories, FIFOs, files over the cap) and where
 * reading stops (a NUL byte, an overlong line), with the line counted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inifile.h"

static char	 dir[] = "/tmp/uplink-inifile-XXXXXX";

static const char *
file_with(const char *name, const char *data, size_t len)
{
	static char	 path[256];
	FILE		*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
	return path;
}

static void
test_refused_at_open(void **state)
{
	struct inifile	 f;
	char		 why[160], fifo[300];
	const char	*big;
	int		 fd;

	(void)state;
	assert_int_equal(inifile_open(&f, "/dev/zero", why, sizeof(why)), -2);
	assert_non_null(strstr(why, "character device"));
	assert_int_equal(inifile_open(&f, dir, why, sizeof(why)), -2);
	assert_non_null(strstr(why, "directory"));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* Refused without waiting for a writer. */
	assert_int_equal(inifile_open(&f, fifo, why, sizeof(why)), -2);
	assert_non_null(strstr(why, "FIFO"));
	big = file_with("big", "", 0);
	fd = open(big, O_WRONLY);
	assert_int_equal(ftruncate(fd, INIFILE_MAX + 1), 0);
	close(fd);
	assert_int_equal(inifile_open(&f, big, why, sizeof(why)), -2);
	assert_non_null(strstr(why, "1048577 bytes"));
	assert_int_equal(inifile_open(&f, "/nonexistent/x.conf", why,
	    sizeof(why)), -1);
	/* Exactly the cap is a file like any other. */
	fd = open(big, O_WRONLY);
	assert_int_equal(ftruncate(fd, INIFILE_MAX), 0);
	close(fd);
	assert_int_equal(inifile_open(&f, big, why, sizeof(why)), 0);
	inifile_close(&f);
}

static void
test_lines(void **state)
{
	struct inifile	 f;
	char		 line[8], why[160], err[256];
	const char	*p;

	(void)state;
	p = file_with("ok", "a=1\nb=2\nlast", 12);
	assert_int_equal(inifile_open(&f, p, why, sizeof(why)), 0);
	assert_string_equal(inifile_gets(&f, line, sizeof(line)), "a=1\n");
	assert_string_equal(inifile_gets(&f, line, sizeof(line)), "b=2\n");
	assert_string_equal(inifile_gets(&f, line, sizeof(line)), "last");
	assert_null(inifile_gets(&f, line, sizeof(line)));
	assert_int_equal(f.line, 3);
	assert_false(inifile_error(&f, p, err, sizeof(err)));
	inifile_close(&f);

	/* A NUL byte on line 2 stops the reading there. */
	p = file_with("nul", "a=1\nb=\0\nc=3\n", 12);
	assert_int_equal(inifile_open(&f, p, why, sizeof(why)), 0);
	assert_non_null(inifile_gets(&f, line, sizeof(line)));
	assert_null(inifile_gets(&f, line, sizeof(line)));
	assert_null(inifile_gets(&f, line, sizeof(line)));
	assert_true(inifile_error(&f, p, err, sizeof(err)));
	assert_non_null(strstr(err, "nul:2: a NUL byte"));
	inifile_close(&f);

	/*
	 * A buffer of 8 takes 6 characters and the newline; 7 and a newline
	 * are overlong (as with fgets, the newline does not fit); 7 and the
	 * end of the file are not.
	 */
	p = file_with("long", "123456\n1234567\n", 15);
	assert_int_equal(inifile_open(&f, p, why, sizeof(why)), 0);
	assert_non_null(inifile_gets(&f, line, sizeof(line)));
	assert_null(inifile_gets(&f, line, sizeof(line)));
	assert_true(f.overlong);
	assert_int_equal(f.line, 2);
	inifile_close(&f);
	p = file_with("exact", "1234567", 7);
	assert_int_equal(inifile_open(&f, p, why, sizeof(why)), 0);
	assert_string_equal(inifile_gets(&f, line, sizeof(line)), "1234567");
	assert_false(f.overlong);
	inifile_close(&f);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	 cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_at_open),
		cmocka_unit_test(test_lines),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
