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

struct workerproc {
	pid_t pid;         /* the worker; 0 when there is none */
	int sock;          /* our end of the worker's socket; -1 when none */
	char tmpdir[1024]; /* the worker's private temporary folder */
};

/*
 * Makes w a slot without a worker whose tmpdir is root/name-index:
 * created 0700 if missing, emptied if not. Returns 0, or VG_EIO with
 * errno set (w->tmpdir names the folder for the message).
 */
int workerproc_init(struct workerproc *w, const char *root, const char *name,
		    unsigned index);

/*
 * Starts path as `path args... --tmpdir TMPDIR --max-scan-ms MS`, stdin
 * on /dev/null and its end of a SOCK_SEQPACKET pair on WORKER_FD; does
 * not wait for its READY. Returns 0 with w->pid and w->sock set; VG_EIO
 * when no socket pair could be made; VG_ELIB when posix_spawn failed,
 * with its error in errno. args (n_args of them) stay the caller's.
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
