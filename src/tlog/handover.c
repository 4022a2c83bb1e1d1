/*
 * handover.c - log key handovers; see handover.h. The parser is as strict
 * as the other tlog formats: one handover has exactly one encoding, and
 * anything else (another line, a space more, a third signature) is
 * refused rather than ignored, since a client acts on it by trusting a
 * new key.
 */
#include "tlog/handover.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/xmalloc.h"
#include "tlog/util.h"

#define LINES 5

/* True if line[0..len) is prefix followed by at least one byte; sets
 * *rest and *rlen to those bytes. */
static bool
field(const char *line, size_t len, const char *prefix, const char **rest,
      size_t *rlen)
{
	size_t n = strlen(prefix);

	if (len <= n || memcmp(line, prefix, n) != 0)
		return false;
	*rest = line + n;
	*rlen = len - n;
	return true;
}

static bool
same_key(const struct note_verifier *a, const struct note_verifier *b)
{
	return a->type == b->type && a->key_id == b->key_id &&
	       strcmp(a->name, b->name) == 0 &&
	       memcmp(a->pub, b->pub, sizeof(a->pub)) == 0;
}

int
tlog_handover_verify(const char *text, size_t len, const char *origin,
		     const struct note_verifier *old_key,
		     struct note_verifier *new_key, uint64_t *tree_size,
		     uint8_t tree_root[32], char *err, size_t errlen)
{
	const char *line[LINES], *p, *end, *v, *sp;
	char e2[256], okey[NOTE_KEY_MAX], nkey[NOTE_KEY_MAX];
	struct note_verifier keys[2];
	size_t llen[LINES], vlen, nv = 0, rlen = 0;
	struct note *n = NULL;
	uint8_t root[32];
	uint64_t size;
	int rc;

	if (len > TLOG_HANDOVER_MAX)
		return vg_fail(err, errlen, VG_ELIMIT,
			       "a handover is at most %d bytes, not %zu",
			       TLOG_HANDOVER_MAX, len);
	if (origin == NULL || *origin == '\0' || old_key == NULL ||
	    old_key->type != NOTE_ED25519)
		return vg_fail(err, errlen, VG_EINVAL,
			       "a handover is checked against an origin and "
			       "the log's old Ed25519 key");
	if ((rc = note_parse(text, len, &n, e2, sizeof(e2))) != 0)
		return vg_fail(err, errlen, rc, "not a signed note: %s", e2);

	/* The text: exactly five lines. */
	p = n->text;
	end = n->text + n->text_len;
	for (int i = 0; i < LINES; i++) {
		const char *nl =
			p < end ? tlog_memchr(p, (size_t)(end - p), '\n')
				: NULL;

		if (nl == NULL) {
			rc = vg_fail(err, errlen, VG_EFORMAT,
				     "a handover has %d lines, not %d", i,
				     LINES);
			goto out;
		}
		line[i] = p;
		llen[i] = (size_t)(nl - p);
		p = nl + 1;
	}
	if (p != end) {
		rc = vg_fail(err, errlen, VG_EFORMAT,
			     "a handover has more than %d lines", LINES);
		goto out;
	}
	if (llen[0] != strlen(TLOG_HANDOVER_HEADER) ||
	    memcmp(line[0], TLOG_HANDOVER_HEADER, llen[0]) != 0) {
		rc = vg_fail(err, errlen, VG_EFORMAT,
			     "the first line is not \"" TLOG_HANDOVER_HEADER
			     "\"");
		goto out;
	}
	if (!field(line[1], llen[1], "origin ", &v, &vlen)) {
		rc = vg_fail(err, errlen, VG_EFORMAT,
			     "the second line is not \"origin <origin>\"");
		goto out;
	}
	if (vlen != strlen(origin) || memcmp(v, origin, vlen) != 0) {
		rc = vg_fail(err, errlen, VG_EVERIFY,
			     "the handover is of the log %.*s, not %s",
			     (int)(vlen > 256 ? 256 : vlen), v, origin);
		goto out;
	}
	if (!field(line[2], llen[2], "old ", &v, &vlen)) {
		rc = vg_fail(err, errlen, VG_EFORMAT,
			     "the third line is not \"old <verifier key>\"");
		goto out;
	}
	note_verifier_format(old_key, okey);
	if (vlen != strlen(okey) || memcmp(v, okey, vlen) != 0) {
		rc = vg_fail(err, errlen, VG_EVERIFY,
			     "the handover is from the key %.*s, not from %s",
			     (int)(vlen > NOTE_KEY_MAX ? NOTE_KEY_MAX : vlen),
			     v, okey);
		goto out;
	}
	if (!field(line[3], llen[3], "new ", &v, &vlen)) {
		rc = vg_fail(err, errlen, VG_EFORMAT,
			     "the fourth line is not \"new <verifier key>\"");
		goto out;
	}
	if ((rc = note_verifier_parse(v, vlen, &keys[1], e2, sizeof(e2))) !=
	    0) {
		rc = vg_fail(err, errlen, VG_EFORMAT,
			     "the new key is not a verifier key: %s", e2);
		goto out;
	}
	note_verifier_format(&keys[1], nkey);
	if (keys[1].type != NOTE_ED25519 || vlen != strlen(nkey) ||
	    memcmp(v, nkey, vlen) != 0) {
		rc = vg_fail(err, errlen, VG_EFORMAT,
			     "the new key is not an Ed25519 verifier key as "
			     "written by signed-note");
		goto out;
	}
	if (same_key(&keys[1], old_key) ||
	    (keys[1].key_id == old_key->key_id &&
	     strcmp(keys[1].name, old_key->name) == 0)) {
		rc = vg_fail(err, errlen, VG_EINVAL,
			     "the handover names the old key (or one with "
			     "its name and key ID) as the new one");
		goto out;
	}
	if (!field(line[4], llen[4], "tree ", &v, &vlen) ||
	    (sp = tlog_memchr(v, vlen, ' ')) == NULL ||
	    tlog_parse_u64(v, (size_t)(sp - v), &size) != 0 ||
	    tlog_b64_decode(sp + 1, vlen - (size_t)(sp - v) - 1, root,
			    sizeof(root), &rlen) != 0 ||
	    rlen != sizeof(root)) {
		rc = vg_fail(err, errlen, VG_EFORMAT,
			     "the fifth line is not \"tree <size> <base64 "
			     "root>\"");
		goto out;
	}

	/* Both keys, and nothing else. */
	if (n->nsigs != 2) {
		rc = vg_fail(err, errlen, VG_EVERIFY,
			     "a handover has exactly two signatures (the old "
			     "key's and the new key's), not %zu",
			     n->nsigs);
		goto out;
	}
	keys[0] = *old_key;
	rc = note_verify(n, keys, 2, &nv, e2, sizeof(e2));
	if (rc != 0) {
		rc = vg_fail(err, errlen, rc == VG_EVERIFY ? VG_EVERIFY : rc,
			     "the handover's signatures do not verify with the "
			     "old key %s and the new key %s: %s",
			     okey, nkey, e2);
		goto out;
	}
	if (!note_verified_by(n, &keys[0]) || !note_verified_by(n, &keys[1])) {
		rc = vg_fail(err, errlen, VG_EVERIFY,
			     "the handover is signed by the %s key %s but not "
			     "by the %s key %s",
			     note_verified_by(n, &keys[0]) ? "old" : "new",
			     note_verified_by(n, &keys[0]) ? okey : nkey,
			     note_verified_by(n, &keys[0]) ? "new" : "old",
			     note_verified_by(n, &keys[0]) ? nkey : okey);
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

int
tlog_handover_format(const char *origin, const struct note_verifier *old_key,
		     const struct note_verifier *new_key, uint64_t tree_size,
		     const uint8_t tree_root[32], char **out, size_t *out_len,
		     char *err, size_t errlen)
{
	char okey[NOTE_KEY_MAX], nkey[NOTE_KEY_MAX];
	char b64[45];
	size_t bad;
	char *s;

	if (origin == NULL || *origin == '\0' || strchr(origin, '\n') ||
	    !tlog_text_valid(origin, strlen(origin), &bad))
		return vg_fail(err, errlen, VG_EINVAL,
			       "an origin is one line of text");
	if (old_key->type != NOTE_ED25519 || new_key->type != NOTE_ED25519)
		return vg_fail(err, errlen, VG_EINVAL,
			       "a handover is between Ed25519 keys");
	if (same_key(old_key, new_key) ||
	    (old_key->key_id == new_key->key_id &&
	     strcmp(old_key->name, new_key->name) == 0))
		return vg_fail(err, errlen, VG_EINVAL,
			       "a handover is to another key");
	note_verifier_format(old_key, okey);
	note_verifier_format(new_key, nkey);
	(void)tlog_b64_encode(tree_root, 32, b64);
	s = xasprintf(TLOG_HANDOVER_HEADER "\norigin %s\nold %s\nnew %s\n"
					   "tree %" PRIu64 " %s\n",
		      origin, okey, nkey, tree_size, b64);
	*out = s;
	*out_len = strlen(s);
	return 0;
}
