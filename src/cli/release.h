/*
 * release.h - what the files of `vigil release` and `vigil update` share:
 * the options of the release commands and the files of a release
 * directory (cmd_release.c describes it). Its whole-file reads and writes,
 * which explain a failure on stderr, serve `vigil log` too.
 */
#ifndef VIGIL_CLI_RELEASE_H
#define VIGIL_CLI_RELEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "release/tuf.h"

#define RELEASE_LIST_MAX 32
#define RELEASE_DAY      86400
/* Largest artifact a release carries. */
#define RELEASE_ARTIFACT_MAX (512u << 20)

struct ropts {
	const char *dir;
	const char *root_keys[TUF_KEYS_MAX];
	size_t nroot_keys;
	const char *targets_keys[TUF_KEYS_MAX];
	size_t ntargets_keys;
	long root_threshold, targets_threshold;
	const char *online_key;
	long expires_days;
	const char *out;
	const char *key;
	const char *server;
	const char *token_file;
	/* stage */
	const char *rules;
	const char *fixtures;
	const char *corpus[RELEASE_LIST_MAX];
	size_t ncorpus;
	const char *version;
	int software;
	const char *programs[RELEASE_LIST_MAX];
	size_t nprograms;
	const char *source;
	const char *provenance;
};

/* dir/rel, malloc'd. */
char *release_path(const char *dir, const char *rel);
/* Creates path's missing parent directories (0755); 0 or 2. */
int release_mkdirs(const char *path);
bool release_exists(const char *path);
/* Reads or replaces (atomically, mode 0644) a whole file; 0, or 2 after
 * saying why on stderr. */
int release_read(const char *path, size_t max, uint8_t **data, size_t *len);
int release_write(const char *path, const void *data, size_t len);
/* Parses the manifest of role in data[0..len), name saying where it came
 * from; 0, or 2 after saying why. */
int release_parse_meta(const char *name, const uint8_t *data, size_t len,
		       enum tuf_role role, struct tuf_meta *m);
/* Reads and parses a manifest of role, or writes one; 0 or 2. */
int release_load_meta(const char *path, enum tuf_role role, struct tuf_meta *m);
/* The same, and hands back the bytes it parsed (the caller frees *data):
 * what is verified is then what is published, read once. */
int release_load_meta_bytes(const char *path, enum tuf_role role,
			    struct tuf_meta *m, uint8_t **data, size_t *len);
int release_save_meta(const char *path, const struct tuf_meta *m);
/* True if root names the key ID for role. */
bool release_role_has(const struct tuf_meta *root, enum tuf_role role,
		      const char *id);

/* cmd_release_publish.c */
int release_stage(const struct ropts *o);
int release_publish(const struct ropts *o);
int release_bundle(const struct ropts *o);

#endif
