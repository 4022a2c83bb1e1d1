/*
 * fileio.h - whole reads and writes, and syncs, for the code that makes
 * files durable (the sample store, the transparency log, secret files).
 *
 * Every function goes on through EINTR and short transfers. A failed sync
 * is not retried (except on EINTR): after one, the kernel may have
 * dropped the dirty pages, and a second sync could falsely pass.
 */
#ifndef VIGIL_COMMON_FILEIO_H
#define VIGIL_COMMON_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Writes all n bytes; 0, or -1 with errno. */
int io_write_all(int fd, const void *buf, size_t n);

/* Writes all n bytes at off; 0 or VG_EIO. */
int io_pwrite_all(int fd, const void *buf, size_t n, uint64_t off);

/* Reads up to n bytes, stopping early only at end of file; returns the
 * count, or -1 with errno. */
ssize_t io_read_full(int fd, void *buf, size_t n);

/* Reads exactly n bytes at off; VG_ECORRUPT if the file ends first,
 * VG_EIO on an error. */
int io_pread_all(int fd, void *buf, size_t n, uint64_t off);

/* fsync() and fdatasync(); 0 or VG_EIO. */
int io_fsync(int fd);
int io_fdatasync(int fd);

/* Makes path's entry in its parent directory durable; 0 or VG_EIO. */
int io_fsync_parent(const char *path);

/*
 * Reads the whole regular file at path, at most max bytes, into *data
 * (malloc'd, with a NUL after the last byte; the caller frees it) and
 * *len. Returns 0, VG_ENOENT (no such file), VG_ETYPE (not a regular
 * file), VG_ELIMIT (more than max bytes) or VG_EIO, with errno kept.
 */
int io_read_file(const char *path, size_t max, uint8_t **data, size_t *len)
	__attribute__((warn_unused_result));

/*
 * Replaces path with data[0..len), mode mode, so that a crash leaves the
 * old file or the new one: a temporary file beside it, written and
 * synced, renamed over path, the directory synced. Returns 0 or VG_EIO
 * with errno kept; nothing is left behind on failure.
 */
int io_write_file(const char *path, const void *data, size_t len, int mode)
	__attribute__((warn_unused_result));

/*
 * Opens the directory dir into *fd, creating it first (mode 0700, its
 * entry synced) if it does not exist. With busy not NULL, also takes an
 * exclusive lock on it (flock), held while *fd is open: a directory
 * another process or handle holds is VG_EINVAL, with "dir: <busy>" in err.
 * Other failures: VG_ETYPE (not a directory) or VG_EIO, with a message.
 */
int io_dir_open(const char *dir, const char *busy, int *fd, char *err,
		size_t errlen);

#endif
