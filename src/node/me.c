/*
 * me.c - /v1/me: a client's own data, under its own token (docs/API.md,
 * "Your own data"; docs/PRIVACY.md): the list of its submissions, an
 * export of everything the region holds about it, its consent, and the
 * deletion of it all.
 *
 * Erasure order (consent lowered, or deletion): the store first clears
 * every location of the bytes to erase, with the rest, in one commit
 * (store.h, client_consent_set); then the bytes are erased
 * (samples_erase); then the node's caches learn it (the token, the
 * reputation index); then the `erasure` entry, counts only, goes to the
 * sequencer, and the client is answered once it is durable. The commit
 * also records each record to erase as pending (store.h,
 * erasures_pending), and each one erased is marked done: a crash after
 * the commit leaves bytes no location names, never served, still
 * pending, and erased at the next start (me_erase_pending).
 *
 * Every answer is bounded: a list or an export is at most
 * STORE_CLIENT_LIST_MAX submissions, with the id to go on from.
 */
#include "node/me.h"

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "node/api.h"
#include "node/index.h"
#include "tlog/entry.h"

/* A list's page when the client names none. */
#define ME_LIST_DEFAULT 100

/* An erasure waiting for its entry: the request's pool holds this, and
 * the log item points to it (it->ud). Whichever goes first unhooks the
 * other. */
struct erasing {
	h2o_req_t *req;
	struct nodelog_item *it;
	json_t *answer; /* owned; sent with the entry's index */
};

static void
erasing_dispose(void *p)
{
	struct erasing *w = p;

	if (w->it != NULL)
		w->it->ud = NULL;
	json_decref(w->answer);
	w->answer = NULL;
}

/* The value of query parameter name (the first), or NULL. */
static const char *
query(h2o_req_t *req, const char *name, size_t *vl)
{
	const char *q, *end;
	size_t nl = strlen(name);

	if (req->query_at == SIZE_MAX)
		return NULL;
	q = req->path.base + req->query_at + 1;
	end = req->path.base + req->path.len;
	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *stop = amp ? amp : end;

		if ((size_t)(stop - q) > nl && memcmp(q, name, nl) == 0 &&
		    q[nl] == '=') {
			*vl = (size_t)(stop - q) - nl - 1;
			return q + nl + 1;
		}
		q = stop + 1;
	}
	return NULL;
}

/* ?after=ID into after (a submission id: 1 to 36 of [0-9a-f-]; "" when
 * absent): 0, or -1 after answering 400. */
static int
query_after(h2o_req_t *req, char after[37])
{
	size_t n = 0;
	const char *v = query(req, "after", &n);

	after[0] = '\0';
	if (v == NULL)
		return 0;
	if (n == 0 || n > 36)
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= '0' && v[i] <= '9') ||
		      (v[i] >= 'a' && v[i] <= 'f') || v[i] == '-'))
			goto bad;
	memcpy(after, v, n);
	after[n] = '\0';
	return 0;
bad:
	api_send_error(req, ROUTE_ME, 400, "bad_after",
		       "after is a submission id");
	return -1;
}

/* The stored metadata text as JSON, or an empty object if it makes no
 * sense (stored data is hostile too). */
static json_t *
metadata_json(const char *text)
{
	json_t *j =
		text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;

	if (!json_is_object(j)) {
		json_decref(j);
		return json_object();
	}
	return j;
}

static json_t *
list_item(const struct client_sub *c)
{
	json_t *meta = metadata_json(c->sub.metadata);
	json_t *name = json_object_get(meta, "name");
	json_t *out =
		json_pack("{s:s, s:I, s:s, s:s, s:s, s:I, s:O, s:s}", "id",
			  c->sub.id, "time", (json_int_t)c->sub.created,
			  "sha256", c->rep.sha256, "md5", c->rep.md5, "sha1",
			  c->rep.sha1, "size", (json_int_t)c->rep.size, "name",
			  json_is_string(name) ? name : json_null(), "verdict",
			  c->rep.verdict);

	json_decref(meta);
	return out;
}

static json_t *
export_item(const struct client_sub *c)
{
	json_t *det = json_loads(c->rep.detections, 0, NULL);

	if (!json_is_array(det)) {
		json_decref(det);
		det = json_array();
	}
	return json_pack(
		"{s:s, s:I, s:s, s:o, s:{s:s, s:s, s:s, s:I, s:s?, s:s, s:i,"
		" s:o, s:I, s:I, s:I}}",
		"id", c->sub.id, "time", (json_int_t)c->sub.created, "sha256",
		c->sub.sha256, "metadata", metadata_json(c->sub.metadata),
		"sample", "md5", c->rep.md5, "sha1", c->rep.sha1, "sha256",
		c->rep.sha256, "size", (json_int_t)c->rep.size, "type",
		c->rep.type, "verdict", c->rep.verdict, "score", c->rep.score,
		"detections", det, "prevalence", (json_int_t)c->rep.prevalence,
		"first_seen", (json_int_t)c->rep.first_seen, "last_seen",
		(json_int_t)c->rep.last_seen);
}

/* GET /v1/me/submissions?after=ID&limit=N and GET /v1/me/export?after=ID:
 * a page of the client's submissions, and "next" to go on from. */
static int
on_list(struct node *node, struct api_loop *l, h2o_req_t *req, const char *id,
	bool export)
{
	size_t max = export ? STORE_CLIENT_LIST_MAX : ME_LIST_DEFAULT, n = 0,
	       vl;
	struct client_sub *v = NULL;
	const char *lim;
	char after[37];
	json_t *arr, *out;

	if (query_after(req, after) != 0)
		return 0;
	if (!export && (lim = query(req, "limit", &vl)) != NULL) {
		size_t k = 0;

		for (size_t i = 0; i < vl && k <= STORE_CLIENT_LIST_MAX; i++) {
			if (lim[i] < '0' || lim[i] > '9') {
				k = 0;
				break;
			}
			k = k * 10 + (size_t)(lim[i] - '0');
		}
		if (k == 0 || k > STORE_CLIENT_LIST_MAX)
			return api_send_error(req, ROUTE_ME, 400, "bad_limit",
					      "limit is from 1 to 1000");
		max = k;
	}
	if (l->store->ops->client_list(l->store, id, after, max, &v, &n) != 0)
		return api_store_failed(req, ROUTE_ME, l->store, "client_list");
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, export ? export_item(&v[i])
						  : list_item(&v[i]));
	out = json_pack("{s:o, s:o}", "submissions", arr, "next",
			n == max ? json_string(v[n - 1].sub.id) : json_null());
	client_subs_free(v, n);
	if (export) {
		ssize_t at = h2o_find_header(&req->headers,
					     H2O_TOKEN_AUTHORIZATION, -1);
		uint8_t hash[32];
		struct client c;

		/* The client record, as the store has it; never the token
		 * or its hash. authenticate() checked the header. */
		if (at < 0 || req->headers.entries[at].value.len < 7) {
			json_decref(out);
			return api_send_error(req, ROUTE_ME, 401,
					      "unauthorized",
					      "a bearer token is required");
		}
		crypto_hash_sha256(
			hash,
			(const uint8_t *)req->headers.entries[at].value.base +
				7,
			req->headers.entries[at].value.len - 7);
		if (l->store->ops->client_by_token_hash(l->store, hash, &c) !=
		    0) {
			json_decref(out);
			return api_store_failed(req, ROUTE_ME, l->store,
						"client_by_token_hash");
		}
		json_object_set_new(out, "format",
				    json_string("vigil.export/v1"));
		json_object_set_new(out, "region",
				    json_string(node->cfg.region));
		json_object_set_new(
			out, "client",
			json_pack("{s:s, s:s, s:s, s:I}", "id", c.id, "region",
				  c.region, "consent",
				  api_consent_name(c.consent), "created",
				  (json_int_t)c.created));
		json_object_set_new(out, "exported",
				    json_integer((json_int_t)time(NULL)));
		json_object_set_new(out, "complete", json_boolean(n < max));
		client_clear(&c);
		/* Its false-positive reports, with the first page. */
		if (after[0] == '\0') {
			static const char *const states[] = {"open", "accepted",
							     "rejected"};
			struct client_fp *fp = NULL;
			size_t nfp = 0;
			json_t *fps;

			if (l->store->ops->client_fp_list(l->store, id,
							  STORE_CLIENT_LIST_MAX,
							  &fp, &nfp) != 0) {
				json_decref(out);
				return api_store_failed(req, ROUTE_ME, l->store,
							"client_fp_list");
			}
			fps = json_array();
			for (size_t i = 0; i < nfp; i++)
				json_array_append_new(
					fps,
					json_pack(
						"{s:s, s:s, s:I, s:s}",
						"sha256", fp[i].sha256,
						"reason", fp[i].reason, "time",
						(json_int_t)fp[i].created,
						"state", states[fp[i].state]));
			json_object_set_new(out, "fp_reports", fps);
			json_object_set_new(
				out, "fp_reports_complete",
				json_boolean(nfp < STORE_CLIENT_LIST_MAX));
			client_fps_free(fp, nfp);
		}
	}
	return api_send_json(req, ROUTE_ME, 200, out);
}

/* The sequencer is done with the erasure entry (loop thread); owns it. */
static void
on_logged(struct nodelog_item *it)
{
	struct erasing *w = it->ud;

	if (it->rc != 0)
		log_event(LOG_ERROR, "erasure_unlogged", "err=\"%s\"", it->err);
	if (w != NULL) {
		w->it = NULL;
		json_object_set_new(
			w->answer, "log_index",
			it->rc == 0 ? json_integer((json_int_t)it->index)
				    : json_null());
		api_send_json(w->req, ROUTE_ME, 200, json_incref(w->answer));
	}
	nodelog_item_free(it);
}

/* Erases the record at loc, then tells the store it is done. A failure
 * leaves it pending (erasures table): erased again at the next start. */
static void
erase_one(struct node *node, struct store *store, const struct sample_loc *loc)
{
	int rc = samples_erase(node->samples, loc);

	if (rc == 0 && (rc = store->ops->erasure_done(store, loc)) != 0)
		log_event(LOG_WARN, "store_failed",
			  "op=erasure_done err=\"%s\"", store->err);
	else if (rc != 0)
		log_event(LOG_ERROR, "erase_failed",
			  "segment=%llu offset=%llu length=%llu err=\"%s\"",
			  (unsigned long long)loc->segment,
			  (unsigned long long)loc->offset,
			  (unsigned long long)loc->length, vg_strerror(rc));
}

void
me_erase_pending(struct node *node, struct store *store)
{
	struct sample_loc *v = NULL;
	size_t n = 0, total = 0;

	/* Pages, each erased before the next is read. One that fails stays
	 * pending and comes back in the next page: the pass is bounded. */
	for (;;) {
		size_t done = 0;

		if (store->ops->erasures_pending(store, STORE_CLIENT_LIST_MAX,
						 &v, &n) != 0) {
			log_event(LOG_WARN, "store_failed",
				  "op=erasures_pending err=\"%s\"", store->err);
			return;
		}
		for (size_t i = 0; i < n; i++) {
			erase_one(node, store, &v[i]);
			done++;
		}
		free(v);
		v = NULL;
		total += done;
		if (n < STORE_CLIENT_LIST_MAX ||
		    total > 16 * STORE_CLIENT_LIST_MAX)
			break;
	}
	if (total > 0)
		log_event(LOG_INFO, "erasures_resumed", "records=%zu", total);
}

/* Erases the bytes e names and tells the index what changed. */
static void
erase_after(struct node *node, struct api_loop *l, struct erasure *e)
{
	for (uint64_t i = 0; i < e->erased; i++)
		erase_one(node, l->store, &e->locs[i]);
	for (uint64_t i = 0; i < e->unlinked && e->changed != NULL; i++) {
		struct reputation r;

		if (l->store->ops->reputation_get(l->store, e->changed[i],
						  &r) != 0)
			continue;
		/* index_put keeps the larger count: an erasure's is set. */
		pthread_rwlock_wrlock(&node->index_lock);
		index_put(node->index, &r);
		index_set_prevalence(node->index, r.sha256, r.prevalence);
		pthread_rwlock_unlock(&node->index_lock);
		reputation_clear(&r);
	}
}

/* Logs the erasure (reason, consent now, counts) and answers with
 * answer once the entry is durable; without a log, at once. */
static int
log_erasure(struct node *node, h2o_req_t *req, const char *reason,
	    enum consent now, const struct erasure *e, json_t *answer)
{
	struct nodelog_item *it;
	struct erasing *w;
	struct tlog_entry te;
	char err[256], *text = NULL;
	size_t len;

	if (node->log == NULL) {
		json_object_set_new(answer, "log_index", json_null());
		return api_send_json(req, ROUTE_ME, 200, answer);
	}
	memset(&te, 0, sizeof(te));
	te.type = TLOG_ENTRY_ERASURE;
	te.time = (int64_t)time(NULL);
	te.erasure.reason = reason;
	te.erasure.consent = api_consent_name(now);
	te.erasure.submissions = e->submissions;
	te.erasure.samples_unlinked = e->unlinked;
	te.erasure.samples_erased = e->erased;
	if (tlog_entry_encode(&te, &text, &len, err, sizeof(err)) != 0)
		fatal("an erasure entry does not encode: %s", err);
	it = api_log_submit(req, ROUTE_ME, text, len, on_logged);
	if (it == NULL) {
		/* Answered 503; the erasure itself is done. */
		log_event(LOG_ERROR, "erasure_unlogged", "err=\"%s\"",
			  "too many entries waiting");
		json_decref(answer);
		return 0;
	}
	w = h2o_mem_alloc_shared(&req->pool, sizeof(*w), erasing_dispose);
	w->req = req;
	w->it = it;
	w->answer = answer;
	it->ud = w;
	return 0;
}

static json_t *
erased_json(enum consent c, const struct erasure *e)
{
	return json_pack("{s:s, s:{s:I, s:I, s:I}}", "consent",
			 api_consent_name(c), "erased", "submissions",
			 (json_int_t)e->submissions, "samples_unlinked",
			 (json_int_t)e->unlinked, "samples_erased",
			 (json_int_t)e->erased);
}

/* PUT /v1/me/consent {"consent": "none" | "metadata" | "files"}. */
static int
on_consent(struct node *node, struct api_loop *l, h2o_req_t *req,
	   const char *id, enum consent was)
{
	struct erasure e;
	enum consent c;
	json_error_t je;
	json_t *j, *v;
	const char *s;
	int rc;

	j = json_loadb(req->entity.base ? req->entity.base : "",
		       req->entity.len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		return api_send_error(req, ROUTE_ME, 400, "bad_json",
				      "the body is not a JSON object");
	}
	v = json_object_get(j, "consent");
	s = json_string_value(v);
	if (json_object_size(j) != 1 || s == NULL) {
		json_decref(j);
		return api_send_error(req, ROUTE_ME, 400, "bad_consent",
				      "the body is {\"consent\": LEVEL}, LEVEL "
				      "one of none, metadata, files");
	}
	if (strcmp(s, "none") == 0)
		c = CONSENT_NONE;
	else if (strcmp(s, "metadata") == 0)
		c = CONSENT_METADATA;
	else if (strcmp(s, "files") == 0)
		c = CONSENT_FILES;
	else {
		json_decref(j);
		return api_send_error(req, ROUTE_ME, 400, "bad_consent",
				      "consent is one of none, metadata, "
				      "files");
	}
	json_decref(j);
	rc = l->store->ops->client_consent_set(l->store, id, c, &e);
	if (rc == VG_ENOENT)
		return api_send_error(req, ROUTE_ME, 401, "unauthorized",
				      "this client is not enrolled");
	if (rc != 0)
		return api_store_failed(req, ROUTE_ME, l->store,
					"client_consent_set");
	api_client_changed(id, c, false);
	erase_after(node, l, &e);
	log_event(LOG_INFO, "consent_set",
		  "consent=%s submissions=%llu unlinked=%llu erased=%llu",
		  api_consent_name(c), (unsigned long long)e.submissions,
		  (unsigned long long)e.unlinked, (unsigned long long)e.erased);
	if (c >= was) {
		/* Nothing lowered, nothing erased: no entry. */
		erasure_clear(&e);
		return api_send_json(req, ROUTE_ME, 200,
				     json_pack("{s:s, s:n}", "consent",
					       api_consent_name(c),
					       "log_index"));
	}
	rc = log_erasure(node, req, TLOG_ERASURE_CONSENT_LOWERED, c, &e,
			 erased_json(c, &e));
	erasure_clear(&e);
	return rc;
}

/* DELETE /v1/me: everything about the client, its token with it. */
static int
on_delete(struct node *node, struct api_loop *l, h2o_req_t *req, const char *id)
{
	struct erasure e;
	json_t *answer;
	int rc;

	rc = l->store->ops->client_delete(l->store, id, &e);
	if (rc == VG_ENOENT)
		return api_send_error(req, ROUTE_ME, 401, "unauthorized",
				      "this client is not enrolled");
	if (rc != 0)
		return api_store_failed(req, ROUTE_ME, l->store,
					"client_delete");
	api_client_changed(id, CONSENT_NONE, true);
	erase_after(node, l, &e);
	log_event(LOG_INFO, "client_deleted",
		  "submissions=%llu unlinked=%llu erased=%llu",
		  (unsigned long long)e.submissions,
		  (unsigned long long)e.unlinked, (unsigned long long)e.erased);
	answer = erased_json(CONSENT_NONE, &e);
	json_object_set_new(answer, "deleted", json_true());
	rc = log_erasure(node, req, TLOG_ERASURE_REQUEST, CONSENT_NONE, &e,
			 answer);
	erasure_clear(&e);
	return rc;
}

int
me_handle(struct node *node, struct api_loop *l, h2o_req_t *req,
	  const char *rest, size_t len)
{
	enum consent consent;
	char id[37];

#define IS(s)     (len == sizeof(s) - 1 && memcmp(rest, s, len) == 0)
#define METHOD(m) h2o_memis(req->method.base, req->method.len, H2O_STRLIT(m))
	if (!IS("") && !IS("/submissions") && !IS("/export") && !IS("/consent"))
		return api_send_error(req, ROUTE_ME, 404, "not_found",
				      "no such route");
	if (IS("") && !METHOD("DELETE"))
		return api_wrong_method(req, ROUTE_ME, "DELETE");
	if ((IS("/submissions") || IS("/export")) && !METHOD("GET"))
		return api_wrong_method(req, ROUTE_ME, "GET");
	if (IS("/consent") && !METHOD("PUT"))
		return api_wrong_method(req, ROUTE_ME, "PUT");
	if (api_client_auth(req, ROUTE_ME, id, &consent) != 0)
		return 0;
	if (IS("/submissions"))
		return on_list(node, l, req, id, false);
	if (IS("/export"))
		return on_list(node, l, req, id, true);
	if (IS("/consent"))
		return on_consent(node, l, req, id, consent);
	return on_delete(node, l, req, id);
#undef IS
#undef METHOD
}
