/*
 * ini.h - a strict INI reader for vigil's configuration files.
 *
 * Lines are `[section]`, `key = value`, blank, or comments starting with
 * `#` or `;`. Keys and section names are [A-Za-z0-9_.-]; values run to the
 * end of the line, trimmed, and may be double-quoted to keep spaces or a
 * `#`. Anything else is an error naming the line. Lines are at most
 * INI_MAX_LINE bytes; NUL bytes are refused.
 */
#ifndef VIGIL_COMMON_INI_H
#define VIGIL_COMMON_INI_H

#include <stddef.h>

#define INI_MAX_LINE 4096

/* Called for every key; returns 0 to go on, or non-zero after writing a
 * reason into err (errlen bytes) to stop the parse. */
typedef int (*ini_fn)(const char *section, const char *key, const char *value,
		      char *err, size_t errlen, void *ud);

/*
 * Parses len bytes at buf, calling fn for each key. Returns 0, or
 * VG_EFORMAT with "origin:LINE: reason" in err.
 */
int ini_parse(const char *buf, size_t len, const char *origin, ini_fn fn,
	      void *ud, char *err, size_t errlen);

#endif
