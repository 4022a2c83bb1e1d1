/*
 * cmd_admin.c - `vigil admin --server URL --token-file FILE COMMAND ...`,
 * what a node's operator does with the operator token the node wrote to
 * <data>/operator.token at its first start.
 *
 *   log-append --type TYPE FILE
 *       records an administrative event in the node's transparency log:
 *       TYPE is key-change, witness-set-change, location-change or
 *       statement, and FILE holds its text (UTF-8, at most
 *       ADMIN_MAX_TEXT bytes; "-" reads standard input). Prints the
 *       entry's index and the size of the log that includes it.
 *
 *   sample-get SHA256 --reason TEXT [--role ROLE] --out FILE
 *       reads a stored sample's content out of the node, which first
 *       records the access in its transparency log (a sample-access
 *       entry: the hash, the operator whose token it was, the role and
 *       the reason). FILE is written
 *       whole or not at all, mode 0600; the entry's index and the log
 *       size that covers it go to standard error.
 *
 *   fp list | fp accept|reject|reinstate HASH --reason TEXT
 *       reviews false-positive reports and retracts detections in the
 *       open (cmd_admin_fp.c).
 *   retrohunt RULEFILE --reason TEXT [--role ROLE]
 *       runs an ad-hoc YARA rule over every sample the node stores
 *       (cmd_admin_retrohunt.c), after the node logged it (a retrohunt
 *       entry: the rule's SHA-256, the operator, the role and the
 *       reason); prints the SHA-256 of every matching sample.
 *   hold SHA256 --case ID --reason TEXT | release-hold SHA256 --case ID
 *       legal holds (cmd_admin_hold.c): the sample is kept past
 *       retention while a hold is on it; a hold or release-hold entry
 *       first, naming the sample, the case and the operator.
 *   operator add NAME | operator list [--json] | operator revoke NAME
 *       the region's named operators, each with a token of their own
 *       (cmd_admin_operator.c); root adds and revokes them.
 *
 * --who NAME, which these took once, is refused: the node names the
 * operator whose token authenticated the request.
 *
 * Exit status: 0 done, 1 the node refused or failed, 2 a usage or input
 * error, or no answer.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/admin.h"
#include "cli/cli.h"
#include "cli/http.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/xmalloc.h"

/* An entry is at most 65535 bytes; its header takes some. */
#define ADMIN_MAX_TEXT (60 * 1024)

static const char *const admin_types[] = {
	"key-change",
	"witness-set-change",
	"location-change",
	"statement",
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: vigil admin --server URL --token-file FILE "
		   "log-append --type TYPE FILE\n"
		   "  TYPE: key-change, witness-set-change, location-change, "
		   "statement\n"
		   "  FILE: the event's text (\"-\": standard input)\n"
		   "       vigil admin --server URL --token-file FILE "
		   "sample-get SHA256 --reason TEXT\n"
		   "         [--role ROLE] --out FILE\n"
		   "       vigil admin --server URL --token-file FILE "
		   "fp list [--json]\n"
		   "       vigil admin --server URL --token-file FILE "
		   "fp accept|reject|reinstate HASH --reason TEXT\n"
		   "       vigil admin --server URL --token-file FILE "
		   "retrohunt RULEFILE --reason TEXT [--role ROLE]\n"
		   "       vigil admin --server URL --token-file FILE "
		   "operator add NAME | list [--json] | revoke NAME\n"
		   "       vigil admin --server URL --token-file FILE "
		   "hold SHA256 --case ID --reason TEXT\n"
		   "       vigil admin --server URL --token-file FILE "
		   "release-hold SHA256 --case ID\n");
}

/* Reads at most max bytes of path ("-": stdin) into a new buffer. */
static char *
read_text(const char *path, size_t max, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL) {
		perror(path);
		return NULL;
	}
	buf = xmalloc(max + 2);
	n = fread(buf, 1, max + 1, f);
	if (ferror(f)) {
		perror(path);
		n = max + 2;
	}
	if (f != stdin)
		fclose(f);
	if (n > max) {
		if (n == max + 1)
			fprintf(stderr, "vigil: %s: more than %zu bytes\n",
				path, max);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Reads the operator token: one line, from a file only its owner can
 * read (a token anyone on the machine can read is no secret). */
int
admin_read_token(const char *path, char out[ADMIN_TOKEN_MAX])
{
	struct stat st;
	size_t len;
	char *t;

	if (stat(path, &st) != 0) {
		perror(path);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		fprintf(stderr,
			"vigil: %s: readable by others (mode %04o); "
			"chmod 600 it\n",
			path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if ((t = read_text(path, ADMIN_TOKEN_MAX - 1, &len)) == NULL)
		return -1;
	while (len > 0 && (t[len - 1] == '\n' || t[len - 1] == '\r'))
		t[--len] = '\0';
	if (len == 0 || strchr(t, '\n') != NULL) {
		fprintf(stderr, "vigil: %s: not a token\n", path);
		free(t);
		return -1;
	}
	memcpy(out, t, len + 1);
	free(t);
	return 0;
}

static int
log_append(const char *server, const char *token, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"type", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *type = NULL;
	struct http_response r;
	char path[96], *text;
	json_t *answer;
	size_t len, i;
	int c, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 't': type = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (type == NULL || optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < sizeof(admin_types) / sizeof(admin_types[0]); i++)
		if (strcmp(type, admin_types[i]) == 0)
			break;
	if (i == sizeof(admin_types) / sizeof(admin_types[0])) {
		fprintf(stderr, "vigil: unknown --type %s\n", type);
		usage(stderr);
		return 2;
	}
	if ((text = read_text(argv[optind], ADMIN_MAX_TEXT, &len)) == NULL)
		return 2;
	snprintf(path, sizeof(path), "/v1/admin/log?type=%s", type);
	c = http_request_ex("POST", server, path, token, text, len,
			    "text/plain; charset=utf-8", NULL, &r);
	free(text);
	if ((c = http_expect(server, c, &r, 201, 0)) != 0)
		return c == VG_EIO ? 2 : 1;
	answer = http_answer_json(&r);
	if (json_is_integer(json_object_get(answer, "index")) &&
	    json_is_integer(json_object_get(answer, "size"))) {
		printf("appended %s entry %lld to %s (log size %lld)\n", type,
		       (long long)json_integer_value(
			       json_object_get(answer, "index")),
		       json_string_value(json_object_get(answer, "origin"))
			       ? json_string_value(
					 json_object_get(answer, "origin"))
			       : server,
		       (long long)json_integer_value(
			       json_object_get(answer, "size")));
		rc = 0;
	} else {
		fprintf(stderr, "vigil: %s gave a malformed answer\n", server);
	}
	json_decref(answer);
	http_response_clear(&r);
	return rc;
}

/* Writes data[0..len) to path whole or not at all, mode 0600
 * (io_write_file). Returns 0, or -1 after saying why. */
static int
write_out(const char *path, const void *data, size_t len)
{
	if (io_write_file(path, data, len, 0600) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

static int
sample_get(const char *server, const char *token, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"reason", required_argument, NULL, 'r'},
		{"role", required_argument, NULL, 'R'},
		{"who", required_argument, NULL, 'w'},
		{"out", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const char *const keep[] = {"X-Vigil-Log-Index",
					   "X-Vigil-Log-Size"};
	struct admin_why why = {0};
	const char *outp = NULL, *sha;
	char kept[2][HTTP_HEADER_VALUE_MAX], *path;
	struct http_response r;
	int c, rc = 1;

	optind = 0; /* GNU: start over, permuting (SHA256 first) */
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': why.reason = optarg; break;
		case 'R': why.role = optarg; break;
		case 'w': fputs(ADMIN_WHO_REFUSED, stderr); return 2;
		case 'o': outp = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (why.reason == NULL || outp == NULL || optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	sha = argv[optind];
	/* The hash goes into the path as is. */
	if (strchr(sha, '/') != NULL || strchr(sha, '?') != NULL ||
	    strchr(sha, '#') != NULL || !http_line_safe(sha) ||
	    admin_why_headers(&why) != 0) {
		fprintf(stderr, "vigil: the reason, role and hash are "
				"one line each, without control characters\n");
		return 2;
	}
	path = xasprintf("/v1/admin/samples/%s", sha);
	c = http_request_hdrs("GET", server, path, token, why.headers, keep,
			      kept, 2, &r);
	free(path);
	admin_why_clear(&why);
	if ((c = http_expect(server, c, &r, 200, 0)) != 0)
		return c == VG_EIO ? 2 : 1;
	if (kept[0][0] == '\0' || kept[1][0] == '\0') {
		fprintf(stderr,
			"vigil: %s sent the sample without its log index\n",
			server);
	} else if (write_out(outp, r.body ? r.body : "", r.len) == 0) {
		fprintf(stderr,
			"vigil: sample %s: %zu bytes to %s; access logged as "
			"entry %s (log size %s)\n",
			sha, r.len, outp, kept[0], kept[1]);
		rc = 0;
	}
	if (r.body != NULL)
		explicit_bzero(r.body, r.len);
	http_response_clear(&r);
	return rc;
}

int
cmd_admin(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"server", required_argument, NULL, 's'},
		{"token-file", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *server = NULL, *token_file = NULL;
	char token[ADMIN_TOKEN_MAX];
	int c, rc;

	/* Options up to the command; the command parses its own. */
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': server = optarg; break;
		case 't': token_file = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (server == NULL || token_file == NULL || optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[optind], "log-append") != 0 &&
	    strcmp(argv[optind], "sample-get") != 0 &&
	    strcmp(argv[optind], "fp") != 0 &&
	    strcmp(argv[optind], "retrohunt") != 0 &&
	    strcmp(argv[optind], "operator") != 0 &&
	    strcmp(argv[optind], "hold") != 0 &&
	    strcmp(argv[optind], "release-hold") != 0) {
		fprintf(stderr, "vigil: unknown admin command %s\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (admin_read_token(token_file, token) != 0)
		return 2;
	if (strcmp(argv[optind], "fp") == 0)
		rc = cmd_admin_fp(server, token, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "sample-get") == 0)
		rc = sample_get(server, token, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "retrohunt") == 0)
		rc = admin_retrohunt(server, token, argc - optind,
				     argv + optind);
	else if (strcmp(argv[optind], "operator") == 0)
		rc = admin_operator(server, token, argc - optind,
				    argv + optind);
	else if (strcmp(argv[optind], "hold") == 0 ||
		 strcmp(argv[optind], "release-hold") == 0)
		rc = admin_hold(server, token, argc - optind, argv + optind);
	else
		rc = log_append(server, token, argc - optind, argv + optind);
	explicit_bzero(token, sizeof(token));
	return rc;
}
