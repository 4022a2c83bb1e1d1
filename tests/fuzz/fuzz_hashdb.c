/*
 * fuzz_hashdb.c - libFuzzer target: any bytes as an .hdb/.hsb file must
 * load or be rejected with an error, never crash or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/hashdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hashdb *db = hashdb_new();
	char err[256];
	uint8_t digest[32] = {0};

	/* The first byte picks the format. */
	const char *origin = size > 0 && (data[0] & 1) ? "f.hdb" : "f.hsb";
	if (hashdb_load_buffer(db, (const char *)data, size, origin, err,
			       sizeof(err)) == 0) {
		hashdb_finish(db);
		if (size >= 32)
			memcpy(digest, data, 32);
		for (int k = 0; k < HASH_KIND_COUNT; k++)
			(void)hashdb_lookup(db, k, digest, size);
	}
	hashdb_free(db);
	return 0;
}
