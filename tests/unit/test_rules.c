/*
 * test_rules.c - compiling rule files one by one: a file that does not
 * compile, cannot be read, or repeats another file's rule identifier is
 * quarantined with the compiler's reason, and every other file still
 * loads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "engine/engine.h"
#include "engine/rules.h"

static char dir[] = "/tmp/vigil-test-rules-XXXXXX";

static void
write_file(const char *name, const char *text)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
remove_file(const char *name)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static bool
has_rule(const struct ruleset *rs, const char *name)
{
	for (size_t i = 0; i < rs->n_rules; i++)
		if (strcmp(rs->info[i].name, name) == 0)
			return true;
	return false;
}

/* The quarantine entry of the file called name, or NULL. */
static const struct rule_quarantine *
quarantined(const struct ruleset *rs, const char *name)
{
	for (size_t i = 0; i < rs->n_quarantined; i++) {
		const char *slash = strrchr(rs->quarantined[i].file, '/');

		if (strcmp(slash ? slash + 1 : rs->quarantined[i].file, name) ==
		    0)
			return &rs->quarantined[i];
	}
	return NULL;
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL || engine_global_init() != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_broken_file_is_quarantined_good_file_compiles(void **state)
{
	const char *paths[] = {dir};
	const struct rule_quarantine *q;
	struct ruleset rs;
	char err[256];

	(void)state;
	/* Broken first in name order: what follows it must still load. */
	write_file("a_broken.yar", "rule Broken_One {\n"
				   "  condition:\n"
				   "    true and and\n"
				   "}\n");
	write_file("b_good.yar", "rule Good_One { strings: $a = \"good\" "
				 "condition: $a }\n");
	assert_int_equal(ruleset_compile(paths, 1, &rs, err, sizeof(err)), 0);
	assert_int_equal(rs.n_rules, 1);
	assert_true(has_rule(&rs, "Good_One"));
	assert_int_equal(rs.n_quarantined, 1);
	q = quarantined(&rs, "a_broken.yar");
	assert_non_null(q);
	/* The compiler's own reason, with its line. */
	assert_non_null(strstr(q->reason, "line 3: "));
	assert_non_null(strstr(q->reason, "syntax error"));
	ruleset_free(&rs);
	remove_file("a_broken.yar");
	remove_file("b_good.yar");
}

static void
test_duplicate_identifier_quarantines_the_later_file(void **state)
{
	const char *paths[] = {dir};
	const struct rule_quarantine *q;
	struct ruleset rs;
	char err[256];

	(void)state;
	write_file("one.yar", "rule Same_Name { strings: $a = \"one\" "
			      "condition: $a }\n");
	write_file("two.yar", "rule Same_Name { strings: $a = \"two\" "
			      "condition: $a }\n"
			      "rule Only_In_Two { condition: false }\n");
	write_file("zz_three.yar", "rule Third { condition: false }\n");
	assert_int_equal(ruleset_compile(paths, 1, &rs, err, sizeof(err)), 0);
	assert_int_equal(rs.n_quarantined, 1);
	assert_null(quarantined(&rs, "one.yar"));
	q = quarantined(&rs, "two.yar");
	assert_non_null(q);
	assert_non_null(strstr(q->reason, "duplicated identifier"));
	assert_non_null(strstr(q->reason, "Same_Name"));
	/* The whole later file is out, not only its duplicate. */
	assert_false(has_rule(&rs, "Only_In_Two"));
	assert_true(has_rule(&rs, "Same_Name"));
	assert_true(has_rule(&rs, "Third"));
	assert_int_equal(rs.n_rules, 2);
	ruleset_free(&rs);
	remove_file("one.yar");
	remove_file("two.yar");
	remove_file("zz_three.yar");
}

static void
test_unreadable_and_every_broken_file_listed(void **state)
{
	const char *paths[] = {dir};
	struct ruleset rs;
	char err[256], path[600];

	(void)state;
	write_file("a.yar", "rule A { condition: $nope }\n");
	write_file("b.yar", "rule B { condition: true }\n");
	write_file("c.yar", "rule C { condition: nonsense( }\n");
	snprintf(path, sizeof(path), "%s/d.yar", dir);
	assert_int_equal(mkdir(path, 0700), 0); /* a directory: unreadable */
	assert_int_equal(ruleset_compile(paths, 1, &rs, err, sizeof(err)), 0);
	assert_int_equal(rs.n_rules, 1);
	assert_true(has_rule(&rs, "B"));
	assert_int_equal(rs.n_quarantined, 3);
	assert_non_null(quarantined(&rs, "a.yar"));
	assert_non_null(quarantined(&rs, "c.yar"));
	assert_non_null(quarantined(&rs, "d.yar"));
	assert_string_equal(quarantined(&rs, "d.yar")->reason,
			    "not a regular file");
	ruleset_free(&rs);
	rmdir(path);
	remove_file("a.yar");
	remove_file("b.yar");
	remove_file("c.yar");
}

static void
test_missing_path_is_an_error(void **state)
{
	const char *paths[] = {"/nonexistent/vigil-rules"};
	struct ruleset rs;
	char err[256];

	(void)state;
	assert_int_equal(ruleset_compile(paths, 1, &rs, err, sizeof(err)),
			 VG_EIO);
	assert_non_null(strstr(err, "/nonexistent/vigil-rules"));
	assert_null(rs.rules);
	assert_int_equal(rs.n_quarantined, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_broken_file_is_quarantined_good_file_compiles),
		cmocka_unit_test(
			test_duplicate_identifier_quarantines_the_later_file),
		cmocka_unit_test(test_unreadable_and_every_broken_file_listed),
		cmocka_unit_test(test_missing_path_is_an_error),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
