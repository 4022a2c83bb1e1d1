/*
 * test_report.c - the verdict policy of docs/REPORT.md and the JSON form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <string.h>

#include "engine/limits.h"
#include "engine/report.h"

static struct report *
with_file(void)
{
	struct report *r = report_new("f");

	report_add_object(r);
	return r;
}

static void
test_no_matches_is_clean(void **state)
{
	struct report *r = with_file();

	(void)state;
	report_decide(r);
	assert_int_equal(r->verdict, VERDICT_CLEAN);
	assert_int_equal(r->score, 0);
	report_free(r);
}

static void
test_no_objects_is_unknown(void **state)
{
	struct report *r = report_new("f");

	(void)state;
	report_decide(r);
	assert_int_equal(r->verdict, VERDICT_UNKNOWN);
	report_free(r);
}

static void
test_critical_match_is_malicious(void **state)
{
	struct report *r = with_file();

	(void)state;
	object_add_match(&r->objects[0], MATCH_YARA, "X", "id", "c", "d", 100);
	report_decide(r);
	assert_int_equal(r->verdict, VERDICT_MALICIOUS);
	assert_int_equal(r->score, 100);
	assert_int_equal(r->n_detections, 1);
	report_free(r);
}

static void
test_low_match_alone_stays_clean(void **state)
{
	struct report *r = with_file();

	(void)state;
	object_add_match(&r->objects[0], MATCH_YARA, "Packer", NULL, NULL, NULL,
			 25);
	report_decide(r);
	assert_int_equal(r->verdict, VERDICT_CLEAN);
	assert_int_equal(r->score, 25);
	assert_int_equal(r->n_detections, 1);
	report_free(r);
}

static void
test_medium_matches_corroborate(void **state)
{
	struct report *r = with_file();
	struct object *child;

	(void)state;
	object_add_match(&r->objects[0], MATCH_YARA, "A", NULL, NULL, NULL, 50);
	report_decide(r);
	assert_int_equal(r->verdict, VERDICT_SUSPICIOUS);
	child = report_add_object(r);
	object_add_match(child, MATCH_YARA, "B", NULL, NULL, NULL, 50);
	object_add_match(child, MATCH_YARA, "C", NULL, NULL, NULL, 50);
	report_decide(r);
	assert_int_equal(r->score, 70);
	assert_int_equal(r->verdict, VERDICT_MALICIOUS);
	report_free(r);
}

static void
test_same_detection_twice_counts_once(void **state)
{
	struct report *r = with_file();
	struct object *child = report_add_object(r);

	(void)state;
	object_add_match(&r->objects[0], MATCH_YARA, "A", NULL, NULL, NULL, 50);
	object_add_match(child, MATCH_YARA, "A", NULL, NULL, NULL, 50);
	report_decide(r);
	assert_int_equal(r->score, 50);
	assert_int_equal(r->n_detections, 1);
	report_free(r);
}

static void
test_limit_hit_is_never_clean(void **state)
{
	struct report *r = with_file();

	(void)state;
	r->limits_hit = VG_LIMIT_DEPTH;
	report_decide(r);
	assert_int_equal(r->verdict, VERDICT_SUSPICIOUS);
	assert_string_equal(r->detections[0], "Limits.Exceeded.Recursion");
	report_free(r);
}

static void
test_decompose_problem_is_never_clean(void **state)
{
	struct report *r = with_file();

	(void)state;
	report_add_problem(r, "libclamav: truncated");
	report_add_problem(r, "libclamav: truncated");
	assert_int_equal(r->n_problems, 1);
	report_decide(r);
	assert_int_equal(r->verdict, VERDICT_SUSPICIOUS);
	assert_string_equal(r->detections[0], "Decompose.Incomplete");
	report_free(r);
}

static void
test_decide_twice_is_stable(void **state)
{
	struct report *r = with_file();

	(void)state;
	r->limits_hit = VG_LIMIT_FILE_SIZE | VG_LIMIT_TIME;
	report_decide(r);
	report_decide(r);
	assert_int_equal(r->n_detections, 2);
	assert_int_equal(r->objects[0].n_matches, 2);
	report_free(r);
}

static void
test_json_carries_verdict_and_hashes(void **state)
{
	struct report *r = with_file();
	json_error_t e;
	json_t *j;
	char *s;

	(void)state;
	r->objects[0].name = strdup("bad\xff\x01name");
	object_add_match(&r->objects[0], MATCH_HASH, "H", NULL, "hash", NULL,
			 100);
	report_decide(r);
	s = report_to_json(r);
	assert_non_null(s);
	assert_null(strchr(s, '\n'));
	j = json_loads(s, 0, &e);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "verdict")),
			    "malicious");
	json_t *o = json_array_get(json_object_get(j, "objects"), 0);
	assert_true(json_is_null(json_object_get(o, "parent")));
	assert_int_equal(
		strlen(json_string_value(json_object_get(o, "sha256"))), 64);
	assert_string_equal(json_string_value(json_object_get(o, "name")),
			    "bad\\xff\x01name");
	json_decref(j);
	free(s);
	report_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_matches_is_clean),
		cmocka_unit_test(test_no_objects_is_unknown),
		cmocka_unit_test(test_critical_match_is_malicious),
		cmocka_unit_test(test_low_match_alone_stays_clean),
		cmocka_unit_test(test_medium_matches_corroborate),
		cmocka_unit_test(test_same_detection_twice_counts_once),
		cmocka_unit_test(test_limit_hit_is_never_clean),
		cmocka_unit_test(test_decompose_problem_is_never_clean),
		cmocka_unit_test(test_decide_twice_is_stable),
		cmocka_unit_test(test_json_carries_verdict_and_hashes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
