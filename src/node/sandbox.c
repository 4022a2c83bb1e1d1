/*
 * sandbox.c - rlimits, no_new_privs, Landlock and seccomp for a worker;
 * see sandbox.h.
 *
 * The worker parses hostile samples with three large C libraries; we
 * assume one of them will, some day, run the attacker's code. The sandbox
 * decides what that code can do then: read and write its own private
 * tmpdir, talk to the node on its one socket, burn bounded CPU and memory,
 * and nothing else. Steps, in order (each needs the ones before):
 *
 * 0. Identity, when the node runs as root (sandbox_opts.have_user): the
 *    capability bounding set is emptied (PR_CAPBSET_DROP, while the
 *    process still has CAP_SETPCAP), then setgroups(0), setresgid and
 *    setresuid to the workers' user, and checked: every id is the new
 *    one and uid 0 cannot be had back. The kernel clears the permitted
 *    and effective capabilities with the uid change (no keep-caps);
 *    step 2 clears them again, whoever the process is. A process that
 *    is not root cannot empty its bounding set (no CAP_SETPCAP); with
 *    no_new_privs it can never gain anything from it.
 * 1. rlimits. RLIMIT_CORE 0 (a core would hold the sample and the node's
 *    memory); RLIMIT_AS 2 GiB (the engine's own limits keep an object
 *    under 400 MB, libclamav may hold a few copies); RLIMIT_FSIZE 512 MiB
 *    (one file libclamav extracts; SIGXFSZ is ignored so that the write
 *    fails with EFBIG and the member is reported as not analysed, rather
 *    than the worker dying on a bomb); RLIMIT_NOFILE 64; RLIMIT_NPROC 0
 *    (the kernel exempts uid 0 from it: seccomp is what really stops
 *    clone); RLIMIT_CPU 1 hour over the worker's life, a backstop only:
 *    the supervisor enforces each job's deadline and recycles workers.
 *    SIGPIPE is ignored too: a node that went away must not kill a
 *    worker in the middle of a log line.
 * 2. PR_SET_NO_NEW_PRIVS (required by Landlock and seccomp for an
 *    unprivileged process, and no setuid gain ever), PR_SET_DUMPABLE 0
 *    (no ptrace attach by a same-uid process, /proc/PID owned by root).
 *    Every capability is dropped, for a node run as root.
 * 3. Landlock, raw syscalls. The kernel's ABI is asked for and every file
 *    system right that ABI knows is handled (ABI 1: execute, read, write,
 *    readdir, remove, make char/dir/reg/sock/fifo/block/sym; 2: refer;
 *    3: truncate; 5: ioctl on devices). One rule allows beneath the
 *    tmpdir: read and write files, read directories, make directories and
 *    regular files, remove both, refer (rename within it) and truncate.
 *    Not execute, not symlinks, sockets, fifos or devices, not ioctl.
 *    With ABI >= 4 TCP bind and connect are handled with no rule: no TCP
 *    at all (seccomp refuses socket() anyway). With ABI >= 6 abstract
 *    unix sockets and signals are scoped to the sandbox. ENOSYS or
 *    EOPNOTSUPP (a kernel without Landlock, or with it disabled) stops
 *    the worker, unless the node said it may run without it
 *    (allow_without_landlock, from [sandbox] allow_without_landlock):
 *    then it is a warning. Any other failure stops the worker.
 *    test_no_landlock makes the worker behave as on such a kernel; it
 *    can only take Landlock away, and the refusal stays.
 *    Landlock confines paths, not fds already open: the worker closes
 *    every inherited fd above 3 before it starts, and keeps only the
 *    tmpdir's. Everything else the engine reads (rules, libmagic's
 *    database, libclamav's unrar module when installed: cl_init() loads
 *    it) is loaded before this step; worker.c also primes the two lazy
 *    loads a scan would otherwise make (tzset() for /etc/localtime,
 *    jansson's seed from /dev/urandom).
 *    Landlock does not cover chmod, chown, stat or utime on paths: see
 *    chmod below; stat of a path outside (its existence, size, mode) is
 *    the one thing left visible.
 * 4. seccomp, with libseccomp: the default action is SCMP_ACT_KILL_PROCESS
 *    (the whole worker dies by SIGSYS: the supervisor sees a crash), and
 *    so is a syscall of another ABI (i386 int 0x80, x32). The allowlist
 *    was found by running the worker, under strace and with the
 *    development trap below, over 116 samples: EICAR in zip, tar.gz,
 *    nested tar.gz/zip, 7z, gzip, bzip2, xz, zstd, an encrypted zip, PDF
 *    with a Flate stream and JavaScript, OLE2 documents with VBA macros,
 *    RTF, HTML in three charsets, MIME mail, PE (a real one and the rule
 *    fixtures), ELF executables and libraries, PNG, GIF, JPEG, .deb,
 *    Python's tar/zip test archives, 50 MB of random data raw and
 *    gzipped, and 200-450 MB zero-filled bombs (gzip, zip), then checked
 *    by comparing every report with an unsandboxed worker's: identical.
 *    (No UPX packer was installable here.) Allowed:
 *
 *    Seen in those runs:
 *      read write pread64 lseek close fcntl     sample, tmp files, stderr
 *      newfstatat                               glibc's fstat and stat
 *      openat getdents64 mkdir rmdir unlink     libclamav's scan dirs and
 *                                               extracted members; paths
 *                                               confined by Landlock
 *      mmap mprotect (both without PROT_EXEC)   the sample, malloc
 *      munmap brk
 *      rt_sigaction rt_sigprocmask rt_sigreturn YARA installs SIGSEGV and
 *                                               SIGBUS guards around
 *                                               every scan
 *      futex                                    pthread_once in the libs
 *      clock_gettime                            time limits (the vDSO's
 *                                               fallback)
 *      recvmsg sendmsg (fd 3 only)              the node's socket
 *      exit_group
 *      chmod -> fails with EPERM                libclamav chmods each
 *                                               scan directory to 0700
 *                                               before removing it and
 *                                               ignores the result;
 *                                               Landlock does not confine
 *                                               chmod, so it is refused
 *                                               rather than allowed on
 *                                               every path
 *    On paths those samples did not take, but that are known:
 *      unlinkat                                 the worker's own tmpdir
 *                                               cleanup (tested)
 *      tgkill (this process only) getpid gettid abort(), in
 *                                               --self-test-crash and in
 *                                               any library's assert()
 *      mremap madvise                           realloc and free of large
 *                                               blocks
 *      pwrite64 readv writev ftruncate fsync    imported by libclamav;
 *      fdatasync dup dup2 fstat statx rename    fd operations on fds it
 *      clock_nanosleep sched_yield getrandom    already has, or paths
 *      restart_syscall                          Landlock confines; none
 *                                               gives more than what is
 *                                               already allowed, and a
 *                                               kill on a rare parser
 *                                               path would lose that
 *                                               sample's report
 *    Deliberately absent: socket, connect, bind, sendto, execve(at),
 *    clone, clone3, fork, vfork, ptrace, mount, prctl, seccomp, bpf,
 *    ioctl, kill, chown and fchmod, setrlimit/prlimit64, memfd_create,
 *    process_vm_*, io_uring_*, userfaultfd, perf_event_open, keyctl.
 *    No threads: the worker is single-threaded (checked before the
 *    sandbox is applied, since the filter and Landlock bind only the
 *    calling thread), so clone is refused too.
 *
 * To find what a new library version needs, build with
 * -DVIGIL_SANDBOX_TRAP: refused syscalls then raise SIGSYS, which a
 * handler names on stderr and fails with ENOSYS; never ship that build.
 */
#include "node/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"

/*
 * <linux/landlock.h> from older kernel headers stops at ABI 1 or 2; these
 * are the later ABIs' values, fixed by the kernel's ABI.
 */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP    (1ULL << 0)
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LANDLOCK_SCOPE_SIGNAL               (1ULL << 1)
#endif

/* struct landlock_ruleset_attr as of ABI 6; older kernels accept it as
 * long as the fields they do not know are zero. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

static int landlock_abi;

void
sandbox_opts_default(struct sandbox_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->sock = -1;
	o->max_as = SANDBOX_MAX_AS_DEFAULT;
	o->max_fsize = SANDBOX_MAX_FSIZE_DEFAULT;
	o->max_cpu_s = SANDBOX_MAX_CPU_S_DEFAULT;
	o->max_nofile = SANDBOX_MAX_NOFILE_DEFAULT;
}

int
sandbox_landlock_abi(void)
{
	return landlock_abi;
}

static int
set_limit(int resource, const char *name, rlim_t soft, rlim_t hard)
{
	struct rlimit rl = {soft, hard};

	if (setrlimit(resource, &rl) != 0) {
		log_event(LOG_ERROR, "sandbox_rlimit", "limit=%s errno=%d",
			  name, errno);
		return VG_ELIB;
	}
	return 0;
}

static int
apply_rlimits(const struct sandbox_opts *o)
{
	int rc = 0;

	/* A core file would hold the sample and whatever else was in
	 * memory. */
	rc |= set_limit(RLIMIT_CORE, "core", 0, 0);
#if defined(__SANITIZE_ADDRESS__)
	/* AddressSanitizer reserves terabytes of shadow address space, so a
	 * sanitizer build (make asan) cannot run under RLIMIT_AS; release
	 * builds always set it. */
	(void)o->max_as;
#else
	rc |= set_limit(RLIMIT_AS, "as", o->max_as, o->max_as);
#endif
	/* Bounds each file libclamav extracts; the write then fails with
	 * EFBIG (SIGXFSZ is ignored below) and the member is reported as
	 * not analysed, rather than the worker dying on a bomb. */
	rc |= set_limit(RLIMIT_FSIZE, "fsize", o->max_fsize, o->max_fsize);
	rc |= set_limit(RLIMIT_NOFILE, "nofile", o->max_nofile, o->max_nofile);
	/* No processes or threads; not enforced for root (the kernel exempts
	 * uid 0), which seccomp covers by refusing clone. */
	rc |= set_limit(RLIMIT_NPROC, "nproc", 0, 0);
	/* SIGXCPU at the soft limit, SIGKILL a little later. */
	rc |= set_limit(RLIMIT_CPU, "cpu", o->max_cpu_s, o->max_cpu_s + 5);
	return rc != 0 ? VG_ELIB : 0;
}

/* Drops every capability the worker may hold (it may run as root). */
static int
drop_capabilities(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 &&
	    errno != EINVAL)
		return VG_ELIB;
	if (syscall(SYS_capset, &hdr, data) != 0)
		return VG_ELIB;
	return 0;
}

/* Step 0: the bounding set emptied, then the workers' user. */
static int
drop_identity(const struct sandbox_opts *o)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (geteuid() == 0) {
		/* Every capability the kernel may know; EINVAL past the
		 * last one it does. */
		for (int cap = 0; cap < 64; cap++)
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 &&
			    errno != EINVAL) {
				log_event(LOG_ERROR, "sandbox_identity",
					  "step=bounding cap=%d errno=%d", cap,
					  errno);
				return VG_ELIB;
			}
	}
	if (!o->have_user)
		return 0;
	if (o->uid == 0 || o->gid == 0) {
		log_event(LOG_ERROR, "sandbox_identity", "%s",
			  "reason=\"refusing to run a worker as root\"");
		return VG_EINVAL;
	}
	/* Not root: only who we are already is possible, and nothing is to
	 * be done (a node that is not root passes no user). */
	if (geteuid() != 0 && getuid() == o->uid && getgid() == o->gid)
		return 0;
	if (setgroups(0, NULL) != 0 || setresgid(o->gid, o->gid, o->gid) != 0 ||
	    setresuid(o->uid, o->uid, o->uid) != 0) {
		log_event(LOG_ERROR, "sandbox_identity",
			  "step=setid uid=%u gid=%u errno=%d", (unsigned)o->uid,
			  (unsigned)o->gid, errno);
		return VG_ELIB;
	}
	if (getresuid(&r, &e, &s) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
	    r != o->uid || e != o->uid || s != o->uid || rg != o->gid ||
	    eg != o->gid || sg != o->gid || getgroups(0, NULL) != 0 ||
	    setresuid(0, 0, 0) == 0) {
		log_event(LOG_ERROR, "sandbox_identity", "%s",
			  "step=check reason=\"ids not dropped\"");
		return VG_ELIB;
	}
	return 0;
}

static int
apply_landlock(const struct sandbox_opts *o)
{
	struct ll_ruleset_attr attr;
	struct landlock_path_beneath_attr pb;
	const char *tmpdir = o->tmpdir;
	uint64_t fs, tmp;
	long abi;
	int rs = -1, dir = -1, rc = VG_ELIB;

	if (o->test_no_landlock) {
		abi = -1;
		errno = ENOSYS;
	} else {
		abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
			      LANDLOCK_CREATE_RULESET_VERSION);
	}
	if (abi < 0) {
		if (errno == ENOSYS || errno == EOPNOTSUPP) {
			if (!o->allow_without_landlock) {
				log_event(LOG_ERROR,
					  "sandbox_landlock_unavailable",
					  "errno=%d test=%d reason=\"refused: "
					  "not allowed to run without "
					  "Landlock\"",
					  errno, (int)o->test_no_landlock);
				return VG_ELIB;
			}
			log_event(LOG_WARN, "sandbox_landlock_unavailable",
				  "errno=%d test=%d reason=\"allowed: running "
				  "without Landlock\"",
				  errno, (int)o->test_no_landlock);
			return 0;
		}
		log_event(LOG_ERROR, "sandbox_landlock",
			  "step=version errno=%d", errno);
		return VG_ELIB;
	}

	/* Every file system right of the ABI in use is handled (denied
	 * unless a rule allows it). */
	fs = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
	     LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
	     LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
	     LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
	     LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
	     LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
	     LANDLOCK_ACCESS_FS_MAKE_SYM;
	/* What libclamav does beneath the tmpdir: make directories and
	 * files, read them back, remove them. */
	tmp = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
	      LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
	      LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |
	      LANDLOCK_ACCESS_FS_MAKE_REG;
	if (abi >= 2) {
		fs |= LANDLOCK_ACCESS_FS_REFER;
		tmp |= LANDLOCK_ACCESS_FS_REFER;
	}
	if (abi >= 3) {
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
		tmp |= LANDLOCK_ACCESS_FS_TRUNCATE;
	}
	if (abi >= 5)
		fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;

	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = fs;
	/* Handled with no rule: no TCP bind or connect at all. */
	if (abi >= 4)
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP |
					  LANDLOCK_ACCESS_NET_CONNECT_TCP;
	/* No connecting to abstract unix sockets or signalling processes
	 * outside the sandbox. */
	if (abi >= 6)
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET |
			      LANDLOCK_SCOPE_SIGNAL;

	rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rs < 0) {
		log_event(LOG_ERROR, "sandbox_landlock", "step=create errno=%d",
			  errno);
		goto out;
	}
	dir = open(tmpdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		log_event(LOG_ERROR, "sandbox_landlock", "step=tmpdir errno=%d",
			  errno);
		goto out;
	}
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = tmp;
	pb.parent_fd = dir;
	if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb,
		    0) != 0) {
		log_event(LOG_ERROR, "sandbox_landlock", "step=rule errno=%d",
			  errno);
		goto out;
	}
	if (syscall(SYS_landlock_restrict_self, rs, 0) != 0) {
		log_event(LOG_ERROR, "sandbox_landlock",
			  "step=restrict errno=%d", errno);
		goto out;
	}
	landlock_abi = (int)abi;
	rc = 0;
out:
	if (dir >= 0)
		close(dir);
	if (rs >= 0)
		close(rs);
	return rc;
}

/*
 * Syscalls allowed whatever their arguments; each is explained in the
 * header comment. Everything else kills the process, except what
 * apply_seccomp() allows with conditions or fails with an errno.
 */
static const int allow_any[] = {
	/* I/O on fds the worker has (sendmsg, recvmsg: below, fd 3 only). */
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(pread64),
	SCMP_SYS(pwrite64),
	SCMP_SYS(readv),
	SCMP_SYS(writev),
	SCMP_SYS(lseek),
	SCMP_SYS(close),
	SCMP_SYS(ftruncate),
	SCMP_SYS(fsync),
	SCMP_SYS(fdatasync),
	SCMP_SYS(dup),
	SCMP_SYS(dup2),
	SCMP_SYS(fcntl),
	SCMP_SYS(fstat),
	/* Paths: confined to the tmpdir by Landlock. */
	SCMP_SYS(openat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(statx),
	SCMP_SYS(getdents64),
	SCMP_SYS(mkdir),
	SCMP_SYS(rmdir),
	SCMP_SYS(unlink),
	SCMP_SYS(unlinkat),
	SCMP_SYS(rename),
	/* Memory (mmap and mprotect are allowed below, without PROT_EXEC). */
	SCMP_SYS(brk),
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(madvise),
	/* Signals: YARA's SIGSEGV/SIGBUS guard around each scan, abort(). */
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	/* Time, locks, randomness, the end. */
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(restart_syscall),
	SCMP_SYS(futex),
	SCMP_SYS(sched_yield),
	SCMP_SYS(getrandom),
	SCMP_SYS(exit_group),
#if defined(__SANITIZE_ADDRESS__)
	/* make asan only: AddressSanitizer's exit path resets the thread's
	 * alternate signal stack, and its reports read /proc/self/maps. */
	SCMP_SYS(sigaltstack),
	SCMP_SYS(readlink),
	SCMP_SYS(sched_getaffinity),
#endif
};

#ifdef VIGIL_SANDBOX_TRAP
/*
 * Development only (-DVIGIL_SANDBOX_TRAP): a refused syscall raises SIGSYS
 * instead of killing; the handler names it and fails it with ENOSYS, so
 * that one run over many samples lists everything missing.
 */
#include <ucontext.h>

static void
on_sigsys(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	char line[64];
	int n;

	(void)sig;
	n = snprintf(line, sizeof(line), "sandbox: refused syscall %d\n",
		     si->si_syscall);
	if (n > 0)
		(void)!write(2, line, (size_t)n);
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
}
#endif

static int
apply_seccomp(const struct sandbox_opts *o)
{
	uint32_t deflt = SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx;
	int rc = VG_ELIB, r = 0;

#ifdef VIGIL_SANDBOX_TRAP
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSYS, &sa, NULL);
	deflt = SCMP_ACT_TRAP;
#endif
	if ((ctx = seccomp_init(deflt)) == NULL)
		return VG_ELIB;
	/* Syscalls of another architecture (i386 through int 0x80, x32) are
	 * an escape route around the filter: kill. */
	r |= seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
			      SCMP_ACT_KILL_PROCESS);
	for (size_t i = 0; i < sizeof(allow_any) / sizeof(allow_any[0]); i++)
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allow_any[i], 0);
	/* No executable memory: nothing the worker runs needs new code after
	 * start (no JIT), and W^X makes shellcode harder. */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
			      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
			      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* Messages only on the node's socket. */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(recvmsg), 1,
			      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)o->sock, 0));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendmsg), 1,
			      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)o->sock, 0));
	/* abort(): signals to this process only. */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
			      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0));
	/* libclamav chmods each scan directory to 0700 before removing it
	 * and ignores failure; Landlock does not confine chmod, so it fails
	 * here rather than being allowed on any path. */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(chmod), 0);
	if (r != 0) {
		log_event(LOG_ERROR, "sandbox_seccomp", "step=rules rc=%d", r);
		goto out;
	}
	if ((r = seccomp_load(ctx)) != 0) {
		log_event(LOG_ERROR, "sandbox_seccomp", "step=load rc=%d", r);
		goto out;
	}
	rc = 0;
out:
	seccomp_release(ctx);
	return rc;
}

/*
 * Landlock and seccomp restrict the calling thread (and its future
 * children) only: a thread some library started earlier would escape
 * both. /proc/self/task lists the threads; without /proc we cannot tell,
 * and go on.
 */
static bool
single_threaded(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return true;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n == 1;
}

int
sandbox_apply(const struct sandbox_opts *o)
{
	pid_t parent = getppid();
	int rc;

	if (o->tmpdir == NULL || o->sock < 0)
		return VG_EINVAL;
	if (!single_threaded()) {
		log_event(LOG_ERROR, "sandbox_threads", "reason=%s",
			  "more than one thread; the sandbox would not cover "
			  "them all");
		return VG_EINVAL;
	}
	if ((rc = drop_identity(o)) != 0)
		return rc;
	/* A worker dies with the node. One spinning on a hostile sample
	 * otherwise outlives a node killed with SIGKILL (its socket is
	 * never read again), for as long as its CPU backstop allows. Set
	 * after the change of identity, which clears it; a node that died
	 * before this line left the worker to another parent, seen here. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 ||
	    getppid() != parent) {
		log_event(LOG_ERROR, "sandbox_parent", "errno=%d", errno);
		return VG_ELIB;
	}
	if ((rc = apply_rlimits(o)) != 0)
		return rc;
	/* An extracted file over RLIMIT_FSIZE must fail its write, not kill
	 * the worker; a node that went away must not kill it mid-log. */
	signal(SIGXFSZ, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		log_event(LOG_ERROR, "sandbox_nnp", "errno=%d", errno);
		return VG_ELIB;
	}
	/* No ptrace attach, no core, /proc/pid files owned by root. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		log_event(LOG_ERROR, "sandbox_dumpable", "errno=%d", errno);
		return VG_ELIB;
	}
	if ((rc = drop_capabilities()) != 0) {
		log_event(LOG_ERROR, "sandbox_capabilities", "errno=%d", errno);
		return rc;
	}
	if ((rc = apply_landlock(o)) != 0)
		return rc;
	return apply_seccomp(o);
}
