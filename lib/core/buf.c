#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"

void
buf_init(struct buf *b, size_t max)
{
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
buf_free(struct buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->ptr != NULL)
		b->ptr[0] = '\0';
}

/* Makes room for extra more bytes plus the terminating NUL. */
static int
buf_reserve(struct buf *b, size_t extra)
{
	size_t	 need, ncap;
	char	*p;

	if (extra > b->max || b->len > b->max - extra)
		return UPLINK_ETOOBIG;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return UPLINK_OK;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap *= 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	p = realloc(b->ptr, ncap);
	if (p == NULL)
		return UPLINK_ENOMEM;
	b->ptr = p;
	b->cap = ncap;
	return UPLINK_OK;
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
	int	 rc;

	rc = buf_reserve(b, len);
	if (rc != UPLINK_OK)
		return rc;
	if (len > 0)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
	return UPLINK_OK;
}

int
buf_appends(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_vappendf(struct buf *b, const char *fmt, va_list ap)
{
	va_list	 ap2;
	int	 n, rc;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return UPLINK_EINVAL;
	rc = buf_reserve(b, (size_t)n);
	if (rc != UPLINK_OK)
		return rc;
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return UPLINK_OK;
}

int
buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = buf_vappendf(b, fmt, ap);
	va_end(ap);
	return rc;
}

const char *
buf_cstr(const struct buf *b)
{
	return b->ptr != NULL ? b->ptr : "";
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->ptr, b->ptr + n, b->len - n);
	b->len -= n;
	b->ptr[b->len] = '\0';
}

int
buf_read_file(struct buf *b, const char *path, size_t max, char *err,
    size_t errlen)
{
	char	 chunk[4096];
	ssize_t	 n;
	int	 fd, rc = UPLINK_OK;

	buf_init(b, max);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return uplink_fail(UPLINK_EIO, err, errlen, "%s: %s", path,
		    strerror(errno));
	while (rc == UPLINK_OK && (n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0)
			rc = uplink_fail(UPLINK_EIO, err, errlen, "%s: %s", path,
			    strerror(errno));
		else if (buf_append(b, chunk, (size_t)n) != UPLINK_OK)
			rc = uplink_fail(UPLINK_ETOOBIG, err, errlen, "%s: larger "
			    "than %zu bytes: not the file expected", path, max);
	}
	close(fd);
	explicit_bzero(chunk, sizeof(chunk));
	return rc;
}
