/*
 * fuzz_witness_request.c - libFuzzer target: any bytes as a tlog-witness
 * add-checkpoint request. What parses formats back to exactly the same
 * bytes; and the whole protocol (witness_add_checkpoint()) answers every
 * input with one of its statuses and a one-line body, never crashes,
 * never fails on its own, and cosigns only what verifies.
 *
 * The witness knows one log, whose (test) key signs the seed corpus, and
 * starts every input from the same state: the log's tree of leaves
 * "leaf 0".."leaf 2" (size 3), written to a state directory under
 * $TMPDIR before each input, so that an input's answer depends on it
 * alone. Seeds: tests/fuzz/corpus/fuzz_witness_request/.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlog/checkpoint.h"
#include "tlog/witness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LOG_SKEY                                                               \
	"PRIVATE+KEY+example.com/fuzz-log+a2b47725+AfciJJfZNIUmbMU/dnRBWK2Ruf" \
	"MEv43YKKJJnr3xyrOv"
#define W_SKEY                                                                 \
	"PRIVATE+KEY+witness.example/fuzz+3fa84260+BKkxZZTy8NYlHvbe3AoruvSaW"  \
	"nN3OJ0WIKO3p/9NsXGF"
#define START_SIZE 3
#define NOW        1764390000

static struct note_signer *log_signer, *cosigner;
static struct note_verifier keys[2]; /* the log's, the witness's */
static char dir[256], state_file[600];
static uint8_t state[128];
static size_t state_len;

static void
cleanup(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		char path[600];

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

/* Cosigns the log at START_SIZE once, and keeps the state file it
 * leaves: every input starts from it. */
static void
init(void)
{
	const struct note_signer *s[1];
	struct merkle_hash leaves[START_SIZE], root;
	const char *t = getenv("TMPDIR");
	struct witness *w;
	char *text, *note, *body, *rbody;
	size_t tl, nl, bl, rl;
	const char *ct;
	struct dirent *de;
	int status, fd;
	DIR *d;

	if (note_signer_parse(LOG_SKEY, strlen(LOG_SKEY), &log_signer, NULL,
			      0) != 0 ||
	    note_signer_parse(W_SKEY, strlen(W_SKEY), &cosigner, NULL, 0) != 0)
		abort();
	note_signer_verifier(log_signer, &keys[0]);
	note_signer_verifier(cosigner, &keys[1]);
	snprintf(dir, sizeof(dir), "%s/vigil-fuzz-witness-XXXXXX",
		 t != NULL && *t != '\0' && strlen(t) < 200 ? t : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(cleanup);
	for (unsigned i = 0; i < START_SIZE; i++) {
		char leaf[16];
		int n = snprintf(leaf, sizeof(leaf), "leaf %u", i);

		if (merkle_hash_leaf(leaf, (size_t)n, &leaves[i]) != 0)
			abort();
	}
	s[0] = log_signer;
	if (merkle_root(leaves, START_SIZE, &root) != 0 ||
	    checkpoint_format(keys[0].name, START_SIZE, &root, NULL, &text, &tl,
			      NULL, 0) != 0 ||
	    note_sign(text, tl, s, 1, 0, &note, &nl, NULL, 0) != 0 ||
	    witness_request_format(0, NULL, 0, note, nl, &body, &bl, NULL, 0) !=
		    0 ||
	    witness_open(dir, cosigner, keys, 1, &w, NULL, 0) != 0)
		abort();
	if (witness_add_checkpoint(w, body, bl, NOW, &status, &rbody, &rl,
				   &ct) != 0 ||
	    status != 200)
		abort();
	witness_close(w);
	free(rbody);
	free(body);
	free(note);
	free(text);
	/* The one file in the directory is the state. */
	if ((d = opendir(dir)) == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			snprintf(state_file, sizeof(state_file), "%s/%s", dir,
				 de->d_name);
	closedir(d);
	if (state_file[0] == '\0' || (fd = open(state_file, O_RDONLY)) < 0)
		abort();
	state_len = (size_t)read(fd, state, sizeof(state));
	close(fd);
	if (state_len != 80)
		abort();
}

/* Puts the starting state back (no fsync: nothing here must survive). */
static void
reset_state(void)
{
	int fd = open(state_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, state, state_len) != (ssize_t)state_len)
		abort();
	close(fd);
}

/* A 200's body must be a cosignature of the request's checkpoint by the
 * witness, at NOW. */
static void
check_cosignature(const struct witness_request *r, const char *line, size_t len)
{
	struct note *n = NULL;
	size_t nv, ml = r->checkpoint_len + len;
	char *msg = malloc(ml);
	bool found = false;

	if (msg == NULL)
		abort();
	memcpy(msg, r->checkpoint, r->checkpoint_len);
	memcpy(msg + r->checkpoint_len, line, len);
	if (note_parse(msg, ml, &n, NULL, 0) != 0 ||
	    note_verify(n, keys, 2, &nv, NULL, 0) != 0 || nv != 2 ||
	    !note_verified_by(n, &keys[0]))
		abort();
	for (size_t i = 0; i < n->nsigs; i++)
		if (n->sigs[i].key == &keys[1] && n->sigs[i].timestamp == NOW)
			found = true;
	if (!found)
		abort();
	note_free(n);
	free(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const char *s = (const char *)data, *ct;
	struct witness_request r;
	struct witness *w;
	char err[256] = "", *out, *body;
	size_t len, bl;
	int parsed, status, rc;

	if (!ready) {
		init();
		ready = 1;
	}
	/* The parser: a message on failure, an exact round trip else. */
	parsed = witness_request_parse(s, size, &r, err, sizeof(err)) == 0;
	if (!parsed && err[0] == '\0')
		abort();
	if (parsed) {
		if (r.proof_len > WITNESS_PROOF_MAX || r.checkpoint_len == 0 ||
		    r.checkpoint < s ||
		    r.checkpoint + r.checkpoint_len != s + size)
			abort();
		if (witness_request_format(r.old_size, r.proof, r.proof_len,
					   r.checkpoint, r.checkpoint_len, &out,
					   &len, NULL, 0) != 0 ||
		    len != size || memcmp(out, s, size) != 0)
			abort();
		free(out);
	}

	/* The protocol, from the starting state. */
	reset_state();
	if (witness_open(dir, cosigner, keys, 1, &w, NULL, 0) != 0)
		abort();
	rc = witness_add_checkpoint(w, s, size, NOW, &status, &body, &bl, &ct);
	witness_close(w);
	if (rc != 0 || body == NULL || strlen(body) != bl || bl == 0 ||
	    body[bl - 1] != '\n' || memchr(body, '\n', bl - 1) != NULL)
		abort();
	switch (status) {
	case 200:
		if (!parsed)
			abort();
		check_cosignature(&r, body, bl);
		break;
	case 400: break;
	case 403:
	case 404:
	case 422:
		if (!parsed)
			abort();
		break;
	case 409:
		if (!parsed ||
		    (strcmp(ct, WITNESS_SIZE_TYPE) == 0 && strcmp(body, "3\n")))
			abort();
		break;
	default: abort();
	}
	if (strcmp(ct, status == 409 && body[0] >= '0' && body[0] <= '9'
			       ? WITNESS_SIZE_TYPE
			       : WITNESS_TEXT_TYPE) != 0)
		abort();
	free(body);
	return 0;
}
