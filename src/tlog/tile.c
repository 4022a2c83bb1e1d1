/*
 * tile.c - tlog-tiles coordinates, paths, entry bundles and a hash reader
 * over tiles; see tile.h.
 */
#include "tlog/tile.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "tlog/util.h"

_Static_assert(TILE_WIDTH == 1 << TILE_HEIGHT, "a tile is 8 levels high");

/* Hashes at tile level `level` in a tree of size leaves. */
static uint64_t
level_hashes(uint64_t size, unsigned level)
{
	return level * TILE_HEIGHT >= 64 ? 0 : size >> (level * TILE_HEIGHT);
}

int
tile_path(const struct tile *t, char buf[TILE_PATH_MAX])
{
	char num[TLOG_U64_DIGITS + 2];
	int digits, n, len;

	if (t->level < TILE_ENTRIES || t->level > TILE_MAX_LEVEL ||
	    t->width < 1 || t->width > TILE_WIDTH)
		return VG_EINVAL;
	/* N zero-padded to a multiple of three digits. */
	digits = snprintf(NULL, 0, "%" PRIu64, t->index);
	n = snprintf(num, sizeof(num), "%0*" PRIu64, (digits + 2) / 3 * 3,
		     t->index);
	if (t->level == TILE_ENTRIES)
		len = snprintf(buf, TILE_PATH_MAX, "tile/entries/");
	else
		len = snprintf(buf, TILE_PATH_MAX, "tile/%d/", t->level);
	for (int g = 0; g < n; g += 3)
		len += snprintf(buf + len, TILE_PATH_MAX - (size_t)len,
				g + 3 < n ? "x%.3s/" : "%.3s", num + g);
	if (t->width < TILE_WIDTH)
		snprintf(buf + len, TILE_PATH_MAX - (size_t)len, ".p/%u",
			 t->width);
	return 0;
}

static bool
three_digits(const char *p)
{
	for (int i = 0; i < 3; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

int
tile_parse_path(const char *path, size_t len, struct tile *t, char *err,
		size_t errlen)
{
	const char *p = path, *end = path + len, *slash;
	uint64_t v, n = 0;
	bool first = true;

	if (len < 5 || memcmp(p, "tile/", 5) != 0) {
		vg_seterr(err, errlen, "tile path does not start with tile/");
		return VG_EFORMAT;
	}
	p += 5;
	if ((slash = tlog_memchr(p, (size_t)(end - p), '/')) == NULL) {
		vg_seterr(err, errlen, "tile path has no index");
		return VG_EFORMAT;
	}
	if (slash - p == 7 && memcmp(p, "entries", 7) == 0) {
		t->level = TILE_ENTRIES;
	} else if (tlog_parse_u64(p, (size_t)(slash - p), &v) != 0 ||
		   v > TILE_MAX_LEVEL) {
		vg_seterr(err, errlen, "tile level is not 0..%d",
			  TILE_MAX_LEVEL);
		return VG_EFORMAT;
	} else {
		t->level = (int)v;
	}
	p = slash + 1;

	/* Groups "xDDD/", then a last "DDD". */
	for (;;) {
		bool more = end - p >= 1 && *p == 'x';
		uint64_t g;

		if (more)
			p++;
		if (end - p < 3 || !three_digits(p)) {
			vg_seterr(err, errlen,
				  "tile index group is not three digits");
			return VG_EFORMAT;
		}
		g = (uint64_t)(p[0] - '0') * 100 + (uint64_t)(p[1] - '0') * 10 +
		    (uint64_t)(p[2] - '0');
		if (more && first && g == 0) {
			vg_seterr(err, errlen,
				  "tile index has a leading zero group");
			return VG_EFORMAT;
		}
		if (n > (UINT64_MAX - g) / 1000) {
			vg_seterr(err, errlen, "tile index above 2^64-1");
			return VG_EFORMAT;
		}
		n = n * 1000 + g;
		p += 3;
		first = false;
		if (!more)
			break;
		if (p == end || *p != '/') {
			vg_seterr(err, errlen,
				  "tile index group x%.3s is the last", p - 3);
			return VG_EFORMAT;
		}
		p++;
	}
	t->index = n;
	t->width = TILE_WIDTH;
	if (p == end)
		return 0;
	if (end - p < 3 || memcmp(p, ".p/", 3) != 0) {
		vg_seterr(err, errlen, "tile path has junk after its index");
		return VG_EFORMAT;
	}
	p += 3;
	if (tlog_parse_u64(p, (size_t)(end - p), &v) != 0 || v < 1 ||
	    v >= TILE_WIDTH) {
		vg_seterr(err, errlen, "partial tile width is not 1..%d",
			  TILE_WIDTH - 1);
		return VG_EFORMAT;
	}
	t->width = (unsigned)v;
	return 0;
}

void
tile_count(uint64_t size, unsigned level, uint64_t *full, unsigned *partial)
{
	uint64_t h = level_hashes(size, level);

	*full = h / TILE_WIDTH;
	*partial = (unsigned)(h % TILE_WIDTH);
}

int
tile_walk(uint64_t old_size, uint64_t new_size, bool entries,
	  int (*fn)(const struct tile *t, void *ud), void *ud)
{
	if (old_size > new_size)
		return VG_EINVAL;
	for (unsigned level = 0; level * TILE_HEIGHT < 64; level++) {
		uint64_t fo, fnew;
		unsigned po, pnew;
		struct tile t;
		int rc;

		tile_count(new_size, level, &fnew, &pnew);
		tile_count(old_size, level, &fo, &po);
		if (fnew == 0 && pnew == 0)
			break;
		t.level = entries ? TILE_ENTRIES : (int)level;
		t.width = TILE_WIDTH;
		for (t.index = fo; t.index < fnew; t.index++)
			if ((rc = fn(&t, ud)) != 0)
				return rc;
		if (pnew > 0 && (fnew != fo || pnew != po)) {
			t.index = fnew;
			t.width = pnew;
			if ((rc = fn(&t, ud)) != 0)
				return rc;
		}
		if (entries)
			break;
	}
	return 0;
}

int
tile_locate(uint64_t size, unsigned level, uint64_t index, struct tile *t,
	    unsigned *first, unsigned *count)
{
	unsigned sub = level % TILE_HEIGHT;
	uint64_t pos, avail;

	/* The subtree is complete iff (index + 1) * 2^level <= size. */
	if (level >= 64 || index >= size >> level)
		return VG_EINVAL;
	pos = index << sub; /* < 2^(64 - level + sub): no overflow */
	t->level = (int)(level / TILE_HEIGHT);
	t->index = pos / TILE_WIDTH;
	avail = level_hashes(size, (unsigned)t->level) - t->index * TILE_WIDTH;
	t->width = avail >= TILE_WIDTH ? TILE_WIDTH : (unsigned)avail;
	*first = (unsigned)(pos % TILE_WIDTH);
	*count = 1u << sub;
	return 0;
}

int
tile_bundle_parse(const uint8_t *data, size_t len, unsigned width,
		  struct tile_entry entries[], char *err, size_t errlen)
{
	size_t off = 0;

	if (width < 1 || width > TILE_WIDTH) {
		vg_seterr(err, errlen, "bundle width %u is not 1..%d", width,
			  TILE_WIDTH);
		return VG_EINVAL;
	}
	for (unsigned i = 0; i < width; i++) {
		size_t n;

		if (len - off < 2) {
			vg_seterr(err, errlen,
				  "bundle ends before entry %u of %u", i,
				  width);
			return VG_EFORMAT;
		}
		n = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (len - off < n) {
			vg_seterr(err, errlen,
				  "bundle entry %u declares %zu bytes, %zu "
				  "remain",
				  i, n, len - off);
			return VG_EFORMAT;
		}
		entries[i].data = data + off;
		entries[i].len = n;
		off += n;
	}
	if (off != len) {
		vg_seterr(err, errlen, "%zu bytes after the last entry",
			  len - off);
		return VG_EFORMAT;
	}
	return 0;
}

size_t
tile_bundle_size(const struct tile_entry *entries, size_t n)
{
	size_t size = 0;

	if (n < 1 || n > TILE_WIDTH)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (entries[i].len > TILE_ENTRY_MAX)
			return 0;
		size += 2 + entries[i].len;
	}
	return size;
}

int
tile_bundle_encode(const struct tile_entry *entries, size_t n, uint8_t *out)
{
	if (tile_bundle_size(entries, n) == 0)
		return VG_ELIMIT;
	for (size_t i = 0; i < n; i++) {
		*out++ = (uint8_t)(entries[i].len >> 8);
		*out++ = (uint8_t)entries[i].len;
		if (entries[i].len > 0)
			memcpy(out, entries[i].data, entries[i].len);
		out += entries[i].len;
	}
	return 0;
}

int
tile_bundle_verify(const struct tile_entry *entries, size_t n,
		   const uint8_t *tile, size_t tile_len, char *err,
		   size_t errlen)
{
	if (n > TILE_WIDTH || tile_len != n * MERKLE_HASH_LEN) {
		vg_seterr(err, errlen, "tile of %zu bytes for %zu entries",
			  tile_len, n);
		return VG_EFORMAT;
	}
	for (size_t i = 0; i < n; i++) {
		struct merkle_hash h;
		int rc;

		rc = merkle_hash_leaf(entries[i].data, entries[i].len, &h);
		if (rc != 0) {
			vg_seterr(err, errlen, "hashing failed");
			return rc;
		}
		if (memcmp(h.b, tile + i * MERKLE_HASH_LEN, MERKLE_HASH_LEN)) {
			vg_seterr(err, errlen,
				  "entry %zu does not match its leaf hash", i);
			return VG_EVERIFY;
		}
	}
	return 0;
}

void
tile_reader_init(struct tile_reader *tr, uint64_t size, tile_read_fn read,
		 void *ud)
{
	memset(tr, 0, sizeof(*tr));
	tr->size = size;
	tr->read = read;
	tr->ud = ud;
}

static int
tile_reader_read(void *ctx, unsigned level, uint64_t index,
		 struct merkle_hash *out)
{
	struct tile_reader *tr = ctx;
	unsigned first, count;
	struct tile t;
	size_t len = 0;
	int rc;

	if (tile_locate(tr->size, level, index, &t, &first, &count) != 0)
		return VG_EINVAL;
	if (!tr->cached || tr->tile.level != t.level ||
	    tr->tile.index != t.index || tr->tile.width != t.width) {
		tr->cached = false;
		rc = tr->read(tr->ud, &t, (uint8_t *)tr->buf, &len);
		if (rc != 0)
			return rc;
		if (len != (size_t)t.width * MERKLE_HASH_LEN)
			return VG_ECORRUPT;
		tr->tile = t;
		tr->cached = true;
	}
	if (count == 1) {
		*out = tr->buf[first];
		return 0;
	}
	return merkle_root(tr->buf + first, count, out);
}

struct merkle_reader
tile_reader_merkle(struct tile_reader *tr)
{
	return (struct merkle_reader){tile_reader_read, tr};
}
