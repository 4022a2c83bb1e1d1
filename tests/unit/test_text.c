/*
 * test_text.c - escaping untrusted names for terminals and JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include <string.h>

#include "common/text.h"

static void
check(const char *in, int term, const char *want)
{
	char *out = text_sanitize(in, term);

	assert_string_equal(out, want);
	free(out);
}

static void
test_plain_ascii_and_utf8_unchanged(void **state)
{
	(void)state;
	check("report.pdf", 1, "report.pdf");
	check("r\xc3\xa9sum\xc3\xa9.doc", 1, "r\xc3\xa9sum\xc3\xa9.doc");
	check("\xf0\x9f\x98\x80", 0, "\xf0\x9f\x98\x80");
	assert_null(text_sanitize(NULL, 1));
}

static void
test_terminal_escapes_are_neutralised(void **state)
{
	(void)state;
	check("a\x1b[2Jb", 1, "a\\x1b[2Jb");
	check("line\nforged: Eicar FOUND", 1, "line\\x0aforged: Eicar FOUND");
	check("c1\xc2\x9b", 1, "c1\\xc2\\x9b");
	check("back\\slash", 1, "back\\x5cslash");
	/* JSON mode keeps controls: the JSON encoder escapes them. */
	check("a\nb", 0, "a\nb");
}

static void
test_invalid_utf8_is_escaped(void **state)
{
	(void)state;
	check("\xff", 0, "\\xff");
	check("\xc0\xaf", 0, "\\xc0\\xaf");                   /* overlong */
	check("\xed\xa0\x80", 0, "\\xed\\xa0\\x80");          /* surrogate */
	check("\xe2\x82", 0, "\\xe2\\x82");                   /* truncated */
	check("\xf4\x90\x80\x80", 0, "\\xf4\\x90\\x80\\x80"); /* > U+10FFFF */
}

static void
test_days_parse_only_when_they_exist(void **state)
{
	static const char *const bad[] = {
		"",           "2024-2-29",  "2024-02-29T", "24-02-29",
		"2023-02-29", "2100-02-29", "2024-04-31",  "2024-13-01",
		"2024-00-10", "2024-01-00", "1969-12-31",  "2024/02/29",
		"+024-02-29", "2024-02-2a", "２024-02-29",
	};
	char buf[11];
	int64_t t = 42;

	(void)state;
	assert_true(text_day_parse("1970-01-01", 10, &t));
	assert_int_equal(t, 0);
	assert_true(text_day_parse("2024-02-29", 10, &t));
	assert_int_equal(t, 1709164800);
	assert_true(text_day_parse("2000-02-29", 10, &t));
	assert_int_equal(t, 951782400);
	assert_true(text_day_parse("9999-12-31", 10, &t));
	assert_int_equal(t, INT64_C(253402214400));
	/* Only the n bytes given are read. */
	assert_true(text_day_parse("2026-12-07trailing", 10, &t));
	assert_int_equal(t, 1796601600);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 42;
		assert_false(text_day_parse(bad[i], strlen(bad[i]), &t));
		assert_int_equal(t, 42);
	}
	assert_false(text_day_parse(NULL, 10, &t));
	assert_true(text_day_format(1796601600 + 86399, buf));
	assert_string_equal(buf, "2026-12-07");
	assert_true(text_day_format(0, buf));
	assert_string_equal(buf, "1970-01-01");
	assert_true(text_day_format(951782400, buf));
	assert_string_equal(buf, "2000-02-29");
	assert_false(text_day_format(-1, buf));
	assert_false(text_day_format(INT64_C(253402300800), buf));
	/* Every day of 1970..2100 formats and parses back to itself. */
	for (int64_t d = 0; d < 48000; d++) {
		assert_true(text_day_format(d * 86400, buf));
		assert_true(text_day_parse(buf, 10, &t));
		assert_int_equal(t, d * 86400);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_ascii_and_utf8_unchanged),
		cmocka_unit_test(test_terminal_escapes_are_neutralised),
		cmocka_unit_test(test_invalid_utf8_is_escaped),
		cmocka_unit_test(test_days_parse_only_when_they_exist),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
