/*
 * fuzz_release_container.c - libFuzzer target: any bytes parse as a
 * release container or are refused with a message, never crash or read
 * past the input. A parsed container has valid, distinct paths whose data
 * lies inside the input, and writing its files again gives back exactly
 * the input, since a container has one encoding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "release/container.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct container c;
	struct container_writer w;
	char err[256] = "";
	uint8_t *again;
	size_t len = 0;

	if (container_parse(data, size, &c, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	if (container_writer_mem(&w) != 0)
		abort();
	for (size_t i = 0; i < c.n; i++) {
		const struct container_file *f = &c.files[i];

		if (!container_path_ok(f->path, strlen(f->path)) ||
		    f->path_len != strlen(f->path) || f->data < data ||
		    f->len > size || f->data + f->len > data + size ||
		    f->record != i + 1 || container_find(&c, f->path) != f)
			abort();
		if (container_writer_add(&w, f->path, f->data, f->len) != 0)
			abort();
	}
	if (container_writer_end(&w) != 0 ||
	    (again = container_writer_take(&w, &len)) == NULL || len != size ||
	    memcmp(again, data, size) != 0)
		abort();
	free(again);
	container_writer_clear(&w);
	container_free(&c);
	return 0;
}
