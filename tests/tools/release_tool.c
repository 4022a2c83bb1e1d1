/*
 * release_tool.c - signed release manifests and containers for the
 * integration tests (test-node-releases.sh), built on src/release: keys,
 * a root, targets for given files, signatures, rule bundles and the
 * release container. Every output is what docs/RELEASES.md specifies;
 * nothing here checks anything, so that a test can also make releases
 * the node must refuse.
 *
 *   release_tool keygen BASE
 *   release_tool root OUT VERSION DAYS ROOT_T ROOT_PUBS TARGETS_T
 *                TARGETS_PUBS ONLINE_PUB        (PUBS: comma-separated)
 *   release_tool targets OUT VERSION DAYS NAME:FILE:KIND:VERSION...
 *   release_tool sign FILE KEY...
 *   release_tool resign FILE KEY...   drops every signature first
 *   release_tool chain TARGETS SNAPSHOT TIMESTAMP ONLINE_KEY
 *       points SNAPSHOT at the targets file as it is now and TIMESTAMP at
 *       that snapshot, each one version up, signed by ONLINE_KEY alone:
 *       what a node, or a thief of its online key, does after changing
 *       targets (test-release-update.sh)
 *   release_tool bundle OUT RULESDIR VERSION
 *   release_tool container OUT PATH=FILE...
 */
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "release/container.h"
#include "release/rules.h"
#include "release/tuf.h"

static int
die(const char *what, const char *why)
{
	fprintf(stderr, "release_tool: %s: %s\n", what, why);
	return 1;
}

static int
write_out(const char *path, const void *p, size_t n)
{
	return io_write_file(path, p, n, 0644) == 0 ? 0
						    : die(path, "cannot write");
}

/* A comma-separated list of .pub files into a key map and an ID array. */
static int
add_keys(const char *list, json_t *keys, json_t **ids)
{
	char *copy = strdup(list), *save = NULL, err[256];

	*ids = json_array();
	for (char *p = strtok_r(copy, ",", &save); p != NULL;
	     p = strtok_r(NULL, ",", &save)) {
		uint8_t pub[32];
		char id[TUF_KEYID_LEN];

		if (tuf_pubfile_load(p, pub, err, sizeof(err)) != 0) {
			free(copy);
			return die(p, err);
		}
		tuf_key_id(pub, id);
		json_object_set_new(keys, id, tuf_key_json(pub));
		json_array_append_new(*ids, json_string(id));
	}
	free(copy);
	return 0;
}

static int
encode_unsigned(const char *out, json_t *signed_)
{
	json_t *doc = json_pack("{s:[], s:o}", "signatures", "signed", signed_);
	char *s = NULL;
	size_t n = 0;
	int rc;

	if (tuf_cjson(doc, &s, &n) != 0) {
		json_decref(doc);
		return die(out, "cannot encode");
	}
	json_decref(doc);
	rc = write_out(out, s, n);
	free(s);
	return rc;
}

static void
expiry(const char *days, char when[21])
{
	tuf_time_format((int64_t)time(NULL) + 86400 * atoll(days), when);
}

static int
cmd_root(char **a)
{
	json_t *keys = json_object(), *rk, *tk, *ok;
	char when[21];

	if (add_keys(a[4], keys, &rk) != 0 || add_keys(a[6], keys, &tk) != 0 ||
	    add_keys(a[7], keys, &ok) != 0)
		return 1;
	expiry(a[2], when);
	return encode_unsigned(
		a[0],
		json_pack("{s:s, s:b, s:s, s:o, s:{s:{s:o, s:i}, s:{s:o, s:i}, "
			  "s:{s:O, s:i}, s:{s:o, s:i}}, s:s, s:I}",
			  "_type", "root", "consistent_snapshot", 0, "expires",
			  when, "keys", keys, "roles", "root", "keyids", rk,
			  "threshold", atoi(a[3]), "targets", "keyids", tk,
			  "threshold", atoi(a[5]), "snapshot", "keyids", ok,
			  "threshold", 1, "timestamp", "keyids", ok,
			  "threshold", 1, "spec_version", TUF_SPEC_VERSION,
			  "version", (json_int_t)atoll(a[1])));
}

static int
cmd_targets(char **a, int n)
{
	json_t *targets = json_object();
	char when[21];

	for (int i = 3; i < n; i++) {
		char *spec = strdup(a[i]), *save = NULL;
		char *name = strtok_r(spec, ":", &save);
		char *file = strtok_r(NULL, ":", &save);
		char *kind = strtok_r(NULL, ":", &save);
		char *version = strtok_r(NULL, ":", &save);
		uint8_t *data = NULL;
		size_t len = 0;
		json_t *custom;

		if (version == NULL ||
		    io_read_file(file, 1u << 30, &data, &len) != 0)
			return die(a[i], "expected NAME:FILE:KIND:VERSION");
		custom = json_pack("{s:s, s:s}", "kind", kind, "version",
				   version);
		if (strcmp(kind, "rules") == 0) {
			json_t *b =
				json_loadb((const char *)data, len, 0, NULL);

			json_object_set(custom, "rule_ids",
					json_object_get(b, "rule_ids")
						?: json_array());
			json_decref(b);
		}
		json_object_set_new(targets, name,
				    tuf_target_json(data, len, custom));
		free(data);
		free(spec);
	}
	expiry(a[2], when);
	return encode_unsigned(
		a[0], json_pack("{s:s, s:s, s:s, s:o, s:I}", "_type", "targets",
				"expires", when, "spec_version",
				TUF_SPEC_VERSION, "targets", targets, "version",
				(json_int_t)atoll(a[1])));
}

static int
cmd_sign(char **a, int n, bool strip)
{
	struct tuf_meta m;
	struct tuf_result r;
	uint8_t *data = NULL, sk[64];
	size_t len = 0;
	char *out = NULL, err[256];
	const char *type;
	json_t *doc;
	int role = -1, rc;

	if (io_read_file(a[0], TUF_META_MAX, &data, &len) != 0)
		return die(a[0], "cannot read");
	doc = json_loadb((const char *)data, len, 0, NULL);
	type = json_string_value(
		json_object_get(json_object_get(doc, "signed"), "_type"));
	for (int k = 0; k < TUF_NROLES && type != NULL; k++)
		if (strcmp(tuf_role_name((enum tuf_role)k), type) == 0)
			role = k;
	json_decref(doc);
	memset(&m, 0, sizeof(m));
	if (role < 0 ||
	    tuf_meta_parse(data, len, (enum tuf_role)role, &m, &r) != 0) {
		free(data);
		return die(a[0], role < 0 ? "no _type" : r.msg);
	}
	free(data);
	if (strip)
		json_array_clear(json_object_get(m.doc, "signatures"));
	for (int i = 1; i < n; i++) {
		if (tuf_keyfile_load(a[i], sk, err, sizeof(err)) != 0)
			return die(a[i], err);
		rc = tuf_meta_sign(&m, sk);
		sodium_memzero(sk, sizeof(sk));
		if (rc != 0)
			return die(a[i], "cannot sign");
	}
	if (tuf_meta_encode(&m, &out, &len) != 0)
		return die(a[0], "cannot encode");
	rc = write_out(a[0], out, len);
	free(out);
	tuf_meta_clear(&m);
	return rc;
}

static int
cmd_bundle(char **a)
{
	struct rules_bundle b;
	char err[512], *out = NULL;
	size_t len = 0;
	int rc;

	memset(&b, 0, sizeof(b));
	if (rules_bundle_build(a[1], a[2], &b, err, sizeof(err)) != 0)
		return die(a[1], err);
	if (rules_bundle_encode(&b, &out, &len) != 0)
		return die(a[0], "cannot encode");
	rc = write_out(a[0], out, len);
	free(out);
	rules_bundle_free(&b);
	return rc;
}

static int
cmd_container(char **a, int n)
{
	struct container_writer w;
	int fd = open(a[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || container_writer_fd(&w, fd) != 0)
		return die(a[0], "cannot create");
	for (int i = 1; i < n; i++) {
		char *eq = strchr(a[i], '=');
		uint8_t *data = NULL;
		size_t len = 0;

		if (eq == NULL)
			return die(a[i], "expected PATH=FILE");
		*eq = '\0';
		if (io_read_file(eq + 1, 1u << 30, &data, &len) != 0)
			return die(eq + 1, "cannot read");
		if (container_writer_add(&w, a[i], data, len) != 0)
			return die(a[i], "cannot add");
		free(data);
	}
	if (container_writer_end(&w) != 0 || close(fd) != 0)
		return die(a[0], "cannot write");
	return 0;
}

/* Points parent (a snapshot or a timestamp) at the file child, one
 * version up, signed by key alone. */
static int
repoint(const char *parent, enum tuf_role role, const char *child,
	enum tuf_role child_role, const char *key)
{
	struct tuf_meta p = {0}, c = {0};
	struct tuf_result r = {0};
	uint8_t *praw = NULL, *craw = NULL, sk[64];
	size_t plen, clen;
	char *out = NULL, err[256];
	json_t *meta;
	int rc = 1;

	if (io_read_file(parent, TUF_META_MAX, &praw, &plen) != 0 ||
	    io_read_file(child, TUF_META_MAX, &craw, &clen) != 0) {
		rc = die(parent, "cannot read it or its child");
		goto out;
	}
	if (tuf_meta_parse(praw, plen, role, &p, &r) != 0 ||
	    tuf_meta_parse(craw, clen, child_role, &c, &r) != 0) {
		rc = die(parent, r.msg);
		goto out;
	}
	meta = json_object_get(p.signed_, "meta");
	json_object_clear(meta);
	json_object_set_new(meta,
			    child_role == TUF_TARGETS ? "targets.json"
						      : "snapshot.json",
			    tuf_meta_ref_json(c.version, craw, clen));
	json_object_set_new(p.signed_, "version",
			    json_integer((json_int_t)p.version + 1));
	json_array_clear(json_object_get(p.doc, "signatures"));
	if (tuf_keyfile_load(key, sk, err, sizeof(err)) != 0) {
		rc = die(key, err);
		goto out;
	}
	rc = tuf_meta_sign(&p, sk) != 0 || tuf_meta_encode(&p, &out, &plen);
	sodium_memzero(sk, sizeof(sk));
	if (rc == 0)
		rc = write_out(parent, out, plen);
out:
	tuf_meta_clear(&p);
	tuf_meta_clear(&c);
	free(praw);
	free(craw);
	free(out);
	return rc;
}

int
main(int argc, char **argv)
{
	char err[256];
	uint8_t pub[32];

	if (sodium_init() < 0)
		return die("libsodium", "cannot initialise");
	if (argc == 3 && strcmp(argv[1], "keygen") == 0)
		return tuf_keyfile_create(argv[2], pub, err, sizeof(err)) == 0
			       ? 0
			       : die(argv[2], err);
	if (argc == 10 && strcmp(argv[1], "root") == 0)
		return cmd_root(argv + 2);
	if (argc >= 5 && strcmp(argv[1], "targets") == 0)
		return cmd_targets(argv + 2, argc - 2);
	if (argc >= 4 && strcmp(argv[1], "sign") == 0)
		return cmd_sign(argv + 2, argc - 2, false);
	if (argc >= 4 && strcmp(argv[1], "resign") == 0)
		return cmd_sign(argv + 2, argc - 2, true);
	if (argc == 6 && strcmp(argv[1], "chain") == 0)
		return repoint(argv[3], TUF_SNAPSHOT, argv[2], TUF_TARGETS,
			       argv[5]) ||
		       repoint(argv[4], TUF_TIMESTAMP, argv[3], TUF_SNAPSHOT,
			       argv[5]);
	if (argc == 5 && strcmp(argv[1], "bundle") == 0)
		return cmd_bundle(argv + 2);
	if (argc >= 3 && strcmp(argv[1], "container") == 0)
		return cmd_container(argv + 2, argc - 2);
	fprintf(stderr,
		"usage: release_tool keygen BASE\n"
		"       release_tool root OUT VERSION DAYS ROOT_T ROOT_PUBS "
		"TARGETS_T TARGETS_PUBS ONLINE_PUB\n"
		"       release_tool targets OUT VERSION DAYS "
		"NAME:FILE:KIND:VERSION...\n"
		"       release_tool sign FILE KEY...\n"
		"       release_tool resign FILE KEY...\n"
		"       release_tool chain TARGETS SNAPSHOT TIMESTAMP "
		"ONLINE_KEY\n"
		"       release_tool bundle OUT RULESDIR VERSION\n"
		"       release_tool container OUT PATH=FILE...\n");
	return 2;
}
