/*
 * test_worker.c - the worker protocol helpers over a real socketpair, and
 * the real vigil-worker (path in $VIGIL_WORKER) driven as the node drives
 * it: reports for real samples, a clean tmpdir after every job, failing
 * closed on a bad message, and a sandbox that holds.
 *
 * The program links only worker.c's protocol helpers (built with
 * VIGIL_WORKER_PROTOCOL_ONLY) and src/common: the engine runs in the
 * worker, never here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "node/worker.h"

/* Longest a test waits for a worker to answer or exit. */
#define TEST_DEADLINE_MS 60000

static char root[] = "/tmp/vigil-test-worker-XXXXXX";
static const char *worker_path;
static char rules_dir[1024];
static char eicar[69];

struct wk {
	pid_t pid;
	int sock;
	char tmpdir[256];
	char log[256];
};

/* ---- helpers ---- */

static void
make_eicar(void)
{
	/* Two halves, so that this file is not itself a detection. */
	static const char a[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR";
	static const char b[] = "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

	snprintf(eicar, sizeof(eicar), "%s%s", a, b);
}

static void
write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static char *
read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long len;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len >= 0);
	rewind(f);
	p = malloc((size_t)len + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)len, f), (size_t)len);
	p[len] = '\0';
	fclose(f);
	*n = (size_t)len;
	return p;
}

/* Runs argv (a tool such as /usr/bin/zip) in dir; returns its status. */
static int
run_tool(const char *dir, char *const argv[])
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (chdir(dir) != 0)
			_exit(127);
		dup2(null, 1);
		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static bool
dir_is_empty(const char *path)
{
	int n = 0;
	DIR *d = opendir(path);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n == 0;
}

/* Set: spawn() starts a hunt worker (--hunt, no --rules). */
static bool spawn_hunt;

/* Starts vigil-worker on a fresh tmpdir with extra arguments. */
static void
spawn_args(struct wk *w, const char *const *extra, size_t n)
{
	static int seq;
	int sv[2];
	struct timeval tv = {TEST_DEADLINE_MS / 1000, 0};

	memset(w, 0, sizeof(*w));
	seq++;
	snprintf(w->tmpdir, sizeof(w->tmpdir), "%s/tmp%d", root, seq);
	snprintf(w->log, sizeof(w->log), "%s/worker%d.log", root, seq);
	assert_int_equal(mkdir(w->tmpdir, 0700), 0);
	assert_int_equal(
		socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	w->pid = fork();
	assert_true(w->pid >= 0);
	if (w->pid == 0) {
		const char **argv = calloc(n + 8, sizeof(*argv));
		int k = 0, null, log;

		if (argv == NULL)
			_exit(126);
		argv[k++] = worker_path;
		if (spawn_hunt) {
			argv[k++] = "--hunt";
		} else {
			argv[k++] = "--rules";
			argv[k++] = rules_dir;
		}
		argv[k++] = "--tmpdir";
		argv[k++] = w->tmpdir;
		argv[k++] = "--max-scan-ms";
		argv[k++] = "30000";
		for (size_t i = 0; i < n; i++)
			argv[k++] = extra[i];
		argv[k] = NULL;
		null = open("/dev/null", O_RDONLY);
		log = open(w->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (null < 0 || log < 0 || dup2(null, 0) < 0 ||
		    dup2(log, 2) < 0 || dup2(sv[1], WORKER_FD) < 0)
			_exit(126);
		/* dup2() onto itself keeps close-on-exec. */
		if (sv[1] == WORKER_FD && fcntl(WORKER_FD, F_SETFD, 0) != 0)
			_exit(126);
		execv(worker_path, (char *const *)argv);
		_exit(127);
	}
	close(sv[1]);
	w->sock = sv[0];
	/* A worker that never answers fails the test instead of hanging it
	 * (the helpers turn the timeout into VG_ELIMIT). */
	assert_int_equal(
		setsockopt(w->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)),
		0);
}

/* Starts vigil-worker on a fresh tmpdir with up to two extra arguments. */
static void
spawn(struct wk *w, const char *extra1, const char *extra2)
{
	const char *extra[2] = {NULL, NULL};
	size_t n = 0;

	if (extra1 != NULL)
		extra[n++] = extra1;
	if (extra2 != NULL)
		extra[n++] = extra2;
	spawn_args(w, extra, n);
}

static void
expect_ready(struct wk *w)
{
	struct worker_msg_hdr h;
	int fd;

	assert_int_equal(worker_recv_hdr(w->sock, &h, &fd), 0);
	assert_int_equal(h.type, WORKER_READY);
	assert_int_equal(fd, -1);
}

/* Waits for the worker to end; returns its wait status. */
static int
reap(struct wk *w)
{
	int st = 0;

	for (int ms = 0; ms < TEST_DEADLINE_MS; ms += 10) {
		pid_t r = waitpid(w->pid, &st, WNOHANG);

		assert_true(r >= 0);
		if (r == w->pid) {
			w->pid = 0;
			return st;
		}
		usleep(10000);
	}
	kill(w->pid, SIGKILL);
	waitpid(w->pid, &st, 0);
	w->pid = 0;
	fail_msg("worker did not exit");
	return st;
}

/* Closes the socket (EOF for the worker) and expects a clean exit. */
static void
finish(struct wk *w)
{
	int st;

	close(w->sock);
	st = reap(w);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), WORKER_EXIT_OK);
}

/* A memfd holding n bytes at p, sealed as the node seals it. */
static int
sealed_memfd(const void *p, size_t n, unsigned int seals)
{
	int fd = memfd_create("sample", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	if (n > 0)
		assert_int_equal(write(fd, p, n), (ssize_t)n);
	if (seals != 0)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

#define NODE_SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/* Sends a job; returns the report's JSON (caller frees). */
static char *
analyse(struct wk *w, uint64_t job_id, const void *p, size_t n)
{
	struct worker_msg_hdr h;
	int fd = sealed_memfd(p, n, NODE_SEALS), none;
	char *json;

	assert_int_equal(worker_send_hdr(w->sock, WORKER_JOB, job_id, n, fd),
			 0);
	close(fd);
	assert_int_equal(worker_recv_hdr(w->sock, &h, &none), 0);
	assert_int_equal(none, -1);
	assert_int_equal(h.job_id, job_id);
	if (h.type == WORKER_ERROR) {
		char reason[WORKER_MAX_ERROR + 1];

		assert_int_equal(
			worker_recv_error(w->sock, &h, reason, sizeof(reason)),
			0);
		fail_msg("worker error: %s", reason);
	}
	assert_int_equal(h.type, WORKER_REPORT);
	json = malloc(h.len + 1);
	assert_non_null(json);
	assert_int_equal(worker_recv_body(w->sock, json, h.len), 0);
	json[h.len] = '\0';
	return json;
}

static char *
analyse_file(struct wk *w, uint64_t job_id, const char *path)
{
	size_t n;
	char *p = read_file(path, &n);
	char *json = analyse(w, job_id, p, n);

	free(p);
	return json;
}

static void
assert_verdict(const char *json, const char *verdict)
{
	char want[64];

	snprintf(want, sizeof(want), "\"verdict\":\"%s\"", verdict);
	if (strstr(json, want) == NULL)
		fail_msg("expected %s in %.400s", want, json);
}

static bool
log_contains(const struct wk *w, const char *text)
{
	size_t n;
	char *log = read_file(w->log, &n);
	bool found = strstr(log, text) != NULL;

	free(log);
	return found;
}

static int
setup(void **state)
{
	const char *src = getenv("VIGIL_SOURCE_DIR");

	(void)state;
	make_eicar();
	if (mkdtemp(root) == NULL)
		return -1;
	worker_path = getenv("VIGIL_WORKER");
	if (src != NULL)
		snprintf(rules_dir, sizeof(rules_dir), "%s/rules", src);
	else
		snprintf(rules_dir, sizeof(rules_dir), "%s",
			 VIGIL_DEFAULT_RULES_DIR);
	/* A worker that dies must not take the test with it. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* The worker tests need the binary: meson passes its path. A missing
 * path fails them rather than skipping, so that a build that lost it
 * cannot pass quietly. */
#define NEED_WORKER()                                                          \
	do {                                                                   \
		if (worker_path == NULL)                                       \
			fail_msg("VIGIL_WORKER is not set");                   \
	} while (0)

/* ---- the protocol helpers, without a worker ---- */

static void
pair(int sv[2])
{
	assert_int_equal(
		socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

/* Sends a raw record, header fields as given. */
static void
send_raw(int sock, uint32_t magic, uint16_t type, uint16_t flags, uint64_t len,
	 const void *extra, size_t n_extra)
{
	char buf[sizeof(struct worker_msg_hdr) + 64];
	struct worker_msg_hdr h = {magic, type, flags, 7, len};

	assert_true(n_extra <= 64);
	memcpy(buf, &h, sizeof(h));
	if (n_extra)
		memcpy(buf + sizeof(h), extra, n_extra);
	assert_int_equal(send(sock, buf, sizeof(h) + n_extra, 0),
			 (ssize_t)(sizeof(h) + n_extra));
}

static void
test_hdr_round_trip_passes_the_memfd(void **state)
{
	struct worker_msg_hdr h;
	int sv[2], fd, got;
	char buf[4];

	(void)state;
	pair(sv);
	fd = sealed_memfd("abcd", 4, NODE_SEALS);
	assert_int_equal(worker_send_hdr(sv[0], WORKER_JOB, 42, 4, fd), 0);
	close(fd);
	assert_int_equal(worker_recv_hdr(sv[1], &h, &got), 0);
	assert_int_equal(h.type, WORKER_JOB);
	assert_int_equal(h.job_id, 42);
	assert_int_equal(h.len, 4);
	assert_true(got >= 0);
	assert_int_equal(pread(got, buf, 4, 0), 4);
	assert_memory_equal(buf, "abcd", 4);
	/* Received close-on-exec: it must not leak into a child. */
	assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
	close(got);
	close(sv[0]);
	close(sv[1]);
}

static void
test_body_round_trip_spans_chunks(void **state)
{
	size_t n = 3 * WORKER_CHUNK + 123;
	char *out = malloc(n), *in = malloc(n);
	int sv[2];
	pid_t pid;

	(void)state;
	assert_non_null(out);
	assert_non_null(in);
	for (size_t i = 0; i < n; i++)
		out[i] = (char)(i * 7 + 3);
	pair(sv);
	/* The body is larger than the socket buffer: send from a child. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(worker_send_body(sv[0], out, n) == 0 ? 0 : 1);
	assert_int_equal(worker_recv_body(sv[1], in, n), 0);
	assert_memory_equal(in, out, n);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	free(out);
	free(in);
	close(sv[0]);
	close(sv[1]);
}

static void
test_error_record_carries_its_reason(void **state)
{
	struct worker_msg_hdr h;
	char reason[64];
	int sv[2], fd;

	(void)state;
	pair(sv);
	assert_int_equal(worker_send_error(sv[0], 9, "malformed input"), 0);
	assert_int_equal(worker_send_hdr(sv[0], WORKER_READY, 0, 0, -1), 0);
	assert_int_equal(worker_recv_hdr(sv[1], &h, &fd), 0);
	assert_int_equal(h.type, WORKER_ERROR);
	assert_int_equal(h.job_id, 9);
	assert_int_equal(h.len, strlen("malformed input"));
	assert_int_equal(worker_recv_error(sv[1], &h, reason, sizeof(reason)),
			 0);
	assert_string_equal(reason, "malformed input");
	/* The next record is intact. */
	assert_int_equal(worker_recv_hdr(sv[1], &h, &fd), 0);
	assert_int_equal(h.type, WORKER_READY);
	close(sv[0]);
	close(sv[1]);
}

static void
test_quarantine_record_names_file_and_reason(void **state)
{
	struct worker_msg_hdr h;
	char text[WORKER_MAX_ERROR + 1];
	int sv[2], fd;

	(void)state;
	pair(sv);
	assert_int_equal(worker_send_quarantined(sv[0], "/r/bad.yar",
						 "line 3: syntax error"),
			 0);
	assert_int_equal(worker_send_hdr(sv[0], WORKER_READY, 0, 0, -1), 0);
	assert_int_equal(worker_recv_hdr(sv[1], &h, &fd), 0);
	assert_int_equal(h.type, WORKER_RULE_QUARANTINED);
	assert_int_equal(h.job_id, 0);
	assert_int_equal(worker_recv_error(sv[1], &h, text, sizeof(text)), 0);
	assert_string_equal(text, "/r/bad.yar\nline 3: syntax error");
	assert_int_equal(worker_recv_hdr(sv[1], &h, &fd), 0);
	assert_int_equal(h.type, WORKER_READY);
	close(sv[0]);
	close(sv[1]);
}

static void
test_recv_hdr_at_eof_is_enoent(void **state)
{
	struct worker_msg_hdr h;
	int sv[2], fd;

	(void)state;
	pair(sv);
	close(sv[0]);
	assert_int_equal(worker_recv_hdr(sv[1], &h, &fd), VG_ENOENT);
	close(sv[1]);
}

static void
test_recv_hdr_rejects_bad_magic(void **state)
{
	struct worker_msg_hdr h;
	int sv[2], fd;

	(void)state;
	pair(sv);
	send_raw(sv[0], 0x56474b32, WORKER_READY, 0, 0, NULL, 0);
	assert_int_equal(worker_recv_hdr(sv[1], &h, &fd), VG_EFORMAT);
	close(sv[0]);
	close(sv[1]);
}

static void
test_recv_hdr_rejects_unknown_type_and_flags(void **state)
{
	struct worker_msg_hdr h;
	int sv[2], fd;

	(void)state;
	pair(sv);
	send_raw(sv[0], WORKER_MAGIC, 99, 0, 0, NULL, 0);
	assert_int_equal(worker_recv_hdr(sv[1], &h, &fd), VG_EFORMAT);
	close(sv[0]);
	close(sv[1]);
	pair(sv);
	send_raw(sv[0], WORKER_MAGIC, WORKER_READY, 1, 0, NULL, 0);
	assert_int_equal(worker_recv_hdr(sv[1], &h, &fd), VG_EFORMAT);
	close(sv[0]);
	close(sv[1]);
}

static void
test_recv_hdr_rejects_lengths_out_of_bounds(void **state)
{
	struct worker_msg_hdr h;
	int sv[2], fd;

	(void)state;
	pair(sv);
	send_raw(sv[0], WORKER_MAGIC, WORKER_REPORT, 0, WORKER_MAX_REPORT + 1,
		 NULL, 0);
	assert_int_equal(worker_recv_hdr(sv[1], &h, &fd), VG_EFORMAT);
	close(sv[0]);
	close(sv[1]);
	pair(sv);
	send_raw(sv[0], WORKER_MAGIC, WORKER_READY, 0, 1, NULL, 0);
	assert_int_equal(worker_recv_hdr(sv[1], &h, &fd), VG_EFORMAT);
	close(sv[0]);
	close(sv[1]);
	/* An ERROR whose len does not match its record. */
	pair(sv);
	send_raw(sv[0], WORKER_MAGIC, WORKER_ERROR, 0, 10, "short", 5);
	assert_int_equal(worker_recv_hdr(sv[1], &h, &fd), VG_EFORMAT);
	close(sv[0]);
	close(sv[1]);
}

static void
test_recv_hdr_rejects_trailing_bytes(void **state)
{
	struct worker_msg_hdr h;
	int sv[2], fd;

	(void)state;
	pair(sv);
	send_raw(sv[0], WORKER_MAGIC, WORKER_READY, 0, 0, "x", 1);
	assert_int_equal(worker_recv_hdr(sv[1], &h, &fd), VG_EFORMAT);
	close(sv[0]);
	close(sv[1]);
}

static void
test_recv_hdr_rejects_job_without_fd_and_ready_with_fd(void **state)
{
	struct worker_msg_hdr h;
	int sv[2], fd, mfd;

	(void)state;
	pair(sv);
	assert_int_equal(worker_send_hdr(sv[0], WORKER_JOB, 1, 0, -1), 0);
	assert_int_equal(worker_recv_hdr(sv[1], &h, &fd), VG_EFORMAT);
	assert_int_equal(fd, -1);
	mfd = sealed_memfd("", 0, NODE_SEALS);
	assert_int_equal(worker_send_hdr(sv[0], WORKER_READY, 0, 0, mfd), 0);
	assert_int_equal(worker_recv_hdr(sv[1], &h, &fd), VG_EFORMAT);
	assert_int_equal(fd, -1);
	close(mfd);
	close(sv[0]);
	close(sv[1]);
}

static void
test_recv_body_rejects_record_longer_than_expected(void **state)
{
	char big[100], in[50];
	int sv[2];

	(void)state;
	memset(big, 'a', sizeof(big));
	pair(sv);
	assert_int_equal(worker_send_body(sv[0], big, sizeof(big)), 0);
	assert_int_equal(worker_recv_body(sv[1], in, sizeof(in)), VG_EFORMAT);
	close(sv[0]);
	close(sv[1]);
}

/* ---- the real worker ---- */

static void
test_recv_hdr_rejects_rule_of_bad_length(void **state)
{
	struct worker_msg_hdr h;
	int sv[2], fd;

	(void)state;
	pair(sv);
	send_raw(sv[0], WORKER_MAGIC, WORKER_RULE, 0, 0, NULL, 0);
	assert_int_equal(worker_recv_hdr(sv[1], &h, &fd), VG_EFORMAT);
	close(sv[0]);
	close(sv[1]);
	pair(sv);
	send_raw(sv[0], WORKER_MAGIC, WORKER_RULE, 0, WORKER_MAX_RULE + 1, NULL,
		 0);
	assert_int_equal(worker_recv_hdr(sv[1], &h, &fd), VG_EFORMAT);
	close(sv[0]);
	close(sv[1]);
	pair(sv);
	send_raw(sv[0], WORKER_MAGIC, WORKER_RULE, 0, 10, NULL, 0);
	assert_int_equal(worker_recv_hdr(sv[1], &h, &fd), 0);
	assert_int_equal(h.type, WORKER_RULE);
	close(sv[0]);
	close(sv[1]);
}

static void
test_eicar_in_zip_is_malicious_with_its_member(void **state)
{
	char dir[512], zip[600];
	char *const argv[] = {"/usr/bin/zip", "-q", "e.zip", "eicar.com", NULL};
	struct wk w;
	char *json;

	(void)state;
	NEED_WORKER();
	snprintf(dir, sizeof(dir), "%s/zip", root);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(zip, sizeof(zip), "%s/eicar.com", dir);
	write_file(zip, eicar, strlen(eicar));
	assert_int_equal(run_tool(dir, argv), 0);
	snprintf(zip, sizeof(zip), "%s/e.zip", dir);

	spawn(&w, NULL, NULL);
	expect_ready(&w);
	json = analyse_file(&w, 1, zip);
	assert_verdict(json, "malicious");
	assert_non_null(strstr(json, "\"type\":\"CL_TYPE_ZIP\""));
	assert_non_null(strstr(json, "\"name\":\"eicar.com\""));
	assert_non_null(strstr(json, "\"Vigil_Test_EICAR\""));
	free(json);
	finish(&w);
}

/* A rule file that does not compile costs that file, not the worker: it
 * is named to the node before READY, and the other rules still match. */
static void
test_broken_rule_file_is_named_and_the_rest_loads(void **state)
{
	char bad[600], text[WORKER_MAX_ERROR + 1];
	struct worker_msg_hdr h;
	struct wk w;
	char *json;
	int fd;

	(void)state;
	NEED_WORKER();
	snprintf(bad, sizeof(bad), "%s/broken.yar", root);
	write_file(
		bad, "rule Broken {\n  condition:\n    true and and\n}\n",
		strlen("rule Broken {\n  condition:\n    true and and\n}\n"));
	spawn(&w, "--rules", bad);
	assert_int_equal(worker_recv_hdr(w.sock, &h, &fd), 0);
	assert_int_equal(h.type, WORKER_RULE_QUARANTINED);
	assert_int_equal(worker_recv_error(w.sock, &h, text, sizeof(text)), 0);
	assert_non_null(strstr(text, "broken.yar\nline 3: "));
	expect_ready(&w);
	json = analyse(&w, 1, eicar, strlen(eicar));
	assert_verdict(json, "malicious");
	free(json);
	finish(&w);
}

/* The node's search for a rule that crashes analysis names each half's
 * files one by one: a worker takes as many as an engine loads. */
static void
test_worker_takes_a_hundred_rule_files(void **state)
{
	enum { N = 100 };
	const char *extra[2 * N];
	char names[N][600];
	struct wk w;
	char *json;

	(void)state;
	NEED_WORKER();
	for (int i = 0; i < N; i++) {
		char text[128];

		snprintf(names[i], sizeof(names[i]), "%s/many%03d.yar", root,
			 i);
		snprintf(text, sizeof(text),
			 "rule Many_%03d { strings: $a = \"many-%03d-x\" "
			 "condition: $a }\n",
			 i, i);
		write_file(names[i], text, strlen(text));
		extra[2 * i] = "--rules";
		extra[2 * i + 1] = names[i];
	}
	spawn_args(&w, extra, 2 * N);
	expect_ready(&w);
	json = analyse(&w, 1, "many-099-x", strlen("many-099-x"));
	assert_non_null(strstr(json, "\"Many_099\""));
	free(json);
	finish(&w);
}

static void
test_clean_text_is_clean(void **state)
{
	static const char text[] = "Minutes of the weekly meeting.\n";
	struct wk w;
	char *json;

	(void)state;
	NEED_WORKER();
	spawn(&w, NULL, NULL);
	expect_ready(&w);
	json = analyse(&w, 2, text, sizeof(text) - 1);
	assert_verdict(json, "clean");
	free(json);
	finish(&w);
}

static void
test_empty_sample_is_analysed(void **state)
{
	struct wk w;
	char *json;

	(void)state;
	NEED_WORKER();
	spawn(&w, NULL, NULL);
	expect_ready(&w);
	json = analyse(&w, 3, "", 0);
	assert_verdict(json, "clean");
	assert_non_null(strstr(json, "\"size\":0"));
	free(json);
	finish(&w);
}

static void
test_one_worker_serves_jobs_in_a_row(void **state)
{
	static const char text[] = "nothing to see here\n";
	struct wk w;

	(void)state;
	NEED_WORKER();
	spawn(&w, NULL, NULL);
	expect_ready(&w);
	for (uint64_t id = 100; id < 106; id++) {
		char *json = id % 2 ? analyse(&w, id, eicar, strlen(eicar))
				    : analyse(&w, id, text, sizeof(text) - 1);

		assert_verdict(json, id % 2 ? "malicious" : "clean");
		free(json);
	}
	finish(&w);
}

/* Formats whose parsers write to the tmpdir and use more of the kernel
 * than plain text: the sandbox must let each through. */
static void
test_archive_formats_are_analysed_in_the_sandbox(void **state)
{
	char dir[512], path[600];
	char *const tgz[] = {"/bin/tar", "czf", "e.tar.gz", "eicar.com", NULL};
	char *const gz[] = {"/bin/gzip", "-k", "eicar.com", NULL};
	char *const sz[] = {"/usr/bin/7z", "a",         "-bd", "-y",
			    "e.7z",        "eicar.com", NULL};
	const char *names[] = {"e.tar.gz", "eicar.com.gz", "e.7z"};
	struct wk w;
	char *json;

	(void)state;
	NEED_WORKER();
	snprintf(dir, sizeof(dir), "%s/formats", root);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/eicar.com", dir);
	write_file(path, eicar, strlen(eicar));
	assert_int_equal(run_tool(dir, tgz), 0);
	assert_int_equal(run_tool(dir, gz), 0);
	spawn(&w, NULL, NULL);
	expect_ready(&w);
	for (size_t i = 0; i < 3; i++) {
		if (i == 2 &&
		    (access(sz[0], X_OK) != 0 || run_tool(dir, sz) != 0)) {
			print_message("no 7z: skipped that format\n");
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		json = analyse_file(&w, 10 + i, path);
		assert_verdict(json, "malicious");
		free(json);
	}
	/* An ELF: this test program. */
	json = analyse_file(&w, 20, "/proc/self/exe");
	assert_non_null(strstr(json, "\"type\":\"CL_TYPE_ELF\""));
	free(json);
	finish(&w);
}

static void
test_tmpdir_is_empty_after_each_job(void **state)
{
	char path[600], canary[600];
	struct wk w;

	(void)state;
	NEED_WORKER();
	/* Outside the tmpdir: must survive a symlink to it being removed. */
	snprintf(canary, sizeof(canary), "%s/canary", root);
	write_file(canary, "keep", 4);
	spawn(&w, NULL, NULL);
	expect_ready(&w);
	for (uint64_t id = 1; id <= 3; id++) {
		char *json;

		/* What a job may leave behind: files, nested directories,
		 * a symlink out of the tmpdir. */
		snprintf(path, sizeof(path), "%s/left.tmp", w.tmpdir);
		write_file(path, "x", 1);
		snprintf(path, sizeof(path), "%s/d", w.tmpdir);
		assert_int_equal(mkdir(path, 0700), 0);
		snprintf(path, sizeof(path), "%s/d/e", w.tmpdir);
		assert_int_equal(mkdir(path, 0700), 0);
		snprintf(path, sizeof(path), "%s/d/e/f", w.tmpdir);
		write_file(path, "y", 1);
		snprintf(path, sizeof(path), "%s/d/link", w.tmpdir);
		assert_int_equal(symlink(root, path), 0);

		json = analyse(&w, id, eicar, strlen(eicar));
		free(json);
		assert_true(dir_is_empty(w.tmpdir));
		assert_int_equal(access(canary, F_OK), 0);
	}
	finish(&w);
	assert_int_equal(access(w.tmpdir, F_OK), 0);
}

/* Sends what the node must never send; the worker must exit non-zero. */
static void
expect_protocol_exit(struct wk *w)
{
	int st = reap(w);

	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), WORKER_EXIT_PROTOCOL);
	close(w->sock);
}

static void
test_malformed_header_makes_worker_exit(void **state)
{
	struct wk w;

	(void)state;
	NEED_WORKER();
	spawn(&w, NULL, NULL);
	expect_ready(&w);
	send_raw(w.sock, 0xdeadbeef, WORKER_JOB, 0, 4, NULL, 0);
	expect_protocol_exit(&w);
}

static void
test_job_without_memfd_makes_worker_exit(void **state)
{
	struct wk w;

	(void)state;
	NEED_WORKER();
	spawn(&w, NULL, NULL);
	expect_ready(&w);
	assert_int_equal(worker_send_hdr(w.sock, WORKER_JOB, 1, 0, -1), 0);
	expect_protocol_exit(&w);
}

static void
test_job_whose_len_is_not_the_memfd_size_makes_worker_exit(void **state)
{
	struct wk w;
	int fd;

	(void)state;
	NEED_WORKER();
	spawn(&w, NULL, NULL);
	expect_ready(&w);
	fd = sealed_memfd("abcdef", 6, NODE_SEALS);
	assert_int_equal(worker_send_hdr(w.sock, WORKER_JOB, 1, 1000, fd), 0);
	close(fd);
	expect_protocol_exit(&w);
}

static void
test_unsealed_memfd_makes_worker_exit(void **state)
{
	struct wk w;
	int fd;

	(void)state;
	NEED_WORKER();
	spawn(&w, NULL, NULL);
	expect_ready(&w);
	fd = sealed_memfd("abcdef", 6, 0);
	assert_int_equal(worker_send_hdr(w.sock, WORKER_JOB, 1, 6, fd), 0);
	close(fd);
	expect_protocol_exit(&w);
}

static void
test_message_meant_for_the_node_makes_worker_exit(void **state)
{
	struct wk w;

	(void)state;
	NEED_WORKER();
	spawn(&w, NULL, NULL);
	expect_ready(&w);
	assert_int_equal(worker_send_hdr(w.sock, WORKER_READY, 0, 0, -1), 0);
	expect_protocol_exit(&w);
}

static void
test_missing_tmpdir_argument_is_a_usage_error(void **state)
{
	int st;
	pid_t pid;

	(void)state;
	NEED_WORKER();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 2);
		execl(worker_path, worker_path, "--rules", rules_dir,
		      "--max-scan-ms", "1000", (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), WORKER_EXIT_USAGE);
}

static void
test_escape_open_is_refused_by_landlock(void **state)
{
	struct wk w;
	int st;

	(void)state;
	NEED_WORKER();
	spawn(&w, "--self-test-escape=open", NULL);
	st = reap(&w);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), WORKER_EXIT_ESCAPE_DENIED);
	assert_true(log_contains(&w, "what=open result=denied"));
	assert_true(log_contains(&w, "error=EACCES"));
	close(w.sock);
}

static void
test_escape_socket_is_killed_by_seccomp(void **state)
{
	struct wk w;
	int st;

	(void)state;
	NEED_WORKER();
	spawn(&w, "--self-test-escape=socket", NULL);
	st = reap(&w);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	close(w.sock);
}

static void
test_escape_exec_is_killed_by_seccomp(void **state)
{
	struct wk w;
	int st;

	(void)state;
	NEED_WORKER();
	spawn(&w, "--self-test-escape=exec", NULL);
	st = reap(&w);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	close(w.sock);
}

static void
test_self_test_crash_aborts_on_the_marked_sample_only(void **state)
{
	const char *marked = WORKER_SELF_TEST_CRASH " and more";
	struct worker_msg_hdr h;
	struct wk w;
	int fd, st;

	(void)state;
	NEED_WORKER();
	spawn(&w, "--self-test-crash", NULL);
	expect_ready(&w);
	/* An ordinary sample is analysed as usual. */
	fd = sealed_memfd("abc", 3, NODE_SEALS);
	assert_int_equal(worker_send_hdr(w.sock, WORKER_JOB, 1, 3, fd), 0);
	close(fd);
	assert_int_equal(worker_recv_hdr(w.sock, &h, NULL), 0);
	assert_int_equal(h.type, WORKER_REPORT);
	{
		char *body = malloc(h.len);
		assert_int_equal(worker_recv_body(w.sock, body, h.len), 0);
		free(body);
	}
	fd = sealed_memfd(marked, strlen(marked), NODE_SEALS);
	assert_int_equal(
		worker_send_hdr(w.sock, WORKER_JOB, 2, strlen(marked), fd), 0);
	close(fd);
	/* No answer: the socket ends with the process. */
	assert_int_equal(worker_recv_hdr(w.sock, &h, &fd), VG_ENOENT);
	st = reap(&w);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
	close(w.sock);
}

static void
test_self_test_hang_spins_until_killed(void **state)
{
	struct pollfd p;
	struct wk w;
	int fd, st;

	(void)state;
	NEED_WORKER();
	spawn(&w, "--self-test-hang", NULL);
	expect_ready(&w);
	fd = sealed_memfd(WORKER_SELF_TEST_HANG, strlen(WORKER_SELF_TEST_HANG),
			  NODE_SEALS);
	assert_int_equal(worker_send_hdr(w.sock, WORKER_JOB, 1,
					 strlen(WORKER_SELF_TEST_HANG), fd),
			 0);
	close(fd);
	p.fd = w.sock;
	p.events = POLLIN;
	assert_int_equal(poll(&p, 1, 500), 0);
	assert_int_equal(waitpid(w.pid, &st, WNOHANG), 0);
	/* What the supervisor's deadline does. */
	assert_int_equal(kill(w.pid, SIGKILL), 0);
	st = reap(&w);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	close(w.sock);
}

/* Sends a hunt worker its rule; returns the answer's type (READY or
 * ERROR, whose reason goes to why). */
static int
send_rule(struct wk *w, const char *rule, char *why, size_t n)
{
	struct worker_msg_hdr h;
	int fd;

	assert_int_equal(
		worker_send_hdr(w->sock, WORKER_RULE, 0, strlen(rule), -1), 0);
	assert_int_equal(worker_send_body(w->sock, rule, strlen(rule)), 0);
	assert_int_equal(worker_recv_hdr(w->sock, &h, &fd), 0);
	if (h.type == WORKER_ERROR)
		assert_int_equal(worker_recv_error(w->sock, &h, why, n), 0);
	return h.type;
}

static void
test_hunt_worker_compiles_its_rule_in_the_sandbox_and_matches_inside_zip(
	void **state)
{
	char dir[512], zip[600], why[WORKER_MAX_ERROR + 1];
	char *const argv[] = {"/usr/bin/zip", "-q", "e.zip", "eicar.com", NULL};
	struct wk w;
	char *json;

	(void)state;
	NEED_WORKER();
	snprintf(dir, sizeof(dir), "%s/hzip", root);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(zip, sizeof(zip), "%s/eicar.com", dir);
	write_file(zip, eicar, strlen(eicar));
	assert_int_equal(run_tool(dir, argv), 0);
	snprintf(zip, sizeof(zip), "%s/e.zip", dir);

	spawn_hunt = true;
	spawn(&w, NULL, NULL);
	spawn_hunt = false;
	expect_ready(&w);
	/* A rule that does not compile is answered, not fatal. */
	assert_int_equal(
		send_rule(&w, "rule B { condition: $x }", why, sizeof(why)),
		WORKER_ERROR);
	assert_non_null(strstr(why, "(rules):1:"));
	assert_int_equal(
		send_rule(&w,
			  "rule Hunt_Eicar { strings: $e = "
			  "\"EICAR-STANDARD-ANTIVIRUS\" condition: $e }",
			  why, sizeof(why)),
		WORKER_READY);
	json = analyse_file(&w, 1, zip);
	assert_non_null(strstr(json, "\"matches\":[\"Hunt_Eicar\"]"));
	assert_null(strstr(json, "objects")); /* not a full report */
	free(json);
	json = analyse(&w, 2, "nothing here", 12);
	assert_non_null(strstr(json, "\"matches\":[]"));
	free(json);
	finish(&w);
}

static void
test_hunt_worker_refuses_a_job_before_its_rule(void **state)
{
	struct wk w;

	(void)state;
	NEED_WORKER();
	spawn_hunt = true;
	spawn(&w, NULL, NULL);
	spawn_hunt = false;
	expect_ready(&w);
	{
		int fd = sealed_memfd("x", 1, NODE_SEALS);

		assert_int_equal(worker_send_hdr(w.sock, WORKER_JOB, 1, 1, fd),
				 0);
		close(fd);
	}
	expect_protocol_exit(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_round_trip_passes_the_memfd),
		cmocka_unit_test(test_body_round_trip_spans_chunks),
		cmocka_unit_test(test_error_record_carries_its_reason),
		cmocka_unit_test(test_quarantine_record_names_file_and_reason),
		cmocka_unit_test(test_recv_hdr_at_eof_is_enoent),
		cmocka_unit_test(test_recv_hdr_rejects_bad_magic),
		cmocka_unit_test(test_recv_hdr_rejects_unknown_type_and_flags),
		cmocka_unit_test(test_recv_hdr_rejects_lengths_out_of_bounds),
		cmocka_unit_test(test_recv_hdr_rejects_trailing_bytes),
		cmocka_unit_test(
			test_recv_hdr_rejects_job_without_fd_and_ready_with_fd),
		cmocka_unit_test(
			test_recv_body_rejects_record_longer_than_expected),
		cmocka_unit_test(
			test_eicar_in_zip_is_malicious_with_its_member),
		cmocka_unit_test(test_clean_text_is_clean),
		cmocka_unit_test(test_worker_takes_a_hundred_rule_files),
		cmocka_unit_test(
			test_broken_rule_file_is_named_and_the_rest_loads),
		cmocka_unit_test(test_empty_sample_is_analysed),
		cmocka_unit_test(test_one_worker_serves_jobs_in_a_row),
		cmocka_unit_test(
			test_archive_formats_are_analysed_in_the_sandbox),
		cmocka_unit_test(test_tmpdir_is_empty_after_each_job),
		cmocka_unit_test(test_malformed_header_makes_worker_exit),
		cmocka_unit_test(test_job_without_memfd_makes_worker_exit),
		cmocka_unit_test(
			test_job_whose_len_is_not_the_memfd_size_makes_worker_exit),
		cmocka_unit_test(test_unsealed_memfd_makes_worker_exit),
		cmocka_unit_test(
			test_message_meant_for_the_node_makes_worker_exit),
		cmocka_unit_test(test_missing_tmpdir_argument_is_a_usage_error),
		cmocka_unit_test(test_escape_open_is_refused_by_landlock),
		cmocka_unit_test(test_escape_socket_is_killed_by_seccomp),
		cmocka_unit_test(test_escape_exec_is_killed_by_seccomp),
		cmocka_unit_test(
			test_self_test_crash_aborts_on_the_marked_sample_only),
		cmocka_unit_test(test_self_test_hang_spins_until_killed),
		cmocka_unit_test(test_recv_hdr_rejects_rule_of_bad_length),
		cmocka_unit_test(
			test_hunt_worker_compiles_its_rule_in_the_sandbox_and_matches_inside_zip),
		cmocka_unit_test(
			test_hunt_worker_refuses_a_job_before_its_rule),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
