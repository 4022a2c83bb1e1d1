/*
 * report_check.c - checking a worker's report and deciding its objects'
 * verdicts again; see report_check.h.
 *
 * Why the node decides again rather than trusting the numbers: a worker
 * parses hostile bytes with large C libraries, and one it no longer
 * controls could call a container of malware clean. What it cannot hide
 * without also hiding the matches themselves is what it found; the node
 * rebuilds the objects' tree from those and applies the engine's own
 * policy (report_decide()), so the worker's claims can only raise a
 * verdict.
 */
#include "node/report_check.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/xmalloc.h"
#include "engine/limits.h"

/* A claimed because path: every name of the deepest chain, and a '!'. */
#define MAX_PATH (REPORT_CHECK_MAX_DEPTH * (REPORT_CHECK_MAX_NAME + 16))

/* A string of min..max bytes without a NUL inside. */
static bool
bounded(json_t *v, size_t min, size_t max)
{
	size_t n;

	if (!json_is_string(v))
		return false;
	n = json_string_length(v);
	return n >= min && n <= max && strlen(json_string_value(v)) == n;
}

static bool
int_in(json_t *v, json_int_t min, json_int_t max)
{
	return json_is_integer(v) && json_integer_value(v) >= min &&
	       json_integer_value(v) <= max;
}

/* The verdict a word names; -1 for anything else. */
static int
verdict_of(json_t *v)
{
	static const enum verdict all[] = {VERDICT_UNKNOWN, VERDICT_CLEAN,
					   VERDICT_SUSPICIOUS,
					   VERDICT_MALICIOUS};

	if (!bounded(v, 1, 16))
		return -1;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(json_string_value(v), verdict_name(all[i])) == 0)
			return (int)all[i];
	return -1;
}

static int
source_of(json_t *v, enum match_source *out)
{
	static const struct {
		const char *name;
		enum match_source src;
	} all[] = {{"yara", MATCH_YARA},
		   {"hash", MATCH_HASH},
		   {"limit", MATCH_LIMIT},
		   {"decompose", MATCH_DECOMPOSE}};

	if (!bounded(v, 1, 16))
		return VG_EFORMAT;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(json_string_value(v), all[i].name) == 0) {
			*out = all[i].src;
			return 0;
		}
	}
	return VG_EFORMAT;
}

/* An array of at most max strings of min..len bytes each. */
static bool
string_array(json_t *a, size_t max, size_t min, size_t len)
{
	json_t *v;
	size_t i;

	if (!json_is_array(a) || json_array_size(a) > max)
		return false;
	json_array_foreach(a, i, v) if (!bounded(v, min, len)) return false;
	return true;
}

/* A claimed because: [{"path": ..., "name": ...}], bounded. */
static bool
because_array(json_t *a)
{
	json_t *v;
	size_t i;

	if (!json_is_array(a) ||
	    json_array_size(a) > REPORT_CHECK_MAX_DETECTIONS)
		return false;
	json_array_foreach(a, i, v)
	{
		if (!json_is_object(v) || json_object_size(v) != 2 ||
		    !bounded(json_object_get(v, "path"), 0, MAX_PATH) ||
		    !bounded(json_object_get(v, "name"), 1,
			     REPORT_CHECK_MAX_DETECTION))
			return false;
	}
	return true;
}

/*
 * A claimed subtree verdict: verdict, score, detections and because, each
 * optional, each well-formed when present. Sets *v (-1 when absent) and
 * *score (-1 when absent).
 */
static int
check_claim(json_t *o, int *v, int *score)
{
	json_t *x;

	*v = -1;
	*score = -1;
	if ((x = json_object_get(o, "verdict")) != NULL &&
	    (*v = verdict_of(x)) < 0)
		return VG_EFORMAT;
	if ((x = json_object_get(o, "score")) != NULL) {
		if (!int_in(x, 0, 100))
			return VG_EFORMAT;
		*score = (int)json_integer_value(x);
	}
	if ((x = json_object_get(o, "detections")) != NULL &&
	    !string_array(x, REPORT_CHECK_MAX_DETECTIONS, 1,
			  REPORT_CHECK_MAX_DETECTION))
		return VG_EFORMAT;
	if ((x = json_object_get(o, "because")) != NULL && !because_array(x))
		return VG_EFORMAT;
	return 0;
}

/* Reads object i of the report into r; depth[] holds the depths so far. */
static int
check_object(struct report *r, json_t *jo, size_t i, uint32_t *depth)
{
	struct object *o = report_add_object(r);
	json_t *v, *m;
	size_t k;

	if (!json_is_object(jo) ||
	    !int_in(json_object_get(jo, "index"), (json_int_t)i, (json_int_t)i))
		return VG_EFORMAT;
	/* A container comes before what it holds: the tree has no cycle. */
	v = json_object_get(jo, "parent");
	if (i == 0) {
		if (!json_is_null(v))
			return VG_EFORMAT;
		depth[0] = 0;
	} else {
		if (!int_in(v, 0, (json_int_t)i - 1))
			return VG_EFORMAT;
		o->parent = (int32_t)json_integer_value(v);
		depth[i] = depth[o->parent] + 1;
		if (depth[i] > REPORT_CHECK_MAX_DEPTH)
			return VG_EFORMAT;
	}
	v = json_object_get(jo, "name");
	if (v != NULL && !json_is_null(v)) {
		if (!bounded(v, 0, REPORT_CHECK_MAX_NAME))
			return VG_EFORMAT;
		o->name = xstrdup(json_string_value(v));
	}
	v = json_object_get(jo, "matches");
	if (!json_is_array(v) || json_array_size(v) > REPORT_CHECK_MAX_MATCHES)
		return VG_EFORMAT;
	json_array_foreach(v, k, m)
	{
		json_t *name = json_object_get(m, "name"),
		       *score = json_object_get(m, "score");
		enum match_source src;

		if (!bounded(name, 1, REPORT_CHECK_MAX_DETECTION) ||
		    !int_in(score, 0, 100) ||
		    source_of(json_object_get(m, "source"), &src) != 0)
			return VG_EFORMAT;
		object_add_match(o, src, json_string_value(name), NULL, NULL,
				 NULL, (int)json_integer_value(score));
	}
	if ((v = json_object_get(jo, "limits_exceeded")) != NULL) {
		if (!string_array(v, VG_LIMIT_KIND_COUNT, 1, 16))
			return VG_EFORMAT;
		json_array_foreach(v, k, m)
		{
			int kind;

			for (kind = 0; kind < VG_LIMIT_KIND_COUNT; kind++)
				if (strcmp(json_string_value(m),
					   limits_kind_name(1u << kind)) == 0)
					break;
			if (kind == VG_LIMIT_KIND_COUNT)
				return VG_EFORMAT;
			report_hit_limit_at(r, (int32_t)i,
					    (enum vg_limit_kind)(1u << kind));
		}
	}
	if ((v = json_object_get(jo, "problems")) != NULL) {
		if (!string_array(v, REPORT_CHECK_MAX_PROBLEMS, 0,
				  REPORT_CHECK_MAX_PROBLEM))
			return VG_EFORMAT;
		json_array_foreach(v, k, m) report_add_problem_at(
			r, (int32_t)i, json_string_value(m));
	}
	return 0;
}

static json_t *
detections_json(const struct object *o)
{
	json_t *a = json_array();

	for (size_t k = 0; k < o->n_detections; k++)
		json_array_append_new(a, json_string(o->detections[k]));
	return a;
}

static json_t *
because_json(const struct object *o)
{
	json_t *a = json_array();

	for (size_t k = 0; k < o->n_detections; k++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "path",
						   o->because[k].path, "name",
						   o->detections[k]));
	return a;
}

/* Sets the node's subtree verdict in *cv and on the JSON object t (an
 * object of the report), and on also (the report itself) if not NULL. */
static void
decide(json_t *t, json_t *also, const struct object *o, enum verdict v,
       int score, struct checked_verdict *cv)
{
	json_t *det = detections_json(o), *bec = because_json(o);

	cv->verdict = verdict_name(v);
	cv->score = score;
	cv->detections = json_dumps(det, JSON_COMPACT);
	cv->because = json_dumps(bec, JSON_COMPACT);
	if (cv->detections == NULL || cv->because == NULL)
		fatal("out of memory");
	if (also != NULL) {
		json_object_set_new(also, "verdict", json_string(cv->verdict));
		json_object_set_new(also, "score", json_integer(score));
		json_object_set_new(also, "detections", json_deep_copy(det));
		json_object_set_new(also, "because", json_deep_copy(bec));
	}
	json_object_set_new(t, "verdict", json_string(cv->verdict));
	json_object_set_new(t, "score", json_integer(score));
	json_object_set_new(t, "detections", det);
	json_object_set_new(t, "because", bec);
}

int
report_check(json_t *j, struct checked_verdict **out, size_t *n)
{
	json_t *objs = json_object_get(j, "objects");
	struct checked_verdict *cv = NULL;
	struct report *r = NULL;
	uint32_t *depth = NULL;
	enum verdict *verdicts = NULL;
	int *scores = NULL;
	size_t count = json_array_size(objs), i;
	int rc = VG_EFORMAT, top_v, top_score;

	*out = NULL;
	*n = 0;
	if (!json_is_object(j) || !json_is_array(objs) || count == 0 ||
	    count > REPORT_CHECK_MAX_OBJECTS ||
	    check_claim(j, &top_v, &top_score) != 0)
		goto out;
	r = report_new(NULL);
	depth = xreallocarray(NULL, count, sizeof(*depth));
	for (i = 0; i < count; i++) {
		json_t *o = json_array_get(objs, i);
		int v, score;

		if (check_object(r, o, i, depth) != 0 ||
		    check_claim(o, &v, &score) != 0)
			goto out;
	}
	report_decide(r);
	/* Claims only raise: an object's own, and for the file the report's
	 * too. The claims' bits first, then bottom up, so that what a claim
	 * raises, every container above it carries too. */
	verdicts = xreallocarray(NULL, count, sizeof(*verdicts));
	scores = xreallocarray(NULL, count, sizeof(*scores));
	for (i = 0; i < count; i++) {
		int cl_v, cl_score;

		verdicts[i] = r->objects[i].verdict;
		scores[i] = r->objects[i].score;
		check_claim(json_array_get(objs, i), &cl_v, &cl_score);
		if (i == 0) {
			cl_v = top_v > cl_v ? top_v : cl_v;
			cl_score = top_score > cl_score ? top_score : cl_score;
		}
		if (cl_score > scores[i])
			scores[i] = cl_score;
		if (cl_v > (int)verdicts[i])
			verdicts[i] = (enum verdict)cl_v;
	}
	for (i = count; i-- > 1;) {
		size_t p = (size_t)r->objects[i].parent;

		if (scores[i] > scores[p])
			scores[p] = scores[i];
		if (verdicts[i] > verdicts[p])
			verdicts[p] = verdicts[i];
	}
	cv = xcalloc(count, sizeof(*cv));
	for (i = 0; i < count; i++) {
		enum verdict v = verdicts[i];

		if (verdict_from_score(scores[i]) > v)
			v = verdict_from_score(scores[i]);
		decide(json_array_get(objs, i), i == 0 ? j : NULL,
		       &r->objects[i], v, scores[i], &cv[i]);
	}
	*out = cv;
	*n = count;
	cv = NULL;
	rc = 0;
out:
	free(depth);
	free(verdicts);
	free(scores);
	report_free(r);
	return rc;
}

void
report_check_free(struct checked_verdict *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].detections);
		free(v[i].because);
	}
	free(v);
}
