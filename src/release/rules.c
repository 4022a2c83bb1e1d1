/*
 * rules.c - rule bundles, the rule check, and installing rules on an
 * endpoint; see rules.h and docs/RELEASES.md.
 *
 * Everything here compiles with libyara directly rather than through the
 * engine: a bundle is checked file by file (each file under its own
 * namespace, so that the check can say which file a rule came from),
 * while the endpoint's engine later compiles the installed directory as
 * one set. The check compiles once and scans fixtures and corpus with one
 * scanner, each file mapped into memory.
 */
#include "release/rules.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <yara.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/xmalloc.h"

/* Seconds one file may take to scan before it counts as a scan error. */
#define SCAN_TIMEOUT_S 60

/* ---- names ---- */

static bool
name_chars_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

bool
rules_file_name_ok(const char *name)
{
	size_t n = strlen(name);

	/* A leading dot would hide the file from the engine, which skips
	 * dot files: the endpoint would silently lose its rules. */
	return n > 4 && n <= RULES_NAME_MAX && name[0] != '.' &&
	       strcmp(name + n - 4, ".yar") == 0 && name_chars_ok(name, n);
}

bool
rules_version_ok(const char *v)
{
	size_t n = strlen(v);

	return n >= 1 && n <= RULES_VERSION_MAX && v[0] != '.' &&
	       name_chars_ok(v, n);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct rules_file *)a)->name,
		      ((const struct rules_file *)b)->name);
}

/* ---- bundles ---- */

void
rules_bundle_free(struct rules_bundle *b)
{
	if (b == NULL)
		return;
	free(b->version);
	for (size_t i = 0; i < b->n_files; i++) {
		free(b->files[i].name);
		free(b->files[i].source);
	}
	free(b->files);
	for (size_t i = 0; i < b->n_ids; i++)
		free(b->rule_ids[i]);
	free(b->rule_ids);
	memset(b, 0, sizeof(*b));
}

/* A source a bundle can carry: bounded, no NUL, valid UTF-8. */
static int
source_ok(const char *name, const char *src, size_t len, char *err,
	  size_t errlen)
{
	json_t *s;

	if (len > RULES_SOURCE_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes", name,
			 RULES_SOURCE_MAX);
		return VG_ELIMIT;
	}
	if (memchr(src, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: holds a NUL byte", name);
		return VG_EFORMAT;
	}
	if ((s = json_stringn(src, len)) == NULL) {
		snprintf(err, errlen, "%s: not valid UTF-8", name);
		return VG_EFORMAT;
	}
	json_decref(s);
	return 0;
}

static int
read_source(int dfd, const char *dir, const char *name, struct rules_file *f,
	    char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd, rc;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s/%s: %s", dir, name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return VG_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s/%s: not a regular file", dir, name);
		close(fd);
		return VG_EFORMAT;
	}
	if (st.st_size > (off_t)RULES_SOURCE_MAX) {
		snprintf(err, errlen, "%s/%s: larger than %u bytes", dir, name,
			 RULES_SOURCE_MAX);
		close(fd);
		return VG_ELIMIT;
	}
	f->source = xmalloc(RULES_SOURCE_MAX + 2);
	n = io_read_full(fd, f->source, RULES_SOURCE_MAX + 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s/%s: %s", dir, name, strerror(errno));
		return VG_EIO;
	}
	f->source[n] = '\0';
	f->len = (size_t)n;
	f->name = xstrdup(name);
	if ((rc = source_ok(name, f->source, f->len, err, errlen)) != 0)
		return rc;
	return 0;
}

static bool
has_rule_ext(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot != NULL &&
	       (strcmp(dot, ".yar") == 0 || strcmp(dot, ".yara") == 0);
}

int
rules_sources_load(const char *dir, const char *version, struct rules_bundle *b,
		   char *err, size_t errlen)
{
	DIR *d = NULL;
	struct dirent *de;
	int rc = 0;

	memset(b, 0, sizeof(*b));
	if (errlen)
		err[0] = '\0';
	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return VG_EIO;
	}
	while ((de = readdir(d)) != NULL) {
		struct rules_file *f;

		/* The engine skips dot files too: nothing here is dropped
		 * that the engine would load. */
		if (de->d_name[0] == '.' || !has_rule_ext(de->d_name))
			continue;
		if (!rules_file_name_ok(de->d_name)) {
			snprintf(err, errlen,
				 "%s/%s: a bundle carries only files named "
				 "[A-Za-z0-9._-]+.yar (at most %d bytes)",
				 dir, de->d_name, RULES_NAME_MAX);
			rc = VG_EFORMAT;
			goto out;
		}
		if (b->n_files >= RULES_FILES_MAX) {
			snprintf(err, errlen, "%s: more than %d rule files",
				 dir, RULES_FILES_MAX);
			rc = VG_ELIMIT;
			goto out;
		}
		b->files = xreallocarray(b->files, b->n_files + 1,
					 sizeof(*b->files));
		f = &b->files[b->n_files++];
		memset(f, 0, sizeof(*f));
		if ((rc = read_source(dirfd(d), dir, de->d_name, f, err,
				      errlen)) != 0)
			goto out;
	}
	if (b->n_files == 0) {
		snprintf(err, errlen, "%s: no rule files (*.yar)", dir);
		rc = VG_EFORMAT;
		goto out;
	}
	qsort(b->files, b->n_files, sizeof(*b->files), cmp_file);
	b->version = xstrdup(version);
out:
	closedir(d);
	if (rc != 0)
		rules_bundle_free(b);
	return rc;
}

/* ---- compiling ---- */

struct cerr {
	int errors;
	int line;
	char msg[400];
};

static void
compile_cb(int level, const char *file, int line, const YR_RULE *rule,
	   const char *message, void *ud)
{
	struct cerr *e = ud;

	(void)file;
	(void)rule;
	if (level != YARA_ERROR_LEVEL_ERROR)
		return;
	if (e->errors++ == 0) {
		e->line = line;
		snprintf(e->msg, sizeof(e->msg), "%s", message);
	}
}

/* A bundle is self-contained: an include names nothing it carries. */
static const char *
no_include(const char *name, const char *calling_file, const char *ns, void *ud)
{
	(void)name;
	(void)calling_file;
	(void)ns;
	(void)ud;
	return NULL;
}

static void
no_include_free(const char *p, void *ud)
{
	(void)p;
	(void)ud;
}

/*
 * Compiles files[0..n) (each under the namespace of its name when
 * per_file_ns) into *out. On a compile error, *bad is the index of the
 * file that failed and e its first error; VG_EFORMAT.
 */
static int
compile_files(const struct rules_file *const *files, size_t n, bool per_file_ns,
	      YR_RULES **out, size_t *bad, struct cerr *e)
{
	YR_COMPILER *c = NULL;
	int rc = 0;

	*out = NULL;
	memset(e, 0, sizeof(*e));
	if (yr_compiler_create(&c) != ERROR_SUCCESS)
		return VG_ENOMEM;
	yr_compiler_set_callback(c, compile_cb, e);
	yr_compiler_set_include_callback(c, no_include, no_include_free, NULL);
	for (size_t i = 0; i < n; i++) {
		yr_compiler_add_string(c, files[i]->source,
				       per_file_ns ? files[i]->name : NULL);
		if (e->errors) {
			*bad = i;
			rc = VG_EFORMAT;
			goto out;
		}
	}
	if (yr_compiler_get_rules(c, out) != ERROR_SUCCESS)
		rc = VG_ENOMEM;
out:
	yr_compiler_destroy(c);
	return rc;
}

/* One rule as the check and the ID list see it. */
struct rule_ent {
	char *id;
	const char *file; /* borrowed from the bundle */
	bool private_;
};

static int
cmp_rule_ent(const void *a, const void *b)
{
	const struct rule_ent *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : strcmp(x->file, y->file);
}

static void
rule_ents_free(struct rule_ent *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(r[i].id);
	free(r);
}

/* Appends the rules of the compiled file f to *ents. */
static int
add_rules(YR_RULES *rules, const struct rules_file *f, struct rule_ent **ents,
	  size_t *n, char *err, size_t errlen)
{
	const YR_RULE *r;

	yr_rules_foreach(rules, r)
	{
		if (*n >= RULES_IDS_MAX) {
			snprintf(err, errlen, "more than %d rules",
				 RULES_IDS_MAX);
			return VG_ELIMIT;
		}
		*ents = xreallocarray(*ents, *n + 1, sizeof(**ents));
		(*ents)[*n].id = xstrdup(r->identifier);
		(*ents)[*n].file = f->name;
		(*ents)[*n].private_ = RULE_IS_PRIVATE(r) != 0;
		(*n)++;
	}
	return 0;
}

/* Names the first rule defined in two files of the sorted ents; 0 if none. */
static int
find_duplicate(const struct rule_ent *ents, size_t n, char *err, size_t errlen)
{
	for (size_t i = 1; i < n; i++)
		if (strcmp(ents[i - 1].id, ents[i].id) == 0) {
			snprintf(err, errlen,
				 "rule %s is defined in both %s and %s",
				 ents[i].id, ents[i - 1].file, ents[i].file);
			return VG_EFORMAT;
		}
	return 0;
}

/* Compiles every file of b alone into the sorted *ents. */
static int
compile_each(const struct rules_bundle *b, struct rule_ent **ents, size_t *n,
	     char *err, size_t errlen)
{
	int rc = 0;

	*ents = NULL;
	*n = 0;
	if (yr_initialize() != ERROR_SUCCESS) {
		snprintf(err, errlen, "cannot initialise libyara");
		return VG_ELIB;
	}
	for (size_t i = 0; i < b->n_files; i++) {
		const struct rules_file *f = &b->files[i];
		YR_RULES *rules;
		struct cerr e;
		size_t bad;

		rc = compile_files(&f, 1, false, &rules, &bad, &e);
		if (rc == VG_EFORMAT) {
			snprintf(err, errlen, "%s:%d: %s", f->name, e.line,
				 e.msg);
			goto out;
		}
		if (rc != 0) {
			snprintf(err, errlen, "%s: %s", f->name,
				 vg_strerror(rc));
			goto out;
		}
		rc = add_rules(rules, f, ents, n, err, errlen);
		yr_rules_destroy(rules);
		if (rc != 0)
			goto out;
	}
	if (*n > 0) /* no rule at all: *ents is still NULL */
		qsort(*ents, *n, sizeof(**ents), cmp_rule_ent);
	rc = find_duplicate(*ents, *n, err, errlen);
out:
	yr_finalize();
	if (rc != 0) {
		rule_ents_free(*ents, *n);
		*ents = NULL;
		*n = 0;
	}
	return rc;
}

int
rules_bundle_compile_ids(struct rules_bundle *b, char *err, size_t errlen)
{
	struct rule_ent *ents;
	size_t n;
	int rc;

	if ((rc = compile_each(b, &ents, &n, err, errlen)) != 0)
		return rc;
	for (size_t i = 0; i < b->n_ids; i++)
		free(b->rule_ids[i]);
	free(b->rule_ids);
	b->rule_ids = xcalloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		b->rule_ids[i] = ents[i].id;
		ents[i].id = NULL;
	}
	b->n_ids = n;
	rule_ents_free(ents, n);
	return 0;
}

int
rules_bundle_build(const char *dir, const char *version, struct rules_bundle *b,
		   char *err, size_t errlen)
{
	int rc;

	if (version == NULL || !rules_version_ok(version)) {
		memset(b, 0, sizeof(*b));
		snprintf(err, errlen,
			 "invalid version '%s' (1 to %d bytes of "
			 "[A-Za-z0-9._-], not starting with '.')",
			 version ? version : "", RULES_VERSION_MAX);
		return VG_EINVAL;
	}
	if ((rc = rules_sources_load(dir, version, b, err, errlen)) != 0)
		return rc;
	if ((rc = rules_bundle_compile_ids(b, err, errlen)) != 0)
		rules_bundle_free(b);
	return rc;
}

int
rules_bundle_encode(const struct rules_bundle *b, char **out, size_t *len)
{
	json_t *doc, *files, *ids;
	int rc = VG_EFORMAT;

	*out = NULL;
	*len = 0;
	if (b->version == NULL || b->rule_ids == NULL)
		return VG_EINVAL;
	doc = json_object();
	files = json_array();
	ids = json_array();
	json_object_set_new(doc, "format", json_string(RULES_BUNDLE_FORMAT));
	json_object_set_new(doc, "version", json_string(b->version));
	for (size_t i = 0; i < b->n_files; i++) {
		json_t *src = json_stringn(b->files[i].source, b->files[i].len);

		if (src == NULL)
			goto out;
		json_array_append_new(files, json_pack("{s:s, s:o}", "name",
						       b->files[i].name,
						       "source", src));
	}
	for (size_t i = 0; i < b->n_ids; i++)
		json_array_append_new(ids, json_string(b->rule_ids[i]));
	json_object_set(doc, "files", files);
	json_object_set(doc, "rule_ids", ids);
	/* Insertion order, compact: the same b is always the same bytes. */
	*out = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (*out == NULL) {
		rc = VG_ENOMEM;
		goto out;
	}
	*len = strlen(*out);
	if (*len > RULES_BUNDLE_MAX) {
		free(*out);
		*out = NULL;
		*len = 0;
		rc = VG_ELIMIT;
		goto out;
	}
	rc = 0;
out:
	json_decref(files);
	json_decref(ids);
	json_decref(doc);
	return rc;
}

static int
parse_files(const json_t *files, struct rules_bundle *b, char *err,
	    size_t errlen)
{
	size_t n = json_array_size(files);
	int rc;

	if (!json_is_array(files) || n == 0) {
		snprintf(err, errlen, "\"files\" is not a non-empty array");
		return VG_EFORMAT;
	}
	if (n > RULES_FILES_MAX) {
		snprintf(err, errlen, "more than %d files", RULES_FILES_MAX);
		return VG_ELIMIT;
	}
	b->files = xcalloc(n, sizeof(*b->files));
	for (size_t i = 0; i < n; i++) {
		const json_t *o = json_array_get(files, i);
		const json_t *name = json_object_get(o, "name");
		const json_t *src = json_object_get(o, "source");
		struct rules_file *f = &b->files[i];

		if (!json_is_object(o) || json_object_size(o) != 2 ||
		    !json_is_string(name) || !json_is_string(src)) {
			snprintf(err, errlen,
				 "files[%zu] is not {\"name\",\"source\"}", i);
			return VG_EFORMAT;
		}
		if (!rules_file_name_ok(json_string_value(name))) {
			snprintf(err, errlen,
				 "files[%zu]: invalid file name '%.140s'", i,
				 json_string_value(name));
			return VG_EFORMAT;
		}
		if (i > 0 && strcmp(b->files[i - 1].name,
				    json_string_value(name)) >= 0) {
			snprintf(err, errlen,
				 "files[%zu]: '%s' is not after '%s' (files "
				 "are sorted, each once)",
				 i, json_string_value(name),
				 b->files[i - 1].name);
			return VG_EFORMAT;
		}
		f->name = xstrdup(json_string_value(name));
		b->n_files++;
		f->len = json_string_length(src);
		if ((rc = source_ok(f->name, json_string_value(src), f->len,
				    err, errlen)) != 0)
			return rc;
		f->source = xmalloc(f->len + 1);
		memcpy(f->source, json_string_value(src), f->len + 1);
	}
	return 0;
}

static int
parse_ids(const json_t *ids, struct rules_bundle *b, char *err, size_t errlen)
{
	size_t n = json_array_size(ids);

	if (!json_is_array(ids)) {
		snprintf(err, errlen, "\"rule_ids\" is not an array");
		return VG_EFORMAT;
	}
	if (n > RULES_IDS_MAX) {
		snprintf(err, errlen, "more than %d rule IDs", RULES_IDS_MAX);
		return VG_ELIMIT;
	}
	b->rule_ids = xcalloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const json_t *s = json_array_get(ids, i);

		if (!json_is_string(s) || json_string_length(s) == 0 ||
		    json_string_length(s) > RULES_NAME_MAX) {
			snprintf(err, errlen,
				 "rule_ids[%zu] is not a rule name", i);
			return VG_EFORMAT;
		}
		if (i > 0 &&
		    strcmp(b->rule_ids[i - 1], json_string_value(s)) >= 0) {
			snprintf(err, errlen,
				 "rule_ids[%zu]: '%.140s' is not after '%s' "
				 "(IDs are sorted, each once)",
				 i, json_string_value(s), b->rule_ids[i - 1]);
			return VG_EFORMAT;
		}
		b->rule_ids[i] = xstrdup(json_string_value(s));
		b->n_ids++;
	}
	return 0;
}

/* Names the first difference between the declared and the compiled IDs. */
static int
compare_ids(char *const *decl, size_t nd, char *const *real, size_t nr,
	    char *err, size_t errlen)
{
	size_t i = 0, j = 0;

	while (i < nd || j < nr) {
		int c = i == nd ? 1 : j == nr ? -1 : strcmp(decl[i], real[j]);

		if (c < 0) {
			snprintf(err, errlen,
				 "rule_ids declares %s, which no source "
				 "defines",
				 decl[i]);
			return VG_EFORMAT;
		}
		if (c > 0) {
			snprintf(err, errlen,
				 "the sources define %s, which rule_ids does "
				 "not declare",
				 real[j]);
			return VG_EFORMAT;
		}
		i++;
		j++;
	}
	return 0;
}

int
rules_bundle_parse(const void *buf, size_t len, struct rules_bundle *b,
		   char *err, size_t errlen)
{
	struct rules_bundle real;
	json_error_t je;
	json_t *doc = NULL;
	const json_t *fmt, *ver;
	int rc = VG_EFORMAT;

	memset(b, 0, sizeof(*b));
	memset(&real, 0, sizeof(real));
	if (errlen)
		err[0] = '\0';
	if (len > RULES_BUNDLE_MAX) {
		snprintf(err, errlen, "bundle larger than %u bytes",
			 RULES_BUNDLE_MAX);
		return VG_ELIMIT;
	}
	/* jansson refuses \u0000 and invalid UTF-8 unless asked not to. */
	doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (doc == NULL) {
		snprintf(err, errlen, "not JSON: line %d: %s", je.line,
			 je.text);
		return VG_EFORMAT;
	}
	fmt = json_object_get(doc, "format");
	ver = json_object_get(doc, "version");
	if (!json_is_object(doc) || json_object_size(doc) != 4 ||
	    !json_is_string(fmt) || !json_is_string(ver) ||
	    json_object_get(doc, "files") == NULL ||
	    json_object_get(doc, "rule_ids") == NULL) {
		snprintf(err, errlen,
			 "not an object of exactly \"format\", \"version\", "
			 "\"files\" and \"rule_ids\"");
		goto out;
	}
	if (strcmp(json_string_value(fmt), RULES_BUNDLE_FORMAT) != 0) {
		snprintf(err, errlen, "format '%.80s' is not %s",
			 json_string_value(fmt), RULES_BUNDLE_FORMAT);
		goto out;
	}
	if (json_string_length(ver) != strlen(json_string_value(ver)) ||
	    !rules_version_ok(json_string_value(ver))) {
		snprintf(err, errlen, "invalid version '%.80s'",
			 json_string_value(ver));
		goto out;
	}
	b->version = xstrdup(json_string_value(ver));
	if ((rc = parse_files(json_object_get(doc, "files"), b, err, errlen)) !=
	    0)
		goto out;
	if ((rc = parse_ids(json_object_get(doc, "rule_ids"), b, err,
			    errlen)) != 0)
		goto out;
	/* What the sources really define, compiled as an endpoint will. */
	real.files = b->files;
	real.n_files = b->n_files;
	if ((rc = rules_bundle_compile_ids(&real, err, errlen)) != 0)
		goto out;
	rc = compare_ids(b->rule_ids, b->n_ids, real.rule_ids, real.n_ids, err,
			 errlen);
out:
	for (size_t i = 0; i < real.n_ids; i++)
		free(real.rule_ids[i]);
	free(real.rule_ids);
	json_decref(doc);
	if (rc != 0)
		rules_bundle_free(b);
	return rc;
}

/* ---- the rule check ---- */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One scanner over the combined rules, and the rules that matched the
 * last file (by index in the rules table). */
struct scan {
	YR_RULES *rules;
	YR_SCANNER *scanner;
	size_t n_rules;
	unsigned char *hit;
	size_t *hits;
	size_t n_hits;
};

enum scan_result {
	SCAN_OK,
	SCAN_NOT_REGULAR,
	SCAN_UNREADABLE,
	SCAN_LARGE,
	SCAN_ERROR,
};

static int
scan_cb(YR_SCAN_CONTEXT *ctx, int message, void *data, void *ud)
{
	struct scan *s = ud;

	(void)ctx;
	if (message == CALLBACK_MSG_RULE_MATCHING) {
		size_t i = (size_t)((YR_RULE *)data - s->rules->rules_table);

		if (i < s->n_rules && !s->hit[i]) {
			s->hit[i] = 1;
			s->hits[s->n_hits++] = i;
		}
	}
	return CALLBACK_CONTINUE;
}

/* Scans one file without following a symbolic link; *size is its size. */
static enum scan_result
scan_file(struct scan *s, const char *path, uint64_t *size)
{
	static const uint8_t empty[1];
	struct stat st;
	void *map = NULL;
	int fd, yr;

	for (size_t i = 0; i < s->n_hits; i++)
		s->hit[s->hits[i]] = 0;
	s->n_hits = 0;
	*size = 0;
	fd = open(path,
		  O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0)
		return errno == ELOOP ? SCAN_NOT_REGULAR : SCAN_UNREADABLE;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return SCAN_UNREADABLE;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return SCAN_NOT_REGULAR;
	}
	if (st.st_size > (off_t)RULES_SCAN_FILE_MAX) {
		close(fd);
		return SCAN_LARGE;
	}
	*size = (uint64_t)st.st_size;
	if (st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
			   0);
		if (map == MAP_FAILED) {
			close(fd);
			return SCAN_UNREADABLE;
		}
	}
	close(fd);
	yr = yr_scanner_scan_mem(s->scanner, map ? map : empty,
				 (size_t)st.st_size);
	if (map != NULL)
		munmap(map, (size_t)st.st_size);
	return yr == ERROR_SUCCESS ? SCAN_OK : SCAN_ERROR;
}

/* What the check knows of one file and of one rule. */
struct cfile {
	const struct rules_file *f;
	bool compiled;
	struct cerr e;
};

struct crule {
	struct rule_ent ent;
	json_t *fixtures; /* [{"name","fired"}] */
	const char *fixture;
	char fixture_buf[RULES_NAME_MAX + 2];
	bool fired;
	uint64_t n_fp;
};

struct check {
	struct cfile *files;
	struct crule *rules;
	size_t n_rules;
	size_t *by_index; /* rules-table index -> index in rules */
	struct scan scan;
	json_t *failures;
};

static void failure(struct check *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
failure(struct check *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(c->failures, json_string(buf));
}

static int
cmp_crule(const void *a, const void *b)
{
	return cmp_rule_ent(&((const struct crule *)a)->ent,
			    &((const struct crule *)b)->ent);
}

/* Compiles each file alone, then the good ones together (a namespace per
 * file), and maps the combined rules onto c->rules. */
static int
check_compile(struct check *c, const struct rules_bundle *b, char *err,
	      size_t errlen)
{
	const struct rules_file **good;
	struct rule_ent *ents = NULL;
	size_t n_ents = 0, n_good = 0, bad;
	const YR_RULE *r;
	struct cerr e;
	int rc = 0;

	good = xcalloc(b->n_files, sizeof(*good));
	for (size_t i = 0; i < b->n_files; i++) {
		const struct rules_file *f = &b->files[i];
		YR_RULES *rules;

		c->files[i].f = f;
		rc = compile_files(&f, 1, true, &rules, &bad, &c->files[i].e);
		if (rc == VG_EFORMAT) {
			failure(c, "%s:%d: %s (the file does not compile)",
				f->name, c->files[i].e.line, c->files[i].e.msg);
			rc = 0;
			continue;
		}
		if (rc != 0) {
			snprintf(err, errlen, "%s: %s", f->name,
				 vg_strerror(rc));
			goto out;
		}
		c->files[i].compiled = true;
		good[n_good++] = f;
		rc = add_rules(rules, f, &ents, &n_ents, err, errlen);
		yr_rules_destroy(rules);
		if (rc != 0)
			goto out;
	}
	c->rules = xcalloc(n_ents ? n_ents : 1, sizeof(*c->rules));
	for (size_t i = 0; i < n_ents; i++) {
		c->rules[i].ent = ents[i];
		c->rules[i].fixtures = json_array();
	}
	c->n_rules = n_ents;
	free(ents);
	ents = NULL;
	n_ents = 0;
	qsort(c->rules, c->n_rules, sizeof(*c->rules), cmp_crule);
	for (size_t i = 1; i < c->n_rules; i++)
		if (strcmp(c->rules[i - 1].ent.id, c->rules[i].ent.id) == 0)
			failure(c, "rule %s is defined in both %s and %s",
				c->rules[i].ent.id, c->rules[i - 1].ent.file,
				c->rules[i].ent.file);

	rc = compile_files(good, n_good, true, &c->scan.rules, &bad, &e);
	if (rc != 0) {
		snprintf(err, errlen,
			 "the rule files that compile alone do not compile "
			 "together: %s:%d: %s",
			 rc == VG_EFORMAT ? good[bad]->name : "", e.line,
			 e.msg);
		rc = VG_ELIB;
		goto out;
	}
	c->scan.n_rules = c->scan.rules->num_rules;
	c->scan.hit = xcalloc(c->scan.n_rules + 1, 1);
	c->scan.hits = xcalloc(c->scan.n_rules + 1, sizeof(size_t));
	c->by_index = xcalloc(c->scan.n_rules + 1, sizeof(size_t));
	yr_rules_foreach(c->scan.rules, r)
	{
		size_t idx = (size_t)(r - c->scan.rules->rules_table);
		struct crule key = {.ent = {.id = (char *)r->identifier,
					    .file = r->ns->name}};
		struct crule *m = bsearch(&key, c->rules, c->n_rules,
					  sizeof(*c->rules), cmp_crule);

		if (m == NULL || idx >= c->scan.n_rules) {
			snprintf(err, errlen, "rule %s:%s not found again",
				 r->ns->name, r->identifier);
			rc = VG_ELIB;
			goto out;
		}
		c->by_index[idx] = (size_t)(m - c->rules);
	}
	if (yr_scanner_create(c->scan.rules, &c->scan.scanner) !=
	    ERROR_SUCCESS) {
		rc = VG_ENOMEM;
		goto out;
	}
	yr_scanner_set_callback(c->scan.scanner, scan_cb, &c->scan);
	yr_scanner_set_timeout(c->scan.scanner, SCAN_TIMEOUT_S);
out:
	rule_ents_free(ents, n_ents);
	free(good);
	return rc;
}

/* Does rule ri fire on fixture path? Records it under name. */
static bool
fixture_fires(struct check *c, size_t ri, const char *path, const char *name)
{
	struct crule *cr = &c->rules[ri];
	enum scan_result sr;
	uint64_t size;
	bool fired = false;

	sr = scan_file(&c->scan, path, &size);
	if (sr == SCAN_OK) {
		for (size_t i = 0; i < c->scan.n_hits; i++)
			if (c->by_index[c->scan.hits[i]] == ri)
				fired = true;
		if (!fired)
			failure(c,
				"rule %s (%s) does not fire on its fixture %s",
				cr->ent.id, cr->ent.file, name);
	} else {
		failure(c, "rule %s (%s): fixture %s cannot be scanned (%s)",
			cr->ent.id, cr->ent.file, name,
			sr == SCAN_LARGE         ? "too large"
			: sr == SCAN_NOT_REGULAR ? "not a regular file"
			: sr == SCAN_ERROR       ? "scan error"
						 : "unreadable");
	}
	json_array_append_new(cr->fixtures, json_pack("{s:s, s:b}", "name",
						      name, "fired", fired));
	return fired;
}

static void
check_fixture(struct check *c, size_t ri, const char *dir)
{
	struct crule *cr = &c->rules[ri];
	char *path = xasprintf("%s/%s", dir, cr->ent.id);
	char **names = NULL;
	size_t n = 0;
	struct stat st;
	struct dirent *de;
	DIR *d;

	if (lstat(path, &st) != 0) {
		failure(c, "rule %s (%s) has no fixture (%s: %s)", cr->ent.id,
			cr->ent.file, path, strerror(errno));
		goto out;
	}
	if (S_ISREG(st.st_mode)) {
		cr->fixture = cr->ent.id;
		cr->fired = fixture_fires(c, ri, path, cr->ent.id);
		goto out;
	}
	if (!S_ISDIR(st.st_mode) || (d = opendir(path)) == NULL) {
		failure(c,
			"rule %s (%s) has no fixture (%s is neither a "
			"regular file nor a readable directory)",
			cr->ent.id, cr->ent.file, path);
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	snprintf(cr->fixture_buf, sizeof(cr->fixture_buf), "%s/", cr->ent.id);
	cr->fixture = cr->fixture_buf;
	if (n == 0)
		failure(c, "rule %s (%s) has no fixture (%s/ is empty)",
			cr->ent.id, cr->ent.file, path);
	cr->fired = n > 0;
	for (size_t i = 0; i < n; i++) {
		char *p = xasprintf("%s/%s", path, names[i]);
		char *nm = xasprintf("%s/%s", cr->ent.id, names[i]);

		/* Every file there is a positive fixture: each must fire. */
		if (!fixture_fires(c, ri, p, nm))
			cr->fired = false;
		free(p);
		free(nm);
		free(names[i]);
	}
	free(names);
out:
	free(path);
}

struct corpus {
	uint64_t files, bytes, unreadable, large, errors, n_fp;
	json_t *fp; /* [{"rule","path"}] */
};

static int
fts_cmp(const FTSENT **a, const FTSENT **b)
{
	return strcmp((*a)->fts_name, (*b)->fts_name);
}

static int
check_corpus_dir(struct check *c, const char *dir, struct corpus *co, char *err,
		 size_t errlen)
{
	char *paths[2] = {(char *)dir, NULL};
	FTSENT *e;
	FTS *fts;

	fts = fts_open(paths, FTS_PHYSICAL | FTS_COMFOLLOW | FTS_NOCHDIR,
		       fts_cmp);
	if (fts == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return VG_EIO;
	}
	while ((e = fts_read(fts)) != NULL) {
		enum scan_result sr;
		uint64_t size;

		switch (e->fts_info) {
		case FTS_F: break;
		case FTS_DNR:
		case FTS_ERR:
		case FTS_NS:
			if (e->fts_level == 0) {
				snprintf(err, errlen, "%s: %s", dir,
					 strerror(e->fts_errno));
				fts_close(fts);
				return VG_EIO;
			}
			co->unreadable++;
			continue;
		default: continue; /* directories, links, devices */
		}
		if (e->fts_statp->st_size > (off_t)RULES_SCAN_FILE_MAX) {
			co->large++;
			continue;
		}
		sr = scan_file(&c->scan, e->fts_path, &size);
		switch (sr) {
		case SCAN_OK: break;
		case SCAN_NOT_REGULAR: continue;
		case SCAN_UNREADABLE: co->unreadable++; continue;
		case SCAN_LARGE: co->large++; continue;
		case SCAN_ERROR: co->errors++; break;
		}
		co->files++;
		co->bytes += size;
		for (size_t i = 0; i < c->scan.n_hits; i++) {
			struct crule *cr =
				&c->rules[c->by_index[c->scan.hits[i]]];

			cr->n_fp++;
			if (co->n_fp++ < RULES_FP_LIST_MAX)
				json_array_append_new(
					co->fp, json_pack("{s:s, s:s}", "rule",
							  cr->ent.id, "path",
							  e->fts_path));
		}
	}
	fts_close(fts);
	return 0;
}

static json_t *
report_files(const struct check *c, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		const struct cfile *f = &c->files[i];

		json_array_append_new(
			a,
			json_pack("{s:s, s:b, s:o}", "name", f->f->name,
				  "compiled", f->compiled, "error",
				  f->compiled ? json_null()
					      : json_pack("{s:i, s:s}", "line",
							  f->e.line, "message",
							  f->e.msg)));
	}
	return a;
}

static json_t *
report_rules(const struct check *c)
{
	json_t *a = json_array();

	for (size_t i = 0; i < c->n_rules; i++) {
		const struct crule *r = &c->rules[i];

		json_array_append_new(
			a,
			json_pack("{s:s, s:s, s:b, s:b, s:s?, s:O, s:b, s:I}",
				  "id", r->ent.id, "file", r->ent.file,
				  "compiled", 1, "private", r->ent.private_,
				  "fixture", r->fixture, "fixtures",
				  r->fixtures, "fired_on_fixture", r->fired,
				  "false_positives", (json_int_t)r->n_fp));
	}
	return a;
}

int
rules_check(const struct rules_bundle *b, const char *fixtures_dir,
	    const char *const *corpus, size_t n_corpus, json_t **report,
	    bool *pass, char *err, size_t errlen)
{
	struct check c;
	struct corpus co;
	uint64_t t0 = now_ms(), t1 = t0, t2 = t0, t3 = t0;
	json_t *dirs = json_array();
	int rc;

	*report = NULL;
	*pass = false;
	if (errlen)
		err[0] = '\0';
	memset(&c, 0, sizeof(c));
	memset(&co, 0, sizeof(co));
	co.fp = json_array();
	c.failures = json_array();
	c.files = xcalloc(b->n_files ? b->n_files : 1, sizeof(*c.files));
	if (yr_initialize() != ERROR_SUCCESS) {
		snprintf(err, errlen, "cannot initialise libyara");
		rc = VG_ELIB;
		goto out_nofin;
	}
	if ((rc = check_compile(&c, b, err, errlen)) != 0)
		goto out;
	t1 = now_ms();
	for (size_t i = 0; i < c.n_rules; i++) {
		/* A private rule never reports a match of its own. */
		if (c.rules[i].ent.private_)
			continue;
		check_fixture(&c, i, fixtures_dir);
	}
	t2 = now_ms();
	for (size_t i = 0; i < n_corpus; i++) {
		json_array_append_new(dirs, json_string(corpus[i]));
		if ((rc = check_corpus_dir(&c, corpus[i], &co, err, errlen)) !=
		    0)
			goto out;
	}
	for (size_t i = 0; i < c.n_rules; i++)
		if (c.rules[i].n_fp > 0)
			failure(&c,
				"rule %s (%s) fires on %llu file(s) of the "
				"known-good corpus",
				c.rules[i].ent.id, c.rules[i].ent.file,
				(unsigned long long)c.rules[i].n_fp);
	t3 = now_ms();
	*pass = json_array_size(c.failures) == 0;
	*report = json_pack(
		"{s:s, s:s?, s:b, s:O, s:o, s:o, "
		"s:{s:O, s:I, s:I, s:I, s:I, s:I, s:I, s:O}, "
		"s:{s:I, s:I, s:I, s:I}}",
		"format", RULES_CHECK_FORMAT, "version", b->version, "pass",
		*pass, "failures", c.failures, "files",
		report_files(&c, b->n_files), "rules", report_rules(&c),
		"corpus", "directories", dirs, "files_scanned",
		(json_int_t)co.files, "bytes_scanned", (json_int_t)co.bytes,
		"skipped_unreadable", (json_int_t)co.unreadable,
		"skipped_large", (json_int_t)co.large, "scan_errors",
		(json_int_t)co.errors, "false_positives", (json_int_t)co.n_fp,
		"false_positive_list", co.fp, "timing", "compile_ms",
		(json_int_t)(t1 - t0), "fixtures_ms", (json_int_t)(t2 - t1),
		"corpus_ms", (json_int_t)(t3 - t2), "total_ms",
		(json_int_t)(t3 - t0));
	if (*report == NULL) {
		snprintf(err, errlen, "cannot build the report");
		rc = VG_ENOMEM;
	}
out:
	if (c.scan.scanner != NULL)
		yr_scanner_destroy(c.scan.scanner);
	if (c.scan.rules != NULL)
		yr_rules_destroy(c.scan.rules);
	yr_finalize();
out_nofin:
	for (size_t i = 0; i < c.n_rules; i++) {
		free(c.rules[i].ent.id);
		json_decref(c.rules[i].fixtures);
	}
	free(c.rules);
	free(c.files);
	free(c.by_index);
	free(c.scan.hit);
	free(c.scan.hits);
	json_decref(c.failures);
	json_decref(co.fp);
	json_decref(dirs);
	if (rc != 0)
		*pass = false;
	return rc;
}

/* ---- installing ---- */

/* Removes directory name of dfd and the files in it (not recursing: a
 * rules directory is flat). Best effort. */
static void
remove_flat_dir(int dfd, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		unlinkat(dfd, name, 0);
		return;
	}
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			unlinkat(fd, de->d_name, 0);
	closedir(d);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

int
rules_installed_version(const char *home, char *buf, size_t len)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	if (snprintf(link, sizeof(link), "%s/rules", home) >= (int)sizeof(link))
		return VG_EINVAL;
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return errno == ENOENT   ? VG_ENOENT
		       : errno == EINVAL ? VG_ETYPE
					 : VG_EIO;
	target[n] = '\0';
	if (strncmp(target, "rules.d/", 8) != 0 ||
	    !rules_version_ok(target + 8))
		return VG_ECORRUPT;
	if (strlen(target + 8) >= len)
		return VG_EINVAL;
	memcpy(buf, target + 8, strlen(target + 8) + 1);
	return 0;
}

/* Writes b's files into directory fd, each fsync'd, then the directory. */
static int
write_files(int fd, const char *dir, const struct rules_bundle *b, char *err,
	    size_t errlen)
{
	for (size_t i = 0; i < b->n_files; i++) {
		const struct rules_file *f = &b->files[i];
		int ffd;

		if (!rules_file_name_ok(f->name)) {
			snprintf(err, errlen, "invalid file name '%.140s'",
				 f->name);
			return VG_EFORMAT;
		}
		ffd = openat(fd, f->name,
			     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				     O_CLOEXEC,
			     0644);
		if (ffd < 0 || io_write_all(ffd, f->source, f->len) != 0 ||
		    io_fsync(ffd) != 0) {
			snprintf(err, errlen, "%s/%s: %s", dir, f->name,
				 strerror(errno));
			if (ffd >= 0)
				close(ffd);
			return VG_EIO;
		}
		if (close(ffd) != 0) {
			snprintf(err, errlen, "%s/%s: %s", dir, f->name,
				 strerror(errno));
			return VG_EIO;
		}
	}
	if (io_fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return VG_EIO;
	}
	return 0;
}

/* Compiles the files written to dir as the engine will (one set, one
 * namespace) and checks their rules are b's rule IDs. */
static int
compile_written(const char *dir, const struct rules_bundle *b, char *err,
		size_t errlen)
{
	YR_COMPILER *c = NULL;
	YR_RULES *rules = NULL;
	const YR_RULE *r;
	struct cerr e;
	char **ids = NULL;
	size_t n = 0;
	int rc = 0;

	memset(&e, 0, sizeof(e));
	if (yr_initialize() != ERROR_SUCCESS) {
		snprintf(err, errlen, "cannot initialise libyara");
		return VG_ELIB;
	}
	if (yr_compiler_create(&c) != ERROR_SUCCESS) {
		rc = VG_ENOMEM;
		goto out;
	}
	yr_compiler_set_callback(c, compile_cb, &e);
	yr_compiler_set_include_callback(c, no_include, no_include_free, NULL);
	for (size_t i = 0; i < b->n_files; i++) {
		char *path = xasprintf("%s/%s", dir, b->files[i].name);
		FILE *f = fopen(path, "r");

		free(path);
		if (f == NULL) {
			snprintf(err, errlen, "%s/%s: %s", dir,
				 b->files[i].name, strerror(errno));
			rc = VG_EIO;
			goto out;
		}
		yr_compiler_add_file(c, f, NULL, b->files[i].name);
		fclose(f);
		if (e.errors) {
			snprintf(err, errlen, "%s:%d: %s", b->files[i].name,
				 e.line, e.msg);
			rc = VG_EFORMAT;
			goto out;
		}
	}
	if (yr_compiler_get_rules(c, &rules) != ERROR_SUCCESS) {
		rc = VG_ENOMEM;
		goto out;
	}
	if (b->rule_ids == NULL)
		goto out;
	yr_rules_foreach(rules, r)
	{
		ids = xreallocarray(ids, n + 1, sizeof(*ids));
		ids[n++] = (char *)r->identifier;
	}
	qsort(ids, n, sizeof(*ids), cmp_str);
	rc = compare_ids(b->rule_ids, b->n_ids, ids, n, err, errlen);
out:
	free(ids);
	if (rules != NULL)
		yr_rules_destroy(rules);
	if (c != NULL)
		yr_compiler_destroy(c);
	yr_finalize();
	return rc;
}

/* Removes every entry of rules.d but keep1 and keep2 (either may be
 * empty). Best effort: what stays behind costs only space. */
static void
prune(int dfd, const char *keep1, const char *keep2)
{
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	DIR *d;
	int fd = dup(dfd);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, keep1) == 0 ||
		    strcmp(de->d_name, keep2) == 0)
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		remove_flat_dir(dfd, names[i]);
		free(names[i]);
	}
	free(names);
	io_fsync(dfd);
}

int
rules_install(const struct rules_bundle *b, const char *home, char *err,
	      size_t errlen)
{
	char dir[PATH_MAX], tmpdir[PATH_MAX], link[PATH_MAX], newlink[PATH_MAX],
		target[PATH_MAX], cur[RULES_VERSION_MAX + 1];
	const char *tmpname = NULL;
	struct stat st;
	int dfd = -1, tfd = -1, rc, vr;

	if (errlen)
		err[0] = '\0';
	cur[0] = '\0';
	if (b->version == NULL || !rules_version_ok(b->version) ||
	    b->n_files == 0) {
		snprintf(err, errlen, "not a valid bundle (version, files)");
		return VG_EINVAL;
	}
	if (snprintf(dir, sizeof(dir), "%s/rules.d", home) >=
		    (int)sizeof(dir) ||
	    snprintf(link, sizeof(link), "%s/rules", home) >=
		    (int)sizeof(link) ||
	    snprintf(newlink, sizeof(newlink), "%s/.rules.new", home) >=
		    (int)sizeof(newlink) ||
	    snprintf(tmpdir, sizeof(tmpdir), "%s/.new-XXXXXX", dir) >=
		    (int)sizeof(tmpdir)) {
		snprintf(err, errlen, "%s: path too long", home);
		return VG_EINVAL;
	}
	if (mkdir(home, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", home, strerror(errno));
		return VG_EIO;
	}
	rc = io_dir_open(dir, "another rule install is running", &dfd, err,
			 errlen);
	if (rc != 0)
		return rc;
	if (lstat(link, &st) == 0 && !S_ISLNK(st.st_mode)) {
		snprintf(err, errlen,
			 "%s is not a symbolic link; move it away to install "
			 "rules there",
			 link);
		rc = VG_EINVAL;
		goto out;
	}
	vr = rules_installed_version(home, cur, sizeof(cur));
	if (vr != 0 && vr != VG_ENOENT) {
		/* A link we did not make: replaced below, not followed. */
		cur[0] = '\0';
	}
	if (strcmp(cur, b->version) == 0) {
		snprintf(err, errlen, "version %s is already installed",
			 b->version);
		rc = VG_EINVAL;
		goto out;
	}

	/* 1. The sources, durable, in a directory of their own. */
	if (mkdtemp(tmpdir) == NULL) {
		snprintf(err, errlen, "%s: %s", tmpdir, strerror(errno));
		rc = VG_EIO;
		goto out;
	}
	tmpname = strrchr(tmpdir, '/') + 1;
	tfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0) {
		snprintf(err, errlen, "%s: %s", tmpdir, strerror(errno));
		rc = VG_EIO;
		goto out;
	}
	if ((rc = write_files(tfd, tmpdir, b, err, errlen)) != 0)
		goto out;

	/* 2. They compile, from what was written, to the declared rules. */
	if ((rc = compile_written(tmpdir, b, err, errlen)) != 0) {
		char why[600];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen,
			 "the rules of version %s do not compile: %s",
			 b->version, why);
		goto out;
	}

	/* 3. Under their version's name (a leftover of an install that
	 * never switched is replaced). */
	if (fstatat(dfd, b->version, &st, AT_SYMLINK_NOFOLLOW) == 0)
		remove_flat_dir(dfd, b->version);
	if (renameat(dfd, tmpname, dfd, b->version) != 0) {
		snprintf(err, errlen, "%s/%s: %s", dir, b->version,
			 strerror(errno));
		rc = VG_EIO;
		goto out;
	}
	tmpname = NULL;
	if (io_fsync(dfd) != 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		rc = VG_EIO;
		goto out;
	}

	/* 4. The switch: one rename of a new link over the old one. */
	snprintf(target, sizeof(target), "rules.d/%s", b->version);
	unlink(newlink);
	if (symlink(target, newlink) != 0 || rename(newlink, link) != 0) {
		snprintf(err, errlen, "%s: %s", link, strerror(errno));
		unlink(newlink);
		remove_flat_dir(dfd, b->version);
		rc = VG_EIO;
		goto out;
	}
	if (io_fsync_parent(link) != 0) {
		/* The switch happened; it may not survive a crash. */
		snprintf(err, errlen, "%s: cannot sync: %s", home,
			 strerror(errno));
		rc = VG_EIO;
		goto out;
	}

	/* 5. One version back is kept, for a manual rollback. */
	prune(dfd, b->version, cur);
out:
	if (tfd >= 0)
		close(tfd);
	if (tmpname != NULL)
		remove_flat_dir(dfd, tmpname);
	if (dfd >= 0)
		close(dfd); /* releases the lock */
	return rc;
}
