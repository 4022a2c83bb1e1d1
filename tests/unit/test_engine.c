/*
 * test_engine.c - the engine end to end on buffers and descriptors: rule
 * and hash matches, rule errors named, limits reported, special files
 * refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "engine/engine.h"

static char dir[] = "/tmp/vigil-test-engine-XXXXXX";
static char rules_path[512], hashes_path[512], bad_rules_path[512];

static const char marker[] = "vigil-unit-test-marker-7f3a";

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL || engine_global_init() != 0)
		return -1;
	snprintf(rules_path, sizeof(rules_path), "%s/t.yar", dir);
	snprintf(hashes_path, sizeof(hashes_path), "%s/t.hsb", dir);
	snprintf(bad_rules_path, sizeof(bad_rules_path), "%s/bad.yar", dir);
	write_file(
		rules_path,
		"rule Test_Marker {\n"
		"  meta: id = \"T-1\" severity = \"high\" category = \"test\"\n"
		"        description = \"unit test marker\"\n"
		"  strings: $m = \"vigil-unit-test-marker-7f3a\"\n"
		"  condition: $m\n}\n");
	/* sha256("abc") */
	write_file(hashes_path, "ba7816bf8f01cfea414140de5dae2223b00361a396177a"
				"9cb410ff61f20015ad"
				":3:Test.Hash.Abc\n");
	write_file(bad_rules_path, "rule ok { condition: true }\n"
				   "rule broken { condition: $nope }\n");
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

static struct engine *
make_engine(const struct vg_limits *limits)
{
	const char *rules[] = {rules_path};
	const char *hashes[] = {hashes_path};
	struct engine_config cfg;
	struct engine *e;
	char err[512];

	engine_config_default(&cfg);
	if (limits)
		cfg.limits = *limits;
	cfg.rule_paths = rules;
	cfg.n_rule_paths = 1;
	cfg.hash_paths = hashes;
	cfg.n_hash_paths = 1;
	cfg.tmpdir = dir;
	if (engine_new(&cfg, &e, err, sizeof(err)) != 0)
		fail_msg("engine_new: %s", err);
	return e;
}

static struct report *
scan(struct engine *e, const void *buf, size_t len)
{
	struct scanner *s;
	struct report *r;

	assert_int_equal(scanner_new(e, &s), 0);
	assert_int_equal(engine_scan_buffer(s, buf, len, "buf", &r), 0);
	scanner_free(s);
	return r;
}

static void
test_rule_match_carries_meta(void **state)
{
	struct engine *e = make_engine(NULL);
	char buf[256];
	struct report *r;

	(void)state;
	snprintf(buf, sizeof(buf), "some text %s more text", marker);
	r = scan(e, buf, strlen(buf));
	assert_int_equal(r->verdict, VERDICT_MALICIOUS);
	assert_int_equal(r->n_objects, 1);
	assert_int_equal(r->objects[0].n_matches, 1);
	assert_string_equal(r->objects[0].matches[0].name, "Test_Marker");
	assert_string_equal(r->objects[0].matches[0].rule_id, "T-1");
	assert_string_equal(r->objects[0].matches[0].category, "test");
	assert_int_equal(r->objects[0].matches[0].score, 80);
	assert_string_equal(r->objects[0].mime, "text/plain");
	report_free(r);
	engine_free(e);
}

static void
test_clean_buffer_is_clean(void **state)
{
	struct engine *e = make_engine(NULL);
	const char text[] = "nothing to see here\n";
	struct report *r = scan(e, text, sizeof(text) - 1);

	(void)state;
	assert_int_equal(r->verdict, VERDICT_CLEAN);
	assert_int_equal(r->n_detections, 0);
	assert_non_null(r->objects[0].ssdeep);
	report_free(r);
	engine_free(e);
}

static void
test_empty_file_is_clean_with_empty_digests(void **state)
{
	struct engine *e = make_engine(NULL);
	struct scanner *s;
	struct report *r;
	char path[600];
	FILE *f;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/empty", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(scanner_new(e, &s), 0);
	assert_int_equal(engine_scan_fd(s, fd, path, &r), 0);
	assert_int_equal(r->verdict, VERDICT_CLEAN);
	assert_int_equal(r->n_objects, 1);
	assert_int_equal(r->objects[0].size, 0);
	assert_int_equal(r->objects[0].sha256[0], 0xe3);
	report_free(r);
	close(fd);
	scanner_free(s);
	engine_free(e);
}

static void
test_hash_signature_matches(void **state)
{
	struct engine *e = make_engine(NULL);
	struct report *r = scan(e, "abc", 3);

	(void)state;
	assert_int_equal(r->verdict, VERDICT_MALICIOUS);
	assert_string_equal(r->detections[0], "Test.Hash.Abc");
	report_free(r);
	engine_free(e);
}

static void
test_file_over_size_limit_is_suspicious(void **state)
{
	struct vg_limits l;
	struct engine *e;
	struct report *r;
	char buf[100] = {0};

	(void)state;
	limits_default(&l);
	l.max_file_size = 10;
	e = make_engine(&l);
	r = scan(e, buf, sizeof(buf));
	assert_int_equal(r->verdict, VERDICT_SUSPICIOUS);
	assert_true(r->limits_hit & VG_LIMIT_FILE_SIZE);
	assert_string_equal(r->detections[0], "Limits.Exceeded.FileSize");
	report_free(r);
	engine_free(e);
}

static void
test_rule_error_names_file_and_line(void **state)
{
	const char *rules[] = {bad_rules_path};
	struct engine_config cfg;
	struct engine *e = NULL;
	char err[512];

	(void)state;
	engine_config_default(&cfg);
	cfg.rule_paths = rules;
	cfg.n_rule_paths = 1;
	assert_int_equal(engine_new(&cfg, &e, err, sizeof(err)), VG_EFORMAT);
	assert_null(e);
	assert_non_null(strstr(err, "bad.yar:2:"));
}

static void
test_fifo_is_refused(void **state)
{
	struct engine *e = make_engine(NULL);
	struct scanner *s;
	struct report *r = NULL;
	char path[600];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	fd = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(fd >= 0);
	assert_int_equal(scanner_new(e, &s), 0);
	assert_int_equal(engine_scan_fd(s, fd, path, &r), VG_ETYPE);
	assert_null(r);
	close(fd);
	scanner_free(s);
	engine_free(e);
}

/* A hunt's engine: built without rules, given a rule's text later. */
static void
test_rules_from_text_match_only(void **state)
{
	struct engine_config cfg;
	struct engine *e;
	struct scanner *s;
	struct report *r;
	char err[512], buf[256];
	const char *rule = "rule Hunt { strings: $m = \"vigil-unit-test-marker"
			   "-7f3a\" condition: $m }";
	uint8_t zero[16] = {0};

	(void)state;
	engine_config_default(&cfg);
	cfg.tmpdir = dir;
	cfg.fuzzy = false;
	cfg.match_only = true;
	if (engine_new(&cfg, &e, err, sizeof(err)) != 0)
		fail_msg("engine_new: %s", err);
	assert_int_equal(scanner_new(e, &s), 0);
	assert_int_equal(engine_rule_count(e), 0);

	/* What does not compile leaves the engine as it was. */
	assert_int_equal(engine_load_rules_text(e, s,
						"rule X { condition: $a }", 24,
						err, sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "(rules):1:"));
	assert_int_equal(engine_load_rules_text(e, s,
						"include \"/etc/passwd\"\n", 22,
						err, sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "includes are disabled"));
	assert_int_equal(
		engine_load_rules_text(e, s, "rule A\0{}", 9, err, sizeof(err)),
		VG_EINVAL);
	assert_int_equal(engine_rule_count(e), 0);

	assert_int_equal(engine_load_rules_text(e, s, rule, strlen(rule), err,
						sizeof(err)),
			 0);
	assert_int_equal(engine_rule_count(e), 1);
	snprintf(buf, sizeof(buf), "some text %s more text", marker);
	assert_int_equal(engine_scan_buffer(s, buf, strlen(buf), "buf", &r), 0);
	assert_int_equal(r->n_detections, 1);
	assert_string_equal(r->detections[0], "Hunt");
	/* The file's SHA-256 names it; nothing else is computed. */
	assert_memory_not_equal(r->objects[0].sha256, zero, 16);
	assert_memory_equal(r->objects[0].md5, zero, 16);
	assert_null(r->objects[0].mime);
	report_free(r);
	scanner_free(s);
	engine_free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_match_carries_meta),
		cmocka_unit_test(test_clean_buffer_is_clean),
		cmocka_unit_test(test_empty_file_is_clean_with_empty_digests),
		cmocka_unit_test(test_hash_signature_matches),
		cmocka_unit_test(test_file_over_size_limit_is_suspicious),
		cmocka_unit_test(test_rule_error_names_file_and_line),
		cmocka_unit_test(test_fifo_is_refused),
		cmocka_unit_test(test_rules_from_text_match_only),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
