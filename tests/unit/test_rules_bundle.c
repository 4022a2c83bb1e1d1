/*
 * test_rules_bundle.c - rule bundles (release/rules.h): the same rules
 * always give the same bytes; a file that does not compile and a rule
 * defined twice are named; the rule check fails on a rule without a
 * fixture, one that does not fire on it and one that fires on the
 * known-good corpus; a tampered bundle is refused; an install switches
 * the link only when everything compiled and keeps one version back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/xmalloc.h"
#include "release/rules.h"

static char top[] = "/tmp/vigil-test-rules-XXXXXX";
static int seq;

static int
rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(top) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	return nftw(top, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new empty directory under top (malloc'd path). */
static char *
new_dir(const char *what)
{
	char *d = xasprintf("%s/%d-%s", top, ++seq, what);

	assert_int_equal(mkdir(d, 0755), 0);
	return d;
}

static void
put(const char *dir, const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	free(p);
}

/* A rule NAME that fires on files holding MARKER. */
static char *
rule(const char *name, const char *marker)
{
	return xasprintf("rule %s {\n"
			 "  strings: $m = \"%s\"\n"
			 "  condition: $m\n}\n",
			 name, marker);
}

static void
put_rule(const char *dir, const char *file, const char *name,
	 const char *marker)
{
	char *r = rule(name, marker);

	put(dir, file, r);
	free(r);
}

/* True if some failure of report holds every one of the strings. */
static bool
has_failure(const json_t *report, const char *a, const char *b)
{
	const json_t *v;
	size_t i;

	json_array_foreach(json_object_get(report, "failures"), i, v)
	{
		const char *s = json_string_value(v);

		if (strstr(s, a) != NULL && (b == NULL || strstr(s, b) != NULL))
			return true;
	}
	return false;
}

static const json_t *
rule_entry(const json_t *report, const char *id)
{
	const json_t *v;
	size_t i;

	json_array_foreach(
		json_object_get(report, "rules"), i,
		v) if (strcmp(json_string_value(json_object_get(v, "id")),
			      id) == 0) return v;
	return NULL;
}

/* Runs the check of rules dir with fixtures fx against corpus dir co. */
static json_t *
check(const char *dir, const char *fx, const char *co, bool *pass)
{
	struct rules_bundle b;
	json_t *report = NULL;
	char err[1024];

	assert_int_equal(rules_sources_load(dir, "1", &b, err, sizeof(err)), 0);
	assert_int_equal(
		rules_check(&b, fx, &co, 1, &report, pass, err, sizeof(err)),
		0);
	assert_non_null(report);
	rules_bundle_free(&b);
	return report;
}

/* A rules directory with two rules, both with fixtures. */
static char *
good_rules(char **fx)
{
	char *d = new_dir("rules"), *sub;

	put_rule(d, "b.yar", "Test_Beta", "beta-marker-2c71");
	put_rule(d, "a.yar", "Test_Alpha", "alpha-marker-9e04");
	*fx = xasprintf("%s/fixtures", d);
	assert_int_equal(mkdir(*fx, 0755), 0);
	put(*fx, "Test_Alpha", "some text alpha-marker-9e04 more\n");
	sub = xasprintf("%s/Test_Beta", *fx);
	assert_int_equal(mkdir(sub, 0755), 0);
	free(sub);
	put(*fx, "Test_Beta/one", "beta-marker-2c71\n");
	put(*fx, "Test_Beta/two", "x beta-marker-2c71 y\n");
	return d;
}

/* ---- bundles ---- */

static void
test_bundle_is_byte_for_byte_deterministic(void **state)
{
	char *d1 = new_dir("det1"), *d2 = new_dir("det2");
	struct rules_bundle b1, b2, b3;
	char err[1024], *t1, *t2, *t3;
	size_t l1, l2, l3;

	(void)state;
	/* The same files, written in the other order. */
	put_rule(d1, "a.yar", "Test_Zeta", "zeta");
	put_rule(d1, "b.yar", "Test_Alpha", "alpha");
	put_rule(d2, "b.yar", "Test_Alpha", "alpha");
	put_rule(d2, "a.yar", "Test_Zeta", "zeta");
	assert_int_equal(rules_bundle_build(d1, "7", &b1, err, sizeof(err)), 0);
	assert_int_equal(rules_bundle_build(d2, "7", &b2, err, sizeof(err)), 0);
	assert_int_equal(rules_bundle_encode(&b1, &t1, &l1), 0);
	assert_int_equal(rules_bundle_encode(&b2, &t2, &l2), 0);
	assert_int_equal(l1, l2);
	assert_memory_equal(t1, t2, l1);
	/* The documented form: files by name, rule IDs sorted. */
	assert_non_null(strstr(t1, "{\"format\":\"vigil.rules/v1\","
				   "\"version\":\"7\",\"files\":[{\"name\":"
				   "\"a.yar\""));
	assert_non_null(
		strstr(t1, "\"rule_ids\":[\"Test_Alpha\",\"Test_Zeta\"]}"));
	/* Read back and written again, it is the same. */
	assert_int_equal(rules_bundle_parse(t1, l1, &b3, err, sizeof(err)), 0);
	assert_int_equal(rules_bundle_encode(&b3, &t3, &l3), 0);
	assert_int_equal(l1, l3);
	assert_memory_equal(t1, t3, l1);
	free(t1);
	free(t2);
	free(t3);
	rules_bundle_free(&b1);
	rules_bundle_free(&b2);
	rules_bundle_free(&b3);
	free(d1);
	free(d2);
}

static void
test_repository_rules_bundle_parses_back(void **state)
{
	const char *src = getenv("VIGIL_SOURCE_DIR");
	char *dir = xasprintf("%s/rules", src ? src : ".");
	struct rules_bundle b, p;
	char err[1024], *t;
	size_t l;

	(void)state;
	assert_int_equal(rules_bundle_build(dir, "1", &b, err, sizeof(err)), 0);
	assert_true(b.n_ids >= 20);
	assert_int_equal(rules_bundle_encode(&b, &t, &l), 0);
	assert_int_equal(rules_bundle_parse(t, l, &p, err, sizeof(err)), 0);
	assert_int_equal(p.n_ids, b.n_ids);
	free(t);
	rules_bundle_free(&b);
	rules_bundle_free(&p);
	free(dir);
}

static void
test_file_that_does_not_compile_is_named(void **state)
{
	char *fx, *d = good_rules(&fx), *co = new_dir("corpus");
	struct rules_bundle b;
	char err[1024];
	json_t *report;
	bool pass = true;
	size_t i;
	const json_t *f;

	(void)state;
	put(d, "broken.yar",
	    "rule Test_Broken {\n  condition:\n    true and and\n}\n");
	assert_int_equal(rules_bundle_build(d, "1", &b, err, sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "broken.yar:3:"));

	report = check(d, fx, co, &pass);
	assert_false(pass);
	assert_true(json_is_false(json_object_get(report, "pass")));
	assert_true(has_failure(report, "broken.yar:3:", "does not compile"));
	json_array_foreach(json_object_get(report, "files"), i, f)
	{
		bool broken =
			strcmp(json_string_value(json_object_get(f, "name")),
			       "broken.yar") == 0;
		const json_t *e = json_object_get(f, "error");

		assert_true(json_is_boolean(json_object_get(f, "compiled")));
		assert_int_equal(json_is_true(json_object_get(f, "compiled")),
				 !broken);
		if (broken)
			assert_int_equal(
				json_integer_value(json_object_get(e, "line")),
				3);
	}
	/* The other files are still checked, not dropped. */
	assert_non_null(rule_entry(report, "Test_Alpha"));
	assert_true(json_is_true(json_object_get(
		rule_entry(report, "Test_Beta"), "fired_on_fixture")));
	json_decref(report);
	free(d);
	free(fx);
	free(co);
}

static void
test_rule_defined_twice_names_both_files(void **state)
{
	char *fx, *d = good_rules(&fx), *co = new_dir("corpus");
	struct rules_bundle b;
	char err[1024];
	json_t *report;
	bool pass = true;

	(void)state;
	put_rule(d, "c.yar", "Test_Alpha", "other-marker");
	assert_int_equal(rules_bundle_build(d, "1", &b, err, sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "Test_Alpha"));
	assert_non_null(strstr(err, "a.yar"));
	assert_non_null(strstr(err, "c.yar"));
	report = check(d, fx, co, &pass);
	assert_false(pass);
	assert_true(has_failure(report, "Test_Alpha", "c.yar"));
	assert_true(has_failure(report, "Test_Alpha", "a.yar"));
	json_decref(report);
	free(d);
	free(fx);
	free(co);
}

/* ---- the check ---- */

static void
test_check_passes_with_fixtures_and_clean_corpus(void **state)
{
	char *fx, *d = good_rules(&fx), *co = new_dir("corpus");
	const json_t *c, *r;
	json_t *report;
	bool pass = false;

	(void)state;
	put(co, "clean.txt", "nothing to see\n");
	report = check(d, fx, co, &pass);
	assert_true(pass);
	assert_true(json_is_true(json_object_get(report, "pass")));
	assert_int_equal(json_array_size(json_object_get(report, "failures")),
			 0);
	c = json_object_get(report, "corpus");
	assert_int_equal(
		json_integer_value(json_object_get(c, "files_scanned")), 1);
	assert_int_equal(
		json_integer_value(json_object_get(c, "false_positives")), 0);
	r = rule_entry(report, "Test_Beta");
	assert_string_equal(json_string_value(json_object_get(r, "file")),
			    "b.yar");
	assert_string_equal(json_string_value(json_object_get(r, "fixture")),
			    "Test_Beta/");
	assert_int_equal(json_array_size(json_object_get(r, "fixtures")), 2);
	json_decref(report);
	free(d);
	free(fx);
	free(co);
}

static void
test_rule_without_fixture_fails_named(void **state)
{
	char *fx, *d = good_rules(&fx), *co = new_dir("corpus");
	json_t *report;
	bool pass = true;

	(void)state;
	put_rule(d, "c.yar", "Test_Gamma", "gamma-marker");
	report = check(d, fx, co, &pass);
	assert_false(pass);
	assert_true(has_failure(report, "Test_Gamma", "has no fixture"));
	assert_true(json_is_null(
		json_object_get(rule_entry(report, "Test_Gamma"), "fixture")));
	assert_false(json_is_true(json_object_get(
		rule_entry(report, "Test_Gamma"), "fired_on_fixture")));
	json_decref(report);
	free(d);
	free(fx);
	free(co);
}

static void
test_rule_that_does_not_fire_on_fixture_fails_named(void **state)
{
	char *fx, *d = good_rules(&fx), *co = new_dir("corpus");
	json_t *report;
	bool pass = true;

	(void)state;
	/* One of Test_Beta's two fixture files no longer holds its marker. */
	put(fx, "Test_Beta/two", "nothing here\n");
	report = check(d, fx, co, &pass);
	assert_false(pass);
	assert_true(has_failure(report, "Test_Beta", "Test_Beta/two"));
	assert_false(json_is_true(json_object_get(
		rule_entry(report, "Test_Beta"), "fired_on_fixture")));
	assert_true(json_is_true(json_object_get(
		rule_entry(report, "Test_Alpha"), "fired_on_fixture")));
	json_decref(report);
	free(d);
	free(fx);
	free(co);
}

static void
test_false_positive_on_corpus_fails_named(void **state)
{
	char *fx, *d = good_rules(&fx), *co = new_dir("corpus");
	char *sub = xasprintf("%s/sub", co), *lnk = xasprintf("%s/link", co);
	char *hit = xasprintf("%s/sub/ok.bin", co);
	char *to = xasprintf("%s/Test_Beta/one", fx);
	const json_t *c, *fp;
	json_t *report;
	bool pass = true;

	(void)state;
	assert_int_equal(mkdir(sub, 0755), 0);
	put(co, "clean.txt", "nothing\n");
	put(sub, "ok.bin", "a good file that says alpha-marker-9e04\n");
	/* A link to a fixture is not followed: it is no false positive. */
	assert_int_equal(symlink(to, lnk), 0);
	report = check(d, fx, co, &pass);
	assert_false(pass);
	assert_true(has_failure(report, "Test_Alpha", "known-good corpus"));
	c = json_object_get(report, "corpus");
	assert_int_equal(
		json_integer_value(json_object_get(c, "files_scanned")), 2);
	assert_int_equal(
		json_integer_value(json_object_get(c, "false_positives")), 1);
	fp = json_array_get(json_object_get(c, "false_positive_list"), 0);
	assert_string_equal(json_string_value(json_object_get(fp, "rule")),
			    "Test_Alpha");
	assert_string_equal(json_string_value(json_object_get(fp, "path")),
			    hit);
	json_decref(report);
	free(d);
	free(fx);
	free(co);
	free(sub);
	free(lnk);
	free(hit);
	free(to);
}

static void
test_report_is_deterministic_but_for_timing(void **state)
{
	char *fx, *d = good_rules(&fx), *co = new_dir("corpus");
	json_t *r1, *r2;
	bool pass;

	(void)state;
	put(co, "f", "alpha-marker-9e04");
	r1 = check(d, fx, co, &pass);
	r2 = check(d, fx, co, &pass);
	json_object_del(r1, "timing");
	json_object_del(r2, "timing");
	assert_true(json_equal(r1, r2));
	json_decref(r1);
	json_decref(r2);
	free(d);
	free(fx);
	free(co);
}

/* ---- tampered bundles ---- */

static char *
good_bundle(size_t *len)
{
	char *d = new_dir("bundle"), *t;
	struct rules_bundle b;
	char err[1024];

	put_rule(d, "a.yar", "Test_Alpha", "alpha");
	put_rule(d, "b.yar", "Test_Beta", "beta");
	assert_int_equal(rules_bundle_build(d, "3", &b, err, sizeof(err)), 0);
	assert_int_equal(rules_bundle_encode(&b, &t, len), 0);
	rules_bundle_free(&b);
	free(d);
	return t;
}

/* Replaces the first `from` in text with `to` and parses the result. */
static int
parse_edited(const char *text, const char *from, const char *to, char *err,
	     size_t errlen)
{
	const char *at = strstr(text, from);
	struct rules_bundle b;
	char *s;
	int rc;

	assert_non_null(at);
	s = xasprintf("%.*s%s%s", (int)(at - text), text, to,
		      at + strlen(from));
	rc = rules_bundle_parse(s, strlen(s), &b, err, errlen);
	assert_null(b.files);
	rules_bundle_free(&b);
	free(s);
	return rc;
}

static void
test_tampered_bundle_is_refused(void **state)
{
	size_t len;
	char *t = good_bundle(&len), err[1024], *big;
	struct rules_bundle b;

	(void)state;
	assert_int_equal(rules_bundle_parse(t, len, &b, err, sizeof(err)), 0);
	rules_bundle_free(&b);

	/* rule_ids that are not what the sources define */
	assert_int_equal(parse_edited(t, "[\"Test_Alpha\",\"Test_Beta\"]",
				      "[\"Test_Alpha\"]", err, sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "Test_Beta"));
	assert_int_equal(parse_edited(t, "\"Test_Beta\"]",
				      "\"Test_Beta\",\"Test_Gamma\"]", err,
				      sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "Test_Gamma"));
	/* a source changed under its declared IDs */
	assert_int_equal(parse_edited(t, "rule Test_Beta", "rule Test_Bet4",
				      err, sizeof(err)),
			 VG_EFORMAT);
	/* bad file names */
	assert_int_equal(
		parse_edited(t, "\"b.yar\"", "\"../b.yar\"", err, sizeof(err)),
		VG_EFORMAT);
	assert_non_null(strstr(err, "file name"));
	assert_int_equal(
		parse_edited(t, "\"b.yar\"", "\"b.yara\"", err, sizeof(err)),
		VG_EFORMAT);
	assert_int_equal(
		parse_edited(t, "\"a.yar\"", "\".a.yar\"", err, sizeof(err)),
		VG_EFORMAT);
	/* the same file twice, and files out of order */
	assert_int_equal(
		parse_edited(t, "\"b.yar\"", "\"a.yar\"", err, sizeof(err)),
		VG_EFORMAT);
	assert_int_equal(
		parse_edited(t, "\"a.yar\"", "\"c.yar\"", err, sizeof(err)),
		VG_EFORMAT);
	/* an unknown member, another format, a version that is a path */
	assert_int_equal(parse_edited(t, "{\"format\"", "{\"x\":1,\"format\"",
				      err, sizeof(err)),
			 VG_EFORMAT);
	assert_int_equal(parse_edited(t, "vigil.rules/v1", "vigil.rules/v2",
				      err, sizeof(err)),
			 VG_EFORMAT);
	assert_int_equal(parse_edited(t, "\"version\":\"3\"",
				      "\"version\":\"../3\"", err, sizeof(err)),
			 VG_EFORMAT);
	/* oversize: refused before it is parsed */
	big = xmalloc(RULES_BUNDLE_MAX + 1);
	memset(big, ' ', RULES_BUNDLE_MAX + 1);
	memcpy(big, t, len);
	assert_int_equal(rules_bundle_parse(big, RULES_BUNDLE_MAX + 1, &b, err,
					    sizeof(err)),
			 VG_ELIMIT);
	free(big);
	/* a source over its own limit */
	big = xmalloc(RULES_SOURCE_MAX + 64);
	memset(big, 'x', RULES_SOURCE_MAX + 63);
	big[RULES_SOURCE_MAX + 63] = '\0';
	memcpy(big, "//", 2);
	assert_int_equal(
		parse_edited(t, "rule Test_Alpha", big, err, sizeof(err)),
		VG_ELIMIT);
	free(big);
	free(t);
}

/* ---- install ---- */

static struct rules_bundle
bundle_of(const char *version, const char *marker)
{
	char *d = new_dir("inst");
	struct rules_bundle b;
	char err[1024];

	put_rule(d, "a.yar", "Test_Alpha", marker);
	put_rule(d, "b.yar", "Test_Beta", "beta");
	assert_int_equal(rules_bundle_build(d, version, &b, err, sizeof(err)),
			 0);
	free(d);
	return b;
}

static char *
link_of(const char *home)
{
	char *p = xasprintf("%s/rules", home);
	static char buf[PATH_MAX];
	ssize_t n = readlink(p, buf, sizeof(buf) - 1);

	free(p);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

static bool
exists(const char *home, const char *rel)
{
	char *p = xasprintf("%s/%s", home, rel);
	struct stat st;
	bool r = lstat(p, &st) == 0;

	free(p);
	return r;
}

static void
test_install_switches_the_link(void **state)
{
	char *home = new_dir("home"), err[1024], v[RULES_VERSION_MAX + 1];
	struct rules_bundle b1 = bundle_of("1", "one"),
			    b2 = bundle_of("2", "two");

	(void)state;
	assert_int_equal(rules_installed_version(home, v, sizeof(v)),
			 VG_ENOENT);
	assert_int_equal(rules_install(&b1, home, err, sizeof(err)), 0);
	assert_string_equal(link_of(home), "rules.d/1");
	assert_true(exists(home, "rules/a.yar"));
	assert_true(exists(home, "rules/b.yar"));
	assert_int_equal(rules_install(&b2, home, err, sizeof(err)), 0);
	assert_string_equal(link_of(home), "rules.d/2");
	assert_int_equal(rules_installed_version(home, v, sizeof(v)), 0);
	assert_string_equal(v, "2");
	/* The same version again is refused, and changes nothing. */
	assert_int_equal(rules_install(&b2, home, err, sizeof(err)), VG_EINVAL);
	assert_string_equal(link_of(home), "rules.d/2");
	rules_bundle_free(&b1);
	rules_bundle_free(&b2);
	free(home);
}

static void
test_install_that_does_not_compile_keeps_old_rules(void **state)
{
	char *home = new_dir("home"), err[1024];
	struct rules_bundle b1 = bundle_of("1", "one"),
			    b2 = bundle_of("2", "two");

	(void)state;
	assert_int_equal(rules_install(&b1, home, err, sizeof(err)), 0);
	/* A bundle whose source no longer compiles (as a corrupted one
	 * would, had it not been parsed). */
	free(b2.files[1].source);
	b2.files[1].source = xstrdup("rule Test_Beta { condition: $x }\n");
	b2.files[1].len = strlen(b2.files[1].source);
	assert_int_equal(rules_install(&b2, home, err, sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "b.yar:1"));
	assert_string_equal(link_of(home), "rules.d/1");
	assert_false(exists(home, "rules.d/2"));
	/* Nothing half-written is left behind. */
	{
		char *p = xasprintf("%s/rules.d", home);
		int n = 0;
		DIR *d = opendir(p);
		struct dirent *de;

		assert_non_null(d);
		while ((de = readdir(d)) != NULL)
			n += de->d_name[0] != '.';
		closedir(d);
		assert_int_equal(n, 1);
		free(p);
	}
	/* Sources that compile to other rules than declared: refused too. */
	free(b2.files[1].source);
	b2.files[1].source = xstrdup("rule Test_Other { condition: true }\n");
	b2.files[1].len = strlen(b2.files[1].source);
	assert_int_equal(rules_install(&b2, home, err, sizeof(err)),
			 VG_EFORMAT);
	assert_string_equal(link_of(home), "rules.d/1");
	rules_bundle_free(&b1);
	rules_bundle_free(&b2);
	free(home);
}

static void
test_install_keeps_one_version_back(void **state)
{
	char *home = new_dir("home"), err[1024];
	struct rules_bundle b1 = bundle_of("1", "one"),
			    b2 = bundle_of("2", "two"),
			    b3 = bundle_of("3", "three");

	(void)state;
	assert_int_equal(rules_install(&b1, home, err, sizeof(err)), 0);
	assert_int_equal(rules_install(&b2, home, err, sizeof(err)), 0);
	assert_true(exists(home, "rules.d/1"));
	assert_int_equal(rules_install(&b3, home, err, sizeof(err)), 0);
	assert_string_equal(link_of(home), "rules.d/3");
	assert_true(exists(home, "rules.d/2/a.yar"));
	assert_false(exists(home, "rules.d/1"));
	rules_bundle_free(&b1);
	rules_bundle_free(&b2);
	rules_bundle_free(&b3);
	free(home);
}

static void
test_install_refuses_a_real_rules_directory(void **state)
{
	char *home = new_dir("home"), err[1024];
	char *real = xasprintf("%s/rules", home);
	struct rules_bundle b1 = bundle_of("1", "one");

	(void)state;
	assert_int_equal(mkdir(real, 0755), 0);
	put(real, "mine.yar", "rule Mine { condition: false }\n");
	assert_int_equal(rules_install(&b1, home, err, sizeof(err)), VG_EINVAL);
	assert_true(exists(home, "rules/mine.yar"));
	rules_bundle_free(&b1);
	free(real);
	free(home);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bundle_is_byte_for_byte_deterministic),
		cmocka_unit_test(test_repository_rules_bundle_parses_back),
		cmocka_unit_test(test_file_that_does_not_compile_is_named),
		cmocka_unit_test(test_rule_defined_twice_names_both_files),
		cmocka_unit_test(
			test_check_passes_with_fixtures_and_clean_corpus),
		cmocka_unit_test(test_rule_without_fixture_fails_named),
		cmocka_unit_test(
			test_rule_that_does_not_fire_on_fixture_fails_named),
		cmocka_unit_test(test_false_positive_on_corpus_fails_named),
		cmocka_unit_test(test_report_is_deterministic_but_for_timing),
		cmocka_unit_test(test_tampered_bundle_is_refused),
		cmocka_unit_test(test_install_switches_the_link),
		cmocka_unit_test(
			test_install_that_does_not_compile_keeps_old_rules),
		cmocka_unit_test(test_install_keeps_one_version_back),
		cmocka_unit_test(test_install_refuses_a_real_rules_directory),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
