/*
 * cmd_scan.c - `vigil scan [options] PATH...`
 *
 * The main thread walks the paths and lists the regular files, one job
 * per distinct file (device and inode): a file reached under several names
 * (symbolic or hard links) is analysed once and reported under each name.
 * Then N worker threads, each with its own scanner over one shared engine,
 * take jobs in walk order and print results. Output follows clamscan: `PATH:
 * NAME FOUND` per detection (PATH!INNER for an object inside a container), a
 * summary, and exit status 0 (nothing found), 1 (something found) or 2 (an
 * error, nothing found). With --cloud, the FOUND lines of a file wait for
 * the node's answers (cloud.c): a detection the node retracted as a
 * false positive is printed `PATH: NAME RETRACTED (log N)` instead, and
 * does not count. --json prints one report per file as JSON Lines
 * (docs/REPORT.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cloud.h"
#include "cli/objpath.h"
#include "cli/progress.h"
#include "cli/userconf.h"
#include "cli/walk.h"
#include "common/err.h"
#include "common/text.h"
#include "common/xmalloc.h"
#include "engine/engine.h"
#include "engine/rules.h"

#define SCAN_MAX_JOBS 256

/* One distinct file to analyse, and every name it was reached by. */
struct job {
	char **paths; /* paths[0] is the first name met in the walk */
	size_t n_paths;
	dev_t dev;
	ino_t ino;
	uint64_t size;
};

struct scan {
	struct engine *engine;
	bool json, verbose;
	struct cloud *cloud; /* --cloud; NULL otherwise */
	/* the default rules, and where they come from; NULL with
	 * --no-default-rules */
	const char *rules_dir, *rules_from;
	/* the jobs, in walk order, and an index by (dev, ino) */
	struct job *jobs;
	size_t n_jobs, cap_jobs;
	size_t *index; /* open addressing; SIZE_MAX is empty */
	size_t index_cap;
	_Atomic size_t next_job;
	/* results, under progress_lock() */
	uint64_t n_files, n_distinct, n_objects, n_malicious, n_suspicious;
	uint64_t n_errors;
	uint64_t bytes;
	struct progress prog;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: vigil scan [options] PATH...\n"
		"\n"
		"Scans files and directories (recursively), decomposing every\n"
		"archive, document and packed executable, and gives a "
		"verdict.\n"
		"\n"
		"  -j, --jobs N          worker threads (default: number of "
		"cores)\n"
		"      --rules FILE|DIR  add YARA rules (repeatable)\n"
		"      --no-default-rules  do not load the default rules (the\n"
		"                        installed $VIGIL_HOME/rules if any,\n"
		"                        else the built-in ones)\n"
		"      --hashes FILE     add .hdb/.hsb hash signatures "
		"(repeatable)\n"
		"      --json            one JSON report per file (JSON "
		"Lines)\n"
		"      --cloud           then ask the node about every object\n"
		"                        (vigil enroll first): its verdicts, "
		"and\n"
		"                        the false positives it retracted\n"
		"      --submit          with --cloud: share the files the "
		"node "
		"has\n"
		"                        never seen, if consent allows\n"
		"  -v, --verbose         a line for every file, not only "
		"detections\n"
		"      --max-filesize N  largest object analysed, bytes "
		"(default %llu)\n"
		"      --max-scansize N  bytes analysed per file (default "
		"%llu)\n"
		"      --max-recursion N deepest nesting analysed (default "
		"%u)\n"
		"      --max-files N     objects analysed per file (default "
		"%u)\n"
		"      --max-scantime MS time per file, milliseconds (default "
		"%u)\n"
		"      --max-ratio N     compression ratio of one object, "
		"judged\n"
		"                        past 16 MiB of output (default %u)\n"
		"\n"
		"Exit status: 0 nothing found, 1 something found, 2 an error\n"
		"occurred and nothing was found.\n",
		(unsigned long long)VG_LIMIT_MAX_FILE_SIZE_DEFAULT,
		(unsigned long long)VG_LIMIT_MAX_SCAN_BYTES_DEFAULT,
		VG_LIMIT_MAX_DEPTH_DEFAULT, VG_LIMIT_MAX_OBJECTS_DEFAULT,
		VG_LIMIT_MAX_SCAN_MS_DEFAULT, VG_LIMIT_MAX_RATIO_DEFAULT);
}

static bool
parse_num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s == '\0' || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > max)
		return false;
	*out = v;
	return true;
}

static size_t
inode_hash(dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;

	return (size_t)(h ^ h >> 29);
}

static void
index_grow(struct scan *sc)
{
	size_t cap = sc->index_cap ? sc->index_cap * 2 : 1024;
	size_t *idx = xreallocarray(NULL, cap, sizeof(size_t));

	for (size_t i = 0; i < cap; i++)
		idx[i] = SIZE_MAX;
	for (size_t j = 0; j < sc->n_jobs; j++) {
		size_t h = inode_hash(sc->jobs[j].dev, sc->jobs[j].ino) &
			   (cap - 1);
		while (idx[h] != SIZE_MAX)
			h = (h + 1) & (cap - 1);
		idx[h] = j;
	}
	free(sc->index);
	sc->index = idx;
	sc->index_cap = cap;
}

/* Walk callback: a new job, or one more name for a file already listed. */
static void
add_file(const char *path, const struct stat *st, void *ud)
{
	struct scan *sc = ud;
	struct job *j;
	size_t h;

	sc->prog.files_found++;
	if (2 * (sc->n_jobs + 1) > sc->index_cap)
		index_grow(sc);
	h = inode_hash(st->st_dev, st->st_ino) & (sc->index_cap - 1);
	for (; sc->index[h] != SIZE_MAX; h = (h + 1) & (sc->index_cap - 1)) {
		j = &sc->jobs[sc->index[h]];
		if (j->dev == st->st_dev && j->ino == st->st_ino) {
			j->paths = xreallocarray(j->paths, j->n_paths + 1,
						 sizeof(char *));
			j->paths[j->n_paths++] = xstrdup(path);
			return;
		}
	}
	if (sc->n_jobs == sc->cap_jobs) {
		sc->cap_jobs = sc->cap_jobs ? 2 * sc->cap_jobs : 256;
		sc->jobs = xreallocarray(sc->jobs, sc->cap_jobs,
					 sizeof(*sc->jobs));
	}
	j = &sc->jobs[sc->n_jobs];
	j->paths = xmalloc(sizeof(char *));
	j->paths[0] = xstrdup(path);
	j->n_paths = 1;
	j->dev = st->st_dev;
	j->ino = st->st_ino;
	j->size = (uint64_t)st->st_size;
	sc->index[h] = sc->n_jobs++;
	sc->prog.bytes_found += (uint64_t)st->st_size;
}

static void
free_jobs(struct scan *sc)
{
	for (size_t i = 0; i < sc->n_jobs; i++) {
		for (size_t k = 0; k < sc->jobs[i].n_paths; k++)
			free(sc->jobs[i].paths[k]);
		free(sc->jobs[i].paths);
	}
	free(sc->jobs);
	free(sc->index);
}

/* Caller holds progress_lock(). */
static void
print_error_locked(struct scan *sc, const char *path, const char *why)
{
	char *safe = text_sanitize(path, true);

	sc->n_errors++;
	fflush(stdout);
	fprintf(stderr, "%s: ERROR: %s\n", safe, why);
	free(safe);
}

static void
print_error(const char *path, const char *why, void *ud)
{
	progress_lock();
	print_error_locked(ud, path, why);
	progress_unlock();
}

/* deferred: the FOUND lines are left to cloud_resolve(), which knows
 * whether the node retracted them. */
static void
print_report_locked(struct scan *sc, const struct report *r, bool deferred)
{
	bool found = r->verdict == VERDICT_MALICIOUS ||
		     r->verdict == VERDICT_SUSPICIOUS;

	if (sc->json) {
		char *j = report_to_json(r);

		if (j == NULL)
			fatal("out of memory");
		fputs(j, stdout);
		fputc('\n', stdout);
		free(j);
		return;
	}
	for (size_t i = 0; i < r->n_objects; i++) {
		const struct object *o = &r->objects[i];

		for (size_t k = 0; k < o->n_matches; k++) {
			const struct match *m = &o->matches[k];

			if (!found && !sc->verbose)
				continue;
			if (deferred && m->score > 0)
				continue;
			objpath_print(stdout, r->path, r, i);
			if (found && m->score > 0)
				printf(": %s FOUND\n", m->name);
			else
				printf(": %s (score %d, not counted)\n",
				       m->name, m->score);
		}
	}
	if (sc->verbose) {
		char *safe = text_sanitize(r->path, true);
		if (found)
			printf("%s: %s (score %d)\n", safe,
			       verdict_name(r->verdict), r->score);
		else
			printf("%s: OK\n", safe);
		free(safe);
	}
}

/* Prints errors for every name of job j. */
static void
job_error(struct scan *sc, const struct job *j, const char *why)
{
	for (size_t k = 0; k < j->n_paths; k++)
		print_error(j->paths[k], why, sc);
	sc->prog.files_done += j->n_paths;
}

static void
scan_job(struct scan *sc, struct scanner *s, const struct job *j)
{
	struct report *r = NULL;
	bool found;
	int fd, rc;

	/* O_NONBLOCK: a file swapped for a fifo after the walk must not
	 * block the worker in open(). */
	fd = open(j->paths[0], O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		job_error(sc, j,
			  e == ENOENT ? "vanished before it could be "
					"scanned"
				      : strerror(e));
		return;
	}
	rc = engine_scan_fd(s, fd, j->paths[0], &r);
	close(fd);
	if (rc != 0) {
		job_error(sc, j, vg_strerror(rc));
		return;
	}
	if (r->verdict == VERDICT_UNKNOWN) {
		/* Nothing of the file could be analysed: an error, never a
		 * silent pass. */
		job_error(sc, j, "could not be analysed");
		report_free(r);
		return;
	}
	found = r->verdict == VERDICT_MALICIOUS ||
		r->verdict == VERDICT_SUSPICIOUS;
	progress_lock();
	for (size_t k = 0; k < j->n_paths; k++) {
		bool deferred = false;

		/* The same bytes under another name: the same report. */
		if (k > 0) {
			free(r->path);
			r->path = xstrdup(j->paths[k]);
		}
		sc->n_files++;
		sc->n_objects += r->n_objects;
		sc->bytes += r->bytes_scanned;
		if (r->verdict == VERDICT_MALICIOUS)
			sc->n_malicious++;
		else if (r->verdict == VERDICT_SUSPICIOUS)
			sc->n_suspicious++;
		/* The node is asked once per file, and a found file's
		 * detections are printed under each of its names. */
		if (sc->cloud != NULL && (k == 0 || found))
			deferred = cloud_add(sc->cloud, r->path, r) && found &&
				   !sc->json;
		print_report_locked(sc, r, deferred);
	}
	sc->n_distinct++;
	progress_unlock();
	sc->prog.files_done += j->n_paths;
	sc->prog.bytes_done += j->size;
	report_free(r);
}

static void *
worker(void *arg)
{
	struct scan *sc = arg;
	struct scanner *s;
	size_t i;

	if (scanner_new(sc->engine, &s) != 0)
		fatal("cannot create a scanner (libmagic or libyara failed)");
	while ((i = sc->next_job++) < sc->n_jobs)
		scan_job(sc, s, &sc->jobs[i]);
	scanner_free(s);
	return NULL;
}

static void
summary(struct scan *sc, double secs)
{
	FILE *f = sc->json ? stderr : stdout;
	char b[16];

	fprintf(f, "\n----------- SCAN SUMMARY -----------\n");
	fprintf(f, "Rules: %zu YARA, %zu hash signatures\n",
		engine_rule_count(sc->engine), engine_hash_count(sc->engine));
	if (sc->rules_dir != NULL)
		fprintf(f, "Default rules: %s (%s)\n", sc->rules_dir,
			sc->rules_from);
	fprintf(f, "Scanned files: %" PRIu64 "\n", sc->n_files);
	fprintf(f, "Distinct files: %" PRIu64 "\n", sc->n_distinct);
	fprintf(f, "Scanned objects: %" PRIu64 "\n", sc->n_objects);
	fprintf(f, "Data scanned: %s\n",
		progress_bytes(sc->bytes, b, sizeof(b)));
	fprintf(f, "Malicious files: %" PRIu64 "\n", sc->n_malicious);
	fprintf(f, "Suspicious files: %" PRIu64 "\n", sc->n_suspicious);
	fprintf(f, "Errors: %" PRIu64 "\n", sc->n_errors);
	fprintf(f, "Time: %.3f sec (%s/s)\n", secs,
		progress_bytes(secs > 0 ? (uint64_t)(sc->bytes / secs) : 0, b,
			       sizeof(b)));
}

/*
 * Where libclamav extracts members: $VIGIL_TMPDIR, $TMPDIR, else /dev/shm
 * when writable, else /tmp. libclamav makes and removes a directory for
 * every file; on a disk file system mounted with discard, removing it was
 * measured at 2-5 ms a file, more than scanning a typical small file.
 */
static const char *
scan_tmpdir(void)
{
	const char *d = getenv("VIGIL_TMPDIR");

	if (d == NULL || *d == '\0')
		d = getenv("TMPDIR");
	if (d != NULL && *d != '\0')
		return d;
	if (access("/dev/shm", W_OK | X_OK) == 0)
		return "/dev/shm";
	return "/tmp";
}

/*
 * The default rules: $VIGIL_RULES_DIR when set; else the rules `vigil
 * update` installed, $VIGIL_HOME/rules (a link to rules.d/<version>,
 * docs/RELEASES.md), when it leads to a directory; else the rules built
 * in. *from says which.
 */
static const char *
default_rules_dir(char *buf, size_t len, const char **from)
{
	const char *env = getenv("VIGIL_RULES_DIR");
	struct stat st;
	size_t n;

	if (env != NULL && *env != '\0') {
		*from = "VIGIL_RULES_DIR";
		return env;
	}
	if (userconf_dir(buf, len) == 0 && (n = strlen(buf)) + 7 <= len) {
		memcpy(buf + n, "/rules", 7);
		if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode)) {
			*from = "installed";
			return buf;
		}
	}
	*from = "built-in";
	return VIGIL_DEFAULT_RULES_DIR;
}

enum {
	OPT_RULES = 256,
	OPT_NO_DEFAULT_RULES,
	OPT_HASHES,
	OPT_JSON,
	OPT_MAX_FILESIZE,
	OPT_MAX_SCANSIZE,
	OPT_MAX_RECURSION,
	OPT_MAX_FILES,
	OPT_MAX_SCANTIME,
	OPT_MAX_RATIO,
	OPT_CLOUD,
	OPT_SUBMIT,
};

int
cmd_scan(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"jobs", required_argument, NULL, 'j'},
		{"rules", required_argument, NULL, OPT_RULES},
		{"no-default-rules", no_argument, NULL, OPT_NO_DEFAULT_RULES},
		{"hashes", required_argument, NULL, OPT_HASHES},
		{"json", no_argument, NULL, OPT_JSON},
		{"verbose", no_argument, NULL, 'v'},
		{"max-filesize", required_argument, NULL, OPT_MAX_FILESIZE},
		{"max-scansize", required_argument, NULL, OPT_MAX_SCANSIZE},
		{"max-recursion", required_argument, NULL, OPT_MAX_RECURSION},
		{"max-files", required_argument, NULL, OPT_MAX_FILES},
		{"max-scantime", required_argument, NULL, OPT_MAX_SCANTIME},
		{"max-ratio", required_argument, NULL, OPT_MAX_RATIO},
		{"cloud", no_argument, NULL, OPT_CLOUD},
		{"submit", no_argument, NULL, OPT_SUBMIT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct engine_config cfg;
	struct scan sc;
	const char **rules = NULL, **hashes = NULL;
	size_t n_rules = 0, n_hashes = 0;
	bool default_rules = true;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t jobs = ncpu > 0 ? (uint64_t)ncpu : 1, v;
	pthread_t *threads;
	struct timespec t0, t1;
	char err[4096], home_rules[4096];
	bool cloud = false, submit = false;
	struct cloud_result cres = {0};
	int c, status = 2, cloud_rc = 0;

	memset(&sc, 0, sizeof(sc));
	engine_config_default(&cfg);
	optind = 1;
	while ((c = getopt_long(argc, argv, "j:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			if (!parse_num(optarg, SCAN_MAX_JOBS, &jobs)) {
				fprintf(stderr, "vigil scan: -j takes 1..%d\n",
					SCAN_MAX_JOBS);
				goto out;
			}
			break;
		case OPT_RULES:
			rules = xreallocarray(rules, n_rules + 2,
					      sizeof(char *));
			rules[n_rules++] = optarg;
			break;
		case OPT_NO_DEFAULT_RULES: default_rules = false; break;
		case OPT_HASHES:
			hashes = xreallocarray(hashes, n_hashes + 1,
					       sizeof(char *));
			hashes[n_hashes++] = optarg;
			break;
		case OPT_JSON: sc.json = true; break;
		case OPT_CLOUD: cloud = true; break;
		case OPT_SUBMIT: cloud = submit = true; break;
		case 'v': sc.verbose = true; break;
		case OPT_MAX_FILESIZE:
		case OPT_MAX_SCANSIZE:
			if (!parse_num(optarg, VG_LIMIT_MAX_FILE_SIZE_CEILING,
				       &v))
				goto badnum;
			if (c == OPT_MAX_FILESIZE)
				cfg.limits.max_file_size = v;
			else
				cfg.limits.max_scan_bytes = v;
			break;
		case OPT_MAX_RECURSION:
			if (!parse_num(optarg, VG_LIMIT_MAX_DEPTH_CEILING, &v))
				goto badnum;
			cfg.limits.max_depth = (uint32_t)v;
			break;
		case OPT_MAX_FILES:
		case OPT_MAX_SCANTIME:
			if (!parse_num(optarg, UINT32_MAX, &v))
				goto badnum;
			if (c == OPT_MAX_FILES)
				cfg.limits.max_objects = (uint32_t)v;
			else
				cfg.limits.max_scan_ms = (uint32_t)v;
			break;
		case OPT_MAX_RATIO:
			if (!parse_num(optarg, VG_LIMIT_MAX_RATIO_CEILING, &v))
				goto badnum;
			cfg.limits.max_ratio = (uint32_t)v;
			break;
		case 'h':
			usage(stdout);
			status = 0;
			goto out;
		default: usage(stderr); goto out;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		goto out;
	}
	if (default_rules) {
		rules = xreallocarray(rules, n_rules + 1, sizeof(char *));
		memmove(rules + 1, rules, n_rules * sizeof(char *));
		rules[0] = default_rules_dir(home_rules, sizeof(home_rules),
					     &sc.rules_from);
		sc.rules_dir = rules[0];
		n_rules++;
	}
	cfg.tmpdir = scan_tmpdir();
	cfg.rule_paths = rules;
	cfg.n_rule_paths = n_rules;
	cfg.hash_paths = hashes;
	cfg.n_hash_paths = n_hashes;
	if (engine_global_init() != 0) {
		fprintf(stderr,
			"vigil scan: cannot initialise libclamav/libyara\n");
		goto out;
	}
	if (engine_new(&cfg, &sc.engine, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigil scan: %s\n", err);
		goto out;
	}
	{
		/* The other rules still work; the scan goes on, but a rule
		 * that could not load is an error (exit 2 if nothing is
		 * found): a clean result is less sure than it looks. */
		const struct rule_quarantine *q;
		size_t nq = engine_rules_quarantined(sc.engine, &q);

		for (size_t i = 0; i < nq; i++)
			fprintf(stderr, "vigil: rules: %s: quarantined: %s\n",
				q[i].file, q[i].reason);
		sc.n_errors += nq;
	}
	if (cloud)
		sc.cloud = cloud_new();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	progress_start(&sc.prog, stdout);
	for (int i = optind; i < argc; i++)
		walk_path(argv[i], add_file, print_error, &sc);
	sc.prog.walk_done = true;
	if (jobs > sc.n_jobs)
		jobs = sc.n_jobs ? sc.n_jobs : 1;
	threads = xcalloc(jobs, sizeof(*threads));
	for (uint64_t i = 0; i < jobs; i++)
		if (pthread_create(&threads[i], NULL, worker, &sc) != 0)
			fatal("cannot start worker thread");
	for (uint64_t i = 0; i < jobs; i++)
		pthread_join(threads[i], NULL);
	progress_stop();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* The node's answers come before the summary: a detection it
	 * retracted is not counted as found. */
	if (cloud) {
		cloud_rc = cloud_resolve(sc.cloud, sc.json, submit, &cres);
		sc.n_malicious -= cres.retracted_malicious;
		sc.n_suspicious -= cres.retracted_suspicious;
		if (cloud_rc)
			sc.n_errors++;
	}
	summary(&sc, (double)(t1.tv_sec - t0.tv_sec) +
			     (t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (cloud) {
		fprintf(sc.json ? stderr : stdout,
			"Cloud: %llu files flagged%s\n",
			(unsigned long long)cres.found,
			cloud_rc ? " (the node could not be asked)" : "");
		if (cres.retracted_malicious + cres.retracted_suspicious > 0)
			fprintf(sc.json ? stderr : stdout,
				"Cloud: %llu files retracted\n",
				(unsigned long long)(cres.retracted_malicious +
						     cres.retracted_suspicious));
	}
	fflush(stdout);
	cloud_free(sc.cloud);
	status = sc.n_malicious + sc.n_suspicious + cres.found > 0 ? 1
		 : sc.n_errors > 0                                 ? 2
								   : 0;
	free(threads);
	free_jobs(&sc);
	engine_free(sc.engine);
out:
	free(rules);
	free(hashes);
	return status;
badnum:
	for (size_t i = 0; longopts[i].name != NULL; i++)
		if (longopts[i].val == c)
			fprintf(stderr,
				"vigil scan: invalid value '%s' for --%s\n",
				optarg, longopts[i].name);
	goto out;
}
