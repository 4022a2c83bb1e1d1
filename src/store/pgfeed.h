/*
 * pgfeed.h - what the other nodes of a region changed, as it commits:
 * a session that LISTENs on the store's channels and hands each changed
 * sample to the node, which refreshes its in-memory lookup index.
 *
 * The PostgreSQL store NOTIFYs, in the transaction that changes them,
 * the SHA-256s of the reputation rows it wrote ('vigil_reputation',
 * space-separated) and of the retractions it put in force or ended
 * ('vigil_retraction'). PostgreSQL delivers a notification when its
 * transaction commits, to every session listening then, in commit order.
 * So a node's index lags a commit by the notification's trip and the
 * row's read: milliseconds, bounded by the feed's poll (PGFEED_POLL_MS)
 * only when the session is idle.
 *
 * What a notification cannot give is what was committed while no session
 * listened: between the node's start and its first LISTEN, and across a
 * lost session (the server restarted, the cluster failed over to the
 * standby, which never had the listeners). So:
 *   - pgfeed_open() LISTENs before it returns: build the index after it,
 *     then pgfeed_run(); whatever committed during the build is delivered
 *     then, and applying a row twice is harmless (the row is read anew);
 *   - after a lost session, the feed reconnects (the DSN's hosts in turn:
 *     after a failover, the new primary) with a growing pause up to 1 s,
 *     LISTENs again, and calls fn with PGFEED_RESYNC: the node reads
 *     every row again. Until then, pgfeed_healthy() says why not.
 *
 * Threads: fn runs on the feed's own thread, one call at a time.
 */
#ifndef VIGIL_STORE_PGFEED_H
#define VIGIL_STORE_PGFEED_H

#include <stdbool.h>
#include <stddef.h>

/* The channels the PostgreSQL store notifies. */
#define PGFEED_CHANNEL_REPUTATION "vigil_reputation"
#define PGFEED_CHANNEL_RETRACTION "vigil_retraction"

/* How long an idle session waits before it checks the server is there,
 * and refreshes which sessions are the node's own. */
#define PGFEED_POLL_MS 1000

enum pgfeed_event {
	PGFEED_REPUTATION, /* sha256's reputation row changed */
	PGFEED_RETRACTION, /* a retraction of sha256 began or ended */
	PGFEED_RESYNC,     /* anything may have changed: read it all */
};

/* sha256 is 64 lowercase hex digits, NULL for PGFEED_RESYNC. */
typedef void (*pgfeed_fn)(void *ud, enum pgfeed_event ev, const char *sha256);

struct pgfeed;

/*
 * Connects to dsn's primary as application app and LISTENs on both
 * channels. Notifications wait, undelivered, until pgfeed_run(). self,
 * if not NULL, is the application_name of the node's own store sessions:
 * what they notify is not delivered (the node has applied its own
 * changes already), which spares a read of the row per change of its
 * own. Which sessions those are is read again every PGFEED_POLL_MS; a
 * notification from one not known yet is delivered, which is harmless.
 * Returns 0 and *out, or a VG_E* code with a message in err.
 */
int pgfeed_open(const char *dsn, const char *app, const char *self,
		pgfeed_fn fn, void *ud, struct pgfeed **out, char *err,
		size_t errlen) __attribute__((warn_unused_result));

/* Starts delivering, on the feed's thread. Returns 0 or VG_ELIB. */
int pgfeed_run(struct pgfeed *f);

/* True while the session listens; false with why (since when it was
 * lost, and the server's last message) in why[0..len) otherwise. */
bool pgfeed_healthy(struct pgfeed *f, char *why, size_t len);

/* Changed samples delivered so far, and notifications of the node's
 * own sessions passed over (for metrics). */
unsigned long long pgfeed_delivered(struct pgfeed *f);
unsigned long long pgfeed_own(struct pgfeed *f);

/* Stops the thread and closes the session; accepts NULL. */
void pgfeed_close(struct pgfeed *f);

#endif
