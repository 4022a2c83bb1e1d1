/*
 * elf.c - the extent an ELF file's headers describe; see elf.h.
 *
 * Every read is bounded by len; any inconsistency answers "not fully
 * described", which makes the engine fall back to libclamav's full pass.
 */
#include "engine/elf.h"

#include <string.h>

/* The most table entries we walk; real files have a few hundred. */
#define ELF_MAX_ENTRIES 65535

struct elf {
	const uint8_t *p;
	size_t len;
	bool is64, be;
};

/* Reads an n-byte unsigned field at off into *v; false if out of bounds. */
static bool
field(const struct elf *e, uint64_t off, unsigned n, uint64_t *v)
{
	uint64_t x = 0;

	if (off > e->len || n > e->len - off)
		return false;
	for (unsigned i = 0; i < n; i++) {
		unsigned k = e->be ? i : n - 1 - i;
		x = x << 8 | e->p[off + k];
	}
	*v = x;
	return true;
}

/* Widens *end to off + size; false if that overflows or passes len. */
static bool
extend(const struct elf *e, uint64_t off, uint64_t size, uint64_t *end)
{
	if (off > e->len || size > e->len - off)
		return false;
	if (off + size > *end)
		*end = off + size;
	return true;
}

/* Walks one header table: n entries of entsize bytes at off. For each
 * entry, the (offset, size) fields at the given positions and widths,
 * skipping entries whose type field (4 bytes at 4 for sections) says
 * they occupy no file space. */
static bool
table(const struct elf *e, uint64_t off, uint64_t n, uint64_t entsize,
      unsigned off_at, unsigned size_at, unsigned w, bool sections,
      uint64_t *end)
{
	if (n == 0)
		return true;
	if (n > ELF_MAX_ENTRIES || entsize < size_at + w ||
	    !extend(e, off, n * entsize, end))
		return false;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t base = off + i * entsize, type, o, s;

		if (!field(e, base + off_at, w, &o) ||
		    !field(e, base + size_at, w, &s))
			return false;
		if (sections) {
			/* SHT_NULL (0) and SHT_NOBITS (8) have no bytes. */
			if (!field(e, base + 4, 4, &type))
				return false;
			if (type == 0 || type == 8)
				continue;
		}
		if (!extend(e, o, s, end))
			return false;
	}
	return true;
}

bool
elf_fully_described(const uint8_t *buf, size_t len)
{
	struct elf e = {.p = buf, .len = len};
	uint64_t phoff, shoff, phent, phnum, shent, shnum, end = 0;

	if (len < 64 || memcmp(buf,
			       "\x7f"
			       "ELF",
			       4) != 0)
		return false;
	if ((buf[4] != 1 && buf[4] != 2) || (buf[5] != 1 && buf[5] != 2))
		return false;
	e.is64 = buf[4] == 2;
	e.be = buf[5] == 2;
	if (e.is64) {
		if (!field(&e, 0x20, 8, &phoff) ||
		    !field(&e, 0x28, 8, &shoff) ||
		    !field(&e, 0x36, 2, &phent) ||
		    !field(&e, 0x38, 2, &phnum) ||
		    !field(&e, 0x3a, 2, &shent) || !field(&e, 0x3c, 2, &shnum))
			return false;
		end = 64;
		if (!table(&e, phoff, phnum, phent, 0x08, 0x20, 8, false,
			   &end) ||
		    !table(&e, shoff, shnum, shent, 0x18, 0x20, 8, true, &end))
			return false;
	} else {
		if (!field(&e, 0x1c, 4, &phoff) ||
		    !field(&e, 0x20, 4, &shoff) ||
		    !field(&e, 0x2a, 2, &phent) ||
		    !field(&e, 0x2c, 2, &phnum) ||
		    !field(&e, 0x2e, 2, &shent) || !field(&e, 0x30, 2, &shnum))
			return false;
		end = 52;
		if (!table(&e, phoff, phnum, phent, 0x04, 0x10, 4, false,
			   &end) ||
		    !table(&e, shoff, shnum, shent, 0x10, 0x14, 4, true, &end))
			return false;
	}
	return end == len;
}
