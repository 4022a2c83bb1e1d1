/*
 * fuzz_lookup_body.c - libFuzzer target, differential: every body the
 * plain lookup scanner (src/node/lookup_body.c) takes must be one that
 * jansson, the general path, reads as {"hashes": [strings]} with the same
 * strings in the same order; the scanner never crashes on any bytes.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/lookup_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX 64

struct seen {
	const char *s[MAX];
	size_t len[MAX];
	size_t n;
};

static void
collect(void *ud, size_t i, const char *s, size_t len)
{
	struct seen *v = ud;

	if (i != v->n || i >= MAX)
		abort(); /* called in order, at most max times */
	v->s[i] = s;
	v->len[i] = len;
	v->n++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen v = {0};
	json_t *j, *a;
	long n;

	n = lookup_body_scan((const char *)data, size, MAX, collect, &v);
	if (n < 0)
		return 0;
	if ((size_t)n != v.n)
		abort();
	j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j) || json_object_size(j) != 1 ||
	    !json_is_array(a = json_object_get(j, "hashes")) ||
	    json_array_size(a) != v.n)
		abort();
	for (size_t i = 0; i < v.n; i++) {
		json_t *h = json_array_get(a, i);

		if (!json_is_string(h) || json_string_length(h) != v.len[i] ||
		    memcmp(json_string_value(h), v.s[i], v.len[i]) != 0)
			abort();
	}
	json_decref(j);
	return 0;
}
