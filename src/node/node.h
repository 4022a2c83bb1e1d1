/*
 * node.h - the state of one vigild process and the pieces that share it.
 *
 * One h2o event loop thread per core serves the HTTP API (api.c), each on
 * its own listening socket. The lookup hot path answers from an
 * in-memory index of reputation (index.c), never from the disk; the store
 * (src/store) holds clients and reputation durably.
 * Submissions are stored by a committer thread in batches (ingest.c) and
 * analysed by one supervisor thread per sandboxed worker (analysis.c).
 */
#ifndef VIGIL_NODE_NODE_H
#define VIGIL_NODE_NODE_H

#include <pthread.h>
#include <stdint.h>

#include "node/analysis.h"
#include "node/config.h"
#include "node/index.h"
#include "node/ingest.h"
#include "node/nodelog.h"
#include "node/witnessing.h"
#include "store/samples.h"
#include "store/store.h"

/* API routes, for metrics and limits (docs/API.md). */
enum route {
	ROUTE_HEALTHZ = 0,
	ROUTE_METRICS,
	ROUTE_ENROLL,
	ROUTE_FILES,
	ROUTE_LOOKUP,
	ROUTE_SUBMIT,
	ROUTE_SUBMISSION,
	ROUTE_LOG,
	ROUTE_ADMIN_LOG,
	ROUTE_ADMIN_SAMPLE,
	ROUTE_LOG_PROOF, /* counted as "log" */
	ROUTE_RELEASES,
	ROUTE_ADMIN_RELEASES,
	ROUTE_PORTAL, /* the Transparency Center's pages, /portal/ */
	/* False positives (fp.h): POST /v1/fp, /v1/admin/fp... */
	ROUTE_FP,
	ROUTE_ADMIN_FP,
	ROUTE_ADMIN_RETROHUNT, /* /v1/admin/retrohunt[/{id}] */
	ROUTE_ADMIN_OPERATORS, /* /v1/admin/operators[/{name}] */
	ROUTE_ME,              /* /v1/me[/...]: a client's own data */
	ROUTE_STATS,           /* /v1/stats (stats_api.h) */
	ROUTE_ADMIN_HOLDS,     /* /v1/admin/holds[/{sha256}] */
	ROUTE_OTHER,
	ROUTE_COUNT,
};

#define METRICS_STATUS_MAX      600
#define METRICS_LATENCY_BUCKETS 12

/* One event loop's counters: only its own thread adds to them (with
 * relaxed atomics), /metrics sums every loop's. */
struct metrics {
	uint64_t requests[ROUTE_COUNT][METRICS_STATUS_MAX];
	/* lookup latency, cumulative buckets of docs/API.md, in seconds */
	uint64_t lookup_latency[METRICS_LATENCY_BUCKETS];
	uint64_t lookup_count;
	uint64_t lookup_ns;
	uint64_t lookup_hashes;
	uint64_t rate_limited;
	uint64_t admin_denied; /* operator's routes refused (401, 403) */
};

struct waiter;
struct releases;
struct activerules;
struct retrohunt;
struct regionfeed;

/* One HTTP event loop thread's share of the API's state (api.c). */
struct digest;

struct api_loop {
	unsigned id;           /* 0: the loop that takes analysis results */
	struct store *store;   /* its own handle */
	struct digest *digest; /* hashes submissions before they queue */
	struct metrics metrics;
	int notify_fd; /* write end of its notify pipe */
	/* Its open connections, counting those handed to it and not yet
	 * taken: loop 0 gives a new one to the loop with the fewest. */
	uint64_t conns;
	struct waiter *waiters; /* its long-polls */
	/* Analyses finished, for its long-polls; loop 0 fills it. */
	pthread_mutex_t mu;
	char (*inbox)[65];
	size_t inbox_n, inbox_cap;
};

struct node {
	struct node_config cfg;
	struct store_spec spec; /* where the store is (cfg's [store]) */
	struct store *store; /* the main thread's, at start; loop 0's then */
	struct samples *samples;
	struct analysis *analysis; /* NULL when analysis is off */
	struct activerules *rules; /* what the workers load; activerules.h */
	struct ingest *ingest;     /* group commit of submissions */
	struct nodelog *log;       /* the transparency log and its sequencer */
	struct witnessing
		*witnessing;         /* cosignatures; NULL without witnesses */
	struct releases *releases;   /* signed releases (releases.c) */
	struct retrohunt *retrohunt; /* ad-hoc retro-hunts (retrohunt.c) */
	/* The retention sweep (retention.h); NULL before it starts. */
	struct retention_sweeper *retention;
	/* On PostgreSQL: what the region's other nodes change, into the
	 * index (regionfeed.h); NULL on SQLite. */
	struct regionfeed *feed;
	/* The reputation index: read by every loop, written under the lock
	 * for writing when a submission or an analysis changes a sample. */
	struct lookup_index *index;
	pthread_rwlock_t index_lock;
	struct api_loop *loops;
	unsigned n_loops;
	/* Connections, over every loop. */
	uint64_t conns_open, conns_refused;
	int64_t started;
};

/* Returns the route's name in metrics ("enroll", "files", ...). */
const char *route_name(enum route r);

#endif
