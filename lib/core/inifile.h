#ifndef UPLINK_INIFILE_H
#define UPLINK_INIFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * The line reader under both INI parsers (lib/config.c, lib/cloudconf.c):
 * inih hands its handler no line numbers and has a fixed line length, so
 * lines come through here, counted. A config file is a regular file of
 * text of at most INIFILE_MAX bytes: /dev/zero, a FIFO or a directory is
 * refused when opened, and a NUL byte or the cap ends the reading with an
 * error instead of feeding inih empty lines forever.
 */

#define INIFILE_MAX	(1024 * 1024)

struct inifile {
	FILE	*fp;
	int	 line;		/* of the line last read, from 1 */
	size_t	 bytes;		/* read so far */
	bool	 overlong;	/* a line longer than the parser takes */
	bool	 toolarge;	/* more than INIFILE_MAX bytes */
	bool	 nul;		/* a NUL byte: not a text file */
};

/*
 * Opens path for reading. 0: ready. -1: it cannot be opened, errno says
 * why (the caller words the message). -2: it is not a regular file or is
 * larger than INIFILE_MAX; why says so, without the path.
 */
int inifile_open(struct inifile *f, const char *path, char *why,
    size_t whylen);

/*
 * fgets for inih: the next line (with its '\n') into str of num bytes, or
 * NULL at the end of the file and when reading stops: a line of num - 1
 * bytes without its end (overlong, the rest of it skipped), a NUL byte
 * (nul) or the size cap (toolarge).
 */
char *inifile_gets(struct inifile *f, char *str, int num);

/*
 * When reading stopped on a NUL byte or the size cap, writes
 * "PATH:LINE: why; what to do" to err and returns true.
 */
bool inifile_error(const struct inifile *f, const char *path, char *err,
    size_t errlen);

void inifile_close(struct inifile *f);

#endif
