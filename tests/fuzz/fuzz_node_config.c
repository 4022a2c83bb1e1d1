/*
 * fuzz_node_config.c - libFuzzer target: vigild's configuration file
 * (src/node/config.c) from any bytes. It loads or is refused with an
 * error naming the file and line, never crashes, and whatever it loads
 * keeps every field within its bounds: strings terminated inside their
 * arrays, at most NODE_MAX_REGIONS regions and NODE_MAX_WITNESSES
 * witnesses, each region found again by its name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct node_config *c = malloc(sizeof(*c));
	char err[512], origin[128];

	if (c == NULL)
		return 0;
	config_default(c);
	if (config_parse_buffer(c, (const char *)data, size, "fuzz.conf", err,
				sizeof(err)) != 0) {
		if (strncmp(err, "fuzz.conf:", 10) != 0)
			abort(); /* every error names the file and line */
		free(c);
		return 0;
	}
	if (!TERMINATED(c->listen_host) || !TERMINATED(c->region) ||
	    !TERMINATED(c->site) || !TERMINATED(c->data_dir) ||
	    !TERMINATED(c->rules_dir) || !TERMINATED(c->log_origin) ||
	    c->n_regions > NODE_MAX_REGIONS ||
	    c->n_witnesses > NODE_MAX_WITNESSES)
		abort();
	for (size_t i = 0; i < c->n_regions; i++) {
		if (!TERMINATED(c->regions[i].name) ||
		    !TERMINATED(c->regions[i].url) ||
		    config_region_url(c, c->regions[i].name) == NULL)
			abort();
	}
	for (size_t i = 0; i < c->n_witnesses; i++)
		if (!TERMINATED(c->witnesses[i].name) ||
		    !TERMINATED(c->witnesses[i].vkey) ||
		    !TERMINATED(c->witnesses[i].url))
			abort();
	static const uint8_t zero_pub[32];

	if (config_check(c, err, sizeof(err)) == 0 &&
	    (!config_name_ok(c->region, strlen(c->region)) ||
	     config_log_origin(c, zero_pub, origin, sizeof(origin)) == NULL))
		abort(); /* a checked configuration has a valid region */
	free(c);
	return 0;
}
