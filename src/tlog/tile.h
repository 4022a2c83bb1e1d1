/*
 * tile.h - C2SP tlog-tiles: tile coordinates and their paths, which tiles
 * a tree of a given size has, entry bundles, and a Merkle hash reader
 * over tiles.
 *
 * A tile at level L and index N holds up to 256 consecutive hashes of
 * Merkle level 8L: hash i is the root of leaves (256N + i) * 256^L ..
 * (256N + i + 1) * 256^L - 1. A full tile holds 256 (8192 bytes); the
 * rightmost tile of a level is partial, of width floor(size / 256^L) mod
 * 256, and is served under its width. An entry bundle holds the entries
 * whose leaf hashes a level-0 tile holds, each as a big-endian uint16
 * length and that many bytes.
 *
 * Paths (relative to the log's prefix):
 *   tile/<L>/<N>[.p/<W>]         L: 0..63, decimal, no leading zero
 *   tile/entries/<N>[.p/<W>]     W: 1..255, decimal, no leading zero
 * N is written in decimal, zero-padded to a multiple of three digits and
 * cut into groups of three, every group but the last prefixed with 'x':
 * 1234067 is x001/x234/067, 5 is 005. tile_parse_path() accepts only the
 * one canonical path of a tile ("x000/005", "5", "tile/00/..." and ".p/256"
 * are refused) and refuses an N above UINT64_MAX.
 */
#ifndef VIGIL_TLOG_TILE_H
#define VIGIL_TLOG_TILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tlog/merkle.h"

#define TILE_HEIGHT    8   /* Merkle levels per tile level */
#define TILE_WIDTH     256 /* hashes (or entries) in a full tile */
#define TILE_MAX_LEVEL 63
#define TILE_ENTRIES   (-1) /* struct tile.level of an entry bundle */
/* Bytes of a full tile of hashes. */
#define TILE_BYTES (TILE_WIDTH * MERKLE_HASH_LEN)
/* Largest path, "tile/entries/x018/x446/x744/x073/x709/x551/615.p/255",
 * with its terminator. */
#define TILE_PATH_MAX 64
/* Largest entry an entry bundle can carry (its length is a uint16). */
#define TILE_ENTRY_MAX 65535
/* Largest entry bundle: 256 entries of TILE_ENTRY_MAX bytes. */
#define TILE_BUNDLE_MAX (TILE_WIDTH * (2 + TILE_ENTRY_MAX))

struct tile {
	int level;      /* 0..TILE_MAX_LEVEL, or TILE_ENTRIES */
	uint64_t index; /* N */
	unsigned width; /* 1..TILE_WIDTH; TILE_WIDTH is a full tile */
};

/* An entry of a bundle: len bytes at data (not owned). */
struct tile_entry {
	const uint8_t *data;
	size_t len;
};

/* Writes t's path and a terminator into buf (TILE_PATH_MAX bytes).
 * Returns 0, or VG_EINVAL if t's level or width is out of range. */
int tile_path(const struct tile *t, char buf[TILE_PATH_MAX]);

/* Parses exactly len bytes as a canonical tile path into *t. Returns 0, or
 * VG_EFORMAT with a message in err. */
int tile_parse_path(const char *path, size_t len, struct tile *t, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

/* For a tree of size leaves, stores in *full the number of full tiles at
 * tile level `level` and in *partial the width of its partial tile (0 if
 * there is none). Levels above 7 are always empty. */
void tile_count(uint64_t size, unsigned level, uint64_t *full,
		unsigned *partial);

/*
 * Calls fn for each tile (hashes at every level, or, with entries set,
 * entry bundles) that the tree of new_size leaves has and the tree of
 * old_size leaves has not: what a log writes, or a monitor fetches, as the
 * tree grows. Level by level, in index order. Returns 0, VG_EINVAL if
 * old_size > new_size, or the first non-zero value fn returns.
 */
int tile_walk(uint64_t old_size, uint64_t new_size, bool entries,
	      int (*fn)(const struct tile *t, void *ud), void *ud);

/*
 * Locates the stored hash at Merkle (level, index) in the tiles of a tree
 * of size leaves: the tile *t to read (its width as in that tree), and the
 * count hashes from position first in it whose Merkle root the hash is.
 * Returns 0, or VG_EINVAL if the subtree is not complete within size.
 */
int tile_locate(uint64_t size, unsigned level, uint64_t index, struct tile *t,
		unsigned *first, unsigned *count);

/*
 * Parses exactly len bytes as an entry bundle of width entries into
 * entries (TILE_WIDTH slots; they point into data). Returns 0, or
 * VG_EFORMAT (truncated entry, bytes after the last entry) with a message.
 */
int tile_bundle_parse(const uint8_t *data, size_t len, unsigned width,
		      struct tile_entry entries[], char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Returns the bytes of the bundle of the n entries, or 0 if n is not
 * 1..TILE_WIDTH or an entry is longer than TILE_ENTRY_MAX. */
size_t tile_bundle_size(const struct tile_entry *entries, size_t n);

/* Encodes the n entries as a bundle into out, which must hold
 * tile_bundle_size() bytes. Returns 0, or VG_ELIMIT if that size is 0. */
int tile_bundle_encode(const struct tile_entry *entries, size_t n,
		       uint8_t *out);

/* Checks that the n entries hash to the n leaf hashes of a level-0 tile of
 * tile_len bytes. Returns 0, VG_EFORMAT if tile_len is not n hashes, or
 * VG_EVERIFY naming the first entry that does not match. */
int tile_bundle_verify(const struct tile_entry *entries, size_t n,
		       const uint8_t *tile, size_t tile_len, char *err,
		       size_t errlen) __attribute__((warn_unused_result));

/*
 * Reads one tile of hashes into buf (TILE_BYTES bytes): exactly t->width
 * hashes are expected, and *len is set to the bytes read. Returns 0 or a
 * negative VG_E* code.
 */
typedef int (*tile_read_fn)(void *ud, const struct tile *t, uint8_t *buf,
			    size_t *len);

/*
 * A Merkle hash reader over the tiles of a tree of a fixed size, caching
 * the last tile read. One per thread; set up with tile_reader_init() and
 * used through tile_reader_merkle(). A tile whose length is not its width
 * in hashes is VG_ECORRUPT.
 */
struct tile_reader {
	uint64_t size;
	tile_read_fn read;
	void *ud;
	bool cached;
	struct tile tile;
	struct merkle_hash buf[TILE_WIDTH];
};

void tile_reader_init(struct tile_reader *tr, uint64_t size, tile_read_fn read,
		      void *ud);
struct merkle_reader tile_reader_merkle(struct tile_reader *tr);

#endif
