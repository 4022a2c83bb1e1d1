/*
 * witnessing.h - the node asks its witnesses to cosign its checkpoints
 * (C2SP tlog-witness) and publishes the checkpoint with the cosignatures
 * it collected.
 *
 * One thread: whenever the log has a checkpoint the witnesses have not
 * seen, it sends each configured witness POST <url>/add-checkpoint with
 * the consistency proof from the size that witness last cosigned (0 at
 * first, which a witness that knows more answers with 409 and its size,
 * and the request is made again from there). A 200's signature lines are
 * checked against the witness's key before they are kept. The cosigned
 * checkpoint is the log's signed checkpoint with every valid cosignature
 * added; GET /log/checkpoint serves it while it is the latest. A witness
 * that is down or refuses only costs its cosignature, with a log line.
 */
#ifndef VIGIL_NODE_WITNESSING_H
#define VIGIL_NODE_WITNESSING_H

#include <stddef.h>
#include <stdint.h>

#include "node/config.h"
#include "node/nodelog.h"

/* Time for one witness's answer. */
#define WITNESSING_TIMEOUT_MS 5000

struct witnessing;

/* Starts asking the witnesses of cfg about nl's checkpoints; with none
 * configured, *out is NULL and nothing runs. Returns 0, or VG_EINVAL for
 * a witness key that does not parse (named in err). */
int witnessing_start(const struct node_config *cfg, struct nodelog *nl,
		     struct witnessing **out, char *err, size_t errlen);

/* The log has a new checkpoint (thread-safe, never waits). */
void witnessing_kick(struct witnessing *w);

/* A copy (malloc'd) of the cosigned checkpoint of size, or NULL if the
 * witnesses have not cosigned that one (yet). */
char *witnessing_checkpoint(struct witnessing *w, uint64_t size, size_t *len);

/* Stops the thread and frees w; accepts NULL. */
void witnessing_stop(struct witnessing *w);

#endif
