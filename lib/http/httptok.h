#ifndef UPLINK_HTTPTOK_H
#define UPLINK_HTTPTOK_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The character classes of HTTP/1 heads (RFC 9110) and the quoting of
 * peer bytes for messages, shared by the request (httpreq) and response
 * (httpresp) parsers.
 */

#define HTTPTOK_QUOTE_MAX	60	/* peer bytes quoted in a message */

/*
 * Writes s[0..n) into dst for a message: printable ASCII as is, anything
 * else (quotes and backslashes too) as \xNN, at most HTTPTOK_QUOTE_MAX
 * bytes, then "..." when there was more. The bytes come from a peer and
 * end up in logs, so none may reach them raw.
 */
void httptok_quote(char *dst, size_t dstlen, const char *s, size_t n);

/* Optional white space: SP or HTAB. */
bool httptok_is_ows(char c);

/* A control byte other than HTAB: never valid in a field value. */
bool httptok_is_ctl(char c);

/* RFC 9110 tchar: the characters of a method and of a header name. */
bool httptok_is_tchar(char c);

#endif
