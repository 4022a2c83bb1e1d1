/*
 * limits.c - defaults, validation and names for the engine's limits.
 */
#include "engine/limits.h"

#include "common/err.h"

void
limits_default(struct vg_limits *l)
{
	l->max_file_size = VG_LIMIT_MAX_FILE_SIZE_DEFAULT;
	l->max_scan_bytes = VG_LIMIT_MAX_SCAN_BYTES_DEFAULT;
	l->max_depth = VG_LIMIT_MAX_DEPTH_DEFAULT;
	l->max_objects = VG_LIMIT_MAX_OBJECTS_DEFAULT;
	l->max_scan_ms = VG_LIMIT_MAX_SCAN_MS_DEFAULT;
	l->max_ratio = VG_LIMIT_MAX_RATIO_DEFAULT;
}

int
limits_check(const struct vg_limits *l)
{
	if (l->max_file_size == 0 ||
	    l->max_file_size > VG_LIMIT_MAX_FILE_SIZE_CEILING)
		return VG_EINVAL;
	if (l->max_scan_bytes == 0 ||
	    l->max_scan_bytes > VG_LIMIT_MAX_FILE_SIZE_CEILING)
		return VG_EINVAL;
	if (l->max_depth == 0 || l->max_depth > VG_LIMIT_MAX_DEPTH_CEILING)
		return VG_EINVAL;
	if (l->max_objects == 0 || l->max_scan_ms == 0)
		return VG_EINVAL;
	if (l->max_ratio == 0 || l->max_ratio > VG_LIMIT_MAX_RATIO_CEILING)
		return VG_EINVAL;
	return 0;
}

const char *
limits_kind_name(enum vg_limit_kind kind)
{
	switch (kind) {
	case VG_LIMIT_FILE_SIZE: return "FileSize";
	case VG_LIMIT_SCAN_BYTES: return "ScanSize";
	case VG_LIMIT_DEPTH: return "Recursion";
	case VG_LIMIT_OBJECTS: return "Files";
	case VG_LIMIT_TIME: return "Time";
	case VG_LIMIT_RATIO: return "Ratio";
	}
	return "Unknown";
}
