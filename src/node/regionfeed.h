/*
 * regionfeed.h - a node's lookup index kept current with what every node
 * of its region commits to the shared PostgreSQL store.
 *
 * Each node answers lookups from its own index in memory (index.h). On
 * SQLite it is the only writer and updates the index itself. On
 * PostgreSQL the region's other nodes write too: their submissions,
 * analyses and retractions reach this node through the store's change
 * feed (store/pgfeed.h), and each changed sample is read again from the
 * store and put into the index, under the index's lock for writing. So
 * a change committed anywhere in the region is answered here within the
 * notification's trip and one read (milliseconds; tested at 1 s, the
 * bound docs/OPERATING.md states) while the feed's session lives. After
 * a lost session (the primary failed over), every row is read again.
 * Lookups go on from the index meanwhile; /healthz says degraded, and
 * why, until the feed listens again.
 *
 * The node's own changes are in its index already (as on SQLite); the
 * feed passes over what its own store sessions notify. One that slips
 * through (a session opened since the feed last looked) is put twice,
 * which is harmless (index_put keeps the newest state).
 */
#ifndef VIGIL_NODE_REGIONFEED_H
#define VIGIL_NODE_REGIONFEED_H

#include <stdbool.h>
#include <stddef.h>

struct node;
struct regionfeed;

/* Opens the feed and the store handle it reads rows with. Call before the
 * index is loaded (api_load_index), then regionfeed_run(). Returns 0 or a
 * VG_E* code with a message in err. */
int regionfeed_open(struct node *node, struct regionfeed **out, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

/* Starts applying changes. Returns 0 or VG_ELIB. */
int regionfeed_run(struct regionfeed *rf);

/* True while changes arrive; false with the reason in why otherwise. */
bool regionfeed_healthy(struct regionfeed *rf, char *why, size_t len);

/* Changes applied, full re-reads done, and notifications passed over
 * because the node's own sessions sent them (for metrics). */
void regionfeed_counts(struct regionfeed *rf, unsigned long long *applied,
		       unsigned long long *resyncs, unsigned long long *own);

/* Stops it; accepts NULL. */
void regionfeed_close(struct regionfeed *rf);

#endif
