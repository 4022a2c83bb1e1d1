/*
 * test_container.c - the release container (src/release/container.c):
 * a good container read file by file, the writer's bytes for every sink,
 * and a table of malformed containers, each refused with its code and a
 * message naming the offset or record; the limits on paths, lengths,
 * files and size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "release/container.h"

#define MAGIC "vigil.release-bundle/v1\n"

static const char good[] = MAGIC "file targets.json 2\n{}\n"
				 "file targets/rules/vigil-rules-7.json 5\n"
				 "hello\n"
				 "file empty 0\n\n"
				 "end\n";

static void
test_good_container_parses(void **state)
{
	struct container c;
	char err[256];
	const struct container_file *f;

	(void)state;
	assert_int_equal(
		container_parse(good, sizeof(good) - 1, &c, err, sizeof(err)),
		0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.files[0].path, "targets.json");
	assert_int_equal(c.files[0].len, 2);
	assert_memory_equal(c.files[0].data, "{}", 2);
	assert_int_equal(c.files[1].record, 2);
	f = container_find(&c, "targets/rules/vigil-rules-7.json");
	assert_non_null(f);
	assert_memory_equal(f->data, "hello", 5);
	f = container_find(&c, "empty");
	assert_non_null(f);
	assert_int_equal(f->len, 0);
	assert_null(container_find(&c, "nothing"));
	container_free(&c);
	container_free(&c); /* zeroed: a second free is harmless */
}

static void
test_empty_container_parses(void **state)
{
	static const char e[] = MAGIC "end\n";
	struct container c;
	char err[256];

	(void)state;
	assert_int_equal(
		container_parse(e, sizeof(e) - 1, &c, err, sizeof(err)), 0);
	assert_int_equal(c.n, 0);
	container_free(&c);
}

static void
test_reader_steps_record_by_record(void **state)
{
	struct container_reader r;
	struct container_file f;
	char err[256];

	(void)state;
	container_reader_init(&r, good, sizeof(good) - 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(container_next(&r, &f, err, sizeof(err)), 1);
		assert_int_equal(f.record, (size_t)i + 1);
		free(f.path);
	}
	assert_int_equal(container_next(&r, &f, err, sizeof(err)), 0);
	assert_int_equal(r.off, sizeof(good) - 1);
	/* After the end, it stays at the end. */
	assert_int_equal(container_next(&r, &f, err, sizeof(err)), 0);
}

static void
test_writer_memory_gives_the_same_bytes(void **state)
{
	struct container_writer w;
	uint8_t *m;
	size_t len = 0;

	(void)state;
	assert_int_equal(container_writer_mem(&w), 0);
	assert_int_equal(container_writer_add(&w, "targets.json", "{}", 2), 0);
	assert_int_equal(
		container_writer_add(&w, "targets/rules/vigil-rules-7.json",
				     "hello", 5),
		0);
	assert_int_equal(container_writer_add(&w, "empty", "", 0), 0);
	assert_null(container_writer_take(&w, &len)); /* not ended */
	assert_int_equal(container_writer_end(&w), 0);
	m = container_writer_take(&w, &len);
	assert_non_null(m);
	assert_int_equal(len, sizeof(good) - 1);
	assert_memory_equal(m, good, len);
	free(m);
	container_writer_clear(&w);
}

static void
test_writer_file_and_fd(void **state)
{
	struct container_writer w;
	char buf[512];
	FILE *f = tmpfile();
	int fds[2];
	ssize_t n;

	(void)state;
	assert_non_null(f);
	assert_int_equal(container_writer_file(&w, f), 0);
	assert_int_equal(container_writer_add(&w, "a/b", "xyz", 3), 0);
	assert_int_equal(container_writer_end(&w), 0);
	rewind(f);
	n = (ssize_t)fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(n, strlen(MAGIC "file a/b 3\nxyz\nend\n"));
	assert_memory_equal(buf, MAGIC "file a/b 3\nxyz\nend\n", (size_t)n);

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(container_writer_fd(&w, fds[1]), 0);
	assert_int_equal(container_writer_add(&w, "c", "1", 1), 0);
	assert_int_equal(container_writer_end(&w), 0);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf));
	close(fds[0]);
	assert_int_equal(n, strlen(MAGIC "file c 1\n1\nend\n"));
	assert_memory_equal(buf, MAGIC "file c 1\n1\nend\n", (size_t)n);
}

static void
test_writer_refuses_bad_paths(void **state)
{
	struct container_writer w;
	char longp[CONTAINER_PATH_MAX + 2];

	(void)state;
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(container_writer_mem(&w), 0);
	assert_int_equal(container_writer_add(&w, "../x", "", 0), VG_EINVAL);
	assert_int_equal(container_writer_add(&w, "/x", "", 0), VG_EINVAL);
	assert_int_equal(container_writer_add(&w, "a b", "", 0), VG_EINVAL);
	assert_int_equal(container_writer_add(&w, longp, "", 0), VG_EINVAL);
	longp[CONTAINER_PATH_MAX] = '\0';
	assert_int_equal(container_writer_add(&w, longp, "", 0), 0);
	container_writer_clear(&w);
}

static void
test_paths(void **state)
{
	static const char *const ok[] = {
		"a",           "targets.json", "root/1.root.json",
		"a/b.c/d_e-f", "a/.hidden",    "x..y",
	};
	static const char *const bad[] = {
		"",   "/a",   ".a",  "a/",   "a//b", "a/./b", "a/../b",
		"..", "a/..", "a b", "a\\b", "a:b",  "é",     "a\tb",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_true(container_path_ok(ok[i], strlen(ok[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(container_path_ok(bad[i], strlen(bad[i])));
}

/* Every malformed container, with its code and a piece of its message. */
static const struct {
	const char *name, *in;
	int code;
	const char *msg;
} bad[] = {
	{"empty input", "", VG_EFORMAT, "offset 0: not a release container"},
	{"wrong magic", "vigil.release-bundle/v2\nend\n", VG_EFORMAT,
	 "offset 0"},
	{"no end", MAGIC "file a 1\nx\n", VG_EFORMAT, "truncated"},
	{"half an end", MAGIC "en", VG_EFORMAT, "truncated"},
	{"end without newline", MAGIC "end", VG_EFORMAT, "truncated"},
	{"bytes after end", MAGIC "end\nx", VG_EFORMAT,
	 "offset 28: 1 bytes after \"end\""},
	{"a second end", MAGIC "end\nend\n", VG_EFORMAT, "after \"end\""},
	{"unknown record", MAGIC "dir a\nend\n", VG_EFORMAT,
	 "record 1: expected \"file \" or \"end\""},
	{"truncated in the path", MAGIC "file abc", VG_EFORMAT,
	 "record 1: truncated in its path"},
	{"truncated in the length", MAGIC "file a 12", VG_EFORMAT,
	 "truncated in its length"},
	{"truncated in the data", MAGIC "file a 9\nxx", VG_EFORMAT,
	 "record 1 (a) declares 9 bytes but only 2 remain"},
	{"data without its newline", MAGIC "file a 2\nxx", VG_EFORMAT,
	 "declares 2 bytes but only 2 remain"},
	{"length too short", MAGIC "file a 1\nxx\nend\n", VG_EFORMAT,
	 "no newline after its 1 bytes"},
	{"leading zero", MAGIC "file a 01\nx\nend\n", VG_EFORMAT,
	 "without leading zero"},
	{"signed length", MAGIC "file a +1\nx\nend\n", VG_EFORMAT,
	 "not a decimal"},
	{"no length", MAGIC "file a \nend\n", VG_EFORMAT, "not a decimal"},
	{"hex length", MAGIC "file a 0x1\nx\nend\n", VG_EFORMAT,
	 "not a decimal"},
	{"space after the length", MAGIC "file a 1 \nx\nend\n", VG_EFORMAT,
	 "not a decimal"},
	{"CRLF", MAGIC "file a 1\r\nx\nend\n", VG_EFORMAT, "not a decimal"},
	{"length over 1 GiB", MAGIC "file a 1073741825\nx\nend\n", VG_ELIMIT,
	 "limit"},
	{"length of 11 digits", MAGIC "file a 99999999999\nx\nend\n", VG_ELIMIT,
	 "limit"},
	{"no space before the length", MAGIC "file a\n1\nx\nend\n", VG_EFORMAT,
	 "bad path"},
	{"dot-dot path", MAGIC "file ../etc/passwd 1\nx\nend\n", VG_EFORMAT,
	 "record 1: bad path \"../etc/passwd\""},
	{"dot-dot inside", MAGIC "file targets/../x 1\nx\nend\n", VG_EFORMAT,
	 "bad path"},
	{"absolute path", MAGIC "file /x 1\nx\nend\n", VG_EFORMAT, "bad path"},
	{"dot path", MAGIC "file .x 1\nx\nend\n", VG_EFORMAT, "bad path"},
	{"empty path", MAGIC "file  1\nx\nend\n", VG_EFORMAT, "bad path"},
	{"two spaces", MAGIC "file a  1\nx\nend\n", VG_EFORMAT,
	 "not a decimal"},
	{"space in the path", MAGIC "file a b 1\nx\nend\n", VG_EFORMAT,
	 "not a decimal"},
	{"duplicate path", MAGIC "file a 1\nx\nfile b 0\n\nfile a 1\ny\nend\n",
	 VG_EFORMAT, "record 3: path \"a\" is already record 1"},
	{"error in the second record", MAGIC "file a 1\nx\nfile b 5\nxy\nend\n",
	 VG_EFORMAT, "record 2"},
};

static void
test_malformed_containers_are_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct container c;
		char err[256] = "";
		int rc = container_parse(bad[i].in, strlen(bad[i].in), &c, err,
					 sizeof(err));

		if (rc != bad[i].code || strstr(err, bad[i].msg) == NULL)
			fail_msg("%s: got %d \"%s\", expected %d \"%s\"",
				 bad[i].name, rc, err, bad[i].code, bad[i].msg);
		assert_int_equal(c.n, 0);
		assert_null(c.files);
	}
}

static void
test_every_truncation_is_refused(void **state)
{
	(void)state;
	for (size_t n = 0; n < sizeof(good) - 1; n++) {
		struct container c;
		char err[256] = "";

		assert_int_equal(container_parse(good, n, &c, err, sizeof(err)),
				 VG_EFORMAT);
		assert_true(strstr(err, "offset") != NULL);
	}
}

static void
test_path_limit(void **state)
{
	char buf[CONTAINER_PATH_MAX + 100], err[256];
	struct container c;
	int n;

	(void)state;
	n = snprintf(buf, sizeof(buf), MAGIC "file %0*d 0\n\nend\n",
		     CONTAINER_PATH_MAX, 0);
	for (int i = (int)strlen(MAGIC) + 5;
	     i < (int)strlen(MAGIC) + 5 + CONTAINER_PATH_MAX; i++)
		buf[i] = 'p';
	assert_int_equal(container_parse(buf, (size_t)n, &c, err, sizeof(err)),
			 0);
	container_free(&c);
	n = snprintf(buf, sizeof(buf), MAGIC "file %0*d 0\n\nend\n",
		     CONTAINER_PATH_MAX + 1, 0);
	for (int i = (int)strlen(MAGIC) + 5;
	     i < (int)strlen(MAGIC) + 6 + CONTAINER_PATH_MAX; i++)
		buf[i] = 'p';
	assert_int_equal(container_parse(buf, (size_t)n, &c, err, sizeof(err)),
			 VG_ELIMIT);
	assert_non_null(strstr(err, "longer than 512"));
}

static void
test_files_limit(void **state)
{
	struct container_writer w;
	struct container c;
	char path[16], err[256];
	uint8_t *m;
	size_t len = 0;

	(void)state;
	assert_int_equal(container_writer_mem(&w), 0);
	for (int i = 0; i < CONTAINER_FILES_MAX; i++) {
		snprintf(path, sizeof(path), "f%d", i);
		assert_int_equal(container_writer_add(&w, path, "", 0), 0);
	}
	assert_int_equal(container_writer_add(&w, "one-more", "", 0),
			 VG_ELIMIT);
	assert_int_equal(container_writer_end(&w), 0);
	m = container_writer_take(&w, &len);
	assert_int_equal(container_parse(m, len, &c, err, sizeof(err)), 0);
	assert_int_equal(c.n, CONTAINER_FILES_MAX);
	container_free(&c);
	/* One more file than the limit, written by hand. */
	m = realloc(m, len + 32);
	assert_non_null(m);
	len -= 4; /* drop "end\n" */
	len += (size_t)snprintf((char *)m + len, 32, "file extra 0\n\nend\n");
	assert_int_equal(container_parse(m, len, &c, err, sizeof(err)),
			 VG_ELIMIT);
	assert_non_null(strstr(err, "record 100001: more than 100000 files"));
	free(m);
}

static void
test_size_limit(void **state)
{
	/* A declared length that fits alone but not with its header. */
	char buf[128], err[256];
	struct container c;
	int n;

	(void)state;
	n = snprintf(buf, sizeof(buf), MAGIC "file a %llu\nx\nend\n",
		     (unsigned long long)CONTAINER_BYTES_MAX - 20);
	assert_int_equal(container_parse(buf, (size_t)n, &c, err, sizeof(err)),
			 VG_ELIMIT);
	assert_non_null(strstr(err, "would be over"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_container_parses),
		cmocka_unit_test(test_empty_container_parses),
		cmocka_unit_test(test_reader_steps_record_by_record),
		cmocka_unit_test(test_writer_memory_gives_the_same_bytes),
		cmocka_unit_test(test_writer_file_and_fd),
		cmocka_unit_test(test_writer_refuses_bad_paths),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_malformed_containers_are_refused),
		cmocka_unit_test(test_every_truncation_is_refused),
		cmocka_unit_test(test_path_limit),
		cmocka_unit_test(test_files_limit),
		cmocka_unit_test(test_size_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
