/*
 * proof.c - tlog-proof texts; see proof.h.
 */
#include "tlog/proof.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/xmalloc.h"
#include "tlog/util.h"

#define EXTRA_PREFIX "extra "
#define INDEX_PREFIX "index "

/* Takes the next line of [*p, end) into line, len (without its newline).
 * Returns false if no newline is left. */
static bool
next_line(const char **p, const char *end, const char **line, size_t *len)
{
	const char *nl = tlog_memchr(*p, (size_t)(end - *p), '\n');

	if (nl == NULL)
		return false;
	*line = *p;
	*len = (size_t)(nl - *p);
	*p = nl + 1;
	return true;
}

static bool
has_prefix(const char *line, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(line, prefix, n) == 0;
}

/* Checks that s[0..len) is a signed note whose text is a checkpoint. */
static int
check_checkpoint(const char *s, size_t len, char *err, size_t errlen)
{
	struct checkpoint c;
	struct note *n;
	char why[256];
	int rc;

	rc = note_parse(s, len, &n, why, sizeof(why));
	if (rc == 0) {
		rc = checkpoint_parse(n->text, n->text_len, &c, why,
				      sizeof(why));
		note_free(n);
	}
	if (rc != 0) {
		vg_seterr(err, errlen, "checkpoint: %s", why);
		return rc;
	}
	checkpoint_clear(&c);
	return 0;
}

int
tlog_proof_parse(const char *s, size_t len, struct tlog_proof *p, char *err,
		 size_t errlen)
{
	const char *cur = s, *end = s + len, *line;
	struct tlog_proof tp;
	size_t ll, lineno = 1, n;
	uint8_t *extra = NULL;
	int rc = VG_EFORMAT;

	memset(&tp, 0, sizeof(tp));
	if (len > TLOG_PROOF_MAX_SIZE) {
		vg_seterr(err, errlen, "proof longer than %d bytes",
			  TLOG_PROOF_MAX_SIZE);
		return VG_ELIMIT;
	}
	if (!next_line(&cur, end, &line, &ll) ||
	    ll != strlen(TLOG_PROOF_HEADER) ||
	    memcmp(line, TLOG_PROOF_HEADER, ll) != 0) {
		vg_seterr(err, errlen, "line 1 is not " TLOG_PROOF_HEADER);
		return VG_EFORMAT;
	}
	if (!next_line(&cur, end, &line, &ll))
		goto truncated;
	lineno++;
	if (has_prefix(line, ll, EXTRA_PREFIX)) {
		const char *b64 = line + strlen(EXTRA_PREFIX);
		size_t blen = ll - strlen(EXTRA_PREFIX);

		if (blen / 4 * 3 > TLOG_PROOF_EXTRA_MAX + 2) {
			vg_seterr(err, errlen, "extra data above %d bytes",
				  TLOG_PROOF_EXTRA_MAX);
			return VG_ELIMIT;
		}
		extra = xmalloc(blen / 4 * 3 + 1);
		if (blen == 0 ||
		    tlog_b64_decode(b64, blen, extra, blen / 4 * 3,
				    &tp.extra_len) != 0 ||
		    tp.extra_len == 0 || tp.extra_len > TLOG_PROOF_EXTRA_MAX) {
			vg_seterr(err, errlen,
				  "line 2: extra is not the base64 of 1 to "
				  "%d bytes",
				  TLOG_PROOF_EXTRA_MAX);
			goto fail;
		}
		if (!next_line(&cur, end, &line, &ll))
			goto truncated;
		lineno++;
	}
	if (!has_prefix(line, ll, INDEX_PREFIX) ||
	    tlog_parse_u64(line + strlen(INDEX_PREFIX),
			   ll - strlen(INDEX_PREFIX), &tp.index) != 0) {
		vg_seterr(err, errlen,
			  "line %zu is not \"index\" and a decimal", lineno);
		goto fail;
	}
	for (;;) {
		if (!next_line(&cur, end, &line, &ll))
			goto truncated;
		lineno++;
		if (ll == 0)
			break;
		if (tp.path_len == TLOG_PROOF_PATH_MAX) {
			vg_seterr(err, errlen,
				  "more than %d inclusion proof hashes",
				  TLOG_PROOF_PATH_MAX);
			rc = VG_ELIMIT;
			goto fail;
		}
		if (tlog_b64_decode(line, ll, tp.path[tp.path_len].b,
				    MERKLE_HASH_LEN, &n) != 0 ||
		    n != MERKLE_HASH_LEN) {
			vg_seterr(err, errlen,
				  "line %zu is not the base64 of a 32-byte "
				  "hash",
				  lineno);
			goto fail;
		}
		tp.path_len++;
	}
	if ((rc = check_checkpoint(cur, (size_t)(end - cur), err, errlen)))
		goto fail;

	tp.extra = extra;
	tp.checkpoint_len = (size_t)(end - cur);
	tp.checkpoint = xmalloc(tp.checkpoint_len + 1);
	memcpy(tp.checkpoint, cur, tp.checkpoint_len);
	tp.checkpoint[tp.checkpoint_len] = '\0';
	*p = tp;
	return 0;
truncated:
	vg_seterr(err, errlen,
		  "proof ends after line %zu, before its checkpoint", lineno);
	rc = VG_EFORMAT;
fail:
	free(extra);
	return rc;
}

void
tlog_proof_clear(struct tlog_proof *p)
{
	free(p->extra);
	free(p->checkpoint);
	memset(p, 0, sizeof(*p));
}

int
tlog_proof_format(const struct tlog_proof *p, char **out, size_t *out_len,
		  char *err, size_t errlen)
{
	size_t cap, o;
	char *buf;
	int rc;

	if (p->extra != NULL &&
	    (p->extra_len == 0 || p->extra_len > TLOG_PROOF_EXTRA_MAX)) {
		vg_seterr(err, errlen, "extra data is not 1 to %d bytes",
			  TLOG_PROOF_EXTRA_MAX);
		return VG_EINVAL;
	}
	if (p->path_len > TLOG_PROOF_PATH_MAX) {
		vg_seterr(err, errlen, "more than %d inclusion proof hashes",
			  TLOG_PROOF_PATH_MAX);
		return VG_EINVAL;
	}
	rc = check_checkpoint(p->checkpoint, p->checkpoint_len, err, errlen);
	if (rc != 0)
		return VG_EINVAL;

	cap = sizeof(TLOG_PROOF_HEADER) + sizeof(INDEX_PREFIX) +
	      TLOG_U64_DIGITS + 2 +
	      p->path_len * tlog_b64_size(MERKLE_HASH_LEN) + 1 +
	      p->checkpoint_len + 1;
	if (p->extra != NULL)
		cap += sizeof(EXTRA_PREFIX) + tlog_b64_size(p->extra_len);
	buf = xmalloc(cap);
	o = (size_t)snprintf(buf, cap, TLOG_PROOF_HEADER "\n");
	if (p->extra != NULL) {
		o += (size_t)snprintf(buf + o, cap - o, EXTRA_PREFIX);
		o += tlog_b64_encode(p->extra, p->extra_len, buf + o);
		buf[o++] = '\n';
	}
	o += (size_t)snprintf(buf + o, cap - o, INDEX_PREFIX "%" PRIu64 "\n",
			      p->index);
	for (size_t i = 0; i < p->path_len; i++) {
		o += tlog_b64_encode(p->path[i].b, MERKLE_HASH_LEN, buf + o);
		buf[o++] = '\n';
	}
	buf[o++] = '\n';
	memcpy(buf + o, p->checkpoint, p->checkpoint_len);
	o += p->checkpoint_len;
	buf[o] = '\0';
	*out = buf;
	*out_len = o;
	return 0;
}

int
tlog_proof_verify(const struct tlog_proof *p, const struct merkle_hash *leaf,
		  const char *origin, const struct note_verifier *log_key,
		  const struct note_verifier *witnesses, size_t nwitnesses,
		  size_t quorum, struct checkpoint *c, char *err, size_t errlen)
{
	struct checkpoint cp;
	int rc;

	rc = checkpoint_open(p->checkpoint, p->checkpoint_len, origin, log_key,
			     witnesses, nwitnesses, quorum, &cp, err, errlen);
	if (rc != 0)
		return rc;
	rc = merkle_verify_inclusion(p->index, cp.size, leaf, p->path,
				     p->path_len, &cp.root, err, errlen);
	if (rc != 0) {
		checkpoint_clear(&cp);
		return rc;
	}
	*c = cp;
	return 0;
}
