/*
 * index.c - the in-memory reputation index; see index.h.
 *
 * Entries live in one array; three open-addressing tables (MD5, SHA-1,
 * SHA-256) map a digest to its entry's position. Digests are uniformly
 * distributed, so their first eight bytes, mixed with a per-process random
 * seed, make a good hash without a hash function.
 */
#include "node/index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <jansson.h>
#include <sodium.h>

#include "common/err.h"
#include "common/hex.h"
#include "common/xmalloc.h"

#define EMPTY UINT32_MAX

struct table {
	uint32_t *slot; /* entry positions, EMPTY when free */
	size_t cap;     /* a power of two */
};

struct lookup_index {
	struct index_entry *e;
	size_t n, cap;
	struct table t[3]; /* md5, sha1, sha256 */
	uint64_t seed;
};

static const size_t dlen[3] = {16, 20, 32};

static const uint8_t *
key_of(const struct index_entry *e, int k)
{
	return k == 0 ? e->md5 : k == 1 ? e->sha1 : e->sha256;
}

static size_t
slot_of(const struct lookup_index *ix, const uint8_t *d, size_t cap)
{
	uint64_t h;

	memcpy(&h, d, sizeof(h));
	h ^= ix->seed;
	h *= 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 17) & (cap - 1);
}

struct lookup_index *
index_new(void)
{
	struct lookup_index *ix = xcalloc(1, sizeof(*ix));

	if (getrandom(&ix->seed, sizeof(ix->seed), 0) != sizeof(ix->seed))
		ix->seed = (uint64_t)(uintptr_t)ix ^ 0x5bd1e995u;
	return ix;
}

void
index_free(struct lookup_index *ix)
{
	if (ix == NULL)
		return;
	for (size_t i = 0; i < ix->n; i++) {
		free(ix->e[i].detections);
		free(ix->e[i].because);
		free(ix->e[i].type);
		free(ix->e[i].json);
		free(ix->e[i].retracted_detections);
	}
	free(ix->e);
	for (int k = 0; k < 3; k++)
		free(ix->t[k].slot);
	free(ix);
}

size_t
index_count(const struct lookup_index *ix)
{
	return ix->n;
}

static long
find(const struct lookup_index *ix, int k, const uint8_t *d)
{
	const struct table *t = &ix->t[k];

	if (t->cap == 0)
		return -1;
	for (size_t s = slot_of(ix, d, t->cap);; s = (s + 1) & (t->cap - 1)) {
		uint32_t i = t->slot[s];
		if (i == EMPTY)
			return -1;
		if (memcmp(key_of(&ix->e[i], k), d, dlen[k]) == 0)
			return (long)i;
	}
}

static void
insert(struct lookup_index *ix, int k, uint32_t i)
{
	struct table *t = &ix->t[k];
	size_t s = slot_of(ix, key_of(&ix->e[i], k), t->cap);

	while (t->slot[s] != EMPTY)
		s = (s + 1) & (t->cap - 1);
	t->slot[s] = i;
}

static void
grow(struct lookup_index *ix)
{
	size_t cap = ix->t[0].cap ? ix->t[0].cap * 2 : 1024;

	for (int k = 0; k < 3; k++) {
		free(ix->t[k].slot);
		ix->t[k].slot = xreallocarray(NULL, cap, sizeof(uint32_t));
		memset(ix->t[k].slot, 0xff, cap * sizeof(uint32_t));
		ix->t[k].cap = cap;
	}
	for (size_t i = 0; i < ix->n; i++)
		for (int k = 0; k < 3; k++)
			insert(ix, k, (uint32_t)i);
}

/* Hex digit values, either case; -1 for anything else. */
static const int8_t hexv[256] = {
	['0'] = 0 + 1,  ['1'] = 1 + 1,  ['2'] = 2 + 1,  ['3'] = 3 + 1,
	['4'] = 4 + 1,  ['5'] = 5 + 1,  ['6'] = 6 + 1,  ['7'] = 7 + 1,
	['8'] = 8 + 1,  ['9'] = 9 + 1,  ['a'] = 10 + 1, ['b'] = 11 + 1,
	['c'] = 12 + 1, ['d'] = 13 + 1, ['e'] = 14 + 1, ['f'] = 15 + 1,
	['A'] = 10 + 1, ['B'] = 11 + 1, ['C'] = 12 + 1, ['D'] = 13 + 1,
	['E'] = 14 + 1, ['F'] = 15 + 1,
};

/* The table holds value + 1, so that the zero-initialised rest means
 * "not a digit"; a byte is decoded with one load per digit and the
 * validity of the whole string is checked once at the end. */
static int
unhex(const char *h, size_t len, uint8_t *out)
{
	int ok = 1;

	for (size_t i = 0; i < len; i += 2) {
		int a = hexv[(uint8_t)h[i]], b = hexv[(uint8_t)h[i + 1]];

		ok &= (a != 0) & (b != 0);
		out[i / 2] = (uint8_t)(((unsigned)(a - 1) & 15) << 4 |
				       ((unsigned)(b - 1) & 15));
	}
	return ok ? 0 : -1;
}

/* True if every string of det (an array) is in the array set. */
static bool
covered(json_t *det, json_t *set)
{
	json_t *d, *r;
	size_t i, k;

	json_array_foreach(det, i, d)
	{
		bool in = false;

		json_array_foreach(set, k, r)
		{
			in = in || json_equal(d, r);
		}
		if (!in)
			return false;
	}
	return true;
}

/*
 * Renders e's answer once, so that lookups copy text instead of building
 * JSON per request (building it was most of their time). With a
 * retraction that covers every detection, the answer is clean and says
 * which log entry made it so.
 */
static void
render(struct index_entry *e)
{
	char md5[33], sha1[41], sha256[65];
	json_t *det = json_loads(e->detections, 0, NULL), *j, *rdet = NULL;
	json_t *why = json_loads(e->because, 0, NULL);
	const char *verdict = e->verdict;
	int score = e->score;

	e->applied = false;
	if (e->retracted >= 0 && e->retracted_detections != NULL &&
	    (rdet = json_loads(e->retracted_detections, 0, NULL)) != NULL &&
	    json_is_array(det) && covered(det, rdet)) {
		e->applied = true;
		verdict = "clean";
		score = 0;
		json_decref(det);
		det = json_array();
		json_decref(why);
		why = json_array();
	}

	sodium_bin2hex(md5, sizeof(md5), e->md5, 16);
	sodium_bin2hex(sha1, sizeof(sha1), e->sha1, 20);
	sodium_bin2hex(sha256, sizeof(sha256), e->sha256, 32);
	j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:I, s:o, s:I, "
		      "s:I, s:I, s:o, s:f}",
		      "md5", md5, "sha1", sha1, "sha256", sha256, "verdict",
		      verdict, "score", score, "detections",
		      json_is_array(det) ? det : json_array(), "because",
		      json_is_array(why) ? why : json_array(), "size",
		      (json_int_t)e->size, "type",
		      e->type ? json_string(e->type) : json_null(),
		      "first_seen", (json_int_t)e->first_seen, "last_seen",
		      (json_int_t)e->last_seen, "prevalence",
		      (json_int_t)e->prevalence, "analysed_at",
		      e->analysed_at ? json_integer(e->analysed_at)
				     : json_null(),
		      "analysis_ms", e->analysis_ms);
	if (det != NULL && !json_is_array(det))
		json_decref(det);
	if (why != NULL && !json_is_array(why))
		json_decref(why);
	if (j != NULL && e->derived_from[0] != '\0')
		json_object_set_new(j, "derived_from",
				    json_string(e->derived_from));
	if (j != NULL && e->applied) {
		json_object_set_new(j, "retracted", json_integer(e->retracted));
		json_object_set(j, "retracted_detections", rdet);
	}
	json_decref(rdet);
	e->json = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	if (e->json == NULL)
		fatal("out of memory");
	e->json_len = strlen(e->json);
}

/* How bad a verdict is: unknown < clean < suspicious < malicious. */
static int
severity(const char *v)
{
	if (v == NULL)
		return 0;
	if (strcmp(v, "malicious") == 0)
		return 3;
	if (strcmp(v, "suspicious") == 0)
		return 2;
	return strcmp(v, "clean") == 0 ? 1 : 0;
}

/* Whether entry o keeps its analysis over r's. An own analysis (done:
 * analysed_at set, not derived) outranks a derived one whatever their
 * times and verdicts; otherwise the newer, and of two in the same second
 * the worse. */
static bool
keeps(const struct index_entry *o, const struct reputation *r)
{
	bool o_own = o->analysed_at != 0 && o->derived_from[0] == '\0';
	bool r_own = r->analysed_at != 0 && r->derived_from[0] == '\0';

	if (o_own != r_own &&
	    (o->derived_from[0] != '\0' || r->derived_from[0] != '\0'))
		return o_own;
	return o->analysed_at > r->analysed_at ||
	       (o->analysed_at == r->analysed_at &&
		severity(o->verdict) > severity(r->verdict));
}

int
index_put(struct lookup_index *ix, const struct reputation *r)
{
	struct index_entry e;
	uint8_t probe[32];
	long at;

	memset(&e, 0, sizeof(e));
	e.retracted = -1;
	if (strlen(r->md5) != 32 || strlen(r->sha1) != 40 ||
	    strlen(r->sha256) != 64 || unhex(r->md5, 32, e.md5) != 0 ||
	    unhex(r->sha1, 40, e.sha1) != 0 ||
	    unhex(r->sha256, 64, e.sha256) != 0)
		return VG_EINVAL;
	if (r->derived_from[0] != '\0' &&
	    (strlen(r->derived_from) != 64 ||
	     unhex(r->derived_from, 64, probe) != 0))
		return VG_EINVAL;
	at = find(ix, 2, e.sha256);
	if (at >= 0 && keeps(&ix->e[at], r)) {
		/* An older state arriving late (a submission's, read before
		 * an analysis finished) keeps the newer analysis. */
		const struct index_entry *o = &ix->e[at];

		memcpy(e.verdict, o->verdict, sizeof(e.verdict));
		e.score = o->score;
		e.detections = xstrdup(o->detections);
		e.because = xstrdup(o->because);
		e.type = xstrdup(o->type);
		e.analysed_at = o->analysed_at;
		e.analysis_ms = o->analysis_ms;
		memcpy(e.derived_from, o->derived_from, sizeof(e.derived_from));
	} else {
		snprintf(e.verdict, sizeof(e.verdict), "%s",
			 r->verdict ? r->verdict : "unknown");
		e.score = r->score;
		e.detections = xstrdup(r->detections ? r->detections : "[]");
		e.because = xstrdup(r->because ? r->because : "[]");
		e.type = xstrdup(r->type);
		e.analysed_at = r->analysed_at;
		e.analysis_ms = r->analysis_ms;
		snprintf(e.derived_from, sizeof(e.derived_from), "%s",
			 r->derived_from);
	}
	e.size = r->size;
	e.first_seen = r->first_seen;
	e.last_seen = r->last_seen;
	e.prevalence = r->prevalence;
	if (at >= 0) {
		/* Counts and times only grow, whichever state comes last. */
		const struct index_entry *o = &ix->e[at];

		/* A retraction outlives every analysis; only
		 * index_set_retraction() lifts it. */
		e.retracted = o->retracted;
		e.retracted_detections = xstrdup(o->retracted_detections);

		e.prevalence = o->prevalence > e.prevalence ? o->prevalence
							    : e.prevalence;
		e.first_seen = o->first_seen < e.first_seen ? o->first_seen
							    : e.first_seen;
		e.last_seen =
			o->last_seen > e.last_seen ? o->last_seen : e.last_seen;
	}
	render(&e);
	if (at >= 0) {
		struct index_entry *old = &ix->e[at];
		free(old->detections);
		free(old->because);
		free(old->type);
		free(old->json);
		free(old->retracted_detections);
		*old = e; /* same digests: the tables stay valid */
		return 0;
	}
	if (ix->n == ix->cap) {
		ix->cap = ix->cap ? ix->cap * 2 : 1024;
		ix->e = xreallocarray(ix->e, ix->cap, sizeof(*ix->e));
	}
	ix->e[ix->n++] = e;
	if (2 * ix->n > ix->t[0].cap)
		grow(ix);
	else
		for (int k = 0; k < 3; k++)
			insert(ix, k, (uint32_t)(ix->n - 1));
	return 0;
}

const struct index_entry *
index_get(const struct lookup_index *ix, const char *hex, size_t len, int *bad)
{
	uint8_t d[32];
	int k;
	long at;

	*bad = 0;
	switch (len) {
	case 32: k = 0; break;
	case 40: k = 1; break;
	case 64: k = 2; break;
	default: *bad = 1; return NULL;
	}
	if (unhex(hex, len, d) != 0) {
		*bad = 1;
		return NULL;
	}
	at = find(ix, k, d);
	return at < 0 ? NULL : &ix->e[at];
}

int
index_set_prevalence(struct lookup_index *ix, const char *sha256,
		     uint64_t prevalence)
{
	uint8_t d[32];
	long at;

	if (sha256 == NULL || strnlen(sha256, 65) != 64 ||
	    unhex(sha256, 64, d) != 0)
		return VG_EINVAL;
	if ((at = find(ix, 2, d)) < 0)
		return VG_ENOENT;
	ix->e[at].prevalence = prevalence;
	free(ix->e[at].json);
	render(&ix->e[at]);
	return 0;
}

int
index_set_retraction(struct lookup_index *ix, const char *sha256,
		     int64_t log_index, const char *detections)
{
	struct index_entry *e;
	uint8_t d[32];
	json_t *det = NULL, *v;
	size_t i;
	long at;

	if (sha256 == NULL || strnlen(sha256, 65) != 64 ||
	    unhex(sha256, 64, d) != 0)
		return VG_EINVAL;
	if (log_index >= 0) {
		det = detections ? json_loads(detections, 0, NULL) : NULL;
		if (!json_is_array(det)) {
			json_decref(det);
			return VG_EINVAL;
		}
		json_array_foreach(det, i, v)
		{
			if (!json_is_string(v)) {
				json_decref(det);
				return VG_EINVAL;
			}
		}
		json_decref(det);
	}
	if ((at = find(ix, 2, d)) < 0)
		return VG_ENOENT;
	e = &ix->e[at];
	free(e->retracted_detections);
	free(e->json);
	e->retracted = log_index >= 0 ? log_index : -1;
	e->retracted_detections = log_index >= 0 ? xstrdup(detections) : NULL;
	render(e);
	return 0;
}

void
index_retracted(const struct lookup_index *ix, char (**out)[65], size_t *n)
{
	size_t k = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < ix->n; i++)
		k += ix->e[i].retracted >= 0;
	if (k == 0)
		return;
	*out = xcalloc(k, sizeof(**out));
	for (size_t i = 0; i < ix->n; i++)
		if (ix->e[i].retracted >= 0)
			hex_encode(ix->e[i].sha256, 32, (*out)[(*n)++]);
}

void
index_count_verdicts(const struct lookup_index *ix, struct verdict_count *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < ix->n; i++) {
		const char *v = ix->e[i].applied ? "clean" : ix->e[i].verdict;

		if (strcmp(v, "malicious") == 0)
			out->malicious++;
		else if (strcmp(v, "suspicious") == 0)
			out->suspicious++;
		else if (strcmp(v, "clean") == 0)
			out->clean++;
		else
			out->unknown++;
	}
}
