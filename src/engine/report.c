/*
 * report.c - building a report, the verdict policy, and its JSON form.
 *
 * The verdict policy and the JSON layout are specified in docs/REPORT.md;
 * keep the three in step.
 */
#include "engine/report.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "common/xmalloc.h"
#include "engine/digest.h"
#include "engine/limits.h"

/* Verdict thresholds and the corroboration bonus (docs/REPORT.md). */
#define SCORE_MALICIOUS       70
#define SCORE_SUSPICIOUS      40
#define SCORE_CORROBORATE     10 /* per further distinct detection >= 25 */
#define SCORE_CORROBORATE_MIN 25
#define SCORE_LIMIT           50 /* a limit hit or incomplete decomposition */

struct report *
report_new(const char *path)
{
	struct report *r = xcalloc(1, sizeof(*r));

	r->path = xstrdup(path ? path : "(buffer)");
	return r;
}

static void
free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
report_free(struct report *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_objects; i++) {
		struct object *o = &r->objects[i];

		free(o->name);
		free(o->cl_type);
		free(o->mime);
		free(o->magic);
		free(o->ssdeep);
		for (size_t j = 0; j < o->n_matches; j++) {
			free(o->matches[j].name);
			free(o->matches[j].rule_id);
			free(o->matches[j].category);
			free(o->matches[j].description);
		}
		free(o->matches);
		free_strv(o->problems, o->n_problems);
	}
	free(r->objects);
	free_strv(r->problems, r->n_problems);
	free_strv(r->detections, r->n_detections);
	free(r->path);
	free(r);
}

struct object *
report_add_object(struct report *r)
{
	struct object *o;

	if (r->n_objects == r->cap_objects) {
		r->cap_objects = r->cap_objects ? r->cap_objects * 2 : 8;
		r->objects = xreallocarray(r->objects, r->cap_objects,
					   sizeof(*r->objects));
	}
	o = &r->objects[r->n_objects];
	memset(o, 0, sizeof(*o));
	o->index = (uint32_t)r->n_objects++;
	o->parent = -1;
	return o;
}

struct match *
object_add_match(struct object *o, enum match_source src, const char *name,
		 const char *rule_id, const char *category,
		 const char *description, int score)
{
	struct match *m;

	for (size_t i = 0; i < o->n_matches; i++)
		if (strcmp(o->matches[i].name, name) == 0)
			return &o->matches[i];
	if (o->n_matches == o->cap_matches) {
		o->cap_matches = o->cap_matches ? o->cap_matches * 2 : 4;
		o->matches = xreallocarray(o->matches, o->cap_matches,
					   sizeof(*o->matches));
	}
	m = &o->matches[o->n_matches++];
	m->name = xstrdup(name);
	m->rule_id = xstrdup(rule_id);
	m->category = xstrdup(category);
	m->description = xstrdup(description);
	m->source = src;
	m->score = score < 0 ? 0 : score > 100 ? 100 : score;
	return m;
}

static bool
strv_has(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

void
report_add_problem(struct report *r, const char *text)
{
	if (strv_has(r->problems, r->n_problems, text))
		return;
	r->problems =
		xreallocarray(r->problems, r->n_problems + 1, sizeof(char *));
	r->problems[r->n_problems++] = xstrdup(text);
}

/* The object obj names, or object 0 (the file) for anything else; NULL
 * while the report has no object yet. */
static struct object *
object_at(struct report *r, int32_t obj)
{
	if (r->n_objects == 0)
		return NULL;
	if (obj < 0 || (size_t)obj >= r->n_objects)
		obj = 0;
	return &r->objects[obj];
}

void
report_add_problem_at(struct report *r, int32_t obj, const char *text)
{
	struct object *o = object_at(r, obj);

	report_add_problem(r, text);
	if (o == NULL || strv_has(o->problems, o->n_problems, text))
		return;
	o->problems =
		xreallocarray(o->problems, o->n_problems + 1, sizeof(char *));
	o->problems[o->n_problems++] = xstrdup(text);
}

void
report_hit_limit_at(struct report *r, int32_t obj, enum vg_limit_kind k)
{
	struct object *o = object_at(r, obj);

	r->limits_hit |= (uint32_t)k;
	if (o != NULL)
		o->limits_hit |= (uint32_t)k;
}

enum verdict
verdict_from_score(int score)
{
	if (score >= SCORE_MALICIOUS)
		return VERDICT_MALICIOUS;
	if (score >= SCORE_SUSPICIOUS)
		return VERDICT_SUSPICIOUS;
	return VERDICT_CLEAN;
}

const char *
verdict_name(enum verdict v)
{
	switch (v) {
	case VERDICT_CLEAN: return "clean";
	case VERDICT_SUSPICIOUS: return "suspicious";
	case VERDICT_MALICIOUS: return "malicious";
	case VERDICT_UNKNOWN: break;
	}
	return "unknown";
}

static const char *
source_name(enum match_source s)
{
	switch (s) {
	case MATCH_YARA: return "yara";
	case MATCH_HASH: return "hash";
	case MATCH_LIMIT: return "limit";
	case MATCH_DECOMPOSE: return "decompose";
	}
	return "unknown";
}

void
report_decide(struct report *r)
{
	int best = 0, extra = 0;

	free_strv(r->detections, r->n_detections);
	r->detections = NULL;
	r->n_detections = 0;
	/* Limits and problems are detections of the file itself. */
	if (r->n_objects > 0) {
		for (int k = 0; k < VG_LIMIT_KIND_COUNT; k++) {
			if (!(r->limits_hit & (1u << k)))
				continue;
			char *name = xasprintf("Limits.Exceeded.%s",
					       limits_kind_name(1u << k));
			object_add_match(&r->objects[0], MATCH_LIMIT, name,
					 NULL, "limit",
					 "a scan limit was reached; "
					 "the file was not fully analysed",
					 SCORE_LIMIT);
			free(name);
		}
		if (r->n_problems > 0)
			object_add_match(&r->objects[0], MATCH_DECOMPOSE,
					 "Decompose.Incomplete", NULL, "limit",
					 r->problems[0], SCORE_LIMIT);
	}
	for (size_t i = 0; i < r->n_objects; i++) {
		const struct object *o = &r->objects[i];

		for (size_t j = 0; j < o->n_matches; j++) {
			const struct match *m = &o->matches[j];

			if (strv_has(r->detections, r->n_detections, m->name))
				continue;
			r->detections = xreallocarray(r->detections,
						      r->n_detections + 1,
						      sizeof(char *));
			r->detections[r->n_detections++] = xstrdup(m->name);
			if (m->score >= SCORE_CORROBORATE_MIN)
				extra++;
			if (m->score > best)
				best = m->score;
		}
	}
	if (best >= SCORE_CORROBORATE_MIN)
		extra--; /* the best detection itself is not a bonus */
	r->score = best + (extra > 0 ? extra * SCORE_CORROBORATE : 0);
	if (r->score > 100)
		r->score = 100;
	r->verdict = r->n_objects == 0 ? VERDICT_UNKNOWN
				       : verdict_from_score(r->score);
}

/* Names come from file systems and archives: not always UTF-8. */
static json_t *
jstr(const char *s)
{
	char *safe;
	json_t *j;

	if (s == NULL)
		return json_null();
	safe = text_sanitize(s, false);
	j = json_string(safe);
	free(safe);
	return j ? j : json_null();
}

static json_t *
jhex(const uint8_t *b, size_t n)
{
	char hex[65];

	digest_hex(b, n, hex);
	return json_string(hex);
}

static json_t *
strv_json(char **v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *
object_json(const struct object *o)
{
	json_t *j = json_object(), *ms = json_array();

	json_object_set_new(j, "index", json_integer(o->index));
	json_object_set_new(j, "parent",
			    o->parent < 0 ? json_null()
					  : json_integer(o->parent));
	json_object_set_new(j, "depth", json_integer(o->depth));
	json_object_set_new(j, "name", jstr(o->name));
	json_object_set_new(j, "type", jstr(o->cl_type));
	json_object_set_new(j, "mime", jstr(o->mime));
	json_object_set_new(j, "magic", jstr(o->magic));
	json_object_set_new(j, "size", json_integer((json_int_t)o->size));
	json_object_set_new(j, "md5", jhex(o->md5, sizeof(o->md5)));
	json_object_set_new(j, "sha1", jhex(o->sha1, sizeof(o->sha1)));
	json_object_set_new(j, "sha256", jhex(o->sha256, sizeof(o->sha256)));
	json_object_set_new(j, "ssdeep", jstr(o->ssdeep));
	json_object_set_new(
		j, "entropy",
		json_real((double)(long)(o->entropy * 10000) / 10000));
	json_object_set_new(j, "decrypted",
			    json_boolean(o->layer_attributes & 0x2));
	json_object_set_new(j, "normalized",
			    json_boolean(o->layer_attributes & 0x1));
	for (size_t i = 0; i < o->n_matches; i++) {
		const struct match *m = &o->matches[i];
		json_t *jm = json_object();

		json_object_set_new(jm, "name", json_string(m->name));
		json_object_set_new(jm, "source",
				    json_string(source_name(m->source)));
		json_object_set_new(jm, "rule_id", jstr(m->rule_id));
		json_object_set_new(jm, "category", jstr(m->category));
		json_object_set_new(jm, "description", jstr(m->description));
		json_object_set_new(jm, "score", json_integer(m->score));
		json_array_append_new(ms, jm);
	}
	json_object_set_new(j, "matches", ms);
	return j;
}

char *
report_to_json(const struct report *r)
{
	json_t *j = json_object(), *objs = json_array(), *lim = json_array();
	char *s;

	json_object_set_new(j, "version", json_integer(REPORT_VERSION));
	json_object_set_new(j, "path", jstr(r->path));
	json_object_set_new(j, "verdict",
			    json_string(verdict_name(r->verdict)));
	json_object_set_new(j, "score", json_integer(r->score));
	json_object_set_new(j, "detections",
			    strv_json(r->detections, r->n_detections));
	for (int k = 0; k < VG_LIMIT_KIND_COUNT; k++)
		if (r->limits_hit & (1u << k))
			json_array_append_new(
				lim, json_string(limits_kind_name(1u << k)));
	json_object_set_new(j, "limits_exceeded", lim);
	json_object_set_new(j, "problems",
			    strv_json(r->problems, r->n_problems));
	json_object_set_new(j, "bytes_scanned",
			    json_integer((json_int_t)r->bytes_scanned));
	json_object_set_new(
		j, "elapsed_ms",
		json_real((double)(long)(r->elapsed_ms * 1000) / 1000));
	for (size_t i = 0; i < r->n_objects; i++)
		json_array_append_new(objs, object_json(&r->objects[i]));
	json_object_set_new(j, "objects", objs);
	s = json_dumps(j,
		       JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(j);
	return s;
}
