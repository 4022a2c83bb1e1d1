/*
 * test_ssdeep.c - ssdeep_hash_buf() must write exactly what libfuzzy's
 * fuzzy_hash_buf() writes, for every kind of input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fuzzy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ssdeep.h"

#define MIB (1024u * 1024u)

static uint64_t rng_state;

static void
rng_seed(uint64_t seed)
{
	rng_state = seed;
}

/* splitmix64 */
static uint64_t
rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint8_t *
xalloc(size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	assert_non_null(p);
	return p;
}

static void
fill_random(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)rng();
}

/* Words, spaces and newlines: printable, low entropy, many repeats. */
static void
fill_text(uint8_t *p, size_t n)
{
	static const char *const words[] = {
		"the",     "quick",  "brown", "fox",    "jumps",  "over",
		"lazy",    "dog",    "int",   "return", "static", "void",
		"char",    "struct", "if",    "else",   "while",  "for",
		"malware", "sample", "0x00",
	};
	size_t i = 0, k;
	const char *w;

	while (i < n) {
		w = words[rng() % (sizeof(words) / sizeof(words[0]))];
		for (k = 0; w[k] != '\0' && i < n; k++)
			p[i++] = (uint8_t)w[k];
		if (i < n)
			p[i++] = rng() % 8 == 0 ? '\n' : ' ';
	}
}

/* Mostly zeros with short random islands, like padded sections. */
static void
fill_sparse(uint8_t *p, size_t n)
{
	size_t i = 0, run;

	memset(p, 0, n);
	while (i < n) {
		i += rng() % 4096;
		run = rng() % 64;
		for (; run > 0 && i < n; run--)
			p[i++] = (uint8_t)rng();
	}
}

/* Hashes with both implementations; returns whether they agree. */
static int
same_digest(const uint8_t *buf, size_t len)
{
	char want[FUZZY_MAX_RESULT], got[SSDEEP_MAX_RESULT];

	assert_int_equal(fuzzy_hash_buf(buf, (uint32_t)len, want), 0);
	memset(got, 'X', sizeof(got));
	assert_int_equal(ssdeep_hash_buf(buf, len, got), 0);
	assert_non_null(memchr(got, '\0', sizeof(got)));
	if (strcmp(want, got) != 0) {
		print_error("len %zu: libfuzzy %s, ours %s\n", len, want, got);
		return 0;
	}
	return 1;
}

static void
check(const uint8_t *buf, size_t len)
{
	assert_true(same_digest(buf, len));
}

static void
test_empty_input_gives_3_colon_colon(void **state)
{
	char got[SSDEEP_MAX_RESULT];
	static const uint8_t none[1];

	(void)state;
	assert_int_equal(ssdeep_hash_buf(none, 0, got), 0);
	assert_string_equal(got, "3::");
	check(none, 0);
}

static void
test_every_single_byte_matches(void **state)
{
	uint8_t b[1];
	unsigned c;

	(void)state;
	for (c = 0; c < 256; c++) {
		b[0] = (uint8_t)c;
		check(b, 1);
	}
}

static void
test_inputs_shorter_than_window_match(void **state)
{
	uint8_t b[6];
	size_t len;
	unsigned i;

	(void)state;
	rng_seed(1);
	for (i = 0; i < 2000; i++) {
		len = 2 + rng() % 5;
		fill_random(b, len);
		check(b, len);
	}
}

static void
test_every_length_0_to_300_random_matches(void **state)
{
	uint8_t b[300];
	size_t len;

	(void)state;
	rng_seed(2);
	fill_random(b, sizeof(b));
	for (len = 0; len <= sizeof(b); len++)
		check(b, len);
}

static void
test_block_size_boundaries_match(void **state)
{
	size_t max = ((size_t)3 << 16) * 64 + 1, edge, len;
	uint8_t *b = xalloc(max);
	unsigned k;
	int d;

	(void)state;
	rng_seed(3);
	fill_random(b, max);
	for (k = 0; k <= 16; k++) {
		edge = ((size_t)3 << k) * 64;
		for (d = -1; d <= 1; d++) {
			len = edge + (size_t)d;
			check(b, len);
			/* The same length from a different offset. */
			check(b + (max - len), len);
		}
	}
	free(b);
}

static void
test_all_zeros_match(void **state)
{
	static const size_t lens[] = {
		1, 6, 7, 8, 100, 4096, 12289, 65536, 1000000, 3 * MIB + 7,
	};
	uint8_t *b = xalloc(3 * MIB + 7);
	size_t i;

	(void)state;
	memset(b, 0, 3 * MIB + 7);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		check(b, lens[i]);
	free(b);
}

/* Runs of one byte value: either no trigger at all or one at every byte. */
static void
test_runs_of_every_byte_value_match(void **state)
{
	uint8_t *b = xalloc(200000);
	unsigned c;

	(void)state;
	for (c = 0; c < 256; c++) {
		memset(b, (int)c, 200000);
		check(b, 5);
		check(b, 777);
		check(b, 200000);
		/* A different last byte makes the closing letter appear. */
		b[199999] ^= 0x5a;
		check(b, 200000);
	}
	free(b);
}

static void
test_repeating_short_patterns_match(void **state)
{
	static const size_t lens[] = {50, 1000, 20000, 300000, 2 * MIB};
	uint8_t *b = xalloc(2 * MIB);
	size_t period, i, k;

	(void)state;
	rng_seed(4);
	for (period = 2; period <= 67; period += 5) {
		fill_random(b, period);
		for (i = period; i < 2 * MIB; i++)
			b[i] = b[i - period];
		for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++)
			check(b, lens[k]);
	}
	free(b);
}

static void
test_text_matches(void **state)
{
	uint8_t *b = xalloc(4 * MIB);
	size_t len;

	(void)state;
	rng_seed(5);
	fill_text(b, 4 * MIB);
	for (len = 1; len <= 4 * MIB; len = len * 3 + 1)
		check(b, len);
	check(b, 4 * MIB);
	free(b);
}

/*
 * Inputs whose last seven bytes are zero have a rolling value of 0 at the
 * end: the closing letters then come from the piece ending at the last
 * trigger, and only when a level had more triggers than letters.
 */
static void
test_zero_tail_uses_last_trigger_piece(void **state)
{
	uint8_t *b = xalloc(MIB);
	size_t len, z;
	unsigned i;

	(void)state;
	rng_seed(6);
	for (i = 0; i < 300; i++) {
		len = 7 + rng() % MIB;
		fill_random(b, len);
		z = 7 + rng() % (len < 20000 ? len - 6 : 20000);
		memset(b + len - z, 0, z);
		check(b, len);
	}
	free(b);
}

/*
 * Low-entropy data forces the digest down to small block sizes, and data
 * without a single trigger leaves block size 3 with no larger neighbour.
 */
static void
test_falls_back_to_smaller_block_sizes(void **state)
{
	uint8_t *b = xalloc(4 * MIB);
	size_t len;
	unsigned i;

	(void)state;
	rng_seed(7);
	for (i = 0; i < 200; i++) {
		len = 1 + rng() % (4 * MIB);
		memset(b, 0, len);
		/* A few random bytes: some triggers at small levels only. */
		b[rng() % len] = (uint8_t)rng();
		b[rng() % len] = (uint8_t)rng();
		b[len - 1] = (uint8_t)rng();
		check(b, len);
	}
	free(b);
}

/*
 * These seven bytes make the rolling value 0xffffffff, so r+1 wraps to 0:
 * a multiple of every block size, yet libfuzzy counts no trigger there.
 */
static void
test_rolling_value_wrapping_to_zero_is_no_trigger(void **state)
{
	static const uint8_t wrap[7] = {
		0xe2, 0xb8, 0xfb, 0x9f, 0x1f, 0xdc, 0xde,
	};
	enum { LEN = 100000 };
	uint8_t *b = xalloc(LEN);
	size_t i, len;

	(void)state;
	rng_seed(9);
	fill_random(b, LEN);
	for (i = 0; i + sizeof(wrap) <= LEN; i += 40 + rng() % 60)
		memcpy(b + i, wrap, sizeof(wrap));
	for (len = 7; len <= LEN; len = len * 2 + 3)
		check(b, len);
	memcpy(b + LEN - sizeof(wrap), wrap, sizeof(wrap));
	check(b, LEN);
	free(b);
}

static void
test_random_lengths_up_to_4mib_match(void **state)
{
	enum { POOL = 4 * MIB };
	uint8_t *pool[3];
	size_t len, off;
	unsigned i, kind, bad = 0;

	(void)state;
	rng_seed(8);
	for (kind = 0; kind < 3; kind++)
		pool[kind] = xalloc(POOL);
	fill_random(pool[0], POOL);
	fill_text(pool[1], POOL);
	fill_sparse(pool[2], POOL);
	for (i = 0; i < 3000; i++) {
		/* Log-uniform lengths: as many small inputs as large ones. */
		len = (size_t)(rng() & ((2ull << (rng() % 22)) - 1));
		off = rng() % (POOL - len + 1);
		kind = (unsigned)(rng() % 3);
		bad += !same_digest(pool[kind] + off, len);
	}
	assert_int_equal(bad, 0);
	for (kind = 0; kind < 3; kind++)
		free(pool[kind]);
}

static void
test_real_files_match(void **state)
{
	static const char *const paths[] = {
		"/usr/bin/ls",      "/usr/bin/bash", "/usr/bin/gcc",
		"/usr/bin/python3", "/usr/bin/perl", "/usr/bin/ssh",
	};
	uint8_t *b;
	size_t i, n;
	long sz;
	FILE *f;
	unsigned seen = 0;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		f = fopen(paths[i], "rb");
		if (f == NULL)
			continue;
		if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 ||
		    fseek(f, 0, SEEK_SET) != 0) {
			fclose(f);
			continue;
		}
		b = xalloc((size_t)sz);
		n = fread(b, 1, (size_t)sz, f);
		fclose(f);
		check(b, n);
		/* A slice from the middle too. */
		if (n > 1000)
			check(b + n / 3, n / 2);
		free(b);
		seen++;
	}
	if (seen == 0)
		skip();
}

static void
test_too_large_input_is_rejected(void **state)
{
	char got[SSDEEP_MAX_RESULT];
	static const uint8_t b[1];

	(void)state;
	if ((uint64_t)SIZE_MAX <= SSDEEP_MAX_INPUT)
		skip();
	/* The length is checked before any byte is read. */
	assert_int_equal(ssdeep_hash_buf(b, (size_t)SSDEEP_MAX_INPUT + 1, got),
			 -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_input_gives_3_colon_colon),
		cmocka_unit_test(test_every_single_byte_matches),
		cmocka_unit_test(test_inputs_shorter_than_window_match),
		cmocka_unit_test(test_every_length_0_to_300_random_matches),
		cmocka_unit_test(test_block_size_boundaries_match),
		cmocka_unit_test(test_all_zeros_match),
		cmocka_unit_test(test_runs_of_every_byte_value_match),
		cmocka_unit_test(test_repeating_short_patterns_match),
		cmocka_unit_test(test_text_matches),
		cmocka_unit_test(test_zero_tail_uses_last_trigger_piece),
		cmocka_unit_test(test_falls_back_to_smaller_block_sizes),
		cmocka_unit_test(
			test_rolling_value_wrapping_to_zero_is_no_trigger),
		cmocka_unit_test(test_random_lengths_up_to_4mib_match),
		cmocka_unit_test(test_real_files_match),
		cmocka_unit_test(test_too_large_input_is_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
