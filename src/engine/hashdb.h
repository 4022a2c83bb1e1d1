/*
 * hashdb.h - hash signatures in ClamAV's .hdb and .hsb formats.
 *
 * A line is `HASH:SIZE:NAME`, optionally followed by `:MINFLEVEL[:MAXFLEVEL]`
 * (accepted, ignored). HASH is MD5 in .hdb files and SHA-1 or SHA-256 (or
 * MD5) in .hsb files, told apart by length; SIZE is a decimal byte count or
 * `*` for any size. Blank lines and lines starting with `#` are skipped.
 * Any other malformed line rejects the whole file with its line number.
 * After loading, lookups are binary searches over sorted arrays.
 */
#ifndef VIGIL_ENGINE_HASHDB_H
#define VIGIL_ENGINE_HASHDB_H

#include <stddef.h>
#include <stdint.h>

#define HASHDB_MAX_NAME 256        /* longest signature name */
#define HASHDB_MAX_LINE 1024       /* longest line */
#define HASHDB_SIZE_ANY UINT64_MAX /* SIZE was `*` */

enum hash_kind { HASH_MD5 = 0, HASH_SHA1, HASH_SHA256, HASH_KIND_COUNT };

struct hashdb;

/* Returns an empty database; never NULL (OOM is fatal). */
struct hashdb *hashdb_new(void);
void hashdb_free(struct hashdb *db);

/*
 * Parses len bytes at buf as signature lines; origin names the source in
 * errors and decides the format by its extension (".hdb": MD5 only,
 * ".hsb": any length; anything else: any length). Returns 0, or
 * VG_EFORMAT with "origin:LINE: reason" in err and nothing added.
 */
int hashdb_load_buffer(struct hashdb *db, const char *buf, size_t len,
		       const char *origin, char *err, size_t errlen);

/* Reads path and loads it as hashdb_load_buffer() does. Returns 0,
 * VG_EIO, VG_ELIMIT (file over 1 GiB) or VG_EFORMAT; err says why. */
int hashdb_load_file(struct hashdb *db, const char *path, char *err,
		     size_t errlen);

/* Sorts the loaded signatures; call once after loading, before lookups. */
void hashdb_finish(struct hashdb *db);

/* Returns the name of the signature matching digest (of kind) and size,
 * or NULL. The string is owned by db. */
const char *hashdb_lookup(const struct hashdb *db, enum hash_kind kind,
			  const uint8_t *digest, uint64_t size);

/* Number of signatures loaded. */
size_t hashdb_count(const struct hashdb *db);

#endif
