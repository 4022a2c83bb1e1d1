/*
 * store.h - the regional node's metadata store: clients, submissions,
 * analysis jobs and reputation, behind one table of operations.
 *
 * A backend is a struct store_ops and one file (store_sqlite.c now,
 * store_pg.c later); callers hold a struct store and never know which
 * backend it is. Samples' bytes are not here: they live in the encrypted
 * sample store (samples.h), addressed by SHA-256.
 *
 * Conventions for every operation: returns 0 on success or a negative
 * VG_E* code (VG_ENOENT when a looked-up row does not exist, VG_ECORRUPT
 * when a stored row makes no sense, VG_EIO for a database error);
 * strings returned in structs are owned by the struct and freed by its
 * *_clear() function; hashes are lowercase hex strings of exact length.
 * A failing operation says why in s->err, for the log.
 * A store handle is used by one thread at a time; open one per thread.
 */
#ifndef VIGIL_STORE_STORE_H
#define VIGIL_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/samples.h"

enum consent { CONSENT_NONE = 0, CONSENT_METADATA, CONSENT_FILES };

enum job_state {
	JOB_QUEUED = 0,
	JOB_ANALYSING,
	JOB_DONE,
	JOB_FAILED,
};

struct client {
	char id[37];            /* UUID text form */
	uint8_t token_hash[32]; /* SHA-256 of the bearer token; never the token
				 */
	enum consent consent;
	char region[33];
	int64_t created; /* unix seconds */
};

/* What the node knows about one sample, by any of its hashes. */
struct reputation {
	char md5[33], sha1[41], sha256[65];
	char *verdict; /* "malicious", "suspicious", "clean", "unknown" */
	int score;
	char *detections; /* JSON array text, e.g. ["Vigil_Test_EICAR"] */
	uint64_t size;
	char *type;                    /* MIME type; may be NULL */
	int64_t first_seen, last_seen; /* unix seconds */
	uint64_t prevalence;           /* distinct clients that reported it */
	int64_t analysed_at;           /* unix seconds; 0 if not analysed */
	double analysis_ms;
};

struct submission {
	char id[37];
	char client_id[37];
	char sha256[65];
	char *metadata; /* JSON object text as received, validated */
	int64_t created;
};

/* One submission of a batch (submission_add_many). */
struct submission_add {
	/* In */
	const struct submission *sub;
	const char *md5, *sha1;
	uint64_t size;
	/* Where the sample's bytes were appended; NULL if the store already
	 * has them (sample_locate found them). */
	const struct sample_loc *loc;
	/* Out */
	int rc;             /* 0, or why this one was refused */
	bool new_job;       /* a job was queued for the sample */
	enum job_state job; /* the sample's job state after the commit */
	/* The sample's reputation after this submission, when rc is 0 (then
	 * have_rep is true and the caller clears rep). */
	struct reputation rep;
	bool have_rep;
};

struct job {
	int64_t id;
	char sha256[65];
	enum job_state state;
	int attempts;
	char *report; /* JSON report text when done; NULL otherwise */
	char *error;  /* why it failed; NULL otherwise */
	int64_t updated;
	/* A re-analysis of a sample already analysed (rescan_queue): id is
	 * the rescan's, finished with rescan_finish or rescan_fail; only
	 * id, sha256, state and attempts are set. */
	bool rescan;
};

struct store;

struct store_ops {
	const char *name;
	int (*close)(struct store *s);
	/* Clients */
	int (*client_put)(struct store *s, const struct client *c);
	int (*client_by_token_hash)(struct store *s, const uint8_t hash[32],
				    struct client *out);
	/* Submissions: one row per (client, sample) report. Records the
	 * submission, upserts the sample's reputation row (first/last seen,
	 * prevalence = distinct clients) and, if the sample has no job yet,
	 * queues one; all in one transaction. loc, if not NULL, records
	 * where the sample's bytes are (once per sample: a later location
	 * is ignored). *new_job tells whether a job was queued. sub->created is
	 * the time of the report (first/last seen); 0 means now. VG_ENOENT:
	 * unknown client; VG_EINVAL: a duplicate id, or hashes or size that
	 * disagree with the stored sample's. */
	int (*submission_add)(struct store *s, const struct submission *sub,
			      const char *md5, const char *sha1, uint64_t size,
			      const struct sample_loc *loc, bool *new_job);
	/* submission_add() for n submissions, in one transaction and one
	 * commit (group commit). Each item is applied on its own (a refused
	 * one leaves no trace and does not stop the others) and says how it
	 * went in its rc, new_job and job. Returns 0 once the transaction is
	 * durable, or a store error: then nothing of any item was stored.
	 * With barrier not NULL, it is called once the rows are written and
	 * before the commit: the caller waits there for what must be durable
	 * first (the samples' bytes, synced meanwhile by another thread). A
	 * non-zero return rolls everything back and is returned. */
	int (*submission_add_many)(struct store *s,
				   struct submission_add *items, size_t n,
				   int (*barrier)(void *ud), void *ud);
	/* Where a sample's bytes are stored (samples.h). VG_ENOENT: not
	 * stored, even if the sample is known (an object seen only inside
	 * another sample). */
	int (*sample_locate)(struct store *s, const char *sha256,
			     struct sample_loc *out);
	int (*submission_get)(struct store *s, const char *id,
			      struct submission *out);
	/* Jobs */
	/* Claims the oldest queued job or, when none is queued, the first
	 * queued rescan (out->rescan). VG_ENOENT: neither. */
	int (*job_claim)(struct store *s, struct job *out);
	int (*job_get_by_sha256)(struct store *s, const char *sha256,
				 struct job *out);
	int (*job_finish)(struct store *s, int64_t id, const char *report_json,
			  const char *verdict, int score,
			  const char *detections_json, const char *mime,
			  double analysis_ms);
	int (*job_fail)(struct store *s, int64_t id, const char *why,
			int max_attempts); /* requeues below max_attempts */
	/* job_finish and job_fail: VG_ENOENT for an unknown id, VG_EINVAL
	 * for a job that is not being analysed (finished or requeued). */
	/* Jobs and rescans analysing -> queued, at start. */
	int (*job_requeue_stale)(struct store *s);
	/* Counts the jobs waiting to be analysed (for metrics). */
	int (*jobs_queued)(struct store *s, uint64_t *n);
	/* Re-analysis. generation names the rules the node analyses with
	 * now (64 lowercase hex, e.g. their SHA-256). If it is not the one
	 * recorded, records it and queues for re-analysis every sample
	 * whose bytes are stored and whose job has started, most prevalent
	 * then newest first, in one transaction; *queued says how many
	 * (0 when the generation is the recorded one). VG_EINVAL: a
	 * malformed generation. */
	int (*rescan_queue)(struct store *s, const char *generation,
			    uint64_t *queued);
	/* Finishes the rescan id (claimed by job_claim): the sample's
	 * verdict, score, detections, type and job report become these;
	 * *changed says whether the verdict differs from the one before.
	 * VG_EINVAL: not a rescan being analysed (requeued meanwhile by a
	 * newer generation, or an invalid result). */
	int (*rescan_finish)(struct store *s, int64_t id,
			     const char *report_json, const char *verdict,
			     int score, const char *detections_json,
			     const char *mime, double analysis_ms,
			     bool *changed);
	/* A rescan that could not be done: queued again below max_attempts
	 * attempts, else dropped (*dropped), the sample keeping its
	 * verdict. */
	int (*rescan_fail)(struct store *s, int64_t id, int max_attempts,
			   bool *dropped);
	/* reputation_note_many() for the objects found by a re-analysis:
	 * also overwrites the verdict of a known object that was never
	 * analysed on its own (it has no job), as the new rules judge it. */
	int (*objects_renote_many)(struct store *s, const struct reputation *r,
				   size_t n, size_t *skipped);
	/* Counts the rescans waiting (for metrics). */
	int (*rescans_queued)(struct store *s, uint64_t *n);
	/* Calls fn for every sample whose bytes are stored, most prevalent
	 * then newest first, from one snapshot (for a retro-hunt); stops
	 * early if fn returns non-zero, and returns that value. */
	int (*samples_stored_each)(struct store *s,
				   int (*fn)(const char *sha256,
					     const struct sample_loc *loc,
					     void *ud),
				   void *ud);
	/* Reputation */
	int (*reputation_get)(struct store *s, const char *hash,
			      struct reputation *out); /* md5, sha1 or sha256 */
	/* Records a verdict for a sample that was not analysed on its own:
	 * an object found inside another sample, or a sample whose analysis
	 * failed. Inserts the row (prevalence 0) or, if the sample has not
	 * been analysed yet, sets its verdict; a sample with a verdict of its
	 * own keeps it. Hashes and size must agree with a known row
	 * (VG_EINVAL otherwise). r's first_seen is the time (0: now). */
	int (*reputation_note)(struct store *s, const struct reputation *r);
	/* reputation_note() for n rows in one transaction (the objects of
	 * one report); rows refused as invalid are skipped and counted in
	 * *skipped. Returns 0 or the first store error. */
	int (*reputation_note_many)(struct store *s, const struct reputation *r,
				    size_t n, size_t *skipped);
	/* Whether each commit of this handle is synced before it returns
	 * (the default). Off, a commit is durable only once a later synced
	 * commit of any handle, or a checkpoint, has happened: for work that
	 * is redone after a crash anyway (analysis results), so that it
	 * does not hold the write lock through a sync the submissions wait
	 * for. */
	int (*set_synced)(struct store *s, bool synced);
	/* Calls fn for every reputation row (to build the in-memory lookup
	 * index at start); stops early if fn returns non-zero, and returns
	 * that value. */
	int (*reputation_each)(struct store *s,
			       int (*fn)(const struct reputation *r, void *ud),
			       void *ud);
};

struct store {
	const struct store_ops *ops;
	char err[256]; /* why the last failed operation failed; for logs */
};

/* Opens the SQLite backend on the database file at path (created with
 * mode 0600 if missing, WAL mode, schema migrated). Returns 0 and *out,
 * or a negative VG_E* code with a message in err. */
int store_sqlite_open(const char *path, struct store **out, char *err,
		      size_t errlen);

/* The same, for the handle that writes the most (the node's committer):
 * its WAL writes are gathered into one write per commit (walbuf.h). Its
 * synchronous setting stays FULL: set_synced(false) is VG_EINVAL. */
int store_sqlite_open_writer(const char *path, struct store **out, char *err,
			     size_t errlen);

void client_clear(struct client *c);
void reputation_clear(struct reputation *r);
void submission_clear(struct submission *s);
void job_clear(struct job *j);

#endif
