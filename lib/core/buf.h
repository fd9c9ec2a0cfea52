#ifndef UPLINK_BUF_H
#define UPLINK_BUF_H

#include <stdarg.h>
#include <stddef.h>

/*
 * A growable, length-carrying byte buffer with a hard cap (after curl's
 * dynbuf). The contents are always NUL-terminated so a buffer holding text can
 * be used as a C string, but embedded NULs are allowed. Appending past the cap
 * fails with UPLINK_ETOOBIG and leaves the buffer as it was.
 */
struct buf {
	char	*ptr;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
};

/* Initialises an empty buffer that will never hold more than max bytes. */
void buf_init(struct buf *b, size_t max);

/* Frees the storage and leaves an empty buffer with the same cap. */
void buf_free(struct buf *b);

/* Empties the buffer but keeps its storage. */
void buf_reset(struct buf *b);

/* Appends len bytes. Returns UPLINK_OK, UPLINK_ETOOBIG or UPLINK_ENOMEM. */
int buf_append(struct buf *b, const void *data, size_t len);

/* Appends a NUL-terminated string. */
int buf_appends(struct buf *b, const char *s);

/* Appends printf-formatted text. */
int buf_appendf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vappendf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Returns the contents as a C string ("" for an empty buffer, never NULL). */
const char *buf_cstr(const struct buf *b);

/* Removes the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);

/*
 * Reads the whole file at path into b, which it initialises with the cap
 * max. Returns UPLINK_OK; UPLINK_EIO with "PATH: why" in err when the file
 * cannot be opened or read; UPLINK_ETOOBIG with "PATH: larger than MAX
 * bytes: not the file expected" when it is longer (b holds what was read:
 * buf_free() it either way). The bytes pass through no other copy that
 * outlives the call: the file may be a secret key.
 */
int buf_read_file(struct buf *b, const char *path, size_t max, char *err,
    size_t errlen);

#endif
