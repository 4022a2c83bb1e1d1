/*
 * report.h - what the engine found in one file: its objects, their
 * attributes and matches, the limits hit, and the verdict.
 *
 * A report owns all its memory and is freed in one call. Its JSON form is
 * specified in docs/REPORT.md (schema: docs/report.schema.json).
 */
#ifndef VIGIL_ENGINE_REPORT_H
#define VIGIL_ENGINE_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/limits.h"

#define REPORT_VERSION 1

enum verdict {
	VERDICT_UNKNOWN = 0,
	VERDICT_CLEAN,
	VERDICT_SUSPICIOUS,
	VERDICT_MALICIOUS,
};

/* Where a match came from. */
enum match_source {
	MATCH_YARA = 0,
	MATCH_HASH,
	MATCH_LIMIT,
	MATCH_DECOMPOSE,
};

struct match {
	char *name;        /* detection name, e.g. "Vigil.Test.EICAR" */
	char *rule_id;     /* rule meta id, or the hash file; may be NULL */
	char *category;    /* may be NULL */
	char *description; /* may be NULL */
	enum match_source source;
	int score; /* 0..100 */
};

/* Which object inside a subtree earned one of its detections
 * (docs/REPORT.md, "Containers carry what they contain"). */
struct cause {
	uint32_t object; /* index of the object that has the detection */
	char *path;      /* its path relative to the subtree's top: members
			  * joined with '!', "#N" for an unnamed one; "" for
			  * the top object itself */
};

struct object {
	uint32_t index; /* 0 is the file itself */
	int32_t parent; /* index of the containing object; -1 for the file */
	uint32_t depth; /* 0 for the file */
	char *name;     /* name inside its container, NULL when unknown */
	char *cl_type;  /* libclamav's type, e.g. "CL_TYPE_ZIP" */
	char *mime;     /* libmagic MIME type */
	char *magic;    /* libmagic description */
	uint64_t size;
	uint8_t md5[16];
	uint8_t sha1[20];
	uint8_t sha256[32];
	char *ssdeep;              /* NULL when not computed */
	double entropy;            /* Shannon entropy in bits per byte, 0..8 */
	uint32_t layer_attributes; /* libclamav LAYER_ATTRIBUTES_* */
	struct match *matches;
	size_t n_matches, cap_matches;
	/* What taking this object apart could not do, recorded with
	 * report_hit_limit_at() and report_add_problem_at(): the limits hit
	 * and the problems met while its own contents were extracted. Each
	 * also counts for the whole file (struct report). */
	uint32_t limits_hit;
	char **problems;
	size_t n_problems;
	/* Filled by report_decide(): the verdict of the object's whole
	 * subtree (itself and everything inside it at any depth), its score,
	 * its distinct detections in first-seen order, and because[i], the
	 * object that earned detections[i]. */
	enum verdict verdict;
	int score;
	char **detections;
	size_t n_detections;
	struct cause *because;
};

struct report {
	char *path;
	struct object *objects;
	size_t n_objects, cap_objects;
	/* Bit set of enum vg_limit_kind: the limits this file hit. */
	uint32_t limits_hit;
	/* Why decomposition was incomplete, one string each. */
	char **problems;
	size_t n_problems;
	enum verdict verdict;
	int score;
	/* Distinct detection names over all objects, in first-seen order,
	 * and because[i], the object that earned detections[i]: object 0's
	 * subtree verdict, copied. */
	char **detections;
	size_t n_detections;
	struct cause *because;
	uint64_t bytes_scanned;
	double elapsed_ms;
};

/* Allocates an empty report for path (copied). NULL on OOM is fatal. */
struct report *report_new(const char *path);
void report_free(struct report *r);

/* Appends an object; returns it (owned by r). */
struct object *report_add_object(struct report *r);

/* Appends a match to o; strings are copied; NULL strings stay NULL. */
struct match *object_add_match(struct object *o, enum match_source src,
			       const char *name, const char *rule_id,
			       const char *category, const char *description,
			       int score);

/* Records a decomposition problem (copied), once per distinct text. */
void report_add_problem(struct report *r, const char *text);

/* Records a problem met while object obj was taken apart (a truncated
 * stream, a member that never arrived): on the object and, once per
 * distinct text, on the file. obj < 0 or out of range means the file
 * itself (object 0). */
void report_add_problem_at(struct report *r, int32_t obj, const char *text);

/* Records limit k as hit while object obj was taken apart (a member past
 * the depth or size limit): on the object and on the file. obj as for
 * report_add_problem_at(). */
void report_hit_limit_at(struct report *r, int32_t obj, enum vg_limit_kind k);

/* The verdict for a file's score under the policy of docs/REPORT.md. */
enum verdict verdict_from_score(int score);

/* "malicious", "suspicious", "clean" or "unknown"; static storage. */
const char *verdict_name(enum verdict v);

/*
 * Applies the verdict policy of docs/REPORT.md: fills every object's
 * subtree verdict, score, detections and because from the matches, limits
 * and problems of the objects inside it, and r->score, r->verdict,
 * r->detections and r->because from object 0's. May be called again after
 * a change (each call starts over).
 */
void report_decide(struct report *r);

/* Returns the path of object i relative to object top, an ancestor of it:
 * the names of the objects below top down to i joined with '!', "#N" for
 * an object without a name (N its index); "" when i is top. Names are as
 * found, not escaped. Caller frees; NULL if i or top is out of range or
 * top is not an ancestor of i. */
char *report_object_path(const struct report *r, size_t top, size_t i);

/* Returns the JSON text of r, one line, no trailing newline; caller frees.
 * NULL on OOM. */
char *report_to_json(const struct report *r);

#endif
