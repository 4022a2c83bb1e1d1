/*
 * ingest.c - the committers behind POST /v1/submissions; see ingest.h.
 *
 * commit_batch() runs in a batcher's thread, one per committer; each
 * committer's store handle, digest context, sample store writer and
 * syncer belong to it alone. The counters are the only state shared, with
 * the loops and between committers.
 */
#include "node/ingest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "engine/digest.h"

struct ingest;

/* A committer: a batcher thread's context. */
struct committer {
	struct ingest *g;
	struct store *store;
	struct samples *samples;
	struct digest *digest;
	/* The syncer: a thread that makes a batch's sample bytes durable
	 * while the committer writes the batch's rows; the commit waits for
	 * it (sync_wait(), the transaction's barrier). */
	pthread_t sync_thread;
	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cv;
	int sync_state; /* SYNC_IDLE, SYNC_ASKED, SYNC_RUNNING, SYNC_DONE */
	int sync_rc;
	bool sync_stop;
	bool sync_started;
};

struct ingest {
	struct batcher *b;
	pthread_mutex_t mu; /* stats and the rate */
	struct ingest_stats stats;
	uint64_t win_start, win_items; /* the window being counted */
	uint64_t rate, rate_at;        /* the last full window's rate */
	unsigned n;
	struct committer c[INGEST_MAX_COMMITTERS];
};

enum { SYNC_IDLE, SYNC_ASKED, SYNC_RUNNING, SYNC_DONE };

/* Does the sync asked for (SYNC_ASKED), with sync_mu held; whichever
 * thread takes it first, the syncer or the committer at the barrier.
 * The committer touches no sample until SYNC_DONE. */
static void
run_sync(struct committer *g)
{
	int rc;

	g->sync_state = SYNC_RUNNING;
	pthread_mutex_unlock(&g->sync_mu);
	/* The batch's rows, committed after this returns (sync_wait()
	 * is the commit's barrier), are what makes the bytes durable in a
	 * region on PostgreSQL; on files this is the fdatasync. */
	rc = samples_sync_ordered(g->samples);
	pthread_mutex_lock(&g->sync_mu);
	g->sync_rc = rc;
	g->sync_state = SYNC_DONE;
	pthread_cond_broadcast(&g->sync_cv);
}

static void *
sync_main(void *arg)
{
	struct committer *g = arg;

	pthread_mutex_lock(&g->sync_mu);
	for (;;) {
		while (!g->sync_stop && g->sync_state != SYNC_ASKED)
			pthread_cond_wait(&g->sync_cv, &g->sync_mu);
		if (g->sync_state != SYNC_ASKED)
			break;
		run_sync(g);
	}
	pthread_mutex_unlock(&g->sync_mu);
	return NULL;
}

static void
sync_ask(struct committer *g)
{
	pthread_mutex_lock(&g->sync_mu);
	g->sync_state = SYNC_ASKED;
	pthread_cond_broadcast(&g->sync_cv);
	pthread_mutex_unlock(&g->sync_mu);
}

/* Ends the syncer thread (no sync is asked for any more). */
static void
sync_stop(struct committer *g)
{
	pthread_mutex_lock(&g->sync_mu);
	g->sync_stop = true;
	pthread_cond_broadcast(&g->sync_cv);
	pthread_mutex_unlock(&g->sync_mu);
	pthread_join(g->sync_thread, NULL);
}

/* Waits for the sync asked for; its result. Safe to call again. */
static int
sync_wait(void *ud)
{
	struct committer *g = ud;
	int rc;

	pthread_mutex_lock(&g->sync_mu);
	/* The syncer has not been scheduled yet (the cores are busy):
	 * waiting for it would add its wake-up to the sync. */
	if (g->sync_state == SYNC_ASKED)
		run_sync(g);
	while (g->sync_state == SYNC_RUNNING)
		pthread_cond_wait(&g->sync_cv, &g->sync_mu);
	rc = g->sync_state == SYNC_DONE ? g->sync_rc : 0;
	pthread_mutex_unlock(&g->sync_mu);
	return rc;
}

int
ingest_hash(struct ingest_item *it, struct digest *d)
{
	struct digest_result dr;

	if (digest_buffer(d, it->body ? (void *)it->body : "", it->len, false,
			  &dr) != 0)
		return VG_ELIB;
	digest_hex(dr.md5, 16, it->md5);
	digest_hex(dr.sha1, 20, it->sha1);
	digest_hex(dr.sha256, 32, it->sha256);
	it->hashed = true;
	return 0;
}

/* Counts n more committed submissions into the rate (g->mu held). */
static void
count_rate(struct ingest *g, uint64_t n)
{
	uint64_t now = clock_ms();

	if (g->win_start == 0 ||
	    now - g->win_start > 4 * INGEST_RATE_WINDOW_MS) {
		/* Nothing for a while: a new window starts here. */
		g->win_start = now;
		g->win_items = 0;
	}
	g->win_items += n;
	if (now - g->win_start >= INGEST_RATE_WINDOW_MS) {
		g->rate = g->win_items * 1000 / (now - g->win_start);
		g->rate_at = now;
		g->win_start = now;
		g->win_items = 0;
	}
}

uint64_t
ingest_rate(struct ingest *g)
{
	uint64_t rate;

	pthread_mutex_lock(&g->mu);
	rate = clock_ms() - g->rate_at <= 2 * INGEST_RATE_WINDOW_MS ? g->rate
								    : 0;
	pthread_mutex_unlock(&g->mu);
	return rate;
}

bool
ingest_backlog(struct ingest *g)
{
	uint64_t items, bytes;

	batcher_queued(g->b, &items, &bytes);
	return items > 0;
}

/* Hashes every item of the batch, then asks the store, in one call,
 * which of their samples it holds already (stored[i], and where in
 * locs[i]). An item that cannot be hashed, or a store that cannot
 * answer, fails the items concerned (their rc). */
static void
locate_all(struct committer *g, struct ingest_item **batch, size_t n,
	   struct sample_loc *locs, bool *stored)
{
	const char **hashes = xcalloc(n, sizeof(*hashes));
	size_t *which = xcalloc(n, sizeof(*which));
	struct sample_loc *found_at = xcalloc(n, sizeof(*found_at));
	bool *found = xcalloc(n, sizeof(*found));
	size_t m = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		struct ingest_item *it = batch[i];

		if (!it->hashed && (it->rc = ingest_hash(it, g->digest)) != 0)
			continue;
		hashes[m] = it->sha256;
		which[m++] = i;
	}
	rc = m > 0 ? g->store->ops->sample_locate_many(g->store, hashes, m,
						       found_at, found)
		   : 0;
	if (rc != 0)
		log_event(LOG_ERROR, "store_failed",
			  "op=sample_locate_many err=\"%s\"", g->store->err);
	for (size_t k = 0; k < m; k++) {
		size_t i = which[k];

		if (rc != 0)
			batch[i]->rc = rc;
		else if (found[k]) {
			stored[i] = true;
			locs[i] = found_at[k];
		}
	}
	free(found);
	free(found_at);
	free(which);
	free(hashes);
}

/* Finds or appends the item's sample (locate_all() said whether the store
 * has it); *loc is where the bytes were appended, NULL when the store
 * had them already. The item's rc says whether it can go on to the
 * transaction. */
static void
place(struct committer *g, struct ingest_item *it, struct ingest_item **batch,
      size_t i, struct sample_loc *locs, bool stored,
      const struct sample_loc **loc, bool *appended)
{
	int rc;

	*loc = NULL;
	*appended = false;
	if (it->rc != 0 || it->no_bytes)
		return;
	/* The same sample earlier in this batch: share its bytes (not a
	 * statement without any). */
	for (size_t k = 0; k < i; k++) {
		if (batch[k]->rc == 0 && !batch[k]->no_bytes &&
		    strcmp(batch[k]->sha256, it->sha256) == 0) {
			*loc = locs[k].segment != 0 ? &locs[k] : NULL;
			return;
		}
	}
	if (stored) {
		memset(&locs[i], 0, sizeof(locs[i]));
		return;
	}
	rc = samples_append(g->samples, it->sha256, it->body ? it->body : NULL,
			    it->len, &locs[i]);
	if (rc != 0) {
		log_event(LOG_ERROR, "sample_store_failed",
			  "sha256=%s err=\"%s\"", it->sha256, vg_strerror(rc));
		memset(&locs[i], 0, sizeof(locs[i]));
		it->rc = rc;
		return;
	}
	*loc = &locs[i];
	*appended = true;
}

/* Stores one batch: samples, one sync, rows, one commit. Every item ends
 * with its rc set. */
static void
commit_batch(void *ctx, struct batch_item **items, size_t n)
{
	struct committer *g = ctx;
	struct ingest_item **batch = (struct ingest_item **)items;
	struct sample_loc *locs = xcalloc(n, sizeof(*locs));
	const struct sample_loc **loc = xcalloc(n, sizeof(*loc));
	struct submission_add *adds = xcalloc(n, sizeof(*adds));
	struct submission *subs = xcalloc(n, sizeof(*subs));
	bool *appended = xcalloc(n, sizeof(*appended));
	bool *held = xcalloc(n, sizeof(*held));
	size_t m = 0, stored = 0;
	int rc;

	for (size_t i = 0; i < n; i++)
		batch[i]->rc = 0;
	locate_all(g, batch, n, locs, held);
	for (size_t i = 0; i < n; i++) {
		place(g, batch[i], batch, i, locs, held[i], &loc[i],
		      &appended[i]);
		stored += appended[i];
	}
	/* The bytes are durable before any row that points at them: the
	 * syncer syncs them while the rows are written, and the commit
	 * waits for it (a failed sync rolls the whole batch back). */
	if (stored > 0)
		sync_ask(g);
	for (size_t i = 0; i < n; i++) {
		struct ingest_item *it = batch[i];

		if (it->rc != 0)
			continue;
		memcpy(subs[m].id, it->id, sizeof(subs[m].id));
		memcpy(subs[m].client_id, it->client_id,
		       sizeof(subs[m].client_id));
		memcpy(subs[m].sha256, it->sha256, sizeof(subs[m].sha256));
		subs[m].metadata = it->metadata;
		subs[m].created = it->created;
		adds[m].sub = &subs[m];
		adds[m].md5 = it->md5;
		adds[m].sha1 = it->sha1;
		adds[m].size = it->no_bytes ? it->size : it->len;
		adds[m].loc = loc[i];
		adds[m].no_bytes = it->no_bytes;
		m++;
	}
	if (m > 0 &&
	    (rc = g->store->ops->submission_add_many(
		     g->store, adds, m, stored > 0 ? sync_wait : NULL, g)) != 0)
		log_event(LOG_ERROR, "store_failed",
			  "op=submission_add_many items=%zu err=\"%s\"", m,
			  g->store->err);
	/* Whatever happened, the syncer is done before the next batch
	 * appends: the sample store has one writer at a time. */
	if (stored > 0 && (rc = sync_wait(g)) != 0) {
		log_event(LOG_ERROR, "sample_store_failed",
			  "op=sync samples=%zu err=\"%s\"", stored,
			  vg_strerror(rc));
		stored = 0;
	}
	pthread_mutex_lock(&g->sync_mu);
	g->sync_state = SYNC_IDLE;
	pthread_mutex_unlock(&g->sync_mu);
	for (size_t i = 0, k = 0; i < n; i++) {
		struct ingest_item *it = batch[i];

		if (it->rc == 0) {
			it->rc = adds[k].rc;
			it->new_job = adds[k].new_job;
			it->job = adds[k].job;
			if (adds[k].have_rep) {
				it->rep = adds[k].rep;
				it->have_rep = true;
			}
			if (it->rc != 0 && it->rc != VG_EIO)
				log_event(LOG_WARN, "submission_refused",
					  "id=%s sha256=%s err=\"%s\"", it->id,
					  it->sha256, vg_strerror(it->rc));
			k++;
		}
		/* The plaintext is no longer needed here. */
		free(it->body);
		it->body = NULL;
	}
	pthread_mutex_lock(&g->g->mu);
	g->g->stats.batches += m > 0;
	g->g->stats.items += m;
	g->g->stats.samples_stored += stored;
	count_rate(g->g, m);
	pthread_mutex_unlock(&g->g->mu);
	free(held);
	free(appended);
	free(subs);
	free(adds);
	free(loc);
	free(locs);
}

/* Undoes committer_open(), whatever it got to. */
static void
committer_close(struct committer *c)
{
	if (c->sync_started) {
		sync_stop(c);
		pthread_cond_destroy(&c->sync_cv);
		pthread_mutex_destroy(&c->sync_mu);
		c->sync_started = false;
	}
	digest_free(c->digest);
	c->digest = NULL;
	if (c->store != NULL)
		c->store->ops->close(c->store);
	c->store = NULL;
}

/* A committer writing samples through samples, with a store handle of
 * its own. Returns 0 or a VG_E* code with err set. */
static int
committer_open(struct ingest *g, struct committer *c,
	       const struct store_spec *sp, struct samples *samples, char *err,
	       size_t errlen)
{
	int rc;

	c->g = g;
	c->samples = samples;
	if ((rc = store_open_writer(sp, &c->store, err, errlen)) != 0)
		return rc;
	if ((c->digest = digest_new()) == NULL) {
		snprintf(err, errlen, "cannot initialise the digests");
		committer_close(c);
		return VG_ELIB;
	}
	pthread_mutex_init(&c->sync_mu, NULL);
	pthread_cond_init(&c->sync_cv, NULL);
	if (pthread_create(&c->sync_thread, NULL, sync_main, c) != 0) {
		snprintf(err, errlen, "cannot start the sample syncer");
		pthread_cond_destroy(&c->sync_cv);
		pthread_mutex_destroy(&c->sync_mu);
		committer_close(c);
		return VG_ELIB;
	}
	c->sync_started = true;
	pthread_setname_np(c->sync_thread, "vigild-sync");
	return 0;
}

int
ingest_start(const struct store_spec *sp, struct samples *const *samples,
	     unsigned ncommitters, const int *notify_fds, unsigned nports,
	     struct ingest **out, char *err, size_t errlen)
{
	static const struct batch_limits lim = {
		.max_items = INGEST_BATCH_MAX,
		.max_bytes = INGEST_BATCH_MAX_BYTES,
		.max_queued = INGEST_MAX_QUEUED_BYTES,
	};
	struct ingest *g;
	void *ctxs[INGEST_MAX_COMMITTERS];
	int rc = 0;

	*out = NULL;
	if (ncommitters == 0 || ncommitters > INGEST_MAX_COMMITTERS) {
		snprintf(err, errlen, "%u committers (1 to %d)", ncommitters,
			 INGEST_MAX_COMMITTERS);
		return VG_EINVAL;
	}
	g = xcalloc(1, sizeof(*g));
	pthread_mutex_init(&g->mu, NULL);
	for (; g->n < ncommitters; g->n++) {
		if ((rc = committer_open(g, &g->c[g->n], sp, samples[g->n], err,
					 errlen)) != 0)
			goto fail;
		ctxs[g->n] = &g->c[g->n];
	}
	if ((rc = batcher_start("vigild-ingest", commit_batch, ctxs, g->n, &lim,
				notify_fds, nports, &g->b, err, errlen)) != 0)
		goto fail;
	*out = g;
	return 0;
fail:
	for (unsigned i = 0; i < g->n; i++)
		committer_close(&g->c[i]);
	pthread_mutex_destroy(&g->mu);
	free(g);
	return rc;
}

int
ingest_submit(struct ingest *g, struct ingest_item *it)
{
	it->hdr.bytes = it->len;
	return batcher_submit(g->b, &it->hdr);
}

struct ingest_item *
ingest_take_done(struct ingest *g, unsigned port)
{
	struct batch_item *l = batcher_take_done(g->b, port);

	/* Items begin with their batch_item, so the list is theirs. */
	for (struct batch_item *bi = l; bi != NULL; bi = bi->next)
		((struct ingest_item *)bi)->next =
			(struct ingest_item *)bi->next;
	return (struct ingest_item *)l;
}

void
ingest_item_free(struct ingest_item *it)
{
	if (it == NULL)
		return;
	free(it->metadata);
	free(it->body);
	if (it->have_rep)
		reputation_clear(&it->rep);
	free(it);
}

static void
free_done(struct batch_item *bi)
{
	ingest_item_free((struct ingest_item *)bi);
}

void
ingest_get_stats(struct ingest *g, struct ingest_stats *out)
{
	pthread_mutex_lock(&g->mu);
	*out = g->stats;
	pthread_mutex_unlock(&g->mu);
	batcher_queued(g->b, &out->queued, &out->queued_bytes);
}

void
ingest_stop(struct ingest *g)
{
	if (g == NULL)
		return;
	batcher_stop(g->b, free_done);
	for (unsigned i = 0; i < g->n; i++)
		committer_close(&g->c[i]);
	pthread_mutex_destroy(&g->mu);
	free(g);
}
