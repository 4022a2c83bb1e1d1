/*
 * walk.h - walking the paths given to `vigil scan`.
 *
 * Symbolic links are followed, to files and to directories; a directory
 * already on the walk (by device and inode) is not entered twice, so a
 * symlink loop ends with an error line instead of an endless walk. Only
 * regular files are handed on; fifos, sockets and devices are reported
 * as errors and never opened (opening a fifo would block the scan).
 */
#ifndef VIGIL_CLI_WALK_H
#define VIGIL_CLI_WALK_H

#include <sys/stat.h>

/* Called for each regular file with its path and its stat (followed). */
typedef void (*walk_file_fn)(const char *path, const struct stat *st, void *ud);
/* Called for each path that cannot be scanned, with the reason. */
typedef void (*walk_error_fn)(const char *path, const char *why, void *ud);

/* Walks path, recursing into directories. */
void walk_path(const char *path, walk_file_fn on_file, walk_error_fn on_error,
	       void *ud);

#endif
