/*
 * logclient.c - the verifying client of a tiled transparency log; see
 * logclient.h. It owns the client's view of one log: the checkpoint it
 * trusts now, the tiles checked against the tree it reads, and the state
 * file of what it saw before.
 *
 * The tile check follows Go's sumdb tlog.TileHashReader: a tree's root is
 * a function of the rightmost tile of every level alone, so those are
 * checked together against the checkpoint's root when a tree is set, and
 * every full tile is checked, when first read, against its hash in the
 * tile above. Nothing read from the server is used before it is checked.
 *
 * Keys: the state is kept per origin and key, and the origin's key is
 * recorded. A checkpoint of the origin signed by another key is either
 * followed through a key handover the recorded key signed (follow()) or
 * refused as a key change (key_changed()), never taken for a fork: a fork
 * is two trees that one key signed.
 */
#include "cli/logclient.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/xmalloc.h"
#include "tlog/handover.h"
#include "tlog/proof.h"
#include "tlog/tile.h"

/* Tile levels of a tree below 2^64 leaves: 8 * 8 Merkle levels. */
#define LEVELS 8
/* Full tiles kept once checked (8 KiB each). */
#define CACHE_TILES                  32
#define LOGCLIENT_CONNECT_TIMEOUT_MS 10000L
#define LOGCLIENT_TIMEOUT_MS         60000L
/* base64 of a hash, and its terminator. */
#define B64_HASH 45

/* A tile checked against the tree the client reads. */
struct vtile {
	bool valid;
	uint64_t used; /* for eviction: the least recently used goes */
	struct tile t;
	struct merkle_hash h[TILE_WIDTH];
};

struct logclient {
	/* The configuration, with owned copies of its strings and keys. */
	struct logclient_config cfg;
	char *source, *origin, *state_dir;
	struct note_verifier key;   /* the log's key trusted now */
	struct note_verifier given; /* the key of the configuration */
	struct note_verifier accept;
	bool has_accept;
	bool told; /* the notice of a recorded key in place of the given */
	struct note_verifier *witnesses;

	/* The checkpoint trusted now. */
	bool have;
	char *cp_text;
	size_t cp_len;
	struct checkpoint cp;

	/* The tree tiles are read for, its signed checkpoint (for the
	 * evidence; not owned), and the tiles checked against it. */
	bool tree_ok;
	uint64_t tree_size;
	struct merkle_hash tree_root;
	const char *tree_text, *tree_source;
	struct vtile edge[LEVELS];
	struct vtile cache[CACHE_TILES];
	uint64_t clock;
	struct tile_reader tr;

	/* The last entry bundle checked against the tree. */
	bool bundle_ok;
	struct tile bundle_t;
	uint8_t *bundle;
	struct tile_entry entries[TILE_WIDTH];

	/* Where the tile reader reports, during an operation. */
	struct logclient_result *r;
};

/* A checkpoint in a consistency check: its note, where it came from. */
struct seen {
	const char *text;
	const char *source;
	const struct checkpoint *cp;
};

/* --- results -------------------------------------------------------------- */

void
logclient_result_clear(struct logclient_result *r)
{
	free(r->old_checkpoint);
	free(r->old_source);
	free(r->new_checkpoint);
	free(r->new_source);
	memset(r, 0, sizeof(*r));
}

/* Records the first failure of an operation; returns code. */
static int __attribute__((format(printf, 4, 5)))
fail(struct logclient_result *r, enum logclient_status s, int code,
     const char *fmt, ...)
{
	va_list ap;

	if (r->status == LOGCLIENT_OK) {
		r->status = s;
		va_start(ap, fmt);
		vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Adds the checkpoints to a failure's evidence, where it has none yet. */
static void
evidence(struct logclient_result *r, const struct seen *old,
	 const struct seen *new_)
{
	if (old != NULL && r->old_checkpoint == NULL) {
		r->old_checkpoint = xstrdup(old->text);
		r->old_source = xstrdup(old->source);
	}
	if (new_ != NULL && r->new_checkpoint == NULL) {
		r->new_checkpoint = xstrdup(new_->text);
		r->new_source = xstrdup(new_->source);
	}
}

static void
b64_hash(const struct merkle_hash *h, char out[B64_HASH])
{
	EVP_EncodeBlock((unsigned char *)out, h->b, MERKLE_HASH_LEN);
}

void
logclient_result_print(const struct logclient_result *r, FILE *f)
{
	char b64[B64_HASH];

	if (r->status == LOGCLIENT_OK)
		return;
	if (r->status != LOGCLIENT_SECURITY) {
		fprintf(f, "vigil: %s\n", r->msg);
		return;
	}
	fprintf(f,
		"vigil: SECURITY: %s\n"
		"vigil: SECURITY: the log contradicts what it signed. Keep "
		"the evidence below and report it.\n",
		r->msg);
	if (r->old_checkpoint != NULL)
		fprintf(f, "--- checkpoint %s\n%s", r->old_source,
			r->old_checkpoint);
	if (r->new_checkpoint != NULL)
		fprintf(f, "--- checkpoint %s\n%s", r->new_source,
			r->new_checkpoint);
	if (r->proof_kind != NULL) {
		if (strcmp(r->proof_kind, "consistency") == 0)
			fprintf(f,
				"--- consistency proof from size %" PRIu64
				" to size %" PRIu64 ", computed from the "
				"log's tiles (%zu hashes, base64)\n",
				r->proof_a, r->proof_b, r->proof_len);
		else
			fprintf(f,
				"--- inclusion proof of entry %" PRIu64
				" in the tree of size %" PRIu64 ", computed "
				"from the log's tiles (%zu hashes, base64)\n",
				r->proof_a, r->proof_b, r->proof_len);
		for (size_t i = 0; i < r->proof_len; i++) {
			b64_hash(&r->proof[i], b64);
			fprintf(f, "%s\n", b64);
		}
	}
	fprintf(f, "--- end of evidence\n");
}

int
logclient_exit_status(enum logclient_status s)
{
	switch (s) {
	case LOGCLIENT_OK: return 0;
	case LOGCLIENT_NOT_PROVEN: return 1;
	case LOGCLIENT_SECURITY: return 3;
	case LOGCLIENT_KEY_CHANGED: return 4;
	default: return 2;
	}
}

/* --- HTTP ----------------------------------------------------------------- */

struct logclient_http {
	char *prefix;
	CURL *curl;
};

struct sink {
	uint8_t *buf;
	size_t len, cap, max;
	bool too_big;
};

static size_t
on_data(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n; /* libcurl: size is 1 */

	if (len > s->max - s->len) {
		s->too_big = true;
		return 0; /* aborts the transfer */
	}
	if (len + 1 > s->cap - s->len) {
		size_t cap = s->cap ? s->cap : 4096;

		while (len + 1 > cap - s->len)
			cap *= 2;
		if (cap > s->max + 1)
			cap = s->max + 1;
		s->buf = xreallocarray(s->buf, cap, 1);
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, len);
	s->len += len;
	return len;
}

struct logclient_http *
logclient_http_new(const char *prefix)
{
	struct logclient_http *h;
	size_t n = strlen(prefix);

	if (strncmp(prefix, "http://", 7) != 0 &&
	    strncmp(prefix, "https://", 8) != 0)
		return NULL;
	h = xcalloc(1, sizeof(*h));
	h->prefix = xstrdup(prefix);
	while (n > 0 && h->prefix[n - 1] == '/')
		h->prefix[--n] = '\0';
	if ((h->curl = curl_easy_init()) == NULL) {
		logclient_http_free(h);
		return NULL;
	}
	curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS,
			 LOGCLIENT_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, LOGCLIENT_TIMEOUT_MS);
	curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "vigil/" VIGIL_VERSION);
	/* tlog-tiles: clients ask for gzip (entry bundles compress well). */
	curl_easy_setopt(h->curl, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_data);
	return h;
}

void
logclient_http_free(struct logclient_http *h)
{
	if (h == NULL)
		return;
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	free(h->prefix);
	free(h);
}

int
logclient_http_get(void *ud, const char *relpath, size_t max, uint8_t **data,
		   size_t *len, char *err, size_t errlen)
{
	struct logclient_http *h = ud;
	struct sink s = {.max = max};
	char *url = xasprintf("%s/%s", h->prefix, relpath);
	long status = 0;
	CURLcode cc;
	int rc = 0;

	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	cc = curl_easy_perform(h->curl);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	if (s.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(err, errlen, "%s: the answer is larger than %zu bytes",
			 url, max);
		rc = VG_ELIMIT;
	} else if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", url, curl_easy_strerror(cc));
		rc = VG_EIO;
	} else if (status == 404 || status == 410) {
		snprintf(err, errlen, "%s: not found (%ld)", url, status);
		rc = VG_ENOENT;
	} else if (status != 200) {
		snprintf(err, errlen, "%s: answered %ld", url, status);
		rc = VG_EIO;
	}
	if (rc != 0) {
		free(s.buf);
	} else {
		if (s.buf == NULL)
			s.buf = xmalloc(1);
		else
			s.buf[s.len] = '\0'; /* on_data leaves room */
		*data = s.buf;
		*len = s.len;
	}
	free(url);
	return rc;
}

/* --- checkpoints ---------------------------------------------------------- */

/* True if n has a signature line naming k (name and key ID). */
static bool
has_line(const struct note *n, const struct note_verifier *k)
{
	for (size_t i = 0; i < n->nsigs; i++)
		if (n->sigs[i].key_id == k->key_id &&
		    strcmp(n->sigs[i].name, k->name) == 0)
			return true;
	return false;
}

/*
 * Opens the signed checkpoint msg[0..len) from source with checkpoint_open()
 * and the config's policy; when that refuses it, finds out which check
 * failed, so that a bad signature, too few witnesses and a malformed
 * answer each get their own message and status.
 */
static int
open_checkpoint(const struct logclient_config *cfg, const char *msg, size_t len,
		const char *source, struct checkpoint *out,
		struct logclient_result *r)
{
	char err[256], err2[256], key[NOTE_KEY_MAX];
	struct checkpoint c = {0};
	struct note *n = NULL;
	size_t nv, good = 0;
	int rc;

	rc = checkpoint_open(msg, len, cfg->origin, cfg->log_key,
			     cfg->witnesses, cfg->nwitnesses, cfg->quorum, out,
			     err, sizeof(err));
	if (rc == 0)
		return 0;
	if (note_parse(msg, len, &n, err2, sizeof(err2)) != 0)
		return fail(r, LOGCLIENT_ERROR, rc,
			    "%s: not a signed checkpoint: %s", source, err2);
	note_verifier_format(cfg->log_key, key);
	if (!has_line(n, cfg->log_key)) {
		rc = fail(r, LOGCLIENT_BAD_SIGNATURE, VG_EVERIFY,
			  "%s: the checkpoint is not signed by the log's key "
			  "%s (its first signature is by %s+%08" PRIx32 ")",
			  source, key, n->sigs[0].name, n->sigs[0].key_id);
		goto out;
	}
	if (note_verify(n, cfg->log_key, 1, &nv, err2, sizeof(err2)) != 0) {
		rc = fail(r, LOGCLIENT_BAD_SIGNATURE, VG_EVERIFY,
			  "%s: bad signature: the log key's signature on the "
			  "checkpoint does not verify with %s",
			  source, key);
		goto out;
	}
	for (size_t i = 0; i < cfg->nwitnesses; i++) {
		if (!has_line(n, &cfg->witnesses[i]))
			continue;
		if (note_verify(n, &cfg->witnesses[i], 1, &nv, err2,
				sizeof(err2)) != 0) {
			note_verifier_format(&cfg->witnesses[i], key);
			rc = fail(r, LOGCLIENT_BAD_SIGNATURE, VG_EVERIFY,
				  "%s: bad signature: the cosignature of "
				  "witness %s does not verify",
				  source, key);
			goto out;
		}
		good++;
	}
	if (good < cfg->quorum) {
		rc = fail(r, LOGCLIENT_TOO_FEW_WITNESSES, VG_EVERIFY,
			  "%s: too few witnesses: %zu of the %zu witnesses "
			  "given cosigned the checkpoint, %zu needed",
			  source, good, cfg->nwitnesses, cfg->quorum);
		goto out;
	}
	if (checkpoint_parse(n->text, n->text_len, &c, err2, sizeof(err2)) ==
		    0 &&
	    strcmp(c.origin, cfg->origin) != 0)
		rc = fail(r, LOGCLIENT_ERROR, VG_EVERIFY,
			  "%s: the checkpoint is of the log %s, not %s", source,
			  c.origin, cfg->origin);
	else
		rc = fail(r, LOGCLIENT_ERROR, rc, "%s: %s", source, err);
out:
	checkpoint_clear(&c);
	note_free(n);
	return rc;
}

/* --- tiles checked against a tree ----------------------------------------- */

/* Fetches tile t, exactly its width in hashes, into h (unchecked). A
 * partial tile that is gone is read from the prefix of the full tile
 * (tlog-tiles lets a log delete it once the full one exists). */
static int
fetch_tile(struct logclient *lc, const struct tile *t, struct merkle_hash *h)
{
	char path[TILE_PATH_MAX], err[512];
	size_t len = 0, want = (size_t)t->width * MERKLE_HASH_LEN;
	uint8_t *d = NULL;
	int rc;

	if (tile_path(t, path) != 0)
		return fail(lc->r, LOGCLIENT_ERROR, VG_EINVAL,
			    "no tile at level %d", t->level);
	rc = lc->cfg.get(lc->cfg.get_ud, path, TILE_BYTES, &d, &len, err,
			 sizeof(err));
	if (rc == VG_ENOENT && t->width < TILE_WIDTH) {
		struct tile full = *t;
		char err2[512];

		full.width = TILE_WIDTH;
		(void)tile_path(&full, path);
		if (lc->cfg.get(lc->cfg.get_ud, path, TILE_BYTES, &d, &len,
				err2, sizeof(err2)) == 0) {
			rc = 0;
			if (len == TILE_BYTES)
				len = want;
		}
	}
	if (rc != 0)
		return fail(lc->r, LOGCLIENT_ERROR, rc, "%s", err);
	if (len != want) {
		free(d);
		return fail(lc->r, LOGCLIENT_ERROR, VG_EFORMAT,
			    "%s: malformed answer: tile %s has %zu bytes, not "
			    "%u hashes",
			    lc->cfg.source, path, len, t->width);
	}
	memcpy(h, d, len);
	free(d);
	return 0;
}

/* The tree's rightmost tiles, for computing its root from them alone. */
static int
edge_read(void *ud, const struct tile *t, uint8_t *buf, size_t *len)
{
	struct logclient *lc = ud;
	struct vtile *e;

	if (t->level < 0 || t->level >= LEVELS)
		return VG_ECORRUPT;
	e = &lc->edge[t->level];
	if (!e->valid || e->t.index != t->index || e->t.width != t->width)
		return VG_ECORRUPT; /* the root needs only these */
	*len = (size_t)t->width * MERKLE_HASH_LEN;
	memcpy(buf, e->h, *len);
	return 0;
}

static void
tree_forget(struct logclient *lc)
{
	lc->tree_ok = false;
	for (int i = 0; i < LEVELS; i++)
		lc->edge[i].valid = false;
	for (int i = 0; i < CACHE_TILES; i++)
		lc->cache[i].valid = false;
	lc->bundle_ok = false;
	free(lc->bundle);
	lc->bundle = NULL;
}

/*
 * Makes the tree of the signed checkpoint text (size, root) the one tiles
 * are read for: fetches the rightmost tile of every level and checks that
 * they give the root. SECURITY if they do not.
 */
static int
tree_set(struct logclient *lc, const struct seen *s)
{
	struct merkle_hash got;
	char a[B64_HASH], b[B64_HASH];
	uint64_t size = s->cp->size;
	int rc;

	tree_forget(lc);
	lc->tree_size = size;
	lc->tree_root = s->cp->root;
	lc->tree_text = s->text;
	lc->tree_source = s->source;
	for (unsigned level = 0; level < LEVELS; level++) {
		struct vtile *e = &lc->edge[level];
		uint64_t full;
		unsigned partial;

		tile_count(size, level, &full, &partial);
		if (partial == 0)
			continue;
		e->t = (struct tile){(int)level, full, partial};
		if ((rc = fetch_tile(lc, &e->t, e->h)) != 0)
			return rc;
		e->valid = true;
	}
	if (size == 0) {
		merkle_hash_empty(&got);
	} else {
		struct merkle_reader mr;

		tile_reader_init(&lc->tr, size, edge_read, lc);
		mr = tile_reader_merkle(&lc->tr);
		rc = merkle_root_from_reader(&mr, size, &got);
		if (rc != 0)
			return fail(lc->r, LOGCLIENT_ERROR, rc,
				    "cannot hash the tiles: %s",
				    vg_strerror(rc));
	}
	if (memcmp(&got, &s->cp->root, sizeof(got)) != 0) {
		b64_hash(&got, a);
		b64_hash(&s->cp->root, b);
		rc = fail(lc->r, LOGCLIENT_SECURITY, VG_EVERIFY,
			  "the tiles %s serves for the tree of size %" PRIu64
			  " hash to the root %s, not to the root %s its "
			  "checkpoint signs",
			  lc->cfg.source, size, a, b);
		evidence(lc->r, NULL, s);
		tree_forget(lc);
		return rc;
	}
	lc->tree_ok = true;
	return 0;
}

/* Returns the slot of a checked full tile t, or NULL. */
static struct vtile *
cache_find(struct logclient *lc, const struct tile *t)
{
	for (int i = 0; i < CACHE_TILES; i++) {
		struct vtile *v = &lc->cache[i];

		if (v->valid && v->t.level == t->level &&
		    v->t.index == t->index) {
			v->used = ++lc->clock;
			return v;
		}
	}
	return NULL;
}

static struct vtile *
cache_slot(struct logclient *lc)
{
	struct vtile *best = &lc->cache[0];

	for (int i = 0; i < CACHE_TILES; i++) {
		if (!lc->cache[i].valid)
			return &lc->cache[i];
		if (lc->cache[i].used < best->used)
			best = &lc->cache[i];
	}
	return best;
}

/*
 * Points *out at the hashes of tile t of the tree, checked: a partial
 * tile is the tree's rightmost at its level, checked by tree_set(); a full
 * tile must hash to its entry in the tile above, checked the same way.
 */
static int
tile_get(struct logclient *lc, const struct tile *t,
	 const struct merkle_hash **out)
{
	const struct merkle_hash *up;
	struct merkle_hash *h, sum, want;
	char p1[TILE_PATH_MAX], p2[TILE_PATH_MAX], a[B64_HASH], b[B64_HASH];
	struct tile parent;
	struct vtile *v;
	uint64_t full;
	unsigned partial;
	int rc;

	if (!lc->tree_ok || t->level < 0 || t->level >= LEVELS)
		return fail(lc->r, LOGCLIENT_ERROR, VG_EINVAL,
			    "internal error: no tile at level %d", t->level);
	if (t->width < TILE_WIDTH) {
		v = &lc->edge[t->level];
		if (!v->valid || v->t.index != t->index ||
		    v->t.width != t->width)
			return fail(lc->r, LOGCLIENT_ERROR, VG_EINVAL,
				    "internal error: a partial tile off the "
				    "tree's edge");
		*out = v->h;
		return 0;
	}
	if ((v = cache_find(lc, t)) != NULL) {
		*out = v->h;
		return 0;
	}
	parent.level = t->level + 1;
	parent.index = t->index / TILE_WIDTH;
	tile_count(lc->tree_size, (unsigned)parent.level, &full, &partial);
	parent.width = parent.index < full ? TILE_WIDTH : partial;
	if (parent.level >= LEVELS || parent.width <= t->index % TILE_WIDTH)
		return fail(lc->r, LOGCLIENT_ERROR, VG_EINVAL,
			    "internal error: a full tile beyond the tree");
	h = xreallocarray(NULL, TILE_WIDTH, sizeof(*h));
	if ((rc = fetch_tile(lc, t, h)) != 0 ||
	    (rc = merkle_root(h, TILE_WIDTH, &sum)) != 0 ||
	    (rc = tile_get(lc, &parent, &up)) != 0) {
		free(h);
		return fail(lc->r, LOGCLIENT_ERROR, rc, "cannot read tiles: %s",
			    vg_strerror(rc));
	}
	want = up[t->index % TILE_WIDTH];
	if (memcmp(&sum, &want, sizeof(sum)) != 0) {
		struct seen s = {lc->tree_text, lc->tree_source, NULL};

		(void)tile_path(t, p1);
		(void)tile_path(&parent, p2);
		b64_hash(&sum, a);
		b64_hash(&want, b);
		free(h);
		rc = fail(lc->r, LOGCLIENT_SECURITY, VG_EVERIFY,
			  "tile %s of %s hashes to %s, but the tile above it, "
			  "%s, which the checkpoint of size %" PRIu64
			  " commits to, holds %s for it",
			  p1, lc->cfg.source, a, p2, lc->tree_size, b);
		if (s.text != NULL)
			evidence(lc->r, NULL, &s);
		return rc;
	}
	v = cache_slot(lc);
	v->t = *t;
	memcpy(v->h, h, sizeof(v->h));
	v->valid = true;
	v->used = ++lc->clock;
	free(h);
	*out = v->h;
	return 0;
}

/* The tile_read_fn of proof generation: only checked tiles. */
static int
checked_read(void *ud, const struct tile *t, uint8_t *buf, size_t *len)
{
	struct logclient *lc = ud;
	const struct merkle_hash *h;
	int rc;

	if ((rc = tile_get(lc, t, &h)) != 0)
		return rc;
	*len = (size_t)t->width * MERKLE_HASH_LEN;
	memcpy(buf, h, *len);
	return 0;
}

static struct merkle_reader
checked_reader(struct logclient *lc)
{
	tile_reader_init(&lc->tr, lc->tree_size, checked_read, lc);
	return tile_reader_merkle(&lc->tr);
}

/* Makes the current checkpoint's tree the one tiles are read for. */
static int
tree_current(struct logclient *lc)
{
	struct seen s = {lc->cp_text, "trusted now", &lc->cp};

	if (!lc->have)
		return fail(lc->r, LOGCLIENT_ERROR, VG_EINVAL,
			    "no checkpoint verified yet");
	if (lc->tree_ok && lc->tree_size == lc->cp.size &&
	    memcmp(&lc->tree_root, &lc->cp.root, sizeof(lc->tree_root)) == 0) {
		lc->tree_text = lc->cp_text;
		lc->tree_source = "trusted now";
		return 0;
	}
	return tree_set(lc, &s);
}

/* --- consistency ---------------------------------------------------------- */

/*
 * Checks that the tree of big extends the tree of small, from the tiles of
 * big's tree (which tree_set() must have made the current one). old and
 * new_ are the same two, as the evidence names them.
 */
static int
prove_extends(struct logclient *lc, const struct seen *small,
	      const struct seen *big, const struct seen *old,
	      const struct seen *new_)
{
	struct logclient_result *r = lc->r;
	struct merkle_reader mr;
	char err[256];
	size_t n = 0;
	int rc;

	if (small->cp->size == 0)
		return 0; /* every tree extends the empty tree */
	if (small->cp->size == big->cp->size) {
		if (memcmp(&small->cp->root, &big->cp->root,
			   sizeof(small->cp->root)) == 0)
			return 0;
		rc = fail(r, LOGCLIENT_SECURITY, VG_EVERIFY,
			  "the log %s has forked: it signed two different "
			  "trees of size %" PRIu64
			  " (no proof is needed: the roots differ)",
			  lc->cfg.origin, big->cp->size);
		evidence(r, old, new_);
		return rc;
	}
	mr = checked_reader(lc);
	rc = merkle_prove_consistency(&mr, small->cp->size, big->cp->size,
				      r->proof, &n, err, sizeof(err));
	if (rc != 0) {
		rc = fail(r, LOGCLIENT_ERROR, rc,
			  "cannot compute the consistency proof: %s", err);
		if (r->status == LOGCLIENT_SECURITY)
			evidence(r, old, new_);
		return rc;
	}
	rc = merkle_verify_consistency(small->cp->size, big->cp->size,
				       &small->cp->root, &big->cp->root,
				       r->proof, n, err, sizeof(err));
	if (rc != 0) {
		rc = fail(r, LOGCLIENT_SECURITY, VG_EVERIFY,
			  "the log %s has forked: its tree of size %" PRIu64
			  " does not contain its tree of size %" PRIu64
			  ": the consistency proof computed from the tiles "
			  "does not verify (%s)",
			  lc->cfg.origin, big->cp->size, small->cp->size, err);
		r->proof_kind = "consistency";
		r->proof_a = small->cp->size;
		r->proof_b = big->cp->size;
		r->proof_len = n;
		evidence(r, old, new_);
		return rc;
	}
	return 0;
}

/*
 * Checks the new checkpoint against an older one seen before. A smaller
 * new tree (a log gone back, or a stale copy) is refused; if the log
 * still serves the tiles of the old tree, they also show whether the new
 * one is at least a prefix of it (a fork if not).
 */
static int
check_against(struct logclient *lc, const struct seen *old,
	      const struct seen *new_)
{
	int rc;

	if (old->cp->size <= new_->cp->size)
		return prove_extends(lc, old, new_, old, new_);
	rc = tree_set(lc, old);
	if (rc == 0)
		rc = prove_extends(lc, new_, old, old, new_);
	if (lc->r->status == LOGCLIENT_SECURITY)
		return rc;
	/* The old tree's tiles are gone or the new tree is its prefix:
	 * either way what is refused is the step back, said as such. */
	lc->r->status = LOGCLIENT_OK;
	return fail(lc->r, LOGCLIENT_ERROR, VG_EINVAL,
		    "%s serves a checkpoint of size %" PRIu64
		    ", smaller than the one of size %" PRIu64
		    " this client saw before (%s): a stale copy of the log, "
		    "or a log gone back; nothing was stored",
		    lc->cfg.source, new_->cp->size, old->cp->size, old->source);
}

/* --- state ---------------------------------------------------------------- */

static bool
keep_char(unsigned char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       (c == '.' && !first);
}

/* Encodes as much of origin as fits in max bytes; true if all of it. */
static bool
encode_name(const char *origin, char *buf, size_t max, size_t *outlen)
{
	size_t o = 0;

	for (const char *p = origin; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		size_t need = keep_char(c, p == origin) ? 1 : 3;

		if (o + need > max) {
			*outlen = o;
			return false;
		}
		if (need == 1)
			buf[o] = (char)c;
		else
			snprintf(buf + o, 4, "%%%02X", c);
		o += need;
	}
	*outlen = o;
	return true;
}

int
logclient_state_name(const char *origin, char *buf, size_t len)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	size_t o;

	if (len < LOGCLIENT_STATE_NAME_MAX + 1 || *origin == '\0')
		return VG_EINVAL;
	if (encode_name(origin, buf, LOGCLIENT_STATE_NAME_MAX, &o)) {
		buf[o] = '\0';
		return 0;
	}
	/* Too long: a prefix, then a hash of the whole. */
	(void)encode_name(origin, buf, LOGCLIENT_STATE_NAME_MAX - 33, &o);
	if (EVP_Digest(origin, strlen(origin), md, &mdlen, EVP_sha256(),
		       NULL) != 1)
		return VG_ELIB;
	buf[o++] = '~';
	for (int i = 0; i < 16; i++)
		snprintf(buf + o + 2 * (size_t)i, 3, "%02x", md[i]);
	return 0;
}

/* mkdir -p path, mode 0700 for what it creates. */
static int
mkdir_p(const char *path)
{
	char *p = xstrdup(path);
	int rc = 0;

	for (char *s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (mkdir(p, 0700) != 0 && errno != EEXIST)
		rc = -1;
	free(p);
	return rc == 0 || access(path, W_OK) == 0 ? 0 : -1;
}

/* Opens and locks the state directory; returns its fd or -1. */
static int
state_lock(struct logclient *lc)
{
	int fd;

	if (mkdir_p(lc->state_dir) != 0) {
		fail(lc->r, LOGCLIENT_ERROR, VG_EIO, "%s: %s", lc->state_dir,
		     strerror(errno));
		return -1;
	}
	fd = open(lc->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX) != 0) {
		fail(lc->r, LOGCLIENT_ERROR, VG_EIO, "%s: %s", lc->state_dir,
		     strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Reads the state file rel (relative to the origin's directory dfd), at
 * most max bytes, into a new NUL-terminated *out and *len: 0, VG_ENOENT
 * (none), or an error in r. */
static int
state_read(struct logclient *lc, int dfd, const char *rel, size_t max,
	   char **out, size_t *len)
{
	struct stat st;
	ssize_t got;
	char *buf;
	int fd, rc;

	fd = openat(dfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return VG_ENOENT;
	if (fd < 0 || fstat(fd, &st) != 0)
		rc = fail(lc->r, LOGCLIENT_ERROR, VG_EIO, "%s/%s: %s",
			  lc->state_dir, rel, strerror(errno));
	else if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max)
		rc = fail(lc->r, LOGCLIENT_ERROR, VG_ECORRUPT,
			  "%s/%s: not a state file of the log client",
			  lc->state_dir, rel);
	else
		rc = 0;
	if (rc != 0) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	got = io_read_full(fd, buf, (size_t)st.st_size + 1);
	close(fd);
	if (got < 0 || got > st.st_size) {
		free(buf);
		return fail(lc->r, LOGCLIENT_ERROR, VG_EIO,
			    "%s/%s: cannot read it", lc->state_dir, rel);
	}
	buf[got] = '\0';
	*out = buf;
	*len = (size_t)got;
	return 0;
}

/* Loads the stored checkpoint rel: 0, VG_ENOENT (none), or an error in
 * r. */
static int
state_load(struct logclient *lc, int dfd, const char *rel, char **text,
	   struct checkpoint *c)
{
	char err[256];
	struct note *n = NULL;
	size_t len;
	char *buf;
	int rc;

	if ((rc = state_read(lc, dfd, rel, NOTE_MAX_SIZE, &buf, &len)) != 0)
		return rc;
	/* Stored data is hostile too: it must still be a checkpoint of this
	 * origin. Its signature was checked when it was stored. */
	rc = note_parse(buf, len, &n, err, sizeof(err));
	if (rc == 0)
		rc = checkpoint_parse(n->text, n->text_len, c, err,
				      sizeof(err));
	note_free(n);
	if (rc == 0 && strcmp(c->origin, lc->cfg.origin) != 0) {
		snprintf(err, sizeof(err), "it is of the log %s", c->origin);
		checkpoint_clear(c);
		rc = VG_ECORRUPT;
	}
	if (rc != 0) {
		free(buf);
		return fail(lc->r, LOGCLIENT_ERROR, VG_ECORRUPT,
			    "%s/%s is damaged (%s); move it away to start "
			    "afresh",
			    lc->state_dir, rel, err);
	}
	*text = buf;
	return 0;
}

/* Loads the key recorded for the origin: 0, VG_ENOENT (none), or an
 * error in r. */
static int
key_load(struct logclient *lc, int dfd, struct note_verifier *k)
{
	char err[256] = "", *buf;
	size_t len;
	int rc;

	if ((rc = state_read(lc, dfd, "key", NOTE_KEY_MAX, &buf, &len)) != 0)
		return rc;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	rc = note_verifier_parse(buf, len, k, err, sizeof(err));
	if (rc == 0 && k->type != NOTE_ED25519) {
		snprintf(err, sizeof(err), "not an Ed25519 key");
		rc = VG_EFORMAT;
	}
	free(buf);
	if (rc != 0)
		return fail(lc->r, LOGCLIENT_ERROR, VG_ECORRUPT,
			    "%s/key is damaged (%s); move it away to start "
			    "afresh",
			    lc->state_dir, err);
	return 0;
}

/* Replaces the state file [sub/]name (sub: a directory in the origin's
 * directory dfd, made if need be) with data: temporary file, fsync,
 * rename, directory fsync. */
static int
state_write(struct logclient *lc, int dfd, const char *sub, const char *name,
	    const char *data, size_t len)
{
	char tmp[64];
	int sfd = dfd, fd = -1, rc = 0;

	if (sub != NULL) {
		if (mkdirat(dfd, sub, 0700) != 0 && errno != EEXIST)
			rc = -1;
		else if ((sfd = openat(dfd, sub,
				       O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					       O_CLOEXEC)) < 0)
			rc = -1;
		else if (io_fsync(dfd) != 0)
			rc = -1;
	}
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	if (rc == 0)
		fd = openat(sfd, tmp,
			    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
				    O_CLOEXEC,
			    0600);
	if (fd < 0)
		rc = -1;
	else if (io_write_all(fd, data, len) != 0 || io_fsync(fd) != 0)
		rc = -1;
	if (fd >= 0 && close(fd) != 0)
		rc = -1;
	if (rc == 0 && renameat(sfd, tmp, sfd, name) != 0)
		rc = -1;
	if (rc == 0 && io_fsync(sfd) != 0)
		rc = -1;
	if (rc != 0) {
		rc = fail(lc->r, LOGCLIENT_ERROR, VG_EIO,
			  "%s/%s%s%s: cannot store it: %s", lc->state_dir,
			  sub ? sub : "", sub ? "/" : "", name,
			  strerror(errno));
		if (sfd >= 0)
			(void)unlinkat(sfd, tmp, 0);
	}
	if (sfd >= 0 && sfd != dfd)
		close(sfd);
	return rc;
}

int
logclient_key_name(const struct note_verifier *k,
		   char buf[LOGCLIENT_KEY_NAME_LEN + 1])
{
	char vkey[NOTE_KEY_MAX];
	unsigned char md[32];
	unsigned int mdlen = 0;

	note_verifier_format(k, vkey);
	if (EVP_Digest(vkey, strlen(vkey), md, &mdlen, EVP_sha256(), NULL) != 1)
		return VG_ELIB;
	for (int i = 0; i < LOGCLIENT_KEY_NAME_LEN / 2; i++)
		snprintf(buf + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* Records k as the key of its own state directory and, if origin is
 * set, as the origin's key. */
static int
key_store(struct logclient *lc, int dfd, const struct note_verifier *k,
	  bool origin)
{
	char kname[LOGCLIENT_KEY_NAME_LEN + 1], line[NOTE_KEY_MAX + 1];
	size_t n;
	int rc;

	if (logclient_key_name(k, kname) != 0)
		return fail(lc->r, LOGCLIENT_ERROR, VG_ELIB,
			    "cannot name a key's state");
	note_verifier_format(k, line);
	n = strlen(line);
	line[n++] = '\n';
	if ((rc = state_write(lc, dfd, kname, "key", line, n)) != 0)
		return rc;
	return origin ? state_write(lc, dfd, NULL, "key", line, n) : 0;
}

static bool
same_key(const struct note_verifier *a, const struct note_verifier *b)
{
	return a->type == b->type && a->key_id == b->key_id &&
	       strcmp(a->name, b->name) == 0 &&
	       memcmp(a->pub, b->pub, sizeof(a->pub)) == 0;
}

/* "name+keyid" of the first signature line of the note text[0..len) that
 * is not a witness's, into buf. */
static void
signer_of(const struct logclient *lc, const char *text, size_t len, char *buf,
	  size_t buflen)
{
	struct note *n = NULL;
	char err[64];

	snprintf(buf, buflen, "no key");
	if (note_parse(text, len, &n, err, sizeof(err)) != 0)
		return;
	for (size_t i = 0; i < n->nsigs; i++) {
		bool witness = false;

		for (size_t j = 0; j < lc->cfg.nwitnesses; j++)
			if (n->sigs[i].key_id == lc->witnesses[j].key_id &&
			    strcmp(n->sigs[i].name, lc->witnesses[j].name) == 0)
				witness = true;
		if (!witness) {
			snprintf(buf, buflen, "%s+%08" PRIx32, n->sigs[i].name,
				 n->sigs[i].key_id);
			break;
		}
	}
	note_free(n);
}

/*
 * Moves a state from before keys were recorded (the origin's directory
 * holds `checkpoint` and no `key`) to the key k that signed it: its
 * checkpoint goes to k's directory and k becomes the origin's key
 * (*moved). A checkpoint that k did not sign is KEY_CHANGED, unless k is
 * accepted: then it is kept aside as `checkpoint.before-keys`. Returns 0
 * (nothing to move included) or an error in r.
 */
static int
state_migrate(struct logclient *lc, int dfd, const struct note_verifier *k,
	      bool accepted, bool *moved)
{
	char kname[LOGCLIENT_KEY_NAME_LEN + 1], err[256], kbuf[NOTE_KEY_MAX];
	char who[NOTE_NAME_MAX + 16], *text = NULL;
	struct checkpoint c = {0}, c2 = {0};
	int rc;

	*moved = false;
	rc = state_load(lc, dfd, "checkpoint", &text, &c);
	if (rc == VG_ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	rc = checkpoint_open(text, strlen(text), lc->cfg.origin, k, NULL, 0, 0,
			     &c2, err, sizeof(err));
	if (rc == 0) {
		if (logclient_key_name(k, kname) != 0)
			rc = fail(lc->r, LOGCLIENT_ERROR, VG_ELIB,
				  "cannot name a key's state");
		else if ((rc = state_write(lc, dfd, kname, "checkpoint", text,
					   strlen(text))) == 0 &&
			 (rc = key_store(lc, dfd, k, true)) == 0) {
			(void)unlinkat(dfd, "checkpoint", 0);
			(void)io_fsync(dfd);
			*moved = true;
		}
	} else if (accepted) {
		if (renameat(dfd, "checkpoint", dfd,
			     "checkpoint.before-keys") != 0)
			rc = fail(lc->r, LOGCLIENT_ERROR, VG_EIO,
				  "%s/checkpoint: cannot move it aside: %s",
				  lc->state_dir, strerror(errno));
		else
			rc = 0;
	} else {
		note_verifier_format(k, kbuf);
		signer_of(lc, text, strlen(text), who, sizeof(who));
		snprintf(lc->r->recorded_key, sizeof(lc->r->recorded_key), "%s",
			 who);
		snprintf(lc->r->presented_key, sizeof(lc->r->presented_key),
			 "%s", kbuf);
		rc = fail(lc->r, LOGCLIENT_KEY_CHANGED, VG_EVERIFY,
			  "the log %s: the checkpoint this client stored for "
			  "it before it recorded keys (%s/checkpoint) is "
			  "signed by %s, not by the key given, %s. This is "
			  "not a fork: the log's key changed, or another log "
			  "has this origin. To trust %s for %s from now on "
			  "(the old checkpoint is kept as "
			  "checkpoint.before-keys): --accept-key %s",
			  lc->cfg.origin, lc->state_dir, who, kbuf, kbuf,
			  lc->cfg.origin, kbuf);
	}
	checkpoint_clear(&c);
	checkpoint_clear(&c2);
	free(text);
	return rc;
}

/* --- the client ----------------------------------------------------------- */

int
logclient_new(const struct logclient_config *cfg, struct logclient **out,
	      struct logclient_result *r)
{
	char name[LOGCLIENT_STATE_NAME_MAX + 1];
	struct logclient *lc;

	logclient_result_clear(r);
	if (cfg->log_key == NULL || cfg->origin == NULL ||
	    cfg->origin[0] == '\0' || cfg->get == NULL)
		return fail(r, LOGCLIENT_ERROR, VG_EINVAL,
			    "a log needs a key, an origin and a URL");
	if (cfg->quorum > cfg->nwitnesses)
		return fail(r, LOGCLIENT_ERROR, VG_EINVAL,
			    "a quorum of %zu needs at least as many "
			    "witnesses, not %zu",
			    cfg->quorum, cfg->nwitnesses);
	lc = xcalloc(1, sizeof(*lc));
	lc->cfg = *cfg;
	lc->source = xstrdup(cfg->source ? cfg->source : "the log");
	lc->origin = xstrdup(cfg->origin);
	lc->key = *cfg->log_key;
	lc->given = *cfg->log_key;
	if (cfg->accept_key != NULL) {
		lc->accept = *cfg->accept_key;
		lc->has_accept = true;
	}
	if (cfg->nwitnesses > 0) {
		lc->witnesses = xreallocarray(NULL, cfg->nwitnesses,
					      sizeof(*lc->witnesses));
		memcpy(lc->witnesses, cfg->witnesses,
		       cfg->nwitnesses * sizeof(*lc->witnesses));
	}
	lc->cfg.source = lc->source;
	lc->cfg.origin = lc->origin;
	lc->cfg.log_key = &lc->key;
	lc->cfg.witnesses = lc->witnesses;
	lc->cfg.state_root = NULL;
	lc->cfg.accept_key = NULL;
	if (cfg->state_root != NULL) {
		if (logclient_state_name(cfg->origin, name, sizeof(name)) !=
		    0) {
			logclient_free(lc);
			return fail(r, LOGCLIENT_ERROR, VG_ELIB,
				    "cannot name the state of %s", cfg->origin);
		}
		lc->state_dir = xasprintf("%s/%s", cfg->state_root, name);
	}
	*out = lc;
	return 0;
}

void
logclient_free(struct logclient *lc)
{
	if (lc == NULL)
		return;
	tree_forget(lc);
	checkpoint_clear(&lc->cp);
	free(lc->cp_text);
	free(lc->source);
	free(lc->origin);
	free(lc->state_dir);
	free(lc->witnesses);
	free(lc);
}

const struct checkpoint *
logclient_current(const struct logclient *lc, const char **text, size_t *len)
{
	if (!lc->have)
		return NULL;
	if (text != NULL)
		*text = lc->cp_text;
	if (len != NULL)
		*len = lc->cp_len;
	return &lc->cp;
}

/*
 * The log's checkpoint (text, from src_new) is signed by a key other than
 * old, the one trusted: names both keys in a KEY_CHANGED failure, with
 * why no handover was followed. The other key is named by its verifier
 * key if the key given or the log's `key` verifies the checkpoint, else
 * by its name and key ID.
 */
static int
key_changed(struct logclient *lc, const struct note_verifier *old,
	    const char *text, size_t len, const char *why)
{
	struct logclient_result scratch = {0}, *r = lc->r;
	struct logclient_config cfg = lc->cfg;
	char okey[NOTE_KEY_MAX], pkey[NOTE_KEY_MAX] = "", err[256];
	struct checkpoint c = {0};
	struct note_verifier k;
	uint8_t *d = NULL;
	size_t dl = 0;
	bool verified = false;

	note_verifier_format(old, okey);
	if (!same_key(&lc->given, old)) {
		cfg.log_key = &lc->given;
		if (open_checkpoint(&cfg, text, len, "", &c, &scratch) == 0) {
			note_verifier_format(&lc->given, pkey);
			verified = true;
		}
		checkpoint_clear(&c);
		logclient_result_clear(&scratch);
	}
	if (!verified && lc->cfg.get(lc->cfg.get_ud, "key", NOTE_KEY_MAX, &d,
				     &dl, err, sizeof(err)) == 0) {
		size_t l = dl;

		if (l > 0 && d[l - 1] == '\n')
			l--;
		if (note_verifier_parse((const char *)d, l, &k, err,
					sizeof(err)) == 0 &&
		    k.type == NOTE_ED25519 && !same_key(&k, old)) {
			cfg.log_key = &k;
			if (open_checkpoint(&cfg, text, len, "", &c,
					    &scratch) == 0) {
				note_verifier_format(&k, pkey);
				verified = true;
			}
			checkpoint_clear(&c);
			logclient_result_clear(&scratch);
		}
		free(d);
	}
	if (!verified)
		signer_of(lc, text, len, pkey, sizeof(pkey));
	snprintf(r->recorded_key, sizeof(r->recorded_key), "%s", okey);
	snprintf(r->presented_key, sizeof(r->presented_key), "%s", pkey);
	return fail(r, LOGCLIENT_KEY_CHANGED, VG_EVERIFY,
		    "the key of the log %s changed: %s serves a checkpoint "
		    "signed by %s%s, not by %s, the key this client recorded "
		    "for it%s%s. This is not a fork. If the new key is right "
		    "(a new node, a replaced key), trust it for %s from now "
		    "on with --accept-key %s. No key handover was followed: "
		    "%s",
		    lc->cfg.origin, lc->cfg.source, pkey,
		    verified ? ""
			     : " (the log does not give its verifier key: "
			       "ask its operator)",
		    okey, lc->state_dir ? " in " : "",
		    lc->state_dir ? lc->state_dir : "", lc->cfg.origin,
		    verified ? pkey : "VERIFIERKEY", why);
}

/*
 * The log's checkpoint text[0..len) is not signed by old, the key
 * trusted: follows the log's key handover (`handover`) if old signed it,
 * its new key signs the checkpoint, and its tree extends what this client
 * saw under old (the checkpoint stored for old, the one held before) and
 * is extended by the checkpoint, all checked from the checkpoint's tiles.
 * Returns 0 with the checkpoint in *c, the tree set to it, the new key in
 * *newk and the handover in *htext (malloc'd), *hlen. Otherwise an error
 * in r: KEY_CHANGED naming both keys if the client knew old (known), or
 * checkpoint_open()'s refusal if it did not; or a failure of the tiles.
 */
static int
follow(struct logclient *lc, int dfd, bool known,
       const struct note_verifier *old, const char *text, size_t len,
       const char *src_new, struct checkpoint *c, struct note_verifier *newk,
       char **htext, size_t *hlen)
{
	struct logclient_result scratch = {0}, *r = lc->r;
	struct logclient_config cfg = lc->cfg;
	char why[1200] = "", err[512], nkey[NOTE_KEY_MAX];
	char kname[LOGCLIENT_KEY_NAME_LEN + 1], *rel = NULL, *stext = NULL;
	char *hsrc = NULL, *ssrc = NULL;
	struct checkpoint hc = {0}, sc = {0};
	struct seen hs, now, ss;
	uint8_t *h = NULL, hroot[32];
	uint64_t hsize;
	size_t hl = 0;
	int rc;

	lc->r = &scratch;
	rc = lc->cfg.get(lc->cfg.get_ud, "handover", TLOG_HANDOVER_MAX, &h, &hl,
			 err, sizeof(err));
	if (rc == VG_ENOENT) {
		snprintf(why, sizeof(why),
			 "the log serves no key handover "
			 "(handover: not found)");
		goto refuse;
	}
	if (rc != 0) {
		snprintf(why, sizeof(why), "its key handover: %s", err);
		goto refuse;
	}
	h = xreallocarray(h, hl + 1, 1);
	h[hl] = '\0';
	rc = tlog_handover_verify((const char *)h, hl, lc->cfg.origin, old,
				  newk, &hsize, hroot, err, sizeof(err));
	if (rc != 0) {
		snprintf(why, sizeof(why),
			 "its key handover does not verify: %s", err);
		goto refuse;
	}
	note_verifier_format(newk, nkey);
	cfg.log_key = newk;
	if (open_checkpoint(&cfg, text, len, lc->cfg.source, c, &scratch) !=
	    0) {
		snprintf(why, sizeof(why),
			 "its key handover names the new key %s, but the "
			 "checkpoint does not verify with it: %.600s",
			 nkey, scratch.msg);
		goto refuse;
	}
	if (hsize > c->size) {
		snprintf(why, sizeof(why),
			 "its key handover names a tree of size %" PRIu64
			 ", larger than the new key's checkpoint (size %" PRIu64
			 ")",
			 hsize, c->size);
		goto refuse;
	}
	now = (struct seen){text, src_new, c};
	if ((rc = tree_set(lc, &now)) != 0)
		goto hard; /* the tiles contradict the checkpoint */
	hc.size = hsize;
	memcpy(hc.root.b, hroot, sizeof(hroot));
	if (hsize == 0) {
		struct merkle_hash empty;

		/* No proof pins the root of the empty tree: it has one. */
		merkle_hash_empty(&empty);
		if (memcmp(&empty, &hc.root, sizeof(empty)) != 0) {
			snprintf(why, sizeof(why),
				 "its key handover names a tree of size 0 with "
				 "a root other than the empty tree's");
			goto refuse;
		}
	}
	hsrc = xasprintf("the key handover served by %s", lc->cfg.source);
	hs = (struct seen){(const char *)h, hsrc, &hc};
	if (prove_extends(lc, &hs, &now, &hs, &now) != 0) {
		snprintf(why, sizeof(why),
			 "the new key's tree does not extend the tree of size "
			 "%" PRIu64 " its key handover names: %.600s",
			 hsize, scratch.msg);
		goto refuse;
	}
	/* What the old key signed, as this client saw it. */
	for (int i = 0; i < 2; i++) {
		if (i == 0) {
			if (dfd < 0)
				continue;
			if (logclient_key_name(old, kname) != 0) {
				rc = fail(&scratch, LOGCLIENT_ERROR, VG_ELIB,
					  "cannot name a key's state");
				goto hard;
			}
			rel = xasprintf("%s/checkpoint", kname);
			rc = state_load(lc, dfd, rel, &stext, &sc);
			if (rc == VG_ENOENT)
				continue;
			if (rc != 0)
				goto hard;
			ssrc = xasprintf("seen before, stored in %s/%s",
					 lc->state_dir, rel);
			ss = (struct seen){stext, ssrc, &sc};
		} else {
			if (!lc->have)
				continue;
			ss = (struct seen){lc->cp_text,
					   "seen before by this client",
					   &lc->cp};
		}
		if (ss.cp->size > hsize) {
			snprintf(why, sizeof(why),
				 "this client saw a tree of size %" PRIu64
				 " signed by the old key, larger than the tree "
				 "of size %" PRIu64 " the key handover says it "
				 "signed last",
				 ss.cp->size, hsize);
			goto refuse;
		}
		if (prove_extends(lc, &ss, &hs, &ss, &hs) != 0) {
			snprintf(why, sizeof(why),
				 "the tree of size %" PRIu64
				 " its key handover names does not extend the "
				 "tree of size %" PRIu64
				 " this client saw signed by the old key: "
				 "%.600s",
				 hsize, ss.cp->size, scratch.msg);
			goto refuse;
		}
	}
	*htext = (char *)h;
	*hlen = hl;
	h = NULL;
	rc = 0;
	goto out;
hard:
	logclient_result_clear(r);
	*r = scratch;
	memset(&scratch, 0, sizeof(scratch));
	goto out;
refuse:
	checkpoint_clear(c);
	tree_forget(lc);
	lc->r = r;
	if (!known) {
		cfg.log_key = old;
		rc = open_checkpoint(&cfg, text, len, lc->cfg.source, c, r);
		if (rc == 0) { /* cannot be: it is not signed by old */
			checkpoint_clear(c);
			rc = fail(r, LOGCLIENT_BAD_SIGNATURE, VG_EVERIFY,
				  "%s: the checkpoint is not signed by the "
				  "log's key",
				  lc->cfg.source);
		}
		goto out;
	}
	rc = key_changed(lc, old, text, len, why);
out:
	lc->r = r;
	logclient_result_clear(&scratch);
	checkpoint_clear(&sc);
	free(h);
	free(rel);
	free(stext);
	free(ssrc);
	free(hsrc);
	return rc;
}

/* True if the note text[0..len) is a checkpoint of origin with no
 * signature line naming k: a checkpoint of this log by another key. */
static bool
other_key(const char *text, size_t len, const char *origin,
	  const struct note_verifier *k)
{
	struct checkpoint c = {0};
	struct note *n = NULL;
	char err[256];
	bool yes = false;

	/* Anything else is left to open_checkpoint() to refuse. */
	if (note_parse(text, len, &n, err, sizeof(err)) != 0)
		return false;
	if (!has_line(n, k) &&
	    checkpoint_parse(n->text, n->text_len, &c, err, sizeof(err)) == 0 &&
	    strcmp(c.origin, origin) == 0)
		yes = true;
	checkpoint_clear(&c);
	note_free(n);
	return yes;
}

int
logclient_update(struct logclient *lc, struct logclient_result *r)
{
	char err[512], *stored_text = NULL, *src_new, *src_stored = NULL;
	char kname[LOGCLIENT_KEY_NAME_LEN + 1], *rel = NULL, *htext = NULL;
	char tkey[NOTE_KEY_MAX], okey[NOTE_KEY_MAX];
	struct checkpoint c = {0}, stored = {0};
	struct note_verifier trusted = lc->key, recorded, newk;
	struct logclient_config cfg;
	struct seen now, before, prev;
	uint8_t *text = NULL;
	size_t len = 0, hlen = 0;
	int rc, dfd = -1;
	bool have_stored = false, have_rec = false, accepted = false;
	bool followed = false, moved = false;

	logclient_result_clear(r);
	lc->r = r;
	rc = lc->cfg.get(lc->cfg.get_ud, "checkpoint", NOTE_MAX_SIZE, &text,
			 &len, err, sizeof(err));
	if (rc != 0) {
		lc->r = NULL;
		return fail(r, LOGCLIENT_ERROR, rc, "%s%s", err,
			    rc == VG_ENOENT ? " (is the URL the log's prefix, "
					      "the one its tiles are under?)"
					    : "");
	}
	/* A fetcher's data need not end in a terminator; the text must. */
	text = xreallocarray(text, len + 1, 1);
	text[len] = '\0';
	src_new = xasprintf("served now by %s", lc->cfg.source);

	/* Which key the checkpoint must be signed by. */
	if (lc->state_dir != NULL) {
		if ((dfd = state_lock(lc)) < 0) {
			rc = VG_EIO;
			goto out;
		}
		rc = key_load(lc, dfd, &recorded);
		if (rc == VG_ENOENT)
			rc = state_migrate(lc, dfd,
					   lc->has_accept ? &lc->accept
							  : &lc->given,
					   lc->has_accept, &moved);
		else if (rc == 0)
			have_rec = true;
		if (rc != 0)
			goto out;
		if (moved) {
			recorded = lc->has_accept ? lc->accept : lc->given;
			have_rec = true;
		}
		if (have_rec)
			trusted = recorded;
	}
	if (lc->has_accept && !same_key(&trusted, &lc->accept)) {
		trusted = lc->accept;
		accepted = true;
	}
	cfg = lc->cfg;
	cfg.log_key = &trusted;
	if (!accepted &&
	    other_key((const char *)text, len, lc->cfg.origin, &trusted)) {
		rc = follow(lc, dfd, have_rec || lc->have, &trusted,
			    (const char *)text, len, src_new, &c, &newk, &htext,
			    &hlen);
		if (rc != 0)
			goto out;
		note_verifier_format(&trusted, okey);
		note_verifier_format(&newk, tkey);
		snprintf(r->notice, sizeof(r->notice),
			 "the log %s changed its key: %s handed it over to %s "
			 "(a key handover signed by both, whose tree extends "
			 "what this client saw); %s is the log's key for this "
			 "client from now on",
			 lc->cfg.origin, okey, tkey, tkey);
		trusted = newk;
		followed = true;
	} else if ((rc = open_checkpoint(&cfg, (const char *)text, len,
					 lc->cfg.source, &c, r)) != 0) {
		goto out;
	}
	now = (struct seen){(const char *)text, src_new, &c};
	if (!followed && (rc = tree_set(lc, &now)) != 0)
		goto out;
	if (dfd >= 0) {
		if (logclient_key_name(&trusted, kname) != 0) {
			rc = fail(r, LOGCLIENT_ERROR, VG_ELIB,
				  "cannot name a key's state");
			goto out;
		}
		rel = xasprintf("%s/checkpoint", kname);
		rc = state_load(lc, dfd, rel, &stored_text, &stored);
		if (rc != 0 && rc != VG_ENOENT)
			goto out;
		have_stored = rc == 0;
		rc = 0;
	}
	if (have_stored) {
		src_stored = xasprintf("seen before, stored in %s/%s",
				       lc->state_dir, rel);
		before = (struct seen){stored_text, src_stored, &stored};
		if ((rc = check_against(lc, &before, &now)) != 0)
			goto out;
	}
	if (lc->have &&
	    (!have_stored || strcmp(lc->cp_text, stored_text) != 0)) {
		prev = (struct seen){lc->cp_text, "seen before by this client",
				     &lc->cp};
		if (!lc->tree_ok || lc->tree_size != c.size)
			if ((rc = tree_set(lc, &now)) != 0)
				goto out;
		if ((rc = check_against(lc, &prev, &now)) != 0)
			goto out;
	}
	if (dfd >= 0) {
		if (!have_stored || strcmp(stored_text, (char *)text) != 0)
			if ((rc = state_write(lc, dfd, kname, "checkpoint",
					      (const char *)text, len)) != 0)
				goto out;
		if (followed && (rc = state_write(lc, dfd, kname, "handover",
						  htext, hlen)) != 0)
			goto out;
		if ((!have_stored || !have_rec ||
		     !same_key(&recorded, &trusted)) &&
		    (rc = key_store(
			     lc, dfd, &trusted,
			     !have_rec || !same_key(&recorded, &trusted))) != 0)
			goto out;
	}
	if (accepted && have_rec) {
		note_verifier_format(&recorded, okey);
		note_verifier_format(&trusted, tkey);
		snprintf(r->notice, sizeof(r->notice),
			 "%s is the key of the log %s for this client from "
			 "now on, in place of %s (--accept-key)",
			 tkey, lc->cfg.origin, okey);
	} else if (!followed && !accepted && have_rec && !lc->told &&
		   !same_key(&trusted, &lc->given)) {
		lc->told = true;
		note_verifier_format(&lc->given, okey);
		note_verifier_format(&trusted, tkey);
		snprintf(r->notice, sizeof(r->notice),
			 "the log %s is checked with %s, the key this client "
			 "recorded for it, not with the key given, %s",
			 lc->cfg.origin, tkey, okey);
	}
	lc->key = trusted;
	checkpoint_clear(&lc->cp);
	free(lc->cp_text);
	lc->cp = c;
	memset(&c, 0, sizeof(c));
	lc->cp_text = (char *)text;
	lc->cp_len = len;
	text = NULL;
	lc->have = true;
	if (lc->tree_ok && lc->tree_size == lc->cp.size) {
		lc->tree_text = lc->cp_text;
		lc->tree_source = "trusted now";
	} else {
		tree_forget(lc);
	}
out:
	/* The tree may be one whose text is freed below: read it afresh. */
	if (rc != 0) {
		tree_forget(lc);
		r->notice[0] = '\0';
	}
	if (dfd >= 0)
		close(dfd); /* releases the lock */
	checkpoint_clear(&c);
	checkpoint_clear(&stored);
	free(stored_text);
	free(src_stored);
	free(src_new);
	free(text);
	free(rel);
	free(htext);
	lc->r = NULL;
	return rc;
}

/* Reads and checks the entry bundle t of the tree (see logclient.h). */
static int
bundle_get(struct logclient *lc, const struct tile *t)
{
	const struct merkle_hash *leaves;
	char path[TILE_PATH_MAX], err[512];
	struct tile got = *t, leaf_tile = {0, t->index, t->width};
	uint8_t *d = NULL;
	size_t len = 0;
	int rc;

	if (lc->bundle_ok && lc->bundle_t.index == t->index &&
	    lc->bundle_t.width == t->width)
		return 0;
	lc->bundle_ok = false;
	free(lc->bundle);
	lc->bundle = NULL;
	(void)tile_path(t, path);
	rc = lc->cfg.get(lc->cfg.get_ud, path, TILE_BUNDLE_MAX, &d, &len, err,
			 sizeof(err));
	if (rc == VG_ENOENT && t->width < TILE_WIDTH) {
		char err2[512];

		got.width = TILE_WIDTH; /* the full bundle starts the same */
		(void)tile_path(&got, path);
		if (lc->cfg.get(lc->cfg.get_ud, path, TILE_BUNDLE_MAX, &d, &len,
				err2, sizeof(err2)) == 0)
			rc = 0;
	}
	if (rc != 0)
		return fail(lc->r, LOGCLIENT_ERROR, rc, "%s", err);
	lc->bundle = d;
	if ((rc = tile_bundle_parse(d, len, got.width, lc->entries, err,
				    sizeof(err))) != 0)
		return fail(lc->r, LOGCLIENT_ERROR, rc,
			    "%s: malformed entry bundle %s: %s", lc->cfg.source,
			    path, err);
	if ((rc = tile_get(lc, &leaf_tile, &leaves)) != 0)
		return rc;
	rc = tile_bundle_verify(lc->entries, t->width, (const uint8_t *)leaves,
				(size_t)t->width * MERKLE_HASH_LEN, err,
				sizeof(err));
	if (rc != 0) {
		struct seen s = {lc->tree_text, lc->tree_source, NULL};

		rc = fail(lc->r,
			  rc == VG_EVERIFY ? LOGCLIENT_SECURITY
					   : LOGCLIENT_ERROR,
			  rc,
			  "the entry bundle %s of %s does not hash to the "
			  "leaf hashes the checkpoint of size %" PRIu64
			  " commits to: %s",
			  path, lc->cfg.source, lc->tree_size, err);
		if (lc->r->status == LOGCLIENT_SECURITY && s.text != NULL)
			evidence(lc->r, NULL, &s);
		return rc;
	}
	lc->bundle_t = *t;
	lc->bundle_ok = true;
	return 0;
}

int
logclient_entry(struct logclient *lc, uint64_t index, uint8_t **data,
		size_t *len, struct merkle_hash proof[], size_t *n,
		struct logclient_result *r)
{
	const struct tile_entry *e;
	struct merkle_hash leaf;
	struct merkle_reader mr;
	struct tile t;
	char err[256];
	uint64_t size;
	int rc;

	logclient_result_clear(r);
	lc->r = r;
	if ((rc = tree_current(lc)) != 0)
		goto out;
	size = lc->cp.size;
	if (index >= size) {
		rc = fail(r, LOGCLIENT_NOT_PROVEN, VG_ENOENT,
			  "entry %" PRIu64 " is not in %s: its checkpoint "
			  "has %" PRIu64 " entries",
			  index, lc->cfg.origin, size);
		goto out;
	}
	t.level = TILE_ENTRIES;
	t.index = index / TILE_WIDTH;
	t.width = size - t.index * TILE_WIDTH >= TILE_WIDTH
			  ? TILE_WIDTH
			  : (unsigned)(size - t.index * TILE_WIDTH);
	if ((rc = bundle_get(lc, &t)) != 0)
		goto out;
	e = &lc->entries[index % TILE_WIDTH];
	if ((rc = merkle_hash_leaf(e->data, e->len, &leaf)) != 0) {
		rc = fail(r, LOGCLIENT_ERROR, rc, "cannot hash the entry");
		goto out;
	}
	mr = checked_reader(lc);
	rc = merkle_prove_inclusion(&mr, index, size, proof, n, err,
				    sizeof(err));
	if (rc != 0) {
		rc = fail(r, LOGCLIENT_ERROR, rc,
			  "cannot compute the inclusion proof: %s", err);
		goto out;
	}
	rc = merkle_verify_inclusion(index, size, &leaf, proof, *n,
				     &lc->cp.root, err, sizeof(err));
	if (rc != 0) {
		struct seen s = {lc->cp_text, "trusted now", &lc->cp};

		rc = fail(r, LOGCLIENT_SECURITY, VG_EVERIFY,
			  "the inclusion proof of entry %" PRIu64
			  " computed from the tiles of %s does not verify: %s",
			  index, lc->cfg.source, err);
		r->proof_kind = "inclusion";
		r->proof_a = index;
		r->proof_b = size;
		r->proof_len = *n;
		memcpy(r->proof, proof, *n * sizeof(*proof));
		evidence(r, NULL, &s);
		goto out;
	}
	*data = xmalloc(e->len ? e->len : 1);
	memcpy(*data, e->data, e->len);
	*len = e->len;
out:
	lc->r = NULL;
	return rc;
}

int
logclient_find(struct logclient *lc, const struct merkle_hash *leaf,
	       uint64_t *index, struct logclient_result *r)
{
	const struct merkle_hash *h;
	uint64_t size;
	int rc;

	logclient_result_clear(r);
	lc->r = r;
	if ((rc = tree_current(lc)) != 0)
		goto out;
	size = lc->cp.size;
	for (uint64_t i = 0; i * TILE_WIDTH < size; i++) {
		uint64_t left = size - i * TILE_WIDTH;
		struct tile t = {
			0, i, left >= TILE_WIDTH ? TILE_WIDTH : (unsigned)left};

		if ((rc = tile_get(lc, &t, &h)) != 0)
			goto out;
		for (unsigned j = 0; j < t.width; j++)
			if (memcmp(&h[j], leaf, sizeof(*leaf)) == 0) {
				*index = i * TILE_WIDTH + j;
				goto out;
			}
	}
	rc = fail(r, LOGCLIENT_NOT_PROVEN, VG_ENOENT,
		  "the entry is not in %s (size %" PRIu64 ")", lc->cfg.origin,
		  size);
out:
	lc->r = NULL;
	return rc;
}

int
logclient_proof_format(const struct logclient *lc, uint64_t index,
		       const struct merkle_hash proof[], size_t n, char **out,
		       size_t *len, struct logclient_result *r)
{
	struct tlog_proof p = {0};
	char err[256];
	int rc;

	logclient_result_clear(r);
	if (!lc->have || n > TLOG_PROOF_PATH_MAX)
		return fail(r, LOGCLIENT_ERROR, VG_EINVAL, "no proof to write");
	p.index = index;
	memcpy(p.path, proof, n * sizeof(*proof));
	p.path_len = n;
	p.checkpoint = lc->cp_text;
	p.checkpoint_len = lc->cp_len;
	if ((rc = tlog_proof_format(&p, out, len, err, sizeof(err))) != 0)
		return fail(r, LOGCLIENT_ERROR, rc,
			    "cannot write the proof: %s", err);
	return 0;
}

int
logclient_verify_proof(const struct logclient_config *cfg, const char *text,
		       size_t len, const uint8_t *entry, size_t entry_len,
		       uint64_t *index, uint64_t *size,
		       struct logclient_result *r)
{
	const char *src = cfg->source ? cfg->source : "the proof";
	struct checkpoint c = {0};
	struct tlog_proof p = {0};
	struct merkle_hash leaf;
	char err[256], *what;
	int rc;

	logclient_result_clear(r);
	if ((rc = tlog_proof_parse(text, len, &p, err, sizeof(err))) != 0)
		return fail(r, LOGCLIENT_ERROR, rc,
			    "%s: not a valid c2sp.org/tlog-proof@v1: %s", src,
			    err);
	if ((rc = merkle_hash_leaf(entry, entry_len, &leaf)) != 0) {
		rc = fail(r, LOGCLIENT_ERROR, rc, "cannot hash the entry");
		goto out;
	}
	rc = tlog_proof_verify(&p, &leaf, cfg->origin, cfg->log_key,
			       cfg->witnesses, cfg->nwitnesses, cfg->quorum, &c,
			       err, sizeof(err));
	if (rc != 0) {
		/* Its checkpoint, or its inclusion proof? */
		what = xasprintf("%s: the proof's checkpoint", src);
		if (open_checkpoint(cfg, p.checkpoint, p.checkpoint_len, what,
				    &c, r) != 0) {
			free(what);
			goto out;
		}
		free(what);
		checkpoint_clear(&c);
		rc = fail(r, LOGCLIENT_NOT_PROVEN, rc,
			  "%s: the proof does not prove this entry at index "
			  "%" PRIu64 ": %s",
			  src, p.index, err);
		goto out;
	}
	*index = p.index;
	*size = c.size;
out:
	checkpoint_clear(&c);
	tlog_proof_clear(&p);
	return rc;
}
