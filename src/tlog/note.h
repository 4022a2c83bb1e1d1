/*
 * note.h - C2SP signed-note: keys, signing, parsing and verification of
 * signed notes, with Ed25519 signatures (type 0x01) and C2SP
 * tlog-cosignature/v1 timestamped Ed25519 cosignatures (type 0x04).
 *
 * A signed note is its text, which ends in a newline, a blank line, and
 * one or more signature lines "— <key name> <base64>\n" (an em dash,
 * U+2014). The base64 decodes to a 4-byte big-endian key ID and the
 * signature. The whole note is UTF-8 with no ASCII control character but
 * newline, and the text is everything up to the last blank line. A key
 * name is non-empty, and has no Unicode space, no '+' and no control
 * character.
 *
 * Keys. A key ID is the first 4 bytes of SHA-256(name || 0x0A || type ||
 * public key). Keys are written as text:
 *   verifier (public)  <name>+<8 lowercase hex key ID>+base64(type || key)
 *   signer (secret)    PRIVATE+KEY+<name>+<hex key ID>+base64(type || seed)
 * where key is the 32-byte Ed25519 public key and seed the 32-byte Ed25519
 * seed. The parsers check the key ID against the key.
 *
 * Verification (note_verify) follows the spec's rules: a signature whose
 * (name, key ID) matches no known key is ignored; one that matches a known
 * key must verify, or the whole note is refused; and at least one must
 * verify. A cosignature (type 0x04) is 8 bytes of big-endian timestamp
 * (POSIX seconds, at most 2^63-1) and an Ed25519 signature of
 *   "cosignature/v1\n" "time <decimal timestamp>\n" <note text>.
 *
 * Limits: a note is at most NOTE_MAX_SIZE bytes with at most
 * NOTE_MAX_SIGS signature lines (the spec asks for at least 16), and a
 * key's name at most NOTE_NAME_MAX bytes.
 *
 * Secrets: a struct note_signer lives in libsodium guarded memory, is
 * read-only once set up, and is wiped by note_signer_free(). Seeds decoded
 * on the way in are wiped before the call returns. A signer may also hold
 * no secret at all and sign through a callback (note_signer_remote()),
 * for a key kept in another process: the code that signs notes with it
 * does not know the difference.
 */
#ifndef VIGIL_TLOG_NOTE_H
#define VIGIL_TLOG_NOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOTE_MAX_SIZE (1024 * 1024)
#define NOTE_MAX_SIGS 100
#define NOTE_NAME_MAX 255
/* Buffer for a key string: "PRIVATE+KEY+" + name + "+" + 8 hex + "+" +
 * 44 base64 characters, and a terminator. */
#define NOTE_KEY_MAX 384
/* Buffer for one signature line of ours: "— " + name + " " + the base64
 * of at most 76 bytes + "\n", and a terminator. */
#define NOTE_LINE_MAX 384

#define NOTE_ED25519     0x01 /* key type: signed-note Ed25519 */
#define NOTE_COSIGNATURE 0x04 /* key type: tlog-cosignature/v1 Ed25519 */

/* A known public key. */
struct note_verifier {
	char name[NOTE_NAME_MAX + 1];
	uint32_t key_id;
	uint8_t type; /* NOTE_ED25519 or NOTE_COSIGNATURE */
	uint8_t pub[32];
};

/* A private key; opaque, in guarded memory. */
struct note_signer;

/* One signature line of a parsed note. */
struct note_sig {
	const char *name; /* NUL-terminated, owned by the note */
	uint32_t key_id;
	const uint8_t *sig; /* the bytes after the key ID, owned by the note */
	size_t sig_len;     /* at least 1 */
	/* Set by note_verify(): the known key that verified this signature
	 * (NULL if none matched), and a cosignature's timestamp. */
	const struct note_verifier *key;
	uint64_t timestamp;
};

struct note {
	const char *text; /* NUL-terminated, ends in '\n'; owned by the note */
	size_t text_len;
	struct note_sig *sigs;
	size_t nsigs; /* 1..NOTE_MAX_SIGS */
};

/* True if name[0..len) is a valid key name. */
bool note_name_valid(const char *name, size_t len);

/* Computes the key ID of a key of the given type. Returns 0 or VG_ELIB. */
int note_key_id(const char *name, uint8_t type, const uint8_t *pub,
		size_t pub_len, uint32_t *id)
	__attribute__((warn_unused_result));

/*
 * Parses exactly len bytes as a verifier key into *v. Returns 0, or
 * VG_EFORMAT (syntax, key ID that does not match, invalid Ed25519 point),
 * VG_EINVAL (a type other than 0x01 and 0x04) or VG_ELIMIT (name too
 * long), with a message in err.
 */
int note_verifier_parse(const char *vkey, size_t len, struct note_verifier *v,
			char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Sets *v to the key of the given name, type and Ed25519 public key.
 * Returns 0, or VG_EINVAL for a bad name, type or point. */
int note_verifier_new(const char *name, uint8_t type, const uint8_t pub[32],
		      struct note_verifier *v, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Writes v as a verifier key string and a terminator into buf. */
void note_verifier_format(const struct note_verifier *v,
			  char buf[NOTE_KEY_MAX]);

/*
 * Parses exactly len bytes as a signer key (type 0x01 or 0x04) into a new
 * *out for note_signer_free(). Returns 0 or VG_EFORMAT, VG_EINVAL,
 * VG_ELIMIT as note_verifier_parse(), VG_ELIB if libsodium fails. The
 * caller wipes its copy of skey.
 */
int note_signer_parse(const char *skey, size_t len, struct note_signer **out,
		      char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Generates a new key of the given name and type into a new *out.
 * Returns 0, VG_EINVAL (bad name or type) or VG_ELIB. */
int note_signer_generate(const char *name, uint8_t type,
			 struct note_signer **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Signs msg[0..len) with the Ed25519 secret key whose public half is the
 * remote signer's key, writing the 64-byte signature to sig. Returns 0 or
 * a VG_E* code with a message in err. msg is the exact message: the note
 * text, or a cosignature's "cosignature/v1" message.
 */
typedef int (*note_sign_fn)(void *ctx, const uint8_t *msg, size_t len,
			    uint8_t sig[64], char *err, size_t errlen);

/*
 * Makes a signer for the key pub (name, type and public key) that holds no
 * secret and signs by calling fn(ctx, ...), into a new *out for
 * note_signer_free(); ctx must outlive it, and fn may be called from any
 * thread that signs with it. Returns 0, VG_EINVAL (fn NULL, bad type) or
 * VG_ELIB.
 */
int note_signer_remote(const struct note_verifier *pub, note_sign_fn fn,
		       void *ctx, struct note_signer **out, char *err,
		       size_t errlen) __attribute__((warn_unused_result));

/* Makes a copy of the key s under another name (a new key ID) into a new
 * *out for note_signer_free(): a key can be generated first and named
 * after its public key. Returns 0, VG_EINVAL (bad name, remote signer)
 * or VG_ELIB. */
int note_signer_rename(const struct note_signer *s, const char *name,
		       struct note_signer **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Writes s as a signer key string (a secret: the caller wipes buf with
 * sodium_memzero after use) and a terminator into buf; a remote signer
 * has no key string and writes "". */
void note_signer_format(const struct note_signer *s, char buf[NOTE_KEY_MAX]);

/* Sets *v to the public half of s. */
void note_signer_verifier(const struct note_signer *s, struct note_verifier *v);

/* Wipes and frees s; accepts NULL. */
void note_signer_free(struct note_signer *s);

/*
 * Parses exactly len bytes as a signed note into a new *out for
 * note_free(); nothing is verified yet. Returns 0, VG_EFORMAT (with a
 * message naming the byte or the signature line) or VG_ELIMIT (size or
 * signature count).
 */
int note_parse(const char *msg, size_t len, struct note **out, char *err,
	       size_t errlen) __attribute__((warn_unused_result));

/* Frees n; accepts NULL. */
void note_free(struct note *n);

/*
 * Verifies n's signatures against the nkeys known keys, setting each
 * note_sig's key (and timestamp), and *nverified to the number of distinct
 * known keys with a valid signature. Returns 0 if at least one verified;
 * VG_EVERIFY if a signature by a known key does not verify (cosignature
 * timestamps above 2^63-1 included) or if none is by a known key; VG_EINVAL
 * if a signature matches two known keys (a configuration error).
 */
int note_verify(struct note *n, const struct note_verifier *keys, size_t nkeys,
		size_t *nverified, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* True if note_verify() found a valid signature of n by key k (compared
 * by name, key ID and public key). */
bool note_verified_by(const struct note *n, const struct note_verifier *k);

/* Reads the timestamp of a cosignature line without verifying it. Returns
 * 0, or VG_EFORMAT if sig is not 72 bytes or the time is above 2^63-1. */
int note_cosignature_time(const struct note_sig *sig, uint64_t *t)
	__attribute__((warn_unused_result));

/*
 * Signs text[0..len) (a note text: ends in '\n', UTF-8, no control
 * character but newline) with s, writing one signature line, its '\n' and
 * a terminator into line and its length (without the terminator) into
 * *line_len. A cosigner (type 0x04) signs with the given timestamp, which
 * must not exceed 2^63-1; an Ed25519 signer ignores it. Returns 0,
 * VG_EFORMAT (text) or VG_EINVAL (timestamp), VG_ELIB, or a remote
 * signer's error.
 */
int note_sign_line(const struct note_signer *s, const char *text, size_t len,
		   uint64_t timestamp, char line[NOTE_LINE_MAX],
		   size_t *line_len, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Signs msg[0..len) itself with s's Ed25519 key (here, or through a
 * remote signer's callback) into sig: the bare signature, for a caller
 * that makes its own signature line. Returns 0 or the callback's error. */
int note_sign_bytes(const struct note_signer *s, const uint8_t *msg, size_t len,
		    uint8_t sig[64], char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Signs text[0..len) with the n signers (1..NOTE_MAX_SIGS) and returns the
 * signed note, malloc'd and NUL-terminated, in *out (the caller frees it)
 * and its length in *out_len. Errors as note_sign_line(), and VG_ELIMIT if
 * the note would exceed NOTE_MAX_SIZE.
 */
int note_sign(const char *text, size_t len,
	      const struct note_signer *const *signers, size_t n,
	      uint64_t timestamp, char **out, size_t *out_len, char *err,
	      size_t errlen) __attribute__((warn_unused_result));

#endif
