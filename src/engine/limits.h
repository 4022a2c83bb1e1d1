/*
 * limits.h - every limit the analysis engine enforces, in one place.
 *
 * A hostile file can ask for unbounded work: an archive that inflates to
 * gigabytes, nesting thousands of levels deep, or a million tiny members.
 * Each limit below is enforced twice: handed to libclamav so that it stops
 * early, and checked again in our own inspection callback so that a limit
 * libclamav silently honours (by skipping a member) still shows up in the
 * report. A file that hits any limit is never reported clean; see
 * docs/REPORT.md for the detection names (Limits.Exceeded.<Which>).
 */
#ifndef VIGIL_ENGINE_LIMITS_H
#define VIGIL_ENGINE_LIMITS_H

#include <stdint.h>

/* Largest single object (the file itself or one extracted member). */
#define VG_LIMIT_MAX_FILE_SIZE_DEFAULT (400ULL * 1024 * 1024)
/* Total bytes analysed for one file, summed over all its objects. */
#define VG_LIMIT_MAX_SCAN_BYTES_DEFAULT (400ULL * 1024 * 1024)
/* Deepest nesting analysed; the file itself is depth 0. */
#define VG_LIMIT_MAX_DEPTH_DEFAULT 16U
/* Most objects analysed for one file, the file itself included. */
#define VG_LIMIT_MAX_OBJECTS_DEFAULT 10000U
/* Wall-clock budget for one file, in milliseconds. */
#define VG_LIMIT_MAX_SCAN_MS_DEFAULT 120000U
/* Largest compression ratio (bytes out per byte in) of one object: a
 * compressed stream or an archive member. Ordinary data compresses 2-20
 * times, and logs or sparse images up to a few hundred; a bomb of zeros
 * 1,000 (deflate) to 100,000 (bzip2) times. */
#define VG_LIMIT_MAX_RATIO_DEFAULT 250U
/* The ratio is only judged once an object's output passes this size:
 * a few megabytes of zeros are ordinary, and cost nothing to analyse. */
#define VG_LIMIT_RATIO_FLOOR (16ULL * 1024 * 1024)

/* Hard ceilings a configuration may not exceed. */
#define VG_LIMIT_MAX_DEPTH_CEILING     64U
#define VG_LIMIT_MAX_FILE_SIZE_CEILING (4ULL * 1024 * 1024 * 1024)
#define VG_LIMIT_MAX_RATIO_CEILING     1000000U

/* Which limit was hit; a bit set, so a report can carry several. */
enum vg_limit_kind {
	VG_LIMIT_FILE_SIZE = 1 << 0,
	VG_LIMIT_SCAN_BYTES = 1 << 1,
	VG_LIMIT_DEPTH = 1 << 2,
	VG_LIMIT_OBJECTS = 1 << 3,
	VG_LIMIT_TIME = 1 << 4,
	VG_LIMIT_RATIO = 1 << 5,
};
#define VG_LIMIT_KIND_COUNT 6

struct vg_limits {
	uint64_t max_file_size;  /* bytes */
	uint64_t max_scan_bytes; /* bytes */
	uint32_t max_depth;      /* levels */
	uint32_t max_objects;    /* objects */
	uint32_t max_scan_ms;    /* milliseconds */
	uint32_t max_ratio;      /* output bytes per input byte */
};

/* Fills *l with the defaults above. */
void limits_default(struct vg_limits *l);

/* Returns 0 if every field of *l is within (0, ceiling], VG_EINVAL if not. */
int limits_check(const struct vg_limits *l);

/* Returns the name used in detections and JSON for one kind
 * ("FileSize", "ScanSize", "Recursion", "Files", "Time", "Ratio"); static
 * storage. */
const char *limits_kind_name(enum vg_limit_kind kind);

#endif
