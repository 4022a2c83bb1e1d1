/*
 * test_workerlog.c - how the node writes a worker's output into its own
 * log (src/node/workerlog.c): every byte that is not printable ASCII is
 * escaped, and so are quotes and backslashes; nothing overruns the
 * buffer, and an escape is never cut in half.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "node/workerlog.h"

static void
test_printable_text_is_kept(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(
		workerlog_escape("level=info a=b", 14, out, sizeof(out)), 14);
	assert_string_equal(out, "level=info a=b");
}

static void
test_controls_quotes_backslashes_and_high_bytes_are_escaped(void **state)
{
	static const char in[] = "a\0b\x1b[2J\"q\"\\\n\xff";
	char out[128];

	(void)state;
	workerlog_escape(in, sizeof(in) - 1, out, sizeof(out));
	assert_string_equal(out, "a\\x00b\\x1b[2J\\\"q\\\"\\\\\\x0a\\xff");
}

static void
test_a_small_buffer_never_holds_half_an_escape(void **state)
{
	char out[6];

	(void)state;
	/* "ab" fits, "\x01" (4 bytes) does not after it: stops at "ab". */
	assert_int_equal(workerlog_escape("ab\x01z", 4, out, sizeof(out)), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(workerlog_escape("\"\"\"", 3, out, sizeof(out)), 4);
	assert_string_equal(out, "\\\"\\\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_printable_text_is_kept),
		cmocka_unit_test(
			test_controls_quotes_backslashes_and_high_bytes_are_escaped),
		cmocka_unit_test(
			test_a_small_buffer_never_holds_half_an_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
