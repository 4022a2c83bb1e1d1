/*
 * store.c - the backend-independent part of the metadata store: freeing
 * the strings that operations return in structs; see store.h.
 *
 * Every *_clear() leaves its struct zeroed, so clearing twice, or clearing
 * a struct that a failed operation left empty, is harmless.
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

int
store_open(const struct store_spec *sp, struct store **out, char *err,
	   size_t errlen)
{
	if (sp->backend == STORE_POSTGRES)
		return store_pg_open(sp->dsn, sp->owner, sp->job_lease_ms, out,
				     err, errlen);
	return store_sqlite_open(sp->path, out, err, errlen);
}

int
store_open_writer(const struct store_spec *sp, struct store **out, char *err,
		  size_t errlen)
{
	if (sp->backend == STORE_POSTGRES)
		return store_pg_open(sp->dsn, sp->owner, sp->job_lease_ms, out,
				     err, errlen);
	return store_sqlite_open_writer(sp->path, out, err, errlen);
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
