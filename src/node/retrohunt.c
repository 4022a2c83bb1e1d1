/*
 * retrohunt.c - ad-hoc retro-hunts over the stored samples; see
 * retrohunt.h, docs/API.md ("Retro-hunt") and docs/LOG.md (`retrohunt`).
 *
 * The order is access.c's: everything that can be refused from the
 * request alone is refused before the log entry (and logs nothing); no
 * worker is given a byte of any sample before the sequencer has made the
 * `retrohunt` entry durable under a signed checkpoint. The rule is
 * operator input and is compiled only by the sandboxed workers, so its
 * errors are known only after the entry: such a hunt ends `failed` with
 * the compiler's messages, having read no sample.
 *
 * A hunt is a thread that lists the stored samples once (one query, most
 * prevalent and newest first) while `workers` slot threads each start a
 * vigil-worker in hunt mode (worker.h) that compiles the rule. A slot
 * takes the next sample, decrypts it into a sealed memfd and hands it
 * over, keeping HUNT_DEPTH jobs queued, and waits for each answer with
 * the analyses' deadline; the worker runs the full engine, so a rule
 * matching an object inside an archive matches the sample. A worker that
 * crashes or hangs is replaced and the sample counted as failed. Analyses and
 * hunts run side by side: a hunt only reads the store.
 */
#include "node/retrohunt.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "node/access.h"
#include "node/analysis.h"
#include "node/api.h"
#include "node/worker.h"
#include "node/workerproc.h"
#include "store/store.h"
#include "tlog/entry.h"

/* Largest answer of a hunt worker to one sample: the rule names. */
#define HUNT_MAX_ANSWER (4 * 1024 * 1024)
/* Jobs queued on one worker's socket (hunt_loop). */
#define HUNT_DEPTH 2

enum hunt_state { HUNT_RUNNING = 0, HUNT_DONE, HUNT_FAILED };

struct item {
	char sha256[65];
	struct sample_loc loc;
};

struct hunt {
	struct retrohunt *rh;
	char id[33];
	char rule_sha256[65];
	char *rule; /* the rule's text; freed when the hunt ends */
	size_t rule_len;
	uint64_t log_index;
	int64_t started, finished; /* unix seconds; finished 0 if running */
	uint64_t elapsed_ms;
	pthread_t thread;
	/* Below under rh->mu, or atomics. */
	enum hunt_state state;
	char error[WORKER_MAX_ERROR + 64];
	uint64_t total;
	_Atomic uint64_t next, scanned, failed;
	char (*matches)[65];
	size_t n_matches, cap_matches;
	bool truncated;
	/* Start-up, under rh->mu: the slots' workers report (compiled 1:
	 * the rule compiles, -1: it does not), then wait for go (1: hunt,
	 * -1: give up), which the hunt sets once the samples are listed. */
	pthread_cond_t cv;
	unsigned reported;
	int compiled, go;
	struct item *items; /* the samples, for the slots */
	uint64_t n_items;   /* while listing them; then total */
};

struct retrohunt {
	struct retrohunt_config cfg;
	struct store_spec store;
	char *worker_path, *tmp_root;
	pthread_mutex_t mu;
	struct hunt *hunts[RETROHUNT_MAX_HUNTS]; /* oldest first */
	size_t n_hunts;
	bool busy; /* a hunt runs, or its entry is being logged */
	_Atomic bool stopping;
	_Atomic uint64_t samples_total, hunts_total;
};

/* One worker of a hunt. */
struct slot {
	struct hunt *h;
	unsigned index;
	struct workerproc w;
	pthread_t thread;
};

/* --- workers --------------------------------------------------------- */

/*
 * Starts the slot's worker in hunt mode and gives it the rule. Returns
 * 0; VG_EFORMAT when the rule does not compile (the compiler's messages
 * in why); another VG_E* code when the worker could not be started.
 */
static int
spawn(struct slot *s, char *why, size_t whylen)
{
	struct retrohunt *rh = s->h->rh;
	struct worker_msg_hdr m;
	char *args[] = {"--hunt"};

	snprintf(why, whylen, "the worker could not be started");
	if (workerproc_start(&s->w, rh->worker_path, args, 1,
			     rh->cfg.max_scan_ms) != 0)
		return VG_EIO;
	if (workerproc_wait_hdr(&s->w, WORKERPROC_READY_TIMEOUT_MS, &m) != 0 ||
	    m.type != WORKER_READY)
		goto lost;
	if (worker_send_hdr(s->w.sock, WORKER_RULE, 0, s->h->rule_len, -1) !=
		    0 ||
	    worker_send_body(s->w.sock, s->h->rule, s->h->rule_len) != 0 ||
	    workerproc_wait_hdr(&s->w, WORKERPROC_READY_TIMEOUT_MS, &m) != 0)
		goto lost;
	if (m.type == WORKER_READY)
		return 0;
	if (m.type == WORKER_ERROR &&
	    worker_recv_error(s->w.sock, &m, why, whylen) == 0) {
		workerproc_reap(&s->w, false, NULL, 0);
		return VG_EFORMAT;
	}
lost:
	workerproc_reap(&s->w, true, NULL, 0);
	return VG_EIO;
}

/* --- hunting ------------------------------------------------------------ */

static void
add_match(struct hunt *h, const char *sha256)
{
	pthread_mutex_lock(&h->rh->mu);
	if (h->n_matches == RETROHUNT_MAX_MATCHES) {
		h->truncated = true;
	} else {
		if (h->n_matches == h->cap_matches) {
			h->cap_matches =
				h->cap_matches ? 2 * h->cap_matches : 256;
			h->matches = xreallocarray(h->matches, h->cap_matches,
						   sizeof(*h->matches));
		}
		memcpy(h->matches[h->n_matches++], sha256, 65);
	}
	pthread_mutex_unlock(&h->rh->mu);
}

/* The sample is done with (matched or not, or counted as failed). */
static void
done_one(struct hunt *h)
{
	h->scanned++;
	h->rh->samples_total++;
}

/*
 * Decrypts sample i into a sealed memfd and queues it to the worker.
 * Returns 0 (sent), 1 (the sample cannot be read: counted as failed and
 * done with) or -1 (the worker is lost; the sample was not taken).
 */
static int
send_one(struct slot *s, uint64_t i)
{
	struct hunt *h = s->h;
	const struct item *it = &h->items[i];
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd, rc;

	rc = samples_read(h->rh->cfg.samples, &it->loc, it->sha256, &buf, &len);
	if (rc != 0) {
		log_event(LOG_WARN, "retrohunt_sample_unreadable",
			  "hunt=%s sha256=%s err=\"%s\"", h->id, it->sha256,
			  vg_strerror(rc));
		h->failed++;
		return 1;
	}
	fd = workerproc_sample_fd("vigil-hunt", buf, len);
	free(buf);
	if (fd < 0) {
		h->failed++;
		return 1;
	}
	rc = worker_send_hdr(s->w.sock, WORKER_JOB, i + 1, len, fd);
	close(fd);
	return rc == 0 ? 0 : -1;
}

/*
 * Reads the worker's answer about sample i by deadline (clock_ms()).
 * Returns 0 (a match is recorded; an engine error counts the sample as
 * failed), or -1 (the worker crashed, hung or broke the protocol on it:
 * counted as failed; the caller replaces the worker).
 */
static int
recv_one(struct slot *s, uint64_t i, uint64_t deadline)
{
	struct hunt *h = s->h;
	const struct item *it = &h->items[i];
	struct worker_msg_hdr m;
	uint64_t now = clock_ms();
	char *text = NULL;
	json_t *j = NULL, *ms;
	const char *sha;

	if (now >= deadline ||
	    workerproc_wait_hdr(&s->w, deadline - now, &m) != 0 ||
	    m.job_id != i + 1)
		goto lost;
	if (m.type == WORKER_ERROR) {
		char reason[WORKER_MAX_ERROR + 1], v[256];

		if (worker_recv_error(s->w.sock, &m, reason, sizeof(reason)) !=
		    0)
			goto lost;
		log_event(LOG_WARN, "retrohunt_sample_failed",
			  "hunt=%s sha256=%s reason=%s", h->id, it->sha256,
			  log_value(reason, v, sizeof(v)));
		h->failed++;
		return 0;
	}
	if (m.type != WORKER_REPORT || m.len > HUNT_MAX_ANSWER)
		goto lost;
	text = xmalloc(m.len);
	if (worker_recv_body(s->w.sock, text, m.len) != 0)
		goto lost;
	/* The worker is sandboxed, not trusted: the answer must be about
	 * the sample it was given, in the shape worker.h gives. */
	j = json_loadb(text, m.len, 0, NULL);
	sha = json_string_value(json_object_get(j, "sha256"));
	ms = json_object_get(j, "matches");
	if (sha == NULL || strcmp(sha, it->sha256) != 0 || !json_is_array(ms))
		goto lost;
	if (json_array_size(ms) > 0)
		add_match(h, it->sha256);
	free(text);
	json_decref(j);
	return 0;
lost:
	free(text);
	json_decref(j);
	h->failed++;
	log_event(LOG_WARN, "retrohunt_worker_lost", "hunt=%s sha256=%s", h->id,
		  it->sha256);
	return -1;
}

/*
 * Feeds the slot's worker until no sample is left. HUNT_DEPTH jobs are
 * queued on its socket, so that it starts the next sample as soon as it
 * answers one instead of waiting for the node to decrypt it: the worker
 * answers in order, and each answer's deadline runs from the previous
 * one. When a worker is lost, the sample it was on counts as failed and
 * those queued behind it go to its replacement.
 */
static void
hunt_loop(struct slot *s)
{
	struct hunt *h = s->h;
	struct retrohunt *rh = h->rh;
	uint64_t q[HUNT_DEPTH], retry[2 * HUNT_DEPTH], head_t = 0;
	uint64_t budget =
		rh->cfg.max_scan_ms +
		(rh->cfg.max_scan_ms < 5000 ? rh->cfg.max_scan_ms : 5000);
	size_t nq = 0, nretry = 0;
	char why[WORKER_MAX_ERROR + 1];

	for (;;) {
		if (rh->stopping)
			break;
		if (s->w.pid == 0 && spawn(s, why, sizeof(why)) != 0)
			break; /* the others go on; what is left is failed */
		while (nq < HUNT_DEPTH) {
			uint64_t i;
			int rc;

			if (nretry > 0) {
				i = retry[--nretry];
			} else {
				i = h->next++;
				if (i >= h->total)
					break;
			}
			rc = send_one(s, i);
			if (rc > 0) {
				done_one(h);
				continue;
			}
			if (rc < 0) {
				retry[nretry++] = i;
				goto lost;
			}
			if (nq == 0)
				head_t = clock_ms();
			q[nq++] = i;
		}
		if (nq == 0)
			break;
		if (recv_one(s, q[0], head_t + budget) != 0) {
			done_one(h);
			memmove(q, q + 1, --nq * sizeof(*q));
			goto lost;
		}
		done_one(h);
		memmove(q, q + 1, --nq * sizeof(*q));
		head_t = clock_ms();
		continue;
	lost:
		workerproc_reap(&s->w, true, NULL, 0);
		while (nq > 0 && nretry < sizeof(retry) / sizeof(*retry))
			retry[nretry++] = q[--nq];
	}
}

/* Lists the stored samples (samples_stored_each). */
static int
collect(const char *sha256, const struct sample_loc *loc, void *ud)
{
	struct hunt *h = ud;

	if (h->n_items % 1024 == 0)
		h->items = xreallocarray(h->items, h->n_items + 1024,
					 sizeof(*h->items));
	memcpy(h->items[h->n_items].sha256, sha256, 65);
	h->items[h->n_items].loc = *loc;
	h->n_items++;
	return 0;
}

/*
 * A slot: starts its worker, which compiles the rule, says how that went,
 * waits for the list of samples (or the word to give up) and hunts.
 */
static void *
slot_main(void *arg)
{
	struct slot *s = arg;
	struct hunt *h = s->h;
	char why[WORKER_MAX_ERROR + 1];
	int rc = spawn(s, why, sizeof(why)), go;

	pthread_mutex_lock(&h->rh->mu);
	h->reported++;
	if (rc == 0 && h->compiled == 0) {
		h->compiled = 1;
	} else if (rc == VG_EFORMAT && h->compiled == 0) {
		h->compiled = -1;
		snprintf(h->error, sizeof(h->error),
			 "the rule does not compile: %s", why);
	} else if (rc != 0 && h->error[0] == '\0') {
		snprintf(h->error, sizeof(h->error),
			 "no worker could be started: %s", why);
	}
	pthread_cond_broadcast(&h->cv);
	while ((go = h->go) == 0)
		pthread_cond_wait(&h->cv, &h->rh->mu);
	pthread_mutex_unlock(&h->rh->mu);
	if (go > 0 && rc == 0)
		hunt_loop(s);
	workerproc_reap(&s->w, false, NULL, 0);
	return NULL;
}

static void
hunt_end(struct hunt *h, enum hunt_state st, const char *error, uint64_t t0)
{
	struct retrohunt *rh = h->rh;

	pthread_mutex_lock(&rh->mu);
	h->elapsed_ms = clock_ms() - t0;
	h->state = st;
	if (error != NULL)
		snprintf(h->error, sizeof(h->error), "%s", error);
	h->finished = (int64_t)time(NULL);
	rh->busy = false;
	pthread_mutex_unlock(&rh->mu);
	rh->hunts_total++;
}

static void *
hunt_main(void *arg)
{
	struct hunt *h = arg;
	struct retrohunt *rh = h->rh;
	struct slot slots[RETROHUNT_MAX_WORKERS];
	char err[256];
	struct store *st = NULL;
	uint64_t t0 = clock_ms();
	unsigned n = rh->cfg.workers, started = 0;
	bool listed = true, ok;

	memset(slots, 0, sizeof(slots));
	for (unsigned i = 0; i < n; i++) {
		slots[i].h = h;
		slots[i].index = i;
		if (workerproc_init(&slots[i].w, rh->tmp_root, "hunt", i) !=
		    0) {
			hunt_end(h, HUNT_FAILED, "cannot make a worker folder",
				 t0);
			goto out;
		}
	}
	/* Every worker starts and compiles the rule while the samples are
	 * listed; the first answer says whether the rule compiles. */
	for (unsigned i = 0; i < n; i++) {
		if (pthread_create(&slots[i].thread, NULL, slot_main,
				   &slots[i]) != 0)
			break;
		started++;
	}
	if (store_open(&rh->store, &st, err, sizeof(err)) != 0 ||
	    st->ops->samples_stored_each(st, collect, h) != 0) {
		log_event(LOG_ERROR, "store_failed",
			  "func=%s op=samples_stored_each err=\"%s\"", __func__,
			  st != NULL ? st->err : err);
		listed = false;
	}
	pthread_mutex_lock(&rh->mu);
	while (h->compiled == 0 && h->reported < started)
		pthread_cond_wait(&h->cv, &rh->mu);
	ok = listed && h->compiled > 0;
	if (ok)
		h->total = h->n_items;
	else if (!listed)
		snprintf(h->error, sizeof(h->error), "the store failed");
	else if (h->error[0] == '\0')
		snprintf(h->error, sizeof(h->error),
			 "no worker could be started");
	h->go = ok ? 1 : -1;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&rh->mu);
	if (ok)
		log_event(LOG_INFO, "retrohunt_started", "hunt=%s samples=%llu",
			  h->id, (unsigned long long)h->total);
	else
		log_event(LOG_WARN, "retrohunt_failed", "hunt=%s reason=%s",
			  h->id, h->compiled < 0 ? "compile" : "start");
	for (unsigned i = 0; i < started; i++)
		pthread_join(slots[i].thread, NULL);
	if (!ok) {
		hunt_end(h, HUNT_FAILED, NULL, t0);
	} else if (rh->stopping || h->scanned < h->total) {
		hunt_end(h, HUNT_FAILED,
			 rh->stopping ? "the hunt was stopped"
				      : "the workers were lost",
			 t0);
	} else {
		log_event(
			LOG_INFO, "retrohunt_done",
			"hunt=%s samples=%llu matched=%zu failed=%llu ms=%llu",
			h->id, (unsigned long long)h->scanned, h->n_matches,
			(unsigned long long)h->failed,
			(unsigned long long)(clock_ms() - t0));
		hunt_end(h, HUNT_DONE, NULL, t0);
	}
out:
	if (st != NULL)
		st->ops->close(st);
	free(h->items);
	h->items = NULL;
	free(h->rule);
	h->rule = NULL;
	return NULL;
}

static void
hunt_free(struct hunt *h)
{
	if (h == NULL)
		return;
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->cv);
	free(h->matches);
	free(h->items);
	free(h->rule);
	free(h);
}

/* Starts a hunt whose entry is durable (loop thread). Takes rule. */
static struct hunt *
hunt_start(struct retrohunt *rh, char *rule, size_t rule_len,
	   const char *rule_sha256, uint64_t log_index)
{
	struct hunt *h = xcalloc(1, sizeof(*h)), *old = NULL;
	uint8_t id[16];

	h->rh = rh;
	randombytes_buf(id, sizeof(id));
	hex_encode(id, sizeof(id), h->id);
	memcpy(h->rule_sha256, rule_sha256, 65);
	h->rule = rule;
	h->rule_len = rule_len;
	h->log_index = log_index;
	h->started = (int64_t)time(NULL);
	pthread_cond_init(&h->cv, NULL);
	pthread_mutex_lock(&rh->mu);
	if (rh->n_hunts == RETROHUNT_MAX_HUNTS) {
		/* The oldest is finished: only one runs (busy). */
		old = rh->hunts[0];
		memmove(rh->hunts, rh->hunts + 1,
			(rh->n_hunts - 1) * sizeof(*rh->hunts));
		rh->n_hunts--;
	}
	rh->hunts[rh->n_hunts++] = h;
	pthread_mutex_unlock(&rh->mu);
	hunt_free(old);
	if (pthread_create(&h->thread, NULL, hunt_main, h) != 0)
		fatal("cannot start a retro-hunt thread");
	return h;
}

/* --- HTTP ----------------------------------------------------------- */

/* A request waiting for its entry: the request's pool holds this, and
 * the log item points to it (it->ud). Whichever goes first unhooks the
 * other, as in access.c. */
struct pending {
	h2o_req_t *req;
	struct nodelog_item *it;
	struct retrohunt *rh;
	char *rule; /* the rule's text; handed to the hunt */
	size_t rule_len;
	char rule_sha256[65];
};

static void
pending_dispose(void *p)
{
	struct pending *pd = p;

	if (pd->it != NULL) {
		/* The client left before the entry was durable: no hunt. */
		pd->it->ud = NULL;
		pthread_mutex_lock(&pd->rh->mu);
		pd->rh->busy = false;
		pthread_mutex_unlock(&pd->rh->mu);
	}
	free(pd->rule);
}

/* The sequencer is done with the entry (loop thread); owns it. */
static void
on_logged(struct nodelog_item *it)
{
	struct pending *pd = it->ud;
	struct hunt *h;
	char loc[64];

	if (pd == NULL) {
		nodelog_item_free(it);
		return;
	}
	pd->it = NULL;
	if (it->rc != 0) {
		pthread_mutex_lock(&pd->rh->mu);
		pd->rh->busy = false;
		pthread_mutex_unlock(&pd->rh->mu);
		api_send_error(pd->req, ROUTE_ADMIN_RETROHUNT, 503,
			       "log_unavailable", it->err);
		nodelog_item_free(it);
		return;
	}
	h = hunt_start(pd->rh, pd->rule, pd->rule_len, pd->rule_sha256,
		       it->index);
	pd->rule = NULL;
	log_event(LOG_INFO, "retrohunt_logged", "hunt=%s rule=%s index=%llu",
		  h->id, h->rule_sha256, (unsigned long long)it->index);
	snprintf(loc, sizeof(loc), "/v1/admin/retrohunt/%s", h->id);
	h2o_add_header(
		&pd->req->pool, &pd->req->res.headers, H2O_TOKEN_LOCATION, NULL,
		h2o_strdup(&pd->req->pool, loc, SIZE_MAX).base, strlen(loc));
	api_send_json(pd->req, ROUTE_ADMIN_RETROHUNT, 202,
		      json_pack("{s:s, s:s, s:s, s:I, s:I}", "id", h->id,
				"state", "running", "rule_sha256",
				h->rule_sha256, "log_index",
				(json_int_t)it->index, "log_size",
				(json_int_t)it->size));
	nodelog_item_free(it);
}

static int
on_post(struct node *node, h2o_req_t *req)
{
	struct retrohunt *rh = node->retrohunt;
	struct access_caller c;
	struct tlog_entry e;
	struct nodelog_item *it;
	struct pending *pd;
	uint8_t md[32];
	char err[256], *text = NULL, *msg;
	size_t len, blen = req->entity.base ? req->entity.len : 0;
	char op[STORE_OPERATOR_NAME_MAX + 1];

	if (!api_operator_auth(req, ROUTE_ADMIN_RETROHUNT, op))
		return 0;
	if (access_caller(req, ROUTE_ADMIN_RETROHUNT, op, &c) != 0)
		return 0;
	if (blen == 0)
		return api_send_error(req, ROUTE_ADMIN_RETROHUNT, 400,
				      "rule_required",
				      "the body must be the rule's text");
	if (blen > RETROHUNT_MAX_RULE) /* the router refuses it first */
		return api_send_error(req, ROUTE_ADMIN_RETROHUNT, 413,
				      "body_too_large", "the rule is too long");
	crypto_hash_sha256(md, (const uint8_t *)req->entity.base, blen);
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_RETROHUNT;
	e.time = (int64_t)time(NULL);
	memcpy(e.retrohunt.rule, md, sizeof(md));
	e.retrohunt.who = c.who;
	e.retrohunt.role = c.role;
	e.retrohunt.reason = c.reason;
	if (tlog_entry_encode(&e, &text, &len, err, sizeof(err)) != 0) {
		msg = xasprintf("X-Vigil-Reason is not one line of text as the "
				"log takes it: %s",
				err);
		api_send_error(req, ROUTE_ADMIN_RETROHUNT, 400, "bad_reason",
			       msg);
		free(msg);
		return 0;
	}
	pthread_mutex_lock(&rh->mu);
	if (rh->busy) {
		pthread_mutex_unlock(&rh->mu);
		free(text);
		return api_send_error(req, ROUTE_ADMIN_RETROHUNT, 409, "busy",
				      "a retro-hunt is running; try again "
				      "when it is done");
	}
	rh->busy = true;
	pthread_mutex_unlock(&rh->mu);
	it = api_log_submit(req, ROUTE_ADMIN_RETROHUNT, text, len, on_logged);
	if (it == NULL) {
		pthread_mutex_lock(&rh->mu);
		rh->busy = false;
		pthread_mutex_unlock(&rh->mu);
		return 0;
	}
	pd = h2o_mem_alloc_shared(&req->pool, sizeof(*pd), pending_dispose);
	pd->req = req;
	pd->it = it;
	pd->rh = rh;
	pd->rule = xmalloc(blen);
	memcpy(pd->rule, req->entity.base, blen);
	pd->rule_len = blen;
	hex_encode(md, sizeof(md), pd->rule_sha256);
	it->ud = pd;
	log_event(LOG_INFO, "retrohunt_requested", "rule=%s bytes=%zu",
		  pd->rule_sha256, blen);
	return 0;
}

/* ?from=N, if given: 0 or -1 for a malformed query. */
static int
query_from(h2o_req_t *req, uint64_t *from)
{
	static const char q[] = "?from=";
	const char *v;
	size_t vl;

	*from = 0;
	if (req->query_at == SIZE_MAX)
		return 0;
	v = req->path.base + req->query_at;
	vl = req->path.len - req->query_at;
	if (vl <= sizeof(q) - 1 || vl > sizeof(q) - 1 + 19 ||
	    memcmp(v, q, sizeof(q) - 1) != 0)
		return -1;
	for (size_t i = sizeof(q) - 1; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		*from = *from * 10 + (uint64_t)(v[i] - '0');
	}
	return 0;
}

static const char *
state_name(enum hunt_state st)
{
	return st == HUNT_DONE     ? "done"
	       : st == HUNT_FAILED ? "failed"
				   : "running";
}

static int
on_get(struct node *node, h2o_req_t *req, const char *id, size_t idlen)
{
	struct retrohunt *rh = node->retrohunt;
	struct hunt *h = NULL;
	json_t *j, *m;
	uint64_t from;

	if (!api_operator_ok(req, ROUTE_ADMIN_RETROHUNT))
		return 0;
	if (query_from(req, &from) != 0)
		return api_send_error(req, ROUTE_ADMIN_RETROHUNT, 400,
				      "bad_query", "expected ?from=N");
	pthread_mutex_lock(&rh->mu);
	for (size_t i = 0; idlen == 32 && i < rh->n_hunts; i++)
		if (memcmp(rh->hunts[i]->id, id, 32) == 0)
			h = rh->hunts[i];
	if (h == NULL) {
		pthread_mutex_unlock(&rh->mu);
		return api_send_error(req, ROUTE_ADMIN_RETROHUNT, 404,
				      "unknown_hunt", "no such retro-hunt");
	}
	m = json_array();
	for (uint64_t i = from; i < h->n_matches && i < from + RETROHUNT_PAGE;
	     i++)
		json_array_append_new(m, json_string(h->matches[i]));
	j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		      "s:I, s:I, s:b, s:o}",
		      "id", h->id, "state", state_name(h->state), "rule_sha256",
		      h->rule_sha256, "log_index", (json_int_t)h->log_index,
		      "started", (json_int_t)h->started, "finished",
		      (json_int_t)h->finished, "samples_total",
		      (json_int_t)h->total, "samples_scanned",
		      (json_int_t)h->scanned, "samples_failed",
		      (json_int_t)h->failed, "matches_total",
		      (json_int_t)h->n_matches, "from", (json_int_t)from,
		      "elapsed_ms", (json_int_t)h->elapsed_ms, "truncated",
		      h->truncated, "matches", m);
	if (h->state == HUNT_FAILED)
		json_object_set_new(j, "error", json_string(h->error));
	pthread_mutex_unlock(&rh->mu);
	return api_send_json(req, ROUTE_ADMIN_RETROHUNT, 200, j);
}

int
retrohunt_handle(struct node *node, struct api_loop *l, h2o_req_t *req,
		 const char *p, size_t n)
{
	static const char base[] = "/v1/admin/retrohunt";
	size_t bl = sizeof(base) - 1;

	(void)l;
	if (node->log == NULL || node->retrohunt == NULL)
		return api_send_error(req, ROUTE_ADMIN_RETROHUNT, 404,
				      "not_found", "this node keeps no log");
	if (n == bl) {
		if (!h2o_memis(req->method.base, req->method.len,
			       H2O_STRLIT("POST")))
			return api_wrong_method(req, ROUTE_ADMIN_RETROHUNT,
						"POST");
		return on_post(node, req);
	}
	if (n > bl + 1 && p[bl] == '/') {
		if (!h2o_memis(req->method.base, req->method.len,
			       H2O_STRLIT("GET")))
			return api_wrong_method(req, ROUTE_ADMIN_RETROHUNT,
						"GET");
		return on_get(node, req, p + bl + 1, n - bl - 1);
	}
	return api_send_error(req, ROUTE_ADMIN_RETROHUNT, 404, "not_found",
			      "no such route");
}

/* --- life ------------------------------------------------------------ */

int
retrohunt_open(const struct retrohunt_config *cfg, struct retrohunt **out,
	       char *err, size_t errlen)
{
	struct retrohunt *rh;

	*out = NULL;
	if (access(cfg->worker_path, X_OK) != 0) {
		snprintf(err, errlen, "%s: %s", cfg->worker_path,
			 strerror(errno));
		return VG_EIO;
	}
	rh = xcalloc(1, sizeof(*rh));
	rh->cfg = *cfg;
	rh->store = *cfg->store;
	rh->worker_path = xstrdup(cfg->worker_path);
	rh->tmp_root = xstrdup(cfg->tmp_root);
	rh->cfg.workers = cfg->workers < 1 ? 1
			  : cfg->workers > RETROHUNT_MAX_WORKERS
				  ? RETROHUNT_MAX_WORKERS
				  : cfg->workers;
	pthread_mutex_init(&rh->mu, NULL);
	*out = rh;
	return 0;
}

void
retrohunt_close(struct retrohunt *rh)
{
	if (rh == NULL)
		return;
	rh->stopping = true;
	for (size_t i = 0; i < rh->n_hunts; i++)
		hunt_free(rh->hunts[i]);
	pthread_mutex_destroy(&rh->mu);
	free(rh->worker_path);
	free(rh->tmp_root);
	free(rh);
}

void
retrohunt_stats(struct retrohunt *rh, struct retrohunt_stats *st)
{
	st->samples = rh != NULL ? rh->samples_total : 0;
	st->hunts = rh != NULL ? rh->hunts_total : 0;
}
