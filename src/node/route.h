/*
 * route.h - the node's routes by path, and what each takes before its
 * handler runs: the body limit and whether a token is needed.
 *
 * Both the edge (edge.c, with the path as sent) and the dispatcher
 * (api.c, with h2o's normalised path) ask here, so that the two agree.
 * The edge's answer only bounds what is read: the handler still checks
 * the caller and the body.
 */
#ifndef VIGIL_NODE_ROUTE_H
#define VIGIL_NODE_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "node/config.h"
#include "node/node.h"

/* The most an unauthenticated route reads of a body. */
#define ROUTE_OPEN_BODY_MAX (64 * 1024)

/* The route of path p (n bytes, without a query); ROUTE_OTHER if none.
 * *arg is set to the offset of the route's argument (the hash of
 * /v1/files/{hash}, the rest of /log/..., ...), or n. */
enum route route_of(const char *p, size_t n, size_t *arg);

/* Whether r refuses a caller without a bearer token. */
int route_needs_token(enum route r);

/* The largest body r takes, under configuration c. */
uint64_t route_body_limit(const struct node_config *c, enum route r);

#endif
