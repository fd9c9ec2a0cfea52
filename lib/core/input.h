#ifndef UPLINK_INPUT_H
#define UPLINK_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Text that arrives from outside (API paths, ids, error texts that quote
 * what a client sent), checked or made safe before it goes anywhere that
 * needs valid UTF-8 (JSON) or a C string. Pure functions, no I/O.
 */

/*
 * Whether s[0..len) is well-formed UTF-8: no overlong forms, no
 * surrogates, nothing above U+10FFFF. NUL bytes count as valid here; the
 * callers that care refuse them separately.
 */
bool input_utf8_valid(const char *s, size_t len);

/*
 * The length of the well-formed UTF-8 character at s, with n bytes left
 * (1 to 4), or 0 when there is none: a stray continuation byte, an
 * overlong form, a surrogate, past U+10FFFF, or cut short.
 */
size_t input_utf8_char(const unsigned char *s, size_t n);

/* The value of the hex digit c (either case), or -1. */
int input_hexval(char c);

/*
 * Makes the C string s valid UTF-8 in place: every byte that does not
 * start or belong to a well-formed character becomes '?', so a text cut
 * inside a character (snprintf's truncation, "%.64s") or quoting a
 * client's bytes can always go into JSON. Returns how many bytes it
 * replaced.
 */
size_t input_utf8_clean(char *s);

/*
 * Decodes one percent-encoded path segment of len bytes (no '+' rule: a
 * path's '+' is a plus). Returns the decoded text (free() it), or NULL
 * with why set: a '%' not followed by two hex digits, an encoded NUL
 * ("%00") or bytes that are not UTF-8. NULL with why empty: out of
 * memory.
 */
char *input_segment_decode(const char *raw, size_t len, char *why,
    size_t whylen);

/*
 * Parses a decimal id from 1 to max: digits only (no sign, no spaces),
 * at most 19 of them, no overflow. false when s is anything else.
 */
bool input_id_parse(const char *s, int64_t max, int64_t *out);

#endif
