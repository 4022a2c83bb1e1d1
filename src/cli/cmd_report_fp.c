/*
 * cmd_report_fp.c - `vigil report-fp HASH --reason TEXT`
 *
 * Tells the node this endpoint is enrolled with that it believes the
 * sample HASH (MD5, SHA-1 or SHA-256) is a false positive (POST /v1/fp,
 * docs/API.md "False positives"). The node keeps the report for its
 * operator, who may retract the detections in the open: the retraction
 * is a transparency-log entry that never names who reported. Exit
 * status: 0 reported, 1 the node refused (already reported, unknown or
 * undetected sample), 2 a usage error or no answer.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/http.h"
#include "cli/userconf.h"
#include "common/err.h"
#include "common/text.h"
#include "common/xmalloc.h"

/* The node's limit for a reason, in bytes. */
#define REPORT_FP_REASON_MAX 1024

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: vigil report-fp HASH --reason TEXT\n"
		"  HASH: the sample's MD5, SHA-1 or SHA-256\n"
		"  TEXT: why it is a false positive (one line, at most "
		"%d bytes)\n",
		REPORT_FP_REASON_MAX);
}

int
cmd_report_fp(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"reason", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *reason = NULL, *hash;
	struct http_response r;
	struct userconf u;
	json_t *body, *answer;
	char *text, *safe;
	int c;

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
	if (userconf_require(&u, "vigil report-fp") != 0)
		return 2;
	/* The node judges the hash and the reason; jansson refuses what is
	 * not UTF-8. */
	body = json_pack("{s:s, s:s}", "hash", hash, "reason", reason);
	if (body == NULL) {
		fprintf(stderr, "vigil: the hash and the reason must be "
				"UTF-8 text\n");
		return 2;
	}
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL)
		fatal("out of memory");
	c = http_call_home(&u, "POST", "/v1/fp", text, strlen(text),
			   "application/json", NULL, &r);
	free(text);
	if ((c = http_expect(u.server, c, &r, 201, 0)) != 0)
		return c == VG_EIO || r.status == 0 ? 2 : 1;
	safe = text_sanitize(hash, true);
	answer = http_answer_json(&r);
	printf("%s: reported as a false positive (sample %s)\n", safe,
	       json_string_value(json_object_get(answer, "sha256"))
		       ? json_string_value(json_object_get(answer, "sha256"))
		       : "?");
	json_decref(answer);
	free(safe);
	http_response_clear(&r);
	return 0;
}
