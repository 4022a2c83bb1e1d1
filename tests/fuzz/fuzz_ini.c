/*
 * fuzz_ini.c - libFuzzer target: any bytes as a vigild configuration file
 * load or are refused with an error naming a line, never crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
on_key(const char *section, const char *key, const char *value, char *err,
       size_t errlen, void *ud)
{
	size_t *n = ud;

	/* Refuse one key, to exercise the callback's error path. */
	if (strcmp(key, "refuse") == 0) {
		snprintf(err, errlen, "refused");
		return -1;
	}
	*n += strlen(section) + strlen(key) + strlen(value);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	size_t n = 0;

	if (ini_parse((const char *)data, size, "fuzz.ini", on_key, &n, err,
		      sizeof(err)) != 0 &&
	    strncmp(err, "fuzz.ini:", 9) != 0)
		abort(); /* every error names the file and line */
	return 0;
}
