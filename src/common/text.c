/*
 * text.c - escaping untrusted names; see text.h.
 */
#include "common/text.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/xmalloc.h"

size_t
text_utf8_decode(const char *s, size_t n, uint32_t *cpp)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t len;

	if (p[0] < 0x80) {
		*cpp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cpp = cp;
	return len;
}

char *
text_sanitize(const char *s, bool for_terminal)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, o = 0;
	char *out;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	out = xreallocarray(NULL, n + 1, 4);
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = text_utf8_decode(s + i, n - i, &cp);
		bool esc = l == 0;

		if (!esc && for_terminal) {
			if (l == 1 &&
			    (p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\'))
				esc = true;
			/* C1 controls U+0080..U+009F are 0xC2 0x80..0x9F. */
			if (l == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0)
				esc = true;
		}
		if (esc) {
			size_t cnt = l ? l : 1;
			for (size_t k = 0; k < cnt; k++)
				o += (size_t)sprintf(out + o, "\\x%02x",
						     p[i + k]);
			i += cnt;
		} else {
			memcpy(out + o, p + i, l);
			o += l;
			i += l;
		}
	}
	out[o] = '\0';
	return out;
}
