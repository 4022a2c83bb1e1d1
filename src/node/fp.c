/*
 * fp.c - false-positive reports and their retractions; see fp.h and
 * docs/API.md, "False positives".
 *
 * The order is access.c's: everything that can be refused is refused
 * before the log entry is made, so a refusal logs nothing; the answers
 * change only after the sequencer has made the entry durable under a
 * signed checkpoint, and then the store first (a retraction the node
 * answers with is one it will still answer with after a restart), the
 * index second. What happens after the entry does not depend on the
 * operator staying for the answer: the decision is owned by the log item,
 * not by the request.
 *
 * One decision per sample at a time: a sample being decided is held in a
 * small set until its entry is stored, so that two accepts sent together
 * cannot both reach the log. The entry never names a client; the operator
 * sees how many clients reported a sample and their reasons, never who.
 */
#include "node/fp.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/text.h"
#include "common/xmalloc.h"
#include "node/api.h"
#include "node/index.h"
#include "tlog/entry.h"

/* Samples being decided at once, over every loop. */
#define FP_BUSY_MAX 64

static pthread_mutex_t busy_mu = PTHREAD_MUTEX_INITIALIZER;
static char busy[FP_BUSY_MAX][65];
static size_t nbusy;

/* Holds sha256 for a decision: 1, or 0 if one is under way or too many
 * are. */
static int
busy_take(const char *sha256)
{
	int ok = 1;

	pthread_mutex_lock(&busy_mu);
	for (size_t i = 0; i < nbusy && ok; i++)
		ok = strcmp(busy[i], sha256) != 0;
	if (ok && nbusy == FP_BUSY_MAX)
		ok = 0;
	if (ok)
		memcpy(busy[nbusy++], sha256, 65);
	pthread_mutex_unlock(&busy_mu);
	return ok;
}

static void
busy_drop(const char *sha256)
{
	pthread_mutex_lock(&busy_mu);
	for (size_t i = 0; i < nbusy; i++)
		if (strcmp(busy[i], sha256) == 0) {
			memcpy(busy[i], busy[--nbusy], 65);
			break;
		}
	pthread_mutex_unlock(&busy_mu);
}

/* The one writer of retractions into the index. */
static int
overlay(struct node *node, const char *sha256, int64_t log_index,
	const char *detections)
{
	int rc;

	pthread_rwlock_wrlock(&node->index_lock);
	rc = index_set_retraction(node->index, sha256, log_index, detections);
	pthread_rwlock_unlock(&node->index_lock);
	return rc;
}

/* What the index says of a hash: the sample's SHA-256 and whether a
 * retraction decides its answer. */
struct found {
	char sha256[65];
	char md5[33], sha1[41];
	bool applied;
	json_t *answer; /* the sample's answer, parsed; the caller decrefs */
};

/*
 * Finds hash[0..len) (MD5, SHA-1 or SHA-256, any case) in the index into
 * *f. Returns 0, or -1 after answering 400 (malformed) or 404 (unknown).
 */
static int
find_sample(struct node *node, h2o_req_t *req, enum route r, const char *hash,
	    size_t len, struct found *f)
{
	const struct index_entry *e;
	int bad = 0;

	memset(f, 0, sizeof(*f));
	pthread_rwlock_rdlock(&node->index_lock);
	e = index_get(node->index, hash, len, &bad);
	if (e != NULL) {
		hex_encode(e->sha256, 32, f->sha256);
		hex_encode(e->md5, 16, f->md5);
		hex_encode(e->sha1, 20, f->sha1);
		f->applied = e->applied;
		f->answer = json_loadb(e->json, e->json_len, 0, NULL);
	}
	pthread_rwlock_unlock(&node->index_lock);
	if (bad)
		return api_send_error(req, r, 400, "bad_hash",
				      "expected an MD5, SHA-1 or SHA-256 in "
				      "hex"),
		       -1;
	if (e == NULL)
		return api_send_error(req, r, 404, "unknown",
				      "no sample with this hash is known"),
		       -1;
	if (f->answer == NULL)
		fatal("the index rendered an answer that does not parse");
	return 0;
}

/* True if s[0..n) is UTF-8 without control characters. */
static bool
one_line(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = text_utf8_decode(s + i, n - i, &cp);

		if (l == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return false;
		i += l;
	}
	return true;
}

/*
 * Reads the body as a JSON object of exactly the keys in keys (each a
 * string), with "reason" among them. Returns the object (the caller
 * decrefs), or NULL after answering 400 or 413.
 */
static json_t *
body_fields(h2o_req_t *req, enum route r, const char *const *keys, size_t nk)
{
	json_error_t je;
	json_t *j, *v;
	const char *k;
	char msg[300];

	j = json_loadb(req->entity.base ? req->entity.base : "",
		       req->entity.len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		snprintf(msg, sizeof(msg), "the body is not a JSON object%s%s",
			 j == NULL ? ": " : "", j == NULL ? je.text : "");
		json_decref(j);
		api_send_error(req, r, 400, "bad_json", msg);
		return NULL;
	}
	json_object_foreach(j, k, v)
	{
		size_t i;

		for (i = 0; i < nk && strcmp(k, keys[i]) != 0; i++)
			;
		if (i == nk || !json_is_string(v)) {
			json_decref(j);
			api_send_error(req, r, 400, "bad_request",
				       nk == 1 ? "expected {\"reason\": TEXT}"
					       : "expected {\"hash\": HASH, "
						 "\"reason\": TEXT}");
			return NULL;
		}
	}
	v = json_object_get(j, "reason");
	if (v == NULL) {
		json_decref(j);
		api_send_error(req, r, 400, "reason_required",
			       "a reason is required");
		return NULL;
	}
	if (json_string_length(v) > FP_REASON_MAX) {
		json_decref(j);
		snprintf(msg, sizeof(msg), "the reason is over %d bytes",
			 FP_REASON_MAX);
		api_send_error(req, r, 413, "reason_too_long", msg);
		return NULL;
	}
	if (json_string_length(v) == 0 ||
	    !one_line(json_string_value(v), json_string_length(v))) {
		json_decref(j);
		api_send_error(req, r, 400, "bad_reason",
			       "the reason is one line of text, without "
			       "control characters");
		return NULL;
	}
	return j;
}

int
fp_on_report(struct node *node, struct api_loop *l, h2o_req_t *req,
	     const char *client_id)
{
	static const char *const keys[] = {"hash", "reason"};
	json_t *j, *h;
	struct found f;
	int rc;

	if ((j = body_fields(req, ROUTE_FP, keys, 2)) == NULL)
		return 0;
	if ((h = json_object_get(j, "hash")) == NULL) {
		json_decref(j);
		return api_send_error(req, ROUTE_FP, 400, "bad_hash",
				      "a hash is required");
	}
	if (find_sample(node, req, ROUTE_FP, json_string_value(h),
			json_string_length(h), &f) != 0) {
		json_decref(j);
		return 0;
	}
	if (f.applied) {
		rc = api_send_error(req, ROUTE_FP, 409, "retracted",
				    "this sample's detections are retracted "
				    "already");
		goto out;
	}
	if (json_array_size(json_object_get(f.answer, "detections")) == 0) {
		rc = api_send_error(req, ROUTE_FP, 409, "not_detected",
				    "the node detects nothing in this sample");
		goto out;
	}
	rc = l->store->ops->fp_report_add(
		l->store, f.sha256, client_id,
		json_string_value(json_object_get(j, "reason")), 0);
	if (rc == VG_EINVAL) {
		rc = api_send_error(req, ROUTE_FP, 409, "already_reported",
				    "this client has reported this sample "
				    "already");
		goto out;
	}
	if (rc == VG_ENOENT) {
		rc = api_send_error(req, ROUTE_FP, 401, "unauthorized",
				    "this client is not enrolled");
		goto out;
	}
	if (rc != 0) {
		rc = api_store_failed(req, ROUTE_FP, l->store, "fp_report_add");
		goto out;
	}
	log_event(LOG_INFO, "fp_reported", "sha256=%s", f.sha256);
	rc = api_send_json(
		req, ROUTE_FP, 201,
		json_pack("{s:s, s:s}", "sha256", f.sha256, "status", "open"));
out:
	json_decref(f.answer);
	json_decref(j);
	return rc;
}

/* --- the operator ------------------------------------------------------- */

static int
on_list(struct node *node, struct api_loop *l, h2o_req_t *req)
{
	struct fp_summary *v = NULL;
	json_t *list = json_array();
	size_t n = 0;
	int rc;

	if ((rc = l->store->ops->fp_list(l->store, &v, &n)) != 0) {
		json_decref(list);
		return api_store_failed(req, ROUTE_ADMIN_FP, l->store,
					"fp_list");
	}
	for (size_t i = 0; i < n; i++) {
		json_t *reasons = json_array(), *item, *ans = NULL;
		const struct index_entry *e;
		int64_t retracted = -1;
		int bad;

		for (size_t k = 0; k < v[i].reporters; k++)
			json_array_append_new(reasons,
					      json_string(v[i].reasons[k]));
		item = json_pack("{s:s, s:I, s:o, s:I, s:I}", "sha256",
				 v[i].sha256, "reporters",
				 (json_int_t)v[i].reporters, "reasons", reasons,
				 "first_reported", (json_int_t)v[i].first,
				 "last_reported", (json_int_t)v[i].last);
		pthread_rwlock_rdlock(&node->index_lock);
		e = index_get(node->index, v[i].sha256, 64, &bad);
		if (e != NULL) {
			ans = json_loadb(e->json, e->json_len, 0, NULL);
			retracted = e->retracted;
			/* What the analysis found, whatever the answer. */
			json_object_set_new(
				item, "analysis",
				json_pack("{s:s, s:i, s:o}", "verdict",
					  e->verdict, "score", e->score,
					  "detections",
					  json_loads(e->detections, 0, NULL)));
		}
		pthread_rwlock_unlock(&node->index_lock);
		if (ans != NULL) {
			json_object_set(item, "md5",
					json_object_get(ans, "md5"));
			json_object_set(item, "sha1",
					json_object_get(ans, "sha1"));
			json_object_set(item, "verdict",
					json_object_get(ans, "verdict"));
			/* In force, even when a new detection decides the
			 * answer. */
			json_object_set_new(item, "retracted",
					    retracted >= 0
						    ? json_integer(retracted)
						    : json_null());
			json_decref(ans);
		}
		json_array_append_new(list, item);
	}
	fp_summaries_free(v, n);
	return api_send_json(req, ROUTE_ADMIN_FP, 200,
			     json_pack("{s:o}", "reports", list));
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The names of a JSON array of detection names, sorted and without
 * duplicates: as the entry's one line (*line) and as a JSON array text
 * (*json), both malloc'd. Returns 0, or VG_EINVAL if det is not an
 * array of strings or is empty.
 */
static int
canonical_detections(const char *det, char **line, char **json)
{
	json_t *a = json_loads(det ? det : "", 0, NULL), *v, *out;
	const char **names = NULL;
	size_t n = 0, k = 0, len = 0, i;
	char *p;

	*line = *json = NULL;
	if (!json_is_array(a) || json_array_size(a) == 0) {
		json_decref(a);
		return VG_EINVAL;
	}
	names = xreallocarray(NULL, json_array_size(a), sizeof(char *));
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v)) {
			free(names);
			json_decref(a);
			return VG_EINVAL;
		}
		names[n++] = json_string_value(v);
	}
	qsort(names, n, sizeof(char *), cmp_str);
	for (i = 0; i < n; i++)
		if (k == 0 || strcmp(names[k - 1], names[i]) != 0)
			names[k++] = names[i];
	out = json_array();
	for (i = 0; i < k; i++) {
		len += strlen(names[i]) + 1;
		json_array_append_new(out, json_string(names[i]));
	}
	*line = p = xmalloc(len);
	for (i = 0; i < k; i++) {
		size_t l = strlen(names[i]);

		memcpy(p, names[i], l);
		p += l;
		*p++ = i + 1 < k ? ' ' : '\0';
	}
	*json = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	free(names);
	json_decref(a);
	if (*json == NULL)
		fatal("out of memory");
	return 0;
}

/* A decision waiting for its log entry: owned by the log item (it->ud),
 * since it must be stored whether or not the operator waits for the
 * answer. The request's pool holds a hook that clears req when the
 * client goes. */
struct decision {
	h2o_req_t *req;
	struct hook *hook;
	struct node *node;
	struct api_loop *loop;
	bool retract; /* or reinstate */
	char sha256[65];
	char *detections; /* JSON array text, canonical */
	char *reason;
	int64_t when;
};

struct hook {
	struct decision *d;
};

static void
hook_dispose(void *p)
{
	struct hook *h = p;

	if (h->d != NULL)
		h->d->req = NULL;
}

static void
decision_free(struct decision *d)
{
	busy_drop(d->sha256);
	free(d->detections);
	free(d->reason);
	free(d);
}

/* The sequencer is done with the entry (loop thread); owns it. */
static void
on_logged(struct nodelog_item *it)
{
	struct decision *d = it->ud;
	struct store *st = d->loop->store;
	h2o_req_t *req = d->req;
	uint64_t accepted = 0;
	int rc;

	if (req != NULL)
		d->hook->d = NULL;
	if (it->rc != 0) {
		log_event(LOG_ERROR, "fp_log_failed", "sha256=%s err=\"%s\"",
			  d->sha256, it->err);
		if (req != NULL)
			api_send_error(req, ROUTE_ADMIN_FP, 503,
				       "log_unavailable", it->err);
		goto out;
	}
	if (d->retract) {
		struct retraction r;

		memset(&r, 0, sizeof(r));
		memcpy(r.sha256, d->sha256, sizeof(r.sha256));
		r.log_index = it->index;
		r.detections = d->detections;
		r.reason = d->reason;
		r.created = d->when;
		rc = st->ops->retraction_add(st, &r, &accepted);
	} else {
		rc = st->ops->retraction_undo(st, d->sha256, it->index);
	}
	if (rc != 0) {
		/* The entry stays: it says what the operator decided. The
		 * node does not answer by it; the operator decides again. */
		log_event(LOG_ERROR, "retraction_unstored",
			  "func=%s sha256=%s index=%llu err=\"%s\"", __func__,
			  d->sha256, (unsigned long long)it->index, st->err);
		if (req != NULL)
			api_send_error(req, ROUTE_ADMIN_FP, 500, "store_failed",
				       "the decision is in the log, but the "
				       "node could not store it; its answers "
				       "did not change");
		goto out;
	}
	if (overlay(d->node, d->sha256, d->retract ? (int64_t)it->index : -1,
		    d->detections) != 0)
		log_event(LOG_ERROR, "retraction_not_indexed",
			  "sha256=%s index=%llu", d->sha256,
			  (unsigned long long)it->index);
	log_event(LOG_INFO, d->retract ? "retracted" : "reinstated",
		  "sha256=%s index=%llu accepted=%llu", d->sha256,
		  (unsigned long long)it->index, (unsigned long long)accepted);
	if (req != NULL) {
		json_t *j = json_pack(
			"{s:s, s:s, s:I, s:I, s:o}", "sha256", d->sha256,
			"action", d->retract ? "retract" : "reinstate", "index",
			(json_int_t)it->index, "size", (json_int_t)it->size,
			"detections", json_loads(d->detections, 0, NULL));

		if (d->retract)
			json_object_set_new(j, "accepted",
					    json_integer((json_int_t)accepted));
		api_send_json(req, ROUTE_ADMIN_FP, 201, j);
	}
out:
	decision_free(d);
	nodelog_item_free(it);
}

/*
 * Accept (retract) or reinstate the sample of f with the operator's
 * reason: checks, then the entry. sha256 is held (busy_take) by the
 * caller and released here on every path.
 */
static int
decide(struct node *node, struct api_loop *l, h2o_req_t *req,
       const struct found *f, bool retract, const char *reason)
{
	struct store *st = l->store;
	struct decision *d = xcalloc(1, sizeof(*d));
	struct reputation rep;
	struct retraction cur;
	struct tlog_entry e;
	struct nodelog_item *it;
	struct hook *h;
	char *line = NULL, *text = NULL, err[256], *msg;
	uint64_t open = 0;
	size_t len;
	int rc;

	memcpy(d->sha256, f->sha256, sizeof(d->sha256));
	d->retract = retract;
	d->node = node;
	d->loop = l;
	d->when = (int64_t)time(NULL);
	memset(&cur, 0, sizeof(cur));
	rc = st->ops->retraction_get(st, f->sha256, &cur);
	if (rc != 0 && rc != VG_ENOENT) {
		api_store_failed(req, ROUTE_ADMIN_FP, l->store,
				 "retraction_get");
		goto fail;
	}
	if (retract && rc == 0) {
		api_send_error(req, ROUTE_ADMIN_FP, 409, "already_retracted",
			       "a retraction of this sample is in force; "
			       "reinstate it first");
		goto fail;
	}
	if (!retract && rc == VG_ENOENT) {
		api_send_error(req, ROUTE_ADMIN_FP, 409, "not_retracted",
			       "no retraction of this sample is in force");
		goto fail;
	}
	if (retract) {
		if ((rc = st->ops->fp_open_count(st, f->sha256, &open)) != 0) {
			api_store_failed(req, ROUTE_ADMIN_FP, l->store,
					 "fp_open_count");
			goto fail;
		}
		if (open == 0) {
			api_send_error(req, ROUTE_ADMIN_FP, 409,
				       "no_open_report",
				       "no client has an open report on this "
				       "sample");
			goto fail;
		}
		rc = st->ops->reputation_get(st, f->sha256, &rep);
		if (rc != 0) {
			api_store_failed(req, ROUTE_ADMIN_FP, l->store,
					 "reputation_get");
			goto fail;
		}
		rc = canonical_detections(rep.detections, &line,
					  &d->detections);
		reputation_clear(&rep);
		if (rc != 0) {
			api_send_error(req, ROUTE_ADMIN_FP, 409, "not_detected",
				       "the node detects nothing in this "
				       "sample");
			goto fail;
		}
	} else if (canonical_detections(cur.detections, &line,
					&d->detections) != 0) {
		log_event(LOG_ERROR, "store_corrupt",
			  "func=%s sha256=%s what=detections", __func__,
			  f->sha256);
		api_send_error(req, ROUTE_ADMIN_FP, 500, "store_corrupt",
			       "the stored retraction makes no sense");
		goto fail;
	}
	d->reason = xstrdup(reason);
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_RETRACTION;
	e.time = d->when;
	if (!hex_decode_lower(f->sha256, 32, e.retraction.sample))
		fatal("a checked hash does not decode");
	e.retraction.action =
		retract ? TLOG_RETRACTION_RETRACT : TLOG_RETRACTION_REINSTATE;
	e.retraction.detections = line;
	e.retraction.reason = d->reason;
	rc = tlog_entry_encode(&e, &text, &len, err, sizeof(err));
	if (rc != 0) {
		/* The entry's encoder is the one judge: the reason, or a
		 * detection name the log cannot hold. */
		bool reason_bad = strstr(err, "field reason") != NULL;

		msg = xasprintf("%s: %s",
				reason_bad ? "the reason is not one line of "
					     "text as the log takes it"
					   : "the detections cannot be logged",
				err);
		api_send_error(req, ROUTE_ADMIN_FP, reason_bad ? 400 : 422,
			       reason_bad ? "bad_reason" : "bad_detections",
			       msg);
		free(msg);
		goto fail;
	}
	free(line);
	retraction_clear(&cur);
	it = api_log_submit(req, ROUTE_ADMIN_FP, text, len, on_logged);
	if (it == NULL) {
		decision_free(d);
		return 0;
	}
	h = h2o_mem_alloc_shared(&req->pool, sizeof(*h), hook_dispose);
	h->d = d;
	d->hook = h;
	d->req = req;
	it->ud = d;
	log_event(LOG_INFO, "retraction_requested", "sha256=%s action=%s",
		  f->sha256, retract ? "retract" : "reinstate");
	return 0;
fail:
	free(line);
	retraction_clear(&cur);
	decision_free(d);
	return 0;
}

static int
on_reject(struct api_loop *l, h2o_req_t *req, const struct found *f,
	  const char *reason)
{
	uint64_t n = 0;
	int rc;

	rc = l->store->ops->fp_reject(l->store, f->sha256, reason, 0, &n);
	busy_drop(f->sha256);
	if (rc == VG_ENOENT)
		return api_send_error(req, ROUTE_ADMIN_FP, 409,
				      "no_open_report",
				      "no client has an open report on this "
				      "sample");
	if (rc != 0)
		return api_store_failed(req, ROUTE_ADMIN_FP, l->store,
					"fp_reject");
	log_event(LOG_INFO, "fp_rejected", "sha256=%s reports=%llu", f->sha256,
		  (unsigned long long)n);
	return api_send_json(req, ROUTE_ADMIN_FP, 200,
			     json_pack("{s:s, s:I}", "sha256", f->sha256,
				       "rejected", (json_int_t)n));
}

int
fp_on_admin(struct node *node, struct api_loop *l, h2o_req_t *req,
	    const char *rest, size_t len)
{
	static const char *const keys[] = {"reason"};
	const char *slash, *act;
	size_t hlen, alen;
	struct found f;
	json_t *j;
	int retract;

	if (node->log == NULL)
		return api_send_error(req, ROUTE_ADMIN_FP, 404, "not_found",
				      "this node keeps no log");
	if (len == 0 || (len == 1 && rest[0] == '/')) {
		if (!h2o_memis(req->method.base, req->method.len,
			       H2O_STRLIT("GET")))
			return api_wrong_method(req, ROUTE_ADMIN_FP, "GET");
		if (!api_operator_ok(req, ROUTE_ADMIN_FP))
			return 0;
		return on_list(node, l, req);
	}
	/* /{hash}/{action} */
	if (rest[0] != '/' || (slash = memchr(rest + 1, '/', len - 1)) == NULL)
		return api_send_error(req, ROUTE_ADMIN_FP, 404, "not_found",
				      "no such route");
	hlen = (size_t)(slash - rest - 1);
	act = slash + 1;
	alen = len - hlen - 2;
	if (h2o_memis(act, alen, H2O_STRLIT("accept")))
		retract = 1;
	else if (h2o_memis(act, alen, H2O_STRLIT("reinstate")))
		retract = 0;
	else if (h2o_memis(act, alen, H2O_STRLIT("reject")))
		retract = -1;
	else
		return api_send_error(req, ROUTE_ADMIN_FP, 404, "not_found",
				      "no such route: the actions are accept, "
				      "reject and reinstate");
	if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")))
		return api_wrong_method(req, ROUTE_ADMIN_FP, "POST");
	if (!api_operator_ok(req, ROUTE_ADMIN_FP))
		return 0;
	if (find_sample(node, req, ROUTE_ADMIN_FP, rest + 1, hlen, &f) != 0)
		return 0;
	json_decref(f.answer);
	if ((j = body_fields(req, ROUTE_ADMIN_FP, keys, 1)) == NULL)
		return 0;
	if (!busy_take(f.sha256)) {
		json_decref(j);
		h2o_add_header(&req->pool, &req->res.headers,
			       H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
		return api_send_error(req, ROUTE_ADMIN_FP, 409, "busy",
				      "a decision on this sample is under "
				      "way; try again");
	}
	if (retract < 0)
		on_reject(l, req, &f,
			  json_string_value(json_object_get(j, "reason")));
	else
		decide(node, l, req, &f, retract == 1,
		       json_string_value(json_object_get(j, "reason")));
	json_decref(j);
	return 0;
}

static int
overlay_cb(const struct retraction *r, void *ud)
{
	struct node *node = ud;

	if (index_set_retraction(node->index, r->sha256, (int64_t)r->log_index,
				 r->detections) != 0)
		log_event(LOG_WARN, "bad_retraction_row",
			  "sha256=%.64s index=%llu", r->sha256,
			  (unsigned long long)r->log_index);
	return 0;
}

int
fp_load_index(struct node *node)
{
	return node->store->ops->retraction_each(node->store, overlay_cb, node);
}
