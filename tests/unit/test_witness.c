/*
 * test_witness.c - the tlog-witness (src/tlog/witness.c), driven through
 * witness_add_checkpoint() with logs the test builds and signs itself:
 * every answer of the protocol with its exact status, type and body; the
 * first checkpoint and growth; forks at one size and across sizes;
 * tampered, truncated and misplaced proofs; wrong keys; stale sizes; the
 * cosignature; the durable state, reopened and corrupted; and concurrent
 * requests from one old size, of which exactly one wins.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "tlog/checkpoint.h"
#include "tlog/merkle.h"
#include "tlog/note.h"
#include "tlog/witness.h"

#define ORIGIN  "example.com/vigil-test-log"
#define ORIGIN2 "example.com/another-log"
#define WNAME   "witness.example/w1"
#define NOW     1764390000ULL /* 2025-11-29 */
#define LEAVES  600
#define TEXT_CT "text/plain; charset=utf-8"
#define SIZE_CT "text/x.tlog.size"
#define FORK_AT 3 /* trees A and B share their first FORK_AT leaves */

/* A tree of LEAVES leaves; its prefixes are the log's trees. */
struct tree {
	struct merkle_hash leaves[LEAVES];
};

static struct note_signer *log_key, *other_key, *log2_key, *cosigner;
static struct note_verifier log_vkey, log2_vkey, w_vkey;
static struct tree tree_a, tree_b;

struct fx {
	char tmp[64];
	char dir[96];
	struct witness *w;
};

/* One answer. */
struct res {
	int rc, status;
	char *body;
	size_t len;
	const char *ctype;
};

/* --- helpers --------------------------------------------------------- */

static void
tree_make(struct tree *t, char tag)
{
	for (unsigned i = 0; i < LEAVES; i++) {
		char e[64];
		int n = snprintf(e, sizeof(e), "entry %u of tree %c", i,
				 i < FORK_AT ? 'A' : tag);

		assert_int_equal(merkle_hash_leaf(e, (size_t)n, &t->leaves[i]),
				 0);
	}
}

static int
tree_read(void *ctx, unsigned level, uint64_t index, struct merkle_hash *out)
{
	const struct tree *t = ctx;
	uint64_t first = index << level, count = (uint64_t)1 << level;

	if (first + count > LEAVES)
		return VG_EINVAL;
	return merkle_root(t->leaves + first, count, out);
}

static void
tree_root(const struct tree *t, uint64_t size, struct merkle_hash *out)
{
	assert_int_equal(merkle_root(t->leaves, size, out), 0);
}

/* The consistency proof in t from size1 to size2 (none from 0). */
static size_t
tree_proof(const struct tree *t, uint64_t size1, uint64_t size2,
	   struct merkle_hash proof[MERKLE_PROOF_MAX])
{
	struct merkle_reader r = {tree_read, (void *)t};
	size_t n = 0;

	if (size1 == 0)
		return 0;
	assert_int_equal(
		merkle_prove_consistency(&r, size1, size2, proof, &n, NULL, 0),
		0);
	return n;
}

/* The checkpoint of (origin, size, root), signed by the n signers. */
static char *
signed_cp_root(const char *origin, uint64_t size,
	       const struct merkle_hash *root,
	       const struct note_signer *const *signers, size_t n, size_t *len)
{
	char *text, *note;
	size_t tl;

	assert_int_equal(checkpoint_format(origin, size, root, NULL, &text, &tl,
					   NULL, 0),
			 0);
	assert_int_equal(
		note_sign(text, tl, signers, n, 0, &note, len, NULL, 0), 0);
	free(text);
	return note;
}

/* The checkpoint of tree t at size, signed by the log's key. */
static char *
signed_cp(const struct tree *t, uint64_t size, size_t *len)
{
	const struct note_signer *s[1] = {log_key};
	struct merkle_hash root;

	tree_root(t, size, &root);
	return signed_cp_root(ORIGIN, size, &root, s, 1, len);
}

static struct res
submit_body(struct fx *f, const char *body, size_t len)
{
	struct res r;

	r.rc = witness_add_checkpoint(f->w, body, len, NOW, &r.status, &r.body,
				      &r.len, &r.ctype);
	assert_non_null(r.body);
	assert_int_equal(strlen(r.body), r.len);
	return r;
}

static struct res
submit(struct fx *f, uint64_t old, const struct merkle_hash *proof, size_t n,
       const char *cp, size_t cp_len)
{
	char *body;
	size_t len;
	struct res r;

	assert_int_equal(witness_request_format(old, proof, n, cp, cp_len,
						&body, &len, NULL, 0),
			 0);
	r = submit_body(f, body, len);
	free(body);
	return r;
}

/* Submits tree t at size2 from old size old (proof from old, in t). */
static struct res
grow(struct fx *f, const struct tree *t, uint64_t old, uint64_t size2)
{
	struct merkle_hash proof[MERKLE_PROOF_MAX];
	size_t n = tree_proof(t, old, size2, proof), cl;
	char *cp = signed_cp(t, size2, &cl);
	struct res r = submit(f, old, proof, n, cp, cl);

	free(cp);
	return r;
}

static void
expect(struct res r, int status, const char *ctype, const char *body)
{
	if (r.status != status || strcmp(r.ctype, ctype) != 0 ||
	    (body != NULL && strcmp(r.body, body) != 0))
		print_error("got %d %s: %s", r.status, r.ctype, r.body);
	assert_int_equal(r.status, status);
	assert_string_equal(r.ctype, ctype);
	if (body != NULL)
		assert_string_equal(r.body, body);
	assert_int_equal(r.rc, status == 500 ? r.rc : 0);
	free(r.body);
}

static void
expect_prefix(struct res r, int status, const char *prefix)
{
	if (r.status != status || strncmp(r.body, prefix, strlen(prefix)))
		print_error("got %d: %s", r.status, r.body);
	assert_int_equal(r.status, status);
	assert_string_equal(r.ctype, TEXT_CT);
	assert_memory_equal(r.body, prefix, strlen(prefix));
	assert_int_equal(r.body[r.len - 1], '\n');
	assert_null(memchr(r.body, '\n', r.len - 1));
	free(r.body);
}

static void
expect_latest(struct fx *f, const struct tree *t, uint64_t size)
{
	struct merkle_hash root, want;
	uint64_t got;

	assert_int_equal(witness_latest(f->w, ORIGIN, &got, &root, NULL, 0), 0);
	assert_int_equal(got, size);
	tree_root(t, size, &want);
	assert_memory_equal(root.b, want.b, MERKLE_HASH_LEN);
}

static void
open_witness(struct fx *f)
{
	const struct note_verifier logs[2] = {log_vkey, log2_vkey};

	assert_int_equal(
		witness_open(f->dir, cosigner, logs, 2, &f->w, NULL, 0), 0);
}

static void
reopen_witness(struct fx *f)
{
	witness_close(f->w);
	f->w = NULL;
	open_witness(f);
}

static void
state_path(struct fx *f, const char *origin, char *buf, size_t len)
{
	uint8_t h[SHA256_DIGEST_LENGTH];
	char hex[2 * SHA256_DIGEST_LENGTH + 1];

	SHA256((const uint8_t *)origin, strlen(origin), h);
	for (size_t i = 0; i < sizeof(h); i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	snprintf(buf, len, "%s/%s", f->dir, hex);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *t = getenv("TMPDIR");

	if (f == NULL)
		return -1;
	snprintf(f->tmp, sizeof(f->tmp), "%s/vigil-witness-XXXXXX",
		 t && *t && strlen(t) < 32 ? t : "/tmp");
	if (mkdtemp(f->tmp) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/state", f->tmp);
	open_witness(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	witness_close(f->w);
	nftw(f->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static int
setup_keys(void **state)
{
	(void)state;
	if (note_signer_generate(ORIGIN, NOTE_ED25519, &log_key, NULL, 0) ||
	    note_signer_generate(ORIGIN, NOTE_ED25519, &other_key, NULL, 0) ||
	    note_signer_generate(ORIGIN2, NOTE_ED25519, &log2_key, NULL, 0) ||
	    note_signer_generate(WNAME, NOTE_COSIGNATURE, &cosigner, NULL, 0))
		return -1;
	note_signer_verifier(log_key, &log_vkey);
	note_signer_verifier(log2_key, &log2_vkey);
	note_signer_verifier(cosigner, &w_vkey);
	tree_make(&tree_a, 'A');
	tree_make(&tree_b, 'B');
	return 0;
}

static int
teardown_keys(void **state)
{
	(void)state;
	note_signer_free(log_key);
	note_signer_free(other_key);
	note_signer_free(log2_key);
	note_signer_free(cosigner);
	return 0;
}

/* --- the protocol ---------------------------------------------------- */

static void
test_the_first_checkpoint_is_cosigned_from_old_size_0(void **state)
{
	struct fx *f = *state;
	struct res r;

	expect_latest(f, &tree_a, 0);
	r = grow(f, &tree_a, 0, 5);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, TEXT_CT);
	/* One signature line by the witness's key. */
	assert_memory_equal(r.body, "\xe2\x80\x94 " WNAME " ",
			    strlen("\xe2\x80\x94 " WNAME " "));
	assert_int_equal(r.body[r.len - 1], '\n');
	assert_null(memchr(r.body, '\n', r.len - 1));
	free(r.body);
	expect_latest(f, &tree_a, 5);
}

static void
test_the_cosignature_verifies_as_a_type_4_key_with_the_time(void **state)
{
	struct fx *f = *state;
	const struct note_verifier keys[2] = {log_vkey, w_vkey};
	struct note_verifier as_ed25519 = w_vkey;
	struct checkpoint c;
	struct note *n;
	size_t cl, nv;
	char *cp = signed_cp(&tree_a, 7, &cl), *msg;
	struct res r = submit(f, 0, NULL, 0, cp, cl);
	uint64_t t;

	assert_int_equal(r.status, 200);
	/* The client appends the answer to its checkpoint. */
	msg = malloc(cl + r.len);
	assert_non_null(msg);
	memcpy(msg, cp, cl);
	memcpy(msg + cl, r.body, r.len);
	assert_int_equal(note_parse(msg, cl + r.len, &n, NULL, 0), 0);
	assert_int_equal(n->nsigs, 2);
	assert_int_equal(note_verify(n, keys, 2, &nv, NULL, 0), 0);
	assert_int_equal(nv, 2);
	assert_true(note_verified_by(n, &w_vkey));
	assert_int_equal(n->sigs[1].key->type, NOTE_COSIGNATURE);
	assert_int_equal(n->sigs[1].timestamp, NOW);
	assert_int_equal(note_cosignature_time(&n->sigs[1], &t), 0);
	assert_int_equal(t, NOW);
	note_free(n);
	/* A quorum of one witness. */
	assert_int_equal(checkpoint_open(msg, cl + r.len, ORIGIN, &log_vkey,
					 &w_vkey, 1, 1, &c, NULL, 0),
			 0);
	assert_int_equal(c.size, 7);
	checkpoint_clear(&c);
	/* The key ID is type 0x04's: the same key as Ed25519 is unknown. */
	as_ed25519.type = NOTE_ED25519;
	assert_int_equal(note_key_id(WNAME, NOTE_ED25519, w_vkey.pub, 32,
				     &as_ed25519.key_id),
			 0);
	assert_int_not_equal(checkpoint_open(msg, cl + r.len, ORIGIN, &log_vkey,
					     &as_ed25519, 1, 1, &c, NULL, 0),
			     0);
	free(msg);
	free(cp);
	free(r.body);
}

static void
test_growth_with_valid_proofs_is_cosigned(void **state)
{
	struct fx *f = *state;
	static const uint64_t sizes[] = {1,   2,   3,   4,   8,   9,  255,
					 256, 257, 511, 512, 513, 600};
	uint64_t old = 0;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct res r = grow(f, &tree_a, old, sizes[i]);

		if (r.status != 200)
			print_error("%" PRIu64 " -> %" PRIu64 ": %d %s", old,
				    sizes[i], r.status, r.body);
		assert_int_equal(r.status, 200);
		free(r.body);
		expect_latest(f, &tree_a, sizes[i]);
		old = sizes[i];
	}
	/* The same checkpoint again, from its own size: cosigned again. */
	expect_prefix(grow(f, &tree_a, 600, 600), 200, "\xe2\x80\x94 " WNAME);
	expect_latest(f, &tree_a, 600);
}

static void
test_a_stale_old_size_is_409_with_the_latest_size(void **state)
{
	struct fx *f = *state;

	/* Nothing cosigned yet: the size is 0. */
	expect(grow(f, &tree_a, 4, 9), 409, SIZE_CT, "0\n");
	expect(grow(f, &tree_a, 0, 9), 200, TEXT_CT, NULL);
	/* A client that knows nothing asks with 0 and learns 9. */
	expect(grow(f, &tree_a, 0, 12), 409, SIZE_CT, "9\n");
	expect(grow(f, &tree_a, 5, 12), 409, SIZE_CT, "9\n");
	expect(grow(f, &tree_a, 10, 12), 409, SIZE_CT, "9\n");
	expect_latest(f, &tree_a, 9);
	expect(grow(f, &tree_a, 9, 12), 200, TEXT_CT, NULL);
	/* A checkpoint behind the witness: 409 too, never a rollback. */
	expect(grow(f, &tree_a, 9, 10), 409, SIZE_CT, "12\n");
	expect_latest(f, &tree_a, 12);
}

static void
test_an_unknown_origin_is_404(void **state)
{
	struct fx *f = *state;
	const struct note_signer *s[1];
	struct note_signer *stranger;
	struct merkle_hash root;
	size_t cl;
	char *cp;

	assert_int_equal(note_signer_generate("example.com/stranger",
					      NOTE_ED25519, &stranger, NULL, 0),
			 0);
	s[0] = stranger;
	tree_root(&tree_a, 3, &root);
	cp = signed_cp_root("example.com/stranger", 3, &root, s, 1, &cl);
	expect(submit(f, 0, NULL, 0, cp, cl), 404, TEXT_CT, "unknown log\n");
	free(cp);
	/* Known key, checkpoint of another origin: the origin decides. */
	s[0] = log_key;
	cp = signed_cp_root("example.com/stranger", 3, &root, s, 1, &cl);
	expect(submit(f, 0, NULL, 0, cp, cl), 404, TEXT_CT, "unknown log\n");
	free(cp);
	note_signer_free(stranger);
}

static void
test_a_checkpoint_without_a_valid_log_signature_is_403(void **state)
{
	struct fx *f = *state;
	const struct note_signer *s[2];
	struct merkle_hash root;
	size_t cl;
	char *cp, *p;

	tree_root(&tree_a, 3, &root);
	/* Signed by another key of the same name. */
	s[0] = other_key;
	cp = signed_cp_root(ORIGIN, 3, &root, s, 1, &cl);
	expect(submit(f, 0, NULL, 0, cp, cl), 403, TEXT_CT,
	       "no valid signature by the log's key\n");
	free(cp);
	/* Signed by another log's key only. */
	s[0] = log2_key;
	cp = signed_cp_root(ORIGIN, 3, &root, s, 1, &cl);
	expect(submit(f, 0, NULL, 0, cp, cl), 403, TEXT_CT,
	       "no valid signature by the log's key\n");
	free(cp);
	/* The log's signature, tampered with: the note is refused. */
	cp = signed_cp(&tree_a, 3, &cl);
	p = strrchr(cp, ' ') + 40; /* in the signature, past the key ID */
	*p = *p == 'A' ? 'B' : 'A';
	expect(submit(f, 0, NULL, 0, cp, cl), 403, TEXT_CT,
	       "no valid signature by the log's key\n");
	free(cp);
	/* A checkpoint whose text was changed after signing. */
	cp = signed_cp(&tree_a, 3, &cl);
	p = strchr(cp, '\n') + 1;
	*p = '4';
	expect(submit(f, 0, NULL, 0, cp, cl), 403, TEXT_CT,
	       "no valid signature by the log's key\n");
	free(cp);
	expect_latest(f, &tree_a, 0);
	/* A signature by an unknown key beside the log's is ignored. */
	s[0] = other_key;
	s[1] = log_key;
	cp = signed_cp_root(ORIGIN, 3, &root, s, 2, &cl);
	expect(submit(f, 0, NULL, 0, cp, cl), 200, TEXT_CT, NULL);
	free(cp);
	expect_latest(f, &tree_a, 3);
}

static void
test_malformed_requests_are_400(void **state)
{
	struct fx *f = *state;
	struct merkle_hash proof[64];
	char *cp, *body;
	size_t cl, bl;
	static const char *const bad_old[] = {
		"",
		"old 0",
		"old\n\n",
		"old \n\n",
		"old 01\n\n",
		"old -1\n\n",
		"old +1\n\n",
		"old 0x1\n\n",
		"old  0\n\n",
		"old 0 \n\n",
		"Old 0\n\n",
		"old 0\r\n\r\n",
		"old 18446744073709551616\n\n",
		"\nold 0\n\n",
	};

	cp = signed_cp(&tree_a, 5, &cl);
	for (size_t i = 0; i < sizeof(bad_old) / sizeof(bad_old[0]); i++) {
		bl = strlen(bad_old[i]);
		body = malloc(bl + cl);
		assert_non_null(body);
		memcpy(body, bad_old[i], bl);
		memcpy(body + bl, cp, cl);
		expect(submit_body(f, body, bl + cl), 400, TEXT_CT,
		       "malformed request: line 1 is not \"old\" and a tree "
		       "size\n");
		free(body);
	}
	/* The checkpoint right after the old line: its origin is read as
	 * a proof line. */
	bl = (size_t)asprintf(&body, "old 0\n%s", cp);
	expect(submit_body(f, body, bl), 400, TEXT_CT,
	       "malformed request: line 2 is not the base64 of a 32-byte "
	       "hash\n");
	free(body);
	/* Proof lines that are not 32 bytes of canonical base64. */
	static const char *const bad_proof[] = {
		"AAAA",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\r",
		" AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	};
	for (size_t i = 0; i < sizeof(bad_proof) / sizeof(bad_proof[0]); i++) {
		bl = (size_t)asprintf(&body, "old 0\n%s\n\n%s", bad_proof[i],
				      cp);
		expect(submit_body(f, body, bl), 400, TEXT_CT,
		       "malformed request: line 2 is not the base64 of a "
		       "32-byte hash\n");
		free(body);
	}
	/* 63 proof lines parse (and then fail as a proof); 64 do not. */
	memset(proof, 0, sizeof(proof));
	assert_int_equal(witness_request_format(0, proof, 63, cp, cl, &body,
						&bl, NULL, 0),
			 0);
	expect(submit_body(f, body, bl), 422, TEXT_CT,
	       "the consistency proof from size 0 to size 5 is empty (got 63 "
	       "proof lines)\n");
	free(body);
	assert_int_equal(witness_request_format(0, proof, 64, cp, cl, &body,
						&bl, NULL, 0),
			 VG_EINVAL);
	{
		char line[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
		size_t o;

		body = malloc(6 + 64 * 45 + 1 + cl);
		assert_non_null(body);
		memcpy(body, "old 0\n", 6);
		o = 6;
		for (int i = 0; i < 64; i++, o += 45)
			memcpy(body + o, line, 45);
		body[o++] = '\n';
		memcpy(body + o, cp, cl);
		expect(submit_body(f, body, o + cl), 400, TEXT_CT,
		       "malformed request: line 65: more than 63 proof "
		       "lines\n");
		free(body);
	}
	/* No empty line, or nothing after it. */
	expect(submit_body(f, "old 0\n", 6), 400, TEXT_CT,
	       "malformed request: line 2: no empty line before the "
	       "checkpoint\n");
	expect(submit_body(f, "old 0\n\n", 7), 400, TEXT_CT,
	       "malformed request: no checkpoint after the empty line\n");
	/* What follows is not a signed note, or not a checkpoint. */
	expect_prefix(submit_body(f, "old 0\n\nhello\n", 13), 400,
		      "malformed checkpoint: ");
	bl = (size_t)asprintf(&body, "old 0\n\n%s\n", cp);
	expect_prefix(submit_body(f, body, bl), 400, "malformed checkpoint: ");
	free(body);
	{
		const struct note_signer *s[1] = {log_key};
		char *note;
		size_t nl;

		assert_int_equal(
			note_sign("hello\n", 6, s, 1, 0, &note, &nl, NULL, 0),
			0);
		bl = (size_t)asprintf(&body, "old 0\n\n%s", note);
		expect_prefix(submit_body(f, body, bl), 400,
			      "malformed checkpoint: ");
		free(body);
		free(note);
	}
	/* Over the size limit. */
	body = calloc(1, WITNESS_REQUEST_MAX + 1);
	assert_non_null(body);
	expect(submit_body(f, body, WITNESS_REQUEST_MAX + 1), 400, TEXT_CT,
	       "malformed request: request longer than 1048576 bytes\n");
	free(body);
	free(cp);
	expect_latest(f, &tree_a, 0);
}

static void
test_an_old_size_above_the_checkpoint_is_400(void **state)
{
	struct fx *f = *state;
	size_t cl;
	char *cp = signed_cp(&tree_a, 5, &cl);

	expect(submit(f, 6, NULL, 0, cp, cl), 400, TEXT_CT,
	       "old size 6 is above the checkpoint's size 5\n");
	free(cp);
	/* After the origin and the signature, as the spec orders them. */
	cp = signed_cp(&tree_a, 5, &cl);
	cp[strlen(ORIGIN) + 1] = '4';
	expect(submit(f, 6, NULL, 0, cp, cl), 403, TEXT_CT, NULL);
	free(cp);
}

static void
test_a_tampered_proof_is_422(void **state)
{
	struct fx *f = *state;
	struct merkle_hash proof[MERKLE_PROOF_MAX];
	size_t n, cl;
	char *cp;

	expect(grow(f, &tree_a, 0, 5), 200, TEXT_CT, NULL);
	cp = signed_cp(&tree_a, 300, &cl);
	n = tree_proof(&tree_a, 5, 300, proof);
	assert_true(n > 2);
	for (size_t i = 0; i < n; i++) {
		proof[i].b[i % 32] ^= 0x40;
		expect_prefix(submit(f, 5, proof, n, cp, cl), 422,
			      "the consistency proof from size 5 to size 300 "
			      "does not verify: consistency proof does not "
			      "lead to the ");
		proof[i].b[i % 32] ^= 0x40;
	}
	/* Two hashes swapped. */
	{
		struct merkle_hash t = proof[0];

		proof[0] = proof[1];
		proof[1] = t;
		expect_prefix(submit(f, 5, proof, n, cp, cl), 422,
			      "the consistency proof from size 5 to size 300 "
			      "does not verify");
		proof[1] = proof[0];
		proof[0] = t;
	}
	expect_latest(f, &tree_a, 5);
	expect(submit(f, 5, proof, n, cp, cl), 200, TEXT_CT, NULL);
	expect_latest(f, &tree_a, 300);
	free(cp);
}

static void
test_a_truncated_or_padded_proof_is_422(void **state)
{
	struct fx *f = *state;
	struct merkle_hash proof[MERKLE_PROOF_MAX];
	char want[256];
	size_t n, cl;
	char *cp;

	expect(grow(f, &tree_a, 0, 5), 200, TEXT_CT, NULL);
	cp = signed_cp(&tree_a, 300, &cl);
	n = tree_proof(&tree_a, 5, 300, proof);
	snprintf(want, sizeof(want),
		 "the consistency proof from size 5 to size 300 does not "
		 "verify: consistency proof has %zu hashes; size 5 to 300 "
		 "needs %zu\n",
		 n - 1, n);
	expect(submit(f, 5, proof, n - 1, cp, cl), 422, TEXT_CT, want);
	expect_prefix(submit(f, 5, proof + 1, n - 1, cp, cl), 422,
		      "the consistency proof from size 5 to size 300 does "
		      "not verify");
	proof[n] = proof[0];
	expect_prefix(submit(f, 5, proof, n + 1, cp, cl), 422,
		      "the consistency proof from size 5 to size 300 does "
		      "not verify");
	/* No proof at all. */
	expect_prefix(submit(f, 5, NULL, 0, cp, cl), 422,
		      "the consistency proof from size 5 to size 300 does "
		      "not verify");
	free(cp);
	/* Between equal sizes the proof is empty. */
	cp = signed_cp(&tree_a, 5, &cl);
	expect(submit(f, 5, proof, 1, cp, cl), 422, TEXT_CT,
	       "the consistency proof from size 5 to size 5 is empty (got 1 "
	       "proof lines)\n");
	free(cp);
	expect_latest(f, &tree_a, 5);
}

static void
test_size_0_checkpoints_carry_the_empty_root(void **state)
{
	struct fx *f = *state;
	const struct note_signer *s[1] = {log_key};
	struct merkle_hash empty, root;
	size_t cl;
	char *cp;

	merkle_hash_empty(&empty);
	cp = signed_cp_root(ORIGIN, 0, &empty, s, 1, &cl);
	expect(submit(f, 0, NULL, 0, cp, cl), 200, TEXT_CT, NULL);
	free(cp);
	tree_root(&tree_a, 1, &root);
	cp = signed_cp_root(ORIGIN, 0, &root, s, 1, &cl);
	expect(submit(f, 0, NULL, 0, cp, cl), 422, TEXT_CT,
	       "a checkpoint of size 0 has the root of the empty tree\n");
	free(cp);
	expect_latest(f, &tree_a, 0);
}

static void
test_a_fork_at_the_same_size_is_409_but_not_a_stale_size(void **state)
{
	struct fx *f = *state;
	struct res r;
	size_t cl;
	char *cp;

	expect(grow(f, &tree_a, 0, 5), 200, TEXT_CT, NULL);
	/* The log signs tree B at the size the witness holds of A. */
	cp = signed_cp(&tree_b, 5, &cl);
	r = submit(f, 5, NULL, 0, cp, cl);
	assert_int_equal(r.status, 409);
	/* Not text/x.tlog.size: the client must not take 5 for a size to
	 * retry from. */
	assert_string_not_equal(r.ctype, SIZE_CT);
	expect(r, 409, TEXT_CT,
	       "fork: the witness cosigned another root at size 5\n");
	free(cp);
	expect_latest(f, &tree_a, 5);
	/* And A at 5 is still fine. */
	expect(grow(f, &tree_a, 5, 5), 200, TEXT_CT, NULL);
}

static void
test_a_larger_tree_that_does_not_contain_the_cosigned_one_is_422(void **state)
{
	struct fx *f = *state;

	expect(grow(f, &tree_a, 0, 5), 200, TEXT_CT, NULL);
	/* B at 8 with B's own (valid) proof from B's 5: A's 5 is not in
	 * it. */
	expect_prefix(grow(f, &tree_b, 5, 8), 422,
		      "the consistency proof from size 5 to size 8 does not "
		      "verify: consistency proof does not lead to the old "
		      "root");
	/* B at 300 with A's proof from 5 to 300: not B's root. */
	{
		struct merkle_hash proof[MERKLE_PROOF_MAX];
		size_t n = tree_proof(&tree_a, 5, 300, proof), cl;
		char *cp = signed_cp(&tree_b, 300, &cl);

		expect_prefix(submit(f, 5, proof, n, cp, cl), 422,
			      "the consistency proof from size 5 to size 300 "
			      "does not verify: consistency proof does not "
			      "lead to the new root");
		free(cp);
	}
	expect_latest(f, &tree_a, 5);
}

static void
test_a_tree_that_shares_the_cosigned_prefix_is_cosigned(void **state)
{
	struct fx *f = *state;

	/* A and B agree on their first FORK_AT leaves. */
	expect(grow(f, &tree_a, 0, FORK_AT), 200, TEXT_CT, NULL);
	expect(grow(f, &tree_b, FORK_AT, 40), 200, TEXT_CT, NULL);
	expect_latest(f, &tree_b, 40);
	/* From then on A is the fork. */
	expect_prefix(grow(f, &tree_a, 40, 41), 422,
		      "the consistency proof from size 40 to size 41");
}

/* --- the state ------------------------------------------------------- */

static void
test_the_state_survives_reopening(void **state)
{
	struct fx *f = *state;
	struct stat st;
	char path[256];

	expect(grow(f, &tree_a, 0, 9), 200, TEXT_CT, NULL);
	expect(grow(f, &tree_a, 9, 77), 200, TEXT_CT, NULL);
	state_path(f, ORIGIN, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 80);
	assert_int_equal(stat(f->dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* The other log has cosigned nothing: no file. */
	state_path(f, ORIGIN2, path, sizeof(path));
	assert_int_not_equal(stat(path, &st), 0);
	reopen_witness(f);
	expect_latest(f, &tree_a, 77);
	expect(grow(f, &tree_a, 0, 80), 409, SIZE_CT, "77\n");
	expect(grow(f, &tree_a, 77, 80), 200, TEXT_CT, NULL);
	reopen_witness(f);
	expect_latest(f, &tree_a, 80);
}

static void
test_a_second_witness_on_the_same_state_is_refused(void **state)
{
	struct fx *f = *state;
	struct witness *w2 = NULL;
	char err[256] = "";

	assert_int_equal(witness_open(f->dir, cosigner, &log_vkey, 1, &w2, err,
				      sizeof(err)),
			 VG_EINVAL);
	assert_null(w2);
	assert_non_null(strstr(err, "in use"));
}

static void
test_bad_keys_are_refused_at_open(void **state)
{
	struct fx *f = *state;
	const struct note_verifier twice[2] = {log_vkey, log_vkey};
	struct witness *w2 = NULL;
	char dir[128];

	snprintf(dir, sizeof(dir), "%s/other", f->tmp);
	/* The witness key must be a cosigner key. */
	assert_int_equal(witness_open(dir, log_key, &log_vkey, 1, &w2, NULL, 0),
			 VG_EINVAL);
	/* A log key must be an Ed25519 key. */
	assert_int_equal(witness_open(dir, cosigner, &w_vkey, 1, &w2, NULL, 0),
			 VG_EINVAL);
	assert_int_equal(witness_open(dir, cosigner, twice, 2, &w2, NULL, 0),
			 VG_EINVAL);
	assert_null(w2);
}

/* The other log, ORIGIN2, grows by one: served whatever ORIGIN's state. */
static void
grow_origin2(struct fx *f)
{
	const struct note_signer *s[1] = {log2_key};
	struct merkle_hash root, proof[MERKLE_PROOF_MAX];
	uint64_t old;
	size_t n, cl;
	char *cp;

	assert_int_equal(witness_latest(f->w, ORIGIN2, &old, NULL, NULL, 0), 0);
	n = tree_proof(&tree_a, old, old + 1, proof);
	tree_root(&tree_a, old + 1, &root);
	cp = signed_cp_root(ORIGIN2, old + 1, &root, s, 1, &cl);
	expect(submit(f, old, proof, n, cp, cl), 200, TEXT_CT, NULL);
	free(cp);
}

static void
corrupt_and_expect_refusal(struct fx *f, const char *why)
{
	char err[512] = "";
	struct res r;

	reopen_witness(f);
	assert_int_equal(
		witness_latest(f->w, ORIGIN, NULL, NULL, err, sizeof(err)),
		VG_ECORRUPT);
	assert_non_null(strstr(err, why));
	/* Not reset: every request for the log is 500, a fresh start from
	 * 0 included; the other log is served. */
	r = grow(f, &tree_a, 0, 100);
	assert_int_equal(r.rc, VG_ECORRUPT);
	assert_int_equal(r.status, 500);
	assert_string_equal(r.ctype, TEXT_CT);
	assert_non_null(strstr(r.body, "the witness cannot serve this log: "));
	assert_non_null(strstr(r.body, why));
	free(r.body);
	r = grow(f, &tree_a, 9, 100);
	assert_int_equal(r.status, 500);
	free(r.body);
	grow_origin2(f);
}

static void
test_a_corrupt_state_refuses_the_log_rather_than_reset_it(void **state)
{
	struct fx *f = *state;
	char path[256], path2[256];
	uint8_t buf[80];
	int fd;

	expect(grow(f, &tree_a, 0, 9), 200, TEXT_CT, NULL);
	state_path(f, ORIGIN, path, sizeof(path));
	/* A flipped bit. */
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, 80, 0), 80);
	buf[20] ^= 1;
	assert_int_equal(pwrite(fd, buf, 80, 0), 80);
	close(fd);
	corrupt_and_expect_refusal(f, "checksum does not match");
	/* Cut short. */
	buf[20] ^= 1;
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, 79), 79);
	close(fd);
	corrupt_and_expect_refusal(f, "not a file of 80 bytes");
	/* Another magic. */
	buf[0] = 'X';
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, 80), 80);
	close(fd);
	corrupt_and_expect_refusal(f, "not a witness state");
	/* Another log's (valid) state under this log's name. */
	state_path(f, ORIGIN2, path2, sizeof(path2));
	assert_int_equal(rename(path2, path), 0);
	corrupt_and_expect_refusal(f, "checksum does not match");
	/* A directory in its place. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	corrupt_and_expect_refusal(f, "not a file of 80 bytes");
}

static void
test_the_clock_past_2_63_is_refused(void **state)
{
	struct fx *f = *state;
	size_t cl;
	char *cp = signed_cp(&tree_a, 3, &cl), *body, *rb;
	size_t bl, rl;
	const char *ct;
	int status, rc;

	assert_int_equal(
		witness_request_format(0, NULL, 0, cp, cl, &body, &bl, NULL, 0),
		0);
	rc = witness_add_checkpoint(f->w, body, bl, (uint64_t)INT64_MAX + 1,
				    &status, &rb, &rl, &ct);
	assert_int_equal(rc, VG_EINVAL);
	assert_int_equal(status, 500);
	free(rb);
	expect_latest(f, &tree_a, 0);
	rc = witness_add_checkpoint(f->w, body, bl, (uint64_t)INT64_MAX,
				    &status, &rb, &rl, &ct);
	assert_int_equal(rc, 0);
	assert_int_equal(status, 200);
	free(rb);
	free(body);
	free(cp);
}

/* --- the request format ---------------------------------------------- */

static void
test_requests_format_and_parse_back(void **state)
{
	struct merkle_hash proof[WITNESS_PROOF_MAX];
	struct witness_request r;
	char *body, *again;
	size_t bl, al;
	static const char spec[] =
		"old 20852014\n"
		"PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
		"jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
		"5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
		"/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
		"\n"
		"example.com/behind-the-sofa\n"
		"20852163\n"
		"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
		"\n"
		"\xe2\x80\x94 example.com/behind-the-sofa "
		"Az3grlgtzPICa5OS8npVmf1"
		"Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
		"Zhcyv2q1gGzGku9nTo+zyWE+xeMcT"
		"OAYQ8=\n";

	(void)state;
	/* The spec's example request. */
	assert_int_equal(witness_request_parse(spec, strlen(spec), &r, NULL, 0),
			 0);
	assert_int_equal(r.old_size, 20852014);
	assert_int_equal(r.proof_len, 4);
	assert_int_equal(r.proof[3].b[0], 0xff);
	assert_ptr_equal(r.checkpoint, strstr(spec, "example.com/"));
	assert_int_equal(witness_request_format(
				 r.old_size, r.proof, r.proof_len, r.checkpoint,
				 r.checkpoint_len, &body, &bl, NULL, 0),
			 0);
	assert_int_equal(bl, strlen(spec));
	assert_memory_equal(body, spec, bl);
	free(body);
	/* 63 hashes, the most. */
	for (size_t i = 0; i < WITNESS_PROOF_MAX; i++)
		memset(proof[i].b, (int)i, MERKLE_HASH_LEN);
	assert_int_equal(witness_request_format(UINT64_MAX, proof,
						WITNESS_PROOF_MAX, "x", 1,
						&body, &bl, NULL, 0),
			 0);
	assert_int_equal(witness_request_parse(body, bl, &r, NULL, 0), 0);
	assert_int_equal(r.old_size, UINT64_MAX);
	assert_int_equal(r.proof_len, WITNESS_PROOF_MAX);
	assert_memory_equal(r.proof, proof, sizeof(proof));
	assert_int_equal(r.checkpoint_len, 1);
	assert_int_equal(witness_request_format(
				 r.old_size, r.proof, r.proof_len, r.checkpoint,
				 r.checkpoint_len, &again, &al, NULL, 0),
			 0);
	assert_int_equal(al, bl);
	assert_memory_equal(again, body, bl);
	free(again);
	free(body);
	/* Nothing to format without a checkpoint. */
	assert_int_equal(
		witness_request_format(0, NULL, 0, "", 0, &body, &bl, NULL, 0),
		VG_EINVAL);
}

/* --- concurrency ----------------------------------------------------- */

#define THREADS 6
#define ROUNDS  10

struct racer {
	struct fx *f;
	pthread_barrier_t *start;
	char *body;
	size_t len;
	uint64_t size;
	struct res r;
};

static void *
racer_main(void *arg)
{
	struct racer *c = arg;

	pthread_barrier_wait(c->start);
	c->r.rc = witness_add_checkpoint(c->f->w, c->body, c->len, NOW,
					 &c->r.status, &c->r.body, &c->r.len,
					 &c->r.ctype);
	return NULL;
}

static void
test_concurrent_requests_from_one_old_size_have_one_winner(void **state)
{
	struct fx *f = *state;
	struct racer c[THREADS];
	pthread_t th[THREADS];
	pthread_barrier_t start;
	uint64_t old = 0;

	for (int round = 0; round < ROUNDS; round++) {
		uint64_t winner = 0;
		int wins = 0;
		char want[32];

		assert_int_equal(pthread_barrier_init(&start, NULL, THREADS),
				 0);
		for (int i = 0; i < THREADS; i++) {
			struct merkle_hash proof[MERKLE_PROOF_MAX];
			size_t n, cl;
			char *cp;

			c[i].f = f;
			c[i].start = &start;
			c[i].size = old + 1 +
				    (uint64_t)((i * 7 + round) % THREADS) * 3;
			n = tree_proof(&tree_a, old, c[i].size, proof);
			cp = signed_cp(&tree_a, c[i].size, &cl);
			assert_int_equal(
				witness_request_format(old, proof, n, cp, cl,
						       &c[i].body, &c[i].len,
						       NULL, 0),
				0);
			free(cp);
		}
		for (int i = 0; i < THREADS; i++)
			assert_int_equal(
				pthread_create(&th[i], NULL, racer_main, &c[i]),
				0);
		for (int i = 0; i < THREADS; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&start);
		for (int i = 0; i < THREADS; i++)
			if (c[i].r.status == 200) {
				wins++;
				winner = c[i].size;
			}
		assert_int_equal(wins, 1);
		snprintf(want, sizeof(want), "%" PRIu64 "\n", winner);
		for (int i = 0; i < THREADS; i++) {
			assert_int_equal(c[i].r.rc, 0);
			if (c[i].r.status != 200) {
				assert_int_equal(c[i].r.status, 409);
				assert_string_equal(c[i].r.ctype, SIZE_CT);
				assert_string_equal(c[i].r.body, want);
			}
			free(c[i].r.body);
			free(c[i].body);
		}
		expect_latest(f, &tree_a, winner);
		old = winner;
	}
	reopen_witness(f);
	expect_latest(f, &tree_a, old);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_the_first_checkpoint_is_cosigned_from_old_size_0),
		T(test_the_cosignature_verifies_as_a_type_4_key_with_the_time),
		T(test_growth_with_valid_proofs_is_cosigned),
		T(test_a_stale_old_size_is_409_with_the_latest_size),
		T(test_an_unknown_origin_is_404),
		T(test_a_checkpoint_without_a_valid_log_signature_is_403),
		T(test_malformed_requests_are_400),
		T(test_an_old_size_above_the_checkpoint_is_400),
		T(test_a_tampered_proof_is_422),
		T(test_a_truncated_or_padded_proof_is_422),
		T(test_size_0_checkpoints_carry_the_empty_root),
		T(test_a_fork_at_the_same_size_is_409_but_not_a_stale_size),
		T(test_a_larger_tree_that_does_not_contain_the_cosigned_one_is_422),
		T(test_a_tree_that_shares_the_cosigned_prefix_is_cosigned),
		T(test_the_state_survives_reopening),
		T(test_a_second_witness_on_the_same_state_is_refused),
		T(test_bad_keys_are_refused_at_open),
		T(test_a_corrupt_state_refuses_the_log_rather_than_reset_it),
		T(test_the_clock_past_2_63_is_refused),
		T(test_requests_format_and_parse_back),
		T(test_concurrent_requests_from_one_old_size_have_one_winner),
#undef T
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
