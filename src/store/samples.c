/*
 * samples.c - the encrypted sample store's record and key; see samples.h.
 *
 * Owns what is the same whichever backend holds the records
 * (samples_impl.h): the record format, sealing a sample into a record and
 * verifying one read back, the checks on names and locations made before
 * a backend is asked, the sample key (a struct samples_key in
 * sodium_malloc'd memory, read-only once loaded, wiped by
 * samples_key_free) and its key file, and the public functions, which
 * pass each call on to the backend's table (samples_file.c: segment
 * files; samples_pg.c: PostgreSQL).
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
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "common/xmalloc.h"
#include "store/samples_impl.h"

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

_Static_assert(KEY_LEN == 32, "the key file holds 32 bytes");
_Static_assert(SAMPLES_CHUNK + SS_ABYTES <= UINT32_MAX, "length prefix");

struct samples_key {
	unsigned char *key; /* sodium_malloc'd, KEY_LEN bytes, read-only */
};

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

uint64_t
samples_record_size(uint64_t len)
{
	return REC_HDR + chunk_count(len) * CHUNK_OVER + len;
}

int
samples_base_init(struct samples *base, const struct samples_ops *ops,
		  const struct samples_keysrc *src, char *err, size_t errlen)
{
	base->ops = ops;
	base->src = *src;
	if (sodium_init() < 0)
		return vg_fail(err, errlen, VG_ELIB,
			       "libsodium failed to initialise");
	if ((base->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		return vg_fail(err, errlen, VG_ELIB, "OpenSSL has no SHA-256");
	base->scratch = xmalloc(4 + SAMPLES_CHUNK + SS_ABYTES);
	return 0;
}

void
samples_base_free(struct samples *base)
{
	samples_key_free(base->own);
	base->own = NULL;
	EVP_MD_free(base->sha256);
	base->sha256 = NULL;
	free(base->scratch);
	base->scratch = NULL;
}

int
samples_rec_seal(struct samples *s, const uint8_t sha[32], const uint8_t *buf,
		 size_t len, samples_put_fn put, void *ctx)
{
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t hdr[REC_HDR], *c = s->scratch;
	size_t off = 0;
	int rc;

	memcpy(hdr, MAGIC, MAGIC_LEN);
	memcpy(hdr + MAGIC_LEN, sha, 32);
	put_be64(hdr + MAGIC_LEN + 32, (uint64_t)len);
	if ((rc = s->src.seal_init(s->src.ctx, &st, hdr + AD_LEN)) != 0) {
		sodium_memzero(&st, sizeof(st));
		return rc;
	}
	rc = put(ctx, hdr, sizeof(hdr));
	while (rc == 0) {
		size_t n =
			len - off < SAMPLES_CHUNK ? len - off : SAMPLES_CHUNK;
		bool last = off + n == len;
		unsigned long long clen = 0;

		if (crypto_secretstream_xchacha20poly1305_push(
			    &st, c + 4, &clen, n ? buf + off : hdr, n, hdr,
			    AD_LEN, last ? TAG_FINAL : TAG_MSG) != 0) {
			rc = VG_ELIB;
			break;
		}
		put_be32(c, (uint32_t)clen);
		rc = put(ctx, c, 4 + (size_t)clen);
		off += n;
		if (last)
			break;
	}
	sodium_memzero(&st, sizeof(st));
	return rc;
}

int
samples_rec_open(struct samples *s, const struct sample_loc *loc,
		 const uint8_t want[32], samples_get_fn get, void *ctx,
		 uint8_t **out, size_t *len)
{
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t got[32], hdr[REC_HDR], *c = NULL, *p = NULL;
	uint64_t plen = 0, k, at = 0, off = 0;
	bool have_state = false;
	int rc;

	*out = NULL;
	*len = 0;
	if ((rc = get(ctx, at, hdr, sizeof(hdr))) != 0)
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

		if ((rc = get(ctx, at, c, 4)) != 0)
			goto out;
		/* Exactly the expected length, which is also within the
		 * buffer and the location (whose length fixed plen). */
		clen = get_be32(c);
		if (clen != n + SS_ABYTES) {
			rc = VG_ECORRUPT;
			goto out;
		}
		if ((rc = get(ctx, at + 4, c + 4, clen)) != 0)
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
	if (memcmp(want, got, sizeof(got)) != 0) {
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
	return rc;
}

int
samples_append(struct samples *s, const char *sha256_hex, const void *buf,
	       size_t len, struct sample_loc *loc)
{
	uint8_t want[32], got[32];
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
	return s->ops->append(s, want, buf, len, loc);
}

int
samples_sync(struct samples *s)
{
	return s->ops->sync(s, false);
}

int
samples_sync_ordered(struct samples *s)
{
	return s->ops->sync(s, true);
}

int
samples_read(struct samples *s, const struct sample_loc *loc,
	     const char *sha256_hex, uint8_t **out, size_t *len)
{
	uint8_t want[32];

	*out = NULL;
	*len = 0;
	if (parse_hex(sha256_hex, want) != 0 || loc == NULL ||
	    loc->segment == 0 || loc->segment > SAMPLES_SEGMENT_LAST)
		return VG_EINVAL;
	/* Known wrong whatever the backend holds: the length no sample's
	 * record has, an end past what any store can address. */
	if (loc->length < samples_record_size(0) ||
	    loc->length > samples_record_size(SAMPLES_MAX_SIZE) ||
	    loc->offset > (uint64_t)INT64_MAX - loc->length)
		return VG_ECORRUPT;
	return s->ops->read(s, loc, want, out, len);
}

int
samples_erase(struct samples *s, const struct sample_loc *loc)
{
	if (loc == NULL || loc->segment == 0 ||
	    loc->segment > SAMPLES_SEGMENT_LAST ||
	    loc->length < samples_record_size(0) ||
	    loc->length > samples_record_size(SAMPLES_MAX_SIZE) ||
	    loc->offset > (uint64_t)INT64_MAX - loc->length)
		return VG_EINVAL;
	return s->ops->erase(s, loc);
}

void
samples_close(struct samples *s)
{
	if (s == NULL)
		return;
	s->ops->close(s);
	samples_base_free(s);
	free(s);
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

	return samples_file_scan(root, &last, &used) != 0 || used;
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
