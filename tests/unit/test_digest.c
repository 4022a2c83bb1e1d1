/*
 * test_digest.c - the per-object fingerprints: known-answer digests,
 * entropy bounds, and one pass agreeing with separate passes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/digest.h"

static struct digest *d;

static int
setup(void **state)
{
	(void)state;
	if (digest_global_init() != 0)
		return -1;
	d = digest_new();
	return d ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	digest_free(d);
	return 0;
}

static void
hex_of(const uint8_t *b, size_t n, char *out)
{
	digest_hex(b, n, out);
}

static void
test_digest_abc_known_answers(void **state)
{
	struct digest_result r;
	char hex[65];

	(void)state;
	assert_int_equal(digest_buffer(d, "abc", 3, false, &r), 0);
	hex_of(r.md5, 16, hex);
	assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
	hex_of(r.sha1, 20, hex);
	assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
	hex_of(r.sha256, 32, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
				 "b00361a396177a9cb410ff61f20015ad");
	assert_string_equal(r.ssdeep, "");
}

static void
test_digest_empty_input(void **state)
{
	struct digest_result r;
	char hex[65];

	(void)state;
	assert_int_equal(digest_buffer(d, "", 0, true, &r), 0);
	hex_of(r.sha256, 32, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
				 "27ae41e4649b934ca495991b7852b855");
	assert_true(r.entropy == 0.0);
	assert_string_equal(r.ssdeep, "3::");
}

static void
test_digest_chunk_boundaries_match_one_shot(void **state)
{
	/* Sizes around the internal 32 KiB chunk must not change results. */
	size_t sizes[] = {32767, 32768, 32769, 65536, 100000};
	uint8_t *buf = malloc(100000);
	struct digest_result a, b;

	(void)state;
	for (size_t i = 0; i < 100000; i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		assert_int_equal(digest_buffer(d, buf, sizes[k], true, &a), 0);
		assert_int_equal(digest_buffer(d, buf, sizes[k], true, &b), 0);
		assert_memory_equal(a.sha256, b.sha256, 32);
		assert_memory_equal(a.md5, b.md5, 16);
		assert_string_equal(a.ssdeep, b.ssdeep);
	}
	free(buf);
}

static void
test_entropy_uniform_is_eight_bits(void **state)
{
	uint8_t buf[256 * 64];
	struct digest_result r;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(digest_buffer(d, buf, sizeof(buf), false, &r), 0);
	assert_true(fabs(r.entropy - 8.0) < 1e-9);
}

static void
test_entropy_constant_is_zero(void **state)
{
	uint8_t buf[4096];
	struct digest_result r;

	(void)state;
	memset(buf, 'A', sizeof(buf));
	assert_int_equal(digest_buffer(d, buf, sizeof(buf), false, &r), 0);
	assert_true(r.entropy == 0.0);
}

static void
test_entropy_two_symbols_is_one_bit(void **state)
{
	uint64_t hist[256] = {0};

	(void)state;
	hist['a'] = 500;
	hist['b'] = 500;
	assert_true(fabs(digest_entropy(hist, 1000) - 1.0) < 1e-12);
	assert_true(digest_entropy(hist, 0) == 0.0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest_abc_known_answers),
		cmocka_unit_test(test_digest_empty_input),
		cmocka_unit_test(test_digest_chunk_boundaries_match_one_shot),
		cmocka_unit_test(test_entropy_uniform_is_eight_bits),
		cmocka_unit_test(test_entropy_constant_is_zero),
		cmocka_unit_test(test_entropy_two_symbols_is_one_bit),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
