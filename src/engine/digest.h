/*
 * digest.h - the per-object fingerprints: MD5, SHA-1, SHA-256, ssdeep and
 * Shannon entropy, computed in one pass over the bytes.
 *
 * The bytes are walked once in cache-sized chunks; each chunk feeds the
 * three OpenSSL digests and the byte histogram while it is still in L1/L2.
 * A struct digest is per thread and reused for every object.
 */
#ifndef VIGIL_ENGINE_DIGEST_H
#define VIGIL_ENGINE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct digest;

struct digest_result {
	uint8_t md5[16];
	uint8_t sha1[20];
	uint8_t sha256[32];
	double entropy;   /* bits per byte, 0..8 */
	char ssdeep[148]; /* empty string when not computed */
};

/* Fetches the digest implementations once; call before any thread starts.
 * Returns 0 or VG_ELIB. */
int digest_global_init(void);

/* Returns a new per-thread context, or NULL on OOM. */
struct digest *digest_new(void);
void digest_free(struct digest *d);

/* Fingerprints len bytes at buf into *out; ssdeep only when fuzzy is set.
 * Returns 0 or VG_ELIB. */
int digest_buffer(struct digest *d, const void *buf, size_t len, bool fuzzy,
		  struct digest_result *out);

/* Shannon entropy of a 256-bin histogram over n bytes, in bits per byte. */
double digest_entropy(const uint64_t hist[256], uint64_t n);

/* Writes the lowercase hex of len bytes into out (2*len+1 bytes). */
void digest_hex(const uint8_t *bytes, size_t len, char *out);

#endif
