/*
 * worker_answer.c - the node's reading of an analysis worker's answer to
 * one job: framing (worker.c's helpers) and the report (report_check.c);
 * see worker_answer.h.
 */
#include "node/worker_answer.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/xmalloc.h"

int
worker_answer_parse_report(const char *text, size_t len, const char *sha256,
			   struct worker_answer *a)
{
	json_t *r = json_loadb(text, len, 0, NULL), *o0;
	const char *sha;

	memset(a, 0, sizeof(*a));
	a->kind = WORKER_ANSWER_MALFORMED;
	if (r == NULL)
		return 0;
	o0 = json_array_get(json_object_get(r, "objects"), 0);
	sha = json_string_value(json_object_get(o0, "sha256"));
	/* The report must be about the sample the worker was given, and
	 * well-formed; the verdicts are the node's (report_check.h). */
	if (sha == NULL || strcmp(sha, sha256) != 0 ||
	    report_check(r, &a->cv, &a->n) != 0) {
		json_decref(r);
		return 0;
	}
	a->kind = WORKER_ANSWER_REPORT;
	a->report = r;
	return 0;
}

int
worker_answer_read(int sock, uint64_t job_id, const char *sha256,
		   struct worker_answer *a)
{
	struct worker_msg_hdr h;
	char *text;
	int rc;

	memset(a, 0, sizeof(*a));
	if ((rc = worker_recv_hdr(sock, &h, NULL)) != 0)
		return rc;
	if (h.job_id != job_id ||
	    (h.type != WORKER_REPORT && h.type != WORKER_ERROR))
		return VG_EFORMAT;
	if (h.type == WORKER_ERROR) {
		if ((rc = worker_recv_error(sock, &h, a->reason,
					    sizeof(a->reason))) != 0)
			return rc;
		a->kind = WORKER_ANSWER_ERROR;
		return 0;
	}
	/* h.len is at most WORKER_MAX_REPORT (worker_recv_hdr). */
	text = xmalloc(h.len + 1);
	if ((rc = worker_recv_body(sock, text, h.len)) != 0) {
		free(text);
		return rc;
	}
	text[h.len] = '\0';
	rc = worker_answer_parse_report(text, h.len, sha256, a);
	free(text);
	return rc;
}

void
worker_answer_clear(struct worker_answer *a)
{
	report_check_free(a->cv, a->n);
	json_decref(a->report);
	memset(a, 0, sizeof(*a));
}
