/*
 * fuzz_proof.c - libFuzzer target: any bytes as a tlog-proof parse or are
 * refused with a message, never crash; what parses formats back to
 * exactly the same bytes, and is verified (or not) against a fixed key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlog/proof.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char log[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzh"
				  "KqiBfsVkmqq/LDE4izWy10TW";
	const char *s = (const char *)data;
	struct note_verifier key;
	struct merkle_hash leaf;
	struct tlog_proof p;
	struct checkpoint c;
	char err[256] = "", *out;
	size_t len;

	if (tlog_proof_parse(s, size, &p, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	if (tlog_proof_format(&p, &out, &len, NULL, 0) != 0 || len != size ||
	    memcmp(out, s, size) != 0)
		abort();
	free(out);
	if (note_verifier_parse(log, strlen(log), &key, NULL, 0) != 0)
		abort();
	memset(&leaf, 0, sizeof(leaf));
	err[0] = '\0';
	if (tlog_proof_verify(&p, &leaf, "example.com/log", &key, NULL, 0, 0,
			      &c, err, sizeof(err)) == 0)
		checkpoint_clear(&c);
	else if (err[0] == '\0')
		abort();
	tlog_proof_clear(&p);
	return 0;
}
