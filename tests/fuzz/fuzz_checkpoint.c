/*
 * fuzz_checkpoint.c - libFuzzer target: any bytes as a checkpoint text
 * parse or are refused with a message, never crash; what parses formats
 * back to exactly the same bytes. The bytes are also opened as a signed
 * checkpoint against a fixed log key and witness.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlog/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char log[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzh"
				  "KqiBfsVkmqq/LDE4izWy10TW",
			  wit[] = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R"
				  "6UYAtVtNbZpXh34x7onlmtw2";
	const char *s = (const char *)data;
	struct note_verifier keys[2];
	struct checkpoint c;
	char err[256] = "", *out;
	size_t len;

	if (checkpoint_parse(s, size, &c, err, sizeof(err)) == 0) {
		if (checkpoint_format(c.origin, c.size, &c.root, c.extensions,
				      &out, &len, NULL, 0) != 0 ||
		    len != size || memcmp(out, s, size) != 0)
			abort();
		free(out);
		checkpoint_clear(&c);
	} else if (err[0] == '\0') {
		abort();
	}

	if (note_verifier_parse(log, strlen(log), &keys[0], NULL, 0) != 0 ||
	    note_verifier_parse(wit, strlen(wit), &keys[1], NULL, 0) != 0)
		abort();
	err[0] = '\0';
	if (checkpoint_open(s, size, "example.com/log", &keys[0], &keys[1], 1,
			    0, &c, err, sizeof(err)) == 0)
		checkpoint_clear(&c);
	else if (err[0] == '\0')
		abort();
	return 0;
}
