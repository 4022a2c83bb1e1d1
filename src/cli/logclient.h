/*
 * logclient.h - the verifying client of a region's transparency log (a
 * C2SP tiled log, docs/LOG.md): `vigil log` fetches the signed
 * checkpoint, hash tiles and entry bundles from the log's URL prefix and
 * believes nothing it has not checked against the log's key and against
 * the checkpoints it saw before.
 *
 * What is checked:
 *   - a checkpoint: signed by the log's key, cosigned by at least a quorum
 *     of the given witnesses, of the expected origin (checkpoint_open());
 *   - every tile, against the checkpoint of the tree it is read for,
 *     before any hash of it is used: the rightmost (partial) tile of each
 *     level by recomputing the checkpoint's root from those tiles alone
 *     (they are exactly the tiles the root is made of), a full tile by
 *     its hash, which the tile above it holds, that tile being checked
 *     the same way. So a proof generated from the tiles is made of
 *     hashes the checkpoint commits to, and a proof that fails is the
 *     log's contradiction, not a server's bad byte;
 *   - consistency: a new checkpoint extends the one this client stored
 *     for the origin, and the one it held before in memory (`tail`), by a
 *     consistency proof generated from the new tree's tiles
 *     (merkle_prove_consistency) and verified against the old root
 *     (merkle_verify_consistency);
 *   - an entry: its bundle hashes to its level-0 tile, and its inclusion
 *     proof, generated from the tiles, verifies against the root.
 *
 * State, per origin and key. With a state directory, each origin has
 * STATE_ROOT/<origin as a file name> (logclient_state_name()), locked
 * (flock) from the first read to the last write, so two clients do not
 * interleave. In it:
 *   key                 the log key this client trusts for the origin
 *                       now (a verifier key line);
 *   <key name>/         one per key the origin was seen with, named by
 *                       logclient_key_name(): `checkpoint`, the last
 *                       checkpoint seen signed by that key, verbatim,
 *                       replaced atomically (temporary file, fsync,
 *                       rename, directory fsync) and only by one at least
 *                       as large and consistent with it; `key`, the
 *                       verifier key; and `handover`, the handover note
 *                       by which the client came to the key, if it did.
 * A state from before keys were recorded (STATE_ROOT/<origin>/checkpoint
 * and no `key`) is read once and moved to the key that signed it.
 *
 * Keys. The key given (config log_key) is trusted for an origin the
 * client has not recorded. Once recorded, the recorded key is the one
 * checkpoints must be signed by; a checkpoint signed by another key is
 * followed only through a key handover (tlog/handover.h) served at
 * `handover` that the recorded key signed, whose tree extends what the
 * client saw and is extended by the new checkpoint; otherwise it is
 * LOGCLIENT_KEY_CHANGED, and config accept_key is how a user trusts the
 * new key instead.
 *
 * Results. Every operation fills a struct logclient_result: what kind of
 * failure (an error, a bad signature, too few witnesses, a definite "not
 * in the log", or a SECURITY failure: the log contradicts what it signed)
 * with a message, and for a SECURITY failure the evidence: the
 * checkpoints involved, verbatim, and the failing proof.
 *
 * Threads: one client per thread. Memory: what the functions return is
 * the caller's unless said otherwise.
 */
#ifndef VIGIL_CLI_LOGCLIENT_H
#define VIGIL_CLI_LOGCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tlog/checkpoint.h"
#include "tlog/merkle.h"
#include "tlog/note.h"

/* Longest file name logclient_state_name() writes, without terminator. */
#define LOGCLIENT_STATE_NAME_MAX 200
/* Length of logclient_key_name()'s names, without terminator. */
#define LOGCLIENT_KEY_NAME_LEN 32

enum logclient_status {
	LOGCLIENT_OK = 0,
	LOGCLIENT_ERROR,             /* no answer, a malformed one, local I/O,
					a usage error: exit 2 */
	LOGCLIENT_BAD_SIGNATURE,     /* not signed by the log's key, or a
					signature by a given key that fails */
	LOGCLIENT_TOO_FEW_WITNESSES, /* fewer cosignatures than the quorum */
	LOGCLIENT_NOT_PROVEN,        /* a definite no: the entry is not in the
					log, the proof does not prove it */
	LOGCLIENT_SECURITY,    /* the log contradicts what it signed: a fork, a
				  proof that fails, a tile or entry that does not
				  hash to what the checkpoint commits to */
	LOGCLIENT_KEY_CHANGED, /* the origin's checkpoint is signed by a key
				  other than the one recorded for it, and no
				  handover by the recorded key leads there:
				  exit 4 */
};

struct logclient_result {
	enum logclient_status status;
	char msg[2048];
	/* Evidence of a SECURITY failure (NULL, 0 where there is none): the
	 * signed checkpoints, verbatim and malloc'd, and the failing proof. */
	char *old_checkpoint;
	char *old_source; /* where the old one came from, malloc'd */
	char *new_checkpoint;
	char *new_source;
	const char *proof_kind;    /* "consistency" or "inclusion" (static) */
	uint64_t proof_a, proof_b; /* sizes (consistency) or index, size */
	struct merkle_hash proof[MERKLE_PROOF_MAX];
	size_t proof_len;
	/* LOGCLIENT_KEY_CHANGED: the key recorded for the origin and the one
	 * the log presents (a verifier key, or "name+keyid" when the log
	 * does not give the key itself), as strings. */
	char recorded_key[NOTE_KEY_MAX];
	char presented_key[NOTE_KEY_MAX];
	/* On success, what the user should know though nothing failed (a
	 * key handover followed, a key accepted or used in place of the one
	 * given), or "". */
	char notice[2048];
};

/* Frees r's evidence and zeroes it; accepts a zeroed result. */
void logclient_result_clear(struct logclient_result *r);

/* Prints r to f: "vigil: MESSAGE", and for a SECURITY failure a line
 * "vigil: SECURITY: ..." followed by the evidence: both checkpoints in
 * full and the proof's hashes in base64. Prints nothing for LOGCLIENT_OK. */
void logclient_result_print(const struct logclient_result *r, FILE *f);

/* The exit status of vigil log for a status: 0 OK, 1 NOT_PROVEN, 3
 * SECURITY, 4 KEY_CHANGED, 2 any other failure. */
int logclient_exit_status(enum logclient_status s);

/*
 * Fetches relpath ("checkpoint", "tile/0/000.p/5") of the log, at most
 * max bytes, into *data (malloc'd; the caller frees it) and *len. Returns
 * 0, VG_ENOENT (the log does not have it: 404), VG_ELIMIT (larger than
 * max) or VG_EIO (no answer, another status), with a message in err.
 */
typedef int (*logclient_get_fn)(void *ud, const char *relpath, size_t max,
				uint8_t **data, size_t *len, char *err,
				size_t errlen);

/* The HTTP fetcher over libcurl: ud is a struct logclient_http. */
struct logclient_http;

/* Returns a fetcher context for the URL prefix (a trailing '/' is
 * dropped), or NULL (VG_EINVAL) if it is not an http:// or https:// URL.
 * Free with logclient_http_free(). */
struct logclient_http *logclient_http_new(const char *prefix);
void logclient_http_free(struct logclient_http *h);
int logclient_http_get(void *ud, const char *relpath, size_t max,
		       uint8_t **data, size_t *len, char *err, size_t errlen);

struct logclient_config {
	const char *source; /* the log's URL, for messages */
	logclient_get_fn get;
	void *get_ud;
	const char *origin; /* the checkpoints' origin line */
	const struct note_verifier *log_key;
	const struct note_verifier *witnesses;
	size_t nwitnesses;
	size_t quorum;          /* cosignatures needed: 0..nwitnesses */
	const char *state_root; /* the directory of every log's state
				   ($VIGIL_HOME/logs), or NULL for none */
	/* A key to trust for the origin from now on, in place of the one
	 * recorded (vigil log --accept-key), or NULL. */
	const struct note_verifier *accept_key;
};

struct logclient;

/* Makes a client (nothing is fetched yet) in *out, for logclient_free().
 * The config's strings and keys are copied. Returns 0, or VG_EINVAL (a
 * quorum above the witnesses, no key, an empty origin) with a message in
 * r. */
int logclient_new(const struct logclient_config *cfg, struct logclient **out,
		  struct logclient_result *r)
	__attribute__((warn_unused_result));

/* Frees lc; accepts NULL. */
void logclient_free(struct logclient *lc);

/*
 * Fetches the log's checkpoint, opens it with the origin's key (above:
 * the recorded one, the accepted one, the given one, or the new key of a
 * handover it follows), checks it against its tiles, checks it extends
 * the checkpoint stored for that key and the one held before, and stores
 * it if it is at least as large; it becomes the client's current
 * checkpoint. Returns 0 (with r->notice set if there is something to
 * tell), or a negative VG_E* code with r saying why (a checkpoint smaller
 * than the stored one is an error: nothing is stored; another key with
 * no handover to follow is LOGCLIENT_KEY_CHANGED).
 */
int logclient_update(struct logclient *lc, struct logclient_result *r)
	__attribute__((warn_unused_result));

/* The current checkpoint (NULL before a successful update), and its
 * signed note in *text, *len if text is not NULL; owned by lc. */
const struct checkpoint *logclient_current(const struct logclient *lc,
					   const char **text, size_t *len);

/*
 * Fetches entry index of the current tree and proves it: its bundle must
 * hash to its level-0 tile and its inclusion proof, generated from the
 * tiles, must verify against the root. Returns 0 with the entry in *data
 * (malloc'd; the caller frees it), *len, and the proof in proof
 * (MERKLE_PROOF_MAX hashes) and *n; or a negative code with r saying why
 * (NOT_PROVEN for an index not below the size).
 */
int logclient_entry(struct logclient *lc, uint64_t index, uint8_t **data,
		    size_t *len, struct merkle_hash proof[], size_t *n,
		    struct logclient_result *r)
	__attribute__((warn_unused_result));

/* Finds the first entry of the current tree whose leaf hash is leaf, from
 * the level-0 tiles (each checked as above). Returns 0 and *index, or
 * VG_ENOENT with r NOT_PROVEN, or another error. */
int logclient_find(struct logclient *lc, const struct merkle_hash *leaf,
		   uint64_t *index, struct logclient_result *r)
	__attribute__((warn_unused_result));

/* Formats a c2sp.org/tlog-proof@v1 of entry index with its inclusion
 * proof and the current signed checkpoint into *out (malloc'd) and *len.
 * Returns 0 or a negative code with r saying why. */
int logclient_proof_format(const struct logclient *lc, uint64_t index,
			   const struct merkle_hash proof[], size_t n,
			   char **out, size_t *len, struct logclient_result *r)
	__attribute__((warn_unused_result));

/*
 * Verifies offline the tlog-proof text[0..len) for the entry
 * entry[0..entry_len) (tlog_proof_parse, tlog_proof_verify) against the
 * config's origin, key, witnesses and quorum (get and state_root are not
 * used). Returns 0 with the entry's index and the proof's checkpoint size
 * in *index, *size; or a negative code with r: ERROR for a malformed
 * proof, BAD_SIGNATURE or TOO_FEW_WITNESSES for its checkpoint,
 * NOT_PROVEN if the proof does not prove this entry.
 */
int logclient_verify_proof(const struct logclient_config *cfg, const char *text,
			   size_t len, const uint8_t *entry, size_t entry_len,
			   uint64_t *index, uint64_t *size,
			   struct logclient_result *r)
	__attribute__((warn_unused_result));

/*
 * Writes origin as a file name into buf (at least
 * LOGCLIENT_STATE_NAME_MAX + 1 bytes): letters, digits, '-', '_' and '.'
 * are kept (a leading '.' is not), every other byte is %XX; a name that
 * would be longer is cut and ends in '~' and 32 hex digits of the
 * origin's SHA-256. Distinct origins get distinct names, none of them
 * "." or "..", none with a '/'. Returns 0 or VG_ELIB.
 */
int logclient_state_name(const char *origin, char *buf, size_t len)
	__attribute__((warn_unused_result));

/* Writes the name of k's state directory (see above) into buf: the
 * first 16 bytes of SHA-256 of k's verifier key string, in lowercase hex.
 * Returns 0 or VG_ELIB. */
int logclient_key_name(const struct note_verifier *k,
		       char buf[LOGCLIENT_KEY_NAME_LEN + 1])
	__attribute__((warn_unused_result));

#endif
