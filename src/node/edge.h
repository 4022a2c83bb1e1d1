/*
 * edge.h - vigild's HTTP/1.1 connection layer: the bytes a caller sends
 * are read here, strictly, and only a complete, admitted request reaches
 * h2o's core (routing, handlers, responses).
 *
 * h2o 2.2.5's own HTTP/1 layer buffers a whole request body, up to the
 * largest limit of any route, before any handler sees the request; it
 * spills bodies over 32 MiB to /tmp in plaintext; and it accepts
 * ambiguous framing (docs/ARCHITECTURE.md, "The edge"). This layer
 * replaces it and keeps the rest of h2o:
 *
 * - The head (request line and header fields) is read under fixed
 *   limits: EDGE_MAX_LINE for the request line, EDGE_MAX_FIELD for each
 *   field line, EDGE_MAX_HEAD in all, EDGE_MAX_FIELDS fields. Lines end
 *   in CRLF; a bare LF, a lone CR, obs-fold, a space before a field's
 *   colon, a control byte, two Content-Lengths, Content-Length with
 *   Transfer-Encoding, a coding other than chunked, a missing or second
 *   Host (HTTP/1.1): 400 and the connection closed (RFC 9112). HTTP/2
 *   (the cleartext preface) gets 505 and is closed.
 * - Before one byte of the body is read, the admission hook says the
 *   route's body limit and whether the caller must hold a token. A
 *   declared length over the limit is refused (413) at once; a chunked
 *   body as soon as it passes it. A route that needs a token, whose body
 *   may be over EDGE_PREAUTH_BODY, has its token checked first (401).
 * - Bodies are held in memory only, never on disk, and the memory held
 *   for bodies by the whole node is bounded (edge_config.body_budget):
 *   past it, 503 with Retry-After.
 * - A refused request is answered by this layer with Connection: close,
 *   then the connection is shut down for writing and what the caller
 *   still sends is read and dropped for a short while (a lingering
 *   close), so that the caller reads the answer instead of a reset.
 *
 * One struct edge per event loop; every function is called in that
 * loop's thread, except edge_body_bytes.
 */
#ifndef VIGIL_NODE_EDGE_H
#define VIGIL_NODE_EDGE_H

#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#define EDGE_MAX_LINE     8192  /* the request line, CRLF included */
#define EDGE_MAX_FIELD    4096  /* one header field line */
#define EDGE_MAX_HEAD     32768 /* request line and every field */
#define EDGE_MAX_FIELDS   100
#define EDGE_PREAUTH_BODY 65536 /* read before a token is checked */
#define EDGE_LINGER_MS    2000
#define EDGE_LINGER_BYTES (1u << 20)

/* What the edge knows of a request when it asks to admit it. */
struct edge_head {
	const char *method;
	size_t method_len;
	const char *path; /* the target up to '?', as sent */
	size_t path_len;
	const char *authorization; /* NULL when absent */
	size_t authorization_len;
	uint64_t length; /* declared; EDGE_CHUNKED, or 0 with no body */
	struct sockaddr_storage *peer;
};

#define EDGE_CHUNKED UINT64_MAX

/* The admission hook's answer. */
struct edge_admission {
	uint64_t body_limit; /* the route's */
	int needs_token;     /* the route refuses a caller without one */
};

/*
 * The admission hook: fills *a for the route of h. The edge then refuses
 * what the answer rules out. token_ok is asked only for a route that
 * needs a token and a body that may pass EDGE_PREAUTH_BODY: 1 if the
 * Authorization value is a valid token for some route of the node (the
 * handler still decides whether it is the right one), else 0.
 */
struct edge_hooks {
	void (*admit)(void *ud, const struct edge_head *h,
		      struct edge_admission *a);
	int (*token_ok)(void *ud, const char *authorization, size_t len);
	void *ud;
};

struct edge_config {
	uint64_t body_budget;   /* bytes of bodies held, node-wide */
	uint64_t timeout_ms;    /* a head, an idle keep-alive, a body stall */
	struct edge_hooks hooks;
};

struct edge;

/* Counters, readable from any thread (relaxed). */
struct edge_stats {
	uint64_t refused_framing; /* 400, 414, 505 */
	uint64_t refused_size;    /* 413 */
	uint64_t refused_token;   /* 401 before the body */
	uint64_t refused_budget;  /* 503 */
	uint64_t timeouts;
};

/* Makes the edge of one loop: ctx is its h2o context, hosts its hosts. */
struct edge *edge_new(h2o_context_t *ctx, h2o_hostconf_t **hosts,
		      const struct edge_config *cfg);

/* Serves the accepted connection sock from now on. */
void edge_accept(struct edge *e, h2o_socket_t *sock);

/* Stops taking requests: idle connections are closed now, the others
 * after the response in flight (Connection: close). */
void edge_shutdown(struct edge *e);

/* Connections still open on e. */
size_t edge_conns(const struct edge *e);

/* Frees e; every connection must be closed. */
void edge_free(struct edge *e);

/* Bytes of request bodies held now by every loop. */
uint64_t edge_body_bytes(void);

/* The node-wide counters (summed over every loop). */
void edge_stats_get(struct edge_stats *out);

#endif
