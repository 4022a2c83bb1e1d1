/*
 * test_activerules.c - the node's active rule directory: built from the
 * files that compile, a broken file's last good version kept (across a
 * reopen too), a broken file with no good version left out, duplicates
 * quarantined, files and directory private, a quarantine for analysis
 * that lasts until the text changes, and a reload that cannot list the
 * operator's directory changing nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "node/activerules.h"

static char root[] = "/tmp/vigil-test-activerules-XXXXXX";
static char src[600], data[600];

#define BROKEN "rule Broken {\n  condition:\n    true and and\n}\n"

static void
put(const char *name, const char *text)
{
	char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", src, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
put_rule(const char *file, const char *rule, const char *string)
{
	char text[400];

	snprintf(text, sizeof(text),
		 "rule %s { strings: $a = \"%s\" condition: $a }\n", rule,
		 string);
	put(file, text);
}

/* The active copy of name: its text (caller frees), or NULL. */
static char *
active_text(const char *name)
{
	char path[700], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/rules-active/%s", data, name);
	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static bool
active_has(const char *name, const char *needle)
{
	char *t = active_text(name);
	bool yes = t != NULL && strstr(t, needle) != NULL;

	free(t);
	return yes;
}

static const struct activerules_entry *
entry(const struct activerules_entry *q, size_t n, const char *file)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(q[i].file, file) == 0)
			return &q[i];
	return NULL;
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(root) == NULL)
		return -1;
	snprintf(src, sizeof(src), "%s/src", root);
	snprintf(data, sizeof(data), "%s/data", root);
	return mkdir(src, 0700) == 0 && mkdir(data, 0700) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[700];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_broken_file_keeps_last_good_version(void **state)
{
	struct activerules *ar;
	struct activerules_entry *q;
	const struct activerules_entry *e;
	struct stat st;
	char err[512], path[700];
	size_t n;

	(void)state;
	put_rule("a.yar", "Rule_A", "alpha");
	put_rule("b.yar", "Rule_B", "bravo-1");
	put("c.yar", BROKEN);
	assert_int_equal(activerules_open(src, data, &ar, err, sizeof(err)), 0);
	/* First start: c.yar has no good version and is left out. */
	assert_true(active_has("a.yar", "alpha"));
	assert_true(active_has("b.yar", "bravo-1"));
	assert_null(active_text("c.yar"));
	n = activerules_quarantined(ar, &q);
	assert_int_equal(n, 1);
	assert_string_equal(q[0].file, "c.yar");
	assert_non_null(strstr(q[0].reason, "line 3: syntax error"));
	assert_false(q[0].kept);
	assert_false(q[0].crash);
	free(q);
	/* Private: 0700 and 0600. */
	assert_int_equal(stat(activerules_dir(ar), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/a.yar", activerules_dir(ar));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* b.yar changes and compiles, then breaks: its last good version
	 * (the changed one) stays; c.yar is fixed and comes in. */
	put_rule("b.yar", "Rule_B", "bravo-2");
	assert_int_equal(activerules_reload(ar, err, sizeof(err)), 0);
	put("b.yar", BROKEN);
	put_rule("c.yar", "Rule_C", "charlie");
	assert_int_equal(activerules_reload(ar, err, sizeof(err)), 0);
	assert_true(active_has("b.yar", "bravo-2"));
	assert_true(active_has("c.yar", "charlie"));
	n = activerules_quarantined(ar, &q);
	assert_int_equal(n, 1);
	e = entry(q, n, "b.yar");
	assert_non_null(e);
	assert_true(e->kept);
	free(q);
	activerules_free(ar);

	/* The last good version survives a restart. */
	assert_int_equal(activerules_open(src, data, &ar, err, sizeof(err)), 0);
	assert_true(active_has("b.yar", "bravo-2"));
	n = activerules_quarantined(ar, &q);
	assert_int_equal(n, 1);
	assert_true(q[0].kept);
	free(q);
	/* A removed file leaves the active set. */
	snprintf(path, sizeof(path), "%s/b.yar", src);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(activerules_reload(ar, err, sizeof(err)), 0);
	assert_null(active_text("b.yar"));
	assert_int_equal(activerules_quarantined(ar, &q), 0);
	assert_null(q);
	activerules_free(ar);
}

static void
test_duplicate_identifier_in_later_file(void **state)
{
	struct activerules *ar;
	struct activerules_entry *q;
	char err[512];
	size_t n;

	(void)state;
	put_rule("d1.yar", "Same_Id", "one");
	put_rule("d2.yar", "Same_Id", "two");
	assert_int_equal(activerules_open(src, data, &ar, err, sizeof(err)), 0);
	assert_true(active_has("d1.yar", "one"));
	assert_null(active_text("d2.yar"));
	n = activerules_quarantined(ar, &q);
	assert_int_equal(n, 1);
	assert_string_equal(q[0].file, "d2.yar");
	assert_non_null(strstr(q[0].reason, "duplicated identifier"));
	free(q);
	activerules_free(ar);
	put("d2.yar", "rule Other_Id { condition: false }\n");
}

static void
test_analysis_quarantine_lasts_until_text_changes(void **state)
{
	struct activerules *ar;
	struct activerules_entry *q;
	char err[512], **files;
	size_t n, nf;
	bool listed = false;

	(void)state;
	put_rule("slow.yar", "Rule_Slow", "slow-1");
	assert_int_equal(activerules_open(src, data, &ar, err, sizeof(err)), 0);
	assert_int_equal(activerules_files(ar, &files, &nf), 0);
	for (size_t i = 0; i < nf; i++) {
		if (strstr(files[i], "/rules-active/slow.yar") != NULL)
			listed = true;
		free(files[i]);
	}
	free(files);
	assert_true(listed);
	assert_int_equal(activerules_quarantine(ar, "/x/slow.yar", "hangs"), 0);
	assert_null(active_text("slow.yar"));
	assert_int_equal(activerules_quarantine(ar, "slow.yar", "again"),
			 VG_ENOENT);
	n = activerules_quarantined(ar, &q);
	assert_true(entry(q, n, "slow.yar")->crash);
	assert_string_equal(entry(q, n, "slow.yar")->reason, "hangs");
	free(q);
	/* Unchanged: still out after a reload. */
	assert_int_equal(activerules_reload(ar, err, sizeof(err)), 0);
	assert_null(active_text("slow.yar"));
	n = activerules_quarantined(ar, &q);
	assert_non_null(entry(q, n, "slow.yar"));
	assert_true(entry(q, n, "slow.yar")->crash);
	free(q);
	/* Changed: tried again. */
	put_rule("slow.yar", "Rule_Slow", "slow-2");
	assert_int_equal(activerules_reload(ar, err, sizeof(err)), 0);
	assert_true(active_has("slow.yar", "slow-2"));
	n = activerules_quarantined(ar, &q);
	assert_null(entry(q, n, "slow.yar"));
	free(q);
	activerules_free(ar);
}

static void
test_unlistable_source_changes_nothing(void **state)
{
	struct activerules *ar;
	char err[512], away[700];

	(void)state;
	put_rule("e.yar", "Rule_E", "echo");
	assert_int_equal(activerules_open(src, data, &ar, err, sizeof(err)), 0);
	/* Gone (moved away): a reload cannot list it. */
	snprintf(away, sizeof(away), "%s.away", src);
	assert_int_equal(rename(src, away), 0);
	assert_int_equal(activerules_reload(ar, err, sizeof(err)), VG_EIO);
	assert_non_null(strstr(err, src));
	assert_true(active_has("e.yar", "echo"));
	assert_int_equal(rename(away, src), 0);
	activerules_free(ar);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_broken_file_keeps_last_good_version),
		cmocka_unit_test(test_duplicate_identifier_in_later_file),
		cmocka_unit_test(
			test_analysis_quarantine_lasts_until_text_changes),
		cmocka_unit_test(test_unlistable_source_changes_nothing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
