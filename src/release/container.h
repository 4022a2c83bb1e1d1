/*
 * container.h - the release container of docs/RELEASES.md ("The release
 * container"): one file that carries the files of a release, for
 * `vigil release publish` (the upload) and `vigil release bundle` (the
 * file for air-gapped endpoints).
 *
 *   vigil.release-bundle/v1\n
 *   file <path> <length>\n<length bytes>\n
 *   ...
 *   end\n
 *
 * A path is 1 to CONTAINER_PATH_MAX bytes of [A-Za-z0-9._-] and '/', not
 * starting with '/' or '.', without an empty, "." or ".." component and
 * not ending in '/'. A length is decimal without a leading zero (0 is
 * "0"). At most CONTAINER_FILES_MAX files, no path twice, and the whole
 * container at most CONTAINER_BYTES_MAX bytes; "end\n" is required and
 * nothing may follow it.
 *
 * The reader walks a buffer record by record and never reads past its
 * end, so it is safe on a truncated or hostile container; every error
 * names the byte offset and the record (1 for the first file). The files
 * it returns point into the caller's buffer.
 *
 * Errors: VG_EFORMAT for malformed input, VG_ELIMIT for a limit, with a
 * message in err. Threads: no global state.
 */
#ifndef VIGIL_RELEASE_CONTAINER_H
#define VIGIL_RELEASE_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONTAINER_MAGIC     "vigil.release-bundle/v1\n"
#define CONTAINER_PATH_MAX  512
#define CONTAINER_FILES_MAX 100000
#define CONTAINER_BYTES_MAX (UINT64_C(1) << 30)

/* One file of a container: path is NUL-terminated; data points into the
 * buffer the container was read from. */
struct container_file {
	char *path;
	size_t path_len;
	const uint8_t *data;
	size_t len;
	size_t record; /* 1 for the first file */
};

/* True if path[0..len) is a valid container path (rules above). */
bool container_path_ok(const char *path, size_t len);

/* ---- reading ---- */

/* A reader over buf[0..len); the caller keeps buf alive. */
struct container_reader {
	const uint8_t *buf;
	size_t len;
	size_t off;    /* of the next record */
	size_t record; /* records read */
	int state;     /* 0: before the magic, 1: in files, 2: ended */
};

void container_reader_init(struct container_reader *r, const void *buf,
			   size_t len);

/*
 * Reads the next record. Returns 1 with the file in *f (f->path is
 * malloc'd; the caller frees it), 0 at "end\n" with nothing after it, or
 * VG_EFORMAT / VG_ELIMIT with the offset and record in err. It does not
 * see duplicate paths; container_parse() does.
 */
int container_next(struct container_reader *r, struct container_file *f,
		   char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* A whole container: its files in order. */
struct container {
	struct container_file *files;
	size_t n;
};

/* Parses buf[0..len) into c (every check above, duplicates included).
 * c's files point into buf. On error c is empty. */
int container_parse(const void *buf, size_t len, struct container *c, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

/* The file called path, or NULL. */
const struct container_file *container_find(const struct container *c,
					    const char *path);

/* Frees what c owns and zeroes it; accepts a zeroed c. */
void container_free(struct container *c);

/* ---- writing ---- */

struct container_writer {
	int kind; /* where it writes: a FILE, an fd or memory */
	FILE *f;
	int fd;
	uint8_t *mem;
	size_t mem_len, mem_cap;
	size_t nfiles;
	uint64_t total; /* bytes written */
	int err;        /* the first error; every call after it fails */
	bool ended;
};

/* Starts a container on f, on fd, or in memory (magic written). */
int container_writer_file(struct container_writer *w, FILE *f)
	__attribute__((warn_unused_result));
int container_writer_fd(struct container_writer *w, int fd)
	__attribute__((warn_unused_result));
int container_writer_mem(struct container_writer *w)
	__attribute__((warn_unused_result));

/* Adds one file. VG_EINVAL for a bad path, VG_ELIMIT past the limits,
 * VG_EIO if writing fails. The caller adds each path once. */
int container_writer_add(struct container_writer *w, const char *path,
			 const void *data, size_t len)
	__attribute__((warn_unused_result));

/* Writes "end\n" (and flushes a FILE). */
int container_writer_end(struct container_writer *w)
	__attribute__((warn_unused_result));

/* The memory container (malloc'd, the caller's) and its length; the
 * writer lets go of it. NULL unless it was ended without error. */
uint8_t *container_writer_take(struct container_writer *w, size_t *len);

/* Frees what the writer holds (a memory container not taken). */
void container_writer_clear(struct container_writer *w);

#endif
