/*
 * me.h - /v1/me: a client's own data under its own token (me.c;
 * docs/API.md, "Your own data"; docs/PRIVACY.md).
 */
#ifndef VIGIL_NODE_ME_H
#define VIGIL_NODE_ME_H

#include <h2o.h>

#include "node/node.h"

/* Handles a request of ROUTE_ME on loop l; rest (len bytes) is the path
 * after /v1/me. Answers everything itself (401 without a client's
 * token, 404 for another path, 405 for another method, 400 for a bad
 * body or query); returns 0. */
int me_handle(struct node *node, struct api_loop *l, h2o_req_t *req,
	      const char *rest, size_t len);

/* Erases the bytes of every record a past erasure named and did not
 * finish (a crash between its commit and samples_erase(); store.h,
 * erasures_pending), with store, and marks each one done. Logs what
 * fails; never fails the caller. */
void me_erase_pending(struct node *node, struct store *store);

#endif
