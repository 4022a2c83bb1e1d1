/*
 * retrohunt.h - ad-hoc retro-hunts: an operator's YARA rule run over
 * every stored sample, in the region, by sandboxed workers
 * (docs/API.md, "Retro-hunt").
 *
 *   POST /v1/admin/retrohunt        the rule's text as the body, with the
 *                                   operator token and X-Vigil-Reason
 *                                   (X-Vigil-Role, X-Vigil-Who as for
 *                                   sample access): 202 and the hunt's id
 *                                   once its `retrohunt` log entry is
 *                                   durable; then the hunt starts.
 *   GET /v1/admin/retrohunt/{id}    its progress and the SHA-256s of the
 *                                   samples matched so far (?from=N pages
 *                                   through them).
 *
 * One hunt runs at a time (409 for another). Hunts live in memory: a
 * restart ends a running hunt (its log entry stays) and forgets the
 * finished ones.
 */
#ifndef VIGIL_NODE_RETROHUNT_H
#define VIGIL_NODE_RETROHUNT_H

#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "node/node.h"
#include "store/samples.h"

/* Largest rule text, in bytes: a larger body is refused with 413. */
#define RETROHUNT_MAX_RULE (256 * 1024)
/* Hunts remembered for GET; the oldest finished one is forgotten. */
#define RETROHUNT_MAX_HUNTS 16
/* Matches kept per hunt; beyond, the hunt says it was truncated. */
#define RETROHUNT_MAX_MATCHES 1000000
/* Matches in one GET answer (?from=N for the next ones). */
#define RETROHUNT_PAGE 10000
/* Workers of one hunt, at most. */
#define RETROHUNT_MAX_WORKERS 16

struct retrohunt;

struct retrohunt_config {
	/* The store; the hunt opens its own handle (copied). */
	const struct store_spec *store;
	struct samples *samples; /* shared, read-only */
	const char *worker_path; /* vigil-worker, run with --hunt */
	const char *tmp_root;    /* hunt-K folders go below */
	unsigned workers;        /* 1..RETROHUNT_MAX_WORKERS */
	uint32_t max_scan_ms;    /* per sample, as for analyses */
};

/* Sets up the hunts' state (no thread, no worker yet). Returns 0 and
 * *out, or a VG_E* code with err set. */
int retrohunt_open(const struct retrohunt_config *cfg, struct retrohunt **out,
		   char *err, size_t errlen);

/* Stops a running hunt (its workers finish their sample), waits for it
 * and frees everything. NULL is accepted. */
void retrohunt_close(struct retrohunt *rh);

/*
 * Handles a request whose path (p, n bytes, normalised) begins with
 * /v1/admin/retrohunt, on event loop l of node; answers under
 * ROUTE_ADMIN_RETROHUNT. Refuses, with nothing logged, another method
 * (405), a missing or wrong operator token (401), a missing reason or a
 * bad header (400), an empty rule (400), a node without a log (404), a
 * hunt already running (409); a rule over RETROHUNT_MAX_RULE is refused
 * by the router (413). Returns 0 (h2o's convention).
 */
int retrohunt_handle(struct node *node, struct api_loop *l, h2o_req_t *req,
		     const char *p, size_t n);

/* Counters for /metrics: samples hunted through and hunts finished. */
struct retrohunt_stats {
	uint64_t samples, hunts;
};
void retrohunt_stats(struct retrohunt *rh, struct retrohunt_stats *st);

#endif
