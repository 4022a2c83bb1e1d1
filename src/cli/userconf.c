/*
 * userconf.c - loading and saving the endpoint's settings; see userconf.h.
 */
#include "cli/userconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/ini.h"

#define USERCONF_MAX_FILE (64 * 1024)

int
userconf_dir(char *buf, size_t len)
{
	const char *v = getenv("VIGIL_HOME"), *home = getenv("HOME");
	int n;

	if (v != NULL && *v != '\0')
		n = snprintf(buf, len, "%s", v);
	else if (home != NULL && *home != '\0')
		n = snprintf(buf, len, "%s/.config/vigil", home);
	else
		return VG_EINVAL;
	return n > 0 && (size_t)n < len ? 0 : VG_EINVAL;
}

static int
set(char *dst, size_t cap, const char *v, char *err, size_t errlen,
    const char *key)
{
	if (strlen(v) >= cap) {
		snprintf(err, errlen, "%s is too long", key);
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int
on_key(const char *sec, const char *key, const char *v, char *err,
       size_t errlen, void *ud)
{
	struct userconf *u = ud;

	if (strcmp(sec, "client") != 0) {
		snprintf(err, errlen, "unknown section [%s]", sec);
		return -1;
	}
	if (strcmp(key, "server") == 0)
		return set(u->server, sizeof(u->server), v, err, errlen, key);
	if (strcmp(key, "client_id") == 0)
		return set(u->client_id, sizeof(u->client_id), v, err, errlen,
			   key);
	if (strcmp(key, "token") == 0)
		return set(u->token, sizeof(u->token), v, err, errlen, key);
	if (strcmp(key, "consent") == 0)
		return set(u->consent, sizeof(u->consent), v, err, errlen, key);
	if (strcmp(key, "region") == 0)
		return set(u->region, sizeof(u->region), v, err, errlen, key);
	snprintf(err, errlen, "unknown key '%s'", key);
	return -1;
}

int
userconf_load(struct userconf *u, char *err, size_t errlen)
{
	char dir[1024], path[1100], buf[USERCONF_MAX_FILE];
	ssize_t n;
	int fd;

	memset(u, 0, sizeof(*u));
	if (userconf_dir(dir, sizeof(dir)) != 0) {
		snprintf(err, errlen, "set VIGIL_HOME or HOME");
		return VG_EINVAL;
	}
	snprintf(path, sizeof(path), "%s/config", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? VG_ENOENT : VG_EIO;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0 || n == (ssize_t)sizeof(buf)) {
		snprintf(err, errlen, "%s: unreadable or too large", path);
		return VG_EIO;
	}
	return ini_parse(buf, (size_t)n, path, on_key, u, err, errlen);
}

int
userconf_require(struct userconf *u, const char *cmd)
{
	char err[512];

	if (userconf_load(u, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr,
		"%s: %s\n%s: enrol first: vigil enroll --server URL "
		"[--consent files]\n",
		cmd, err, cmd);
	return 2;
}

int
userconf_save(const struct userconf *u, char *err, size_t errlen)
{
	char dir[1024], path[1100], tmp[1120];
	FILE *f;
	int fd, dfd, bad;

	if (userconf_dir(dir, sizeof(dir)) != 0) {
		snprintf(err, errlen, "set VIGIL_HOME or HOME");
		return VG_EINVAL;
	}
	/* ~/.config may not exist yet either. */
	for (char *p = dir + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			(void)mkdir(dir, 0700);
			*p = '/';
		}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return VG_EIO;
	}
	snprintf(path, sizeof(path), "%s/config", dir);
	snprintf(tmp, sizeof(tmp), "%s/.config.%ld", dir, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return VG_EIO;
	}
	fprintf(f,
		"# written by vigil enroll; holds a secret token\n"
		"[client]\nserver = %s\nclient_id = %s\ntoken = %s\n"
		"consent = %s\nregion = %s\n",
		u->server, u->client_id, u->token, u->consent, u->region);
	bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return VG_EIO;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
