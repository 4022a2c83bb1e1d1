/*
 * tlog_pg.h - the transparency log of a region kept in PostgreSQL: a
 * backend for the tiled log (struct tlog_backend, src/tlog/log.h), the
 * sequencer lease with its fencing token, the appends other nodes hand
 * to the sequencer, and the region's identity (docs/LOG.md, "A region on
 * PostgreSQL").
 *
 * Tables (component "tlog" of the schema, pg_migrate()):
 *   tlog_tile(path, data)       every entry bundle and hash tile by its
 *                               tlog-tiles path, written once
 *   tlog_head(size, root,       the one head: the tree the log is at, its
 *     checkpoint, epoch)        signed checkpoint, and the fencing epoch
 *   tlog_region(...)            what the region's log was created with
 *                               (origin, log key, sample key ID, region)
 *   tlog_site(site, ...)        what each site last recorded (location,
 *                               witnesses, sample key ID)
 *   log_pending(id, entries)    appends a node without the lease handed
 *                               over, one row per batch of entries
 *   log_done(pending_id, idx,   where each taken row went (or why it was
 *     size, error)              refused), for the node that waits for it
 *
 * The lease. A node sequences the log while it holds a session advisory
 * lock (TLOG_PG_LEASE_KEY) on its lease connection; taking it bumps the
 * head's epoch, its fencing token. Every batch is one transaction on that
 * connection that first locks the head row where epoch is its own and
 * size is the size it appends to, and ends with
 *   UPDATE tlog_head SET size, root, checkpoint WHERE epoch = mine AND
 *   size = old
 * which must hit one row, or the transaction is rolled back: a node whose
 * lease was taken over (its session died, a failover dropped its lock,
 * another node bumped the epoch) can never append, even with a session
 * that still lives. The tiles, the head and the checkpoint commit
 * together, so the file backend's state-then-checkpoint order is not
 * needed; a lost COMMIT makes the next append wait for a reload.
 *
 * Synchronous replication. Acknowledgement waits for COMMIT, which with
 * synchronous_commit on (the default; the session never lowers it) and
 * a synchronous standby returns once the standby has the commit.
 *
 * Threads. The lease connection is one thread's at a time: the log's
 * appends (under its writer lock) and the lease and pending calls below
 * must be serialized by the caller (nodelog.c holds one mutex around
 * them). Readers (the backend's read() and head() in a reader's view, and
 * the follower's pending calls) take a connection of a small pool, any
 * thread.
 */
#ifndef VIGIL_STORE_TLOG_PG_H
#define VIGIL_STORE_TLOG_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tlog/log.h"
#include "tlog/tile.h"

/* The advisory lock key of the sequencer lease. */
#define TLOG_PG_LEASE_KEY "6181417763591988068"
/* The NOTIFY channel a committed batch signals (payload: the size). */
#define TLOG_PG_CHANNEL "vigil_tlog"
/* Reader connections at most. */
#define TLOG_PG_READERS 4

struct tlog_pg;

/*
 * Connects to dsn (application_name app) and brings the "tlog" tables to
 * this build's version. The handle holds no lease yet. Returns 0 and the
 * handle in *out for tlog_pg_close(), or VG_EINVAL, VG_EIO.
 */
int tlog_pg_open(const char *dsn, const char *app, struct tlog_pg **out,
		 char *err, size_t errlen) __attribute__((warn_unused_result));

/* Closes every connection (a lease held is released with its session);
 * accepts NULL. */
void tlog_pg_close(struct tlog_pg *tp);

/* The backend to give tlog_log_open_backend(); owned by tp. */
const struct tlog_backend *tlog_pg_backend(struct tlog_pg *tp);

/*
 * Tries to hold the lease: if tp holds it, checks that its session
 * lives (else it is lost: *held false, and the connection is opened
 * again for the next try); if not, takes the advisory lock without
 * waiting and, if it got it, bumps the epoch (creating the head, size 0,
 * on an empty database). *held says whether tp holds it now. The caller
 * then reloads the log (tlog_log_reload()) before appending. Returns 0,
 * or VG_EIO with *held false.
 */
int tlog_pg_lease(struct tlog_pg *tp, bool *held, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Gives the lease up (unlocks; the epoch stays for the next holder). */
void tlog_pg_unlease(struct tlog_pg *tp);

/* Whether tp believes it holds the lease, and its epoch (0 if none). */
bool tlog_pg_leased(const struct tlog_pg *tp);
int64_t tlog_pg_epoch(const struct tlog_pg *tp);

/* ---- appends handed to the sequencer ---- */

/*
 * The follower's side: inserts the n entries as one log_pending row
 * (committed before it returns) and its id in *id. Returns 0, VG_ELIMIT
 * (an entry over TILE_ENTRY_MAX), VG_EIO.
 */
int tlog_pg_pending_add(struct tlog_pg *tp, const struct tile_entry *e,
			size_t n, int64_t *id, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Whether row id was appended: 0 and *first (the index of its first
 * entry) and *size (the tree that covered it), removing the record;
 * VG_ENOENT if it waits still; VG_EINVAL (with the sequencer's reason)
 * if it was refused; VG_EIO.
 */
int tlog_pg_pending_result(struct tlog_pg *tp, int64_t id, uint64_t *first,
			   uint64_t *size, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Gives up on row id (the wait was too long). Returns 0 with *appended
 * false if the row was deleted before any sequencer took it (it will
 * never be appended), or 0 with *appended true and *first and *size if a
 * sequencer appended it meanwhile; VG_EINVAL if it was refused; VG_EIO
 * if neither can be told (the row stays, and may still be appended).
 */
int tlog_pg_pending_cancel(struct tlog_pg *tp, int64_t id, bool *appended,
			   uint64_t *first, uint64_t *size, char *err,
			   size_t errlen) __attribute__((warn_unused_result));

/*
 * The sequencer's side, on the lease connection: opens the next batch's
 * transaction now and takes up to max_rows pending rows into it (FOR
 * UPDATE SKIP LOCKED, oldest first). Their entries, in order, are in
 * *entries (owned by tp until the batch ends) and *n; the caller appends
 * them FIRST in its batch, then its own. The batch's commit records
 * where each row went and deletes it; a batch that fails leaves the rows
 * for the next one. Rows that do not decode are refused (recorded with a
 * reason) in the same commit. Returns 0 (with *n possibly 0: then call
 * tlog_pg_batch_abort() unless appending something else), VG_EIO.
 */
int tlog_pg_pending_take(struct tlog_pg *tp, size_t max_rows,
			 const struct tile_entry **entries, size_t *n,
			 char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Rolls back a batch that tlog_pg_pending_take() opened and no append
 * ended (idempotent). */
void tlog_pg_batch_abort(struct tlog_pg *tp);

/* ---- the region's identity ---- */

/* What the region's log was created with, and what each site recorded
 * last; "" for what is not recorded. */
struct tlog_pg_region {
	char origin[NOTE_NAME_MAX + 1];
	char log_key[NOTE_KEY_MAX];
	char sample_key[128];
	char region[64];
};

/*
 * Reads the region's record into *r: 0, or VG_ENOENT if the database
 * holds no region's log yet, VG_ECORRUPT, VG_EIO.
 */
int tlog_pg_region_get(struct tlog_pg *tp, struct tlog_pg_region *r, char *err,
		       size_t errlen) __attribute__((warn_unused_result));

/* Records r as the region's unless one is recorded already: 0 (*created
 * says which), VG_EIO. */
int tlog_pg_region_put(struct tlog_pg *tp, const struct tlog_pg_region *r,
		       bool *created, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* What site last recorded (its settings text, nodelog.c's log.settings
 * format) in *text (malloc'd; NULL if none), and records a new one. */
int tlog_pg_site_get(struct tlog_pg *tp, const char *site, char **text,
		     char *err, size_t errlen)
	__attribute__((warn_unused_result));
int tlog_pg_site_put(struct tlog_pg *tp, const char *site, const char *text,
		     char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
