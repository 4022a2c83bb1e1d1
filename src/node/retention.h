/*
 * retention.h - the retention sweep (docs/PRIVACY.md, "How long"): a
 * thread of vigild that deletes what the region keeps no longer, at
 * start and every RETENTION_INTERVAL_S seconds after.
 *
 * A pass cuts at now - [retention] sample_days for samples' bytes and
 * now - metadata_days for submissions, and works in batches of
 * RETENTION_BATCH (store.h, retention_sweep: one transaction each), at
 * most RETENTION_PASS_BATCHES of them; what is left waits for the next
 * pass. Each batch's bytes are erased after its commit (samples_erase,
 * then erasure_done), as an erasure's are, and the samples that lost
 * clients are put in the reputation index again. A pass that deleted
 * anything appends one `retention` entry (docs/LOG.md), counts only, to
 * the log through the sequencer, and says so with event=retention_swept.
 * On PostgreSQL one node of the region sweeps at a time; the others'
 * passes find it busy and wait for their next.
 */
#ifndef VIGIL_NODE_RETENTION_H
#define VIGIL_NODE_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "node/node.h"

#define RETENTION_INTERVAL_S   3600
#define RETENTION_BATCH        1000
#define RETENTION_PASS_BATCHES 1000

struct retention_sweeper;

/* What the sweeps deleted since start, for /metrics. */
struct retention_stats {
	uint64_t passes;      /* passes that ran (busy ones too) */
	uint64_t erased;      /* samples whose bytes were erased */
	uint64_t submissions; /* submissions deleted */
	uint64_t unlinked;    /* (sample, client) links deleted */
	uint64_t failures;    /* passes stopped by a store error */
};

/* Opens the sweep's own store handle and starts its thread, which runs a
 * first pass at once. node's log, samples and index must be open, and
 * stay so until retention_stop(). Returns 0 or a VG_E* code with a
 * message in err. */
int retention_start(struct node *node, struct retention_sweeper **out,
		    char *err, size_t errlen);

/* Copies the counters (any thread). */
void retention_stats(struct retention_sweeper *r, struct retention_stats *st);

/* Stops the thread (a pass in progress ends after its batch) and frees
 * r; accepts NULL. */
void retention_stop(struct retention_sweeper *r);

#endif
