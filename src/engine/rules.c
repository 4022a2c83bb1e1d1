/*
 * rules.c - compiling YARA rule files and indexing their meta; see rules.h.
 */
#include "engine/rules.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/xmalloc.h"

/* The first compiler error of the file being added, for its quarantine. */
struct errbuf {
	char buf[RULES_REASON_MAX];
	int errors;
};

static void
compiler_cb(int level, const char *file, int line, const YR_RULE *rule,
	    const char *message, void *ud)
{
	struct errbuf *e = ud;

	(void)file;
	(void)rule;
	if (level != YARA_ERROR_LEVEL_ERROR)
		return;
	if (e->errors++ == 0)
		snprintf(e->buf, sizeof(e->buf), "line %d: %s", line,
			 message ? message : "error");
}

int
rules_severity_score(const char *s)
{
	static const struct {
		const char *word;
		int score;
	} map[] = {
		{"info", 0},  {"low", 25},       {"medium", 50},
		{"high", 80}, {"critical", 100},
	};

	if (s == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(s, map[i].word) == 0)
			return map[i].score;
	return -1;
}

static bool
has_rule_ext(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot != NULL &&
	       (strcmp(dot, ".yar") == 0 || strcmp(dot, ".yara") == 0);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends path, or the rule files of directory path, to *files. */
static int
collect(const char *path, char ***files, size_t *n, char *err, size_t errlen)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	size_t first = *n;

	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return VG_EIO;
	}
	if (!S_ISDIR(st.st_mode)) {
		*files = xreallocarray(*files, *n + 1, sizeof(char *));
		(*files)[(*n)++] = xstrdup(path);
		return 0;
	}
	if ((d = opendir(path)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return VG_EIO;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !has_rule_ext(de->d_name))
			continue;
		if (*n >= RULES_MAX_FILES) {
			closedir(d);
			snprintf(err, errlen, "%s: more than %d rule files",
				 path, RULES_MAX_FILES);
			return VG_ELIMIT;
		}
		*files = xreallocarray(*files, *n + 1, sizeof(char *));
		(*files)[(*n)++] = xasprintf("%s/%s", path, de->d_name);
	}
	closedir(d);
	qsort(*files + first, *n - first, sizeof(char *), cmp_str);
	return 0;
}

static void
index_meta(struct ruleset *rs)
{
	const YR_RULE *r;
	size_t n = 0;

	yr_rules_foreach(rs->rules, r) n++;
	rs->n_rules = n;
	rs->info = xcalloc(n ? n : 1, sizeof(*rs->info));
	n = 0;
	yr_rules_foreach(rs->rules, r)
	{
		struct rule_info *ri = &rs->info[n++];
		const YR_META *m;
		int sev = -1, score = -1;

		ri->name = r->identifier;
		yr_rule_metas_foreach(r, m)
		{
			const char *k = m->identifier;

			if (m->type == META_TYPE_STRING) {
				if (strcmp(k, "id") == 0)
					ri->id = m->string;
				else if (strcmp(k, "category") == 0)
					ri->category = m->string;
				else if (strcmp(k, "description") == 0)
					ri->description = m->string;
				else if (strcmp(k, "severity") == 0)
					sev = rules_severity_score(m->string);
				else if (strcmp(k, "score") == 0)
					score = atoi(m->string);
			} else if (m->type == META_TYPE_INTEGER) {
				if (strcmp(k, "score") == 0)
					score = (int)m->integer;
				else if (strcmp(k, "severity") == 0)
					sev = (int)m->integer;
			}
		}
		/* A rule with neither meta is an analyst's rule without a
		 * stated weight: treat it as medium, never as silent. */
		ri->score = score >= 0 ? score : sev >= 0 ? sev : 50;
		if (ri->score > 100)
			ri->score = 100;
	}
}

static void
quarantine(struct ruleset *rs, const char *file, const char *reason)
{
	struct rule_quarantine *q;

	rs->quarantined = xreallocarray(rs->quarantined, rs->n_quarantined + 1,
					sizeof(*rs->quarantined));
	q = &rs->quarantined[rs->n_quarantined++];
	q->file = xstrdup(file);
	q->reason = xstrdup(reason);
}

/*
 * One attempt at compiling every file not yet quarantined, in order. YARA
 * refuses any further file once one has failed, so the first file that
 * fails is quarantined and the attempt ends: 1 means "start again without
 * it". 0: every file went in and *c holds them.
 */
static int
compile_pass(YR_COMPILER **c, char **files, size_t nfiles, bool *out,
	     struct ruleset *rs)
{
	struct errbuf eb;

	if (yr_compiler_create(c) != ERROR_SUCCESS)
		return VG_ENOMEM;
	memset(&eb, 0, sizeof(eb));
	yr_compiler_set_callback(*c, compiler_cb, &eb);
	for (size_t i = 0; i < nfiles; i++) {
		struct stat st;
		FILE *f;

		if (out[i])
			continue;
		if ((f = fopen(files[i], "r")) == NULL) {
			quarantine(rs, files[i], strerror(errno));
			out[i] = true;
			continue;
		}
		/* libyara's scanner fails on a read error (a directory) and
		 * leaks its buffer: only regular files go in. */
		if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
			fclose(f);
			quarantine(rs, files[i], "not a regular file");
			out[i] = true;
			continue;
		}
		yr_compiler_add_file(*c, f, NULL, files[i]);
		fclose(f);
		if (eb.errors) {
			quarantine(rs, files[i], eb.buf);
			out[i] = true;
			yr_compiler_destroy(*c);
			*c = NULL;
			return 1;
		}
	}
	return 0;
}

int
ruleset_compile(const char *const *paths, size_t n, struct ruleset *out,
		char *err, size_t errlen)
{
	YR_COMPILER *c = NULL;
	char **files = NULL;
	bool *left_out = NULL;
	size_t nfiles = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((rc = collect(paths[i], &files, &nfiles, err, errlen)) != 0)
			goto out;
	left_out = xcalloc(nfiles ? nfiles : 1, sizeof(*left_out));
	/* Each pass either succeeds or quarantines one more file: at most
	 * nfiles + 1 passes. */
	while ((rc = compile_pass(&c, files, nfiles, left_out, out)) == 1)
		;
	if (rc != 0)
		goto out;
	if (yr_compiler_get_rules(c, &out->rules) != ERROR_SUCCESS) {
		rc = VG_ENOMEM;
		goto out;
	}
	index_meta(out);
out:
	if (c != NULL)
		yr_compiler_destroy(c);
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	free(left_out);
	if (rc != 0)
		ruleset_free(out);
	return rc;
}

/* Every compiler error of a rule given as text, "(rules):line: message",
 * "; " apart, as many as fit. */
struct textbuf {
	char *buf;
	size_t len, used;
	int errors;
};

static void
text_compiler_cb(int level, const char *file, int line, const YR_RULE *rule,
		 const char *message, void *ud)
{
	struct textbuf *e = ud;
	int n;

	(void)rule;
	if (level != YARA_ERROR_LEVEL_ERROR)
		return;
	e->errors++;
	if (e->used + 1 >= e->len)
		return;
	n = snprintf(e->buf + e->used, e->len - e->used, "%s%s:%d: %s",
		     e->used ? "; " : "", file ? file : "(rules)", line,
		     message ? message : "error");
	if (n > 0)
		e->used += (size_t)n < e->len - e->used ? (size_t)n
							: e->len - e->used - 1;
}

int
ruleset_compile_text(const char *text, size_t len, struct ruleset *out,
		     char *err, size_t errlen)
{
	YR_COMPILER *c = NULL;
	struct textbuf eb = {err, errlen, 0, 0};
	char *src = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "the rule holds a NUL byte");
		return VG_EINVAL;
	}
	src = xmalloc(len + 1);
	memcpy(src, text, len);
	src[len] = '\0';
	if (yr_compiler_create(&c) != ERROR_SUCCESS) {
		rc = VG_ENOMEM;
		goto out;
	}
	yr_compiler_set_callback(c, text_compiler_cb, &eb);
	/* No callback: YARA refuses every include ("includes are
	 * disabled"), so the text cannot name a file to read. */
	yr_compiler_set_include_callback(c, NULL, NULL, NULL);
	yr_compiler_add_string(c, src, NULL);
	if (eb.errors) {
		rc = VG_EFORMAT;
		goto out;
	}
	if (yr_compiler_get_rules(c, &out->rules) != ERROR_SUCCESS) {
		rc = VG_ENOMEM;
		goto out;
	}
	index_meta(out);
out:
	if (c != NULL)
		yr_compiler_destroy(c);
	free(src);
	return rc;
}

void
ruleset_free(struct ruleset *rs)
{
	if (rs == NULL)
		return;
	if (rs->rules != NULL)
		yr_rules_destroy(rs->rules);
	free(rs->info);
	for (size_t i = 0; i < rs->n_quarantined; i++) {
		free(rs->quarantined[i].file);
		free(rs->quarantined[i].reason);
	}
	free(rs->quarantined);
	memset(rs, 0, sizeof(*rs));
}

const struct rule_info *
ruleset_info(const struct ruleset *rs, const YR_RULE *r)
{
	size_t i = (size_t)(r - rs->rules->rules_table);

	return i < rs->n_rules ? &rs->info[i] : NULL;
}
