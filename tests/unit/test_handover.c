/*
 * test_handover.c - the log key handover note (src/tlog/handover.c): a
 * note signed by both keys verifies and gives the new key and the tree;
 * one signed by either key alone, by another key, for another origin or
 * old key, or with any byte of its text changed, is refused.
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

#define ORIGIN "vigil.local/eu/0123456789abcdef"

struct keys {
	struct note_signer *old, *new, *other;
	struct note_verifier vold, vnew;
	uint8_t root[32];
	char text[HANDOVER_TEXT_MAX];
	size_t len;
};

static void
make_keys(struct keys *k)
{
	char err[256];

	memset(k, 0, sizeof(*k));
	assert_int_equal(note_signer_generate(ORIGIN, NOTE_ED25519, &k->old,
					      err, sizeof(err)),
			 0);
	assert_int_equal(note_signer_generate(ORIGIN, NOTE_ED25519, &k->new,
					      err, sizeof(err)),
			 0);
	assert_int_equal(note_signer_generate(ORIGIN, NOTE_ED25519, &k->other,
					      err, sizeof(err)),
			 0);
	note_signer_verifier(k->old, &k->vold);
	note_signer_verifier(k->new, &k->vnew);
	memset(k->root, 0xa5, sizeof(k->root));
	assert_int_equal(tlog_handover_text(ORIGIN, &k->vold, &k->vnew, 42,
					    k->root, k->text, &k->len, err,
					    sizeof(err)),
			 0);
}

static void
free_keys(struct keys *k)
{
	note_signer_free(k->old);
	note_signer_free(k->new);
	note_signer_free(k->other);
}

/* Signs text with the n signers; the caller frees the note. */
static char *
sign(const char *text, size_t len, const struct note_signer *a,
     const struct note_signer *b, size_t *out_len)
{
	const struct note_signer *s[2] = {a, b};
	char err[256], *out = NULL;

	assert_int_equal(note_sign(text, len, s, b ? 2 : 1, 0, &out, out_len,
				   err, sizeof(err)),
			 0);
	return out;
}

static int
verify(const char *note, size_t len, const struct note_verifier *old,
       struct note_verifier *got, uint64_t *size, uint8_t root[32])
{
	char err[256] = "";
	int rc = tlog_handover_verify(note, len, ORIGIN, old, got, size, root,
				      err, sizeof(err));

	if (rc != 0)
		assert_true(err[0] != '\0');
	return rc;
}

static void
test_text_has_the_documented_lines(void **state)
{
	struct keys k;
	char ov[NOTE_KEY_MAX], nv[NOTE_KEY_MAX], want[HANDOVER_TEXT_MAX];

	(void)state;
	make_keys(&k);
	note_verifier_format(&k.vold, ov);
	note_verifier_format(&k.vnew, nv);
	snprintf(want, sizeof(want),
		 "vigil log key handover\norigin %s\nold %s\nnew %s\n"
		 "tree 42 paWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaU=\n",
		 ORIGIN, ov, nv);
	assert_string_equal(k.text, want);
	assert_int_equal(k.len, strlen(want));
	free_keys(&k);
}

static void
test_signed_by_both_keys_verifies(void **state)
{
	struct note_verifier got;
	uint8_t root[32];
	uint64_t size = 0;
	struct keys k;
	size_t len;
	char *note;

	(void)state;
	make_keys(&k);
	/* Either order of the two signature lines, and a third key's
	 * signature besides, which is ignored. */
	note = sign(k.text, k.len, k.old, k.new, &len);
	assert_int_equal(verify(note, len, &k.vold, &got, &size, root), 0);
	assert_int_equal(size, 42);
	assert_memory_equal(root, k.root, 32);
	assert_memory_equal(got.pub, k.vnew.pub, 32);
	assert_int_equal(got.key_id, k.vnew.key_id);
	assert_string_equal(got.name, ORIGIN);
	free(note);
	note = sign(k.text, k.len, k.new, k.old, &len);
	assert_int_equal(verify(note, len, &k.vold, &got, &size, root), 0);
	free(note);
	{
		const struct note_signer *s[3] = {k.other, k.new, k.old};
		char err[256], *out;

		assert_int_equal(note_sign(k.text, k.len, s, 3, 0, &out, &len,
					   err, sizeof(err)),
				 0);
		assert_int_equal(verify(out, len, &k.vold, &got, &size, root),
				 0);
		free(out);
	}
	free_keys(&k);
}

static void
test_signed_by_one_key_alone_is_refused(void **state)
{
	struct note_verifier got;
	uint8_t root[32];
	uint64_t size = 7;
	struct keys k;
	size_t len;
	char *note;

	(void)state;
	make_keys(&k);
	note = sign(k.text, k.len, k.new, NULL, &len);
	assert_int_equal(verify(note, len, &k.vold, &got, &size, root),
			 VG_EVERIFY);
	assert_int_equal(size, 7); /* untouched */
	free(note);
	note = sign(k.text, k.len, k.old, NULL, &len);
	assert_int_equal(verify(note, len, &k.vold, &got, &size, root),
			 VG_EVERIFY);
	free(note);
	/* The old key and a third key named as the new one is not the new
	 * key's signature. */
	note = sign(k.text, k.len, k.old, k.other, &len);
	assert_int_equal(verify(note, len, &k.vold, &got, &size, root),
			 VG_EVERIFY);
	free(note);
	free_keys(&k);
}

static void
test_other_origin_old_key_or_text_is_refused(void **state)
{
	struct note_verifier got, vother;
	char err[256], text[HANDOVER_TEXT_MAX], *note;
	uint8_t root[32];
	uint64_t size;
	struct keys k;
	size_t len;

	(void)state;
	make_keys(&k);
	note = sign(k.text, k.len, k.old, k.new, &len);
	assert_int_equal(tlog_handover_verify(note, len, "vigil.local/eu",
					      &k.vold, &got, &size, root, err,
					      sizeof(err)),
			 VG_EFORMAT);
	note_signer_verifier(k.other, &vother);
	assert_int_equal(verify(note, len, &vother, &got, &size, root),
			 VG_EFORMAT);
	free(note);
	/* Each byte of the text changed (to another printable byte) is
	 * refused, whether both keys sign the changed text or not. */
	for (size_t i = 0; i < k.len; i++) {
		memcpy(text, k.text, k.len);
		if (text[i] == '\n')
			continue;
		text[i] = text[i] == 'A' ? 'B' : 'A';
		note = sign(k.text, k.len, k.old, k.new, &len);
		memcpy(note, text, k.len);
		assert_int_not_equal(
			verify(note, len, &k.vold, &got, &size, root), 0);
		free(note);
	}
	/* Lines added or missing. */
	memcpy(text, k.text, k.len);
	memcpy(text + k.len, "extra\n", 7);
	note = sign(text, k.len + 6, k.old, k.new, &len);
	assert_int_equal(verify(note, len, &k.vold, &got, &size, root),
			 VG_EFORMAT);
	free(note);
	note = sign(k.text, strchr(strstr(k.text, "new "), '\n') - k.text + 1,
		    k.old, k.new, &len);
	assert_int_equal(verify(note, len, &k.vold, &got, &size, root),
			 VG_EFORMAT);
	free(note);
	/* Not a note at all. */
	assert_int_equal(verify(k.text, k.len, &k.vold, &got, &size, root),
			 VG_EFORMAT);
	free_keys(&k);
}

static void
test_same_key_twice_is_no_handover(void **state)
{
	char err[256], text[HANDOVER_TEXT_MAX];
	struct keys k;
	size_t len;

	(void)state;
	make_keys(&k);
	assert_int_equal(tlog_handover_text(ORIGIN, &k.vold, &k.vold, 1, k.root,
					    text, &len, err, sizeof(err)),
			 VG_EINVAL);
	assert_int_equal(tlog_handover_text("bad\norigin", &k.vold, &k.vnew, 1,
					    k.root, text, &len, err,
					    sizeof(err)),
			 VG_EINVAL);
	free_keys(&k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_has_the_documented_lines),
		cmocka_unit_test(test_signed_by_both_keys_verifies),
		cmocka_unit_test(test_signed_by_one_key_alone_is_refused),
		cmocka_unit_test(test_other_origin_old_key_or_text_is_refused),
		cmocka_unit_test(test_same_key_twice_is_no_handover),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
