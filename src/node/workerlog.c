/*
 * workerlog.c - the thread that reads the workers' output pipes and logs
 * their lines; see workerlog.h.
 *
 * One thread for every pipe, not one per worker: a worker writes a few
 * lines in its life (its start, a rule it could not load, an error), and
 * the slots' threads are busy waiting on their sockets with deadlines.
 * The table is static: the thread lives as long as the process, and a
 * pipe is registered by the slot that starts a worker, then owned by this
 * thread until EOF. A slot only ever writes a free entry, under the
 * lock; the thread only ever touches entries in use, and frees them
 * under the lock.
 */
#include "node/workerlog.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"

struct outpipe {
	bool used;
	int fd;
	pid_t pid;
	char name[32];
	char line[WORKERLOG_LINE_MAX];
	size_t len;
	bool cutting;     /* the current line was cut: skip to its end */
	uint64_t window;  /* the second the counts below are for */
	unsigned lines;   /* lines logged in that second */
	size_t bytes;     /* bytes read in that second */
	uint64_t dropped; /* lines dropped since the last report */
};

static struct outpipe pipes[WORKERLOG_MAX_PIPES];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int wake[2] = {-1, -1};
static bool started;

size_t
workerlog_escape(const char *line, size_t len, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c == '"' || c == '\\') {
			if (o + 3 > cap)
				break;
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			if (o + 2 > cap)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 5 > cap)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return o;
}

static void
report_dropped(struct outpipe *p)
{
	if (p->dropped == 0)
		return;
	log_event(LOG_WARN, "worker_output_dropped",
		  "worker=%s pid=%d lines=%llu reason=\"more than %d lines a "
		  "second\"",
		  p->name, (int)p->pid, (unsigned long long)p->dropped,
		  WORKERLOG_LINES_PER_S);
	p->dropped = 0;
}

/* Logs p's line so far (cut: it went on past WORKERLOG_LINE_MAX). */
static void
emit(struct outpipe *p, bool cut)
{
	char esc[WORKERLOG_LINE_MAX * 4 + 1];

	if (p->lines >= WORKERLOG_LINES_PER_S) {
		p->dropped++;
	} else {
		p->lines++;
		workerlog_escape(p->line, p->len, esc, sizeof(esc));
		log_event(LOG_INFO, "worker_output",
			  "worker=%s pid=%d line=\"%s\"%s", p->name,
			  (int)p->pid, esc, cut ? " cut=1" : "");
	}
	p->len = 0;
}

/* A new second: the counts start again, and what was dropped in the
 * last one is said. */
static void
new_window(struct outpipe *p, uint64_t sec)
{
	if (p->window == sec)
		return;
	report_dropped(p);
	p->window = sec;
	p->lines = 0;
	p->bytes = 0;
}

static void
take(struct outpipe *p, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = buf[i];

		if (c == '\n') {
			if (!p->cutting)
				emit(p, false);
			p->cutting = false;
			p->len = 0;
			continue;
		}
		if (p->cutting)
			continue;
		if (p->len == sizeof(p->line)) {
			emit(p, true);
			p->cutting = true;
			continue;
		}
		p->line[p->len++] = c;
	}
}

/* Reads what p has now; false at EOF or on an error (then it is done). */
static bool
drain(struct outpipe *p)
{
	char buf[4096];

	for (;;) {
		ssize_t n;

		new_window(p, clock_ms() / 1000);
		if (p->bytes >= WORKERLOG_BYTES_PER_S)
			return true; /* the rest waits for the next second */
		n = read(p->fd, buf, sizeof(buf));
		if (n > 0) {
			p->bytes += (size_t)n;
			take(p, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		return false;
	}
}

static void
finish(struct outpipe *p)
{
	if (p->len > 0 && !p->cutting)
		emit(p, false);
	report_dropped(p);
	close(p->fd);
	pthread_mutex_lock(&mu);
	p->used = false;
	p->fd = -1;
	pthread_mutex_unlock(&mu);
}

static void *
pump(void *arg)
{
	static struct pollfd pfd[WORKERLOG_MAX_PIPES + 1];
	static int at[WORKERLOG_MAX_PIPES + 1];

	(void)arg;
	for (;;) {
		uint64_t sec = clock_ms() / 1000;
		bool waiting = false;
		int n = 1;

		pfd[0].fd = wake[0];
		pfd[0].events = POLLIN;
		pthread_mutex_lock(&mu);
		for (int i = 0; i < WORKERLOG_MAX_PIPES; i++) {
			struct outpipe *p = &pipes[i];

			if (!p->used)
				continue;
			/* Past its bytes for this second: not read again
			 * until the next one. */
			if (p->window == sec &&
			    p->bytes >= WORKERLOG_BYTES_PER_S) {
				waiting = true;
				continue;
			}
			pfd[n].fd = p->fd;
			pfd[n].events = POLLIN;
			at[n++] = i;
		}
		pthread_mutex_unlock(&mu);
		if (poll(pfd, (nfds_t)n, waiting ? 100 : 1000) < 0) {
			if (errno != EINTR)
				fatal("workerlog: poll failed");
			continue;
		}
		if (pfd[0].revents & POLLIN) {
			char b[64];

			while (read(wake[0], b, sizeof(b)) > 0)
				;
		}
		for (int k = 1; k < n; k++) {
			struct outpipe *p = &pipes[at[k]];

			if (pfd[k].revents == 0) {
				new_window(p, clock_ms() / 1000);
				continue;
			}
			if (!drain(p))
				finish(p);
		}
	}
	return NULL;
}

static void
start(void)
{
	pthread_t t;

	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0)
		return;
	for (int i = 0; i < WORKERLOG_MAX_PIPES; i++)
		pipes[i].fd = -1;
	if (pthread_create(&t, NULL, pump, NULL) != 0)
		return;
	pthread_detach(t);
	started = true;
}

int
workerlog_watch(int fd, const char *name, pid_t pid)
{
	int rc = VG_ELIMIT;
	char b = 1;

	pthread_once(&once, start);
	if (!started) {
		close(fd);
		return VG_ELIB;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
		close(fd);
		return VG_EIO;
	}
	pthread_mutex_lock(&mu);
	for (int i = 0; i < WORKERLOG_MAX_PIPES; i++) {
		struct outpipe *p = &pipes[i];

		if (p->used)
			continue;
		memset(p, 0, sizeof(*p));
		p->used = true;
		p->fd = fd;
		p->pid = pid;
		snprintf(p->name, sizeof(p->name), "%s", name);
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&mu);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	/* A full pipe means a wake-up is pending already. */
	(void)!write(wake[1], &b, 1);
	return 0;
}
