/*
 * tuf.h - signed release metadata in the model of The Update Framework
 * (TUF 1.0): the roles root, targets, snapshot and timestamp, each a JSON
 * manifest with a version, an expiry and Ed25519 signatures by a
 * threshold of the keys the root names for the role. docs/RELEASES.md is
 * the specification; this is its implementation.
 *
 * A manifest file is the canonical JSON (below) of
 *
 *   {"signatures":[{"keyid":"<64 hex>","sig":"<128 hex>"},...],
 *    "signed":{"_type":"root"|"targets"|"snapshot"|"timestamp",
 *              "spec_version":"1.0.31","version":N,
 *              "expires":"YYYY-MM-DDTHH:MM:SSZ", ...}}
 *
 * and a signature is Ed25519 over the canonical JSON of "signed".
 *
 * Canonical JSON (as TUF's reference implementation writes it): no white
 * space; object members sorted by their names' bytes; strings escape only
 * '"' and '\' (every other byte as is); numbers are integers only, from
 * 0 to 2^53-1 here; true, false, null. Anything else (a float, a negative
 * number, a duplicate member, invalid UTF-8, a NUL) is refused, so that a
 * signed document has exactly one encoding. So is a control character
 * (below 0x20) in a string: written raw it would not be JSON, and escaped
 * it would be a second encoding.
 *
 * A key is {"keytype":"ed25519","scheme":"ed25519","keyval":{"public":
 * "<64 hex>"}}; its ID is the lowercase hex SHA-256 of that object's
 * canonical JSON.
 *
 * Errors. Every check fills a struct tuf_result with the class of the
 * failure (which `vigil update` turns into its exit code) and a message
 * that names the manifest, the field and the values involved. Functions
 * return 0 or a negative VG_E* code (common/err.h): VG_EFORMAT for a
 * malformed manifest, VG_EVERIFY for one that is well formed but refused.
 *
 * Threads: no global state. Memory: what the functions return is the
 * caller's; struct tuf_meta owns its JSON.
 */
#ifndef VIGIL_RELEASE_TUF_H
#define VIGIL_RELEASE_TUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define TUF_SPEC_VERSION "1.0.31"
/* The largest manifest a client reads (before its length is known). */
#define TUF_META_MAX (1u << 20)
/* Most keys a root names, signatures on a manifest, targets in one. */
#define TUF_KEYS_MAX       64
#define TUF_SIGS_MAX       64
#define TUF_TARGETS_MAX    4096
#define TUF_TARGET_NAME_MAX 255
/* Largest integer in canonical JSON: 2^53 - 1. */
#define TUF_INT_MAX UINT64_C(9007199254740991)
/* A key ID: 64 lowercase hex digits and a terminator. */
#define TUF_KEYID_LEN 65

enum tuf_role {
	TUF_ROOT = 0,
	TUF_TARGETS,
	TUF_SNAPSHOT,
	TUF_TIMESTAMP,
	TUF_NROLES,
};

/* The role's name, as in "_type" and in root's "roles": "root", ... */
const char *tuf_role_name(enum tuf_role role);

/* Classes of failure; `vigil update` exits with a distinct code for each
 * (docs/RELEASES.md, "Exit codes"). */
enum tuf_fail {
	TUF_OK = 0,
	TUF_FAIL_FORMAT,    /* malformed manifest or artifact */
	TUF_FAIL_SIGNATURE, /* an unknown key, a bad signature, fewer good
			       signatures than the threshold */
	TUF_FAIL_ROLLBACK,  /* a version lower than the trusted one, or a
			       root that is not exactly one more */
	TUF_FAIL_EXPIRED,   /* a manifest past its expiry (a freeze) */
	TUF_FAIL_MISMATCH,  /* timestamp, snapshot and targets disagree on
			       a version, length or hash (mix-and-match) */
	TUF_FAIL_ARTIFACT,  /* an artifact longer than declared or with
			       another hash */
};

struct tuf_result {
	enum tuf_fail fail;
	char msg[512];
};

/* ---- canonical JSON ---- */

/* Writes the canonical JSON of v into *out (malloc'd, NUL-terminated,
 * the caller frees it) and *len. VG_EFORMAT if v holds a real, a negative
 * or too large integer, or a string that is not valid UTF-8 or has a NUL
 * or a control character, or nests deeper than 64; VG_ELIMIT over 256 MiB. */
int tuf_cjson(const json_t *v, char **out, size_t *len)
	__attribute__((warn_unused_result));

/* ---- keys ---- */

/* The key object of an Ed25519 public key (new reference). */
json_t *tuf_key_json(const uint8_t pub[32]);

/* The ID of an Ed25519 public key, into id. */
void tuf_key_id(const uint8_t pub[32], char id[TUF_KEYID_LEN]);

/* Parses a key object (exactly the members above) into pub. */
int tuf_key_parse(const json_t *key, uint8_t pub[32], struct tuf_result *r)
	__attribute__((warn_unused_result));

/* ---- manifests ---- */

struct tuf_meta {
	enum tuf_role role;
	json_t *doc;     /* {"signatures":[...],"signed":{...}} */
	json_t *signed_; /* borrowed from doc */
	uint64_t version;
	int64_t expires; /* Unix time */
};

/*
 * Parses buf[0..len) (at most TUF_META_MAX bytes) as a manifest of role
 * expect into m: the envelope, "_type", "spec_version" (major version 1),
 * "version" (1 or more), "expires", and the members of the role:
 *   root: "keys" (ed25519 key objects under their own IDs; an ID that is
 *     not its key's is refused), "roles" (all four, each with "keyids"
 *     naming keys of "keys", no ID twice, and "threshold" from 1 to the
 *     number of its keyids), "consistent_snapshot" (a boolean);
 *   targets: "targets" (name -> {"length", "hashes":{"sha256"}, and an
 *     optional "custom" object}); a name is 1 to TUF_TARGET_NAME_MAX bytes
 *     of [A-Za-z0-9._-] and '/' not starting with '/' or '.', with no
 *     empty, "." or ".." component (tuf_target_name_valid());
 *   snapshot: "meta" with exactly "targets.json";
 *   timestamp: "meta" with exactly "snapshot.json";
 *   where a meta entry is {"version", "length", "hashes":{"sha256"}}.
 * Signatures are not checked here. Unknown members are refused
 * (VG_EFORMAT), so nothing is signed that a client does not understand.
 * The input need not be canonical (a manifest being signed may be
 * indented); what is signed is always the canonical "signed".
 */
int tuf_meta_parse(const void *buf, size_t len, enum tuf_role expect,
		   struct tuf_meta *m, struct tuf_result *r)
	__attribute__((warn_unused_result));

/* Wraps a "signed" object (steals the reference) with no signatures into
 * m, checked as tuf_meta_parse() does. */
int tuf_meta_new(json_t *signed_, enum tuf_role expect, struct tuf_meta *m,
		 struct tuf_result *r) __attribute__((warn_unused_result));

/* Frees m's JSON and zeroes it; accepts a zeroed m. */
void tuf_meta_clear(struct tuf_meta *m);

/* The manifest file: canonical JSON of m->doc, as for tuf_cjson(). */
int tuf_meta_encode(const struct tuf_meta *m, char **out, size_t *len)
	__attribute__((warn_unused_result));

/* Adds the signature of the Ed25519 secret key sk (libsodium's 64 bytes)
 * over the canonical "signed" of m, replacing one by the same key. */
int tuf_meta_sign(struct tuf_meta *m, const uint8_t sk[64])
	__attribute__((warn_unused_result));

/* Signs msg[0..len) with the Ed25519 key of public key pub into sig;
 * returns 0 or a VG_E* code. */
typedef int (*tuf_sign_fn)(void *ctx, const uint8_t *msg, size_t len,
			   uint8_t sig[64]);

/* As tuf_meta_sign(), for the key pub whose secret is elsewhere: fn(ctx)
 * makes the signature. Returns 0, fn's error, VG_EINVAL or VG_ELIMIT. */
int tuf_meta_sign_by(struct tuf_meta *m, const uint8_t pub[32], tuf_sign_fn fn,
		     void *ctx) __attribute__((warn_unused_result));

/* The IDs of the keys whose signatures on m verify, whether or not any
 * root trusts them, into ids (up to max) and *n. A signature names its key
 * only by ID, so the keys are those m itself names: m must be a root
 * (VG_EINVAL otherwise; see tuf_meta_signers_in() for the other roles). */
int tuf_meta_signers(const struct tuf_meta *m, char (*ids)[TUF_KEYID_LEN],
		     size_t max, size_t *n) __attribute__((warn_unused_result));

/* As tuf_meta_signers(), for any manifest m, with the keys of root's
 * "keys" (for any role, or none): which of root's keys signed m.
 * VG_EINVAL if root is not a root. */
int tuf_meta_signers_in(const struct tuf_meta *root, const struct tuf_meta *m,
			char (*ids)[TUF_KEYID_LEN], size_t max, size_t *n)
	__attribute__((warn_unused_result));

/*
 * Verifies that m is signed by at least the threshold of the keys root
 * names for m's role: each good signature by a distinct key of the role
 * counts once; a signature by a key the role does not name, or one that
 * does not verify, does not count (and is reported in the message when the
 * threshold is not met). TUF_FAIL_SIGNATURE otherwise.
 */
int tuf_verify_role(const struct tuf_meta *root, const struct tuf_meta *m,
		    struct tuf_result *r) __attribute__((warn_unused_result));

/*
 * Verifies that next may replace the trusted root: next is a root, its
 * version is exactly trusted's plus one (TUF_FAIL_ROLLBACK), and it is
 * signed by a threshold of trusted's root keys and by a threshold of its
 * own (TUF_FAIL_SIGNATURE). Expiry is not checked here: an expired
 * intermediate root may still lead to a current one.
 */
int tuf_root_next(const struct tuf_meta *trusted, const struct tuf_meta *next,
		  struct tuf_result *r) __attribute__((warn_unused_result));

/* TUF_FAIL_EXPIRED if m expires at or before now (Unix time). */
int tuf_check_expiry(const struct tuf_meta *m, int64_t now,
		     struct tuf_result *r) __attribute__((warn_unused_result));

/* TUF_FAIL_ROLLBACK if m's version is below trusted_version. */
int tuf_check_version(const struct tuf_meta *m, uint64_t trusted_version,
		      struct tuf_result *r) __attribute__((warn_unused_result));

/*
 * Checks the manifest file child[0..len) against what parent (a timestamp
 * for "snapshot.json", a snapshot for "targets.json") says of it: its
 * length, its SHA-256, and the version of the parsed child. Any
 * difference is TUF_FAIL_MISMATCH.
 */
int tuf_check_meta_ref(const struct tuf_meta *parent, const void *child,
		       size_t len, const struct tuf_meta *child_meta,
		       struct tuf_result *r) __attribute__((warn_unused_result));

/* What parent says of its one child manifest: version, length, hash. */
int tuf_meta_ref(const struct tuf_meta *parent, uint64_t *version,
		 uint64_t *length, uint8_t sha256[32])
	__attribute__((warn_unused_result));

/* The {"version","length","hashes":{"sha256"}} object of a manifest file
 * (new reference), for building a snapshot or a timestamp. */
json_t *tuf_meta_ref_json(uint64_t version, const void *file, size_t len);

/* ---- targets ---- */

struct tuf_target {
	const char *name;     /* borrowed from the targets manifest */
	uint64_t length;
	uint8_t sha256[32];
	const json_t *custom; /* borrowed; NULL if none */
};

/* True if name[0..len) is a target name: 1 to TUF_TARGET_NAME_MAX bytes
 * of [A-Za-z0-9._-] and '/', not starting with '/' or '.', and no
 * component empty, "." or ".." (so that targets/<name> is one file). */
bool tuf_target_name_valid(const char *name, size_t len);

/* Number of targets, and the i-th in name order. */
size_t tuf_targets_count(const struct tuf_meta *targets);
int tuf_target_at(const struct tuf_meta *targets, size_t i,
		  struct tuf_target *t) __attribute__((warn_unused_result));
/* The target called name; VG_ENOENT if there is none. */
int tuf_target_get(const struct tuf_meta *targets, const char *name,
		   struct tuf_target *t) __attribute__((warn_unused_result));

/* The target object for a file (new reference): length, sha256 and the
 * given custom object (stolen; may be NULL). */
json_t *tuf_target_json(const void *file, size_t len, json_t *custom);

/* Checks an artifact's bytes against its target: more bytes than declared
 * (the reader stopped at length + 1), fewer, or another SHA-256 is
 * TUF_FAIL_ARTIFACT. */
int tuf_check_artifact(const struct tuf_target *t, const void *data,
		       size_t len, struct tuf_result *r)
	__attribute__((warn_unused_result));

/* ---- key files ----
 *
 * A release key is kept offline in two files:
 *   PATH.key  mode 0600: "vigil-release-key/v1 ed25519 <64 hex seed>\n"
 *   PATH.pub  the key object's canonical JSON and "\n"
 * The same files hold a build provenance signer's key.
 */

/* Creates a new key as base.key (O_EXCL, 0600, fsync'd) and base.pub;
 * refuses (VG_EINVAL) to overwrite either. Writes the public key to pub. */
int tuf_keyfile_create(const char *base, uint8_t pub[32], char *err,
		       size_t errlen) __attribute__((warn_unused_result));

/* Loads a .key file into sk (libsodium's 64-byte secret key; the caller
 * wipes it with sodium_memzero). A file readable by group or others is
 * refused (VG_EINVAL), as is anything but the one line above. */
int tuf_keyfile_load(const char *path, uint8_t sk[64], char *err,
		     size_t errlen) __attribute__((warn_unused_result));

/* Loads a .pub file (a key object, canonical or not) into pub. */
int tuf_pubfile_load(const char *path, uint8_t pub[32], char *err,
		     size_t errlen) __attribute__((warn_unused_result));

/* ---- time ---- */

/* Formats Unix time t as "YYYY-MM-DDTHH:MM:SSZ" into out[21]. */
void tuf_time_format(int64_t t, char out[21]);
/* Parses exactly that form; VG_EFORMAT otherwise. */
int tuf_time_parse(const char *s, int64_t *t) __attribute__((warn_unused_result));

#endif
