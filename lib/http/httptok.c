#include <stdio.h>
#include <string.h>

#include "httptok.h"

void
httptok_quote(char *dst, size_t dstlen, const char *s, size_t n)
{
	size_t		 i, o = 0;
	unsigned char	 c;

	for (i = 0; i < n && i < HTTPTOK_QUOTE_MAX && o + 8 < dstlen; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, dstlen - o, "\\x%02x",
			    c);
	}
	if (i < n) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

bool
httptok_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

bool
httptok_is_ctl(char c)
{
	unsigned char	 u = (unsigned char)c;

	return (u < 0x20 && u != '\t') || u == 0x7f;
}

bool
httptok_is_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}
