/*
 * objpath.c - naming objects inside files; see objpath.h.
 */
#include "cli/objpath.h"

#include <stdlib.h>

#include "common/text.h"

void
objpath_print(FILE *f, const char *path, const struct report *r, size_t i)
{
	char *safe = text_sanitize(path, true), *inner;

	fputs(safe, f);
	free(safe);
	/* The engine names the objects inside (report_object_path()), so
	 * that vigil and a report's "because" agree. */
	inner = report_object_path(r, 0, i);
	if (inner != NULL && *inner != '\0') {
		safe = text_sanitize(inner, true);
		fprintf(f, "!%s", safe);
		free(safe);
	}
	free(inner);
}
