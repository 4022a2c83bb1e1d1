/*
 * portal.h - the Transparency Center's pages on the node: server-rendered
 * HTML, without a script, for partners and auditors who review the
 * region in a browser (docs/API.md, "The portal"; docs/RELEASES.md,
 * "The node").
 *
 *   GET /portal/           the index: links to the pages and the log
 *   GET /portal/releases   every release, newest first, from the same
 *                          index GET /v1/releases answers with
 *
 * Every page is built from the node's state in memory, escapes every
 * string it takes from there, and goes out with a Content-Security-Policy
 * that allows no script, no frame and nothing from elsewhere.
 */
#ifndef VIGIL_NODE_PORTAL_H
#define VIGIL_NODE_PORTAL_H

#include <stddef.h>

#include <h2o.h>

#include "node/node.h"

/* The largest page the portal builds; older releases beyond it are left
 * out, with a note pointing to GET /v1/releases. */
#define PORTAL_PAGE_MAX (8u << 20)

/*
 * Answers a request for route ROUTE_PORTAL, path[0..len) being the
 * normalised path (/portal or below): 200 with a page, 405 (JSON, as the
 * API answers it) for another method than GET, 404 (an HTML page) for a
 * path the portal does not have. Returns 0 (h2o's convention).
 */
int portal_handle(struct node *node, h2o_req_t *req, const char *path,
		  size_t len);

#endif
