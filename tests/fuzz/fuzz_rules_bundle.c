/*
 * fuzz_rules_bundle.c - libFuzzer target: any bytes parse as a rule
 * bundle (src/release/rules.c) or are refused with a message and an empty
 * bundle, never crash or leak. A parsed bundle holds valid, sorted names
 * and IDs; its encoding parses again to the same bundle and encodes to
 * the same bytes. The parser accepts any JSON spelling of a bundle (white
 * space, member order, escapes), so it is the encoding, not the input,
 * that has one form.
 *
 * Parsing compiles every source with libyara, which is slow: inputs
 * longer than FUZZ_RULES_MAX are skipped to keep each run short; that is
 * also libFuzzer's default -max_len for a seed corpus of small files.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "release/rules.h"

#define FUZZ_RULES_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
bundle_empty(const struct rules_bundle *b)
{
	return b->version == NULL && b->files == NULL && b->n_files == 0 &&
	       b->rule_ids == NULL && b->n_ids == 0;
}

/* What rules.h promises of a parsed bundle. */
static void
check_bundle(const struct rules_bundle *b)
{
	if (b->version == NULL || !rules_version_ok(b->version) ||
	    b->n_files == 0 || b->n_files > RULES_FILES_MAX ||
	    b->rule_ids == NULL || b->n_ids > RULES_IDS_MAX)
		abort();
	for (size_t i = 0; i < b->n_files; i++) {
		const struct rules_file *f = &b->files[i];

		if (!rules_file_name_ok(f->name) || f->source == NULL ||
		    f->len > RULES_SOURCE_MAX || strlen(f->source) != f->len)
			abort();
		if (i > 0 && strcmp(b->files[i - 1].name, f->name) >= 0)
			abort();
	}
	for (size_t i = 0; i < b->n_ids; i++) {
		size_t n = strlen(b->rule_ids[i]);

		if (n == 0 || n > RULES_NAME_MAX)
			abort();
		if (i > 0 && strcmp(b->rule_ids[i - 1], b->rule_ids[i]) >= 0)
			abort();
	}
}

static void
check_same(const struct rules_bundle *a, const struct rules_bundle *b)
{
	if (strcmp(a->version, b->version) != 0 || a->n_files != b->n_files ||
	    a->n_ids != b->n_ids)
		abort();
	for (size_t i = 0; i < a->n_files; i++)
		if (strcmp(a->files[i].name, b->files[i].name) != 0 ||
		    a->files[i].len != b->files[i].len ||
		    memcmp(a->files[i].source, b->files[i].source,
			   a->files[i].len) != 0)
			abort();
	for (size_t i = 0; i < a->n_ids; i++)
		if (strcmp(a->rule_ids[i], b->rule_ids[i]) != 0)
			abort();
}

/* Encodes b, parses the encoding, and requires the same bundle and the
 * same bytes from the second encoding. */
static void
check_round_trip(const struct rules_bundle *b)
{
	struct rules_bundle again;
	char err[512], *enc, *enc2;
	size_t len, len2;

	if (rules_bundle_encode(b, &enc, &len) != 0 || strlen(enc) != len)
		abort();
	if (rules_bundle_parse(enc, len, &again, err, sizeof(err)) != 0)
		abort();
	check_same(b, &again);
	if (rules_bundle_encode(&again, &enc2, &len2) != 0 || len2 != len ||
	    memcmp(enc, enc2, len) != 0)
		abort();
	free(enc);
	free(enc2);
	rules_bundle_free(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rules_bundle b;
	char err[512];

	if (size > FUZZ_RULES_MAX)
		return 0;
	err[0] = '\0';
	if (rules_bundle_parse(data, size, &b, err, sizeof(err)) != 0) {
		if (err[0] == '\0' || !bundle_empty(&b))
			abort();
		return 0;
	}
	check_bundle(&b);
	check_round_trip(&b);
	rules_bundle_free(&b);
	if (!bundle_empty(&b))
		abort();
	rules_bundle_free(NULL);
	return 0;
}
