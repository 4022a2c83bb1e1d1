/*
 * workerproc.h - one vigil-worker process as the node sees it: started
 * with its socket, handed samples, reaped, its tmpdir cleaned.
 *
 * The analysis slots (analysis.c) and the retro-hunt slots (retrohunt.c)
 * each own workers; what they say to them differs (worker.h), how a
 * worker is started, handed a sample, waited on and ended does not, and
 * lives here. A worker's leftovers are as hostile as its input: its
 * private tmpdir is emptied without following symbolic links whenever
 * the worker is reaped.
 *
 * Who a worker is (workerproc_setup(), once, before any worker starts):
 *
 * - When the node runs as root, every worker drops to the system user
 *   WORKERPROC_USER (created with useradd at setup if it is missing):
 *   no supplementary groups, that user's uid and gid as real, effective
 *   and saved ids, an empty capability bounding set and no capabilities
 *   (sandbox.h). It does so itself, after it has loaded its rules (which
 *   stay readable by the node's user only) and before it reads a job;
 *   its tmpdir is owned by that user, mode 0700. When the node is not
 *   root, there is no one else to become: workers run as the node's
 *   user, still without capabilities.
 * - Its environment is empty (sanitizer builds pass on only their own
 *   *SAN_OPTIONS): libclamav, libmagic and libyara read nothing from it
 *   that the worker does not set through their APIs.
 * - Its descriptors are /dev/null on 0, one pipe on 1 and 2 (read by the
 *   node, workerlog.h) and its socket on WORKER_FD; everything else of
 *   the node's is closed in the child before exec (closefrom), whatever
 *   its close-on-exec flag, and the worker closes anything above
 *   WORKER_FD again when it starts.
 * - Landlock: a kernel without it (or with it disabled) makes setup fail,
 *   so that no worker starts, unless the configuration allows it
 *   ([sandbox] allow_without_landlock, docs/CONFIG.md); then every
 *   worker start is logged as a warning.
 */
#ifndef VIGIL_NODE_WORKERPROC_H
#define VIGIL_NODE_WORKERPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "node/worker.h"

/* How long a worker may take to start and compile its rules. */
#define WORKERPROC_READY_TIMEOUT_MS 60000
/* How long a reaped worker has to exit before it is killed. */
#define WORKERPROC_EXIT_MS 2000

/* The system user workers run as when the node is root. */
#define WORKERPROC_USER "vigil-worker"

struct workerproc {
	pid_t pid;         /* the worker; 0 when there is none */
	int sock;          /* our end of the worker's socket; -1 when none */
	char tmpdir[1024]; /* the worker's private temporary folder */
	char name[32];     /* "slot-3": how its output is named in the log */
};

struct workerproc_policy {
	/* [sandbox] allow_without_landlock: start workers even where the
	 * kernel has no Landlock, with a warning at every start. */
	bool allow_without_landlock;
	/* For tests (VIGIL_TEST_NO_LANDLOCK): behave as on a kernel without
	 * Landlock. It can only take Landlock away, never a refusal: without
	 * allow_without_landlock the node then refuses to start workers. */
	bool test_no_landlock;
};

/*
 * Decides, once for the process and before any workerproc_init(), who the
 * workers run as and whether they may start (see above): as root, looks
 * up WORKERPROC_USER, creating it with useradd when it is missing; probes
 * Landlock. Returns 0; VG_ENOENT when the user is missing and could not be
 * created; VG_EINVAL when Landlock is missing and not allowed; VG_ELIB
 * when Landlock answered with an unexpected error. err says why.
 */
int workerproc_setup(const struct workerproc_policy *p, char *err,
		     size_t errlen);

/*
 * Makes w a slot without a worker whose tmpdir is root/name-index:
 * created 0700 if missing, emptied if not, owned by the workers' user.
 * Returns 0, or VG_EIO with errno set (w->tmpdir names the folder for the
 * message).
 */
int workerproc_init(struct workerproc *w, const char *root, const char *name,
		    unsigned index);

/*
 * Starts path as `path args... --tmpdir TMPDIR --max-scan-ms MS` and the
 * identity and Landlock options workerproc_setup() decided, with an
 * empty environment, stdin on /dev/null, stdout and stderr on a pipe
 * the node logs (workerlog.h), its end of a SOCK_SEQPACKET pair on
 * WORKER_FD and no other descriptor; does not wait for its READY.
 * Returns 0 with w->pid and w->sock set; VG_EINVAL before
 * workerproc_setup() succeeded; VG_EIO when no socket pair or pipe could
 * be made; VG_ELIB when posix_spawn failed, with its error in errno.
 * args (n_args of them) stay the caller's.
 */
int workerproc_start(struct workerproc *w, const char *path, char *const *args,
		     size_t n_args, uint32_t max_scan_ms);

/*
 * Waits up to ms for the worker's next message header into *m (EINTR is
 * waited through). Returns 0, VG_ELIMIT when ms passed first, or
 * worker_recv_hdr()'s error.
 */
int workerproc_wait_hdr(struct workerproc *w, uint64_t ms,
			struct worker_msg_hdr *m);

/*
 * Closes our end of the socket, which asks a healthy worker to exit;
 * kills it at once if force, or after WORKERPROC_EXIT_MS; reaps it and
 * empties its tmpdir. How it ended ("worker killed by signal 9", ...)
 * goes to why when why is not NULL. Without a worker only the socket
 * is closed, and why is left as it was.
 */
void workerproc_reap(struct workerproc *w, bool force, char *why, size_t len);

/* Empties w's tmpdir (not the folder itself) without following links. */
void workerproc_clean_tmpdir(struct workerproc *w);

/*
 * A sealed memfd (no write, grow, shrink or further seals) named name,
 * holding len bytes of buf, to hand to a worker with WORKER_JOB. Returns
 * the fd, which the caller closes, or VG_EIO.
 */
int workerproc_sample_fd(const char *name, const uint8_t *buf, size_t len);

#endif
