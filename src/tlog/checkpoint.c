/*
 * checkpoint.c - tlog-checkpoint texts; see checkpoint.h.
 */
#include "tlog/checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/xmalloc.h"
#include "tlog/util.h"

/* Base64 of a 32-byte hash: 44 characters and a terminator. */
#define ROOT_B64 45

int
checkpoint_parse(const char *text, size_t len, struct checkpoint *c, char *err,
		 size_t errlen)
{
	const char *line[3], *end = text + len, *p = text;
	size_t llen[3], bad, rlen;
	struct checkpoint cp;

	if (len > CHECKPOINT_MAX_TEXT) {
		vg_seterr(err, errlen, "checkpoint longer than %d bytes",
			  CHECKPOINT_MAX_TEXT);
		return VG_ELIMIT;
	}
	if (!tlog_text_valid(text, len, &bad)) {
		vg_seterr(err, errlen,
			  "byte %zu is not UTF-8 or a control character", bad);
		return VG_EFORMAT;
	}
	if (len == 0 || text[len - 1] != '\n') {
		vg_seterr(err, errlen, "checkpoint does not end in a newline");
		return VG_EFORMAT;
	}
	for (int i = 0; i < 3; i++) {
		const char *nl = tlog_memchr(p, (size_t)(end - p), '\n');

		if (nl == NULL) {
			vg_seterr(err, errlen,
				  "checkpoint has %d lines, needs 3", i);
			return VG_EFORMAT;
		}
		line[i] = p;
		llen[i] = (size_t)(nl - p);
		p = nl + 1;
	}
	if (llen[0] == 0) {
		vg_seterr(err, errlen, "empty origin line");
		return VG_EFORMAT;
	}
	if (tlog_parse_u64(line[1], llen[1], &cp.size) != 0) {
		vg_seterr(err, errlen,
			  "tree size is not a decimal without leading zeros "
			  "below 2^64");
		return VG_EFORMAT;
	}
	if (tlog_b64_decode(line[2], llen[2], cp.root.b, MERKLE_HASH_LEN,
			    &rlen) != 0 ||
	    rlen != MERKLE_HASH_LEN) {
		vg_seterr(err, errlen,
			  "root hash is not the base64 of 32 bytes");
		return VG_EFORMAT;
	}
	/* Extension lines: p..end, each non-empty. */
	for (const char *q = p; q < end; q++)
		if (*q == '\n' && (q == p || q[-1] == '\n')) {
			vg_seterr(err, errlen, "empty extension line");
			return VG_EFORMAT;
		}

	cp.origin = xmalloc(llen[0] + 1);
	memcpy(cp.origin, line[0], llen[0]);
	cp.origin[llen[0]] = '\0';
	cp.extensions_len = (size_t)(end - p);
	cp.extensions = xmalloc(cp.extensions_len + 1);
	if (cp.extensions_len > 0)
		memcpy(cp.extensions, p, cp.extensions_len);
	cp.extensions[cp.extensions_len] = '\0';
	*c = cp;
	return 0;
}

void
checkpoint_clear(struct checkpoint *c)
{
	free(c->origin);
	free(c->extensions);
	memset(c, 0, sizeof(*c));
}

int
checkpoint_format(const char *origin, uint64_t size,
		  const struct merkle_hash *root, const char *extensions,
		  char **out, size_t *out_len, char *err, size_t errlen)
{
	size_t olen = strlen(origin), elen, len, bad;
	char b64[ROOT_B64], *buf;

	if (extensions == NULL)
		extensions = "";
	elen = strlen(extensions);
	if (olen == 0 || strchr(origin, '\n') != NULL) {
		vg_seterr(err, errlen, "origin is empty or has a newline");
		return VG_EINVAL;
	}
	if (elen > 0 &&
	    (extensions[0] == '\n' || extensions[elen - 1] != '\n' ||
	     strstr(extensions, "\n\n") != NULL)) {
		vg_seterr(err, errlen,
			  "extensions are not non-empty lines ending in a "
			  "newline");
		return VG_EINVAL;
	}
	tlog_b64_encode(root->b, MERKLE_HASH_LEN, b64);
	len = olen + 1 + TLOG_U64_DIGITS + 1 + sizeof(b64) + elen + 1;
	buf = xmalloc(len);
	len = (size_t)snprintf(buf, len, "%s\n%" PRIu64 "\n%s\n%s", origin,
			       size, b64, extensions);
	if (len > CHECKPOINT_MAX_TEXT || !tlog_text_valid(buf, len, &bad)) {
		free(buf);
		vg_seterr(err, errlen,
			  "checkpoint would be too long or hold a byte that "
			  "is not UTF-8 or is a control character");
		return VG_EINVAL;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

int
checkpoint_open(const char *msg, size_t len, const char *origin,
		const struct note_verifier *log_key,
		const struct note_verifier *witnesses, size_t nwitnesses,
		size_t quorum, struct checkpoint *c, char *err, size_t errlen)
{
	struct note_verifier *keys;
	struct checkpoint cp;
	struct note *n = NULL;
	size_t nkeys = 1 + nwitnesses, count = 0, ok;
	int rc;

	if ((rc = note_parse(msg, len, &n, err, errlen)) != 0)
		return rc;
	keys = xreallocarray(NULL, nkeys, sizeof(*keys));
	keys[0] = *log_key;
	if (nwitnesses > 0)
		memcpy(keys + 1, witnesses, nwitnesses * sizeof(*keys));
	if ((rc = note_verify(n, keys, nkeys, &ok, err, errlen)) != 0)
		goto out;
	if (!note_verified_by(n, log_key)) {
		vg_seterr(err, errlen, "checkpoint not signed by the log");
		rc = VG_EVERIFY;
		goto out;
	}
	for (size_t i = 0; i < nwitnesses; i++)
		count += note_verified_by(n, &witnesses[i]);
	if (count < quorum) {
		vg_seterr(err, errlen,
			  "%zu witness cosignatures verify, %zu needed", count,
			  quorum);
		rc = VG_EVERIFY;
		goto out;
	}
	if ((rc = checkpoint_parse(n->text, n->text_len, &cp, err, errlen)))
		goto out;
	if (strcmp(cp.origin, origin) != 0) {
		vg_seterr(err, errlen, "checkpoint of another log");
		checkpoint_clear(&cp);
		rc = VG_EVERIFY;
		goto out;
	}
	*c = cp;
out:
	free(keys);
	note_free(n);
	return rc;
}
