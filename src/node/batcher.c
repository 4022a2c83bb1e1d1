/*
 * batcher.c - see batcher.h.
 *
 * One mutex guards the queue and the ports' lists; the thread holds it
 * only to move items, never while the batch function runs.
 */
#include "node/batcher.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"

struct port {
	struct batch_item *head, *tail; /* finished, not yet taken */
	int notify_fd;
	bool told; /* a byte is in the pipe since the last take */
};

struct batcher {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch_item *q_head, *q_tail;
	uint64_t q_n, q_bytes;
	bool stopping;
	struct port *ports;
	unsigned nports;
	struct batch_limits lim;
	batch_fn fn;
	char name[16];
	unsigned nthreads;
	struct batch_thread {
		struct batcher *b;
		void *ctx;
		pthread_t thread;
	} threads[BATCHER_MAX_THREADS];
};

/* Puts the finished items on their ports and tells each port once. */
static void
hand_back(struct batcher *b, struct batch_item **items, size_t n)
{
	char byte = 'b';

	for (size_t i = 0; i < n; i++) {
		struct port *p = &b->ports[items[i]->port];

		items[i]->next = NULL;
		if (p->tail != NULL)
			p->tail->next = items[i];
		else
			p->head = items[i];
		p->tail = items[i];
	}
	for (unsigned k = 0; k < b->nports; k++) {
		struct port *p = &b->ports[k];

		if (p->head == NULL || p->told)
			continue;
		p->told = true;
		/* A full pipe already says there is something to take. */
		if (write(p->notify_fd, &byte, 1) < 0 && errno != EAGAIN)
			log_event(LOG_ERROR, "notify_failed",
				  "batcher=%s err=\"%s\"", b->name,
				  strerror(errno));
	}
}

static void *
run(void *arg)
{
	struct batch_thread *t = arg;
	struct batcher *b = t->b;
	struct batch_item **batch = xcalloc(b->lim.max_items, sizeof(*batch));

	pthread_setname_np(pthread_self(), b->name);
	pthread_mutex_lock(&b->mu);
	for (;;) {
		uint64_t bytes = 0;
		size_t n = 0;

		while (b->q_head == NULL && !b->stopping)
			pthread_cond_wait(&b->cv, &b->mu);
		if (b->q_head == NULL)
			break;
		/* Everything waiting, up to the limits; always one. */
		while (b->q_head != NULL && n < b->lim.max_items &&
		       (n == 0 ||
			bytes + b->q_head->bytes <= b->lim.max_bytes)) {
			struct batch_item *it = b->q_head;

			b->q_head = it->next;
			it->next = NULL;
			bytes += it->bytes;
			batch[n++] = it;
		}
		if (b->q_head == NULL)
			b->q_tail = NULL;
		b->q_n -= n;
		b->q_bytes -= bytes;
		pthread_mutex_unlock(&b->mu);

		b->fn(t->ctx, batch, n);

		pthread_mutex_lock(&b->mu);
		hand_back(b, batch, n);
	}
	pthread_mutex_unlock(&b->mu);
	free(batch);
	return NULL;
}

/* Stops and joins the threads started; each first does what is queued. */
static void
stop_threads(struct batcher *b)
{
	pthread_mutex_lock(&b->mu);
	b->stopping = true;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	for (unsigned i = 0; i < b->nthreads; i++)
		pthread_join(b->threads[i].thread, NULL);
}

int
batcher_start(const char *name, batch_fn fn, void *const *ctxs,
	      unsigned nthreads, const struct batch_limits *limits,
	      const int *notify_fds, unsigned nports, struct batcher **out,
	      char *err, size_t errlen)
{
	struct batcher *b;
	int rc = 0;

	*out = NULL;
	if (nports == 0 || limits->max_items == 0 || nthreads == 0 ||
	    nthreads > BATCHER_MAX_THREADS) {
		snprintf(err, errlen,
			 "batcher %s: no port, no item or %u threads", name,
			 nthreads);
		return VG_EINVAL;
	}
	b = xcalloc(1, sizeof(*b));
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->fn = fn;
	b->lim = *limits;
	b->nports = nports;
	b->ports = xcalloc(nports, sizeof(*b->ports));
	for (unsigned k = 0; k < nports; k++)
		b->ports[k].notify_fd = notify_fds[k];
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	for (; b->nthreads < nthreads; b->nthreads++) {
		struct batch_thread *t = &b->threads[b->nthreads];

		t->b = b;
		t->ctx = ctxs[b->nthreads];
		if ((rc = pthread_create(&t->thread, NULL, run, t)) != 0)
			break;
	}
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the %s thread: %s", name,
			 strerror(rc));
		stop_threads(b);
		pthread_cond_destroy(&b->cv);
		pthread_mutex_destroy(&b->mu);
		free(b->ports);
		free(b);
		return VG_ENOMEM;
	}
	*out = b;
	return 0;
}

int
batcher_submit(struct batcher *b, struct batch_item *it)
{
	if (it->port >= b->nports)
		return VG_EINVAL;
	pthread_mutex_lock(&b->mu);
	if (b->q_n > 0 && b->q_bytes + it->bytes > b->lim.max_queued) {
		pthread_mutex_unlock(&b->mu);
		return VG_ELIMIT;
	}
	it->next = NULL;
	if (b->q_tail != NULL)
		b->q_tail->next = it;
	else
		b->q_head = it;
	b->q_tail = it;
	b->q_n++;
	b->q_bytes += it->bytes;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	return 0;
}

struct batch_item *
batcher_take_done(struct batcher *b, unsigned port)
{
	struct batch_item *l = NULL;

	pthread_mutex_lock(&b->mu);
	if (port < b->nports) {
		l = b->ports[port].head;
		b->ports[port].head = b->ports[port].tail = NULL;
		b->ports[port].told = false;
	}
	pthread_mutex_unlock(&b->mu);
	return l;
}

void
batcher_queued(struct batcher *b, uint64_t *items, uint64_t *bytes)
{
	pthread_mutex_lock(&b->mu);
	*items = b->q_n;
	*bytes = b->q_bytes;
	pthread_mutex_unlock(&b->mu);
}

void
batcher_stop(struct batcher *b, void (*free_item)(struct batch_item *))
{
	struct batch_item *it, *next;

	if (b == NULL)
		return;
	stop_threads(b);
	for (unsigned k = 0; k < b->nports; k++)
		for (it = b->ports[k].head; it != NULL; it = next) {
			next = it->next;
			if (free_item != NULL)
				free_item(it);
		}
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b->ports);
	free(b);
}
