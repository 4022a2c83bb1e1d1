/*
 * batcher.h - a thread that does work in batches for the event loops and
 * hands each item back to the loop that gave it (group commit).
 *
 * Loops submit items; the batcher's thread takes everything waiting (up
 * to a count and a byte limit, always at least one item) and calls the
 * batch function with it, outside any lock. Then each item goes to its
 * port's list of finished items (a port per event loop) and the port's
 * notify pipe gets one byte, so that the loop takes its items and
 * answers the requests behind them. The more arrives while a batch is
 * being done, the larger the next one: a lone item waits for no timer.
 *
 * A batcher may have several threads, each with its own context: each
 * takes what waits when it is free, so that a batch can form and start
 * while another one is still waiting for its commit. The node's
 * transparency-log appends (nodelog.c) run on one thread; its submissions
 * (ingest.c) on one, or INGEST_PG_COMMITTERS in a region on PostgreSQL.
 */
#ifndef VIGIL_NODE_BATCHER_H
#define VIGIL_NODE_BATCHER_H

#include <stddef.h>
#include <stdint.h>

/* The head of an item; the caller's struct begins with it. */
struct batch_item {
	struct batch_item *next; /* the batcher's */
	unsigned port;           /* which port gets it back */
	uint64_t bytes;          /* what it weighs against the limits */
};

struct batch_limits {
	size_t max_items;    /* per batch */
	uint64_t max_bytes;  /* per batch (an item over it goes alone) */
	uint64_t max_queued; /* bytes waiting before submit refuses */
};

/* Does one batch: items[0..n), in the order they were submitted. */
typedef void (*batch_fn)(void *ctx, struct batch_item **items, size_t n);

struct batcher;

/* The most threads a batcher runs. */
#define BATCHER_MAX_THREADS 8

/*
 * Starts nthreads threads (1..BATCHER_MAX_THREADS, named name, at most
 * 15 characters); thread i calls fn with ctxs[i]. Finished items of port
 * k are announced on notify_fds[k] (non-blocking). Returns 0 or a VG_E*
 * code with a message in err.
 */
int batcher_start(const char *name, batch_fn fn, void *const *ctxs,
		  unsigned nthreads, const struct batch_limits *limits,
		  const int *notify_fds, unsigned nports, struct batcher **out,
		  char *err, size_t errlen);

/* Queues it (its port must be below nports: VG_EINVAL otherwise).
 * VG_ELIMIT if max_queued bytes already wait (not queued then; an item
 * is always taken when nothing waits). Never waits for the work. */
int batcher_submit(struct batcher *b, struct batch_item *it);

/* Port's finished items since the last call, oldest first, through
 * next; NULL if none. */
struct batch_item *batcher_take_done(struct batcher *b, unsigned port);

/* Items and bytes waiting now. */
void batcher_queued(struct batcher *b, uint64_t *items, uint64_t *bytes);

/* Does what is queued, stops the thread, and frees b. Finished items not
 * taken are passed to free_item (may be NULL). */
void batcher_stop(struct batcher *b, void (*free_item)(struct batch_item *));

#endif
