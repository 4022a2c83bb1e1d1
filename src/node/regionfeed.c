/*
 * regionfeed.c - the region's changes into this node's index; see
 * regionfeed.h.
 */
#include "node/regionfeed.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "node/node.h"
#include "store/pgfeed.h"

struct regionfeed {
	struct node *node;
	struct pgfeed *feed;
	struct store *store; /* the feed thread's own handle */
	atomic_ullong applied, resyncs;
};

static void
put_row(struct regionfeed *rf, const struct reputation *r)
{
	pthread_rwlock_wrlock(&rf->node->index_lock);
	/* index_put() keeps the higher of two prevalences, as it must for
	 * the node's own answers racing each other; a row read back from
	 * the store after another node's commit is the count as it is now,
	 * which an erasure or the retention sweep may have lowered. */
	if (index_put(rf->node->index, r) != 0 ||
	    index_set_prevalence(rf->node->index, r->sha256, r->prevalence) !=
		    0)
		log_event(LOG_WARN, "bad_reputation_row", "sha256=%.64s",
			  r->sha256);
	pthread_rwlock_unlock(&rf->node->index_lock);
}

static int
put_cb(const struct reputation *r, void *ud)
{
	put_row(ud, r);
	return 0;
}

static void
set_retraction(struct regionfeed *rf, const char *sha256,
	       const struct retraction *r)
{
	pthread_rwlock_wrlock(&rf->node->index_lock);
	/* VG_ENOENT: the index does not hold the sample yet; its row, when
	 * it comes, is put with what the store says then. */
	(void)index_set_retraction(rf->node->index, sha256,
				   r ? (int64_t)r->log_index : -1,
				   r ? r->detections : NULL);
	pthread_rwlock_unlock(&rf->node->index_lock);
}

static int
retraction_cb(const struct retraction *r, void *ud)
{
	set_retraction(ud, r->sha256, r);
	return 0;
}

/* Every row again, then every retraction: what changed while no session
 * listened. A retraction that ended meanwhile is lifted: every sample
 * the index holds as retracted and the store no longer does. */
static void
resync(struct regionfeed *rf)
{
	struct store *s = rf->store;
	char(*held)[65] = NULL;
	size_t n = 0;

	if (s->ops->reputation_each(s, put_cb, rf) != 0) {
		log_event(LOG_WARN, "resync_failed", "err=\"%s\"", s->err);
		return;
	}
	pthread_rwlock_rdlock(&rf->node->index_lock);
	index_retracted(rf->node->index, &held, &n);
	pthread_rwlock_unlock(&rf->node->index_lock);
	for (size_t i = 0; i < n; i++) {
		struct retraction r;
		int rc = s->ops->retraction_get(s, held[i], &r);

		if (rc == VG_ENOENT)
			set_retraction(rf, held[i], NULL);
		retraction_clear(&r);
	}
	free(held);
	if (s->ops->retraction_each(s, retraction_cb, rf) != 0)
		log_event(LOG_WARN, "resync_failed", "err=\"%s\"", s->err);
	atomic_fetch_add(&rf->resyncs, 1);
	log_event(LOG_INFO, "index_resynced", "samples=%zu",
		  index_count(rf->node->index));
}

static void
on_change(void *ud, enum pgfeed_event ev, const char *sha256)
{
	struct regionfeed *rf = ud;
	struct store *s = rf->store;
	int rc;

	if (ev == PGFEED_RESYNC) {
		resync(rf);
		return;
	}
	if (ev == PGFEED_REPUTATION) {
		struct reputation r;

		memset(&r, 0, sizeof(r));
		rc = s->ops->reputation_get(s, sha256, &r);
		if (rc == 0)
			put_row(rf, &r);
		reputation_clear(&r);
	} else {
		struct retraction r;

		memset(&r, 0, sizeof(r));
		rc = s->ops->retraction_get(s, sha256, &r);
		if (rc == 0 || rc == VG_ENOENT)
			set_retraction(rf, sha256, rc == 0 ? &r : NULL);
		retraction_clear(&r);
	}
	if (rc != 0 && rc != VG_ENOENT)
		/* The store's session failed; the feed's own will notice
		 * and resync if the server is gone. */
		log_event(LOG_WARN, "feed_read_failed", "sha256=%s err=\"%s\"",
			  sha256, s->err);
	else
		atomic_fetch_add(&rf->applied, 1);
}

int
regionfeed_open(struct node *node, struct regionfeed **out, char *err,
		size_t errlen)
{
	struct regionfeed *rf = xcalloc(1, sizeof(*rf));
	char app[64], self[64];
	int rc;

	rf->node = node;
	snprintf(app, sizeof(app), "vigild %s feed", node->cfg.site);
	/* store_pg.c's name for this node's sessions. */
	snprintf(self, sizeof(self), "vigil store %.51s", node->spec.owner);
	if ((rc = store_open(&node->spec, &rf->store, err, errlen)) != 0 ||
	    (rc = pgfeed_open(node->spec.dsn, app, self, on_change, rf,
			      &rf->feed, err, errlen)) != 0) {
		regionfeed_close(rf);
		return rc;
	}
	*out = rf;
	return 0;
}

int
regionfeed_run(struct regionfeed *rf)
{
	return pgfeed_run(rf->feed);
}

bool
regionfeed_healthy(struct regionfeed *rf, char *why, size_t len)
{
	return pgfeed_healthy(rf->feed, why, len);
}

void
regionfeed_counts(struct regionfeed *rf, unsigned long long *applied,
		  unsigned long long *resyncs, unsigned long long *own)
{
	*applied = atomic_load(&rf->applied);
	*resyncs = atomic_load(&rf->resyncs);
	*own = pgfeed_own(rf->feed);
}

void
regionfeed_close(struct regionfeed *rf)
{
	if (rf == NULL)
		return;
	pgfeed_close(rf->feed);
	if (rf->store != NULL)
		rf->store->ops->close(rf->store);
	free(rf);
}
