/*
 * pgfeed.c - the region's change feed over LISTEN/NOTIFY; see pgfeed.h.
 */
#include "store/pgfeed.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/hex.h"
#include "common/log.h"
#include "store/pg.h"

struct pgfeed {
	struct pg pg;
	pgfeed_fn fn;
	void *ud;
	pthread_t thread;
	bool running;
	/* A pipe whose write end wakes the thread to stop. */
	int stop_rd, stop_wr;

	pthread_mutex_t mu; /* guards healthy, why */
	bool healthy;
	char why[320];
	atomic_ullong delivered, own_skipped;
	/* The node's own store sessions (application_name self), by
	 * backend pid; read again at every idle check, and when a
	 * notification comes from a pid not among them (a session the node
	 * opened since), at most every OWN_REFRESH_MS. */
	char self[64];
	int own[64];
	size_t n_own;
	int64_t own_at;
};

/* How often a notification from an unknown pid may make the feed read
 * its own sessions again: other nodes' pids are always unknown. */
#define OWN_REFRESH_MS 200

/* Reads which backends are the node's own store sessions; also the
 * idle check that the session is alive. Returns 0 or VG_EIO. */
static int
refresh_own(struct pgfeed *f)
{
	const char *p[1] = {f->self};
	PGresult *res = NULL;
	int rc;

	f->own_at = clock_ms();
	if (f->self[0] == '\0')
		return pg_cmd(&f->pg, NULL, 0, "SELECT 1");
	rc = pg_exec(&f->pg, &res, NULL, 0,
		     "SELECT pid FROM pg_stat_activity"
		     " WHERE application_name = $1 LIMIT 64",
		     1, p);
	if (rc != 0)
		return rc;
	f->n_own = 0;
	for (int r = 0; r < PQntuples(res) && f->n_own < 64; r++)
		f->own[f->n_own++] = atoi(PQgetvalue(res, r, 0));
	PQclear(res);
	return 0;
}

static bool
is_own(const struct pgfeed *f, int pid)
{
	for (size_t i = 0; i < f->n_own; i++)
		if (f->own[i] == pid)
			return true;
	return false;
}

static void
set_health(struct pgfeed *f, bool ok, const char *why)
{
	pthread_mutex_lock(&f->mu);
	f->healthy = ok;
	snprintf(f->why, sizeof(f->why), "%s", ok ? "" : why);
	pthread_mutex_unlock(&f->mu);
}

static int
listen_all(struct pg *p, char *err, size_t errlen)
{
	return pg_cmd(p, err, errlen,
		      "LISTEN " PGFEED_CHANNEL_REPUTATION
		      "; LISTEN " PGFEED_CHANNEL_RETRACTION);
}

int
pgfeed_open(const char *dsn, const char *app, const char *self, pgfeed_fn fn,
	    void *ud, struct pgfeed **out, char *err, size_t errlen)
{
	struct pgfeed *f;
	int pfd[2], rc;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return VG_ENOMEM;
	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) != 0) {
		free(f);
		return vg_fail(err, errlen, VG_EIO, "pipe: %s",
			       strerror(errno));
	}
	f->stop_rd = pfd[0];
	f->stop_wr = pfd[1];
	f->fn = fn;
	f->ud = ud;
	snprintf(f->self, sizeof(f->self), "%s", self ? self : "");
	pthread_mutex_init(&f->mu, NULL);
	if ((rc = pg_open(&f->pg, dsn, app, err, errlen)) != 0 ||
	    (rc = listen_all(&f->pg, err, errlen)) != 0) {
		pgfeed_close(f);
		return rc;
	}
	f->healthy = true;
	*out = f;
	return 0;
}

/* Hands every payload item of one notification to fn: hashes separated
 * by single spaces. Anything that is not a SHA-256 is skipped: the
 * channel is the store's, but any session of the database may NOTIFY on
 * it, and the node reads the row itself anyway. */
static void
deliver(struct pgfeed *f, const PGnotify *n)
{
	enum pgfeed_event ev;
	const char *p = n->extra;
	char h[65];

	if (strcmp(n->relname, PGFEED_CHANNEL_REPUTATION) == 0)
		ev = PGFEED_REPUTATION;
	else if (strcmp(n->relname, PGFEED_CHANNEL_RETRACTION) == 0)
		ev = PGFEED_RETRACTION;
	else
		return;
	/* A session of the node's that the feed has not seen yet: its
	 * own notifications would come back to the node as news. A failed
	 * read leaves the list as it was; the idle check notices a lost
	 * session. */
	if (!is_own(f, n->be_pid) && f->self[0] != '\0' &&
	    clock_ms() - f->own_at >= OWN_REFRESH_MS)
		(void)refresh_own(f);
	if (is_own(f, n->be_pid)) {
		atomic_fetch_add(&f->own_skipped, 1);
		return;
	}
	while (*p != '\0') {
		size_t len = strcspn(p, " ");

		if (len == 64 && hex_is_lower(p, 64)) {
			memcpy(h, p, 64);
			h[64] = '\0';
			f->fn(f->ud, ev, h);
			atomic_fetch_add(&f->delivered, 1);
		}
		p += len;
		while (*p == ' ')
			p++;
	}
}

/* Takes what the session has read; false if the session is gone. */
static bool
drain(struct pgfeed *f)
{
	PGnotify *n;

	if (!PQconsumeInput(f->pg.conn))
		return false;
	while ((n = PQnotifies(f->pg.conn)) != NULL) {
		deliver(f, n);
		PQfreemem(n);
	}
	return PQstatus(f->pg.conn) == CONNECTION_OK;
}

/* Waits up to ms for the session's socket or the stop pipe; true if the
 * feed is to stop. */
static bool
wait_input(struct pgfeed *f, int ms)
{
	struct pollfd pfd[2] = {
		{.fd = f->stop_rd, .events = POLLIN},
		{.fd = f->pg.conn ? PQsocket(f->pg.conn) : -1,
		 .events = POLLIN},
	};

	if (poll(pfd, pfd[1].fd >= 0 ? 2 : 1, ms) < 0 && errno != EINTR)
		usleep(10000);
	return (pfd[0].revents & POLLIN) != 0;
}

/* Reconnects and LISTENs again, pausing 50 ms doubling to 1 s between
 * tries; false if the feed is to stop meanwhile. */
static bool
recover(struct pgfeed *f)
{
	char err[256], why[300];
	int pause = 50;
	int64_t since = clock_ms();

	for (;;) {
		if (pg_reconnect(&f->pg, err, sizeof(err)) == 0 &&
		    listen_all(&f->pg, err, sizeof(err)) == 0)
			break;
		snprintf(why, sizeof(why), "postgresql lost for %lld ms: %s",
			 (long long)(clock_ms() - since), err);
		set_health(f, false, why);
		if (wait_input(f, pause))
			return false;
		if ((pause *= 2) > 1000)
			pause = 1000;
	}
	log_event(LOG_INFO, "pgfeed_listening", "after_ms=%lld",
		  (long long)(clock_ms() - since));
	set_health(f, true, NULL);
	/* The node's sessions have new pids too: until they are read, none
	 * is taken for the node's own. */
	f->n_own = 0;
	(void)refresh_own(f);
	f->fn(f->ud, PGFEED_RESYNC, NULL);
	return true;
}

static void *
feed_main(void *arg)
{
	struct pgfeed *f = arg;
	int64_t last = clock_ms();

	for (;;) {
		bool alive = drain(f);

		/* Idle for a while: ask the server, so that a session that
		 * died without a word (a partition) is noticed. */
		if (alive && clock_ms() - last >= PGFEED_POLL_MS) {
			last = clock_ms();
			/* What came with its answer waits in libpq, not on
			 * the socket: drain it before waiting again. */
			if (refresh_own(f) == 0)
				continue;
			alive = false;
		}
		if (!alive) {
			char why[300], lv[320];

			pg_message(&f->pg, "postgresql lost: ", why,
				   sizeof(why));
			set_health(f, false, why);
			log_event(LOG_WARN, "pgfeed_lost", "why=%s",
				  log_value(why, lv, sizeof(lv)));
			if (!recover(f))
				break;
			last = clock_ms();
			continue;
		}
		if (wait_input(f, PGFEED_POLL_MS))
			break;
		if (clock_ms() - last >= PGFEED_POLL_MS)
			continue;
		last = clock_ms();
	}
	return NULL;
}

int
pgfeed_run(struct pgfeed *f)
{
	(void)refresh_own(f);
	if (pthread_create(&f->thread, NULL, feed_main, f) != 0)
		return VG_ELIB;
	f->running = true;
	return 0;
}

bool
pgfeed_healthy(struct pgfeed *f, char *why, size_t len)
{
	bool ok;

	pthread_mutex_lock(&f->mu);
	ok = f->healthy;
	if (why != NULL && len > 0)
		snprintf(why, len, "%s", f->why);
	pthread_mutex_unlock(&f->mu);
	return ok;
}

unsigned long long
pgfeed_delivered(struct pgfeed *f)
{
	return atomic_load(&f->delivered);
}

unsigned long long
pgfeed_own(struct pgfeed *f)
{
	return atomic_load(&f->own_skipped);
}

void
pgfeed_close(struct pgfeed *f)
{
	if (f == NULL)
		return;
	if (f->running) {
		ssize_t w = write(f->stop_wr, "x", 1);

		(void)w;
		pthread_join(f->thread, NULL);
	}
	pg_close(&f->pg);
	close(f->stop_rd);
	close(f->stop_wr);
	pthread_mutex_destroy(&f->mu);
	free(f);
}
