/*
 * test_store.c - the metadata store against a real database: clients,
 * submissions and prevalence, the job queue and its crash recovery,
 * concurrent handles and processes, and rows that make no sense.
 *
 * Without VIGIL_TEST_PG_DSN, every test runs on SQLite, on a file in a
 * fresh temporary directory (file mode and WAL, migrations from older
 * files). With it (tests/pg/pg-run sets it), the same tests run on that
 * PostgreSQL database, emptied before each test, followed by the tests
 * of what only PostgreSQL does: job leases between nodes, change
 * notifications, a lost session, a failover to the synchronous standby
 * (last: it puts the cluster back after). A DSN that cannot be reached
 * fails the run. Tests of SQLite's file format are skipped on
 * PostgreSQL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <poll.h>
#include <sqlite3.h>
#include <time.h>

#include "common/err.h"
#include "store/store.h"

struct fx {
	char dir[64];
	char path[128];
	struct store *st;
};

/* Every test runs twice on SQLite: on a plain handle, then on a writer's
 * handle (store_sqlite_open_writer, whose WAL writes are gathered). */
static bool writer;
/* VIGIL_TEST_PG_DSN: the tests run on this PostgreSQL database. */
static const char *pg_dsn;
/* The node name the PostgreSQL handles lease jobs under. */
#define OWNER "node-a"

/* A test of SQLite's file format, meaningless on PostgreSQL. */
#define SQLITE_ONLY()                                                          \
	do {                                                                   \
		if (pg_dsn != NULL)                                            \
			skip();                                                \
	} while (0)

/* A connection of the test's own to the PostgreSQL database. */
static PGconn *
raw_pg(void)
{
	PGconn *c = PQconnectdb(pg_dsn);

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("%s: %s", pg_dsn, PQerrorMessage(c));
	return c;
}

static void
pg_run(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

/* Empties the database: the store migrates it again at open. */
static void
pg_reset(void)
{
	PGconn *c = raw_pg();

	pg_run(c, "SET client_min_messages = warning;"
		  "DROP SCHEMA IF EXISTS public CASCADE;"
		  "CREATE SCHEMA public");
	PQfinish(c);
}

/* Opens the store of the run: the file at path on SQLite, the database
 * on PostgreSQL (path unused). */
static int
test_open(const char *path, struct store **st, char *err, size_t errlen)
{
	if (pg_dsn != NULL)
		return store_pg_open(pg_dsn, OWNER, 0, st, err, errlen);
	return store_sqlite_open(path, st, err, errlen);
}

static int
test_open_writer(const char *path, struct store **st, char *err, size_t errlen)
{
	if (pg_dsn != NULL)
		return store_pg_open(pg_dsn, OWNER, 0, st, err, errlen);
	return store_sqlite_open_writer(path, st, err, errlen);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-test-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/meta.db", f->dir);
	if (pg_dsn != NULL)
		pg_reset();
	if ((writer ? test_open_writer(f->path, &f->st, err, sizeof(err))
		    : test_open(f->path, &f->st, err, sizeof(err))) != 0) {
		fprintf(stderr, "store open: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	struct dirent *de;
	char p[512];
	DIR *d;

	if (f->st != NULL)
		f->st->ops->close(f->st);
	if ((d = opendir(f->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct store *
reopen(struct fx *f)
{
	struct store *st = NULL;
	char err[256];

	assert_int_equal(test_open(f->path, &st, err, sizeof(err)), 0);
	return st;
}

/* SQLite's spelling of a query in PostgreSQL's. */
static const char *
pg_dialect(const char *sql, char *buf, size_t n)
{
	const char *g = strstr(sql, "group_concat(");

	if (g == NULL)
		return sql;
	snprintf(buf, n, "%.*sstring_agg(%s", (int)(g - sql), sql,
		 g + strlen("group_concat("));
	return buf;
}

/* Runs SQL on the database through a connection of its own, as another
 * tool would: foreign keys off, and CHECKs ignored (on PostgreSQL,
 * dropped) so that nonsense can be written. */
static void
raw_exec(const char *path, const char *sql)
{
	static const char ignore[] = "PRAGMA ignore_check_constraints = ON;";
	sqlite3 *db = NULL;
	char *msg = NULL;

	if (pg_dsn != NULL) {
		PGconn *c = raw_pg();

		if (strncmp(sql, ignore, strlen(ignore)) == 0) {
			sql += strlen(ignore);
			pg_run(c, "DO $$DECLARE r record; BEGIN"
				  " FOR r IN SELECT conrelid::regclass AS t,"
				  " conname FROM pg_constraint"
				  " WHERE contype = 'c'"
				  " AND connamespace = 'public'::regnamespace"
				  " LOOP EXECUTE format('ALTER TABLE %s"
				  " DROP CONSTRAINT %I', r.t, r.conname);"
				  " END LOOP; END$$");
		}
		pg_run(c, "SET session_replication_role = replica");
		pg_run(c, sql);
		PQfinish(c);
		return;
	}
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("raw_exec: %s: %s", sql, msg);
	sqlite3_close(db);
}

static void
raw_text(const char *path, const char *sql, char *out, size_t n)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	if (pg_dsn != NULL) {
		PGconn *c;
		PGresult *r;
		char buf[512];

		/* The server checks its own pages. */
		if (strcmp(sql, "PRAGMA integrity_check") == 0) {
			snprintf(out, n, "ok");
			return;
		}
		c = raw_pg();
		r = PQexec(c, pg_dialect(sql, buf, sizeof(buf)));
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
			fail_msg("%s: %s", sql, PQerrorMessage(c));
		snprintf(out, n, "%s", PQgetvalue(r, 0, 0));
		PQclear(r);
		PQfinish(c);
		return;
	}
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* The number of rows a query answers, through a connection of its own. */
static int
raw_rows(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc, n = 0;

	if (pg_dsn != NULL) {
		PGconn *c = raw_pg();
		PGresult *r = PQexec(c, sql);

		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			fail_msg("%s: %s", sql, PQerrorMessage(c));
		n = PQntuples(r);
		PQclear(r);
		PQfinish(c);
		return n;
	}
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		n++;
	assert_int_equal(rc, SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

struct hashes {
	char md5[33], sha1[41], sha256[65];
};

/* Distinct, well-formed fake digests: sample k's hashes are k in two hex
 * digits, then a filler that differs by kind. */
static struct hashes
sample(int k)
{
	struct hashes h;

	snprintf(h.md5, sizeof(h.md5), "%02x%030d", k, 0);
	snprintf(h.sha1, sizeof(h.sha1), "%02x%038d", k, 1);
	snprintf(h.sha256, sizeof(h.sha256), "%02x%062d", k, 2);
	return h;
}

static void
client_id(char out[37], int n)
{
	snprintf(out, 37, "00000000-0000-4000-8000-%012d", n);
}

static void
put_client(struct store *st, int n)
{
	struct client c;

	memset(&c, 0, sizeof(c));
	client_id(c.id, n);
	memset(c.token_hash, n, sizeof(c.token_hash));
	c.consent = CONSENT_FILES;
	snprintf(c.region, sizeof(c.region), "eu-west");
	c.created = 1700000000;
	assert_int_equal(st->ops->client_put(st, &c), 0);
}

/* Client n reports sample k as submission subn at time t, with the
 * sample's bytes at loc (NULL: not stored by this submission). */
static int
submit_loc(struct store *st, int subn, int n, int k, int64_t t,
	   const struct sample_loc *loc, bool *new_job)
{
	struct submission sub;
	struct hashes h = sample(k);

	memset(&sub, 0, sizeof(sub));
	snprintf(sub.id, sizeof(sub.id), "11111111-0000-4000-8000-%012d", subn);
	client_id(sub.client_id, n);
	memcpy(sub.sha256, h.sha256, sizeof(sub.sha256));
	sub.metadata = "{\"path\":\"C:\\\\x.exe\"}";
	sub.created = t;
	return st->ops->submission_add(st, &sub, h.md5, h.sha1, 68, loc,
				       new_job);
}

/* Client n reports sample k as submission subn at time t. */
static int
submit_at(struct store *st, int subn, int n, int k, int64_t t, bool *new_job)
{
	return submit_loc(st, subn, n, k, t, NULL, new_job);
}

static int
submit(struct store *st, int subn, int n, int k, bool *new_job)
{
	return submit_at(st, subn, n, k, 1700000100, new_job);
}

/* Client 1, reporting sample k as submission 1. */
static void
one_sample(struct store *st, int k)
{
	put_client(st, 1);
	assert_int_equal(submit(st, 1, 1, k, NULL), 0);
}

/* one_sample(), with the sample's job claimed into *j. */
static void
one_claimed(struct store *st, int k, struct job *j)
{
	one_sample(st, k);
	assert_int_equal(st->ops->job_claim(st, j), 0);
}

static void
test_open_creates_file_0600_in_wal_mode(void **state)
{
	struct fx *f = *state;
	struct stat sb;
	char mode[16], wal[160];
	bool nj;

	SQLITE_ONLY();

	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	raw_text(f->path, "PRAGMA journal_mode", mode, sizeof(mode));
	assert_string_equal(mode, "wal");
	raw_text(f->path, "PRAGMA user_version", mode, sizeof(mode));
	assert_string_equal(mode, "10");
	/* The WAL holds the same data and must be as private. */
	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 1, &nj), 0);
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
}

/* The WAL is checkpointed every 10,000 pages, not SQLite's 1,000: after
 * about 3,000 frames of single commits the WAL file holds them all (with
 * the default it would have been reused from its start at 1,000). */
static void
test_wal_checkpoints_every_10000_pages(void **state)
{
	struct fx *f = *state;
	struct stat sb;
	char wal[160];
	bool nj;

	SQLITE_ONLY();

	put_client(f->st, 1);
	for (unsigned i = 1; i <= 600; i++) {
		struct submission sub;
		struct hashes h;

		snprintf(h.md5, sizeof(h.md5), "%08x%024d", i, 0);
		snprintf(h.sha1, sizeof(h.sha1), "%08x%032d", i, 1);
		snprintf(h.sha256, sizeof(h.sha256), "%08x%056d", i, 2);
		memset(&sub, 0, sizeof(sub));
		snprintf(sub.id, sizeof(sub.id),
			 "22222222-0000-4000-8000-%012u", i);
		client_id(sub.client_id, 1);
		memcpy(sub.sha256, h.sha256, sizeof(sub.sha256));
		sub.metadata = "{}";
		sub.created = 1700000000;
		assert_int_equal(f->st->ops->submission_add(f->st, &sub, h.md5,
							    h.sha1, 68, NULL,
							    &nj),
				 0);
	}
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(stat(wal, &sb), 0);
	/* 32-byte header, then 24 + 4,096 bytes a frame. */
	assert_true(sb.st_size > 32 + 1500 * (24 + 4096));
	assert_true(sb.st_size < 32 + 10050 * (24 + 4096));
}

static void
test_reopen_keeps_rows_and_schema(void **state)
{
	struct fx *f = *state;
	struct reputation r;
	bool nj;

	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 1, &nj), 0);
	assert_int_equal(f->st->ops->close(f->st), 0);
	f->st = reopen(f);
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(1).sha256, &r), 0);
	assert_int_equal(r.prevalence, 1);
	reputation_clear(&r);
}

static void
test_client_put_then_get_by_token_hash(void **state)
{
	struct fx *f = *state;
	struct client c;
	uint8_t tok[32];
	char id[37];

	put_client(f->st, 7);
	memset(tok, 7, sizeof(tok));
	assert_int_equal(f->st->ops->client_by_token_hash(f->st, tok, &c), 0);
	client_id(id, 7);
	assert_string_equal(c.id, id);
	assert_memory_equal(c.token_hash, tok, 32);
	assert_int_equal(c.consent, CONSENT_FILES);
	assert_string_equal(c.region, "eu-west");
	assert_int_equal(c.created, 1700000000);
	client_clear(&c);
}

static void
test_unknown_token_hash_is_enoent(void **state)
{
	struct fx *f = *state;
	struct client c;
	uint8_t tok[32];

	put_client(f->st, 7);
	memset(tok, 8, sizeof(tok));
	assert_int_equal(f->st->ops->client_by_token_hash(f->st, tok, &c),
			 VG_ENOENT);
}

static void
test_token_hash_of_another_client_is_refused(void **state)
{
	struct fx *f = *state;
	struct client c;

	put_client(f->st, 7);
	memset(&c, 0, sizeof(c));
	client_id(c.id, 8);
	memset(c.token_hash, 7, sizeof(c.token_hash));
	assert_int_equal(f->st->ops->client_put(f->st, &c), VG_EINVAL);
}

static void
test_same_sample_from_three_clients_is_one_job_prevalence_3(void **state)
{
	struct fx *f = *state;
	struct reputation r;
	struct job j;
	bool nj;

	for (int n = 1; n <= 3; n++)
		put_client(f->st, n);
	assert_int_equal(submit(f->st, 1, 1, 5, &nj), 0);
	assert_true(nj);
	assert_int_equal(submit(f->st, 2, 2, 5, &nj), 0);
	assert_false(nj);
	assert_int_equal(submit(f->st, 3, 3, 5, &nj), 0);
	assert_false(nj);

	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(5).sha256, &r), 0);
	assert_int_equal(r.prevalence, 3);
	assert_string_equal(r.verdict, "unknown");
	assert_int_equal(r.analysed_at, 0);
	reputation_clear(&r);

	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_string_equal(j.sha256, sample(5).sha256);
	job_clear(&j);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), VG_ENOENT);
}

static void
test_same_client_twice_counts_once(void **state)
{
	struct fx *f = *state;
	struct reputation r;
	bool nj;

	put_client(f->st, 1);
	assert_int_equal(submit_at(f->st, 1, 1, 5, 1000, &nj), 0);
	assert_int_equal(submit_at(f->st, 2, 1, 5, 2000, &nj), 0);
	assert_false(nj);
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(5).sha256, &r), 0);
	assert_int_equal(r.prevalence, 1);
	assert_int_equal(r.first_seen, 1000);
	assert_int_equal(r.last_seen, 2000);
	reputation_clear(&r);
}

static void
test_out_of_order_report_keeps_first_and_last_seen(void **state)
{
	struct fx *f = *state;
	struct reputation r;

	put_client(f->st, 1);
	assert_int_equal(submit_at(f->st, 1, 1, 5, 2000, NULL), 0);
	assert_int_equal(submit_at(f->st, 2, 1, 5, 1000, NULL), 0);
	assert_int_equal(submit_at(f->st, 3, 1, 5, 1500, NULL), 0);
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(5).sha256, &r), 0);
	assert_int_equal(r.first_seen, 1000);
	assert_int_equal(r.last_seen, 2000);
	reputation_clear(&r);
}

static void
test_submission_get_returns_what_was_added(void **state)
{
	struct fx *f = *state;
	struct submission s;
	char cid[37];

	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 9, 1, 5, NULL), 0);
	assert_int_equal(
		f->st->ops->submission_get(
			f->st, "11111111-0000-4000-8000-000000000009", &s),
		0);
	client_id(cid, 1);
	assert_string_equal(s.client_id, cid);
	assert_string_equal(s.sha256, sample(5).sha256);
	assert_string_equal(s.metadata, "{\"path\":\"C:\\\\x.exe\"}");
	assert_int_equal(s.created, 1700000100);
	submission_clear(&s);
	assert_int_equal(f->st->ops->submission_get(f->st, "nope", &s),
			 VG_ENOENT);
}

static void
test_duplicate_submission_id_is_refused_and_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct reputation r;

	put_client(f->st, 1);
	put_client(f->st, 2);
	assert_int_equal(submit(f->st, 1, 1, 5, NULL), 0);
	/* Same id, another client: the whole transaction rolls back, so the
	 * second client must not count. */
	assert_int_equal(submit(f->st, 1, 2, 5, NULL), VG_EINVAL);
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(5).sha256, &r), 0);
	assert_int_equal(r.prevalence, 1);
	reputation_clear(&r);
}

static void
test_submission_from_unknown_client_is_enoent(void **state)
{
	struct fx *f = *state;
	struct reputation r;
	struct job j;
	bool nj = true;

	assert_int_equal(submit(f->st, 1, 42, 5, &nj), VG_ENOENT);
	assert_false(nj);
	assert_non_null(strstr(f->st->err, "unknown client"));
	/* Rolled back: no sample, no job. */
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(5).sha256, &r),
		VG_ENOENT);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), VG_ENOENT);
}

static void
test_hashes_disagreeing_with_stored_sample_are_refused(void **state)
{
	struct fx *f = *state;
	struct submission sub;
	struct reputation r;
	struct job j;
	struct hashes h5 = sample(5), h6 = sample(6);
	bool nj = true;

	put_client(f->st, 1);
	put_client(f->st, 2);
	assert_int_equal(submit(f->st, 1, 1, 5, NULL), 0);
	memset(&sub, 0, sizeof(sub));
	snprintf(sub.id, sizeof(sub.id), "sub-2");
	client_id(sub.client_id, 2);
	memcpy(sub.sha256, h5.sha256, sizeof(sub.sha256));
	sub.metadata = "{}";
	sub.created = 1;
	/* Known SHA-256, another MD5. */
	assert_int_equal(f->st->ops->submission_add(f->st, &sub, h6.md5,
						    h5.sha1, 68, NULL, &nj),
			 VG_EINVAL);
	assert_false(nj);
	/* Known SHA-256, another SHA-1. */
	assert_int_equal(f->st->ops->submission_add(f->st, &sub, h5.md5,
						    h6.sha1, 68, NULL, NULL),
			 VG_EINVAL);
	/* Known SHA-256, another size. */
	assert_int_equal(f->st->ops->submission_add(f->st, &sub, h5.md5,
						    h5.sha1, 69, NULL, NULL),
			 VG_EINVAL);
	/* Nothing of the refused submissions stayed: client 2 does not
	 * count, the stored hashes and size are the first ones, and the
	 * submission id is still free. */
	assert_int_equal(f->st->ops->reputation_get(f->st, h5.sha256, &r), 0);
	assert_int_equal(r.prevalence, 1);
	assert_string_equal(r.md5, h5.md5);
	assert_string_equal(r.sha1, h5.sha1);
	assert_int_equal(r.size, 68);
	assert_int_equal(r.first_seen, 1700000100);
	reputation_clear(&r);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_string_equal(j.sha256, h5.sha256);
	job_clear(&j);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), VG_ENOENT);
	assert_int_equal(f->st->ops->submission_add(f->st, &sub, h5.md5,
						    h5.sha1, 68, NULL, NULL),
			 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, h5.sha256, &r), 0);
	assert_int_equal(r.prevalence, 2);
	reputation_clear(&r);
}

/* MD5 and SHA-1 are not keys: a new sample that shares them with a
 * stored one is another sample, with its own row and job. */
static void
test_new_sample_sharing_an_md5_or_sha1_is_accepted(void **state)
{
	struct fx *f = *state;
	struct submission sub;
	struct reputation r;
	struct job j;
	struct hashes h5 = sample(5), h6 = sample(6), h7 = sample(7);
	bool nj = false;

	put_client(f->st, 1);
	put_client(f->st, 2);
	assert_int_equal(submit(f->st, 1, 1, 5, NULL), 0);
	memset(&sub, 0, sizeof(sub));
	snprintf(sub.id, sizeof(sub.id), "sub-6");
	client_id(sub.client_id, 2);
	memcpy(sub.sha256, h6.sha256, sizeof(sub.sha256));
	sub.metadata = "{}";
	sub.created = 1700000200;
	/* Sample 6 claims sample 5's MD5, with a size of its own. */
	assert_int_equal(f->st->ops->submission_add(f->st, &sub, h5.md5,
						    h6.sha1, 99, NULL, &nj),
			 0);
	assert_true(nj);
	/* Sample 7 claims sample 5's SHA-1. */
	nj = false;
	snprintf(sub.id, sizeof(sub.id), "sub-7");
	memcpy(sub.sha256, h7.sha256, sizeof(sub.sha256));
	assert_int_equal(f->st->ops->submission_add(f->st, &sub, h7.md5,
						    h5.sha1, 68, NULL, &nj),
			 0);
	assert_true(nj);

	assert_int_equal(f->st->ops->reputation_get(f->st, h5.sha256, &r), 0);
	assert_string_equal(r.md5, h5.md5);
	assert_string_equal(r.sha1, h5.sha1);
	assert_int_equal(r.size, 68);
	assert_int_equal(r.prevalence, 1);
	reputation_clear(&r);
	assert_int_equal(f->st->ops->reputation_get(f->st, h6.sha256, &r), 0);
	assert_string_equal(r.md5, h5.md5);
	assert_string_equal(r.sha1, h6.sha1);
	assert_int_equal(r.size, 99);
	assert_int_equal(r.prevalence, 1);
	assert_int_equal(r.first_seen, 1700000200);
	reputation_clear(&r);
	assert_int_equal(f->st->ops->reputation_get(f->st, h7.sha256, &r), 0);
	assert_string_equal(r.md5, h7.md5);
	assert_string_equal(r.sha1, h5.sha1);
	reputation_clear(&r);
	/* One job each. */
	for (int k = 5; k <= 7; k++) {
		assert_int_equal(f->st->ops->job_get_by_sha256(
					 f->st, sample(k).sha256, &j),
				 0);
		assert_string_equal(j.sha256, sample(k).sha256);
		assert_int_equal(j.state, JOB_QUEUED);
		job_clear(&j);
	}
	assert_int_equal(raw_rows(f->path, "SELECT 1 FROM samples"), 3);
	assert_int_equal(raw_rows(f->path, "SELECT 1 FROM jobs"), 3);
}

/* Lookups by MD5 or SHA-1 are the node's in-memory index's business:
 * the store answers a SHA-256 only. */
static void
test_reputation_get_takes_only_a_sha256(void **state)
{
	struct fx *f = *state;
	struct reputation r;
	struct hashes h = sample(3);

	one_sample(f->st, 3);
	assert_int_equal(submit(f->st, 2, 1, 4, NULL), 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, h.sha256, &r), 0);
	assert_string_equal(r.sha256, h.sha256);
	assert_string_equal(r.md5, h.md5);
	assert_string_equal(r.sha1, h.sha1);
	assert_int_equal(r.size, 68);
	reputation_clear(&r);
	/* Well-formed digests of a stored sample, but not SHA-256. */
	assert_int_equal(f->st->ops->reputation_get(f->st, h.md5, &r),
			 VG_EINVAL);
	assert_non_null(strstr(f->st->err, "SHA-256"));
	assert_null(r.verdict);
	assert_int_equal(f->st->ops->reputation_get(f->st, h.sha1, &r),
			 VG_EINVAL);
	assert_non_null(strstr(f->st->err, "SHA-256"));
	assert_null(r.verdict);
}

static void
test_malformed_hash_is_einval(void **state)
{
	struct fx *f = *state;
	struct reputation r;
	struct hashes h = sample(3);
	char upper[65], longer[70], shorter[65], odd[66], nothex[65];
	const char *bad[] = {
		"",
		"abc",
		"0123456789abcdef0123456789abcde",   /* 31 */
		"0123456789abcdef0123456789abcdeg",  /* 32, not hex */
		"0123456789abcdef0123456789abcdef0", /* 33 */
		upper,
		longer,
		shorter,
		odd,
		nothex,
	};

	snprintf(upper, sizeof(upper), "%s", h.sha256);
	upper[0] = 'A';
	upper[5] = 'F';
	snprintf(longer, sizeof(longer), "%s00", h.sha256);
	snprintf(shorter, sizeof(shorter), "%.63s", h.sha256);
	snprintf(odd, sizeof(odd), "%.63s ", h.sha256);
	snprintf(nothex, sizeof(nothex), "%s", h.sha256);
	nothex[10] = 'g';
	one_sample(f->st, 3);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(f->st->ops->reputation_get(f->st, bad[i], &r),
				 VG_EINVAL);
	assert_int_equal(f->st->ops->reputation_get(f->st, NULL, &r),
			 VG_EINVAL);
	/* A well-formed but unknown SHA-256 is another answer; an MD5 or
	 * SHA-1 is not one the store takes, known or not. */
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(9).sha256, &r),
		VG_ENOENT);
	assert_int_equal(f->st->ops->reputation_get(f->st, sample(9).md5, &r),
			 VG_EINVAL);
	assert_int_equal(f->st->ops->reputation_get(f->st, sample(9).sha1, &r),
			 VG_EINVAL);
}

static void
test_jobs_queued_counts_waiting_jobs(void **state)
{
	struct fx *f = *state;
	struct job j;
	uint64_t n = 99;

	put_client(f->st, 1);
	assert_int_equal(f->st->ops->jobs_queued(f->st, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(submit(f->st, 1, 1, 2, NULL), 0);
	assert_int_equal(submit(f->st, 2, 1, 3, NULL), 0);
	assert_int_equal(f->st->ops->jobs_queued(f->st, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	job_clear(&j);
	assert_int_equal(f->st->ops->jobs_queued(f->st, &n), 0);
	assert_int_equal(n, 1);
}

static void
test_claim_on_empty_queue_is_enoent(void **state)
{
	struct fx *f = *state;
	struct job j;

	assert_int_equal(f->st->ops->job_claim(f->st, &j), VG_ENOENT);
}

static struct reputation
noted(int k, const char *verdict, int score)
{
	struct reputation r;
	struct hashes h = sample(k);

	memset(&r, 0, sizeof(r));
	memcpy(r.md5, h.md5, sizeof(r.md5));
	memcpy(r.sha1, h.sha1, sizeof(r.sha1));
	memcpy(r.sha256, h.sha256, sizeof(r.sha256));
	r.size = 68;
	r.verdict = (char *)verdict;
	r.score = score;
	r.detections = "[\"Inner\"]";
	r.type = "text/plain";
	r.analysis_ms = 1.5;
	/* Found inside sample 99, analysed by job 99. */
	memcpy(r.derived_from, sample(99).sha256, sizeof(r.derived_from));
	r.derived_job = 99;
	return r;
}

static void
test_note_is_derived_from_its_container_and_job(void **state)
{
	struct fx *f = *state;
	struct reputation r = noted(7, "malicious", 100), got;

	assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, r.sha256, &got), 0);
	assert_string_equal(got.derived_from, sample(99).sha256);
	assert_int_equal(got.derived_job, 99);
	reputation_clear(&got);
	/* Not derived from anything, from no job, or from itself: refused. */
	r = noted(8, "clean", 0);
	r.derived_from[0] = '\0';
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), VG_EINVAL);
	r = noted(8, "clean", 0);
	r.derived_job = 0;
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), VG_EINVAL);
	r = noted(8, "clean", 0);
	memcpy(r.derived_from, r.sha256, sizeof(r.derived_from));
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), VG_EINVAL);
}

/* Whatever the order of the verdicts: a container's worker cannot make a
 * sample analysed on its own better or worse than its own analysis. */
static void
test_derived_never_overwrites_own_whatever_the_verdicts(void **state)
{
	struct fx *f = *state;
	static const char *const pairs[][2] = {
		{"clean", "malicious"},
		{"malicious", "clean"},
		{"suspicious", "clean"},
		{"clean", "suspicious"},
	};

	put_client(f->st, 1);
	for (int i = 0; i < 4; i++) {
		struct reputation r = noted(20 + i, pairs[i][1], 0), got;
		struct job j;

		assert_int_equal(submit(f->st, 20 + i, 1, 20 + i, NULL), 0);
		assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
		assert_int_equal(
			f->st->ops->job_finish(f->st, j.id, "{}", pairs[i][0],
					       0, "[\"Own\"]", NULL, NULL, 1.0),
			0);
		job_clear(&j);
		assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
		r.derived_job = 100; /* a later container, too */
		assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
		assert_int_equal(
			f->st->ops->reputation_get(f->st, r.sha256, &got), 0);
		assert_string_equal(got.verdict, pairs[i][0]);
		assert_string_equal(got.detections, "[\"Own\"]");
		assert_string_equal(got.derived_from, "");
		assert_int_equal(got.derived_job, 0);
		reputation_clear(&got);
	}
}

/* A hash first known only from inside a container, then submitted with
 * its bytes: it gets a job of its own, and its own analysis replaces the
 * derived verdict, whichever is worse. */
static void
test_derived_only_hash_submitted_is_analysed_and_own_replaces_derived(
	void **state)
{
	struct fx *f = *state;
	struct reputation r = noted(30, "malicious", 100), got;
	bool new_job = false;
	struct job j;

	assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
	assert_int_equal(f->st->ops->job_get_by_sha256(f->st, r.sha256, &j),
			 VG_ENOENT);
	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 30, &new_job), 0);
	assert_true(new_job);
	/* Until its own analysis is done, the derived verdict is answered,
	 * and says so. */
	assert_int_equal(f->st->ops->reputation_get(f->st, r.sha256, &got), 0);
	assert_string_equal(got.verdict, "malicious");
	assert_string_equal(got.derived_from, sample(99).sha256);
	reputation_clear(&got);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_string_equal(j.sha256, r.sha256);
	assert_int_equal(f->st->ops->job_finish(f->st, j.id, "{}", "clean", 0,
						"[]", NULL, NULL, 1.0),
			 0);
	job_clear(&j);
	assert_int_equal(f->st->ops->reputation_get(f->st, r.sha256, &got), 0);
	assert_string_equal(got.verdict, "clean");
	assert_string_equal(got.detections, "[]");
	assert_string_equal(got.derived_from, "");
	assert_int_equal(got.derived_job, 0);
	reputation_clear(&got);
}

/* A derived clean verdict whose own analysis fails becomes the
 * sample's own suspicious one; a derived malicious one stays, derived. */
static void
test_failure_of_own_analysis_and_derived_verdicts(void **state)
{
	struct fx *f = *state;
	struct reputation r = noted(31, "clean", 0), got;

	r.detections = "[]";
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
	assert_int_equal(f->st->ops->reputation_fail(f->st, r.sha256,
						     "Analysis.Failed", 1.0),
			 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, r.sha256, &got), 0);
	assert_string_equal(got.verdict, "suspicious");
	assert_string_equal(got.derived_from, "");
	reputation_clear(&got);
	r = noted(32, "malicious", 100);
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
	assert_int_equal(f->st->ops->reputation_fail(f->st, r.sha256,
						     "Analysis.Failed", 1.0),
			 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, r.sha256, &got), 0);
	assert_string_equal(got.verdict, "malicious");
	assert_string_equal(got.derived_from, sample(99).sha256);
	reputation_clear(&got);
}

static void
test_note_records_an_embedded_object_without_prevalence(void **state)
{
	struct fx *f = *state;
	struct reputation r = noted(7, "malicious", 100), got;
	struct job j;

	assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, r.sha256, &got), 0);
	assert_string_equal(got.verdict, "malicious");
	assert_string_equal(got.detections, "[\"Inner\"]");
	assert_int_equal(got.prevalence, 0);
	assert_true(got.analysed_at > 0);
	reputation_clear(&got);
	/* Not submitted: nothing to analyse. */
	assert_int_equal(f->st->ops->job_get_by_sha256(f->st, r.sha256, &j),
			 VG_ENOENT);
}

static void
test_note_never_overrides_a_sample_analysed_on_its_own(void **state)
{
	struct fx *f = *state;
	struct reputation r = noted(2, "clean", 0), got;
	struct job j;

	one_claimed(f->st, 2, &j);
	assert_int_equal(f->st->ops->job_finish(f->st, j.id, "{}", "malicious",
						100, "[\"Own\"]", NULL, NULL,
						1.0),
			 0);
	job_clear(&j);
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, r.sha256, &got), 0);
	assert_string_equal(got.verdict, "malicious");
	assert_string_equal(got.detections, "[\"Own\"]");
	assert_int_equal(got.prevalence, 1);
	reputation_clear(&got);
}

static void
test_note_sets_the_verdict_of_a_submitted_sample_not_yet_analysed(void **state)
{
	struct fx *f = *state;
	struct reputation r = noted(3, "suspicious", 50), got;

	one_sample(f->st, 3);
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, r.sha256, &got), 0);
	assert_string_equal(got.verdict, "suspicious");
	assert_int_equal(got.prevalence, 1);
	reputation_clear(&got);
}

static void
test_note_many_records_all_in_one_go_and_skips_invalid_rows(void **state)
{
	struct fx *f = *state;
	struct reputation r[3], got;
	size_t skipped = 9;

	r[0] = noted(8, "malicious", 100);
	r[1] = noted(9, "evil", 100); /* invalid verdict */
	r[2] = noted(10, "clean", 0);
	assert_int_equal(
		f->st->ops->reputation_note_many(f->st, r, 3, &skipped), 0);
	assert_int_equal(skipped, 1);
	assert_int_equal(f->st->ops->reputation_get(f->st, r[0].sha256, &got),
			 0);
	assert_string_equal(got.verdict, "malicious");
	reputation_clear(&got);
	assert_int_equal(f->st->ops->reputation_get(f->st, r[2].sha256, &got),
			 0);
	assert_string_equal(got.verdict, "clean");
	reputation_clear(&got);
	assert_int_equal(f->st->ops->reputation_get(f->st, r[1].sha256, &got),
			 VG_ENOENT);
}

static void
test_note_with_malformed_hash_or_verdict_is_einval(void **state)
{
	struct fx *f = *state;
	struct reputation r = noted(4, "malicious", 100);

	r.md5[0] = 'X';
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), VG_EINVAL);
	r = noted(4, "evil", 100);
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), VG_EINVAL);
}

static void
test_note_and_finish_store_because(void **state)
{
	struct fx *f = *state;
	struct reputation r = noted(11, "malicious", 100), got;
	struct job j;

	r.because = "[{\"path\":\"eicar.com\",\"name\":\"Inner\"}]";
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, r.sha256, &got), 0);
	assert_string_equal(got.because, r.because);
	reputation_clear(&got);
	/* No because given: none. */
	r = noted(12, "clean", 0);
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, r.sha256, &got), 0);
	assert_string_equal(got.because, "[]");
	reputation_clear(&got);
	/* A finished analysis: its because. */
	one_claimed(f->st, 2, &j);
	assert_int_equal(
		f->st->ops->job_finish(
			f->st, j.id,
			"{\"because\":[{\"path\":\"a.zip!b\",\"name\":\"X\"}]}",
			"malicious", 100, "[\"X\"]",
			"[{\"path\":\"a.zip!b\",\"name\":\"X\"}]", NULL, 1.0),
		0);
	job_clear(&j);
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(2).sha256, &got), 0);
	assert_string_equal(got.because,
			    "[{\"path\":\"a.zip!b\",\"name\":\"X\"}]");
	reputation_clear(&got);
}

static void
test_failure_overrides_a_clean_note(void **state)
{
	struct fx *f = *state;
	struct reputation r = noted(2, "clean", 0), got;
	struct job j;

	/* Seen clean inside a container first, then submitted on its own,
	 * and its own analysis fails: suspicious, never clean. */
	r.detections = "[]";
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
	one_claimed(f->st, 2, &j);
	assert_int_equal(f->st->ops->job_fail(f->st, j.id, "crashed", 1), 0);
	job_clear(&j);
	assert_int_equal(f->st->ops->reputation_fail(f->st, r.sha256,
						     "Analysis.Failed", 3.0),
			 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, r.sha256, &got), 0);
	assert_string_equal(got.verdict, "suspicious");
	assert_int_equal(got.score, 50);
	assert_string_equal(got.detections, "[\"Analysis.Failed\"]");
	assert_string_equal(got.because,
			    "[{\"path\":\"\",\"name\":\"Analysis.Failed\"}]");
	reputation_clear(&got);
	/* Twice: listed once. A later container's clean note changes
	 * nothing. */
	assert_int_equal(f->st->ops->reputation_fail(f->st, r.sha256,
						     "Analysis.Failed", 3.0),
			 0);
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, r.sha256, &got), 0);
	assert_string_equal(got.verdict, "suspicious");
	assert_string_equal(got.detections, "[\"Analysis.Failed\"]");
	reputation_clear(&got);
}

static void
test_failure_keeps_a_worse_verdict_and_its_detections(void **state)
{
	struct fx *f = *state;
	struct reputation r = noted(13, "malicious", 100), got;

	r.because = "[{\"path\":\"x\",\"name\":\"Inner\"}]";
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
	assert_int_equal(f->st->ops->reputation_fail(f->st, r.sha256,
						     "Limits.Exceeded.Time", 0),
			 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, r.sha256, &got), 0);
	assert_string_equal(got.verdict, "malicious");
	assert_int_equal(got.score, 100);
	assert_string_equal(got.detections,
			    "[\"Inner\",\"Limits.Exceeded.Time\"]");
	assert_string_equal(
		got.because,
		"[{\"path\":\"x\",\"name\":\"Inner\"},"
		"{\"path\":\"\",\"name\":\"Limits.Exceeded.Time\"}]");
	reputation_clear(&got);
	assert_int_equal(f->st->ops->reputation_fail(f->st, sample(14).sha256,
						     "Analysis.Failed", 0),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->reputation_fail(f->st, r.sha256, "", 0),
			 VG_EINVAL);
}

static void
test_corrupt_because_is_ecorrupt(void **state)
{
	struct fx *f = *state;
	struct reputation r;

	one_sample(f->st, 5);
	raw_exec(f->path, "UPDATE samples SET because = 'nonsense'");
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(5).sha256, &r),
		VG_ECORRUPT);
	assert_non_null(strstr(f->st->err, "because"));
}

static void
test_claim_then_finish_sets_verdict(void **state)
{
	struct fx *f = *state;
	struct reputation r;
	struct job j;
	struct hashes h = sample(2);

	one_claimed(f->st, 2, &j);
	assert_int_equal(j.state, JOB_ANALYSING);
	assert_int_equal(j.attempts, 1);
	assert_null(j.report);
	assert_int_equal(f->st->ops->job_finish(
				 f->st, j.id, "{\"verdict\":\"malicious\"}",
				 "malicious", 100, "[\"Vigil_Test_EICAR\"]",
				 NULL, "text/plain", 12.5),
			 0);
	job_clear(&j);

	assert_int_equal(f->st->ops->reputation_get(f->st, h.sha256, &r), 0);
	assert_string_equal(r.verdict, "malicious");
	assert_int_equal(r.score, 100);
	assert_string_equal(r.detections, "[\"Vigil_Test_EICAR\"]");
	assert_string_equal(r.type, "text/plain");
	assert_true(r.analysed_at > 0);
	assert_true(r.analysis_ms == 12.5);
	reputation_clear(&r);

	assert_int_equal(f->st->ops->job_get_by_sha256(f->st, h.sha256, &j), 0);
	assert_int_equal(j.state, JOB_DONE);
	assert_string_equal(j.report, "{\"verdict\":\"malicious\"}");
	assert_null(j.error);
	job_clear(&j);
}

static void
test_finish_of_job_not_analysing_is_refused(void **state)
{
	struct fx *f = *state;
	struct reputation r;
	struct job j;

	one_sample(f->st, 2);
	assert_int_equal(
		f->st->ops->job_get_by_sha256(f->st, sample(2).sha256, &j), 0);
	/* Queued, never claimed. */
	assert_int_equal(f->st->ops->job_finish(f->st, j.id, "{}", "clean", 0,
						"[]", NULL, NULL, 1),
			 VG_EINVAL);
	assert_int_equal(f->st->ops->job_finish(f->st, j.id + 100, "{}",
						"clean", 0, "[]", NULL, NULL,
						1),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->job_fail(f->st, j.id + 100, "x", 3),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->job_finish(f->st, j.id, "{}", "benign", 0,
						"[]", NULL, NULL, 1),
			 VG_EINVAL);
	job_clear(&j);
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(2).sha256, &r), 0);
	assert_string_equal(r.verdict, "unknown");
	reputation_clear(&r);
}

static void
test_job_fail_requeues_until_max_attempts_then_fails(void **state)
{
	struct fx *f = *state;
	struct job j;
	int64_t id;

	one_sample(f->st, 2);
	for (int attempt = 1; attempt <= 3; attempt++) {
		assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
		assert_int_equal(j.attempts, attempt);
		id = j.id;
		job_clear(&j);
		assert_int_equal(
			f->st->ops->job_fail(f->st, id, "sandbox died", 3), 0);
		assert_int_equal(f->st->ops->job_get_by_sha256(
					 f->st, sample(2).sha256, &j),
				 0);
		assert_int_equal(j.state,
				 attempt < 3 ? JOB_QUEUED : JOB_FAILED);
		assert_string_equal(j.error, "sandbox died");
		job_clear(&j);
	}
	assert_int_equal(f->st->ops->job_claim(f->st, &j), VG_ENOENT);
	/* Failed is final: a later submission does not queue it again. */
	put_client(f->st, 2);
	bool nj = true;
	assert_int_equal(submit(f->st, 2, 2, 2, &nj), 0);
	assert_false(nj);
}

static void
test_retried_job_goes_behind_older_jobs(void **state)
{
	struct fx *f = *state;
	struct job j;
	int64_t id;

	one_claimed(f->st, 1, &j);
	id = j.id;
	job_clear(&j);
	/* Make sample 1's retry strictly newer than sample 2's job. */
	assert_int_equal(submit(f->st, 2, 1, 2, NULL), 0);
	raw_exec(f->path, "UPDATE jobs SET updated = 1 WHERE state = 0");
	assert_int_equal(f->st->ops->job_fail(f->st, id, "x", 5), 0);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_string_equal(j.sha256, sample(2).sha256);
	job_clear(&j);
}

static void
test_requeue_stale_after_crash_makes_job_claimable(void **state)
{
	struct fx *f = *state;
	struct job j;
	pid_t pid;
	int status;

	one_sample(f->st, 2);
	assert_int_equal(f->st->ops->close(f->st), 0);
	f->st = NULL;

	/* A worker process claims the job and dies without finishing it or
	 * closing the store, like kill -9. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st;
		char err[256];

		if (test_open(f->path, &st, err, sizeof(err)) != 0 ||
		    st->ops->job_claim(st, &j) != 0)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	f->st = reopen(f);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), VG_ENOENT);
	assert_int_equal(f->st->ops->job_requeue_stale(f->st), 0);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_string_equal(j.sha256, sample(2).sha256);
	assert_int_equal(j.attempts, 2);
	job_clear(&j);
}

static void
test_two_handles_one_writes_other_reads(void **state)
{
	struct fx *f = *state;
	struct store *b = reopen(f);
	struct reputation r;
	struct client c;
	struct job j;
	uint8_t tok[32];

	/* b opened before the writes, and has read once already. */
	assert_int_equal(b->ops->reputation_get(b, sample(4).sha256, &r),
			 VG_ENOENT);
	put_client(f->st, 3);
	assert_int_equal(submit(f->st, 1, 3, 4, NULL), 0);

	memset(tok, 3, sizeof(tok));
	assert_int_equal(b->ops->client_by_token_hash(b, tok, &c), 0);
	client_clear(&c);
	assert_int_equal(b->ops->reputation_get(b, sample(4).sha256, &r), 0);
	assert_int_equal(r.prevalence, 1);
	reputation_clear(&r);
	/* The queue is shared: b's claim is the one job, a finds none. */
	assert_int_equal(b->ops->job_claim(b, &j), 0);
	job_clear(&j);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), VG_ENOENT);
	assert_int_equal(b->ops->close(b), 0);
}

/* A writer's commits are in the file when they return: a plain handle
 * sees each at once, and a writer that dies without closing (its process
 * ends with _exit) loses none. Its handle stays synchronous. */
static void
test_writer_commits_are_visible_and_survive_its_death(void **state)
{
	struct fx *f = *state;
	struct store *w, *r;
	char err[256], buf[64];
	struct reputation rep;
	int fds[2], status, n = 0;
	pid_t pid;

	put_client(f->st, 1);
	assert_int_equal(test_open_writer(f->path, &w, err, sizeof(err)), 0);
	/* On PostgreSQL any handle may stop waiting for the standby. */
	assert_int_equal(w->ops->set_synced(w, false),
			 pg_dsn != NULL ? 0 : VG_EINVAL);
	assert_int_equal(w->ops->set_synced(w, true), 0);
	r = reopen(f);
	for (int k = 1; k <= 40; k++) {
		assert_int_equal(submit(w, k, 1, k, NULL), 0);
		assert_int_equal(
			r->ops->reputation_get(r, sample(k).sha256, &rep), 0);
		reputation_clear(&rep);
	}
	assert_int_equal(w->ops->close(w), 0);

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (test_open_writer(f->path, &w, err, sizeof(err)) != 0)
			_exit(2);
		for (int k = 41; k <= 120; k++) {
			if (submit(w, k, 1, k, NULL) != 0)
				_exit(3);
			snprintf(buf, sizeof(buf), "%d\n", k);
			if (write(fds[1], buf, strlen(buf)) < 0)
				_exit(4);
		}
		_exit(0); /* no close: what is not in the file is lost */
	}
	close(fds[1]);
	{
		FILE *in = fdopen(fds[0], "r");

		assert_non_null(in);
		while (fgets(buf, sizeof(buf), in) != NULL)
			n++;
		fclose(in);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(n, 80);
	for (int k = 1; k <= 120; k++) {
		assert_int_equal(
			r->ops->reputation_get(r, sample(k).sha256, &rep), 0);
		reputation_clear(&rep);
	}
	assert_int_equal(r->ops->close(r), 0);
	assert_int_equal(raw_rows(f->path, "SELECT 1 FROM submissions"), 120);
	raw_text(f->path, "PRAGMA integrity_check", buf, sizeof(buf));
	assert_string_equal(buf, "ok");
}

/* The metadata {"path":"ccc…"} with n times c; the caller frees it. */
static char *
long_metadata(size_t n, char c)
{
	char *meta = malloc(n + 16);

	assert_non_null(meta);
	strcpy(meta, "{\"path\":\"");
	memset(meta + 9, c, n);
	strcpy(meta + 9 + n, "\"}");
	return meta;
}

/* Submission PREFIX-I of client CLIENT of sample h (68 bytes), as one
 * item of a batch; it points into sub and h. */
static void
item_fill(struct submission *sub, struct submission_add *it,
	  const struct hashes *h, const char *prefix, int i, int client,
	  char *meta)
{
	snprintf(sub->id, sizeof(sub->id), "%s-%d", prefix, i);
	client_id(sub->client_id, client);
	memcpy(sub->sha256, h->sha256, sizeof(sub->sha256));
	sub->metadata = meta;
	sub->created = 1700000000;
	it->sub = sub;
	it->md5 = h->md5;
	it->sha1 = h->sha1;
	it->size = 68;
}

/* One transaction's worth: 64 submissions of samples 1 to 64 by client
 * 1, with ids "<prefix>-<i>", all with the same metadata. */
struct batch64 {
	struct submission subs[64];
	struct submission_add it[64];
	struct hashes h[64];
};

static void
batch64_fill(struct batch64 *b, const char *prefix, char *meta)
{
	memset(b, 0, sizeof(*b));
	for (int i = 0; i < 64; i++) {
		b->h[i] = sample(i + 1);
		item_fill(&b->subs[i], &b->it[i], &b->h[i], prefix, i, 1, meta);
	}
}

/* A writer's commit of about 1 MiB (64 submissions with 16 KiB of
 * metadata each, in one transaction): its gathered WAL goes out in
 * several writes (the default VFS takes less than 128 KiB a call), and a
 * plain handle reads every row back. */
static void
test_writer_commits_a_large_transaction(void **state)
{
	struct fx *f = *state;
	static struct batch64 b;
	struct submission got;
	struct store *w, *r;
	char err[256], *meta = long_metadata(16 * 1024, 'a');

	put_client(f->st, 1);
	assert_int_equal(test_open_writer(f->path, &w, err, sizeof(err)), 0);
	batch64_fill(&b, "big", meta);
	assert_int_equal(w->ops->submission_add_many(w, b.it, 64, NULL, NULL),
			 0);
	for (int i = 0; i < 64; i++) {
		assert_int_equal(b.it[i].rc, 0);
		if (b.it[i].have_rep)
			reputation_clear(&b.it[i].rep);
	}
	r = reopen(f);
	for (int i = 0; i < 64; i++) {
		assert_int_equal(r->ops->submission_get(r, b.subs[i].id, &got),
				 0);
		assert_string_equal(got.metadata, meta);
		free(got.metadata);
	}
	assert_int_equal(r->ops->close(r), 0);
	assert_int_equal(w->ops->close(w), 0);
	free(meta);
}

/* A barrier for submission_add_many that counts its calls and returns
 * rc. */
struct barrier_calls {
	int calls;
	int rc;
};

static int
barrier_cb(void *ud)
{
	struct barrier_calls *b = ud;

	b->calls++;
	return b->rc;
}

/* A writer's batch too large for SQLite's page cache (4 MiB of metadata)
 * is rolled back by its barrier; another handle then commits as much
 * over the same place in the WAL; the writer commits again. Nothing of
 * the rolled-back batch may land on the other handle's frames: every row
 * is there and the file is sound. (A writer's handle keeps its dirty
 * pages in memory until the commit, cache_spill = OFF; here SQLite's
 * rollback also reads the WAL, which writes out what was gathered.) */
static void
test_writer_rollback_of_a_large_batch_leaves_others_intact(void **state)
{
	struct fx *f = *state;
	static struct batch64 b;
	struct store *w;
	struct reputation rep;
	struct barrier_calls fail = {0, VG_EIO};
	char err[256], buf[64], *meta = long_metadata(64 * 1024, 'b');

	put_client(f->st, 1);
	assert_int_equal(test_open_writer(f->path, &w, err, sizeof(err)), 0);
	batch64_fill(&b, "gone", meta);
	assert_int_equal(
		w->ops->submission_add_many(w, b.it, 64, barrier_cb, &fail),
		VG_EIO);
	/* Another handle commits as much again, over the place of the
	 * rolled-back frames, then the writer commits. */
	for (int k = 100; k < 140; k++) {
		struct submission sub;
		struct hashes hk = sample(k);

		memset(&sub, 0, sizeof(sub));
		snprintf(sub.id, sizeof(sub.id), "kept-%d", k);
		client_id(sub.client_id, 1);
		memcpy(sub.sha256, hk.sha256, sizeof(sub.sha256));
		sub.metadata = meta;
		sub.created = 1700000000;
		assert_int_equal(f->st->ops->submission_add(f->st, &sub, hk.md5,
							    hk.sha1, 68, NULL,
							    NULL),
				 0);
	}
	assert_int_equal(submit(w, 200, 1, 200, NULL), 0);
	assert_int_equal(w->ops->close(w), 0);
	for (int k = 100; k < 140; k++) {
		assert_int_equal(f->st->ops->reputation_get(
					 f->st, sample(k).sha256, &rep),
				 0);
		reputation_clear(&rep);
	}
	assert_int_equal(raw_rows(f->path, "SELECT 1 FROM submissions"), 41);
	raw_text(f->path, "PRAGMA integrity_check", buf, sizeof(buf));
	assert_string_equal(buf, "ok");
	for (int k = 100; k < 140; k++) {
		struct submission got;
		char id[37];

		snprintf(id, sizeof(id), "kept-%d", k);
		assert_int_equal(f->st->ops->submission_get(f->st, id, &got),
				 0);
		assert_string_equal(got.metadata, meta);
		free(got.metadata);
	}
	free(meta);
}

/* Child of the concurrency test: its own handle, many transactions. */
static int
child_submits(const char *path, int n)
{
	struct store *st;
	char err[256];

	if (test_open(path, &st, err, sizeof(err)) != 0)
		return 1;
	for (int k = 0; k < 20; k++) {
		if (submit(st, n * 100 + k, n, k, NULL) != 0) {
			fprintf(stderr, "child %d: %s\n", n, st->err);
			return 1;
		}
	}
	return st->ops->close(st) == 0 ? 0 : 1;
}

static void
test_processes_submitting_at_once_count_every_client_once(void **state)
{
	struct fx *f = *state;
	struct reputation r;
	struct job j;
	pid_t pid[4];
	int status, jobs = 0;

	for (int n = 0; n < 4; n++)
		put_client(f->st, n + 1);
	/* A connection must not cross fork(): SQLite's per-file lock
	 * bookkeeping would be copied into the children. */
	assert_int_equal(f->st->ops->close(f->st), 0);
	f->st = NULL;
	for (int n = 0; n < 4; n++) {
		pid[n] = fork();
		assert_true(pid[n] >= 0);
		if (pid[n] == 0)
			_exit(child_submits(f->path, n + 1));
	}
	for (int n = 0; n < 4; n++) {
		assert_int_equal(waitpid(pid[n], &status, 0), pid[n]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	f->st = reopen(f);
	for (int k = 0; k < 20; k++) {
		assert_int_equal(
			f->st->ops->reputation_get(f->st, sample(k).sha256, &r),
			0);
		assert_int_equal(r.prevalence, 4);
		reputation_clear(&r);
	}
	while (f->st->ops->job_claim(f->st, &j) == 0) {
		jobs++;
		job_clear(&j);
	}
	assert_int_equal(jobs, 20);
}

/* Workers in four processes drain the queue at once: each job is
 * handed to exactly one of them. */
static void
test_concurrent_claims_hand_out_each_job_once(void **state)
{
	struct fx *f = *state;
	int64_t id, claimed[64];
	int fds[2], status, n = 0;
	pid_t pid[4];

	put_client(f->st, 1);
	for (int k = 0; k < 40; k++)
		assert_int_equal(submit(f->st, k, 1, k, NULL), 0);
	assert_int_equal(f->st->ops->close(f->st), 0);
	f->st = NULL;
	assert_int_equal(pipe(fds), 0);
	for (int w = 0; w < 4; w++) {
		pid[w] = fork();
		assert_true(pid[w] >= 0);
		if (pid[w] == 0) {
			struct store *st;
			struct job j;
			char err[256];
			int rc;

			close(fds[0]);
			if (test_open(f->path, &st, err, sizeof(err)) != 0)
				_exit(1);
			while ((rc = st->ops->job_claim(st, &j)) == 0) {
				if (write(fds[1], &j.id, sizeof(j.id)) !=
				    sizeof(j.id))
					_exit(1);
				job_clear(&j);
			}
			_exit(rc == VG_ENOENT && st->ops->close(st) == 0 ? 0
									 : 1);
		}
	}
	close(fds[1]);
	while (read(fds[0], &id, sizeof(id)) == sizeof(id)) {
		assert_true(n < 64);
		for (int i = 0; i < n; i++)
			assert_true(claimed[i] != id);
		claimed[n++] = id;
	}
	close(fds[0]);
	for (int w = 0; w < 4; w++) {
		assert_int_equal(waitpid(pid[w], &status, 0), pid[w]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(n, 40);
}

/* Every child opens the same new file at once: one creates and migrates
 * it, the others wait for the lock and find it migrated. */
static void
test_processes_opening_a_new_file_at_once_all_succeed(void **state)
{
	struct fx *f = *state;
	char path[160];
	pid_t pid[6];
	int status;

	snprintf(path, sizeof(path), "%s/fresh.db", f->dir);
	/* On PostgreSQL: an empty database, which they all migrate at once
	 * (one does, under the advisory lock). */
	if (pg_dsn != NULL)
		pg_reset();
	for (int n = 0; n < 6; n++) {
		pid[n] = fork();
		assert_true(pid[n] >= 0);
		if (pid[n] == 0) {
			struct store *st;
			char err[256];

			if (test_open(path, &st, err, sizeof(err)) != 0) {
				fprintf(stderr, "child %d: %s\n", n, err);
				_exit(1);
			}
			put_client(st, n + 1);
			_exit(st->ops->close(st) == 0 ? 0 : 1);
		}
	}
	for (int n = 0; n < 6; n++) {
		assert_int_equal(waitpid(pid[n], &status, 0), pid[n]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	raw_text(path, "SELECT count(*) FROM clients", path, sizeof(path));
	assert_string_equal(path, "6");
}

static void
test_corrupt_reputation_row_is_ecorrupt(void **state)
{
	struct fx *f = *state;
	struct reputation r;

	one_sample(f->st, 5);
	raw_exec(f->path, "PRAGMA ignore_check_constraints = ON;"
			  "UPDATE samples SET sha1 = 'xyz'");
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(5).sha256, &r),
		VG_ECORRUPT);
	assert_non_null(strstr(f->st->err, "sha1"));
	raw_exec(f->path, "PRAGMA ignore_check_constraints = ON;"
			  "UPDATE samples SET verdict = 'bogus', sha1 = '" //
			  "0123456789abcdef0123456789abcdef01234567'");
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(5).sha256, &r),
		VG_ECORRUPT);
	assert_non_null(strstr(f->st->err, "verdict"));
	raw_exec(f->path, "PRAGMA ignore_check_constraints = ON;"
			  "UPDATE samples SET verdict = 'clean',"
			  " prevalence = -1");
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(5).sha256, &r),
		VG_ECORRUPT);
}

static void
test_corrupt_job_state_is_ecorrupt(void **state)
{
	struct fx *f = *state;
	struct job j;

	one_sample(f->st, 5);
	raw_exec(f->path, "PRAGMA ignore_check_constraints = ON;"
			  "UPDATE jobs SET state = 9");
	assert_int_equal(
		f->st->ops->job_get_by_sha256(f->st, sample(5).sha256, &j),
		VG_ECORRUPT);
	assert_non_null(strstr(f->st->err, "state"));
}

static void
test_corrupt_client_row_is_ecorrupt(void **state)
{
	struct fx *f = *state;
	struct client c;
	uint8_t tok[32];

	put_client(f->st, 1);
	raw_exec(f->path, "PRAGMA ignore_check_constraints = ON;"
			  "UPDATE clients SET consent = 7");
	memset(tok, 1, sizeof(tok));
	assert_int_equal(f->st->ops->client_by_token_hash(f->st, tok, &c),
			 VG_ECORRUPT);
}

static void
test_corrupt_queued_job_does_not_block_the_queue(void **state)
{
	struct fx *f = *state;
	struct job j;
	char got[128];
	uint64_t n = 99;

	one_sample(f->st, 5);
	assert_int_equal(submit(f->st, 2, 1, 6, NULL), 0);
	assert_int_equal(submit(f->st, 3, 1, 7, NULL), 0);
	/* Sample 5's job points at no sample; sample 6's has been tried
	 * so often that one more attempt is out of range. Both are at the
	 * head of the queue. */
	raw_exec(f->path, "UPDATE jobs SET id = 1000, updated = 0"
			  " WHERE id = (SELECT n FROM samples"
			  " WHERE md5 LIKE '05%')");
	raw_exec(f->path, "UPDATE jobs SET attempts = 2147483647, updated = 1"
			  " WHERE id = (SELECT n FROM samples"
			  " WHERE md5 LIKE '06%')");
	assert_int_equal(f->st->ops->job_claim(f->st, &j), VG_ECORRUPT);
	assert_non_null(strstr(f->st->err, "sha256"));
	assert_int_equal(f->st->ops->job_claim(f->st, &j), VG_ECORRUPT);
	assert_non_null(strstr(f->st->err, "attempts"));
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_string_equal(j.sha256, sample(7).sha256);
	job_clear(&j);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), VG_ENOENT);
	/* Both were failed, not left queued or analysing. */
	raw_text(f->path,
		 "SELECT group_concat(id || ':' || state || ':' || error, ',')"
		 " FROM (SELECT * FROM jobs WHERE state = 3 ORDER BY id) AS j",
		 got, sizeof(got));
	assert_string_equal(got, "2:3:corrupt job row,1000:3:corrupt job row");
	assert_int_equal(f->st->ops->jobs_queued(f->st, &n), 0);
	assert_int_equal(n, 0);
}

#define GEN_A "aa00000000000000000000000000000000000000000000000000000000000000"
#define GEN_B "bb00000000000000000000000000000000000000000000000000000000000000"

/* Sample k reported by clients 1..reporters at time t, its bytes stored,
 * analysed (clean) unless analysed is false. */
static void
stored_sample(struct store *st, int *subn, int k, int reporters, int64_t t,
	      bool analysed)
{
	struct sample_loc loc = {1, (uint64_t)k * 100, 100};
	struct job j;

	for (int n = 1; n <= reporters; n++)
		assert_int_equal(submit_loc(st, (*subn)++, n, k, t, &loc, NULL),
				 0);
	if (!analysed)
		return;
	assert_int_equal(st->ops->job_claim(st, &j), 0);
	assert_false(j.rescan);
	assert_int_equal(st->ops->job_finish(st, j.id, "{}", "clean", 0, "[]",
					     NULL, NULL, 1.0),
			 0);
	job_clear(&j);
}

static void
test_rescan_queue_only_when_the_generation_changes(void **state)
{
	struct fx *f = *state;
	struct store *st;
	uint64_t n = 99;
	int subn = 1;

	put_client(f->st, 1);
	stored_sample(f->st, &subn, 1, 1, 1700000100, true);
	stored_sample(f->st, &subn, 2, 1, 1700000100, true);
	/* Known only from inside another sample: no bytes to analyse. */
	assert_int_equal(submit(f->st, subn++, 1, 3, NULL), 0);
	assert_int_equal(f->st->ops->rescan_queue(f->st, GEN_A, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(f->st->ops->rescan_queue(f->st, GEN_A, &n), 0);
	assert_int_equal(n, 0);
	/* The generation survives a reopen. */
	assert_int_equal(f->st->ops->close(f->st), 0);
	f->st = st = reopen(f);
	assert_int_equal(st->ops->rescan_queue(st, GEN_A, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(st->ops->rescans_queued(st, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(st->ops->rescan_queue(st, GEN_B, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(st->ops->rescans_queued(st, &n), 0);
	assert_int_equal(n, 2); /* the same two, queued again */
	assert_int_equal(st->ops->rescan_queue(st, "not a generation", &n),
			 VG_EINVAL);
}

static void
test_rescans_come_after_jobs_most_prevalent_then_newest(void **state)
{
	struct fx *f = *state;
	struct job j;
	uint64_t n;
	int subn = 1;

	for (int c = 1; c <= 3; c++)
		put_client(f->st, c);
	stored_sample(f->st, &subn, 1, 1, 1700000100, true); /* old, 1 */
	stored_sample(f->st, &subn, 2, 3, 1700000100, true); /* 3 clients */
	stored_sample(f->st, &subn, 3, 1, 1700000900, true); /* new, 1 */
	assert_int_equal(f->st->ops->rescan_queue(f->st, GEN_A, &n), 0);
	assert_int_equal(n, 3);
	/* A new submission is claimed before every rescan. */
	stored_sample(f->st, &subn, 4, 1, 1700001000, false);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_false(j.rescan);
	assert_string_equal(j.sha256, sample(4).sha256);
	job_clear(&j);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_true(j.rescan);
	assert_int_equal(j.attempts, 1);
	assert_string_equal(j.sha256, sample(2).sha256);
	job_clear(&j);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_string_equal(j.sha256, sample(3).sha256);
	job_clear(&j);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_string_equal(j.sha256, sample(1).sha256);
	job_clear(&j);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), VG_ENOENT);
	/* Claimed, not done: a restart queues them again. */
	assert_int_equal(f->st->ops->job_requeue_stale(f->st), 0);
	assert_int_equal(f->st->ops->rescans_queued(f->st, &n), 0);
	assert_int_equal(n, 3);
}

static void
test_rescan_finish_overwrites_the_verdict_and_says_if_it_changed(void **state)
{
	struct fx *f = *state;
	struct reputation r;
	struct job j, k;
	bool changed = true;
	uint64_t n;
	int subn = 1;

	put_client(f->st, 1);
	stored_sample(f->st, &subn, 1, 1, 1700000100, true);
	stored_sample(f->st, &subn, 2, 1, 1700000100, true);
	assert_int_equal(f->st->ops->rescan_queue(f->st, GEN_A, &n), 0);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_int_equal(f->st->ops->rescan_finish(f->st, j.id, "{\"v\":2}",
						   "malicious", 100,
						   "[\"New_Rule\"]", NULL,
						   "text/plain", 3.0, &changed),
			 0);
	assert_true(changed);
	assert_int_equal(f->st->ops->reputation_get(f->st, j.sha256, &r), 0);
	assert_string_equal(r.verdict, "malicious");
	assert_string_equal(r.detections, "[\"New_Rule\"]");
	reputation_clear(&r);
	assert_int_equal(f->st->ops->job_get_by_sha256(f->st, j.sha256, &k), 0);
	assert_int_equal(k.state, JOB_DONE);
	assert_string_equal(k.report, "{\"v\":2}");
	job_clear(&k);
	/* Done: finishing it again is refused. */
	assert_int_equal(f->st->ops->rescan_finish(f->st, j.id, "{}", "clean",
						   0, "[]", NULL, NULL, 1.0,
						   &changed),
			 VG_EINVAL);
	job_clear(&j);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_int_equal(f->st->ops->rescan_finish(f->st, j.id, "{}", "clean",
						   0, "[]", NULL, NULL, 1.0,
						   &changed),
			 0);
	assert_false(changed);
	job_clear(&j);
	assert_int_equal(f->st->ops->rescans_queued(f->st, &n), 0);
	assert_int_equal(n, 0);
}

static void
test_rescan_fail_requeues_then_drops_keeping_the_verdict(void **state)
{
	struct fx *f = *state;
	struct reputation r;
	bool dropped = true;
	struct job j;
	uint64_t n;
	int subn = 1;

	put_client(f->st, 1);
	stored_sample(f->st, &subn, 1, 1, 1700000100, true);
	assert_int_equal(f->st->ops->rescan_queue(f->st, GEN_A, &n), 0);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_int_equal(f->st->ops->rescan_fail(f->st, j.id, 2, &dropped), 0);
	assert_false(dropped);
	job_clear(&j);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_int_equal(j.attempts, 2);
	assert_int_equal(f->st->ops->rescan_fail(f->st, j.id, 2, &dropped), 0);
	assert_true(dropped);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), VG_ENOENT);
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(1).sha256, &r), 0);
	assert_string_equal(r.verdict, "clean");
	reputation_clear(&r);
}

static int
count_stored(const char *sha256, const struct sample_loc *loc, void *ud)
{
	char *order = ud;

	assert_true(loc->length == 100);
	strncat(order, sha256, 2);
	return 0;
}

static void
test_samples_stored_each_visits_stored_samples_by_prevalence(void **state)
{
	struct fx *f = *state;
	char order[32] = "";
	int subn = 1;

	put_client(f->st, 1);
	put_client(f->st, 2);
	stored_sample(f->st, &subn, 1, 1, 1700000100, false);
	stored_sample(f->st, &subn, 2, 2, 1700000100, false);
	stored_sample(f->st, &subn, 3, 1, 1700000900, false);
	assert_int_equal(submit(f->st, subn++, 1, 4, NULL), 0); /* no bytes */
	assert_int_equal(
		f->st->ops->samples_stored_each(f->st, count_stored, order), 0);
	assert_string_equal(order, "020301");
}

static struct reputation
object_rep(int k, const char *verdict)
{
	struct reputation r;
	struct hashes h = sample(k);

	memset(&r, 0, sizeof(r));
	memcpy(r.md5, h.md5, sizeof(r.md5));
	memcpy(r.sha1, h.sha1, sizeof(r.sha1));
	memcpy(r.sha256, h.sha256, sizeof(r.sha256));
	r.size = 68;
	r.verdict = (char *)verdict;
	r.detections = strcmp(verdict, "clean") ? "[\"New\"]" : "[]";
	r.score = strcmp(verdict, "clean") ? 100 : 0;
	memcpy(r.derived_from, sample(98).sha256, sizeof(r.derived_from));
	r.derived_job = 98;
	return r;
}

static void
test_objects_renote_rejudges_objects_but_not_samples_of_their_own(void **state)
{
	struct fx *f = *state;
	struct reputation r[3], got;
	size_t skipped = 9;
	int subn = 1;

	put_client(f->st, 1);
	stored_sample(f->st, &subn, 1, 1, 1700000100, true); /* its own job */
	r[0] = object_rep(5, "clean");
	assert_int_equal(
		f->st->ops->reputation_note_many(f->st, r, 1, &skipped), 0);
	r[0] = object_rep(5, "malicious");
	r[1] = object_rep(1, "malicious");
	r[2] = object_rep(6, "malicious");
	assert_int_equal(f->st->ops->objects_renote_many(f->st, r, 3, &skipped),
			 0);
	assert_int_equal(skipped, 0);
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(5).sha256, &got), 0);
	assert_string_equal(got.verdict, "malicious");
	assert_string_equal(got.detections, "[\"New\"]");
	reputation_clear(&got);
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(1).sha256, &got), 0);
	assert_string_equal(got.verdict, "clean");
	reputation_clear(&got);
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(6).sha256, &got), 0);
	assert_string_equal(got.verdict, "malicious");
	reputation_clear(&got);
}

/* A version 5 store's notes (rows without a job of their own) are marked
 * derived at the migration to 6, from the stored report that lists them;
 * a note no report lists stays unmarked, and analysed samples are their
 * own. */
static void
test_version_5_notes_are_marked_derived_from_the_reports_listing_them(
	void **state)
{
	struct fx *f = *state;
	struct reputation r, got;
	char report[512];
	struct job j;
	int64_t id;

	SQLITE_ONLY();

	one_claimed(f->st, 1, &j);
	id = j.id;
	snprintf(report, sizeof(report),
		 "{\"objects\":[{\"sha256\":\"%s\"},{\"sha256\":\"%s\"}]}",
		 sample(1).sha256, sample(2).sha256);
	assert_int_equal(f->st->ops->job_finish(f->st, j.id, report,
						"malicious", 100, "[\"X\"]",
						NULL, NULL, 1.0),
			 0);
	job_clear(&j);
	r = noted(2, "malicious", 100);
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
	r = noted(3, "clean", 0);
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
	assert_int_equal(f->st->ops->close(f->st), 0);
	/* Back to version 5: no marks, none of the later tables. */
	raw_exec(f->path, "DROP TABLE stats;"
			  "ALTER TABLE samples DROP COLUMN derived_job;"
			  "ALTER TABLE samples DROP COLUMN derived_from;"
			  "DROP TABLE operators;"
			  "PRAGMA user_version = 5;");
	f->st = reopen(f);
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(2).sha256, &got), 0);
	assert_string_equal(got.derived_from, sample(1).sha256);
	assert_int_equal(got.derived_job, id);
	reputation_clear(&got);
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(3).sha256, &got), 0);
	assert_string_equal(got.derived_from, "");
	assert_int_equal(got.derived_job, 0);
	reputation_clear(&got);
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(1).sha256, &got), 0);
	assert_string_equal(got.derived_from, "");
	reputation_clear(&got);
}

static void
test_newer_schema_version_is_refused(void **state)
{
	struct fx *f = *state;
	struct store *st = NULL;
	char err[256];

	SQLITE_ONLY();

	assert_int_equal(f->st->ops->close(f->st), 0);
	f->st = NULL;
	raw_exec(f->path, "PRAGMA user_version = 1000");
	assert_int_equal(test_open(f->path, &st, err, sizeof(err)),
			 VG_ECORRUPT);
	assert_null(st);
	assert_non_null(strstr(err, "newer"));
}

static void
test_file_that_is_not_a_database_is_refused(void **state)
{
	struct fx *f = *state;
	struct store *st = NULL;
	char path[160], junk[4096], err[256];
	int fd;

	SQLITE_ONLY();

	snprintf(path, sizeof(path), "%s/junk.db", f->dir);
	memset(junk, 'x', sizeof(junk));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
	close(fd);
	assert_int_equal(store_sqlite_open(path, &st, err, sizeof(err)),
			 VG_ECORRUPT);
	assert_null(st);
}

struct visit {
	int rows;
	uint32_t seen; /* bit k: sample k */
	int stop_after;
};

static int
visit(const struct reputation *r, void *ud)
{
	struct visit *v = ud;

	for (int k = 0; k < 10; k++) {
		if (strcmp(r->sha256, sample(k).sha256) == 0)
			v->seen |= 1u << k;
	}
	v->rows++;
	return v->rows == v->stop_after ? 42 : 0;
}

static void
test_reputation_each_visits_every_row(void **state)
{
	struct fx *f = *state;
	struct visit v = {0, 0, 0};

	put_client(f->st, 1);
	for (int k = 0; k < 10; k++)
		assert_int_equal(submit(f->st, k, 1, k, NULL), 0);
	assert_int_equal(f->st->ops->reputation_each(f->st, visit, &v), 0);
	assert_int_equal(v.rows, 10);
	assert_int_equal(v.seen, 0x3ff);
}

static void
test_reputation_each_stops_with_callbacks_value(void **state)
{
	struct fx *f = *state;
	struct visit v = {0, 0, 3};

	put_client(f->st, 1);
	for (int k = 0; k < 10; k++)
		assert_int_equal(submit(f->st, k, 1, k, NULL), 0);
	assert_int_equal(f->st->ops->reputation_each(f->st, visit, &v), 42);
	assert_int_equal(v.rows, 3);
}

/* Clears what submission_add_many handed back. */
static void
clear_reps(struct submission_add *it, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (it[i].have_rep) {
			reputation_clear(&it[i].rep);
			it[i].have_rep = false;
		}
}

/* A batch of submissions: good ones commit together, a bad one in the
 * middle is refused alone, and locations are recorded once per sample. */
static void
test_submission_add_many_applies_each_item_on_its_own(void **state)
{
	struct fx *f = *state;
	struct submission subs[4];
	struct submission_add it[4];
	struct hashes h[4];
	struct sample_loc loc0 = {1, 0, 100}, loc1 = {1, 100, 200},
			  other = {7, 7, 7}, got;
	struct reputation r;

	put_client(f->st, 1);
	put_client(f->st, 2);
	memset(subs, 0, sizeof(subs));
	memset(it, 0, sizeof(it));
	for (int i = 0; i < 4; i++) {
		h[i] = sample(i < 3 ? i : 0);
		item_fill(&subs[i], &it[i], &h[i], "batch", i, i == 3 ? 2 : 1,
			  "{}");
	}
	it[0].loc = &loc0;
	it[1].loc = &loc1;
	/* Item 2: a client that does not exist. */
	client_id(subs[2].client_id, 9);
	it[2].loc = &other;
	/* Item 3: sample 0 again from client 2, with another location,
	 * which must not replace the first. */
	it[3].loc = &other;
	assert_int_equal(
		f->st->ops->submission_add_many(f->st, it, 4, NULL, NULL), 0);
	assert_int_equal(it[0].rc, 0);
	assert_true(it[0].new_job);
	assert_int_equal(it[0].job, JOB_QUEUED);
	assert_int_equal(it[1].rc, 0);
	assert_true(it[1].new_job);
	assert_int_equal(it[2].rc, VG_ENOENT);
	assert_false(it[2].new_job);
	assert_int_equal(it[3].rc, 0);
	assert_false(it[3].new_job);
	/* Each item hands back its sample's reputation as the item left
	 * it: the second client of sample 0 made it prevalence 2. */
	assert_true(it[0].have_rep);
	assert_string_equal(it[0].rep.sha256, h[0].sha256);
	assert_string_equal(it[0].rep.md5, h[0].md5);
	assert_string_equal(it[0].rep.verdict, "unknown");
	assert_int_equal(it[0].rep.prevalence, 1);
	assert_int_equal(it[0].rep.size, 68);
	assert_true(it[1].have_rep);
	assert_string_equal(it[1].rep.sha256, h[1].sha256);
	assert_false(it[2].have_rep);
	assert_true(it[3].have_rep);
	assert_int_equal(it[3].rep.prevalence, 2);
	clear_reps(it, 4);

	assert_int_equal(f->st->ops->sample_locate(f->st, h[0].sha256, &got),
			 0);
	assert_memory_equal(&got, &loc0, sizeof(got));
	assert_int_equal(f->st->ops->sample_locate(f->st, h[1].sha256, &got),
			 0);
	assert_memory_equal(&got, &loc1, sizeof(got));
	/* The refused item left nothing: no sample, no location. */
	assert_int_equal(f->st->ops->sample_locate(f->st, h[2].sha256, &got),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->reputation_get(f->st, h[2].sha256, &r),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->reputation_get(f->st, h[0].sha256, &r), 0);
	assert_int_equal(r.prevalence, 2);
	reputation_clear(&r);
}

/* A batch that names a sample several times: each item sees what the
 * items before it did, as one submission at a time would (first and last
 * seen, prevalence per distinct client, one job, the first location),
 * and metadata that needs quoting arrives as sent. */
static void
test_submission_add_many_repeats_a_sample_in_order(void **state)
{
	struct fx *f = *state;
	/* Sample, client and time of each item. */
	static const int smp[6] = {0, 1, 0, 0, 0, 1};
	static const int cli[6] = {1, 1, 2, 1, 3, 2};
	static const int64_t at[6] = {100, 50, 50, 200, 150, 60};
	/* What item i hands back: prevalence, first and last seen. */
	static const uint64_t prev[6] = {1, 1, 2, 2, 3, 2};
	static const int64_t first[6] = {100, 50, 50, 50, 50, 50};
	static const int64_t last[6] = {100, 50, 100, 200, 200, 60};
	static char meta[] = "{\"p\":\"\\\\\\\" ,{} NULL \\u0000 \xc3\xa9\"}";
	struct submission subs[6], got;
	struct submission_add it[6];
	struct hashes h[6];
	struct sample_loc loc0 = {1, 0, 100}, loc0b = {1, 100, 100}, loc;
	struct reputation r;
	struct job j;

	for (int c = 1; c <= 3; c++)
		put_client(f->st, c);
	memset(subs, 0, sizeof(subs));
	memset(it, 0, sizeof(it));
	for (int i = 0; i < 6; i++) {
		h[i] = sample(smp[i]);
		item_fill(&subs[i], &it[i], &h[i], "rep", i, cli[i], meta);
		subs[i].created = 1700000000 + at[i];
	}
	it[0].loc = &loc0;
	it[3].loc = &loc0b;
	assert_int_equal(
		f->st->ops->submission_add_many(f->st, it, 6, NULL, NULL), 0);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(it[i].rc, 0);
		assert_int_equal(it[i].new_job, i < 2);
		assert_int_equal(it[i].job, JOB_QUEUED);
		assert_true(it[i].have_rep);
		assert_string_equal(it[i].rep.sha256, h[i].sha256);
		assert_int_equal(it[i].rep.prevalence, prev[i]);
		assert_int_equal(it[i].rep.first_seen, 1700000000 + first[i]);
		assert_int_equal(it[i].rep.last_seen, 1700000000 + last[i]);
	}
	clear_reps(it, 6);

	assert_int_equal(f->st->ops->reputation_get(f->st, h[0].sha256, &r), 0);
	assert_int_equal(r.prevalence, 3);
	assert_int_equal(r.first_seen, 1700000050);
	assert_int_equal(r.last_seen, 1700000200);
	reputation_clear(&r);
	assert_int_equal(f->st->ops->sample_locate(f->st, h[0].sha256, &loc),
			 0);
	assert_memory_equal(&loc, &loc0, sizeof(loc));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(
			f->st->ops->job_get_by_sha256(f->st, h[i].sha256, &j),
			0);
		assert_int_equal(j.state, JOB_QUEUED);
		job_clear(&j);
	}
	for (int i = 0; i < 6; i++) {
		assert_int_equal(
			f->st->ops->submission_get(f->st, subs[i].id, &got), 0);
		assert_string_equal(got.metadata, meta);
		assert_string_equal(got.client_id, subs[i].client_id);
		assert_int_equal(got.created, subs[i].created);
		submission_clear(&got);
	}
}

/* A batch is first written without a savepoint per item; a refused item
 * then rolls the whole pass back and the batch is written again with
 * them. Nothing of the first pass may survive: a refused last item (after
 * every other row was written) and a batch refused throughout. */
static void
test_submission_add_many_refused_items_leave_no_trace(void **state)
{
	struct fx *f = *state;
	struct submission subs[3], got;
	struct submission_add it[3];
	struct hashes h[3];
	struct sample_loc loc = {1, 0, 100};
	struct reputation r;
	uint64_t queued = 99;

	put_client(f->st, 1);
	memset(subs, 0, sizeof(subs));
	memset(it, 0, sizeof(it));
	for (int i = 0; i < 3; i++) {
		h[i] = sample(10 + i);
		/* The last item's client does not exist. */
		item_fill(&subs[i], &it[i], &h[i], "trace", i, i == 2 ? 9 : 1,
			  "{}");
		it[i].loc = &loc;
	}
	assert_int_equal(
		f->st->ops->submission_add_many(f->st, it, 3, NULL, NULL), 0);
	assert_int_equal(it[0].rc, 0);
	assert_int_equal(it[1].rc, 0);
	assert_int_equal(it[2].rc, VG_ENOENT);
	/* Had the first pass's rows stayed, the second would have found
	 * the samples and their client already there. */
	assert_true(it[0].new_job && it[1].new_job && !it[2].new_job);
	assert_int_equal(it[0].rep.prevalence, 1);
	assert_int_equal(it[1].rep.prevalence, 1);
	assert_false(it[2].have_rep);
	clear_reps(it, 3);
	assert_int_equal(f->st->ops->jobs_queued(f->st, &queued), 0);
	assert_int_equal(queued, 2);
	assert_int_equal(f->st->ops->reputation_get(f->st, h[0].sha256, &r), 0);
	assert_int_equal(r.prevalence, 1);
	reputation_clear(&r);
	assert_int_equal(f->st->ops->reputation_get(f->st, h[2].sha256, &r),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->submission_get(f->st, "trace-2", &got),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->submission_get(f->st, "trace-0", &got), 0);
	free(got.metadata);

	/* Every item refused: the same ids again (taken), and an unknown
	 * client. Nothing changes, and each item says why. */
	for (int i = 0; i < 3; i++)
		client_id(subs[i].client_id, i == 2 ? 9 : 1);
	assert_int_equal(
		f->st->ops->submission_add_many(f->st, it, 3, NULL, NULL), 0);
	for (int i = 0; i < 3; i++) {
		assert_true(it[i].rc != 0);
		assert_false(it[i].have_rep);
		assert_false(it[i].new_job);
	}
	assert_int_equal(f->st->ops->jobs_queued(f->st, &queued), 0);
	assert_int_equal(queued, 2);
	assert_int_equal(f->st->ops->reputation_get(f->st, h[0].sha256, &r), 0);
	assert_int_equal(r.prevalence, 1);
	reputation_clear(&r);
}

static void
test_sample_locate_refuses_malformed_and_unknown(void **state)
{
	struct fx *f = *state;
	struct sample_loc got;
	struct sample_loc bad = {0, 0, 10};
	struct submission sub;
	struct hashes h = sample(3);

	assert_int_equal(f->st->ops->sample_locate(f->st, "abc", &got),
			 VG_EINVAL);
	assert_int_equal(f->st->ops->sample_locate(f->st, h.sha256, &got),
			 VG_ENOENT);
	/* A location in segment 0 does not exist. */
	put_client(f->st, 1);
	memset(&sub, 0, sizeof(sub));
	snprintf(sub.id, sizeof(sub.id), "sub-bad-loc");
	client_id(sub.client_id, 1);
	memcpy(sub.sha256, h.sha256, sizeof(sub.sha256));
	sub.metadata = "{}";
	assert_int_equal(f->st->ops->submission_add(f->st, &sub, h.md5, h.sha1,
						    68, &bad, NULL),
			 VG_EINVAL);
}

/* A sample the store knows but whose bytes it does not have: submitted
 * without them, or seen only inside another sample. */
static void
test_sample_locate_of_a_sample_without_bytes_is_enoent(void **state)
{
	struct fx *f = *state;
	struct reputation r = noted(4, "malicious", 100), got;
	struct sample_loc loc = {2, 4096, 300}, where;

	one_sample(f->st, 3);
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, r.sha256, &got), 0);
	reputation_clear(&got);
	assert_int_equal(
		f->st->ops->sample_locate(f->st, sample(3).sha256, &where),
		VG_ENOENT);
	assert_int_equal(
		f->st->ops->sample_locate(f->st, sample(4).sha256, &where),
		VG_ENOENT);
	/* The bytes come with a later report. */
	assert_int_equal(submit_loc(f->st, 2, 1, 3, 1700000200, &loc, NULL), 0);
	assert_int_equal(
		f->st->ops->sample_locate(f->st, sample(3).sha256, &where), 0);
	assert_memory_equal(&where, &loc, sizeof(where));
}

/* The committer's batched form: stored, known without bytes, unknown,
 * and the same sample twice, in one call; a malformed hash refuses all. */
static void
test_sample_locate_many(void **state)
{
	struct fx *f = *state;
	struct reputation r = noted(4, "malicious", 100);
	struct sample_loc loc = {2, 4096, 300}, out[5];
	struct hashes h[4] = {sample(3), sample(4), sample(5), sample(3)};
	const char *q[5] = {h[0].sha256, h[1].sha256, h[2].sha256, h[3].sha256,
			    "abc"};
	bool found[5];

	one_sample(f->st, 3);
	assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
	assert_int_equal(submit_loc(f->st, 2, 1, 3, 1700000200, &loc, NULL), 0);
	memset(found, 1, sizeof(found));
	assert_int_equal(
		f->st->ops->sample_locate_many(f->st, q, 4, out, found), 0);
	assert_true(found[0]);
	assert_memory_equal(&out[0], &loc, sizeof(loc));
	assert_false(found[1]); /* known, no bytes */
	assert_false(found[2]); /* unknown */
	assert_true(found[3]);
	assert_memory_equal(&out[3], &loc, sizeof(loc));
	assert_int_equal(
		f->st->ops->sample_locate_many(f->st, q, 0, out, found), 0);
	assert_int_equal(
		f->st->ops->sample_locate_many(f->st, q + 2, 3, out, found),
		VG_EINVAL);
}

/* The first location recorded for a sample stays: later reports of it,
 * with bytes appended again, change nothing of it. */
static void
test_second_location_of_a_sample_is_ignored(void **state)
{
	struct fx *f = *state;
	struct sample_loc first = {3, 512, 1000}, second = {4, 0, 1000};
	struct sample_loc where;
	struct reputation r;
	char cols[64];
	bool nj = false;

	put_client(f->st, 1);
	put_client(f->st, 2);
	assert_int_equal(submit_loc(f->st, 1, 1, 2, 1000, &first, &nj), 0);
	assert_true(nj);
	/* Another client, another location. */
	assert_int_equal(submit_loc(f->st, 2, 2, 2, 2000, &second, &nj), 0);
	assert_false(nj);
	assert_int_equal(
		f->st->ops->sample_locate(f->st, sample(2).sha256, &where), 0);
	assert_memory_equal(&where, &first, sizeof(where));
	/* The same client again, another location. */
	assert_int_equal(submit_loc(f->st, 3, 1, 2, 3000, &second, &nj), 0);
	assert_false(nj);
	assert_int_equal(
		f->st->ops->sample_locate(f->st, sample(2).sha256, &where), 0);
	assert_memory_equal(&where, &first, sizeof(where));
	raw_text(f->path,
		 "SELECT blob_segment || ',' || blob_offset || ','"
		 " || blob_length FROM samples",
		 cols, sizeof(cols));
	assert_string_equal(cols, "3,512,1000");
	/* The reports themselves counted. */
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(2).sha256, &r), 0);
	assert_int_equal(r.prevalence, 2);
	assert_int_equal(r.first_seen, 1000);
	assert_int_equal(r.last_seen, 3000);
	reputation_clear(&r);
}

static void
test_corrupt_sample_location_is_ecorrupt(void **state)
{
	struct fx *f = *state;
	struct sample_loc loc = {1, 0, 100}, where;

	put_client(f->st, 1);
	assert_int_equal(submit_loc(f->st, 1, 1, 5, 1000, &loc, NULL), 0);
	raw_exec(f->path, "PRAGMA ignore_check_constraints = ON;"
			  "UPDATE samples SET blob_segment = 0");
	assert_int_equal(
		f->st->ops->sample_locate(f->st, sample(5).sha256, &where),
		VG_ECORRUPT);
	assert_non_null(strstr(f->st->err, "blob_segment"));
	raw_exec(f->path, "PRAGMA ignore_check_constraints = ON;"
			  "UPDATE samples SET blob_segment = 1,"
			  " blob_offset = -1");
	assert_int_equal(
		f->st->ops->sample_locate(f->st, sample(5).sha256, &where),
		VG_ECORRUPT);
	assert_non_null(strstr(f->st->err, "blob_offset"));
	raw_exec(f->path, "PRAGMA ignore_check_constraints = ON;"
			  "UPDATE samples SET blob_offset = 0,"
			  " blob_length = 0");
	assert_int_equal(
		f->st->ops->sample_locate(f->st, sample(5).sha256, &where),
		VG_ECORRUPT);
	assert_non_null(strstr(f->st->err, "blob_length"));
	/* Half a location is no location. */
	raw_exec(f->path, "PRAGMA ignore_check_constraints = ON;"
			  "UPDATE samples SET blob_length = NULL");
	assert_int_equal(
		f->st->ops->sample_locate(f->st, sample(5).sha256, &where),
		VG_ECORRUPT);
	assert_non_null(strstr(f->st->err, "blob_length"));
}

/* The barrier of submission_add_many: its failure rolls the whole batch
 * back; its success lets it commit; it runs once, after the rows. */
static void
test_submission_add_many_barrier(void **state)
{
	struct fx *f = *state;
	struct submission subs[2], got;
	struct submission_add it[2];
	struct sample_loc loc = {1, 0, 100};
	struct barrier_calls b = {0};
	struct hashes h[2];
	uint64_t queued = 99;

	put_client(f->st, 1);
	memset(subs, 0, sizeof(subs));
	memset(it, 0, sizeof(it));
	for (int i = 0; i < 2; i++) {
		h[i] = sample(i + 1);
		item_fill(&subs[i], &it[i], &h[i], "barrier", i, 1, "{}");
		it[i].loc = &loc;
	}
	b.rc = VG_EIO;
	assert_int_equal(
		f->st->ops->submission_add_many(f->st, it, 2, barrier_cb, &b),
		VG_EIO);
	assert_int_equal(b.calls, 1);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(it[i].rc, VG_EIO);
		assert_false(it[i].have_rep);
		assert_int_equal(
			f->st->ops->submission_get(f->st, subs[i].id, &got),
			VG_ENOENT);
	}
	assert_int_equal(f->st->ops->jobs_queued(f->st, &queued), 0);
	assert_int_equal(queued, 0);
	b.rc = 0;
	assert_int_equal(
		f->st->ops->submission_add_many(f->st, it, 2, barrier_cb, &b),
		0);
	assert_int_equal(b.calls, 2);
	clear_reps(it, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(it[i].rc, 0);
		assert_int_equal(
			f->st->ops->submission_get(f->st, subs[i].id, &got), 0);
		free(got.metadata);
	}
}

/* A batch whose commit fails leaves nothing, and says so for every
 * item, even those that had been refused or had queued a job. Writes
 * past the first byte of any file are refused (RLIMIT_FSIZE) while it
 * runs: nothing of a small transaction is written before its commit
 * appends it to the WAL. */
static void
test_submission_add_many_that_cannot_commit_stores_nothing(void **state)
{
	struct fx *f = *state;
	struct submission subs[3], got;
	struct submission_add it[3];
	struct sample_loc loc = {1, 0, 100}, where;
	struct sigaction ign, old_sa;
	struct rlimit lim, old_lim;
	struct reputation r;
	uint64_t queued = 99;
	int rc;

	SQLITE_ONLY();

	put_client(f->st, 1);
	memset(subs, 0, sizeof(subs));
	memset(it, 0, sizeof(it));
	for (int i = 0; i < 3; i++) {
		struct hashes h = sample(i + 1);

		snprintf(subs[i].id, sizeof(subs[i].id), "batch-%d", i);
		/* Item 2: a client that does not exist. */
		client_id(subs[i].client_id, i == 2 ? 9 : 1);
		memcpy(subs[i].sha256, h.sha256, sizeof(subs[i].sha256));
		subs[i].metadata = "{}";
		subs[i].created = 1700000000;
		it[i].sub = &subs[i];
		it[i].md5 = strdup(h.md5);
		it[i].sha1 = strdup(h.sha1);
		assert_non_null(it[i].md5);
		assert_non_null(it[i].sha1);
		it[i].size = 68;
	}
	it[0].loc = &loc;

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	assert_int_equal(sigaction(SIGXFSZ, &ign, &old_sa), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
	lim = old_lim;
	lim.rlim_cur = 1;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	rc = f->st->ops->submission_add_many(f->st, it, 3, NULL, NULL);
	/* Restored before any assertion, which may write a file. */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
	assert_int_equal(sigaction(SIGXFSZ, &old_sa, NULL), 0);

	assert_int_equal(rc, VG_EIO);
	assert_non_null(strstr(f->st->err, "commit"));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(it[i].rc, rc);
		assert_false(it[i].new_job);
		assert_false(it[i].have_rep);
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(f->st->ops->reputation_get(
					 f->st, sample(i + 1).sha256, &r),
				 VG_ENOENT);
		assert_int_equal(
			f->st->ops->submission_get(f->st, subs[i].id, &got),
			VG_ENOENT);
	}
	assert_int_equal(
		f->st->ops->sample_locate(f->st, sample(1).sha256, &where),
		VG_ENOENT);
	assert_int_equal(f->st->ops->jobs_queued(f->st, &queued), 0);
	assert_int_equal(queued, 0);
	assert_int_equal(raw_rows(f->path, "SELECT 1 FROM samples"), 0);

	/* The handle works again, and the same batch goes through. */
	assert_int_equal(
		f->st->ops->submission_add_many(f->st, it, 3, NULL, NULL), 0);
	assert_int_equal(it[0].rc, 0);
	assert_true(it[0].new_job);
	assert_int_equal(it[1].rc, 0);
	assert_true(it[1].new_job);
	assert_int_equal(it[2].rc, VG_ENOENT);
	clear_reps(it, 3);
	assert_int_equal(
		f->st->ops->sample_locate(f->st, sample(1).sha256, &where), 0);
	assert_memory_equal(&where, &loc, sizeof(where));
	assert_int_equal(f->st->ops->jobs_queued(f->st, &queued), 0);
	assert_int_equal(queued, 2);
	for (int i = 0; i < 3; i++) {
		free((char *)it[i].md5);
		free((char *)it[i].sha1);
	}
}

/*
 * The schema exactly as version 1 of vigild wrote it (the first entry of
 * migrations[] in store_sqlite.c), copied here so that the test builds a
 * real version 1 file whatever the current schema is.
 */
static const char v1_schema[] =
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
	"PRAGMA user_version = 1;";

/* Runs SQL built by sqlite3_vmprintf (%Q quotes a string, or writes NULL
 * for a null pointer) on db. */
static void
db_exec(sqlite3 *db, const char *fmt, ...)
{
	char *sql, *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	assert_non_null(sql);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_free(sql);
}

static void
assert_reputation_equal(const struct reputation *got,
			const struct reputation *want)
{
	assert_string_equal(got->md5, want->md5);
	assert_string_equal(got->sha1, want->sha1);
	assert_string_equal(got->sha256, want->sha256);
	assert_string_equal(got->verdict, want->verdict);
	assert_int_equal(got->score, want->score);
	assert_string_equal(got->detections, want->detections);
	assert_int_equal(got->size, want->size);
	if (want->type == NULL)
		assert_null(got->type);
	else
		assert_string_equal(got->type, want->type);
	assert_int_equal(got->first_seen, want->first_seen);
	assert_int_equal(got->last_seen, want->last_seen);
	assert_int_equal(got->prevalence, want->prevalence);
	assert_int_equal(got->analysed_at, want->analysed_at);
	assert_true(got->analysis_ms == want->analysis_ms);
}

static int
count_rows(const struct reputation *r, void *ud)
{
	(void)r;
	(*(int *)ud)++;
	return 0;
}

/*
 * A database written by version 1 (samples keyed by SHA-256, MD5 and
 * SHA-1 unique, samples' bytes in files) is migrated at open: every
 * client, reputation, report and submission stays; the jobs that were
 * still to run fail, as their samples are in a format this version does
 * not read; nothing is located; and the migrated rows work with the new
 * operations.
 */
static void
test_version_1_database_is_migrated(void **state)
{
	struct fx *f = *state;
	struct sample_loc loc = {2, 4096, 300}, where;
	struct reputation want[4], r;
	struct submission sub, got;
	struct client c;
	struct job j;
	char path[160], v[160], tok[65], cid[3][37];
	const char *v1_failed = "sample stored in the version 1 format";
	/* Submissions of version 1: id, client, sample, metadata, time. */
	static const struct {
		const char *id;
		int client, sample;
		const char *metadata;
		int64_t created;
	} subs[] = {
		{"v1-sub-1", 1, 0, "{\"path\":\"C:\\\\a.exe\"}", 1000},
		{"v1-sub-2", 2, 0, "{\"path\":\"/tmp/a\"}", 2000},
		{"v1-sub-3", 1, 1, "{}", 1500},
		{"v1-sub-4", 2, 2, "{\"n\":4}", 1700},
	};
	uint8_t hash[32];
	uint64_t queued = 99;
	sqlite3 *db = NULL;
	int rows = 0;
	bool nj = true;

	SQLITE_ONLY();

	/* Sample 1: analysed, malicious, reported by both clients. */
	want[0] = noted(1, "malicious", 100);
	want[0].detections = "[\"Vigil_Test_EICAR\"]";
	want[0].first_seen = 1000;
	want[0].last_seen = 2000;
	want[0].prevalence = 2;
	want[0].analysed_at = 2100;
	want[0].analysis_ms = 12.5;
	/* Sample 2: queued; sample 3: being analysed. */
	for (int i = 1; i <= 2; i++) {
		want[i] = noted(i + 1, "unknown", 0);
		want[i].detections = "[]";
		want[i].type = NULL;
		want[i].prevalence = 1;
		want[i].analysis_ms = 0;
	}
	want[1].size = 1234;
	want[1].first_seen = want[1].last_seen = 1500;
	want[2].first_seen = 1600;
	want[2].last_seen = 1700;
	/* Sample 4: an object seen inside sample 1, without a job. */
	want[3] = noted(4, "suspicious", 50);
	want[3].type = "application/zip";
	want[3].size = 4096;
	want[3].first_seen = want[3].last_seen = 2100;
	want[3].analysed_at = 2100;

	snprintf(path, sizeof(path), "%s/v1.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	db_exec(db, "PRAGMA journal_mode = WAL");
	db_exec(db, v1_schema);
	db_exec(db, "BEGIN");
	for (int n = 1; n <= 2; n++) {
		for (int i = 0; i < 32; i++)
			snprintf(tok + 2 * i, 3, "%02x", n);
		client_id(cid[n], n);
		db_exec(db,
			"INSERT INTO clients VALUES (%Q, X'%q', 2, 'eu-west',"
			" 1700000000)",
			cid[n], tok);
	}
	for (int i = 0; i < 4; i++) {
		db_exec(db,
			"INSERT INTO samples VALUES (%Q, %Q, %Q, %lld, %Q, %d,"
			" %Q, %Q, %lld, %lld, %lld, %lld, %f)",
			want[i].sha256, want[i].md5, want[i].sha1,
			(long long)want[i].size, want[i].verdict, want[i].score,
			want[i].detections, want[i].type,
			(long long)want[i].first_seen,
			(long long)want[i].last_seen,
			(long long)want[i].prevalence,
			(long long)want[i].analysed_at, want[i].analysis_ms);
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		db_exec(db, "INSERT INTO sample_clients VALUES (%Q, %Q)",
			want[subs[i].sample].sha256, cid[subs[i].client]);
		db_exec(db,
			"INSERT INTO submissions VALUES (%Q, %Q, %Q, %Q,"
			" %lld)",
			subs[i].id, cid[subs[i].client],
			want[subs[i].sample].sha256, subs[i].metadata,
			(long long)subs[i].created);
	}
	/* Job ids of version 1 were its own, not the samples'. */
	db_exec(db,
		"INSERT INTO jobs VALUES (7, %Q, 2, 1,"
		" '{\"verdict\":\"malicious\"}', NULL, 2100)",
		want[0].sha256);
	db_exec(db, "INSERT INTO jobs VALUES (8, %Q, 0, 0, NULL, NULL, 1500)",
		want[1].sha256);
	db_exec(db,
		"INSERT INTO jobs VALUES (9, %Q, 1, 2, NULL, 'sandbox died',"
		" 1750)",
		want[2].sha256);
	db_exec(db, "COMMIT");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	raw_text(path, "PRAGMA user_version", v, sizeof(v));
	assert_string_equal(v, "1");
	assert_int_equal(raw_rows(path, "PRAGMA foreign_key_check"), 0);

	assert_int_equal(f->st->ops->close(f->st), 0);
	f->st = NULL;
	if (store_sqlite_open(path, &f->st, v, sizeof(v)) != 0)
		fail_msg("store_sqlite_open: %s", v);
	raw_text(path, "PRAGMA user_version", v, sizeof(v));
	assert_string_equal(v, "10");
	/* Every sample migrated has an empty because. */
	raw_text(path, "SELECT count(*) FROM samples WHERE because != '[]'", v,
		 sizeof(v));
	assert_string_equal(v, "0");
	raw_text(path,
		 "SELECT group_concat(name, ',') FROM (SELECT name"
		 " FROM sqlite_master WHERE type = 'table' ORDER BY name)",
		 v, sizeof(v));
	assert_string_equal(v,
			    "clients,erasures,fp_reports,holds,jobs,operators,"
			    "rescans,retractions,sample_clients,samples,"
			    "settings,stats,submissions");
	assert_int_equal(raw_rows(path, "PRAGMA foreign_key_check"), 0);
	raw_text(path, "PRAGMA integrity_check", v, sizeof(v));
	assert_string_equal(v, "ok");

	/* Clients. */
	for (int n = 1; n <= 2; n++) {
		memset(hash, n, sizeof(hash));
		assert_int_equal(
			f->st->ops->client_by_token_hash(f->st, hash, &c), 0);
		assert_string_equal(c.id, cid[n]);
		assert_int_equal(c.consent, CONSENT_FILES);
		assert_string_equal(c.region, "eu-west");
		assert_int_equal(c.created, 1700000000);
		client_clear(&c);
	}
	/* Reputation, prevalence included, by SHA-256. */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(
			f->st->ops->reputation_get(f->st, want[i].sha256, &r),
			0);
		assert_reputation_equal(&r, &want[i]);
		reputation_clear(&r);
	}
	assert_int_equal(f->st->ops->reputation_each(f->st, count_rows, &rows),
			 0);
	assert_int_equal(rows, 4);
	/* Submissions. */
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		assert_int_equal(
			f->st->ops->submission_get(f->st, subs[i].id, &got), 0);
		assert_string_equal(got.client_id, cid[subs[i].client]);
		assert_string_equal(got.sha256, want[subs[i].sample].sha256);
		assert_string_equal(got.metadata, subs[i].metadata);
		assert_int_equal(got.created, subs[i].created);
		submission_clear(&got);
	}
	/* The finished job keeps its report; the others failed. */
	assert_int_equal(
		f->st->ops->job_get_by_sha256(f->st, want[0].sha256, &j), 0);
	assert_int_equal(j.state, JOB_DONE);
	assert_string_equal(j.report, "{\"verdict\":\"malicious\"}");
	assert_null(j.error);
	assert_int_equal(j.attempts, 1);
	assert_int_equal(j.updated, 2100);
	job_clear(&j);
	assert_int_equal(
		f->st->ops->job_get_by_sha256(f->st, want[1].sha256, &j), 0);
	assert_int_equal(j.state, JOB_FAILED);
	assert_string_equal(j.error, v1_failed);
	assert_null(j.report);
	assert_int_equal(j.attempts, 0);
	job_clear(&j);
	assert_int_equal(
		f->st->ops->job_get_by_sha256(f->st, want[2].sha256, &j), 0);
	assert_int_equal(j.state, JOB_FAILED);
	assert_string_equal(j.error, v1_failed);
	assert_null(j.report);
	assert_int_equal(j.attempts, 2);
	job_clear(&j);
	assert_int_equal(
		f->st->ops->job_get_by_sha256(f->st, want[3].sha256, &j),
		VG_ENOENT);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), VG_ENOENT);
	assert_int_equal(f->st->ops->jobs_queued(f->st, &queued), 0);
	assert_int_equal(queued, 0);
	/* Version 1's files are not locations. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(f->st->ops->sample_locate(
					 f->st, want[i].sha256, &where),
				 VG_ENOENT);

	/* A report of sample 1 by a client that reported it before brings
	 * its bytes: located now, still two clients, no new job. */
	memset(&sub, 0, sizeof(sub));
	snprintf(sub.id, sizeof(sub.id), "after-migration-1");
	snprintf(sub.client_id, sizeof(sub.client_id), "%s", cid[1]);
	memcpy(sub.sha256, want[0].sha256, sizeof(sub.sha256));
	sub.metadata = "{}";
	sub.created = 3000;
	assert_int_equal(f->st->ops->submission_add(f->st, &sub, want[0].md5,
						    want[0].sha1, 68, &loc,
						    &nj),
			 0);
	assert_false(nj);
	assert_int_equal(
		f->st->ops->sample_locate(f->st, want[0].sha256, &where), 0);
	assert_memory_equal(&where, &loc, sizeof(where));
	want[0].last_seen = 3000;
	assert_int_equal(f->st->ops->reputation_get(f->st, want[0].sha256, &r),
			 0);
	assert_reputation_equal(&r, &want[0]);
	reputation_clear(&r);
	assert_int_equal(
		f->st->ops->job_get_by_sha256(f->st, want[0].sha256, &j), 0);
	assert_int_equal(j.state, JOB_DONE);
	assert_string_equal(j.report, "{\"verdict\":\"malicious\"}");
	job_clear(&j);
	/* Sample 2 from client 2, new to it: two clients now; the failed
	 * job is not queued again. Sample 3 from client 2 again: one. */
	snprintf(sub.id, sizeof(sub.id), "after-migration-2");
	snprintf(sub.client_id, sizeof(sub.client_id), "%s", cid[2]);
	memcpy(sub.sha256, want[1].sha256, sizeof(sub.sha256));
	nj = true;
	assert_int_equal(f->st->ops->submission_add(f->st, &sub, want[1].md5,
						    want[1].sha1, 1234, NULL,
						    &nj),
			 0);
	assert_false(nj);
	assert_int_equal(f->st->ops->reputation_get(f->st, want[1].sha256, &r),
			 0);
	assert_int_equal(r.prevalence, 2);
	reputation_clear(&r);
	snprintf(sub.id, sizeof(sub.id), "after-migration-3");
	memcpy(sub.sha256, want[2].sha256, sizeof(sub.sha256));
	assert_int_equal(f->st->ops->submission_add(f->st, &sub, want[2].md5,
						    want[2].sha1, 68, NULL,
						    NULL),
			 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, want[2].sha256, &r),
			 0);
	assert_int_equal(r.prevalence, 1);
	reputation_clear(&r);
	/* A new sample goes after the migrated ones and is analysed. */
	nj = false;
	assert_int_equal(submit_loc(f->st, 5, 1, 5, 3100, &loc, &nj), 0);
	assert_true(nj);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_string_equal(j.sha256, sample(5).sha256);
	assert_true(j.id > 4);
	job_clear(&j);

	assert_int_equal(raw_rows(path, "PRAGMA foreign_key_check"), 0);
	raw_text(path, "PRAGMA integrity_check", v, sizeof(v));
	assert_string_equal(v, "ok");
}

/* False positives: one report per client and sample, the operator's
 * decision closes every open report, at most one retraction in force,
 * and all of it survives a reopen. */
static void
test_fp_reports_and_retractions(void **state)
{
	struct fx *f = *state;
	const char *sha = sample(7).sha256;
	struct fp_summary *v = NULL;
	struct retraction r, got;
	char cid[37], big[STORE_FP_REASON_MAX + 2];
	uint64_t n = 0;
	size_t nv = 0;
	bool nj;

	for (int c = 1; c <= 3; c++)
		put_client(f->st, c);
	assert_int_equal(submit(f->st, 1, 1, 7, &nj), 0);
	client_id(cid, 1);
	/* Unknown sample, duplicate, bad reasons. */
	assert_int_equal(f->st->ops->fp_report_add(f->st, sample(8).sha256, cid,
						   "fp", 10),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->fp_report_add(f->st, sha, cid, "fp", 10),
			 0);
	assert_int_equal(
		f->st->ops->fp_report_add(f->st, sha, cid, "again", 11),
		VG_EINVAL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	client_id(cid, 2);
	assert_int_equal(f->st->ops->fp_report_add(f->st, sha, cid, big, 12),
			 VG_EINVAL);
	assert_int_equal(f->st->ops->fp_report_add(f->st, sha, cid, "", 12),
			 VG_EINVAL);
	assert_int_equal(f->st->ops->fp_report_add(f->st, "ABC", cid, "x", 12),
			 VG_EINVAL);
	assert_int_equal(
		f->st->ops->fp_report_add(f->st, sha, cid, "vendor tool", 12),
		0);
	assert_int_equal(f->st->ops->fp_open_count(f->st, sha, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(f->st->ops->fp_list(f->st, &v, &nv), 0);
	assert_int_equal(nv, 1);
	assert_string_equal(v[0].sha256, sha);
	assert_int_equal(v[0].reporters, 2);
	assert_string_equal(v[0].reasons[0], "fp");
	assert_string_equal(v[0].reasons[1], "vendor tool");
	assert_true(v[0].first == 10 && v[0].last == 12);
	fp_summaries_free(v, nv);

	/* Rejecting closes both; nothing is open any more. */
	assert_int_equal(f->st->ops->fp_reject(f->st, sha, "no", 13, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(f->st->ops->fp_reject(f->st, sha, "no", 13, &n),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->fp_list(f->st, &v, &nv), 0);
	assert_int_equal(nv, 0);
	fp_summaries_free(v, nv);

	/* A retraction needs an open report. */
	memset(&r, 0, sizeof(r));
	memcpy(r.sha256, sha, 65);
	r.log_index = 5;
	r.detections = "[\"Vigil_Test_EICAR\"]";
	r.reason = "signed by the vendor";
	r.created = 14;
	assert_int_equal(f->st->ops->retraction_add(f->st, &r, &n), VG_ENOENT);
	assert_int_equal(f->st->ops->retraction_get(f->st, sha, &got),
			 VG_ENOENT);
	client_id(cid, 3);
	assert_int_equal(f->st->ops->fp_report_add(f->st, sha, cid, "fp", 15),
			 0);
	assert_int_equal(f->st->ops->retraction_add(f->st, &r, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(f->st->ops->fp_open_count(f->st, sha, &n), 0);
	assert_int_equal(n, 0);
	/* A second one is refused while the first is in force. */
	r.log_index = 6;
	assert_int_equal(f->st->ops->retraction_add(f->st, &r, &n), VG_EINVAL);

	f->st->ops->close(f->st);
	f->st = reopen(f);
	assert_int_equal(f->st->ops->retraction_get(f->st, sha, &got), 0);
	assert_int_equal(got.log_index, 5);
	assert_string_equal(got.detections, "[\"Vigil_Test_EICAR\"]");
	assert_string_equal(got.reason, "signed by the vendor");
	retraction_clear(&got);
	assert_int_equal(f->st->ops->retraction_undo(f->st, sha, 4),
			 VG_EINVAL); /* before the entry it undoes */
	assert_int_equal(f->st->ops->retraction_undo(f->st, sha, 9), 0);
	assert_int_equal(f->st->ops->retraction_undo(f->st, sha, 10),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->retraction_get(f->st, sha, &got),
			 VG_ENOENT);
	assert_int_equal(raw_rows(f->path, "SELECT * FROM retractions"), 1);
}

/* An operator named name whose token hash is bytes of tok. */
static struct store_operator
an_operator(const char *name, int tok, int64_t created)
{
	struct store_operator op;

	memset(&op, 0, sizeof(op));
	snprintf(op.name, sizeof(op.name), "%s", name);
	memset(op.token_hash, tok, sizeof(op.token_hash));
	op.created = created;
	return op;
}

/* Operators: added once by name and by token hash, found by their token
 * hash while in force, refused once revoked, their names never given
 * again, listed oldest first with their revocation. */
static void
test_operators_add_lookup_revoke_and_list(void **state)
{
	struct fx *f = *state;
	struct store_operator a = an_operator("alice", 1, 100),
			      b = an_operator("bob-2", 2, 200), got, *v = NULL;
	uint8_t hash[32];
	size_t n = 9;

	assert_int_equal(f->st->ops->operator_list(f->st, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	assert_int_equal(f->st->ops->operator_add(f->st, &a), 0);
	assert_int_equal(f->st->ops->operator_add(f->st, &b), 0);

	memset(hash, 1, sizeof(hash));
	assert_int_equal(f->st->ops->operator_by_token_hash(f->st, hash, &got),
			 0);
	assert_string_equal(got.name, "alice");
	assert_memory_equal(got.token_hash, a.token_hash, 32);
	assert_int_equal(got.created, 100);
	assert_int_equal(got.revoked, 0);
	assert_int_equal(f->st->ops->operator_get(f->st, "bob-2", &got), 0);
	assert_int_equal(got.created, 200);

	/* A duplicate name, or another's token hash: refused, nothing
	 * changed. */
	b = an_operator("alice", 3, 300);
	assert_int_equal(f->st->ops->operator_add(f->st, &b), VG_EINVAL);
	b = an_operator("carol", 1, 300);
	assert_int_equal(f->st->ops->operator_add(f->st, &b), VG_EINVAL);
	assert_int_equal(f->st->ops->operator_get(f->st, "carol", &got),
			 VG_ENOENT);
	memset(hash, 3, sizeof(hash));
	assert_int_equal(f->st->ops->operator_by_token_hash(f->st, hash, &got),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->operator_get(f->st, "nobody", &got),
			 VG_ENOENT);

	/* Revoked: the token is refused at once; the name stays taken. */
	assert_int_equal(f->st->ops->operator_revoke(f->st, "alice", 400), 0);
	memset(hash, 1, sizeof(hash));
	assert_int_equal(f->st->ops->operator_by_token_hash(f->st, hash, &got),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->operator_get(f->st, "alice", &got), 0);
	assert_int_equal(got.revoked, 400);
	assert_int_equal(f->st->ops->operator_revoke(f->st, "alice", 500),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->operator_revoke(f->st, "nobody", 500),
			 VG_ENOENT);
	b = an_operator("alice", 4, 600);
	assert_int_equal(f->st->ops->operator_add(f->st, &b), VG_EINVAL);
	memset(hash, 2, sizeof(hash));
	assert_int_equal(f->st->ops->operator_by_token_hash(f->st, hash, &got),
			 0);
	assert_string_equal(got.name, "bob-2");

	assert_int_equal(f->st->ops->operator_list(f->st, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "alice");
	assert_int_equal(v[0].revoked, 400);
	assert_string_equal(v[1].name, "bob-2");
	assert_int_equal(v[1].revoked, 0);
	free(v);
}

/* A name that is not a label, or the bootstrap operator's, is refused
 * by every operation that takes one, and nothing is stored. */
static void
test_operators_bad_names_are_einval(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
		"",        "root",     "Alice",
		"al ice",  "al_ice",   "al.ice",
		"alice\n", "\xc3\xa9", "a123456789012345678901234567890123",
	};
	struct store_operator op, got, *v = NULL;
	size_t n = 0;

	/* The last is 34 bytes long. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		op = an_operator("x", (int)i + 1, 0);
		memset(op.name, 0, sizeof(op.name));
		memcpy(op.name, bad[i], strnlen(bad[i], sizeof(op.name) - 1));
		if (strlen(bad[i]) < sizeof(op.name))
			assert_int_equal(f->st->ops->operator_add(f->st, &op),
					 VG_EINVAL);
		assert_int_equal(f->st->ops->operator_get(f->st, bad[i], &got),
				 VG_EINVAL);
		assert_int_equal(f->st->ops->operator_revoke(f->st, bad[i], 0),
				 VG_EINVAL);
	}
	/* 32 bytes is the longest name; 33 is too long. */
	op = an_operator("a1234567890123456789012345678901", 20, 0);
	assert_int_equal(f->st->ops->operator_add(f->st, &op), 0);
	assert_int_equal(
		f->st->ops->operator_get(
			f->st, "a12345678901234567890123456789012", &got),
		VG_EINVAL);
	assert_int_equal(f->st->ops->operator_add(f->st, NULL), VG_EINVAL);
	assert_int_equal(f->st->ops->operator_list(f->st, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_true(v[0].created > 0);
	free(v);
}

/* An operator's row edited into nonsense is VG_ECORRUPT, not a crash. */
static void
test_corrupt_operator_row_is_ecorrupt(void **state)
{
	struct fx *f = *state;
	struct store_operator op = an_operator("alice", 1, 10), got, *v = NULL;
	size_t n = 0;

	assert_int_equal(f->st->ops->operator_add(f->st, &op), 0);
	raw_exec(f->path, "PRAGMA ignore_check_constraints = ON;"
			  "UPDATE operators SET name = 'Al ice'");
	assert_int_equal(
		f->st->ops->operator_by_token_hash(f->st, op.token_hash, &got),
		VG_ECORRUPT);
	assert_int_equal(f->st->ops->operator_list(f->st, &v, &n), VG_ECORRUPT);
	assert_null(v);
}

/* A retraction whose row was edited into nonsense is VG_ECORRUPT. */
static void
test_corrupt_retraction_row_is_ecorrupt(void **state)
{
	struct fx *f = *state;
	const char *sha = sample(7).sha256;
	struct retraction r;
	char cid[37];
	uint64_t n;
	bool nj;

	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 7, &nj), 0);
	client_id(cid, 1);
	assert_int_equal(f->st->ops->fp_report_add(f->st, sha, cid, "fp", 1),
			 0);
	memset(&r, 0, sizeof(r));
	memcpy(r.sha256, sha, 65);
	r.detections = "[\"A\"]";
	r.reason = "r";
	assert_int_equal(f->st->ops->retraction_add(f->st, &r, &n), 0);
	raw_exec(f->path, "PRAGMA ignore_check_constraints = ON;"
			  "UPDATE retractions SET detections = 'A'");
	assert_int_equal(f->st->ops->retraction_get(f->st, sha, &r),
			 VG_ECORRUPT);
}

/* A day's statistics are stored once: a second document of the same day
 * is not stored, and the first is what every later read answers; its
 * log index is recorded once. */
static void
test_stats_document_is_stored_once_and_never_replaced(void **state)
{
	struct fx *f = *state;
	struct stats_day a, b, out;
	bool stored;

	memset(&a, 0, sizeof(a));
	snprintf(a.day, sizeof(a.day), "2026-12-07");
	a.doc = "{\"submissions\":12}";
	a.len = strlen(a.doc);
	a.created = 1796688000;
	b = a;
	b.doc = "{\"submissions\":13}";
	b.len = strlen(b.doc);
	assert_int_equal(f->st->ops->stats_get(f->st, "2026-12-07", &out),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->stats_put(f->st, &a, &out, &stored), 0);
	assert_true(stored);
	assert_string_equal(out.doc, a.doc);
	assert_int_equal(out.len, a.len);
	assert_false(out.logged);
	assert_int_equal(out.created, 1796688000);
	stats_day_clear(&out);
	/* Another document of the same day: refused, the first returned. */
	assert_int_equal(f->st->ops->stats_put(f->st, &b, &out, &stored), 0);
	assert_false(stored);
	assert_string_equal(out.doc, a.doc);
	stats_day_clear(&out);
	assert_int_equal(f->st->ops->stats_get(f->st, "2026-12-07", &out), 0);
	assert_string_equal(out.day, "2026-12-07");
	assert_string_equal(out.doc, a.doc);
	stats_day_clear(&out);
	/* The log index: the first recorded stays. */
	assert_int_equal(f->st->ops->stats_log(f->st, "2026-12-07", 5), 0);
	assert_int_equal(f->st->ops->stats_log(f->st, "2026-12-07", 9), 0);
	assert_int_equal(f->st->ops->stats_get(f->st, "2026-12-07", &out), 0);
	assert_true(out.logged);
	assert_int_equal(out.log_index, 5);
	stats_day_clear(&out);
	assert_int_equal(f->st->ops->stats_log(f->st, "2026-12-06", 5),
			 VG_ENOENT);
	/* Another day is another document. */
	snprintf(b.day, sizeof(b.day), "2026-12-06");
	assert_int_equal(f->st->ops->stats_put(f->st, &b, &out, &stored), 0);
	assert_true(stored);
	assert_string_equal(out.doc, b.doc);
	stats_day_clear(&out);
	/* Refused: days that are not days, documents that are not. */
	snprintf(b.day, sizeof(b.day), "2026-02-30");
	assert_int_equal(f->st->ops->stats_put(f->st, &b, &out, &stored),
			 VG_EINVAL);
	assert_false(stored);
	snprintf(b.day, sizeof(b.day), "2026-12-05");
	b.len = 0;
	assert_int_equal(f->st->ops->stats_put(f->st, &b, &out, &stored),
			 VG_EINVAL);
	b.len = STORE_STATS_DOC_MAX + 1;
	assert_int_equal(f->st->ops->stats_put(f->st, &b, &out, &stored),
			 VG_EINVAL);
	assert_int_equal(f->st->ops->stats_get(f->st, "2026-12-05", &out),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->stats_get(f->st, "20261207", &out),
			 VG_EINVAL);
	assert_int_equal(f->st->ops->stats_get(f->st, NULL, &out), VG_EINVAL);
	assert_int_equal(f->st->ops->stats_log(f->st, "x", 1), VG_EINVAL);
}

struct rows_seen {
	char client[8][37];
	char sha256[8][65];
	int n;
};

static int
rows_cb(const struct stats_row *r, void *ud)
{
	struct rows_seen *s = ud;

	if (s->n == 8)
		return -1;
	snprintf(s->client[s->n], 37, "%s", r->client_id);
	snprintf(s->sha256[s->n], 65, "%s", r->sha256);
	assert_non_null(r->detections);
	s->n++;
	return 0;
}

/* The rows counted for a day: only that day's, each client's first
 * per_client by time, one client's rows together. */
static void
test_stats_rows_are_the_days_first_per_client(void **state)
{
	struct fx *f = *state;
	const int64_t day = 1796601600; /* 2026-12-07T00:00:00Z */
	struct rows_seen s;
	char c1[37], c2[37];

	put_client(f->st, 1);
	put_client(f->st, 2);
	client_id(c1, 1);
	client_id(c2, 2);
	/* Client 1: one the day before, five that day (out of order), one
	 * the day after; client 2: one that day, between client 1's. */
	assert_int_equal(submit_at(f->st, 1, 1, 1, day - 1, NULL), 0);
	assert_int_equal(submit_at(f->st, 2, 1, 2, day + 50, NULL), 0);
	assert_int_equal(submit_at(f->st, 3, 1, 3, day + 10, NULL), 0);
	assert_int_equal(submit_at(f->st, 4, 2, 4, day + 20, NULL), 0);
	assert_int_equal(submit_at(f->st, 5, 1, 5, day + 30, NULL), 0);
	assert_int_equal(submit_at(f->st, 6, 1, 6, day + 40, NULL), 0);
	assert_int_equal(submit_at(f->st, 7, 1, 7, day + 86399, NULL), 0);
	assert_int_equal(submit_at(f->st, 8, 1, 8, day + 86400, NULL), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(f->st->ops->stats_rows_each(f->st, day, day + 86400, 3,
						     rows_cb, &s),
			 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.client[0], c1);
	assert_string_equal(s.sha256[0], sample(3).sha256);
	assert_string_equal(s.client[1], c1);
	assert_string_equal(s.sha256[1], sample(5).sha256);
	assert_string_equal(s.client[2], c1);
	assert_string_equal(s.sha256[2], sample(6).sha256);
	assert_string_equal(s.client[3], c2);
	assert_string_equal(s.sha256[3], sample(4).sha256);
	/* The callback's value stops it. */
	memset(&s, 0, sizeof(s));
	s.n = 8;
	assert_int_equal(f->st->ops->stats_rows_each(f->st, day, day + 86400, 3,
						     rows_cb, &s),
			 -1);
	assert_int_equal(
		f->st->ops->stats_rows_each(f->st, day, day, 3, rows_cb, &s),
		VG_EINVAL);
	assert_int_equal(f->st->ops->stats_rows_each(f->st, day, day + 86400, 0,
						     rows_cb, &s),
			 VG_EINVAL);
}

static void
test_corrupt_stats_row_is_ecorrupt(void **state)
{
	struct fx *f = *state;
	struct stats_day a, out;
	bool stored;

	memset(&a, 0, sizeof(a));
	snprintf(a.day, sizeof(a.day), "2026-12-07");
	a.doc = "{}";
	a.len = 2;
	assert_int_equal(f->st->ops->stats_put(f->st, &a, &out, &stored), 0);
	stats_day_clear(&out);
	raw_exec(f->path, "PRAGMA ignore_check_constraints = ON;"
			  "UPDATE stats SET created = -5");
	assert_int_equal(f->st->ops->stats_get(f->st, "2026-12-07", &out),
			 VG_ECORRUPT);
}

/* A batch of 200 with refused items first, last, side by side and
 * between repeats of one sample: each refused one alone, the others
 * stored with the outcome they would have had one by one. */
static void
test_submission_add_many_refusals_anywhere_in_a_large_batch(void **state)
{
	struct fx *f = *state;
	static struct submission subs[200];
	static struct submission_add it[200];
	static struct hashes h[200], other;
	struct reputation r;
	uint64_t queued = 0;
	int want[200];

	put_client(f->st, 1);
	put_client(f->st, 2);
	/* Sample 150, stored before. */
	assert_int_equal(submit(f->st, 1, 1, 150, NULL), 0);
	memset(subs, 0, sizeof(subs));
	memset(it, 0, sizeof(it));
	for (int i = 0; i < 200; i++) {
		/* Items 100 to 109 report sample 100 by clients 1 and 2. */
		h[i] = sample(i >= 100 && i < 110 ? 100 : i % 256);
		item_fill(&subs[i], &it[i], &h[i], "big", i,
			  i >= 100 && i < 110 ? 1 + i % 2 : 1, "{}");
		want[i] = 0;
	}
	/* Unknown client, first and between the repeats. */
	client_id(subs[0].client_id, 9);
	want[0] = VG_ENOENT;
	client_id(subs[104].client_id, 9);
	want[104] = VG_ENOENT;
	/* Side by side: hashes that disagree with the stored sample 150,
	 * then a malformed hash. */
	h[50] = sample(150);
	other = sample(151);
	memcpy(subs[50].sha256, h[50].sha256, 65);
	it[50].md5 = other.md5;
	it[50].sha1 = h[50].sha1;
	want[50] = VG_EINVAL;
	it[51].md5 = "ABC";
	want[51] = VG_EINVAL;
	/* Last: an id taken by an earlier item of the batch. */
	snprintf(subs[199].id, sizeof(subs[199].id), "big-3");
	want[199] = VG_EINVAL;
	assert_int_equal(
		f->st->ops->submission_add_many(f->st, it, 200, NULL, NULL), 0);
	for (int i = 0; i < 200; i++) {
		if (it[i].rc != want[i])
			fail_msg("item %d: %d, not %d", i, it[i].rc, want[i]);
		assert_true(it[i].have_rep == (want[i] == 0));
	}
	/* Sample 100: one job, queued by the first of its items. */
	assert_true(it[100].new_job);
	for (int i = 101; i < 110; i++)
		assert_false(it[i].new_job);
	assert_int_equal(it[109].rep.prevalence, 2);
	clear_reps(it, 200);
	assert_int_equal(f->st->ops->reputation_get(f->st, h[100].sha256, &r),
			 0);
	assert_int_equal(r.prevalence, 2);
	reputation_clear(&r);
	/* 195 stored, 9 of them of sample 100 (8 repeats) and one of
	 * sample 150, which had its job. */
	assert_int_equal(raw_rows(f->path, "SELECT 1 FROM submissions"),
			 1 + 195);
	assert_int_equal(f->st->ops->jobs_queued(f->st, &queued), 0);
	assert_int_equal(queued, 1 + 195 - 8 - 1);
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(0).sha256, &r),
		VG_ENOENT);
}

/* store_open and store_open_writer open the backend a node's [store]
 * section names; an unknown one is refused. */
static void
test_store_open_opens_the_configured_backend(void **state)
{
	struct fx *f = *state;
	struct store_spec sp;
	struct store *st = NULL;
	char err[256];

	memset(&sp, 0, sizeof(sp));
	if (pg_dsn != NULL) {
		sp.backend = STORE_POSTGRES;
		snprintf(sp.dsn, sizeof(sp.dsn), "%s", pg_dsn);
		snprintf(sp.owner, sizeof(sp.owner), "node-spec");
	} else {
		sp.backend = STORE_SQLITE;
		snprintf(sp.path, sizeof(sp.path), "%s", f->path);
	}
	put_client(f->st, 1);
	assert_int_equal(store_open(&sp, &st, err, sizeof(err)), 0);
	assert_string_equal(st->ops->name,
			    pg_dsn != NULL ? "postgres" : "sqlite");
	assert_int_equal(submit(st, 1, 1, 1, NULL), 0);
	assert_int_equal(st->ops->close(st), 0);
	assert_int_equal(store_open_writer(&sp, &st, err, sizeof(err)), 0);
	assert_int_equal(submit(st, 2, 1, 2, NULL), 0);
	assert_int_equal(st->ops->close(st), 0);
	assert_int_equal(raw_rows(f->path, "SELECT 1 FROM submissions"), 2);
	sp.backend = (enum store_backend)7;
	assert_int_equal(store_open(&sp, &st, err, sizeof(err)), VG_EINVAL);
	assert_null(st);
	assert_int_equal(store_open_writer(&sp, &st, err, sizeof(err)),
			 VG_EINVAL);
	assert_null(st);
}

/* Hostile strings go only as parameters: metadata that would end an SQL
 * string literal, and a long one, come back byte for byte; text that is
 * not UTF-8 is stored as is by SQLite, refused (VG_EINVAL, nothing
 * stored) by PostgreSQL, whose text is UTF-8. */
static void
test_hostile_metadata_round_trips(void **state)
{
	struct fx *f = *state;
	static const char *const hostile[] = {
		"{\"p\":\"'); DROP TABLE submissions; --\"}",
		"{\"p\":\"\\\\'\\\" $1 $$ E'\\\\x00' /* */ ; COMMIT;\"}",
		"{\"p\":\"\xc3\xa9t\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x98\x80\"}",
	};
	struct submission sub, got;
	struct hashes h = sample(9);
	struct reputation r;
	char *big = long_metadata(1024 * 1024, 'q');
	int rc;

	put_client(f->st, 1);
	for (size_t i = 0; i < 4; i++) {
		memset(&sub, 0, sizeof(sub));
		snprintf(sub.id, sizeof(sub.id), "hostile-%zu", i);
		client_id(sub.client_id, 1);
		memcpy(sub.sha256, h.sha256, sizeof(sub.sha256));
		sub.metadata = i < 3 ? (char *)hostile[i] : big;
		sub.created = 1700000000;
		assert_int_equal(f->st->ops->submission_add(f->st, &sub, h.md5,
							    h.sha1, 68, NULL,
							    NULL),
				 0);
		assert_int_equal(
			f->st->ops->submission_get(f->st, sub.id, &got), 0);
		assert_string_equal(got.metadata, sub.metadata);
		submission_clear(&got);
	}
	free(big);
	assert_int_equal(raw_rows(f->path, "SELECT 1 FROM submissions"), 4);

	memset(&sub, 0, sizeof(sub));
	snprintf(sub.id, sizeof(sub.id), "binary");
	client_id(sub.client_id, 1);
	memcpy(sub.sha256, sample(10).sha256, sizeof(sub.sha256));
	sub.metadata = "{\"p\":\"\xff\xfe\x80\x01'\"}";
	rc = f->st->ops->submission_add(f->st, &sub, sample(10).md5,
					sample(10).sha1, 68, NULL, NULL);
	if (pg_dsn != NULL) {
		assert_int_equal(rc, VG_EINVAL);
		assert_int_equal(f->st->ops->reputation_get(
					 f->st, sample(10).sha256, &r),
				 VG_ENOENT);
	} else {
		assert_int_equal(rc, 0);
		assert_int_equal(
			f->st->ops->submission_get(f->st, "binary", &got), 0);
		assert_string_equal(got.metadata, sub.metadata);
		submission_clear(&got);
	}
	/* And the handle goes on. */
	assert_int_equal(f->st->ops->reputation_get(f->st, h.sha256, &r), 0);
	assert_int_equal(r.prevalence, 1);
	reputation_clear(&r);

	/* Hostile ids and reasons, too. */
	{
		struct client c;
		struct fp_summary *v = NULL;
		size_t nv = 0;
		uint8_t tok[32];

		memset(&c, 0, sizeof(c));
		snprintf(c.id, sizeof(c.id), "x'); DROP TABLE clients; --");
		memset(c.token_hash, '\'', sizeof(c.token_hash));
		c.consent = CONSENT_FILES;
		snprintf(c.region, sizeof(c.region), "eu'--");
		assert_int_equal(f->st->ops->client_put(f->st, &c), 0);
		memset(tok, '\'', sizeof(tok));
		assert_int_equal(
			f->st->ops->client_by_token_hash(f->st, tok, &c), 0);
		assert_string_equal(c.id, "x'); DROP TABLE clients; --");
		assert_string_equal(c.region, "eu'--");
		assert_int_equal(f->st->ops->fp_report_add(
					 f->st, h.sha256, c.id,
					 "'); DELETE FROM fp_reports; --", 5),
				 0);
		assert_int_equal(f->st->ops->fp_list(f->st, &v, &nv), 0);
		assert_int_equal(nv, 1);
		assert_string_equal(v[0].reasons[0],
				    "'); DELETE FROM fp_reports; --");
		fp_summaries_free(v, nv);
		client_clear(&c);
	}
	assert_int_equal(raw_rows(f->path, "SELECT 1 FROM clients"), 2);
}

/* job_lease_renew renews this owner's jobs being analysed: none on
 * SQLite, where a node's jobs are its own until it restarts. */
static void
test_job_lease_renew_counts_own_jobs(void **state)
{
	struct fx *f = *state;
	uint64_t n = 99;
	struct job j;

	struct job_held h = {0, false};

	assert_int_equal(f->st->ops->job_lease_renew(f->st, &h, 0, &n), 0);
	assert_int_equal(n, 0);
	one_claimed(f->st, 3, &j);
	h.id = j.id;
	assert_int_equal(f->st->ops->job_lease_renew(f->st, &h, 1, &n), 0);
	assert_int_equal(n, pg_dsn != NULL ? 1 : 0);
	/* Only what is named: a job the node gave up on is left to run
	 * out (a rescan of the same id is another row). */
	assert_int_equal(f->st->ops->job_lease_renew(f->st, &h, 0, &n), 0);
	assert_int_equal(n, 0);
	h.rescan = true;
	assert_int_equal(f->st->ops->job_lease_renew(f->st, &h, 1, &n), 0);
	assert_int_equal(n, 0);
	h.rescan = false;
	assert_int_equal(f->st->ops->job_finish(f->st, j.id, "{}", "clean", 0,
						"[]", NULL, NULL, 1),
			 0);
	job_clear(&j);
	assert_int_equal(f->st->ops->job_lease_renew(f->st, &h, 1, &n), 0);
	assert_int_equal(n, 0);
}

/* PostgreSQL only */

static struct store *
open_owner(const char *owner, unsigned lease_ms)
{
	struct store *st = NULL;
	char err[256];

	if (store_pg_open(pg_dsn, owner, lease_ms, &st, err, sizeof(err)) != 0)
		fail_msg("store_pg_open: %s", err);
	return st;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* A job locked by another node's claim in flight is passed over (SKIP
 * LOCKED), not waited for; two nodes claiming in turn never get the
 * same job. */
static void
test_pg_two_owners_never_claim_the_same_job(void **state)
{
	struct fx *f = *state;
	struct store *a = f->st, *b = open_owner("node-b", 0);
	int64_t seen[32];
	PGconn *c = raw_pg();
	struct job j;
	int n = 0, rc;

	put_client(a, 1);
	for (int k = 1; k <= 20; k++)
		assert_int_equal(submit_at(a, k, 1, k, 1700000000 + k, NULL),
				 0);
	/* Another session holds the oldest job's row, as a claim in
	 * flight would. */
	pg_run(c, "BEGIN");
	pg_run(c, "SELECT id FROM jobs WHERE state = 0 ORDER BY updated, id"
		  " LIMIT 1 FOR UPDATE");
	assert_int_equal(b->ops->job_claim(b, &j), 0);
	assert_string_equal(j.sha256, sample(2).sha256);
	seen[n++] = j.id;
	job_clear(&j);
	pg_run(c, "COMMIT");
	PQfinish(c);
	for (;;) {
		struct store *st = n % 2 ? a : b;

		if ((rc = st->ops->job_claim(st, &j)) != 0)
			break;
		for (int i = 0; i < n; i++)
			assert_true(seen[i] != j.id);
		assert_true(n < 32);
		seen[n++] = j.id;
		job_clear(&j);
	}
	assert_int_equal(rc, VG_ENOENT);
	assert_int_equal(n, 20);
	assert_int_equal(b->ops->close(b), 0);
}

/* A node that stops renewing loses its job to another once the lease
 * runs out; its result is then refused. */
static void
test_pg_expired_lease_is_taken_over(void **state)
{
	struct fx *f = *state;
	struct store *a = open_owner("node-a", 200),
		     *b = open_owner("node-b", 0);
	struct job ja, jb;
	bool changed;

	one_sample(f->st, 4);
	assert_int_equal(a->ops->job_claim(a, &ja), 0);
	assert_int_equal(b->ops->job_claim(b, &jb), VG_ENOENT);
	/* Another node's live job is not requeued by b's start. */
	assert_int_equal(b->ops->job_requeue_stale(b), 0);
	assert_int_equal(b->ops->job_claim(b, &jb), VG_ENOENT);
	sleep_ms(300);
	assert_int_equal(b->ops->job_claim(b, &jb), 0);
	assert_int_equal(jb.id, ja.id);
	assert_int_equal(jb.attempts, 2);
	assert_int_equal(a->ops->job_finish(a, ja.id, "{}", "malicious", 100,
					    "[\"X\"]", NULL, NULL, 1),
			 VG_EINVAL);
	assert_non_null(strstr(a->err, "node-b"));
	assert_int_equal(a->ops->job_fail(a, ja.id, "late", 3), VG_EINVAL);
	assert_int_equal(b->ops->job_finish(b, jb.id, "{}", "clean", 0, "[]",
					    NULL, NULL, 1),
			 0);
	job_clear(&ja);
	job_clear(&jb);

	/* Rescans are leased the same way. */
	raw_exec(f->path, "UPDATE samples SET blob_segment = 1,"
			  " blob_offset = 0, blob_length = 68");
	assert_int_equal(a->ops->rescan_queue(a, GEN_A, &(uint64_t){0}), 0);
	assert_int_equal(a->ops->job_claim(a, &ja), 0);
	assert_true(ja.rescan);
	assert_int_equal(b->ops->job_claim(b, &jb), VG_ENOENT);
	sleep_ms(300);
	assert_int_equal(b->ops->job_claim(b, &jb), 0);
	assert_true(jb.rescan);
	assert_int_equal(a->ops->rescan_finish(a, ja.id, "{}", "malicious", 100,
					       "[]", NULL, NULL, 1, &changed),
			 VG_EINVAL);
	assert_int_equal(a->ops->rescan_fail(a, ja.id, 3, &changed), VG_EINVAL);
	assert_int_equal(b->ops->rescan_finish(b, jb.id, "{}", "malicious", 100,
					       "[]", NULL, NULL, 1, &changed),
			 0);
	assert_true(changed);
	assert_int_equal(a->ops->close(a), 0);
	assert_int_equal(b->ops->close(b), 0);
}

/* Renewing keeps a short lease alive past its length. */
static void
test_pg_lease_renew_keeps_the_job(void **state)
{
	struct fx *f = *state;
	struct store *a = open_owner("node-a", 300),
		     *b = open_owner("node-b", 0);
	struct job ja, jb;
	uint64_t n;

	one_sample(f->st, 5);
	assert_int_equal(a->ops->job_claim(a, &ja), 0);
	for (int i = 0; i < 5; i++) {
		sleep_ms(150);
		struct job_held h = {ja.id, false};

		assert_int_equal(a->ops->job_lease_renew(a, &h, 1, &n), 0);
		assert_int_equal(n, 1);
		assert_int_equal(b->ops->job_claim(b, &jb), VG_ENOENT);
	}
	assert_int_equal(a->ops->job_finish(a, ja.id, "{}", "clean", 0, "[]",
					    NULL, NULL, 1),
			 0);
	job_clear(&ja);
	assert_int_equal(b->ops->job_claim(b, &jb), VG_ENOENT);
	assert_int_equal(a->ops->close(a), 0);
	assert_int_equal(b->ops->close(b), 0);
}

/* A submission of a sample whose job is being finished (its row locked
 * by job_finish's transaction, which then updates the sample) does not
 * wait for it: else each would wait for the other. */
static void
test_pg_submission_does_not_wait_for_a_job_being_finished(void **state)
{
	struct fx *f = *state;
	PGconn *c = raw_pg();
	int status = -1;
	pid_t pid;

	put_client(f->st, 1);
	put_client(f->st, 2);
	assert_int_equal(submit(f->st, 1, 1, 5, NULL), 0);
	pg_run(c, "BEGIN");
	pg_run(c, "UPDATE jobs SET updated = updated + 1");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st;
		char err[256];

		if (store_pg_open(pg_dsn, "node-b", 0, &st, err, sizeof(err)) !=
		    0)
			_exit(2);
		_exit(submit(st, 2, 2, 5, NULL) == 0 ? 0 : 1);
	}
	for (int waited = 0; waited < 10000; waited += 20) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		sleep_ms(20);
	}
	/* The job's transaction goes on to the sample, and ends. */
	pg_run(c, "UPDATE samples SET score = 1");
	pg_run(c, "COMMIT");
	PQfinish(c);
	if (status == -1)
		assert_int_equal(waitpid(pid, &status, 0), pid);
	else
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(raw_rows(f->path, "SELECT 1 FROM submissions"), 2);
}

/* The same for a rescan finished while the sample's first analysis is
 * being finished: the rescan writes its report into a finished job
 * only, and the job being finished is not one yet for it, so it does not
 * wait for the job's row. */
static void
test_pg_rescan_finish_does_not_wait_for_a_job_being_finished(void **state)
{
	struct fx *f = *state;
	struct store *b = open_owner("node-b", 0);
	PGconn *c = raw_pg();
	int status = -1;
	uint64_t n = 0;
	struct job ja, jb;
	pid_t pid;

	one_sample(f->st, 6);
	assert_int_equal(f->st->ops->job_claim(f->st, &ja), 0);
	raw_exec(f->path, "UPDATE samples SET blob_segment = 1,"
			  " blob_offset = 0, blob_length = 68");
	assert_int_equal(f->st->ops->rescan_queue(f->st, GEN_A, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(b->ops->job_claim(b, &jb), 0);
	assert_true(jb.rescan);
	/* job_finish's transaction, half way: the job's row is locked. */
	pg_run(c, "BEGIN");
	pg_run(c, "UPDATE jobs SET state = 2, report = '{}'");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st;
		char err[256];
		bool changed;

		if (store_pg_open(pg_dsn, "node-b", 0, &st, err, sizeof(err)) !=
		    0)
			_exit(2);
		_exit(st->ops->rescan_finish(st, jb.id, "{\"r\":1}",
					     "malicious", 100, "[]", NULL, NULL,
					     1, &changed) == 0
			      ? 0
			      : 1);
	}
	for (int waited = 0; waited < 10000; waited += 20) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		sleep_ms(20);
	}
	pg_run(c, "UPDATE samples SET score = 1");
	pg_run(c, "COMMIT");
	PQfinish(c);
	if (status == -1)
		assert_int_equal(waitpid(pid, &status, 0), pid);
	else
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(WIFEXITED(status));
	job_clear(&ja);
	job_clear(&jb);
	assert_int_equal(b->ops->close(b), 0);
}

/* The next notification on c within 5 s into payload; false if none. */
static bool
next_notify(PGconn *c, char *chan, size_t chanlen, char *payload, size_t n)
{
	for (int waited = 0; waited < 5000; waited += 50) {
		PGnotify *nt;
		struct pollfd pfd = {PQsocket(c), POLLIN, 0};

		assert_int_equal(PQconsumeInput(c), 1);
		if ((nt = PQnotifies(c)) != NULL) {
			snprintf(chan, chanlen, "%s", nt->relname);
			snprintf(payload, n, "%s", nt->extra);
			PQfreemem(nt);
			return true;
		}
		(void)poll(&pfd, 1, 50);
	}
	return false;
}

/* Changes to reputation rows and retractions are notified at commit,
 * with the SHA-256s, in payloads under 7,900 bytes. */
static void
test_pg_changes_are_notified(void **state)
{
	struct fx *f = *state;
	static struct batch64 b[4];
	static char payload[8192];
	char chan[64], cid[37], *meta = "{}";
	struct retraction r;
	PGconn *c = raw_pg();
	struct job j;
	uint64_t n;
	size_t got = 0;

	pg_run(c, "LISTEN vigil_reputation");
	pg_run(c, "LISTEN vigil_retraction");
	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 7, NULL), 0);
	assert_true(
		next_notify(c, chan, sizeof(chan), payload, sizeof(payload)));
	assert_string_equal(chan, "vigil_reputation");
	assert_string_equal(payload, sample(7).sha256);

	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_int_equal(f->st->ops->job_finish(f->st, j.id, "{}", "malicious",
						100, "[\"A\"]", NULL, NULL, 1),
			 0);
	job_clear(&j);
	assert_true(
		next_notify(c, chan, sizeof(chan), payload, sizeof(payload)));
	assert_string_equal(chan, "vigil_reputation");
	assert_string_equal(payload, sample(7).sha256);

	client_id(cid, 1);
	assert_int_equal(f->st->ops->fp_report_add(f->st, sample(7).sha256, cid,
						   "fp", 0),
			 0);
	memset(&r, 0, sizeof(r));
	memcpy(r.sha256, sample(7).sha256, 65);
	r.log_index = 3;
	r.detections = "[\"A\"]";
	r.reason = "vendor";
	assert_int_equal(f->st->ops->retraction_add(f->st, &r, &n), 0);
	assert_true(
		next_notify(c, chan, sizeof(chan), payload, sizeof(payload)));
	assert_string_equal(chan, "vigil_retraction");
	assert_string_equal(payload, sample(7).sha256);
	assert_int_equal(f->st->ops->retraction_undo(f->st, r.sha256, 4), 0);
	assert_true(
		next_notify(c, chan, sizeof(chan), payload, sizeof(payload)));
	assert_string_equal(chan, "vigil_retraction");

	/* 256 submissions in one batch: every SHA-256 once, in payloads
	 * that stay under the limit. */
	for (int i = 0; i < 4; i++) {
		char prefix[16];

		snprintf(prefix, sizeof(prefix), "n%d", i);
		batch64_fill(&b[i], prefix, meta);
		for (int k = 0; k < 64; k++) {
			b[i].h[k] = sample(0);
			snprintf(b[i].h[k].sha256, 65, "%02x%02x%060d", i, k,
				 3);
			memcpy(b[i].subs[k].sha256, b[i].h[k].sha256, 65);
		}
	}
	{
		static struct submission_add all[256];

		for (int i = 0; i < 256; i++)
			all[i] = b[i / 64].it[i % 64];
		assert_int_equal(f->st->ops->submission_add_many(
					 f->st, all, 256, NULL, NULL),
				 0);
		for (int i = 0; i < 256; i++) {
			assert_int_equal(all[i].rc, 0);
			reputation_clear(&all[i].rep);
		}
	}
	/* In the batch's order by SHA-256, which is the order made here. */
	while (got < 256) {
		char *p = payload;

		assert_true(next_notify(c, chan, sizeof(chan), payload,
					sizeof(payload)));
		assert_string_equal(chan, "vigil_reputation");
		assert_true(strlen(payload) < 7900);
		for (;;) {
			char want[65];

			snprintf(want, sizeof(want), "%02x%02x%060d",
				 (int)(got / 64), (int)(got % 64), 3);
			assert_memory_equal(p, want, 64);
			got++;
			if (p[64] == '\0')
				break;
			assert_int_equal(p[64], ' ');
			p += 65;
		}
	}
	assert_int_equal(got, 256);
	PQfinish(c);
}

/* Opening twice migrates once; a database a newer vigil wrote is
 * refused, not touched. */
static void
test_pg_migrations_are_idempotent_and_newer_is_refused(void **state)
{
	struct fx *f = *state;
	struct store *st = NULL;
	char v[64], err[256];

	st = open_owner("node-b", 0);
	assert_int_equal(st->ops->close(st), 0);
	raw_text(f->path,
		 "SELECT version FROM vigil_schema WHERE component = 'store'",
		 v, sizeof(v));
	assert_string_equal(v, "5");
	put_client(f->st, 1);
	raw_exec(f->path, "UPDATE vigil_schema SET version = 1000"
			  " WHERE component = 'store'");
	assert_int_equal(store_pg_open(pg_dsn, OWNER, 0, &st, err, sizeof(err)),
			 VG_EINVAL);
	assert_null(st);
	assert_non_null(strstr(err, "newer"));
	assert_int_equal(raw_rows(f->path, "SELECT 1 FROM clients"), 1);
}

/* Ends the store handles' sessions from another connection, as a
 * failover or a server restart would. */
static void
terminate_store_sessions(void)
{
	PGconn *c = raw_pg();

	pg_run(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
		  " WHERE application_name LIKE 'vigil store %'");
	PQfinish(c);
}

/* A lost session fails the operation in flight (or the next), never
 * crashes, and the handle works again after reconnecting. */
static void
test_pg_lost_session_reconnects(void **state)
{
	struct fx *f = *state;
	struct reputation r;
	char v[16];
	struct job j;
	int rc;

	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 1, NULL), 0);
	assert_int_equal(f->st->ops->set_synced(f->st, false), 0);
	terminate_store_sessions();
	rc = f->st->ops->reputation_get(f->st, sample(1).sha256, &r);
	assert_true(rc == 0 || rc == VG_EIO);
	if (rc == 0)
		reputation_clear(&r);
	else
		assert_true(strlen(f->st->err) > 0);
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(1).sha256, &r), 0);
	reputation_clear(&r);
	/* One session again, the new one. */
	raw_text(f->path,
		 "SELECT count(*) FROM pg_stat_activity"
		 " WHERE application_name = 'vigil store " OWNER "'",
		 v, sizeof(v));
	assert_string_equal(v, "1");

	/* Lost under each kind of operation: a batch, a claim, an each. */
	terminate_store_sessions();
	rc = submit(f->st, 2, 1, 2, NULL);
	assert_true(rc == 0 || rc == VG_EIO);
	assert_int_equal(submit(f->st, 3, 1, 3, NULL), 0);
	terminate_store_sessions();
	rc = f->st->ops->job_claim(f->st, &j);
	assert_true(rc == 0 || rc == VG_EIO);
	if (rc == 0)
		job_clear(&j);
	assert_int_equal(f->st->ops->job_requeue_stale(f->st), 0);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	job_clear(&j);
	terminate_store_sessions();
	rc = f->st->ops->reputation_each(f->st, visit, &(size_t){0});
	assert_true(rc == 0 || rc == VG_EIO);
	assert_int_equal(
		f->st->ops->reputation_get(f->st, sample(3).sha256, &r), 0);
	reputation_clear(&r);
}

/* A DSN with no server behind it: VG_EIO at open, with the reason. */
static void
test_pg_unreachable_server_is_eio(void **state)
{
	struct store *st = NULL;
	char err[256];

	(void)state;
	assert_int_equal(store_pg_open("host=127.0.0.1 port=1 dbname=x"
				       " connect_timeout=2",
				       OWNER, 0, &st, err, sizeof(err)),
			 VG_EIO);
	assert_null(st);
	assert_true(strlen(err) > 0);
	assert_int_equal(store_pg_open(pg_dsn, "", 0, &st, err, sizeof(err)),
			 VG_EINVAL);
}

/* Runs script with tests/pg/pglib.sh's functions, $P the test cluster's
 * directory (pg-run's VIGIL_TEST_PG_DIR) and $T its parent; returns its
 * exit status, -1 when pg-run did not say where the cluster is. */
static int
pglib(const char *script)
{
	const char *src = getenv("VIGIL_SOURCE_DIR");
	const char *dir = getenv("VIGIL_TEST_PG_DIR");
	char cmd[4096];
	int st;

	if (src == NULL || dir == NULL)
		return -1;
	snprintf(
		cmd, sizeof(cmd),
		"set -e; . '%s/tests/pg/pglib.sh'; P='%s'; T=$(dirname \"$P\");"
		" %s",
		src, dir, script);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Back to the cluster of the other tests: the standby stopped and gone,
 * the old primary started again, waiting for no standby. */
static int
failover_teardown(void **state)
{
	(void)pglib("pg_stop \"$T/standby\" immediate; rm -rf \"$T/standby\";"
		    " pg_start \"$P\" 2>/dev/null || true;"
		    " pg_psql \"$P\" -c 'ALTER SYSTEM RESET"
		    " synchronous_standby_names'"
		    " -c 'ALTER SYSTEM RESET synchronous_commit'"
		    " -c 'SELECT pg_reload_conf()' >/dev/null");
	return teardown(state);
}

/* The region's two sites: the primary dies, the synchronous standby is
 * promoted. Every submission acknowledged before is there, and the same
 * handle (a DSN naming both hosts) works on the new primary after one
 * failed operation at most. */
static void
test_pg_failover_loses_no_acknowledged_submission(void **state)
{
	struct fx *f = *state;
	char dsn[1024], p1[16], p2[16];
	struct store *st = NULL;
	struct reputation r;
	char err[256];
	FILE *fp;
	int rc;

	if (pglib("true") != 0)
		skip();
	assert_int_equal(pglib("pg_standby \"$P\" \"$T/standby\""
			       " \"$(pg_free_port)\" standby1 &&"
			       " pg_sync \"$P\" standby1"),
			 0);
	raw_text(f->path, "SHOW port", p1, sizeof(p1));
	snprintf(dsn, sizeof(dsn), "%s/../standby/port",
		 getenv("VIGIL_TEST_PG_DIR"));
	assert_non_null(fp = fopen(dsn, "r"));
	assert_non_null(fgets(p2, sizeof(p2), fp));
	fclose(fp);
	p2[strcspn(p2, "\n")] = '\0';
	snprintf(dsn, sizeof(dsn),
		 "host=127.0.0.1,127.0.0.1 port=%s,%s dbname=vigil user=vigil"
		 " connect_timeout=2",
		 p1, p2);
	assert_int_equal(store_pg_open(dsn, "node-z", 0, &st, err, sizeof(err)),
			 0);
	put_client(st, 1);
	for (int k = 1; k <= 10; k++)
		assert_int_equal(submit(st, k, 1, k, NULL), 0);

	assert_int_equal(pglib("pg_stop \"$P\" immediate &&"
			       " pg_promote \"$T/standby\""),
			 0);
	rc = submit(st, 11, 1, 11, NULL);
	assert_true(rc == 0 || rc == VG_EIO);
	assert_int_equal(submit(st, 12, 1, 12, NULL), 0);
	for (int k = 1; k <= 10; k++) {
		assert_int_equal(
			st->ops->reputation_get(st, sample(k).sha256, &r), 0);
		reputation_clear(&r);
	}
	assert_int_equal(st->ops->reputation_get(st, sample(12).sha256, &r), 0);
	reputation_clear(&r);
	assert_int_equal(st->ops->close(st), 0);
}

/* The data subject's controls (store.h: client_consent_set,
 * client_delete, client_list). */

/* Submission subn of client n, reporting sample k with its bytes at
 * segment 5, offset 1000 * k. */
static void
submit_stored(struct store *st, int subn, int n, int k)
{
	struct sample_loc loc = {5, 1000 * (uint64_t)k, 200};

	assert_int_equal(submit_loc(st, subn, n, k, 1700000100, &loc, NULL),
			 0);
}

static uint64_t
prevalence_of(struct store *st, int k)
{
	struct reputation r;
	struct hashes h = sample(k);
	uint64_t p;

	assert_int_equal(st->ops->reputation_get(st, h.sha256, &r), 0);
	p = r.prevalence;
	reputation_clear(&r);
	return p;
}

static int
located(struct store *st, int k)
{
	struct sample_loc loc;
	struct hashes h = sample(k);

	return st->ops->sample_locate(st, h.sha256, &loc);
}

static size_t
listed(struct store *st, int n)
{
	struct client_sub *v;
	size_t cnt;
	char id[37];

	client_id(id, n);
	assert_int_equal(st->ops->client_list(st, id, "", 100, &v, &cnt), 0);
	client_subs_free(v, cnt);
	return cnt;
}

/* Lowering to metadata erases the bytes of the samples only this client
 * sent (their locations handed back), keeps those another client sent
 * too, and keeps submissions and prevalence. */
static void
test_consent_metadata_erases_bytes_only_this_client_sent(void **state)
{
	struct fx *f = *state;
	struct erasure e;
	struct job j;
	char id[37];

	put_client(f->st, 1);
	put_client(f->st, 2);
	submit_stored(f->st, 1, 1, 1); /* client 1 alone */
	submit_stored(f->st, 2, 1, 2); /* both */
	assert_int_equal(submit(f->st, 3, 2, 2, NULL), 0);
	client_id(id, 1);
	assert_int_equal(f->st->ops->client_consent_set(f->st, id,
							CONSENT_METADATA, &e),
			 0);
	assert_int_equal(e.erased, 1);
	assert_int_equal(e.locs[0].segment, 5);
	assert_int_equal(e.locs[0].offset, 1000);
	assert_int_equal(e.locs[0].length, 200);
	assert_int_equal(e.submissions, 0);
	assert_int_equal(e.unlinked, 0);
	erasure_clear(&e);
	assert_null(e.locs);
	assert_int_equal(located(f->st, 1), VG_ENOENT);
	assert_int_equal(located(f->st, 2), 0);
	/* Its queued job ends, failed, with a reason; the queue is empty
	 * of it. */
	assert_int_equal(f->st->ops->job_get_by_sha256(f->st, sample(1).sha256,
						       &j),
			 0);
	assert_int_equal(j.state, JOB_FAILED);
	assert_string_equal(j.error, "sample erased");
	job_clear(&j);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_string_equal(j.sha256, sample(2).sha256);
	job_clear(&j);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), VG_ENOENT);
	assert_int_equal(prevalence_of(f->st, 1), 1);
	assert_int_equal(prevalence_of(f->st, 2), 2);
	assert_int_equal(listed(f->st, 1), 2);
	/* The record is pending until the caller says it is erased: what a
	 * crash in between leaves is found again. */
	{
		struct sample_loc *p = NULL, done = {5, 1000, 200};
		size_t np = 9;

		assert_int_equal(f->st->ops->erasures_pending(f->st, 10, &p,
							      &np),
				 0);
		assert_int_equal(np, 1);
		assert_int_equal(p[0].segment, 5);
		assert_int_equal(p[0].offset, 1000);
		assert_int_equal(p[0].length, 200);
		free(p);
		assert_int_equal(f->st->ops->erasure_done(f->st, &done), 0);
		assert_int_equal(f->st->ops->erasure_done(f->st, &done), 0);
		assert_int_equal(f->st->ops->erasures_pending(f->st, 10, &p,
							      &np),
				 0);
		assert_int_equal(np, 0);
		free(p);
		assert_int_equal(f->st->ops->erasures_pending(f->st, 0, &p,
							      &np),
				 VG_EINVAL);
	}
	/* Again: nothing more to erase. */
	assert_int_equal(f->st->ops->client_consent_set(f->st, id,
							CONSENT_METADATA, &e),
			 0);
	assert_int_equal(e.erased, 0);
	erasure_clear(&e);
}

/* Lowering to none erases the submissions and links too: prevalence
 * goes down by one, the other client's sample keeps its bytes. */
static void
test_consent_none_erases_submissions_and_prevalence(void **state)
{
	struct fx *f = *state;
	struct erasure e;
	char id[37];

	put_client(f->st, 1);
	put_client(f->st, 2);
	submit_stored(f->st, 1, 1, 1);
	submit_stored(f->st, 2, 1, 2);
	assert_int_equal(submit(f->st, 3, 2, 2, NULL), 0);
	assert_int_equal(submit(f->st, 4, 1, 2, NULL), 0);
	client_id(id, 1);
	assert_int_equal(f->st->ops->fp_report_add(f->st, sample(2).sha256, id,
						   "not malware", 0),
			 0);
	assert_int_equal(f->st->ops->client_consent_set(f->st, id,
							CONSENT_NONE, &e),
			 0);
	{
		uint64_t open = 9;

		/* Its report named one of its files: gone too. */
		assert_int_equal(f->st->ops->fp_open_count(f->st,
							   sample(2).sha256,
							   &open),
				 0);
		assert_int_equal(open, 0);
	}
	assert_int_equal(e.erased, 1);
	assert_int_equal(e.submissions, 3);
	assert_int_equal(e.unlinked, 2);
	/* Both, in any order. */
	assert_true((strcmp(e.changed[0], sample(1).sha256) == 0 &&
		     strcmp(e.changed[1], sample(2).sha256) == 0) ||
		    (strcmp(e.changed[0], sample(2).sha256) == 0 &&
		     strcmp(e.changed[1], sample(1).sha256) == 0));
	erasure_clear(&e);
	assert_int_equal(located(f->st, 1), VG_ENOENT);
	assert_int_equal(located(f->st, 2), 0);
	assert_int_equal(prevalence_of(f->st, 1), 0);
	assert_int_equal(prevalence_of(f->st, 2), 1);
	assert_int_equal(listed(f->st, 1), 0);
	assert_int_equal(listed(f->st, 2), 1);
	/* The client stays, with its new consent. */
	{
		struct client c;
		uint8_t th[32];

		memset(th, 1, sizeof(th));
		assert_int_equal(f->st->ops->client_by_token_hash(f->st, th,
								  &c),
				 0);
		assert_int_equal(c.consent, CONSENT_NONE);
	}
	/* Raising it back erases nothing. */
	assert_int_equal(f->st->ops->client_consent_set(f->st, id,
							CONSENT_FILES, &e),
			 0);
	assert_int_equal(e.erased + e.submissions + e.unlinked, 0);
	erasure_clear(&e);
}

/* Delete: everything of the client goes, its token with it; what
 * another client sent stays, one less prevalent. */
static void
test_client_delete_removes_everything_and_the_token(void **state)
{
	struct fx *f = *state;
	struct erasure e;
	struct client c;
	uint8_t th[32];
	char id[37];

	put_client(f->st, 1);
	put_client(f->st, 2);
	submit_stored(f->st, 1, 1, 1);
	submit_stored(f->st, 2, 2, 2);
	assert_int_equal(submit(f->st, 3, 1, 2, NULL), 0);
	client_id(id, 1);
	assert_int_equal(f->st->ops->fp_report_add(f->st, sample(2).sha256, id,
						   "not malware", 0),
			 0);
	{
		struct client_fp *fp;
		size_t nfp;

		assert_int_equal(f->st->ops->client_fp_list(f->st, id, 10, &fp,
							    &nfp),
				 0);
		assert_int_equal(nfp, 1);
		assert_string_equal(fp[0].sha256, sample(2).sha256);
		assert_string_equal(fp[0].reason, "not malware");
		assert_int_equal(fp[0].state, FP_OPEN);
		client_fps_free(fp, nfp);
	}
	assert_int_equal(f->st->ops->client_delete(f->st, id, &e), 0);
	assert_int_equal(e.erased, 1);
	assert_int_equal(e.submissions, 2);
	assert_int_equal(e.unlinked, 2);
	erasure_clear(&e);
	memset(th, 1, sizeof(th));
	assert_int_equal(f->st->ops->client_by_token_hash(f->st, th, &c),
			 VG_ENOENT);
	assert_int_equal(listed(f->st, 1), 0);
	assert_int_equal(located(f->st, 1), VG_ENOENT);
	assert_int_equal(located(f->st, 2), 0);
	assert_int_equal(prevalence_of(f->st, 2), 1);
	{
		uint64_t n = 9;

		assert_int_equal(f->st->ops->fp_open_count(f->st,
							   sample(2).sha256,
							   &n),
				 0);
		assert_int_equal(n, 0);
	}
	{
		struct client_fp *fp;
		size_t nfp = 9;

		assert_int_equal(f->st->ops->client_fp_list(f->st, id, 10, &fp,
							    &nfp),
				 0);
		assert_int_equal(nfp, 0);
		client_fps_free(fp, nfp);
	}
	/* Gone: a second delete, a consent change, find no client. */
	assert_int_equal(f->st->ops->client_delete(f->st, id, &e), VG_ENOENT);
	assert_int_equal(f->st->ops->client_consent_set(f->st, id,
							CONSENT_FILES, &e),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->client_delete(f->st, "", &e), VG_EINVAL);
	assert_int_equal(f->st->ops->client_consent_set(f->st, "x",
							(enum consent)7, &e),
			 VG_EINVAL);
	/* The other client goes on. */
	assert_int_equal(listed(f->st, 2), 1);
}

/* The list: oldest first, in pages after an id, with each sample's
 * reputation; another client's submissions never. */
static void
test_client_list_pages_own_submissions(void **state)
{
	struct fx *f = *state;
	struct client_sub *v;
	size_t n;
	char id[37];

	put_client(f->st, 1);
	put_client(f->st, 2);
	for (int i = 1; i <= 5; i++)
		assert_int_equal(submit(f->st, i, 1, i, NULL), 0);
	assert_int_equal(submit(f->st, 6, 2, 1, NULL), 0);
	client_id(id, 1);
	assert_int_equal(f->st->ops->client_list(f->st, id, "", 3, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].sub.id,
			    "11111111-0000-4000-8000-000000000001");
	assert_string_equal(v[0].sub.client_id, id);
	assert_string_equal(v[0].sub.metadata, "{\"path\":\"C:\\\\x.exe\"}");
	assert_string_equal(v[0].rep.sha256, sample(1).sha256);
	assert_string_equal(v[0].rep.md5, sample(1).md5);
	assert_string_equal(v[0].rep.verdict, "unknown");
	assert_int_equal(v[0].rep.prevalence, 2);
	assert_int_equal(v[2].rep.size, 68);
	client_subs_free(v, n);
	assert_int_equal(f->st->ops->client_list(
				 f->st, id, "11111111-0000-4000-8000-000000000003",
				 3, &v, &n),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[1].sub.id,
			    "11111111-0000-4000-8000-000000000005");
	client_subs_free(v, n);
	assert_int_equal(f->st->ops->client_list(f->st, id, "", 0, &v, &n),
			 VG_EINVAL);
	assert_int_equal(f->st->ops->client_list(f->st, id, "",
						 STORE_CLIENT_LIST_MAX + 1, &v,
						 &n),
			 VG_EINVAL);
}

/* Metadata without bytes counts for prevalence, queues no job; bytes
 * sent later by another client queue it. */
static void
test_metadata_without_bytes_counts_and_queues_no_job(void **state)
{
	struct fx *f = *state;
	struct submission sub;
	struct submission_add it;
	struct hashes h = sample(9);
	struct sample_loc loc = {5, 0, 200};
	struct job j;

	put_client(f->st, 1);
	put_client(f->st, 2);
	memset(&sub, 0, sizeof(sub));
	memset(&it, 0, sizeof(it));
	snprintf(sub.id, sizeof(sub.id), "11111111-0000-4000-8000-%012d", 1);
	client_id(sub.client_id, 1);
	memcpy(sub.sha256, h.sha256, sizeof(sub.sha256));
	sub.metadata = "{\"name\":\"x.exe\"}";
	it.sub = &sub;
	/* Stated wrong: the bytes, when they come, correct it. */
	it.md5 = sample(8).md5;
	it.sha1 = h.sha1;
	it.size = 68;
	it.no_bytes = true;
	assert_int_equal(f->st->ops->submission_add_many(f->st, &it, 1, NULL,
							 NULL),
			 0);
	assert_int_equal(it.rc, 0);
	assert_false(it.new_job);
	assert_true(it.have_rep);
	assert_int_equal(it.rep.prevalence, 1);
	reputation_clear(&it.rep);
	assert_int_equal(prevalence_of(f->st, 9), 1);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), VG_ENOENT);
	assert_int_equal(located(f->st, 9), VG_ENOENT);
	/* No bytes and a location: refused. */
	it.loc = &loc;
	snprintf(sub.id, sizeof(sub.id), "11111111-0000-4000-8000-%012d", 2);
	assert_int_equal(f->st->ops->submission_add_many(f->st, &it, 1, NULL,
							 NULL),
			 0);
	assert_int_equal(it.rc, VG_EINVAL);
	/* Another client's bytes: their hashes replace the statement. */
	assert_int_equal(submit_loc(f->st, 3, 2, 9, 1700000100, &loc, NULL),
			 0);
	assert_int_equal(prevalence_of(f->st, 9), 2);
	{
		struct reputation r;

		assert_int_equal(f->st->ops->reputation_get(f->st, h.sha256,
							    &r),
				 0);
		assert_string_equal(r.md5, h.md5);
		reputation_clear(&r);
	}
	/* Once the bytes are there, a disagreeing statement is refused. */
	it.loc = NULL;
	snprintf(sub.id, sizeof(sub.id), "11111111-0000-4000-8000-%012d", 4);
	assert_int_equal(f->st->ops->submission_add_many(f->st, &it, 1, NULL,
							 NULL),
			 0);
	assert_int_equal(it.rc, VG_EINVAL);
	assert_int_equal(located(f->st, 9), 0);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_string_equal(j.sha256, h.sha256);
	job_clear(&j);
}

/* Retention (store.h: retention_sweep). */

/* Sample k, stored at segment 5, offset 1000 * k, sent by client n as
 * submission subn at time t. */
static void
submit_stored_at(struct store *st, int subn, int n, int k, int64_t t)
{
	struct sample_loc loc = {5, 1000 * (uint64_t)k, 200};

	assert_int_equal(submit_loc(st, subn, n, k, t, &loc, NULL), 0);
}

/* The bytes of a sample last seen before the cut-off go (their
 * locations handed back and pending, their queued job failed); one last
 * seen at the cut-off, or sent again since, stays. Submissions, links
 * and prevalence are the metadata's, untouched. */
static void
test_retention_erases_bytes_last_seen_before_the_cutoff(void **state)
{
	struct fx *f = *state;
	struct retention r;
	struct sample_loc *p = NULL;
	size_t np = 0;
	struct job j;

	put_client(f->st, 1);
	put_client(f->st, 2);
	submit_stored_at(f->st, 1, 1, 1, 1000);
	submit_stored_at(f->st, 2, 1, 2, 1000);
	assert_int_equal(submit_at(f->st, 3, 2, 2, 2000, NULL), 0);
	submit_stored_at(f->st, 4, 1, 3, 1999);
	submit_stored_at(f->st, 5, 2, 4, 2000);
	assert_int_equal(f->st->ops->retention_sweep(f->st, 2000, 0, 100, &r),
			 0);
	assert_false(r.busy);
	assert_int_equal(r.erased, 2);
	assert_int_equal(r.locs[0].offset + r.locs[1].offset, 1000 + 3000);
	assert_int_equal(r.locs[0].segment, 5);
	assert_int_equal(r.locs[1].length, 200);
	assert_int_equal(r.submissions, 0);
	assert_int_equal(r.unlinked, 0);
	assert_int_equal(r.nchanged, 0);
	retention_clear(&r);
	assert_null(r.locs);
	assert_int_equal(located(f->st, 1), VG_ENOENT);
	assert_int_equal(located(f->st, 2), 0);
	assert_int_equal(located(f->st, 3), VG_ENOENT);
	assert_int_equal(located(f->st, 4), 0);
	assert_int_equal(
		f->st->ops->job_get_by_sha256(f->st, sample(1).sha256, &j), 0);
	assert_int_equal(j.state, JOB_FAILED);
	assert_string_equal(j.error, "sample erased");
	job_clear(&j);
	assert_int_equal(f->st->ops->erasures_pending(f->st, 10, &p, &np), 0);
	assert_int_equal(np, 2);
	free(p);
	assert_int_equal(prevalence_of(f->st, 1), 1);
	assert_int_equal(prevalence_of(f->st, 2), 2);
	assert_int_equal(listed(f->st, 1), 3);
	/* Again: nothing more. */
	assert_int_equal(f->st->ops->retention_sweep(f->st, 2000, 0, 100, &r),
			 0);
	assert_int_equal(r.erased + r.submissions + r.unlinked, 0);
	retention_clear(&r);
}

/* Submissions created before the cut-off go, with the links to samples
 * they alone justified: a client that sent the sample again since stays
 * counted. A submission at the cut-off stays. Bytes are not touched. */
static void
test_retention_deletes_old_submissions_and_the_links_they_alone_justify(
	void **state)
{
	struct fx *f = *state;
	struct retention r;

	put_client(f->st, 1);
	put_client(f->st, 2);
	submit_stored_at(f->st, 1, 1, 1, 1000);
	assert_int_equal(submit_at(f->st, 2, 1, 1, 3000, NULL), 0);
	assert_int_equal(submit_at(f->st, 3, 2, 1, 1000, NULL), 0);
	assert_int_equal(submit_at(f->st, 4, 1, 2, 1000, NULL), 0);
	assert_int_equal(submit_at(f->st, 5, 2, 3, 2000, NULL), 0);
	assert_int_equal(prevalence_of(f->st, 1), 2);
	assert_int_equal(f->st->ops->retention_sweep(f->st, 0, 2000, 100, &r),
			 0);
	assert_int_equal(r.erased, 0);
	assert_int_equal(r.submissions, 3);
	assert_int_equal(r.unlinked, 2);
	assert_int_equal(r.nchanged, 2);
	assert_true((strcmp(r.changed[0], sample(1).sha256) == 0 &&
		     strcmp(r.changed[1], sample(2).sha256) == 0) ||
		    (strcmp(r.changed[0], sample(2).sha256) == 0 &&
		     strcmp(r.changed[1], sample(1).sha256) == 0));
	retention_clear(&r);
	assert_int_equal(prevalence_of(f->st, 1), 1);
	assert_int_equal(prevalence_of(f->st, 2), 0);
	assert_int_equal(prevalence_of(f->st, 3), 1);
	assert_int_equal(listed(f->st, 1), 1);
	assert_int_equal(listed(f->st, 2), 1);
	assert_int_equal(located(f->st, 1), 0);
	/* The reputation stays: the sample is still known. */
	assert_int_equal(raw_rows(f->path, "SELECT 1 FROM samples"), 3);
	assert_int_equal(raw_rows(f->path, "SELECT 1 FROM sample_clients"), 2);
	/* Again: nothing more. */
	assert_int_equal(f->st->ops->retention_sweep(f->st, 0, 2000, 100, &r),
			 0);
	assert_int_equal(r.erased + r.submissions + r.unlinked, 0);
	retention_clear(&r);
}

/* A batch takes at most max of each, oldest first; the next takes the
 * rest. A batch of 0 or over the maximum is refused. */
static void
test_retention_works_in_batches_oldest_first(void **state)
{
	struct fx *f = *state;
	struct retention r;

	put_client(f->st, 1);
	for (int k = 1; k <= 5; k++)
		submit_stored_at(f->st, k, 1, k, 1000 + 10 * (6 - k));
	assert_int_equal(f->st->ops->retention_sweep(f->st, 5000, 5000, 2, &r),
			 0);
	assert_int_equal(r.erased, 2);
	assert_int_equal(r.submissions, 2);
	assert_int_equal(r.unlinked, 2);
	retention_clear(&r);
	/* The oldest: 5 and 4. */
	assert_int_equal(located(f->st, 5), VG_ENOENT);
	assert_int_equal(located(f->st, 4), VG_ENOENT);
	assert_int_equal(located(f->st, 3), 0);
	assert_int_equal(prevalence_of(f->st, 5), 0);
	assert_int_equal(prevalence_of(f->st, 3), 1);
	assert_int_equal(f->st->ops->retention_sweep(f->st, 5000, 5000, 2, &r),
			 0);
	assert_int_equal(r.erased, 2);
	assert_int_equal(r.submissions, 2);
	retention_clear(&r);
	assert_int_equal(f->st->ops->retention_sweep(f->st, 5000, 5000, 2, &r),
			 0);
	assert_int_equal(r.erased, 1);
	assert_int_equal(r.submissions, 1);
	retention_clear(&r);
	assert_int_equal(located(f->st, 1), VG_ENOENT);
	assert_int_equal(listed(f->st, 1), 0);
	assert_int_equal(f->st->ops->retention_sweep(f->st, 5000, 5000, 0, &r),
			 VG_EINVAL);
	assert_int_equal(
		f->st->ops->retention_sweep(f->st, 5000, 5000,
					    STORE_RETENTION_BATCH_MAX + 1, &r),
		VG_EINVAL);
}

/* Hold of case c on sample k, by alice. */
static int
hold(struct store *st, int k, const char *c)
{
	struct store_hold h;

	memset(&h, 0, sizeof(h));
	snprintf(h.sha256, sizeof(h.sha256), "%s", sample(k).sha256);
	snprintf(h.case_id, sizeof(h.case_id), "%s", c);
	h.reason = "subpoena 2026-114";
	snprintf(h.by, sizeof(h.by), "alice");
	return st->ops->hold_add(st, &h);
}

/* A held sample keeps its bytes and its submissions (and so its links)
 * through the sweep until every hold on it is released; then the next
 * sweep takes them. */
static void
test_retention_exempts_held_samples_until_every_hold_is_released(void **state)
{
	struct fx *f = *state;
	struct retention r;
	uint64_t n = 9;

	put_client(f->st, 1);
	submit_stored_at(f->st, 1, 1, 1, 1000);
	submit_stored_at(f->st, 2, 1, 2, 1000);
	assert_int_equal(hold(f->st, 1, "case-A"), 0);
	assert_int_equal(hold(f->st, 1, "CASE.b:2"), 0);
	assert_int_equal(
		f->st->ops->holds_count(f->st, sample(1).sha256, NULL, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(
		f->st->ops->holds_count(f->st, sample(1).sha256, "case-A", &n),
		0);
	assert_int_equal(n, 1);
	assert_int_equal(f->st->ops->retention_sweep(f->st, 5000, 5000, 10, &r),
			 0);
	assert_int_equal(r.erased, 1);
	assert_int_equal(r.submissions, 1);
	retention_clear(&r);
	assert_int_equal(located(f->st, 1), 0);
	assert_int_equal(located(f->st, 2), VG_ENOENT);
	assert_int_equal(prevalence_of(f->st, 1), 1);
	assert_int_equal(listed(f->st, 1), 1);
	/* One hold released: still held. */
	assert_int_equal(
		f->st->ops->hold_release(f->st, sample(1).sha256, "case-A"), 0);
	assert_int_equal(f->st->ops->retention_sweep(f->st, 5000, 5000, 10, &r),
			 0);
	assert_int_equal(r.erased + r.submissions, 0);
	retention_clear(&r);
	assert_int_equal(located(f->st, 1), 0);
	/* The last one: the next sweep takes it. */
	assert_int_equal(
		f->st->ops->hold_release(f->st, sample(1).sha256, "CASE.b:2"),
		0);
	assert_int_equal(f->st->ops->retention_sweep(f->st, 5000, 5000, 10, &r),
			 0);
	assert_int_equal(r.erased, 1);
	assert_int_equal(r.submissions, 1);
	assert_int_equal(r.unlinked, 1);
	retention_clear(&r);
	assert_int_equal(located(f->st, 1), VG_ENOENT);
	assert_int_equal(listed(f->st, 1), 0);
}

/* A hold needs a known sample (ENOENT), a case not already holding it,
 * and valid arguments (EINVAL); a release, a hold in place (ENOENT). */
static void
test_holds_bad_arguments_and_unknowns(void **state)
{
	struct fx *f = *state;
	struct store_hold h;
	uint64_t n;

	put_client(f->st, 1);
	submit_stored_at(f->st, 1, 1, 1, 1000);
	assert_int_equal(hold(f->st, 7, "case-A"), VG_ENOENT);
	assert_int_equal(hold(f->st, 1, "case-A"), 0);
	assert_int_equal(hold(f->st, 1, "case-A"), VG_EINVAL);
	assert_int_equal(hold(f->st, 1, ""), VG_EINVAL);
	assert_int_equal(hold(f->st, 1, "-case"), VG_EINVAL);
	assert_int_equal(hold(f->st, 1, "case A"), VG_EINVAL);
	assert_int_equal(hold(f->st, 1, "case/A"), VG_EINVAL);
	/* 65 bytes: more than a hold's case_id holds. */
	assert_false(store_valid_case("c12345678901234567890123456789012345678"
				      "90123456789012345678901234"));
	assert_true(store_valid_case("c12345678901234567890123456789012345678"
				     "9012345678901234567890123"));
	memset(&h, 0, sizeof(h));
	snprintf(h.sha256, sizeof(h.sha256), "%s", sample(1).sha256);
	snprintf(h.case_id, sizeof(h.case_id), "case-B");
	snprintf(h.by, sizeof(h.by), "alice");
	h.reason = "";
	assert_int_equal(f->st->ops->hold_add(f->st, &h), VG_EINVAL);
	h.reason = "ok";
	h.sha256[0] = 'X';
	assert_int_equal(f->st->ops->hold_add(f->st, &h), VG_EINVAL);
	assert_int_equal(
		f->st->ops->hold_release(f->st, sample(1).sha256, "case-B"),
		VG_ENOENT);
	assert_int_equal(
		f->st->ops->hold_release(f->st, sample(7).sha256, "case-A"),
		VG_ENOENT);
	assert_int_equal(f->st->ops->hold_release(f->st, "abc", "case-A"),
			 VG_EINVAL);
	assert_int_equal(
		f->st->ops->hold_release(f->st, sample(1).sha256, "bad case"),
		VG_EINVAL);
	assert_int_equal(
		f->st->ops->holds_count(f->st, sample(1).sha256, NULL, &n), 0);
	assert_int_equal(n, 1);
}

/* PostgreSQL: while another node of the region sweeps (holds the
 * advisory lock), a sweep does nothing and says so; once it is done,
 * the sweep works. */
static void
test_pg_retention_one_node_sweeps_at_a_time(void **state)
{
	struct fx *f = *state;
	struct retention r;
	PGconn *c = raw_pg();

	put_client(f->st, 1);
	submit_stored_at(f->st, 1, 1, 1, 1000);
	pg_run(c, "SELECT pg_advisory_lock(8531012276498375796)");
	assert_int_equal(f->st->ops->retention_sweep(f->st, 5000, 5000, 10, &r),
			 0);
	assert_true(r.busy);
	assert_int_equal(r.erased + r.submissions + r.unlinked, 0);
	retention_clear(&r);
	assert_int_equal(located(f->st, 1), 0);
	pg_run(c, "SELECT pg_advisory_unlock(8531012276498375796)");
	PQfinish(c);
	assert_int_equal(f->st->ops->retention_sweep(f->st, 5000, 5000, 10, &r),
			 0);
	assert_false(r.busy);
	assert_int_equal(r.erased, 1);
	assert_int_equal(r.submissions, 1);
	assert_int_equal(r.unlinked, 1);
	retention_clear(&r);
	assert_int_equal(located(f->st, 1), VG_ENOENT);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_creates_file_0600_in_wal_mode),
		T(test_reopen_keeps_rows_and_schema),
		T(test_client_put_then_get_by_token_hash),
		T(test_unknown_token_hash_is_enoent),
		T(test_token_hash_of_another_client_is_refused),
		T(test_same_sample_from_three_clients_is_one_job_prevalence_3),
		T(test_same_client_twice_counts_once),
		T(test_out_of_order_report_keeps_first_and_last_seen),
		T(test_submission_get_returns_what_was_added),
		T(test_duplicate_submission_id_is_refused_and_changes_nothing),
		T(test_submission_from_unknown_client_is_enoent),
		T(test_hashes_disagreeing_with_stored_sample_are_refused),
		T(test_new_sample_sharing_an_md5_or_sha1_is_accepted),
		T(test_reputation_get_takes_only_a_sha256),
		T(test_malformed_hash_is_einval),
		T(test_jobs_queued_counts_waiting_jobs),
		T(test_claim_on_empty_queue_is_enoent),
		T(test_note_records_an_embedded_object_without_prevalence),
		T(test_note_never_overrides_a_sample_analysed_on_its_own),
		T(test_note_is_derived_from_its_container_and_job),
		T(test_derived_never_overwrites_own_whatever_the_verdicts),
		T(test_derived_only_hash_submitted_is_analysed_and_own_replaces_derived),
		T(test_failure_of_own_analysis_and_derived_verdicts),
		T(test_version_5_notes_are_marked_derived_from_the_reports_listing_them),
		T(test_note_sets_the_verdict_of_a_submitted_sample_not_yet_analysed),
		T(test_note_with_malformed_hash_or_verdict_is_einval),
		T(test_note_many_records_all_in_one_go_and_skips_invalid_rows),
		T(test_claim_then_finish_sets_verdict),
		T(test_rescan_queue_only_when_the_generation_changes),
		T(test_rescans_come_after_jobs_most_prevalent_then_newest),
		T(test_rescan_finish_overwrites_the_verdict_and_says_if_it_changed),
		T(test_rescan_fail_requeues_then_drops_keeping_the_verdict),
		T(test_samples_stored_each_visits_stored_samples_by_prevalence),
		T(test_objects_renote_rejudges_objects_but_not_samples_of_their_own),
		T(test_finish_of_job_not_analysing_is_refused),
		T(test_job_fail_requeues_until_max_attempts_then_fails),
		T(test_retried_job_goes_behind_older_jobs),
		T(test_requeue_stale_after_crash_makes_job_claimable),
		T(test_two_handles_one_writes_other_reads),
		T(test_writer_commits_are_visible_and_survive_its_death),
		T(test_writer_commits_a_large_transaction),
		T(test_writer_rollback_of_a_large_batch_leaves_others_intact),
		T(test_processes_submitting_at_once_count_every_client_once),
		T(test_concurrent_claims_hand_out_each_job_once),
		T(test_processes_opening_a_new_file_at_once_all_succeed),
		T(test_corrupt_reputation_row_is_ecorrupt),
		T(test_corrupt_because_is_ecorrupt),
		T(test_note_and_finish_store_because),
		T(test_failure_overrides_a_clean_note),
		T(test_failure_keeps_a_worse_verdict_and_its_detections),
		T(test_corrupt_job_state_is_ecorrupt),
		T(test_corrupt_client_row_is_ecorrupt),
		T(test_corrupt_queued_job_does_not_block_the_queue),
		T(test_newer_schema_version_is_refused),
		T(test_file_that_is_not_a_database_is_refused),
		T(test_reputation_each_visits_every_row),
		T(test_reputation_each_stops_with_callbacks_value),
		T(test_wal_checkpoints_every_10000_pages),
		T(test_submission_add_many_applies_each_item_on_its_own),
		T(test_submission_add_many_repeats_a_sample_in_order),
		T(test_submission_add_many_refused_items_leave_no_trace),
		T(test_sample_locate_refuses_malformed_and_unknown),
		T(test_sample_locate_of_a_sample_without_bytes_is_enoent),
		T(test_sample_locate_many),
		T(test_second_location_of_a_sample_is_ignored),
		T(test_corrupt_sample_location_is_ecorrupt),
		T(test_submission_add_many_that_cannot_commit_stores_nothing),
		T(test_submission_add_many_barrier),
		T(test_version_1_database_is_migrated),
		T(test_fp_reports_and_retractions),
		T(test_corrupt_retraction_row_is_ecorrupt),
		T(test_operators_add_lookup_revoke_and_list),
		T(test_operators_bad_names_are_einval),
		T(test_corrupt_operator_row_is_ecorrupt),
		T(test_stats_document_is_stored_once_and_never_replaced),
		T(test_stats_rows_are_the_days_first_per_client),
		T(test_corrupt_stats_row_is_ecorrupt),
		T(test_hostile_metadata_round_trips),
		T(test_job_lease_renew_counts_own_jobs),
		T(test_submission_add_many_refusals_anywhere_in_a_large_batch),
		T(test_store_open_opens_the_configured_backend),
		T(test_consent_metadata_erases_bytes_only_this_client_sent),
		T(test_consent_none_erases_submissions_and_prevalence),
		T(test_client_delete_removes_everything_and_the_token),
		T(test_client_list_pages_own_submissions),
		T(test_metadata_without_bytes_counts_and_queues_no_job),
		T(test_retention_erases_bytes_last_seen_before_the_cutoff),
		T(test_retention_deletes_old_submissions_and_the_links_they_alone_justify),
		T(test_retention_works_in_batches_oldest_first),
		T(test_retention_exempts_held_samples_until_every_hold_is_released),
		T(test_holds_bad_arguments_and_unknowns),
	};

	const struct CMUnitTest pg_tests[] = {
		T(test_pg_two_owners_never_claim_the_same_job),
		T(test_pg_expired_lease_is_taken_over),
		T(test_pg_lease_renew_keeps_the_job),
		T(test_pg_submission_does_not_wait_for_a_job_being_finished),
		T(test_pg_rescan_finish_does_not_wait_for_a_job_being_finished),
		T(test_pg_changes_are_notified),
		T(test_pg_migrations_are_idempotent_and_newer_is_refused),
		T(test_pg_lost_session_reconnects),
		T(test_pg_unreachable_server_is_eio),
		T(test_pg_retention_one_node_sweeps_at_a_time),
		/* Last: the cluster fails over, and is put back after. */
		cmocka_unit_test_setup_teardown(
			test_pg_failover_loses_no_acknowledged_submission,
			setup, failover_teardown),
	};
	const char *dsn = getenv("VIGIL_TEST_PG_DSN");
	int failed;

	if (dsn != NULL && *dsn != '\0') {
		PGconn *c = PQconnectdb(dsn);

		/* Asked for PostgreSQL and none there: a failure, not a
		 * skip. */
		if (PQstatus(c) != CONNECTION_OK) {
			fprintf(stderr, "VIGIL_TEST_PG_DSN: %s",
				PQerrorMessage(c));
			PQfinish(c);
			return 1;
		}
		PQfinish(c);
		pg_dsn = dsn;
		failed = cmocka_run_group_tests_name("postgresql", tests, NULL,
						     NULL);
		return failed + cmocka_run_group_tests_name("postgresql only",
							    pg_tests, NULL,
							    NULL);
	}
	failed =
		cmocka_run_group_tests_name("plain handles", tests, NULL, NULL);
	writer = true;
	return failed +
	       cmocka_run_group_tests_name("writer handles", tests, NULL, NULL);
}
