/*
 * worker.h - the sandboxed analysis worker of vigild, and the protocol
 * between the node (the supervisor) and its workers.
 *
 * Samples are hostile, so the node never parses one itself: it hands each
 * to a `vigil-worker` process that has initialised the engine and then
 * locked itself down (sandbox.h) before it touches any sample.
 *
 * Starting a worker. The supervisor creates
 *	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)
 * and execs
 *	vigil-worker --rules DIR [--rules DIR...] --tmpdir DIR --max-scan-ms N
 * (--rules may be left out, with a warning: no YARA rules then; --hunt
 * instead of --rules starts a hunt worker, below) with its
 * end of the pair as fd 3 (WORKER_FD), stdin on /dev/null, stdout and
 * stderr on a pipe the node reads and logs (workerlog.h; the worker logs
 * with log_event()), and an empty environment (workerproc.h). Every
 * other fd is closed by the worker at startup too: Landlock does not
 * confine descriptors that are already open. The tmpdir must be private
 * to this one worker; the worker makes it its working directory and
 * empties it after each job.
 *
 * More options, from the node only:
 *   --user UID:GID             the node is root: become this user
 *                              (sandbox.h, step 0) after loading the
 *                              rules and before READY
 *   --allow-without-landlock   a kernel without Landlock is a warning,
 *                              not a refusal ([sandbox]
 *                              allow_without_landlock)
 *   --test-no-landlock         behave as on a kernel without Landlock
 *                              (VIGIL_TEST_NO_LANDLOCK; a refusal
 *                              unless --allow-without-landlock too)
 *
 * Messages. Each message is one SOCK_SEQPACKET record that begins with
 * struct worker_msg_hdr, in native byte order (both ends are on one host):
 *
 *   WORKER_RULE_QUARANTINED
 *                 worker -> node  a rule file the worker could not load
 *                                 (engine/rules.h); the others are loaded.
 *                                 Zero or more, before READY, job_id 0.
 *                                 Shaped as ERROR: len bytes (<=
 *                                 WORKER_MAX_ERROR) follow the header in
 *                                 the same record, "FILE\nREASON"; read
 *                                 them with worker_recv_error().
 *   WORKER_READY  worker -> node  len 0. Sent once, when the engine is up
 *                                 and the sandbox applied.
 *   WORKER_JOB    node -> worker  len = the sample's size. Exactly one fd
 *                                 attached with SCM_RIGHTS: a memfd holding
 *                                 the decrypted sample, sealed against
 *                                 writes (F_SEAL_WRITE; the node adds
 *                                 F_SEAL_SHRINK and F_SEAL_GROW). The
 *                                 worker reads it into its scanner's
 *                                 buffer.
 *   WORKER_REPORT worker -> node  len = the length of the report's JSON
 *                                 text (report_to_json()), at most
 *                                 WORKER_MAX_REPORT. The header is a record
 *                                 of its own; the text follows in records
 *                                 of at most WORKER_CHUNK bytes
 *                                 (worker_send_body / worker_recv_body).
 *   WORKER_ERROR  worker -> node  the engine returned an error for the
 *                                 sample (it did not crash). len bytes of
 *                                 UTF-8 reason (<= WORKER_MAX_ERROR) follow
 *                                 the header IN THE SAME RECORD; read them
 *                                 with worker_recv_error().
 *
 *   WORKER_RULE   node -> worker  hunt mode only (--hunt), before any
 *                                 JOB: len = the length of a YARA rule's
 *                                 source, at most WORKER_MAX_RULE, sent
 *                                 after the header as worker_send_body()
 *                                 records. The worker compiles it inside
 *                                 its sandbox (includes refused) and
 *                                 answers READY (compiled; it then takes
 *                                 JOBs) or ERROR with the compiler's
 *                                 messages (it then waits for another
 *                                 RULE).
 *
 * Hunt mode (a retro-hunt, retrohunt.h). Started with --hunt instead of
 * --rules, the worker builds its engine without rules (and without
 * ssdeep, which a hunt does not use), sandboxes itself, sends READY and
 * waits for a RULE. Its REPORT to a JOB is not a full report but
 * {"sha256": the sample's SHA-256, "matches": [the distinct names of the
 * hunt's rules that matched the sample or any object inside it]}.
 *
 * job_id is the node's: the worker copies it from JOB into REPORT/ERROR.
 * By the time a REPORT or ERROR is sent the worker has closed the memfd and
 * emptied its tmpdir. flags are reserved and must be 0.
 *
 * The worker handles one job at a time and answers every JOB with exactly
 * one REPORT or ERROR, in order; the node may queue a JOB before the
 * previous one is answered (a retro-hunt does, to keep the worker busy). It
 *exits 0 when the socket reaches EOF. Anything it does not expect from the node
 *(a bad header, a JOB without its memfd, a memfd whose size is not len or that
 *is not write-sealed) makes it exit with WORKER_EXIT_PROTOCOL: it fails closed.
 *A worker that dies by a signal (SIGSYS from seccomp, SIGKILL from the
 *supervisor's deadline, SIGXCPU from the CPU backstop, SIGABRT) crashed on its
 *job.
 *
 * The worker's resources are bounded by sandbox.c: among them RLIMIT_CPU,
 * one hour of CPU over its whole life, a backstop for a supervisor that
 * failed to enforce a deadline. The supervisor recycles workers well
 * before that (say after a few hundred jobs).
 */
#ifndef VIGIL_NODE_WORKER_H
#define VIGIL_NODE_WORKER_H

#include <stddef.h>
#include <stdint.h>

/* Test-only markers; see --self-test-crash and --self-test-hang. */
#define WORKER_SELF_TEST_CRASH "VIGIL-SELF-TEST-CRASH"
#define WORKER_SELF_TEST_HANG  "VIGIL-SELF-TEST-HANG"

/* The worker's end of the socketpair. */
#define WORKER_FD 3

#define WORKER_MAGIC 0x56474b31u /* "VGK1" */
/* Largest record of a report body. */
#define WORKER_CHUNK (64 * 1024)
/* Largest report JSON; a larger report is sent as WORKER_ERROR. */
#define WORKER_MAX_REPORT (32ULL * 1024 * 1024)
/* Largest reason in a WORKER_ERROR record. */
#define WORKER_MAX_ERROR 1024
/* Largest sample a JOB may announce: what fits an off_t. */
#define WORKER_MAX_SAMPLE ((uint64_t)INT64_MAX)

enum worker_msg_type {
	WORKER_READY = 1,
	WORKER_JOB = 2,
	WORKER_REPORT = 3,
	WORKER_ERROR = 4,
	WORKER_RULE_QUARANTINED = 5,
	WORKER_RULE = 6,
};

/* Largest rule source of a RULE (a retro-hunt's rule). */
#define WORKER_MAX_RULE (1024 * 1024)

struct worker_msg_hdr {
	uint32_t magic; /* WORKER_MAGIC */
	uint16_t type;  /* enum worker_msg_type */
	uint16_t flags; /* 0 */
	uint64_t job_id;
	uint64_t len;
};

/* The worker's exit statuses. */
enum {
	WORKER_EXIT_OK = 0,       /* the node closed the socket */
	WORKER_EXIT_USAGE = 2,    /* bad command line */
	WORKER_EXIT_INIT = 3,     /* the engine or the tmpdir failed */
	WORKER_EXIT_SANDBOX = 4,  /* the sandbox could not be applied */
	WORKER_EXIT_PROTOCOL = 5, /* bad message from the node, I/O error */
	/* --self-test-escape only: the attempt was refused with EACCES. */
	WORKER_EXIT_ESCAPE_DENIED = 6,
	/* --self-test-escape only: the attempt succeeded or failed otherwise:
	 * the sandbox does not hold. */
	WORKER_EXIT_ESCAPE_FAILED = 7,
	/* The tmpdir could not be emptied after a job: the supervisor must
	 * clean it before it starts another worker on it. */
	WORKER_EXIT_TMPDIR = 8,
};

/*
 * The helpers below are shared by the worker and the supervisor; they do
 * not depend on the engine. Each returns 0 or a negative VG_E* code and
 * retries on EINTR. Sending never raises SIGPIPE (VG_EIO instead). They
 * expect a blocking socket (poll() before the header is fine); a timeout
 * set with SO_RCVTIMEO or SO_SNDTIMEO gives VG_ELIMIT. After any error
 * the two ends are out of step: close the connection.
 */

/* Sends a header-only record (READY, JOB, REPORT's header). fd_to_pass is
 * attached with SCM_RIGHTS unless it is -1; the caller keeps its copy. */
int worker_send_hdr(int sock, uint16_t type, uint64_t job_id, uint64_t len,
		    int fd_to_pass);

/* Sends an ERROR record: the header and reason (truncated to
 * WORKER_MAX_ERROR bytes) in one record. */
int worker_send_error(int sock, uint64_t job_id, const char *reason);

/* Sends a RULE_QUARANTINED record: "file\nreason", truncated to
 * WORKER_MAX_ERROR bytes, in one record. */
int worker_send_quarantined(int sock, const char *file, const char *reason);

/*
 * Receives the next header into *h and validates it: magic, flags 0, a
 * known type, len within that type's bounds, a record of exactly a header
 * (READY, JOB, REPORT, RULE) or of a header and len bytes (ERROR), exactly one
 * fd with JOB and none otherwise. Anything odd: VG_EFORMAT, with every fd
 * received closed. A JOB's fd (close-on-exec) is returned in *fd_out; when
 * there is none *fd_out is -1. fd_out may be NULL only for peers that
 * expect no fd: a JOB then gives VG_EFORMAT.
 *
 * The socket at EOF gives VG_ENOENT (no further message). An ERROR or
 * RULE_QUARANTINED record is left unread, for worker_recv_error() to
 * consume.
 */
int worker_recv_hdr(int sock, struct worker_msg_hdr *h, int *fd_out);

/* Consumes the ERROR or RULE_QUARANTINED record whose header
 * worker_recv_hdr() returned in h, copying its text, NUL-terminated and
 * truncated to fit, into reason. The text comes from a process that
 * parsed a hostile sample: log it through log_value(). */
int worker_recv_error(int sock, const struct worker_msg_hdr *h, char *reason,
		      size_t cap);

/* Sends len bytes as records of at most WORKER_CHUNK bytes. */
int worker_send_body(int sock, const void *p, size_t len);

/* Receives exactly len bytes sent by worker_send_body(): a record longer
 * than what is left, or carrying an fd, is VG_EFORMAT; EOF is VG_EIO. */
int worker_recv_body(int sock, void *p, size_t len);

/*
 * The worker program: parses argv (see above), sets up, sandboxes, serves
 * jobs on WORKER_FD until EOF. Returns the exit status (WORKER_EXIT_*).
 *
 * Test-only flags, for the node's and the sandbox's tests:
 *   --self-test-escape=open|socket|exec  after the sandbox is applied, try
 *       to open /etc/passwd for reading, create a socket, or execve
 *       /bin/true; exit WORKER_EXIT_ESCAPE_DENIED on EACCES (seccomp kills
 *       the worker with SIGSYS for socket and exec before that).
 *   --self-test-crash   abort() on a job whose sample begins with
 *       WORKER_SELF_TEST_CRASH; analyse every other sample normally.
 *   --self-test-hang    spin forever on a job whose sample begins with
 *       WORKER_SELF_TEST_HANG.
 * Without these flags the markers are ordinary bytes.
 *
 * Not available when worker.c is built with VIGIL_WORKER_PROTOCOL_ONLY,
 * which keeps only the helpers above (for the supervisor and the tests,
 * which do not link the engine or libseccomp).
 */
int worker_main(int argc, char **argv);

#endif
