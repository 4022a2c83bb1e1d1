/*
 * cloud.c - the cloud half of `vigil scan --cloud`; see cloud.h.
 *
 * Hashes are collected while files are scanned, deduplicated, and sent in
 * batches once the scan is over, so that a scan of a whole disk costs a
 * handful of requests, not one per file.
 */
#include "cli/cloud.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/objpath.h"
#include "cli/userconf.h"
#include "common/text.h"
#include "common/xmalloc.h"
#include "engine/digest.h"

#define CLOUD_BATCH 10000

struct cloud_object {
	char sha256[65];
	char *display; /* PATH!member..., escaped for a terminal */
	size_t file;   /* index in files */
	char **local;  /* its local detections (a found file's), printed
			  by cloud_resolve */
	size_t n_local;
};

struct cloud {
	char **files;          /* the path of each file recorded */
	enum verdict *verdict; /* and its local verdict */
	size_t n_files;
	struct cloud_object *obj;
	size_t n_obj;
	int truncated;
};

struct cloud *
cloud_new(void)
{
	return xcalloc(1, sizeof(struct cloud));
}

void
cloud_free(struct cloud *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_files; i++)
		free(c->files[i]);
	for (size_t i = 0; i < c->n_obj; i++) {
		free(c->obj[i].display);
		for (size_t k = 0; k < c->obj[i].n_local; k++)
			free(c->obj[i].local[k]);
		free(c->obj[i].local);
	}
	free(c->files);
	free(c->verdict);
	free(c->obj);
	free(c);
}

bool
cloud_add(struct cloud *c, const char *path, const struct report *r)
{
	bool found = r->verdict == VERDICT_MALICIOUS ||
		     r->verdict == VERDICT_SUSPICIOUS;

	/* A file the engine calls malicious is asked about too: the node
	 * may have retracted the detection as a false positive. */
	if (r->n_objects == 0)
		return false;
	if (c->n_obj + r->n_objects > CLOUD_MAX_HASHES) {
		c->truncated = 1;
		return false;
	}
	c->files = xreallocarray(c->files, c->n_files + 1, sizeof(char *));
	c->files[c->n_files] = xstrdup(path);
	c->verdict =
		xreallocarray(c->verdict, c->n_files + 1, sizeof(*c->verdict));
	c->verdict[c->n_files] = r->verdict;
	c->obj =
		xreallocarray(c->obj, c->n_obj + r->n_objects, sizeof(*c->obj));
	for (size_t i = 0; i < r->n_objects; i++) {
		struct cloud_object *o = &c->obj[c->n_obj++];
		size_t len = 0;
		FILE *f = open_memstream(&o->display, &len);

		digest_hex(r->objects[i].sha256, 32, o->sha256);
		if (f == NULL)
			fatal("out of memory");
		objpath_print(f, path, r, i);
		fclose(f);
		o->file = c->n_files;
		o->local = NULL;
		o->n_local = 0;
		/* The matches vigil scan prints as FOUND. */
		for (size_t k = 0; found && k < r->objects[i].n_matches; k++) {
			const struct match *m = &r->objects[i].matches[k];

			if (m->score <= 0)
				continue;
			o->local = xreallocarray(o->local, o->n_local + 1,
						 sizeof(char *));
			o->local[o->n_local++] = xstrdup(m->name);
		}
	}
	c->n_files++;
	return true;
}

static int
cmp_hash(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The answers, by hash: a sorted array for binary search. */
struct answer {
	const char *hash;
	json_t *result;
};

static int
cmp_answer(const void *a, const void *b)
{
	return strcmp(((const struct answer *)a)->hash,
		      ((const struct answer *)b)->hash);
}

/*
 * The log index of the retraction in answer a that covers every local
 * detection of o, or -1 if there is none.
 */
static long long
retracted_by(const struct cloud_object *o, const struct answer *a)
{
	json_t *idx, *names, *v;
	size_t i;

	if (a == NULL || o->n_local == 0)
		return -1;
	idx = json_object_get(a->result, "retracted");
	names = json_object_get(a->result, "retracted_detections");
	if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
	    !json_is_array(names))
		return -1;
	for (size_t k = 0; k < o->n_local; k++) {
		bool in = false;

		json_array_foreach(names, i, v)
		{
			in = in ||
			     (json_is_string(v) &&
			      strcmp(json_string_value(v), o->local[k]) == 0);
		}
		if (!in)
			return -1;
	}
	return (long long)json_integer_value(idx);
}

/*
 * Prints the local detections of the found files, each FOUND or, when
 * the node's answer retracts them, RETRACTED; counts the files whose
 * every detecting object is retracted into res.
 */
static void
print_local(struct cloud *c, const struct answer *ans, size_t n_ans, bool json,
	    struct cloud_result *res)
{
	unsigned char *kept = xcalloc(c->n_files + 1, 1);
	unsigned char *taken = xcalloc(c->n_files + 1, 1);

	for (size_t i = 0; i < c->n_obj; i++) {
		struct cloud_object *o = &c->obj[i];
		struct answer key = {.hash = o->sha256}, *a;
		long long log;

		if (o->n_local == 0)
			continue;
		a = n_ans ? bsearch(&key, ans, n_ans, sizeof(*ans), cmp_answer)
			  : NULL;
		log = retracted_by(o, a);
		if (log < 0)
			kept[o->file] = 1;
		else
			taken[o->file] = 1;
		if (json && log >= 0) {
			json_t *names = json_array(), *line;
			char *s;

			for (size_t k = 0; k < o->n_local; k++)
				json_array_append_new(names,
						      json_string(o->local[k]));
			line = json_pack("{s:{s:s, s:s, s:s, s:I, s:o}}",
					 "cloud", "path", c->files[o->file],
					 "object", o->sha256, "verdict",
					 "clean", "retracted", (json_int_t)log,
					 "detections", names);
			s = json_dumps(line, JSON_COMPACT);
			puts(s);
			free(s);
			json_decref(line);
			continue;
		}
		if (json)
			continue; /* the report says it */
		for (size_t k = 0; k < o->n_local; k++) {
			if (log >= 0)
				printf("%s: %s RETRACTED (log %lld)\n",
				       o->display, o->local[k], log);
			else
				printf("%s: %s FOUND\n", o->display,
				       o->local[k]);
		}
	}
	for (size_t f = 0; f < c->n_files; f++) {
		if (!taken[f] || kept[f])
			continue;
		if (c->verdict[f] == VERDICT_MALICIOUS)
			res->retracted_malicious++;
		else if (c->verdict[f] == VERDICT_SUSPICIOUS)
			res->retracted_suspicious++;
	}
	free(kept);
	free(taken);
}

int
cloud_resolve(struct cloud *c, bool json, bool submit, struct cloud_result *res)
{
	struct userconf u;
	struct answer *ans = NULL;
	char **uniq = NULL;
	size_t n_uniq = 0, n_ans = 0;
	unsigned char *flagged = NULL, *unknown = NULL;
	int status = 0, consent_told = 0;

	memset(res, 0, sizeof(*res));
	if (c->truncated)
		fprintf(stderr,
			"vigil: more than %d objects; the rest were not "
			"looked up\n",
			CLOUD_MAX_HASHES);
	if (c->n_obj == 0)
		return 0;
	if (userconf_require(&u, "vigil scan --cloud") != 0) {
		print_local(c, NULL, 0, json, res);
		return 2;
	}
	uniq = xreallocarray(NULL, c->n_obj, sizeof(char *));
	for (size_t i = 0; i < c->n_obj; i++)
		uniq[i] = c->obj[i].sha256;
	qsort(uniq, c->n_obj, sizeof(char *), cmp_hash);
	for (size_t i = 0; i < c->n_obj; i++)
		if (n_uniq == 0 || strcmp(uniq[n_uniq - 1], uniq[i]) != 0)
			uniq[n_uniq++] = uniq[i];
	ans = xreallocarray(NULL, n_uniq, sizeof(*ans));
	for (size_t i = 0; i < n_uniq && status == 0; i += CLOUD_BATCH) {
		json_t *hashes = json_array(), *results = NULL, *r;
		size_t k;

		for (size_t j = i; j < n_uniq && j < i + CLOUD_BATCH; j++)
			json_array_append_new(hashes, json_string(uniq[j]));
		if (cli_lookup_batch(&u, hashes, &results) != 0)
			status = 2;
		json_array_foreach(results, k, r)
		{
			const char *h =
				json_string_value(json_object_get(r, "hash"));
			if (h != NULL && i + k < n_uniq &&
			    strcmp(h, uniq[i + k]) == 0) {
				ans[n_ans].hash = uniq[i + k];
				ans[n_ans++].result = json_incref(r);
			}
		}
		json_decref(results);
		json_decref(hashes);
	}
	qsort(ans, n_ans, sizeof(*ans), cmp_answer);
	flagged = xcalloc(c->n_files + 1, 1);
	unknown = xcalloc(c->n_files + 1, 1);
	for (size_t i = 0; i < c->n_obj && status == 0; i++) {
		struct cloud_object *o = &c->obj[i];
		struct answer key = {.hash = o->sha256}, *a;
		const char *v;

		a = bsearch(&key, ans, n_ans, sizeof(*ans), cmp_answer);
		v = a ? json_string_value(json_object_get(a->result, "verdict"))
		      : NULL;
		if (v == NULL)
			continue;
		if (strcmp(v, "unknown") == 0 &&
		    strcmp(o->display, c->files[o->file]) != 0)
			continue;
		if (strcmp(v, "unknown") == 0) {
			unknown[o->file] = 1; /* the file itself is unknown */
			continue;
		}
		/* Local detections are printed below, with their
		 * retractions. */
		if (o->n_local > 0)
			continue;
		if (strcmp(v, "malicious") != 0 && strcmp(v, "suspicious") != 0)
			continue;
		flagged[o->file] = 1;
		if (json) {
			json_t *line = json_pack(
				"{s:{s:s, s:s, s:s, s:O, s:O}}", "cloud",
				"path", c->files[o->file], "object", o->sha256,
				"verdict", v, "detections",
				json_object_get(a->result, "detections"),
				"prevalence",
				json_object_get(a->result, "prevalence"));
			char *s = json_dumps(line, JSON_COMPACT);
			puts(s);
			free(s);
			json_decref(line);
		} else {
			json_t *d;
			size_t k;

			json_array_foreach(
				json_object_get(a->result, "detections"), k, d)
				printf("%s: %s FOUND (cloud)\n", o->display,
				       json_string_value(d));
			if (json_array_size(json_object_get(a->result,
							    "detections")) == 0)
				printf("%s: %s (cloud)\n", o->display, v);
		}
	}
	/* Without the node's answers (status 2), every one is FOUND. */
	print_local(c, status == 0 ? ans : NULL, status == 0 ? n_ans : 0, json,
		    res);
	for (size_t f = 0; f < c->n_files; f++) {
		res->found += flagged[f];
		/* A file found malicious here is not shared by a scan. */
		if (!submit || !unknown[f] || status != 0 ||
		    c->verdict[f] == VERDICT_MALICIOUS)
			continue;
		/* metadata: cli_submit_file sends what is known of the
		 * file, never its bytes. */
		if (strcmp(u.consent, "files") != 0 &&
		    strcmp(u.consent, "metadata") != 0) {
			if (!consent_told++)
				fprintf(stderr,
					"vigil: this endpoint's consent is "
					"none; nothing was submitted\n");
			continue;
		}
		if (cli_submit_file(&u, c->files[f], 0) == 2)
			status = 2;
	}
	for (size_t i = 0; i < n_ans; i++)
		json_decref(ans[i].result);
	free(ans);
	free(uniq);
	free(flagged);
	free(unknown);
	return status;
}
