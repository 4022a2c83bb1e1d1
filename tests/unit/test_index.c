/*
 * test_index.c - the node's in-memory reputation index (src/node/index.c):
 * lookups by each digest, the rendered answer, malformed digests, that
 * an entry never goes back when states arrive out of order, and a
 * retraction laid over an answer across new analyses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "node/index.h"
#include "store/store.h"

#define MD5  "0123456789abcdef0123456789abcdef"
#define SHA1 "0123456789abcdef0123456789abcdef01234567"
#define SHA256                                                                 \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

#define SHA256_OTHER                                                           \
	"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"

static struct reputation
rep(const char *verdict, int score, const char *det, int64_t first,
    int64_t last, uint64_t prevalence, int64_t analysed_at)
{
	struct reputation r;

	memset(&r, 0, sizeof(r));
	snprintf(r.md5, sizeof(r.md5), "%s", MD5);
	snprintf(r.sha1, sizeof(r.sha1), "%s", SHA1);
	snprintf(r.sha256, sizeof(r.sha256), "%s", SHA256);
	r.verdict = (char *)verdict;
	r.score = score;
	r.detections = (char *)det;
	r.size = 68;
	r.type = analysed_at ? (char *)"text/plain" : NULL;
	r.first_seen = first;
	r.last_seen = last;
	r.prevalence = prevalence;
	r.analysed_at = analysed_at;
	r.analysis_ms = analysed_at ? 3.5 : 0;
	return r;
}

static const struct index_entry *
get(struct lookup_index *ix, const char *hex)
{
	int bad = -1;
	const struct index_entry *e = index_get(ix, hex, strlen(hex), &bad);

	assert_int_equal(bad, 0);
	return e;
}

static void
test_each_digest_finds_the_entry(void **state)
{
	struct lookup_index *ix = index_new();
	struct reputation r = rep("clean", 0, "[]", 10, 10, 1, 0);
	const struct index_entry *e;
	int bad = 0;

	(void)state;
	assert_int_equal(index_put(ix, &r), 0);
	assert_int_equal(index_count(ix), 1);
	e = get(ix, MD5);
	assert_non_null(e);
	assert_ptr_equal(get(ix, SHA1), e);
	assert_ptr_equal(get(ix, SHA256), e);
	/* Upper case is the same digest. */
	assert_ptr_equal(get(ix, "0123456789ABCDEF0123456789ABCDEF"), e);
	assert_null(get(ix, "ffffffffffffffffffffffffffffffff"));
	assert_non_null(strstr(e->json, "\"sha256\":\"" SHA256 "\""));
	assert_int_equal(e->json_len, strlen(e->json));
	/* Not a digest: wrong length, not hex. */
	assert_null(index_get(ix, "0123", 4, &bad));
	assert_int_equal(bad, 1);
	bad = 0;
	assert_null(
		index_get(ix, "0123456789abcdef0123456789abcdeg", 32, &bad));
	assert_int_equal(bad, 1);
	r.md5[0] = 'x';
	assert_int_equal(index_put(ix, &r), VG_EINVAL);
	index_free(ix);
}

static void
test_a_newer_analysis_replaces(void **state)
{
	struct lookup_index *ix = index_new();
	struct reputation a = rep("unknown", 0, "[]", 10, 10, 1, 0);
	struct reputation b =
		rep("malicious", 100, "[\"Vigil_Test_EICAR\"]", 10, 12, 1, 20);
	const struct index_entry *e;

	(void)state;
	assert_int_equal(index_put(ix, &a), 0);
	assert_int_equal(index_put(ix, &b), 0);
	assert_int_equal(index_count(ix), 1);
	e = get(ix, SHA256);
	assert_string_equal(e->verdict, "malicious");
	assert_int_equal(e->score, 100);
	assert_int_equal(e->analysed_at, 20);
	assert_int_equal(e->last_seen, 12);
	assert_non_null(strstr(e->json, "\"verdict\":\"malicious\""));
	index_free(ix);
}

/* A submission's state, read before the sample's analysis finished, is
 * put after the analysis: the analysis stays, the counts grow. */
static void
test_an_older_state_never_undoes_an_analysis(void **state)
{
	struct lookup_index *ix = index_new();
	struct reputation done =
		rep("malicious", 100, "[\"Vigil_Test_EICAR\"]", 10, 12, 2, 20);
	struct reputation late = rep("unknown", 0, "[]", 8, 15, 3, 0);
	struct reputation later = rep("unknown", 0, "[]", 9, 11, 1, 0);
	const struct index_entry *e;

	(void)state;
	assert_int_equal(index_put(ix, &done), 0);
	assert_int_equal(index_put(ix, &late), 0);
	e = get(ix, SHA256);
	assert_string_equal(e->verdict, "malicious");
	assert_int_equal(e->score, 100);
	assert_string_equal(e->detections, "[\"Vigil_Test_EICAR\"]");
	assert_string_equal(e->type, "text/plain");
	assert_int_equal(e->analysed_at, 20);
	assert_int_equal(e->prevalence, 3);
	assert_int_equal(e->first_seen, 8);
	assert_int_equal(e->last_seen, 15);
	assert_non_null(strstr(e->json, "\"prevalence\":3"));
	assert_non_null(strstr(e->json, "\"verdict\":\"malicious\""));
	/* Counts and times never shrink either. */
	assert_int_equal(index_put(ix, &later), 0);
	e = get(ix, SHA256);
	assert_int_equal(e->prevalence, 3);
	assert_int_equal(e->first_seen, 8);
	assert_int_equal(e->last_seen, 15);
	assert_string_equal(e->verdict, "malicious");
	index_free(ix);
}

static void
test_the_answer_says_because(void **state)
{
	struct lookup_index *ix = index_new();
	struct reputation r =
		rep("malicious", 100, "[\"Vigil_Test_EICAR\"]", 10, 10, 0, 20);

	(void)state;
	r.because = "[{\"path\":\"eicar.com\",\"name\":\"Vigil_Test_EICAR\"}]";
	assert_int_equal(index_put(ix, &r), 0);
	assert_non_null(strstr(get(ix, MD5)->json,
			       "\"because\":[{\"path\":\"eicar.com\","
			       "\"name\":\"Vigil_Test_EICAR\"}]"));
	index_free(ix);
}

static void
test_a_state_of_the_same_second_never_makes_it_clean(void **state)
{
	struct lookup_index *ix = index_new();
	struct reputation failed =
		rep("suspicious", 50, "[\"Analysis.Failed\"]", 10, 10, 1, 20);
	struct reputation noted = rep("clean", 0, "[]", 10, 10, 1, 20);

	(void)state;
	/* A clean state read before the failure was recorded, put after. */
	assert_int_equal(index_put(ix, &failed), 0);
	assert_int_equal(index_put(ix, &noted), 0);
	assert_string_equal(get(ix, MD5)->verdict, "suspicious");
	assert_non_null(strstr(get(ix, MD5)->json, "Analysis.Failed"));
	/* The other way round, the worse one wins too. */
	index_free(ix);
	ix = index_new();
	assert_int_equal(index_put(ix, &noted), 0);
	assert_int_equal(index_put(ix, &failed), 0);
	assert_string_equal(get(ix, MD5)->verdict, "suspicious");
	index_free(ix);
}

/* A retraction answers clean, by every digest, and outlives a new
 * analysis with the same detections; one with a detection it did not
 * name is answered as analysed; lifting it brings the verdict back. */
static void
test_a_retraction_is_laid_over_the_answer(void **state)
{
	struct lookup_index *ix = index_new();
	struct reputation mal =
		rep("malicious", 100, "[\"Vigil_Test_EICAR\"]", 10, 12, 2, 20);
	struct reputation again =
		rep("malicious", 90, "[\"Vigil_Test_EICAR\"]", 10, 13, 2, 30);
	struct reputation newdet =
		rep("malicious", 95, "[\"Vigil_Test_EICAR\",\"Gen.New\"]", 10,
		    14, 2, 40);
	struct verdict_count vc;
	const struct index_entry *e;

	(void)state;
	assert_int_equal(index_put(ix, &mal), 0);
	assert_int_equal(index_set_retraction(ix, SHA256_OTHER, 7,
					      "[\"Vigil_Test_EICAR\"]"),
			 VG_ENOENT);
	assert_int_equal(index_set_retraction(ix, SHA256, 7, "not json"),
			 VG_EINVAL);
	assert_int_equal(index_set_retraction(ix, SHA256, 7, "[1]"), VG_EINVAL);
	assert_int_equal(index_set_retraction(ix, "xyz", 7, "[]"), VG_EINVAL);
	assert_int_equal(
		index_set_retraction(ix, SHA256, 7, "[\"Vigil_Test_EICAR\"]"),
		0);
	for (int k = 0; k < 3; k++) {
		e = get(ix, k == 0 ? MD5 : k == 1 ? SHA1 : SHA256);
		assert_non_null(strstr(e->json, "\"verdict\":\"clean\""));
		assert_non_null(strstr(e->json, "\"score\":0"));
		assert_non_null(strstr(e->json, "\"detections\":[]"));
		assert_non_null(strstr(e->json, "\"retracted\":7,"));
		assert_non_null(strstr(e->json, "\"retracted_detections\":["
						"\"Vigil_Test_EICAR\"]"));
	}
	/* The entry itself keeps the analysis. */
	assert_string_equal(e->verdict, "malicious");
	index_count_verdicts(ix, &vc);
	assert_int_equal(vc.clean, 1);
	assert_int_equal(vc.malicious, 0);

	assert_int_equal(index_put(ix, &again), 0);
	e = get(ix, SHA256);
	assert_int_equal(e->analysed_at, 30);
	assert_non_null(strstr(e->json, "\"verdict\":\"clean\""));
	assert_non_null(strstr(e->json, "\"retracted\":7"));

	assert_int_equal(index_put(ix, &newdet), 0);
	e = get(ix, SHA256);
	assert_non_null(strstr(e->json, "\"verdict\":\"malicious\""));
	assert_non_null(strstr(e->json, "Gen.New"));
	assert_null(strstr(e->json, "retracted"));
	assert_int_equal(e->retracted, 7); /* still in force */

	assert_int_equal(index_put(ix, &again), 0); /* older: ignored */
	assert_int_equal(index_set_retraction(ix, SHA256, -1, NULL), 0);
	e = get(ix, SHA256);
	assert_non_null(strstr(e->json, "\"verdict\":\"malicious\""));
	assert_null(strstr(e->json, "retracted"));
	assert_int_equal(e->retracted, -1);
	index_free(ix);
}

/* A derived verdict (from inside another sample) says where it comes
 * from, and never outranks the sample's own analysis, whatever the times
 * and verdicts; the own analysis replaces it likewise. */
static void
test_own_analysis_outranks_a_derived_verdict(void **state)
{
	struct lookup_index *ix = index_new();
	struct reputation own = rep("clean", 0, "[]", 10, 10, 1, 100);
	struct reputation der =
		rep("malicious", 100, "[\"X\"]", 10, 10, 0, 200);
	const struct index_entry *e;

	(void)state;
	snprintf(der.derived_from, sizeof(der.derived_from), "%s",
		 SHA256_OTHER);
	der.derived_job = 7;
	assert_int_equal(index_put(ix, &der), 0);
	e = get(ix, SHA256);
	assert_string_equal(e->verdict, "malicious");
	assert_non_null(
		strstr(e->json, "\"derived_from\":\"" SHA256_OTHER "\""));
	/* The own analysis is older and better: it still wins. */
	assert_int_equal(index_put(ix, &own), 0);
	e = get(ix, SHA256);
	assert_string_equal(e->verdict, "clean");
	assert_null(strstr(e->json, "derived_from"));
	/* A newer, worse derived state arriving late changes nothing. */
	der.analysed_at = 300;
	assert_int_equal(index_put(ix, &der), 0);
	e = get(ix, SHA256);
	assert_string_equal(e->verdict, "clean");
	assert_null(strstr(e->json, "derived_from"));
	/* A malformed derived_from is refused. */
	snprintf(der.derived_from, sizeof(der.derived_from), "%s", "zz");
	assert_int_equal(index_put(ix, &der), VG_EINVAL);
	index_free(ix);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_digest_finds_the_entry),
		cmocka_unit_test(test_a_newer_analysis_replaces),
		cmocka_unit_test(test_an_older_state_never_undoes_an_analysis),
		cmocka_unit_test(test_the_answer_says_because),
		cmocka_unit_test(
			test_a_state_of_the_same_second_never_makes_it_clean),
		cmocka_unit_test(test_a_retraction_is_laid_over_the_answer),
		cmocka_unit_test(test_own_analysis_outranks_a_derived_verdict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
