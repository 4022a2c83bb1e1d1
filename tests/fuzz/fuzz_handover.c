/*
 * fuzz_handover.c - libFuzzer target: any bytes as a log key handover
 * note (src/tlog/handover.c) from a fixed old key verify or are refused
 * with a message, never crash. A refused note leaves the outputs as they
 * were; an accepted one is exactly the text tlog_handover_text() writes
 * for what it states, followed by its signatures.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlog/handover.h"
#include "tlog/note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ORIGIN "vigil.local/eu/0123456789abcdef"
/* The old key: the signed-note reference implementation's test key,
 * whose signer key the seed corpus was signed with. */
#define OLD "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct note_verifier old, new;
	char err[512] = "", text[HANDOVER_TEXT_MAX], e2[64];
	uint8_t root[32], zero[32] = {0};
	uint64_t tree = 7;
	size_t len;
	int rc;

	if (note_verifier_parse(OLD, strlen(OLD), &old, NULL, 0) != 0)
		abort();
	memset(&new, 0, sizeof(new));
	memset(root, 0, sizeof(root));
	rc = tlog_handover_verify((const char *)data, size, ORIGIN, &old, &new,
				  &tree, root, err, sizeof(err));
	if (rc != 0) {
		if (err[0] == '\0' || tree != 7 || new.name[0] != '\0' ||
		    memcmp(root, zero, 32) != 0)
			abort();
		return 0;
	}
	if (tlog_handover_text(ORIGIN, &old, &new, tree, root, text, &len, e2,
			       sizeof(e2)) != 0 ||
	    len >= size || memcmp(text, data, len) != 0 || data[len] != '\n')
		abort();
	return 0;
}
