/*
 * streams.h - gzip, bzip2 and xz files taken apart member by member, with
 * bounded output.
 *
 * libclamav decompresses only the first member of a gzip file and says
 * nothing when a stream is cut short or fails its check; the engine
 * therefore hands these three formats to zlib, libbz2 and liblzma itself.
 * Every member becomes a part of its own; bytes after the last member that
 * are not padding become a part named "#appended"; a truncated member, a
 * failed CRC or length check, or a corrupt header is a problem; and no
 * member inflates past the bounds below (docs/REPORT.md, "Every byte").
 */
#ifndef VIGIL_ENGINE_STREAMS_H
#define VIGIL_ENGINE_STREAMS_H

#include <stddef.h>
#include <stdint.h>

enum stream_format {
	STREAM_GZIP = 0,
	STREAM_BZIP2,
	STREAM_XZ,
};

/* How far inflation may go. */
struct stream_bounds {
	uint64_t max_member;  /* bytes one part may hold (FileSize) */
	uint64_t max_total;   /* bytes all parts together may hold (ScanSize) */
	uint32_t max_ratio;   /* part bytes per input byte (Ratio), judged
				 past VG_LIMIT_RATIO_FLOOR */
	uint64_t deadline_ms; /* clock_ms() at which inflation stops (Time) */
};

struct stream_part {
	uint8_t *data;   /* owned by the result; NULL when len is 0 */
	size_t len;      /* bytes of output */
	char *name;      /* gzip's stored name, "#appended", or NULL; owned */
	uint64_t offset; /* where the part starts in the input */
	uint64_t in_len; /* input bytes it came from */
};

struct stream_result {
	struct stream_part *parts;
	size_t n_parts;
	uint32_t limits_hit; /* enum vg_limit_kind bits */
	char *problem;       /* why some input bytes were not analysed; owned */
};

/* The format libclamav's type name stands for: 0 and *f set, or -1 if
 * the type is none of the three. */
int stream_format_of(const char *cl_type, enum stream_format *f);

/*
 * Takes buf apart as format f within bounds b, filling *out (which the
 * caller zeroes first and frees with stream_result_free()). Never fails:
 * whatever could not be taken apart is in out->problem or
 * out->limits_hit, and the parts hold every byte that was recovered.
 * A declared size (gzip's ISIZE trailer, xz's index) over the bounds is
 * refused before any inflation.
 */
void stream_split(enum stream_format f, const uint8_t *buf, size_t len,
		  const struct stream_bounds *b, struct stream_result *out);

/* Frees what *r holds and zeroes it; accepts an empty result. */
void stream_result_free(struct stream_result *r);

/* Where a zip file's data ends: just past its end-of-central-directory
 * record and comment; 0 when no whole record agrees with the central
 * directory before it (a truncated or corrupt zip). */
size_t stream_zip_end(const uint8_t *buf, size_t len);

/* Where a tar archive's data ends: just past its end-of-archive blocks,
 * or at the first block that is not a whole, valid header. When an
 * entry's data runs past len, returns len and sets *truncated. */
size_t stream_tar_end(const uint8_t *buf, size_t len, int *truncated);

/* True if all len bytes of buf are zero (padding, not data). */
int stream_all_zero(const uint8_t *buf, size_t len);

#endif
