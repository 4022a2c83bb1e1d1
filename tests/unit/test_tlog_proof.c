/*
 * test_tlog_proof.c - tlog-proof texts (src/tlog/proof.c): the spec's
 * example (whose signatures are elided, so its checkpoint is replaced by a
 * signed one), an end-to-end proof over a real tree that verifies and is
 * refused once anything in it is changed, and a table of malformed texts
 * each refused with its message.
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
#include "tlog/merkle.h"
#include "tlog/note.h"
#include "tlog/proof.h"

/* tlog-proof.md's example, up to its checkpoint. */
#define SPEC_HEAD                                                              \
	"c2sp.org/tlog-proof@v1\n"                                             \
	"extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"         \
	"index 73894\n"                                                        \
	"gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"                       \
	"B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"                       \
	"EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"                       \
	"RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"                       \
	"AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"                       \
	"\n"
#define SPEC_CHECKPOINT                                                        \
	"example.com/fancylog\n"                                               \
	"109482\n"                                                             \
	"sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
#define SPEC_SIGS                                                              \
	"\n"                                                                   \
	"\xe2\x80\x94 example.com/fancylog hI2DJw[...]1roloI=\n"               \
	"\xe2\x80\x94 witness1.example mJirIklj[...]qY9v2B/5bg==\n"            \
	"\xe2\x80\x94 witness2.example TnKKVHLX[...]xwYwrSjgow==\n"            \
	"\xe2\x80\x94 witness3.example S4X82uH5[...]3oEcROGLFQ==\n"

#define LEAVES 1000

struct fx {
	struct note_signer *log, *wit;
	struct note_verifier vlog, vwit;
	struct merkle_hash leaves[LEAVES], root;
	char *checkpoint; /* signed, of the whole tree */
};

static int
mem_read(void *ctx, unsigned level, uint64_t index, struct merkle_hash *out)
{
	const struct fx *f = ctx;

	return merkle_root(f->leaves + (index << level), (uint64_t)1 << level,
			   out);
}

static char *
sign(const struct fx *f, const char *text)
{
	const struct note_signer *s[2] = {f->log, f->wit};
	char *out;
	size_t len;

	if (note_sign(text, strlen(text), s, 2, 1700000000, &out, &len, NULL,
		      0) != 0)
		return NULL;
	return out;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *text;
	size_t len;

	if (f == NULL ||
	    note_signer_generate("example.com/log", NOTE_ED25519, &f->log, NULL,
				 0) != 0 ||
	    note_signer_generate("witness.example/w", NOTE_COSIGNATURE, &f->wit,
				 NULL, 0) != 0)
		return -1;
	note_signer_verifier(f->log, &f->vlog);
	note_signer_verifier(f->wit, &f->vwit);
	for (int i = 0; i < LEAVES; i++) {
		char e[32];
		int n = snprintf(e, sizeof(e), "release %d", i);

		if (merkle_hash_leaf(e, (size_t)n, &f->leaves[i]) != 0)
			return -1;
	}
	if (merkle_root(f->leaves, LEAVES, &f->root) != 0 ||
	    checkpoint_format("example.com/log", LEAVES, &f->root, NULL, &text,
			      &len, NULL, 0) != 0)
		return -1;
	f->checkpoint = sign(f, text);
	free(text);
	*state = f;
	return f->checkpoint == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	note_signer_free(f->log);
	note_signer_free(f->wit);
	free(f->checkpoint);
	free(f);
	return 0;
}

static void
test_spec_example_with_a_signed_checkpoint(void **state)
{
	struct fx *f = *state;
	char *cp = sign(f, SPEC_CHECKPOINT), *text, *out, err[256];
	struct tlog_proof p;
	size_t len;

	assert_non_null(cp);
	text = malloc(strlen(SPEC_HEAD) + strlen(cp) + 1);
	assert_non_null(text);
	strcpy(text, SPEC_HEAD);
	strcat(text, cp);
	assert_int_equal(tlog_proof_parse(text, strlen(text), &p, err, 256), 0);
	assert_int_equal(p.extra_len, 39);
	assert_memory_equal(p.extra, "age-v1.2.1-darwin-arm64.tar.gz", 30);
	assert_true(p.index == 73894);
	assert_int_equal(p.path_len, 5);
	assert_int_equal(p.path[4].b[0], 0x00);
	assert_int_equal(p.path[4].b[1], 0x70);
	assert_string_equal(p.checkpoint, cp);
	assert_int_equal(tlog_proof_format(&p, &out, &len, err, 256), 0);
	assert_string_equal(out, text);
	assert_int_equal(len, strlen(text));
	free(out);
	tlog_proof_clear(&p);
	tlog_proof_clear(&p);
	free(text);
	free(cp);

	/* As printed, with "[...]" for most of each signature, it is not a
	 * valid proof. */
	assert_int_equal(
		tlog_proof_parse(SPEC_HEAD SPEC_CHECKPOINT SPEC_SIGS,
				 strlen(SPEC_HEAD SPEC_CHECKPOINT SPEC_SIGS),
				 &p, err, 256),
		VG_EFORMAT);
	assert_non_null(strstr(err, "checkpoint: signature line 1: signature "
				    "is not valid base64"));
}

static struct tlog_proof
make_proof(const struct fx *f, uint64_t index, const char *extra)
{
	struct merkle_reader r = {mem_read, (void *)f};
	struct tlog_proof p;
	char err[256];

	memset(&p, 0, sizeof(p));
	p.index = index;
	if (extra != NULL) {
		p.extra = (uint8_t *)strdup(extra);
		p.extra_len = strlen(extra);
	}
	assert_int_equal(merkle_prove_inclusion(&r, index, LEAVES, p.path,
						&p.path_len, err, 256),
			 0);
	p.checkpoint = strdup(f->checkpoint);
	p.checkpoint_len = strlen(f->checkpoint);
	return p;
}

static int
verify(const struct fx *f, const char *text, uint64_t leaf, size_t quorum,
       char *err)
{
	struct tlog_proof p;
	struct checkpoint c;
	int rc;

	rc = tlog_proof_parse(text, strlen(text), &p, err, 256);
	if (rc != 0)
		return rc;
	rc = tlog_proof_verify(&p, &f->leaves[leaf], "example.com/log",
			       &f->vlog, &f->vwit, 1, quorum, &c, err, 256);
	if (rc == 0) {
		assert_true(c.size == LEAVES);
		assert_memory_equal(c.root.b, f->root.b, 32);
		checkpoint_clear(&c);
	}
	tlog_proof_clear(&p);
	return rc;
}

static void
test_end_to_end_proof_verifies_and_tampering_is_caught(void **state)
{
	struct fx *f = *state;
	struct tlog_proof p = make_proof(f, 123, NULL);
	char err[256], *text, *nl;
	size_t len;

	assert_int_equal(tlog_proof_format(&p, &text, &len, err, 256), 0);
	tlog_proof_clear(&p);
	/* No extra data: no extra line. */
	assert_non_null(strstr(text, "c2sp.org/tlog-proof@v1\nindex 123\n"));
	assert_int_equal(verify(f, text, 123, 1, err), 0);
	/* The wrong entry, too many witnesses asked for. */
	assert_int_equal(verify(f, text, 124, 1, err), VG_EVERIFY);
	assert_non_null(strstr(err, "does not lead to the root"));
	assert_int_equal(verify(f, text, 123, 2, err), VG_EVERIFY);
	/* Another index. */
	text[strlen("c2sp.org/tlog-proof@v1\nindex 12")] = '4';
	assert_int_equal(verify(f, text, 123, 1, err), VG_EVERIFY);
	text[strlen("c2sp.org/tlog-proof@v1\nindex 12")] = '3';
	/* A hash changed: 'A' <-> 'B' in the first hash line's first
	 * character. */
	nl = strstr(text, "index 123\n") + strlen("index 123\n");
	*nl = *nl == 'A' ? 'B' : 'A';
	assert_int_equal(verify(f, text, 123, 1, err), VG_EVERIFY);
	free(text);

	/* With extra data, at the last index. */
	p = make_proof(f, LEAVES - 1, "vrf proof");
	assert_int_equal(tlog_proof_format(&p, &text, &len, err, 256), 0);
	tlog_proof_clear(&p);
	assert_non_null(strstr(text, "\nextra dnJmIHByb29m\nindex 999\n"));
	assert_int_equal(verify(f, text, LEAVES - 1, 1, err), 0);
	free(text);

	/* An index beyond the checkpoint. */
	p = make_proof(f, 5, NULL);
	p.index = LEAVES;
	assert_int_equal(tlog_proof_format(&p, &text, &len, err, 256), 0);
	tlog_proof_clear(&p);
	assert_int_equal(verify(f, text, 5, 1, err), VG_EINVAL);
	free(text);
}

static void
test_bad_proofs_are_refused(void **state)
{
	static const struct {
		const char *head;
		int code;
		const char *why;
		int with_checkpoint; /* append the signed checkpoint */
	} bad[] = {
		{"", VG_EFORMAT, "line 1 is not", 1},
		{"c2sp.org/tlog-proof@v2\nindex 0\n\n", VG_EFORMAT,
		 "line 1 is not", 1},
		{"c2sp.org/tlog-proof@v1 \nindex 0\n\n", VG_EFORMAT,
		 "line 1 is not", 1},
		{"\nc2sp.org/tlog-proof@v1\nindex 0\n\n", VG_EFORMAT,
		 "line 1 is not", 1},
		{"c2sp.org/tlog-proof@v1\n", VG_EFORMAT, "line 2 is not", 1},
		{"c2sp.org/tlog-proof@v1\nextra \nindex 0\n\n", VG_EFORMAT,
		 "extra is not the base64", 1},
		{"c2sp.org/tlog-proof@v1\nextra AAA\nindex 0\n\n", VG_EFORMAT,
		 "extra is not the base64", 1},
		{"c2sp.org/tlog-proof@v1\nextra AB==\nindex 0\n\n", VG_EFORMAT,
		 "extra is not the base64", 1}, /* spare bits */
		{"c2sp.org/tlog-proof@v1\nextra  AA==\nindex 0\n\n", VG_EFORMAT,
		 "extra is not the base64", 1},
		{"c2sp.org/tlog-proof@v1\nextra AA==\nextra AA==\nindex 0\n\n",
		 VG_EFORMAT, "line 3 is not \"index\"", 1},
		{"c2sp.org/tlog-proof@v1\nextraAA==\nindex 0\n\n", VG_EFORMAT,
		 "line 2 is not \"index\"", 1},
		{"c2sp.org/tlog-proof@v1\nindex 01\n\n", VG_EFORMAT,
		 "line 2 is not \"index\"", 1},
		{"c2sp.org/tlog-proof@v1\nindex -1\n\n", VG_EFORMAT,
		 "line 2 is not \"index\"", 1},
		{"c2sp.org/tlog-proof@v1\nindex \n\n", VG_EFORMAT,
		 "line 2 is not \"index\"", 1},
		{"c2sp.org/tlog-proof@v1\nindex  1\n\n", VG_EFORMAT,
		 "line 2 is not \"index\"", 1},
		{"c2sp.org/tlog-proof@v1\nindex 1 \n\n", VG_EFORMAT,
		 "line 2 is not \"index\"", 1},
		{"c2sp.org/tlog-proof@v1\nIndex 1\n\n", VG_EFORMAT,
		 "line 2 is not \"index\"", 1},
		{"c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\n",
		 VG_EFORMAT, "line 2 is not \"index\"", 1},
		{"c2sp.org/tlog-proof@v1\nindex 1\nextra AA==\n\n", VG_EFORMAT,
		 "line 3 is not the base64 of a 32-byte hash", 1},
		{"c2sp.org/tlog-proof@v1\nindex 1\n"
		 "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPl==\n\n",
		 VG_EFORMAT, "line 3 is not the base64", 1}, /* 31 bytes */
		{"c2sp.org/tlog-proof@v1\nindex 1\n"
		 "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ\n\n",
		 VG_EFORMAT, "line 3 is not the base64", 1}, /* no padding */
		{"c2sp.org/tlog-proof@v1\nindex 1\n"
		 "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdP\xc3\xa9=\n\n",
		 VG_EFORMAT, "line 3 is not the base64", 1}, /* not ASCII */
		{"c2sp.org/tlog-proof@v1\nindex 1\n"
		 "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n",
		 VG_EFORMAT, "proof ends after line 3", 0},
		{"c2sp.org/tlog-proof@v1\nindex 1\n\n", VG_EFORMAT,
		 "checkpoint: note does not end in a newline", 0},
		{"c2sp.org/tlog-proof@v1\nindex 1\n\n\n", VG_EFORMAT,
		 "checkpoint: empty origin line", 1},
		{"c2sp.org/tlog-proof@v1\nindex 1\n\nhello\n\n", VG_EFORMAT,
		 "checkpoint: note has no signature lines", 0},
	};
	struct fx *f = *state;
	struct tlog_proof p;
	char err[256], *text;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len;

		text = malloc(strlen(bad[i].head) + strlen(f->checkpoint) + 1);
		assert_non_null(text);
		strcpy(text, bad[i].head);
		if (bad[i].with_checkpoint)
			strcat(text, f->checkpoint);
		len = strlen(text);
		err[0] = '\0';
		if (tlog_proof_parse(text, len, &p, err, sizeof(err)) !=
		    bad[i].code)
			fail_msg("bad proof %zu: not refused with %d (%s)", i,
				 bad[i].code, err);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("bad proof %zu: message \"%s\" lacks \"%s\"",
				 i, err, bad[i].why);
		free(text);
	}
	/* 64 hashes are the most a proof can need; 65 are refused. */
	text = malloc(100 + 65 * 45 + strlen(f->checkpoint));
	assert_non_null(text);
	strcpy(text, "c2sp.org/tlog-proof@v1\nindex 1\n");
	for (int i = 0; i < 64; i++)
		strcat(text, "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n");
	strcat(text, "\n");
	strcat(text, f->checkpoint);
	assert_int_equal(tlog_proof_parse(text, strlen(text), &p, err, 256), 0);
	assert_int_equal(p.path_len, 64);
	tlog_proof_clear(&p);
	strcpy(strstr(text, "\n\n") + 1,
	       "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n\n");
	strcat(text, f->checkpoint);
	assert_int_equal(tlog_proof_parse(text, strlen(text), &p, err, 256),
			 VG_ELIMIT);
	free(text);
}

static void
test_format_refuses_what_would_not_parse(void **state)
{
	struct fx *f = *state;
	struct tlog_proof p = make_proof(f, 1, NULL);
	char err[256], *out;
	size_t len;

	p.extra = (uint8_t *)strdup("");
	p.extra_len = 0;
	assert_int_equal(tlog_proof_format(&p, &out, &len, err, 256),
			 VG_EINVAL);
	free(p.extra);
	p.extra = NULL;
	p.path_len = TLOG_PROOF_PATH_MAX + 1;
	assert_int_equal(tlog_proof_format(&p, &out, &len, err, 256),
			 VG_EINVAL);
	p.path_len = 1;
	p.checkpoint_len = 10;
	assert_int_equal(tlog_proof_format(&p, &out, &len, err, 256),
			 VG_EINVAL);
	assert_non_null(strstr(err, "checkpoint:"));
	tlog_proof_clear(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example_with_a_signed_checkpoint),
		cmocka_unit_test(
			test_end_to_end_proof_verifies_and_tampering_is_caught),
		cmocka_unit_test(test_bad_proofs_are_refused),
		cmocka_unit_test(test_format_refuses_what_would_not_parse),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
