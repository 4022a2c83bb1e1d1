/*
 * err.c - names for the VG_E* codes of err.h, and their messages.
 */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>

static void
vseterr(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (err != NULL && errlen > 0)
		vsnprintf(err, errlen, fmt, ap);
}

void
vg_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vseterr(err, errlen, fmt, ap);
	va_end(ap);
}

int
vg_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vseterr(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}

const char *
vg_strerror(int code)
{
	switch (code) {
	case VG_OK: return "success";
	case VG_ENOMEM: return "out of memory";
	case VG_EINVAL: return "invalid argument";
	case VG_EIO: return "input/output error";
	case VG_EFORMAT: return "malformed input";
	case VG_ELIMIT: return "limit exceeded";
	case VG_ELIB: return "library error";
	case VG_ENOENT: return "not found";
	case VG_ETYPE: return "not a regular file";
	case VG_ECORRUPT: return "corrupt data";
	case VG_EVERIFY: return "verification failed";
	}
	return "unknown error";
}
