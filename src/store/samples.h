/*
 * samples.h - the regional node's sample store: content-addressed by
 * SHA-256, encrypted at rest, written crash-safely.
 *
 * A sample is stored once however many clients submit it, at
 * <dir>/<aa>/<bb>/<sha256>, where aa and bb are the first two byte pairs
 * of the hex digest. The file is a libsodium secretstream
 * (XChaCha20-Poly1305) under the region's sample key: a header, then
 * chunks of at most SAMPLES_CHUNK bytes, the last tagged FINAL; the
 * SHA-256 of the plaintext is bound as additional data of every chunk, so
 * a file cannot be moved to another name. Writes go to a temporary file in
 * the same directory, are fsync()ed, renamed into place, and the directory
 * is fsync()ed: a sample is either absent or whole, never half-written,
 * even after kill -9 or a power cut. Reading verifies every chunk and the
 * final tag before returning any byte: a truncated or tampered file is
 * VG_ECORRUPT, never served.
 *
 * Key: 32 random bytes in a key file of mode 0600, created on first use;
 * a key file with wider permissions, or of the wrong size, is refused. A
 * missing key file is generated only while the store holds no samples: a
 * new key could read none of them (the path is most likely wrong), so
 * that is refused too. The key is wiped from memory by samples_close().
 */
#ifndef VIGIL_STORE_SAMPLES_H
#define VIGIL_STORE_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

#define SAMPLES_CHUNK (64 * 1024)
/* Largest sample stored: the engine's ceiling on one file. It bounds what
 * samples_get() allocates, whatever a damaged file claims. */
#define SAMPLES_MAX_SIZE (4ULL * 1024 * 1024 * 1024)

struct samples;

/*
 * Opens the store rooted at dir (created, mode 0700, if missing), with the
 * key at key_path (generated, mode 0600, if missing). Returns 0 and *out,
 * or a negative VG_E* code with a message in err.
 */
int samples_open(const char *dir, const char *key_path, struct samples **out,
		 char *err, size_t errlen) __attribute__((warn_unused_result));
void samples_close(struct samples *s);

/*
 * Stores len bytes at buf under their SHA-256, which the caller has
 * computed (sha256_hex, 64 lowercase hex digits; checked again here, and
 * VG_EINVAL if it does not match; VG_ELIMIT above SAMPLES_MAX_SIZE).
 * Returns 0 once the sample is durable, including when it was already
 * stored. Safe to call concurrently from several threads or processes for
 * the same or different samples.
 */
int samples_put(struct samples *s, const char *sha256_hex, const void *buf,
		size_t len) __attribute__((warn_unused_result));

/* Returns 1 if the sample is stored, 0 if not (or if the stored file's size
 * fits no sample at all), or a negative VG_E* code. Cheap: it neither
 * decrypts nor knows the length, so only samples_get() proves a file
 * sound. samples_put() replaces a copy whose size is wrong for its data. */
int samples_has(struct samples *s, const char *sha256_hex);

/*
 * Decrypts and verifies the sample into a new buffer of *len bytes that
 * the caller frees with free(). VG_ENOENT if absent, VG_ECORRUPT if the
 * file is truncated, tampered with, or its plaintext does not hash to
 * sha256_hex.
 */
int samples_get(struct samples *s, const char *sha256_hex, uint8_t **out,
		size_t *len) __attribute__((warn_unused_result));

/*
 * Removes temporary files left by a crash (older than a writer could be
 * using); call at start. Returns the number removed or a VG_E* code.
 */
int samples_sweep(struct samples *s);

#endif
