/*
 * witnessing.c - see witnessing.h.
 */
#include "node/witnessing.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "tlog/checkpoint.h"
#include "tlog/merkle.h"
#include "tlog/note.h"

/* A witness's answer: cosignature lines, or a size. */
#define ANSWER_MAX (64 * 1024)

struct witness {
	char name[33];
	char url[300];
	struct note_verifier key;
	uint64_t size; /* what it last cosigned, as far as we know */
};

struct witnessing {
	struct nodelog *nl;
	struct witness *w;
	size_t n;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping, kicked;
	/* The latest cosigned checkpoint; under mu. */
	char *cosigned;
	size_t cosigned_len;
	uint64_t cosigned_size;
	pthread_t thread;
};

struct buf {
	char *p;
	size_t n;
};

static size_t
collect(char *data, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	size_t k = size * nmemb;

	if (b->n + k > ANSWER_MAX)
		return 0; /* too much: curl fails the transfer */
	b->p = xreallocarray(b->p, b->n + k + 1, 1);
	memcpy(b->p + b->n, data, k);
	b->n += k;
	b->p[b->n] = '\0';
	return k;
}

/* POSTs body to the witness; the status (0: no answer) and the body,
 * and whether the answer is a tree size (text/x.tlog.size). */
static long
post(CURL *c, const struct witness *w, const char *body, size_t len,
     struct buf *answer, bool *is_size)
{
	char url[320];
	long status = 0;
	char *ctype = NULL;

	snprintf(url, sizeof(url), "%s/add-checkpoint", w->url);
	answer->n = 0;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, answer);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)WITNESSING_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	*is_size = false;
	if (curl_easy_perform(c) != CURLE_OK)
		return 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
	*is_size = ctype != NULL && strcmp(ctype, "text/x.tlog.size") == 0;
	return status;
}

/* The add-checkpoint body: old size, proof, blank line, checkpoint. */
static char *
request(struct nodelog *nl, uint64_t old, uint64_t size, const char *cp,
	size_t cplen, size_t *len)
{
	struct merkle_hash proof[MERKLE_PROOF_MAX];
	size_t n = 0, o;
	char *b;

	if (old > 0 && old < size &&
	    tlog_log_prove_consistency(nodelog_log(nl), old, size, proof, &n) !=
		    0)
		return NULL;
	b = xmalloc(32 + n * 46 + cplen + 1);
	o = (size_t)sprintf(b, "old %llu\n", (unsigned long long)old);
	for (size_t i = 0; i < n; i++) {
		sodium_bin2base64(b + o, 46, proof[i].b, sizeof(proof[i].b),
				  sodium_base64_VARIANT_ORIGINAL);
		o += 44;
		b[o++] = '\n';
	}
	b[o++] = '\n';
	memcpy(b + o, cp, cplen);
	o += cplen;
	b[o] = '\0';
	*len = o;
	return b;
}

/* Checks the answer's lines against the witness's key on cp, and appends
 * the valid ones to *sigs. */
static void
keep_cosignatures(const struct witness *w, const char *cp, size_t cplen,
		  const struct buf *answer, struct buf *sigs)
{
	char *note = xmalloc(cplen + answer->n + 1), err[160];
	struct note *n = NULL;
	size_t nv = 0;

	memcpy(note, cp, cplen);
	memcpy(note + cplen, answer->p, answer->n);
	if (note_parse(note, cplen + answer->n, &n, err, sizeof(err)) != 0 ||
	    note_verify(n, &w->key, 1, &nv, err, sizeof(err)) != 0 || nv != 1) {
		log_event(LOG_WARN, "witness_bad_answer",
			  "witness=%s err=\"%s\"", w->name, err);
	} else {
		/* Only the lines of this witness's key, which verified. */
		const char *p = answer->p, *end = answer->p + answer->n;

		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t k =
				nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

			sigs->p = xreallocarray(sigs->p, sigs->n + k + 1, 1);
			memcpy(sigs->p + sigs->n, p, k);
			sigs->n += k;
			sigs->p[sigs->n] = '\0';
			p += k;
		}
	}
	note_free(n);
	free(note);
}

/* Asks one witness about the checkpoint of size. */
static void
ask(struct witnessing *g, CURL *c, struct witness *w, uint64_t size,
    const char *cp, size_t cplen, struct buf *sigs)
{
	struct buf answer = {0};

	for (int attempt = 0; attempt < 2; attempt++) {
		uint64_t old = w->size <= size ? w->size : 0;
		size_t len;
		char *body = request(g->nl, old, size, cp, cplen, &len);
		bool is_size;
		long st;

		if (body == NULL)
			break;
		st = post(c, w, body, len, &answer, &is_size);
		free(body);
		if (st == 200) {
			keep_cosignatures(w, cp, cplen, &answer, sigs);
			w->size = size;
			break;
		}
		if (st == 409 && attempt == 0 && is_size && answer.n > 0) {
			/* It cosigned another size: start from there. (A
			 * fork's 409 is not a size, and is not retried.) */
			char *end;
			unsigned long long s = strtoull(answer.p, &end, 10);

			if (end != answer.p && *end == '\n' && s <= size) {
				w->size = s;
				continue;
			}
		}
		log_event(LOG_WARN, "witness_refused",
			  "witness=%s size=%llu status=%ld answer=\"%.80s\"",
			  w->name, (unsigned long long)size, st,
			  answer.p ? answer.p : "");
		break;
	}
	free(answer.p);
}

static void *
run(void *arg)
{
	struct witnessing *g = arg;
	uint64_t done = 0;
	CURL *c = curl_easy_init();

	pthread_setname_np(pthread_self(), "vigild-witness");
	for (;;) {
		struct buf sigs = {0};
		uint64_t size;
		char *cp = NULL;
		size_t cplen = 0;

		/* Every append of the node kicks (witnessing_kick), and the
		 * first round is kicked at start. */
		pthread_mutex_lock(&g->mu);
		while (!g->stopping && !g->kicked)
			pthread_cond_wait(&g->cv, &g->mu);
		g->kicked = false;
		if (g->stopping) {
			pthread_mutex_unlock(&g->mu);
			break;
		}
		pthread_mutex_unlock(&g->mu);
		if (c == NULL)
			continue;
		(void)tlog_log_checkpoint(nodelog_log(g->nl), &cp, &cplen,
					  &size);
		if (size == done) {
			free(cp);
			continue;
		}
		for (size_t i = 0; i < g->n; i++)
			ask(g, c, &g->w[i], size, cp, cplen, &sigs);
		pthread_mutex_lock(&g->mu);
		free(g->cosigned);
		g->cosigned = xmalloc(cplen + sigs.n + 1);
		memcpy(g->cosigned, cp, cplen);
		if (sigs.n > 0)
			memcpy(g->cosigned + cplen, sigs.p, sigs.n);
		g->cosigned_len = cplen + sigs.n;
		g->cosigned[g->cosigned_len] = '\0';
		g->cosigned_size = size;
		pthread_mutex_unlock(&g->mu);
		{
			size_t lines = 0;

			for (size_t i = 0; i < sigs.n; i++)
				lines += sigs.p[i] == '\n';
			log_event(LOG_INFO, "cosigned",
				  "size=%llu cosignatures=%zu",
				  (unsigned long long)size, lines);
		}
		done = size;
		free(sigs.p);
		free(cp);
	}
	if (c != NULL)
		curl_easy_cleanup(c);
	return NULL;
}

int
witnessing_start(const struct node_config *cfg, struct nodelog *nl,
		 struct witnessing **out, char *err, size_t errlen)
{
	struct witnessing *g;

	*out = NULL;
	if (cfg->n_witnesses == 0)
		return 0;
	g = xcalloc(1, sizeof(*g));
	g->nl = nl;
	g->n = cfg->n_witnesses;
	g->w = xcalloc(g->n, sizeof(*g->w));
	for (size_t i = 0; i < g->n; i++) {
		const struct witness_endpoint *e = &cfg->witnesses[i];
		char why[160];

		snprintf(g->w[i].name, sizeof(g->w[i].name), "%s", e->name);
		snprintf(g->w[i].url, sizeof(g->w[i].url), "%s", e->url);
		if (note_verifier_parse(e->vkey, strlen(e->vkey), &g->w[i].key,
					why, sizeof(why)) != 0 ||
		    g->w[i].key.type != NOTE_COSIGNATURE) {
			snprintf(err, errlen,
				 "witness %s: not a cosignature verifier "
				 "key%s%s",
				 e->name, why[0] ? ": " : "", why);
			free(g->w);
			free(g);
			return VG_EINVAL;
		}
	}
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->kicked = true;
	if (pthread_create(&g->thread, NULL, run, g) != 0) {
		snprintf(err, errlen, "cannot start the witnessing thread");
		free(g->w);
		free(g);
		return VG_ENOMEM;
	}
	*out = g;
	return 0;
}

void
witnessing_kick(struct witnessing *g)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	g->kicked = true;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

char *
witnessing_checkpoint(struct witnessing *g, uint64_t size, size_t *len)
{
	char *p = NULL;

	if (g == NULL)
		return NULL;
	pthread_mutex_lock(&g->mu);
	if (g->cosigned != NULL && g->cosigned_size == size) {
		p = xmalloc(g->cosigned_len + 1);
		memcpy(p, g->cosigned, g->cosigned_len + 1);
		*len = g->cosigned_len;
	}
	pthread_mutex_unlock(&g->mu);
	return p;
}

void
witnessing_stop(struct witnessing *g)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	g->stopping = true;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->thread, NULL);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g->cosigned);
	free(g->w);
	free(g);
}
