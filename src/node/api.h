/*
 * api.h - vigild's HTTP API (docs/API.md).
 */
#ifndef VIGIL_NODE_API_H
#define VIGIL_NODE_API_H

#include <h2o.h>

#include "node/node.h"

/* Registers the API's one handler on host; node must outlive the server. */
void api_register(struct node *node, h2o_hostconf_t *host);

/* Fills node->index from the store. Returns 0 or a VG_E* code. */
int api_load_index(struct node *node);

/* Takes the analysis results posted since the last call: refreshes the
 * index and answers the requests waiting for them. Loop thread only. */
void api_on_analysis_done(struct node *node);

/* Answers the submissions committed (or refused) since the last call and
 * refreshes the index for them. Loop thread only. */
void api_on_ingest_done(struct node *node);

/* Answers every long-poll now, with the state as it is (shutdown). */
void api_release_waiters(struct node *node);

/* Answers long-polls whose time is up. Call often from the loop. */
void api_tick(struct node *node);

/* reputation_each() callback that adds a row to the index (ud). */
int index_put_cb(const struct reputation *r, void *ud);

#endif
