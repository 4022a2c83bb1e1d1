/*
 * test_tlog_log.c - the node's durable tiled log (src/tlog/log.c): its
 * files are the tlog-tiles layout, checked tile by tile against a model
 * the test computes itself; its checkpoints verify and never contradict
 * each other; reads serve only what the published checkpoint fixes and
 * nothing outside it; proofs verify; files that disagree make open
 * refuse; readers run beside the writer; proofs from the tile cache are
 * those of the files; and a writer killed at random moments never loses
 * an acknowledged entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "tlog/checkpoint.h"
#include "tlog/log.h"
#include "tlog/merkle.h"
#include "tlog/note.h"
#include "tlog/tile.h"

#define ORIGIN "example.com/vigil-test-log"

static struct note_signer *signer;
static struct note_verifier verifier;

#include "tlog_check.h"

struct fx {
	char tmp[64];
	char dir[96];
	struct model m;
};

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path); /* and go on: clean up as much as possible */
	return 0;
}

static void
rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *t = getenv("TMPDIR");

	if (f == NULL)
		return -1;
	snprintf(f->tmp, sizeof(f->tmp), "%s/vigil-tlog-XXXXXX",
		 t && *t && strlen(t) < 32 ? t : "/tmp");
	if (mkdtemp(f->tmp) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/log", f->tmp);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	rm_rf(f->tmp);
	model_free(&f->m);
	free(f);
	return 0;
}

static int
setup_key(void **state)
{
	(void)state;
	if (note_signer_generate(ORIGIN, NOTE_ED25519, &signer, NULL, 0) != 0)
		return -1;
	note_signer_verifier(signer, &verifier);
	return 0;
}

static int
teardown_key(void **state)
{
	(void)state;
	note_signer_free(signer);
	return 0;
}

static struct tlog_log *
open_log(const char *dir)
{
	struct tlog_log *l = NULL;
	char err[512] = "";
	int rc = tlog_log_open(dir, ORIGIN, signer, &l, err, sizeof(err));

	if (rc != 0)
		fail_msg("open %s: %s: %s", dir, vg_strerror(rc), err);
	return l;
}

/* Opens dir, expecting code, and returns the message. */
static void
open_refused(const char *dir, const struct note_signer *s, const char *origin,
	     int code, const char *msg)
{
	struct tlog_log *l = NULL;
	char err[512] = "";
	int rc = tlog_log_open(dir, origin, s, &l, err, sizeof(err));

	if (rc != code)
		fail_msg("open %s: got %s (%s), want %s", dir, vg_strerror(rc),
			 err, vg_strerror(code));
	assert_null(l);
	if (msg != NULL && strstr(err, msg) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err, msg);
}

static void
write_path(const char *dir, const char *rel, const void *data, size_t len)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_non_null(fp = fopen(path, "wb"));
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Flips one bit of byte off of dir/rel. */
static void
flip(const char *dir, const char *rel, size_t off)
{
	uint8_t *buf;
	size_t len;

	assert_true(read_path(dir, rel, &buf, &len));
	assert_true(off < len);
	buf[off] ^= 0x01;
	write_path(dir, rel, buf, len);
	free(buf);
}

static void
test_empty_log_signs_the_empty_tree(void **state)
{
	struct fx *f = *state;
	struct merkle_hash empty;
	struct tlog_log *l = open_log(f->dir);
	struct checkpoint c;
	struct stat st;
	uint8_t *data;
	size_t len;

	assert_int_equal(stat(f->dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_true(tlog_log_size(l) == 0);
	get_checkpoint(l, &c);
	merkle_hash_empty(&empty);
	assert_true(c.size == 0);
	assert_memory_equal(c.root.b, empty.b, MERKLE_HASH_LEN);
	checkpoint_clear(&c);
	check_log(l, &f->m, f->dir);
	read_refused(l, "tile/0/000.p/1");
	read_refused(l, "tile/entries/000.p/1");
	assert_int_equal(tlog_log_entry(l, 0, &data, &len), VG_ENOENT);
	assert_int_equal(tlog_log_find(l, &empty, &(uint64_t){0}), VG_ENOENT);
	tlog_log_close(l);

	/* Reopened, it is the same log; nothing was appended. */
	l = open_log(f->dir);
	check_log(l, &f->m, f->dir);
	tlog_log_close(l);
}

static void
test_appends_write_the_tiles_the_tree_has(void **state)
{
	static const size_t one[] = {1}, three[] = {7, 200, 47},
			    mixed[] = {3, 100, 250, 1, 389};
	static const struct {
		uint64_t to;
		const size_t *sizes;
		size_t n;
	} steps[] = {
		{1, one, 1},   {255, three, 3},  {256, one, 1},
		{257, one, 1}, {1000, mixed, 5},
	};
	struct fx *f = *state;
	struct tlog_log *l = open_log(f->dir);
	uint64_t first = 99;
	char err[256];

	/* An empty batch changes nothing. */
	assert_int_equal(tlog_log_append(l, NULL, 0, &first, err, 256), 0);
	assert_true(first == 0 && tlog_log_size(l) == 0);
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		append_batches(l, &f->m, steps[s].to - f->m.n, 1,
			       steps[s].sizes, steps[s].n);
		assert_true(f->m.n == steps[s].to);
		check_log(l, &f->m, f->dir);
	}
	tlog_log_close(l);

	/* Reopened, everything is still there, and it grows on. */
	l = open_log(f->dir);
	check_log(l, &f->m, f->dir);
	append_batches(l, &f->m, 300, 2, (const size_t[]){300}, 1);
	check_log(l, &f->m, f->dir);
	tlog_log_close(l);
}

/* The spec's example of 70000 leaves: level-2 tiles, and a batch that
 * fills a level-1 tile. */
static void
test_a_tree_of_the_spec_example_size(void **state)
{
	struct fx *f = *state;
	struct tlog_log *l = open_log(f->dir);
	struct merkle_hash root, proof[MERKLE_PROOF_MAX];
	char path[TILE_PATH_MAX], err[256];
	uint8_t *data;
	size_t len, n;

	append_batches(l, &f->m, 70000, 3, (const size_t[]){1000, 537, 1}, 3);
	tlog_log_close(l);
	l = open_log(f->dir);
	/* 273 full level-0 tiles and one of width 112, one full level-1 tile
	 * and one of width 17, one level-2 tile of width 1. */
	struct walk w = {l, &f->m, f->dir, 0};
	assert_int_equal(tile_walk(0, 70000, false, check_one_tile, &w), 0);
	assert_int_equal(w.count, 273 + 1 + 1 + 1 + 1);
	assert_int_equal(tile_walk(0, 70000, true, check_one_tile, &w), 0);
	tile_path(&(struct tile){2, 0, 1}, path);
	assert_string_equal(path, "tile/2/000.p/1");
	assert_int_equal(tlog_log_read(l, path, &data, &len), 0);
	assert_int_equal(len, 32);
	free(data);
	check_bogus_paths(l, 70000);
	assert_int_equal(merkle_root(f->m.leaves, 70000, &root), 0);
	for (uint64_t i = 0; i < 70000; i += 97) {
		assert_int_equal(
			tlog_log_prove_inclusion(l, i, 70000, proof, &n), 0);
		assert_int_equal(merkle_verify_inclusion(
					 i, 70000, &f->m.leaves[i], proof, n,
					 &root, err, sizeof(err)),
				 0);
	}
	tlog_log_close(l);
}

static void
test_entries_over_65535_bytes_are_refused(void **state)
{
	struct fx *f = *state;
	struct tlog_log *l = open_log(f->dir);
	uint8_t *big = calloc(1, TILE_ENTRY_MAX + 1);
	struct tile_entry e[2] = {{(const uint8_t *)"ok", 2},
				  {big, TILE_ENTRY_MAX + 1}};
	uint64_t first = 7;
	char err[256] = "";
	uint8_t *data;
	size_t len;

	assert_non_null(big);
	assert_int_equal(tlog_log_append(l, e, 2, &first, err, 256), VG_ELIMIT);
	assert_non_null(strstr(err, "65535"));
	assert_true(first == 7 && tlog_log_size(l) == 0);
	/* The largest entry fits. */
	e[1].len = TILE_ENTRY_MAX;
	big[0] = 'B';
	assert_int_equal(tlog_log_append(l, e, 2, &first, err, 256), 0);
	assert_true(first == 0 && tlog_log_size(l) == 2);
	assert_int_equal(tlog_log_entry(l, 1, &data, &len), 0);
	assert_int_equal(len, TILE_ENTRY_MAX);
	assert_memory_equal(data, big, TILE_ENTRY_MAX);
	free(data);
	/* NULL data with a length is refused. */
	e[0].data = NULL;
	assert_int_equal(tlog_log_append(l, e, 1, &first, err, 256), VG_EINVAL);
	free(big);
	tlog_log_close(l);
}

static void
test_a_second_open_of_the_same_log_is_refused(void **state)
{
	struct fx *f = *state;
	struct tlog_log *l = open_log(f->dir);

	open_refused(f->dir, signer, ORIGIN, VG_EINVAL, "in use");
	tlog_log_close(l);
	l = open_log(f->dir);
	tlog_log_close(l);
	/* An origin no checkpoint can carry. */
	open_refused(f->dir, signer, "", VG_EINVAL, NULL);
	open_refused(f->dir, signer, "two\nlines", VG_EINVAL, NULL);
}

/* Returns the bytes of dir/rel, which must exist. */
static uint8_t *
save(const char *dir, const char *rel, size_t *len)
{
	uint8_t *data;

	assert_true(read_path(dir, rel, &data, len));
	return data;
}

static void
test_files_that_disagree_make_open_refuse(void **state)
{
	/* The files the root of 1000 leaves depends on, and the bundle the
	 * next append reads. */
	static const char *const edge[] = {"tile/0/003.p/232", "tile/1/000.p/3",
					   "tile/entries/003.p/232", "state",
					   "checkpoint"};
	struct fx *f = *state;
	struct tlog_log *l = open_log(f->dir);
	struct note_signer *other;
	uint8_t *old_state, *data;
	size_t old_state_len, len;

	append_batches(l, &f->m, 500, 4, (const size_t[]){500}, 1);
	tlog_log_close(l);
	old_state = save(f->dir, "state", &old_state_len);
	l = open_log(f->dir);
	append_batches(l, &f->m, 500, 4, (const size_t[]){500}, 1);
	tlog_log_close(l);

	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		uint8_t *keep;
		size_t klen;

		keep = save(f->dir, edge[i], &klen);
		/* A flipped bit anywhere that matters: the tiles' hashes, an
		 * entry, the state's size, root or checksum, the signature. */
		for (size_t off = 0; off < klen; off += 1 + klen / 7) {
			flip(f->dir, edge[i], off);
			open_refused(f->dir, signer, ORIGIN, VG_ECORRUPT, NULL);
			write_path(f->dir, edge[i], keep, klen);
		}
		flip(f->dir, edge[i], klen - 2);
		open_refused(f->dir, signer, ORIGIN, VG_ECORRUPT, NULL);
		/* Cut short, or gone. */
		write_path(f->dir, edge[i], keep, klen - 1);
		open_refused(f->dir, signer, ORIGIN, VG_ECORRUPT, NULL);
		{
			char path[256];

			snprintf(path, sizeof(path), "%s/%s", f->dir, edge[i]);
			assert_int_equal(unlink(path), 0);
			open_refused(f->dir, signer, ORIGIN, VG_ECORRUPT, NULL);
		}
		write_path(f->dir, edge[i], keep, klen);
		free(keep);
		l = open_log(f->dir);
		tlog_log_close(l);
	}

	/* An older state than the checkpoint: the checkpoint is ahead. */
	data = save(f->dir, "state", &len);
	write_path(f->dir, "state", old_state, old_state_len);
	open_refused(f->dir, signer, ORIGIN, VG_ECORRUPT, "not of the state");
	write_path(f->dir, "state", data, len);
	free(data);
	/* A checkpoint by another key, or of another origin. */
	assert_int_equal(
		note_signer_generate(ORIGIN, NOTE_ED25519, &other, NULL, 0), 0);
	open_refused(f->dir, other, ORIGIN, VG_ECORRUPT, "log's key");
	note_signer_free(other);
	open_refused(f->dir, signer, "example.com/another", VG_ECORRUPT,
		     "another log");

	/* A full tile in the middle is not read by open, but an entry it
	 * covers is checked against it. */
	l = open_log(f->dir);
	check_log(l, &f->m, f->dir);
	tlog_log_close(l);
	flip(f->dir, "tile/0/001", 40);
	l = open_log(f->dir);
	assert_int_equal(tlog_log_entry(l, 257, &data, &len), VG_ECORRUPT);
	assert_int_equal(tlog_log_entry(l, 256 + 255, &data, &len), 0);
	free(data);
	tlog_log_close(l);
	flip(f->dir, "tile/0/001", 40);

	free(old_state);
}

static void
test_a_checkpoint_behind_the_state_is_republished(void **state)
{
	struct fx *f = *state;
	struct tlog_log *l = open_log(f->dir);
	uint8_t *old_cp, *cp;
	size_t old_len, len;
	struct checkpoint c;

	append_batches(l, &f->m, 300, 5, (const size_t[]){300}, 1);
	tlog_log_close(l);
	old_cp = save(f->dir, "checkpoint", &old_len);
	l = open_log(f->dir);
	append_batches(l, &f->m, 450, 5, (const size_t[]){450}, 1);
	tlog_log_close(l);
	cp = save(f->dir, "checkpoint", &len);

	/* As if killed between the state and the checkpoint of 750. */
	write_path(f->dir, "checkpoint", old_cp, old_len);
	l = open_log(f->dir);
	get_checkpoint(l, &c);
	assert_true(c.size == 750);
	checkpoint_clear(&c);
	check_log(l, &f->m, f->dir);
	tlog_log_close(l);
	/* Ed25519 is deterministic: the same checkpoint as before. */
	free(old_cp);
	old_cp = save(f->dir, "checkpoint", &old_len);
	assert_int_equal(old_len, len);
	assert_memory_equal(old_cp, cp, len);
	free(old_cp);
	free(cp);

	/* A state whose checksum fails, and one with a sound checksum
	 * whose tree is not the tiles'. */
	{
		uint8_t *st = save(f->dir, "state", &len), *keep;
		unsigned int mdlen;

		assert_int_equal(len, 80);
		keep = malloc(len);
		assert_non_null(keep);
		memcpy(keep, st, len);
		st[15]--; /* the size, big-endian at 8..15: 749 */
		write_path(f->dir, "state", st, len);
		open_refused(f->dir, signer, ORIGIN, VG_ECORRUPT, "checksum");
		assert_int_equal(
			EVP_Digest(st, 48, st + 48, &mdlen, EVP_sha256(), NULL),
			1);
		write_path(f->dir, "state", st, len);
		open_refused(f->dir, signer, ORIGIN, VG_ECORRUPT,
			     "disagree with the state");
		write_path(f->dir, "state", keep, len);
		free(keep);
		free(st);
		l = open_log(f->dir);
		check_log(l, &f->m, f->dir);
		tlog_log_close(l);
	}
}

/* The checkpoint of another tree of the same key, behind the state, is
 * not republished over: the signer would contradict itself. */
static void
test_a_checkpoint_of_another_tree_is_not_signed_over(void **state)
{
	struct fx *f = *state;
	struct model other = {0};
	char odir[128];
	struct tlog_log *l;
	uint8_t *cp;
	size_t len;

	snprintf(odir, sizeof(odir), "%s/other", f->tmp);
	l = open_log(odir);
	append_batches(l, &other, 300, 11, (const size_t[]){300}, 1);
	tlog_log_close(l);
	cp = save(odir, "checkpoint", &len);
	l = open_log(f->dir);
	append_batches(l, &f->m, 750, 12, (const size_t[]){750}, 1);
	tlog_log_close(l);
	write_path(f->dir, "checkpoint", cp, len);
	open_refused(f->dir, signer, ORIGIN, VG_ECORRUPT, "not a prefix");
	free(cp);
	model_free(&other);
}

/* A stored tile that no longer gives the signed tree stops an append
 * before anything is committed or signed. */
static void
test_an_append_over_tiles_that_changed_is_refused(void **state)
{
	struct fx *f = *state;
	struct tlog_log *l = open_log(f->dir);
	uint8_t *cp, *cp2, *keep, b[1] = {'x'};
	size_t len, len2, klen;
	struct tile_entry e = {b, 1};
	uint64_t first = 42;
	char err[512] = "";

	append_batches(l, &f->m, 300, 13, (const size_t[]){300}, 1);
	tlog_log_checkpoint(l, (char **)&cp, &len, NULL);
	/* The level-1 tile holding the root of the first 256 entries. */
	keep = save(f->dir, "tile/1/000.p/1", &klen);
	flip(f->dir, "tile/1/000.p/1", 3);
	assert_int_equal(tlog_log_append(l, &e, 1, &first, err, sizeof(err)),
			 VG_ECORRUPT);
	assert_true(first == 42 && tlog_log_size(l) == 300);
	tlog_log_checkpoint(l, (char **)&cp2, &len2, NULL);
	assert_int_equal(len, len2);
	assert_memory_equal(cp, cp2, len);
	free(cp2);
	cp2 = save(f->dir, "checkpoint", &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(cp, cp2, len);
	free(cp2);
	/* Put back, the log appends again: nothing was committed. */
	write_path(f->dir, "tile/1/000.p/1", keep, klen);
	append_batches(l, &f->m, 10, 13, (const size_t[]){10}, 1);
	check_log(l, &f->m, f->dir);
	tlog_log_close(l);
	free(keep);
	free(cp);
}

static void
test_leftovers_beyond_the_state_are_never_served(void **state)
{
	struct fx *f = *state;
	struct tlog_log *l = open_log(f->dir);
	static const uint8_t junk[TILE_BYTES] = {0xaa};
	char path[256];

	append_batches(l, &f->m, 100, 6, (const size_t[]){100}, 1);
	tlog_log_close(l);
	/* What a batch killed before its state leaves: wider partial tiles,
	 * the full tile, later tiles, temporary files. */
	write_path(f->dir, "tile/0/000.p/200", junk, 200 * 32);
	write_path(f->dir, "tile/entries/000.p/200", junk, 400);
	write_path(f->dir, "tile/0/000", junk, TILE_BYTES);
	write_path(f->dir, "tile/entries/000", junk, 512);
	snprintf(path, sizeof(path), "%s/tile/0/001.p", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	write_path(f->dir, "tile/0/001.p/5", junk, 5 * 32);
	write_path(f->dir, "tile/0/000.p/.200.tmp", junk, 77);
	write_path(f->dir, ".state.tmp", junk, 3);
	write_path(f->dir, ".checkpoint.tmp", junk, 3);
	l = open_log(f->dir);
	check_log(l, &f->m, f->dir);
	read_refused(l, "tile/0/000.p/200");
	read_refused(l, "tile/0/000");
	read_refused(l, "tile/0/001.p/5");
	/* The next batches write over them. */
	append_batches(l, &f->m, 100, 7, (const size_t[]){100}, 1);
	check_log(l, &f->m, f->dir);
	append_batches(l, &f->m, 200, 7, (const size_t[]){61}, 1);
	check_log(l, &f->m, f->dir);
	tlog_log_close(l);
}

static void
test_a_directory_that_is_not_a_log_is_refused(void **state)
{
	struct fx *f = *state;

	assert_int_equal(mkdir(f->dir, 0700), 0);
	write_path(f->dir, "notes.txt", "hello", 5);
	open_refused(f->dir, signer, ORIGIN, VG_ECORRUPT, "notes.txt");
}

/* Readers beside the writer: every checkpoint a reader gets has proofs
 * and tiles that verify, whatever the writer is doing. */
struct reader {
	struct tlog_log *l;
	atomic_bool *done;
	atomic_int errors;
	int reads;
};

static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	uint64_t seed = (uint64_t)(uintptr_t)r;

	while (!atomic_load(r->done)) {
		struct merkle_hash proof[MERKLE_PROOF_MAX], leaf;
		char *text, path[TILE_PATH_MAX];
		uint8_t e[64], *data;
		struct checkpoint c;
		uint64_t i;
		size_t len, n, elen;

		tlog_log_checkpoint(r->l, &text, &len, NULL);
		if (checkpoint_open(text, len, ORIGIN, &verifier, NULL, 0, 0,
				    &c, NULL, 0) != 0) {
			atomic_fetch_add(&r->errors, 1);
			free(text);
			break;
		}
		free(text);
		if (c.size == 0) {
			checkpoint_clear(&c);
			continue;
		}
		seed = mix(seed);
		i = seed % c.size;
		elen = entry_bytes(i, 8, e);
		if (merkle_hash_leaf(e, elen, &leaf) != 0 ||
		    tlog_log_prove_inclusion(r->l, i, c.size, proof, &n) != 0 ||
		    merkle_verify_inclusion(i, c.size, &leaf, proof, n, &c.root,
					    NULL, 0) != 0)
			atomic_fetch_add(&r->errors, 1);
		/* The level-0 tile and the bundle of i at c.size, though the
		 * log may have grown since. */
		for (int level = TILE_ENTRIES; level <= 0; level++) {
			struct tile t = {level, i / TILE_WIDTH, 0};
			uint64_t full;
			unsigned w;

			tile_count(c.size, 0, &full, &w);
			t.width = t.index < full ? TILE_WIDTH : w;
			tile_path(&t, path);
			if (tlog_log_read(r->l, path, &data, &len) != 0) {
				atomic_fetch_add(&r->errors, 1);
				continue;
			}
			if (level == 0 &&
			    (len != t.width * 32u ||
			     memcmp(data + i % TILE_WIDTH * 32, leaf.b, 32)))
				atomic_fetch_add(&r->errors, 1);
			free(data);
		}
		if (tlog_log_entry(r->l, i, &data, &len) != 0 || len != elen ||
		    memcmp(data, e, elen) != 0)
			atomic_fetch_add(&r->errors, 1);
		free(data);
		checkpoint_clear(&c);
		r->reads++;
	}
	return NULL;
}

static void
test_readers_run_beside_the_writer(void **state)
{
	struct fx *f = *state;
	struct tlog_log *l = open_log(f->dir);
	struct reader r[3];
	pthread_t th[3];
	atomic_bool done = false;
	int reads = 0;

	for (int i = 0; i < 3; i++) {
		r[i] = (struct reader){l, &done, 0, 0};
		assert_int_equal(
			pthread_create(&th[i], NULL, reader_main, &r[i]), 0);
	}
	append_batches(l, &f->m, 2000, 8,
		       (const size_t[]){1, 37, 256, 3, 255, 90}, 6);
	atomic_store(&done, true);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(atomic_load(&r[i].errors), 0);
		reads += r[i].reads;
	}
	assert_true(reads > 0);
	check_log(l, &f->m, f->dir);
	tlog_log_close(l);
}

/*
 * The proofs' tile cache (log.c): proofs from a cold cache, from a warm
 * one and from a reference reader over the model's own leaves are the
 * same bytes; a tile file changed before its tile is cached shows in the
 * proofs (a wrong length as VG_ECORRUPT, a wrong hash as a proof that
 * does not verify), and one changed after its tile is cached does not,
 * until the log is reopened.
 */
struct mem_tree {
	struct merkle_hash *lv[64]; /* every complete node, level by level */
	uint64_t n[64];
};

static void
mem_tree_init(struct mem_tree *t, const struct merkle_hash *leaves, uint64_t n)
{
	memset(t, 0, sizeof(*t));
	t->n[0] = n;
	assert_non_null(t->lv[0] = malloc(n * sizeof(*leaves)));
	memcpy(t->lv[0], leaves, n * sizeof(*leaves));
	for (unsigned k = 1; t->n[k - 1] >= 2; k++) {
		t->n[k] = t->n[k - 1] / 2;
		assert_non_null(t->lv[k] = malloc(t->n[k] * sizeof(*leaves)));
		for (uint64_t p = 0; p < t->n[k]; p++)
			assert_int_equal(
				merkle_hash_children(&t->lv[k - 1][2 * p],
						     &t->lv[k - 1][2 * p + 1],
						     &t->lv[k][p]),
				0);
	}
}

static void
mem_tree_free(struct mem_tree *t)
{
	for (unsigned k = 0; k < 64; k++)
		free(t->lv[k]);
}

static int
mem_tree_read(void *ctx, unsigned level, uint64_t index,
	      struct merkle_hash *out)
{
	const struct mem_tree *t = ctx;

	if (level >= 64 || index >= t->n[level])
		return VG_EINVAL;
	*out = t->lv[level][index];
	return 0;
}

struct query {
	bool cons; /* consistency from a to b, or inclusion of a in b */
	uint64_t a, b;
};

struct answer {
	int rc;
	size_t n;
	struct merkle_hash p[MERKLE_PROOF_MAX];
};

static void
ask(struct tlog_log *l, const struct query *q, struct answer *a)
{
	memset(a, 0, sizeof(*a));
	a->rc = q->cons ? tlog_log_prove_consistency(l, q->a, q->b, a->p, &a->n)
			: tlog_log_prove_inclusion(l, q->a, q->b, a->p, &a->n);
}

static void
same_answer(const struct answer *got, const struct answer *want,
	    const struct query *q, const char *what)
{
	if (got->rc != want->rc || got->n != want->n ||
	    memcmp(got->p, want->p, want->n * sizeof(want->p[0])) != 0)
		fail_msg("%s: %s %" PRIu64 ", %" PRIu64
			 ": not the reference proof (rc %d, %zu hashes)",
			 what, q->cons ? "consistency" : "inclusion", q->a,
			 q->b, got->rc, got->n);
}

static void
test_proofs_from_the_cache_are_the_proofs_of_the_files(void **state)
{
	enum { N = 66300, NQ = 600 };
	static const uint64_t sizes[] = {N,     N - 1, 65537, 65536,
					 65535, 40000, 1000,  257,
					 256,   255,   2,     1};
	struct fx *f = *state;
	struct tlog_log *l = open_log(f->dir);
	struct query *q = calloc(NQ, sizeof(*q));
	struct answer *ref = calloc(NQ, sizeof(*ref)), got;
	struct mem_tree mt;
	struct merkle_reader mr = {mem_tree_read, &mt};
	struct merkle_hash root, proof[MERKLE_PROOF_MAX];
	uint8_t *data;
	size_t len, n;
	uint64_t x = 7;
	char err[256];

	assert_non_null(q);
	assert_non_null(ref);
	append_batches(l, &f->m, N, 14, (const size_t[]){1000, 3, 997}, 3);
	tlog_log_close(l);
	mem_tree_init(&mt, f->m.leaves, N);
	assert_int_equal(merkle_root(f->m.leaves, N, &root), 0);
	for (size_t i = 0; i < NQ; i++) {
		uint64_t b = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];

		x = mix(x + i);
		q[i].cons = i % 3 == 2;
		q[i].b = b;
		q[i].a = q[i].cons ? 1 + x % b : x % b;
		if (q[i].cons)
			ref[i].rc = merkle_prove_consistency(
				&mr, q[i].a, b, ref[i].p, &ref[i].n, NULL, 0);
		else
			ref[i].rc = merkle_prove_inclusion(
				&mr, q[i].a, b, ref[i].p, &ref[i].n, NULL, 0);
		assert_int_equal(ref[i].rc, 0);
	}

	/* Each proof from a freshly opened log: every tile cold. */
	for (size_t i = 0; i < NQ; i += 37) {
		l = open_log(f->dir);
		ask(l, &q[i], &got);
		same_answer(&got, &ref[i], &q[i], "cold");
		tlog_log_close(l);
	}
	/* All of them as the cache fills, then again from it, then in the
	 * other order from another one. */
	l = open_log(f->dir);
	for (size_t i = 0; i < NQ; i++) {
		ask(l, &q[i], &got);
		same_answer(&got, &ref[i], &q[i], "filling");
	}
	for (size_t i = 0; i < NQ; i++) {
		ask(l, &q[i], &got);
		same_answer(&got, &ref[i], &q[i], "warm");
	}
	tlog_log_close(l);
	l = open_log(f->dir);
	for (size_t i = NQ; i-- > 0;) {
		ask(l, &q[i], &got);
		same_answer(&got, &ref[i], &q[i], "reverse");
	}

	/* Tiles changed once cached: proofs still come from the bytes read
	 * before (tiles read through tlog_log_read() are the files'). Every
	 * level-0 tile is in the cache now: the queries cover them all. */
	for (uint64_t t = 0; t < N / 256; t++) {
		assert_int_equal(
			tlog_log_prove_inclusion(l, t * 256 + 1, N, proof, &n),
			0);
	}
	flip(f->dir, "tile/0/002", 5 * 32 + 3);
	assert_true(read_path(f->dir, "tile/0/003", &data, &len));
	write_path(f->dir, "tile/0/003", data, len - 32);
	free(data);
	assert_int_equal(tlog_log_read(l, "tile/0/003", &data, &len),
			 VG_ECORRUPT);
	assert_int_equal(tlog_log_read(l, "tile/0/002", &data, &len), 0);
	assert_memory_not_equal(data + 5 * 32, f->m.leaves[2 * 256 + 5].b, 32);
	free(data);
	for (size_t i = 0; i < NQ; i++) {
		ask(l, &q[i], &got);
		same_answer(&got, &ref[i], &q[i], "changed files, warm");
	}
	tlog_log_close(l);

	/* Reopened, the cache is cold and the changes show. The open itself
	 * checks only the rightmost tiles (log.h). */
	l = open_log(f->dir);
	assert_int_equal(tlog_log_prove_inclusion(l, 3 * 256 + 1, N, proof, &n),
			 VG_ECORRUPT);
	assert_int_equal(
		tlog_log_prove_consistency(l, 3 * 256 + 10, N, proof, &n),
		VG_ECORRUPT);
	/* The changed hash's sibling, and the other half of its tile. */
	for (uint64_t i = 2 * 256 + 4; i < 3 * 256; i += 196) {
		assert_int_equal(tlog_log_prove_inclusion(l, i, N, proof, &n),
				 0);
		assert_int_equal(merkle_verify_inclusion(i, N, &f->m.leaves[i],
							 proof, n, &root, err,
							 sizeof(err)),
				 VG_EVERIFY);
	}
	/* A tile the changes do not touch. */
	assert_int_equal(tlog_log_prove_inclusion(l, 10 * 256, N, proof, &n),
			 0);
	assert_int_equal(merkle_verify_inclusion(10 * 256, N,
						 &f->m.leaves[10 * 256], proof,
						 n, &root, err, sizeof(err)),
			 0);
	tlog_log_close(l);
	mem_tree_free(&mt);
	free(q);
	free(ref);
}

/*
 * The crash test. A child appends batches in a loop and, after each
 * acknowledged one, writes a record to a pipe; the parent kills it at a
 * random moment, reopens the log, checks it, appends a batch itself, and
 * does it again.
 */
#define CRASH_ROUNDS 24
#define CP_MAX       400

struct ack {
	uint64_t first;
	uint32_t n;
	uint32_t gen;
	uint32_t cp_len;
	char cp[CP_MAX];
};
_Static_assert(sizeof(struct ack) <= PIPE_BUF, "one write is atomic");

struct seen {
	uint64_t size;
	struct merkle_hash root;
};

static int
by_size(const void *a, const void *b)
{
	const struct seen *x = *(const struct seen *const *)a;
	const struct seen *y = *(const struct seen *const *)b;

	return x->size < y->size ? -1 : x->size > y->size;
}

/* Checks that every seen checkpoint's root is that of its prefix of the
 * leaves, in one pass over them (no size beyond n). */
static void
check_prefix_roots(const struct merkle_hash *leaves, uint64_t n,
		   struct seen *seen, size_t nseen)
{
	const struct seen **order = calloc(nseen, sizeof(*order));
	struct merkle_hash stack[64];
	unsigned level[64], top = 0;
	size_t k = 0;

	assert_non_null(order);
	for (size_t i = 0; i < nseen; i++)
		order[i] = &seen[i];
	qsort(order, nseen, sizeof(*order), by_size);
	for (uint64_t i = 0; i <= n && k < nseen; i++) {
		while (k < nseen && order[k]->size == i) {
			struct merkle_hash h;

			if (i == 0)
				merkle_hash_empty(&h);
			else
				h = stack[top - 1];
			for (unsigned j = top ? top - 1 : 0; j-- > 0;)
				assert_int_equal(
					merkle_hash_children(&stack[j], &h, &h),
					0);
			if (memcmp(h.b, order[k]->root.b, MERKLE_HASH_LEN))
				fail_msg("the checkpoint of %" PRIu64
					 " is not a prefix of the log",
					 i);
			k++;
		}
		if (i == n)
			break;
		stack[top] = leaves[i];
		level[top++] = 0;
		while (top >= 2 && level[top - 1] == level[top - 2]) {
			assert_int_equal(merkle_hash_children(&stack[top - 2],
							      &stack[top - 1],
							      &stack[top - 2]),
					 0);
			level[top - 2]++;
			top--;
		}
	}
	assert_true(k == nseen);
	free(order);
}

static _Noreturn void
child_main(const char *dir, int fd, uint64_t seed)
{
	static uint8_t bufs[600][64];
	struct tile_entry e[600];
	struct tlog_log *l = NULL;

	if (tlog_log_open(dir, ORIGIN, signer, &l, NULL, 0) != 0)
		_exit(3);
	for (int k = 0; k < 100000; k++) {
		struct ack a = {0};
		uint64_t first = tlog_log_size(l);
		char *text;
		size_t len, n;

		seed = mix(seed);
		n = 1 + (size_t)(seed % (k % 5 == 0 ? 600 : 40));
		a.gen = (uint32_t)(seed >> 40) | 1;
		for (size_t i = 0; i < n; i++) {
			e[i].len = entry_bytes(first + i, a.gen, bufs[i]);
			e[i].data = bufs[i];
		}
		if (tlog_log_append(l, e, n, &a.first, NULL, 0) != 0 ||
		    a.first != first)
			_exit(4);
		a.n = (uint32_t)n;
		tlog_log_checkpoint(l, &text, &len, NULL);
		if (len > CP_MAX)
			_exit(5);
		memcpy(a.cp, text, len);
		a.cp_len = (uint32_t)len;
		free(text);
		if (write(fd, &a, sizeof(a)) != (ssize_t)sizeof(a))
			_exit(6);
	}
	_exit(0);
}

/* Records a signed checkpoint text, which must verify. */
static void
see_checkpoint(struct seen **seen, size_t *nseen, const char *text, size_t len)
{
	struct checkpoint c;
	char err[256];

	if (checkpoint_open(text, len, ORIGIN, &verifier, NULL, 0, 0, &c, err,
			    sizeof(err)) != 0)
		fail_msg("a checkpoint the log gave does not verify: %s", err);
	*seen = realloc(*seen, (*nseen + 1) * sizeof(**seen));
	assert_non_null(*seen);
	(*seen)[*nseen].size = c.size;
	(*seen)[*nseen].root = c.root;
	(*nseen)++;
	checkpoint_clear(&c);
}

static void
test_kill_at_any_moment_loses_no_acknowledged_entry(void **state)
{
	struct fx *f = *state;
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	uint32_t *gen = NULL; /* the generation of each acknowledged entry */
	uint64_t ngen = 0, acked = 0, last = 0, killed_mid = 0, behind = 0;
	struct seen *seen = NULL;
	size_t nseen = 0;

	print_message("crash test seed %" PRIu64 "\n", seed);
	for (int round = 0; round < CRASH_ROUNDS; round++) {
		struct merkle_hash *leaves, root, proof[MERKLE_PROOF_MAX];
		struct tlog_log *l;
		struct checkpoint c;
		struct ack a;
		uint64_t size;
		int p[2], status;
		char err[512];
		pid_t pid;
		ssize_t r;

		assert_int_equal(pipe(p), 0);
		seed = mix(seed + (uint64_t)round);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			child_main(f->dir, p[1], seed);
		}
		close(p[1]);
		usleep(1000 + (useconds_t)(mix(seed) % 25000));
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fail_msg("the child exited with %d",
				 WEXITSTATUS(status));
		while ((r = read(p[0], &a, sizeof(a))) == (ssize_t)sizeof(a)) {
			if (a.first + a.n > ngen) {
				gen = realloc(gen,
					      (a.first + a.n) * sizeof(*gen));
				assert_non_null(gen);
				memset(gen + ngen, 0,
				       (a.first + a.n - ngen) * sizeof(*gen));
				ngen = a.first + a.n;
			}
			for (uint32_t i = 0; i < a.n; i++)
				gen[a.first + i] = a.gen;
			if (a.first + a.n > acked)
				acked = a.first + a.n;
			see_checkpoint(&seen, &nseen, a.cp, a.cp_len);
		}
		assert_int_equal(r, 0);
		close(p[0]);

		/* A checkpoint behind the state is republished by open. */
		{
			uint8_t *cp;
			size_t len;

			if (read_path(f->dir, "checkpoint", &cp, &len)) {
				see_checkpoint(&seen, &nseen, (char *)cp, len);
				free(cp);
			}
		}
		/* Whatever the moment, it opens, no smaller than anything
		 * acknowledged or signed. */
		l = open_log(f->dir);
		size = tlog_log_size(l);
		if (size < acked || size < last)
			fail_msg("round %d: size %" PRIu64 ", but %" PRIu64
				 " acknowledged and %" PRIu64 " seen",
				 round, size, acked, last);
		killed_mid += size > acked;
		behind += nseen > 0 && seen[nseen - 1].size < size;
		/* Every entry: the acknowledged ones are the child's. */
		leaves = calloc(size ? size : 1, sizeof(*leaves));
		assert_non_null(leaves);
		for (uint64_t i = 0; i < size; i++) {
			uint8_t *data, want[64];
			size_t len, wlen;

			assert_int_equal(tlog_log_entry(l, i, &data, &len), 0);
			assert_int_equal(
				merkle_hash_leaf(data, len, &leaves[i]), 0);
			if (i < ngen && gen[i] != 0) {
				wlen = entry_bytes(i, gen[i], want);
				if (len != wlen || memcmp(data, want, len))
					fail_msg("round %d: acknowledged "
						 "entry %" PRIu64 " differs",
						 round, i);
			}
			free(data);
		}
		get_checkpoint(l, &c);
		assert_true(c.size == size);
		assert_int_equal(merkle_root(leaves, size, &root), 0);
		assert_memory_equal(root.b, c.root.b, MERKLE_HASH_LEN);
		checkpoint_clear(&c);
		{
			char *text;
			size_t len;

			tlog_log_checkpoint(l, &text, &len, NULL);
			see_checkpoint(&seen, &nseen, text, len);
			free(text);
		}
		/* Every checkpoint ever seen is a prefix of this tree: by its
		 * root, and by a consistency proof from the log. */
		check_prefix_roots(leaves, size, seen, nseen);
		for (size_t k = 0; k < nseen; k++) {
			size_t n;

			if (seen[k].size == size)
				assert_memory_equal(seen[k].root.b, root.b,
						    MERKLE_HASH_LEN);
			if (seen[k].size == 0 || seen[k].size == size)
				continue;
			assert_int_equal(
				tlog_log_prove_consistency(l, seen[k].size,
							   size, proof, &n),
				0);
			if (merkle_verify_consistency(
				    seen[k].size, size, &seen[k].root, &root,
				    proof, n, err, sizeof(err)) != 0)
				fail_msg("round %d: checkpoint of %" PRIu64
					 " is not consistent with %" PRIu64
					 ": %s",
					 round, seen[k].size, size, err);
		}
		free(leaves);

		/* The parent appends too, then hands the log back. */
		{
			static uint8_t bufs[300][64];
			struct tile_entry e[300];
			uint32_t g = (uint32_t)(seed >> 20) | 1;
			size_t n = 1 + (size_t)(mix(seed ^ 1) % 300);
			uint64_t first;
			char *text;
			size_t len;

			for (size_t i = 0; i < n; i++) {
				e[i].len = entry_bytes(size + i, g, bufs[i]);
				e[i].data = bufs[i];
			}
			if (tlog_log_append(l, e, n, &first, err,
					    sizeof(err)) != 0)
				fail_msg("round %d: append: %s", round, err);
			assert_true(first == size);
			gen = realloc(gen, (size + n) * sizeof(*gen));
			assert_non_null(gen);
			if (size > ngen)
				memset(gen + ngen, 0,
				       (size - ngen) * sizeof(*gen));
			for (size_t i = 0; i < n; i++)
				gen[size + i] = g;
			ngen = acked = last = size + n;
			tlog_log_checkpoint(l, &text, &len, NULL);
			see_checkpoint(&seen, &nseen, text, len);
			free(text);
		}
		tlog_log_close(l);
	}
	print_message("crash test: %" PRIu64 " entries, %zu checkpoints; "
		      "rounds that left an unacknowledged batch in the log: "
		      "%" PRIu64 ", a checkpoint behind the state: %" PRIu64
		      "\n",
		      last, nseen, killed_mid, behind);
	assert_true(last > 0);
	free(gen);
	free(seen);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_empty_log_signs_the_empty_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_appends_write_the_tiles_the_tree_has, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_tree_of_the_spec_example_size, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_entries_over_65535_bytes_are_refused, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_second_open_of_the_same_log_is_refused, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_files_that_disagree_make_open_refuse, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_checkpoint_behind_the_state_is_republished,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_checkpoint_of_another_tree_is_not_signed_over,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_an_append_over_tiles_that_changed_is_refused,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_leftovers_beyond_the_state_are_never_served, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_directory_that_is_not_a_log_is_refused, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_readers_run_beside_the_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_proofs_from_the_cache_are_the_proofs_of_the_files,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_kill_at_any_moment_loses_no_acknowledged_entry,
			setup, teardown),
	};

	return cmocka_run_group_tests(tests, setup_key, teardown_key);
}
