/*
 * worker.c - the node's analysis worker, and the protocol helpers that the
 * worker and the supervisor share; see worker.h.
 *
 * The worker is a separate program (vigil-worker) so that a sample is only
 * ever parsed in a process that has dropped everything it could misuse:
 * it builds the engine while it may still read the rules and libmagic's
 * database, then applies the sandbox (sandbox.c), and only then reads
 * jobs. It trusts the node more than the sample, but not blindly: a
 * message it does not expect makes it exit, never guess.
 *
 * Records are SOCK_SEQPACKET, so a header never runs into the next
 * message, and a record longer than expected shows up as MSG_TRUNC: every
 * receive checks it, and every fd that arrives unasked for is closed.
 *
 * With VIGIL_WORKER_PROTOCOL_ONLY defined only the helpers are built, so
 * that the supervisor and the tests link neither the engine nor
 * libseccomp.
 */
#include "node/worker.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"

/* Most fds a record may carry before we call it malformed; room for more
 * than one so that extra fds are seen (and closed) rather than dropped by
 * the kernel with MSG_CTRUNC. */
#define WORKER_MAX_FDS 4

_Static_assert(sizeof(struct worker_msg_hdr) == 24,
	       "the header has no padding");

/* Maps a failed send or receive to a VG_E* code: a timeout set by the
 * caller (SO_RCVTIMEO, SO_SNDTIMEO) is a limit, anything else I/O. */
static int
io_error(int e)
{
	if (e == EAGAIN || e == EWOULDBLOCK)
		return VG_ELIMIT;
	return VG_EIO;
}

static int
send_record(int sock, struct iovec *iov, int niov, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr m;
	size_t total = 0;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	m.msg_iov = iov;
	m.msg_iovlen = (size_t)niov;
	for (int i = 0; i < niov; i++)
		total += iov[i].iov_len;
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return io_error(errno);
	/* A SOCK_SEQPACKET record goes whole or not at all. */
	return (size_t)n == total ? 0 : VG_EIO;
}

/*
 * Receives one record into iov, fds into fds[] (close-on-exec). Returns
 * the record's length (0 at EOF), or a negative VG_E* code. *odd is set
 * when the record was longer than iov, carried more than WORKER_MAX_FDS
 * fds, or carried anything but fds; the fds received are returned even
 * then, for the caller to close.
 */
static ssize_t
recv_record(int sock, struct iovec *iov, int niov, int *fds, int *nfds,
	    bool *odd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * WORKER_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct msghdr m;
	struct cmsghdr *c;
	ssize_t n;

	*nfds = 0;
	*odd = false;
	memset(&m, 0, sizeof(m));
	m.msg_iov = iov;
	m.msg_iovlen = (size_t)niov;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof(u.buf);
	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return io_error(errno);
	if (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		*odd = true;
	for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			*odd = true;
			continue;
		}
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (*nfds < WORKER_MAX_FDS)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

static void
close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

int
worker_send_hdr(int sock, uint16_t type, uint64_t job_id, uint64_t len,
		int fd_to_pass)
{
	struct worker_msg_hdr h;
	struct iovec iov = {&h, sizeof(h)};

	memset(&h, 0, sizeof(h));
	h.magic = WORKER_MAGIC;
	h.type = type;
	h.job_id = job_id;
	h.len = len;
	return send_record(sock, &iov, 1, fd_to_pass);
}

/* A header and its text in one record (ERROR, RULE_QUARANTINED). */
static int
send_text(int sock, uint16_t type, uint64_t job_id, const char *text)
{
	struct worker_msg_hdr h;
	size_t n = strnlen(text, WORKER_MAX_ERROR);
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)text, n}};

	memset(&h, 0, sizeof(h));
	h.magic = WORKER_MAGIC;
	h.type = type;
	h.job_id = job_id;
	h.len = n;
	return send_record(sock, iov, 2, -1);
}

int
worker_send_error(int sock, uint64_t job_id, const char *reason)
{
	return send_text(sock, WORKER_ERROR, job_id, reason);
}

int
worker_send_quarantined(int sock, const char *file, const char *reason)
{
	char text[WORKER_MAX_ERROR + 1];

	snprintf(text, sizeof(text), "%s\n%s", file, reason);
	return send_text(sock, WORKER_RULE_QUARANTINED, 0, text);
}

/* Checks a header against the record that carries it (record bytes long). */
static bool
hdr_valid(const struct worker_msg_hdr *h, size_t record)
{
	if (h->magic != WORKER_MAGIC || h->flags != 0)
		return false;
	switch (h->type) {
	case WORKER_READY: return h->len == 0 && record == sizeof(*h);
	case WORKER_JOB:
		return h->len <= WORKER_MAX_SAMPLE && record == sizeof(*h);
	case WORKER_REPORT:
		return h->len > 0 && h->len <= WORKER_MAX_REPORT &&
		       record == sizeof(*h);
	case WORKER_ERROR:
	case WORKER_RULE_QUARANTINED:
		return h->len <= WORKER_MAX_ERROR &&
		       record == sizeof(*h) + h->len;
	case WORKER_RULE:
		return h->len > 0 && h->len <= WORKER_MAX_RULE &&
		       record == sizeof(*h);
	default: return false;
	}
}

int
worker_recv_hdr(int sock, struct worker_msg_hdr *h, int *fd_out)
{
	struct worker_msg_hdr got;
	struct iovec iov = {h, sizeof(*h)};
	struct msghdr m;
	int fds[WORKER_MAX_FDS], nfds, want;
	bool odd;
	ssize_t n;

	if (fd_out != NULL)
		*fd_out = -1;
	/*
	 * Peek first: with MSG_TRUNC the kernel returns the whole record's
	 * length, which must match the header, and an ERROR record (header
	 * and reason together) stays queued for worker_recv_error(). Peeking
	 * installs no fds: there is no room for them.
	 */
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	do
		n = recvmsg(sock, &m, MSG_PEEK | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return io_error(errno);
	if (n == 0)
		return VG_ENOENT;
	if ((size_t)n < sizeof(*h) || !hdr_valid(h, (size_t)n))
		return VG_EFORMAT;
	if (h->type == WORKER_ERROR || h->type == WORKER_RULE_QUARANTINED)
		return 0;

	iov.iov_base = &got;
	iov.iov_len = sizeof(got);
	n = recv_record(sock, &iov, 1, fds, &nfds, &odd);
	if (n < 0)
		return (int)n;
	want = h->type == WORKER_JOB ? 1 : 0;
	if (odd || (size_t)n != sizeof(got) || memcmp(&got, h, sizeof(got)) ||
	    nfds != want || (want && fd_out == NULL)) {
		close_all(fds, nfds);
		return VG_EFORMAT;
	}
	if (want)
		*fd_out = fds[0];
	return 0;
}

int
worker_recv_error(int sock, const struct worker_msg_hdr *h, char *reason,
		  size_t cap)
{
	struct worker_msg_hdr got;
	char buf[WORKER_MAX_ERROR];
	struct iovec iov[2] = {{&got, sizeof(got)}, {buf, sizeof(buf)}};
	int fds[WORKER_MAX_FDS], nfds;
	size_t k;
	bool odd;
	ssize_t n;

	if ((h->type != WORKER_ERROR && h->type != WORKER_RULE_QUARANTINED) ||
	    cap == 0)
		return VG_EINVAL;
	n = recv_record(sock, iov, 2, fds, &nfds, &odd);
	if (n < 0)
		return (int)n;
	close_all(fds, nfds);
	if (n == 0)
		return VG_EIO;
	if (odd || nfds != 0 || (size_t)n != sizeof(got) + h->len ||
	    memcmp(&got, h, sizeof(got)) != 0)
		return VG_EFORMAT;
	k = h->len < cap - 1 ? h->len : cap - 1;
	memcpy(reason, buf, k);
	reason[k] = '\0';
	return 0;
}

int
worker_send_body(int sock, const void *p, size_t len)
{
	const char *c = p;
	int rc;

	for (size_t off = 0; off < len;) {
		size_t n = len - off < WORKER_CHUNK ? len - off : WORKER_CHUNK;
		struct iovec iov = {(void *)(c + off), n};

		if ((rc = send_record(sock, &iov, 1, -1)) != 0)
			return rc;
		off += n;
	}
	return 0;
}

int
worker_recv_body(int sock, void *p, size_t len)
{
	char *c = p;
	int fds[WORKER_MAX_FDS], nfds;
	bool odd;

	for (size_t off = 0; off < len;) {
		size_t want =
			len - off < WORKER_CHUNK ? len - off : WORKER_CHUNK;
		struct iovec iov = {c + off, want};
		ssize_t n = recv_record(sock, &iov, 1, fds, &nfds, &odd);

		if (n < 0)
			return (int)n;
		close_all(fds, nfds);
		if (n == 0)
			return VG_EIO;
		if (odd || nfds != 0)
			return VG_EFORMAT;
		off += (size_t)n;
	}
	return 0;
}

#ifndef VIGIL_WORKER_PROTOCOL_ONLY

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "common/log.h"
#include "engine/engine.h"
#include "engine/rules.h"
#include "node/sandbox.h"

/* As many as an engine loads: the node's search for a rule that crashes
 * analysis (analysis.c) names the files of each half one by one. */
#define WORKER_MAX_RULE_PATHS RULES_MAX_FILES
/* Deepest directory nesting removed from the tmpdir. libclamav nests a
 * directory or two per archive level (max_depth levels); each level
 * removed holds one fd, under RLIMIT_NOFILE. */
#define TMPDIR_MAX_DEPTH 40

struct worker {
	const char *rules[WORKER_MAX_RULE_PATHS];
	size_t n_rules;
	const char *tmpdir;
	unsigned long max_scan_ms;
	const char *escape; /* --self-test-escape */
	bool crash, hang;   /* --self-test-crash, --self-test-hang */
	bool hunt;          /* --hunt: rules come in a RULE message */
	bool have_user;     /* --user UID:GID */
	uid_t uid;
	gid_t gid;
	bool allow_no_ll; /* --allow-without-landlock */
	bool test_no_ll;  /* --test-no-landlock */
	bool have_rule;   /* hunt mode: a RULE compiled */
	int tmpfd;        /* the tmpdir, O_DIRECTORY */
	struct engine *e;
	struct scanner *s;
};

static int
usage(const char *why)
{
	char v[128];

	log_event(LOG_ERROR, "worker_usage", "reason=%s",
		  log_value(why, v, sizeof(v)));
	fprintf(stderr, "usage: vigil-worker --rules DIR [--rules DIR...] | "
			"--hunt --tmpdir DIR --max-scan-ms N [--user UID:GID] "
			"[--allow-without-landlock]\n");
	return WORKER_EXIT_USAGE;
}

static int
parse_args(struct worker *w, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--rules") == 0 && val != NULL) {
			if (w->n_rules == WORKER_MAX_RULE_PATHS)
				return usage("too many --rules");
			w->rules[w->n_rules++] = val;
			i++;
		} else if (strcmp(a, "--tmpdir") == 0 && val != NULL) {
			w->tmpdir = val;
			i++;
		} else if (strcmp(a, "--max-scan-ms") == 0 && val != NULL) {
			char *end;

			errno = 0;
			w->max_scan_ms = strtoul(val, &end, 10);
			if (errno != 0 || end == val || *end != '\0' ||
			    *val == '-' || w->max_scan_ms == 0 ||
			    w->max_scan_ms > UINT32_MAX)
				return usage("bad --max-scan-ms");
			i++;
		} else if (strncmp(a, "--self-test-escape=", 19) == 0) {
			w->escape = a + 19;
			if (strcmp(w->escape, "open") != 0 &&
			    strcmp(w->escape, "socket") != 0 &&
			    strcmp(w->escape, "exec") != 0)
				return usage("bad --self-test-escape");
		} else if (strcmp(a, "--user") == 0 && val != NULL) {
			unsigned long u, g;
			char *end;

			errno = 0;
			u = strtoul(val, &end, 10);
			if (errno != 0 || end == val || *end != ':' ||
			    *val == '-' || u == 0 || u >= UINT32_MAX)
				return usage("bad --user");
			val = end + 1;
			g = strtoul(val, &end, 10);
			if (errno != 0 || end == val || *end != '\0' ||
			    *val == '-' || g == 0 || g >= UINT32_MAX)
				return usage("bad --user");
			w->have_user = true;
			w->uid = (uid_t)u;
			w->gid = (gid_t)g;
			i++;
		} else if (strcmp(a, "--allow-without-landlock") == 0) {
			w->allow_no_ll = true;
		} else if (strcmp(a, "--test-no-landlock") == 0) {
			w->test_no_ll = true;
		} else if (strcmp(a, "--hunt") == 0) {
			w->hunt = true;
		} else if (strcmp(a, "--self-test-crash") == 0) {
			w->crash = true;
		} else if (strcmp(a, "--self-test-hang") == 0) {
			w->hang = true;
		} else {
			return usage(a);
		}
	}
	if (w->tmpdir == NULL || w->max_scan_ms == 0)
		return usage("--tmpdir and --max-scan-ms are required");
	if (w->hunt && w->n_rules > 0)
		return usage(
			"--hunt takes its rule from the node, not --rules");
	/* Legal (decomposition, limits and digests still work), but almost
	 * certainly a configuration mistake. */
	if (w->n_rules == 0 && !w->hunt)
		log_event(LOG_WARN, "worker_no_rules", "%s",
			  "reason=\"no --rules: YARA matches nothing\"");
	return 0;
}

/*
 * Removes everything below the directory open on fd (which it closes),
 * never following a symlink: a link is removed as itself, and a directory
 * is entered only through O_NOFOLLOW. Entries removed while reading may or
 * may not be listed again, so a directory is read until a pass finds
 * nothing left.
 */
static int
remove_below(int fd, unsigned depth)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;
	bool again = true;

	if (depth > TMPDIR_MAX_DEPTH) {
		close(fd);
		return VG_ELIMIT;
	}
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return VG_EIO;
	}
	for (int pass = 0; again && rc == 0 && pass < 4; pass++) {
		again = false;
		rewinddir(d);
		while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
			const char *name = de->d_name;
			int sub;

			if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
				continue;
			again = true;
			if (de->d_type != DT_DIR &&
			    unlinkat(dirfd(d), name, 0) == 0)
				continue;
			if (de->d_type != DT_DIR && errno != EISDIR) {
				rc = errno == ENOENT ? 0 : VG_EIO;
				continue;
			}
			sub = openat(dirfd(d), name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);
			if (sub < 0) {
				rc = errno == ENOENT ? 0 : VG_EIO;
				continue;
			}
			if ((rc = remove_below(sub, depth + 1)) == 0 &&
			    unlinkat(dirfd(d), name, AT_REMOVEDIR) != 0 &&
			    errno != ENOENT)
				rc = VG_EIO;
		}
		if (rc == 0 && errno != 0)
			rc = VG_EIO;
	}
	if (rc == 0 && again)
		rc = VG_EIO; /* still not empty after every pass */
	closedir(d);
	return rc;
}

/* Empties the tmpdir; the directory itself stays. */
static int
empty_tmpdir(struct worker *w)
{
	int fd = openat(w->tmpfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return VG_EIO;
	if ((rc = remove_below(fd, 0)) != 0)
		log_event(LOG_ERROR, "worker_tmpdir_not_emptied", "rc=%s",
			  vg_strerror(rc));
	return rc;
}

/*
 * Tells the node, before READY, about each rule file this worker could not
 * load: the node checked them all, so one failing here means the worker
 * and the node disagree (memory, a file changed), and the node takes it
 * out of the active rules. Analysis goes on with the other rules.
 */
static void
report_quarantined(struct worker *w)
{
	const struct rule_quarantine *q;
	size_t n = engine_rules_quarantined(w->e, &q);
	char f[600], r[600];

	for (size_t i = 0; i < n; i++) {
		log_event(LOG_WARN, "worker_rule_quarantined",
			  "file=%s reason=%s",
			  log_value(q[i].file, f, sizeof(f)),
			  log_value(q[i].reason, r, sizeof(r)));
		if (worker_send_quarantined(WORKER_FD, q[i].file,
					    q[i].reason) != 0)
			break; /* the node is gone: READY fails too */
	}
}

static int
engine_up(struct worker *w)
{
	struct engine_config cfg;
	char err[1024], v[1024];
	int rc;

	if ((rc = engine_global_init()) != 0) {
		log_event(LOG_ERROR, "worker_engine_init", "rc=%s",
			  vg_strerror(rc));
		return rc;
	}
	engine_config_default(&cfg);
	cfg.limits.max_scan_ms = (uint32_t)w->max_scan_ms;
	cfg.rule_paths = w->rules;
	cfg.n_rule_paths = w->n_rules;
	/* The worker works in its tmpdir (worker_main() made it the current
	 * directory): once it is the workers' user it may not be able to
	 * walk the node's path to it. */
	cfg.tmpdir = ".";
	/* A hunt asks which rules match: fingerprints and types of the
	 * objects answer nothing. */
	if (w->hunt) {
		cfg.fuzzy = false;
		cfg.match_only = true;
	}
	err[0] = '\0';
	if ((rc = engine_new(&cfg, &w->e, err, sizeof(err))) != 0) {
		log_event(LOG_ERROR, "worker_engine_new", "rc=%s err=%s",
			  vg_strerror(rc), log_value(err, v, sizeof(v)));
		return rc;
	}
	report_quarantined(w);
	if ((rc = scanner_new(w->e, &w->s)) != 0) {
		log_event(LOG_ERROR, "worker_scanner_new", "rc=%s",
			  vg_strerror(rc));
		return rc;
	}
	/*
	 * What the libraries would otherwise load lazily, on the first
	 * sample, from outside the tmpdir (and be refused by Landlock):
	 * libclamav names its scan directories with localtime(), which
	 * reads /etc/localtime once; jansson seeds its hash function from
	 * /dev/urandom on the first json_object().
	 */
	tzset();
	json_object_seed(0);
	return 0;
}

/* --self-test-escape: what the sandbox must refuse. */
static int
self_test_escape(const char *what)
{
	int fd = -1, e;

	if (strcmp(what, "open") == 0) {
		fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	} else if (strcmp(what, "socket") == 0) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	} else {
		char *const args[] = {"/bin/true", NULL};
		char *const env[] = {NULL};

		execve("/bin/true", args, env);
	}
	e = errno;
	if (fd >= 0) {
		close(fd);
		log_event(LOG_ERROR, "self_test_escape",
			  "what=%s result=escaped", what);
		return WORKER_EXIT_ESCAPE_FAILED;
	}
	log_event(LOG_INFO, "self_test_escape",
		  "what=%s result=denied errno=%d error=%s", what, e,
		  e == EACCES ? "EACCES" : "other");
	return e == EACCES ? WORKER_EXIT_ESCAPE_DENIED
			   : WORKER_EXIT_ESCAPE_FAILED;
}

/*
 * The sample's bytes are read into the scanner's buffer, which it keeps
 * from one job to the next (engine_scan_fd), not mapped: a fresh mapping
 * of the memfd takes a fault per page, and on this machine mapping and
 * reading 140 KiB took 155-209 us (156 with MAP_POPULATE) against 19-25 us
 * to pread it into a buffer already there. Retro-hunts hand over
 * thousands of small samples; so do analyses.
 */
static int
scan_sample(struct worker *w, int fd, struct report **r)
{
	return engine_scan_fd(w->s, fd, NULL, r);
}

/* A hunt worker's answer to a JOB (worker.h), malloc'd; NULL on OOM. */
static char *
hunt_answer(const struct report *r)
{
	char hex[65];
	json_t *o, *m = json_array();
	char *text;

	for (size_t i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x",
			 r->n_objects > 0 ? r->objects[0].sha256[i] : 0);
	for (size_t i = 0; i < r->n_detections; i++)
		json_array_append_new(m, json_string(r->detections[i]));
	o = json_pack("{s:s, s:o}", "sha256", hex, "matches", m);
	if (o == NULL)
		return NULL;
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* Receives and compiles a hunt's RULE; returns 0 or the status to exit
 * with. A rule that does not compile is answered, not fatal. */
static int
serve_rule(struct worker *w, const struct worker_msg_hdr *h)
{
	char *text = malloc(h->len), err[WORKER_MAX_ERROR];
	int rc;

	if (text == NULL)
		return WORKER_EXIT_INIT;
	if (worker_recv_body(WORKER_FD, text, h->len) != 0) {
		free(text);
		return WORKER_EXIT_PROTOCOL;
	}
	rc = engine_load_rules_text(w->e, w->s, text, h->len, err, sizeof(err));
	free(text);
	if (rc == 0) {
		w->have_rule = true;
		log_event(LOG_INFO, "worker_hunt_rule", "rules=%zu",
			  engine_rule_count(w->e));
		rc = worker_send_hdr(WORKER_FD, WORKER_READY, 0, 0, -1);
	} else {
		rc = worker_send_error(WORKER_FD, 0,
				       err[0] ? err : vg_strerror(rc));
	}
	return rc == 0 ? 0 : WORKER_EXIT_PROTOCOL;
}

/* Serves one job; returns 0 or the status to exit with. Closes fd. */
static int
serve_job(struct worker *w, const struct worker_msg_hdr *h, int fd)
{
	struct report *r = NULL;
	struct stat st;
	uint64_t t0 = clock_ms();
	char *json = NULL;
	const char *why = NULL;
	size_t n = 0;
	int seals, rc, status = 0;

	/* What the node promised: a regular file (a memfd) of len bytes
	 * that nobody can write to any more. */
	seals = fcntl(fd, F_GET_SEALS);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != h->len || seals < 0 ||
	    !(seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))) {
		log_event(LOG_ERROR, "worker_bad_job",
			  "job=%llu len=%llu seals=%d",
			  (unsigned long long)h->job_id,
			  (unsigned long long)h->len, seals);
		close(fd);
		return WORKER_EXIT_PROTOCOL;
	}
	if (w->crash || w->hang) {
		char head[32] = "";
		ssize_t k = pread(fd, head, sizeof(head) - 1, 0);

		head[k > 0 ? k : 0] = '\0';
		if (w->crash && strncmp(head, WORKER_SELF_TEST_CRASH,
					strlen(WORKER_SELF_TEST_CRASH)) == 0)
			abort();
		if (w->hang && strncmp(head, WORKER_SELF_TEST_HANG,
				       strlen(WORKER_SELF_TEST_HANG)) == 0) {
			volatile unsigned long spin = 0;

			for (;;)
				spin++;
		}
	}

	if ((rc = scan_sample(w, fd, &r)) != 0)
		why = vg_strerror(rc);
	else if (w->hunt && (json = hunt_answer(r)) == NULL)
		why = "out of memory";
	else if (!w->hunt && (json = report_to_json(r)) == NULL)
		why = "out of memory";
	else if ((n = strlen(json)) > WORKER_MAX_REPORT)
		why = "report too large";
	log_event(LOG_DEBUG, "worker_job",
		  "job=%llu len=%llu verdict=%s ms=%llu",
		  (unsigned long long)h->job_id, (unsigned long long)h->len,
		  r != NULL ? verdict_name(r->verdict) : "error",
		  (unsigned long long)(clock_ms() - t0));
	report_free(r);
	close(fd);

	/* Whatever the job left behind must not reach the next one, and the
	 * node may count on an empty tmpdir once it has the answer. */
	if (empty_tmpdir(w) != 0) {
		status = WORKER_EXIT_TMPDIR;
		goto out;
	}
	if (why != NULL)
		rc = worker_send_error(WORKER_FD, h->job_id, why);
	else if ((rc = worker_send_hdr(WORKER_FD, WORKER_REPORT, h->job_id, n,
				       -1)) == 0)
		rc = worker_send_body(WORKER_FD, json, n);
	if (rc != 0) {
		log_event(LOG_ERROR, "worker_send", "job=%llu rc=%s",
			  (unsigned long long)h->job_id, vg_strerror(rc));
		status = WORKER_EXIT_PROTOCOL;
	}
out:
	free(json);
	return status;
}

/* Closes every fd above WORKER_FD; one by one where close_range(2) is
 * missing (kernels before 5.9). */
static void
close_inherited_fds(void)
{
	long max;

	if (close_range(WORKER_FD + 1, ~0U, 0) == 0)
		return;
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = WORKER_FD + 1; fd < max; fd++)
		close(fd);
}

int
worker_main(int argc, char **argv)
{
	struct worker w;
	struct sandbox_opts so;
	struct worker_msg_hdr h;
	int type = 0, status, rc, fd;
	socklen_t tl = sizeof(type);
	uint64_t t0;

	/* Landlock confines paths, not fds already open: nothing but stdio
	 * and the node's socket may cross into the sandbox. */
	close_inherited_fds();

	memset(&w, 0, sizeof(w));
	w.tmpfd = -1;
	if ((status = parse_args(&w, argc, argv)) != 0)
		return status;
	if (getsockopt(WORKER_FD, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 ||
	    type != SOCK_SEQPACKET)
		return usage("fd 3 is not a SOCK_SEQPACKET socket");

	w.tmpfd = open(w.tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w.tmpfd < 0) {
		char v[512];

		log_event(LOG_ERROR, "worker_tmpdir", "path=%s errno=%d",
			  log_value(w.tmpdir, v, sizeof(v)), errno);
		return WORKER_EXIT_INIT;
	}
	/* Reached while the worker is still the node's user: after --user
	 * the folders above it (the node's data, 0700) are closed to it. */
	if (fchdir(w.tmpfd) != 0) {
		log_event(LOG_ERROR, "worker_tmpdir", "step=chdir errno=%d",
			  errno);
		return WORKER_EXIT_INIT;
	}
	t0 = clock_ms();
	if (empty_tmpdir(&w) != 0 || engine_up(&w) != 0)
		return WORKER_EXIT_INIT;

	sandbox_opts_default(&so);
	so.tmpdir = ".";
	so.sock = WORKER_FD;
	so.have_user = w.have_user;
	so.uid = w.uid;
	so.gid = w.gid;
	so.allow_without_landlock = w.allow_no_ll;
	so.test_no_landlock = w.test_no_ll;
	if (sandbox_apply(&so) != 0)
		return WORKER_EXIT_SANDBOX;
	if (w.escape != NULL)
		return self_test_escape(w.escape);

	if (worker_send_hdr(WORKER_FD, WORKER_READY, 0, 0, -1) != 0)
		return WORKER_EXIT_PROTOCOL;
	log_event(LOG_INFO, "worker_ready",
		  "rules=%zu init_ms=%llu landlock_abi=%d",
		  engine_rule_count(w.e), (unsigned long long)(clock_ms() - t0),
		  sandbox_landlock_abi());

	for (;;) {
		rc = worker_recv_hdr(WORKER_FD, &h, &fd);
		if (rc == VG_ENOENT)
			return WORKER_EXIT_OK;
		if (rc == 0 && w.hunt && h.type == WORKER_RULE) {
			if ((status = serve_rule(&w, &h)) != 0)
				return status;
			continue;
		}
		/* A hunt worker takes no job before its rule. */
		if (rc != 0 || h.type != WORKER_JOB ||
		    (w.hunt && !w.have_rule)) {
			log_event(LOG_ERROR, "worker_bad_message",
				  "rc=%s type=%u", vg_strerror(rc),
				  rc == 0 ? (unsigned)h.type : 0U);
			if (rc == 0 && fd >= 0)
				close(fd);
			return WORKER_EXIT_PROTOCOL;
		}
		if ((status = serve_job(&w, &h, fd)) != 0)
			return status;
	}
}

#endif /* VIGIL_WORKER_PROTOCOL_ONLY */
