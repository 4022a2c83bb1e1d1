/*
 * operators.h - the region's named operators (docs/API.md, "Operators"):
 *
 *   POST /v1/admin/operators {"name": NAME}   201 {"name", "token", ...}
 *   GET /v1/admin/operators                   the operators, never tokens
 *   DELETE /v1/admin/operators/{name}         200, the token refused
 *
 * Only the bootstrap operator, root (the data directory's
 * operator.token), adds and revokes operators; every operator may list
 * them. An add or a revocation is answered once its `operator-add` or
 * `operator-revoke` log entry is durable and the store holds the change
 * (docs/LOG.md); a token is shown once, in the answer to its add, and
 * only its SHA-256 is stored.
 */
#ifndef VIGIL_NODE_OPERATORS_H
#define VIGIL_NODE_OPERATORS_H

#include <h2o.h>

#include "node/node.h"

/* The largest body taken, checked before the token is (route.c). */
#define OPERATORS_MAX_BODY 4096

/* Random bytes of an operator's token; it is "vgop." and their hex. */
#define OPERATORS_TOKEN_BYTES 32

/*
 * Handles a request to /v1/admin/operators, rest[0..len) being what
 * follows it ("" or "/{name}"), on loop l of node. Refuses another
 * method (405), a node without a log (404), a missing, unknown or
 * revoked token (401) or a client's (403), an add or revoke by another
 * operator than root (403), a malformed body or name (400), a name taken
 * (409), an unknown operator (404); 503 if the store or the log failed.
 * Returns 0 (h2o's convention).
 */
int operators_handle(struct node *node, struct api_loop *l, h2o_req_t *req,
		     const char *rest, size_t len);

#endif
