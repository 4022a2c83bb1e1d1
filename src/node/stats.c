/*
 * stats.c - a day's anonymised statistics: counting, contribution
 * bound, suppression and Laplace noise; see stats.h and docs/STATS.md.
 *
 * Counting goes by sorting, not hashing: each row adds (key, client)
 * pairs to one array per kind of cell (samples, detection names,
 * categories, file types); sorted, a run of one key is a cell, and its
 * distinct clients are the distinct client numbers in the run (a client
 * is numbered when its rows begin: stats_rows_each gives one client's
 * rows together). The store has already kept only each client's first
 * STATS_PER_CLIENT submissions of the day, which bounds what one client
 * can add to any count: 1 to a count of clients, STATS_PER_CLIENT to a
 * count of submissions or samples.
 *
 * Every cell is decided on its true number of distinct clients (k or
 * more: published) before any noise is drawn, then the day's budget is
 * split equally among the published cells, and each gets its own draw.
 */
#include "node/stats.h"

#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/xmalloc.h"
#include "tlog/entry.h"

/* Pairs one aggregate holds, all kinds together: a bound on memory (about
 * 80 bytes each with their keys). */
#define STATS_PAIRS_MAX (8u * 1024 * 1024)
/* Detection names counted per row. */
#define STATS_NAMES_PER_ROW 64

enum kind { K_SAMPLE = 0, K_NAME, K_CATEGORY, K_TYPE, K_COUNT };

static const char *const section_of[K_COUNT] = {
	[K_SAMPLE] = NULL,
	[K_NAME] = "detections",
	[K_CATEGORY] = "categories",
	[K_TYPE] = "file_types",
};

struct pair {
	char *key;
	uint32_t client;
};

struct pairs {
	struct pair *v;
	size_t n, cap;
};

struct stats_agg {
	struct pairs p[K_COUNT];
	size_t total;         /* pairs of every kind */
	uint64_t submissions; /* rows */
	uint32_t clients;     /* distinct clients: client numbers given */
	char last_client[sizeof(((struct client *)0)->id)];
};

double
stats_laplace_inverse(double u, double b)
{
	double d = u - 0.5;

	if (d < 0)
		return b * log(1.0 + 2.0 * d);
	return -b * log(1.0 - 2.0 * d);
}

double
stats_laplace(double b)
{
	uint64_t bits;
	double u;

	randombytes_buf(&bits, sizeof(bits));
	/* (m + 1/2) / 2^52 for m in [0, 2^52): uniform in (0, 1), never
	 * either end, so the logarithm is finite. m + 1/2 takes 53 bits,
	 * exact in a double; with 53 bits of m, m + 1/2 could round up to
	 * 2^53, u to 1, and the draw to infinity. */
	u = ((double)(bits >> 12) + 0.5) / 4503599627370496.0;
	return stats_laplace_inverse(u, b);
}

uint64_t
stats_noisy_count(uint64_t value, double noise)
{
	double v = (double)value + noise;

	if (!(v >= 0.5)) /* NaN too */
		return 0;
	if (v >= 9007199254740992.0)
		return UINT64_C(9007199254740992);
	return (uint64_t)llround(v);
}

/* Copies s[0..n) lowercase into buf, keeping a-z, 0-9 and '-' only;
 * returns the length written. */
static size_t
label(const char *s, size_t n, char *buf, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < len && o < 32; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-')
			buf[o++] = c;
	}
	buf[o] = '\0';
	return o;
}

const char *
stats_category(const char *name, char *buf, size_t len)
{
	const char *p[3];
	size_t np = 0, l[3];
	const char *s;
	char sep;

	snprintf(buf, len, "other");
	if (name == NULL || *name == '\0')
		return buf;
	if (strncmp(name, "Limits.", 7) == 0) {
		snprintf(buf, len, "limit");
		return buf;
	}
	if (strncmp(name, "Decompose.", 10) == 0) {
		snprintf(buf, len, "decompose");
		return buf;
	}
	/* The name's first components, split on its first separator. */
	sep = strchr(name, '_') != NULL ? '_' : '.';
	for (s = name; np < 3;) {
		const char *e = strchr(s, sep);

		p[np] = s;
		l[np] = e != NULL ? (size_t)(e - s) : strlen(s);
		np++;
		if (e == NULL)
			break;
		s = e + 1;
	}
	if (sep == '_') {
		/* Vigil_<Family>_<Name>: the family; Family_<Name>: the
		 * first component. */
		if (np >= 3 && l[0] == 5 && strncmp(p[0], "Vigil", 5) == 0) {
			if (label(p[1], l[1], buf, len) == 0)
				snprintf(buf, len, "other");
		} else if (np >= 2) {
			if (label(p[0], l[0], buf, len) == 0)
				snprintf(buf, len, "other");
		}
	} else if (np >= 3) {
		/* ClamAV's Platform.Category.Name: the category. */
		if (label(p[1], l[1], buf, len) == 0)
			snprintf(buf, len, "other");
	}
	return buf;
}

unsigned
stats_bucket(uint64_t n)
{
	if (n <= 1)
		return 0;
	if (n <= 4)
		return 1;
	if (n <= 9)
		return 2;
	if (n <= 99)
		return 3;
	return 4;
}

const char *
stats_bucket_name(unsigned b)
{
	static const char *const names[STATS_BUCKETS] = {"1", "2-4", "5-9",
							 "10-99", "100+"};

	return b < STATS_BUCKETS ? names[b] : NULL;
}

struct stats_agg *
stats_agg_new(void)
{
	return xcalloc(1, sizeof(struct stats_agg));
}

void
stats_agg_free(struct stats_agg *a)
{
	if (a == NULL)
		return;
	for (int k = 0; k < K_COUNT; k++) {
		for (size_t i = 0; i < a->p[k].n; i++)
			free(a->p[k].v[i].key);
		free(a->p[k].v);
	}
	free(a);
}

static int
push(struct stats_agg *a, enum kind k, const char *key, size_t n)
{
	struct pairs *ps = &a->p[k];

	if (a->total >= STATS_PAIRS_MAX)
		return VG_ELIMIT;
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 256;
		ps->v = xreallocarray(ps->v, ps->cap, sizeof(*ps->v));
	}
	ps->v[ps->n].key = xmalloc(n + 1);
	memcpy(ps->v[ps->n].key, key, n);
	ps->v[ps->n].key[n] = '\0';
	ps->v[ps->n].client = a->clients;
	ps->n++;
	a->total++;
	return 0;
}

static int
push_str(struct stats_agg *a, enum kind k, const char *key)
{
	size_t n = strlen(key);

	if (n == 0 || n > STATS_KEY_MAX)
		return push(a, k, "other", 5);
	return push(a, k, key, n);
}

int
stats_agg_add(struct stats_agg *a, const struct stats_row *r)
{
	json_t *j = NULL, *v;
	char cat[64];
	bool bad = false;
	size_t i;
	int rc;

	if (strcmp(a->last_client, r->client_id) != 0 || a->clients == 0) {
		if (a->clients == UINT32_MAX)
			return VG_ELIMIT;
		a->clients++;
		snprintf(a->last_client, sizeof(a->last_client), "%s",
			 r->client_id);
	}
	a->submissions++;
	if ((rc = push_str(a, K_SAMPLE, r->sha256)) != 0 ||
	    (rc = push_str(a, K_TYPE, r->mime != NULL ? r->mime : "unknown")) !=
		    0)
		return rc;
	j = json_loads(r->detections, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_array(j)) {
		json_decref(j);
		return VG_EFORMAT;
	}
	json_array_foreach(j, i, v)
	{
		if (i >= STATS_NAMES_PER_ROW)
			break;
		if (!json_is_string(v)) {
			bad = true;
			continue;
		}
		if ((rc = push_str(a, K_NAME, json_string_value(v))) != 0 ||
		    (rc = push_str(a, K_CATEGORY,
				   stats_category(json_string_value(v), cat,
						  sizeof(cat)))) != 0)
			break;
	}
	json_decref(j);
	return rc != 0 ? rc : bad ? VG_EFORMAT : 0;
}

static int
pair_cmp(const void *x, const void *y)
{
	const struct pair *a = x, *b = y;
	int c = strcmp(a->key, b->key);

	if (c != 0)
		return c;
	return a->client < b->client ? -1 : a->client > b->client;
}

/* One published cell, or a candidate. */
struct cell {
	enum kind kind;   /* K_COUNT for the fixed cells */
	const char *name; /* the member: "submissions", a key, a bucket */
	uint64_t value;   /* the true count */
	uint64_t clients; /* distinct clients it comes from */
	double sensitivity;
	bool released;
	uint64_t noisy;
};

struct cells {
	struct cell *v;
	size_t n, cap;
};

static struct cell *
cell_add(struct cells *cs, enum kind k, const char *name, uint64_t value,
	 uint64_t clients, double sensitivity)
{
	struct cell *c;

	if (cs->n == cs->cap) {
		cs->cap = cs->cap ? cs->cap * 2 : 64;
		cs->v = xreallocarray(cs->v, cs->cap, sizeof(*cs->v));
	}
	c = &cs->v[cs->n++];
	memset(c, 0, sizeof(*c));
	c->kind = k;
	c->name = name;
	c->value = value;
	c->clients = clients;
	c->sensitivity = sensitivity;
	return c;
}

/* Most distinct clients first, then by name: which keyed cells are kept
 * when more than STATS_KEYED_MAX reach k. */
static int
cell_rank(const void *x, const void *y)
{
	const struct cell *a = x, *b = y;

	if (a->clients != b->clients)
		return a->clients > b->clients ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* A sorted array of the distinct (bucket, client) pairs of the samples. */
struct bucket_client {
	unsigned bucket;
	uint32_t client;
};

static int
bc_cmp(const void *x, const void *y)
{
	const struct bucket_client *a = x, *b = y;

	if (a->bucket != b->bucket)
		return a->bucket < b->bucket ? -1 : 1;
	return a->client < b->client ? -1 : a->client > b->client;
}

/* The prevalence histogram: per bucket, the samples whose distinct
 * clients of the day fall in it, and the clients that reported one. */
static void
histogram(const struct pairs *ps, uint64_t *samples, uint64_t *buckets,
	  uint64_t *bclients)
{
	struct bucket_client *bc = NULL;
	size_t nbc = 0;

	*samples = 0;
	memset(buckets, 0, STATS_BUCKETS * sizeof(*buckets));
	memset(bclients, 0, STATS_BUCKETS * sizeof(*bclients));
	if (ps->n > 0)
		bc = xreallocarray(NULL, ps->n, sizeof(*bc));
	for (size_t i = 0; i < ps->n;) {
		size_t j = i, first = nbc;
		uint64_t n = 0;
		unsigned b;

		for (; j < ps->n && strcmp(ps->v[j].key, ps->v[i].key) == 0;
		     j++) {
			if (j == i || ps->v[j].client != ps->v[j - 1].client) {
				bc[nbc].client = ps->v[j].client;
				nbc++;
				n++;
			}
		}
		b = stats_bucket(n);
		for (size_t t = first; t < nbc; t++)
			bc[t].bucket = b;
		buckets[b]++;
		(*samples)++;
		i = j;
	}
	if (nbc > 0)
		qsort(bc, nbc, sizeof(*bc), bc_cmp);
	for (size_t i = 0; i < nbc; i++)
		if (i == 0 || bc[i].bucket != bc[i - 1].bucket ||
		    bc[i].client != bc[i - 1].client)
			bclients[bc[i].bucket]++;
	free(bc);
}

/* Adds the cells of keyed kind k (sorted pairs ps): one per key, valued
 * at its distinct clients. Those below k are left out here (never
 * named); of the rest, the STATS_KEYED_MAX with most clients stay. */
static void
keyed_cells(struct cells *cs, const struct pairs *ps, enum kind k,
	    unsigned kmin)
{
	size_t from = cs->n, kept;

	for (size_t i = 0; i < ps->n;) {
		size_t j = i;
		uint64_t n = 0;

		for (; j < ps->n && strcmp(ps->v[j].key, ps->v[i].key) == 0;
		     j++)
			if (j == i || ps->v[j].client != ps->v[j - 1].client)
				n++;
		if (n >= kmin)
			cell_add(cs, k, ps->v[i].key, n, n, 1.0);
		i = j;
	}
	kept = cs->n - from;
	if (kept > STATS_KEYED_MAX) {
		qsort(cs->v + from, kept, sizeof(*cs->v), cell_rank);
		cs->n = from + STATS_KEYED_MAX;
	}
}

int
stats_agg_publish(const struct stats_agg *ac, const struct stats_params *p,
		  const char *day, int64_t now, char **doc, size_t *len)
{
	struct stats_agg *a = (struct stats_agg *)ac; /* sorted in place */
	struct cells cs = {NULL, 0, 0};
	uint64_t samples, buckets[STATS_BUCKETS], bclients[STATS_BUCKETS];
	json_t *o = NULL, *priv, *sec[K_COUNT] = {NULL}, *hist;
	char when[TLOG_ENTRY_TIME_LEN];
	size_t released = 0, ixsub, ixsamples, ixhist;
	double eps_cell = 0, b_cap = 0, b_one = 0;
	char *text = NULL;
	int rc = 0;

	*doc = NULL;
	*len = 0;
	if (p == NULL || p->k < 1 || !(p->epsilon > 0) ||
	    !isfinite(p->epsilon) || p->region == NULL || day == NULL ||
	    tlog_entry_time_format(now, when) != 0)
		return VG_EINVAL;
	for (int k = 0; k < K_COUNT; k++)
		if (a->p[k].n > 0)
			qsort(a->p[k].v, a->p[k].n, sizeof(struct pair),
			      pair_cmp);
	histogram(&a->p[K_SAMPLE], &samples, buckets, bclients);
	/* The fixed cells: every client of the day contributes to the
	 * first two. */
	ixsub = cs.n;
	cell_add(&cs, K_COUNT, "submissions", a->submissions, a->clients,
		 STATS_PER_CLIENT);
	ixsamples = cs.n;
	cell_add(&cs, K_COUNT, "samples", samples, a->clients,
		 STATS_PER_CLIENT);
	ixhist = cs.n;
	for (unsigned b = 0; b < STATS_BUCKETS; b++)
		cell_add(&cs, K_COUNT, stats_bucket_name(b), buckets[b],
			 bclients[b], STATS_PER_CLIENT);
	keyed_cells(&cs, &a->p[K_NAME], K_NAME, p->k);
	keyed_cells(&cs, &a->p[K_CATEGORY], K_CATEGORY, p->k);
	keyed_cells(&cs, &a->p[K_TYPE], K_TYPE, p->k);
	/* Suppression, on the true number of clients, before any noise. */
	for (size_t i = 0; i < cs.n; i++) {
		cs.v[i].released = cs.v[i].clients >= p->k;
		released += cs.v[i].released;
	}
	/* The budget, split equally (sequential composition), and one draw
	 * per published cell. */
	if (released > 0) {
		eps_cell = p->epsilon / (double)released;
		b_cap = STATS_PER_CLIENT / eps_cell;
		b_one = 1.0 / eps_cell;
	}
	for (size_t i = 0; i < cs.n; i++)
		if (cs.v[i].released)
			cs.v[i].noisy = stats_noisy_count(
				cs.v[i].value,
				stats_laplace(cs.v[i].sensitivity / eps_cell));
	o = json_object();
	json_object_set_new(o, "version", json_integer(STATS_VERSION));
	json_object_set_new(o, "region", json_string(p->region));
	json_object_set_new(o, "day", json_string(day));
	json_object_set_new(o, "published", json_string(when));
	priv = json_object();
	json_object_set_new(priv, "mechanism", json_string("laplace"));
	json_object_set_new(priv, "k", json_integer(p->k));
	json_object_set_new(priv, "epsilon", json_real(p->epsilon));
	json_object_set_new(priv, "cells", json_integer((json_int_t)released));
	json_object_set_new(priv, "epsilon_per_cell", json_real(eps_cell));
	json_object_set_new(priv, "per_client", json_integer(STATS_PER_CLIENT));
	json_object_set_new(priv, "scale_per_client_counts", json_real(b_cap));
	json_object_set_new(priv, "scale_client_counts", json_real(b_one));
	json_object_set_new(o, "privacy", priv);
#define VALUE(c)                                                               \
	((c).released ? json_integer((json_int_t)(c).noisy) : json_null())
	json_object_set_new(o, "submissions", VALUE(cs.v[ixsub]));
	json_object_set_new(o, "samples", VALUE(cs.v[ixsamples]));
	hist = json_object();
	for (unsigned b = 0; b < STATS_BUCKETS; b++)
		json_object_set_new(hist, stats_bucket_name(b),
				    VALUE(cs.v[ixhist + b]));
	json_object_set_new(o, "prevalence", hist);
	for (int k = K_NAME; k < K_COUNT; k++)
		sec[k] = json_object();
	for (size_t i = ixhist + STATS_BUCKETS; i < cs.n; i++)
		if (cs.v[i].released)
			json_object_set_new(sec[cs.v[i].kind], cs.v[i].name,
					    VALUE(cs.v[i]));
#undef VALUE
	for (int k = K_NAME; k < K_COUNT; k++)
		json_object_set_new(o, section_of[k], sec[k]);
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL)
		fatal("out of memory");
	if (strlen(text) > STORE_STATS_DOC_MAX) {
		free(text);
		rc = VG_ELIMIT;
		goto out;
	}
	*doc = text;
	*len = strlen(text);
out:
	json_decref(o);
	free(cs.v);
	return rc;
}

struct compute {
	struct stats_agg *a;
	int bad; /* rows whose detections did not parse */
};

static int
add_row(const struct stats_row *r, void *ud)
{
	struct compute *c = ud;
	int rc = stats_agg_add(c->a, r);

	if (rc == VG_EFORMAT) {
		c->bad++;
		return 0;
	}
	return rc;
}

int
stats_compute(struct store *st, const struct stats_params *p, const char *day,
	      int64_t start, int64_t now, char **doc, size_t *len)
{
	struct compute c = {stats_agg_new(), 0};
	int rc;

	*doc = NULL;
	*len = 0;
	rc = st->ops->stats_rows_each(st, start, start + 86400,
				      STATS_PER_CLIENT, add_row, &c);
	if (rc == 0)
		rc = stats_agg_publish(c.a, p, day, now, doc, len);
	stats_agg_free(c.a);
	return rc;
}
