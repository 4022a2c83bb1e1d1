/*
 * objpath.h - how vigil names an object inside a file: the file's path,
 * then `!member` for each container level (`!#N` for a member the
 * container does not name), escaped for a terminal.
 */
#ifndef VIGIL_CLI_OBJPATH_H
#define VIGIL_CLI_OBJPATH_H

#include <stddef.h>
#include <stdio.h>

#include "engine/report.h"

/* Writes the name of object i of report r, scanned under path, to f. */
void objpath_print(FILE *f, const char *path, const struct report *r, size_t i);

#endif
