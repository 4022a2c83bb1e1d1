/*
 * analysis.c - the analysis supervisor; see analysis.h.
 *
 * Why processes and not threads: sample bytes are hostile and parsed by
 * large C libraries; a parser bug must cost one worker, never the node.
 * Why one thread per slot: the supervisor's work for a job is a few
 * blocking steps (claim, decrypt, hand over, wait with a deadline, store
 * the result), and a thread per worker keeps each of them a plain
 * sequential loop whose every failure path is visible.
 */
#include "node/analysis.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "engine/report.h"
#include "engine/rules.h"
#include "node/activerules.h"
#include "node/report_check.h"
#include "node/worker_answer.h"
#include "node/worker.h"
#include "node/workerproc.h"
#include "store/store.h"

#define IDLE_WAIT_MS 1000 /* how often an idle slot looks anyway */

struct slot {
	struct analysis *a;
	pthread_t thread;
	unsigned index;
	unsigned generation; /* of the rules the worker loaded */
	struct workerproc w;
	struct store *store;
	uint64_t last_job_ms; /* when the slot last finished a job */
	/* The job or rescan being analysed (id 0: none), for the lease
	 * thread, which renews only these. */
	_Atomic int64_t held_id;
	_Atomic bool held_rescan;
};

struct analysis {
	struct analysis_config cfg;
	struct store_spec store;
	char *worker_path, *rules_dir;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping;
	unsigned long kicks;
	_Atomic unsigned generation; /* bumped by analysis_reload() */
	char (*done)[65];
	size_t n_done, cap_done;
	_Atomic uint64_t jobs_done, jobs_failed, jobs_retried, restarts, busy;
	_Atomic uint64_t deferred; /* waits of yield_to_ingest() */
	_Atomic uint64_t reanalysed, verdicts_changed;
	/* The generation whose rescans were queued (rescan_queue); another
	 * value than generation makes the next slot queue them. */
	_Atomic unsigned queued_generation;
	unsigned n_slots;
	struct slot slot[ANALYSIS_MAX_SLOTS];
	/* On PostgreSQL: the thread that renews this node's job leases, so
	 * that only a node that stopped renewing (it died, or lost the
	 * cluster) has its jobs taken over by another. */
	pthread_t lease_thread;
	struct store *lease_store;
	_Atomic uint64_t lease_renewals, lease_failures;
};

/* Hands a changed sample to the event loop. */
static void
post_done(struct analysis *a, const char *sha256)
{
	char b = 1;

	pthread_mutex_lock(&a->mu);
	if (a->n_done == a->cap_done) {
		a->cap_done = a->cap_done ? 2 * a->cap_done : 64;
		a->done = xreallocarray(a->done, a->cap_done, sizeof(*a->done));
	}
	snprintf(a->done[a->n_done++], 65, "%s", sha256);
	pthread_mutex_unlock(&a->mu);
	/* A full pipe means the loop has a wake-up pending already. A
	 * closed one (EPIPE) means the loops have stopped while the last
	 * jobs finish (SIGTERM): the result is in the store, and nobody is
	 * left to wake. */
	if (write(a->cfg.notify_fd, &b, 1) < 0 && errno != EAGAIN &&
	    errno != EPIPE)
		log_event(LOG_WARN, "notify_failed", "errno=%d", errno);
}

size_t
analysis_take_done(struct analysis *a, char (**out)[65])
{
	size_t n;

	pthread_mutex_lock(&a->mu);
	*out = a->done;
	n = a->n_done;
	a->done = NULL;
	a->n_done = a->cap_done = 0;
	pthread_mutex_unlock(&a->mu);
	return n;
}

void
analysis_kick(struct analysis *a)
{
	pthread_mutex_lock(&a->mu);
	a->kicks++;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

void
analysis_reload(struct analysis *a)
{
	if (a == NULL)
		return;
	a->generation++;
	analysis_kick(a);
}

void
analysis_stats(struct analysis *a, struct analysis_stats *st)
{
	st->jobs_done = a->jobs_done;
	st->jobs_failed = a->jobs_failed;
	st->jobs_retried = a->jobs_retried;
	st->worker_restarts = a->restarts;
	st->busy = a->busy;
	st->deferred = a->deferred;
	st->reanalysed = a->reanalysed;
	st->verdicts_changed = a->verdicts_changed;
}

/* The rules changed (or the node started): queues the stored samples
 * for re-analysis if their verdicts were made with other rules. */
static void
queue_rescans(struct slot *s)
{
	struct analysis *a = s->a;
	char gen[65];
	uint64_t n = 0;

	if (a->cfg.rules == NULL ||
	    activerules_generation(a->cfg.rules, gen) != 0) {
		log_event(LOG_WARN, "rules_unreadable",
			  "func=%s reason=\"no re-analysis queued\"", __func__);
		return;
	}
	if (s->store->ops->rescan_queue(s->store, gen, &n) != 0) {
		log_event(LOG_ERROR, "store_failed",
			  "func=%s op=rescan_queue err=\"%s\"", __func__,
			  s->store->err);
		return;
	}
	log_event(LOG_INFO, "rules_generation", "generation=%s queued=%llu",
		  gen, (unsigned long long)n);
	if (n > 0)
		analysis_kick(a);
}

/* A worker could not load a rule file the node had accepted (worker.h,
 * RULE_QUARANTINED): it is taken out of the active rules, and every
 * worker restarts without it. */
static void
rule_unloadable(struct slot *s, char *text)
{
	struct analysis *a = s->a;
	char *nl = strchr(text, '\n'), why[RULES_REASON_MAX], v[600];

	if (nl == NULL)
		return;
	*nl = '\0';
	log_event(LOG_WARN, "worker_rule_unloadable", "slot=%u file=%s",
		  s->index, log_value(text, v, sizeof(v)));
	snprintf(why, sizeof(why), "a worker could not load it: %s", nl + 1);
	if (a->cfg.rules != NULL &&
	    activerules_quarantine(a->cfg.rules, text, why) == 0)
		analysis_reload(a);
}

/* Starts a worker that loads the rule paths given (n_rules of them; none:
 * no YARA rules) and waits for its READY. */
static int
spawn_with(struct slot *s, char *const *rules, size_t n_rules)
{
	struct analysis *a = s->a;
	struct worker_msg_hdr h;
	char **args;
	size_t n_args = 0;
	uint64_t t0;
	int rc;

	args = xcalloc(2 * n_rules + 1, sizeof(*args));
	for (size_t i = 0; i < n_rules; i++) {
		args[n_args++] = "--rules";
		args[n_args++] = rules[i];
	}
	rc = workerproc_start(&s->w, a->worker_path, args, n_args,
			      a->cfg.max_scan_ms);
	if (rc == VG_ELIB)
		log_event(LOG_ERROR, "worker_spawn_failed", "path=%s errno=%d",
			  a->worker_path, errno);
	free(args);
	if (rc != 0)
		return VG_EIO;
	/* Before its READY, the worker names the rule files it could not
	 * load, if any; at most RULES_MAX_FILES of them. */
	t0 = clock_ms();
	for (unsigned k = 0; k <= RULES_MAX_FILES; k++) {
		char text[WORKER_MAX_ERROR + 1];
		uint64_t now = clock_ms();

		rc = VG_EIO;
		if (now - t0 >= WORKERPROC_READY_TIMEOUT_MS ||
		    workerproc_wait_hdr(
			    &s->w, WORKERPROC_READY_TIMEOUT_MS - (now - t0),
			    &h) != 0)
			break;
		if (h.type == WORKER_READY) {
			rc = 0;
			break;
		}
		if (h.type != WORKER_RULE_QUARANTINED ||
		    worker_recv_error(s->w.sock, &h, text, sizeof(text)) != 0)
			break;
		rule_unloadable(s, text);
	}
	if (rc != 0) {
		char why[128];

		workerproc_reap(&s->w, true, why, sizeof(why));
		log_event(LOG_ERROR, "worker_not_ready",
			  "slot=%u reason=\"%s\"", s->index, why);
		return VG_EIO;
	}
	log_event(LOG_INFO, "worker_started", "slot=%u pid=%d", s->index,
		  (int)s->w.pid);
	s->generation = a->generation;
	return 0;
}

/* Starts a worker on the node's rules and waits for its READY. */
static int
spawn(struct slot *s)
{
	char *rules = s->a->rules_dir;

	return spawn_with(s, &rules, rules != NULL ? 1 : 0);
}

static const char *
jstr(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

/* Notes the reputation of every object found inside the sample, in one
 * transaction: an archive of thousands of members costs one sync. Each
 * object's reputation is its subtree's verdict (cv, decided by the node
 * from the checked report), so that a container of malware is never clean.
 * The worker that wrote the report is trusted for its own sample only:
 * every object's verdict is noted as derived from job j's sample, and the
 * store keeps an object's own analysis over any container's note. */
static void
note_objects(struct slot *s, const struct job *j, json_t *report,
	     const struct checked_verdict *cv, size_t n)
{
	bool rescan = j->rescan;
	json_t *objs = json_object_get(report, "objects"), *o;
	size_t k = 0, i, skipped = 0;
	struct reputation *r;

	if (n < 2)
		return;
	r = xcalloc(n, sizeof(*r));
	json_array_foreach(objs, i, o)
	{
		if (i == 0 || i >= n)
			continue;
		snprintf(r[k].md5, sizeof(r[k].md5), "%s", jstr(o, "md5"));
		snprintf(r[k].sha1, sizeof(r[k].sha1), "%s", jstr(o, "sha1"));
		snprintf(r[k].sha256, sizeof(r[k].sha256), "%s",
			 jstr(o, "sha256"));
		r[k].size = (uint64_t)json_integer_value(
			json_object_get(o, "size"));
		r[k].verdict = (char *)cv[i].verdict;
		r[k].score = cv[i].score;
		r[k].detections = cv[i].detections;
		r[k].because = cv[i].because;
		r[k].type =
			(char *)json_string_value(json_object_get(o, "mime"));
		memcpy(r[k].derived_from, j->sha256, sizeof(r[k].derived_from));
		r[k].derived_job = j->id;
		k++;
	}
	if ((rescan ? s->store->ops->objects_renote_many(s->store, r, k,
							 &skipped)
		    : s->store->ops->reputation_note_many(s->store, r, k,
							  &skipped)) == 0) {
		for (i = 0; i < k; i++)
			post_done(s->a, r[i].sha256);
	} else {
		log_event(LOG_ERROR, "store_failed",
			  "op=reputation_note_many err=\"%s\"", s->store->err);
	}
	free(r);
}

/* Records the analysis of job j from its worker's report, read and
 * checked (worker_answer.h). */
static int
apply_report(struct slot *s, const struct job *j, struct worker_answer *ans,
	     double ms)
{
	json_t *r = ans->report, *o0;
	const struct checked_verdict *cv = ans->cv;
	size_t n = ans->n;
	char *stored = NULL;
	int rc = VG_EFORMAT;

	o0 = json_array_get(json_object_get(r, "objects"), 0);
	/* The worker saw bytes, not a name: the sample is its SHA-256. */
	json_object_set_new(r, "path", json_string(j->sha256));
	stored = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (stored == NULL)
		goto out;
	/* The objects first, stored and announced: whoever learns that the
	 * sample is done may look up what was inside it at once. */
	note_objects(s, j, r, cv, n);
	if (j->rescan) {
		bool changed = false;

		rc = s->store->ops->rescan_finish(
			s->store, j->id, stored, cv[0].verdict, cv[0].score,
			cv[0].detections, cv[0].because,
			json_string_value(json_object_get(o0, "mime")), ms,
			&changed);
		if (rc == 0) {
			s->a->reanalysed++;
			if (changed) {
				s->a->verdicts_changed++;
				log_event(LOG_INFO, "verdict_changed",
					  "sha256=%s verdict=%s", j->sha256,
					  cv[0].verdict);
			}
		} else if (rc == VG_EINVAL) {
			/* Queued again by newer rules meanwhile: that
			 * analysis will write the verdict. */
			rc = 0;
		}
	} else {
		rc = s->store->ops->job_finish(
			s->store, j->id, stored, cv[0].verdict, cv[0].score,
			cv[0].detections, cv[0].because,
			json_string_value(json_object_get(o0, "mime")), ms);
	}
	if (rc == 0)
		post_done(s->a, j->sha256);
out:
	free(stored);
	return rc;
}

/* Records on the sample that its analysis failed or was stopped (reason, a
 * detection name): never clean (store.h, reputation_fail). */
static void
note_failure(struct slot *s, const struct job *j, const char *reason, double ms)
{
	if (s->store->ops->reputation_fail(s->store, j->sha256, reason, ms) !=
	    0)
		log_event(LOG_ERROR, "store_failed",
			  "op=reputation_fail err=\"%s\"", s->store->err);
}

/* A job that could not be analysed: retried, or after the last attempt
 * failed, with the verdict suspicious (Analysis.Failed) if note. */
static void
job_failed_note(struct slot *s, const struct job *j, const char *why,
		int final, bool note)
{
	int max = final ? j->attempts : ANALYSIS_MAX_ATTEMPTS;
	int last = j->attempts >= max; /* job_fail's own test */

	log_event(LOG_WARN, "job_failed",
		  "job=%lld sha256=%s attempt=%d rescan=%d reason=\"%s\"",
		  (long long)j->id, j->sha256, j->attempts, (int)j->rescan,
		  why);
	/* The verdict before the job's state: whoever sees the job failed
	 * sees a verdict that is not clean. A re-analysis that fails for
	 * good does too: the rules it was meant to apply were never
	 * applied. */
	if (last && note)
		note_failure(s, j, "Analysis.Failed", 0);
	if (j->rescan) {
		bool dropped = false;

		if (s->store->ops->rescan_fail(s->store, j->id, max,
					       &dropped) != 0)
			log_event(LOG_ERROR, "store_failed",
				  "op=rescan_fail err=\"%s\"", s->store->err);
		else if (!dropped)
			analysis_kick(s->a);
		else
			post_done(s->a, j->sha256);
		return;
	}
	if (s->store->ops->job_fail(s->store, j->id, why, max) != 0) {
		log_event(LOG_ERROR, "store_failed", "op=job_fail err=\"%s\"",
			  s->store->err);
		return;
	}
	if (!last) {
		s->a->jobs_retried++;
		analysis_kick(s->a);
		return;
	}
	s->a->jobs_failed++;
	post_done(s->a, j->sha256);
}

static void
job_failed(struct slot *s, const struct job *j, const char *why, int final)
{
	job_failed_note(s, j, why, final, true);
}

/* Job j ran past the node's time limit: the node stopped it, once and for
 * all. Retrying would only let one sample hold a worker for longer. */
static void
job_stopped(struct slot *s, const struct job *j, uint64_t ms)
{
	char why[160];

	snprintf(why, sizeof(why),
		 "stopped by the node: no report within the time limit "
		 "(max_scan_ms %u, %llu ms)",
		 s->a->cfg.max_scan_ms, (unsigned long long)ms);
	log_event(LOG_WARN, "job_stopped",
		  "job=%lld sha256=%s attempt=%d ms=%llu", (long long)j->id,
		  j->sha256, j->attempts, (unsigned long long)ms);
	note_failure(s, j, "Limits.Exceeded.Time", (double)ms);
	if (j->rescan) {
		bool dropped = false;

		if (s->store->ops->rescan_fail(s->store, j->id, j->attempts,
					       &dropped) != 0)
			log_event(LOG_ERROR, "store_failed",
				  "op=rescan_fail err=\"%s\"", s->store->err);
		post_done(s->a, j->sha256);
		return;
	}
	if (s->store->ops->job_fail(s->store, j->id, why, j->attempts) != 0) {
		log_event(LOG_ERROR, "store_failed", "op=job_fail err=\"%s\"",
			  s->store->err);
		return;
	}
	s->a->jobs_failed++;
	post_done(s->a, j->sha256);
}

/* The sample of job j, decrypted into a sealed memfd (*fd, *len bytes). */
static int
load_sample(struct slot *s, const struct job *j, int *fd, size_t *len)
{
	struct sample_loc loc;
	uint8_t *buf = NULL;
	int rc;

	*fd = -1;
	rc = s->store->ops->sample_locate(s->store, j->sha256, &loc);
	if (rc == 0)
		rc = samples_read(s->a->cfg.samples, &loc, j->sha256, &buf,
				  len);
	if (rc != 0)
		return rc;
	*fd = workerproc_sample_fd("vigil-sample", buf, *len);
	free(buf);
	return *fd < 0 ? VG_EIO : 0;
}

/*
 * One run of job j's sample on a fresh worker that loads only the n rule
 * files given: 1 if the worker crashed or missed its deadline, 0 if it
 * answered (a report or an engine error), VG_EIO if no worker started.
 * The worker is killed either way: only the outcome counts.
 */
static int
trial(struct slot *s, const struct job *j, int fd, size_t len,
      char *const *files, size_t n)
{
	struct analysis *a = s->a;
	struct worker_msg_hdr h;
	uint64_t t0, deadline, now;
	int failed = 1;

	if (spawn_with(s, files, n) != 0)
		return VG_EIO;
	t0 = clock_ms();
	deadline = t0 + a->cfg.max_scan_ms +
		   (a->cfg.max_scan_ms < ANALYSIS_GRACE_MS ? a->cfg.max_scan_ms
							   : ANALYSIS_GRACE_MS);
	if (worker_send_hdr(s->w.sock, WORKER_JOB, (uint64_t)j->id, len, fd) !=
	    0)
		goto out;
	now = clock_ms();
	if (now < deadline &&
	    workerproc_wait_hdr(&s->w, deadline - now, &h) == 0 &&
	    h.job_id == (uint64_t)j->id &&
	    (h.type == WORKER_REPORT || h.type == WORKER_ERROR))
		failed = 0;
out:
	workerproc_reap(&s->w, true, NULL, 0);
	return failed;
}

/*
 * Job j's sample crashed or hung its worker twice in a row (why: how, the
 * second time). Is one rule file to blame? With no rules at all the
 * sample must pass (or no rule is to blame); then the active files are
 * halved, keeping the half that still fails alone, down to one file,
 * which is quarantined. A failure that needs files from both halves, or
 * that does not come back, blames nothing. At most
 * ANALYSIS_BISECT_MAX_RUNS runs, each within the job's deadline, all on
 * this slot while its job waits.
 */
static void
bisect(struct slot *s, const struct job *j, const char *why)
{
	struct analysis *a = s->a;
	char **files = NULL, reason[RULES_REASON_MAX], v[600];
	const char *blamed = "none";
	size_t n = 0, lo = 0, cnt, runs = 0;
	bool pinned = false; /* the last run was files[lo] alone, failing */
	size_t len = 0;
	int fd = -1, r;

	if (a->cfg.rules == NULL ||
	    activerules_files(a->cfg.rules, &files, &n) != 0 || n == 0 ||
	    load_sample(s, j, &fd, &len) != 0)
		goto out;
	runs++;
	if (trial(s, j, fd, len, NULL, 0) != 0)
		goto out;
	for (cnt = n; cnt > 1 && runs + 2 <= ANALYSIS_BISECT_MAX_RUNS;) {
		size_t half = cnt / 2;

		runs++;
		r = trial(s, j, fd, len, files + lo, half);
		if (r == 0) {
			runs++;
			r = trial(s, j, fd, len, files + lo + half, cnt - half);
			if (r == 1)
				lo += half;
			half = cnt - half;
		}
		if (r != 1) /* neither half alone, or no worker to try */
			goto out;
		cnt = half;
		pinned = cnt == 1;
	}
	if (cnt != 1)
		goto out;
	if (!pinned) {
		runs++;
		if (trial(s, j, fd, len, files + lo, 1) != 1)
			goto out;
	}
	/* /healthz shows the reason to anyone: the sample is named only in
	 * the log (event=rule_bisect). */
	snprintf(reason, sizeof(reason),
		 "a sample failed analysis twice (%s); this file alone "
		 "reproduces it (%zu runs)",
		 why, runs);
	if (activerules_quarantine(a->cfg.rules, files[lo], reason) == 0) {
		blamed = strrchr(files[lo], '/') ? strrchr(files[lo], '/') + 1
						 : files[lo];
		analysis_reload(a);
	}
out:
	log_event(LOG_WARN, "rule_bisect",
		  "job=%lld sha256=%s runs=%zu file=%s", (long long)j->id,
		  j->sha256, runs, log_value(blamed, v, sizeof(v)));
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
}

/* The worker crashed or hung on job j (killed and reaped by now): the job
 * is retried. The second time in a row, with an attempt left, the rules
 * are searched for one to blame first (bisect()). */
static void
worker_failed(struct slot *s, const struct job *j, const char *why)
{
	if (j->attempts >= 2 && j->attempts < ANALYSIS_MAX_ATTEMPTS &&
	    j->error != NULL && strncmp(j->error, "worker ", 7) == 0)
		bisect(s, j, why);
	job_failed(s, j, why, 0);
}

/* The worker died or broke the protocol during job j: it is killed and
 * replaced, and the job is retried with how the worker ended as reason. */
static void
lost_worker(struct slot *s, const struct job *j)
{
	char why[160];

	workerproc_reap(&s->w, true, why, sizeof(why));
	s->a->restarts++;
	worker_failed(s, j, why);
}

static void
run_job(struct slot *s, struct job *j)
{
	struct analysis *a = s->a;
	struct worker_answer ans;
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[160];
	uint64_t t0 = clock_ms(), t_sent, deadline;
	struct sample_loc loc;
	int fd, rc;

	rc = s->store->ops->sample_locate(s->store, j->sha256, &loc);
	if (rc == VG_ENOENT) {
		/* No bytes stored: erased since the job was claimed (its
		 * client's data, docs/PRIVACY.md). Nothing to analyse and no
		 * verdict to give: failed for good, the verdict untouched. */
		job_failed_note(s, j, "sample erased", 1, false);
		return;
	}
	if (rc == 0)
		rc = samples_read(a->cfg.samples, &loc, j->sha256, &buf, &len);
	if (rc != 0) {
		/* Retrying cannot bring back a missing or corrupt sample;
		 * a store or disk error may pass. */
		snprintf(why, sizeof(why), "sample unreadable: %s",
			 vg_strerror(rc));
		job_failed(s, j, why, rc == VG_ENOENT || rc == VG_ECORRUPT);
		return;
	}
	fd = workerproc_sample_fd("vigil-sample", buf, len);
	free(buf);
	if (fd < 0) {
		job_failed(s, j, "cannot hand the sample over (memfd)", 0);
		return;
	}
	if (s->w.pid == 0 && spawn(s) != 0) {
		close(fd);
		job_failed(s, j, "no worker could be started", 0);
		return;
	}
	rc = worker_send_hdr(s->w.sock, WORKER_JOB, (uint64_t)j->id, len, fd);
	close(fd);
	if (rc != 0) {
		lost_worker(s, j);
		return;
	}
	/* The worker has the sample from now on. The engine stops itself at
	 * max_scan_ms and reports the limit; the grace covers that report,
	 * not a second budget. Past it the node stops the job itself, once:
	 * no sample holds a worker longer than the limit and the grace. */
	t_sent = clock_ms();
	deadline = t_sent + a->cfg.max_scan_ms +
		   (a->cfg.max_scan_ms < ANALYSIS_GRACE_MS ? a->cfg.max_scan_ms
							   : ANALYSIS_GRACE_MS);
	for (;;) {
		struct pollfd pfd = {.fd = s->w.sock, .events = POLLIN};
		uint64_t now = clock_ms();
		int n;

		if (now >= deadline) {
			workerproc_reap(&s->w, true, NULL, 0);
			a->restarts++;
			job_stopped(s, j, now - t_sent);
			/* Was a rule to blame? The verdict is recorded
			 * already; the search only holds this slot. */
			snprintf(why, sizeof(why),
				 "worker hung: no report after %llu ms",
				 (unsigned long long)(now - t_sent));
			bisect(s, j, why);
			return;
		}
		n = poll(&pfd, 1, (int)(deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 1)
			break;
	}
	if (worker_answer_read(s->w.sock, (uint64_t)j->id, j->sha256, &ans) !=
	    0) {
		worker_answer_clear(&ans);
		lost_worker(s, j);
		return;
	}
	/* The worker empties its tmpdir before it answers (worker.h). */
	if (ans.kind == WORKER_ANSWER_ERROR) {
		snprintf(why, sizeof(why), "engine: %.120s", ans.reason);
		job_failed(s, j, why, 0);
	} else if (ans.kind != WORKER_ANSWER_REPORT ||
		   apply_report(s, j, &ans, (double)(clock_ms() - t0)) != 0) {
		job_failed(s, j, "the worker's report is malformed", 0);
	} else {
		a->jobs_done++;
		log_event(LOG_INFO, "analysed", "job=%lld sha256=%s ms=%llu",
			  (long long)j->id, j->sha256,
			  (unsigned long long)(clock_ms() - t0));
	}
	worker_answer_clear(&ans);
}

/*
 * Submissions are what clients wait on, analyses are not: during a burst
 * of submissions (analysis_config.yield_rate, or submissions queued
 * behind the committer's batch: a burst at whatever rate this node's
 * store commits, on SQLite or PostgreSQL), the slot lets the event
 * loops and the committer have the CPU, and the jobs wait in the store,
 * durable. It still takes a job at least every ANALYSIS_YIELD_MAX_MS, so
 * that a sustained burst slows analysis down but never stops it.
 */
static void
yield_to_ingest(struct slot *s)
{
	struct analysis *a = s->a;
	const struct timespec step = {0, ANALYSIS_YIELD_STEP_MS * 1000000L};

	if (a->cfg.yield_rate == 0 || a->cfg.ingest_rate == NULL)
		return;
	/* A sleep, not a wait on a->cv: every submission kicks that. */
	for (;;) {
		int stopping;

		pthread_mutex_lock(&a->mu);
		stopping = a->stopping;
		pthread_mutex_unlock(&a->mu);
		if (stopping ||
		    clock_ms() - s->last_job_ms >= ANALYSIS_YIELD_MAX_MS ||
		    (a->cfg.ingest_rate(a->cfg.ingest_ud) < a->cfg.yield_rate &&
		     (a->cfg.ingest_backlog == NULL ||
		      !a->cfg.ingest_backlog(a->cfg.ingest_ud))))
			return;
		a->deferred++;
		nanosleep(&step, NULL);
	}
}

static void *
slot_main(void *arg)
{
	struct slot *s = arg;
	struct analysis *a = s->a;

	for (;;) {
		struct job j;
		int rc;

		pthread_mutex_lock(&a->mu);
		if (a->stopping) {
			pthread_mutex_unlock(&a->mu);
			break;
		}
		pthread_mutex_unlock(&a->mu);
		/* Rules reloaded: retire the worker between jobs. */
		if (s->w.pid != 0 && s->generation != a->generation)
			workerproc_reap(&s->w, false, NULL, 0);
		if (a->queued_generation != a->generation) {
			unsigned want = a->generation,
				 was = a->queued_generation;

			/* One slot queues them; the others go on. */
			if (was != want &&
			    atomic_compare_exchange_strong(
				    &a->queued_generation, &was, want))
				queue_rescans(s);
		}
		yield_to_ingest(s);
		rc = s->store->ops->job_claim(s->store, &j);
		/* A reload between the check above and the claim. */
		if (rc == 0 && s->w.pid != 0 && s->generation != a->generation)
			workerproc_reap(&s->w, false, NULL, 0);
		if (rc == 0) {
			a->busy++;
			/* Jobs requeued after a crash keep their attempts. */
			s->held_rescan = j.rescan;
			s->held_id = j.id;
			if (j.attempts > ANALYSIS_MAX_ATTEMPTS)
				job_failed(s, &j, "too many attempts", 1);
			else
				run_job(s, &j);
			s->held_id = 0;
			a->busy--;
			job_clear(&j);
			s->last_job_ms = clock_ms();
			continue;
		}
		if (rc != VG_ENOENT)
			log_event(LOG_ERROR, "store_failed",
				  "op=job_claim err=\"%s\"", s->store->err);
		pthread_mutex_lock(&a->mu);
		if (!a->stopping) {
			unsigned long seen = a->kicks;
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += IDLE_WAIT_MS / 1000;
			while (!a->stopping && a->kicks == seen &&
			       pthread_cond_timedwait(&a->cv, &a->mu, &ts) == 0)
				;
		}
		pthread_mutex_unlock(&a->mu);
	}
	workerproc_reap(&s->w, false, NULL, 0);
	return NULL;
}

/* Renews the leases of the jobs the slots are analysing now, three
 * times a lease, until the analysis stops. A renewal that fails (the
 * store is lost) is tried again at the next turn; if the lease runs out
 * meanwhile, another node takes the job over and this node's result is
 * refused (job_finish: VG_EINVAL), which the slot logs and drops. A job
 * a slot gave up on (its result could not be recorded: the store was
 * lost) is no longer renewed, so that it is analysed again once its
 * lease has run out, here or elsewhere. */
static void *
lease_main(void *arg)
{
	struct analysis *a = arg;
	unsigned every =
		(a->store.job_lease_ms ? a->store.job_lease_ms : 30000) / 3;

	pthread_mutex_lock(&a->mu);
	while (!a->stopping) {
		struct timespec ts;
		uint64_t n = 0;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += every / 1000;
		ts.tv_nsec += (long)(every % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!a->stopping &&
		       pthread_cond_timedwait(&a->cv, &a->mu, &ts) == 0)
			;
		if (a->stopping)
			break;
		pthread_mutex_unlock(&a->mu);
		struct job_held held[ANALYSIS_MAX_SLOTS];
		size_t nh = 0;
		for (unsigned i = 0; i < a->n_slots; i++) {
			int64_t id = a->slot[i].held_id;

			if (id != 0) {
				held[nh].id = id;
				held[nh++].rescan = a->slot[i].held_rescan;
			}
		}
		if (a->lease_store->ops->job_lease_renew(a->lease_store, held,
							 nh, &n) == 0)
			a->lease_renewals += n;
		else {
			a->lease_failures++;
			log_event(LOG_WARN, "lease_renew_failed", "err=\"%s\"",
				  a->lease_store->err);
		}
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

int
analysis_start(const struct analysis_config *cfg, struct analysis **out,
	       char *err, size_t errlen)
{
	struct analysis *a = xcalloc(1, sizeof(*a));
	unsigned i;

	*out = NULL;
	a->cfg = *cfg;
	a->store = *cfg->store;
	a->worker_path = xstrdup(cfg->worker_path);
	a->rules_dir = xstrdup(cfg->rules_dir);
	a->n_slots = cfg->slots < 1                    ? 1
		     : cfg->slots > ANALYSIS_MAX_SLOTS ? ANALYSIS_MAX_SLOTS
						       : cfg->slots;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	a->queued_generation = ~0U; /* compared with the store's at start */
	if (access(a->worker_path, X_OK) != 0) {
		snprintf(err, errlen, "%s: %s", a->worker_path,
			 strerror(errno));
		goto fail;
	}
	if (mkdir(cfg->tmp_root, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", cfg->tmp_root, strerror(errno));
		goto fail;
	}
	for (i = 0; i < a->n_slots; i++) {
		struct slot *s = &a->slot[i];

		s->a = a;
		s->index = i;
		if (workerproc_init(&s->w, cfg->tmp_root, "slot", i) != 0) {
			snprintf(err, errlen, "%s: %s", s->w.tmpdir,
				 strerror(errno));
			goto fail;
		}
		if (store_open(&a->store, &s->store, err, errlen) != 0)
			goto fail;
		/* A claim or a result lost to a power cut is redone: the job
		 * is still queued (or analysing, requeued at start) in the
		 * store. Not syncing them leaves the sync, and the write
		 * lock it holds, to the submissions that must wait for it. */
		if (s->store->ops->set_synced(s->store, false) != 0) {
			snprintf(err, errlen, "%s", s->store->err);
			goto fail;
		}
	}
	if (a->store.backend == STORE_POSTGRES) {
		if (store_open(&a->store, &a->lease_store, err, errlen) != 0)
			goto fail;
		if (pthread_create(&a->lease_thread, NULL, lease_main, a) != 0)
			fatal("cannot start the lease thread");
	}
	for (i = 0; i < a->n_slots; i++)
		if (pthread_create(&a->slot[i].thread, NULL, slot_main,
				   &a->slot[i]) != 0)
			fatal("cannot start analysis thread");
	*out = a;
	return 0;
fail:
	for (i = 0; i < a->n_slots; i++)
		if (a->slot[i].store != NULL)
			a->slot[i].store->ops->close(a->slot[i].store);
	if (a->lease_store != NULL)
		a->lease_store->ops->close(a->lease_store);
	free(a->worker_path);
	free(a->rules_dir);
	free(a);
	return VG_EIO;
}

void
analysis_stop(struct analysis *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	a->stopping = 1;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	for (unsigned i = 0; i < a->n_slots; i++) {
		pthread_join(a->slot[i].thread, NULL);
		a->slot[i].store->ops->close(a->slot[i].store);
	}
	if (a->lease_store != NULL) {
		pthread_join(a->lease_thread, NULL);
		a->lease_store->ops->close(a->lease_store);
	}
	free(a->done);
	free(a->worker_path);
	free(a->rules_dir);
	free(a);
}
