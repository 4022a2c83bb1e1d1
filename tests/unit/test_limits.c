/*
 * test_limits.c - limit defaults are at least as protective as ClamAV's,
 * out-of-range values are refused, and every kind has a name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/err.h"
#include "engine/limits.h"

static void
test_defaults_match_or_beat_clamav(void **state)
{
	struct vg_limits l;

	(void)state;
	limits_default(&l);
	assert_true(l.max_depth <= 16);
	assert_true(l.max_objects <= 10000);
	assert_true(l.max_scan_bytes <= 400ULL * 1024 * 1024);
	assert_true(l.max_scan_ms <= 120000);
	assert_int_equal(limits_check(&l), 0);
}

static void
test_zero_and_oversized_limits_refused(void **state)
{
	struct vg_limits l;

	(void)state;
	limits_default(&l);
	l.max_depth = 0;
	assert_int_equal(limits_check(&l), VG_EINVAL);
	limits_default(&l);
	l.max_depth = VG_LIMIT_MAX_DEPTH_CEILING + 1;
	assert_int_equal(limits_check(&l), VG_EINVAL);
	limits_default(&l);
	l.max_file_size = VG_LIMIT_MAX_FILE_SIZE_CEILING + 1;
	assert_int_equal(limits_check(&l), VG_EINVAL);
	limits_default(&l);
	l.max_objects = 0;
	assert_int_equal(limits_check(&l), VG_EINVAL);
	limits_default(&l);
	l.max_scan_ms = 0;
	assert_int_equal(limits_check(&l), VG_EINVAL);
	limits_default(&l);
	l.max_ratio = 0;
	assert_int_equal(limits_check(&l), VG_EINVAL);
	limits_default(&l);
	l.max_ratio = VG_LIMIT_MAX_RATIO_CEILING + 1;
	assert_int_equal(limits_check(&l), VG_EINVAL);
}

static void
test_every_kind_has_a_distinct_name(void **state)
{
	const char *seen[VG_LIMIT_KIND_COUNT];

	(void)state;
	for (int k = 0; k < VG_LIMIT_KIND_COUNT; k++) {
		seen[k] = limits_kind_name(1u << k);
		assert_string_not_equal(seen[k], "Unknown");
		for (int j = 0; j < k; j++)
			assert_string_not_equal(seen[k], seen[j]);
	}
	assert_string_equal(limits_kind_name(VG_LIMIT_DEPTH), "Recursion");
	assert_string_equal(limits_kind_name(VG_LIMIT_RATIO), "Ratio");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_match_or_beat_clamav),
		cmocka_unit_test(test_zero_and_oversized_limits_refused),
		cmocka_unit_test(test_every_kind_has_a_distinct_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
