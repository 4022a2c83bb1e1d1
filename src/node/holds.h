/*
 * holds.h - legal holds (docs/API.md, "Legal holds"; docs/PRIVACY.md):
 *
 *   POST /v1/admin/holds {"sha256", "case", "reason"}   201
 *   DELETE /v1/admin/holds/{sha256}?case=ID             200
 *
 * A held sample is exempt from the retention sweep (its bytes and its
 * submissions stay) until every hold on it is released. Every operator
 * may place and release holds. Each is answered once its `hold` or
 * `release-hold` log entry, naming the sample, the case, the reason of a
 * hold and the authenticated operator, is durable and the store holds
 * the change (docs/LOG.md).
 */
#ifndef VIGIL_NODE_HOLDS_H
#define VIGIL_NODE_HOLDS_H

#include <h2o.h>

#include "node/node.h"

/* The largest body taken, checked before the token is (route.c). */
#define HOLDS_MAX_BODY 4096

/*
 * Handles a request to /v1/admin/holds, rest[0..len) being what follows
 * it ("" or "/{sha256}"), on loop l of node. Refuses another method
 * (405), a node without a log (404), a missing, unknown or revoked token
 * (401) or a client's (403), a malformed body, hash, case or reason
 * (400), a sample the node does not know or a hold that is not there
 * (404), a hold of that case already there (409); 503 if the store or
 * the log failed. Returns 0 (h2o's convention).
 */
int holds_handle(struct node *node, struct api_loop *l, h2o_req_t *req,
		 const char *rest, size_t len);

#endif
