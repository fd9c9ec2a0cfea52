#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inifile.h"

/*
 * Opened with O_NONBLOCK so that a FIFO does not wait for a writer before
 * fstat can tell it is not a regular file; a regular file ignores the
 * flag, which is cleared before reading anyway.
 */
int
inifile_open(struct inifile *f, const char *path, char *why, size_t whylen)
{
	struct stat	 st;
	int		 fd, flags;

	memset(f, 0, sizeof(*f));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(why, whylen, "not a regular file (%s); give the path "
		    "of a config file", S_ISDIR(st.st_mode) ? "a directory" :
		    S_ISCHR(st.st_mode) ? "a character device" :
		    S_ISFIFO(st.st_mode) ? "a FIFO" : "a special file");
		return -2;
	}
	if (st.st_size > INIFILE_MAX) {
		close(fd);
		snprintf(why, whylen, "%lld bytes, more than a config file may "
		    "have (%d); is it the right file?", (long long)st.st_size,
		    INIFILE_MAX);
		return -2;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	f->fp = fdopen(fd, "r");
	if (f->fp == NULL) {
		close(fd);
		return -1;
	}
	return 0;
}

/* The next byte, or EOF at the end, on a NUL byte and past the cap. */
static int
inifile_getc(struct inifile *f)
{
	int	 c;

	if (f->nul || f->toolarge)
		return EOF;
	c = getc(f->fp);
	if (c == EOF)
		return EOF;
	if (++f->bytes > INIFILE_MAX) {
		f->toolarge = true;
		return EOF;
	}
	if (c == '\0') {
		f->nul = true;
		return EOF;
	}
	return c;
}

char *
inifile_gets(struct inifile *f, char *str, int num)
{
	int	 c = EOF, n = 0;

	if (num < 2)
		return NULL;
	while (n < num - 1 && (c = inifile_getc(f)) != EOF) {
		str[n++] = (char)c;
		if (c == '\n')
			break;
	}
	str[n] = '\0';
	if (f->nul || f->toolarge || n == 0)
		return NULL;
	f->line++;
	if (n == num - 1 && c != '\n') {
		c = inifile_getc(f);
		if (c == EOF)
			return f->nul || f->toolarge ? NULL : str;
		ungetc(c, f->fp);
		f->bytes--;
		f->overlong = true;
		while ((c = inifile_getc(f)) != EOF && c != '\n')
			;
		return NULL;
	}
	return str;
}

bool
inifile_error(const struct inifile *f, const char *path, char *err,
    size_t errlen)
{
	if (f->nul)
		snprintf(err, errlen, "%s:%d: a NUL byte: a config file is text; "
		    "is it the right file?", path, f->line + 1);
	else if (f->toolarge)
		snprintf(err, errlen, "%s:%d: more than %d bytes, more than a "
		    "config file may have; is it the right file?", path,
		    f->line + 1, INIFILE_MAX);
	return f->nul || f->toolarge;
}

void
inifile_close(struct inifile *f)
{
	if (f->fp != NULL)
		fclose(f->fp);
	f->fp = NULL;
}
