/*
 * lookup_body.h - the scanner for POST /v1/lookup bodies of the usual
 * form, {"hashes": ["...", ...]} of plain strings.
 *
 * Most lookups are exactly that, and reading them into a jansson tree was
 * most of their cost. The scanner takes only bodies it can read without
 * doubt: one key, "hashes", whose value is an array of strings of
 * printable ASCII without quote or backslash (so each string's bytes are
 * its value, and are valid inside a JSON string as they are), with JSON
 * whitespace anywhere JSON allows it. Anything else is left to the
 * general path, which also gives every error. A body the scanner takes is
 * valid JSON with the same strings in the same order (checked by the
 * fuzz_lookup_body target against jansson).
 */
#ifndef VIGIL_NODE_LOOKUP_BODY_H
#define VIGIL_NODE_LOOKUP_BODY_H

#include <stddef.h>

/* Called for the i-th string (from 0), its len bytes at s. */
typedef void (*lookup_hash_fn)(void *ud, size_t i, const char *s, size_t len);

/*
 * Scans the len bytes at p. Returns the number of strings, after calling
 * fn for each; or -1 if the body is not of the plain form or holds more
 * than max strings (fn may have been called for some: the caller
 * discards what it built).
 */
long lookup_body_scan(const char *p, size_t len, size_t max, lookup_hash_fn fn,
		      void *ud);

#endif
