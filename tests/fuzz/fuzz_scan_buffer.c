/*
 * fuzz_scan_buffer.c - libFuzzer target: the whole engine (libclamav
 * decomposition, digests, libmagic, YARA) on hostile bytes. Every input
 * gives a report with a verdict, and its JSON form parses.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct engine *engine;
static struct scanner *scanner;

static void
init(void)
{
	static const char *rules[] = {VIGIL_DEFAULT_RULES_DIR};
	struct engine_config cfg;
	char err[1024];

	if (engine_global_init() != 0)
		abort();
	engine_config_default(&cfg);
	cfg.limits.max_scan_ms = 10000;
	cfg.rule_paths = rules;
	cfg.n_rule_paths = 1;
	if (engine_new(&cfg, &engine, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_scan_buffer: %s\n", err);
		abort();
	}
	if (scanner_new(engine, &scanner) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report *r;
	json_t *j;
	char *s;

	if (engine == NULL)
		init();
	if (engine_scan_buffer(scanner, data, size, "fuzz", &r) != 0)
		return 0;
	if (r->verdict == VERDICT_CLEAN && (r->limits_hit || r->n_problems))
		abort(); /* never clean when incomplete */
	s = report_to_json(r);
	if (s == NULL || (j = json_loads(s, 0, NULL)) == NULL)
		abort();
	json_decref(j);
	free(s);
	report_free(r);
	return 0;
}
