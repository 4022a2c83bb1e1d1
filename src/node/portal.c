/*
 * portal.c - the Transparency Center's pages: GET /portal/ and GET
 * /portal/releases (portal.h; docs/API.md, "The portal").
 *
 * Pages are plain HTML5 built here from the node's state, with a small
 * inline style and no script. The release page renders the copy of the
 * release index that releases_list() hands out, so it shows exactly what
 * GET /v1/releases answers with, and reads no file. The index is stored
 * data: a field of the wrong type is shown as missing, never trusted, and
 * every string is HTML-escaped (and percent-encoded where it goes into a
 * URL). A page grows in a buffer with a maximum size.
 */
#include "node/portal.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/xmalloc.h"
#include "node/api.h"
#include "node/releases.h"

/* Nothing but the inline style may load or run; no frame may hold a page,
 * and no form may post anywhere. */
#define PORTAL_CSP                                                             \
	"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "     \
	"form-action 'none'; frame-ancestors 'none'"

/* Room kept for the end of a page once its content has hit the maximum. */
#define PAGE_TAIL 4096

static const char style[] =
	"body{font:15px/1.45 system-ui,sans-serif;color:#1b1b1b;"
	"background:#fff;max-width:76rem;margin:0 auto;padding:0 1rem 2rem}"
	"header{border-bottom:1px solid #bbb;padding:.6rem 0}"
	"nav a{margin-right:1rem}"
	"h1{font-size:1.6rem}h2{font-size:1.25rem;margin-bottom:.3rem}"
	"h3{font-size:1rem;margin:.8rem 0 .2rem}"
	"table{border-collapse:collapse;margin:.3rem 0 .8rem}"
	"th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;"
	"vertical-align:top}"
	"th{background:#f2f2f2;font-weight:600}"
	"td.num{text-align:right}td p{margin:0 0 .3rem}"
	"code{font:13px ui-monospace,monospace;word-break:break-all}"
	"ul{margin:0;padding-left:1.2rem}"
	"section.release{border-top:2px solid #555;margin-top:1.6rem}"
	"ul.added li{color:#0b5e0b}ul.removed li{color:#8f1010}"
	".note{color:#555}";

/* ---- the page buffer ---- */

struct page {
	char *p;
	size_t n, cap;
	size_t max; /* p never grows beyond */
	bool full;  /* something did not fit, and was left out */
};

static void
page_add(struct page *pg, const char *s, size_t len)
{
	if (pg->full || len > pg->max - pg->n) {
		pg->full = true;
		return;
	}
	if (len > pg->cap - pg->n) {
		size_t cap = pg->cap ? pg->cap : 16384;

		while (cap - pg->n < len)
			cap = cap > pg->max / 2 ? pg->max : cap * 2;
		pg->p = xreallocarray(pg->p, cap, 1);
		pg->cap = cap;
	}
	memcpy(pg->p + pg->n, s, len);
	pg->n += len;
}

static void
page_str(struct page *pg, const char *s)
{
	page_add(pg, s, strlen(s));
}

/* Formatted text of at most 255 bytes: numbers and fixed words only. */
static void __attribute__((format(printf, 2, 3)))
page_fmt(struct page *pg, const char *fmt, ...)
{
	char b[256];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (k < 0)
		fatal("cannot format %s", fmt);
	page_add(pg, b, (size_t)k < sizeof(b) ? (size_t)k : sizeof(b) - 1);
}

/* s as HTML text or attribute value: & < > " ' escaped. */
static void
page_esc(struct page *pg, const char *s)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		const char *e;

		switch (*s) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '"': e = "&quot;"; break;
		case '\'': e = "&#39;"; break;
		default: continue;
		}
		page_add(pg, run, (size_t)(s - run));
		page_str(pg, e);
		run = s + 1;
	}
	page_add(pg, run, (size_t)(s - run));
}

/* s percent-encoded for a URL path: every byte but the unreserved ones
 * (RFC 3986) and '/'. The result needs no HTML escaping. */
static void
page_url(struct page *pg, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char e[3] = {'%', hex[c >> 4], hex[c & 15]};

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~' || c == '/')
			page_add(pg, (const char *)&c, 1);
		else
			page_add(pg, e, 3);
	}
}

/* ---- reading the stored index ---- */

/* A string field of o, or NULL if it is missing or not a string. */
static const char *
field_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* An integer field of o that is not negative, or -1. */
static long long
field_uint(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	return (long long)json_integer_value(v);
}

/* A string from the index, escaped, or a dash for one that is not. */
static void
page_field(struct page *pg, const json_t *o, const char *key)
{
	const char *s = field_str(o, key);

	if (s != NULL)
		page_esc(pg, s);
	else
		page_str(pg, "&mdash;");
}

/* The log index of an entry, linked to its inclusion proof; what is
 * there instead when it has none. */
static void
page_log_index(struct page *pg, long long li, const char *none)
{
	if (li < 0) {
		page_str(pg, none);
		return;
	}
	page_fmt(pg,
		 "<a class=\"log-index\" href=\"/v1/log/proof?index=%lld\">"
		 "%lld</a>",
		 li, li);
}

/* ---- which artifacts the node serves ---- */

static int
art_name_cmp(const void *a, const void *b)
{
	const char *x = field_str(*(const json_t *const *)a, "name");
	const char *y = field_str(*(const json_t *const *)b, "name");

	return strcmp(x ? x : "", y ? y : "");
}

/* The artifacts of the newest release, by name: the node serves those
 * under their names (GET /v1/releases/targets/<name>); every other one,
 * by its hash (GET /v1/releases/objects/<sha256>). */
struct served {
	const json_t **a;
	size_t n;
};

static void
served_init(struct served *sv, const json_t *newest)
{
	const json_t *arts = json_object_get(newest, "artifacts");
	size_t i;
	json_t *a;

	sv->n = 0;
	sv->a = xcalloc(json_array_size(arts) + 1, sizeof(*sv->a));
	json_array_foreach(arts, i, a) if (field_str(a, "name") != NULL &&
					   field_str(a, "sha256") != NULL)
		sv->a[sv->n++] = a;
	if (sv->n > 0)
		qsort(sv->a, sv->n, sizeof(*sv->a), art_name_cmp);
}

/* Whether the node serves artifact a as it was released: under its name,
 * with its hash. */
static bool
served_has(const struct served *sv, const json_t *a)
{
	const json_t **hit;

	if (sv->n == 0 || field_str(a, "name") == NULL ||
	    field_str(a, "sha256") == NULL)
		return false;
	hit = bsearch(&a, sv->a, sv->n, sizeof(*sv->a), art_name_cmp);
	return hit != NULL &&
	       strcmp(field_str(*hit, "sha256"), field_str(a, "sha256")) == 0;
}

/* ---- pages ---- */

static void
page_begin(struct page *pg, const struct node *node, const char *title)
{
	page_str(pg, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
		     "<meta charset=\"utf-8\">\n"
		     "<meta name=\"viewport\" "
		     "content=\"width=device-width, initial-scale=1\">\n"
		     "<title>");
	page_esc(pg, title);
	page_str(pg, " &middot; vigil Transparency Center</title>\n<style>");
	page_str(pg, style);
	page_str(pg, "</style>\n</head>\n<body>\n<header>\n<nav>"
		     "<a href=\"/portal/\">Transparency Center</a>"
		     "<a href=\"/portal/releases\">Releases</a>"
		     "<a href=\"/log/checkpoint\">Log checkpoint</a>"
		     "<a href=\"/log/key\">Log key</a></nav>\n"
		     "<p class=\"note\">Region <b>");
	page_esc(pg, node->cfg.region);
	page_str(pg, "</b>, site <b>");
	page_esc(pg, node->cfg.site);
	page_str(pg, "</b></p>\n</header>\n<main>\n");
}

static void
page_end(struct page *pg)
{
	page_str(pg, "</main>\n</body>\n</html>\n");
}

/* Sends the page with the portal's headers (the security headers are on
 * the request already), and frees it. */
static int
page_send(struct page *pg, h2o_req_t *req, int status)
{
	api_reply(req, ROUTE_PORTAL, status, "text/html; charset=utf-8",
		  "no-cache", pg->p, pg->n);
	free(pg->p);
	pg->p = NULL;
	return 0;
}

static void
page_init(struct page *pg)
{
	memset(pg, 0, sizeof(*pg));
	pg->max = PORTAL_PAGE_MAX - PAGE_TAIL;
}

/* Lets the end of the page in, whatever its content took. */
static void
page_close(struct page *pg)
{
	pg->max = PORTAL_PAGE_MAX;
	pg->full = false;
	page_end(pg);
}

static int
serve_index(struct node *node, h2o_req_t *req)
{
	struct page pg;

	page_init(&pg);
	page_begin(&pg, node, "Transparency Center");
	page_str(&pg,
		 "<h1>Transparency Center</h1>\n"
		 "<p>What this node has published, and the log that proves "
		 "it. Nothing here needs an account, and everything can be "
		 "checked with the public <code>vigil</code> tool.</p>\n"
		 "<ul>\n"
		 "<li><a href=\"/portal/releases\">Releases</a>: every rule "
		 "and software release, its signatures, its artifacts and "
		 "their log entries, and the rules it added or removed.</li>\n"
		 "<li><a href=\"/log/checkpoint\">The log's checkpoint</a>: "
		 "its size and root hash, signed by the log and cosigned by "
		 "its witnesses.</li>\n"
		 "<li><a href=\"/log/key\">The log's verifier key</a>, for "
		 "<code>vigil log verify</code> and <code>vigil update "
		 "--init</code>.</li>\n"
		 "</ul>\n");
	page_close(&pg);
	return page_send(&pg, req, 200);
}

static void
render_signatures(struct page *pg, const json_t *rec)
{
	const json_t *signers = json_object_get(rec, "signers"), *id;
	long long threshold = field_uint(rec, "targets_threshold");
	size_t k;

	page_fmt(pg, "<tr><th>Signatures (targets)</th><td><p>%zu",
		 json_array_size(signers));
	if (threshold >= 0)
		page_fmt(pg, " of the threshold of %lld", threshold);
	page_str(pg, json_array_size(signers) == 1 ? " key signed:</p>"
						   : " keys signed:</p>");
	page_str(pg, "<ul class=\"signers\">");
	json_array_foreach(signers, k, id)
	{
		page_str(pg, "<li><code class=\"keyid\">");
		if (json_is_string(id))
			page_esc(pg, json_string_value(id));
		else
			page_str(pg, "&mdash;");
		page_str(pg, "</code></li>");
	}
	page_str(pg, "</ul></td></tr>\n");
}

static void
render_artifacts(struct page *pg, const json_t *rec, const struct served *sv)
{
	const json_t *arts = json_object_get(rec, "artifacts"), *a;
	size_t k;

	page_str(pg, "<h3>Artifacts</h3>\n");
	if (json_array_size(arts) == 0) {
		page_str(pg, "<p>None.</p>\n");
		return;
	}
	page_str(pg, "<table class=\"artifacts\">\n<thead><tr><th>Name</th>"
		     "<th>Kind</th><th>Version</th><th>Length (bytes)</th>"
		     "<th>SHA-256</th><th>Log index</th></tr></thead>\n"
		     "<tbody>\n");
	json_array_foreach(arts, k, a)
	{
		const char *name = field_str(a, "name");
		long long len = field_uint(a, "length");
		const char *kind = field_str(a, "kind");
		const char *sha = field_str(a, "sha256");

		page_str(pg, "<tr class=\"artifact\"><td>");
		if (name != NULL && served_has(sv, a)) {
			page_str(pg, "<a href=\"/v1/releases/targets/");
			page_url(pg, name);
			page_str(pg, "\"><code class=\"name\">");
			page_esc(pg, name);
			page_str(pg, "</code></a>");
		} else if (name != NULL && sha != NULL && strlen(sha) == 64 &&
			   hex_is_lower(sha, 64)) {
			/* An older artifact: by its hash, which needs no
			 * escaping once it is known to be hex. */
			page_str(pg, "<a href=\"/v1/releases/objects/");
			page_str(pg, sha);
			page_str(pg, "\"><code class=\"name\">");
			page_esc(pg, name);
			page_str(pg, "</code></a>");
		} else if (name != NULL) {
			page_str(pg, "<code class=\"name\">");
			page_esc(pg, name);
			page_str(pg, "</code>");
		} else {
			page_str(pg, "&mdash;");
		}
		page_str(pg, "</td><td class=\"kind\">");
		page_field(pg, a, "kind");
		page_str(pg, "</td><td class=\"version\">");
		page_field(pg, a, "version");
		if (len >= 0)
			page_fmt(pg, "</td><td class=\"num length\">%lld", len);
		else
			page_str(pg, "</td><td class=\"num length\">&mdash;");
		page_str(pg, "</td><td><code class=\"sha256\">");
		page_field(pg, a, "sha256");
		page_str(pg, "</code></td><td class=\"num\">");
		page_log_index(pg, field_uint(a, "log_index"),
			       kind != NULL && strcmp(kind, "rule-check") == 0
				       ? "none (evidence, not installed)"
				       : "&mdash;");
		page_str(pg, "</td></tr>\n");
	}
	page_str(pg, "</tbody>\n</table>\n");
}

static void
render_rule_list(struct page *pg, const json_t *ids, const char *cls)
{
	const json_t *id;
	size_t k;

	if (json_array_size(ids) == 0) {
		page_str(pg, "none");
		return;
	}
	page_fmt(pg, "<ul class=\"%s\">", cls);
	json_array_foreach(ids, k, id)
	{
		page_str(pg, "<li><code class=\"rule\">");
		if (json_is_string(id))
			page_esc(pg, json_string_value(id));
		else
			page_str(pg, "&mdash;");
		page_str(pg, "</code></li>");
	}
	page_str(pg, "</ul>");
}

static void
render_rules(struct page *pg, const json_t *rec)
{
	const json_t *rules = json_object_get(rec, "rules");
	const json_t *diff = json_object_get(rec, "rules_diff");
	const json_t *added = json_object_get(diff, "added");
	const json_t *removed = json_object_get(diff, "removed");

	if (!json_is_object(rules))
		return;
	page_str(pg, "<h3>Rules</h3>\n<p>Rule bundle version <b>");
	page_field(pg, rules, "version");
	page_fmt(pg, "</b>, %zu rules; ",
		 json_array_size(json_object_get(rules, "rule_ids")));
	if (!json_is_object(diff)) {
		page_str(pg, "no diff recorded.</p>\n");
		return;
	}
	if (field_str(diff, "from") != NULL) {
		page_str(pg, "against version <b>");
		page_esc(pg, field_str(diff, "from"));
		page_str(pg, "</b>");
	} else {
		page_str(pg, "the first rules of this node");
	}
	page_fmt(pg, ": %zu added, %zu removed.</p>\n", json_array_size(added),
		 json_array_size(removed));
	page_str(pg, "<table class=\"rules-diff\">\n<tr><th>Added</th><td>");
	render_rule_list(pg, added, "added");
	page_str(pg, "</td></tr>\n<tr><th>Removed</th><td>");
	render_rule_list(pg, removed, "removed");
	page_str(pg, "</td></tr>\n</table>\n");
}

static void
render_key_changes(struct page *pg, const json_t *rec)
{
	const json_t *kcs = json_object_get(rec, "key_changes"), *kc;
	size_t k;

	if (json_array_size(kcs) == 0)
		return;
	page_str(pg, "<h3>Root key changes</h3>\n<ul class=\"key-changes\">");
	json_array_foreach(kcs, k, kc)
	{
		long long v = field_uint(kc, "root_version");

		if (v >= 0)
			page_fmt(pg, "<li>Root version %lld, log index ", v);
		else
			page_str(pg, "<li>A root, log index ");
		page_log_index(pg, field_uint(kc, "log_index"), "&mdash;");
		page_str(pg, "</li>");
	}
	page_str(pg, "</ul>\n");
}

static void
render_release(struct page *pg, const json_t *rec, const struct served *sv)
{
	long long v = field_uint(rec, "version");
	long long root = field_uint(rec, "root_version");
	const char *when = field_str(rec, "published");

	page_fmt(pg, "<section class=\"release\" id=\"release-%lld\">\n", v);
	page_fmt(pg,
		 "<h2>Targets version <span class=\"version\">%lld"
		 "</span></h2>\n<table class=\"summary\">\n",
		 v);
	page_str(pg, "<tr><th>Published</th><td>");
	if (when != NULL) {
		page_str(pg, "<time class=\"published\" datetime=\"");
		page_esc(pg, when);
		page_str(pg, "\">");
		page_esc(pg, when);
		page_str(pg, "</time>");
	} else {
		page_str(pg, "&mdash;");
	}
	page_str(pg, "</td></tr>\n");
	if (root >= 0)
		page_fmt(pg, "<tr><th>Root version</th><td>%lld</td></tr>\n",
			 root);
	render_signatures(pg, rec);
	page_str(pg, "</table>\n");
	render_artifacts(pg, rec, sv);
	render_rules(pg, rec);
	render_key_changes(pg, rec);
	page_str(pg, "</section>\n");
}

static int
serve_releases(struct node *node, h2o_req_t *req)
{
	json_t *list = releases_list(node->releases), *rec;
	struct served sv;
	struct page pg;
	size_t i, shown = 0;

	served_init(&sv, json_array_get(list, 0));
	page_init(&pg);
	page_begin(&pg, node, "Releases");
	page_str(&pg, "<h1>Releases</h1>\n<p>Every release this node has "
		      "published, newest first, with the log entries that "
		      "prove it. The same list as JSON: <a "
		      "href=\"/v1/releases\">/v1/releases</a>.</p>\n");
	if (json_array_size(list) == 0)
		page_str(&pg, "<p class=\"empty\">No release has been "
			      "published on this node yet.</p>\n");
	json_array_foreach(list, i, rec)
	{
		size_t mark = pg.n;

		render_release(&pg, rec, &sv);
		if (pg.full) { /* only whole releases */
			pg.n = mark;
			break;
		}
		shown++;
	}
	if (shown < json_array_size(list)) {
		pg.max = PORTAL_PAGE_MAX;
		pg.full = false;
		page_fmt(&pg,
			 "<p class=\"note\">%zu older releases do not fit on "
			 "this page; <a href=\"/v1/releases\">/v1/releases</a> "
			 "lists them all.</p>\n",
			 json_array_size(list) - shown);
	}
	page_close(&pg);
	free(sv.a);
	json_decref(list);
	return page_send(&pg, req, 200);
}

static int
serve_not_found(struct node *node, h2o_req_t *req, const char *why)
{
	struct page pg;

	page_init(&pg);
	page_begin(&pg, node, "Not found");
	page_str(&pg, "<h1>Not found</h1>\n<p>");
	page_esc(&pg, why);
	page_str(&pg, " The portal's pages start at <a href=\"/portal/\">"
		      "/portal/</a>.</p>\n");
	page_close(&pg);
	return page_send(&pg, req, 404);
}

int
portal_handle(struct node *node, h2o_req_t *req, const char *path, size_t len)
{
	h2o_headers_t *h = &req->res.headers;

	/* On every answer, the refusals included. */
	h2o_add_header_by_str(&req->pool, h,
			      H2O_STRLIT("content-security-policy"), 0, NULL,
			      H2O_STRLIT(PORTAL_CSP));
	h2o_add_header_by_str(&req->pool, h,
			      H2O_STRLIT("x-content-type-options"), 0, NULL,
			      H2O_STRLIT("nosniff"));
	h2o_add_header_by_str(&req->pool, h, H2O_STRLIT("referrer-policy"), 0,
			      NULL, H2O_STRLIT("no-referrer"));
	if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
		return api_wrong_method(req, ROUTE_PORTAL, "GET");
	if (h2o_memis(path, len, H2O_STRLIT("/portal")) ||
	    h2o_memis(path, len, H2O_STRLIT("/portal/")))
		return serve_index(node, req);
	if (h2o_memis(path, len, H2O_STRLIT("/portal/releases"))) {
		if (node->releases == NULL)
			return serve_not_found(node, req,
					       "This node serves no releases.");
		return serve_releases(node, req);
	}
	return serve_not_found(node, req, "The portal has no such page.");
}
