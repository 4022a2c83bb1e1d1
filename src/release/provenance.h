/*
 * provenance.h - build provenance for vigil's releases: an in-toto
 * Statement v1 with an SLSA provenance v1 predicate, in a DSSE v1
 * envelope signed with the builder's Ed25519 key. docs/PROVENANCE.md is
 * the specification (the build type and its parameters); this is its
 * implementation.
 *
 * The envelope (DSSE v1, github.com/secure-systems-lab/dsse):
 *
 *   {"payload":"<base64 statement>","payloadType":
 *    "application/vnd.in-toto+json","signatures":[{"keyid":"<TUF key
 *    ID>","sig":"<base64 Ed25519 signature>"}]}
 *
 * The signature is over PAE(payloadType, payload), the pre-authentication
 * encoding "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in
 * decimal without leading zeros. The key ID is tuf_key_id() of the
 * builder's public key, so the same .pub file names it in both places.
 *
 * The statement names each program (its base name) with its SHA-256 as a
 * subject. The predicate's buildType is PROV_BUILD_TYPE: the build is
 * scripts/release-build of the source commit, with SOURCE_DATE_EPOCH as
 * its one internal parameter.
 *
 * Errors: 0 or a negative VG_E* code (common/err.h), with a message in
 * err naming the member at fault: VG_EFORMAT for a malformed envelope or
 * statement, VG_EVERIFY for a well-formed one that is refused (another
 * payload type, no signature by the given key, another build type).
 * Threads: no global state (libsodium must be initialised).
 */
#ifndef VIGIL_RELEASE_PROVENANCE_H
#define VIGIL_RELEASE_PROVENANCE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define PROV_PAYLOAD_TYPE   "application/vnd.in-toto+json"
#define PROV_STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define PROV_PREDICATE_TYPE "https://slsa.dev/provenance/v1"
#define PROV_BUILD_TYPE     "https://vigil.dev/release-build/v1"

/* The largest envelope read; the most signatures in one, subjects in a
 * statement, and resolved dependencies it carries. */
#define PROV_ENVELOPE_MAX (1u << 20)
#define PROV_SIGS_MAX     16
#define PROV_SUBJECTS_MAX 64
#define PROV_DEPS_MAX     128
#define PROV_NAME_MAX     255

/* A built artifact: its name (a program's base name) and SHA-256. */
struct prov_subject {
	char name[PROV_NAME_MAX + 1];
	uint8_t sha256[32];
};

/* A resolved dependency: a URI (pkg:deb/..., git+...) and, if known, one
 * digest (algorithm as in-toto names it: "sha256", "gitCommit"). */
struct prov_dep {
	const char *uri;
	const char *digest_alg; /* NULL: none */
	const char *digest;
};

/* Everything one provenance statement says; strings are borrowed. */
struct prov_build {
	const char *source_uri; /* the repository, e.g. https://... */
	const char *commit;     /* 40 hex */
	const char *tree;       /* 40 hex */
	const char *command;    /* e.g. "scripts/release-build vigil" */
	int64_t source_date_epoch;
	const struct prov_subject *subjects;
	size_t nsubjects;
	const struct prov_dep *deps; /* beyond the source commit */
	size_t ndeps;
	const char *builder_id;
	const char *invocation_id;
	int64_t started_on, finished_on; /* Unix time */
};

/* What a verifier takes from a statement. */
struct prov_info {
	char commit[41];
	int64_t source_date_epoch;
	size_t nsubjects;
	struct prov_subject subjects[PROV_SUBJECTS_MAX];
};

/* The pre-authentication encoding of (type, body) into *out (malloc'd,
 * the caller frees it) and *outlen. VG_ENOMEM, or VG_ELIMIT if body is
 * larger than PROV_ENVELOPE_MAX. */
int prov_pae(const char *type, const void *body, size_t len, uint8_t **out,
	     size_t *outlen) __attribute__((warn_unused_result));

/* Signs payload as type with the Ed25519 secret key sk (libsodium's 64
 * bytes) and writes the envelope's JSON (sorted members, no white space,
 * NUL-terminated; the caller frees it) into *out and *outlen. */
int prov_dsse_sign(const char *type, const void *payload, size_t len,
		   const uint8_t sk[64], char **out, size_t *outlen)
	__attribute__((warn_unused_result));

/*
 * Verifies the envelope env[0..len): exactly the members "payload",
 * "payloadType" and "signatures" (each signature exactly "keyid" and
 * "sig", strings), padded standard or URL-safe base64, a payload type
 * equal to type (VG_EVERIFY otherwise), and at least one signature whose
 * keyid is pub's and which verifies with pub (VG_EVERIFY otherwise; other
 * signers' entries are ignored). On success *payload (malloc'd, NUL-terminated,
 * the caller frees it) and *plen hold the payload; on failure *payload is NULL.
 */
int prov_dsse_verify(const void *env, size_t len, const char *type,
		     const uint8_t pub[32], uint8_t **payload, size_t *plen,
		     char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The statement of b (new reference), or NULL with a message in err for
 * a missing field, more than PROV_SUBJECTS_MAX subjects or
 * PROV_DEPS_MAX dependencies. */
json_t *prov_statement_json(const struct prov_build *b, char *err,
			    size_t errlen);

/* The statement of b as bytes (sorted members, no white space,
 * NUL-terminated; the caller frees *out). */
int prov_statement_encode(const struct prov_build *b, char **out, size_t *len,
			  char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Parses a statement payload[0..len) into info: "_type", "subject" (1 to
 * PROV_SUBJECTS_MAX, each a name and a lowercase hex "sha256" digest; no
 * name twice), "predicateType", and of the predicate the buildType,
 * externalParameters.commit and internalParameters.SOURCE_DATE_EPOCH.
 * Members the statement format does not define are refused (VG_EFORMAT);
 * another statement, predicate or build type is VG_EVERIFY.
 */
int prov_statement_parse(const void *payload, size_t len,
			 struct prov_info *info, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The subject of info whose name's last component is name, or NULL. */
const struct prov_subject *prov_info_subject(const struct prov_info *info,
					     const char *name);

#endif
