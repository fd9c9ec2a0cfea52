/*
 * Untrusted text at the API's edge (lib/input.c): whatever the bytes, a
 * decoded segment is valid UTF-8 without NUL, a cleaned text is valid
 * UTF-8 of the same length, and an accepted id is in range and prints
 * back as its digits.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s, *out, why[128], back[32];
	int64_t	 id;
	size_t	 len;

	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	len = strlen(s);
	out = input_segment_decode(s, len, why, sizeof(why));
	if (out != NULL && !input_utf8_valid(out, strlen(out)))
		abort();
	if (out == NULL && why[0] == '\0')
		abort();
	free(out);
	input_utf8_clean(s);
	if (strlen(s) != len || !input_utf8_valid(s, len))
		abort();
	if (input_id_parse(s, INT64_MAX, &id)) {
		snprintf(back, sizeof(back), "%lld", (long long)id);
		if (id < 1 || strcmp(back, s + strspn(s, "0")) != 0)
			abort();
	}
	free(s);
	return 0;
}
