/*
 * ingest.c - the committer thread behind POST /v1/submissions; see
 * ingest.h.
 *
 * The queue and the list of finished items are guarded by one mutex; the
 * committer holds it only to move items between them, never while it
 * hashes, writes or syncs. Everything else (the store handle, the digest
 * context, the sample store's writer side) belongs to the committer
 * thread alone.
 */
#include "node/ingest.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "engine/digest.h"

struct ingest {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ingest_item *q_head, *q_tail; /* waiting */
	struct port {                        /* finished, not yet taken */
		struct ingest_item *head, *tail;
		int notify_fd;
		bool told;
	} * ports;
	unsigned nports;
	uint64_t q_n, q_bytes;
	bool stopping;
	struct ingest_stats stats;
	/* The committer's own. */
	struct store *store;
	struct samples *samples;
	struct digest *digest;
	pthread_t thread;
};

static void
hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Hashes it and finds or appends its sample; *loc is where the bytes
 * were appended, NULL when the store had them already. The item's rc
 * says whether it can go on to the transaction. */
static void
place(struct ingest *g, struct ingest_item *it, struct ingest_item **batch,
      size_t i, struct sample_loc *locs, const struct sample_loc **loc,
      bool *appended)
{
	struct digest_result dr;
	int rc;

	*loc = NULL;
	*appended = false;
	if (digest_buffer(g->digest, it->body ? (void *)it->body : "", it->len,
			  false, &dr) != 0) {
		it->rc = VG_ELIB;
		return;
	}
	hex(dr.md5, 16, it->md5);
	hex(dr.sha1, 20, it->sha1);
	hex(dr.sha256, 32, it->sha256);
	/* The same sample earlier in this batch: share its bytes. */
	for (size_t k = 0; k < i; k++) {
		if (batch[k]->rc == 0 &&
		    strcmp(batch[k]->sha256, it->sha256) == 0) {
			*loc = locs[k].segment != 0 ? &locs[k] : NULL;
			return;
		}
	}
	rc = g->store->ops->sample_locate(g->store, it->sha256, &locs[i]);
	if (rc == 0) {
		memset(&locs[i], 0, sizeof(locs[i]));
		return;
	}
	if (rc != VG_ENOENT) {
		log_event(LOG_ERROR, "store_failed",
			  "op=sample_locate err=\"%s\"", g->store->err);
		it->rc = rc;
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
commit_batch(struct ingest *g, struct ingest_item **batch, size_t n)
{
	struct sample_loc *locs = xcalloc(n, sizeof(*locs));
	const struct sample_loc **loc = xcalloc(n, sizeof(*loc));
	struct submission_add *adds = xcalloc(n, sizeof(*adds));
	struct submission *subs = xcalloc(n, sizeof(*subs));
	bool *appended = xcalloc(n, sizeof(*appended));
	size_t m = 0, stored = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		batch[i]->rc = 0;
		place(g, batch[i], batch, i, locs, &loc[i], &appended[i]);
		stored += appended[i];
	}
	/* The bytes are durable before any row can point at them. */
	if (stored > 0 && (rc = samples_sync(g->samples)) != 0) {
		log_event(LOG_ERROR, "sample_store_failed",
			  "op=sync samples=%zu err=\"%s\"", stored,
			  vg_strerror(rc));
		for (size_t i = 0; i < n; i++)
			if (loc[i] != NULL && batch[i]->rc == 0)
				batch[i]->rc = rc;
		stored = 0;
	}
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
		adds[m].size = it->len;
		adds[m].loc = loc[i];
		m++;
	}
	if (m > 0 &&
	    (rc = g->store->ops->submission_add_many(g->store, adds, m)) != 0)
		log_event(LOG_ERROR, "store_failed",
			  "op=submission_add_many items=%zu err=\"%s\"", m,
			  g->store->err);
	for (size_t i = 0, k = 0; i < n; i++) {
		struct ingest_item *it = batch[i];

		if (it->rc == 0) {
			it->rc = adds[k].rc;
			it->new_job = adds[k].new_job;
			it->job = adds[k].job;
			if (it->rc == 0)
				it->have_rep = g->store->ops->reputation_get(
						       g->store, it->sha256,
						       &it->rep) == 0;
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
	pthread_mutex_lock(&g->mu);
	g->stats.batches += m > 0;
	g->stats.items += m;
	g->stats.samples_stored += stored;
	pthread_mutex_unlock(&g->mu);
	free(appended);
	free(subs);
	free(adds);
	free(loc);
	free(locs);
}

static void *
committer(void *arg)
{
	struct ingest *g = arg;
	struct ingest_item *batch[INGEST_BATCH_MAX];

	pthread_setname_np(pthread_self(), "vigild-ingest");
	pthread_mutex_lock(&g->mu);
	for (;;) {
		uint64_t bytes = 0;
		size_t n = 0;
		char b = 'i';

		while (g->q_head == NULL && !g->stopping)
			pthread_cond_wait(&g->cv, &g->mu);
		if (g->q_head == NULL)
			break;
		/* Everything waiting, up to the batch limits; always one. */
		while (g->q_head != NULL && n < INGEST_BATCH_MAX &&
		       (n == 0 ||
			bytes + g->q_head->len <= INGEST_BATCH_MAX_BYTES)) {
			struct ingest_item *it = g->q_head;

			g->q_head = it->next;
			it->next = NULL;
			bytes += it->len;
			batch[n++] = it;
		}
		if (g->q_head == NULL)
			g->q_tail = NULL;
		g->q_n -= n;
		g->q_bytes -= bytes;
		pthread_mutex_unlock(&g->mu);

		commit_batch(g, batch, n);

		pthread_mutex_lock(&g->mu);
		for (size_t i = 0; i < n; i++) {
			struct port *p = &g->ports[batch[i]->port];

			if (p->tail != NULL)
				p->tail->next = batch[i];
			else
				p->head = batch[i];
			p->tail = batch[i];
			p->told = false;
		}
		for (unsigned k = 0; k < g->nports; k++) {
			struct port *p = &g->ports[k];

			if (p->head == NULL || p->told)
				continue;
			p->told = true;
			/* A full pipe already says there is something to
			 * take. */
			if (write(p->notify_fd, &b, 1) < 0 && errno != EAGAIN)
				log_event(LOG_ERROR, "notify_failed",
					  "err=\"%s\"", strerror(errno));
		}
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

int
ingest_start(const char *db_path, struct samples *samples,
	     const int *notify_fds, unsigned nports, struct ingest **out,
	     char *err, size_t errlen)
{
	struct ingest *g = xcalloc(1, sizeof(*g));
	int rc;

	*out = NULL;
	g->nports = nports;
	g->ports = xcalloc(nports, sizeof(*g->ports));
	for (unsigned k = 0; k < nports; k++)
		g->ports[k].notify_fd = notify_fds[k];
	if ((rc = store_sqlite_open(db_path, &g->store, err, errlen)) != 0) {
		free(g->ports);
		free(g);
		return rc;
	}
	if ((g->digest = digest_new()) == NULL) {
		snprintf(err, errlen, "cannot initialise the digests");
		g->store->ops->close(g->store);
		free(g->ports);
		free(g);
		return VG_ELIB;
	}
	g->samples = samples;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	if ((rc = pthread_create(&g->thread, NULL, committer, g)) != 0) {
		snprintf(err, errlen, "cannot start the committer: %s",
			 strerror(rc));
		pthread_cond_destroy(&g->cv);
		pthread_mutex_destroy(&g->mu);
		digest_free(g->digest);
		g->store->ops->close(g->store);
		free(g->ports);
		free(g);
		return VG_ENOMEM;
	}
	*out = g;
	return 0;
}

int
ingest_submit(struct ingest *g, struct ingest_item *it)
{
	pthread_mutex_lock(&g->mu);
	if (g->q_bytes + it->len > INGEST_MAX_QUEUED_BYTES && g->q_n > 0) {
		pthread_mutex_unlock(&g->mu);
		return VG_ELIMIT;
	}
	it->next = NULL;
	if (g->q_tail != NULL)
		g->q_tail->next = it;
	else
		g->q_head = it;
	g->q_tail = it;
	g->q_n++;
	g->q_bytes += it->len;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	return 0;
}

struct ingest_item *
ingest_take_done(struct ingest *g, unsigned port)
{
	struct ingest_item *l = NULL;

	pthread_mutex_lock(&g->mu);
	if (port < g->nports) {
		l = g->ports[port].head;
		g->ports[port].head = g->ports[port].tail = NULL;
		g->ports[port].told = false;
	}
	pthread_mutex_unlock(&g->mu);
	return l;
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

void
ingest_get_stats(struct ingest *g, struct ingest_stats *out)
{
	pthread_mutex_lock(&g->mu);
	*out = g->stats;
	out->queued = g->q_n;
	out->queued_bytes = g->q_bytes;
	pthread_mutex_unlock(&g->mu);
}

void
ingest_stop(struct ingest *g)
{
	struct ingest_item *it, *next;

	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	g->stopping = true;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->thread, NULL);
	for (unsigned k = 0; k < g->nports; k++)
		for (it = g->ports[k].head; it != NULL; it = next) {
			next = it->next;
			ingest_item_free(it);
		}
	free(g->ports);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	digest_free(g->digest);
	g->store->ops->close(g->store);
	free(g);
}
