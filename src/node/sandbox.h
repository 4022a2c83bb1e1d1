/*
 * sandbox.h - locking a worker process down before it parses a sample:
 * resource limits, no new privileges, Landlock, seccomp.
 *
 * sandbox_apply() is called once, after everything the engine needs from
 * the file system is loaded (rules, libmagic's database, libclamav's
 * modules) and before the first sample is read. It is irreversible. The
 * choices are explained in sandbox.c.
 */
#ifndef VIGIL_NODE_SANDBOX_H
#define VIGIL_NODE_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct sandbox_opts {
	/* The worker's private directory: the only place it may read, write,
	 * create and remove files after the sandbox is applied. */
	const char *tmpdir;
	/* The only socket the worker may send and receive on. */
	int sock;
	uint64_t max_as;     /* RLIMIT_AS, bytes */
	uint64_t max_fsize;  /* RLIMIT_FSIZE, bytes */
	uint64_t max_cpu_s;  /* RLIMIT_CPU, seconds of CPU over the life */
	uint64_t max_nofile; /* RLIMIT_NOFILE */
	/* Who to become, first (have_user): no supplementary groups, gid
	 * and uid as real, effective and saved ids. Needs root, unless they
	 * are who the process is already. */
	bool have_user;
	uid_t uid;
	gid_t gid;
	/* A kernel without Landlock is refused (VG_ELIB) unless this is
	 * set; then it is logged as a warning. */
	bool allow_without_landlock;
	/* For tests: behave as on a kernel without Landlock. */
	bool test_no_landlock;
};

#define SANDBOX_MAX_AS_DEFAULT     (2ULL * 1024 * 1024 * 1024)
#define SANDBOX_MAX_FSIZE_DEFAULT  (512ULL * 1024 * 1024)
#define SANDBOX_MAX_CPU_S_DEFAULT  3600ULL
#define SANDBOX_MAX_NOFILE_DEFAULT 64ULL

/* Fills *o with the defaults above, tmpdir NULL, sock -1, no user, and
 * no running without Landlock. */
void sandbox_opts_default(struct sandbox_opts *o);

/*
 * Applies the sandbox to the calling process (which must have one
 * thread). Returns 0, or a negative VG_E* code after logging which step
 * failed; the process must then exit, as it may be partly restricted.
 * Landlock missing from the kernel (ENOSYS, EOPNOTSUPP) is an error
 * unless o->allow_without_landlock, then a warning; seccomp is never
 * optional.
 */
int sandbox_apply(const struct sandbox_opts *o);

/* The Landlock ABI version sandbox_apply() used; 0 when unavailable or
 * before sandbox_apply(). */
int sandbox_landlock_abi(void);

#endif
