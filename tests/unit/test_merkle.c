/*
 * test_merkle.c - RFC 6962 hashing and proofs (src/tlog/merkle.c).
 *
 * Every vector of tests/data/merkle (transparency-dev/merkle) is run: the
 * happy paths verify and every "wantErr" one is refused, with one of the
 * three documented codes. Generation over the README's 8 leaves reproduces
 * the vectors' proofs byte for byte. Generated proofs for every index and
 * every pair of sizes up to 70 leaves verify, and each altered one (a bit
 * flipped, a hash added or removed, another index or size) is refused.
 * Trees of up to 2^64 - 1 identical leaves check the arithmetic at the
 * top of the range.
 *
 * Vector values that are not 32 bytes: a leaf hash or proof hash of
 * another length is refused while decoding (struct merkle_hash cannot hold
 * one, as a real client's parser refuses it); a root of another length
 * ("don't care" placeholders) becomes a 32-byte stand-in, equal for equal
 * placeholders, since the verifier only compares roots.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "tlog/merkle.h"
#include "tlog/util.h"

#define MAX_FILES 256

/* The README's 8 leaves and the root of all 8. */
static const char *const leaf_hex[8] = {
	"",
	"00",
	"10",
	"2021",
	"3031",
	"40414243",
	"5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
};
static const char root8_hex[] =
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";

static struct merkle_hash leaves8[8];

static void
from_hex(const char *hex, uint8_t *out, size_t *len)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	*len = n;
}

static int
setup_leaves(void **state)
{
	(void)state;
	for (int i = 0; i < 8; i++) {
		uint8_t data[16];
		size_t n;

		from_hex(leaf_hex[i], data, &n);
		if (merkle_hash_leaf(data, n, &leaves8[i]) != 0)
			return -1;
	}
	return 0;
}

/* A reader over an array of leaf hashes: the subtree's root, computed. */
struct mem_tree {
	const struct merkle_hash *leaves;
	uint64_t n;
	unsigned reads;
};

static int
mem_read(void *ctx, unsigned level, uint64_t index, struct merkle_hash *out)
{
	struct mem_tree *t = ctx;
	uint64_t start = index << level, count = (uint64_t)1 << level;

	t->reads++;
	assert_true(level < 64);
	assert_true(start + count <= t->n); /* only complete subtrees */
	return merkle_root(t->leaves + start, count, out);
}

static void
leaves_of(struct merkle_hash *leaves, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		char s[32];
		int len = snprintf(s, sizeof(s), "leaf %llu",
				   (unsigned long long)i);

		assert_int_equal(merkle_hash_leaf(s, (size_t)len, &leaves[i]),
				 0);
	}
}

/* --- hashing ------------------------------------------------------------ */

static void
test_empty_leaf_node_and_root8_hashes(void **state)
{
	struct merkle_hash h, e, want;
	uint8_t buf[32];
	size_t n;

	(void)state;
	merkle_hash_empty(&e);
	assert_int_equal(EVP_Digest("", 0, buf, NULL, EVP_sha256(), NULL), 1);
	assert_memory_equal(e.b, buf, 32);
	assert_int_equal(merkle_root(NULL, 0, &h), 0);
	assert_memory_equal(h.b, e.b, 32);

	/* leaf("") = SHA-256(0x00) */
	assert_int_equal(EVP_Digest("\0", 1, buf, NULL, EVP_sha256(), NULL), 1);
	assert_memory_equal(leaves8[0].b, buf, 32);
	/* node(a, b) = SHA-256(0x01 || a || b) */
	{
		uint8_t cat[65];

		cat[0] = 1;
		memcpy(cat + 1, leaves8[0].b, 32);
		memcpy(cat + 33, leaves8[1].b, 32);
		assert_int_equal(
			EVP_Digest(cat, 65, buf, NULL, EVP_sha256(), NULL), 1);
		assert_int_equal(
			merkle_hash_children(&leaves8[0], &leaves8[1], &h), 0);
		assert_memory_equal(h.b, buf, 32);
	}
	from_hex(root8_hex, want.b, &n);
	assert_int_equal(merkle_root(leaves8, 8, &h), 0);
	assert_memory_equal(h.b, want.b, 32);
	/* One leaf: the root is the leaf hash. */
	assert_int_equal(merkle_root(leaves8, 1, &h), 0);
	assert_memory_equal(h.b, leaves8[0].b, 32);
}

static void
test_root_from_reader_matches_root_of_leaves(void **state)
{
	static struct merkle_hash leaves[300];
	struct mem_tree t = {leaves, 300, 0};
	struct merkle_reader r = {mem_read, &t};

	(void)state;
	leaves_of(leaves, 300);
	for (uint64_t n = 0; n <= 300; n++) {
		struct merkle_hash a, b;

		t.n = n;
		assert_int_equal(merkle_root(leaves, n, &a), 0);
		assert_int_equal(merkle_root_from_reader(&r, n, &b), 0);
		assert_memory_equal(a.b, b.b, 32);
	}
}

/* --- vectors ------------------------------------------------------------ */

static char *files[MAX_FILES];
static size_t nfiles;

static int
collect(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	size_t n = strlen(path);

	(void)st;
	(void)ftw;
	if (type == FTW_F && n > 5 && strcmp(path + n - 5, ".json") == 0) {
		assert_true(nfiles < MAX_FILES);
		files[nfiles++] = strdup(path);
	}
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
list_vectors(const char *kind)
{
	const char *src = getenv("VIGIL_SOURCE_DIR");
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s/tests/data/merkle/%s", src ? src : ".",
		 kind);
	nfiles = 0;
	assert_int_equal(nftw(dir, collect, 16, FTW_PHYS), 0);
	qsort(files, nfiles, sizeof(files[0]), cmp_str);
}

static void
free_vectors(void)
{
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	nfiles = 0;
}

/* Decodes a base64 JSON string; returns its length or -1. */
static long
decode(json_t *v, uint8_t *out, size_t cap)
{
	const char *s = json_string_value(v);
	size_t n;

	assert_non_null(s);
	if (tlog_b64_decode(s, strlen(s), out, cap, &n) != 0)
		return -1;
	return (long)n;
}

/* A 32-byte hash, or 0 if the value is of another length. */
static int
decode_hash(json_t *v, struct merkle_hash *h)
{
	uint8_t buf[64];

	return decode(v, buf, sizeof(buf)) == 32 &&
	       memcpy(h->b, buf, 32) != NULL;
}

/* A root: a 32-byte value as it is, anything else as a stand-in. */
static void
decode_root(json_t *v, struct merkle_hash *h)
{
	uint8_t buf[64], tagged[80] = "stand-in:";
	long n = decode(v, buf, sizeof(buf));

	assert_true(n >= 0);
	if (n == 32) {
		memcpy(h->b, buf, 32);
		return;
	}
	memcpy(tagged + 9, buf, (size_t)n);
	assert_int_equal(EVP_Digest(tagged, 9 + (size_t)n, h->b, NULL,
				    EVP_sha256(), NULL),
			 1);
}

/* Decodes the proof array; returns its length or -1 if a hash is not 32
 * bytes. A JSON null is an empty proof. */
static long
decode_proof(json_t *arr, struct merkle_hash *proof)
{
	size_t i;
	json_t *v;

	if (json_is_null(arr))
		return 0;
	assert_true(json_is_array(arr));
	assert_true(json_array_size(arr) <= MERKLE_PROOF_MAX);
	json_array_foreach(arr, i, v)
	{
		if (!decode_hash(v, &proof[i]))
			return -1;
	}
	return (long)json_array_size(arr);
}

/* A vector: its text, for the integers (one index is 2^64 - 1, beyond
 * jansson's json_int_t), and its JSON, for the rest. */
struct vector {
	char *text;
	json_t *json;
};

static void
load(const char *path, struct vector *v)
{
	json_error_t je;
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	v->text = calloc(1, 1 << 16);
	assert_non_null(v->text);
	n = fread(v->text, 1, (1 << 16) - 1, f);
	assert_true(n > 0 && feof(f));
	fclose(f);
	v->json = json_loads(v->text, JSON_DECODE_INT_AS_REAL, &je);
	if (v->json == NULL)
		fail_msg("%s: %s", path, je.text);
}

static void
unload(struct vector *v)
{
	json_decref(v->json);
	free(v->text);
}

static json_t *
get(const struct vector *v, const char *key)
{
	return json_object_get(v->json, key);
}

/* The decimal after "key": in the text. */
static uint64_t
get_u64(const struct vector *v, const char *key)
{
	char needle[64];
	const char *p;
	size_t len = 0;
	uint64_t x;

	snprintf(needle, sizeof(needle), "\"%s\": ", key);
	p = strstr(v->text, needle);
	assert_non_null(p);
	p += strlen(needle);
	while (p[len] >= '0' && p[len] <= '9')
		len++;
	assert_int_equal(tlog_parse_u64(p, len, &x), 0);
	return x;
}

struct tally {
	unsigned ok, refused_decode, refused[3]; /* EINVAL, EFORMAT, EVERIFY */
};

static void
count(struct tally *t, const char *path, int want_err, int rc, const char *err)
{
	if (!want_err) {
		if (rc != 0)
			fail_msg("%s: want success, got %s: %s", path,
				 vg_strerror(rc), err);
		t->ok++;
		return;
	}
	if (rc == 0)
		fail_msg("%s: want an error, verified", path);
	switch (rc) {
	case VG_EINVAL: t->refused[0]++; break;
	case VG_EFORMAT: t->refused[1]++; break;
	case VG_EVERIFY: t->refused[2]++; break;
	default: fail_msg("%s: unexpected code %d", path, rc);
	}
	assert_true(err[0] != '\0');
}

static void
test_inclusion_vectors(void **state)
{
	struct tally t = {0};

	(void)state;
	list_vectors("inclusion");
	assert_int_equal(nfiles, 98);
	for (size_t f = 0; f < nfiles; f++) {
		struct merkle_hash leaf, root, proof[MERKLE_PROOF_MAX];
		struct vector o;
		int want_err;
		long n;
		char err[256] = "";

		load(files[f], &o);
		want_err = json_is_true(get(&o, "wantErr"));
		n = decode_proof(get(&o, "proof"), proof);
		decode_root(get(&o, "root"), &root);
		if (n < 0 || !decode_hash(get(&o, "leafHash"), &leaf)) {
			assert_true(want_err);
			t.refused_decode++;
		} else {
			int rc = merkle_verify_inclusion(
				get_u64(&o, "leafIdx"), get_u64(&o, "treeSize"),
				&leaf, proof, (size_t)n, &root, err,
				sizeof(err));

			count(&t, files[f], want_err, rc, err);
		}
		unload(&o);
	}
	print_message("inclusion: %u verified, refused: %u while decoding, "
		      "%u EINVAL, %u EFORMAT, %u EVERIFY\n",
		      t.ok, t.refused_decode, t.refused[0], t.refused[1],
		      t.refused[2]);
	assert_int_equal(t.ok, 6);
	free_vectors();
}

static void
test_consistency_vectors(void **state)
{
	struct tally t = {0};

	(void)state;
	list_vectors("consistency");
	assert_int_equal(nfiles, 98);
	for (size_t f = 0; f < nfiles; f++) {
		struct merkle_hash r1, r2, proof[MERKLE_PROOF_MAX];
		struct vector o;
		int want_err;
		long n;
		char err[256] = "";

		load(files[f], &o);
		want_err = json_is_true(get(&o, "wantErr"));
		n = decode_proof(get(&o, "proof"), proof);
		decode_root(get(&o, "root1"), &r1);
		decode_root(get(&o, "root2"), &r2);
		if (n < 0) {
			assert_true(want_err);
			t.refused_decode++;
		} else {
			int rc = merkle_verify_consistency(
				get_u64(&o, "size1"), get_u64(&o, "size2"), &r1,
				&r2, proof, (size_t)n, err, sizeof(err));

			count(&t, files[f], want_err, rc, err);
		}
		unload(&o);
	}
	print_message("consistency: %u verified, refused: %u while decoding, "
		      "%u EINVAL, %u EFORMAT, %u EVERIFY\n",
		      t.ok, t.refused_decode, t.refused[0], t.refused[1],
		      t.refused[2]);
	assert_int_equal(t.ok, 6);
	free_vectors();
}

/* The happy paths of the numbered folders are over the README's leaves:
 * their roots are those of the leaves, and generation gives their proofs. */
static void
test_generation_reproduces_vector_proofs(void **state)
{
	struct mem_tree tree = {leaves8, 8, 0};
	struct merkle_reader r = {mem_read, &tree};
	const char *src = getenv("VIGIL_SOURCE_DIR");

	(void)state;
	for (int d = 0; d <= 4; d++) {
		struct merkle_hash want[MERKLE_PROOF_MAX],
			got[MERKLE_PROOF_MAX];
		struct merkle_hash root, r1, r2, mine;
		char path[4096], err[256];
		uint64_t idx, size, s1, s2;
		struct vector o;
		long n;
		size_t k;

		snprintf(path, sizeof(path),
			 "%s/tests/data/merkle/inclusion/%d/happy-path.json",
			 src ? src : ".", d);
		load(path, &o);
		idx = get_u64(&o, "leafIdx");
		size = get_u64(&o, "treeSize");
		decode_root(get(&o, "root"), &root);
		assert_int_equal(merkle_root(leaves8, size, &mine), 0);
		assert_memory_equal(mine.b, root.b, 32);
		n = decode_proof(get(&o, "proof"), want);
		tree.n = size;
		assert_int_equal(merkle_prove_inclusion(&r, idx, size, got, &k,
							err, sizeof(err)),
				 0);
		assert_int_equal(k, (size_t)n);
		assert_int_equal(merkle_inclusion_len(idx, size), k);
		if (k > 0)
			assert_memory_equal(got, want, k * sizeof(got[0]));
		unload(&o);

		snprintf(path, sizeof(path),
			 "%s/tests/data/merkle/consistency/%d/happy-path.json",
			 src ? src : ".", d);
		load(path, &o);
		s1 = get_u64(&o, "size1");
		s2 = get_u64(&o, "size2");
		decode_root(get(&o, "root1"), &r1);
		decode_root(get(&o, "root2"), &r2);
		assert_int_equal(merkle_root(leaves8, s1, &mine), 0);
		assert_memory_equal(mine.b, r1.b, 32);
		assert_int_equal(merkle_root(leaves8, s2, &mine), 0);
		assert_memory_equal(mine.b, r2.b, 32);
		n = decode_proof(get(&o, "proof"), want);
		tree.n = s2;
		assert_int_equal(merkle_prove_consistency(&r, s1, s2, got, &k,
							  err, sizeof(err)),
				 0);
		assert_int_equal(k, (size_t)n);
		assert_int_equal(merkle_consistency_len(s1, s2), k);
		if (k > 0)
			assert_memory_equal(got, want, k * sizeof(got[0]));
		unload(&o);
	}
}

/* --- generated proofs ---------------------------------------------------- */

#define MAXN 70

static void
expect_refused(int rc)
{
	assert_true(rc == VG_EFORMAT || rc == VG_EVERIFY || rc == VG_EINVAL);
}

static void
test_every_inclusion_proof_up_to_70_leaves(void **state)
{
	static struct merkle_hash leaves[MAXN];
	struct mem_tree tree = {leaves, 0, 0};
	struct merkle_reader r = {mem_read, &tree};
	unsigned checked = 0;

	(void)state;
	leaves_of(leaves, MAXN);
	for (uint64_t size = 1; size <= MAXN; size++) {
		struct merkle_hash root;

		tree.n = size;
		assert_int_equal(merkle_root(leaves, size, &root), 0);
		for (uint64_t i = 0; i < size; i++) {
			struct merkle_hash p[MERKLE_PROOF_MAX + 1];
			char err[256];
			size_t n;

			assert_int_equal(merkle_prove_inclusion(&r, i, size, p,
								&n, err,
								sizeof(err)),
					 0);
			assert_int_equal(n, merkle_inclusion_len(i, size));
			assert_int_equal(merkle_verify_inclusion(
						 i, size, &leaves[i], p, n,
						 &root, err, sizeof(err)),
					 0);
			/* Every bit of every hash matters. */
			for (size_t k = 0; k < n; k++) {
				p[k].b[k % 32] ^= 1;
				assert_int_equal(merkle_verify_inclusion(
							 i, size, &leaves[i], p,
							 n, &root, err,
							 sizeof(err)),
						 VG_EVERIFY);
				p[k].b[k % 32] ^= 1;
			}
			/* One hash more or less. */
			p[n] = root;
			assert_int_equal(merkle_verify_inclusion(
						 i, size, &leaves[i], p, n + 1,
						 &root, err, sizeof(err)),
					 VG_EFORMAT);
			if (n > 0)
				assert_int_equal(merkle_verify_inclusion(
							 i, size, &leaves[i], p,
							 n - 1, &root, err,
							 sizeof(err)),
						 VG_EFORMAT);
			/* Another leaf or index. (Another size with the same
			 * root can verify: the size only shapes the path, the
			 * root is what commits, and a checkpoint signs both.)
			 */
			if (size > 1) {
				uint64_t j = (i + 1) % size;

				expect_refused(merkle_verify_inclusion(
					i, size, &leaves[j], p, n, &root, err,
					sizeof(err)));
				expect_refused(merkle_verify_inclusion(
					j, size, &leaves[i], p, n, &root, err,
					sizeof(err)));
			}
			checked++;
		}
	}
	assert_int_equal(checked, MAXN * (MAXN + 1) / 2);
}

static void
test_every_consistency_proof_up_to_70_leaves(void **state)
{
	static struct merkle_hash leaves[MAXN], roots[MAXN + 1];
	struct mem_tree tree = {leaves, 0, 0};
	struct merkle_reader r = {mem_read, &tree};

	(void)state;
	leaves_of(leaves, MAXN);
	for (uint64_t n = 0; n <= MAXN; n++)
		assert_int_equal(merkle_root(leaves, n, &roots[n]), 0);
	for (uint64_t s2 = 1; s2 <= MAXN; s2++) {
		tree.n = s2;
		for (uint64_t s1 = 1; s1 <= s2; s1++) {
			struct merkle_hash p[MERKLE_PROOF_MAX + 1];
			char err[256];
			size_t n;

			assert_int_equal(merkle_prove_consistency(&r, s1, s2, p,
								  &n, err,
								  sizeof(err)),
					 0);
			assert_int_equal(n, merkle_consistency_len(s1, s2));
			assert_int_equal(merkle_verify_consistency(
						 s1, s2, &roots[s1], &roots[s2],
						 p, n, err, sizeof(err)),
					 0);
			for (size_t k = 0; k < n; k++) {
				p[k].b[31 - k % 32] ^= 0x80;
				assert_int_equal(merkle_verify_consistency(
							 s1, s2, &roots[s1],
							 &roots[s2], p, n, err,
							 sizeof(err)),
						 VG_EVERIFY);
				p[k].b[31 - k % 32] ^= 0x80;
			}
			p[n] = roots[s1];
			assert_int_equal(merkle_verify_consistency(
						 s1, s2, &roots[s1], &roots[s2],
						 p, n + 1, err, sizeof(err)),
					 VG_EFORMAT);
			if (n > 0)
				assert_int_equal(merkle_verify_consistency(
							 s1, s2, &roots[s1],
							 &roots[s2], p, n - 1,
							 err, sizeof(err)),
						 VG_EFORMAT);
			if (s1 == s2)
				continue;
			/* Swapped or wrong roots, a wrong old size. */
			expect_refused(merkle_verify_consistency(
				s1, s2, &roots[s2], &roots[s1], p, n, err,
				sizeof(err)));
			expect_refused(merkle_verify_consistency(
				s1, s2, &roots[s1 - 1], &roots[s2], p, n, err,
				sizeof(err)));
			expect_refused(merkle_verify_consistency(
				s1, s2, &roots[s1], &roots[s2 - 1], p, n, err,
				sizeof(err)));
			expect_refused(merkle_verify_consistency(
				s1 + 1, s2, &roots[s1], &roots[s2], p, n, err,
				sizeof(err)));
		}
	}
}

/* --- edge cases ---------------------------------------------------------- */

static void
test_each_refusal_has_its_code_and_message(void **state)
{
	struct merkle_hash e, h, p[3];
	char err[256];

	(void)state;
	merkle_hash_empty(&e);
	memset(&h, 0x42, sizeof(h));
	memset(p, 0x17, sizeof(p));
#define CHECK(call, code, text)                                                \
	do {                                                                   \
		err[0] = '\0';                                                 \
		assert_int_equal((call), (code));                              \
		if (strstr(err, (text)) == NULL)                               \
			fail_msg("message \"%s\" lacks \"%s\"", err, (text));  \
	} while (0)
	CHECK(merkle_verify_inclusion(0, 0, &h, NULL, 0, &e, err, 256),
	      VG_EINVAL, "not below tree size");
	CHECK(merkle_verify_inclusion(5, 5, &h, NULL, 0, &e, err, 256),
	      VG_EINVAL, "not below tree size");
	CHECK(merkle_verify_inclusion(0, 2, &h, p, 2, &e, err, 256), VG_EFORMAT,
	      "needs 1");
	CHECK(merkle_verify_inclusion(0, 2, &h, p, 0, &e, err, 256), VG_EFORMAT,
	      "has 0 hashes");
	CHECK(merkle_verify_inclusion(0, 1, &h, NULL, 0, &e, err, 256),
	      VG_EVERIFY, "does not lead to the root");
	CHECK(merkle_verify_consistency(2, 1, &h, &h, NULL, 0, err, 256),
	      VG_EINVAL, "above new size");
	CHECK(merkle_verify_consistency(0, 1, &e, &h, NULL, 0, err, 256),
	      VG_EINVAL, "from the empty tree");
	CHECK(merkle_verify_consistency(3, 3, &h, &h, p, 1, err, 256),
	      VG_EFORMAT, "must be empty");
	CHECK(merkle_verify_consistency(3, 3, &h, &e, NULL, 0, err, 256),
	      VG_EVERIFY, "different roots");
	CHECK(merkle_verify_consistency(0, 0, &h, &h, NULL, 0, err, 256),
	      VG_EVERIFY, "SHA-256(\"\")");
	CHECK(merkle_verify_consistency(1, 2, &h, &h, NULL, 0, err, 256),
	      VG_EFORMAT, "needs 1");
	CHECK(merkle_verify_consistency(3, 4, &h, &h, p, 2, err, 256),
	      VG_EFORMAT, "needs 3");
	CHECK(merkle_verify_consistency(3, 4, &h, &h, p, 3, err, 256),
	      VG_EVERIFY, "old root");
	assert_int_equal(
		merkle_verify_consistency(0, 0, &e, &e, NULL, 0, err, 256), 0);
	assert_int_equal(
		merkle_verify_consistency(7, 7, &h, &h, NULL, 0, err, 256), 0);
#undef CHECK
}

static int
failing_read(void *ctx, unsigned level, uint64_t index, struct merkle_hash *out)
{
	(void)ctx;
	(void)level;
	(void)index;
	(void)out;
	return VG_ECORRUPT;
}

static void
test_generation_passes_on_reader_errors(void **state)
{
	struct merkle_reader r = {failing_read, NULL};
	struct merkle_hash p[MERKLE_PROOF_MAX], h;
	char err[256];
	size_t n;

	(void)state;
	assert_int_equal(merkle_prove_inclusion(&r, 3, 10, p, &n, err, 256),
			 VG_ECORRUPT);
	assert_non_null(strstr(err, "corrupt"));
	assert_int_equal(merkle_prove_consistency(&r, 3, 10, p, &n, err, 256),
			 VG_ECORRUPT);
	assert_int_equal(merkle_root_from_reader(&r, 10, &h), VG_ECORRUPT);
	/* One leaf needs no stored hash. */
	assert_int_equal(merkle_prove_inclusion(&r, 0, 1, p, &n, err, 256), 0);
	assert_int_equal(n, 0);
	assert_int_equal(merkle_prove_consistency(&r, 5, 5, p, &n, err, 256),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(merkle_prove_inclusion(&r, 1, 1, p, &n, err, 256),
			 VG_EINVAL);
	assert_int_equal(merkle_prove_consistency(&r, 0, 5, p, &n, err, 256),
			 VG_EINVAL);
	assert_int_equal(merkle_prove_consistency(&r, 6, 5, p, &n, err, 256),
			 VG_EINVAL);
}

/* A tree of identical leaves: the subtree at level l is the same hash
 * wherever it is, so trees of any size up to 2^64 - 1 can be read. */
static struct merkle_hash same[64];

static int
same_read(void *ctx, unsigned level, uint64_t index, struct merkle_hash *out)
{
	uint64_t size = *(const uint64_t *)ctx;

	assert_true(level < 64);
	assert_true(index < size >> level);
	*out = same[level];
	return 0;
}

static void
test_trees_up_to_2_64_minus_1_leaves(void **state)
{
	static const uint64_t sizes[] = {
		UINT64_MAX,
		UINT64_MAX - 1,
		(uint64_t)1 << 63,
		((uint64_t)1 << 63) + 1,
		((uint64_t)1 << 63) - 1,
		0x123456789abcdefULL,
		1000000007,
	};
	char err[256];

	(void)state;
	assert_int_equal(merkle_hash_leaf("x", 1, &same[0]), 0);
	for (int l = 1; l < 64; l++)
		assert_int_equal(merkle_hash_children(&same[l - 1],
						      &same[l - 1], &same[l]),
				 0);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint64_t size = sizes[s], old = size / 3 + 1;
		const uint64_t idx[] = {0, 1, size / 2, size - 2, size - 1};
		struct merkle_reader r = {same_read, &size};
		struct merkle_hash root, oroot, p[MERKLE_PROOF_MAX];
		size_t n;

		assert_int_equal(merkle_root_from_reader(&r, size, &root), 0);
		for (int i = 0; i < 5; i++) {
			assert_int_equal(merkle_prove_inclusion(&r, idx[i],
								size, p, &n,
								err, 256),
					 0);
			assert_true(n <= 64);
			assert_int_equal(n, merkle_inclusion_len(idx[i], size));
			assert_int_equal(
				merkle_verify_inclusion(idx[i], size, &same[0],
							p, n, &root, err, 256),
				0);
		}
		assert_int_equal(merkle_root_from_reader(&r, old, &oroot), 0);
		assert_int_equal(merkle_prove_consistency(&r, old, size, p, &n,
							  err, 256),
				 0);
		assert_true(n <= MERKLE_PROOF_MAX);
		assert_int_equal(n, merkle_consistency_len(old, size));
		assert_int_equal(merkle_verify_consistency(old, size, &oroot,
							   &root, p, n, err,
							   256),
				 0);
	}
	assert_int_equal(merkle_inclusion_len(0, UINT64_MAX), 64);
	assert_int_equal(merkle_inclusion_len(UINT64_MAX - 1, UINT64_MAX), 63);
	assert_int_equal(merkle_consistency_len(3, UINT64_MAX), 65);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_leaf_node_and_root8_hashes),
		cmocka_unit_test(test_root_from_reader_matches_root_of_leaves),
		cmocka_unit_test(test_inclusion_vectors),
		cmocka_unit_test(test_consistency_vectors),
		cmocka_unit_test(test_generation_reproduces_vector_proofs),
		cmocka_unit_test(test_every_inclusion_proof_up_to_70_leaves),
		cmocka_unit_test(test_every_consistency_proof_up_to_70_leaves),
		cmocka_unit_test(test_each_refusal_has_its_code_and_message),
		cmocka_unit_test(test_generation_passes_on_reader_errors),
		cmocka_unit_test(test_trees_up_to_2_64_minus_1_leaves),
	};

	return cmocka_run_group_tests(tests, setup_leaves, NULL);
}
