/*
 * tuf_tool.c - what an attacker who holds some keys can do to release
 * manifests, for the tests of `vigil update` (test-release-update.sh):
 *
 *   tuf_tool resign FILE ROLE KEY.key...
 *       drops every signature of the manifest FILE and signs it with the
 *       given keys, whether or not any root trusts them
 *   tuf_tool chain TARGETS SNAPSHOT TIMESTAMP ONLINE.key
 *       rewrites SNAPSHOT to name the targets file TARGETS as it is now,
 *       and TIMESTAMP to name that snapshot, each one version up, both
 *       signed by ONLINE.key: what a node (or a thief of its online key)
 *       does after changing targets
 *
 * The manifests stay well formed: what the tests show refused is refused
 * for its signatures, versions or references, not its syntax.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "release/tuf.h"

static int
load(const char *path, enum tuf_role role, struct tuf_meta *m, uint8_t **raw,
     size_t *len)
{
	struct tuf_result r = {0};

	if (io_read_file(path, TUF_META_MAX, raw, len) != 0) {
		perror(path);
		return 1;
	}
	if (tuf_meta_parse(*raw, *len, role, m, &r) != 0) {
		fprintf(stderr, "%s: %s\n", path, r.msg);
		return 1;
	}
	return 0;
}

static int
save(const char *path, const struct tuf_meta *m)
{
	char *text;
	size_t len;
	int rc;

	if (tuf_meta_encode(m, &text, &len) != 0)
		return 1;
	rc = io_write_file(path, text, len, 0644) != 0;
	free(text);
	return rc;
}

static int
sign_with(struct tuf_meta *m, const char *keyfile)
{
	uint8_t sk[64];
	char err[256];
	int rc;

	if (tuf_keyfile_load(keyfile, sk, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	rc = tuf_meta_sign(m, sk) != 0;
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

static int
role_of(const char *name, enum tuf_role *role)
{
	for (int i = 0; i < TUF_NROLES; i++)
		if (strcmp(name, tuf_role_name((enum tuf_role)i)) == 0) {
			*role = (enum tuf_role)i;
			return 0;
		}
	fprintf(stderr, "unknown role %s\n", name);
	return 1;
}

/* Points parent (a snapshot or timestamp) at the file child, version up,
 * re-signed by key. */
static int
repoint(const char *parent, enum tuf_role role, const char *child,
	enum tuf_role child_role, const char *key)
{
	struct tuf_meta p = {0}, c = {0};
	uint8_t *praw = NULL, *craw = NULL;
	size_t plen, clen;
	json_t *meta;
	int rc = 1;

	if (load(parent, role, &p, &praw, &plen) != 0 ||
	    load(child, child_role, &c, &craw, &clen) != 0)
		goto out;
	meta = json_object_get(p.signed_, "meta");
	json_object_clear(meta);
	json_object_set_new(meta,
			    child_role == TUF_TARGETS ? "targets.json"
						      : "snapshot.json",
			    tuf_meta_ref_json(c.version, craw, clen));
	json_object_set_new(p.signed_, "version",
			    json_integer((json_int_t)p.version + 1));
	json_array_clear(json_object_get(p.doc, "signatures"));
	rc = sign_with(&p, key) || save(parent, &p);
out:
	tuf_meta_clear(&p);
	tuf_meta_clear(&c);
	free(praw);
	free(craw);
	return rc;
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	if (argc >= 4 && strcmp(argv[1], "resign") == 0) {
		struct tuf_meta m = {0};
		enum tuf_role role;
		uint8_t *raw;
		size_t len;
		int rc;

		if (role_of(argv[3], &role) != 0 ||
		    load(argv[2], role, &m, &raw, &len) != 0)
			return 1;
		free(raw);
		json_array_clear(json_object_get(m.doc, "signatures"));
		rc = 0;
		for (int i = 4; rc == 0 && i < argc; i++)
			rc = sign_with(&m, argv[i]);
		if (rc == 0)
			rc = save(argv[2], &m);
		tuf_meta_clear(&m);
		return rc;
	}
	if (argc == 6 && strcmp(argv[1], "chain") == 0)
		return repoint(argv[3], TUF_SNAPSHOT, argv[2], TUF_TARGETS,
			       argv[5]) ||
		       repoint(argv[4], TUF_TIMESTAMP, argv[3], TUF_SNAPSHOT,
			       argv[5]);
	fprintf(stderr, "usage: tuf_tool resign FILE ROLE KEY.key...\n"
			"       tuf_tool chain TARGETS SNAPSHOT TIMESTAMP "
			"ONLINE.key\n");
	return 2;
}
