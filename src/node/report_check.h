/*
 * report_check.h - what the node takes from a worker's report: the
 * objects' tree and matches, checked, and the verdict of every object's
 * subtree recomputed from them (docs/REPORT.md, "Containers carry what
 * they contain").
 *
 * The worker is sandboxed but not trusted. Every field read is bounded;
 * a report that breaks a bound is malformed as a whole. An object's
 * verdict is never lower than its subtree's matches, limits and problems
 * earn under the node's own policy, whatever the worker says.
 */
#ifndef VIGIL_NODE_REPORT_CHECK_H
#define VIGIL_NODE_REPORT_CHECK_H

#include <jansson.h>
#include <stddef.h>

#include "engine/report.h"

/* Bounds on a worker's report (the engine stays well inside them). */
#define REPORT_CHECK_MAX_OBJECTS    1000000
#define REPORT_CHECK_MAX_DEPTH      (VG_LIMIT_MAX_DEPTH_CEILING + 1)
#define REPORT_CHECK_MAX_NAME       4096  /* an object's name, bytes */
#define REPORT_CHECK_MAX_MATCHES    1024  /* per object */
#define REPORT_CHECK_MAX_DETECTION  256   /* a detection name, bytes */
#define REPORT_CHECK_MAX_PROBLEMS   64    /* per object */
#define REPORT_CHECK_MAX_PROBLEM    1024  /* bytes */
#define REPORT_CHECK_MAX_DETECTIONS 65536 /* a claimed detections list */

/* What the node holds true of one object's subtree. */
struct checked_verdict {
	const char *verdict; /* static: verdict_name() */
	int score;           /* 0..100 */
	char *detections;    /* JSON array text */
	char *because;       /* JSON array text of {"path", "name"} */
};

/*
 * Checks the worker's report j and decides every object's subtree
 * verdict: the higher of what the worker claims (when its claim is
 * well-formed) and what the node's policy gives the objects' matches,
 * limits and problems. Fills out[0..n) with n the number of objects (the
 * caller frees with report_check_free()), and rewrites the verdict,
 * score, detections and because of j and of each of its objects to the
 * node's. Returns 0, or VG_EFORMAT when j is malformed (then *out is NULL).
 */
int report_check(json_t *j, struct checked_verdict **out, size_t *n);

/* Frees what report_check() returned; accepts NULL. */
void report_check_free(struct checked_verdict *v, size_t n);

#endif
