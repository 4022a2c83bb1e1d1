/*
 * witness.h - a C2SP tlog-witness: cosigns the checkpoints of the logs it
 * knows, each only if it is consistent with the last one it cosigned for
 * that log; the protocol's logic, without HTTP (`vigil witness` serves it,
 * src/cli/cmd_witness.c; docs/LOG.md, "Witnesses").
 *
 * The request of POST <prefix>/add-checkpoint is
 *   old <size>\n                  the size the client believes the witness
 *                                 cosigned last, canonical decimal
 *   [<base64 hash>\n]...          0..63 lines: the consistency proof from
 *                                 that size to the checkpoint's
 *   \n
 *   <signed checkpoint>           a signed note (note.h) whose text is a
 *                                 checkpoint (checkpoint.h), verbatim
 * and witness_add_checkpoint() answers it, in the spec's order of checks:
 *   400  the body is malformed (any of the parts above, or larger than
 *        WITNESS_REQUEST_MAX)
 *   404  no known log has the checkpoint's origin
 *   403  no signature by the log's key verifies (one that fails refuses
 *        the note; signatures by other keys are ignored)
 *   400  the old size is above the checkpoint's size
 *   409  the old size is not the size last cosigned for the log (0 if
 *        none): the body is that size and a newline, of type
 *        text/x.tlog.size
 *   422  the proof does not prove the checkpoint's tree an extension of
 *        the tree last cosigned (a proof from size 0, or between equal
 *        sizes, must be empty; a checkpoint of size 0 must carry the
 *        empty tree's root)
 *   409  the checkpoint has the size last cosigned but another root: a
 *        fork. The body is text/plain, never text/x.tlog.size, so that a
 *        client does not take it for a stale size and retry
 *   200  the body is the witness's tlog-cosignature/v1 line over the
 *        checkpoint, timestamped with the time given
 *   500  the witness cannot serve this log: its state file is corrupt or
 *        cannot be written (nothing is cosigned)
 * Every body but the 200's and the stale 409's is one line of text/plain
 * saying why.
 *
 * State. For each log the witness keeps the size and root it last
 * cosigned in one file of its state directory, named by the SHA-256 of the
 * origin in hex, 80 bytes:
 *   0   8   magic "VGWIT01\n"
 *   8   8   tree size, big-endian
 *   16  32  root hash
 *   48  32  SHA-256 of bytes 0..47 and of the origin
 * written to a temporary ".<name>.tmp", fsync()ed, renamed over the name,
 * and the directory fsync()ed, before the cosignature is returned. No file
 * is a log never cosigned (size 0). A file that is not as above (length,
 * magic, checksum, another log's file under this name, a size of 0 with
 * another root than the empty tree's) makes the witness refuse that log
 * (500) until an operator settles it: resetting it would let the log be
 * cosigned from scratch, a fork included. The directory is created 0700
 * and flock()ed for as long as the witness is open: one witness per
 * directory.
 *
 * Threads. witness_add_checkpoint() may be called from any number of
 * threads: each log has a mutex held from the comparison of the old size
 * to the durable update of the state, so two requests from one old size
 * never both succeed (tlog-witness's atomicity requirement).
 */
#ifndef VIGIL_TLOG_WITNESS_H
#define VIGIL_TLOG_WITNESS_H

#include <stddef.h>
#include <stdint.h>

#include "tlog/merkle.h"
#include "tlog/note.h"

/* Most consistency proof lines a request may carry (tlog-witness). */
#define WITNESS_PROOF_MAX 63
/* Largest request body accepted. */
#define WITNESS_REQUEST_MAX (1024 * 1024)
/* The content type of the 409 answer to a stale old size. */
#define WITNESS_SIZE_TYPE "text/x.tlog.size"
/* The content type of every other answer. */
#define WITNESS_TEXT_TYPE "text/plain; charset=utf-8"

/* A parsed add-checkpoint request. */
struct witness_request {
	uint64_t old_size;
	struct merkle_hash proof[WITNESS_PROOF_MAX];
	size_t proof_len;
	const char *checkpoint; /* the signed checkpoint, in the body */
	size_t checkpoint_len;  /* at least 1 */
};

struct witness;

/*
 * Parses exactly len bytes as an add-checkpoint request into *r: the old
 * size line, the proof lines (each the canonical base64 of 32 bytes), the
 * empty line, and a non-empty rest, which r->checkpoint points to and
 * which is not parsed here. Returns 0, or VG_EFORMAT or VG_ELIMIT (over
 * WITNESS_REQUEST_MAX bytes or WITNESS_PROOF_MAX proof lines) with a
 * message naming the line in err.
 */
int witness_request_parse(const char *body, size_t len,
			  struct witness_request *r, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Formats a request (a client's side) from the old size, the n proof
 * hashes and the signed checkpoint cp[0..cp_len), malloc'd and
 * NUL-terminated, into *out (the caller frees it) and its length into
 * *out_len. Returns 0, or VG_EINVAL if the result would not parse (more
 * than WITNESS_PROOF_MAX hashes, an empty checkpoint, too long).
 */
int witness_request_format(uint64_t old_size, const struct merkle_hash *proof,
			   size_t n, const char *cp, size_t cp_len, char **out,
			   size_t *out_len, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Opens the witness of the cosigner key `cosigner` (type NOTE_COSIGNATURE;
 * not owned, it must outlive the witness) over the state directory dir
 * (created 0700 if missing, then locked), for the nlogs logs whose
 * signed-note Ed25519 verifier keys are at logs (copied; a key's name is
 * its log's origin). Reads every log's state; a corrupt one does not fail
 * the open but refuses that log (see witness_latest()). Returns 0 and a
 * witness in *out for witness_close(), or VG_EINVAL (a key of another
 * type, two logs of one origin, the directory in use), VG_EIO, VG_ELIB,
 * with a message in err.
 */
int witness_open(const char *dir, const struct note_signer *cosigner,
		 const struct note_verifier *logs, size_t nlogs,
		 struct witness **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Closes w and releases its directory; accepts NULL. */
void witness_close(struct witness *w);

/*
 * Stores the size and root last cosigned for origin (0 and the empty
 * tree's root if none) in *size and *root (either may be NULL). Returns 0,
 * VG_ENOENT for an unknown origin, or VG_ECORRUPT, VG_EIO or VG_ELIB (the
 * log is refused; the reason in err).
 */
int witness_latest(struct witness *w, const char *origin, uint64_t *size,
		   struct merkle_hash *root, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Answers the add-checkpoint request body[0..len) (see above; a NULL
 * body is an empty one), cosigning with the time now (POSIX seconds).
 * Sets *status to the HTTP status, *resp_body to the answer's body
 * (malloc'd, NUL-terminated, never NULL; the caller frees it), *resp_len
 * to its length and *resp_ctype to its content type (a static string).
 * Returns 0 if the request was answered by the protocol (200 or 4xx), or
 * the VG_E* code of the witness's own failure that made it answer 500
 * (VG_ECORRUPT, VG_EIO, VG_EINVAL for a time above 2^63-1, VG_ELIB).
 */
int witness_add_checkpoint(struct witness *w, const char *body, size_t len,
			   uint64_t now, int *status, char **resp_body,
			   size_t *resp_len, const char **resp_ctype);

#endif
