/*
 * fuzz_note.c - libFuzzer target: any bytes as a signed note, a verifier
 * key or a signer key parse or are refused with a message, never crash.
 * A parsed note keeps its text as given and verifies (or not) against an
 * Ed25519 and a cosignature key; a parsed key formats back to exactly the
 * bytes it came from, since there is one way to write each key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlog/note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const known[] = {
	"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
	"remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
};

static void
check_note(const char *s, size_t size, const struct note_verifier *keys)
{
	struct note *n;
	char err[256] = "";
	size_t k;
	uint64_t t;

	if (note_parse(s, size, &n, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return;
	}
	if (n->text_len == 0 || n->text_len >= size ||
	    n->text[n->text_len - 1] != '\n' ||
	    memcmp(n->text, s, n->text_len) != 0 || n->nsigs < 1 ||
	    n->nsigs > NOTE_MAX_SIGS)
		abort();
	for (size_t i = 0; i < n->nsigs; i++)
		if (n->sigs[i].sig_len < 1 ||
		    !note_name_valid(n->sigs[i].name, strlen(n->sigs[i].name)))
			abort();
	err[0] = '\0';
	if (note_verify(n, keys, 2, &k, err, sizeof(err)) != 0 &&
	    err[0] == '\0')
		abort();
	for (size_t i = 0; i < n->nsigs; i++)
		if (note_cosignature_time(&n->sigs[i], &t) == 0 &&
		    t > INT64_MAX)
			abort();
	note_free(n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct note_verifier keys[2], v;
	struct note_signer *signer;
	char buf[NOTE_KEY_MAX], err[256] = "";

	for (int i = 0; i < 2; i++)
		if (note_verifier_parse(known[i], strlen(known[i]), &keys[i],
					NULL, 0) != 0)
			abort();
	check_note(s, size, keys);

	if (note_verifier_parse(s, size, &v, err, sizeof(err)) == 0) {
		note_verifier_format(&v, buf);
		if (strlen(buf) != size || memcmp(buf, s, size) != 0)
			abort();
	} else if (err[0] == '\0') {
		abort();
	}
	err[0] = '\0';
	if (note_signer_parse(s, size, &signer, err, sizeof(err)) == 0) {
		note_signer_format(signer, buf);
		if (strlen(buf) != size || memcmp(buf, s, size) != 0)
			abort();
		note_signer_free(signer);
	} else if (err[0] == '\0') {
		abort();
	}
	return 0;
}
