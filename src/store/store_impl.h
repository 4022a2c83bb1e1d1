/*
 * store_impl.h - what the metadata store's backends (store_sqlite.c,
 * store_pg.c) share and callers do not see: the limits of stored values
 * and the checks of an operation's arguments, so that both backends
 * refuse the same input with the same code. Defined in store.c.
 */
#ifndef VIGIL_STORE_STORE_IMPL_H
#define VIGIL_STORE_STORE_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

#define STORE_ID_MAX     36 /* a UUID's text form */
#define STORE_REGION_MAX 32 /* sizeof(client.region) - 1 */
/* reputation_fail()'s reason: a detection name. */
#define STORE_FAIL_REASON_MAX 128

/* Whether h is exactly len lowercase hex digits. Hashes are lowercase
 * only: they are keys, and "ABC" and "abc" must not be two samples. */
bool store_valid_hash(const char *h, size_t len);

/* Whether id is 1 to STORE_ID_MAX bytes. */
bool store_valid_id(const char *id);

/* Whether the n bytes at v are one of the four verdicts. */
bool store_valid_verdict(const char *v, size_t n);

/* Whether r is a reason of 1 to STORE_FP_REASON_MAX bytes. */
bool store_valid_reason(const char *r);

/* Whether c can be stored (client_put). */
bool store_valid_client(const struct client *c);

/* Whether it's submission can be stored (submission_add). */
bool store_valid_submission(const struct submission_add *it);

/* Whether r is a derived verdict reputation_note can record. */
bool store_valid_note(const struct reputation *r);

/* Whether an analysis result can be recorded (job_finish,
 * rescan_finish). */
bool store_valid_result(const char *report_json, const char *verdict,
			const char *detections_json, double analysis_ms);

/* Whether reputation_fail's arguments are valid. */
bool store_valid_failure(const char *sha256, const char *reason,
			 double analysis_ms);

/* Whether name is an operator's name that can be stored: a label (1 to
 * STORE_OPERATOR_NAME_MAX of a-z, 0-9, -) other than
 * STORE_OPERATOR_ROOT. */
bool store_valid_operator_name(const char *name);

/* Whether day is a day "YYYY-MM-DD" that exists (text_day_parse). */
bool store_valid_day(const char *day);

/* Whether d can be stored (stats_put): a valid day and a document of 1
 * to STORE_STATS_DOC_MAX bytes without NUL. */
bool store_valid_stats(const struct stats_day *d);

/* sample_locate_many() as n sample_locate()s: for a backend whose
 * lookups cost no round trip. */
int store_locate_each(struct store *s, const char *const *sha256, size_t n,
		      struct sample_loc *out, bool *found);

#endif
