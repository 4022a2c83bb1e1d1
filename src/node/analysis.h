/*
 * analysis.h - the node's analysis supervisor: worker processes that run
 * the engine on submitted samples, and the threads that feed them.
 *
 * Each of the node's analysis slots is a thread that owns one sandboxed
 * worker process (vigil-worker, protocol in worker.h). The thread claims
 * a queued job from the store, decrypts the sample into a sealed memfd,
 * hands it to its worker, and waits for the report with a deadline:
 * max_scan_ms and a grace of at most ANALYSIS_GRACE_MS for the report to
 * arrive. A worker still busy at the deadline is killed and replaced, and
 * its job is failed at once, not retried, with the verdict `suspicious`
 * (Limits.Exceeded.Time): no sample holds a worker longer. A worker that
 * crashes, breaks the protocol or dies of its rlimits is killed and
 * replaced; its job is retried up to ANALYSIS_MAX_ATTEMPTS times, then
 * failed with the verdict `suspicious` (Analysis.Failed). A failure is
 * never clean, whatever was noted before (store.h, reputation_fail).
 * Every object of a report is noted with its subtree's verdict, decided
 * by the node (report_check.h). When a sample crashes its worker on two
 * attempts in a row, or is stopped at the deadline, the slot looks for
 * the one rule file responsible by halving the active rule files, and
 * quarantines it (activerules.h). Results go to
 * the store, and the hashes whose reputation changed are handed to the
 * event loop through analysis_take_done() after a byte on notify_fd.
 */
#ifndef VIGIL_NODE_ANALYSIS_H
#define VIGIL_NODE_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/samples.h"

#define ANALYSIS_MAX_ATTEMPTS 3
/* Worker runs one search for a rule file that crashes or hangs analysis
 * may take (analysis.c, bisect()): enough for 2^15 files. */
#define ANALYSIS_BISECT_MAX_RUNS 32
#define ANALYSIS_GRACE_MS        1000 /* beyond the engine's own time limit */
#define ANALYSIS_MAX_SLOTS       64
/* The longest a slot defers its next job to a burst of submissions: each
 * slot still analyses at least one sample per this much time. */
#define ANALYSIS_YIELD_MAX_MS  100
#define ANALYSIS_YIELD_STEP_MS 20 /* how often a yielding slot looks again */

struct analysis;
struct activerules;

struct analysis_config {
	/* The store; each slot opens its own handle (copied). */
	const struct store_spec *store;
	struct samples *samples; /* shared, read-only after open */
	const char *worker_path; /* the vigil-worker program */
	const char *rules_dir;   /* NULL: the worker's default rules */
	/* The active rules rules_dir is the directory of, for quarantining a
	 * file a worker cannot load or that crashes analysis; may be NULL. */
	struct activerules *rules;
	const char *tmp_root; /* private temporary folders go below */
	unsigned slots;       /* 1..ANALYSIS_MAX_SLOTS */
	uint32_t max_scan_ms;
	int notify_fd; /* written one byte when results are ready */
	/* Yielding to ingest: while ingest_rate(ingest_ud) (submissions
	 * committed per second) is at least yield_rate, or
	 * ingest_backlog(ingest_ud) says submissions are waiting for the
	 * committer, a slot waits before it claims its next job, but never
	 * more than ANALYSIS_YIELD_MAX_MS after its last one. yield_rate 0
	 * or no ingest_rate: never. ingest_backlog may be NULL. */
	uint64_t (*ingest_rate)(void *ud);
	bool (*ingest_backlog)(void *ud);
	void *ingest_ud;
	uint32_t yield_rate;
};

/* Starts the slots. Returns 0 and *out, or a VG_E* code with err set. */
int analysis_start(const struct analysis_config *cfg, struct analysis **out,
		   char *err, size_t errlen);

/* Wakes the slots: a job was queued. Safe from any thread. */
void analysis_kick(struct analysis *a);

/*
 * Moves the SHA-256 hex digests (65 bytes each) of samples whose
 * reputation changed since the last call into a new array the caller
 * frees; returns how many. Safe from any thread.
 */
size_t analysis_take_done(struct analysis *a, char (**out)[65]);

/* Makes every worker restart, after its current job, with the rules as
 * they are on disk now (SIGHUP). A worker whose new rules fail to load
 * is reported and retried like any failed start. If the rules differ
 * from those the stored verdicts were made with (their generation,
 * activerules_generation(), is kept in the store), every stored
 * sample is queued for re-analysis, behind the submissions (store.h
 * rescan_queue); at start too. Safe from any thread. */
void analysis_reload(struct analysis *a);

/* Counters for /metrics. */
struct analysis_stats {
	uint64_t jobs_done, jobs_failed, jobs_retried, worker_restarts;
	uint64_t busy;     /* slots analysing right now */
	uint64_t deferred; /* ANALYSIS_YIELD_STEP_MS waits, yielding */
	/* Samples analysed again after the rules changed, and those whose
	 * verdict that changed. */
	uint64_t reanalysed, verdicts_changed;
};
void analysis_stats(struct analysis *a, struct analysis_stats *st);

/* Stops taking jobs, lets the jobs in progress finish (or time out),
 * stops the workers and frees everything. NULL is accepted. */
void analysis_stop(struct analysis *a);

#endif
