/*
 * lookup_body.c - the plain lookup body scanner; see lookup_body.h.
 */
#include "node/lookup_body.h"

#include <string.h>

/* Skips JSON whitespace. */
static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

long
lookup_body_scan(const char *p, size_t len, size_t max, lookup_hash_fn fn,
		 void *ud)
{
	const char *end = p + len;
	size_t k = 0;

	if (p == NULL)
		return -1;
	p = skip_ws(p, end);
	if (p == end || *p++ != '{')
		return -1;
	p = skip_ws(p, end);
	if ((size_t)(end - p) < 8 || memcmp(p, "\"hashes\"", 8) != 0)
		return -1;
	p = skip_ws(p + 8, end);
	if (p == end || *p++ != ':')
		return -1;
	p = skip_ws(p, end);
	if (p == end || *p++ != '[')
		return -1;
	p = skip_ws(p, end);
	if (p < end && *p == ']') {
		p++;
	} else {
		for (;;) {
			const char *s;

			if (p == end || *p++ != '"')
				return -1;
			for (s = p; p < end && *p != '"'; p++)
				if ((unsigned char)*p < 0x20 ||
				    (unsigned char)*p > 0x7e || *p == '\\')
					return -1;
			if (p == end || k >= max)
				return -1;
			fn(ud, k++, s, (size_t)(p - s));
			p = skip_ws(p + 1, end);
			if (p == end)
				return -1;
			if (*p == ']') {
				p++;
				break;
			}
			if (*p++ != ',')
				return -1;
			p = skip_ws(p, end);
		}
	}
	p = skip_ws(p, end);
	if (p == end || *p++ != '}' || skip_ws(p, end) != end)
		return -1;
	return (long)k;
}
