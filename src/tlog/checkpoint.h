/*
 * checkpoint.h - C2SP tlog-checkpoint: the signed tree head of a log, as
 * the text of a signed note (note.h).
 *
 *   <origin>\n          non-empty; the log's identity
 *   <tree size>\n       ASCII decimal, no leading zero ("0" if empty)
 *   <root hash>\n       base64 of the 32-byte RFC 6962 root at that size
 *   [<extension>\n]...  optional, opaque, non-empty
 *
 * checkpoint_parse() takes the note text (up to and including its final
 * newline, without the blank line and signatures) and refuses anything
 * else: a missing or empty line, a size with a sign, a leading zero or
 * above 2^64-1, a root that is not exactly 32 bytes of canonical base64,
 * bytes that are not UTF-8 or are control characters. The origin is kept
 * as it is; its recommended form (a schema-less URL) is not enforced.
 * checkpoint_open() does the whole client check of a signed checkpoint:
 * the note, its signatures, the text and the origin.
 */
#ifndef VIGIL_TLOG_CHECKPOINT_H
#define VIGIL_TLOG_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "tlog/merkle.h"
#include "tlog/note.h"

/* Longest checkpoint text accepted (extension lines included). */
#define CHECKPOINT_MAX_TEXT (64 * 1024)

struct checkpoint {
	char *origin; /* NUL-terminated, malloc'd */
	uint64_t size;
	struct merkle_hash root;
	char *extensions; /* the extension lines, each ending in '\n', or "";
			     NUL-terminated, malloc'd */
	size_t extensions_len;
};

/* Parses exactly len bytes of note text into *c (release its fields with
 * checkpoint_clear()). Returns 0, or VG_EFORMAT or VG_ELIMIT (size) with
 * a message in err; *c is untouched on error. */
int checkpoint_parse(const char *text, size_t len, struct checkpoint *c,
		     char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Frees c's fields and zeroes it; accepts a zeroed struct. */
void checkpoint_clear(struct checkpoint *c);

/*
 * Formats a checkpoint text, malloc'd and NUL-terminated, into *out (the
 * caller frees it) and its length into *out_len. extensions is NULL or ""
 * for none, or lines that each end in '\n'. Returns 0, or VG_EINVAL (with
 * a message) if the result would not parse: an empty origin or one with a
 * newline, an empty extension line, or text that is not valid note text.
 */
int checkpoint_format(const char *origin, uint64_t size,
		      const struct merkle_hash *root, const char *extensions,
		      char **out, size_t *out_len, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Opens the signed checkpoint msg[0..len): parses it as a signed note,
 * verifies it against the log's key and the nwitnesses witness keys,
 * requires a valid signature by the log's key and valid cosignatures by at
 * least quorum distinct witnesses, parses the text into *c and requires
 * its origin to be `origin`. Returns 0, or the error of the step that
 * failed (VG_EVERIFY for a signature, the quorum or another origin), with
 * a message in err; *c is set only on success.
 */
int checkpoint_open(const char *msg, size_t len, const char *origin,
		    const struct note_verifier *log_key,
		    const struct note_verifier *witnesses, size_t nwitnesses,
		    size_t quorum, struct checkpoint *c, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

#endif
