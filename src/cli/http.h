/*
 * http.h - the client side of the node's API, over libcurl.
 *
 * One call is one request with bounded size and time; the answer's body
 * is kept whole (up to HTTP_MAX_RESPONSE bytes) for the caller to parse.
 */
#ifndef VIGIL_CLI_HTTP_H
#define VIGIL_CLI_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_RESPONSE       (64u * 1024 * 1024)
#define HTTP_CONNECT_TIMEOUT_MS 10000L
#define HTTP_TIMEOUT_MS         120000L

struct http_response {
	long status; /* 0 when no answer came */
	char *body;  /* NUL-terminated; owned; may be NULL */
	size_t len;
	long retry_after; /* seconds, from a 429; -1 if absent */
	char error[256];  /* why there is no answer (status 0) */
};

/* Sends METHOD base+path with an optional bearer token and JSON body.
 * Returns 0 when an answer came (any status), VG_EIO when none did
 * (connection refused, timeout, TLS...; resp->error says which). */
int http_request(const char *method, const char *base, const char *path,
		 const char *token, const char *body, size_t len,
		 struct http_response *resp);

/* As http_request(), with the body's content type and one more header
 * line ("Name: value", or NULL). */
int http_request_ex(const char *method, const char *base, const char *path,
		    const char *token, const char *body, size_t len,
		    const char *ctype, const char *header,
		    struct http_response *resp);

/* Longest value kept of an answer's header, with its terminator. */
#define HTTP_HEADER_VALUE_MAX 128

/* As http_request_ex() without a body, sending every line of headers
 * (NULL-terminated, each "Name: value") and keeping the value of the
 * answer's header named keep[i] in kept[i] ("" if absent, cut to fit),
 * for i below nkeep. */
int http_request_hdrs(const char *method, const char *base, const char *path,
		      const char *token, const char *const *headers,
		      const char *const *keep,
		      char (*kept)[HTTP_HEADER_VALUE_MAX], size_t nkeep,
		      struct http_response *resp);

/* As http_request_ex(), with every line of headers (NULL-terminated,
 * each "Name: value") instead of one. */
int http_request_body_hdrs(const char *method, const char *base,
			   const char *path, const char *token,
			   const char *body, size_t len, const char *ctype,
			   const char *const *headers,
			   struct http_response *resp);

/* Explains on stderr an answer whose status is not the expected one:
 * 429 with its Retry-After, 401 (enrol again), or the node's message. */
void http_explain(const char *server, const struct http_response *r);

/*
 * Judges what a request gave: rc as http_request*() returned it, and the
 * answer in r. Returns 0 when an answer came with status want, or also
 * (0: no other). Otherwise says why on stderr as "vigil: SERVER: ..."
 * (the transport's error) or as http_explain() does, frees r's body, and
 * returns VG_EIO when no answer came, VG_EINVAL when the node answered
 * another status (it refused or failed).
 */
int http_expect(const char *server, int rc, struct http_response *r, long want,
		long also);

/* The answer's body parsed as JSON: a new reference the caller decrefs,
 * or NULL when the body is empty or not JSON. */
json_t *http_answer_json(const struct http_response *r);

/* True if s holds no control byte (below 0x20, or 0x7f): a value that can
 * go into a header line as is. */
bool http_line_safe(const char *s);

struct userconf;

/*
 * Calls the node the endpoint is enrolled with (u->server, u->token). A
 * node of another region answers 421 with the client's home endpoint:
 * the call is repeated there once, and u is saved with the new server.
 * Returns as http_request_ex() does.
 */
int http_call_home(struct userconf *u, const char *method, const char *path,
		   const char *body, size_t len, const char *ctype,
		   const char *header, struct http_response *resp);

void http_response_clear(struct http_response *r);

#endif
