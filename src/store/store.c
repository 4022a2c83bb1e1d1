/*
 * store.c - the backend-independent part of the metadata store: opening
 * the backend a node's configuration names, the checks of arguments that
 * every backend makes (store_impl.h), and freeing the strings that
 * operations return in structs; see store.h.
 *
 * Every *_clear() leaves its struct zeroed, so clearing twice, or clearing
 * a struct that a failed operation left empty, is harmless.
 */
#include "store/store.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/hex.h"
#include "common/text.h"
#include "store/store_impl.h"

int
store_open(const struct store_spec *sp, struct store **out, char *err,
	   size_t errlen)
{
	*out = NULL;
	if (sp == NULL)
		return vg_fail(err, errlen, VG_EINVAL, "no store configured");
	switch (sp->backend) {
	case STORE_SQLITE: return store_sqlite_open(sp->path, out, err, errlen);
	case STORE_POSTGRES:
		return store_pg_open(sp->dsn, sp->owner, sp->job_lease_ms, out,
				     err, errlen);
	}
	return vg_fail(err, errlen, VG_EINVAL, "unknown store backend %d",
		       (int)sp->backend);
}

int
store_open_writer(const struct store_spec *sp, struct store **out, char *err,
		  size_t errlen)
{
	*out = NULL;
	if (sp != NULL && sp->backend == STORE_SQLITE)
		return store_sqlite_open_writer(sp->path, out, err, errlen);
	/* A PostgreSQL session has no writer of its own: the server
	 * gathers every session's commits into its WAL. */
	return store_open(sp, out, err, errlen);
}

int
store_locate_each(struct store *s, const char *const *sha256, size_t n,
		  struct sample_loc *out, bool *found)
{
	for (size_t i = 0; i < n; i++) {
		int rc = s->ops->sample_locate(s, sha256[i], &out[i]);

		found[i] = rc == 0;
		if (rc != 0)
			memset(&out[i], 0, sizeof(out[i]));
		if (rc != 0 && rc != VG_ENOENT)
			return rc;
	}
	return 0;
}

/* Argument checks (store_impl.h) */

bool
store_valid_hash(const char *h, size_t len)
{
	return h != NULL && strnlen(h, len + 1) == len && hex_is_lower(h, len);
}

bool
store_valid_id(const char *id)
{
	size_t n;

	if (id == NULL)
		return false;
	n = strnlen(id, STORE_ID_MAX + 1);
	return n >= 1 && n <= STORE_ID_MAX;
}

bool
store_valid_verdict(const char *v, size_t n)
{
	static const char *const known[] = {"malicious", "suspicious", "clean",
					    "unknown"};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strlen(known[i]) == n && memcmp(known[i], v, n) == 0)
			return true;
	}
	return false;
}

bool
store_valid_reason(const char *r)
{
	size_t n;

	if (r == NULL)
		return false;
	n = strnlen(r, STORE_FP_REASON_MAX + 1);
	return n >= 1 && n <= STORE_FP_REASON_MAX;
}

bool
store_valid_day(const char *day)
{
	int64_t start;

	return day != NULL && strnlen(day, 11) == 10 &&
	       text_day_parse(day, 10, &start);
}

bool
store_valid_stats(const struct stats_day *d)
{
	return d != NULL && store_valid_day(d->day) && d->doc != NULL &&
	       d->len >= 1 && d->len <= STORE_STATS_DOC_MAX &&
	       memchr(d->doc, '\0', d->len) == NULL && d->created >= 0;
}

bool
store_valid_client(const struct client *c)
{
	return c != NULL && store_valid_id(c->id) &&
	       strnlen(c->region, sizeof(c->region)) <= STORE_REGION_MAX &&
	       c->consent >= CONSENT_NONE && c->consent <= CONSENT_FILES;
}

bool
store_valid_submission(const struct submission_add *it)
{
	const struct submission *sub = it->sub;
	const struct sample_loc *loc = it->loc;

	return sub != NULL && store_valid_id(sub->id) &&
	       store_valid_id(sub->client_id) &&
	       store_valid_hash(sub->sha256, 64) &&
	       store_valid_hash(it->md5, 32) &&
	       store_valid_hash(it->sha1, 40) && sub->metadata != NULL &&
	       it->size <= INT64_MAX && (!it->no_bytes || loc == NULL) &&
	       (loc == NULL ||
		(loc->segment != 0 && loc->segment <= INT64_MAX &&
		 loc->offset <= INT64_MAX && loc->length != 0 &&
		 loc->length <= INT64_MAX));
}

bool
store_valid_note(const struct reputation *r)
{
	return store_valid_hash(r->md5, 32) && store_valid_hash(r->sha1, 40) &&
	       store_valid_hash(r->sha256, 64) && r->verdict != NULL &&
	       store_valid_verdict(r->verdict, strlen(r->verdict)) &&
	       r->detections != NULL && r->size <= INT64_MAX &&
	       isfinite(r->analysis_ms) && r->analysis_ms >= 0 &&
	       store_valid_hash(r->derived_from, 64) && r->derived_job > 0 &&
	       strcmp(r->derived_from, r->sha256) != 0;
}

bool
store_valid_result(const char *report_json, const char *verdict,
		   const char *detections_json, double analysis_ms)
{
	return report_json != NULL && verdict != NULL &&
	       store_valid_verdict(verdict, strlen(verdict)) &&
	       detections_json != NULL && isfinite(analysis_ms) &&
	       analysis_ms >= 0;
}

bool
store_valid_failure(const char *sha256, const char *reason, double analysis_ms)
{
	return store_valid_hash(sha256, 64) && reason != NULL &&
	       reason[0] != '\0' &&
	       strnlen(reason, STORE_FAIL_REASON_MAX + 1) <=
		       STORE_FAIL_REASON_MAX &&
	       isfinite(analysis_ms) && analysis_ms >= 0;
}

bool
store_valid_operator_name(const char *name)
{
	size_t n;

	if (name == NULL)
		return false;
	n = strnlen(name, STORE_OPERATOR_NAME_MAX + 1);
	if (n == 0 || n > STORE_OPERATOR_NAME_MAX ||
	    strcmp(name, STORE_OPERATOR_ROOT) == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
			return false;
	return true;
}

void
client_clear(struct client *c)
{
	if (c == NULL)
		return;
	/* Nothing is owned, but the token hash should not linger. */
	memset(c, 0, sizeof(*c));
}

void
reputation_clear(struct reputation *r)
{
	if (r == NULL)
		return;
	free(r->verdict);
	free(r->detections);
	free(r->type);
	free(r->because);
	memset(r, 0, sizeof(*r));
}

void
submission_clear(struct submission *s)
{
	if (s == NULL)
		return;
	free(s->metadata);
	memset(s, 0, sizeof(*s));
}

void
job_clear(struct job *j)
{
	if (j == NULL)
		return;
	free(j->report);
	free(j->error);
	memset(j, 0, sizeof(*j));
}

void
retraction_clear(struct retraction *r)
{
	if (r == NULL)
		return;
	free(r->detections);
	free(r->reason);
	memset(r, 0, sizeof(*r));
}

void
erasure_clear(struct erasure *e)
{
	if (e == NULL)
		return;
	free(e->locs);
	free(e->changed);
	memset(e, 0, sizeof(*e));
}

bool
store_valid_case(const char *c)
{
	size_t n;

	if (c == NULL || (n = strnlen(c, STORE_HOLD_CASE_MAX + 1)) == 0 ||
	    n > STORE_HOLD_CASE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = c[i];
		bool alnum = (ch >= 'a' && ch <= 'z') ||
			     (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9');

		if (!alnum && (i == 0 || (ch != '.' && ch != '_' && ch != ':' &&
					  ch != '-')))
			return false;
	}
	return true;
}

void
retention_clear(struct retention *r)
{
	if (r == NULL)
		return;
	free(r->locs);
	free(r->changed);
	memset(r, 0, sizeof(*r));
}

void
client_subs_free(struct client_sub *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		submission_clear(&v[i].sub);
		reputation_clear(&v[i].rep);
	}
	free(v);
}

void
client_fps_free(struct client_fp *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i].reason);
	free(v);
}

void
fp_summaries_free(struct fp_summary *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < v[i].reporters; k++)
			free(v[i].reasons[k]);
		free(v[i].reasons);
	}
	free(v);
}

void
stats_day_clear(struct stats_day *d)
{
	if (d == NULL)
		return;
	free(d->doc);
	memset(d, 0, sizeof(*d));
}
