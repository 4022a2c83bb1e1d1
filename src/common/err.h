/*
 * err.h - vigil's error codes.
 *
 * Functions return 0 on success and a negative VG_E* code on failure;
 * vg_strerror() names the code. Codes are stable: they appear in logs.
 */
#ifndef VIGIL_COMMON_ERR_H
#define VIGIL_COMMON_ERR_H

#include <stddef.h>

enum {
	VG_OK = 0,
	VG_ENOMEM = -1,   /* out of memory */
	VG_EINVAL = -2,   /* invalid argument or configuration */
	VG_EIO = -3,      /* read or write failed */
	VG_EFORMAT = -4,  /* malformed input */
	VG_ELIMIT = -5,   /* a named limit was exceeded */
	VG_ELIB = -6,     /* a library call failed */
	VG_ENOENT = -7,   /* no such file or entry */
	VG_ETYPE = -8,    /* wrong kind of file (fifo, device, ...) */
	VG_ECORRUPT = -9, /* stored data makes no sense */
	VG_EVERIFY = -10, /* a signature or proof does not verify */
	VG_ERR_MIN = -10,
};

/* Returns a static, human-readable name for code; never NULL. */
const char *vg_strerror(int code);

/* snprintf into err, when err is not NULL and errlen > 0: the message
 * that goes with a returned code. */
void vg_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* vg_seterr(), then returns code: `return vg_fail(err, n, VG_E..., ...)`. */
int vg_fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
