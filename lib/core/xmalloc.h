#ifndef UPLINK_XMALLOC_H
#define UPLINK_XMALLOC_H

#include <stddef.h>

/*
 * Allocation for the daemons and tools: out of memory is fatal, through this
 * one wrapper (OpenSMTPD's habit). Library parsers that callers may want to
 * survive allocation failure return UPLINK_ENOMEM instead.
 */
void	*xmalloc(size_t size);
void	*xcalloc(size_t nmemb, size_t size);
void	*xrealloc(void *ptr, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
char	*xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
