/*
 * test_report_check.c - the node's reading of a worker's report: every
 * object's subtree verdict decided again from the matches, claims that
 * only raise it, and bounds that make a report malformed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "node/report_check.h"

/* outer.tgz (0) > #1 > inner.zip (2) > eicar.com (3), readme.txt (4); the
 * worker's claims are all clean, as a worker that lies would say. */
static const char *const lying =
	"{\"verdict\":\"clean\",\"score\":0,\"detections\":[],\"because\":[],"
	"\"objects\":["
	"{\"index\":0,\"parent\":null,\"name\":null,\"matches\":[],"
	"\"verdict\":\"clean\",\"score\":0},"
	"{\"index\":1,\"parent\":0,\"name\":null,\"matches\":[],"
	"\"verdict\":\"clean\",\"score\":0},"
	"{\"index\":2,\"parent\":1,\"name\":\"inner.zip\",\"matches\":[],"
	"\"verdict\":\"clean\",\"score\":0,\"detections\":[],\"because\":[]},"
	"{\"index\":3,\"parent\":2,\"name\":\"eicar.com\",\"matches\":["
	"{\"name\":\"Vigil_Test_EICAR\",\"source\":\"yara\",\"score\":100}],"
	"\"verdict\":\"clean\",\"score\":0},"
	"{\"index\":4,\"parent\":2,\"name\":\"readme.txt\",\"matches\":[]}"
	"]}";

static json_t *
load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (j == NULL)
		fail_msg("bad test JSON: %s", e.text);
	return j;
}

static void
test_lying_worker_cannot_lower_a_verdict(void **state)
{
	json_t *j = load(lying), *o2;
	struct checked_verdict *cv;
	size_t n;

	(void)state;
	assert_int_equal(report_check(j, &cv, &n), 0);
	assert_int_equal(n, 5);
	for (size_t i = 0; i <= 3; i++) {
		assert_string_equal(cv[i].verdict, "malicious");
		assert_int_equal(cv[i].score, 100);
		assert_string_equal(cv[i].detections, "[\"Vigil_Test_EICAR\"]");
	}
	assert_string_equal(
		cv[0].because,
		"[{\"path\":\"#1!inner.zip!eicar.com\",\"name\":\"Vigil_Test_"
		"EICAR\"}]");
	assert_string_equal(
		cv[2].because,
		"[{\"path\":\"eicar.com\",\"name\":\"Vigil_Test_EICAR\"}]");
	assert_string_equal(cv[4].verdict, "clean");
	assert_string_equal(cv[4].because, "[]");
	/* The report the node stores says what the node decided. */
	assert_string_equal(json_string_value(json_object_get(j, "verdict")),
			    "malicious");
	o2 = json_array_get(json_object_get(j, "objects"), 2);
	assert_string_equal(json_string_value(json_object_get(o2, "verdict")),
			    "malicious");
	report_check_free(cv, n);
	json_decref(j);
}

static void
test_claims_only_raise(void **state)
{
	json_t *j = load("{\"objects\":[{\"index\":0,\"parent\":null,"
			 "\"matches\":[],\"verdict\":\"suspicious\","
			 "\"score\":45}]}");
	struct checked_verdict *cv;
	size_t n;

	(void)state;
	assert_int_equal(report_check(j, &cv, &n), 0);
	assert_string_equal(cv[0].verdict, "suspicious");
	assert_int_equal(cv[0].score, 45);
	report_check_free(cv, n);
	json_decref(j);
}

static void
test_inner_limit_makes_its_containers_suspicious(void **state)
{
	json_t *j = load("{\"objects\":["
			 "{\"index\":0,\"parent\":null,\"matches\":[]},"
			 "{\"index\":1,\"parent\":0,\"name\":\"a.zip\","
			 "\"matches\":[],\"limits_exceeded\":[\"Recursion\"]},"
			 "{\"index\":2,\"parent\":0,\"name\":\"b.txt\","
			 "\"matches\":[]}]}");
	struct checked_verdict *cv;
	size_t n;

	(void)state;
	assert_int_equal(report_check(j, &cv, &n), 0);
	assert_string_equal(cv[0].verdict, "suspicious");
	assert_string_equal(cv[1].verdict, "suspicious");
	assert_string_equal(cv[2].verdict, "clean");
	assert_string_equal(cv[0].because, "[{\"path\":\"a.zip\",\"name\":"
					   "\"Limits.Exceeded.Recursion\"}]");
	report_check_free(cv, n);
	json_decref(j);
}

static void
expect_malformed(const char *text)
{
	json_t *j = load(text);
	struct checked_verdict *cv = (void *)1;
	size_t n = 7;

	if (report_check(j, &cv, &n) != VG_EFORMAT)
		fail_msg("accepted: %s", text);
	assert_null(cv);
	assert_int_equal(n, 0);
	json_decref(j);
}

static void
test_malformed_reports_are_refused(void **state)
{
	char *deep, *p;
	size_t cap = 200 * 100;

	(void)state;
	expect_malformed("{\"objects\":[]}");
	expect_malformed("{\"objects\":[{\"index\":1,\"parent\":null,"
			 "\"matches\":[]}]}");
	/* A container after what it holds, or itself: no cycles. */
	expect_malformed("{\"objects\":[{\"index\":0,\"parent\":null,"
			 "\"matches\":[]},{\"index\":1,\"parent\":1,"
			 "\"matches\":[]}]}");
	expect_malformed("{\"objects\":[{\"index\":0,\"parent\":null,"
			 "\"matches\":[{\"name\":\"X\",\"source\":\"yara\","
			 "\"score\":101}]}]}");
	expect_malformed("{\"objects\":[{\"index\":0,\"parent\":null,"
			 "\"matches\":[{\"name\":\"X\",\"source\":\"magic\","
			 "\"score\":1}]}]}");
	expect_malformed("{\"objects\":[{\"index\":0,\"parent\":null,"
			 "\"matches\":[],\"verdict\":\"benign\"}]}");
	expect_malformed("{\"objects\":[{\"index\":0,\"parent\":null,"
			 "\"matches\":[],\"score\":-1}]}");
	expect_malformed("{\"objects\":[{\"index\":0,\"parent\":null,"
			 "\"matches\":[],\"detections\":[1]}]}");
	expect_malformed("{\"objects\":[{\"index\":0,\"parent\":null,"
			 "\"matches\":[],\"because\":[{\"path\":\"\"}]}]}");
	expect_malformed("{\"objects\":[{\"index\":0,\"parent\":null,"
			 "\"matches\":[],\"limits_exceeded\":[\"Patience\"]}]"
			 "}");
	expect_malformed("{\"verdict\":\"fine\",\"objects\":[{\"index\":0,"
			 "\"parent\":null,\"matches\":[]}]}");
	/* As deep as the bound allows, then deeper than any engine nests. */
	for (int depth = (int)REPORT_CHECK_MAX_DEPTH;
	     depth <= (int)REPORT_CHECK_MAX_DEPTH + 1; depth++) {
		struct checked_verdict *cv;
		json_t *j;
		size_t n;

		deep = p = malloc(cap);
		p += sprintf(p, "{\"objects\":[{\"index\":0,\"parent\":null,"
				"\"matches\":[]}");
		for (int i = 1; i <= depth; i++)
			p += sprintf(p,
				     ",{\"index\":%d,\"parent\":%d,"
				     "\"matches\":[]}",
				     i, i - 1);
		sprintf(p, "]}");
		j = load(deep);
		assert_int_equal(
			report_check(j, &cv, &n),
			depth > (int)REPORT_CHECK_MAX_DEPTH ? VG_EFORMAT : 0);
		report_check_free(cv, n);
		json_decref(j);
		free(deep);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lying_worker_cannot_lower_a_verdict),
		cmocka_unit_test(test_claims_only_raise),
		cmocka_unit_test(
			test_inner_limit_makes_its_containers_suspicious),
		cmocka_unit_test(test_malformed_reports_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
