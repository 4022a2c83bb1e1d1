/*
 * access.h - privileged access to users' samples: GET
 * /v1/admin/samples/{sha256} (docs/API.md), the one way a stored sample's
 * content leaves the node, and only once the transparency log holds a
 * `sample-access` entry for it (docs/LOG.md).
 */
#ifndef VIGIL_NODE_ACCESS_H
#define VIGIL_NODE_ACCESS_H

#include <h2o.h>

#include "node/config.h"
#include "node/node.h"

/* The headers of the request and of its answer. */
#define ACCESS_HDR_REASON "x-vigil-reason"
#define ACCESS_HDR_ROLE   "x-vigil-role"
#define ACCESS_HDR_WHO    "x-vigil-who"
#define ACCESS_HDR_INDEX  "X-Vigil-Log-Index"
#define ACCESS_HDR_SIZE   "X-Vigil-Log-Size"

/* Who asks for a privileged access, and why: the operator whose token
 * authenticated the request, and the headers' role and reason. */
struct access_caller {
	char reason[1025];              /* one line, 1..1024 bytes */
	char role[CONFIG_NAME_MAX + 1]; /* a label; "analyst" */
	char who[sizeof("operator") + 1 +
		 CONFIG_NAME_MAX]; /* operator:<name> */
};

/*
 * Fills *c for operator op (authenticated: api_operator_auth()), with
 * X-Vigil-Reason (required) and X-Vigil-Role of req. An entry names the
 * authenticated operator, never a name the caller states: an
 * X-Vigil-Who other than op is refused. Returns 0, or answers 400 under
 * route r (a missing or repeated reason, a folded header, a role that is
 * not a label, an X-Vigil-Who that is not op) and returns -1. The
 * reason is checked as the log's text syntax only when its entry is
 * encoded.
 */
int access_caller(h2o_req_t *req, enum route r, const char *op,
		  struct access_caller *c);

/*
 * Handles the request for sample hash[0..len) (the path after
 * /v1/admin/samples/) on event loop l of node. Refuses, with nothing
 * logged, another method (405), a missing or wrong operator token (401),
 * a malformed hash or header (400), a sample not stored (404); otherwise
 * queues the sample-access entry for the sequencer and answers once it
 * is durable (the item's done callback, on loop l): the sample, or 503
 * if the append failed. Returns 0 (h2o's convention).
 */
int access_on_sample(struct node *node, struct api_loop *l, h2o_req_t *req,
		     const char *hash, size_t len);

#endif
