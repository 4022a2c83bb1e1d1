/*
 * cmd_lookup.c - `vigil lookup HASH...`
 *
 * Asks the node about MD5, SHA-1 or SHA-256 hashes in batches, and prints
 * one line per hash: `HASH: VERDICT (score N) DETECTIONS`, and
 * `retracted (log N)` after a sample whose detections the operator
 * retracted as a false positive. A node of another region answers 421
 * with the client's home endpoint: vigil follows it once and remembers
 * it. Exit status: 0 nothing malicious or suspicious, 1 something is, 2
 * an error.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/http.h"
#include "cli/userconf.h"
#include "common/err.h"
#include "common/text.h"
#include "common/xmalloc.h"

#define LOOKUP_BATCH 10000

static void
usage(FILE *f)
{
	fprintf(f, "usage: vigil lookup [--json] HASH...\n");
}

/* Sends one batch (following a 421 to the home region). */
int
cli_lookup_batch(struct userconf *u, json_t *hashes, json_t **results)
{
	json_t *req = json_pack("{s:O}", "hashes", hashes), *answer;
	char *body = json_dumps(req, JSON_COMPACT);
	struct http_response r;
	int c, rc = 2;

	json_decref(req);
	if (body == NULL)
		return 2;
	c = http_call_home(u, "POST", "/v1/lookup", body, strlen(body),
			   "application/json", NULL, &r);
	if (http_expect(u->server, c, &r, 200, 0) != 0)
		goto out;
	answer = http_answer_json(&r);
	*results = json_incref(json_object_get(answer, "results"));
	json_decref(answer);
	if (!json_is_array(*results)) {
		fprintf(stderr, "vigil: %s gave a malformed answer\n",
			u->server);
		json_decref(*results);
		*results = NULL;
		goto out;
	}
	rc = 0;
out:
	http_response_clear(&r);
	free(body);
	return rc;
}

int
cmd_lookup(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct userconf u;
	int c, json = 0, found = 0, status = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return 2;
	}
	if (userconf_require(&u, "vigil lookup") != 0)
		return 2;
	for (int i = optind; i < argc && status != 2; i += LOOKUP_BATCH) {
		json_t *hashes = json_array(), *results = NULL;
		size_t k;
		json_t *r;

		for (int j = i; j < argc && j < i + LOOKUP_BATCH; j++)
			json_array_append_new(hashes, json_string(argv[j]));
		if (cli_lookup_batch(&u, hashes, &results) != 0) {
			status = 2;
			json_decref(hashes);
			break;
		}
		json_array_foreach(results, k, r)
		{
			const char *v = json_string_value(
				json_object_get(r, "verdict"));
			const char *e =
				json_string_value(json_object_get(r, "error"));
			char *h = text_sanitize(
				json_string_value(json_object_get(r, "hash")),
				true);

			if (json) {
				char *s = json_dumps(
					r, JSON_COMPACT | JSON_PRESERVE_ORDER);
				puts(s);
				free(s);
			} else if (e != NULL) {
				printf("%s: ERROR %s\n", h ? h : "?", e);
			} else {
				char *d = json_dumps(
					json_object_get(r, "detections"),
					JSON_COMPACT);
				printf("%s: %s", h ? h : "?",
				       v ? v : "unknown");
				if (json_object_get(r, "score"))
					printf(" (score %lld, prevalence %lld) "
					       "%s",
					       (long long)json_integer_value(
						       json_object_get(
							       r, "score")),
					       (long long)json_integer_value(
						       json_object_get(
							       r,
							       "prevalence")),
					       d ? d : "[]");
				if (json_is_integer(
					    json_object_get(r, "retracted")))
					printf(" retracted (log %lld)",
					       (long long)json_integer_value(
						       json_object_get(
							       r,
							       "retracted")));
				putchar('\n');
				free(d);
			}
			if (e != NULL)
				status = 2;
			if (v && (strcmp(v, "malicious") == 0 ||
				  strcmp(v, "suspicious") == 0))
				found = 1;
			free(h);
		}
		json_decref(results);
		json_decref(hashes);
	}
	return found ? 1 : status;
}
