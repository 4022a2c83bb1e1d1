/*
 * streams.c - gzip, bzip2 and xz members, and where zip and tar data end.
 *
 * Each decoder is given the whole remaining input and an output buffer
 * that grows, in steps of at most STEP bytes, up to one byte past its
 * limit: that byte is how a member is known to be too large. After every
 * step the bounds are checked (size, ratio, time), so a bomb stops within
 * one step of its limit. The input is hostile: every header field is read
 * through a length, and anything that does not parse ends the walk with a
 * problem rather than a guess.
 */
#include "engine/streams.h"

#include <bzlib.h>
#include <limits.h>
#include <lzma.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/clock.h"
#include "common/xmalloc.h"
#include "engine/limits.h"

/* Most output produced between two checks of the bounds. */
#define STEP (4U * 1024 * 1024)
/* Smallest output buffer. */
#define FIRST_CAP (64U * 1024)
/* deflate cannot expand more than this: a larger ISIZE is not one. */
#define DEFLATE_MAX_RATIO 1032
/* The memory an xz stream may ask for: enough for xz -9 (64 MiB
 * dictionary), not for a stream that asks for gigabytes. */
#define XZ_MEMLIMIT (128ULL * 1024 * 1024)

struct outbuf {
	uint8_t *p;
	size_t len, cap;
	size_t limit;         /* most bytes allowed */
	uint32_t limit_kind;  /* the limit that says so */
	uint64_t deadline_ms; /* from the bounds */
	uint32_t max_ratio;
	bool oom; /* the buffer could not grow */
};

enum member_end {
	M_END = 0, /* the member ended, and passed its checks */
	M_TRUNC,   /* the input ended first */
	M_BAD,     /* corrupt data or a failed check: see why */
	M_LIMIT,   /* a bound was hit: see limit */
};

struct member {
	size_t used;     /* input bytes consumed */
	char name[256];  /* gzip's stored name, "" if none */
	const char *why; /* for M_BAD; static storage */
	uint32_t limit;  /* for M_LIMIT */
};

/* Room for the next step of output: 0 once the buffer holds one byte
 * past its limit, or when it cannot grow (o->oom): a hostile stream may
 * ask for hundreds of megabytes, and running out of them is a problem
 * to report, not a reason to die. */
static size_t
out_room(struct outbuf *o)
{
	size_t room;

	if (o->len > o->limit)
		return 0;
	if (o->len == o->cap) {
		size_t ncap = o->cap < FIRST_CAP ? FIRST_CAP : o->cap * 2;
		uint8_t *np;

		if (ncap > o->limit + 1 || ncap < o->cap)
			ncap = o->limit + 1;
		if ((np = realloc(o->p, ncap)) == NULL) {
			o->oom = true;
			return 0;
		}
		o->p = np;
		o->cap = ncap;
	}
	room = o->cap - o->len;
	return room < STEP ? room : STEP;
}

/* Checks the bounds after a step; true (and *limit set) if one is hit. */
static bool
over_bounds(struct outbuf *o, uint64_t in_used, uint32_t *limit)
{
	if (o->len > o->limit) {
		o->len = o->limit; /* what is kept stays within the limit */
		*limit = o->limit_kind;
		return true;
	}
	if (o->len > VG_LIMIT_RATIO_FLOOR &&
	    o->len / (in_used ? in_used : 1) > o->max_ratio) {
		*limit = VG_LIMIT_RATIO;
		return true;
	}
	if (clock_ms() >= o->deadline_ms) {
		*limit = VG_LIMIT_TIME;
		return true;
	}
	return false;
}

/* Room for a decoder's next step, having used in_used bytes of input;
 * 0 when the member must end there, with *end set to M_BAD (out of
 * memory) or M_LIMIT (m->limit says which). */
static size_t
step_room(struct outbuf *o, uint64_t in_used, struct member *m,
	  enum member_end *end)
{
	size_t room = out_room(o);

	if (room == 0 && o->oom) {
		m->why = "out of memory";
		*end = M_BAD;
		return 0;
	}
	if (room == 0 || over_bounds(o, in_used, &m->limit)) {
		if (room == 0)
			over_bounds(o, in_used, &m->limit);
		*end = M_LIMIT;
		return 0;
	}
	return room;
}

/* The next piece of in (inlen bytes, *fed of them handed over) for a
 * decoder that counts its input in unsigned int; adds it to *fed. */
static unsigned int
next_input(size_t inlen, size_t *fed)
{
	size_t n = inlen - *fed < UINT_MAX ? inlen - *fed : UINT_MAX;

	*fed += n;
	return (unsigned int)n;
}

static enum member_end
gzip_member(const uint8_t *in, size_t inlen, struct outbuf *o, struct member *m)
{
	z_stream z;
	gz_header h;
	size_t fed = 0;
	enum member_end end;

	memset(&z, 0, sizeof(z));
	memset(&h, 0, sizeof(h));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		m->why = "zlib: out of memory";
		return M_BAD;
	}
	h.name = (Bytef *)m->name;
	h.name_max = sizeof(m->name) - 1;
	inflateGetHeader(&z, &h);
	for (;;) {
		size_t room = step_room(o, fed - z.avail_in, m, &end);
		int rc;

		if (room == 0)
			break;
		if (z.avail_in == 0 && fed < inlen) {
			z.next_in = (Bytef *)(uintptr_t)(in + fed);
			z.avail_in = next_input(inlen, &fed);
		}
		z.next_out = o->p + o->len;
		z.avail_out = (uInt)room;
		rc = inflate(&z, Z_NO_FLUSH);
		o->len += room - z.avail_out;
		if (rc == Z_STREAM_END) {
			end = M_END;
			break;
		}
		if (rc == Z_DATA_ERROR) {
			/* zlib's messages are static strings */
			m->why = z.msg ? z.msg : "corrupt data";
			end = M_BAD;
			break;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			m->why = "zlib failed";
			end = M_BAD;
			break;
		}
		if (z.avail_in == 0 && fed == inlen && z.avail_out > 0) {
			end = M_TRUNC;
			break;
		}
	}
	m->used = fed - z.avail_in;
	if (h.done != 1 || h.name == NULL)
		m->name[0] = '\0';
	m->name[sizeof(m->name) - 1] = '\0';
	inflateEnd(&z);
	return end;
}

static enum member_end
bzip2_member(const uint8_t *in, size_t inlen, struct outbuf *o,
	     struct member *m)
{
	bz_stream s;
	size_t fed = 0;
	enum member_end end;

	memset(&s, 0, sizeof(s));
	if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK) {
		m->why = "libbz2: out of memory";
		return M_BAD;
	}
	for (;;) {
		size_t room = step_room(o, fed - s.avail_in, m, &end);
		int rc;

		if (room == 0)
			break;
		if (s.avail_in == 0 && fed < inlen) {
			s.next_in = (char *)(uintptr_t)(in + fed);
			s.avail_in = next_input(inlen, &fed);
		}
		s.next_out = (char *)(o->p + o->len);
		s.avail_out = (unsigned int)room;
		rc = BZ2_bzDecompress(&s);
		o->len += room - s.avail_out;
		if (rc == BZ_STREAM_END) {
			end = M_END;
			break;
		}
		if (rc == BZ_DATA_ERROR) {
			m->why = "a block or stream CRC does not match, or the "
				 "data is corrupt";
			end = M_BAD;
			break;
		}
		if (rc == BZ_DATA_ERROR_MAGIC) {
			m->why = "not a bzip2 stream";
			end = M_BAD;
			break;
		}
		if (rc != BZ_OK) {
			m->why = "libbz2 failed";
			end = M_BAD;
			break;
		}
		if (s.avail_in == 0 && fed == inlen && s.avail_out > 0) {
			end = M_TRUNC;
			break;
		}
	}
	m->used = fed - s.avail_in;
	BZ2_bzDecompressEnd(&s);
	return end;
}

static enum member_end
xz_member(const uint8_t *in, size_t inlen, struct outbuf *o, struct member *m)
{
	lzma_stream s = LZMA_STREAM_INIT;
	enum member_end end;

	/* One stream only: the next one is the caller's next member. */
	if (lzma_stream_decoder(&s, XZ_MEMLIMIT, 0) != LZMA_OK) {
		m->why = "liblzma: out of memory";
		return M_BAD;
	}
	s.next_in = in;
	s.avail_in = inlen;
	for (;;) {
		size_t room = step_room(o, s.total_in, m, &end);
		lzma_ret rc;

		if (room == 0)
			break;
		s.next_out = o->p + o->len;
		s.avail_out = room;
		rc = lzma_code(&s, LZMA_FINISH);
		o->len += room - s.avail_out;
		if (rc == LZMA_STREAM_END) {
			end = M_END;
			break;
		}
		if (rc == LZMA_OK)
			continue;
		if (rc == LZMA_BUF_ERROR && s.avail_in == 0) {
			end = M_TRUNC;
			break;
		}
		m->why = rc == LZMA_DATA_ERROR
				 ? "the data is corrupt or fails its check"
			 : rc == LZMA_MEMLIMIT_ERROR
				 ? "it needs more than 128 MiB of memory"
			 : rc == LZMA_FORMAT_ERROR ? "not an xz stream"
			 : rc == LZMA_OPTIONS_ERROR
				 ? "it uses options liblzma does not support"
				 : "liblzma failed";
		end = M_BAD;
		break;
	}
	m->used = (size_t)s.total_in;
	lzma_end(&s);
	return end;
}

static const char *
format_name(enum stream_format f)
{
	switch (f) {
	case STREAM_GZIP: return "gzip";
	case STREAM_BZIP2: return "bzip2";
	case STREAM_XZ: return "xz";
	}
	return "stream";
}

/* True if p (n bytes) starts another member of format f. */
static bool
member_starts(enum stream_format f, const uint8_t *p, size_t n)
{
	switch (f) {
	case STREAM_GZIP: return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
	case STREAM_BZIP2:
		return n >= 4 && memcmp(p, "BZh", 3) == 0 && p[3] >= '1' &&
		       p[3] <= '9';
	case STREAM_XZ:
		return n >= 6 && memcmp(p,
					"\xfd"
					"7zXZ\0",
					6) == 0;
	}
	return false;
}

/* True if p (n bytes) is the start of a member's magic, cut short. */
static bool
member_cut(enum stream_format f, const uint8_t *p, size_t n)
{
	/* xz's magic is FD 37 7A 58 5A: "\xfd7zXZ" would read \xfd7 as one
	 * escape, hence two literals, joined on purpose. */
	static const char *const magic[] = {"\x1f\x8b", "BZh",
					    ("\xfd"
					     "7zXZ")};
	const char *m = magic[f];

	return n < strlen(m) && memcmp(p, m, n) == 0;
}

int
stream_all_zero(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != 0)
			return 0;
	return 1;
}

int
stream_format_of(const char *cl_type, enum stream_format *f)
{
	if (cl_type == NULL)
		return -1;
	if (strcmp(cl_type, "CL_TYPE_GZ") == 0)
		*f = STREAM_GZIP;
	else if (strcmp(cl_type, "CL_TYPE_BZ") == 0)
		*f = STREAM_BZIP2;
	else if (strcmp(cl_type, "CL_TYPE_XZ") == 0)
		*f = STREAM_XZ;
	else
		return -1;
	return 0;
}

static struct stream_part *
add_part(struct stream_result *r, uint64_t offset)
{
	struct stream_part *p;

	r->parts = xreallocarray(r->parts, r->n_parts + 1, sizeof(*r->parts));
	p = &r->parts[r->n_parts++];
	memset(p, 0, sizeof(*p));
	p->offset = offset;
	return p;
}

static void
set_problem(struct stream_result *r, char *msg)
{
	if (r->problem == NULL)
		r->problem = msg;
	else
		free(msg);
}

/*
 * gzip's last four bytes are the last member's size (mod 2^32): a bomb
 * declares itself before it is inflated. A value deflate could not have
 * produced from this input is not a size, and is ignored.
 */
static bool
gzip_declared_too_big(const uint8_t *buf, size_t len,
		      const struct stream_bounds *b, uint64_t total,
		      uint32_t *limit)
{
	uint64_t isize;

	if (len < 18)
		return false;
	isize = (uint64_t)buf[len - 4] | (uint64_t)buf[len - 3] << 8 |
		(uint64_t)buf[len - 2] << 16 | (uint64_t)buf[len - 1] << 24;
	if (isize > (uint64_t)len * DEFLATE_MAX_RATIO)
		return false;
	if (isize > b->max_member)
		*limit = VG_LIMIT_FILE_SIZE;
	else if (isize > total)
		*limit = VG_LIMIT_SCAN_BYTES;
	else if (isize > VG_LIMIT_RATIO_FLOOR && isize / len > b->max_ratio)
		*limit = VG_LIMIT_RATIO;
	else
		return false;
	return true;
}

/*
 * An xz file's index states each stream's uncompressed and compressed
 * size: read from the end of the file, without decompressing anything.
 * A file the index decoder cannot read (appended bytes, corruption) is
 * left to the bounded decoding, which says what is wrong with it.
 */
static bool
xz_declared_too_big(const uint8_t *buf, size_t len,
		    const struct stream_bounds *b, uint64_t total,
		    uint32_t *limit)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_index *idx = NULL;
	lzma_index_iter it;
	lzma_ret rc;
	bool over = false;

	if (lzma_file_info_decoder(&s, &idx, 16 * 1024 * 1024, len) != LZMA_OK)
		return false;
	s.next_in = buf;
	s.avail_in = len;
	/* Given the whole file, the decoder seeks within it by itself. */
	rc = lzma_code(&s, LZMA_FINISH);
	lzma_end(&s);
	if (rc != LZMA_STREAM_END || idx == NULL) {
		if (idx != NULL)
			lzma_index_end(idx, NULL);
		return false;
	}
	if (lzma_index_uncompressed_size(idx) > total) {
		*limit = VG_LIMIT_SCAN_BYTES;
		over = true;
	}
	lzma_index_iter_init(&it, idx);
	while (!lzma_index_iter_next(&it, LZMA_INDEX_ITER_STREAM)) {
		uint64_t out = it.stream.uncompressed_size;
		uint64_t in = it.stream.compressed_size
				      ? it.stream.compressed_size
				      : 1;

		if (out > b->max_member) {
			*limit = VG_LIMIT_FILE_SIZE;
			over = true;
			break;
		}
		if (out > VG_LIMIT_RATIO_FLOOR && out / in > b->max_ratio) {
			*limit = VG_LIMIT_RATIO;
			over = true;
			break;
		}
	}
	lzma_index_end(idx, NULL);
	return over;
}

void
stream_split(enum stream_format f, const uint8_t *buf, size_t len,
	     const struct stream_bounds *b, struct stream_result *out)
{
	uint64_t total = b->max_total;
	size_t off = 0;
	unsigned int n = 0;

	if (f == STREAM_GZIP &&
	    gzip_declared_too_big(buf, len, b, total, &out->limits_hit))
		return;
	if (f == STREAM_XZ &&
	    xz_declared_too_big(buf, len, b, total, &out->limits_hit))
		return;
	while (off < len) {
		struct outbuf o;
		struct member m;
		struct stream_part *p;
		enum member_end end;

		if (n > 0 && !member_starts(f, buf + off, len - off)) {
			/* xz pads between streams with zeros; gzip and bzip2
			 * files are often padded to a block. */
			while (off < len && buf[off] == 0)
				off++;
			if (off == len)
				break;
			if (member_starts(f, buf + off, len - off))
				continue;
			if (member_cut(f, buf + off, len - off)) {
				set_problem(out,
					    xasprintf("%s member %u at offset "
						      "%zu is truncated in "
						      "its header",
						      format_name(f), n + 1,
						      off));
				break;
			}
			if (len - off > b->max_member || len - off > total) {
				out->limits_hit |=
					len - off > b->max_member
						? VG_LIMIT_FILE_SIZE
						: VG_LIMIT_SCAN_BYTES;
				break;
			}
			p = add_part(out, off);
			p->name = xstrdup("#appended");
			p->len = len - off;
			p->in_len = len - off;
			p->data = xmalloc(p->len);
			memcpy(p->data, buf + off, p->len);
			break;
		}
		memset(&o, 0, sizeof(o));
		memset(&m, 0, sizeof(m));
		o.limit =
			(size_t)(b->max_member < total ? b->max_member : total);
		o.limit_kind = b->max_member < total ? VG_LIMIT_FILE_SIZE
						     : VG_LIMIT_SCAN_BYTES;
		o.deadline_ms = b->deadline_ms;
		o.max_ratio = b->max_ratio;
		switch (f) {
		case STREAM_GZIP:
			end = gzip_member(buf + off, len - off, &o, &m);
			break;
		case STREAM_BZIP2:
			end = bzip2_member(buf + off, len - off, &o, &m);
			break;
		default: end = xz_member(buf + off, len - off, &o, &m); break;
		}
		n++;
		/* A member that failed before yielding a byte is no object;
		 * an empty member that ended well is one (an empty file). */
		if (o.len == 0 && end != M_END) {
			free(o.p);
		} else {
			p = add_part(out, off);
			p->data = o.p;
			p->len = o.len;
			p->in_len = m.used;
			if (m.name[0] != '\0')
				p->name = xstrdup(m.name);
			else if (n > 1)
				p->name = xasprintf("#member%u", n);
			total -= o.len;
		}
		if (end == M_LIMIT) {
			out->limits_hit |= m.limit;
			break;
		}
		if (end == M_TRUNC) {
			set_problem(out,
				    xasprintf("%s member %u at offset %zu "
					      "is truncated: its data ends "
					      "after %zu bytes",
					      format_name(f), n, off,
					      len - off));
			break;
		}
		if (end == M_BAD) {
			set_problem(out,
				    xasprintf("%s member %u at offset %zu: "
					      "%s",
					      format_name(f), n, off, m.why));
			break;
		}
		if (m.used == 0)
			break; /* cannot happen; never loop on no progress */
		off += m.used;
	}
}

void
stream_result_free(struct stream_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_parts; i++) {
		free(r->parts[i].data);
		free(r->parts[i].name);
	}
	free(r->parts);
	free(r->problem);
	memset(r, 0, sizeof(*r));
}

static uint32_t
rd16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/*
 * The end record that belongs to this zip is the one whose central
 * directory ends where the record starts (or where its zip64 end record
 * starts, when a zip64 locator sits just before it). Searching back from
 * the end, a second zip glued on (whose offsets count from its own start)
 * does not qualify, nor does an end record inside a stored member.
 */
size_t
stream_zip_end(const uint8_t *buf, size_t len)
{
	if (len < 22)
		return 0;
	for (size_t i = len - 22 + 1; i-- > 0;) {
		const uint8_t *e = buf + i;
		uint64_t cd_size, cd_off, end;

		if (e[0] != 'P' || e[1] != 'K' || e[2] != 5 || e[3] != 6)
			continue;
		end = (uint64_t)i + 22 + rd16(e + 20);
		if (end > len)
			continue;
		cd_size = rd32(e + 12);
		cd_off = rd32(e + 16);
		/* zip64 keeps the real values in its own end record, found
		 * through the locator: trust the record's place and comment
		 * alone. */
		if (cd_size == 0xffffffffu || cd_off == 0xffffffffu ||
		    (i >= 20 && memcmp(e - 20, "PK\x06\x07", 4) == 0))
			return (size_t)end;
		if (cd_off + cd_size == i)
			return (size_t)end;
	}
	return 0;
}

/* A tar header's checksum: its bytes summed with the checksum field as
 * spaces, unsigned (POSIX) or signed (some old tars). */
static bool
tar_checksum_ok(const uint8_t *h)
{
	uint64_t want = 0;
	int64_t sum_s = 0;
	uint64_t sum_u = 0;
	size_t i = 148;
	bool digits = false;

	while (i < 156 && h[i] == ' ')
		i++;
	for (; i < 156 && h[i] >= '0' && h[i] <= '7'; i++) {
		want = want * 8 + (uint64_t)(h[i] - '0');
		digits = true;
	}
	if (!digits)
		return false;
	for (i = 0; i < 512; i++) {
		uint8_t c = (i >= 148 && i < 156) ? ' ' : h[i];

		sum_u += c;
		sum_s += (int8_t)c;
	}
	return sum_u == want || (uint64_t)sum_s == want;
}

/* The size field: octal, or base-256 when its first byte's top bit is
 * set (GNU, for sizes of 8 GiB and more). false if it makes no sense. */
static bool
tar_size(const uint8_t *h, uint64_t *size)
{
	const uint8_t *f = h + 124;
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80) {
		for (i = 1; i < 12; i++) {
			if (v >> 56)
				return false;
			v = v << 8 | f[i];
		}
		*size = v;
		return true;
	}
	while (i < 12 && f[i] == ' ')
		i++;
	for (; i < 12 && f[i] >= '0' && f[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(f[i] - '0');
	*size = v;
	return true;
}

size_t
stream_tar_end(const uint8_t *buf, size_t len, int *truncated)
{
	size_t off = 0;

	*truncated = 0;
	while (len - off >= 512) {
		const uint8_t *h = buf + off;
		uint64_t size, blocks;

		if (stream_all_zero(h, 512)) {
			off += 512;
			if (len - off >= 512 && stream_all_zero(buf + off, 512))
				off += 512;
			return off;
		}
		if (!tar_checksum_ok(h) || !tar_size(h, &size))
			return off;
		/* Links and directories have no data, whatever the size. */
		if (h[156] == '1' || h[156] == '2' || h[156] == '5')
			size = 0;
		blocks = size / 512 + (size % 512 != 0);
		if (blocks > (len - off) / 512 - 1) {
			*truncated = 1; /* the data runs past the end */
			return len;
		}
		off += 512 + (size_t)blocks * 512;
	}
	return off;
}
