/*
 * fuzz_report_check.c - libFuzzer target: the node's reading of a
 * worker's report (src/node/report_check.c). Any bytes either fail to
 * load, are refused as malformed, or give one verdict per object with
 * every container at least as bad as each object it holds.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/report_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
rank(const char *v)
{
	if (strcmp(v, "malicious") == 0)
		return 3;
	if (strcmp(v, "suspicious") == 0)
		return 2;
	if (strcmp(v, "clean") == 0)
		return 1;
	if (strcmp(v, "unknown") == 0)
		return 0;
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL), *objs;
	struct checked_verdict *cv;
	size_t n;

	if (j == NULL)
		return 0;
	if (report_check(j, &cv, &n) != 0) {
		json_decref(j);
		return 0;
	}
	objs = json_object_get(j, "objects");
	if (n != json_array_size(objs))
		abort();
	for (size_t i = 1; i < n; i++) {
		json_int_t p = json_integer_value(
			json_object_get(json_array_get(objs, i), "parent"));

		if (p < 0 || (size_t)p >= i ||
		    rank(cv[p].verdict) < rank(cv[i].verdict) ||
		    cv[p].score < cv[i].score)
			abort(); /* a container is never better than its
				    contents */
	}
	report_check_free(cv, n);
	json_decref(j);
	return 0;
}
