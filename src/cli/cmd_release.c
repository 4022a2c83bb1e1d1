/*
 * cmd_release.c - `vigil release ...`: the offline workflow of signed
 * releases (docs/RELEASES.md, "Commands").
 *
 * A release directory DIR is what key holders pass between them:
 *
 *   DIR/root.json, DIR/<N>.root.json   the current root, every root
 *   DIR/targets.json, DIR/targets/     the last published targets and
 *                                      its artifacts
 *   DIR/staged/root.json               a root being signed
 *   DIR/staged/targets.json            a targets manifest being signed
 *   DIR/staged/targets/<name>          its new artifacts
 *
 * Nothing here trusts DIR: every command that reads a manifest parses it
 * in full, and publish verifies the whole release (thresholds, the root
 * chain, every artifact's length and hash) before anything leaves the
 * machine. The node then checks it again.
 *
 * Exit status: 0 done, 1 refused (a check failed, below threshold, the
 * node said no), 2 usage, input or I/O error.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/http.h"
#include "cli/release.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/xmalloc.h"
#include "release/tuf.h"

#define MAX_KEYS  TUF_KEYS_MAX
#define ROOT_DAYS 365

static void
usage(FILE *f)
{
	fprintf(f, "usage: vigil release COMMAND ...  (docs/RELEASES.md)\n"
		   "  keygen --out PATH\n"
		   "  init DIR --root-key PUB... --root-threshold N\n"
		   "       --targets-key PUB... --targets-threshold N "
		   "--online-key PUB [--expires DAYS]\n"
		   "  rotate-root DIR [the options of init]\n"
		   "  stage DIR --rules RULESDIR --version V [--fixtures DIR] "
		   "[--corpus DIR]...\n"
		   "  stage DIR --software --version V --program FILE... "
		   "--source ARCHIVE\n"
		   "       [--provenance FILE]   (both: [--expires DAYS])\n"
		   "  sign DIR --key PATH.key\n"
		   "  publish DIR --server URL --token-file FILE\n"
		   "  bundle --server URL --out FILE\n"
		   "  check-rules RULESDIR [--fixtures DIR] [--corpus DIR]... "
		   "[--report FILE]\n"
		   "  provenance --key PATH.key --out FILE PROGRAM...\n"
		   "  verify-build --targets TARGETS.JSON --source ARCHIVE "
		   "[--provenance FILE --builder-key PUB]\n");
}

static int
parse_long(const char *s, const char *what, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "vigil: %s: not a number from %ld to %ld: %s\n",
			what, lo, hi, s);
		return 2;
	}
	*out = v;
	return 0;
}

static int
add_arg(const char **list, size_t *n, size_t max, const char *v,
	const char *what)
{
	if (*n == max) {
		fprintf(stderr, "vigil: more than %zu %s\n", max, what);
		return 2;
	}
	list[(*n)++] = v;
	return 0;
}

/* Parses the options of every release command; positional arguments are
 * left in argv[optind..]. */
static int
parse_opts(int argc, char **argv, struct ropts *o)
{
	static const struct option longopts[] = {
		{"root-key", required_argument, NULL, 'r'},
		{"root-threshold", required_argument, NULL, 'R'},
		{"targets-key", required_argument, NULL, 't'},
		{"targets-threshold", required_argument, NULL, 'T'},
		{"online-key", required_argument, NULL, 'o'},
		{"expires", required_argument, NULL, 'e'},
		{"out", required_argument, NULL, 'O'},
		{"key", required_argument, NULL, 'k'},
		{"server", required_argument, NULL, 's'},
		{"token-file", required_argument, NULL, 'f'},
		{"rules", required_argument, NULL, 'u'},
		{"fixtures", required_argument, NULL, 'x'},
		{"corpus", required_argument, NULL, 'c'},
		{"version", required_argument, NULL, 'v'},
		{"software", no_argument, NULL, 'S'},
		{"program", required_argument, NULL, 'p'},
		{"source", required_argument, NULL, 'z'},
		{"provenance", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int rc = 0;
		switch (c) {
		case 'r':
			rc = add_arg(o->root_keys, &o->nroot_keys, MAX_KEYS,
				     optarg, "root keys");
			break;
		case 't':
			rc = add_arg(o->targets_keys, &o->ntargets_keys,
				     MAX_KEYS, optarg, "targets keys");
			break;
		case 'R':
			rc = parse_long(optarg, "--root-threshold", 1, MAX_KEYS,
					&o->root_threshold);
			break;
		case 'T':
			rc = parse_long(optarg, "--targets-threshold", 1,
					MAX_KEYS, &o->targets_threshold);
			break;
		case 'e':
			rc = parse_long(optarg, "--expires", 1, 3650,
					&o->expires_days);
			break;
		case 'o': o->online_key = optarg; break;
		case 'O': o->out = optarg; break;
		case 'k': o->key = optarg; break;
		case 's': o->server = optarg; break;
		case 'f': o->token_file = optarg; break;
		case 'u': o->rules = optarg; break;
		case 'x': o->fixtures = optarg; break;
		case 'c':
			rc = add_arg(o->corpus, &o->ncorpus, RELEASE_LIST_MAX,
				     optarg, "corpus directories");
			break;
		case 'v': o->version = optarg; break;
		case 'S': o->software = 1; break;
		case 'p':
			rc = add_arg(o->programs, &o->nprograms,
				     RELEASE_LIST_MAX, optarg, "programs");
			break;
		case 'z': o->source = optarg; break;
		case 'P': o->provenance = optarg; break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return 2;
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- files of a release directory ---- */

char *
release_path(const char *dir, const char *rel)
{
	return xasprintf("%s/%s", dir, rel);
}

/* mkdir -p of path's parent directories, mode 0755. */
int
release_mkdirs(const char *path)
{
	char *p = xstrdup(path);

	for (char *s = strchr(p + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			fprintf(stderr, "vigil: %s: %s\n", p, strerror(errno));
			free(p);
			return 2;
		}
		*s = '/';
	}
	free(p);
	return 0;
}

bool
release_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int
release_read(const char *path, size_t max, uint8_t **data, size_t *len)
{
	int rc = io_read_file(path, max, data, len);

	if (rc == VG_ELIMIT)
		fprintf(stderr, "vigil: %s: more than %zu bytes\n", path, max);
	else if (rc == VG_ETYPE)
		fprintf(stderr, "vigil: %s: not a regular file\n", path);
	else if (rc != 0)
		fprintf(stderr, "vigil: %s: %s\n", path, strerror(errno));
	return rc == 0 ? 0 : 2;
}

int
release_write(const char *path, const void *data, size_t len)
{
	if (release_mkdirs(path) != 0)
		return 2;
	if (io_write_file(path, data, len, 0644) != 0) {
		fprintf(stderr, "vigil: %s: %s\n", path, strerror(errno));
		return 2;
	}
	return 0;
}

int
release_parse_meta(const char *name, const uint8_t *data, size_t len,
		   enum tuf_role role, struct tuf_meta *m)
{
	struct tuf_result r = {0};

	if (tuf_meta_parse(data, len, role, m, &r) != 0) {
		fprintf(stderr, "vigil: %s: %s\n", name, r.msg);
		return 2;
	}
	return 0;
}

int
release_load_meta(const char *path, enum tuf_role role, struct tuf_meta *m)
{
	return release_load_meta_bytes(path, role, m, NULL, NULL);
}

int
release_load_meta_bytes(const char *path, enum tuf_role role,
			struct tuf_meta *m, uint8_t **data, size_t *len)
{
	uint8_t *buf;
	size_t n;
	int rc;

	if (release_read(path, TUF_META_MAX, &buf, &n) != 0)
		return 2;
	rc = release_parse_meta(path, buf, n, role, m);
	if (rc == 0 && data != NULL) {
		*data = buf;
		*len = n;
		return 0;
	}
	free(buf);
	return rc;
}

int
release_save_meta(const char *path, const struct tuf_meta *m)
{
	char *text;
	size_t len;
	int rc;

	if (tuf_meta_encode(m, &text, &len) != 0) {
		fprintf(stderr, "vigil: %s: cannot encode the manifest\n",
			path);
		return 2;
	}
	rc = release_write(path, text, len);
	free(text);
	return rc;
}

/* True if the key ID is one of the keys root names for role. */
bool
release_role_has(const struct tuf_meta *root, enum tuf_role role,
		 const char *id)
{
	json_t *ids = json_object_get(
		json_object_get(json_object_get(root->signed_, "roles"),
				tuf_role_name(role)),
		"keyids");
	size_t i;
	json_t *v;

	json_array_foreach(ids, i, v) if (strcmp(json_string_value(v), id) ==
					  0) return true;
	return false;
}

/* ---- keygen ---- */

static int
do_keygen(struct ropts *o)
{
	uint8_t pub[32];
	char id[TUF_KEYID_LEN], err[256];

	if (o->out == NULL) {
		fprintf(stderr, "vigil: release keygen needs --out PATH\n");
		return 2;
	}
	if (release_mkdirs(o->out) != 0)
		return 2;
	if (tuf_keyfile_create(o->out, pub, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigil: %s\n", err);
		return 2;
	}
	tuf_key_id(pub, id);
	printf("%s.key (secret, mode 0600) and %s.pub\nkey ID %s\n", o->out,
	       o->out, id);
	return 0;
}

/* ---- init and rotate-root ---- */

/* Adds the public keys in files[] to keys and their IDs, sorted and
 * unique, to a new array in *ids. */
static int
load_role_keys(const char *const *files, size_t n, json_t *keys, json_t **ids)
{
	uint8_t pub[32];
	char id[TUF_KEYID_LEN], err[256];

	*ids = json_array();
	for (size_t i = 0; i < n; i++) {
		if (tuf_pubfile_load(files[i], pub, err, sizeof(err)) != 0) {
			fprintf(stderr, "vigil: %s\n", err);
			json_decref(*ids);
			return 2;
		}
		tuf_key_id(pub, id);
		json_object_set_new(keys, id, tuf_key_json(pub));
		size_t j;
		json_t *v;
		bool dup = false;
		json_array_foreach(*ids, j, v) dup |=
			strcmp(json_string_value(v), id) == 0;
		if (dup) {
			fprintf(stderr, "vigil: %s: the same key twice\n",
				files[i]);
			json_decref(*ids);
			return 2;
		}
		json_array_append_new(*ids, json_string(id));
	}
	/* Sorted, so that the same keys make the same manifest. */
	size_t cnt = json_array_size(*ids);
	for (size_t a = 1; a < cnt; a++)
		for (size_t b = a; b > 0; b--) {
			json_t *x = json_array_get(*ids, b - 1),
			       *y = json_array_get(*ids, b);
			if (strcmp(json_string_value(x),
				   json_string_value(y)) <= 0)
				break;
			json_incref(x);
			json_array_set(*ids, b - 1, y);
			json_array_set_new(*ids, b, x);
		}
	return 0;
}

static json_t *
role_json(json_t *ids, long threshold)
{
	return json_pack("{s:o,s:I}", "keyids", ids, "threshold",
			 (json_int_t)threshold);
}

/* The "keys" of a root: exactly the keys its roles name. */
static json_t *
root_keys_of(json_t *roles, json_t *all)
{
	json_t *keys = json_object(), *role, *v;
	const char *name;
	size_t i;

	json_object_foreach(roles, name, role) json_array_foreach(
		json_object_get(role, "keyids"), i, v)
		json_object_set(keys, json_string_value(v),
				json_object_get(all, json_string_value(v)));
	return keys;
}

static int
make_root(struct ropts *o, const struct tuf_meta *prev, struct tuf_meta *out)
{
	json_t *all = json_object(), *roles = json_object(), *ids;
	struct {
		enum tuf_role role;
		const char *const *files;
		size_t n;
		long threshold;
		const char *flag;
	} spec[] = {
		{TUF_ROOT, o->root_keys, o->nroot_keys, o->root_threshold,
		 "--root-key"},
		{TUF_TARGETS, o->targets_keys, o->ntargets_keys,
		 o->targets_threshold, "--targets-key"},
		{TUF_SNAPSHOT, &o->online_key, o->online_key != NULL, 1,
		 "--online-key"},
		{TUF_TIMESTAMP, &o->online_key, o->online_key != NULL, 1,
		 "--online-key"},
	};
	struct tuf_result r = {0};
	char exp[21];
	json_t *signed_;

	if (prev != NULL)
		json_object_update(all, json_object_get(prev->signed_, "keys"));
	for (size_t i = 0; i < 4; i++) {
		const char *name = tuf_role_name(spec[i].role);
		json_t *old =
			prev == NULL
				? NULL
				: json_object_get(json_object_get(prev->signed_,
								  "roles"),
						  name);
		long threshold = spec[i].threshold;

		if (spec[i].n == 0) {
			if (old == NULL) {
				fprintf(stderr, "vigil: give %s\n",
					spec[i].flag);
				goto fail;
			}
			ids = json_deep_copy(json_object_get(old, "keyids"));
			if (threshold == 0)
				threshold = (long)json_integer_value(
					json_object_get(old, "threshold"));
		} else if (load_role_keys(spec[i].files, spec[i].n, all,
					  &ids) != 0) {
			goto fail;
		}
		if (threshold == 0) {
			if (old == NULL) {
				fprintf(stderr,
					"vigil: give the threshold of "
					"role %s\n",
					name);
				json_decref(ids);
				goto fail;
			}
			threshold = (long)json_integer_value(
				json_object_get(old, "threshold"));
		}
		if ((size_t)threshold > json_array_size(ids)) {
			fprintf(stderr,
				"vigil: role %s: threshold %ld above its %zu "
				"keys\n",
				name, threshold, json_array_size(ids));
			json_decref(ids);
			goto fail;
		}
		json_object_set_new(roles, name, role_json(ids, threshold));
	}
	tuf_time_format((int64_t)time(NULL) +
				(int64_t)(o->expires_days ? o->expires_days
							  : ROOT_DAYS) *
					RELEASE_DAY,
			exp);
	signed_ = json_pack("{s:s,s:s,s:I,s:s,s:b,s:o,s:o}", "_type", "root",
			    "spec_version", TUF_SPEC_VERSION, "version",
			    (json_int_t)(prev == NULL ? 1 : prev->version + 1),
			    "expires", exp, "consistent_snapshot", 0, "keys",
			    root_keys_of(roles, all), "roles", roles);
	json_decref(all);
	if (tuf_meta_new(signed_, TUF_ROOT, out, &r) != 0) {
		fprintf(stderr, "vigil: %s\n", r.msg);
		return 2;
	}
	return 0;
fail:
	json_decref(all);
	json_decref(roles);
	return 2;
}

static int
do_init(struct ropts *o, bool rotate)
{
	struct tuf_meta prev = {0}, root = {0};
	char *staged = release_path(o->dir, "staged/root.json");
	char *cur = release_path(o->dir, "root.json");
	int rc = 2;

	if (release_exists(staged)) {
		fprintf(stderr,
			"vigil: %s: a root is already staged; publish it "
			"or remove it first\n",
			staged);
		goto out;
	}
	if (!rotate && release_exists(cur)) {
		fprintf(stderr,
			"vigil: %s: already initialised; use rotate-root\n",
			o->dir);
		goto out;
	}
	if (rotate && release_load_meta(cur, TUF_ROOT, &prev) != 0)
		goto out;
	if (make_root(o, rotate ? &prev : NULL, &root) != 0)
		goto out;
	if ((rc = release_save_meta(staged, &root)) == 0)
		printf("staged root version %llu in %s; each root key holder "
		       "now runs vigil release sign %s --key KEY\n",
		       (unsigned long long)root.version, staged, o->dir);
out:
	tuf_meta_clear(&prev);
	tuf_meta_clear(&root);
	free(staged);
	free(cur);
	return rc;
}

/* ---- sign ---- */

static void
print_state(const char *what, const struct tuf_meta *root,
	    const struct tuf_meta *m)
{
	struct tuf_result r = {0};

	if (tuf_verify_role(root, m, &r) == 0)
		printf("%s: signed by the threshold\n", what);
	else
		printf("%s: not yet: %s\n", what, r.msg);
}

static int
do_sign(struct ropts *o)
{
	uint8_t sk[64];
	char id[TUF_KEYID_LEN], err[256];
	struct tuf_meta cur = {0}, root = {0}, targets = {0};
	char *p_cur = release_path(o->dir, "root.json");
	char *p_root = release_path(o->dir, "staged/root.json");
	char *p_targets = release_path(o->dir, "staged/targets.json");
	bool have_cur, staged_root;
	int signed_any = 0, rc = 2;

	if (o->key == NULL) {
		fprintf(stderr, "vigil: release sign needs --key PATH.key\n");
		goto out;
	}
	if (tuf_keyfile_load(o->key, sk, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigil: %s\n", err);
		goto out;
	}
	tuf_key_id(sk + 32, id);
	have_cur = release_exists(p_cur);
	if (have_cur && release_load_meta(p_cur, TUF_ROOT, &cur) != 0)
		goto wipe;
	staged_root = release_exists(p_root);
	if (staged_root) {
		if (release_load_meta(p_root, TUF_ROOT, &root) != 0)
			goto wipe;
		/* A new root is signed by the old root keys and its own. */
		if (release_role_has(&root, TUF_ROOT, id) ||
		    (have_cur && release_role_has(&cur, TUF_ROOT, id))) {
			if (tuf_meta_sign(&root, sk) != 0 ||
			    release_save_meta(p_root, &root) != 0)
				goto wipe;
			signed_any++;
			printf("signed root.json version %llu with key %s\n",
			       (unsigned long long)root.version, id);
			if (have_cur) {
				struct tuf_result r = {0};
				if (tuf_root_next(&cur, &root, &r) == 0)
					printf("root.json: signed by both "
					       "thresholds\n");
				else
					printf("root.json: not yet: %s\n",
					       r.msg);
			} else {
				print_state("root.json", &root, &root);
			}
		}
	} else if (have_cur) {
		root = cur;
		memset(&cur, 0, sizeof(cur));
		have_cur = false;
	}
	if (release_exists(p_targets)) {
		if (root.doc == NULL) {
			fprintf(stderr, "vigil: %s: no root\n", o->dir);
			goto wipe;
		}
		if (release_load_meta(p_targets, TUF_TARGETS, &targets) != 0)
			goto wipe;
		if (release_role_has(&root, TUF_TARGETS, id)) {
			if (tuf_meta_sign(&targets, sk) != 0 ||
			    release_save_meta(p_targets, &targets) != 0)
				goto wipe;
			signed_any++;
			printf("signed targets.json version %llu with key "
			       "%s\n",
			       (unsigned long long)targets.version, id);
			print_state("targets.json", &root, &targets);
		}
	}
	if (signed_any == 0) {
		fprintf(stderr,
			"vigil: key %s may sign none of the manifests staged "
			"in %s\n",
			id, o->dir);
		rc = 1;
		goto wipe;
	}
	rc = 0;
wipe:
	sodium_memzero(sk, sizeof(sk));
out:
	tuf_meta_clear(&cur);
	tuf_meta_clear(&root);
	tuf_meta_clear(&targets);
	free(p_cur);
	free(p_root);
	free(p_targets);
	return rc;
}

/* ---- dispatch ---- */

int
cmd_release(int argc, char **argv)
{
	struct ropts o;
	const char *sub;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	argc--;
	argv++;
	if (strcmp(sub, "check-rules") == 0)
		return cmd_release_check_rules(argc, argv);
	if (strcmp(sub, "provenance") == 0)
		return cmd_release_provenance(argc, argv);
	if (strcmp(sub, "verify-build") == 0)
		return cmd_release_verify_build(argc, argv);
	if ((rc = parse_opts(argc, argv, &o)) != 0)
		return rc < 0 ? 0 : rc;
	if (strcmp(sub, "keygen") == 0 || strcmp(sub, "bundle") == 0) {
		if (optind != argc) {
			fprintf(stderr,
				"vigil: release %s takes no "
				"arguments\n",
				sub);
			return 2;
		}
		return strcmp(sub, "keygen") == 0 ? do_keygen(&o)
						  : release_bundle(&o);
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "vigil: release %s needs one DIR\n", sub);
		return 2;
	}
	o.dir = argv[optind];
	if (strcmp(sub, "init") == 0)
		return do_init(&o, false);
	if (strcmp(sub, "rotate-root") == 0)
		return do_init(&o, true);
	if (strcmp(sub, "sign") == 0)
		return do_sign(&o);
	if (strcmp(sub, "stage") == 0)
		return release_stage(&o);
	if (strcmp(sub, "publish") == 0)
		return release_publish(&o);
	fprintf(stderr, "vigil: unknown release command '%s'\n", sub);
	usage(stderr);
	return 2;
}
