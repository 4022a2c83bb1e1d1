/*
 * fuzz_tlog_entry.c - libFuzzer target: any bytes as a log entry parse or
 * are refused with a message, never crash; what parses encodes back to
 * exactly the same bytes and converts to JSON. The bytes are also taken
 * as the body of a statement: what tlog_entry_admin() accepts encodes to
 * an entry that parses back to the same body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlog/entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct tlog_entry e, back;
	char err[256] = "", *out, *json;
	size_t len;

	if (tlog_entry_parse(s, size, &e, err, sizeof(err)) == 0) {
		if (tlog_entry_encode(&e, &out, &len, err, sizeof(err)) != 0 ||
		    len != size || memcmp(out, s, size) != 0)
			abort();
		free(out);
		if (tlog_entry_to_json(&e, &json) != 0)
			abort();
		free(json);
		tlog_entry_clear(&e);
	} else if (err[0] == '\0') {
		abort();
	}

	err[0] = '\0';
	if (tlog_entry_admin(TLOG_ENTRY_STATEMENT, 1795928400, s, size, &e, err,
			     sizeof(err)) == 0) {
		if (tlog_entry_encode(&e, &out, &len, err, sizeof(err)) != 0 ||
		    tlog_entry_parse(out, len, &back, err, sizeof(err)) != 0 ||
		    back.body_len != size || memcmp(back.body, s, size) != 0)
			abort();
		free(out);
		tlog_entry_clear(&back);
		tlog_entry_clear(&e);
	} else if (err[0] == '\0') {
		abort();
	}
	return 0;
}
