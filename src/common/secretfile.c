/*
 * secretfile.c - see secretfile.h.
 */
#include "common/secretfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/xmalloc.h"

int
secret_file_read(const char *path, size_t max, char **out, size_t *len,
		 char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd;

	*out = NULL;
	*len = 0;
	/* Symlinks are followed (secret mounts publish files through
	 * them); the file itself is checked. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) <
	    0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? VG_ENOENT : VG_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return VG_ETYPE;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen,
			 "%s: mode %04o; it must not be accessible to group "
			 "or others (chmod 600)",
			 path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return VG_EINVAL;
	}
	if ((uint64_t)st.st_size > max) {
		snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
		close(fd);
		return VG_ELIMIT;
	}
	buf = xmalloc(max + 1);
	n = read(fd, buf, max + 1);
	close(fd);
	if (n < 0 || (size_t)n > max) {
		snprintf(err, errlen, "%s: cannot be read whole", path);
		explicit_bzero(buf, max + 1);
		free(buf);
		return VG_EIO;
	}
	buf[n] = '\0';
	*out = buf;
	*len = (size_t)n;
	return 0;
}

int
secret_file_create(const char *path, const char *data, size_t len, char *err,
		   size_t errlen)
{
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	int fd, rc = 0;

	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: cannot create: %s", path,
			 strerror(errno));
		free(tmp);
		return VG_EIO;
	}
	if (fchmod(fd, 0600) != 0 || io_write_all(fd, data, len) != 0 ||
	    io_fsync(fd) != 0) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp,
			 strerror(errno));
		rc = VG_EIO;
	}
	if (close(fd) != 0 && rc == 0) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp,
			 strerror(errno));
		rc = VG_EIO;
	}
	/* link() fails rather than replaces: whoever made the file first
	 * wins, and a crash never leaves a half-written one. */
	if (rc == 0 && link(tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = errno == EEXIST ? VG_EINVAL : VG_EIO;
	}
	unlink(tmp);
	free(tmp);
	if (rc == 0 && io_fsync_parent(path) != 0) {
		snprintf(err, errlen, "%s: cannot sync its directory", path);
		rc = VG_EIO;
	}
	return rc;
}
