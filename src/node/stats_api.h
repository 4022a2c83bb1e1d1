/*
 * stats_api.h - GET /v1/stats?day=YYYY-MM-DD (docs/API.md): a region's
 * anonymised statistics of one completed UTC day (docs/STATS.md), frozen
 * at their first request and published through the transparency log as
 * a `stats` entry (docs/LOG.md) before they are served.
 */
#ifndef VIGIL_NODE_STATS_API_H
#define VIGIL_NODE_STATS_API_H

#include <h2o.h>

#include "node/node.h"

/* Days back from today (UTC) whose statistics a request may publish; an
 * older day is served only if it was published already (404 otherwise).
 * It bounds what anyone can make the node compute and log. */
#define STATS_WINDOW_DAYS 31
/* Seconds after a day's end before it is published: a submission is
 * dated when it arrives and stored a little later (group commit), so a
 * day computed at the stroke of midnight could miss its last ones. */
#define STATS_GRACE_SECONDS 300
/* Days being published at once, node-wide (503 beyond). */
#define STATS_PENDING_MAX 8

/*
 * Handles a request for /v1/stats on event loop l of node. Refuses
 * another method (405), a missing, repeated, malformed or impossible
 * day or another parameter (400), today, a later day or yesterday in
 * the first STATS_GRACE_SECONDS after midnight (409), an
 * unpublished day older than STATS_WINDOW_DAYS or a node without a log
 * (404), a day another request is publishing, a failing store or log
 * (503). Otherwise answers the day's document with the index of its log
 * entry: at once if it is logged, else once its entry is durable (it is
 * computed and stored first if the day has none). Returns 0.
 */
int stats_api_handle(struct node *node, struct api_loop *l, h2o_req_t *req);

/* Days this node has published (stored and logged) since it started. */
uint64_t stats_api_published(void);

#endif
