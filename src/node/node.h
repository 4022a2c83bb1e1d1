/*
 * node.h - the state of one vigild process and the pieces that share it.
 *
 * One event loop thread (h2o) serves the HTTP API (api.c). The lookup hot
 * path answers from an in-memory index of reputation (index.c), never from
 * the disk; the store (src/store) holds clients and reputation durably.
 * Submissions are stored by a committer thread in batches (ingest.c) and
 * analysed by one supervisor thread per sandboxed worker (analysis.c).
 */
#ifndef VIGIL_NODE_NODE_H
#define VIGIL_NODE_NODE_H

#include <stdint.h>

#include "node/analysis.h"
#include "node/config.h"
#include "node/index.h"
#include "node/ingest.h"
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
	ROUTE_OTHER,
	ROUTE_COUNT,
};

#define METRICS_STATUS_MAX      600
#define METRICS_LATENCY_BUCKETS 12

struct metrics {
	uint64_t requests[ROUTE_COUNT][METRICS_STATUS_MAX];
	/* lookup latency, cumulative buckets of docs/API.md, in seconds */
	uint64_t lookup_latency[METRICS_LATENCY_BUCKETS];
	uint64_t lookup_count;
	double lookup_seconds;
	uint64_t lookup_hashes;
	uint64_t rate_limited;
	uint64_t connections_open, connections_refused;
};

struct node {
	struct node_config cfg;
	struct store *store;
	struct samples *samples;
	struct analysis *analysis; /* NULL when analysis is off */
	struct ingest *ingest;     /* group commit of submissions */
	struct lookup_index *index;
	struct metrics metrics;
	int64_t started;
};

/* Returns the route's name in metrics ("enroll", "files", ...). */
const char *route_name(enum route r);

#endif
