/*
 * cmd_enroll.c - `vigil enroll --server URL [--consent none|metadata|files]`
 *
 * Enrols this endpoint with a regional node and keeps the client id and
 * bearer token in $VIGIL_HOME/config (mode 0600). The consent says what
 * the endpoint may share: nothing, metadata only, or files too.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/http.h"
#include "cli/userconf.h"
#include "common/err.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: vigil enroll --server URL [--consent "
		   "none|metadata|files]\n");
}

/* Copies a string member of j into dst; false if absent or too long. */
static int
take(json_t *j, const char *key, char *dst, size_t cap)
{
	json_t *v = json_object_get(j, key);
	const char *s = json_string_value(v);

	if (s == NULL || strlen(s) >= cap)
		return 0;
	memcpy(dst, s, strlen(s) + 1);
	return 1;
}

int
cmd_enroll(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"server", required_argument, NULL, 's'},
		{"consent", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *server = NULL, *consent = "none";
	struct http_response resp;
	struct userconf u;
	char body[64], err[512], dir[1024];
	json_t *j = NULL;
	int c, status = 2;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': server = optarg; break;
		case 'c': consent = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (server == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(consent, "none") != 0 && strcmp(consent, "metadata") != 0 &&
	    strcmp(consent, "files") != 0) {
		fprintf(stderr,
			"vigil enroll: --consent is none, metadata or files\n");
		return 2;
	}
	if (strncmp(server, "http://", 7) != 0 &&
	    strncmp(server, "https://", 8) != 0) {
		fprintf(stderr, "vigil enroll: --server is an http:// or "
				"https:// URL\n");
		return 2;
	}
	snprintf(body, sizeof(body), "{\"consent\":\"%s\"}", consent);
	if (http_request("POST", server, "/v1/enroll", NULL, body, strlen(body),
			 &resp) != 0) {
		fprintf(stderr, "vigil enroll: %s: %s\n", server, resp.error);
		return 2;
	}
	if (resp.status != 201) {
		fprintf(stderr, "vigil enroll: %s answered %ld: %.300s\n",
			server, resp.status, resp.body ? resp.body : "");
		goto out;
	}
	memset(&u, 0, sizeof(u));
	j = json_loadb(resp.body, resp.len, 0, NULL);
	if (j == NULL || strlen(server) >= sizeof(u.server) ||
	    !take(j, "client_id", u.client_id, sizeof(u.client_id)) ||
	    !take(j, "token", u.token, sizeof(u.token)) ||
	    !take(j, "consent", u.consent, sizeof(u.consent)) ||
	    !take(j, "region", u.region, sizeof(u.region))) {
		fprintf(stderr, "vigil enroll: %s gave a malformed answer\n",
			server);
		goto out;
	}
	memcpy(u.server, server, strlen(server) + 1);
	/* A trailing slash would double in every request path. */
	while (strlen(u.server) > 8 && u.server[strlen(u.server) - 1] == '/')
		u.server[strlen(u.server) - 1] = '\0';
	if (userconf_save(&u, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigil enroll: %s\n", err);
		goto out;
	}
	userconf_dir(dir, sizeof(dir));
	printf("enrolled with %s as %s (region %s, consent %s)\n"
	       "token saved in %s/config\n",
	       u.server, u.client_id, u.region, u.consent, dir);
	status = 0;
out:
	json_decref(j);
	http_response_clear(&resp);
	return status;
}
