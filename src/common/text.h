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

/*
 * Returns a malloc'd copy of s (NULL if s is NULL) in which every byte
 * that is not part of valid UTF-8, and, when for_terminal is set, every
 * control character (C0, DEL, C1) and backslash, is written as \xNN.
 * The result is always valid UTF-8.
 */
char *text_sanitize(const char *s, bool for_terminal);

#endif
