/*
 * ssdeep.h - fast ssdeep (context-triggered piecewise hash) of a buffer.
 *
 * The engine computes a fuzzy hash of every object it analyses. libfuzzy
 * walks every byte once per candidate block size, which makes it an order
 * of magnitude slower than SHA-256. This module computes the same digest
 * from a buffer whose length is known up front: it finds the trigger points
 * of the few block sizes that can appear in the result with a vectorised
 * rolling-hash filter, then hashes the pieces between them in independent
 * interleaved streams. The output is byte-for-byte the string libfuzzy
 * 2.14.1's fuzzy_hash_buf() writes (and, past 4 GiB, the string its
 * streaming interface writes with the total length set).
 */
#ifndef VIGIL_ENGINE_SSDEEP_H
#define VIGIL_ENGINE_SSDEEP_H

#include <stddef.h>
#include <stdint.h>

/* Size of the digest buffer; == FUZZY_MAX_RESULT of libfuzzy (2*64+20). */
#define SSDEEP_MAX_RESULT 148

/* Largest input ssdeep can hash: block size 3<<30 times 64 pieces. */
#define SSDEEP_MAX_INPUT ((uint64_t)3 << 36)

/*
 * Writes the ssdeep digest of len bytes at buf into out (NUL-terminated,
 * at most SSDEEP_MAX_RESULT bytes), identical to libfuzzy's fuzzy_hash_buf().
 * Returns 0, or -1 if len is larger than ssdeep can hash (libfuzzy's limit).
 */
int ssdeep_hash_buf(const uint8_t *buf, size_t len,
		    char out[SSDEEP_MAX_RESULT]);

#endif
