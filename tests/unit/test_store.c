/*
 * test_store.c - the SQLite metadata store against a real database file
 * in a fresh temporary directory per test: file mode and WAL, clients,
 * submissions and prevalence, the job queue and its crash recovery,
 * concurrent handles and processes, and rows that make no sense.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/err.h"
#include "store/store.h"

struct fx {
	char dir[64];
	char path[128];
	struct store *st;
};

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
	if (store_sqlite_open(f->path, &f->st, err, sizeof(err)) != 0) {
		fprintf(stderr, "store_sqlite_open: %s\n", err);
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

	assert_int_equal(store_sqlite_open(f->path, &st, err, sizeof(err)), 0);
	return st;
}

/* Runs SQL on the file through a connection of its own, as another tool
 * would: foreign keys off, and CHECKs ignored so that nonsense can be
 * written. */
static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

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

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
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

/* Client n reports sample k as submission subn at time t. */
static int
submit_at(struct store *st, int subn, int n, int k, int64_t t, bool *new_job)
{
	struct submission sub;
	struct hashes h = sample(k);

	memset(&sub, 0, sizeof(sub));
	snprintf(sub.id, sizeof(sub.id), "11111111-0000-4000-8000-%012d", subn);
	client_id(sub.client_id, n);
	memcpy(sub.sha256, h.sha256, sizeof(sub.sha256));
	sub.metadata = "{\"path\":\"C:\\\\x.exe\"}";
	sub.created = t;
	return st->ops->submission_add(st, &sub, h.md5, h.sha1, 68, new_job);
}

static int
submit(struct store *st, int subn, int n, int k, bool *new_job)
{
	return submit_at(st, subn, n, k, 1700000100, new_job);
}

static void
test_open_creates_file_0600_in_wal_mode(void **state)
{
	struct fx *f = *state;
	struct stat sb;
	char mode[16], wal[160];
	bool nj;

	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	raw_text(f->path, "PRAGMA journal_mode", mode, sizeof(mode));
	assert_string_equal(mode, "wal");
	raw_text(f->path, "PRAGMA user_version", mode, sizeof(mode));
	assert_string_equal(mode, "1");
	/* The WAL holds the same data and must be as private. */
	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 1, &nj), 0);
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
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
	struct hashes h5 = sample(5), h6 = sample(6);

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
						    h5.sha1, 68, NULL),
			 VG_EINVAL);
	/* Known SHA-256, another size. */
	assert_int_equal(f->st->ops->submission_add(f->st, &sub, h5.md5,
						    h5.sha1, 69, NULL),
			 VG_EINVAL);
	/* New SHA-256 claiming an MD5 another sample has. */
	memcpy(sub.sha256, h6.sha256, sizeof(sub.sha256));
	assert_int_equal(f->st->ops->submission_add(f->st, &sub, h5.md5,
						    h6.sha1, 68, NULL),
			 VG_EINVAL);
	assert_int_equal(f->st->ops->reputation_get(f->st, h5.sha256, &r), 0);
	assert_int_equal(r.prevalence, 1);
	reputation_clear(&r);
	assert_int_equal(f->st->ops->reputation_get(f->st, h6.sha256, &r),
			 VG_ENOENT);
}

static void
test_lookup_by_md5_sha1_sha256_gives_same_row(void **state)
{
	struct fx *f = *state;
	struct reputation a, b, c;
	struct hashes h = sample(3);

	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 3, NULL), 0);
	assert_int_equal(submit(f->st, 2, 1, 4, NULL), 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, h.md5, &a), 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, h.sha1, &b), 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, h.sha256, &c), 0);
	assert_string_equal(a.sha256, h.sha256);
	assert_string_equal(b.sha256, h.sha256);
	assert_string_equal(c.md5, h.md5);
	assert_string_equal(c.sha1, h.sha1);
	assert_string_equal(a.md5, b.md5);
	assert_string_equal(b.sha1, c.sha1);
	assert_int_equal(a.size, 68);
	assert_int_equal(b.size, 68);
	assert_int_equal(c.size, 68);
	reputation_clear(&a);
	reputation_clear(&b);
	reputation_clear(&c);
}

static void
test_malformed_hash_is_einval(void **state)
{
	struct fx *f = *state;
	struct reputation r;
	struct hashes h = sample(3);
	char upper[65], longer[70], odd[34];
	const char *bad[] = {
		"",
		"abc",
		"0123456789abcdef0123456789abcde",   /* 31 */
		"0123456789abcdef0123456789abcdeg",  /* 32, not hex */
		"0123456789abcdef0123456789abcdef0", /* 33 */
		upper,
		longer,
		odd,
	};

	snprintf(upper, sizeof(upper), "%s", h.sha256);
	upper[0] = 'A';
	upper[5] = 'F';
	snprintf(longer, sizeof(longer), "%s00", h.sha256);
	snprintf(odd, sizeof(odd), "%.31s ", h.md5);
	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 3, NULL), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(f->st->ops->reputation_get(f->st, bad[i], &r),
				 VG_EINVAL);
	assert_int_equal(f->st->ops->reputation_get(f->st, NULL, &r),
			 VG_EINVAL);
	/* Well-formed but unknown is another answer. */
	assert_int_equal(f->st->ops->reputation_get(f->st, sample(9).sha1, &r),
			 VG_ENOENT);
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
	return r;
}

static void
test_note_records_an_embedded_object_without_prevalence(void **state)
{
	struct fx *f = *state;
	struct reputation r = noted(7, "malicious", 100), got;

	assert_int_equal(f->st->ops->reputation_note(f->st, &r), 0);
	assert_int_equal(f->st->ops->reputation_get(f->st, r.sha1, &got), 0);
	assert_string_equal(got.verdict, "malicious");
	assert_string_equal(got.detections, "[\"Inner\"]");
	assert_int_equal(got.prevalence, 0);
	assert_true(got.analysed_at > 0);
	reputation_clear(&got);
}

static void
test_note_never_overrides_a_sample_analysed_on_its_own(void **state)
{
	struct fx *f = *state;
	struct reputation r = noted(2, "clean", 0), got;
	struct job j;

	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 2, NULL), 0);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_int_equal(f->st->ops->job_finish(f->st, j.id, "{}", "malicious",
						100, "[\"Own\"]", NULL, 1.0),
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

	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 3, NULL), 0);
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
test_claim_then_finish_sets_verdict(void **state)
{
	struct fx *f = *state;
	struct reputation r;
	struct job j;
	struct hashes h = sample(2);

	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 2, NULL), 0);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_int_equal(j.state, JOB_ANALYSING);
	assert_int_equal(j.attempts, 1);
	assert_null(j.report);
	assert_int_equal(f->st->ops->job_finish(
				 f->st, j.id, "{\"verdict\":\"malicious\"}",
				 "malicious", 100, "[\"Vigil_Test_EICAR\"]",
				 "text/plain", 12.5),
			 0);
	job_clear(&j);

	assert_int_equal(f->st->ops->reputation_get(f->st, h.md5, &r), 0);
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

	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 2, NULL), 0);
	assert_int_equal(
		f->st->ops->job_get_by_sha256(f->st, sample(2).sha256, &j), 0);
	/* Queued, never claimed. */
	assert_int_equal(f->st->ops->job_finish(f->st, j.id, "{}", "clean", 0,
						"[]", NULL, 1),
			 VG_EINVAL);
	assert_int_equal(f->st->ops->job_finish(f->st, j.id + 100, "{}",
						"clean", 0, "[]", NULL, 1),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->job_fail(f->st, j.id + 100, "x", 3),
			 VG_ENOENT);
	assert_int_equal(f->st->ops->job_finish(f->st, j.id, "{}", "benign", 0,
						"[]", NULL, 1),
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

	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 2, NULL), 0);
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

	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 1, NULL), 0);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
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

	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 2, NULL), 0);
	assert_int_equal(f->st->ops->close(f->st), 0);
	f->st = NULL;

	/* A worker process claims the job and dies without finishing it or
	 * closing the store, like kill -9. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st;
		char err[256];

		if (store_sqlite_open(f->path, &st, err, sizeof(err)) != 0 ||
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

/* Child of the concurrency test: its own handle, many transactions. */
static int
child_submits(const char *path, int n)
{
	struct store *st;
	char err[256];

	if (store_sqlite_open(path, &st, err, sizeof(err)) != 0)
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
			if (store_sqlite_open(f->path, &st, err, sizeof(err)) !=
			    0)
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
	for (int n = 0; n < 6; n++) {
		pid[n] = fork();
		assert_true(pid[n] >= 0);
		if (pid[n] == 0) {
			struct store *st;
			char err[256];

			if (store_sqlite_open(path, &st, err, sizeof(err)) !=
			    0) {
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

	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 5, NULL), 0);
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

	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 5, NULL), 0);
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

	put_client(f->st, 1);
	assert_int_equal(submit(f->st, 1, 1, 5, NULL), 0);
	assert_int_equal(submit(f->st, 2, 1, 6, NULL), 0);
	raw_exec(f->path, "UPDATE jobs SET sha256 = 'short', updated = 0"
			  " WHERE sha256 = (SELECT sha256 FROM samples"
			  " WHERE md5 LIKE '05%')");
	assert_int_equal(f->st->ops->job_claim(f->st, &j), VG_ECORRUPT);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), 0);
	assert_string_equal(j.sha256, sample(6).sha256);
	job_clear(&j);
	assert_int_equal(f->st->ops->job_claim(f->st, &j), VG_ENOENT);
}

static void
test_newer_schema_version_is_refused(void **state)
{
	struct fx *f = *state;
	struct store *st = NULL;
	char err[256];

	assert_int_equal(f->st->ops->close(f->st), 0);
	f->st = NULL;
	raw_exec(f->path, "PRAGMA user_version = 2");
	assert_int_equal(store_sqlite_open(f->path, &st, err, sizeof(err)),
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
		T(test_lookup_by_md5_sha1_sha256_gives_same_row),
		T(test_malformed_hash_is_einval),
		T(test_jobs_queued_counts_waiting_jobs),
		T(test_claim_on_empty_queue_is_enoent),
		T(test_note_records_an_embedded_object_without_prevalence),
		T(test_note_never_overrides_a_sample_analysed_on_its_own),
		T(test_note_sets_the_verdict_of_a_submitted_sample_not_yet_analysed),
		T(test_note_with_malformed_hash_or_verdict_is_einval),
		T(test_note_many_records_all_in_one_go_and_skips_invalid_rows),
		T(test_claim_then_finish_sets_verdict),
		T(test_finish_of_job_not_analysing_is_refused),
		T(test_job_fail_requeues_until_max_attempts_then_fails),
		T(test_retried_job_goes_behind_older_jobs),
		T(test_requeue_stale_after_crash_makes_job_claimable),
		T(test_two_handles_one_writes_other_reads),
		T(test_processes_submitting_at_once_count_every_client_once),
		T(test_concurrent_claims_hand_out_each_job_once),
		T(test_processes_opening_a_new_file_at_once_all_succeed),
		T(test_corrupt_reputation_row_is_ecorrupt),
		T(test_corrupt_job_state_is_ecorrupt),
		T(test_corrupt_client_row_is_ecorrupt),
		T(test_corrupt_queued_job_does_not_block_the_queue),
		T(test_newer_schema_version_is_refused),
		T(test_file_that_is_not_a_database_is_refused),
		T(test_reputation_each_visits_every_row),
		T(test_reputation_each_stops_with_callbacks_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
