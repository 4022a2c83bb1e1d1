/*
 * edge.c - vigild's HTTP/1.1 connection layer; see edge.h.
 *
 * A connection goes through these states:
 *
 *   IDLE     waiting for a request's first byte (keep-alive), timer on
 *   HEAD     reading the head, timer on (it is not reset by progress:
 *            a head must arrive whole within timeout_ms)
 *   BODY     reading an admitted body, timer reset by each read that
 *            brings bytes
 *   PROCESS  the request is h2o's (handlers, the response); not reading
 *   LINGER   a refusal was sent; reading and dropping, then closing
 *
 * The head is scanned in the socket's input buffer as it arrives (every
 * byte once), checked line by line against the limits, and copied into
 * the request's pool when complete. Body bytes are moved out of the
 * input buffer into the body as they arrive, so the input buffer stays
 * as small as one read: h2o never spills it to disk.
 */
#include "node/edge.h"

#include <alloca.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/xmalloc.h"

enum state { S_IDLE, S_HEAD, S_BODY, S_PROCESS, S_LINGER };

/* Where a chunked body's reader stands. */
enum chunk { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

/* The longest chunk-size line (size, extensions, CRLF), and the trailer
 * section in all. */
#define CHUNK_LINE_MAX 1024
#define TRAILER_MAX    EDGE_MAX_FIELD

struct edge {
	h2o_context_t *ctx;
	h2o_hostconf_t **hosts;
	struct edge_config cfg;
	h2o_timeout_t timeout, linger;
	h2o_linklist_t conns;
	size_t n_conns;
	bool shutting_down;
};

struct conn {
	h2o_conn_t super; /* first: h2o allocates and frees it as one */
	struct edge *e;
	h2o_socket_t *sock;
	int fd;
	h2o_linklist_t link;
	h2o_timeout_entry_t timer;
	enum state state;
	/* the head being scanned, in sock->input */
	size_t scanned, line_start;
	unsigned lines;
	/* the request */
	h2o_req_t req;
	bool req_live, keepalive, is_head;
	/* its body */
	bool has_body, chunked;
	enum chunk cs;
	uint64_t remaining; /* of the body (length) or of the chunk */
	uint64_t limit;
	char *body;
	size_t body_len, body_cap;
	uint64_t reserved; /* of the node's budget */
	size_t trailer_len;
	/* the response */
	h2o_ostream_t ostr;
	bool sent_head, res_chunked;
	size_t lingered;
	char refusal[640];
};

static uint64_t budget_used;
static struct edge_stats stats;

#define BUMP(f) __atomic_fetch_add(&stats.f, 1, __ATOMIC_RELAXED)

uint64_t
edge_body_bytes(void)
{
	return __atomic_load_n(&budget_used, __ATOMIC_RELAXED);
}

void
edge_stats_get(struct edge_stats *out)
{
	out->refused_framing =
		__atomic_load_n(&stats.refused_framing, __ATOMIC_RELAXED);
	out->refused_size =
		__atomic_load_n(&stats.refused_size, __ATOMIC_RELAXED);
	out->refused_token =
		__atomic_load_n(&stats.refused_token, __ATOMIC_RELAXED);
	out->refused_budget =
		__atomic_load_n(&stats.refused_budget, __ATOMIC_RELAXED);
	out->timeouts = __atomic_load_n(&stats.timeouts, __ATOMIC_RELAXED);
}

/* Takes n bytes of the node's body budget; false if they are not there. */
static bool
budget_take(struct conn *c, uint64_t n)
{
	uint64_t cur = __atomic_load_n(&budget_used, __ATOMIC_RELAXED);

	do {
		if (n > c->e->cfg.body_budget ||
		    cur > c->e->cfg.body_budget - n)
			return false;
	} while (!__atomic_compare_exchange_n(&budget_used, &cur, cur + n, 1,
					      __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	c->reserved += n;
	return true;
}

static void
body_free(struct conn *c)
{
	free(c->body);
	c->body = NULL;
	c->body_len = c->body_cap = 0;
	if (c->reserved != 0)
		__atomic_fetch_sub(&budget_used, c->reserved,
				   __ATOMIC_RELAXED);
	c->reserved = 0;
}

static void
timer_set(struct conn *c, h2o_timeout_t *t)
{
	if (h2o_timeout_is_linked(&c->timer))
		h2o_timeout_unlink(&c->timer);
	if (t != NULL)
		h2o_timeout_link(c->e->ctx->loop, t, &c->timer);
}

static void
conn_close(struct conn *c)
{
	timer_set(c, NULL);
	if (c->req_live) {
		h2o_dispose_request(&c->req);
		c->req_live = false;
	}
	body_free(c);
	h2o_linklist_unlink(&c->link);
	c->e->n_conns--;
	h2o_socket_close(c->sock);
	free(c);
}

/* ---- refusals ---------------------------------------------------------- */

static const char *
reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Status";
	}
}

static void on_linger_read(h2o_socket_t *sock, const char *err);

/* The refusal is out: no more answers on this connection; what the
 * caller still sends is dropped for a while, so that it reads the
 * refusal rather than a reset. */
static void
on_refusal_sent(h2o_socket_t *sock, const char *err)
{
	struct conn *c = sock->data;

	if (err != NULL || shutdown(c->fd, SHUT_WR) != 0) {
		conn_close(c);
		return;
	}
	c->state = S_LINGER;
	c->lingered = 0;
	timer_set(c, &c->e->linger);
	h2o_socket_read_start(sock, on_linger_read);
	if (sock->input->size != 0)
		on_linger_read(sock, NULL);
}

static void
on_linger_read(h2o_socket_t *sock, const char *err)
{
	struct conn *c = sock->data;

	if (err == NULL) {
		c->lingered += sock->input->size;
		h2o_buffer_consume(&sock->input, sock->input->size);
	}
	if (err != NULL || c->lingered > EDGE_LINGER_BYTES)
		conn_close(c);
}

/*
 * Answers status with the node's error document ({"error": code,
 * "message": message}) and closes the connection after it. extra is
 * more header lines (CRLF-terminated), or "".
 */
static void
refuse(struct conn *c, int status, const char *code, const char *message,
       const char *extra)
{
	char body[256];
	int blen, n;
	h2o_iovec_t v;

	timer_set(c, NULL);
	h2o_socket_read_stop(c->sock);
	if (c->req_live) {
		h2o_dispose_request(&c->req);
		c->req_live = false;
	}
	body_free(c);
	c->keepalive = false;
	blen = snprintf(body, sizeof(body),
			"{\"error\": \"%s\", \"message\": \"%s\"}\n", code,
			message);
	n = snprintf(c->refusal, sizeof(c->refusal),
		     "HTTP/1.1 %d %s\r\n"
		     "content-type: application/json\r\n"
		     "cache-control: no-store\r\n"
		     "%s"
		     "content-length: %d\r\n"
		     "connection: close\r\n\r\n%s",
		     status, reason(status), extra, blen, body);
	if (n < 0 || (size_t)n >= sizeof(c->refusal)) {
		conn_close(c);
		return;
	}
	c->state = S_PROCESS;
	v = h2o_iovec_init(c->refusal, (size_t)n);
	h2o_socket_write(c->sock, &v, 1, on_refusal_sent);
}

static void
bad_request(struct conn *c, const char *message)
{
	BUMP(refused_framing);
	refuse(c, 400, "bad_request", message, "");
}

/* ---- the response ------------------------------------------------------ */

static void on_response_sent(h2o_socket_t *sock, const char *err);

static void
on_response_more(h2o_socket_t *sock, const char *err)
{
	struct conn *c = sock->data;

	if (err != NULL) {
		conn_close(c);
		return;
	}
	h2o_proceed_response(&c->req);
}

static bool
field_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return false;
	return true;
}

static bool
status_has_body(int status)
{
	return !(status < 200 || status == 204 || status == 304);
}

/* The status line and header fields of c's response, in its pool. */
static h2o_iovec_t
response_head(struct conn *c, h2o_req_t *req, h2o_iovec_t *bufs,
	      size_t bufcnt, h2o_send_state_t state)
{
	h2o_timestamp_t ts;
	h2o_iovec_t srv = c->e->ctx->globalconf->server_name;
	size_t cap = 256 + srv.len, n = 0;
	char *p;
	bool body = status_has_body(req->res.status);

	/* A whole answer in one call has a length even if the handler did
	 * not give it. */
	if (body && req->res.content_length == SIZE_MAX &&
	    state == H2O_SEND_STATE_FINAL) {
		size_t total = 0;

		for (size_t i = 0; i < bufcnt; i++)
			total += bufs[i].len;
		req->res.content_length = total;
	}
	if (body && req->res.content_length == SIZE_MAX) {
		if (req->version >= 0x101)
			c->res_chunked = true;
		else
			c->keepalive = false;
	}
	if (c->e->shutting_down)
		c->keepalive = false;
	for (size_t i = 0; i < req->res.headers.size; i++)
		cap += req->res.headers.entries[i].name->len +
		       req->res.headers.entries[i].value.len + 4;
	p = h2o_mem_alloc_pool(&req->pool, cap);
	h2o_get_timestamp(c->e->ctx, &req->pool, &ts);
	n += (size_t)snprintf(p + n, cap - n, "HTTP/1.1 %d %s\r\ndate: %s\r\n",
			      req->res.status, reason(req->res.status),
			      ts.str->rfc1123);
	if (srv.len != 0 && field_ok(srv.base, srv.len))
		n += (size_t)snprintf(p + n, cap - n, "server: %.*s\r\n",
				      (int)srv.len, srv.base);
	n += (size_t)snprintf(p + n, cap - n, "connection: %s\r\n",
			      c->keepalive ? "keep-alive" : "close");
	if (c->res_chunked)
		n += (size_t)snprintf(p + n, cap - n,
				      "transfer-encoding: chunked\r\n");
	else if (body && req->res.content_length != SIZE_MAX)
		n += (size_t)snprintf(p + n, cap - n,
				      "content-length: %zu\r\n",
				      req->res.content_length);
	for (size_t i = 0; i < req->res.headers.size; i++) {
		const h2o_header_t *h = &req->res.headers.entries[i];
		const char *name = h->orig_name ? h->orig_name : h->name->base;

		/* A value with a line break would split the answer. */
		if (!field_ok(h->value.base, h->value.len) ||
		    !field_ok(h->name->base, h->name->len))
			continue;
		memcpy(p + n, name, h->name->len);
		n += h->name->len;
		memcpy(p + n, ": ", 2);
		n += 2;
		memcpy(p + n, h->value.base, h->value.len);
		n += h->value.len;
		memcpy(p + n, "\r\n", 2);
		n += 2;
	}
	memcpy(p + n, "\r\n", 2);
	n += 2;
	return h2o_iovec_init(p, n);
}

/* h2o's core sends the response through this: the last stream. */
static void
on_ostr_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs,
	     size_t bufcnt, h2o_send_state_t state)
{
	struct conn *c = H2O_STRUCT_FROM_MEMBER(struct conn, ostr, self);
	h2o_iovec_t *v = alloca(sizeof(*v) * (3 * bufcnt + 2));
	size_t n = 0;
	bool body;

	if (!c->sent_head) {
		v[n++] = response_head(c, req, bufs, bufcnt, state);
		c->sent_head = true;
	}
	body = !c->is_head && status_has_body(req->res.status);
	for (size_t i = 0; body && i < bufcnt; i++) {
		if (bufs[i].len == 0)
			continue;
		if (c->res_chunked) {
			char *sz = h2o_mem_alloc_pool(&req->pool, 20);

			v[n++] = h2o_iovec_init(
				sz, (size_t)snprintf(sz, 20, "%zx\r\n",
						     bufs[i].len));
			v[n++] = bufs[i];
			v[n++] = h2o_iovec_init(H2O_STRLIT("\r\n"));
		} else {
			v[n++] = bufs[i];
		}
	}
	if (state == H2O_SEND_STATE_ERROR)
		c->keepalive = false; /* the answer is cut: no last chunk */
	else if (state == H2O_SEND_STATE_FINAL && body && c->res_chunked)
		v[n++] = h2o_iovec_init(H2O_STRLIT("0\r\n\r\n"));
	h2o_socket_write(c->sock, v, n,
			 h2o_send_state_is_in_progress(state)
				 ? on_response_more
				 : on_response_sent);
}

static void handle_input(struct conn *c);
static void on_read(h2o_socket_t *sock, const char *err);

/* The next request, or the end of the connection. */
static void
next_request(struct conn *c)
{
	c->state = S_IDLE;
	c->scanned = c->line_start = 0;
	c->lines = 0;
	c->sent_head = c->res_chunked = false;
	timer_set(c, &c->e->timeout);
	h2o_socket_read_start(c->sock, on_read);
	if (c->sock->input->size != 0)
		handle_input(c);
}

static void
on_response_sent(h2o_socket_t *sock, const char *err)
{
	struct conn *c = sock->data;

	if (c->req_live) {
		h2o_dispose_request(&c->req);
		c->req_live = false;
	}
	body_free(c);
	if (err != NULL || !c->keepalive || c->e->shutting_down) {
		conn_close(c);
		return;
	}
	next_request(c);
}

/* ---- the request ------------------------------------------------------- */

static bool
is_tchar(unsigned char ch)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z') || (ch != '\0' && strchr(extra, ch));
}

/* A field value's byte: visible, space, tab or obs-text; no control. */
static bool
is_vbyte(unsigned char ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static bool
token_is(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && strncasecmp(s, lit, n) == 0;
}

/* Parses a Content-Length value: 1 to 19 digits, nothing else. */
static bool
parse_length(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* Connection: a list of options; close and keep-alive matter here. */
static void
parse_connection(struct conn *c, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t b, e;

		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
			i++;
		b = i;
		while (i < n && s[i] != ',')
			i++;
		e = i;
		while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
			e--;
		if (token_is(s + b, e - b, "close"))
			c->keepalive = false;
		else if (token_is(s + b, e - b, "keep-alive") &&
			 c->req.version == 0x100)
			c->keepalive = true;
	}
}

/*
 * Scans the head in the input buffer from where the last call stopped.
 * Returns its length (through the empty line) once complete, 0 if more
 * is needed, or -1 after refusing.
 */
static ssize_t
scan_head(struct conn *c)
{
	const char *b = c->sock->input->bytes;
	size_t n = c->sock->input->size;

	/* Empty lines before a request are allowed (RFC 9112, 2.2). */
	if (c->scanned == 0) {
		size_t skip = 0;

		while (skip + 1 < n && b[skip] == '\r' && b[skip + 1] == '\n')
			skip += 2;
		if (skip != 0) {
			h2o_buffer_consume(&c->sock->input, skip);
			b = c->sock->input->bytes;
			n = c->sock->input->size;
		}
		if (n == 0 || (n == 1 && b[0] == '\r'))
			return 0;
	}
	for (size_t i = c->scanned; i < n; i++) {
		unsigned char ch = (unsigned char)b[i];
		size_t len = i + 1 - c->line_start;

		if (ch == '\n') {
			if (i == c->line_start || b[i - 1] != '\r') {
				bad_request(c, "a line ends in a bare LF");
				return -1;
			}
			if (len == 2) {
				c->scanned = i + 1;
				return (ssize_t)(i + 1);
			}
			c->line_start = i + 1;
			if (++c->lines > EDGE_MAX_FIELDS) {
				bad_request(c, "too many header fields");
				return -1;
			}
			continue;
		}
		if (i > c->line_start && b[i - 1] == '\r') {
			bad_request(c, "a CR not followed by LF");
			return -1;
		}
		if (c->lines == 0 && len > EDGE_MAX_LINE - 1) {
			BUMP(refused_framing);
			refuse(c, 414, "uri_too_long",
			       "the request line is over 8 KiB", "");
			return -1;
		}
		if (c->lines > 0 && len > EDGE_MAX_FIELD - 1) {
			bad_request(c, "a header field is over 4 KiB");
			return -1;
		}
		if (i + 1 >= EDGE_MAX_HEAD) {
			bad_request(c, "the request head is over 32 KiB");
			return -1;
		}
	}
	c->scanned = n;
	return 0;
}

/* The request line of the head at p (CRLF-terminated lines). Returns the
 * offset after it, or 0 after refusing. */
static size_t
parse_request_line(struct conn *c, char *p, size_t n, h2o_iovec_t *target)
{
	size_t i = 0, m, t;
	char *line_end = memchr(p, '\r', n);
	size_t end = (size_t)(line_end - p);

	while (i < end && is_tchar((unsigned char)p[i]))
		i++;
	m = i;
	if (m == 0 || m > 32 || i >= end || p[i] != ' ') {
		bad_request(c, "malformed request line");
		return 0;
	}
	t = ++i;
	while (i < end && p[i] > 0x20 && p[i] < 0x7f)
		i++;
	if (i == t || i >= end || p[i] != ' ') {
		bad_request(c, "malformed request target");
		return 0;
	}
	*target = h2o_iovec_init(p + t, i - t);
	i++;
	if (end - i == 8 && memcmp(p + i, "HTTP/1.", 7) == 0 &&
	    (p[i + 7] == '0' || p[i + 7] == '1')) {
		c->req.version = p[i + 7] == '1' ? 0x101 : 0x100;
	} else if (end - i == 8 && memcmp(p + i, "HTTP/", 5) == 0 &&
		   p[i + 5] >= '2' && p[i + 5] <= '9') {
		BUMP(refused_framing);
		refuse(c, 505, "http_version",
		       "this node speaks HTTP/1.1 only", "");
		return 0;
	} else {
		bad_request(c, "malformed HTTP version");
		return 0;
	}
	if (target->base[0] != '/') {
		bad_request(c, "the request target is not an absolute path");
		return 0;
	}
	c->req.input.method = h2o_iovec_init(p, m);
	return end + 2;
}

/* What the head's framing fields said. */
struct framing {
	int hosts, lengths, codings, expects;
	uint64_t length;
	bool chunked, expect_continue;
	h2o_iovec_t authorization;
};

/* One header field line [p, p + n) (no CRLF); 0, or -1 after refusing. */
static int
parse_field(struct conn *c, char *p, size_t n, struct framing *f)
{
	size_t i = 0, v, e;
	const h2o_token_t *tok;

	if (p[0] == ' ' || p[0] == '\t') {
		bad_request(c, "obsolete line folding");
		return -1;
	}
	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i >= n || p[i] != ':') {
		bad_request(c, "malformed header field");
		return -1;
	}
	h2o_strtolower(p, i);
	v = i + 1;
	while (v < n && (p[v] == ' ' || p[v] == '\t'))
		v++;
	e = n;
	while (e > v && (p[e - 1] == ' ' || p[e - 1] == '\t'))
		e--;
	for (size_t k = v; k < e; k++)
		if (!is_vbyte((unsigned char)p[k])) {
			bad_request(c, "a control byte in a header field");
			return -1;
		}
	tok = h2o_lookup_token(p, i);
	if (tok == H2O_TOKEN_HOST) {
		f->hosts++;
		c->req.input.authority = h2o_iovec_init(p + v, e - v);
		return 0;
	}
	if (tok == H2O_TOKEN_CONTENT_LENGTH) {
		if (++f->lengths > 1 || !parse_length(p + v, e - v, &f->length)) {
			bad_request(c, f->lengths > 1
					       ? "more than one Content-Length"
					       : "malformed Content-Length");
			return -1;
		}
		return 0;
	}
	if (tok == H2O_TOKEN_TRANSFER_ENCODING) {
		if (++f->codings > 1) {
			bad_request(c, "more than one Transfer-Encoding");
			return -1;
		}
		if (!token_is(p + v, e - v, "chunked")) {
			BUMP(refused_framing);
			refuse(c, 501, "not_implemented",
			       "the only transfer coding taken is chunked", "");
			return -1;
		}
		f->chunked = true;
		return 0;
	}
	if (tok == H2O_TOKEN_CONNECTION) {
		parse_connection(c, p + v, e - v);
		return 0;
	}
	if (tok == H2O_TOKEN_EXPECT) {
		if (++f->expects > 1 || !token_is(p + v, e - v, "100-continue")) {
			BUMP(refused_framing);
			refuse(c, 417, "expectation_failed",
			       "the only expectation met is 100-continue", "");
			return -1;
		}
		f->expect_continue = true;
		return 0;
	}
	if (tok == H2O_TOKEN_UPGRADE || tok == H2O_TOKEN_HTTP2_SETTINGS ||
	    tok == H2O_TOKEN_TE || tok == H2O_TOKEN_KEEP_ALIVE)
		return 0; /* hop-by-hop, and no upgrade is offered */
	if (tok == H2O_TOKEN_AUTHORIZATION)
		f->authorization = h2o_iovec_init(p + v, e - v);
	if (tok != NULL)
		h2o_add_header(&c->req.pool, &c->req.headers, tok, NULL,
			       p + v, e - v);
	else
		h2o_add_header_by_str(&c->req.pool, &c->req.headers, p, i, 0,
				      NULL, p + v, e - v);
	return 0;
}

static void on_timeout(h2o_timeout_entry_t *entry);

/* Hands the complete request to h2o's core. */
static void
dispatch(struct conn *c)
{
	timer_set(c, NULL);
	h2o_socket_read_stop(c->sock);
	c->state = S_PROCESS;
	if (c->body != NULL)
		c->req.entity = h2o_iovec_init(c->body, c->body_len);
	else if (c->has_body)
		c->req.entity = h2o_iovec_init("", 0);
	h2o_process_request(&c->req);
}

/* Grows the body to hold n more bytes, within the limit and the budget.
 * false after refusing. */
static bool
body_grow(struct conn *c, uint64_t n)
{
	size_t cap;
	char *nb;

	if (n > c->limit || c->body_len > c->limit - n) {
		BUMP(refused_size);
		refuse(c, 413, "body_too_large",
		       "the request body is over this route's limit", "");
		return false;
	}
	if (c->body_len + n <= c->body_cap)
		return true;
	cap = c->body_cap * 2;
	if (cap < c->body_len + n)
		cap = c->body_len + n;
	if (cap > c->limit)
		cap = c->limit;
	if (!budget_take(c, cap - c->body_cap)) {
		BUMP(refused_budget);
		refuse(c, 503, "busy",
		       "the node holds as many request bodies as it takes",
		       "retry-after: 1\r\n");
		return false;
	}
	if ((nb = realloc(c->body, cap)) == NULL) {
		BUMP(refused_budget);
		refuse(c, 503, "busy", "out of memory for the request body",
		       "retry-after: 1\r\n");
		return false;
	}
	c->body = nb;
	c->body_cap = cap;
	return true;
}

/* The head is complete and h bytes long: parses it, asks the admission
 * hook, and starts the body. false after refusing. */
static bool
start_request(struct conn *c, size_t h)
{
	struct framing f = {0};
	struct edge_head eh = {0};
	struct edge_admission a = {0};
	h2o_iovec_t target;
	char *p;
	size_t at, q;

	h2o_init_request(&c->req, &c->super, NULL);
	c->req_live = true;
	c->req._ostr_top = &c->ostr;
	c->req.timestamps.request_begin_at =
		*h2o_get_timestamp(c->e->ctx, NULL, NULL);
	p = h2o_mem_alloc_pool(&c->req.pool, h);
	memcpy(p, c->sock->input->bytes, h);
	h2o_buffer_consume(&c->sock->input, h);
	if ((at = parse_request_line(c, p, h, &target)) == 0)
		return false;
	c->keepalive = c->req.version == 0x101;
	while (at + 2 < h) {
		char *eol = memchr(p + at, '\r', h - at);
		size_t len = (size_t)(eol - (p + at));

		if (parse_field(c, p + at, len, &f) != 0)
			return false;
		at += len + 2;
	}
	if (c->req.version == 0x101 && f.hosts != 1) {
		bad_request(c, f.hosts == 0 ? "no Host field"
					    : "more than one Host field");
		return false;
	}
	if (f.hosts > 1) {
		bad_request(c, "more than one Host field");
		return false;
	}
	if (f.chunked && (f.lengths != 0 || c->req.version == 0x100)) {
		bad_request(c, f.lengths != 0
				       ? "Content-Length with Transfer-Encoding"
				       : "Transfer-Encoding in HTTP/1.0");
		return false;
	}
	c->req.input.scheme = &H2O_URL_SCHEME_HTTP;
	c->req.input.path = target;
	c->is_head = h2o_memis(c->req.input.method.base,
			       c->req.input.method.len, H2O_STRLIT("HEAD"));
	if (c->e->shutting_down)
		c->keepalive = false;
	c->req.http1_is_persistent = c->keepalive;
	c->chunked = f.chunked;
	c->has_body = f.chunked || f.lengths != 0;
	c->body_len = 0;
	c->limit = 0;
	for (q = 0; q < target.len && target.base[q] != '?'; q++)
		;
	eh.method = c->req.input.method.base;
	eh.method_len = c->req.input.method.len;
	eh.path = target.base;
	eh.path_len = q;
	eh.authorization = f.authorization.base;
	eh.authorization_len = f.authorization.len;
	eh.length = f.chunked ? EDGE_CHUNKED : f.length;
	if (!f.chunked && f.lengths == 0) {
		dispatch(c);
		return false;
	}
	c->e->cfg.hooks.admit(c->e->cfg.hooks.ud, &eh, &a);
	c->limit = a.body_limit;
	if (!f.chunked && f.length > a.body_limit) {
		BUMP(refused_size);
		refuse(c, 413, "body_too_large",
		       "the request body is over this route's limit", "");
		return false;
	}
	if (a.needs_token &&
	    (f.chunked || f.length > EDGE_PREAUTH_BODY) &&
	    (f.authorization.base == NULL ||
	     !c->e->cfg.hooks.token_ok(c->e->cfg.hooks.ud,
				       f.authorization.base,
				       f.authorization.len))) {
		BUMP(refused_token);
		refuse(c, 401, "unauthorized",
		       "a valid token is required before a body this large",
		       "www-authenticate: Bearer\r\n");
		return false;
	}
	if (!f.chunked && f.length == 0) {
		dispatch(c);
		return false;
	}
	if (!f.chunked && !body_grow(c, f.length))
		return false;
	c->remaining = f.chunked ? 0 : f.length;
	c->cs = CH_SIZE;
	c->trailer_len = 0;
	if (f.expect_continue) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

		/* Nothing else is being written now; a socket just read
		 * from takes 25 bytes, or the caller sends anyway. */
		(void)send(c->fd, cont, sizeof(cont) - 1,
			   MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	c->state = S_BODY;
	timer_set(c, &c->e->timeout);
	return true;
}

/* One CRLF-terminated line of a chunked body from the input: its length
 * without CRLF, -2 if incomplete, -1 after refusing. */
static ssize_t
chunk_line(struct conn *c, size_t max)
{
	const char *b = c->sock->input->bytes;
	size_t n = c->sock->input->size;

	for (size_t i = 0; i < n; i++) {
		if (b[i] == '\n') {
			if (i == 0 || b[i - 1] != '\r') {
				bad_request(c, "a chunk line ends in a bare LF");
				return -1;
			}
			return (ssize_t)(i - 1);
		}
		if (i > 0 && b[i - 1] == '\r') {
			bad_request(c, "a CR not followed by LF");
			return -1;
		}
		if (i + 1 > max) {
			bad_request(c, "a chunk line is too long");
			return -1;
		}
	}
	return -2;
}

/* A chunk-size line: hex digits, optional extensions. */
static bool
parse_chunk_size(const char *s, size_t n, uint64_t *out)
{
	size_t i = 0;
	uint64_t v = 0;

	for (; i < n; i++) {
		int d = s[i] >= '0' && s[i] <= '9'   ? s[i] - '0'
			: s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
			: s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 10
						     : -1;
		if (d < 0)
			break;
		if (i >= 16)
			return false; /* past 2^64: over any limit */
		v = v * 16 + (uint64_t)d;
	}
	if (i == 0)
		return false;
	/* Extensions are ignored (RFC 9112, 7.1.1), but must be text. */
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < n && s[i] != ';')
		return false;
	for (; i < n; i++)
		if (!is_vbyte((unsigned char)s[i]))
			return false;
	*out = v;
	return true;
}

/* Moves body bytes from the input; true once the body is complete. false
 * with c->state changed after refusing. */
static bool
read_body(struct conn *c, bool *done)
{
	*done = false;
	for (;;) {
		h2o_buffer_t *in = c->sock->input;
		ssize_t l;
		uint64_t take;

		if (!c->chunked || c->cs == CH_DATA) {
			take = in->size < c->remaining ? in->size
						       : c->remaining;
			if (take != 0) {
				memcpy(c->body + c->body_len, in->bytes, take);
				c->body_len += take;
				c->remaining -= take;
				h2o_buffer_consume(&c->sock->input, take);
			}
			if (c->remaining != 0)
				return true;
			if (!c->chunked) {
				*done = true;
				return true;
			}
			c->cs = CH_DATA_END;
			continue;
		}
		if (c->cs == CH_DATA_END) {
			if (in->size < 2)
				return true;
			if (in->bytes[0] != '\r' || in->bytes[1] != '\n') {
				bad_request(c, "a chunk not followed by CRLF");
				return false;
			}
			h2o_buffer_consume(&c->sock->input, 2);
			c->cs = CH_SIZE;
			continue;
		}
		l = chunk_line(c, c->cs == CH_SIZE ? CHUNK_LINE_MAX
						   : EDGE_MAX_FIELD);
		if (l == -1)
			return false;
		if (l == -2)
			return true;
		if (c->cs == CH_SIZE) {
			uint64_t size;

			if (!parse_chunk_size(in->bytes, (size_t)l, &size)) {
				bad_request(c, "malformed chunk size");
				return false;
			}
			h2o_buffer_consume(&c->sock->input, (size_t)l + 2);
			if (size == 0) {
				c->cs = CH_TRAILER;
				continue;
			}
			if (!body_grow(c, size))
				return false;
			c->remaining = size;
			c->cs = CH_DATA;
			continue;
		}
		/* CH_TRAILER: fields are read and dropped; an empty line
		 * ends the body. */
		c->trailer_len += (size_t)l + 2;
		if (l != 0 && (c->trailer_len > TRAILER_MAX ||
			       in->bytes[0] == ' ' || in->bytes[0] == '\t' ||
			       memchr(in->bytes, ':', (size_t)l) == NULL)) {
			bad_request(c, "malformed trailer section");
			return false;
		}
		h2o_buffer_consume(&c->sock->input, (size_t)l + 2);
		if (l == 0) {
			*done = true;
			return true;
		}
	}
}

static void
handle_input(struct conn *c)
{
	for (;;) {
		if (c->state == S_IDLE || c->state == S_HEAD) {
			ssize_t h;

			if (c->state == S_IDLE && c->sock->input->size == 0)
				return;
			c->state = S_HEAD;
			if ((h = scan_head(c)) <= 0)
				return;
			if (!start_request(c, (size_t)h))
				return;
		}
		if (c->state == S_BODY) {
			size_t before = c->body_len;
			bool done;

			if (!read_body(c, &done))
				return;
			if (done) {
				dispatch(c);
				return;
			}
			if (c->body_len != before)
				timer_set(c, &c->e->timeout);
			return;
		}
		return;
	}
}

static void
on_read(h2o_socket_t *sock, const char *err)
{
	struct conn *c = sock->data;

	if (err != NULL) {
		conn_close(c);
		return;
	}
	handle_input(c);
}

static void
on_timeout(h2o_timeout_entry_t *entry)
{
	struct conn *c = H2O_STRUCT_FROM_MEMBER(struct conn, timer, entry);

	if (c->state != S_IDLE && c->state != S_LINGER)
		BUMP(timeouts);
	conn_close(c);
}

/* ---- connections ------------------------------------------------------- */

static socklen_t
get_sockname(h2o_conn_t *conn, struct sockaddr *sa)
{
	return h2o_socket_getsockname(((struct conn *)conn)->sock, sa);
}

static socklen_t
get_peername(h2o_conn_t *conn, struct sockaddr *sa)
{
	return h2o_socket_getpeername(((struct conn *)conn)->sock, sa);
}

static h2o_socket_t *
get_socket(h2o_conn_t *conn)
{
	return ((struct conn *)conn)->sock;
}

static const h2o_conn_callbacks_t callbacks = {
	.get_sockname = get_sockname,
	.get_peername = get_peername,
	.get_socket = get_socket,
};

struct edge *
edge_new(h2o_context_t *ctx, h2o_hostconf_t **hosts,
	 const struct edge_config *cfg)
{
	struct edge *e = xcalloc(1, sizeof(*e));

	e->ctx = ctx;
	e->hosts = hosts;
	e->cfg = *cfg;
	h2o_timeout_init(ctx->loop, &e->timeout, cfg->timeout_ms);
	h2o_timeout_init(ctx->loop, &e->linger, EDGE_LINGER_MS);
	h2o_linklist_init_anchor(&e->conns);
	return e;
}

void
edge_accept(struct edge *e, h2o_socket_t *sock)
{
	struct timeval now = *h2o_get_timestamp(e->ctx, NULL, NULL);
	struct conn *c = (struct conn *)h2o_create_connection(
		sizeof(*c), e->ctx, e->hosts, now, &callbacks);

	memset((char *)c + sizeof(c->super), 0, sizeof(*c) - sizeof(c->super));
	c->e = e;
	c->sock = sock;
	c->fd = h2o_socket_get_fd(sock);
	c->timer.cb = on_timeout;
	c->ostr.do_send = on_ostr_send;
	sock->data = c;
	h2o_linklist_insert(&e->conns, &c->link);
	e->n_conns++;
	next_request(c);
}

void
edge_shutdown(struct edge *e)
{
	h2o_linklist_t *l, *next;

	e->shutting_down = true;
	for (l = e->conns.next; l != &e->conns; l = next) {
		struct conn *c = H2O_STRUCT_FROM_MEMBER(struct conn, link, l);

		next = l->next;
		if (c->state == S_IDLE)
			conn_close(c);
	}
}

size_t
edge_conns(const struct edge *e)
{
	return e->n_conns;
}

void
edge_free(struct edge *e)
{
	if (e == NULL)
		return;
	h2o_timeout_dispose(e->ctx->loop, &e->timeout);
	h2o_timeout_dispose(e->ctx->loop, &e->linger);
	free(e);
}
