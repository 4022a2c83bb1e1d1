/*
 * stats_api.c - GET /v1/stats?day=YYYY-MM-DD; see stats_api.h and
 * docs/STATS.md.
 *
 * A day is published once: the first request for a completed day
 * computes its document (stats.c), stats_put stores it unless another
 * request or node of the region stored one first (then that one is the
 * day's), and the `stats` entry holding the SHA-256 of the stored bytes
 * is appended through the sequencer; the document is served only once
 * the entry is durable, with its index. Every later request, on any node
 * of the region, reads the same stored bytes: the noise is never drawn
 * again, so asking twice cannot average it away.
 *
 * A document stored but not yet logged (the node stopped in between, or
 * its append failed) is logged by the next request for it. Within this
 * node, a day being logged is marked pending, and a second request for
 * it waits (503, Retry-After) rather than log the same bytes twice; two
 * nodes of a region may still both log it, which is harmless (both
 * entries name the same bytes) and the first index recorded is served.
 */
#include "node/stats_api.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/text.h"
#include "common/xmalloc.h"
#include "node/access.h"
#include "node/api.h"
#include "node/stats.h"
#include "tlog/entry.h"
#include "tlog/log.h"

/* The days being logged by this node, and the count of days published. */
static pthread_mutex_t pending_mu = PTHREAD_MUTEX_INITIALIZER;
static char pending_days[STATS_PENDING_MAX][11];
static uint64_t published;

/* A request waiting for its day's entry. Allocated on its own (the log
 * item points to it, and outlives a client that leaves); the request's
 * pool holds a pointer back, cleared when the request goes. */
struct stats_hook;

struct stats_wait {
	h2o_req_t *req;          /* NULL once the client left */
	struct stats_hook *hook; /* in req's pool; NULL with req */
	struct node *node;
	struct api_loop *loop;
	char day[11];
};

struct stats_hook {
	struct stats_wait *w; /* NULL once the entry is done */
};

uint64_t
stats_api_published(void)
{
	return __atomic_load_n(&published, __ATOMIC_RELAXED);
}

/* Marks day pending; false if it is already, or too many are. */
static bool
pending_take(const char *day, bool *full)
{
	int free_slot = -1;

	*full = false;
	pthread_mutex_lock(&pending_mu);
	for (int i = 0; i < STATS_PENDING_MAX; i++) {
		if (strcmp(pending_days[i], day) == 0) {
			pthread_mutex_unlock(&pending_mu);
			return false;
		}
		if (pending_days[i][0] == '\0' && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0) {
		pthread_mutex_unlock(&pending_mu);
		*full = true;
		return false;
	}
	memcpy(pending_days[free_slot], day, 11);
	pthread_mutex_unlock(&pending_mu);
	return true;
}

static void
pending_drop(const char *day)
{
	pthread_mutex_lock(&pending_mu);
	for (int i = 0; i < STATS_PENDING_MAX; i++)
		if (strcmp(pending_days[i], day) == 0)
			pending_days[i][0] = '\0';
	pthread_mutex_unlock(&pending_mu);
}

/*
 * Reads ?day=YYYY-MM-DD of req into day and *start. Returns 0, or
 * answers 400 and returns -1: the one parameter, once, a day that
 * exists, in exactly that form.
 */
static int
parse_day(h2o_req_t *req, char day[11], int64_t *start)
{
	const char *q;
	size_t ql;

	if (req->query_at == SIZE_MAX)
		return api_send_error(req, ROUTE_STATS, 400, "day_required",
				      "give the day as ?day=YYYY-MM-DD"),
		       -1;
	q = req->path.base + req->query_at + 1;
	ql = req->path.len - req->query_at - 1;
	if (ql < 4 || memcmp(q, "day=", 4) != 0 || memchr(q, '&', ql) != NULL)
		return api_send_error(req, ROUTE_STATS, 400, "bad_request",
				      "the only query parameter is day, "
				      "once: ?day=YYYY-MM-DD"),
		       -1;
	if (!text_day_parse(q + 4, ql - 4, start))
		return api_send_error(req, ROUTE_STATS, 400, "bad_day",
				      "day is a calendar day YYYY-MM-DD "
				      "(UTC) from 1970-01-01"),
		       -1;
	memcpy(day, q + 4, 10);
	day[10] = '\0';
	return 0;
}

/* Answers the stored document d, logged at index. */
static void
send_doc(h2o_req_t *req, struct node *node, const struct stats_day *d)
{
	uint64_t size = tlog_log_size(nodelog_log(node->log));
	char num[24], *body;

	snprintf(num, sizeof(num), "%llu", (unsigned long long)d->log_index);
	h2o_add_header_by_str(
		&req->pool, &req->res.headers, H2O_STRLIT(ACCESS_HDR_INDEX), 0,
		NULL, h2o_strdup(&req->pool, num, SIZE_MAX).base, strlen(num));
	/* The size of a checkpoint of this node's that covers the entry;
	 * on a region's shared log another node may have appended it
	 * after this node's latest checkpoint, and then none is named. */
	if (size > d->log_index) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)size);
		h2o_add_header_by_str(
			&req->pool, &req->res.headers,
			H2O_STRLIT(ACCESS_HDR_SIZE), 0, NULL,
			h2o_strdup(&req->pool, num, SIZE_MAX).base,
			strlen(num));
	}
	body = h2o_mem_alloc_pool(&req->pool, d->len);
	memcpy(body, d->doc, d->len);
	api_reply(req, ROUTE_STATS, 200, "application/json",
		  "public, max-age=3600", body, d->len);
}

static void
hook_dispose(void *p)
{
	struct stats_hook *h = p;

	if (h->w != NULL) {
		h->w->req = NULL;
		h->w->hook = NULL;
	}
}

/* The sequencer is done with the day's entry (loop thread); owns it. */
static void
on_logged(struct nodelog_item *it)
{
	struct stats_wait *w = it->ud;
	struct store *st = w->loop->store;
	struct stats_day d;
	int rc;

	memset(&d, 0, sizeof(d));
	if (it->rc != 0) {
		log_event(LOG_ERROR, "stats_log_failed",
			  "func=%s day=%s err=\"%s\"", __func__, w->day,
			  it->err);
		if (w->req != NULL)
			api_send_error(w->req, ROUTE_STATS, 503,
				       "log_unavailable", it->err);
		goto out;
	}
	/* The first index recorded stays: another node's, if it logged the
	 * same bytes first. */
	rc = st->ops->stats_log(st, w->day, it->index);
	if (rc == 0)
		rc = st->ops->stats_get(st, w->day, &d);
	if (rc != 0 || !d.logged) {
		log_event(LOG_ERROR, "store_failed",
			  "func=%s op=stats_log day=%s index=%llu err=\"%s\"",
			  __func__, w->day, (unsigned long long)it->index,
			  st->err);
		if (w->req != NULL)
			api_send_error(w->req, ROUTE_STATS, 503,
				       "store_unavailable",
				       "the store failed; try again");
		goto out;
	}
	__atomic_fetch_add(&published, 1, __ATOMIC_RELAXED);
	log_event(LOG_INFO, "stats_published", "day=%s index=%llu bytes=%zu",
		  w->day, (unsigned long long)d.log_index, d.len);
	if (w->req != NULL)
		send_doc(w->req, w->node, &d);
out:
	if (w->hook != NULL)
		w->hook->w = NULL;
	pending_drop(w->day);
	stats_day_clear(&d);
	free(w);
	nodelog_item_free(it);
}

/* Queues the `stats` entry of stored document d and answers once it is
 * durable (on_logged). */
static int
log_doc(struct node *node, struct api_loop *l, h2o_req_t *req,
	const struct stats_day *d)
{
	struct tlog_entry e;
	struct nodelog_item *it;
	struct stats_wait *w;
	struct stats_hook *h;
	char err[256], *text = NULL;
	bool full;
	size_t len;
	int rc;

	if (!pending_take(d->day, &full))
		return api_send_error(req, ROUTE_STATS, 503,
				      full ? "busy" : "publishing",
				      full ? "too many days are being "
					     "published; try again"
					   : "this day's statistics are being "
					     "published; try again");
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_STATS;
	e.time = (int64_t)time(NULL);
	e.stats.region = node->cfg.region;
	e.stats.day = d->day;
	crypto_hash_sha256(e.stats.sha256, (const uint8_t *)d->doc, d->len);
	if ((rc = tlog_entry_encode(&e, &text, &len, err, sizeof(err))) != 0) {
		pending_drop(d->day);
		log_event(LOG_ERROR, "stats_entry_failed",
			  "func=%s day=%s err=\"%s\"", __func__, d->day, err);
		return api_send_error(req, ROUTE_STATS, 500, "internal",
				      "the day's log entry could not be made");
	}
	it = api_log_submit(req, ROUTE_STATS, text, len, on_logged);
	if (it == NULL) {
		pending_drop(d->day);
		return 0;
	}
	w = xcalloc(1, sizeof(*w));
	w->req = req;
	w->node = node;
	w->loop = l;
	memcpy(w->day, d->day, sizeof(w->day));
	h = h2o_mem_alloc_shared(&req->pool, sizeof(*h), hook_dispose);
	h->w = w;
	w->hook = h;
	it->ud = w;
	return 0;
}

int
stats_api_handle(struct node *node, struct api_loop *l, h2o_req_t *req)
{
	struct stats_params p;
	struct stats_day mine, d;
	struct store *st = l->store;
	int64_t start, now = (int64_t)time(NULL), today;
	char day[11];
	bool stored;
	int rc;

	if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
		return api_wrong_method(req, ROUTE_STATS, "GET");
	if (parse_day(req, day, &start) != 0)
		return 0;
	today = now - now % 86400;
	if (start + 86400 + STATS_GRACE_SECONDS > now)
		return api_send_error(req, ROUTE_STATS, 409, "day_not_over",
				      "a day's statistics are published once "
				      "the day (UTC) has ended, from 00:05 UTC "
				      "the next day");
	if (node->log == NULL)
		return api_send_error(req, ROUTE_STATS, 404, "not_found",
				      "this node keeps no log, and publishes "
				      "no statistics");
	memset(&d, 0, sizeof(d));
	rc = st->ops->stats_get(st, day, &d);
	if (rc == VG_ENOENT) {
		if (start < today - (int64_t)STATS_WINDOW_DAYS * 86400)
			return api_send_error(
				req, ROUTE_STATS, 404, "not_published",
				"the statistics of this day were not "
				"published, and it is too long ago to "
				"publish them now");
		memset(&mine, 0, sizeof(mine));
		memcpy(mine.day, day, sizeof(mine.day));
		p.k = node->cfg.stats_k;
		p.epsilon = node->cfg.stats_epsilon;
		p.region = node->cfg.region;
		rc = stats_compute(st, &p, day, start, now, &mine.doc,
				   &mine.len);
		if (rc == 0) {
			rc = st->ops->stats_put(st, &mine, &d, &stored);
			if (rc == 0 && stored)
				log_event(LOG_INFO, "stats_computed",
					  "day=%s bytes=%zu", day, d.len);
		}
		free(mine.doc);
	}
	if (rc != 0) {
		/* A store error says why in st->err; the computation's own
		 * (a day over the aggregate's bounds) only by its code. */
		log_event(LOG_ERROR, "stats_failed",
			  "func=%s day=%s rc=\"%s\" err=\"%s\"", __func__, day,
			  vg_strerror(rc), st->err);
		stats_day_clear(&d);
		return api_send_error(req, ROUTE_STATS, 503,
				      "store_unavailable",
				      "the store failed; try again");
	}
	if (d.logged)
		send_doc(req, node, &d);
	else
		log_doc(node, l, req, &d);
	stats_day_clear(&d);
	return 0;
}
