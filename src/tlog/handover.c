/*
 * handover.c - the log key handover note: writing its text and verifying
 * it with both keys; see handover.h.
 *
 * Verification rebuilds the one text the note may have from what it
 * states (origin, the old key, the new key parsed from its line, the
 * tree) and compares it byte for byte, so there is exactly one encoding
 * of a handover and nothing else is accepted.
 */
#include "tlog/handover.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "tlog/util.h"

static bool
same_key(const struct note_verifier *a, const struct note_verifier *b)
{
	return a->key_id == b->key_id && a->type == b->type &&
	       strcmp(a->name, b->name) == 0 &&
	       memcmp(a->pub, b->pub, sizeof(a->pub)) == 0;
}

int
tlog_handover_text(const char *origin, const struct note_verifier *old_key,
		   const struct note_verifier *new_key, uint64_t tree_size,
		   const uint8_t tree_root[32], char buf[HANDOVER_TEXT_MAX],
		   size_t *len, char *err, size_t errlen)
{
	char ok[NOTE_KEY_MAX], nk[NOTE_KEY_MAX], root[48];
	size_t olen = strlen(origin), bad;
	int n;

	if (olen == 0 || olen > NOTE_NAME_MAX ||
	    !tlog_text_valid(origin, olen, &bad) ||
	    memchr(origin, '\n', olen) != NULL)
		return vg_fail(err, errlen, VG_EINVAL, "invalid origin");
	if (old_key->type != NOTE_ED25519 || new_key->type != NOTE_ED25519)
		return vg_fail(err, errlen, VG_EINVAL,
			       "a log key is an Ed25519 key (type 0x01)");
	if (same_key(old_key, new_key))
		return vg_fail(err, errlen, VG_EINVAL,
			       "the old and the new key are the same");
	note_verifier_format(old_key, ok);
	note_verifier_format(new_key, nk);
	tlog_b64_encode(tree_root, 32, root);
	n = snprintf(buf, HANDOVER_TEXT_MAX,
		     HANDOVER_HEADER
		     "\norigin %s\nold %s\nnew %s\ntree %" PRIu64 " %s\n",
		     origin, ok, nk, tree_size, root);
	if (n < 0 || (size_t)n >= HANDOVER_TEXT_MAX)
		return vg_fail(err, errlen, VG_EINVAL,
			       "handover text too long");
	*len = (size_t)n;
	return 0;
}

/* Returns the line of text[0..len) starting at *p after prefix (without
 * its newline) in *v, *vlen, and moves *p past it; false if the line does
 * not start with prefix or has no newline. */
static bool
take_line(const char *text, size_t len, size_t *p, const char *prefix,
	  const char **v, size_t *vlen)
{
	size_t n = strlen(prefix);
	const char *nl;

	if (len - *p < n || memcmp(text + *p, prefix, n) != 0)
		return false;
	nl = tlog_memchr(text + *p + n, len - *p - n, '\n');
	if (nl == NULL)
		return false;
	*v = text + *p + n;
	*vlen = (size_t)(nl - *v);
	*p = (size_t)(nl - text) + 1;
	return true;
}

int
tlog_handover_verify(const char *text, size_t len, const char *origin,
		     const struct note_verifier *old_key,
		     struct note_verifier *new_key, uint64_t *tree_size,
		     uint8_t tree_root[32], char *err, size_t errlen)
{
	struct note_verifier keys[2];
	char want[HANDOVER_TEXT_MAX], why[160];
	const char *v, *sp;
	struct note *n = NULL;
	uint8_t root[32];
	size_t p = 0, vlen, wlen, rlen;
	uint64_t size;
	int rc;

	if ((rc = note_parse(text, len, &n, why, sizeof(why))) != 0) {
		vg_seterr(err, errlen, "handover: %s", why);
		return rc;
	}
	rc = VG_EFORMAT;
	if (!take_line(n->text, n->text_len, &p, HANDOVER_HEADER, &v, &vlen) ||
	    vlen != 0) {
		vg_seterr(err, errlen, "handover: does not start with \"%s\"",
			  HANDOVER_HEADER);
		goto out;
	}
	if (!take_line(n->text, n->text_len, &p, "origin ", &v, &vlen) ||
	    !take_line(n->text, n->text_len, &p, "old ", &v, &vlen) ||
	    !take_line(n->text, n->text_len, &p, "new ", &v, &vlen)) {
		vg_seterr(err, errlen,
			  "handover: no origin, old and new lines");
		goto out;
	}
	if (note_verifier_parse(v, vlen, &keys[1], why, sizeof(why)) != 0) {
		vg_seterr(err, errlen, "handover: new key: %s", why);
		goto out;
	}
	if (!take_line(n->text, n->text_len, &p, "tree ", &v, &vlen) ||
	    p != n->text_len || (sp = tlog_memchr(v, vlen, ' ')) == NULL ||
	    tlog_parse_u64(v, (size_t)(sp - v), &size) != 0 ||
	    tlog_b64_decode(sp + 1, vlen - (size_t)(sp - v) - 1, root,
			    sizeof(root), &rlen) != 0 ||
	    rlen != sizeof(root)) {
		vg_seterr(err, errlen,
			  "handover: the last line is not \"tree <size> "
			  "<base64 root>\"");
		goto out;
	}
	/* The one text these values have: another origin, old key or any
	 * other difference is refused here. */
	if (tlog_handover_text(origin, old_key, &keys[1], size, root, want,
			       &wlen, why, sizeof(why)) != 0) {
		vg_seterr(err, errlen, "handover: %s", why);
		goto out;
	}
	if (wlen != n->text_len || memcmp(want, n->text, wlen) != 0) {
		vg_seterr(err, errlen,
			  "handover: not the handover of %s from key "
			  "%s+%08" PRIx32,
			  origin, old_key->name, old_key->key_id);
		goto out;
	}
	keys[0] = *old_key;
	if ((rc = note_verify(n, keys, 2, NULL, why, sizeof(why))) != 0) {
		vg_seterr(err, errlen, "handover: %s", why);
		goto out;
	}
	if (!note_verified_by(n, &keys[0]) || !note_verified_by(n, &keys[1])) {
		vg_seterr(err, errlen,
			  "handover: no signature by the %s key (both must "
			  "sign)",
			  note_verified_by(n, &keys[0]) ? "new" : "old");
		rc = VG_EVERIFY;
		goto out;
	}
	*new_key = keys[1];
	*tree_size = size;
	memcpy(tree_root, root, sizeof(root));
	rc = 0;
out:
	note_free(n);
	return rc;
}
