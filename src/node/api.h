/*
 * api.h - vigild's HTTP API (docs/API.md).
 */
#ifndef VIGIL_NODE_API_H
#define VIGIL_NODE_API_H

#include <stdbool.h>
#include <stdint.h>

#include <h2o.h>
#include <jansson.h>

#include "node/node.h"

struct nodelog_item;

/* Registers the API's one handler on host; node must outlive the server. */
void api_register(struct node *node, h2o_hostconf_t *host);

struct edge_hooks;
/* What the edge asks before it reads a body (edge.h): each route's body
 * limit and token requirement (route.h), and whether a token is valid.
 * The hooks run in a loop's thread, after api_loop_enter. */
struct edge_hooks api_edge_hooks(void);

/* Fills node->index from the store. Returns 0 or a VG_E* code. */
int api_load_index(struct node *node);

/* Binds the calling thread to event loop l of node: every handler and
 * the functions below then use l's store, counters and long-polls. */
void api_loop_enter(struct node *node, struct api_loop *l);

/* The loop's notify pipe was written to: answers the submissions the
 * committer finished for this loop and, in loop 0, takes the analyses'
 * results (refreshing the index and passing them on to the other loops),
 * elsewhere what loop 0 passed on; then answers the long-polls waiting
 * for them. Loop thread only. */
void api_on_notify(struct node *node);

/* Answers every long-poll of this loop now, with the state as it is
 * (shutdown). */
void api_release_waiters(struct node *node);

/* Answers this loop's long-polls whose time is up. Call often. */
void api_tick(struct node *node);

/* For the handlers of other files (releases.c): an answer with its
 * Cache-Control, counted under route r; 405 naming the allowed method;
 * an operator's bearer token (root's operator.token, or one the store
 * has in force), checked: 1, or 0 after answering 403 for an enrolled
 * client's token, 503 if the store failed and 401 for anything else (a
 * 401 or 403 is logged as admin_denied and counted). */
void api_reply(h2o_req_t *req, enum route r, int status, const char *ctype,
	       const char *cache, const char *body, size_t len);
int api_wrong_method(h2o_req_t *req, enum route r, const char *allow);
/* A JSON answer (j is stolen), and {"error": code, "message": message};
 * both uncached. Return 0. */
int api_send_json(h2o_req_t *req, enum route r, int status, json_t *j);
int api_send_error(h2o_req_t *req, enum route r, int status, const char *code,
		   const char *message);
/* A store operation op failed: logs it with the store's reason
 * (event=store_failed) and answers 503 store_unavailable. Returns 0. */
int api_store_failed(h2o_req_t *req, enum route r, const struct store *st,
		     const char *op);
int api_operator_ok(h2o_req_t *req, enum route r);
/* api_operator_ok(), and the name of the operator whose token it is
 * into name ("root" for the data directory's operator.token). */
int api_operator_auth(h2o_req_t *req, enum route r,
		      char name[STORE_OPERATOR_NAME_MAX + 1]);

/* A client's bearer token, checked as every client route checks it (and
 * its rate limit taken): 0 with its id and consent, or -1 after
 * answering (401, 421, 429). */
int api_client_auth(h2o_req_t *req, enum route r, char id[37],
		    enum consent *consent);
/* The client id's consent is now consent, and with revoked its tokens
 * authenticate no more, in this node's cache of tokens. */
void api_client_changed(const char *id, enum consent consent, bool revoked);
/* "none", "metadata" or "files". */
const char *api_consent_name(enum consent c);

/* Queues the log entry text[0..len) (malloc'd; taken over) for the
 * sequencer from this loop; done then gets the finished item on this loop
 * and owns it. Returns the queued item (its ud is the caller's to set), or
 * NULL after answering 503 under route r when too many entries wait. */
struct nodelog_item *api_log_submit(h2o_req_t *req, enum route r, char *text,
				    size_t len,
				    void (*done)(struct nodelog_item *));

/* The c2sp.org/tlog-proof@v1 text (malloc'd, the caller's) of entry index
 * under the log's latest checkpoint, with the witnesses' cosignatures if
 * cosigned and they gave them (as GET /log/checkpoint serves it).
 * VG_ENOENT for an index beyond it. */
int api_log_proof(struct node *node, uint64_t index, bool cosigned, char **out,
		  size_t *len);

/* reputation_each() callback that adds a row to the index (ud). */
int index_put_cb(const struct reputation *r, void *ud);

#endif
