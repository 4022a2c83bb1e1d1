/*
 * test_tile.c - tlog-tiles coordinates, paths and entry bundles
 * (src/tlog/tile.c): the spec's examples, round trips, a table of
 * non-canonical and malformed paths and bundles each refused, the tiles a
 * growing tree adds, and proofs generated through the tile reader equal
 * to those generated from the leaves, across tile boundaries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "tlog/merkle.h"
#include "tlog/tile.h"

static void
check_path(int level, uint64_t index, unsigned width, const char *want)
{
	struct tile t = {level, index, width}, back;
	char buf[TILE_PATH_MAX], err[256];

	assert_int_equal(tile_path(&t, buf), 0);
	assert_string_equal(buf, want);
	assert_int_equal(tile_parse_path(buf, strlen(buf), &back, err, 256), 0);
	assert_int_equal(back.level, level);
	assert_true(back.index == index);
	assert_int_equal(back.width, width);
}

static void
test_paths_of_the_spec_and_round_trips(void **state)
{
	(void)state;
	/* tlog-tiles: "index 1234067 will be encoded as x001/x234/067". */
	check_path(0, 1234067, 256, "tile/0/x001/x234/067");
	check_path(TILE_ENTRIES, 1234067, 256, "tile/entries/x001/x234/067");
	check_path(0, 0, 256, "tile/0/000");
	check_path(1, 5, 256, "tile/1/005");
	check_path(2, 999, 17, "tile/2/999.p/17");
	check_path(63, 1000, 1, "tile/63/x001/000.p/1");
	check_path(3, 1000000, 255, "tile/3/x001/x000/000.p/255");
	check_path(TILE_ENTRIES, 273, 112, "tile/entries/273.p/112");
	check_path(TILE_ENTRIES, UINT64_MAX, 255,
		   "tile/entries/x018/x446/x744/x073/x709/x551/615.p/255");
	assert_true(strlen("tile/entries/x018/x446/x744/x073/x709/x551/615"
			   ".p/255") < TILE_PATH_MAX);
	for (uint64_t n = 0; n < 3000000; n += 997)
		for (unsigned w = 1; w <= 256; w += 85) {
			struct tile t = {(int)(n % 64), n, w}, back;
			char buf[TILE_PATH_MAX];

			assert_int_equal(tile_path(&t, buf), 0);
			assert_int_equal(tile_parse_path(buf, strlen(buf),
							 &back, NULL, 0),
					 0);
			assert_true(t.level == back.level &&
				    t.index == back.index &&
				    t.width == back.width);
		}
}

static void
test_tile_path_refuses_impossible_tiles(void **state)
{
	const struct tile bad[] = {
		{64, 0, 256}, {-2, 0, 256}, {0, 0, 0}, {0, 0, 257}};
	char buf[TILE_PATH_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tile_path(&bad[i], buf), VG_EINVAL);
}

static void
test_bad_paths_are_refused(void **state)
{
	static const struct {
		const char *path, *why;
	} bad[] = {
		{"", "does not start with tile/"},
		{"tiles/0/000", "does not start with tile/"},
		{"/tile/0/000", "does not start with tile/"},
		{"tile/0", "has no index"},
		{"tile/", "has no index"},
		{"tile/00/000", "level"},
		{"tile/01/000", "level"},
		{"tile/64/000", "level"},
		{"tile/-1/000", "level"},
		{"tile/+1/000", "level"},
		{"tile/ 1/000", "level"},
		{"tile//000", "level"},
		{"tile/entry/000", "level"},
		{"tile/ENTRIES/000", "level"},
		{"tile/0/", "three digits"},
		{"tile/0/5", "three digits"},
		{"tile/0/05", "three digits"},
		{"tile/0/0005", "junk"},
		{"tile/0/x05/000", "three digits"},
		{"tile/0/x000/005", "leading zero group"},
		{"tile/0/x000/x001/005", "leading zero group"},
		{"tile/0/001/234", "junk"},
		{"tile/0/x001", "is the last"},
		{"tile/0/x001/", "three digits"},
		{"tile/0/x001x234", "is the last"},
		{"tile/0/X001/234", "three digits"},
		{"tile/0/xx01/234", "three digits"},
		{"tile/0/x0a1/234", "three digits"},
		{"tile/0/x018/x446/x744/x073/x709/x551/616", "above 2^64-1"},
		{"tile/0/x001/x000/x000/x000/x000/x000/x000/000",
		 "above 2^64-1"},
		{"tile/0/000/", "junk"},
		{"tile/0/000.p", "junk"},
		{"tile/0/000.p/", "width"},
		{"tile/0/000.p/0", "width"},
		{"tile/0/000.p/00", "width"},
		{"tile/0/000.p/07", "width"},
		{"tile/0/000.p/256", "width"},
		{"tile/0/000.p/1000", "width"},
		{"tile/0/000.p/-1", "width"},
		{"tile/0/000.p/1/", "width"},
		{"tile/0/000.q/1", "junk"},
		{"tile/0/000.p/1 ", "width"},
		{"tile/0/000\n", "junk"},
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tile t;

		err[0] = '\0';
		if (tile_parse_path(bad[i].path, strlen(bad[i].path), &t, err,
				    sizeof(err)) != VG_EFORMAT)
			fail_msg("accepted \"%s\"", bad[i].path);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("\"%s\": message \"%s\" lacks \"%s\"",
				 bad[i].path, err, bad[i].why);
	}
	/* An embedded NUL is not the end of the path. */
	{
		struct tile t;

		assert_int_equal(
			tile_parse_path("tile/0/000\0", 11, &t, NULL, 0),
			VG_EFORMAT);
	}
}

static void
test_counts_of_the_spec_examples(void **state)
{
	uint64_t full;
	unsigned partial;

	(void)state;
	/* "a tree of size 70,000 will be represented by 273 full level 0
	 * tiles, one partial level 0 tile of width 112, one full level 1
	 * tile, one partial level 1 tile of width 17, and one partial level
	 * 2 tile of width 1." */
	tile_count(70000, 0, &full, &partial);
	assert_true(full == 273 && partial == 112);
	tile_count(70000, 1, &full, &partial);
	assert_true(full == 1 && partial == 17);
	tile_count(70000, 2, &full, &partial);
	assert_true(full == 0 && partial == 1);
	tile_count(70000, 3, &full, &partial);
	assert_true(full == 0 && partial == 0);
	/* "a tree of size 256 will be represented by a full level 0 tile
	 * and a partial level 1 tile of width 1." */
	tile_count(256, 0, &full, &partial);
	assert_true(full == 1 && partial == 0);
	tile_count(256, 1, &full, &partial);
	assert_true(full == 0 && partial == 1);
	/* The top of the range. */
	tile_count(UINT64_MAX, 7, &full, &partial);
	assert_true(full == 0 && partial == 255);
	tile_count(UINT64_MAX, 8, &full, &partial);
	assert_true(full == 0 && partial == 0);
	tile_count(UINT64_MAX, 63, &full, &partial);
	assert_true(full == 0 && partial == 0);
}

struct walk {
	char paths[64][TILE_PATH_MAX];
	int n;
};

static int
on_tile(const struct tile *t, void *ud)
{
	struct walk *w = ud;

	assert_true(w->n < 64);
	assert_int_equal(tile_path(t, w->paths[w->n++]), 0);
	return 0;
}

static int
stop_at_second(const struct tile *t, void *ud)
{
	int *n = ud;

	(void)t;
	return ++*n == 2 ? 42 : 0;
}

static void
test_walk_lists_the_tiles_a_growing_tree_adds(void **state)
{
	struct walk w = {.n = 0};
	int n = 0;

	(void)state;
	/* 69000 -> 70000: level 0 gains full tiles 269..272 and a new
	 * partial 273; level 1 a wider partial 1; level 2 (width 1) does
	 * not change. */
	assert_int_equal(tile_walk(69000, 70000, false, on_tile, &w), 0);
	assert_int_equal(w.n, 6);
	assert_string_equal(w.paths[0], "tile/0/269");
	assert_string_equal(w.paths[3], "tile/0/272");
	assert_string_equal(w.paths[4], "tile/0/273.p/112");
	assert_string_equal(w.paths[5], "tile/1/001.p/17");
	w.n = 0;
	assert_int_equal(tile_walk(65535, 65536, false, on_tile, &w), 0);
	assert_int_equal(w.n, 3);
	assert_string_equal(w.paths[0], "tile/0/255");
	assert_string_equal(w.paths[1], "tile/1/000");
	assert_string_equal(w.paths[2], "tile/2/000.p/1");

	w.n = 0;
	assert_int_equal(tile_walk(69000, 70000, true, on_tile, &w), 0);
	assert_int_equal(w.n, 5);
	assert_string_equal(w.paths[4], "tile/entries/273.p/112");

	/* 255 -> 256: the partial tile becomes full, level 1 appears. */
	w.n = 0;
	assert_int_equal(tile_walk(255, 256, false, on_tile, &w), 0);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.paths[0], "tile/0/000");
	assert_string_equal(w.paths[1], "tile/1/000.p/1");

	/* Nothing new, nothing listed; shrinking is refused. */
	w.n = 0;
	assert_int_equal(tile_walk(70000, 70000, false, on_tile, &w), 0);
	assert_int_equal(w.n, 0);
	assert_int_equal(tile_walk(0, 0, false, on_tile, &w), 0);
	assert_int_equal(w.n, 0);
	assert_int_equal(tile_walk(2, 1, false, on_tile, &w), VG_EINVAL);
	/* A non-zero return stops the walk and is returned. */
	assert_int_equal(tile_walk(0, 5000, false, stop_at_second, &n), 42);
	assert_int_equal(n, 2);
	/* The largest tree: eight levels, nothing above. */
	w.n = 0;
	assert_int_equal(
		tile_walk(UINT64_MAX - 1, UINT64_MAX, false, on_tile, &w), 0);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.paths[0],
			    "tile/0/x072/x057/x594/x037/x927/935.p/255");
}

static void
test_locate_maps_stored_hashes_to_tiles(void **state)
{
	struct tile t;
	unsigned first, count;

	(void)state;
	/* Leaf 300 of 70000: tile 0/1, position 44. */
	assert_int_equal(tile_locate(70000, 0, 300, &t, &first, &count), 0);
	assert_true(t.level == 0 && t.index == 1 && t.width == 256);
	assert_true(first == 44 && count == 1);
	/* Level 3, index 37: leaves 296..303, positions 40..47 of 0/1. */
	assert_int_equal(tile_locate(70000, 3, 37, &t, &first, &count), 0);
	assert_true(t.level == 0 && t.index == 1 && first == 40 && count == 8);
	/* Level 8 hashes live at tile level 1. */
	assert_int_equal(tile_locate(70000, 8, 272, &t, &first, &count), 0);
	assert_true(t.level == 1 && t.index == 1 && t.width == 17);
	assert_true(first == 16 && count == 1);
	/* The partial level-0 tile, read as the width of this tree. */
	assert_int_equal(tile_locate(70000, 0, 69999, &t, &first, &count), 0);
	assert_true(t.index == 273 && t.width == 112 && first == 111);
	/* Level 16: tile 2/0 of width 1. */
	assert_int_equal(tile_locate(70000, 16, 0, &t, &first, &count), 0);
	assert_true(t.level == 2 && t.index == 0 && t.width == 1);
	/* Incomplete subtrees have no stored hash. */
	assert_int_equal(tile_locate(70000, 0, 70000, &t, &first, &count),
			 VG_EINVAL);
	assert_int_equal(tile_locate(70000, 17, 0, &t, &first, &count),
			 VG_EINVAL);
	assert_int_equal(tile_locate(UINT64_MAX, 64, 0, &t, &first, &count),
			 VG_EINVAL);
	assert_int_equal(tile_locate(UINT64_MAX, 63, 0, &t, &first, &count), 0);
	assert_true(t.level == 7 && t.index == 0 && first == 0 &&
		    count == 128 && t.width == 255);
}

/* --- entry bundles -------------------------------------------------------- */

static void
test_bundles_round_trip(void **state)
{
	static uint8_t big[TILE_ENTRY_MAX], out[2 * (2 + TILE_ENTRY_MAX) + 16];
	struct tile_entry e[TILE_WIDTH], back[TILE_WIDTH];
	uint8_t small[TILE_WIDTH * 3];
	char err[256];
	size_t n;

	(void)state;
	memset(big, 0xab, sizeof(big));
	/* Empty entries, the largest entry. */
	e[0] = (struct tile_entry){(const uint8_t *)"", 0};
	e[1] = (struct tile_entry){big, TILE_ENTRY_MAX};
	n = tile_bundle_size(e, 2);
	assert_int_equal(n, 2 + 2 + TILE_ENTRY_MAX);
	assert_int_equal(tile_bundle_encode(e, 2, out), 0);
	assert_true(out[0] == 0 && out[1] == 0 && out[2] == 0xff &&
		    out[3] == 0xff);
	assert_int_equal(tile_bundle_parse(out, n, 2, back, err, 256), 0);
	assert_int_equal(back[0].len, 0);
	assert_int_equal(back[1].len, TILE_ENTRY_MAX);
	assert_memory_equal(back[1].data, big, TILE_ENTRY_MAX);
	/* A full bundle. */
	for (int i = 0; i < TILE_WIDTH; i++) {
		small[3 * i] = (uint8_t)i;
		small[3 * i + 1] = 'x';
		small[3 * i + 2] = 'y';
		e[i] = (struct tile_entry){small + 3 * i, (size_t)(i % 4)};
	}
	n = tile_bundle_size(e, TILE_WIDTH);
	assert_int_equal(tile_bundle_encode(e, TILE_WIDTH, out), 0);
	assert_int_equal(tile_bundle_parse(out, n, TILE_WIDTH, back, err, 256),
			 0);
	for (int i = 0; i < TILE_WIDTH; i++) {
		assert_int_equal(back[i].len, e[i].len);
		assert_memory_equal(back[i].data, e[i].data, e[i].len);
	}
	/* Limits of encoding. */
	e[0].len = TILE_ENTRY_MAX + 1;
	assert_int_equal(tile_bundle_size(e, 1), 0);
	assert_int_equal(tile_bundle_encode(e, 1, out), VG_ELIMIT);
	assert_int_equal(tile_bundle_size(e, 0), 0);
	assert_int_equal(tile_bundle_size(e, TILE_WIDTH + 1), 0);
}

static void
test_bad_bundles_are_refused(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
		unsigned width;
		int code;
		const char *why;
	} bad[] = {
		{"", 0, 1, VG_EFORMAT, "ends before entry 0"},
		{"\x00", 1, 1, VG_EFORMAT, "ends before entry 0"},
		{"\x00\x01", 2, 1, VG_EFORMAT, "declares 1 bytes, 0 remain"},
		{"\x00\x03"
		 "ab",
		 4, 1, VG_EFORMAT, "declares 3 bytes"},
		{"\xff\xff"
		 "ab",
		 4, 1, VG_EFORMAT, "declares 65535 bytes"},
		{"\x00\x01"
		 "a"
		 "\x00",
		 4, 2, VG_EFORMAT, "ends before entry 1"},
		{"\x00\x01"
		 "a",
		 3, 2, VG_EFORMAT, "ends before entry 1"},
		{"\x00\x01"
		 "ab",
		 4, 1, VG_EFORMAT, "1 bytes after"},
		{"\x00\x00"
		 "\x00\x00",
		 4, 1, VG_EFORMAT, "2 bytes after"},
		{"\x00\x00", 2, 0, VG_EINVAL, "width 0"},
		{"\x00\x00", 2, 257, VG_EINVAL, "width 257"},
	};
	struct tile_entry e[TILE_WIDTH];
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(
			tile_bundle_parse((const uint8_t *)bad[i].bytes,
					  bad[i].len, bad[i].width, e, err,
					  sizeof(err)),
			bad[i].code);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("bad bundle %zu: message \"%s\" lacks \"%s\"",
				 i, err, bad[i].why);
	}
}

static void
test_bundle_verifies_against_its_level_0_tile(void **state)
{
	struct tile_entry e[3] = {
		{(const uint8_t *)"a", 1},
		{(const uint8_t *)"", 0},
		{(const uint8_t *)"ccc", 3},
	};
	struct merkle_hash h[3];
	char err[256];

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(merkle_hash_leaf(e[i].data, e[i].len, &h[i]),
				 0);
	assert_int_equal(tile_bundle_verify(e, 3, (const uint8_t *)h, sizeof(h),
					    err, 256),
			 0);
	assert_int_equal(tile_bundle_verify(e, 2, (const uint8_t *)h, sizeof(h),
					    err, 256),
			 VG_EFORMAT);
	h[1].b[0] ^= 1;
	assert_int_equal(tile_bundle_verify(e, 3, (const uint8_t *)h, sizeof(h),
					    err, 256),
			 VG_EVERIFY);
	assert_non_null(strstr(err, "entry 1"));
}

/* --- the tile reader ----------------------------------------------------- */

#define LEAVES 70000

/* The leaves, and the level-8 and level-16 subtree roots over them. */
static struct merkle_hash leaves[LEAVES], level1[LEAVES >> 8], level2[1];

static int
setup_tree(void **state)
{
	(void)state;
	for (uint64_t i = 0; i < LEAVES; i++) {
		char s[32];
		int n = snprintf(s, sizeof(s), "entry %llu",
				 (unsigned long long)i);

		if (merkle_hash_leaf(s, (size_t)n, &leaves[i]) != 0)
			return -1;
	}
	for (uint64_t i = 0; i < LEAVES >> 8; i++)
		if (merkle_root(leaves + i * 256, 256, &level1[i]) != 0)
			return -1;
	return merkle_root(level1, 256, &level2[0]);
}

/* Tiles as a log would store them, for the size being served; counts the
 * reads. */
struct store {
	uint64_t size;
	unsigned reads;
	int corrupt; /* return one byte short */
};

static int
store_read(void *ud, const struct tile *t, uint8_t *buf, size_t *len)
{
	static const struct merkle_hash *const levels[] = {leaves, level1,
							   level2};
	struct store *s = ud;
	uint64_t span = (uint64_t)1 << (TILE_HEIGHT * t->level);

	s->reads++;
	assert_true(t->level >= 0 && t->level <= 2);
	assert_true((t->index * TILE_WIDTH + t->width) * span <= s->size);
	memcpy(buf, levels[t->level] + t->index * TILE_WIDTH,
	       (size_t)t->width * MERKLE_HASH_LEN);
	*len = (size_t)t->width * MERKLE_HASH_LEN - (s->corrupt ? 1 : 0);
	return 0;
}

/* The stored hashes, straight from the leaves (and level 1 above 8). */
static int
mem_read(void *ctx, unsigned level, uint64_t index, struct merkle_hash *out)
{
	(void)ctx;
	if (level >= 8)
		return merkle_root(level1 + (index << (level - 8)),
				   (uint64_t)1 << (level - 8), out);
	return merkle_root(leaves + (index << level), (uint64_t)1 << level,
			   out);
}

static void
test_tile_reader_gives_the_same_proofs_as_the_leaves(void **state)
{
	static const uint64_t sizes[] = {1,     2,     255,   256,
					 257,   511,   512,   65535,
					 65536, 65537, 69999, 70000};
	struct merkle_reader direct = {mem_read, NULL};
	char err[256];

	(void)state;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint64_t size = sizes[k];
		struct store st = {size, 0, 0};
		struct tile_reader tr;
		struct merkle_reader r;
		struct merkle_hash a, b, pa[MERKLE_PROOF_MAX],
			pb[MERKLE_PROOF_MAX];
		const uint64_t idx[] = {0, size / 3, size - 1};
		size_t na, nb;

		tile_reader_init(&tr, size, store_read, &st);
		r = tile_reader_merkle(&tr);
		assert_int_equal(merkle_root_from_reader(&r, size, &a), 0);
		assert_int_equal(merkle_root(leaves, size, &b), 0);
		assert_memory_equal(a.b, b.b, 32);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(merkle_prove_inclusion(&r, idx[i],
								size, pa, &na,
								err, 256),
					 0);
			assert_int_equal(merkle_prove_inclusion(&direct, idx[i],
								size, pb, &nb,
								err, 256),
					 0);
			assert_int_equal(na, nb);
			assert_memory_equal(pa, pb, na * sizeof(pa[0]));
			assert_int_equal(merkle_verify_inclusion(
						 idx[i], size, &leaves[idx[i]],
						 pa, na, &a, err, 256),
					 0);
		}
		if (size > 1) {
			uint64_t old = size / 2 + 1;

			assert_int_equal(merkle_prove_consistency(&r, old, size,
								  pa, &na, err,
								  256),
					 0);
			assert_int_equal(merkle_prove_consistency(&direct, old,
								  size, pb, &nb,
								  err, 256),
					 0);
			assert_int_equal(na, nb);
			assert_memory_equal(pa, pb, na * sizeof(pa[0]));
		}
		/* A proof touches few tiles: the cache keeps the repeats. */
		assert_true(st.reads <= 40);
	}
}

static void
test_tile_reader_refuses_a_tile_of_the_wrong_length(void **state)
{
	struct store st = {1000, 0, 1};
	struct tile_reader tr;
	struct merkle_reader r;
	struct merkle_hash h;

	(void)state;
	tile_reader_init(&tr, 1000, store_read, &st);
	r = tile_reader_merkle(&tr);
	assert_int_equal(merkle_root_from_reader(&r, 1000, &h), VG_ECORRUPT);
	/* Nothing bad is cached: the next read asks again. */
	st.corrupt = 0;
	assert_int_equal(merkle_root_from_reader(&r, 1000, &h), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths_of_the_spec_and_round_trips),
		cmocka_unit_test(test_tile_path_refuses_impossible_tiles),
		cmocka_unit_test(test_bad_paths_are_refused),
		cmocka_unit_test(test_counts_of_the_spec_examples),
		cmocka_unit_test(test_walk_lists_the_tiles_a_growing_tree_adds),
		cmocka_unit_test(test_locate_maps_stored_hashes_to_tiles),
		cmocka_unit_test(test_bundles_round_trip),
		cmocka_unit_test(test_bad_bundles_are_refused),
		cmocka_unit_test(test_bundle_verifies_against_its_level_0_tile),
		cmocka_unit_test(
			test_tile_reader_gives_the_same_proofs_as_the_leaves),
		cmocka_unit_test(
			test_tile_reader_refuses_a_tile_of_the_wrong_length),
	};

	return cmocka_run_group_tests(tests, setup_tree, NULL);
}
