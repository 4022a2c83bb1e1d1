/*
 * cmd_admin_hold.c - `vigil admin --server URL --token-file FILE hold
 * ...`, legal holds (docs/API.md, "Legal holds"):
 *
 *   hold SHA256 --case ID --reason TEXT
 *       keeps the sample past retention (its bytes and its submissions)
 *       for case ID; the node logs a hold entry first, naming the
 *       sample, the case, the reason and the operator.
 *   release-hold SHA256 --case ID
 *       releases case ID's hold; the sample is swept again once no hold
 *       is left on it. A release-hold entry first.
 *
 * Exit status as `vigil admin`: 0 done, 1 the node refused or failed, 2 a
 * usage error or no answer.
 */
#include <getopt.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/admin.h"
#include "cli/http.h"
#include "common/err.h"
#include "common/hex.h"
#include "common/xmalloc.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: vigil admin --server URL --token-file FILE "
		   "hold SHA256 --case ID --reason TEXT\n"
		   "       vigil admin --server URL --token-file FILE "
		   "release-hold SHA256 --case ID\n"
		   "  ID: 1 to 64 of A-Z, a-z, 0-9, '.', '_', ':', '-', "
		   "starting with a letter or digit\n");
}

/* Whether c can go into a query as is. The node judges it too; this
 * only keeps the request well formed. */
static int
case_ok(const char *c)
{
	size_t n = strlen(c);

	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = c[i];
		int alnum = (ch >= 'a' && ch <= 'z') ||
			    (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9');

		if (!alnum && (i == 0 || (ch != '.' && ch != '_' && ch != ':' &&
					  ch != '-')))
			return 0;
	}
	return 1;
}

int
admin_hold(const char *server, const char *token, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"case", required_argument, NULL, 'c'},
		{"reason", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *cas = NULL, *reason = NULL, *sha;
	bool place = strcmp(argv[0], "hold") == 0;
	struct http_response r;
	json_t *answer;
	char *path, *text = NULL;
	int c, rc = 1;

	optind = 0; /* GNU: start over, permuting (SHA256 first) */
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': cas = optarg; break;
		case 'r': reason = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc || cas == NULL ||
	    (place ? reason == NULL : reason != NULL)) {
		usage(stderr);
		return 2;
	}
	sha = argv[optind];
	if (strlen(sha) != 64 || !hex_is_lower(sha, 64)) {
		fprintf(stderr,
			"vigil: %s: expected a SHA-256 in lowercase hex\n",
			sha);
		return 2;
	}
	if (!case_ok(cas)) {
		fprintf(stderr,
			"vigil: --case: 1 to 64 of A-Z, a-z, 0-9, '.', '_', "
			"':', '-', starting with a letter or digit\n");
		return 2;
	}
	if (place) {
		json_t *body = json_pack("{s:s, s:s, s:s}", "sha256", sha,
					 "case", cas, "reason", reason);

		if (body == NULL) {
			fprintf(stderr, "vigil: --reason must be UTF-8\n");
			return 2;
		}
		text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		c = http_request_ex("POST", server, "/v1/admin/holds", token,
				    text, strlen(text), "application/json",
				    NULL, &r);
		free(text);
	} else {
		path = xasprintf("/v1/admin/holds/%s?case=%s", sha, cas);
		c = http_request("DELETE", server, path, token, NULL, 0, &r);
		free(path);
	}
	if ((c = http_expect(server, c, &r, place ? 201 : 200, 0)) != 0)
		return c == VG_EIO ? 2 : 1;
	answer = http_answer_json(&r);
	if (!json_is_integer(json_object_get(answer, "log_index"))) {
		fprintf(stderr, "vigil: %s gave a malformed answer\n", server);
	} else {
		printf("%s %s, case %s (log entry %lld)\n",
		       place ? "held" : "released", sha, cas,
		       (long long)json_integer_value(
			       json_object_get(answer, "log_index")));
		rc = 0;
	}
	json_decref(answer);
	http_response_clear(&r);
	return rc;
}
