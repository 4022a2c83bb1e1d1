/*
 * cmd_admin_operator.c - `vigil admin --server URL --token-file FILE
 * operator ...`, the region's named operators (docs/API.md,
 * "Operators"):
 *
 *   operator add NAME
 *       adds an operator (root only) and prints its token on standard
 *       output, once: the node keeps only its SHA-256. The node logs an
 *       operator-add entry first.
 *   operator list [--json]
 *       every operator: name, when added, when revoked. Never a token.
 *   operator revoke NAME
 *       revokes an operator (root only): its token is refused from then
 *       on, on every node of the region; an operator-revoke entry first.
 *
 * Exit status as `vigil admin`: 0 done, 1 the node refused or failed, 2 a
 * usage error or no answer.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/admin.h"
#include "cli/http.h"
#include "common/err.h"
#include "common/text.h"
#include "common/xmalloc.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: vigil admin --server URL --token-file FILE "
		   "operator add NAME\n"
		   "       vigil admin --server URL --token-file FILE "
		   "operator list [--json]\n"
		   "       vigil admin --server URL --token-file FILE "
		   "operator revoke NAME\n"
		   "  NAME: 1 to 32 of a-z, 0-9, -\n");
}

/* Prints v (a JSON string, else dflt) made safe for a terminal. */
static void
put_safe(const char *prefix, json_t *v, const char *dflt, const char *suffix)
{
	char *s = text_sanitize(
		json_string_value(v) ? json_string_value(v) : dflt, true);

	printf("%s%s%s", prefix, s, suffix);
	free(s);
}

/* Whether name can go into a path or a body as is: a label. The node
 * judges it too; this only keeps the request well formed. */
static int
name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
			return 0;
	return 1;
}

static int
op_add(const char *server, const char *token, const char *name)
{
	struct http_response r;
	json_t *body, *answer;
	const char *tok;
	char *text;
	int c, rc = 1;

	body = json_pack("{s:s}", "name", name);
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	c = http_request_ex("POST", server, "/v1/admin/operators", token, text,
			    strlen(text), "application/json", NULL, &r);
	free(text);
	if ((c = http_expect(server, c, &r, 201, 0)) != 0)
		return c == VG_EIO ? 2 : 1;
	answer = http_answer_json(&r);
	tok = json_string_value(json_object_get(answer, "token"));
	if (tok == NULL || !http_line_safe(tok) ||
	    !json_is_integer(json_object_get(answer, "log_index"))) {
		fprintf(stderr, "vigil: %s gave a malformed answer\n", server);
	} else {
		printf("%s\n", tok);
		fprintf(stderr,
			"vigil: operator %s added (log entry %lld); its token "
			"is shown once, above: keep it in a file of mode "
			"0600\n",
			name,
			(long long)json_integer_value(
				json_object_get(answer, "log_index")));
		rc = 0;
	}
	if (r.body != NULL)
		explicit_bzero(r.body, r.len);
	json_decref(answer);
	http_response_clear(&r);
	return rc;
}

static int
op_revoke(const char *server, const char *token, const char *name)
{
	struct http_response r;
	json_t *answer;
	char *path;
	int c, rc = 1;

	path = xasprintf("/v1/admin/operators/%s", name);
	c = http_request("DELETE", server, path, token, NULL, 0, &r);
	free(path);
	if ((c = http_expect(server, c, &r, 200, 0)) != 0)
		return c == VG_EIO ? 2 : 1;
	answer = http_answer_json(&r);
	if (!json_is_integer(json_object_get(answer, "log_index"))) {
		fprintf(stderr, "vigil: %s gave a malformed answer\n", server);
	} else {
		printf("operator %s revoked (log entry %lld)\n", name,
		       (long long)json_integer_value(
			       json_object_get(answer, "log_index")));
		rc = 0;
	}
	json_decref(answer);
	http_response_clear(&r);
	return rc;
}

static int
op_list(const char *server, const char *token, int json)
{
	struct http_response r;
	json_t *answer, *ops, *it;
	size_t i;
	int c, rc = 1;

	c = http_request("GET", server, "/v1/admin/operators", token, NULL, 0,
			 &r);
	if ((c = http_expect(server, c, &r, 200, 0)) != 0)
		return c == VG_EIO ? 2 : 1;
	answer = http_answer_json(&r);
	ops = json_object_get(answer, "operators");
	if (!json_is_array(ops)) {
		fprintf(stderr, "vigil: %s gave a malformed answer\n", server);
		goto out;
	}
	rc = 0;
	json_array_foreach(ops, i, it)
	{
		if (json) {
			char *s = json_dumps(it, JSON_COMPACT |
							 JSON_PRESERVE_ORDER);
			puts(s);
			free(s);
			continue;
		}
		put_safe("", json_object_get(it, "name"), "?", "");
		put_safe("  added ", json_object_get(it, "created"),
			 "(bootstrap)", "");
		if (json_is_string(json_object_get(it, "revoked")))
			put_safe("  revoked ", json_object_get(it, "revoked"),
				 "?", "");
		putchar('\n');
	}
out:
	json_decref(answer);
	http_response_clear(&r);
	return rc;
}

int
admin_operator(const char *server, const char *token, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, json = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc && strcmp(argv[optind], "list") == 0) {
		if (optind + 1 < argc &&
		    strcmp(argv[optind + 1], "--json") == 0)
			json = 1, optind++;
		if (optind + 1 != argc) {
			usage(stderr);
			return 2;
		}
		return op_list(server, token, json);
	}
	if (optind + 2 != argc || json ||
	    (strcmp(argv[optind], "add") != 0 &&
	     strcmp(argv[optind], "revoke") != 0)) {
		usage(stderr);
		return 2;
	}
	if (!name_ok(argv[optind + 1])) {
		fprintf(stderr,
			"vigil: %s: an operator's name is 1 to 32 of "
			"a-z, 0-9, -\n",
			argv[optind + 1]);
		return 2;
	}
	if (strcmp(argv[optind], "add") == 0)
		return op_add(server, token, argv[optind + 1]);
	return op_revoke(server, token, argv[optind + 1]);
}
