/*
 * nodelog.h - the node's transparency log: its signing key, the operator
 * token, the sequencer, and what the API serves of it (docs/LOG.md).
 *
 * At first start, nodelog_open() creates <data>/log.key (the log's
 * Ed25519 signer key, a signed-note key string, mode 0600),
 * <data>/operator.token (mode 0600; the bearer token of `vigil admin`)
 * and the log itself under <data>/log/ (the C2SP tlog-tiles layout,
 * src/tlog/log.h), and appends the log's first entry: a `node` entry
 * naming the region, the site, the log's verifier key and the software
 * version. At every start it compares the node's region, site,
 * witnesses and keys (the log's verifier key, the sample key's ID) with
 * <data>/log.settings and appends what changed; a replaced log.key is
 * taken over from the tree the recorded key signed.
 *
 * Appends go through the sequencer, a batcher (batcher.h): every entry
 * waiting is appended as one batch, made durable and covered by one new
 * signed checkpoint, and only then is each item handed back to the event
 * loop that submitted it (group commit).
 */
#ifndef VIGIL_NODE_NODELOG_H
#define VIGIL_NODE_NODELOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/batcher.h"
#include "node/config.h"
#include "store/samples.h"
#include "tlog/log.h"

/* Entries waiting for the sequencer before appends are turned away. */
#define NODELOG_MAX_QUEUED (16ULL * 1024 * 1024)
#define NODELOG_BATCH_MAX  1024

struct nodelog_item {
	struct batch_item hdr; /* first; the caller sets hdr.port */
	uint8_t *entry;        /* the encoded entry; owned */
	size_t len;
	void *ud; /* the caller's */
	/* The event loop hands the finished item to it, which then owns it. */
	void (*done)(struct nodelog_item *it);
	/* Set by the sequencer. */
	int rc;
	uint64_t index; /* where the entry is */
	uint64_t size;  /* the size of the checkpoint that covers it */
	char err[160];
	struct nodelog_item *next; /* in nodelog_take_done()'s list */
};

struct nodelog;

/*
 * Opens (creating on first start) the node's log, as described above;
 * samples gives the sample key's ID for the first entry.
 * Finished appends of port k are announced on notify_fds[k]. Returns 0 or
 * a VG_E* code with a message in err.
 */
int nodelog_open(const struct node_config *cfg, struct samples *samples,
		 const int *notify_fds, unsigned nports, struct nodelog **out,
		 char *err, size_t errlen);

/* The log's origin, and its verifier key (name+id+key). */
const char *nodelog_origin(const struct nodelog *nl);
const char *nodelog_verifier(const struct nodelog *nl);

/* The log, for serving its files (reads are safe beside the sequencer). */
struct tlog_log *nodelog_log(struct nodelog *nl);

/* True if token[0..len) is the operator token (constant time). */
bool nodelog_operator_ok(const struct nodelog *nl, const char *token,
			 size_t len);

/* Queues it for the sequencer; VG_ELIMIT if too much waits already. */
int nodelog_submit(struct nodelog *nl, struct nodelog_item *it);

/* Port's finished appends, oldest first, through next; NULL if none. */
struct nodelog_item *nodelog_take_done(struct nodelog *nl, unsigned port);

void nodelog_item_free(struct nodelog_item *it);

/* Appends what is queued, stops the sequencer, and closes the log. */
void nodelog_close(struct nodelog *nl);

#endif
