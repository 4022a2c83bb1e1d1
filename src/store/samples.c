/*
 * samples.c - the encrypted sample store in segment files; see samples.h.
 *
 * Owns the store's root directory descriptor, its key source (and, when
 * opened with samples_open(), the sample key itself: a struct samples_key
 * in sodium_malloc'd memory, read-only once loaded, wiped by
 * samples_key_free), the fetched SHA-256 implementation, and the writer's
 * state: the open segment, its number and size. Readers use only the
 * first three, which samples_open fixes, so they share one struct samples
 * with the writer.
 *
 * Record format, version 2 (integers big-endian):
 *
 *   offset  size  field
 *   0       4     magic "VGS2"; the final '2' is the format version
 *   4       32    SHA-256 of the plaintext
 *   36      8     plaintext length
 *   44      24    secretstream header
 *                 (crypto_secretstream_xchacha20poly1305_HEADERBYTES)
 *   68      ...   chunks, each a 4-byte ciphertext length n and n bytes of
 *                 crypto_secretstream_xchacha20poly1305_push() output
 *
 * The plaintext is cut into chunks of exactly SAMPLES_CHUNK bytes except
 * the last, which holds the remaining 1..SAMPLES_CHUNK bytes (an empty
 * sample is one empty chunk). Every chunk carries the record's first 44
 * bytes (magic, SHA-256, length) as additional data; the last is tagged
 * FINAL, the others MESSAGE. So n = plaintext bytes + ABYTES (17), and the
 * layout is canonical: the plaintext length alone fixes the record's
 * length and every chunk's n. The reader checks the location's length
 * against it before decrypting anything; any n other than the expected
 * one, a tag out of place, or a failed authentication is VG_ECORRUPT.
 *
 * A version 3 would get a new magic.
 */
#include "store/samples.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "common/xmalloc.h"

#define MAGIC      "VGS2"
#define MAGIC_LEN  4
#define SS_HEADER  crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_ABYTES  crypto_secretstream_xchacha20poly1305_ABYTES
#define KEY_LEN    crypto_secretstream_xchacha20poly1305_KEYBYTES
#define AD_LEN     (MAGIC_LEN + 32 + 8) /* magic, SHA-256, length */
#define REC_HDR    (AD_LEN + SS_HEADER)
#define CHUNK_OVER (4 + SS_ABYTES) /* length prefix + tag and MAC */
#define TAG_MSG    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define TAG_FINAL  crypto_secretstream_xchacha20poly1305_TAG_FINAL
/* "%016llu.seg" */
#define SEG_NAME_LEN 20
#define SEG_DIGITS   16
#define SEG_SUFFIX   ".seg"

_Static_assert(KEY_LEN == 32, "the key file holds 32 bytes");
_Static_assert(SAMPLES_CHUNK + SS_ABYTES <= UINT32_MAX, "length prefix");

struct samples_key {
	unsigned char *key; /* sodium_malloc'd, KEY_LEN bytes, read-only */
};

struct samples {
	int root; /* O_DIRECTORY descriptor of the store */
	struct samples_keysrc src;
	struct samples_key *own; /* samples_open()'s key, or NULL */
	EVP_MD *sha256;
	/* The writer's: the open segment (-1: none yet, or abandoned), its
	 * number, its size, and whether it holds unsynced records. */
	int seg_fd;
	uint64_t seg_no, seg_size;
	bool seg_dirty;
	/* Records appended since the last sync were lost with an abandoned
	 * segment: the next samples_sync() must say so. */
	bool seg_lost;
	uint8_t *scratch; /* one chunk with its length prefix */
	/* Records appended but not yet written: wlen bytes that belong at
	 * offset wat of the open segment (wat + wlen == seg_size). A batch
	 * of small records goes out in one write at samples_sync(). */
	uint8_t *wbuf;
	size_t wlen, wcap;
	uint64_t wat;
};

/* Records up to this size are gathered in wbuf, which is written out
 * when it reaches it; larger ones are written as they are encrypted. */
#define WBUF_MAX (1u << 20)

/* Parses exactly 64 lowercase hex digits: the store's names are
 * canonical, so "ABCD..." and "abcd..." must not be two samples. */
static int
parse_hex(const char *hex, uint8_t out[32])
{
	if (hex == NULL || strnlen(hex, 65) != 64 ||
	    !hex_decode_lower(hex, 32, out))
		return VG_EINVAL;
	return 0;
}

static uint64_t
chunk_count(uint64_t len)
{
	return len == 0 ? 1 : (len + SAMPLES_CHUNK - 1) / SAMPLES_CHUNK;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t
get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static int
sha256(const struct samples *s, const void *buf, size_t len, uint8_t out[32])
{
	static const uint8_t empty;
	unsigned int n = 0;

	if (!EVP_Digest(len ? buf : &empty, len, out, &n, s->sha256, NULL) ||
	    n != 32)
		return VG_ELIB;
	return 0;
}

/* Maps an openat() failure on a store path to a VG_E* code. */
static int
open_errno(void)
{
	switch (errno) {
	case ENOENT:
	case ENOTDIR: return VG_ENOENT;
	case ELOOP: return VG_ETYPE; /* a symlink where the store has none */
	default: return VG_EIO;
	}
}

/* Parses a segment file name; false for anything else in the directory. */
static bool
parse_seg_name(const char *name, uint64_t *no)
{
	uint64_t v = 0;

	if (strlen(name) != SEG_NAME_LEN ||
	    strcmp(name + SEG_DIGITS, SEG_SUFFIX) != 0)
		return false;
	for (int i = 0; i < SEG_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	*no = v;
	return v > 0;
}

static void
seg_name(uint64_t no, char out[SEG_NAME_LEN + 1])
{
	snprintf(out, SEG_NAME_LEN + 1, "%016llu" SEG_SUFFIX,
		 (unsigned long long)no);
}

/*
 * Lists the store directory: *last is the highest segment number found
 * (0: none), *used whether anything at all is there. Returns 0 or VG_EIO.
 */
static int
scan_dir(int root, uint64_t *last, bool *used)
{
	struct dirent *de;
	int fd;
	DIR *d;

	*last = 0;
	*used = false;
	/* A fresh open file description, not dup(): readdir moves the
	 * offset. */
	if ((fd = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return VG_EIO;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return VG_EIO;
	}
	while ((de = readdir(d)) != NULL) {
		uint64_t no;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		*used = true;
		if (parse_seg_name(de->d_name, &no) && no > *last)
			*last = no;
	}
	closedir(d);
	return 0;
}

uint64_t
samples_record_size(uint64_t len)
{
	return REC_HDR + chunk_count(len) * CHUNK_OVER + len;
}

/* Closes the open segment; its unsynced records, if any, are lost to the
 * caller (who was told so by a failed samples_sync or append). */
static void
seg_abandon(struct samples *s)
{
	if (s->seg_fd >= 0)
		close(s->seg_fd);
	if (s->seg_dirty)
		s->seg_lost = true;
	s->seg_fd = -1;
	s->seg_dirty = false;
	s->wlen = 0;
}

/* Writes out the gathered records; VG_EIO (the caller abandons the
 * segment) if that fails. */
static int
wbuf_flush(struct samples *s)
{
	int rc;

	if (s->wlen == 0)
		return 0;
	rc = io_pwrite_all(s->seg_fd, s->wbuf, s->wlen, s->wat);
	s->wat += s->wlen;
	s->wlen = 0;
	return rc;
}

/*
 * Makes sure a segment with room for need more bytes is open: the first
 * append after open, after an abandoned segment, or once the current one
 * is full starts the next segment. A new segment's directory entry is
 * made durable before any record in it can be referred to.
 */
static int
seg_ready(struct samples *s, uint64_t need)
{
	char name[SEG_NAME_LEN + 1];
	int fd;

	if (s->seg_fd >= 0 &&
	    (s->seg_size == 0 || s->seg_size + need <= SAMPLES_SEGMENT_MAX))
		return 0;
	if (s->seg_fd >= 0) {
		/* Full: what is in it must be durable before it is closed,
		 * since samples_sync only flushes the open segment. */
		if (s->seg_dirty &&
		    (wbuf_flush(s) != 0 || io_fdatasync(s->seg_fd) != 0)) {
			seg_abandon(s);
			return VG_EIO;
		}
		s->seg_dirty = false;
		seg_abandon(s);
	}
	/* The number is used up whatever happens next: a file left by a
	 * failed attempt (or put there by someone else) is skipped, not
	 * retried forever. */
	s->seg_no++;
	seg_name(s->seg_no, name);
	fd = openat(s->root, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return VG_EIO;
	if (io_fsync(s->root) != 0) {
		close(fd);
		return VG_EIO;
	}
	s->seg_fd = fd;
	s->seg_size = 0;
	return 0;
}

int
samples_append(struct samples *s, const char *sha256_hex, const void *buf,
	       size_t len, struct sample_loc *loc)
{
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t want[32], got[32], hdr[REC_HDR], *out = NULL;
	const uint8_t *p = buf;
	uint64_t rec, at;
	size_t off = 0;
	bool gather;
	int rc;

	if (parse_hex(sha256_hex, want) != 0 || (buf == NULL && len > 0) ||
	    loc == NULL)
		return VG_EINVAL;
	if (len > SAMPLES_MAX_SIZE)
		return VG_ELIMIT;
	if ((rc = sha256(s, buf, len, got)) != 0)
		return rc;
	if (memcmp(want, got, sizeof(want)) != 0)
		return VG_EINVAL;
	rec = samples_record_size(len);
	if ((rc = seg_ready(s, rec)) != 0)
		return rc;
	at = s->seg_size;
	gather = rec <= WBUF_MAX;
	if (gather) {
		if (s->wlen == 0)
			s->wat = at;
		if (s->wcap - s->wlen < rec) {
			s->wcap = s->wlen + rec > 2 * s->wcap ? s->wlen + rec
							      : 2 * s->wcap;
			s->wbuf = xreallocarray(s->wbuf, s->wcap, 1);
		}
		out = s->wbuf + s->wlen;
	} else if (wbuf_flush(s) != 0) {
		/* Records gathered before this one are lost with it. */
		seg_abandon(s);
		return VG_EIO;
	}

	memcpy(hdr, MAGIC, MAGIC_LEN);
	memcpy(hdr + MAGIC_LEN, want, 32);
	put_be64(hdr + MAGIC_LEN + 32, (uint64_t)len);
	if ((rc = s->src.seal_init(s->src.ctx, &st, hdr + AD_LEN)) != 0) {
		sodium_memzero(&st, sizeof(st));
		return rc;
	}
	if (gather)
		memcpy(out, hdr, sizeof(hdr));
	else
		rc = io_pwrite_all(s->seg_fd, hdr, sizeof(hdr), at);
	at += sizeof(hdr);
	while (rc == 0) {
		size_t n =
			len - off < SAMPLES_CHUNK ? len - off : SAMPLES_CHUNK;
		bool last = off + n == len;
		unsigned long long clen = 0;
		uint8_t *c = gather ? out + (at - s->seg_size) : s->scratch;

		if (crypto_secretstream_xchacha20poly1305_push(
			    &st, c + 4, &clen, n ? p + off : hdr, n, hdr,
			    AD_LEN, last ? TAG_FINAL : TAG_MSG) != 0) {
			rc = VG_ELIB;
			break;
		}
		put_be32(c, (uint32_t)clen);
		if (!gather)
			rc = io_pwrite_all(s->seg_fd, c, 4 + (size_t)clen, at);
		at += 4 + clen;
		off += n;
		if (last)
			break;
	}
	sodium_memzero(&st, sizeof(st));
	/* On failure the size does not move: the next record overwrites
	 * whatever part of this one reached the file (or the buffer). */
	if (rc != 0)
		return rc;
	if (gather)
		s->wlen += rec;
	loc->segment = s->seg_no;
	loc->offset = s->seg_size;
	loc->length = rec;
	s->seg_size += rec;
	s->seg_dirty = true;
	if (s->wlen >= WBUF_MAX && wbuf_flush(s) != 0) {
		/* This record and those gathered with it are lost: the next
		 * samples_sync() says so. */
		seg_abandon(s);
		return VG_EIO;
	}
	return 0;
}

int
samples_sync(struct samples *s)
{
	if (s->seg_lost) {
		s->seg_lost = false;
		return VG_EIO;
	}
	if (s->seg_fd < 0 || !s->seg_dirty)
		return 0;
	/* A failed sync gives the segment up (fileio.h says why). */
	if (wbuf_flush(s) != 0 || io_fdatasync(s->seg_fd) != 0) {
		seg_abandon(s);
		s->seg_lost = false;
		return VG_EIO;
	}
	s->seg_dirty = false;
	return 0;
}

int
samples_read(struct samples *s, const struct sample_loc *loc,
	     const char *sha256_hex, uint8_t **out, size_t *len)
{
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t want[32], got[32], hdr[REC_HDR], *c = NULL, *p = NULL;
	char name[SEG_NAME_LEN + 1];
	uint64_t plen = 0, k, at, off = 0;
	bool have_state = false;
	struct stat sb;
	int fd, rc;

	*out = NULL;
	*len = 0;
	if (parse_hex(sha256_hex, want) != 0 || loc == NULL ||
	    loc->segment == 0 || loc->segment > 9999999999999999ULL)
		return VG_EINVAL;
	if (loc->length < samples_record_size(0) ||
	    loc->length > samples_record_size(SAMPLES_MAX_SIZE) ||
	    loc->offset > (uint64_t)INT64_MAX - loc->length)
		return VG_ECORRUPT;
	seg_name(loc->segment, name);
	fd = openat(s->root, name,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return open_errno();
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return VG_ETYPE;
	}
	/* A record the segment does not hold whole is truncated: known
	 * before its claimed length is allocated (up to SAMPLES_MAX_SIZE). */
	if ((uint64_t)sb.st_size < loc->offset + loc->length) {
		close(fd);
		return VG_ECORRUPT;
	}
	at = loc->offset;
	if ((rc = io_pread_all(fd, hdr, sizeof(hdr), at)) != 0)
		goto out;
	at += sizeof(hdr);
	/* The header must name this sample, and its length must be the
	 * one the location was recorded with: that bounds the allocation,
	 * the number of chunks and each chunk's length. */
	plen = get_be64(hdr + MAGIC_LEN + 32);
	if (memcmp(hdr, MAGIC, MAGIC_LEN) != 0 ||
	    memcmp(hdr + MAGIC_LEN, want, 32) != 0 || plen > SAMPLES_MAX_SIZE ||
	    samples_record_size(plen) != loc->length ||
	    (uint64_t)(size_t)plen != plen) {
		rc = VG_ECORRUPT;
		goto out;
	}
	have_state = true;
	if ((rc = s->src.open_init(s->src.ctx, &st, hdr + AD_LEN)) != 0)
		goto out;
	k = chunk_count(plen);
	if ((p = malloc(plen ? (size_t)plen : 1)) == NULL) {
		rc = VG_ENOMEM;
		goto out;
	}
	c = xmalloc(4 + SAMPLES_CHUNK + SS_ABYTES);
	for (uint64_t i = 0; i < k; i++) {
		bool last = i == k - 1;
		size_t n = last ? (size_t)(plen - off) : SAMPLES_CHUNK;
		unsigned long long mlen = 0;
		unsigned char tag = 0xff;
		uint32_t clen;

		if ((rc = io_pread_all(fd, c, 4, at)) != 0)
			goto out;
		/* Exactly the expected length, which is also within the
		 * buffer. */
		clen = get_be32(c);
		if (clen != n + SS_ABYTES) {
			rc = VG_ECORRUPT;
			goto out;
		}
		if ((rc = io_pread_all(fd, c + 4, clen, at + 4)) != 0)
			goto out;
		at += 4 + (uint64_t)clen;
		if (crypto_secretstream_xchacha20poly1305_pull(
			    &st, p + off, &mlen, &tag, c + 4, clen, hdr,
			    AD_LEN) != 0 ||
		    mlen != n || tag != (last ? TAG_FINAL : TAG_MSG)) {
			rc = VG_ECORRUPT;
			goto out;
		}
		off += n;
	}
	/* Defence in depth: the AD already binds the hash, but a bug in
	 * the writer or a reused key would show up here. */
	if ((rc = sha256(s, p, (size_t)plen, got)) != 0)
		goto out;
	if (memcmp(want, got, sizeof(want)) != 0) {
		rc = VG_ECORRUPT;
		goto out;
	}
	*out = p;
	*len = (size_t)plen;
	p = NULL;
	rc = 0;
out:
	if (have_state)
		sodium_memzero(&st, sizeof(st));
	if (p != NULL) {
		/* Unverified plaintext of a client's file: not left in the
		 * heap for the next allocation to find. A chunk that fails
		 * authentication writes nothing, but one that authenticates
		 * with the wrong tag did, past off: up to one chunk more. */
		size_t wiped = (size_t)off + SAMPLES_CHUNK;

		sodium_memzero(p, wiped < plen ? wiped : (size_t)plen);
		free(p);
	}
	free(c);
	close(fd);
	return rc;
}

/*
 * Creates key_path holding 32 random bytes, whole or not at all: written
 * to a temporary file (O_EXCL, 0600), fsync()ed, then link()ed to its
 * name, which fails rather than replaces if another process got there
 * first. A crash therefore never leaves an empty key file, which would
 * make every later start refuse.
 */
static int
create_key(struct samples_key *s, const char *key_path, char *err,
	   size_t errlen)
{
	char *tmp = xasprintf("%s.tmp.XXXXXX", key_path);
	int fd, rc = 0;

	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		vg_seterr(err, errlen, "%s: cannot create key file: %s",
			  key_path, strerror(errno));
		free(tmp);
		return VG_EIO;
	}
	sodium_mprotect_readwrite(s->key);
	randombytes_buf(s->key, KEY_LEN);
	if (fchmod(fd, 0600) != 0 || io_write_all(fd, s->key, KEY_LEN) != 0 ||
	    io_fsync(fd) != 0) {
		vg_seterr(err, errlen, "%s: cannot write key file: %s", tmp,
			  strerror(errno));
		rc = VG_EIO;
	}
	sodium_memzero(s->key, KEY_LEN);
	sodium_mprotect_noaccess(s->key);
	if (close(fd) != 0 && rc == 0) {
		vg_seterr(err, errlen, "%s: cannot write key file: %s", tmp,
			  strerror(errno));
		rc = VG_EIO;
	}
	if (rc == 0 && link(tmp, key_path) != 0 && errno != EEXIST) {
		vg_seterr(err, errlen, "%s: cannot create key file: %s",
			  key_path, strerror(errno));
		rc = VG_EIO;
	}
	unlink(tmp);
	if (rc == 0 && io_fsync_parent(key_path) != 0) {
		vg_seterr(err, errlen, "%s: cannot sync its directory: %s",
			  key_path, strerror(errno));
		rc = VG_EIO;
	}
	free(tmp);
	return rc;
}

/* Loads the key into s->key; fd is the opened key file. */
static int
load_key(struct samples_key *s, int fd, const char *key_path, char *err,
	 size_t errlen)
{
	uint8_t extra;
	struct stat st;
	ssize_t r;

	if (fstat(fd, &st) != 0) {
		vg_seterr(err, errlen, "%s: %s", key_path, strerror(errno));
		return VG_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		vg_seterr(err, errlen, "%s: key file is not a regular file",
			  key_path);
		return VG_EINVAL;
	}
	if ((st.st_mode & 077) != 0) {
		vg_seterr(
			err, errlen,
			"%s: key file has mode %04o; it must not be accessible "
			"to group or others (chmod 600)",
			key_path, (unsigned)(st.st_mode & 07777));
		return VG_EINVAL;
	}
	if (st.st_size != KEY_LEN) {
		vg_seterr(err, errlen,
			  "%s: key file is %lld bytes, expected %d", key_path,
			  (long long)st.st_size, KEY_LEN);
		return VG_EINVAL;
	}
	sodium_mprotect_readwrite(s->key);
	r = io_read_full(fd, s->key, KEY_LEN);
	/* Read one byte more: the file may have grown since fstat. */
	if (r == KEY_LEN && io_read_full(fd, &extra, 1) == 0) {
		sodium_mprotect_readonly(s->key);
		return 0;
	}
	sodium_memzero(s->key, KEY_LEN);
	sodium_mprotect_noaccess(s->key);
	vg_seterr(err, errlen, "%s: key file changed while being read",
		  key_path);
	return VG_EINVAL;
}

/* True if the store directory holds anything, or cannot be listed. */
static bool
store_in_use(int root)
{
	uint64_t last;
	bool used;

	return scan_dir(root, &last, &used) != 0 || used;
}

static int
open_key(struct samples_key *s, int root, const char *key_path, char *err,
	 size_t errlen)
{
	int fd, rc;

	for (int tries = 0;; tries++) {
		/* Symlinks are followed: secret mounts (Kubernetes, for
		 * one) publish keys through them. The target is checked. */
		fd = open(key_path,
			  O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd >= 0)
			break;
		if (errno != ENOENT || tries > 0) {
			vg_seterr(err, errlen, "%s: %s", key_path,
				  strerror(errno));
			return VG_EIO;
		}
		/* A new key for a store that holds samples could read none
		 * of them: most likely key_path is wrong. */
		if (store_in_use(root)) {
			vg_seterr(
				err, errlen,
				"%s: key file missing, but the sample store "
				"already holds samples; restore the key or "
				"fix the path (a new key could not read them)",
				key_path);
			return VG_EINVAL;
		}
		if ((rc = create_key(s, key_path, err, errlen)) != 0)
			return rc;
	}
	rc = load_key(s, fd, key_path, err, errlen);
	close(fd);
	return rc;
}

int
samples_key_open(const char *dir, const char *key_path,
		 struct samples_key **out, char *err, size_t errlen)
{
	struct samples_key *k;
	int root = -1, rc;

	*out = NULL;
	if (sodium_init() < 0) {
		vg_seterr(err, errlen, "libsodium failed to initialise");
		return VG_ELIB;
	}
	k = xcalloc(1, sizeof(*k));
	/* Guarded pages, locked out of swap where the limit allows. */
	if ((k->key = sodium_malloc(KEY_LEN)) == NULL) {
		vg_seterr(err, errlen, "cannot allocate memory for the key");
		rc = VG_ENOMEM;
		goto out;
	}
	sodium_mprotect_noaccess(k->key);
	if ((rc = io_dir_open(dir, NULL, &root, err, errlen)) != 0)
		goto out;
	if ((rc = open_key(k, root, key_path, err, errlen)) != 0)
		goto out;
	*out = k;
	k = NULL;
out:
	if (root >= 0)
		close(root);
	samples_key_free(k);
	return rc;
}

void
samples_key_free(struct samples_key *k)
{
	if (k == NULL)
		return;
	if (k->key != NULL) {
		sodium_mprotect_readwrite(k->key);
		sodium_memzero(k->key, KEY_LEN);
		sodium_free(k->key);
	}
	free(k);
}

int
samples_key_seal_init(const struct samples_key *k,
		      crypto_secretstream_xchacha20poly1305_state *st,
		      uint8_t header[SAMPLES_SS_HEADER])
{
	if (crypto_secretstream_xchacha20poly1305_init_push(st, header,
							    k->key) != 0)
		return VG_ELIB;
	return 0;
}

int
samples_key_open_init(const struct samples_key *k,
		      crypto_secretstream_xchacha20poly1305_state *st,
		      const uint8_t header[SAMPLES_SS_HEADER])
{
	if (crypto_secretstream_xchacha20poly1305_init_pull(st, header,
							    k->key) != 0)
		return VG_ECORRUPT;
	return 0;
}

int
samples_key_use(const struct samples_key *k,
		int (*fn)(const uint8_t *key, size_t len, void *ud), void *ud)
{
	return fn(k->key, KEY_LEN, ud);
}

static int
local_seal_init(void *ctx, crypto_secretstream_xchacha20poly1305_state *st,
		uint8_t header[SAMPLES_SS_HEADER])
{
	return samples_key_seal_init(ctx, st, header);
}

static int
local_open_init(void *ctx, crypto_secretstream_xchacha20poly1305_state *st,
		const uint8_t header[SAMPLES_SS_HEADER])
{
	return samples_key_open_init(ctx, st, header);
}

void
samples_keysrc_local(struct samples_key *k, struct samples_keysrc *src)
{
	src->seal_init = local_seal_init;
	src->open_init = local_open_init;
	src->ctx = k;
}

int
samples_open(const char *dir, const char *key_path, struct samples **out,
	     char *err, size_t errlen)
{
	struct samples_keysrc src;
	struct samples_key *k;
	int rc;

	*out = NULL;
	if ((rc = samples_key_open(dir, key_path, &k, err, errlen)) != 0)
		return rc;
	samples_keysrc_local(k, &src);
	if ((rc = samples_open_keysrc(dir, &src, out, err, errlen)) != 0) {
		samples_key_free(k);
		return rc;
	}
	(*out)->own = k;
	return 0;
}

int
samples_open_keysrc(const char *dir, const struct samples_keysrc *src,
		    struct samples **out, char *err, size_t errlen)
{
	struct samples *s;
	bool used;
	int rc;

	*out = NULL;
	if (sodium_init() < 0) {
		vg_seterr(err, errlen, "libsodium failed to initialise");
		return VG_ELIB;
	}
	s = xcalloc(1, sizeof(*s));
	s->root = -1;
	s->seg_fd = -1;
	s->src = *src;
	if ((s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
		vg_seterr(err, errlen, "OpenSSL has no SHA-256");
		rc = VG_ELIB;
		goto out;
	}
	if ((rc = io_dir_open(dir, NULL, &s->root, err, errlen)) != 0)
		goto out;
	/* Appends go to a new segment after the last one: a tail a crash
	 * left in it is never written over or read. */
	if (scan_dir(s->root, &s->seg_no, &used) != 0) {
		vg_seterr(err, errlen, "%s: cannot list: %s", dir,
			  strerror(errno));
		rc = VG_EIO;
		goto out;
	}
	s->scratch = xmalloc(4 + SAMPLES_CHUNK + SS_ABYTES);
	*out = s;
	return 0;
out:
	samples_close(s);
	return rc;
}

void
samples_close(struct samples *s)
{
	if (s == NULL)
		return;
	samples_key_free(s->own);
	seg_abandon(s);
	free(s->scratch);
	free(s->wbuf);
	EVP_MD_free(s->sha256);
	if (s->root >= 0)
		close(s->root);
	free(s);
}
