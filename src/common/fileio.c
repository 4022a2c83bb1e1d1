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
io_read_file(const char *path, size_t max, uint8_t **data, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	ssize_t n;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? VG_ENOENT : VG_EIO;
	if (fstat(fd, &st) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return VG_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return VG_ETYPE;
	}
	/* Read one byte more than allowed: a file that grew since fstat()
	 * is still caught. */
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return VG_ELIMIT;
	}
	buf = xmalloc((size_t)st.st_size + 2);
	n = io_read_full(fd, buf, (size_t)st.st_size + 1);
	e = errno;
	close(fd);
	if (n < 0 || (size_t)n > max) {
		free(buf);
		errno = e;
		return n < 0 ? VG_EIO : VG_ELIMIT;
	}
	buf[n] = '\0';
	*data = buf;
	*len = (size_t)n;
	return 0;
}

int
io_write_file(const char *path, const void *data, size_t len, int mode)
{
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	int fd = mkstemp(tmp), bad, e;

	if (fd < 0) {
		e = errno;
		free(tmp);
		errno = e;
		return VG_EIO;
	}
	bad = fchmod(fd, (mode_t)mode) != 0 ||
	      io_write_all(fd, data, len) != 0 || io_fsync(fd) != 0;
	e = errno;
	bad |= close(fd) != 0;
	if (!bad && rename(tmp, path) != 0) {
		e = errno;
		bad = 1;
	}
	if (bad) {
		unlink(tmp);
		free(tmp);
		errno = e;
		return VG_EIO;
	}
	free(tmp);
	return io_fsync_parent(path);
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
