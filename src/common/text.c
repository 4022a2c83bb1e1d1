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

/* Days from 1970-01-01 to year y, month m (1-12), day d of the proleptic
 * Gregorian calendar (Howard Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool
digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return true;
}

bool
text_day_parse(const char *s, size_t n, int64_t *start)
{
	static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30,
					   31, 31, 30, 31, 30, 31};
	unsigned y, m, d, last;

	if (s == NULL || n != 10 || s[4] != '-' || s[7] != '-' ||
	    !digits(s, 4, &y) || !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d))
		return false;
	if (y < 1970 || m < 1 || m > 12 || d < 1)
		return false;
	last = mdays[m - 1];
	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		last = 29;
	if (d > last)
		return false;
	*start = days_from_civil(y, m, d) * 86400;
	return true;
}

bool
text_day_format(int64_t t, char out[11])
{
	int64_t z, era, y;
	unsigned doe, yoe, doy, mp, d, m;

	if (t < 0 || t > INT64_C(253402300799))
		return false;
	z = t / 86400 + 719468;
	era = z / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	/* Digit by digit: y is 1970..9999, m 1..12, d 1..31. */
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = '\0';
	return true;
}
