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
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/landlock.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "node/workerlog.h"

/* Folders below a worker's tmpdir deeper than this are left: each level
 * holds a descriptor and a stack frame of the node. */
#define EMPTY_DIR_MAX_DEPTH 64

/* What workerproc_setup() decided; read-only afterwards. */
static struct {
	bool ready;
	bool drop; /* the node is root: workers become uid:gid */
	uid_t uid;
	gid_t gid;
	bool landlock; /* false: absent, and allowed */
	bool test_no_landlock;
} who;

/* The Landlock ABI the kernel offers (what the worker's sandbox.c will
 * ask for), 0 when it has none or has it disabled (ENOSYS, EOPNOTSUPP),
 * VG_ELIB on any other error. */
static int
landlock_probe(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
			   LANDLOCK_CREATE_RULESET_VERSION);

	if (abi >= 0)
		return abi > 0 ? (int)abi : 1;
	if (errno == ENOSYS || errno == EOPNOTSUPP)
		return 0;
	return VG_ELIB;
}

/* Runs useradd for WORKERPROC_USER and waits for it; its status does not
 * matter (another node may have created the user meanwhile): the caller
 * looks the user up again. */
static void
create_user(void)
{
	char *const argv[] = {
		"useradd", "--system",          "--no-create-home",
		"--shell", "/usr/sbin/nologin", WORKERPROC_USER,
		NULL};
	char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status = 0;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (posix_spawnp(&pid, "useradd", &fa, NULL, argv, envp) == 0) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		log_event(LOG_INFO, "worker_user_created",
			  "user=%s useradd_status=%d", WORKERPROC_USER,
			  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	posix_spawn_file_actions_destroy(&fa);
}

int
workerproc_setup(const struct workerproc_policy *p, char *err, size_t errlen)
{
	int abi;

	who.ready = false;
	who.drop = geteuid() == 0;
	who.uid = geteuid();
	who.gid = getegid();
	if (who.drop) {
		struct passwd *pw = getpwnam(WORKERPROC_USER);

		if (pw == NULL) {
			create_user();
			pw = getpwnam(WORKERPROC_USER);
		}
		if (pw == NULL) {
			snprintf(err, errlen,
				 "the node runs as root and the workers' user "
				 "%s is missing and could not be created "
				 "(useradd --system --no-create-home --shell "
				 "/usr/sbin/nologin %s)",
				 WORKERPROC_USER, WORKERPROC_USER);
			return VG_ENOENT;
		}
		if (pw->pw_uid == 0 || pw->pw_gid == 0) {
			snprintf(err, errlen,
				 "the workers' user %s is root (uid or gid 0)",
				 WORKERPROC_USER);
			return VG_EINVAL;
		}
		who.uid = pw->pw_uid;
		who.gid = pw->pw_gid;
	} else {
		log_event(LOG_INFO, "worker_user",
			  "user=node uid=%d reason=\"not root: a dedicated "
			  "worker user needs root\"",
			  (int)who.uid);
	}
	who.test_no_landlock = p->test_no_landlock;
	abi = p->test_no_landlock ? 0 : landlock_probe();
	if (abi < 0) {
		snprintf(err, errlen, "Landlock: unexpected error (errno %d)",
			 errno);
		return VG_ELIB;
	}
	if (p->test_no_landlock)
		log_event(LOG_WARN, "sandbox_landlock_test_absent",
			  "reason=\"VIGIL_TEST_NO_LANDLOCK: behaving as on a "
			  "kernel without Landlock\"");
	who.landlock = abi > 0;
	if (!who.landlock && !p->allow_without_landlock) {
		snprintf(err, errlen,
			 "the kernel has no Landlock (or it is disabled): "
			 "refusing to start workers that could read every file "
			 "their user can; set [sandbox] "
			 "allow_without_landlock = true to run them anyway");
		return VG_EINVAL;
	}
	if (!who.landlock)
		log_event(LOG_WARN, "sandbox_landlock_unavailable",
			  "reason=\"workers will run without Landlock: "
			  "[sandbox] allow_without_landlock = true\"");
	log_event(LOG_INFO, "worker_identity", "uid=%d gid=%d landlock_abi=%d",
		  (int)who.uid, (int)who.gid, abi);
	who.ready = true;
	return 0;
}

/* The environment a worker gets: nothing, but for a sanitizer build's
 * own options (it reads them before main). */
static char **
worker_env(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
	static const char *const keep[] = {
		"ASAN_OPTIONS=", "LSAN_OPTIONS=", "UBSAN_OPTIONS="};
	static char *env[4];
	size_t n = 0;

	for (size_t i = 0; i < 3; i++) {
		size_t k = strlen(keep[i]) - 1;
		char name[16];
		const char *v;

		memcpy(name, keep[i], k);
		name[k] = '\0';
		if ((v = getenv(name)) != NULL && n < 3) {
			static char buf[3][1024];

			snprintf(buf[n], sizeof(buf[n]), "%s%s", keep[i], v);
			env[n] = buf[n];
			n++;
		}
	}
	env[n] = NULL;
	return env;
#else
	static char *env[] = {NULL};

	return env;
#endif
}

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
	int fd, rc = 0;

	w->pid = 0;
	w->sock = -1;
	snprintf(w->tmpdir, sizeof(w->tmpdir), "%s/%s-%u", root, name, index);
	snprintf(w->name, sizeof(w->name), "%s-%u", name, index);
	if (mkdir(w->tmpdir, 0700) != 0 && errno != EEXIST)
		return VG_EIO;
	workerproc_clean_tmpdir(w);
	/* The worker's alone, and nobody else's: a folder left by an older
	 * version, or by a node run as another user, is taken back. */
	fd = open(w->tmpdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return VG_EIO;
	if ((who.drop && fchown(fd, who.uid, who.gid) != 0) ||
	    fchmod(fd, 0700) != 0)
		rc = VG_EIO;
	close(fd);
	return rc;
}

int
workerproc_start(struct workerproc *w, const char *path, char *const *args,
		 size_t n_args, uint32_t max_scan_ms)
{
	posix_spawn_file_actions_t fa;
	char maxms[16], user[48], **argv;
	int sv[2], out[2], child, out_w, rc;
	size_t argc = 0;

	if (!who.ready)
		return VG_EINVAL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return VG_EIO;
	if (pipe2(out, O_CLOEXEC) != 0) {
		close(sv[0]);
		close(sv[1]);
		return VG_EIO;
	}
	/* The child's ends go above the fds they are copied onto: a dup2
	 * onto itself would keep close-on-exec set, and one onto the other
	 * would lose it. */
	child = sv[1];
	out_w = out[1];
	if (child <= WORKER_FD) {
		child = fcntl(sv[1], F_DUPFD_CLOEXEC, WORKER_FD + 1);
		close(sv[1]);
	}
	if (out_w <= WORKER_FD) {
		out_w = fcntl(out[1], F_DUPFD_CLOEXEC, WORKER_FD + 1);
		close(out[1]);
	}
	if (child < 0 || out_w < 0) {
		rc = VG_EIO;
		goto fail_fds;
	}
	snprintf(maxms, sizeof(maxms), "%u", max_scan_ms);
	snprintf(user, sizeof(user), "%u:%u", (unsigned)who.uid,
		 (unsigned)who.gid);
	argv = xcalloc(n_args + 11, sizeof(*argv));
	argv[argc++] = (char *)path;
	for (size_t i = 0; i < n_args; i++)
		argv[argc++] = args[i];
	argv[argc++] = "--tmpdir";
	argv[argc++] = w->tmpdir;
	argv[argc++] = "--max-scan-ms";
	argv[argc++] = maxms;
	if (who.drop) {
		argv[argc++] = "--user";
		argv[argc++] = user;
	}
	if (!who.landlock)
		argv[argc++] = "--allow-without-landlock";
	if (who.test_no_landlock)
		argv[argc++] = "--test-no-landlock";
	argv[argc] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_w, 1);
	posix_spawn_file_actions_adddup2(&fa, out_w, 2);
	posix_spawn_file_actions_adddup2(&fa, child, WORKER_FD);
	/* Nothing else of the node's crosses, close-on-exec or not. */
	posix_spawn_file_actions_addclosefrom_np(&fa, WORKER_FD + 1);
	rc = posix_spawn(&w->pid, path, &fa, NULL, argv, worker_env());
	posix_spawn_file_actions_destroy(&fa);
	free(argv);
	close(child);
	close(out_w);
	if (rc != 0) {
		close(sv[0]);
		close(out[0]);
		w->pid = 0;
		errno = rc;
		return VG_ELIB;
	}
	if (!who.landlock)
		log_event(LOG_WARN, "worker_without_landlock",
			  "worker=%s pid=%d reason=\"the kernel has no "
			  "Landlock; [sandbox] allow_without_landlock = true\"",
			  w->name, (int)w->pid);
	/* Its output is logged by the node from now on; a full table only
	 * loses the output, not the worker. */
	if (workerlog_watch(out[0], w->name, w->pid) != 0)
		log_event(LOG_WARN, "worker_output_unwatched",
			  "worker=%s pid=%d", w->name, (int)w->pid);
	w->sock = sv[0];
	return 0;
fail_fds:
	if (child >= 0)
		close(child);
	if (out_w >= 0)
		close(out_w);
	close(sv[0]);
	close(out[0]);
	return rc;
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
