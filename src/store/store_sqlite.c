/*
 * store_sqlite.c - the SQLite backend of the metadata store; see store.h.
 *
 * One database file, shared by every thread and process of a node: each
 * opens its own handle (a handle is used by one thread at a time, so the
 * connection is opened SQLITE_OPEN_NOMUTEX). WAL lets readers run while
 * one writer commits, and the busy timeout makes a writer wait for the
 * lock instead of failing. synchronous=FULL syncs the WAL at every commit:
 * a submission the API has acknowledged survives a power cut. Every write
 * of more than one statement runs in BEGIN IMMEDIATE, which takes the
 * write lock up front; a deferred transaction that reads and then writes
 * can fail with SQLITE_BUSY however long it waits, if another connection
 * committed in between.
 *
 * Schema, version 10 (PRAGMA user_version; migrations[] below):
 *
 *   clients(id TEXT PK, token_hash BLOB(32) UNIQUE, consent INT 0..2,
 *           region TEXT, created INT)
 *   samples(n INTEGER PK, sha256 TEXT UNIQUE, md5 TEXT, sha1 TEXT,
 *           size INT, verdict TEXT, score INT, detections TEXT (JSON
 *           array), mime TEXT NULL, first_seen INT, last_seen INT,
 *           prevalence INT, analysed_at INT (0: not yet), analysis_ms
 *           REAL, blob_segment INT NULL, blob_offset INT NULL,
 *           blob_length INT NULL, because TEXT (JSON array),
 *           derived_from TEXT NULL, derived_job INT NULL)
 *       The reputation of a sample, and where its encrypted bytes are
 *       (samples.h; all three blob columns or none: an object seen only
 *       inside another sample has none). The location is written in the
 *       transaction of the submission that brought the bytes, after they
 *       were synced, so it always names a whole record. prevalence is
 *       the number of rows of sample_clients for the sample, kept in the
 *       same transaction as the insert into sample_clients so a lookup
 *       never counts. n numbers samples in arrival order and keys their
 *       job and clients: a new sample's rows all go at the end of their
 *       B-trees, so a batch of submissions writes a few pages, not ten
 *       random ones each. MD5 and SHA-1 are not indexed (and not unique:
 *       a collision is not the store's business); the node answers them
 *       from its in-memory index, built with reputation_each.
 *       derived_from and derived_job (both or neither) say that the
 *       verdict is not the sample's own analysis but was noted from the
 *       report of another sample that contained it: that sample's
 *       SHA-256 and its job. A worker's report is trusted for its own
 *       sample only; a derived verdict never replaces one of the
 *       sample's own (analysed_at != 0 without derived_from), and the
 *       sample's own analysis, or a failure of it that changes the
 *       verdict, replaces a derived one.
 *   sample_clients(sample, client_id; PK both) - who reported what.
 *       Indexed by client too (version 7), for the client's own
 *       controls (client_list, client_consent_set, client_delete).
 *   submissions(id TEXT PK, client_id, sha256, metadata TEXT (JSON
 *               object), created INT)
 *       Ids are time-ordered (UUIDv7) for the same reason as n.
 *       Indexed by (client_id, id) (version 7): a client's own list.
 *   holds(sha256, case_id; PK both, reason, operator, created)
 *       (version 9) Legal holds: a sample with a row here is exempt from
 *       retention_sweep.
 *   erasures(segment, off; PK both, length) (version 7)
 *       Records whose bytes an erasure of a client's data named, written
 *       in the commit that cleared their samples' locations, deleted once
 *       samples_erase() has erased them (erasure_done): a crash in
 *       between leaves the row, and the node erases it again at start.
 *   jobs(id INTEGER PK = samples.n, state INT 0..3 (enum job_state),
 *        attempts INT, report TEXT NULL, error TEXT NULL, updated INT)
 *       One job per sample, ever: a sample is analysed once however many
 *       clients submit it. error keeps the last failure while a job is
 *       requeued, so the next attempt's logs can say why it is retried.
 *       Queued jobs are claimed oldest (by updated, then id) first, so a
 *       retried job goes behind the jobs that waited longer.
 *
 *   fp_reports(sha256, client_id; PK both, reason TEXT (1-1024 bytes),
 *              created INT, state INT 0..2 (enum fp_state), decided INT
 *              NULL, decision TEXT NULL)
 *       Clients' false-positive reports, one per client and sample; the
 *       operator's decision (accept or reject, with a reason) closes
 *       every open report of the sample.
 *   retractions(log_index INTEGER PK, sha256, detections TEXT (JSON
 *               array), reason TEXT, created INT, undone INT NULL)
 *       Each is a `retraction` log entry (docs/LOG.md); undone is the
 *       log index of the entry that reinstated it. At most one per
 *       sample has undone NULL (a partial UNIQUE index): the one in
 *       force, laid over the sample's answers by the node.
 *   rescans(id INTEGER PK = samples.n, state INT 0..1 (queued,
 *           analysing), attempts INT, prevalence INT, last_seen INT)
 *       Stored samples (bytes present) to analyse again because the
 *       rules changed (rescan_queue). Claimed only when no job is
 *       queued, most prevalent then newest first (the sample's values
 *       when it was queued); a row is deleted when its analysis is done
 *       or has failed for good.
 *   settings(key TEXT PK, value TEXT) - "rules_generation": the
 *       SHA-256 (hex) of the rules the stored verdicts were made with.
 *   operators(name TEXT PK (a label, not "root"), token_hash BLOB(32)
 *             UNIQUE, created INT, revoked INT NULL)
 *       The operators added with `vigil admin operator add`; the
 *       bootstrap operator "root" is the data directory's
 *       operator.token, not a row. A revoked row stays: its name is
 *       never given again.
 *   stats(day TEXT PK, doc TEXT, created INT, log_index INT NULL)
 *       (version 9) Each day's published statistics (docs/STATS.md),
 *       the exact bytes served: inserted once and never updated, so
 *       the noise in them is drawn once; log_index is their `stats` log
 *       entry, recorded once it is durable.
 *
 * Version 1 had the same tables keyed by SHA-256, and samples in files;
 * its migration keeps every row and fails the jobs it cannot run.
 *
 * Tables are STRICT, with foreign keys and CHECKs on hashes and enums, so
 * this code cannot write a row that makes no sense. Rows are still
 * checked on every read: a file can be damaged or edited by other tools,
 * and such a row is VG_ECORRUPT with the column named in s->err.
 *
 * All SQL is constant text; data is only ever bound as parameters. The
 * statements of the operations are prepared once at open and reset after
 * each use.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/err.h"
#include "common/hex.h"
#include "common/xmalloc.h"
#include "store/store_impl.h"
#include "store/walbuf.h"

/* How long a statement waits for another connection's write lock. */
#define STORE_BUSY_MS 5000
/* The largest string or blob stored or read (a report is the largest). */
#define STORE_MAX_VALUE (64 * 1024 * 1024)
/* The WAL is copied back into the database (a checkpoint, run by the
 * connection whose commit finds it this long) every this many pages, not
 * SQLite's 1,000: the pages every batch of submissions rewrites (the ends
 * of its B-trees, their parents) are then copied once per 10,000 frames,
 * not once per 1,000. Durable submissions went from about 10.5k to 11.8k
 * a second (docs/BENCHMARKS.md); the WAL file grows to about 40 MiB. */
#define STORE_WAL_CHECKPOINT_PAGES 10000
/* STRICT tables need 3.37; RETURNING needs 3.35. */
#define STORE_MIN_SQLITE 3037000

#define ID_MAX     STORE_ID_MAX
#define REGION_MAX STORE_REGION_MAX

/* Each entry migrates the schema from version i to i + 1, in the same
 * transaction as every other entry of the same open. */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE clients ("
	"  id TEXT PRIMARY KEY NOT NULL"
	"    CHECK (length(id) BETWEEN 1 AND 36),"
	"  token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),"
	"  consent INTEGER NOT NULL CHECK (consent BETWEEN 0 AND 2),"
	"  region TEXT NOT NULL CHECK (length(region) <= 32),"
	"  created INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE samples ("
	"  sha256 TEXT PRIMARY KEY NOT NULL CHECK (length(sha256) = 64"
	"    AND sha256 NOT GLOB '*[^0-9a-f]*'),"
	"  md5 TEXT NOT NULL UNIQUE CHECK (length(md5) = 32"
	"    AND md5 NOT GLOB '*[^0-9a-f]*'),"
	"  sha1 TEXT NOT NULL UNIQUE CHECK (length(sha1) = 40"
	"    AND sha1 NOT GLOB '*[^0-9a-f]*'),"
	"  size INTEGER NOT NULL CHECK (size >= 0),"
	"  verdict TEXT NOT NULL"
	"    CHECK (verdict IN ('malicious', 'suspicious', 'clean',"
	"                       'unknown')),"
	"  score INTEGER NOT NULL,"
	"  detections TEXT NOT NULL,"
	"  mime TEXT,"
	"  first_seen INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL,"
	"  prevalence INTEGER NOT NULL CHECK (prevalence >= 0),"
	"  analysed_at INTEGER NOT NULL CHECK (analysed_at >= 0),"
	"  analysis_ms REAL NOT NULL CHECK (analysis_ms >= 0)"
	") STRICT;"
	"CREATE TABLE sample_clients ("
	"  sha256 TEXT NOT NULL REFERENCES samples(sha256),"
	"  client_id TEXT NOT NULL REFERENCES clients(id),"
	"  PRIMARY KEY (sha256, client_id)"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE submissions ("
	"  id TEXT PRIMARY KEY NOT NULL"
	"    CHECK (length(id) BETWEEN 1 AND 36),"
	"  client_id TEXT NOT NULL REFERENCES clients(id),"
	"  sha256 TEXT NOT NULL REFERENCES samples(sha256),"
	"  metadata TEXT NOT NULL,"
	"  created INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE jobs ("
	"  id INTEGER PRIMARY KEY,"
	"  sha256 TEXT NOT NULL UNIQUE REFERENCES samples(sha256),"
	"  state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 3),"
	"  attempts INTEGER NOT NULL CHECK (attempts >= 0),"
	"  report TEXT,"
	"  error TEXT,"
	"  updated INTEGER NOT NULL"
	") STRICT;"
	/* job_claim's ORDER BY and job_requeue_stale's WHERE. */
	"CREATE INDEX jobs_by_state ON jobs(state, updated, id);"
	"PRAGMA user_version = 1;",
	/*
	 * 1 -> 2: every row of a new submission goes where the previous
	 * submission's did, instead of into a random page of each of ten
	 * B-trees. Samples get an integer key in arrival order, which keys
	 * their job and their reporting clients too; the MD5 and SHA-1
	 * indexes go (the node answers those from memory); where a
	 * sample's bytes are is a column of its row.
	 */
	"CREATE TABLE samples_v2 ("
	"  n INTEGER PRIMARY KEY,"
	"  sha256 TEXT NOT NULL UNIQUE CHECK (length(sha256) = 64"
	"    AND sha256 NOT GLOB '*[^0-9a-f]*'),"
	"  md5 TEXT NOT NULL CHECK (length(md5) = 32"
	"    AND md5 NOT GLOB '*[^0-9a-f]*'),"
	"  sha1 TEXT NOT NULL CHECK (length(sha1) = 40"
	"    AND sha1 NOT GLOB '*[^0-9a-f]*'),"
	"  size INTEGER NOT NULL CHECK (size >= 0),"
	"  verdict TEXT NOT NULL"
	"    CHECK (verdict IN ('malicious', 'suspicious', 'clean',"
	"                       'unknown')),"
	"  score INTEGER NOT NULL,"
	"  detections TEXT NOT NULL,"
	"  mime TEXT,"
	"  first_seen INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL,"
	"  prevalence INTEGER NOT NULL CHECK (prevalence >= 0),"
	"  analysed_at INTEGER NOT NULL CHECK (analysed_at >= 0),"
	"  analysis_ms REAL NOT NULL CHECK (analysis_ms >= 0),"
	"  blob_segment INTEGER CHECK (blob_segment > 0),"
	"  blob_offset INTEGER CHECK (blob_offset >= 0),"
	"  blob_length INTEGER CHECK (blob_length > 0),"
	"  CHECK ((blob_segment IS NULL) = (blob_offset IS NULL)"
	"    AND (blob_offset IS NULL) = (blob_length IS NULL))"
	") STRICT;"
	"INSERT INTO samples_v2 (sha256, md5, sha1, size, verdict, score,"
	"  detections, mime, first_seen, last_seen, prevalence, analysed_at,"
	"  analysis_ms)"
	"  SELECT sha256, md5, sha1, size, verdict, score, detections, mime,"
	"  first_seen, last_seen, prevalence, analysed_at, analysis_ms"
	"  FROM samples ORDER BY rowid;"
	"CREATE TABLE sample_clients_v2 ("
	"  sample INTEGER NOT NULL REFERENCES samples_v2(n),"
	"  client_id TEXT NOT NULL REFERENCES clients(id),"
	"  PRIMARY KEY (sample, client_id)"
	") STRICT, WITHOUT ROWID;"
	"INSERT INTO sample_clients_v2 SELECT s.n, c.client_id"
	"  FROM sample_clients c JOIN samples_v2 s ON s.sha256 = c.sha256;"
	"CREATE TABLE jobs_v2 ("
	"  id INTEGER PRIMARY KEY REFERENCES samples_v2(n),"
	"  state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 3),"
	"  attempts INTEGER NOT NULL CHECK (attempts >= 0),"
	"  report TEXT,"
	"  error TEXT,"
	"  updated INTEGER NOT NULL"
	") STRICT;"
	/* A version 1 store kept samples as files this version does not
	 * read: their jobs cannot run again. */
	"INSERT INTO jobs_v2 SELECT s.n,"
	"  CASE WHEN j.state IN (0, 1) THEN 3 ELSE j.state END, j.attempts,"
	"  j.report, CASE WHEN j.state IN (0, 1)"
	"  THEN 'sample stored in the version 1 format' ELSE j.error END,"
	"  j.updated FROM jobs j JOIN samples_v2 s ON s.sha256 = j.sha256;"
	"CREATE TABLE submissions_v2 ("
	"  id TEXT PRIMARY KEY NOT NULL"
	"    CHECK (length(id) BETWEEN 1 AND 36),"
	"  client_id TEXT NOT NULL REFERENCES clients(id),"
	"  sha256 TEXT NOT NULL REFERENCES samples_v2(sha256),"
	"  metadata TEXT NOT NULL,"
	"  created INTEGER NOT NULL"
	") STRICT;"
	"INSERT INTO submissions_v2 SELECT id, client_id, sha256, metadata,"
	"  created FROM submissions ORDER BY rowid;"
	"DROP TABLE submissions;"
	"DROP TABLE jobs;"
	"DROP TABLE sample_clients;"
	"DROP TABLE samples;"
	"ALTER TABLE samples_v2 RENAME TO samples;"
	"ALTER TABLE sample_clients_v2 RENAME TO sample_clients;"
	"ALTER TABLE jobs_v2 RENAME TO jobs;"
	"ALTER TABLE submissions_v2 RENAME TO submissions;"
	"CREATE INDEX jobs_by_state ON jobs(state, updated, id);"
	"PRAGMA user_version = 2;",
	/*
	 * 2 -> 3: why a sample has its verdict. because is a JSON array of
	 * {"path", "name"}: which object inside the sample (its path
	 * relative to the sample, "" for the sample itself) earned which
	 * detection (docs/REPORT.md, "Containers carry what they contain").
	 */
	"ALTER TABLE samples ADD COLUMN because TEXT NOT NULL DEFAULT '[]';"
	"PRAGMA user_version = 3;",
	/*
	 * 3 -> 4: false positives. Clients' reports, one per client and
	 * sample; retractions, keyed by the log index of their entry, at
	 * most one in force (undone IS NULL) per sample. A retraction is
	 * laid over the sample's answers, never written into its verdict,
	 * so that a new analysis neither loses it nor is lost to it.
	 */
	"CREATE TABLE fp_reports ("
	"  sha256 TEXT NOT NULL REFERENCES samples(sha256),"
	"  client_id TEXT NOT NULL REFERENCES clients(id),"
	"  reason TEXT NOT NULL CHECK (length(reason) >= 1"
	"    AND length(CAST(reason AS BLOB)) <= 1024),"
	"  created INTEGER NOT NULL,"
	"  state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 2),"
	"  decided INTEGER,"
	"  decision TEXT CHECK (decision IS NULL"
	"    OR length(CAST(decision AS BLOB)) <= 1024),"
	"  PRIMARY KEY (sha256, client_id)"
	") STRICT, WITHOUT ROWID;"
	"CREATE INDEX fp_reports_by_state ON fp_reports(state, sha256);"
	"CREATE TABLE retractions ("
	"  log_index INTEGER PRIMARY KEY CHECK (log_index >= 0),"
	"  sha256 TEXT NOT NULL REFERENCES samples(sha256),"
	"  detections TEXT NOT NULL,"
	"  reason TEXT NOT NULL CHECK (length(reason) >= 1"
	"    AND length(CAST(reason AS BLOB)) <= 1024),"
	"  created INTEGER NOT NULL,"
	"  undone INTEGER CHECK (undone IS NULL OR undone > log_index)"
	") STRICT;"
	"CREATE UNIQUE INDEX retractions_in_force ON retractions(sha256)"
	"  WHERE undone IS NULL;"
	"PRAGMA user_version = 4;",
	/*
	 * 4 -> 5: re-analysis when the rules change. rescans is the queue
	 * of stored samples to analyse again (one row per sample, deleted
	 * when done), its order fixed when queued; settings holds the
	 * generation of the rules the stored verdicts were made with.
	 */
	"CREATE TABLE rescans ("
	"  id INTEGER PRIMARY KEY REFERENCES samples(n),"
	"  state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 1),"
	"  attempts INTEGER NOT NULL CHECK (attempts >= 0),"
	"  prevalence INTEGER NOT NULL CHECK (prevalence >= 0),"
	"  last_seen INTEGER NOT NULL"
	") STRICT;"
	"CREATE INDEX rescans_by_order"
	"  ON rescans(state, prevalence DESC, last_seen DESC, id);"
	"CREATE TABLE settings ("
	"  key TEXT PRIMARY KEY NOT NULL CHECK (length(key) BETWEEN 1 AND 64),"
	"  value TEXT NOT NULL CHECK (length(value) <= 1024)"
	") STRICT;"
	"PRAGMA user_version = 5;",
	/*
	 * 5 -> 6: a verdict noted from a container's report is marked as
	 * derived, with the container and its job. Rows noted before this
	 * version (those without a job of their own) are marked from the
	 * stored report that lists them, the oldest job first; one no
	 * stored report lists keeps no mark.
	 */
	"ALTER TABLE samples ADD COLUMN derived_from TEXT"
	"  CHECK (derived_from IS NULL OR (length(derived_from) = 64"
	"    AND derived_from NOT GLOB '*[^0-9a-f]*'));"
	"ALTER TABLE samples ADD COLUMN derived_job INTEGER"
	"  CHECK ((derived_job IS NULL) = (derived_from IS NULL)"
	"    AND (derived_job IS NULL OR derived_job > 0));"
	"CREATE TEMP TABLE derived_v6 AS"
	"  SELECT json_extract(o.value, '$.sha256') AS h, min(j.id) AS job"
	"  FROM jobs j, json_each(CASE WHEN json_valid(j.report)"
	"    THEN j.report ELSE '{}' END, '$.objects') o"
	"  WHERE j.report IS NOT NULL AND o.type = 'object'"
	"    AND CAST(o.key AS INTEGER) > 0"
	"    AND json_type(o.value, '$.sha256') = 'text'"
	"  GROUP BY h;"
	"UPDATE samples SET"
	"  derived_job = (SELECT d.job FROM derived_v6 d"
	"    WHERE d.h = samples.sha256),"
	"  derived_from = (SELECT c.sha256 FROM derived_v6 d"
	"    JOIN samples c ON c.n = d.job WHERE d.h = samples.sha256)"
	"  WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = samples.n)"
	"  AND EXISTS (SELECT 1 FROM derived_v6 d"
	"    JOIN samples c ON c.n = d.job WHERE d.h = samples.sha256);"
	"DROP TABLE derived_v6;"
	"PRAGMA user_version = 6;",
	/* 6 -> 7: named operators (docs/API.md, "Operators"). */
	"CREATE TABLE operators ("
	"  name TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 32"
	"    AND name NOT GLOB '*[^a-z0-9-]*' AND name <> 'root'),"
	"  token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),"
	"  created INTEGER NOT NULL,"
	"  revoked INTEGER"
	") STRICT;"
	"PRAGMA user_version = 7;",
	/*
	 * 7 -> 8: a client's own data, found by client (client_list,
	 * client_consent_set, client_delete; docs/PRIVACY.md) without
	 * reading every submission and every sample's clients.
	 */
	"CREATE INDEX IF NOT EXISTS submissions_by_client"
	"  ON submissions(client_id, id);"
	"CREATE INDEX IF NOT EXISTS sample_clients_by_client"
	"  ON sample_clients(client_id, sample);"
	"CREATE TABLE IF NOT EXISTS erasures ("
	"  segment INTEGER NOT NULL CHECK (segment > 0),"
	"  off INTEGER NOT NULL CHECK (off >= 0),"
	"  length INTEGER NOT NULL CHECK (length > 0),"
	"  PRIMARY KEY (segment, off)"
	") STRICT, WITHOUT ROWID;"
	"PRAGMA user_version = 8;",
	/*
	 * 8 -> 9: anonymised statistics, one frozen document per day
	 * (docs/STATS.md).
	 */
	"CREATE TABLE stats ("
	"  day TEXT PRIMARY KEY NOT NULL CHECK (length(day) = 10),"
	"  doc TEXT NOT NULL CHECK (length(CAST(doc AS BLOB))"
	"    BETWEEN 1 AND 1048576),"
	"  created INTEGER NOT NULL CHECK (created >= 0),"
	"  log_index INTEGER CHECK (log_index IS NULL OR log_index >= 0)"
	") STRICT;"
	"PRAGMA user_version = 9;",
	/*
	 * 9 -> 10: retention (retention_sweep; docs/PRIVACY.md) finds the
	 * oldest stored samples and the oldest submissions without reading
	 * every row.
	 */
	"CREATE INDEX IF NOT EXISTS samples_stored_by_last_seen"
	"  ON samples(last_seen, n) WHERE blob_segment IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS submissions_by_created"
	"  ON submissions(created, id);"
	"CREATE TABLE IF NOT EXISTS holds ("
	"  sha256 TEXT NOT NULL,"
	"  case_id TEXT NOT NULL CHECK (length(case_id) BETWEEN 1 AND 64),"
	"  reason TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 1024),"
	"  operator TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  PRIMARY KEY (sha256, case_id)"
	") STRICT, WITHOUT ROWID;"
	"PRAGMA user_version = 10;",
};

#define SCHEMA_VERSION ((int64_t)(sizeof(migrations) / sizeof(migrations[0])))

/* In a sample's upsert: the row has no bytes and this submission brings
 * them. Its hashes and size were computed here from the bytes, so they
 * replace what a client stated without bytes (metadata, docs/API.md):
 * a statement cannot lock a sample's real bytes out. */
#define BYTES_WIN                                                              \
	"(blob_segment IS NULL AND excluded.blob_segment IS NOT NULL)"

/* The columns read_reputation() expects, in order. */
#define REP_COLS                                                               \
	"md5, sha1, sha256, verdict, score, detections, size, mime, "          \
	"first_seen, last_seen, prevalence, analysed_at, analysis_ms, "        \
	"because, derived_from, derived_job"
#define REP_NCOLS 16
#define JOB_COLS                                                               \
	"id, (SELECT sha256 FROM samples WHERE samples.n = jobs.id), state, "  \
	"attempts, report, error, updated"

enum stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_BLOB_GET,
	ST_CLIENT_PUT,
	ST_CLIENT_BY_TOKEN,
	ST_SAMPLE_UPSERT,
	ST_SAMPLE_CLIENT,
	ST_PREVALENCE,
	ST_JOB_QUEUE,
	ST_SUB_INSERT,
	ST_SUB_GET,
	ST_JOB_CLAIM,
	ST_JOB_MARK_CORRUPT,
	ST_JOB_BY_SHA256,
	ST_JOB_STATE,
	ST_JOB_FINISH,
	ST_SAMPLE_VERDICT,
	ST_JOB_FAIL,
	ST_JOB_REQUEUE,
	ST_REP_SHA256,
	ST_REP_NOTE,
	ST_JOBS_QUEUED,
	ST_REP_FAIL,
	ST_FP_ADD,
	ST_FP_OPEN_COUNT,
	ST_FP_OPEN,
	ST_FP_DECIDE,
	ST_RETR_ADD,
	ST_RETR_UNDO,
	ST_RETR_GET,
	ST_SETTING_GET,
	ST_SETTING_PUT,
	ST_RESCAN_QUEUE,
	ST_RESCAN_CLAIM,
	ST_RESCAN_DONE,
	ST_RESCAN_OLD,
	ST_RESCAN_REPORT,
	ST_RESCAN_VERDICT,
	ST_RESCAN_RETRY,
	ST_RESCAN_DROP,
	ST_RESCAN_REQUEUE,
	ST_RESCANS_QUEUED,
	ST_REP_RENOTE,
	ST_OP_ADD,
	ST_OP_GET,
	ST_OP_BY_TOKEN,
	ST_OP_REVOKE,
	ST_STATS_PUT,
	ST_STATS_GET,
	ST_STATS_LOG,
	ST_COUNT
};

/* The columns read_operator() expects, in order. */
#define OP_COLS "name, token_hash, created, revoked"

/* The columns read_retraction() expects, in order. */
#define RETR_COLS "sha256, log_index, detections, reason, created"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT item",
	[ST_RELEASE] = "RELEASE item",
	[ST_ROLLBACK_TO] = "ROLLBACK TO item",
	[ST_BLOB_GET] = "SELECT blob_segment, blob_offset, blob_length"
			" FROM samples WHERE sha256 = ?1",
	[ST_CLIENT_PUT] =
		"INSERT INTO clients (id, token_hash, consent, region, created)"
		" VALUES (?1, ?2, ?3, ?4, ?5)"
		" ON CONFLICT (id) DO UPDATE SET token_hash = "
		"excluded.token_hash,"
		" consent = excluded.consent, region = excluded.region,"
		" created = excluded.created",
	[ST_CLIENT_BY_TOKEN] = "SELECT id, token_hash, consent, region, created"
			       " FROM clients WHERE token_hash = ?1",
	/* A known sample must agree on every hash and the size: the WHERE
	 * makes a disagreeing upsert change nothing, which the caller sees
	 * as zero changes. Where the bytes are (?6-?8, or NULLs): the first
	 * location recorded stays (the three are NULL together or set
	 * together). */
	[ST_SAMPLE_UPSERT] =
		"INSERT INTO samples (sha256, md5, sha1, size, verdict, score,"
		" detections, mime, first_seen, last_seen, prevalence,"
		" analysed_at, analysis_ms, blob_segment, blob_offset,"
		" blob_length)"
		" VALUES (?1, ?2, ?3, ?4, 'unknown', 0, '[]', NULL, ?5, ?5, 0,"
		" 0, 0, ?6, ?7, ?8)"
		" ON CONFLICT (sha256) DO UPDATE SET"
		" md5 = CASE WHEN " BYTES_WIN " THEN excluded.md5 ELSE md5 END,"
		" sha1 = CASE WHEN " BYTES_WIN " THEN excluded.sha1"
		" ELSE sha1 END,"
		" size = CASE WHEN " BYTES_WIN " THEN excluded.size"
		" ELSE size END,"
		" first_seen = min(first_seen, excluded.first_seen),"
		" last_seen = max(last_seen, excluded.last_seen),"
		" blob_segment = coalesce(blob_segment, excluded.blob_segment),"
		" blob_offset = coalesce(blob_offset, excluded.blob_offset),"
		" blob_length = coalesce(blob_length, excluded.blob_length)"
		" WHERE (md5 = excluded.md5 AND sha1 = excluded.sha1"
		" AND size = excluded.size) OR " BYTES_WIN
		" RETURNING " REP_COLS ", n",
	[ST_SAMPLE_CLIENT] = "INSERT INTO sample_clients (sample, client_id)"
			     " VALUES (?1, ?2) ON CONFLICT DO NOTHING",
	[ST_PREVALENCE] = "UPDATE samples SET prevalence = prevalence + 1"
			  " WHERE n = ?1",
	[ST_JOB_QUEUE] = "INSERT INTO jobs (id, state, attempts, updated)"
			 " VALUES (?1, 0, 0, ?2) ON CONFLICT (id) DO NOTHING",
	[ST_SUB_INSERT] = "INSERT INTO submissions (id, client_id, sha256,"
			  " metadata, created) VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_SUB_GET] = "SELECT id, client_id, sha256, metadata, created"
		       " FROM submissions WHERE id = ?1",
	/* One statement, so the read of the oldest queued job and its
	 * update are one write transaction: two workers never claim the
	 * same job. The literal states let the planner use jobs_by_state. */
	[ST_JOB_CLAIM] = "UPDATE jobs SET state = 1, attempts = attempts + 1,"
			 " updated = ?1 WHERE id = (SELECT id FROM jobs"
			 " WHERE state = 0 ORDER BY updated, id LIMIT 1)"
			 " RETURNING " JOB_COLS,
	[ST_JOB_MARK_CORRUPT] = "UPDATE jobs SET state = 3,"
				" error = 'corrupt job row', updated = ?2"
				" WHERE id = ?1",
	[ST_JOB_BY_SHA256] = "SELECT " JOB_COLS " FROM jobs WHERE id ="
			     " (SELECT n FROM samples WHERE sha256 = ?1)",
	[ST_JOB_STATE] = "SELECT state FROM jobs WHERE id = ?1",
	[ST_JOB_FINISH] =
		"UPDATE jobs SET state = 2, report = ?2, error = NULL,"
		" updated = ?3 WHERE id = ?1 AND state = 1"
		" RETURNING (SELECT sha256 FROM samples WHERE n = jobs.id)",
	[ST_SAMPLE_VERDICT] =
		"UPDATE samples SET verdict = ?2, score = ?3, detections = ?4,"
		" mime = ?5, analysed_at = ?6, analysis_ms = ?7, because = ?8,"
		" derived_from = NULL, derived_job = NULL"
		" WHERE sha256 = ?1",
	[ST_JOB_FAIL] = "UPDATE jobs SET state = CASE WHEN attempts < ?2"
			" THEN 0 ELSE 3 END, error = ?3, updated = ?4"
			" WHERE id = ?1 AND state = 1",
	[ST_JOB_REQUEUE] = "UPDATE jobs SET state = 0, updated = ?1"
			   " WHERE state = 1",
	[ST_REP_SHA256] = "SELECT " REP_COLS " FROM samples WHERE sha256 = ?1",
	[ST_JOBS_QUEUED] = "SELECT count(*) FROM jobs WHERE state = 0",
	[ST_FP_ADD] = "INSERT INTO fp_reports (sha256, client_id, reason,"
		      " created, state) VALUES (?1, ?2, ?3, ?4, 0)",
	[ST_FP_OPEN_COUNT] = "SELECT count(*) FROM fp_reports"
			     " WHERE state = 0 AND sha256 = ?1",
	[ST_FP_OPEN] = "SELECT sha256, reason, created FROM fp_reports"
		       " WHERE state = 0 ORDER BY sha256, created",
	[ST_FP_DECIDE] = "UPDATE fp_reports SET state = ?2, decided = ?3,"
			 " decision = ?4 WHERE state = 0 AND sha256 = ?1",
	[ST_RETR_ADD] = "INSERT INTO retractions (log_index, sha256,"
			" detections, reason, created)"
			" VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_RETR_UNDO] = "UPDATE retractions SET undone = ?2"
			 " WHERE sha256 = ?1 AND undone IS NULL",
	[ST_RETR_GET] = "SELECT " RETR_COLS " FROM retractions"
			" WHERE sha256 = ?1 AND undone IS NULL",
	[ST_OP_ADD] = "INSERT INTO operators (name, token_hash, created)"
		      " VALUES (?1, ?2, ?3)",
	[ST_OP_GET] = "SELECT " OP_COLS " FROM operators WHERE name = ?1",
	[ST_OP_BY_TOKEN] = "SELECT " OP_COLS " FROM operators"
			   " WHERE token_hash = ?1 AND revoked IS NULL",
	[ST_OP_REVOKE] = "UPDATE operators SET revoked = ?2"
			 " WHERE name = ?1 AND revoked IS NULL",
	[ST_SETTING_GET] = "SELECT value FROM settings WHERE key = ?1",
	/* The first document of a day stays: never replaced. */
	[ST_STATS_PUT] = "INSERT INTO stats (day, doc, created)"
			 " VALUES (?1, ?2, ?3) ON CONFLICT (day) DO NOTHING",
	[ST_STATS_GET] = "SELECT day, doc, created, log_index FROM stats"
			 " WHERE day = ?1",
	[ST_STATS_LOG] = "UPDATE stats SET log_index = ?2"
			 " WHERE day = ?1 AND log_index IS NULL",
	[ST_SETTING_PUT] = "INSERT INTO settings (key, value) VALUES (?1, ?2)"
			   " ON CONFLICT (key) DO UPDATE SET"
			   " value = excluded.value",
	/* Every sample whose bytes are stored and whose job has started
	 * (a queued job will meet the new rules anyway); a row already
	 * there starts over. WHERE true: SQLite's parser needs it before
	 * an upsert's ON CONFLICT after a SELECT. */
	[ST_RESCAN_QUEUE] =
		"INSERT INTO rescans (id, state, attempts, prevalence,"
		" last_seen) SELECT s.n, 0, 0, s.prevalence, s.last_seen"
		" FROM samples s JOIN jobs j ON j.id = s.n"
		" WHERE s.blob_segment IS NOT NULL AND j.state <> 0"
		" ON CONFLICT (id) DO UPDATE SET state = 0, attempts = 0,"
		" prevalence = excluded.prevalence,"
		" last_seen = excluded.last_seen",
	[ST_RESCAN_CLAIM] =
		"UPDATE rescans SET state = 1, attempts = attempts + 1"
		" WHERE id = (SELECT id FROM rescans WHERE state = 0"
		" ORDER BY prevalence DESC, last_seen DESC, id LIMIT 1)"
		" RETURNING id, (SELECT sha256 FROM samples"
		" WHERE samples.n = rescans.id), attempts",
	[ST_RESCAN_DONE] = "DELETE FROM rescans WHERE id = ?1 AND state = 1",
	[ST_RESCAN_OLD] = "SELECT verdict FROM samples WHERE n = ?1",
	[ST_RESCAN_REPORT] = "UPDATE jobs SET report = ?2, updated = ?3"
			     " WHERE id = ?1 AND state = 2",
	[ST_RESCAN_VERDICT] =
		"UPDATE samples SET verdict = ?2, score = ?3, detections = ?4,"
		" mime = ?5, analysed_at = ?6, analysis_ms = ?7, because = ?8,"
		" derived_from = NULL, derived_job = NULL"
		" WHERE n = ?1",
	[ST_RESCAN_RETRY] = "UPDATE rescans SET state = 0"
			    " WHERE id = ?1 AND state = 1 AND attempts < ?2",
	[ST_RESCAN_DROP] = "DELETE FROM rescans WHERE id = ?1 AND state = 1",
	[ST_RESCAN_REQUEUE] = "UPDATE rescans SET state = 0 WHERE state = 1",
	[ST_RESCANS_QUEUED] = "SELECT count(*) FROM rescans WHERE state = 0",
	/* A re-analysis re-judges the objects inside the sample, unless
	 * one was analysed on its own (it has a job): derived from it now. */
	[ST_REP_RENOTE] =
		"UPDATE samples SET verdict = ?5, score = ?6, detections = ?7,"
		" mime = ?8, analysed_at = ?9, analysis_ms = ?10,"
		" because = ?11, derived_from = ?12, derived_job = ?13"
		" WHERE sha256 = ?1 AND md5 = ?2 AND sha1 = ?3 AND size = ?4"
		" AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = "
		"samples.n)",
	/* An object's verdict from inside a container, derived from it
	 * (?12, its job ?13), never overrides the analysis of that object
	 * submitted on its own, nor an earlier note (analysed_at != 0). */
	[ST_REP_NOTE] =
		"INSERT INTO samples (sha256, md5, sha1, size, verdict, score,"
		" detections, mime, first_seen, last_seen, prevalence,"
		" analysed_at, analysis_ms, because, derived_from, derived_job)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, 0, ?9, ?10,"
		" ?11, ?12, ?13)"
		" ON CONFLICT (sha256) DO UPDATE SET verdict = "
		"excluded.verdict,"
		" score = excluded.score, detections = excluded.detections,"
		" because = excluded.because, mime = excluded.mime,"
		" analysed_at = excluded.analysed_at,"
		" analysis_ms = excluded.analysis_ms,"
		" derived_from = excluded.derived_from,"
		" derived_job = excluded.derived_job,"
		" last_seen = max(last_seen, excluded.last_seen)"
		" WHERE analysed_at = 0 AND md5 = excluded.md5"
		" AND sha1 = excluded.sha1 AND size = excluded.size",
	/* A failed analysis is never clean, whoever wrote the verdict first:
	 * clean and unknown become suspicious (score at least 50), the
	 * sample's own verdict (no longer derived); a suspicious or
	 * malicious verdict stays, with its detections (and where it was
	 * derived from). The reason (?2) is added to the detections and to
	 * because (as the sample's own), once. */
	[ST_REP_FAIL] =
		"UPDATE samples SET"
		" derived_from = CASE WHEN verdict IN ('clean', 'unknown')"
		" THEN NULL ELSE derived_from END,"
		" derived_job = CASE WHEN verdict IN ('clean', 'unknown')"
		" THEN NULL ELSE derived_job END,"
		" verdict = CASE WHEN verdict IN ('clean', 'unknown')"
		" THEN 'suspicious' ELSE verdict END,"
		" score = CASE WHEN verdict IN ('clean', 'unknown')"
		" THEN max(score, 50) ELSE score END,"
		" detections = CASE WHEN json_type(detections) IS NOT 'array'"
		" THEN json_array(?2) WHEN EXISTS (SELECT 1 FROM"
		" json_each(samples.detections) WHERE value = ?2)"
		" THEN detections ELSE json_insert(detections, '$[#]', ?2) END,"
		" because = CASE WHEN json_type(because) IS NOT 'array'"
		" THEN json_array(json_object('path', '', 'name', ?2))"
		" WHEN EXISTS (SELECT 1 FROM json_each(samples.because)"
		" WHERE json_extract(value, '$.name') = ?2) THEN because"
		" ELSE json_insert(because, '$[#]',"
		" json_object('path', '', 'name', ?2)) END,"
		" analysed_at = ?3, analysis_ms = ?4"
		" WHERE sha256 = ?1",
};

struct store_sqlite {
	struct store base; /* first: callers hold &base */
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	bool gathers; /* opened on walbuf_vfs(): synchronous stays FULL */
};

static const struct store_ops sqlite_ops;

static struct store_sqlite *
to_sqlite(struct store *s)
{
	return (struct store_sqlite *)s;
}

static void seterr(struct store_sqlite *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
seterr(struct store_sqlite *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->base.err, sizeof(s->base.err), fmt, ap);
	va_end(ap);
}

/* Maps an (extended) SQLite result code to a VG_E* code. */
static int
map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		/* The only foreign keys a caller can miss are the client and
		 * the sample it names. */
		return rc == SQLITE_CONSTRAINT_FOREIGNKEY ? VG_ENOENT
							  : VG_EINVAL;
	case SQLITE_NOMEM: return VG_ENOMEM;
	case SQLITE_TOOBIG: return VG_ELIMIT;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB: return VG_ECORRUPT;
	}
	return VG_EIO;
}

/* Records a failed SQLite call; returns the VG_E* code for it. */
static int
dberr(struct store_sqlite *s, int rc, const char *what)
{
	seterr(s, "%s: %s", what, sqlite3_errmsg(s->db));
	return map_rc(rc);
}

static int
corrupt(struct store_sqlite *s, sqlite3_stmt *st, int col, const char *why)
{
	seterr(s, "corrupt row: %s %s", sqlite3_column_name(st, col), why);
	return VG_ECORRUPT;
}

/* Resets a statement after use and drops its bindings: parameters are
 * bound SQLITE_STATIC, and the caller's strings die after the call. */
static void
done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static int
step(struct store_sqlite *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	return dberr(s, rc, what);
}

/* Steps a statement that returns no row; 0 or a VG_E* code. */
static int
run(struct store_sqlite *s, sqlite3_stmt *st, const char *what)
{
	int rc = step(s, st, what);

	if (rc == SQLITE_ROW) {
		seterr(s, "%s: unexpected row", what);
		return VG_EIO;
	}
	return rc == SQLITE_DONE ? 0 : rc;
}

/* Steps a statement that answers one count. */
static int
count_of(struct store_sqlite *s, sqlite3_stmt *st, const char *what,
	 uint64_t *n)
{
	int rc = step(s, st, what);

	if (rc == SQLITE_ROW) {
		int64_t v = sqlite3_column_int64(st, 0);
		*n = v < 0 ? 0 : (uint64_t)v;
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		seterr(s, "%s: no row", what);
		rc = VG_EIO;
	}
	return rc;
}

/* Steps a statement that answers rows: 1 for a row, 0 at the end, or a
 * VG_E* code. */
static int
next_row(struct store_sqlite *s, sqlite3_stmt *st, const char *what)
{
	int rc = step(s, st, what);

	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : rc;
}

/* Prepares the SELECT of one call of an each operation, not once at
 * open: its callback may use the store, even the same operation. The
 * caller finalizes *st. */
static int
prepare_each(struct store_sqlite *s, const char *sql, const char *what,
	     sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? 0 : dberr(s, rc, what);
}

static int
bind_text(struct store_sqlite *s, sqlite3_stmt *st, int i, const char *v)
{
	int rc;

	if (v == NULL)
		rc = sqlite3_bind_null(st, i);
	else
		rc = sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	return rc == SQLITE_OK ? 0 : dberr(s, rc, "bind");
}

static int
bind_i64(struct store_sqlite *s, sqlite3_stmt *st, int i, int64_t v)
{
	int rc = sqlite3_bind_int64(st, i, (sqlite3_int64)v);

	return rc == SQLITE_OK ? 0 : dberr(s, rc, "bind");
}

static int
bind_blob(struct store_sqlite *s, sqlite3_stmt *st, int i, const void *p, int n)
{
	int rc = sqlite3_bind_blob(st, i, p, n, SQLITE_STATIC);

	return rc == SQLITE_OK ? 0 : dberr(s, rc, "bind");
}

static int
bind_double(struct store_sqlite *s, sqlite3_stmt *st, int i, double v)
{
	int rc = sqlite3_bind_double(st, i, v);

	return rc == SQLITE_OK ? 0 : dberr(s, rc, "bind");
}

/* Binds the columns reputation_note and objects_renote_many write, of
 * a reputation already checked, t as when it was seen. */
static int
bind_reputation(struct store_sqlite *s, sqlite3_stmt *st,
		const struct reputation *r, int64_t t)
{
	int rc;

	if ((rc = bind_text(s, st, 1, r->sha256)) != 0 ||
	    (rc = bind_text(s, st, 2, r->md5)) != 0 ||
	    (rc = bind_text(s, st, 3, r->sha1)) != 0 ||
	    (rc = bind_i64(s, st, 4, (int64_t)r->size)) != 0 ||
	    (rc = bind_text(s, st, 5, r->verdict)) != 0 ||
	    (rc = bind_i64(s, st, 6, r->score)) != 0 ||
	    (rc = bind_text(s, st, 7, r->detections)) != 0 ||
	    (rc = bind_text(s, st, 8, r->type)) != 0 ||
	    (rc = bind_i64(s, st, 9, t)) != 0 ||
	    (rc = bind_double(s, st, 10, r->analysis_ms)) != 0 ||
	    (rc = bind_text(s, st, 11, r->because ? r->because : "[]")) != 0 ||
	    (rc = bind_text(s, st, 12, r->derived_from)) != 0)
		return rc;
	return bind_i64(s, st, 13, r->derived_job);
}

/* Binds parameters 2 to 8 of the statements that record an analysis
 * (ST_SAMPLE_VERDICT, ST_RESCAN_VERDICT); parameter 1 names the sample. */
static int
bind_verdict(struct store_sqlite *s, sqlite3_stmt *st, const char *verdict,
	     int score, const char *detections_json, const char *because_json,
	     const char *mime, int64_t t, double analysis_ms)
{
	int rc;

	if ((rc = bind_text(s, st, 2, verdict)) != 0 ||
	    (rc = bind_i64(s, st, 3, score)) != 0 ||
	    (rc = bind_text(s, st, 4, detections_json)) != 0 ||
	    (rc = bind_text(s, st, 5, mime)) != 0 ||
	    (rc = bind_i64(s, st, 6, t)) != 0 ||
	    (rc = bind_double(s, st, 7, analysis_ms)) != 0)
		return rc;
	return bind_text(s, st, 8, because_json ? because_json : "[]");
}

static int
tx_begin(struct store_sqlite *s)
{
	int rc = run(s, s->st[ST_BEGIN], "begin");

	done(s->st[ST_BEGIN]);
	return rc;
}

/* Rolls back the open transaction, if any; every statement of it must
 * have been reset. */
static void
tx_rollback(struct store_sqlite *s)
{
	if (sqlite3_get_autocommit(s->db))
		return;
	(void)sqlite3_step(s->st[ST_ROLLBACK]);
	done(s->st[ST_ROLLBACK]);
}

static int
tx_commit(struct store_sqlite *s)
{
	int rc = run(s, s->st[ST_COMMIT], "commit");

	done(s->st[ST_COMMIT]);
	return rc;
}

/* Binds key (checked by the caller) as parameter 1 and steps for the
 * one row it names: SQLITE_ROW, VG_ENOENT when there is none, or a VG_E*
 * code. The caller reads the row, then resets st. */
static int
lookup(struct store_sqlite *s, sqlite3_stmt *st, const char *key,
       const char *what)
{
	int rc = bind_text(s, st, 1, key);

	if (rc == 0)
		rc = step(s, st, what);
	return rc == SQLITE_DONE ? VG_ENOENT : rc;
}

/* lookup() of a SHA-256, refused (VG_EINVAL) unless it is 64 lowercase
 * hex digits. */
static int
lookup_sha256(struct store_sqlite *s, sqlite3_stmt *st, const char *sha256,
	      const char *what)
{
	if (!store_valid_hash(sha256, 64)) {
		seterr(s, "%s: not a SHA-256", what);
		return VG_EINVAL;
	}
	return lookup(s, st, sha256, what);
}

/* Column readers: each checks the stored type and value before copying,
 * and names the column when the row makes no sense. */

static int
col_textp(struct store_sqlite *s, sqlite3_stmt *st, int i,
	  const unsigned char **p, size_t *n)
{
	if (sqlite3_column_type(st, i) != SQLITE_TEXT)
		return corrupt(s, st, i, "is not text");
	/* column_text before column_bytes: the order SQLite documents. */
	*p = sqlite3_column_text(st, i);
	if (*p == NULL) {
		seterr(s, "out of memory reading %s",
		       sqlite3_column_name(st, i));
		return VG_ENOMEM;
	}
	*n = (size_t)sqlite3_column_bytes(st, i);
	if (memchr(*p, '\0', *n) != NULL)
		return corrupt(s, st, i, "contains a NUL byte");
	return 0;
}

static int
col_hex(struct store_sqlite *s, sqlite3_stmt *st, int i, size_t len, char *out)
{
	const unsigned char *p;
	size_t n;
	int rc;

	if ((rc = col_textp(s, st, i, &p, &n)) != 0)
		return rc;
	if (n != len || !hex_is_lower((const char *)p, n))
		return corrupt(s, st, i, "is not a lowercase hex digest");
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

/* Text into a fixed array of max + 1 bytes. */
static int
col_str(struct store_sqlite *s, sqlite3_stmt *st, int i, size_t min, size_t max,
	char *out)
{
	const unsigned char *p;
	size_t n;
	int rc;

	if ((rc = col_textp(s, st, i, &p, &n)) != 0)
		return rc;
	if (n < min || n > max)
		return corrupt(s, st, i, "has a length out of range");
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static int
col_dup(struct store_sqlite *s, sqlite3_stmt *st, int i, bool nullable,
	char **out)
{
	const unsigned char *p;
	size_t n;
	int rc;

	*out = NULL;
	if (nullable && sqlite3_column_type(st, i) == SQLITE_NULL)
		return 0;
	if ((rc = col_textp(s, st, i, &p, &n)) != 0)
		return rc;
	*out = xmalloc(n + 1);
	memcpy(*out, p, n);
	(*out)[n] = '\0';
	return 0;
}

static int
col_i64(struct store_sqlite *s, sqlite3_stmt *st, int i, int64_t min,
	int64_t max, int64_t *out)
{
	int64_t v;

	if (sqlite3_column_type(st, i) != SQLITE_INTEGER)
		return corrupt(s, st, i, "is not an integer");
	v = (int64_t)sqlite3_column_int64(st, i);
	if (v < min || v > max)
		return corrupt(s, st, i, "is out of range");
	*out = v;
	return 0;
}

/* Reads columns first..first + 2 of st, a record's segment, offset and
 * length (samples.h), into *out. */
static int
col_loc(struct store_sqlite *s, sqlite3_stmt *st, int first,
	struct sample_loc *out)
{
	int64_t seg, off, len;
	int rc;

	if ((rc = col_i64(s, st, first, 1, INT64_MAX, &seg)) != 0 ||
	    (rc = col_i64(s, st, first + 1, 0, INT64_MAX, &off)) != 0 ||
	    (rc = col_i64(s, st, first + 2, 1, INT64_MAX, &len)) != 0)
		return rc;
	out->segment = (uint64_t)seg;
	out->offset = (uint64_t)off;
	out->length = (uint64_t)len;
	return 0;
}

static int
read_client(struct store_sqlite *s, sqlite3_stmt *st, struct client *out)
{
	const void *blob;
	int64_t consent;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = col_str(s, st, 0, 1, ID_MAX, out->id)) != 0)
		goto out;
	if (sqlite3_column_type(st, 1) != SQLITE_BLOB ||
	    sqlite3_column_bytes(st, 1) != 32) {
		rc = corrupt(s, st, 1, "is not a 32-byte blob");
		goto out;
	}
	blob = sqlite3_column_blob(st, 1);
	if (blob == NULL) {
		rc = VG_ENOMEM;
		goto out;
	}
	memcpy(out->token_hash, blob, 32);
	if ((rc = col_i64(s, st, 2, CONSENT_NONE, CONSENT_FILES, &consent)) !=
	    0)
		goto out;
	out->consent = (enum consent)consent;
	if ((rc = col_str(s, st, 3, 0, REGION_MAX, out->region)) != 0)
		goto out;
	rc = col_i64(s, st, 4, INT64_MIN, INT64_MAX, &out->created);
out:
	if (rc != 0)
		client_clear(out);
	return rc;
}

static int
read_submission(struct store_sqlite *s, sqlite3_stmt *st,
		struct submission *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = col_str(s, st, 0, 1, ID_MAX, out->id)) != 0 ||
	    (rc = col_str(s, st, 1, 1, ID_MAX, out->client_id)) != 0 ||
	    (rc = col_hex(s, st, 2, 64, out->sha256)) != 0 ||
	    (rc = col_dup(s, st, 3, false, &out->metadata)) != 0 ||
	    (rc = col_i64(s, st, 4, INT64_MIN, INT64_MAX, &out->created)) != 0)
		submission_clear(out);
	return rc;
}

/* Reads the columns of JOB_COLS. */
static int
read_job(struct store_sqlite *s, sqlite3_stmt *st, struct job *out)
{
	int64_t state, attempts;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = col_i64(s, st, 0, 1, INT64_MAX, &out->id)) != 0 ||
	    (rc = col_hex(s, st, 1, 64, out->sha256)) != 0 ||
	    (rc = col_i64(s, st, 2, JOB_QUEUED, JOB_FAILED, &state)) != 0 ||
	    (rc = col_i64(s, st, 3, 0, INT_MAX, &attempts)) != 0 ||
	    (rc = col_dup(s, st, 4, true, &out->report)) != 0 ||
	    (rc = col_dup(s, st, 5, true, &out->error)) != 0 ||
	    (rc = col_i64(s, st, 6, INT64_MIN, INT64_MAX, &out->updated)) != 0)
		goto out;
	out->state = (enum job_state)state;
	out->attempts = (int)attempts;
	if (out->state == JOB_DONE && out->report == NULL)
		rc = corrupt(s, st, 4, "is NULL in a finished job");
out:
	if (rc != 0)
		job_clear(out);
	return rc;
}

/* Reads the columns of REP_COLS. */
static int
read_reputation(struct store_sqlite *s, sqlite3_stmt *st,
		struct reputation *out)
{
	int64_t score, size, prevalence;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = col_hex(s, st, 0, 32, out->md5)) != 0 ||
	    (rc = col_hex(s, st, 1, 40, out->sha1)) != 0 ||
	    (rc = col_hex(s, st, 2, 64, out->sha256)) != 0 ||
	    (rc = col_dup(s, st, 3, false, &out->verdict)) != 0)
		goto out;
	if (!store_valid_verdict(out->verdict, strlen(out->verdict))) {
		rc = corrupt(s, st, 3, "is not a known verdict");
		goto out;
	}
	if ((rc = col_i64(s, st, 4, INT_MIN, INT_MAX, &score)) != 0 ||
	    (rc = col_dup(s, st, 5, false, &out->detections)) != 0 ||
	    (rc = col_i64(s, st, 6, 0, INT64_MAX, &size)) != 0 ||
	    (rc = col_dup(s, st, 7, true, &out->type)) != 0 ||
	    (rc = col_i64(s, st, 8, INT64_MIN, INT64_MAX, &out->first_seen)) !=
		    0 ||
	    (rc = col_i64(s, st, 9, out->first_seen, INT64_MAX,
			  &out->last_seen)) != 0 ||
	    (rc = col_i64(s, st, 10, 0, INT64_MAX, &prevalence)) != 0 ||
	    (rc = col_i64(s, st, 11, 0, INT64_MAX, &out->analysed_at)) != 0)
		goto out;
	out->score = (int)score;
	out->size = (uint64_t)size;
	out->prevalence = (uint64_t)prevalence;
	/* A STRICT REAL column hands back whole numbers as REAL, but accept
	 * either. */
	if ((sqlite3_column_type(st, 12) != SQLITE_FLOAT &&
	     sqlite3_column_type(st, 12) != SQLITE_INTEGER) ||
	    !isfinite(sqlite3_column_double(st, 12)) ||
	    sqlite3_column_double(st, 12) < 0) {
		rc = corrupt(s, st, 12, "is not a duration");
		goto out;
	}
	out->analysis_ms = sqlite3_column_double(st, 12);
	if ((rc = col_dup(s, st, 13, false, &out->because)) != 0)
		goto out;
	/* A JSON array, as written; the readers parse it. */
	if (out->because[0] != '[' ||
	    out->because[strlen(out->because) - 1] != ']') {
		rc = corrupt(s, st, 13, "is not a JSON array");
		goto out;
	}
	/* Derived: from a sample and its job, both or neither. */
	if (sqlite3_column_type(st, 14) == SQLITE_NULL &&
	    sqlite3_column_type(st, 15) == SQLITE_NULL)
		goto out;
	if ((rc = col_hex(s, st, 14, 64, out->derived_from)) != 0 ||
	    (rc = col_i64(s, st, 15, 1, INT64_MAX, &out->derived_job)) != 0)
		goto out;
	if (strcmp(out->derived_from, out->sha256) == 0)
		rc = corrupt(s, st, 14, "names the sample itself");
out:
	if (rc != 0)
		reputation_clear(out);
	return rc;
}

static int64_t
now(void)
{
	return (int64_t)time(NULL);
}

/* Operations */

static int
op_close(struct store *base)
{
	struct store_sqlite *s = to_sqlite(base);
	int rc = 0;

	if (s == NULL)
		return 0;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	/* The last connection to close checkpoints the WAL into the file. */
	if (sqlite3_close(s->db) != SQLITE_OK)
		rc = VG_EIO;
	free(s);
	return rc;
}

static int
op_client_put(struct store *base, const struct client *c)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_CLIENT_PUT];
	int rc;

	if (!store_valid_client(c)) {
		seterr(s, "client_put: invalid client");
		return VG_EINVAL;
	}
	if ((rc = bind_text(s, st, 1, c->id)) != 0 ||
	    (rc = bind_blob(s, st, 2, c->token_hash, 32)) != 0 ||
	    (rc = bind_i64(s, st, 3, c->consent)) != 0 ||
	    (rc = bind_text(s, st, 4, c->region)) != 0 ||
	    (rc = bind_i64(s, st, 5, c->created)) != 0)
		goto out;
	/* A token hash already held by another client is a UNIQUE
	 * violation, VG_EINVAL. */
	rc = run(s, st, "client_put");
out:
	done(st);
	return rc;
}

static int
op_client_by_token_hash(struct store *base, const uint8_t hash[32],
			struct client *out)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_CLIENT_BY_TOKEN];
	int rc;

	memset(out, 0, sizeof(*out));
	if (hash == NULL)
		return VG_EINVAL;
	if ((rc = bind_blob(s, st, 1, hash, 32)) != 0)
		goto out;
	rc = step(s, st, "client_by_token_hash");
	if (rc == SQLITE_ROW)
		rc = read_client(s, st, out);
	else if (rc == SQLITE_DONE)
		rc = VG_ENOENT;
out:
	done(st);
	return rc;
}

/* Runs one statement that takes no parameters and answers nothing. */
static int
run_plain(struct store_sqlite *s, enum stmt which, const char *what)
{
	int rc = run(s, s->st[which], what);

	done(s->st[which]);
	return rc;
}

/* Reads the state of sample n's job, named sha256 in messages (after a
 * submission, for its answer). */
static int
job_state_of(struct store_sqlite *s, int64_t n, const char *sha256,
	     enum job_state *out)
{
	sqlite3_stmt *st = s->st[ST_JOB_STATE];
	int64_t state;
	int rc;

	if ((rc = bind_i64(s, st, 1, n)) != 0)
		return rc;
	rc = step(s, st, "job state");
	if (rc == SQLITE_ROW) {
		rc = col_i64(s, st, 0, JOB_QUEUED, JOB_FAILED, &state);
		if (rc == 0)
			*out = (enum job_state)state;
	} else if (rc == SQLITE_DONE) {
		seterr(s, "no job for %s", sha256);
		rc = VG_ENOENT;
	}
	done(st);
	return rc;
}

/* One submission, inside the caller's transaction; on failure the caller
 * undoes what it wrote (items_add). */
static int
add_one(struct store_sqlite *s, struct submission_add *it)
{
	const struct submission *sub = it->sub;
	const char *md5 = it->md5, *sha1 = it->sha1;
	const struct sample_loc *loc = it->loc;
	sqlite3_stmt *st = NULL;
	uint64_t size = it->size;
	int64_t t, n;
	int rc;

	if (!store_valid_submission(it)) {
		seterr(s, "submission_add: invalid submission");
		return VG_EINVAL;
	}
	t = sub->created != 0 ? sub->created : now();

	st = s->st[ST_SAMPLE_UPSERT];
	if ((rc = bind_text(s, st, 1, sub->sha256)) != 0 ||
	    (rc = bind_text(s, st, 2, md5)) != 0 ||
	    (rc = bind_text(s, st, 3, sha1)) != 0 ||
	    (rc = bind_i64(s, st, 4, (int64_t)size)) != 0 ||
	    (rc = bind_i64(s, st, 5, t)) != 0)
		goto out;
	if (loc != NULL &&
	    ((rc = bind_i64(s, st, 6, (int64_t)loc->segment)) != 0 ||
	     (rc = bind_i64(s, st, 7, (int64_t)loc->offset)) != 0 ||
	     (rc = bind_i64(s, st, 8, (int64_t)loc->length)) != 0))
		goto out;
	/* No row: the upsert's WHERE refused to touch a stored sample
	 * whose other hashes or size disagree. */
	rc = step(s, st, "submission_add: sample");
	if (rc == SQLITE_DONE) {
		seterr(s,
		       "submission_add: MD5, SHA-1 or size disagree with"
		       " the stored sample %s",
		       sub->sha256);
		rc = VG_EINVAL;
		goto out;
	}
	if (rc != SQLITE_ROW)
		goto out;
	/* The row as it is now, for the caller's index: no second lookup
	 * by SHA-256 after the commit. */
	n = (int64_t)sqlite3_column_int64(st, REP_NCOLS);
	if ((rc = read_reputation(s, st, &it->rep)) != 0)
		goto out;
	it->have_rep = true;
	if ((rc = step(s, st, "submission_add: sample")) != SQLITE_DONE) {
		rc = rc == SQLITE_ROW ? VG_EIO : rc;
		goto out;
	}
	done(st);

	st = s->st[ST_SAMPLE_CLIENT];
	if ((rc = bind_i64(s, st, 1, n)) != 0 ||
	    (rc = bind_text(s, st, 2, sub->client_id)) != 0)
		goto out;
	if ((rc = run(s, st, "submission_add: sample_clients")) != 0) {
		if (rc == VG_ENOENT)
			seterr(s, "submission_add: unknown client %s",
			       sub->client_id);
		goto out;
	}
	/* Only a client new to this sample makes it more prevalent. */
	if (sqlite3_changes(s->db) == 1) {
		it->rep.prevalence++;
		done(st);
		st = s->st[ST_PREVALENCE];
		if ((rc = bind_i64(s, st, 1, n)) != 0 ||
		    (rc = run(s, st, "submission_add: prevalence")) != 0)
			goto out;
	}
	done(st);

	st = s->st[ST_JOB_QUEUE];
	if (!it->no_bytes) {
		if ((rc = bind_i64(s, st, 1, n)) != 0 ||
		    (rc = bind_i64(s, st, 2, now())) != 0 ||
		    (rc = run(s, st, "submission_add: job")) != 0)
			goto out;
		it->new_job = sqlite3_changes(s->db) == 1;
	}
	done(st);

	st = s->st[ST_SUB_INSERT];
	if ((rc = bind_text(s, st, 1, sub->id)) != 0 ||
	    (rc = bind_text(s, st, 2, sub->client_id)) != 0 ||
	    (rc = bind_text(s, st, 3, sub->sha256)) != 0 ||
	    (rc = bind_text(s, st, 4, sub->metadata)) != 0 ||
	    (rc = bind_i64(s, st, 5, t)) != 0)
		goto out;
	if ((rc = run(s, st, "submission_add: submission")) != 0)
		goto out;
	done(st);
	st = NULL;
	/* A job queued just now is queued; another may be anywhere; a
	 * sample known only by metadata has none. */
	rc = it->new_job ? 0 : job_state_of(s, n, sub->sha256, &it->job);
	if (rc == VG_ENOENT && it->no_bytes) {
		it->job = JOB_QUEUED;
		rc = 0;
	}
out:
	if (st != NULL)
		done(st);
	if (rc != 0 && it->have_rep) {
		reputation_clear(&it->rep);
		it->have_rep = false;
	}
	return rc;
}

/* Makes items ready for a pass: no outcome yet, nothing handed back. */
static void
items_reset(struct submission_add *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		items[i].rc = VG_EIO;
		items[i].new_job = false;
		items[i].job = JOB_QUEUED;
		if (items[i].have_rep)
			reputation_clear(&items[i].rep);
		items[i].have_rep = false;
	}
}

/*
 * Adds the items inside the open transaction. alone: each inside its own
 * savepoint, so that a refused item is undone by itself and the others
 * go on. Otherwise (two statements fewer an item), the first refused
 * item ends the pass with *refused set, leaving its partial rows: the
 * caller rolls the transaction back and makes a pass with savepoints.
 * Returns 0, or the error that fails the whole batch.
 */
static int
items_add(struct store_sqlite *s, struct submission_add *items, size_t n,
	  bool alone, bool *refused)
{
	int rc;

	*refused = false;
	for (size_t i = 0; i < n; i++) {
		struct submission_add *it = &items[i];

		if (!alone) {
			if ((it->rc = add_one(s, it)) != 0) {
				*refused = true;
				return 0;
			}
			continue;
		}
		if ((rc = run_plain(s, ST_SAVEPOINT, "savepoint")) != 0)
			return rc;
		it->rc = add_one(s, it);
		if (it->rc == 0) {
			rc = run_plain(s, ST_RELEASE, "release");
		} else {
			it->new_job = false;
			if ((rc = run_plain(s, ST_ROLLBACK_TO,
					    "rollback to")) == 0)
				rc = run_plain(s, ST_RELEASE, "release");
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
op_submission_add_many(struct store *base, struct submission_add *items,
		       size_t n, int (*barrier)(void *ud), void *ud)
{
	struct store_sqlite *s = to_sqlite(base);
	bool refused;
	int rc;

	/* The caller's items hold nothing of a pass yet. */
	for (size_t i = 0; i < n; i++)
		items[i].have_rep = false;
	items_reset(items, n);
	if ((rc = tx_begin(s)) != 0)
		return rc;
	/* Items are almost never refused: first without savepoints. */
	if ((rc = items_add(s, items, n, false, &refused)) == 0 && refused) {
		tx_rollback(s);
		items_reset(items, n);
		if ((rc = tx_begin(s)) != 0)
			return rc;
		rc = items_add(s, items, n, true, &refused);
	}
	if (rc != 0)
		goto fail;
	if (barrier != NULL && (rc = barrier(ud)) != 0) {
		seterr(s,
		       "submission_add_many: what the rows refer to did not "
		       "become durable: %s",
		       vg_strerror(rc));
		goto fail;
	}
	if ((rc = tx_commit(s)) == 0)
		return 0;
fail:
	tx_rollback(s);
	items_reset(items, n);
	for (size_t i = 0; i < n; i++)
		items[i].rc = rc;
	return rc;
}

static int
op_submission_add(struct store *base, const struct submission *sub,
		  const char *md5, const char *sha1, uint64_t size,
		  const struct sample_loc *loc, bool *new_job)
{
	struct submission_add it = {
		.sub = sub, .md5 = md5, .sha1 = sha1, .size = size, .loc = loc};
	int rc;

	if (new_job != NULL)
		*new_job = false;
	if ((rc = op_submission_add_many(base, &it, 1, NULL, NULL)) != 0)
		return rc;
	if (it.have_rep)
		reputation_clear(&it.rep);
	if (it.rc == 0 && new_job != NULL)
		*new_job = it.new_job;
	return it.rc;
}

static int
op_sample_locate(struct store *base, const char *sha256, struct sample_loc *out)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_BLOB_GET];
	int rc;

	rc = lookup_sha256(s, st, sha256, "sample_locate");
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_NULL &&
	    sqlite3_column_type(st, 1) == SQLITE_NULL &&
	    sqlite3_column_type(st, 2) == SQLITE_NULL) {
		/* Known (inside another sample, say), bytes not stored. */
		seterr(s, "sample_locate: %s is not stored", sha256);
		rc = VG_ENOENT;
	} else if (rc == SQLITE_ROW) {
		rc = col_loc(s, st, 0, out);
	} else if (rc == VG_ENOENT) {
		seterr(s, "sample_locate: %s is not stored", sha256);
	}
	done(st);
	return rc;
}

static int
op_submission_get(struct store *base, const char *id, struct submission *out)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_SUB_GET];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!store_valid_id(id))
		return VG_EINVAL;
	if ((rc = lookup(s, st, id, "submission_get")) == SQLITE_ROW)
		rc = read_submission(s, st, out);
	done(st);
	return rc;
}

/* A row that cannot be read must not stay at the head of the queue,
 * where every claim would trip over it: it is failed instead. */
static void
fail_corrupt_job(struct store_sqlite *s, int64_t id)
{
	sqlite3_stmt *st = s->st[ST_JOB_MARK_CORRUPT];

	if (bind_i64(s, st, 1, id) == 0 && bind_i64(s, st, 2, now()) == 0)
		(void)sqlite3_step(st);
	done(st);
}

/* The first queued rescan, when no job is queued (job_claim). */
static int
rescan_claim(struct store_sqlite *s, struct job *out)
{
	sqlite3_stmt *st = s->st[ST_RESCAN_CLAIM];
	int64_t id = 0, attempts = 0;
	int rc, done_rc;

	rc = step(s, st, "job_claim: rescan");
	if (rc == SQLITE_DONE) {
		rc = VG_ENOENT;
		goto out;
	}
	if (rc != SQLITE_ROW)
		goto out;
	if ((rc = col_i64(s, st, 0, 1, INT64_MAX, &id)) == 0 &&
	    (rc = col_hex(s, st, 1, 64, out->sha256)) == 0)
		rc = col_i64(s, st, 2, 1, INT_MAX, &attempts);
	if ((done_rc = step(s, st, "job_claim: rescan")) != SQLITE_DONE) {
		rc = done_rc == SQLITE_ROW ? VG_EIO : done_rc;
		goto out;
	}
	if (rc == VG_ECORRUPT && id > 0) {
		/* Dropped, so that it does not block the queue. */
		done(st);
		st = s->st[ST_RESCAN_DROP];
		if (bind_i64(s, st, 1, id) == 0)
			(void)sqlite3_step(st);
	}
	if (rc == 0) {
		out->id = id;
		out->state = JOB_ANALYSING;
		out->attempts = (int)attempts;
		out->rescan = true;
	}
out:
	done(st);
	return rc;
}

static int
op_job_claim(struct store *base, struct job *out)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_JOB_CLAIM];
	char why[sizeof(s->base.err)];
	int64_t id;
	int rc, done_rc;

	memset(out, 0, sizeof(*out));
	if ((rc = bind_i64(s, st, 1, now())) != 0)
		goto out;
	rc = step(s, st, "job_claim");
	if (rc == SQLITE_DONE) {
		done(st);
		return rescan_claim(s, out);
	}
	if (rc != SQLITE_ROW)
		goto out;
	id = (int64_t)sqlite3_column_int64(st, 0);
	rc = read_job(s, st, out);
	/* The claim commits at the step that ends the statement: a job is
	 * not handed out unless the commit succeeded, or two workers could
	 * analyse it. */
	if ((done_rc = step(s, st, "job_claim")) != SQLITE_DONE) {
		job_clear(out);
		rc = done_rc == SQLITE_ROW ? VG_EIO : done_rc;
		goto out;
	}
	if (rc == VG_ECORRUPT) {
		done(st);
		memcpy(why, s->base.err, sizeof(why));
		fail_corrupt_job(s, id);
		memcpy(s->base.err, why, sizeof(why));
	}
out:
	done(st);
	return rc;
}

static int
op_job_get_by_sha256(struct store *base, const char *sha256, struct job *out)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_JOB_BY_SHA256];
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = lookup_sha256(s, st, sha256, "job_get_by_sha256")) ==
	    SQLITE_ROW)
		rc = read_job(s, st, out);
	done(st);
	return rc;
}

/* Why an update of job id as analysing changed nothing: VG_ENOENT when
 * there is no such job, VG_EINVAL when it is not being analysed. */
static int
job_not_analysing(struct store_sqlite *s, int64_t id, const char *what)
{
	sqlite3_stmt *st = s->st[ST_JOB_STATE];
	int rc;

	if ((rc = bind_i64(s, st, 1, id)) != 0)
		goto out;
	rc = step(s, st, what);
	if (rc == SQLITE_DONE) {
		seterr(s, "%s: no job %lld", what, (long long)id);
		rc = VG_ENOENT;
	} else if (rc == SQLITE_ROW) {
		seterr(s, "%s: job %lld is not being analysed (state %lld)",
		       what, (long long)id,
		       (long long)sqlite3_column_int64(st, 0));
		rc = VG_EINVAL;
	}
out:
	done(st);
	return rc;
}

static int
op_job_finish(struct store *base, int64_t id, const char *report_json,
	      const char *verdict, int score, const char *detections_json,
	      const char *because_json, const char *mime, double analysis_ms)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = NULL;
	char sha256[65];
	int64_t t = now();
	int rc;

	if (!store_valid_result(report_json, verdict, detections_json,
				analysis_ms)) {
		seterr(s, "job_finish: invalid result for job %lld",
		       (long long)id);
		return VG_EINVAL;
	}
	if ((rc = tx_begin(s)) != 0)
		return rc;

	st = s->st[ST_JOB_FINISH];
	if ((rc = bind_i64(s, st, 1, id)) != 0 ||
	    (rc = bind_text(s, st, 2, report_json)) != 0 ||
	    (rc = bind_i64(s, st, 3, t)) != 0)
		goto out;
	rc = step(s, st, "job_finish");
	if (rc == SQLITE_DONE) {
		done(st);
		st = NULL;
		rc = job_not_analysing(s, id, "job_finish");
		goto out;
	}
	if (rc != SQLITE_ROW)
		goto out;
	if ((rc = col_hex(s, st, 0, 64, sha256)) != 0)
		goto out;
	done(st);

	st = s->st[ST_SAMPLE_VERDICT];
	if ((rc = bind_text(s, st, 1, sha256)) != 0 ||
	    (rc = bind_verdict(s, st, verdict, score, detections_json,
			       because_json, mime, t, analysis_ms)) != 0 ||
	    (rc = run(s, st, "job_finish: reputation")) != 0)
		goto out;
	/* The foreign key makes a job without its sample impossible unless
	 * the file was edited behind our back. */
	if (sqlite3_changes(s->db) != 1) {
		seterr(s, "job_finish: job %lld has no sample %s",
		       (long long)id, sha256);
		rc = VG_ECORRUPT;
		goto out;
	}
	done(st);
	st = NULL;

	rc = tx_commit(s);
out:
	if (st != NULL)
		done(st);
	if (rc != 0)
		tx_rollback(s);
	return rc;
}

static int
op_job_fail(struct store *base, int64_t id, const char *why, int max_attempts)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_JOB_FAIL];
	int rc;

	if (max_attempts < 1) {
		seterr(s, "job_fail: max_attempts must be at least 1");
		return VG_EINVAL;
	}
	/* One statement: the choice between requeue and failed reads the
	 * attempts in the same write as the update. */
	if ((rc = bind_i64(s, st, 1, id)) != 0 ||
	    (rc = bind_i64(s, st, 2, max_attempts)) != 0 ||
	    (rc = bind_text(s, st, 3, why != NULL ? why : "no reason given")) !=
		    0 ||
	    (rc = bind_i64(s, st, 4, now())) != 0 ||
	    (rc = run(s, st, "job_fail")) != 0)
		goto out;
	if (sqlite3_changes(s->db) != 1) {
		done(st);
		rc = job_not_analysing(s, id, "job_fail");
	}
out:
	done(st);
	return rc;
}

static int
op_job_requeue_stale(struct store *base)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_JOB_REQUEUE];
	int rc;

	if ((rc = bind_i64(s, st, 1, now())) == 0)
		rc = run(s, st, "job_requeue_stale");
	done(st);
	if (rc == 0) {
		st = s->st[ST_RESCAN_REQUEUE];
		rc = run(s, st, "job_requeue_stale: rescans");
		done(st);
	}
	return rc;
}

/* One node, whose jobs are its own until it restarts: no lease. */
static int
op_job_lease_renew(struct store *base, const struct job_held *held, size_t n,
		   uint64_t *renewed)
{
	(void)base;
	(void)held;
	(void)n;
	*renewed = 0;
	return 0;
}

static int
op_rescan_queue(struct store *base, const char *generation, uint64_t *queued)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = NULL;
	bool same = false;
	int rc;

	*queued = 0;
	if (generation == NULL || !store_valid_hash(generation, 64)) {
		seterr(s, "rescan_queue: invalid generation");
		return VG_EINVAL;
	}
	if ((rc = tx_begin(s)) != 0)
		return rc;
	st = s->st[ST_SETTING_GET];
	if ((rc = bind_text(s, st, 1, "rules_generation")) != 0)
		goto out;
	rc = step(s, st, "rescan_queue");
	if (rc == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);

		same = v != NULL && strcmp((const char *)v, generation) == 0;
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		goto out;
	}
	done(st);
	st = NULL;
	if (same)
		goto out;
	st = s->st[ST_SETTING_PUT];
	if ((rc = bind_text(s, st, 1, "rules_generation")) != 0 ||
	    (rc = bind_text(s, st, 2, generation)) != 0 ||
	    (rc = run(s, st, "rescan_queue: generation")) != 0)
		goto out;
	done(st);
	st = s->st[ST_RESCAN_QUEUE];
	if ((rc = run(s, st, "rescan_queue")) != 0)
		goto out;
	*queued = (uint64_t)sqlite3_changes(s->db);
	done(st);
	st = NULL;
out:
	if (st != NULL)
		done(st);
	if (rc == 0)
		rc = tx_commit(s);
	if (rc != 0) {
		tx_rollback(s);
		*queued = 0;
	}
	return rc;
}

static int
op_rescan_finish(struct store *base, int64_t id, const char *report_json,
		 const char *verdict, int score, const char *detections_json,
		 const char *because_json, const char *mime, double analysis_ms,
		 bool *changed)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = NULL;
	int64_t t = now();
	char old[16] = "";
	int rc;

	*changed = false;
	if (!store_valid_result(report_json, verdict, detections_json,
				analysis_ms)) {
		seterr(s, "rescan_finish: invalid result for rescan %lld",
		       (long long)id);
		return VG_EINVAL;
	}
	if ((rc = tx_begin(s)) != 0)
		return rc;
	st = s->st[ST_RESCAN_DONE];
	if ((rc = bind_i64(s, st, 1, id)) != 0 ||
	    (rc = run(s, st, "rescan_finish")) != 0)
		goto out;
	if (sqlite3_changes(s->db) != 1) {
		seterr(s, "rescan_finish: rescan %lld is not being analysed",
		       (long long)id);
		rc = VG_EINVAL;
		goto out;
	}
	done(st);
	st = s->st[ST_RESCAN_OLD];
	if ((rc = bind_i64(s, st, 1, id)) != 0)
		goto out;
	rc = step(s, st, "rescan_finish: old verdict");
	if (rc == SQLITE_ROW)
		rc = col_str(s, st, 0, 1, sizeof(old) - 1, old);
	else if (rc == SQLITE_DONE)
		rc = corrupt(s, st, 0, "rescan of no sample");
	if (rc != 0)
		goto out;
	done(st);
	st = s->st[ST_RESCAN_VERDICT];
	if ((rc = bind_i64(s, st, 1, id)) != 0 ||
	    (rc = bind_verdict(s, st, verdict, score, detections_json,
			       because_json, mime, t, analysis_ms)) != 0 ||
	    (rc = run(s, st, "rescan_finish: reputation")) != 0)
		goto out;
	done(st);
	st = s->st[ST_RESCAN_REPORT];
	if ((rc = bind_i64(s, st, 1, id)) != 0 ||
	    (rc = bind_text(s, st, 2, report_json)) != 0 ||
	    (rc = bind_i64(s, st, 3, t)) != 0 ||
	    (rc = run(s, st, "rescan_finish: report")) != 0)
		goto out;
	done(st);
	st = NULL;
	rc = tx_commit(s);
	if (rc == 0)
		*changed = strcmp(old, verdict) != 0;
out:
	if (st != NULL)
		done(st);
	if (rc != 0)
		tx_rollback(s);
	return rc;
}

static int
op_rescan_fail(struct store *base, int64_t id, int max_attempts, bool *dropped)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_RESCAN_RETRY];
	int rc;

	*dropped = false;
	if ((rc = bind_i64(s, st, 1, id)) != 0 ||
	    (rc = bind_i64(s, st, 2, max_attempts)) != 0 ||
	    (rc = run(s, st, "rescan_fail")) != 0)
		goto out;
	if (sqlite3_changes(s->db) == 1)
		goto out;
	done(st);
	st = s->st[ST_RESCAN_DROP];
	if ((rc = bind_i64(s, st, 1, id)) != 0 ||
	    (rc = run(s, st, "rescan_fail: drop")) != 0)
		goto out;
	*dropped = sqlite3_changes(s->db) == 1;
out:
	done(st);
	return rc;
}

static int
op_rescans_queued(struct store *base, uint64_t *n)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_RESCANS_QUEUED];
	int rc = count_of(s, st, "rescans_queued", n);

	done(st);
	return rc;
}

static int
op_samples_stored_each(struct store *base,
		       int (*fn)(const char *sha256,
				 const struct sample_loc *loc, void *ud),
		       void *ud)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = NULL;
	int rc;

	if (fn == NULL)
		return VG_EINVAL;
	if ((rc = prepare_each(
		     s,
		     "SELECT sha256, blob_segment, blob_offset, blob_length"
		     " FROM samples WHERE blob_segment IS NOT NULL"
		     " ORDER BY prevalence DESC, last_seen DESC, n",
		     "samples_stored_each", &st)) != 0)
		goto out;
	while ((rc = next_row(s, st, "samples_stored_each")) == 1) {
		struct sample_loc loc;
		char sha256[65];
		int64_t seg, off, len;

		if ((rc = col_hex(s, st, 0, 64, sha256)) != 0 ||
		    (rc = col_i64(s, st, 1, 1, INT64_MAX, &seg)) != 0 ||
		    (rc = col_i64(s, st, 2, 0, INT64_MAX, &off)) != 0 ||
		    (rc = col_i64(s, st, 3, 1, INT64_MAX, &len)) != 0)
			break;
		loc.segment = (uint64_t)seg;
		loc.offset = (uint64_t)off;
		loc.length = (uint64_t)len;
		if ((rc = fn(sha256, &loc, ud)) != 0)
			break;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

static int
op_reputation_get(struct store *base, const char *hash, struct reputation *out)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_REP_SHA256];
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = lookup_sha256(s, st, hash, "reputation_get")) == SQLITE_ROW)
		rc = read_reputation(s, st, out);
	done(st);
	return rc;
}

static int
op_reputation_each(struct store *base,
		   int (*fn)(const struct reputation *r, void *ud), void *ud)
{
	struct store_sqlite *s = to_sqlite(base);
	struct reputation r;
	sqlite3_stmt *st = NULL;
	int rc;

	if (fn == NULL)
		return VG_EINVAL;
	/* One SELECT reads one snapshot. */
	if ((rc = prepare_each(s, "SELECT " REP_COLS " FROM samples",
			       "reputation_each", &st)) != 0)
		goto out;
	while ((rc = next_row(s, st, "reputation_each")) == 1) {
		if ((rc = read_reputation(s, st, &r)) != 0)
			break;
		rc = fn(&r, ud);
		reputation_clear(&r);
		if (rc != 0)
			break;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

static int
op_reputation_note(struct store *base, const struct reputation *r)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_REP_NOTE];
	int64_t t = r->first_seen ? r->first_seen : now();
	int rc;

	if (!store_valid_note(r)) {
		seterr(s, "reputation_note: invalid reputation");
		return VG_EINVAL;
	}
	if ((rc = bind_reputation(s, st, r, t)) == 0)
		rc = run(s, st, "reputation_note");
	done(st);
	return rc;
}

static int
op_jobs_queued(struct store *base, uint64_t *n)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_JOBS_QUEUED];
	int rc = count_of(s, st, "jobs_queued", n);

	done(st);
	return rc;
}

static int
op_reputation_note_many(struct store *base, const struct reputation *r,
			size_t n, size_t *skipped)
{
	struct store_sqlite *s = to_sqlite(base);
	int rc;

	*skipped = 0;
	/* One commit, one sync, for all the objects of a report. */
	if ((rc = tx_begin(s)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		rc = op_reputation_note(base, &r[i]);
		if (rc == VG_EINVAL) {
			(*skipped)++;
			continue;
		}
		if (rc != 0) {
			tx_rollback(s);
			return rc;
		}
	}
	return tx_commit(s);
}

static int
op_reputation_fail(struct store *base, const char *sha256, const char *reason,
		   double analysis_ms)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_REP_FAIL];
	int rc;

	if (!store_valid_failure(sha256, reason, analysis_ms)) {
		seterr(s, "reputation_fail: invalid arguments");
		return VG_EINVAL;
	}
	if ((rc = bind_text(s, st, 1, sha256)) != 0 ||
	    (rc = bind_text(s, st, 2, reason)) != 0 ||
	    (rc = bind_i64(s, st, 3, now())) != 0 ||
	    (rc = bind_double(s, st, 4, analysis_ms)) != 0 ||
	    (rc = run(s, st, "reputation_fail")) != 0)
		goto out;
	if (sqlite3_changes(s->db) != 1) {
		seterr(s, "reputation_fail: no sample %s", sha256);
		rc = VG_ENOENT;
	}
out:
	done(st);
	return rc;
}

static int
op_set_synced(struct store *base, bool synced)
{
	struct store_sqlite *s = to_sqlite(base);
	int rc;

	/* Its commits become visible after the WAL's sync, which writes
	 * what walbuf gathered: without it, other connections could read
	 * frames still in memory. */
	if (!synced && s->gathers) {
		seterr(s, "set_synced: a writer's handle stays synchronous");
		return VG_EINVAL;
	}
	rc = sqlite3_exec(s->db,
			  synced ? "PRAGMA synchronous = FULL"
				 : "PRAGMA synchronous = NORMAL",
			  NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : dberr(s, rc, "synchronous");
}

/* False positives and retractions */

static int
op_fp_report_add(struct store *base, const char *sha256, const char *client_id,
		 const char *reason, int64_t when)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_FP_ADD];
	int rc;

	if (!store_valid_hash(sha256, 64) || !store_valid_id(client_id) ||
	    !store_valid_reason(reason)) {
		seterr(s, "fp_report_add: invalid report");
		return VG_EINVAL;
	}
	if ((rc = bind_text(s, st, 1, sha256)) != 0 ||
	    (rc = bind_text(s, st, 2, client_id)) != 0 ||
	    (rc = bind_text(s, st, 3, reason)) != 0 ||
	    (rc = bind_i64(s, st, 4, when ? when : now())) != 0)
		goto out;
	/* A second report of the client is a PRIMARY KEY violation
	 * (VG_EINVAL); an unknown sample or client a foreign key one
	 * (VG_ENOENT). */
	rc = run(s, st, "fp_report_add");
out:
	done(st);
	return rc;
}

static int
op_fp_open_count(struct store *base, const char *sha256, uint64_t *n)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_FP_OPEN_COUNT];
	int rc;

	*n = 0;
	if (!store_valid_hash(sha256, 64)) {
		seterr(s, "fp_open_count: not a SHA-256");
		return VG_EINVAL;
	}
	if ((rc = bind_text(s, st, 1, sha256)) == 0)
		rc = count_of(s, st, "fp_open_count", n);
	done(st);
	return rc;
}

static int
cmp_first(const void *a, const void *b)
{
	const struct fp_summary *x = a, *y = b;

	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return strcmp(x->sha256, y->sha256);
}

static int
op_fp_list(struct store *base, struct fp_summary **out, size_t *n)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_FP_OPEN];
	struct fp_summary *v = NULL, *cur = NULL;
	size_t nv = 0, cap = 0;
	char sha[65], *reason;
	int64_t when;
	int rc;

	*out = NULL;
	*n = 0;
	/* One read transaction: the rows of a sample come together. */
	while ((rc = next_row(s, st, "fp_list")) == 1) {
		if ((rc = col_hex(s, st, 0, 64, sha)) != 0 ||
		    (rc = col_i64(s, st, 2, 0, INT64_MAX, &when)) != 0)
			goto fail;
		if (cur == NULL || strcmp(cur->sha256, sha) != 0) {
			if (nv == cap) {
				cap = cap ? cap * 2 : 16;
				v = xreallocarray(v, cap, sizeof(*v));
			}
			cur = &v[nv++];
			memset(cur, 0, sizeof(*cur));
			memcpy(cur->sha256, sha, sizeof(sha));
			cur->first = when;
		}
		if ((rc = col_dup(s, st, 1, false, &reason)) != 0)
			goto fail;
		if (strlen(reason) > STORE_FP_REASON_MAX) {
			free(reason);
			rc = corrupt(s, st, 1, "is longer than a reason");
			goto fail;
		}
		cur->reasons = xreallocarray(cur->reasons, cur->reporters + 1,
					     sizeof(char *));
		cur->reasons[cur->reporters++] = reason;
		cur->last = when;
	}
	if (rc != 0)
		goto fail;
	done(st);
	if (nv > 1)
		qsort(v, nv, sizeof(*v), cmp_first);
	*out = v;
	*n = nv;
	return 0;
fail:
	done(st);
	fp_summaries_free(v, nv);
	return rc;
}

/* Moves every open report on sha256 to state, with the operator's
 * reason; *n says how many. Inside or outside a transaction. */
static int
fp_decide(struct store_sqlite *s, const char *sha256, enum fp_state state,
	  const char *reason, int64_t when, uint64_t *n)
{
	sqlite3_stmt *st = s->st[ST_FP_DECIDE];
	int rc;

	if ((rc = bind_text(s, st, 1, sha256)) != 0 ||
	    (rc = bind_i64(s, st, 2, state)) != 0 ||
	    (rc = bind_i64(s, st, 3, when ? when : now())) != 0 ||
	    (rc = bind_text(s, st, 4, reason)) != 0)
		goto out;
	if ((rc = run(s, st, "fp_decide")) == 0)
		*n = (uint64_t)sqlite3_changes(s->db);
out:
	done(st);
	return rc;
}

static int
op_fp_reject(struct store *base, const char *sha256, const char *reason,
	     int64_t when, uint64_t *n)
{
	struct store_sqlite *s = to_sqlite(base);
	int rc;

	*n = 0;
	if (!store_valid_hash(sha256, 64) || !store_valid_reason(reason)) {
		seterr(s, "fp_reject: invalid argument");
		return VG_EINVAL;
	}
	rc = fp_decide(s, sha256, FP_REJECTED, reason, when, n);
	if (rc == 0 && *n == 0) {
		seterr(s, "fp_reject: no open report");
		rc = VG_ENOENT;
	}
	return rc;
}

static int
op_retraction_add(struct store *base, const struct retraction *r,
		  uint64_t *accepted)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_RETR_ADD];
	int rc;

	*accepted = 0;
	if (r == NULL || !store_valid_hash(r->sha256, 64) ||
	    r->log_index > INT64_MAX || r->detections == NULL ||
	    !store_valid_reason(r->reason)) {
		seterr(s, "retraction_add: invalid retraction");
		return VG_EINVAL;
	}
	if ((rc = tx_begin(s)) != 0)
		return rc;
	if ((rc = bind_i64(s, st, 1, (int64_t)r->log_index)) != 0 ||
	    (rc = bind_text(s, st, 2, r->sha256)) != 0 ||
	    (rc = bind_text(s, st, 3, r->detections)) != 0 ||
	    (rc = bind_text(s, st, 4, r->reason)) != 0 ||
	    (rc = bind_i64(s, st, 5, r->created ? r->created : now())) != 0)
		goto out;
	/* One in force per sample: the partial UNIQUE index refuses a
	 * second (VG_EINVAL). */
	rc = run(s, st, "retraction_add");
	done(st);
	if (rc == 0)
		rc = fp_decide(s, r->sha256, FP_ACCEPTED, r->reason, r->created,
			       accepted);
	if (rc == 0 && *accepted == 0) {
		seterr(s, "retraction_add: no open report");
		rc = VG_ENOENT;
	}
out:
	done(st);
	if (rc == 0)
		return tx_commit(s);
	tx_rollback(s);
	*accepted = 0;
	return rc;
}

static int
op_retraction_undo(struct store *base, const char *sha256, uint64_t undo_index)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_RETR_UNDO];
	int rc;

	if (!store_valid_hash(sha256, 64) || undo_index > INT64_MAX) {
		seterr(s, "retraction_undo: invalid argument");
		return VG_EINVAL;
	}
	if ((rc = bind_text(s, st, 1, sha256)) != 0 ||
	    (rc = bind_i64(s, st, 2, (int64_t)undo_index)) != 0)
		goto out;
	rc = run(s, st, "retraction_undo");
	if (rc == 0 && sqlite3_changes(s->db) == 0) {
		seterr(s, "retraction_undo: none in force");
		rc = VG_ENOENT;
	}
out:
	done(st);
	return rc;
}

/* Reads the columns of RETR_COLS. */
static int
read_retraction(struct store_sqlite *s, sqlite3_stmt *st,
		struct retraction *out)
{
	int64_t index;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = col_hex(s, st, 0, 64, out->sha256)) != 0 ||
	    (rc = col_i64(s, st, 1, 0, INT64_MAX, &index)) != 0 ||
	    (rc = col_dup(s, st, 2, false, &out->detections)) != 0 ||
	    (rc = col_dup(s, st, 3, false, &out->reason)) != 0 ||
	    (rc = col_i64(s, st, 4, INT64_MIN, INT64_MAX, &out->created)) != 0)
		goto out;
	out->log_index = (uint64_t)index;
	if (out->detections[0] != '[')
		rc = corrupt(s, st, 2, "is not a JSON array");
out:
	if (rc != 0)
		retraction_clear(out);
	return rc;
}

static int
op_retraction_get(struct store *base, const char *sha256,
		  struct retraction *out)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_RETR_GET];
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = lookup_sha256(s, st, sha256, "retraction_get")) == SQLITE_ROW)
		rc = read_retraction(s, st, out);
	done(st);
	return rc;
}

static int
op_retraction_each(struct store *base,
		   int (*fn)(const struct retraction *r, void *ud), void *ud)
{
	struct store_sqlite *s = to_sqlite(base);
	struct retraction r;
	sqlite3_stmt *st = NULL;
	int rc;

	if (fn == NULL)
		return VG_EINVAL;
	if ((rc = prepare_each(s,
			       "SELECT " RETR_COLS " FROM retractions"
			       " WHERE undone IS NULL",
			       "retraction_each", &st)) != 0)
		goto out;
	while ((rc = next_row(s, st, "retraction_each")) == 1) {
		if ((rc = read_retraction(s, st, &r)) != 0)
			break;
		rc = fn(&r, ud);
		retraction_clear(&r);
		if (rc != 0)
			break;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

static int
op_objects_renote_many(struct store *base, const struct reputation *r, size_t n,
		       size_t *skipped)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_REP_RENOTE];
	int64_t t = now();
	int rc;

	*skipped = 0;
	if ((rc = tx_begin(s)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		/* New rows, and rows not analysed yet, as the first time;
		 * it also refuses what is invalid. */
		rc = op_reputation_note(base, &r[i]);
		if (rc == VG_EINVAL) {
			(*skipped)++;
			continue;
		}
		if (rc == 0 && (rc = bind_reputation(s, st, &r[i], t)) == 0)
			rc = run(s, st, "objects_renote_many");
		done(st);
		if (rc != 0) {
			tx_rollback(s);
			return rc;
		}
	}
	return tx_commit(s);
}

/* Operators */

/* Reads the columns of OP_COLS. */
static int
read_operator(struct store_sqlite *s, sqlite3_stmt *st,
	      struct store_operator *out)
{
	const void *blob;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = col_str(s, st, 0, 1, STORE_OPERATOR_NAME_MAX, out->name)) !=
	    0)
		goto out;
	if (!store_valid_operator_name(out->name)) {
		rc = corrupt(s, st, 0, "is not an operator's name");
		goto out;
	}
	if (sqlite3_column_type(st, 1) != SQLITE_BLOB ||
	    sqlite3_column_bytes(st, 1) != 32) {
		rc = corrupt(s, st, 1, "is not a 32-byte blob");
		goto out;
	}
	if ((blob = sqlite3_column_blob(st, 1)) == NULL) {
		rc = VG_ENOMEM;
		goto out;
	}
	memcpy(out->token_hash, blob, 32);
	if ((rc = col_i64(s, st, 2, 0, INT64_MAX, &out->created)) != 0)
		goto out;
	if (sqlite3_column_type(st, 3) != SQLITE_NULL &&
	    (rc = col_i64(s, st, 3, 1, INT64_MAX, &out->revoked)) != 0)
		goto out;
out:
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

static int
op_operator_add(struct store *base, const struct store_operator *op)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_OP_ADD];
	int rc;

	if (op == NULL || !store_valid_operator_name(op->name) ||
	    op->created < 0) {
		seterr(s, "operator_add: invalid operator");
		return VG_EINVAL;
	}
	if ((rc = bind_text(s, st, 1, op->name)) != 0 ||
	    (rc = bind_blob(s, st, 2, op->token_hash, 32)) != 0 ||
	    (rc = bind_i64(s, st, 3, op->created ? op->created : now())) != 0)
		goto out;
	/* A name or token hash taken is a UNIQUE violation, VG_EINVAL. */
	rc = run(s, st, "operator_add");
out:
	done(st);
	return rc;
}

/* Steps st, bound by its caller, for one operator row into *out. */
static int
operator_one(struct store_sqlite *s, sqlite3_stmt *st, const char *what,
	     struct store_operator *out)
{
	int rc = step(s, st, what);

	if (rc == SQLITE_ROW)
		rc = read_operator(s, st, out);
	else if (rc == SQLITE_DONE)
		rc = VG_ENOENT;
	done(st);
	return rc;
}

static int
op_operator_get(struct store *base, const char *name,
		struct store_operator *out)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_OP_GET];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!store_valid_operator_name(name)) {
		seterr(s, "operator_get: invalid name");
		return VG_EINVAL;
	}
	if ((rc = bind_text(s, st, 1, name)) != 0) {
		done(st);
		return rc;
	}
	return operator_one(s, st, "operator_get", out);
}

static int
op_operator_by_token_hash(struct store *base, const uint8_t hash[32],
			  struct store_operator *out)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_OP_BY_TOKEN];
	int rc;

	memset(out, 0, sizeof(*out));
	if (hash == NULL)
		return VG_EINVAL;
	if ((rc = bind_blob(s, st, 1, hash, 32)) != 0) {
		done(st);
		return rc;
	}
	return operator_one(s, st, "operator_by_token_hash", out);
}

static int
op_operator_revoke(struct store *base, const char *name, int64_t when)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_OP_REVOKE];
	int rc;

	if (!store_valid_operator_name(name) || when < 0) {
		seterr(s, "operator_revoke: invalid argument");
		return VG_EINVAL;
	}
	if ((rc = bind_text(s, st, 1, name)) != 0 ||
	    (rc = bind_i64(s, st, 2, when != 0 ? when : now())) != 0)
		goto out;
	rc = run(s, st, "operator_revoke");
	if (rc == 0 && sqlite3_changes(s->db) == 0) {
		seterr(s, "operator_revoke: no such operator in force");
		rc = VG_ENOENT;
	}
out:
	done(st);
	return rc;
}

static int
op_operator_list(struct store *base, struct store_operator **out, size_t *n)
{
	struct store_sqlite *s = to_sqlite(base);
	struct store_operator *v = NULL;
	sqlite3_stmt *st = NULL;
	size_t cap = 0, k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = prepare_each(s,
			       "SELECT " OP_COLS " FROM operators"
			       " ORDER BY created, name",
			       "operator_list", &st)) != 0)
		goto out;
	while ((rc = next_row(s, st, "operator_list")) == 1) {
		if (k == cap) {
			cap = cap ? 2 * cap : 8;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		if ((rc = read_operator(s, st, &v[k])) != 0)
			break;
		k++;
	}
out:
	sqlite3_finalize(st);
	if (rc != 0) {
		free(v);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

/* The data subject's controls (store.h). */

/* The samples ?1 alone has sent: no other client has a row for them. */
#define ONLY_MINE                                                              \
	"SELECT c.sample FROM sample_clients c WHERE c.client_id = ?1"         \
	" AND NOT EXISTS (SELECT 1 FROM sample_clients o"                      \
	" WHERE o.sample = c.sample AND o.client_id <> ?1)"

/* Runs sql (prepared for this call: these operations are rare) with
 * client_id as ?1 and, if sql has a ?2, v2 as ?2; *changes (if not NULL)
 * is how many rows it changed. */
static int
run_client(struct store_sqlite *s, const char *sql, const char *client_id,
	   int64_t v2, uint64_t *changes, const char *what)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prepare_each(s, sql, what, &st)) != 0)
		return rc;
	if ((rc = bind_text(s, st, 1, client_id)) == 0 &&
	    (sqlite3_bind_parameter_count(st) < 2 ||
	     (rc = bind_i64(s, st, 2, v2)) == 0) &&
	    (rc = run(s, st, what)) == 0 && changes != NULL)
		*changes = (uint64_t)sqlite3_changes(s->db);
	sqlite3_finalize(st);
	return rc;
}

/* The locations of the stored samples only client_id sent, into e. */
static int
erasable_locs(struct store_sqlite *s, const char *client_id,
	      struct erasure *e)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc;

	if ((rc = prepare_each(s,
			       "SELECT blob_segment, blob_offset, blob_length"
			       " FROM samples WHERE blob_segment IS NOT NULL"
			       " AND n IN (" ONLY_MINE ") ORDER BY n",
			       "erasure: locations", &st)) != 0)
		return rc;
	if ((rc = bind_text(s, st, 1, client_id)) != 0)
		goto out;
	while ((rc = next_row(s, st, "erasure: locations")) == 1) {
		if (e->erased == cap) {
			cap = cap ? cap * 2 : 16;
			e->locs = xreallocarray(e->locs, cap,
						sizeof(*e->locs));
		}
		if ((rc = col_loc(s, st, 0, &e->locs[e->erased])) != 0)
			break;
		e->erased++;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

/* The SHA-256s of the samples client_id is linked to, into e->changed
 * (their prevalence is about to go down by one). */
static int
unlinked_of(struct store_sqlite *s, const char *client_id, struct erasure *e)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if ((rc = prepare_each(s,
			       "SELECT sha256 FROM samples WHERE n IN"
			       " (SELECT sample FROM sample_clients"
			       " WHERE client_id = ?1) ORDER BY n",
			       "erasure: samples", &st)) != 0)
		return rc;
	if ((rc = bind_text(s, st, 1, client_id)) != 0)
		goto out;
	while ((rc = next_row(s, st, "erasure: samples")) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			e->changed = xreallocarray(e->changed, cap,
						   sizeof(*e->changed));
		}
		if ((rc = col_hex(s, st, 0, 64, e->changed[n])) != 0)
			break;
		n++;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

/*
 * Inside the caller's transaction: erases what level allows no more of
 * client_id's (store.h, client_consent_set); with all, its false-positive
 * reports and client row too.
 */
static int
erase_client(struct store_sqlite *s, const char *client_id,
	     enum consent level, bool all, struct erasure *e)
{
	int rc;

	if (level < CONSENT_FILES &&
	    ((rc = erasable_locs(s, client_id, e)) != 0 ||
	     (rc = run_client(s,
			      "INSERT INTO erasures (segment, off, length)"
			      " SELECT blob_segment, blob_offset, blob_length"
			      " FROM samples WHERE blob_segment IS NOT NULL"
			      " AND n IN (" ONLY_MINE ") ON CONFLICT DO NOTHING",
			      client_id, 0, NULL, "erasure: pending")) != 0 ||
	     (rc = run_client(s,
			      "UPDATE jobs SET state = 3,"
			      " error = 'sample erased', updated = ?2"
			      " WHERE state = 0 AND id IN (" ONLY_MINE ")",
			      client_id, now(), NULL, "erasure: jobs")) != 0 ||
	     (rc = run_client(s,
			      "DELETE FROM rescans WHERE state = 0"
			      " AND id IN (" ONLY_MINE ")",
			      client_id, 0, NULL, "erasure: rescans")) != 0 ||
	     (rc = run_client(s,
			      "UPDATE samples SET blob_segment = NULL,"
			      " blob_offset = NULL, blob_length = NULL"
			      " WHERE blob_segment IS NOT NULL"
			      " AND n IN (" ONLY_MINE ")",
			      client_id, 0, NULL, "erasure: locations")) != 0))
		return rc;
	if (level == CONSENT_NONE && (rc = unlinked_of(s, client_id, e)) != 0)
		return rc;
	if (level == CONSENT_NONE &&
	    ((rc = run_client(s, "DELETE FROM submissions WHERE client_id = ?1",
			      client_id, 0, &e->submissions,
			      "erasure: submissions")) != 0 ||
	     (rc = run_client(s,
			      "UPDATE samples SET prevalence = prevalence - 1"
			      " WHERE prevalence > 0 AND n IN (SELECT sample"
			      " FROM sample_clients WHERE client_id = ?1)",
			      client_id, 0, NULL, "erasure: prevalence")) != 0 ||
	     (rc = run_client(s,
			      "DELETE FROM sample_clients WHERE client_id = ?1",
			      client_id, 0, &e->unlinked,
			      "erasure: sample_clients")) != 0 ||
	     (rc = run_client(s, "DELETE FROM fp_reports WHERE client_id = ?1",
			      client_id, 0, NULL, "erasure: fp_reports")) != 0))
		return rc;
	if (all && (rc = run_client(s, "DELETE FROM clients WHERE id = ?1",
				    client_id, 0, NULL, "erasure: client")) != 0)
		return rc;
	return 0;
}

/* client_consent_set (to c) and client_delete (all, c CONSENT_NONE). */
static int
forget(struct store_sqlite *s, const char *client_id, enum consent c,
       bool all, struct erasure *out)
{
	uint64_t found = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!store_valid_id(client_id) || c < CONSENT_NONE ||
	    c > CONSENT_FILES) {
		seterr(s, "erasure: invalid client id or consent");
		return VG_EINVAL;
	}
	if ((rc = tx_begin(s)) != 0)
		return rc;
	rc = run_client(s, "UPDATE clients SET consent = ?2 WHERE id = ?1",
			client_id, (int64_t)c, &found, "erasure: consent");
	if (rc == 0 && found == 0) {
		seterr(s, "erasure: unknown client %s", client_id);
		rc = VG_ENOENT;
	}
	if (rc == 0)
		rc = erase_client(s, client_id, c, all, out);
	if (rc == 0)
		rc = tx_commit(s);
	if (rc != 0) {
		tx_rollback(s);
		erasure_clear(out);
	}
	return rc;
}

static int
op_client_fp_list(struct store *base, const char *client_id, size_t max,
		  struct client_fp **out, size_t *n)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = NULL;
	struct client_fp *v = NULL;
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!store_valid_id(client_id) || max == 0 ||
	    max > STORE_CLIENT_LIST_MAX) {
		seterr(s, "client_fp_list: invalid arguments");
		return VG_EINVAL;
	}
	if ((rc = prepare_each(s,
			       "SELECT sha256, reason, created, state"
			       " FROM fp_reports WHERE client_id = ?1"
			       " ORDER BY created, sha256 LIMIT ?2",
			       "client_fp_list", &st)) != 0)
		return rc;
	if ((rc = bind_text(s, st, 1, client_id)) != 0 ||
	    (rc = bind_i64(s, st, 2, (int64_t)max)) != 0)
		goto out;
	v = xcalloc(max, sizeof(*v));
	while (k < max && (rc = next_row(s, st, "client_fp_list")) == 1) {
		int64_t state;

		if ((rc = col_hex(s, st, 0, 64, v[k].sha256)) != 0 ||
		    (rc = col_dup(s, st, 1, false, &v[k].reason)) != 0)
			break;
		k++;
		if ((rc = col_i64(s, st, 2, INT64_MIN, INT64_MAX,
				  &v[k - 1].created)) != 0 ||
		    (rc = col_i64(s, st, 3, FP_OPEN, FP_REJECTED, &state)) != 0)
			break;
		v[k - 1].state = (enum fp_state)state;
	}
out:
	sqlite3_finalize(st);
	if (rc < 0) {
		client_fps_free(v, k);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

static int
op_erasures_pending(struct store *base, size_t max, struct sample_loc **out,
		    size_t *n)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = NULL;
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (max == 0 || max > STORE_CLIENT_LIST_MAX)
		return VG_EINVAL;
	if ((rc = prepare_each(s,
			       "SELECT segment, off, length FROM erasures"
			       " ORDER BY segment, off LIMIT ?1",
			       "erasures_pending", &st)) != 0)
		return rc;
	if ((rc = bind_i64(s, st, 1, (int64_t)max)) != 0)
		goto out;
	*out = xcalloc(max, sizeof(**out));
	while (k < max && (rc = next_row(s, st, "erasures_pending")) == 1) {
		if ((rc = col_loc(s, st, 0, &(*out)[k])) != 0)
			break;
		k++;
	}
out:
	sqlite3_finalize(st);
	if (rc < 0) {
		free(*out);
		*out = NULL;
		return rc;
	}
	*n = k;
	return 0;
}

static int
op_erasure_done(struct store *base, const struct sample_loc *loc)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = NULL;
	int rc;

	if (loc == NULL || loc->segment > INT64_MAX || loc->offset > INT64_MAX)
		return VG_EINVAL;
	if ((rc = prepare_each(s,
			       "DELETE FROM erasures WHERE segment = ?1"
			       " AND off = ?2",
			       "erasure_done", &st)) != 0)
		return rc;
	if ((rc = bind_i64(s, st, 1, (int64_t)loc->segment)) == 0 &&
	    (rc = bind_i64(s, st, 2, (int64_t)loc->offset)) == 0)
		rc = run(s, st, "erasure_done");
	sqlite3_finalize(st);
	return rc;
}

/* Retention (store.h, retention_sweep). */

/* The stored samples whose bytes expire in this batch: ?1 the cut-off,
 * ?2 the batch. Every statement of the batch sees the same ones until
 * the last clears their locations. */
#define EXPIRED_BYTES                                                          \
	"SELECT n FROM samples WHERE blob_segment IS NOT NULL"                 \
	" AND last_seen < ?1 AND sha256 NOT IN (SELECT sha256 FROM holds)"     \
	" ORDER BY last_seen, n LIMIT ?2"
/* The submissions that expire in this batch, held samples' apart. */
#define EXPIRED_SUBS                                                           \
	"SELECT id FROM submissions WHERE created < ?1"                        \
	" AND sha256 NOT IN (SELECT sha256 FROM holds)"                        \
	" ORDER BY created, id LIMIT ?2"

/* Runs sql with ?1..?3 bound to a, b and c (as many as it has); *changes
 * (if not NULL) is how many rows it changed. */
static int
run_i64s(struct store_sqlite *s, const char *sql, int64_t a, int64_t b,
	 int64_t c, uint64_t *changes, const char *what)
{
	const int64_t v[3] = {a, b, c};
	sqlite3_stmt *st = NULL;
	int rc = 0;

	if ((rc = prepare_each(s, sql, what, &st)) != 0)
		return rc;
	for (int i = 0;
	     rc == 0 && i < sqlite3_bind_parameter_count(st) && i < 3; i++)
		rc = bind_i64(s, st, i + 1, v[i]);
	if (rc == 0 && (rc = run(s, st, what)) == 0 && changes != NULL)
		*changes = (uint64_t)sqlite3_changes(s->db);
	sqlite3_finalize(st);
	return rc;
}

/* The expired bytes of this batch: their locations into r, recorded as
 * erasures, their queued work ended, their locations cleared. */
static int
expire_bytes(struct store_sqlite *s, int64_t before, int64_t max,
	     struct retention *r)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prepare_each(s,
			       "SELECT blob_segment, blob_offset, blob_length"
			       " FROM samples WHERE n IN (" EXPIRED_BYTES ")"
			       " ORDER BY n",
			       "retention: locations", &st)) != 0)
		return rc;
	if ((rc = bind_i64(s, st, 1, before)) != 0 ||
	    (rc = bind_i64(s, st, 2, max)) != 0)
		goto out;
	r->locs = xcalloc((size_t)max, sizeof(*r->locs));
	while (r->erased < (uint64_t)max &&
	       (rc = next_row(s, st, "retention: locations")) == 1) {
		if ((rc = col_loc(s, st, 0, &r->locs[r->erased])) != 0)
			break;
		r->erased++;
	}
out:
	sqlite3_finalize(st);
	if (rc != 0)
		return rc;
	if (r->erased == 0)
		return 0;
	if ((rc = run_i64s(s,
			   "INSERT INTO erasures (segment, off, length)"
			   " SELECT blob_segment, blob_offset, blob_length"
			   " FROM samples WHERE n IN (" EXPIRED_BYTES ")"
			   " ON CONFLICT DO NOTHING",
			   before, max, 0, NULL, "retention: pending")) != 0 ||
	    (rc = run_i64s(s,
			   "UPDATE jobs SET state = 3, error = 'sample erased',"
			   " updated = ?3 WHERE state = 0 AND id IN"
			   " (" EXPIRED_BYTES ")",
			   before, max, now(), NULL, "retention: jobs")) != 0 ||
	    (rc = run_i64s(s,
			   "DELETE FROM rescans WHERE state = 0 AND id IN"
			   " (" EXPIRED_BYTES ")",
			   before, max, 0, NULL, "retention: rescans")) != 0)
		return rc;
	return run_i64s(s,
			"UPDATE samples SET blob_segment = NULL,"
			" blob_offset = NULL, blob_length = NULL"
			" WHERE n IN (" EXPIRED_BYTES ")",
			before, max, 0, NULL, "retention: locations");
}

/* The SHA-256s of the samples in temp.retention_links into r->changed. */
static int
expired_links_of(struct store_sqlite *s, struct retention *r)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc;

	if ((rc = prepare_each(s,
			       "SELECT sha256 FROM samples WHERE n IN"
			       " (SELECT sample FROM temp.retention_links)"
			       " ORDER BY n",
			       "retention: samples", &st)) != 0)
		return rc;
	while ((rc = next_row(s, st, "retention: samples")) == 1) {
		if (r->nchanged == cap) {
			cap = cap ? cap * 2 : 16;
			r->changed = xreallocarray(r->changed, cap,
						   sizeof(*r->changed));
		}
		if ((rc = col_hex(s, st, 0, 64, r->changed[r->nchanged])) != 0)
			break;
		r->nchanged++;
	}
	sqlite3_finalize(st);
	return rc;
}

/* The expired submissions of this batch, and the links they alone
 * justified. */
static int
expire_submissions(struct store_sqlite *s, int64_t before, int64_t max,
		   struct retention *r)
{
	int rc;

	if ((rc = run_i64s(s,
			   "CREATE TEMP TABLE IF NOT EXISTS retention_subs"
			   " (client_id TEXT, sha256 TEXT)",
			   0, 0, 0, NULL, "retention: temp")) != 0 ||
	    (rc = run_i64s(s,
			   "CREATE TEMP TABLE IF NOT EXISTS retention_links"
			   " (sample INTEGER, client_id TEXT)",
			   0, 0, 0, NULL, "retention: temp")) != 0 ||
	    (rc = run_i64s(s, "DELETE FROM temp.retention_subs", 0, 0, 0, NULL,
			   "retention: temp")) != 0 ||
	    (rc = run_i64s(s, "DELETE FROM temp.retention_links", 0, 0, 0, NULL,
			   "retention: temp")) != 0 ||
	    (rc = run_i64s(s,
			   "INSERT INTO temp.retention_subs"
			   " SELECT DISTINCT client_id, sha256 FROM submissions"
			   " WHERE id IN (" EXPIRED_SUBS ")",
			   before, max, 0, NULL, "retention: expired")) != 0 ||
	    (rc = run_i64s(s,
			   "DELETE FROM submissions WHERE id IN"
			   " (" EXPIRED_SUBS ")",
			   before, max, 0, &r->submissions,
			   "retention: submissions")) != 0)
		return rc;
	if (r->submissions == 0)
		return 0;
	if ((rc = run_i64s(s,
			   "INSERT INTO temp.retention_links"
			   " SELECT c.sample, c.client_id"
			   " FROM temp.retention_subs x"
			   " JOIN samples m ON m.sha256 = x.sha256"
			   " JOIN sample_clients c ON c.sample = m.n"
			   " AND c.client_id = x.client_id"
			   " WHERE NOT EXISTS (SELECT 1 FROM submissions u"
			   " WHERE u.client_id = x.client_id"
			   " AND u.sha256 = x.sha256)",
			   0, 0, 0, &r->unlinked, "retention: links")) != 0 ||
	    r->unlinked == 0)
		return rc;
	if ((rc = expired_links_of(s, r)) != 0 ||
	    (rc = run_i64s(
		     s,
		     "UPDATE samples SET prevalence = max(0, prevalence"
		     " - (SELECT count(*) FROM temp.retention_links l"
		     " WHERE l.sample = samples.n))"
		     " WHERE n IN (SELECT sample FROM temp.retention_links)",
		     0, 0, 0, NULL, "retention: prevalence")) != 0)
		return rc;
	return run_i64s(s,
			"DELETE FROM sample_clients WHERE EXISTS"
			" (SELECT 1 FROM temp.retention_links l"
			" WHERE l.sample = sample_clients.sample"
			" AND l.client_id = sample_clients.client_id)",
			0, 0, 0, NULL, "retention: sample_clients");
}

static int
op_retention_sweep(struct store *base, int64_t bytes_before,
		   int64_t meta_before, size_t max, struct retention *out)
{
	struct store_sqlite *s = to_sqlite(base);
	int rc;

	memset(out, 0, sizeof(*out));
	if (max == 0 || max > STORE_RETENTION_BATCH_MAX) {
		seterr(s, "retention_sweep: invalid batch");
		return VG_EINVAL;
	}
	if ((rc = tx_begin(s)) != 0)
		return rc;
	if ((rc = expire_bytes(s, bytes_before, (int64_t)max, out)) == 0 &&
	    (rc = expire_submissions(s, meta_before, (int64_t)max, out)) == 0)
		rc = tx_commit(s);
	if (rc != 0) {
		tx_rollback(s);
		retention_clear(out);
	}
	return rc;
}

/* Legal holds (store.h). */

static int
op_hold_add(struct store *base, const struct store_hold *h)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = NULL;
	int rc;

	if (h == NULL || !store_valid_hash(h->sha256, 64) ||
	    !store_valid_case(h->case_id) || !store_valid_reason(h->reason) ||
	    strnlen(h->by, sizeof(h->by)) == 0 ||
	    strnlen(h->by, sizeof(h->by)) == sizeof(h->by) || h->created < 0) {
		seterr(s, "hold_add: invalid hold");
		return VG_EINVAL;
	}
	if ((rc = prepare_each(s,
			       "INSERT INTO holds (sha256, case_id, reason,"
			       " operator, created) SELECT sha256, ?2, ?3, ?4,"
			       " ?5 FROM samples WHERE sha256 = ?1",
			       "hold_add", &st)) != 0)
		return rc;
	if ((rc = bind_text(s, st, 1, h->sha256)) == 0 &&
	    (rc = bind_text(s, st, 2, h->case_id)) == 0 &&
	    (rc = bind_text(s, st, 3, h->reason)) == 0 &&
	    (rc = bind_text(s, st, 4, h->by)) == 0 &&
	    (rc = bind_i64(s, st, 5, h->created ? h->created : now())) == 0 &&
	    (rc = run(s, st, "hold_add")) == 0 && sqlite3_changes(s->db) == 0) {
		seterr(s, "hold_add: unknown sample");
		rc = VG_ENOENT;
	}
	sqlite3_finalize(st);
	return rc;
}

static int
op_hold_release(struct store *base, const char *sha256, const char *case_id)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = NULL;
	int rc;

	if (!store_valid_hash(sha256, 64) || !store_valid_case(case_id)) {
		seterr(s, "hold_release: invalid hash or case");
		return VG_EINVAL;
	}
	if ((rc = prepare_each(s,
			       "DELETE FROM holds WHERE sha256 = ?1"
			       " AND case_id = ?2",
			       "hold_release", &st)) != 0)
		return rc;
	if ((rc = bind_text(s, st, 1, sha256)) == 0 &&
	    (rc = bind_text(s, st, 2, case_id)) == 0 &&
	    (rc = run(s, st, "hold_release")) == 0 &&
	    sqlite3_changes(s->db) == 0) {
		seterr(s, "hold_release: no such hold");
		rc = VG_ENOENT;
	}
	sqlite3_finalize(st);
	return rc;
}

static int
op_holds_count(struct store *base, const char *sha256, const char *case_id,
	       uint64_t *n)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = NULL;
	int rc;

	if (!store_valid_hash(sha256, 64) ||
	    (case_id != NULL && !store_valid_case(case_id))) {
		seterr(s, "holds_count: invalid hash or case");
		return VG_EINVAL;
	}
	if ((rc = prepare_each(s,
			       "SELECT count(*) FROM holds WHERE sha256 = ?1"
			       " AND (?2 IS NULL OR case_id = ?2)",
			       "holds_count", &st)) != 0)
		return rc;
	if ((rc = bind_text(s, st, 1, sha256)) == 0 &&
	    (rc = bind_text(s, st, 2, case_id)) == 0)
		rc = count_of(s, st, "holds_count", n);
	sqlite3_finalize(st);
	return rc;
}

static int
op_client_consent_set(struct store *base, const char *client_id,
		      enum consent c, struct erasure *out)
{
	return forget(to_sqlite(base), client_id, c, false, out);
}

static int
op_client_delete(struct store *base, const char *client_id,
		 struct erasure *out)
{
	return forget(to_sqlite(base), client_id, CONSENT_NONE, true, out);
}

static int
op_client_list(struct store *base, const char *client_id, const char *after,
	       size_t max, struct client_sub **out, size_t *n)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = NULL;
	struct client_sub *v = NULL;
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!store_valid_id(client_id) || after == NULL ||
	    strnlen(after, ID_MAX + 1) > ID_MAX || max == 0 ||
	    max > STORE_CLIENT_LIST_MAX) {
		seterr(s, "client_list: invalid arguments");
		return VG_EINVAL;
	}
	if ((rc = prepare_each(
		     s,
		     "SELECT " REP_COLS ", sid, scid, ssha, smeta, screated"
		     " FROM (SELECT id AS sid, client_id AS scid,"
		     " sha256 AS ssha, metadata AS smeta, created AS screated"
		     " FROM submissions WHERE client_id = ?1 AND id > ?2"
		     " ORDER BY id LIMIT ?3)"
		     " JOIN samples ON samples.sha256 = ssha ORDER BY sid",
		     "client_list", &st)) != 0)
		return rc;
	if ((rc = bind_text(s, st, 1, client_id)) != 0 ||
	    (rc = bind_text(s, st, 2, after)) != 0 ||
	    (rc = bind_i64(s, st, 3, (int64_t)max)) != 0)
		goto out;
	v = xcalloc(max, sizeof(*v));
	while (k < max && (rc = next_row(s, st, "client_list")) == 1) {
		struct submission *sub = &v[k].sub;
		int c = REP_NCOLS;

		if ((rc = read_reputation(s, st, &v[k].rep)) != 0)
			break;
		k++;
		if ((rc = col_str(s, st, c, 1, ID_MAX, sub->id)) != 0 ||
		    (rc = col_str(s, st, c + 1, 1, ID_MAX, sub->client_id)) !=
			    0 ||
		    (rc = col_hex(s, st, c + 2, 64, sub->sha256)) != 0 ||
		    (rc = col_dup(s, st, c + 3, false, &sub->metadata)) != 0 ||
		    (rc = col_i64(s, st, c + 4, INT64_MIN, INT64_MAX,
				  &sub->created)) != 0)
			break;
	}
out:
	sqlite3_finalize(st);
	if (rc < 0) {
		client_subs_free(v, k);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

/* Statistics (docs/STATS.md) */

/* The first per_client (?3) submissions of each client in [?1, ?2),
 * with their sample's detections and type; one SELECT, one snapshot. */
#define SQL_STATS_ROWS                                                         \
	"SELECT client_id, sha256, detections, mime FROM ("                    \
	" SELECT s.client_id, s.sha256, p.detections, p.mime,"                 \
	" row_number() OVER (PARTITION BY s.client_id"                         \
	" ORDER BY s.created, s.id) AS r"                                      \
	" FROM submissions s JOIN samples p ON p.sha256 = s.sha256"            \
	" WHERE s.created >= ?1 AND s.created < ?2)"                           \
	" WHERE r <= ?3 ORDER BY client_id"

static int
op_stats_rows_each(struct store *base, int64_t from, int64_t to,
		   unsigned per_client,
		   int (*fn)(const struct stats_row *r, void *ud), void *ud)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = NULL;
	struct stats_row r;
	char client[ID_MAX + 1], sha256[65];
	char *det = NULL, *mime = NULL;
	int rc;

	if (fn == NULL || from >= to || per_client == 0) {
		seterr(s, "stats_rows_each: invalid argument");
		return VG_EINVAL;
	}
	if ((rc = prepare_each(s, SQL_STATS_ROWS, "stats_rows_each", &st)) != 0)
		goto out;
	if (sqlite3_bind_int64(st, 1, from) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, to) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, per_client) != SQLITE_OK) {
		rc = dberr(s, sqlite3_errcode(s->db), "stats_rows_each");
		goto out;
	}
	while ((rc = next_row(s, st, "stats_rows_each")) == 1) {
		if ((rc = col_str(s, st, 0, 1, ID_MAX, client)) != 0 ||
		    (rc = col_hex(s, st, 1, 64, sha256)) != 0 ||
		    (rc = col_dup(s, st, 2, false, &det)) != 0 ||
		    (rc = col_dup(s, st, 3, true, &mime)) != 0)
			break;
		r.client_id = client;
		r.sha256 = sha256;
		r.detections = det;
		r.mime = mime;
		rc = fn(&r, ud);
		free(det);
		free(mime);
		det = mime = NULL;
		if (rc != 0)
			break;
	}
out:
	free(det);
	free(mime);
	sqlite3_finalize(st);
	return rc;
}

/* Reads a row of ST_STATS_GET into *out. */
static int
read_stats(struct store_sqlite *s, sqlite3_stmt *st, struct stats_day *out)
{
	int64_t idx;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = col_str(s, st, 0, 10, 10, out->day)) != 0)
		goto fail;
	if (!store_valid_day(out->day)) {
		rc = corrupt(s, st, 0, "is not a day");
		goto fail;
	}
	if ((rc = col_dup(s, st, 1, false, &out->doc)) != 0)
		goto fail;
	out->len = strlen(out->doc);
	if (out->len < 1 || out->len > STORE_STATS_DOC_MAX) {
		rc = corrupt(s, st, 1, "has a length out of range");
		goto fail;
	}
	if ((rc = col_i64(s, st, 2, 0, INT64_MAX, &out->created)) != 0)
		goto fail;
	if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
		if ((rc = col_i64(s, st, 3, 0, INT64_MAX, &idx)) != 0)
			goto fail;
		out->logged = true;
		out->log_index = (uint64_t)idx;
	}
	return 0;
fail:
	stats_day_clear(out);
	return rc;
}

/* The stored document of day into *out; VG_ENOENT if none. */
static int
stats_get(struct store_sqlite *s, const char *day, struct stats_day *out)
{
	sqlite3_stmt *st = s->st[ST_STATS_GET];
	int rc;

	if ((rc = bind_text(s, st, 1, day)) != 0)
		goto out;
	rc = step(s, st, "stats_get");
	if (rc == SQLITE_ROW) {
		rc = read_stats(s, st, out);
	} else if (rc == SQLITE_DONE) {
		seterr(s, "stats_get: no document for %s", day);
		rc = VG_ENOENT;
	}
out:
	done(st);
	return rc;
}

static int
op_stats_get(struct store *base, const char *day, struct stats_day *out)
{
	struct store_sqlite *s = to_sqlite(base);

	memset(out, 0, sizeof(*out));
	if (!store_valid_day(day)) {
		seterr(s, "stats_get: not a day");
		return VG_EINVAL;
	}
	return stats_get(s, day, out);
}

static int
op_stats_put(struct store *base, const struct stats_day *d,
	     struct stats_day *out, bool *stored)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_STATS_PUT];
	int rc;

	memset(out, 0, sizeof(*out));
	*stored = false;
	if (!store_valid_stats(d)) {
		seterr(s, "stats_put: invalid document");
		return VG_EINVAL;
	}
	if ((rc = tx_begin(s)) != 0)
		return rc;
	if ((rc = bind_text(s, st, 1, d->day)) != 0)
		goto out;
	if (sqlite3_bind_text(st, 2, d->doc, (int)d->len, SQLITE_STATIC) !=
		    SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, d->created ? d->created : now()) !=
		    SQLITE_OK) {
		rc = dberr(s, sqlite3_errcode(s->db), "stats_put");
		goto out;
	}
	if ((rc = run(s, st, "stats_put")) != 0)
		goto out;
	*stored = sqlite3_changes(s->db) == 1;
	done(st);
	if ((rc = stats_get(s, d->day, out)) != 0)
		goto out;
	rc = tx_commit(s);
out:
	done(st);
	if (rc != 0) {
		tx_rollback(s);
		stats_day_clear(out);
		*stored = false;
	}
	return rc;
}

static int
op_stats_log(struct store *base, const char *day, uint64_t index)
{
	struct store_sqlite *s = to_sqlite(base);
	sqlite3_stmt *st = s->st[ST_STATS_LOG];
	struct stats_day d;
	int rc;

	if (!store_valid_day(day) || index > INT64_MAX) {
		seterr(s, "stats_log: invalid argument");
		return VG_EINVAL;
	}
	if ((rc = bind_text(s, st, 1, day)) != 0)
		goto out;
	if (sqlite3_bind_int64(st, 2, (int64_t)index) != SQLITE_OK) {
		rc = dberr(s, sqlite3_errcode(s->db), "stats_log");
		goto out;
	}
	if ((rc = run(s, st, "stats_log")) != 0)
		goto out;
	if (sqlite3_changes(s->db) == 0) {
		/* Recorded already, or no such day. */
		done(st);
		if ((rc = stats_get(s, day, &d)) == 0)
			stats_day_clear(&d);
	}
out:
	done(st);
	return rc;
}

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.close = op_close,
	.client_put = op_client_put,
	.client_by_token_hash = op_client_by_token_hash,
	.client_consent_set = op_client_consent_set,
	.client_delete = op_client_delete,
	.client_list = op_client_list,
	.client_fp_list = op_client_fp_list,
	.erasures_pending = op_erasures_pending,
	.erasure_done = op_erasure_done,
	.retention_sweep = op_retention_sweep,
	.hold_add = op_hold_add,
	.hold_release = op_hold_release,
	.holds_count = op_holds_count,
	.submission_add = op_submission_add,
	.submission_add_many = op_submission_add_many,
	.set_synced = op_set_synced,
	.sample_locate = op_sample_locate,
	.sample_locate_many = store_locate_each,
	.submission_get = op_submission_get,
	.job_claim = op_job_claim,
	.job_get_by_sha256 = op_job_get_by_sha256,
	.job_finish = op_job_finish,
	.reputation_note = op_reputation_note,
	.reputation_note_many = op_reputation_note_many,
	.reputation_fail = op_reputation_fail,
	.jobs_queued = op_jobs_queued,
	.job_fail = op_job_fail,
	.job_requeue_stale = op_job_requeue_stale,
	.job_lease_renew = op_job_lease_renew,
	.rescan_queue = op_rescan_queue,
	.rescan_finish = op_rescan_finish,
	.rescan_fail = op_rescan_fail,
	.rescans_queued = op_rescans_queued,
	.objects_renote_many = op_objects_renote_many,
	.samples_stored_each = op_samples_stored_each,
	.reputation_get = op_reputation_get,
	.reputation_each = op_reputation_each,
	.fp_report_add = op_fp_report_add,
	.fp_open_count = op_fp_open_count,
	.fp_list = op_fp_list,
	.fp_reject = op_fp_reject,
	.retraction_add = op_retraction_add,
	.retraction_undo = op_retraction_undo,
	.retraction_get = op_retraction_get,
	.retraction_each = op_retraction_each,
	.operator_add = op_operator_add,
	.operator_get = op_operator_get,
	.operator_by_token_hash = op_operator_by_token_hash,
	.operator_revoke = op_operator_revoke,
	.operator_list = op_operator_list,
	.stats_rows_each = op_stats_rows_each,
	.stats_put = op_stats_put,
	.stats_get = op_stats_get,
	.stats_log = op_stats_log,
};

/* Opening */

static int
exec(struct store_sqlite *s, const char *sql, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : dberr(s, rc, what);
}

/* Runs a PRAGMA that answers one row of one column. */
static int
pragma(struct store_sqlite *s, const char *sql, int64_t *ival, char *text,
       size_t textlen)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *p;
	int rc;

	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		rc = dberr(s, rc, sql);
		goto out;
	}
	rc = step(s, st, sql);
	if (rc == SQLITE_DONE) {
		/* A PRAGMA the library does not know answers nothing. */
		seterr(s, "%s: no answer", sql);
		rc = VG_ELIB;
	}
	if (rc != SQLITE_ROW)
		goto out;
	if (ival != NULL)
		*ival = (int64_t)sqlite3_column_int64(st, 0);
	if (text != NULL) {
		p = sqlite3_column_text(st, 0);
		snprintf(text, textlen, "%s", p != NULL ? (const char *)p : "");
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

static int
check_version(struct store_sqlite *s, int64_t v)
{
	if (v > SCHEMA_VERSION) {
		seterr(s,
		       "schema version %lld is newer than this vigild knows"
		       " (%lld); refusing to touch it",
		       (long long)v, (long long)SCHEMA_VERSION);
		return VG_ECORRUPT;
	}
	if (v < 0) {
		seterr(s, "schema version %lld makes no sense", (long long)v);
		return VG_ECORRUPT;
	}
	return 0;
}

static int
migrate(struct store_sqlite *s)
{
	int64_t v;
	int rc;

	if ((rc = pragma(s, "PRAGMA user_version", &v, NULL, 0)) != 0 ||
	    (rc = check_version(s, v)) != 0 || v == SCHEMA_VERSION)
		return rc;
	if ((rc = exec(s, "BEGIN IMMEDIATE", "migrate")) != 0)
		return rc;
	/* Read again under the write lock: another process may have
	 * migrated while this one waited for it. */
	if ((rc = pragma(s, "PRAGMA user_version", &v, NULL, 0)) != 0 ||
	    (rc = check_version(s, v)) != 0)
		goto out;
	for (; v < SCHEMA_VERSION; v++) {
		if ((rc = exec(s, migrations[v], "migrate")) != 0)
			goto out;
	}
	rc = exec(s, "COMMIT", "migrate");
out:
	if (rc != 0 && !sqlite3_get_autocommit(s->db))
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int
configure(struct store_sqlite *s)
{
	char mode[16];
	int64_t v;
	int rc;

	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	sqlite3_limit(s->db, SQLITE_LIMIT_LENGTH, STORE_MAX_VALUE);
	/*
	 * Switching a file to WAL needs an exclusive lock, and SQLite fails
	 * at once if another connection is switching it too (processes
	 * opening a new database together) instead of calling the busy
	 * handler: retry for as long as the busy timeout. journal_mode
	 * answers the mode it ended in, which is not WAL on a file system
	 * without shared memory, for instance.
	 */
	for (int waited = 0;; waited += 10) {
		rc = pragma(s, "PRAGMA journal_mode = WAL", NULL, mode,
			    sizeof(mode));
		if (rc == 0 || (sqlite3_errcode(s->db) & 0xff) != SQLITE_BUSY ||
		    waited >= STORE_BUSY_MS)
			break;
		sqlite3_sleep(10);
	}
	if (rc != 0)
		return rc;
	if (strcmp(mode, "wal") != 0) {
		seterr(s, "cannot use WAL (journal mode is %s)", mode);
		return VG_EIO;
	}
	/* synchronous and foreign_keys belong to the connection, not the
	 * file: they must be set at every open. */
	if ((rc = exec(s, "PRAGMA synchronous = FULL", "synchronous")) != 0 ||
	    (rc = exec(s, "PRAGMA foreign_keys = ON", "foreign_keys")) != 0)
		return rc;
	if (sqlite3_wal_autocheckpoint(s->db, STORE_WAL_CHECKPOINT_PAGES) !=
	    SQLITE_OK)
		return dberr(s, sqlite3_errcode(s->db), "wal_autocheckpoint");
	if ((rc = pragma(s, "PRAGMA synchronous", &v, NULL, 0)) != 0)
		return rc;
	if (v != 2) {
		seterr(s, "cannot set synchronous = FULL (it is %lld)",
		       (long long)v);
		return VG_ELIB;
	}
	if ((rc = pragma(s, "PRAGMA foreign_keys", &v, NULL, 0)) != 0)
		return rc;
	if (v != 1) {
		seterr(s, "SQLite was built without foreign keys");
		return VG_ELIB;
	}
	return 0;
}

static int
open_store(const char *path, bool gather, struct store **out, char *err,
	   size_t errlen)
{
	struct store_sqlite *s = NULL;
	const char *vfs = NULL;
	int fd, rc;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	s = xcalloc(1, sizeof(*s));
	s->base.ops = &sqlite_ops;
	if (path == NULL || *path == '\0') {
		seterr(s, "no database path");
		rc = VG_EINVAL;
		goto fail;
	}
	if (sqlite3_libversion_number() < STORE_MIN_SQLITE) {
		seterr(s, "SQLite %s is too old (3.37 or later needed)",
		       sqlite3_libversion());
		rc = VG_ELIB;
		goto fail;
	}
	/*
	 * SQLite would create the file 0644 less the umask; create it 0600
	 * first. O_EXCL: only a file this call created is closed here.
	 * Closing a descriptor drops every POSIX lock this process holds on
	 * the file, including those of other connections to it, so an
	 * existing database must not be opened and closed behind SQLite.
	 */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
	} else if (errno != EEXIST) {
		seterr(s, "%s: %s", path, strerror(errno));
		rc = VG_EIO;
		goto fail;
	}
	if (gather && (vfs = walbuf_vfs()) == NULL) {
		seterr(s, "cannot register the WAL-gathering VFS");
		rc = VG_ELIB;
		goto fail;
	}
	s->gathers = gather;
	/* No SQLITE_OPEN_CREATE: the file exists now, and if it vanished,
	 * SQLite must not recreate it with the wrong mode. */
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, vfs);
	if (rc != SQLITE_OK) {
		if (s->db == NULL) {
			seterr(s, "%s: out of memory", path);
			rc = VG_ENOMEM;
		} else {
			rc = dberr(s, rc, path);
		}
		goto fail;
	}
	if ((rc = configure(s)) != 0 || (rc = migrate(s)) != 0)
		goto fail;
	/* A gathering handle writes WAL frames only when it commits (each
	 * commit then syncs, which writes them): frames spilled by a
	 * transaction that then rolled back could stay in memory and be
	 * written later over frames another connection put in their place. */
	if (gather &&
	    (rc = exec(s, "PRAGMA cache_spill = OFF", "cache_spill")) != 0)
		goto fail;
	for (int i = 0; i < ST_COUNT; i++) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1,
					SQLITE_PREPARE_PERSISTENT, &s->st[i],
					NULL);
		if (rc != SQLITE_OK) {
			rc = dberr(s, rc, "prepare");
			goto fail;
		}
	}
	*out = &s->base;
	return 0;
fail:
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", s->base.err);
	op_close(&s->base);
	return rc;
}

int
store_sqlite_open(const char *path, struct store **out, char *err,
		  size_t errlen)
{
	return open_store(path, false, out, err, errlen);
}

int
store_sqlite_open_writer(const char *path, struct store **out, char *err,
			 size_t errlen)
{
	return open_store(path, true, out, err, errlen);
}
