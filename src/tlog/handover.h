/*
 * handover.h - a log key handover: the note by which a log's old key
 * names its successor, signed by both keys, so that a client that trusts
 * the old key can follow the log to the new one (docs/LOG.md, "Key
 * changes"). The node serves it at GET /log/handover.
 *
 * The note's text is exactly five lines, each ending in '\n':
 *
 *   vigil log key handover
 *   origin <origin>
 *   old <old verifier key>
 *   new <new verifier key>
 *   tree <size> <base64 root of the tree the old key last signed>
 *
 * (size in canonical decimal, the root as canonical padded base64 of 32
 * bytes, both keys Ed25519 verifier key strings as note_verifier_format()
 * writes them), followed by the signed-note blank line and exactly two
 * signature lines: one by the old key and one by the new, both valid.
 */
#ifndef VIGIL_TLOG_HANDOVER_H
#define VIGIL_TLOG_HANDOVER_H

#include <stddef.h>
#include <stdint.h>

#include "tlog/note.h"

/* The first line of a handover's text, without its newline. */
#define TLOG_HANDOVER_HEADER "vigil log key handover"
/* Longest handover note accepted: five short lines and two signatures. */
#define TLOG_HANDOVER_MAX 4096

/*
 * Verifies text[0..len) as the handover of the log origin from old_key:
 * the exact format above, the origin line equal to origin, the old line
 * equal to old_key's verifier key string, a new Ed25519 key other than
 * the old one, exactly two signature lines, by the old and the new key,
 * both valid. Returns 0 with the new key in *new_key and the tree the old
 * key last signed in *tree_size and tree_root; or VG_EFORMAT (the text or
 * a key does not parse), VG_ELIMIT (over TLOG_HANDOVER_MAX), VG_EVERIFY
 * (another origin, another old key, a signature missing, extra or
 * failing) or VG_ELIB, with a reason in err. The outputs are set only on
 * success.
 */
int tlog_handover_verify(const char *text, size_t len, const char *origin,
			 const struct note_verifier *old_key,
			 struct note_verifier *new_key, uint64_t *tree_size,
			 uint8_t tree_root[32], char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Formats the text of a handover (the five lines above), malloc'd and
 * NUL-terminated, into *out (the caller frees it) and its length into
 * *out_len; sign it with note_sign() and both keys. Returns 0, or
 * VG_EINVAL (an empty origin or one with a newline, a key that is not
 * Ed25519, the same key twice) with a message in err.
 */
int tlog_handover_format(const char *origin,
			 const struct note_verifier *old_key,
			 const struct note_verifier *new_key,
			 uint64_t tree_size, const uint8_t tree_root[32],
			 char **out, size_t *out_len, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
