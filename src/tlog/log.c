/*
 * log.c - the node's durable tiled log; see log.h.
 *
 * Owns the log directory's descriptor (flock()ed for as long as the log is
 * open), the published tree size and signed checkpoint, which any thread
 * reads under `lock`, and the writer's state under `wlock`: the durable
 * state (size and root) and the rightmost tile of every level, the
 * "edge". The edge is all an append needs of the old tree, since the
 * hashes of the old tree a new tile holds are the old partial tile's,
 * and the root of a tree depends only on its edge. And the proofs' tile
 * cache, under `clock` (see "The tile cache" below).
 *
 * Files are written whole or not at all: a temporary ".<name>.tmp" next
 * to the name, fsync()ed, then rename()d over it; the directories
 * touched are fsync()ed before anything depends on them. A tile a reader
 * may be given (one of the published tree) is never written again, and a
 * tile a batch writes is given to readers only after the state and
 * checkpoint that cover it, so reads take no lock while they read files.
 */
#include "tlog/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/xmalloc.h"
#include "tlog/checkpoint.h"
#include "tlog/util.h"

/* Tile levels a tree of fewer than 2^64 leaves has. */
#define LEVELS (64 / TILE_HEIGHT)
/* A relative path inside the log, a temporary name included. */
#define RELPATH_MAX (TILE_PATH_MAX + 16)

#define CHECKPOINT_FILE "checkpoint"
#define STATE_FILE      "state"

/*
 * The state file, 80 bytes:
 *   0   8   magic "VGTLOG1\n"
 *   8   8   tree size, big-endian
 *   16  32  root hash
 *   48  32  SHA-256 of bytes 0..47
 */
#define STATE_MAGIC     "VGTLOG1\n"
#define STATE_MAGIC_LEN 8
#define STATE_LEN       (STATE_MAGIC_LEN + 8 + MERKLE_HASH_LEN + 32)

_Static_assert(sizeof(struct merkle_hash) == MERKLE_HASH_LEN,
	       "a tile is an array of struct merkle_hash");

typedef struct merkle_hash edge_t[LEVELS][TILE_WIDTH];

/*
 * The tile cache. Proofs (tlog_log_prove_inclusion() and _consistency())
 * read the tree through it, never the appender's checks, which always
 * read the files. An entry is the tile at (level, index) of the published
 * tree, of the width it had when read, with every complete node of the
 * 7 Merkle levels tlog-tiles does not store above its hashes: node[0..255]
 * are the tile's hashes, node[NODE_OFF(s) + p] the root of hashes
 * p * 2^s .. (p + 1) * 2^s - 1 (s = 1..7), so a stored hash at any Merkle
 * level is one lookup. A tile of the published tree at width w is the
 * first w hashes of every wider tile at (level, index) the log will ever
 * publish (log.h, "Partial tiles"), so an entry never goes stale: it
 * serves any request of its width or less, and one that needs a wider
 * tile (the log grew) reads it and replaces the entry. Full tiles are
 * never replaced.
 *
 * At most TCACHE_MAX entries (TCACHE_BYTES, about 4,100 tiles of 16 KiB:
 * 64 MiB covers the hash tiles of a log of 1,000,000 entries); past that
 * an insertion evicts the first entry the clock hand finds unused since
 * it last passed (CLOCK, an approximation of least recently used that
 * needs no write to shared state on a hit). Proofs hold clock to read
 * while they look entries up, insertions and evictions take it to write,
 * so no entry is freed while a proof reads it.
 */
#ifndef TCACHE_BYTES /* -DTCACHE_BYTES=... to change it */
#define TCACHE_BYTES ((size_t)64 << 20)
#endif
#define TCACHE_NODES   (2 * TILE_WIDTH - 2)
#define NODE_OFF(s)    (2 * TILE_WIDTH - (2 * TILE_WIDTH >> (s)))
#define TCACHE_MAX     (TCACHE_BYTES / sizeof(struct tcache_ent))
#define TCACHE_BUCKETS 8192 /* a power of two, above TCACHE_MAX */

struct tcache_ent {
	struct tcache_ent *hnext;       /* its bucket's chain */
	struct tcache_ent *prev, *next; /* the clock's ring */
	uint64_t index;
	int level;
	unsigned width;
	atomic_bool used; /* looked up since the clock hand last passed */
	struct merkle_hash node[TCACHE_NODES];
};

struct tlog_log {
	int dirfd; /* O_DIRECTORY, flock()ed; -1 on a backend */
	char *dir; /* for messages */
	const struct tlog_backend *be; /* not owned; NULL: the directory */
	char *origin;
	const struct note_signer *signer; /* not owned */
	struct note_verifier key;         /* the signer's public key */
	struct note_verifier prev;        /* tlog_log_open_rekey()'s, */
	bool has_prev;                    /* if given */

	/* The published tree: its size is read without the lock. */
	pthread_mutex_t lock;
	_Atomic uint64_t size;
	struct merkle_hash root; /* its root */
	char *cp;                /* its signed checkpoint, NUL-terminated */
	size_t cp_len;

	/* The writer's. */
	pthread_mutex_t wlock;
	uint64_t st_size; /* the durable state */
	struct merkle_hash st_root;
	edge_t edge; /* level L's partial tile at st_size, if it has one */
	bool broken; /* an append failed past its state: reopen */

	/* The proofs' tile cache (above): all of it under clock but the
	 * entries' used flags, which are atomic. */
	pthread_rwlock_t clock;
	struct tcache_ent **ctab; /* TCACHE_BUCKETS chains */
	struct tcache_ent *hand;  /* the clock hand, on the ring of all */
	size_t cn;                /* entries in ctab */
};

/* A file a batch writes. */
struct wfile {
	struct tile t;
	uint8_t *data; /* malloc'd */
	size_t len;
};

struct plan {
	struct wfile *f;
	size_t n, cap;
};

/* Directories to fsync, relative to the log's. */
struct dirlist {
	char (*d)[RELPATH_MAX];
	size_t n, cap;
};

/* A tile_read_fn over the files of the tree of base leaves. */
struct file_ctx {
	struct tlog_log *l;
	bool writer; /* the appender's view of a backend (tlog_backend) */
	uint64_t base;
	char *err;
	size_t errlen;
};

/* A tile_read_fn over an edge of the tree of size leaves. */
struct edge_ctx {
	const struct merkle_hash (*edge)[TILE_WIDTH];
	uint64_t size;
};

/* The width of the tile at (level, index) in the tree of size leaves (a
 * level of TILE_ENTRIES meaning the bundles), or 0 if it has none. */
static unsigned
width_at(uint64_t size, int level, uint64_t index)
{
	uint64_t full;
	unsigned partial;

	if (level < TILE_ENTRIES || level >= LEVELS)
		return 0;
	tile_count(size, level == TILE_ENTRIES ? 0 : (unsigned)level, &full,
		   &partial);
	if (index < full)
		return TILE_WIDTH;
	return index == full ? partial : 0;
}

/* Splits rel at its last '/' into its directory ("." if none) and the
 * temporary name of its last component. VG_EINVAL if rel is too long. */
static int
split_path(const char *rel, char dir[RELPATH_MAX], char tmp[RELPATH_MAX])
{
	const char *slash = strrchr(rel, '/');
	int a, b;

	if (slash == NULL) {
		a = snprintf(dir, RELPATH_MAX, ".");
		b = snprintf(tmp, RELPATH_MAX, ".%s.tmp", rel);
	} else {
		a = snprintf(dir, RELPATH_MAX, "%.*s", (int)(slash - rel), rel);
		b = snprintf(tmp, RELPATH_MAX, "%.*s.%s.tmp",
			     (int)(slash + 1 - rel), rel, slash + 1);
	}
	return a < 0 || b < 0 || a >= RELPATH_MAX || b >= RELPATH_MAX
		       ? VG_EINVAL
		       : 0;
}

static void
dirlist_add(struct dirlist *dl, const char *dir)
{
	for (size_t i = 0; i < dl->n; i++)
		if (strcmp(dl->d[i], dir) == 0)
			return;
	if (dl->n == dl->cap) {
		dl->cap = dl->cap ? 2 * dl->cap : 16;
		dl->d = xreallocarray(dl->d, dl->cap, sizeof(*dl->d));
	}
	snprintf(dl->d[dl->n++], RELPATH_MAX, "%s", dir);
}

/* fsyncs the directory rel of the log. */
static int
fsync_dir(struct tlog_log *l, const char *rel, char *err, size_t errlen)
{
	int fd, rc;

	fd = openat(l->dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		vg_seterr(err, errlen, "%s/%s: %s", l->dir, rel,
			  strerror(errno));
		return VG_EIO;
	}
	if ((rc = io_fsync(fd)) != 0)
		vg_seterr(err, errlen, "%s/%s: fsync: %s", l->dir, rel,
			  strerror(errno));
	close(fd);
	return rc;
}

static int
dirlist_sync(struct tlog_log *l, const struct dirlist *dl, char *err,
	     size_t errlen)
{
	int rc;

	for (size_t i = 0; i < dl->n; i++)
		if ((rc = fsync_dir(l, dl->d[i], err, errlen)) != 0)
			return rc;
	return 0;
}

/* Creates the directory rel and its parents as needed (0700); the parent
 * of each one created goes to dl, to be fsync()ed. */
static int
make_dirs(struct tlog_log *l, const char *rel, struct dirlist *dl, char *err,
	  size_t errlen)
{
	char buf[RELPATH_MAX];
	size_t len = strlen(rel);

	for (size_t i = 1; i <= len; i++) {
		if (i < len && rel[i] != '/')
			continue;
		snprintf(buf, sizeof(buf), "%.*s", (int)i, rel);
		if (mkdirat(l->dirfd, buf, 0700) == 0) {
			char *slash = strrchr(buf, '/');

			if (slash == NULL)
				dirlist_add(dl, ".");
			else {
				*slash = '\0';
				dirlist_add(dl, buf);
			}
		} else if (errno != EEXIST) {
			vg_seterr(err, errlen, "%s/%s: mkdir: %s", l->dir, buf,
				  strerror(errno));
			return VG_EIO;
		}
	}
	return 0;
}

/*
 * Writes rel whole: a temporary file next to it, fsync()ed, renamed over
 * it. Its directory goes to dl, for the caller to fsync. On failure rel
 * is as it was: the rename is the last step.
 */
static int
write_atomic(struct tlog_log *l, const char *rel, const void *data, size_t len,
	     struct dirlist *dl, char *err, size_t errlen)
{
	char dir[RELPATH_MAX], tmp[RELPATH_MAX];
	int fd, rc = 0;

	if (split_path(rel, dir, tmp) != 0) {
		vg_seterr(err, errlen, "%s: path too long", rel);
		return VG_EINVAL;
	}
	if (strcmp(dir, ".") != 0 &&
	    (rc = make_dirs(l, dir, dl, err, errlen)) != 0)
		return rc;
	fd = openat(l->dirfd, tmp,
		    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0) {
		vg_seterr(err, errlen, "%s/%s: %s", l->dir, tmp,
			  strerror(errno));
		return VG_EIO;
	}
	if (io_write_all(fd, data, len) != 0 || io_fsync(fd) != 0) {
		vg_seterr(err, errlen, "%s/%s: write: %s", l->dir, tmp,
			  strerror(errno));
		rc = VG_EIO;
	}
	if (close(fd) != 0 && rc == 0) {
		vg_seterr(err, errlen, "%s/%s: close: %s", l->dir, tmp,
			  strerror(errno));
		rc = VG_EIO;
	}
	if (rc == 0 && renameat(l->dirfd, tmp, l->dirfd, rel) != 0) {
		vg_seterr(err, errlen, "%s/%s: rename: %s", l->dir, rel,
			  strerror(errno));
		rc = VG_EIO;
	}
	if (rc != 0)
		unlinkat(l->dirfd, tmp, 0);
	else
		dirlist_add(dl, dir);
	return rc;
}

/* Opens rel of the log for reading: a regular file, its size in *size.
 * VG_ENOENT if it does not exist. */
static int
open_file(struct tlog_log *l, const char *rel, int *fdp, off_t *size, char *err,
	  size_t errlen)
{
	struct stat st;
	int fd;

	fd = openat(l->dirfd, rel,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;

		vg_seterr(err, errlen, "%s/%s: %s", l->dir, rel, strerror(e));
		return e == ENOENT || e == ENOTDIR ? VG_ENOENT : VG_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		vg_seterr(err, errlen, "%s/%s: not a regular file", l->dir,
			  rel);
		close(fd);
		return VG_ECORRUPT;
	}
	*fdp = fd;
	*size = st.st_size;
	return 0;
}

/* Reads rel whole, at most max bytes, into *data (malloc'd; one byte
 * more, a terminator) and *len. VG_ENOENT if it does not exist. */
static int
read_file(struct tlog_log *l, const char *rel, size_t max, uint8_t **data,
	  size_t *len, char *err, size_t errlen)
{
	uint8_t *buf;
	off_t size;
	int fd, rc;

	if ((rc = open_file(l, rel, &fd, &size, err, errlen)) != 0)
		return rc;
	if ((uint64_t)size > max) {
		vg_seterr(err, errlen, "%s/%s: %jd bytes, more than %zu",
			  l->dir, rel, (intmax_t)size, max);
		close(fd);
		return VG_ECORRUPT;
	}
	buf = xmalloc((size_t)size + 1);
	if ((rc = io_pread_all(fd, buf, (size_t)size, 0)) != 0) {
		vg_seterr(err, errlen, "%s/%s: read failed", l->dir, rel);
		free(buf);
		close(fd);
		return rc;
	}
	close(fd);
	buf[size] = '\0';
	*data = buf;
	*len = (size_t)size;
	return 0;
}

/* Reads the resource rel whole, as read_file(), from the log's files or
 * its backend (in the appender's view if writer). */
static int
res_read(struct tlog_log *l, bool writer, const char *rel, size_t max,
	 uint8_t **data, size_t *len, char *err, size_t errlen)
{
	if (l->be == NULL)
		return read_file(l, rel, max, data, len, err, errlen);
	return l->be->read(l->be->ctx, writer, rel, max, data, len, err,
			   errlen);
}

/*
 * Reads the tile at (t->level, t->index) of the tree of base leaves, whose
 * first t->width hashes are the tile t, into buf (TILE_BYTES). VG_ENOENT
 * if that tree has no such tile or a narrower one; VG_ECORRUPT if its
 * file is missing or of the wrong length.
 */
static int
read_hashes(struct tlog_log *l, bool writer, uint64_t base,
	    const struct tile *t, uint8_t *buf, char *err, size_t errlen)
{
	unsigned w = t->level >= 0 ? width_at(base, t->level, t->index) : 0;
	struct tile f = {t->level, t->index, w};
	char path[TILE_PATH_MAX];
	off_t size;
	int fd, rc;

	if (w == 0 || t->width > w) {
		vg_seterr(err, errlen, "no such tile at size %" PRIu64, base);
		return VG_ENOENT;
	}
	if (tile_path(&f, path) != 0)
		return VG_EINVAL;
	if (l->be != NULL) {
		uint8_t *data;
		size_t len;

		rc = res_read(l, writer, path, TILE_BYTES, &data, &len, err,
			      errlen);
		if (rc != 0)
			return rc == VG_ENOENT ? VG_ECORRUPT : rc;
		if (len != (size_t)w * MERKLE_HASH_LEN) {
			vg_seterr(err, errlen,
				  "%s/%s: %zu bytes, not %u hashes", l->dir,
				  path, len, w);
			rc = VG_ECORRUPT;
		} else {
			memcpy(buf, data, len);
		}
		free(data);
		return rc;
	}
	if ((rc = open_file(l, path, &fd, &size, err, errlen)) != 0)
		return rc == VG_ENOENT ? VG_ECORRUPT : rc;
	if ((uint64_t)size != (uint64_t)w * MERKLE_HASH_LEN) {
		vg_seterr(err, errlen, "%s/%s: %jd bytes, not %u hashes",
			  l->dir, path, (intmax_t)size, w);
		rc = VG_ECORRUPT;
	} else if ((rc = io_pread_all(fd, buf, (size_t)size, 0)) != 0) {
		vg_seterr(err, errlen, "%s/%s: read failed", l->dir, path);
	}
	close(fd);
	return rc;
}

/*
 * Reads and parses the entry bundle at index of the tree of base leaves:
 * its bytes in *data (malloc'd), *len, its entries (TILE_WIDTH slots,
 * pointing into *data) and their count in *width. VG_ENOENT if that tree
 * has no such bundle; VG_ECORRUPT if its file is missing or malformed.
 */
static int
read_bundle(struct tlog_log *l, bool writer, uint64_t base, uint64_t index,
	    uint8_t **data, size_t *len, struct tile_entry *entries,
	    unsigned *width, char *err, size_t errlen)
{
	unsigned w = width_at(base, TILE_ENTRIES, index);
	struct tile f = {TILE_ENTRIES, index, w};
	char path[TILE_PATH_MAX], why[256];
	int rc;

	*data = NULL;
	if (w == 0) {
		vg_seterr(err, errlen, "no such bundle at size %" PRIu64, base);
		return VG_ENOENT;
	}
	if (tile_path(&f, path) != 0)
		return VG_EINVAL;
	rc = res_read(l, writer, path, TILE_BUNDLE_MAX, data, len, err, errlen);
	if (rc != 0)
		return rc == VG_ENOENT ? VG_ECORRUPT : rc;
	if (tile_bundle_parse(*data, *len, w, entries, why, sizeof(why))) {
		vg_seterr(err, errlen, "%s/%s: %s", l->dir, path, why);
		free(*data);
		*data = NULL;
		return VG_ECORRUPT;
	}
	*width = w;
	return 0;
}

static int
file_read(void *ud, const struct tile *t, uint8_t *buf, size_t *len)
{
	struct file_ctx *c = ud;
	int rc = read_hashes(c->l, c->writer, c->base, t, buf, c->err,
			     c->errlen);

	if (rc == VG_ENOENT) /* a proof within base needs no tile beyond */
		return VG_ECORRUPT;
	if (rc == 0)
		*len = (size_t)t->width * MERKLE_HASH_LEN;
	return rc;
}

static int
edge_read(void *ud, const struct tile *t, uint8_t *buf, size_t *len)
{
	const struct edge_ctx *c = ud;
	uint64_t full;
	unsigned w;

	if (t->level < 0 || t->level >= LEVELS)
		return VG_ECORRUPT;
	tile_count(c->size, (unsigned)t->level, &full, &w);
	/* The root of a tree depends on its edge only. */
	if (t->index != full || t->width > w)
		return VG_ECORRUPT;
	memcpy(buf, c->edge[t->level], (size_t)t->width * MERKLE_HASH_LEN);
	*len = (size_t)t->width * MERKLE_HASH_LEN;
	return 0;
}

_Static_assert(TCACHE_MAX >= 16 && TCACHE_MAX < TCACHE_BUCKETS,
	       "a cache of a few tiles, in a table of short chains");
_Static_assert(NODE_OFF(TILE_HEIGHT - 1) + 2 == TCACHE_NODES,
	       "sub-levels 0..7 of a tile");

static size_t
tcache_bucket(int level, uint64_t index)
{
	uint64_t h = (index + (uint64_t)level * 0x100000001b3ull) *
		     0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (TCACHE_BUCKETS - 1);
}

/* The entry of (level, index), or NULL; under clock, read or write. */
static struct tcache_ent *
tcache_lookup(struct tlog_log *l, int level, uint64_t index)
{
	struct tcache_ent *e = l->ctab[tcache_bucket(level, index)];

	while (e != NULL && (e->level != level || e->index != index))
		e = e->hnext;
	return e;
}

/* Takes e out of the table and the ring, for the caller to free; under
 * clock, written. */
static void
tcache_unlink(struct tlog_log *l, struct tcache_ent *e)
{
	struct tcache_ent **pp = &l->ctab[tcache_bucket(e->level, e->index)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->next == e) {
		l->hand = NULL;
	} else {
		e->prev->next = e->next;
		e->next->prev = e->prev;
		if (l->hand == e)
			l->hand = e->next;
	}
	l->cn--;
}

/*
 * Reads the tile t of the tree of base leaves whole (the width it has in
 * that tree) and hashes its inner nodes into a new entry, not in the
 * table. Errors as read_hashes(), VG_ENOENT being VG_ECORRUPT: a proof
 * within base needs no tile beyond it.
 */
static int
tcache_load(struct tlog_log *l, uint64_t base, const struct tile *t,
	    struct tcache_ent **out)
{
	struct tcache_ent *e = xmalloc(sizeof(*e));
	unsigned w = width_at(base, t->level, t->index);
	int rc;

	rc = read_hashes(l, false, base, t, (uint8_t *)e->node, NULL, 0);
	if (rc != 0) {
		free(e);
		return rc == VG_ENOENT ? VG_ECORRUPT : rc;
	}
	for (unsigned s = 1; s < TILE_HEIGHT; s++) {
		const struct merkle_hash *below = e->node + NODE_OFF(s - 1);
		struct merkle_hash *here = e->node + NODE_OFF(s);

		for (unsigned p = 0; p < w >> s; p++) {
			rc = merkle_hash_children(&below[2 * p],
						  &below[2 * p + 1], &here[p]);
			if (rc != 0) {
				free(e);
				return rc;
			}
		}
	}
	e->index = t->index;
	e->level = t->level;
	e->width = w;
	atomic_init(&e->used, true);
	*out = e;
	return 0;
}

/*
 * Puts the new entry e in the table (taking clock to write; the caller
 * must not hold it), unless a wider or as wide one is there already: it
 * replaces a narrower one, and makes room by evicting the first entry the
 * clock hand finds unused since it last passed. Frees what it drops.
 */
static void
tcache_insert(struct tlog_log *l, struct tcache_ent *e)
{
	struct tcache_ent *old, *drop = NULL;
	size_t b = tcache_bucket(e->level, e->index);

	pthread_rwlock_wrlock(&l->clock);
	old = tcache_lookup(l, e->level, e->index);
	if (old != NULL && old->width >= e->width) {
		drop = e;
		goto out;
	}
	if (old != NULL) {
		tcache_unlink(l, old);
		drop = old;
	} else if (l->cn >= TCACHE_MAX) {
		struct tcache_ent *v = l->hand;

		while (atomic_load_explicit(&v->used, memory_order_relaxed)) {
			atomic_store_explicit(&v->used, false,
					      memory_order_relaxed);
			v = v->next;
		}
		l->hand = v; /* and on to the next */
		tcache_unlink(l, v);
		drop = v;
	}
	e->hnext = l->ctab[b];
	l->ctab[b] = e;
	/* Behind the hand: the last the hand looks at. */
	if (l->hand == NULL) {
		e->prev = e->next = e;
		l->hand = e;
	} else {
		e->next = l->hand;
		e->prev = l->hand->prev;
		e->prev->next = e;
		e->next->prev = e;
	}
	l->cn++;
out:
	pthread_rwlock_unlock(&l->clock);
	free(drop);
}

/* Empties the cache; no proof may be in progress. */
static void
tcache_free(struct tlog_log *l)
{
	if (l->ctab == NULL)
		return;
	while (l->hand != NULL) {
		struct tcache_ent *e = l->hand;

		tcache_unlink(l, e);
		free(e);
	}
	free(l->ctab);
	l->ctab = NULL;
}

/*
 * A merkle_reader over the cache, for one proof in the tree of size
 * leaves of the published tree of base leaves. The proof holds clock to
 * read from start to end, so no entry it looks at is dropped meanwhile,
 * and takes it once for all its lookups: a mutex taken at every change
 * of tile (a cache line both cores write, and sleeps in the kernel when
 * they met) made two threads slower than one. A miss lets it go to read
 * the file and takes it to write to insert the tile.
 */
struct cache_ctx {
	struct tlog_log *l;
	uint64_t base, size;
	const struct tcache_ent *held; /* the entry last used, or NULL */
};

static int
cache_read(void *ud, unsigned level, uint64_t index, struct merkle_hash *out)
{
	struct cache_ctx *c = ud;
	struct tcache_ent *e;
	unsigned first, count, sub = level % TILE_HEIGHT;
	struct tile t;
	int rc;

	if (tile_locate(c->size, level, index, &t, &first, &count) != 0)
		return VG_EINVAL;
	/* The subtree is complete within t.width hashes. */
	if (c->held != NULL && c->held->level == t.level &&
	    c->held->index == t.index && c->held->width >= t.width) {
		*out = c->held->node[NODE_OFF(sub) + (first >> sub)];
		return 0;
	}
	e = tcache_lookup(c->l, t.level, t.index);
	if (e != NULL && e->width >= t.width) {
		if (!atomic_load_explicit(&e->used, memory_order_relaxed))
			atomic_store_explicit(&e->used, true,
					      memory_order_relaxed);
		c->held = e;
		*out = e->node[NODE_OFF(sub) + (first >> sub)];
		return 0;
	}
	/* A miss: the file is read and hashed without the lock. */
	c->held = NULL;
	pthread_rwlock_unlock(&c->l->clock);
	if ((rc = tcache_load(c->l, c->base, &t, &e)) == 0) {
		*out = e->node[NODE_OFF(sub) + (first >> sub)];
		tcache_insert(c->l, e);
	}
	pthread_rwlock_rdlock(&c->l->clock);
	return rc;
}

/* Computes the root of the tree of size leaves from the files of the tree
 * of base leaves (size <= base). */
static int
files_root(struct tlog_log *l, bool writer, uint64_t base, uint64_t size,
	   struct merkle_hash *root, char *err, size_t errlen)
{
	struct file_ctx fc = {l, writer, base, err, errlen};
	struct tile_reader tr;
	struct merkle_reader mr;

	tile_reader_init(&tr, size, file_read, &fc);
	mr = tile_reader_merkle(&tr);
	return merkle_root_from_reader(&mr, size, root);
}

/*
 * Checks, from the files of the tree of size2 leaves whose root is root2,
 * that the tree of size1 leaves with root1 is its prefix: root1 is
 * recomputed from them, and a consistency proof generated from them
 * verifies. Returns 0 or VG_ECORRUPT (or the files' error) with a message.
 */
static int
check_prefix(struct tlog_log *l, bool writer, uint64_t size1,
	     const struct merkle_hash *root1, uint64_t size2,
	     const struct merkle_hash *root2, char *err, size_t errlen)
{
	struct merkle_hash r, proof[MERKLE_PROOF_MAX];
	struct file_ctx fc = {l, writer, size2, err, errlen};
	struct tile_reader tr;
	struct merkle_reader mr;
	char why[256] = "";
	size_t n;
	int rc;

	if (size1 > size2) {
		vg_seterr(err, errlen,
			  "tree of %" PRIu64 " shrinks to %" PRIu64, size1,
			  size2);
		return VG_ECORRUPT;
	}
	if (size1 == 0) {
		merkle_hash_empty(&r);
		if (merkle_hash_equal(&r, root1))
			return 0;
		vg_seterr(err, errlen,
			  "empty tree with a root not SHA-256(\"\")");
		return VG_ECORRUPT;
	}
	if ((rc = files_root(l, writer, size2, size1, &r, err, errlen)) != 0)
		return rc;
	if (!merkle_hash_equal(&r, root1)) {
		vg_seterr(err, errlen,
			  "the tiles of size %" PRIu64
			  " do not extend the tree "
			  "of size %" PRIu64 ": its root differs",
			  size2, size1);
		return VG_ECORRUPT;
	}
	if (size1 == size2)
		return merkle_hash_equal(root1, root2) ? 0 : VG_ECORRUPT;
	tile_reader_init(&tr, size2, file_read, &fc);
	mr = tile_reader_merkle(&tr);
	rc = merkle_prove_consistency(&mr, size1, size2, proof, &n, err,
				      errlen);
	if (rc != 0)
		return rc;
	rc = merkle_verify_consistency(size1, size2, root1, root2, proof, n,
				       why, sizeof(why));
	if (rc != 0) {
		vg_seterr(err, errlen,
			  "tree of size %" PRIu64 " not consistent with that "
			  "of size %" PRIu64 ": %s",
			  size2, size1, why);
		return VG_ECORRUPT;
	}
	return 0;
}

static int
state_encode(uint64_t size, const struct merkle_hash *root,
	     uint8_t out[STATE_LEN])
{
	struct tlog_bytes part = {out, STATE_LEN - 32};

	memcpy(out, STATE_MAGIC, STATE_MAGIC_LEN);
	tlog_put_be64(out + STATE_MAGIC_LEN, size);
	memcpy(out + STATE_MAGIC_LEN + 8, root->b, MERKLE_HASH_LEN);
	return tlog_sha256(&part, 1, out + STATE_LEN - 32);
}

static int
state_decode(const uint8_t *buf, size_t len, uint64_t *size,
	     struct merkle_hash *root, char *err, size_t errlen)
{
	struct tlog_bytes part = {buf, STATE_LEN - 32};
	uint8_t sum[32];
	int rc;

	if (len != STATE_LEN || memcmp(buf, STATE_MAGIC, STATE_MAGIC_LEN)) {
		vg_seterr(err, errlen, "not a state file");
		return VG_ECORRUPT;
	}
	if ((rc = tlog_sha256(&part, 1, sum)) != 0)
		return rc;
	if (memcmp(sum, buf + STATE_LEN - 32, 32) != 0) {
		vg_seterr(err, errlen, "checksum does not match");
		return VG_ECORRUPT;
	}
	*size = tlog_be64(buf + STATE_MAGIC_LEN);
	memcpy(root->b, buf + STATE_MAGIC_LEN + 8, MERKLE_HASH_LEN);
	return 0;
}

/* Persists the state (size, root). VG_EIO from the directory's fsync
 * leaves unknown which state is durable. */
static int
write_state(struct tlog_log *l, uint64_t size, const struct merkle_hash *root,
	    bool *renamed, char *err, size_t errlen)
{
	struct dirlist dl = {0};
	uint8_t buf[STATE_LEN];
	int rc;

	*renamed = false;
	if ((rc = state_encode(size, root, buf)) != 0) {
		vg_seterr(err, errlen, "hashing failed");
		return rc;
	}
	rc = write_atomic(l, STATE_FILE, buf, sizeof(buf), &dl, err, errlen);
	if (rc == 0) {
		*renamed = true;
		rc = dirlist_sync(l, &dl, err, errlen);
	}
	free(dl.d);
	return rc;
}

/* Signs the checkpoint of (size, root) into *note (malloc'd, the caller
 * frees it) and *note_len. */
static int
sign_checkpoint(struct tlog_log *l, uint64_t size,
		const struct merkle_hash *root, char **note, size_t *note_len,
		char *err, size_t errlen)
{
	const struct note_signer *signers[1] = {l->signer};
	char *text = NULL;
	size_t text_len;
	int rc;

	*note = NULL;
	rc = checkpoint_format(l->origin, size, root, NULL, &text, &text_len,
			       err, errlen);
	if (rc == 0)
		rc = note_sign(text, text_len, signers, 1, (uint64_t)time(NULL),
			       note, note_len, err, errlen);
	free(text);
	return rc;
}

/* Makes note (taken) the published checkpoint, that of (size, root). */
static void
set_published(struct tlog_log *l, char *note, size_t note_len, uint64_t size,
	      const struct merkle_hash *root)
{
	pthread_mutex_lock(&l->lock);
	free(l->cp);
	l->cp = note;
	l->cp_len = note_len;
	l->root = *root;
	atomic_store(&l->size, size);
	pthread_mutex_unlock(&l->lock);
}

/* Signs the checkpoint of (size, root), writes it durably and makes it the
 * published one. On a backend, the checkpoint is written with the head
 * (the state's tree, unchanged) in a batch of its own. */
static int
publish(struct tlog_log *l, uint64_t size, const struct merkle_hash *root,
	char *err, size_t errlen)
{
	struct dirlist dl = {0};
	char *note = NULL;
	size_t note_len;
	bool open = false, unknown = false;
	int rc;

	if (l->be != NULL) {
		if ((rc = l->be->begin(l->be->ctx, size, err, errlen)) != 0)
			return rc;
		open = true;
	}
	if ((rc = sign_checkpoint(l, size, root, &note, &note_len, err,
				  errlen)) != 0)
		goto out;
	if (l->be != NULL) {
		open = false; /* committed or rolled back, whatever happens */
		rc = l->be->commit(l->be->ctx, size, size, root, note, note_len,
				   &unknown, err, errlen);
		if (rc != 0 && unknown)
			l->broken = true;
	} else {
		rc = write_atomic(l, CHECKPOINT_FILE, note, note_len, &dl, err,
				  errlen);
		if (rc == 0)
			rc = dirlist_sync(l, &dl, err, errlen);
	}
	if (rc != 0)
		goto out;
	set_published(l, note, note_len, size, root);
	note = NULL;
out:
	if (open)
		l->be->abort(l->be->ctx);
	free(note);
	free(dl.d);
	return rc;
}

static void
plan_add(struct plan *p, int level, uint64_t index, unsigned width,
	 uint8_t *data, size_t len)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 16;
		p->f = xreallocarray(p->f, p->cap, sizeof(*p->f));
	}
	p->f[p->n++] = (struct wfile){{level, index, width}, data, len};
}

static void
plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->f[i].data);
	free(p->f);
}

/*
 * Plans the entry bundles appending the n entries to the tree of size1
 * leaves writes: its partial bundle (read back and checked against its
 * leaf hashes) with the new entries, cut into bundles of TILE_WIDTH.
 */
static int
plan_bundles(struct tlog_log *l, uint64_t size1,
	     const struct tile_entry *entries, size_t n, struct plan *p,
	     char *err, size_t errlen)
{
	struct tile_entry old[TILE_WIDTH], group[TILE_WIDTH];
	uint8_t *olddata = NULL;
	char why[256];
	size_t oldlen, total;
	uint64_t full;
	unsigned w, ow;
	int rc;

	tile_count(size1, 0, &full, &w);
	if (w > 0) {
		rc = read_bundle(l, true, size1, full, &olddata, &oldlen, old,
				 &ow, err, errlen);
		if (rc != 0)
			return rc;
		if (tile_bundle_verify(old, w, (const uint8_t *)l->edge[0],
				       (size_t)w * MERKLE_HASH_LEN, why,
				       sizeof(why)) != 0) {
			vg_seterr(err, errlen, "partial bundle %" PRIu64 ": %s",
				  full, why);
			free(olddata);
			return VG_ECORRUPT;
		}
	}
	total = w + n;
	for (size_t start = 0; start < total; start += TILE_WIDTH) {
		size_t cnt =
			total - start < TILE_WIDTH ? total - start : TILE_WIDTH;
		size_t size;
		uint8_t *buf;

		for (size_t k = 0; k < cnt; k++) {
			size_t j = start + k;

			group[k] = j < w ? old[j] : entries[j - w];
		}
		size = tile_bundle_size(group, cnt);
		buf = xmalloc(size);
		if (tile_bundle_encode(group, cnt, buf) != 0)
			fatal("entry sizes were checked");
		plan_add(p, TILE_ENTRIES, full + start / TILE_WIDTH,
			 (unsigned)cnt, buf, size);
	}
	free(olddata);
	return 0;
}

/*
 * Plans the hash tiles appending the n leaf hashes to the tree of size1
 * leaves writes, level by level: the level's partial tile (from edge)
 * with the new hashes, cut into tiles; the roots of the tiles that became
 * full are the new hashes of the level above. edge becomes the new tree's.
 */
static int
plan_tiles(uint64_t size1, const struct merkle_hash *leaves, size_t n,
	   edge_t edge, struct plan *p)
{
	const struct merkle_hash *in = leaves;
	struct merkle_hash *next = NULL;
	uint64_t m = n;
	int rc = 0;

	for (unsigned level = 0; level < LEVELS && m > 0; level++) {
		struct merkle_hash *buf;
		uint64_t full, total, nfull;
		unsigned w, rem;

		tile_count(size1, level, &full, &w);
		total = w + m;
		nfull = total / TILE_WIDTH;
		rem = (unsigned)(total % TILE_WIDTH);
		buf = xreallocarray(NULL, total, sizeof(*buf));
		memcpy(buf, edge[level], (size_t)w * sizeof(*buf));
		memcpy(buf + w, in, m * sizeof(*buf));
		next = xreallocarray(NULL, nfull ? nfull : 1, sizeof(*next));
		for (uint64_t j = 0; j < nfull && rc == 0; j++) {
			uint8_t *t = xmalloc(TILE_BYTES);

			memcpy(t, buf + j * TILE_WIDTH, TILE_BYTES);
			plan_add(p, (int)level, full + j, TILE_WIDTH, t,
				 TILE_BYTES);
			rc = merkle_root(buf + j * TILE_WIDTH, TILE_WIDTH,
					 &next[j]);
		}
		if (rem > 0) {
			size_t len = (size_t)rem * MERKLE_HASH_LEN;
			uint8_t *t = xmalloc(len);

			memcpy(t, buf + nfull * TILE_WIDTH, len);
			plan_add(p, (int)level, full + nfull, rem, t, len);
			memcpy(edge[level], t, len);
		}
		free(buf);
		if (in != leaves)
			free((void *)in);
		in = next;
		next = NULL;
		m = nfull;
		if (rc != 0)
			break;
	}
	if (in != leaves)
		free((void *)in);
	return rc;
}

/* Writes the planned files, then fsyncs their directories. */
static int
write_plan(struct tlog_log *l, const struct plan *p, char *err, size_t errlen)
{
	struct dirlist dl = {0};
	int rc = 0;

	for (size_t i = 0; i < p->n && rc == 0; i++) {
		char path[TILE_PATH_MAX];

		if (tile_path(&p->f[i].t, path) != 0)
			fatal("planned an impossible tile");
		if (l->be != NULL)
			rc = l->be->put(l->be->ctx, path, p->f[i].data,
					p->f[i].len, err, errlen);
		else
			rc = write_atomic(l, path, p->f[i].data, p->f[i].len,
					  &dl, err, errlen);
	}
	if (rc == 0)
		rc = dirlist_sync(l, &dl, err, errlen);
	free(dl.d);
	return rc;
}

/*
 * Checks the files of the tree of size2 leaves before it is committed:
 * their root is the one computed from edge (what the batch holds), and
 * the tree of the state is their prefix. The root goes to *root2.
 */
static int
check_batch(struct tlog_log *l, uint64_t size2, edge_t edge,
	    struct merkle_hash *root2, char *err, size_t errlen)
{
	struct edge_ctx ec = {(const struct merkle_hash(*)[TILE_WIDTH])edge,
			      size2};
	struct merkle_hash mem;
	struct tile_reader tr;
	struct merkle_reader mr;
	int rc;

	tile_reader_init(&tr, size2, edge_read, &ec);
	mr = tile_reader_merkle(&tr);
	if ((rc = merkle_root_from_reader(&mr, size2, &mem)) != 0) {
		vg_seterr(err, errlen, "cannot hash the new tree's edge");
		return rc;
	}
	if ((rc = files_root(l, true, size2, size2, root2, err, errlen)) != 0)
		return rc;
	if (!merkle_hash_equal(&mem, root2)) {
		vg_seterr(err, errlen,
			  "the tiles written do not give the batch's root");
		return VG_ECORRUPT;
	}
	return check_prefix(l, true, l->st_size, &l->st_root, size2, root2, err,
			    errlen);
}

int
tlog_log_append(struct tlog_log *l, const struct tile_entry *entries, size_t n,
		uint64_t *first_index, char *err, size_t errlen)
{
	struct merkle_hash *leaves = NULL, root2;
	struct merkle_hash(*edge)[TILE_WIDTH] = NULL;
	struct plan p = {0};
	uint64_t size1, size2;
	bool renamed, open = false, unknown = false;
	char *note = NULL;
	size_t note_len;
	int rc;

	pthread_mutex_lock(&l->wlock);
	size1 = l->st_size;
	if (l->broken) {
		vg_seterr(err, errlen,
			  "%s: an earlier append failed; reopen the log",
			  l->dir);
		rc = VG_EIO;
		goto out;
	}
	if (n == 0) {
		*first_index = size1;
		rc = 0;
		goto out;
	}
	if (entries == NULL) {
		vg_seterr(err, errlen, "no entries");
		rc = VG_EINVAL;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (entries[i].len > TILE_ENTRY_MAX) {
			vg_seterr(err, errlen,
				  "entry %zu of the batch has %zu bytes, "
				  "more than %d",
				  i, entries[i].len, TILE_ENTRY_MAX);
			rc = VG_ELIMIT;
			goto out;
		}
		if (entries[i].data == NULL && entries[i].len > 0) {
			vg_seterr(err, errlen, "entry %zu has no data", i);
			rc = VG_EINVAL;
			goto out;
		}
	}
	if (n > UINT64_MAX - size1) {
		vg_seterr(err, errlen, "the log would pass 2^64-1 entries");
		rc = VG_ELIMIT;
		goto out;
	}
	size2 = size1 + n;

	leaves = xreallocarray(NULL, n, sizeof(*leaves));
	for (size_t i = 0; i < n; i++) {
		rc = merkle_hash_leaf(entries[i].data, entries[i].len,
				      &leaves[i]);
		if (rc != 0) {
			vg_seterr(err, errlen, "hashing failed");
			goto out;
		}
	}
	edge = xmalloc(sizeof(edge_t));
	memcpy(edge, l->edge, sizeof(edge_t));
	/* On a backend the batch is one transaction, which the backend
	 * refuses to open unless this handle may append to the head of
	 * size1 (its fence). */
	if (l->be != NULL) {
		if ((rc = l->be->begin(l->be->ctx, size1, err, errlen)) != 0)
			goto out;
		open = true;
	}
	if ((rc = plan_bundles(l, size1, entries, n, &p, err, errlen)) != 0)
		goto out;
	if ((rc = plan_tiles(size1, leaves, n, edge, &p)) != 0) {
		vg_seterr(err, errlen, "hashing failed");
		goto out;
	}
	/* 1, 2: the tiles, checked. Until the state moves, what they hold
	 * is garbage no reader is given. */
	if ((rc = write_plan(l, &p, err, errlen)) != 0)
		goto out;
	if ((rc = check_batch(l, size2, edge, &root2, err, errlen)) != 0)
		goto out;
	if (l->be != NULL) {
		/* 3 and 4 at once: the head, its checkpoint and the tiles
		 * commit together or not at all. */
		rc = sign_checkpoint(l, size2, &root2, &note, &note_len, err,
				     errlen);
		if (rc != 0)
			goto out;
		open = false;
		rc = l->be->commit(l->be->ctx, size1, size2, &root2, note,
				   note_len, &unknown, err, errlen);
		if (rc != 0) {
			/* Unknown, or the fence refused it (the lease is
			 * lost): either way the head must be loaded again. */
			l->broken = true;
			goto out;
		}
		l->st_size = size2;
		l->st_root = root2;
		memcpy(l->edge, edge, sizeof(edge_t));
		set_published(l, note, note_len, size2, &root2);
		note = NULL;
		*first_index = size1;
		goto out;
	}
	/* 3: the signer commits to the new tree. */
	rc = write_state(l, size2, &root2, &renamed, err, errlen);
	if (rc != 0) {
		l->broken = renamed;
		goto out;
	}
	l->st_size = size2;
	l->st_root = root2;
	memcpy(l->edge, edge, sizeof(edge_t));
	/* 4: and signs it. */
	if ((rc = publish(l, size2, &root2, err, errlen)) != 0) {
		l->broken = true;
		goto out;
	}
	*first_index = size1;
out:
	if (open)
		l->be->abort(l->be->ctx);
	pthread_mutex_unlock(&l->wlock);
	free(note);
	plan_free(&p);
	free(edge);
	free(leaves);
	return rc;
}

/* Loads the edge of the state's tree from its files. */
static int
load_edge(struct tlog_log *l, char *err, size_t errlen)
{
	for (unsigned level = 0; level < LEVELS; level++) {
		uint64_t full;
		unsigned w;
		struct tile t;
		int rc;

		tile_count(l->st_size, level, &full, &w);
		if (w == 0)
			continue;
		t = (struct tile){(int)level, full, w};
		rc = read_hashes(l, true, l->st_size, &t,
				 (uint8_t *)l->edge[level], err, errlen);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Fails unless the log directory, which has no state, holds nothing but
 * what a crash during its creation can leave. */
static int
check_unused(struct tlog_log *l, char *err, size_t errlen)
{
	struct dirent *de;
	int fd, rc = 0;
	DIR *d;

	/* A fresh open file description: readdir moves the offset. */
	if ((fd = openat(l->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) <
		    0 ||
	    (d = fdopendir(fd)) == NULL) {
		vg_seterr(err, errlen, "%s: %s", l->dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return VG_EIO;
	}
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
		    strcmp(name, "." STATE_FILE ".tmp") == 0 ||
		    strcmp(name, "." CHECKPOINT_FILE ".tmp") == 0)
			continue;
		vg_seterr(err, errlen,
			  "%s has no %s but holds %s: not a log, or one "
			  "that lost its state",
			  l->dir, STATE_FILE, name);
		rc = VG_ECORRUPT;
		break;
	}
	closedir(d);
	return rc;
}

/* Creates the empty log: its state, then its checkpoint. */
static int
create_log(struct tlog_log *l, char *err, size_t errlen)
{
	bool renamed;
	int rc;

	if ((rc = check_unused(l, err, errlen)) != 0)
		return rc;
	l->st_size = 0;
	merkle_hash_empty(&l->st_root);
	rc = write_state(l, 0, &l->st_root, &renamed, err, errlen);
	if (rc != 0)
		return rc;
	return publish(l, 0, &l->st_root, err, errlen);
}

/* Loads and checks the log, creating it if it is new, republishing the
 * state's checkpoint if the crash rule asks for it. */
static int
load_log(struct tlog_log *l, char *err, size_t errlen)
{
	struct checkpoint c = {0};
	bool rekey = false;
	struct merkle_hash root;
	struct tile_entry ent[TILE_WIDTH];
	uint8_t *buf = NULL;
	char why[512] = "", *cpbuf = NULL;
	size_t len, cplen = 0;
	uint64_t full;
	unsigned w, bw;
	int rc;

	if (l->be != NULL) {
		/* The head row is the state and the checkpoint at once; no
		 * head at all is a log that has not been created (its first
		 * checkpoint is signed below). */
		rc = l->be->head(l->be->ctx, true, &l->st_size, &l->st_root,
				 &cpbuf, &cplen, why, sizeof(why));
		if (rc == VG_ENOENT) {
			l->st_size = 0;
			merkle_hash_empty(&l->st_root);
			rc = 0;
		}
		if (rc != 0) {
			vg_seterr(err, errlen, "%s: the head: %s", l->dir, why);
			return rc;
		}
	} else {
		rc = read_file(l, STATE_FILE, STATE_LEN, &buf, &len, why,
			       sizeof(why));
		if (rc == VG_ENOENT)
			return create_log(l, err, errlen);
		if (rc == 0)
			rc = state_decode(buf, len, &l->st_size, &l->st_root,
					  why, sizeof(why));
		free(buf);
		buf = NULL;
		if (rc != 0) {
			vg_seterr(err, errlen, "%s/%s: %s", l->dir, STATE_FILE,
				  why);
			return rc;
		}
	}

	/* The tiles give the state's root. */
	if ((rc = load_edge(l, why, sizeof(why))) == 0)
		rc = files_root(l, true, l->st_size, l->st_size, &root, why,
				sizeof(why));
	if (rc == 0 && !merkle_hash_equal(&root, &l->st_root)) {
		snprintf(why, sizeof(why), "their root is not the state's");
		rc = VG_ECORRUPT;
	}
	if (rc != 0) {
		vg_seterr(err, errlen,
			  "%s: the tiles disagree with the state (size "
			  "%" PRIu64 "): %s",
			  l->dir, l->st_size, why);
		free(cpbuf);
		return rc == VG_ENOENT ? VG_ECORRUPT : rc;
	}
	/* The next append reads the partial bundle back: it must hold the
	 * entries of the partial level-0 tile. */
	tile_count(l->st_size, 0, &full, &w);
	if (w > 0) {
		rc = read_bundle(l, true, l->st_size, full, &buf, &len, ent,
				 &bw, why, sizeof(why));
		if (rc == 0 &&
		    tile_bundle_verify(ent, w, (const uint8_t *)l->edge[0],
				       (size_t)w * MERKLE_HASH_LEN, why,
				       sizeof(why)) != 0)
			rc = VG_ECORRUPT;
		free(buf);
		buf = NULL;
		if (rc != 0) {
			vg_seterr(err, errlen,
				  "%s: the partial entry bundle disagrees "
				  "with its tile: %s",
				  l->dir, why);
			free(cpbuf);
			return rc;
		}
	}
	/* A handle loaded again (tlog_log_reload()) never goes back on a
	 * tree it published: the head extends it. */
	if (l->cp != NULL) {
		rc = check_prefix(l, true, atomic_load(&l->size), &l->root,
				  l->st_size, &l->st_root, why, sizeof(why));
		if (rc != 0) {
			vg_seterr(err, errlen,
				  "%s: the head (size %" PRIu64 ") does not "
				  "extend the tree published (size %" PRIu64
				  "): %s",
				  l->dir, l->st_size, atomic_load(&l->size),
				  why);
			free(cpbuf);
			return rc == VG_ENOENT ? VG_ECORRUPT : rc;
		}
	}

	/* The checkpoint: the state's, or an older one (crash rule). */
	if (l->be != NULL) {
		buf = (uint8_t *)cpbuf;
		len = cplen;
		rc = buf != NULL ? 0 : VG_ENOENT;
		snprintf(why, sizeof(why), "none");
	} else {
		rc = read_file(l, CHECKPOINT_FILE, NOTE_MAX_SIZE, &buf, &len,
			       why, sizeof(why));
	}
	if (rc == VG_ENOENT && l->st_size == 0) /* crashed while created */
		return publish(l, 0, &l->st_root, err, errlen);
	if (rc != 0) {
		vg_seterr(err, errlen, "%s/%s: %s", l->dir, CHECKPOINT_FILE,
			  why);
		return rc == VG_ENOENT ? VG_ECORRUPT : rc;
	}
	rc = checkpoint_open((const char *)buf, len, l->origin, &l->key, NULL,
			     0, 0, &c, why, sizeof(why));
	/* A new key takes over a tree its predecessor signed: the
	 * checkpoint must verify with the previous key, and is signed again
	 * (below) with the new one. */
	if (rc != 0 && l->has_prev &&
	    checkpoint_open((const char *)buf, len, l->origin, &l->prev, NULL,
			    0, 0, &c, why, sizeof(why)) == 0) {
		rc = 0;
		rekey = true;
	}
	if (rc != 0) {
		vg_seterr(err, errlen,
			  "%s/%s does not verify as a checkpoint of %s by "
			  "the log's key: %s",
			  l->dir, CHECKPOINT_FILE, l->origin, why);
		free(buf);
		return VG_ECORRUPT;
	}
	/* On a backend the checkpoint commits with the state: it is never
	 * behind it. */
	if (c.size > l->st_size || (l->be != NULL && c.size != l->st_size) ||
	    (c.size == l->st_size &&
	     !merkle_hash_equal(&c.root, &l->st_root))) {
		vg_seterr(err, errlen,
			  "%s: the checkpoint (size %" PRIu64 ") is not of "
			  "the state's tree (size %" PRIu64 ")",
			  l->dir, c.size, l->st_size);
		rc = VG_ECORRUPT;
	} else if (c.size < l->st_size || rekey) {
		/* Crashed between the state and its checkpoint, or the
		 * checkpoint is the previous key's. */
		rc = check_prefix(l, true, c.size, &c.root, l->st_size,
				  &l->st_root, why, sizeof(why));
		if (rc != 0)
			vg_seterr(err, errlen,
				  "%s: the checkpoint (size %" PRIu64 ") is "
				  "not a prefix of the state's tree: %s",
				  l->dir, c.size, why);
		else
			rc = publish(l, l->st_size, &l->st_root, err, errlen);
	} else {
		set_published(l, (char *)buf, len, l->st_size, &l->st_root);
		buf = NULL;
	}
	checkpoint_clear(&c);
	free(buf);
	return rc;
}

int
tlog_log_open(const char *dir, const char *origin,
	      const struct note_signer *signer, struct tlog_log **out,
	      char *err, size_t errlen)
{
	return tlog_log_open_rekey(dir, origin, signer, NULL, out, err, errlen);
}

/* Opens the log in dir, or (dir NULL) on be. */
static int
log_open(const char *dir, const struct tlog_backend *be, const char *origin,
	 const struct note_signer *signer, const struct note_verifier *prev,
	 struct tlog_log **out, char *err, size_t errlen)
{
	struct merkle_hash empty;
	pthread_rwlockattr_t ra;
	struct tlog_log *l;
	char *text = NULL;
	size_t text_len;
	int rc;

	*out = NULL;
	if (be != NULL)
		dir = be->name;
	if (dir == NULL || *dir == '\0' || origin == NULL || signer == NULL) {
		vg_seterr(err, errlen, "no directory, origin or signer");
		return VG_EINVAL;
	}
	/* An origin no checkpoint can carry is refused before anything is
	 * created. */
	merkle_hash_empty(&empty);
	rc = checkpoint_format(origin, 0, &empty, NULL, &text, &text_len, err,
			       errlen);
	free(text);
	if (rc != 0)
		return rc;

	l = xcalloc(1, sizeof(*l));
	l->dirfd = -1;
	l->dir = xstrdup(dir);
	l->be = be;
	l->origin = xstrdup(origin);
	l->signer = signer;
	note_signer_verifier(signer, &l->key);
	if (prev != NULL) {
		l->prev = *prev;
		l->has_prev = true;
	}
	pthread_mutex_init(&l->lock, NULL);
	pthread_mutex_init(&l->wlock, NULL);
	/* Writers first: a miss must not wait for a pause in the proofs. */
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(
		&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&l->clock, &ra);
	pthread_rwlockattr_destroy(&ra);
	l->ctab = xcalloc(TCACHE_BUCKETS, sizeof(*l->ctab));
	atomic_init(&l->size, 0);
	if (be != NULL)
		rc = load_log(l, err, errlen);
	else if ((rc = io_dir_open(l->dir,
				   "log in use by another process or handle",
				   &l->dirfd, err, errlen)) == 0)
		rc = load_log(l, err, errlen);
	if (rc != 0) {
		tlog_log_close(l);
		return rc;
	}
	*out = l;
	return 0;
}

int
tlog_log_open_rekey(const char *dir, const char *origin,
		    const struct note_signer *signer,
		    const struct note_verifier *prev, struct tlog_log **out,
		    char *err, size_t errlen)
{
	if (dir == NULL) {
		*out = NULL;
		return vg_fail(err, errlen, VG_EINVAL, "no directory");
	}
	return log_open(dir, NULL, origin, signer, prev, out, err, errlen);
}

int
tlog_log_open_backend(const struct tlog_backend *be, const char *origin,
		      const struct note_signer *signer,
		      const struct note_verifier *prev, struct tlog_log **out,
		      char *err, size_t errlen)
{
	if (be == NULL || be->name == NULL || be->read == NULL ||
	    be->head == NULL || be->begin == NULL || be->put == NULL ||
	    be->commit == NULL || be->abort == NULL) {
		*out = NULL;
		return vg_fail(err, errlen, VG_EINVAL, "incomplete backend");
	}
	return log_open(NULL, be, origin, signer, prev, out, err, errlen);
}

int
tlog_log_reload(struct tlog_log *l, char *err, size_t errlen)
{
	int rc;

	if (l->be == NULL)
		return vg_fail(err, errlen, VG_EINVAL,
			       "%s: only a backend's log is reloaded", l->dir);
	pthread_mutex_lock(&l->wlock);
	l->broken = false;
	memset(l->edge, 0, sizeof(l->edge));
	if ((rc = load_log(l, err, errlen)) != 0)
		l->broken = true;
	pthread_mutex_unlock(&l->wlock);
	return rc;
}

int
tlog_log_refresh(struct tlog_log *l, char *err, size_t errlen)
{
	struct checkpoint c = {0};
	struct merkle_hash root, proot;
	uint64_t size, psize;
	char *cp = NULL, why[512] = "";
	size_t cplen;
	int rc;

	if (l->be == NULL)
		return 0;
	rc = l->be->head(l->be->ctx, false, &size, &root, &cp, &cplen, why,
			 sizeof(why));
	if (rc != 0)
		return vg_fail(err, errlen, rc == VG_ENOENT ? VG_ECORRUPT : rc,
			       "%s: the head: %s", l->dir, why);
	pthread_mutex_lock(&l->lock);
	psize = atomic_load(&l->size);
	proot = l->root;
	pthread_mutex_unlock(&l->lock);
	if (size == psize && merkle_hash_equal(&root, &proot)) {
		free(cp);
		return 0;
	}
	/* The new head must be signed by the log's key, be of its own
	 * tree, and extend what this handle published, checked on the
	 * committed tiles (a reader's view): a follower never serves a
	 * fork. */
	if (cp == NULL) {
		rc = VG_ECORRUPT;
		snprintf(why, sizeof(why), "no checkpoint");
	} else if ((rc = checkpoint_open(cp, cplen, l->origin, &l->key, NULL, 0,
					 0, &c, why, sizeof(why))) != 0) {
		rc = VG_ECORRUPT;
	} else if (c.size != size || !merkle_hash_equal(&c.root, &root)) {
		rc = VG_ECORRUPT;
		snprintf(why, sizeof(why), "its checkpoint is of another tree");
	} else {
		rc = check_prefix(l, false, psize, &proot, size, &root, why,
				  sizeof(why));
		if (rc == VG_ENOENT)
			rc = VG_ECORRUPT;
	}
	checkpoint_clear(&c);
	if (rc != 0) {
		free(cp);
		return vg_fail(err, errlen, rc,
			       "%s: the head (size %" PRIu64 ") is refused "
			       "over the published tree (size %" PRIu64 "): %s",
			       l->dir, size, psize, why);
	}
	/* Unless an append of this handle published meanwhile: the
	 * published tree only grows. */
	pthread_mutex_lock(&l->lock);
	if (atomic_load(&l->size) == psize &&
	    merkle_hash_equal(&l->root, &proot)) {
		free(l->cp);
		l->cp = cp;
		l->cp_len = cplen;
		l->root = root;
		atomic_store(&l->size, size);
		cp = NULL;
	}
	pthread_mutex_unlock(&l->lock);
	free(cp);
	return 0;
}

void
tlog_log_close(struct tlog_log *l)
{
	if (l == NULL)
		return;
	if (l->dirfd >= 0)
		close(l->dirfd); /* and the flock with it */
	pthread_mutex_destroy(&l->lock);
	pthread_mutex_destroy(&l->wlock);
	tcache_free(l);
	pthread_rwlock_destroy(&l->clock);
	free(l->cp);
	free(l->dir);
	free(l->origin);
	free(l);
}

uint64_t
tlog_log_size(const struct tlog_log *l)
{
	return atomic_load(&l->size);
}

int
tlog_log_checkpoint(struct tlog_log *l, char **text, size_t *len,
		    uint64_t *size)
{
	pthread_mutex_lock(&l->lock);
	*text = xmalloc(l->cp_len + 1);
	memcpy(*text, l->cp, l->cp_len + 1);
	*len = l->cp_len;
	if (size != NULL)
		*size = atomic_load(&l->size);
	pthread_mutex_unlock(&l->lock);
	return 0;
}

int
tlog_log_read(struct tlog_log *l, const char *relpath, uint8_t **data,
	      size_t *len)
{
	struct tile_entry ent[TILE_WIDTH];
	uint64_t base = atomic_load(&l->size);
	size_t plen;
	struct tile t;
	unsigned w;
	uint8_t *buf;
	int rc;

	*data = NULL;
	*len = 0;
	if (relpath == NULL)
		return VG_ENOENT;
	if (strcmp(relpath, CHECKPOINT_FILE) == 0) {
		char *text;

		tlog_log_checkpoint(l, &text, len, NULL);
		*data = (uint8_t *)text;
		return 0;
	}
	plen = strnlen(relpath, TILE_PATH_MAX);
	if (plen == TILE_PATH_MAX ||
	    tile_parse_path(relpath, plen, &t, NULL, 0) != 0)
		return VG_ENOENT;
	/* From here on only t is used, never relpath. */
	if (t.level != TILE_ENTRIES) {
		buf = xmalloc(TILE_BYTES);
		if ((rc = read_hashes(l, false, base, &t, buf, NULL, 0)) != 0) {
			free(buf);
			return rc;
		}
		*data = buf;
		*len = (size_t)t.width * MERKLE_HASH_LEN;
		return 0;
	}
	if (width_at(base, TILE_ENTRIES, t.index) < t.width)
		return VG_ENOENT;
	rc = read_bundle(l, false, base, t.index, &buf, &plen, ent, &w, NULL,
			 0);
	if (rc != 0)
		return rc;
	/* A narrower bundle is the prefix of the published one. */
	*len = (size_t)(ent[t.width - 1].data + ent[t.width - 1].len - buf);
	*data = buf;
	return 0;
}

int
tlog_log_entry(struct tlog_log *l, uint64_t index, uint8_t **data, size_t *len)
{
	struct tile_entry ent[TILE_WIDTH];
	uint64_t base = atomic_load(&l->size);
	struct tile t = {0, index / TILE_WIDTH, 0};
	struct merkle_hash *hashes = NULL, h;
	unsigned k = (unsigned)(index % TILE_WIDTH), w;
	uint8_t *buf = NULL;
	size_t blen;
	int rc;

	*data = NULL;
	*len = 0;
	if (index >= base)
		return VG_ENOENT;
	rc = read_bundle(l, false, base, t.index, &buf, &blen, ent, &w, NULL,
			 0);
	if (rc != 0)
		return rc == VG_ENOENT ? VG_ECORRUPT : rc;
	t.width = k + 1;
	hashes = xmalloc(TILE_BYTES);
	if ((rc = read_hashes(l, false, base, &t, (uint8_t *)hashes, NULL,
			      0)) != 0)
		goto out;
	if ((rc = merkle_hash_leaf(ent[k].data, ent[k].len, &h)) != 0)
		goto out;
	if (!merkle_hash_equal(&h, &hashes[k])) {
		rc = VG_ECORRUPT;
		goto out;
	}
	*data = xmalloc(ent[k].len ? ent[k].len : 1);
	if (ent[k].len > 0)
		memcpy(*data, ent[k].data, ent[k].len);
	*len = ent[k].len;
out:
	free(hashes);
	free(buf);
	return rc == VG_ENOENT ? VG_ECORRUPT : rc;
}

int
tlog_log_prove_inclusion(struct tlog_log *l, uint64_t index, uint64_t size,
			 struct merkle_hash *proof, size_t *n)
{
	struct cache_ctx cc = {l, atomic_load(&l->size), size, NULL};
	struct merkle_reader mr = {cache_read, &cc};
	int rc;

	*n = 0;
	if (size == 0 || size > cc.base || index >= size)
		return VG_EINVAL;
	pthread_rwlock_rdlock(&l->clock);
	rc = merkle_prove_inclusion(&mr, index, size, proof, n, NULL, 0);
	pthread_rwlock_unlock(&l->clock);
	return rc;
}

int
tlog_log_prove_consistency(struct tlog_log *l, uint64_t size1, uint64_t size2,
			   struct merkle_hash *proof, size_t *n)
{
	struct cache_ctx cc = {l, atomic_load(&l->size), size2, NULL};
	struct merkle_reader mr = {cache_read, &cc};
	int rc;

	*n = 0;
	if (size1 == 0 || size1 > size2 || size2 > cc.base)
		return VG_EINVAL;
	pthread_rwlock_rdlock(&l->clock);
	rc = merkle_prove_consistency(&mr, size1, size2, proof, n, NULL, 0);
	pthread_rwlock_unlock(&l->clock);
	return rc;
}

int
tlog_log_find(struct tlog_log *l, const struct merkle_hash *leaf_hash,
	      uint64_t *index)
{
	uint64_t base = atomic_load(&l->size);
	struct merkle_hash *hashes;
	int rc = VG_ENOENT;

	if (base == 0)
		return VG_ENOENT;
	hashes = xmalloc(TILE_BYTES);
	for (uint64_t n = 0; n <= (base - 1) / TILE_WIDTH; n++) {
		struct tile t = {0, n, width_at(base, 0, n)};

		if ((rc = read_hashes(l, false, base, &t, (uint8_t *)hashes,
				      NULL, 0)) != 0) {
			rc = rc == VG_ENOENT ? VG_ECORRUPT : rc;
			break;
		}
		rc = VG_ENOENT;
		for (unsigned i = 0; i < t.width; i++)
			if (merkle_hash_equal(&hashes[i], leaf_hash)) {
				*index = n * TILE_WIDTH + i;
				rc = 0;
				break;
			}
		if (rc == 0)
			break;
	}
	free(hashes);
	return rc;
}
