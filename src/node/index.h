/*
 * index.h - the in-memory reputation index behind POST /v1/lookup and
 * GET /v1/files/{hash}: every known sample by MD5, SHA-1 and SHA-256.
 *
 * Lookups never touch the disk. The index is filled from the store at
 * start and updated whenever an analysis finishes. Keys are the binary
 * digests; the entry carries what a lookup answers.
 *
 * A retraction (a false positive the operator accepted, docs/API.md) is
 * laid over an entry, not written into it: the entry keeps the verdict of
 * the latest analysis, and its answer says clean, with the log index of
 * the retraction, for as long as every detection of that analysis is
 * among those retracted. A later analysis that finds a detection the
 * retraction did not name is answered with its own verdict.
 */
#ifndef VIGIL_NODE_INDEX_H
#define VIGIL_NODE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct lookup_index;

struct index_entry {
	uint8_t md5[16], sha1[20], sha256[32];
	char verdict[12];
	int score;
	char *detections; /* JSON array text, owned by the index */
	char *because;    /* JSON array text, owned by the index */
	uint64_t size;
	char *type; /* may be NULL */
	int64_t first_seen, last_seen, analysed_at;
	uint64_t prevalence;
	double analysis_ms;
	/* The sample the verdict was derived from (store.h), "" when it is
	 * the sample's own: answered as "derived_from". */
	char derived_from[65];
	/* The retraction in force: the log index of its entry, or -1; the
	 * detections it names (JSON array text, owned by the index; NULL
	 * without one). applied: it decides the answer (clean). */
	int64_t retracted;
	char *retracted_detections;
	bool applied;
	/* The answer of GET /v1/files for this sample, rendered once when
	 * the entry is put (docs/API.md); owned by the index. */
	char *json;
	size_t json_len;
};

/* Returns an empty index; never NULL (OOM is fatal). */
struct lookup_index *index_new(void);
void index_free(struct lookup_index *ix);

/* Adds or updates the entry for r's sample. The entry never goes back:
 * an r analysed earlier than the entry keeps the entry's analysis, and
 * prevalence, first and last seen keep the larger span; so states put in
 * any order end as the newest. Of two states analysed in the same second
 * (analysed_at has seconds), the worse verdict stays: a state read before
 * a failure was recorded never makes the entry clean again. Before any of
 * that, the sample's own analysis outranks a derived one (r->derived_from
 * set), whatever their times and verdicts, as in the store. A retraction
 * laid over the entry stays. Returns 0 or VG_EINVAL when a hash in r is
 * malformed (derived_from included). */
int index_put(struct lookup_index *ix, const struct reputation *r);

/* Looks up a hex digest of 32, 40 or 64 characters (any case). Returns
 * the entry (owned by the index, valid until the next index_put), NULL if
 * unknown; *bad is set when hex is not a well-formed digest. */
const struct index_entry *index_get(const struct lookup_index *ix,
				    const char *hex, size_t len, int *bad);

/*
 * Lays the retraction of log entry log_index, which names detections (a
 * JSON array text of strings, copied), over the entry of sha256 (64
 * lowercase hex digits), and renders its answer again; log_index < 0
 * lifts the retraction (detections is then ignored). Returns 0,
 * VG_ENOENT if the index holds no such sample, or VG_EINVAL for a
 * malformed hash or detections.
 */
int index_set_retraction(struct lookup_index *ix, const char *sha256,
			 int64_t log_index, const char *detections);

/* Sets the prevalence of the sample sha256 (64 lowercase hex digits), the
 * one exception to counts that only grow: a client's data erased
 * (docs/PRIVACY.md) counts it no more. Renders its answer again. Returns
 * 0, VG_ENOENT if the index holds no such sample, or VG_EINVAL. */
int index_set_prevalence(struct lookup_index *ix, const char *sha256,
			 uint64_t prevalence);

/* The SHA-256s (64 lowercase hex digits each) of every sample a
 * retraction lies over, into a malloc'd array *out (the caller frees it;
 * NULL when none) of *n. */
void index_retracted(const struct lookup_index *ix, char (**out)[65],
		     size_t *n);

struct verdict_count {
	size_t malicious, suspicious, clean, unknown;
};

/* Counts the samples by the verdict they are answered with (a retracted
 * one counts as clean), a walk over the index: for /metrics. */
void index_count_verdicts(const struct lookup_index *ix,
			  struct verdict_count *out);

/* Number of samples. */
size_t index_count(const struct lookup_index *ix);

#endif
