/*
 * cmd_admin_retrohunt.c - `vigil admin ... retrohunt RULEFILE`: an ad-hoc
 * YARA rule over every sample a node stores (docs/API.md, "Retro-hunt").
 *
 * The node logs the hunt (the operator whose token it is, the reason,
 * the rule's SHA-256) before it reads any sample, answers with the
 * hunt's id, and hunts in the background; this command then polls the hunt and
 * prints each match once, as it comes (GET ?from=N, N the matches printed so
 * far). A hunt goes on on the node if the command is interrupted.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/admin.h"
#include "cli/http.h"
#include "common/err.h"
#include "common/xmalloc.h"

/* Largest rule file read: the node takes less (it answers 413), so a
 * rule too long is refused by the node, which states its limit. */
#define RULE_READ_MAX (1024 * 1024)
/* Polling: from POLL_MIN_MS, doubling up to POLL_MAX_MS while nothing
 * new comes. */
#define POLL_MIN_MS 50
#define POLL_MAX_MS 250

static void
usage(FILE *f)
{
	fprintf(f, "usage: vigil admin --server URL --token-file FILE "
		   "retrohunt RULEFILE --reason TEXT [--role ROLE]\n");
}

static char *
read_rule(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL) {
		perror(path);
		return NULL;
	}
	buf = xmalloc(RULE_READ_MAX + 1);
	n = fread(buf, 1, RULE_READ_MAX + 1, f);
	if (ferror(f)) {
		perror(path);
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Polls hunt id until it ends, printing the matches; returns the exit
 * status. */
static int
follow(const char *server, const char *token, const char *id)
{
	struct http_response r;
	uint64_t printed = 0;
	long wait = POLL_MIN_MS;
	char path[128];

	for (;;) {
		json_t *j, *ms, *m;
		const char *state;
		size_t i;
		int rc;

		snprintf(path, sizeof(path), "/v1/admin/retrohunt/%s?from=%llu",
			 id, (unsigned long long)printed);
		rc = http_request("GET", server, path, token, NULL, 0, &r);
		if ((rc = http_expect(server, rc, &r, 200, 0)) != 0)
			return rc == VG_EIO ? 2 : 1;
		j = http_answer_json(&r);
		http_response_clear(&r);
		state = json_string_value(json_object_get(j, "state"));
		ms = json_object_get(j, "matches");
		if (state == NULL || !json_is_array(ms)) {
			fprintf(stderr, "vigil: %s: a malformed answer\n",
				server);
			json_decref(j);
			return 2;
		}
		json_array_foreach(ms, i, m)
		{
			const char *s = json_string_value(m);

			if (s != NULL && strlen(s) == 64 && http_line_safe(s))
				printf("%s\n", s);
		}
		fflush(stdout);
		printed += json_array_size(ms);
		if (json_array_size(ms) > 0)
			wait = POLL_MIN_MS;
		/* Every match printed before the end is told. */
		if (strcmp(state, "running") == 0 ||
		    printed < (uint64_t)json_integer_value(
				      json_object_get(j, "matches_total"))) {
			json_decref(j);
			if (json_array_size(ms) == 0) {
				sleep_ms(wait);
				wait = wait * 2 > POLL_MAX_MS ? POLL_MAX_MS
							      : wait * 2;
			}
			continue;
		}
		if (strcmp(state, "done") == 0) {
			long long failed = json_integer_value(
				json_object_get(j, "samples_failed"));

			fprintf(stderr,
				"vigil: retro-hunt %s: %lld samples, %llu "
				"matched, %lld failed, %lld ms%s\n",
				id,
				(long long)json_integer_value(
					json_object_get(j, "samples_scanned")),
				(unsigned long long)printed, failed,
				(long long)json_integer_value(
					json_object_get(j, "elapsed_ms")),
				json_is_true(json_object_get(j, "truncated"))
					? " (matches truncated)"
					: "");
			rc = failed > 0 ? 1 : 0;
		} else {
			fprintf(stderr, "vigil: retro-hunt %s failed: %s\n", id,
				json_string_value(json_object_get(j, "error"))
					? json_string_value(
						  json_object_get(j, "error"))
					: "(no reason given)");
			rc = 1;
		}
		json_decref(j);
		return rc;
	}
}

int
admin_retrohunt(const char *server, const char *token, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"reason", required_argument, NULL, 'r'},
		{"role", required_argument, NULL, 'R'},
		{"who", required_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct admin_why why = {0};
	struct http_response r;
	char *rule, id[33];
	size_t len = 0;
	json_t *j;
	int c;

	optind = 0; /* GNU: start over, permuting (RULEFILE first) */
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': why.reason = optarg; break;
		case 'R': why.role = optarg; break;
		case 'w': fputs(ADMIN_WHO_REFUSED, stderr); return 2;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (why.reason == NULL || optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if (admin_why_headers(&why) != 0) {
		fprintf(stderr, "vigil: the reason and role are one line "
				"each, without control characters\n");
		return 2;
	}
	if ((rule = read_rule(argv[optind], &len)) == NULL) {
		admin_why_clear(&why);
		return 2;
	}
	c = http_request_body_hdrs("POST", server, "/v1/admin/retrohunt", token,
				   rule, len, "text/plain", why.headers, &r);
	free(rule);
	admin_why_clear(&why);
	if ((c = http_expect(server, c, &r, 202, 0)) != 0)
		return c == VG_EIO ? 2 : 1;
	j = http_answer_json(&r);
	http_response_clear(&r);
	if (json_string_value(json_object_get(j, "id")) == NULL ||
	    strlen(json_string_value(json_object_get(j, "id"))) != 32 ||
	    strspn(json_string_value(json_object_get(j, "id")),
		   "0123456789abcdef") != 32) {
		fprintf(stderr, "vigil: %s: a malformed answer\n", server);
		json_decref(j);
		return 2;
	}
	snprintf(id, sizeof(id), "%s",
		 json_string_value(json_object_get(j, "id")));
	fprintf(stderr,
		"vigil: retro-hunt %s of rule %s logged as entry %lld (log "
		"size %lld)\n",
		id,
		json_string_value(json_object_get(j, "rule_sha256"))
			? json_string_value(json_object_get(j, "rule_sha256"))
			: "?",
		(long long)json_integer_value(json_object_get(j, "log_index")),
		(long long)json_integer_value(json_object_get(j, "log_size")));
	json_decref(j);
	return follow(server, token, id);
}
