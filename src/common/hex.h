/*
 * hex.h - lowercase hexadecimal, the one form vigil writes hashes in.
 */
#ifndef VIGIL_COMMON_HEX_H
#define VIGIL_COMMON_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes n bytes as 2n lowercase hex digits and a terminator into out. */
void hex_encode(const uint8_t *in, size_t n, char *out);

/* True if s[0..len) are lowercase hex digits only. */
bool hex_is_lower(const char *s, size_t len);

/* Decodes exactly 2n lowercase hex digits at s into n bytes; false (out
 * unspecified) for anything else: "ABCD" and "abcd" are not both a name
 * of the same bytes. */
bool hex_decode_lower(const char *s, size_t n, uint8_t *out);

#endif
