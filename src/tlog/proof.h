/*
 * proof.h - C2SP tlog-proof: an offline-verifiable proof that an entry is
 * in a log, as text (files are named *.tlog-proof).
 *
 *   c2sp.org/tlog-proof@v1\n
 *   [extra <base64 of opaque, unauthenticated data>\n]
 *   index <decimal, no leading zero>\n
 *   [<base64 of a 32-byte hash>\n]...   inclusion proof, leaf to root
 *   \n
 *   <signed checkpoint, verbatim>
 *
 * tlog_proof_parse() checks the syntax of every part, the embedded signed
 * note and checkpoint text included, but no signature and no hash: that is
 * tlog_proof_verify(). An "extra" line with no data is refused (the line
 * is omitted when there is none), as is any second form of a value.
 */
#ifndef VIGIL_TLOG_PROOF_H
#define VIGIL_TLOG_PROOF_H

#include <stddef.h>
#include <stdint.h>

#include "tlog/checkpoint.h"
#include "tlog/merkle.h"
#include "tlog/note.h"

#define TLOG_PROOF_HEADER "c2sp.org/tlog-proof@v1"
/* Largest extra data accepted. */
#define TLOG_PROOF_EXTRA_MAX (64 * 1024)
/* Most inclusion proof hashes: the longest proof in a tree below 2^64. */
#define TLOG_PROOF_PATH_MAX 64
/* Largest proof text accepted. */
#define TLOG_PROOF_MAX_SIZE (NOTE_MAX_SIZE + 2 * TLOG_PROOF_EXTRA_MAX)

struct tlog_proof {
	uint8_t *extra; /* malloc'd, or NULL when there is none */
	size_t extra_len;
	uint64_t index;
	struct merkle_hash path[TLOG_PROOF_PATH_MAX];
	size_t path_len;
	char *checkpoint; /* the signed note, malloc'd, NUL-terminated */
	size_t checkpoint_len;
};

/* Parses exactly len bytes into *p (release with tlog_proof_clear()).
 * Returns 0, or VG_EFORMAT or VG_ELIMIT with a message naming the line;
 * *p is untouched on error. */
int tlog_proof_parse(const char *s, size_t len, struct tlog_proof *p, char *err,
		     size_t errlen) __attribute__((warn_unused_result));

/* Frees p's fields and zeroes it; accepts a zeroed struct. */
void tlog_proof_clear(struct tlog_proof *p);

/*
 * Formats p, malloc'd and NUL-terminated, into *out (the caller frees it)
 * and its length into *out_len. Returns 0, or VG_EINVAL (with a message)
 * if the text would not parse: extra present but empty or too long, too
 * many hashes, or a checkpoint that is not a signed checkpoint.
 */
int tlog_proof_format(const struct tlog_proof *p, char **out, size_t *out_len,
		      char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Verifies p for the entry whose leaf hash is leaf: opens its checkpoint
 * as checkpoint_open() does (origin, log key, witnesses, quorum), then
 * verifies the inclusion proof of leaf at p->index against the
 * checkpoint's size and root. Returns 0 and the checkpoint in *c (release
 * with checkpoint_clear()), or the first error with a message.
 */
int tlog_proof_verify(const struct tlog_proof *p,
		      const struct merkle_hash *leaf, const char *origin,
		      const struct note_verifier *log_key,
		      const struct note_verifier *witnesses, size_t nwitnesses,
		      size_t quorum, struct checkpoint *c, char *err,
		      size_t errlen) __attribute__((warn_unused_result));

#endif
