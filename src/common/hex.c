/*
 * hex.c - see hex.h.
 */
#include "common/hex.h"

void
hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

bool
hex_is_lower(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static unsigned
digit(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

bool
hex_decode_lower(const char *s, size_t n, uint8_t *out)
{
	if (!hex_is_lower(s, 2 * n))
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(digit(s[2 * i]) << 4 | digit(s[2 * i + 1]));
	return true;
}
