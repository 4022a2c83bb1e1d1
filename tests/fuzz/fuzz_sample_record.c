/*
 * fuzz_sample_record.c - libFuzzer target: reading a sample record of the
 * node's sample store (src/store/samples.c, samples_read()) from a
 * segment file of hostile bytes, through the public API only. The
 * decoding it reaches, samples_rec_open(), is the one the PostgreSQL
 * backend reads its rows with too: only where the bytes come from differs.
 *
 * Once per process a store is opened in a private temporary directory
 * with a fixed key (FUZZ_KEY), so that the seeds, records that
 * samples_append() wrote under that key, decrypt, and their mutations
 * reach every check: the header, the plaintext length against the
 * location, each chunk's length prefix and tag, authentication, the final
 * hash. The input is
 *	mode (1 byte), offset (1 byte), then the segment file's bytes;
 * the record is read at that offset of segment FUZZ_SEGMENT, with
 *	the location's length (mode & 3): 0 the record size of the length
 *	the header claims, 1 the rest of the file, 2 one byte less than 0,
 *	3 the claimed length itself;
 *	the SHA-256 asked for (mode & 4): the one the header names, or
 *	the EICAR file's.
 * Whatever the bytes, the read returns; a sample it returns has the
 * SHA-256 asked for and the length the location fixes.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "store/samples.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_SEGMENT      9999
#define FUZZ_SEGMENT_NAME "0000000000009999.seg"
#define EICAR_SHA256                                                           \
	"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
/* The record's header: magic (4), SHA-256 (32), length (8). */
#define HDR_SHA 4
#define HDR_LEN 36

static const uint8_t FUZZ_KEY[32] = {
	0x76, 0x69, 0x67, 0x69, 0x6c, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d,
	0x73, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2d, 0x72, 0x65, 0x63, 0x6f,
	0x72, 0x64, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x30, 0x30, 0x31,
};

static char dir[4096], store_dir[4200], key_path[4200], seg_path[4300];
static struct samples *store;

/* Removes the temporary directory and everything in it. */
static void
cleanup(void)
{
	DIR *d;
	struct dirent *de;
	char p[4600];

	samples_close(store);
	if ((d = opendir(store_dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", store_dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(store_dir);
	unlink(key_path);
	rmdir(dir);
}

static void
setup(void)
{
	const char *t = getenv("TMPDIR");
	char err[256];
	int fd;

	snprintf(dir, sizeof(dir), "%s/fuzz_sample_record.XXXXXX",
		 t != NULL && t[0] != '\0' ? t : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(store_dir, sizeof(store_dir), "%s/samples", dir);
	snprintf(key_path, sizeof(key_path), "%s/sample.key", dir);
	snprintf(seg_path, sizeof(seg_path), "%s/%s", store_dir,
		 FUZZ_SEGMENT_NAME);
	fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 ||
	    write(fd, FUZZ_KEY, sizeof(FUZZ_KEY)) != sizeof(FUZZ_KEY) ||
	    close(fd) != 0)
		abort();
	if (samples_open(store_dir, key_path, &store, err, sizeof(err)) != 0) {
		fprintf(stderr, "samples_open: %s\n", err);
		abort();
	}
	atexit(cleanup);
}

static uint64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sample_loc loc = {FUZZ_SEGMENT, 0, 0};
	char sha[65] = EICAR_SHA256;
	uint8_t *out = NULL, md[32];
	const uint8_t *seg;
	size_t seglen, len = 0;
	uint64_t claimed = 0;
	int fd, rc;

	if (store == NULL)
		setup();
	if (size < 2)
		return 0;
	seg = data + 2;
	seglen = size - 2;
	loc.offset = data[1];
	fd = open(seg_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 ||
	    (seglen > 0 && write(fd, seg, seglen) != (ssize_t)seglen) ||
	    close(fd) != 0)
		abort();
	if (loc.offset + HDR_LEN + 8 <= seglen)
		claimed = be64(seg + loc.offset + HDR_LEN);
	switch (data[0] & 3) {
	case 0: loc.length = samples_record_size(claimed); break;
	case 1:
		loc.length = seglen >= loc.offset ? seglen - loc.offset : 0;
		break;
	case 2: loc.length = samples_record_size(claimed) - 1; break;
	default: loc.length = claimed; break;
	}
	if (!(data[0] & 4) && loc.offset + HDR_LEN <= seglen) {
		static const char hx[] = "0123456789abcdef";

		for (int i = 0; i < 32; i++) {
			uint8_t b = seg[loc.offset + HDR_SHA + i];

			sha[2 * i] = hx[b >> 4];
			sha[2 * i + 1] = hx[b & 15];
		}
	}
	rc = samples_read(store, &loc, sha, &out, &len);
	if (rc == 0) {
		char got[65];

		crypto_hash_sha256(md, out, len);
		sodium_bin2hex(got, sizeof(got), md, sizeof(md));
		if (strcmp(got, sha) != 0 ||
		    samples_record_size(len) != loc.length)
			abort(); /* served bytes that are not the sample */
	} else if (out != NULL || len != 0) {
		abort();
	}
	free(out);
	return 0;
}
