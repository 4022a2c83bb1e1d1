/*
 * workerproc.c - a vigil-worker process: start, hand over, reap, clean
 * its tmpdir; see workerproc.h.
 *
 * Everything here runs on the thread that owns the worker (a slot of
 * analysis.c or retrohunt.c); nothing is shared between workers.
 */
#include "node/workerproc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/xmalloc.h"

/* Folders below a worker's tmpdir deeper than this are left: each level
 * holds a descriptor and a stack frame of the node. */
#define EMPTY_DIR_MAX_DEPTH 64

extern char **environ;

/* Removes everything below dfd (not dfd itself), without following
 * symbolic links. */
static void
empty_dir(int dfd, unsigned depth)
{
	int fd = dup(dfd);
	struct dirent *de;
	DIR *d;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		int sub;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0 ||
		    depth > EMPTY_DIR_MAX_DEPTH)
			continue;
		sub = openat(dfd, de->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0) {
			empty_dir(sub, depth + 1);
			close(sub);
			unlinkat(dfd, de->d_name, AT_REMOVEDIR);
		}
	}
	closedir(d);
}

void
workerproc_clean_tmpdir(struct workerproc *w)
{
	int dfd = open(w->tmpdir,
		       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (dfd >= 0) {
		empty_dir(dfd, 0);
		close(dfd);
	}
}

int
workerproc_init(struct workerproc *w, const char *root, const char *name,
		unsigned index)
{
	w->pid = 0;
	w->sock = -1;
	snprintf(w->tmpdir, sizeof(w->tmpdir), "%s/%s-%u", root, name, index);
	if (mkdir(w->tmpdir, 0700) != 0 && errno != EEXIST)
		return VG_EIO;
	workerproc_clean_tmpdir(w);
	return 0;
}

int
workerproc_start(struct workerproc *w, const char *path, char *const *args,
		 size_t n_args, uint32_t max_scan_ms)
{
	posix_spawn_file_actions_t fa;
	char maxms[16], **argv;
	int sv[2], child, rc;
	size_t argc = 0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return VG_EIO;
	/* dup2 onto itself would keep close-on-exec set. */
	child = sv[1];
	if (child == WORKER_FD) {
		child = fcntl(sv[1], F_DUPFD_CLOEXEC, WORKER_FD + 1);
		close(sv[1]);
		if (child < 0) {
			close(sv[0]);
			return VG_EIO;
		}
	}
	snprintf(maxms, sizeof(maxms), "%u", max_scan_ms);
	argv = xcalloc(n_args + 6, sizeof(*argv));
	argv[argc++] = (char *)path;
	for (size_t i = 0; i < n_args; i++)
		argv[argc++] = args[i];
	argv[argc++] = "--tmpdir";
	argv[argc++] = w->tmpdir;
	argv[argc++] = "--max-scan-ms";
	argv[argc++] = maxms;
	argv[argc] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, child, WORKER_FD);
	rc = posix_spawn(&w->pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	free(argv);
	close(child);
	if (rc != 0) {
		close(sv[0]);
		w->pid = 0;
		errno = rc;
		return VG_ELIB;
	}
	w->sock = sv[0];
	return 0;
}

int
workerproc_wait_hdr(struct workerproc *w, uint64_t ms, struct worker_msg_hdr *m)
{
	uint64_t deadline = clock_ms() + ms;

	for (;;) {
		struct pollfd pfd = {.fd = w->sock, .events = POLLIN};
		uint64_t now = clock_ms();
		int n;

		if (now >= deadline)
			return VG_ELIMIT;
		n = poll(&pfd, 1, (int)(deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 1)
			break;
	}
	return worker_recv_hdr(w->sock, m, NULL);
}

void
workerproc_reap(struct workerproc *w, bool force, char *why, size_t len)
{
	int status = 0;
	uint64_t t0 = clock_ms();

	if (w->sock >= 0) {
		close(w->sock);
		w->sock = -1;
	}
	if (w->pid <= 0)
		return;
	if (force)
		kill(w->pid, SIGKILL);
	/* Closing the socket asks a healthy worker to exit. */
	while (waitpid(w->pid, &status, WNOHANG) == 0) {
		if (clock_ms() - t0 > WORKERPROC_EXIT_MS) {
			kill(w->pid, SIGKILL);
			waitpid(w->pid, &status, 0);
			break;
		}
		usleep(5000);
	}
	if (why != NULL) {
		if (WIFSIGNALED(status))
			snprintf(why, len, "worker killed by signal %d%s",
				 WTERMSIG(status),
				 WTERMSIG(status) == SIGSYS ? " (sandbox)"
							    : "");
		else
			snprintf(why, len, "worker exited with status %d",
				 WEXITSTATUS(status));
	}
	w->pid = 0;
	workerproc_clean_tmpdir(w);
}

int
workerproc_sample_fd(const char *name, const uint8_t *buf, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t off = 0;

	if (fd < 0)
		return VG_EIO;
	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return VG_EIO;
		}
		off += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS,
		  F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) !=
	    0) {
		close(fd);
		return VG_EIO;
	}
	return fd;
}
