/*
 * fileio.c - see fileio.h.
 */
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/xmalloc.h"

int
io_write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
io_pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return VG_EIO;
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

ssize_t
io_read_full(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int
io_pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t r = pread(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return VG_EIO;
		if (r == 0)
			return VG_ECORRUPT;
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

int
io_fsync(int fd)
{
	int r;

	do
		r = fsync(fd);
	while (r != 0 && errno == EINTR);
	return r == 0 ? 0 : VG_EIO;
}

int
io_fdatasync(int fd)
{
	int r;

	do
		r = fdatasync(fd);
	while (r != 0 && errno == EINTR);
	return r == 0 ? 0 : VG_EIO;
}

int
io_fsync_parent(const char *path)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int fd, rc;

	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return VG_EIO;
	rc = io_fsync(fd);
	close(fd);
	return rc;
}

int
io_dir_open(const char *dir, const char *busy, int *fd, char *err,
	    size_t errlen)
{
	int e;

	*fd = -1;
	if (mkdir(dir, 0700) == 0) {
		/* The new directory's entry must survive a crash too. */
		if (io_fsync_parent(dir) != 0) {
			snprintf(err, errlen, "%s: cannot sync its parent: %s",
				 dir, strerror(errno));
			return VG_EIO;
		}
	} else if (errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return VG_EIO;
	}
	if ((*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		e = errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(e));
		return e == ENOTDIR ? VG_ETYPE : VG_EIO;
	}
	if (busy != NULL && flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		e = errno;
		snprintf(err, errlen, "%s: %s", dir,
			 e == EWOULDBLOCK ? busy : strerror(e));
		close(*fd);
		*fd = -1;
		return e == EWOULDBLOCK ? VG_EINVAL : VG_EIO;
	}
	return 0;
}
