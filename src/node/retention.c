/*
 * retention.c - the retention sweep; see retention.h.
 *
 * Order within a batch, as for an erasure (me.c): the store clears the
 * expired samples' locations and records them as pending erasures in the
 * batch's commit; then the bytes are erased (samples_erase) and each is
 * marked done. A crash in between leaves them pending, erased at the
 * next start (me_erase_pending). The log entry comes after the pass:
 * it says what was deleted, so it is written once that is true.
 */
#include "node/retention.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "node/index.h"
#include "node/nodelog.h"
#include "tlog/entry.h"

#define DAY_S INT64_C(86400)

struct retention_sweeper {
	struct node *node;
	struct store *store;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct retention_stats st; /* under mu */
};

static bool
stopping(struct retention_sweeper *r)
{
	bool s;

	pthread_mutex_lock(&r->mu);
	s = r->stop;
	pthread_mutex_unlock(&r->mu);
	return s;
}

/* The sequencer is done with the entry (loop 0's thread); owns it. */
static void
on_logged(struct nodelog_item *it)
{
	if (it->rc != 0)
		log_event(LOG_ERROR, "retention_unlogged", "err=\"%s\"",
			  it->err);
	else
		log_event(LOG_INFO, "retention_logged", "index=%llu",
			  (unsigned long long)it->index);
	nodelog_item_free(it);
}

/* Appends the pass's `retention` entry through the sequencer. */
static void
log_pass(struct retention_sweeper *r, const struct retention_stats *p)
{
	const struct node_config *c = &r->node->cfg;
	struct nodelog_item *it;
	struct tlog_entry te;
	char err[256], *text = NULL;
	size_t len;

	if (r->node->log == NULL)
		return;
	memset(&te, 0, sizeof(te));
	te.type = TLOG_ENTRY_RETENTION;
	te.time = (int64_t)time(NULL);
	te.retention.sample_days = c->sample_days;
	te.retention.metadata_days = c->metadata_days;
	te.retention.samples_erased = p->erased;
	te.retention.submissions = p->submissions;
	te.retention.samples_unlinked = p->unlinked;
	if (tlog_entry_encode(&te, &text, &len, err, sizeof(err)) != 0)
		fatal("a retention entry does not encode: %s", err);
	it = xcalloc(1, sizeof(*it));
	it->entry = (uint8_t *)text;
	it->len = len;
	it->done = on_logged;
	it->hdr.port = 0;
	if (nodelog_submit(r->node->log, it) != 0) {
		log_event(LOG_ERROR, "retention_unlogged", "err=\"%s\"",
			  "too many entries waiting");
		nodelog_item_free(it);
	}
}

/* Erases the record at loc, then tells the store it is done. A failure
 * leaves it pending: erased again at the next start. */
static void
erase_one(struct retention_sweeper *r, const struct sample_loc *loc)
{
	int rc = samples_erase(r->node->samples, loc);

	if (rc == 0 && (rc = r->store->ops->erasure_done(r->store, loc)) != 0)
		log_event(LOG_WARN, "store_failed",
			  "op=erasure_done err=\"%s\"", r->store->err);
	else if (rc != 0)
		log_event(LOG_ERROR, "erase_failed",
			  "segment=%llu offset=%llu length=%llu err=\"%s\"",
			  (unsigned long long)loc->segment,
			  (unsigned long long)loc->offset,
			  (unsigned long long)loc->length, vg_strerror(rc));
}

/* The samples that lost clients, as the store has them now, into the
 * index. */
static void
reindex(struct retention_sweeper *r, const struct retention *b)
{
	struct node *node = r->node;

	for (size_t i = 0; i < b->nchanged; i++) {
		struct reputation rep;

		if (r->store->ops->reputation_get(r->store, b->changed[i],
						  &rep) != 0)
			continue;
		pthread_rwlock_wrlock(&node->index_lock);
		index_put(node->index, &rep);
		/* index_put keeps the larger count: a lower one is set. */
		index_set_prevalence(node->index, rep.sha256, rep.prevalence);
		pthread_rwlock_unlock(&node->index_lock);
		reputation_clear(&rep);
	}
}

static void
pass(struct retention_sweeper *r)
{
	const struct node_config *c = &r->node->cfg;
	int64_t now = (int64_t)time(NULL);
	int64_t bytes_before = now - (int64_t)c->sample_days * DAY_S;
	int64_t meta_before = now - (int64_t)c->metadata_days * DAY_S;
	struct retention_stats p;
	bool failed = false;

	memset(&p, 0, sizeof(p));
	for (int k = 0; k < RETENTION_PASS_BATCHES && !stopping(r); k++) {
		struct retention b;

		if (r->store->ops->retention_sweep(r->store, bytes_before,
						   meta_before, RETENTION_BATCH,
						   &b) != 0) {
			log_event(LOG_WARN, "store_failed",
				  "op=retention_sweep err=\"%s\"",
				  r->store->err);
			failed = true;
			break;
		}
		if (b.busy) {
			log_event(LOG_INFO, "retention_busy",
				  "reason=\"another node of the region is "
				  "sweeping\"");
			retention_clear(&b);
			break;
		}
		for (uint64_t i = 0; i < b.erased; i++)
			erase_one(r, &b.locs[i]);
		reindex(r, &b);
		p.erased += b.erased;
		p.submissions += b.submissions;
		p.unlinked += b.unlinked;
		if (b.erased < RETENTION_BATCH &&
		    b.submissions < RETENTION_BATCH) {
			retention_clear(&b);
			break;
		}
		retention_clear(&b);
	}
	pthread_mutex_lock(&r->mu);
	r->st.passes++;
	r->st.erased += p.erased;
	r->st.submissions += p.submissions;
	r->st.unlinked += p.unlinked;
	r->st.failures += failed;
	pthread_mutex_unlock(&r->mu);
	if (p.erased + p.submissions + p.unlinked == 0)
		return;
	log_event(LOG_INFO, "retention_swept",
		  "samples_erased=%llu submissions=%llu samples_unlinked=%llu "
		  "sample_days=%u metadata_days=%u",
		  (unsigned long long)p.erased,
		  (unsigned long long)p.submissions,
		  (unsigned long long)p.unlinked, c->sample_days,
		  c->metadata_days);
	log_pass(r, &p);
}

static void *
sweep_main(void *arg)
{
	struct retention_sweeper *r = arg;

	for (;;) {
		struct timespec until;

		pass(r);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += RETENTION_INTERVAL_S;
		pthread_mutex_lock(&r->mu);
		while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu,
							  &until) != ETIMEDOUT)
			;
		if (r->stop) {
			pthread_mutex_unlock(&r->mu);
			return NULL;
		}
		pthread_mutex_unlock(&r->mu);
	}
}

int
retention_start(struct node *node, struct retention_sweeper **out, char *err,
		size_t errlen)
{
	struct retention_sweeper *r = xcalloc(1, sizeof(*r));
	int rc;

	r->node = node;
	if ((rc = store_open(&node->spec, &r->store, err, errlen)) != 0) {
		free(r);
		return rc;
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (pthread_create(&r->thread, NULL, sweep_main, r) != 0) {
		snprintf(err, errlen, "cannot start the retention sweep");
		r->store->ops->close(r->store);
		pthread_mutex_destroy(&r->mu);
		pthread_cond_destroy(&r->cv);
		free(r);
		return VG_EIO;
	}
	*out = r;
	return 0;
}

void
retention_stats(struct retention_sweeper *r, struct retention_stats *st)
{
	pthread_mutex_lock(&r->mu);
	*st = r->st;
	pthread_mutex_unlock(&r->mu);
}

void
retention_stop(struct retention_sweeper *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	r->store->ops->close(r->store);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
}
