/*
 * worker_answer.h - the node's reading of an analysis worker's answer to
 * one job (worker.h): the framed REPORT or ERROR off the worker's socket,
 * and the report's JSON, checked (report_check.h), before anything of it
 * reaches the store.
 *
 * Everything read here comes from a process that parsed a hostile sample:
 * it is sandboxed, not trusted. A worker that breaks the framing is lost
 * (the caller replaces it and retries the job); a worker that frames a
 * report the node cannot take has analysed the sample badly (the job
 * fails). The two are told apart so that the caller can do either.
 */
#ifndef VIGIL_NODE_WORKER_ANSWER_H
#define VIGIL_NODE_WORKER_ANSWER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "node/report_check.h"
#include "node/worker.h"

enum worker_answer_kind {
	WORKER_ANSWER_REPORT = 1, /* report, cv and n are set */
	WORKER_ANSWER_ERROR,      /* reason is set */
	WORKER_ANSWER_MALFORMED,  /* a framed report the node does not take */
};

struct worker_answer {
	enum worker_answer_kind kind;
	/* ERROR: the engine's reason, NUL-terminated; log it through
	 * log_value(). */
	char reason[WORKER_MAX_ERROR + 1];
	/* REPORT: the report, about the sample asked for, with one checked
	 * verdict per object in cv (n of them). */
	json_t *report;
	struct checked_verdict *cv;
	size_t n;
};

/*
 * Reads the answer of the worker on sock (blocking; poll it first) to
 * job job_id about the sample whose SHA-256 is sha256 (64 lowercase hex
 * digits) into *a. Returns 0 with a->kind set, or, when the worker broke
 * the protocol (a bad or unexpected header, another job's id, a body cut
 * short, an fd attached, EOF), VG_EFORMAT, VG_EIO or VG_ENOENT with *a
 * empty. Release *a with worker_answer_clear() either way.
 */
int worker_answer_read(int sock, uint64_t job_id, const char *sha256,
		       struct worker_answer *a);

/*
 * The report part alone: parses the len bytes at text as a worker's
 * report about sha256 into *a (kind REPORT, or MALFORMED when it is not
 * a JSON report whose first object has that SHA-256 and that
 * report_check() takes). Returns 0.
 */
int worker_answer_parse_report(const char *text, size_t len, const char *sha256,
			       struct worker_answer *a);

/* Frees what *a holds and empties it; a zeroed *a is fine. */
void worker_answer_clear(struct worker_answer *a);

#endif
