/*
 * test_stats.c - the mechanism of the anonymised statistics (stats.c,
 * docs/STATS.md): the Laplace sampler's inverse CDF and its draws from
 * the CSPRNG (mean, scale and tail within tolerance over many draws),
 * rounding and clamping, the categories of detection names, the
 * prevalence buckets, and a day's document: cells from k distinct
 * clients published, from fewer suppressed, one client counted once per
 * cell, the budget split among the published cells.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "node/stats.h"

#define NOW 1796688000 /* 2026-12-08T00:00:00Z */

static void
test_inverse_cdf_is_the_laplace_quantile(void **state)
{
	(void)state;
	assert_true(stats_laplace_inverse(0.5, 3.0) == 0.0);
	/* P(X > b ln 2) = 1/4 for Laplace(0, b). */
	assert_true(fabs(stats_laplace_inverse(0.75, 2.0) - 2.0 * log(2.0)) <
		    1e-12);
	assert_true(fabs(stats_laplace_inverse(0.25, 2.0) + 2.0 * log(2.0)) <
		    1e-12);
	/* P(X > b) = e^-1 / 2. */
	assert_true(fabs(stats_laplace_inverse(1.0 - exp(-1.0) / 2, 5.0) -
			 5.0) < 1e-9);
	/* The ends the sampler can reach, (m + 1/2) / 2^52 for m = 0 and
	 * 2^52 - 1, stay finite. */
	assert_true(
		isfinite(stats_laplace_inverse(0.5 / 4503599627370496.0, 1.0)));
	assert_true(isfinite(stats_laplace_inverse(
		(4503599627370495.0 + 0.5) / 4503599627370496.0, 1.0)));
	assert_true((4503599627370495.0 + 0.5) / 4503599627370496.0 < 1.0);
}

/* Over 200,000 draws of Laplace(0, 2): mean 0, mean |X| = b, variance
 * 2b^2, P(X > b) = e^-1/2; each within about eight standard errors. */
static void
test_sampler_has_the_laplace_mean_scale_and_tail(void **state)
{
	const int n = 200000;
	const double b = 2.0;
	double sum = 0, abs_sum = 0, sq = 0;
	int above = 0;

	(void)state;
	for (int i = 0; i < n; i++) {
		double x = stats_laplace(b);

		assert_true(isfinite(x));
		sum += x;
		abs_sum += fabs(x);
		sq += x * x;
		above += x > b;
	}
	assert_true(fabs(sum / n) < 0.05);
	assert_true(fabs(abs_sum / n - b) < 0.04);
	assert_true(fabs(sq / n - 2 * b * b) < 0.6);
	assert_true(fabs((double)above / n - exp(-1.0) / 2) < 0.007);
}

static void
test_noisy_counts_are_rounded_and_clamped_at_zero(void **state)
{
	(void)state;
	assert_int_equal(stats_noisy_count(5, 0.4), 5);
	assert_int_equal(stats_noisy_count(5, 0.5), 6);
	assert_int_equal(stats_noisy_count(5, -0.4), 5);
	assert_int_equal(stats_noisy_count(5, -0.6), 4);
	assert_int_equal(stats_noisy_count(0, 0.49), 0);
	assert_int_equal(stats_noisy_count(0, 0.5), 1);
	assert_int_equal(stats_noisy_count(0, -3.0), 0);
	assert_int_equal(stats_noisy_count(2, -2.6), 0);
	assert_int_equal(stats_noisy_count(2, -1e300), 0);
	assert_int_equal(stats_noisy_count(2, NAN), 0);
	assert_int_equal(stats_noisy_count(2, 1e300),
			 UINT64_C(9007199254740992));
}

static void
test_categories_of_detection_names(void **state)
{
	static const char *const map[][2] = {
		{"Vigil_Test_EICAR", "test"},
		{"Vigil_Packer_UPX_ELF", "packer"},
		{"Vigil_Ransom_Note", "ransom"},
		{"Vigil_LOLBin_DownloadCradle", "lolbin"},
		{"Test_EICAR", "test"},
		{"Limits.Exceeded.Time", "limit"},
		{"Decompose.Incomplete", "decompose"},
		{"Win.Trojan.Agent-12345", "trojan"},
		{"Eicar-Signature", "other"},
		{"Vigil_", "vigil"},
		{"Vigil_x", "vigil"},
		{"_x_y", "other"},
		{"Mixed_Name.With.Dots", "mixed"},
		{"A..B", "other"},
		{"", "other"},
		{"Vigil_\x1b[31m_x", "31m"},
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		assert_string_equal(stats_category(map[i][0], buf, sizeof(buf)),
				    map[i][1]);
	assert_string_equal(stats_category(NULL, buf, sizeof(buf)), "other");
}

static void
test_prevalence_buckets(void **state)
{
	static const struct {
		uint64_t n;
		const char *name;
	} b[] = {{1, "1"},      {2, "2-4"},    {4, "2-4"},
		 {5, "5-9"},    {9, "5-9"},    {10, "10-99"},
		 {99, "10-99"}, {100, "100+"}, {1u << 30, "100+"}};

	(void)state;
	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		assert_string_equal(stats_bucket_name(stats_bucket(b[i].n)),
				    b[i].name);
	assert_null(stats_bucket_name(STATS_BUCKETS));
}

/* Adds a row of client c (numbered) for sample s (a letter) with the
 * detections and type given. */
static void
row(struct stats_agg *a, int c, char s, const char *det, const char *mime,
    int want)
{
	struct stats_row r;
	char client[37], sha[65];

	snprintf(client, sizeof(client), "00000000-0000-4000-8000-%012d", c);
	memset(sha, s, 64);
	sha[64] = '\0';
	r.client_id = client;
	r.sha256 = sha;
	r.detections = det;
	r.mime = mime;
	assert_int_equal(stats_agg_add(a, &r), want);
}

static json_t *
publish(struct stats_agg *a, unsigned k, double eps)
{
	struct stats_params p = {k, eps, "eu"};
	json_error_t je;
	json_t *j;
	char *doc;
	size_t len;

	assert_int_equal(
		stats_agg_publish(a, &p, "2026-12-07", NOW, &doc, &len), 0);
	assert_int_equal(strlen(doc), len);
	j = json_loads(doc, 0, &je);
	assert_non_null(j);
	free(doc);
	return j;
}

/* Three clients report sample a (EICAR, text), a fourth alone sample b
 * (a ransom note, a PDF), each as its own client's rows. */
static struct stats_agg *
day_of_four(void)
{
	struct stats_agg *a = stats_agg_new();

	for (int c = 1; c <= 3; c++)
		row(a, c, 'a', "[\"Vigil_Test_EICAR\"]", "text/plain", 0);
	row(a, 4, 'b', "[\"Vigil_Ransom_Note\"]", "application/pdf", 0);
	return a;
}

static int64_t
num(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);

	if (path2 != NULL)
		v = json_object_get(v, path2);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void
test_cells_from_k_clients_are_published_and_from_fewer_suppressed(void **state)
{
	struct stats_agg *a = day_of_four();
	json_t *j, *det;

	(void)state;
	/* k = 3: the EICAR cells (3 clients) are published, near their
	 * truth with epsilon 1000; the ransom note's (1) are not named. */
	j = publish(a, 3, 100);
	det = json_object_get(j, "detections");
	assert_true(llabs(num(det, "Vigil_Test_EICAR", NULL) - 3) <= 1);
	assert_null(json_object_get(det, "Vigil_Ransom_Note"));
	assert_true(llabs(num(j, "categories", "test") - 3) <= 1);
	assert_null(
		json_object_get(json_object_get(j, "categories"), "ransom"));
	assert_true(llabs(num(j, "file_types", "text/plain") - 3) <= 1);
	assert_null(json_object_get(json_object_get(j, "file_types"),
				    "application/pdf"));
	assert_true(llabs(num(j, "submissions", NULL) - 4) <= 10);
	assert_true(llabs(num(j, "samples", NULL) - 2) <= 10);
	/* Prevalence: b alone (1 client) is suppressed, a's bucket 2-4 (3
	 * clients) published, the empty buckets suppressed. */
	assert_true(json_is_null(
		json_object_get(json_object_get(j, "prevalence"), "1")));
	assert_true(llabs(num(j, "prevalence", "2-4") - 1) <= 10);
	assert_true(json_is_null(
		json_object_get(json_object_get(j, "prevalence"), "5-9")));
	json_decref(j);
	/* k = 4: only the counts every client adds to (4 of them). */
	j = publish(a, 4, 100);
	assert_int_equal(json_object_size(json_object_get(j, "detections")), 0);
	assert_int_equal(json_object_size(json_object_get(j, "categories")), 0);
	assert_true(json_is_integer(json_object_get(j, "submissions")));
	assert_int_equal(num(j, "privacy", "cells"), 2);
	json_decref(j);
	/* k = 5: nothing; no budget spent, no noise drawn. */
	j = publish(a, 5, 100);
	assert_true(json_is_null(json_object_get(j, "submissions")));
	assert_true(json_is_null(json_object_get(j, "samples")));
	assert_int_equal(num(j, "privacy", "cells"), 0);
	json_decref(j);
	stats_agg_free(a);
}

/* One client's rows add 1 to a count of clients however many rows it
 * has; the budget is split equally among the published cells. */
static void
test_a_client_counts_once_per_cell_and_the_budget_is_split(void **state)
{
	struct stats_agg *a = stats_agg_new();
	json_t *j, *priv;
	double eps_cell;
	int64_t cells;

	(void)state;
	for (int i = 0; i < 10; i++)
		row(a, 1, (char)('a' + i), "[\"Vigil_Test_EICAR\"]",
		    "text/plain", 0);
	row(a, 2, 'a', "[\"Vigil_Test_EICAR\", \"Vigil_Test_EICAR\"]",
	    "text/plain", 0);
	row(a, 3, 'z', "[\"Vigil_Test_EICAR\"]", "text/plain", 0);
	j = publish(a, 3, 50);
	assert_true(llabs(num(j, "detections", "Vigil_Test_EICAR") - 3) <= 1);
	assert_true(llabs(num(j, "file_types", "text/plain") - 3) <= 1);
	assert_true(llabs(num(j, "submissions", NULL) - 12) <= 10);
	priv = json_object_get(j, "privacy");
	cells = num(j, "privacy", "cells");
	/* submissions, samples, EICAR, test, text/plain; not bucket 1
	 * (samples of clients 1 and 3 only) nor 2-4 (a: clients 1, 2). */
	assert_int_equal(cells, 5);
	assert_true(json_is_null(
		json_object_get(json_object_get(j, "prevalence"), "1")));
	assert_true(json_is_null(
		json_object_get(json_object_get(j, "prevalence"), "2-4")));
	eps_cell = json_real_value(json_object_get(priv, "epsilon_per_cell"));
	assert_true(fabs(eps_cell * (double)cells - 50) < 1e-9);
	assert_true(fabs(json_real_value(
				 json_object_get(priv, "scale_client_counts")) -
			 1.0 / eps_cell) < 1e-9);
	assert_true(fabs(json_real_value(json_object_get(
				 priv, "scale_per_client_counts")) -
			 STATS_PER_CLIENT / eps_cell) < 1e-9);
	assert_int_equal(num(j, "privacy", "k"), 3);
	assert_string_equal(
		json_string_value(json_object_get(priv, "mechanism")),
		"laplace");
	assert_string_equal(json_string_value(json_object_get(j, "day")),
			    "2026-12-07");
	assert_string_equal(json_string_value(json_object_get(j, "region")),
			    "eu");
	json_decref(j);
	stats_agg_free(a);
}

/* Each publication draws its noise anew: why a day is published once. */
static void
test_each_publication_draws_new_noise(void **state)
{
	struct stats_agg *a = day_of_four();
	char *d1, *d2;
	size_t l1, l2;
	struct stats_params p = {1, 0.01, "eu"};
	int same = 0;

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
			stats_agg_publish(a, &p, "2026-12-07", NOW, &d1, &l1),
			0);
		assert_int_equal(
			stats_agg_publish(a, &p, "2026-12-07", NOW, &d2, &l2),
			0);
		same += l1 == l2 && memcmp(d1, d2, l1) == 0;
		free(d1);
		free(d2);
	}
	assert_true(same < 3);
	stats_agg_free(a);
}

static void
test_bad_rows_and_parameters_are_refused(void **state)
{
	struct stats_agg *a = stats_agg_new();
	struct stats_params p = {3, 1.0, "eu"};
	char *doc;
	size_t len;
	json_t *j;

	(void)state;
	/* Detections that are not an array of strings: the row counts,
	 * without detections. */
	row(a, 1, 'a', "not json", NULL, VG_EFORMAT);
	row(a, 2, 'a', "{\"a\":1}", NULL, VG_EFORMAT);
	row(a, 3, 'a', "[1, \"Vigil_Test_EICAR\"]", NULL, VG_EFORMAT);
	j = publish(a, 3, 100);
	assert_true(llabs(num(j, "submissions", NULL) - 3) <= 10);
	assert_true(llabs(num(j, "file_types", "unknown") - 3) <= 1);
	assert_int_equal(json_object_size(json_object_get(j, "detections")), 0);
	json_decref(j);
	p.epsilon = 0;
	assert_int_equal(
		stats_agg_publish(a, &p, "2026-12-07", NOW, &doc, &len),
		VG_EINVAL);
	p.epsilon = NAN;
	assert_int_equal(
		stats_agg_publish(a, &p, "2026-12-07", NOW, &doc, &len),
		VG_EINVAL);
	p.epsilon = 1;
	p.k = 0;
	assert_int_equal(
		stats_agg_publish(a, &p, "2026-12-07", NOW, &doc, &len),
		VG_EINVAL);
	assert_null(doc);
	stats_agg_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inverse_cdf_is_the_laplace_quantile),
		cmocka_unit_test(
			test_sampler_has_the_laplace_mean_scale_and_tail),
		cmocka_unit_test(
			test_noisy_counts_are_rounded_and_clamped_at_zero),
		cmocka_unit_test(test_categories_of_detection_names),
		cmocka_unit_test(test_prevalence_buckets),
		cmocka_unit_test(
			test_cells_from_k_clients_are_published_and_from_fewer_suppressed),
		cmocka_unit_test(
			test_a_client_counts_once_per_cell_and_the_budget_is_split),
		cmocka_unit_test(test_each_publication_draws_new_noise),
		cmocka_unit_test(test_bad_rows_and_parameters_are_refused),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
