/*
 * text.h - making untrusted names safe to print.
 *
 * Names inside archives come from the archive: they may hold terminal
 * escape sequences, newlines that forge output lines, or bytes that are not
 * UTF-8. Everything printed or put in JSON goes through text_sanitize().
 */
#ifndef VIGIL_COMMON_TEXT_H
#define VIGIL_COMMON_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Returns a malloc'd copy of s (NULL if s is NULL) in which every byte
 * that is not part of valid UTF-8, and, when for_terminal is set, every
 * control character (C0, DEL, C1) and backslash, is written as \xNN.
 * The result is always valid UTF-8.
 */
char *text_sanitize(const char *s, bool for_terminal);

/*
 * Returns the length (1 to 4) of the valid UTF-8 sequence at p, reading at
 * most n bytes (n >= 1), and stores its code point in *cp; returns 0 if the
 * bytes there are not UTF-8 (overlong forms, surrogates and values above
 * U+10FFFF included).
 */
size_t text_utf8_decode(const char *p, size_t n, uint32_t *cp);

/*
 * Parses exactly n bytes at s as a calendar day "YYYY-MM-DD" (UTC), year
 * 1970 to 9999, a month and day that exist (leap years included), and
 * stores the Unix time of its midnight in *start. Returns true, or false
 * for anything else (then *start is untouched).
 */
bool text_day_parse(const char *s, size_t n, int64_t *start);

/* Writes the UTC day of Unix time t (0 to 9999-12-31) as "YYYY-MM-DD"
 * into out; returns false if t is out of that range. */
bool text_day_format(int64_t t, char out[11]);

#endif
