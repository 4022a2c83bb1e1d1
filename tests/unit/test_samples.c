/*
 * test_samples.c - the encrypted sample store: round trips at the chunk
 * boundaries, the key file's rules, every way a stored file can be
 * damaged or forged being refused, deduplication, crash leftovers swept,
 * and concurrent writers of one sample.
 *
 * Each test runs in its own mkdtemp directory holding "store" and "key".
 * Forgeries are built with the real key read from the key file, so that
 * the checks after authentication (tags, lengths, the re-hash) are
 * reached, not just the MAC.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "store/samples.h"

#define HDR    28 /* magic + secretstream header */
#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES

struct fx {
	char root[64];
	char store[96];
	char key[96];
	struct samples *s;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL)
		return -1;
	strcpy(f->root, "/tmp/test_samples.XXXXXX");
	if (mkdtemp(f->root) == NULL)
		return -1;
	snprintf(f->store, sizeof(f->store), "%s/store", f->root);
	snprintf(f->key, sizeof(f->key), "%s/key", f->root);
	if (samples_open(f->store, f->key, &f->s, err, sizeof(err)) != 0) {
		fprintf(stderr, "samples_open: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	samples_close(f->s);
	nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void
sha_hex(const void *buf, size_t len, char hex[65])
{
	uint8_t md[32];
	unsigned n = 0;

	assert_true(
		EVP_Digest(len ? buf : "", len, md, &n, EVP_sha256(), NULL));
	sodium_bin2hex(hex, 65, md, sizeof(md));
}

static void
sample_path(const struct fx *f, const char *hex, char *out, size_t n)
{
	snprintf(out, n, "%s/%.2s/%.2s/%s", f->store, hex, hex + 2, hex);
}

static uint8_t *
read_whole(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *p;
	FILE *fp = fopen(path, "rb");

	assert_non_null(fp);
	assert_int_equal(fstat(fileno(fp), &st), 0);
	p = malloc((size_t)st.st_size + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)st.st_size, fp),
			 (size_t)st.st_size);
	fclose(fp);
	*len = (size_t)st.st_size;
	return p;
}

static void
write_whole(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* Puts len bytes at buf, and returns their name in hex. */
static void
put_sample(struct fx *f, const uint8_t *buf, size_t len, char hex[65])
{
	sha_hex(buf, len, hex);
	assert_int_equal(samples_put(f->s, hex, buf, len), 0);
}

static void
expect_get(struct fx *f, const char *hex, int want)
{
	uint8_t *out = (uint8_t *)"x";
	size_t len = 123;

	assert_int_equal(samples_get(f->s, hex, &out, &len), want);
	if (want != 0) {
		assert_null(out);
		assert_int_equal(len, 0);
	}
	free(want == 0 ? out : NULL);
}

static void
round_trip(struct fx *f, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1), *out = NULL;
	size_t got = 0;
	char hex[65];

	assert_non_null(buf);
	randombytes_buf(buf, len);
	put_sample(f, buf, len, hex);
	assert_int_equal(samples_has(f->s, hex), 1);
	assert_int_equal(samples_get(f->s, hex, &out, &got), 0);
	assert_int_equal(got, len);
	assert_memory_equal(out, buf, len ? len : 0);
	free(out);
	free(buf);
}

static void
test_round_trip_empty(void **state)
{
	round_trip(*state, 0);
}

static void
test_round_trip_one_byte(void **state)
{
	round_trip(*state, 1);
}

static void
test_round_trip_exactly_one_chunk(void **state)
{
	round_trip(*state, SAMPLES_CHUNK);
}

static void
test_round_trip_one_chunk_plus_one(void **state)
{
	round_trip(*state, SAMPLES_CHUNK + 1);
}

static void
test_round_trip_1mib_random(void **state)
{
	round_trip(*state, 1024 * 1024);
}

static void
test_stored_size_is_canonical(void **state)
{
	struct fx *f = *state;
	static const size_t lens[] = {0, 1, SAMPLES_CHUNK, SAMPLES_CHUNK + 1,
				      3 * SAMPLES_CHUNK};
	static const size_t chunks[] = {1, 1, 1, 2, 3};

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t *buf = calloc(1, lens[i] + 1);
		char hex[65], path[256];
		struct stat st;

		buf[0] = (uint8_t)i; /* distinct names for equal lengths */
		put_sample(f, buf, lens[i], hex);
		sample_path(f, hex, path, sizeof(path));
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_size,
				 HDR + chunks[i] * (4 + ABYTES) + lens[i]);
		free(buf);
	}
}

static void
test_key_created_0600_with_32_bytes(void **state)
{
	struct fx *f = *state;
	struct stat st;

	assert_int_equal(stat(f->key, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 32);
	assert_int_equal(stat(f->store, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
}

static void
test_key_reused_on_reopen(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "persisted across a restart", *out = NULL;
	size_t len;
	char hex[65], err[256];

	put_sample(f, buf, sizeof(buf), hex);
	samples_close(f->s);
	assert_int_equal(
		samples_open(f->store, f->key, &f->s, err, sizeof(err)), 0);
	assert_int_equal(samples_get(f->s, hex, &out, &len), 0);
	assert_memory_equal(out, buf, sizeof(buf));
	free(out);
}

static void
expect_open_refused(struct fx *f, const char *why)
{
	struct samples *s2 = (struct samples *)1;
	char err[256] = "";

	assert_int_equal(samples_open(f->store, f->key, &s2, err, sizeof(err)),
			 VG_EINVAL);
	assert_null(s2);
	if (strstr(err, why) == NULL)
		fail_msg("error \"%s\" does not say \"%s\"", err, why);
}

static void
test_key_mode_0644_refused(void **state)
{
	struct fx *f = *state;

	assert_int_equal(chmod(f->key, 0644), 0);
	expect_open_refused(f, "group or others");
	assert_int_equal(chmod(f->key, 0640), 0);
	expect_open_refused(f, "group or others");
}

static void
test_key_of_31_bytes_refused(void **state)
{
	struct fx *f = *state;
	uint8_t k[31] = {0};

	write_whole(f->key, k, sizeof(k), 0600);
	expect_open_refused(f, "31 bytes, expected 32");
}

static void
test_key_not_regular_file_refused(void **state)
{
	struct fx *f = *state;

	assert_int_equal(unlink(f->key), 0);
	assert_int_equal(mkdir(f->key, 0700), 0);
	expect_open_refused(f, "not a regular file");
}

static void
test_missing_key_for_store_with_samples_refused(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "orphan me not";
	char hex[65];
	struct stat st;

	put_sample(f, buf, sizeof(buf), hex);
	assert_int_equal(unlink(f->key), 0);
	expect_open_refused(f, "already holds samples");
	assert_int_equal(stat(f->key, &st), -1); /* no new key made */
}

static void
test_missing_key_for_empty_store_generated(void **state)
{
	struct fx *f = *state;
	struct samples *s2 = NULL;
	char err[256];
	struct stat st;

	assert_int_equal(unlink(f->key), 0);
	assert_int_equal(samples_open(f->store, f->key, &s2, err, sizeof(err)),
			 0);
	assert_int_equal(stat(f->key, &st), 0);
	assert_int_equal(st.st_size, 32);
	samples_close(s2);
}

static void
test_wrong_or_malformed_name_einval(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "some bytes";
	char hex[65], upper[65];

	sha_hex("other bytes", 11, hex);
	assert_int_equal(samples_put(f->s, hex, buf, sizeof(buf)), VG_EINVAL);
	sha_hex(buf, sizeof(buf), hex);
	for (int i = 0; i < 65; i++)
		upper[i] = (char)(hex[i] >= 'a' && hex[i] <= 'f'
					  ? hex[i] - 'a' + 'A'
					  : hex[i]);
	assert_int_equal(samples_put(f->s, upper, buf, sizeof(buf)), VG_EINVAL);
	hex[63] = '\0';
	assert_int_equal(samples_put(f->s, hex, buf, sizeof(buf)), VG_EINVAL);
	assert_int_equal(samples_has(f->s, hex), VG_EINVAL);
	expect_get(f, hex, VG_EINVAL);
	assert_int_equal(samples_put(f->s, "../../../../../../etc/passwd", buf,
				     sizeof(buf)),
			 VG_EINVAL);
}

static void
test_over_max_size_elimit(void **state)
{
	struct fx *f = *state;
	uint8_t b = 0;
	char hex[65];

	/* Refused on the length alone, before the buffer is read. */
	sha_hex(&b, 1, hex);
	assert_int_equal(samples_put(f->s, hex, &b, SAMPLES_MAX_SIZE + 1),
			 VG_ELIMIT);
}

static void
test_stored_file_hides_plaintext(void **state)
{
	struct fx *f = *state;
	static const char marker[] = "VIGIL-PLAINTEXT-MARKER-0123456789";
	uint8_t buf[3 * SAMPLES_CHUNK], *file;
	char hex[65], path[256];
	size_t len;

	assert_int_equal(sizeof(marker) - 1, 33);
	/* The marker at the start, across a chunk boundary and at the end. */
	memset(buf, 'A', sizeof(buf));
	memcpy(buf, marker, 32);
	memcpy(buf + SAMPLES_CHUNK - 16, marker, 32);
	memcpy(buf + sizeof(buf) - 32, marker, 32);
	put_sample(f, buf, sizeof(buf), hex);
	sample_path(f, hex, path, sizeof(path));
	file = read_whole(path, &len);
	assert_null(memmem(file, len, marker, 32));
	assert_null(memmem(file, len, marker, 8));
	assert_null(memmem(file, len, "AAAAAAAA", 8));
	free(file);
}

static int
count_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

static void
leaf_dir(const struct fx *f, const char *hex, char *out, size_t n)
{
	snprintf(out, n, "%s/%.2s/%.2s", f->store, hex, hex + 2);
}

static void
test_same_sample_twice_one_file(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "submitted by two clients";
	char hex[65], dir[256], path[256];
	struct stat a, b;

	put_sample(f, buf, sizeof(buf), hex);
	sample_path(f, hex, path, sizeof(path));
	assert_int_equal(stat(path, &a), 0);
	put_sample(f, buf, sizeof(buf), hex);
	assert_int_equal(stat(path, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino); /* not rewritten */
	leaf_dir(f, hex, dir, sizeof(dir));
	assert_int_equal(count_entries(dir, ""), 1);
}

static void
test_no_temp_file_after_put(void **state)
{
	struct fx *f = *state;
	uint8_t buf[SAMPLES_CHUNK * 2 + 5];
	char hex[65], dir[256];

	randombytes_buf(buf, sizeof(buf));
	put_sample(f, buf, sizeof(buf), hex);
	leaf_dir(f, hex, dir, sizeof(dir));
	assert_int_equal(count_entries(dir, ".tmp."), 0);
	assert_int_equal(count_entries(dir, ""), 1);
}

static void
test_missing_sample_enoent(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "never stored";
	char hex[65];

	sha_hex(buf, sizeof(buf), hex);
	assert_int_equal(samples_has(f->s, hex), 0);
	expect_get(f, hex, VG_ENOENT);
	/* Also when its leaf directory exists. */
	put_sample(f, (const uint8_t *)"x", 1, hex);
	hex[63] = hex[63] == '0' ? '1' : '0';
	expect_get(f, hex, VG_ENOENT);
}

/* Puts a 3-chunk sample and returns its name and file bytes. */
static uint8_t *
stored_three_chunks(struct fx *f, char hex[65], char *path, size_t *flen)
{
	uint8_t buf[2 * SAMPLES_CHUNK + 100];

	randombytes_buf(buf, sizeof(buf));
	put_sample(f, buf, sizeof(buf), hex);
	sample_path(f, hex, path, 256);
	return read_whole(path, flen);
}

static void
test_truncated_file_corrupt(void **state)
{
	struct fx *f = *state;
	char hex[65], path[256];
	size_t flen;
	uint8_t *file = stored_three_chunks(f, hex, path, &flen);
	const size_t cuts[] = {0,
			       1,
			       4,
			       HDR - 1,
			       HDR,
			       HDR + 2,
			       HDR + 4,
			       HDR + 4 + 100,
			       HDR + 4 + SAMPLES_CHUNK + ABYTES,
			       HDR + 2 * (4 + SAMPLES_CHUNK + ABYTES),
			       flen - ABYTES,
			       flen - 1};

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		write_whole(path, file, cuts[i], 0600);
		expect_get(f, hex, VG_ECORRUPT);
	}
	/* And the whole file still reads: the damage was the cut. */
	write_whole(path, file, flen, 0600);
	expect_get(f, hex, 0);
	free(file);
}

static void
test_flipped_byte_corrupt(void **state)
{
	struct fx *f = *state;
	char hex[65], path[256];
	size_t flen;
	uint8_t *file = stored_three_chunks(f, hex, path, &flen);
	const size_t at[] = {0,
			     3,
			     4,
			     HDR - 1,
			     HDR,
			     HDR + 3,
			     HDR + 4,
			     HDR + 4 + 1000,
			     HDR + 4 + SAMPLES_CHUNK + ABYTES - 1,
			     HDR + 4 + SAMPLES_CHUNK + ABYTES + 4,
			     flen - ABYTES,
			     flen - 1};

	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		for (uint8_t bit = 1; bit != 0; bit = (uint8_t)(bit << 3)) {
			file[at[i]] ^= bit;
			write_whole(path, file, flen, 0600);
			expect_get(f, hex, VG_ECORRUPT);
			file[at[i]] ^= bit;
		}
	}
	write_whole(path, file, flen, 0600);
	expect_get(f, hex, 0);
	free(file);
}

static void
test_file_under_other_name_corrupt(void **state)
{
	struct fx *f = *state;
	uint8_t a[100], b[100];
	char ha[65], hb[65], pa[256], pb[256];
	uint8_t *file;
	size_t flen;

	/* Same length, so only the binding to the name can tell them
	 * apart. */
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	put_sample(f, a, sizeof(a), ha);
	put_sample(f, b, sizeof(b), hb);
	sample_path(f, ha, pa, sizeof(pa));
	sample_path(f, hb, pb, sizeof(pb));
	file = read_whole(pa, &flen);
	write_whole(pb, file, flen, 0600);
	expect_get(f, hb, VG_ECORRUPT);
	expect_get(f, ha, 0);
	free(file);
}

static void
test_trailing_garbage_corrupt(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "no tail allowed", *file;
	char hex[65], path[256];
	size_t flen, extra[] = {1, 4, ABYTES, 4 + ABYTES, 4 + ABYTES + 1};

	put_sample(f, buf, sizeof(buf), hex);
	sample_path(f, hex, path, sizeof(path));
	file = read_whole(path, &flen);
	file = realloc(file, flen + 64);
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		memset(file + flen, 0, extra[i]);
		write_whole(path, file, flen + extra[i], 0600);
		expect_get(f, hex, VG_ECORRUPT);
	}
	free(file);
}

static void
test_file_from_other_key_corrupt(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "written under the old key", k[32];
	char hex[65], err[256];

	put_sample(f, buf, sizeof(buf), hex);
	samples_close(f->s);
	f->s = NULL;
	randombytes_buf(k, sizeof(k));
	write_whole(f->key, k, sizeof(k), 0600);
	assert_int_equal(
		samples_open(f->store, f->key, &f->s, err, sizeof(err)), 0);
	expect_get(f, hex, VG_ECORRUPT);
}

/*
 * Writes a file in the store's format under the store's own key, with
 * the given chunks, tags and additional data: what a writer bug, or an
 * attacker holding the key, could produce.
 */
struct chunk {
	const uint8_t *p;
	size_t n;
	unsigned char tag;
};

static void
forge(struct fx *f, const char *path, const struct chunk *c, size_t nc,
      const uint8_t ad[32])
{
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t key[32], hdr[HDR], *out, *q;
	size_t klen, total = HDR;
	uint8_t *kf = read_whole(f->key, &klen);

	assert_int_equal(klen, 32);
	memcpy(key, kf, 32);
	free(kf);
	for (size_t i = 0; i < nc; i++)
		total += 4 + c[i].n + ABYTES;
	out = q = malloc(total);
	assert_non_null(out);
	memcpy(hdr, "VGS1", 4);
	crypto_secretstream_xchacha20poly1305_init_push(&st, hdr + 4, key);
	memcpy(q, hdr, HDR);
	q += HDR;
	for (size_t i = 0; i < nc; i++) {
		unsigned long long clen;
		uint32_t n = (uint32_t)(c[i].n + ABYTES);

		q[0] = (uint8_t)(n >> 24);
		q[1] = (uint8_t)(n >> 16);
		q[2] = (uint8_t)(n >> 8);
		q[3] = (uint8_t)n;
		crypto_secretstream_xchacha20poly1305_push(
			&st, q + 4, &clen, c[i].p, c[i].n, ad, 32, c[i].tag);
		q += 4 + clen;
	}
	write_whole(path, out, total, 0600);
	free(out);
}

static void
unhex32(const char *hex, uint8_t out[32])
{
	assert_int_equal(sodium_hex2bin(out, 32, hex, 64, NULL, NULL, NULL), 0);
}

static void
test_forged_file_without_final_tag_corrupt(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "cut before the end", ad[32];
	struct chunk c = {buf, sizeof(buf),
			  crypto_secretstream_xchacha20poly1305_TAG_MESSAGE};
	char hex[65], path[256];

	put_sample(f, buf, sizeof(buf), hex);
	sample_path(f, hex, path, sizeof(path));
	unhex32(hex, ad);
	forge(f, path, &c, 1, ad);
	expect_get(f, hex, VG_ECORRUPT);
	/* The same forgery tagged FINAL reads: the forge is faithful. */
	c.tag = crypto_secretstream_xchacha20poly1305_TAG_FINAL;
	forge(f, path, &c, 1, ad);
	expect_get(f, hex, 0);
}

static void
test_forged_chunk_after_final_corrupt(void **state)
{
	struct fx *f = *state;
	uint8_t *buf = malloc(SAMPLES_CHUNK + 1), ad[32];
	char hex[65], path[256];
	struct chunk c[2];

	/* Sized so that the file length is that of a genuine two-chunk
	 * sample: only the early FINAL tag gives it away. */
	randombytes_buf(buf, SAMPLES_CHUNK + 1);
	put_sample(f, buf, SAMPLES_CHUNK + 1, hex);
	sample_path(f, hex, path, sizeof(path));
	unhex32(hex, ad);
	c[0] = (struct chunk){buf, SAMPLES_CHUNK,
			      crypto_secretstream_xchacha20poly1305_TAG_FINAL};
	c[1] = (struct chunk){buf + SAMPLES_CHUNK, 1,
			      crypto_secretstream_xchacha20poly1305_TAG_FINAL};
	forge(f, path, c, 2, ad);
	expect_get(f, hex, VG_ECORRUPT);
	free(buf);
}

static void
test_forged_uneven_chunks_corrupt(void **state)
{
	struct fx *f = *state;
	uint8_t buf[200], ad[32];
	char hex[65], path[256];
	struct chunk c[2] = {
		{buf, 100, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE},
		{buf + 100, 100,
		 crypto_secretstream_xchacha20poly1305_TAG_FINAL}};

	/* Authentic chunks in a non-canonical cut: the lengths give it
	 * away. */
	randombytes_buf(buf, sizeof(buf));
	put_sample(f, buf, sizeof(buf), hex);
	sample_path(f, hex, path, sizeof(path));
	unhex32(hex, ad);
	forge(f, path, c, 2, ad);
	expect_get(f, hex, VG_ECORRUPT);
}

static void
test_forged_content_not_matching_name_corrupt(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "the real sample", fake[] = "a swapped sample", ad[32];
	struct chunk c = {fake, sizeof(buf),
			  crypto_secretstream_xchacha20poly1305_TAG_FINAL};
	char hex[65], path[256];

	/* Authenticated under the right name but with other bytes: only the
	 * re-hash after decryption catches it. */
	assert_true(sizeof(fake) > sizeof(buf));
	put_sample(f, buf, sizeof(buf), hex);
	sample_path(f, hex, path, sizeof(path));
	unhex32(hex, ad);
	forge(f, path, &c, 1, ad);
	expect_get(f, hex, VG_ECORRUPT);
}

static void
test_symlinked_sample_refused(void **state)
{
	struct fx *f = *state;
	uint8_t a[] = "target", b[] = "link";
	char ha[65], hb[65], pa[256], pb[256];

	put_sample(f, a, sizeof(a), ha);
	put_sample(f, b, sizeof(b), hb);
	sample_path(f, ha, pa, sizeof(pa));
	sample_path(f, hb, pb, sizeof(pb));
	assert_int_equal(unlink(pb), 0);
	assert_int_equal(symlink(pa, pb), 0);
	expect_get(f, hb, VG_ETYPE);
}

static void
test_damaged_copy_replaced_by_put(void **state)
{
	struct fx *f = *state;
	uint8_t buf[2 * SAMPLES_CHUNK + 100], *out = NULL;
	char hex[65], path[256];
	struct stat st;
	size_t len;

	/* put() knows the length, so even a one-byte cut makes it rewrite
	 * the copy instead of deduplicating against it. */
	randombytes_buf(buf, sizeof(buf));
	put_sample(f, buf, sizeof(buf), hex);
	sample_path(f, hex, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size - 1), 0);
	expect_get(f, hex, VG_ECORRUPT);
	assert_int_equal(samples_put(f->s, hex, buf, sizeof(buf)), 0);
	assert_int_equal(samples_get(f->s, hex, &out, &len), 0);
	assert_int_equal(len, sizeof(buf));
	assert_memory_equal(out, buf, sizeof(buf));
	free(out);
	/* has() knows no length: it sees only sizes no sample can have. */
	assert_int_equal(truncate(path, 10), 0);
	assert_int_equal(samples_has(f->s, hex), 0);
}

static void
test_failed_write_leaves_nothing(void **state)
{
	struct fx *f = *state;
	uint8_t buf[4 * SAMPLES_CHUNK];
	struct rlimit old, small = {SAMPLES_CHUNK, SAMPLES_CHUNK};
	char hex[65], dir[256];
	void (*was)(int);

	/* A write that fails half-way (here EFBIG; ENOSPC in life) must
	 * leave neither a sample nor its temporary file. */
	randombytes_buf(buf, sizeof(buf));
	sha_hex(buf, sizeof(buf), hex);
	was = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(samples_put(f->s, hex, buf, sizeof(buf)), VG_EIO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, was);
	assert_int_equal(samples_has(f->s, hex), 0);
	leaf_dir(f, hex, dir, sizeof(dir));
	assert_int_equal(count_entries(dir, ""), 0);
	/* And the store still takes the sample afterwards. */
	assert_int_equal(samples_put(f->s, hex, buf, sizeof(buf)), 0);
	expect_get(f, hex, 0);
}

static void
plant(const char *dir, const char *name, time_t age, char *path, size_t n)
{
	struct timespec ts[2];

	snprintf(path, n, "%s/%s", dir, name);
	write_whole(path, "partial", 7, 0600);
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void
test_sweep_removes_only_old_temp_files(void **state)
{
	struct fx *f = *state;
	uint8_t buf[] = "a real sample", *out = NULL;
	char hex[65], dir[256], old[384], fresh[384], other[384], path[256];
	size_t len;

	put_sample(f, buf, sizeof(buf), hex);
	leaf_dir(f, hex, dir, sizeof(dir));
	plant(dir, ".tmp.dead.1.0123456789abcdef", 3600, old, sizeof(old));
	plant(dir, ".tmp.live.2.0123456789abcdef", 5, fresh, sizeof(fresh));
	/* Old, but not a temporary file: not the sweeper's to remove. */
	plant(dir, "notes", 3600, other, sizeof(other));
	sample_path(f, hex, path, sizeof(path));
	{
		struct timespec ts[2] = {{time(NULL) - 86400, 0},
					 {time(NULL) - 86400, 0}};
		assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	}
	assert_int_equal(samples_sweep(f->s), 1);
	assert_int_equal(access(old, F_OK), -1);
	assert_int_equal(access(fresh, F_OK), 0);
	assert_int_equal(access(other, F_OK), 0);
	assert_int_equal(samples_get(f->s, hex, &out, &len), 0);
	free(out);
	assert_int_equal(samples_sweep(f->s), 0);
}

struct racer {
	struct fx *f;
	const uint8_t *buf;
	size_t len;
	const char *hex;
	pthread_barrier_t *go;
	int rc;
};

static void *
race(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->go);
	r->rc = samples_put(r->f->s, r->hex, r->buf, r->len);
	return NULL;
}

static void
test_concurrent_puts_of_one_sample(void **state)
{
	struct fx *f = *state;
	size_t len = 5 * SAMPLES_CHUNK + 7;
	uint8_t *buf = malloc(len), *out = NULL;
	struct racer r[4];
	pthread_t t[4];
	pthread_barrier_t go;
	char hex[65], dir[256];
	size_t got;

	randombytes_buf(buf, len);
	sha_hex(buf, len, hex);
	pthread_barrier_init(&go, NULL, 4);
	for (int i = 0; i < 4; i++) {
		r[i] = (struct racer){f, buf, len, hex, &go, 1};
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(r[i].rc, 0);
	}
	pthread_barrier_destroy(&go);
	leaf_dir(f, hex, dir, sizeof(dir));
	assert_int_equal(count_entries(dir, ""), 1);
	assert_int_equal(count_entries(dir, ".tmp."), 0);
	assert_int_equal(samples_get(f->s, hex, &out, &got), 0);
	assert_int_equal(got, len);
	assert_memory_equal(out, buf, len);
	free(out);
	free(buf);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_round_trip_empty),
		T(test_round_trip_one_byte),
		T(test_round_trip_exactly_one_chunk),
		T(test_round_trip_one_chunk_plus_one),
		T(test_round_trip_1mib_random),
		T(test_stored_size_is_canonical),
		T(test_key_created_0600_with_32_bytes),
		T(test_key_reused_on_reopen),
		T(test_key_mode_0644_refused),
		T(test_key_of_31_bytes_refused),
		T(test_key_not_regular_file_refused),
		T(test_missing_key_for_store_with_samples_refused),
		T(test_missing_key_for_empty_store_generated),
		T(test_wrong_or_malformed_name_einval),
		T(test_over_max_size_elimit),
		T(test_stored_file_hides_plaintext),
		T(test_same_sample_twice_one_file),
		T(test_no_temp_file_after_put),
		T(test_missing_sample_enoent),
		T(test_truncated_file_corrupt),
		T(test_flipped_byte_corrupt),
		T(test_file_under_other_name_corrupt),
		T(test_trailing_garbage_corrupt),
		T(test_file_from_other_key_corrupt),
		T(test_forged_file_without_final_tag_corrupt),
		T(test_forged_chunk_after_final_corrupt),
		T(test_forged_uneven_chunks_corrupt),
		T(test_forged_content_not_matching_name_corrupt),
		T(test_symlinked_sample_refused),
		T(test_damaged_copy_replaced_by_put),
		T(test_failed_write_leaves_nothing),
		T(test_sweep_removes_only_old_temp_files),
		T(test_concurrent_puts_of_one_sample),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
