/*
 * report.c - building a report, the verdict policy, and its JSON form.
 *
 * The verdict policy and the JSON layout are specified in docs/REPORT.md;
 * keep the three in step. The policy is applied to every object's subtree
 * (the object and everything inside it), so that a container carries what
 * it contains: the file's verdict is its own subtree's, object 0's.
 */
#include "engine/report.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
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

/* Frees a detections list and its parallel because. */
static void
free_decided(char ***det, struct cause **because, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*because)[i].path);
	free(*because);
	free_strv(*det, *n);
	*det = NULL;
	*because = NULL;
	*n = 0;
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
		free_decided(&o->detections, &o->because, &o->n_detections);
	}
	free(r->objects);
	free_strv(r->problems, r->n_problems);
	free_decided(&r->detections, &r->because, &r->n_detections);
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

/* The container of object i by the rule every subtree walk uses: an
 * object's parent comes before it, and one that names no such parent is
 * taken as inside the file (object 0). SIZE_MAX for object 0. */
static size_t
parent_of(const struct report *r, size_t i)
{
	int32_t p = r->objects[i].parent;

	if (i == 0)
		return SIZE_MAX;
	return p >= 0 && (size_t)p < i ? (size_t)p : 0;
}

/* The name object o has in a path: its own, or "#N"; in buf if made. */
static const char *
path_name(const struct object *o, char buf[16])
{
	if (o->name != NULL)
		return o->name;
	snprintf(buf, 16, "#%u", o->index);
	return buf;
}

char *
report_object_path(const struct report *r, size_t top, size_t i)
{
	size_t len = 0, at;
	char buf[16], *s, *end;

	if (top >= r->n_objects || i >= r->n_objects)
		return NULL;
	/* Measure the walk from i up to top, then write it backwards. */
	for (at = i; at != top; at = parent_of(r, at)) {
		if (at == SIZE_MAX || at < top)
			return NULL; /* top is not an ancestor of i */
		len += strlen(path_name(&r->objects[at], buf)) + 1;
	}
	s = xmalloc(len + 1);
	end = s + (len > 0 ? len - 1 : 0);
	*end = '\0';
	for (at = i; at != top; at = parent_of(r, at)) {
		const char *name = path_name(&r->objects[at], buf);
		size_t n = strlen(name);

		end -= n;
		memcpy(end, name, n);
		if (end > s)
			*--end = '!';
	}
	return s;
}

/* A detection of a subtree, while report_decide() gathers them. */
struct found {
	const char *name; /* borrowed from a match or from limit_name[] */
	int score;        /* the highest of its occurrences */
	/* Where it was first seen (object, then order in the object): the
	 * order of the detections. */
	uint32_t first_obj, first_seq;
	/* The object because names: the first occurrence that is not weak. A
	 * weak one is object 0's copy of the file's limits and problems,
	 * which names the file when the object they concern is known. */
	uint32_t src;
	bool weak;
};

struct found_list {
	struct found *v;
	size_t n, cap;
};

static void
found_add(struct found_list *l, const struct found *f)
{
	for (size_t i = 0; i < l->n; i++) {
		struct found *g = &l->v[i];

		if (strcmp(g->name, f->name) != 0)
			continue;
		if (f->score > g->score)
			g->score = f->score;
		if (f->first_obj < g->first_obj ||
		    (f->first_obj == g->first_obj &&
		     f->first_seq < g->first_seq)) {
			g->first_obj = f->first_obj;
			g->first_seq = f->first_seq;
		}
		if ((g->weak && !f->weak) ||
		    (g->weak == f->weak && f->src < g->src)) {
			g->src = f->src;
			g->weak = f->weak;
		}
		return;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = *f;
}

static int
cmp_found(const void *a, const void *b)
{
	const struct found *x = a, *y = b;

	if (x->first_obj != y->first_obj)
		return x->first_obj < y->first_obj ? -1 : 1;
	if (x->first_seq != y->first_seq)
		return x->first_seq < y->first_seq ? -1 : 1;
	return 0;
}

/* The policy of docs/REPORT.md over one subtree's distinct detections:
 * the best score, plus a bonus for each further one that counts. */
static int
policy_score(const struct found_list *l)
{
	int best = 0, extra = 0, score;

	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].score >= SCORE_CORROBORATE_MIN)
			extra++;
		if (l->v[i].score > best)
			best = l->v[i].score;
	}
	if (best >= SCORE_CORROBORATE_MIN)
		extra--; /* the best detection itself is not a bonus */
	score = best + (extra > 0 ? extra * SCORE_CORROBORATE : 0);
	return score > 100 ? 100 : score;
}

/* Object i's own detections: its matches, then the limits and problems
 * recorded on it. */
static void
gather_own(const struct report *r, size_t i, char *const *limit_name,
	   struct found_list *l)
{
	const struct object *o = &r->objects[i];
	struct found f = {.first_obj = (uint32_t)i, .src = (uint32_t)i};
	uint32_t seq = 0;

	for (size_t j = 0; j < o->n_matches; j++) {
		const struct match *m = &o->matches[j];

		f.name = m->name;
		f.score = m->score;
		f.first_seq = seq++;
		f.weak = i == 0 && (m->source == MATCH_LIMIT ||
				    m->source == MATCH_DECOMPOSE);
		found_add(l, &f);
	}
	f.weak = false;
	f.score = SCORE_LIMIT;
	for (int k = 0; k < VG_LIMIT_KIND_COUNT; k++) {
		if (!(o->limits_hit & (1u << k)))
			continue;
		f.name = limit_name[k];
		f.first_seq = seq++;
		found_add(l, &f);
	}
	if (o->n_problems > 0) {
		f.name = "Decompose.Incomplete";
		f.first_seq = seq++;
		found_add(l, &f);
	}
}

/* Fills object i's decided fields from its subtree's detections. */
static void
decide_object(struct report *r, size_t i, struct found_list *l)
{
	struct object *o = &r->objects[i];

	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_found);
	o->score = policy_score(l);
	o->verdict = verdict_from_score(o->score);
	o->n_detections = l->n;
	o->detections = xreallocarray(NULL, l->n ? l->n : 1, sizeof(char *));
	o->because = xreallocarray(NULL, l->n ? l->n : 1, sizeof(*o->because));
	for (size_t k = 0; k < l->n; k++) {
		char *path = report_object_path(r, i, l->v[k].src);

		o->detections[k] = xstrdup(l->v[k].name);
		o->because[k].object = l->v[k].src;
		/* src is in i's subtree by construction. */
		o->because[k].path = path ? path : xstrdup("");
	}
}

void
report_decide(struct report *r)
{
	char *limit_name[VG_LIMIT_KIND_COUNT];
	struct found_list *lists;
	size_t n = r->n_objects;

	free_decided(&r->detections, &r->because, &r->n_detections);
	r->score = 0;
	r->verdict = VERDICT_UNKNOWN;
	if (n == 0)
		return;
	for (int k = 0; k < VG_LIMIT_KIND_COUNT; k++)
		limit_name[k] = xasprintf("Limits.Exceeded.%s",
					  limits_kind_name(1u << k));
	/* Limits and problems are detections of the file itself, whichever
	 * object they concern: a file not fully analysed is never clean. */
	for (int k = 0; k < VG_LIMIT_KIND_COUNT; k++)
		if (r->limits_hit & (1u << k))
			object_add_match(&r->objects[0], MATCH_LIMIT,
					 limit_name[k], NULL, "limit",
					 "a scan limit was reached; "
					 "the file was not fully analysed",
					 SCORE_LIMIT);
	if (r->n_problems > 0)
		object_add_match(&r->objects[0], MATCH_DECOMPOSE,
				 "Decompose.Incomplete", NULL, "limit",
				 r->problems[0], SCORE_LIMIT);
	/* Bottom up: an object comes after its container, so walking the
	 * objects backwards finishes every subtree before its container
	 * takes it in. */
	lists = xcalloc(n, sizeof(*lists));
	for (size_t i = n; i-- > 0;) {
		struct object *o = &r->objects[i];
		size_t p = parent_of(r, i);

		gather_own(r, i, limit_name, &lists[i]);
		free_decided(&o->detections, &o->because, &o->n_detections);
		decide_object(r, i, &lists[i]);
		if (p != SIZE_MAX)
			for (size_t k = 0; k < lists[i].n; k++)
				found_add(&lists[p], &lists[i].v[k]);
		free(lists[i].v);
	}
	free(lists);
	for (int k = 0; k < VG_LIMIT_KIND_COUNT; k++)
		free(limit_name[k]);
	/* The file's verdict is its own subtree's. */
	r->score = r->objects[0].score;
	r->verdict = r->objects[0].verdict;
	r->n_detections = r->objects[0].n_detections;
	r->detections = xreallocarray(
		NULL, r->n_detections ? r->n_detections : 1, sizeof(char *));
	r->because = xreallocarray(NULL, r->n_detections ? r->n_detections : 1,
				   sizeof(*r->because));
	for (size_t k = 0; k < r->n_detections; k++) {
		r->detections[k] = xstrdup(r->objects[0].detections[k]);
		r->because[k].object = r->objects[0].because[k].object;
		r->because[k].path = xstrdup(r->objects[0].because[k].path);
	}
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

/* [{"path": ..., "name": ...}], parallel to the detections. */
static json_t *
because_json(char **det, const struct cause *because, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:o, s:o}", "path",
						   jstr(because[i].path),
						   "name", jstr(det[i])));
	return a;
}

static json_t *
limits_json(uint32_t hit)
{
	json_t *a = json_array();

	for (int k = 0; k < VG_LIMIT_KIND_COUNT; k++)
		if (hit & (1u << k))
			json_array_append_new(
				a, json_string(limits_kind_name(1u << k)));
	return a;
}

/* The members an object and the whole report both carry, in this order:
 * verdict, score, detections and because (docs/REPORT.md: the report's
 * are object 0's). */
static void
set_verdict(json_t *j, enum verdict verdict, int score, char **detections,
	    const struct cause *because, size_t n_detections)
{
	json_object_set_new(j, "verdict", json_string(verdict_name(verdict)));
	json_object_set_new(j, "score", json_integer(score));
	json_object_set_new(j, "detections",
			    strv_json(detections, n_detections));
	json_object_set_new(j, "because",
			    because_json(detections, because, n_detections));
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
	json_object_set_new(j, "limits_exceeded", limits_json(o->limits_hit));
	json_object_set_new(j, "problems",
			    strv_json(o->problems, o->n_problems));
	set_verdict(j, o->verdict, o->score, o->detections, o->because,
		    o->n_detections);
	return j;
}

char *
report_to_json(const struct report *r)
{
	json_t *j = json_object(), *objs = json_array();
	char *s;

	json_object_set_new(j, "version", json_integer(REPORT_VERSION));
	json_object_set_new(j, "path", jstr(r->path));
	set_verdict(j, r->verdict, r->score, r->detections, r->because,
		    r->n_detections);
	json_object_set_new(j, "limits_exceeded", limits_json(r->limits_hit));
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
