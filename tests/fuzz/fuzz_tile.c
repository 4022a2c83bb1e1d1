/*
 * fuzz_tile.c - libFuzzer target: any bytes as a tile path, and (after a
 * first byte giving the width) as an entry bundle, parse or are refused
 * with a message, never crash; what parses encodes back to exactly the
 * same bytes. The first 17 bytes also drive the tile arithmetic (a tree
 * size, a level, an index) under the sanitizers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlog/tile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int
count_tiles(const struct tile *t, void *ud)
{
	(void)t;
	return ++*(unsigned *)ud >= 64; /* stop a long walk */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tile_entry entries[TILE_WIDTH];
	static uint8_t out[TILE_BUNDLE_MAX];
	char path[TILE_PATH_MAX], err[256] = "";
	struct tile t;

	if (tile_parse_path((const char *)data, size, &t, err, sizeof(err)) ==
	    0) {
		if (tile_path(&t, path) != 0 || strlen(path) != size ||
		    memcmp(path, data, size) != 0)
			abort();
	} else if (err[0] == '\0') {
		abort();
	}

	if (size >= 1) {
		unsigned width = (unsigned)data[0] + 1;

		err[0] = '\0';
		if (tile_bundle_parse(data + 1, size - 1, width, entries, err,
				      sizeof(err)) == 0) {
			if (tile_bundle_size(entries, width) != size - 1 ||
			    tile_bundle_encode(entries, width, out) != 0 ||
			    memcmp(out, data + 1, size - 1) != 0)
				abort();
		} else if (err[0] == '\0') {
			abort();
		}
	}

	if (size >= 17) {
		uint64_t tree = be64(data), index = be64(data + 9), full;
		unsigned level = data[8] % 70, first, count, partial, n = 0;

		if (tile_locate(tree, level, index, &t, &first, &count) == 0 &&
		    (first + count > t.width || t.width > TILE_WIDTH))
			abort();
		tile_count(tree, level, &full, &partial);
		if (partial >= TILE_WIDTH)
			abort();
		(void)tile_walk(index < tree ? index : tree, tree, data[8] & 1,
				count_tiles, &n);
	}
	return 0;
}
