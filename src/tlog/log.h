/*
 * log.h - the durable, crash-safe tiled log a node runs: its sequencer's
 * storage. It appends entries, writes the C2SP tlog-tiles files, signs
 * checkpoints (tlog-checkpoint) and answers reads and proofs from those
 * files; docs/LOG.md.
 *
 * Layout. The directory holds the tlog-tiles resources of the published
 * tree under their own names (<dir>/X is <prefix>/X):
 *   checkpoint                 the latest signed checkpoint (note text)
 *   tile/<L>/<N>[.p/<W>]       hash tiles (tile_path())
 *   tile/entries/<N>[.p/<W>]   entry bundles
 *   state                      private, never served: the tree head the
 *                              signer has committed to (size, root, and
 *                              a SHA-256 checksum of both)
 * and, after a crash, leftovers no reader is given: ".<name>.tmp" files
 * next to the names above, and tiles beyond the state's size. Serve the
 * log only through tlog_log_read(), never by listing the directory.
 * Directories are created 0700 and files 0600; one process at a time has
 * the directory open (flock on it); a second open is VG_EINVAL.
 *
 * Appending. tlog_log_append() sequences a batch (group commit):
 *   1. writes the entry bundles and hash tiles the batch adds, each to a
 *      temporary file that is fsync()ed and renamed over its name, then
 *      fsync()s their directories. A tile that becomes full gets its full
 *      file; the rightmost tile of each level that changed gets a new
 *      .p/<W> file. A tile file a published checkpoint covers is never
 *      written again: the batch writes only tiles the old tree lacks;
 *   2. checks, from the files just written, that they hold the root it
 *      computed in memory and that the tree of the current state is a
 *      prefix of the new tree (the old state's root recomputed from the
 *      new tiles, and a consistency proof generated from them and
 *      verified); VG_ECORRUPT if not, and nothing is signed;
 *   3. persists the new state (temporary file, fsync, rename, directory
 *      fsync);
 *   4. signs the checkpoint of the state and publishes it the same way.
 * It returns 0 only once the batch is covered by that durable, published
 * checkpoint. A batch of k entries on a log of N writes O(k/256 + log N)
 * files. A failure before the state's rename leaves the log as it was
 * (what was written is garbage, overwritten by a later batch); after it,
 * what is durable is not known: every later append is VG_EIO until the
 * log is reopened, which settles it as after a crash, and reads go on
 * serving the published tree meanwhile.
 *
 * Crash rule. The state is written before the checkpoint that signs it,
 * and the state only moves to a tree checked to extend the previous one,
 * so every checkpoint ever signed is the checkpoint of some state and the
 * states form one chain of consistent trees. After a crash at any moment
 * tlog_log_open() finds one of:
 *   - state and checkpoint of the same tree: the log is there;
 *   - a checkpoint of an older tree than the state (the crash fell
 *     between 3 and 4): the checkpoint is checked to be a prefix of the
 *     state's tree and the state's checkpoint is signed and published;
 *     the log is at the state, the batch that was being appended is in
 *     the log although its append never returned;
 *   - no state and no checkpoint, tile directory or other file (the crash
 *     fell in the creation): the log is created afresh;
 * and anything else (a checkpoint ahead of the state or of another tree,
 * a state whose root the tiles do not give, a missing file, a checkpoint
 * not signed by the signer or of another origin) is VG_ECORRUPT with a
 * message, and nothing is signed. So an acknowledged entry is never
 * lost, the size never goes back, there is never a gap, and the signer
 * never signs two inconsistent checkpoints. Tiles beyond the state are
 * left from a batch that never reached step 3; no checkpoint covers them
 * and the next batches write over them. What the directory cannot show is
 * a rollback of all of it (a restored backup): witnesses catch that.
 *
 * Opening checks the state's checksum and root against the rightmost
 * tile of every level (the only ones the root depends on, O(log N)) and
 * the rightmost entry bundle against its leaf hashes. The tiles to their
 * left are not hashed again at open: a tile of the wrong length is
 * VG_ECORRUPT when read, tlog_log_entry() checks the entry against its
 * leaf hash, and a wrong hash shows as a proof that does not verify.
 *
 * Reading. Partial tiles: tlog-tiles requires a log to serve the partial
 * tiles of every size it signed a checkpoint for until the full tile
 * exists, and lets it keep serving them after. A tile at level L, index
 * N and width W is the first W hashes (or entries) of the tile at (L, N)
 * of the published tree, whatever size it was written at, so
 * tlog_log_read() serves exactly the tiles that are a prefix of a tile of
 * the published tree: the full ones, the rightmost partial ones, and
 * every narrower width of those, taken from the published tile itself
 * (never from an older .p file, which may be a crash's leftover). A
 * wider tile, a tile beyond the tree, or a full tile still partial is
 * VG_ENOENT: nothing is served that the published checkpoint does not
 * fix, and a path once served keeps its bytes as the log grows (tiles
 * are immutable, as tlog-tiles has them).
 *
 * Proofs and the tile cache. Proofs are generated from the tiles of the
 * published tree through a cache in memory, per open log: the first
 * proof that needs a tile reads its file and hashes the 254 nodes of the
 * 7 Merkle levels between its hashes and the next tile level, which
 * tlog-tiles does not store; later proofs look them up, so a proof is
 * about 20 lookups and no file read once its tiles are cached. Full
 * tiles never change and a partial one is the prefix of every later
 * tile at its place, so the cache is never invalidated: a proof that
 * needs a wider partial tile than the cached one (the log grew) reads it
 * and replaces it. The cache holds at most 64 MiB (about 4,100 tiles of
 * 16 KiB, the hash tiles of a log of some 1,000,000 entries; TCACHE_BYTES
 * in log.c), the least recently used going first (CLOCK), plus the
 * tile each proof in progress may be loading. Appends never use it:
 * their checks (step 2) always read the files, and so do
 * tlog_log_read(), tlog_log_entry() and tlog_log_find(). Changed tile
 * files: a tile file changed before its tile is cached is used as read,
 * as without a cache (a wrong length is VG_ECORRUPT, a wrong hash gives
 * proofs that do not verify); one changed after its tile is cached does
 * not change the proofs, which keep coming from the bytes read before,
 * until the tile leaves the cache (eviction, or tlog_log_close() and a
 * new open).
 *
 * Threads. One thread appends at a time (the node's sequencer thread;
 * appends are also serialized by a mutex). Any number of threads may
 * read concurrently with it: the published size and checkpoint are
 * switched under a mutex after the checkpoint file is in place, and tile
 * files are replaced only by rename, so a reader never sees half a file.
 * A proof holds the tile cache's read-write lock to read while it looks
 * tiles up (no entry is freed under it), and lets it go to read a file
 * and hash it on a miss; putting the tile in the cache (and evicting
 * one) takes it to write, briefly, ahead of new proofs.
 */
#ifndef VIGIL_TLOG_LOG_H
#define VIGIL_TLOG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tlog/merkle.h"
#include "tlog/note.h"
#include "tlog/tile.h"

struct tlog_log;

/*
 * A store other than a directory for the same log (the PostgreSQL one is
 * src/store/tlog_pg.h): resources by their tile path, and one head (the
 * state's size and root with the signed checkpoint of that tree), which
 * change only in batches that commit whole or not at all. Everything
 * above (planning, the checks of step 2, partial tiles, the tile cache,
 * proofs) is the same; what changes is steps 1, 3 and 4, which become one
 * batch: begin(), put() of every tile, the checks reading back through
 * read() in the appender's view, the checkpoint signed, and commit() of
 * the tiles, the head and the checkpoint together. A backend that may
 * refuse a batch (a lost lease) does so at begin() or commit(), and then
 * the head is as it was: the crash rule needs no state-then-checkpoint
 * order, and a checkpoint behind the head is VG_ECORRUPT.
 *
 * writer: the appender's view (what its open batch wrote, and the head as
 * the appender loads it), or a reader's (only what is committed). A
 * resource path is never written twice: put() of a path that exists is
 * an error. All return 0 or a VG_E* code with a message in err.
 */
struct tlog_backend {
	const char *name; /* for messages, as a log's directory */
	void *ctx;
	/* The resource path whole, at most max bytes, in *data (malloc'd,
	 * the caller frees it; NUL-terminated) and *len; VG_ENOENT if it is
	 * not stored. */
	int (*read)(void *ctx, bool writer, const char *path, size_t max,
		    uint8_t **data, size_t *len, char *err, size_t errlen);
	/* The head: size, root, and its checkpoint (malloc'd; NULL if none
	 * was signed yet); VG_ENOENT if there is no head. */
	int (*head)(void *ctx, bool writer, uint64_t *size,
		    struct merkle_hash *root, char **cp, size_t *cp_len,
		    char *err, size_t errlen);
	/* Opens a batch over the head of size leaves; refused unless this
	 * handle may append there now. */
	int (*begin)(void *ctx, uint64_t size, char *err, size_t errlen);
	int (*put)(void *ctx, const char *path, const uint8_t *data, size_t len,
		   char *err, size_t errlen);
	/* Moves the head from old_size to (size, root, cp) and commits the
	 * batch; the batch is over whatever it returns. On failure
	 * *unknown says whether it may have committed all the same (a lost
	 * connection at COMMIT). */
	int (*commit)(void *ctx, uint64_t old_size, uint64_t size,
		      const struct merkle_hash *root, const char *cp,
		      size_t cp_len, bool *unknown, char *err, size_t errlen);
	/* Rolls the open batch back. */
	void (*abort)(void *ctx);
};

/*
 * Opens the log in dir, creating dir (0700) and an empty log (size 0,
 * with the signed checkpoint of the empty tree) on first use, or loading
 * and checking it (see above; VG_ECORRUPT if its files disagree). origin
 * is the checkpoints' origin line; signer (not owned; it must outlive the
 * log) signs them, and the checkpoint on disk must verify with its key.
 * Returns 0 and a log in *out for tlog_log_close(), or VG_EINVAL (bad
 * origin, directory in use), VG_EIO, VG_ECORRUPT, VG_ELIB, with a message
 * in err.
 */
int tlog_log_open(const char *dir, const char *origin,
		  const struct note_signer *signer, struct tlog_log **out,
		  char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * As tlog_log_open(), when the log's key has been replaced: the published
 * checkpoint may instead verify with prev (copied), the key that signed
 * the log so far. Then, once every check above has passed, the state's
 * tree is signed again with signer and published, and the log goes on
 * under the new key; nothing else changes. Whoever calls it vouches for
 * prev (the node takes it from what it recorded while the old key was in
 * use, and says so in the log: docs/LOG.md). prev NULL is
 * tlog_log_open().
 */
int tlog_log_open_rekey(const char *dir, const char *origin,
			const struct note_signer *signer,
			const struct note_verifier *prev, struct tlog_log **out,
			char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * As tlog_log_open_rekey(), on be (not owned; it must outlive the log)
 * instead of a directory. A backend with no head yet gets the empty
 * tree's checkpoint, if be lets this handle begin a batch. Every handle
 * checks the head as tlog_log_open() checks the state (its root against
 * the rightmost tiles, its checkpoint against the key and origin).
 */
int tlog_log_open_backend(const struct tlog_backend *be, const char *origin,
			  const struct note_signer *signer,
			  const struct note_verifier *prev,
			  struct tlog_log **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Loads the head of a backend's log again, for its appender, and checks
 * it as an open does, and that it extends the tree l published (so a new
 * appender never forks what this handle served). Clears the failure that
 * made appends VG_EIO. Returns 0, VG_EINVAL (a directory's log: reopen
 * it), VG_ECORRUPT, VG_EIO.
 */
int tlog_log_reload(struct tlog_log *l, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Publishes the head of a backend's log as it is committed now, for a
 * handle that does not append (a reader's view): only a head whose
 * checkpoint verifies with the log's key, of its origin and tree, and
 * whose tree extends the published one (root and consistency proof from
 * the committed tiles); else VG_ECORRUPT and nothing changes. A
 * directory's log: 0, nothing to do.
 */
int tlog_log_refresh(struct tlog_log *l, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Closes l and releases its directory; accepts NULL. */
void tlog_log_close(struct tlog_log *l);

/*
 * Appends the n entries as one batch at indexes *first_index ..
 * *first_index + n - 1 and returns once a durable published checkpoint
 * covers them (see above); n = 0 does nothing. Entries are copied.
 * Returns 0, or VG_ELIMIT (an entry over TILE_ENTRY_MAX bytes, or the log
 * would pass 2^64-1 entries), VG_EINVAL (NULL data), VG_EIO (write
 * failed, or an earlier append failed past its state: reopen),
 * VG_ECORRUPT (stored tiles that do not extend the signed tree), VG_ELIB,
 * with a message in err.
 */
int tlog_log_append(struct tlog_log *l, const struct tile_entry *entries,
		    size_t n, uint64_t *first_index, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Returns the size of the published tree. */
uint64_t tlog_log_size(const struct tlog_log *l);

/* Returns the published signed checkpoint, malloc'd and NUL-terminated,
 * in *text (the caller frees it), its length in *len, and, if size is not
 * NULL, the size of the tree it signs (read together: an append between
 * cannot mix them). Returns 0. */
int tlog_log_checkpoint(struct tlog_log *l, char **text, size_t *len,
			uint64_t *size);

/*
 * Returns the resource relpath of the published log ("checkpoint", or a
 * tile path exactly as tile_parse_path() accepts it) in *data, malloc'd
 * (the caller frees it), and its length in *len. Returns 0, VG_ENOENT for
 * any other path and for a tile the published tree does not have (see
 * "Partial tiles" above), VG_ECORRUPT or VG_EIO if its file is missing or
 * makes no sense. Only the parsed tile's own path is ever opened.
 */
int tlog_log_read(struct tlog_log *l, const char *relpath, uint8_t **data,
		  size_t *len);

/* Returns entry index of the published tree in *data, malloc'd (the
 * caller frees it; never NULL), and its length in *len, after checking it
 * against its leaf hash. Returns 0, VG_ENOENT if index is not below the
 * size, VG_ECORRUPT, VG_EIO. */
int tlog_log_entry(struct tlog_log *l, uint64_t index, uint8_t **data,
		   size_t *len);

/* Generates the inclusion proof of entry index in the tree of size leaves
 * (0 < size <= the published size) into proof (MERKLE_PROOF_MAX hashes)
 * and *n. Returns 0, VG_EINVAL (index >= size, size beyond the log),
 * VG_ECORRUPT, VG_EIO. */
int tlog_log_prove_inclusion(struct tlog_log *l, uint64_t index, uint64_t size,
			     struct merkle_hash *proof, size_t *n);

/* Generates the consistency proof from the tree of size1 leaves to that of
 * size2 (0 < size1 <= size2 <= the published size) into proof
 * (MERKLE_PROOF_MAX hashes) and *n. Returns 0, VG_EINVAL (sizes out of
 * range; size1 = 0 needs no proof), VG_ECORRUPT, VG_EIO. */
int tlog_log_prove_consistency(struct tlog_log *l, uint64_t size1,
			       uint64_t size2, struct merkle_hash *proof,
			       size_t *n);

/* Stores in *index the first entry of the published tree whose leaf hash
 * is leaf_hash. A linear scan of the level-0 tiles (N/256 reads); an index
 * by hash would replace it. Returns 0, VG_ENOENT, VG_ECORRUPT, VG_EIO. */
int tlog_log_find(struct tlog_log *l, const struct merkle_hash *leaf_hash,
		  uint64_t *index);

#endif
