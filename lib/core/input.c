#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"

/*
 * Untrusted text at the API's edge. The rules follow RFC 3629: a lead
 * byte says how many continuation bytes (10xxxxxx) follow, the value
 * must need that many (no overlong forms), and surrogates (U+D800 to
 * U+DFFF) and values above U+10FFFF are not characters. jansson refuses
 * exactly these, so a string that passes here always packs.
 */

size_t
input_utf8_char(const unsigned char *s, size_t n)
{
	size_t		 len, i;
	unsigned	 cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool
input_utf8_valid(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n;

	while (i < len) {
		n = input_utf8_char(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

size_t
input_utf8_clean(char *s)
{
	unsigned char	*p = (unsigned char *)s;
	size_t		 len = strlen(s), i = 0, n, bad = 0;

	while (i < len) {
		n = input_utf8_char(p + i, len - i);
		if (n == 0) {
			p[i] = '?';
			bad++;
			n = 1;
		}
		i += n;
	}
	return bad;
}

int
input_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
input_segment_decode(const char *raw, size_t len, char *why, size_t whylen)
{
	char	*out;
	size_t	 i, n = 0;
	int	 hi, lo;

	if (whylen > 0)
		why[0] = '\0';
	out = malloc(len + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (raw[i] != '%') {
			out[n++] = raw[i];
			continue;
		}
		hi = i + 2 < len ? input_hexval(raw[i + 1]) : -1;
		lo = hi >= 0 ? input_hexval(raw[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			snprintf(why, whylen, "a '%%' must be followed by two hex "
			    "digits");
			goto fail;
		}
		if (hi == 0 && lo == 0) {
			snprintf(why, whylen, "it contains an encoded NUL byte "
			    "(%%00)");
			goto fail;
		}
		out[n++] = (char)(hi * 16 + lo);
		i += 2;
	}
	out[n] = '\0';
	if (memchr(out, '\0', n) != NULL) {
		snprintf(why, whylen, "it contains a NUL byte");
		goto fail;
	}
	if (!input_utf8_valid(out, n)) {
		snprintf(why, whylen, "it is not valid UTF-8 once decoded");
		goto fail;
	}
	return out;
fail:
	free(out);
	return NULL;
}

bool
input_id_parse(const char *s, int64_t max, int64_t *out)
{
	int64_t	 v = 0;
	size_t	 i;

	if (s[0] == '\0' || strlen(s) > 19)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (INT64_MAX - (s[i] - '0')) / 10)
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > max)
		return false;
	*out = v;
	return true;
}
