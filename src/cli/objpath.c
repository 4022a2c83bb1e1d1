/*
 * objpath.c - naming objects inside files; see objpath.h.
 */
#include "cli/objpath.h"

#include <stdlib.h>

#include "common/text.h"

void
objpath_print(FILE *f, const char *path, const struct report *r, size_t i)
{
	const struct object *o = &r->objects[i];
	char *safe;

	if (o->parent < 0) {
		safe = text_sanitize(path, true);
		fputs(safe, f);
		free(safe);
		return;
	}
	objpath_print(f, path, r, (size_t)o->parent);
	if (o->name != NULL) {
		safe = text_sanitize(o->name, true);
		fprintf(f, "!%s", safe);
		free(safe);
	} else {
		fprintf(f, "!#%u", o->index);
	}
}
