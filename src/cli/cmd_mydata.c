/*
 * cmd_mydata.c - `vigil my-data list|export FILE|delete`: what the
 * regional node holds about this endpoint, under its own token
 * (docs/API.md, "Your own data"; docs/PRIVACY.md).
 *
 *   list         every submission: id, time, SHA-256, name, size,
 *                verdict; page by page, as the node bounds each answer
 *   export FILE  everything, as one JSON document (vigil.export/v1):
 *                the pages of GET /v1/me/export joined, written to FILE
 *                (mode 0600; "-" for stdout)
 *   delete       everything about this endpoint, on the node; its token
 *                stops working
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/http.h"
#include "cli/userconf.h"
#include "common/text.h"
#include "common/xmalloc.h"

/* Pages followed at most: 1,000 submissions each. */
#define MYDATA_PAGES_MAX 10000

static void
usage(FILE *f)
{
	fprintf(f, "usage: vigil my-data list\n"
		   "       vigil my-data export FILE\n"
		   "       vigil my-data delete\n");
}

/* GET path (?after= next when not NULL) into *out. 0, or 2 after saying
 * why. */
static int
get_page(struct userconf *u, const char *path, const char *next, json_t **out)
{
	struct http_response r;
	char *p;
	int rc;

	*out = NULL;
	p = next ? xasprintf("%s?after=%s", path, next) : xstrdup(path);
	rc = http_call_home(u, "GET", p, NULL, 0, NULL, NULL, &r);
	free(p);
	if (rc != 0) {
		fprintf(stderr, "vigil: %s: %s\n", u->server, r.error);
		return 2;
	}
	if (r.status != 200) {
		http_explain(u->server, &r);
		http_response_clear(&r);
		return 2;
	}
	*out = http_answer_json(&r);
	http_response_clear(&r);
	if (!json_is_array(json_object_get(*out, "submissions"))) {
		fprintf(stderr, "vigil: %s gave a malformed answer\n",
			u->server);
		json_decref(*out);
		*out = NULL;
		return 2;
	}
	return 0;
}

/* The page's next id, checked, or NULL at the end. */
static const char *
next_of(json_t *page)
{
	const char *n = json_string_value(json_object_get(page, "next"));

	if (n == NULL || strlen(n) > 36 || !http_line_safe(n) ||
	    strpbrk(n, "&?#/ ") != NULL)
		return NULL;
	return n;
}

static int
do_list(struct userconf *u)
{
	char next[40] = "";
	size_t total = 0;

	for (int page = 0; page < MYDATA_PAGES_MAX; page++) {
		json_t *j, *s;
		const char *n;
		size_t i;

		if (get_page(u, "/v1/me/submissions", *next ? next : NULL,
			     &j) != 0)
			return 2;
		json_array_foreach(json_object_get(j, "submissions"), i, s)
		{
			char *name = text_sanitize(
				json_string_value(json_object_get(s, "name"))
					? json_string_value(
						  json_object_get(s, "name"))
					: "-",
				true);
			char when[32] = "?";
			time_t t = (time_t)json_integer_value(
				json_object_get(s, "time"));
			struct tm tm;

			if (gmtime_r(&t, &tm) != NULL)
				strftime(when, sizeof(when),
					 "%Y-%m-%dT%H:%M:%SZ", &tm);
			printf("%s  %s  %s  %lld  %s  %s\n",
			       json_string_value(json_object_get(s, "id")),
			       when,
			       json_string_value(json_object_get(s, "sha256")),
			       (long long)json_integer_value(
				       json_object_get(s, "size")),
			       json_string_value(json_object_get(s, "verdict")),
			       name);
			free(name);
			total++;
		}
		n = next_of(j);
		snprintf(next, sizeof(next), "%s", n ? n : "");
		json_decref(j);
		if (*next == '\0')
			break;
	}
	fprintf(stderr, "%zu submissions\n", total);
	return 0;
}

static int
do_export(struct userconf *u, const char *file)
{
	json_t *doc = NULL, *subs = json_array();
	char next[40] = "";
	int status = 2, fd = -1;
	char *text = NULL;

	for (int page = 0; page < MYDATA_PAGES_MAX; page++) {
		json_t *j;
		const char *n;

		if (get_page(u, "/v1/me/export", *next ? next : NULL, &j) != 0)
			goto out;
		json_array_extend(subs, json_object_get(j, "submissions"));
		n = next_of(j);
		snprintf(next, sizeof(next), "%s", n ? n : "");
		if (doc == NULL)
			doc = j;
		else
			json_decref(j);
		if (*next == '\0')
			break;
	}
	json_object_set(doc, "submissions", subs);
	json_object_set_new(doc, "complete", json_boolean(*next == '\0'));
	json_object_del(doc, "next");
	text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text == NULL)
		goto out;
	if (strcmp(file, "-") == 0) {
		fd = dup(1);
	} else {
		fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	}
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    write(fd, "\n", 1) != 1) {
		fprintf(stderr, "vigil my-data: %s: %s\n", file,
			strerror(errno));
		goto out;
	}
	if (strcmp(file, "-") != 0)
		fprintf(stderr, "exported %zu submissions to %s\n",
			json_array_size(subs), file);
	status = 0;
out:
	if (fd >= 0)
		close(fd);
	free(text);
	json_decref(subs);
	json_decref(doc);
	return status;
}

static int
do_delete(struct userconf *u)
{
	struct http_response r;
	json_t *j, *e;

	if (http_call_home(u, "DELETE", "/v1/me", NULL, 0, NULL, NULL, &r) !=
	    0) {
		fprintf(stderr, "vigil: %s: %s\n", u->server, r.error);
		return 2;
	}
	if (r.status != 200) {
		http_explain(u->server, &r);
		http_response_clear(&r);
		return 2;
	}
	j = http_answer_json(&r);
	e = json_object_get(j, "erased");
	printf("deleted: %lld submissions, %lld samples unlinked, %lld "
	       "samples' bytes erased\n",
	       (long long)json_integer_value(json_object_get(e, "submissions")),
	       (long long)json_integer_value(
		       json_object_get(e, "samples_unlinked")),
	       (long long)json_integer_value(
		       json_object_get(e, "samples_erased")));
	if (json_is_integer(json_object_get(j, "log_index")))
		printf("logged as entry %lld of the region's log\n",
		       (long long)json_integer_value(
			       json_object_get(j, "log_index")));
	printf("this endpoint is no longer enrolled; its token no longer "
	       "works\n");
	json_decref(j);
	http_response_clear(&r);
	return 0;
}

int
cmd_mydata(int argc, char **argv)
{
	struct userconf u;

	if (argc == 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || !((argc == 2 && strcmp(argv[1], "list") == 0) ||
			  (argc == 3 && strcmp(argv[1], "export") == 0) ||
			  (argc == 2 && strcmp(argv[1], "delete") == 0))) {
		usage(stderr);
		return 2;
	}
	if (userconf_require(&u, "vigil my-data") != 0)
		return 2;
	if (strcmp(argv[1], "list") == 0)
		return do_list(&u);
	if (strcmp(argv[1], "export") == 0)
		return do_export(&u, argv[2]);
	return do_delete(&u);
}
