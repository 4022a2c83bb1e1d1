/*
 * nodelog.h - the node's transparency log: its signing key, the operator
 * token, the sequencer, and what the API serves of it (docs/LOG.md).
 *
 * The log's key is the key holder's (keyholder.h), which creates
 * <data>/log.key on a fresh data directory and signs through it. At
 * first start, nodelog_open() creates
 * <data>/operator.token (mode 0600; the bearer token of `vigil admin`)
 * and the log itself under <data>/log/ (the C2SP tlog-tiles layout,
 * src/tlog/log.h), and appends the log's first entry: a `node` entry
 * naming the region, the site, the log's verifier key and the software
 * version. At every start it compares the node's region, site,
 * witnesses and keys (the log's verifier key, the sample key's ID) with
 * <data>/log.settings and appends what changed. A log.key other than the
 * recorded one is a key handover (docs/LOG.md): only with the recorded
 * key in <data>/log.key.old, and then the log goes on under the new key
 * from the tree the old key signed, after a key-change entry that holds
 * the handover note both keys signed (tlog/handover.h), which is also
 * kept in <data>/log.handover.
 *
 * Origin. A new log's origin is the configured one or
 * vigil.local/<region>/<log key ID> (config_log_origin()), recorded in
 * log.settings and kept across handovers; a log from before origins were
 * recorded keeps the one its checkpoint names.
 *
 * Appends go through the sequencer, a batcher (batcher.h): every entry
 * waiting is appended as one batch, made durable and covered by one new
 * signed checkpoint, and only then is each item handed back to the event
 * loop that submitted it (group commit).
 *
 * PostgreSQL (cfg's store_backend): the log is the region's, in the
 * cluster (store/tlog_pg.h; docs/LOG.md, "A region on PostgreSQL"), and
 * what log.settings records is the region's record there, which the
 * node's keys must match (nodelog_recorded() refuses a data directory
 * without log.key once the cluster holds a region). A batch is appended
 * by this node while it holds the sequencer lease, or else handed to the
 * node that does; either way an item comes back only once the commit
 * that covers it returned (rc 0), or with VG_EIO when no sequencer took
 * it within 10 s (withdrawn) or the outcome is unknown. Reads
 * (nodelog_log()) serve the committed head, followed every 200 ms.
 */
#ifndef VIGIL_NODE_NODELOG_H
#define VIGIL_NODE_NODELOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/batcher.h"
#include "node/config.h"
#include "node/keyholder.h"
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

/* What the data directory says about the log before its keys are
 * loaded. */
struct nodelog_recorded {
	char origin[NOTE_ORIGIN_MAX + 1]; /* "": a new log, not known yet */
	char log_key[NOTE_KEY_MAX];       /* the recorded log key, or "" */
};

/*
 * Reads the log's origin (the configured one, else the one log.settings
 * records, else the first line of an existing checkpoint) and its recorded
 * key into *r, for keyholder_start(). Returns 0, or VG_ECORRUPT or
 * VG_EIO with a message in err.
 */
int nodelog_recorded(const struct node_config *cfg, struct nodelog_recorded *r,
		     char *err, size_t errlen);

/*
 * Opens (creating on first start) the node's log, as described above,
 * with kh's log key (and, for a handover, its old key), and kh's sample
 * key ID for the first entry. Finished appends of port k are announced on
 * notify_fds[k]. Returns 0 or a VG_E* code with a message in err (a
 * log.key that is not the recorded key without the recorded key in
 * log.key.old is VG_EINVAL, with what to do).
 */
int nodelog_open(const struct node_config *cfg, struct keyholder *kh,
		 const int *notify_fds, unsigned nports, struct nodelog **out,
		 char *err, size_t errlen);

/* The latest handover note (NULL if the log's key was never handed
 * over) and its length in *len; owned by nl. */
const char *nodelog_handover(const struct nodelog *nl, size_t *len);

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
