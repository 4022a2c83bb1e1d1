/*
 * store.h - the regional node's metadata store: clients, submissions,
 * analysis jobs and reputation, behind one table of operations.
 *
 * A backend is a struct store_ops and one file (store_sqlite.c,
 * store_pg.c); callers hold a struct store and never know which
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

/* Which backend holds a node's store (the node's [store] section). */
enum store_backend { STORE_SQLITE = 0, STORE_POSTGRES };

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
	/* JSON array text: which object inside the sample earned which
	 * detection, [{"path": "inner.zip!eicar.com", "name": "..."}], path
	 * relative to the sample ("" for itself); "[]" when nothing did
	 * (docs/REPORT.md). NULL is taken as "[]" by reputation_note. */
	char *because;
	/* A derived verdict: not the sample's own analysis but noted from
	 * the report of the sample derived_from (its SHA-256) contained in,
	 * analysed by job derived_job. "" and 0 for the sample's own (or
	 * for no verdict yet). */
	char derived_from[65];
	int64_t derived_job;
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
	/* Metadata without bytes (a `metadata` client's, docs/API.md): the
	 * sample is counted for prevalence like any other, but no job is
	 * queued for it (there is nothing to analyse); loc is NULL. A job
	 * is queued when some client sends its bytes. Then job says
	 * JOB_QUEUED for a sample that has no job. */
	bool no_bytes;
	/* Out */
	int rc;             /* 0, or why this one was refused */
	bool new_job;       /* a job was queued for the sample */
	enum job_state job; /* the sample's job state after the commit */
	/* The sample's reputation after this submission, when rc is 0 (then
	 * have_rep is true and the caller clears rep). */
	struct reputation rep;
	bool have_rep;
};

/* A job or rescan a node is analysing (job_lease_renew). */
struct job_held {
	int64_t id;
	bool rescan;
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

/* False-positive reports (docs/API.md, "False positives"). A client
 * reports a sample once; the operator accepts (a retraction) or rejects
 * every open report of the sample at once. */
enum fp_state { FP_OPEN = 0, FP_ACCEPTED, FP_REJECTED };

/* Longest reason of a report or a decision, in bytes. */
#define STORE_FP_REASON_MAX 1024

/* The open reports of one sample, as the operator reviews them: how many
 * clients and what they said, never who they are. */
struct fp_summary {
	char sha256[65];
	uint64_t reporters;  /* open reports: one per client */
	char **reasons;      /* their reasons, oldest first; reporters long */
	int64_t first, last; /* when the oldest and newest came, unix s */
};

/* A retraction in force: the sample answers clean while its detections
 * are among these. log_index names its `retraction` log entry. */
struct retraction {
	char sha256[65];
	uint64_t log_index;
	char *detections; /* JSON array text of names */
	char *reason;     /* the operator's */
	int64_t created;  /* unix seconds */
};

/* Operators (docs/API.md, "Operators"): the people whose bearer tokens
 * take the node's administrative routes. The bootstrap operator,
 * STORE_OPERATOR_ROOT, is the data directory's operator.token and is not
 * stored; every other operator is a row shared by the region's nodes.
 * A revoked operator's name stays taken, so that a name in the log
 * always means one person. */
#define STORE_OPERATOR_ROOT     "root"
#define STORE_OPERATOR_NAME_MAX 32 /* a label: 1 to 32 of a-z, 0-9, - */

struct store_operator {
	char name[STORE_OPERATOR_NAME_MAX + 1];
	uint8_t token_hash[32]; /* SHA-256 of the token; never the token */
	int64_t created;        /* unix seconds */
	int64_t revoked;        /* unix seconds; 0 while in force */
};

/* What an erasure of a client's data removed (client_consent_set,
 * client_delete): counts only, which an `erasure` log entry may name
 * (docs/LOG.md), and the former locations of the samples whose bytes are
 * to be erased now (samples_erase), which no row names any more once the
 * operation has returned. Freed by erasure_clear(). */
struct erasure {
	uint64_t submissions; /* submissions deleted */
	uint64_t unlinked;    /* samples no longer counted for the client */
	uint64_t erased;      /* samples whose bytes are erased: nlocs */
	struct sample_loc *locs;
	/* The SHA-256s of the samples whose reputation changed (one less
	 * prevalent), unlinked long: for the caller's index. */
	char (*changed)[65];
};

/* What one batch of the retention sweep removed (retention_sweep):
 * counts only, which a `retention` log entry may name (docs/LOG.md), the
 * former locations of the samples whose bytes are to be erased now
 * (samples_erase, then erasure_done: recorded as erasures, as an
 * erasure's are), and the samples that lost clients. Freed by
 * retention_clear(). */
struct retention {
	uint64_t erased; /* samples whose bytes expired: nlocs */
	struct sample_loc *locs;
	uint64_t submissions; /* submissions deleted */
	uint64_t unlinked;    /* (sample, client) links deleted */
	/* The SHA-256s of the samples whose prevalence went down, nchanged
	 * long: for the caller's index. */
	char (*changed)[65];
	size_t nchanged;
	/* PostgreSQL: another node of the region was sweeping, so this
	 * call did nothing. */
	bool busy;
};

/* Legal holds (docs/PRIVACY.md): a held sample is exempt from
 * retention_sweep (its bytes and its submissions stay) until every hold
 * on it is released. A case is 1 to STORE_HOLD_CASE_MAX of A-Z, a-z,
 * 0-9, '.', '_', ':', '-', starting with a letter or digit; a reason is
 * 1 to STORE_FP_REASON_MAX bytes. */
#define STORE_HOLD_CASE_MAX 64

struct store_hold {
	char sha256[65];
	char case_id[STORE_HOLD_CASE_MAX + 1];
	const char *reason;                   /* borrowed */
	char by[STORE_OPERATOR_NAME_MAX + 1]; /* the operator who placed it */
	int64_t created;                      /* unix seconds; 0: now */
};

/* Most samples and most submissions one retention_sweep call takes. */
#define STORE_RETENTION_BATCH_MAX 10000

/* One of a client's submissions, as the client sees it (client_list):
 * the submission and its sample's reputation now. */
struct client_sub {
	struct submission sub;
	struct reputation rep;
};

/* One of a client's false-positive reports, as the client sees it
 * (client_fp_list). */
struct client_fp {
	char sha256[65];
	char *reason;
	int64_t created;
	enum fp_state state;
};

/* Most submissions client_list gives at once. */
#define STORE_CLIENT_LIST_MAX 1000

/* Anonymised statistics (docs/STATS.md). The largest document stored. */
#define STORE_STATS_DOC_MAX (1024 * 1024)

/* A day's published statistics: the document exactly as served, frozen
 * once stored (never recomputed, so its noise is drawn once). */
struct stats_day {
	char day[11];       /* "YYYY-MM-DD", UTC */
	char *doc;          /* len bytes of JSON text, NUL-terminated */
	size_t len;         /* 1 to STORE_STATS_DOC_MAX */
	int64_t created;    /* unix seconds; 0 in stats_put: now */
	bool logged;        /* whether log_index is recorded */
	uint64_t log_index; /* its `stats` log entry (docs/LOG.md) */
};

/* One submission counted by stats_rows_each; borrowed for the call. */
struct stats_row {
	const char *client_id;
	const char *sha256;
	const char *detections; /* the sample's, JSON array text */
	const char *mime;       /* the sample's type; NULL if not known */
};

struct store;

struct store_ops {
	const char *name;
	int (*close)(struct store *s);
	/* Clients */
	int (*client_put)(struct store *s, const struct client *c);
	int (*client_by_token_hash)(struct store *s, const uint8_t hash[32],
				    struct client *out);
	/*
	 * The data subject's controls (docs/PRIVACY.md). A sample "only
	 * this client sent" is one no other client has a submission of (no
	 * other row in sample_clients); its bytes are erased when the
	 * client's consent no longer covers them. A sample others sent too
	 * keeps its bytes.
	 *
	 * client_consent_set: sets client_id's consent to c and, in the same
	 * transaction, erases what c does not allow: below CONSENT_FILES,
	 * the location of every stored sample only this client sent (its
	 * queued job fails, "sample erased", its queued rescan goes); at
	 * CONSENT_NONE also the client's submissions, its links to
	 * samples (sample_clients), each sample's prevalence one less, and
	 * its false-positive reports.
	 * *out (erasure_clear) says what went and which records' bytes the
	 * caller erases now (samples_erase), after this returned: the
	 * locations are gone from the store first, so that a crash never
	 * leaves a location naming erased bytes. VG_ENOENT: unknown client;
	 * VG_EINVAL: a bad id or consent.
	 */
	int (*client_consent_set)(struct store *s, const char *client_id,
				  enum consent c, struct erasure *out);
	/* client_id's false-positive reports, oldest first, at most max (1
	 * to STORE_CLIENT_LIST_MAX), into a new array *out of *n
	 * (client_fps_free). VG_EINVAL: a bad id or max. */
	int (*client_fp_list)(struct store *s, const char *client_id,
			      size_t max, struct client_fp **out, size_t *n);
	/* The records whose bytes an erasure named and that are not known
	 * to be erased yet (client_consent_set and client_delete record
	 * them with the rest, in the same commit): at most max of them, into
	 * a new array *out of *n (free()). What a crash left between the
	 * commit and samples_erase() is found here and erased again. */
	int (*erasures_pending)(struct store *s, size_t max,
				struct sample_loc **out, size_t *n);
	/* The bytes at loc are erased (samples_erase() returned 0): no
	 * longer pending. 0 also when it was not pending. */
	int (*erasure_done)(struct store *s, const struct sample_loc *loc);
	/* Everything about client_id: as client_consent_set to
	 * CONSENT_NONE, and the client row itself (its token no longer
	 * authenticates), in one transaction.
	 * Samples keep their reputation rows, unlinked from the client.
	 * VG_ENOENT: unknown client. */
	int (*client_delete)(struct store *s, const char *client_id,
			     struct erasure *out);
	/*
	 * Retention (docs/PRIVACY.md), one batch in one transaction: the
	 * bytes of at most max stored samples last seen (last submitted)
	 * before bytes_before, oldest first, as client_consent_set erases
	 * them (locations cleared and recorded as erasures, queued job
	 * failed "sample erased", queued rescan gone); and at most max
	 * submissions created before meta_before, oldest first, each with
	 * the link of its client to its sample (sample_clients) when no
	 * submission of that client and sample remains, the sample one
	 * less prevalent per link. Samples keep their reputation rows. A
	 * held sample (hold_add) is exempt: neither its bytes nor any
	 * submission of it expire while a hold is on it.
	 * The caller erases out->locs (samples_erase, erasure_done) after
	 * this returned, and calls again while out->erased or
	 * out->submissions reached max. Times are unix seconds; max is 1
	 * to STORE_RETENTION_BATCH_MAX (VG_EINVAL otherwise). On
	 * PostgreSQL one node of the region sweeps at a time (an advisory
	 * lock): another's call meanwhile sets out->busy and does nothing.
	 * *out is freed by retention_clear().
	 */
	int (*retention_sweep)(struct store *s, int64_t bytes_before,
			       int64_t meta_before, size_t max,
			       struct retention *out);
	/* Places hold h on its sample. VG_ENOENT: the store knows no such
	 * sample; VG_EINVAL: an invalid hold, or one of that case is on the
	 * sample already. A sample whose batch retention_sweep is committing
	 * at that moment may lose its bytes all the same. */
	int (*hold_add)(struct store *s, const struct store_hold *h);
	/* Releases the hold of case_id on sha256. VG_ENOENT: none;
	 * VG_EINVAL: a malformed hash or case. */
	int (*hold_release)(struct store *s, const char *sha256,
			    const char *case_id);
	/* Counts into *n the holds on sha256: of case_id only, or of every
	 * case with case_id NULL. VG_EINVAL: a malformed hash or case. */
	int (*holds_count)(struct store *s, const char *sha256,
			   const char *case_id, uint64_t *n);
	/* client_id's submissions with an id greater than after ("" for the
	 * first), oldest first, at most max (1 to STORE_CLIENT_LIST_MAX),
	 * each with its sample's reputation, into a new array *out of *n
	 * (client_subs_free). VG_EINVAL: a bad id or max. */
	int (*client_list)(struct store *s, const char *client_id,
			   const char *after, size_t max,
			   struct client_sub **out, size_t *n);
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
	/* sample_locate() for n samples (the committer's batch): found[i]
	 * says whether sha256[i]'s bytes are stored, and out[i] is where
	 * then. One round trip on PostgreSQL, n lookups on SQLite. Returns 0
	 * or a store error (VG_EINVAL for a malformed hash). */
	int (*sample_locate_many)(struct store *s, const char *const *sha256,
				  size_t n, struct sample_loc *out,
				  bool *found);
	int (*submission_get)(struct store *s, const char *id,
			      struct submission *out);
	/* Jobs */
	/* Claims the oldest queued job or, when none is queued, the first
	 * queued rescan (out->rescan). VG_ENOENT: neither. */
	int (*job_claim)(struct store *s, struct job *out);
	int (*job_get_by_sha256)(struct store *s, const char *sha256,
				 struct job *out);
	/* job_finish: the sample's verdict, score, detections, because (a
	 * JSON array of {"path", "name"}, docs/REPORT.md; NULL for "[]"),
	 * type and the job's report. */
	int (*job_finish)(struct store *s, int64_t id, const char *report_json,
			  const char *verdict, int score,
			  const char *detections_json, const char *because_json,
			  const char *mime, double analysis_ms);
	int (*job_fail)(struct store *s, int64_t id, const char *why,
			int max_attempts); /* requeues below max_attempts */
	/* job_finish and job_fail: VG_ENOENT for an unknown id, VG_EINVAL
	 * for a job that is not being analysed (finished or requeued) or,
	 * on PostgreSQL, not leased to this handle's owner any more (its
	 * lease ran out and another node took it over). */
	/* Jobs and rescans analysing -> queued, at start. PostgreSQL,
	 * where several nodes share the queue: only those whose lease ran
	 * out or that are leased to this handle's owner (its own, from
	 * before a restart); other nodes' live jobs are not touched. */
	int (*job_requeue_stale)(struct store *s);
	/* Extends, by the lease length given at open, the lease of each job
	 * or rescan of held[0..n) that this handle's owner still holds
	 * (analysing, leased to it); *renewed says how many. The node names
	 * only what its slots are analysing now: a job it gave up on (its
	 * result could not be recorded) is not renewed, so its lease runs
	 * out and it is analysed again, here or on another node. Called
	 * well within the lease (a third of it). SQLite, one node: nothing
	 * to do, *renewed is 0. */
	int (*job_lease_renew)(struct store *s, const struct job_held *held,
			       size_t n, uint64_t *renewed);
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
	 * verdict, score, detections, because, type and job report become
	 * these;
	 * *changed says whether the verdict differs from the one before.
	 * VG_EINVAL: not a rescan being analysed (requeued meanwhile by a
	 * newer generation, or an invalid result). */
	int (*rescan_finish)(struct store *s, int64_t id,
			     const char *report_json, const char *verdict,
			     int score, const char *detections_json,
			     const char *because_json, const char *mime,
			     double analysis_ms, bool *changed);
	/* A rescan that could not be done: queued again below max_attempts
	 * attempts, else dropped (*dropped), the sample keeping its
	 * verdict. */
	int (*rescan_fail)(struct store *s, int64_t id, int max_attempts,
			   bool *dropped);
	/* reputation_note_many() for the objects found by a re-analysis:
	 * also overwrites the verdict of a known object that was never
	 * analysed on its own (it has no job), as the new rules judge it,
	 * derived from r's derived_from and derived_job. */
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
	/* Records a derived verdict: that of an object found inside the
	 * sample r->derived_from (another one; required, VG_EINVAL
	 * otherwise), analysed by job r->derived_job (> 0). Inserts the row
	 * (prevalence 0) or, if the sample has no verdict yet, sets it,
	 * marked derived; a sample with a verdict of its own, or an earlier
	 * derived one, keeps it. The sample's own analysis (job_finish,
	 * rescan_finish) always replaces a derived verdict, and clears the
	 * mark. Hashes and size must agree with a known row (VG_EINVAL
	 * otherwise). r's first_seen is the time (0: now). */
	int (*reputation_note)(struct store *s, const struct reputation *r);
	/* reputation_note() for n rows in one transaction (the objects of
	 * one report); rows refused as invalid are skipped and counted in
	 * *skipped. Returns 0 or the first store error. */
	int (*reputation_note_many)(struct store *s, const struct reputation *r,
				    size_t n, size_t *skipped);
	/* Records that the analysis of a known sample failed or was stopped,
	 * with reason a detection name (1..128 bytes, e.g. "Analysis.Failed"
	 * or "Limits.Exceeded.Time"), whatever wrote its verdict before (a
	 * container's note, an earlier analysis): a clean or unknown verdict
	 * becomes suspicious (score at least 50), a suspicious or malicious
	 * one stays with its detections; reason is added to the detections
	 * and to because (as the sample's own), once. A failure is never
	 * clean. A derived verdict that becomes suspicious is the sample's
	 * own from then on; a derived one that stays (suspicious, malicious)
	 * stays derived. VG_ENOENT: no such sample; VG_EINVAL: bad
	 * arguments. */
	int (*reputation_fail)(struct store *s, const char *sha256,
			       const char *reason, double analysis_ms);
	/* Whether each commit of this handle is synced before it returns
	 * (the default). Off, a commit is durable only once a later synced
	 * commit of any handle, or a checkpoint, has happened: for work that
	 * is redone after a crash anyway (analysis results), so that it
	 * does not hold the write lock through a sync the submissions wait
	 * for. On PostgreSQL, off is synchronous_commit = local for the
	 * session: a commit waits for the primary's disk, not for the
	 * standby. */
	int (*set_synced)(struct store *s, bool synced);
	/* Calls fn for every reputation row (to build the in-memory lookup
	 * index at start); stops early if fn returns non-zero, and returns
	 * that value. */
	int (*reputation_each)(struct store *s,
			       int (*fn)(const struct reputation *r, void *ud),
			       void *ud);
	/* False positives and retractions. Hashes are SHA-256s; reasons are
	 * 1 to STORE_FP_REASON_MAX bytes. */
	/* Records client_id's report on sample sha256, open, at when (0:
	 * now). VG_ENOENT: unknown sample or client; VG_EINVAL: this client
	 * already reported this sample, or an invalid argument. */
	int (*fp_report_add)(struct store *s, const char *sha256,
			     const char *client_id, const char *reason,
			     int64_t when);
	/* Counts the open reports on sha256 into *n. */
	int (*fp_open_count)(struct store *s, const char *sha256, uint64_t *n);
	/* Every sample with open reports, oldest first report first, into
	 * *out (the caller frees it with fp_summaries_free) and *n. */
	int (*fp_list)(struct store *s, struct fp_summary **out, size_t *n);
	/* Rejects every open report on sha256 with the operator's reason;
	 * *n says how many. VG_ENOENT: none is open. */
	int (*fp_reject)(struct store *s, const char *sha256,
			 const char *reason, int64_t when, uint64_t *n);
	/* Puts retraction r in force and accepts the open reports on its
	 * sample, in one transaction; *accepted says how many. VG_ENOENT:
	 * no open report (then nothing is stored); VG_EINVAL: a retraction
	 * of the sample is already in force, r's log index is taken, or r
	 * is invalid. */
	int (*retraction_add)(struct store *s, const struct retraction *r,
			      uint64_t *accepted);
	/* Ends the retraction in force on sha256: undo_index is the log
	 * entry that undid it. VG_ENOENT: none in force. */
	int (*retraction_undo)(struct store *s, const char *sha256,
			       uint64_t undo_index);
	/* The retraction in force on sha256 into *out (retraction_clear).
	 * VG_ENOENT: none. */
	int (*retraction_get)(struct store *s, const char *sha256,
			      struct retraction *out);
	/* Calls fn for every retraction in force (to overlay them on the
	 * lookup index at start); stops early if fn returns non-zero, and
	 * returns that value. */
	int (*retraction_each)(struct store *s,
			       int (*fn)(const struct retraction *r, void *ud),
			       void *ud);
	/* Operators (struct store_operator). */
	/* Stores op, in force (op->revoked is ignored; op->created 0:
	 * now). VG_EINVAL: a name that is not a label, the reserved name
	 * STORE_OPERATOR_ROOT, a name already taken (revoked or not) or a
	 * token hash another operator has. */
	int (*operator_add)(struct store *s, const struct store_operator *op);
	/* The operator named name, revoked or not, into *out. VG_ENOENT:
	 * none; VG_EINVAL: a name operator_add refuses (not a label,
	 * or root). */
	int (*operator_get)(struct store *s, const char *name,
			    struct store_operator *out);
	/* The operator in force whose token hash is hash, into *out.
	 * VG_ENOENT: none, or revoked. */
	int (*operator_by_token_hash)(struct store *s, const uint8_t hash[32],
				      struct store_operator *out);
	/* Revokes the operator named name at when (0: now): its token is
	 * refused from then on. VG_ENOENT: no such operator in force. */
	int (*operator_revoke)(struct store *s, const char *name, int64_t when);
	/* Every operator, revoked ones too, oldest first, into *out
	 * (malloc'd, the caller frees it; NULL when there is none) and *n. */
	int (*operator_list)(struct store *s, struct store_operator **out,
			     size_t *n);
	/* Anonymised statistics (docs/STATS.md). */
	/* Calls fn, from one snapshot, for each of the first per_client
	 * submissions (by time, then id) of every client among those made
	 * in [from, to) (unix seconds), grouped by client (one client's
	 * rows together); stops early if fn returns non-zero, and returns
	 * that value. VG_EINVAL: from >= to or per_client 0. */
	int (*stats_rows_each)(struct store *s, int64_t from, int64_t to,
			       unsigned per_client,
			       int (*fn)(const struct stats_row *r, void *ud),
			       void *ud);
	/* Stores d's document for d->day unless the day has one already:
	 * the first stored is the day's for ever. *out gets the day's
	 * document as stored (d's or the earlier one; stats_day_clear);
	 * *stored says which. VG_EINVAL: a malformed day or document. */
	int (*stats_put)(struct store *s, const struct stats_day *d,
			 struct stats_day *out, bool *stored);
	/* The document of day (YYYY-MM-DD) into *out (stats_day_clear).
	 * VG_ENOENT: none stored; VG_EINVAL: a malformed day. */
	int (*stats_get)(struct store *s, const char *day,
			 struct stats_day *out);
	/* Records index as the log entry of day's document, unless one is
	 * recorded already (the first stays; stats_get tells which).
	 * VG_ENOENT: no document for day. */
	int (*stats_log)(struct store *s, const char *day, uint64_t index);
};

struct store {
	const struct store_ops *ops;
	char err[256]; /* why the last failed operation failed; for logs */
};

/* Whether c is a hold's case (struct store_hold). */
bool store_valid_case(const char *c);

/* Which backend and where (the node's [store] section). */
struct store_spec {
	enum store_backend backend;
	char path[1024];       /* sqlite: the database file */
	char dsn[1024];        /* postgres: libpq DSN (PG_DSN_MAX) */
	char owner[64];        /* postgres: this node's name for job leases */
	unsigned job_lease_ms; /* postgres: job lease; 0: 30000 */
};

/* Opens sp's backend: store_sqlite_open or store_pg_open. */
int store_open(const struct store_spec *sp, struct store **out, char *err,
	       size_t errlen);

/* The handle that writes the most: store_sqlite_open_writer for sqlite,
 * store_pg_open for postgres. */
int store_open_writer(const struct store_spec *sp, struct store **out,
		      char *err, size_t errlen);

/* Opens the PostgreSQL backend (store_pg.c) on the primary named by dsn
 * (pg.h), schema migrated. owner (1 to 63 printable ASCII characters, no
 * space) names this node in the leases of the jobs it claims; a claimed
 * job is this node's for job_lease_ms (0: 30000) from its claim or last
 * job_lease_renew, then any node may take it over. Returns 0 and *out, or a
 * negative VG_E* code with a message in err: VG_EINVAL for a bad argument or a
 * database a newer vigil wrote, VG_EIO when no primary is reachable. */
int store_pg_open(const char *dsn, const char *owner, unsigned job_lease_ms,
		  struct store **out, char *err, size_t errlen);

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
void retraction_clear(struct retraction *r);
void stats_day_clear(struct stats_day *d);
/* Frees e's locations and zeroes it; accepts NULL. */
void erasure_clear(struct erasure *e);
/* Frees r's arrays and zeroes it; accepts NULL. */
void retention_clear(struct retention *r);
/* Frees the n items of client_list and the array; accepts NULL. */
void client_subs_free(struct client_sub *v, size_t n);
/* Frees the n items of client_fp_list and the array; accepts NULL. */
void client_fps_free(struct client_fp *v, size_t n);
/* Frees the n summaries of fp_list and the array; accepts NULL. */
void fp_summaries_free(struct fp_summary *v, size_t n);

#endif
