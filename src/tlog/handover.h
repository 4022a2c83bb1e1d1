/*
 * handover.h - the log key handover: the signed note by which a log's
 * old key hands the log over to its new key (docs/LOG.md, "Key
 * handover").
 *
 * When a node's log key is replaced, the log's `key-change` entry carries
 * a signed note (note.h) whose text is exactly these five lines:
 *
 *   vigil log key handover
 *   origin <origin>
 *   old <old verifier key>
 *   new <new verifier key>
 *   tree <size> <base64 root hash>
 *
 * where the tree is the last one the old key signed (the tree the new key
 * goes on from), and which is signed by both the old key and the new key.
 * A note signed by one of them alone hands nothing over. The node serves
 * the latest one at GET /log/handover.
 */
#ifndef VIGIL_TLOG_HANDOVER_H
#define VIGIL_TLOG_HANDOVER_H

#include <stddef.h>
#include <stdint.h>

#include "tlog/note.h"

#define HANDOVER_HEADER "vigil log key handover"
/* Longest handover text: the header, origin, two verifier keys, a tree
 * line, and their labels and newlines. */
#define HANDOVER_TEXT_MAX (64 + NOTE_NAME_MAX + 2 * NOTE_KEY_MAX + 96)

/*
 * Writes the handover text (the five lines above, each ending in '\n')
 * for origin, from old_key to new_key at the tree (tree_size, tree_root),
 * and a terminator into buf, its length into *len. Returns 0, or
 * VG_EINVAL (origin empty, over NOTE_NAME_MAX bytes or with a control
 * character; keys that are not Ed25519 or are the same key).
 */
int tlog_handover_text(const char *origin, const struct note_verifier *old_key,
		       const struct note_verifier *new_key, uint64_t tree_size,
		       const uint8_t tree_root[32], char buf[HANDOVER_TEXT_MAX],
		       size_t *len, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Verifies text[0..len) as a handover note of the log origin away from
 * old_key: it must parse as a signed note, its text must be exactly the
 * five lines above with this origin and old_key's verifier key, its new
 * key must be a valid Ed25519 verifier key (type 0x01) other than
 * old_key, and it must carry a valid signature by old_key AND one by the
 * new key (signatures by other keys are ignored, as note_verify() does).
 * On success returns 0 and sets *new_key, *tree_size and tree_root to
 * what the note states. Returns VG_EFORMAT (not a signed note, or not
 * exactly that text: another origin or old key, a bad line), VG_ELIMIT
 * (over NOTE_MAX_SIZE), VG_EVERIFY (a signature by either key missing or
 * invalid), VG_ELIB, with a message in err; the outputs are then
 * untouched.
 */
int tlog_handover_verify(const char *text, size_t len, const char *origin,
			 const struct note_verifier *old_key,
			 struct note_verifier *new_key, uint64_t *tree_size,
			 uint8_t tree_root[32], char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
