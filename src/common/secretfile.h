/*
 * secretfile.h - small secret files (keys, tokens): created whole with
 * mode 0600 or not at all, and refused when others could read them.
 */
#ifndef VIGIL_COMMON_SECRETFILE_H
#define VIGIL_COMMON_SECRETFILE_H

#include <stddef.h>

/*
 * Reads the regular file at path (symlinks followed) into a new
 * NUL-terminated buffer of *len bytes (the caller wipes it with
 * explicit_bzero and frees it). VG_ENOENT if it does not exist;
 * VG_EINVAL if group or others have any access to it; VG_ETYPE if it is
 * not a regular file; VG_ELIMIT over max bytes; VG_EIO otherwise. err
 * says which.
 */
int secret_file_read(const char *path, size_t max, char **out, size_t *len,
		     char *err, size_t errlen);

/*
 * Creates path holding data[0..len), mode 0600: written to a temporary
 * file, synced, then linked to its name (which fails, VG_EINVAL, if the
 * name exists) and the directory synced. A crash leaves the whole file or
 * none.
 */
int secret_file_create(const char *path, const char *data, size_t len,
		       char *err, size_t errlen);

#endif
