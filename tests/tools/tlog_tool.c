/*
 * tlog_tool.c - what the integration tests need of a log that the node
 * does not serve: proofs and roots computed from the tile files of a log
 * directory (a vigild's <data>/log, read while it runs: tiles are only
 * ever renamed into place), and notes signed with a key file (to play a
 * log that forks).
 *
 *   tlog_tool consistency DIR SIZE1 SIZE2   the consistency proof from
 *                                           SIZE1 to SIZE2, one base64
 *                                           hash a line (none if SIZE1 is
 *                                           0 or SIZE1 = SIZE2)
 *   tlog_tool root DIR SIZE                 the base64 root at SIZE
 *   tlog_tool sign KEYFILE TEXTFILE         the signed note of the text
 *   tlog_tool cosigned FILE LOGKEY WKEY     checks that the signed
 *                                           checkpoint in FILE verifies
 *                                           with the log's key and a
 *                                           cosignature by the witness's
 *                                           key; prints "size N time T"
 *   tlog_tool handover OLDKEY NEWKEY CHECKPOINT
 *                                           the key handover (docs/LOG.md)
 *                                           from the signer key file
 *                                           OLDKEY to NEWKEY, naming the
 *                                           tree of the checkpoint file
 *                                           CHECKPOINT, which OLDKEY must
 *                                           have signed; signed by both
 *   tlog_tool handover-check FILE ORIGIN OLDKEY
 *                                           checks the handover note in
 *                                           FILE (tlog_handover_verify);
 *                                           prints "new KEY", "tree N
 *                                           ROOT"
 *
 * Exit status 0, or 1 with a message.
 */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "tlog/checkpoint.h"
#include "tlog/handover.h"
#include "tlog/keyfile.h"
#include "tlog/merkle.h"
#include "tlog/note.h"
#include "tlog/tile.h"

#define TEXT_MAX (64 * 1024)

/* Reads up to max bytes of path into buf; the count, or -1. */
static long
read_file(const char *path, void *buf, size_t max)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, max, f);
	fclose(f);
	return (long)n;
}

/* A tile_read_fn over the files under a log directory: the tile's own
 * file, or else the first hashes of the full tile at its place. */
static int
dir_read(void *ud, const struct tile *t, uint8_t *buf, size_t *len)
{
	struct tile full = *t;
	char rel[TILE_PATH_MAX], path[4096];
	size_t want = (size_t)t->width * MERKLE_HASH_LEN;
	long n;

	if (tile_path(t, rel) != 0)
		return VG_EINVAL;
	snprintf(path, sizeof(path), "%s/%s", (const char *)ud, rel);
	n = read_file(path, buf, TILE_BYTES);
	if (n < 0 && errno == ENOENT) {
		full.width = TILE_WIDTH;
		if (tile_path(&full, rel) != 0)
			return VG_EINVAL;
		snprintf(path, sizeof(path), "%s/%s", (const char *)ud, rel);
		n = read_file(path, buf, TILE_BYTES);
		if (n == TILE_BYTES)
			n = (long)want;
	}
	if (n < 0) {
		fprintf(stderr, "tlog_tool: %s: %s\n", path, strerror(errno));
		return VG_EIO;
	}
	*len = (size_t)n;
	return 0;
}

static int
parse_size(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno != 0 || end == s || *end != '\0' ? -1 : 0;
}

static void
print_hash(const struct merkle_hash *h)
{
	char b64[sodium_base64_ENCODED_LEN(MERKLE_HASH_LEN,
					   sodium_base64_VARIANT_ORIGINAL)];

	sodium_bin2base64(b64, sizeof(b64), h->b, MERKLE_HASH_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	printf("%s\n", b64);
}

static int
cmd_consistency(char *dir, uint64_t size1, uint64_t size2)
{
	struct merkle_hash proof[MERKLE_PROOF_MAX];
	struct tile_reader *tr = malloc(sizeof(*tr));
	struct merkle_reader mr;
	char err[256] = "size1 above size2";
	size_t n = 0;
	int rc = 0;

	if (tr == NULL)
		return 1;
	tile_reader_init(tr, size2, dir_read, dir);
	mr = tile_reader_merkle(tr);
	if (size1 > 0 && size1 < size2)
		rc = merkle_prove_consistency(&mr, size1, size2, proof, &n, err,
					      sizeof(err));
	else if (size1 > size2)
		rc = VG_EINVAL;
	free(tr);
	if (rc != 0) {
		fprintf(stderr, "tlog_tool: %s\n", err);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		print_hash(&proof[i]);
	return 0;
}

static int
cmd_root(char *dir, uint64_t size)
{
	struct tile_reader *tr = malloc(sizeof(*tr));
	struct merkle_reader mr;
	struct merkle_hash root;
	int rc;

	if (tr == NULL)
		return 1;
	tile_reader_init(tr, size, dir_read, dir);
	mr = tile_reader_merkle(tr);
	rc = merkle_root_from_reader(&mr, size, &root);
	free(tr);
	if (rc != 0) {
		fprintf(stderr, "tlog_tool: no root: %s\n", vg_strerror(rc));
		return 1;
	}
	print_hash(&root);
	return 0;
}

static int
cmd_sign(const char *keyfile, const char *textfile)
{
	static char key[NOTE_KEY_MAX + 2], text[TEXT_MAX];
	const struct note_signer *signers[1];
	struct note_signer *s = NULL;
	char err[256], *note;
	long kl = read_file(keyfile, key, sizeof(key) - 1);
	long tl = read_file(textfile, text, sizeof(text));
	size_t nl;

	if (kl < 0 || tl < 0) {
		fprintf(stderr, "tlog_tool: cannot read %s or %s\n", keyfile,
			textfile);
		return 1;
	}
	while (kl > 0 && key[kl - 1] == '\n')
		kl--;
	if (note_signer_parse(key, (size_t)kl, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "tlog_tool: %s: %s\n", keyfile, err);
		return 1;
	}
	sodium_memzero(key, sizeof(key));
	signers[0] = s;
	if (note_sign(text, (size_t)tl, signers, 1, 0, &note, &nl, err,
		      sizeof(err)) != 0) {
		fprintf(stderr, "tlog_tool: %s: %s\n", textfile, err);
		note_signer_free(s);
		return 1;
	}
	fwrite(note, 1, nl, stdout);
	free(note);
	note_signer_free(s);
	return 0;
}

static int
cmd_cosigned(const char *file, const char *logkey, const char *wkey)
{
	static char msg[NOTE_MAX_SIZE];
	struct note_verifier keys[2];
	struct checkpoint c;
	struct note *n = NULL;
	char err[256];
	long len = read_file(file, msg, sizeof(msg));
	size_t nv;
	int rc;

	if (len < 0) {
		fprintf(stderr, "tlog_tool: cannot read %s\n", file);
		return 1;
	}
	if (note_verifier_parse(logkey, strlen(logkey), &keys[0], err,
				sizeof(err)) != 0 ||
	    note_verifier_parse(wkey, strlen(wkey), &keys[1], err,
				sizeof(err)) != 0) {
		fprintf(stderr, "tlog_tool: %s\n", err);
		return 1;
	}
	rc = checkpoint_open(msg, (size_t)len, keys[0].name, &keys[0], &keys[1],
			     1, 1, &c, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "tlog_tool: %s\n", err);
		return 1;
	}
	if (note_parse(msg, (size_t)len, &n, err, sizeof(err)) != 0 ||
	    note_verify(n, keys, 2, &nv, err, sizeof(err)) != 0) {
		fprintf(stderr, "tlog_tool: %s\n", err);
		checkpoint_clear(&c);
		note_free(n);
		return 1;
	}
	for (size_t i = 0; i < n->nsigs; i++)
		if (n->sigs[i].key != NULL &&
		    n->sigs[i].key->type == NOTE_COSIGNATURE)
			printf("size %" PRIu64 " time %" PRIu64 "\n", c.size,
			       n->sigs[i].timestamp);
	checkpoint_clear(&c);
	note_free(n);
	return 0;
}

static int
cmd_handover(const char *oldfile, const char *newfile, const char *cpfile)
{
	static char msg[NOTE_MAX_SIZE];
	const struct note_signer *signers[2];
	struct note_signer *o = NULL, *n = NULL;
	struct note_verifier ov, nv;
	struct checkpoint c = {0};
	char err[512], *text = NULL, *note = NULL;
	long len = read_file(cpfile, msg, sizeof(msg));
	size_t tl, nl;
	bool created;
	int rc = 1;

	if (len < 0) {
		fprintf(stderr, "tlog_tool: cannot read %s\n", cpfile);
		return 1;
	}
	if (note_signer_file(oldfile, NULL, NOTE_ED25519, &o, &created, err,
			     sizeof(err)) != 0 ||
	    note_signer_file(newfile, NULL, NOTE_ED25519, &n, &created, err,
			     sizeof(err)) != 0) {
		fprintf(stderr, "tlog_tool: %s\n", err);
		goto out;
	}
	note_signer_verifier(o, &ov);
	note_signer_verifier(n, &nv);
	if (checkpoint_open(msg, (size_t)len, ov.name, &ov, NULL, 0, 0, &c, err,
			    sizeof(err)) != 0 ||
	    tlog_handover_format(c.origin, &ov, &nv, c.size, c.root.b, &text,
				 &tl, err, sizeof(err)) != 0) {
		fprintf(stderr, "tlog_tool: %s\n", err);
		goto out;
	}
	signers[0] = o;
	signers[1] = n;
	if (note_sign(text, tl, signers, 2, 0, &note, &nl, err, sizeof(err)) !=
	    0) {
		fprintf(stderr, "tlog_tool: %s\n", err);
		goto out;
	}
	fwrite(note, 1, nl, stdout);
	rc = 0;
out:
	checkpoint_clear(&c);
	free(text);
	free(note);
	note_signer_free(o);
	note_signer_free(n);
	return rc;
}

static int
cmd_handover_check(const char *file, const char *origin, const char *oldkey)
{
	static char msg[NOTE_MAX_SIZE];
	struct note_verifier old, new;
	char err[512], vk[NOTE_KEY_MAX], b64[64];
	long len = read_file(file, msg, sizeof(msg));
	uint8_t root[32];
	uint64_t size;

	if (len < 0) {
		fprintf(stderr, "tlog_tool: cannot read %s\n", file);
		return 1;
	}
	if (note_verifier_parse(oldkey, strlen(oldkey), &old, err,
				sizeof(err)) != 0 ||
	    tlog_handover_verify(msg, (size_t)len, origin, &old, &new, &size,
				 root, err, sizeof(err)) != 0) {
		fprintf(stderr, "tlog_tool: %s\n", err);
		return 1;
	}
	note_verifier_format(&new, vk);
	sodium_bin2base64(b64, sizeof(b64), root, 32,
			  sodium_base64_VARIANT_ORIGINAL);
	printf("new %s\ntree %" PRIu64 " %s\n", vk, size, b64);
	return 0;
}

int
main(int argc, char **argv)
{
	uint64_t a, b;

	if (sodium_init() < 0)
		return 1;
	if (argc == 5 && strcmp(argv[1], "consistency") == 0 &&
	    parse_size(argv[3], &a) == 0 && parse_size(argv[4], &b) == 0)
		return cmd_consistency(argv[2], a, b);
	if (argc == 4 && strcmp(argv[1], "root") == 0 &&
	    parse_size(argv[3], &a) == 0)
		return cmd_root(argv[2], a);
	if (argc == 4 && strcmp(argv[1], "sign") == 0)
		return cmd_sign(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "cosigned") == 0)
		return cmd_cosigned(argv[2], argv[3], argv[4]);
	if (argc == 5 && strcmp(argv[1], "handover") == 0)
		return cmd_handover(argv[2], argv[3], argv[4]);
	if (argc == 5 && strcmp(argv[1], "handover-check") == 0)
		return cmd_handover_check(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: tlog_tool consistency DIR SIZE1 SIZE2\n"
			"       tlog_tool root DIR SIZE\n"
			"       tlog_tool sign KEYFILE TEXTFILE\n"
			"       tlog_tool cosigned FILE LOGKEY WKEY\n"
			"       tlog_tool handover OLDKEY NEWKEY CHECKPOINT\n"
			"       tlog_tool handover-check FILE ORIGIN OLDKEY\n");
	return 1;
}
