/*
 * test_checkpoint.c - tlog-checkpoint texts (src/tlog/checkpoint.c): the
 * spec's example, round trips with and without extension lines, a table
 * of malformed texts each refused with its message, the formatter's
 * refusals, and checkpoint_open() with a log key, witnesses and a quorum.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "tlog/checkpoint.h"
#include "tlog/note.h"

#define ROOT_B64 "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
/* tlog-checkpoint.md's example. */
#define EXAMPLE                                                                \
	"example.com/behind-the-sofa\n"                                        \
	"20852163\n" ROOT_B64 "\n"
#define EXAMPLE_SIGNED                                                         \
	EXAMPLE "\n"                                                           \
		"\xe2\x80\x94 example.com/behind-the-sofa Az3grlgtzPICa5OS8np" \
		"Vmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zy"  \
		"WE+xeMcTOAYQ8=\n"

static const uint8_t example_root[32] = {
	0x0a, 0xc5, 0x18, 0x6a, 0x91, 0x86, 0x3e, 0x8e, 0x1d, 0x90, 0xc8,
	0x08, 0x01, 0x4a, 0xa8, 0x9b, 0xf5, 0xda, 0x8e, 0x3e, 0xe1, 0xd9,
	0xf0, 0x76, 0x30, 0xf0, 0x37, 0x8f, 0x68, 0xf1, 0xab, 0x62,
};

static void
round_trip(const char *text, const char *origin, uint64_t size, const char *ext)
{
	struct checkpoint c;
	char err[256], *out;
	size_t len;

	if (checkpoint_parse(text, strlen(text), &c, err, sizeof(err)) != 0)
		fail_msg("checkpoint_parse: %s", err);
	assert_string_equal(c.origin, origin);
	assert_true(c.size == size);
	assert_string_equal(c.extensions, ext);
	assert_int_equal(c.extensions_len, strlen(ext));
	assert_int_equal(checkpoint_format(c.origin, c.size, &c.root,
					   c.extensions, &out, &len, err,
					   sizeof(err)),
			 0);
	assert_string_equal(out, text);
	assert_int_equal(len, strlen(text));
	free(out);
	checkpoint_clear(&c);
	checkpoint_clear(&c); /* a cleared struct clears again */
}

static void
test_spec_example_parses_and_formats_back(void **state)
{
	struct checkpoint c;
	char err[256];

	(void)state;
	assert_int_equal(checkpoint_parse(EXAMPLE, strlen(EXAMPLE), &c, err,
					  sizeof(err)),
			 0);
	assert_string_equal(c.origin, "example.com/behind-the-sofa");
	assert_true(c.size == 20852163);
	assert_memory_equal(c.root.b, example_root, 32);
	assert_int_equal(c.extensions_len, 0);
	checkpoint_clear(&c);
	round_trip(EXAMPLE, "example.com/behind-the-sofa", 20852163, "");
}

static void
test_round_trips(void **state)
{
	(void)state;
	round_trip("o\n0\n" ROOT_B64 "\n", "o", 0, "");
	round_trip("o\n18446744073709551615\n" ROOT_B64 "\n", "o", UINT64_MAX,
		   "");
	round_trip("example.com/log\n5\n" ROOT_B64 "\nfirst\nsecond one\n",
		   "example.com/log", 5, "first\nsecond one\n");
	/* The origin is opaque: spaces, '+' and other scripts are kept. */
	round_trip("a log + \xe2\x80\x94 \xc3\xa8\n7\n" ROOT_B64 "\n",
		   "a log + \xe2\x80\x94 \xc3\xa8", 7, "");
	/* An extension line may look like anything but an empty line. */
	round_trip("o\n1\n" ROOT_B64 "\n\xe2\x80\x94 x y\n", "o", 1,
		   "\xe2\x80\x94 x y\n");
}

static void
test_bad_checkpoints_are_refused(void **state)
{
	static const struct {
		const char *text;
		const char *why;
	} bad[] = {
		{"", "does not end in a newline"},
		{"o\n5\n" ROOT_B64, "does not end in a newline"},
		{"o\n5\n" ROOT_B64 "\next", "does not end in a newline"},
		{"o\n", "has 1 lines, needs 3"},
		{"o\n5\n", "has 2 lines, needs 3"},
		{"\n5\n" ROOT_B64 "\n", "empty origin line"},
		{"\n\n\n", "empty origin line"},
		{"o\n\n" ROOT_B64 "\n", "tree size"},
		{"o\n05\n" ROOT_B64 "\n", "tree size"},
		{"o\n00\n" ROOT_B64 "\n", "tree size"},
		{"o\n-5\n" ROOT_B64 "\n", "tree size"},
		{"o\n+5\n" ROOT_B64 "\n", "tree size"},
		{"o\n 5\n" ROOT_B64 "\n", "tree size"},
		{"o\n5 \n" ROOT_B64 "\n", "tree size"},
		{"o\n0x5\n" ROOT_B64 "\n", "tree size"},
		{"o\n5.0\n" ROOT_B64 "\n", "tree size"},
		{"o\n1e3\n" ROOT_B64 "\n", "tree size"},
		{"o\n18446744073709551616\n" ROOT_B64 "\n", "tree size"},
		{"o\n99999999999999999999\n" ROOT_B64 "\n", "tree size"},
		{"o\n5\n\n", "root hash"},
		{"o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
		 "root hash"}, /* no padding */
		{"o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",
		 "root hash"}, /* spare bits */
		{"o\n5\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n",
		 "root hash"}, /* base64url */
		{"o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx\n",
		 "root hash"}, /* 30 bytes */
		{"o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2IA\n",
		 "root hash"}, /* 33 bytes */
		{"o\n5\n " ROOT_B64 "\n", "root hash"},
		{"o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj\xc9\x9d"
		 "2fB2MPA3j2jxq2I=\n",
		 "root hash"}, /* a fuzzer's find: U+025D as '/' '/' */
		{"o\n5\n" ROOT_B64 "\n\n", "empty extension line"},
		{"o\n5\n" ROOT_B64 "\nx\n\n", "empty extension line"},
		{"o\n5\n" ROOT_B64 "\nx\n\ny\n", "empty extension line"},
		{"o\r\n5\n" ROOT_B64 "\n", "byte 1"},
		{"o\t\n5\n" ROOT_B64 "\n", "byte 1"},
		{"o\xff\n5\n" ROOT_B64 "\n", "byte 1"},
		{"o\n5\n" ROOT_B64 "\n\x7f\x01\n", "byte 50"},
	};
	struct checkpoint c;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (checkpoint_parse(bad[i].text, strlen(bad[i].text), &c, err,
				     sizeof(err)) != VG_EFORMAT)
			fail_msg("bad checkpoint %zu accepted", i);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("bad checkpoint %zu: message \"%s\" lacks "
				 "\"%s\"",
				 i, err, bad[i].why);
	}
	/* An embedded NUL, and a text above the limit. */
	assert_int_equal(
		checkpoint_parse("o\0\n5\n" ROOT_B64 "\n", 50, &c, err, 256),
		VG_EFORMAT);
	{
		char *big = malloc(CHECKPOINT_MAX_TEXT + 1);

		assert_non_null(big);
		memset(big, 'x', CHECKPOINT_MAX_TEXT + 1);
		assert_int_equal(checkpoint_parse(big, CHECKPOINT_MAX_TEXT + 1,
						  &c, err, 256),
				 VG_ELIMIT);
		free(big);
	}
}

static void
test_format_refuses_what_would_not_parse(void **state)
{
	static const struct {
		const char *origin, *ext;
	} bad[] = {
		{"", NULL},      {"a\nb", NULL},      {"a\tb", NULL},
		{"a\xff", NULL}, {"o", "no newline"}, {"o", "\n"},
		{"o", "\nx\n"},  {"o", "x\n\ny\n"},   {"o", "x\r\n"},
	};
	struct merkle_hash root = {{0}};
	char err[256], *out;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(checkpoint_format(bad[i].origin, 1, &root,
						   bad[i].ext, &out, &len, err,
						   sizeof(err)),
				 VG_EINVAL);
	assert_int_equal(checkpoint_format("o", 1, &root, NULL, &out, &len, err,
					   sizeof(err)),
			 0);
	assert_string_equal(out,
			    "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
			    "\n");
	free(out);
}

/* --- opening signed checkpoints ------------------------------------------ */

struct keys {
	struct note_signer *log, *w[3];
	struct note_verifier vlog, vw[3];
};

static int
setup_keys(void **state)
{
	struct keys *k = calloc(1, sizeof(*k));
	char name[32];

	if (k == NULL || note_signer_generate("example.com/log", NOTE_ED25519,
					      &k->log, NULL, 0) != 0)
		return -1;
	note_signer_verifier(k->log, &k->vlog);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "witness%d.example", i);
		if (note_signer_generate(name, NOTE_COSIGNATURE, &k->w[i], NULL,
					 0) != 0)
			return -1;
		note_signer_verifier(k->w[i], &k->vw[i]);
	}
	*state = k;
	return 0;
}

static int
teardown_keys(void **state)
{
	struct keys *k = *state;

	note_signer_free(k->log);
	for (int i = 0; i < 3; i++)
		note_signer_free(k->w[i]);
	free(k);
	return 0;
}

static char *
sign(const char *text, const struct note_signer *const *s, size_t n)
{
	char err[256], *out;
	size_t len;

	if (note_sign(text, strlen(text), s, n, 1700000000, &out, &len, err,
		      sizeof(err)) != 0)
		fail_msg("note_sign: %s", err);
	return out;
}

static int
open_cp(const char *msg, const char *origin, const struct keys *k,
	size_t quorum, char *err)
{
	struct checkpoint c;
	int rc = checkpoint_open(msg, strlen(msg), origin, &k->vlog, k->vw, 3,
				 quorum, &c, err, 256);

	if (rc == 0) {
		assert_true(c.size == 20852163);
		checkpoint_clear(&c);
	}
	return rc;
}

static void
test_open_requires_the_log_the_quorum_and_the_origin(void **state)
{
	struct keys *k = *state;
	const struct note_signer *log_w01[3] = {k->log, k->w[0], k->w[1]};
	const struct note_signer *w012[3] = {k->w[0], k->w[1], k->w[2]};
	const char *text = "example.com/log\n20852163\n" ROOT_B64 "\n";
	char err[256], *msg;

	msg = sign(text, log_w01, 3);
	assert_int_equal(open_cp(msg, "example.com/log", k, 0, err), 0);
	assert_int_equal(open_cp(msg, "example.com/log", k, 2, err), 0);
	assert_int_equal(open_cp(msg, "example.com/log", k, 3, err),
			 VG_EVERIFY);
	assert_non_null(strstr(err, "2 witness cosignatures verify, 3 needed"));
	assert_int_equal(open_cp(msg, "example.com/other", k, 0, err),
			 VG_EVERIFY);
	assert_non_null(strstr(err, "another log"));
	/* A byte changed in the signed text. */
	msg[strlen("example.com/log\n2")] = '9';
	assert_int_equal(open_cp(msg, "example.com/log", k, 0, err),
			 VG_EVERIFY);
	free(msg);

	/* Witnesses alone are not the log. */
	msg = sign(text, w012, 3);
	assert_int_equal(open_cp(msg, "example.com/log", k, 0, err),
			 VG_EVERIFY);
	assert_non_null(strstr(err, "not signed by the log"));
	free(msg);

	/* Signed, but not a checkpoint. */
	msg = sign("hello\n", log_w01, 1);
	assert_int_equal(open_cp(msg, "example.com/log", k, 0, err),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "needs 3"));
	free(msg);

	/* The spec's example: by a key nobody here knows. */
	assert_int_equal(open_cp(EXAMPLE_SIGNED, "example.com/behind-the-sofa",
				 k, 0, err),
			 VG_EVERIFY);
	assert_non_null(strstr(err, "no signature by a known key"));
	/* Not a signed note at all. */
	assert_int_equal(
		open_cp(EXAMPLE, "example.com/behind-the-sofa", k, 0, err),
		VG_EFORMAT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example_parses_and_formats_back),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_bad_checkpoints_are_refused),
		cmocka_unit_test(test_format_refuses_what_would_not_parse),
		cmocka_unit_test_setup_teardown(
			test_open_requires_the_log_the_quorum_and_the_origin,
			setup_keys, teardown_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
