/*
 * operators.c - the region's named operators: add, list, revoke; see
 * operators.h.
 *
 * The order is access.c's: everything that can be refused is refused
 * before the entry is made, and the change is stored only once the
 * entry is durable, so the log never lags behind who may act. A new
 * operator's token leaves the node only in the answer, after both; an
 * add whose client left meanwhile stays made (the entry says so), and
 * its unknown token can be revoked. Two adds of one name racing on two
 * nodes both get their entry; the store takes one, the other is
 * answered 409.
 *
 * The pending change lives in a malloc'd struct that the log item owns
 * (it->ud); the request's pool holds a hook to it, and whichever goes
 * first unhooks the other.
 */
#include "node/operators.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "node/api.h"
#include "node/config.h"
#include "node/nodelog.h"
#include "tlog/entry.h"

#define R            ROUTE_ADMIN_OPERATORS
#define TOKEN_PREFIX "vgop."
#define TOKEN_LEN    (sizeof(TOKEN_PREFIX) - 1 + 2 * OPERATORS_TOKEN_BYTES)

struct hook;

/* An add or revocation waiting for its entry. */
struct change {
	h2o_req_t *req; /* NULL once the client left */
	struct hook *hook;
	struct api_loop *loop;
	bool add;
	struct store_operator op;  /* the name, and for an add its hash */
	char token[TOKEN_LEN + 1]; /* an add's token; wiped */
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

static void
change_free(struct change *c)
{
	if (c == NULL)
		return;
	sodium_memzero(c, sizeof(*c));
	free(c);
}

/* Whether name[0..len) may name a stored operator (a label, not root). */
static bool
name_ok(const char *name, size_t len)
{
	return config_name_ok(name, len) &&
	       !(len == strlen(STORE_OPERATOR_ROOT) &&
		 memcmp(name, STORE_OPERATOR_ROOT, len) == 0);
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
		log_event(LOG_ERROR, "operator_change_failed",
			  "name=%s add=%d err=\"%s\"", c->op.name, (int)c->add,
			  it->err);
		if (c->req != NULL)
			api_send_error(c->req, R, 503, "log_unavailable",
				       it->err);
		goto out;
	}
	rc = c->add ? st->ops->operator_add(st, &c->op)
		    : st->ops->operator_revoke(st, c->op.name, 0);
	/* A revocation that finds the operator revoked meanwhile (by
	 * another node) is done all the same. */
	if (!c->add && rc == VG_ENOENT)
		rc = 0;
	if (rc == 0)
		log_event(LOG_INFO,
			  c->add ? "operator_added" : "operator_revoked",
			  "name=%s index=%llu", c->op.name,
			  (unsigned long long)it->index);
	if (c->req == NULL) {
		if (rc != 0)
			log_event(LOG_ERROR, "store_failed",
				  "func=%s name=%s err=\"%s\"", __func__,
				  c->op.name, st->err);
		goto out;
	}
	c->hook->c = NULL;
	if (rc == VG_EINVAL && c->add)
		api_send_error(c->req, R, 409, "name_taken",
			       "an operator of that name was added meanwhile");
	else if (rc != 0)
		api_store_failed(c->req, R, st,
			     c->add ? "operator_add" : "operator_revoke");
	else if (c->add)
		api_send_json(c->req, R, 201,
			      json_pack("{s:s, s:s, s:I, s:I}", "name",
					c->op.name, "token", c->token,
					"log_index", (json_int_t)it->index,
					"log_size", (json_int_t)it->size));
	else
		api_send_json(c->req, R, 200,
			      json_pack("{s:s, s:b, s:I, s:I}", "name",
					c->op.name, "revoked", 1, "log_index",
					(json_int_t)it->index, "log_size",
					(json_int_t)it->size));
out:
	change_free(c);
	nodelog_item_free(it);
}

/* Makes c's entry, by operator by, and queues it. Returns 0 (answered
 * on failure, c freed). */
static int
submit(h2o_req_t *req, struct change *c, const char *by)
{
	char who[sizeof("operator:") + STORE_OPERATOR_NAME_MAX], err[256];
	struct nodelog_item *it;
	struct tlog_entry e;
	struct hook *h;
	char *text = NULL;
	size_t len;

	snprintf(who, sizeof(who), "operator:%s", by);
	memset(&e, 0, sizeof(e));
	e.type = c->add ? TLOG_ENTRY_OPERATOR_ADD : TLOG_ENTRY_OPERATOR_REVOKE;
	e.time = (int64_t)time(NULL);
	e.operator_change.name = c->op.name;
	e.operator_change.by = who;
	if (tlog_entry_encode(&e, &text, &len, err, sizeof(err)) != 0)
		fatal("a checked operator entry does not encode: %s", err);
	it = api_log_submit(req, R, text, len, on_logged);
	if (it == NULL) {
		change_free(c);
		return 0;
	}
	h = h2o_mem_alloc_shared(&req->pool, sizeof(*h), hook_dispose);
	h->c = c;
	c->hook = h;
	c->req = req;
	it->ud = c;
	log_event(LOG_INFO,
		  c->add ? "operator_add_requested"
			 : "operator_revoke_requested",
		  "name=%s by=%s", c->op.name, by);
	return 0;
}

/* The body's name: {"name": NAME} and nothing else. Returns 0, or
 * answers 400 and returns -1. */
static int
body_name(h2o_req_t *req, char name[STORE_OPERATOR_NAME_MAX + 1])
{
	const char *k, *v;
	json_error_t je;
	json_t *j, *val;
	size_t vl;
	int rc = -1;

	if (req->entity.base == NULL || req->entity.len == 0)
		return api_send_error(req, R, 400, "bad_body",
				      "the body must be {\"name\": NAME}"),
		       -1;
	j = json_loadb(req->entity.base, req->entity.len,
		       JSON_REJECT_DUPLICATES, &je);
	if (j == NULL || !json_is_object(j) || json_object_size(j) != 1) {
		api_send_error(req, R, 400, "bad_body",
			       "the body must be a JSON object: "
			       "{\"name\": NAME}");
		goto out;
	}
	json_object_foreach(j, k, val)
	{
		if (strcmp(k, "name") != 0 || !json_is_string(val)) {
			api_send_error(req, R, 400, "bad_body",
				       "the body must be {\"name\": NAME}, "
				       "NAME a string");
			goto out;
		}
	}
	val = json_object_get(j, "name");
	v = json_string_value(val);
	vl = json_string_length(val);
	if (vl == strlen(STORE_OPERATOR_ROOT) &&
	    memcmp(v, STORE_OPERATOR_ROOT, vl) == 0) {
		api_send_error(req, R, 409, "name_taken",
			       "root is the bootstrap operator's name");
		goto out;
	}
	if (!name_ok(v, vl)) {
		api_send_error(req, R, 400, "bad_name",
			       "an operator's name is a label: 1 to 32 of "
			       "a-z, 0-9, -");
		goto out;
	}
	memcpy(name, v, vl);
	name[vl] = '\0';
	rc = 0;
out:
	json_decref(j);
	return rc;
}

static int
on_add(h2o_req_t *req, struct api_loop *l, const char *by)
{
	uint8_t rnd[OPERATORS_TOKEN_BYTES];
	struct store_operator old;
	struct change *c;
	char name[STORE_OPERATOR_NAME_MAX + 1];
	int rc;

	if (body_name(req, name) != 0)
		return 0;
	rc = l->store->ops->operator_get(l->store, name, &old);
	if (rc == 0)
		return api_send_error(req, R, 409, "name_taken",
				      old.revoked != 0
					      ? "an operator of that name was "
						"revoked; names are not given "
						"again"
					      : "an operator of that name "
						"exists");
	if (rc != VG_ENOENT)
		return api_store_failed(req, R, l->store, "operator_get");
	c = xcalloc(1, sizeof(*c));
	c->loop = l;
	c->add = true;
	memcpy(c->op.name, name, sizeof(name));
	randombytes_buf(rnd, sizeof(rnd));
	memcpy(c->token, TOKEN_PREFIX, strlen(TOKEN_PREFIX));
	sodium_bin2hex(c->token + strlen(TOKEN_PREFIX),
		       sizeof(c->token) - strlen(TOKEN_PREFIX), rnd,
		       sizeof(rnd));
	sodium_memzero(rnd, sizeof(rnd));
	crypto_hash_sha256(c->op.token_hash, (const uint8_t *)c->token,
			   strlen(c->token));
	return submit(req, c, by);
}

static int
on_revoke(h2o_req_t *req, struct api_loop *l, const char *by, const char *name,
	  size_t len)
{
	struct store_operator old;
	struct change *c;
	char n[STORE_OPERATOR_NAME_MAX + 1];
	int rc;

	if (len == strlen(STORE_OPERATOR_ROOT) &&
	    memcmp(name, STORE_OPERATOR_ROOT, len) == 0)
		return api_send_error(
			req, R, 400, "bad_name",
			"root, the bootstrap operator, is not revoked here: "
			"replace operator.token on every node instead");
	if (!name_ok(name, len))
		return api_send_error(req, R, 400, "bad_name",
				      "an operator's name is a label: 1 to 32 "
				      "of a-z, 0-9, -");
	memcpy(n, name, len);
	n[len] = '\0';
	rc = l->store->ops->operator_get(l->store, n, &old);
	if (rc == VG_ENOENT || (rc == 0 && old.revoked != 0))
		return api_send_error(req, R, 404, "unknown_operator",
				      "no operator in force has that name");
	if (rc != 0)
		return api_store_failed(req, R, l->store, "operator_get");
	c = xcalloc(1, sizeof(*c));
	c->loop = l;
	c->add = false;
	memcpy(c->op.name, n, sizeof(n));
	return submit(req, c, by);
}

/* Appends to a the operator name, as the list shows it (a time of 0:
 * null). */
static void
list_put(json_t *a, const char *name, int64_t created, int64_t revoked)
{
	char tc[TLOG_ENTRY_TIME_LEN], tr[TLOG_ENTRY_TIME_LEN];
	bool hc = created > 0 && tlog_entry_time_format(created, tc) == 0;
	bool hr = revoked > 0 && tlog_entry_time_format(revoked, tr) == 0;

	json_array_append_new(
		a, json_pack("{s:s, s:o, s:o}", "name", name, "created",
			     hc ? json_string(tc) : json_null(), "revoked",
			     hr ? json_string(tr) : json_null()));
}

static int
on_list(h2o_req_t *req, struct api_loop *l)
{
	struct store_operator *v = NULL;
	size_t n = 0;
	json_t *a;
	int rc;

	rc = l->store->ops->operator_list(l->store, &v, &n);
	if (rc != 0)
		return api_store_failed(req, R, l->store, "operator_list");
	a = json_array();
	list_put(a, STORE_OPERATOR_ROOT, 0, 0);
	for (size_t i = 0; i < n; i++)
		list_put(a, v[i].name, v[i].created, v[i].revoked);
	sodium_memzero(v, n * sizeof(*v));
	free(v);
	return api_send_json(req, R, 200, json_pack("{s:o}", "operators", a));
}

int
operators_handle(struct node *node, struct api_loop *l, h2o_req_t *req,
		 const char *rest, size_t len)
{
	char by[STORE_OPERATOR_NAME_MAX + 1];
	bool get =
		h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
	bool post = h2o_memis(req->method.base, req->method.len,
			      H2O_STRLIT("POST"));
	bool del = h2o_memis(req->method.base, req->method.len,
			     H2O_STRLIT("DELETE"));

	if (len == 0 && !get && !post)
		return api_wrong_method(req, R, "GET, POST");
	if (len > 0 && !del)
		return api_wrong_method(req, R, "DELETE");
	if (node->log == NULL)
		return api_send_error(req, R, 404, "not_found",
				      "this node keeps no log");
	if (!api_operator_auth(req, R, by))
		return 0;
	if (get)
		return on_list(req, l);
	if (strcmp(by, STORE_OPERATOR_ROOT) != 0)
		return api_send_error(req, R, 403, "forbidden",
				      "only root, the bootstrap operator, adds "
				      "and revokes operators");
	if (post)
		return on_add(req, l, by);
	return on_revoke(req, l, by, rest + 1, len - 1);
}
