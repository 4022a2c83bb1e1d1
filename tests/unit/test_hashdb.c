/*
 * test_hashdb.c - parsing .hdb/.hsb signature files: accepted forms,
 * every malformed line rejected with its line number, lookups.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "engine/hashdb.h"

#define EICAR_MD5 "44d88612fea8a8f36de82e1278abb02f"
#define EICAR_SHA256                                                           \
	"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"

static void
unhex(const char *h, uint8_t *out)
{
	for (size_t i = 0; h[2 * i]; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static int
load(struct hashdb *db, const char *text, const char *origin, char *err)
{
	return hashdb_load_buffer(db, text, strlen(text), origin, err, 256);
}

static void
test_hdb_md5_line_matches_with_size(void **state)
{
	struct hashdb *db = hashdb_new();
	char err[256];
	uint8_t md5[16];

	(void)state;
	assert_int_equal(load(db, EICAR_MD5 ":68:Eicar-Test\n", "x.hdb", err),
			 0);
	hashdb_finish(db);
	unhex(EICAR_MD5, md5);
	assert_string_equal(hashdb_lookup(db, HASH_MD5, md5, 68), "Eicar-Test");
	assert_null(hashdb_lookup(db, HASH_MD5, md5, 69));
	hashdb_free(db);
}

static void
test_hsb_sha256_and_wildcard_size(void **state)
{
	struct hashdb *db = hashdb_new();
	char err[256];
	uint8_t sha[32];

	(void)state;
	assert_int_equal(load(db,
			      "# comment\n\n" EICAR_SHA256 ":*:Any-Size:73\r\n",
			      "x.hsb", err),
			 0);
	hashdb_finish(db);
	unhex(EICAR_SHA256, sha);
	assert_string_equal(hashdb_lookup(db, HASH_SHA256, sha, 12345),
			    "Any-Size");
	assert_int_equal(hashdb_count(db), 1);
	hashdb_free(db);
}

static void
expect_error(const char *text, const char *origin, const char *want)
{
	struct hashdb *db = hashdb_new();
	char err[256];

	assert_int_equal(load(db, text, origin, err), VG_EFORMAT);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, want);
	assert_int_equal(hashdb_count(db), 0);
	hashdb_free(db);
}

static void
test_malformed_lines_name_their_line(void **state)
{
	(void)state;
	expect_error(EICAR_MD5 ":68:ok\nzz:1:bad\n", "a.hdb", "a.hdb:2:");
	expect_error(EICAR_MD5 ":68\n", "a.hdb", "a.hdb:1: expected");
	expect_error("44d88612fea8a8f36de82e1278abb0zz:68:X\n", "a.hdb",
		     "not hexadecimal");
	expect_error(EICAR_SHA256 ":68:X\n", "a.hdb", "must be MD5");
	expect_error(EICAR_MD5 ":-1:X\n", "a.hdb", "size");
	expect_error(EICAR_MD5 ":99999999999999999999999:X\n", "a.hdb", "size");
	expect_error(EICAR_MD5 ":68:\n", "a.hdb", "empty signature name");
	expect_error(EICAR_MD5 ":68:has space\n", "a.hdb", "printable");
	expect_error(EICAR_MD5 ":68:X:1:2:3\n", "a.hdb", "too many fields");
	expect_error(EICAR_MD5 ":68:X:abc\n", "a.hdb", "functionality level");
}

static void
test_nul_byte_and_long_line_rejected(void **state)
{
	struct hashdb *db = hashdb_new();
	char err[256], line[2100];
	const char nul[] = EICAR_MD5 ":68:A\0B\n";

	(void)state;
	assert_int_equal(hashdb_load_buffer(db, nul, sizeof(nul) - 1, "n.hdb",
					    err, sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "NUL"));
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	assert_int_equal(load(db, line, "l.hdb", err), VG_EFORMAT);
	assert_non_null(strstr(err, "too long"));
	hashdb_free(db);
}

static void
test_failed_file_adds_nothing(void **state)
{
	struct hashdb *db = hashdb_new();
	char err[256];

	(void)state;
	assert_int_equal(load(db, EICAR_MD5 ":68:First\n", "a.hdb", err), 0);
	assert_int_equal(load(db, EICAR_MD5 ":1:Second\nbad\n", "b.hdb", err),
			 VG_EFORMAT);
	assert_int_equal(hashdb_count(db), 1);
	hashdb_free(db);
}

static void
test_missing_file_is_io_error(void **state)
{
	struct hashdb *db = hashdb_new();
	char err[256];

	(void)state;
	assert_int_equal(
		hashdb_load_file(db, "/nonexistent/x.hdb", err, sizeof(err)),
		VG_EIO);
	assert_non_null(strstr(err, "/nonexistent/x.hdb"));
	hashdb_free(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdb_md5_line_matches_with_size),
		cmocka_unit_test(test_hsb_sha256_and_wildcard_size),
		cmocka_unit_test(test_malformed_lines_name_their_line),
		cmocka_unit_test(test_nul_byte_and_long_line_rejected),
		cmocka_unit_test(test_failed_file_adds_nothing),
		cmocka_unit_test(test_missing_file_is_io_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
