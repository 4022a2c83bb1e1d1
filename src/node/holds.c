/*
 * holds.c - legal holds: place and release; see holds.h.
 *
 * The order is operators.c's: everything that can be refused is refused
 * before the entry is made, and the change is stored only once the
 * entry is durable, so that no hold is ever in force, or lifted, without
 * the log saying so first. A hold placed on two nodes at once gets two
 * entries; the store takes one, the other is answered 409. A release
 * that finds the hold released meanwhile (by another node) is done all
 * the same.
 *
 * The pending change lives in a malloc'd struct that the log item owns
 * (it->ud); the request's pool holds a hook to it, and whichever goes
 * first unhooks the other.
 */
#include "node/holds.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "node/api.h"
#include "node/nodelog.h"
#include "tlog/entry.h"

#define R ROUTE_ADMIN_HOLDS

struct hook;

/* A hold or release waiting for its entry. */
struct change {
	h2o_req_t *req; /* NULL once the client left */
	struct hook *hook;
	struct api_loop *loop;
	bool place;
	struct store_hold h;
	char reason[STORE_FP_REASON_MAX + 1];
};

struct hook {
	struct change *c;
};

static void
hook_dispose(void *p)
{
	struct hook *h = p;

	if (h->c != NULL)
		h->c->req = NULL;
}

/* The sequencer is done with a change's entry (loop thread); owns it. */
static void
on_logged(struct nodelog_item *it)
{
	struct change *c = it->ud;
	struct store *st;
	int rc;

	if (c == NULL) /* not reached: the change is the item's */
		goto out;
	st = c->loop->store;
	if (it->rc != 0) {
		log_event(LOG_ERROR, "hold_change_failed",
			  "sha256=%s case=%s place=%d err=\"%s\"", c->h.sha256,
			  c->h.case_id, (int)c->place, it->err);
		if (c->req != NULL) {
			c->hook->c = NULL;
			api_send_error(c->req, R, 503, "log_unavailable",
				       it->err);
		}
		goto out;
	}
	rc = c->place ? st->ops->hold_add(st, &c->h)
		      : st->ops->hold_release(st, c->h.sha256, c->h.case_id);
	if (!c->place && rc == VG_ENOENT)
		rc = 0;
	if (rc == 0)
		log_event(LOG_INFO, c->place ? "hold_placed" : "hold_released",
			  "sha256=%s case=%s by=%s index=%llu", c->h.sha256,
			  c->h.case_id, c->h.by, (unsigned long long)it->index);
	if (c->req == NULL) {
		if (rc != 0)
			log_event(LOG_ERROR, "store_failed",
				  "func=%s sha256=%s case=%s err=\"%s\"",
				  __func__, c->h.sha256, c->h.case_id, st->err);
		goto out;
	}
	c->hook->c = NULL;
	if (rc == VG_EINVAL && c->place)
		api_send_error(c->req, R, 409, "hold_exists",
			       "a hold of that case was placed meanwhile");
	else if (rc == VG_ENOENT && c->place)
		api_send_error(c->req, R, 404, "unknown_sample",
			       "the node does not know this sample");
	else if (rc != 0)
		api_store_failed(c->req, R, st,
			     c->place ? "hold_add" : "hold_release");
	else
		api_send_json(c->req, R, c->place ? 201 : 200,
			      json_pack("{s:s, s:s, s:b, s:I, s:I}", "sha256",
					c->h.sha256, "case", c->h.case_id,
					"held", (int)c->place, "log_index",
					(json_int_t)it->index, "log_size",
					(json_int_t)it->size));
out:
	free(c);
	nodelog_item_free(it);
}

/* Makes c's entry and queues it. Returns 0 (answered on failure, c
 * freed). */
static int
submit(h2o_req_t *req, struct change *c)
{
	char who[sizeof("operator:") + STORE_OPERATOR_NAME_MAX], err[256];
	struct nodelog_item *it;
	struct tlog_entry e;
	struct hook *h;
	char *text = NULL, *msg;
	size_t len;

	snprintf(who, sizeof(who), "operator:%s", c->h.by);
	memset(&e, 0, sizeof(e));
	e.type = c->place ? TLOG_ENTRY_HOLD : TLOG_ENTRY_RELEASE_HOLD;
	e.time = (int64_t)time(NULL);
	if (!hex_decode_lower(c->h.sha256, 32, e.hold.sample))
		fatal("a checked hash does not decode");
	e.hold.case_id = c->h.case_id;
	e.hold.reason = c->reason;
	e.hold.who = who;
	/* The entry's encoder is the one judge of the reason: the node
	 * refuses exactly what the format refuses. */
	if (tlog_entry_encode(&e, &text, &len, err, sizeof(err)) != 0) {
		msg = xasprintf("the reason is not one line of text as the "
				"log takes it: %s",
				err);
		api_send_error(req, R, 400, "bad_reason", msg);
		free(msg);
		free(c);
		return 0;
	}
	it = api_log_submit(req, R, text, len, on_logged);
	if (it == NULL) {
		free(c);
		return 0;
	}
	h = h2o_mem_alloc_shared(&req->pool, sizeof(*h), hook_dispose);
	h->c = c;
	c->hook = h;
	c->req = req;
	it->ud = c;
	log_event(LOG_INFO,
		  c->place ? "hold_requested" : "hold_release_requested",
		  "sha256=%s case=%s by=%s", c->h.sha256, c->h.case_id,
		  c->h.by);
	return 0;
}

/* Copies a string member of j into out (cap bytes with its NUL) if it is
 * a string of 1 to cap - 1 bytes without NUL. */
static bool
member(json_t *j, const char *key, char *out, size_t cap)
{
	json_t *v = json_object_get(j, key);
	size_t n;

	if (!json_is_string(v) || (n = json_string_length(v)) == 0 ||
	    n >= cap || memchr(json_string_value(v), '\0', n) != NULL)
		return false;
	memcpy(out, json_string_value(v), n);
	out[n] = '\0';
	return true;
}

static int
on_place(h2o_req_t *req, struct api_loop *l, const char *by)
{
	struct reputation rep;
	struct change *c;
	json_error_t je;
	const char *k;
	json_t *j, *v;
	uint64_t n = 0;
	int rc;

	if (req->entity.base == NULL || req->entity.len == 0)
		return api_send_error(req, R, 400, "bad_body",
				      "the body must be {\"sha256\": HASH, "
				      "\"case\": ID, \"reason\": TEXT}");
	j = json_loadb(req->entity.base, req->entity.len,
		       JSON_REJECT_DUPLICATES, &je);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		return api_send_error(req, R, 400, "bad_body",
				      "the body must be a JSON object: "
				      "{\"sha256\": HASH, \"case\": ID, "
				      "\"reason\": TEXT}");
	}
	json_object_foreach(j, k, v)
	{
		if ((strcmp(k, "sha256") != 0 && strcmp(k, "case") != 0 &&
		     strcmp(k, "reason") != 0) ||
		    !json_is_string(v)) {
			json_decref(j);
			return api_send_error(req, R, 400, "bad_body",
					      "the body has sha256, case and "
					      "reason, strings, and nothing "
					      "else");
		}
	}
	c = xcalloc(1, sizeof(*c));
	c->loop = l;
	c->place = true;
	snprintf(c->h.by, sizeof(c->h.by), "%s", by);
	c->h.reason = c->reason;
	if (!member(j, "sha256", c->h.sha256, sizeof(c->h.sha256)) ||
	    strlen(c->h.sha256) != 64 || !hex_is_lower(c->h.sha256, 64))
		rc = api_send_error(req, R, 400, "bad_hash",
				    "sha256 must be a SHA-256 in lowercase "
				    "hex");
	else if (!member(j, "case", c->h.case_id, sizeof(c->h.case_id)) ||
		 !store_valid_case(c->h.case_id))
		rc = api_send_error(req, R, 400, "bad_case",
				    "case must be 1 to 64 of A-Z, a-z, 0-9, "
				    "'.', '_', ':', '-', starting with a "
				    "letter or digit");
	else if (!member(j, "reason", c->reason, sizeof(c->reason)))
		rc = api_send_error(req, R, 400, "bad_reason",
				    "reason must be 1 to 1024 bytes of one "
				    "line of text");
	else
		rc = 1;
	json_decref(j);
	if (rc != 1) {
		free(c);
		return 0;
	}
	rc = l->store->ops->reputation_get(l->store, c->h.sha256, &rep);
	if (rc == 0)
		reputation_clear(&rep);
	if (rc == 0)
		rc = l->store->ops->holds_count(l->store, c->h.sha256,
						c->h.case_id, &n);
	if (rc == VG_ENOENT) {
		free(c);
		return api_send_error(req, R, 404, "unknown_sample",
				      "the node does not know this sample");
	}
	if (rc != 0) {
		free(c);
		return api_store_failed(req, R, l->store, "holds_count");
	}
	if (n > 0) {
		free(c);
		return api_send_error(req, R, 409, "hold_exists",
				      "a hold of that case is on the sample "
				      "already");
	}
	return submit(req, c);
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

static int
on_release(h2o_req_t *req, struct api_loop *l, const char *by, const char *hash,
	   size_t len)
{
	struct change *c;
	const char *v;
	uint64_t n = 0;
	size_t vl = 0;
	int rc;

	if (len != 64 || !hex_is_lower(hash, len))
		return api_send_error(req, R, 400, "bad_hash",
				      "expected a SHA-256 in lowercase hex");
	v = query(req, "case", &vl);
	if (v == NULL || vl == 0 || vl > STORE_HOLD_CASE_MAX)
		return api_send_error(req, R, 400, "bad_case",
				      "?case=ID is required: 1 to 64 of A-Z, "
				      "a-z, 0-9, '.', '_', ':', '-'");
	c = xcalloc(1, sizeof(*c));
	c->loop = l;
	c->place = false;
	memcpy(c->h.sha256, hash, 64);
	memcpy(c->h.case_id, v, vl);
	snprintf(c->h.by, sizeof(c->h.by), "%s", by);
	if (!store_valid_case(c->h.case_id)) {
		free(c);
		return api_send_error(req, R, 400, "bad_case",
				      "case must be 1 to 64 of A-Z, a-z, 0-9, "
				      "'.', '_', ':', '-', starting with a "
				      "letter or digit");
	}
	rc = l->store->ops->holds_count(l->store, c->h.sha256, c->h.case_id,
					&n);
	if (rc != 0) {
		free(c);
		return api_store_failed(req, R, l->store, "holds_count");
	}
	if (n == 0) {
		free(c);
		return api_send_error(req, R, 404, "unknown_hold",
				      "no hold of that case is on that sample");
	}
	return submit(req, c);
}

int
holds_handle(struct node *node, struct api_loop *l, h2o_req_t *req,
	     const char *rest, size_t len)
{
	char by[STORE_OPERATOR_NAME_MAX + 1];
	bool post = h2o_memis(req->method.base, req->method.len,
			      H2O_STRLIT("POST"));
	bool del = h2o_memis(req->method.base, req->method.len,
			     H2O_STRLIT("DELETE"));

	if (len == 0 && !post)
		return api_wrong_method(req, R, "POST");
	if (len > 0 && !del)
		return api_wrong_method(req, R, "DELETE");
	if (len > 0 && rest[0] != '/')
		return api_send_error(req, R, 404, "not_found",
				      "no such route");
	if (node->log == NULL)
		return api_send_error(req, R, 404, "not_found",
				      "this node keeps no log");
	if (!api_operator_auth(req, R, by))
		return 0;
	if (post)
		return on_place(req, l, by);
	return on_release(req, l, by, rest + 1, len - 1);
}
