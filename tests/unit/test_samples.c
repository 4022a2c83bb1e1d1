/*
 * test_samples.c - the encrypted sample store, in segment files and in
 * PostgreSQL: round trips at the chunk (and row) boundaries, records laid
 * end to end, the key file's rules, every way a location or a stored
 * record can be wrong, damaged or forged being refused, a restart
 * starting a new segment past a torn tail, readers running beside the
 * writer; in PostgreSQL also rows tampered with, deleted or resized in
 * SQL, records lost with a rolled-back transaction, two writers, many
 * readers, and sessions killed under the writer and the readers.
 *
 * Each test runs in its own mkdtemp directory holding "store" and "key".
 * Forgeries are built with the real key read from the key file, so that
 * the checks after authentication (tags, lengths, the re-hash) are
 * reached, not just the MAC.
 *
 * Run plainly, the tests of the segment files run. Run with --pg (the
 * test test_samples_pg, under tests/pg/pg-run), the tests that apply to
 * both backends run again on PostgreSQL, each on an empty database (its
 * public schema dropped), with those of PostgreSQL alone; then a
 * VIGIL_TEST_PG_DSN that is missing or unreachable fails them all: a
 * PostgreSQL test that runs without PostgreSQL proves nothing. The tests
 * look at and damage stored records through one pair of helpers,
 * rec_peek() and rec_poke(), which know both backends' layouts.
 *
 * Not tested: the roll-over to a new segment at SAMPLES_SEGMENT_MAX
 * (1 GiB of records is too much for a unit test), and a failing
 * fdatasync (no portable way to make one fail).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "store/pg.h"
#include "store/samples.h"

/* The record format of samples.c, spelled out independently. */
#define AD_LEN     44 /* magic, SHA-256, length */
#define REC_HDR    68 /* the above and the secretstream header */
#define ABYTES     crypto_secretstream_xchacha20poly1305_ABYTES
#define CHUNK_OVER (4 + ABYTES) /* length prefix, tag and MAC */
#define TAG_MSG    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define TAG_FINAL  crypto_secretstream_xchacha20poly1305_TAG_FINAL
/* The PostgreSQL backend's rows: 1 MiB of the record each (samples_pg.c). */
#define PG_ROW (1024 * 1024)

struct fx {
	char root[64];
	char store[96];
	char key[96];
	struct samples *s;
	/* PostgreSQL: the test's own session (to look and to damage), and
	 * the key from the key file, which the store uses through a local
	 * key source. */
	bool pg;
	struct pg db;
	struct samples_key *k;
	struct samples_keysrc src;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL)
		return -1;
	strcpy(f->root, "/tmp/test_samples.XXXXXX");
	if (mkdtemp(f->root) == NULL)
		return -1;
	snprintf(f->store, sizeof(f->store), "%s/store", f->root);
	snprintf(f->key, sizeof(f->key), "%s/key", f->root);
	if (samples_open(f->store, f->key, &f->s, err, sizeof(err)) != 0) {
		fprintf(stderr, "samples_open: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static const char *
pg_dsn(void)
{
	const char *d = getenv("VIGIL_TEST_PG_DSN");

	if (d == NULL || *d == '\0')
		fail_msg("VIGIL_TEST_PG_DSN is not set: run under "
			 "tests/pg/pg-run");
	return d;
}

/* Opens another handle on the test's store: the same directory, or the
 * same database with the same key. */
static int
open_store(struct fx *f, struct samples **s, char *err, size_t errlen)
{
	if (f->pg)
		return samples_open_pg(pg_dsn(), &f->src, s, err, errlen);
	return samples_open(f->store, f->key, s, err, errlen);
}

/* The same fixture on an empty PostgreSQL database. A DSN that does not
 * answer fails the test. */
static int
setup_pg(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512];

	if (f == NULL)
		return -1;
	f->pg = true;
	strcpy(f->root, "/tmp/test_samples.XXXXXX");
	if (mkdtemp(f->root) == NULL)
		return -1;
	snprintf(f->store, sizeof(f->store), "%s/store", f->root);
	snprintf(f->key, sizeof(f->key), "%s/key", f->root);
	*state = f;
	if (pg_open(&f->db, pg_dsn(), "test_samples", err, sizeof(err)) != 0)
		fail_msg("%s", err);
	if (pg_cmd(&f->db, err, sizeof(err),
		   "DROP SCHEMA public CASCADE; CREATE SCHEMA public") != 0)
		fail_msg("%s", err);
	if (samples_key_open(f->store, f->key, &f->k, err, sizeof(err)) != 0)
		fail_msg("samples_key_open: %s", err);
	samples_keysrc_local(f->k, &f->src);
	if (open_store(f, &f->s, err, sizeof(err)) != 0)
		fail_msg("samples_open_pg: %s", err);
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	samples_close(f->s);
	samples_key_free(f->k);
	pg_close(&f->db);
	nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* The segment a fresh store appends to first. */
static uint64_t
first_seg(const struct fx *f)
{
	return f->pg ? SAMPLES_PG_SEGMENT_FIRST : 1;
}

/* Runs sql on the test's session with text parameters (NULL: binary
 * ones through lens/formats), failing the test if it fails; returns the
 * result, or NULL if want_res is false. */
static PGresult *
sql_run(struct fx *f, bool want_res, const char *sql, int n,
	const char *const *params, const int *lens, const int *formats)
{
	PGresult *res = NULL;
	char err[512];

	if (pg_exec_bin(&f->db, want_res ? &res : NULL, err, sizeof(err), sql,
			n, params, lens, formats) != 0)
		fail_msg("%s: %s", sql, err);
	return res;
}

/* The first column of the first row of sql's result, as a number. */
static int64_t
sql_i64(struct fx *f, const char *sql, int n, const char *const *params)
{
	PGresult *res = sql_run(f, true, sql, n, params, NULL, NULL);
	int64_t v = -1;

	assert_int_equal(PQntuples(res), 1);
	assert_int_equal(pg_get_i64(res, 0, 0, &v), 0);
	PQclear(res);
	return v;
}

static void
u64s(uint64_t v, char out[24])
{
	snprintf(out, 24, "%llu", (unsigned long long)v);
}

static void
sha_hex(const void *buf, size_t len, char hex[65])
{
	uint8_t md[32];
	unsigned n = 0;

	assert_true(
		EVP_Digest(len ? buf : "", len, md, &n, EVP_sha256(), NULL));
	sodium_bin2hex(hex, 65, md, sizeof(md));
}

static void
seg_path(const struct fx *f, uint64_t no, char *out, size_t n)
{
	snprintf(out, n, "%s/%016llu.seg", f->store, (unsigned long long)no);
}

static uint8_t *
read_whole(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *p;
	FILE *fp = fopen(path, "rb");

	assert_non_null(fp);
	assert_int_equal(fstat(fileno(fp), &st), 0);
	p = malloc((size_t)st.st_size + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)st.st_size, fp),
			 (size_t)st.st_size);
	fclose(fp);
	*len = (size_t)st.st_size;
	return p;
}

static void
write_whole(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* Overwrites n bytes at off in path, leaving the rest as it is. */
static void
patch(const char *path, uint64_t off, const void *buf, size_t n)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
	close(fd);
}

static uint64_t
file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

/*
 * Reads (poke: writes) n bytes at off of the stored record at loc: in its
 * segment file, or in its rows (PG_ROW bytes of the record each, a write
 * past a last row's end extending it).
 */
static void
rec_access(struct fx *f, const struct sample_loc *loc, uint64_t off,
	   uint8_t *rbuf, const uint8_t *wbuf, size_t n)
{
	char path[256], seg[24], o[24], seq[24], in[24], cnt[24];

	if (!f->pg) {
		int fd;

		seg_path(f, loc->segment, path, sizeof(path));
		fd = open(path, wbuf ? O_WRONLY : O_RDONLY);
		assert_true(fd >= 0);
		if (wbuf)
			assert_int_equal(
				pwrite(fd, wbuf, n, (off_t)(loc->offset + off)),
				(ssize_t)n);
		else
			assert_int_equal(
				pread(fd, rbuf, n, (off_t)(loc->offset + off)),
				(ssize_t)n);
		close(fd);
		return;
	}
	u64s(loc->segment, seg);
	u64s(loc->offset, o);
	while (n > 0) {
		uint64_t r = off / PG_ROW, at = off % PG_ROW;
		size_t k = PG_ROW - at < n ? PG_ROW - at : n;

		u64s(r, seq);
		u64s(at + 1, in);
		u64s(k, cnt);
		if (wbuf) {
			const char *params[5] = {seg, o, seq,
						 (const char *)wbuf, in};
			const int lens[5] = {0, 0, 0, (int)k, 0};
			const int formats[5] = {0, 0, 0, 1, 0};
			PGresult *res = sql_run(
				f, true,
				"UPDATE sample_chunks SET data = overlay(data "
				"PLACING $4::bytea FROM $5::integer)"
				" WHERE segment = $1 AND off = $2 AND seq = $3",
				5, params, lens, formats);

			assert_string_equal(PQcmdTuples(res), "1");
			PQclear(res);
			wbuf += k;
		} else {
			const char *params[5] = {seg, o, seq, in, cnt};
			PGresult *res = sql_run(
				f, true,
				"SELECT substring(data FROM $4::integer FOR "
				"$5::integer) FROM sample_chunks"
				" WHERE segment = $1 AND off = $2 AND seq = $3",
				5, params, NULL, NULL);
			uint8_t *got = NULL;
			size_t glen = 0;

			assert_int_equal(PQntuples(res), 1);
			assert_int_equal(
				pg_get_bytea(res, 0, 0, k, &got, &glen), 0);
			assert_int_equal(glen, k);
			memcpy(rbuf, got, k);
			free(got);
			PQclear(res);
			rbuf += k;
		}
		off += k;
		n -= k;
	}
}

static void
rec_peek(struct fx *f, const struct sample_loc *loc, uint64_t off, uint8_t *buf,
	 size_t n)
{
	rec_access(f, loc, off, buf, NULL, n);
}

static void
rec_poke(struct fx *f, const struct sample_loc *loc, uint64_t off,
	 const void *buf, size_t n)
{
	rec_access(f, loc, off, NULL, buf, n);
}

/* The whole stored record at loc, in a new buffer. */
static uint8_t *
rec_copy(struct fx *f, const struct sample_loc *loc)
{
	uint8_t *p = malloc((size_t)loc->length);

	assert_non_null(p);
	rec_peek(f, loc, 0, p, (size_t)loc->length);
	return p;
}

/* Bytes stored in segment seg: its file's size, or its rows'. */
static uint64_t
stored_size(struct fx *f, uint64_t seg)
{
	char path[256], s[24];
	const char *params[1] = {s};

	if (!f->pg) {
		seg_path(f, seg, path, sizeof(path));
		return file_size(path);
	}
	u64s(seg, s);
	return (uint64_t)sql_i64(f,
				 "SELECT coalesce(sum(octet_length(data)), 0)"
				 " FROM sample_chunks WHERE segment = $1",
				 1, params);
}

/* Removes segment seg: its file, or its rows. */
static void
drop_segment(struct fx *f, uint64_t seg)
{
	char path[256], s[24];
	const char *params[1] = {s};

	if (!f->pg) {
		seg_path(f, seg, path, sizeof(path));
		assert_int_equal(unlink(path), 0);
		return;
	}
	u64s(seg, s);
	sql_run(f, false, "DELETE FROM sample_chunks WHERE segment = $1", 1,
		params, NULL, NULL);
}

/* Appends len bytes at buf, and returns their name in hex and their
 * location. */
static void
append_sample(struct fx *f, const uint8_t *buf, size_t len, char hex[65],
	      struct sample_loc *loc)
{
	sha_hex(buf, len, hex);
	assert_int_equal(samples_append(f->s, hex, buf, len, loc), 0);
}

static void
expect_read(struct fx *f, const struct sample_loc *loc, const char *hex,
	    int want)
{
	uint8_t *out = (uint8_t *)"x";
	size_t len = 123;

	assert_int_equal(samples_read(f->s, loc, hex, &out, &len), want);
	if (want != 0) {
		assert_null(out);
		assert_int_equal(len, 0);
	}
	free(want == 0 ? out : NULL);
}

/* Reads the sample at loc and checks that it is the len bytes at buf. */
static void
expect_content(struct fx *f, const struct sample_loc *loc, const char *hex,
	       const uint8_t *buf, size_t len)
{
	uint8_t *out = NULL;
	size_t got = 123;

	assert_int_equal(samples_read(f->s, loc, hex, &out, &got), 0);
	assert_non_null(out);
	assert_int_equal(got, len);
	if (len > 0)
		assert_memory_equal(out, buf, len);
	free(out);
}

static void
round_trip(struct fx *f, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	struct sample_loc loc;
	char hex[65];

	assert_non_null(buf);
	randombytes_buf(buf, len);
	append_sample(f, buf, len, hex, &loc);
	assert_int_equal(samples_sync(f->s), 0);
	/* The first record of a fresh store. */
	assert_int_equal(loc.segment, first_seg(f));
	assert_int_equal(loc.offset, 0);
	assert_int_equal(loc.length, samples_record_size(len));
	assert_int_equal(stored_size(f, loc.segment), loc.length);
	expect_content(f, &loc, hex, buf, len);
	free(buf);
}

static void
test_round_trip_empty(void **state)
{
	round_trip(*state, 0);
}

static void
test_round_trip_one_byte(void **state)
{
	round_trip(*state, 1);
}

static void
test_round_trip_exactly_one_chunk(void **state)
{
	round_trip(*state, SAMPLES_CHUNK);
}

static void
test_round_trip_one_chunk_plus_one(void **state)
{
	round_trip(*state, SAMPLES_CHUNK + 1);
}

static void
test_round_trip_1mib_random(void **state)
{
	round_trip(*state, 1024 * 1024);
}

static void
test_record_size_is_canonical(void **state)
{
	static const uint64_t lens[] = {0,
					1,
					SAMPLES_CHUNK - 1,
					SAMPLES_CHUNK,
					SAMPLES_CHUNK + 1,
					3 * SAMPLES_CHUNK,
					SAMPLES_MAX_SIZE};
	static const uint64_t chunks[] = {
		1, 1, 1, 1, 2, 3, SAMPLES_MAX_SIZE / SAMPLES_CHUNK};

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		assert_int_equal(samples_record_size(lens[i]),
				 REC_HDR + chunks[i] * CHUNK_OVER + lens[i]);
}

static void
test_several_samples_one_sync(void **state)
{
	struct fx *f = *state;
	static const size_t lens[] = {0,
				      1,
				      SAMPLES_CHUNK,
				      SAMPLES_CHUNK + 1,
				      100,
				      3 * SAMPLES_CHUNK + 5};
	enum { N = sizeof(lens) / sizeof(lens[0]) };
	uint8_t *buf[N];
	struct sample_loc loc[N];
	char hex[N][65];
	uint64_t end = 0;

	for (size_t i = 0; i < N; i++) {
		buf[i] = malloc(lens[i] + 1);
		assert_non_null(buf[i]);
		randombytes_buf(buf[i], lens[i]);
		append_sample(f, buf[i], lens[i], hex[i], &loc[i]);
		/* Record after record in the first segment. */
		assert_int_equal(loc[i].segment, first_seg(f));
		assert_int_equal(loc[i].offset, end);
		assert_int_equal(loc[i].length, samples_record_size(lens[i]));
		end += loc[i].length;
	}
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(stored_size(f, first_seg(f)), end);
	/* Read back in another order than written. */
	for (size_t i = N; i-- > 0;) {
		expect_content(f, &loc[i], hex[i], buf[i], lens[i]);
		free(buf[i]);
	}
}

static void
test_same_sample_twice_two_records(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "submitted by two clients";
	struct sample_loc a, b;
	char hex[65];

	/* The store does not deduplicate: that is the metadata's job. */
	append_sample(f, buf, sizeof(buf), hex, &a);
	append_sample(f, buf, sizeof(buf), hex, &b);
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(b.segment, a.segment);
	assert_int_equal(b.offset, a.offset + a.length);
	expect_content(f, &a, hex, buf, sizeof(buf));
	expect_content(f, &b, hex, buf, sizeof(buf));
}

static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 &&
		     strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* Anything in the store: entries of its directory, or rows. */
static int
stored_count(struct fx *f)
{
	if (f->pg)
		return (int)sql_i64(f, "SELECT count(*) FROM sample_chunks", 0,
				    NULL);
	return count_entries(f->store);
}

static void
test_store_holds_only_private_segments(void **state)
{
	struct fx *f = *state;
	uint8_t buf[SAMPLES_CHUNK * 2 + 5];
	struct sample_loc loc;
	char hex[65], path[256];
	struct stat st;

	/* Opening and syncing an empty store create nothing. */
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(count_entries(f->store), 0);
	randombytes_buf(buf, sizeof(buf));
	append_sample(f, buf, sizeof(buf), hex, &loc);
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(count_entries(f->store), 1);
	seg_path(f, 1, path, sizeof(path));
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 077, 0);
}

static void
test_key_created_0600_with_32_bytes(void **state)
{
	struct fx *f = *state;
	struct stat st;

	assert_int_equal(stat(f->key, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 32);
	assert_int_equal(stat(f->store, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
}

static void
test_key_reused_on_reopen(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "persisted across a restart", k1[32], k2[32];
	struct sample_loc loc;
	char hex[65], err[256];
	uint8_t *kf;
	size_t klen;

	kf = read_whole(f->key, &klen);
	assert_int_equal(klen, 32);
	memcpy(k1, kf, 32);
	free(kf);
	append_sample(f, buf, sizeof(buf), hex, &loc);
	assert_int_equal(samples_sync(f->s), 0);
	samples_close(f->s);
	f->s = NULL;
	assert_int_equal(
		samples_open(f->store, f->key, &f->s, err, sizeof(err)), 0);
	kf = read_whole(f->key, &klen);
	assert_int_equal(klen, 32);
	memcpy(k2, kf, 32);
	free(kf);
	assert_memory_equal(k1, k2, 32);
	expect_content(f, &loc, hex, buf, sizeof(buf));
}

static void
expect_open_refused(struct fx *f, const char *why)
{
	struct samples *s2 = (struct samples *)1;
	char err[256] = "";

	assert_int_equal(samples_open(f->store, f->key, &s2, err, sizeof(err)),
			 VG_EINVAL);
	assert_null(s2);
	if (strstr(err, why) == NULL)
		fail_msg("error \"%s\" does not say \"%s\"", err, why);
}

static void
test_key_mode_0644_refused(void **state)
{
	struct fx *f = *state;

	assert_int_equal(chmod(f->key, 0644), 0);
	expect_open_refused(f, "group or others");
	assert_int_equal(chmod(f->key, 0640), 0);
	expect_open_refused(f, "group or others");
}

static void
test_key_of_31_bytes_refused(void **state)
{
	struct fx *f = *state;
	uint8_t k[31] = {0};

	write_whole(f->key, k, sizeof(k), 0600);
	expect_open_refused(f, "31 bytes, expected 32");
}

static void
test_key_not_regular_file_refused(void **state)
{
	struct fx *f = *state;

	assert_int_equal(unlink(f->key), 0);
	assert_int_equal(mkdir(f->key, 0700), 0);
	expect_open_refused(f, "not a regular file");
}

static void
test_missing_key_for_store_with_samples_refused(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "orphan me not";
	struct sample_loc loc;
	char hex[65];
	struct stat st;

	append_sample(f, buf, sizeof(buf), hex, &loc);
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(unlink(f->key), 0);
	expect_open_refused(f, "already holds samples");
	assert_int_equal(stat(f->key, &st), -1); /* no new key made */
}

static void
test_missing_key_for_empty_store_generated(void **state)
{
	struct fx *f = *state;
	struct samples *s2 = NULL;
	char err[256];
	struct stat st;

	assert_int_equal(unlink(f->key), 0);
	assert_int_equal(samples_open(f->store, f->key, &s2, err, sizeof(err)),
			 0);
	assert_int_equal(stat(f->key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 32);
	samples_close(s2);
}

static void
test_wrong_or_malformed_name_einval(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "some bytes";
	struct sample_loc loc = {1, 0, samples_record_size(sizeof(buf))};
	char hex[65], upper[65], longer[66];

	/* A hash of other bytes. */
	sha_hex("other bytes", 11, hex);
	assert_int_equal(samples_append(f->s, hex, buf, sizeof(buf), &loc),
			 VG_EINVAL);
	/* Upper case, too short, too long, not hex at all. */
	sha_hex(buf, sizeof(buf), hex);
	for (int i = 0; i < 65; i++)
		upper[i] = (char)(hex[i] >= 'a' && hex[i] <= 'f'
					  ? hex[i] - 'a' + 'A'
					  : hex[i]);
	assert_int_equal(samples_append(f->s, upper, buf, sizeof(buf), &loc),
			 VG_EINVAL);
	snprintf(longer, sizeof(longer), "%s0", hex);
	assert_int_equal(samples_append(f->s, longer, buf, sizeof(buf), &loc),
			 VG_EINVAL);
	assert_int_equal(samples_append(f->s, "../../../../../../etc/passwd",
					buf, sizeof(buf), &loc),
			 VG_EINVAL);
	assert_int_equal(samples_append(f->s, NULL, buf, sizeof(buf), &loc),
			 VG_EINVAL);
	expect_read(f, &loc, upper, VG_EINVAL);
	expect_read(f, &loc, longer, VG_EINVAL);
	expect_read(f, &loc, NULL, VG_EINVAL);
	hex[63] = '\0';
	assert_int_equal(samples_append(f->s, hex, buf, sizeof(buf), &loc),
			 VG_EINVAL);
	expect_read(f, &loc, hex, VG_EINVAL);
	/* None of it reached the store. */
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(stored_count(f), 0);
}

static void
test_over_max_size_elimit(void **state)
{
	struct fx *f = *state;
	struct sample_loc loc;
	uint8_t b = 0;
	char hex[65];

	/* Refused on the length alone, before the buffer is hashed (a
	 * one-byte buffer: ASan would catch a read past it). */
	sha_hex(&b, 1, hex);
	assert_int_equal(samples_append(f->s, hex, &b,
					(size_t)SAMPLES_MAX_SIZE + 1, &loc),
			 VG_ELIMIT);
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(stored_count(f), 0);
}

static void
test_segment_hides_plaintext(void **state)
{
	struct fx *f = *state;
	static const char marker[] = "VIGIL-PLAINTEXT-MARKER-0123456789";
	static uint8_t buf[3 * SAMPLES_CHUNK];
	struct sample_loc loc;
	char hex[65];
	uint8_t *file;
	size_t len;

	assert_int_equal(sizeof(marker) - 1, 33);
	/* The marker at the start, across a chunk boundary and at the end. */
	memset(buf, 'A', sizeof(buf));
	memcpy(buf, marker, 32);
	memcpy(buf + SAMPLES_CHUNK - 16, marker, 32);
	memcpy(buf + sizeof(buf) - 32, marker, 32);
	append_sample(f, buf, sizeof(buf), hex, &loc);
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(stored_size(f, loc.segment), loc.length);
	file = rec_copy(f, &loc);
	len = (size_t)loc.length;
	assert_null(memmem(file, len, marker, 32));
	assert_null(memmem(file, len, marker, 8));
	assert_null(memmem(file, len, "AAAAAAAA", 8));
	free(file);
	expect_content(f, &loc, hex, buf, sizeof(buf));
}

static void
reopen(struct fx *f)
{
	char err[256];

	samples_close(f->s);
	f->s = NULL;
	assert_int_equal(open_store(f, &f->s, err, sizeof(err)), 0);
}

static void
test_reopen_appends_to_new_segment(void **state)
{
	struct fx *f = *state;
	uint8_t a[] = "before the restart", b[] = "after the restart";
	struct sample_loc la, lb, lc;
	char ha[65], hb[65], path[256];
	uint64_t size1;

	append_sample(f, a, sizeof(a), ha, &la);
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(la.segment, 1);
	seg_path(f, 1, path, sizeof(path));
	size1 = file_size(path);
	reopen(f);
	append_sample(f, b, sizeof(b), hb, &lb);
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(lb.segment, 2);
	assert_int_equal(lb.offset, 0);
	assert_int_equal(file_size(path), size1); /* segment 1 untouched */
	seg_path(f, 2, path, sizeof(path));
	assert_int_equal(file_size(path), lb.length);
	expect_content(f, &la, ha, a, sizeof(a));
	expect_content(f, &lb, hb, b, sizeof(b));
	/* A restart that appends nothing creates nothing: the next one still
	 * goes on from segment 2. */
	reopen(f);
	reopen(f);
	append_sample(f, a, sizeof(a), ha, &lc);
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(lc.segment, 3);
	expect_content(f, &la, ha, a, sizeof(a));
	expect_content(f, &lb, hb, b, sizeof(b));
	expect_content(f, &lc, ha, a, sizeof(a));
	assert_int_equal(count_entries(f->store), 3);
}

static void
test_torn_tail_left_behind(void **state)
{
	struct fx *f = *state;
	uint8_t a[] = "synced before the crash", c[] = "after the restart",
		junk[300];
	struct sample_loc la, lc;
	char ha[65], hc[65], path[256];

	append_sample(f, a, sizeof(a), ha, &la);
	assert_int_equal(samples_sync(f->s), 0);
	/* What a crash in the middle of a later append leaves: a partial
	 * record past the last synced one. */
	seg_path(f, 1, path, sizeof(path));
	memcpy(junk, "VGS2", 4);
	randombytes_buf(junk + 4, sizeof(junk) - 4);
	patch(path, la.length, junk, sizeof(junk));
	reopen(f);
	append_sample(f, c, sizeof(c), hc, &lc);
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(lc.segment, 2);
	assert_int_equal(lc.offset, 0);
	/* The tail stays where it was, neither written over nor extended. */
	assert_int_equal(file_size(path), la.length + sizeof(junk));
	expect_content(f, &la, ha, a, sizeof(a));
	expect_content(f, &lc, hc, c, sizeof(c));
	/* And a location into the tail is no sample. */
	{
		struct sample_loc t = {1, la.length, lc.length};

		expect_read(f, &t, hc, VG_ECORRUPT);
	}
}

static void
test_missing_segment_enoent(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "in segment one";
	struct sample_loc loc, other;
	char hex[65];

	/* No segment at all yet. */
	sha_hex(buf, sizeof(buf), hex);
	loc = (struct sample_loc){first_seg(f), 0,
				  samples_record_size(sizeof(buf))};
	expect_read(f, &loc, hex, VG_ENOENT);
	/* A segment after the last one. */
	append_sample(f, buf, sizeof(buf), hex, &loc);
	assert_int_equal(samples_sync(f->s), 0);
	other = loc;
	other.segment = loc.segment + 1;
	expect_read(f, &other, hex, VG_ENOENT);
	other.segment = 9999999999999999ULL; /* the largest name */
	expect_read(f, &other, hex, VG_ENOENT);
	/* A segment that went missing. */
	expect_read(f, &loc, hex, 0);
	drop_segment(f, loc.segment);
	expect_read(f, &loc, hex, VG_ENOENT);
}

static void
test_bad_location_refused(void **state)
{
	struct fx *f = *state;
	uint8_t a[] = "the first record", b[200];
	struct sample_loc la, lb, x;
	char ha[65], hb[65];
	uint64_t end;

	append_sample(f, a, sizeof(a), ha, &la);
	randombytes_buf(b, sizeof(b));
	append_sample(f, b, sizeof(b), hb, &lb);
	assert_int_equal(samples_sync(f->s), 0);
	end = stored_size(f, lb.segment);
	assert_int_equal(end, lb.offset + lb.length);

	/* No segment 0, and none past what 16 digits can name. */
	x = lb;
	x.segment = 0;
	expect_read(f, &x, hb, VG_EINVAL);
	x.segment = 10000000000000000ULL;
	expect_read(f, &x, hb, VG_EINVAL);
	x.segment = UINT64_MAX;
	expect_read(f, &x, hb, VG_EINVAL);

	/* A length other than the record's. */
	{
		const uint64_t lens[] = {0,
					 1,
					 samples_record_size(0) - 1,
					 samples_record_size(0),
					 lb.length - 1,
					 lb.length + 1,
					 samples_record_size(sizeof(b) + 1),
					 la.length,
					 samples_record_size(SAMPLES_MAX_SIZE),
					 samples_record_size(SAMPLES_MAX_SIZE) +
						 1,
					 UINT64_MAX};

		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			x = lb;
			x.length = lens[i];
			expect_read(f, &x, hb, VG_ECORRUPT);
		}
	}

	/* An offset into the middle of a record, or past the end. */
	{
		const uint64_t offs[] = {la.offset + 1,
					 lb.offset - 1,
					 lb.offset + 1,
					 lb.offset + 4,
					 lb.offset + AD_LEN,
					 lb.offset + REC_HDR,
					 lb.offset + lb.length - 1,
					 end,
					 end + 1,
					 end + 1000000,
					 INT64_MAX - lb.length,
					 UINT64_MAX - lb.length + 1,
					 UINT64_MAX};

		for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
			x = lb;
			x.offset = offs[i];
			expect_read(f, &x, hb, VG_ECORRUPT);
		}
	}
	/* Offsets no off_t can hold, the record still inside 64 bits: refused.
	 * samples.c passes them to pread() as negative off_t and answers
	 * VG_EIO (from EINVAL), not VG_ECORRUPT. */
	{
		const uint64_t offs[] = {INT64_MAX, (uint64_t)INT64_MAX + 1,
					 UINT64_MAX - lb.length};

		for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
			uint8_t *out = (uint8_t *)"x";
			size_t len = 123;
			int rc;

			x = lb;
			x.offset = offs[i];
			rc = samples_read(f->s, &x, hb, &out, &len);
			assert_true(rc == VG_ECORRUPT || rc == VG_EIO);
			assert_null(out);
			assert_int_equal(len, 0);
		}
	}

	/* Both still read where they are. */
	expect_content(f, &la, ha, a, sizeof(a));
	expect_content(f, &lb, hb, b, sizeof(b));
}

/* Appends a short sample and then a 3-chunk one, syncs, and returns the
 * second's name and location, and the segment's path. */
static void
stored_three_chunks(struct fx *f, char hex[65], struct sample_loc *loc,
		    char *path, struct sample_loc *first, char *first_hex)
{
	uint8_t small[] = "a neighbour", *buf;
	size_t len = 2 * SAMPLES_CHUNK + 100;

	buf = malloc(len);
	assert_non_null(buf);
	append_sample(f, small, sizeof(small), first_hex, first);
	randombytes_buf(buf, len);
	append_sample(f, buf, len, hex, loc);
	assert_int_equal(samples_sync(f->s), 0);
	assert_true(loc->offset > 0);
	seg_path(f, loc->segment, path, 256);
	free(buf);
}

static void
test_truncated_segment_corrupt(void **state)
{
	struct fx *f = *state;
	struct sample_loc loc, first;
	char hex[65], fhex[65], path[256];
	uint8_t *file;
	size_t flen;
	uint64_t r;

	stored_three_chunks(f, hex, &loc, path, &first, fhex);
	file = read_whole(path, &flen);
	assert_int_equal(flen, loc.offset + loc.length);
	r = loc.offset;
	{
		const uint64_t cuts[] = {
			r,
			r + 1,
			r + 4,
			r + AD_LEN - 1,
			r + AD_LEN,
			r + REC_HDR - 1,
			r + REC_HDR,
			r + REC_HDR + 2,
			r + REC_HDR + 4,
			r + REC_HDR + 4 + 100,
			r + REC_HDR + CHUNK_OVER + SAMPLES_CHUNK,
			r + REC_HDR + 2 * (CHUNK_OVER + SAMPLES_CHUNK),
			flen - ABYTES,
			flen - 1};

		for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
			assert_int_equal(truncate(path, (off_t)cuts[i]), 0);
			expect_read(f, &loc, hex, VG_ECORRUPT);
			/* The record before the cut is not affected. */
			expect_read(f, &first, fhex, 0);
			write_whole(path, file, flen, 0600);
		}
	}
	/* And the whole segment still reads: the damage was the cut. */
	expect_read(f, &loc, hex, 0);
	free(file);
}

/* Flips bits at each of the given offsets into the 3-chunk record, one
 * at a time, and checks that the record is refused and its neighbour
 * is not. */
static void
expect_flips_corrupt(struct fx *f, const uint64_t *at, size_t n)
{
	struct sample_loc loc, first;
	char hex[65], fhex[65], path[256];

	stored_three_chunks(f, hex, &loc, path, &first, fhex);
	for (size_t i = 0; i < n; i++) {
		assert_true(at[i] < loc.length);
		for (uint8_t bit = 1; bit != 0; bit = (uint8_t)(bit << 3)) {
			uint8_t byte;

			rec_peek(f, &loc, at[i], &byte, 1);
			byte ^= bit;
			rec_poke(f, &loc, at[i], &byte, 1);
			expect_read(f, &loc, hex, VG_ECORRUPT);
			expect_read(f, &first, fhex, 0);
			byte ^= bit;
			rec_poke(f, &loc, at[i], &byte, 1);
		}
	}
	/* Restored, it reads: the damage was the flip. */
	expect_read(f, &loc, hex, 0);
}

#define FLIPS(f, ...)                                                          \
	do {                                                                   \
		const uint64_t at_[] = {__VA_ARGS__};                          \
		expect_flips_corrupt(f, at_, sizeof(at_) / sizeof(at_[0]));    \
	} while (0)

static void
test_flipped_magic_corrupt(void **state)
{
	FLIPS(*state, 0, 1, 2, 3);
}

static void
test_flipped_sha256_corrupt(void **state)
{
	FLIPS(*state, 4, 5, 20, 35);
}

static void
test_flipped_length_corrupt(void **state)
{
	FLIPS(*state, 36, 40, 42, 43);
}

static void
test_flipped_stream_header_corrupt(void **state)
{
	FLIPS(*state, AD_LEN, AD_LEN + 12, REC_HDR - 1);
}

static void
test_flipped_chunk_length_corrupt(void **state)
{
	/* The first chunk's prefix, the second's, the last's. */
	FLIPS(*state, REC_HDR, REC_HDR + 2, REC_HDR + 3,
	      REC_HDR + CHUNK_OVER + SAMPLES_CHUNK,
	      REC_HDR + CHUNK_OVER + SAMPLES_CHUNK + 3,
	      REC_HDR + 2 * (CHUNK_OVER + SAMPLES_CHUNK) + 3);
}

static void
test_flipped_ciphertext_corrupt(void **state)
{
	/* The tag byte, the message, the MAC; in the first chunk, the
	 * second, the last. */
	FLIPS(*state, REC_HDR + 4, REC_HDR + 5, REC_HDR + 4 + 1000,
	      REC_HDR + CHUNK_OVER + SAMPLES_CHUNK - 1,
	      REC_HDR + CHUNK_OVER + SAMPLES_CHUNK + 4 + 1,
	      2 * SAMPLES_CHUNK + 100 + REC_HDR + 3 * CHUNK_OVER - ABYTES,
	      2 * SAMPLES_CHUNK + 100 + REC_HDR + 3 * CHUNK_OVER - 1);
}

static void
test_record_of_other_sample_corrupt(void **state)
{
	struct fx *f = *state;
	uint8_t a[100], b[100], *rec;
	struct sample_loc la, lb;
	char ha[65], hb[65];

	/* Same length, so only the binding to the name can tell them
	 * apart. */
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	append_sample(f, a, sizeof(a), ha, &la);
	append_sample(f, b, sizeof(b), hb, &lb);
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(la.length, lb.length);
	expect_read(f, &la, hb, VG_ECORRUPT);
	expect_read(f, &lb, ha, VG_ECORRUPT);
	expect_content(f, &la, ha, a, sizeof(a));
	expect_content(f, &lb, hb, b, sizeof(b));
	/* A's record copied over B's. */
	rec = rec_copy(f, &la);
	rec_poke(f, &lb, 0, rec, (size_t)la.length);
	expect_read(f, &lb, hb, VG_ECORRUPT);
	free(rec);
}

static void
test_record_from_other_key_corrupt(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "written under another key", *theirs, *ours;
	struct sample_loc mine, other;
	struct samples *s2 = NULL;
	char hex[65], err[256], dir2[128], key2[128], p2[256];
	size_t tlen;

	snprintf(dir2, sizeof(dir2), "%s/other", f->root);
	snprintf(key2, sizeof(key2), "%s/otherkey", f->root);
	assert_int_equal(samples_open(dir2, key2, &s2, err, sizeof(err)), 0);
	sha_hex(buf, sizeof(buf), hex);
	assert_int_equal(samples_append(s2, hex, buf, sizeof(buf), &other), 0);
	assert_int_equal(samples_sync(s2), 0);
	samples_close(s2);
	append_sample(f, buf, sizeof(buf), hex, &mine);
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(mine.offset, other.offset);
	assert_int_equal(mine.length, other.length);

	/* The other store's record, in files whatever ours is in. */
	snprintf(p2, sizeof(p2), "%s/%016d.seg", dir2, 1);
	ours = rec_copy(f, &mine);
	theirs = read_whole(p2, &tlen);
	assert_int_equal(mine.length, tlen);
	assert_memory_not_equal(ours, theirs, tlen);
	rec_poke(f, &mine, 0, theirs, tlen);
	expect_read(f, &mine, hex, VG_ECORRUPT);
	/* Our own bytes back in place read again. */
	rec_poke(f, &mine, 0, ours, tlen);
	expect_content(f, &mine, hex, buf, sizeof(buf));
	free(ours);
	free(theirs);
}

/*
 * Writes a record in the store's format under the store's own key, with
 * the given chunks and tags, at off in path: what a writer bug, or an
 * attacker holding the key, could produce. The header names sha and len.
 */
struct chunk {
	const uint8_t *p;
	size_t n;
	unsigned char tag;
};

static void
forge(struct fx *f, const struct sample_loc *loc, const char *sha, uint64_t len,
      const struct chunk *c, size_t nc)
{
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t key[32], hdr[REC_HDR], *out, *q;
	size_t klen, total = REC_HDR;
	uint8_t *kf = read_whole(f->key, &klen);

	assert_int_equal(klen, 32);
	memcpy(key, kf, 32);
	free(kf);
	for (size_t i = 0; i < nc; i++)
		total += CHUNK_OVER + c[i].n;
	out = q = malloc(total);
	assert_non_null(out);
	memcpy(hdr, "VGS2", 4);
	assert_int_equal(sodium_hex2bin(hdr + 4, 32, sha, 64, NULL, NULL, NULL),
			 0);
	for (int i = 0; i < 8; i++)
		hdr[36 + i] = (uint8_t)(len >> (56 - 8 * i));
	crypto_secretstream_xchacha20poly1305_init_push(&st, hdr + AD_LEN, key);
	memcpy(q, hdr, REC_HDR);
	q += REC_HDR;
	for (size_t i = 0; i < nc; i++) {
		unsigned long long clen;
		uint32_t n = (uint32_t)(c[i].n + ABYTES);

		q[0] = (uint8_t)(n >> 24);
		q[1] = (uint8_t)(n >> 16);
		q[2] = (uint8_t)(n >> 8);
		q[3] = (uint8_t)n;
		crypto_secretstream_xchacha20poly1305_push(&st, q + 4, &clen,
							   c[i].p, c[i].n, hdr,
							   AD_LEN, c[i].tag);
		q += 4 + clen;
	}
	rec_poke(f, loc, 0, out, total);
	sodium_memzero(key, sizeof(key));
	free(out);
}

static void
test_forged_record_without_final_tag_corrupt(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "cut before the end";
	struct chunk c = {buf, sizeof(buf), TAG_MSG};
	struct sample_loc loc;
	char hex[65];

	append_sample(f, buf, sizeof(buf), hex, &loc);
	assert_int_equal(samples_sync(f->s), 0);
	forge(f, &loc, hex, sizeof(buf), &c, 1);
	expect_read(f, &loc, hex, VG_ECORRUPT);
	/* The same forgery tagged FINAL reads: the forge is faithful. */
	c.tag = TAG_FINAL;
	forge(f, &loc, hex, sizeof(buf), &c, 1);
	expect_content(f, &loc, hex, buf, sizeof(buf));
}

static void
test_forged_chunk_after_final_corrupt(void **state)
{
	struct fx *f = *state;
	uint8_t *buf = malloc(SAMPLES_CHUNK + 1);
	struct sample_loc loc;
	char hex[65];
	struct chunk c[2];

	/* Sized as a genuine two-chunk record: only the early FINAL tag
	 * gives it away. */
	assert_non_null(buf);
	randombytes_buf(buf, SAMPLES_CHUNK + 1);
	append_sample(f, buf, SAMPLES_CHUNK + 1, hex, &loc);
	assert_int_equal(samples_sync(f->s), 0);
	c[0] = (struct chunk){buf, SAMPLES_CHUNK, TAG_FINAL};
	c[1] = (struct chunk){buf + SAMPLES_CHUNK, 1, TAG_FINAL};
	forge(f, &loc, hex, SAMPLES_CHUNK + 1, c, 2);
	expect_read(f, &loc, hex, VG_ECORRUPT);
	/* Tagged as the writer does, the same chunks read. */
	c[0].tag = TAG_MSG;
	forge(f, &loc, hex, SAMPLES_CHUNK + 1, c, 2);
	expect_content(f, &loc, hex, buf, SAMPLES_CHUNK + 1);
	free(buf);
}

static void
test_forged_uneven_chunks_corrupt(void **state)
{
	struct fx *f = *state;
	uint8_t buf[200];
	struct sample_loc loc;
	char hex[65];
	struct chunk c[2] = {{buf, 100, TAG_MSG}, {buf + 100, 100, TAG_FINAL}};

	/* Authentic chunks in a non-canonical cut: the lengths give it
	 * away, whichever length the location claims. */
	randombytes_buf(buf, sizeof(buf));
	append_sample(f, buf, sizeof(buf), hex, &loc);
	assert_int_equal(samples_sync(f->s), 0);
	forge(f, &loc, hex, sizeof(buf), c, 2);
	expect_read(f, &loc, hex, VG_ECORRUPT);
	loc.length += CHUNK_OVER;
	expect_read(f, &loc, hex, VG_ECORRUPT);
}

static void
test_forged_content_not_matching_name_corrupt(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "the real sample", fake[] = "a swapped sample";
	struct chunk c = {fake, sizeof(buf), TAG_FINAL};
	struct sample_loc loc;
	char hex[65];

	/* Authenticated under the right name but with other bytes: only the
	 * re-hash after decryption catches it. */
	assert_true(sizeof(fake) > sizeof(buf));
	append_sample(f, buf, sizeof(buf), hex, &loc);
	assert_int_equal(samples_sync(f->s), 0);
	forge(f, &loc, hex, sizeof(buf), &c, 1);
	expect_read(f, &loc, hex, VG_ECORRUPT);
}

static void
test_symlinked_segment_refused(void **state)
{
	struct fx *f = *state;
	uint8_t a[] = "target";
	struct sample_loc loc, two;
	char hex[65], p1[256], p2[256];

	append_sample(f, a, sizeof(a), hex, &loc);
	assert_int_equal(samples_sync(f->s), 0);
	seg_path(f, 1, p1, sizeof(p1));
	seg_path(f, 2, p2, sizeof(p2));
	two = loc;
	two.segment = 2;
	/* A second name for the same file reads (records do not know their
	 * segment), so it is the symlink that is refused below. */
	assert_int_equal(link(p1, p2), 0);
	expect_content(f, &two, hex, a, sizeof(a));
	assert_int_equal(unlink(p2), 0);
	assert_int_equal(symlink(p1, p2), 0);
	expect_read(f, &two, hex, VG_ETYPE);
	assert_int_equal(unlink(p2), 0);
	assert_int_equal(symlink("0000000000000001.seg", p2), 0);
	expect_read(f, &two, hex, VG_ETYPE);
}

static void
test_fifo_segment_refused(void **state)
{
	struct fx *f = *state;
	uint8_t a[] = "target";
	struct sample_loc loc;
	char hex[65], p2[256];
	int rc;

	append_sample(f, a, sizeof(a), hex, &loc);
	assert_int_equal(samples_sync(f->s), 0);
	seg_path(f, 2, p2, sizeof(p2));
	assert_int_equal(mkfifo(p2, 0600), 0);
	loc.segment = 2;
	/* Neither hangs on the fifo nor reads from it. samples.c does not
	 * check the file type: pread fails with ESPIPE, VG_EIO. */
	alarm(10);
	rc = samples_read(f->s, &loc, hex, &(uint8_t *){NULL}, &(size_t){0});
	alarm(0);
	assert_true(rc == VG_ETYPE || rc == VG_EIO);
}

/* Small records are gathered and written by samples_sync(): a write that
 * fails there loses the whole group, says so, and the store goes on in a
 * new segment. */
static void
test_failed_gathered_write_fails_sync(void **state)
{
	struct fx *f = *state;
	static uint8_t mid[4 * SAMPLES_CHUNK];
	uint8_t a[] = "synced before", c[] = "appended after";
	struct sample_loc la, lb, lc;
	struct rlimit old, small;
	char ha[65], hb[65], hc[65];
	void (*was)(int);
	int rc;

	append_sample(f, a, sizeof(a), ha, &la);
	assert_int_equal(samples_sync(f->s), 0);
	randombytes_buf(mid, sizeof(mid));
	sha_hex(mid, sizeof(mid), hb);
	assert_int_equal(samples_append(f->s, hb, mid, sizeof(mid), &lb), 0);
	was = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_cur = la.length + SAMPLES_CHUNK;
	small.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	rc = samples_sync(f->s);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, was);
	assert_int_equal(rc, VG_EIO);
	/* The next record starts a new segment; the old one is intact. */
	append_sample(f, c, sizeof(c), hc, &lc);
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(lc.segment, la.segment + 1);
	assert_int_equal(lc.offset, 0);
	expect_content(f, &la, ha, a, sizeof(a));
	expect_content(f, &lc, hc, c, sizeof(c));
	assert_int_equal(samples_append(f->s, hb, mid, sizeof(mid), &lb), 0);
	assert_int_equal(samples_sync(f->s), 0);
	expect_content(f, &lb, hb, mid, sizeof(mid));
}

static void
test_failed_append_leaves_store_usable(void **state)
{
	struct fx *f = *state;
	/* Larger than what is gathered in memory: written as it is
	 * encrypted, so the failure is the append's. */
	static uint8_t big[40 * SAMPLES_CHUNK];
	uint8_t a[] = "synced before", c[] = "appended after";
	struct sample_loc la, lb, lc;
	struct rlimit old, small;
	char ha[65], hb[65], hc[65];
	void (*was)(int);

	append_sample(f, a, sizeof(a), ha, &la);
	assert_int_equal(samples_sync(f->s), 0);
	/* A write that fails half-way (here EFBIG; ENOSPC in life). */
	randombytes_buf(big, sizeof(big));
	sha_hex(big, sizeof(big), hb);
	was = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_cur = la.length + SAMPLES_CHUNK;
	small.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(samples_append(f->s, hb, big, sizeof(big), &lb),
			 VG_EIO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, was);
	/* The next record takes the failed one's place. */
	append_sample(f, c, sizeof(c), hc, &lc);
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(lc.segment, 1);
	assert_int_equal(lc.offset, la.length);
	expect_content(f, &la, ha, a, sizeof(a));
	expect_content(f, &lc, hc, c, sizeof(c));
	/* And the store still takes the big sample. */
	assert_int_equal(samples_append(f->s, hb, big, sizeof(big), &lb), 0);
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(lb.offset, lc.offset + lc.length);
	expect_content(f, &lb, hb, big, sizeof(big));
}

/*
 * One writer appends and syncs; readers read what has been synced, as
 * the node's analysis threads do beside its submission thread. Threads
 * do not use cmocka's asserts (they longjmp); they count failures.
 */
#define CONC_SAMPLES 200
#define CONC_READERS 2

struct published {
	struct sample_loc loc;
	char hex[65];
	uint8_t buf[600];
	size_t len;
};

struct conc {
	struct fx *f;
	pthread_mutex_t mu;
	struct published *pub; /* CONC_SAMPLES of them */
	size_t npub;           /* under mu */
	bool done;             /* under mu */
	int writer_rc;
	int failures;        /* under mu */
	unsigned long reads; /* under mu */
};

static void *
conc_writer(void *arg)
{
	struct conc *c = arg;

	for (size_t i = 0; i < CONC_SAMPLES; i++) {
		struct published *p = &c->pub[i];
		int rc;

		/* Distinct contents, 1..600 bytes. */
		p->len = 1 + randombytes_uniform(sizeof(p->buf));
		randombytes_buf(p->buf, p->len);
		memcpy(p->buf, &i, p->len < sizeof(i) ? p->len : sizeof(i));
		sha_hex(p->buf, p->len, p->hex);
		if ((rc = samples_append(c->f->s, p->hex, p->buf, p->len,
					 &p->loc)) != 0 ||
		    (i % 7 == 6 && (rc = samples_sync(c->f->s)) != 0)) {
			c->writer_rc = rc;
			break;
		}
		if (i % 7 != 6 && i != CONC_SAMPLES - 1)
			continue;
		if (i == CONC_SAMPLES - 1 &&
		    (rc = samples_sync(c->f->s)) != 0) {
			c->writer_rc = rc;
			break;
		}
		/* Synced: everything up to i may be read. */
		pthread_mutex_lock(&c->mu);
		c->npub = i + 1;
		pthread_mutex_unlock(&c->mu);
	}
	pthread_mutex_lock(&c->mu);
	c->done = true;
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static bool
conc_check(struct conc *c, size_t i)
{
	const struct published *p = &c->pub[i];
	uint8_t *out = NULL;
	size_t len = 0;
	bool ok;

	ok = samples_read(c->f->s, &p->loc, p->hex, &out, &len) == 0 &&
	     len == p->len && memcmp(out, p->buf, len) == 0;
	free(out);
	return ok;
}

static void *
conc_reader(void *arg)
{
	struct conc *c = arg;
	unsigned long reads = 0;
	int failures = 0;
	size_t n;
	bool done;

	do {
		pthread_mutex_lock(&c->mu);
		n = c->npub;
		done = c->done;
		pthread_mutex_unlock(&c->mu);
		if (n == 0) {
			sched_yield();
			continue;
		}
		/* The newest record, and one at random. */
		failures += !conc_check(c, n - 1);
		failures += !conc_check(c, randombytes_uniform((uint32_t)n));
		reads += 2;
	} while (!done);
	/* Then everything, once the writer is done. */
	for (size_t i = 0; i < n; i++, reads++)
		failures += !conc_check(c, i);
	pthread_mutex_lock(&c->mu);
	c->failures += failures;
	c->reads += reads;
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static void
test_readers_beside_writer(void **state)
{
	struct conc c = {.f = *state};
	pthread_t w, r[CONC_READERS];

	c.pub = calloc(CONC_SAMPLES, sizeof(*c.pub));
	assert_non_null(c.pub);
	assert_int_equal(pthread_mutex_init(&c.mu, NULL), 0);
	for (int i = 0; i < CONC_READERS; i++)
		assert_int_equal(pthread_create(&r[i], NULL, conc_reader, &c),
				 0);
	assert_int_equal(pthread_create(&w, NULL, conc_writer, &c), 0);
	pthread_join(w, NULL);
	for (int i = 0; i < CONC_READERS; i++)
		pthread_join(r[i], NULL);
	pthread_mutex_destroy(&c.mu);
	assert_int_equal(c.writer_rc, 0);
	assert_int_equal(c.npub, CONC_SAMPLES);
	assert_int_equal(c.failures, 0);
	assert_true(c.reads >= CONC_READERS * CONC_SAMPLES);
	/* All in one segment, end to end. */
	for (size_t i = 1; i < CONC_SAMPLES; i++) {
		assert_int_equal(c.pub[i].loc.segment, first_seg(c.f));
		assert_int_equal(c.pub[i].loc.offset,
				 c.pub[i - 1].loc.offset +
					 c.pub[i - 1].loc.length);
	}
	free(c.pub);
}

/* Round trips of records of several rows, in both backends. */
static void
test_round_trip_one_chunk_minus_one(void **state)
{
	round_trip(*state, SAMPLES_CHUNK - 1);
}

static void
test_round_trip_several_mib(void **state)
{
	round_trip(*state, 5 * PG_ROW + 3);
}

/* Refused, one way or the other, and no byte given. */
static void
expect_not_served(struct fx *f, const struct sample_loc *loc, const char *hex)
{
	uint8_t *out = (uint8_t *)"x";
	size_t len = 123;
	int rc = samples_read(f->s, loc, hex, &out, &len);

	if (rc != VG_ENOENT && rc != VG_ECORRUPT)
		fail_msg("read gave %d (%s), not VG_ENOENT or VG_ECORRUPT", rc,
			 vg_strerror(rc));
	assert_null(out);
	assert_int_equal(len, 0);
}

/* The rows stored for the record at loc. */
static int64_t
rows_of(struct fx *f, const struct sample_loc *loc)
{
	char seg[24], off[24];
	const char *params[2] = {seg, off};

	u64s(loc->segment, seg);
	u64s(loc->offset, off);
	return sql_i64(f,
		       "SELECT count(*) FROM sample_chunks"
		       " WHERE segment = $1 AND off = $2",
		       2, params);
}

/* Ends the sessions of the store's writer and readers, as a restarted
 * server or a failover does; waits until they are gone. */
static void
kill_store_sessions(struct fx *f)
{
	sql_run(f, false,
		"SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
		" WHERE application_name LIKE 'vigil-samples%'",
		0, NULL, NULL, NULL);
}

static void
test_pg_rows_cut_at_one_mib(void **state)
{
	struct fx *f = *state;
	struct sample_loc a, b;
	char ha[65], hb[65];
	uint8_t *buf;
	size_t len = 0;

	/* The largest sample whose record fits one row, and one byte
	 * more: two rows, the second of one byte. */
	while (samples_record_size(len + 1) <= PG_ROW)
		len++;
	assert_int_equal(samples_record_size(len), PG_ROW);
	buf = malloc(len + 1);
	assert_non_null(buf);
	randombytes_buf(buf, len + 1);
	append_sample(f, buf, len, ha, &a);
	append_sample(f, buf, len + 1, hb, &b);
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(rows_of(f, &a), 1);
	assert_int_equal(rows_of(f, &b), 2);
	assert_int_equal(b.offset, a.offset + a.length);
	assert_int_equal(stored_size(f, a.segment), a.length + b.length);
	expect_content(f, &a, ha, buf, len);
	expect_content(f, &b, hb, buf, len + 1);
	free(buf);
}

static void
test_pg_unsynced_record_never_served(void **state)
{
	struct fx *f = *state;
	uint8_t a[] = "committed", b[] = "never synced", c[] = "lost commit",
		d[] = "after the loss";
	struct sample_loc la, lb, lc, ld;
	char ha[65], hb[65], hc[65], hd[65];

	append_sample(f, a, sizeof(a), ha, &la);
	assert_int_equal(samples_sync(f->s), 0);
	/* Before its sync a record is in no one else's view. */
	append_sample(f, b, sizeof(b), hb, &lb);
	expect_not_served(f, &lb, hb);
	/* Closed without a sync: rolled back. */
	reopen(f);
	expect_not_served(f, &lb, hb);
	assert_int_equal(stored_count(f), 1);
	expect_content(f, &la, ha, a, sizeof(a));
	/* A commit that fails: the session dies between append and sync. */
	append_sample(f, c, sizeof(c), hc, &lc);
	kill_store_sessions(f);
	assert_int_equal(samples_sync(f->s), VG_EIO);
	expect_not_served(f, &lc, hc);
	/* The store goes on, in another segment: a location handed out for
	 * a lost record never names another one. */
	append_sample(f, d, sizeof(d), hd, &ld);
	assert_int_equal(samples_sync(f->s), 0);
	assert_true(ld.segment != lc.segment);
	expect_content(f, &ld, hd, d, sizeof(d));
	expect_not_served(f, &lc, hc);
	expect_content(f, &la, ha, a, sizeof(a));
}

/* samples_sync_ordered(): what it commits is served as after a sync, on
 * both backends (on PostgreSQL it commits without waiting for the
 * standby, the caller's later commit doing that). */
static void
test_ordered_sync_serves_records(void **state)
{
	struct fx *f = *state;
	uint8_t a[] = "ordered one", b[] = "ordered two";
	struct sample_loc la, lb;
	char ha[65], hb[65];

	append_sample(f, a, sizeof(a), ha, &la);
	append_sample(f, b, sizeof(b), hb, &lb);
	assert_int_equal(samples_sync_ordered(f->s), 0);
	expect_content(f, &la, ha, a, sizeof(a));
	expect_content(f, &lb, hb, b, sizeof(b));
	/* Nothing appended since: nothing to do. */
	assert_int_equal(samples_sync_ordered(f->s), 0);
	reopen(f);
	expect_content(f, &la, ha, a, sizeof(a));
	expect_content(f, &lb, hb, b, sizeof(b));
}

/* An ordered sync that fails loses its records as a sync does, and the
 * store goes on in another segment. */
static void
test_pg_ordered_sync_failure_loses_records(void **state)
{
	struct fx *f = *state;
	uint8_t c[] = "lost ordered commit", d[] = "after it";
	struct sample_loc lc, ld;
	char hc[65], hd[65];

	append_sample(f, c, sizeof(c), hc, &lc);
	kill_store_sessions(f);
	assert_int_equal(samples_sync_ordered(f->s), VG_EIO);
	expect_not_served(f, &lc, hc);
	append_sample(f, d, sizeof(d), hd, &ld);
	assert_int_equal(samples_sync_ordered(f->s), 0);
	assert_true(ld.segment != lc.segment);
	expect_content(f, &ld, hd, d, sizeof(d));
	assert_int_equal(stored_count(f), 1);
}

/*
 * Damages the rows of the record at loc with sql (statements separated by
 * ';', $1 its segment, $2 its offset), checks that it is refused and its
 * neighbour at nb is not, puts the rows back and checks that it reads again.
 */
static void
damage_rows(struct fx *f, const struct sample_loc *loc, const char *hex,
	    const uint8_t *buf, size_t len, const struct sample_loc *nb,
	    const char *nbhex, const char *sql)
{
	char seg[24], off[24];
	const char *params[2] = {seg, off};

	u64s(loc->segment, seg);
	u64s(loc->offset, off);
	sql_run(f, false,
		"CREATE TEMP TABLE saved AS SELECT * FROM sample_chunks"
		" WHERE segment = $1 AND off = $2",
		2, params, NULL, NULL);
	/* One statement at a time: pg_exec takes one with parameters. */
	for (const char *p = sql, *q; *p != '\0'; p = *q ? q + 1 : q) {
		char one[1024];

		q = strchr(p, ';');
		if (q == NULL)
			q = p + strlen(p);
		assert_true((size_t)(q - p) < sizeof(one));
		memcpy(one, p, (size_t)(q - p));
		one[q - p] = '\0';
		sql_run(f, false, one, 2, params, NULL, NULL);
	}
	expect_not_served(f, loc, hex);
	expect_read(f, nb, nbhex, 0);
	sql_run(f, false,
		"DELETE FROM sample_chunks WHERE segment = $1 AND off = $2", 2,
		params, NULL, NULL);
	sql_run(f, false, "INSERT INTO sample_chunks SELECT * FROM saved", 0,
		NULL, NULL, NULL);
	sql_run(f, false, "DROP TABLE saved", 0, NULL, NULL, NULL);
	expect_content(f, loc, hex, buf, len);
}

static void
test_pg_damaged_rows_corrupt(void **state)
{
	static const char *const damage[] = {
		/* A byte of the middle row's ciphertext. */
		"UPDATE sample_chunks SET data = set_byte(data, 5000,"
		" get_byte(data, 5000) # 1)"
		" WHERE segment = $1 AND off = $2 AND seq = 1",
		/* The first row's last byte, the last row's first. */
		"UPDATE sample_chunks SET data = set_byte(data,"
		" octet_length(data) - 1, get_byte(data, octet_length(data) - "
		"1)"
		" # 128) WHERE segment = $1 AND off = $2 AND seq = 0",
		"UPDATE sample_chunks SET data = set_byte(data, 0,"
		" get_byte(data, 0) # 2)"
		" WHERE segment = $1 AND off = $2 AND seq = 2",
		/* Rows deleted: the first, the middle, the last, all. */
		"DELETE FROM sample_chunks WHERE segment = $1 AND off = $2"
		" AND seq = 0",
		"DELETE FROM sample_chunks WHERE segment = $1 AND off = $2"
		" AND seq = 1",
		"DELETE FROM sample_chunks WHERE segment = $1 AND off = $2"
		" AND seq = 2",
		"DELETE FROM sample_chunks WHERE segment = $1 AND off = $2",
		/* Rows cut short or grown. */
		"UPDATE sample_chunks SET data = substring(data FROM 1"
		" FOR octet_length(data) - 1)"
		" WHERE segment = $1 AND off = $2 AND seq = 2",
		"UPDATE sample_chunks SET data = data || '\\x00'::bytea"
		" WHERE segment = $1 AND off = $2 AND seq = 2",
		"UPDATE sample_chunks SET data = data || '\\x00'::bytea"
		" WHERE segment = $1 AND off = $2 AND seq = 0",
		"UPDATE sample_chunks SET data = ''::bytea"
		" WHERE segment = $1 AND off = $2 AND seq = 1",
		/* A row too many, a row renumbered, two rows swapped (same
		 * size: only the decryption can tell). */
		"INSERT INTO sample_chunks SELECT segment, off, 3, data"
		" FROM sample_chunks WHERE segment = $1 AND off = $2"
		" AND seq = 2",
		"UPDATE sample_chunks SET seq = 7"
		" WHERE segment = $1 AND off = $2 AND seq = 2",
		"UPDATE sample_chunks SET seq = 100"
		" WHERE segment = $1 AND off = $2 AND seq = 0;"
		"UPDATE sample_chunks SET seq = 0"
		" WHERE segment = $1 AND off = $2 AND seq = 1;"
		"UPDATE sample_chunks SET seq = 1"
		" WHERE segment = $1 AND off = $2 AND seq = 100",
	};
	struct fx *f = *state;
	uint8_t small[] = "the neighbour", *buf;
	size_t len = 2 * PG_ROW + PG_ROW / 2;
	struct sample_loc ls, loc;
	char hs[65], hex[65];

	buf = malloc(len);
	assert_non_null(buf);
	randombytes_buf(buf, len);
	append_sample(f, small, sizeof(small), hs, &ls);
	append_sample(f, buf, len, hex, &loc);
	assert_int_equal(samples_sync(f->s), 0);
	assert_int_equal(rows_of(f, &loc), 3);
	for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		damage_rows(f, &loc, hex, buf, len, &ls, hs, damage[i]);
	}
	/* The whole segment gone: nothing there. */
	drop_segment(f, loc.segment);
	expect_read(f, &loc, hex, VG_ENOENT);
	free(buf);
}

static void
test_pg_two_writers_disjoint_segments(void **state)
{
	struct fx *f = *state;
	uint8_t a[] = "node one", b[] = "node two";
	struct sample_loc la, lb, lc;
	struct samples *s2 = NULL, *mine = f->s;
	char ha[65], hb[65], err[256];

	assert_int_equal(open_store(f, &s2, err, sizeof(err)), 0);
	/* Both transactions open at once, committed in the other order. */
	append_sample(f, a, sizeof(a), ha, &la);
	f->s = s2;
	append_sample(f, b, sizeof(b), hb, &lb);
	assert_int_equal(samples_sync(s2), 0);
	f->s = mine;
	assert_int_equal(samples_sync(mine), 0);
	assert_true(la.segment != lb.segment);
	assert_true(la.segment >= SAMPLES_PG_SEGMENT_FIRST);
	assert_true(lb.segment >= SAMPLES_PG_SEGMENT_FIRST);
	assert_int_equal(la.offset, 0);
	assert_int_equal(lb.offset, 0);
	/* Any handle reads any writer's records. */
	expect_content(f, &lb, hb, b, sizeof(b));
	f->s = s2;
	expect_content(f, &la, ha, a, sizeof(a));
	/* A restarted writer takes a third. */
	samples_close(s2);
	assert_int_equal(open_store(f, &s2, err, sizeof(err)), 0);
	f->s = s2;
	append_sample(f, a, sizeof(a), ha, &lc);
	assert_int_equal(samples_sync(s2), 0);
	assert_true(lc.segment != la.segment && lc.segment != lb.segment);
	expect_content(f, &lc, ha, a, sizeof(a));
	samples_close(s2);
	f->s = mine;
}

#define MANY_READERS 12
#define MANY_SAMPLES 24

struct many {
	struct fx *f;
	struct sample_loc loc[MANY_SAMPLES];
	char hex[MANY_SAMPLES][65];
	uint8_t *buf[MANY_SAMPLES];
	size_t len[MANY_SAMPLES];
	pthread_mutex_t mu;
	int failures; /* under mu */
};

static void *
many_reader(void *arg)
{
	struct many *m = arg;
	int failures = 0;

	for (int round = 0; round < 3; round++) {
		for (size_t j = 0; j < MANY_SAMPLES; j++) {
			size_t i = randombytes_uniform(MANY_SAMPLES);
			uint8_t *out = NULL;
			size_t len = 0;

			if (samples_read(m->f->s, &m->loc[i], m->hex[i], &out,
					 &len) != 0 ||
			    len != m->len[i] ||
			    (len > 0 && memcmp(out, m->buf[i], len) != 0))
				failures++;
			free(out);
		}
	}
	pthread_mutex_lock(&m->mu);
	m->failures += failures;
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

static void
test_pg_many_concurrent_readers(void **state)
{
	struct many m = {.f = *state};
	pthread_t t[MANY_READERS];

	/* More readers than sessions in the pool: some wait. Some samples
	 * of several rows. */
	for (size_t i = 0; i < MANY_SAMPLES; i++) {
		m.len[i] = i % 8 == 7 ? PG_ROW + 1000 * i : 100 * i;
		m.buf[i] = malloc(m.len[i] + 1);
		assert_non_null(m.buf[i]);
		randombytes_buf(m.buf[i], m.len[i]);
		append_sample(m.f, m.buf[i], m.len[i], m.hex[i], &m.loc[i]);
	}
	assert_int_equal(samples_sync(m.f->s), 0);
	assert_int_equal(pthread_mutex_init(&m.mu, NULL), 0);
	for (int i = 0; i < MANY_READERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, many_reader, &m),
				 0);
	for (int i = 0; i < MANY_READERS; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&m.mu);
	assert_int_equal(m.failures, 0);
	/* The pool stayed within its bound. */
	assert_true(sql_i64(m.f,
			    "SELECT count(*) FROM pg_stat_activity"
			    " WHERE application_name = 'vigil-samples-read'",
			    0, NULL) <= 8);
	for (size_t i = 0; i < MANY_SAMPLES; i++)
		free(m.buf[i]);
}

static void
test_pg_sessions_killed_reconnect(void **state)
{
	struct fx *f = *state;
	uint8_t a[] = "before", b[] = "after the kill", c[] = "in flight",
		d[] = "after the loss";
	struct sample_loc la, lb, lc, ld;
	char ha[65], hb[65], hc[65], hd[65];
	int rc;

	append_sample(f, a, sizeof(a), ha, &la);
	assert_int_equal(samples_sync(f->s), 0);
	expect_content(f, &la, ha, a, sizeof(a)); /* a reader's session */
	/* Killed while idle: the next append and sync fail cleanly or
	 * work on a new session; the second try works in any case. */
	kill_store_sessions(f);
	sha_hex(b, sizeof(b), hb);
	rc = samples_append(f->s, hb, b, sizeof(b), &lb);
	if (rc == 0)
		rc = samples_sync(f->s);
	if (rc != 0) {
		assert_int_equal(rc, VG_EIO);
		assert_int_equal(samples_append(f->s, hb, b, sizeof(b), &lb),
				 0);
		assert_int_equal(samples_sync(f->s), 0);
	}
	/* The readers' sessions died in the pool: reads work again. */
	expect_content(f, &la, ha, a, sizeof(a));
	expect_content(f, &lb, hb, b, sizeof(b));
	/* Killed inside a transaction: its records are lost, the next
	 * ones are not. */
	append_sample(f, c, sizeof(c), hc, &lc);
	kill_store_sessions(f);
	assert_int_equal(samples_sync(f->s), VG_EIO);
	expect_not_served(f, &lc, hc);
	append_sample(f, d, sizeof(d), hd, &ld);
	assert_int_equal(samples_sync(f->s), 0);
	expect_content(f, &ld, hd, d, sizeof(d));
	expect_content(f, &lb, hb, b, sizeof(b));
}

static void
test_pg_unreachable_or_malformed_dsn_refused(void **state)
{
	struct fx *f = *state;
	struct samples *s2 = (struct samples *)1;
	char err[512] = "";

	/* Port 1 on loopback: nothing listens. */
	assert_int_equal(samples_open_pg("host=127.0.0.1 port=1 dbname=vigil"
					 " user=vigil connect_timeout=2",
					 &f->src, &s2, err, sizeof(err)),
			 VG_EIO);
	assert_null(s2);
	assert_true(err[0] != '\0');
	s2 = (struct samples *)1;
	assert_int_equal(samples_open_pg("host='unterminated", &f->src, &s2,
					 err, sizeof(err)),
			 VG_EINVAL);
	assert_null(s2);
}

static void
test_pg_schema_newer_refused(void **state)
{
	struct fx *f = *state;
	struct samples *s2 = NULL;
	char err[512];

	assert_int_equal(sql_i64(f,
				 "SELECT version FROM vigil_schema"
				 " WHERE component = 'samples'",
				 0, NULL),
			 1);
	/* A second open finds it done. */
	assert_int_equal(open_store(f, &s2, err, sizeof(err)), 0);
	samples_close(s2);
	s2 = NULL;
	sql_run(f, false,
		"UPDATE vigil_schema SET version = 2"
		" WHERE component = 'samples'",
		0, NULL, NULL, NULL);
	assert_int_equal(open_store(f, &s2, err, sizeof(err)), VG_EINVAL);
	assert_null(s2);
}

static void
test_pg_reopen_takes_new_segment(void **state)
{
	struct fx *f = *state;
	uint8_t a[] = "before the restart", b[] = "after the restart";
	struct sample_loc la, lb;
	char ha[65], hb[65];

	append_sample(f, a, sizeof(a), ha, &la);
	assert_int_equal(samples_sync(f->s), 0);
	reopen(f);
	append_sample(f, b, sizeof(b), hb, &lb);
	assert_int_equal(samples_sync(f->s), 0);
	assert_true(lb.segment > la.segment);
	assert_int_equal(lb.offset, 0);
	assert_int_equal(stored_size(f, la.segment), la.length);
	expect_content(f, &la, ha, a, sizeof(a));
	expect_content(f, &lb, hb, b, sizeof(b));
}

/*
 * A failover (tests/pg/pg-failover-run): the primary stops as in a crash
 * and its synchronous standby is promoted. Every sample synced before is
 * there; the transaction in flight is lost, and said so; the writer and
 * the readers go on against the new primary.
 */
#define FAILOVER_SAMPLES 12

static void
test_pg_failover_loses_nothing_synced(void **state)
{
	struct fx *f = *state;
	const char *cmd = getenv("VIGIL_TEST_PG_FAILOVER");
	uint8_t *buf[FAILOVER_SAMPLES], x[] = "in flight",
					y[] = "after the failover";
	struct sample_loc loc[FAILOVER_SAMPLES], lx, ly;
	char hex[FAILOVER_SAMPLES][65], hx[65], hy[65], err[512];
	size_t len[FAILOVER_SAMPLES];
	int rc;

	if (cmd == NULL || *cmd == '\0')
		fail_msg("VIGIL_TEST_PG_FAILOVER is not set: run under "
			 "tests/pg/pg-failover-run");
	for (size_t i = 0; i < FAILOVER_SAMPLES; i++) {
		len[i] = i % 4 == 3 ? PG_ROW + 77 * i : 50 * i;
		buf[i] = malloc(len[i] + 1);
		assert_non_null(buf[i]);
		randombytes_buf(buf[i], len[i]);
		append_sample(f, buf[i], len[i], hex[i], &loc[i]);
		if (i % 3 == 2)
			assert_int_equal(samples_sync(f->s), 0);
	}
	for (size_t i = 0; i < FAILOVER_SAMPLES; i++)
		expect_content(f, &loc[i], hex[i], buf[i], len[i]);
	append_sample(f, x, sizeof(x), hx, &lx);

	assert_int_equal(system(cmd), 0);

	assert_int_equal(samples_sync(f->s), VG_EIO);
	/* The next batch may find the writer's session gone: then it fails
	 * cleanly, and the one after works. */
	sha_hex(y, sizeof(y), hy);
	rc = samples_append(f->s, hy, y, sizeof(y), &ly);
	if (rc == 0)
		rc = samples_sync(f->s);
	if (rc != 0) {
		assert_int_equal(rc, VG_EIO);
		assert_int_equal(samples_append(f->s, hy, y, sizeof(y), &ly),
				 0);
		assert_int_equal(samples_sync(f->s), 0);
	}
	for (size_t i = 0; i < FAILOVER_SAMPLES; i++) {
		expect_content(f, &loc[i], hex[i], buf[i], len[i]);
		free(buf[i]);
	}
	expect_content(f, &ly, hy, y, sizeof(y));
	expect_not_served(f, &lx, hx);
	/* It is the standby that answers now. */
	if (pg_reconnect(&f->db, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(sql_i64(f, "SELECT count(*) FROM pg_stat_wal_receiver",
				 0, NULL),
			 0);
	assert_true(sql_i64(f,
			    "SELECT count(*) FROM pg_settings WHERE name ="
			    " 'cluster_name' AND setting = 'site2'",
			    0, NULL) == 1);
}

/* An erased record is never served again, in either backend, and the
 * records on either side of it still are; the segment keeps its size
 * (a hole) and no byte of the record is left where it was. Erasing it
 * again is done at once (a retry after a crash). */
static void
test_erased_record_never_served_neighbours_are(void **state)
{
	struct fx *f = *state;
	enum { N = 3 };
	static const size_t lens[N] = {5000, 3 * SAMPLES_CHUNK + 17, 700};
	uint8_t *buf[N];
	struct sample_loc loc[N];
	char hex[N][65];
	uint64_t before;

	for (size_t i = 0; i < N; i++) {
		buf[i] = malloc(lens[i]);
		assert_non_null(buf[i]);
		randombytes_buf(buf[i], lens[i]);
		append_sample(f, buf[i], lens[i], hex[i], &loc[i]);
	}
	assert_int_equal(samples_sync(f->s), 0);
	before = stored_size(f, loc[1].segment);
	assert_int_equal(samples_erase(f->s, &loc[1]), 0);
	{
		uint8_t *out = (uint8_t *)"x";
		size_t len = 1;
		int rc = samples_read(f->s, &loc[1], hex[1], &out, &len);

		assert_true(rc == VG_ECORRUPT || rc == VG_ENOENT);
		assert_null(out);
		assert_int_equal(len, 0);
	}
	expect_content(f, &loc[0], hex[0], buf[0], lens[0]);
	expect_content(f, &loc[2], hex[2], buf[2], lens[2]);
	if (!f->pg) {
		uint8_t *rec = rec_copy(f, &loc[1]);
		uint8_t *zero = calloc(1, (size_t)loc[1].length);

		assert_non_null(zero);
		/* Same size, the record's range all zeros. */
		assert_int_equal(stored_size(f, loc[1].segment), before);
		assert_memory_equal(rec, zero, (size_t)loc[1].length);
		free(rec);
		free(zero);
	} else {
		assert_int_equal(stored_size(f, loc[1].segment),
				 before - loc[1].length);
	}
	/* Again: nothing left, still done. */
	assert_int_equal(samples_erase(f->s, &loc[1]), 0);
	/* The writer goes on appending after it. */
	{
		uint8_t more[100];
		struct sample_loc ml;
		char mh[65];

		randombytes_buf(more, sizeof(more));
		append_sample(f, more, sizeof(more), mh, &ml);
		assert_int_equal(samples_sync(f->s), 0);
		expect_content(f, &ml, mh, more, sizeof(more));
	}
	for (size_t i = 0; i < N; i++)
		free(buf[i]);
}

/* A location no record can have is refused; one of a segment that does
 * not exist has nothing to erase. */
static void
test_erase_bad_location_refused(void **state)
{
	struct fx *f = *state;
	struct sample_loc bad = {0, 0, samples_record_size(1)};
	struct sample_loc none = {first_seg(f) + 7, 0, samples_record_size(1)};

	assert_int_equal(samples_erase(f->s, &bad), VG_EINVAL);
	bad.segment = first_seg(f);
	bad.length = 1;
	assert_int_equal(samples_erase(f->s, &bad), VG_EINVAL);
	bad.length = samples_record_size(1);
	bad.offset = UINT64_MAX - 3;
	assert_int_equal(samples_erase(f->s, &bad), VG_EINVAL);
	assert_int_equal(samples_erase(f->s, NULL), VG_EINVAL);
	assert_int_equal(samples_erase(f->s, &none), 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define P(name) cmocka_unit_test_setup_teardown(name, setup_pg, teardown)

int
main(int argc, char **argv)
{
	const struct CMUnitTest files[] = {
		T(test_round_trip_empty),
		T(test_round_trip_one_byte),
		T(test_round_trip_one_chunk_minus_one),
		T(test_round_trip_exactly_one_chunk),
		T(test_round_trip_one_chunk_plus_one),
		T(test_round_trip_1mib_random),
		T(test_round_trip_several_mib),
		T(test_record_size_is_canonical),
		T(test_several_samples_one_sync),
		T(test_same_sample_twice_two_records),
		T(test_store_holds_only_private_segments),
		T(test_key_created_0600_with_32_bytes),
		T(test_key_reused_on_reopen),
		T(test_key_mode_0644_refused),
		T(test_key_of_31_bytes_refused),
		T(test_key_not_regular_file_refused),
		T(test_missing_key_for_store_with_samples_refused),
		T(test_missing_key_for_empty_store_generated),
		T(test_wrong_or_malformed_name_einval),
		T(test_over_max_size_elimit),
		T(test_segment_hides_plaintext),
		T(test_reopen_appends_to_new_segment),
		T(test_torn_tail_left_behind),
		T(test_missing_segment_enoent),
		T(test_bad_location_refused),
		T(test_truncated_segment_corrupt),
		T(test_flipped_magic_corrupt),
		T(test_flipped_sha256_corrupt),
		T(test_flipped_length_corrupt),
		T(test_flipped_stream_header_corrupt),
		T(test_flipped_chunk_length_corrupt),
		T(test_flipped_ciphertext_corrupt),
		T(test_record_of_other_sample_corrupt),
		T(test_record_from_other_key_corrupt),
		T(test_forged_record_without_final_tag_corrupt),
		T(test_forged_chunk_after_final_corrupt),
		T(test_forged_uneven_chunks_corrupt),
		T(test_forged_content_not_matching_name_corrupt),
		T(test_symlinked_segment_refused),
		T(test_fifo_segment_refused),
		T(test_failed_gathered_write_fails_sync),
		T(test_failed_append_leaves_store_usable),
		T(test_readers_beside_writer),
		T(test_ordered_sync_serves_records),
		T(test_erased_record_never_served_neighbours_are),
		T(test_erase_bad_location_refused),
	};
	/* What applies to both backends, then PostgreSQL's own. */
	const struct CMUnitTest pg[] = {
		P(test_round_trip_empty),
		P(test_round_trip_one_byte),
		P(test_round_trip_one_chunk_minus_one),
		P(test_round_trip_exactly_one_chunk),
		P(test_round_trip_one_chunk_plus_one),
		P(test_round_trip_1mib_random),
		P(test_round_trip_several_mib),
		P(test_several_samples_one_sync),
		P(test_same_sample_twice_two_records),
		P(test_wrong_or_malformed_name_einval),
		P(test_over_max_size_elimit),
		P(test_segment_hides_plaintext),
		P(test_missing_segment_enoent),
		P(test_bad_location_refused),
		P(test_flipped_magic_corrupt),
		P(test_flipped_sha256_corrupt),
		P(test_flipped_length_corrupt),
		P(test_flipped_stream_header_corrupt),
		P(test_flipped_chunk_length_corrupt),
		P(test_flipped_ciphertext_corrupt),
		P(test_record_of_other_sample_corrupt),
		P(test_record_from_other_key_corrupt),
		P(test_forged_record_without_final_tag_corrupt),
		P(test_forged_chunk_after_final_corrupt),
		P(test_forged_uneven_chunks_corrupt),
		P(test_forged_content_not_matching_name_corrupt),
		P(test_readers_beside_writer),
		P(test_pg_rows_cut_at_one_mib),
		P(test_pg_unsynced_record_never_served),
		P(test_ordered_sync_serves_records),
		P(test_pg_ordered_sync_failure_loses_records),
		P(test_pg_damaged_rows_corrupt),
		P(test_pg_two_writers_disjoint_segments),
		P(test_pg_many_concurrent_readers),
		P(test_pg_sessions_killed_reconnect),
		P(test_pg_unreachable_or_malformed_dsn_refused),
		P(test_pg_schema_newer_refused),
		P(test_pg_reopen_takes_new_segment),
		P(test_erased_record_never_served_neighbours_are),
		P(test_erase_bad_location_refused),
	};
	const struct CMUnitTest failover[] = {
		P(test_pg_failover_loses_nothing_synced),
	};
	const char *dsn = getenv("VIGIL_TEST_PG_DSN");
	bool only_pg = argc > 1 && strcmp(argv[1], "--pg") == 0;
	int rc = 0;

	if (sodium_init() < 0)
		return 1;
	if (argc > 1 && strcmp(argv[1], "--pg-failover") == 0)
		return cmocka_run_group_tests_name("samples_pg_failover",
						   failover, NULL, NULL) != 0;
	/* With --pg the PostgreSQL tests run whatever the environment says,
	 * and fail without a server; plainly, the files' tests run, and
	 * PostgreSQL's too when a (scratch: every test empties it) database
	 * is named. */
	if (!only_pg)
		rc = cmocka_run_group_tests_name("samples_files", files, NULL,
						 NULL);
	if (only_pg || (dsn != NULL && *dsn != '\0'))
		rc |= cmocka_run_group_tests_name("samples_pg", pg, NULL, NULL);
	return rc != 0;
}
