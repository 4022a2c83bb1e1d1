/*
 * merkle.c - RFC 6962 / 9162 tree hashing and proofs; see merkle.h.
 *
 * Generation walks the tree from the root down to the leaf (or to the
 * old tree's edge), collecting one hash per level, and then reverses them
 * into the RFC's leaf-to-root order. Every hash it collects is the root of
 * a range D[start:end] that is a node of the tree; range_hash() builds it
 * from the complete subtrees that make it up, which is all a reader has.
 *
 * Verification is the RFC 9162 algorithm, after a check of the proof's
 * length against the sizes so that a proof of the wrong shape gets a
 * message saying so rather than a root mismatch.
 */
#include "tlog/merkle.h"

#include <inttypes.h>
#include <string.h>

#include "common/err.h"
#include "tlog/util.h"

_Static_assert(MERKLE_HASH_LEN == TLOG_SHA256_LEN, "SHA-256 tree");

static const struct merkle_hash empty_root = {{
	0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
	0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
	0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
}};

/* Number of significant bits of x (0 for 0). */
static unsigned
bit_len(uint64_t x)
{
	return x == 0 ? 0 : 64 - (unsigned)__builtin_clzll(x);
}

/* Largest power of two strictly below n, for n >= 2. */
static uint64_t
split_point(uint64_t n)
{
	return (uint64_t)1 << (bit_len(n - 1) - 1);
}

int
merkle_hash_leaf(const void *data, size_t len, struct merkle_hash *out)
{
	static const uint8_t prefix = 0x00;
	struct tlog_bytes parts[] = {{&prefix, 1}, {data, len}};

	return tlog_sha256(parts, 2, out->b);
}

int
merkle_hash_children(const struct merkle_hash *left,
		     const struct merkle_hash *right, struct merkle_hash *out)
{
	static const uint8_t prefix = 0x01;
	struct tlog_bytes parts[] = {
		{&prefix, 1},
		{left->b, MERKLE_HASH_LEN},
		{right->b, MERKLE_HASH_LEN},
	};

	return tlog_sha256(parts, 3, out->b);
}

void
merkle_hash_empty(struct merkle_hash *out)
{
	*out = empty_root;
}

/* Folds the roots of adjacent complete subtrees, largest (leftmost) first,
 * into the root of their union: the right edge of an RFC 6962 tree. */
static int
fold_right(struct merkle_hash *stack, unsigned n, struct merkle_hash *out)
{
	struct merkle_hash h;
	int rc;

	if (n == 0) /* an empty range is no node; callers never ask */
		return VG_EINVAL;
	h = stack[n - 1];
	for (unsigned i = n - 1; i-- > 0;)
		if ((rc = merkle_hash_children(&stack[i], &h, &h)) != 0)
			return rc;
	*out = h;
	return 0;
}

int
merkle_root(const struct merkle_hash *leaves, uint64_t n,
	    struct merkle_hash *out)
{
	/* stack[i] is the root of a complete subtree of 2^level[i] leaves;
	 * levels strictly decrease, so there are at most 64 of them. */
	struct merkle_hash stack[64];
	unsigned level[64], top = 0;
	int rc;

	if (n == 0) {
		*out = empty_root;
		return 0;
	}
	for (uint64_t i = 0; i < n; i++) {
		stack[top] = leaves[i];
		level[top++] = 0;
		while (top >= 2 && level[top - 1] == level[top - 2]) {
			rc = merkle_hash_children(&stack[top - 2],
						  &stack[top - 1],
						  &stack[top - 2]);
			if (rc != 0)
				return rc;
			level[top - 2]++;
			top--;
		}
	}
	return fold_right(stack, top, out);
}

/* Computes the root of D[start:end], a node of the tree: start is a
 * multiple of the largest power of two not above end - start. */
static int
range_hash(const struct merkle_reader *r, uint64_t start, uint64_t end,
	   struct merkle_hash *out)
{
	struct merkle_hash stack[64];
	uint64_t len = end - start;
	unsigned n = 0;
	int rc;

	for (unsigned b = 64; b-- > 0;) {
		if (!(len >> b & 1))
			continue;
		if ((rc = r->read(r->ctx, b, start >> b, &stack[n++])) != 0)
			return rc;
		start += (uint64_t)1 << b;
	}
	return fold_right(stack, n, out);
}

int
merkle_root_from_reader(const struct merkle_reader *r, uint64_t size,
			struct merkle_hash *out)
{
	if (size == 0) {
		*out = empty_root;
		return 0;
	}
	return range_hash(r, 0, size, out);
}

static void
reverse(struct merkle_hash *h, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		struct merkle_hash t = h[i];

		h[i] = h[n - 1 - i];
		h[n - 1 - i] = t;
	}
}

int
merkle_prove_inclusion(const struct merkle_reader *r, uint64_t index,
		       uint64_t size, struct merkle_hash proof[], size_t *n,
		       char *err, size_t errlen)
{
	uint64_t start = 0, end = size;
	size_t k = 0;
	int rc;

	if (index >= size) {
		vg_seterr(err, errlen,
			  "index %" PRIu64 " is not below tree size %" PRIu64,
			  index, size);
		return VG_EINVAL;
	}
	while (end - start > 1) {
		uint64_t mid = start + split_point(end - start);

		if (index < mid) {
			rc = range_hash(r, mid, end, &proof[k++]);
			end = mid;
		} else {
			rc = range_hash(r, start, mid, &proof[k++]);
			start = mid;
		}
		if (rc != 0) {
			vg_seterr(err, errlen, "reading stored hashes: %s",
				  vg_strerror(rc));
			return rc;
		}
	}
	reverse(proof, k);
	*n = k;
	return 0;
}

int
merkle_prove_consistency(const struct merkle_reader *r, uint64_t size1,
			 uint64_t size2, struct merkle_hash proof[], size_t *n,
			 char *err, size_t errlen)
{
	uint64_t start = 0, end = size2;
	size_t k = 0;
	int whole = 1; /* the RFC's b: D[start:end] is the whole new tree's
			  leftmost path, so the old root need not be sent */
	int rc = 0;

	if (size1 == 0 || size1 > size2) {
		vg_seterr(err, errlen,
			  "no consistency proof from size %" PRIu64
			  " to size %" PRIu64,
			  size1, size2);
		return VG_EINVAL;
	}
	while (rc == 0) {
		uint64_t mid;

		if (size1 == end) {
			if (!whole)
				rc = range_hash(r, start, end, &proof[k++]);
			break;
		}
		mid = start + split_point(end - start);
		if (size1 <= mid) {
			rc = range_hash(r, mid, end, &proof[k++]);
			end = mid;
		} else {
			rc = range_hash(r, start, mid, &proof[k++]);
			start = mid;
			whole = 0;
		}
	}
	if (rc != 0) {
		vg_seterr(err, errlen, "reading stored hashes: %s",
			  vg_strerror(rc));
		return rc;
	}
	reverse(proof, k);
	*n = k;
	return 0;
}

size_t
merkle_inclusion_len(uint64_t index, uint64_t size)
{
	/* Below the level where the paths to index and to the last leaf
	 * part, every level has a sibling; above it, only the levels where
	 * index's path turns right have one (a left sibling). */
	unsigned inner = bit_len(index ^ (size - 1));
	uint64_t above = inner >= 64 ? 0 : index >> inner;

	return inner + (size_t)__builtin_popcountll(above);
}

size_t
merkle_consistency_len(uint64_t size1, uint64_t size2)
{
	unsigned shift;
	size_t n;

	if (size1 == size2)
		return 0;
	/* The inclusion path of the old tree's last leaf, minus the levels
	 * inside the old tree's largest complete right subtree (2^shift
	 * leaves), plus that subtree's root unless it is the whole old
	 * tree. */
	shift = (unsigned)__builtin_ctzll(size1);
	n = merkle_inclusion_len(size1 - 1, size2) - shift;
	return size1 == (uint64_t)1 << shift ? n : n + 1;
}

int
merkle_verify_inclusion(uint64_t index, uint64_t size,
			const struct merkle_hash *leaf,
			const struct merkle_hash *proof, size_t n,
			const struct merkle_hash *root, char *err,
			size_t errlen)
{
	struct merkle_hash r = *leaf;
	uint64_t fn, sn;
	size_t want;
	int rc;

	if (index >= size) {
		vg_seterr(err, errlen,
			  "index %" PRIu64 " is not below tree size %" PRIu64,
			  index, size);
		return VG_EINVAL;
	}
	want = merkle_inclusion_len(index, size);
	if (n != want) {
		vg_seterr(err, errlen,
			  "inclusion proof has %zu hashes; index %" PRIu64
			  " in a tree of %" PRIu64 " needs %zu",
			  n, index, size, want);
		return VG_EFORMAT;
	}
	/* RFC 9162 section 2.1.3.2. */
	fn = index;
	sn = size - 1;
	for (size_t i = 0; i < n; i++) {
		if (sn == 0) {
			vg_seterr(err, errlen, "inclusion proof too long");
			return VG_EFORMAT;
		}
		if ((fn & 1) || fn == sn) {
			rc = merkle_hash_children(&proof[i], &r, &r);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			rc = merkle_hash_children(&r, &proof[i], &r);
		}
		if (rc != 0) {
			vg_seterr(err, errlen, "hashing failed");
			return rc;
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0) {
		vg_seterr(err, errlen, "inclusion proof too short");
		return VG_EFORMAT;
	}
	if (!merkle_hash_equal(&r, root)) {
		vg_seterr(err, errlen,
			  "inclusion proof does not lead to the root");
		return VG_EVERIFY;
	}
	return 0;
}

/* The case of equal sizes: no proof, one root. */
static int
verify_same_size(uint64_t size, const struct merkle_hash *root1,
		 const struct merkle_hash *root2, size_t n, char *err,
		 size_t errlen)
{
	if (n != 0) {
		vg_seterr(err, errlen,
			  "consistency proof between equal sizes must be "
			  "empty, has %zu hashes",
			  n);
		return VG_EFORMAT;
	}
	if (size == 0 && (!merkle_hash_equal(root1, &empty_root) ||
			  !merkle_hash_equal(root2, &empty_root))) {
		vg_seterr(err, errlen,
			  "the root of the empty tree is not SHA-256(\"\")");
		return VG_EVERIFY;
	}
	if (!merkle_hash_equal(root1, root2)) {
		vg_seterr(err, errlen,
			  "trees of size %" PRIu64 " with different roots",
			  size);
		return VG_EVERIFY;
	}
	return 0;
}

int
merkle_verify_consistency(uint64_t size1, uint64_t size2,
			  const struct merkle_hash *root1,
			  const struct merkle_hash *root2,
			  const struct merkle_hash *proof, size_t n, char *err,
			  size_t errlen)
{
	struct merkle_hash fr, sr;
	uint64_t fn, sn;
	size_t want, i;
	int rc = 0;

	if (size1 > size2) {
		vg_seterr(err, errlen,
			  "old size %" PRIu64 " above new size %" PRIu64, size1,
			  size2);
		return VG_EINVAL;
	}
	if (size1 == size2)
		return verify_same_size(size1, root1, root2, n, err, errlen);
	if (size1 == 0) {
		vg_seterr(err, errlen,
			  "no consistency proof from the empty tree");
		return VG_EINVAL;
	}
	want = merkle_consistency_len(size1, size2);
	if (n != want) {
		vg_seterr(err, errlen,
			  "consistency proof has %zu hashes; size %" PRIu64
			  " to %" PRIu64 " needs %zu",
			  n, size1, size2, want);
		return VG_EFORMAT;
	}
	/* RFC 9162 section 2.1.4.2. When size1 is a power of two the old
	 * root is the proof's implied first element. */
	if (size1 == (uint64_t)1 << __builtin_ctzll(size1)) {
		fr = sr = *root1;
		i = 0;
	} else {
		fr = sr = proof[0];
		i = 1;
	}
	fn = size1 - 1;
	sn = size2 - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < n && rc == 0; i++) {
		if (sn == 0) {
			vg_seterr(err, errlen, "consistency proof too long");
			return VG_EFORMAT;
		}
		if ((fn & 1) || fn == sn) {
			rc = merkle_hash_children(&proof[i], &fr, &fr);
			if (rc == 0)
				rc = merkle_hash_children(&proof[i], &sr, &sr);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			rc = merkle_hash_children(&sr, &proof[i], &sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (rc != 0) {
		vg_seterr(err, errlen, "hashing failed");
		return rc;
	}
	if (sn != 0) {
		vg_seterr(err, errlen, "consistency proof too short");
		return VG_EFORMAT;
	}
	if (!merkle_hash_equal(&fr, root1)) {
		vg_seterr(err, errlen,
			  "consistency proof does not lead to the old root");
		return VG_EVERIFY;
	}
	if (!merkle_hash_equal(&sr, root2)) {
		vg_seterr(err, errlen,
			  "consistency proof does not lead to the new root");
		return VG_EVERIFY;
	}
	return 0;
}
