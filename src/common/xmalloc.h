/*
 * xmalloc.h - allocation that never returns NULL.
 *
 * Running out of memory is treated as a broken invariant: fatal() names
 * the caller and exits. Sizes are checked for overflow before multiplying.
 */
#ifndef VIGIL_COMMON_XMALLOC_H
#define VIGIL_COMMON_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
/* Grows p to nmemb * size bytes; aborts on overflow or OOM. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
/* Returns a copy of s, or NULL if s is NULL. */
char *xstrdup(const char *s);
/* Returns a malloc'd printf-formatted string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "vigil: func: message" to stderr and exits with status 2. */
_Noreturn void fatal_at(const char *func, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define fatal(...) fatal_at(__func__, __VA_ARGS__)

#endif
