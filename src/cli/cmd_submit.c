/*
 * cmd_submit.c - `vigil submit [--wait SECONDS] FILE...`
 *
 * Shares files with the regional node for analysis, when this endpoint's
 * consent includes files. The metadata sent is the file's name, its path
 * with the user's home replaced by /home/<user>, how it was found
 * ("manual"), the product version and the OS; never anything else.
 * An endpoint whose consent is metadata sends no bytes: the file's MD5,
 * SHA-1 and SHA-256, its size and name, as a metadata document
 * (docs/API.md, "Metadata submissions").
 * With --wait, waits for each verdict (at most 60 s a request, repeated
 * until SECONDS have passed). Exit status: 0 nothing malicious or
 * suspicious, 1 something is, 2 an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/http.h"
#include "cli/userconf.h"
#include "common/err.h"
#include "common/text.h"
#include "common/xmalloc.h"

#define SUBMIT_MAX_FILE (64u * 1024 * 1024) /* the node's default limit */

static void
usage(FILE *f)
{
	fprintf(f, "usage: vigil submit [--wait SECONDS] FILE...\n");
}

/* The path as sent: absolute, with the home directory replaced. */
static char *
shared_path(const char *file)
{
	char *abs = realpath(file, NULL), *out;
	const char *home = getenv("HOME");
	size_t hl = home ? strlen(home) : 0;

	if (abs == NULL)
		return xstrdup(file);
	if (hl > 1 && strncmp(abs, home, hl) == 0 &&
	    (abs[hl] == '/' || abs[hl] == '\0'))
		out = xasprintf("/home/<user>%s", abs + hl);
	else
		out = xstrdup(abs);
	free(abs);
	return out;
}

static int
read_file(const char *path, char **buf, size_t *len)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > SUBMIT_MAX_FILE) {
		close(fd);
		return -EFBIG;
	}
	*buf = xmalloc((size_t)st.st_size + 1);
	n = read(fd, *buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(*buf);
		return -EIO;
	}
	*len = (size_t)n;
	return 0;
}

/* digest's hash of len bytes at buf, in lowercase hex into out. */
static void
hash_hex(const char *digest, const void *buf, size_t len, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	if (!EVP_Digest(len ? buf : "", len, md, &n, EVP_get_digestbyname(digest),
			NULL))
		n = 0;
	for (unsigned i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	out[2 * n] = '\0';
}

/* The metadata document of the len bytes at body, named base: hashes,
 * size and name, never the bytes. A new string. */
static char *
metadata_document(const char *body, size_t len, const char *base)
{
	char md5[33], sha1[41], sha256[65], *text;
	json_t *m;

	hash_hex("MD5", body, len, md5);
	hash_hex("SHA1", body, len, sha1);
	hash_hex("SHA256", body, len, sha256);
	m = json_pack("{s:s, s:s, s:s, s:I, s:s}", "md5", md5, "sha1", sha1,
		      "sha256", sha256, "size", (json_int_t)len, "name", base);
	text = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	return text;
}

/* Submits one file; returns 0, 1 (found) or 2 (error). */
int
cli_submit_file(struct userconf *u, const char *file, long wait)
{
	struct http_response r;
	struct utsname un;
	char *body = NULL, *meta, *hdr, *path, os[300];
	char id[40] = "", *safe = text_sanitize(file, true);
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	size_t len = 0;
	json_t *m, *j = NULL;
	int rc, status = 2;

	if ((rc = read_file(file, &body, &len)) != 0) {
		fprintf(stderr, "%s: ERROR: %s\n", safe,
			rc == -EFBIG    ? "larger than 64 MiB"
			: rc == -EINVAL ? "not a regular file"
					: strerror(-rc));
		free(safe);
		return 2;
	}
	path = shared_path(file);
	snprintf(os, sizeof(os), "%s %s",
		 uname(&un) == 0 ? un.sysname : "unknown",
		 uname(&un) == 0 ? un.release : "");
	m = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", base, "path", path,
		      "found_by", "manual", "product_version",
		      "vigil " VIGIL_VERSION, "os", os);
	meta = json_dumps(m, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(m);
	free(path);
	hdr = xasprintf("Vigil-Metadata: %s", meta ? meta : "{}");
	free(meta);
	if (strcmp(u->consent, "metadata") == 0) {
		/* No bytes: what is known of them. */
		char *doc = metadata_document(body, len, base);

		free(body);
		body = doc;
		len = strlen(doc);
		rc = http_call_home(u, "POST", "/v1/submissions", body, len,
				    "application/json", NULL, &r);
	} else {
		rc = http_call_home(u, "POST", "/v1/submissions", body, len,
				    "application/octet-stream", hdr, &r);
	}
	if (rc != 0) {
		fprintf(stderr, "vigil: %s: %s; %s was not submitted\n",
			u->server, r.error, safe);
		goto out;
	}
	if (r.status == 403) {
		fprintf(stderr,
			"vigil: this endpoint's consent (%s) does not allow "
			"this; %s was not submitted (vigil consent set "
			"metadata|files)\n",
			u->consent, safe);
		goto out;
	}
	if (r.status != 202) {
		http_explain(u->server, &r);
		goto out;
	}
	j = json_loadb(r.body, r.len, 0, NULL);
	if (json_string_value(json_object_get(j, "id")) == NULL ||
	    strlen(json_string_value(json_object_get(j, "id"))) >= sizeof(id)) {
		fprintf(stderr, "vigil: %s gave a malformed answer\n",
			u->server);
		goto out;
	}
	snprintf(id, sizeof(id), "%s",
		 json_string_value(json_object_get(j, "id")));
	printf("%s: submitted as %s (sha256 %s)\n", safe, id,
	       json_string_value(json_object_get(j, "sha256")));
	status = 0;
	for (time_t end = time(NULL) + wait; wait > 0;) {
		long left = (long)(end - time(NULL));
		char *p = xasprintf("/v1/submissions/%s?wait=%ld", id,
				    left > 60  ? 60
				    : left < 1 ? 1
					       : left);
		const char *st, *v;

		http_response_clear(&r);
		json_decref(j);
		j = NULL;
		rc = http_call_home(u, "GET", p, NULL, 0, NULL, NULL, &r);
		free(p);
		if (rc != 0 || r.status != 200) {
			if (rc != 0)
				fprintf(stderr, "vigil: %s: %s\n", u->server,
					r.error);
			else
				http_explain(u->server, &r);
			status = 2;
			break;
		}
		j = json_loadb(r.body, r.len, 0, NULL);
		st = json_string_value(json_object_get(j, "status"));
		v = json_string_value(json_object_get(j, "verdict"));
		if (st != NULL &&
		    (strcmp(st, "done") == 0 || strcmp(st, "failed") == 0)) {
			char *d = json_dumps(json_object_get(j, "detections"),
					     JSON_COMPACT);
			printf("%s: %s (score %lld) %s\n", safe,
			       v ? v : "unknown",
			       (long long)json_integer_value(
				       json_object_get(j, "score")),
			       d ? d : "[]");
			free(d);
			if (v && (strcmp(v, "malicious") == 0 ||
				  strcmp(v, "suspicious") == 0))
				status = 1;
			break;
		}
		if (time(NULL) >= end) {
			printf("%s: %s, no verdict yet\n", safe,
			       st ? st : "queued");
			break;
		}
	}
out:
	json_decref(j);
	http_response_clear(&r);
	free(hdr);
	free(body);
	free(safe);
	return status;
}

int
cmd_submit(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"wait", required_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct userconf u;
	char *end;
	long wait = 0;
	int c, status = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			errno = 0;
			wait = strtol(optarg, &end, 10);
			if (errno || *end || wait < 0 || wait > 86400) {
				fprintf(stderr, "vigil submit: --wait takes "
						"0..86400 seconds\n");
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return 2;
	}
	if (userconf_require(&u, "vigil submit") != 0)
		return 2;
	for (int i = optind; i < argc; i++) {
		int rc = cli_submit_file(&u, argv[i], wait);

		if (rc == 1 || (rc == 2 && status == 0))
			status = rc;
	}
	return status;
}
