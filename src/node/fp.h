/*
 * fp.h - false positives, retracted in the open (docs/API.md, "False
 * positives"): clients report them (POST /v1/fp), the operator reviews
 * them (GET /v1/admin/fp) and accepts, rejects or reinstates (POST
 * /v1/admin/fp/{hash}/{accept,reject,reinstate}). An accepted report
 * becomes a `retraction` entry of the transparency log (docs/LOG.md), and
 * only once that entry is durable does the node store the retraction and
 * lay it over the sample's answers (index.h).
 */
#ifndef VIGIL_NODE_FP_H
#define VIGIL_NODE_FP_H

#include <h2o.h>

#include "node/node.h"

/* Longest reason of a report or a decision, in bytes (the log's limit
 * for a text field). */
#define FP_REASON_MAX 1024

/*
 * POST /v1/fp from the authenticated client client_id (the router checked
 * the method and the token) on loop l: records the report, answers 201.
 * Refuses, storing nothing, a body that is not {"hash": H, "reason": R}
 * (400), a malformed hash (400), an over-long reason (413), an unknown
 * sample (404), a sample the node does not detect or has retracted, or a
 * second report of the client (409). Returns 0 (h2o's convention).
 */
int fp_on_report(struct node *node, struct api_loop *l, h2o_req_t *req,
		 const char *client_id);

/*
 * The operator's routes, rest[0..len) being the path after /v1/admin/fp
 * ("" or "/{hash}/{action}"), on loop l. Without the operator token the
 * answer is 401, or 403 for an enrolled client's token. An accept or a
 * reinstate is answered once its log entry is durable and the retraction
 * stored (201), or 503 if the log failed (then nothing changed). Returns
 * 0 (h2o's convention).
 */
int fp_on_admin(struct node *node, struct api_loop *l, h2o_req_t *req,
		const char *rest, size_t len);

/* Lays every retraction in force in the store over node->index (at
 * start, after the reputation rows). Returns 0 or a VG_E* code. */
int fp_load_index(struct node *node);

#endif
