/*
 * vigild.c - the regional node: parses arguments and configuration, opens
 * the stores, and runs the HTTP API on an h2o event loop until SIGTERM.
 *
 *   vigild [-c FILE] [--listen ADDR:PORT] [--data DIR] [--region R] [--site S]
 *
 * SIGTERM and SIGINT stop accepting connections, let the requests in
 * flight finish (for at most NODE_DRAIN_SECONDS), and exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "engine/digest.h"
#include "node/analysis.h"
#include "node/api.h"
#include "node/config.h"
#include "node/node.h"
#include "store/samples.h"
#include "store/store.h"

#define NODE_DRAIN_SECONDS 10

static volatile sig_atomic_t stop_signal, reload_signal;
static uint64_t the_metrics_refused;

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
	struct addrinfo hints = {0}, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char port[8], host[INET6_ADDRSTRLEN];
	int fd = -1, one = 1, rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", c->listen_port);
	if ((rc = getaddrinfo(c->listen_host, port, &hints, &ai)) != 0) {
		log_event(LOG_ERROR, "listen_failed", "host=%s reason=\"%s\"",
			  c->listen_host, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, SOMAXCONN) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		log_event(LOG_ERROR, "listen_failed",
			  "addr=%s:%s reason=\"%s\"", c->listen_host, port,
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(bound, boundlen, "[%s]:%u", host,
			 ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(bound, boundlen, "%s:%u", host, ntohs(s4->sin_port));
	}
	return fd;
}

static h2o_accept_ctx_t accept_ctx;
static size_t n_conns_accepted, n_conns_open, max_conns;

static void
on_conn_close(void *data)
{
	(void)data;
	n_conns_open--;
}

/* Beyond max_connections a new connection is closed at once: the node
 * keeps serving the ones it has rather than degrading all of them. */
static void
on_accept(h2o_socket_t *listener, const char *status)
{
	h2o_socket_t *sock;

	if (status != NULL)
		return;
	if ((sock = h2o_evloop_socket_accept(listener)) == NULL)
		return;
	n_conns_accepted++;
	if (n_conns_open >= max_conns) {
		the_metrics_refused++;
		h2o_socket_close(sock);
		return;
	}
	n_conns_open++;
	sock->on_close.cb = on_conn_close;
	sock->on_close.data = NULL;
	h2o_accept(&accept_ctx, sock);
}

/* The notify pipe: submissions are stored, or analysis results ready. */
static struct node *the_node;

static void
on_notify(h2o_socket_t *sock, const char *err)
{
	if (err != NULL)
		return;
	h2o_buffer_consume(&sock->input, sock->input->size);
	api_on_ingest_done(the_node);
	api_on_analysis_done(the_node);
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
	static h2o_context_t ctx;
	static struct node node;
	struct samples *samples = NULL;
	struct analysis_config acfg;
	char wpath[1024], tmproot[1200], dbpath[1200];
	int notify[2];
	h2o_socket_t *nsock;
	h2o_hostconf_t *host;
	h2o_socket_t *lsock;
	char err[1024], path[1200], bound[128];
	struct sigaction sa;
	int c, fd;

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
	config_default(&node.cfg);
	if (conf_path != NULL &&
	    config_load(&node.cfg, conf_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigild: %s\n", err);
		return 2;
	}
	if (listen != NULL && config_set_listen(&node.cfg, listen) != 0) {
		fprintf(stderr, "vigild: --listen takes HOST:PORT\n");
		return 2;
	}
	if ((data && snprintf(node.cfg.data_dir, sizeof(node.cfg.data_dir),
			      "%s", data) >= (int)sizeof(node.cfg.data_dir)) ||
	    (region && snprintf(node.cfg.region, sizeof(node.cfg.region), "%s",
				region) >= (int)sizeof(node.cfg.region)) ||
	    (site && snprintf(node.cfg.site, sizeof(node.cfg.site), "%s",
			      site) >= (int)sizeof(node.cfg.site))) {
		fprintf(stderr, "vigild: an argument is too long\n");
		return 2;
	}
	if (config_check(&node.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigild: %s\n", err);
		return 2;
	}
	if (sodium_init() < 0)
		fatal("libsodium failed to initialise");
	if (make_dir(node.cfg.data_dir) != 0) {
		fprintf(stderr, "vigild: %s: %s\n", node.cfg.data_dir,
			strerror(errno));
		return 2;
	}
	snprintf(path, sizeof(path), "%s/vigil.db", node.cfg.data_dir);
	if (store_sqlite_open(path, &node.store, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigild: %s\n", err);
		return 2;
	}
	{
		char sdir[1200], key[1200];

		snprintf(sdir, sizeof(sdir), "%s/samples", node.cfg.data_dir);
		snprintf(key, sizeof(key), "%s/sample.key", node.cfg.data_dir);
		if (samples_open(sdir, key, &samples, err, sizeof(err)) != 0) {
			fprintf(stderr, "vigild: %s\n", err);
			return 2;
		}
	}
	node.samples = samples;
	/* vigild only hashes submissions; the engine runs in the workers. */
	if (digest_global_init() != 0)
		fatal("cannot initialise the digests");
	node.index = index_new();
	if (api_load_index(&node) != 0) {
		fprintf(stderr, "vigild: cannot read the reputation store\n");
		return 2;
	}
	node.started = (int64_t)time(NULL);
	the_node = &node;

	/* Analysis: jobs a crash left half-done go back to the queue. */
	if (node.store->ops->job_requeue_stale(node.store) != 0)
		log_event(LOG_WARN, "requeue_failed", "err=\"%s\"",
			  node.store->err);
	if (pipe2(notify, O_NONBLOCK | O_CLOEXEC) != 0 ||
	    worker_path(wpath, sizeof(wpath)) != 0)
		fatal("cannot set up analysis");
	snprintf(tmproot, sizeof(tmproot), "%s/tmp", node.cfg.data_dir);
	memcpy(dbpath, path, sizeof(dbpath));
	memset(&acfg, 0, sizeof(acfg));
	acfg.db_path = dbpath;
	acfg.samples = samples;
	acfg.worker_path = wpath;
	/* The workers get the configured rules, else the default ones. */
	if (node.cfg.rules_dir[0] != '\0')
		acfg.rules_dir = node.cfg.rules_dir;
	else if (getenv("VIGIL_RULES_DIR") && *getenv("VIGIL_RULES_DIR"))
		acfg.rules_dir = getenv("VIGIL_RULES_DIR");
	else
		acfg.rules_dir = VIGIL_DEFAULT_RULES_DIR;
	acfg.tmp_root = tmproot;
	acfg.slots = node.cfg.workers ? node.cfg.workers
				      : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	acfg.max_scan_ms = node.cfg.max_scan_ms;
	acfg.notify_fd = notify[1];
	if (analysis_start(&acfg, &node.analysis, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigild: analysis: %s\n", err);
		return 2;
	}
	if (ingest_start(dbpath, samples, notify[1], &node.ingest, err,
			 sizeof(err)) != 0) {
		fprintf(stderr, "vigild: %s\n", err);
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	h2o_config_init(&gconf);
	gconf.max_request_entity_size =
		node.cfg.max_sample_body > node.cfg.max_json_body
			? node.cfg.max_sample_body
			: node.cfg.max_json_body;
	gconf.http1.req_timeout = node.cfg.request_timeout_ms;
	host = h2o_config_register_host(
		&gconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	api_register(&node, host);
	h2o_context_init(&ctx, h2o_evloop_create(), &gconf);
	accept_ctx.ctx = &ctx;
	accept_ctx.hosts = gconf.hosts;
	if ((fd = listen_on(&node.cfg, bound, sizeof(bound))) < 0)
		return 2;
	lsock = h2o_evloop_socket_create(ctx.loop, fd,
					 H2O_SOCKET_FLAG_DONT_READ);
	h2o_socket_read_start(lsock, on_accept);
	nsock = h2o_evloop_socket_create(ctx.loop, notify[0], 0);
	h2o_socket_read_start(nsock, on_notify);
	log_event(LOG_INFO, "listening",
		  "addr=%s region=%s site=%s data=%s samples=%zu", bound,
		  node.cfg.region, node.cfg.site, node.cfg.data_dir,
		  index_count(node.index));
	printf("vigild listening on http://%s (region %s, site %s)\n", bound,
	       node.cfg.region, node.cfg.site);
	printf("try: build/vigil enroll --server http://%s --consent files\n"
	       "     curl -s http://%s/healthz\n",
	       bound, bound);
	fflush(stdout);

	max_conns = node.cfg.max_connections;
	while (!stop_signal) {
		h2o_evloop_run(ctx.loop, 100);
		api_tick(&node);
		node.metrics.connections_open = n_conns_open;
		node.metrics.connections_refused = the_metrics_refused;
		if (reload_signal) {
			/* Connections stay up; each worker finishes its job and
			 * the next one starts with the rules as they are now.
			 */
			reload_signal = 0;
			log_event(LOG_INFO, "reload", "rules=%s",
				  acfg.rules_dir);
			analysis_reload(node.analysis);
		}
	}

	/* Drain: no new connections; let those open finish their requests. */
	log_event(LOG_INFO, "draining", "signal=%d", (int)stop_signal);
	h2o_socket_read_stop(lsock);
	h2o_socket_close(lsock);
	h2o_context_request_shutdown(&ctx);
	/* Long-polls would hold their connections past the drain. */
	api_release_waiters(&node);
	for (time_t t0 = time(NULL); time(NULL) - t0 < NODE_DRAIN_SECONDS;) {
		if (h2o_linklist_is_empty(&ctx.http1._conns) &&
		    h2o_linklist_is_empty(&ctx.http2._conns))
			break;
		h2o_evloop_run(ctx.loop, 100);
		api_tick(&node);
	}
	/* Submissions still queued are stored; nobody is left to answer. */
	ingest_stop(node.ingest);
	node.ingest = NULL;
	/* In-flight analyses finish (or hit their deadline) before exit. */
	analysis_stop(node.analysis);
	node.analysis = NULL;
	h2o_socket_read_stop(nsock);
	h2o_socket_close(nsock);
	close(notify[1]);
	node.store->ops->close(node.store);
	samples_close(samples);
	index_free(node.index);
	log_event(LOG_INFO, "stopped", "connections=%zu", n_conns_accepted);
	return 0;
}
