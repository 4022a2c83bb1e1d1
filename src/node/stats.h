/*
 * stats.h - a region's anonymised statistics of one day: what is counted,
 * the contribution bound, the suppression below k distinct clients and
 * the Laplace noise (docs/STATS.md is the specification; this is its
 * mechanism). The HTTP side, GET /v1/stats, is stats_api.h.
 *
 * A day's document is computed once, from the store's submissions of
 * that UTC day, with noise drawn from libsodium's CSPRNG; the caller
 * stores it (stats_put) and never computes that day again.
 */
#ifndef VIGIL_NODE_STATS_H
#define VIGIL_NODE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* The version of the document's format (its "version" member). */
#define STATS_VERSION 1
/* Submissions of one client counted per day: its first ones, by time.
 * The contribution bound that gives the sensitivity of every count. */
#define STATS_PER_CLIENT 10
/* Most cells published per keyed section (detections, categories, file
 * types): those with the most distinct clients, then by name. */
#define STATS_KEYED_MAX 256
/* Longest detection name and file type taken as a key; longer ones are
 * counted under "other". */
#define STATS_KEY_MAX 256
/* The prevalence histogram's buckets, by distinct clients of the day. */
#define STATS_BUCKETS 5

/* What one day's document is made under. */
struct stats_params {
	unsigned k;         /* fewest distinct clients a count comes from */
	double epsilon;     /* the day's privacy budget, > 0 */
	const char *region; /* the node's region, as in vigild.conf */
};

/* The Laplace(0, b) value at u in (0, 1) by the inverse CDF:
 * -b sgn(u - 1/2) ln(1 - 2|u - 1/2|). Pure, for tests and the sampler. */
double stats_laplace_inverse(double u, double b);

/* A draw of Laplace(0, b), b > 0: 52 bits from randombytes_buf() as a
 * uniform u in (0, 1) (never 0 or 1), then stats_laplace_inverse(). */
double stats_laplace(double b);

/* The published value of a count: value + noise rounded to the nearest
 * integer (halves away from zero), at least 0 (post-processing, costs no
 * budget). */
uint64_t stats_noisy_count(uint64_t value, double noise);

/* The category of detection name: the family its name begins with,
 * lowercase, as docs/STATS.md maps it ("Vigil_Packer_UPX" -> "packer",
 * "Limits.Exceeded.Time" -> "limit", "Win.Trojan.Agent-1" -> "trojan"),
 * or "other". Written into buf (at most len - 1 bytes, len >= 8);
 * returns buf. */
const char *stats_category(const char *name, char *buf, size_t len);

/* The bucket (0 .. STATS_BUCKETS - 1) of a sample reported by n >= 1
 * distinct clients, and each bucket's name ("1", "2-4", ...). */
unsigned stats_bucket(uint64_t n);
const char *stats_bucket_name(unsigned b);

/* A day's counts as they are gathered, before publication. */
struct stats_agg;

/* A new, empty aggregate (the caller frees it with stats_agg_free). */
struct stats_agg *stats_agg_new(void);
void stats_agg_free(struct stats_agg *a);

/* Counts one submission row (stats_rows_each: a client's rows come
 * together, at most STATS_PER_CLIENT of them). Returns 0, or VG_ELIMIT
 * when the aggregate holds too much, VG_EFORMAT for a row whose
 * detections are not a JSON array of strings (counted as none). */
int stats_agg_add(struct stats_agg *a, const struct stats_row *r);

/*
 * Publishes a: suppresses every cell with fewer than p->k distinct
 * clients, splits p->epsilon equally among the cells left, draws each
 * one's noise (stats_laplace) and writes the document for day (made at
 * time now) into *doc, malloc'd and NUL-terminated (the caller frees
 * it), and its length into *len. Returns 0, or VG_EINVAL for bad
 * parameters, VG_ELIMIT for a document above STORE_STATS_DOC_MAX.
 */
int stats_agg_publish(const struct stats_agg *a, const struct stats_params *p,
		      const char *day, int64_t now, char **doc, size_t *len);

/*
 * Computes day's document (day is "YYYY-MM-DD"; start is its midnight,
 * Unix seconds) from the submissions in store st: stats_rows_each, then
 * stats_agg_publish. Returns 0 and *doc, *len as stats_agg_publish, or
 * the store's error (st->err says why).
 */
int stats_compute(struct store *st, const struct stats_params *p,
		  const char *day, int64_t start, int64_t now, char **doc,
		  size_t *len);

#endif
