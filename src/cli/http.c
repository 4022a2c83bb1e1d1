/*
 * http.c - requests to the node over libcurl; see http.h.
 */
#include "cli/http.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cli/userconf.h"
#include "common/text.h"
#include "common/err.h"
#include "common/xmalloc.h"

struct sink {
	struct http_response *r;
	size_t cap;
	int too_big;
};

static size_t
on_body(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n;

	if (s->r->len + len > HTTP_MAX_RESPONSE) {
		s->too_big = 1;
		return 0; /* abort the transfer */
	}
	if (s->r->len + len + 1 > s->cap) {
		s->cap = (s->r->len + len + 1) * 2;
		s->r->body = xreallocarray(s->r->body, s->cap, 1);
	}
	memcpy(s->r->body + s->r->len, p, len);
	s->r->len += len;
	s->r->body[s->r->len] = '\0';
	return len;
}

/* The answer's headers a caller keeps (http_request_hdrs). */
struct hdr_sink {
	struct http_response *r;
	const char *const *keep;
	char (*kept)[HTTP_HEADER_VALUE_MAX];
	size_t nkeep;
};

static size_t
on_header(char *p, size_t size, size_t n, void *ud)
{
	struct hdr_sink *hs = ud;
	size_t len = size * n, nl, vl;
	const char *v;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
		hs->r->retry_after = strtol(p + 12, NULL, 10);
	for (size_t i = 0; i < hs->nkeep; i++) {
		nl = strlen(hs->keep[i]);
		if (len <= nl || strncasecmp(p, hs->keep[i], nl) != 0 ||
		    p[nl] != ':')
			continue;
		v = p + nl + 1;
		vl = len - nl - 1;
		while (vl > 0 && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' ||
				  v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		if (vl >= HTTP_HEADER_VALUE_MAX)
			vl = HTTP_HEADER_VALUE_MAX - 1;
		memcpy(hs->kept[i], v, vl);
		hs->kept[i][vl] = '\0';
	}
	return len;
}

int
http_request(const char *method, const char *base, const char *path,
	     const char *token, const char *body, size_t len,
	     struct http_response *resp)
{
	return http_request_ex(method, base, path, token, body, len,
			       "application/json", NULL, resp);
}

static int
perform(const char *method, const char *base, const char *path,
	const char *token, const char *body, size_t len, const char *ctype,
	const char *const *headers, struct hdr_sink *hs,
	struct http_response *resp)
{
	struct curl_slist *h = NULL;
	struct sink s = {.r = resp};
	char *url, *auth = NULL;
	CURLcode rc;
	CURL *c;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	if ((c = curl_easy_init()) == NULL) {
		snprintf(resp->error, sizeof(resp->error), "libcurl failed");
		return VG_ELIB;
	}
	url = xasprintf("%s%s", base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, HTTP_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, HTTP_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, hs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "vigil/" VIGIL_VERSION);
	if (token != NULL) {
		auth = xasprintf("Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
		h = curl_slist_append(h, headers[i]);
	if (body != NULL) {
		char *ct = xasprintf("Content-Type: %s", ctype);
		h = curl_slist_append(h, ct);
		free(ct);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	else if (s.too_big)
		snprintf(resp->error, sizeof(resp->error),
			 "the answer is larger than %u bytes",
			 HTTP_MAX_RESPONSE);
	else
		snprintf(resp->error, sizeof(resp->error), "%s",
			 curl_easy_strerror(rc));
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (auth != NULL) {
		memset(auth, 0, strlen(auth));
		free(auth);
	}
	free(url);
	return rc == CURLE_OK ? 0 : VG_EIO;
}

int
http_request_ex(const char *method, const char *base, const char *path,
		const char *token, const char *body, size_t len,
		const char *ctype, const char *header,
		struct http_response *resp)
{
	const char *headers[] = {header, NULL};
	struct hdr_sink hs = {.r = resp};

	return perform(method, base, path, token, body, len, ctype, headers,
		       &hs, resp);
}

int
http_request_body_hdrs(const char *method, const char *base, const char *path,
		       const char *token, const char *body, size_t len,
		       const char *ctype, const char *const *headers,
		       struct http_response *resp)
{
	struct hdr_sink hs = {resp, NULL, NULL, 0};

	return perform(method, base, path, token, body, len, ctype, headers,
		       &hs, resp);
}

int
http_request_hdrs(const char *method, const char *base, const char *path,
		  const char *token, const char *const *headers,
		  const char *const *keep, char (*kept)[HTTP_HEADER_VALUE_MAX],
		  size_t nkeep, struct http_response *resp)
{
	struct hdr_sink hs = {resp, keep, kept, nkeep};

	for (size_t i = 0; i < nkeep; i++)
		kept[i][0] = '\0';
	return perform(method, base, path, token, NULL, 0, NULL, headers, &hs,
		       resp);
}

void
http_response_clear(struct http_response *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

int
http_call_home(struct userconf *u, const char *method, const char *path,
	       const char *body, size_t len, const char *ctype,
	       const char *header, struct http_response *resp)
{
	int rc = http_request_ex(method, u->server, path, u->token, body, len,
				 ctype, header, resp);
	json_t *j;
	const char *ep;
	char err[256];

	if (rc != 0 || resp->status != 421)
		return rc;
	j = http_answer_json(resp);
	ep = json_string_value(json_object_get(j, "endpoint"));
	if (ep == NULL || strlen(ep) >= sizeof(u->server) ||
	    (strncmp(ep, "http://", 7) != 0 &&
	     strncmp(ep, "https://", 8) != 0)) {
		json_decref(j);
		return rc; /* the caller explains the 421 */
	}
	fprintf(stderr, "vigil: %s serves another region; following to %s\n",
		u->server, ep);
	snprintf(u->server, sizeof(u->server), "%s", ep);
	json_decref(j);
	if (userconf_save(u, err, sizeof(err)) != 0)
		fprintf(stderr, "vigil: %s\n", err);
	http_response_clear(resp);
	return http_request_ex(method, u->server, path, u->token, body, len,
			       ctype, header, resp);
}

int
http_expect(const char *server, int rc, struct http_response *r, long want,
	    long also)
{
	if (rc != 0) {
		fprintf(stderr, "vigil: %s: %s\n", server, r->error);
		http_response_clear(r);
		return VG_EIO;
	}
	if (r->status != want && (also == 0 || r->status != also)) {
		http_explain(server, r);
		http_response_clear(r);
		return VG_EINVAL;
	}
	return 0;
}

json_t *
http_answer_json(const struct http_response *r)
{
	return json_loadb(r->body ? r->body : "", r->len, 0, NULL);
}

bool
http_line_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* Explains an answer that is not 200 on stderr. */
void
http_explain(const char *server, const struct http_response *r)
{
	json_t *j = r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(j, "message"));
	char *safe = text_sanitize(msg ? msg : (r->body ? r->body : ""), true);

	if (r->status == 429)
		fprintf(stderr,
			"vigil: %s is rate-limiting this client; retry "
			"in %ld s\n",
			server, r->retry_after > 0 ? r->retry_after : 1);
	else if (r->status == 401)
		fprintf(stderr,
			"vigil: %s does not know this client (%s); run "
			"vigil enroll again\n",
			server, safe);
	else
		fprintf(stderr, "vigil: %s answered %ld: %.300s\n", server,
			r->status, safe);
	free(safe);
	json_decref(j);
}
