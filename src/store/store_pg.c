/*
 * store_pg.c - the PostgreSQL backend of the metadata store; see store.h.
 *
 * A region runs several nodes against one PostgreSQL cluster (a primary
 * and a synchronous standby on the other site); each thread of each node
 * holds its own handle, one session (pg.h). The operations mean exactly
 * what they mean on SQLite (store_sqlite.c): the same rows, the same
 * answers, the same VG_E* codes for the same cases. What differs comes
 * from the many nodes:
 *
 * Durability. A commit is a plain COMMIT: the cluster's synchronous_commit
 * and synchronous_standby_names make it wait until the standby has the
 * transaction, so that losing a site loses no acknowledged submission.
 * set_synced(false) sets synchronous_commit = local for the session: its
 * commits wait for the primary's disk only. Analysis results are redone
 * after a crash anyway, and they should not wait for the other site.
 *
 * Jobs across nodes. job_claim takes the oldest claimable job with FOR
 * UPDATE SKIP LOCKED, so that two nodes claiming at once never wait for
 * each other nor get the same job, and leases it: lease_owner (the
 * handle's owner, given at open) and lease_until (unix milliseconds, on
 * the server's clock, which every node shares). A job analysing whose
 * lease ran out is claimable again by any node: its node died or lost
 * its session. The owner renews its leases (job_lease_renew) while it
 * works; job_finish, job_fail, rescan_finish and rescan_fail succeed
 * only for a job still leased to the handle's owner (a lease that ran
 * out but was not taken over is still the owner's). Rescans are leased
 * the same way. job_requeue_stale requeues the jobs whose lease ran out
 * and those leased to this owner (its own, from before a restart), never
 * another node's live ones.
 *
 * Change notification. Every transaction that creates or changes a
 * reputation row also notifies channel vigil_reputation with the changed
 * rows' SHA-256s (lowercase hex, separated by single spaces; several
 * notifications when they would pass NOTIFY_PAYLOAD_MAX bytes), and
 * retraction_add and retraction_undo notify vigil_retraction with the
 * sample's SHA-256: the other nodes keep their in-memory index current
 * from these. PostgreSQL delivers notifications at commit, and drops
 * them with a rolled-back transaction.
 *
 * Round trips. Most operations are one statement (data-modifying CTEs do
 * in one statement, atomically, what SQLite does in a transaction of
 * several). A batch of submissions (submission_add_many) is one
 * transaction whose statements go in a libpq pipeline: a batch of 256
 * costs two round trips (its rows; its notifications and COMMIT, sent
 * while the barrier waits), plus one for each refused item. Its rows go
 * as three statements for the whole batch, whose columns are arrays
 * (SQL_SUBS_*), so that the server runs three statements, not three an
 * item: once for each round of the batch, a round holding a sample once
 * (most batches are one round). A refused item fails its round; the
 * batch is then rolled back and written again one item at a time, each
 * item under a SAVEPOINT, as in store_sqlite.c: a refused item leaves no
 * trace and the others go on. The first pass takes no savepoints,
 * because a transaction of more than 64 subtransactions overflows the
 * server's subtransaction cache and slows every snapshot of the cluster;
 * items are almost never refused.
 * A batch writes its samples in SHA-256 order, and so does a report's
 * notes, so that two nodes' batches never wait for each other in a
 * cycle (a deadlock, which fails one of them).
 *
 * A lost session (the server crashed or failed over) fails the operation
 * in flight with VG_EIO and the server's message; the next operation
 * reconnects first, to whichever host of the DSN is the primary then.
 * Nothing is retried: whether a lost COMMIT committed is unknown.
 *
 * Schema "store", version 5 (pg_migrate; steps[] below): the tables of
 * store_sqlite.c's version 10 (version 1 had those of its version 6; step
 * 2 adds operators, 3 the indexes by client and the erasures to finish,
 * 4 the statistics, 5 the indexes of retention and the legal holds)
 * with PostgreSQL's types (bigint for unix seconds, as on SQLite, bytea
 * for the token hash, double precision for durations), and the lease
 * columns of jobs and rescans. Attempts are bigint: one attempt more
 * than a C int holds reads as a corrupt row (failed, off the queue), as
 * on SQLite, not as an overflow that every claim would trip over. All
 * SQL is constant text; data only ever goes as parameters.
 */
#include "store/store.h"

#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "common/err.h"
#include "common/hex.h"
#include "common/xmalloc.h"
#include "store/pg.h"
#include "store/pgfeed.h"
#include "store/store_impl.h"

/* A job lease when the caller gives none. */
#define LEASE_DEFAULT_MS 30000
/* PostgreSQL takes notification payloads shorter than 8,000 bytes. */
#define NOTIFY_PAYLOAD_MAX 7900
/* SHA-256s per notification: 64 hex digits, a space between two. */
#define NOTIFY_HASHES ((NOTIFY_PAYLOAD_MAX + 1) / 65)
/* Rows fetched at a time by the each operations. */
#define EACH_FETCH 512

/* The channels the node's change feed listens on (pgfeed.h). */
#define CHAN_REPUTATION PGFEED_CHANNEL_REPUTATION
#define CHAN_RETRACTION PGFEED_CHANNEL_RETRACTION

/* The server's clock in unix milliseconds: leases are compared on one
 * clock, whatever the nodes' clocks say. */
#define NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

static const char *const steps[] = {
	/* 1 */
	"CREATE TABLE clients ("
	"  id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 36),"
	"  token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),"
	"  consent integer NOT NULL CHECK (consent BETWEEN 0 AND 2),"
	"  region text NOT NULL CHECK (octet_length(region) <= 32),"
	"  created bigint NOT NULL"
	");"
	/* n numbers samples in arrival order and keys their job, clients
	 * and rescan, as on SQLite. */
	"CREATE TABLE samples ("
	"  n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  sha256 text NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),"
	"  md5 text NOT NULL CHECK (md5 ~ '^[0-9a-f]{32}$'),"
	"  sha1 text NOT NULL CHECK (sha1 ~ '^[0-9a-f]{40}$'),"
	"  size bigint NOT NULL CHECK (size >= 0),"
	"  verdict text NOT NULL CHECK (verdict IN ('malicious',"
	"    'suspicious', 'clean', 'unknown')),"
	"  score integer NOT NULL,"
	"  detections text NOT NULL,"
	"  mime text,"
	"  first_seen bigint NOT NULL,"
	"  last_seen bigint NOT NULL,"
	"  prevalence bigint NOT NULL CHECK (prevalence >= 0),"
	"  analysed_at bigint NOT NULL CHECK (analysed_at >= 0),"
	"  analysis_ms double precision NOT NULL CHECK (analysis_ms >= 0),"
	"  blob_segment bigint CHECK (blob_segment > 0),"
	"  blob_offset bigint CHECK (blob_offset >= 0),"
	"  blob_length bigint CHECK (blob_length > 0),"
	"  because text NOT NULL DEFAULT '[]',"
	"  derived_from text CHECK (derived_from ~ '^[0-9a-f]{64}$'),"
	"  derived_job bigint CHECK (derived_job > 0),"
	"  CHECK ((blob_segment IS NULL) = (blob_offset IS NULL)"
	"    AND (blob_offset IS NULL) = (blob_length IS NULL)),"
	"  CHECK ((derived_job IS NULL) = (derived_from IS NULL))"
	");"
	"CREATE TABLE sample_clients ("
	"  sample bigint NOT NULL REFERENCES samples(n),"
	"  client_id text NOT NULL REFERENCES clients(id),"
	"  PRIMARY KEY (sample, client_id)"
	");"
	"CREATE TABLE submissions ("
	"  id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 36),"
	"  client_id text NOT NULL REFERENCES clients(id),"
	"  sha256 text NOT NULL REFERENCES samples(sha256),"
	"  metadata text NOT NULL,"
	"  created bigint NOT NULL"
	");"
	"CREATE TABLE jobs ("
	"  id bigint PRIMARY KEY REFERENCES samples(n),"
	"  state integer NOT NULL CHECK (state BETWEEN 0 AND 3),"
	"  attempts bigint NOT NULL CHECK (attempts >= 0),"
	"  report text,"
	"  error text,"
	"  updated bigint NOT NULL,"
	"  lease_owner text,"
	"  lease_until bigint,"
	"  CHECK ((lease_owner IS NULL) = (lease_until IS NULL))"
	");"
	/* job_claim's two searches: the oldest queued, the oldest lease
	 * run out. */
	"CREATE INDEX jobs_queued ON jobs (updated, id) WHERE state = 0;"
	"CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 1;"
	"CREATE TABLE fp_reports ("
	"  sha256 text NOT NULL REFERENCES samples(sha256),"
	"  client_id text NOT NULL REFERENCES clients(id),"
	"  reason text NOT NULL CHECK (length(reason) >= 1"
	"    AND octet_length(reason) <= 1024),"
	"  created bigint NOT NULL,"
	"  state integer NOT NULL CHECK (state BETWEEN 0 AND 2),"
	"  decided bigint,"
	"  decision text CHECK (octet_length(decision) <= 1024),"
	"  PRIMARY KEY (sha256, client_id)"
	");"
	"CREATE INDEX fp_reports_open ON fp_reports (sha256) WHERE state = 0;"
	"CREATE TABLE retractions ("
	"  log_index bigint PRIMARY KEY CHECK (log_index >= 0),"
	"  sha256 text NOT NULL REFERENCES samples(sha256),"
	"  detections text NOT NULL,"
	"  reason text NOT NULL CHECK (length(reason) >= 1"
	"    AND octet_length(reason) <= 1024),"
	"  created bigint NOT NULL,"
	"  undone bigint CHECK (undone IS NULL OR undone > log_index)"
	");"
	"CREATE UNIQUE INDEX retractions_in_force ON retractions (sha256)"
	"  WHERE undone IS NULL;"
	"CREATE TABLE rescans ("
	"  id bigint PRIMARY KEY REFERENCES samples(n),"
	"  state integer NOT NULL CHECK (state BETWEEN 0 AND 1),"
	"  attempts bigint NOT NULL CHECK (attempts >= 0),"
	"  prevalence bigint NOT NULL CHECK (prevalence >= 0),"
	"  last_seen bigint NOT NULL,"
	"  lease_owner text,"
	"  lease_until bigint,"
	"  CHECK ((lease_owner IS NULL) = (lease_until IS NULL))"
	");"
	"CREATE INDEX rescans_queued"
	"  ON rescans (prevalence DESC, last_seen DESC, id) WHERE state = 0;"
	"CREATE INDEX rescans_leased ON rescans (lease_until) WHERE state = 1;"
	"CREATE TABLE settings ("
	"  key text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 64),"
	"  value text NOT NULL CHECK (length(value) <= 1024)"
	");"
	/* reputation_fail reads stored JSON that may be damaged, as
	 * SQLite's json_type() does: NULL for what does not parse. */
	"CREATE FUNCTION vigil_try_jsonb(t text) RETURNS jsonb"
	"  LANGUAGE plpgsql IMMUTABLE AS $f$"
	"  BEGIN RETURN t::jsonb;"
	"  EXCEPTION WHEN others THEN RETURN NULL; END $f$;",
	/* 2: named operators (docs/API.md, "Operators"), shared by every
	 * node of the region: a revocation is seen by the next request on
	 * any node. */
	"CREATE TABLE operators ("
	"  name text PRIMARY KEY CHECK (name ~ '^[a-z0-9-]{1,32}$'"
	"    AND name <> 'root'),"
	"  token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),"
	"  created bigint NOT NULL CHECK (created >= 0),"
	"  revoked bigint CHECK (revoked IS NULL OR revoked > 0)"
	");",
	/* 3: a client's own data found by client (client_list,
	 * client_consent_set, client_delete; docs/PRIVACY.md), as
	 * SQLite's version 8. */
	"CREATE INDEX submissions_by_client ON submissions"
	"  (client_id, id COLLATE \"C\");"
	"CREATE INDEX sample_clients_by_client"
	"  ON sample_clients (client_id, sample);"
	"CREATE TABLE erasures ("
	"  segment bigint NOT NULL CHECK (segment > 0),"
	"  off bigint NOT NULL CHECK (off >= 0),"
	"  length bigint NOT NULL CHECK (length > 0),"
	"  PRIMARY KEY (segment, off));",
	/* 4: anonymised statistics, one frozen document per day
	 * (docs/STATS.md): inserted once by whichever node of the region
	 * computes it first, never updated but for its log index. */
	"CREATE TABLE stats ("
	"  day text PRIMARY KEY CHECK (length(day) = 10),"
	"  doc text NOT NULL CHECK (octet_length(doc) BETWEEN 1 AND 1048576),"
	"  created bigint NOT NULL CHECK (created >= 0),"
	"  log_index bigint CHECK (log_index IS NULL OR log_index >= 0)"
	");",
	/* 5: retention (retention_sweep; docs/PRIVACY.md) finds the oldest
	 * stored samples and the oldest submissions, as SQLite's version
	 * 10. */
	"CREATE INDEX samples_stored_by_last_seen ON samples (last_seen, n)"
	"  WHERE blob_segment IS NOT NULL;"
	"CREATE INDEX submissions_by_created ON submissions"
	"  (created, id COLLATE \"C\");"
	"CREATE TABLE holds ("
	"  sha256 text NOT NULL REFERENCES samples(sha256),"
	"  case_id text NOT NULL CHECK (length(case_id) BETWEEN 1 AND 64),"
	"  reason text NOT NULL CHECK (length(reason) >= 1"
	"    AND octet_length(reason) <= 1024),"
	"  operator text NOT NULL,"
	"  created bigint NOT NULL,"
	"  PRIMARY KEY (sha256, case_id));",
};

/* The columns read_reputation() expects, in order. */
#define REP_COLS                                                               \
	"md5, sha1, sha256, verdict, score, detections, size, mime, "          \
	"first_seen, last_seen, prevalence, analysed_at, analysis_ms, "        \
	"because, derived_from, derived_job"
#define REP_NCOLS 16
#define JOB_COLS                                                               \
	"id, (SELECT sha256 FROM samples WHERE samples.n = jobs.id), state, "  \
	"attempts, report, error, updated"
#define RETR_COLS "sha256, log_index, detections, reason, created"
#define OP_COLS   "name, token_hash, created, revoked"

/* Submissions, one item in three statements (sub_send). A known sample
 * must agree on every hash and the size: the upsert's WHERE makes a
 * disagreeing one change nothing and answer no row, and the next
 * statement then finds no sample and fails on sample_clients' NOT NULL,
 * which undoes the item. The first location recorded stays. */
/* The row has no bytes and this submission brings them: the hashes and
 * size computed from the bytes replace what a client stated without
 * them (store_sqlite.c's BYTES_WIN). */
#define BYTES_WIN                                                              \
	"(x.blob_segment IS NULL AND excluded.blob_segment IS NOT NULL)"
#define SAMPLE_UPSERT_HEAD                                                     \
	"INSERT INTO samples AS x (sha256, md5, sha1, size, verdict, score,"   \
	" detections, mime, first_seen, last_seen, prevalence, analysed_at,"   \
	" analysis_ms, blob_segment, blob_offset, blob_length)"
#define SAMPLE_UPSERT_TAIL                                                     \
	"ON CONFLICT (sha256) DO UPDATE SET"                                   \
	" md5 = CASE WHEN " BYTES_WIN " THEN excluded.md5 ELSE x.md5 END,"      \
	" sha1 = CASE WHEN " BYTES_WIN " THEN excluded.sha1 ELSE x.sha1 END,"   \
	" size = CASE WHEN " BYTES_WIN " THEN excluded.size ELSE x.size END,"   \
	" first_seen = least(x.first_seen, excluded.first_seen),"              \
	" last_seen = greatest(x.last_seen, excluded.last_seen),"              \
	" blob_segment = coalesce(x.blob_segment, excluded.blob_segment),"     \
	" blob_offset = coalesce(x.blob_offset, excluded.blob_offset),"        \
	" blob_length = coalesce(x.blob_length, excluded.blob_length)"         \
	" WHERE (x.md5 = excluded.md5 AND x.sha1 = excluded.sha1"              \
	" AND x.size = excluded.size) OR " BYTES_WIN " RETURNING " REP_COLS
static const char SQL_SAMPLE_UPSERT[] = SAMPLE_UPSERT_HEAD
	" VALUES ($1, $2, $3, $4, 'unknown', 0, '[]', NULL, $5, $5, 0, 0, 0,"
	" $6, $7, $8) " SAMPLE_UPSERT_TAIL;
/* Only a client new to the sample makes it more prevalent. */
static const char SQL_SAMPLE_CLIENT[] =
	"WITH c AS (INSERT INTO sample_clients (sample, client_id)"
	" VALUES ((SELECT n FROM samples WHERE sha256 = $1 AND md5 = $2"
	" AND sha1 = $3 AND size = $4::bigint), $5)"
	" ON CONFLICT DO NOTHING RETURNING sample)"
	" UPDATE samples SET prevalence = prevalence + 1"
	" WHERE n = (SELECT sample FROM c) RETURNING prevalence";
/* Queues the sample's job if it has none, records the submission, and
 * answers whether a job was queued and the state of the sample's job
 * (the CTE's insert is not visible to the statement: 0 then). NOT
 * EXISTS first: the unique check of an insert that conflicts waits for
 * whoever is updating the existing job, and job_finish updates the job,
 * then the sample this batch holds, a deadlock. */
static const char SQL_SUB_INSERT[] =
	"WITH j AS (INSERT INTO jobs (id, state, attempts, updated)"
	" SELECT n, 0, 0, $6::bigint FROM samples WHERE sha256 = $3"
	" AND $7::boolean AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = samples.n)"
	" ON CONFLICT (id) DO NOTHING RETURNING id),"
	" s AS (INSERT INTO submissions (id, client_id, sha256, metadata,"
	" created) VALUES ($1, $2, $3, $4, $5))"
	" SELECT (SELECT count(*) FROM j),"
	" coalesce((SELECT state FROM jobs WHERE id ="
	" (SELECT n FROM samples WHERE sha256 = $3)), 0)";

/*
 * Submissions, a round of a batch in three statements (subs_send): the
 * three above for every item of the round at once, the round's columns
 * as arrays, in the order of the arrays (by SHA-256). A round holds each
 * sample once (ON CONFLICT DO UPDATE touches a row once a statement), so
 * the statements mean for each item what the one-item ones mean. A
 * disagreeing sample makes the upsert answer fewer rows and the second
 * statement fail, as above; any refused item fails the round.
 */
static const char SQL_SUBS_UPSERT[] = SAMPLE_UPSERT_HEAD
	" SELECT u.sha256, u.md5, u.sha1, u.size, 'unknown', 0, '[]', NULL,"
	" u.t, u.t, 0, 0, 0, u.seg, u.off, u.len"
	" FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[],"
	" $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[])"
	" WITH ORDINALITY AS u(sha256, md5, sha1, size, t, seg, off, len, i)"
	" ORDER BY u.i " SAMPLE_UPSERT_TAIL;
/* The samples made more prevalent are named by an array, not by IN
 * (SELECT ...): the planner then probes samples' key once per item, where
 * IN let it hash-join the whole table, a batch costing more as the table
 * grows. */
static const char SQL_SUBS_CLIENT[] =
	"WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[],"
	" $4::bigint[], $5::text[])"
	" WITH ORDINALITY AS u(sha256, md5, sha1, size, client_id, i)),"
	" c AS (INSERT INTO sample_clients (sample, client_id)"
	" SELECT (SELECT n FROM samples WHERE samples.sha256 = u.sha256"
	" AND samples.md5 = u.md5 AND samples.sha1 = u.sha1"
	" AND samples.size = u.size), u.client_id FROM u ORDER BY u.i"
	" ON CONFLICT DO NOTHING RETURNING sample)"
	" UPDATE samples SET prevalence = prevalence + 1"
	" WHERE n = ANY (ARRAY(SELECT sample FROM c)) RETURNING sha256";
/* Answers a row per item: its place in the arrays (from 1), whether a
 * job was queued, and the state of the sample's job as above. The job
 * test is a subquery, not NOT EXISTS, so that each item probes jobs'
 * index and no plan reads the whole table (a hash anti join). */
static const char SQL_SUBS_INSERT[] =
	"WITH u AS (SELECT u.*, (SELECT n FROM samples"
	" WHERE samples.sha256 = u.sha256) AS n"
	" FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
	" $5::bigint[], $7::boolean[])"
	" WITH ORDINALITY AS u(id, client_id, sha256, metadata, created, q,"
	" i)),"
	" j AS (INSERT INTO jobs (id, state, attempts, updated)"
	" SELECT u.n, 0, 0, $6::bigint FROM u WHERE u.n IS NOT NULL AND u.q"
	" AND (SELECT id FROM jobs WHERE jobs.id = u.n) IS NULL"
	" ORDER BY u.i ON CONFLICT (id) DO NOTHING RETURNING id),"
	" s AS (INSERT INTO submissions (id, client_id, sha256, metadata,"
	" created) SELECT id, client_id, sha256, metadata, created FROM u"
	" ORDER BY u.i)"
	" SELECT u.i, (j.id IS NOT NULL)::int,"
	" coalesce((SELECT state FROM jobs WHERE jobs.id = u.n), 0)"
	" FROM u LEFT JOIN j ON j.id = u.n ORDER BY u.i";

/* The oldest queued job, or the oldest whose lease ran out, claimed and
 * leased in one statement. SKIP LOCKED: a job another node is claiming
 * right now is passed over, not waited for. */
static const char SQL_JOB_CLAIM[] =
	"WITH q AS (SELECT id, updated FROM jobs WHERE state = 0"
	" ORDER BY updated, id LIMIT 1 FOR UPDATE SKIP LOCKED),"
	" e AS (SELECT id, updated FROM jobs WHERE state = 1"
	" AND lease_until < " NOW_MS " ORDER BY lease_until, id LIMIT 1"
	" FOR UPDATE SKIP LOCKED)"
	" UPDATE jobs SET state = 1, attempts = attempts + 1, updated = $1,"
	" lease_owner = $2, lease_until = " NOW_MS " + $3::bigint"
	" WHERE id = (SELECT id FROM (SELECT * FROM q UNION ALL"
	" SELECT * FROM e) c ORDER BY updated, id LIMIT 1)"
	" RETURNING " JOB_COLS;
static const char SQL_RESCAN_CLAIM[] =
	"WITH q AS (SELECT id, prevalence, last_seen FROM rescans"
	" WHERE state = 0 ORDER BY prevalence DESC, last_seen DESC, id"
	" LIMIT 1 FOR UPDATE SKIP LOCKED),"
	" e AS (SELECT id, prevalence, last_seen FROM rescans"
	" WHERE state = 1 AND lease_until < " NOW_MS
	" ORDER BY lease_until, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
	" UPDATE rescans SET state = 1, attempts = attempts + 1,"
	" lease_owner = $1, lease_until = " NOW_MS " + $2::bigint"
	" WHERE id = (SELECT id FROM (SELECT * FROM q UNION ALL"
	" SELECT * FROM e) c ORDER BY prevalence DESC, last_seen DESC, id"
	" LIMIT 1)"
	" RETURNING id, (SELECT sha256 FROM samples"
	" WHERE samples.n = rescans.id), attempts";

/* The job's report and the sample's verdict, in one statement: only for
 * a job analysing under this owner's lease. */
static const char SQL_JOB_FINISH[] =
	"WITH j AS (UPDATE jobs SET state = 2, report = $2, error = NULL,"
	" updated = $3, lease_owner = NULL, lease_until = NULL"
	" WHERE id = $1 AND state = 1 AND lease_owner = $4 RETURNING id),"
	" v AS (UPDATE samples SET verdict = $5, score = $6,"
	" detections = $7, mime = $8, analysed_at = $3, analysis_ms = $9,"
	" because = $10, derived_from = NULL, derived_job = NULL"
	" WHERE n = (SELECT id FROM j) RETURNING sha256)"
	" SELECT sha256, pg_notify('" CHAN_REPUTATION "', sha256) FROM v";
static const char SQL_JOB_FAIL[] =
	"UPDATE jobs SET state = CASE WHEN attempts < $2 THEN 0 ELSE 3 END,"
	" error = $3, updated = $4, lease_owner = NULL, lease_until = NULL"
	" WHERE id = $1 AND state = 1 AND lease_owner = $5";
static const char SQL_JOB_STATE[] =
	"SELECT state, lease_owner FROM jobs WHERE id = $1";
static const char SQL_JOB_MARK_CORRUPT[] =
	"UPDATE jobs SET state = 3, error = 'corrupt job row', updated = $2,"
	" lease_owner = NULL, lease_until = NULL WHERE id = $1";
static const char SQL_REQUEUE[] =
	"WITH r AS (UPDATE rescans SET state = 0, lease_owner = NULL,"
	" lease_until = NULL WHERE state = 1 AND (lease_owner = $2"
	" OR lease_until < " NOW_MS "))"
	" UPDATE jobs SET state = 0, updated = $1, lease_owner = NULL,"
	" lease_until = NULL WHERE state = 1 AND (lease_owner = $2"
	" OR lease_until < " NOW_MS ")";
static const char SQL_LEASE_RENEW[] =
	"WITH r AS (UPDATE rescans SET lease_until = " NOW_MS " + $2::bigint"
	" WHERE state = 1 AND lease_owner = $1 AND id = ANY($4::bigint[])"
	" RETURNING 1),"
	" j AS (UPDATE jobs SET lease_until = " NOW_MS " + $2::bigint"
	" WHERE state = 1 AND lease_owner = $1 AND id = ANY($3::bigint[])"
	" RETURNING 1)"
	" SELECT (SELECT count(*) FROM r) + (SELECT count(*) FROM j)";

/* Records the generation if it is not the one recorded (the upsert
 * answers a row then), and then only queues every stored sample whose
 * job has started; a rescan already there starts over. */
static const char SQL_RESCAN_QUEUE[] =
	"WITH g AS (INSERT INTO settings (key, value)"
	" VALUES ('rules_generation', $1) ON CONFLICT (key) DO UPDATE"
	" SET value = excluded.value"
	" WHERE settings.value IS DISTINCT FROM excluded.value RETURNING 1)"
	" INSERT INTO rescans (id, state, attempts, prevalence, last_seen)"
	" SELECT s.n, 0, 0, s.prevalence, s.last_seen"
	" FROM samples s JOIN jobs j ON j.id = s.n"
	" WHERE s.blob_segment IS NOT NULL AND j.state <> 0"
	" AND EXISTS (SELECT 1 FROM g)"
	" ON CONFLICT (id) DO UPDATE SET state = 0, attempts = 0,"
	" prevalence = excluded.prevalence, last_seen = excluded.last_seen,"
	" lease_owner = NULL, lease_until = NULL";
/* The rescan's end, the sample's new verdict (and the old one, read from
 * the statement's snapshot) and the job's report, in one statement. */
static const char SQL_RESCAN_FINISH[] =
	"WITH r AS (DELETE FROM rescans WHERE id = $1 AND state = 1"
	" AND lease_owner = $10 RETURNING id),"
	" o AS (SELECT verdict FROM samples WHERE n = (SELECT id FROM r)),"
	" v AS (UPDATE samples SET verdict = $2, score = $3,"
	" detections = $4, mime = $5, analysed_at = $6, analysis_ms = $7,"
	" because = $8, derived_from = NULL, derived_job = NULL"
	" WHERE n = (SELECT id FROM r) RETURNING sha256),"
	" p AS (UPDATE jobs SET report = $9, updated = $6"
	" WHERE id = (SELECT id FROM r) AND state = 2)"
	" SELECT sha256, (SELECT verdict FROM o),"
	" pg_notify('" CHAN_REPUTATION "', sha256) FROM v";
/* Requeued below max_attempts, else dropped; the answer says which
 * (both 0: not analysing under this owner's lease). */
static const char SQL_RESCAN_FAIL[] =
	"WITH u AS (UPDATE rescans SET state = 0, lease_owner = NULL,"
	" lease_until = NULL WHERE id = $1 AND state = 1"
	" AND lease_owner = $3 AND attempts < $2 RETURNING 1),"
	" d AS (DELETE FROM rescans WHERE id = $1 AND state = 1"
	" AND lease_owner = $3 AND attempts >= $2 RETURNING 1)"
	" SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM d),"
	" (SELECT count(*) FROM rescans WHERE id = $1 AND state = 1"
	" AND lease_owner <> $3)";
static const char SQL_RESCAN_DROP[] =
	"DELETE FROM rescans WHERE id = $1 AND state = 1";

/* An object's verdict from inside a container, derived from it ($12, its
 * job $13), never overrides the analysis of that object submitted on its
 * own, nor an earlier note (analysed_at != 0). */
#define REP_NOTE_UPSERT                                                        \
	"INSERT INTO samples AS x (sha256, md5, sha1, size, verdict, score,"   \
	" detections, mime, first_seen, last_seen, prevalence, analysed_at,"   \
	" analysis_ms, because, derived_from, derived_job)"                    \
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, 0, $9, $10, $11,"    \
	" $12, $13)"                                                           \
	" ON CONFLICT (sha256) DO UPDATE SET verdict = excluded.verdict,"      \
	" score = excluded.score, detections = excluded.detections,"           \
	" because = excluded.because, mime = excluded.mime,"                   \
	" analysed_at = excluded.analysed_at,"                                 \
	" analysis_ms = excluded.analysis_ms,"                                 \
	" derived_from = excluded.derived_from,"                               \
	" derived_job = excluded.derived_job,"                                 \
	" last_seen = greatest(x.last_seen, excluded.last_seen)"               \
	" WHERE x.analysed_at = 0 AND x.md5 = excluded.md5"                    \
	" AND x.sha1 = excluded.sha1 AND x.size = excluded.size"               \
	" RETURNING sha256"
static const char SQL_REP_NOTE[] = REP_NOTE_UPSERT;
static const char SQL_REP_NOTE_NOTIFY[] =
	"WITH u AS (" REP_NOTE_UPSERT ") SELECT sha256,"
	" pg_notify('" CHAN_REPUTATION "', sha256) FROM u";
/* A re-analysis re-judges the objects inside the sample, unless one was
 * analysed on its own (it has a job): derived from it now. */
static const char SQL_REP_RENOTE[] =
	"UPDATE samples SET verdict = $5, score = $6, detections = $7,"
	" mime = $8, analysed_at = $9, analysis_ms = $10, because = $11,"
	" derived_from = $12, derived_job = $13"
	" WHERE sha256 = $1 AND md5 = $2 AND sha1 = $3 AND size = $4"
	" AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = samples.n)"
	" RETURNING sha256";
/* The statements a pipeline sends once an item (or a round), prepared
 * once a session (session_setup): a batch of 256 submissions written one
 * at a time would otherwise have the server parse and plan 768
 * statements. */
enum prep {
	PREP_SAMPLE_UPSERT,
	PREP_SAMPLE_CLIENT,
	PREP_SUB_INSERT,
	PREP_SUBS_UPSERT,
	PREP_SUBS_CLIENT,
	PREP_SUBS_INSERT,
	PREP_REP_NOTE,
	PREP_REP_RENOTE,
	PREP_COUNT
};

static const char *const prep_sql[PREP_COUNT] = {
	[PREP_SAMPLE_UPSERT] = SQL_SAMPLE_UPSERT,
	[PREP_SAMPLE_CLIENT] = SQL_SAMPLE_CLIENT,
	[PREP_SUB_INSERT] = SQL_SUB_INSERT,
	[PREP_SUBS_UPSERT] = SQL_SUBS_UPSERT,
	[PREP_SUBS_CLIENT] = SQL_SUBS_CLIENT,
	[PREP_SUBS_INSERT] = SQL_SUBS_INSERT,
	[PREP_REP_NOTE] = SQL_REP_NOTE,
	[PREP_REP_RENOTE] = SQL_REP_RENOTE,
};

/* A failed analysis is never clean, whoever wrote the verdict first (see
 * store_sqlite.c's ST_REP_FAIL, which this follows to the byte: the
 * reason is appended to the JSON text as compact JSON, as SQLite's
 * json_insert writes it). */
#define FAIL_WEAK "x.verdict IN ('clean', 'unknown')"
#define FAIL_NAME "to_json($2::text)::text"
static const char SQL_REP_FAIL[] =
	"WITH u AS (UPDATE samples x SET"
	" derived_from = CASE WHEN " FAIL_WEAK " THEN NULL"
	" ELSE x.derived_from END,"
	" derived_job = CASE WHEN " FAIL_WEAK " THEN NULL"
	" ELSE x.derived_job END,"
	" verdict = CASE WHEN " FAIL_WEAK " THEN 'suspicious'"
	" ELSE x.verdict END,"
	" score = CASE WHEN " FAIL_WEAK " THEN greatest(x.score, 50)"
	" ELSE x.score END,"
	" detections = CASE"
	" WHEN jsonb_typeof(vigil_try_jsonb(x.detections)) IS DISTINCT FROM"
	" 'array' THEN '[' || " FAIL_NAME " || ']'"
	" WHEN vigil_try_jsonb(x.detections) @> jsonb_build_array($2::text)"
	" THEN x.detections"
	" WHEN jsonb_array_length(vigil_try_jsonb(x.detections)) = 0"
	" THEN '[' || " FAIL_NAME " || ']'"
	" ELSE left(rtrim(x.detections), -1) || ',' || " FAIL_NAME " || ']'"
	" END,"
	" because = CASE"
	" WHEN jsonb_typeof(vigil_try_jsonb(x.because)) IS DISTINCT FROM"
	" 'array' THEN '[{\"path\":\"\",\"name\":' || " FAIL_NAME " || '}]'"
	" WHEN vigil_try_jsonb(x.because) @>"
	" jsonb_build_array(jsonb_build_object('name', $2::text))"
	" THEN x.because"
	" WHEN jsonb_array_length(vigil_try_jsonb(x.because)) = 0"
	" THEN '[{\"path\":\"\",\"name\":' || " FAIL_NAME " || '}]'"
	" ELSE left(rtrim(x.because), -1) || ',{\"path\":\"\",\"name\":' ||"
	" " FAIL_NAME " || '}]' END,"
	" analysed_at = $3, analysis_ms = $4"
	" WHERE x.sha256 = $1 RETURNING x.sha256)"
	" SELECT sha256, pg_notify('" CHAN_REPUTATION "', sha256) FROM u";

/* The notifications of a transaction (note_changed): one per line of $1. */
static const char SQL_NOTIFY[] = "SELECT pg_notify('" CHAN_REPUTATION "', p)"
				 " FROM string_to_table($1, E'\\n') p";

static const char SQL_FP_DECIDE[] =
	"UPDATE fp_reports SET state = $2, decided = $3, decision = $4"
	" WHERE state = 0 AND sha256 = $1";
/* One in force per sample: the partial UNIQUE index refuses a second
 * (VG_EINVAL); the open reports are accepted in the same statement. */
static const char SQL_RETR_ADD[] =
	"WITH r AS (INSERT INTO retractions (log_index, sha256, detections,"
	" reason, created) VALUES ($1, $2, $3, $4, $5) RETURNING sha256),"
	" a AS (UPDATE fp_reports SET state = 1, decided = $6,"
	" decision = $4 WHERE state = 0 AND sha256 = (SELECT sha256 FROM r)"
	" RETURNING 1)"
	" SELECT (SELECT count(*) FROM a),"
	" pg_notify('" CHAN_RETRACTION "', $2)";
static const char SQL_RETR_UNDO[] =
	"WITH u AS (UPDATE retractions SET undone = $2 WHERE sha256 = $1"
	" AND undone IS NULL RETURNING sha256)"
	" SELECT sha256, pg_notify('" CHAN_RETRACTION "', sha256) FROM u";

struct store_pg {
	struct store base; /* first: callers hold &base */
	struct pg pg;
	char owner[64];
	char lease[24];   /* the lease in ms, as a parameter */
	bool unsynced;    /* set_synced(false): synchronous_commit = local */
	bool prepared;    /* the session has the prep_sql[] statements */
	unsigned cursors; /* each operations running (nested callbacks) */
	/* SHA-256s of the changed reputation rows of the transaction in
	 * flight, NOTIFY_HASHES to a payload, payloads separated by '\n'. */
	char *notes;
	size_t notes_len, notes_cap, notes_in_payload;
};

static const struct store_ops pg_ops;

static struct store_pg *
to_pg(struct store *s)
{
	return (struct store_pg *)s;
}

static void seterr(struct store_pg *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
seterr(struct store_pg *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->base.err, sizeof(s->base.err), fmt, ap);
	va_end(ap);
}

static int64_t
now(void)
{
	return (int64_t)time(NULL);
}

/* Numbers as text parameters. */
struct num {
	char s[32];
};

static const char *
i64(struct num *n, int64_t v)
{
	snprintf(n->s, sizeof(n->s), "%lld", (long long)v);
	return n->s;
}

static const char *
dbl(struct num *n, double v)
{
	/* 17 significant digits read back as the same double. */
	snprintf(n->s, sizeof(n->s), "%.17g", v);
	return n->s;
}

/*
 * What a failed statement means for the caller, from its SQLSTATE: a
 * foreign key names a missing client or sample (VG_ENOENT), another
 * integrity or data error is an invalid argument (VG_EINVAL: a
 * duplicate, a CHECK, text that is not UTF-8), a program limit is
 * VG_ELIMIT; anything else (the connection, a deadlock, a full disk) is
 * the store's failure, VG_EIO.
 */
static int
map_state(const char *st)
{
	if (st == NULL || strlen(st) != 5)
		return VG_EIO;
	if (strcmp(st, "23503") == 0)
		return VG_ENOENT;
	if (strncmp(st, "23", 2) == 0 || strncmp(st, "22", 2) == 0)
		return VG_EINVAL;
	if (strncmp(st, "54", 2) == 0)
		return VG_ELIMIT;
	return VG_EIO;
}

/* Whether a failed statement refuses one item of a batch (the others go
 * on) rather than failing the batch. */
static bool
refuses_item(const char *st)
{
	return map_state(st) != VG_EIO;
}

static int ready(struct store_pg *s);

/* Runs one statement with text parameters; *res as pg_exec() (res may be
 * NULL). On failure, s->base.err says what and why. Never retried: did a
 * write whose answer was lost commit? */
static int
q(struct store_pg *s, PGresult **res, const char *what, const char *sql, int n,
  const char *const *params)
{
	char e[sizeof(s->base.err)];
	int rc;

	if (res != NULL)
		*res = NULL;
	rc = pg_exec(&s->pg, res, e, sizeof(e), sql, n, params);
	if (rc == 0)
		return 0;
	seterr(s, "%s: %s", what, e);
	return rc == VG_EIO ? map_state(pg_sqlstate(&s->pg)) : rc;
}

/* q() for a statement that only reads, outside a transaction: one that
 * finds the session gone (the primary failed over since the last
 * statement, and nothing told the handle) is run once more on a new
 * session, since reading again changes nothing. */
static int
q_read(struct store_pg *s, PGresult **res, const char *what, const char *sql,
       int n, const char *const *params)
{
	int rc = q(s, res, what, sql, n, params);

	if (rc != 0 && pg_lost(&s->pg) && ready(s) == 0)
		rc = q(s, res, what, sql, n, params);
	return rc;
}

static int
cmd(struct store_pg *s, const char *what, const char *sql)
{
	return q(s, NULL, what, sql, 0, NULL);
}

/* The number of rows a statement without RETURNING changed. */
static uint64_t
changes(const PGresult *res)
{
	const char *t = PQcmdTuples((PGresult *)res);

	return t != NULL && *t != '\0' ? strtoull(t, NULL, 10) : 0;
}

static int
corrupt(struct store_pg *s, const PGresult *res, int col, const char *why)
{
	const char *name = PQfname(res, col);

	seterr(s, "corrupt row: %s %s", name != NULL ? name : "?", why);
	return VG_ECORRUPT;
}

/* A reply whose shape is not the statement's: VG_ECORRUPT. */
static int
want_cols(struct store_pg *s, const PGresult *res, int n, const char *what)
{
	if (PQnfields(res) >= n)
		return 0;
	seterr(s, "%s: %d columns in the reply, %d expected", what,
	       PQnfields(res), n);
	return VG_ECORRUPT;
}

/* Column readers: each checks the value before copying, and names the
 * column when the row makes no sense. Text values cannot hold a NUL:
 * PostgreSQL refuses them. */

static int
col_text(struct store_pg *s, const PGresult *res, int row, int col,
	 const char **p, size_t *n)
{
	if (PQgetisnull(res, row, col))
		return corrupt(s, res, col, "is NULL");
	*p = PQgetvalue(res, row, col);
	*n = (size_t)PQgetlength(res, row, col);
	return 0;
}

static int
col_hex(struct store_pg *s, const PGresult *res, int row, int col, size_t len,
	char *out)
{
	const char *p;
	size_t n;
	int rc;

	if ((rc = col_text(s, res, row, col, &p, &n)) != 0)
		return rc;
	if (n != len || !hex_is_lower(p, n))
		return corrupt(s, res, col, "is not a lowercase hex digest");
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

/* Text into a fixed array of max + 1 bytes. */
static int
col_str(struct store_pg *s, const PGresult *res, int row, int col, size_t min,
	size_t max, char *out)
{
	const char *p;
	size_t n;
	int rc;

	if ((rc = col_text(s, res, row, col, &p, &n)) != 0)
		return rc;
	if (n < min || n > max)
		return corrupt(s, res, col, "has a length out of range");
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static int
col_dup(struct store_pg *s, const PGresult *res, int row, int col,
	bool nullable, char **out)
{
	const char *p;
	size_t n;
	int rc;

	*out = NULL;
	if (nullable && PQgetisnull(res, row, col))
		return 0;
	if ((rc = col_text(s, res, row, col, &p, &n)) != 0)
		return rc;
	*out = xmalloc(n + 1);
	memcpy(*out, p, n);
	(*out)[n] = '\0';
	return 0;
}

static int
col_i64(struct store_pg *s, const PGresult *res, int row, int col, int64_t min,
	int64_t max, int64_t *out)
{
	int64_t v;

	if (pg_get_i64(res, row, col, &v) != 0)
		return corrupt(s, res, col, "is not an integer");
	if (v < min || v > max)
		return corrupt(s, res, col, "is out of range");
	*out = v;
	return 0;
}

static int
col_double(struct store_pg *s, const PGresult *res, int row, int col,
	   double *out)
{
	const char *p;
	char *end;
	size_t n;
	double v;
	int rc;

	if ((rc = col_text(s, res, row, col, &p, &n)) != 0)
		return rc;
	v = strtod(p, &end);
	if (n == 0 || end != p + n || !isfinite(v) || v < 0)
		return corrupt(s, res, col, "is not a duration");
	*out = v;
	return 0;
}

static int
read_client(struct store_pg *s, const PGresult *res, struct client *out)
{
	uint8_t *hash = NULL;
	size_t len = 0;
	int64_t consent;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = want_cols(s, res, 5, "client")) != 0 ||
	    (rc = col_str(s, res, 0, 0, 1, STORE_ID_MAX, out->id)) != 0)
		goto out;
	if ((rc = pg_get_bytea(res, 0, 1, 32, &hash, &len)) != 0 || len != 32) {
		rc = rc == VG_ENOMEM ? rc
				     : corrupt(s, res, 1, "is not 32 bytes");
		goto out;
	}
	memcpy(out->token_hash, hash, 32);
	if ((rc = col_i64(s, res, 0, 2, CONSENT_NONE, CONSENT_FILES,
			  &consent)) != 0)
		goto out;
	out->consent = (enum consent)consent;
	if ((rc = col_str(s, res, 0, 3, 0, STORE_REGION_MAX, out->region)) != 0)
		goto out;
	rc = col_i64(s, res, 0, 4, INT64_MIN, INT64_MAX, &out->created);
out:
	free(hash);
	if (rc != 0)
		client_clear(out);
	return rc;
}

static int
read_submission(struct store_pg *s, const PGresult *res, struct submission *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = want_cols(s, res, 5, "submission")) != 0 ||
	    (rc = col_str(s, res, 0, 0, 1, STORE_ID_MAX, out->id)) != 0 ||
	    (rc = col_str(s, res, 0, 1, 1, STORE_ID_MAX, out->client_id)) !=
		    0 ||
	    (rc = col_hex(s, res, 0, 2, 64, out->sha256)) != 0 ||
	    (rc = col_dup(s, res, 0, 3, false, &out->metadata)) != 0 ||
	    (rc = col_i64(s, res, 0, 4, INT64_MIN, INT64_MAX, &out->created)) !=
		    0)
		submission_clear(out);
	return rc;
}

/* Reads the columns of JOB_COLS. */
static int
read_job(struct store_pg *s, const PGresult *res, struct job *out)
{
	int64_t state, attempts;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = want_cols(s, res, 7, "job")) != 0 ||
	    (rc = col_i64(s, res, 0, 0, 1, INT64_MAX, &out->id)) != 0 ||
	    (rc = col_hex(s, res, 0, 1, 64, out->sha256)) != 0 ||
	    (rc = col_i64(s, res, 0, 2, JOB_QUEUED, JOB_FAILED, &state)) != 0 ||
	    (rc = col_i64(s, res, 0, 3, 0, INT_MAX, &attempts)) != 0 ||
	    (rc = col_dup(s, res, 0, 4, true, &out->report)) != 0 ||
	    (rc = col_dup(s, res, 0, 5, true, &out->error)) != 0 ||
	    (rc = col_i64(s, res, 0, 6, INT64_MIN, INT64_MAX, &out->updated)) !=
		    0)
		goto out;
	out->state = (enum job_state)state;
	out->attempts = (int)attempts;
	if (out->state == JOB_DONE && out->report == NULL)
		rc = corrupt(s, res, 4, "is NULL in a finished job");
out:
	if (rc != 0)
		job_clear(out);
	return rc;
}

/* Reads the columns of REP_COLS of row row. */
static int
read_reputation(struct store_pg *s, const PGresult *res, int row,
		struct reputation *out)
{
	int64_t score, size, prevalence;
	const char *b;
	size_t bn;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = want_cols(s, res, REP_NCOLS, "reputation")) != 0 ||
	    (rc = col_hex(s, res, row, 0, 32, out->md5)) != 0 ||
	    (rc = col_hex(s, res, row, 1, 40, out->sha1)) != 0 ||
	    (rc = col_hex(s, res, row, 2, 64, out->sha256)) != 0 ||
	    (rc = col_dup(s, res, row, 3, false, &out->verdict)) != 0)
		goto out;
	if (!store_valid_verdict(out->verdict, strlen(out->verdict))) {
		rc = corrupt(s, res, 3, "is not a known verdict");
		goto out;
	}
	if ((rc = col_i64(s, res, row, 4, INT_MIN, INT_MAX, &score)) != 0 ||
	    (rc = col_dup(s, res, row, 5, false, &out->detections)) != 0 ||
	    (rc = col_i64(s, res, row, 6, 0, INT64_MAX, &size)) != 0 ||
	    (rc = col_dup(s, res, row, 7, true, &out->type)) != 0 ||
	    (rc = col_i64(s, res, row, 8, INT64_MIN, INT64_MAX,
			  &out->first_seen)) != 0 ||
	    (rc = col_i64(s, res, row, 9, out->first_seen, INT64_MAX,
			  &out->last_seen)) != 0 ||
	    (rc = col_i64(s, res, row, 10, 0, INT64_MAX, &prevalence)) != 0 ||
	    (rc = col_i64(s, res, row, 11, 0, INT64_MAX, &out->analysed_at)) !=
		    0 ||
	    (rc = col_double(s, res, row, 12, &out->analysis_ms)) != 0 ||
	    (rc = col_dup(s, res, row, 13, false, &out->because)) != 0)
		goto out;
	out->score = (int)score;
	out->size = (uint64_t)size;
	out->prevalence = (uint64_t)prevalence;
	/* A JSON array, as written; the readers parse it. */
	b = out->because;
	bn = strlen(b);
	if (bn < 2 || b[0] != '[' || b[bn - 1] != ']') {
		rc = corrupt(s, res, 13, "is not a JSON array");
		goto out;
	}
	/* Derived: from a sample and its job, both or neither. */
	if (PQgetisnull(res, row, 14) && PQgetisnull(res, row, 15))
		goto out;
	if ((rc = col_hex(s, res, row, 14, 64, out->derived_from)) != 0 ||
	    (rc = col_i64(s, res, row, 15, 1, INT64_MAX, &out->derived_job)) !=
		    0)
		goto out;
	if (strcmp(out->derived_from, out->sha256) == 0)
		rc = corrupt(s, res, 14, "names the sample itself");
out:
	if (rc != 0)
		reputation_clear(out);
	return rc;
}

/* Reads the columns of RETR_COLS of row row. */
static int
read_retraction(struct store_pg *s, const PGresult *res, int row,
		struct retraction *out)
{
	int64_t index;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = want_cols(s, res, 5, "retraction")) != 0 ||
	    (rc = col_hex(s, res, row, 0, 64, out->sha256)) != 0 ||
	    (rc = col_i64(s, res, row, 1, 0, INT64_MAX, &index)) != 0 ||
	    (rc = col_dup(s, res, row, 2, false, &out->detections)) != 0 ||
	    (rc = col_dup(s, res, row, 3, false, &out->reason)) != 0 ||
	    (rc = col_i64(s, res, row, 4, INT64_MIN, INT64_MAX,
			  &out->created)) != 0)
		goto out;
	out->log_index = (uint64_t)index;
	if (out->detections[0] != '[')
		rc = corrupt(s, res, 2, "is not a JSON array");
out:
	if (rc != 0)
		retraction_clear(out);
	return rc;
}

/* Sessions and transactions */

/* The name of prepared statement i. */
static const char *
prep_name(enum prep i, char buf[16])
{
	snprintf(buf, 16, "vigil_%d", (int)i);
	return buf;
}

/* The session's settings and prepared statements, at open and after
 * every reconnection. */
static int
session_setup(struct store_pg *s)
{
	char name[16];
	int rc;

	/* Every execution of a prepared statement is planned for its own
	 * parameters and the tables as they are: the generic plan that
	 * PostgreSQL otherwise keeps from the sixth one on is made with
	 * the statistics of then, which, for a table just created or grown
	 * since autovacuum last looked, say it holds ten pages; a batch
	 * would then scan the whole samples table for ever (until the next
	 * ANALYZE). Planning costs a fraction of a millisecond. */
	if ((rc = cmd(s, "synchronous_commit",
		      s->unsynced ? "SET synchronous_commit = local"
				  : "RESET synchronous_commit")) != 0 ||
	    (rc = cmd(s, "plan_cache_mode",
		      "SET plan_cache_mode = force_custom_plan")) != 0 ||
	    s->prepared)
		return rc;
	for (int i = 0; i < PREP_COUNT; i++) {
		PGresult *r = PQprepare(s->pg.conn, prep_name(i, name),
					prep_sql[i], 0, NULL);

		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			seterr(s, "prepare: %s", PQresultErrorMessage(r));
			PQclear(r);
			return VG_EIO;
		}
		PQclear(r);
	}
	s->prepared = true;
	return 0;
}

/*
 * Makes the handle ready for an operation: a session lost during an
 * earlier one (the server restarted, or another host was promoted) is
 * opened again, and a transaction an earlier failure left open is
 * rolled back. VG_EIO when no primary can be reached.
 */
static int
ready(struct store_pg *s)
{
	char e[sizeof(s->base.err)];

	s->notes_len = s->notes_in_payload = 0;
	if (pg_lost(&s->pg)) {
		s->prepared = false;
		if (pg_reconnect(&s->pg, e, sizeof(e)) != 0) {
			seterr(s, "reconnect: %s", e);
			return VG_EIO;
		}
		return session_setup(s);
	}
	if (PQtransactionStatus(s->pg.conn) != PQTRANS_IDLE)
		(void)cmd(s, "rollback", "ROLLBACK");
	return 0;
}

static int
tx_begin(struct store_pg *s)
{
	return cmd(s, "begin", "BEGIN");
}

/* Rolls back the open transaction, if any; keeps s->base.err. */
static void
tx_rollback(struct store_pg *s)
{
	char why[sizeof(s->base.err)];

	s->notes_len = s->notes_in_payload = 0;
	if (pg_lost(&s->pg) || PQtransactionStatus(s->pg.conn) == PQTRANS_IDLE)
		return;
	memcpy(why, s->base.err, sizeof(why));
	(void)cmd(s, "rollback", "ROLLBACK");
	memcpy(s->base.err, why, sizeof(why));
}

/* Commits. Never retried: a COMMIT whose reply was lost may or may not
 * have committed, and the caller must be told it failed (VG_EIO). */
static int
tx_commit(struct store_pg *s)
{
	int rc = cmd(s, "commit", "COMMIT");

	s->notes_len = s->notes_in_payload = 0;
	return rc == 0 ? 0 : VG_EIO;
}

/* Change notification */

/* Adds a changed reputation row to the transaction's notifications. */
static void
note_changed(struct store_pg *s, const char *sha256)
{
	if (s->notes_len + 66 > s->notes_cap) {
		s->notes_cap = s->notes_cap ? s->notes_cap * 2 : 4096;
		s->notes = xreallocarray(s->notes, s->notes_cap, 1);
	}
	if (s->notes_len > 0)
		s->notes[s->notes_len++] =
			s->notes_in_payload == NOTIFY_HASHES ? '\n' : ' ';
	if (s->notes_in_payload == NOTIFY_HASHES)
		s->notes_in_payload = 0;
	memcpy(s->notes + s->notes_len, sha256, 64);
	s->notes_len += 64;
	s->notes_in_payload++;
	s->notes[s->notes_len] = '\0';
}

/*
 * Pipelines. A batch's items go to the server in one libpq pipeline
 * and their results come back in order, so that a batch costs a round
 * trip, not one per statement. The send side runs non-blocking and
 * reads while it writes: a large batch would otherwise fill both
 * directions' socket buffers and each side would wait for the other.
 */

struct pipe_ops {
	/* Queues item i's statements with pipe_send(); returns how many,
	 * or a negative VG_E* code. */
	int (*send)(struct store_pg *s, void *ud, size_t i);
	/* The result of item i's statement k, which succeeded: 0, or a
	 * VG_E* code that refuses the item (a later statement of the item
	 * must then fail, which undoes it). */
	int (*take)(struct store_pg *s, void *ud, size_t i, int k,
		    const PGresult *res);
	/* Item i's outcome is final: 0, or why it was refused (then what
	 * take recorded is to be forgotten). */
	void (*done)(struct store_pg *s, void *ud, size_t i, int rc);
};

/* The most statements an item sends. */
#define PIPE_ITEM_MAX 4

/* What a result of a pipeline belongs to. */
struct slot {
	size_t item; /* SIZE_MAX: a control statement */
	int k;       /* the item's statement; -1 for its savepoint's */
};

static int
pipe_send(struct store_pg *s, const char *sql, int n, const char *const *params)
{
	if (PQsendQueryParams(s->pg.conn, sql, n, NULL, params, NULL, NULL,
			      0) == 1)
		return 0;
	seterr(s, "pipeline: %s", PQerrorMessage(s->pg.conn));
	return VG_EIO;
}

/* pipe_send() of prepared statement i (prep_sql[]). */
static int
pipe_prepared(struct store_pg *s, enum prep i, int n, const char *const *params)
{
	char name[16];

	if (PQsendQueryPrepared(s->pg.conn, prep_name(i, name), n, params, NULL,
				NULL, 0) == 1)
		return 0;
	seterr(s, "pipeline: %s", PQerrorMessage(s->pg.conn));
	return VG_EIO;
}

/* Sends what is queued, reading the replies meanwhile. */
static int
pipe_flush(struct store_pg *s)
{
	PGconn *c = s->pg.conn;
	struct pollfd pfd;
	int r;

	while ((r = PQflush(c)) == 1) {
		pfd.fd = PQsocket(c);
		pfd.events = POLLIN | POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, -1) < 0)
			continue;
		if ((pfd.revents & (POLLIN | POLLERR | POLLHUP)) &&
		    PQconsumeInput(c) != 1)
			break;
	}
	if (r == 0)
		return 0;
	seterr(s, "pipeline: %s", PQerrorMessage(c));
	return VG_EIO;
}

/* The next result of the pipeline, skipping the NULL that ends each
 * statement's results; NULL when there is none (the session is gone). */
static PGresult *
pipe_next(struct store_pg *s)
{
	PGresult *r = PQgetResult(s->pg.conn);

	if (r == NULL)
		r = PQgetResult(s->pg.conn);
	return r;
}

/* Leaves pipeline mode, reading what is left (after a sync, if what was
 * sent has none yet, so that the server answers it); false if the
 * session is no longer usable. */
static bool
pipe_end(struct store_pg *s, bool unsynced)
{
	PGconn *c = s->pg.conn;
	PGresult *r;
	int guard = 0;

	if (unsynced && PQstatus(c) == CONNECTION_OK &&
	    (PQpipelineSync(c) != 1 || pipe_flush(s) != 0))
		return false;
	(void)PQsetnonblocking(c, 0);
	while (PQpipelineStatus(c) != PQ_PIPELINE_OFF &&
	       PQexitPipelineMode(c) != 1) {
		if (PQstatus(c) != CONNECTION_OK || ++guard > 1000000)
			return false;
		if ((r = PQgetResult(c)) != NULL)
			PQclear(r);
	}
	return true;
}

/*
 * Runs items [0, n) in one pipeline, each with ops: BEGIN first if
 * begin. With alone, each item runs inside its own savepoint: a refused
 * item is rolled back to it and reported through done(), and the items
 * after it are sent again (one more round trip per refused item).
 * Without, the first refused item sets *refused and stops: the caller
 * rolls the transaction back and runs the batch again alone. Returns 0,
 * or the error that fails the whole batch.
 */
static int
pipe_items(struct store_pg *s, const struct pipe_ops *ops, void *ud, size_t n,
	   bool begin, bool alone, bool *refused)
{
	PGconn *c = s->pg.conn;
	struct slot *slots = NULL;
	size_t nslots = 0, cap, from = 0;
	bool undo = false, unsynced = false;
	int *irc = xcalloc(n ? n : 1, sizeof(int));
	int rc = 0;

	*refused = false;
	/* BEGIN, ROLLBACK TO, RELEASE; an item's savepoint, statements and
	 * release. */
	cap = 3 + n * (PIPE_ITEM_MAX + 2);
	slots = xreallocarray(NULL, cap, sizeof(*slots));
	if (PQenterPipelineMode(c) != 1 || PQsetnonblocking(c, 1) != 0) {
		seterr(s, "pipeline: %s", PQerrorMessage(c));
		rc = VG_EIO;
		goto out;
	}
	while (begin || undo || from < n) {
		size_t failed = SIZE_MAX;

		nslots = 0;
		unsynced = true;
		if (begin) {
			if ((rc = pipe_send(s, "BEGIN", 0, NULL)) != 0)
				goto out;
			slots[nslots++] = (struct slot){SIZE_MAX, 0};
		}
		if (undo) {
			if ((rc = pipe_send(s, "ROLLBACK TO item", 0, NULL)) !=
				    0 ||
			    (rc = pipe_send(s, "RELEASE item", 0, NULL)) != 0)
				goto out;
			slots[nslots++] = (struct slot){SIZE_MAX, 0};
			slots[nslots++] = (struct slot){SIZE_MAX, 0};
		}
		begin = undo = false;
		for (size_t i = from; i < n; i++) {
			int k;

			if (alone) {
				if ((rc = pipe_send(s, "SAVEPOINT item", 0,
						    NULL)) != 0)
					goto out;
				slots[nslots++] = (struct slot){i, -1};
			}
			if ((k = ops->send(s, ud, i)) < 0) {
				rc = k;
				goto out;
			}
			if (k > PIPE_ITEM_MAX) {
				seterr(s, "pipeline: %d statements an item", k);
				rc = VG_EIO;
				goto out;
			}
			for (int j = 0; j < k; j++)
				slots[nslots++] = (struct slot){i, j};
			irc[i] = 0;
			if (alone) {
				if ((rc = pipe_send(s, "RELEASE item", 0,
						    NULL)) != 0)
					goto out;
				slots[nslots++] = (struct slot){i, -1};
			}
		}
		if (PQpipelineSync(c) != 1) {
			seterr(s, "pipeline: %s", PQerrorMessage(c));
			rc = VG_EIO;
			goto out;
		}
		unsynced = false;
		if ((rc = pipe_flush(s)) != 0)
			goto out;

		/* The results, in the order of the slots, then the sync. */
		for (size_t j = 0; j < nslots; j++) {
			const struct slot *sl = &slots[j];
			PGresult *r = pipe_next(s);
			ExecStatusType st;

			if (r == NULL) {
				seterr(s, "pipeline: %s", PQerrorMessage(c));
				rc = VG_EIO;
				goto out;
			}
			st = PQresultStatus(r);
			if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
				if (sl->item != SIZE_MAX && sl->k >= 0 &&
				    irc[sl->item] == 0)
					irc[sl->item] = ops->take(
						s, ud, sl->item, sl->k, r);
			} else if (st == PGRES_FATAL_ERROR) {
				const char *code =
					PQresultErrorField(r, PG_DIAG_SQLSTATE);
				char *msg = PQresultErrorMessage(r);

				if (sl->item != SIZE_MAX && sl->k >= 0 &&
				    refuses_item(code) && rc == 0) {
					failed = sl->item;
					if (irc[failed] == 0) {
						seterr(s, "%s", msg);
						irc[failed] = map_state(code);
					}
				} else if (rc == 0) {
					seterr(s, "batch: %s", msg);
					rc = VG_EIO;
				}
			}
			/* PGRES_PIPELINE_ABORTED: skipped after an error. */
			PQclear(r);
		}
		{
			PGresult *r = pipe_next(s);
			bool synced = r != NULL &&
				      PQresultStatus(r) == PGRES_PIPELINE_SYNC;

			PQclear(r);
			if (!synced && rc == 0) {
				seterr(s, "pipeline: out of step: %s",
				       PQerrorMessage(c));
				rc = VG_EIO;
			}
		}
		if (rc != 0)
			goto out;
		/* An item refused by what it read must have been undone by
		 * a failing statement; if one was not, its rows are there. */
		for (size_t i = from; i < n && i < failed; i++) {
			if (irc[i] != 0) {
				seterr(s, "batch: item %zu refused but kept",
				       i);
				rc = VG_EIO;
				goto out;
			}
		}
		if (failed == SIZE_MAX) {
			for (size_t i = from; i < n; i++)
				ops->done(s, ud, i, 0);
			from = n;
			continue;
		}
		if (!alone) {
			*refused = true;
			goto out;
		}
		for (size_t i = from; i < failed; i++)
			ops->done(s, ud, i, 0);
		ops->done(s, ud, failed, irc[failed]);
		from = failed + 1;
		undo = true;
	}
out:
	if (!pipe_end(s, unsynced) && rc == 0) {
		seterr(s, "pipeline: %s", PQerrorMessage(c));
		rc = VG_EIO;
	}
	free(slots);
	free(irc);
	return rc;
}

/*
 * Ends the transaction of a batch: its notifications go first, then,
 * while the server runs them, barrier (if not NULL) waits for what must
 * be durable before the commit, then COMMIT, or ROLLBACK if barrier
 * failed (its code is returned). One round trip, not three.
 */
static int
finish_tx(struct store_pg *s, int (*barrier)(void *ud), void *ud)
{
	PGconn *c = s->pg.conn;
	bool notify = s->notes_len > 0, unsynced = true;
	const char *p[1] = {s->notes};
	int rc = 0, brc = 0;

	if (PQenterPipelineMode(c) != 1) {
		seterr(s, "commit: %s", PQerrorMessage(c));
		return VG_EIO;
	}
	if (notify) {
		/* Sent now, answered with the COMMIT's sync. */
		if ((rc = pipe_send(s, SQL_NOTIFY, 1, p)) != 0 ||
		    (rc = pipe_flush(s)) != 0)
			goto out;
	}
	if (barrier != NULL && (brc = barrier(ud)) != 0)
		seterr(s,
		       "submission_add_many: what the rows refer to did not "
		       "become durable: %s",
		       vg_strerror(brc));
	if ((rc = pipe_send(s, brc == 0 ? "COMMIT" : "ROLLBACK", 0, NULL)) !=
		    0 ||
	    PQpipelineSync(c) != 1 || (rc = pipe_flush(s)) != 0) {
		rc = rc != 0 ? rc : VG_EIO;
		goto out;
	}
	unsynced = false;
	for (int i = notify ? 0 : 1; i < 3; i++) {
		PGresult *r = pipe_next(s);
		ExecStatusType st =
			r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
		bool ok =
			i < 2 ? st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK
			      : st == PGRES_PIPELINE_SYNC;

		if (!ok && rc == 0) {
			seterr(s, "%s: %s", i == 0 ? "notify" : "commit",
			       r != NULL ? PQresultErrorMessage(r)
					 : PQerrorMessage(c));
			rc = VG_EIO;
		}
		PQclear(r);
	}
out:
	s->notes_len = s->notes_in_payload = 0;
	if (!pipe_end(s, unsynced) && rc == 0) {
		seterr(s, "commit: %s", PQerrorMessage(c));
		rc = VG_EIO;
	}
	return brc != 0 ? brc : rc;
}

/* Operations */

static int
op_close(struct store *base)
{
	struct store_pg *s = to_pg(base);

	if (s == NULL)
		return 0;
	pg_close(&s->pg);
	free(s->notes);
	free(s);
	return 0;
}

static int
op_client_put(struct store *base, const struct client *c)
{
	struct store_pg *s = to_pg(base);
	char hex[65];
	struct num consent, created;
	const char *p[5];
	int rc;

	if (!store_valid_client(c)) {
		seterr(s, "client_put: invalid client");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	hex_encode(c->token_hash, 32, hex);
	p[0] = c->id;
	p[1] = hex;
	p[2] = i64(&consent, c->consent);
	p[3] = c->region;
	p[4] = i64(&created, c->created);
	/* A token hash already held by another client is a UNIQUE
	 * violation, VG_EINVAL. */
	return q(s, NULL, "client_put",
		 "INSERT INTO clients (id, token_hash, consent, region,"
		 " created) VALUES ($1, decode($2, 'hex'), $3, $4, $5)"
		 " ON CONFLICT (id) DO UPDATE SET"
		 " token_hash = excluded.token_hash,"
		 " consent = excluded.consent, region = excluded.region,"
		 " created = excluded.created",
		 5, p);
}

static int
op_client_by_token_hash(struct store *base, const uint8_t hash[32],
			struct client *out)
{
	struct store_pg *s = to_pg(base);
	PGresult *res = NULL;
	const char *p[1];
	char hex[65];
	int rc;

	memset(out, 0, sizeof(*out));
	if (hash == NULL)
		return VG_EINVAL;
	if ((rc = ready(s)) != 0)
		return rc;
	hex_encode(hash, 32, hex);
	p[0] = hex;
	if ((rc = q_read(s, &res, "client_by_token_hash",
			 "SELECT id, token_hash, consent, region, created"
			 " FROM clients WHERE token_hash = decode($1, 'hex')",
			 1, p)) != 0)
		return rc;
	if (PQntuples(res) == 0)
		rc = VG_ENOENT;
	else
		rc = read_client(s, res, out);
	PQclear(res);
	return rc;
}

/* A batch of submissions (sub_send, sub_take, sub_done). */
struct sub_batch {
	struct submission_add *items;
	size_t *ord; /* which item goes i-th: by SHA-256 */
	int64_t t_now;
};

static int
sub_send(struct store_pg *s, void *ud, size_t i)
{
	struct sub_batch *b = ud;
	struct submission_add *it = &b->items[b->ord[i]];
	const struct submission *sub = it->sub;
	struct num size, t, seg, off, len, tn;
	const char *p[8];
	int rc;

	i64(&size, (int64_t)it->size);
	i64(&t, sub->created != 0 ? sub->created : b->t_now);
	p[0] = sub->sha256;
	p[1] = it->md5;
	p[2] = it->sha1;
	p[3] = size.s;
	p[4] = t.s;
	p[5] = it->loc ? i64(&seg, (int64_t)it->loc->segment) : NULL;
	p[6] = it->loc ? i64(&off, (int64_t)it->loc->offset) : NULL;
	p[7] = it->loc ? i64(&len, (int64_t)it->loc->length) : NULL;
	if ((rc = pipe_prepared(s, PREP_SAMPLE_UPSERT, 8, p)) != 0)
		return rc;
	p[4] = sub->client_id;
	if ((rc = pipe_prepared(s, PREP_SAMPLE_CLIENT, 5, p)) != 0)
		return rc;
	p[0] = sub->id;
	p[1] = sub->client_id;
	p[2] = sub->sha256;
	p[3] = sub->metadata;
	p[4] = t.s;
	p[5] = i64(&tn, b->t_now);
	/* Metadata without bytes queues no job. */
	p[6] = it->no_bytes ? "false" : "true";
	if ((rc = pipe_prepared(s, PREP_SUB_INSERT, 7, p)) != 0)
		return rc;
	return 3;
}

static int
sub_take(struct store_pg *s, void *ud, size_t i, int k, const PGresult *res)
{
	struct sub_batch *b = ud;
	struct submission_add *it = &b->items[b->ord[i]];
	int64_t v;
	int rc;

	switch (k) {
	case 0:
		/* No row: the upsert's WHERE refused to touch a stored
		 * sample whose other hashes or size disagree. */
		if (PQntuples(res) == 0) {
			seterr(s,
			       "submission_add: MD5, SHA-1 or size disagree"
			       " with the stored sample %s",
			       it->sub->sha256);
			return VG_EINVAL;
		}
		/* The row as it is now, for the caller's index: no second
		 * lookup by SHA-256 after the commit. */
		if ((rc = read_reputation(s, res, 0, &it->rep)) != 0)
			return rc;
		it->have_rep = true;
		return 0;
	case 1:
		if (PQntuples(res) == 1 && it->have_rep)
			it->rep.prevalence++;
		return 0;
	default:
		if (PQntuples(res) != 1 || PQnfields(res) != 2)
			return corrupt(s, res, 0, "is not a job's state");
		if ((rc = col_i64(s, res, 0, 0, 0, 1, &v)) != 0)
			return rc;
		it->new_job = v == 1;
		if ((rc = col_i64(s, res, 0, 1, JOB_QUEUED, JOB_FAILED, &v)) !=
		    0)
			return rc;
		/* A job queued just now is queued; another may be
		 * anywhere. */
		it->job = it->new_job ? JOB_QUEUED : (enum job_state)v;
		return 0;
	}
}

static void
sub_done(struct store_pg *s, void *ud, size_t i, int rc)
{
	struct sub_batch *b = ud;
	struct submission_add *it = &b->items[b->ord[i]];

	it->rc = rc;
	/* The foreign key that fails is the client's: the sample was
	 * upserted by the item's first statement. */
	if (rc == VG_ENOENT)
		seterr(s, "submission_add: unknown client %s",
		       it->sub->client_id);
	if (rc != 0) {
		it->new_job = false;
		it->job = JOB_QUEUED;
		if (it->have_rep)
			reputation_clear(&it->rep);
		it->have_rep = false;
	}
}

static const struct pipe_ops sub_ops = {sub_send, sub_take, sub_done};

/*
 * A batch in rounds (subs_send, subs_take, subs_done): round r holds the
 * r-th submission of each sample of the batch, so a round holds a sample
 * once and goes in three statements whatever its size (SQL_SUBS_*). The
 * rounds run in order, and a sample's submissions in its order, so each
 * item sees what the items before it did, as one at a time. Only the
 * first round locks samples: the later ones hold samples of the first.
 */
struct subs_rounds {
	struct sub_batch *b;
	size_t *pos;   /* places in b->ord, round by round, by SHA-256 */
	size_t *start; /* round r is pos[start[r]] to pos[start[r + 1] - 1] */
};

/* A PostgreSQL array literal in text form, growing as needed. */
struct arr {
	char *p;
	size_t len, cap;
};

static void
arr_put(struct arr *a, const char *s, size_t n)
{
	if (n > SIZE_MAX / 2 - a->len - 2)
		fatal("%s: array too long", __func__);
	if (a->len + n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap : 256;

		while (cap < a->len + n + 2)
			cap *= 2;
		a->p = xreallocarray(a->p, cap, 1);
		a->cap = cap;
	}
	memcpy(a->p + a->len, s, n);
	a->len += n;
	a->p[a->len] = '\0';
}

/* Appends an element: quoted text, "" and \ escaped. */
static void
arr_text(struct arr *a, const char *v)
{
	arr_put(a, a->len == 0 ? "{\"" : ",\"", 2);
	for (const char *q = v;;) {
		size_t run = strcspn(q, "\"\\");

		arr_put(a, q, run);
		q += run;
		if (*q == '\0')
			break;
		arr_put(a, "\\", 1);
		arr_put(a, q++, 1);
	}
	arr_put(a, "\"", 1);
}

/* Appends a number element, or NULL when !have. */
static void
arr_i64(struct arr *a, bool have, int64_t v)
{
	struct num n;
	const char *t = have ? i64(&n, v) : "NULL";

	arr_put(a, a->len == 0 ? "{" : ",", 1);
	arr_put(a, t, strlen(t));
}

/* The array's text, "{}" when empty. */
static const char *
arr_end(struct arr *a)
{
	if (a->len == 0)
		arr_put(a, "{", 1);
	arr_put(a, "}", 1);
	return a->p;
}

static struct submission_add *
subs_item(struct subs_rounds *r, size_t k)
{
	return &r->b->items[r->b->ord[r->pos[k]]];
}

static int
subs_send(struct store_pg *s, void *ud, size_t round)
{
	struct subs_rounds *r = ud;
	size_t from = r->start[round], to = r->start[round + 1];
	struct arr a[8];
	const char *p[8];
	struct num tn;
	int rc;

	memset(a, 0, sizeof(a));
	for (size_t k = from; k < to; k++) {
		const struct submission_add *it = subs_item(r, k);
		const struct submission *sub = it->sub;

		arr_text(&a[0], sub->sha256);
		arr_text(&a[1], it->md5);
		arr_text(&a[2], it->sha1);
		arr_i64(&a[3], true, (int64_t)it->size);
		arr_i64(&a[4], true,
			sub->created != 0 ? sub->created : r->b->t_now);
		arr_i64(&a[5], it->loc != NULL,
			it->loc ? (int64_t)it->loc->segment : 0);
		arr_i64(&a[6], it->loc != NULL,
			it->loc ? (int64_t)it->loc->offset : 0);
		arr_i64(&a[7], it->loc != NULL,
			it->loc ? (int64_t)it->loc->length : 0);
	}
	for (int i = 0; i < 8; i++)
		p[i] = arr_end(&a[i]);
	if ((rc = pipe_prepared(s, PREP_SUBS_UPSERT, 8, p)) != 0)
		goto out;
	/* The sample's columns again, and the clients. */
	free(a[4].p);
	memset(&a[4], 0, sizeof(a[4]));
	for (size_t k = from; k < to; k++)
		arr_text(&a[4], subs_item(r, k)->sub->client_id);
	p[4] = arr_end(&a[4]);
	if ((rc = pipe_prepared(s, PREP_SUBS_CLIENT, 5, p)) != 0)
		goto out;
	/* id, client_id, sha256, metadata, created. */
	for (int i = 0; i < 8; i++) {
		if (i != 0 && i != 4) {
			free(a[i].p);
			memset(&a[i], 0, sizeof(a[i]));
		}
	}
	for (size_t k = from; k < to; k++) {
		const struct submission *sub = subs_item(r, k)->sub;

		arr_text(&a[1], sub->id);
		arr_text(&a[3], sub->metadata);
		arr_i64(&a[5], true,
			sub->created != 0 ? sub->created : r->b->t_now);
	}
	p[0] = arr_end(&a[1]);
	p[1] = a[4].p;
	p[2] = a[0].p;
	p[3] = arr_end(&a[3]);
	p[4] = arr_end(&a[5]);
	p[5] = i64(&tn, r->b->t_now);
	/* Whether each queues a job: metadata without bytes does not. */
	for (size_t k = from; k < to; k++)
		arr_text(&a[6], subs_item(r, k)->no_bytes ? "f" : "t");
	p[6] = arr_end(&a[6]);
	if ((rc = pipe_prepared(s, PREP_SUBS_INSERT, 7, p)) != 0)
		goto out;
	rc = 3;
out:
	for (int i = 0; i < 8; i++)
		free(a[i].p);
	return rc;
}

/* The round's item whose SHA-256 is row's column col; NULL if none. */
static struct submission_add *
subs_find(struct subs_rounds *r, size_t round, const PGresult *res, int row,
	  int col)
{
	size_t lo = r->start[round], hi = r->start[round + 1];
	const char *v;

	if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 64)
		return NULL;
	v = PQgetvalue(res, row, col);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct submission_add *it = subs_item(r, mid);
		int c = strcmp(v, it->sub->sha256);

		if (c == 0)
			return it;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int
subs_take(struct store_pg *s, void *ud, size_t round, int k,
	  const PGresult *res)
{
	struct subs_rounds *r = ud;
	size_t from = r->start[round], nr = r->start[round + 1] - from;
	struct submission_add *it;
	int64_t v;
	int rc;

	switch (k) {
	case 0:
		/* Fewer rows: the upsert refused to touch a stored sample
		 * whose other hashes or size disagree. */
		if ((size_t)PQntuples(res) != nr) {
			seterr(s, "submission_add: MD5, SHA-1 or size disagree"
				  " with a stored sample");
			return VG_EINVAL;
		}
		if ((rc = want_cols(s, res, REP_NCOLS, "a sample")) != 0)
			return rc;
		for (int row = 0; row < PQntuples(res); row++) {
			if ((it = subs_find(r, round, res, row, 2)) == NULL ||
			    it->have_rep)
				return corrupt(s, res, 2, "is not the batch's");
			if ((rc = read_reputation(s, res, row, &it->rep)) != 0)
				return rc;
			it->have_rep = true;
		}
		return 0;
	case 1:
		for (int row = 0; row < PQntuples(res); row++) {
			if ((it = subs_find(r, round, res, row, 0)) == NULL)
				return corrupt(s, res, 0, "is not the batch's");
			if (it->have_rep)
				it->rep.prevalence++;
		}
		return 0;
	default:
		if ((size_t)PQntuples(res) != nr || PQnfields(res) != 3)
			return corrupt(s, res, 0, "is not the batch's jobs");
		for (int row = 0; row < PQntuples(res); row++) {
			if ((rc = col_i64(s, res, row, 0, 1, (int64_t)nr,
					  &v)) != 0)
				return rc;
			it = subs_item(r, from + (size_t)v - 1);
			if ((rc = col_i64(s, res, row, 1, 0, 1, &v)) != 0)
				return rc;
			it->new_job = v == 1;
			if ((rc = col_i64(s, res, row, 2, JOB_QUEUED,
					  JOB_FAILED, &v)) != 0)
				return rc;
			it->job = it->new_job ? JOB_QUEUED : (enum job_state)v;
		}
		return 0;
	}
}

static void
subs_done(struct store_pg *s, void *ud, size_t round, int rc)
{
	struct subs_rounds *r = ud;

	for (size_t k = r->start[round]; k < r->start[round + 1]; k++)
		sub_done(s, r->b, r->pos[k], rc);
}

static const struct pipe_ops subs_ops = {subs_send, subs_take, subs_done};

/* Splits the m ordered items of b into rounds (struct subs_rounds);
 * returns how many. The caller frees r->pos and r->start. */
static size_t
subs_split(struct subs_rounds *r, struct sub_batch *b, size_t m)
{
	size_t *rank = xcalloc(m ? m : 1, sizeof(size_t));
	size_t rounds = 0, *fill;

	r->b = b;
	for (size_t i = 0; i < m; i++) {
		rank[i] =
			i > 0 && strcmp(b->items[b->ord[i]].sub->sha256,
					b->items[b->ord[i - 1]].sub->sha256) ==
						0
				? rank[i - 1] + 1
				: 0;
		if (rank[i] + 1 > rounds)
			rounds = rank[i] + 1;
	}
	r->start = xcalloc(rounds + 1, sizeof(size_t));
	r->pos = xcalloc(m ? m : 1, sizeof(size_t));
	for (size_t i = 0; i < m; i++)
		r->start[rank[i] + 1]++;
	for (size_t k = 0; k < rounds; k++)
		r->start[k + 1] += r->start[k];
	fill = xcalloc(rounds + 1, sizeof(size_t));
	memcpy(fill, r->start, (rounds + 1) * sizeof(size_t));
	for (size_t i = 0; i < m; i++)
		r->pos[fill[rank[i]]++] = i;
	free(fill);
	free(rank);
	return rounds;
}

/* Makes items ready for a pass: no outcome yet (VG_EINVAL for those the
 * checks refuse, which are not sent), nothing handed back. */
static void
items_reset(struct submission_add *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		items[i].rc =
			store_valid_submission(&items[i]) ? VG_EIO : VG_EINVAL;
		items[i].new_job = false;
		items[i].job = JOB_QUEUED;
		if (items[i].have_rep)
			reputation_clear(&items[i].rep);
		items[i].have_rep = false;
	}
}

struct item_key {
	const char *sha256;
	size_t i;
};

static int
cmp_item(const void *a, const void *b)
{
	const struct item_key *x = a, *y = b;
	int c = strcmp(x->sha256, y->sha256);

	return c != 0 ? c : (x->i > y->i) - (x->i < y->i);
}

/* The valid items into ord, sorted by SHA-256, stably (a sample's
 * submissions keep their order): batches of several nodes then lock the
 * samples they share in the same order, and do not deadlock. Returns
 * how many. */
static size_t
items_order(const struct submission_add *items, size_t n, size_t *ord)
{
	struct item_key *k = xcalloc(n ? n : 1, sizeof(*k));
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		if (items[i].rc != VG_EINVAL)
			k[m++] = (struct item_key){items[i].sub->sha256, i};
	}
	qsort(k, m, sizeof(*k), cmp_item);
	for (size_t i = 0; i < m; i++)
		ord[i] = k[i].i;
	free(k);
	return m;
}

static int
op_submission_add_many(struct store *base, struct submission_add *items,
		       size_t n, int (*barrier)(void *ud), void *ud)
{
	struct store_pg *s = to_pg(base);
	struct sub_batch b = {items, NULL, now()};
	struct subs_rounds r = {NULL, NULL, NULL};
	size_t m = 0, rounds;
	bool refused;
	int rc;

	/* The caller's items hold nothing of a pass yet. */
	for (size_t i = 0; i < n; i++)
		items[i].have_rep = false;
	items_reset(items, n);
	b.ord = xcalloc(n ? n : 1, sizeof(size_t));
	m = items_order(items, n, b.ord);
	if (m < n)
		seterr(s, "submission_add: invalid submission");
	if ((rc = ready(s)) != 0)
		goto fail;
	/* Items are almost never refused: first in rounds, without
	 * savepoints; one at a time once one is. */
	rounds = subs_split(&r, &b, m);
	rc = pipe_items(s, &subs_ops, &r, rounds, true, false, &refused);
	if (rc == 0 && refused) {
		tx_rollback(s);
		items_reset(items, n);
		rc = pipe_items(s, &sub_ops, &b, m, true, true, &refused);
	}
	if (rc != 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (items[i].rc == 0)
			note_changed(s, items[i].sub->sha256);
	}
	if ((rc = finish_tx(s, barrier, ud)) == 0)
		goto out;
fail:
	tx_rollback(s);
	items_reset(items, n);
	for (size_t i = 0; i < n; i++)
		items[i].rc = rc;
out:
	free(r.pos);
	free(r.start);
	free(b.ord);
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
	if (!store_valid_submission(&it)) {
		seterr(to_pg(base), "submission_add: invalid submission");
		return VG_EINVAL;
	}
	if ((rc = op_submission_add_many(base, &it, 1, NULL, NULL)) != 0)
		return rc;
	if (it.have_rep)
		reputation_clear(&it.rep);
	if (it.rc == 0 && new_job != NULL)
		*new_job = it.new_job;
	return it.rc;
}

/* Looks up the row sha256 names with sql ($1); VG_ENOENT for no row,
 * VG_EINVAL for a malformed SHA-256. The caller PQclear()s *res. */
static int
lookup_sha256(struct store_pg *s, PGresult **res, const char *what,
	      const char *sql, const char *sha256)
{
	int rc;

	*res = NULL;
	if (!store_valid_hash(sha256, 64)) {
		seterr(s, "%s: not a SHA-256", what);
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0 ||
	    (rc = q_read(s, res, what, sql, 1, &sha256)) != 0)
		return rc;
	if (PQntuples(*res) > 0)
		return 0;
	PQclear(*res);
	*res = NULL;
	return VG_ENOENT;
}

static int
op_sample_locate(struct store *base, const char *sha256, struct sample_loc *out)
{
	struct store_pg *s = to_pg(base);
	PGresult *res = NULL;
	int64_t seg, off, len;
	int rc;

	rc = lookup_sha256(s, &res, "sample_locate",
			   "SELECT blob_segment, blob_offset, blob_length"
			   " FROM samples WHERE sha256 = $1",
			   sha256);
	if (rc == VG_ENOENT) {
		seterr(s, "sample_locate: %s is not stored", sha256);
	} else if (rc == 0 &&
		   (rc = want_cols(s, res, 3, "sample_locate")) == 0) {
		if (PQgetisnull(res, 0, 0) && PQgetisnull(res, 0, 1) &&
		    PQgetisnull(res, 0, 2)) {
			/* Known (inside another sample, say), bytes not
			 * stored. */
			seterr(s, "sample_locate: %s is not stored", sha256);
			rc = VG_ENOENT;
		} else if ((rc = col_i64(s, res, 0, 0, 1, INT64_MAX, &seg)) ==
				   0 &&
			   (rc = col_i64(s, res, 0, 1, 0, INT64_MAX, &off)) ==
				   0 &&
			   (rc = col_i64(s, res, 0, 2, 1, INT64_MAX, &len)) ==
				   0) {
			out->segment = (uint64_t)seg;
			out->offset = (uint64_t)off;
			out->length = (uint64_t)len;
		}
	}
	PQclear(res);
	return rc;
}

/* All of them in one statement: the hashes go as one text[] parameter
 * (hex digits and commas only, checked first), the rows come back by
 * SHA-256. */
static int
op_sample_locate_many(struct store *base, const char *const *sha256, size_t n,
		      struct sample_loc *out, bool *found)
{
	struct store_pg *s = to_pg(base);
	PGresult *res = NULL;
	const char *p[1];
	char *arr;
	size_t at = 0;
	int rc;

	memset(out, 0, n * sizeof(*out));
	memset(found, 0, n * sizeof(*found));
	if (n == 0)
		return 0;
	arr = xmalloc(n * 65 + 3);
	arr[at++] = '{';
	for (size_t i = 0; i < n; i++) {
		if (!store_valid_hash(sha256[i], 64)) {
			free(arr);
			seterr(s, "sample_locate_many: not a SHA-256");
			return VG_EINVAL;
		}
		if (i > 0)
			arr[at++] = ',';
		memcpy(arr + at, sha256[i], 64);
		at += 64;
	}
	arr[at++] = '}';
	arr[at] = '\0';
	p[0] = arr;
	if ((rc = ready(s)) != 0 ||
	    (rc = q_read(s, &res, "sample_locate_many",
			 "SELECT sha256, blob_segment, blob_offset, blob_length"
			 " FROM samples WHERE sha256 = ANY($1::text[])"
			 " AND blob_segment IS NOT NULL",
			 1, p)) != 0 ||
	    (rc = want_cols(s, res, 4, "sample_locate_many")) != 0) {
		free(arr);
		PQclear(res);
		return rc;
	}
	free(arr);
	for (int r = 0; r < PQntuples(res) && rc == 0; r++) {
		const char *h = PQgetvalue(res, r, 0);
		int64_t seg, off, len;

		if ((rc = col_i64(s, res, r, 1, 1, INT64_MAX, &seg)) != 0 ||
		    (rc = col_i64(s, res, r, 2, 0, INT64_MAX, &off)) != 0 ||
		    (rc = col_i64(s, res, r, 3, 1, INT64_MAX, &len)) != 0)
			break;
		/* A batch holds few samples (at most INGEST_BATCH_MAX): a
		 * scan per row is cheaper than a table. */
		for (size_t i = 0; i < n; i++) {
			if (strcmp(sha256[i], h) != 0)
				continue;
			found[i] = true;
			out[i].segment = (uint64_t)seg;
			out[i].offset = (uint64_t)off;
			out[i].length = (uint64_t)len;
		}
	}
	PQclear(res);
	return rc;
}

static int
op_submission_get(struct store *base, const char *id, struct submission *out)
{
	struct store_pg *s = to_pg(base);
	PGresult *res = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!store_valid_id(id))
		return VG_EINVAL;
	if ((rc = ready(s)) != 0 ||
	    (rc = q_read(s, &res, "submission_get",
			 "SELECT id, client_id, sha256, metadata, created"
			 " FROM submissions WHERE id = $1",
			 1, &id)) != 0)
		return rc;
	rc = PQntuples(res) == 0 ? VG_ENOENT : read_submission(s, res, out);
	PQclear(res);
	return rc;
}

/* The first claimable rescan, when no job is (job_claim). */
static int
rescan_claim(struct store_pg *s, struct job *out)
{
	const char *p[2] = {s->owner, s->lease};
	PGresult *res = NULL;
	int64_t id = 0, attempts = 0;
	int rc;

	if ((rc = q(s, &res, "job_claim: rescan", SQL_RESCAN_CLAIM, 2, p)) != 0)
		return rc;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return VG_ENOENT;
	}
	if ((rc = want_cols(s, res, 3, "job_claim: rescan")) == 0 &&
	    (rc = col_i64(s, res, 0, 0, 1, INT64_MAX, &id)) == 0 &&
	    (rc = col_hex(s, res, 0, 1, 64, out->sha256)) == 0)
		rc = col_i64(s, res, 0, 2, 1, INT_MAX, &attempts);
	PQclear(res);
	if (rc == VG_ECORRUPT && id > 0) {
		/* Dropped, so that it does not block the queue. */
		char why[sizeof(s->base.err)];
		struct num n;
		const char *pd[1] = {i64(&n, id)};

		memcpy(why, s->base.err, sizeof(why));
		(void)q(s, NULL, "job_claim: drop", SQL_RESCAN_DROP, 1, pd);
		memcpy(s->base.err, why, sizeof(why));
	}
	if (rc == 0) {
		out->id = id;
		out->state = JOB_ANALYSING;
		out->attempts = (int)attempts;
		out->rescan = true;
	}
	return rc;
}

static int
op_job_claim(struct store *base, struct job *out)
{
	struct store_pg *s = to_pg(base);
	PGresult *res = NULL;
	struct num t;
	const char *p[3];
	int64_t id = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = ready(s)) != 0)
		return rc;
	p[0] = i64(&t, now());
	p[1] = s->owner;
	p[2] = s->lease;
	/* One statement, committed when it returns: a job is not handed
	 * out unless its claim is durable. */
	if ((rc = q(s, &res, "job_claim", SQL_JOB_CLAIM, 3, p)) != 0)
		return rc;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return rescan_claim(s, out);
	}
	(void)pg_get_i64(res, 0, 0, &id);
	rc = read_job(s, res, out);
	PQclear(res);
	if (rc == VG_ECORRUPT && id > 0) {
		/* A row that cannot be read must not stay at the head of
		 * the queue, where every claim would trip over it. */
		char why[sizeof(s->base.err)];
		struct num n, tn;
		const char *pm[2] = {i64(&n, id), i64(&tn, now())};

		memcpy(why, s->base.err, sizeof(why));
		(void)q(s, NULL, "job_claim: fail", SQL_JOB_MARK_CORRUPT, 2,
			pm);
		memcpy(s->base.err, why, sizeof(why));
	}
	return rc;
}

static int
op_job_get_by_sha256(struct store *base, const char *sha256, struct job *out)
{
	struct store_pg *s = to_pg(base);
	PGresult *res = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = lookup_sha256(s, &res, "job_get_by_sha256",
			   "SELECT " JOB_COLS " FROM jobs WHERE id ="
			   " (SELECT n FROM samples WHERE sha256 = $1)",
			   sha256);
	if (rc == 0)
		rc = read_job(s, res, out);
	PQclear(res);
	return rc;
}

/* Why an update of job id as analysing under this owner's lease changed
 * nothing: VG_ENOENT when there is no such job, VG_EINVAL when it is not
 * being analysed, or not by this owner. */
static int
job_not_analysing(struct store_pg *s, int64_t id, const char *what)
{
	PGresult *res = NULL;
	struct num n;
	const char *p[1] = {i64(&n, id)};
	int rc;

	if ((rc = q(s, &res, what, SQL_JOB_STATE, 1, p)) != 0)
		return rc;
	if (PQntuples(res) == 0) {
		seterr(s, "%s: no job %lld", what, (long long)id);
		rc = VG_ENOENT;
	} else if (PQnfields(res) == 2 && !PQgetisnull(res, 0, 1) &&
		   strcmp(PQgetvalue(res, 0, 0), "1") == 0) {
		seterr(s, "%s: job %lld is leased to %.64s, not %s", what,
		       (long long)id, PQgetvalue(res, 0, 1), s->owner);
		rc = VG_EINVAL;
	} else {
		seterr(s, "%s: job %lld is not being analysed (state %.8s)",
		       what, (long long)id, PQgetvalue(res, 0, 0));
		rc = VG_EINVAL;
	}
	PQclear(res);
	return rc;
}

static int
op_job_finish(struct store *base, int64_t id, const char *report_json,
	      const char *verdict, int score, const char *detections_json,
	      const char *because_json, const char *mime, double analysis_ms)
{
	struct store_pg *s = to_pg(base);
	struct num nid, t, sc, ms;
	PGresult *res = NULL;
	const char *p[10];
	int rc;

	if (!store_valid_result(report_json, verdict, detections_json,
				analysis_ms)) {
		seterr(s, "job_finish: invalid result for job %lld",
		       (long long)id);
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	p[0] = i64(&nid, id);
	p[1] = report_json;
	p[2] = i64(&t, now());
	p[3] = s->owner;
	p[4] = verdict;
	p[5] = i64(&sc, score);
	p[6] = detections_json;
	p[7] = mime;
	p[8] = dbl(&ms, analysis_ms);
	p[9] = because_json ? because_json : "[]";
	if ((rc = q(s, &res, "job_finish", SQL_JOB_FINISH, 10, p)) != 0)
		return rc;
	/* The foreign key makes a job without its sample impossible: no
	 * row means the job was not analysing under this owner's lease. */
	if (PQntuples(res) == 0)
		rc = job_not_analysing(s, id, "job_finish");
	PQclear(res);
	return rc;
}

static int
op_job_fail(struct store *base, int64_t id, const char *why, int max_attempts)
{
	struct store_pg *s = to_pg(base);
	struct num nid, max, t;
	PGresult *res = NULL;
	const char *p[5];
	int rc;

	if (max_attempts < 1) {
		seterr(s, "job_fail: max_attempts must be at least 1");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	p[0] = i64(&nid, id);
	p[1] = i64(&max, max_attempts);
	p[2] = why != NULL ? why : "no reason given";
	p[3] = i64(&t, now());
	p[4] = s->owner;
	/* One statement: the choice between requeue and failed reads the
	 * attempts in the same write as the update. */
	if ((rc = q(s, &res, "job_fail", SQL_JOB_FAIL, 5, p)) != 0)
		return rc;
	if (changes(res) != 1)
		rc = job_not_analysing(s, id, "job_fail");
	PQclear(res);
	return rc;
}

static int
op_job_requeue_stale(struct store *base)
{
	struct store_pg *s = to_pg(base);
	struct num t;
	const char *p[2];
	int rc;

	if ((rc = ready(s)) != 0)
		return rc;
	p[0] = i64(&t, now());
	p[1] = s->owner;
	return q(s, NULL, "job_requeue_stale", SQL_REQUEUE, 2, p);
}

static int
op_job_lease_renew(struct store *base, const struct job_held *held, size_t nh,
		   uint64_t *renewed)
{
	struct store_pg *s = to_pg(base);
	const char *p[4] = {s->owner, s->lease};
	PGresult *res = NULL;
	/* Two array literals of decimal ids: "{1,2,3}". */
	size_t cap = nh * 21 + 3;
	char *jobs = xmalloc(cap), *rescans = xmalloc(cap);
	size_t nj = 0, nr = 0;
	int64_t n = 0;
	int rc;

	*renewed = 0;
	jobs[nj++] = '{';
	rescans[nr++] = '{';
	for (size_t i = 0; i < nh; i++) {
		char *a = held[i].rescan ? rescans : jobs;
		size_t *at = held[i].rescan ? &nr : &nj;

		*at += (size_t)snprintf(a + *at, cap - *at, "%s%lld",
					*at > 1 ? "," : "",
					(long long)held[i].id);
	}
	snprintf(jobs + nj, cap - nj, "}");
	snprintf(rescans + nr, cap - nr, "}");
	p[2] = jobs;
	p[3] = rescans;
	rc = ready(s);
	if (rc == 0)
		rc = q(s, &res, "job_lease_renew", SQL_LEASE_RENEW, 4, p);
	free(jobs);
	free(rescans);
	if (rc != 0)
		return rc;
	if (PQntuples(res) != 1)
		rc = corrupt(s, res, 0, "is not a count");
	else if ((rc = col_i64(s, res, 0, 0, 0, INT64_MAX, &n)) == 0)
		*renewed = (uint64_t)n;
	PQclear(res);
	return rc;
}

/* Runs a statement that answers one count. */
static int
count_of(struct store_pg *s, const char *what, const char *sql, int np,
	 const char *const *p, uint64_t *n)
{
	PGresult *res = NULL;
	int64_t v = 0;
	int rc;

	*n = 0;
	if ((rc = ready(s)) != 0 ||
	    (rc = q_read(s, &res, what, sql, np, p)) != 0)
		return rc;
	if (PQntuples(res) != 1 || PQnfields(res) < 1) {
		seterr(s, "%s: no count", what);
		rc = VG_ECORRUPT;
	} else if ((rc = col_i64(s, res, 0, 0, 0, INT64_MAX, &v)) == 0) {
		*n = (uint64_t)v;
	}
	PQclear(res);
	return rc;
}

static int
op_jobs_queued(struct store *base, uint64_t *n)
{
	return count_of(to_pg(base), "jobs_queued",
			"SELECT count(*) FROM jobs WHERE state = 0", 0, NULL,
			n);
}

static int
op_rescans_queued(struct store *base, uint64_t *n)
{
	return count_of(to_pg(base), "rescans_queued",
			"SELECT count(*) FROM rescans WHERE state = 0", 0, NULL,
			n);
}

static int
op_rescan_queue(struct store *base, const char *generation, uint64_t *queued)
{
	struct store_pg *s = to_pg(base);
	PGresult *res = NULL;
	int rc;

	*queued = 0;
	if (generation == NULL || !store_valid_hash(generation, 64)) {
		seterr(s, "rescan_queue: invalid generation");
		return VG_EINVAL;
	}
	/* One statement: two nodes starting with new rules at once queue
	 * once (the second waits for the first's generation row, then
	 * finds it recorded). */
	if ((rc = ready(s)) != 0 ||
	    (rc = q(s, &res, "rescan_queue", SQL_RESCAN_QUEUE, 1,
		    &generation)) != 0)
		return rc;
	*queued = changes(res);
	PQclear(res);
	return 0;
}

static int
op_rescan_finish(struct store *base, int64_t id, const char *report_json,
		 const char *verdict, int score, const char *detections_json,
		 const char *because_json, const char *mime, double analysis_ms,
		 bool *changed)
{
	struct store_pg *s = to_pg(base);
	struct num nid, sc, t, ms;
	PGresult *res = NULL;
	const char *p[10];
	int rc;

	*changed = false;
	if (!store_valid_result(report_json, verdict, detections_json,
				analysis_ms)) {
		seterr(s, "rescan_finish: invalid result for rescan %lld",
		       (long long)id);
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	p[0] = i64(&nid, id);
	p[1] = verdict;
	p[2] = i64(&sc, score);
	p[3] = detections_json;
	p[4] = mime;
	p[5] = i64(&t, now());
	p[6] = dbl(&ms, analysis_ms);
	p[7] = because_json ? because_json : "[]";
	p[8] = report_json;
	p[9] = s->owner;
	if ((rc = q(s, &res, "rescan_finish", SQL_RESCAN_FINISH, 10, p)) != 0)
		return rc;
	if (PQntuples(res) == 0) {
		seterr(s,
		       "rescan_finish: rescan %lld is not being analysed"
		       " under this node's lease",
		       (long long)id);
		rc = VG_EINVAL;
	} else if (PQnfields(res) < 2 || PQgetisnull(res, 0, 1)) {
		rc = corrupt(s, res, 0, "rescan of no sample");
	} else {
		*changed = strcmp(PQgetvalue(res, 0, 1), verdict) != 0;
	}
	PQclear(res);
	return rc;
}

static int
op_rescan_fail(struct store *base, int64_t id, int max_attempts, bool *dropped)
{
	struct store_pg *s = to_pg(base);
	struct num nid, max;
	PGresult *res = NULL;
	const char *p[3];
	int rc;

	*dropped = false;
	if ((rc = ready(s)) != 0)
		return rc;
	p[0] = i64(&nid, id);
	p[1] = i64(&max, max_attempts);
	p[2] = s->owner;
	if ((rc = q(s, &res, "rescan_fail", SQL_RESCAN_FAIL, 3, p)) != 0)
		return rc;
	if (PQntuples(res) != 1 || PQnfields(res) != 3) {
		rc = corrupt(s, res, 0, "is not a count");
	} else if (strcmp(PQgetvalue(res, 0, 2), "0") != 0) {
		/* Taken over by another node: its attempt now. */
		seterr(s, "rescan_fail: rescan %lld is leased to another node",
		       (long long)id);
		rc = VG_EINVAL;
	} else {
		*dropped = strcmp(PQgetvalue(res, 0, 1), "1") == 0;
	}
	PQclear(res);
	return rc;
}

/*
 * Calls row() for every row of select, from one snapshot, through a
 * cursor WITH HOLD: its rows are kept by the server once the DECLARE
 * commits, and the session stays free between FETCHes, for row() to use
 * the store (even the same operation: nested cursors have their own
 * names). Stops early if row() returns non-zero, and returns that.
 */
static int
each_row(struct store_pg *s, const char *what, const char *select,
	 int (*row)(struct store_pg *s, const PGresult *res, int i, void *ud),
	 void *ud)
{
	char name[32], sql[2048], fetch[64];
	PGresult *res = NULL;
	int rc, n;

	if ((rc = ready(s)) != 0)
		return rc;
	snprintf(name, sizeof(name), "vigil_each_%u", s->cursors);
	if ((size_t)snprintf(sql, sizeof(sql),
			     "DECLARE %s NO SCROLL CURSOR WITH HOLD FOR %s",
			     name, select) >= sizeof(sql)) {
		seterr(s, "%s: statement too long", what);
		return VG_ELIMIT;
	}
	snprintf(fetch, sizeof(fetch), "FETCH %d FROM %s", EACH_FETCH, name);
	if ((rc = cmd(s, what, sql)) != 0)
		return rc;
	s->cursors++;
	do {
		if ((rc = q(s, &res, what, fetch, 0, NULL)) != 0)
			break;
		n = PQntuples(res);
		for (int i = 0; i < n && rc == 0; i++)
			rc = row(s, res, i, ud);
		PQclear(res);
		res = NULL;
	} while (rc == 0 && n == EACH_FETCH);
	s->cursors--;
	if (!pg_lost(&s->pg)) {
		char why[sizeof(s->base.err)];

		memcpy(why, s->base.err, sizeof(why));
		snprintf(sql, sizeof(sql), "CLOSE %s", name);
		if (PQtransactionStatus(s->pg.conn) != PQTRANS_IDLE)
			(void)cmd(s, what, "ROLLBACK");
		(void)cmd(s, what, sql);
		memcpy(s->base.err, why, sizeof(why));
	}
	return rc;
}

struct each_stored {
	int (*fn)(const char *sha256, const struct sample_loc *loc, void *ud);
	void *ud;
};

static int
stored_row(struct store_pg *s, const PGresult *res, int i, void *ud)
{
	struct each_stored *e = ud;
	struct sample_loc loc;
	char sha256[65];
	int64_t seg, off, len;
	int rc;

	if ((rc = want_cols(s, res, 4, "samples_stored_each")) != 0 ||
	    (rc = col_hex(s, res, i, 0, 64, sha256)) != 0 ||
	    (rc = col_i64(s, res, i, 1, 1, INT64_MAX, &seg)) != 0 ||
	    (rc = col_i64(s, res, i, 2, 0, INT64_MAX, &off)) != 0 ||
	    (rc = col_i64(s, res, i, 3, 1, INT64_MAX, &len)) != 0)
		return rc;
	loc.segment = (uint64_t)seg;
	loc.offset = (uint64_t)off;
	loc.length = (uint64_t)len;
	return e->fn(sha256, &loc, e->ud);
}

static int
op_samples_stored_each(struct store *base,
		       int (*fn)(const char *sha256,
				 const struct sample_loc *loc, void *ud),
		       void *ud)
{
	struct each_stored e = {fn, ud};

	if (fn == NULL)
		return VG_EINVAL;
	return each_row(to_pg(base), "samples_stored_each",
			"SELECT sha256, blob_segment, blob_offset, blob_length"
			" FROM samples WHERE blob_segment IS NOT NULL"
			" ORDER BY prevalence DESC, last_seen DESC, n",
			stored_row, &e);
}

static int
op_reputation_get(struct store *base, const char *hash, struct reputation *out)
{
	struct store_pg *s = to_pg(base);
	PGresult *res = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = lookup_sha256(s, &res, "reputation_get",
			   "SELECT " REP_COLS " FROM samples WHERE sha256 = $1",
			   hash);
	if (rc == 0)
		rc = read_reputation(s, res, 0, out);
	PQclear(res);
	return rc;
}

struct each_rep {
	int (*fn)(const struct reputation *r, void *ud);
	void *ud;
};

static int
rep_row(struct store_pg *s, const PGresult *res, int i, void *ud)
{
	struct each_rep *e = ud;
	struct reputation r;
	int rc;

	if ((rc = read_reputation(s, res, i, &r)) != 0)
		return rc;
	rc = e->fn(&r, e->ud);
	reputation_clear(&r);
	return rc;
}

static int
op_reputation_each(struct store *base,
		   int (*fn)(const struct reputation *r, void *ud), void *ud)
{
	struct each_rep e = {fn, ud};

	if (fn == NULL)
		return VG_EINVAL;
	return each_row(to_pg(base), "reputation_each",
			"SELECT " REP_COLS " FROM samples", rep_row, &e);
}

/* The parameters of SQL_REP_NOTE and SQL_REP_RENOTE for r, checked, t as
 * when it was seen; the numbers live in nums. */
static void
note_params(const struct reputation *r, int64_t t, struct num nums[5],
	    const char *p[13])
{
	p[0] = r->sha256;
	p[1] = r->md5;
	p[2] = r->sha1;
	p[3] = i64(&nums[0], (int64_t)r->size);
	p[4] = r->verdict;
	p[5] = i64(&nums[1], r->score);
	p[6] = r->detections;
	p[7] = r->type;
	p[8] = i64(&nums[2], t);
	p[9] = dbl(&nums[3], r->analysis_ms);
	p[10] = r->because ? r->because : "[]";
	p[11] = r->derived_from;
	p[12] = i64(&nums[4], r->derived_job);
}

static int
op_reputation_note(struct store *base, const struct reputation *r)
{
	struct store_pg *s = to_pg(base);
	struct num nums[5];
	const char *p[13];
	int rc;

	if (!store_valid_note(r)) {
		seterr(s, "reputation_note: invalid reputation");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	note_params(r, r->first_seen ? r->first_seen : now(), nums, p);
	/* One statement: the row and its notification commit together. */
	return q(s, NULL, "reputation_note", SQL_REP_NOTE_NOTIFY, 13, p);
}

/* A batch of notes (note_send, note_take, note_done): the objects of
 * one report. renote: objects_renote_many. */
struct note_batch {
	const struct reputation *r;
	size_t *ord; /* the valid ones */
	bool renote;
	int64_t t_now;
	int *rc;
	bool *changed;
};

static int
note_send(struct store_pg *s, void *ud, size_t i)
{
	struct note_batch *b = ud;
	const struct reputation *r = &b->r[b->ord[i]];
	struct num nums[5];
	const char *p[13];
	int rc;

	note_params(r, r->first_seen ? r->first_seen : b->t_now, nums, p);
	if ((rc = pipe_prepared(s, PREP_REP_NOTE, 13, p)) != 0)
		return rc;
	if (!b->renote)
		return 1;
	/* New rows, and rows not analysed yet, as the first time; then
	 * re-judged as seen now. */
	note_params(r, b->t_now, nums, p);
	if ((rc = pipe_prepared(s, PREP_REP_RENOTE, 13, p)) != 0)
		return rc;
	return 2;
}

static int
note_take(struct store_pg *s, void *ud, size_t i, int k, const PGresult *res)
{
	struct note_batch *b = ud;

	(void)s;
	(void)k;
	if (PQntuples(res) > 0)
		b->changed[i] = true;
	return 0;
}

static void
note_done(struct store_pg *s, void *ud, size_t i, int rc)
{
	struct note_batch *b = ud;

	(void)s;
	b->rc[i] = rc;
	if (rc != 0)
		b->changed[i] = false;
}

static const struct pipe_ops note_ops = {note_send, note_take, note_done};

/* The valid notes into ord, by SHA-256 as items_order() does, for the
 * same reason: the rows of a report and of a batch of submissions are
 * locked in one order. Returns how many. */
static size_t
notes_order(const struct reputation *r, size_t n, size_t *ord)
{
	struct item_key *k = xcalloc(n ? n : 1, sizeof(*k));
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		if (store_valid_note(&r[i]))
			k[m++] = (struct item_key){r[i].sha256, i};
	}
	qsort(k, m, sizeof(*k), cmp_item);
	for (size_t i = 0; i < m; i++)
		ord[i] = k[i].i;
	free(k);
	return m;
}

/* reputation_note_many and objects_renote_many: rows refused as invalid
 * (by the checks, or by the database) are skipped and counted; any other
 * error fails them all. */
static int
notes_many(struct store_pg *s, const struct reputation *r, size_t n,
	   bool renote, size_t *skipped)
{
	struct note_batch b = {r, NULL, renote, now(), NULL, NULL};
	size_t m = 0;
	bool refused;
	int rc;

	*skipped = 0;
	b.ord = xcalloc(n ? n : 1, sizeof(size_t));
	b.rc = xcalloc(n ? n : 1, sizeof(int));
	b.changed = xcalloc(n ? n : 1, sizeof(bool));
	m = notes_order(r, n, b.ord);
	*skipped = n - m;
	if ((rc = ready(s)) != 0)
		goto out;
	/* One commit, for all the objects of a report. */
	rc = pipe_items(s, &note_ops, &b, m, true, false, &refused);
	if (rc == 0 && refused) {
		tx_rollback(s);
		memset(b.changed, 0, m * sizeof(bool));
		rc = pipe_items(s, &note_ops, &b, m, true, true, &refused);
	}
	for (size_t i = 0; rc == 0 && i < m; i++) {
		if (b.rc[i] == VG_EINVAL)
			(*skipped)++;
		else if (b.rc[i] != 0)
			rc = b.rc[i];
		else if (b.changed[i])
			note_changed(s, r[b.ord[i]].sha256);
	}
	if (rc == 0)
		rc = finish_tx(s, NULL, NULL);
out:
	if (rc != 0) {
		tx_rollback(s);
		*skipped = 0;
	}
	free(b.ord);
	free(b.rc);
	free(b.changed);
	return rc;
}

static int
op_reputation_note_many(struct store *base, const struct reputation *r,
			size_t n, size_t *skipped)
{
	return notes_many(to_pg(base), r, n, false, skipped);
}

static int
op_objects_renote_many(struct store *base, const struct reputation *r, size_t n,
		       size_t *skipped)
{
	return notes_many(to_pg(base), r, n, true, skipped);
}

static int
op_reputation_fail(struct store *base, const char *sha256, const char *reason,
		   double analysis_ms)
{
	struct store_pg *s = to_pg(base);
	struct num t, ms;
	PGresult *res = NULL;
	const char *p[4];
	int rc;

	if (!store_valid_failure(sha256, reason, analysis_ms)) {
		seterr(s, "reputation_fail: invalid arguments");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	p[0] = sha256;
	p[1] = reason;
	p[2] = i64(&t, now());
	p[3] = dbl(&ms, analysis_ms);
	if ((rc = q(s, &res, "reputation_fail", SQL_REP_FAIL, 4, p)) != 0)
		return rc;
	if (PQntuples(res) != 1) {
		seterr(s, "reputation_fail: no sample %s", sha256);
		rc = VG_ENOENT;
	}
	PQclear(res);
	return rc;
}

static int
op_set_synced(struct store *base, bool synced)
{
	struct store_pg *s = to_pg(base);
	int rc;

	/* Off: this session's commits wait for the primary's disk, not
	 * for the standby (synchronous_commit = local); kept across
	 * reconnections by session_setup(). */
	if ((rc = ready(s)) != 0)
		return rc;
	s->unsynced = !synced;
	return session_setup(s);
}

/* The data subject's controls (store.h), as on SQLite. */

/* The samples $1 alone has sent: no other client has a row for them. */
#define ONLY_MINE                                                              \
	"SELECT c.sample FROM sample_clients c WHERE c.client_id = $1"         \
	" AND NOT EXISTS (SELECT 1 FROM sample_clients o"                      \
	" WHERE o.sample = c.sample AND o.client_id <> $1)"

/* Reads res, rows of (blob_segment, blob_offset, blob_length), into a
 * new array of locations *locs, counting them in *count: the records an
 * erasure or the retention sweep is to erase. */
static int
read_locs(struct store_pg *s, const PGresult *res, const char *what,
	  struct sample_loc **locs, uint64_t *count)
{
	int rc, rows;

	if ((rc = want_cols(s, res, 3, what)) != 0)
		return rc;
	rows = PQntuples(res);
	*locs = xcalloc(rows ? (size_t)rows : 1, sizeof(**locs));
	for (int i = 0; i < rows; i++) {
		int64_t seg, off, len;

		if ((rc = col_i64(s, res, i, 0, 1, INT64_MAX, &seg)) != 0 ||
		    (rc = col_i64(s, res, i, 1, 0, INT64_MAX, &off)) != 0 ||
		    (rc = col_i64(s, res, i, 2, 1, INT64_MAX, &len)) != 0)
			return rc;
		(*locs)[i].segment = (uint64_t)seg;
		(*locs)[i].offset = (uint64_t)off;
		(*locs)[i].length = (uint64_t)len;
		(*count)++;
	}
	return 0;
}

/* The locations of the stored samples only client_id sent are taken
 * into e and cleared in one statement (the row lock is held from the
 * read to the write); their queued jobs fail and queued rescans go. */
static int
erase_locs(struct store_pg *s, const char *client_id, struct erasure *e)
{
	static const char sql[] =
		"WITH m AS (" ONLY_MINE "),"
		" j AS (UPDATE jobs SET state = 3, error = 'sample erased',"
		" updated = $2, lease_owner = NULL, lease_until = NULL"
		" WHERE state = 0 AND id IN (SELECT sample FROM m)),"
		" r AS (DELETE FROM rescans WHERE state = 0"
		" AND id IN (SELECT sample FROM m)),"
		" old AS (SELECT n, blob_segment, blob_offset, blob_length"
		" FROM samples WHERE blob_segment IS NOT NULL"
		" AND n IN (SELECT sample FROM m) FOR UPDATE),"
		" u AS (UPDATE samples SET blob_segment = NULL,"
		" blob_offset = NULL, blob_length = NULL"
		" WHERE n IN (SELECT n FROM old)),"
		" p AS (INSERT INTO erasures (segment, off, length)"
		" SELECT blob_segment, blob_offset, blob_length FROM old"
		" ON CONFLICT DO NOTHING)"
		" SELECT blob_segment, blob_offset, blob_length FROM old"
		" ORDER BY n";
	struct num t;
	const char *p[2] = {client_id, i64(&t, now())};
	PGresult *res = NULL;
	int rc;

	if ((rc = q(s, &res, "erasure: locations", sql, 2, p)) != 0)
		return rc;
	rc = read_locs(s, res, "erasure: locations", &e->locs, &e->erased);
	PQclear(res);
	return rc;
}

/* The client's submissions and links go; each sample it was linked to
 * one less prevalent (notified: the nodes' indexes change). */
static int
erase_links(struct store_pg *s, const char *client_id, struct erasure *e)
{
	const char *p[1] = {client_id};
	PGresult *res = NULL;
	int rc;

	if ((rc = q(s, &res, "erasure: submissions",
		    "DELETE FROM submissions WHERE client_id = $1", 1, p)) !=
	    0)
		return rc;
	e->submissions = changes(res);
	PQclear(res);
	if ((rc = q(s, &res, "erasure: sample_clients",
		    "WITH d AS (DELETE FROM sample_clients WHERE client_id = $1"
		    " RETURNING sample)"
		    " UPDATE samples SET prevalence = prevalence - 1"
		    " WHERE prevalence > 0 AND n IN (SELECT sample FROM d)"
		    " RETURNING sha256",
		    1, p)) != 0)
		return rc;
	if ((rc = want_cols(s, res, 1, "erasure: sample_clients")) != 0)
		goto out;
	e->changed = xcalloc(PQntuples(res) ? (size_t)PQntuples(res) : 1,
			     sizeof(*e->changed));
	for (int i = 0; i < PQntuples(res); i++) {
		if ((rc = col_hex(s, res, i, 0, 64, e->changed[i])) != 0)
			goto out;
		note_changed(s, e->changed[i]);
	}
	e->unlinked = (uint64_t)PQntuples(res);
out:
	PQclear(res);
	return rc;
}

/* client_consent_set (to c) and client_delete (all, c CONSENT_NONE). */
static int
forget(struct store_pg *s, const char *client_id, enum consent c, bool all,
       struct erasure *out)
{
	struct num cn;
	const char *p[2] = {client_id, i64(&cn, (int64_t)c)};
	PGresult *res = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!store_valid_id(client_id) || c < CONSENT_NONE ||
	    c > CONSENT_FILES) {
		seterr(s, "erasure: invalid client id or consent");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0 || (rc = tx_begin(s)) != 0)
		return rc;
	if ((rc = q(s, &res, "erasure: consent",
		    "UPDATE clients SET consent = $2 WHERE id = $1", 2, p)) ==
		    0 &&
	    changes(res) == 0) {
		seterr(s, "erasure: unknown client %s", client_id);
		rc = VG_ENOENT;
	}
	PQclear(res);
	if (rc == 0 && c < CONSENT_FILES)
		rc = erase_locs(s, client_id, out);
	if (rc == 0 && c == CONSENT_NONE &&
	    (rc = erase_links(s, client_id, out)) == 0)
		rc = q(s, NULL, "erasure: fp_reports",
		       "DELETE FROM fp_reports WHERE client_id = $1", 1, p);
	if (rc == 0 && all)
		rc = q(s, NULL, "erasure: client",
		       "DELETE FROM clients WHERE id = $1", 1, p);
	if (rc == 0)
		rc = finish_tx(s, NULL, NULL);
	if (rc != 0) {
		tx_rollback(s);
		erasure_clear(out);
	}
	return rc;
}

/* Retention (store.h, retention_sweep), as on SQLite. */

/* The key of the advisory lock one sweeping node of the region holds
 * for the transaction of a batch: "vigilret". */
#define RETENTION_LOCK "8531012276498375796"

/* The expired bytes of this batch: locked, their locations taken into r
 * and cleared in one statement, recorded as erasures, their queued work
 * ended. */
static int
expire_bytes(struct store_pg *s, int64_t before, int64_t max,
	     struct retention *r)
{
	static const char sql[] =
		"WITH old AS (SELECT n, blob_segment, blob_offset, blob_length"
		" FROM samples WHERE blob_segment IS NOT NULL AND last_seen < "
		"$1"
		" AND sha256 NOT IN (SELECT sha256 FROM holds)"
		" ORDER BY last_seen, n LIMIT $2 FOR UPDATE),"
		" j AS (UPDATE jobs SET state = 3, error = 'sample erased',"
		" updated = $3, lease_owner = NULL, lease_until = NULL"
		" WHERE state = 0 AND id IN (SELECT n FROM old)),"
		" r AS (DELETE FROM rescans WHERE state = 0"
		" AND id IN (SELECT n FROM old)),"
		" u AS (UPDATE samples SET blob_segment = NULL,"
		" blob_offset = NULL, blob_length = NULL"
		" WHERE n IN (SELECT n FROM old)),"
		" p AS (INSERT INTO erasures (segment, off, length)"
		" SELECT blob_segment, blob_offset, blob_length FROM old"
		" ON CONFLICT DO NOTHING)"
		" SELECT blob_segment, blob_offset, blob_length FROM old"
		" ORDER BY n";
	struct num b, m, t;
	const char *p[3] = {i64(&b, before), i64(&m, max), i64(&t, now())};
	PGresult *res = NULL;
	int rc;

	if ((rc = q(s, &res, "retention: locations", sql, 3, p)) != 0)
		return rc;
	rc = read_locs(s, res, "retention: locations", &r->locs, &r->erased);
	PQclear(res);
	return rc;
}

/* The expired submissions of this batch, and the links they alone
 * justified (each sample one less prevalent per link, notified). */
static int
expire_submissions(struct store_pg *s, int64_t before, int64_t max,
		   struct retention *r)
{
	struct num b, m;
	const char *p[2] = {i64(&b, before), i64(&m, max)};
	PGresult *res = NULL;
	int64_t k;
	int rc;

	if ((rc = cmd(s, "retention: temp",
		      "CREATE TEMP TABLE retention_subs (client_id text,"
		      " sha256 text) ON COMMIT DROP")) != 0)
		return rc;
	if ((rc = q(s, &res, "retention: submissions",
		    "WITH d AS (DELETE FROM submissions WHERE id IN"
		    " (SELECT id FROM submissions WHERE created < $1"
		    " AND sha256 NOT IN (SELECT sha256 FROM holds)"
		    " ORDER BY created, id COLLATE \"C\" LIMIT $2)"
		    " RETURNING client_id, sha256),"
		    " i AS (INSERT INTO retention_subs"
		    " SELECT DISTINCT client_id, sha256 FROM d)"
		    " SELECT count(*) FROM d",
		    2, p)) != 0)
		return rc;
	if ((rc = want_cols(s, res, 1, "retention: submissions")) != 0 ||
	    PQntuples(res) != 1 ||
	    (rc = col_i64(s, res, 0, 0, 0, INT64_MAX, &k)) != 0) {
		if (rc == 0) {
			seterr(s, "retention: submissions: no count");
			rc = VG_ECORRUPT;
		}
		PQclear(res);
		return rc;
	}
	PQclear(res);
	r->submissions = (uint64_t)k;
	if (k == 0)
		return 0;
	if ((rc = q(s, &res, "retention: links",
		    "WITH l AS (DELETE FROM sample_clients c USING"
		    " retention_subs x, samples m WHERE m.sha256 = x.sha256"
		    " AND c.sample = m.n AND c.client_id = x.client_id"
		    " AND NOT EXISTS (SELECT 1 FROM submissions u"
		    " WHERE u.client_id = x.client_id AND u.sha256 = x.sha256)"
		    " RETURNING c.sample),"
		    " k AS (SELECT sample, count(*) AS k FROM l GROUP BY "
		    "sample)"
		    " UPDATE samples SET prevalence = greatest(0, prevalence"
		    " - k.k) FROM k WHERE samples.n = k.sample"
		    " RETURNING samples.sha256, k.k",
		    0, NULL)) != 0)
		return rc;
	if ((rc = want_cols(s, res, 2, "retention: links")) != 0)
		goto out;
	r->changed = xcalloc(PQntuples(res) ? (size_t)PQntuples(res) : 1,
			     sizeof(*r->changed));
	for (int i = 0; i < PQntuples(res); i++) {
		if ((rc = col_hex(s, res, i, 0, 64, r->changed[i])) != 0 ||
		    (rc = col_i64(s, res, i, 1, 1, INT64_MAX, &k)) != 0)
			goto out;
		note_changed(s, r->changed[i]);
		r->nchanged++;
		r->unlinked += (uint64_t)k;
	}
out:
	PQclear(res);
	return rc;
}

static int
op_retention_sweep(struct store *base, int64_t bytes_before,
		   int64_t meta_before, size_t max, struct retention *out)
{
	struct store_pg *s = to_pg(base);
	PGresult *res = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (max == 0 || max > STORE_RETENTION_BATCH_MAX) {
		seterr(s, "retention_sweep: invalid batch");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0 || (rc = tx_begin(s)) != 0)
		return rc;
	if ((rc = q(s, &res, "retention: lock",
		    "SELECT pg_try_advisory_xact_lock(" RETENTION_LOCK ")", 0,
		    NULL)) == 0 &&
	    (rc = want_cols(s, res, 1, "retention: lock")) == 0 &&
	    (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "t") != 0))
		out->busy = true;
	PQclear(res);
	if (rc == 0 && !out->busy &&
	    (rc = expire_bytes(s, bytes_before, (int64_t)max, out)) == 0)
		rc = expire_submissions(s, meta_before, (int64_t)max, out);
	if (rc == 0)
		rc = finish_tx(s, NULL, NULL);
	if (rc != 0) {
		tx_rollback(s);
		retention_clear(out);
	}
	return rc;
}

/* Legal holds (store.h), as on SQLite. */

static int
op_hold_add(struct store *base, const struct store_hold *h)
{
	struct store_pg *s = to_pg(base);
	struct num t;
	const char *p[5];
	PGresult *res = NULL;
	int rc;

	if (h == NULL || !store_valid_hash(h->sha256, 64) ||
	    !store_valid_case(h->case_id) || !store_valid_reason(h->reason) ||
	    strnlen(h->by, sizeof(h->by)) == 0 ||
	    strnlen(h->by, sizeof(h->by)) == sizeof(h->by) || h->created < 0) {
		seterr(s, "hold_add: invalid hold");
		return VG_EINVAL;
	}
	p[0] = h->sha256;
	p[1] = h->case_id;
	p[2] = h->reason;
	p[3] = h->by;
	p[4] = i64(&t, h->created ? h->created : now());
	if ((rc = ready(s)) != 0)
		return rc;
	if ((rc = q(s, &res, "hold_add",
		    "INSERT INTO holds (sha256, case_id, reason, operator,"
		    " created) SELECT sha256, $2, $3, $4, $5::bigint"
		    " FROM samples WHERE sha256 = $1",
		    5, p)) == 0 &&
	    changes(res) == 0) {
		seterr(s, "hold_add: unknown sample");
		rc = VG_ENOENT;
	}
	PQclear(res);
	return rc;
}

static int
op_hold_release(struct store *base, const char *sha256, const char *case_id)
{
	struct store_pg *s = to_pg(base);
	const char *p[2] = {sha256, case_id};
	PGresult *res = NULL;
	int rc;

	if (!store_valid_hash(sha256, 64) || !store_valid_case(case_id)) {
		seterr(s, "hold_release: invalid hash or case");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	if ((rc = q(s, &res, "hold_release",
		    "DELETE FROM holds WHERE sha256 = $1 AND case_id = $2", 2,
		    p)) == 0 &&
	    changes(res) == 0) {
		seterr(s, "hold_release: no such hold");
		rc = VG_ENOENT;
	}
	PQclear(res);
	return rc;
}

static int
op_holds_count(struct store *base, const char *sha256, const char *case_id,
	       uint64_t *n)
{
	struct store_pg *s = to_pg(base);
	const char *p[2] = {sha256, case_id};
	PGresult *res = NULL;
	int64_t k = 0;
	int rc;

	if (!store_valid_hash(sha256, 64) ||
	    (case_id != NULL && !store_valid_case(case_id))) {
		seterr(s, "holds_count: invalid hash or case");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	if ((rc = q_read(s, &res, "holds_count",
			 "SELECT count(*) FROM holds WHERE sha256 = $1"
			 " AND ($2::text IS NULL OR case_id = $2)",
			 2, p)) != 0)
		return rc;
	if ((rc = want_cols(s, res, 1, "holds_count")) == 0 &&
	    PQntuples(res) == 1)
		rc = col_i64(s, res, 0, 0, 0, INT64_MAX, &k);
	PQclear(res);
	*n = (uint64_t)k;
	return rc;
}

static int
op_client_fp_list(struct store *base, const char *client_id, size_t max,
		  struct client_fp **out, size_t *n)
{
	struct store_pg *s = to_pg(base);
	struct num m;
	const char *p[2] = {client_id, i64(&m, (int64_t)max)};
	struct client_fp *v = NULL;
	PGresult *res = NULL;
	size_t k = 0;
	int rc, rows;

	*out = NULL;
	*n = 0;
	if (!store_valid_id(client_id) || max == 0 ||
	    max > STORE_CLIENT_LIST_MAX) {
		seterr(s, "client_fp_list: invalid arguments");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	if ((rc = q_read(s, &res, "client_fp_list",
			 "SELECT sha256, reason, created, state FROM fp_reports"
			 " WHERE client_id = $1"
			 " ORDER BY created, sha256 COLLATE \"C\" LIMIT $2",
			 2, p)) != 0)
		return rc;
	if ((rc = want_cols(s, res, 4, "client_fp_list")) != 0)
		goto out;
	rows = PQntuples(res);
	if ((size_t)rows > max) {
		rc = corrupt(s, res, 0, "has more rows than asked for");
		goto out;
	}
	v = xcalloc(rows ? (size_t)rows : 1, sizeof(*v));
	for (int i = 0; i < rows; i++) {
		int64_t state;

		if ((rc = col_hex(s, res, i, 0, 64, v[k].sha256)) != 0 ||
		    (rc = col_dup(s, res, i, 1, false, &v[k].reason)) != 0)
			goto out;
		k++;
		if ((rc = col_i64(s, res, i, 2, INT64_MIN, INT64_MAX,
				  &v[k - 1].created)) != 0 ||
		    (rc = col_i64(s, res, i, 3, FP_OPEN, FP_REJECTED,
				  &state)) != 0)
			goto out;
		v[k - 1].state = (enum fp_state)state;
	}
out:
	PQclear(res);
	if (rc != 0) {
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
	struct store_pg *s = to_pg(base);
	struct num m;
	const char *p[1] = {i64(&m, (int64_t)max)};
	PGresult *res = NULL;
	uint64_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (max == 0 || max > STORE_CLIENT_LIST_MAX)
		return VG_EINVAL;
	if ((rc = ready(s)) != 0)
		return rc;
	if ((rc = q_read(s, &res, "erasures_pending",
			 "SELECT segment, off, length FROM erasures"
			 " ORDER BY segment, off LIMIT $1",
			 1, p)) != 0)
		return rc;
	if ((size_t)PQntuples(res) > max) {
		rc = corrupt(s, res, 0, "has more rows than asked for");
		goto out;
	}
	if ((rc = read_locs(s, res, "erasures_pending", out, &k)) == 0)
		*n = (size_t)k;
out:
	PQclear(res);
	if (rc != 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

static int
op_erasure_done(struct store *base, const struct sample_loc *loc)
{
	struct store_pg *s = to_pg(base);
	struct num seg, off;
	const char *p[2];
	int rc;

	if (loc == NULL || loc->segment > INT64_MAX || loc->offset > INT64_MAX)
		return VG_EINVAL;
	if ((rc = ready(s)) != 0)
		return rc;
	p[0] = i64(&seg, (int64_t)loc->segment);
	p[1] = i64(&off, (int64_t)loc->offset);
	return q(s, NULL, "erasure_done",
		 "DELETE FROM erasures WHERE segment = $1 AND off = $2", 2, p);
}

static int
op_client_consent_set(struct store *base, const char *client_id,
		      enum consent c, struct erasure *out)
{
	return forget(to_pg(base), client_id, c, false, out);
}

static int
op_client_delete(struct store *base, const char *client_id,
		 struct erasure *out)
{
	return forget(to_pg(base), client_id, CONSENT_NONE, true, out);
}

static int
op_client_list(struct store *base, const char *client_id, const char *after,
	       size_t max, struct client_sub **out, size_t *n)
{
	struct store_pg *s = to_pg(base);
	struct num m;
	const char *p[3] = {client_id, after, i64(&m, (int64_t)max)};
	struct client_sub *v = NULL;
	PGresult *res = NULL;
	size_t k = 0;
	int rc, rows;

	*out = NULL;
	*n = 0;
	if (!store_valid_id(client_id) || after == NULL ||
	    strnlen(after, STORE_ID_MAX + 1) > STORE_ID_MAX || max == 0 ||
	    max > STORE_CLIENT_LIST_MAX) {
		seterr(s, "client_list: invalid arguments");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	/* COLLATE "C": ids compare as bytes, as on SQLite. */
	if ((rc = q_read(s, &res, "client_list",
			 "SELECT " REP_COLS ", sid, scid, ssha, smeta, screated"
			 " FROM (SELECT id AS sid, client_id AS scid,"
			 " sha256 AS ssha, metadata AS smeta,"
			 " created AS screated FROM submissions"
			 " WHERE client_id = $1 AND id > $2 COLLATE \"C\""
			 " ORDER BY id COLLATE \"C\" LIMIT $3) x"
			 " JOIN samples ON samples.sha256 = x.ssha"
			 " ORDER BY sid COLLATE \"C\"",
			 3, p)) != 0)
		return rc;
	if ((rc = want_cols(s, res, REP_NCOLS + 5, "client_list")) != 0)
		goto out;
	rows = PQntuples(res);
	if ((size_t)rows > max) {
		rc = corrupt(s, res, 0, "has more rows than asked for");
		goto out;
	}
	v = xcalloc(rows ? (size_t)rows : 1, sizeof(*v));
	for (int i = 0; i < rows; i++) {
		struct submission *sub = &v[k].sub;
		int c = REP_NCOLS;

		if ((rc = read_reputation(s, res, i, &v[k].rep)) != 0)
			goto out;
		k++;
		if ((rc = col_str(s, res, i, c, 1, STORE_ID_MAX, sub->id)) !=
			    0 ||
		    (rc = col_str(s, res, i, c + 1, 1, STORE_ID_MAX,
				  sub->client_id)) != 0 ||
		    (rc = col_hex(s, res, i, c + 2, 64, sub->sha256)) != 0 ||
		    (rc = col_dup(s, res, i, c + 3, false, &sub->metadata)) !=
			    0 ||
		    (rc = col_i64(s, res, i, c + 4, INT64_MIN, INT64_MAX,
				  &sub->created)) != 0)
			goto out;
	}
out:
	PQclear(res);
	if (rc != 0) {
		client_subs_free(v, k);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

/* False positives and retractions */

static int
op_fp_report_add(struct store *base, const char *sha256, const char *client_id,
		 const char *reason, int64_t when)
{
	struct store_pg *s = to_pg(base);
	struct num t;
	const char *p[4];
	int rc;

	if (!store_valid_hash(sha256, 64) || !store_valid_id(client_id) ||
	    !store_valid_reason(reason)) {
		seterr(s, "fp_report_add: invalid report");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	p[0] = sha256;
	p[1] = client_id;
	p[2] = reason;
	p[3] = i64(&t, when ? when : now());
	/* A second report of the client is a PRIMARY KEY violation
	 * (VG_EINVAL); an unknown sample or client a foreign key one
	 * (VG_ENOENT). */
	return q(s, NULL, "fp_report_add",
		 "INSERT INTO fp_reports (sha256, client_id, reason, created,"
		 " state) VALUES ($1, $2, $3, $4, 0)",
		 4, p);
}

static int
op_fp_open_count(struct store *base, const char *sha256, uint64_t *n)
{
	struct store_pg *s = to_pg(base);

	*n = 0;
	if (!store_valid_hash(sha256, 64)) {
		seterr(s, "fp_open_count: not a SHA-256");
		return VG_EINVAL;
	}
	return count_of(s, "fp_open_count",
			"SELECT count(*) FROM fp_reports"
			" WHERE state = 0 AND sha256 = $1",
			1, &sha256, n);
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
	struct store_pg *s = to_pg(base);
	struct fp_summary *v = NULL, *cur = NULL;
	PGresult *res = NULL;
	size_t nv = 0, cap = 0;
	char sha[65], *reason;
	int64_t when;
	int rc, rows;

	*out = NULL;
	*n = 0;
	/* One statement, one snapshot: the rows of a sample come
	 * together. */
	if ((rc = ready(s)) != 0 ||
	    (rc = q_read(s, &res, "fp_list",
			 "SELECT sha256, reason, created FROM fp_reports"
			 " WHERE state = 0 ORDER BY sha256, created",
			 0, NULL)) != 0)
		return rc;
	if ((rc = want_cols(s, res, 3, "fp_list")) != 0)
		goto fail;
	rows = PQntuples(res);
	for (int i = 0; i < rows; i++) {
		if ((rc = col_hex(s, res, i, 0, 64, sha)) != 0 ||
		    (rc = col_i64(s, res, i, 2, 0, INT64_MAX, &when)) != 0)
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
		if ((rc = col_dup(s, res, i, 1, false, &reason)) != 0)
			goto fail;
		if (strlen(reason) > STORE_FP_REASON_MAX) {
			free(reason);
			rc = corrupt(s, res, 1, "is longer than a reason");
			goto fail;
		}
		cur->reasons = xreallocarray(cur->reasons, cur->reporters + 1,
					     sizeof(char *));
		cur->reasons[cur->reporters++] = reason;
		cur->last = when;
	}
	PQclear(res);
	if (nv > 1)
		qsort(v, nv, sizeof(*v), cmp_first);
	*out = v;
	*n = nv;
	return 0;
fail:
	PQclear(res);
	fp_summaries_free(v, nv);
	return rc;
}

static int
op_fp_reject(struct store *base, const char *sha256, const char *reason,
	     int64_t when, uint64_t *n)
{
	struct store_pg *s = to_pg(base);
	struct num state, t;
	PGresult *res = NULL;
	const char *p[4];
	int rc;

	*n = 0;
	if (!store_valid_hash(sha256, 64) || !store_valid_reason(reason)) {
		seterr(s, "fp_reject: invalid argument");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	p[0] = sha256;
	p[1] = i64(&state, FP_REJECTED);
	p[2] = i64(&t, when ? when : now());
	p[3] = reason;
	if ((rc = q(s, &res, "fp_reject", SQL_FP_DECIDE, 4, p)) != 0)
		return rc;
	*n = changes(res);
	PQclear(res);
	if (*n == 0) {
		seterr(s, "fp_reject: no open report");
		rc = VG_ENOENT;
	}
	return rc;
}

static int
op_retraction_add(struct store *base, const struct retraction *r,
		  uint64_t *accepted)
{
	struct store_pg *s = to_pg(base);
	struct num idx, created, decided;
	PGresult *res = NULL;
	const char *p[6];
	int64_t n = 0;
	int rc;

	*accepted = 0;
	if (r == NULL || !store_valid_hash(r->sha256, 64) ||
	    r->log_index > INT64_MAX || r->detections == NULL ||
	    !store_valid_reason(r->reason)) {
		seterr(s, "retraction_add: invalid retraction");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	p[0] = i64(&idx, (int64_t)r->log_index);
	p[1] = r->sha256;
	p[2] = r->detections;
	p[3] = r->reason;
	p[4] = i64(&created, r->created ? r->created : now());
	p[5] = i64(&decided, r->created ? r->created : now());
	/* A transaction: with no open report, nothing is stored. */
	if ((rc = tx_begin(s)) != 0)
		return rc;
	if ((rc = q(s, &res, "retraction_add", SQL_RETR_ADD, 6, p)) != 0)
		goto out;
	if (PQntuples(res) != 1 ||
	    (rc = col_i64(s, res, 0, 0, 0, INT64_MAX, &n)) != 0) {
		rc = rc != 0 ? rc : corrupt(s, res, 0, "is not a count");
		goto out;
	}
	if (n == 0) {
		seterr(s, "retraction_add: no open report");
		rc = VG_ENOENT;
		goto out;
	}
	if ((rc = tx_commit(s)) == 0)
		*accepted = (uint64_t)n;
out:
	PQclear(res);
	if (rc != 0)
		tx_rollback(s);
	return rc;
}

static int
op_retraction_undo(struct store *base, const char *sha256, uint64_t undo_index)
{
	struct store_pg *s = to_pg(base);
	PGresult *res = NULL;
	struct num idx;
	const char *p[2];
	int rc;

	if (!store_valid_hash(sha256, 64) || undo_index > INT64_MAX) {
		seterr(s, "retraction_undo: invalid argument");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	p[0] = sha256;
	p[1] = i64(&idx, (int64_t)undo_index);
	if ((rc = q(s, &res, "retraction_undo", SQL_RETR_UNDO, 2, p)) != 0)
		return rc;
	if (PQntuples(res) == 0) {
		seterr(s, "retraction_undo: none in force");
		rc = VG_ENOENT;
	}
	PQclear(res);
	return rc;
}

static int
op_retraction_get(struct store *base, const char *sha256,
		  struct retraction *out)
{
	struct store_pg *s = to_pg(base);
	PGresult *res = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = lookup_sha256(s, &res, "retraction_get",
			   "SELECT " RETR_COLS " FROM retractions"
			   " WHERE sha256 = $1 AND undone IS NULL",
			   sha256);
	if (rc == 0)
		rc = read_retraction(s, res, 0, out);
	PQclear(res);
	return rc;
}

struct each_retr {
	int (*fn)(const struct retraction *r, void *ud);
	void *ud;
};

static int
retr_row(struct store_pg *s, const PGresult *res, int i, void *ud)
{
	struct each_retr *e = ud;
	struct retraction r;
	int rc;

	if ((rc = read_retraction(s, res, i, &r)) != 0)
		return rc;
	rc = e->fn(&r, e->ud);
	retraction_clear(&r);
	return rc;
}

static int
op_retraction_each(struct store *base,
		   int (*fn)(const struct retraction *r, void *ud), void *ud)
{
	struct each_retr e = {fn, ud};

	if (fn == NULL)
		return VG_EINVAL;
	return each_row(to_pg(base), "retraction_each",
			"SELECT " RETR_COLS " FROM retractions"
			" WHERE undone IS NULL",
			retr_row, &e);
}

/* Operators */

/* Reads the columns of OP_COLS of row row. */
static int
read_operator(struct store_pg *s, const PGresult *res, int row,
	      struct store_operator *out)
{
	uint8_t *hash = NULL;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = want_cols(s, res, 4, "operator")) != 0 ||
	    (rc = col_str(s, res, row, 0, 1, STORE_OPERATOR_NAME_MAX,
			  out->name)) != 0)
		goto out;
	if (!store_valid_operator_name(out->name)) {
		rc = corrupt(s, res, 0, "is not an operator's name");
		goto out;
	}
	if ((rc = pg_get_bytea(res, row, 1, 32, &hash, &len)) != 0 ||
	    len != 32) {
		rc = rc == VG_ENOMEM ? rc
				     : corrupt(s, res, 1, "is not 32 bytes");
		goto out;
	}
	memcpy(out->token_hash, hash, 32);
	if ((rc = col_i64(s, res, row, 2, 0, INT64_MAX, &out->created)) != 0)
		goto out;
	if (!PQgetisnull(res, row, 3))
		rc = col_i64(s, res, row, 3, 1, INT64_MAX, &out->revoked);
out:
	free(hash);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

static int
op_operator_add(struct store *base, const struct store_operator *op)
{
	struct store_pg *s = to_pg(base);
	struct num created;
	const char *p[3];
	char hex[65];
	int rc;

	if (op == NULL || !store_valid_operator_name(op->name) ||
	    op->created < 0) {
		seterr(s, "operator_add: invalid operator");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	hex_encode(op->token_hash, 32, hex);
	p[0] = op->name;
	p[1] = hex;
	p[2] = i64(&created, op->created ? op->created : now());
	/* A name or token hash taken is a unique violation, VG_EINVAL. */
	rc = q(s, NULL, "operator_add",
	       "INSERT INTO operators (name, token_hash, created)"
	       " VALUES ($1, decode($2, 'hex'), $3)",
	       3, p);
	return rc;
}

/* Runs the read sql with its one parameter p0, for one operator row into
 * *out; VG_ENOENT for none. */
static int
operator_one(struct store_pg *s, const char *what, const char *sql,
	     const char *p0, struct store_operator *out)
{
	PGresult *res = NULL;
	const char *p[1] = {p0};
	int rc;

	if ((rc = ready(s)) != 0)
		return rc;
	if ((rc = q_read(s, &res, what, sql, 1, p)) != 0)
		return rc;
	if (PQntuples(res) == 0)
		rc = VG_ENOENT;
	else
		rc = read_operator(s, res, 0, out);
	PQclear(res);
	return rc;
}

static int
op_operator_get(struct store *base, const char *name,
		struct store_operator *out)
{
	struct store_pg *s = to_pg(base);

	memset(out, 0, sizeof(*out));
	if (!store_valid_operator_name(name)) {
		seterr(s, "operator_get: invalid name");
		return VG_EINVAL;
	}
	return operator_one(s, "operator_get",
			    "SELECT " OP_COLS " FROM operators WHERE name = $1",
			    name, out);
}

static int
op_operator_by_token_hash(struct store *base, const uint8_t hash[32],
			  struct store_operator *out)
{
	struct store_pg *s = to_pg(base);
	char hex[65];

	memset(out, 0, sizeof(*out));
	if (hash == NULL)
		return VG_EINVAL;
	hex_encode(hash, 32, hex);
	return operator_one(s, "operator_by_token_hash",
			    "SELECT " OP_COLS " FROM operators"
			    " WHERE token_hash = decode($1, 'hex')"
			    " AND revoked IS NULL",
			    hex, out);
}

static int
op_operator_revoke(struct store *base, const char *name, int64_t when)
{
	struct store_pg *s = to_pg(base);
	PGresult *res = NULL;
	struct num t;
	const char *p[2];
	int rc;

	if (!store_valid_operator_name(name) || when < 0) {
		seterr(s, "operator_revoke: invalid argument");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	p[0] = name;
	p[1] = i64(&t, when != 0 ? when : now());
	if ((rc = q(s, &res, "operator_revoke",
		    "UPDATE operators SET revoked = $2"
		    " WHERE name = $1 AND revoked IS NULL",
		    2, p)) != 0)
		return rc;
	if (changes(res) == 0) {
		seterr(s, "operator_revoke: no such operator in force");
		rc = VG_ENOENT;
	}
	PQclear(res);
	return rc;
}

static int
op_operator_list(struct store *base, struct store_operator **out, size_t *n)
{
	struct store_pg *s = to_pg(base);
	struct store_operator *v = NULL;
	PGresult *res = NULL;
	int rc, rows;

	*out = NULL;
	*n = 0;
	if ((rc = ready(s)) != 0)
		return rc;
	if ((rc = q_read(s, &res, "operator_list",
			 "SELECT " OP_COLS " FROM operators"
			 " ORDER BY created, name",
			 0, NULL)) != 0)
		return rc;
	rows = PQntuples(res);
	if (rows > 0)
		v = xcalloc((size_t)rows, sizeof(*v));
	for (int i = 0; i < rows && rc == 0; i++)
		rc = read_operator(s, res, i, &v[i]);
	PQclear(res);
	if (rc != 0) {
		free(v);
		return rc;
	}
	*out = v;
	*n = (size_t)rows;
	return 0;
}

/* Statistics (docs/STATS.md) */

/* As store_sqlite.c's: the first per_client ($3) submissions of each
 * client in [$1, $2), with their sample's detections and type. */
#define SQL_STATS_ROWS                                                         \
	"SELECT client_id, sha256, detections, mime FROM ("                    \
	" SELECT s.client_id, s.sha256, p.detections, p.mime,"                 \
	" row_number() OVER (PARTITION BY s.client_id"                         \
	" ORDER BY s.created, s.id) AS r"                                      \
	" FROM submissions s JOIN samples p ON p.sha256 = s.sha256"            \
	" WHERE s.created >= $1::bigint AND s.created < $2::bigint) t"         \
	" WHERE r <= $3::bigint ORDER BY client_id"
#define STATS_COLS "day, doc, created, log_index"

/* One statement, one snapshot; its rows (at most per_client for each
 * client of the day) are held by libpq while fn runs, so that fn may use
 * the store. */
static int
op_stats_rows_each(struct store *base, int64_t from, int64_t to,
		   unsigned per_client,
		   int (*fn)(const struct stats_row *r, void *ud), void *ud)
{
	struct store_pg *s = to_pg(base);
	PGresult *res = NULL;
	struct num a, b, c;
	struct stats_row r;
	char client[STORE_ID_MAX + 1], sha256[65];
	const char *p[3], *det;
	size_t n;
	int rc;

	if (fn == NULL || from >= to || per_client == 0) {
		seterr(s, "stats_rows_each: invalid argument");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	p[0] = i64(&a, from);
	p[1] = i64(&b, to);
	p[2] = i64(&c, (int64_t)per_client);
	if ((rc = q_read(s, &res, "stats_rows_each", SQL_STATS_ROWS, 3, p)) !=
	    0)
		return rc;
	if ((rc = want_cols(s, res, 4, "stats_rows_each")) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		if ((rc = col_str(s, res, i, 0, 1, STORE_ID_MAX, client)) !=
			    0 ||
		    (rc = col_hex(s, res, i, 1, 64, sha256)) != 0 ||
		    (rc = col_text(s, res, i, 2, &det, &n)) != 0)
			break;
		r.client_id = client;
		r.sha256 = sha256;
		r.detections = det;
		r.mime = PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3);
		rc = fn(&r, ud);
	}
out:
	PQclear(res);
	return rc;
}

/* Reads row i of a STATS_COLS reply into *out. */
static int
read_stats(struct store_pg *s, const PGresult *res, int i,
	   struct stats_day *out)
{
	int64_t idx;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = want_cols(s, res, 4, "stats")) != 0 ||
	    (rc = col_str(s, res, i, 0, 10, 10, out->day)) != 0)
		goto fail;
	if (!store_valid_day(out->day)) {
		rc = corrupt(s, res, 0, "is not a day");
		goto fail;
	}
	if ((rc = col_dup(s, res, i, 1, false, &out->doc)) != 0)
		goto fail;
	out->len = strlen(out->doc);
	if (out->len < 1 || out->len > STORE_STATS_DOC_MAX) {
		rc = corrupt(s, res, 1, "has a length out of range");
		goto fail;
	}
	if ((rc = col_i64(s, res, i, 2, 0, INT64_MAX, &out->created)) != 0)
		goto fail;
	if (!PQgetisnull(res, i, 3)) {
		if ((rc = col_i64(s, res, i, 3, 0, INT64_MAX, &idx)) != 0)
			goto fail;
		out->logged = true;
		out->log_index = (uint64_t)idx;
	}
	return 0;
fail:
	stats_day_clear(out);
	return rc;
}

static int
op_stats_get(struct store *base, const char *day, struct stats_day *out)
{
	struct store_pg *s = to_pg(base);
	PGresult *res = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!store_valid_day(day)) {
		seterr(s, "stats_get: not a day");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	if ((rc = q_read(s, &res, "stats_get",
			 "SELECT " STATS_COLS " FROM stats WHERE day = $1", 1,
			 &day)) != 0)
		return rc;
	if (PQntuples(res) == 0) {
		seterr(s, "stats_get: no document for %s", day);
		rc = VG_ENOENT;
	} else {
		rc = read_stats(s, res, 0, out);
	}
	PQclear(res);
	return rc;
}

/* Two statements, not one: a row another node inserted while this one's
 * INSERT waited on it is seen only by a later statement's snapshot. */
static int
op_stats_put(struct store *base, const struct stats_day *d,
	     struct stats_day *out, bool *stored)
{
	struct store_pg *s = to_pg(base);
	PGresult *res = NULL;
	struct num created;
	const char *p[3];
	int rc;

	memset(out, 0, sizeof(*out));
	*stored = false;
	if (!store_valid_stats(d)) {
		seterr(s, "stats_put: invalid document");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	p[0] = d->day;
	p[1] = d->doc;
	p[2] = i64(&created, d->created ? d->created : now());
	if ((rc = q(s, &res, "stats_put",
		    "INSERT INTO stats (day, doc, created)"
		    " VALUES ($1, $2, $3::bigint) ON CONFLICT (day) DO NOTHING"
		    " RETURNING " STATS_COLS,
		    3, p)) != 0)
		return rc;
	if (PQntuples(res) == 1) {
		*stored = true;
		rc = read_stats(s, res, 0, out);
		PQclear(res);
		return rc;
	}
	PQclear(res);
	return op_stats_get(base, d->day, out);
}

static int
op_stats_log(struct store *base, const char *day, uint64_t index)
{
	struct store_pg *s = to_pg(base);
	PGresult *res = NULL;
	struct num idx;
	const char *p[2];
	int rc;

	if (!store_valid_day(day) || index > INT64_MAX) {
		seterr(s, "stats_log: invalid argument");
		return VG_EINVAL;
	}
	if ((rc = ready(s)) != 0)
		return rc;
	p[0] = day;
	p[1] = i64(&idx, (int64_t)index);
	/* The row either way; its log_index is the first recorded. */
	if ((rc = q(s, &res, "stats_log",
		    "UPDATE stats SET log_index = coalesce(log_index,"
		    " $2::bigint) WHERE day = $1 RETURNING day",
		    2, p)) != 0)
		return rc;
	if (PQntuples(res) == 0) {
		seterr(s, "stats_log: no document for %s", day);
		rc = VG_ENOENT;
	}
	PQclear(res);
	return rc;
}

static const struct store_ops pg_ops = {
	.name = "postgres",
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
	.sample_locate_many = op_sample_locate_many,
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

int
store_pg_open(const char *dsn, const char *owner, unsigned job_lease_ms,
	      struct store **out, char *err, size_t errlen)
{
	struct store_pg *s = NULL;
	char app[64];
	size_t on;
	int rc;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (dsn == NULL || *dsn == '\0' ||
	    strnlen(dsn, PG_DSN_MAX + 1) > PG_DSN_MAX)
		return vg_fail(err, errlen, VG_EINVAL, "no usable DSN");
	/* Printable ASCII: it is shown in leases, logs and the server's
	 * application_name. */
	on = owner != NULL ? strnlen(owner, 64) : 0;
	for (size_t i = 0; i < on; i++) {
		if (owner[i] <= ' ' || owner[i] > '~')
			on = 0;
	}
	if (on < 1 || on > 63)
		return vg_fail(err, errlen, VG_EINVAL,
			       "a lease owner is 1 to 63 printable ASCII"
			       " characters");
	s = xcalloc(1, sizeof(*s));
	s->base.ops = &pg_ops;
	memcpy(s->owner, owner, on);
	snprintf(s->lease, sizeof(s->lease), "%u",
		 job_lease_ms ? job_lease_ms : LEASE_DEFAULT_MS);
	snprintf(app, sizeof(app), "vigil store %s", owner);
	if ((rc = pg_open(&s->pg, dsn, app, err, errlen)) != 0)
		goto fail;
	if ((rc = pg_migrate(&s->pg, "store", steps,
			     sizeof(steps) / sizeof(steps[0]), err, errlen)) !=
	    0)
		goto fail;
	if ((rc = session_setup(s)) != 0) {
		vg_seterr(err, errlen, "%s", s->base.err);
		goto fail;
	}
	*out = &s->base;
	return 0;
fail:
	op_close(&s->base);
	return rc;
}
