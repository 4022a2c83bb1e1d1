/*
 * ini.c - the strict INI reader; see ini.h.
 */
#include "common/ini.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"

static int
is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static const char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Parses one line in place; returns a static reason or NULL. */
static const char *
parse_line(char *line, char *section, size_t seclen, ini_fn fn, void *ud,
	   char *cberr, size_t cberrlen, int *stopped)
{
	char *s = (char *)trim(line), *eq, *key, *val;

	if (*s == '\0' || *s == '#' || *s == ';')
		return NULL;
	if (*s == '[') {
		char *end = strchr(s, ']');
		if (end == NULL || end[1] != '\0')
			return "a section header is [name]";
		*end = '\0';
		if (s[1] == '\0' || (size_t)(end - s) > seclen)
			return "bad section name";
		for (char *p = s + 1; *p; p++)
			if (!is_name_char(*p))
				return "bad character in section name";
		memcpy(section, s + 1, (size_t)(end - s));
		return NULL;
	}
	if ((eq = strchr(s, '=')) == NULL)
		return "expected key = value";
	*eq = '\0';
	key = (char *)trim(s);
	val = (char *)trim(eq + 1);
	if (*key == '\0')
		return "empty key";
	for (char *p = key; *p; p++)
		if (!is_name_char(*p))
			return "bad character in key";
	if (*val == '"') {
		size_t n = strlen(val);
		if (n < 2 || val[n - 1] != '"')
			return "unterminated quoted value";
		val[n - 1] = '\0';
		val++;
		if (strchr(val, '"') != NULL)
			return "quote inside a quoted value";
	} else {
		char *c = strchr(val, '#');
		if (c != NULL && c > val && (c[-1] == ' ' || c[-1] == '\t')) {
			*c = '\0';
			val = (char *)trim(val);
		}
	}
	if (section[0] == '\0')
		return "key outside any [section]";
	if (fn(section, key, val, cberr, cberrlen, ud) != 0) {
		*stopped = 1;
		return "";
	}
	return NULL;
}

int
ini_parse(const char *buf, size_t len, const char *origin, ini_fn fn, void *ud,
	  char *err, size_t errlen)
{
	char line[INI_MAX_LINE + 1], section[128] = "", cberr[512];
	const char *p = buf, *end = buf + len;
	unsigned long lineno = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		const char *why;
		int stopped = 0;

		lineno++;
		if (n > INI_MAX_LINE)
			why = "line too long";
		else if (memchr(p, '\0', n) != NULL)
			why = "NUL byte in line";
		else {
			memcpy(line, p, n);
			line[n] = '\0';
			cberr[0] = '\0';
			why = parse_line(line, section, sizeof(section) - 1, fn,
					 ud, cberr, sizeof(cberr), &stopped);
		}
		if (why != NULL) {
			snprintf(err, errlen, "%s:%lu: %s", origin, lineno,
				 stopped ? cberr : why);
			return VG_EFORMAT;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}
