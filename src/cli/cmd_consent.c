/*
 * cmd_consent.c - `vigil consent set LEVEL`: what this endpoint shares
 * with its regional node (none, metadata, files), over PUT
 * /v1/me/consent under its own token (docs/API.md, "Your own data").
 * Lowering it erases at once, on the node, what the new level does not
 * allow (docs/PRIVACY.md); the node answers once its transparency log
 * records the erasure, with counts and no one's name. The level is then
 * saved in $VIGIL_HOME/config.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/http.h"
#include "cli/userconf.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: vigil consent set none|metadata|files\n"
		   "  none      lookups only; the node keeps nothing of your "
		   "files\n"
		   "  metadata  hashes, size, type, name, local detections; "
		   "no bytes\n"
		   "  files     the files' bytes too\n"
		   "Lowering it erases at once what the new level does not "
		   "allow.\n");
}

int
cmd_consent(int argc, char **argv)
{
	struct http_response r;
	struct userconf u;
	char body[64], err[512];
	const char *level;
	json_t *j = NULL, *e;
	int status = 2;

	if (argc == 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "set") != 0) {
		usage(stderr);
		return 2;
	}
	level = argv[2];
	if (strcmp(level, "none") != 0 && strcmp(level, "metadata") != 0 &&
	    strcmp(level, "files") != 0) {
		fprintf(stderr, "vigil consent: LEVEL is none, metadata or "
				"files\n");
		return 2;
	}
	if (userconf_require(&u, "vigil consent") != 0)
		return 2;
	snprintf(body, sizeof(body), "{\"consent\":\"%s\"}", level);
	if (http_call_home(&u, "PUT", "/v1/me/consent", body, strlen(body),
			   "application/json", NULL, &r) != 0) {
		fprintf(stderr, "vigil: %s: %s\n", u.server, r.error);
		return 2;
	}
	if (r.status != 200) {
		http_explain(u.server, &r);
		goto out;
	}
	j = http_answer_json(&r);
	snprintf(u.consent, sizeof(u.consent), "%s", level);
	if (userconf_save(&u, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigil consent: %s\n", err);
		goto out;
	}
	printf("consent is now %s\n", level);
	if ((e = json_object_get(j, "erased")) != NULL)
		printf("erased: %lld submissions, %lld samples unlinked, "
		       "%lld samples' bytes\n",
		       (long long)json_integer_value(
			       json_object_get(e, "submissions")),
		       (long long)json_integer_value(
			       json_object_get(e, "samples_unlinked")),
		       (long long)json_integer_value(
			       json_object_get(e, "samples_erased")));
	if (json_is_integer(json_object_get(j, "log_index")))
		printf("logged as entry %lld of the region's log\n",
		       (long long)json_integer_value(
			       json_object_get(j, "log_index")));
	status = 0;
out:
	json_decref(j);
	http_response_clear(&r);
	return status;
}
