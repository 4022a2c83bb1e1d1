/*
 * access.c - GET /v1/admin/samples/{sha256}: an operator reads a stored
 * sample, and the transparency log says so first; see access.h.
 *
 * The order is what makes the log worth reading: everything that can be
 * refused is refused before the entry is made (so a refusal logs
 * nothing), and no byte of the sample is decrypted before the sequencer
 * has made the entry durable under a signed checkpoint. An entry whose
 * answer never reaches the client (it left, or the record turned out
 * unreadable) stays in the log: it records an access granted, which is
 * the conservative side to err on.
 *
 * The sample is decrypted whole into memory, as samples_read() verifies
 * every chunk and the final tag before it returns any byte; the answer
 * is sent from that buffer, which the request's pool wipes and frees.
 */
#include "node/access.h"

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/err.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "node/api.h"
#include "node/config.h"
#include "tlog/entry.h"

#define PREFIX_WHO   "operator"
#define DEFAULT_ROLE "analyst"

/* A request waiting for its entry: the request's pool holds this, and
 * the log item points to it (it->ud). Whichever goes first unhooks the
 * other: the client leaving clears it->ud; the answer clears it. */
struct access {
	h2o_req_t *req;
	struct nodelog_item *it;
	struct node *node;
	struct api_loop *loop;
	struct sample_loc loc;
	char sha256[65];
};

/* The decrypted sample, for the pool to wipe and free with the request. */
struct plain {
	uint8_t *buf;
	size_t len;
};

static void
count(struct api_loop *l, int status)
{
	if (status >= 0 && status < METRICS_STATUS_MAX)
		__atomic_fetch_add(
			&l->metrics.requests[ROUTE_ADMIN_SAMPLE][status], 1,
			__ATOMIC_RELAXED);
}

/*
 * Finds the request header name (lower case) into *v and *vl. Returns 1
 * if it is there once, 0 if absent, -1 if it is there more than once
 * (which of two reasons would be the one logged?).
 */
static int
header(h2o_req_t *req, const char *name, const char **v, size_t *vl)
{
	ssize_t at =
		h2o_find_header_by_str(&req->headers, name, strlen(name), -1);

	if (at < 0)
		return 0;
	if (h2o_find_header_by_str(&req->headers, name, strlen(name), at) >= 0)
		return -1;
	*v = req->headers.entries[at].value.base;
	*vl = req->headers.entries[at].value.len;
	return 1;
}

int
access_caller(h2o_req_t *req, enum route r, const char *op,
	      struct access_caller *c)
{
	const char *v;
	size_t vl;
	int h;

	/* A header folded over lines (obs-fold) comes as a line with no
	 * name: refused (RFC 9112 5.2), or a reason would be cut short. */
	for (size_t i = 0; i < req->headers.size; i++)
		if (req->headers.entries[i].name->len == 0)
			return api_send_error(req, r, 400, "bad_header",
					      "a header is folded over lines"),
			       -1;
	h = header(req, ACCESS_HDR_REASON, &v, &vl);
	if (h == 0)
		return api_send_error(req, r, 400, "reason_required",
				      "X-Vigil-Reason is required"),
		       -1;
	if (h < 0 || vl == 0 || vl > sizeof(c->reason) - 1 ||
	    memchr(v, '\0', vl) != NULL)
		return api_send_error(req, r, 400, "bad_reason",
				      "X-Vigil-Reason must be given once, 1 to "
				      "1024 bytes of one line of text"),
		       -1;
	memcpy(c->reason, v, vl);
	c->reason[vl] = '\0';
	h = header(req, ACCESS_HDR_ROLE, &v, &vl);
	if (h == 0) {
		snprintf(c->role, sizeof(c->role), "%s", DEFAULT_ROLE);
	} else if (h < 0 || !config_name_ok(v, vl)) {
		return api_send_error(
			       req, r, 400, "bad_role",
			       "X-Vigil-Role must be given at most once, "
			       "a label: 1 to 32 of a-z, 0-9, -"),
		       -1;
	} else {
		memcpy(c->role, v, vl);
		c->role[vl] = '\0';
	}
	/* A stated name that is not the authenticated one would put a
	 * name in the log that no token vouches for: refused, not
	 * overridden in silence. */
	h = header(req, ACCESS_HDR_WHO, &v, &vl);
	if (h < 0 || (h > 0 && (vl != strlen(op) || memcmp(v, op, vl) != 0)))
		return api_send_error(
			       req, r, 400, "who_mismatch",
			       "X-Vigil-Who is not the operator whose token "
			       "authenticated the request: log entries name "
			       "the authenticated operator; leave the header "
			       "out"),
		       -1;
	snprintf(c->who, sizeof(c->who), "%s:%s", PREFIX_WHO, op);
	return 0;
}

/*
 * Makes the sample-access entry from the request's headers into *text
 * and *len (malloc'd; the caller frees it). Returns 0, or answers 400
 * itself and returns -1: the entry's encoder is the one judge of the
 * reason, so the node refuses exactly what the format refuses.
 */
static int
make_entry(h2o_req_t *req, const char *op, const char *sha256, char **text,
	   size_t *len)
{
	struct access_caller c;
	struct tlog_entry e;
	char err[256], *msg;
	int rc;

	memset(&e, 0, sizeof(e));
	if (access_caller(req, ROUTE_ADMIN_SAMPLE, op, &c) != 0)
		return -1;
	e.type = TLOG_ENTRY_SAMPLE_ACCESS;
	e.time = (int64_t)time(NULL);
	if (!hex_decode_lower(sha256, 32, e.sample_access.sample))
		fatal("a checked hash does not decode");
	e.sample_access.who = c.who;
	e.sample_access.role = c.role;
	e.sample_access.reason = c.reason;
	rc = tlog_entry_encode(&e, text, len, err, sizeof(err));
	if (rc != 0) {
		msg = xasprintf("X-Vigil-Reason is not one line of text as the "
				"log takes it: %s",
				err);
		api_send_error(req, ROUTE_ADMIN_SAMPLE, 400, "bad_reason", msg);
		free(msg);
		return -1;
	}
	return 0;
}

static void
access_dispose(void *p)
{
	struct access *a = p;

	if (a->it != NULL)
		a->it->ud = NULL;
}

static void
plain_dispose(void *p)
{
	struct plain *pl = p;

	if (pl->buf != NULL) {
		sodium_memzero(pl->buf, pl->len);
		free(pl->buf);
	}
}

static void
proceed(h2o_generator_t *g, h2o_req_t *req)
{
	(void)g;
	(void)req; /* the one buffer was sent as final */
}

/* Sends the sample, read after its entry became durable. */
static void
send_sample(struct access *a, uint64_t index, uint64_t size)
{
	static h2o_generator_t gen = {proceed, NULL};
	h2o_req_t *req = a->req;
	struct plain *pl;
	h2o_iovec_t body;
	char num[24];
	int rc;

	pl = h2o_mem_alloc_shared(&req->pool, sizeof(*pl), plain_dispose);
	pl->buf = NULL;
	pl->len = 0;
	rc = samples_read(a->node->samples, &a->loc, a->sha256, &pl->buf,
			  &pl->len);
	if (rc != 0) {
		log_event(LOG_ERROR, "sample_unreadable",
			  "func=%s sha256=%s index=%llu err=\"%s\"", __func__,
			  a->sha256, (unsigned long long)index,
			  vg_strerror(rc));
		api_send_error(req, ROUTE_ADMIN_SAMPLE, 500,
			       "sample_unreadable",
			       "the access is logged, but the sample's record "
			       "cannot be read");
		return;
	}
	req->res.status = 200;
	req->res.reason = "OK";
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
		       NULL, H2O_STRLIT("application/octet-stream"));
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL,
		       NULL, H2O_STRLIT("no-store"));
	snprintf(num, sizeof(num), "%llu", (unsigned long long)index);
	h2o_add_header_by_str(
		&req->pool, &req->res.headers, H2O_STRLIT(ACCESS_HDR_INDEX), 0,
		NULL, h2o_strdup(&req->pool, num, SIZE_MAX).base, strlen(num));
	snprintf(num, sizeof(num), "%llu", (unsigned long long)size);
	h2o_add_header_by_str(
		&req->pool, &req->res.headers, H2O_STRLIT(ACCESS_HDR_SIZE), 0,
		NULL, h2o_strdup(&req->pool, num, SIZE_MAX).base, strlen(num));
	req->res.content_length = pl->len;
	count(a->loop, 200);
	log_event(LOG_INFO, "sample_accessed", "sha256=%s index=%llu bytes=%zu",
		  a->sha256, (unsigned long long)index, pl->len);
	body = h2o_iovec_init(pl->buf, pl->len);
	h2o_start_response(req, &gen);
	h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

/* The sequencer is done with the entry (loop thread); owns it. */
static void
on_logged(struct nodelog_item *it)
{
	struct access *a = it->ud;

	if (a == NULL) {
		/* The client left; the entry stays, as logged. */
		nodelog_item_free(it);
		return;
	}
	a->it = NULL;
	if (it->rc != 0)
		api_send_error(a->req, ROUTE_ADMIN_SAMPLE, 503,
			       "log_unavailable", it->err);
	else
		send_sample(a, it->index, it->size);
	nodelog_item_free(it);
}

int
access_on_sample(struct node *node, struct api_loop *l, h2o_req_t *req,
		 const char *hash, size_t len)
{
	struct sample_loc loc;
	struct nodelog_item *it;
	struct access *a;
	char sha256[65], op[STORE_OPERATOR_NAME_MAX + 1];
	char *text = NULL;
	size_t tlen;
	int rc;

	if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
		return api_wrong_method(req, ROUTE_ADMIN_SAMPLE, "GET");
	if (node->log == NULL)
		return api_send_error(req, ROUTE_ADMIN_SAMPLE, 404, "not_found",
				      "this node keeps no log");
	if (!api_operator_auth(req, ROUTE_ADMIN_SAMPLE, op))
		return 0;
	if (len != 64 || !hex_is_lower(hash, len))
		return api_send_error(req, ROUTE_ADMIN_SAMPLE, 400, "bad_hash",
				      "expected a SHA-256 in lowercase hex");
	memcpy(sha256, hash, 64);
	sha256[64] = '\0';
	if (make_entry(req, op, sha256, &text, &tlen) != 0)
		return 0;
	rc = l->store->ops->sample_locate(l->store, sha256, &loc);
	if (rc != 0) {
		free(text);
		if (rc == VG_ENOENT)
			return api_send_error(req, ROUTE_ADMIN_SAMPLE, 404,
					      "unknown_sample",
					      "no such sample is stored");
		log_event(LOG_ERROR, "store_failed",
			  "func=%s op=sample_locate err=\"%s\"", __func__,
			  l->store->err);
		return api_send_error(req, ROUTE_ADMIN_SAMPLE, 503,
				      "store_unavailable",
				      "the store failed; try again");
	}
	it = api_log_submit(req, ROUTE_ADMIN_SAMPLE, text, tlen, on_logged);
	if (it == NULL)
		return 0;
	a = h2o_mem_alloc_shared(&req->pool, sizeof(*a), access_dispose);
	a->req = req;
	a->it = it;
	a->node = node;
	a->loop = l;
	a->loc = loc;
	memcpy(a->sha256, sha256, sizeof(a->sha256));
	it->ud = a;
	log_event(LOG_INFO, "sample_access_requested", "sha256=%s", sha256);
	return 0;
}
