/*
 * samples_impl.h - what the sample store's backends share, behind
 * samples.h: the table of operations a backend fills in, the part of
 * struct samples every backend starts with, and the record codec.
 *
 * A backend decides only where a record's bytes go and where they come
 * back from: segment files (samples_file.c) or rows of PostgreSQL
 * (samples_pg.c). The record itself, its sealing and every check made
 * when it is read back, is samples.c's alone, so that a record is byte for
 * byte the same whichever backend holds it, and a check added for one
 * backend protects both. Nothing outside src/store includes this header.
 */
#ifndef VIGIL_STORE_SAMPLES_IMPL_H
#define VIGIL_STORE_SAMPLES_IMPL_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/samples.h"

/* The highest segment number a location may name: 16 decimal digits, the
 * width of a segment file's name. */
#define SAMPLES_SEGMENT_LAST 9999999999999999ULL

/*
 * A backend's operations. samples.c has checked the arguments before it
 * calls them: sha is the name's 32 bytes; append's buf hashes to it and
 * len is at most SAMPLES_MAX_SIZE; read's loc names a segment in
 * 1..SAMPLES_SEGMENT_LAST, a length within the record sizes a sample can
 * have, and an offset that plus the length fits in an int64_t; read's *out
 * is NULL and *len 0. Each returns what samples.h says of its public
 * counterpart. close releases the backend's state; samples_close() then
 * frees the base and the struct (allocated by the backend, the base its
 * first member) itself.
 */
struct samples_ops {
	int (*append)(struct samples *s, const uint8_t sha[32], const void *buf,
		      size_t len, struct sample_loc *loc);
	int (*sync)(struct samples *s, bool ordered);
	int (*read)(struct samples *s, const struct sample_loc *loc,
		    const uint8_t sha[32], uint8_t **out, size_t *len);
	int (*erase)(struct samples *s, const struct sample_loc *loc);
	void (*close)(struct samples *s);
};

/* The first member of every backend's struct. Readers use only src and
 * sha256, fixed at open; scratch is the writer's. */
struct samples {
	const struct samples_ops *ops;
	struct samples_keysrc src;
	struct samples_key *own; /* samples_open()'s key, or NULL */
	EVP_MD *sha256;
	uint8_t *scratch; /* one sealed chunk with its length prefix */
};

/* Sets up base for a backend of ops with records' states from src:
 * libsodium, SHA-256, the writer's scratch. Returns 0 or VG_ELIB with a
 * message in err; base_free() undoes it either way. */
int samples_base_init(struct samples *base, const struct samples_ops *ops,
		      const struct samples_keysrc *src, char *err,
		      size_t errlen) __attribute__((warn_unused_result));

/* Frees what samples_base_init() set up (not base itself). */
void samples_base_free(struct samples *base);

/*
 * Where a record being sealed goes: called with the record's bytes in
 * order, first the 68-byte header, then each chunk with its length
 * prefix, samples_record_size(len) bytes in all. Returns 0 or a VG_E*
 * code, which stops the sealing and is returned by it.
 */
typedef int (*samples_put_fn)(void *ctx, const uint8_t *p, size_t n);

/*
 * Seals the len bytes at buf, named sha, into a record given to put.
 * Returns 0, put's code, VG_ELIB, or the key source's code. On failure
 * put may have had part of the record: the backend must not keep it.
 */
int samples_rec_seal(struct samples *s, const uint8_t sha[32],
		     const uint8_t *buf, size_t len, samples_put_fn put,
		     void *ctx) __attribute__((warn_unused_result));

/*
 * Where a stored record comes from: n bytes at offset off of the record
 * (0 is its first byte) into p. Offsets only grow from one call to the
 * next, and never pass the location's length. Returns 0 or a VG_E* code
 * (VG_ECORRUPT if the bytes are not there), which the read returns.
 */
typedef int (*samples_get_fn)(void *ctx, uint64_t off, uint8_t *p, size_t n);

/*
 * Reads the record at loc through get, and verifies it as samples_read()
 * says, into a new buffer of *len bytes that the caller frees. Returns 0,
 * VG_ECORRUPT, VG_ENOMEM, get's code or the key source's; on failure *out
 * is NULL, *len 0, and no plaintext is left in the heap.
 */
int samples_rec_open(struct samples *s, const struct sample_loc *loc,
		     const uint8_t sha[32], samples_get_fn get, void *ctx,
		     uint8_t **out, size_t *len)
	__attribute__((warn_unused_result));

/*
 * Lists a store directory (samples_file.c): *last is the highest segment
 * number found (0: none), *used whether anything at all is there.
 * Returns 0 or VG_EIO.
 */
int samples_file_scan(int root, uint64_t *last, bool *used)
	__attribute__((warn_unused_result));

#endif
