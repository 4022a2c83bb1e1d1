/*
 * util.h - helpers shared by the transparency-log modules of src/tlog;
 * not for use outside that folder.
 *
 * It owns the library's only global state: the SHA-256 implementation,
 * fetched from OpenSSL once (pthread_once) and then only read, and one
 * hashing context per thread (thread-local, made on the thread's first
 * hash, freed at its exit), so every function here and in the modules is
 * safe to call from any thread.
 *
 * The parsers are strict because every format they serve is canonical:
 * one value has exactly one encoding, so two parties that agree on the
 * value agree on the bytes that are signed or hashed.
 */
#ifndef VIGIL_TLOG_UTIL_H
#define VIGIL_TLOG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLOG_SHA256_LEN 32
/* Longest decimal uint64_t, without the terminator. */
#define TLOG_U64_DIGITS 20

struct tlog_bytes {
	const void *p;
	size_t n;
};

/* Hashes the concatenation of n parts into out with the calling thread's
 * context (no allocation after the thread's first call). Returns 0, or
 * VG_ELIB if OpenSSL has no SHA-256 or fails. */
int tlog_sha256(const struct tlog_bytes *parts, size_t n,
		uint8_t out[TLOG_SHA256_LEN])
	__attribute__((warn_unused_result));

/*
 * Decodes exactly len bytes of standard, padded base64 (RFC 4648 section
 * 4) into out. Refuses anything else as VG_EFORMAT: missing or extra
 * padding, bits set after the last byte, whitespace, other alphabets.
 * VG_ELIMIT if the result would not fit in cap bytes.
 */
int tlog_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap,
		    size_t *outlen) __attribute__((warn_unused_result));

/* Bytes needed to encode n bytes as padded base64, terminator included. */
size_t tlog_b64_size(size_t n);

/* Writes the base64 of in[0..n) and a terminator to out, which must hold
 * tlog_b64_size(n) bytes; returns the length written. */
size_t tlog_b64_encode(const uint8_t *in, size_t n, char *out);

/*
 * Parses exactly len bytes as an ASCII decimal uint64_t with no sign, no
 * spaces and no leading zero (except "0" itself). VG_EFORMAT otherwise,
 * including on overflow.
 */
int tlog_parse_u64(const char *s, size_t len, uint64_t *out)
	__attribute__((warn_unused_result));

/*
 * Checks that s[0..len) is valid UTF-8 without ASCII control characters
 * other than newline, as every signed-note is. Returns true, or false with
 * the offset of the first bad byte in *bad.
 */
bool tlog_text_valid(const char *s, size_t len, size_t *bad);

/* True if code point cp has the Unicode White_Space property. */
bool tlog_is_space(uint32_t cp);

/* Returns a pointer to the first c in s[0..len), or NULL. */
const char *tlog_memchr(const char *s, size_t len, char c);

/* Reads and writes big-endian integers. */
uint32_t tlog_be32(const uint8_t *p);
uint64_t tlog_be64(const uint8_t *p);
void tlog_put_be32(uint8_t *p, uint32_t v);
void tlog_put_be64(uint8_t *p, uint64_t v);

#endif
