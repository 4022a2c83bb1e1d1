/*
 * ssdeep.c - fast buffer-only ssdeep digest; see ssdeep.h.
 *
 * The digest, restated from the algorithm (Tridgell's spamsum as extended
 * by Kornblum's ssdeep and libfuzzy 2.14's multi-block-size engine):
 *
 *   r(p)   the rolling value at byte p. It depends only on the seven bytes
 *          b[p-6..p] (bytes before the buffer count as zero):
 *            r = sum_k (8-k)*b[p-k]  +  xor_k (b[p-k] << 5k)   (mod 2^32)
 *          for k = 0..6 (the Adler-like sums h1+h2 plus the shift/xor h3).
 *   level  i = 0..30 stands for block size bs(i) = 3 << i. Byte p is a
 *          trigger of level i when x = r(p)+1 (mod 2^32) is non-zero and a
 *          multiple of bs(i); triggers of level i+1 are triggers of level i.
 *   piece  the 6-bit FNV hash (h = h*0x01000193 ^ byte, start 0x28021967,
 *          keep the low 6 bits) of the bytes after one trigger up to and
 *          including the next. Each level's digest is the base64 letters of
 *          its first 63 pieces; from the 64th trigger on, the 63rd trigger's
 *          piece simply keeps growing.
 *
 * The result uses the guessed level g (smallest with bs*64 >= len) or the
 * largest smaller level with at least 32 triggers (level 0 if none), and
 * its neighbour one level up truncated to 31 pieces. Each half ends in one
 * more letter: the hash of the unfinished piece if r at the last byte is
 * non-zero, else the hash of the piece ending at the last trigger if there
 * were more triggers than letters. Level 30 has no neighbour: its second
 * half is that letter of the whole input.
 *
 * So the work is:
 *  (1) find the first 64 triggers of every level up to g+1, stopping early
 *      once all have them. A SIMD filter on the low byte of r rejects all
 *      but about 1/256 of the positions; at levels below 4, where it is
 *      weak, runs of one byte are decided at once and other blocks get an
 *      exact AVX2 test when the CPU has it. The last trigger, needed only
 *      when r is 0 at the end, is found by scanning back from the end.
 *  (2) hash the (at most 98) pieces of the two halves, each a separate
 *      job. Long jobs run 16 at a time in the byte lanes of an SSE2
 *      register (the 16 streams are transposed 16 bytes at a time); the
 *      rest run as four interleaved scalar chains.
 * The 6-bit FNV needs no masking on the way: the low bits of a product
 * and of a xor depend only on the low bits of the operands.
 */
#include "engine/ssdeep.h"

#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define HAVE_SSE2 1 /* part of x86-64; AVX2 is checked at run time */
#endif

#define NLEVELS    31 /* block sizes 3<<0 .. 3<<30 */
#define DIGEST_LEN 64 /* letters per level (SPAMSUM_LENGTH) */
#define HALF_LEN   32
#define WINDOW     7
#define FNV_START  0x27u /* low 6 bits of 0x28021967 */
#define FNV_MUL    19u   /* low 6 bits of 0x01000193 */
#define BLOCK      16    /* positions per filter step */
#define SORT_FROM  16384 /* input size worth balancing the pieces */

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Trigger positions of one level: the first DIGEST_LEN, and how many
 * (counting stops at DIGEST_LEN). */
struct level {
	size_t pos[DIGEST_LEN];
	unsigned cnt;
};

struct scan {
	const uint8_t *buf;
	size_t len;
	unsigned floor; /* lowest level with fewer than 64 triggers */
	unsigned top;   /* highest level that can be in the digest */
	bool avx2;      /* the CPU can run exact_avx2() */
	struct level lv[NLEVELS];
};

/*
 * One piece to hash: len bytes at p, starting from FNV state h; the 6-bit
 * result goes to *out.
 */
struct job {
	const uint8_t *p;
	size_t len;
	uint8_t *out;
	uint8_t h;
};

/* The rolling value at position p, from the window b[p-6..p]. */
static inline uint32_t
roll_at(const uint8_t *buf, size_t p)
{
	const uint8_t *q = buf + p;
	uint32_t s = 0, h = 0, c;
	unsigned k;

	if (p >= WINDOW - 1)
		return 8u * q[0] + 7u * q[-1] + 6u * q[-2] + 5u * q[-3] +
		       4u * q[-4] + 3u * q[-5] + 2u * q[-6] +
		       (q[0] ^ ((uint32_t)q[-1] << 5) ^
			((uint32_t)q[-2] << 10) ^ ((uint32_t)q[-3] << 15) ^
			((uint32_t)q[-4] << 20) ^ ((uint32_t)q[-5] << 25) ^
			((uint32_t)q[-6] << 30));
	for (k = 0; k <= p; k++) {
		c = buf[p - k];
		s += (8 - k) * c;
		h ^= c << (5 * k);
	}
	return s + h;
}

/* The highest level whose trigger r is, or -1 if r triggers none. */
static inline int
trigger_level(uint32_t r)
{
	uint32_t x = r + 1, q;

	if (x == 0)
		return -1;
	/* x * 3^-1 mod 2^32 is x/3 exactly when 3 divides x, else large. */
	q = x * 0xaaaaaaabu;
	if (q > 0x55555555u)
		return -1;
	return __builtin_ctz(q);
}

/* Counts the trigger at p for levels floor..min(lvl, top). */
static void
record(struct scan *s, size_t p, int lvl)
{
	unsigned l, hi;
	struct level *v;

	if (lvl < (int)s->floor)
		return;
	hi = (unsigned)lvl < s->top ? (unsigned)lvl : s->top;
	for (l = s->floor; l <= hi; l++) {
		v = &s->lv[l];
		if (v->cnt < DIGEST_LEN)
			v->pos[v->cnt++] = p;
	}
	while (s->floor <= s->top && s->lv[s->floor].cnt == DIGEST_LEN)
		s->floor++;
}

/* Whether the BLOCK+6 bytes from q-6 all hold the same value. */
static inline bool
is_run(const uint8_t *q)
{
#ifdef HAVE_SSE2
	__m128i c = _mm_set1_epi8((char)q[0]);
	__m128i a = _mm_loadu_si128((const __m128i *)(q - (WINDOW - 1)));
	__m128i b = _mm_loadu_si128((const __m128i *)q);

	a = _mm_and_si128(_mm_cmpeq_epi8(a, c), _mm_cmpeq_epi8(b, c));
	return _mm_movemask_epi8(a) == 0xffff;
#else
	int i;

	for (i = -(WINDOW - 1); i < BLOCK; i++)
		if (q[i] != q[0])
			return false;
	return true;
#endif
}

/*
 * Candidate mask of the BLOCK positions from q (q-6 must be readable):
 * bit j is set if r(q+j)+1 is a multiple of m+1 (m = 2^bits-1, bits <= 8)
 * in its low byte, which every trigger of level `bits' or above is.
 */
static inline unsigned
filter(const uint8_t *q, unsigned m)
{
#ifdef HAVE_SSE2
	__m128i mv = _mm_set1_epi8((char)m);
	__m128i c0 = _mm_loadu_si128((const __m128i *)q);
	__m128i c1 = _mm_loadu_si128((const __m128i *)(q - 1));
	__m128i c2 = _mm_loadu_si128((const __m128i *)(q - 2));
	__m128i c3 = _mm_loadu_si128((const __m128i *)(q - 3));
	__m128i c4 = _mm_loadu_si128((const __m128i *)(q - 4));
	__m128i c5 = _mm_loadu_si128((const __m128i *)(q - 5));
	__m128i c6 = _mm_loadu_si128((const __m128i *)(q - 6));
	__m128i t, sum, r;

	/*
	 * Low byte of the weighted sum 8c0+7c1+...+2c6 as prefix sums:
	 * t_k = c0+..+ck, sum = t0+..+t5 + 2*t6.
	 */
	t = c0;
	sum = t;
	t = _mm_add_epi8(t, c1);
	sum = _mm_add_epi8(sum, t);
	t = _mm_add_epi8(t, c2);
	sum = _mm_add_epi8(sum, t);
	t = _mm_add_epi8(t, c3);
	sum = _mm_add_epi8(sum, t);
	t = _mm_add_epi8(t, c4);
	sum = _mm_add_epi8(sum, t);
	t = _mm_add_epi8(t, c5);
	sum = _mm_add_epi8(sum, t);
	t = _mm_add_epi8(t, c6);
	sum = _mm_add_epi8(sum, _mm_add_epi8(t, t));
	/* Low byte of the shift/xor part: c0 ^ (c1 << 5). */
	r = _mm_and_si128(_mm_slli_epi16(c1, 5), _mm_set1_epi8((char)0xe0));
	r = _mm_add_epi8(sum, _mm_xor_si128(c0, r));
	/* r+1 == 0 (mod m+1)  <=>  (r & m) == m */
	r = _mm_cmpeq_epi8(_mm_and_si128(r, mv), mv);
	return (unsigned)_mm_movemask_epi8(r);
#else
	unsigned mask = 0, s;
	int j, k;

	for (j = 0; j < BLOCK; j++) {
		s = q[j] ^ ((unsigned)q[j - 1] << 5);
		for (k = 0; k < WINDOW; k++)
			s += (unsigned)(8 - k) * q[j - k];
		if (((s + 1) & m) == 0)
			mask |= 1u << j;
	}
	return mask;
#endif
}

#define EXACT_BELOW 4 /* levels where exact_avx2() beats filter() */

#ifdef HAVE_SSE2
#define HAVE_AVX2 1

/*
 * The 8 positions from q: all-ones lanes where r+1 is a non-zero multiple
 * of 3 whose quotient has the bits of lowbits clear.
 */
__attribute__((target("avx2"))) static inline __m256i
exact8_avx2(const uint8_t *q, __m256i lowbits)
{
	__m256i c[WINDOW], t, sum, h, x, d;
	int k;

	for (k = 0; k < WINDOW; k++)
		c[k] = _mm256_cvtepu8_epi32(
			_mm_loadl_epi64((const __m128i *)(q - k)));
	t = c[0];
	sum = t;
	h = c[0];
	for (k = 1; k < WINDOW; k++) {
		t = _mm256_add_epi32(t, c[k]);
		sum = _mm256_add_epi32(
			sum, k < WINDOW - 1 ? t : _mm256_add_epi32(t, t));
		h = _mm256_xor_si256(
			h, _mm256_sllv_epi32(c[k], _mm256_set1_epi32(5 * k)));
	}
	x = _mm256_add_epi32(_mm256_add_epi32(sum, h), _mm256_set1_epi32(1));
	/* 3 | x  <=>  x * 3^-1 <= 0x55555555; then x/3 is that product. */
	d = _mm256_mullo_epi32(x, _mm256_set1_epi32((int)0xaaaaaaabu));
	t = _mm256_cmpeq_epi32(
		_mm256_min_epu32(d, _mm256_set1_epi32(0x55555555)), d);
	t = _mm256_and_si256(t, _mm256_cmpeq_epi32(_mm256_and_si256(d, lowbits),
						   _mm256_setzero_si256()));
	return _mm256_andnot_si256(
		_mm256_cmpeq_epi32(x, _mm256_setzero_si256()), t);
}

/*
 * Exact trigger mask of the BLOCK positions from q (q-6 readable) for
 * levels lvl and above, computing the whole 32-bit rolling value.
 */
__attribute__((target("avx2"))) static unsigned
exact_avx2(const uint8_t *q, unsigned lvl)
{
	__m256i low = _mm256_set1_epi32((int)((1u << lvl) - 1));
	__m256i a = exact8_avx2(q, low), b = exact8_avx2(q + 8, low);

	return (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(a)) |
	       (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(b)) << 8;
}
#endif

/*
 * Candidate mask of the BLOCK positions from p >= 6 for triggers of level
 * lvl or above. At low levels the low-byte filter lets many positions
 * through (below level 1, all), so a run of one byte value is decided at
 * once and other blocks get the exact AVX2 test when the CPU has it.
 */
static inline unsigned
candidates(const uint8_t *buf, size_t p, unsigned lvl, bool avx2)
{
	if (lvl >= EXACT_BELOW)
		return filter(buf + p, (1u << (lvl < 8 ? lvl : 8)) - 1);
	/* A run of one byte value has one rolling value. */
	if (is_run(buf + p))
		return trigger_level(roll_at(buf, p)) >= (int)lvl
			       ? (1u << BLOCK) - 1
			       : 0;
#ifdef HAVE_AVX2
	if (avx2)
		return exact_avx2(buf + p, lvl);
#else
	(void)avx2;
#endif
	if (lvl > 0)
		return filter(buf + p, (1u << lvl) - 1);
	return (1u << BLOCK) - 1;
}

static bool
have_avx2(void)
{
#ifdef HAVE_AVX2
	return __builtin_cpu_supports("avx2");
#else
	return false;
#endif
}

/* Finds the first 64 triggers of levels 0..top, stopping when all have. */
static void
scan_forward(struct scan *s)
{
	const uint8_t *buf = s->buf;
	size_t len = s->len, p = 0, head;
	unsigned m, j, fl;

	head = len < WINDOW - 1 ? len : WINDOW - 1;
	for (; p < head; p++)
		record(s, p, trigger_level(roll_at(buf, p)));
	while (p + BLOCK <= len && s->floor <= s->top) {
		/* Blocks with one filter, until the floor moves. */
		fl = s->floor;
		for (; p + BLOCK <= len; p += BLOCK) {
			m = candidates(buf, p, fl, s->avx2);
			if (m == 0)
				continue;
			do {
				j = (unsigned)__builtin_ctz(m);
				m &= m - 1;
				record(s, p + j,
				       trigger_level(roll_at(buf, p + j)));
			} while (m != 0);
			if (s->floor != fl) {
				p += BLOCK;
				break;
			}
		}
	}
	for (; p < len && s->floor <= s->top; p++)
		record(s, p, trigger_level(roll_at(buf, p)));
}

/* The last position (there is one) whose trigger level is at least lvl. */
static size_t
last_trigger(const uint8_t *buf, size_t len, unsigned lvl)
{
	size_t p = len;
	unsigned m, j;

	/* Unaligned tail, then whole blocks, then the first 6 bytes. */
	while (p > WINDOW - 1 && (p - (WINDOW - 1)) % BLOCK != 0) {
		p--;
		if (trigger_level(roll_at(buf, p)) >= (int)lvl)
			return p;
	}
	while (p >= WINDOW - 1 + BLOCK) {
		p -= BLOCK;
		m = candidates(buf, p, lvl, have_avx2());
		while (m != 0) {
			j = 31u - (unsigned)__builtin_clz(m);
			m &= ~(1u << j);
			if (trigger_level(roll_at(buf, p + j)) >= (int)lvl)
				return p + j;
		}
	}
	while (p > 0) {
		p--;
		if (trigger_level(roll_at(buf, p)) >= (int)lvl)
			return p;
	}
	return 0;
}

/* Sorts the jobs longest first (insertion sort: there are at most 98). */
static void
sort_jobs(struct job *jobs, size_t njobs)
{
	struct job t;
	size_t i, k;

	for (i = 1; i < njobs; i++) {
		t = jobs[i];
		for (k = i; k > 0 && jobs[k - 1].len < t.len; k--)
			jobs[k] = jobs[k - 1];
		jobs[k] = t;
	}
}

/*
 * Hashes every job, in order, four at a time so that four
 * independent FNV chains overlap. A lane without a job re-reads the bytes
 * of a running lane and its result is dropped.
 */
static void
hash_jobs(struct job *jobs, size_t njobs)
{
	enum { K = 4 };
	const uint8_t *p[K];
	size_t rem[K], next = 0, m, i;
	uint32_t h[K];
	uint8_t *out[K];
	bool live[K];
	unsigned j, nlive;

	memset(live, 0, sizeof(live));
	for (;;) {
		nlive = 0;
		for (j = 0; j < K; j++) {
			while (!live[j] && next < njobs) {
				struct job *jb = &jobs[next++];

				if (jb->len == 0) {
					*jb->out = jb->h & 63;
					continue;
				}
				p[j] = jb->p;
				rem[j] = jb->len;
				out[j] = jb->out;
				h[j] = jb->h;
				live[j] = true;
			}
			nlive += live[j];
		}
		if (nlive == 0)
			break;
		m = SIZE_MAX;
		for (j = 0; j < K; j++)
			if (live[j] && rem[j] < m)
				m = rem[j];
		for (j = 0; j < K; j++)
			if (live[j])
				break;
		for (i = 0; i < K; i++)
			if (!live[i]) {
				p[i] = p[j];
				rem[i] = m;
			}
		{
			const uint8_t *p0 = p[0], *p1 = p[1], *p2 = p[2];
			const uint8_t *p3 = p[3];
			uint32_t h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3];

			for (i = 0; i < m; i++) {
				h0 = (h0 * FNV_MUL) ^ p0[i];
				h1 = (h1 * FNV_MUL) ^ p1[i];
				h2 = (h2 * FNV_MUL) ^ p2[i];
				h3 = (h3 * FNV_MUL) ^ p3[i];
			}
			h[0] = h0;
			h[1] = h1;
			h[2] = h2;
			h[3] = h3;
		}
		for (j = 0; j < K; j++) {
			p[j] += m;
			rem[j] -= m;
			if (live[j] && rem[j] == 0) {
				*out[j] = (uint8_t)(h[j] & 63);
				live[j] = false;
			}
		}
	}
}

#ifdef HAVE_SSE2
#define LANES         16 /* pieces hashed side by side */
#define WIDE_MIN_JOB  64 /* shorter pieces go to hash_jobs() */
#define WIDE_MIN_LIVE 4  /* fewer running lanes: hash_jobs() is faster */

/* 16 FNV steps on all lanes; rows[j] holds the next 16 bytes of lane j. */
static inline __m128i
fnv_rows(__m128i h, const __m128i rows[LANES])
{
	const __m128i hi4 = _mm_set1_epi8((char)0xf0);
	__m128i a[LANES], b[LANES], c[LANES], col, h16;
	int i, t;

	/*
	 * Transpose 16x16 bytes in four unpack rounds. After round one a 16-bit
	 * element t of a[i] holds byte t (or t+8 for i >= 8) of rows 2i and
	 * 2i+1; each round doubles the rows per element and halves the bytes.
	 */
	for (i = 0; i < 8; i++) {
		a[i] = _mm_unpacklo_epi8(rows[2 * i], rows[2 * i + 1]);
		a[i + 8] = _mm_unpackhi_epi8(rows[2 * i], rows[2 * i + 1]);
	}
	/* b[4q+i]: bytes 4q..4q+3 of rows 4i..4i+3 */
	for (i = 0; i < 4; i++) {
		b[i] = _mm_unpacklo_epi16(a[2 * i], a[2 * i + 1]);
		b[4 + i] = _mm_unpackhi_epi16(a[2 * i], a[2 * i + 1]);
		b[8 + i] = _mm_unpacklo_epi16(a[8 + 2 * i], a[9 + 2 * i]);
		b[12 + i] = _mm_unpackhi_epi16(a[8 + 2 * i], a[9 + 2 * i]);
	}
	/* c[2p+g]: bytes 2p, 2p+1 of rows 8g..8g+7 */
	for (i = 0; i < 4; i++) {
		c[4 * i] = _mm_unpacklo_epi32(b[4 * i], b[4 * i + 1]);
		c[4 * i + 1] = _mm_unpacklo_epi32(b[4 * i + 2], b[4 * i + 3]);
		c[4 * i + 2] = _mm_unpackhi_epi32(b[4 * i], b[4 * i + 1]);
		c[4 * i + 3] = _mm_unpackhi_epi32(b[4 * i + 2], b[4 * i + 3]);
	}
	for (t = 0; t < LANES; t++) {
		col = t % 2 == 0 ? _mm_unpacklo_epi64(c[t / 2 * 2],
						      c[t / 2 * 2 + 1])
				 : _mm_unpackhi_epi64(c[t / 2 * 2],
						      c[t / 2 * 2 + 1]);
		/* h = h*19 ^ byte, as h + 2h + 16h, bytewise */
		h16 = _mm_and_si128(_mm_slli_epi16(h, 4), hi4);
		h = _mm_add_epi8(_mm_add_epi8(h, _mm_add_epi8(h, h)), h16);
		h = _mm_xor_si128(h, col);
	}
	return h;
}

/*
 * Hashes the long jobs (sorted longest first) 16 at a time, one per byte
 * lane of a vector, 16 bytes per lane and round. A lane without a job
 * re-reads another lane's bytes and its result is dropped. Stops when too
 * few lanes are running, and rewrites the unfinished lanes as jobs (with
 * their state) just before the first job not started. Returns the index
 * of the first job left to hash_jobs().
 */
static size_t
hash_jobs_wide(struct job *jobs, size_t njobs)
{
	const uint8_t *p[LANES];
	size_t rem[LANES], next = 0, m, k;
	uint8_t *out[LANES], hs[LANES];
	bool live[LANES];
	__m128i rows[LANES], h;
	unsigned j, nlive, first;

	memset(live, 0, sizeof(live));
	for (;;) {
		nlive = 0;
		first = LANES;
		for (j = 0; j < LANES; j++) {
			if (!live[j] && next < njobs &&
			    jobs[next].len >= WIDE_MIN_JOB) {
				p[j] = jobs[next].p;
				rem[j] = jobs[next].len;
				out[j] = jobs[next].out;
				hs[j] = jobs[next].h;
				live[j] = true;
				next++;
			}
			if (live[j]) {
				nlive++;
				if (first == LANES)
					first = j;
			}
		}
		if (nlive < WIDE_MIN_LIVE)
			break;
		m = SIZE_MAX;
		for (j = 0; j < LANES; j++)
			if (live[j] && rem[j] / LANES < m)
				m = rem[j] / LANES;
		for (j = 0; j < LANES; j++)
			if (!live[j])
				p[j] = p[first];
		h = _mm_loadu_si128((const __m128i *)hs);
		for (k = 0; k < m; k++) {
			for (j = 0; j < LANES; j++)
				rows[j] = _mm_loadu_si128(
					(const __m128i *)(p[j] + k * LANES));
			h = fnv_rows(h, rows);
		}
		_mm_storeu_si128((__m128i *)hs, h);
		for (j = 0; j < LANES; j++) {
			p[j] += m * LANES;
			if (!live[j])
				continue;
			rem[j] -= m * LANES;
			if (rem[j] >= LANES)
				continue;
			/* Fewer than 16 bytes left: finish them here. */
			for (k = 0; k < rem[j]; k++)
				hs[j] = (uint8_t)(hs[j] * FNV_MUL ^ p[j][k]);
			*out[j] = hs[j] & 63;
			live[j] = false;
		}
	}
	k = next;
	for (j = 0; j < LANES; j++)
		if (live[j]) {
			k--;
			jobs[k].p = p[j];
			jobs[k].len = rem[j];
			jobs[k].out = out[j];
			jobs[k].h = hs[j];
		}
	return k;
}
#endif

/* Adds the job for bytes [from, to) of buf. */
static void
add_job(struct job *jobs, size_t *n, const uint8_t *buf, size_t from, size_t to,
	uint8_t *out)
{
	jobs[*n].p = buf + from;
	jobs[*n].len = to - from;
	jobs[*n].out = out;
	jobs[*n].h = FNV_START;
	(*n)++;
}

/*
 * Queues the pieces of one half of the digest: the first `keep' pieces of
 * level v, then its closing letter (*has_tail tells whether there is one).
 */
static size_t
add_half(struct job *jobs, size_t n, const struct scan *s,
	 const struct level *v, unsigned lvl, unsigned keep, uint32_t rend,
	 uint8_t *res, bool *has_tail)
{
	unsigned d = v->cnt < keep ? v->cnt : keep, k;
	size_t from = 0;

	for (k = 0; k < d; k++) {
		add_job(jobs, &n, s->buf, from, v->pos[k] + 1, &res[k]);
		from = v->pos[k] + 1;
	}
	*has_tail = true;
	if (rend != 0)
		add_job(jobs, &n, s->buf, from, s->len, &res[d]);
	else if (v->cnt > keep)
		add_job(jobs, &n, s->buf, from,
			last_trigger(s->buf, s->len, lvl) + 1, &res[d]);
	else
		*has_tail = false;
	return n;
}

static char *
put_uint(char *o, uint32_t v)
{
	char tmp[10];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*o++ = tmp[--n];
	return o;
}

static char *
put_letters(char *o, const uint8_t *res, unsigned n)
{
	unsigned k;

	for (k = 0; k < n; k++)
		*o++ = b64[res[k]];
	return o;
}

int
ssdeep_hash_buf(const uint8_t *buf, size_t len, char out[SSDEEP_MAX_RESULT])
{
	struct scan s;
	struct job jobs[2 * DIGEST_LEN];
	uint8_t res1[DIGEST_LEN], res2[HALF_LEN], whole;
	size_t njobs = 0, first = 0;
	unsigned g = 0, bi, l;
	uint32_t rend;
	bool tail1, tail2 = false, neighbour;
	char *o;

	if ((uint64_t)len > SSDEEP_MAX_INPUT)
		return -1;
	while (((uint64_t)3 << g) * DIGEST_LEN < (uint64_t)len)
		g++;
	s.buf = buf;
	s.len = len;
	s.floor = 0;
	s.avx2 = have_avx2();
	/* libfuzzy never starts level 31: level 30 has no neighbour. */
	s.top = g + 1 < NLEVELS ? g + 1 : NLEVELS - 1;
	for (l = 0; l <= s.top; l++)
		s.lv[l].cnt = 0;
	scan_forward(&s);

	bi = g;
	while (bi > 0 && s.lv[bi].cnt < HALF_LEN)
		bi--;
	/*
	 * libfuzzy starts level bi+1 at the first trigger of level bi; with
	 * no trigger at all its digest would be just the closing letter of
	 * the whole input, which is what hashing an empty level gives too.
	 * Only level 30 has no neighbour (libfuzzy's last hash then also
	 * covers the whole input).
	 */
	neighbour = bi < s.top;
	rend = len > 0 ? roll_at(buf, len - 1) : 0;

	njobs = add_half(jobs, njobs, &s, &s.lv[bi], bi, DIGEST_LEN - 1, rend,
			 res1, &tail1);
	if (neighbour)
		njobs = add_half(jobs, njobs, &s, &s.lv[bi + 1], bi + 1,
				 HALF_LEN - 1, rend, res2, &tail2);
	else if (rend != 0)
		add_job(jobs, &njobs, buf, 0, len, &whole);
	/* Small inputs have short pieces: order matters little then. */
	if (len >= SORT_FROM) {
		sort_jobs(jobs, njobs);
#ifdef HAVE_SSE2
		first = hash_jobs_wide(jobs, njobs);
#endif
	}
	hash_jobs(jobs + first, njobs - first);

	o = put_uint(out, (uint32_t)3 << bi);
	*o++ = ':';
	l = s.lv[bi].cnt < DIGEST_LEN - 1 ? s.lv[bi].cnt : DIGEST_LEN - 1;
	o = put_letters(o, res1, l + tail1);
	*o++ = ':';
	if (neighbour) {
		l = s.lv[bi + 1].cnt < HALF_LEN - 1 ? s.lv[bi + 1].cnt
						    : HALF_LEN - 1;
		o = put_letters(o, res2, l + tail2);
	} else if (rend != 0)
		*o++ = b64[whole];
	*o = '\0';
	return 0;
}
