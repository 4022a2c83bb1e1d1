/*
 * test_text.c - escaping untrusted names for terminals and JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_ascii_and_utf8_unchanged),
		cmocka_unit_test(test_terminal_escapes_are_neutralised),
		cmocka_unit_test(test_invalid_utf8_is_escaped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
