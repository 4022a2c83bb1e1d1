/*
 * ingest.h - group commit of submitted samples (POST /v1/submissions).
 *
 * The event loop hands each accepted submission to a committer thread (a
 * batcher, batcher.h: one on SQLite, INGEST_PG_COMMITTERS on PostgreSQL)
 * and goes on serving. A committer takes everything queued as one batch:
 * it hashes each sample, appends those the node does not hold yet to the
 * sample store (samples.h), makes them durable with one sync, then records
 * every submission of the batch, with where its sample is, in one store
 * transaction (one commit, one WAL sync). Only then are the items handed
 * back to the loop, which answers 202. So a batch of n submissions costs
 * two syncs instead of 2n, and the more clients submit at once, the larger
 * the batches grow; a lone submission waits for no timer.
 *
 * Order of durability: sample bytes, then the rows that point to them.
 * A crash in between leaves bytes no row names, never a row naming
 * missing bytes; a submission is acknowledged only after both.
 */
#ifndef VIGIL_NODE_INGEST_H
#define VIGIL_NODE_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/batcher.h"
#include "store/samples.h"
#include "store/store.h"

/* What the queue may hold in sample bytes before submissions are turned
 * away (503) rather than buffered without bound. */
#define INGEST_MAX_QUEUED_BYTES (256ULL * 1024 * 1024)
/* The most submissions, and sample bytes, one batch takes. */
#define INGEST_BATCH_MAX       256
#define INGEST_BATCH_MAX_BYTES (64ULL * 1024 * 1024)

struct ingest_item {
	struct batch_item hdr; /* first; the caller sets hdr.port */
	/* Set by the caller. */
	char id[37];        /* the submission's id */
	char client_id[37]; /* who submitted it */
	char *metadata;     /* JSON object text; malloc'd, owned by the item */
	uint8_t *body;      /* the sample; malloc'd, owned by the item */
	size_t len;
	int64_t created; /* unix seconds */
	void *ud;        /* the caller's */
	/* Metadata without bytes (a `metadata` client's, docs/API.md): no
	 * body; the caller sets hashed, the three hashes and size as the
	 * client stated them. Nothing is appended to the sample store. */
	bool no_bytes;
	uint64_t size;
	/* The body's hashes: set by the caller (ingest_hash(), on the event
	 * loop, which has CPU to spare), else by the committer. */
	bool hashed;
	char md5[33], sha1[41], sha256[65];
	/* Set by the committer. */
	int rc;       /* 0, VG_EINVAL (refused: hashes disagree), VG_ENOENT (the
		       * client is gone), or a store or disk error (try again) */
	bool new_job; /* a job was queued for the sample */
	enum job_state job; /* the sample's job after the commit */
	/* The sample's reputation after the commit, read by the committer
	 * so that the loop can update its index without the store. */
	bool have_rep;
	struct reputation rep;
	struct ingest_item *next;
};

struct ingest_stats {
	uint64_t batches;        /* transactions committed */
	uint64_t items;          /* submissions in them */
	uint64_t samples_stored; /* new samples appended */
	uint64_t queued;         /* submissions waiting now */
	uint64_t queued_bytes;   /* their sample bytes */
};

struct ingest;

/* Committers at most, and how many a node on PostgreSQL runs: one
 * batch's statements run while another waits for its commit, which the
 * standby on the other site confirms. SQLite has one writer, so one. */
#define INGEST_MAX_COMMITTERS 4
#define INGEST_PG_COMMITTERS  2

/*
 * Starts ncommitters committers (1..INGEST_MAX_COMMITTERS): committer i
 * opens its own store handle on what sp names (store_open_writer) and
 * appends to samples[i] (whose writer it becomes: one handle each). Each
 * takes a batch whenever it is free, so batches commit concurrently and
 * in any order; the items of one batch are ordered by SHA-256 in the
 * store, as in every batch, so that two never wait on each other in
 * opposite orders. Items come back to one of nports ports (one per event
 * loop), by their port: each has its list of finished items, announced by
 * writing one byte to notify_fds[port] (non-blocking). Returns 0 or a
 * VG_E* code with a message in err.
 */
int ingest_start(const struct store_spec *sp, struct samples *const *samples,
		 unsigned ncommitters, const int *notify_fds, unsigned nports,
		 struct ingest **out, char *err, size_t errlen);

/* Queues it. VG_ELIMIT if the queue already holds INGEST_MAX_QUEUED_BYTES
 * (it is not queued then); 0 otherwise. Never waits for the disk. */
int ingest_submit(struct ingest *g, struct ingest_item *it);

/* The items of port finished since the last call, in the order they
 * were queued, as a list through next; NULL if none. */
struct ingest_item *ingest_take_done(struct ingest *g, unsigned port);

void ingest_item_free(struct ingest_item *it);

struct digest;
/* Sets it's hashes from its body with d (the caller's, one per thread),
 * so that the committer, the one thread every submission goes through,
 * does not have to. Returns 0 or VG_ELIB. */
int ingest_hash(struct ingest_item *it, struct digest *d);

void ingest_get_stats(struct ingest *g, struct ingest_stats *out);

/* Submissions committed per second over the last INGEST_RATE_WINDOW_MS
 * or so; 0 when nothing was committed lately. Safe from any thread. */
#define INGEST_RATE_WINDOW_MS 200
uint64_t ingest_rate(struct ingest *g);

/* Whether submissions are queued behind the batch being committed: the
 * committer is the bottleneck right now. */
bool ingest_backlog(struct ingest *g);

/* Commits what is queued, stops the thread and frees g, including any
 * finished items not taken. */
void ingest_stop(struct ingest *g);

#endif
