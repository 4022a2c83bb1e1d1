/*
 * test_elf.c - deciding whether an ELF file's headers account for all its
 * bytes: a real executable does, one with an appended payload does not,
 * and every malformed header answers "not described" (full scan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/elf.h"

static uint8_t *elf;
static size_t elf_len;

static int
setup(void **state)
{
	FILE *f = fopen("/bin/true", "rb");

	(void)state;
	if (f == NULL)
		return -1;
	fseek(f, 0, SEEK_END);
	elf_len = (size_t)ftell(f);
	rewind(f);
	elf = malloc(elf_len + 4096);
	if (fread(elf, 1, elf_len, f) != elf_len)
		return -1;
	fclose(f);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(elf);
	return 0;
}

static void
test_system_executable_is_fully_described(void **state)
{
	(void)state;
	assert_true(elf_fully_described(elf, elf_len));
}

static void
test_appended_payload_is_an_overlay(void **state)
{
	(void)state;
	memcpy(elf + elf_len, "PK\x03\x04", 4);
	assert_false(elf_fully_described(elf, elf_len + 4));
	assert_false(elf_fully_described(elf, elf_len + 1));
}

static void
test_truncated_file_is_not_described(void **state)
{
	(void)state;
	assert_false(elf_fully_described(elf, elf_len - 1));
	assert_false(elf_fully_described(elf, 63));
	assert_false(elf_fully_described(elf, 0));
}

static void
test_hostile_header_fields_fail_closed(void **state)
{
	uint8_t *copy = malloc(elf_len);

	(void)state;
	/* e_shoff far past the end (64-bit header: offset 0x28). */
	memcpy(copy, elf, elf_len);
	memset(copy + 0x28, 0xff, 8);
	assert_false(elf_fully_described(copy, elf_len));
	/* e_shentsize too small to hold the fields read. */
	memcpy(copy, elf, elf_len);
	copy[0x3a] = 4;
	copy[0x3b] = 0;
	assert_false(elf_fully_described(copy, elf_len));
	/* Unknown class and data encoding. */
	memcpy(copy, elf, elf_len);
	copy[4] = 3;
	assert_false(elf_fully_described(copy, elf_len));
	memcpy(copy, elf, elf_len);
	copy[5] = 0;
	assert_false(elf_fully_described(copy, elf_len));
	free(copy);
}

static void
test_not_elf(void **state)
{
	uint8_t buf[128] = "MZ";

	(void)state;
	assert_false(elf_fully_described(buf, sizeof(buf)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_system_executable_is_fully_described),
		cmocka_unit_test(test_appended_payload_is_an_overlay),
		cmocka_unit_test(test_truncated_file_is_not_described),
		cmocka_unit_test(test_hostile_header_fields_fail_closed),
		cmocka_unit_test(test_not_elf),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
