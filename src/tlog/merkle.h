/*
 * merkle.h - RFC 6962 / RFC 9162 Merkle tree hashing, and the generation
 * and verification of inclusion and consistency proofs.
 *
 * Hashing is SHA-256: a leaf is SHA-256(0x00 || entry), an interior node
 * SHA-256(0x01 || left || right), and the tree of no leaves has the root
 * SHA-256(""). A tree of n > 1 leaves splits at k, the largest power of two
 * below n: its root is the node of the roots of the first k leaves and of
 * the remaining n - k (RFC 9162 section 2.1.1).
 *
 * Stored hashes. Generation reads the tree through a struct merkle_reader,
 * which returns the hash of the complete subtree at (level, index): the
 * 2^level leaves index * 2^level .. (index + 1) * 2^level - 1. Those are
 * exactly the "stored hashes" of C2SP tlog-tiles (a tile at tile level L
 * holds the subtrees of level 8L; the levels in between are hashed from
 * them), so tile.h supplies a reader over tiles, and a test can supply one
 * over an array of leaves. Only subtrees complete within the tree size
 * given are asked for; the hash of a partial right edge is built from them.
 *
 * Verification follows RFC 9162 sections 2.1.3.2 (inclusion) and 2.1.4.2
 * (consistency). Every failure is one of three codes, with a message:
 *   VG_EINVAL  - the question has no answer: index not below the tree
 *                size, size1 > size2, or a consistency proof from the
 *                empty tree (every tree extends it; callers check that
 *                case themselves and need no proof);
 *   VG_EFORMAT - the proof has the wrong number of hashes for the sizes;
 *   VG_EVERIFY - the proof has the right shape but does not lead to the
 *                given root(s); for equal sizes, the roots differ.
 * A tree of size 0 has exactly one root, SHA-256(""); any other claimed
 * root for it is VG_EVERIFY.
 */
#ifndef VIGIL_TLOG_MERKLE_H
#define VIGIL_TLOG_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MERKLE_HASH_LEN 32
/* No proof in a tree of fewer than 2^64 leaves has more hashes than this
 * (an inclusion proof at most 64, a consistency proof at most 65). */
#define MERKLE_PROOF_MAX 65

struct merkle_hash {
	uint8_t b[MERKLE_HASH_LEN];
};

/* True if a and b are the same hash. */
static inline bool
merkle_hash_equal(const struct merkle_hash *a, const struct merkle_hash *b)
{
	return memcmp(a->b, b->b, MERKLE_HASH_LEN) == 0;
}

/*
 * Fills *out with the hash of the complete subtree at (level, index).
 * Returns 0 or a negative VG_E* code, which generation passes on:
 * VG_ECORRUPT for stored data that makes no sense, VG_EIO, ...
 */
typedef int (*merkle_read_fn)(void *ctx, unsigned level, uint64_t index,
			      struct merkle_hash *out);

struct merkle_reader {
	merkle_read_fn read;
	void *ctx;
};

/* Hashes len bytes of entry data as a leaf. Returns 0 or VG_ELIB. */
int merkle_hash_leaf(const void *data, size_t len, struct merkle_hash *out)
	__attribute__((warn_unused_result));

/* Hashes two subtree roots into their parent. Returns 0 or VG_ELIB. */
int merkle_hash_children(const struct merkle_hash *left,
			 const struct merkle_hash *right,
			 struct merkle_hash *out)
	__attribute__((warn_unused_result));

/* Stores the root of the empty tree, SHA-256(""). */
void merkle_hash_empty(struct merkle_hash *out);

/* Computes the root of the n leaf hashes at leaves (the empty root if n is
 * 0), in O(log n) memory. Returns 0 or VG_ELIB. */
int merkle_root(const struct merkle_hash *leaves, uint64_t n,
		struct merkle_hash *out) __attribute__((warn_unused_result));

/* Computes the root of the tree of the first size leaves from stored
 * hashes. Returns 0 or the reader's or hashing's error. */
int merkle_root_from_reader(const struct merkle_reader *r, uint64_t size,
			    struct merkle_hash *out)
	__attribute__((warn_unused_result));

/*
 * Generates the inclusion proof of leaf index in the tree of size leaves:
 * *n hashes into proof (which must hold MERKLE_PROOF_MAX), from the leaf's
 * sibling up to the root's child. VG_EINVAL unless index < size; otherwise
 * 0 or the reader's error, with a message in err.
 */
int merkle_prove_inclusion(const struct merkle_reader *r, uint64_t index,
			   uint64_t size, struct merkle_hash proof[], size_t *n,
			   char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Generates the consistency proof from the tree of size1 leaves to the
 * tree of size2: *n hashes into proof (none when the sizes are equal).
 * VG_EINVAL unless 0 < size1 <= size2; otherwise 0 or the reader's error.
 * proof must hold MERKLE_PROOF_MAX hashes.
 */
int merkle_prove_consistency(const struct merkle_reader *r, uint64_t size1,
			     uint64_t size2, struct merkle_hash proof[],
			     size_t *n, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Returns the number of hashes in the inclusion proof of index in a tree
 * of size leaves (index < size). */
size_t merkle_inclusion_len(uint64_t index, uint64_t size);

/* Returns the number of hashes in the consistency proof from size1 to
 * size2 leaves (0 < size1 <= size2). */
size_t merkle_consistency_len(uint64_t size1, uint64_t size2);

/*
 * Verifies that the n hashes at proof prove the leaf hash at index in the
 * tree of size leaves with the given root. Returns 0, or VG_EINVAL,
 * VG_EFORMAT or VG_EVERIFY as described above (VG_ELIB if hashing fails),
 * with a message in err.
 */
int merkle_verify_inclusion(uint64_t index, uint64_t size,
			    const struct merkle_hash *leaf,
			    const struct merkle_hash *proof, size_t n,
			    const struct merkle_hash *root, char *err,
			    size_t errlen) __attribute__((warn_unused_result));

/*
 * Verifies that the n hashes at proof prove the tree of size2 leaves with
 * root2 an extension of the tree of size1 leaves with root1. Returns 0, or
 * VG_EINVAL, VG_EFORMAT or VG_EVERIFY as described above (VG_ELIB if
 * hashing fails), with a message in err.
 */
int merkle_verify_consistency(uint64_t size1, uint64_t size2,
			      const struct merkle_hash *root1,
			      const struct merkle_hash *root2,
			      const struct merkle_hash *proof, size_t n,
			      char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
