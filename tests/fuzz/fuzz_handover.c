/*
 * fuzz_handover.c - libFuzzer target: any bytes as a log key handover
 * (tlog/handover.h) verify or are refused with a reason, never crash; what
 * verifies has exactly the text tlog_handover_format() writes for what it
 * gave, and a new key other than the old one. The seeds in
 * corpus/fuzz_handover include handovers really signed by OLD_KEY's
 * signer and a new key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlog/handover.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The old key of the seeds (its signer key is in no file: the seeds were
 * made once with it). */
#define OLD_KEY     ORIGIN_NAME "+" OLD_KEY_ID "+" OLD_KEY_B64
#define ORIGIN_NAME "vigil.example/eu"
#define OLD_KEY_ID  "5a6c1d8a"
#define OLD_KEY_B64 "Ac+EbFw7YzWzUvS9Kbe08WT8Q7OuGKuPZ5BKLtakAs3R"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct note_verifier old, got;
	uint64_t tree;
	uint8_t root[32];
	char err[512] = "", *text = NULL;
	size_t len;
	int rc;

	if (note_verifier_parse(OLD_KEY, strlen(OLD_KEY), &old, NULL, 0) != 0)
		abort();
	rc = tlog_handover_verify(s, size, ORIGIN_NAME, &old, &got, &tree, root,
				  err, sizeof(err));
	if (rc != 0) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	if (memcmp(&got, &old, sizeof(got)) == 0 ||
	    tlog_handover_format(ORIGIN_NAME, &old, &got, tree, root, &text,
				 &len, NULL, 0) != 0 ||
	    len > size || memcmp(text, s, len) != 0 || s[len] != '\n')
		abort();
	free(text);
	return 0;
}
