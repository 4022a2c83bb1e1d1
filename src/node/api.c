/*
 * api.c - vigild's HTTP API (docs/API.md): routing, authentication,
 * residency, limits, and the handlers.
 *
 * Every request is hostile until proven otherwise: the route and method
 * are checked first, then the body size against the route's limit, then
 * the bearer token; only then is the body parsed, and only then is
 * anything stored. Every refusal is a 4xx with a JSON body
 * {"error": CODE, "message": TEXT}. The lookup routes answer from the
 * in-memory index and never touch the disk.
 */
#include "node/api.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "node/access.h"
#include "node/activerules.h"
#include "node/edge.h"
#include "node/fp.h"
#include "node/ingest.h"
#include "node/lookup_body.h"
#include "node/me.h"
#include "node/operators.h"
#include "node/portal.h"
#include "node/regionfeed.h"
#include "node/releases.h"
#include "node/holds.h"
#include "node/retention.h"
#include "node/retrohunt.h"
#include "node/route.h"
#include "node/stats_api.h"
#include "tlog/checkpoint.h"
#include "tlog/entry.h"
#include "tlog/note.h"
#include "tlog/proof.h"

#define TOKEN_PREFIX       "vg1."
#define TOKEN_SECRET_BYTES 32
#define TOKEN_MAX_LEN      128
/* Every operator's token begins so (operators.h, nodelog.c). */
#define OPERATOR_TOKEN_PREFIX "vgop."
/* How long a cached token is trusted before the store is asked again. */
#define TOKEN_RECHECK_SEC 10.0

static struct node *N;
/* The event loop this thread runs (api_loop_enter). */
static __thread struct api_loop *L;
/* The token cache and every token bucket, shared by the loops. */
static pthread_mutex_t limits_mu = PTHREAD_MUTEX_INITIALIZER;

/* A loop's own counters; /metrics reads them from another thread. */
#define BUMP(x, n) __atomic_fetch_add(&(x), (n), __ATOMIC_RELAXED)
#define READ(x)    __atomic_load_n(&(x), __ATOMIC_RELAXED)

static void
index_read_lock(void)
{
	pthread_rwlock_rdlock(&N->index_lock);
}

static void
index_write_lock(void)
{
	pthread_rwlock_wrlock(&N->index_lock);
}

static void
index_unlock(void)
{
	pthread_rwlock_unlock(&N->index_lock);
}

/* Latency buckets of vigil_lookup_duration_seconds. */
static const double latency_le[METRICS_LATENCY_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
	0.01,   0.025,   0.05,   0.1,   0.25,   1.0,
};

const char *
route_name(enum route r)
{
	static const char *names[ROUTE_COUNT] = {
		[ROUTE_HEALTHZ] = "healthz",
		[ROUTE_METRICS] = "metrics",
		[ROUTE_ENROLL] = "enroll",
		[ROUTE_FILES] = "files",
		[ROUTE_LOOKUP] = "lookup",
		[ROUTE_SUBMIT] = "submit",
		[ROUTE_SUBMISSION] = "submission",
		[ROUTE_LOG] = "log",
		[ROUTE_ADMIN_LOG] = "admin_log",
		[ROUTE_ADMIN_SAMPLE] = "admin_sample",
		[ROUTE_LOG_PROOF] = "log_proof",
		[ROUTE_RELEASES] = "releases",
		[ROUTE_ADMIN_RELEASES] = "admin_releases",
		[ROUTE_PORTAL] = "portal",
		[ROUTE_FP] = "fp",
		[ROUTE_ADMIN_FP] = "admin_fp",
		[ROUTE_ADMIN_RETROHUNT] = "admin_retrohunt",
		[ROUTE_ADMIN_OPERATORS] = "admin_operators",
		[ROUTE_ADMIN_HOLDS] = "admin_holds",
		[ROUTE_ME] = "me",
		[ROUTE_STATS] = "stats",
		[ROUTE_OTHER] = "other",
	};
	return r < ROUTE_COUNT && names[r] != NULL ? names[r] : "other";
}

/* The authenticated client of a request. */
struct caller {
	char id[37];
	enum consent consent;
};

/* A client's token bucket: rate_per_sec tokens a second, rate_burst at
 * most; a request takes one. */
struct bucket {
	double tokens;
	double at; /* when tokens was last brought up to date, seconds */
};

/*
 * Clients already authenticated, by token hash, so that the lookup path
 * does not reach SQLite for every request. Only tokens the store vouched
 * for enter, so it grows with the enrolled clients, not with attackers.
 */
static struct token_cache {
	struct token_slot {
		uint8_t hash[32];
		struct caller who;
		struct bucket bucket;
		int used;
		int revoked; /* the client was deleted (DELETE /v1/me) */
		double checked; /* when the store last vouched for it, s */
	} * slot;
	size_t n, cap;
} tokens;

static const char *consent_name(enum consent c);

static struct token_slot *
token_find(const uint8_t hash[32], int insert)
{
	size_t s;
	uint64_t h;

	if (tokens.cap == 0 || (insert && 2 * (tokens.n + 1) > tokens.cap)) {
		struct token_cache old = tokens;

		tokens.cap = old.cap ? old.cap * 2 : 256;
		tokens.slot = xcalloc(tokens.cap, sizeof(*tokens.slot));
		tokens.n = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.slot[i].used) {
				struct token_slot *t =
					token_find(old.slot[i].hash, 1);
				*t = old.slot[i];
			}
		free(old.slot);
	}
	memcpy(&h, hash, sizeof(h));
	for (s = (size_t)h & (tokens.cap - 1);;
	     s = (s + 1) & (tokens.cap - 1)) {
		struct token_slot *t = &tokens.slot[s];

		if (!t->used) {
			if (!insert)
				return NULL;
			t->used = 1;
			memcpy(t->hash, hash, 32);
			tokens.n++;
			return t;
		}
		if (sodium_memcmp(t->hash, hash, 32) == 0)
			return t;
	}
}

static void
count(enum route r, int status)
{
	if (status >= 0 && status < METRICS_STATUS_MAX)
		BUMP(L->metrics.requests[r][status], 1);
}

static void
reply_cc(h2o_req_t *req, enum route r, int status, const char *ctype,
	 const char *cache, const char *body, size_t len)
{
	static const struct {
		int status;
		const char *reason;
	} reasons[] = {
		{200, "OK"},
		{201, "Created"},
		{202, "Accepted"},
		{400, "Bad Request"},
		{401, "Unauthorized"},
		{403, "Forbidden"},
		{404, "Not Found"},
		{405, "Method Not Allowed"},
		{409, "Conflict"},
		{413, "Payload Too Large"},
		{415, "Unsupported Media Type"},
		{422, "Unprocessable Entity"},
		{421, "Misdirected Request"},
		{429, "Too Many Requests"},
		{500, "Internal Server Error"},
		{503, "Service Unavailable"},
	};
	const char *reason = "Unknown";

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			reason = reasons[i].reason;
	req->res.status = status;
	req->res.reason = reason;
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
		       NULL, ctype, strlen(ctype));
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL,
		       NULL, cache, strlen(cache));
	count(r, status);
	/* Without a length, h2o 2.2 ends every answer but a 200 by closing
	 * the connection: keep-alive clients would reconnect each time. */
	req->res.content_length = len;
	h2o_send_inline(req, body, len);
}

void
api_reply(h2o_req_t *req, enum route r, int status, const char *ctype,
	  const char *cache, const char *body, size_t len)
{
	reply_cc(req, r, status, ctype, cache, body, len);
}

/* An answer nobody may cache: every API answer but the log's tiles. */
static void
reply(h2o_req_t *req, enum route r, int status, const char *ctype,
      const char *body, size_t len)
{
	reply_cc(req, r, status, ctype, "no-store", body, len);
}

int
api_send_json(h2o_req_t *req, enum route r, int status, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(j);
	if (s == NULL)
		fatal("out of memory");
	reply(req, r, status, "application/json", s, strlen(s));
	free(s);
	return 0;
}

int
api_store_failed(h2o_req_t *req, enum route r, const struct store *st,
		 const char *op)
{
	log_event(LOG_ERROR, "store_failed", "route=%s op=%s err=\"%s\"",
		  route_name(r), op, st->err);
	return api_send_error(req, r, 503, "store_unavailable",
			      "the store failed; try again");
}

int
api_send_error(h2o_req_t *req, enum route r, int status, const char *code,
	       const char *message)
{
	/* Every 503 is "try again": say when, unless the caller did (the
	 * body limit's own, for instance). A client that retries at once
	 * against a node whose store is failing over only adds load. */
	if (status == 503 &&
	    h2o_find_header(&req->res.headers, H2O_TOKEN_RETRY_AFTER, -1) < 0)
		h2o_add_header(&req->pool, &req->res.headers,
			       H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
	return api_send_json(
		req, r, status,
		json_pack("{s:s, s:s}", "error", code, "message", message));
}

static int
is_method(h2o_req_t *req, const char *m)
{
	return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

static int
wrong_method(h2o_req_t *req, enum route r, const char *allow)
{
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
		       allow, strlen(allow));
	return api_send_error(req, r, 405, "method_not_allowed",
			      "this route does not take that method");
}

int
api_wrong_method(h2o_req_t *req, enum route r, const char *allow)
{
	return wrong_method(req, r, allow);
}

/*
 * Takes one token from b, which refills at rate a second up to burst (a
 * bucket never used starts full). Returns 0 if it did, or else the
 * seconds until one is there. Under limits_mu.
 */
static long
bucket_take(struct bucket *b, double rate, double burst)
{
	double now = clock_seconds();

	if (b->at == 0)
		b->tokens = burst;
	else
		b->tokens += (now - b->at) * rate;
	if (b->tokens > burst)
		b->tokens = burst;
	b->at = now;
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return 0;
	}
	return (long)((1.0 - b->tokens) / rate) + 1;
}

/* Answers 429 with Retry-After: wait seconds, and why. */
static void
rate_limited(h2o_req_t *req, enum route r, long wait, const char *why)
{
	char secs[24];

	snprintf(secs, sizeof(secs), "%ld", wait);
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER,
		       NULL, secs, strlen(secs));
	BUMP(L->metrics.rate_limited, 1);
	api_send_error(req, r, 429, "rate_limited", why);
}

static int
deny(h2o_req_t *req, enum route r, const char *why)
{
	api_send_error(req, r, 401, "unauthorized", why);
	return -1;
}

static int operator_of(const char *v, size_t len,
		       char name[STORE_OPERATOR_NAME_MAX + 1]);

/*
 * Authenticates the bearer token of req into *who. On failure it has
 * already answered: 401 for a missing, malformed or unknown token, 421
 * (with the home region's endpoint) for a token of another region.
 */
static int
authenticate(h2o_req_t *req, enum route r, struct caller *who)
{
	ssize_t at =
		h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
	const char *v, *region, *dot;
	size_t len, rlen;
	uint8_t hash[32];
	struct token_slot *t;
	struct client c;
	long wait;
	int rc;

	if (at < 0)
		return deny(req, r,
			    "an Authorization: Bearer token is required");
	v = req->headers.entries[at].value.base;
	len = req->headers.entries[at].value.len;
	if (len < 7 || strncasecmp(v, "Bearer ", 7) != 0 ||
	    len - 7 > TOKEN_MAX_LEN)
		return deny(req, r, "malformed Authorization header");
	v += 7;
	len -= 7;
	/* vg1.<region>.<secret>: the region is readable without any lookup,
	 * so that a node can send a client home without knowing it. */
	if (len < strlen(TOKEN_PREFIX) + 3 ||
	    memcmp(v, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) != 0) {
		char name[STORE_OPERATOR_NAME_MAX + 1];

		/* An operator is known here, but is not a client: the wrong
		 * role, not a stranger. */
		if (operator_of(v, len, name) == 1) {
			api_send_error(req, r, 403, "forbidden",
				       "this route takes a client's token, "
				       "not the operator's");
			return -1;
		}
		return deny(req, r, "malformed token");
	}
	region = v + strlen(TOKEN_PREFIX);
	dot = memchr(region, '.', len - strlen(TOKEN_PREFIX));
	if (dot == NULL || !config_name_ok(region, (size_t)(dot - region)))
		return deny(req, r, "malformed token");
	rlen = (size_t)(dot - region);
	if (rlen != strlen(N->cfg.region) ||
	    memcmp(region, N->cfg.region, rlen) != 0) {
		char name[CONFIG_NAME_MAX + 1];
		const char *url;

		memcpy(name, region, rlen);
		name[rlen] = '\0';
		url = config_region_url(&N->cfg, name);
		api_send_json(req, r, 421,
			      json_pack("{s:s, s:s, s:s, s:o}", "error",
					"misdirected", "message",
					"this token belongs to another region",
					"region", name, "endpoint",
					url ? json_string(url) : json_null()));
		return -1;
	}
	crypto_hash_sha256(hash, (const uint8_t *)v, len);
	pthread_mutex_lock(&limits_mu);
	t = token_find(hash, 0);
	/* A token the store vouched for a while ago is asked about again:
	 * another node of the region may have deleted the client or
	 * changed its consent (docs/PRIVACY.md, "Several nodes"). */
	if (t != NULL && !t->revoked &&
	    clock_seconds() - t->checked > TOKEN_RECHECK_SEC) {
		pthread_mutex_unlock(&limits_mu);
		rc = L->store->ops->client_by_token_hash(L->store, hash, &c);
		pthread_mutex_lock(&limits_mu);
		t = token_find(hash, 0);
		if (t != NULL && rc == VG_ENOENT)
			t->revoked = 1;
		else if (t != NULL && rc == 0) {
			t->who.consent = c.consent;
			t->checked = clock_seconds();
		}
		client_clear(&c);
	}
	if (t == NULL) {
		/* The store is read without the lock; another loop may cache
		 * the same client meanwhile, which token_find(, 1) finds. */
		pthread_mutex_unlock(&limits_mu);
		if (L->store->ops->client_by_token_hash(L->store, hash, &c) !=
		    0)
			return deny(req, r, "unknown token");
		pthread_mutex_lock(&limits_mu);
		t = token_find(hash, 1);
		memcpy(t->who.id, c.id, sizeof(t->who.id));
		t->who.consent = c.consent;
		t->checked = clock_seconds();
		client_clear(&c);
	}
	if (t->revoked) {
		pthread_mutex_unlock(&limits_mu);
		return deny(req, r, "unknown token");
	}
	wait = bucket_take(&t->bucket, N->cfg.rate_per_sec, N->cfg.rate_burst);
	*who = t->who;
	pthread_mutex_unlock(&limits_mu);
	if (wait > 0) {
		rate_limited(req, r, wait,
			     "too many requests from this client; retry later");
		return -1;
	}
	return 0;
}

int
api_client_auth(h2o_req_t *req, enum route r, char id[37],
		enum consent *consent)
{
	struct caller who;

	if (authenticate(req, r, &who) != 0)
		return -1;
	memcpy(id, who.id, sizeof(who.id));
	*consent = who.consent;
	return 0;
}

void
api_client_changed(const char *id, enum consent consent, bool revoked)
{
	pthread_mutex_lock(&limits_mu);
	for (size_t i = 0; i < tokens.cap; i++) {
		struct token_slot *t = &tokens.slot[i];

		if (!t->used || strcmp(t->who.id, id) != 0)
			continue;
		t->who.consent = consent;
		t->revoked |= revoked;
	}
	pthread_mutex_unlock(&limits_mu);
}

const char *
api_consent_name(enum consent c)
{
	return consent_name(c);
}

static const char *
consent_name(enum consent c)
{
	return c == CONSENT_FILES      ? "files"
	       : c == CONSENT_METADATA ? "metadata"
				       : "none";
}

/*
 * A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74
 * random bits. Time-ordered ids keep the store's inserts at the end of
 * its index, and still cannot be guessed (74 bits). version 4 (all
 * random) for client ids, which say nothing about when.
 */
static void
uuid_text(const uint8_t b[16], char out[37])
{
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%"
		 "02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void
uuid7(char out[37])
{
	struct timespec ts;
	uint64_t ms;
	uint8_t b[16];

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	randombytes_buf(b, sizeof(b));
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(ms >> (40 - 8 * i));
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x70);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	uuid_text(b, out);
}

static void
uuid4(char out[37])
{
	uint8_t b[16];

	randombytes_buf(b, sizeof(b));
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	uuid_text(b, out);
}

/* Parses req's body as a JSON object, or answers 400 and returns NULL. */
static json_t *
body_object(h2o_req_t *req, enum route r)
{
	json_error_t e;
	json_t *j;

	j = json_loadb(req->entity.base, req->entity.len,
		       JSON_REJECT_DUPLICATES, &e);
	if (j == NULL || !json_is_object(j)) {
		char msg[256];

		snprintf(msg, sizeof(msg), "the body is not a JSON object%s%s",
			 j == NULL ? ": " : "", j == NULL ? e.text : "");
		json_decref(j);
		api_send_error(req, r, 400, "bad_json", msg);
		return NULL;
	}
	return j;
}

/*
 * Enrolment needs no token, so it is limited by client address: a small
 * table of token buckets indexed by a hash of the address. Two addresses
 * that share a slot share a bucket, which errs on the side of refusing.
 */
#define ENROLL_SLOTS 4096

static struct bucket enroll_bucket[ENROLL_SLOTS];

static int
enroll_allowed(h2o_req_t *req)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const uint8_t *p = (const uint8_t *)&ss;
	uint64_t h = 1469598103934665603ull;
	size_t n = 0;
	long wait;

	memset(&ss, 0, sizeof(ss));
	len = req->conn->callbacks->get_peername(req->conn,
						 (struct sockaddr *)&ss);
	if (ss.ss_family == AF_INET) {
		p = (const uint8_t *)&((struct sockaddr_in *)&ss)->sin_addr;
		n = 4;
	} else if (ss.ss_family == AF_INET6) {
		p = (const uint8_t *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
		n = 16;
	}
	(void)len;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	pthread_mutex_lock(&limits_mu);
	wait = bucket_take(&enroll_bucket[h % ENROLL_SLOTS],
			   NODE_ENROLL_PER_MIN / 60.0, NODE_ENROLL_BURST);
	pthread_mutex_unlock(&limits_mu);
	if (wait == 0)
		return 1;
	rate_limited(req, ROUTE_ENROLL, wait,
		     "too many enrolments from this address; retry later");
	return 0;
}

static int
on_enroll(h2o_req_t *req)
{
	uint8_t secret[TOKEN_SECRET_BYTES];
	char b64[sodium_base64_ENCODED_LEN(
		TOKEN_SECRET_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	char token[TOKEN_MAX_LEN + 1];
	const char *consent = "none";
	struct client c;
	json_t *j, *v;
	int rc;

	if (!is_method(req, "POST"))
		return wrong_method(req, ROUTE_ENROLL, "POST");
	if (!enroll_allowed(req))
		return 0;
	if ((j = body_object(req, ROUTE_ENROLL)) == NULL)
		return 0;
	v = json_object_get(j, "consent");
	if (v != NULL && !json_is_string(v)) {
		json_decref(j);
		return api_send_error(
			req, ROUTE_ENROLL, 400, "bad_consent",
			"consent is one of none, metadata, files");
	}
	if (v != NULL)
		consent = json_string_value(v);
	memset(&c, 0, sizeof(c));
	if (strcmp(consent, "none") == 0)
		c.consent = CONSENT_NONE;
	else if (strcmp(consent, "metadata") == 0)
		c.consent = CONSENT_METADATA;
	else if (strcmp(consent, "files") == 0)
		c.consent = CONSENT_FILES;
	else {
		json_decref(j);
		return api_send_error(
			req, ROUTE_ENROLL, 400, "bad_consent",
			"consent is one of none, metadata, files");
	}
	json_decref(j);
	randombytes_buf(secret, sizeof(secret));
	sodium_bin2base64(b64, sizeof(b64), secret, sizeof(secret),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(secret, sizeof(secret));
	snprintf(token, sizeof(token), "%s%s.%s", TOKEN_PREFIX, N->cfg.region,
		 b64);
	uuid4(c.id);
	crypto_hash_sha256(c.token_hash, (const uint8_t *)token, strlen(token));
	snprintf(c.region, sizeof(c.region), "%s", N->cfg.region);
	c.created = (int64_t)time(NULL);
	if ((rc = L->store->ops->client_put(L->store, &c)) != 0) {
		log_event(LOG_ERROR, "store_failed", "op=client_put err=%d",
			  rc);
		return api_send_error(
			req, ROUTE_ENROLL, 503, "store_unavailable",
			"the client could not be stored; try again");
	}
	log_event(LOG_INFO, "enrolled", "client=%s consent=%s", c.id,
		  consent_name(c.consent));
	api_send_json(req, ROUTE_ENROLL, 201,
		      json_pack("{s:s, s:s, s:s, s:s}", "client_id", c.id,
				"token", token, "region", N->cfg.region,
				"consent", consent_name(c.consent)));
	sodium_memzero(token, sizeof(token));
	return 0;
}

/* A growing answer buffer. */
struct out {
	char *p;
	size_t n, cap;
};

static void
out_add(struct out *o, const char *s, size_t len)
{
	if (o->n + len + 1 > o->cap) {
		o->cap = (o->n + len + 1) * 2;
		o->p = xreallocarray(o->p, o->cap, 1);
	}
	memcpy(o->p + o->n, s, len);
	o->n += len;
}

static int
on_files(h2o_req_t *req, const char *hash, size_t len)
{
	const struct index_entry *e;
	struct caller who;
	int bad;

	if (!is_method(req, "GET"))
		return wrong_method(req, ROUTE_FILES, "GET");
	if (authenticate(req, ROUTE_FILES, &who) != 0)
		return 0;
	index_read_lock();
	e = index_get(N->index, hash, len, &bad);
	/* The answer is copied into the request's pool before the lock
	 * goes: a writer may replace the entry right after. */
	if (e != NULL)
		reply(req, ROUTE_FILES, 200, "application/json", e->json,
		      e->json_len);
	index_unlock();
	if (bad)
		return api_send_error(
			req, ROUTE_FILES, 400, "bad_hash",
			"expected an MD5, SHA-1 or SHA-256 in hex");
	if (e == NULL)
		return api_send_error(req, ROUTE_FILES, 404, "unknown",
				      "no sample with this hash is known");
	return 0;
}

/* Appends the answer for one hash, given as the len bytes at s, which
 * are plain (printable ASCII, no quote or backslash) and so are valid in
 * a JSON string as they are. */
static void
lookup_one(void *ud, size_t i, const char *s, size_t len)
{
	struct out *o = ud;
	const struct index_entry *e;
	int bad;

	if (i > 0)
		out_add(o, ",", 1);
	e = index_get(N->index, s, len, &bad);
	out_add(o, "{\"hash\":\"", 9);
	out_add(o, s, len);
	if (bad)
		out_add(o, "\",\"error\":\"bad_hash\"}", 21);
	else if (e == NULL)
		out_add(o, "\",\"verdict\":\"unknown\"}", 22);
	else {
		out_add(o, "\",", 2);
		out_add(o, e->json + 1, e->json_len - 1);
	}
}

/* The usual lookup body, answered without a JSON tree (lookup_body.h):
 * 1 with the answer in o and the number of hashes in *n, or 0 for the
 * general path. Both give the same answer to every body this takes. */
static int
lookup_plain(const char *p, size_t len, size_t max, struct out *o, size_t *n)
{
	long k;

	out_add(o, "{\"results\":[", 12);
	if ((k = lookup_body_scan(p, len, max, lookup_one, o)) < 0)
		return 0;
	out_add(o, "]}", 2);
	*n = (size_t)k;
	return 1;
}

static int
on_lookup(h2o_req_t *req)
{
	double t0 = clock_seconds(), dt;
	struct out o = {0};
	json_t *j, *hashes;
	struct caller who;
	size_t i, n;
	int plain;

	if (!is_method(req, "POST"))
		return wrong_method(req, ROUTE_LOOKUP, "POST");
	if (authenticate(req, ROUTE_LOOKUP, &who) != 0)
		return 0;
	index_read_lock();
	plain = lookup_plain(req->entity.base, req->entity.len,
			     N->cfg.max_batch, &o, &n);
	index_unlock();
	if (plain)
		goto answer;
	o.n = 0;
	if ((j = body_object(req, ROUTE_LOOKUP)) == NULL) {
		free(o.p);
		return 0;
	}
	hashes = json_object_get(j, "hashes");
	if (!json_is_array(hashes)) {
		json_decref(j);
		free(o.p);
		return api_send_error(req, ROUTE_LOOKUP, 400, "bad_request",
				      "expected {\"hashes\": [...]}");
	}
	n = json_array_size(hashes);
	if (n > N->cfg.max_batch) {
		char msg[96];

		json_decref(j);
		free(o.p);
		snprintf(msg, sizeof(msg), "at most %u hashes per lookup",
			 N->cfg.max_batch);
		return api_send_error(req, ROUTE_LOOKUP, 413, "batch_too_large",
				      msg);
	}
	/* Known samples' answers are pre-rendered; a valid hash is hex and
	 * is copied as it is; anything else is re-encoded by jansson. */
	out_add(&o, "{\"results\":[", 12);
	index_read_lock();
	for (i = 0; i < n; i++) {
		json_t *h = json_array_get(hashes, i);
		const struct index_entry *e = NULL;
		int bad = 1;

		if (i > 0)
			out_add(&o, ",", 1);
		if (json_is_string(h))
			e = index_get(N->index, json_string_value(h),
				      json_string_length(h), &bad);
		if (bad) {
			char *t = json_dumps(h, JSON_ENCODE_ANY | JSON_COMPACT);
			out_add(&o, "{\"hash\":", 8);
			out_add(&o, t ? t : "null", t ? strlen(t) : 4);
			out_add(&o, ",\"error\":\"bad_hash\"}", 20);
			free(t);
			continue;
		}
		out_add(&o, "{\"hash\":\"", 9);
		out_add(&o, json_string_value(h), json_string_length(h));
		if (e == NULL)
			out_add(&o, "\",\"verdict\":\"unknown\"}", 22);
		else {
			out_add(&o, "\",", 2);
			out_add(&o, e->json + 1, e->json_len - 1);
		}
	}
	index_unlock();
	out_add(&o, "]}", 2);
	json_decref(j);
answer:
	reply(req, ROUTE_LOOKUP, 200, "application/json", o.p, o.n);
	free(o.p);
	dt = clock_seconds() - t0;
	BUMP(L->metrics.lookup_count, 1);
	BUMP(L->metrics.lookup_ns, (uint64_t)(dt * 1e9));
	BUMP(L->metrics.lookup_hashes, n);
	for (i = 0; i < METRICS_LATENCY_BUCKETS; i++)
		if (dt <= latency_le[i])
			BUMP(L->metrics.lookup_latency[i], 1);
	return 0;
}

/* Metadata keys a submission may carry, each a string of at most
 * METADATA_MAX_VALUE bytes (docs/API.md). */
static const char *const metadata_keys[] = {
	"name", "path", "found_by", "local_detection", "product_version", "os",
};
#define METADATA_MAX_VALUE  1024
#define METADATA_MAX_HEADER 4096

/*
 * Replaces the user's name in a home-directory path, whatever the client
 * already did: /home/NAME/, /Users/NAME/, C:\Users\NAME\ become
 * <user>. Returns a new string.
 */
static char *
redact_path(const char *p)
{
	static const char *const homes[] = {"/home/", "/Users/", "\\Users\\"};
	char *out = xmalloc(strlen(p) + 8 * 4 + 1), *o = out;

	while (*p) {
		size_t i, hl = 0;

		for (i = 0; i < sizeof(homes) / sizeof(homes[0]); i++) {
			hl = strlen(homes[i]);
			if (strncasecmp(p, homes[i], hl) == 0)
				break;
		}
		if (i < sizeof(homes) / sizeof(homes[0]) && p[hl] != '\0' &&
		    strncmp(p + hl, "<user>", 6) != 0) {
			const char *end = p + hl;
			char sep = homes[i][hl - 1];

			while (*end && *end != sep)
				end++;
			memcpy(o, p, hl);
			o += hl;
			memcpy(o, "<user>", 6);
			o += 6;
			p = end;
			continue;
		}
		*o++ = *p++;
	}
	*o = '\0';
	return out;
}

/* Reads and checks the Vigil-Metadata header: a JSON object of known
 * string keys. Returns the canonical JSON text (caller frees), or NULL
 * after answering 400. */
static char *
submission_metadata(h2o_req_t *req)
{
	ssize_t at = h2o_find_header_by_str(&req->headers,
					    H2O_STRLIT("vigil-metadata"), -1);
	json_t *j, *v;
	const char *key;
	char *text;

	if (at < 0)
		return xstrdup("{}");
	if (req->headers.entries[at].value.len > METADATA_MAX_HEADER) {
		api_send_error(req, ROUTE_SUBMIT, 400, "bad_metadata",
			       "Vigil-Metadata is over 4096 bytes");
		return NULL;
	}
	j = json_loadb(req->headers.entries[at].value.base,
		       req->headers.entries[at].value.len,
		       JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		api_send_error(req, ROUTE_SUBMIT, 400, "bad_metadata",
			       "Vigil-Metadata is not a JSON object");
		return NULL;
	}
	json_object_foreach(j, key, v)
	{
		size_t i;

		for (i = 0;
		     i < sizeof(metadata_keys) / sizeof(metadata_keys[0]); i++)
			if (strcmp(key, metadata_keys[i]) == 0)
				break;
		if (i == sizeof(metadata_keys) / sizeof(metadata_keys[0]) ||
		    !json_is_string(v) ||
		    json_string_length(v) > METADATA_MAX_VALUE) {
			json_decref(j);
			api_send_error(
				req, ROUTE_SUBMIT, 400, "bad_metadata",
				"Vigil-Metadata takes name, path, found_by, "
				"local_detection, product_version and os, "
				"as strings of at most 1024 bytes");
			return NULL;
		}
	}
	if ((v = json_object_get(j, "path")) != NULL) {
		char *r = redact_path(json_string_value(v));
		json_object_set_new(j, "path", json_string(r));
		free(r);
	}
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return text;
}

/*
 * Metadata without bytes (docs/API.md, "Metadata submissions"): a
 * POST /v1/submissions whose Content-Type is application/json carries
 *
 *   {"md5": HEX32, "sha1": HEX40, "sha256": HEX64, "size": N,
 *    "type": TEXT, "name": TEXT, "detections": [NAME, ...]}
 *
 * the three hashes and size required, the rest optional; no other member.
 * The body is bounded (METADATA_BODY_MAX) before it is parsed.
 */
#define METADATA_BODY_MAX       8192
#define METADATA_TYPE_MAX       128
#define METADATA_DETECTIONS_MAX 32
#define METADATA_DETECTION_MAX  128

/* Whether the request says its body is JSON. */
static bool
body_is_json(h2o_req_t *req)
{
	ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
	const char *v;
	size_t n;

	if (at < 0)
		return false;
	v = req->headers.entries[at].value.base;
	n = req->headers.entries[at].value.len;
	/* "application/json", maybe with parameters (a charset). */
	return n >= 16 && strncasecmp(v, "application/json", 16) == 0 &&
	       (n == 16 || v[16] == ';' || v[16] == ' ');
}

/* A hash member: exactly len lowercase hex digits. */
static bool
meta_hash(json_t *j, const char *key, size_t len, char *out)
{
	json_t *v = json_object_get(j, key);

	if (!json_is_string(v) || json_string_length(v) != len ||
	    !hex_is_lower(json_string_value(v), len))
		return false;
	memcpy(out, json_string_value(v), len + 1);
	return true;
}

/* An optional string member of 1 to max bytes without control
 * characters. */
static bool
meta_text(json_t *j, const char *key, size_t max)
{
	json_t *v = json_object_get(j, key);
	const char *s;
	size_t n;

	if (v == NULL)
		return true;
	if (!json_is_string(v))
		return false;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > max || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/*
 * Checks a metadata document into it (hashes, size) and *meta (the stored
 * metadata: name, type and detections, canonical JSON, malloc'd). Returns
 * 0, or -1 after answering 400 or 413.
 */
static int
metadata_document(h2o_req_t *req, struct ingest_item *it, char **meta)
{
	static const char *const keys[] = {"md5",  "sha1", "sha256",    "size",
					   "type", "name", "detections"};
	const char *why = NULL, *key;
	json_error_t e;
	json_t *j, *v, *keep = NULL;
	size_t i;

	*meta = NULL;
	if (req->entity.len > METADATA_BODY_MAX) {
		api_send_error(req, ROUTE_SUBMIT, 413, "body_too_large",
			       "a metadata document is at most 8192 bytes");
		return -1;
	}
	j = json_loadb(req->entity.base ? req->entity.base : "",
		       req->entity.len, JSON_REJECT_DUPLICATES, &e);
	if (!json_is_object(j)) {
		char msg[256];

		snprintf(msg, sizeof(msg),
			 "the metadata document is not a JSON object%s%s",
			 j == NULL ? ": " : "", j == NULL ? e.text : "");
		json_decref(j);
		api_send_error(req, ROUTE_SUBMIT, 400, "bad_metadata", msg);
		return -1;
	}
	json_object_foreach(j, key, v)
	{
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strcmp(key, keys[i]) == 0)
				break;
		if (i == sizeof(keys) / sizeof(keys[0])) {
			why = "unknown member: a metadata document has md5, "
			      "sha1, sha256, size, type, name and detections";
			goto bad;
		}
	}
	if (!meta_hash(j, "md5", 32, it->md5) ||
	    !meta_hash(j, "sha1", 40, it->sha1) ||
	    !meta_hash(j, "sha256", 64, it->sha256)) {
		why = "md5, sha1 and sha256 are required, as 32, 40 and 64 "
		      "lowercase hex digits";
		goto bad;
	}
	v = json_object_get(j, "size");
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > SAMPLES_MAX_SIZE) {
		why = "size is required, an integer from 0 to 4294967296";
		goto bad;
	}
	it->size = (uint64_t)json_integer_value(v);
	if (!meta_text(j, "type", METADATA_TYPE_MAX) ||
	    !meta_text(j, "name", METADATA_MAX_VALUE)) {
		why = "type (at most 128 bytes) and name (at most 1024) are "
		      "strings without control characters";
		goto bad;
	}
	keep = json_object();
	if ((v = json_object_get(j, "detections")) != NULL) {
		json_t *d;

		if (!json_is_array(v) ||
		    json_array_size(v) > METADATA_DETECTIONS_MAX) {
			why = "detections is an array of at most 32 names";
			goto bad;
		}
		json_array_foreach(v, i, d)
		{
			const char *s = json_string_value(d);
			size_t n = json_string_length(d);

			if (!json_is_string(d) || n == 0 ||
			    n > METADATA_DETECTION_MAX || strlen(s) != n) {
				why = "a detection is a name of 1 to 128 "
				      "printable ASCII characters";
				goto bad;
			}
			for (size_t k = 0; k < n; k++)
				if (s[k] <= 0x20 || s[k] >= 0x7f) {
					why = "a detection is a name of 1 to "
					      "128 printable ASCII characters";
					goto bad;
				}
		}
		json_object_set(keep, "detections", v);
	}
	if ((v = json_object_get(j, "name")) != NULL)
		json_object_set(keep, "name", v);
	if ((v = json_object_get(j, "type")) != NULL)
		json_object_set(keep, "type", v);
	json_object_set_new(keep, "bytes", json_false());
	*meta = json_dumps(keep, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(keep);
	json_decref(j);
	return 0;
bad:
	json_decref(keep);
	json_decref(j);
	api_send_error(req, ROUTE_SUBMIT, 400, "bad_metadata", why);
	return -1;
}

static const char *
job_state_name(enum job_state st)
{
	switch (st) {
	case JOB_QUEUED: return "queued";
	case JOB_ANALYSING: return "analysing";
	case JOB_DONE: return "done";
	case JOB_FAILED: return "failed";
	}
	return "queued";
}

/* Puts a sample's reputation in the index. */
static void
index_update(const struct reputation *r)
{
	index_write_lock();
	index_put(N->index, r);
	index_unlock();
}

/* Reloads a sample's reputation from the store into the index. */
static void
refresh(const char *sha256)
{
	struct reputation r;

	if (L->store->ops->reputation_get(L->store, sha256, &r) == 0) {
		index_update(&r);
		reputation_clear(&r);
	}
}

/* A submission handed to the committer: the request's pool holds this,
 * and the item points to it (item->ud). Whichever goes first unhooks the
 * other: the client leaving clears item->ud; the answer clears item. */
struct pending {
	h2o_req_t *req;
	struct ingest_item *item;      /* a submission, or */
	struct nodelog_item *log_item; /* a log append */
};

static void
pending_dispose(void *p)
{
	struct pending *pd = p;

	if (pd->item != NULL)
		pd->item->ud = NULL;
	if (pd->log_item != NULL)
		pd->log_item->ud = NULL;
}

static int
on_submit(h2o_req_t *req)
{
	struct ingest_item *it;
	struct pending *pd;
	struct caller who;
	char *meta = NULL;
	bool json;

	if (!is_method(req, "POST"))
		return wrong_method(req, ROUTE_SUBMIT, "POST");
	if (authenticate(req, ROUTE_SUBMIT, &who) != 0)
		return 0;
	json = body_is_json(req);
	if (who.consent == CONSENT_NONE)
		return api_send_error(
			req, ROUTE_SUBMIT, 403, "consent",
			"this client's consent is none: lookups only, nothing "
			"is submitted");
	if (who.consent != CONSENT_FILES && !json)
		return api_send_error(
			req, ROUTE_SUBMIT, 403, "consent",
			"this client's consent does not include files; send "
			"metadata as Content-Type: application/json");
	if (N->ingest == NULL)
		return api_send_error(req, ROUTE_SUBMIT, 503,
				      "store_unavailable",
				      "the node is shutting down; try again");
	it = xcalloc(1, sizeof(*it));
	if (json) {
		if (metadata_document(req, it, &meta) != 0) {
			ingest_item_free(it);
			return 0;
		}
		it->no_bytes = true;
		it->hashed = true;
	} else if ((meta = submission_metadata(req)) == NULL) {
		ingest_item_free(it);
		return 0;
	}
	uuid7(it->id);
	memcpy(it->client_id, who.id, sizeof(it->client_id));
	it->metadata = meta;
	it->created = (int64_t)time(NULL);
	it->hdr.port = L->id;
	if (!json) {
		/* The committer gets its own copy of the body: the request's
		 * memory goes away if the client does, while the item may
		 * still be in a batch. */
		it->len = req->entity.len;
		it->body = xmalloc(it->len ? it->len : 1);
		if (it->len > 0)
			memcpy(it->body, req->entity.base, it->len);
		/* A failure here leaves it to the committer. */
		(void)ingest_hash(it, L->digest);
	}
	if (ingest_submit(N->ingest, it) != 0) {
		ingest_item_free(it);
		h2o_add_header(&req->pool, &req->res.headers,
			       H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
		return api_send_error(
			req, ROUTE_SUBMIT, 503, "busy",
			"too many samples are waiting to be stored;"
			" try again");
	}
	pd = h2o_mem_alloc_shared(&req->pool, sizeof(*pd), pending_dispose);
	pd->req = req;
	pd->item = it;
	pd->log_item = NULL;
	it->ud = pd;
	/* Answered from api_on_ingest_done() once the batch is durable. */
	return 0;
}

/* Answers one committed (or refused) submission, if its client is still
 * there, and brings the index and the analysis up to date. */
static void
submitted(struct ingest_item *it)
{
	struct pending *pd = it->ud;
	h2o_req_t *req;

	if (it->rc == 0) {
		if (it->new_job && N->analysis != NULL)
			analysis_kick(N->analysis);
		/* A stored submission hands back its sample's reputation
		 * (submission_add_many): no read of the store here. */
		if (it->have_rep)
			index_update(&it->rep);
		log_event(LOG_INFO, "submitted",
			  "id=%s client=%s sha256=%s size=%zu new=%d", it->id,
			  it->client_id, it->sha256, it->len, it->new_job);
	}
	if (pd == NULL)
		return; /* the client left */
	/* The pool's pointer to the item goes before the item does. */
	pd->item = NULL;
	req = pd->req;
	switch (it->rc) {
	case 0:
		api_send_json(req, ROUTE_SUBMIT, 202,
			      json_pack("{s:s, s:s, s:s}", "id", it->id,
					"sha256", it->sha256, "status",
					it->no_bytes && !it->new_job &&
							it->job == JOB_QUEUED
						? "recorded"
						: job_state_name(it->job)));
		break;
	case VG_EINVAL:
		api_send_error(
			req, ROUTE_SUBMIT, 409, "conflict",
			it->no_bytes
				? "md5, sha1 or size disagree with the stored "
				  "sample of this sha256"
				: "the sample's hashes collide with another "
				  "stored sample's");
		break;
	case VG_ENOENT:
		api_send_error(req, ROUTE_SUBMIT, 401, "unauthorized",
			       "this client is not enrolled");
		break;
	default:
		api_send_error(req, ROUTE_SUBMIT, 503, "store_unavailable",
			       "the submission could not be stored; try again");
		break;
	}
}

static void
on_ingest_done(struct node *node)
{
	struct ingest_item *it, *next;

	if (node->ingest == NULL)
		return;
	for (it = ingest_take_done(node->ingest, L->id); it != NULL;
	     it = next) {
		next = it->next;
		submitted(it);
		ingest_item_free(it);
	}
}

/* A request waiting for an analysis (GET /v1/submissions/{id}?wait=). */
struct waiter {
	h2o_req_t *req; /* NULL once answered or gone */
	char id[37], sha256[65];
	uint64_t deadline_ms;
	struct waiter *next, *prev;
};

static void
unlink_waiter(struct waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else if (L->waiters == w)
		L->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->next = w->prev = NULL;
}

/* The request's pool is going away (answered or the client left). */
static void
waiter_dispose(void *p)
{
	struct waiter *w = p;

	if (w->req != NULL) {
		unlink_waiter(w);
		w->req = NULL;
	}
}

/* Brings into the index the objects of a report (every object but the
 * sample itself) that it does not know yet. */
static void
index_objects(json_t *report)
{
	json_t *objs = json_object_get(report, "objects"), *o;
	size_t i;

	json_array_foreach(objs, i, o)
	{
		const char *sha =
			json_string_value(json_object_get(o, "sha256"));
		const struct index_entry *e;
		int bad;

		if (i == 0 || sha == NULL)
			continue;
		index_read_lock();
		e = index_get(N->index, sha, strlen(sha), &bad);
		index_unlock();
		if (e == NULL && !bad)
			refresh(sha);
	}
}

/* Answers with the submission's current state; done says whether the
 * analysis is over (a waiter only answers early when it is). */
static int
answer_submission(h2o_req_t *req, const struct submission *sub, int *done)
{
	struct reputation r;
	struct job j;
	json_t *out;
	int rc;

	*done = 0;
	out = json_pack("{s:s, s:s}", "id", sub->id, "sha256", sub->sha256);
	rc = L->store->ops->job_get_by_sha256(L->store, sub->sha256, &j);
	if (rc == VG_ENOENT) {
		/* Metadata without bytes: nothing to analyse (yet). */
		*done = 1;
		json_object_set_new(out, "status", json_string("recorded"));
		return api_send_json(req, ROUTE_SUBMISSION, 200, out);
	}
	if (rc != 0) {
		json_decref(out);
		return api_send_error(req, ROUTE_SUBMISSION, 503,
				      "store_unavailable",
				      "the job could not be read; try again");
	}
	json_object_set_new(out, "status",
			    json_string(job_state_name(j.state)));
	json_object_set_new(out, "attempts", json_integer(j.attempts));
	if (j.state == JOB_DONE || j.state == JOB_FAILED) {
		*done = 1;
		if (L->store->ops->reputation_get(L->store, sub->sha256, &r) ==
		    0) {
			json_t *det = json_loads(r.detections, 0, NULL);
			json_object_set_new(out, "verdict",
					    json_string(r.verdict));
			json_object_set_new(out, "score",
					    json_integer(r.score));
			json_object_set_new(out, "detections",
					    det ? det : json_array());
			det = json_loads(r.because, 0, NULL);
			json_object_set_new(out, "because",
					    det ? det : json_array());
			/* Whoever learns the verdict here may look the sample
			 * up next, maybe before loop 0 has taken the
			 * analysis's results: the index must know it now. */
			index_update(&r);
			reputation_clear(&r);
		}
		if (j.report != NULL) {
			json_t *rep = json_loads(j.report, 0, NULL);
			json_object_set_new(out, "report",
					    rep ? rep : json_null());
			index_objects(rep);
		}
		if (j.error != NULL)
			json_object_set_new(out, "error", json_string(j.error));
	}
	job_clear(&j);
	return api_send_json(req, ROUTE_SUBMISSION, 200, out);
}

static int
on_submission(h2o_req_t *req, const char *id, size_t len)
{
	struct submission sub;
	struct caller who;
	char idz[37];
	long wait = 0;
	int done, rc;

	if (!is_method(req, "GET"))
		return wrong_method(req, ROUTE_SUBMISSION, "GET");
	if (authenticate(req, ROUTE_SUBMISSION, &who) != 0)
		return 0;
	if (len != 36)
		return api_send_error(req, ROUTE_SUBMISSION, 404, "unknown",
				      "no such submission");
	memcpy(idz, id, 36);
	idz[36] = '\0';
	if (req->query_at != SIZE_MAX) {
		const char *q = req->path.base + req->query_at;
		size_t ql = req->path.len - req->query_at;
		char buf[32], *end;

		if (ql >= 7 && ql < sizeof(buf) &&
		    memcmp(q, "?wait=", 6) == 0) {
			memcpy(buf, q + 6, ql - 6);
			buf[ql - 6] = '\0';
			wait = strtol(buf, &end, 10);
			if (*end != '\0' || wait < 0 || wait > 60)
				return api_send_error(req, ROUTE_SUBMISSION,
						      400, "bad_request",
						      "wait is 0..60 seconds");
		} else {
			return api_send_error(
				req, ROUTE_SUBMISSION, 400, "bad_request",
				"the only query parameter is wait");
		}
	}
	/* Someone else's submission is as unknown as one that never was;
	 * one the store could not read is not unknown. */
	memset(&sub, 0, sizeof(sub));
	rc = L->store->ops->submission_get(L->store, idz, &sub);
	if (rc != 0 && rc != VG_ENOENT) {
		log_event(LOG_ERROR, "store_failed",
			  "op=submission_get err=\"%s\"", L->store->err);
		return api_send_error(req, ROUTE_SUBMISSION, 503,
				      "store_unavailable",
				      "the submission could not be read; try "
				      "again");
	}
	if (rc != 0 || strcmp(sub.client_id, who.id) != 0) {
		if (sub.metadata != NULL)
			submission_clear(&sub);
		return api_send_error(req, ROUTE_SUBMISSION, 404, "unknown",
				      "no such submission");
	}
	if (wait > 0) {
		struct job j;
		int pending = 1;

		if (L->store->ops->job_get_by_sha256(L->store, sub.sha256,
						     &j) == 0) {
			pending = j.state == JOB_QUEUED ||
				  j.state == JOB_ANALYSING;
			job_clear(&j);
		}
		if (pending) {
			struct waiter *w = h2o_mem_alloc_shared(
				&req->pool, sizeof(*w), waiter_dispose);
			memset(w, 0, sizeof(*w));
			w->req = req;
			memcpy(w->id, sub.id, sizeof(w->id));
			memcpy(w->sha256, sub.sha256, sizeof(w->sha256));
			w->deadline_ms = clock_ms() + (uint64_t)wait * 1000;
			w->next = L->waiters;
			if (L->waiters)
				L->waiters->prev = w;
			L->waiters = w;
			submission_clear(&sub);
			return 0;
		}
	}
	answer_submission(req, &sub, &done);
	submission_clear(&sub);
	return 0;
}

/* Answers waiter w (still waiting) with the current state. */
static void
wake(struct waiter *w)
{
	struct submission sub;
	h2o_req_t *req = w->req;
	int done;

	unlink_waiter(w);
	w->req = NULL;
	memset(&sub, 0, sizeof(sub));
	memcpy(sub.id, w->id, sizeof(sub.id));
	memcpy(sub.sha256, w->sha256, sizeof(sub.sha256));
	answer_submission(req, &sub, &done);
}

/* Answers this loop's long-polls for the n samples in done. */
static void
wake_done(char (*done)[65], size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (struct waiter *w = L->waiters, *next; w != NULL;
		     w = next) {
			next = w->next;
			if (strcmp(w->sha256, done[i]) == 0)
				wake(w);
		}
}

static void on_log_done(struct node *node);

/* Loop 0 takes the analyses' results, brings the index up to date, and
 * passes the samples on to every other loop for their long-polls. */
static void
on_analysis_done(struct node *node)
{
	char(*done)[65] = NULL;
	size_t n;
	char b = 'a';

	if (node->analysis == NULL)
		return;
	if ((n = analysis_take_done(node->analysis, &done)) == 0) {
		free(done);
		return;
	}
	for (size_t i = 0; i < n; i++)
		refresh(done[i]);
	for (unsigned k = 1; k < node->n_loops; k++) {
		struct api_loop *l = &node->loops[k];

		pthread_mutex_lock(&l->mu);
		if (l->inbox_n + n > l->inbox_cap) {
			l->inbox_cap = (l->inbox_n + n) * 2;
			l->inbox = xreallocarray(l->inbox, l->inbox_cap,
						 sizeof(*l->inbox));
		}
		memcpy(l->inbox + l->inbox_n, done, n * sizeof(*done));
		l->inbox_n += n;
		pthread_mutex_unlock(&l->mu);
		/* A full pipe already says there is something to take. */
		if (write(l->notify_fd, &b, 1) < 0 && errno != EAGAIN)
			log_event(LOG_ERROR, "notify_failed", "err=\"%s\"",
				  strerror(errno));
	}
	wake_done(done, n);
	free(done);
}

/* What loop 0 passed on to this one. */
static void
on_inbox(void)
{
	char(*done)[65];
	size_t n;

	pthread_mutex_lock(&L->mu);
	done = L->inbox;
	n = L->inbox_n;
	L->inbox = NULL;
	L->inbox_n = L->inbox_cap = 0;
	pthread_mutex_unlock(&L->mu);
	wake_done(done, n);
	free(done);
}

void
api_on_notify(struct node *node)
{
	on_ingest_done(node);
	on_log_done(node);
	if (L->id == 0)
		on_analysis_done(node);
	else
		on_inbox();
}

void
api_loop_enter(struct node *node, struct api_loop *l)
{
	N = node;
	L = l;
}

void
api_release_waiters(struct node *node)
{
	(void)node;
	while (L->waiters != NULL)
		wake(L->waiters);
}

void
api_tick(struct node *node)
{
	uint64_t now = clock_ms();

	(void)node;
	for (struct waiter *w = L->waiters, *next; w != NULL; w = next) {
		next = w->next;
		if (now >= w->deadline_ms)
			wake(w);
	}
}

static int
on_healthz(h2o_req_t *req)
{
	struct activerules_entry *q = NULL;
	json_t *qj = json_array();
	size_t n, nq = 0;

	if (!is_method(req, "GET"))
		return wrong_method(req, ROUTE_HEALTHZ, "GET");
	index_read_lock();
	n = index_count(N->index);
	index_unlock();
	/* Still 200 when degraded: the node serves, with fewer rules. */
	if (N->rules != NULL)
		nq = activerules_quarantined(N->rules, &q);
	for (size_t i = 0; i < nq; i++)
		json_array_append_new(
			qj, json_pack("{s:s, s:s, s:s, s:b}", "file", q[i].file,
				      "reason", q[i].reason, "cause",
				      q[i].crash ? "analysis" : "compile",
				      "last_good", q[i].kept));
	free(q);
	/* On PostgreSQL: whether the region's changes still arrive (and so
	 * whether the store is there at all). Lookups go on from memory
	 * meanwhile, and writes answer 503: degraded, not down. */
	json_t *store = json_pack("{s:s}", "backend",
				  N->spec.backend == STORE_POSTGRES ? "postgres"
								    : "sqlite");
	bool store_ok = true;
	if (N->feed != NULL) {
		char why[320];

		store_ok = regionfeed_healthy(N->feed, why, sizeof(why));
		json_object_set_new(store, "status",
				    json_string(store_ok ? "ok" : "degraded"));
		if (!store_ok)
			json_object_set_new(store, "reason", json_string(why));
	}
	return api_send_json(
		req, ROUTE_HEALTHZ, 200,
		json_pack("{s:s, s:s, s:s, s:I, s:o, s:o}", "status",
			  nq || !store_ok ? "degraded" : "ok", "region",
			  N->cfg.region, "site", N->cfg.site, "samples",
			  (json_int_t)n, "rules_quarantined", qj, "store",
			  store));
}

/* Adds up every loop's counters. */
static void
sum_metrics(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	for (unsigned k = 0; k < N->n_loops; k++) {
		struct metrics *l = &N->loops[k].metrics;

		for (int r = 0; r < ROUTE_COUNT; r++)
			for (int st = 0; st < METRICS_STATUS_MAX; st++)
				m->requests[r][st] += READ(l->requests[r][st]);
		for (int i = 0; i < METRICS_LATENCY_BUCKETS; i++)
			m->lookup_latency[i] += READ(l->lookup_latency[i]);
		m->lookup_count += READ(l->lookup_count);
		m->lookup_ns += READ(l->lookup_ns);
		m->lookup_hashes += READ(l->lookup_hashes);
		m->rate_limited += READ(l->rate_limited);
		m->admin_denied += READ(l->admin_denied);
	}
}

static int
on_metrics(h2o_req_t *req)
{
	size_t cap = 64 * 1024, o = 0, n;
	struct metrics m;
	char *b;

	if (!is_method(req, "GET"))
		return wrong_method(req, ROUTE_METRICS, "GET");
	count(ROUTE_METRICS, 200); /* this answer counts itself */
	sum_metrics(&m);
	b = h2o_mem_alloc_pool(&req->pool, cap);
#define OUT(...)                                                               \
	do {                                                                   \
		int k_ = snprintf(b + o, cap - o, __VA_ARGS__);                \
		if (k_ > 0)                                                    \
			o += (size_t)k_ < cap - o ? (size_t)k_ : cap - o - 1;  \
	} while (0)
	OUT("# HELP vigil_http_requests_total HTTP requests by route and "
	    "status.\n"
	    "# TYPE vigil_http_requests_total counter\n");
	for (int r = 0; r < ROUTE_COUNT; r++)
		for (int s = 0; s < METRICS_STATUS_MAX; s++)
			if (m.requests[r][s])
				OUT("vigil_http_requests_total{route=\"%s\","
				    "code=\"%d\"} %llu\n",
				    route_name(r), s,
				    (unsigned long long)m.requests[r][s]);
	OUT("# HELP vigil_lookup_duration_seconds Time to answer a lookup "
	    "batch.\n"
	    "# TYPE vigil_lookup_duration_seconds histogram\n");
	for (int i = 0; i < METRICS_LATENCY_BUCKETS; i++)
		OUT("vigil_lookup_duration_seconds_bucket{le=\"%g\"} %llu\n",
		    latency_le[i], (unsigned long long)m.lookup_latency[i]);
	OUT("vigil_lookup_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "vigil_lookup_duration_seconds_sum %.6f\n"
	    "vigil_lookup_duration_seconds_count %llu\n",
	    (unsigned long long)m.lookup_count, (double)m.lookup_ns / 1e9,
	    (unsigned long long)m.lookup_count);
	if (N->rules != NULL) {
		struct activerules_entry *q;
		size_t nq = activerules_quarantined(N->rules, &q);

		free(q);
		OUT("# HELP vigil_rules_quarantined Rule files left out of "
		    "analysis (/healthz names them).\n"
		    "# TYPE vigil_rules_quarantined gauge\n"
		    "vigil_rules_quarantined %zu\n",
		    nq);
	}
	{
		struct edge_stats es;

		edge_stats_get(&es);
		OUT("# HELP vigil_http_refused_total Requests the edge refused "
		    "before any handler, by reason.\n"
		    "# TYPE vigil_http_refused_total counter\n"
		    "vigil_http_refused_total{reason=\"framing\"} %llu\n"
		    "vigil_http_refused_total{reason=\"size\"} %llu\n"
		    "vigil_http_refused_total{reason=\"token\"} %llu\n"
		    "vigil_http_refused_total{reason=\"budget\"} %llu\n"
		    "vigil_http_refused_total{reason=\"timeout\"} %llu\n"
		    "# HELP vigil_http_body_bytes Request bodies held in memory "
		    "now (max_body_memory bounds it).\n"
		    "# TYPE vigil_http_body_bytes gauge\n"
		    "vigil_http_body_bytes %llu\n",
		    (unsigned long long)es.refused_framing,
		    (unsigned long long)es.refused_size,
		    (unsigned long long)es.refused_token,
		    (unsigned long long)es.refused_budget,
		    (unsigned long long)es.timeouts,
		    (unsigned long long)edge_body_bytes());
	}
	OUT("# HELP vigil_stats_published_total Days of statistics this "
	    "node published (stored and logged) since it started.\n"
	    "# TYPE vigil_stats_published_total counter\n"
	    "vigil_stats_published_total %llu\n",
	    (unsigned long long)stats_api_published());
	OUT("# HELP vigil_lookup_hashes_total Hashes looked up.\n"
	    "# TYPE vigil_lookup_hashes_total counter\n"
	    "vigil_lookup_hashes_total %llu\n",
	    (unsigned long long)m.lookup_hashes);
	{
		uint64_t q = 0;

		if (L->store->ops->jobs_queued(L->store, &q) == 0)
			OUT("# HELP vigil_analysis_queue_depth Jobs waiting "
			    "for a "
			    "worker.\n"
			    "# TYPE vigil_analysis_queue_depth gauge\n"
			    "vigil_analysis_queue_depth %llu\n",
			    (unsigned long long)q);
	}
	if (N->ingest != NULL) {
		struct ingest_stats is;

		ingest_get_stats(N->ingest, &is);
		OUT("# HELP vigil_ingest_batches_total Group commits of "
		    "submissions.\n"
		    "# TYPE vigil_ingest_batches_total counter\n"
		    "vigil_ingest_batches_total %llu\n"
		    "# HELP vigil_ingest_submissions_total Submissions "
		    "committed in them.\n"
		    "# TYPE vigil_ingest_submissions_total counter\n"
		    "vigil_ingest_submissions_total %llu\n"
		    "# HELP vigil_ingest_samples_stored_total New samples "
		    "written.\n"
		    "# TYPE vigil_ingest_samples_stored_total counter\n"
		    "vigil_ingest_samples_stored_total %llu\n"
		    "# HELP vigil_ingest_queue Submissions waiting to be "
		    "stored.\n"
		    "# TYPE vigil_ingest_queue gauge\n"
		    "vigil_ingest_queue %llu\n",
		    (unsigned long long)is.batches,
		    (unsigned long long)is.items,
		    (unsigned long long)is.samples_stored,
		    (unsigned long long)is.queued);
	}
	if (N->feed != NULL) {
		unsigned long long applied, resyncs, own;

		regionfeed_counts(N->feed, &applied, &resyncs, &own);
		OUT("# HELP vigil_region_feed_applied_total Changes other "
		    "nodes of the region committed, put in the index.\n"
		    "# TYPE vigil_region_feed_applied_total counter\n"
		    "vigil_region_feed_applied_total %llu\n"
		    "# HELP vigil_region_feed_resyncs_total Whole re-reads "
		    "after the feed's session was lost.\n"
		    "# TYPE vigil_region_feed_resyncs_total counter\n"
		    "vigil_region_feed_resyncs_total %llu\n"
		    "# HELP vigil_region_feed_own_total Notifications passed "
		    "over: this node's own sessions sent them.\n"
		    "# TYPE vigil_region_feed_own_total counter\n"
		    "vigil_region_feed_own_total %llu\n",
		    applied, resyncs, own);
	}
	if (N->analysis != NULL) {
		struct analysis_stats st;

		analysis_stats(N->analysis, &st);
		OUT("# HELP vigil_analysis_jobs_total Analyses by outcome.\n"
		    "# TYPE vigil_analysis_jobs_total counter\n"
		    "vigil_analysis_jobs_total{outcome=\"done\"} %llu\n"
		    "vigil_analysis_jobs_total{outcome=\"failed\"} %llu\n"
		    "vigil_analysis_jobs_total{outcome=\"retried\"} %llu\n"
		    "# HELP vigil_worker_restarts_total Workers killed or lost "
		    "and replaced.\n"
		    "# TYPE vigil_worker_restarts_total counter\n"
		    "vigil_worker_restarts_total %llu\n"
		    "# HELP vigil_analysis_busy Workers analysing now.\n"
		    "# TYPE vigil_analysis_busy gauge\nvigil_analysis_busy "
		    "%llu\n"
		    "# HELP vigil_analysis_deferred_total 20 ms waits of an "
		    "analysis slot yielding to a burst of submissions.\n"
		    "# TYPE vigil_analysis_deferred_total counter\n"
		    "vigil_analysis_deferred_total %llu\n",
		    (unsigned long long)st.jobs_done,
		    (unsigned long long)st.jobs_failed,
		    (unsigned long long)st.jobs_retried,
		    (unsigned long long)st.worker_restarts,
		    (unsigned long long)st.busy,
		    (unsigned long long)st.deferred);
		OUT("# HELP vigil_reanalysed_total Stored samples analysed "
		    "again after the rules changed.\n"
		    "# TYPE vigil_reanalysed_total counter\n"
		    "vigil_reanalysed_total %llu\n"
		    "# HELP vigil_verdicts_changed_total Re-analyses that "
		    "changed the sample's verdict.\n"
		    "# TYPE vigil_verdicts_changed_total counter\n"
		    "vigil_verdicts_changed_total %llu\n",
		    (unsigned long long)st.reanalysed,
		    (unsigned long long)st.verdicts_changed);
	}
	if (N->retrohunt != NULL) {
		struct retrohunt_stats rs;

		retrohunt_stats(N->retrohunt, &rs);
		OUT("# HELP vigil_retrohunt_samples_total Stored samples "
		    "an ad-hoc retro-hunt ran its rule over.\n"
		    "# TYPE vigil_retrohunt_samples_total counter\n"
		    "vigil_retrohunt_samples_total %llu\n"
		    "# HELP vigil_retrohunts_total Retro-hunts finished.\n"
		    "# TYPE vigil_retrohunts_total counter\n"
		    "vigil_retrohunts_total %llu\n",
		    (unsigned long long)rs.samples,
		    (unsigned long long)rs.hunts);
	}
	if (N->retention != NULL) {
		struct retention_stats ts;

		retention_stats(N->retention, &ts);
		OUT("# HELP vigil_retention_passes_total Passes of the "
		    "retention sweep.\n"
		    "# TYPE vigil_retention_passes_total counter\n"
		    "vigil_retention_passes_total %llu\n"
		    "# HELP vigil_retention_failures_total Passes of the "
		    "retention sweep a store error stopped.\n"
		    "# TYPE vigil_retention_failures_total counter\n"
		    "vigil_retention_failures_total %llu\n"
		    "# HELP vigil_retention_deleted_total What the retention "
		    "sweep deleted, by kind.\n"
		    "# TYPE vigil_retention_deleted_total counter\n"
		    "vigil_retention_deleted_total{kind=\"sample_bytes\"} "
		    "%llu\n"
		    "vigil_retention_deleted_total{kind=\"submissions\"} "
		    "%llu\n"
		    "vigil_retention_deleted_total{kind=\"sample_clients\"} "
		    "%llu\n",
		    (unsigned long long)ts.passes,
		    (unsigned long long)ts.failures,
		    (unsigned long long)ts.erased,
		    (unsigned long long)ts.submissions,
		    (unsigned long long)ts.unlinked);
	}
	{
		uint64_t q = 0;

		if (L->store->ops->rescans_queued(L->store, &q) == 0)
			OUT("# HELP vigil_reanalysis_queue_depth Stored "
			    "samples waiting to be analysed again.\n"
			    "# TYPE vigil_reanalysis_queue_depth gauge\n"
			    "vigil_reanalysis_queue_depth %llu\n",
			    (unsigned long long)q);
	}
	OUT("# HELP vigil_admin_denied_total Requests to an operator's route "
	    "refused for their token (401, 403).\n"
	    "# TYPE vigil_admin_denied_total counter\n"
	    "vigil_admin_denied_total %llu\n",
	    (unsigned long long)m.admin_denied);
	OUT("# HELP vigil_rate_limited_total Requests refused with 429.\n"
	    "# TYPE vigil_rate_limited_total counter\n"
	    "vigil_rate_limited_total %llu\n"
	    "# HELP vigil_connections Open client connections.\n"
	    "# TYPE vigil_connections gauge\nvigil_connections %llu\n"
	    "# HELP vigil_connections_refused_total Connections closed at once "
	    "(max_connections).\n"
	    "# TYPE vigil_connections_refused_total counter\n"
	    "vigil_connections_refused_total %llu\n",
	    (unsigned long long)m.rate_limited,
	    (unsigned long long)READ(N->conns_open),
	    (unsigned long long)READ(N->conns_refused));
	OUT("# HELP vigil_loop_connections Open client connections by event "
	    "loop.\n# TYPE vigil_loop_connections gauge\n");
	for (unsigned k = 0; k < N->n_loops; k++)
		OUT("vigil_loop_connections{loop=\"%u\"} %llu\n", k,
		    (unsigned long long)READ(N->loops[k].conns));
	{
		struct verdict_count vc;

		index_read_lock();
		index_count_verdicts(N->index, &vc);
		index_unlock();
		OUT("# HELP vigil_samples_by_verdict Known samples by "
		    "verdict.\n"
		    "# TYPE vigil_samples_by_verdict gauge\n"
		    "vigil_samples_by_verdict{verdict=\"malicious\"} %zu\n"
		    "vigil_samples_by_verdict{verdict=\"suspicious\"} %zu\n"
		    "vigil_samples_by_verdict{verdict=\"clean\"} %zu\n"
		    "vigil_samples_by_verdict{verdict=\"unknown\"} %zu\n",
		    vc.malicious, vc.suspicious, vc.clean, vc.unknown);
	}
	index_read_lock();
	n = index_count(N->index);
	index_unlock();
	OUT("# HELP vigil_samples Samples in the reputation index.\n"
	    "# TYPE vigil_samples gauge\nvigil_samples %zu\n",
	    n);
	OUT("# HELP vigil_start_time_seconds When this node started.\n"
	    "# TYPE vigil_start_time_seconds gauge\n"
	    "vigil_start_time_seconds %lld\n",
	    (long long)N->started);
#undef OUT
	req->res.status = 200;
	req->res.reason = "OK";
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
		       NULL, H2O_STRLIT("text/plain; version=0.0.4"));
	req->res.content_length = o;
	h2o_send_inline(req, b, o);
	return 0;
}

/* The one handler: every path comes here, so that unknown routes and
 * wrong methods get the same JSON errors as everything else. */
/*
 * GET /log/key, /log/checkpoint, /log/tile/...: the transparency log as
 * C2SP tlog-tiles clients read it, and /log/handover, the latest key
 * handover note (docs/LOG.md). Tiles and entry bundles never change
 * once written (a partial tile's path names its width), so they may be
 * cached for good; the checkpoint may not be cached at all.
 */
static int
on_log(h2o_req_t *req, const char *rest, size_t len)
{
	struct tlog_log *log;
	uint8_t *data = NULL;
	char rel[128];
	size_t n = 0;
	int rc;

	if (!is_method(req, "GET"))
		return wrong_method(req, ROUTE_LOG, "GET");
	if (N->log == NULL)
		return api_send_error(req, ROUTE_LOG, 404, "not_found",
				      "this node keeps no log");
	log = nodelog_log(N->log);
	if (h2o_memis(rest, len, H2O_STRLIT("key"))) {
		char key[NOTE_KEY_MAX + 1];

		n = (size_t)snprintf(key, sizeof(key), "%s\n",
				     nodelog_verifier(N->log));
		reply_cc(req, ROUTE_LOG, 200, "text/plain; charset=utf-8",
			 "public, max-age=300", key, n);
		return 0;
	}
	if (h2o_memis(rest, len, H2O_STRLIT("checkpoint"))) {
		/* With the witnesses' cosignatures, once they gave them. */
		char *text = witnessing_checkpoint(N->witnessing,
						   tlog_log_size(log), &n);

		if (text == NULL)
			(void)tlog_log_checkpoint(log, &text, &n, NULL);
		reply_cc(req, ROUTE_LOG, 200, "text/plain; charset=utf-8",
			 "no-store", text, n);
		free(text);
		return 0;
	}
	if (h2o_memis(rest, len, H2O_STRLIT("handover"))) {
		const char *h = nodelog_handover(N->log, &n);

		if (h == NULL)
			return api_send_error(req, ROUTE_LOG, 404, "not_found",
					      "the log's key was never handed "
					      "over");
		reply_cc(req, ROUTE_LOG, 200, "text/plain; charset=utf-8",
			 "no-cache", h, n);
		return 0;
	}
	/* The path goes on as a C string: one with a NUL (%00) would be
	 * cut short, and names no tile anyway. */
	if (len >= sizeof(rel) || memchr(rest, '\0', len) != NULL)
		return api_send_error(req, ROUTE_LOG, 404, "not_found",
				      "no such tile");
	memcpy(rel, rest, len);
	rel[len] = '\0';
	rc = tlog_log_read(log, rel, &data, &n);
	if (rc == VG_ENOENT || rc == VG_EFORMAT || rc == VG_EINVAL)
		return api_send_error(req, ROUTE_LOG, 404, "not_found",
				      "no such tile");
	if (rc != 0)
		return api_send_error(req, ROUTE_LOG, 503, "unavailable",
				      "the tile cannot be read");
	reply_cc(req, ROUTE_LOG, 200, "application/octet-stream",
		 "public, max-age=31536000, immutable", (const char *)data, n);
	free(data);
	return 0;
}

/* Finds name=VALUE in req's query string: 1 with the (undecoded) value
 * in *v and *vl, 0 if absent. */
static int
query_param(h2o_req_t *req, const char *name, const char **v, size_t *vl)
{
	size_t nl = strlen(name);
	const char *q, *end;

	if (req->query_at == SIZE_MAX)
		return 0;
	q = req->path.base + req->query_at + 1;
	end = req->path.base + req->path.len;
	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *stop = amp ? amp : end;

		if ((size_t)(stop - q) > nl && memcmp(q, name, nl) == 0 &&
		    q[nl] == '=') {
			*v = q + nl + 1;
			*vl = (size_t)(stop - q) - nl - 1;
			return 1;
		}
		q = stop + 1;
	}
	return 0;
}

/* A canonical decimal (no sign, no leading zero) of at most 19 digits. */
static int
parse_u64(const char *v, size_t vl, uint64_t *out)
{
	uint64_t n = 0;

	if (vl == 0 || vl > 19 || (vl > 1 && v[0] == '0'))
		return -1;
	for (size_t i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	*out = n;
	return 0;
}

/*
 * GET /v1/log/proof?index=N or ?hash=LEAF (the entry's RFC 6962 leaf hash,
 * SHA-256 of 0x00 and the entry, 64 hex digits): the entry's inclusion
 * proof in the published tree, as a c2sp.org/tlog-proof@v1 text that
 * carries the signed checkpoint it is against.
 */
int
api_log_proof(struct node *node, uint64_t index, bool cosigned, char **out,
	      size_t *len)
{
	struct tlog_log *log = nodelog_log(node->log);
	struct tlog_proof pr;
	uint64_t size = 0;
	char *cp = NULL, *wcp, err[160];
	size_t cplen = 0, wlen = 0;
	int rc;

	memset(&pr, 0, sizeof(pr));
	if ((rc = tlog_log_checkpoint(log, &cp, &cplen, &size)) != 0)
		return rc;
	/* The checkpoint as GET /log/checkpoint serves it. */
	if (cosigned && (wcp = witnessing_checkpoint(node->witnessing, size,
						     &wlen)) != NULL) {
		free(cp);
		cp = wcp;
		cplen = wlen;
	}
	if (index >= size) {
		free(cp);
		return VG_ENOENT;
	}
	pr.index = index;
	rc = tlog_log_prove_inclusion(log, index, size, pr.path, &pr.path_len);
	pr.checkpoint = cp;
	pr.checkpoint_len = cplen;
	if (rc == 0)
		rc = tlog_proof_format(&pr, out, len, err, sizeof(err));
	free(cp);
	return rc;
}

static int
on_log_proof(h2o_req_t *req)
{
	uint64_t index = 0;
	char *out = NULL;
	const char *v;
	size_t vl, outlen = 0;
	int rc;

	if (query_param(req, "index", &v, &vl)) {
		if (parse_u64(v, vl, &index) != 0)
			return api_send_error(req, ROUTE_LOG_PROOF, 400,
					      "bad_request",
					      "index is a decimal number");
	} else if (query_param(req, "hash", &v, &vl)) {
		struct merkle_hash leaf;

		if (vl != 64 || sodium_hex2bin(leaf.b, sizeof(leaf.b), v, vl,
					       NULL, NULL, NULL) != 0)
			return api_send_error(
				req, ROUTE_LOG_PROOF, 400, "bad_hash",
				"hash is a leaf hash in 64 hex digits");
		/* Found only in the published tree, which the proof's
		 * checkpoint covers: it never shrinks. */
		if (tlog_log_find(nodelog_log(N->log), &leaf, &index) != 0)
			return api_send_error(req, ROUTE_LOG_PROOF, 404,
					      "unknown",
					      "no entry with this leaf hash");
	} else {
		return api_send_error(req, ROUTE_LOG_PROOF, 400, "bad_request",
				      "expected ?index=N or ?hash=LEAF");
	}
	rc = api_log_proof(N, index, false, &out, &outlen);
	if (rc == VG_ENOENT)
		return api_send_error(req, ROUTE_LOG_PROOF, 404, "unknown",
				      "no entry with this index");
	if (rc != 0)
		return api_send_error(req, ROUTE_LOG_PROOF, 503, "unavailable",
				      "the proof cannot be made");
	reply(req, ROUTE_LOG_PROOF, 200, "text/plain; charset=utf-8", out,
	      outlen);
	free(out);
	return 0;
}

/*
 * GET /v1/log/consistency?from=A&to=B (0 < A <= B <= the published size):
 * the consistency proof from the tree of A entries to that of B, one
 * base64 hash per line.
 */
static int
on_log_consistency(h2o_req_t *req)
{
	struct merkle_hash proof[MERKLE_PROOF_MAX];
	uint64_t from, to;
	size_t vl, n = 0, o = 0;
	const char *v;
	char *out;
	int rc;

	if (!query_param(req, "from", &v, &vl) ||
	    parse_u64(v, vl, &from) != 0 || !query_param(req, "to", &v, &vl) ||
	    parse_u64(v, vl, &to) != 0 || from == 0 || from > to)
		return api_send_error(req, ROUTE_LOG_PROOF, 400, "bad_request",
				      "expected ?from=A&to=B with 0 < A <= B");
	if (to > tlog_log_size(nodelog_log(N->log)))
		return api_send_error(req, ROUTE_LOG_PROOF, 404, "unknown",
				      "the log is not that large");
	rc = tlog_log_prove_consistency(nodelog_log(N->log), from, to, proof,
					&n);
	if (rc != 0)
		return api_send_error(req, ROUTE_LOG_PROOF, 503, "unavailable",
				      "the proof cannot be made");
	out = xmalloc(n * 46 + 1);
	for (size_t i = 0; i < n; i++) {
		sodium_bin2base64(out + o, 46, proof[i].b, sizeof(proof[i].b),
				  sodium_base64_VARIANT_ORIGINAL);
		o += 44;
		out[o++] = '\n';
	}
	reply(req, ROUTE_LOG_PROOF, 200, "text/plain; charset=utf-8", out, o);
	free(out);
	return 0;
}

/* POST /v1/fp: a false-positive report (fp.c), from a known client. */
static int
on_fp(h2o_req_t *req)
{
	struct caller who;

	if (!is_method(req, "POST"))
		return wrong_method(req, ROUTE_FP, "POST");
	if (authenticate(req, ROUTE_FP, &who) != 0)
		return 0;
	/* A report ties the client to one of its files: none keeps
	 * nothing of the kind (docs/PRIVACY.md). */
	if (who.consent == CONSENT_NONE)
		return api_send_error(
			req, ROUTE_FP, 403, "consent",
			"this client's consent is none: the node keeps nothing "
			"about its files, false-positive reports included");
	return fp_on_report(N, L, req, who.id);
}

/*
 * Whether token (len bytes, after "Bearer ") is that of a client enrolled
 * here. Only a token of this region reaches the store, and no request is
 * taken from the client's rate.
 */
static bool
client_known(const char *token, size_t len)
{
	size_t rl = strlen(N->cfg.region), pl = strlen(TOKEN_PREFIX);
	uint8_t hash[32];
	struct client c;
	bool known;

	if (len > TOKEN_MAX_LEN || len <= pl + rl + 1 ||
	    memcmp(token, TOKEN_PREFIX, pl) != 0 ||
	    memcmp(token + pl, N->cfg.region, rl) != 0 || token[pl + rl] != '.')
		return false;
	crypto_hash_sha256(hash, (const uint8_t *)token, len);
	pthread_mutex_lock(&limits_mu);
	known = tokens.cap > 0 && token_find(hash, 0) != NULL;
	pthread_mutex_unlock(&limits_mu);
	if (!known &&
	    L->store->ops->client_by_token_hash(L->store, hash, &c) == 0) {
		client_clear(&c);
		known = true;
	}
	return known;
}

/* The peer's address of req, as text, into buf ("?" if unknown). */
static void
peer_text(h2o_req_t *req, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	const void *a = NULL;

	memset(&ss, 0, sizeof(ss));
	(void)req->conn->callbacks->get_peername(req->conn,
						 (struct sockaddr *)&ss);
	if (ss.ss_family == AF_INET)
		a = &((struct sockaddr_in *)&ss)->sin_addr;
	else if (ss.ss_family == AF_INET6)
		a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	if (a == NULL ||
	    inet_ntop(ss.ss_family, a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
}

/* A failed operator authentication: counted (vigil_admin_denied_total)
 * and logged with the route and the peer, never a byte of the token. */
static void
admin_denied(h2o_req_t *req, enum route r, const char *why)
{
	char peer[INET6_ADDRSTRLEN];

	peer_text(req, peer, sizeof(peer));
	BUMP(L->metrics.admin_denied, 1);
	log_event(LOG_WARN, "admin_denied", "route=%s peer=%s why=\"%s\"",
		  route_name(r), peer, why);
}

/*
 * Who holds the operator token v[0..len): 1 with its name in name (the
 * bootstrap operator, STORE_OPERATOR_ROOT, whose token is the data
 * directory's operator.token, or an operator the store has in force), 0
 * for nobody, -1 when the store failed (logged). The store is asked at
 * every request, so that a revocation on any node of the region holds
 * at once everywhere.
 */
static int
operator_of(const char *v, size_t len, char name[STORE_OPERATOR_NAME_MAX + 1])
{
	struct store_operator op;
	uint8_t hash[32];
	size_t pl;
	int rc;

	if (N->log == NULL)
		return 0;
	if (nodelog_operator_ok(N->log, v, len)) {
		snprintf(name, STORE_OPERATOR_NAME_MAX + 1, "%s",
			 STORE_OPERATOR_ROOT);
		return 1;
	}
	/* Only what looks like an operator's token costs a lookup. */
	pl = strlen(OPERATOR_TOKEN_PREFIX);
	if (len > TOKEN_MAX_LEN || len <= pl ||
	    memcmp(v, OPERATOR_TOKEN_PREFIX, pl) != 0)
		return 0;
	crypto_hash_sha256(hash, (const uint8_t *)v, len);
	rc = L->store->ops->operator_by_token_hash(L->store, hash, &op);
	if (rc == VG_ENOENT)
		return 0;
	if (rc != 0) {
		log_event(LOG_ERROR, "store_failed",
			  "func=%s op=operator_by_token_hash err=\"%s\"",
			  __func__, L->store->err);
		return -1;
	}
	memcpy(name, op.name, STORE_OPERATOR_NAME_MAX + 1);
	sodium_memzero(&op, sizeof(op));
	return 1;
}

/* An operator's bearer token, checked: 1 with the operator's name in
 * name, or 0 after answering 403 for an enrolled client's token (known,
 * but the wrong role), 503 if the store failed and 401 for anything
 * else; a 401 or 403 is an admin_denied. */
static int
operator_auth(h2o_req_t *req, enum route r,
	      char name[STORE_OPERATOR_NAME_MAX + 1])
{
	ssize_t at =
		h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
	const char *v;
	size_t len;

	if (at < 0) {
		admin_denied(req, r, "no token");
		deny(req, r, "the operator token is required");
		return 0;
	}
	v = req->headers.entries[at].value.base;
	len = req->headers.entries[at].value.len;
	if (len < 8 || strncasecmp(v, "Bearer ", 7) != 0) {
		admin_denied(req, r, "malformed Authorization header");
		deny(req, r, "not the operator token");
		return 0;
	}
	switch (operator_of(v + 7, len - 7, name)) {
	case 1: return 1;
	case -1:
		api_send_error(req, r, 503, "store_unavailable",
			       "the store failed; try again");
		return 0;
	default: break;
	}
	if (client_known(v + 7, len - 7)) {
		admin_denied(req, r, "a client's token");
		api_send_error(req, r, 403, "forbidden",
			       "this route takes an operator token, not a "
			       "client's");
	} else {
		admin_denied(req, r, "unknown or revoked token");
		deny(req, r, "not an operator token (unknown or revoked)");
	}
	return 0;
}

int
api_operator_auth(h2o_req_t *req, enum route r,
		  char name[STORE_OPERATOR_NAME_MAX + 1])
{
	return operator_auth(req, r, name);
}

int
api_operator_ok(h2o_req_t *req, enum route r)
{
	char name[STORE_OPERATOR_NAME_MAX + 1];

	return operator_auth(req, r, name);
}

/* The edge's admission (edge.h): the route's body limit, and whether it
 * needs a token, by the path as sent. */
static void
edge_admit(void *ud, const struct edge_head *h, struct edge_admission *a)
{
	size_t arg;
	enum route r = route_of(h->path, h->path_len, &arg);

	(void)ud;
	a->body_limit = route_body_limit(&N->cfg, r);
	a->needs_token = route_needs_token(r);
}

/* The edge's token check, before a large body is read: the operator's
 * token, or a token of this region's client that the store knows
 * (client_known). No rate is taken: the handler does that, once. */
static int
edge_token_ok(void *ud, const char *v, size_t len)
{
	(void)ud;
	if (len < 8 || strncasecmp(v, "Bearer ", 7) != 0)
		return 0;
	char name[STORE_OPERATOR_NAME_MAX + 1];

	v += 7;
	len -= 7;
	return operator_of(v, len, name) == 1 || client_known(v, len);
}

struct edge_hooks
api_edge_hooks(void)
{
	struct edge_hooks h = {edge_admit, edge_token_ok, NULL};

	return h;
}

struct nodelog_item *
api_log_submit(h2o_req_t *req, enum route r, char *text, size_t len,
	       void (*done)(struct nodelog_item *))
{
	struct nodelog_item *it = xcalloc(1, sizeof(*it));

	it->entry = (uint8_t *)text;
	it->len = len;
	it->hdr.port = L->id;
	it->done = done;
	if (nodelog_submit(N->log, it) != 0) {
		nodelog_item_free(it);
		h2o_add_header(&req->pool, &req->res.headers,
			       H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
		api_send_error(req, r, 503, "busy",
			       "too many entries are waiting; try again");
		return NULL;
	}
	return it;
}

/* The sequencer is done with an administrative append (loop thread);
 * owns it. Answers 201 with where the entry is, or 503. */
static void
admin_logged(struct nodelog_item *it)
{
	struct pending *pd = it->ud;

	if (pd != NULL) {
		pd->log_item = NULL;
		if (it->rc == 0)
			api_send_json(pd->req, ROUTE_ADMIN_LOG, 201,
				      json_pack("{s:I, s:I, s:s}", "index",
						(json_int_t)it->index, "size",
						(json_int_t)it->size, "origin",
						nodelog_origin(N->log)));
		else
			api_send_error(pd->req, ROUTE_ADMIN_LOG, 503,
				       "log_unavailable", it->err);
	}
	nodelog_item_free(it);
}

/*
 * POST /v1/admin/log?type=TYPE with the event's text as the body: an
 * administrative entry (docs/LOG.md), answered 201 once a signed
 * checkpoint covers it.
 */
static int
on_admin_log(h2o_req_t *req)
{
	static const char q[] = "?type=";
	enum tlog_entry_type type;
	struct nodelog_item *it;
	struct tlog_entry e;
	struct pending *pd;
	char name[40], err[256], by[STORE_OPERATOR_NAME_MAX + 1];
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!is_method(req, "POST"))
		return wrong_method(req, ROUTE_ADMIN_LOG, "POST");
	if (N->log == NULL)
		return api_send_error(req, ROUTE_ADMIN_LOG, 404, "not_found",
				      "this node keeps no log");
	if (!api_operator_auth(req, ROUTE_ADMIN_LOG, by))
		return 0;
	if (req->query_at == SIZE_MAX ||
	    req->path.len - req->query_at <= sizeof(q) - 1 ||
	    req->path.len - req->query_at - (sizeof(q) - 1) >= sizeof(name) ||
	    memcmp(req->path.base + req->query_at, q, sizeof(q) - 1) != 0)
		return api_send_error(req, ROUTE_ADMIN_LOG, 400, "bad_request",
				      "expected ?type=TYPE");
	len = req->path.len - req->query_at - (sizeof(q) - 1);
	memcpy(name, req->path.base + req->query_at + sizeof(q) - 1, len);
	name[len] = '\0';
	if (tlog_entry_type_parse(name, &type) != 0 ||
	    (type != TLOG_ENTRY_KEY_CHANGE &&
	     type != TLOG_ENTRY_WITNESS_SET_CHANGE &&
	     type != TLOG_ENTRY_LOCATION_CHANGE &&
	     type != TLOG_ENTRY_STATEMENT))
		return api_send_error(req, ROUTE_ADMIN_LOG, 400, "bad_type",
				      "type is key-change, witness-set-change, "
				      "location-change or statement");
	rc = tlog_entry_admin(type, (int64_t)time(NULL),
			      req->entity.base ? req->entity.base : "",
			      req->entity.len, &e, err, sizeof(err));
	if (rc == 0) {
		rc = tlog_entry_encode(&e, &text, &len, err, sizeof(err));
		tlog_entry_clear(&e);
	}
	if (rc != 0)
		return api_send_error(req, ROUTE_ADMIN_LOG,
				      rc == VG_ELIMIT ? 413 : 400, "bad_entry",
				      err);
	it = api_log_submit(req, ROUTE_ADMIN_LOG, text, len, admin_logged);
	if (it == NULL)
		return 0;
	pd = h2o_mem_alloc_shared(&req->pool, sizeof(*pd), pending_dispose);
	pd->req = req;
	pd->log_item = it;
	pd->item = NULL;
	it->ud = pd;
	log_event(LOG_INFO, "log_append_requested",
		  "type=%s bytes=%zu operator=%s", name, len, by);
	return 0;
}

/* The sequencer has appended (or failed to append) this loop's entries. */
static void
on_log_done(struct node *node)
{
	struct nodelog_item *it, *next;
	bool appended = false;

	if (node->log == NULL)
		return;
	for (it = nodelog_take_done(node->log, L->id); it != NULL; it = next) {
		next = it->next;
		appended |= it->rc == 0;
		if (it->rc == 0)
			log_event(LOG_INFO, "log_appended",
				  "index=%llu size=%llu",
				  (unsigned long long)it->index,
				  (unsigned long long)it->size);
		it->done(it); /* owns it now */
	}
	/* New checkpoints for the witnesses to cosign. */
	if (appended)
		witnessing_kick(node->witnessing);
}

static int
on_req(h2o_handler_t *self, h2o_req_t *req)
{
	const char *p = req->path_normalized.base;
	size_t n = req->path_normalized.len, arg;
	enum route r = route_of(p, n, &arg);

	(void)self;
	if (r == ROUTE_OTHER)
		return api_send_error(req, ROUTE_OTHER, 404, "not_found",
				      "no such route");
	/* The edge bounded the body by the path as sent; h2o's normalised
	 * path may name another route, with a smaller limit. */
	if (req->entity.base != NULL &&
	    req->entity.len > route_body_limit(&N->cfg, r))
		return api_send_error(
			req, r, 413, "body_too_large",
			"the request body is over this route's limit");
	switch (r) {
	case ROUTE_LOOKUP: return on_lookup(req);
	case ROUTE_ENROLL: return on_enroll(req);
	case ROUTE_FILES:
		return on_files(req, p + arg, n - arg);
	case ROUTE_SUBMIT: return on_submit(req);
	case ROUTE_SUBMISSION:
		return on_submission(req, p + arg, n - arg);
	case ROUTE_HEALTHZ: return on_healthz(req);
	case ROUTE_METRICS: return on_metrics(req);
	case ROUTE_LOG:
		return on_log(req, p + arg, n - arg);
	case ROUTE_ADMIN_LOG: return on_admin_log(req);
	case ROUTE_RELEASES:
	case ROUTE_ADMIN_RELEASES:
		return releases_handle(N, L->id, req, r, p, n);
	case ROUTE_PORTAL: return portal_handle(N, req, p, n);
	case ROUTE_FP: return on_fp(req);
	case ROUTE_ADMIN_FP:
		return fp_on_admin(N, L, req, p + arg, n - arg);
	case ROUTE_ADMIN_RETROHUNT: return retrohunt_handle(N, L, req, p, n);
	case ROUTE_ADMIN_OPERATORS:
		return operators_handle(N, L, req, p + arg, n - arg);
	case ROUTE_ME: return me_handle(N, L, req, p + arg, n - arg);
	case ROUTE_STATS: return stats_api_handle(N, L, req);
	case ROUTE_ADMIN_HOLDS:
		return holds_handle(N, L, req, p + arg, n - arg);
	case ROUTE_ADMIN_SAMPLE:
		return access_on_sample(N, L, req, p + arg, n - arg);
	case ROUTE_LOG_PROOF:
		if (!is_method(req, "GET"))
			return wrong_method(req, ROUTE_LOG_PROOF, "GET");
		if (N->log == NULL)
			return api_send_error(req, ROUTE_LOG_PROOF, 404,
					      "not_found",
					      "this node keeps no log");
		return p[8] == 'p' ? on_log_proof(req)
				   : on_log_consistency(req);
	default: break;
	}
	return api_send_error(req, ROUTE_OTHER, 404, "not_found",
			      "no such route");
}

void
api_register(struct node *node, h2o_hostconf_t *host)
{
	h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
	h2o_handler_t *h = h2o_create_handler(pc, sizeof(*h));

	N = node;
	h->on_req = on_req;
}

int
api_load_index(struct node *node)
{
	int rc = node->store->ops->reputation_each(
		node->store,
		(int (*)(const struct reputation *, void *))index_put_cb,
		node->index);

	/* Retractions are laid over the rows they retract. */
	return rc != 0 ? rc : fp_load_index(node);
}

int
index_put_cb(const struct reputation *r, void *ud)
{
	if (index_put(ud, r) != 0)
		log_event(LOG_WARN, "bad_reputation_row", "sha256=%.64s",
			  r->sha256);
	return 0;
}
