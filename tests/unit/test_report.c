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

/* file (0) > outer.tar (1, unnamed) > inner.zip (2) > {eicar.com (3),
 * readme.txt (4)}, and next.zip (5) inside the file: the usual tree. */
static struct report *
with_tree(void)
{
	static const struct {
		int32_t parent;
		const char *name;
	} t[] = {{-1, NULL},       {0, NULL},         {1, "inner.zip"},
		 {2, "eicar.com"}, {2, "readme.txt"}, {0, "next.zip"}};
	struct report *r = report_new("outer.tgz");

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct object *o = report_add_object(r);

		o->parent = t[i].parent;
		o->depth =
			t[i].parent < 0 ? 0 : r->objects[t[i].parent].depth + 1;
		o->name = t[i].name ? strdup(t[i].name) : NULL;
	}
	return r;
}

static void
assert_because(const struct object *o, size_t k, const char *name,
	       const char *path)
{
	assert_true(k < o->n_detections);
	assert_string_equal(o->detections[k], name);
	assert_string_equal(o->because[k].path, path);
}

static void
test_container_carries_a_deep_match(void **state)
{
	struct report *r = with_tree();

	(void)state;
	object_add_match(&r->objects[3], MATCH_YARA, "Vigil_Test_EICAR", NULL,
			 NULL, NULL, 100);
	report_decide(r);
	/* Every container on the way up is malicious, and says why. */
	for (size_t i = 0; i <= 3; i++) {
		assert_int_equal(r->objects[i].verdict, VERDICT_MALICIOUS);
		assert_int_equal(r->objects[i].score, 100);
		assert_int_equal(r->objects[i].n_detections, 1);
	}
	assert_because(&r->objects[0], 0, "Vigil_Test_EICAR",
		       "#1!inner.zip!eicar.com");
	assert_because(&r->objects[1], 0, "Vigil_Test_EICAR",
		       "inner.zip!eicar.com");
	assert_because(&r->objects[2], 0, "Vigil_Test_EICAR", "eicar.com");
	assert_because(&r->objects[3], 0, "Vigil_Test_EICAR", "");
	assert_int_equal(r->objects[2].because[0].object, 3);
	/* Siblings and their subtrees are not touched. */
	assert_int_equal(r->objects[4].verdict, VERDICT_CLEAN);
	assert_int_equal(r->objects[4].n_detections, 0);
	assert_int_equal(r->objects[5].verdict, VERDICT_CLEAN);
	/* The file's verdict is object 0's subtree's. */
	assert_int_equal(r->verdict, r->objects[0].verdict);
	assert_int_equal(r->score, r->objects[0].score);
	assert_int_equal(r->n_detections, 1);
	assert_string_equal(r->because[0].path, "#1!inner.zip!eicar.com");
	report_free(r);
}

static void
test_subtree_matches_corroborate(void **state)
{
	struct report *r = with_tree();

	(void)state;
	/* Two medium detections in two members: each member is clean on
	 * its own (30), their container is suspicious (30 + 10 = 40). */
	object_add_match(&r->objects[3], MATCH_YARA, "A", NULL, NULL, NULL, 30);
	object_add_match(&r->objects[4], MATCH_YARA, "B", NULL, NULL, NULL, 30);
	object_add_match(&r->objects[2], MATCH_YARA, "A", NULL, NULL, NULL, 30);
	report_decide(r);
	assert_int_equal(r->objects[3].verdict, VERDICT_CLEAN);
	assert_int_equal(r->objects[4].verdict, VERDICT_CLEAN);
	assert_int_equal(r->objects[2].verdict, VERDICT_SUSPICIOUS);
	assert_int_equal(r->objects[2].score, 40);
	/* A found on the container itself and inside: the container's own
	 * match is named (the first seen), once. */
	assert_int_equal(r->objects[2].n_detections, 2);
	assert_because(&r->objects[2], 0, "A", "");
	assert_because(&r->objects[2], 1, "B", "readme.txt");
	assert_int_equal(r->objects[5].verdict, VERDICT_CLEAN);
	assert_int_equal(r->verdict, VERDICT_SUSPICIOUS);
	report_free(r);
}

static void
test_inner_problem_makes_its_subtree_suspicious(void **state)
{
	struct report *r = with_tree();
	json_t *j, *objs;
	char *s;

	(void)state;
	report_add_problem_at(r, 2, "libclamav: truncated zip");
	report_decide(r);
	/* inner.zip could not be taken apart: it and what holds it are not
	 * clean, and say where; its members and siblings are. */
	for (size_t i = 0; i <= 2; i++)
		assert_int_equal(r->objects[i].verdict, VERDICT_SUSPICIOUS);
	assert_int_equal(r->objects[2].score, 50);
	assert_because(&r->objects[2], 0, "Decompose.Incomplete", "");
	assert_because(&r->objects[1], 0, "Decompose.Incomplete", "inner.zip");
	/* The file carries it as its own match too (as ever), but because
	 * names the object it concerns. */
	assert_because(&r->objects[0], 0, "Decompose.Incomplete",
		       "#1!inner.zip");
	assert_int_equal(r->objects[3].verdict, VERDICT_CLEAN);
	assert_int_equal(r->objects[5].verdict, VERDICT_CLEAN);
	assert_int_equal(r->verdict, VERDICT_SUSPICIOUS);
	/* The JSON says the same. */
	s = report_to_json(r);
	j = json_loads(s, 0, NULL);
	assert_non_null(j);
	objs = json_object_get(j, "objects");
	json_t *o2 = json_array_get(objs, 2);
	assert_string_equal(json_string_value(json_object_get(o2, "verdict")),
			    "suspicious");
	assert_int_equal(json_integer_value(json_object_get(o2, "score")), 50);
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(o2, "problems"), 0)),
			    "libclamav: truncated zip");
	json_t *b = json_array_get(
		json_object_get(json_array_get(objs, 1), "because"), 0);
	assert_string_equal(json_string_value(json_object_get(b, "path")),
			    "inner.zip");
	assert_string_equal(json_string_value(json_object_get(b, "name")),
			    "Decompose.Incomplete");
	b = json_array_get(json_object_get(j, "because"), 0);
	assert_string_equal(json_string_value(json_object_get(b, "path")),
			    "#1!inner.zip");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(objs, 4), "verdict")),
			    "clean");
	json_decref(j);
	free(s);
	report_free(r);
}

static void
test_inner_limit_makes_its_subtree_suspicious(void **state)
{
	struct report *r = with_tree();

	(void)state;
	report_hit_limit_at(r, 5, VG_LIMIT_DEPTH);
	object_add_match(&r->objects[3], MATCH_YARA, "Vigil_Test_EICAR", NULL,
			 NULL, NULL, 100);
	report_decide(r);
	assert_int_equal(r->objects[5].verdict, VERDICT_SUSPICIOUS);
	assert_because(&r->objects[5], 0, "Limits.Exceeded.Recursion", "");
	/* The limit on next.zip does not reach inner.zip's subtree. */
	assert_int_equal(r->objects[2].n_detections, 1);
	/* The file: both, the limit named where it was hit. */
	assert_int_equal(r->objects[0].verdict, VERDICT_MALICIOUS);
	assert_int_equal(r->objects[0].n_detections, 2);
	for (size_t k = 0; k < 2; k++) {
		if (strcmp(r->objects[0].detections[k],
			   "Limits.Exceeded.Recursion") == 0)
			assert_string_equal(r->objects[0].because[k].path,
					    "next.zip");
		else
			assert_string_equal(r->objects[0].because[k].path,
					    "#1!inner.zip!eicar.com");
	}
	assert_int_equal(r->verdict, r->objects[0].verdict);
	assert_int_equal(r->score, r->objects[0].score);
	report_free(r);
}

static void
test_file_limit_names_the_file(void **state)
{
	struct report *r = with_file();

	(void)state;
	/* A limit recorded for the file only (not on an object inside). */
	r->limits_hit = VG_LIMIT_FILE_SIZE;
	report_decide(r);
	assert_int_equal(r->verdict, VERDICT_SUSPICIOUS);
	assert_int_equal(r->n_detections, 1);
	assert_string_equal(r->because[0].path, "");
	report_free(r);
}

static void
test_object_path_names_members(void **state)
{
	struct report *r = with_tree();
	char *p;

	(void)state;
	p = report_object_path(r, 0, 3);
	assert_string_equal(p, "#1!inner.zip!eicar.com");
	free(p);
	p = report_object_path(r, 2, 2);
	assert_string_equal(p, "");
	free(p);
	/* Not an ancestor, or out of range. */
	assert_null(report_object_path(r, 5, 3));
	assert_null(report_object_path(r, 0, 6));
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
		cmocka_unit_test(test_container_carries_a_deep_match),
		cmocka_unit_test(test_subtree_matches_corroborate),
		cmocka_unit_test(
			test_inner_problem_makes_its_subtree_suspicious),
		cmocka_unit_test(test_inner_limit_makes_its_subtree_suspicious),
		cmocka_unit_test(test_file_limit_names_the_file),
		cmocka_unit_test(test_object_path_names_members),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
