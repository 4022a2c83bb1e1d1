/*
 * elf.h - where an ELF file's own bytes end.
 *
 * libclamav's pass over an ELF file looks for other files embedded in it
 * (an archive appended to an executable, as self-extractors and droppers
 * do). That pass is the most expensive part of decomposing the shared
 * libraries that make up most of a Linux system, and within the extent the
 * ELF headers describe it finds nothing but false archive signatures in
 * code. The engine therefore lets libclamav take an ELF file apart only
 * when bytes lie beyond that extent (an overlay), or when the headers
 * cannot be trusted. This reads the header tables; it interprets nothing
 * else.
 */
#ifndef VIGIL_ENGINE_ELF_H
#define VIGIL_ENGINE_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Returns true when len bytes at buf are an ELF file whose section and
 * program headers, and the sections and segments they describe, account
 * for every byte. Returns false for anything else: not ELF, a header or
 * table out of bounds, an offset that overflows, or bytes beyond the last
 * described one (an overlay).
 */
bool elf_fully_described(const uint8_t *buf, size_t len);

#endif
