/*
 * cmd_admin_fp.c - `vigil admin --server URL --token-file FILE fp ...`,
 * the operator's review of false-positive reports (docs/API.md, "False
 * positives"):
 *
 *   fp list [--json]
 *       the samples with open reports: how many clients reported each,
 *       their reasons, the verdict the node answers and what its
 *       analysis found. Never who reported.
 *   fp accept HASH --reason TEXT
 *       retracts the sample's detections: a `retraction` entry in the
 *       transparency log, after which the node answers the sample clean.
 *   fp reject HASH --reason TEXT
 *       closes the open reports; the answers do not change.
 *   fp reinstate HASH --reason TEXT
 *       undoes the retraction in force with a new `retraction` entry.
 *
 * Exit status as `vigil admin`: 0 done, 1 the node refused or failed, 2 a
 * usage error or no answer.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/http.h"
#include "common/err.h"
#include "common/text.h"
#include "common/xmalloc.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: vigil admin --server URL --token-file FILE fp list "
		   "[--json]\n"
		   "       vigil admin --server URL --token-file FILE fp "
		   "accept|reject|reinstate HASH --reason TEXT\n");
}

/* Prints v (a JSON string, else "?") made safe for a terminal. */
static void
put_safe(const char *prefix, json_t *v, const char *suffix)
{
	char *s = text_sanitize(
		json_string_value(v) ? json_string_value(v) : "?", true);

	printf("%s%s%s", prefix, s, suffix);
	free(s);
}

/* Prints a JSON array of strings as "a, b", or "none". */
static void
put_list(json_t *a)
{
	json_t *v;
	size_t i;

	if (json_array_size(a) == 0)
		fputs("none", stdout);
	json_array_foreach(a, i, v) put_safe(i ? ", " : "", v, "");
}

static int
fp_list(const char *server, const char *token, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct http_response r;
	json_t *answer, *reports, *it, *v;
	size_t i, k;
	int c, json = 0, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	c = http_request("GET", server, "/v1/admin/fp", token, NULL, 0, &r);
	if ((c = http_expect(server, c, &r, 200, 0)) != 0)
		return c == VG_EIO ? 2 : 1;
	answer = http_answer_json(&r);
	reports = json_object_get(answer, "reports");
	if (!json_is_array(reports)) {
		fprintf(stderr, "vigil: %s gave a malformed answer\n", server);
		goto out;
	}
	rc = 0;
	if (json_array_size(reports) == 0 && !json)
		printf("no open false-positive reports\n");
	json_array_foreach(reports, i, it)
	{
		json_t *an = json_object_get(it, "analysis");

		if (json) {
			char *s = json_dumps(it, JSON_COMPACT |
							 JSON_PRESERVE_ORDER);
			puts(s);
			free(s);
			continue;
		}
		put_safe("", json_object_get(it, "sha256"), "\n");
		put_safe("  answered    ", json_object_get(it, "verdict"), "");
		if (json_is_integer(json_object_get(it, "retracted")))
			printf(" (retracted, log %lld)",
			       (long long)json_integer_value(
				       json_object_get(it, "retracted")));
		printf("\n  analysis    ");
		put_safe("", json_object_get(an, "verdict"), ": ");
		put_list(json_object_get(an, "detections"));
		printf("\n  reports     %lld\n",
		       (long long)json_integer_value(
			       json_object_get(it, "reporters")));
		json_array_foreach(json_object_get(it, "reasons"), k, v)
			put_safe("  reason      ", v, "\n");
		putchar('\n');
	}
out:
	json_decref(answer);
	http_response_clear(&r);
	return rc;
}

/* True if s is 32, 40 or 64 hex digits: it goes into the path as is. */
static int
hash_ok(const char *s)
{
	size_t n = strlen(s);

	if (n != 32 && n != 40 && n != 64)
		return 0;
	return strspn(s, "0123456789abcdefABCDEF") == n;
}

static int
fp_decide(const char *server, const char *token, const char *action, int argc,
	  char **argv)
{
	static const struct option longopts[] = {
		{"reason", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *reason = NULL, *hash;
	struct http_response r;
	json_t *body, *a;
	char *text, *path;
	int c, rc = 1;

	optind = 0; /* GNU: start over, permuting (HASH first) */
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': reason = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (reason == NULL || optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	hash = argv[optind];
	if (!hash_ok(hash)) {
		fprintf(stderr, "vigil: HASH is an MD5, SHA-1 or SHA-256 in "
				"hex\n");
		return 2;
	}
	if ((body = json_pack("{s:s}", "reason", reason)) == NULL) {
		fprintf(stderr, "vigil: the reason must be UTF-8 text\n");
		return 2;
	}
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL)
		fatal("out of memory");
	path = xasprintf("/v1/admin/fp/%s/%s", hash, action);
	c = http_request_ex("POST", server, path, token, text, strlen(text),
			    "application/json", NULL, &r);
	free(path);
	free(text);
	if ((c = http_expect(server, c, &r, 200, 201)) != 0)
		return c == VG_EIO ? 2 : 1;
	a = http_answer_json(&r);
	if (!json_is_string(json_object_get(a, "sha256"))) {
		fprintf(stderr, "vigil: %s gave a malformed answer\n", server);
	} else if (strcmp(action, "reject") == 0) {
		put_safe("", json_object_get(a, "sha256"), "");
		printf(": %lld report(s) rejected\n",
		       (long long)json_integer_value(
			       json_object_get(a, "rejected")));
		rc = 0;
	} else {
		put_safe("", json_object_get(a, "sha256"),
			 strcmp(action, "accept") == 0 ? ": retracted "
						       : ": reinstated ");
		put_list(json_object_get(a, "detections"));
		printf(" as log entry %lld (log size %lld)\n",
		       (long long)json_integer_value(
			       json_object_get(a, "index")),
		       (long long)json_integer_value(
			       json_object_get(a, "size")));
		rc = 0;
	}
	json_decref(a);
	http_response_clear(&r);
	return rc;
}

int
cmd_admin_fp(const char *server, const char *token, int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "list") == 0)
		return fp_list(server, token, argc - 1, argv + 1);
	if (strcmp(argv[1], "accept") == 0 || strcmp(argv[1], "reject") == 0 ||
	    strcmp(argv[1], "reinstate") == 0)
		return fp_decide(server, token, argv[1], argc - 1, argv + 1);
	fprintf(stderr, "vigil: unknown fp command %s\n", argv[1]);
	usage(stderr);
	return 2;
}
