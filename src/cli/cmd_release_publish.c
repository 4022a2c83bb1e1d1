/*
 * cmd_release_publish.c - `vigil release stage`, `publish` and `bundle`:
 * making a targets manifest from rules or built programs, sending a
 * signed release to the node, and fetching a whole release into one file
 * for air-gapped endpoints (docs/RELEASES.md).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/http.h"
#include "cli/logclient.h"
#include "cli/release.h"
#include "common/err.h"
#include "common/xmalloc.h"
#include "release/container.h"
#include "release/rules.h"
#include "release/tuf.h"
#include "tlog/checkpoint.h"
#include "tlog/proof.h"
#include "tlog/tile.h"

#define TARGETS_DAYS 90

/* ---- stage ---- */

/* True if the target's custom kind is one of kinds. */
static bool
kind_in(json_t *target, const char *const *kinds)
{
	const char *k = json_string_value(
		json_object_get(json_object_get(target, "custom"), "kind"));

	for (; k != NULL && *kinds != NULL; kinds++)
		if (strcmp(k, *kinds) == 0)
			return true;
	return false;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s == NULL ? path : s + 1;
}

/* Adds one artifact: written to DIR/staged/targets/<name>, described in
 * targets. */
static int
add_artifact(const struct ropts *o, json_t *targets, const char *name,
	     const void *data, size_t len, json_t *custom)
{
	char *rel = xasprintf("staged/targets/%s", name), *p;
	int rc;

	if (!container_path_ok(name, strlen(name)) ||
	    strlen(name) > TUF_TARGET_NAME_MAX) {
		fprintf(stderr, "vigil: %s: not a valid target name\n", name);
		json_decref(custom);
		free(rel);
		return 2;
	}
	p = release_path(o->dir, rel);
	free(rel);
	rc = release_write(p, data, len);
	free(p);
	if (rc != 0) {
		json_decref(custom);
		return rc;
	}
	json_object_set_new(targets, name, tuf_target_json(data, len, custom));
	printf("  %s (%zu bytes)\n", name, len);
	return 0;
}

static int
add_file(const struct ropts *o, json_t *targets, const char *file,
	 const char *kind)
{
	char *name = xasprintf("software/%s/%s", o->version, base_name(file));
	uint8_t *data;
	size_t len;
	int rc;

	if ((rc = release_read(file, RELEASE_ARTIFACT_MAX, &data, &len)) == 0) {
		rc = add_artifact(o, targets, name, data, len,
				  json_pack("{s:s,s:s}", "kind", kind,
					    "version", o->version));
		free(data);
	}
	free(name);
	return rc;
}

/* The rule bundle of o->rules, checked; 1 if the check fails. */
static int
stage_rules(const struct ropts *o, json_t *targets)
{
	static const char *const default_corpus[] = {"/usr/bin", "/usr/lib"};
	struct rules_bundle b = {0};
	const char *const *corpus = o->ncorpus ? o->corpus : default_corpus;
	size_t ncorpus = o->ncorpus ? o->ncorpus : 2;
	char err[1024], *fixtures, *text = NULL, *report_text = NULL;
	char *name = NULL;
	json_t *report = NULL, *ids, *fail;
	size_t len, i;
	bool pass;
	int rc = 2;

	fixtures = o->fixtures ? xstrdup(o->fixtures)
			       : release_path(o->rules, "fixtures");
	if (rules_bundle_build(o->rules, o->version, &b, err, sizeof(err)) !=
	    0) {
		fprintf(stderr, "vigil: %s\n", err);
		rc = 1;
		goto out;
	}
	printf("checking %zu rules of %s (corpus:", b.n_ids, o->rules);
	for (i = 0; i < ncorpus; i++)
		printf(" %s", corpus[i]);
	printf(")\n");
	fflush(stdout);
	if (rules_check(&b, fixtures, corpus, ncorpus, &report, &pass, err,
			sizeof(err)) != 0) {
		fprintf(stderr, "vigil: %s\n", err);
		goto out;
	}
	report_text = json_dumps(report, JSON_SORT_KEYS | JSON_INDENT(1));
	if (!pass) {
		char *p =
			xasprintf("%s/rule-check-%s.json", o->dir, o->version);
		json_array_foreach(json_object_get(report, "failures"), i, fail)
			fprintf(stderr, "vigil: %s\n", json_string_value(fail));
		if (release_write(p, report_text, strlen(report_text)) == 0)
			fprintf(stderr, "vigil: the report is in %s\n", p);
		fprintf(stderr, "vigil: the rule check failed: nothing "
				"staged\n");
		free(p);
		rc = 1;
		goto out;
	}
	{
		json_t *c = json_object_get(report, "corpus");
		printf("rule check passed: %zu rules compiled and fired on "
		       "their fixtures; %lld corpus files (%lld MiB), no false "
		       "positive\n",
		       b.n_ids,
		       (long long)json_integer_value(
			       json_object_get(c, "files_scanned")),
		       (long long)json_integer_value(
			       json_object_get(c, "bytes_scanned")) >>
			       20);
	}
	if (rules_bundle_encode(&b, &text, &len) != 0) {
		fprintf(stderr, "vigil: cannot encode the rule bundle\n");
		goto out;
	}
	ids = json_array();
	for (i = 0; i < b.n_ids; i++)
		json_array_append_new(ids, json_string(b.rule_ids[i]));
	name = xasprintf("rules/vigil-rules-%s.json", o->version);
	if ((rc = add_artifact(o, targets, name, text, len,
			       json_pack("{s:s,s:s,s:o}", "kind", "rules",
					 "version", o->version, "rule_ids",
					 ids))) != 0)
		goto out;
	free(name);
	name = xasprintf("rules/vigil-rules-%s.check.json", o->version);
	rc = add_artifact(o, targets, name, report_text, strlen(report_text),
			  json_pack("{s:s,s:s}", "kind", "rule-check",
				    "version", o->version));
out:
	rules_bundle_free(&b);
	json_decref(report);
	free(report_text);
	free(text);
	free(name);
	free(fixtures);
	return rc;
}

int
release_stage(const struct ropts *o)
{
	static const char *const rule_kinds[] = {"rules", "rule-check", NULL};
	static const char *const soft_kinds[] = {"program", "source",
						 "provenance", NULL};
	struct tuf_meta prev = {0}, root = {0}, staged = {0};
	struct tuf_result r = {0};
	char *p_staged = release_path(o->dir, "staged/targets.json");
	char *p_prev = release_path(o->dir, "targets.json");
	char *p_root = release_path(o->dir, "root.json");
	char *p_sroot = release_path(o->dir, "staged/root.json");
	json_t *targets, *t, *signed_;
	const char *name;
	void *tmp;
	char exp[21];
	int rc = 2;

	if ((o->rules == NULL) == (o->software == 0) || o->version == NULL) {
		fprintf(stderr, "vigil: release stage needs --version V and "
				"either --rules RULESDIR or --software\n");
		goto out;
	}
	if (!rules_version_ok(o->version)) {
		fprintf(stderr,
			"vigil: --version: 1 to %d characters of "
			"[A-Za-z0-9._-], not starting with '.': %s\n",
			RULES_VERSION_MAX, o->version);
		goto out;
	}
	if (o->software && (o->nprograms == 0 || o->source == NULL)) {
		fprintf(stderr, "vigil: release stage --software needs "
				"--program FILE... and --source ARCHIVE\n");
		goto out;
	}
	if (release_exists(p_staged)) {
		fprintf(stderr,
			"vigil: %s: a targets manifest is already staged; "
			"publish it or remove it first\n",
			p_staged);
		goto out;
	}
	if (release_load_meta(release_exists(p_sroot) ? p_sroot : p_root,
			      TUF_ROOT, &root) != 0)
		goto out;
	targets = json_object();
	if (release_exists(p_prev)) {
		if (release_load_meta(p_prev, TUF_TARGETS, &prev) != 0) {
			json_decref(targets);
			goto out;
		}
		/* Carry over what this release does not replace. */
		json_object_foreach_safe(
			json_object_get(prev.signed_, "targets"), tmp, name,
			t) if (!kind_in(t, o->rules ? rule_kinds : soft_kinds))
			json_object_set(targets, name, t);
	}
	printf("staging targets version %llu:\n",
	       (unsigned long long)(prev.version + 1));
	if (o->rules != NULL) {
		rc = stage_rules(o, targets);
	} else {
		rc = 0;
		for (size_t i = 0; rc == 0 && i < o->nprograms; i++)
			rc = add_file(o, targets, o->programs[i], "program");
		if (rc == 0)
			rc = add_file(o, targets, o->source, "source");
		if (rc == 0 && o->provenance != NULL)
			rc = add_file(o, targets, o->provenance, "provenance");
	}
	if (rc != 0) {
		json_decref(targets);
		goto out;
	}
	tuf_time_format((int64_t)time(NULL) +
				(int64_t)(o->expires_days ? o->expires_days
							  : TARGETS_DAYS) *
					RELEASE_DAY,
			exp);
	signed_ = json_pack("{s:s,s:s,s:I,s:s,s:o}", "_type", "targets",
			    "spec_version", TUF_SPEC_VERSION, "version",
			    (json_int_t)(prev.version + 1), "expires", exp,
			    "targets", targets);
	rc = 2;
	if (tuf_meta_new(signed_, TUF_TARGETS, &staged, &r) != 0) {
		fprintf(stderr, "vigil: %s\n", r.msg);
		goto out;
	}
	if ((rc = release_save_meta(p_staged, &staged)) == 0)
		printf("staged in %s; each targets key holder now runs vigil "
		       "release sign %s --key KEY\n",
		       p_staged, o->dir);
out:
	tuf_meta_clear(&prev);
	tuf_meta_clear(&root);
	tuf_meta_clear(&staged);
	free(p_staged);
	free(p_prev);
	free(p_root);
	free(p_sroot);
	return rc;
}

/* ---- publish ---- */

/* Where a target's bytes are: staged, or published before. */
static char *
artifact_path(const char *dir, const char *name)
{
	char *rel = xasprintf("staged/targets/%s", name), *p;

	p = release_path(dir, rel);
	free(rel);
	if (!release_exists(p)) {
		free(p);
		rel = xasprintf("targets/%s", name);
		p = release_path(dir, rel);
		free(rel);
	}
	return p;
}

/* Adds a file to the container; 0 or 2. */
static int
put(struct container_writer *w, const char *path, const void *data, size_t len)
{
	if (container_writer_add(w, path, data, len) != 0) {
		fprintf(stderr, "vigil: %s: cannot add it to the release\n",
			path);
		return 2;
	}
	return 0;
}

static int
put_file(struct container_writer *w, const char *path, const char *file,
	 size_t max)
{
	uint8_t *data;
	size_t len;
	int rc;

	if ((rc = release_read(file, max, &data, &len)) == 0) {
		rc = put(w, path, data, len);
		free(data);
	}
	return rc;
}

/* Verifies what is staged as the node and every endpoint will, and puts
 * it in w. 1 if it does not verify. */
static int
check_and_pack(const struct ropts *o, struct container_writer *w,
	       bool *has_root, bool *has_targets)
{
	struct tuf_meta cur = {0}, root = {0}, targets = {0};
	struct tuf_result r = {0};
	char *p_cur = release_path(o->dir, "root.json");
	char *p_root = release_path(o->dir, "staged/root.json");
	char *p_targets = release_path(o->dir, "staged/targets.json");
	uint8_t *root_bytes = NULL, *targets_bytes = NULL;
	size_t root_len = 0, targets_len = 0;
	const struct tuf_meta *newest;
	int64_t now = (int64_t)time(NULL);
	int rc = 2;

	*has_root = release_exists(p_root);
	*has_targets = release_exists(p_targets);
	if (!*has_targets) {
		/* Endpoints move to a new root only with targets signed under
		 * it: a root alone could strand them on targets whose keys
		 * it removed. */
		fprintf(stderr,
			"vigil: %s: no targets manifest is staged%s; stage "
			"one (vigil release stage) and have it signed\n",
			o->dir,
			*has_root ? " (a new root is published together with "
				    "targets signed under it)"
				  : "");
		goto out;
	}
	if (release_exists(p_cur) &&
	    release_load_meta(p_cur, TUF_ROOT, &cur) != 0)
		goto out;
	if (*has_root) {
		if (release_load_meta_bytes(p_root, TUF_ROOT, &root,
					    &root_bytes, &root_len) != 0)
			goto out;
		if (cur.doc != NULL)
			rc = tuf_root_next(&cur, &root, &r);
		else if (root.version != 1) {
			snprintf(r.msg, sizeof(r.msg),
				 "the first root must be version 1, not %llu",
				 (unsigned long long)root.version);
			rc = -1;
		} else
			rc = tuf_verify_role(&root, &root, &r);
		if (rc != 0) {
			fprintf(stderr,
				"vigil: refusing to publish root.json: "
				"%s\n",
				r.msg);
			rc = 1;
			goto out;
		}
		rc = 2;
	} else if (cur.doc == NULL) {
		fprintf(stderr,
			"vigil: %s: no root; run vigil release init "
			"first\n",
			o->dir);
		goto out;
	}
	newest = *has_root ? &root : &cur;
	if (tuf_check_expiry(newest, now, &r) != 0) {
		fprintf(stderr, "vigil: refusing to publish: %s\n", r.msg);
		rc = 1;
		goto out;
	}
	/* Every root, so that the node can follow the chain. */
	for (uint64_t v = 1; v <= cur.version; v++) {
		char *rel = xasprintf("%llu.root.json", (unsigned long long)v);
		char *p = release_path(o->dir, rel), *cpath;
		cpath = xasprintf("root/%s", rel);
		rc = put_file(w, cpath, p, TUF_META_MAX);
		free(cpath);
		free(p);
		free(rel);
		if (rc != 0)
			goto out;
	}
	if (*has_root) {
		char *cpath = xasprintf("root/%llu.root.json",
					(unsigned long long)root.version);
		rc = put(w, cpath, root_bytes, root_len);
		free(cpath);
		if (rc != 0)
			goto out;
	}
	/* Targets are staged (checked above). */
	rc = 2;
	if (release_load_meta_bytes(p_targets, TUF_TARGETS, &targets,
				    &targets_bytes, &targets_len) != 0)
		goto out;
	if (tuf_verify_role(newest, &targets, &r) != 0 ||
	    tuf_check_expiry(&targets, now, &r) != 0) {
		fprintf(stderr, "vigil: refusing to publish targets.json: %s\n",
			r.msg);
		rc = 1;
		goto out;
	}
	if (put(w, "targets.json", targets_bytes, targets_len) != 0)
		goto out;
	for (size_t i = 0; i < tuf_targets_count(&targets); i++) {
		struct tuf_target t;
		char *p, *cpath;
		uint8_t *data;
		size_t len;

		if (tuf_target_at(&targets, i, &t) != 0)
			goto out;
		p = artifact_path(o->dir, t.name);
		rc = release_read(p, RELEASE_ARTIFACT_MAX, &data, &len);
		free(p);
		if (rc != 0)
			goto out;
		if (tuf_check_artifact(&t, data, len, &r) != 0) {
			fprintf(stderr, "vigil: refusing to publish: %s\n",
				r.msg);
			free(data);
			rc = 1;
			goto out;
		}
		cpath = xasprintf("targets/%s", t.name);
		rc = put(w, cpath, data, len);
		free(cpath);
		free(data);
		if (rc != 0)
			goto out;
	}
	rc = 0;
out:
	tuf_meta_clear(&cur);
	tuf_meta_clear(&root);
	tuf_meta_clear(&targets);
	free(root_bytes);
	free(targets_bytes);
	free(p_cur);
	free(p_root);
	free(p_targets);
	return rc;
}

/* Renames from over to, creating to's parents. */
static int
move(const char *from, const char *to)
{
	if (release_mkdirs(to) != 0)
		return 2;
	if (rename(from, to) != 0) {
		fprintf(stderr, "vigil: %s: %s\n", to, strerror(errno));
		return 2;
	}
	return 0;
}

/* After the node took it: what was staged becomes what is published. */
static int
promote(const char *dir, bool has_root, bool has_targets)
{
	struct tuf_meta m = {0};
	int rc = 0;

	if (has_root) {
		char *p = release_path(dir, "staged/root.json");
		char *cur = release_path(dir, "root.json");
		uint8_t *data = NULL;
		size_t len;

		/* One read: the bytes parsed are the bytes kept as
		 * N.root.json. */
		rc = release_read(p, TUF_META_MAX, &data, &len);
		if (rc == 0 && (rc = release_parse_meta(p, data, len, TUF_ROOT,
							&m)) == 0) {
			char *rel = xasprintf("%llu.root.json",
					      (unsigned long long)m.version);
			char *vp = release_path(dir, rel);
			rc = release_write(vp, data, len);
			if (rc == 0)
				rc = move(p, cur);
			free(vp);
			free(rel);
		}
		free(data);
		tuf_meta_clear(&m);
		free(p);
		free(cur);
	}
	if (rc == 0 && has_targets) {
		char *p = release_path(dir, "staged/targets.json");
		char *cur = release_path(dir, "targets.json");

		rc = release_load_meta(p, TUF_TARGETS, &m);
		for (size_t i = 0; rc == 0 && i < tuf_targets_count(&m); i++) {
			struct tuf_target t;
			char *rel, *from, *to;

			if (tuf_target_at(&m, i, &t) != 0)
				break;
			rel = xasprintf("staged/targets/%s", t.name);
			from = release_path(dir, rel);
			free(rel);
			rel = xasprintf("targets/%s", t.name);
			to = release_path(dir, rel);
			free(rel);
			if (release_exists(from))
				rc = move(from, to);
			free(from);
			free(to);
		}
		if (rc == 0)
			rc = move(p, cur);
		tuf_meta_clear(&m);
		free(p);
		free(cur);
	}
	return rc;
}

int
release_publish(const struct ropts *o)
{
	struct container_writer w;
	struct http_response resp = {0};
	char token[ADMIN_TOKEN_MAX];
	bool has_root, has_targets;
	uint8_t *body = NULL;
	size_t len;
	json_t *answer;
	int rc;

	if (o->server == NULL || o->token_file == NULL) {
		fprintf(stderr, "vigil: release publish needs --server URL "
				"and --token-file FILE\n");
		return 2;
	}
	if (container_writer_mem(&w) != 0) {
		fprintf(stderr, "vigil: out of memory\n");
		return 2;
	}
	rc = check_and_pack(o, &w, &has_root, &has_targets);
	if (rc == 0 && (container_writer_end(&w) != 0 ||
			(body = container_writer_take(&w, &len)) == NULL)) {
		fprintf(stderr, "vigil: cannot assemble the release\n");
		rc = 2;
	}
	container_writer_clear(&w);
	if (rc != 0)
		return rc;
	if (admin_read_token(o->token_file, token) != 0) {
		free(body);
		return 2;
	}
	rc = http_request_ex("POST", o->server, "/v1/admin/releases", token,
			     (const char *)body, len,
			     "application/octet-stream", NULL, &resp);
	explicit_bzero(token, sizeof(token));
	free(body);
	if (rc != 0) {
		fprintf(stderr, "vigil: %s: %s\n", o->server, resp.error);
		return 2;
	}
	if (resp.status != 201) {
		http_explain(o->server, &resp);
		http_response_clear(&resp);
		return 1;
	}
	answer = json_loadb(resp.body ? resp.body : "", resp.len, 0, NULL);
	printf("published to %s", o->server);
	if (json_is_integer(json_object_get(answer, "version")))
		printf(": targets version %lld",
		       (long long)json_integer_value(
			       json_object_get(answer, "version")));
	printf("\n");
	json_decref(answer);
	http_response_clear(&resp);
	return promote(o->dir, has_root, has_targets);
}

/* ---- bundle ---- */

struct fetch {
	struct logclient_http *rel, *log;
	struct container_writer *w;
};

/* Fetches relpath from a source into the container as path. 0, 1 when
 * the node does not have it, 2 on error. */
static int
fetch_put(struct logclient_http *h, const char *relpath, size_t max,
	  struct container_writer *w, const char *path, uint8_t **keep,
	  size_t *keep_len)
{
	char err[512];
	uint8_t *data;
	size_t len;
	int rc;

	rc = logclient_http_get(h, relpath, max, &data, &len, err, sizeof(err));
	if (rc == VG_ENOENT)
		return 1;
	if (rc != 0) {
		fprintf(stderr, "vigil: %s\n", err);
		return 2;
	}
	rc = put(w, path, data, len);
	if (rc == 0 && keep != NULL) {
		*keep = data;
		*keep_len = len;
	} else {
		free(data);
	}
	return rc;
}

static int
put_tile(const struct tile *t, void *ud)
{
	struct fetch *f = ud;
	char path[TILE_PATH_MAX], *rel, *cpath;
	int rc;

	if (tile_path(t, path) != 0)
		return 2;
	rel = xstrdup(path); /* "tile/..." */
	cpath = xasprintf("log/%s", path);
	rc = fetch_put(f->log, rel, TILE_BUNDLE_MAX, f->w, cpath, NULL, NULL);
	if (rc == 1)
		fprintf(stderr, "vigil: the log has no %s\n", rel);
	free(rel);
	free(cpath);
	return rc == 0 ? 0 : 2;
}

static int
bundle_into(const struct ropts *o, struct fetch *f)
{
	struct tuf_meta targets = {0};
	struct checkpoint c = {0};
	uint64_t *indexes = NULL, v;
	size_t nindexes = 0;
	uint8_t *data = NULL;
	size_t len;
	char err[512];
	int rc;

	for (v = 1;; v++) {
		char *rel = xasprintf("%llu.root.json", (unsigned long long)v);
		char *cpath = xasprintf("root/%s", rel);
		rc = fetch_put(f->rel, rel, TUF_META_MAX, f->w, cpath, NULL,
			       NULL);
		free(rel);
		free(cpath);
		if (rc == 1)
			break;
		if (rc != 0)
			return 2;
	}
	if (v == 1) {
		fprintf(stderr, "vigil: %s has published no release\n",
			o->server);
		return 2;
	}
	if (fetch_put(f->rel, "timestamp.json", TUF_META_MAX, f->w,
		      "timestamp.json", NULL, NULL) != 0 ||
	    fetch_put(f->rel, "snapshot.json", TUF_META_MAX, f->w,
		      "snapshot.json", NULL, NULL) != 0 ||
	    fetch_put(f->rel, "targets.json", TUF_META_MAX, f->w,
		      "targets.json", &data, &len) != 0)
		return 2;
	rc = release_parse_meta("targets.json", data, len, TUF_TARGETS,
				&targets);
	free(data);
	if (rc != 0)
		return 2;
	rc = 2;
	indexes = xcalloc(tuf_targets_count(&targets) + 1, sizeof(*indexes));
	for (size_t i = 0; i < tuf_targets_count(&targets); i++) {
		struct tuf_target t;
		struct tlog_proof p = {0};
		char *rel;
		int got;

		if (tuf_target_at(&targets, i, &t) != 0)
			goto out;
		rel = xasprintf("targets/%s", t.name);
		got = fetch_put(f->rel, rel, (size_t)t.length, f->w, rel, NULL,
				NULL);
		free(rel);
		if (got != 0)
			goto out;
		/* Not every artifact has its own entry (a rule check's
		 * report is logged with nothing): no proof, nothing to add. */
		rel = xasprintf("proofs/%s", t.name);
		got = fetch_put(f->rel, rel, TLOG_PROOF_MAX_SIZE, f->w, rel,
				&data, &len);
		free(rel);
		if (got == 1)
			continue;
		if (got != 0)
			goto out;
		got = tlog_proof_parse((const char *)data, len, &p, err,
				       sizeof(err));
		free(data);
		if (got != 0) {
			fprintf(stderr, "vigil: the proof of %s: %s\n", t.name,
				err);
			goto out;
		}
		indexes[nindexes++] = p.index;
		tlog_proof_clear(&p);
	}
	/* The checkpoint after the proofs: at least as large as theirs. */
	if (fetch_put(f->log, "checkpoint", CHECKPOINT_MAX_TEXT, f->w,
		      "log/checkpoint", &data, &len) != 0)
		goto out;
	{
		/* The checkpoint body is its text up to the blank line. */
		const char *end = memmem(data, len, "\n\n", 2);
		int bad =
			end == NULL ||
			checkpoint_parse((const char *)data,
					 (size_t)(end - (const char *)data) + 1,
					 &c, err, sizeof(err)) != 0;
		free(data);
		if (bad) {
			fprintf(stderr, "vigil: the log's checkpoint is "
					"malformed\n");
			goto out;
		}
	}
	if (tile_walk(0, c.size, false, put_tile, f) != 0)
		goto out;
	for (size_t i = 0; i < nindexes; i++) {
		struct tile t = {.level = TILE_ENTRIES,
				 .index = indexes[i] / TILE_WIDTH};
		bool dup = false;

		if (indexes[i] >= c.size) {
			fprintf(stderr,
				"vigil: a proof names entry %llu, "
				"beyond the log's %llu\n",
				(unsigned long long)indexes[i],
				(unsigned long long)c.size);
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			dup |= indexes[j] / TILE_WIDTH == t.index;
		if (dup)
			continue;
		t.width = t.index < c.size / TILE_WIDTH
				  ? TILE_WIDTH
				  : (unsigned)(c.size % TILE_WIDTH);
		if (put_tile(&t, f) != 0)
			goto out;
	}
	rc = 0;
out:
	checkpoint_clear(&c);
	tuf_meta_clear(&targets);
	free(indexes);
	return rc;
}

int
release_bundle(const struct ropts *o)
{
	struct container_writer w;
	struct fetch f = {0};
	char *base, *tmp;
	size_t nfiles;
	FILE *out;
	int rc = 2, fd;

	if (o->server == NULL || o->out == NULL) {
		fprintf(stderr, "vigil: release bundle needs --server URL and "
				"--out FILE\n");
		return 2;
	}
	base = xasprintf("%s/v1/releases", o->server);
	f.rel = logclient_http_new(base);
	free(base);
	base = xasprintf("%s/log", o->server);
	f.log = logclient_http_new(base);
	free(base);
	if (f.rel == NULL || f.log == NULL) {
		fprintf(stderr, "vigil: --server: not an http(s) URL: %s\n",
			o->server);
		goto out;
	}
	tmp = xasprintf("%s.XXXXXX", o->out);
	if ((fd = mkstemp(tmp)) < 0 || (out = fdopen(fd, "wb")) == NULL) {
		fprintf(stderr, "vigil: %s: %s\n", o->out, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(tmp);
		goto out;
	}
	f.w = &w;
	if (container_writer_file(&w, out) == 0 && bundle_into(o, &f) == 0 &&
	    container_writer_end(&w) == 0)
		rc = 0;
	nfiles = w.nfiles;
	container_writer_clear(&w);
	if (fflush(out) != 0 || fsync(fileno(out)) != 0)
		rc = rc == 0 ? 2 : rc;
	fchmod(fileno(out), 0644);
	fclose(out);
	if (rc == 0 && rename(tmp, o->out) != 0) {
		fprintf(stderr, "vigil: %s: %s\n", o->out, strerror(errno));
		rc = 2;
	}
	if (rc != 0)
		unlink(tmp);
	else
		printf("wrote %s (%zu files)\n", o->out, nfiles);
	free(tmp);
out:
	logclient_http_free(f.rel);
	logclient_http_free(f.log);
	return rc;
}
