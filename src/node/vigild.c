/*
 * vigild.c - the regional node: parses arguments and configuration, forks
 * the key holder (keyholder.h; this process never reads a key), opens the
 * stores, and runs the HTTP API on an h2o event loop until SIGTERM.
 *
 *   vigild [-c FILE] [--listen ADDR:PORT] [--data DIR] [--region R] [--site S]
 *
 * The API is served by one h2o event loop per core (the `loops` setting).
 * Loop 0 accepts every connection and hands each to the loop with the
 * fewest open connections. SIGTERM and SIGINT stop accepting
 * connections, let the requests in flight finish (for at most
 * NODE_DRAIN_SECONDS), and exit 0.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <netdb.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/net.h"
#include "common/xmalloc.h"
#include "engine/digest.h"
#include "node/activerules.h"
#include "node/analysis.h"
#include "node/api.h"
#include "node/config.h"
#include "node/edge.h"
#include "node/keyholder.h"
#include "node/me.h"
#include "node/node.h"
#include "node/regionfeed.h"
#include "node/releases.h"
#include "node/retention.h"
#include "node/retrohunt.h"
#include "node/workerproc.h"
#include "store/samples.h"
#include "store/store.h"

#define NODE_DRAIN_SECONDS 10

static volatile sig_atomic_t stop_signal, reload_signal;
static const char *the_rules_dir;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_signal = 1;
	else
		stop_signal = sig;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: vigild [-c FILE] [--listen ADDR:PORT] [--data DIR]\n"
		"              [--region NAME] [--site NAME]\n"
		"\n"
		"The vigil regional node. Defaults: listen %s, data %s,\n"
		"region %s, site %s. The configuration file is described in\n"
		"docs/CONFIG.md.\n",
		NODE_LISTEN_DEFAULT, NODE_DATA_DEFAULT, NODE_REGION_DEFAULT,
		NODE_SITE_DEFAULT);
}

/* Binds and listens on the configured address; returns the socket. */
static int
listen_on(const struct node_config *c, char *bound, size_t boundlen)
{
	char err[512];
	int fd = net_listen(c->listen_host, c->listen_port, bound, boundlen,
			    err, sizeof(err));

	if (fd < 0)
		log_event(LOG_ERROR, "listen_failed", "reason=\"%s\"", err);
	return fd;
}

/* Connections accepted by loop 0 for another loop, not yet taken. */
#define HANDOFF_MAX 256

/* One HTTP event loop: a thread with its h2o context, its notify pipe,
 * its share of the API (struct api_loop) and, for loop 0, the listening
 * socket. */
struct loop {
	struct api_loop *api; /* in the_node.loops */
	h2o_globalconf_t *gconf;
	h2o_context_t ctx;
	struct edge *edge; /* its HTTP/1.1 connections (edge.h) */
	h2o_socket_t *lsock, *nsock;
	int lfd, notify[2];
	pthread_t thread;
	pthread_mutex_t mu; /* guards the handoff queue */
	int handoff[HANDOFF_MAX];
	unsigned n_handoff;
	bool closed; /* the loop has stopped taking connections */
	/* Out of descriptors, loop 0 stops accepting until then (ms). */
	uint64_t accept_paused_until;
};

/* How long loop 0 stops accepting when it has no descriptor left. */
#define ACCEPT_PAUSE_MS 100

static struct node the_node;
static struct loop *the_loops;
static uint64_t conns_accepted;
static size_t max_conns;

/* A connection of loop data is gone: h2o closed it, or it was closed
 * before being served. */
static void
on_conn_close(void *data)
{
	struct loop *lp = data;

	__atomic_fetch_sub(&lp->api->conns, 1, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&the_node.conns_open, 1, __ATOMIC_RELAXED);
}

/* Serves an accepted connection on lp, in lp's thread. */
static void
serve(struct loop *lp, int fd)
{
	h2o_socket_t *sock = h2o_evloop_socket_create(
		lp->ctx.loop, fd, H2O_SOCKET_FLAG_IS_ACCEPTED_CONNECTION);

	sock->on_close.cb = on_conn_close;
	sock->on_close.data = lp;
	edge_accept(lp->edge, sock);
}

/* The loop with the fewest open connections: connections are long-lived
 * (keep-alive), so balancing them balances the load. Every loop waiting
 * on the listening socket instead would let the first to wake take a
 * whole burst of connections, and leave the other cores idle. */
static struct loop *
least_busy(void)
{
	struct loop *best = &the_loops[0];
	uint64_t min = __atomic_load_n(&best->api->conns, __ATOMIC_RELAXED);

	for (unsigned k = 1; k < the_node.n_loops; k++) {
		uint64_t c = __atomic_load_n(&the_loops[k].api->conns,
					     __ATOMIC_RELAXED);

		if (c < min) {
			min = c;
			best = &the_loops[k];
		}
	}
	return best;
}

/* Queues fd for lp's thread, counted as lp's from now on, and wakes it;
 * false if lp takes no more. */
static bool
hand_off(struct loop *lp, int fd)
{
	bool ok;

	pthread_mutex_lock(&lp->mu);
	ok = !lp->closed && lp->n_handoff < HANDOFF_MAX;
	if (ok) {
		lp->handoff[lp->n_handoff++] = fd;
		__atomic_fetch_add(&lp->api->conns, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&lp->mu);
	if (ok && write(lp->notify[1], "c", 1) < 0 && errno != EAGAIN)
		log_event(LOG_WARN, "notify_failed", "errno=%d", errno);
	return ok;
}

/* Takes the connections handed to lp (in lp's thread); with close_all,
 * closes them instead and takes no more. */
static void
take_handoffs(struct loop *lp, bool close_all)
{
	int fds[HANDOFF_MAX];
	unsigned n;

	pthread_mutex_lock(&lp->mu);
	n = lp->n_handoff;
	memcpy(fds, lp->handoff, n * sizeof(fds[0]));
	lp->n_handoff = 0;
	lp->closed |= close_all;
	pthread_mutex_unlock(&lp->mu);
	for (unsigned i = 0; i < n; i++) {
		if (!close_all) {
			serve(lp, fds[i]);
			continue;
		}
		close(fds[i]);
		on_conn_close(lp);
	}
}

/* Loop 0's listening socket is readable. Beyond max_connections (over
 * every loop) a new connection is closed at once: the node keeps serving
 * the ones it has rather than degrading all of them. */
static void
on_accept(h2o_socket_t *listener, const char *status)
{
	struct loop *lp = listener->data, *to;
	int fd, one = 1;

	if (status != NULL)
		return;
	/* A few at a time: the listening socket stays readable while more
	 * are waiting, and this loop has requests of its own to serve. */
	for (int i = 0; i < 16; i++) {
		fd = accept4(lp->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE ||
			       errno == ENOBUFS || errno == ENOMEM)) {
			/* The connection waits in the backlog; the socket
			 * would stay readable, and this loop would spin. */
			log_event(LOG_WARN, "accept_paused",
				  "reason=\"%s\" ms=%d open=%llu",
				  strerror(errno), ACCEPT_PAUSE_MS,
				  (unsigned long long)__atomic_load_n(
					  &the_node.conns_open,
					  __ATOMIC_RELAXED));
			h2o_socket_read_stop(listener);
			lp->accept_paused_until = clock_ms() + ACCEPT_PAUSE_MS;
			return;
		}
		if (fd < 0)
			return;
		__atomic_fetch_add(&conns_accepted, 1, __ATOMIC_RELAXED);
		if (__atomic_add_fetch(&the_node.conns_open, 1,
				       __ATOMIC_RELAXED) > max_conns) {
			__atomic_fetch_sub(&the_node.conns_open, 1,
					   __ATOMIC_RELAXED);
			__atomic_fetch_add(&the_node.conns_refused, 1,
					   __ATOMIC_RELAXED);
			close(fd);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
		to = least_busy();
		if (to != lp && hand_off(to, fd))
			continue;
		__atomic_fetch_add(&lp->api->conns, 1, __ATOMIC_RELAXED);
		serve(lp, fd);
	}
}

/* The notify pipe: connections handed over, submissions stored, or
 * analysis results ready. */
static void
on_notify(h2o_socket_t *sock, const char *err)
{
	struct loop *lp = sock->data;

	if (err != NULL)
		return;
	h2o_buffer_consume(&sock->input, sock->input->size);
	take_handoffs(lp, false);
	api_on_notify(&the_node);
}

/* Runs one loop until SIGTERM, then drains it: no new connections, the
 * requests in flight finish (long-polls are answered at once). */
static void *
loop_main(void *arg)
{
	struct loop *lp = arg;
	struct node *node = &the_node;

	/* Everything of the loop's is created in its own thread: h2o keeps
	 * socket buffers in per-thread pools, and a socket made by one
	 * thread and read by another would mix two threads' pools. */
	api_loop_enter(node, lp->api);
	/* A loop's log lines go out once a turn (log.h), not one write
	 * each: at 12,000 submissions a second, a write per line cost the
	 * node 3-9% of its rate. */
	log_hold(1);
	h2o_context_init(&lp->ctx, h2o_evloop_create(), lp->gconf);
	{
		struct edge_config ec = {
			.body_budget = node->cfg.max_body_memory,
			.timeout_ms = node->cfg.request_timeout_ms,
			.hooks = api_edge_hooks(),
		};

		lp->edge = edge_new(&lp->ctx, lp->gconf->hosts, &ec);
	}
	if (lp->lfd >= 0) {
		lp->lsock = h2o_evloop_socket_create(lp->ctx.loop, lp->lfd,
						     H2O_SOCKET_FLAG_DONT_READ);
		lp->lsock->data = lp;
		h2o_socket_read_start(lp->lsock, on_accept);
	}
	lp->nsock = h2o_evloop_socket_create(lp->ctx.loop, lp->notify[0], 0);
	lp->nsock->data = lp;
	h2o_socket_read_start(lp->nsock, on_notify);
	while (!stop_signal) {
		h2o_evloop_run(lp->ctx.loop, 100);
		if (lp->accept_paused_until != 0 &&
		    clock_ms() >= lp->accept_paused_until) {
			lp->accept_paused_until = 0;
			h2o_socket_read_start(lp->lsock, on_accept);
		}
		api_tick(node);
		if (lp->api->id == 0)
			releases_refresh(node->releases);
		if (lp->api->id == 0 && reload_signal) {
			/* Connections stay up; each worker finishes its job
			 * and the next one starts with the rules as they are
			 * now. */
			char rerr[512], v[600];

			reload_signal = 0;
			log_event(LOG_INFO, "reload", "rules=%s",
				  the_rules_dir);
			/* A broken file keeps its last good version; if the
			 * directory cannot be read at all, every file does. */
			if (activerules_reload(node->rules, rerr,
					       sizeof(rerr)) != 0)
				log_event(LOG_ERROR, "reload_failed",
					  "reason=%s",
					  log_value(rerr, v, sizeof(v)));
			else
				analysis_reload(node->analysis);
		}
		log_flush();
	}
	if (lp->api->id == 0)
		log_event(LOG_INFO, "draining", "signal=%d", (int)stop_signal);
	if (lp->lsock != NULL) {
		h2o_socket_read_stop(lp->lsock);
		h2o_socket_close(lp->lsock);
	}
	edge_shutdown(lp->edge);
	/* Long-polls would hold their connections past the drain. */
	api_release_waiters(node);
	for (time_t t0 = time(NULL); time(NULL) - t0 < NODE_DRAIN_SECONDS;) {
		if (edge_conns(lp->edge) == 0)
			break;
		h2o_evloop_run(lp->ctx.loop, 100);
		api_tick(node);
		log_flush();
	}
	/* Connections handed over after the drain began are closed. */
	take_handoffs(lp, true);
	h2o_socket_read_stop(lp->nsock);
	h2o_socket_close(lp->nsock);
	/* One more turn, so that h2o closes what it was told to. */
	h2o_evloop_run(lp->ctx.loop, 0);
	log_hold(0);
	return NULL;
}

/* Every connection takes a descriptor: the soft limit goes up to the
 * hard one (Debian's soft limit is 1,024), and if max_connections still
 * does not fit, the log says so. Beyond the limit, loop 0 pauses
 * accepting (on_accept) instead of failing. */
static void
raise_fd_limit(size_t conns)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* The stores, the samples, the workers' pipes and the loops'. */
	if (rl.rlim_cur != RLIM_INFINITY && conns + 256 > rl.rlim_cur)
		log_event(LOG_WARN, "fd_limit",
			  "limit=%llu max_connections=%zu reason=\"fewer "
			  "descriptors than connections allowed; accepting "
			  "pauses when they run out\"",
			  (unsigned long long)rl.rlim_cur, conns);
}

/* vigil-worker lives beside vigild (or where $VIGIL_WORKER says). */
static int
worker_path(char *buf, size_t len)
{
	const char *env = getenv("VIGIL_WORKER");
	ssize_t n;
	char *slash;

	if (env != NULL && *env != '\0')
		return snprintf(buf, len, "%s", env) < (int)len ? 0 : -1;
	n = readlink("/proc/self/exe", buf, len - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')) == NULL)
		return -1;
	*slash = '\0';
	if (strlen(buf) + sizeof("/vigil-worker") > len)
		return -1;
	strcat(buf, "/vigil-worker");
	return 0;
}

/* The committer's rate, for the analysis slots (analysis_config). */
static uint64_t
node_ingest_rate(void *ud)
{
	struct node *node = ud;
	struct ingest *g = __atomic_load_n(&node->ingest, __ATOMIC_ACQUIRE);

	return g == NULL ? 0 : ingest_rate(g);
}

/* Whether submissions wait for the committer (analysis_config). */
static bool
node_ingest_backlog(void *ud)
{
	struct node *node = ud;
	struct ingest *g = __atomic_load_n(&node->ingest, __ATOMIC_ACQUIRE);

	return g != NULL && ingest_backlog(g);
}

static int
make_dir(const char *path)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"data", required_argument, NULL, 'd'},
		{"region", required_argument, NULL, 'r'},
		{"site", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *conf_path = NULL, *listen = NULL, *data = NULL;
	const char *region = NULL, *site = NULL;
	static h2o_globalconf_t gconf;
	struct samples *samples = NULL;
	/* The committers' sample writers: samples, and on PostgreSQL one
	 * handle more per committer (a writer is one thread's). */
	struct samples *writers[INGEST_MAX_COMMITTERS] = {NULL};
	unsigned ncommitters = 1;
	struct samples_keysrc keysrc;
	struct nodelog_recorded rec;
	struct keyholder *kh = NULL;
	struct ingest *ingest = NULL;
	struct analysis_config acfg;
	struct workerproc_policy policy = {0};
	struct retrohunt_config rcfg;
	char wpath[1024], tmproot[1200];
	h2o_hostconf_t *host;
	char err[1024], bound[128];
	struct loop *loops;
	int nfds[NODE_MAX_LOOPS];
	struct sigaction sa;
	int c, lfd, rc;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': conf_path = optarg; break;
		case 'l': listen = optarg; break;
		case 'd': data = optarg; break;
		case 'r': region = optarg; break;
		case 's': site = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("vigild %s\n", VIGIL_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	config_default(&the_node.cfg);
	if (conf_path != NULL &&
	    config_load(&the_node.cfg, conf_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigild: %s\n", err);
		return 2;
	}
	if (listen != NULL && config_set_listen(&the_node.cfg, listen) != 0) {
		fprintf(stderr, "vigild: --listen takes HOST:PORT\n");
		return 2;
	}
	if ((data &&
	     snprintf(the_node.cfg.data_dir, sizeof(the_node.cfg.data_dir),
		      "%s", data) >= (int)sizeof(the_node.cfg.data_dir)) ||
	    (region &&
	     snprintf(the_node.cfg.region, sizeof(the_node.cfg.region), "%s",
		      region) >= (int)sizeof(the_node.cfg.region)) ||
	    (site && snprintf(the_node.cfg.site, sizeof(the_node.cfg.site),
			      "%s", site) >= (int)sizeof(the_node.cfg.site))) {
		fprintf(stderr, "vigild: an argument is too long\n");
		return 2;
	}
	if (config_check(&the_node.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigild: %s\n", err);
		return 2;
	}
	/* glibc gives the free top of a heap back to the kernel once it
	 * passes 128 KiB: the committer frees a batch's bodies and SQLite's
	 * savepoint memory every few milliseconds, and every trim was
	 * followed by page faults to take the memory back (about 6% of the
	 * submission rate, docs/BENCHMARKS.md). Freed memory stays in the
	 * process now, up to 32 MiB a heap. Setting this turns off glibc's
	 * own rise of the size above which a block is mapped on its own, so
	 * that size is set too: a lookup's answer (up to about 4 MiB) comes
	 * from the heap, not from a new mapping each time. */
	(void)mallopt(M_TRIM_THRESHOLD, 32 << 20);
	(void)mallopt(M_MMAP_THRESHOLD, 8 << 20);
	if (sodium_init() < 0)
		fatal("libsodium failed to initialise");
	if (make_dir(the_node.cfg.data_dir) != 0) {
		fprintf(stderr, "vigild: %s: %s\n", the_node.cfg.data_dir,
			strerror(errno));
		return 2;
	}
	/* The key holder first, before any store or request is opened: the
	 * keys live in it, never in this process (keyholder.h). */
	if (nodelog_recorded(&the_node.cfg, &rec, err, sizeof(err)) != 0 ||
	    keyholder_start(&the_node.cfg, rec.origin,
			    rec.log_key[0] ? rec.log_key : NULL, &kh, err,
			    sizeof(err)) != 0) {
		fprintf(stderr, "vigild: keys: %s\n", err);
		return 2;
	}
	keyholder_watch(kh);
	store_spec_of(&the_node.cfg, &the_node.spec);
	if (store_open(&the_node.spec, &the_node.store, err, sizeof(err)) !=
	    0) {
		fprintf(stderr, "vigild: store: %s\n", err);
		return 2;
	}
	keyholder_samples_keysrc(kh, &keysrc);
	if (the_node.spec.backend == STORE_POSTGRES)
		rc = samples_open_pg(the_node.spec.dsn, &keysrc, &samples, err,
				     sizeof(err));
	else {
		char sdir[1200];

		snprintf(sdir, sizeof(sdir), "%s/samples",
			 the_node.cfg.data_dir);
		rc = samples_open_keysrc(sdir, &keysrc, &samples, err,
					 sizeof(err));
	}
	writers[0] = samples;
	if (rc == 0 && the_node.spec.backend == STORE_POSTGRES) {
		for (; rc == 0 && ncommitters < INGEST_PG_COMMITTERS;
		     ncommitters++)
			rc = samples_open_pg(the_node.spec.dsn, &keysrc,
					     &writers[ncommitters], err,
					     sizeof(err));
	}
	if (rc != 0) {
		fprintf(stderr, "vigild: samples: %s\n", err);
		return 2;
	}
	/* Before the index is read: whatever another node of the region
	 * commits meanwhile is applied once the feed runs. */
	if (the_node.spec.backend == STORE_POSTGRES &&
	    regionfeed_open(&the_node, &the_node.feed, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigild: change feed: %s\n", err);
		return 2;
	}
	the_node.samples = samples;
	/* vigild only hashes submissions; the engine runs in the workers. */
	if (digest_global_init() != 0)
		fatal("cannot initialise the digests");
	the_node.index = index_new();
	if (api_load_index(&the_node) != 0) {
		fprintf(stderr, "vigild: cannot read the reputation store\n");
		return 2;
	}
	the_node.started = (int64_t)time(NULL);
	{
		/* Writers first: lookups from every loop would otherwise
		 * keep the lock read-held and starve the index's updates. */
		pthread_rwlockattr_t ra;

		pthread_rwlockattr_init(&ra);
		pthread_rwlockattr_setkind_np(
			&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		if (pthread_rwlock_init(&the_node.index_lock, &ra) != 0)
			fatal("cannot initialise the index lock");
		pthread_rwlockattr_destroy(&ra);
	}
	if (the_node.feed != NULL && regionfeed_run(the_node.feed) != 0)
		fatal("cannot start the change feed");

	/* Erasures a crash left between their commit and the bytes. */
	me_erase_pending(&the_node, the_node.store);
	/* Analysis: jobs a crash left half-done go back to the queue. */
	if (the_node.store->ops->job_requeue_stale(the_node.store) != 0)
		log_event(LOG_WARN, "requeue_failed", "err=\"%s\"",
			  the_node.store->err);
	the_node.n_loops = the_node.cfg.loops
				   ? the_node.cfg.loops
				   : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (the_node.n_loops < 1)
		the_node.n_loops = 1;
	if (the_node.n_loops > NODE_MAX_LOOPS)
		the_node.n_loops = NODE_MAX_LOOPS;
	loops = xcalloc(the_node.n_loops, sizeof(*loops));
	the_node.loops = xcalloc(the_node.n_loops, sizeof(*the_node.loops));
	for (unsigned k = 0; k < the_node.n_loops; k++) {
		struct api_loop *al = &the_node.loops[k];

		if (pipe2(loops[k].notify, O_NONBLOCK | O_CLOEXEC) != 0)
			fatal("cannot create a notify pipe");
		nfds[k] = loops[k].notify[1];
		al->id = k;
		al->notify_fd = loops[k].notify[1];
		if ((al->digest = digest_new()) == NULL)
			fatal("out of memory");
		pthread_mutex_init(&al->mu, NULL);
		/* Loop 0 takes over the main thread's handle. */
		if (k == 0)
			al->store = the_node.store;
		else if (store_open(&the_node.spec, &al->store, err,
				      sizeof(err)) != 0) {
			fprintf(stderr, "vigild: %s\n", err);
			return 2;
		}
	}
	if (worker_path(wpath, sizeof(wpath)) != 0)
		fatal("cannot set up analysis");
	snprintf(tmproot, sizeof(tmproot), "%s/tmp", the_node.cfg.data_dir);
	memset(&acfg, 0, sizeof(acfg));
	acfg.store = &the_node.spec;
	acfg.samples = samples;
	acfg.worker_path = wpath;
	/* The configured rules, else the default ones; the workers load the
	 * active copy of them (activerules.h), never these directly. */
	if (the_node.cfg.rules_dir[0] != '\0')
		the_rules_dir = the_node.cfg.rules_dir;
	else if (getenv("VIGIL_RULES_DIR") && *getenv("VIGIL_RULES_DIR"))
		the_rules_dir = getenv("VIGIL_RULES_DIR");
	else
		the_rules_dir = VIGIL_DEFAULT_RULES_DIR;
	if (activerules_open(the_rules_dir, the_node.cfg.data_dir,
			     &the_node.rules, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigild: rules: %s\n", err);
		return 2;
	}
	acfg.rules = the_node.rules;
	acfg.rules_dir = activerules_dir(the_node.rules);
	acfg.tmp_root = tmproot;
	acfg.slots = the_node.cfg.workers
			     ? the_node.cfg.workers
			     : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	acfg.max_scan_ms = the_node.cfg.max_scan_ms;
	acfg.notify_fd = loops[0].notify[1];
	acfg.ingest_rate = node_ingest_rate;
	acfg.ingest_backlog = node_ingest_backlog;
	acfg.ingest_ud = &the_node;
	acfg.yield_rate = the_node.cfg.analysis_yield_rate;
	/* Who the workers run as, and whether they may run at all here
	 * (workerproc.h), before the first one starts. */
	policy.allow_without_landlock = the_node.cfg.allow_without_landlock;
	policy.test_no_landlock =
		getenv("VIGIL_TEST_NO_LANDLOCK") != NULL &&
		strcmp(getenv("VIGIL_TEST_NO_LANDLOCK"), "1") == 0;
	if (workerproc_setup(&policy, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigild: workers: %s\n", err);
		return 2;
	}
	if (analysis_start(&acfg, &the_node.analysis, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigild: analysis: %s\n", err);
		return 2;
	}
	memset(&rcfg, 0, sizeof(rcfg));
	rcfg.store = &the_node.spec;
	rcfg.samples = samples;
	rcfg.worker_path = wpath;
	rcfg.tmp_root = tmproot;
	rcfg.workers = acfg.slots;
	rcfg.max_scan_ms = acfg.max_scan_ms;
	if (retrohunt_open(&rcfg, &the_node.retrohunt, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigild: retro-hunt: %s\n", err);
		return 2;
	}
	if (ingest_start(&the_node.spec, writers, ncommitters, nfds,
			 the_node.n_loops, &ingest, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigild: %s\n", err);
		return 2;
	}
	/* The analysis slots already run and read it (node_ingest_rate). */
	__atomic_store_n(&the_node.ingest, ingest, __ATOMIC_RELEASE);
	if (nodelog_open(&the_node.cfg, kh, nfds, the_node.n_loops,
			 &the_node.log, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigild: transparency log: %s\n", err);
		return 2;
	}
	if (releases_open(&the_node.cfg, kh, &the_node.releases, err,
			  sizeof(err)) != 0) {
		fprintf(stderr, "vigild: releases: %s\n", err);
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatal("libcurl failed to initialise");
	if (witnessing_start(&the_node.cfg, the_node.log, &the_node.witnessing,
			     err, sizeof(err)) != 0) {
		fprintf(stderr, "vigild: %s\n", err);
		return 2;
	}

	/* After the log: a pass that deleted something appends its entry. */
	if (retention_start(&the_node, &the_node.retention, err, sizeof(err)) !=
	    0) {
		fprintf(stderr, "vigild: retention: %s\n", err);
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	h2o_config_init(&gconf);
	gconf.server_name = h2o_iovec_init(H2O_STRLIT("vigild"));
	/* Requests are read by the edge (edge.c), which holds bodies in
	 * memory only; no socket buffer of h2o's ever goes to a file. */
	h2o_socket_buffer_mmap_settings.threshold = SIZE_MAX;
	host = h2o_config_register_host(
		&gconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	api_register(&the_node, host);
	if ((lfd = listen_on(&the_node.cfg, bound, sizeof(bound))) < 0)
		return 2;
	/* Loop 0 accepts for all (on_accept). SO_REUSEPORT, one socket per
	 * loop, would let another process of the same user share the port
	 * without an error. */
	the_loops = loops;
	for (unsigned k = 0; k < the_node.n_loops; k++) {
		loops[k].api = &the_node.loops[k];
		loops[k].gconf = &gconf;
		loops[k].lfd = k == 0 ? lfd : -1;
		pthread_mutex_init(&loops[k].mu, NULL);
	}
	log_event(LOG_INFO, "listening",
		  "addr=%s region=%s site=%s data=%s samples=%zu loops=%u",
		  bound, the_node.cfg.region, the_node.cfg.site,
		  the_node.cfg.data_dir, index_count(the_node.index),
		  the_node.n_loops);
	log_event(LOG_INFO, "log", "origin=%s size=%llu key=%s",
		  nodelog_origin(the_node.log),
		  (unsigned long long)tlog_log_size(nodelog_log(the_node.log)),
		  nodelog_verifier(the_node.log));
	log_event(LOG_INFO, "release_online_key", "keyid=%s",
		  releases_online_key_id(the_node.releases));
	printf("vigild listening on http://%s (region %s, site %s)\n", bound,
	       the_node.cfg.region, the_node.cfg.site);
	printf("transparency log %s, verifier key:\n  %s\n",
	       nodelog_origin(the_node.log), nodelog_verifier(the_node.log));
	printf("release online key (snapshot, timestamp): %s\n",
	       releases_online_key_id(the_node.releases));
	printf("try: build/vigil enroll --server http://%s --consent files\n"
	       "     curl -s http://%s/healthz\n",
	       bound, bound);
	fflush(stdout);

	max_conns = the_node.cfg.max_connections;
	raise_fd_limit(max_conns);
	for (unsigned k = 1; k < the_node.n_loops; k++)
		if (pthread_create(&loops[k].thread, NULL, loop_main,
				   &loops[k]) != 0)
			fatal("cannot start an event loop thread");
	loop_main(&loops[0]);
	for (unsigned k = 1; k < the_node.n_loops; k++)
		pthread_join(loops[k].thread, NULL);

	retention_stop(the_node.retention);
	the_node.retention = NULL;
	witnessing_stop(the_node.witnessing);
	the_node.witnessing = NULL;
	/* Entries still queued are appended; nobody is left to answer. */
	nodelog_close(the_node.log);
	the_node.log = NULL;
	releases_close(the_node.releases);
	the_node.releases = NULL;
	/* Submissions still queued are stored; nobody is left to answer. */
	ingest_stop(the_node.ingest);
	the_node.ingest = NULL;
	retrohunt_close(the_node.retrohunt);
	the_node.retrohunt = NULL;
	/* In-flight analyses finish (or hit their deadline) before exit. */
	analysis_stop(the_node.analysis);
	the_node.analysis = NULL;
	activerules_free(the_node.rules);
	the_node.rules = NULL;
	regionfeed_close(the_node.feed);
	the_node.feed = NULL;
	for (unsigned k = 0; k < the_node.n_loops; k++) {
		struct api_loop *al = &the_node.loops[k];

		close(loops[k].notify[1]);
		al->store->ops->close(al->store);
		digest_free(al->digest);
		free(al->inbox);
		pthread_mutex_destroy(&al->mu);
		pthread_mutex_destroy(&loops[k].mu);
	}
	for (unsigned i = 1; i < ncommitters; i++)
		samples_close(writers[i]);
	samples_close(samples);
	/* Watched: it exits with this process. */
	keyholder_stop(kh);
	index_free(the_node.index);
	log_event(LOG_INFO, "stopped", "connections=%llu",
		  (unsigned long long)conns_accepted);
	return 0;
}
