/*
 * test_handover.c - log key handovers (src/tlog/handover.c): a handover
 * signed by both keys verifies and gives the new key and the tree; one
 * signed by only one of them, by a third key too, of another origin or
 * from another old key, with a line more or changed, or garbage, is
 * refused with its code and a reason.
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
#include "tlog/handover.h"
#include "tlog/note.h"

#define ORIGIN "vigil.example/eu"

static struct note_signer *old_s, *new_s, *third_s;
static struct note_verifier old_k, new_k, third_k;
static uint8_t root[32];

static int
setup_keys(void **state)
{
	(void)state;
	if (note_signer_generate(ORIGIN, NOTE_ED25519, &old_s, NULL, 0) ||
	    note_signer_generate(ORIGIN, NOTE_ED25519, &new_s, NULL, 0) ||
	    note_signer_generate(ORIGIN, NOTE_ED25519, &third_s, NULL, 0))
		return -1;
	note_signer_verifier(old_s, &old_k);
	note_signer_verifier(new_s, &new_k);
	note_signer_verifier(third_s, &third_k);
	for (int i = 0; i < 32; i++)
		root[i] = (uint8_t)(i * 7 + 1);
	return 0;
}

static int
teardown_keys(void **state)
{
	(void)state;
	note_signer_free(old_s);
	note_signer_free(new_s);
	note_signer_free(third_s);
	return 0;
}

/* Signs text with the n signers; the caller frees the note. */
static char *
sign(const char *text, const struct note_signer *const *s, size_t n)
{
	char *out = NULL, err[256];
	size_t len;

	if (note_sign(text, strlen(text), s, n, 0, &out, &len, err,
		      sizeof(err)) != 0)
		fail_msg("note_sign: %s", err);
	return out;
}

/* The text of the handover from old_k to new_k at size 5. */
static char *
text_of(void)
{
	char *t = NULL, err[256];
	size_t len;

	if (tlog_handover_format(ORIGIN, &old_k, &new_k, 5, root, &t, &len, err,
				 sizeof(err)) != 0)
		fail_msg("format: %s", err);
	assert_int_equal(strlen(t), len);
	return t;
}

/* Verifies note against ORIGIN and old_k, expecting code want and, if
 * given, msg in the reason. */
static void
expect(const char *note, int want, const char *msg)
{
	struct note_verifier got = {0};
	uint64_t size = 0;
	uint8_t r[32] = {0};
	char err[512] = "";
	int rc;

	rc = tlog_handover_verify(note, strlen(note), ORIGIN, &old_k, &got,
				  &size, r, err, sizeof(err));
	if (rc != want)
		fail_msg("verify: %s (%d), want %s: %s", vg_strerror(rc), rc,
			 vg_strerror(want), err);
	if (want == 0) {
		assert_int_equal(size, 5);
		assert_memory_equal(r, root, 32);
		assert_memory_equal(&got, &new_k, sizeof(got));
	} else {
		assert_true(err[0] != '\0');
		if (msg != NULL && strstr(err, msg) == NULL)
			fail_msg("reason \"%s\" lacks \"%s\"", err, msg);
	}
}

static void
test_a_handover_signed_by_both_keys_verifies(void **state)
{
	const struct note_signer *both[] = {old_s, new_s},
				 *rev[] = {new_s, old_s};
	char *t = text_of(), *n1 = sign(t, both, 2), *n2 = sign(t, rev, 2);
	char okey[NOTE_KEY_MAX], want[1024];

	(void)state;
	note_verifier_format(&old_k, okey);
	snprintf(want, sizeof(want),
		 "vigil log key handover\norigin " ORIGIN "\nold %s\n", okey);
	assert_memory_equal(t, want, strlen(want));
	expect(n1, 0, NULL);
	expect(n2, 0, NULL); /* the order of the signatures is free */
	free(t);
	free(n1);
	free(n2);
}

static void
test_a_handover_signed_by_one_key_is_refused(void **state)
{
	const struct note_signer *o[] = {old_s}, *n[] = {new_s},
				 *o3[] = {old_s, third_s},
				 *all[] = {old_s, new_s, third_s};
	char *t = text_of(), *a = sign(t, o, 1), *b = sign(t, n, 1),
	     *c = sign(t, o3, 2), *d = sign(t, all, 3);

	(void)state;
	expect(a, VG_EVERIFY, "two signatures");
	expect(b, VG_EVERIFY, "two signatures");
	expect(c, VG_EVERIFY, "but not by the new key");
	expect(d, VG_EVERIFY, "not 3");
	free(t);
	free(a);
	free(b);
	free(c);
	free(d);
}

static void
test_a_handover_with_a_bad_signature_is_refused(void **state)
{
	const struct note_signer *both[] = {old_s, new_s};
	char *t = text_of(), *n = sign(t, both, 2), *sig;

	(void)state;
	/* Change a base64 digit inside the last signature. */
	sig = strrchr(n, ' ');
	assert_non_null(sig);
	sig[20] = sig[20] == 'A' ? 'B' : 'A';
	expect(n, VG_EVERIFY, "do not verify");
	free(t);
	free(n);
}

static void
test_a_handover_of_another_origin_or_old_key_is_refused(void **state)
{
	const struct note_signer *both[] = {old_s, new_s},
				 *tn[] = {third_s, new_s};
	char *t = NULL, *n, err[256];
	size_t len;

	(void)state;
	assert_int_equal(tlog_handover_format("vigil.example/us", &old_k,
					      &new_k, 5, root, &t, &len, err,
					      sizeof(err)),
			 0);
	n = sign(t, both, 2);
	expect(n, VG_EVERIFY, "vigil.example/us");
	free(t);
	free(n);
	assert_int_equal(tlog_handover_format(ORIGIN, &third_k, &new_k, 5, root,
					      &t, &len, err, sizeof(err)),
			 0);
	n = sign(t, tn, 2);
	expect(n, VG_EVERIFY, "not from");
	free(t);
	free(n);
	/* To the same key: refused at both ends. */
	assert_int_equal(tlog_handover_format(ORIGIN, &old_k, &old_k, 5, root,
					      &t, &len, err, sizeof(err)),
			 VG_EINVAL);
}

/* Signs the handover text with one line replaced (or added, or
 * dropped) and expects it refused as malformed. */
static void
expect_text_refused(const char *text)
{
	const struct note_signer *both[] = {old_s, new_s};
	char *n = sign(text, both, 2);

	expect(n, VG_EFORMAT, NULL);
	free(n);
}

static void
test_a_handover_with_other_lines_is_refused(void **state)
{
	char *t = text_of(), buf[2048], *tree;
	size_t head;

	(void)state;
	/* A line more, at the end and at the start. */
	snprintf(buf, sizeof(buf), "%sextension\n", t);
	expect_text_refused(buf);
	snprintf(buf, sizeof(buf), "note\n%s", t);
	expect_text_refused(buf);
	/* A line fewer. */
	tree = strstr(t, "tree ");
	assert_non_null(tree);
	head = (size_t)(tree - t);
	snprintf(buf, sizeof(buf), "%.*s", (int)head, t);
	expect_text_refused(buf);
	/* Changed lines: the header, spaces, the size, the root. */
	snprintf(buf, sizeof(buf), "Vigil%s", t + 5);
	expect_text_refused(buf);
	snprintf(buf, sizeof(buf), "%.*stree 05 %s", (int)head, t,
		 strchr(tree + 5, ' ') + 1);
	expect_text_refused(buf);
	snprintf(buf, sizeof(buf), "%.*stree  5 %s", (int)head, t,
		 strchr(tree + 5, ' ') + 1);
	expect_text_refused(buf);
	snprintf(buf, sizeof(buf), "%.*stree 5 AAAA\n", (int)head, t);
	expect_text_refused(buf);
	snprintf(buf, sizeof(buf), "%.*stree 5\n", (int)head, t);
	expect_text_refused(buf);
	/* The new key not a key. */
	{
		char *nl = strstr(t, "\nnew ");

		assert_non_null(nl);
		snprintf(buf, sizeof(buf), "%.*s\nnew %s+00000000+AAAA\n%s",
			 (int)(nl - t), t, ORIGIN, tree);
		expect_text_refused(buf);
	}
	free(t);
}

static void
test_garbage_is_refused(void **state)
{
	static const char *const junk[] = {
		"",
		"\n",
		"vigil log key handover\n",
		"vigil log key handover\n\n\xe2\x80\x94 x AAAA\n",
		"\xff\xfe garbage\n\n",
	};
	struct note_verifier got;
	uint64_t size;
	uint8_t r[32];
	char err[256], *big;

	(void)state;
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		err[0] = '\0';
		assert_int_not_equal(
			tlog_handover_verify(junk[i], strlen(junk[i]), ORIGIN,
					     &old_k, &got, &size, r, err,
					     sizeof(err)),
			0);
		assert_true(err[0] != '\0');
	}
	big = calloc(1, TLOG_HANDOVER_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', TLOG_HANDOVER_MAX + 1);
	assert_int_equal(tlog_handover_verify(big, TLOG_HANDOVER_MAX + 1,
					      ORIGIN, &old_k, &got, &size, r,
					      err, sizeof(err)),
			 VG_ELIMIT);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_handover_signed_by_both_keys_verifies),
		cmocka_unit_test(test_a_handover_signed_by_one_key_is_refused),
		cmocka_unit_test(
			test_a_handover_with_a_bad_signature_is_refused),
		cmocka_unit_test(
			test_a_handover_of_another_origin_or_old_key_is_refused),
		cmocka_unit_test(test_a_handover_with_other_lines_is_refused),
		cmocka_unit_test(test_garbage_is_refused),
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
