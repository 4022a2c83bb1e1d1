/*
 * cmd_scan.c - `vigil scan [options] PATH...`
 *
 * The main thread walks the paths and queues regular files; N worker
 * threads, each with its own scanner over one shared engine, scan them and
 * print results. Output follows clamscan: `PATH: NAME FOUND` per detection
 * (PATH!INNER for an object inside a container), a summary, and exit
 * status 0 (nothing found), 1 (something found) or 2 (an error, nothing
 * found). --json prints one report per file as JSON Lines (docs/REPORT.md).
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
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "cli/walk.h"
#include "common/err.h"
#include "common/text.h"
#include "common/xmalloc.h"
#include "engine/engine.h"

#define SCAN_MAX_JOBS 256
#define SCAN_QUEUE_MAX (1u << 20) /* queued paths before the walk waits */

struct job {
	char *path;
	struct job *next;
};

struct scan {
	struct engine *engine;
	bool json, verbose;
	/* the queue */
	pthread_mutex_t mu;
	pthread_cond_t nonempty, nonfull;
	struct job *head, *tail;
	size_t queued;
	bool closed;
	/* results, under out_mu via progress_lock() */
	uint64_t n_files, n_objects, n_malicious, n_suspicious, n_errors;
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
		"archive, document and packed executable, and gives a verdict.\n"
		"\n"
		"  -j, --jobs N          worker threads (default: number of cores)\n"
		"      --rules FILE|DIR  add YARA rules (repeatable)\n"
		"      --no-default-rules  do not load the default rules\n"
		"      --hashes FILE     add .hdb/.hsb hash signatures (repeatable)\n"
		"      --json            one JSON report per file (JSON Lines)\n"
		"  -v, --verbose         a line for every file, not only detections\n"
		"      --max-filesize N  largest object analysed, bytes (default %llu)\n"
		"      --max-scansize N  bytes analysed per file (default %llu)\n"
		"      --max-recursion N deepest nesting analysed (default %u)\n"
		"      --max-files N     objects analysed per file (default %u)\n"
		"      --max-scantime MS time per file, milliseconds (default %u)\n"
		"\n"
		"Exit status: 0 nothing found, 1 something found, 2 an error\n"
		"occurred and nothing was found.\n",
		(unsigned long long)VG_LIMIT_MAX_FILE_SIZE_DEFAULT,
		(unsigned long long)VG_LIMIT_MAX_SCAN_BYTES_DEFAULT,
		VG_LIMIT_MAX_DEPTH_DEFAULT, VG_LIMIT_MAX_OBJECTS_DEFAULT,
		VG_LIMIT_MAX_SCAN_MS_DEFAULT);
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

static void
enqueue(const char *path, uint64_t size, void *ud)
{
	struct scan *sc = ud;
	struct job *j = xmalloc(sizeof(*j));

	j->path = xstrdup(path);
	j->next = NULL;
	sc->prog.files_found++;
	sc->prog.bytes_found += size;
	pthread_mutex_lock(&sc->mu);
	while (sc->queued >= SCAN_QUEUE_MAX)
		pthread_cond_wait(&sc->nonfull, &sc->mu);
	if (sc->tail)
		sc->tail->next = j;
	else
		sc->head = j;
	sc->tail = j;
	sc->queued++;
	pthread_cond_signal(&sc->nonempty);
	pthread_mutex_unlock(&sc->mu);
}

static struct job *
dequeue(struct scan *sc)
{
	struct job *j;

	pthread_mutex_lock(&sc->mu);
	while (sc->head == NULL && !sc->closed)
		pthread_cond_wait(&sc->nonempty, &sc->mu);
	j = sc->head;
	if (j != NULL) {
		sc->head = j->next;
		if (sc->head == NULL)
			sc->tail = NULL;
		sc->queued--;
		pthread_cond_signal(&sc->nonfull);
	}
	pthread_mutex_unlock(&sc->mu);
	return j;
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

/* Writes the display path of object i: the file's path, then each
 * container's member name, joined by '!'. Unnamed objects show as #N. */
static void
print_object_path(FILE *f, const struct report *r, size_t i)
{
	const struct object *o = &r->objects[i];

	if (o->parent < 0) {
		char *safe = text_sanitize(r->path, true);
		fputs(safe, f);
		free(safe);
		return;
	}
	print_object_path(f, r, (size_t)o->parent);
	if (o->name != NULL) {
		char *safe = text_sanitize(o->name, true);
		fprintf(f, "!%s", safe);
		free(safe);
	} else {
		fprintf(f, "!#%" PRIu32, o->index);
	}
}

static void
print_report_locked(struct scan *sc, const struct report *r)
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
			print_object_path(stdout, r, i);
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

static void
scan_one(struct scan *sc, struct scanner *s, const char *path)
{
	struct report *r = NULL;
	int fd, rc;

	/* O_NONBLOCK: a file swapped for a fifo after the walk must not
	 * block the worker in open(). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		print_error(path, e == ENOENT ? "vanished before it could be "
						"scanned" : strerror(e), sc);
		return;
	}
	rc = engine_scan_fd(s, fd, path, &r);
	close(fd);
	if (rc != 0) {
		print_error(path, vg_strerror(rc), sc);
		return;
	}
	if (r->verdict == VERDICT_UNKNOWN) {
		/* Nothing of the file could be analysed: an error, never a
		 * silent pass. */
		print_error(path, "could not be analysed", sc);
		report_free(r);
		return;
	}
	progress_lock();
	sc->n_files++;
	sc->n_objects += r->n_objects;
	sc->bytes += r->bytes_scanned;
	if (r->verdict == VERDICT_MALICIOUS)
		sc->n_malicious++;
	else if (r->verdict == VERDICT_SUSPICIOUS)
		sc->n_suspicious++;
	print_report_locked(sc, r);
	progress_unlock();
	sc->prog.files_done++;
	sc->prog.bytes_done += r->objects ? r->objects[0].size : 0;
	report_free(r);
}

static void *
worker(void *arg)
{
	struct scan *sc = arg;
	struct scanner *s;
	struct job *j;

	if (scanner_new(sc->engine, &s) != 0)
		fatal("cannot create a scanner (libmagic or libyara failed)");
	while ((j = dequeue(sc)) != NULL) {
		scan_one(sc, s, j->path);
		free(j->path);
		free(j);
	}
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
	fprintf(f, "Scanned files: %" PRIu64 "\n", sc->n_files);
	fprintf(f, "Scanned objects: %" PRIu64 "\n", sc->n_objects);
	fprintf(f, "Data scanned: %s\n", progress_bytes(sc->bytes, b, sizeof(b)));
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
	char err[4096];
	int c, status;

	memset(&sc, 0, sizeof(sc));
	engine_config_default(&cfg);
	optind = 1;
	while ((c = getopt_long(argc, argv, "j:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			if (!parse_num(optarg, SCAN_MAX_JOBS, &jobs)) {
				fprintf(stderr, "vigil scan: -j takes 1..%d\n",
					SCAN_MAX_JOBS);
				return 2;
			}
			break;
		case OPT_RULES:
			rules = xreallocarray(rules, n_rules + 2, sizeof(char *));
			rules[n_rules++] = optarg;
			break;
		case OPT_NO_DEFAULT_RULES: default_rules = false; break;
		case OPT_HASHES:
			hashes = xreallocarray(hashes, n_hashes + 1, sizeof(char *));
			hashes[n_hashes++] = optarg;
			break;
		case OPT_JSON: sc.json = true; break;
		case 'v': sc.verbose = true; break;
		case OPT_MAX_FILESIZE:
		case OPT_MAX_SCANSIZE:
			if (!parse_num(optarg, VG_LIMIT_MAX_FILE_SIZE_CEILING, &v))
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
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (default_rules) {
		const char *dir = getenv("VIGIL_RULES_DIR");

		rules = xreallocarray(rules, n_rules + 1, sizeof(char *));
		memmove(rules + 1, rules, n_rules * sizeof(char *));
		rules[0] = dir && *dir ? dir : VIGIL_DEFAULT_RULES_DIR;
		n_rules++;
	}
	cfg.tmpdir = scan_tmpdir();
	cfg.rule_paths = rules;
	cfg.n_rule_paths = n_rules;
	cfg.hash_paths = hashes;
	cfg.n_hash_paths = n_hashes;
	if (engine_global_init() != 0) {
		fprintf(stderr, "vigil scan: cannot initialise libclamav/libyara\n");
		return 2;
	}
	if (engine_new(&cfg, &sc.engine, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigil scan: %s\n", err);
		free(rules);
		free(hashes);
		return 2;
	}
	pthread_mutex_init(&sc.mu, NULL);
	pthread_cond_init(&sc.nonempty, NULL);
	pthread_cond_init(&sc.nonfull, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	progress_start(&sc.prog, stdout);
	threads = xcalloc(jobs, sizeof(*threads));
	for (uint64_t i = 0; i < jobs; i++)
		if (pthread_create(&threads[i], NULL, worker, &sc) != 0)
			fatal("cannot start worker thread");
	for (int i = optind; i < argc; i++)
		walk_path(argv[i], enqueue, print_error, &sc);
	pthread_mutex_lock(&sc.mu);
	sc.closed = true;
	sc.prog.walk_done = true;
	pthread_cond_broadcast(&sc.nonempty);
	pthread_mutex_unlock(&sc.mu);
	for (uint64_t i = 0; i < jobs; i++)
		pthread_join(threads[i], NULL);
	progress_stop();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	summary(&sc, (double)(t1.tv_sec - t0.tv_sec) +
			     (t1.tv_nsec - t0.tv_nsec) / 1e9);
	fflush(stdout);
	status = sc.n_malicious + sc.n_suspicious > 0 ? 1
		 : sc.n_errors > 0		      ? 2
						      : 0;
	free(threads);
	engine_free(sc.engine);
	free(rules);
	free(hashes);
	return status;
badnum:
	for (size_t i = 0; longopts[i].name != NULL; i++)
		if (longopts[i].val == c)
			fprintf(stderr, "vigil scan: invalid value '%s' for --%s\n",
				optarg, longopts[i].name);
	free(rules);
	free(hashes);
	return 2;
}
